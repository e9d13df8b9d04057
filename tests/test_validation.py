"""Input validation: every public entry point refuses bad input before any kernel runs, with a
ValueError or TypeError whose message names the argument and what was expected; and accepts
int, float32 and bool data, Fortran order, strided slices, transposes, read-only arrays and
read-only memmaps, giving the same result as a C-contiguous copy in the working dtype (float64
for the post's API; the network's dtype for Network).

Covers the post's API, Network and the scikit-learn estimators (skipped when nnpy.estimators
or scikit-learn is missing). File loading is in test_files.py.

The classes of bad input the robustness tests try, and where:

  data (X, Y; x, y; y_hat)        -> ValueError / TypeError naming the argument
    wrong number of dimensions     0-D, 1-D where 2-D is needed, 3-D, 4-D     (here, properties)
    wrong widths                   too wide, too narrow, transposed; the message gives the
                                   expected shape (n_samples, n) or (n_rows, n)   (here)
    len(X) != len(Y)               shorter, longer, empty Y; 1-D targets too  (here)
    empty                          (0, n), (n, 0), (0, 0), [], 1-D empty      (here, properties)
    NaN / +-infinity               message says "NaN" or "infinity" and where (here, properties)
    values beyond the dtype        1e300 into a float32 network, longdouble 1e400, Python int
                                   10**400                                    (here)
    non-numeric                    str, bytes, None, datetime64, structured, dict, object
                                   arrays holding None                        (here, properties)
    complex                        complex128                                 (here, properties)
    ragged                         nested lists of unequal lengths            (here)
  hyper-parameters                 -> ValueError / TypeError naming the parameter
    sizes                          < 1, negative, float (even 2.0), str, bool, None, too few,
                                   2-D array, a number instead of a list, overflowing sizes
    lr                             0, negative, NaN, inf, 10**400, str, None, complex, array
    epochs                         negative, float, str, None, bool
    batch_size                     0, negative, float, bool
    l2 / momentum / shuffle /      negative, NaN, >= 1, non-bool, non-callable, malformed pair
      callback / validation
    init / loss / output / dtype   unknown names; dtype int32, float16, longdouble, complex,
                                   structured, big-endian, nonsense strings; softmax + mse
    seed                           negative, float, str
    post API                       init_net sizes as above; lr as above (lr <= 0 too);
                                   params dicts with missing keys, wrong shapes, wrong
                                   dtypes, lists, non-dicts; a tampered forward pass
    estimators                     hidden_layer_sizes, learning_rate_init, batch_size, max_iter,
                                   activation, dtype, momentum, alpha, validation_fraction, shuffle
  accepted layouts (same result as the C-contiguous copy in the working dtype)
                                   lists, int64/int32/uint8/bool, float32, float16, Fortran
                                   order, strided slices, transposes, reversed (negative
                                   strides), read-only arrays, read-only memmaps, big-endian
  numerics (test_numerics.py)      +-1e300, +-1.7e308, float max, subnormals into sigmoid,
                                   sigmoid_prime, cost, every loss and output; divergence
                                   (weights growing to overflow, inputs of 1e300, lr beyond
                                   float32)
  threads (test_threads.py)        fit+fit, fit+predict/loss/gradients/accuracy on one network
  interrupts (test_interrupt.py)   SIGINT during fit: small and large batches, float32,
                                   momentum, callbacks
  files (test_files.py)            truncated at every length step, single bit flips, random
                                   multi-byte damage, foreign files (empty, text, JSON, .npy,
                                   other .npz, empty zip, directory, missing), wrong member
                                   shapes/dtypes/values, missing or extra members, header
                                   fields wrong or missing, .npy headers with huge or negative
                                   shapes or code in them, a zip bomb, pickles in members and
                                   whole-file pickles (which must never run)
  random (test_properties.py)      hypothesis: random shapes (zero included), dtypes, layouts
                                   and values into every public function, and random bytes,
                                   damage and archives into load
"""
import re
import warnings

import numpy as np
import pytest

import nnpy
from nnpy import Network, backPropogation, cost, forwardPass, init_net, sigmoid, sigmoid_prime
from nnpy._epochs import labels_as_targets
from nnpy._validation import as_matrix, as_targets

BAD = (ValueError, TypeError)


def raises(exc, *words):
    """pytest.raises(exc) whose message must contain every one of `words` (plain text)."""
    return pytest.raises(exc, match="(?s)" + "".join(f"(?=.*{re.escape(w)})" for w in words))


# ---------------------------------------------------------------------------------------------
# Bad data: one table used for every entry point. Each entry: (id, value maker, exception,
# words the message must hold besides the argument's name). make(shape) builds the bad value
# for an argument whose good value has that 2-D shape.
# ---------------------------------------------------------------------------------------------

def _nan(shape):
    a = np.ones(shape)
    a.flat[-1] = np.nan
    return a


def _inf(shape):
    a = np.ones(shape)
    a.flat[0] = -np.inf
    return a


def _ragged(shape):
    rows = [list(range(shape[1])) for _ in range(shape[0])]
    rows[-1] = rows[-1] + [1]
    return rows


def _object_none(shape):
    a = np.ones(shape, dtype=object)
    a.flat[0] = None
    return a


def _huge_int(shape):
    rows = [[1] * shape[1] for _ in range(shape[0])]
    rows[0][0] = 10 ** 400
    return rows


