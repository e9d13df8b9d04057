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
identity; output sigmoid, softmax, identity or exp; loss mse, cross_entropy, absolute_error,
huber or poisson (valid pairs: sigmoid+mse, sigmoid+cross_entropy, softmax+cross_entropy,
identity+mse, identity+absolute_error, identity+huber, exp+poisson). Optimisers: "sgd"
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

from typing import (TYPE_CHECKING, Any, Callable, Dict, List, Literal, Optional, Sequence,
                    Tuple, Union)

import numpy as np
import numpy.typing as npt

from . import _init, _losses, _model, optimizers
from ._dispatch import core
from ._epochs import labels_as_targets
from ._evaluation import Objective, RowPredictor, accuracy, evaluate, overflow_error
from ._guard import Guard
from ._netfile import read as read_file, write as write_file
from ._params import (ParamList, ParamView, check_finite, checked_layer, layer_views,
                      split_layers)
from ._sparse import as_rows
from ._summary import summary
from ._training import plan_fit, progress_bar, run_fit, StartOverflow
from ._validation import as_dtype, as_int, as_sample_weight, as_sizes, as_targets, \
    as_vector, choice
from .history import History, TrainingDiverged
from .labels import ClassWeight
from .post import network_params

if TYPE_CHECKING:
    from ._safefile import PathLike
    from .schedules import Schedule

__all__ = ["Network", "History", "Objective", "TrainingDiverged", "ACTIVATIONS", "INITS",
           "OUTPUTS", "LOSSES", "OPTIMIZERS"]

ACTIVATIONS = tuple(_model.HIDDEN)     # hidden-layer activations
OUTPUTS = tuple(_model.OUTPUTS)        # output activations
LOSSES = tuple(_model.LOSSES)
INITS = _model.INITS
OPTIMIZERS = tuple(optimizers.OPTIMIZERS)

# the names the model family takes (nnpy._model's table)
Activation = str  # one of ACTIVATIONS (the hidden rows of nnpy._family's table)
Output = Literal["sigmoid", "softmax", "identity", "exp"]
# the rows of nnpy._losses.LOSSES, spelled out for type checkers (tests/test_losses.py checks)
Loss = Literal["mse", "cross_entropy", "absolute_error", "huber", "poisson"]
Init = Literal["xavier", "he", "uniform01", "normal", "scaled_normal"]
Optimizer = Literal["sgd", "adam"]     # or an nnpy.optimizers.Optimizer object
FloatArray = npt.NDArray[np.floating]  # float64 or float32: the network's dtype
Callback = Callable[[int, "History"], object]  # callback(epoch, history); False stops fit
LearningRate = Union[float, Callable[[int], float], "Schedule"]  # see nnpy.schedules

# names pickles of networks (and of their weights' views) hold: classes now defined elsewhere
_OptimizerState, _ParamView = optimizers.OptimizerState, ParamView
_overflow_error = overflow_error   # what the estimators import from here


