"""NetworkStack: member k of a stack ends with the weights Network(sizes, ..., seed=seeds[k])
reaches when fitted alone with member k's settings, bit for bit, on both of fit's paths (the
members one by one through core.train, and per-sample SGD of small networks in lockstep
across vector lanes); per-member settings, sample weights, validation and callbacks; members
stopping apart; predict, loss and accuracy per member; copies, pickles, files and the thread
guard."""
import inspect
import pickle
import sys
import threading

import numpy as np
import pytest

import nnpy
from nnpy import Network, NetworkStack, TrainingDiverged, _model
from nnpy._dispatch import core
from test_model_family import problem

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
XOR_Y = np.array([[0], [1], [1], [0]], float)
PAIRS = sorted(_model.PAIRS)


class _Spy:
    """Stands in for the core in nnpy.stack and nnpy.network, counting the calls of each entry
    point made inside a NetworkStack.fit (a stack's members run Network.fit's own loop; the
    lone fits the tests compare with are not counted)."""

    def __init__(self):
        self.calls = {}

    def __getattr__(self, name):
        target = getattr(core, name)
        if not callable(target) or isinstance(target, type):
            return target

        def counted(*args, **kwargs):
            if _inside_stack_fit():
                self.calls[name] = self.calls.get(name, 0) + 1
            return target(*args, **kwargs)
        return counted


def _inside_stack_fit():
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is NetworkStack.fit.__code__:
            return True
        frame = frame.f_back
    return False


@pytest.fixture
def spy(monkeypatch):
    spy = _Spy()
    for module in _core_users():
        monkeypatch.setattr(module, "core", spy)
    return spy


def _core_users():
    """Every nnpy module that reaches the core through a `core` name of its own (nnpy.stack,
    nnpy.network and the modules fit's loop lives in)."""
    return [module for name, module in sorted(sys.modules.items())
            if name.startswith("nnpy.") and getattr(module, "core", None) is core]


def _lone(sizes, seed, X, Y, fit_kwargs, **net_kwargs):
    """(the network, its history or None if it diverged, optimiser step) of a lone fit."""
    net = Network(sizes, seed=seed, **net_kwargs)
    try:
        history = net.fit(X, Y, **fit_kwargs)
    except TrainingDiverged:
        history = None
    step = None if net._optimizer is None else net._optimizer.step
    return net, history, step


def _member_kwargs(fit_kwargs, k):
    """Member k's settings from per-member fit arguments."""
    out = {}
    for key, value in fit_kwargs.items():
        if key in ("lr", "momentum", "l2", "alpha", "eps", "patience", "min_delta",
                   "restore_best") and isinstance(value, (list, tuple, np.ndarray)):
            out[key] = value[k]
        elif key == "class_weight" and isinstance(value, list):
            out[key] = value[k]
        elif key == "betas" and np.ndim(value) == 2:
            out[key] = tuple(value[k])
        elif key == "sample_weight" and value is not None and np.ndim(value) == 2:
            out[key] = value[k]
        elif key == "callback" and isinstance(value, list):
            out[key] = value[k]
        elif key == "validation" and isinstance(value, list):
            out[key] = value[k]
        else:
            out[key] = value
    return out


def check_members(sizes, n, X, Y, fit_kwargs, seeds=None, rtol=None, **net_kwargs):
    """Fits a stack and n lone networks; asserts every member equals its lone fit bit for bit
    (weights, optimiser state and step count, epoch losses, validation records, stop reason),
    or with `rtol` its weights and losses to rtol (relative, and absolute for values near 0).
    Returns the stack and its histories."""
    seeds = list(range(n)) if seeds is None else seeds
    stack = NetworkStack(sizes, n, seeds=seeds, **net_kwargs)
    histories = stack.fit(X, Y, **fit_kwargs)
    assert len(histories) == n
    for k in range(n):
        net, history, step = _lone(sizes, seeds[k], X, Y, _member_kwargs(fit_kwargs, k),
                                   **net_kwargs)
        member = stack[k]
        what = f"member {k}"
        if rtol is not None:
            np.testing.assert_allclose(member.get_flat_params(), net.get_flat_params(),
                                       rtol=rtol, atol=rtol, err_msg=what)
            np.testing.assert_allclose(histories[k].loss, history.loss, rtol=rtol, atol=rtol)
            assert member._optimizer.step == step, what
            continue
        np.testing.assert_array_equal(member.get_flat_params(), net.get_flat_params(),
                                      err_msg=what)
        assert member._optimizer.step == step, what
        np.testing.assert_array_equal(member._optimizer.moments, net._optimizer.moments)
        if history is None:
            assert histories[k].stopped == "diverged", what
        else:
            assert histories[k].loss == history.loss, what
            assert histories[k].val_loss == history.val_loss, what
            assert histories[k].val_accuracy == history.val_accuracy, what
            assert histories[k].lr == history.lr, what
            assert histories[k].best_epoch == history.best_epoch, what
            assert histories[k].stopped_early == history.stopped_early, what
            assert histories[k].stopped in (
                ("patience",) if history.stopped_early else (None, "callback")), what
        # the shuffling generator moved on as the lone network's did
        assert member._rng.bit_generator.state == net._rng.bit_generator.state, what
    return stack, histories


