"""The estimators' parameters, fitted attributes and records of training (the base of the
solvers, the bridges and the fit)."""
from __future__ import annotations

from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Literal, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..network import Network
from ._shared import HiddenActivation, LearningRateSchedule, RandomState, Solver, _Optimizer


class _MLPState(BaseEstimator):
    """scikit-learn's MLP parameters and their checks, the fitted attributes, coefs_ and
    intercepts_ as views of the network, and the records of stochastic training."""

    # scikit-learn's MLP constraints (checked by _fit_context, with its messages), plus dtype
    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
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
        "dropout": [Interval(Real, 0, 1, closed="left")],
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
                 max_fun: int = 15000, dtype: Optional[npt.DTypeLike] = None,
                 dropout: float = 0.0) -> None:
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
        self.dropout = dropout

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

    def _params_copy(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return ([w.copy() for w in self.network_.weights],
                [b.copy() for b in self.network_.biases])
