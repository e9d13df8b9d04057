"""nnpy.Network: feed-forward networks of any layer sizes, trained epoch after epoch in
compiled code.

All weights and biases live in one flat array (W_0, b_0, W_1, b_1, ...; W_l row-major, shaped
(n_out, n_in) as in the post) that the core reads and updates in place; `weights` and `biases`
are lists of read-only views into it (assign to change them). `fit` hands whole epochs to the
core, which shuffles, runs forward and backward passes and optimiser steps for every batch with
the GIL released, and records each epoch's loss; Python only comes back between calls, each cut
to about 50 ms, or at the end of an epoch when a validation set, a callback or a progress bar
asks for it. In the main thread Ctrl-C also reaches into a call: the core abandons the batch
under way (a step is applied whole or not at all) and KeyboardInterrupt follows at once.

The model family (nnpy._model holds the table): hidden activation sigmoid, tanh, relu or
identity; output sigmoid, softmax or identity; loss mse or cross_entropy (valid pairs:
sigmoid+mse, sigmoid+cross_entropy, softmax+cross_entropy, identity+mse). Optimisers: "sgd"
(momentum, Nesterov's as scikit-learn's nesterovs_momentum) and "adam" (torch.optim.Adam). The
optimiser's state (velocity, moments, step count) stays on the network between fits, in
copies, pickles and saved files, until the optimiser settings change or reset_optimizer().

For scikit-learn's MLP (nnpy.estimators), two things match its definitions exactly:
  fit(..., alpha=a, sample_weight=w)  each batch's loss is (sum_i w_i l_i + 0.5*a*sum(W**2)) /
                 sum_i w_i over its samples, and its gradient the gradient of that: alpha
                 adds a * W / sum_i w_i to the weights' gradient (biases untouched), as
                 scikit-learn's _backprop; History.loss[e] is sum over the epoch's batches of
                 (batch rows * batch loss) / n, as its loss_curve_. (l2 is the plain
                 per-step weight decay l2 * W, the same for every batch size.)
  net.objective(X, Y, sample_weight=w, alpha=a)  the same objective over all of X, Y as a
                 function of a flat parameter vector (the layout of get_flat_params):
                 objective(flat) -> (loss, gradient as float64), compiled with the GIL
                 released; for scipy.optimize.minimize(objective, net.get_flat_params(),
                 jac=True, method="L-BFGS-B"), then net.set_flat_params(result.x).
  Where scikit-learn differs: its reported squared_error (not its gradient) is also divided by
  the number of outputs, and its log-loss clips probabilities to [eps, 1 - eps]; nnpy's mse is
  0.5 * sum over outputs, and its cross-entropy is computed from the pre-activations, exact.
  Its Adam adds epsilon to sqrt(v) and then corrects the step size by sqrt(1 - beta2^t), where
  torch's (nnpy's) adds eps to sqrt(v / (1 - beta2^t)): the same up to eps's scale.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from contextlib import contextmanager
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Literal, Optional,
                    Sequence, Tuple, Union)

import numpy as np
import numpy.typing as npt

from . import _load, _model, reference
from ._dispatch import core
from ._validation import (as_dtype, as_float, as_int, as_matrix, as_sample_weight, as_sizes,
                          as_targets, as_vector, choice, scaled_alpha)
from ._epochs import EpochControl, labels_as_targets
from ._sparse import as_rows, dense_x, largest_magnitude, sparse_kw
from .labels import ClassWeight, classes_of, weighted_samples

if TYPE_CHECKING:
    from tqdm.auto import tqdm as _Tqdm

    from .io import PathLike
    from .schedules import Schedule

__all__ = ["Network", "History", "Objective", "TrainingDiverged", "ACTIVATIONS", "INITS",
           "OUTPUTS", "LOSSES", "OPTIMIZERS"]

ACTIVATIONS = tuple(_model.HIDDEN)     # hidden-layer activations
OUTPUTS = tuple(_model.OUTPUTS)        # output activations
LOSSES = tuple(_model.LOSSES)
INITS = _model.INITS
OPTIMIZERS = tuple(_model.OPTIMIZERS)

# the names the model family takes (nnpy._model's table)
Activation = Literal["sigmoid", "tanh", "relu", "identity"]
Output = Literal["sigmoid", "softmax", "identity"]
Loss = Literal["mse", "cross_entropy"]
Init = Literal["xavier", "he", "uniform01", "normal", "scaled_normal"]
Optimizer = Literal["sgd", "adam"]
FloatArray = npt.NDArray[np.floating]  # float64 or float32: the network's dtype
Callback = Callable[[int, "History"], object]  # callback(epoch, history); False stops fit
LearningRate = Union[float, Callable[[int], float], "Schedule"]  # see nnpy.schedules

_CALL_SECONDS = 0.05   # target length of one call into the core: overhead against latency
_FIRST_CALL_RATE = 1e8  # rows x (parameters + 100) a second the first call assumes: 10x to 100x
                        # below what fit runs at (W1 1e9, W3 1e10), so the first call is short
_PREDICT_BLOCK = 256   # rows per forward block: bounds predict's workspace
_TRAIN_BLOCK = 256     # rows per forward/backward block of a batch: bounds fit's workspace, and
                       # how often a long batch looks for Ctrl-C
_PARALLEL_WORK = 1 << 15  # rows of a block x parameters below which the core keeps a batch on
                          # one thread whatever fit allows (its smallest threshold: two
                          # threads' element-wise work): fit counts free cores only above it


class TrainingDiverged(FloatingPointError):
    """A training step would have made a weight infinite or NaN; the weights of the last
    finite step are kept."""


@dataclass
class History:
    """What fit recorded, one entry per completed epoch."""
    loss: List[float] = field(default_factory=list)          # training loss (see Network.fit)
    val_loss: List[float] = field(default_factory=list)      # mean loss on `validation`
    val_accuracy: List[float] = field(default_factory=list)  # accuracy on `validation`
    lr: List[float] = field(default_factory=list)            # learning rate of each epoch
    best_epoch: Optional[int] = None   # with patience: the epoch whose weights fit kept
    stopped_early: bool = False        # with patience: fit stopped before `epochs`

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.loss)


@dataclass
class _OptimizerState:
    """The optimiser's state kept on a Network between fits. The core updates moments and
    steps in place, together, step by step."""
    name: str             # "sgd" or "adam"
    settings: Tuple[Any, ...]  # what the state belongs to: ("sgd", momentum, nesterov) or
                          # ("adam", beta1, beta2, eps); other settings start a fresh state
    moments: np.ndarray   # SGD with momentum: the velocity; Adam: m then v (flat, like params)
    steps: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))  # [steps applied]

    @property
    def step(self) -> int:
        """Steps applied (Adam's t)."""
        return int(self.steps[0])

    def copy(self) -> _OptimizerState:
        return _OptimizerState(self.name, self.settings, self.moments.copy(), self.steps.copy())


class _StartOverflow(Exception):
    """Raised by Network._run_fit when the weights fit started from overflow on X (fit raises
    `error`, the core's ValueError, as predict and loss do)."""

    def __init__(self, error: ValueError) -> None:
        super().__init__(str(error))
        self.error = error


def _diverged(epoch: int, lr: float) -> TrainingDiverged:
    """fit's error for a step that would make a weight or the optimiser state non-finite."""
    return TrainingDiverged(
        f"training diverged in epoch {epoch}: a step would have made a weight infinite or NaN "
        f"(lr={lr}); the weights before that step are kept. Try a smaller lr.")


@dataclass
class _FitPlan:
    """Network.fit's arguments, checked and converted (Network._fit_plan): what its training
    loop (Network._run_fit) runs on."""
    X: FloatArray
    Y: FloatArray
    epochs: int
    batch_size: int             # at most len(X)
    loss: Optional[Loss]        # as given (validation's loss)
    loss_name: str              # the checked loss trained
    shuffle: bool
    settings: Tuple[Any, ...]   # see _OptimizerState.settings
    l2: float
    alpha: float                # scaled with the sample weights (scaled_alpha)
    sample_weight: FloatArray   # scaled (as_sample_weight); empty: every weight 1
    control: EpochControl       # learning rate per epoch, early stopping
    validation: Optional[Tuple[FloatArray, FloatArray]]
    callback: Optional[Callback]
    most: int                   # the most threads a core call may use
    adapt_threads: bool         # n_threads was None: count the free cores before each call

    def optimizer(self, lr: float, state: _OptimizerState) -> Any:
        """A core.Optimizer at learning rate lr on the kept state."""
        return core.Optimizer(_model.OPTIMIZERS[self.settings[0]], lr, state.steps, l2=self.l2,
                              alpha=self.alpha, **_core_settings(self.settings))


class _ParamView(np.ndarray):
    """A read-only view of one layer's weights or biases (what net.weights[l] and
    net.biases[l] are): writing into it would bypass the checks of assignment and the guard
    against other threads, so it refuses and says to assign instead. Arrays computed from it
    are plain numpy arrays."""

    _nnpy_name = "this array"

    def __array_finalize__(self, obj: Any) -> None:
        self._nnpy_name = getattr(obj, "_nnpy_name", _ParamView._nnpy_name)

    def __array_wrap__(self, array: Any, context: Any = None,
                       return_scalar: bool = False) -> Any:
        # results of ufuncs and reductions: plain arrays, and scalars where numpy gives them
        array = array.view(np.ndarray)
        return array[()] if return_scalar or array.ndim == 0 else array

    def __repr__(self) -> str:
        return repr(self.view(np.ndarray))

    def __setitem__(self, index: Any, value: Any) -> None:
        if not self.flags.writeable:
            raise ValueError(f"{self._nnpy_name} is a read-only view of the network's "
                             f"parameters; assign instead: {self._nnpy_name} = new_values "
                             f"(e.g. a changed copy)")
        super().__setitem__(index, value)


class _ParamList(list):
    """weights or biases: read-only views into the flat parameter array; assigning an item
    copies the new values in (same shape required, checked, under the thread guard), so
    net.weights[0] = W works as users expect."""

    def __init__(self, net: Network, views: List[FloatArray], name: str) -> None:
        super().__init__(views)
        self._net = net
        self._name = name

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            raise TypeError(f"assign {self._name} items one at a time")
        index = range(len(self))[index]  # IndexError as for a list; negative counts from the end
        checked = _checked_layer(value, list.__getitem__(self, index), f"{self._name}[{index}]")
        with self._net._guard.write():
            self._net._write_layer(self._name, index, checked)


def _checked_layer(value: npt.ArrayLike, target: FloatArray, name: str) -> FloatArray:
    """`value` as an array of target's dtype and shape, finite; else ValueError naming `name`."""
    array = as_matrix(np.reshape(value, (-1, 1)) if target.ndim == 1 else value,
                      name, target.dtype)[0]
    if array.size != target.size or (target.ndim == 2 and array.shape != target.shape):
        raise ValueError(f"{name} must have shape {target.shape}, got {np.shape(value)}")
    return array.reshape(target.shape)


class _Guard:
    """Who may use one Network at a time, from several threads.

    read     predict, loss, gradients, accuracy, save, copy, pickling, to_params: any number
             at once.
    write    assigning weights or biases: one at a time, with no read under way; reads and
             writes wait for each other (both are short), writers first.
    train    fit: alone. A fit while anything else is under way, or anything from another
             thread while a fit runs, raises RuntimeError at once (a fit is long: waiting for
             it would hang the caller). The fitting thread itself may read and write (its
             callback runs between calls into the core).
    core.predict_one (the one-sample path) takes no lock: it holds the GIL from its check to
    its last read and refuses when `_exclusive` names another thread (a write or a fit)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers: Dict[int, int] = {}         # thread id -> reads under way in that thread
        self._writer: Optional[int] = None     # thread id of the write under way
        self._writers_waiting = 0   # writes waiting for reads to end (new reads wait for them)
        self._trainer: Optional[int] = None    # thread id of the fit under way
        self._exclusive: Optional[int] = None  # the writer's or the trainer's thread id (see predict_one)

    def _refuse_if_training(self, me: int) -> None:
        if self._trainer is not None and self._trainer != me:
            raise RuntimeError("this Network is being trained by fit in another thread; "
                               "wait for it, or give each thread its own net.copy()")

    @contextmanager
    def read(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            self._refuse_if_training(me)
            # a fit's own thread (its callback) runs while the core does not: no count needed
            counted = self._trainer != me
            while counted and ((self._writer is not None and self._writer != me) or
                               (self._writers_waiting and me not in self._readers)):
                self._cond.wait()
                self._refuse_if_training(me)
            if counted:
                self._readers[me] = self._readers.get(me, 0) + 1
        try:
            yield
        finally:
            if counted:
                with self._cond:
                    self._readers[me] -= 1
                    if not self._readers[me]:
                        del self._readers[me]
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            self._refuse_if_training(me)
            # inside a fit's callback or a write of this thread: nothing else can be under way
            owned = self._trainer != me and self._writer != me
            if owned:
                self._writers_waiting += 1
                try:
                    while self._writer is not None or any(t != me for t in self._readers):
                        self._cond.wait()
                        self._refuse_if_training(me)
                finally:
                    self._writers_waiting -= 1
                self._writer = self._exclusive = me
        try:
            yield
        finally:
            if owned:
                with self._cond:
                    self._writer = self._exclusive = None
                    self._cond.notify_all()

    @contextmanager
    def train(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._trainer == me:
                raise RuntimeError("fit was called from inside a fit of the same Network "
                                   "(its callback); train a net.copy() instead")
            self._refuse_if_training(me)
            if self._writer is not None or self._readers:
                raise RuntimeError("this Network is in use by another thread; fit needs it "
                                   "alone")
            self._trainer = self._exclusive = me
        try:
            yield
        finally:
            with self._cond:
                self._trainer = self._exclusive = None
                self._cond.notify_all()


class Network:
    """A feed-forward network.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, inputs first: ``[64, 32, 10]`` has one hidden layer of 32.
    activation : {"sigmoid", "tanh", "relu", "identity"}
        Activation of the hidden layers; "sigmoid" is the post's.
    output : {"sigmoid", "softmax", "identity"}
        "sigmoid" (each output in (0, 1)), "softmax" (outputs sum to 1, for classes) or
        "identity" (any real value, for regression). A softmax needs at least two outputs.
    loss : {"mse", "cross_entropy"} or None
        "mse" (0.5 * squared error, the post's) or "cross_entropy" (binary with a sigmoid
        output, categorical with softmax); None: cross_entropy for softmax, else mse. Valid
        pairs: sigmoid+mse, sigmoid+cross_entropy, softmax+cross_entropy, identity+mse.
    init : {"xavier", "he", "uniform01", "normal", "scaled_normal"} or None
        "xavier" (Glorot uniform as scikit-learn's MLP: +-sqrt(2/(n_in+n_out)) for sigmoid,
        +-sqrt(6/(n_in+n_out)) otherwise), "he" (N(0, 2/n_in) weights, zero biases),
        "uniform01" (the post's), "normal" (Nielsen's network.py) or "scaled_normal" (his
        network2); None: "he" for relu, else "xavier".
    dtype : np.float64 or np.float32
        Every computation runs in this precision.
    seed : int, numpy.random.Generator or None
        Draws the initial weights and the shuffling of `fit`.

    Raises
    ------
    ValueError, TypeError
        For a bad argument, naming it and what was expected.

    Notes
    -----
    Targets (Y of fit, loss, gradients, objective, accuracy) are checked against the output
    and loss, with a ValueError naming Y: finite for mse; values in [0, 1] for cross_entropy
    with a sigmoid output; with a softmax, rows of non-negative values summing to 1 (to the
    dtype's rounding).

    Labels: for a classifier's outputs (softmax, or sigmoid units: two or more), Y may be 1-D
    integer class labels 0..n_outputs-1, one per row of X, one-hot encoded inside
    (nnpy.one_hot); a single sigmoid output takes 0/1 labels as they are. Labels out of range
    or not integers: ValueError naming Y. predict_classes(X) gives the class of each row,
    summary() a table of the layers.

        net = nnpy.Network([13, 16, 3], output="softmax")
        net.fit(X, labels, epochs=50, lr=0.1, batch_size=16)   # labels: 0, 1 or 2 per row
        net.accuracy(X, labels), net.predict_classes(X)
        print(net.summary())

    Threads: any number of threads may read a Network at once (predict, loss, gradients,
    accuracy, save, copy, pickling, to_params, get_flat_params); assigning weights or biases
    waits for the reads under way and they for it; fit needs the network alone and raises
    RuntimeError if another thread is using it, as anything from another thread does while a
    fit runs (see the user guide's page on threads and performance).
    """

    def __init__(self, sizes: Sequence[int], *, activation: Activation = "sigmoid",
                 output: Output = "sigmoid", loss: Optional[Loss] = None,
                 init: Optional[Init] = None, dtype: npt.DTypeLike = np.float64,
                 seed: Union[int, np.random.Generator, None] = None) -> None:
        self._sizes = as_sizes(sizes)
        self._activation = choice(activation, "activation", ACTIVATIONS)
        self._output = choice(output, "output", OUTPUTS)
        _model.check_output_width(self._output, int(self._sizes[-1]))
        self._loss_name = self._check_loss(loss)
        self._init = _model.DEFAULT_INIT[self._activation] if init is None else \
            choice(init, "init", INITS)
        self.dtype = as_dtype(dtype)
        if seed is not None and not isinstance(seed, np.random.Generator):
            seed = as_int(seed, "seed", 0)
        self._rng = np.random.default_rng(seed)
        self._models: dict = {}
        self._forward_model = self._model()  # for predict: the forward pass has no loss
        self._flat = np.empty(self._forward_model.n_params, self.dtype)
        self._n_out = int(self._sizes[-1])
        self._optimizer: Optional[_OptimizerState] = None
        self._make_views()
        weights, biases = reference.init_params(self.sizes, self._init, self._rng, self.dtype,
                                                activation=self._activation)
        for l in range(self.n_layers):
            self._weights_views[l][...] = weights[l]
            self._biases_views[l][...] = biases[l]
        self._guard = _Guard()
        self._make_predictor()

    # ---- structure ----------------------------------------------------------------------

    @property
    def sizes(self) -> Tuple[int, ...]:
        """Layer widths, inputs first."""
        return tuple(int(s) for s in self._sizes)

    @property
    def n_layers(self) -> int:
        """Number of weight layers (len(sizes) - 1)."""
        return len(self._sizes) - 1

    @property
    def activation(self) -> str:
        """Activation of the hidden layers."""
        return self._activation

    @property
    def output(self) -> str:
        """Activation of the output layer."""
        return self._output

    @property
    def loss_name(self) -> str:
        """The loss fit trains and loss() reports (fit(loss=...) changes it)."""
        return self._loss_name

    @property
    def init(self) -> str:
        """How the initial weights were drawn."""
        return self._init

    def _model(self, loss: Optional[str] = None) -> Any:  # a core.Model (compiled)
        """The core's description of this network with `loss` (None: loss_name), cached."""
        loss = self._loss_name if loss is None else loss
        model = self._models.get(loss)
        if model is None:
            model = self._models[loss] = core.Model(
                self._sizes, _model.HIDDEN[self._activation], _model.OUTPUTS[self._output],
                _model.LOSSES[loss])
        return model

    def _make_views(self) -> None:
        """Writable views into _flat for the core's and assignment's writes, and read-only
        _ParamView views of the same memory for net.weights and net.biases."""
        self._weights_views, self._biases_views = [], []
        self._public_weights: List[FloatArray] = []
        self._public_biases: List[FloatArray] = []
        start = 0
        for l, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            w = self._flat[start:start + n_out * n_in].reshape(n_out, n_in)
            b = self._flat[start + n_out * n_in:start + n_out * n_in + n_out]
            self._weights_views.append(w)
            self._biases_views.append(b)
            for view, public, name in ((w, self._public_weights, "weights"),
                                       (b, self._public_biases, "biases")):
                frozen = view.view(_ParamView)
                frozen.flags.writeable = False
                frozen._nnpy_name = f"net.{name}[{l}]"
                public.append(frozen)
            start += n_out * n_in + n_out

    @property
    def weights(self) -> List[FloatArray]:
        """[W_0, W_1, ...], W_l shaped (n_out, n_in): read-only views of the network's weights
        (they follow training). Assign to change them: net.weights[0] = W, or
        net.weights = [W_0, W_1, ...]."""
        return _ParamList(self, self._public_weights, "weights")

    @weights.setter
    def weights(self, values: Sequence[npt.ArrayLike]) -> None:
        self._assign(values, "weights")

    @property
    def biases(self) -> List[FloatArray]:
        """[b_0, b_1, ...], b_l shaped (n_out,): read-only views, like weights; assign to change
        them."""
        return _ParamList(self, self._public_biases, "biases")

    @biases.setter
    def biases(self, values: Sequence[npt.ArrayLike]) -> None:
        self._assign(values, "biases")

    def _assign(self, values: Sequence[npt.ArrayLike], name: str) -> None:
        targets = self._weights_views if name == "weights" else self._biases_views
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"{name} must be a list of {self.n_layers} arrays, got "
                            f"{type(values).__name__}")
        values = list(values)
        if len(values) != self.n_layers:
            raise ValueError(f"{name} needs {self.n_layers} arrays, got {len(values)}")
        # check them all before changing any
        checked = [_checked_layer(value, target, f"{name}[{l}]")
                   for l, (value, target) in enumerate(zip(values, targets))]
        with self._guard.write():
            for l, array in enumerate(checked):
                self._write_layer(name, l, array)

    def _write_layer(self, name: str, index: int, array: FloatArray) -> None:
        """Copies a checked array into layer `index` of weights or biases (guard held)."""
        views = self._weights_views if name == "weights" else self._biases_views
        views[index][...] = array

    def get_flat_params(self) -> FloatArray:
        """A copy of all weights and biases as one vector: W_0 (row-major), b_0, W_1, b_1, ...
        in the network's dtype (the layout objective() and set_flat_params use)."""
        with self._guard.read():
            return self._flat.copy()

    def set_flat_params(self, values: npt.ArrayLike) -> None:
        """Sets all weights and biases from one vector laid out as get_flat_params returns
        them (checked: length, finite values; converted to the network's dtype)."""
        flat = as_vector(values, "values", len(self._flat), self.dtype)
        with self._guard.write():
            self._flat[...] = flat

    def _check_finite_parameters(self) -> None:
        """ValueError naming the first weight or bias that is inf or NaN (only possible when
        the memory was written past the read-only views); call with the guard held."""
        if not core.count_nonfinite(self._flat):
            return
        for name, views in (("weights", self._weights_views), ("biases", self._biases_views)):
            for l, view in enumerate(views):
                bad = np.flatnonzero(~np.isfinite(view.ravel()))
                if len(bad):
                    where = tuple(int(i) for i in np.unravel_index(bad[0], view.shape))
                    value = view.ravel()[bad[0]]
                    raise ValueError(f"the network's parameters are not finite: {name}[{l}] "
                                     f"holds {value} at index {where} (written in place, past "
                                     f"the read-only views?); assign finite {name} first")

    def _check_loss(self, loss: Optional[str]) -> str:
        """A valid loss for this output; None means the network's own (loss_name)."""
        if loss is None:
            if "_loss_name" in self.__dict__:
                return self._loss_name
            return _model.DEFAULT_LOSS[self._output]
        loss = choice(loss, "loss", LOSSES)
        _model.check_pair(self._output, loss)
        return loss

    def __repr__(self) -> str:
        return (f"Network({list(self.sizes)}, activation={self._activation!r}, "
                f"output={self._output!r}, loss={self._loss_name!r}, dtype={self.dtype.name})")

    # ---- copies, pickles ----------------------------------------------------------------

    def copy(self) -> Network:
        """An independent copy (weights, settings, optimiser state and the shuffling
        generator's state)."""
        other = Network.__new__(Network)
        other.__setstate__(self.__getstate__())
        return other

    def __getstate__(self) -> Dict[str, Any]:
        with self._guard.read():
            state = self.__dict__.copy()
            for key in ("_guard", "_models", "_forward_model", "_weights_views",
                        "_biases_views", "_public_weights", "_public_biases", "predict"):
                state.pop(key, None)
            state["_flat"] = self._flat.copy()
            state["_rng"] = self._rng.bit_generator.state
            if self._optimizer is not None:
                state["_optimizer"] = self._optimizer.copy()
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        state = dict(state)
        # networks pickled before the model family kept these as plain attributes
        for key in ("output", "loss_name", "init"):
            if key in state:
                state["_" + key] = state.pop(key)
        state.setdefault("_activation", "sigmoid")
        state.setdefault("_optimizer", None)
        rng_state = state.pop("_rng")
        # a pickle is data: hold it to the constructor's rule
        _model.check_output_width(state.get("_output", "sigmoid"), int(state["_sizes"][-1]))
        self.__dict__.update(state)
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = rng_state
        self._models = {}
        self._forward_model = self._model()
        self._make_views()
        self._guard = _Guard()
        self._make_predictor()

    # ---- inference ----------------------------------------------------------------------

    def _make_predictor(self) -> None:
        """Puts the compiled predict (core.Predictor) in the instance's dict, where it shadows
        the method: one sample, an ndarray of shape (n_inputs,) or (1, n_inputs), takes the
        core's latency path without a Python frame; the core checks X there and whether a fit
        or an assignment is under way in another thread, allocates the output, needs no
        workspace and keeps the GIL (so none can start while it runs): no lock, no reader
        count. Everything else, and anything that path does not take (other shapes or dtypes,
        a busy network, a non-finite input or output), comes to _predict_rows."""
        self.predict = core.Predictor(  # type: ignore[method-assign]
            self._forward_model, self._flat, self._guard, self._predict_rows)

    def predict(self, X: npt.ArrayLike) -> FloatArray:
        """Outputs for the rows of X (n_samples, n_inputs) -> (n_samples, n_outputs); a single
        1-D sample gives a 1-D output; X may be a scipy.sparse matrix or array (see `loss`).
        Outputs are finite: where a layer's pre-activations
        overflow the dtype (X too large for the weights) a ValueError names the layer and row.

        (An instance calls its compiled predict, core.Predictor, which gives the same outputs;
        see _make_predictor.)"""
        return self._predict_rows(X)

    def _predict_rows(self, X: npt.ArrayLike) -> FloatArray:
        """predict's general path: X checked and converted, the rows in blocks."""
        X, single = as_rows(X, "X", self.dtype, self._sizes[0], allow_1d=True)
        with self._guard.read():
            self._check_finite_parameters()
            if len(X) == 1 and isinstance(X, np.ndarray):
                # one sample converted, or one that waited for another thread: the same
                # per-sample arithmetic as predict's latency path, so that a sample's output
                # does not depend on its input's dtype or layout, or on the timing of other
                # threads
                one = core.predict_one(self._forward_model, self._flat, X[0] if single else X,
                                       self._guard)
                if one is not None:
                    return one
            out = np.empty((len(X), self._n_out), self.dtype)
            model = self._model()
            block = min(len(X), _PREDICT_BLOCK)
            work = np.empty(model.work_size(block), self.dtype)
            core.forward(model, self._flat, dense_x(X), out, work, block,
                         **sparse_kw(X))
        if core.count_nonfinite(out.reshape(-1)):
            raise _overflowed(X, out)
        return out[0] if single else out

    def _xy(self, X: npt.ArrayLike, Y: npt.ArrayLike,
            loss: str) -> Tuple[FloatArray, FloatArray]:
        """X and Y checked and converted, Y against this network's output and `loss` (a
        checked loss name)."""
        X, single = as_rows(X, "X", self.dtype, self._sizes[0], allow_1d=True)
        Y = as_targets(labels_as_targets(Y, "Y", len(X), self._output, self._n_out, self.dtype),
                       "Y", len(X), self._n_out, self.dtype)
        _model.check_targets(Y, "Y", self._output, loss)
        return X, Y

    def _loss_and_gradient(self, X: npt.ArrayLike, Y: npt.ArrayLike,
                           sample_weight: Optional[npt.ArrayLike],
                           loss: Optional[str]) -> Tuple[float, FloatArray]:
        """(loss, flat gradient) of the network's own parameters, read under the guard."""
        loss_name = self._check_loss(loss)
        model = self._model(loss_name)
        X, Y = self._xy(X, Y, loss_name)
        sw = as_sample_weight(sample_weight, len(X), self.dtype)[0]  # no alpha: scale-free
        with self._guard.read():
            self._check_finite_parameters()
            return _evaluate(model, self._flat, X, Y, sw, 0.0)

    def loss(self, X: npt.ArrayLike, Y: npt.ArrayLike,
             sample_weight: Optional[npt.ArrayLike] = None, *,
             loss: Optional[Loss] = None) -> float:
        """The loss over the rows of X, Y.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix/array, shape (n_samples, n_inputs)
            Inputs. Sparse X (any format; read as CSR, never densified) gives the result of
            X.toarray() to rounding: the first layer's products sum its stored values only.
        Y : array_like, shape (n_samples, n_outputs)
            Targets (see the class docstring's Notes for what they must be).
        sample_weight : array_like, shape (n_samples,), float or None
            Non-negative finite weights, not all 0, or one number for every row
            (scikit-learn's convention); only their ratios matter, at any scale the float64
            range holds.
        loss : {"mse", "cross_entropy"} or None
            As in the class docstring; None: `loss_name`.

        Returns
        -------
        float
            The mean of the samples' losses, or with `sample_weight`
            ``sum(w_i * l_i) / sum(w_i)``.

        Raises
        ------
        ValueError
            Like predict, gradients, objective and fit, naming the layer and the row where a
            layer's pre-activations overflow the dtype (X or the weights too large: the
            result cannot be computed).
        """
        return self._loss_and_gradient(X, Y, sample_weight, loss)[0]

    def gradients(self, X: npt.ArrayLike, Y: npt.ArrayLike,
                  sample_weight: Optional[npt.ArrayLike] = None, *,
                  loss: Optional[Loss] = None) -> List[Tuple[FloatArray, FloatArray]]:
        """Gradient of ``loss(X, Y, sample_weight, loss=loss)``.

        Parameters
        ----------
        X, Y, sample_weight, loss
            As in `loss`.

        Returns
        -------
        list of (ndarray, ndarray)
            ``(dW_l, db_l)`` for each layer, shaped as ``weights[l]`` and ``biases[l]``.
        """
        grads = self._loss_and_gradient(X, Y, sample_weight, loss)[1]
        out, start = [], 0
        for w, b in zip(self._weights_views, self._biases_views):
            dw = grads[start:start + w.size].reshape(w.shape)
            db = grads[start + w.size:start + w.size + b.size]
            out.append((dw, db))
            start += w.size + b.size
        return out

    def objective(self, X: npt.ArrayLike, Y: npt.ArrayLike, *,
                  sample_weight: Optional[npt.ArrayLike] = None, alpha: float = 0.0,
                  loss: Optional[Loss] = None) -> Objective:
        """The loss over X, Y as a function of a flat parameter vector.

        For optimisers that work on one vector (scipy's L-BFGS-B):
        ``objective(flat) -> (loss, gradient)`` with::

            loss = (sum_i w_i l_i + 0.5 * alpha * sum(W**2)) / sum_i w_i

        (w_i = 1 without sample_weight; W the weights, not the biases: scikit-learn's MLP
        objective; sample_weight as in loss), gradient its gradient as a float64 vector. The
        weights count at any scale: the penalty's share follows their sum, as scikit-learn's
        does. flat is laid out as
        get_flat_params returns it. X, Y and the weights are checked once, here; each call
        checks flat and runs compiled with the GIL released. The network's own parameters are
        neither read nor changed.

        Parameters
        ----------
        X, Y, sample_weight, loss
            As in `loss`.
        alpha : float
            scikit-learn's L2 penalty (non-negative).

        Returns
        -------
        Objective
            Callable as ``objective(flat) -> (loss, gradient)``.
        """
        return Objective(self, X, Y, sample_weight, alpha, loss)

    def accuracy(self, X: npt.ArrayLike, Y: npt.ArrayLike) -> float:
        """Fraction of rows classified right.

        Parameters
        ----------
        X, Y
            As in `loss`; Y may be 1-D class labels (see the class docstring, Labels).

        Returns
        -------
        float
            The fraction of rows whose argmax of outputs equals the argmax of Y, or for a
            single output, where output > 0.5 agrees with Y > 0.5.
        """
        X, Y = self._xy(X, Y, self._loss_name)
        return _accuracy(self.predict(X), Y)

    def predict_classes(self, X: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """The class index of each row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs), or one sample (n_inputs,)

        Returns
        -------
        ndarray of np.intp, shape (n_samples,) (a 0-d array for one 1-D sample)
            The argmax of the outputs for several outputs (softmax, or the post's sigmoid
            units); for one sigmoid output, 1 where it is > 0.5, else 0 (what accuracy
            counts). An identity output (regression) has no classes: ValueError.

        Examples
        --------
        >>> net = nnpy.Network([13, 16, 3], output="softmax")
        >>> net.fit(X, labels, epochs=50, lr=0.1)       # labels: 0, 1 or 2 per row
        >>> net.predict_classes(X)[:5]
        array([0, 0, 2, 1, 0])
        """
        if self._output == "identity":
            raise ValueError("predict_classes needs a classifier's output (softmax or "
                             "sigmoid); this network's output is 'identity' (regression): "
                             "use predict")
        out = self.predict(X)
        if out.shape[-1] == 1:
            return (out[..., 0] > 0.5).astype(np.intp)
        return out.argmax(axis=-1).astype(np.intp)

    def summary(self) -> str:
        """A table of the layers, as Keras' model.summary() and torchinfo print it: each
        layer's output shape, activation and number of parameters (weights + biases), then
        the totals. Returns the text: print(net.summary()).

        Returns
        -------
        str

        Examples
        --------
        >>> print(nnpy.Network([13, 16, 3], output="softmax").summary())
        Network: 13 -> 16 -> 3, float64, loss cross_entropy
        layer     output shape   activation   weights   biases   parameters
        input     (None, 13)     -                  0        0            0
        dense_1   (None, 16)     sigmoid          208       16          224
        output    (None, 3)      softmax           48        3           51
        total: 275 parameters (2.1 KiB)
        """
        rows = [("layer", "output shape", "activation", "weights", "biases", "parameters"),
                ("input", f"(None, {self.sizes[0]})", "-", "0", "0", "0")]
        for l, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            last = l == self.n_layers - 1
            rows.append(("output" if last else f"dense_{l + 1}", f"(None, {n_out})",
                         self._output if last else self._activation, str(n_in * n_out),
                         str(n_out), str(n_in * n_out + n_out)))
        widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
        lines = [f"Network: {' -> '.join(map(str, self.sizes))}, {self.dtype.name}, "
                 f"loss {self._loss_name}"]
        for row in rows:
            cells = [row[c].ljust(widths[c]) if c < 3 else row[c].rjust(widths[c])
                     for c in range(len(row))]
            lines.append("   ".join(cells).rstrip())
        n_params = len(self._flat)
        lines.append(f"total: {n_params} parameters ({_size(n_params * self.dtype.itemsize)})")
        return "\n".join(lines)

    def _class_weighted(self, Y: FloatArray, class_weight: ClassWeight,
                        sample_weight: Optional[npt.ArrayLike]) -> npt.NDArray[np.float64]:
        """sample_weight times each row's class weight (see fit's class_weight), float64."""
        if self._output == "identity":
            raise ValueError("class_weight needs a classifier's output (softmax or sigmoid); "
                             "this network's output is 'identity'")
        classes = classes_of(Y, "Y")
        return weighted_samples(class_weight, classes, max(self._n_out, 2), sample_weight)

    # ---- training -----------------------------------------------------------------------

    @property
    def optimizer_state(self) -> Optional[Dict[str, Any]]:
        """The optimiser state fit keeps (None before the first fit or after
        reset_optimizer()): {"optimizer", "settings", "step", "moments"} (a copy)."""
        with self._guard.read():
            state = self._optimizer
            if state is None:
                return None
            return {"optimizer": state.name, "settings": state.settings, "step": state.step,
                    "moments": state.moments.copy()}

    def reset_optimizer(self) -> None:
        """Forgets the optimiser's state: the next fit starts with zero velocity / moments and
        step count 0."""
        with self._guard.write():
            self._optimizer = None

    def fit(self, X: npt.ArrayLike, Y: npt.ArrayLike, *, epochs: int, lr: LearningRate,
            batch_size: int = 1, loss: Optional[Loss] = None, shuffle: bool = True,
            optimizer: Optimizer = "sgd",
            momentum: float = 0.0, nesterov: bool = False,
            betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, l2: float = 0.0,
            alpha: float = 0.0, sample_weight: Optional[npt.ArrayLike] = None,
            validation: Optional[Tuple[npt.ArrayLike, npt.ArrayLike]] = None,
            callback: Optional[Callback] = None,
            progress: bool = False, n_threads: Optional[int] = None,
            patience: Optional[int] = None, min_delta: float = 0.0, restore_best: bool = True,
            class_weight: ClassWeight = None) -> History:
        """Trains by mini-batch gradient descent.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix/array, shape (n_samples, n_inputs)
            Inputs; sparse X is trained on without densifying it (see `loss`).
        Y : array_like, shape (n_samples, n_outputs) or (n_samples,)
            Targets, or 1-D class labels (see the class docstring, Labels).
        epochs : int
            Passes over the data; an upper bound: nothing is allocated in proportion to it.
        lr : float or callable
            Learning rate (positive); may change between fits. Or a schedule: a callable
            ``lr(epoch) -> rate``, epoch counted from 0 in this fit, or one of
            `nnpy.schedules` (StepDecay, ExponentialDecay, InverseScaling as scikit-learn's
            "invscaling", ReduceOnPlateau as its "adaptive"). The rate is asked for once
            before each epoch and holds for the whole epoch; ``History.lr`` records it.
        batch_size : int
            1 is the post's per-sample SGD, larger is mini-batch (each step uses the gradient
            of its batch's loss), len(X) is full batch.
        loss : {"mse", "cross_entropy"} or None
            The loss to train (None: `loss_name`); it becomes the network's `loss_name`.
        shuffle : bool
            Each epoch visits the samples in a fresh random order (from the network's seeded
            generator).
        optimizer : {"sgd", "adam"}
            "sgd": ``v = momentum*v - lr*g, W += v`` (nesterov: ``W += momentum*v - lr*g``, as
            scikit-learn's nesterovs_momentum); momentum 0 is plain SGD. "adam":
            torch.optim.Adam with `betas` and `eps`. The optimiser state stays on the network:
            two fits of 10 epochs give the weights of one of 20 (with shuffle=False) while
            optimizer, momentum, nesterov, betas and eps stay the same; changing one of them,
            or `reset_optimizer`, starts afresh.
        momentum : float
            SGD's momentum.
        nesterov : bool
            Nesterov's momentum (SGD).
        betas : (float, float)
            Adam's moment decay rates.
        eps : float
            Adam's epsilon.
        l2 : float
            Adds ``l2*W`` to the weights' gradient at every step (not the biases'); may change
            between fits.
        alpha : float
            scikit-learn's L2 penalty: adds ``alpha*W/sum(w_i)`` to each batch's weight
            gradient and ``0.5*alpha*sum(W**2)/sum(w_i)`` to its loss (see the module
            docstring); may change between fits.
        sample_weight : array_like, shape (n_samples,), float or None
            Weights of each sample's loss and gradient (as in `loss`): a batch's loss is
            ``sum(w_i*l_i)/sum(w_i)``; a batch whose weights sum to 0 takes no step.
        validation : (X_val, Y_val), optional
            Records the loss and accuracy on it after each epoch.
        callback : callable, optional
            ``callback(epoch, history)`` is called after each epoch and stops training by
            returning False (or ``np.False_``).
        progress : bool
            Shows a tqdm progress bar.
        n_threads : int or None
            Threads the matrix products and element-wise loops of a batch may use (OpenMP).
            None: the cores this process may run on (os.sched_getaffinity) that no other
            runnable task wants, counted again before each call into the core (on Linux, from
            /proc; elsewhere every available core). Threads that share a busy core wait for
            each other at the end of every product, so on a machine where anything else runs
            fewer threads are faster; None keeps to the free cores, and takes every core of
            an idle machine (nnpy's W3-load benchmark measures both). An int asks for that
            many whatever the load. Never more than OpenMP's limit for the calling thread
            (OMP_NUM_THREADS, which joblib and Dask set in their workers, or
            threadpoolctl.threadpool_limits), and only for products large enough to repay
            them: small batches run on one. The weights are bit-identical for any number of
            threads.
        patience : int or None
            Early stopping (None: off): stop after this many epochs in a row (>= 1) whose
            monitored loss did not improve on the best so far by more than `min_delta`. The
            monitored loss is the validation loss when `validation` is given, else the
            training loss (``History.loss``). ``History.stopped_early`` says whether patience
            ended the fit.
        min_delta : float
            The improvement that counts for `patience`.
        restore_best : bool
            With `patience`: end the fit with the weights of the best epoch
            (``History.best_epoch``), also when it ran all its epochs or a callback stopped
            it; the optimiser's state stays that of the last epoch.
        class_weight : None, "balanced" or dict
            scikit-learn's meaning (see `nnpy.labels.class_weights`): each sample's weight is
            multiplied by its class's (sample_weight times class weight). Needs class
            targets: 1-D labels, one-hot rows, or 0/1 for one sigmoid output. "balanced" is
            n_samples / (n_classes * count) from the unweighted counts of the classes present.

        Returns
        -------
        History
            ``History.loss[e]`` is the sum over epoch e's batches of (batch rows * batch loss)
            / n, each batch's loss from its forward pass before its step (the mean sample loss
            when there are no sample weights and no alpha); also val_loss, val_accuracy and
            lr per epoch, best_epoch and stopped_early.

        Raises
        ------
        TrainingDiverged
            If a step would make a weight (or the optimiser state) infinite or NaN, or lead to
            weights whose pre-activations overflow the dtype on X: that step is not applied,
            weights and state stay as they were.
        RuntimeError
            If another thread is using the network (see the class docstring).
        KeyboardInterrupt
            In the main thread, Ctrl-C stops training within a few blocks of rows, with the
            weights of the last completed step.
        ValueError, TypeError
            For a bad argument, before any training; ValueError too, as predict and loss
            raise it, if the pre-activations overflow the dtype on X at the weights fit started
            from (X or the weights too large): the network is then left as it was.

        Examples
        --------
        >>> net = nnpy.Network([13, 16, 3], output="softmax", seed=0)
        >>> h = net.fit(X, labels, epochs=500, lr=ExponentialDecay(0.5, gamma=0.99),
        ...             batch_size=16, validation=(Xv, labels_v), patience=20,
        ...             class_weight="balanced")
        >>> h.best_epoch, h.stopped_early, net.accuracy(Xv, labels_v)
        """
        plan = self._fit_plan(
            X, Y, epochs=epochs, lr=lr, batch_size=batch_size, loss=loss, shuffle=shuffle,
            optimizer=optimizer, momentum=momentum, nesterov=nesterov, betas=betas, eps=eps,
            l2=l2, alpha=alpha, sample_weight=sample_weight, validation=validation,
            callback=callback, n_threads=n_threads, patience=patience, min_delta=min_delta,
            restore_best=restore_best, class_weight=class_weight)
        bar = _progress_bar(plan.epochs) if progress else None
        history = History()
        try:
            with self._guard.train():
                self._run_fit(plan, history, bar)
        except _StartOverflow as refusal:
            raise refusal.error from None
        finally:
            if bar is not None:
                bar.close()
        return history

    def _fit_plan(self, X: npt.ArrayLike, Y: npt.ArrayLike, *, epochs: int, lr: LearningRate,
                  batch_size: int, loss: Optional[Loss], shuffle: bool, optimizer: Optimizer,
                  momentum: float, nesterov: bool, betas: Tuple[float, float], eps: float,
                  l2: float, alpha: float, sample_weight: Optional[npt.ArrayLike],
                  validation: Optional[Tuple[npt.ArrayLike, npt.ArrayLike]],
                  callback: Optional[Callback], n_threads: Optional[int],
                  patience: Optional[int], min_delta: float, restore_best: bool,
                  class_weight: ClassWeight) -> _FitPlan:
        """fit's arguments checked and converted (ValueError/TypeError for a bad one), before
        anything is trained."""
        epochs = as_int(epochs, "epochs", 0)
        batch_size = as_int(batch_size, "batch_size", 1)
        loss_name = self._check_loss(loss)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        settings = _optimizer_settings(optimizer, momentum, nesterov, betas, eps)
        l2 = as_float(l2, "l2", minimum=0.0)
        alpha = as_float(alpha, "alpha", minimum=0.0)
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable as callback(epoch, history)")
        X, Y = self._xy(X, Y, loss_name)
        control = EpochControl(lr, patience, min_delta, restore_best, len(X))
        if class_weight is not None:
            sample_weight = self._class_weighted(Y, class_weight, sample_weight)
        sw, weight_scale = as_sample_weight(sample_weight, len(X), self.dtype)
        alpha = scaled_alpha(alpha, weight_scale, self.dtype)
        checked_validation = None
        if validation is not None:
            if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                raise TypeError("validation must be a pair (X_val, Y_val)")
            Xv, _ = as_rows(validation[0], "validation X", self.dtype, self._sizes[0])
            Yv = as_targets(labels_as_targets(validation[1], "validation Y", len(Xv),
                                              self._output, self._n_out, self.dtype),
                            "validation Y", len(Xv), self._n_out, self.dtype)
            _model.check_targets(Yv, "validation Y", self._output, loss_name)
            checked_validation = (Xv, Yv)
        most = _threads(n_threads)
        return _FitPlan(X, Y, epochs, min(batch_size, len(X)), loss, loss_name, bool(shuffle),
                        settings, l2, alpha, sw, control, checked_validation, callback, most,
                        n_threads is None)

    def _run_fit(self, plan: _FitPlan, history: History, bar: Optional[_Tqdm],
                 postfix: Optional[Dict[str, Any]] = None) -> Optional[str]:
        """fit's training on a checked plan, recording into `history`; the caller holds the
        network for training (its guard, or a network no one else sees). Returns why it
        stopped before plan.epochs: "callback", "patience", or None. Raises TrainingDiverged
        (weights and state of the last finite step kept), or _StartOverflow when the weights
        it started from overflow on X (weights and state then put back)."""
        X, Y, sw, control, settings = plan.X, plan.Y, plan.sample_weight, plan.control, \
            plan.settings
        epochs = plan.epochs
        n = len(X)
        batches_per_epoch = -(-n // plan.batch_size)
        model = self._model(plan.loss_name)
        per_epoch = plan.validation is not None or plan.callback is not None or \
            bar is not None or control.per_epoch
        interruptible = threading.current_thread() is threading.main_thread()
        max_batches = _first_budget(plan.batch_size, model.n_params)  # then measured
        most = plan.most
        adapt = plan.adapt_threads and most > 1 and \
            min(plan.batch_size, _TRAIN_BLOCK) * model.n_params >= _PARALLEL_WORK
        self._check_finite_parameters()
        self._loss_name = plan.loss_name
        if epochs == 0:
            return None
        # what fit started from, put back if its weights overflow on X (then fit changes
        # nothing, as predict and loss refuse those weights alike)
        start = self._fit_start()
        state = self._optimizer_state_for(settings)
        lr = control.rate(0, history)
        opt = plan.optimizer(lr, state)
        run = core.Epochs(n, plan.batch_size, _TRAIN_BLOCK, plan.shuffle,
                          int(self._rng.integers(2 ** 63)))
        work = np.empty(model.train_work_size(plan.batch_size, _TRAIN_BLOCK, opt, most),
                        self.dtype)
        while run.completed < epochs:
            room = 1 if per_epoch else \
                min(epochs - run.completed, max_batches // batches_per_epoch + 1)
            losses = np.empty(room)
            threads = _free_threads(most) if adapt else most
            started = time.perf_counter()
            status, ran, completed = core.train(model, opt, run, self._flat, state.moments,
                                                dense_x(X), Y, sw, losses, max_batches, work,
                                                interruptible, threads, **sparse_kw(X))
            max_batches = _next_budget(max_batches, ran, time.perf_counter() - started)
            if not per_epoch:  # a call's epochs at once (W1: an epoch is 4 steps)
                history.loss.extend(losses[:completed].tolist())
                history.lr.extend([lr] * completed)
            if status == core.STATUS_OVERFLOWED:
                raise self._overflow_stop(model, start, X, run.completed + 1, lr)
            if status == core.STATUS_DIVERGED:
                raise _diverged(run.completed + 1, lr)
            if not per_epoch:
                continue
            for value in losses[:completed]:
                stop = self._epoch_done(plan, history, float(value), lr, bar, postfix)
                if stop is not None:
                    return stop
            if completed and control.per_epoch and run.completed < epochs:
                new_lr = control.rate(run.completed, history)
                if new_lr != lr:
                    lr = new_lr
                    opt = plan.optimizer(lr, state)
        control.finish(history, self._flat)
        return None

    def _fit_start(self) -> Tuple[FloatArray, Optional[_OptimizerState]]:
        """A copy of the weights and optimiser state fit starts from (see _overflow_stop)."""
        return (self._flat.copy(), None if self._optimizer is None else self._optimizer.copy())

    def _overflow_stop(self, model: Any, start: Tuple[FloatArray, Optional[_OptimizerState]],
                       X: FloatArray, epoch: int, lr: float) -> Exception:
        """What fit raises when a step's pre-activations overflowed: _StartOverflow (with the
        weights and state it started from put back) if they overflow on X already at the
        start, else TrainingDiverged (the weights of the last finite step kept)."""
        error = _overflow_error(model, start[0], X)
        if error is not None:
            self._flat[...] = start[0]
            self._optimizer = start[1]
            return _StartOverflow(error)
        return TrainingDiverged(
            f"training diverged in epoch {epoch}: the weights it reached make a layer's "
            f"pre-activations overflow {self.dtype.name} (lr={lr}); the weights before that "
            f"step are kept. Try a smaller lr.")

    def _epoch_done(self, plan: _FitPlan, history: History, value: float, lr: float,
                    bar: Optional[_Tqdm], postfix: Optional[Dict[str, Any]] = None
                    ) -> Optional[str]:
        """fit's work after an epoch that came back to Python: records its loss and lr, the
        validation loss and accuracy, the progress bar, the callback and early stopping.
        Returns why the fit stops here ("callback" or "patience", the best weights then put
        back when asked), or None to go on."""
        control = plan.control
        history.loss.append(value)
        history.lr.append(lr)
        if plan.validation is not None:
            Xv, Yv = plan.validation
            history.val_loss.append(self.loss(Xv, Yv, loss=plan.loss))
            history.val_accuracy.append(_accuracy(self.predict(Xv), Yv))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(**(postfix or {}), loss=f"{history.loss[-1]:.4g}")
        if plan.callback is not None:
            verdict = plan.callback(len(history.loss) - 1, history)
            if isinstance(verdict, (bool, np.bool_)) and not verdict:
                control.finish(history, self._flat)
                return "callback"
        if control.should_stop(history, self._flat):
            control.finish(history, self._flat)
            return "patience"
        return None

    def _optimizer_state_for(self, settings: Tuple[Any, ...]) -> _OptimizerState:
        """The kept optimiser state if it belongs to these settings, else a fresh one (kept
        from now on). Guard held."""
        state = self._optimizer
        if state is None or state.settings != settings:
            vectors = {"sgd": 1 if settings[1] else 0, "adam": 2}[settings[0]]
            state = _OptimizerState(settings[0], settings,
                                    np.zeros(vectors * len(self._flat), self.dtype))
            self._optimizer = state
        return state

    # ---- files --------------------------------------------------------------------------

    def save(self, path: PathLike) -> None:
        """Writes the network, with its optimiser state, to a file.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write: .npz, the arrays plus a JSON header (see `nnpy.io`).
        """
        from .io import save_network
        save_network(self, path)

    @classmethod
    def load(cls, path: PathLike) -> Network:
        """Reads a network written by `save`. Never runs code from the file (no pickle).

        Parameters
        ----------
        path : str or os.PathLike
            The file.

        Returns
        -------
        Network

        Raises
        ------
        ValueError
            For a damaged or foreign file.
        """
        from .io import load_network
        return load_network(path)

    def _snapshot(self) -> Tuple[FloatArray, Optional[_OptimizerState]]:
        """(flat parameters, optimiser state) copied under the guard, for writing a file."""
        with self._guard.read():
            self._check_finite_parameters()
            return (self._flat.copy(),
                    None if self._optimizer is None else self._optimizer.copy())

    def _restore(self, flat: FloatArray, optimizer: Optional[_OptimizerState]) -> None:
        """Sets the parameters and optimiser state read from a file (checked by the reader)."""
        with self._guard.write():
            self._flat[...] = flat
            self._optimizer = optimizer

    # ---- the post's dict API ------------------------------------------------------------

    def to_params(self) -> Dict[str, Dict[str, Any]]:
        """The network as the post's dict (init_net's layout).

        forwardPass and backPropogation continue from here.

        Returns
        -------
        dict
            ``{"metadata": ..., "theta": {"W_0": ..., "B_0": ..., ...}}`` in float64.

        Raises
        ------
        ValueError
            The post's dicts need sigmoid layers, every hidden layer as wide as the input.
        """
        n_in = self.sizes[0]
        if self._output != "sigmoid" or self._activation != "sigmoid" or \
                any(s != n_in for s in self.sizes[1:-1]):
            raise ValueError("the post's dict format holds sigmoid networks whose hidden layers "
                             f"are all as wide as the input ({n_in}); this one is {self.sizes} "
                             f"with {self._activation} hidden and {self._output} output layers")
        theta = {}
        with self._guard.read():
            for l in range(self.n_layers):
                theta["W_%d" % l] = self._weights_views[l].astype(np.float64)
                theta["B_%d" % l] = self._biases_views[l].astype(np.float64).reshape(-1, 1)
        metadata = {"inputSize": n_in, "outputSize": self.sizes[-1], "n_layers": self.n_layers}
        return {"metadata": metadata, "theta": theta}

    @classmethod
    def from_params(cls, params: Dict[str, Any], *, dtype: npt.DTypeLike = np.float64,
                    seed: Optional[int] = None) -> Network:
        """A Network with the weights of a post-style dict.

        Parameters
        ----------
        params : dict
            From init_net or `to_params`.
        dtype : np.float64 or np.float32
            The new network's precision.
        seed : int or None
            Seeds the new network's shuffling in `fit`.

        Returns
        -------
        Network
        """
        from .post import _network
        n_layers, weights, biases = _network(params)
        sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
        net = cls(sizes, init="uniform01", dtype=dtype, seed=seed)
        net.weights = weights
        net.biases = [b.ravel() for b in biases]
        return net


class Objective:
    """A network's loss on fixed data as a function of a flat parameter vector (see
    Network.objective): objective(flat) -> (loss, float64 gradient)."""

    def __init__(self, net: Network, X: npt.ArrayLike, Y: npt.ArrayLike,
                 sample_weight: Optional[npt.ArrayLike], alpha: float,
                 loss: Optional[str]) -> None:
        loss_name = net._check_loss(loss)
        self._model = net._model(loss_name)
        self._dtype = net.dtype
        self._X, self._Y = net._xy(X, Y, loss_name)
        self._sample_weight, weight_scale = as_sample_weight(sample_weight, len(self._X),
                                                             net.dtype)
        self._alpha = scaled_alpha(as_float(alpha, "alpha", minimum=0.0), weight_scale,
                                   net.dtype)
        self.n_params = self._model.n_params   # length of the vectors it takes

    def __call__(self, flat: npt.ArrayLike) -> Tuple[float, npt.NDArray[np.float64]]:
        params = as_vector(flat, "flat", self.n_params, self._dtype)
        value, grads = _evaluate(self._model, params, self._X, self._Y, self._sample_weight,
                                 self._alpha)
        return float(value), grads.astype(np.float64)


def _evaluate(model: Any, params: FloatArray, X: FloatArray, Y: FloatArray,
              sample_weight: Optional[FloatArray], alpha: float) -> Tuple[float, FloatArray]:
    """(loss, gradient) of a core model at flat params over checked X, Y (see
    core.loss_and_gradient)."""
    grads = np.empty_like(params)
    block = min(len(X), _PREDICT_BLOCK)
    work = np.empty(model.work_size(block), params.dtype)
    return core.loss_and_gradient(model, params, dense_x(X), Y, sample_weight, alpha, grads,
                                  work, block, **sparse_kw(X)), grads


def _optimizer_settings(optimizer: str, momentum: float, nesterov: bool,
                        betas: Tuple[float, float], eps: float) -> Tuple[Any, ...]:
    """The checked settings the optimiser state belongs to (see _OptimizerState.settings)."""
    optimizer = choice(optimizer, "optimizer", OPTIMIZERS)
    momentum = as_float(momentum, "momentum", minimum=0.0, maximum=1.0)  # as scikit-learn
    if not isinstance(nesterov, (bool, np.bool_)):
        raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
    if optimizer == "sgd":
        return ("sgd", momentum, bool(nesterov))
    if momentum or nesterov:
        raise ValueError("momentum and nesterov are settings of optimizer='sgd'; Adam's are "
                         "betas and eps")
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    beta1 = as_float(betas[0], "betas[0]", minimum=0.0, below=1.0)
    beta2 = as_float(betas[1], "betas[1]", minimum=0.0, below=1.0)
    eps = as_float(eps, "eps", positive=True)
    return ("adam", beta1, beta2, eps)


def _core_settings(settings: Tuple[Any, ...]) -> Dict[str, Any]:
    """core.Optimizer's keyword arguments for checked settings."""
    if settings[0] == "sgd":
        return {"momentum": settings[1], "nesterov": settings[2]}
    return {"beta1": settings[1], "beta2": settings[2], "eps": settings[3]}


def _available_cores() -> int:
    """The cores this process may run on (its CPU affinity; os.cpu_count() where the platform
    has no affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _threads(n_threads: Optional[int]) -> int:
    """The most threads fit may use: n_threads (None: the available cores), capped by
    OpenMP's limit for the calling thread, so that threadpoolctl's limits and joblib's /
    Dask's OMP_NUM_THREADS in their workers hold (1 when the core has no OpenMP)."""
    wanted = _available_cores() if n_threads is None else as_int(n_threads, "n_threads", 1)
    return max(1, min(wanted, core.max_threads()))


def _free_threads(most: int) -> int:
    """Threads for fit's next core call with n_threads=None: at most `most`, no more than the
    cores other runnable tasks leave free right now (see nnpy._load); `most` where that
    cannot be measured."""
    free = _load.free_cores(_available_cores())
    return most if free is None else min(most, free)


def _first_budget(batch_size: int, n_params: int) -> int:
    """Batches for fit's first core call: _CALL_SECONDS of work at _FIRST_CALL_RATE (one
    batch for large ones; the post's 10,000 steps in one call rather than six, each with its
    own set-up)."""
    return max(1, int(_CALL_SECONDS * _FIRST_CALL_RATE / (batch_size * (n_params + 100))))


def _next_budget(budget: int, ran: int, elapsed: float) -> int:
    """Batches for the next core call: about _CALL_SECONDS at the speed of the last call
    (`ran` batches in `elapsed` seconds), growing at most 8x a call."""
    if ran <= 0 or elapsed <= 0:
        return budget * 8
    return int(max(1, min(budget * 8, ran * _CALL_SECONDS / elapsed)))


def _overflow_error(model: Any, params: FloatArray, X: FloatArray) -> Optional[ValueError]:
    """core.forward's error for the first row of X whose pre-activations overflow the dtype
    at params (naming the layer and the row), or None if none does."""
    block = min(len(X), _PREDICT_BLOCK)
    try:
        core.forward(model, params, dense_x(X),
                     np.empty((len(X), model.sizes[-1]), params.dtype),
                     np.empty(model.work_size(block), params.dtype), block,
                     **sparse_kw(X))
    except ValueError as error:
        return error
    return None


def _overflowed(X: FloatArray, out: FloatArray) -> ValueError:
    """The error for outputs that are inf or NaN although X and the parameters are finite: the
    arithmetic overflowed the dtype (pre-activations beyond its range, or inf - inf)."""
    row = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
    dtype = np.dtype(out.dtype)
    hint = ("; or use dtype=np.float64" if dtype == np.float32 else "")
    return ValueError(
        f"the network's outputs for row {row} of X are not finite ({out[row]}): its "
        f"arithmetic overflowed {dtype.name} (X's largest magnitude is "
        f"{largest_magnitude(X):.3g}, the dtype's limit {float(np.finfo(dtype).max):.3g}); "
        f"scale X down{hint}")


def _size(n_bytes: int) -> str:
    """A byte count for people: 2.1 KiB, 3.4 MiB."""
    value = float(n_bytes)
    if value < 1024:
        return f"{n_bytes} B"
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def _accuracy(outputs: FloatArray, Y: FloatArray) -> float:
    if outputs.shape[1] == 1:
        return float(np.mean((outputs[:, 0] > 0.5) == (Y[:, 0] > 0.5)))
    return float(np.mean(outputs.argmax(axis=1) == Y.argmax(axis=1)))


def _progress_bar(total: int) -> _Tqdm:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError('progress=True needs tqdm: pip install "nnpy-net[progress]"') from None
    return tqdm(total=total, unit="epoch")