# ---- the contract on the general path (core.train per member) -------------------------------

@pytest.mark.parametrize("optimizer, extra", [
    ("sgd", {}), ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.8, "nesterov": True}),
    ("adam", {}), ("adam", {"betas": (0.8, 0.99), "eps": 1e-6})], ids=str)
@pytest.mark.parametrize("batch_size", [1, 3, 50])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_members_equal_lone_fits_for_every_optimizer(spy, optimizer, extra, batch_size, dtype):
    rng = np.random.default_rng(1)
    X, Y = problem(rng, [5, 6, 3], "softmax", 23, dtype)
    kwargs = dict(epochs=4, lr=0.05, batch_size=batch_size, optimizer=optimizer, **extra)
    check_members([5, 6, 3], 3, X, Y, kwargs, seeds=[7, 0, 3], output="softmax",
                  dtype=dtype)
    # batches of one row: each member through core.train; larger: core.stack_train, a group
    # per seed
    path = "train" if batch_size == 1 else "stack_train"
    assert spy.calls.get(path, 0) >= 3 and "lockstep_sgd" not in spy.calls


@pytest.mark.parametrize("activation", list(_model.HIDDEN))
@pytest.mark.parametrize("output, loss", PAIRS)
def test_members_equal_lone_fits_for_every_activation_output_and_loss(activation, output,
                                                                       loss):
    rng = np.random.default_rng(2)
    for sizes in ([3, 4, 2], [2, 9, 3, 2]):
        X, Y = problem(rng, sizes, output, 17)
        for batch_size in (1, 4):
            check_members(sizes, 3, X, Y, dict(epochs=3, lr=0.03, batch_size=batch_size,
                                               l2=0.01, alpha=0.001),
                          activation=activation, output=output, loss=loss)


def test_per_member_settings(spy):
    rng = np.random.default_rng(3)
    X, Y = problem(rng, [4, 5, 2], "sigmoid", 19)
    check_members([4, 5, 2], 4, X, Y, dict(
        epochs=5, lr=[0.01, 0.1, 0.2, 0.05], batch_size=4, momentum=[0.0, 0.5, 0.9, 0.95],
        l2=[0.0, 0.01, 0.0, 0.1], alpha=np.array([0.0, 0.0, 0.1, 0.01])))
    check_members([4, 5, 2], 3, X, Y, dict(
        epochs=5, lr=(0.01, 0.003, 0.02), batch_size=5, optimizer="adam",
        betas=[(0.9, 0.999), (0.8, 0.9), (0.5, 0.99)], eps=[1e-8, 1e-4, 1e-2]))
    assert "lockstep_sgd" not in spy.calls


def test_per_member_sample_weights_are_folds_and_bootstraps():
    rng = np.random.default_rng(4)
    X, Y = problem(rng, [3, 4, 1], "sigmoid", 20)
    folds = np.ones((4, 20))
    for k in range(4):
        folds[k, 5 * k:5 * k + 5] = 0     # member k leaves out fold k
    boot = rng.multinomial(20, np.full(20, 1 / 20), size=4).astype(float)
    for weights in (folds, boot):
        for batch_size in (1, 6):
            check_members([3, 4, 1], 4, X, Y, dict(epochs=3, lr=0.1, batch_size=batch_size,
                                                   momentum=0.5, sample_weight=weights))
    # one row of weights for all members
    check_members([3, 4, 1], 2, X, Y, dict(epochs=3, lr=0.1, batch_size=6,
                                           sample_weight=boot[0]))


def test_validation_and_callbacks_per_member_and_members_stopping_apart():
    rng = np.random.default_rng(5)
    X, Y = problem(rng, [3, 5, 3], "softmax", 30)
    Xv, Yv = problem(rng, [3, 5, 3], "softmax", 10)

    def stop_after(epoch_count):
        return lambda epoch, history: epoch + 1 < epoch_count

    callbacks = [stop_after(2), None, stop_after(5)]
    stack, histories = check_members([3, 5, 3], 3, X, Y, dict(
        epochs=6, lr=0.1, batch_size=4, validation=[(Xv, Yv), None, (Xv[:4], Yv[:4])],
        callback=callbacks), output="softmax")
    assert [h.epochs for h in histories] == [2, 6, 5]
    assert [h.stopped for h in histories] == ["callback", None, "callback"]
    assert len(histories[0].val_loss) == 2 and histories[1].val_loss == []
    # one validation pair and one callback for every member
    seen = []
    check_members([3, 5, 3], 2, X, Y, dict(
        epochs=3, lr=0.1, batch_size=4, validation=(Xv, Yv),
        callback=lambda epoch, history: seen.append(epoch)), output="softmax")
    assert sorted(seen) == sorted([0, 1, 2] * 2 * 2)   # the stack's members and the lone fits


