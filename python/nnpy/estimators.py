"""scikit-learn's multi-layer perceptrons on nnpy's compiled core: NNClassifier and NNRegressor.

    from nnpy.estimators import NNClassifier
    clf = NNClassifier(hidden_layer_sizes=(100,), random_state=0).fit(X, y)
    clf.predict(X), clf.predict_proba(X), clf.score(X, y), clf.coefs_, clf.loss_curve_

They take every parameter of scikit-learn's MLPClassifier / MLPRegressor, with the same
meaning, default and checks (see scikit-learn's documentation of those classes), and set the
same fitted attributes (one difference in use: `make_pipeline` names the step after the class,
`nnclassifier` / `nnregressor` where it was `mlpclassifier` / `mlpregressor`, so a parameter
grid written for scikit-learn's, `{"mlpclassifier__alpha": ...}`, needs its keys renamed, or
name the step yourself: `Pipeline([("mlpclassifier", NNClassifier())])`); the network itself is an nnpy.Network (`network_`) trained by nnpy's
compiled core. With the same `random_state` they draw the same initial weights, the same
early-stopping split and the same order of samples in every epoch as scikit-learn does, so the
two follow the same path (to rounding, which chaotic training amplifies over many epochs).

    hidden_layer_sizes, activation ("identity", "logistic", "tanh", "relu", and nnpy's others
    by nnpy's names: to_sklearn refuses those),
    solver ("lbfgs", "sgd", "adam"), alpha (L2 penalty, 0.5 * alpha * sum(W**2) divided by the
    batch's sample count or weight sum), batch_size ("auto" = min(200, n_samples)),
    learning_rate ("constant", "invscaling", "adaptive"; sgd only), learning_rate_init,
    power_t, max_iter (epochs, or lbfgs iterations), shuffle, random_state, tol, verbose,
    warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction,
    beta_1, beta_2, epsilon, n_iter_no_change, max_fun (lbfgs)
    NNRegressor also has scikit-learn's first parameter `loss` ("squared_error" only: nnpy has
    no exponential output for "poisson").
    dtype  nnpy's own: None (default: follow X, as scikit-learn does: float32 X gives float32
           coefs_, intercepts_ and predictions, anything else float64; warm starts and
           partial_fit keep the fitted network's), np.float64 or np.float32.
    class_weight  NNClassifier only, nnpy's own: None (default), "balanced" or a dict
           {label: weight}, the meaning it has in scikit-learn's other classifiers
           (compute_class_weight): each sample's weight is multiplied by its class's. Not
           for multi-label y; "balanced" not in partial_fit (it needs all of y).

Beyond scikit-learn's MLP, opt-in (its defaults unchanged):

    clf = NNClassifier(early_stopping=True, class_weight="balanced", random_state=0)
    clf.fit(X, y, X_val=X_val, y_val=y_val)     # your own validation set, no split
    clf.validation_scores_, clf.validation_loss_curve_

fit(X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None): X_val, y_val
as HistGradientBoostingClassifier.fit takes them: with early_stopping=True early stopping
scores them instead of a validation_fraction split (ValueError without early_stopping);
validation_loss_curve_ holds the loss on the validation set after each epoch (with
early_stopping, also with the split; None otherwise).

fit(X, y, sample_weight=None); partial_fit(X, y, sample_weight=None[, classes]) (sgd and adam:
one epoch, the optimiser's state kept from call to call); predict, predict_proba,
predict_log_proba, score.

Fitted attributes (as scikit-learn's): coefs_ and intercepts_ (coefs_[i] is (n_in, n_out);
read-only views of network_'s weights: assign clf.coefs_ = [...] to change them), loss_,
best_loss_, loss_curve_, validation_scores_, best_validation_score_ (sgd/adam; validation
scores are the accuracy or R^2 on the held-out fraction), t_, n_iter_, n_layers_, n_outputs_,
out_activation_, classes_, n_features_in_, feature_names_in_; network_ is the model.

The classifier: softmax output for several classes, one logistic unit for two (as
scikit-learn, so coefs_ have its shapes), logistic units with binary cross-entropy for
multi-label y (a 2-D indicator matrix). The regressor: identity output, squared error, no
scaling of the targets.

Where nnpy differs from scikit-learn, in detail:
- Adam: nnpy's is torch.optim.Adam's formula, w -= lr * m_hat / (sqrt(v_hat) + epsilon) with
  bias-corrected m_hat, v_hat; scikit-learn adds epsilon before the bias correction,
  w -= lr_t * m / (sqrt(v) + epsilon) with lr_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t),
  which is the same step with epsilon scaled by sqrt(1 - beta_2**t). Steps differ only where
  sqrt(v_hat) is within a few orders of magnitude of epsilon (1e-8 by default).
- lbfgs runs scipy's L-BFGS-B on the exact loss and gradient, with the parameters in nnpy's
  order (W_0, b_0, W_1, ...) instead of scikit-learn's (all weights, then all intercepts):
  L-BFGS does not depend on that order, so its iterates are those of L-BFGS-B on the exact
  objective, to rounding. scikit-learn's are too while its outputs stay clear of 0 and 1;
  where they saturate, the clipping below changes the function its line search sees, and
  the classifiers' iterates part (unscaled inputs of scale 100: 0.36 apart after one
  iteration). Regression agrees for one output (several: see below).
- log-loss values are exact; scikit-learn clips probabilities to [eps, 1 - eps] first, which
  caps one sample's loss at about 36 (float64) and flattens it where outputs saturate.
- A step that would make a weight infinite or NaN stops training with scikit-learn's
  ValueError ("Solver produced non-finite parameter weights"), raised at that step instead of
  after the remaining epochs; it is a SolverDiverged, also an nnpy.TrainingDiverged. With
  early_stopping, as with scikit-learn, no error: training stops there (scikit-learn goes on
  with NaN weights until n_iter_no_change), the epoch's loss and validation score are NaN,
  a ConvergenceWarning says so, and the best validation score's weights are kept.
- Ctrl-C (KeyboardInterrupt) during sgd/adam training propagates; scikit-learn turns it into
  a warning and returns. Either way the estimator is left fitted as far as it got (the
  completed steps; with early_stopping, the best weights so far).
- Several regression outputs: loss_ and loss_curve_ are 0.5 * the sum over outputs of the
  squared errors (the function whose gradient both libraries follow); scikit-learn reports
  the mean over outputs, and its lbfgs line search sees that mean with the gradient of the
  sum, so its lbfgs iterates differ there. tol applies to nnpy's value.
- coefs_ / intercepts_ are read-only: in-place edits raise ValueError instead of being lost.
- Sparse X is not accepted (nnpy's core is dense): convert with X.toarray().
- partial_fit is absent with solver="lbfgs" for both estimators (scikit-learn's regressor
  offers it and then runs lbfgs; its documentation and its classifier say stochastic only).

To and from scikit-learn's own MLP, and from an nnpy.Network:

    mlp = clf.to_sklearn()                  # a fitted MLPClassifier: same weights, predictions
    clf = NNClassifier.from_sklearn(mlp)    # and back (NNRegressor: MLPRegressor)
    clf = NNClassifier.from_network(net, classes=["a", "b", "c"])   # a fitted estimator

scikit-learn is imported by this module only (pip install "nnpy-net[sklearn]").
"""
from __future__ import annotations

import copy
import warnings
from numbers import Integral, Real
from typing import (TYPE_CHECKING, Any, Callable, Literal, Mapping, Optional, Sequence, Type,
                    TypeVar, Union, cast, overload)

import numpy as np
import numpy.typing as npt

try:
    from sklearn.base import (BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context,
                              is_classifier)
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils._param_validation import Interval, Options, StrOptions
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import check_classification_targets, unique_labels
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError('nnpy.estimators needs scikit-learn >= 1.6: pip install "nnpy-net[sklearn]"'
                      f" ({err})") from None

from . import _family
from ._validation import as_array, as_dtype, as_sample_weight, check_sample_weight
from .network import History, Network, TrainingDiverged, _overflow_error

if TYPE_CHECKING:
    from .network import Activation, Loss, Output

