"""NNClassifier: scikit-learn's MLPClassifier on nnpy's compiled core."""
from __future__ import annotations

from typing import Any, Literal, Mapping, Optional, Sequence, TypeVar, Union

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, unique_labels

from ..network import Network
from ._base import _BaseMLP
from ._shared import (HiddenActivation, LearningRateSchedule, RandomState, Solver, _scale_free,
                      _typed, _validate)

_Classifier = TypeVar("_Classifier", bound="NNClassifier")


class NNClassifier(ClassifierMixin, _BaseMLP):
    """scikit-learn's MLPClassifier on nnpy's compiled core (see the module docstring).

    A softmax output for several classes, one logistic unit for two, logistic units for a
    multi-label indicator y; log-loss; solvers lbfgs, sgd, adam. Every parameter has
    scikit-learn's meaning and default.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int
        Widths of the hidden layers (default (100,)).
    activation : {"identity", "logistic", "tanh", "relu"}
        Activation of the hidden layers.
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
    dropout : float
        nnpy's own: inverted dropout on the hidden layers while training (sgd, adam), in
        [0, 1); 0, the default, is off (see `nnpy.Network.fit`). The masks are drawn from
        `random_state`.

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
                 class_weight: Union[None, Literal["balanced"], Mapping[Any, float]] = None,
                 dropout: float = 0.0) -> None:
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
