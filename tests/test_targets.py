"""Targets checked against the model: a softmax needs two outputs or more (at construction, in
pickles and in files); Y must be what the loss compares the outputs with, in every entry point
that takes it, with a ValueError naming Y (and nothing trained or changed)."""
import io as _io
import json
import pickle
import zipfile

import numpy as np
import pytest

import nnpy
from nnpy import Network

X4 = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)


# ---- a softmax over one unit ------------------------------------------------------------

@pytest.mark.parametrize("sizes", [[2, 4, 1], [3, 1]])
def test_softmax_over_one_output_is_refused(sizes):
    """It trained to a loss of 0.0 and predicted 1.0 everywhere."""
    with pytest.raises(ValueError, match=r"output='softmax'.*at least 2 output"):
        Network(sizes, output="softmax")
    Network(sizes[:-1] + [2], output="softmax")   # two is fine
    Network(sizes, output="sigmoid")


def test_a_pickled_softmax_over_one_output_is_refused():
    net = Network([2, 3, 2], output="softmax", seed=0)
    state = net.__getstate__()
    state["_sizes"] = np.array([2, 3, 1], dtype=np.intp)
    state["_flat"] = state["_flat"][:13]
    restored = Network.__new__(Network)
    with pytest.raises(ValueError, match="softmax"):
        restored.__setstate__(state)
    pickle.loads(pickle.dumps(net))  # a valid one still loads


def test_a_network_file_with_a_softmax_over_one_output_is_refused(tmp_path):
    """A file (made by hand: save cannot write one) naming the file and what is wrong."""
    net = Network([2, 3, 1], output="sigmoid", loss="cross_entropy", seed=0)
    good = tmp_path / "good.npz"
    net.save(good)
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("header"):
                array = np.load(_io.BytesIO(data))
                header = json.loads(bytes(array).decode() if array.dtype == np.uint8
                                    else str(array))
                header["output"] = "softmax"
                text = json.dumps(header)
                buffer = _io.BytesIO()
                np.save(buffer, np.frombuffer(text.encode(), np.uint8) if
                        array.dtype == np.uint8 else np.array(text))
                data = buffer.getvalue()
            zout.writestr(item, data)
    with pytest.raises(ValueError, match=r"bad\.npz.*softmax.*at least 2"):
        nnpy.Network.load(bad)


# ---- targets for the loss ------------------------------------------------------------------

def _entry_points(net, X, Y):
    """Every Network method that takes targets, as calls."""
    return {
        "fit": lambda: net.fit(X, Y, epochs=1, lr=0.1),
        "fit-batch": lambda: net.fit(X, Y, epochs=1, lr=0.1, batch_size=len(X)),
        "loss": lambda: net.loss(X, Y),
        "gradients": lambda: net.gradients(X, Y),
        "objective": lambda: net.objective(X, Y),
        "accuracy": lambda: net.accuracy(X, Y),
        "validation": lambda: net.fit(X, np.clip(Y, 0, 1) if net.output == "sigmoid" else
                                      np.eye(net.sizes[-1])[np.zeros(len(X), int)],
                                      epochs=1, lr=0.1, validation=(X, Y)),
    }