__all__ = ["NNClassifier", "NNRegressor", "SolverDiverged"]

# the estimators' name of a hidden activation (scikit-learn's, or nnpy's where scikit-learn has
# none) -> nnpy.Network's, from the table of activations
_HIDDEN = cast("dict[str, Activation]", _family.ESTIMATOR_NAMES)
# scikit-learn's out_activation_ -> nnpy.Network's (output, loss)
_OUTPUT: dict[str, tuple[Output, Loss]] = {
    "identity": ("identity", "mse"), "logistic": ("sigmoid", "cross_entropy"),
    "softmax": ("softmax", "cross_entropy")}
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
_Estimator = TypeVar("_Estimator", bound="_BaseMLP")  # NNClassifier or NNRegressor
_Classifier = TypeVar("_Classifier", bound="NNClassifier")
_Regressor = TypeVar("_Regressor", bound="NNRegressor")
_Method = TypeVar("_Method", bound=Callable[..., Any])
# The constructors' closed sets of string options (scikit-learn's MLP's), for type checkers.
HiddenActivation = str  # a key of _HIDDEN: scikit-learn's name, or nnpy's
Solver = Literal["lbfgs", "sgd", "adam"]
LearningRateSchedule = Literal["constant", "invscaling", "adaptive"]
# what check_random_state takes: a seed, a RandomState, or None for numpy's global one
RandomState = Union[int, np.random.RandomState, None]
_MIN_ADAPTIVE_LR = 1e-6  # "adaptive" stops instead of dividing a learning rate at or below this


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
    turn into numbers) are a TypeError, integers too large for a float a ValueError."""
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


def _sklearn_layers(mlp: BaseEstimator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(weights, biases) of a fitted scikit-learn MLP in nnpy.Network's layout, after checking
    that its coefs_ and intercepts_ are what its fit makes: dense float32 or float64 arrays
    of one dtype whose shapes chain (n_in, n_1), (n_1, n_2), ..."""
    coefs, intercepts = mlp.coefs_, mlp.intercepts_
    n = getattr(mlp, "n_layers_", None)
    if not isinstance(coefs, list) or not isinstance(intercepts, list) or \
            len(coefs) != len(intercepts) or not coefs or (n is not None and len(coefs) != n - 1):
        raise ValueError(f"the MLP's coefs_ and intercepts_ must be lists of n_layers_ - 1 = "
                         f"{n and n - 1} arrays, as its fit makes them")
    dtype = getattr(coefs[0], "dtype", None)
    for i, (coef, intercept) in enumerate(zip(coefs, intercepts)):
        for name, array, ndim in (("coefs_", coef, 2), ("intercepts_", intercept, 1)):
            if not isinstance(array, np.ndarray) or array.ndim != ndim or \
                    array.dtype not in (np.float32, np.float64) or array.dtype != dtype:
                raise ValueError(f"the MLP's {name}[{i}] must be a dense {ndim}-D float32 or "
                                 f"float64 array of the same dtype as coefs_[0], got "
                                 f"{type(array).__name__} {getattr(array, 'dtype', '')} of "
                                 f"shape {getattr(array, 'shape', None)}")
        if intercept.shape != coef.shape[1:] or (i and coef.shape[0] != coefs[i - 1].shape[1]):
            raise ValueError(f"the MLP's coefs_[{i}] {coef.shape} and intercepts_[{i}] "
                             f"{intercept.shape} do not follow the layer before")
    return [coef.T for coef in coefs], list(intercepts)