BAD_DATA = [
    ("nan", _nan, ValueError, ["NaN"]),
    ("inf", _inf, ValueError, ["infinity"]),
    ("complex", lambda s: np.ones(s) + 1j, TypeError, ["complex"]),
    ("string", lambda s: np.full(s, "a"), TypeError, []),
    ("bytes", lambda s: np.full(s, b"a"), TypeError, []),
    ("object-None", _object_none, TypeError, []),
    ("None", lambda s: None, TypeError, []),
    ("datetime", lambda s: np.zeros(s, dtype="datetime64[s]"), TypeError, []),
    ("structured", lambda s: np.zeros(s, dtype=[("a", "f8"), ("b", "f8")]), TypeError, []),
    ("ragged", _ragged, ValueError, []),
    ("huge-int", _huge_int, ValueError, []),
    ("dict", lambda s: {"a": 1}, TypeError, []),
]
BAD_DATA_IDS = [b[0] for b in BAD_DATA]
# one class of bad data per way the data checks refuse (TestNetworkData's wiring test)
WIRING_CASES = ("nan", "inf", "complex", "string", "ragged")


def _post_params(seed=0):
    return init_net(3, 2, 2, rng=seed)


def _snapshot(params):
    return {k: v.copy() for k, v in params["theta"].items()}


def _same_theta(params, snapshot):
    return all(np.array_equal(params["theta"][k], v) for k, v in snapshot.items())


# ---------------------------------------------------------------------------------------------
# The post's API
# ---------------------------------------------------------------------------------------------

class TestPostAPI:
    @pytest.mark.parametrize("fn", [sigmoid, sigmoid_prime])
    @pytest.mark.parametrize("case", [b for b in BAD_DATA if b[0] not in ("nan", "inf")],
                             ids=[i for i in BAD_DATA_IDS if i not in ("nan", "inf")])
    def test_elementwise_refuses_non_numbers(self, fn, case):
        _, make, exc, words = case
        with raises(exc, "x", *words):
            fn(make((2, 3)))

    @pytest.mark.parametrize("fn", [sigmoid, sigmoid_prime])
    def test_elementwise_follow_numpy_on_nan_and_inf(self, fn):
        # sigmoid and sigmoid_prime are elementwise maths, like a ufunc: +-inf have exact values
        # (sigmoid: 1 and 0) and NaN stays NaN, without a warning (documented in post.py)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = fn(np.array([np.inf, -np.inf, np.nan]))
        expected = {sigmoid: [1.0, 0.0], sigmoid_prime: [0.0, 0.0]}[fn]
        assert np.array_equal(out[:2], expected)
        assert np.isnan(out[2])

    @pytest.mark.parametrize("fn", [sigmoid, sigmoid_prime])
    def test_elementwise_accepts_empty_and_any_shape(self, fn):
        assert fn(np.zeros((0, 3))).shape == (0, 3)
        assert fn(np.zeros((2, 0, 4))).shape == (2, 0, 4)
        assert fn(np.zeros((2, 1, 3, 1))).shape == (2, 1, 3, 1)
        assert np.ndim(fn(0.5)) == 0

    @pytest.mark.parametrize("case", [b for b in BAD_DATA if b[0] not in ("nan", "inf")],
                             ids=[i for i in BAD_DATA_IDS if i not in ("nan", "inf")])
    @pytest.mark.parametrize("which", ["y_hat", "y"])
    def test_cost_refuses_non_numbers(self, case, which):
        _, make, exc, words = case
        args = {"y_hat": np.ones((2, 3)), "y": np.ones((2, 3))}
        args[which] = make((2, 3))
        with raises(exc, which, *words):
            cost(args["y_hat"], args["y"])

    def test_cost_refuses_mismatched_shapes_and_empty(self):
        with pytest.raises(ValueError):
            cost(np.ones(3), np.ones(4))
        with raises(ValueError, "empty"):
            cost([], [])
        with raises(ValueError, "empty"):
            cost(np.ones((0, 2)), np.ones((0, 2)))

    @pytest.mark.parametrize("arg", ["inputSize", "layers", "outputSize"])
    @pytest.mark.parametrize("value,exc", [(0, ValueError), (-1, ValueError), (2.5, TypeError),
                                           (2.0, TypeError), ("2", TypeError), (None, TypeError),
                                           (True, TypeError), (np.float64(2), TypeError)])
    def test_init_net_refuses_bad_sizes(self, arg, value, exc):
        args = {"inputSize": 2, "layers": 2, "outputSize": 1}
        args[arg] = value
        with raises(exc, arg):
            init_net(**args)

    def test_init_net_accepts_numpy_integers(self):
        p = init_net(np.int64(3), np.int32(2), np.uint8(1), rng=0)
        assert p["theta"]["W_1"].shape == (1, 3)

    @pytest.mark.parametrize("which", ["x", "y"])
    @pytest.mark.parametrize("case", BAD_DATA, ids=BAD_DATA_IDS)
    def test_forward_pass_refuses_bad_data(self, which, case):
        _, make, exc, words = case
        params = _post_params()
        before = _snapshot(params)
        good = {"x": np.ones(3), "y": np.ones(2)}
        good[which] = make((1, 3) if which == "x" else (1, 2))
        with raises(exc, which, *words):
            forwardPass(good["x"], good["y"], params)
        assert "forwardPass" not in params and _same_theta(params, before)

    @pytest.mark.parametrize("which,value,words", [
        ("x", np.ones(4), ["3 values", "(4,)"]),
        ("x", np.ones(2), ["3 values"]),
        ("x", np.ones((3, 2)), ["3 values"]),
        ("x", np.ones((1, 3, 1)), ["3 values"]),
        ("x", np.ones((0,)), ["3 values"]),
        ("x", np.ones((3, 0)), ["3 values"]),
        ("y", np.ones(3), ["2 values"]),
        ("y", np.ones((2, 2)), ["2 values"]),
        ("y", 1.0, ["2 values"]),
    ])
    def test_forward_pass_refuses_wrong_shapes(self, which, value, words):
        params = _post_params()
        good = {"x": np.ones(3), "y": np.ones(2)}
        good[which] = value
        with raises(ValueError, which, *words):
            forwardPass(good["x"], good["y"], params)

    @pytest.mark.parametrize("mutate,exc,words", [
        (lambda p: p.pop("theta"), TypeError, ["params"]),
        (lambda p: p.pop("metadata"), TypeError, ["params"]),
        (lambda p: p["theta"].pop("W_1"), ValueError, ["W_1"]),
        (lambda p: p["theta"].pop("B_0"), ValueError, ["B_0"]),
        (lambda p: p["metadata"].pop("n_layers"), ValueError, ["n_layers"]),
        (lambda p: p["metadata"].__setitem__("n_layers", 0), ValueError, ["n_layers"]),
        (lambda p: p["metadata"].__setitem__("n_layers", 3), ValueError, ["W_1", "(3, 3)"]),
        (lambda p: p["metadata"].__setitem__("n_layers", 2.0), TypeError, ["n_layers"]),
        (lambda p: p["metadata"].__setitem__("inputSize", 4), ValueError, ["W_0", "(4, 4)"]),
        (lambda p: p["metadata"].__setitem__("outputSize", 3), ValueError, ["W_1", "(3, 3)"]),
        (lambda p: p["theta"].__setitem__("W_0", np.ones((3, 4))), ValueError, ["W_0", "(3, 3)"]),
        (lambda p: p["theta"].__setitem__("W_1", np.ones((3, 2))), ValueError, ["W_1", "(2, 3)"]),
        (lambda p: p["theta"].__setitem__("B_0", np.ones(3)), ValueError, ["B_0", "(3, 1)"]),
        (lambda p: p["theta"].__setitem__("B_1", np.ones((1, 2))), ValueError, ["B_1", "(2, 1)"]),
        (lambda p: p["theta"].__setitem__("W_0", np.ones((3, 3), np.float32)), TypeError,
         ["W_0", "float64"]),
        (lambda p: p["theta"].__setitem__("W_0", np.ones((3, 3), int)), TypeError, ["W_0"]),
        (lambda p: p["theta"].__setitem__("W_0", [[1.0] * 3] * 3), TypeError, ["W_0"]),
    ], ids=["no-theta", "no-metadata", "no-W_1", "no-B_0", "no-n_layers", "n_layers-0",
            "n_layers-3", "n_layers-float", "inputSize", "outputSize", "W_0-shape", "W_1-shape",
            "B_0-1d", "B_1-row", "W_0-float32", "W_0-int", "W_0-list"])
    def test_forward_pass_refuses_bad_params(self, mutate, exc, words):
        params = _post_params()
        mutate(params)
        with raises(exc, *words):
            forwardPass(np.ones(3), np.ones(2), params)
        with raises(exc, *words):
            params["forwardPass"] = {"error": np.zeros((2, 1))}
            backPropogation(params, 0.1)

    @pytest.mark.parametrize("params", [None, [], "params", {"theta": {}}, 3],
                             ids=["None", "list", "str", "theta-only", "int"])
    def test_forward_pass_refuses_non_dicts(self, params):
        with raises(TypeError, "params"):
            forwardPass(np.ones(3), np.ones(2), params)

    @pytest.mark.parametrize("lr,exc", [(float("nan"), ValueError), (float("inf"), ValueError),
                                        ("0.1", TypeError), (None, TypeError),
                                        (1j, TypeError), (True, TypeError)])
    def test_back_propagation_refuses_bad_lr(self, lr, exc):
        params = forwardPass(np.ones(3), np.ones(2), _post_params())
        before = _snapshot(params)
        with raises(exc, "lr"):
            backPropogation(params, lr)
        assert _same_theta(params, before)

    @pytest.mark.parametrize("lr", [0, 0.0, -0.5])
    def test_back_propagation_refuses_non_positive_lr(self, lr):
        params = forwardPass(np.ones(3), np.ones(2), _post_params())
        before = _snapshot(params)
        with raises(ValueError, "lr"):
            backPropogation(params, lr)
        assert _same_theta(params, before)

    def test_back_propagation_needs_a_forward_pass(self):
        params = _post_params()
        with raises(ValueError, "forwardPass"):
            backPropogation(params, 0.1)

    @pytest.mark.parametrize("key,value", [
        ("A_prev0", np.ones((4, 1))), ("A_prev1", np.ones(3)), ("Z_0", np.ones((3, 2))),
        ("Z_1", np.ones((2, 1), np.float32)), ("error", np.ones((3, 1))), ("Z_0", [[1.0]] * 3),
    ])
    def test_back_propagation_refuses_a_tampered_forward_pass(self, key, value):
        params = forwardPass(np.ones(3), np.ones(2), _post_params())
        params["forwardPass"][key] = value
        before = _snapshot(params)
        with raises(ValueError, key):
            backPropogation(params, 0.1)
        assert _same_theta(params, before)


# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------

def _data(n=6, n_in=3, n_out=2, seed=0):
    r = np.random.default_rng(seed)
    return r.random((n, n_in)), r.random((n, n_out))


class TestNetworkConstructor:
    @pytest.mark.parametrize("sizes,exc,words", [
        ([3], ValueError, ["sizes", "two"]),
        ([], ValueError, ["sizes", "two"]),
        ([3, 0, 2], ValueError, ["sizes[1]", "at least 1"]),
        ([3, -1], ValueError, ["sizes[1]", "at least 1"]),
        ([3, 2.5], TypeError, ["sizes[1]", "integer"]),
        ([3, 2.0], TypeError, ["sizes[1]", "integer"]),
        ([3, "2"], TypeError, ["sizes[1]", "integer"]),
        ([3, None], TypeError, ["sizes[1]", "integer"]),
        ([True, 2], TypeError, ["sizes[0]", "integer"]),
        ("32", TypeError, ["sizes"]),
        (3, TypeError, ["sizes"]),
        (None, TypeError, ["sizes"]),
        (np.array([[3, 2]]), TypeError, ["sizes"]),
        ([2 ** 40, 2 ** 40], ValueError, ["sizes"]),
        ([2 ** 62, 2 ** 62], ValueError, ["sizes"]),
    ])
    def test_bad_sizes(self, sizes, exc, words):
        with raises(exc, *words):
            Network(sizes)

    def test_numpy_sizes_are_fine(self):
        assert Network(np.array([3, 2]), seed=0).sizes == (3, 2)
        assert Network((np.int32(3), np.uint16(4), np.int64(2)), seed=0).sizes == (3, 4, 2)

    @pytest.mark.parametrize("kwargs,exc,words", [
        ({"init": "lecun"}, ValueError, ["init", "xavier"]),
        ({"activation": "mish"}, ValueError, ["activation", "relu"]),
        ({"output": "relu"}, ValueError, ["output", "softmax"]),
        ({"loss": "hinge"}, ValueError, ["loss", "mse"]),
        ({"loss": 1}, ValueError, ["loss"]),
        ({"output": "softmax", "loss": "mse"}, ValueError, ["softmax", "cross_entropy"]),
        ({"dtype": np.int32}, TypeError, ["dtype", "float32 or float64"]),
        ({"dtype": "float16"}, TypeError, ["dtype", "float32 or float64"]),
        ({"dtype": np.longdouble}, TypeError, ["dtype", "float32 or float64"]),
        ({"dtype": "blah"}, TypeError, ["dtype", "float32 or float64"]),
        ({"dtype": "f8,f8"}, TypeError, ["dtype", "float32 or float64"]),
        ({"dtype": complex}, TypeError, ["dtype", "float32 or float64"]),
        ({"dtype": ">f8"}, TypeError, ["dtype", "float32 or float64"]),
        ({"seed": -1}, ValueError, ["seed"]),
        ({"seed": 1.5}, TypeError, ["seed"]),
        ({"seed": "1"}, TypeError, ["seed"]),
    ])
    def test_bad_settings(self, kwargs, exc, words):
        with raises(exc, *words):
            Network([3, 2], **kwargs)

    @pytest.mark.parametrize("dtype", [np.float32, "float32", "f4", np.dtype("<f4"), float,
                                       np.float64, "float64", "d"])
    def test_dtype_spellings(self, dtype):
        assert Network([3, 2], dtype=dtype, seed=0).dtype in (np.float32, np.float64)


