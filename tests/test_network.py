"""nnpy.Network: gradients, training against the numpy reference, learning, API."""
import numpy as np
import pytest

import nnpy
from nnpy import reference
from nnpy._dispatch import core

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
XOR_Y = np.array([[0], [1], [1], [0]], float)
SETUPS = [("sigmoid", "mse"), ("sigmoid", "cross_entropy"), ("softmax", "cross_entropy")]


def random_problem(rng, sizes, output, n, dtype=np.float64):
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    if output == "softmax":
        Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], n)]
    else:
        Y = rng.random((n, sizes[-1])).astype(dtype)
    return X, Y


def finite_difference_gradients(net, X, Y, eps, sample_weight=None):
    """Central differences of net.loss with respect to every weight and bias, with one
    Richardson step (error O(eps**4)), so that rounding, not truncation, bounds the error.
    Returns ([dW_l], [db_l])."""
    flat = net.get_flat_params()
    g = np.zeros(len(flat))
    for i in range(len(flat)):
        estimates = []
        for h in (eps, eps / 2):
            values = []
            for sign in (1, -1):
                moved = flat.copy()
                moved[i] += sign * h
                net.set_flat_params(moved)
                values.append(net.loss(X, Y, sample_weight))
            estimates.append((values[0] - values[1]) / (2 * h))
        g[i] = (4 * estimates[1] - estimates[0]) / 3
    net.set_flat_params(flat)
    fd_w, fd_b, start = [], [], 0
    for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:]):
        fd_w.append(g[start:start + n_out * n_in].reshape(n_out, n_in))
        fd_b.append(g[start + n_out * n_in:start + n_out * (n_in + 1)])
        start += n_out * (n_in + 1)
    return fd_w, fd_b