def test_a_member_that_diverges_is_frozen_while_the_others_go_on():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, -1.0]])
    Y = np.array([[0.0], [1e3], [2.0]])
    for batch_size in (1, 2):
        stack, histories = check_members(
            [2, 3, 1], 3, X, Y, dict(epochs=20, lr=[0.01, 1e307, 0.02], batch_size=batch_size,
                                     shuffle=False),
            output="identity")
        assert [h.stopped for h in histories] == [None, "diverged", None]
        assert histories[0].epochs == 20 and histories[1].epochs == 0
        assert np.isfinite(stack.get_flat_params()).all()


# ---- the lockstep path (per-sample SGD of small networks) -------------------------------------

@pytest.mark.parametrize("activation", list(_model.HIDDEN))
@pytest.mark.parametrize("output, loss", PAIRS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lockstep_members_are_bit_identical_to_lone_fits(spy, activation, output, loss, dtype):
    rng = np.random.default_rng(6)
    for sizes, n in (([2, 2, 1], 16), ([3, 4, 2], 5), ([4, 1, 4], 20), ([1, 3, 3], 33)):
        if sizes[-1] < _model.MIN_OUTPUTS[output]:
            continue
        X, Y = problem(rng, sizes, output, 9, dtype)
        lrs = np.linspace(0.01, 0.3, n)
        l2s = np.where(np.arange(n) % 3 == 0, 0.01, 0.0)
        # 250 epochs of 9 rows: 2,250 steps a member, the weights and epoch losses bit for bit
        check_members(sizes, n, X, Y, dict(epochs=250, lr=lrs, l2=l2s, batch_size=1),
                      seeds=list(range(100, 100 + n)), activation=activation, output=output,
                      loss=loss, dtype=dtype)
    assert spy.calls["lockstep_sgd"] >= 3 and "train" not in spy.calls


@pytest.mark.parametrize("momentum, nesterov", [(0.9, False), ([0.0, 0.5, 0.9, 0.99] * 5, False),
                                                (0.8, True), ([0.5, 0.0, 0.95, 0.7] * 5, True)],
                         ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lockstep_momentum_l2_and_alpha_are_bit_identical_to_lone_fits(spy, momentum,
                                                                        nesterov, dtype):
    """Momentum (a member with momentum 0 is plain SGD), Nesterov, l2 and alpha per member,
    with sample weights (alpha's decay is alpha / the sample's weight): weights, velocities,
    step counts and epoch losses bit for bit."""
    rng = np.random.default_rng(13)
    n = 20
    for sizes, output in (([2, 3, 1], "sigmoid"), ([3, 4, 3], "softmax"),
                          ([4, 2, 2], "identity")):
        X, Y = problem(rng, sizes, output, 11, dtype)
        weights = rng.integers(1, 4, size=(n, 11)).astype(float)
        weights[::3, 2] = 0     # some members skip a row
        check_members(sizes, n, X, Y, dict(
            epochs=60, lr=np.linspace(0.01, 0.2, n), momentum=momentum, nesterov=nesterov,
            l2=np.where(np.arange(n) % 2 == 0, 0.01, 0.0),
            alpha=np.where(np.arange(n) % 3 == 0, 0.0, 0.02), sample_weight=weights),
            seeds=list(range(50, 50 + n)), output=output, dtype=dtype)
    assert spy.calls["lockstep_sgd"] >= 3 and "train" not in spy.calls


def test_lockstep_saturated_tanh_is_bit_identical(spy):
    """Targets of 1e3 saturate the tanh units, where its derivative (1 - a)(1 + a) cancels and
    any difference in rounding between the lanes and the lone copy would grow: 1,200 steps,
    bit for bit (the derivative switch inlined alike in both, the loss sums rounded by
    nn_muladd in both)."""
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, -1.0]])
    Y = np.array([[0.0], [1e3], [2.0]])
    check_members([2, 3, 1], 4, X, Y, dict(epochs=400, lr=[0.01, 0.001, 0.002, 0.005]),
                  activation="tanh", output="identity")
    assert spy.calls["lockstep_sgd"] >= 1


