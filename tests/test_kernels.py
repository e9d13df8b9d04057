"""The compiled kernels against numpy, for each dtype and each instruction-set build."""
import importlib
import os

import numpy as np
import pytest

import nnpy
from nnpy import _dispatch, _model, reference

LEVELS = _dispatch.available_levels()
CORES = [importlib.import_module(f"nnpy._core_{level}") for level in LEVELS]
DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 1e-12, np.float32: 2e-6}


@pytest.fixture(params=CORES, ids=LEVELS)
def core(request):
    return request.param


def test_the_core_is_compiled_and_dispatched():
    assert LEVELS and LEVELS[-1] == "baseline"
    assert nnpy.CPU_LEVEL == (os.environ.get("NNPY_CPU_LEVEL") or LEVELS[0])
    assert _dispatch.core.__file__.endswith((".so", ".pyd"))


def test_the_core_is_the_build_asked_for():
    """NNPY_EXPECT_DEBUG=1 (CI's debug step, whose build holds one level): every core has its
    bounds checks; otherwise none has."""
    assert _dispatch.core.__file__.endswith((".so", ".pyd"))
    expect_debug = bool(os.environ.get("NNPY_EXPECT_DEBUG"))
    assert [bool(c.DEBUG_BUILD) for c in CORES] == [expect_debug] * len(CORES)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_matches_numpy(core, dtype):
    x = np.concatenate([np.linspace(-700, 700, 20001), np.linspace(-5, 5, 1001)])
    if dtype == np.float32:
        x = x[np.abs(x) < 80]
    x = x.astype(dtype)
    out = np.empty_like(x)
    core.sigmoid_array(x, out)
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(out, exact, rtol=RTOL[dtype], atol=0)
    core.sigmoid_prime_array(x, out)
    # s * (1 - s), as the post computes it: 1 - s cancels, so the error is up to eps * s
    error = np.abs(out - exact * (1 - exact))
    assert np.all(error <= RTOL[dtype] * 10 * exact * (1 - exact) + 2 * np.finfo(dtype).eps * exact)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_extremes(core, dtype):
    x = np.array([-1e30, -746, -104, -1, 0, 1, 104, 746, 1e30, np.inf, -np.inf, np.nan], dtype)
    out = np.empty_like(x)
    core.sigmoid_array(x, out)
    assert out[0] == 0 and out[8] == 1 and out[9] == 1 and out[10] == 0 and out[4] == 0.5
    assert np.isnan(out[11])
    assert np.all((out[:11] >= 0) & (out[:11] <= 1))


def test_read_only_inputs_are_accepted(core):
    x = np.linspace(-3, 3, 7)
    x.setflags(write=False)
    out = np.empty_like(x)
    core.sigmoid_array(x, out)
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-x)), rtol=1e-12)


SHAPES = [(1, 1, 1), (2, 2, 1), (3, 5, 7), (10, 32, 64), (17, 33, 9), (128, 40, 300),
          (5, 300, 20), (0, 3, 4), (3, 4, 0), (130, 20, 2100)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("layout", ["nn", "nt", "tn", "strided"])
def test_matmul_matches_numpy(core, dtype, m, n, k, layout):
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    if layout in ("nn", "nt", "strided"):
        a = rng.standard_normal((m, k)).astype(dtype)
    else:
        a = rng.standard_normal((k, m)).astype(dtype).T
    if layout == "nt":
        b = rng.standard_normal((n, k)).astype(dtype).T
    elif layout == "strided":
        a = np.asfortranarray(a)
        b = rng.standard_normal((2 * k, 3 * n)).astype(dtype)[::2, ::3]
    else:
        b = rng.standard_normal((k, n)).astype(dtype)
    c0 = rng.standard_normal((m, n)).astype(dtype)
    work = np.empty(core.matmul_work_size(m, n, k), dtype)
    expected = 0.5 * (a.astype(np.float64) @ b.astype(np.float64)) - 2.0 * c0
    c = c0.copy()
    core.matmul(0.5, a, b, -2.0, c, work)
    scale = np.abs(a).astype(np.float64) @ np.abs(b) * 0.5 + 2 * np.abs(c0)
    assert np.all(np.abs(c - expected) <= RTOL[dtype] * 4 * (scale + 1e-30) * max(1, np.sqrt(k)))
    # beta == 0 must not read c (it may hold NaN)
    c = np.full((m, n), np.nan, dtype)
    core.matmul(1.0, a, b, 0.0, c, work)
    assert np.all(np.isfinite(c))
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=RTOL[dtype] * 10 * max(1, k),
                               atol=RTOL[dtype] * 10 * max(1, k))


