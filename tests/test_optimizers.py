"""The optimisers as objects (nnpy.optimizers): their checks, their state, their file fields,
and training with them against nnpy.reference and against fit's keyword arguments; pickles and
files written before optimisers were objects still load."""
import base64
import dataclasses
import json
import os
import pickle
import zlib

import numpy as np
import pytest

from nnpy import Network, _model, optimizers, reference
from nnpy._dispatch import core
from nnpy.optimizers import OPTIMIZERS, SGD, Adam, OptimizerState, from_fit_arguments
from test_model_family import layers, problem

SETTINGS = [SGD(), SGD(momentum=0.9), SGD(momentum=0.9, nesterov=True), Adam(),
            Adam(betas=(0.5, 0.9), eps=1e-4)]
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
XOR_Y = np.array([[0], [1], [1], [0]], float)


def _fit_kwargs(optimizer):
    """fit's keyword arguments for the same optimiser."""
    if isinstance(optimizer, SGD):
        return {"optimizer": "sgd", "momentum": optimizer.momentum,
                "nesterov": optimizer.nesterov}
    return {"optimizer": "adam", "betas": optimizer.betas, "eps": optimizer.eps}


# ---- the table ---------------------------------------------------------------------------

def test_the_table_names_each_class_and_the_core_codes_agree():
    codes = {"sgd": core.OPT_SGD, "adam": core.OPT_ADAM}   # the core's own names
    assert set(OPTIMIZERS) == set(codes) == set(_model.OPTIMIZERS)
    for name, cls in OPTIMIZERS.items():
        assert cls.name == name and issubclass(cls, optimizers.Optimizer)
        assert cls.code == _model.OPTIMIZERS[name] == codes[name]
    import nnpy.network
    assert nnpy.network.OPTIMIZERS == tuple(OPTIMIZERS)


@pytest.mark.parametrize("optimizer", SETTINGS, ids=repr)
def test_state_vectors_are_the_cores(optimizer):
    steps = np.zeros(1, np.int64)
    assert optimizer.vectors == optimizer.core_optimizer(0.1, steps, l2=0.0,
                                                         alpha=0.0).state_vectors
    state = optimizer.new_state(7, np.float32)
    assert state.moments.dtype == np.float32 and state.moments.shape == (optimizer.vectors * 7,)
    assert not state.moments.any() and state.step == 0 and state.optimizer is optimizer


# ---- checks: ValueError / TypeError naming the argument ------------------------------------

@pytest.mark.parametrize("make, error, names", [
    (lambda: SGD(momentum=1.5), ValueError, "momentum must be <= 1.0"),
    (lambda: SGD(momentum=-0.1), ValueError, "momentum must be >= 0.0"),
    (lambda: SGD(momentum="0.9"), TypeError, "momentum must be a real number"),
    (lambda: SGD(momentum=float("nan")), ValueError, "momentum must be finite"),
    (lambda: SGD(nesterov=1), TypeError, "nesterov must be True or False"),
    (lambda: Adam(betas=(1.0, 0.9)), ValueError, "betas[0] must be < 1.0"),
    (lambda: Adam(betas=(0.9, -1)), ValueError, "betas[1] must be >= 0.0"),
    (lambda: Adam(betas=0.9), TypeError, "betas must be a pair"),
    (lambda: Adam(betas=(0.9, 0.9, 0.9)), TypeError, "betas must be a pair"),
    (lambda: Adam(eps=0), ValueError, "eps must be > 0"),
    (lambda: Adam(eps=True), TypeError, "eps must be a real number"),
])
def test_bad_settings_are_refused_naming_the_argument(make, error, names):
    with pytest.raises(error, match=f"^{names.replace('[', '.').replace(']', '.')}"):
        make()


