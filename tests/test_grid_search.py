"""NNGridSearchCV against scikit-learn's GridSearchCV on the same estimator, grid and splits:
the same cv_results_ scores, ranks and best parameters (the stacked members follow their lone
fits bit for bit), on classifiers and regressors, with and without stacking; its interface;
and a run on a Dask LocalCluster."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
joblib = pytest.importorskip("joblib")

from sklearn.datasets import load_digits, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning  # noqa: E402
from sklearn.metrics import make_scorer, mean_absolute_error  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from nnpy.estimators import NNClassifier, NNGridSearchCV, NNRegressor  # noqa: E402


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:240] / 16, y[:240]


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(160, 5, noise=5.0, random_state=0)
    return X, y / 100


def both(estimator, grid, X, y, **options):
    """GridSearchCV's and NNGridSearchCV's searches, fitted."""
    ours = NNGridSearchCV(estimator, grid, **options).fit(X, y)
    theirs = GridSearchCV(estimator, grid, **options).fit(X, y)
    return ours, theirs


def assert_same_results(ours, theirs):
    a, b = ours.cv_results_, theirs.cv_results_
    assert sorted(a) == sorted(b)
    assert a["params"] == b["params"]
    for key in b:
        if key.startswith("param_"):
            assert list(a[key]) == list(b[key]), key
        elif ("_score" in key or key.startswith("rank_")) and "time" not in key:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        elif key.endswith("_time"):
            assert a[key].shape == b[key].shape and np.all(a[key] >= 0)
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_index_ == theirs.best_index_
    np.testing.assert_array_equal(ours.best_score_, theirs.best_score_)
    assert ours.n_splits_ == theirs.n_splits_


def test_classifier_adam_grid_one_stack_per_split(digits):
    X, y = digits
    grid = {"learning_rate_init": [1e-3, 1e-2], "alpha": [1e-4, 1e-1]}
    ours, theirs = both(NNClassifier((8,), max_iter=12, random_state=0), grid, X, y, cv=3)
    assert_same_results(ours, theirs)
    assert ours.n_stacks_ == 3   # the 4 points share a stack on each of the 3 splits
    assert ours.best_score_ > 0.3
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_array_equal(ours.predict_proba(X), theirs.predict_proba(X))
    assert ours.score(X, y) == theirs.score(X, y)


def test_dropout_and_regression_losses_reach_the_stacked_members(digits, regression):
    """Settings the stacked fit passes to each member's training (dropout) or its network
    (the regressor's loss and huber_delta) give GridSearchCV's results."""
    X, y = digits
    grid = {"learning_rate_init": [1e-3, 1e-2]}
    ours, theirs = both(NNClassifier((8,), max_iter=5, random_state=0, dropout=0.3), grid,
                        X, y, cv=3)
    assert_same_results(ours, theirs)
    X, y = regression
    grid = {"alpha": [1e-4, 1e-2]}
    regressor = NNRegressor("huber", hidden_layer_sizes=(6,), max_iter=5, random_state=0,
                            huber_delta=0.05)
    ours, theirs = both(regressor, grid, X, y, cv=3)
    assert_same_results(ours, theirs)


def test_classifier_default_settings(digits):
    """The estimator's defaults (adam, tol/n_iter_no_change convergence, no early stopping)
    with a small network and max_iter: members that converge at different epochs."""
    X, y = digits
    grid = {"learning_rate_init": [0.01, 0.3], "beta_1": [0.8, 0.9], "epsilon": [1e-8, 1e-4]}
    estimator = NNClassifier((6,), max_iter=60, random_state=3, tol=1e-3, n_iter_no_change=3)
    ours, theirs = both(estimator, grid, X, y, cv=3)
    assert_same_results(ours, theirs)
    n_iter = {ours.cv_results_["params"][i]["learning_rate_init"]:
              NNClassifier(**{**estimator.get_params(), **ours.cv_results_["params"][i]})
              .fit(X, y).n_iter_ for i in (0, 7)}
    assert len(set(n_iter.values())) == 2   # the members stop apart


def test_classifier_sgd_schedules_and_several_stacks(digits):
    X, y = digits
    grid = {"momentum": [0.0, 0.9], "learning_rate": ["constant", "invscaling", "adaptive"],
            "hidden_layer_sizes": [(5,), (7,)], "learning_rate_init": [0.05]}
    estimator = NNClassifier(solver="sgd", max_iter=25, random_state=1, tol=1e-2,
                             n_iter_no_change=2, batch_size=32)
    ours, theirs = both(estimator, grid, X, y, cv=KFold(3, shuffle=True, random_state=0),
                        return_train_score=True, scoring="balanced_accuracy")
    assert_same_results(ours, theirs)
    assert ours.n_stacks_ == 2 * 3   # one per hidden_layer_sizes and split


@pytest.mark.parametrize("shuffle, stacks_per_split", [(True, 2), (False, 1)])
def test_random_state_in_the_grid(digits, shuffle, stacks_per_split):
    """Seeds share a stack where they only draw the initial weights (shuffle=False); where
    they also order the rows, each seed has its own."""
    X, y = digits
    grid = {"random_state": [0, 1], "learning_rate_init": [1e-3, 1e-2]}
    ours, theirs = both(NNClassifier((6,), max_iter=8, shuffle=shuffle), grid, X, y, cv=3)
    assert_same_results(ours, theirs)
    assert ours.n_stacks_ == stacks_per_split * 3


def test_regressor_with_fallbacks_and_sample_weight(regression):
    """sgd and adam stacked; lbfgs, early stopping and random_state=None fitted one by one;
    sample_weight split with the rows."""
    X, y = regression
    grid = [{"solver": ["sgd", "adam", "lbfgs"], "alpha": [1e-4, 1.0],
             "momentum": [0.5, 0.9]},
            {"early_stopping": [True], "learning_rate_init": [0.01, 0.05]}]
    estimator = NNRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0,
                            learning_rate_init=0.01)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    cv = KFold(4, shuffle=True, random_state=0)
    ours = NNGridSearchCV(estimator, grid, cv=cv, return_train_score=True).fit(
        X, y, sample_weight=weights)
    theirs = GridSearchCV(estimator, grid, cv=cv, return_train_score=True).fit(
        X, y, sample_weight=weights)
    assert_same_results(ours, theirs)
    assert ours.n_stacks_ == 2 * 4   # sgd and adam, each over the 4 splits


def test_scoring_callable_and_refit_false(regression):
    X, y = regression
    grid = {"alpha": [1e-4, 1e-2], "learning_rate_init": [1e-3, 1e-2]}
    scorer = make_scorer(mean_absolute_error, greater_is_better=False)
    ours, theirs = both(NNRegressor(hidden_layer_sizes=(6,), max_iter=10, random_state=0),
                        grid, X, y, cv=3, scoring=scorer, refit=False)
    assert_same_results(ours, theirs)
    assert not hasattr(ours, "best_estimator_")
    assert ours.scorer_ is scorer


def test_multimetric(regression):
    X, y = regression
    grid = {"alpha": [1e-4, 1e-2]}
    scoring = {"r2": "r2", "mae": "neg_mean_absolute_error"}
    ours, theirs = both(NNRegressor(hidden_layer_sizes=(6,), max_iter=8, random_state=0),
                        grid, X, y, cv=3, scoring=scoring, refit="mae")
    assert_same_results(ours, theirs)
    assert ours.multimetric_ and set(ours.scorer_) == {"r2", "mae"}


def test_pipeline_is_fitted_one_by_one(digits):
    X, y = digits
    grid = {"nnclassifier__alpha": [1e-4, 1e-1]}
    pipe = make_pipeline(StandardScaler(), NNClassifier((6,), max_iter=5, random_state=0))
    ours, theirs = both(pipe, grid, X, y, cv=3)
    assert_same_results(ours, theirs)
    assert ours.n_stacks_ == 0


def test_diverging_member_fails_alone(regression):
    X, y = regression
    X, y = X, y * 100
    grid = {"learning_rate_init": [1e-3, 1e4]}
    estimator = NNRegressor(hidden_layer_sizes=(6,), solver="sgd", momentum=0.0, max_iter=5,
                            random_state=0)
    with pytest.warns(FitFailedWarning):
        ours = NNGridSearchCV(estimator, grid, cv=3).fit(X, y)
    with pytest.warns(FitFailedWarning):
        theirs = GridSearchCV(estimator, grid, cv=3).fit(X, y)
    assert_same_results(ours, theirs)
    assert np.isnan(ours.cv_results_["mean_test_score"][1])
    with pytest.raises(ValueError, match="non-finite"):
        NNGridSearchCV(estimator, grid, cv=3, error_score="raise").fit(X, y)


def test_bad_arguments(digits):
    X, y = digits
    with pytest.raises(ValueError, match="cv"):
        NNGridSearchCV(NNClassifier(), {"alpha": [1e-4]}, cv=0).fit(X, y)
    with pytest.raises(TypeError, match="alpha"):
        NNGridSearchCV(NNClassifier(), {"alpha": 1e-4}).fit(X, y)
    with pytest.raises(TypeError):
        NNGridSearchCV(NNClassifier(), {"alpha": [1e-4]}, scoring=3).fit(X, y)


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_joblib_backends(digits, backend):
    X, y = digits
    grid = {"learning_rate_init": [1e-3, 1e-2], "hidden_layer_sizes": [(4,), (6,)]}
    estimator = NNClassifier(max_iter=5, random_state=0)
    sequential = NNGridSearchCV(estimator, grid, cv=3).fit(X, y)
    with joblib.parallel_backend(backend, n_jobs=2):
        parallel = NNGridSearchCV(estimator, grid, cv=3, n_jobs=2).fit(X, y)
    assert_same_results(parallel, sequential)


def test_dask_local_cluster(digits):
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not "
                                                            "installed")
    X, y = digits
    grid = {"learning_rate_init": [1e-3, 1e-2], "hidden_layer_sizes": [(4,), (6,)]}
    estimator = NNClassifier(max_iter=5, random_state=0)
    sequential = GridSearchCV(estimator, grid, cv=3).fit(X, y)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    try:
        with distributed.Client(cluster) as client:
            with distributed.get_task_stream(client) as stream, \
                    joblib.parallel_backend("dask"):
                on_cluster = NNGridSearchCV(estimator, grid, cv=3, n_jobs=-1).fit(X, y)
            workers = {task["worker"] for task in stream.data}
            assert workers and workers <= set(client.scheduler_info()["workers"])
    finally:
        cluster.close()
    assert_same_results(on_cluster, sequential)
    assert on_cluster.n_stacks_ == 2 * 3
