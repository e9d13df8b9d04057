"""Issue 11: fit on several threads (OpenMP).

* the weights after fit are bit-identical for any number of threads (each element of a product
  is one sum in a fixed order; threads split C's columns, never k), float32 and float64, odd
  sizes, every optimiser;
* the core's product itself is bit-identical on 1 and 2 threads and agrees with numpy;
* n_threads is checked (a positive int) before anything runs;
* OpenMP's limit holds: threadpoolctl.threadpool_limits(1), OMP_NUM_THREADS (what joblib and
  Dask set in their workers) and joblib's own workers cap the threads fit uses.
No timings here (2 shared cores): bench/run.py measures the speed-up.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import nnpy._training as training
from nnpy import Network
from nnpy._dispatch import core

needs_openmp = pytest.mark.skipif(not core.OPENMP, reason="the core was built without OpenMP")


def _data(n, n_in, n_out, dtype, seed=0):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, n_in)).astype(dtype)
    Y = np.eye(n_out, dtype=dtype)[r.integers(0, n_out, n)]
    return X, Y


def _fit(sizes, dtype, n_threads, batch_size, **kw):
    X, Y = _data(batch_size * 2 + 3, sizes[0], sizes[-1], dtype)
    net = Network(sizes, dtype=dtype, seed=1, **kw.pop("net", {}))
    net.fit(X, Y, epochs=2, lr=0.05, batch_size=batch_size, n_threads=n_threads, **kw)
    return net


# Shapes whose products are large enough for two threads (gemm's PARALLEL_WORK: 512K
# multiply-adds per thread) and whose widths are not multiples of the tiles.
@needs_openmp
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sizes, batch_size, kw", [
    ((784, 256, 10), 128, {}),
    ((131, 97, 13), 257, {}),
    ((301, 203, 7), 300, {"optimizer": "adam", "net": {"activation": "relu",
                                                       "output": "softmax"}}),
    ((257, 129, 65, 3), 513, {"momentum": 0.9, "nesterov": True, "l2": 1e-3,
                              "net": {"activation": "tanh"}}),
    ((33, 517, 517, 9), 200, {"alpha": 1e-2, "optimizer": "adam"}),
])
def test_weights_bit_identical_for_any_number_of_threads(dtype, sizes, batch_size, kw):
    one = _fit(sizes, dtype, 1, batch_size, **dict(kw))
    two = _fit(sizes, dtype, 2, batch_size, **dict(kw))
    for w1, w2 in zip(one.weights + one.biases, two.weights + two.biases):
        assert w1.dtype == dtype
        np.testing.assert_array_equal(w1, w2)
    # the fit did something: the weights moved from the start
    start = Network(sizes, dtype=dtype, seed=1, **kw.get("net", {}))
    assert not np.array_equal(start.weights[0], one.weights[0])


@needs_openmp
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, n, k", [(128, 256, 784), (256, 784, 128), (97, 1031, 67),
                                     (1003, 31, 300), (7, 4099, 129), (300, 300, 300),
                                     # the dot method split by rows and by columns
                                     (1200, 10, 256), (10, 2560, 128)])
@pytest.mark.parametrize("transposed", [False, True])
def test_product_bit_identical_on_two_threads(dtype, m, n, k, transposed):
    r = np.random.default_rng(m * n + k)
    a = r.standard_normal((k, m)).astype(dtype).T if transposed else \
        r.standard_normal((m, k)).astype(dtype)
    b = r.standard_normal((n, k)).astype(dtype).T  # B = W.T, as the forward pass reads it
    c0 = r.standard_normal((m, n)).astype(dtype)
    results = []
    for threads in (1, 2, 3):
        c = c0.copy()
        core.matmul(0.5, a, b, 2.0, c, np.empty(core.matmul_work_size(m, n, k, threads), dtype),
                    threads)
        results.append(c)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])
    expected = 0.5 * (a.astype(np.float64) @ b.astype(np.float64)) + 2.0 * c0
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(results[0], expected, rtol=tol, atol=tol * np.sqrt(k))


def test_product_refuses_bad_threads_and_short_work():
    a = np.ones((4, 3))
    c = np.empty((4, 4))
    with pytest.raises(ValueError, match="threads"):
        core.matmul(1.0, a, a.T, 0.0, c, np.empty(core.matmul_work_size(4, 4, 3)), 0)
    with pytest.raises(ValueError, match="work"):
        core.matmul(1.0, a, a.T, 0.0, c, np.empty(core.matmul_work_size(4, 4, 3, 1)), 4)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                        (2.0, TypeError), (True, TypeError), ("2", TypeError),
                                        ([2], TypeError)])
def test_n_threads_is_checked_before_anything_runs(bad, error):
    X, Y = _data(20, 4, 2, np.float64)
    net = Network((4, 3, 2), seed=0)
    before = [w.copy() for w in net.weights]
    with pytest.raises(error, match="n_threads"):
        net.fit(X, Y, epochs=1, lr=0.1, batch_size=5, n_threads=bad)
    for w, w0 in zip(net.weights, before):
        np.testing.assert_array_equal(w, w0)


def test_n_threads_default_and_ints():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert training.thread_limit(None) == min(cores, core.max_threads())
    assert training.thread_limit(1) == 1
    assert training.thread_limit(np.int64(1)) == 1
    assert training.thread_limit(10 ** 6) == core.max_threads()
    # any count trains, beyond the cores too (capped, never refused)
    X, Y = _data(40, 5, 2, np.float64)
    nets = []
    for n_threads in (None, 1, 2, 64):
        net = Network((5, 4, 2), seed=3)
        net.fit(X, Y, epochs=2, lr=0.1, batch_size=8, n_threads=n_threads)
        nets.append(net)
    for net in nets[1:]:
        np.testing.assert_array_equal(net.weights[0], nets[0].weights[0])


@needs_openmp
def test_threadpoolctl_limits_the_core():
    threadpoolctl = pytest.importorskip("threadpoolctl",
                                        reason='pip install "nnpy-net[test]" for threadpoolctl')
    libs = [info for info in threadpoolctl.threadpool_info() if info["user_api"] == "openmp"]
    assert libs, "threadpoolctl does not see the core's OpenMP runtime"
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert core.max_threads() == 1
        assert training.thread_limit(None) == 1
        assert training.thread_limit(8) == 1
        with threadpoolctl.threadpool_limits(limits=2, user_api="openmp"):
            assert training.thread_limit(8) == 2
    with threadpoolctl.threadpool_limits(limits=1):
        assert training.thread_limit(None) == 1


@needs_openmp
def test_omp_num_threads_caps_the_default(tmp_path):
    # joblib's loky workers and Dask's set OMP_NUM_THREADS; the default follows it
    code = ("import nnpy._training as training, nnpy._dispatch as d; "
            "print(d.core.max_threads(), training.thread_limit(None), training.thread_limit(4))")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout.split()
    assert out == ["1", "1", "1"]


def _worker_threads():
    import nnpy._training as training
    return training.thread_limit(None)


@needs_openmp
def test_joblib_workers_do_not_oversubscribe():
    joblib = pytest.importorskip("joblib", reason='pip install "nnpy-net[sklearn]" for joblib')
    n_jobs = 2
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    got = joblib.Parallel(n_jobs=n_jobs, backend="loky")(
        joblib.delayed(_worker_threads)() for _ in range(n_jobs))
    # loky gives each worker cpu_count // n_jobs threads (at least 1)
    for threads in got:
        assert 1 <= threads <= max(1, cores // n_jobs)


_COUNT_THREADS = """
import os, numpy as np
from nnpy import Network
def tasks():
    return len(os.listdir("/proc/self/task"))