def test_fit_refuses_the_other_optimisers_settings_and_unknown_names():
    net = Network([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match="momentum and nesterov are settings of "
                                         "optimizer='sgd'"):
        net.fit(XOR_X, XOR_Y, epochs=1, lr=0.1, optimizer="adam", momentum=0.5)
    with pytest.raises(ValueError, match="momentum must be <= 1.0"):  # checked before refused
        net.fit(XOR_X, XOR_Y, epochs=1, lr=0.1, optimizer="adam", momentum=2.0)
    with pytest.raises(ValueError, match="optimizer"):
        net.fit(XOR_X, XOR_Y, epochs=1, lr=0.1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="^momentum, eps cannot be given with an optimizer "
                                         "object"):
        net.fit(XOR_X, XOR_Y, epochs=1, lr=0.1, optimizer=SGD(0.9), momentum=0.5, eps=1e-3)
    # SGD leaves Adam's settings unread, as fit always has
    assert from_fit_arguments("sgd", 0.9, False, (2.0, 2.0), -1.0) == SGD(0.9)
    assert net.optimizer_state is None  # nothing refused started an optimiser


def test_optimisers_are_immutable_values():
    assert SGD(0.9) == SGD(momentum=0.9, nesterov=np.False_) != SGD(0.9, True)
    assert Adam() == Adam((0.9, 0.999), 1e-8) != Adam(eps=1e-7)
    assert SGD() != Adam() and hash(SGD(0.5)) == hash(SGD(0.5))
    assert Adam(betas=[0.5, np.float32(0.25)]).betas == (0.5, 0.25)
    with pytest.raises(dataclasses.FrozenInstanceError):
        SGD().momentum = 0.5


# ---- training with them -------------------------------------------------------------------

@pytest.mark.parametrize("optimizer", SETTINGS, ids=repr)
def test_an_object_trains_as_fits_keyword_arguments(optimizer):
    rng = np.random.default_rng(3)
    X, Y = problem(rng, [4, 5, 3], "softmax", 21)
    by_object, by_name = (Network([4, 5, 3], output="softmax", activation="tanh", seed=2)
                          for _ in range(2))
    by_object.fit(X, Y, epochs=4, lr=0.05, batch_size=5, optimizer=optimizer)
    by_name.fit(X, Y, epochs=4, lr=0.05, batch_size=5, **_fit_kwargs(optimizer))
    np.testing.assert_array_equal(by_object.get_flat_params(), by_name.get_flat_params())
    a, b = by_object.optimizer_state, by_name.optimizer_state
    assert a["settings"] == b["settings"] == optimizer.settings and a["step"] == b["step"] == 20
    np.testing.assert_array_equal(a["moments"], b["moments"])
    # the same object again keeps the state; another one starts afresh
    by_object.fit(X, Y, epochs=1, lr=0.05, batch_size=5, optimizer=optimizer)
    assert by_object.optimizer_state["step"] == 25
    other = Adam() if isinstance(optimizer, SGD) else SGD(0.5)
    by_object.fit(X, Y, epochs=1, lr=0.05, batch_size=5, optimizer=other)
    assert by_object.optimizer_state["step"] == 5
    assert by_object.optimizer_state["settings"] == other.settings


@pytest.mark.parametrize("optimizer", SETTINGS, ids=repr)
def test_steps_and_moments_match_the_reference(optimizer):
    """The weights and the state (velocity; Adam's m and v, flat in the parameters' layout)
    after two fits against nnpy.reference's numpy optimisers."""
    rng = np.random.default_rng(4)
    X, Y = problem(rng, [3, 4, 2], "sigmoid", 10)
    net = Network([3, 4, 2], activation="relu", seed=5)
    weights, biases = layers(net)
    state = {}
    kwargs = _fit_kwargs(optimizer)
    for _ in range(2):
        net.fit(X, Y, epochs=3, lr=0.02, batch_size=4, shuffle=False, optimizer=optimizer)
        reference.train(weights, biases, X, Y, epochs=3, lr=0.02, batch_size=4,
                        activation="relu", state=state, **kwargs)
    got_w, got_b = layers(net)
    for got, want in zip(got_w + got_b, weights + biases):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    names = {0: [], 1: ["velocity"], 2: ["m", "v"]}[optimizer.vectors]
    moments = net.optimizer_state["moments"].reshape(len(names), -1) if names else []
    for row, name in zip(moments, names):
        n_layers = len(weights)
        flat = np.concatenate([a.ravel() for l in range(n_layers)
                               for a in (state[name][l], state[name][n_layers + l])])
        np.testing.assert_allclose(row, flat, rtol=1e-10, atol=1e-12)
    assert net.optimizer_state["step"] == 2 * 3 * 3 == state.get("t", 18)   # 3 batches of 10 rows


# ---- state: copies, pickles, files -----------------------------------------------------------

@pytest.mark.parametrize("optimizer", SETTINGS, ids=repr)
def test_state_round_trips_through_copy_pickle_and_file(optimizer, tmp_path):
    rng = np.random.default_rng(6)
    X, Y = problem(rng, [3, 5, 1], "identity", 12)
    net = Network([3, 5, 1], output="identity", dtype=np.float32, seed=0)
    net.fit(X, Y, epochs=3, lr=0.01, batch_size=3, shuffle=False, optimizer=optimizer)
    net.save(tmp_path / "net.npz")
    state = net._optimizer
    copies = [net.copy(), pickle.loads(pickle.dumps(net)), Network.load(tmp_path / "net.npz")]
    for other in copies:
        assert other._optimizer.optimizer == optimizer
        assert other._optimizer.step == state.step == 12
        np.testing.assert_array_equal(other._optimizer.moments, state.moments)
        assert other._optimizer.moments is not state.moments
    for other in [net] + copies:
        other.fit(X, Y, epochs=2, lr=0.01, batch_size=3, shuffle=False, optimizer=optimizer)
    for other in copies:
        np.testing.assert_array_equal(other.get_flat_params(), net.get_flat_params())


@pytest.mark.parametrize("optimizer", SETTINGS, ids=repr)
def test_header_fields_round_trip(optimizer):
    fields = json.loads(json.dumps(optimizer.header()))   # JSON values only
    assert tuple(fields) == type(optimizer).header_fields
    assert type(optimizer).from_header(fields, "f.npz") == optimizer
    assert type(optimizer).from_settings(optimizer.settings[1:]) == optimizer


@pytest.mark.parametrize("field, message", [
    ({"name": "sgd", "momentum": 1.0, "nesterov": False, "step": 1},
     "optimizer momentum must be a number in [0, 1), got 1.0"),
    ({"name": "sgd", "momentum": 10 ** 400, "nesterov": False, "step": 1},
     "optimizer momentum must be a number in [0, 1)"),
    ({"name": "sgd", "momentum": 0.5, "nesterov": 0, "step": 1},
     "optimizer nesterov must be true or false"),
    ({"name": "adam", "betas": [0.9], "eps": 1e-8, "step": 1},
     "optimizer betas must be a pair of numbers"),
    ({"name": "adam", "betas": [0.9, 1.5], "eps": 1e-8, "step": 1},
     "optimizer betas[1] must be a number in [0, 1)"),
    ({"name": "adam", "betas": [0.9, 0.99], "eps": 0, "step": 1}, "optimizer eps must be > 0"),
    ({"name": "adam", "betas": [0.9, 0.99], "eps": 1e-8, "step": -1},
     "optimizer step must be an integer in [0, 2**62)"),
    ({"name": "rmsprop", "step": 1}, "optimizer must be null or an object with the fields "
                                     "name, momentum, nesterov, step / name, betas, eps, step"),
    ({"name": "sgd", "momentum": 0.5, "step": 1}, "optimizer must be null or an object"),
])
def test_a_files_bad_optimizer_field_is_refused_naming_it(field, message, tmp_path):
    path = tmp_path / "bad.npz"
    _write_v2(path, Network([2, 3, 1], seed=0), field, None)
    with pytest.raises(ValueError) as info:
        Network.load(path)
    assert str(info.value).startswith(f"{path}: {message}"), str(info.value)


def _write_v2(path, net, optimizer_field, moments):
    """A version-2 network file written field by field, as nnpy 0.1.0 wrote it."""
    header = {"format": "nnpy.Network", "version": 2, "sizes": list(net.sizes),
              "dtype": net.dtype.name, "activation": net.activation, "output": net.output,
              "loss": net.loss_name, "init": net.init, "nnpy_version": "0.1.0",
              "optimizer": optimizer_field}
    arrays = {"header": np.array(json.dumps(header))}
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        arrays[f"W_{l}"], arrays[f"b_{l}"] = np.asarray(w), np.asarray(b)
    if moments is not None:
        arrays["optimizer_moments"] = moments
    np.savez(path, **arrays)


@pytest.mark.parametrize("field, optimizer", [
    ({"name": "sgd", "momentum": 0.9, "nesterov": True, "step": 7}, SGD(0.9, True)),
    ({"name": "sgd", "momentum": 0, "nesterov": False, "step": 3}, SGD()),
    ({"name": "adam", "betas": [0.8, 0.99], "eps": 1e-7, "step": 5}, Adam((0.8, 0.99), 1e-7)),
])
def test_files_written_before_load_with_their_state(field, optimizer, tmp_path):
    net = Network([2, 3, 1], activation="tanh", seed=1)
    moments = np.random.default_rng(0).random((optimizer.vectors, 13))
    _write_v2(tmp_path / "old.npz", net, field, moments if optimizer.vectors else None)
    back = Network.load(tmp_path / "old.npz")
    assert back._optimizer.optimizer == optimizer and back._optimizer.step == field["step"]
    np.testing.assert_array_equal(back._optimizer.moments, moments.ravel())
    np.testing.assert_array_equal(back.get_flat_params(), net.get_flat_params())
    # and written again, the same fields
    back.save(tmp_path / "new.npz")
    with np.load(tmp_path / "new.npz") as again:
        written = json.loads(str(again["header"]))["optimizer"]
    assert written == dict(field, **optimizer.header())


def test_pickles_made_before_optimisers_were_objects_still_load():
    path = os.path.join(os.path.dirname(__file__), "data", "network_pickles_0.1.0.json")
    with open(path) as f:
        data = json.load(f)
    for key, saved in data["networks"].items():
        net = pickle.loads(zlib.decompress(base64.b64decode(saved["blob"])))
        assert net.get_flat_params().tolist() == saved["flat"]
        fit = data["fit"][key]
        if fit is None:
            assert net.optimizer_state is None
            continue
        state = net.optimizer_state
        assert isinstance(net._optimizer, OptimizerState)
        assert list(state["settings"]) == saved["state"]["settings"]
        assert state["step"] == saved["state"]["step"]
        assert state["moments"].tolist() == saved["state"]["moments"]
        net.fit(XOR_X, XOR_Y, epochs=3, lr=0.1, batch_size=2, shuffle=False,
                **dict(fit, betas=tuple(fit["betas"])) if "betas" in fit else fit)
        assert net.get_flat_params().tolist() == saved["after"], key
