"""_BaseMLP, what NNClassifier and NNRegressor share: fit's checks and the network's set-up,
and predict's forward pass, on the parameters (_state), the solvers' loops (_solvers) and the
conversions (_bridge)."""
from __future__ import annotations

from numbers import Integral
from typing import Any, Optional, TypeVar

import numpy as np
import numpy.typing as npt
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._validation import as_dtype
from ..network import Network, TrainingDiverged
from ._bridge import _MLPBridge
from ._shared import (_DIVERGED, _HIDDEN, _OUTPUT, _REGRESSION_LOSS, _STOCHASTIC_SOLVERS,
                      _TRAINING_RECORDS, SolverDiverged, _check_sample_weight, _validate)
from ._solvers import _MLPSolvers

_Estimator = TypeVar("_Estimator", bound="_BaseMLP")  # NNClassifier or NNRegressor


class _BaseMLP(_MLPBridge, _MLPSolvers):
    """What NNClassifier and NNRegressor share: scikit-learn's parameters and their checks,
    the network's set-up and both solvers' loops."""

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
        if self.dropout and self.solver not in _STOCHASTIC_SOLVERS:
            raise ValueError(f"dropout={self.dropout} needs solver 'sgd' or 'adam' (lbfgs "
                             "minimises the loss without dropout); use dropout=0.0")
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
        sample_weight = _check_sample_weight(sample_weight, X.shape[0])
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
            return Xv, Yv, _check_sample_weight(sample_weight_val, Xv.shape[0])
        except ValueError as err:  # scikit-learn's checks name X, y and sample_weight
            raise ValueError(f"X_val, y_val, sample_weight_val: {err}") from None

    def _new_network(self, layer_units: list[int], dtype: np.dtype[Any],
                     seed: int = 0) -> Network:
        output, loss = _OUTPUT[self.out_activation_]
        loss = _REGRESSION_LOSS.get(getattr(self, "loss", ""), loss)  # NNRegressor's
        return Network(layer_units, activation=_HIDDEN[self.activation], output=output,
                       loss=loss, huber_delta=getattr(self, "huber_delta", 1.0), dtype=dtype,
                       seed=seed)

    def _initialize(self, Y: np.ndarray, layer_units: list[int], rs: np.random.RandomState,
                    dtype: np.dtype[Any]) -> None:
        """A new network with scikit-learn's initial weights (Glorot uniform, drawn from `rs`
        in its order) and the attributes of a first fit."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        factor = 2.0 if self.activation == "logistic" else 6.0
        weights, biases = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            weights.append(rs.uniform(-bound, bound, (fan_in, fan_out)).T)
            biases.append(rs.uniform(-bound, bound, fan_out))
        # the dropout masks from random_state too (drawn after scikit-learn's weights)
        seed = int(rs.randint(2 ** 31 - 1)) if self.dropout else 0
        self.network_ = self._new_network(layer_units, dtype, seed)
        self.network_.weights = weights
        self.network_.biases = biases
        for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_",
                     "validation_loss_curve_", "loss_", "_optimizer"):
            self.__dict__.pop(name, None)
        if self.solver in _STOCHASTIC_SOLVERS:
            self._start_curves()

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
        tags.input_tags.sparse = True
        return tags
