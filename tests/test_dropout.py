"""Dropout in Network.fit, NetworkStack.fit and the estimators: the masks the core draws
(keep rate, independence from threads, reproducibility), the gradient with a mask against
nnpy.reference's with the same mask, inverted dropout's expectation, and the checks."""
import pickle

import numpy as np
import pytest

import nnpy
from nnpy import _model, reference
from nnpy._dispatch import core

DTYPES = [np.float64, np.float32]


def _data(n=64, n_in=5, n_out=2, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in)).astype(dtype)
    Y = (rng.random((n, n_out)) < 0.5).astype(dtype)
    return X, Y


def _fit_seed(net):
    """The seed the next fit of `net` draws from its generator (for the shuffle and the
    dropout), without drawing it."""
    rng = np.random.default_rng()
    rng.bit_generator.state = net._rng.bit_generator.state
    return int(rng.integers(2 ** 63))


def _keep(net, rate, seed, first_sample, rows):
    """The core's keep factors for `rows` samples from sample number first_sample."""
    hidden = int(sum(net.sizes[1:-1]))
    out = np.empty((rows, hidden), net.dtype)
    core.dropout_keep(net._model(), rate, seed, first_sample, out)
    return out


def _per_layer(net, keep):
    """keep (rows x hidden units) split into each hidden layer's factors."""
    edges = np.cumsum(net.sizes[1:-1])[:-1]
    return np.split(keep, edges, axis=1)


# ---- the masks ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_keep_rate_is_one_minus_rate_within_binomial_bounds(rate):
    net = nnpy.Network([3, 40, 30, 2], seed=0)
    keep = _keep(net, rate, seed=12345, first_sample=0, rows=2000)
    scale = 1 / (1 - rate)
    assert set(np.unique(keep)) <= {0.0, scale}
    n = keep.size
    kept = np.count_nonzero(keep)
    # 6 standard deviations of a binomial: fails by chance with probability ~2e-9
    assert abs(kept - n * (1 - rate)) < 6 * np.sqrt(n * rate * (1 - rate))
    # per unit too (each unit its own stream): every column near 1 - rate
    per_unit = np.count_nonzero(keep, axis=0)
    assert np.all(abs(per_unit - 2000 * (1 - rate)) < 6 * np.sqrt(2000 * rate * (1 - rate)))


def test_masks_differ_between_samples_and_seeds_and_repeat_for_the_same():
    net = nnpy.Network([3, 64, 2], seed=0)
    a = _keep(net, 0.5, 1, 0, 50)
    assert np.array_equal(a, _keep(net, 0.5, 1, 0, 50))
    assert np.array_equal(a[10:], _keep(net, 0.5, 1, 10, 40))   # a row's mask is its own
    assert not np.array_equal(a, _keep(net, 0.5, 2, 0, 50))
    assert len({row.tobytes() for row in a}) == 50
    # neighbouring units and samples uncorrelated (a weak hash would show here)
    bits = (a != 0).astype(float)
    assert abs(np.corrcoef(bits[:, :-1].ravel(), bits[:, 1:].ravel())[0, 1]) < 0.1
    assert abs(np.corrcoef(bits[:-1].ravel(), bits[1:].ravel())[0, 1]) < 0.1


@pytest.mark.parametrize("dtype", DTYPES)
def test_inverted_dropout_keeps_the_activations_expectation(dtype):
    """As PyTorch's nn.Dropout in training: E[mask * a] = a, the mask 0 or 1/(1-p)."""
    rate = 0.3
    net = nnpy.Network([3, 20, 2], seed=0, dtype=dtype)
    keep = _keep(net, rate, 7, 0, 20000).astype(np.float64)
    a = np.linspace(-2, 2, 20)
    mean = (keep * a).mean(axis=0)
    # the standard error of each mean: |a| * sqrt(p / (1-p) / n)
    assert np.all(abs(mean - a) < 6 * np.abs(a) * np.sqrt(rate / (1 - rate) / 20000) + 1e-12)


