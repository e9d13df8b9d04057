"""nnpy.estimators: scikit-learn's own estimator checks, and the behaviour they do not cover."""
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_blobs, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import nnpy  # noqa: E402
from nnpy.estimators import NNClassifier, NNRegressor  # noqa: E402


# Every check runs and must pass: there are no expected failures.
@parametrize_with_checks([NNClassifier(), NNRegressor()])
def test_sklearn_estimator_checks(estimator, check):
    if getattr(check, "func", None) is not None and \
            check.func.__name__ == "check_array_api_input" and \
            not os.environ.get("SCIPY_ARRAY_API"):
        # scipy reads SCIPY_ARRAY_API once, when it is imported, and skips this check without
        # it: run the check in a fresh interpreter with the variable set instead.
        _run_array_api_check(estimator, check)
        return
    check(estimator)


def _run_array_api_check(estimator, check):
    name, = check.args
    code = (f"from sklearn.utils.estimator_checks import check_array_api_input\n"
            f"from nnpy.estimators import {name}\n"
            f"check_array_api_input({name!r}, {name}(), **{check.keywords!r})\n")
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=240, centers=3, random_state=1)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=200, n_features=4, n_informative=2, noise=1.0,
                           random_state=0)
    return StandardScaler().fit_transform(X), y * 10 + 300  # far outside (0, 1)


# ---- classifier ---------------------------------------------------------------------------

def test_classifier_learns_and_probabilities_sum_to_one(blobs):
    X, y = blobs
    clf = NNClassifier(random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.95
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    assert clf.n_features_in_ == 2
    assert isinstance(clf.network_, nnpy.Network)
    assert clf.network_.sizes == (2, 32, 3)
    assert clf.network_.output == "softmax"


def test_classifier_string_labels_and_binary():
    X, y = make_blobs(n_samples=120, centers=2, random_state=3)
    labels = np.array(["spam", "ham"])[y]
    clf = NNClassifier(random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["ham", "spam"]
    assert clf.predict_proba(X).shape == (120, 2)
    assert set(clf.predict(X)) <= {"ham", "spam"}
    assert clf.score(X, labels) > 0.9


def test_same_random_state_same_model_and_different_state_differs(blobs):
    X, y = blobs
    a = NNClassifier(random_state=5, max_iter=20).fit(X, y)
    b = NNClassifier(random_state=5, max_iter=20).fit(X, y)
    c = NNClassifier(random_state=6, max_iter=20).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.loss_curve_ == b.loss_curve_
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_loss_curve_and_n_iter_and_tol_stop(blobs):
    X, y = blobs
    clf = NNClassifier(random_state=0, max_iter=500, tol=1e-2, n_iter_no_change=3).fit(X, y)
    assert clf.n_iter_ == len(clf.loss_curve_) < 500
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_loss_curve_ is None


def test_convergence_warning_at_max_iter(blobs):
    X, y = blobs
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        clf = NNClassifier(random_state=0, max_iter=3).fit(X, y)
    assert clf.n_iter_ == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        NNClassifier(random_state=0, max_iter=1000, tol=1e-2, n_iter_no_change=2).fit(X, y)


def test_early_stopping_restores_best_weights(blobs):
    X, y = blobs
    clf = NNClassifier(random_state=0, early_stopping=True, validation_fraction=0.25,
                       n_iter_no_change=5, max_iter=300, learning_rate_init=0.5)
    clf.fit(X, y)
    curve = clf.validation_loss_curve_
    assert len(curve) == clf.n_iter_ == len(clf.loss_curve_)
    best = int(np.argmin(curve))
    assert clf.best_loss_ == curve[best]
    # the run continued n_iter_no_change epochs past the best one, and the weights are the best
    assert best < len(curve) - 1
    # recompute the validation loss of the restored weights on the same split
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    rs = check_random_state(0)
    rs.randint(np.iinfo(np.int32).max)  # the network's seed is drawn first
    _, Xv, _, yv = train_test_split(X, y, test_size=0.25, random_state=rs, stratify=y)
    Yv = np.eye(3)[np.searchsorted(clf.classes_, yv)]
    assert clf.network_.loss(Xv, Yv) == pytest.approx(curve[best], rel=1e-12)
    assert clf.network_.loss(Xv, Yv) < curve[-1] or best == len(curve) - 1


def test_partial_fit(blobs):
    X, y = blobs
    clf = NNClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:50], y[:50])
    for start in range(0, 240, 60):
        clf.partial_fit(X[start:start + 60], y[start:start + 60], classes=[0, 1, 2])
    assert clf.n_iter_ == 4 and len(clf.loss_curve_) == 4
    for _ in range(30):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 34
    assert clf.score(X, y) > 0.9
    with pytest.raises(ValueError, match="labels not in classes_"):
        clf.partial_fit(X[:3], [0, 1, 7])
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :1], y)