def test_matmul_refuses_bad_shapes(core):
    a, b = np.ones((3, 4)), np.ones((5, 2))
    work = np.empty(core.matmul_work_size(3, 2, 4))
    with pytest.raises(ValueError):
        core.matmul(1.0, a, b, 0.0, np.empty((3, 2)), work)
    with pytest.raises(ValueError):
        core.matmul(1.0, a, np.ones((4, 2)), 0.0, np.empty((2, 3)), work)
    with pytest.raises(ValueError):
        core.matmul(1.0, np.ones((300, 300)), np.ones((300, 300)), 0.0, np.empty((300, 300)),
                    np.empty(3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_kernels_match_numpy(core, dtype):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((5, 3)).astype(dtype)
    b = rng.standard_normal((5, 1)).astype(dtype)
    a_prev = rng.standard_normal((3, 4)).astype(dtype)
    z, a = np.empty((5, 4), dtype), np.empty((5, 4), dtype)
    core.layer_forward(w, b, a_prev, z, a, np.empty(core.matmul_work_size(5, 4, 3), dtype))
    np.testing.assert_allclose(z, w @ a_prev + b, rtol=RTOL[dtype] * 10)
    np.testing.assert_allclose(a, 1 / (1 + np.exp(-(w @ a_prev + b))), rtol=RTOL[dtype] * 10)
    g = rng.standard_normal((5, 4)).astype(dtype)
    delta = np.empty((5, 4), dtype)
    core.delta_times_sigmoid_prime(-1.0, g, z, delta)
    np.testing.assert_allclose(delta, -g * a * (1 - a), rtol=RTOL[dtype] * 10)
    y = rng.standard_normal((5, 3)).astype(dtype)
    y0 = y.copy()
    core.axpy(-0.25, w, y)
    np.testing.assert_allclose(y, y0 - 0.25 * w, rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", list(_model.HIDDEN))
@pytest.mark.parametrize("output,loss", sorted(_model.PAIRS))
def test_network_kernels_match_reference(core, dtype, activation, output, loss):
    rng = np.random.default_rng(4)
    sizes = np.array([6, 9, 4, 3], np.intp)
    model = core.Model(sizes, _model.HIDDEN[activation], _model.OUTPUTS[output],
                       _model.LOSSES[loss])
    weights, biases = reference.init_params(sizes, "normal", rng, np.float64)
    flat = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(weights, biases)])
    X = rng.standard_normal((37, 6))
    Y = np.eye(3)[rng.integers(0, 3, 37)] if output == "softmax" else rng.random((37, 3))
    out = np.empty((37, 3), dtype)
    block = 8
    work = np.empty(model.work_size(block), dtype)
    core.forward(model, flat.astype(dtype), X.astype(dtype), out, work, block)
    np.testing.assert_allclose(out, reference.predict(weights, biases, X, output,
                                                      activation=activation),
                               rtol=RTOL[dtype] * 20, atol=RTOL[dtype] * 10)
    grads = np.empty(len(flat), dtype)
    value = core.loss_and_gradient(model, flat.astype(dtype), X.astype(dtype), Y.astype(dtype),
                                   np.empty(0, dtype), 0.0, grads, work, block)
    mean_loss, dW, db = reference.gradients(weights, biases, X, Y, output, loss,
                                            activation=activation)
    expected = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(dW, db)])
    assert value == pytest.approx(mean_loss, rel=RTOL[dtype] * 20)
    np.testing.assert_allclose(grads, expected, rtol=RTOL[dtype] * 100,
                               atol=RTOL[dtype] * 10 * np.abs(expected).max())


def test_levels_agree():
    rng = np.random.default_rng(9)
    a, b = rng.standard_normal((70, 300)), rng.standard_normal((300, 50))
    results = []
    for core in CORES:
        c = np.empty((70, 50))
        core.matmul(1.0, a, b, 0.0, c, np.empty(core.matmul_work_size(70, 50, 300)))
        results.append(c)
    for c in results[1:]:
        np.testing.assert_allclose(c, results[0], rtol=1e-12, atol=1e-12)


def test_shuffle_is_a_seeded_permutation(core):
    order = np.arange(1000, dtype=np.intp)
    state = np.empty(4, np.uint64)
    core.seed_rng(state, 42)
    core.permutation_step(order, state)
    assert sorted(order) == list(range(1000)) and not np.all(order == np.arange(1000))
    again = np.arange(1000, dtype=np.intp)
    core.seed_rng(state, 42)
    core.permutation_step(again, state)
    np.testing.assert_array_equal(order, again)
    # roughly uniform: each of 4 items lands in each slot about equally often
    counts = np.zeros((4, 4))
    small = np.arange(4, dtype=np.intp)
    for _ in range(4000):
        core.permutation_step(small, state)
        counts[np.arange(4), small] += 1
    assert np.all(np.abs(counts - 1000) < 150)