class TestDataChecks:
    """The checks every data argument of Network goes through (nnpy._validation), each class
    of bad data at each dtype: a ValueError or TypeError naming the argument. X is checked by
    as_matrix, Y by as_targets after labels_as_targets (as Network does); the entry points'
    wiring to them is TestNetworkData.test_bad_data_is_refused_naming_the_argument."""

    @pytest.mark.parametrize("dtype", [np.float64, np.float32])
    @pytest.mark.parametrize("case", BAD_DATA, ids=BAD_DATA_IDS)
    @pytest.mark.parametrize("name,allow_1d", [("X", True), ("validation X", False)])
    def test_as_matrix(self, dtype, case, name, allow_1d):
        _, make, exc, words = case
        with raises(exc, name, *words):
            as_matrix(make((6, 3)), name, dtype, 3, allow_1d=allow_1d)

    @pytest.mark.parametrize("dtype", [np.float64, np.float32])
    @pytest.mark.parametrize("case", BAD_DATA, ids=BAD_DATA_IDS)
    @pytest.mark.parametrize("name", ["Y", "validation Y"])
    def test_as_targets(self, dtype, case, name):
        _, make, exc, words = case
        with raises(exc, name, *words):
            as_targets(labels_as_targets(make((6, 2)), name, 6, "sigmoid", 2, dtype),
                       name, 6, 2, dtype)


