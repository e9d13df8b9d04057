"""nnpy.Network: sigmoid networks of any layer sizes, trained epoch after epoch in compiled code.

All weights and biases live in one flat array (W_0, b_0, W_1, b_1, ...) that the core reads
and updates in place; `weights` and `biases` are lists of numpy views into it, shaped as in the
post (W_l is (n_out, n_in)). `fit` hands whole epochs to the core, which shuffles, runs forward
and backward passes and steps for every batch with the GIL released, and records each epoch's
loss; Python only comes back between calls, each cut to about 50 ms (so Ctrl-C stops within
that, the weights of the last completed step in place) or at the end of an epoch when a
validation set, a callback or a progress bar asks for it.
"""
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from . import reference
from ._dispatch import core
from ._validation import (as_dtype, as_float, as_int, as_matrix, as_sizes, as_targets, choice)

__all__ = ["Network", "History", "TrainingDiverged", "INITS", "OUTPUTS", "LOSSES"]

INITS = ("uniform01", "normal", "scaled_normal", "xavier")
OUTPUTS = ("sigmoid", "softmax")
LOSSES = ("mse", "cross_entropy")

_CALL_SECONDS = 0.05   # target length of one call into the core: Ctrl-C latency and overhead
_PREDICT_BLOCK = 256   # rows per forward block: bounds predict's workspace


class TrainingDiverged(FloatingPointError):
    """A training step would have made a weight infinite or NaN; the weights of the last
    finite step are kept."""


@dataclass
class History:
    """What fit recorded, one entry per completed epoch."""
    loss: list = field(default_factory=list)          # mean training loss
    val_loss: list = field(default_factory=list)      # mean loss on `validation`, if given
    val_accuracy: list = field(default_factory=list)  # accuracy on `validation`, if given

    @property
    def epochs(self):
        """Number of completed epochs."""
        return len(self.loss)


class _ParamList(list):
    """weights or biases: views into the flat parameter array; assigning an item copies the
    new values in (same shape required), so net.weights[0] = W works as users expect."""

    def __init__(self, views, name):
        super().__init__(views)
        self._name = name

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            raise TypeError(f"assign {self._name} items one at a time")
        target = list.__getitem__(self, index)
        array = as_matrix(np.reshape(value, (-1, 1)) if target.ndim == 1 else value,
                          f"{self._name}[{index}]", target.dtype)[0]
        if array.size != target.size or (target.ndim == 2 and array.shape != target.shape):
            raise ValueError(f"{self._name}[{index}] must have shape {target.shape}, "
                             f"got {np.shape(value)}")
        target[...] = array.reshape(target.shape)