BAD_SIGMOID = [
    ([[0], [2], [2], [0]], r"\[0, 1\].*got 2\.0 at index \(1, 0\)"),   # once trained to loss -12.38
    ([[0], [1], [-0.5], [0]], r"\[0, 1\].*got -0\.5"),
    ([[0], [1], [1.0000001], [0]], r"\[0, 1\]"),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("Y, message", BAD_SIGMOID)
def test_cross_entropy_after_a_sigmoid_needs_targets_in_0_1(Y, message, dtype):
    net = Network([2, 4, 1], loss="cross_entropy", seed=0, dtype=dtype)
    before = net.get_flat_params()
    for name, call in _entry_points(net, X4, np.array(Y, float)).items():
        with pytest.raises(ValueError, match=("validation Y" if name == "validation" else "Y")
                           + " must hold values in " + message):
            call()
    np.testing.assert_array_equal(net.get_flat_params(), before)
    assert net.optimizer_state is None


def test_fit_loss_cross_entropy_checks_against_that_loss():
    """A sigmoid network trained by mse takes any finite targets; asked for cross_entropy it
    checks them against cross_entropy."""
    net = Network([2, 4, 1], seed=0)  # sigmoid + mse
    Y = np.array([[0], [2], [2], [0]], float)
    net.loss(X4, Y)
    net.fit(X4, Y, epochs=1, lr=0.1)
    for call in (lambda: net.fit(X4, Y, epochs=1, lr=0.1, loss="cross_entropy"),
                 lambda: net.loss(X4, Y, loss="cross_entropy"),
                 lambda: net.objective(X4, Y, loss="cross_entropy")):
        with pytest.raises(ValueError, match=r"Y must hold values in \[0, 1\]"):
            call()


BAD_SOFTMAX = [
    ([[1, 0, 0], [0, 1, 0], [0.5, 0.4, 0], [0, 0, 1]], r"row 2 sums to 0\.9"),
    ([[1, 0, 0], [0, 2, 0], [0, 0, 1], [0, 0, 1]], r"row 1 sums to 2\.0"),
    ([[1, 0, 0], [0, 0, 0], [0, 0, 1], [0, 0, 1]], r"row 1 sums to 0\.0"),
    ([[1, 0, 0], [1.5, -0.5, 0], [0, 0, 1], [0, 0, 1]], r"non-negative.*-0\.5 at index \(1, 1\)"),
    ([[1, 0, 0], [0, 1, 1e-4], [0, 0, 1], [0, 0, 1]], r"row 1 sums to 1\.000(1|09999)"),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("Y, message", BAD_SOFTMAX)
def test_softmax_targets_must_be_distributions(Y, message, dtype):
    X = np.random.default_rng(0).normal(size=(4, 2))
    net = Network([2, 4, 3], output="softmax", seed=0, dtype=dtype)
    before = net.get_flat_params()
    for name, call in _entry_points(net, X, np.array(Y, float)).items():
        with pytest.raises(ValueError, match=r"Y must .*" + message):
            call()
    np.testing.assert_array_equal(net.get_flat_params(), before)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [2, 10, 1000])
def test_softmax_takes_distributions_to_the_dtypes_rounding(dtype, k):
    """One-hot rows, label smoothing and softmax outputs computed in the dtype (whose sums
    are 1 only to rounding) are accepted."""
    rng = np.random.default_rng(k)
    X = rng.normal(size=(50, 2))
    net = Network([2, 3, k], output="softmax", seed=0, dtype=dtype)
    onehot = np.eye(k)[rng.integers(0, k, 50)]
    smooth = (0.9 * onehot + 0.1 / k).astype(dtype)
    z = rng.normal(size=(50, k)).astype(dtype) * 5
    e = np.exp(z - z.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)    # computed in dtype
    assert probs.dtype == dtype
    for Y in (onehot, smooth, probs):
        assert np.isfinite(net.loss(X, Y))
        net.fit(X, Y, epochs=1, lr=0.01, batch_size=10)


def test_mse_takes_any_finite_targets():
    net = Network([2, 4, 1], output="identity", seed=0)
    Y = np.array([[-1e6], [2], [3.5], [0]])
    assert np.isfinite(net.loss(X4, Y))
    net.fit(X4, Y, epochs=1, lr=1e-9)
    with pytest.raises(ValueError, match="Y contains infinity"):
        net.loss(X4, [[0], [np.inf], [0], [0]])


def test_cross_entropy_targets_outside_0_1_are_refused_not_trained_to_a_negative_loss():
    net = Network([2, 4, 1], loss="cross_entropy", seed=0)
    with pytest.raises(ValueError, match="Y must hold values in"):
        net.fit(X4, [[0], [2], [2], [0]], epochs=200, lr=1.0)
    # the same targets as probabilities: a loss that cannot go below 0
    history = net.fit(X4, [[0], [1], [1], [0]], epochs=200, lr=1.0)
    assert min(history.loss) >= 0
