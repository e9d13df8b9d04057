"""Every activation and its derivative within a few ulp (relative) of the exact value, over the
whole range (subnormals to the overflow range, both signs), in float32 and float64, on every
built core level, through the public entry points: predict's batch path and its one-sample
path (the small widths' sized copies and the general per-sample loops), the gradients, fit's
per-sample step, the post's API and the C export.

The exact values: np.tanh and the sigmoid in long double (float64's 53 bits are checked
against 64 bits). A derivative is computed from the activation's value a (as torch does), so its
accuracy is that of its formula as a function of the a it is given: a*(1 - a) for the sigmoid,
1 - a*a for tanh, compared with the same formula evaluated exactly from the same a."""
import importlib
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import nnpy
import nnpy.post
from nnpy import Network, _dispatch, _model
from nnpy.export import to_c

LEVELS = _dispatch.available_levels()
EXACT = np.longdouble
# float64 is checked against long double where it has more bits (x86's 64, aarch64's 113);
# where it is double itself (Windows, macOS) float64's exact values are not at hand
DTYPES = [np.float32, pytest.param(np.float64, marks=pytest.mark.skipif(
    np.finfo(EXACT).nmant < 60, reason="long double is double here: no exact float64 values"))]
ULPS = 3.0          # activations and derivatives: a few ulp (measured: at most 2.5)


@pytest.fixture(params=LEVELS)
def level(request, monkeypatch):
    """Runs the test with the core of one level behind the public API (as NNPY_CPU_LEVEL
    would, for this process only)."""
    core = importlib.import_module(f"nnpy._core_{request.param}")
    default = _dispatch.core
    for module in [m for name, m in sorted(sys.modules.items())
                   if name.startswith("nnpy.") and getattr(m, "core", None) is default]:
        monkeypatch.setattr(module, "core", core)
    return request.param