def test_torch_dropout_has_the_same_expectation_and_scale():
    torch = pytest.importorskip("torch", reason="PyTorch is optional (comparison only)")
    rate = 0.25
    torch.manual_seed(0)
    layer = torch.nn.Dropout(rate).train()
    out = layer(torch.ones(4000, 16, dtype=torch.float64)).numpy()
    net = nnpy.Network([3, 16, 2], seed=0)
    keep = _keep(net, rate, 3, 0, 4000)
    assert set(np.unique(out)) == set(np.unique(keep)) == {0.0, 1 / (1 - rate)}
    assert abs(out.mean() - 1) < 0.03 and abs(keep.mean() - 1) < 0.03


# ---- the gradient with a mask ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", list(_model.HIDDEN))
@pytest.mark.parametrize("n_rows", [40, 600])   # 600: a batch of several blocks of rows
def test_full_batch_step_is_the_references_step_with_the_mask(dtype, activation, n_rows):
    X, Y = _data(n_rows, dtype=dtype)
    net = nnpy.Network([5, 7, 6, 2], activation=activation, output="sigmoid", seed=3,
                       dtype=dtype)
    rate, lr = 0.4, 0.5
    start = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    keep = _keep(net, rate, _fit_seed(net), 0, n_rows)
    net.fit(X, Y, epochs=1, lr=lr, batch_size=n_rows, shuffle=False, dropout=rate)
    _, dW, db = reference.gradients(*start, X, Y, "sigmoid", "mse", activation=activation,
                                    masks=_per_layer(net, keep))
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for l in range(3):
        np.testing.assert_allclose(net.weights[l], start[0][l] - lr * dW[l], **tol)
        np.testing.assert_allclose(net.biases[l], start[1][l] - lr * db[l], **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", [[2, 3, 1], [5, 7, 6, 2]])   # a small net and a deeper one
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])   # sgd: the per-sample path
@pytest.mark.parametrize("activation", ["tanh", "silu"])  # silu: its derivative from z
def test_per_sample_steps_are_the_references_steps_with_the_masks(dtype, sizes, optimizer,
                                                                   activation):
    """Batches of one sample over two epochs: sample e * n + i of epoch e uses row i's mask
    at that sample number (shuffle off)."""
    n = 6
    X, Y = _data(n, sizes[0], sizes[-1], seed=1, dtype=dtype)
    net = nnpy.Network(sizes, activation=activation, seed=2, dtype=dtype)
    rate, lr = 0.5, 0.1
    W, b = [w.astype(np.float64) for w in net.weights], [c.astype(np.float64) for c in net.biases]
    keep = _keep(net, rate, _fit_seed(net), 0, 2 * n).astype(np.float64)
    net.fit(X, Y, epochs=2, lr=lr, batch_size=1, shuffle=False, dropout=rate,
            optimizer=optimizer)
    state = {}
    for sample in range(2 * n):
        i = sample % n
        _, dW, db = reference.gradients(W, b, X[i:i + 1].astype(np.float64),
                                        Y[i:i + 1].astype(np.float64), "sigmoid", "mse",
                                        activation=activation,
                                        masks=_per_layer(net, keep[sample:sample + 1]))
        if optimizer == "sgd":
            W = [w - lr * g for w, g in zip(W, dW)]
            b = [c - lr * g for c, g in zip(b, db)]
        else:
            reference.adam_step(W + b, dW + db, state, lr=lr)   # in place
    tol = dict(rtol=2e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-12)
    for l in range(len(sizes) - 1):
        np.testing.assert_allclose(net.weights[l], W[l], **tol)
        np.testing.assert_allclose(net.biases[l], b[l], **tol)


# ---- reproducibility, rate 0, predict ----------------------------------------------------------

@pytest.mark.parametrize("batch_size", [1, 8, 300])
@pytest.mark.parametrize("dtype", DTYPES)
def test_same_seed_same_weights_on_any_number_of_threads(batch_size, dtype):
    X, Y = _data(300, dtype=dtype)
    fits = []
    for threads in (1, 2, 1):
        net = nnpy.Network([5, 64, 32, 2], activation="relu", seed=4, dtype=dtype)
        net.fit(X, Y, epochs=3, lr=0.05, batch_size=batch_size, dropout=0.3,
                n_threads=threads, momentum=0.5 if batch_size == 8 else 0.0)
        fits.append(net.get_flat_params())
    assert np.array_equal(fits[0], fits[1]) and np.array_equal(fits[0], fits[2])
    plain = nnpy.Network([5, 64, 32, 2], activation="relu", seed=4, dtype=dtype)
    plain.fit(X, Y, epochs=3, lr=0.05, batch_size=batch_size, n_threads=1,
              momentum=0.5 if batch_size == 8 else 0.0)
    assert not np.array_equal(fits[0], plain.get_flat_params())


