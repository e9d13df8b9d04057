"""To and from scikit-learn's own MLP, and from an nnpy.Network."""
from __future__ import annotations

import copy
from typing import Any, Optional, Type, TypeVar

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, is_classifier
from sklearn.utils.validation import check_is_fitted

from .._validation import as_dtype
from ..network import Network
from ._shared import (_ESTIMATOR_HIDDEN, _HIDDEN, _MLP_LOSSES, _OUTPUT, _STOCHASTIC_SOLVERS,
                      _TRAINING_RECORDS, _check_sklearn_activation)
from ._state import _MLPState

_Estimator = TypeVar("_Estimator", bound="_MLPBridge")  # NNClassifier or NNRegressor


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


class _MLPBridge(_MLPState):
    """from_network, from_sklearn and to_sklearn."""

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
            network.activation], "dtype": network.dtype.type,
            **cls._defaults_for(network)}
        estimator = cls(**{**defaults, **params})
        estimator._validate_params()
        hidden = estimator.hidden_layer_sizes
        hidden = tuple(hidden) if hasattr(hidden, "__iter__") else (hidden,)
        for name, given, wanted in (("hidden_layer_sizes", hidden, defaults[
                "hidden_layer_sizes"]), ("activation", estimator.activation,
                defaults["activation"]), ("dtype", network.dtype if estimator.dtype is None else
                                as_dtype(estimator.dtype), network.dtype),
                ("loss", getattr(estimator, "loss", None), defaults.get("loss")),
                ("huber_delta", getattr(estimator, "huber_delta", None),
                 defaults.get("huber_delta"))):
            if wanted is not None and given != wanted:
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
            For what nnpy cannot represent (sparse or otherwise altered ``coefs_``), saying
            what.
        """
        kind = cls._sklearn_class()
        if not isinstance(mlp, kind):
            raise TypeError(f"{cls.__name__}.from_sklearn takes a fitted scikit-learn "
                            f"{kind.__name__}, got {type(mlp).__name__}")
        check_is_fitted(mlp, ("coefs_", "intercepts_", "out_activation_"))
        params = mlp.get_params()
        if mlp.out_activation_ not in _OUTPUT:
            raise ValueError(f"this {kind.__name__} has out_activation_="
                             f"{mlp.out_activation_!r}, which nnpy does not have")
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
        with the same parameters (all but nnpy's dtype, class_weight and dropout), weights
        (copies, in the network's dtype: scikit-learn keeps float32 weights after a fit on
        float32), predictions, classes, feature names and training records (as they are, see from_sklearn), and what
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
        params.pop("dropout")  # nnpy's, training only: the weights are an MLP's as they are
        params.pop("huber_delta", None)   # nnpy's
        if params.get("loss", "squared_error") not in _MLP_LOSSES:
            raise ValueError(f"scikit-learn's MLPRegressor has no loss={params['loss']!r} "
                             f"(only {' and '.join(map(repr, _MLP_LOSSES))})")
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
