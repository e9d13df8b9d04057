"""FANN files (nnpy.io.to_fann / from_fann) against the real libfann 2.2 (libdoublefann, through
ctypes): what nnpy writes FANN runs to the same outputs and writes back byte for byte, and what
FANN writes nnpy reads to the same outputs and writes back byte for byte."""
import ctypes
import ctypes.util
import re

import numpy as np
import pytest

import nnpy
from nnpy import _family, _model
from nnpy.fann import FannNetwork
from nnpy.io import from_fann, to_fann
from test_export import ACCEPTED, expected_outputs, make_accepted, raw_inputs

FANN_LINEAR, FANN_SIGMOID, FANN_SIGMOID_STEPWISE, FANN_SIGMOID_SYMMETRIC = 0, 3, 4, 5
FANN_GAUSSIAN = 7

# nnpy (hidden activation, output) pairs FANN can hold, and the FANN settings that match them
PAIRS = [("sigmoid", "sigmoid"), ("tanh", "sigmoid"), ("identity", "sigmoid"),
         ("sigmoid", "identity"), ("tanh", "identity")]
FANN_OF = {"sigmoid": (FANN_SIGMOID, 0.5), "tanh": (FANN_SIGMOID_SYMMETRIC, 1.0),
           "identity": (FANN_LINEAR, 1.0)}


