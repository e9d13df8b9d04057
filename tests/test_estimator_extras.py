"""The estimators' extras beyond scikit-learn's MLP: dtype following X, a validation set of
one's own (X_val, y_val), validation_loss_curve_, class_weight; and a diverging fit with
early stopping ending as scikit-learn's does. Each against an independent computation:
scikit-learn's metrics and class-weight formula, equivalent sample weights, plain fits."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss, r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils.class_weight import compute_sample_weight

from nnpy.estimators import NNClassifier, NNRegressor, SolverDiverged


@pytest.fixture(scope="module")
def blobs():
    X, y = make_classification(n_samples=120, n_features=6, n_informative=4, n_classes=3,
                               weights=[0.6, 0.3, 0.1], random_state=0)
    return X, y


def same_weights(a, b):
    for x, y in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(x, y)


def quiet(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit()


# ---- dtype follows X -----------------------------------------------------------------------

@pytest.mark.parametrize("kind, sk", [(NNClassifier, MLPClassifier), (NNRegressor, MLPRegressor)])
def test_dtype_follows_x_as_scikit_learns(kind, sk, blobs):
    X, y = blobs
    y = y if kind is NNClassifier else y.astype(float)
    for X_in in (X.astype(np.float32), X, X.astype(np.int64)):
        ours = quiet(lambda: kind(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
                     .fit(X_in, y))
        theirs = quiet(lambda: sk(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
                       .fit(X_in, y))
        for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
            assert a.dtype == b.dtype
        out = ours.predict_proba(X_in) if kind is NNClassifier else ours.predict(X_in)
        assert out.dtype == theirs.coefs_[0].dtype
    # asked for, a dtype holds whatever X is
    ours = quiet(lambda: kind(max_iter=2, dtype=np.float64).fit(X.astype(np.float32), y))
    assert ours.coefs_[0].dtype == np.float64
    # a warm start keeps the fitted network's dtype
    est = quiet(lambda: kind(max_iter=2, warm_start=True, random_state=0).fit(X, y))
    quiet(lambda: est.fit(X.astype(np.float32), y))
    assert est.coefs_[0].dtype == np.float64


# ---- a validation set of one's own -------------------------------------------------------

def test_own_validation_set_is_scored_every_epoch_and_trains_on_all_of_x(blobs):
    X, y = blobs
    Xv, yv = X[:40] + 0.3, y[:40]
    params = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.05,
                  n_iter_no_change=np.inf, random_state=0, batch_size=16)
    epochs = 8
    own = quiet(lambda: NNClassifier(early_stopping=True, max_iter=epochs, **params)
                .fit(X, y, X_val=Xv, y_val=yv))
    plain = quiet(lambda: NNClassifier(max_iter=epochs, **params).fit(X, y))
    # no split: the same training path as a fit without early stopping
    assert own.loss_curve_ == plain.loss_curve_
    scores, losses = [], []
    for k in range(1, epochs + 1):  # the weights after k epochs, scored independently
        clf = quiet(lambda: NNClassifier(max_iter=k, **params).fit(X, y))
        scores.append(accuracy_score(yv, clf.predict(Xv)))
        losses.append(log_loss(yv, clf.predict_proba(Xv)))
    assert own.validation_scores_ == scores
    np.testing.assert_allclose(own.validation_loss_curve_, losses, rtol=1e-9)
    # early stopping kept the weights of the best score (the first best)
    best = int(np.argmax(scores)) + 1
    ref = quiet(lambda: NNClassifier(max_iter=best, **params).fit(X, y))
    same_weights(own, ref)


def test_own_validation_set_with_weights_for_the_regressor():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] + 0.1 * rng.standard_normal(80)
    Xv, yv = rng.standard_normal((30, 4)), rng.standard_normal(30)
    swv = rng.random(30) + 0.5
    params = dict(hidden_layer_sizes=(5,), max_iter=4, n_iter_no_change=np.inf,
                  random_state=1, learning_rate_init=0.01)
    reg = quiet(lambda: NNRegressor(early_stopping=True, **params)
                .fit(X, y, X_val=Xv, y_val=yv, sample_weight_val=swv))
    last = quiet(lambda: NNRegressor(**params).fit(X, y))
    assert reg.validation_scores_[-1] == r2_score(yv, last.predict(Xv), sample_weight=swv)
    expected = np.sum(swv * 0.5 * (last.predict(Xv) - yv) ** 2) / swv.sum()
    assert reg.validation_loss_curve_[-1] == pytest.approx(expected, rel=1e-12)


def test_validation_loss_curve_with_the_internal_split(blobs):
    X, y = blobs
    clf = quiet(lambda: NNClassifier(early_stopping=True, max_iter=5, random_state=0).fit(X, y))
    assert len(clf.validation_loss_curve_) == len(clf.validation_scores_) == clf.n_iter_
    assert np.isfinite(clf.validation_loss_curve_).all()
    assert quiet(lambda: NNClassifier(max_iter=2).fit(X, y)).validation_loss_curve_ is None


def test_own_validation_set_refusals(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="need early_stopping=True"):
        NNClassifier().fit(X, y, X_val=X, y_val=y)
    with pytest.raises(ValueError, match="need early_stopping=True"):
        NNClassifier(early_stopping=True, solver="lbfgs").fit(X, y, X_val=X, y_val=y)
    with pytest.raises(ValueError, match="y_val was not provided"):
        NNClassifier(early_stopping=True).fit(X, y, X_val=X)
    with pytest.raises(ValueError, match="X_val was not provided"):
        NNClassifier(early_stopping=True).fit(X, y, y_val=y)
    with pytest.raises(ValueError, match="y_val has classes not in y"):
        NNClassifier(early_stopping=True).fit(X, y, X_val=X[:5], y_val=[0, 1, 2, 7, 0])
    with pytest.raises(ValueError, match="X_val, y_val, sample_weight_val: X has 5 features"):
        NNClassifier(early_stopping=True).fit(X, y, X_val=X[:, :5], y_val=y)
    with pytest.raises(ValueError, match="y_val has 2 output column"):
        NNRegressor(early_stopping=True).fit(X, y.astype(float), X_val=X, y_val=np.ones((120, 2)))
    with pytest.raises(ValueError, match="sample_weight_val: sample_weight must be"):
        NNRegressor(early_stopping=True).fit(X, y.astype(float), X_val=X, y_val=y,
                                             sample_weight_val=-np.ones(120))
    with pytest.raises(ValueError, match="sample_weight_val is given without X_val"):
        NNRegressor(early_stopping=True).fit(X, y.astype(float), sample_weight_val=np.ones(3))


# ---- class_weight --------------------------------------------------------------------------

@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("class_weight", ["balanced", {"a": 0.5, "c": 4.0}])
def test_class_weight_is_the_equivalent_sample_weight(blobs, class_weight, early_stopping):
    X, y = blobs
    labels = np.array(["a", "b", "c"])[y]
    sw = np.random.default_rng(3).random(len(y)) + 0.2
    params = dict(hidden_layer_sizes=(5,), max_iter=6, random_state=0,
                  early_stopping=early_stopping)
    for given in (None, sw):
        a = quiet(lambda: NNClassifier(class_weight=class_weight, **params)
                  .fit(X, labels, sample_weight=given))
        equivalent = compute_sample_weight(class_weight, labels)
        if given is not None:
            equivalent = given * equivalent
        b = quiet(lambda: NNClassifier(**params).fit(X, labels, sample_weight=equivalent))
        same_weights(a, b)
        assert a.loss_curve_ == b.loss_curve_


def test_class_weight_binary_partial_fit_and_refusals(blobs):
    X, y = blobs
    y2 = (y == 2).astype(int)
    a = quiet(lambda: NNClassifier(class_weight="balanced", max_iter=4, random_state=0)
              .fit(X, y2))
    b = quiet(lambda: NNClassifier(max_iter=4, random_state=0)
              .fit(X, y2, sample_weight=compute_sample_weight("balanced", y2)))
    same_weights(a, b)
    # partial_fit: a dict applies to each call's samples; "balanced" needs all of y
    a = NNClassifier(class_weight={1: 3.0}, random_state=0)
    b = NNClassifier(random_state=0)
    for part in (slice(0, 60), slice(60, None)):
        a.partial_fit(X[part], y2[part], classes=[0, 1])
        b.partial_fit(X[part], y2[part], classes=[0, 1],
                      sample_weight=np.where(y2[part] == 1, 3.0, 1.0))
    same_weights(a, b)
    with pytest.raises(ValueError, match="not available in partial_fit"):
        NNClassifier(class_weight="balanced").partial_fit(X, y2, classes=[0, 1])
    with pytest.raises(ValueError, match="multi-label"):
        NNClassifier(class_weight="balanced").fit(X, np.eye(3, dtype=int)[y])
    with pytest.raises(ValueError, match="class_weight"):
        NNClassifier(class_weight="auto").fit(X, y)
    # to_sklearn: scikit-learn's MLP has no class_weight; the fitted weights carry over
    mlp = quiet(lambda: NNClassifier(class_weight="balanced", max_iter=2).fit(X, y)).to_sklearn()
    assert "class_weight" not in mlp.get_params()


# ---- divergence with early stopping --------------------------------------------------------

def test_diverging_fit_with_early_stopping_ends_as_scikit_learns():
    X, y = load_iris(return_X_y=True)
    params = dict(hidden_layer_sizes=100, activation="identity", solver="sgd",
                  learning_rate_init=1, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (RuntimeWarning, ConvergenceWarning))
        theirs = MLPRegressor(early_stopping=True, **params).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="training diverged"):
        ours = NNRegressor(early_stopping=True, **params).fit(X, y)
    assert np.isnan(ours.validation_scores_[-1]) and np.isnan(theirs.validation_scores_[-1])
    assert isinstance(ours.validation_scores_[-1], float)
    # both keep the weights of the best (finite) validation score
    assert all(np.isfinite(c).all() for c in ours.coefs_ + ours.intercepts_)
    assert all(np.isfinite(c).all() for c in theirs.coefs_ + theirs.intercepts_)
    with pytest.raises(SolverDiverged):
        NNRegressor(**params).fit(X, y)


# ---- weights assigned before any fit -------------------------------------------------------

def test_assigned_weights_then_partial_fit_take_scikit_learns_worked_step():
    """coefs_ and intercepts_ assigned to an unfitted estimator (scikit-learn's MLP allows it)
    are where partial_fit starts: one sgd step of scikit-learn's hand-worked example."""
    X, y = np.array([[0.6, 0.8, 0.7]]), np.array([0])
    kw = dict(solver="sgd", learning_rate_init=0.1, alpha=0.1, activation="logistic",
              random_state=1, max_iter=1, hidden_layer_sizes=2, momentum=0)
    results = []
    for kind in (NNClassifier, MLPClassifier):
        mlp = kind(**kw)
        mlp.coefs_ = [0] * 2
        mlp.intercepts_ = [0] * 2
        mlp.coefs_[0] = np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0]])
        mlp.coefs_[1] = np.array([[0.1], [0.2]])
        mlp.intercepts_[0] = np.array([0.1, 0.1])
        mlp.intercepts_[1] = np.array([1.0])
        mlp.n_outputs_, mlp.n_layers_, mlp.out_activation_ = 1, 3, "logistic"
        mlp.n_iter_, mlp.t_, mlp.best_loss_, mlp.loss_curve_ = 0, 0, np.inf, []
        mlp._no_improvement_count = 0
        if kind is MLPClassifier:  # scikit-learn's own fit reads these
            mlp.n_features_in_ = 3
            mlp._coef_grads = [0] * 2
            mlp._intercept_grads = [0] * 2
        mlp.partial_fit(X, y, classes=[0, 1])
        results.append(mlp)
    ours, theirs = results
    np.testing.assert_allclose(ours.coefs_[0], [[0.098, 0.195756], [0.2956664, 0.096008],
                                                [0.4939998, -0.002244]], atol=1e-3)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert ours.predict_proba(X)[0, 1] == pytest.approx(0.739, abs=1e-3)
    with pytest.raises(ValueError, match="do not fit layers"):
        bad = NNClassifier(**kw)
        bad.coefs_, bad.intercepts_ = [np.zeros((4, 2)), np.zeros((2, 1))], [np.zeros(2),
                                                                             np.zeros(1)]
        bad.partial_fit(X, y, classes=[0, 1])