@pytest.mark.parametrize("output,loss", SETUPS)
@pytest.mark.parametrize("seed", range(4))
def test_gradients_match_finite_differences_float64(output, loss, seed):
    rng = np.random.default_rng(seed)
    sizes = list(rng.integers(1, 21, rng.integers(2, 8)))  # 1-6 layers, widths 1-20
    if output == "softmax":
        sizes[-1] = max(sizes[-1], 2)
    net = nnpy.Network(sizes, output=output, loss=loss, init="normal", seed=seed)
    X, Y = random_problem(rng, sizes, output, 7)
    grads = net.gradients(X, Y)
    fd_w, fd_b = finite_difference_gradients(net, X, Y, 1e-3)
    for l, (dw, db) in enumerate(grads):
        np.testing.assert_allclose(dw, fd_w[l], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(db, fd_b[l], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("output,loss", SETUPS)
def test_gradients_match_finite_differences_float32(output, loss):
    rng = np.random.default_rng(11)
    sizes = [5, 8, 6, 3]
    net32 = nnpy.Network(sizes, output=output, loss=loss, init="normal", seed=2, dtype=np.float32)
    X, Y = random_problem(rng, sizes, output, 9)
    grads = net32.gradients(X, Y)
    # differences on a float64 copy (float32 differences would be noise), so the test measures
    # how close float32 backprop is to the true gradient
    net64 = nnpy.Network(sizes, output=output, loss=loss, seed=0)
    net64.weights, net64.biases = net32.weights, net32.biases
    fd_w, fd_b = finite_difference_gradients(net64, X, Y, 1e-3)
    for l, (dw, db) in enumerate(grads):
        assert dw.dtype == np.float32
        np.testing.assert_allclose(dw, fd_w[l], rtol=1e-3, atol=2e-5)
        np.testing.assert_allclose(db, fd_b[l], rtol=1e-3, atol=2e-5)


def reference_copy(net):
    return [w.astype(np.float64) for w in net.weights], [b.astype(np.float64) for b in net.biases]


@pytest.mark.parametrize("output,loss", SETUPS)
def test_per_sample_fit_equals_per_sample_numpy_sgd(output, loss):
    rng = np.random.default_rng(5)
    sizes = [3, 6, 4, 2]
    net = nnpy.Network(sizes, output=output, loss=loss, init="normal", seed=1)
    X, Y = random_problem(rng, sizes, output, 10)
    weights, biases = reference_copy(net)
    history = net.fit(X, Y, epochs=100, lr=0.3, batch_size=1, shuffle=False)  # 1,000 steps
    expected = reference.train(weights, biases, X, Y, epochs=100, lr=0.3, batch_size=1,
                             output=output, loss=loss, vectorised=False)
    for got, want in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    np.testing.assert_allclose(history.loss, expected, rtol=1e-9)


@pytest.mark.parametrize("output,loss", SETUPS)
@pytest.mark.parametrize("batch_size", [4, 7, 30])
def test_minibatch_fit_equals_vectorised_numpy(output, loss, batch_size):
    rng = np.random.default_rng(batch_size)
    sizes = [6, 10, 5]
    net = nnpy.Network(sizes, output=output, loss=loss, init="scaled_normal", seed=3)
    X, Y = random_problem(rng, sizes, output, 30)
    weights, biases = reference_copy(net)
    history = net.fit(X, Y, epochs=20, lr=0.5, batch_size=batch_size, shuffle=False,
                      l2=0.01, momentum=0.5)
    expected = reference.train(weights, biases, X, Y, epochs=20, lr=0.5, batch_size=batch_size,
                             output=output, loss=loss, l2=0.01, momentum=0.5)
    for got, want in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(history.loss, expected, rtol=1e-10)


def test_shuffled_fit_replays_with_the_cores_permutations():
    rng = np.random.default_rng(0)
    sizes = [4, 5, 2]
    net = nnpy.Network(sizes, init="normal", seed=42)
    X, Y = random_problem(rng, sizes, "sigmoid", 13)
    weights, biases = reference_copy(net)
    # fit seeds its shuffler with the network generator's next draw; replay that
    seed = int(net.copy()._rng.integers(2 ** 63))
    state = np.empty(4, np.uint64)
    core.seed_rng(state, seed)
    order, orders = np.arange(13, dtype=np.intp), []
    for _ in range(6):
        core.permutation_step(order, state)
        orders.append(order.copy())
    net.fit(X, Y, epochs=6, lr=0.7, batch_size=3)
    reference.train(weights, biases, X, Y, epochs=6, lr=0.7, batch_size=3, orders=orders)
    for got, want in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


def test_same_seed_same_training_and_shuffle_differs_from_order():
    X, Y = random_problem(np.random.default_rng(1), [3, 4, 1], "sigmoid", 20)
    a, b, c = (nnpy.Network([3, 4, 1], seed=9) for _ in range(3))
    a.fit(X, Y, epochs=5, lr=0.5, batch_size=2)
    b.fit(X, Y, epochs=5, lr=0.5, batch_size=2)
    c.fit(X, Y, epochs=5, lr=0.5, batch_size=2, shuffle=False)
    np.testing.assert_array_equal(a.weights[0], b.weights[0])
    assert not np.allclose(a.weights[0], c.weights[0])


def test_xor_all_four_samples_with_xavier():
    solved = 0
    for seed in range(10):
        net = nnpy.Network([2, 2, 1], init="xavier", seed=seed)
        net.fit(XOR_X, XOR_Y, epochs=10_000, lr=2.0, batch_size=4, momentum=0.9)
        solved += np.abs(net.predict(XOR_X) - XOR_Y).max() < 0.1
    assert solved >= 9


def test_digits_held_out_accuracy():
    datasets = pytest.importorskip("sklearn.datasets")
    model_selection = pytest.importorskip("sklearn.model_selection")
    digits = datasets.load_digits()
    X, Y = digits.data / 16.0, np.eye(10)[digits.target]
    X_train, X_test, Y_train, Y_test = model_selection.train_test_split(
        X, Y, test_size=0.25, stratify=digits.target, random_state=0)
    net = nnpy.Network([64, 32, 10], init="normal", seed=0)
    history = net.fit(X_train, Y_train, epochs=30, lr=3.0, batch_size=10,
                      validation=(X_test, Y_test))
    assert history.epochs == 30 and len(history.val_accuracy) == 30
    assert history.loss[-1] < history.loss[0]
    assert net.accuracy(X_test, Y_test) >= 0.95
    assert history.val_accuracy[-1] == net.accuracy(X_test, Y_test)


@pytest.mark.parametrize("output,loss", SETUPS)
def test_float32_and_float64_agree(output, loss):
    rng = np.random.default_rng(3)
    sizes = [8, 16, 4]
    X, Y = random_problem(rng, sizes, output, 50)
    nets = [nnpy.Network(sizes, output=output, loss=loss, seed=4, dtype=d)
            for d in (np.float32, np.float64)]
    nets[0].weights, nets[0].biases = nets[1].weights, nets[1].biases
    for net in nets:
        net.fit(X, Y, epochs=5, lr=0.5, batch_size=5, shuffle=False)
    assert nets[0].weights[0].dtype == np.float32 and nets[0].predict(X).dtype == np.float32
    for w32, w64 in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        np.testing.assert_allclose(w32, w64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(nets[0].predict(X), nets[1].predict(X), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("init,activation", [
    ("uniform01", "sigmoid"), ("normal", "sigmoid"), ("scaled_normal", "sigmoid"),
    ("xavier", "sigmoid"), ("xavier", "tanh"), ("xavier", "relu"), ("he", "relu"),
    (None, "sigmoid"), (None, "tanh"), (None, "identity"), (None, "relu")])
def test_inits(init, activation):
    net = nnpy.Network([300, 200, 5], activation=activation, init=init,
                       seed=np.random.default_rng(0))
    resolved = init or ("he" if activation == "relu" else "xavier")
    assert net.init == resolved
    w = net.weights[0]
    assert w.shape == (200, 300) and net.biases[0].shape == (200,)
    # scikit-learn's _init_coef: factor 2 for logistic, 6 for the other activations
    glorot = np.sqrt((2 if activation == "sigmoid" else 6) / 500) / np.sqrt(3)
    expected_std = {"uniform01": np.sqrt(1 / 12), "normal": 1.0, "scaled_normal": 1 / np.sqrt(300),
                    "xavier": glorot, "he": np.sqrt(2 / 300)}[resolved]
    assert w.std() == pytest.approx(expected_std, rel=0.05)
    if resolved == "uniform01":
        assert 0 <= w.min() and w.max() < 1
    if resolved == "he":
        assert np.all(net.biases[0] == 0)
    weights, biases = reference.init_params([300, 200, 5], resolved, np.random.default_rng(0),
                                            activation=activation)
    np.testing.assert_array_equal(net.weights[1], weights[1])


def test_xavier_keeps_the_numbers_of_sigmoid_networks():
    # the Glorot bound of sigmoid networks is unchanged by the model family (+-sqrt(2/(in+out)))
    rng = np.random.default_rng(7)
    bound = np.sqrt(2 / (3 + 4))
    expected = rng.uniform(-bound, bound, (4, 3))
    np.testing.assert_array_equal(nnpy.Network([3, 4, 2], seed=7).weights[0], expected)


def test_weights_are_views_and_assignable():
    net = nnpy.Network([3, 4, 2], seed=0)
    X = np.ones((1, 3))
    view = net.weights[0]
    net.weights[0] = np.zeros((4, 3))
    net.biases[0] = np.zeros(4)
    assert np.all(view == 0)  # the views follow the network
    net.weights[1] = np.full((2, 4), 2.0)
    net.biases[1] = [0.5, -0.5]
    expected = 1 / (1 + np.exp(-(np.full(2, 4 * 0.5 * 2.0) + [0.5, -0.5])))
    np.testing.assert_allclose(net.predict(X)[0], expected, rtol=1e-12)
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        net.weights[1] = np.ones((4, 2))
    net.weights = [np.ones((4, 3)), np.ones((2, 4))]
    assert net.weights[0].sum() == 12
    with pytest.raises(ValueError):
        net.weights = [np.ones((4, 3))]


def test_predict_one_sample_and_batch():
    net = nnpy.Network([4, 3, 2], seed=1)
    X = np.random.default_rng(0).random((600, 4))  # more rows than one forward block
    batch = net.predict(X)
    assert batch.shape == (600, 2)
    one = net.predict(X[17])
    assert one.shape == (2,)
    # the product may take another blocking path for one row than for 256: ulps apart at most
    np.testing.assert_allclose(one, batch[17], rtol=1e-14)
    np.testing.assert_allclose(batch, reference.predict(net.weights, net.biases, X), rtol=1e-12)
    softmax = nnpy.Network([4, 3, 5], output="softmax", seed=1)
    np.testing.assert_allclose(softmax.predict(X).sum(axis=1), 1, rtol=1e-12)


def test_compiled_predictor_reads_its_own_networks_weights():
    net = nnpy.Network([4, 3, 2], seed=1)
    X = np.random.default_rng(0).random((5, 4))
    assert isinstance(net.predict, core.Predictor)
    # the compiled one-sample path and the general path (the class's method) agree exactly
    assert np.array_equal(net.predict(X[0]), nnpy.Network.predict(net, X[0]))
    assert np.array_equal(net.predict(X[:1]), nnpy.Network.predict(net, X[:1]))
    # what the compiled path does not take (a list, several rows) goes to the general path
    assert np.array_equal(net.predict(X[0].tolist()), net.predict(X[0]))
    np.testing.assert_allclose(net.predict(X), reference.predict(net.weights, net.biases, X),
                               rtol=1e-12)
    # a copy predicts from its own weights, and the original sees its weights' assignment
    other = net.copy()
    net.weights = [np.zeros((3, 4)), np.zeros((2, 3))]
    net.biases = [np.zeros(3), np.zeros(2)]
    assert np.array_equal(net.predict(X[0]), np.full(2, 0.5))
    assert not np.array_equal(other.predict(X[0]), np.full(2, 0.5))
    assert isinstance(other.predict, core.Predictor)
    with pytest.raises(ValueError, match="X"):
        net.predict(np.ones(3))


def test_loss_values():
    rng = np.random.default_rng(0)
    for output, loss in SETUPS:
        net = nnpy.Network([3, 4, 3], output=output, loss=loss, seed=0)
        X, Y = random_problem(rng, [3, 4, 3], output, 11)
        expected = reference.loss(net.weights, net.biases, X, Y, output, loss)
        assert net.loss(X, Y) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="softmax"):
        nnpy.Network([2, 2], output="softmax", loss="mse")


def test_history_validation_and_callback():
    X, Y = XOR_X, XOR_Y
    net = nnpy.Network([2, 3, 1], seed=0)
    seen = []

    def callback(epoch, history):
        seen.append((epoch, len(history.loss)))
        return epoch < 4  # stop after the fifth epoch

    history = net.fit(X, Y, epochs=100, lr=1.0, validation=(X, Y), callback=callback)
    assert seen == [(e, e + 1) for e in range(5)]
    assert history.epochs == 5 and len(history.val_loss) == 5 and len(history.val_accuracy) == 5
    assert history.val_loss[-1] == pytest.approx(net.loss(X, Y), rel=1e-12)


def test_fit_with_zero_epochs_changes_nothing():
    net = nnpy.Network([2, 2, 1], seed=0)
    before = net.weights[0].copy()
    assert net.fit(XOR_X, XOR_Y, epochs=0, lr=1.0).loss == []
    np.testing.assert_array_equal(net.weights[0], before)


def test_post_dict_bridge_both_ways():
    np.random.seed(0)
    params = nnpy.init_net(2, 2, 1)
    net = nnpy.Network.from_params(params)
    np.testing.assert_array_equal(net.weights[0], params["theta"]["W_0"])
    np.testing.assert_array_equal(net.biases[1], params["theta"]["B_1"].ravel())
    net.fit(XOR_X, XOR_Y, epochs=10, lr=0.5, shuffle=False)
    back = net.to_params()
    np.testing.assert_array_equal(back["theta"]["W_1"], net.weights[1])
    # one more post step from the trained net equals the reference's
    ref = {"metadata": dict(back["metadata"]), "theta": {k: v.copy() for k, v in back["theta"].items()}}
    nnpy.backPropogation(nnpy.forwardPass([1, 0], [1], back), 0.1)
    reference.backPropogation(reference.forwardPass([1, 0], [1], ref), 0.1)
    np.testing.assert_allclose(back["theta"]["W_0"], ref["theta"]["W_0"], rtol=1e-12)
    with pytest.raises(ValueError, match="hidden layers"):
        nnpy.Network([2, 5, 1]).to_params()


def test_copy_and_pickle_are_independent():
    import pickle
    net = nnpy.Network([2, 3, 1], seed=0)
    for other in (net.copy(), pickle.loads(pickle.dumps(net))):
        np.testing.assert_array_equal(other.weights[0], net.weights[0])
        other.weights[0] = np.zeros((3, 2))
        assert not np.all(net.weights[0] == 0)
        a = net.copy()
        a.fit(XOR_X, XOR_Y, epochs=3, lr=0.1)
        other.weights, other.biases = net.weights, net.biases
        other.fit(XOR_X, XOR_Y, epochs=3, lr=0.1)
        np.testing.assert_array_equal(a.weights[1], other.weights[1])


def test_progress_bar():
    pytest.importorskip("tqdm")
    net = nnpy.Network([2, 2, 1], seed=0)
    history = net.fit(XOR_X, XOR_Y, epochs=3, lr=0.1, progress=True)
    assert history.epochs == 3


def test_one_sample_output_does_not_depend_on_its_dtype_or_layout():
    # one row goes the per-sample path however it comes (converted, 1-D or (1, n), another
    # dtype, Fortran order): the same arithmetic, bit for bit (hypothesis found int rows
    # rounding differently from float64 ones when they took the batch path)
    rng = np.random.default_rng(0)
    for seed in range(20):
        for sizes in ([4, 1], [2, 2, 1], [4, 3, 2]):
            net = nnpy.Network(sizes, seed=seed)
            x = rng.normal(0, 5, (1, sizes[0])).astype(np.float32)
            expected = net.predict(x.astype(np.float64))
            for variant in (x, x[0], np.asfortranarray(x.astype(np.float64)),
                            x.astype(np.float64)[0].tolist()):
                assert np.array_equal(np.reshape(net.predict(variant), expected.shape),
                                      expected)
