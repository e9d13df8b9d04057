"""Numerics: sigmoid and the losses neither overflow nor warn for huge inputs (1e300);
training that diverges (NaN or infinite weights) stops with a clear error (TrainingDiverged)
and leaves the weights of the last finite step in place."""
import warnings

import numpy as np
import pytest

import nnpy
from nnpy import Network, TrainingDiverged, cost, reference, sigmoid, sigmoid_prime

HUGE = [1e300, -1e300, 1.7e308, -1.7e308, np.finfo(np.float64).max, -np.finfo(np.float64).max,
        1e20, -1e20, 746.0, -746.0, 710.0, -710.0, 40.0, -40.0, 0.0, -0.0, 5e-324]


@pytest.fixture(autouse=True)
def no_warnings():
    """Every test here fails on any warning, numpy floating-point ones included."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            yield


def test_sigmoid_of_huge_values():
    x = np.array(HUGE)
    s = sigmoid(x)
    assert np.all(np.isfinite(s)) and np.all((s >= 0) & (s <= 1))
    assert s[0] == 1.0 and s[1] == 0.0 and s[2] == 1.0 and s[3] == 0.0
    with np.errstate(all="ignore"):  # the comparison itself underflows on tiny values
        expected = reference.sigmoid(x)
        np.testing.assert_allclose(s, expected, rtol=1e-15, atol=0)
    assert sigmoid(1e300) == 1.0 and sigmoid(-1e300) == 0.0


def test_sigmoid_prime_of_huge_values():
    x = np.array(HUGE)
    d = sigmoid_prime(x)
    assert np.all(np.isfinite(d)) and np.all((d >= 0) & (d <= 0.25))
    assert d[0] == 0.0 and d[1] == 0.0
    assert sigmoid_prime(0.0) == 0.25


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8, bool])
def test_sigmoid_of_other_dtypes_is_float64(dtype):
    info = np.finfo(dtype) if np.dtype(dtype).kind == "f" else None
    values = [info.max, -info.max, 0] if info is not None else [0, 1]
    x = np.array(values, dtype=dtype)
    assert sigmoid(x).dtype == np.float64
    assert np.array_equal(sigmoid(x), sigmoid(x.astype(np.float64)))


def test_cost_of_huge_values_does_not_warn():
    # the mean squared difference of values near 1e300 is beyond float64: it is inf, as in
    # exact arithmetic rounded, but without an overflow warning
    assert cost(np.array([1e300]), np.array([1e300])) == 0.0
    assert cost(np.array([1e150]), np.array([0.0])) == pytest.approx(1e300, rel=1e-15)
    big = cost(np.array([1e300, -1e300]), np.array([-1e300, 1e300]))
    assert big == np.inf
    assert cost(np.array(HUGE), np.array(HUGE)) == 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("output,loss", [("sigmoid", "mse"), ("sigmoid", "cross_entropy"),
                                         ("softmax", "cross_entropy")])
def test_network_with_huge_inputs(dtype, output, loss):
    big = 1e300 if dtype == np.float64 else 1e37
    X = np.array([[big, -big, 0.0], [-big, big, 1.0], [big, big, big], [0.0, 0.0, 0.0]])
    Y = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    for sizes in ([3, 2], [3, 4, 2]):
        net = Network(sizes, output=output, loss=loss, dtype=dtype, seed=0)
        out = net.predict(X)
        assert out.dtype == dtype and np.all(np.isfinite(out))
        assert np.all((out >= 0) & (out <= 1))
        value = net.loss(X, Y)
        assert np.isfinite(value) and value >= 0
        for dw, db in net.gradients(X, Y):
            assert np.all(np.isfinite(dw)) and np.all(np.isfinite(db))


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_losses_of_saturated_outputs_are_finite(loss):
    """Outputs pinned at exactly 0 or 1 in floating point, against the opposite targets: the
    cross-entropy is taken from the pre-activations, so it stays finite (no log(0))."""
    net = Network([2, 1], loss=loss, seed=0)
    net.weights = [np.array([[1e3, 1e3]])]
    net.biases = [np.array([0.0])]
    X = np.array([[1.0, 1.0], [-1.0, -1.0]])
    Y = np.array([[0.0], [1.0]])
    value = net.loss(X, Y)
    assert np.isfinite(value)
    if loss == "cross_entropy":
        assert value == pytest.approx(2000.0)
    else:
        assert value == pytest.approx(0.5)


def test_softmax_of_huge_logits():
    net = Network([2, 3], output="softmax", seed=0)
    net.weights = [np.array([[1e300, 0.0], [0.0, 1e300], [-1e300, -1e300]])]
    out = net.predict(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert np.isfinite(net.loss(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0, 1.0]])))


def test_softmax_of_overflowing_logits_is_refused():
    """float32 pre-activations that overflow to +-inf: the true logits are unknown (only that
    they are beyond the range), so there is no limit to give: predict refuses, for one row and
    several, as loss does; finite huge logits give the softmax (exp underflows to 0)."""
    net = Network([2, 3], output="softmax", dtype=np.float32, seed=0)
    net.weights = [np.array([[3e38, 0.0], [3e38, 0.0], [-3e38, 0.0]], np.float32)]
    net.biases = [np.zeros(3, np.float32)]
    X = np.array([[10.0, 0.0], [-10.0, 0.0], [1.0, 0.0]], np.float32)
    for rows, bad in ((X, 0), (X[1:], 0), (X[0], 0), (X[1], 0), (X[[2, 1]], 1)):
        with pytest.raises(ValueError, match=f"layer 0 .*overflowed float32 for row {bad} "):
            net.predict(rows)
    with pytest.raises(ValueError, match="layer 0 .*overflowed float32 for row 0 "):
        net.loss(X[:1], [[1.0, 0.0, 0.0]])
    out = net.predict(X[2:])
    np.testing.assert_array_equal(out, [[0.5, 0.5, 0.0]])      # finite, huge: exp underflows
    np.testing.assert_array_equal(net.predict(X[2]), out[0])  # the one-sample path agrees


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation,output", [("identity", "sigmoid"), ("identity", "softmax"),
                                               ("identity", "identity"), ("relu", "identity")])
def test_outputs_that_overflow_are_a_clear_error(dtype, activation, output):
    """Finite X and weights whose products overflow the dtype (inf, or inf - inf = NaN) give a
    ValueError naming X's row and the dtype, not NaN or inf outputs; the weights are unchanged."""
    big = np.finfo(dtype).max / 2
    net = Network([2, 2, 2], activation=activation, output=output, dtype=dtype, seed=0)
    # hidden (identity): [inf, -inf]; outputs [inf + -inf = NaN, inf] (relu: [inf, inf])
    net.weights = [np.array([[4.0, 4.0], [-4.0, -4.0]], dtype),
                   np.array([[1.0, 1.0], [1.0, -1.0]], dtype)]
    before = net.get_flat_params().copy()
    X = np.array([[1.0, 1.0], [big, big]], dtype)
    for rows in (X, X[1], X[1:]):
        # the identity hidden layer's sums of two values near the limit overflow first
        with pytest.raises(ValueError, match=f"layer 0 .*overflowed {np.dtype(dtype).name} for "
                                             f"row {0 if rows.ndim == 1 or len(rows) == 1 else 1} "
                                             f"of X"):
            net.predict(rows)
    np.testing.assert_array_equal(net.get_flat_params(), before)
    assert np.all(np.isfinite(net.predict(X[:1])))