class TestNetworkData:
    """predict, loss, gradients, accuracy and fit, each with each class of bad data."""

    @staticmethod
    def _calls(net, X, Y):
        return {
            "predict": lambda x, y: net.predict(x),
            "loss": lambda x, y: net.loss(x, y),
            "gradients": lambda x, y: net.gradients(x, y),
            "accuracy": lambda x, y: net.accuracy(x, y),
            "fit": lambda x, y: net.fit(x, y, epochs=2, lr=0.1),
            "fit-validation": lambda x, y: net.fit(X, Y, epochs=1, lr=0.1, validation=(x, y)),
        }

    METHODS = ["predict", "loss", "gradients", "accuracy", "fit", "fit-validation"]

    @pytest.mark.parametrize("method,which", [(m, w) for m in METHODS for w in "XY"
                                              if (m, w) != ("predict", "Y")])
    def test_bad_data_is_refused_naming_the_argument(self, method, which):
        """Each entry point and data argument reaches the data checks (TestDataChecks has every
        class of bad data): refused before the weights change, naming the argument, at both
        dtypes, for each way of failing: non-finite values (which the compiled predictor
        hands to the general path), a dtype that is not real numbers, data numpy cannot
        make an array of."""
        for dtype in (np.float64, np.float32):
            for case in BAD_DATA:
                if case[0] not in WIRING_CASES:
                    continue
                _, make, exc, words = case
                net = Network([3, 4, 2], seed=0, dtype=dtype)
                before = net.copy()
                X, Y = _data()
                bad = make(X.shape if which == "X" else Y.shape)
                args = (bad, Y) if which == "X" else (X, bad)
                name = which if method != "fit-validation" else "validation " + which
                with raises(exc, name, *words):
                    self._calls(net, X, Y)[method](*args)
                assert np.array_equal(net._flat, before._flat), \
                    ("refused input changed the weights", dtype, case[0])

    @pytest.mark.parametrize("method", METHODS)
    @pytest.mark.parametrize("X,words", [
        (np.ones((6, 4)), ["X", "(n_samples, 3)"]),
        (np.ones((6, 2)), ["X", "(n_samples, 3)"]),
        (np.ones((3, 6)), ["X", "(n_samples, 3)"]),
        (np.ones(4), ["X", "(n_samples, 3)"]),
        (np.ones((6, 3, 1)), ["X", "2-D", "3-D"]),
        (np.ones((1, 6, 3)), ["X", "2-D", "3-D"]),
        (np.float64(1.0), ["X"]),
        (np.ones((0, 3)), ["X", "empty"]),
        (np.ones((6, 0)), ["X", "(n_samples, 3)"]),
        (np.ones((0, 0)), ["X"]),
        ([], ["X"]),
        (np.ones(0), ["X"]),
    ], ids=["wide", "narrow", "transposed", "1d-wide", "3d", "3d-b", "0d", "no-rows", "no-cols",
            "0x0", "empty-list", "empty-1d"])
    def test_bad_X_shape(self, method, X, words):
        net = Network([3, 4, 2], seed=0)
        before = net._flat.copy()
        X0, Y0 = _data()
        Y = np.ones((len(X) if np.ndim(X) == 2 else 6, 2))
        if method == "fit-validation":  # validation X takes no single 1-D sample
            words = ["validation X"] + (["2-D"] if np.ndim(X) == 1 else words[1:])
        with raises(ValueError, *words):
            self._calls(net, X0, Y0)[method](X, Y)
        assert np.array_equal(net._flat, before)

    @pytest.mark.parametrize("method", ["loss", "gradients", "accuracy", "fit", "fit-validation"])
    @pytest.mark.parametrize("Y,words", [
        (np.ones((6, 3)), ["Y", "(6, 2)"]),
        (np.ones((6, 1)), ["Y", "(6, 2)"]),
        (np.ones((5, 2)), ["Y", "len(X)", "len(Y)"]),
        (np.ones((7, 2)), ["Y", "len(X)", "len(Y)"]),
        (np.ones((0, 2)), ["Y", "len(X)"]),
        (np.ones(12), ["Y", "2-D"]),
        (np.ones((6, 2, 1)), ["Y", "2-D", "3-D"]),
        (np.float64(1), ["Y"]),
    ], ids=["wide", "narrow", "short", "long", "empty", "1d", "3d", "0d"])
    def test_bad_Y_shape(self, method, Y, words):
        net = Network([3, 4, 2], seed=0)
        before = net._flat.copy()
        X0, Y0 = _data()
        if method == "fit-validation":
            words = [{"Y": "validation Y", "len(Y)": "len(validation Y)"}.get(w, w)
                     for w in words]
        with raises(ValueError, *words):
            self._calls(net, X0, Y0)[method](X0, Y)
        assert np.array_equal(net._flat, before)

    @pytest.mark.parametrize("Y", [np.ones(5), np.ones(7), np.ones((5, 1))])
    def test_single_output_lengths(self, Y):
        net = Network([3, 1], seed=0)
        X = np.ones((6, 3))
        with raises(ValueError, "Y", "len(X)"):
            net.fit(X, Y, epochs=1, lr=0.1)
        with raises(ValueError, "Y", "len(X)"):
            net.loss(X, Y)

    def test_single_output_accepts_1d_targets(self):
        net = Network([3, 1], seed=0)
        X = np.random.default_rng(0).random((6, 3))
        y = np.arange(6) % 2
        assert net.loss(X, y) == net.loss(X, y.reshape(-1, 1).astype(float))

    def test_values_beyond_float32_are_refused_by_float32_networks(self):
        net = Network([3, 2], dtype=np.float32, seed=0)
        X = np.ones((2, 3))
        X[1, 2] = 1e300
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with raises(ValueError, "X", "float32"):
                net.predict(X)
            with raises(ValueError, "Y", "float32"):
                net.loss(np.ones((2, 3)), np.array([[0.5, 1e39], [0, 0]]))

    def test_longdouble_beyond_float64_is_refused(self):
        if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
            pytest.skip("longdouble is float64 here")
        X = np.ones((2, 3), np.longdouble)
        X[0, 0] = np.longdouble(10) ** 400
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with raises(ValueError, "X", "float64"):
                Network([3, 2], seed=0).predict(X)

    def test_object_arrays_of_numbers_are_numbers(self):
        net = Network([3, 2], seed=0)
        X = np.array([[1, 2.5, True]], dtype=object)
        assert np.array_equal(net.predict(X), net.predict([[1.0, 2.5, 1.0]]))


