"""NNEnsembleClassifier and NNEnsembleRegressor: n_estimators NNClassifier / NNRegressor
members trained as one NetworkStack, predicting their mean and spread (re-exported by
nnpy.estimators)."""
from __future__ import annotations

from numbers import Integral
from typing import Any, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _num_samples, check_is_fitted, validate_data

from ._stacked_fit import fit_members, stackable
from ._classifier import NNClassifier
from ._regressor import NNRegressor

__all__ = ["NNEnsembleClassifier", "NNEnsembleRegressor"]

_ENSEMBLE_ONLY = ("n_estimators", "bootstrap")


def _keep(estimator: Any, parameters: dict) -> None:
    """scikit-learn's rule for __init__: every parameter (an __init__'s locals()) kept as
    given, nothing else done."""
    for name, value in parameters.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


class _NNEnsemble(BaseEstimator):
    """What the two ensembles share: the members' parameters, fit and the spread."""

    _member_class: Any = NNRegressor
    _parameter_constraints: dict = {
        **{name: rule for name, rule in NNRegressor._parameter_constraints.items()
           if name != "warm_start"},
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "bootstrap": ["boolean"],
    }
    estimators_: List[Any]

    def __init__(self, hidden_layer_sizes: Any = (100,), activation: str = "relu", *,
                 solver: str = "adam", alpha: float = 0.0001, batch_size: Any = "auto",
                 learning_rate: str = "constant", learning_rate_init: float = 0.001,
                 power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True,
                 random_state: Any = None, tol: float = 1e-4, verbose: Any = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: float = 10, max_fun: int = 15000,
                 dtype: Optional[npt.DTypeLike] = None, dropout: float = 0.0,
                 n_estimators: int = 5, bootstrap: bool = False) -> None:
        _keep(self, locals())

    def _members(self) -> Tuple[List[Any], int]:
        """Unfitted members (member k with random_state seed + k) and the seed."""
        params = {name: value for name, value in self.get_params(deep=False).items()
                  if name not in _ENSEMBLE_ONLY}
        seed = self.random_state
        if not isinstance(seed, Integral) or isinstance(seed, (bool, np.bool_)):
            seed = int(check_random_state(seed).randint(0, 2 ** 31 - 1 - self.n_estimators))
        params["random_state"] = int(seed)
        members = []
        for k in range(self.n_estimators):
            params["random_state"] = int(seed) + k
            members.append(self._member_class(**params))
        return members, int(seed)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike,
            sample_weight: Optional[npt.ArrayLike] = None) -> Any:
        """Fits the n_estimators members on X, y, as one NetworkStack where their settings
        allow it.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Sparse X (CSR or CSC kept, other formats read as CSR) is never densified.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default None
            Each sample's weight, for every member (times its bootstrap count with
            ``bootstrap=True``).

        Returns
        -------
        self
        """
        members, seed = self._members()
        try:
            n_rows = _num_samples(X)
        except TypeError:   # the members' fit says what is wrong with X
            n_rows = 0
        counts = None
        if self.bootstrap and n_rows:
            draws = np.random.RandomState(seed).randint(0, n_rows, (self.n_estimators, n_rows))
            counts = np.array([np.bincount(row, minlength=n_rows) for row in draws],
                              np.float64)
        if stackable(members[0]):
            errors = fit_members(members, X, y, sample_weight, member_weights=counts)
            for error in errors:
                if error is not None:
                    raise error
        else:
            for k, member in enumerate(members):
                weight = sample_weight
                if counts is not None:
                    weight = counts[k] if sample_weight is None else \
                        counts[k] * np.asarray(sample_weight, np.float64)
                member.fit(X, y, sample_weight=weight)
        self.estimators_ = members
        first = members[0]
        self.n_features_in_ = first.n_features_in_
        if hasattr(first, "feature_names_in_"):
            self.feature_names_in_ = first.feature_names_in_
        else:
            self.__dict__.pop("feature_names_in_", None)
        self.n_outputs_ = first.n_outputs_
        self.n_iter_ = np.array([member.n_iter_ for member in members])
        self._after_fit(first)
        return self

    def _after_fit(self, first: Any) -> None:
        """The fitted attributes a subclass copies from the first member."""

    def _outputs(self, X: npt.ArrayLike) -> np.ndarray:
        """Every member's network outputs: (n_estimators, n_samples, n_outputs)."""
        check_is_fitted(self, "estimators_")
        dtype = self.estimators_[0].network_.dtype
        X = validate_data(self, X, reset=False, dtype=dtype,
                          accept_sparse=["csr", "csc"])
        return np.stack([member.network_.predict(X) for member in self.estimators_])

    def __sklearn_tags__(self) -> Any:  # sklearn.utils.Tags
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags


