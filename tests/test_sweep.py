"""Hyper-parameter sweeps over many workers: joblib's loky (processes) and threading backends,
and a Dask distributed cluster through joblib's dask backend. Each parallel sweep must give
exactly the scores of the sequential one (every fit is seeded by random_state)."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
joblib = pytest.importorskip("joblib")

from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from nnpy.estimators import NNClassifier  # noqa: E402

GRID = {"hidden_layer_sizes": [(8,), (16,)], "learning_rate_init": [0.05, 0.3]}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=300, n_features=10, n_informative=5, n_classes=3,
                               random_state=0)
    return X, y


def sweep(X, y, n_jobs=None):
    search = GridSearchCV(NNClassifier(random_state=0, max_iter=40), GRID, cv=3,
                          n_jobs=n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    return search


@pytest.fixture(scope="module")
def sequential(data):
    return sweep(*data)


def same_results(a, b):
    np.testing.assert_array_equal(a.cv_results_["mean_test_score"],
                                  b.cv_results_["mean_test_score"])
    assert a.best_params_ == b.best_params_


def test_sequential_sweep_learns(sequential):
    assert sequential.best_score_ > 0.6
    assert len(sequential.cv_results_["params"]) == 4


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_joblib_backends(data, sequential, backend):
    with joblib.parallel_backend(backend, n_jobs=2):
        parallel = sweep(*data, n_jobs=2)
    same_results(parallel, sequential)
    np.testing.assert_array_equal(parallel.predict(data[0]), sequential.predict(data[0]))


def test_dask_local_cluster(data, sequential):
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    try:
        with distributed.Client(cluster) as client:
            assert len(client.scheduler_info()["workers"]) == 2
            with distributed.get_task_stream(client) as stream, \
                    joblib.parallel_backend("dask"):
                on_cluster = sweep(*data, n_jobs=-1)
            # the fits ran as tasks on the cluster's workers
            workers = {task["worker"] for task in stream.data}
            assert stream.data  # (joblib may batch several fits into one task)
            assert workers <= set(client.scheduler_info()["workers"]) and workers
    finally:
        cluster.close()
    same_results(on_cluster, sequential)


def test_fit_releases_the_gil():
    """Why the threading backend runs fits in parallel: while the core trains, other Python
    threads run. With a switch interval of 100 s the interpreter never takes the GIL from the
    training thread, so this thread can only run again if fit itself lets go of it."""
    import sys
    import threading

    import nnpy
    rng = np.random.default_rng(0)
    X = rng.random((2000, 32))
    Y = np.eye(4)[rng.integers(0, 4, 2000)]
    net = nnpy.Network([32, 32, 4], seed=0)
    entered, done = threading.Event(), threading.Event()

    def train():
        entered.set()
        net.fit(X, Y, epochs=5, lr=0.1, batch_size=8)
        done.set()

    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        trainer = threading.Thread(target=train)
        trainer.start()
        entered.wait()
        ran_during_fit = not done.is_set()
        trainer.join()
    finally:
        sys.setswitchinterval(old)
    assert done.is_set()
    assert ran_during_fit, "this thread only ran after fit ended: the core held the GIL"