class TestFitHyperParameters:
    @pytest.mark.parametrize("kwargs,exc,words", [
        ({"epochs": -1}, ValueError, ["epochs", "at least 0"]),
        ({"epochs": 1.5}, TypeError, ["epochs", "integer"]),
        ({"epochs": 2.0}, TypeError, ["epochs", "integer"]),
        ({"epochs": "3"}, TypeError, ["epochs", "integer"]),
        ({"epochs": None}, TypeError, ["epochs", "integer"]),
        ({"epochs": True}, TypeError, ["epochs", "integer"]),
        ({"lr": 0}, ValueError, ["lr", "> 0"]),
        ({"lr": 0.0}, ValueError, ["lr", "> 0"]),
        ({"lr": -0.1}, ValueError, ["lr", "> 0"]),
        ({"lr": float("nan")}, ValueError, ["lr", "finite"]),
        ({"lr": float("inf")}, ValueError, ["lr", "finite"]),
        ({"lr": 10 ** 400}, ValueError, ["lr", "finite"]),
        ({"lr": "0.1"}, TypeError, ["lr", "real number"]),
        ({"lr": None}, TypeError, ["lr", "real number"]),
        ({"lr": 0.1j}, TypeError, ["lr", "real number"]),
        ({"lr": np.array([0.1, 0.2])}, TypeError, ["lr"]),
        ({"batch_size": 0}, ValueError, ["batch_size", "at least 1"]),
        ({"batch_size": -3}, ValueError, ["batch_size", "at least 1"]),
        ({"batch_size": 1.5}, TypeError, ["batch_size", "integer"]),
        ({"batch_size": True}, TypeError, ["batch_size", "integer"]),
        ({"loss": "hinge"}, ValueError, ["loss", "mse"]),
        ({"l2": -1.0}, ValueError, ["l2"]),
        ({"l2": float("nan")}, ValueError, ["l2"]),
        ({"momentum": 1.01}, ValueError, ["momentum"]),
        ({"momentum": -0.1}, ValueError, ["momentum"]),
        ({"shuffle": "yes"}, TypeError, ["shuffle"]),
        ({"shuffle": 1}, TypeError, ["shuffle"]),
        ({"callback": 3}, TypeError, ["callback"]),
        ({"validation": np.ones((6, 3))}, TypeError, ["validation"]),
        ({"validation": (np.ones((6, 3)),)}, TypeError, ["validation"]),
    ])
    def test_bad_hyper_parameters(self, kwargs, exc, words):
        net = Network([3, 4, 2], seed=0)
        before = net._flat.copy()
        X, Y = _data()
        args = {"epochs": 2, "lr": 0.1}
        args.update(kwargs)
        with raises(exc, *words):
            net.fit(X, Y, **args)
        assert np.array_equal(net._flat, before)

    def test_softmax_refuses_mse(self):
        net = Network([3, 2], output="softmax", seed=0)
        X, Y = _data()
        with raises(ValueError, "cross_entropy"):
            net.fit(X, Y, epochs=1, lr=0.1, loss="mse")
        with raises(ValueError, "cross_entropy"):
            net.loss(X, Y, loss="mse")

    def test_zero_epochs_is_a_no_op(self):
        net = Network([3, 4, 2], seed=0)
        before = net._flat.copy()
        X, Y = _data()
        assert net.fit(X, Y, epochs=0, lr=0.1).epochs == 0
        assert np.array_equal(net._flat, before)

    def test_numpy_scalars_are_fine(self):
        X, Y = _data()
        a, b = Network([3, 4, 2], seed=0), Network([3, 4, 2], seed=0)
        a.fit(X, Y, epochs=np.int64(2), lr=np.float32(0.5), batch_size=np.int32(2))
        b.fit(X, Y, epochs=2, lr=float(np.float32(0.5)), batch_size=2)
        assert np.array_equal(a._flat, b._flat)

    @pytest.mark.parametrize("value,exc", [(np.ones((4, 3)), ValueError),
                                           (np.full((4, 3), np.nan), ValueError),
                                           (np.ones((4, 3)) + 1j, TypeError),
                                           ([1.0, 2.0], ValueError),
                                           ("w", TypeError)])
    def test_weight_assignment_is_checked(self, value, exc):
        net = Network([3, 4, 2], seed=0)
        before = net._flat.copy()
        with raises(exc, "weights"):
            net.weights[1] = value
        with raises(exc, "weights"):
            net.weights = [net.weights[0], value]
        assert np.array_equal(net._flat, before)


# ---------------------------------------------------------------------------------------------
# Accepted layouts and dtypes: the same result as a C-contiguous copy in the working dtype
# ---------------------------------------------------------------------------------------------

def layouts(base, tmp_path, *, integral):
    """(name, array) variants holding the values of the 2-D float64 array `base` (small
    integers when `integral`, so the int and bool variants hold the same values)."""
    rows, cols = base.shape
    out = [("list", base.tolist())]
    out.append(("fortran", np.asfortranarray(base)))
    big = np.zeros((2 * rows + 1, 3 * cols + 2))
    big[1::2, 2::3] = base
    out.append(("strided", big[1::2, 2::3]))
    out.append(("transpose", np.ascontiguousarray(base.T).T))
    out.append(("reversed", np.ascontiguousarray(base[::-1])[::-1]))
    ro = base.copy()
    ro.setflags(write=False)
    out.append(("read-only", ro))
    path = tmp_path / f"mm_{rows}x{cols}.dat"
    np.asarray(base).tofile(path)
    out.append(("memmap-r", np.memmap(path, dtype=np.float64, mode="r", shape=base.shape)))
    out.append(("big-endian", base.astype(">f8")))
    out.append(("float32", base.astype(np.float32)))
    out.append(("float32-fortran-strided", np.asfortranarray(big.astype(np.float32))[1::2, 2::3]))
    out.append(("float16", base.astype(np.float16)))
    if integral:
        out.append(("int64", base.astype(np.int64)))
        out.append(("int32-fortran", np.asfortranarray(base.astype(np.int32))))
        out.append(("uint8", np.abs(base).astype(np.uint8)))
        out.append(("int-list", base.astype(int).tolist()))
        out.append(("bool", base != 0))
        out.append(("bool-transpose", np.ascontiguousarray((base != 0).T).T))
    return out


def c_copy(value, dtype):
    return np.array(value, dtype=dtype, order="C", copy=True)


def _integral(shape, seed, low=-2, high=3):
    return np.random.default_rng(seed).integers(low, high, shape).astype(np.float64)


