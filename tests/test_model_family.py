"""Issue 10, the Network: every hidden activation x (output, loss) pair against finite
differences and nnpy.reference in both dtypes; SGD with momentum and Nesterov's momentum
against scikit-learn's optimiser; Adam against torch.optim.Adam's formula (and torch itself
when it is installed); sample weights, scikit-learn's alpha and the flat objective; the
optimiser state kept between fits, in copies, pickles and files."""
import json
import pickle
import zipfile

import numpy as np
import pytest

import nnpy
from nnpy import Network, _model, reference

# from the table, so that a new activation or pair is tested here without a change
ACTIVATIONS = list(_model.HIDDEN)
PAIRS = sorted(_model.PAIRS)
DTYPES = [np.float64, np.float32]


def problem(rng, sizes, output, n, dtype=np.float64):
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    if output == "softmax":
        Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], n)]
    elif output == "identity":
        Y = (3 * rng.standard_normal((n, sizes[-1]))).astype(dtype)
    else:
        Y = rng.random((n, sizes[-1])).astype(dtype)
    return X, Y


def layers(net, flat=None):
    """([W_l], [b_l]) as float64 copies, from the network or from a flat vector."""
    flat = net.get_flat_params() if flat is None else flat
    weights, biases, start = [], [], 0
    for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:]):
        weights.append(flat[start:start + n_out * n_in].reshape(n_out, n_in).astype(np.float64))
        biases.append(flat[start + n_out * n_in:start + n_out * (n_in + 1)].astype(np.float64))
        start += n_out * (n_in + 1)
    return weights, biases


def flatten(weights, biases):
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(weights, biases)])


def finite_differences(f, x, eps=1e-4):
    """Central differences with one Richardson step (error O(eps**4))."""
    g = np.zeros(len(x))
    for i in range(len(x)):
        estimates = []
        for h in (eps, eps / 2):
            up, down = x.copy(), x.copy()
            up[i] += h
            down[i] -= h
            estimates.append((f(up) - f(down)) / (2 * h))
        g[i] = (4 * estimates[1] - estimates[0]) / 3
    return g


# ---------------------------------------------------------------------------------------------
# Every activation x (output, loss): gradients, losses and outputs
# ---------------------------------------------------------------------------------------------

def _clear_of_kinks(net, X, Y, activation, output, loss, margin=1e-3):
    """Whether no hidden pre-activation (ReLU-like activations) and no output error (absolute
    error, Huber) lies within `margin` of a kink."""
    weights, biases = layers(net)
    acts = reference.forward(weights, biases, X, output, activation=activation)[0]
    if activation in ("relu", "leaky_relu"):
        for a, W, b in zip(acts[:-2], weights, biases):
            if np.abs(a @ W.T + b).min() <= margin:
                return False
    error = np.abs(acts[-1] - Y)
    if loss == "absolute_error":
        return error.min() > margin
    if loss == "huber":
        return np.abs(error - net.huber_delta).min() > margin
    return True