class NNEnsembleRegressor(RegressorMixin, _NNEnsemble):
    """An ensemble of ``n_estimators`` NNRegressor networks, trained together as one
    nnpy.NetworkStack; predicts their mean and, on request, their spread.

    Member k is ``NNRegressor(**params, random_state=seed + k)`` (seed: ``random_state``, or
    an int drawn from it when it is None or a RandomState): its own initial weights. Member 0
    is exactly ``NNRegressor(**params, random_state=seed)`` fitted alone; the others follow
    member 0's order of the rows in every epoch (one NetworkStack.fit per epoch), so with
    ``bootstrap=False`` they differ in their initial weights only. With ``bootstrap=True``
    member k weights each row by how often it appears in a bootstrap sample of the rows
    (drawn from ``seed``): bagging, through per-member sample weights. Members with
    ``solver="lbfgs"``, ``early_stopping=True`` or ``verbose`` are fitted one by one (with
    their own row orders). Each member stops at its own epoch (``tol``,
    ``n_iter_no_change``).

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
    learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, momentum,
    nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon,
    n_iter_no_change, max_fun, dtype, loss, huber_delta, dropout :
        The members' parameters, as NNRegressor's (no ``warm_start``).
    n_estimators : int, default 5
        How many networks.
    bootstrap : bool, default False
        Whether each member trains on a bootstrap sample of the rows (as weights).

    Attributes
    ----------
    estimators_ : list of NNRegressor
        The fitted members.
    n_iter_ : ndarray of shape (n_estimators,)
        Each member's epochs (lbfgs: iterations).
    n_features_in_, feature_names_in_, n_outputs_ :
        As NNRegressor's.

    Examples
    --------
    >>> from nnpy.estimators import NNEnsembleRegressor
    >>> ens = NNEnsembleRegressor((16,), n_estimators=5, random_state=0).fit(X, y)
    >>> mean, std = ens.predict(X, return_std=True)
    """

    _member_class = NNRegressor

    def __init__(self, hidden_layer_sizes: Any = (100,), activation: str = "relu", *,
                 loss: str = "squared_error", solver: str = "adam", alpha: float = 0.0001,
                 batch_size: Any = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state: Any = None, tol: float = 1e-4,
                 verbose: Any = False, momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: float = 10, max_fun: int = 15000,
                 dtype: Optional[npt.DTypeLike] = None, dropout: float = 0.0,
                 huber_delta: float = 1.0, n_estimators: int = 5,
                 bootstrap: bool = False) -> None:
        _keep(self, locals())

    def predict(self, X: npt.ArrayLike, return_std: bool = False
                ) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """The members' mean prediction, and with ``return_std`` their standard deviation
        (GaussianProcessRegressor.predict's convention).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default False

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        y_std : ndarray of the same shape, only with ``return_std``
            The spread of the members' predictions (population standard deviation).
        """
        outputs = self._outputs(X)
        mean, std = outputs.mean(axis=0), outputs.std(axis=0)
        if mean.shape[1] == 1:
            mean, std = mean.ravel(), std.ravel()
        return (mean, std) if return_std else mean

    def __sklearn_tags__(self) -> Any:  # sklearn.utils.Tags
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class NNEnsembleClassifier(ClassifierMixin, _NNEnsemble):
    """An ensemble of ``n_estimators`` NNClassifier networks, trained together as one
    nnpy.NetworkStack; predicts from their mean probabilities and, on request, their spread.

    Members, seeds, bootstrap and the one-by-one cases as NNEnsembleRegressor's (member k is
    ``NNClassifier(**params, random_state=seed + k)``).

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
    learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, momentum,
    nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon,
    n_iter_no_change, max_fun, dtype, dropout, class_weight :
        The members' parameters, as NNClassifier's (no ``warm_start``).
    n_estimators : int, default 5
        How many networks.
    bootstrap : bool, default False
        Whether each member trains on a bootstrap sample of the rows (as weights).

    Attributes
    ----------
    estimators_ : list of NNClassifier
        The fitted members.
    n_iter_ : ndarray of shape (n_estimators,)
        Each member's epochs (lbfgs: iterations).
    classes_, n_features_in_, feature_names_in_, n_outputs_ :
        As NNClassifier's.

    Examples
    --------
    >>> from nnpy.estimators import NNEnsembleClassifier
    >>> ens = NNEnsembleClassifier((16,), n_estimators=5, random_state=0).fit(X, y)
    >>> labels, spread = ens.predict(X, return_std=True)
    """

    _member_class = NNClassifier
    _parameter_constraints: dict = {
        **_NNEnsemble._parameter_constraints,
        "class_weight": NNClassifier._parameter_constraints.get(
            "class_weight", "no_validation")}
    classes_: np.ndarray

    def __init__(self, hidden_layer_sizes: Any = (100,), activation: str = "relu", *,
                 solver: str = "adam", alpha: float = 0.0001, batch_size: Any = "auto",
                 learning_rate: str = "constant", learning_rate_init: float = 0.001,
                 power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True,
                 random_state: Any = None, tol: float = 1e-4, verbose: Any = False,
                 momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 n_iter_no_change: float = 10, max_fun: int = 15000,
                 dtype: Optional[npt.DTypeLike] = None, dropout: float = 0.0,
                 class_weight: Any = None, n_estimators: int = 5,
                 bootstrap: bool = False) -> None:
        _keep(self, locals())

    def _after_fit(self, first: Any) -> None:
        self.classes_ = first.classes_

    def _probabilities(self, X: npt.ArrayLike) -> np.ndarray:
        """Every member's predict_proba: (n_estimators, n_samples, n_classes)."""
        outputs = self._outputs(X)
        if outputs.shape[2] == 1 and not self._multilabel():
            return np.concatenate([1 - outputs, outputs], axis=2)
        return outputs

    def _multilabel(self) -> bool:
        return self.estimators_[0]._label_binarizer.y_type_ == "multilabel-indicator"

    def predict_proba(self, X: npt.ArrayLike, return_std: bool = False
                      ) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """The members' mean probability of each class, and with ``return_std`` its
        standard deviation over the members.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default False

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_`` (multi-label y: each label's probability).
        proba_std : ndarray of shape (n_samples, n_classes), only with ``return_std``
        """
        probabilities = self._probabilities(X)
        mean = probabilities.mean(axis=0)
        return (mean, probabilities.std(axis=0)) if return_std else mean

    def predict_log_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """The log of ``predict_proba`` (-inf where a probability is 0).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: npt.ArrayLike, return_std: bool = False
                ) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """The labels of the members' mean probabilities, and with ``return_std`` the
        spread of the members' probability of each predicted label.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default False

        Returns
        -------
        labels : ndarray of shape (n_samples,) (multi-label y: an indicator matrix)
        std : ndarray, only with ``return_std``
            (n_samples,): the standard deviation over the members of the predicted class's
            probability (multi-label y: (n_samples, n_labels), each label's).
        """
        outputs = self._outputs(X)
        first = self.estimators_[0]
        labels = first._decode(outputs.mean(axis=0))
        if not return_std:
            return labels
        if self._multilabel():
            return labels, outputs.std(axis=0)
        probabilities = self._probabilities(X)
        chosen = np.searchsorted(self.classes_, labels)
        spread = probabilities.std(axis=0)[np.arange(len(chosen)), chosen]
        return labels, spread

    def __sklearn_tags__(self) -> Any:  # sklearn.utils.Tags
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