class TestAcceptedLayouts:
    @pytest.mark.parametrize("dtype", [np.float64, np.float32])
    def test_predict_loss_gradients(self, dtype, tmp_path):
        net = Network([4, 5, 3], seed=0, dtype=dtype)
        Xb, Yb = _integral((7, 4), 1), _integral((7, 3), 2, 0, 2)
        for name, X in layouts(Xb, tmp_path, integral=True):
            Xc = c_copy(X, dtype)
            assert np.array_equal(net.predict(X), net.predict(Xc)), name
            assert net.predict(X).dtype == dtype
            for yname, Y in layouts(Yb, tmp_path, integral=True):
                Yc = c_copy(Y, dtype)
                assert net.loss(X, Y) == net.loss(Xc, Yc), (name, yname)
                for (gw, gb), (cw, cb) in zip(net.gradients(X, Y), net.gradients(Xc, Yc)):
                    assert np.array_equal(gw, cw) and np.array_equal(gb, cb), (name, yname)

    @pytest.mark.parametrize("dtype", [np.float64, np.float32])
    def test_fit(self, dtype, tmp_path):
        Xb, Yb = _integral((9, 4), 3), _integral((9, 3), 4, 0, 2)
        start = Network([4, 5, 3], seed=0, dtype=dtype)
        variants = list(zip(layouts(Xb, tmp_path, integral=True),
                            layouts(Yb, tmp_path, integral=True)))
        for (name, X), (_, Y) in variants:
            a, b = start.copy(), start.copy()
            ha = a.fit(X, Y, epochs=3, lr=0.5, batch_size=2, momentum=0.5)
            hb = b.fit(c_copy(X, dtype), c_copy(Y, dtype), epochs=3, lr=0.5, batch_size=2,
                       momentum=0.5)
            assert np.array_equal(a._flat, b._flat), name
            assert ha.loss == hb.loss, name

    def test_fit_does_not_write_to_its_inputs(self, tmp_path):
        X, Y = _integral((9, 4), 3), _integral((9, 3), 4, 0, 2)
        Xr, Yr = X.copy(), Y.copy()
        Xr.setflags(write=False)
        Yr.setflags(write=False)
        net = Network([4, 5, 3], seed=0)
        net.fit(Xr, Yr, epochs=2, lr=0.5, batch_size=4)
        assert np.array_equal(Xr, X) and np.array_equal(Yr, Y)
        assert np.array_equal(net.predict(Xr), net.predict(X))

    def test_fit_with_validation_read_only(self):
        X, Y = _integral((9, 4), 3), _integral((9, 3), 4, 0, 2)
        Xr, Yr = X.copy(), Y.copy()
        Xr.setflags(write=False)
        Yr.setflags(write=False)
        a, b = Network([4, 5, 3], seed=0), Network([4, 5, 3], seed=0)
        ha = a.fit(Xr, Yr, epochs=2, lr=0.5, validation=(Xr, Yr))
        hb = b.fit(X, Y, epochs=2, lr=0.5, validation=(X, Y))
        assert np.array_equal(Xr, X) and np.array_equal(Yr, Y)
        assert ha.val_loss == hb.val_loss and len(ha.val_loss) == 2

    @pytest.mark.parametrize("exact", [False, True])
    def test_post_api(self, tmp_path, exact):
        def same(a, b):
            if exact:
                return np.array_equal(a, b)
            return np.allclose(a, b, rtol=1e-14, atol=0)

        xb = _integral((1, 3), 5)
        yb = _integral((1, 2), 6, 0, 2)
        for (name, x), (_, y) in zip(layouts(xb, tmp_path, integral=True),
                                     layouts(yb, tmp_path, integral=True)):
            if name == "big-endian":
                continue  # test_post_api_byte_order
            for shape in [(-1,), (-1, 1), (1, -1)]:
                xs = np.reshape(x, shape) if not isinstance(x, list) else np.reshape(x, shape).tolist()
                ys = np.reshape(y, shape) if not isinstance(y, list) else np.reshape(y, shape).tolist()
                p1 = forwardPass(xs, ys, init_net(3, 2, 2, rng=1))
                p2 = forwardPass(c_copy(xs, np.float64), c_copy(ys, np.float64),
                                 init_net(3, 2, 2, rng=1))
                for key in p2["forwardPass"]:
                    assert same(p1["forwardPass"][key], p2["forwardPass"][key]), \
                        (name, shape, key)
                backPropogation(p1, 0.5)
                backPropogation(p2, 0.5)
                for key in p2["theta"]:
                    assert same(p1["theta"][key], p2["theta"][key]), (name, shape, key)

    @pytest.mark.parametrize("which", ["x", "y", "W_0", "B_1"])
    def test_post_api_byte_order(self, which):
        x, y = np.array([1.0, 2.0, -2.0]), np.array([0.0, 1.0])
        ref = forwardPass(x, y, init_net(3, 2, 2, rng=1))
        params = init_net(3, 2, 2, rng=1)
        args = {"x": x, "y": y}
        if which in args:
            args[which] = args[which].astype(">f8")
            forwardPass(args["x"], args["y"], params)
        else:
            params["theta"][which] = params["theta"][which].astype(">f8")
            try:
                forwardPass(x, y, params)
            except TypeError:  # refusing a theta array in another byte order is fine too
                return
        for key, value in ref["forwardPass"].items():
            assert np.array_equal(params["forwardPass"][key], value), key

    def test_post_elementwise_and_cost(self, tmp_path):
        base = np.random.default_rng(7).normal(size=(5, 4)) * 5
        for name, x in layouts(base, tmp_path, integral=False):
            xc = c_copy(x, np.float64)
            assert np.array_equal(sigmoid(x), sigmoid(xc)), name
            assert np.array_equal(sigmoid_prime(x), sigmoid_prime(xc)), name
            assert cost(x, base[::-1]) == cost(xc, base[::-1]), name
        for name, x in layouts(_integral((5, 4), 8), tmp_path, integral=True):
            xc = c_copy(x, np.float64)
            assert np.array_equal(sigmoid(x), sigmoid(xc)), name
            assert cost(x, 0.5) == cost(xc, 0.5), name

    def test_post_theta_may_be_any_float64_layout(self):
        # the dict's arrays are ordinary numpy arrays a user may replace (docs/post-api.md)
        ref = init_net(3, 2, 2, rng=3)
        odd = init_net(3, 2, 2, rng=3)
        odd["theta"]["W_0"] = np.asfortranarray(odd["theta"]["W_0"])
        big = np.zeros((6, 9))
        big[::3, ::3] = odd["theta"]["W_1"]
        odd["theta"]["W_1"] = big[::3, ::3]
        for params in (ref, odd):
            forwardPass([1, 0, 1], [0, 1], params)
            backPropogation(params, 0.5)
        for key in ref["theta"]:
            assert np.array_equal(ref["theta"][key], odd["theta"][key]), key
        assert big[::3, ::3] is not None and np.array_equal(big[::3, ::3], ref["theta"]["W_1"])


