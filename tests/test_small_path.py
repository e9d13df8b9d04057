"""Per-sample plain SGD on small networks. Layers whose widths are all at most 4
(each of the post's 2-2-1) run copies of the per-sample passes compiled for their widths, the
SGD step and its finiteness check folded into the gradient pass; a network with one hidden
layer of at most 4 units and at most 4 outputs trains in a loop compiled for those widths (the
small copies of sgd_per_sample), with any number of inputs. These tests hold both to Nielsen's
per-sample backprop in nnpy.reference, to the divergence guarantee (a step that would make a
weight non-finite is not applied) and to runs continued across calls into the core."""
import numpy as np
import pytest

from nnpy import Network, TrainingDiverged, _model, reference
from nnpy._dispatch import core
from test_model_family import problem  # random data fitting each output

ACTIVATIONS = list(_model.HIDDEN)
PAIRS = sorted(_model.PAIRS)
# sgd_per_sample's small copies: inputs within and beyond 4, every hidden and output width
# 1-4 among them; then deeper or wider networks (the per-layer copies, and a general layer
# among small ones)
SMALL_SIZES = [[2, 2, 1], [1, 1, 1], [4, 3, 4], [3, 4, 2], [4, 1, 3], [6, 2, 4], [9, 3, 1],
               [1, 4, 4, 1], [3, 1, 2, 4, 2], [2, 6, 1]]



def layers(net):
    return ([w.astype(np.float64) for w in net.weights],
            [b.astype(np.float64) for b in net.biases])


@pytest.mark.parametrize("sizes", SMALL_SIZES, ids=str)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_small_per_sample_sgd_equals_nielsen(sizes, activation):
    rng = np.random.default_rng(len(sizes) * 10 + sizes[0])
    for output, loss in PAIRS:
        if sizes[-1] < _model.MIN_OUTPUTS[output]:
            continue  # a softmax over one unit: refused
        for l2, weighted in ((0.0, False), (0.01, True)):
            net = Network(sizes, activation=activation, output=output, loss=loss, seed=2)
            X, Y = problem(rng, sizes, output, 6)
            sw = np.array([1.0, 0.0, 2.0, 0.5, 1.0, 3.0]) if weighted else None
            weights, biases = layers(net)
            # exp(z) after an unbounded hidden layer can start near 1e5: tiny steps
            lr = 1e-6 if output == "exp" else 0.01
            history = net.fit(X, Y, epochs=15, lr=lr, batch_size=1, shuffle=False, l2=l2,
                              sample_weight=sw)
            expected = reference.train(weights, biases, X, Y, epochs=15, lr=lr, batch_size=1,
                                       activation=activation, output=output, loss=loss, l2=l2,
                                       sample_weight=sw, vectorised=False)
            what = f"{output}/{loss} l2={l2} weighted={weighted}"
            for got, want in zip(sum(layers(net), []), weights + biases):
                np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=what)
            np.testing.assert_allclose(history.loss, expected, rtol=1e-10, err_msg=what)
            # zero-weight samples take no step
            assert net._optimizer.step == 15 * (5 if weighted else 6)


@pytest.mark.parametrize("sizes", SMALL_SIZES, ids=str)
def test_small_per_sample_sgd_in_float32(sizes):
    rng = np.random.default_rng(7)
    X, Y = problem(rng, sizes, "sigmoid", 8, np.float32)
    net = Network(sizes, dtype=np.float32, seed=4)
    weights, biases = layers(net)
    history = net.fit(X, Y, epochs=10, lr=0.2, batch_size=1, shuffle=False)
    expected = reference.train(weights, biases, X.astype(np.float64), Y.astype(np.float64),
                               epochs=10, lr=0.2, batch_size=1, vectorised=False)
    assert net.weights[0].dtype == np.float32
    for got, want in zip(sum(layers(net), []), weights + biases):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(history.loss, expected, rtol=1e-4)


def test_fits_continue_where_they_stopped():
    """Two fits give the weights of one as long (a long fit makes several calls into the
    core, each continuing where the last stopped)."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    Y = np.array([[0], [1], [1], [0]], float)
    one, two = Network([2, 2, 1], seed=5), Network([2, 2, 1], seed=5)
    one.fit(X, Y, epochs=3000, lr=0.5, shuffle=False)
    two.fit(X, Y, epochs=1000, lr=0.5, shuffle=False)
    two.fit(X, Y, epochs=2000, lr=0.5, shuffle=False)
    np.testing.assert_array_equal(one.get_flat_params(), two.get_flat_params())
    # the post's XOR, shuffled, is learnt
    net = Network([2, 2, 1], init="uniform01", seed=0)
    history = net.fit(X, Y, epochs=5000, lr=0.5)
    assert history.loss[-1] < history.loss[0] / 10
    np.testing.assert_array_equal(net.predict(X).round(), Y)


def test_a_diverging_step_is_not_applied():
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    Y = np.array([[0.0], [1e3]])
    lr = 1e307
    # the first step (x = 0) is finite; the second would make a weight infinite
    net = Network([2, 2, 1], activation="tanh", output="identity", seed=0)
    weights, biases = layers(net)
    with pytest.raises(TrainingDiverged):
        net.fit(X, Y, epochs=3, lr=lr, shuffle=False)
    reference.train(weights, biases, X[:1], Y[:1], epochs=1, lr=lr, batch_size=1,
                    activation="tanh", output="identity", vectorised=False)
    assert net._optimizer.step == 1
    for got, want in zip(sum(layers(net), []), weights + biases):
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # from the start: nothing applied at all
    net = Network([2, 2, 1], activation="tanh", output="identity", seed=0)
    before = net.get_flat_params()
    with pytest.raises(TrainingDiverged):
        net.fit(X[1:], Y[1:], epochs=1, lr=lr)
    np.testing.assert_array_equal(net.get_flat_params(), before)


def _train_in_calls(sizes, X, Y, budgets, shuffle):
    """The flat parameters, epoch losses and step count after core.train calls of these
    batch budgets, each continuing the run (mid-epoch too) where the last one stopped."""
    model = core.Model(sizes, core.ACT_SIGMOID, core.ACT_SIGMOID, core.LOSS_MSE)
    params = Network(sizes, seed=3).get_flat_params()
    steps = np.zeros(1, np.int64)
    optimizer = core.Optimizer(core.OPT_SGD, 0.3, steps)
    run = core.Epochs(len(X), 1, 256, shuffle, 11)
    work = np.empty(model.train_work_size(1, 256, optimizer))
    losses = []
    for budget in budgets:
        out = np.empty(budget)
        status, ran, done = core.train(model, optimizer, run, params, np.empty(0), X, Y,
                                       np.empty(0), out, budget, work, False)
        assert (status, ran) == (core.STATUS_OK, budget)
        losses += out[:done].tolist()
    return params, losses, int(steps[0])


@pytest.mark.parametrize("sizes", [[2, 2, 1], [3, 4, 2], [6, 3, 1], [2, 5, 1]], ids=str)
@pytest.mark.parametrize("shuffle", [False, True])
def test_a_run_split_across_calls_equals_one_call(sizes, shuffle):
    rng = np.random.default_rng(5)
    X, Y = problem(rng, sizes, "sigmoid", 5)
    one = _train_in_calls(sizes, X, Y, [37], shuffle)
    split = _train_in_calls(sizes, X, Y, [3, 4, 1, 2, 27], shuffle)
    np.testing.assert_array_equal(split[0], one[0])
    assert split[1] == one[1] and len(one[1]) == 7   # 37 steps: 7 epochs of 5 completed
    assert split[2] == one[2] == 37