@pytest.mark.parametrize("batch_size", [1, 16])
def test_dropout_changes_training_and_a_resumed_fit_continues_the_stream(batch_size):
    X, Y = _data(100)
    plain = nnpy.Network([5, 16, 2], seed=0)
    plain.fit(X, Y, epochs=2, lr=0.5, batch_size=batch_size)
    dropped = nnpy.Network([5, 16, 2], seed=0)
    dropped.fit(X, Y, epochs=2, lr=0.5, batch_size=batch_size, dropout=0.5)
    assert not np.allclose(plain.get_flat_params(), dropped.get_flat_params())
    # the generator's state goes with the network as the shuffle's does (copy, pickle): the
    # next fit of each copy draws the same masks
    copies = [dropped.copy(), pickle.loads(pickle.dumps(dropped))]
    dropped.fit(X, Y, epochs=2, lr=0.5, batch_size=batch_size, dropout=0.5)
    for copy in copies:
        copy.fit(X, Y, epochs=2, lr=0.5, batch_size=batch_size, dropout=0.5)
        assert np.array_equal(copy.get_flat_params(), dropped.get_flat_params())


@pytest.mark.parametrize("batch_size", [1, 10])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_rate_zero_is_bit_identical_to_no_dropout(batch_size, optimizer):
    X, Y = _data(90)
    nets = [nnpy.Network([5, 9, 4, 2], seed=6) for _ in range(3)]
    histories = [nets[0].fit(X, Y, epochs=3, lr=0.2, batch_size=batch_size, optimizer=optimizer),
                 nets[1].fit(X, Y, epochs=3, lr=0.2, batch_size=batch_size, optimizer=optimizer,
                             dropout=0.0),
                 nets[2].fit(X, Y, epochs=3, lr=0.2, batch_size=batch_size, optimizer=optimizer,
                             dropout=0)]
    for net, history in zip(nets[1:], histories[1:]):
        assert np.array_equal(net.get_flat_params(), nets[0].get_flat_params())
        assert history.loss == histories[0].loss


def test_predict_never_drops():
    X, Y = _data(50)
    net = nnpy.Network([5, 16, 2], seed=0)
    net.fit(X, Y, epochs=2, lr=0.5, batch_size=5, dropout=0.5)
    expected = reference.predict(net.weights, net.biases, X, "sigmoid")
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-12)
    np.testing.assert_allclose(net.predict(X[0]), expected[0], rtol=1e-12)
    assert np.array_equal(net.predict(X), net.predict(X))
    # and the recorded loss is the dropped-out passes': above the loss at the same weights
    # without dropout, on average, for a network that has learnt something
    assert net.loss(X, Y) == pytest.approx(reference.loss(net.weights, net.biases, X, Y))


def test_a_network_without_hidden_layers_has_nothing_to_drop():
    X, Y = _data(30)
    a, b = nnpy.Network([5, 2], seed=0), nnpy.Network([5, 2], seed=0)
    a.fit(X, Y, epochs=2, lr=0.5, batch_size=4)
    b.fit(X, Y, epochs=2, lr=0.5, batch_size=4, dropout=0.5)
    assert np.array_equal(a.get_flat_params(), b.get_flat_params())


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), float("inf")])
def test_bad_rates_are_refused_naming_dropout(bad):
    X, Y = _data(10)
    net = nnpy.Network([5, 4, 2], seed=0)
    before = net.get_flat_params()
    with pytest.raises(ValueError, match="dropout"):
        net.fit(X, Y, epochs=1, lr=0.1, dropout=bad)
    with pytest.raises(TypeError, match="dropout"):
        net.fit(X, Y, epochs=1, lr=0.1, dropout="0.5")
    assert np.array_equal(net.get_flat_params(), before)


