"""A network's initial weights (nnpy._init, what Network draws) against the test oracle's own
formula (nnpy.reference.init_params): the same seed gives the same arrays."""
import numpy as np
import pytest

from nnpy import Network, NetworkStack, _init, _model, reference

SIZES = [5, 7, 3, 2]


def test_every_init_has_a_drawing():
    assert set(_init.INITIALIZERS) == set(_model.INITS)


@pytest.mark.parametrize("init", _model.INITS)
@pytest.mark.parametrize("activation", sorted(_model.HIDDEN))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_draws_equal_the_references(init, activation, dtype):
    got = _init.draw(SIZES, init, np.random.default_rng(11), dtype, activation)
    want = reference.init_params(SIZES, init, np.random.default_rng(11), dtype,
                                 activation=activation)
    for got_layers, want_layers in zip(got, want):
        assert len(got_layers) == len(want_layers) == len(SIZES) - 1
        for a, b in zip(got_layers, want_layers):
            assert a.dtype == b.dtype == dtype
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("init", _model.INITS)
def test_networks_and_stacks_start_from_the_references_weights(init):
    net = Network(SIZES, activation="tanh", init=init, seed=4)
    weights, biases = reference.init_params(SIZES, init, np.random.default_rng(4),
                                            activation="tanh")
    for got, want in zip(list(net.weights) + list(net.biases), weights + biases):
        np.testing.assert_array_equal(got, want)
    stack = NetworkStack(SIZES, 2, activation="tanh", init=init, seeds=[4, 9])
    for k, seed in enumerate((4, 9)):
        member = stack[k]
        weights, biases = reference.init_params(SIZES, init, np.random.default_rng(seed),
                                                activation="tanh")
        for got, want in zip(list(member.weights) + list(member.biases), weights + biases):
            np.testing.assert_array_equal(got, want)


def test_draws_differ_by_seed_and_scale_as_documented():
    a = _init.draw([400, 300], "he", np.random.default_rng(0), np.float64, "relu")
    b = _init.draw([400, 300], "he", np.random.default_rng(1), np.float64, "relu")
    assert not np.array_equal(a[0][0], b[0][0])
    assert a[0][0].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02) and not a[1][0].any()
    w = _init.draw([400, 300], "xavier", np.random.default_rng(0), np.float64, "sigmoid")[0][0]
    assert np.abs(w).max() <= np.sqrt(2 / 700)
