"""Threads: Python threads around one or several networks, OpenMP threads inside fit, and
fit's default thread count.

* fit and predict release the GIL (checked without timing: with the interpreter's switch
  interval set to an hour, another Python thread runs only when the GIL is released);
* two threads training two networks at once give exactly the weights of training them one
  after the other (the speed-up is measured by bench/threads.py, not here);
* one Network used by two threads at once: any number of predict/loss/gradients together, but
  fit needs it alone; anything else raises RuntimeError with a clear message at once, and never
  corrupts the weights (documented in Network's docstring and the README);
* OpenMP and the default thread count: see their sections below.
"""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import nnpy._training as training
from nnpy import Network, _load
from nnpy._dispatch import core


THREAD_TIMEOUT = 300  # seconds: a hung thread fails the test instead of hanging the suite


def _digits_like(n=600, seed=0, n_in=64, n_out=10):
    r = np.random.default_rng(seed)
    X = r.random((n, n_in)) * 16
    Y = np.eye(n_out)[r.integers(0, n_out, n)]
    return X, Y


def _run_threads(targets):
    """Starts one thread per callable, joins them; returns [(result, exception)]."""
    results = [None] * len(targets)
    barrier = threading.Barrier(len(targets))

    def run(i, target):
        barrier.wait()
        try:
            results[i] = (target(), None)
        except BaseException as err:  # noqa: B902 - reported to the test
            results[i] = (None, err)

    threads = [threading.Thread(target=run, args=(i, t), daemon=True)
               for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(THREAD_TIMEOUT)
        assert not t.is_alive(), "a thread hung"
    return results


# ---------------------------------------------------------------------------------------------
# Two networks, two threads
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [1, 10, 64])
def test_two_networks_in_two_threads_match_serial(dtype, batch_size):
    X, Y = _digits_like()
    kwargs = dict(epochs=3, lr=0.5, batch_size=batch_size, momentum=0.5)
    serial = [Network([64, 32, 10], seed=s, dtype=dtype) for s in (1, 2)]
    parallel = [net.copy() for net in serial]
    serial_hist = [net.fit(X, Y, **kwargs).loss for net in serial]
    results = _run_threads([lambda n=n: n.fit(X, Y, **kwargs) for n in parallel])
    for (hist, err), net, ref, ref_hist in zip(results, parallel, serial, serial_hist):
        assert err is None, repr(err)
        assert np.array_equal(net._flat, ref._flat)
        assert hist.loss == ref_hist
    # and predict from two threads on two networks
    outs = _run_threads([lambda n=n: n.predict(X) for n in parallel])
    for (out, err), ref in zip(outs, serial):
        assert err is None and np.array_equal(out, ref.predict(X))


def test_many_threads_many_networks():
    X, Y = _digits_like(n=200)
    nets = [Network([64, 16, 10], seed=s) for s in range(6)]
    refs = [n.copy() for n in nets]
    for r in refs:
        r.fit(X, Y, epochs=2, lr=0.5, batch_size=8)
    results = _run_threads([lambda n=n: n.fit(X, Y, epochs=2, lr=0.5, batch_size=8)
                            for n in nets])
    assert all(err is None for _, err in results)
    for n, r in zip(nets, refs):
        assert np.array_equal(n._flat, r._flat)


# ---------------------------------------------------------------------------------------------
# The GIL is released inside the core
# ---------------------------------------------------------------------------------------------

