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
from ._dispatch import core

__all__ = ["HIDDEN", "OUTPUTS", "LOSSES", "PAIRS", "DEFAULT_LOSS", "INITS", "DEFAULT_INIT",
           "OPTIMIZERS", "check_pair"]

# Hidden-layer activations: name -> core code. The derivative each needs in backprop is taken
# from the activation's value (as scikit-learn's DERIVATIVES do), so only activations are kept.
HIDDEN = {
    "sigmoid": core.ACT_SIGMOID,    # 1/(1+exp(-z)), the post's
    "tanh": core.ACT_TANH,          # tanh(z)
    "relu": core.ACT_RELU,          # max(z, 0)
    "identity": core.ACT_IDENTITY,  # z
}

# Output activations: name -> core code.
OUTPUTS = {
    "sigmoid": core.ACT_SIGMOID,    # each output in (0, 1): binary / multi-label, or the post's
    "softmax": core.ACT_SOFTMAX,    # outputs in (0, 1) summing to 1: one class of several
    "identity": core.ACT_IDENTITY,  # any real value: regression
}

# Losses: name -> core code. Per sample (the mean, or weighted mean, over samples is taken):
#   mse            0.5 * sum_k (a_k - y_k)^2
#   cross_entropy  sigmoid output: -sum_k y_k log(a_k) + (1 - y_k) log(1 - a_k)
#                  softmax output: -sum_k y_k log(a_k)
LOSSES = {
    "mse": core.LOSS_MSE,
    "cross_entropy": core.LOSS_CROSS_ENTROPY,
}

# The (output, loss) pairs a network may train with.
PAIRS = {
    ("sigmoid", "mse"),            # the post's
    ("sigmoid", "cross_entropy"),  # binary or multi-label classification
    ("softmax", "cross_entropy"),  # classes
    ("identity", "mse"),           # regression
}

DEFAULT_LOSS = {"sigmoid": "mse", "softmax": "cross_entropy", "identity": "mse"}

# Initialisations (see nnpy.reference.init_params for the formulas), and the default per hidden
# activation: Glorot ("xavier") for sigmoid, tanh and identity, He for ReLU.
INITS = ("xavier", "he", "uniform01", "normal", "scaled_normal")
DEFAULT_INIT = {"sigmoid": "xavier", "tanh": "xavier", "identity": "xavier", "relu": "he"}

OPTIMIZERS = {"sgd": core.OPT_SGD, "adam": core.OPT_ADAM}


def check_pair(output: str, loss: str) -> None:
    """ValueError unless the output activation trains with this loss."""
    if (output, loss) not in PAIRS:
        valid = sorted(l for o, l in PAIRS if o == output)
        raise ValueError(f"output={output!r} trains with loss "
                         f"{' or '.join(map(repr, valid))}; got {loss!r}")