r = np.random.default_rng(0)
start = tasks()
# W2's shape (64-32-10, batch 10) and W1's (2-2-1, one sample): below every threshold
net = Network((64, 32, 10), seed=0)
net.fit(r.random((100, 64)), np.eye(10)[r.integers(0, 10, 100)], epochs=2, lr=0.5,
        batch_size=10)
Network((2, 2, 1), seed=0).fit(r.random((4, 2)), r.random((4, 1)), epochs=5, lr=0.5)
small = tasks()
# W3's shape: its products are worth two threads
Network((784, 256, 10), seed=0).fit(r.random((256, 784)), np.eye(10)[r.integers(0, 10, 256)],
                                    epochs=1, lr=0.1, batch_size=128, n_threads=2)
print(start, small, tasks())
"""


@needs_openmp
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
def test_threads_start_only_for_work_that_repays_them(tmp_path):
    # OpenMP starts its worker threads at the first parallel region and keeps them: counting
    # the process's threads shows whether small fits (W1, W2) ever entered one
    env = dict(os.environ, OMP_NUM_THREADS="2")
    start, small, large = map(int, subprocess.run(
        [sys.executable, "-c", _COUNT_THREADS], env=env, capture_output=True, text=True,
        check=True, cwd=tmp_path).stdout.split())
    assert small == start
    assert large > small


_FEWER_THREADS = """
import numpy as np
from nnpy import Network
from nnpy._dispatch import core
r = np.random.default_rng(5)
a, b = r.standard_normal((200, 300)), r.standard_normal((300, 250))
products = []
for threads in (1, 2):
    c = np.zeros((200, 250))
    core.matmul(1.0, a, b, 0.0, c, np.empty(core.matmul_work_size(200, 250, 300, threads)),
                threads)
    products.append(c)