def test_the_core_refuses_bad_rates_and_a_short_workspace():
    X, Y = _data(10)
    net = nnpy.Network([5, 4, 2], seed=0)
    model = net._model()
    opt = core.Optimizer(core.OPT_SGD, 0.1, np.zeros(1, np.int64))
    small = np.empty(model.train_work_size(4, 256, opt), np.float64)
    big = np.empty(model.train_work_size(4, 256, opt, 1, True), np.float64)
    assert len(big) > len(small)
    args = (model, opt, core.Epochs(10, 4, 256, False, 0), net._flat, np.zeros(0), X, Y,
            np.zeros(0), np.empty(1))
    with pytest.raises(ValueError, match="dropout"):
        core.train(*args, 10, big, False, 1, 1.0, 0)
    with pytest.raises(ValueError, match="work"):
        core.train(*args, 10, small, False, 1, 0.5, 0)
    read_only = np.zeros((3, 4))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        core.dropout_keep(model, 0.5, 0, 0, read_only)
    with pytest.raises(ValueError, match="out"):
        core.dropout_keep(model, 0.5, 0, 0, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="rate"):
        core.dropout_keep(model, 0.0, 0, 0, np.zeros((3, 4)))


# ---- NetworkStack and the estimators -----------------------------------------------------------

def test_stack_members_train_as_lone_networks_with_their_own_rates():
    X, Y = _data(40, 2, 1)
    stack = nnpy.NetworkStack([2, 3, 1], 3, seeds=[0, 1, 2])
    stack.fit(X, Y, epochs=3, lr=0.3, dropout=[0.0, 0.5, 0.2])
    for k, rate in enumerate([0.0, 0.5, 0.2]):
        lone = nnpy.Network([2, 3, 1], seed=k)
        lone.fit(X, Y, epochs=3, lr=0.3, dropout=rate)
        assert np.array_equal(stack[k].get_flat_params(), lone.get_flat_params())
    with pytest.raises(ValueError, match="dropout"):
        stack.fit(X, Y, epochs=1, lr=0.3, dropout=[0.1, 1.0, 0.0])


@pytest.mark.parametrize("name", ["NNClassifier", "NNRegressor"])
def test_estimators_take_dropout(name):
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from nnpy import estimators
    cls = getattr(estimators, name)
    X, Y = _data(80, n_out=1)
    y = Y[:, 0] if name == "NNClassifier" else X[:, 0] - X[:, 1]
    assert cls().dropout == 0.0 and cls(dropout=0.3).get_params()["dropout"] == 0.3
    settings = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0, solver="sgd")
    with pytest.warns(ConvergenceWarning):
        plain = cls(**settings).fit(X, y)
        dropped = cls(dropout=0.5, **settings).fit(X, y)
        again = clone(dropped).fit(X, y)
        other = cls(dropout=0.5, **{**settings, "random_state": 1}).fit(X, y)
        zero = cls(dropout=0.0, **settings).fit(X, y)
    assert np.array_equal(dropped.network_.get_flat_params(), again.network_.get_flat_params())
    assert not np.allclose(plain.network_.get_flat_params(), dropped.network_.get_flat_params())
    assert not np.array_equal(other.coefs_[1], dropped.coefs_[1])
    assert np.array_equal(zero.network_.get_flat_params(), plain.network_.get_flat_params())
    for bad in (-0.5, 1.0):
        with pytest.raises(ValueError, match="dropout"):
            cls(dropout=bad, **settings).fit(X, y)
    with pytest.raises(ValueError, match="dropout"):
        cls(dropout=0.5, solver="lbfgs").fit(X, y)


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer:UserWarning")
def test_estimators_with_dropout_pass_the_estimator_checks():
    pytest.importorskip("sklearn")
    from sklearn.utils.estimator_checks import check_estimator
    from nnpy.estimators import NNClassifier, NNRegressor
    # a repeated row draws a mask per copy, a weighted row one: the two fits differ by design
    why = "dropout draws a mask per row, so repeating a row is not weighting it"
    expected = {"check_sample_weight_equivalence_on_dense_data": why,
                "check_sample_weight_equivalence_on_sparse_data": why}
    for estimator in (NNClassifier(dropout=0.1), NNRegressor(dropout=0.1)):
        check_estimator(estimator, expected_failed_checks=expected)
