"""Pre-activations that overflow the dtype (finite X and weights whose sums leave its range): every
entry point, for one row and several, refuses them with one ValueError that names the layer and
the row, and changes nothing; finite logits of any size give the right finite answer. Exports
to a narrower dtype refuse weights beyond its range."""
import io

import numpy as np
import pytest

import nnpy
from nnpy import Network, TrainingDiverged
from nnpy._dispatch import core

DTYPES = [np.float32, np.float64]
OUTPUTS = {"softmax": "cross_entropy", "sigmoid": "cross_entropy", "identity": "mse"}


def overflowing(dtype, output, layer, width=4, hidden="tanh", fit=None):
    """A [2, width, 3] network and X whose row 1 makes the pre-activations of `layer` (0:
    hidden, 1: output) overflow the dtype, while row 0 gives finite outputs; Y fits the output.
    (Width 4 takes the per-sample loops compiled for small widths, 6 the general ones.)
    fit: settings of a fit on ordinary data first, for an optimiser state to keep."""
    big = np.finfo(dtype).max * 0.6
    net = Network([2, width, 3], activation=hidden, output=output, loss=OUTPUTS[output],
                  dtype=dtype, seed=0)
    if fit is not None:
        net.fit([[0.5, -0.5]], [[0.0, 1.0, 0.0]], epochs=2, lr=1e-3, **fit)
    if layer == 0:   # 2 * big per hidden unit: beyond the range
        net.weights = [np.full((width, 2), big, dtype), np.ones((3, width), dtype)]
    else:            # hidden activations 1 (tanh(200)), then width * big per output
        net.weights = [np.full((width, 2), 100.0, dtype), np.full((3, width), big, dtype)]
    X = np.array([[0.0, 0.0], [1.0, 1.0]], dtype)
    net.biases = [np.zeros(width, dtype), np.zeros(3, dtype)]
    Y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype)
    return net, X, Y


def message(layer, row, dtype):
    return (fr"pre-activations of layer {layer} .*overflowed {np.dtype(dtype).name} "
            fr"for row {row} of X")


# (name, call(net, X, Y)) for every entry point that computes a forward pass
ENTRY_POINTS = [
    ("predict", lambda net, X, Y: net.predict(X)),
    ("predict of a copy in another layout", lambda net, X, Y: net.predict(np.asfortranarray(X))),
    ("predict of lists", lambda net, X, Y: net.predict(X.tolist())),
    ("loss", lambda net, X, Y: net.loss(X, Y)),
    ("weighted loss", lambda net, X, Y: net.loss(X, Y, sample_weight=np.ones(len(X)))),
    ("gradients", lambda net, X, Y: net.gradients(X, Y)),
    ("objective", lambda net, X, Y: net.objective(X, Y, alpha=0.1)(net.get_flat_params())),
    ("accuracy", lambda net, X, Y: net.accuracy(X, Y)),
]
FITS = [dict(batch_size=1), dict(batch_size=1, momentum=0.9), dict(batch_size=2),
        dict(batch_size=300), dict(batch_size=2, optimizer="adam")]