class _BaseMLP(BaseEstimator):
    """What NNClassifier and NNRegressor share: scikit-learn's parameters and their checks,
    the network's set-up and both solvers' loops."""

    # scikit-learn's MLP constraints (checked by _fit_context, with its messages), plus dtype
    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_HIDDEN))],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "dtype": "no_validation",  # checked by as_dtype in fit
    }

    # fitted attributes set by fit (declared for type checkers; see the module docstring)
    network_: Network
    n_features_in_: int
    feature_names_in_: np.ndarray
    n_outputs_: int
    n_layers_: int
    out_activation_: str
    n_iter_: int
    t_: int
    loss_: float
    loss_curve_: list[float]                  # sgd and adam
    best_loss_: Optional[float]               # None with early_stopping
    validation_scores_: Optional[list[float]]  # with early_stopping, else None
    validation_loss_curve_: Optional[list[float]]  # with early_stopping, else None
    best_validation_score_: Optional[float]   # with early_stopping, else None
    _no_improvement_count: int
    _best_params: tuple[list[np.ndarray], list[np.ndarray]]
    _optimizer: _Optimizer

    if TYPE_CHECKING:  # what NNClassifier and NNRegressor each define
        def _validate_input(self, X: npt.ArrayLike, y: npt.ArrayLike, incremental: bool,
                            reset: bool, dtype: Any, validation: bool = False
                            ) -> tuple[np.ndarray, np.ndarray]: ...
        def _out_activation(self) -> str: ...
        @staticmethod
        def _sklearn_class() -> type[BaseEstimator]: ...
        @staticmethod
        def _binarizer_for(network: Network,
                           classes: Optional[npt.ArrayLike]) -> Optional[LabelBinarizer]: ...
        def _decode(self, out: np.ndarray) -> np.ndarray: ...
        def _targets_for_score(self, Y: np.ndarray) -> np.ndarray: ...
        # accuracy for NNClassifier, R^2 for NNRegressor (scikit-learn's, weights scaled)
        def score(self, X: npt.ArrayLike, y: npt.ArrayLike,
                  sample_weight: Optional[npt.ArrayLike] = None) -> float: ...

    def __init__(self, hidden_layer_sizes: Union[int, Sequence[int], np.ndarray] = (100,),
                 activation: HiddenActivation = "relu", *, solver: Solver = "adam",
                 alpha: float = 0.0001, batch_size: Union[int, Literal["auto"]] = "auto",
                 learning_rate: LearningRateSchedule = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state: RandomState = None, tol: float = 1e-4,
                 verbose: Union[bool, int] = False, warm_start: bool = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: float = 10,  # an int, or np.inf (never stop for it)
                 max_fun: int = 15000, dtype: Optional[npt.DTypeLike] = None) -> None:
        # scikit-learn's MLP defaults; NNClassifier uses this signature as it is
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype

    # ---- the network's parameters in scikit-learn's layout ------------------------------

    @property
    def coefs_(self) -> list[np.ndarray]:
        """[W_0, W_1, ...] with W_i shaped (n_in, n_out): views into ``network_``'s weights.
        Before any fit, what was assigned to it (see ``_adopt_assigned_weights``)."""
        if "network_" not in self.__dict__ and "_assigned_coefs" in self.__dict__:
            return self.__dict__["_assigned_coefs"]
        check_is_fitted(self, "network_")
        return [w.T for w in self.network_.weights]

    @coefs_.setter
    def coefs_(self, values: Sequence[npt.ArrayLike]) -> None:
        if "network_" not in self.__dict__:  # kept as given, as scikit-learn's attribute
            self.__dict__["_assigned_coefs"] = values if isinstance(values, list) else \
                list(values)
            return
        self.network_.weights = [np.asarray(v).T for v in values]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """[b_0, b_1, ...] with b_i shaped (n_out,): views into ``network_``'s biases. Before
        any fit, what was assigned to it."""
        if "network_" not in self.__dict__ and "_assigned_intercepts" in self.__dict__:
            return self.__dict__["_assigned_intercepts"]
        check_is_fitted(self, "network_")
        return list(self.network_.biases)

    @intercepts_.setter
    def intercepts_(self, values: Sequence[np.ndarray]) -> None:
        if "network_" not in self.__dict__:
            self.__dict__["_assigned_intercepts"] = values if isinstance(values, list) else \
                list(values)
            return
        self.network_.biases = list(values)

    # ---- an nnpy.Network or scikit-learn's MLP in, scikit-learn's MLP out -----------------

    @classmethod
    def from_network(cls: Type[_Estimator], network: Network,
                     classes: Optional[npt.ArrayLike] = None, *,
                     feature_names: Optional[npt.ArrayLike] = None,
                     **params: Any) -> _Estimator:
        """A fitted estimator whose model is `network` itself (not a copy: predict uses it,
        and further fitting with warm_start or partial_fit trains it), in the state of a
        first fit that has initialised its weights and taken no step yet: ``n_iter_`` and
        ``t_`` are 0 and ``loss_curve_`` is empty.

        Parameters
        ----------
        network : nnpy.Network
            A classifier needs a cross_entropy network: a softmax output over 3 or more
            classes, one sigmoid unit for 2, or several sigmoid units for multi-label targets;
            a regressor an identity output with mse.
        classes : array_like, optional
            The classifier's labels, in the order of the network's outputs, sorted and
            distinct as np.unique gives them (the default: 0, 1, ..., or [0, 1] for one
            sigmoid unit); for multi-label outputs, None or 0, 1, ..., n_outputs - 1
            (scikit-learn's ``classes_`` for an indicator matrix). A regressor takes None.
        feature_names : array_like of str, optional
            The names of the input columns (``feature_names_in_``).
        **params
            The estimator's parameters (as in the constructor). hidden_layer_sizes,
            activation and dtype default to the network's, and must agree with it if given.

        Returns
        -------
        NNClassifier or NNRegressor
            A fitted estimator of this class.
        """
        if not isinstance(network, Network):
            raise TypeError(f"network must be an nnpy.Network, got {type(network).__name__}")
        sizes = network.sizes
        defaults = {"hidden_layer_sizes": sizes[1:-1], "activation": _ESTIMATOR_HIDDEN[
            network.activation], "dtype": network.dtype.type}
        estimator = cls(**{**defaults, **params})
        estimator._validate_params()
        hidden = estimator.hidden_layer_sizes
        hidden = tuple(hidden) if hasattr(hidden, "__iter__") else (hidden,)
        for name, given, wanted in (("hidden_layer_sizes", hidden, defaults[
                "hidden_layer_sizes"]), ("activation", estimator.activation,
                defaults["activation"]), ("dtype", network.dtype if estimator.dtype is None else
                                as_dtype(estimator.dtype), network.dtype)):
            if given != wanted:
                raise ValueError(f"{name}={params[name]!r} disagrees with the network's "
                                 f"{wanted!r}; leave it out to take the network's")
        binarizer = estimator._binarizer_for(network, classes)
        estimator.network_ = network
        estimator.n_features_in_ = sizes[0]
        if feature_names is not None:
            names = np.asarray(feature_names, dtype=object)
            if names.shape != (sizes[0],) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"feature_names must be {sizes[0]} strings, one per input of "
                                 f"the network, got {feature_names!r}")
            estimator.feature_names_in_ = names
        if binarizer is not None:
            estimator._label_binarizer = binarizer
            estimator.classes_ = binarizer.classes_
        estimator.n_outputs_ = sizes[-1]
        estimator.n_layers_ = len(sizes)
        estimator.out_activation_ = estimator._out_activation()
        estimator.n_iter_ = 0
        estimator.t_ = 0
        if estimator.solver in _STOCHASTIC_SOLVERS:
            estimator._start_curves()
        return estimator

    @classmethod
    def from_sklearn(cls: Type[_Estimator], mlp: BaseEstimator) -> _Estimator:
        """A fitted nnpy estimator from a fitted scikit-learn MLPClassifier (for
        NNClassifier) or MLPRegressor (for NNRegressor): the same parameters, weights (in
        their dtype, float64 or float32), classes, feature names and training records
        (``n_iter_``, ``t_``, ``loss_``, ``loss_curve_``, ``best_loss_``, ``validation_scores_``,
        ``best_validation_score_``, as they are: for several regression outputs scikit-learn's
        losses are the mean over the outputs, nnpy's the sum). Not carried over: the
        optimiser's state (momentum velocities, Adam moments): continued training starts a
        fresh optimiser.

        Parameters
        ----------
        mlp : MLPClassifier or MLPRegressor
            A fitted scikit-learn MLP of this class's kind.

        Returns
        -------
        NNClassifier or NNRegressor
            A fitted estimator of this class.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            For an unfitted MLP (a ValueError).
        ValueError
            For what nnpy cannot represent (loss="poisson"; sparse or otherwise altered
            ``coefs_``), saying what.
        """
        kind = cls._sklearn_class()
        if not isinstance(mlp, kind):
            raise TypeError(f"{cls.__name__}.from_sklearn takes a fitted scikit-learn "
                            f"{kind.__name__}, got {type(mlp).__name__}")
        check_is_fitted(mlp, ("coefs_", "intercepts_", "out_activation_"))
        params = mlp.get_params()
        if params.get("loss", "squared_error") != "squared_error" or \
                mlp.out_activation_ not in _OUTPUT:
            raise ValueError(f"this {kind.__name__} has loss={params.get('loss')!r} and "
                             f"out_activation_={mlp.out_activation_!r}: nnpy has no "
                             "exponential output layer (poisson); only squared_error")
        weights, biases = _sklearn_layers(mlp)
        output, loss = _OUTPUT[mlp.out_activation_]
        network = Network([weights[0].shape[1], *(w.shape[0] for w in weights)],
                          activation=_HIDDEN[mlp.activation], output=output, loss=loss,
                          dtype=weights[0].dtype, seed=0)
        network.weights = weights
        network.biases = biases
        estimator = cls.from_network(network, getattr(mlp, "classes_", None),
                                     feature_names=getattr(mlp, "feature_names_in_", None),
                                     **params)
        for name in _TRAINING_RECORDS:
            if name in mlp.__dict__:
                setattr(estimator, name, copy.deepcopy(mlp.__dict__[name]))
        if estimator.solver in _STOCHASTIC_SOLVERS:
            # early stopping's best weights so far and the epochs without improvement
            estimator._no_improvement_count = int(getattr(mlp, "_no_improvement_count", 0))
            best_coefs = getattr(mlp, "_best_coefs", None) or []
            best_intercepts = getattr(mlp, "_best_intercepts", None) or []
            if [np.shape(c) for c in best_coefs] == [w.T.shape for w in weights] and \
                    [np.shape(b) for b in best_intercepts] == [b.shape for b in biases]:
                estimator._best_params = ([np.array(c, network.dtype).T for c in best_coefs],
                                          [np.array(b, network.dtype) for b in best_intercepts])
        return estimator

    def to_sklearn(self) -> BaseEstimator:
        """A fitted scikit-learn MLPClassifier (NNClassifier) or MLPRegressor (NNRegressor)
        with the same parameters (all but nnpy's dtype), weights (copies, in the network's
        dtype: scikit-learn keeps float32 weights after a fit on float32), predictions,
        classes, feature names and training records (as they are, see from_sklearn), and what
        scikit-learn's partial_fit and warm_start read (early stopping's best weights, the
        epochs without improvement), so it continues training. The optimiser's state is not
        carried over: its next partial_fit starts a fresh optimiser. The way to skops,
        skl2onnx and the rest of scikit-learn's tools; needs nothing beyond scikit-learn.

        Returns
        -------
        MLPClassifier or MLPRegressor
            A fitted scikit-learn MLP.
        """
        check_is_fitted(self, "network_")
        _check_sklearn_activation(self.activation)
        params = self.get_params()
        params.pop("dtype")
        params.pop("class_weight", None)  # nnpy's: scikit-learn's MLP has none
        mlp = self._sklearn_class()(**params)
        net = self.network_
        mlp.coefs_ = [np.array(w.T, order="C") for w in net.weights]
        mlp.intercepts_ = [np.array(b) for b in net.biases]
        mlp.n_features_in_ = self.n_features_in_
        if hasattr(self, "feature_names_in_"):
            mlp.feature_names_in_ = self.feature_names_in_.copy()
        mlp.n_outputs_ = self.n_outputs_
        mlp.n_layers_ = self.n_layers_
        mlp.out_activation_ = self.out_activation_
        if is_classifier(self):
            mlp._label_binarizer = copy.deepcopy(self._label_binarizer)
            mlp.classes_ = mlp._label_binarizer.classes_
        for name in _TRAINING_RECORDS:
            if name in self.__dict__:
                setattr(mlp, name, copy.deepcopy(self.__dict__[name]))
        # early stopping's best weights (every first fit of scikit-learn's sets them) and
        # the epochs without improvement: stochastic training's state (see _start_curves)
        stochastic = "loss_curve_" in self.__dict__
        best_weights, best_biases = self._best_params if stochastic else (net.weights,
                                                                           net.biases)
        mlp._best_coefs = [np.array(w.T, order="C") for w in best_weights]
        mlp._best_intercepts = [np.array(b) for b in best_biases]
        if stochastic:
            mlp._no_improvement_count = self._no_improvement_count
        return mlp

    # ---- fit ----------------------------------------------------------------------------

    def _fit(self: _Estimator, X: npt.ArrayLike, y: npt.ArrayLike,
             sample_weight: Optional[npt.ArrayLike] = None,
             incremental: bool = False, X_val: Optional[npt.ArrayLike] = None,
             y_val: Optional[npt.ArrayLike] = None,
             sample_weight_val: Optional[npt.ArrayLike] = None) -> _Estimator:
        hidden = self.hidden_layer_sizes
        hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
        for i, width in enumerate(hidden):
            if isinstance(width, (bool, np.bool_)) or not isinstance(width, Integral):
                raise TypeError(f"hidden_layer_sizes[{i}] must be an integer layer width, got "
                                f"{width!r}")
        if np.any(np.array(hidden) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        hidden = [int(width) for width in hidden]
        loss = getattr(self, "loss", "squared_error")
        if loss != "squared_error":
            raise ValueError(f"loss={loss!r} is not available in nnpy (it has no exponential "
                             "output layer); use loss='squared_error'")
        assigned = "network_" not in self.__dict__ and "_assigned_coefs" in self.__dict__ \
            and "_assigned_intercepts" in self.__dict__ and (self.warm_start or incremental)
        first_pass = not (hasattr(self, "network_") or assigned) or \
            (not self.warm_start and not incremental)
        dtype: Any  # a dtype, or the choice validate_data takes
        if self.dtype is not None:
            dtype = as_dtype(self.dtype)
        elif first_pass:  # follow X: float32 stays float32, anything else becomes float64
            dtype = (np.float64, np.float32)
        elif assigned:  # weights assigned before any fit: theirs
            dtype = np.asarray(self.__dict__["_assigned_coefs"][0]).dtype
            dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
        else:  # warm_start, partial_fit: the fitted network's
            dtype = self.network_.dtype
        X, Y = self._validate_input(X, y, incremental, reset=first_pass, dtype=dtype)
        dtype = X.dtype
        sample_weight = _check_sample_weight(sample_weight, len(X))
        sample_weight = self._class_weighted(Y, sample_weight, incremental)
        validation = self._own_validation(X_val, y_val, sample_weight_val, dtype, Y.shape[1])
        layer_units = [X.shape[1], *hidden, Y.shape[1]]

        rs = check_random_state(self.random_state)
        if assigned:
            self._adopt_assigned_weights(layer_units, dtype)
        if first_pass:
            self._initialize(Y, layer_units, rs, dtype)
        else:
            self._keep_network(layer_units, dtype)
        try:
            if self.solver in _STOCHASTIC_SOLVERS:
                self._fit_stochastic(X, Y, sample_weight, rs, incremental, validation)
            else:
                self._fit_lbfgs(X, Y, sample_weight)
        except TrainingDiverged as err:
            raise SolverDiverged(f"{_DIVERGED} ({err})") from None
        return self

    def _adopt_assigned_weights(self, layer_units: list[int], dtype: np.dtype[Any]) -> None:
        """partial_fit or a warm start of an estimator never fitted whose coefs_ and
        intercepts_ were assigned (scikit-learn's MLP allows it): a network with those
        weights, continued from there."""
        coefs = [np.asarray(c, dtype) for c in self.__dict__["_assigned_coefs"]]
        intercepts = [np.asarray(b, dtype).reshape(-1) for b in
                      self.__dict__["_assigned_intercepts"]]
        shapes = list(zip(layer_units[:-1], layer_units[1:]))
        if [c.shape for c in coefs] != shapes or [b.shape for b in intercepts] != \
                [(n_out,) for _, n_out in shapes]:
            raise ValueError(f"the assigned coefs_ {[c.shape for c in coefs]} and intercepts_ "
                             f"{[b.shape for b in intercepts]} do not fit layers {layer_units} "
                             "(X's features, hidden_layer_sizes, y's outputs)")
        self.n_outputs_ = layer_units[-1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        self.__dict__.setdefault("n_iter_", 0)
        self.__dict__.setdefault("t_", 0)
        self.network_ = self._new_network(layer_units, dtype)
        self.network_.weights = [c.T for c in coefs]
        self.network_.biases = intercepts
        del self.__dict__["_assigned_coefs"], self.__dict__["_assigned_intercepts"]
        if self.solver in _STOCHASTIC_SOLVERS:  # the records not assigned start empty
            assigned = {name: value for name, value in self.__dict__.items()
                        if name in _TRAINING_RECORDS + ("validation_loss_curve_",
                                                        "_no_improvement_count")}
            self._start_curves()
            self.__dict__.update(assigned)

    def _class_weighted(self, Y: np.ndarray, sample_weight: Optional[np.ndarray],
                        incremental: bool) -> Optional[np.ndarray]:
        """sample_weight with class_weight multiplied in (NNClassifier; see there)."""
        return sample_weight

    def _own_validation(self, X_val: Optional[npt.ArrayLike], y_val: Optional[npt.ArrayLike],
                        sample_weight_val: Optional[npt.ArrayLike], dtype: np.dtype[Any],
                        n_outputs: int
                        ) -> Optional[tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]]:
        """(X_val, Y_val, sample_weight_val) checked as fit's X, y, sample_weight, or None
        when fit was given no validation set; ValueError unless early stopping would use it
        (HistGradientBoosting's rule)."""
        if X_val is None and y_val is None:
            if sample_weight_val is not None:
                raise ValueError("sample_weight_val is given without X_val and y_val")
            return None
        if y_val is None:
            raise ValueError("X_val is provided, but y_val was not provided.")
        if X_val is None:
            raise ValueError("y_val is provided, but X_val was not provided.")
        if not self.early_stopping or self.solver not in _STOCHASTIC_SOLVERS:
            raise ValueError("X_val and y_val are for early stopping: they need "
                             "early_stopping=True and solver 'sgd' or 'adam' (got "
                             f"early_stopping={self.early_stopping}, "
                             f"solver={self.solver!r})")
        try:
            Xv, Yv = self._validate_input(X_val, y_val, incremental=True, reset=False,
                                          dtype=dtype, validation=True)
            if Yv.shape[1] != n_outputs:
                raise ValueError(f"y_val has {Yv.shape[1]} output column(s); y has {n_outputs}")
            return Xv, Yv, _check_sample_weight(sample_weight_val, len(Xv))
        except ValueError as err:  # scikit-learn's checks name X, y and sample_weight
            raise ValueError(f"X_val, y_val, sample_weight_val: {err}") from None

    def _new_network(self, layer_units: list[int], dtype: np.dtype[Any]) -> Network:
        output, loss = _OUTPUT[self.out_activation_]
        return Network(layer_units, activation=_HIDDEN[self.activation], output=output,
                       loss=loss, dtype=dtype, seed=0)

    def _initialize(self, Y: np.ndarray, layer_units: list[int], rs: np.random.RandomState,
                    dtype: np.dtype[Any]) -> None:
        """A new network with scikit-learn's initial weights (Glorot uniform, drawn from `rs`
        in its order) and the attributes of a first fit."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        self.network_ = self._new_network(layer_units, dtype)
        factor = 2.0 if self.activation == "logistic" else 6.0
        weights, biases = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            weights.append(rs.uniform(-bound, bound, (fan_in, fan_out)).T)
            biases.append(rs.uniform(-bound, bound, fan_out))
        self.network_.weights = weights
        self.network_.biases = biases
        for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_",
                     "validation_loss_curve_", "loss_", "_optimizer"):
            self.__dict__.pop(name, None)
        if self.solver in _STOCHASTIC_SOLVERS:
            self._start_curves()

    def _start_curves(self) -> None:
        """The records of stochastic training, empty (scikit-learn keeps them across warm
        starts and partial_fit calls)."""
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self._best_params = self._params_copy()
        if self.early_stopping:
            self.validation_scores_ = []
            self.validation_loss_curve_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.validation_loss_curve_ = None
            self.best_validation_score_ = None

    def _keep_network(self, layer_units: list[int], dtype: np.dtype[Any]) -> None:
        """warm_start / partial_fit: continue from network_'s weights; a changed activation or
        dtype takes effect on the same weights, as scikit-learn's."""
        net = self.network_
        if list(net.sizes) != layer_units:
            raise ValueError(f"warm_start and partial_fit continue the fitted network of layer "
                             f"sizes {list(net.sizes)}, but X, y and hidden_layer_sizes ask for "
                             f"{layer_units}; fit with warm_start=False for a new network")
        if net.activation != _HIDDEN[self.activation] or net.dtype != dtype:
            fresh = self._new_network(layer_units, dtype)
            fresh.weights = net.weights
            fresh.biases = net.biases
            self.network_ = fresh
            self.__dict__.pop("_optimizer", None)
        if self.solver in _STOCHASTIC_SOLVERS and not hasattr(self, "loss_curve_"):
            self._start_curves()  # an lbfgs fit before: nothing recorded yet

    def _params_copy(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return ([w.copy() for w in self.network_.weights],
                [b.copy() for b in self.network_.biases])

    # ---- sgd and adam -------------------------------------------------------------------

    def _fit_stochastic(self, X: np.ndarray, Y: np.ndarray, sample_weight: Optional[np.ndarray],
                        rs: np.random.RandomState, incremental: bool,
                        validation: Optional[tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]]
                        = None) -> None:
        net = self.network_
        settings = (self.solver, self.momentum, self.nesterovs_momentum, self.beta_1,
                    self.beta_2, self.epsilon)
        if not incremental or getattr(self, "_optimizer", None) is None or \
                self._optimizer.settings != settings:
            # a new optimiser, as scikit-learn makes at every fit: zero velocity and moments,
            # the initial learning rate
            net.reset_optimizer()
            self._optimizer = _Optimizer(settings, float(self.learning_rate_init))
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        X_val: Optional[np.ndarray]
        y_val: Optional[np.ndarray]
        Y_val: Optional[np.ndarray]
        sw_val: Optional[np.ndarray]
        if validation is not None:  # fit's X_val, y_val: early stopping on them, no split
            X_train, Y_train, sw_train = X, Y, sample_weight
            X_val, Y_val, sw_val = validation
            y_val = self._targets_for_score(Y_val)
        elif early_stopping:
            # the split of scikit-learn: stratified for a single output column only
            stratify = Y.astype(bool) if is_classifier(self) and self.n_outputs_ == 1 \
                else None
            arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
            split = train_test_split(*arrays, random_state=rs,
                                     test_size=self.validation_fraction, stratify=stratify)
            X_train, X_val, Y_train, Y_val = split[:4]
            sw_train, sw_val = split[4:] if sample_weight is not None else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            y_val = self._targets_for_score(Y_val)
        else:
            X_train, Y_train, sw_train = X, Y, sample_weight
            X_val = y_val = Y_val = sw_val = None

        n_samples = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))

        sample_idx = np.arange(n_samples, dtype=np.intp)
        if self.shuffle:  # buffers for each epoch's order of the samples
            X_epoch, Y_epoch = np.empty_like(X_train), np.empty_like(Y_train)
            sw_epoch = None if sw_train is None else np.empty_like(sw_train)
        else:
            X_epoch, Y_epoch, sw_epoch = X_train, Y_train, sw_train
        sgd = self.solver == "sgd"
        fit_settings = dict(batch_size=batch_size, shuffle=False, optimizer=self.solver,
                            momentum=float(self.momentum) if sgd else 0.0,
                            nesterov=bool(self.nesterovs_momentum) and sgd,
                            betas=(float(self.beta_1), float(self.beta_2)),
                            eps=float(self.epsilon), alpha=float(self.alpha))
        t_start = self.t_  # samples trained before this call (partial_fit, warm starts)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    # scikit-learn's order: sklearn.utils.shuffle(sample_idx, random_state=rs),
                    # the previous epoch's order permuted by the same draws
                    permutation = np.arange(n_samples)
                    rs.shuffle(permutation)
                    sample_idx = sample_idx[permutation]
                    np.take(X_train, sample_idx, axis=0, out=X_epoch)
                    np.take(Y_train, sample_idx, axis=0, out=Y_epoch)
                    if sw_train is not None:
                        np.take(sw_train, sample_idx, out=sw_epoch)
                try:
                    history = net.fit(X_epoch, Y_epoch, epochs=1, sample_weight=sw_epoch,
                                      lr=self._optimizer.learning_rate, **fit_settings)
                except (TrainingDiverged, ValueError) as error:
                    # net.fit refuses weights whose pre-activations overflow on X with a
                    # ValueError; each epoch is a fit of its own, so once this call has trained
                    # an epoch (t_ counts its samples) that is training's divergence, not X's
                    if isinstance(error, ValueError) and self.t_ == t_start:
                        # X itself overflows at the initial weights: net.fit named the row of
                        # its shuffled copy; name it in X
                        raise _overflow_error(net._model(), net.get_flat_params(),
                                              np.ascontiguousarray(X, net.dtype)) or error
                    err = error if isinstance(error, TrainingDiverged) else TrainingDiverged(
                        f"the weights training reached overflow on X: {error}")
                    if not early_stopping:
                        raise err from None
                    self._diverged(err)  # scikit-learn's outcome: the best weights, no error
                    break
                self.n_iter_ += 1
                self.loss_ = self._epoch_loss(history)
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                if early_stopping:
                    self._record_validation_loss(cast(np.ndarray, X_val),
                                                 cast(np.ndarray, Y_val), sw_val)
                self._update_no_improvement_count(early_stopping, X_val, y_val, sw_val)
                if sgd and self.learning_rate == "invscaling":
                    self._optimizer.learning_rate = \
                        float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score did not improve" if early_stopping else \
                        "Training loss did not improve"
                    msg = (f"{what} more than tol={self.tol:f} for {self.n_iter_no_change} "
                           f"consecutive epochs.")
                    if self._trigger_stopping(msg, sgd):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn("Stochastic Optimizer: Maximum iterations (max_iter="
                                  f"{self.max_iter}) reached and the optimization hasn't "
                                  "converged yet.", ConvergenceWarning)
        except KeyboardInterrupt:
            # scikit-learn warns and returns; here Ctrl-C propagates, the estimator fitted
            # as far as it got (the completed steps, or early stopping's best weights)
            self._end_stochastic(early_stopping)
            raise
        self._end_stochastic(early_stopping)

    def _record_validation_loss(self, X_val: np.ndarray, Y_val: np.ndarray,
                                sw_val: Optional[np.ndarray]) -> None:
        """Appends the epoch's loss on the validation set to validation_loss_curve_: the
        loss of loss_curve_ without alpha's penalty (log-loss, or squared error as nnpy
        reports it), weighted by the validation sample weights; NaN where it overflows."""
        curve = cast("list[float]", self.validation_loss_curve_)
        try:
            curve.append(float(self.network_.loss(X_val, Y_val, sample_weight=sw_val)))
        except ValueError:  # outputs that overflowed (Network says so)
            curve.append(np.nan)

    def _diverged(self, err: TrainingDiverged) -> None:
        """With early stopping, a step that would make a weight non-finite ends training as
        scikit-learn's MLP ends it (its weights go non-finite, its validation scores NaN, and
        it keeps the weights of the best score without an error): the epoch is counted, its
        loss and validation scores are NaN, a ConvergenceWarning says why training stopped,
        and the best weights are restored."""
        self.n_iter_ += 1
        self.loss_ = np.nan
        self.loss_curve_.append(np.nan)
        cast("list[float]", self.validation_scores_).append(np.nan)
        cast("list[float]", self.validation_loss_curve_).append(np.nan)
        warnings.warn(f"training diverged in epoch {self.n_iter_} ({err}); stopped with the "
                      "weights of the best validation score", ConvergenceWarning)

    def _end_stochastic(self, early_stopping: bool) -> None:
        if early_stopping:  # the weights of the best validation score
            self.network_.weights, self.network_.biases = self._best_params

    def _epoch_loss(self, history: History) -> float:
        """The epoch's training loss as scikit-learn reports it."""
        return float(history.loss[-1])

    def _trigger_stopping(self, msg: str, sgd: bool) -> bool:
        """True to stop; with sgd's "adaptive" schedule, divides the learning rate by 5
        instead until it is at most 1e-6."""
        if not (sgd and self.learning_rate == "adaptive"):
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if self._optimizer.learning_rate <= _MIN_ADAPTIVE_LR:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self._optimizer.learning_rate /= 5.0
        if self.verbose:
            print(msg + " Setting learning rate to %f" % self._optimizer.learning_rate)
        return False

    def _update_no_improvement_count(self, early_stopping: bool, X_val: Optional[np.ndarray],
                                     y_val: Optional[np.ndarray],
                                     sw_val: Optional[np.ndarray]) -> None:
        # casts: with early stopping, _start_curves made the validation records and the
        # split made X_val, y_val; without it, best_loss_ is a number
        if early_stopping:
            scores, best = cast("list[float]", self.validation_scores_), \
                cast(float, self.best_validation_score_)
            score = self._validation_score(cast(np.ndarray, X_val), cast(np.ndarray, y_val),
                                           sw_val)
            scores.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < best + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > best:
                self.best_validation_score_ = score
                self._best_params = self._params_copy()
        else:
            best_loss = cast(float, self.best_loss_)
            if self.loss_curve_[-1] > best_loss - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < best_loss:
                self.best_loss_ = self.loss_curve_[-1]

    def _validation_score(self, X: np.ndarray, y: np.ndarray,
                          sample_weight: Optional[np.ndarray]) -> float:
        """Accuracy (classifier) or R^2 (regressor) of the current weights on X, y; NaN if
        the outputs are not finite (as scikit-learn)."""
        try:
            out = self.network_.predict(X)
        except ValueError:  # X was checked: outputs that overflowed (Network.predict says so)
            return np.nan
        return float(self._score_function(y, self._decode(out),
                                          sample_weight=_scale_free(sample_weight)))

    # ---- lbfgs --------------------------------------------------------------------------

    def _fit_lbfgs(self, X: np.ndarray, Y: np.ndarray, sample_weight: Optional[np.ndarray]) -> None:
        import scipy.optimize
        net = self.network_
        iteration = [0]

        def report(intermediate_result: Any) -> None:  # a scipy.optimize.OptimizeResult
            iteration[0] += 1
            print("Iteration %d, loss = %.8f" % (iteration[0], intermediate_result.fun))

        objective = net.objective(X, Y, sample_weight=sample_weight, alpha=float(self.alpha))
        result = scipy.optimize.minimize(
            objective, net.get_flat_params().astype(np.float64), method="L-BFGS-B", jac=True,
            callback=report if self.verbose else None,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        self.n_iter_ = min(int(result.nit), self.max_iter)
        if result.status != 0:
            message = (f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                       f"(status={result.status}):\n{result.message}\n")
            if self.n_iter_ == self.max_iter:
                message += ("\nIncrease the number of iterations to improve the convergence "
                            f"(max_iter={self.max_iter}).")
            message += ("\nYou might also want to scale the data as shown in:\n"
                        "    https://scikit-learn.org/stable/modules/preprocessing.html")
            warnings.warn(message, ConvergenceWarning, stacklevel=4)
        if not np.isfinite(result.x).all():
            raise TrainingDiverged("L-BFGS-B ended on non-finite parameters")
        net.set_flat_params(result.x)
        self.loss_ = float(result.fun)

    # ---- predict ------------------------------------------------------------------------

    def _forward(self, X: npt.ArrayLike) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = _validate(self, X, reset=False, dtype=self.network_.dtype)
        return self.network_.predict(X)

    def _check_solver(self) -> bool:
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError("partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    def __sklearn_tags__(self) -> Any:  # sklearn.utils.Tags
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags


class NNClassifier(ClassifierMixin, _BaseMLP):
    """scikit-learn's MLPClassifier on nnpy's compiled core (see the module docstring).

    A softmax output for several classes, one logistic unit for two, logistic units for a
    multi-label indicator y; log-loss; solvers lbfgs, sgd, adam. Every parameter has
    scikit-learn's meaning and default.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int
        Widths of the hidden layers (default (100,)).
    activation : str
        Activation of the hidden layers: scikit-learn's "identity", "logistic", "tanh",
        "relu", or another of nnpy.network.ACTIVATIONS by its nnpy name (to_sklearn refuses
        an estimator with one of those).
    solver : {"lbfgs", "sgd", "adam"}
        lbfgs runs scipy's L-BFGS-B on the core's loss and gradient; sgd and adam train
        epoch by epoch in the core.
    alpha : float
        L2 penalty, 0.5 * alpha * sum(W**2) divided by the batch's sample count or weight sum.
    batch_size : int or "auto"
        Rows per step (sgd, adam); "auto" is min(200, n_samples).
    learning_rate : {"constant", "invscaling", "adaptive"}
        The step size's schedule (sgd only).
    learning_rate_init : float
        The initial step size (sgd, adam).
    power_t : float
        The exponent of "invscaling".
    max_iter : int
        Epochs (sgd, adam) or iterations (lbfgs) at most.
    shuffle : bool
        Shuffle the rows every epoch (sgd, adam).
    random_state : int, RandomState instance or None
        Initial weights, the early-stopping split and the sample order, drawn as
        scikit-learn draws them.
    tol : float
        The improvement below which `n_iter_no_change` epochs stop training.
    verbose : bool or int
        Print the loss of each epoch.
    warm_start : bool
        Continue from the weights of the previous fit.
    momentum : float
        SGD's momentum, in [0, 1].
    nesterovs_momentum : bool
        Nesterov's momentum (sgd).
    early_stopping : bool
        Hold out `validation_fraction` of the rows and stop when their score stops improving
        (sgd, adam).
    validation_fraction : float
        The fraction held out for early stopping.
    beta_1, beta_2, epsilon : float
        Adam's (nnpy's Adam is torch's formula, see the module docstring).
    n_iter_no_change : int or np.inf
        Epochs without an improvement of `tol` before training stops.
    max_fun : int
        Function evaluations at most (lbfgs).
    dtype : np.float64 or np.float32
        nnpy's own: the precision of the network.

    Attributes
    ----------
    classes_ : ndarray
        The labels.
    network_ : nnpy.Network
        The model.
    coefs_, intercepts_ : list of ndarray
        The weights in scikit-learn's layout (read-only views of `network_`'s).
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_, t_, n_iter_
        scikit-learn's training records.
    n_layers_, n_outputs_, out_activation_, n_features_in_, feature_names_in_
        scikit-learn's description of the fitted model.
    """

    classes_: np.ndarray  # the labels (set by fit / the first partial_fit)
    _score_function = staticmethod(accuracy_score)
    _parameter_constraints: dict = {**_BaseMLP._parameter_constraints,
                                    "class_weight": [dict, StrOptions({"balanced"}), None]}

    def __init__(self, hidden_layer_sizes: Union[int, Sequence[int], np.ndarray] = (100,),
                 activation: HiddenActivation = "relu", *, solver: Solver = "adam",
                 alpha: float = 0.0001, batch_size: Union[int, Literal["auto"]] = "auto",
                 learning_rate: LearningRateSchedule = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state: RandomState = None, tol: float = 1e-4,
                 verbose: Union[bool, int] = False, warm_start: bool = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: float = 10,  # an int, or np.inf (never stop for it)
                 max_fun: int = 15000, dtype: Optional[npt.DTypeLike] = None,
                 class_weight: Union[None, Literal["balanced"], Mapping[Any, float]] = None
                 ) -> None:
        self.class_weight = class_weight
        shared = dict(locals())  # every other parameter, passed on as it came
        for name in ("self", "class_weight", "__class__"):
            shared.pop(name, None)
        super().__init__(**shared)

    @_typed(_fit_context(prefer_skip_nested_validation=True))
    def fit(self: _Classifier, X: npt.ArrayLike, y: npt.ArrayLike,
            sample_weight: Optional[npt.ArrayLike] = None, *,
            X_val: Optional[npt.ArrayLike] = None, y_val: Optional[npt.ArrayLike] = None,
            sample_weight_val: Optional[npt.ArrayLike] = None) -> _Classifier:
        """Fits the model to X (n_samples, n_features) and the labels y (n_samples,), or a
        multi-label indicator matrix (n_samples, n_labels).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default None
            Weights each sample's loss and gradient (times its class's weight with
            class_weight).
        X_val, y_val : array-like, default None
            A validation set of your own for early stopping (as
            HistGradientBoostingClassifier.fit takes it): with early_stopping=True (sgd,
            adam) the validation score and loss are computed on it after each epoch, and
            training uses all of X, y (no validation_fraction split). Given without
            early_stopping=True: ValueError.
        sample_weight_val : array-like of shape (n_val,), default None
            Weights of the validation samples (class_weight is not applied to them).

        Returns
        -------
        self

        Raises
        ------
        SolverDiverged
            If a step would make a weight infinite or NaN (the weights of the last finite
            step are kept); with early_stopping=True the fit stops there instead, keeping the
            best weights, as scikit-learn's does.

        Notes
        -----
        The validation loss of each epoch is in ``validation_loss_curve_`` (also with the
        internal split), next to ``validation_scores_``.

        Examples
        --------
        >>> clf = NNClassifier(early_stopping=True, class_weight="balanced", random_state=0)
        >>> clf.fit(X_train, y_train, X_val=X_val, y_val=y_val)
        >>> clf.validation_scores_[-1], clf.validation_loss_curve_[-1]
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False, X_val=X_val,
                         y_val=y_val, sample_weight_val=sample_weight_val)

    def _class_weighted(self, Y: np.ndarray, sample_weight: Optional[np.ndarray],
                        incremental: bool) -> Optional[np.ndarray]:
        """sample_weight times each sample's class weight (class_weight: scikit-learn's
        compute_class_weight over classes_; "balanced" from the unweighted class counts of
        this y)."""
        if self.class_weight is None:
            return sample_weight
        if self._label_binarizer.y_type_ == "multilabel-indicator":
            raise ValueError("class_weight is for single-label y; this y is multi-label")
        if incremental and isinstance(self.class_weight, str):
            raise ValueError("class_weight='balanced' needs the whole of y: it is not "
                             "available in partial_fit; give a dict of class weights")
        from sklearn.utils.class_weight import compute_class_weight
        indices = Y[:, 0].astype(np.intp) if Y.shape[1] == 1 else Y.argmax(axis=1)
        y = self.classes_[indices]
        present = self.classes_ if not incremental else unique_labels(y)
        weights = np.ones(len(self.classes_))
        computed = compute_class_weight(self.class_weight, classes=present, y=y)
        weights[np.searchsorted(self.classes_, present)] = computed
        per_sample = weights[indices]
        return per_sample if sample_weight is None else sample_weight * per_sample

    def score(self, X: npt.ArrayLike, y: npt.ArrayLike,
              sample_weight: Optional[npt.ArrayLike] = None) -> float:
        """scikit-learn's mean accuracy on X, y, with sample_weight at any scale."""
        return float(super().score(X, y, sample_weight=_scale_free(sample_weight)))

    @_typed(available_if(lambda est: est._check_solver()))
    @_typed(_fit_context(prefer_skip_nested_validation=True))
    def partial_fit(self: _Classifier, X: npt.ArrayLike, y: npt.ArrayLike,
                    sample_weight: Optional[npt.ArrayLike] = None,
                    classes: Optional[npt.ArrayLike] = None) -> _Classifier:
        """One epoch over X, y from the current weights and optimiser state (sgd and adam).

        Parameters
        ----------
        X, y, sample_weight
            As in `fit`.
        classes : array_like, optional
            Every label that will ever appear: needed by the first call.

        Returns
        -------
        NNClassifier
            self.
        """
        if getattr(self, "classes_", None) is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None:
            if getattr(self, "classes_", None) is not None:
                if not np.array_equal(self.classes_, unique_labels(classes)):
                    raise ValueError(f"`classes={classes!r}` is not the same as on last call "
                                     f"to partial_fit, was: {self.classes_!r}")
            else:  # the first call
                self.classes_ = unique_labels(classes)
                self._label_binarizer = LabelBinarizer()
                multilabel = np.ndim(y) == 2 and np.shape(y)[1] > 1
                self._label_binarizer.fit(y if multilabel else classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _validate_input(self, X: npt.ArrayLike, y: npt.ArrayLike, incremental: bool, reset: bool,
                        dtype: Any, validation: bool = False) -> tuple[np.ndarray, np.ndarray]:
        X, y = _validate(self, X, y, multi_output=True, dtype=dtype, reset=reset)
        dtype = X.dtype  # (dtype may be a choice, as validate_data takes it)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if validation:  # fit's X_val, y_val: labels of the classes being fitted
            unknown = np.setdiff1d(unique_labels(y), self.classes_)
            if len(unknown):
                raise ValueError(f"y_val has classes not in y: {unknown.tolist()} (y's classes "
                                 f"are {self.classes_.tolist()})")
        elif not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same "
                                     "classes as in the previous call to fit. Previously got "
                                     f"{self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError("`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        Y = self._label_binarizer.transform(y).astype(dtype)
        return X, np.ascontiguousarray(Y)

    def _out_activation(self) -> Literal["softmax", "logistic"]:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    @staticmethod
    def _sklearn_class() -> type[BaseEstimator]:  # MLPClassifier
        from sklearn.neural_network import MLPClassifier
        return MLPClassifier

    @staticmethod
    def _binarizer_for(network: Network, classes: Optional[npt.ArrayLike]) -> LabelBinarizer:
        """The LabelBinarizer of a fit whose labels are `classes` on `network`'s outputs
        (see from_network)."""
        n_out = network.sizes[-1]
        if network.output not in ("sigmoid", "softmax") or network.loss_name != "cross_entropy":
            raise ValueError(f"a classifier's network has a softmax or sigmoid output with loss "
                             f"'cross_entropy'; this one has a {network.output} output with "
                             f"loss {network.loss_name!r} (make it with loss='cross_entropy')")
        if network.output == "sigmoid" and n_out > 1:  # multi-label: one unit per label
            if classes is not None and not np.array_equal(classes, np.arange(n_out)):
                raise ValueError(f"the network's {n_out} sigmoid outputs are multi-label, whose "
                                 f"classes are 0, ..., {n_out - 1} (an indicator matrix's "
                                 f"columns), got classes={classes!r}")
            return LabelBinarizer().fit(np.eye(n_out, dtype=int))
        if n_out == 2:
            raise ValueError("a softmax over 2 outputs: scikit-learn's classifier has one "
                             "sigmoid unit for 2 classes (Network(..., output='sigmoid', "
                             "loss='cross_entropy'))")
        n_classes = max(n_out, 2)
        classes = np.arange(n_classes) if classes is None else np.asarray(classes)
        if classes.shape != (n_classes,):
            raise ValueError(f"the network's {n_out} {network.output} output(s) need "
                             f"{n_classes} classes, got {classes.tolist()!r}")
        binarizer = LabelBinarizer().fit(classes)
        if not np.array_equal(binarizer.classes_, classes):
            raise ValueError(f"classes must be sorted and distinct, as np.unique gives them "
                             f"(the network's outputs follow that order), got "
                             f"{classes.tolist()!r}")
        return binarizer

    def _decode(self, out: np.ndarray) -> np.ndarray:
        """Labels from the network's outputs."""
        if self.n_outputs_ == 1:
            out = out.ravel()
        return self._label_binarizer.inverse_transform(out)

    def _targets_for_score(self, Y: np.ndarray) -> np.ndarray:
        return self._label_binarizer.inverse_transform(Y)

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """The predicted labels.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            The inputs.

        Returns
        -------
        ndarray
            The labels (n_samples,), or an indicator matrix for multi-label y.
        """
        return self._decode(self._forward(X))

    def predict_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """The probability of each class.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            The inputs.

        Returns
        -------
        ndarray, shape (n_samples, n_classes)
            Columns in the order of `classes_` (for multi-label y, each label's probability).
        """
        out = self._forward(X)
        if self.n_outputs_ == 1:
            out = out.ravel()
        if out.ndim == 1:
            return np.vstack([1 - out, out]).T
        return out

    def predict_log_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """The log of `predict_proba` (-inf where a probability is 0).

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            The inputs.

        Returns
        -------
        ndarray, shape (n_samples, n_classes)
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def __sklearn_tags__(self) -> Any:  # sklearn.utils.Tags
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class NNRegressor(RegressorMixin, _BaseMLP):
    """scikit-learn's MLPRegressor on nnpy's compiled core (see the module docstring).

    An identity output, squared error, the targets as given (1-D, or 2-D for several outputs).
    Every parameter has scikit-learn's meaning and default.

    Parameters
    ----------
    loss : {"squared_error"}
        scikit-learn's first parameter; nnpy has no exponential output for "poisson".
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate
        As in `NNClassifier`.
    learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start
        As in `NNClassifier`.
    momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2
        As in `NNClassifier`.
    epsilon, n_iter_no_change, max_fun, dtype
        As in `NNClassifier`.

    Attributes
    ----------
    network_ : nnpy.Network
        The model.
    coefs_, intercepts_ : list of ndarray
        The weights in scikit-learn's layout (read-only views of `network_`'s).
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_, t_, n_iter_
        scikit-learn's training records.
    n_layers_, n_outputs_, out_activation_, n_features_in_, feature_names_in_
        scikit-learn's description of the fitted model.
    """

    _parameter_constraints: dict = {**_BaseMLP._parameter_constraints,
                                    "loss": [StrOptions({"squared_error", "poisson"})]}

    def __init__(self, loss: Literal["squared_error"] = "squared_error",
                 hidden_layer_sizes: Union[int, Sequence[int], np.ndarray] = (100,),
                 activation: HiddenActivation = "relu", *, solver: Solver = "adam",
                 alpha: float = 0.0001, batch_size: Union[int, Literal["auto"]] = "auto",
                 learning_rate: LearningRateSchedule = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state: RandomState = None, tol: float = 1e-4,
                 verbose: Union[bool, int] = False, warm_start: bool = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: float = 10,  # an int, or np.inf (never stop for it)
                 max_fun: int = 15000, dtype: Optional[npt.DTypeLike] = None) -> None:
        self.loss = loss
        shared = dict(locals())  # every other parameter, passed on as it came
        for name in ("self", "loss", "__class__"):
            shared.pop(name, None)
        super().__init__(**shared)

    _score_function = staticmethod(r2_score)

    @_typed(_fit_context(prefer_skip_nested_validation=True))
    def fit(self: _Regressor, X: npt.ArrayLike, y: npt.ArrayLike,
            sample_weight: Optional[npt.ArrayLike] = None, *,
            X_val: Optional[npt.ArrayLike] = None, y_val: Optional[npt.ArrayLike] = None,
            sample_weight_val: Optional[npt.ArrayLike] = None) -> _Regressor:
        """Fits the model to X (n_samples, n_features) and targets y (n_samples,) or
        (n_samples, n_outputs).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default None
            Weights each sample's loss and gradient.
        X_val, y_val : array-like, default None
            A validation set of your own for early stopping (as
            HistGradientBoostingRegressor.fit takes it): with early_stopping=True (sgd,
            adam) R^2 and the loss are computed on it after each epoch, and training uses
            all of X, y (no validation_fraction split). Given without early_stopping=True:
            ValueError.
        sample_weight_val : array-like of shape (n_val,), default None

        Returns
        -------
        self

        Raises
        ------
        SolverDiverged
            If a step would make a weight infinite or NaN (the weights of the last finite
            step are kept); with early_stopping=True the fit stops there instead, keeping the
            best weights, as scikit-learn's does.

        Examples
        --------
        >>> reg = NNRegressor(early_stopping=True, random_state=0)
        >>> reg.fit(X_train, y_train, X_val=X_val, y_val=y_val)
        >>> reg.validation_scores_[-1], reg.validation_loss_curve_[-1]
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False, X_val=X_val,
                         y_val=y_val, sample_weight_val=sample_weight_val)

    def score(self, X: npt.ArrayLike, y: npt.ArrayLike,
              sample_weight: Optional[npt.ArrayLike] = None) -> float:
        """scikit-learn's R^2 on X, y, with sample_weight at any scale."""
        return float(super().score(X, y, sample_weight=_scale_free(sample_weight)))

    @_typed(available_if(lambda est: est._check_solver()))
    @_typed(_fit_context(prefer_skip_nested_validation=True))
    def partial_fit(self: _Regressor, X: npt.ArrayLike, y: npt.ArrayLike,
                    sample_weight: Optional[npt.ArrayLike] = None) -> _Regressor:
        """One epoch over X, y from the current weights and optimiser state (sgd and adam).

        Parameters
        ----------
        X, y, sample_weight
            As in `fit`.

        Returns
        -------
        NNRegressor
            self.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _validate_input(self, X: npt.ArrayLike, y: npt.ArrayLike, incremental: bool, reset: bool,
                        dtype: Any, validation: bool = False) -> tuple[np.ndarray, np.ndarray]:
        X, y = _validate(self, X, y, multi_output=True, y_numeric=True, dtype=dtype,
                         reset=reset)
        dtype = X.dtype  # (dtype may be a choice, as validate_data takes it)
        if y.ndim == 2 and y.shape[1] == 1:
            y = cast(np.ndarray, column_or_1d(y, warn=True))  # scikit-learn is untyped
        Y = as_array(y.reshape(len(y), -1), "y", dtype)
        # the squared error of targets this large overflows (before any training could help):
        # say so, rather than letting a step go non-finite
        limit = np.sqrt(np.finfo(dtype).max) / 4
        largest = float(np.max(np.abs(Y))) if Y.size else 0.0
        if largest >= limit:
            raise ValueError(f"y holds values as large as {largest:.4g} in magnitude: their "
                             f"squared error overflows {np.dtype(dtype).name} (|y| must stay "
                             f"below {limit:.3g}). Scale the targets, e.g. with sklearn.compose."
                             "TransformedTargetRegressor(transformer=StandardScaler()).")
        return X, Y

    def _out_activation(self) -> Literal["identity"]:
        return "identity"

    @staticmethod
    def _sklearn_class() -> type[BaseEstimator]:  # MLPRegressor
        from sklearn.neural_network import MLPRegressor
        return MLPRegressor

    @staticmethod
    def _binarizer_for(network: Network, classes: Optional[npt.ArrayLike]) -> None:
        """None (a regressor has no labels), once `network` is known to be a regression's."""
        if classes is not None:
            raise ValueError(f"a regressor has no classes, got classes={classes!r}")
        if network.output != "identity" or network.loss_name != "mse":
            raise ValueError(f"a regressor's network has an identity output with loss 'mse'; "
                             f"this one has a {network.output} output with loss "
                             f"{network.loss_name!r}")
        return None

    def _decode(self, out: np.ndarray) -> np.ndarray:
        return out.ravel() if out.shape[1] == 1 else out

    def _targets_for_score(self, Y: np.ndarray) -> np.ndarray:
        return Y

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """The predicted targets.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            The inputs.

        Returns
        -------
        ndarray
            (n_samples,) for a single output, else (n_samples, n_outputs).
        """
        return self._decode(self._forward(X))

    def __sklearn_tags__(self) -> Any:  # sklearn.utils.Tags
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