def grid(dtype, n=20001):
    """Log-spaced magnitudes from the smallest subnormal to the largest finite value, denser
    linear steps over [0, 20] where the activations bend, both signs, and the zeros."""
    info = np.finfo(dtype)
    with np.errstate(over="ignore"):
        magnitudes = np.geomspace(float(info.smallest_subnormal), float(info.max), n)
    magnitudes = np.concatenate([magnitudes, np.linspace(0, 20, n // 4),
                                 [info.smallest_subnormal, info.smallest_normal, info.max]])
    magnitudes = np.unique(magnitudes.astype(dtype))
    return np.concatenate([magnitudes, -magnitudes])


def ulp_error(got, exact, dtype):
    """|got - exact| in ulps of the exact value (the subnormals' ulp below the normal range)."""
    info = np.finfo(dtype)
    exact = np.asarray(exact, EXACT)
    size = np.maximum(np.abs(exact), EXACT(info.smallest_normal))
    ulp = np.ldexp(EXACT(1), (np.floor(np.log2(size)) - info.nmant).astype(int))
    return np.abs(np.asarray(got, EXACT) - exact) / ulp


def exact_activation(name, x):
    x = np.asarray(x, EXACT)
    if name == "sigmoid":
        with np.errstate(over="ignore"):
            return 1 / (1 + np.exp(-x))
    if name == "tanh":
        return np.tanh(x)
    if name == "relu":
        return np.maximum(x, 0)
    return x


def exact_derivative(name, a):
    a = np.asarray(a, EXACT)
    if name == "sigmoid":
        return a * (1 - a)
    if name == "tanh":  # 1 - a*a, exact in long double (a*a would round there too)
        return (1 - a) * (1 + a)
    if name == "relu":
        return (a > 0).astype(EXACT)
    return np.ones_like(a)


def assert_within(got, exact, dtype, what, ulps=ULPS):
    got, exact = np.ravel(got), np.ravel(exact)
    error = ulp_error(got, exact, dtype)
    worst = int(np.argmax(error))
    assert error[worst] <= ulps, (
        f"{what}: {error[worst]:.3g} ulp off (at index {worst}: got {got.flat[worst]!r}, "
        f"exact {float(exact.flat[worst])!r})")


def unit_network(sizes, dtype, **kinds):
    """A network that passes x through unchanged but for its activations: each layer's first
    unit computes 1 * (its first input) + 0, the others weight 1 from it (the hidden layer of a
    1-5-1 network: five copies) and 0 into the next layer."""
    net = Network(sizes, dtype=dtype, seed=0, **kinds)
    flat = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w = np.zeros((n_out, n_in))
        w[:, 0] = 1 if n_in == 1 else 0
        w[0, 0] = 1
        flat += [w.ravel(), np.zeros(n_out)]
    net.set_flat_params(np.concatenate(flat))
    return net


ELEMENTWISE = ["sigmoid", "tanh", "relu", "identity"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ELEMENTWISE)
@pytest.mark.parametrize("sizes", [(1, 1, 1), (1, 5, 1)], ids=["sized", "any-width"])
def test_hidden_activation_predict(level, activation, dtype, sizes):
    net = unit_network(sizes, dtype, activation=activation, output="identity")
    x = grid(dtype)
    exact = exact_activation(activation, x)
    batch = net.predict(x.reshape(-1, 1)).ravel()
    assert_within(batch, exact, dtype, f"{activation} hidden, batch")
    picks = np.linspace(0, len(x) - 1, 1500).astype(int)
    one = np.array([net.predict(x[i:i + 1])[0] for i in picks])
    assert_within(one, exact[picks], dtype, f"{activation} hidden, one sample")
    # one sample's arithmetic is the batch's: the same values bit for bit
    np.testing.assert_array_equal(one, batch[picks])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output", ["sigmoid", "identity"])
def test_output_activation_predict(level, output, dtype):
    net = unit_network((1, 1), dtype, output=output)
    x = grid(dtype)
    exact = exact_activation(output, x)
    batch = net.predict(x.reshape(-1, 1)).ravel()
    assert_within(batch, exact, dtype, f"{output} output, batch")
    picks = np.linspace(0, len(x) - 1, 1500).astype(int)
    one = np.array([net.predict(x[i])[0] for i in picks])
    np.testing.assert_array_equal(one, batch[picks])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_output_predict(level, dtype):
    # logits (x, 0): softmax is (sigmoid(x), sigmoid(-x)), the maximum subtracted exactly
    net = Network([1, 2], output="softmax", dtype=dtype, seed=0)
    net.set_flat_params([1, 0, 0, 0])
    x = grid(dtype)
    exact = np.stack([exact_activation("sigmoid", x), exact_activation("sigmoid", -x)], 1)
    batch = net.predict(x.reshape(-1, 1))
    assert_within(batch, exact, dtype, "softmax, batch")
    picks = np.linspace(0, len(x) - 1, 1500).astype(int)
    one = np.array([net.predict(x[i:i + 1]) for i in picks])
    np.testing.assert_array_equal(one, batch[picks])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width", [3, 9], ids=["sized", "any-width"])
def test_softmax_of_spread_logits(level, dtype, width):
    # logits far below the row's maximum: z - max rounded would cost up to |z - max| * 2^-53 of
    # relative error (hundreds of ulp near -700); an identity layer passes X through as logits
    net = Network([width, width], output="softmax", dtype=dtype, seed=0)
    net.set_flat_params(np.concatenate([np.eye(width).ravel(), np.zeros(width)]))
    rng = np.random.default_rng(3)
    reach = 700 if dtype == np.float64 else 100  # where the smallest outputs are still normal
    X = (rng.uniform(1, 10, (4000, 1)) - rng.uniform(0, reach, (4000, width))).astype(dtype)
    exact = np.exp(X.astype(EXACT) - X.max(1, keepdims=True).astype(EXACT))  # in 64 bits
    exact /= exact.sum(1, keepdims=True)
    batch = net.predict(X)
    assert_within(batch, exact, dtype, f"softmax of {width} spread logits, batch", ULPS + 1)
    one = np.array([net.predict(x) for x in X[:500]])
    np.testing.assert_array_equal(one, batch[:500])


def test_small_tanh_keeps_its_relative_precision(level):
    # the example of the report: 1e-6 came out 1.3% high, 1e-8 as 0
    for dtype in (np.float32, np.float64)[:1 + (np.finfo(EXACT).nmant >= 60)]:
        net = unit_network((1, 1, 1), dtype, activation="tanh", output="identity")
        for x in (1e-6, 1e-8, -3e-30, 1e-3, 0.05):
            want = np.tanh(EXACT(dtype(x)))
            for got in (net.predict([[x]])[0, 0], net.predict([[x], [x]])[0, 0]):
                assert ulp_error(got, want, dtype) <= ULPS, (dtype, x, got)


def single_sample_bias_gradients(net, x):
    """The biases' gradients of 0.5 * output**2 (targets 0) for each sample alone."""
    return np.array([np.concatenate([db for _, db in net.gradients([[v]], [[0.0]])])
                     for v in x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_derivatives_in_gradients(level, activation, dtype):
    # the output delta a * f'(a) of 0.5 * f(x)**2 (the output layer's derivative) and the
    # same passed down through a weight of 1 (the hidden layer's), f' from the a predicted
    x = grid(dtype, 2001)[::3]
    cases = [((1, 1, 1), {"activation": activation, "output": "identity"})]
    if activation == "sigmoid":
        cases.append(((1, 1), {"output": activation, "loss": "mse"}))
    for sizes, kinds in cases:
        net = unit_network(sizes, dtype, **kinds)
        a = net.predict(x.reshape(-1, 1)).ravel() if len(sizes) == 2 else \
            np.array([net.predict([[v]])[0, 0] for v in x])
        exact = np.asarray(a, EXACT) * exact_derivative(activation, a)
        grads = single_sample_bias_gradients(net, x)
        assert_within(grads[:, 0], exact, dtype, f"{activation} derivative, {sizes}", ULPS + 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_derivatives_in_per_sample_sgd(level, activation, dtype):
    # one plain SGD step of lr 1 from biases 0 on one sample leaves each bias at -its gradient
    x = grid(dtype, 601)[::2]
    net = unit_network((1, 1, 1), dtype, activation=activation, output="identity")
    start = net.get_flat_params()
    a = np.array([net.predict([[v]])[0, 0] for v in x])
    exact = np.asarray(a, EXACT) * exact_derivative(activation, a)
    stepped = []
    for v in x:
        net.set_flat_params(start)
        net.fit([[v]], [[0.0]], epochs=1, lr=1.0, batch_size=1, shuffle=False, n_threads=1)
        stepped.append(-net.biases[0][0])
    assert_within(np.array(stepped), exact, dtype, f"{activation} derivative, per-sample SGD",
                  ULPS + 1)


@pytest.mark.skipif(np.finfo(EXACT).nmant < 60, reason="long double is double here")
def test_post_api_sigmoid(level):
    x = grid(np.float64)
    s = nnpy.post.sigmoid(x)
    assert_within(s, exact_activation("sigmoid", x), np.float64, "post sigmoid")
    prime = nnpy.post.sigmoid_prime(x)  # s * (1 - s) from its own s
    assert_within(prime, exact_derivative("sigmoid", s), np.float64, "post sigmoid_prime")
    params = {"metadata": {"inputSize": 1, "outputSize": 1, "n_layers": 1},
              "theta": {"W_0": np.ones((1, 1)), "B_0": np.zeros((1, 1))}}
    picks = x[::40]
    out = np.array([nnpy.post.forwardPass([v], [0.0], params)["forwardPass"]["A_0"][0, 0]
                    for v in picks])
    assert_within(out, exact_activation("sigmoid", picks), np.float64, "post forwardPass")


CC = shutil.which(os.environ.get("CC", "cc"))


@pytest.mark.skipif(CC is None, reason="no C compiler (cc) on PATH")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_c_export(tmp_path, dtype, activation):
    # the header's activations (<math.h>'s tanh, its own sigmoid) over the grid
    net = unit_network((1, 1, 1), dtype, activation=activation, output="identity")
    to_c(net, tmp_path / "net.h", name="net")
    T = "float" if dtype == np.float32 else "double"
    x = grid(dtype, 4001)
    (tmp_path / "x.bin").write_bytes(x.tobytes())
    (tmp_path / "main.c").write_text(f"""
#include <stdio.h>
#include "net.h"
int main(void)
{{
    {T} x, y;
    FILE *in = fopen("x.bin", "rb"), *out = fopen("y.bin", "wb");
    while (fread(&x, sizeof x, 1, in) == 1) {{
        net_predict(&x, &y);
        fwrite(&y, sizeof y, 1, out);
    }}
    return fclose(in) || fclose(out);
}}
""")
    built = subprocess.run([CC, "-std=c99", "-O2", "-o", "main", "main.c", "-lm"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    ran = subprocess.run(["./main"], cwd=tmp_path, capture_output=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    y = np.frombuffer((tmp_path / "y.bin").read_bytes(), dtype)
    assert_within(y, exact_activation(activation, x), dtype, f"C export {activation}")
