"""scikit-learn estimators on top of nnpy.Network: NNClassifier and NNRegressor.

    from nnpy.estimators import NNClassifier
    clf = NNClassifier(hidden_layer_sizes=(32,), random_state=0).fit(X, y)
    clf.predict(X), clf.predict_proba(X), clf.score(X, y)

They follow scikit-learn's conventions (get_params/set_params, clone, pipelines,
GridSearchCV, pickling) and pass its estimator checks. The parameters are named as in
scikit-learn's MLPClassifier/MLPRegressor where the meaning is the same:

    hidden_layer_sizes   widths of the hidden (sigmoid) layers, e.g. (32,) or (64, 32)
    learning_rate_init   the SGD step size (Network.fit's lr)
    batch_size           samples per step (capped at the number of samples)
    max_iter             epochs at most; a ConvergenceWarning if they run out
    tol, n_iter_no_change  stop when the monitored loss has not improved by tol for
                         n_iter_no_change epochs in a row
    early_stopping       hold out validation_fraction of the training data, monitor the loss on
                         it, and restore the weights of the epoch with the best one
    alpha                L2 penalty, as MLPClassifier's: 0.5 * alpha * sum(W**2) / n_samples
                         is added to the mean loss (Network.fit's l2 = alpha / n_samples)
    momentum             SGD momentum
    init, dtype          as for nnpy.Network
    random_state         None, an int or a RandomState: initial weights, shuffling and the
                         early-stopping split
    shuffle              reshuffle the samples every epoch
    verbose              print the loss after every epoch

NNClassifier uses a softmax output with cross-entropy for any number of classes (two
included: a 2-unit softmax is the same model as one sigmoid unit with cross-entropy, since
softmax(z)_1 = sigmoid(z_1 - z_0), and it keeps one code path and gives predict_proba its two
columns directly).

NNRegressor: nnpy's networks end in a sigmoid, which only produces values in (0, 1). So each
target column is mapped linearly from [min, max] of the training targets onto [0.1, 0.9]
(margins keep the targets off the sigmoid's flat ends), the network is trained with the mean
squared error on those, and predict maps back. Consequences: predictions lie within the range
of the training targets widened by 12.5% of its span on each side (no extrapolation beyond),
and loss_curve_ is in the scaled units. partial_fit fixes the scaling on its first call.
Multi-output regression (2-D y) is supported.

Fitted attributes: network_ (the nnpy.Network), n_features_in_ (and feature_names_in_),
loss_curve_ (training loss per epoch), validation_loss_curve_ (with early_stopping),
best_loss_, n_iter_ (epochs run), classes_ (classifier), n_outputs_ (regressor).

scikit-learn is imported by this module only (pip install "nnpy[sklearn]").
"""
import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError('nnpy.estimators needs scikit-learn >= 1.6: pip install "nnpy[sklearn]"'
                      f" ({err})") from None

from ._validation import as_dtype, as_float, as_int, choice
from .network import INITS, Network

__all__ = ["NNClassifier", "NNRegressor"]

_LOW, _HIGH = 0.1, 0.9   # NNRegressor maps the training targets' range onto this


def _validate(estimator, X, y="no_validation", **kwargs):
    """validate_data, plus what it lets through: datetime/timedelta arrays (which it would
    turn into numbers) are a TypeError, integers too large for a float a ValueError."""
    for name, value in (("X", X), ("y", y)):
        kind = getattr(getattr(value, "dtype", None), "kind", None)
        if kind is not None and kind in "mM":
            raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")
    try:
        return validate_data(estimator, X, y, **kwargs)
    except OverflowError as err:
        raise ValueError(f"the input holds a number too large for a float: {err}") from None