def test_one_class_is_an_error():
    with pytest.raises(ValueError, match="at least 2 classes"):
        NNClassifier().fit(np.ones((5, 2)), np.zeros(5))


@pytest.mark.parametrize("param, value, error", [
    ("hidden_layer_sizes", (0,), ValueError),
    ("hidden_layer_sizes", "32", TypeError),
    ("learning_rate_init", 0.0, ValueError),
    ("batch_size", 0, ValueError),
    ("max_iter", 0, ValueError),
    ("momentum", 1.0, ValueError),
    ("validation_fraction", 1.0, ValueError),
    ("alpha", -1.0, ValueError),
    ("init", "zeros", ValueError),
    ("dtype", np.int32, TypeError),
    ("early_stopping", "yes", TypeError),
])
def test_bad_parameters_raise_in_fit(blobs, param, value, error):
    X, y = blobs
    clf = NNClassifier(**{param: value})  # __init__ stores, fit checks (scikit-learn's rule)
    with pytest.raises(error, match=param):
        clf.fit(X, y)


def test_float32_and_pickle(blobs):
    X, y = blobs
    clf = NNClassifier(random_state=0, dtype=np.float32, max_iter=30).fit(X, y)
    assert clf.network_.dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float32
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_unfitted_raises():
    with pytest.raises(NotFittedError):
        NNClassifier().predict(np.zeros((2, 2)))
    with pytest.raises(NotFittedError):
        NNRegressor().predict(np.zeros((2, 2)))


# ---- regressor ----------------------------------------------------------------------------

def test_regressor_fits_targets_outside_unit_interval(regression):
    X, y = regression
    reg = NNRegressor(random_state=0, max_iter=300).fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == y.shape
    assert reg.score(X, y) > 0.95
    assert abs(pred.mean() - y.mean()) < 0.1 * y.std()
    assert reg.network_.output == "sigmoid" and reg.network_.loss_name == "mse"


def test_regressor_range_is_bounded_by_the_scaling(regression):
    X, y = regression
    reg = NNRegressor(random_state=0, max_iter=50).fit(X, y)
    far = reg.predict(X * 1000)  # saturates every sigmoid
    lo = y.min() - 0.125 * np.ptp(y)
    hi = y.max() + 0.125 * np.ptp(y)
    assert np.all(far >= lo - 1e-9) and np.all(far <= hi + 1e-9)


def test_regressor_multi_output(regression):
    X, y = regression
    Y = np.column_stack([y, -2 * y])
    reg = NNRegressor(random_state=0, max_iter=300).fit(X, Y)
    assert reg.n_outputs_ == 2
    pred = reg.predict(X)
    assert pred.shape == (len(X), 2)
    assert reg.score(X, Y) > 0.9
    with pytest.warns(ConvergenceWarning):
        column = NNRegressor(random_state=0, max_iter=5).fit(X, y[:, None])
    assert column.predict(X).shape == (len(X), 1)


def test_regressor_constant_target():
    X = np.arange(10.0).reshape(-1, 1)
    reg = NNRegressor(random_state=0, max_iter=20).fit(X, np.full(10, 3.0))
    np.testing.assert_allclose(reg.predict(X), 3.0, atol=0.2)


def test_regressor_partial_fit_keeps_first_scaling(regression):
    X, y = regression
    reg = NNRegressor(random_state=0)
    reg.partial_fit(X, y)
    first = (reg.y_min_.copy(), reg.y_span_.copy())
    for _ in range(40):
        reg.partial_fit(X, y + 1000)
    np.testing.assert_array_equal(reg.y_min_, first[0])
    np.testing.assert_array_equal(reg.y_span_, first[1])
    assert reg.n_iter_ == 41


# ---- in scikit-learn's machinery ----------------------------------------------------------

def test_pipeline_cross_val_and_clone():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), NNClassifier(random_state=0, max_iter=100))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.85
    est = NNClassifier(hidden_layer_sizes=(8, 4), alpha=0.1)
    cloned = clone(est)
    assert cloned.get_params() == est.get_params()


def test_grid_search_sequential(blobs):
    X, y = blobs
    grid = GridSearchCV(NNClassifier(random_state=0, max_iter=30),
                        {"hidden_layer_sizes": [(4,), (16,)], "learning_rate_init": [0.05, 0.2]},
                        cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
    assert grid.best_score_ > 0.8
    assert set(grid.best_params_) == {"hidden_layer_sizes", "learning_rate_init"}


def test_verbose_prints_each_epoch(blobs, capsys):
    X, y = blobs
    with pytest.warns(ConvergenceWarning):
        NNClassifier(random_state=0, max_iter=3, verbose=True, early_stopping=True).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["Iteration 1", "Iteration 2",
                                                     "Iteration 3"]
    assert all("validation loss = " in line for line in lines)