def test_wider_inputs_take_core_train_exactly(spy):
    rng = np.random.default_rng(9)
    X, Y = problem(rng, [7, 1, 4], "sigmoid", 9)
    check_members([7, 1, 4], 5, X, Y, dict(epochs=100, lr=0.2))
    assert "lockstep_sgd" not in spy.calls and spy.calls["train"] >= 5


def test_lockstep_w6_xor_is_bit_identical(spy):
    """The benchmark's case: 16 XOR 2-2-1 sigmoid networks, seeds 0-15, W1's settings
    (uniform01 start, lr 0.5, shuffled per-sample SGD), 25,000 epochs = 100,000 steps each."""
    check_members([2, 2, 1], 16, XOR_X, XOR_Y, dict(epochs=25000, lr=0.5),
                  init="uniform01")
    assert spy.calls["lockstep_sgd"] >= 1 and "train" not in spy.calls


def test_lockstep_sample_weights_shuffle_off_and_members_stopping_apart(spy):
    rng = np.random.default_rng(7)
    X, Y = problem(rng, [2, 3, 2], "sigmoid", 8)
    weights = rng.integers(0, 3, size=(18, 8)).astype(float)
    weights[:, 0] = 1   # each member's weights sum to more than 0
    check_members([2, 3, 2], 18, X, Y, dict(epochs=40, lr=0.2, sample_weight=weights))
    check_members([2, 3, 2], 18, X, Y, dict(epochs=40, lr=0.2, shuffle=False,
                                            sample_weight=weights[3]))
    callbacks = [None] * 18
    callbacks[2] = lambda epoch, history: epoch < 6
    callbacks[17] = lambda epoch, history: history.loss[-1] > 0.05
    Xv, Yv = problem(rng, [2, 3, 2], "sigmoid", 5)
    stack, histories = check_members([2, 3, 2], 18, X, Y, dict(
        epochs=40, lr=0.2, callback=callbacks, validation=(Xv, Yv)))
    assert histories[2].epochs == 7 and histories[2].stopped == "callback"
    assert histories[0].epochs == 40
    # divergence in some lanes, mid-epoch, the others going on
    Xd = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, -1.0]])
    Yd = np.array([[0.0], [1e3], [2.0]])
    lrs = np.where(np.arange(17) % 4 == 1, 1e307, 0.01)
    stack, histories = check_members([2, 3, 1], 17, Xd, Yd, dict(epochs=30, lr=lrs),
                                     activation="relu", output="identity")
    assert [h.stopped for h in histories] == \
        ["diverged" if k % 4 == 1 else None for k in range(17)]
    assert "train" not in spy.calls


def test_lockstep_continues_across_fits_and_calls():
    """Two fits give each member what two lone fits give (the kept optimiser step count and
    generator); a long fit runs as several kernel calls."""
    stack = NetworkStack([2, 2, 1], 3, seeds=[4, 5, 6])
    nets = [Network([2, 2, 1], seed=s) for s in (4, 5, 6)]
    for epochs in (3, 40000):
        stack.fit(XOR_X, XOR_Y, epochs=epochs, lr=0.4)
        for net in nets:
            net.fit(XOR_X, XOR_Y, epochs=epochs, lr=0.4)
    for k, net in enumerate(nets):
        np.testing.assert_array_equal(stack[k].get_flat_params(), net.get_flat_params())
        assert stack[k]._optimizer.step == net._optimizer.step == 4 * 40003


