"""Passes of the core over whole data outside training: predict's general path
(RowPredictor), a network's loss and gradient (evaluate, and Objective: the loss as a function
of a flat parameter vector), the overflow diagnosis predict, loss and fit share, and the
accuracy fit's validation records."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Tuple

import numpy as np
import numpy.typing as npt

from ._dispatch import core
from ._params import check_finite
from ._sparse import as_rows, dense_x, largest_magnitude, sparse_kw
from ._validation import as_float, as_sample_weight, as_vector, scaled_alpha

if TYPE_CHECKING:
    from .network import FloatArray, Network

__all__ = ["PREDICT_BLOCK", "RowPredictor", "Objective", "evaluate", "overflow_error", "overflowed", "accuracy"]

PREDICT_BLOCK = 256   # rows per forward block: bounds predict's workspace


class RowPredictor:
    """predict's general path for one network: X checked and converted, the rows in blocks.
    It holds the network's parts (the forward model, the flat parameters and their views, the
    guard), not the network, so that the compiled predictor holding it (core.Predictor, in
    the network's dict) makes no reference cycle: a dropped network is freed at once."""

    def __init__(self, model: Any, flat: FloatArray, views: Tuple[Any, Any], guard: Any,
                 n_in: int, n_out: int) -> None:
        self._model, self._flat, self._views, self._guard = model, flat, views, guard
        self._n_in, self._n_out = n_in, n_out

    def __call__(self, X: npt.ArrayLike) -> FloatArray:
        dtype = self._flat.dtype
        X, single = as_rows(X, "X", dtype, self._n_in, allow_1d=True)
        with self._guard.read():
            check_finite(self._flat, *self._views)
            if len(X) == 1 and isinstance(X, np.ndarray):
                # one sample converted, or one that waited for another thread: the same
                # per-sample arithmetic as predict's latency path, so that a sample's output
                # does not depend on its input's dtype or layout, or on the timing of other
                # threads
                one = core.predict_one(self._model, self._flat, X[0] if single else X,
                                       self._guard)
                if one is not None:
                    return one
            out = np.empty((len(X), self._n_out), dtype)
            block = min(len(X), PREDICT_BLOCK)
            work = np.empty(self._model.work_size(block), dtype)
            core.forward(self._model, self._flat, dense_x(X), out, work, block,
                         **sparse_kw(X))
        if core.count_nonfinite(out.reshape(-1)):
            raise overflowed(X, out)
        return out[0] if single else out


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
        value, grads = evaluate(self._model, params, self._X, self._Y, self._sample_weight,
                                self._alpha)
        return float(value), grads.astype(np.float64)


def evaluate(model: Any, params: FloatArray, X: FloatArray, Y: FloatArray,
             sample_weight: Optional[FloatArray], alpha: float) -> Tuple[float, FloatArray]:
    """(loss, gradient) of a core model at flat params over checked X, Y (see
    core.loss_and_gradient)."""
    grads = np.empty_like(params)
    block = min(len(X), PREDICT_BLOCK)
    work = np.empty(model.work_size(block), params.dtype)
    return core.loss_and_gradient(model, params, dense_x(X), Y, sample_weight, alpha, grads,
                                  work, block, **sparse_kw(X)), grads


def overflow_error(model: Any, params: FloatArray, X: FloatArray) -> Optional[ValueError]:
    """core.forward's error for the first row of X whose pre-activations overflow the dtype
    at params (naming the layer and the row), or None if none does."""
    block = min(len(X), PREDICT_BLOCK)
    try:
        core.forward(model, params, dense_x(X),
                     np.empty((len(X), model.sizes[-1]), params.dtype),
                     np.empty(model.work_size(block), params.dtype), block,
                     **sparse_kw(X))
    except ValueError as error:
        return error
    return None


def overflowed(X: FloatArray, out: FloatArray) -> ValueError:
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


def accuracy(outputs: FloatArray, Y: FloatArray) -> float:
    """Fraction of rows classified right: argmax of outputs against argmax of Y, or for one
    output, output > 0.5 against Y > 0.5."""
    if outputs.shape[1] == 1:
        return float(np.mean((outputs[:, 0] > 0.5) == (Y[:, 0] > 0.5)))
    return float(np.mean(outputs.argmax(axis=1) == Y.argmax(axis=1)))
