"""NetworkStack's mini-batch path (core.stack_train): members that share a shuffle order train
together, each batch's rows gathered once and the first layer's weight gradients of all of
them one product. Member k must end exactly as its lone Network.fit: weights, optimiser
state, step count, epoch losses, validation records and stop reason, bit for bit, for every
optimiser, per-member settings, float32 and float64, members stopping apart, per-member sample
weights, and members with different seeds (groups with orders of their own)."""
import sys

import numpy as np
import pytest

from nnpy import _model
from nnpy._dispatch import core
from test_model_family import problem
from test_stack import _Spy, check_members

OPTIMIZERS = [
    ("sgd", {}), ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.8, "nesterov": True}),
    ("adam", {}), ("adam", {"betas": (0.8, 0.99), "eps": 1e-6})]


@pytest.fixture
def spy(monkeypatch):
    spy = _Spy()
    # every nnpy module that reaches the core through a `core` name of its own
    for name, module in sorted(sys.modules.items()):
        if name.startswith("nnpy.") and getattr(module, "core", None) is core:
            monkeypatch.setattr(module, "core", spy)
    return spy


def _taken(spy):
    """The stack ran on stack_train alone (not core.train member by member)."""
    assert spy.calls.get("stack_train", 0) >= 1
    assert "train" not in spy.calls and "lockstep_sgd" not in spy.calls


@pytest.mark.parametrize("optimizer, extra", OPTIMIZERS, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [2, 8, 60])   # 60: more rows than the dot kernel takes
def test_members_with_one_seed_equal_their_lone_fits(spy, optimizer, extra, dtype, batch_size):
    rng = np.random.default_rng(1)
    X, Y = problem(rng, [12, 16, 4], "softmax", 125, dtype)   # a last batch of 1 or 5 rows
    kwargs = dict(epochs=3, batch_size=batch_size, optimizer=optimizer,
                  lr=[0.003, 0.01, 0.03, 0.001], alpha=[1e-4, 0.0, 1e-2, 1e-3], **extra)
    check_members([12, 16, 4], 4, X, Y, kwargs, seeds=[5] * 4, output="softmax",
                  dtype=dtype)
    _taken(spy)


def test_a_sweep_of_1000_steps_is_bit_identical(spy):
    """The W6-sweep shape (64-32-10, ReLU, softmax, Adam, batch 32) for over 1,000 steps:
    the first layer's weight gradients go through the shared product."""
    rng = np.random.default_rng(2)
    X, Y = problem(rng, [64, 32, 10], "softmax", 320)
    kwargs = dict(epochs=110, batch_size=32, optimizer="adam",
                  lr=[1e-3, 3e-3, 1e-2, 3e-2] * 2, alpha=[1e-5] * 4 + [1e-2] * 4)
    stack, _ = check_members([64, 32, 10], 8, X, Y, kwargs, seeds=[0] * 8,
                             activation="relu", output="softmax", loss="cross_entropy")
    assert stack[0]._optimizer.step == 1100
    _taken(spy)


def test_per_member_optimizer_settings(spy):
    rng = np.random.default_rng(3)
    X, Y = problem(rng, [6, 10, 2], "sigmoid", 41)
    check_members([6, 10, 2], 4, X, Y, dict(
        epochs=4, lr=[0.01, 0.1, 0.2, 0.05], batch_size=4, momentum=[0.0, 0.5, 0.9, 0.95],
        l2=[0.0, 0.01, 0.0, 0.1], alpha=np.array([0.0, 0.0, 0.1, 0.01])), seeds=[1] * 4)
    check_members([6, 10, 2], 3, X, Y, dict(
        epochs=4, lr=(0.01, 0.003, 0.02), batch_size=5, optimizer="adam",
        betas=[(0.9, 0.999), (0.8, 0.9), (0.5, 0.99)], eps=[1e-8, 1e-4, 1e-2]), seeds=[2] * 3)
    _taken(spy)


@pytest.mark.parametrize("activation", list(_model.HIDDEN))
@pytest.mark.parametrize("output, loss", sorted(_model.PAIRS))
def test_every_activation_output_and_loss(activation, output, loss):
    rng = np.random.default_rng(4)
    for sizes in ([7, 9, 3], [5, 8, 6, 2], [6, 3]):
        X, Y = problem(rng, sizes, output, 37)
        check_members(sizes, 3, X, Y, dict(epochs=2, lr=0.02, batch_size=6, l2=0.01,
                                           alpha=0.001, optimizer="adam"), seeds=[3] * 3,
                      activation=activation, output=output, loss=loss)


def test_members_with_different_seeds_form_groups(spy):
    rng = np.random.default_rng(5)
    X, Y = problem(rng, [8, 12, 3], "softmax", 50)
    check_members([8, 12, 3], 6, X, Y, dict(epochs=3, lr=0.01, batch_size=8,
                                           optimizer="adam"),
                  seeds=[4, 9, 4, 0, 9, 4], output="softmax")
    assert spy.calls["stack_train"] >= 3     # one group per seed
    _taken(spy)
    # without shuffling every member reads the rows in order: one group
    spy.calls.clear()
    check_members([8, 12, 3], 3, X, Y, dict(epochs=3, lr=0.01, batch_size=8, shuffle=False,
                                           momentum=0.9), seeds=[0, 1, 2], output="softmax")
    _taken(spy)