# ---------------------------------------------------------------------------------------------
# Divergence
# ---------------------------------------------------------------------------------------------

def _diverging_setup(dtype):
    """Full-batch SGD with lr * l2 = 10: every step multiplies the weights by about -9, so the
    weights overflow after a known, modest number of finite steps (~320 in float64, ~40 in
    float32)."""
    r = np.random.default_rng(0)
    X, Y = r.random((8, 3)), r.random((8, 2))
    net = Network([3, 4, 2], dtype=dtype, seed=0)
    kwargs = dict(lr=10.0, l2=1.0, batch_size=len(X), shuffle=False)
    return net, X, Y, kwargs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_divergence_stops_with_the_last_finite_weights(dtype):
    net, X, Y, kwargs = _diverging_setup(dtype)
    replay = net.copy()

    with pytest.raises(TrainingDiverged, match="diverged") as info:
        net.fit(X, Y, epochs=10_000, **kwargs)
    assert isinstance(info.value, FloatingPointError)
    assert "lr" in str(info.value)
    assert np.all(np.isfinite(net._flat))

    # replay one step (one full-batch epoch) per call: the weights must be those after the
    # last step that stayed finite, i.e. the replay's weights when its next step diverges
    steps = 0
    while True:
        try:
            replay.fit(X, Y, epochs=1, **kwargs)
        except TrainingDiverged:
            break
        steps += 1
        assert steps < 10_000
    assert steps > 5, "the setup should take several finite steps before diverging"
    assert np.array_equal(net._flat, replay._flat)
    assert np.abs(net._flat).max() > np.finfo(dtype).max / 1e3  # near overflow: not reset

    # the network stays usable: predict gives finite outputs and training can go on
    assert np.all(np.isfinite(net.predict(X)))
    net.weights = [np.clip(w, -1, 1) for w in net.weights]
    net.biases = [np.clip(b, -1, 1) for b in net.biases]
    net.fit(X, Y, epochs=2, lr=0.1)
    assert np.all(np.isfinite(net._flat))


@pytest.mark.parametrize("batch_size", [1, 3])
def test_divergence_from_huge_inputs(batch_size):
    """Inputs of 1e300 pass through predict, but a step on them makes z = W x overflow: fit
    stops with TrainingDiverged and keeps finite weights."""
    X = np.array([[1e300, 1.0], [1.0, -1e300], [1.0, 1.0]])
    Y = np.array([[0.0], [1.0], [1.0]])
    net = Network([2, 1], loss="cross_entropy", seed=0)
    with pytest.raises(TrainingDiverged):
        net.fit(X, Y, epochs=50, lr=1.0, batch_size=batch_size)
    assert np.all(np.isfinite(net._flat))


def test_divergence_with_momentum_keeps_finite_weights():
    net, X, Y, kwargs = _diverging_setup(np.float64)
    kwargs["momentum"] = 0.9
    with pytest.raises(TrainingDiverged):
        net.fit(X, Y, epochs=10_000, **kwargs)
    assert np.all(np.isfinite(net._flat))


def test_divergence_in_float32_from_an_lr_beyond_float32():
    # lr = 1e300 is a valid float64 but infinite in float32: the first step diverges and the
    # initial weights stay
    net = Network([3, 2], dtype=np.float32, seed=0)
    before = net._flat.copy()
    X, Y = np.random.default_rng(0).random((4, 3)), np.random.default_rng(1).random((4, 2))
    with pytest.raises(TrainingDiverged):
        net.fit(X, Y, epochs=3, lr=1e300)
    assert np.array_equal(net._flat, before)


def test_post_api_loop_with_huge_inputs_stays_quiet():
    params = nnpy.init_net(2, 2, 1, rng=0)
    for x in ([1e300, -1e300], [-1e300, 1e300], [1e300, 1e300]):
        nnpy.forwardPass(np.array(x), np.array([1.0]), params)
        nnpy.backPropogation(params, 0.5)
    fp = params["forwardPass"]
    assert np.all(np.isfinite(fp["A_1"]))