class _NNBase(BaseEstimator):
    """What NNClassifier and NNRegressor share: parameters, checks, the training loop."""

    def __init__(self, hidden_layer_sizes=(32,), *, learning_rate_init=0.1, batch_size=32,
                 max_iter=200, tol=1e-4, n_iter_no_change=10, early_stopping=False,
                 validation_fraction=0.1, alpha=1e-4, momentum=0.9, init="xavier",
                 dtype=np.float64, random_state=None, shuffle=True, verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.alpha = alpha
        self.momentum = momentum
        self.init = init
        self.dtype = dtype
        self.random_state = random_state
        self.shuffle = shuffle
        self.verbose = verbose

    # ---- parameters ---------------------------------------------------------------------

    def _check_params(self):
        """The parameters, checked (scikit-learn checks them in fit, not in __init__)."""
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if isinstance(hidden, str) or not hasattr(hidden, "__iter__"):
            raise TypeError("hidden_layer_sizes must be a tuple of layer widths like (32,), "
                            f"got {self.hidden_layer_sizes!r}")
        hidden = tuple(as_int(h, "hidden_layer_sizes[%d]" % i, 1) for i, h in enumerate(hidden))
        for flag in ("early_stopping", "shuffle"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise TypeError(f"{flag} must be True or False, got {getattr(self, flag)!r}")
        return dict(
            hidden=hidden,
            lr=as_float(self.learning_rate_init, "learning_rate_init", positive=True),
            batch_size=as_int(self.batch_size, "batch_size", 1),
            max_iter=as_int(self.max_iter, "max_iter", 1),
            tol=as_float(self.tol, "tol", minimum=0.0),
            n_iter_no_change=as_int(self.n_iter_no_change, "n_iter_no_change", 1),
            validation_fraction=as_float(self.validation_fraction, "validation_fraction",
                                         positive=True, below=1.0),
            l2=as_float(self.alpha, "alpha", minimum=0.0),
            momentum=as_float(self.momentum, "momentum", minimum=0.0, below=1.0),
            init=choice(self.init, "init", INITS),
            dtype=as_dtype(self.dtype),
        )

    # ---- training -----------------------------------------------------------------------

    def _new_network(self, p, n_in, n_out, rs):
        seed = int(rs.randint(np.iinfo(np.int32).max))
        return Network([n_in, *p["hidden"], n_out], output=self._output, loss=self._loss,
                       init=p["init"], dtype=p["dtype"], seed=seed)

    def _train(self, p, X, Y, epochs, rs, stratify=None, incremental=False):
        """Trains network_ on X, Y for up to `epochs` epochs with the stopping rules; sets
        loss_curve_, validation_loss_curve_, best_loss_, n_iter_."""
        net = self.network_
        early = self.early_stopping and not incremental
        if early:
            if stratify is not None and np.min(np.unique(stratify, return_counts=True)[1]) < 2:
                stratify = None  # a class with one sample cannot be split both ways
            try:
                X, Xv, Y, Yv = train_test_split(X, Y, test_size=p["validation_fraction"],
                                                random_state=rs, stratify=stratify)
            except ValueError as err:
                raise ValueError(f"early_stopping cannot hold out validation_fraction="
                                 f"{p['validation_fraction']} of {len(X)} samples: {err}") from None
        if not hasattr(self, "loss_curve_") or not incremental:
            self.loss_curve_ = []
            self.validation_loss_curve_ = [] if early else None
            self.best_loss_ = np.inf
            self.n_iter_ = 0
        state = {"no_improvement": 0, "best_net": None, "converged": False}
        tol, patience = p["tol"], p["n_iter_no_change"]

        def after_epoch(epoch, history):
            loss = history.loss[-1]
            self.loss_curve_.append(loss)
            self.n_iter_ += 1
            if early:
                # a snapshot: the network cannot be read through its methods while fit runs
                snapshot = net.copy()
                monitored = snapshot.loss(Xv, Yv)
                self.validation_loss_curve_.append(monitored)
            else:
                monitored = loss
            if self.verbose:
                extra = f", validation loss = {monitored:.8f}" if early else ""
                print(f"Iteration {self.n_iter_}, loss = {loss:.8f}{extra}")
            if incremental:
                self.best_loss_ = min(self.best_loss_, monitored)
                return True
            if monitored > self.best_loss_ - tol:
                state["no_improvement"] += 1
            else:
                state["no_improvement"] = 0
            if monitored < self.best_loss_:
                self.best_loss_ = monitored
                if early:
                    state["best_net"] = snapshot
            if state["no_improvement"] >= patience:
                state["converged"] = True
                if self.verbose:
                    what = "Validation loss" if early else "Training loss"
                    print(f"{what} did not improve more than tol={tol} for {patience} "
                          f"consecutive epochs. Stopping.")
                return False
            return True

        net.fit(X, Y, epochs=epochs, lr=p["lr"], batch_size=p["batch_size"],
                shuffle=bool(self.shuffle), l2=p["l2"] / len(X), momentum=p["momentum"],
                callback=after_epoch)
        if early and state["best_net"] is not None:
            best = state["best_net"]
            net.weights = best.weights
            net.biases = best.biases
        if not incremental and not state["converged"]:
            warnings.warn(f"{type(self).__name__}: stochastic gradient descent reached "
                          f"max_iter={epochs} epochs and the optimisation has not converged "
                          f"yet (tol={tol}, n_iter_no_change={patience}).", ConvergenceWarning)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags


class NNClassifier(ClassifierMixin, _NNBase):
    """A classifier: sigmoid hidden layers and a softmax output trained with cross-entropy by
    SGD in nnpy's compiled core. See the module docstring for the parameters."""

    _output, _loss = "softmax", "cross_entropy"

    def fit(self, X, y):
        """Trains a new network on X (n_samples, n_features) and the class labels y."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch over X, y, continuing from the current weights (a new network on the
        first call, which needs `classes`: all the labels that will ever appear)."""
        return self._fit(X, y, incremental=True, classes=classes)

    def _fit(self, X, y, incremental, classes=None):
        p = self._check_params()
        first = not incremental or not hasattr(self, "network_")
        X, y = _validate(self, X, y, reset=first, dtype=p["dtype"])
        check_classification_targets(y)
        if first:
            if incremental:
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit")
                self.classes_ = np.unique(np.asarray(classes))
            else:
                self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; "
                                 f"got 1 class ({self.classes_[0]!r})")
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)),
                                                        self.classes_):
            raise ValueError(f"classes={classes!r} differs from the classes of the first "
                             f"partial_fit call, {list(self.classes_)}")
        codes = np.searchsorted(self.classes_, y)
        codes = np.minimum(codes, len(self.classes_) - 1)
        unknown = self.classes_[codes] != y
        if unknown.any():
            raise ValueError(f"y holds labels not in classes_ {list(self.classes_)}: "
                             f"{list(np.unique(y[unknown]))[:5]}")
        Y = np.eye(len(self.classes_), dtype=p["dtype"])[codes]
        rs = check_random_state(self.random_state)
        if first:
            self.network_ = self._new_network(p, X.shape[1], len(self.classes_), rs)
        self._train(p, X, Y, 1 if incremental else p["max_iter"], rs, stratify=codes,
                    incremental=incremental)
        return self

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), columns in the order of classes_."""
        check_is_fitted(self, "network_")
        X = _validate(self, X, reset=False, dtype=self.network_.dtype)
        return self.network_.predict(X)

    def predict_log_proba(self, X):
        """log of predict_proba."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each sample."""
        check_is_fitted(self, "network_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = False
        return tags


class NNRegressor(RegressorMixin, _NNBase):
    """A regressor: sigmoid layers trained on targets scaled into [0.1, 0.9] with the mean
    squared error (see the module docstring for why and what follows). y may be 1-D or 2-D
    (several outputs)."""

    _output, _loss = "sigmoid", "mse"

    def __init__(self, hidden_layer_sizes=(32,), *, learning_rate_init=0.5, batch_size=32,
                 max_iter=200, tol=1e-5, n_iter_no_change=10, early_stopping=False,
                 validation_fraction=0.1, alpha=1e-4, momentum=0.9, init="xavier",
                 dtype=np.float64, random_state=None, shuffle=True, verbose=False):
        super().__init__(hidden_layer_sizes, learning_rate_init=learning_rate_init,
                         batch_size=batch_size, max_iter=max_iter, tol=tol,
                         n_iter_no_change=n_iter_no_change, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, alpha=alpha,
                         momentum=momentum, init=init, dtype=dtype, random_state=random_state,
                         shuffle=shuffle, verbose=verbose)

    def fit(self, X, y):
        """Trains a new network on X (n_samples, n_features) and targets y (n_samples,) or
        (n_samples, n_outputs)."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch over X, y, continuing from the current weights (the first call creates
        the network and fixes the target scaling)."""
        return self._fit(X, y, incremental=True)

    def _fit(self, X, y, incremental):
        p = self._check_params()
        first = not incremental or not hasattr(self, "network_")
        X, y = _validate(self, X, y, reset=first, dtype=p["dtype"], multi_output=True,
                             y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if first:
            self.n_outputs_ = Y.shape[1]
            self._y_1d = y.ndim == 1
            self.y_min_ = Y.min(axis=0)
            span = Y.max(axis=0) - self.y_min_
            self.y_span_ = np.where(span > 0, span, 1.0)
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs; the first partial_fit call had "
                             f"{self.n_outputs_}")
        T = (_LOW + (_HIGH - _LOW) * (Y - self.y_min_) / self.y_span_).astype(p["dtype"])
        rs = check_random_state(self.random_state)
        if first:
            self.network_ = self._new_network(p, X.shape[1], self.n_outputs_, rs)
        self._train(p, X, T, 1 if incremental else p["max_iter"], rs, incremental=incremental)
        return self

    def predict(self, X):
        """Predicted targets: (n_samples,) if fit saw a 1-D y, else (n_samples, n_outputs)."""
        check_is_fitted(self, "network_")
        X = _validate(self, X, reset=False, dtype=self.network_.dtype)
        out = self.network_.predict(X).astype(np.float64)
        y = self.y_min_ + (out - _LOW) / (_HIGH - _LOW) * self.y_span_
        return y[:, 0] if self._y_1d else y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