def _count_while(work, seconds=0.3):
    """Runs work() in this thread, again and again for `seconds`, while another thread counts;
    with a switch interval of an hour, the counter only advances while this thread has
    released the GIL. (Repeating keeps the count well clear of the thresholds on a busy
    machine, where one call may end before the counting thread is scheduled at all.)"""
    count = [0]
    stop = threading.Event()
    started = threading.Event()

    def counter():
        started.set()
        while not stop.is_set():
            count[0] += 1
            time.sleep(0.0005)  # releases the GIL, and takes it back only when it is free

    thread = threading.Thread(target=counter, daemon=True)
    old = sys.getswitchinterval()
    thread.start()
    started.wait()
    time.sleep(0.05)
    try:
        sys.setswitchinterval(3600.0)
        before = count[0]
        end = time.perf_counter() + seconds
        work()
        while time.perf_counter() < end:
            work()
        during = count[0] - before
    finally:
        sys.setswitchinterval(old)
        stop.set()
        thread.join(THREAD_TIMEOUT)
    return during


def test_control_pure_python_keeps_the_gil():
    # the method's control: a busy pure-Python loop of similar length lets nothing else run
    def busy():
        end = time.perf_counter() + 0.3
        while time.perf_counter() < end:
            pass
    assert _count_while(busy) <= 2


def test_predict_releases_the_gil():
    X, _ = _digits_like(n=2000, n_in=256)
    net = Network([256, 256, 10], seed=0)
    assert _count_while(lambda: net.predict(X)) > 10


def test_fit_releases_the_gil():
    X, Y = _digits_like(n=2000, n_in=128)
    net = Network([128, 256, 10], seed=0)
    assert _count_while(lambda: net.fit(X, Y, epochs=3, lr=0.1, batch_size=32)) > 10


def test_loss_and_gradients_release_the_gil():
    X, Y = _digits_like(n=1000, n_in=256)
    net = Network([256, 256, 10], seed=0)
    assert _count_while(lambda: net.gradients(X, Y)) > 10


def test_the_flat_objective_releases_the_gil():
    X, Y = _digits_like(n=1000, n_in=256)
    net = Network([256, 256, 10], activation="relu", output="softmax", seed=0)
    objective = net.objective(X, Y, alpha=1e-4)
    flat = net.get_flat_params()
    assert _count_while(lambda: objective(flat)) > 10


# ---------------------------------------------------------------------------------------------
# One network, two threads
# ---------------------------------------------------------------------------------------------

CLEAR = "thread"  # the RuntimeError's message says that another thread is using the network


def _long_fit_in_thread(net, X, Y, **kwargs):
    """Starts net.fit in a thread; returns (thread, box, in_fit) where in_fit is set once the
    first epoch ended (so fit is surely running) and box receives (history, exception)."""
    in_fit = threading.Event()
    box = []

    def callback(epoch, history):
        in_fit.set()
        return True

    def run():
        try:
            box.append((net.fit(X, Y, callback=callback, **kwargs), None))
        except BaseException as err:  # noqa: B902
            box.append((None, err))
        finally:
            in_fit.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box, in_fit


def test_second_use_during_fit_is_refused_and_fit_is_unharmed():
    X, Y = _digits_like(n=400)
    net = Network([64, 32, 10], seed=0)
    ref = net.copy()
    kwargs = dict(epochs=40, lr=0.5, batch_size=4)
    thread, box, in_fit = _long_fit_in_thread(net, X, Y, **kwargs)
    assert in_fit.wait(THREAD_TIMEOUT)
    refused = []
    if thread.is_alive():
        for name, call in [("fit", lambda: net.fit(X, Y, epochs=1, lr=0.5)),
                           ("predict", lambda: net.predict(X)),
                           ("loss", lambda: net.loss(X, Y)),
                           ("gradients", lambda: net.gradients(X, Y)),
                           ("accuracy", lambda: net.accuracy(X, Y))]:
            if not thread.is_alive():
                break
            try:
                call()
            except RuntimeError as err:
                assert CLEAR in str(err) and "fit" in str(err), str(err)
                refused.append(name)
            else:
                # only possible if fit ended in between: then the call was simply serial
                assert not thread.is_alive() or name != "fit"
    thread.join(THREAD_TIMEOUT)
    assert not thread.is_alive()
    history, err = box[0]
    assert err is None, repr(err)
    assert refused, "fit ended before the test could try a second use; make it longer"
    # the refused calls changed nothing: the weights are those of the one fit alone
    ref.fit(X, Y, callback=lambda e, h: True, **kwargs)
    assert np.array_equal(net._flat, ref._flat)
    # and the network is usable again
    net.fit(X, Y, epochs=1, lr=0.5)
    assert net.predict(X).shape == (len(X), 10)