def test_lockstep_kernel_refuses_bad_arguments():
    model = core.Model([2, 2, 1], core.ACT_SIGMOID, core.ACT_SIGMOID, core.LOSS_MSE)
    lanes, n = core.LOCKSTEP_LANES, 4

    def arrays(**changes):
        args = dict(params=np.zeros((model.n_params, lanes)), lr=np.ones(lanes),
                    momentum=np.zeros(lanes), velocity=np.zeros((0, lanes)),
                    l2=np.zeros(lanes), alpha=np.zeros(lanes), X=XOR_X.copy(), Y=XOR_Y.copy(),
                    weights=np.ones((lanes, n)),
                    order=np.tile(np.arange(n, dtype=np.intp), (lanes, 1)),
                    rng=np.ones((lanes, 4), np.uint64), on=np.ones(lanes, np.uint8),
                    loss_sum=np.zeros(lanes), steps=np.zeros(lanes, np.int64),
                    losses=np.zeros((lanes, 2)), lane_epochs=np.zeros(lanes, np.int64))
        args.update(changes)
        return args

    def call(position=0, model=model, **changes):
        a = arrays(**changes)
        return core.lockstep_sgd(model, a["params"], a["velocity"], a["lr"], a["momentum"],
                                 False, a["l2"], a["alpha"], a["X"], a["Y"], a["weights"],
                                 a["order"], a["rng"], a["on"], a["loss_sum"],
                                 a["steps"], a["losses"], a["lane_epochs"], position, True,
                                 100, False)

    assert call()[0] == core.STATUS_OK
    bad_order = np.tile(np.arange(n, dtype=np.intp), (lanes, 1))
    bad_order[3, 2] = n
    for changes in ({"params": np.zeros((model.n_params, lanes - 1))},
                    {"params": np.zeros((model.n_params + 1, lanes))},
                    {"order": bad_order}, {"on": np.full(lanes, 4, np.uint8)},
                    {"weights": np.ones((lanes, n + 1))}, {"Y": np.zeros((n, 2))},
                    {"rng": np.ones((lanes, 3), np.uint64)}, {"lr": np.ones(lanes - 1)},
                    {"momentum": np.full(lanes, 0.5)}, {"l2": np.full(lanes, -1.0)},
                    {"momentum": np.full(lanes, 1.5), "velocity": np.zeros((7, lanes))},
                    {"rng": np.zeros((lanes, 4), np.uint64)},
                    {"losses": np.zeros((lanes - 1, 2))}):
        with pytest.raises(ValueError):
            call(**changes)
    with pytest.raises(ValueError):
        call(position=n)
    for sizes, loss in (([2, 5, 1], core.LOSS_MSE), ([8, 2, 1], core.LOSS_MSE),
                        ([2, 2, 2, 1], core.LOSS_MSE)):
        other = core.Model(sizes, core.ACT_SIGMOID, core.ACT_SIGMOID, loss)
        with pytest.raises(ValueError):
            call(model=other, params=np.zeros((other.n_params, lanes)))
    with pytest.raises(ValueError, match="read-only"):
        frozen = np.zeros((model.n_params, lanes))
        frozen.flags.writeable = False
        call(params=frozen)


# ---- the rest of the API ---------------------------------------------------------------------

def test_members_start_as_lone_networks_and_indexing():
    stack = NetworkStack([3, 4, 2], 3, activation="tanh", output="identity", seeds=[9, 1, 5],
                         dtype=np.float32)
    assert len(stack) == stack.n_networks == 3 and stack.seeds == (9, 1, 5)
    assert stack.sizes == (3, 4, 2) and stack.dtype == np.float32
    assert stack.activation == "tanh" and stack.output == "identity"
    for k, seed in enumerate([9, 1, 5]):
        net = Network([3, 4, 2], activation="tanh", output="identity", seed=seed,
                      dtype=np.float32)
        np.testing.assert_array_equal(stack[k].get_flat_params(), net.get_flat_params())
    np.testing.assert_array_equal(stack[-1].get_flat_params(), stack[2].get_flat_params())
    assert NetworkStack([2, 1], 4).seeds == (0, 1, 2, 3)
    # stack[k] is a copy: changing it leaves the stack alone
    member = stack[0]
    member.weights[0] = np.zeros((4, 3))
    assert np.any(stack[0].weights[0] != 0)
    with pytest.raises(IndexError):
        stack[3]
    with pytest.raises(TypeError):
        stack["0"]
    assert [net.sizes for net in stack] == [(3, 4, 2)] * 3


@pytest.mark.parametrize("call, match", [
    (lambda: NetworkStack([2, 2, 1], 0), "n_networks"),
    (lambda: NetworkStack([2, 2, 1], 2, seeds=[1]), "seeds"),
    (lambda: NetworkStack([2, 2, 1], 2, seeds=[1, -1]), "seeds"),
    (lambda: NetworkStack([2, 2, 1], 2, seeds=7), "seeds"),
])
def test_bad_construction(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": [0.1, 0.2]}, "lr"),
    ({"lr": [0.1, -0.2, 0.1]}, "lr"),
    ({"momentum": [0.1, 0.2, 1.5]}, "momentum"),
    ({"l2": [[0.1], [0.1], [0.1]]}, "l2"),
    ({"optimizer": "adam", "betas": [(0.9, 0.9)] * 2}, "betas"),
    ({"optimizer": "adam", "eps": [1e-8, 0, 1e-8]}, "eps"),
    ({"sample_weight": np.ones((2, 4))}, "sample_weight"),
    ({"sample_weight": np.array([[1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1.0]])},
     "sample_weight"),
    ({"validation": [(XOR_X, XOR_Y)]}, "validation"),
    ({"validation": (XOR_X[:, :1], XOR_Y)}, "validation"),
    ({"callback": [None, 3, None]}, "callback"),
    ({"callback": 3}, "callback"),
])
def test_bad_fit_arguments_are_refused_before_any_training(kwargs, match):
    stack = NetworkStack([2, 2, 1], 3)
    before = stack.get_flat_params()
    args = dict(epochs=2, lr=0.1)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        stack.fit(XOR_X, XOR_Y, **args)
    np.testing.assert_array_equal(stack.get_flat_params(), before)