@pytest.mark.parametrize("output,loss", PAIRS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_against_finite_differences(activation, output, loss):
    rng = np.random.default_rng(ACTIVATIONS.index(activation) * 10 + PAIRS.index((output, loss)))
    sizes = [4, 6, 5, 3]
    net = Network(sizes, activation=activation, output=output, loss=loss, seed=1)
    # finite differences are only good away from the kinks (ReLU's and leaky ReLU's at z = 0,
    # absolute error's at a = y, Huber's at |a - y| = 1): data that keeps clear of them
    for _ in range(50):
        X, Y = problem(rng, sizes, output, 9)
        if _clear_of_kinks(net, X, Y, activation, output, loss):
            break
    else:
        pytest.fail("no data clear of the kinks")
    w = rng.random(9) + 0.1
    objective = net.objective(X, Y, sample_weight=w, alpha=0.3)
    flat = net.get_flat_params()
    value, grad = objective(flat)
    np.testing.assert_allclose(grad, finite_differences(lambda p: objective(p)[0], flat),
                               rtol=1e-6, atol=1e-9)
    # gradients() (no alpha) is the same computation, per layer
    plain = net.objective(X, Y, sample_weight=w)(flat)[1]
    per_layer = flatten(*zip(*net.gradients(X, Y, w)))
    np.testing.assert_allclose(per_layer, plain, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output,loss", PAIRS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_outputs_losses_gradients_against_the_reference(activation, output, loss, dtype):
    rng = np.random.default_rng(7)
    sizes = [5, 7, 6, 4]
    net = Network(sizes, activation=activation, output=output, loss=loss, dtype=dtype, seed=2)
    X, Y = problem(rng, sizes, output, 300)  # more rows than one block
    w = rng.random(300)
    weights, biases = layers(net)
    rtol = 1e-11 if dtype == np.float64 else 2e-4
    got = net.predict(X.astype(dtype))
    assert got.dtype == dtype
    want = reference.predict(weights, biases, X, output, activation=activation)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())
    np.testing.assert_allclose(net.predict(X[3].astype(dtype)), want[3], rtol=rtol,
                               atol=rtol * np.abs(want).max())
    for sample_weight in (None, w):
        expected, dW, db = reference.gradients(weights, biases, X, Y, output, loss,
                                               activation=activation,
                                               sample_weight=sample_weight)
        assert net.loss(X, Y, sample_weight) == pytest.approx(expected, rel=rtol)
        expected_flat = flatten(dW, db)
        got_flat = flatten(*zip(*net.gradients(X, Y, sample_weight)))
        np.testing.assert_allclose(got_flat, expected_flat, rtol=rtol * 10,
                                   atol=rtol * np.abs(expected_flat).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output,loss", PAIRS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_training_against_the_reference(activation, output, loss, dtype):
    """Shuffled-free mini-batch training with each optimiser, l2, alpha and sample weights."""
    rng = np.random.default_rng(3)
    sizes = [4, 6, 3]
    X, Y = problem(rng, sizes, output, 23)
    w = rng.random(23)
    w[:5] = 0  # the first batch (5 rows) takes no step
    rtol = 1e-9 if dtype == np.float64 else 2e-3
    for kwargs in (dict(optimizer="sgd", lr=0.05, momentum=0.8, nesterov=True, l2=0.01),
                   dict(optimizer="adam", lr=0.01, betas=(0.8, 0.99), eps=1e-7, alpha=0.5),
                   dict(optimizer="sgd", lr=0.05, sample_weight=w, alpha=0.2)):
        net = Network(sizes, activation=activation, output=output, loss=loss, dtype=dtype,
                      seed=5)
        weights, biases = layers(net)
        history = net.fit(X.astype(dtype), Y.astype(dtype), epochs=15, batch_size=5,
                          shuffle=False, **kwargs)
        expected = reference.train(weights, biases, X, Y, epochs=15, batch_size=5,
                                   activation=activation, output=output, loss=loss, **kwargs)
        got_w, got_b = layers(net)
        for got, want in zip(got_w + got_b, weights + biases):
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, err_msg=str(kwargs))
        np.testing.assert_allclose(history.loss, expected, rtol=rtol * 10, err_msg=str(kwargs))


def test_per_sample_path_with_every_activation():
    """batch_size=1 takes the per-sample path: against Nielsen's per-sample backprop."""
    rng = np.random.default_rng(4)
    for activation in ACTIVATIONS:
        for output, loss in PAIRS:
            sizes = [3, 5, 2]
            net = Network(sizes, activation=activation, output=output, loss=loss, seed=3)
            X, Y = problem(rng, sizes, output, 8)
            weights, biases = layers(net)
            history = net.fit(X, Y, epochs=20, lr=0.01, batch_size=1, shuffle=False,
                              momentum=0.5)
            expected = reference.train(weights, biases, X, Y, epochs=20, lr=0.01, batch_size=1,
                                       activation=activation, output=output, loss=loss,
                                       momentum=0.5, vectorised=False)
            for got, want in zip(sum(layers(net), []), weights + biases):
                np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(history.loss, expected, rtol=1e-10)


def test_activation_functions_against_numpy():
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.standard_normal(2000) * 3, [0.0, -0.0, 1e-300, 50, -50, 800, -800]])
    for dtype, atol in ((np.float64, 4e-16), (np.float32, 3e-7)):
        net = Network([1, 1], output="identity", dtype=dtype)
        for activation, f in (("tanh", np.tanh), ("relu", lambda v: np.maximum(v, 0)),
                              ("identity", lambda v: v)):
            net = Network([1, 1, 1], activation=activation, output="identity", dtype=dtype)
            net.weights = [[[1.0]], [[1.0]]]
            net.biases = [[0.0], [0.0]]
            zz = z.astype(dtype)
            got = net.predict(zz[:, None])[:, 0]
            np.testing.assert_allclose(got, f(zz.astype(np.float64)), rtol=0, atol=atol,
                                       err_msg=f"{activation} {dtype}")


