"""NNEnsembleClassifier / NNEnsembleRegressor: scikit-learn's estimator checks, member 0 equal
to a lone NNClassifier / NNRegressor fit, the mean and spread against the members'
predictions computed one by one, bootstrap weights and the one-by-one fallback."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from nnpy.estimators import (NNClassifier, NNEnsembleClassifier,  # noqa: E402
                             NNEnsembleRegressor, NNRegressor)


@parametrize_with_checks([NNEnsembleClassifier(n_estimators=2),
                          NNEnsembleRegressor(n_estimators=2)])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_estimator_checks(estimator, check):
    if getattr(check, "func", None) is not None and \
            check.func.__name__ == "check_array_api_input" and \
            not os.environ.get("SCIPY_ARRAY_API"):
        # scipy reads SCIPY_ARRAY_API at import: run the check in a fresh interpreter
        name, = check.args
        code = (f"import warnings\n"
                f"from sklearn.exceptions import ConvergenceWarning\n"
                f"warnings.simplefilter('ignore', ConvergenceWarning)\n"
                f"from sklearn.utils.estimator_checks import check_array_api_input\n"
                f"from nnpy.estimators import {name}\n"
                f"check_array_api_input({name!r}, {name}(n_estimators=2), "
                f"**{check.keywords!r})\n")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=dict(os.environ, SCIPY_ARRAY_API="1"), timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return
    check(estimator)


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(150, 4, noise=3.0, random_state=0)
    return X, y / 50


PARAMS = dict(hidden_layer_sizes=(8,), max_iter=30, learning_rate_init=0.01, random_state=4)


def test_regressor_mean_and_spread(regression):
    X, y = regression
    ens = NNEnsembleRegressor(**PARAMS, n_estimators=4).fit(X, y)
    assert len(ens.estimators_) == 4
    members = np.array([m.predict(X) for m in ens.estimators_])
    mean, std = ens.predict(X, return_std=True)
    np.testing.assert_allclose(mean, members.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(std, members.std(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ens.predict(X), mean)
    assert mean.shape == std.shape == (len(X),) and np.all(std > 0)
    # member 0 is the lone fit with the same random_state, bit for bit
    lone = NNRegressor(**PARAMS).fit(X, y)
    np.testing.assert_array_equal(ens.estimators_[0].network_.get_flat_params(),
                                  lone.network_.get_flat_params())
    assert ens.estimators_[0].loss_curve_ == lone.loss_curve_
    # the others start from their own seeds' weights
    assert [m.random_state for m in ens.estimators_] == [4, 5, 6, 7]
    assert ens.score(X, y) > 0.8


def test_regressor_two_outputs(regression):
    X, y = regression
    Y = np.column_stack([y, -y])
    mean, std = NNEnsembleRegressor(**PARAMS, n_estimators=3).fit(X, Y).predict(
        X, return_std=True)
    assert mean.shape == std.shape == (len(X), 2)


def test_classifier_mean_probabilities_and_spread(iris):
    X, y = iris
    ens = NNEnsembleClassifier(**PARAMS, n_estimators=3).fit(X, y)
    members = np.array([m.predict_proba(X) for m in ens.estimators_])
    proba, proba_std = ens.predict_proba(X, return_std=True)
    np.testing.assert_allclose(proba, members.mean(0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(proba_std, members.std(0), rtol=1e-12, atol=1e-15)
    labels, spread = ens.predict(X, return_std=True)
    np.testing.assert_array_equal(labels, ens.classes_[proba.argmax(1)])
    chosen = proba.argmax(1)
    np.testing.assert_allclose(spread, proba_std[np.arange(len(X)), chosen], atol=1e-15)
    lone = NNClassifier(**PARAMS).fit(X, y)
    np.testing.assert_array_equal(ens.estimators_[0].predict_proba(X), lone.predict_proba(X))
    assert ens.score(X, y) > 0.8


def test_binary_string_labels(iris):
    X, y = iris
    names = np.array(["no", "yes"])[(y == 2).astype(int)]
    ens = NNEnsembleClassifier(**PARAMS, n_estimators=2).fit(X, names)
    labels, spread = ens.predict(X, return_std=True)
    assert set(labels) <= {"no", "yes"} and spread.shape == (len(X),)
    assert ens.predict_proba(X).shape == (len(X), 2)


def test_bootstrap_members_weight_their_draws(regression):
    """bootstrap=True: member k is the lone fit with sample_weight = its bootstrap counts
    (the row order of member 0's random_state)."""
    X, y = regression
    ens = NNEnsembleRegressor(**PARAMS, n_estimators=3, bootstrap=True).fit(X, y)
    draws = np.random.RandomState(4).randint(0, len(X), (3, len(X)))
    counts = np.array([np.bincount(row, minlength=len(X)) for row in draws], float)
    lone = NNRegressor(**PARAMS).fit(X, y, sample_weight=counts[0])
    np.testing.assert_array_equal(ens.estimators_[0].network_.get_flat_params(),
                                  lone.network_.get_flat_params())
    plain = NNEnsembleRegressor(**PARAMS, n_estimators=3).fit(X, y)
    assert not np.array_equal(plain.predict(X), ens.predict(X))


@pytest.mark.parametrize("extra", [dict(loss="huber", huber_delta=0.5, dropout=0.2),
                                   dict(loss="absolute_error"), dict(loss="poisson")],
                         ids=["huber-dropout", "absolute_error", "poisson"])
def test_regressor_members_take_the_losses_and_dropout(regression, extra):
    """loss, huber_delta and dropout reach every member: member 0 is the lone fit with them,
    bit for bit."""
    X, y = regression
    if extra["loss"] == "poisson":
        y = np.exp(y / 4)   # counts' scale: positive targets
    ens = NNEnsembleRegressor(**PARAMS, **extra, n_estimators=3).fit(X, y)
    for name, value in extra.items():
        assert all(getattr(m, name) == value for m in ens.estimators_), name
    lone = NNRegressor(**PARAMS, **extra).fit(X, y)
    np.testing.assert_array_equal(ens.estimators_[0].network_.get_flat_params(),
                                  lone.network_.get_flat_params())
    assert ens.estimators_[0].loss_curve_ == lone.loss_curve_
    mean = ens.predict(X)
    if extra["loss"] == "poisson":
        assert np.all(mean > 0)   # the exp output
    plain = NNEnsembleRegressor(**PARAMS, n_estimators=3).fit(X, y)
    assert not np.array_equal(plain.predict(X), mean)


def test_classifier_members_take_dropout(iris):
    X, y = iris
    ens = NNEnsembleClassifier(**PARAMS, dropout=0.3, n_estimators=2).fit(X, y)
    assert [m.dropout for m in ens.estimators_] == [0.3, 0.3]
    lone = NNClassifier(**PARAMS, dropout=0.3).fit(X, y)
    np.testing.assert_array_equal(ens.estimators_[0].predict_proba(X), lone.predict_proba(X))
    plain = NNClassifier(**PARAMS).fit(X, y)
    assert not np.array_equal(lone.predict_proba(X), plain.predict_proba(X))


def test_lbfgs_members_one_by_one(regression):
    X, y = regression
    params = dict(PARAMS, solver="lbfgs")
    ens = NNEnsembleRegressor(**params, n_estimators=2).fit(X, y)
    for k, member in enumerate(ens.estimators_):
        lone = NNRegressor(**dict(params, random_state=4 + k)).fit(X, y)
        np.testing.assert_array_equal(member.predict(X), lone.predict(X))


def test_bad_arguments(regression):
    X, y = regression
    with pytest.raises(ValueError, match="n_estimators"):
        NNEnsembleRegressor(n_estimators=0).fit(X, y)
    with pytest.raises(ValueError, match="bootstrap"):
        NNEnsembleRegressor(bootstrap="yes").fit(X, y)
    with pytest.raises(ValueError, match="learning_rate_init"):
        NNEnsembleRegressor(learning_rate_init=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="loss"):
        NNEnsembleRegressor(loss="hinge").fit(X, y)
    with pytest.raises(ValueError, match="dropout"):
        NNEnsembleClassifier(dropout=1.0).fit(X, y > 0)