def test_fit_takes_every_argument_of_network_fit():
    lone = inspect.signature(Network.fit).parameters
    stacked = inspect.signature(NetworkStack.fit).parameters
    assert list(lone) == list(stacked)
    for name, parameter in lone.items():
        assert stacked[name].kind == parameter.kind, name
        assert stacked[name].default == parameter.default, name


def test_predict_loss_and_accuracy_per_member():
    rng = np.random.default_rng(8)
    X, Y = problem(rng, [3, 4, 3], "softmax", 12)
    stack = NetworkStack([3, 4, 3], 4, output="softmax", seeds=[3, 1, 4, 1])
    stack.fit(X, Y, epochs=3, lr=0.1, batch_size=4)
    outputs = stack.predict(X)
    assert outputs.shape == (4, 12, 3)
    for k in range(4):
        np.testing.assert_array_equal(outputs[k], stack[k].predict(X))
    np.testing.assert_allclose(stack.predict(X, reduce="mean"), outputs.mean(axis=0))
    np.testing.assert_allclose(stack.predict(X, reduce="std"), outputs.std(axis=0))
    assert stack.predict(X[0]).shape == (4, 3)
    with pytest.raises(ValueError, match="reduce"):
        stack.predict(X, reduce="median")
    losses = stack.loss(X, Y)
    assert losses.shape == (4,)
    np.testing.assert_array_equal(losses, [stack[k].loss(X, Y) for k in range(4)])
    weights = rng.random((4, 12))
    np.testing.assert_array_equal(stack.loss(X, Y, weights),
                                  [stack[k].loss(X, Y, weights[k]) for k in range(4)])
    np.testing.assert_array_equal(stack.accuracy(X, Y),
                                  [stack[k].accuracy(X, Y) for k in range(4)])
    # members 1 and 3 share a seed and all settings: the same network
    np.testing.assert_array_equal(outputs[1], outputs[3])


def test_from_networks():
    nets = [Network([2, 3, 1], seed=s) for s in (5, 6)]
    nets[1].fit(XOR_X, XOR_Y, epochs=5, lr=0.3, momentum=0.9)
    stack = NetworkStack.from_networks(nets)
    assert stack.seeds is None and len(stack) == 2
    stack.fit(XOR_X, XOR_Y, epochs=10, lr=0.3, momentum=0.9)
    for net in nets:
        net.fit(XOR_X, XOR_Y, epochs=10, lr=0.3, momentum=0.9)
    for k in range(2):
        np.testing.assert_array_equal(stack[k].get_flat_params(), nets[k].get_flat_params())
    with pytest.raises(ValueError, match="sizes"):
        NetworkStack.from_networks([Network([2, 3, 1]), Network([2, 4, 1])])
    with pytest.raises(ValueError, match="dtype"):
        NetworkStack.from_networks([Network([2, 3, 1]), Network([2, 3, 1], dtype=np.float32)])
    with pytest.raises(ValueError):
        NetworkStack.from_networks([])
    with pytest.raises(TypeError):
        NetworkStack.from_networks([Network([2, 3, 1]), "net"])


def test_copy_and_pickle_carry_weights_state_and_generators():
    stack = NetworkStack([2, 3, 1], 3)
    stack.fit(XOR_X, XOR_Y, epochs=5, lr=0.2, optimizer="adam")
    for other in (stack.copy(), pickle.loads(pickle.dumps(stack))):
        assert other.seeds == stack.seeds
        np.testing.assert_array_equal(other.get_flat_params(), stack.get_flat_params())
        other.fit(XOR_X, XOR_Y, epochs=5, lr=0.2, optimizer="adam")
        twin = pickle.loads(pickle.dumps(stack))
        twin.fit(XOR_X, XOR_Y, epochs=5, lr=0.2, optimizer="adam")
        np.testing.assert_array_equal(other.get_flat_params(), twin.get_flat_params())
        assert not np.array_equal(other.get_flat_params(), stack.get_flat_params())