def test_regression_output_is_not_squeezed():
    """An identity output fits y = 10 x beyond [0, 1] (the NNRegressor case of issue 10)."""
    X = np.linspace(0, 3, 31)[:, None]
    Y = 10 * X
    net = Network([1, 8, 1], activation="tanh", output="identity", seed=0)
    net.fit(X, Y, epochs=5000, lr=0.03, batch_size=31, optimizer="adam")
    np.testing.assert_allclose(net.predict(np.array([[2.0], [3.0]]))[:, 0], [20, 30], atol=0.2)


def test_table_and_validation():
    assert set(_model.HIDDEN) >= {"sigmoid", "tanh", "relu", "identity"}
    assert set(_model.PAIRS) >= {("sigmoid", "mse"), ("sigmoid", "cross_entropy"),
                                 ("softmax", "cross_entropy"), ("identity", "mse")}
    assert {o for o, _ in _model.PAIRS} == set(_model.OUTPUTS)
    for output, default in (("sigmoid", "mse"), ("softmax", "cross_entropy"), ("identity", "mse")):
        assert Network([2, 2], output=output).loss_name == default
    with pytest.raises(ValueError, match="output='identity' trains with loss "
                                         "'absolute_error' or 'huber' or 'mse'"):
        Network([2, 2], output="identity", loss="cross_entropy")
    with pytest.raises(ValueError, match="activation"):
        Network([2, 2], activation="softmax")
    net = Network([2, 2])
    X, Y = np.ones((3, 2)), np.ones((3, 2))
    for kwargs, words in [
            (dict(optimizer="rmsprop"), "optimizer"),
            (dict(momentum=1.5), r"momentum must be <= 1.0"),
            (dict(optimizer="adam", momentum=0.9), "momentum and nesterov"),
            (dict(betas=(0.9, 1.0), optimizer="adam"), r"betas\[1\]"),
            (dict(betas=0.9, optimizer="adam"), "betas must be a pair"),
            (dict(eps=0.0, optimizer="adam"), "eps"),
            (dict(nesterov=1), "nesterov"),
            (dict(alpha=-1.0), "alpha"),
            (dict(sample_weight=[1, 1]), "sample_weight"),
            (dict(sample_weight=[1, -1, 1]), "sample_weight must be >= 0"),
            (dict(sample_weight=[0, 0, 0]), "sample_weight: the weights are all zero"),
            (dict(sample_weight=[1, np.nan, 1]), "sample_weight contains NaN")]:
        with pytest.raises((ValueError, TypeError), match=words):
            net.fit(X, Y, epochs=1, lr=0.1, **kwargs)
    assert net.optimizer_state is None  # nothing refused started an optimiser
    # momentum 1 (no decay of the velocity) is allowed, as scikit-learn's MLP allows it
    Network([2, 2], seed=0).fit(X, Y, epochs=2, lr=0.1, momentum=1.0)
    objective = net.objective(X, Y)
    with pytest.raises(ValueError, match="vector of 6 values"):
        objective(np.zeros(5))
    with pytest.raises(ValueError, match="flat contains NaN"):
        objective(np.full(6, np.nan))
    with pytest.raises(ValueError, match="vector of 6 values"):
        net.set_flat_params(np.zeros((2, 3)))


# ---------------------------------------------------------------------------------------------
# Optimisers against scikit-learn's and torch's
# ---------------------------------------------------------------------------------------------