class Network:
    """A feed-forward network.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, inputs first: ``[64, 32, 10]`` has one hidden layer of 32.
    activation : str
        Activation of the hidden layers, one of ACTIVATIONS ("sigmoid", the post's, "tanh",
        "relu", "identity", ...; see the user guide's list).
    output : {"sigmoid", "softmax", "identity", "exp"}
        "sigmoid" (each output in (0, 1)), "softmax" (outputs sum to 1, for classes),
        "identity" (any real value, for regression) or "exp" (exp(z) > 0, the mean of a count:
        poisson's log link). A softmax needs at least two outputs.
    loss : {"mse", "cross_entropy", "absolute_error", "huber", "poisson"} or None
        Per sample, summed over the outputs (the mean over samples is taken):
        "mse" (0.5 * squared error, the post's), "cross_entropy" (binary with a sigmoid
        output, categorical with softmax), "absolute_error" (``|a - y|``), "huber"
        (``0.5 * d**2`` for ``|d| <= huber_delta``, else
        ``huber_delta * (|d| - 0.5 * huber_delta)``, ``d = a - y``: mse near the target,
        absolute error far off) or "poisson" (half the Poisson deviance
        ``a - y*z + y*log(y) - y`` of ``a = exp(z)``, scikit-learn's
        ``MLPRegressor(loss="poisson")``).
        None: cross_entropy for softmax, poisson for exp, else mse. Valid pairs:
        sigmoid+mse, sigmoid+cross_entropy, softmax+cross_entropy, identity+mse,
        identity+absolute_error, identity+huber, exp+poisson.
    huber_delta : float
        Huber's delta (where its loss turns from quadratic to linear), a positive number;
        1.0 as torch's HuberLoss. Only the "huber" loss reads it.
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
    and loss, with a ValueError naming Y: finite for mse, absolute_error and huber; values in
    [0, 1] for cross_entropy with a sigmoid output; with a softmax, rows of non-negative
    values summing to 1 (to the dtype's rounding); non-negative for poisson.

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
                 huber_delta: float = _model.DEFAULT_HUBER_DELTA, init: Optional[Init] = None,
                 dtype: npt.DTypeLike = np.float64,
                 seed: Union[int, np.random.Generator, None] = None) -> None:
        self._sizes = as_sizes(sizes)
        self._activation = choice(activation, "activation", ACTIVATIONS)
        self._output = choice(output, "output", OUTPUTS)
        _model.check_output_width(self._output, int(self._sizes[-1]))
        self._loss_name = self._check_loss(loss)
        self._huber_delta = _model.check_huber_delta(huber_delta)
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
        self._optimizer: Optional[optimizers.OptimizerState] = None
        self._make_views()
        weights, biases = _init.draw(self.sizes, self._init, self._rng, self.dtype,
                                     self._activation)
        for l in range(self.n_layers):
            self._weights_views[l][...] = weights[l]
            self._biases_views[l][...] = biases[l]
        self._guard = Guard()
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
    def huber_delta(self) -> float:
        """Huber's delta, for the "huber" loss."""
        return self._huber_delta

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
                _model.LOSSES[loss], self._huber_delta)
        return model

    def _make_views(self) -> None:
        """Writable views into _flat for the core's and assignment's writes, and read-only
        ParamView views of the same memory for net.weights and net.biases."""
        self._weights_views, self._biases_views, self._public_weights, self._public_biases = \
            layer_views(self._flat, self.sizes)

    @property
    def weights(self) -> List[FloatArray]:
        """[W_0, W_1, ...], W_l shaped (n_out, n_in): read-only views of the network's weights
        (they follow training). Assign to change them: net.weights[0] = W, or
        net.weights = [W_0, W_1, ...]."""
        return ParamList(self, self._public_weights, "weights")

    @weights.setter
    def weights(self, values: Sequence[npt.ArrayLike]) -> None:
        self._assign(values, "weights")

    @property
    def biases(self) -> List[FloatArray]:
        """[b_0, b_1, ...], b_l shaped (n_out,): read-only views, like weights; assign to change
        them."""
        return ParamList(self, self._public_biases, "biases")

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
        checked = [checked_layer(value, target, f"{name}[{l}]")
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
        check_finite(self._flat, self._weights_views, self._biases_views)

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
        delta = (f", huber_delta={self._huber_delta!r}"
                 if _losses.LOSSES[self._loss_name].reads_huber_delta else "")
        return (f"Network({list(self.sizes)}, activation={self._activation!r}, "
                f"output={self._output!r}, loss={self._loss_name!r}{delta}, "
                f"dtype={self.dtype.name})")

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
                        "_biases_views", "_public_weights", "_public_biases", "predict",
                        "_predict_rows"):
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
        state["_huber_delta"] = _model.check_huber_delta(
            state.get("_huber_delta", _model.DEFAULT_HUBER_DELTA))
        rng_state = state.pop("_rng")
        # a pickle is data: hold it to the constructor's rule
        _model.check_output_width(state.get("_output", "sigmoid"), int(state["_sizes"][-1]))
        self.__dict__.update(state)
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = rng_state
        self._models = {}
        self._forward_model = self._model()
        self._make_views()
        self._guard = Guard()
        self._make_predictor()

    # ---- inference ----------------------------------------------------------------------

    def _make_predictor(self) -> None:
        """Puts the compiled predict (core.Predictor) in the instance's dict, where it shadows
        the method: one sample, an ndarray of shape (n_inputs,) or (1, n_inputs), takes the
        core's latency path without a Python frame; the core checks X there and whether a fit
        or an assignment is under way in another thread, allocates the output, needs no
        workspace and keeps the GIL (so none can start while it runs): no lock, no reader
        count. Everything else, and anything that path does not take (other shapes or dtypes,
        a busy network, a non-finite input or output), goes to the general path, _predict_rows
        (a RowPredictor: no reference back to the network, so no cycle)."""
        self._predict_rows = RowPredictor(
            self._forward_model, self._flat, (self._weights_views, self._biases_views),
            self._guard, self._sizes[0], self._n_out)
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
            return evaluate(model, self._flat, X, Y, sw, 0.0)

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
        loss : {"mse", "cross_entropy", "absolute_error", "huber", "poisson"} or None
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
        return list(zip(*split_layers(grads, self.sizes)))

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
        return accuracy(self.predict(X), Y)

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

    summary = summary   # the table of the layers (nnpy._summary)

    # ---- training -----------------------------------------------------------------------

    @property
    def optimizer_state(self) -> Optional[Dict[str, Any]]:
        """The optimiser state fit keeps (None before the first fit or after
        reset_optimizer()): {"optimizer", "settings", "step", "moments"} (a copy)."""
        with self._guard.read():
            state = self._optimizer
            if state is None:
                return None
            return {"optimizer": state.name, "settings": state.optimizer.settings,
                    "step": state.step, "moments": state.moments.copy()}

    def reset_optimizer(self) -> None:
        """Forgets the optimiser's state: the next fit starts with zero velocity / moments and
        step count 0."""
        with self._guard.write():
            self._optimizer = None

    def fit(self, X: npt.ArrayLike, Y: npt.ArrayLike, *, epochs: int, lr: LearningRate,
            batch_size: int = 1, loss: Optional[Loss] = None, shuffle: bool = True,
            optimizer: Union[Optimizer, optimizers.Optimizer] = "sgd",
            momentum: float = 0.0, nesterov: bool = False,
            betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, l2: float = 0.0,
            alpha: float = 0.0, sample_weight: Optional[npt.ArrayLike] = None,
            validation: Optional[Tuple[npt.ArrayLike, npt.ArrayLike]] = None,
            callback: Optional[Callback] = None,
            progress: bool = False, n_threads: Optional[int] = None,
            patience: Optional[int] = None, min_delta: float = 0.0, restore_best: bool = True,
            class_weight: ClassWeight = None, dropout: float = 0.0) -> History:
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
        loss : {"mse", "cross_entropy", "absolute_error", "huber", "poisson"} or None
            The loss to train (None: `loss_name`); it becomes the network's `loss_name`.
        shuffle : bool
            Each epoch visits the samples in a fresh random order (from the network's seeded
            generator).
        optimizer : {"sgd", "adam"} or nnpy.optimizers.Optimizer
            "sgd": ``v = momentum*v - lr*g, W += v`` (nesterov: ``W += momentum*v - lr*g``, as
            scikit-learn's nesterovs_momentum); momentum 0 is plain SGD. "adam":
            torch.optim.Adam with `betas` and `eps`. Or an object of `nnpy.optimizers`
            (``SGD(momentum=0.9)``, ``Adam(eps=1e-7)``) holding its settings, the arguments
            below then left at their defaults. The optimiser state stays on the network:
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
        dropout : float
            Inverted dropout on the hidden layers (0 <= dropout < 1; 0, the default, is off):
            while training, each hidden unit of each sample is dropped with this probability
            and the kept ones are scaled by ``1/(1-dropout)``, so predict (which never drops)
            sees the activations' expectation. The masks come from the network's seeded
            generator, as the shuffle does: a fit is reproducible, on any number of threads.
            ``History.loss`` is then the loss of the dropped-out forward passes.

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
        plan = plan_fit(
            self, X, Y, epochs=epochs, lr=lr, batch_size=batch_size, loss=loss, shuffle=shuffle,
            optimizer=optimizer, momentum=momentum, nesterov=nesterov, betas=betas, eps=eps,
            l2=l2, alpha=alpha, sample_weight=sample_weight, validation=validation,
            callback=callback, n_threads=n_threads, patience=patience, min_delta=min_delta,
            restore_best=restore_best, class_weight=class_weight, dropout=dropout)
        bar = progress_bar(plan.epochs) if progress else None
        history = History()
        try:
            with self._guard.train():
                run_fit(self, plan, history, bar)
        except StartOverflow as refusal:
            raise refusal.error from None
        finally:
            if bar is not None:
                bar.close()
        return history

    # ---- files --------------------------------------------------------------------------

    def save(self, path: PathLike) -> None:
        """Writes the network, with its optimiser state, to a file.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write: .npz, the arrays plus a JSON header (see `nnpy.io`).
        """
        write_file(self, path)

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
        return read_file(path, Network, None)

    def _snapshot(self) -> Tuple[FloatArray, Optional[optimizers.OptimizerState]]:
        """(flat parameters, optimiser state) copied under the guard, for writing a file."""
        with self._guard.read():
            self._check_finite_parameters()
            return (self._flat.copy(),
                    None if self._optimizer is None else self._optimizer.copy())

    def _restore(self, flat: FloatArray,
                 optimizer: Optional[optimizers.OptimizerState]) -> None:
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
        with self._guard.read():
            return network_params(self.sizes, self._activation, self._output,
                                  self._weights_views, self._biases_views)

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


