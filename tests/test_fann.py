"""FANN files (nnpy.io.to_fann / from_fann) against the real libfann 2.2 (libdoublefann, through
ctypes): what nnpy writes FANN runs to the same outputs and writes back byte for byte, and what
FANN writes nnpy reads to the same outputs and writes back byte for byte."""
import ctypes
import ctypes.util
import re

import numpy as np
import pytest

import nnpy
from nnpy.io import from_fann, to_fann

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
    (lambda: Fann.standard((3, 4, 2), (FANN_SIGMOID_STEPWISE, 0.5), (FANN_SIGMOID, 0.5)),
     "FANN_SIGMOID_STEPWISE at steepness 0.5"),
    (lambda: Fann.standard((3, 4, 2), (FANN_GAUSSIAN, 1.0), (FANN_SIGMOID, 0.5)),
     "FANN_GAUSSIAN at steepness 1"),
    (lambda: Fann.standard((3, 4, 2), (FANN_SIGMOID_SYMMETRIC, 0.5), (FANN_SIGMOID, 0.5)),
     "FANN_SIGMOID_SYMMETRIC at steepness 0.5"),
    (lambda: Fann.standard((3, 4, 2), (FANN_SIGMOID, 1.0), (FANN_SIGMOID, 0.5)),
     "FANN_SIGMOID at steepness 1"),
    (lambda: Fann.standard((3, 4, 2), (FANN_SIGMOID, 0.5), (FANN_SIGMOID_SYMMETRIC, 1.0)),
     "the output layer is tanh"),
])
def test_fann_networks_nnpy_cannot_hold_are_refused(tmp_path, make, message):
    make().save(tmp_path / "fann.net")
    with pytest.raises(ValueError, match=message):
        from_fann(tmp_path / "fann.net")


@needs_fann
def test_mixed_activations_are_refused(tmp_path):
    ann = Fann.standard((3, 4, 2), (FANN_SIGMOID, 0.5), (FANN_SIGMOID, 0.5))
    FANN.fann_set_activation_function(ann.handle, FANN_LINEAR, 1, 2)   # layer 1, neuron 2
    ann.save(tmp_path / "mixed.net")
    with pytest.raises(ValueError, match="the neurons of layer 1 differ in activation"):
        from_fann(tmp_path / "mixed.net")
    ann = Fann.standard((3, 4, 4, 2), (FANN_SIGMOID, 0.5), (FANN_SIGMOID, 0.5))
    FANN.fann_set_activation_function_layer(ann.handle, FANN_SIGMOID_STEPWISE, 2)
    ann.save(tmp_path / "layers.net")
    with pytest.raises(ValueError, match="layer 2 uses FANN_SIGMOID_STEPWISE"):
        from_fann(tmp_path / "layers.net")
    # sigmoid, then tanh: each maps to nnpy, but an nnpy network has one hidden activation
    FANN.fann_set_activation_function_layer(ann.handle, FANN_SIGMOID_SYMMETRIC, 2)
    FANN.fann_set_activation_steepness_layer(ann.handle, 1.0, 2)
    ann.save(tmp_path / "layers.net")
    with pytest.raises(ValueError, match="hidden layers have different activations "
                                         r"\(sigmoid, tanh\)"):
        from_fann(tmp_path / "layers.net")


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


def test_relu_hidden_layers_are_refused(tmp_path):
    net = network("relu", "sigmoid")
    with pytest.raises(ValueError, match="FANN cannot represent 'relu' hidden layers"):
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