def _batches(n, batch_size):
    return [np.arange(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]


def test_nesterov_momentum_against_scikit_learn():
    optimizers = pytest.importorskip("sklearn.neural_network._stochastic_optimizers")
    rng = np.random.default_rng(0)
    sizes = [5, 8, 3]
    X, Y = problem(rng, sizes, "sigmoid", 40)
    for nesterov in (True, False):
        net = Network(sizes, activation="tanh", loss="cross_entropy", seed=0)
        weights, biases = layers(net)
        params = weights + biases
        sgd = optimizers.SGDOptimizer(params, learning_rate_init=0.1, momentum=0.9,
                                      nesterov=nesterov)
        for _ in range(3):
            for rows in _batches(40, 8):
                _, dW, db = reference.gradients(weights, biases, X[rows], Y[rows], "sigmoid",
                                                "cross_entropy", activation="tanh")
                sgd.update_params(params, dW + db)
        net.fit(X, Y, epochs=3, lr=0.1, batch_size=8, shuffle=False, momentum=0.9,
                nesterov=nesterov)
        for got, want in zip(sum(layers(net), []), params):
            np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


def _torch_adam_formula(params, grads, state, lr, betas, eps, weight_decay):
    """torch.optim.Adam's single-tensor step as torch writes it (torch/optim/adam.py):
    lerp for the first moment, step_size = lr / bias_correction1, denom from the square root of
    the second moment over sqrt(bias_correction2) plus eps."""
    b1, b2 = betas
    state["step"] = step = state.get("step", 0) + 1
    for i, (p, g, wd) in enumerate(zip(params, grads, weight_decay)):
        g = g + wd * p
        m = state.setdefault(("m", i), np.zeros_like(p))
        v = state.setdefault(("v", i), np.zeros_like(p))
        m += (1 - b1) * (g - m)                      # exp_avg.lerp_(grad, 1 - beta1)
        v *= b2
        v += (1 - b2) * g * g                        # addcmul_(grad, grad, value=1 - beta2)
        step_size = lr / (1 - b1 ** step)
        denom = np.sqrt(v) / np.sqrt(1 - b2 ** step) + eps
        p -= step_size * m / denom


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_against_torchs_formula(dtype):
    rng = np.random.default_rng(1)
    sizes = [6, 10, 4]
    X, Y = problem(rng, sizes, "softmax", 50)
    net = Network(sizes, activation="relu", output="softmax", dtype=dtype, seed=0)
    weights, biases = layers(net)
    params, state = weights + biases, {}
    for _ in range(4):
        for rows in _batches(50, 16):
            _, dW, db = reference.gradients(weights, biases, X[rows], Y[rows], "softmax",
                                            "cross_entropy", activation="relu")
            _torch_adam_formula(params, dW + db, state, 0.01, (0.9, 0.999), 1e-8,
                                [0.05] * len(weights) + [0.0] * len(biases))
    net.fit(X.astype(dtype), Y.astype(dtype), epochs=4, lr=0.01, batch_size=16, shuffle=False,
            optimizer="adam", l2=0.05)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    for got, want in zip(sum(layers(net), []), params):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    assert net.optimizer_state["step"] == 16


def test_adam_against_torch():
    torch = pytest.importorskip("torch", reason="torch not installed: pip install torch")
    rng = np.random.default_rng(2)
    sizes = [6, 12, 3]
    X, Y = problem(rng, sizes, "identity", 64)
    net = Network(sizes, activation="tanh", output="identity", seed=0)
    weights, biases = layers(net)
    linears = [torch.nn.Linear(n_in, n_out, dtype=torch.float64)
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    with torch.no_grad():
        for lin, w, b in zip(linears, weights, biases):
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
    model = torch.nn.Sequential(linears[0], torch.nn.Tanh(), linears[1])
    optimizer = torch.optim.Adam(
        [{"params": [lin.weight for lin in linears], "weight_decay": 0.01},
         {"params": [lin.bias for lin in linears], "weight_decay": 0.0}],
        lr=0.02, betas=(0.85, 0.995), eps=1e-6)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    for _ in range(5):
        for rows in _batches(64, 16):
            optimizer.zero_grad()
            # nnpy's mse: 0.5 * squared error summed over outputs, mean over samples
            loss = 0.5 * ((model(Xt[rows]) - Yt[rows]) ** 2).sum(dim=1).mean()
            loss.backward()
            optimizer.step()
    net.fit(X, Y, epochs=5, lr=0.02, batch_size=16, shuffle=False, optimizer="adam",
            betas=(0.85, 0.995), eps=1e-6, l2=0.01)
    got_w, got_b = layers(net)
    for lin, w, b in zip(linears, got_w, got_b):
        np.testing.assert_allclose(w, lin.weight.detach().numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b, lin.bias.detach().numpy(), rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Sample weights and scikit-learn's alpha
# ---------------------------------------------------------------------------------------------

def test_sample_weights_are_repetitions_in_a_full_batch():
    rng = np.random.default_rng(5)
    sizes = [3, 4, 2]
    X, Y = problem(rng, sizes, "sigmoid", 10)
    counts = rng.integers(0, 4, 10)
    counts[0] = 1
    net = Network(sizes, activation="relu", seed=0)
    repeated = net.copy()
    Xr, Yr = np.repeat(X, counts, axis=0), np.repeat(Y, counts, axis=0)
    assert net.loss(X, Y, counts) == pytest.approx(repeated.loss(Xr, Yr), rel=1e-13)
    net.fit(X, Y, epochs=5, lr=0.3, batch_size=10, sample_weight=counts, optimizer="adam")
    repeated.fit(Xr, Yr, epochs=5, lr=0.3, batch_size=len(Xr), optimizer="adam")
    np.testing.assert_allclose(net.get_flat_params(), repeated.get_flat_params(), rtol=1e-11)


def test_objective_is_scikit_learns_mlp_objective():
    """Network.objective with alpha and sample weights equals MLPClassifier's _backprop (the
    function its lbfgs minimises) at the same parameters."""
    nn = pytest.importorskip("sklearn.neural_network")
    rng = np.random.default_rng(6)
    X = rng.standard_normal((30, 4))
    y = rng.integers(0, 3, 30)
    w = rng.random(30) + 0.5
    clf = nn.MLPClassifier(hidden_layer_sizes=(5,), activation="tanh", alpha=0.7,
                           max_iter=1, solver="lbfgs", random_state=0)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    Y = np.eye(3)[y]
    net = Network([4, 5, 3], activation="tanh", output="softmax")
    net.weights = [c.T for c in clf.coefs_]
    net.biases = list(clf.intercepts_)
    value, grad = net.objective(X, Y, sample_weight=w, alpha=0.7)(net.get_flat_params())
    activations = [X] + [None] * 2
    deltas = [None] * 2
    coef_grads = [np.empty_like(c) for c in clf.coefs_]
    intercept_grads = [np.empty_like(b) for b in clf.intercepts_]
    want, dW, db = clf._backprop(X, Y, w, activations, deltas, coef_grads, intercept_grads)
    assert value == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(grad, flatten([d.T for d in dW], db), rtol=1e-10, atol=1e-14)


def test_objective_drives_scipy_lbfgs():
    optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(7)
    X = rng.standard_normal((60, 3))
    Y = np.sin(X.sum(axis=1, keepdims=True))
    net = Network([3, 10, 1], activation="tanh", output="identity", seed=0)
    start = net.get_flat_params()
    objective = net.objective(X, Y, alpha=1e-3)
    result = optimize.minimize(objective, start, jac=True, method="L-BFGS-B",
                               options={"maxiter": 200})
    np.testing.assert_array_equal(net.get_flat_params(), start)  # objective changed nothing
    net.set_flat_params(result.x)
    assert net.loss(X, Y) < 0.2 * Network([3, 10, 1], activation="tanh", output="identity",
                                          seed=0).loss(X, Y)
    assert result.fun == pytest.approx(objective(result.x)[0])


# ---------------------------------------------------------------------------------------------
# The optimiser state lives on the network
# ---------------------------------------------------------------------------------------------

OPTIMIZERS = [dict(optimizer="sgd", momentum=0.9), dict(optimizer="sgd", momentum=0.9,
                                                        nesterov=True),
              dict(optimizer="adam"), dict(optimizer="adam", betas=(0.5, 0.9), eps=1e-4)]


@pytest.mark.parametrize("kwargs", OPTIMIZERS)
@pytest.mark.parametrize("batch_size", [1, 7])
def test_two_fits_equal_one_of_twice_the_epochs(kwargs, batch_size):
    rng = np.random.default_rng(8)
    X, Y = problem(rng, [4, 6, 2], "sigmoid", 30)
    one, two = (Network([4, 6, 2], activation="relu", seed=1) for _ in range(2))
    one.fit(X, Y, epochs=20, lr=0.01, batch_size=batch_size, shuffle=False, **kwargs)
    two.fit(X, Y, epochs=10, lr=0.01, batch_size=batch_size, shuffle=False, **kwargs)
    two.fit(X, Y, epochs=10, lr=0.01, batch_size=batch_size, shuffle=False, **kwargs)
    np.testing.assert_array_equal(one.get_flat_params(), two.get_flat_params())
    # a reset, or other settings, start afresh
    reset, changed = (Network([4, 6, 2], activation="relu", seed=1) for _ in range(2))
    for net in (reset, changed):
        net.fit(X, Y, epochs=10, lr=0.01, batch_size=batch_size, shuffle=False, **kwargs)
    reset.reset_optimizer()
    assert reset.optimizer_state is None
    other = dict(kwargs, momentum=0.5) if kwargs["optimizer"] == "sgd" else \
        dict(kwargs, betas=(0.7, 0.99))
    changed.fit(X, Y, epochs=1, lr=0.01, batch_size=batch_size, shuffle=False, **other)
    assert changed.optimizer_state["step"] == -(-30 // batch_size)
    fresh = Network([4, 6, 2], activation="relu", seed=1)
    fresh.fit(X, Y, epochs=10, lr=0.01, batch_size=batch_size, shuffle=False, **kwargs)
    fresh.set_flat_params(reset.get_flat_params())
    fresh.reset_optimizer()
    for net in (reset, fresh):
        net.fit(X, Y, epochs=3, lr=0.01, batch_size=batch_size, shuffle=False, **kwargs)
    np.testing.assert_array_equal(reset.get_flat_params(), fresh.get_flat_params())
    assert not np.array_equal(reset.get_flat_params(), two.get_flat_params())


def test_a_new_learning_rate_keeps_the_state():
    """scikit-learn's adaptive and invscaling schedules change lr between epochs and keep the
    velocity: so does nnpy (lr, l2 and alpha are not part of the state)."""
    optimizers = pytest.importorskip("sklearn.neural_network._stochastic_optimizers")
    rng = np.random.default_rng(9)
    X, Y = problem(rng, [3, 4, 1], "identity", 12)
    net = Network([3, 4, 1], output="identity", seed=0)
    weights, biases = layers(net)
    params = weights + biases
    sgd = optimizers.SGDOptimizer(params, learning_rate_init=0.05, momentum=0.9, nesterov=False)
    for lr in (0.05, 0.01, 0.002):
        sgd.learning_rate = lr
        for rows in _batches(12, 4):
            _, dW, db = reference.gradients(weights, biases, X[rows], Y[rows], "identity", "mse")
            sgd.update_params(params, dW + db)
        net.fit(X, Y, epochs=1, lr=lr, batch_size=4, shuffle=False, momentum=0.9)
    for got, want in zip(sum(layers(net), []), params):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kwargs", OPTIMIZERS)
def test_state_survives_copy_pickle_and_files(kwargs, tmp_path):
    rng = np.random.default_rng(10)
    X, Y = problem(rng, [4, 5, 3], "softmax", 20)
    net = Network([4, 5, 3], activation="tanh", output="softmax", dtype=np.float32, seed=0)
    net.fit(X, Y, epochs=4, lr=0.02, batch_size=6, shuffle=False, **kwargs)
    net.save(tmp_path / "net.npz")
    others = [net.copy(), pickle.loads(pickle.dumps(net)), Network.load(tmp_path / "net.npz")]
    state = net.optimizer_state
    assert state["step"] == 16
    for other in others:
        assert other.activation == "tanh" and other.dtype == np.float32
        got = other.optimizer_state
        assert got["settings"] == state["settings"] and got["step"] == state["step"]
        np.testing.assert_array_equal(got["moments"], state["moments"])
    net.fit(X, Y, epochs=3, lr=0.02, batch_size=6, shuffle=False, **kwargs)
    for other in others:
        other.fit(X, Y, epochs=3, lr=0.02, batch_size=6, shuffle=False, **kwargs)
        np.testing.assert_array_equal(other.get_flat_params(), net.get_flat_params())


def test_version_1_files_still_load(tmp_path):
    net = Network([3, 4, 2], loss="cross_entropy", seed=0)
    path = tmp_path / "v1.npz"
    header = {"format": "nnpy.Network", "version": 1, "sizes": [3, 4, 2], "dtype": "float64",
              "output": "sigmoid", "loss": "cross_entropy", "init": "xavier",
              "nnpy_version": "0.1.0"}
    arrays = {"header": np.array(json.dumps(header))}
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        arrays[f"W_{l}"], arrays[f"b_{l}"] = np.asarray(w), np.asarray(b)
    np.savez(path, **arrays)
    back = Network.load(path)
    assert back.activation == "sigmoid" and back.optimizer_state is None
    np.testing.assert_array_equal(back.get_flat_params(), net.get_flat_params())


def test_files_check_the_optimiser_state(tmp_path):
    rng = np.random.default_rng(11)
    X, Y = problem(rng, [3, 4, 2], "sigmoid", 10)
    net = Network([3, 4, 2], seed=0)
    net.fit(X, Y, epochs=2, lr=0.1, optimizer="adam")
    net.save(tmp_path / "net.npz")
    with zipfile.ZipFile(tmp_path / "net.npz") as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    assert "optimizer_moments.npy" in members

    def rewrite(name, change_header=None, moments=None):
        header = json.loads(str(np.load(tmp_path / "net.npz")["header"]))
        if change_header:
            change_header(header)
        out = dict(members)
        buf = __import__("io").BytesIO()
        np.save(buf, np.array(json.dumps(header)))
        out["header.npy"] = buf.getvalue()
        if moments is not None:
            buf = __import__("io").BytesIO()
            np.save(buf, moments)
            out["optimizer_moments.npy"] = buf.getvalue()
        with zipfile.ZipFile(tmp_path / name, "w") as zf:
            for key, value in out.items():
                zf.writestr(key, value)
        return tmp_path / name

    bad = [rewrite("a.npz", lambda h: h["optimizer"].update(step=-1)),
           rewrite("b.npz", lambda h: h["optimizer"].update(betas=[0.9, 1.5])),
           rewrite("c.npz", lambda h: h["optimizer"].update(name="rmsprop")),
           rewrite("d.npz", lambda h: h.update(activation="no_such_activation")),
           rewrite("e.npz", moments=np.full((2, 22), np.nan)),
           rewrite("f.npz", moments=np.zeros((1, 22))),
           rewrite("g.npz", lambda h: h.update(optimizer=None))]
    for path in bad:
        with pytest.raises(ValueError):
            Network.load(path)


def test_divergence_leaves_weights_and_state_untouched():
    """A step that would make a parameter (or the optimiser's state) non-finite is not applied,
    with every optimiser: one full-batch step towards targets of 1e200."""
    rng = np.random.default_rng(12)
    X, Y = problem(rng, [3, 4, 2], "identity", 10)
    for kwargs in OPTIMIZERS:
        net = Network([3, 4, 2], output="identity", seed=0)
        net.fit(X, Y, epochs=2, lr=0.01, shuffle=False, **kwargs)
        weights, state = net.get_flat_params(), net.optimizer_state
        with pytest.raises(nnpy.TrainingDiverged):
            net.fit(X, Y * 1e200, epochs=1, lr=1e300, batch_size=10, **kwargs)
        np.testing.assert_array_equal(net.get_flat_params(), weights)
        after = net.optimizer_state
        assert after["step"] == state["step"], kwargs
        np.testing.assert_array_equal(after["moments"], state["moments"])
        # and training goes on from there
        net.fit(X, Y, epochs=1, lr=0.01, shuffle=False, **kwargs)
        assert net.optimizer_state["step"] == state["step"] + 10


def test_the_docs_list_every_activation():
    # the user guide's table of activations has a row for each of nnpy's table
    from pathlib import Path
    text = (Path(__file__).parent.parent / "docs" / "guide" / "network.md").read_text()
    table = text[text.index("## Activations"):]
    for name in _model.HIDDEN:
        assert f"\n| `{name}` |" in table, name
