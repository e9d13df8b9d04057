"""The model family in one table: the names users pass, what they mean, and the codes the
compiled core uses for them. nnpy.network, nnpy.io and nnpy.estimators read their choices,
defaults and checks from here (as scikit-learn's ACTIVATIONS/DERIVATIVES dicts and the class
table of its _loss module serve its MLP), and nnpy.reference holds the same formulas in numpy.

A new hidden activation is: a code, its scalar function and its derivative (from the
activation's value) and a line in each of the three switches in src/nncore/activations.pxd;
the code's ACT_ name in _core.pyx's exports; a row in HIDDEN here; its function and derivative
in nnpy.reference.ACTIVATIONS / DERIVATIVES. Network, the files, the estimators and the tests'
parametrisations read the table.
"""
from __future__ import annotations

import numpy as np

from . import optimizers
from ._dispatch import core

__all__ = ["HIDDEN", "OUTPUTS", "LOSSES", "PAIRS", "DEFAULT_LOSS", "INITS", "DEFAULT_INIT",
           "OPTIMIZERS", "MIN_OUTPUTS", "check_pair", "check_output_width", "check_targets"]

# Hidden-layer activations: name -> core code. The derivative each needs in backprop is taken
# from the activation's value (as scikit-learn's DERIVATIVES do), so only activations are kept.
HIDDEN: dict[str, int] = {
    "sigmoid": core.ACT_SIGMOID,    # 1/(1+exp(-z)), the post's
    "tanh": core.ACT_TANH,          # tanh(z)
    "relu": core.ACT_RELU,          # max(z, 0)
    "identity": core.ACT_IDENTITY,  # z
}

# Output activations: name -> core code.
OUTPUTS: dict[str, int] = {
    "sigmoid": core.ACT_SIGMOID,    # each output in (0, 1): binary / multi-label, or the post's
    "softmax": core.ACT_SOFTMAX,    # outputs in (0, 1) summing to 1: one class of several
    "identity": core.ACT_IDENTITY,  # any real value: regression
}

# Losses: name -> core code. Per sample (the mean, or weighted mean, over samples is taken):
#   mse            0.5 * sum_k (a_k - y_k)^2
#   cross_entropy  sigmoid output: -sum_k y_k log(a_k) + (1 - y_k) log(1 - a_k)
#                  softmax output: -sum_k y_k log(a_k)
LOSSES: dict[str, int] = {
    "mse": core.LOSS_MSE,
    "cross_entropy": core.LOSS_CROSS_ENTROPY,
}

# The (output, loss) pairs a network may train with.
PAIRS: set[tuple[str, str]] = {
    ("sigmoid", "mse"),            # the post's
    ("sigmoid", "cross_entropy"),  # binary or multi-label classification
    ("softmax", "cross_entropy"),  # classes
    ("identity", "mse"),           # regression
}

# The fewest output units each output activation is meaningful with: a softmax over one unit
# is 1 whatever its input (nothing to learn, a cross-entropy of 0).
MIN_OUTPUTS: dict[str, int] = {"sigmoid": 1, "softmax": 2, "identity": 1}

DEFAULT_LOSS: dict[str, str] = {"sigmoid": "mse", "softmax": "cross_entropy", "identity": "mse"}

# Initialisations (see nnpy._init for the formulas), and the default per hidden
# activation: Glorot ("xavier") for sigmoid, tanh and identity, He for ReLU.
INITS: tuple[str, ...] = ("xavier", "he", "uniform01", "normal", "scaled_normal")
DEFAULT_INIT: dict[str, str] = {"sigmoid": "xavier", "tanh": "xavier", "identity": "xavier", "relu": "he"}

# Optimisers: name -> core code, read from their table (nnpy.optimizers: a class each)
OPTIMIZERS: dict[str, int] = {name: cls.code for name, cls in optimizers.OPTIMIZERS.items()}


def check_pair(output: str, loss: str) -> None:
    """ValueError unless the output activation trains with this loss."""
    if (output, loss) not in PAIRS:
        valid = sorted(l for o, l in PAIRS if o == output)
        raise ValueError(f"output={output!r} trains with loss "
                         f"{' or '.join(map(repr, valid))}; got {loss!r}")


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
    ulp of 1, summed in float64). mse takes any finite values. One vectorised pass."""
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