def test_fit_during_predict_is_refused():
    X, Y = _digits_like(n=4000, n_in=128)
    net = Network([128, 128, 10], seed=0)
    ref = net.copy()
    states = [net.predict(X)]  # what a predict may see: the start, or after a completed fit
    stop = threading.Event()
    outputs, errors, predict_errors = [], [], []

    def predicting():
        while not stop.is_set():
            try:
                outputs.append(net.predict(X))
            except RuntimeError as err:  # fit got there first
                predict_errors.append(str(err))

    threads = [threading.Thread(target=predicting, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(errors) < 3:
            try:
                net.fit(X[:50], Y[:50], epochs=1, lr=0.5, shuffle=False)
            except RuntimeError as err:
                errors.append(str(err))
            else:  # it ran alone: replay it
                ref.fit(X[:50], Y[:50], epochs=1, lr=0.5, shuffle=False)
                states.append(ref.predict(X))
    finally:
        stop.set()
        for t in threads:
            t.join(THREAD_TIMEOUT)
    assert errors, "fit was never refused while two threads predicted"
    assert all(CLEAR in e for e in errors + predict_errors), errors + predict_errors
    assert np.array_equal(net._flat, ref._flat)
    # every predict saw a consistent network: never half-updated weights
    for out in outputs:
        assert any(np.array_equal(out, state) for state in states)


def test_concurrent_readers_agree():
    X, Y = _digits_like(n=3000)
    net = Network([64, 32, 10], seed=0)
    net.fit(X, Y, epochs=1, lr=0.5, batch_size=10)
    expected_out, expected_loss = net.predict(X), net.loss(X, Y)
    expected_grads = net.gradients(X, Y)
    before = net._flat.copy()

    def reader(i):
        def run():
            for _ in range(5):
                if i % 3 == 0:
                    assert np.array_equal(net.predict(X), expected_out)
                elif i % 3 == 1:
                    assert net.loss(X, Y) == expected_loss
                else:
                    for (a, b), (c, d) in zip(net.gradients(X, Y), expected_grads):
                        assert np.array_equal(a, c) and np.array_equal(b, d)
            return True
        return run

    results = _run_threads([reader(i) for i in range(6)])
    assert all(err is None and ok for ok, err in results), results
    assert np.array_equal(net._flat, before)


def test_two_fits_of_one_network_race():
    """fit + fit on one network from two threads, many times: each round, one fit may be
    refused; the weights always equal the completed fits replayed one after the other."""
    X, Y = _digits_like(n=300)
    net = Network([64, 16, 10], seed=0)
    ref = net.copy()
    kwargs = dict(epochs=2, lr=0.5, batch_size=5, shuffle=False)
    refusals = 0
    for _ in range(8):
        results = _run_threads([lambda: net.fit(X, Y, **kwargs)] * 2)
        completed = 0
        for hist, err in results:
            if err is None:
                completed += 1
            else:
                assert isinstance(err, RuntimeError) and CLEAR in str(err), repr(err)
                refusals += 1
        assert completed >= 1
        for _ in range(completed):
            ref.fit(X, Y, **kwargs)
        assert np.array_equal(net._flat, ref._flat)


def test_a_refused_fit_changes_nothing():
    X, Y = _digits_like(n=400)
    net = Network([64, 32, 10], seed=0)
    thread, box, in_fit = _long_fit_in_thread(net, X, Y, epochs=40, lr=0.5, batch_size=4)
    assert in_fit.wait(THREAD_TIMEOUT)
    rng_before = net._rng.bit_generator.state
    loss_before = net.loss_name
    refused = False
    if thread.is_alive():
        try:
            net.fit(X, Y, epochs=1, lr=0.5, loss="cross_entropy")
        except RuntimeError:
            refused = True
        rng_after, loss_after = net._rng.bit_generator.state, net.loss_name
    thread.join(THREAD_TIMEOUT)
    assert box[0][1] is None
    assert refused, "fit ended too early to test"
    assert rng_after == rng_before
    assert loss_after == loss_before


def test_the_guard_is_documented():
    doc = Network.__doc__ + (Network.fit.__doc__ or "")
    assert "thread" in doc and "RuntimeError" in doc


# =============================================================================================
# fit on several threads (OpenMP).
#
# * the weights after fit are bit-identical for any number of threads (each element of a product
#   is one sum in a fixed order; threads split C's columns, never k), float32 and float64, odd
#   sizes, every optimiser;
# * the core's product itself is bit-identical on 1 and 2 threads and agrees with numpy;
# * n_threads is checked (a positive int) before anything runs;
# * OpenMP's limit holds: threadpoolctl.threadpool_limits(1), OMP_NUM_THREADS (what joblib and
#   Dask set in their workers) and joblib's own workers cap the threads fit uses.
# No timings here (2 shared cores): bench/run.py measures the speed-up.
# =============================================================================================

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


# =============================================================================================
# fit's default thread count (n_threads=None): before each call into the core it counts the
# tasks of other processes runnable at that moment (nnpy._load, from Linux's /proc) and uses only
# the cores they leave free, so that a busy machine never makes the default slower than one
# thread (shown by the W3-load benchmark, not here: no timings on a shared machine).
#
# * the count: the machine's runnable tasks less this thread's and its OpenMP workers' (another
#   Python thread of this process counts as another task), read from a fake /proc;
# * fit asks again before every core call, uses min(free, the most it may) each time, never asks
#   for an explicit n_threads or for work too small to be split, and the weights stay
#   bit-identical however the count changes from call to call;
# * a real busy process is seen.
# =============================================================================================

linux_proc = pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="needs Linux's /proc")


def _fake_proc(tmp_path, monkeypatch, running, states):
    """/proc/loadavg with `running` runnable tasks and /proc/self/task with {tid: state}."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "loadavg").write_text(f"0.50 0.40 0.30 {running}/321 4567\n")
    tasks = tmp_path / "task"
    for tid, state in states.items():
        (tasks / str(tid)).mkdir(parents=True)
        # a command name with ") R (" in it: the state is read after the last ")"
        (tasks / str(tid) / "stat").write_text(f"{tid} (odd) R (name) {state} 1 2 3 4\n")
    monkeypatch.setattr(_load, "_LOADAVG", str(tmp_path / "loadavg"))
    monkeypatch.setattr(_load, "_TASKS", str(tasks))


def test_own_threads_are_not_counted_as_others(tmp_path, monkeypatch):
    me = threading.get_native_id()
    # this thread and an OpenMP worker running, one sleeping: 5 runnable = 3 others
    _fake_proc(tmp_path, monkeypatch, 5, {me: "R", 900001: "R", 900002: "S"})
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert _load.others_running() == 3
    assert _load.free_cores(2) == 1 and _load.free_cores(8) == 5
    _fake_proc(tmp_path / "idle", monkeypatch, 2, {me: "R", 900001: "R"})
    assert _load.others_running() == 0 and _load.free_cores(2) == 2


def test_another_python_thread_of_this_process_counts_as_another_task(tmp_path, monkeypatch):
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        me = threading.get_native_id()
        _fake_proc(tmp_path, monkeypatch, 3, {me: "R", other.native_id: "R", 900003: "R"})
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
        assert _load.others_running() == 1  # the other Python thread (a second fit)
    finally:
        stop.set()
        other.join()


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")
def test_others_are_scaled_to_the_cpus_this_process_may_use(tmp_path, monkeypatch):
    me = threading.get_native_id()
    _fake_proc(tmp_path, monkeypatch, 17, {me: "R"})  # 16 others on a 64-CPU machine
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert _load.others_running() == 1  # 16 * 4 / 64


def test_unreadable_counts_mean_every_core(tmp_path, monkeypatch):
    monkeypatch.setattr(_load, "_LOADAVG", str(tmp_path / "no-such-file"))
    assert _load.others_running() is None and _load.free_cores(4) is None
    monkeypatch.setattr(training._load, "free_cores", lambda cores: None)
    assert training.free_threads(2) == 2


def _w3_like(n=640, seed=0):
    r = np.random.default_rng(seed)
    return r.standard_normal((n, 784)), np.eye(10)[r.integers(0, 10, n)]


@pytest.fixture
def calls(monkeypatch):
    """Records the threads of every core.train call and every free-core count fit asks for;
    the free cores follow the list in calls["free"] round and round."""
    record = {"train": [], "asked": 0, "free": [2]}
    train = core.train

    def counting_train(*args):
        record["train"].append(args[-1])
        return train(*args)

    def free(cores):
        record["asked"] += 1
        return record["free"][(record["asked"] - 1) % len(record["free"])]

    monkeypatch.setattr(core, "train", counting_train)
    monkeypatch.setattr(training._load, "free_cores", free)
    monkeypatch.setattr(training, "available_cores", lambda: 2)
    return record


def test_fit_counts_free_cores_before_every_core_call(calls):
    most = training.thread_limit(None)
    X, Y = _w3_like()
    calls["free"] = [1, 2, 2, 1]
    net = Network((784, 256, 10), seed=0)
    net.fit(X, Y, epochs=3, lr=0.1, batch_size=128)
    assert len(calls["train"]) > 1 and calls["asked"] == len(calls["train"])
    expected = [min(most, calls["free"][i % 4]) for i in range(len(calls["train"]))]
    assert calls["train"] == expected


def test_explicit_n_threads_and_small_work_do_not_count(calls):
    X, Y = _w3_like(n=300)
    Network((784, 256, 10), seed=0).fit(X, Y, epochs=2, lr=0.1, batch_size=128, n_threads=2)
    r = np.random.default_rng(1)
    # W2's shape (64-32-10, batch 10): no product or loop of it is split, whatever fit allows
    Network((64, 32, 10), seed=0).fit(r.random((200, 64)), np.eye(10)[r.integers(0, 10, 200)],
                                      epochs=3, lr=0.5, batch_size=10)
    assert calls["asked"] == 0
    assert calls["train"][0] == min(2, core.max_threads())


@pytest.mark.skipif(not core.OPENMP or core.max_threads() < 2,
                    reason="needs OpenMP and two threads")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weights_are_the_same_when_the_count_changes_between_calls(calls, dtype):
    X, Y = (a.astype(dtype) for a in _w3_like())
    calls["free"] = [2, 1, 1, 2, 1]
    nets = [Network((784, 256, 10), seed=4, dtype=dtype) for _ in range(2)]
    nets[0].fit(X, Y, epochs=4, lr=0.1, batch_size=128, momentum=0.9)
    assert set(calls["train"]) == {1, 2}
    nets[1].fit(X, Y, epochs=4, lr=0.1, batch_size=128, momentum=0.9, n_threads=1)
    for a, b in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        np.testing.assert_array_equal(a, b)


@linux_proc
def test_a_busy_process_is_counted():
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.monotonic() + 60\n"
                             "while time.monotonic() < end:\n    pass\n"])
    try:
        time.sleep(0.5)
        seen = [_load.others_running() for _ in range(5)]
    finally:
        busy.kill()
        busy.wait()
    # a busy loop is runnable all the time: every count includes it (others may add to it)
    assert min(seen) >= 1
