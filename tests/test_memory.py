"""Memory: 10,000 predict calls and 100 fit calls grow traced memory (tracemalloc, which
sees numpy's allocations) by less than 1 MB and resident memory by less than 10 MB. Also the
post's API in a loop, and the workspace of one large batch (it must grow linearly with the
batch, not quadratically)."""
import gc
import os
import tracemalloc

import numpy as np
import pytest

import nnpy
from nnpy import Network

TRACED_BAR = 1 << 20     # 1 MB
RESIDENT_BAR = 10 << 20  # 10 MB


def resident_bytes():
    """Resident set size of this process now (Linux /proc), or None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def growth(step, repeats, warmup=50):
    """(traced growth, resident growth or None) over `repeats` calls of step(i), measured after
    `warmup` calls (so caches, interned objects and numpy's small-array pools exist already)."""
    for i in range(warmup):
        step(i)
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(warmup):
            step(i)
        gc.collect()
        traced0 = tracemalloc.get_traced_memory()[0]
        rss0 = resident_bytes()
        for i in range(repeats):
            step(i)
        gc.collect()
        traced1 = tracemalloc.get_traced_memory()[0]
        rss1 = resident_bytes()
    finally:
        tracemalloc.stop()
    return traced1 - traced0, (None if rss0 is None else rss1 - rss0)


def check(traced, resident):
    assert traced < TRACED_BAR, f"traced memory grew by {traced / 1e6:.2f} MB"
    if resident is not None:
        assert resident < RESIDENT_BAR, f"resident memory grew by {resident / 1e6:.2f} MB"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_10000_predict_calls(dtype):
    r = np.random.default_rng(0)
    net = Network([64, 32, 10], seed=0, dtype=dtype)
    one, batch, big = r.random(64), r.random((37, 64)), r.random((600, 64))
    inputs = [one, batch, big, np.asfortranarray(batch), one.astype(np.float32), batch[:3].tolist()]

    def step(i):
        out = net.predict(inputs[i % len(inputs)])
        assert out.shape[-1] == 10

    check(*growth(step, 10_000))


def test_100_fit_calls():
    r = np.random.default_rng(0)
    X, Y = r.random((200, 64)), np.eye(10)[r.integers(0, 10, 200)]
    Xv, Yv = X[:20], Y[:20]
    net = Network([64, 32, 10], seed=0)
    settings = [dict(batch_size=10), dict(batch_size=1, momentum=0.9), dict(batch_size=200),
                dict(batch_size=7, l2=1e-3, callback=lambda e, h: True)]

    def step(i):
        net.fit(X, Y, epochs=2, lr=0.1, **settings[i % len(settings)])

    check(*growth(step, 100, warmup=8))


def test_100_fit_calls_softmax_float32():
    r = np.random.default_rng(1)
    X, Y = r.random((150, 20)), np.eye(4)[r.integers(0, 4, 150)]
    net = Network([20, 16, 4], output="softmax", dtype=np.float32, seed=0)
    check(*growth(lambda i: net.fit(X, Y, epochs=1, lr=0.1, batch_size=16), 100, warmup=8))


def test_loss_gradients_and_errors_do_not_leak():
    r = np.random.default_rng(2)
    X, Y = r.random((50, 64)), r.random((50, 10))
    bad = X.copy()
    bad[3, 3] = np.nan
    net = Network([64, 32, 10], seed=0)

    def step(i):
        net.loss(X, Y)
        net.gradients(X, Y)
        for call in (lambda: net.predict(bad), lambda: net.fit(X, Y[:-1], epochs=1, lr=0.1),
                     lambda: net.predict(np.ones((2, 3)))):
            try:
                call()
            except ValueError:
                pass

    check(*growth(step, 1000))


def test_post_api_loop():
    params = nnpy.init_net(2, 2, 1, rng=0)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    Y = np.array([0, 1, 1, 0], dtype=float)

    def step(i):
        nnpy.forwardPass(X[i % 4], Y[i % 4], params)
        nnpy.backPropogation(params, 0.125)
        nnpy.sigmoid(X)
        nnpy.cost(params["forwardPass"]["A_1"], Y[i % 4])

    check(*growth(step, 3000, warmup=200))


def test_one_large_batch_has_a_linear_workspace():
    r = np.random.default_rng(3)
    n = 10_000
    X, Y = r.random((n, 64)), r.random((n, 10))  # 5.6 MB of data
    net = Network([64, 32, 10], seed=0)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        net.fit(X, Y, epochs=1, lr=0.1, batch_size=n)
        net.gradients(X, Y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100e6, f"peak traced memory {peak / 1e6:.0f} MB for {X.nbytes / 1e6:.1f} MB of data"