def network(hidden, output, sizes=(3, 5, 4, 2), dtype=np.float64, seed=0):
    """A Network with the given activations and N(0, 1) weights."""
    net = nnpy.Network(list(sizes), activation=hidden, output=output, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    net.weights = [rng.normal(0, 1.0, w.shape) for w in net.weights]
    net.biases = [rng.normal(0, 1.0, b.shape) for b in net.biases]
    return net


# ---------------------------------------------------------------------------------------------
# libdoublefann through ctypes
# ---------------------------------------------------------------------------------------------

def _load_fann():
    name = ctypes.util.find_library("doublefann")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    ann, uint, double = ctypes.c_void_p, ctypes.c_uint, ctypes.c_double
    signatures = {
        "fann_create_from_file": (ann, [ctypes.c_char_p]),
        "fann_save": (ctypes.c_int, [ann, ctypes.c_char_p]),
        "fann_destroy": (None, [ann]),
        "fann_run": (ctypes.POINTER(double), [ann, ctypes.POINTER(double)]),
        "fann_get_num_input": (uint, [ann]),
        "fann_get_num_output": (uint, [ann]),
        "fann_create_standard_array": (ann, [uint, ctypes.POINTER(uint)]),
        "fann_create_shortcut_array": (ann, [uint, ctypes.POINTER(uint)]),
        "fann_create_sparse_array": (ann, [ctypes.c_float, uint, ctypes.POINTER(uint)]),
        "fann_randomize_weights": (None, [ann, double, double]),
        "fann_set_activation_function_hidden": (None, [ann, ctypes.c_int]),
        "fann_set_activation_function_output": (None, [ann, ctypes.c_int]),
        "fann_set_activation_steepness_hidden": (None, [ann, double]),
        "fann_set_activation_steepness_output": (None, [ann, double]),
        "fann_set_activation_function": (None, [ann, ctypes.c_int, ctypes.c_int, ctypes.c_int]),
        "fann_set_activation_function_layer": (None, [ann, ctypes.c_int, ctypes.c_int]),
        "fann_set_activation_steepness_layer": (None, [ann, double, ctypes.c_int]),
        "fann_set_activation_steepness": (None, [ann, double, ctypes.c_int, ctypes.c_int]),
    }
    for function, (restype, argtypes) in signatures.items():
        getattr(lib, function).restype = restype
        getattr(lib, function).argtypes = argtypes
    return lib


FANN = _load_fann()
needs_fann = pytest.mark.skipif(FANN is None, reason="libdoublefann (Debian's libfann-dev) is "
                                                     "not installed")


class Fann:
    """A FANN network (struct fann *) that is destroyed when the test is done with it."""

    def __init__(self, handle):
        assert handle, "libfann returned NULL"
        self.handle = handle

    @classmethod
    def load(cls, path):
        return cls(FANN.fann_create_from_file(str(path).encode()))

    @classmethod
    def standard(cls, sizes, hidden, output, create="standard", rate=1.0):
        array = (ctypes.c_uint * len(sizes))(*sizes)
        if create == "standard":
            handle = FANN.fann_create_standard_array(len(sizes), array)
        elif create == "shortcut":
            handle = FANN.fann_create_shortcut_array(len(sizes), array)
        else:
            handle = FANN.fann_create_sparse_array(rate, len(sizes), array)
        ann = cls(handle)
        FANN.fann_randomize_weights(ann.handle, -1.0, 1.0)
        FANN.fann_set_activation_function_hidden(ann.handle, hidden[0])
        FANN.fann_set_activation_steepness_hidden(ann.handle, hidden[1])
        FANN.fann_set_activation_function_output(ann.handle, output[0])
        FANN.fann_set_activation_steepness_output(ann.handle, output[1])
        return ann

    def run(self, X):
        n_out = FANN.fann_get_num_output(self.handle)
        assert FANN.fann_get_num_input(self.handle) == X.shape[1]
        rows = []
        for x in np.asarray(X, np.float64):
            x = np.ascontiguousarray(x)
            y = FANN.fann_run(self.handle, x.ctypes.data_as(ctypes.POINTER(ctypes.c_double)))
            rows.append([y[i] for i in range(n_out)])
        return np.array(rows)

    def save(self, path):
        assert FANN.fann_save(self.handle, str(path).encode()) == 0

    def __del__(self):
        if getattr(self, "handle", None):
            FANN.fann_destroy(self.handle)


def inputs(n_in, n=40, seed=1):
    return np.random.default_rng(seed).normal(0, 1.5, (n, n_in))


# ---------------------------------------------------------------------------------------------
# nnpy -> FANN
# ---------------------------------------------------------------------------------------------

@needs_fann
@pytest.mark.parametrize("hidden, output", PAIRS)
def test_fann_runs_what_nnpy_writes(tmp_path, hidden, output):
    net = network(hidden, output)
    to_fann(net, tmp_path / "n.net")
    X = inputs(3)
    np.testing.assert_allclose(Fann.load(tmp_path / "n.net").run(X), net.predict(X),
                               rtol=0, atol=1e-12)


@needs_fann
@pytest.mark.parametrize("sizes", [(2, 1), (4, 3, 2, 3, 1), (1, 7, 5)])
def test_fann_runs_other_shapes(tmp_path, sizes):
    net = network("sigmoid", "sigmoid", sizes=sizes)
    to_fann(net, tmp_path / "n.net")
    X = inputs(sizes[0])
    np.testing.assert_allclose(Fann.load(tmp_path / "n.net").run(X), net.predict(X),
                               rtol=0, atol=1e-12)


@needs_fann
def test_a_float32_network_runs_in_fann(tmp_path):
    net = network("sigmoid", "sigmoid", dtype=np.float32)
    to_fann(net, tmp_path / "n.net")
    X = inputs(3).astype(np.float32)
    np.testing.assert_allclose(Fann.load(tmp_path / "n.net").run(X), net.predict(X),
                               rtol=0, atol=1e-5)


@needs_fann
@pytest.mark.parametrize("hidden, output", PAIRS)
def test_fann_saves_what_nnpy_wrote_byte_for_byte(tmp_path, hidden, output):
    net = network(hidden, output)
    to_fann(net, tmp_path / "nnpy.net")
    Fann.load(tmp_path / "nnpy.net").save(tmp_path / "fann.net")
    assert (tmp_path / "fann.net").read_bytes() == (tmp_path / "nnpy.net").read_bytes()


# ---------------------------------------------------------------------------------------------
# FANN -> nnpy
# ---------------------------------------------------------------------------------------------

@needs_fann
@pytest.mark.parametrize("hidden, output", PAIRS)
@pytest.mark.parametrize("sizes", [(3, 5, 2), (2, 4, 6, 3), (5, 1)])
def test_nnpy_runs_what_fann_saves(tmp_path, hidden, output, sizes):
    ann = Fann.standard(sizes, FANN_OF[hidden], FANN_OF[output])
    ann.save(tmp_path / "fann.net")
    net = from_fann(tmp_path / "fann.net")
    assert net.sizes == sizes and net.output == output
    if len(sizes) > 2:
        assert net.activation == hidden
    X = inputs(sizes[0])
    np.testing.assert_allclose(net.predict(X), ann.run(X), rtol=0, atol=1e-12)
    # and nnpy writes that network exactly as FANN did
    to_fann(net, tmp_path / "nnpy.net")
    assert (tmp_path / "nnpy.net").read_bytes() == (tmp_path / "fann.net").read_bytes()


@needs_fann
def test_from_fann_float32(tmp_path):
    ann = Fann.standard((3, 4, 2), FANN_OF["sigmoid"], FANN_OF["sigmoid"])
    ann.save(tmp_path / "fann.net")
    net = from_fann(tmp_path / "fann.net", dtype=np.float32)
    assert net.dtype == np.float32
    X = inputs(3)
    np.testing.assert_allclose(net.predict(X.astype(np.float32)), ann.run(X), atol=1e-5)


@needs_fann
@pytest.mark.parametrize("make, message", [
    (lambda: Fann.standard((3, 4, 2), (FANN_SIGMOID, 0.5), (FANN_SIGMOID, 0.5), "shortcut"),
     "shortcut connections"),
    (lambda: Fann.standard((3, 4, 2), (FANN_SIGMOID, 0.5), (FANN_SIGMOID, 0.5), "sparse", 0.5),
     "sparsely connected"),
])
def test_fann_networks_nnpy_cannot_hold_are_refused(tmp_path, make, message):
    make().save(tmp_path / "fann.net")
    with pytest.raises(ValueError, match=message):
        from_fann(tmp_path / "fann.net")


# FANN 2.2's activation functions by code (fann_data.h), and those nnpy's core computes once
# the steepness is folded into the weights (at the steepnesses where fann_run's clip is moot)
FANN_FUNCTIONS = ["LINEAR", "THRESHOLD", "THRESHOLD_SYMMETRIC", "SIGMOID", "SIGMOID_STEPWISE",
                  "SIGMOID_SYMMETRIC", "SIGMOID_SYMMETRIC_STEPWISE", "GAUSSIAN",
                  "GAUSSIAN_SYMMETRIC", "GAUSSIAN_STEPWISE", "ELLIOT", "ELLIOT_SYMMETRIC",
                  "LINEAR_PIECE", "LINEAR_PIECE_SYMMETRIC", "SIN_SYMMETRIC", "COS_SYMMETRIC",
                  "SIN", "COS"]


def _wide_inputs(n_in, n=400, seed=2):
    """Inputs whose sums cross every breakpoint of the stepwise functions and the clip."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, 2.0, (n, n_in)) * rng.choice([0.1, 1.0, 5.0], (n, 1))


@needs_fann
@pytest.mark.parametrize("steepness", [0.5, 1.0, 2.5, 40.0, 0.0, -0.7])
@pytest.mark.parametrize("function", FANN_FUNCTIONS)
def test_every_fann_activation_predicts_as_fann_run(tmp_path, function, steepness):
    """Each activation at each steepness (40: fann_run's clip at +-150/40 bites; 0 and below:
    as fann_run computes them too), in the hidden layers and the output."""
    code = FANN_FUNCTIONS.index(function)
    ann = Fann.standard((3, 6, 5, 2), (code, steepness), (code, steepness))
    ann.save(tmp_path / "fann.net")
    net = from_fann(tmp_path / "fann.net")
    X = _wide_inputs(3)
    np.testing.assert_allclose(net.predict(X), ann.run(X), rtol=1e-12, atol=1e-12)
    # the network with sigmoid hidden layers, this function at the output
    ann = Fann.standard((4, 7, 3), (FANN_SIGMOID, 0.5), (code, steepness))
    ann.save(tmp_path / "fann.net")
    X = _wide_inputs(4)
    np.testing.assert_allclose(from_fann(tmp_path / "fann.net").predict(X), ann.run(X),
                               rtol=1e-12, atol=1e-12)


@needs_fann
def test_fann_create_standards_default_network_predicts_as_fann_run(tmp_path):
    """fann_create_standard gives every layer FANN_SIGMOID_STEPWISE at steepness 0.5."""
    sizes = (5, 8, 4, 3)
    ann = Fann(FANN.fann_create_standard_array(len(sizes), (ctypes.c_uint * 4)(*sizes)))
    FANN.fann_randomize_weights(ann.handle, -1.0, 1.0)
    ann.save(tmp_path / "default.net")
    assert "(6, 4, 5.00000000000000000000e-01)" in (tmp_path / "default.net").read_text()
    net = from_fann(tmp_path / "default.net")
    assert isinstance(net, FannNetwork) and net.sizes == sizes
    assert "FANN_SIGMOID_STEPWISE" in repr(net)
    X = _wide_inputs(5, n=1000)
    np.testing.assert_allclose(net.predict(X), ann.run(X), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(net.predict(X[0]), ann.run(X[:1])[0], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="FannNetwork, which computes in float64 only"):
        from_fann(tmp_path / "default.net", dtype=np.float32)
    with pytest.raises(ValueError, match="X"):
        net.predict(np.ones((2, 4)))


@needs_fann
@pytest.mark.parametrize("hidden, output, activations", [
    ((FANN_SIGMOID, 1.0), (FANN_SIGMOID, 0.25), ("sigmoid", "sigmoid")),
    ((FANN_SIGMOID_SYMMETRIC, 0.5), (FANN_SIGMOID, 3.0), ("tanh", "sigmoid")),
    ((FANN_SIGMOID_SYMMETRIC, 2.0), (FANN_LINEAR, 0.5), ("tanh", "identity")),
    ((FANN_LINEAR, 0.25), (FANN_SIGMOID, 7.5), ("identity", "sigmoid")),
])
def test_sigmoid_tanh_linear_at_any_steepness_are_networks_that_train(tmp_path, hidden, output,
                                                                       activations):
    """The steepness is folded into the weights: an nnpy Network, equal to fann_run, that
    trains in nnpy's core."""
    ann = Fann.standard((3, 5, 2), hidden, output)
    ann.save(tmp_path / "fann.net")
    net = from_fann(tmp_path / "fann.net")
    assert isinstance(net, nnpy.Network)
    assert (net.activation, net.output) == activations
    X = inputs(3)
    np.testing.assert_allclose(net.predict(X), ann.run(X), rtol=1e-12, atol=1e-12)
    Y = np.random.default_rng(0).random((len(X), 2))
    before = net.loss(X, Y)
    net.fit(X, Y, epochs=20, lr=0.1, batch_size=8)
    assert net.loss(X, Y) < before


@needs_fann
@pytest.mark.parametrize("make", [
    # steepness above 7.5: fann_run's clip moves a sigmoid's values
    lambda: Fann.standard((3, 4, 2), (FANN_SIGMOID, 20.0), (FANN_SIGMOID, 0.5)),
    # a tanh output, which nnpy's networks do not have
    lambda: Fann.standard((3, 4, 2), (FANN_SIGMOID, 0.5), (FANN_SIGMOID_SYMMETRIC, 1.0)),
])
def test_networks_nnpy_cannot_train_predict_as_fann_run(tmp_path, make):
    ann = make()
    ann.save(tmp_path / "fann.net")
    net = from_fann(tmp_path / "fann.net")
    assert isinstance(net, FannNetwork)
    X = _wide_inputs(3)
    np.testing.assert_allclose(net.predict(X), ann.run(X), rtol=1e-12, atol=1e-12)


@needs_fann
def test_mixed_activations_predict_as_fann_run(tmp_path):
    """Neurons of one layer with different functions and steepnesses, and hidden layers that
    differ: a FannNetwork (nnpy's core has one activation per layer, one for all hidden)."""
    ann = Fann.standard((3, 4, 2), (FANN_SIGMOID, 0.5), (FANN_SIGMOID, 0.5))
    FANN.fann_set_activation_function(ann.handle, FANN_LINEAR, 1, 2)   # layer 1, neuron 2
    FANN.fann_set_activation_function(ann.handle, FANN_GAUSSIAN, 1, 0)
    FANN.fann_set_activation_steepness(ann.handle, 1.7, 1, 0)
    ann.save(tmp_path / "mixed.net")
    net = from_fann(tmp_path / "mixed.net")
    assert isinstance(net, FannNetwork)
    X = _wide_inputs(3)
    np.testing.assert_allclose(net.predict(X), ann.run(X), rtol=1e-12, atol=1e-12)
    ann = Fann.standard((3, 4, 4, 2), (FANN_SIGMOID, 0.5), (FANN_SIGMOID, 0.5))
    # sigmoid, then tanh: each maps to nnpy, but an nnpy network has one hidden activation
    FANN.fann_set_activation_function_layer(ann.handle, FANN_SIGMOID_SYMMETRIC, 2)
    FANN.fann_set_activation_steepness_layer(ann.handle, 1.0, 2)
    ann.save(tmp_path / "layers.net")
    net = from_fann(tmp_path / "layers.net")
    assert isinstance(net, FannNetwork)
    np.testing.assert_allclose(net.predict(X), ann.run(X), rtol=1e-12, atol=1e-12)


def test_an_unknown_activation_code_is_refused(tmp_path):
    path = tmp_path / "bad.net"
    path.write_text(_entry("neurons", 3, None, "18", None)(_written(tmp_path)))
    with pytest.raises(ValueError, match=r"line 35: neuron 3 .*activation_function 18 is none "
                                         r"of FANN's \(0 to 17\)"):
        from_fann(path)


# ---------------------------------------------------------------------------------------------
# whole models (estimators, nnpy Models, scaler + estimator Pipelines) through libfann
# ---------------------------------------------------------------------------------------------

def _fold_tolerance(model, X):
    """A bound on what folding the scaling into the weights can change in the outputs: the
    folded first layer sums (W * m) x + (W c + b) where the scaled model sums W (x m + c) + b;
    each rounding is within eps of its term, and the terms |W m x| and |W c| can be far larger
    than their sum (raw features of 1000 around means of 1000 cancel), so the error is bounded
    by a few eps times the sum of the terms' magnitudes, carried through the layers by the sum
    of each layer's |weights| (sigmoid and tanh change by at most their argument's change) and
    by a regression's target scale."""
    from nnpy._exportable import exportable
    spec = exportable(model, "test")
    m, c = spec.affine()
    w, b = spec.network.weights[0], spec.network.biases[0]
    terms = np.abs(X * m) @ np.abs(w).T + np.abs(w) @ np.abs(c) + np.abs(b)
    error = 8 * (X.shape[1] + 2) * np.finfo(np.float64).eps * terms.max(axis=1)
    for w in spec.network.weights[1:]:
        error = error * np.abs(w).sum(axis=1).max()
    if spec.target_scaling is not None:
        error = error * spec.target_scaling[1]
    return error[:, None] + 1e-12


@needs_fann
@pytest.mark.parametrize("name", ACCEPTED)
def test_fann_of_every_accepted_kind_computes_its_predictions_on_raw_inputs(tmp_path, name):
    model = make_accepted(name, tmp_path)
    X = raw_inputs()
    values, labels = expected_outputs(model, X)
    if "3 classes" in name:     # a softmax over the classes
        with pytest.raises(ValueError, match="FANN has no softmax"):
            to_fann(model, tmp_path / "m.net")
        return
    to_fann(model, tmp_path / "m.net")
    if labels is not None and values.shape[1] == 2 and "multi-label" not in name:
        values = values[:, 1:]      # a binary classifier: FANN gives p of the second class
    out = Fann.load(tmp_path / "m.net").run(X)
    assert out.shape == values.shape
    assert (np.abs(out - values) <= _fold_tolerance(model, X)).all(), \
        np.abs(out - values).max()


@needs_fann
def test_fann_linear_output_beyond_its_clip(tmp_path):
    """A regression Model's values (target_mean 300, scale 80) pass fann_run's clip at 150 at
    steepness 1: to_fann lowers the steepness by powers of two until the clip is out of reach."""
    model = make_accepted("Model, regression", tmp_path)
    X = raw_inputs()
    assert np.abs(model.predict(X)).max() > 150
    to_fann(model, tmp_path / "m.net")
    neurons = re.search(r"^neurons.*=(.*)$", (tmp_path / "m.net").read_text(), re.MULTILINE)
    output = re.findall(r"\((\d+), (\d+), ([^)]+)\)", neurons.group(1))[-2]   # before its bias
    assert output[:2] == ("6", "0") and float(output[2]) < 1
    out = Fann.load(tmp_path / "m.net").run(X)
    assert (np.abs(out - model.predict(X)[:, None]) <= _fold_tolerance(model, X)).all()


# ---------------------------------------------------------------------------------------------
# without libfann: what nnpy refuses to write, and damaged files
# ---------------------------------------------------------------------------------------------

def test_round_trip_keeps_every_weight(tmp_path):
    net = network("sigmoid", "sigmoid", sizes=(4, 6, 3))
    w, b = net.weights[0].copy(), net.biases[1].copy()
    w[0, 0], b[2] = 1e-300, -123456.789e200       # extremes survive %.20e
    net.weights[0], net.biases[1] = w, b
    to_fann(net, tmp_path / "n.net")
    back = from_fann(tmp_path / "n.net")
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert np.array_equal(a, b)


def test_file_objects(tmp_path):
    import io
    net = network("sigmoid", "sigmoid")
    text = io.StringIO()
    to_fann(net, text)
    back = from_fann(io.BytesIO(text.getvalue().encode()))
    assert np.array_equal(back.weights[1], net.weights[1])


def test_softmax_output_is_refused(tmp_path):
    net = nnpy.Network([3, 4, 2], output="softmax")
    with pytest.raises(ValueError, match="FANN cannot represent a 'softmax' output"):
        to_fann(net, tmp_path / "n.net")
    assert not (tmp_path / "n.net").exists()


@pytest.mark.parametrize("hidden", [name for name in _model.HIDDEN
                                    if _family.ACTIVATIONS[name].fann is None])
def test_hidden_layers_fann_lacks_are_refused(tmp_path, hidden):
    net = network(hidden, "sigmoid")
    with pytest.raises(ValueError, match=f"FANN cannot represent '{hidden}' hidden layers"):
        to_fann(net, tmp_path / "n.net")
    # without a hidden layer the hidden activation does not matter
    to_fann(network("relu", "sigmoid", sizes=(3, 2)), tmp_path / "n.net")


def test_not_a_network():
    with pytest.raises(TypeError, match="to_fann needs an nnpy.Network"):
        to_fann({"W_0": 1}, "x.net")


def _written(tmp_path, sizes=(2, 3, 1)):
    to_fann(network("sigmoid", "sigmoid", sizes=sizes), tmp_path / "n.net")
    return (tmp_path / "n.net").read_text()


@pytest.mark.parametrize("edit, message", [
    (lambda t: "", "not a FANN network file"),
    (lambda t: "hello\n" + t, "not a FANN network file"),
    (lambda t: t.replace("FANN_FLO_2.1", "FANN_FIX_2.1"), "fixed-point"),
    (lambda t: t.replace("FANN_FLO_2.1", "FANN_FLO_1.1"), "older FANN format"),
    (lambda t: t[:len(t) // 2], "not a complete FANN network file|malformed|need"),
    (lambda t: t.replace("num_layers=3", "num_layers=4"), "num_layers=4"),
    (lambda t: t.replace("layer_sizes=3 4 2", "layer_sizes=3 4 9"), "need 16 neurons"),
    (lambda t: t.rstrip("\n") + "(0, 1.0) \n", "the file holds more"),
    (lambda t: t.replace("e-01) ", "e-01x) ", 1), "malformed number"),
    (lambda t: t.replace("scale_included=0", "scale_included=1"), "scaling parameters"),
    (lambda t: t.replace("learning_rate=0.700000\n", ""), "no learning_rate"),
    (lambda t: t.replace("quickprop_mu", "quickprop_nu"), "no quickprop_mu"),
    (lambda t: t.replace("layer_sizes=", "extra=1\nlayer_sizes="), "unknown fields extra"),
    (lambda t: t.replace("learning_rate=0.700000\nconnection_rate=1.000000",
                         "connection_rate=1.000000\nlearning_rate=0.700000"), "out of place"),
    (lambda t: t.replace("(3, 3, 5", "(2, 3, 5", 1).replace("(4, 3, 5", "(5, 3, 5"),
     "not fully connected"),
    (lambda t: t.replace("connections (connected_to_neuron, weight)=(0,",
                         "connections (connected_to_neuron, weight)=(1,"), "in order"),
    (lambda t: t + "(9, 1.0)", "unexpected line|key=value"),
    (lambda t: t.encode("ascii").replace(b"FANN_FLO", b"\xff\xfeFANN"), "not ASCII text"),
])
def test_damaged_files_are_refused(tmp_path, edit, message):
    damaged = edit(_written(tmp_path))
    path = tmp_path / "damaged.net"
    if isinstance(damaged, bytes):
        path.write_bytes(damaged)
    else:
        path.write_text(damaged)
    with pytest.raises(ValueError, match=message):
        from_fann(path)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_weights_are_refused(tmp_path, value):
    head, key, connections = _written(tmp_path).partition("weight)=")
    connections = re.sub(r"\(0, [^)]+\) ", f"(0, {value}) ", connections, count=1)
    (tmp_path / "bad.net").write_text(head + key + connections)
    with pytest.raises(ValueError, match="NaN or infinity"):
        from_fann(tmp_path / "bad.net")


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        from_fann("/nonexistent/n.net")


def test_every_activation_of_the_model_table_is_mapped_or_refused(tmp_path):
    """Each hidden activation and output of nnpy's model table either round-trips through a
    FANN file or is refused with a ValueError naming it."""
    from nnpy import _model
    for hidden in _model.HIDDEN:
        for output in _model.OUTPUTS:
            net = network(hidden, output)
            try:
                to_fann(net, tmp_path / "n.net")
            except ValueError as err:
                assert repr(hidden) in str(err) or repr(output) in str(err)
                continue
            back = from_fann(tmp_path / "n.net")
            assert (back.activation, back.output) == (hidden, output)
            np.testing.assert_array_equal(back.predict(inputs(3)), net.predict(inputs(3)))


# ---------------------------------------------------------------------------------------------
# every number of the file, and every structure libfann would run otherwise than it reads
# ---------------------------------------------------------------------------------------------

HUGE = str(10 ** 30)

# the lines of _written's file (sizes 2, 3, 1): where each field is
LINE = {"num_layers": 2, "learning_rate": 3, "connection_rate": 4, "network_type": 5,
        "cascade_max_out_epochs": 21, "cascade_activation_functions": 30,
        "layer_sizes": 33, "neurons": 35, "connections": 36}


def _set(key, value):
    """An edit that sets the `key=value` line's value."""
    return lambda t: re.sub(rf"^{re.escape(key)}=.*$", f"{key}={value}", t, count=1,
                            flags=re.MULTILINE)


def _entry(line, index, *values):
    """An edit that replaces the fields of entry `index` (from 0) of the neurons or
    connections line with `values` (None keeps a field)."""
    def edit(text):
        lines = text.split("\n")
        n = LINE[line] - 1
        key, _, entries = lines[n].partition("=")
        items = re.findall(r"\(([^()]*)\) ", entries)
        old = [part.strip() for part in items[index].split(",")]
        items[index] = ", ".join(v if v is not None else o for o, v in zip(old, values))
        lines[n] = key + "=" + "".join(f"({item}) " for item in items)
        return "\n".join(lines)
    return edit


@pytest.mark.parametrize("edit, line, words", [
    # connections: a source index beyond unsigned int, and every other way a number can be wrong
    (_entry("connections", 0, HUGE, None), "connections", ["connection 0",
                                                          "connected_to_neuron", "unsigned int"]),
    (_entry("connections", 5, "4294967296", None), "connections", ["connection 5",
                                                                  "connected_to_neuron"]),
    (_entry("connections", 1, "-1", None), "connections", ["connected_to_neuron", ">= 0"]),
    (_entry("connections", 1, "1.0", None), "connections", ["connected_to_neuron", ">= 0"]),
    (_entry("connections", 2, "7", None), "connections", ["connection 2", "from neuron 2"]),
    (_entry("connections", 3, None, "1e999"), "connections", ["connection 3", "weight",
                                                              "finite"]),
    (_entry("connections", 3, None, "-" + HUGE + "e300"), "connections", ["weight", "finite"]),
    (_entry("connections", 3, None, "nan"), "connections", ["weight", "finite"]),
    (_entry("connections", 3, None, "1_0"), "connections", ["weight", "malformed"]),
    (_entry("connections", 3, None, "0x1p3"), "connections", ["weight", "malformed"]),
    # neurons
    (_entry("neurons", 3, HUGE, None, None), "neurons", ["neuron 3", "num_inputs",
                                                        "unsigned int"]),
    (_entry("neurons", 3, "4", None, None), "neurons", ["neuron 3", "not fully connected"]),
    (_entry("neurons", 3, None, HUGE, None), "neurons", ["neuron 3", "activation_function",
                                                        "unsigned int"]),
    (_entry("neurons", 3, None, "-3", None), "neurons", ["activation_function", ">= 0"]),
    (_entry("neurons", 3, None, "3.0", None), "neurons", ["activation_function", ">= 0"]),
    (_entry("neurons", 3, None, None, "inf"), "neurons", ["activation_steepness", "finite"]),
    (_entry("neurons", 3, None, None, "1e400"), "neurons", ["activation_steepness", "finite"]),
    (_entry("neurons", 0, None, HUGE, None), "neurons", ["neuron 0", "activation_function"]),
    (_entry("neurons", 2, None, None, "nan"), "neurons", ["neuron 2", "its bias neuron",
                                                         "activation_steepness"]),
    # the shape and the settings
    (_set("layer_sizes", f"3 {HUGE} 2 "), "layer_sizes", ["layer_sizes[1]", "unsigned int"]),
    (_set("layer_sizes", "3 -4 2 "), "layer_sizes", ["layer_sizes[1]", ">= 0"]),
    (_set("layer_sizes", "3 4.5 2 "), "layer_sizes", ["layer_sizes[1]"]),
    (_set("layer_sizes", "3 1 2 "), "layer_sizes", ["bias neuron"]),
    (_set("num_layers", HUGE), "num_layers", ["num_layers", "unsigned int"]),
    (_set("num_layers", "3_0"), "num_layers", ["num_layers", ">= 0"]),
    (_set("network_type", HUGE), "network_type", ["network_type", "unsigned int"]),
    (_set("network_type", "7"), "network_type", ["unknown network_type 7"]),
    (_set("connection_rate", "nan"), "connection_rate", ["connection_rate", "finite"]),
    (_set("learning_rate", "fast"), "learning_rate", ["learning_rate", "malformed"]),
    (_set("cascade_max_out_epochs", "-1"), "cascade_max_out_epochs",
     ["cascade_max_out_epochs"]),
    (_set("cascade_activation_functions", f"3 5 7 8 10 11 14 15 16 {HUGE} "),
     "cascade_activation_functions", ["cascade_activation_functions[9]", "unsigned int"]),
    (_set("cascade_activation_functions", "3 5 7 "), "cascade_activation_functions",
     ["lists 3 values", "count=10"]),
])
def test_every_number_out_of_range_is_a_value_error_naming_file_line_and_field(
        tmp_path, edit, line, words):
    text = _written(tmp_path)
    damaged = edit(text)
    assert damaged != text
    path = tmp_path / "damaged.net"
    path.write_text(damaged)
    with pytest.raises(ValueError) as caught:
        from_fann(path)
    message = str(caught.value)
    for word in [str(path), f"line {LINE[line]}:"] + words:
        assert word in message, (word, message)


def test_a_weight_beyond_float32_is_refused_when_reading_as_float32(tmp_path):
    path = tmp_path / "big.net"
    path.write_text(_entry("connections", 5, None, "1e300")(_written(tmp_path)))
    assert from_fann(path).biases[0][1] == 1e300   # float64 holds it
    with pytest.raises(ValueError, match=r"line 36: connection 5 .*weight 1e\+300 is beyond "
                                         r"the range of float32"):
        from_fann(path, dtype=np.float32)
    # just past float32's largest number, it rounds to it: not refused
    path.write_text(_entry("connections", 5, None, "3.4028235e38")(_written(tmp_path)))
    assert from_fann(path, dtype=np.float32).biases[0][1] == np.finfo(np.float32).max


def test_a_newer_fann_format_names_both_versions(tmp_path):
    path = tmp_path / "new.net"
    path.write_text(_written(tmp_path).replace("FANN_FLO_2.1", "FANN_FLO_2.4", 1))
    with pytest.raises(ValueError, match=r"line 1: FANN_FLO_2\.4, a FANN format newer than "
                                         r"this nnpy knows \(its newest is FANN_FLO_2\.1\)"):
        from_fann(path)


def _input_neuron_with_connections(text):
    """Neuron 0 (an input) given two connections, placed first as libfann numbers them."""
    text = _entry("neurons", 0, "2", None, None)(text)
    return text.replace("weight)=", "weight)=(0, 5.0) (1, -5.0) ", 1)


def _bias_neuron_with_connections(text):
    """Layer 1's bias neuron (neuron 6 of sizes 2, 3, 1) fed from layer 0, its connections
    placed where libfann numbers them: after those of layer 1's neurons."""
    text = _entry("neurons", 6, "3", None, None)(text)
    head, key, rest = text.partition("weight)=")
    items = re.findall(r"\([^()]*\) ", rest)
    items[9:9] = ["(0, 2.0) ", "(1, 2.0) ", "(2, 2.0) "]
    return head + key + "".join(items) + "\n"


def _sources_reversed(text):
    head, key, rest = text.partition("weight)=")
    items = re.findall(r"\(([^()]*)\) ", rest)
    sources = [item.split(",")[0] for item in items[:3]][::-1]
    items[:3] = [f"{s},{item.split(',', 1)[1]}" for s, item in zip(sources, items[:3])]
    return head + key + "".join(f"({item}) " for item in items) + "\n"


# Edits of a valid file that libfann 2.2 still loads and runs: nnpy refuses each (a message
# with these words) or reads it to the outputs fann_run gives (None)
STRUCTURES = {
    "input neuron with connections": (_input_neuron_with_connections,
                                      "input neurons have none"),
    "hidden bias neuron with connections": (_bias_neuron_with_connections,
                                            "a bias neuron has none"),
    "connections from other neurons": (_sources_reversed, "connected_to_neuron is 2"),
    "entries after the last connection": (lambda t: t.rstrip("\n") + "(0, 1.0) \n",
                                          "the file holds more"),
    "an input neuron's activation": (_entry("neurons", 1, None, "5", "2.5"), None),
    "a bias neuron's activation": (_entry("neurons", 6, None, "0", "7.0"), None),
    "the output layer's bias neuron's activation": (_entry("neurons", 8, None, "5", "1.0"), None),
    "connection_rate above 1": (_set("connection_rate", "2.000000"), None),
    "settings far from FANN's defaults": (lambda t: _set("learning_rate", "1e30")(
        _set("cascade_max_out_epochs", "4294967295")(t)), None),
}


@pytest.mark.parametrize("structure", list(STRUCTURES))
def test_files_libfann_runs_are_refused_or_read_as_fann_runs_them(tmp_path, structure):
    edit, refusal = STRUCTURES[structure]
    path = tmp_path / "edited.net"
    path.write_text(edit(_written(tmp_path)))
    if refusal is not None:
        with pytest.raises(ValueError, match=refusal):
            from_fann(path)
    if FANN is None:
        if refusal is None:
            from_fann(path)
        return
    ann = Fann.load(path)   # libfann reads every one of these files
    X = inputs(2)
    if refusal is None:
        np.testing.assert_allclose(from_fann(path).predict(X), ann.run(X), rtol=0, atol=1e-12)


@needs_fann
def test_libfann_skips_an_input_neurons_connections(tmp_path):
    """Why such a file is refused: fann_run never reads the connections of an input neuron, so
    it computes the network without them, where reading them in order as layer 1's would
    shift every weight."""
    (tmp_path / "plain.net").write_text(_written(tmp_path))
    (tmp_path / "edited.net").write_text(_input_neuron_with_connections(_written(tmp_path)))
    X = inputs(2)
    np.testing.assert_array_equal(Fann.load(tmp_path / "edited.net").run(X),
                                  Fann.load(tmp_path / "plain.net").run(X))
