"""The losses in one table, as nnpy._family holds the activations: a row per loss carries
everything each part of nnpy needs of it, and every part reads it. Pure Python and numpy, no
compiled code: nnpy.reference builds its losses from it.

    name        what users pass (Network(loss=...); what the files record)
    formula     the loss of one sample, summed over the outputs k, in words (the reader's)
    core        the name of its code in the compiled core (core.LOSS_MSE, ...: nnpy._model
                reads the codes by these names, so this module imports nothing compiled)
    outputs     the output activations it trains with (nnpy._model.PAIRS)
    default_for the outputs whose default loss it is (nnpy._model.DEFAULT_LOSS; each output
                has one)
    value       the loss of each sample in numpy, (a, z, Y, output, huber_delta) -> one value
                per row, from the outputs a and the output layer's pre-activations z (those
                keep a confident output's precision): nnpy.reference's
    output_delta  its gradient dLoss/dz of the output layer in numpy, same arguments, one row
                per sample: nnpy.reference's
    sklearn     NNRegressor's name for it (scikit-learn's: MLPRegressor's, SGDRegressor's), or
                None: no regression loss (the classifiers train with cross_entropy)
    regressor_output  the output activation NNRegressor gives it (None with sklearn None)
    sklearn_mlp whether scikit-learn's MLPRegressor has it (to_sklearn refuses the others)
    reads_huber_delta  whether its formulas read huber_delta (repr and the files show it then)
    torch       the torch.nn loss it equals (reduction="sum"; huber's with delta=huber_delta;
                poisson's up to a constant), or None; tests/test_losses.py compares the rows
                that have one with it, with nnpy.reference and with finite differences

A new loss:
    1. src/nncore/losses.pxd: its code (and N_LOSSES), a branch in row_loss and in
       row_output_delta;
    2. src/nncore/_core.pyx: its code's cimport and its LOSS_ export (the tests check that
       every LOSS_ export has a row); src/nncore/model.pxi: the (output, loss) pairs the
       core's Model accepts;
    3. here: its row (and its numpy value and output delta);
    4. nnpy/network.py: its name in the Loss Literal (and in RegressionLoss of
       nnpy/estimators/_shared.py for a regression loss: type checkers need literal names;
       the tests check both against this table);
    5. where its targets are restricted (poisson's non-negative counts): a check in
       nnpy._model.check_targets (and NNRegressor._validate_input, for its message);
    6. the docs that name the losses: Network's docstrings (nnpy/network.py), the file
       format's (nnpy/io.py), nnpy.reference's module docstring, docs/guide/network.md; for
       a regression loss NNRegressor's (nnpy/estimators/_regressor.py, __init__.py) and
       docs/guide/estimators.md.
nnpy._model (LOSSES, PAIRS, DEFAULT_LOSS), Network, the files, the stacks, the estimators,
nnpy.reference and the tests' parametrisations read the table.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ._family import ACTIVATIONS

__all__ = ["Loss", "LOSSES", "PAIRS", "DEFAULT_LOSS"]

Array = np.ndarray
# (a, z, Y, output, huber_delta) -> the rows' losses, or their output deltas dLoss/dz
LossFunction = Callable[[Array, Array, Array, str, float], Array]


@dataclass(frozen=True)
class Loss:
    """One loss: what the reference, the core's Python side and the estimators need."""
    name: str
    formula: str
    core: str
    outputs: tuple[str, ...]
    default_for: tuple[str, ...]
    value: LossFunction
    output_delta: LossFunction
    sklearn: Optional[str] = None
    regressor_output: Optional[str] = None
    sklearn_mlp: bool = False
    reads_huber_delta: bool = False
    torch: Optional[str] = None


def _times_derivative(g: Array, z: Array, output: str) -> Array:
    """g * f'(z) of the output activation: dLoss/dz from dLoss/da, elementwise."""
    derivative = ACTIVATIONS[output].derivative
    if derivative is None:  # softmax: no pair of it takes this path
        raise ValueError(f"output={output!r} has no elementwise derivative")
    return g * derivative(z)


def _mse(a: Array, z: Array, Y: Array, output: str, huber_delta: float) -> Array:
    return 0.5 * np.sum((a - Y) ** 2, axis=1)


def _mse_delta(a: Array, z: Array, Y: Array, output: str, huber_delta: float) -> Array:
    return _times_derivative(a - Y, z, output)