# ---------------------------------------------------------------------------------------------
# scikit-learn estimators
# ---------------------------------------------------------------------------------------------

def _estimators():
    est = pytest.importorskip("nnpy.estimators")
    return [est.NNClassifier, est.NNRegressor]


def _est_data(kind, n=24, n_in=4, seed=0):
    r = np.random.default_rng(seed)
    X = r.integers(-2, 3, (n, n_in)).astype(float)
    y = np.arange(n) % 3 if kind == "NNClassifier" else r.random(n)
    return X, y


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after the few epochs used here
        return est.fit(X, y)


@pytest.fixture(params=["NNClassifier", "NNRegressor"])
def estimator_class(request):
    classes = {c.__name__: c for c in _estimators()}
    return classes[request.param]


class TestEstimators:
    @pytest.mark.parametrize("case", BAD_DATA, ids=BAD_DATA_IDS)
    def test_fit_refuses_bad_X(self, estimator_class, case):
        _, make, exc, words = case
        X, y = _est_data(estimator_class.__name__)
        with pytest.raises(BAD):
            _fit(estimator_class(max_iter=2, random_state=0), make(X.shape), y)

    @pytest.mark.parametrize("case", BAD_DATA, ids=BAD_DATA_IDS)
    def test_predict_refuses_bad_X(self, estimator_class, case):
        _, make, exc, words = case
        X, y = _est_data(estimator_class.__name__)
        est = _fit(estimator_class(max_iter=2, random_state=0), X, y)
        before = est.network_._flat.copy()
        with pytest.raises(BAD):
            est.predict(make(X.shape))
        assert np.array_equal(est.network_._flat, before)

    @pytest.mark.parametrize("bad_y", ["nan", "inf", "complex", "short", "2d-ragged", "none"])
    def test_fit_refuses_bad_y(self, estimator_class, bad_y):
        X, y = _est_data(estimator_class.__name__)
        y = y.astype(float)
        value = {"nan": np.where(np.arange(len(y)) == 3, np.nan, y),
                 "inf": np.where(np.arange(len(y)) == 3, np.inf, y),
                 "complex": y + 1j,
                 "short": y[:-1],
                 "2d-ragged": [[1, 2], [3]] * (len(y) // 2),
                 "none": None}[bad_y]
        with pytest.raises(BAD):
            _fit(estimator_class(max_iter=2, random_state=0), X, value)

    @pytest.mark.parametrize("X,words", [(np.ones((24, 5)), ["5"]), (np.ones((24, 3)), ["3"]),
                                         (np.ones(4), []), (np.ones((2, 4, 1)), []),
                                         (np.ones((0, 4)), [])],
                             ids=["wide", "narrow", "1d", "3d", "empty"])
    def test_predict_refuses_bad_shapes(self, estimator_class, X, words):
        X0, y = _est_data(estimator_class.__name__)
        est = _fit(estimator_class(max_iter=2, random_state=0), X0, y)
        with raises(ValueError, *words):
            est.predict(X)

    def test_fit_refuses_empty(self, estimator_class):
        with pytest.raises(ValueError):
            _fit(estimator_class(max_iter=2), np.ones((0, 4)), np.ones(0))

    @pytest.mark.parametrize("param,value,exc", [
        ("hidden_layer_sizes", (0,), ValueError), ("hidden_layer_sizes", (2.5,), TypeError),
        ("hidden_layer_sizes", "32", TypeError), ("hidden_layer_sizes", (-3, 4), ValueError),
        ("learning_rate_init", 0, ValueError), ("learning_rate_init", -1.0, ValueError),
        ("learning_rate_init", float("nan"), ValueError), ("learning_rate_init", "1", TypeError),
        ("batch_size", 0, ValueError), ("batch_size", 1.5, TypeError),
        ("max_iter", 0, ValueError), ("max_iter", 2.5, TypeError),
        ("activation", "lecun", ValueError), ("dtype", np.int32, TypeError),
        ("dtype", "blah", TypeError), ("momentum", 1.5, ValueError), ("alpha", -1.0, ValueError),
        ("validation_fraction", 1.0, ValueError), ("shuffle", "yes", TypeError),
    ])
    def test_bad_hyper_parameters(self, estimator_class, param, value, exc):
        X, y = _est_data(estimator_class.__name__)
        kwargs = {"max_iter": 2, "random_state": 0, param: value}
        with raises(exc, param.split("[")[0]):
            _fit(estimator_class(**kwargs), X, y)

    @pytest.mark.parametrize("dtype", [np.float64, np.float32])
    def test_accepted_layouts(self, estimator_class, dtype, tmp_path):
        Xb, y = _est_data(estimator_class.__name__)
        for name, X in layouts(Xb, tmp_path, integral=True):
            ref = _fit(estimator_class(hidden_layer_sizes=(5,), max_iter=3, random_state=0,
                                       dtype=dtype), c_copy(X, dtype), y)
            est = _fit(estimator_class(hidden_layer_sizes=(5,), max_iter=3, random_state=0,
                                       dtype=dtype), X, y)
            assert np.array_equal(est.network_._flat, ref.network_._flat), name
            assert np.array_equal(est.predict(X), ref.predict(c_copy(X, dtype))), name
