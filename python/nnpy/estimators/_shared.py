"""What the estimators' modules share: the names of scikit-learn's and nnpy's choices, the
optimiser's record, SolverDiverged, the checks of the input, and what the estimators' epoch
loop and the stacked fits both use (the batch size, each epoch's shuffled rows)."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional, TypeVar, Union, cast, overload

import numpy as np
import numpy.typing as npt
from sklearn.utils.validation import validate_data

from .. import _family, _losses
from .._sparse import is_sparse
from .._validation import as_sample_weight, check_sample_weight
from ..network import TrainingDiverged

if TYPE_CHECKING:
    from ..network import Activation, Loss, Output
    from ._base import _BaseMLP

# the estimators' name of a hidden activation (scikit-learn's, or nnpy's where scikit-learn has
# none) -> nnpy.Network's, from the table of activations
_HIDDEN: dict[str, Activation] = _family.ESTIMATOR_NAMES
# scikit-learn's out_activation_ -> nnpy.Network's (output, loss)
_OUTPUT: dict[str, tuple[Output, Loss]] = {
    "identity": ("identity", "mse"), "logistic": ("sigmoid", "cross_entropy"),
    "softmax": ("softmax", "cross_entropy"), "exp": ("exp", "poisson")}
# NNRegressor's loss (scikit-learn's names) -> nnpy.Network's, from the table of losses;
# scikit-learn's MLPRegressor has "squared_error" and "poisson" (_MLP_LOSSES), its SGDRegressor
# and HistGradientBoostingRegressor the others
_REGRESSION_LOSS: dict[str, Loss] = {
    row.sklearn: cast("Loss", row.name) for row in _losses.LOSSES.values()
    if row.sklearn is not None}
_SKLEARN_LOSS: dict[str, str] = {nnpy: sklearn for sklearn, nnpy in _REGRESSION_LOSS.items()}
_MLP_LOSSES: tuple[str, ...] = tuple(
    row.sklearn for row in _losses.LOSSES.values() if row.sklearn is not None and row.sklearn_mlp)
# NNRegressor's loss -> its output activation (nnpy's name), and the (output, loss) pairs of a
# regressor's network, in the table's order
_REGRESSION_OUTPUT: dict[str, Output] = {
    row.sklearn: cast("Output", row.regressor_output) for row in _losses.LOSSES.values()
    if row.sklearn is not None}
_REGRESSION_PAIRS: tuple[tuple[str, str], ...] = tuple(
    (output, _REGRESSION_LOSS[loss]) for loss, output in _REGRESSION_OUTPUT.items())
# nnpy.Network's name of a hidden activation -> the estimators'
_ESTIMATOR_HIDDEN: dict[str, str] = {nnpy: ours for ours, nnpy in _HIDDEN.items()}


def _check_sklearn_activation(activation: str) -> None:
    """ValueError unless scikit-learn's MLP has this (estimator's) hidden activation."""
    if activation not in _family.SKLEARN_NAMES:
        raise ValueError(f"scikit-learn's MLP has no activation={activation!r} (it has "
                         f"{', '.join(map(repr, sorted(_family.SKLEARN_NAMES)))}): this "
                         f"estimator cannot become one")


# the fitted attributes that record training, copied as they are by to_sklearn/from_sklearn
_TRAINING_RECORDS = ("n_iter_", "t_", "loss_", "best_loss_", "loss_curve_",
                     "validation_scores_", "best_validation_score_")
_STOCHASTIC_SOLVERS = ("sgd", "adam")
_Method = TypeVar("_Method", bound=Callable[..., Any])
# The constructors' closed sets of string options (scikit-learn's MLP's), for type checkers.
HiddenActivation = str  # a key of _HIDDEN: scikit-learn's name, or nnpy's
Solver = Literal["lbfgs", "sgd", "adam"]
# the rows' scikit-learn names (_REGRESSION_LOSS), spelled out (tests/test_losses.py checks)
RegressionLoss = Literal["squared_error", "absolute_error", "huber", "poisson"]
LearningRateSchedule = Literal["constant", "invscaling", "adaptive"]
# what check_random_state takes: a seed, a RandomState, or None for numpy's global one
RandomState = Union[int, np.random.RandomState, None]


class _Optimizer:
    """The estimator's record of its optimiser (_fit_stochastic); `learning_rate` is where
    scikit-learn's optimiser objects keep it (code written for MLP's `_optimizer` reads it)."""

    def __init__(self, settings: tuple[Any, ...], learning_rate: float) -> None:
        self.settings = settings            # solver, momentum, nesterovs, beta_1, beta_2, eps
        self.learning_rate = learning_rate  # the current one (invscaling, adaptive change it)


_DIVERGED = ("Solver produced non-finite parameter weights. The input data may contain large "
             "values and need to be preprocessed.")  # scikit-learn's message


class SolverDiverged(TrainingDiverged, ValueError):
    """A step of fit or partial_fit would have made a weight infinite or NaN: scikit-learn's
    ValueError (with its message) and an nnpy.TrainingDiverged. The estimator keeps the
    weights of the last finite step."""


def _typed(decorator: Callable[[Any], Any]) -> Callable[[_Method], _Method]:
    """`decorator` itself, typed as keeping the decorated method's signature: scikit-learn
    ships no type information, so a type checker would otherwise see its decorated methods
    (fit, partial_fit) as untyped."""
    return cast(Callable[[_Method], _Method], decorator)


@overload
def _validate(estimator: _BaseMLP, X: npt.ArrayLike, **kwargs: Any) -> np.ndarray: ...
@overload
def _validate(estimator: _BaseMLP, X: npt.ArrayLike, y: npt.ArrayLike,
              **kwargs: Any) -> tuple[np.ndarray, np.ndarray]: ...
def _validate(estimator: _BaseMLP, X: npt.ArrayLike, y: Union[npt.ArrayLike, str] = "no_validation",
              **kwargs: Any) -> Union[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """validate_data, plus what it lets through: datetime/timedelta arrays (which it would
    turn into numbers) are a TypeError, integers too large for a float a ValueError. Sparse X
    is kept sparse as scikit-learn's MLP keeps it (CSR or CSC; other formats become CSR)."""
    kwargs.setdefault("accept_sparse", ["csr", "csc"])
    for name, value in (("X", X), ("y", y)):
        dtype = getattr(value, "dtype", None)
        kind = getattr(dtype, "kind", None)
        if kind is not None and kind in "mM":
            raise TypeError(f"{name} must hold real numbers, got dtype {dtype}")
    try:
        return validate_data(estimator, X, y, **kwargs)
    except OverflowError as err:
        raise ValueError(f"the input holds a number too large for a float: {err}") from None