def _cross_entropy(a: Array, z: Array, Y: Array, output: str, huber_delta: float) -> Array:
    if output == "softmax":
        # y_k * (logsumexp(z) - z_k) with logsumexp(z) - z_k = (m - z_k) + log1p(sum of
        # exp(z_j - m) over j other than the largest): exact for a confidently right class
        m = z.max(axis=1, keepdims=True)
        e = np.exp(z - m)
        e[np.arange(len(z)), z.argmax(axis=1)] = 0
        return np.sum(Y * ((m - z) + np.log1p(e.sum(axis=1, keepdims=True))), axis=1)
    # sigmoid cross-entropy from z, softplus(z) - y*z arranged without cancellation:
    # (1-y)*z + log1p(exp(-z)) for z > 0, -y*z + log1p(exp(z)) otherwise
    return np.sum(np.where(z > 0, (1 - Y) * z, -Y * z) + np.log1p(np.exp(-np.abs(z))), axis=1)


def _cross_entropy_delta(a: Array, z: Array, Y: Array, output: str,
                         huber_delta: float) -> Array:
    if output == "softmax":
        return a * Y.sum(axis=1, keepdims=True) - Y
    return a - Y


def _absolute_error(a: Array, z: Array, Y: Array, output: str, huber_delta: float) -> Array:
    return np.sum(np.abs(a - Y), axis=1)


def _absolute_error_delta(a: Array, z: Array, Y: Array, output: str,
                          huber_delta: float) -> Array:
    return _times_derivative(np.sign(a - Y), z, output)


def _huber(a: Array, z: Array, Y: Array, output: str, huber_delta: float) -> Array:
    d = np.abs(a - Y)
    return np.sum(np.where(d <= huber_delta, 0.5 * d ** 2,
                           huber_delta * (d - 0.5 * huber_delta)), axis=1)


def _huber_delta(a: Array, z: Array, Y: Array, output: str, huber_delta: float) -> Array:
    return _times_derivative(np.clip(a - Y, -huber_delta, huber_delta), z, output)


def _poisson(a: Array, z: Array, Y: Array, output: str, huber_delta: float) -> Array:
    # scikit-learn's poisson_loss per row: xlogy(y, y/a) - y + a, with log(a) = z
    ylogy = Y * np.log(np.where(Y > 0, Y, 1))
    return np.sum(ylogy - Y * z - Y + a, axis=1)


def _poisson_delta(a: Array, z: Array, Y: Array, output: str, huber_delta: float) -> Array:
    return a - Y  # d/dz of exp(z) - y*z


LOSSES: dict[str, Loss] = {row.name: row for row in [
    # sigmoid + mse: the post's; identity + mse: regression
    Loss("mse", "0.5 * sum_k (a_k - y_k)^2", "LOSS_MSE", outputs=("sigmoid", "identity"),
         default_for=("sigmoid", "identity"), value=_mse, output_delta=_mse_delta,
         sklearn="squared_error", regressor_output="identity", sklearn_mlp=True),
    # sigmoid: binary or multi-label classification; softmax: classes
    Loss("cross_entropy", "sigmoid output: -sum_k y_k log(a_k) + (1 - y_k) log(1 - a_k); "
         "softmax output: -sum_k y_k log(a_k)", "LOSS_CROSS_ENTROPY",
         outputs=("sigmoid", "softmax"), default_for=("softmax",), value=_cross_entropy,
         output_delta=_cross_entropy_delta),
    # regression robust to outliers (the median's loss)
    Loss("absolute_error", "sum_k |a_k - y_k|", "LOSS_ABSOLUTE_ERROR", outputs=("identity",),
         default_for=(), value=_absolute_error, output_delta=_absolute_error_delta,
         sklearn="absolute_error", regressor_output="identity", torch="L1Loss"),
    # regression: mse near the target, absolute error far off (delta 1 by default, torch's)
    Loss("huber", "sum_k 0.5 d_k^2 if |d_k| <= delta else delta (|d_k| - 0.5 delta), "
         "d = a - y", "LOSS_HUBER", outputs=("identity",), default_for=(), value=_huber,
         output_delta=_huber_delta, sklearn="huber", regressor_output="identity",
         reads_huber_delta=True, torch="HuberLoss"),
    # counts (non-negative targets): half the Poisson deviance, 0 at a = y, of a = exp(z)
    Loss("poisson", "sum_k a_k - y_k z_k + y_k log(y_k) - y_k, a = exp(z)", "LOSS_POISSON",
         outputs=("exp",), default_for=("exp",), value=_poisson, output_delta=_poisson_delta,
         sklearn="poisson", regressor_output="exp", sklearn_mlp=True, torch="PoissonNLLLoss"),
]}

# The (output, loss) pairs a network may train with.
PAIRS: set[tuple[str, str]] = {
    (output, row.name) for row in LOSSES.values() for output in row.outputs}

# Each output activation's default loss, in the activations' table's order.
DEFAULT_LOSS: dict[str, str] = {
    output: row.name for output in ACTIVATIONS if ACTIVATIONS[output].output
    for row in LOSSES.values() if output in row.default_for}
