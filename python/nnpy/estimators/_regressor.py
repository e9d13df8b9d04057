"""NNRegressor: scikit-learn's MLPRegressor on nnpy's compiled core."""
from __future__ import annotations

from numbers import Real
from typing import Any, Literal, Optional, Sequence, TypeVar, Union, cast

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if

from .. import _family
from .._validation import as_array
from ..network import Network
from ._base import _BaseMLP
from ._shared import (_REGRESSION_LOSS, _REGRESSION_OUTPUT, _REGRESSION_PAIRS, _SKLEARN_LOSS,
                      HiddenActivation, LearningRateSchedule, RandomState, RegressionLoss,
                      Solver, _scale_free, _typed, _validate)

_Regressor = TypeVar("_Regressor", bound="NNRegressor")


def _pairs_text() -> str:
    """The regressors' (output, loss) pairs in words, from the table: "an identity output with
    loss 'mse', 'absolute_error' or 'huber', or an exp output with loss 'poisson'"."""
    by_output: dict[str, list[str]] = {}
    for output, loss in _REGRESSION_PAIRS:
        by_output.setdefault(output, []).append(repr(loss))
    parts = []
    for output, losses in by_output.items():
        names = losses[0] if len(losses) == 1 else f"{', '.join(losses[:-1])} or {losses[-1]}"
        parts.append(f"{'an' if output[0] in 'aeiou' else 'a'} {output} output with loss {names}")
    return ", or ".join(parts)


_REGRESSION_PAIRS_TEXT = _pairs_text()  # for _binarizer_for's message


class NNRegressor(RegressorMixin, _BaseMLP):
    """scikit-learn's MLPRegressor on nnpy's compiled core (see the module docstring).

    An identity output (an exp one for loss="poisson"), the targets as given (1-D, or 2-D for
    several outputs). Every parameter has scikit-learn's meaning and default.

    Parameters
    ----------
    loss : {"squared_error", "absolute_error", "huber", "poisson"}
        scikit-learn's first parameter. "squared_error" (0.5 * the squared error) and
        "poisson" (an exp output, half the Poisson deviance: y must be non-negative) as
        scikit-learn's MLPRegressor has them; "absolute_error" (``|y - prediction|``) and
        "huber" (``0.5 * d**2`` for ``|d| <= huber_delta``, else
        ``huber_delta * (|d| - 0.5 * huber_delta)``) with an identity output, by their names
        in scikit-learn's other regressors. Each is summed over the outputs and averaged over
        the samples (``loss_``, ``loss_curve_``).
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate
        As in `NNClassifier`.
    learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start
        As in `NNClassifier`.
    momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2
        As in `NNClassifier`.
    epsilon, n_iter_no_change, max_fun, dtype, dropout
        As in `NNClassifier`.
    huber_delta : float, default 1.0
        nnpy's: Huber's delta (as torch's HuberLoss names it; 1.0 its default), where the
        "huber" loss turns from quadratic to linear. Only loss="huber" reads it.

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

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions(set(_REGRESSION_LOSS))],
        "huber_delta": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, loss: RegressionLoss = "squared_error",
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
                 max_fun: int = 15000, dtype: Optional[npt.DTypeLike] = None,
                 dropout: float = 0.0,
                 huber_delta: float = 1.0) -> None:
        self.loss = loss
        self.huber_delta = huber_delta
        shared = dict(locals())  # every other parameter, passed on as it came
        for name in ("self", "loss", "huber_delta", "__class__"):
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
        if self.loss == "poisson" and Y.size and float(Y.min()) < 0:
            name = "y_val" if validation else "y"
            raise ValueError(f"{name} must hold non-negative values for loss='poisson' (counts "
                             f"or rates), got {float(Y.min())!r}")
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

    def _out_activation(self) -> str:
        # scikit-learn's name of the loss's output (MLPRegressor's "identity", or "exp")
        output = _REGRESSION_OUTPUT[self.loss]
        return _family.ACTIVATIONS[output].sklearn or output

    @staticmethod
    def _defaults_for(network: Network) -> dict[str, Any]:
        """from_network's defaults taken from the network beyond the layers: its loss (by
        scikit-learn's name) and Huber's delta."""
        loss = _SKLEARN_LOSS.get(network.loss_name)
        return {} if loss is None else {"loss": loss, "huber_delta": network.huber_delta}

    @staticmethod
    def _sklearn_class() -> type[BaseEstimator]:  # MLPRegressor
        from sklearn.neural_network import MLPRegressor
        return MLPRegressor

    @staticmethod
    def _binarizer_for(network: Network, classes: Optional[npt.ArrayLike]) -> None:
        """None (a regressor has no labels), once `network` is known to be a regression's."""
        if classes is not None:
            raise ValueError(f"a regressor has no classes, got classes={classes!r}")
        if (network.output, network.loss_name) not in _REGRESSION_PAIRS:
            raise ValueError(f"a regressor's network has {_REGRESSION_PAIRS_TEXT}; this one has "
                             f"a {network.output} output with loss {network.loss_name!r}")
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