def _check_sample_weight(sample_weight: Optional[npt.ArrayLike],
                         n_samples: int) -> Optional[np.ndarray]:
    """None, or the weights as scikit-learn's _check_sample_weight reads them (a scalar is one
    weight for every sample) in float64, refused unless a weighted mean is defined (finite,
    non-negative, not all zero). Kept at the scale given: the network's fit and objective
    scale them (and alpha with them) so that any scale the float64 range holds works."""
    if sample_weight is None:
        return None
    return check_sample_weight(sample_weight, n_samples)


def _scale_free(sample_weight: Optional[npt.ArrayLike]) -> Optional[npt.ArrayLike]:
    """1-D weights scaled by a power of two into [1, 2) at their largest (exact), for
    scikit-learn's metrics, whose weighted means overflow or underflow with weights near the
    float range's ends; anything else as it came, for scikit-learn to judge."""
    if sample_weight is None or np.ndim(sample_weight) != 1:
        return sample_weight
    try:
        return as_sample_weight(sample_weight, len(sample_weight))[0]  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return sample_weight


def _batch_size(batch_size: Any, n_samples: int) -> int:
    """scikit-learn's MLP batch size: "auto" is min(200, n_samples); a number is clipped to
    [1, n_samples], with its warning when it is larger."""
    if batch_size == "auto":
        return min(200, n_samples)
    if batch_size > n_samples:
        warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                      "going to be clipped")
    return int(np.clip(batch_size, 1, n_samples))


class _EpochRows:
    """Each epoch's rows, in the order the estimators train them: with shuffling, scikit-learn's
    (sklearn.utils.shuffle(order, random_state=rs): the previous epoch's order permuted by rs's
    draws), gathered into buffers kept across epochs (sparse X: a new CSR matrix each epoch);
    without, the rows as given. Shared by the estimators' loop and the stacked fits."""

    def __init__(self, X: Any, Y: np.ndarray, sample_weight: Optional[np.ndarray],
                 shuffle: bool) -> None:
        self._sparse = is_sparse(X)
        self._X = X.tocsr() if self._sparse else X
        self._Y, self._sw = Y, sample_weight
        self.order = np.arange(Y.shape[0], dtype=np.intp)   # the rows of the current epoch
        if shuffle:
            self.X: Any = None if self._sparse else np.empty_like(self._X)
            self.Y = np.empty_like(Y)
            self.sample_weight = None if sample_weight is None else np.empty_like(sample_weight)
        else:
            self.X, self.Y, self.sample_weight = self._X, Y, sample_weight

    def shuffle(self, rs: np.random.RandomState) -> None:
        """The next epoch's order, and its rows in X, Y and sample_weight."""
        permutation = np.arange(len(self.order))
        rs.shuffle(permutation)
        self.order = self.order[permutation]
        if self._sparse:
            self.X = self._X[self.order]
        else:
            np.take(self._X, self.order, axis=0, out=self.X)
        np.take(self._Y, self.order, axis=0, out=self.Y)
        if self._sw is not None:
            np.take(self._sw, self.order, out=self.sample_weight)