def test_save_and_load(tmp_path):
    stack = NetworkStack([2, 3, 1], 3, activation="relu", seeds=[4, 2, 0])
    stack.fit(XOR_X, XOR_Y, epochs=5, lr=0.2, momentum=0.9)
    path = tmp_path / "stack.npz"
    stack.save(path)
    loaded = NetworkStack.load(path)
    assert loaded.seeds == (4, 2, 0) and loaded.activation == "relu"
    np.testing.assert_array_equal(loaded.get_flat_params(), stack.get_flat_params())
    for k in range(3):
        np.testing.assert_array_equal(loaded[k]._optimizer.moments, stack[k]._optimizer.moments)
        assert loaded[k]._optimizer.optimizer == stack[k]._optimizer.optimizer
    # damaged, foreign and pickled files are refused with ValueError
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    net_path = tmp_path / "net.npz"
    Network([2, 2, 1]).save(net_path)
    evil = tmp_path / "evil.npz"
    np.savez(evil, header=np.array('{"format": "nnpy.NetworkStack", "version": 1, '
                                   '"n_networks": 1, "seeds": null}'),
             member_0=np.array([object()], dtype=object))
    missing = tmp_path / "missing.npz"
    np.savez(missing, header=np.array('{"format": "nnpy.NetworkStack", "version": 1, '
                                      '"n_networks": 2, "seeds": null}'),
             member_0=np.frombuffer(net_path.read_bytes(), np.uint8))
    for bad in ("cut.npz", "net.npz", "evil.npz", "missing.npz"):
        with pytest.raises(ValueError):
            NetworkStack.load(tmp_path / bad)
    with pytest.raises(FileNotFoundError):
        NetworkStack.load(tmp_path / "nothing.npz")


def test_thread_guard():
    stack = NetworkStack([2, 3, 1], 2)
    seen = []

    def other_thread():
        try:
            stack.predict(XOR_X)
        except RuntimeError as err:
            seen.append(str(err))

    def callback(epoch, history):
        if epoch == 0:
            t = threading.Thread(target=other_thread)
            t.start()
            t.join()
        return True

    stack.fit(XOR_X, XOR_Y, epochs=2, lr=0.1, callback=callback)
    assert len(seen) == 2 and "fit" in seen[0]   # both members' first epochs
    # after the fit, other threads may read again
    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    assert len(seen) == 2


def test_zero_epochs_and_the_histories_type():
    stack = NetworkStack([2, 2, 1], 2)
    before = stack.get_flat_params()
    histories = stack.fit(XOR_X, XOR_Y, epochs=0, lr=0.1)
    assert [h.epochs for h in histories] == [0, 0]
    assert all(isinstance(h, nnpy.History) for h in histories)
    np.testing.assert_array_equal(stack.get_flat_params(), before)


# ---- fit's newer arguments, and overflow, on both paths --------------------------------------

def _decaying(epoch):
    return 0.3 / (1 + 0.5 * epoch)


@pytest.mark.parametrize("batch_size", [1, 3])   # lockstep, then core.train member by member
def test_schedules_early_stopping_and_class_weights_per_member(spy, batch_size):
    rng = np.random.default_rng(12)
    X = rng.standard_normal((14, 2))
    labels = (X[:, 0] * X[:, 1] > 0).astype(int)
    labels[:3] = 1
    Xv = rng.standard_normal((6, 2))
    labels_v = (Xv[:, 0] * Xv[:, 1] > 0).astype(int)
    # a schedule shared by members is each member's own (ReduceOnPlateau keeps state in a fit)
    plateau = nnpy.schedules.ReduceOnPlateau(0.6, factor=0.5, patience=1, min_delta=1e-3)
    stack, histories = check_members([2, 3, 2], 5, X, labels, dict(
        epochs=40, batch_size=batch_size, validation=(Xv, labels_v),
        lr=[0.3, _decaying, nnpy.schedules.ExponentialDecay(0.5, gamma=0.95), plateau, plateau],
        patience=[None, 4, 6, 3, None], min_delta=[0.0, 1e-3, 0.0, 1e-4, 0.0],
        restore_best=[True, True, False, True, True],
        class_weight=["balanced", None, {0: 2.0, 1: 0.5}, None, {1: 3.0}]))
    assert any(h.stopped == "patience" for h in histories)
    assert len(set(len(h.loss) for h in histories)) > 1   # members stopped apart
    assert len(set(histories[3].lr)) > 1                  # the plateau lowered member 3's rate
    # one class_weight and one early stopping for all members, sample weights with them
    weights = rng.integers(1, 3, size=(3, 14)).astype(float)
    check_members([2, 3, 2], 3, X, labels, dict(
        epochs=25, batch_size=batch_size, lr=[0.2, 0.4, 0.1], patience=2, min_delta=1e-2,
        class_weight="balanced", sample_weight=weights))
    check_members([2, 3, 2], 2, X, labels, dict(epochs=5, batch_size=batch_size, lr=0.2,
                                               sample_weight=2.5))
    if batch_size == 1:
        assert spy.calls["lockstep_sgd"] >= 3 and "train" not in spy.calls
    else:
        assert "lockstep_sgd" not in spy.calls and spy.calls["stack_train"] >= 4