class _Guard:
    """Concurrent use of one Network: any number of predict/loss/gradients calls at once, or one
    fit alone (its own thread may still read, e.g. in a callback). Anything else raises
    RuntimeError at once instead of reading half-updated weights (the core releases the GIL,
    so separate Networks do run in parallel)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._readers = 0        # predict/loss/gradients calls under way
        self._trainer = None     # thread id of the fit under way, if any

    def begin_read(self):
        self._lock.acquire()
        if self._trainer is not None and self._trainer != threading.get_ident():
            self._lock.release()
            raise RuntimeError("this Network is being trained by fit in another thread; "
                               "wait for it, or give each thread its own net.copy()")
        self._readers += 1
        self._lock.release()

    def end_read(self):
        self._lock.acquire()
        self._readers -= 1
        self._lock.release()

    @contextmanager
    def read(self):
        self.begin_read()
        try:
            yield
        finally:
            self.end_read()

    @contextmanager
    def write(self):
        me = threading.get_ident()
        with self._lock:
            if self._trainer is not None:
                raise RuntimeError("this Network is being trained by fit in another thread; "
                                   "wait for it, or give each thread its own net.copy()")
            if self._readers:
                raise RuntimeError("this Network is in use by another thread; fit needs it alone")
            self._trainer = me
        try:
            yield
        finally:
            with self._lock:
                self._trainer = None


class Network:
    """A feed-forward network of sigmoid layers.

    sizes   layer widths, inputs first: [64, 32, 10] has one hidden layer of 32.
    output  "sigmoid" (each output in (0, 1)) or "softmax" (outputs sum to 1, for classes).
    loss    "mse" (0.5 * squared error, the post's; sigmoid only) or "cross_entropy"; the
            default is "mse" for sigmoid output and "cross_entropy" for softmax.
    init    "uniform01" (the post's), "normal" (Nielsen's network.py), "scaled_normal"
            (N(0, 1/sqrt(n_in)) weights, Nielsen's network2) or "xavier" (Glorot, as
            scikit-learn for logistic layers).
    dtype   np.float64 or np.float32: every computation runs in this precision.
    seed    int, numpy Generator or None: initial weights and the shuffling of fit.

    A Network may be used by many threads for predict/loss/gradients at once; fit needs it
    alone and raises RuntimeError if another thread is using it (see the README).
    """

    def __init__(self, sizes, *, output="sigmoid", loss=None, init="xavier",
                 dtype=np.float64, seed=None):
        self._sizes = as_sizes(sizes)
        self.output = choice(output, "output", OUTPUTS)
        self.loss_name = self._check_loss(loss)
        self.init = choice(init, "init", INITS)
        self.dtype = as_dtype(dtype)
        if seed is not None and not isinstance(seed, np.random.Generator):
            seed = as_int(seed, "seed", 0)
        self._rng = np.random.default_rng(seed)
        self._flat = np.empty(core.n_params(self._sizes), self.dtype)
        self._n_out = int(self._sizes[-1])
        self._make_views()
        weights, biases = reference.init_params(self.sizes, init, self._rng, self.dtype)
        for l in range(self.n_layers):
            self._weights_views[l][...] = weights[l]
            self._biases_views[l][...] = biases[l]
        self._guard = _Guard()

    # ---- structure ----------------------------------------------------------------------

    @property
    def sizes(self):
        """Layer widths, inputs first."""
        return tuple(int(s) for s in self._sizes)

    @property
    def n_layers(self):
        """Number of weight layers (len(sizes) - 1)."""
        return len(self._sizes) - 1

    def _make_views(self):
        self._weights_views, self._biases_views = [], []
        start = 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            w = self._flat[start:start + n_out * n_in].reshape(n_out, n_in)
            b = self._flat[start + n_out * n_in:start + n_out * n_in + n_out]
            self._weights_views.append(w)
            self._biases_views.append(b)
            start += n_out * n_in + n_out

    @property
    def weights(self):
        """[W_0, W_1, ...], W_l shaped (n_out, n_in): views, so changes reach the network."""
        return _ParamList(self._weights_views, "weights")

    @weights.setter
    def weights(self, values):
        self._assign(values, self.weights, "weights")

    @property
    def biases(self):
        """[b_0, b_1, ...], b_l shaped (n_out,): views, so changes reach the network."""
        return _ParamList(self._biases_views, "biases")

    @biases.setter
    def biases(self, values):
        self._assign(values, self.biases, "biases")

    def _assign(self, values, targets, name):
        values = list(values)
        if len(values) != self.n_layers:
            raise ValueError(f"{name} needs {self.n_layers} arrays, got {len(values)}")
        checked = []
        for l, value in enumerate(values):  # check them all before changing any
            probe = _ParamList([np.empty_like(targets[l])], name)
            probe[0] = value
            checked.append(list.__getitem__(probe, 0))
        for target, value in zip(targets, checked):
            target[...] = value

    def _check_loss(self, loss):
        """A valid loss for this output; None means the network's own (loss_name)."""
        if loss is None:
            if "loss_name" in self.__dict__:
                return self.loss_name
            return "cross_entropy" if self.output == "softmax" else "mse"
        loss = choice(loss, "loss", LOSSES)
        if self.output == "softmax" and loss != "cross_entropy":
            raise ValueError("a softmax output trains with loss='cross_entropy' only")
        return loss

    def _loss_code(self, loss):
        """The core's code for output + loss (loss None: the forward pass alone)."""
        if self.output == "softmax":
            return core.LOSS_SOFTMAX_CE
        return core.LOSS_BCE if loss == "cross_entropy" else core.LOSS_MSE

    def __repr__(self):
        return (f"Network({list(self.sizes)}, output={self.output!r}, loss={self.loss_name!r}, "
                f"dtype={self.dtype.name})")

    def copy(self):
        """An independent copy (weights, settings and the shuffling generator's state)."""
        other = Network.__new__(Network)
        other.__setstate__(self.__getstate__())
        return other

    def __getstate__(self):
        state = self.__dict__.copy()
        for key in ("_guard", "_weights_views", "_biases_views"):
            state.pop(key, None)
        state["_flat"] = self._flat.copy()
        state["_rng"] = self._rng.bit_generator.state
        return state

    def __setstate__(self, state):
        state = dict(state)
        rng_state = state.pop("_rng")
        self.__dict__.update(state)
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = rng_state
        self._make_views()
        self._guard = _Guard()

    # ---- inference ----------------------------------------------------------------------

    def predict(self, X):
        """Outputs for the rows of X (n_samples, n_inputs) -> (n_samples, n_outputs); a single
        1-D sample gives a 1-D output."""
        if type(X) is np.ndarray and X.ndim == 1:
            # One sample: the core's latency path checks X and whether a fit is under way in
            # another thread itself, needs no workspace and keeps the GIL (so no fit can start
            # while it runs): no lock, no reader count.
            out = np.empty(self._n_out, self.dtype)
            done = core.predict_one(self._flat, self._sizes,
                                    core.LOSS_SOFTMAX_CE if self.output == "softmax" else
                                    core.LOSS_MSE, X, out, self._guard)
            if done == 1:
                return out
        X, single = as_matrix(X, "X", self.dtype, self._sizes[0], allow_1d=True)
        out = np.empty((len(X), self._sizes[-1]), self.dtype)
        block = min(len(X), _PREDICT_BLOCK)
        work = np.empty(core.work_size(self._sizes, block), self.dtype)
        with self._guard.read():
            core.forward(self._flat, self._sizes, self._loss_code(None), X, out, work, block)
        return out[0] if single else out

    def _xy(self, X, Y):
        X, single = as_matrix(X, "X", self.dtype, self._sizes[0], allow_1d=True)
        Y = as_targets(Y, "Y", len(X), self._sizes[-1], self.dtype)
        return X, Y

    def _loss_and_gradients(self, X, Y, loss):
        loss = self._check_loss(loss)
        X, Y = self._xy(X, Y)
        grads = np.empty_like(self._flat)
        block = min(len(X), _PREDICT_BLOCK)
        work = np.empty(core.work_size(self._sizes, block), self.dtype)
        with self._guard.read():
            total = core.loss_and_gradients(self._flat, self._sizes, self._loss_code(loss), X, Y,
                                            grads, work, block)
        return total / len(X), grads

    def loss(self, X, Y, loss=None):
        """Mean loss over the rows of X, Y (see the class docstring for the losses)."""
        return self._loss_and_gradients(X, Y, loss)[0]

    def gradients(self, X, Y, loss=None):
        """Gradient of the mean loss over X, Y: a list of (dW_l, db_l), shaped as weights[l]
        and biases[l]."""
        grads = self._loss_and_gradients(X, Y, loss)[1]
        out, start = [], 0
        for w, b in zip(self._weights_views, self._biases_views):
            dw = grads[start:start + w.size].reshape(w.shape)
            db = grads[start + w.size:start + w.size + b.size]
            out.append((dw, db))
            start += w.size + b.size
        return out

    def accuracy(self, X, Y):
        """Fraction of rows classified right: argmax of outputs against argmax of Y, or for a
        single output, output > 0.5 against Y > 0.5."""
        X, Y = self._xy(X, Y)
        return _accuracy(self.predict(X), Y)

    # ---- training -----------------------------------------------------------------------

    def fit(self, X, Y, *, epochs, lr, batch_size=1, loss=None, shuffle=True, l2=0.0,
            momentum=0.0, validation=None, callback=None, progress=False):
        """Trains by mini-batch SGD; returns a History.

        batch_size 1 is the post's per-sample SGD, larger is mini-batch SGD (each step uses
        the mean gradient of its batch), len(X) is full batch. Each epoch visits the samples in
        a fresh random order when `shuffle` (from the network's seeded generator). l2 adds
        0.5*l2*sum(W**2) to the loss (weights, not biases); momentum keeps a velocity
        v = momentum*v - lr*grad and steps W += v. validation=(Xv, Yv) records the loss and
        accuracy on it after each epoch; callback(epoch, history) is called after each epoch
        and stops training by returning False; progress=True shows a tqdm bar.
        Raises TrainingDiverged if a step would make a weight infinite or NaN (the weights of
        the last finite step stay)."""
        epochs = as_int(epochs, "epochs", 0)
        lr = as_float(lr, "lr", positive=True)
        batch_size = as_int(batch_size, "batch_size", 1)
        loss = self._check_loss(loss)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        l2 = as_float(l2, "l2", minimum=0.0)
        momentum = as_float(momentum, "momentum", minimum=0.0, below=1.0)
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable as callback(epoch, history)")
        X, Y = self._xy(X, Y)
        if validation is not None:
            if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                raise TypeError("validation must be a pair (X_val, Y_val)")
            Xv, _ = as_matrix(validation[0], "validation X", self.dtype, self._sizes[0])
            Yv = as_targets(validation[1], "validation Y", len(Xv), self._sizes[-1], self.dtype)
        bar = _progress_bar(epochs) if progress else None

        n = len(X)
        batch_size = min(batch_size, n)
        history = History()
        order = np.arange(n, dtype=np.intp)
        rng_state = np.empty(4, np.uint64)
        cursor = np.zeros(2, np.intp)
        epoch_loss = np.zeros(epochs)
        grads = np.empty_like(self._flat)
        velocity = np.zeros_like(self._flat) if momentum else np.empty(0, self.dtype)
        work = np.empty(core.work_size(self._sizes, batch_size), self.dtype)
        code = self._loss_code(loss)
        per_epoch = validation is not None or callback is not None or bar is not None
        max_batches = 1  # grows 8x a call, up to about _CALL_SECONDS of work per call

        try:
            with self._guard.write():
                self.loss_name = loss
                core.seed_rng(rng_state, int(self._rng.integers(2 ** 63)))
                while cursor[0] < epochs:
                    done = int(cursor[0])
                    started = time.perf_counter()
                    status, ran = core.train(self._flat, grads, velocity, self._sizes, code, X, Y,
                                        order, rng_state, cursor, epoch_loss, batch_size, lr, l2,
                                        momentum, bool(shuffle), 1 if per_epoch else epochs - done,
                                        max_batches, work)
                    max_batches = _next_budget(max_batches, ran, time.perf_counter() - started)
                    if status == core.STATUS_DIVERGED:
                        raise TrainingDiverged(
                            f"training diverged in epoch {int(cursor[0]) + 1}: a step would have "
                            f"made a weight infinite or NaN (lr={lr}); the weights before that "
                            f"step are kept. Try a smaller lr.")
                    for epoch in range(done, int(cursor[0])):
                        history.loss.append(float(epoch_loss[epoch]))
                        if validation is not None:
                            history.val_loss.append(self.loss(Xv, Yv, loss))
                            history.val_accuracy.append(_accuracy(self.predict(Xv), Yv))
                        if bar is not None:
                            bar.update(1)
                            bar.set_postfix(loss=f"{history.loss[-1]:.4g}")
                        if callback is not None and callback(epoch, history) is False:
                            return history
        finally:
            if bar is not None:
                bar.close()
        return history

    # ---- files --------------------------------------------------------------------------

    def save(self, path):
        """Writes the network to `path` (.npz: the arrays plus a JSON header; see nnpy.io)."""
        from .io import save_network
        save_network(self, path)

    @classmethod
    def load(cls, path):
        """Reads a network written by save; ValueError for a damaged or foreign file. Never
        runs code from the file (no pickle)."""
        from .io import load_network
        return load_network(path)

    # ---- the post's dict API ------------------------------------------------------------

    def to_params(self):
        """The network as the post's dict (init_net's layout), so that forwardPass and
        backPropogation continue from here. The post's dicts need every hidden layer as wide
        as the input, and sigmoid output: other networks raise ValueError."""
        n_in = self.sizes[0]
        if self.output != "sigmoid" or any(s != n_in for s in self.sizes[1:-1]):
            raise ValueError("the post's dict format holds sigmoid networks whose hidden layers "
                             f"are all as wide as the input ({n_in}); this one is {self.sizes}")
        theta = {}
        for l in range(self.n_layers):
            theta["W_%d" % l] = self._weights_views[l].astype(np.float64)
            theta["B_%d" % l] = self._biases_views[l].astype(np.float64).reshape(-1, 1)
        metadata = {"inputSize": n_in, "outputSize": self.sizes[-1], "n_layers": self.n_layers}
        return {"metadata": metadata, "theta": theta}

    @classmethod
    def from_params(cls, params, *, dtype=np.float64, seed=None):
        """A Network with the weights of a post-style dict (from init_net or to_params)."""
        from .post import _network
        n_layers, weights, biases = _network(params)
        sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
        net = cls(sizes, init="uniform01", dtype=dtype, seed=seed)
        net.weights = weights
        net.biases = [b.ravel() for b in biases]
        return net


def _next_budget(budget, ran, elapsed):
    """Batches for the next core call: about _CALL_SECONDS at the speed of the last call
    (`ran` batches in `elapsed` seconds), growing at most 8x a call."""
    if ran <= 0 or elapsed <= 0:
        return budget * 8
    return int(max(1, min(budget * 8, ran * _CALL_SECONDS / elapsed)))


def _accuracy(outputs, Y):
    if outputs.shape[1] == 1:
        return float(np.mean((outputs[:, 0] > 0.5) == (Y[:, 0] > 0.5)))
    return float(np.mean(outputs.argmax(axis=1) == Y.argmax(axis=1)))


def _progress_bar(total):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError('progress=True needs tqdm: pip install "nnpy[progress]"') from None
    return tqdm(total=total, unit="epoch")