def test_per_member_sample_weights(spy):
    rng = np.random.default_rng(6)
    X, Y = problem(rng, [8, 10, 1], "sigmoid", 40)
    folds = np.ones((4, 40))
    for k in range(4):
        folds[k, 10 * k:10 * k + 10] = 0     # member k leaves out fold k
    boot = rng.multinomial(40, np.full(40, 1 / 40), size=4).astype(float)
    for weights in (folds, boot):
        check_members([8, 10, 1], 4, X, Y, dict(epochs=3, lr=0.1, batch_size=6,
                                               momentum=0.5, sample_weight=weights),
                      seeds=[0] * 4)
        check_members([8, 10, 1], 4, X, Y, dict(epochs=3, lr=0.01, batch_size=8,
                                               optimizer="adam", alpha=0.01,
                                               sample_weight=weights), seeds=[0] * 4)
    _taken(spy)


def test_members_stopping_apart(spy):
    rng = np.random.default_rng(7)
    X, Y = problem(rng, [6, 8, 3], "softmax", 45)
    Xv, Yv = problem(rng, [6, 8, 3], "softmax", 12)

    def stop_after(epoch_count):
        return lambda epoch, history: epoch + 1 < epoch_count

    stack, histories = check_members([6, 8, 3], 4, X, Y, dict(
        epochs=12, lr=[0.05, 0.2, 0.1, 0.3], batch_size=7, optimizer="adam",
        validation=[(Xv, Yv), None, (Xv, Yv), (Xv, Yv)],
        callback=[stop_after(2), None, None, stop_after(7)], patience=[None, None, 2, None],
        min_delta=[0.0, 0.0, 0.05, 0.0]), seeds=[1] * 4, output="softmax")
    assert histories[0].stopped == "callback" and histories[0].epochs == 2
    assert histories[1].stopped is None and histories[1].epochs == 12
    assert histories[3].stopped == "callback" and histories[3].epochs == 7
    assert len(set(h.epochs for h in histories)) >= 3
    _taken(spy)


def test_a_member_that_diverges_is_frozen(spy):
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, -1.0], [2.0, 1.0], [1.0, -2.0]])
    Y = np.array([[0.0], [1e3], [2.0], [1.0], [-3.0]])
    stack, histories = check_members(
        [2, 3, 1], 3, X, Y, dict(epochs=20, lr=[0.01, 1e307, 0.02], batch_size=4,
                                 momentum=0.5), seeds=[0] * 3, output="identity")
    assert [h.stopped for h in histories] == [None, "diverged", None]
    assert np.isfinite(stack.get_flat_params()).all()
    _taken(spy)


def test_larger_batches_and_single_members_take_train(spy):
    rng = np.random.default_rng(8)
    X, Y = problem(rng, [3, 4, 2], "sigmoid", 300)
    check_members([3, 4, 2], 2, X, Y, dict(epochs=1, lr=0.1, batch_size=300), seeds=[0, 0])
    check_members([3, 4, 2], 1, X, Y, dict(epochs=1, lr=0.1, batch_size=8))
    assert "stack_train" not in spy.calls and spy.calls["train"] >= 3


def test_stack_train_refuses_bad_arguments():
    model = core.Model([3, 4, 2], core.ACT_SIGMOID, core.ACT_SIGMOID, core.LOSS_MSE)
    n = 10
    X, Y = np.zeros((n, 3)), np.zeros((n, 2))

    rng = np.zeros(4, np.uint64)
    core.seed_rng(rng, 3)

    def call(**changes):
        steps = np.zeros(1, np.int64)
        args = dict(model=model, optimizers=[core.Optimizer(core.OPT_SGD, 0.1, steps)],
                    params=[np.zeros(model.n_params)], states=[np.zeros(0)], X=X, Y=Y,
                    sample_weights=[np.zeros(0)], on=np.ones(1, np.uint8),
                    order=np.arange(n, dtype=np.intp), rng=rng.copy(),
                    position=0, batch_size=4, shuffle_rows=True,
                    epoch_losses=np.zeros((1, 1)), loss_sums=np.zeros(1),
                    member_epochs=np.zeros(1, np.int64), max_batches=5,
                    interruptible=False)
        args.update(changes)
        return core.stack_train(*args.values())

    assert call()[0] == core.STATUS_OK
    for changes in ({"params": [np.zeros(model.n_params - 1)]}, {"batch_size": 1},
                    {"batch_size": 257}, {"order": np.full(n, n, np.intp)},
                    {"position": n}, {"sample_weights": [np.full(n, -1.0)]},
                    {"sample_weights": [np.ones(n - 1)]}, {"on": np.ones(2, np.uint8)},
                    {"epoch_losses": np.zeros((2, 1))}, {"X": np.zeros((n, 4))},
                    {"states": [np.zeros(3)]}, {"rng": np.zeros(3, np.uint64)},
                    {"rng": np.zeros(4, np.uint64)}):
        with pytest.raises(ValueError):
            call(**changes)
