"""Issue 6, item 5: threads.

* fit and predict release the GIL (checked without timing: with the interpreter's switch
  interval set to an hour, another Python thread runs only when the GIL is released);
* two threads training two networks at once give exactly the weights of training them one
  after the other (the speed-up is measured by bench/threads.py, not here);
* one Network used by two threads at once: any number of predict/loss/gradients together, but
  fit needs it alone; anything else raises RuntimeError with a clear message at once, and never
  corrupts the weights (documented in Network's docstring and the README).
"""
import sys
import threading
import time

import numpy as np
import pytest

from nnpy import Network

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