def test_bad_new_fit_arguments_name_the_member():
    stack = NetworkStack([2, 2, 1], 3)
    before = stack.get_flat_params()
    for kwargs, match in (({"patience": [1, 0, 2]}, "member 1: patience"),
                          ({"min_delta": [0.0, 0.0, -1.0]}, "member 2: min_delta"),
                          ({"lr": [0.1, "fast", 0.1]}, "member 1"),
                          ({"class_weight": [None, None]}, "class_weight"),
                          ({"restore_best": [True, 1, True], "patience": 2}, "restore_best")):
        with pytest.raises((ValueError, TypeError), match=match):
            stack.fit(XOR_X, XOR_Y, epochs=2, **dict({"lr": 0.1}, **kwargs))
    np.testing.assert_array_equal(stack.get_flat_params(), before)


@pytest.mark.parametrize("batch_size", [1, 2])
def test_members_whose_pre_activations_overflow_end_as_their_lone_fits(spy, batch_size):
    """A member whose starting weights overflow on X is refused (its lone fit raises
    ValueError and changes nothing); one whose training reaches weights that overflow on X
    diverged (its lone fit raises TrainingDiverged, keeping the last finite step). The
    others go on."""
    X = np.array([[1e6, 0.0], [0.0, 1.0], [0.0, -1.0]], np.float32)
    Y = np.array([[1.0], [0.0], [1.0]], np.float32)
    nets = [Network([2, 3, 1], activation="identity", output="identity", seed=s,
                    dtype=np.float32) for s in range(5)]
    nets[1].fit(X[1:], Y[1:], epochs=2, lr=0.01)   # its optimiser state must come back
    # refused: its first column overflows on row 0, the only one it takes part in
    nets[1].weights = [np.column_stack([np.full(3, 1e33), nets[1].weights[0][:, 1]]),
                       nets[1].weights[1]]
    stack = NetworkStack.from_networks(nets)
    # stable below about 1 / max|x|**2; member 2's weights grow until they overflow on X,
    # member 4's until a step is infinite
    lrs = [2e-13, 1e-13, 3e-11, 1e-13, 1e-6]
    histories = stack.fit(X, Y, epochs=30, lr=lrs, batch_size=batch_size)
    expected = []
    for k, net in enumerate(nets):
        lone = net.copy()
        try:
            lone.fit(X, Y, epochs=30, lr=lrs[k], batch_size=batch_size)
            expected.append(None)
        except TrainingDiverged as error:
            expected.append(("diverged", str(error)))
        except ValueError as error:
            expected.append(("refused", str(error)))
        member = stack[k]
        np.testing.assert_array_equal(member.get_flat_params(), lone.get_flat_params())
        assert (member._optimizer is None) == (lone._optimizer is None)
        if lone._optimizer is not None:
            assert member._optimizer.step == lone._optimizer.step
            assert member._optimizer.optimizer == lone._optimizer.optimizer
    assert [None if h.stopped is None else (h.stopped, h.error) for h in histories] == expected
    assert [h.stopped for h in histories] == [None, "refused", "diverged", None, "diverged"]
    assert "overflow" in histories[1].error and "overflow" in histories[2].error
    assert stack[1]._optimizer.step == 4
    np.testing.assert_array_equal(stack[1].get_flat_params(), nets[1].get_flat_params())
    assert histories[0].epochs == 30
    assert spy.calls.get("lockstep_sgd", 0) == (batch_size == 1)


def test_lockstep_kernel_flags_overflow_before_divergence():
    model = core.Model([2, 2, 1], core.ACT_SIGMOID, core.ACT_SIGMOID, core.LOSS_MSE)
    lanes = core.LOCKSTEP_LANES
    params = np.full((model.n_params, lanes), 0.5)
    params[:4, 1] = 1e308                     # lane 1: hidden pre-activations overflow
    X = np.array([[1.0, 1.0]])
    Y = np.array([[0.0]])
    l2 = np.zeros(lanes)
    l2[2] = 1e300                             # lane 2: its step is infinite
    lr = np.full(lanes, 0.1)
    lr[2] = 1e10
    on = np.ones(lanes, np.uint8)
    before = params.copy()
    core.lockstep_sgd(model, params, np.zeros((0, lanes)), lr, np.zeros(lanes), False, l2,
                      np.zeros(lanes), X, Y, np.ones((lanes, 1)),
                      np.zeros((lanes, 1), np.intp), np.ones((lanes, 4), np.uint64), on,
                      np.zeros(lanes), np.zeros(lanes, np.int64), np.zeros((lanes, 1)),
                      np.zeros(lanes, np.int64), 0, False, 10, False)
    assert on[1] == 3 and on[2] == 2 and on[0] == 1
    np.testing.assert_array_equal(params[:, 1:3], before[:, 1:3])   # nothing applied