X, Y = r.standard_normal((300, 131)), np.eye(7)[r.integers(0, 7, 300)]
nets = [Network((131, 257, 7), seed=2, activation="tanh") for _ in range(2)]
for net, threads in zip(nets, (1, 2)):
    net.fit(X, Y, epochs=2, lr=0.05, batch_size=150, optimizer="adam", n_threads=threads)
same = np.array_equal(products[0], products[1]) and all(
    np.array_equal(p, q) for p, q in zip(nets[0].weights + nets[0].biases,
                                         nets[1].weights + nets[1].biases))
print(same, np.abs(products[0] - a @ b).max() < 1e-9)
"""


@needs_openmp
def test_a_region_given_fewer_threads_than_asked_still_does_all_the_work(tmp_path):
    # OMP_THREAD_LIMIT=1: every parallel region runs on one thread although two are asked for
    # (as in a region nested in another); the work is split by the threads that started, so
    # nothing is skipped and the result is the same bit for bit
    env = dict(os.environ, OMP_THREAD_LIMIT="1", OMP_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", _FEWER_THREADS], env=env, capture_output=True,
                         text=True, check=True, cwd=tmp_path).stdout.split()
    assert out == ["True", "True"]


@needs_openmp
@pytest.mark.parametrize("optimizer, lr", [("sgd", 1e308), ("adam", 1.7e308)])
def test_a_diverging_step_changes_nothing_on_any_number_of_threads(optimizer, lr):
    # the optimizer step runs in one parallel region: every thread's part is checked (a
    # barrier) before any is applied, so a first step that would overflow somewhere (SGD: where
    # |gradient| > 1.8; Adam: everywhere) is applied nowhere, exactly as on one thread
    from nnpy import TrainingDiverged
    r = np.random.default_rng(3)
    X, Y = r.standard_normal((64, 300)) * 10, np.eye(5)[r.integers(0, 5, 64)]
    start = Network((300, 120, 5), seed=4, activation="relu", output="identity")
    assert sum(w.size + b.size for w, b in zip(start.weights, start.biases)) > 2 * (1 << 14)
    for n_threads in (1, 2):  # enough parameters for two threads (PARALLEL_ELEMENTS each)
        net = start.copy()
        with pytest.raises(TrainingDiverged):
            net.fit(X, Y, epochs=1, lr=lr, batch_size=32, optimizer=optimizer,
                    n_threads=n_threads)
        for w, w0 in zip(net.weights + net.biases, start.weights + start.biases):
            np.testing.assert_array_equal(w, w0)
