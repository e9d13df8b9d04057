"""The model family: the names users pass, what they mean, and the codes the compiled core uses
for them. nnpy.network, nnpy.io and nnpy.estimators read their choices, defaults and checks from
here (as scikit-learn's ACTIVATIONS/DERIVATIVES dicts and the class table of its _loss module
serve its MLP).

The activations are the rows of nnpy._family.ACTIVATIONS (see there for what a new one takes:
its scalar function and derivative in src/nncore/nn_math.h, a line in
src/nncore/activation_kinds.tp, its row in _family.py); HIDDEN and OUTPUTS map their names onto
the core's codes, which the core generates from the same list (core.ACTIVATION_CODES).
The losses are the rows of nnpy._losses.LOSSES (see there for what a new one takes); LOSSES,
PAIRS and DEFAULT_LOSS are read from them.
"""
from __future__ import annotations

import numpy as np

from . import _family, _losses, optimizers
from ._dispatch import core

__all__ = ["HIDDEN", "OUTPUTS", "LOSSES", "PAIRS", "DEFAULT_LOSS", "INITS", "DEFAULT_INIT",
           "OPTIMIZERS", "MIN_OUTPUTS", "DEFAULT_HUBER_DELTA", "check_huber_delta", "check_pair",
           "check_output_width", "check_targets"]

# Hidden-layer activations and output activations: name -> core code, in the table's order.
HIDDEN: dict[str, int] = {name: core.ACTIVATION_CODES[name] for name in _family.HIDDEN}
OUTPUTS: dict[str, int] = {name: core.ACTIVATION_CODES[name] for name in _family.OUTPUTS}

# Losses: name -> core code, in the table's order (nnpy._losses.LOSSES: a row per loss, its
# formula, pairs and numpy reference; the core exports each code as the row's `core` name).
LOSSES: dict[str, int] = {name: int(getattr(core, row.core))
                          for name, row in _losses.LOSSES.items()}

# The (output, loss) pairs a network may train with, from the losses' rows.
PAIRS: set[tuple[str, str]] = _losses.PAIRS

# The fewest output units each output activation is meaningful with: a softmax over one unit
# is 1 whatever its input (nothing to learn, a cross-entropy of 0).
MIN_OUTPUTS: dict[str, int] = {"sigmoid": 1, "softmax": 2, "identity": 1, "exp": 1}

# Each output activation's loss when none is given, from the losses' rows.
DEFAULT_LOSS: dict[str, str] = _losses.DEFAULT_LOSS

# Huber's delta when none is given (torch's HuberLoss's; scikit-learn's SGDRegressor calls it
# epsilon, a name its MLP gives Adam's).
DEFAULT_HUBER_DELTA = 1.0

# Initialisations (see nnpy._init for the formulas), and the default per hidden
# activation (its row's: Glorot, "xavier", for sigmoid, tanh and identity, He for ReLU's kin).
INITS: tuple[str, ...] = ("xavier", "he", "uniform01", "normal", "scaled_normal")
DEFAULT_INIT: dict[str, str] = {name: _family.ACTIVATIONS[name].init for name in _family.HIDDEN}

# Optimisers: name -> core code, read from their table (nnpy.optimizers: a class each)
OPTIMIZERS: dict[str, int] = {name: cls.code for name, cls in optimizers.OPTIMIZERS.items()}


def check_pair(output: str, loss: str) -> None:
    """ValueError unless the output activation trains with this loss."""
    if (output, loss) not in PAIRS:
        valid = sorted(l for o, l in PAIRS if o == output)
        raise ValueError(f"output={output!r} trains with loss "
                         f"{' or '.join(map(repr, valid))}; got {loss!r}")


def check_huber_delta(huber_delta: object, name: str = "huber_delta") -> float:
    """huber_delta as a float; TypeError or ValueError naming `name` unless it is a positive
    finite real number."""
    if isinstance(huber_delta, (bool, np.bool_)) or not isinstance(
            huber_delta, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive real number, got {huber_delta!r}")
    value = float(huber_delta)
    if not (value > 0 and np.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {huber_delta!r}")
    return value


def check_output_width(output: str, n_out: int) -> None:
    """ValueError unless an output layer of n_out units may have this activation."""
    if n_out < MIN_OUTPUTS[output]:
        raise ValueError(f"output={output!r} needs at least {MIN_OUTPUTS[output]} output units "
                         f"(the last of sizes), got {n_out}: a softmax over one unit is always "
                         f"1; for two classes use one sigmoid unit or a softmax over two")


def check_targets(Y: np.ndarray, name: str, output: str, loss: str) -> None:
    """ValueError naming `name` unless the finite targets Y (n_samples, n_outputs) are what the
    loss compares the output with: cross-entropy after a sigmoid, values in [0, 1]
    (probabilities); after a softmax, rows of non-negative values summing to 1 (a
    distribution over the classes, to the rounding of the dtype's arithmetic: n_outputs + 4
    ulp of 1, summed in float64); poisson, non-negative values (counts, or rates). mse,
    absolute_error and huber take any finite values. One vectorised pass."""
    if loss == "poisson":
        low = float(Y.min()) if Y.size else 0.0
        if low < 0:
            bad = np.unravel_index(int(np.argmin(Y)), Y.shape)
            raise ValueError(f"{name} must hold non-negative values for loss='poisson' (counts "
                             f"or rates), got {low!r} at index {tuple(int(i) for i in bad)}")
        return
    if loss != "cross_entropy":
        return
    low, high = float(Y.min()), float(Y.max())
    if output != "softmax":
        if low < 0 or high > 1:
            bad = np.unravel_index(int(np.argmax((Y < 0) | (Y > 1))), Y.shape)
            raise ValueError(f"{name} must hold values in [0, 1] for cross_entropy with a "
                             f"sigmoid output (probabilities), got {float(Y[bad])!r} at index "
                             f"{tuple(int(i) for i in bad)}")
        return
    if low < 0:
        bad = np.unravel_index(int(np.argmin(Y)), Y.shape)
        raise ValueError(f"{name} must hold non-negative values for a softmax output (each row a "
                         f"distribution over the classes), got {low!r} at index "
                         f"{tuple(int(i) for i in bad)}")
    tolerance = (Y.shape[1] + 4) * float(np.finfo(Y.dtype).eps)
    error = np.abs(Y.sum(axis=1, dtype=np.float64) - 1.0)
    row = int(np.argmax(error))
    if not error[row] <= tolerance:
        raise ValueError(f"{name} must have rows summing to 1 for a softmax output (one-hot "
                         f"classes or probabilities), but row {row} sums to "
                         f"{float(Y[row].sum(dtype=np.float64))!r}")