def rows_of(X):
    """(rows, index of the overflowing row in them): the bad row alone, then after a good one,
    then several with the bad one first."""
    return [(X[1:], 0), (X, 1), (X[[1, 0, 1, 0]], 0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output", list(OUTPUTS))
@pytest.mark.parametrize("layer", [0, 1])
@pytest.mark.parametrize("name, call", ENTRY_POINTS, ids=[n for n, _ in ENTRY_POINTS])
def test_every_entry_point_refuses_overflowing_pre_activations(dtype, output, layer, name, call):
    net, X, Y = overflowing(dtype, output, layer)
    before = net.get_flat_params()
    assert np.all(np.isfinite(net.predict(X[:1])))   # the good row alone is fine
    for rows, bad in rows_of(X):
        Yr = Y[[0] * len(rows)]
        with pytest.raises(ValueError, match=message(layer, bad, dtype)):
            call(net, rows, Yr)
    np.testing.assert_array_equal(net.get_flat_params(), before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output", list(OUTPUTS))
@pytest.mark.parametrize("layer", [0, 1])
@pytest.mark.parametrize("width", [4, 6])
def test_one_sample_predict_refuses_alike(dtype, output, layer, width):
    """The one-sample path (a 1-D row, or a (1, n) row, in the network's dtype) takes no
    shortcut around the check: predict_one declines and predict raises the same error."""
    net, X, Y = overflowing(dtype, output, layer, width)
    for x in (X[1], X[1:2]):
        assert core.predict_one(net._forward_model, net._flat, x, net._guard) is None
        with pytest.raises(ValueError, match=message(layer, 0, dtype)):
            net.predict(x)
    good = core.predict_one(net._forward_model, net._flat, X[0], net._guard)
    assert good is not None and np.all(np.isfinite(good))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output", list(OUTPUTS))
@pytest.mark.parametrize("layer", [0, 1])
@pytest.mark.parametrize("width", [4, 6])
@pytest.mark.parametrize("settings", FITS, ids=lambda s: "-".join(map(str, s.values())))
def test_fit_refuses_and_changes_nothing(dtype, output, layer, width, settings):
    """fit on rows that overflow at the weights it starts from raises predict's error, whatever
    order the rows come in (shuffled: the good row may take a step first), and leaves the
    weights and the optimiser state as they were."""
    net, X, Y = overflowing(dtype, output, layer, width, fit=settings)
    before, state = net.get_flat_params(), net.optimizer_state
    assert state["step"] == 2
    for rows, bad in rows_of(X):
        for seed in range(3):
            trial = net.copy()
            trial._rng = np.random.default_rng(seed)
            with pytest.raises(ValueError, match=message(layer, bad, dtype)):
                trial.fit(rows, Y[[0] * len(rows)], epochs=3, lr=1e-3, **settings)
            np.testing.assert_array_equal(trial.get_flat_params(), before)
            after = trial.optimizer_state
            assert after["step"] == state["step"]
            np.testing.assert_array_equal(after["moments"], state["moments"])


def test_overflow_reached_by_training_is_divergence():
    """Weights that only overflow after training's steps: TrainingDiverged (a smaller lr
    helps), not the ValueError of bad inputs, and the last finite weights are kept."""
    X = np.array([[1e300, 1.0], [1.0, -1e300], [1.0, 1.0]])
    Y = np.array([[0.0], [1.0], [1.0]])
    net = Network([2, 1], loss="cross_entropy", seed=0)
    net.predict(X)   # finite at the start
    with pytest.raises(TrainingDiverged, match="overflow float64"):
        net.fit(X, Y, epochs=50, lr=1.0, batch_size=3)
    assert np.all(np.isfinite(net.get_flat_params()))


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer:UserWarning")
@pytest.mark.parametrize("dtype", DTYPES)
def test_estimators_refuse_alike(dtype):
    from nnpy.estimators import NNClassifier, NNRegressor
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2)).astype(dtype)
    y = np.arange(30) % 3
    huge = np.array([[np.finfo(dtype).max * 0.9, np.finfo(dtype).max * 0.9]], dtype)
    clf = NNClassifier(hidden_layer_sizes=(4,), activation="identity", max_iter=2,
                       dtype=dtype).fit(X, y)
    reg = NNRegressor(hidden_layer_sizes=(4,), activation="identity", max_iter=2,
                      dtype=dtype).fit(X, y.astype(float))
    for model in (clf, reg):
        # the hidden weights of one sign make the sum of two huge inputs overflow somewhere
        model.network_.weights = [np.full(w.shape, 3.0, dtype) for w in model.network_.weights]
        calls = [model.predict, lambda Z: model.score(Z, y[:len(Z)])]
        if model is clf:
            calls += [clf.predict_proba, clf.predict_log_proba]
        for call in calls:
            for Z in (huge, np.vstack([X[:2], huge]), np.vstack([huge, huge])):
                bad = 0 if Z[0, 0] == huge[0, 0] else 2
                with pytest.raises(ValueError, match=message(0, bad, dtype)):
                    call(Z)
        # partial_fit continues from these weights: refused alike, nothing changed
        before = [w.copy() for w in model.network_.weights]
        with pytest.raises(ValueError, match=message(0, 2, dtype)):
            model.partial_fit(np.vstack([X[:2], huge]), y[:3] if model is clf else y[:3] * 1.0)
        for w, b in zip(model.network_.weights, before):
            np.testing.assert_array_equal(w, b)


# ---------------------------------------------------------------------------------------------
# Finite logits of any size: the right finite answer
# ---------------------------------------------------------------------------------------------

def huge_logits(z):
    """A [1, len(z)] softmax network whose logits for x = 1 are z (float64)."""
    net = Network([1, len(z)], output="softmax", seed=0)
    net.weights = [np.array(z, float).reshape(-1, 1)]
    net.biases = [np.zeros(len(z))]
    return net


@pytest.mark.parametrize("rows", [1, 3])
def test_finite_float64_logits_near_the_limit_give_the_right_answer(rows):
    top = np.finfo(np.float64).max * 0.95
    X = np.ones((rows, 1))
    # z = [top, 0]: the gap is finite
    net = huge_logits([top, 0.0])
    np.testing.assert_array_equal(net.predict(X), [[1.0, 0.0]] * rows)
    np.testing.assert_array_equal(net.predict(X[0]), [1.0, 0.0])
    assert net.loss(X, [[1.0, 0.0]] * rows) == 0.0
    assert net.loss(X[:1], [[0.0, 1.0]]) == pytest.approx(top, rel=1e-15)
    for (dw, db) in net.gradients(X, [[1.0, 0.0]] * rows):
        np.testing.assert_array_equal(dw, 0.0)
        np.testing.assert_array_equal(db, 0.0)
    # z = [top, -top]: the gap overflows, but a target of 0 on the low class adds nothing
    net = huge_logits([top, -top])
    np.testing.assert_array_equal(net.predict(X), [[1.0, 0.0]] * rows)
    assert net.loss(X, [[1.0, 0.0]] * rows) == 0.0
    value, grad = net.objective(X, [[1.0, 0.0]] * rows)(net.get_flat_params())
    assert value == 0.0 and np.all(grad == 0.0)
    # a target on the low class: the loss is 2 * top, beyond float64, as exact arithmetic
    # rounded gives it
    assert net.loss(X, [[0.0, 1.0]] * rows) == np.inf


# ---------------------------------------------------------------------------------------------
# ONNX export to a narrower dtype
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["weights", "biases"])
@pytest.mark.parametrize("layer", [0, 1])
def test_onnx_float32_export_refuses_parameters_beyond_float32(name, layer, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from nnpy.export import to_onnx
    net = Network([2, 3, 2], output="softmax", seed=0)
    values = [np.array(v) for v in getattr(net, name)]
    index = (1, 0) if name == "weights" else (1,)
    values[layer][index] = -4e38
    setattr(net, name, values)
    path = tmp_path / "net.onnx"
    where = r"\(1, 0\)" if name == "weights" else r"\(1,\)"
    with pytest.raises(ValueError, match=fr"layer {layer}: {name}\[{layer}\] holds -4e\+38 at "
                                         fr"index {where}, beyond float32's range"):
        to_onnx(net, path, dtype=np.float32)
    assert not path.exists()
    # in its own precision the network exports and runs as predict does
    buffer = io.BytesIO()
    to_onnx(net, buffer)
    run = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    X = np.array([[0.5, -0.25], [0.0, 0.0]])
    out = run.run(None, {"X": X})[0]
    np.testing.assert_allclose(out, net.predict(X), atol=1e-12)
    # just inside float32's range the float32 file runs finite
    values[layer][index] = -3e38
    setattr(net, name, values)
    buffer = io.BytesIO()
    to_onnx(net, buffer, dtype=np.float32)
    run = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    assert np.all(np.isfinite(run.run(None, {"X": np.zeros((2, 2), np.float32)})[0]))
