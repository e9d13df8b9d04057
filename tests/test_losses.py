"""The regression losses absolute_error, huber (with its delta) and poisson (with the exp output):
against nnpy.reference on the batched and per-sample paths in both dtypes, finite differences,
PyTorch's L1Loss, HuberLoss and PoissonNLLLoss where torch is installed, scikit-learn's
MLPRegressor(loss="poisson"), and in NNRegressor, the files and the checks."""
from typing import get_args

import numpy as np
import pytest

import nnpy
from nnpy import Network, _model, reference
from nnpy._losses import LOSSES as ROWS

# from the table: the losses with a torch counterpart (its row's `torch`), with each output they
# train with, a loss reading huber_delta also with a delta other than the default
LOSSES = [(output, row.name, delta) for row in ROWS.values() if row.torch is not None
          for output in row.outputs
          for delta in ((1.0, 0.3) if row.reads_huber_delta else (1.0,))]
IDS = [loss if delta == 1.0 else f"{loss}-{delta}" for _, loss, delta in LOSSES]
DTYPES = [np.float64, np.float32]


def problem(rng, sizes, output, n, dtype=np.float64):
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    if output == "exp":  # counts
        Y = rng.poisson(2.0, (n, sizes[-1])).astype(dtype)
    else:
        Y = (2 * rng.standard_normal((n, sizes[-1]))).astype(dtype)
    return X, Y


def layers(net):
    """([W_l], [b_l]) as float64 copies."""
    return ([np.array(w, np.float64) for w in net.weights],
            [np.array(b, np.float64) for b in net.biases])


def flatten(weights, biases):
    return np.concatenate([np.concatenate([np.ravel(w), b]) for w, b in zip(weights, biases)])


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("output,loss,delta", LOSSES, ids=IDS)
def test_loss_and_gradients_against_the_reference(output, loss, delta, dtype):
    rng = np.random.default_rng(1)
    sizes = [5, 7, 3]
    net = Network(sizes, activation="tanh", output=output, loss=loss, huber_delta=delta,
                  dtype=dtype, seed=2)
    X, Y = problem(rng, sizes, output, 300)  # more rows than one block
    w = rng.random(300)
    weights, biases = layers(net)
    rtol = 1e-11 if dtype == np.float64 else 2e-4
    want = reference.predict(weights, biases, X, output, activation="tanh")
    np.testing.assert_allclose(net.predict(X.astype(dtype)), want, rtol=rtol)
    for sample_weight in (None, w):
        expected, dW, db = reference.gradients(weights, biases, X, Y, output, loss,
                                               activation="tanh", sample_weight=sample_weight,
                                               huber_delta=delta)
        assert net.loss(X.astype(dtype), Y.astype(dtype), sample_weight) == \
            pytest.approx(expected, rel=rtol)
        expected_flat = flatten(dW, db)
        got = flatten(*zip(*net.gradients(X.astype(dtype), Y.astype(dtype), sample_weight)))
        np.testing.assert_allclose(got, expected_flat, rtol=rtol * 10,
                                   atol=rtol * np.abs(expected_flat).max())


@pytest.mark.parametrize("output,loss,delta", LOSSES, ids=IDS)
def test_gradient_against_finite_differences(output, loss, delta):
    rng = np.random.default_rng(3)
    sizes = [3, 5, 2]
    net = Network(sizes, activation="tanh", output=output, loss=loss, huber_delta=delta,
                  seed=4)
    X, Y = problem(rng, sizes, output, 11)
    objective = net.objective(X, Y, sample_weight=rng.random(11) + 0.1, alpha=0.2)
    flat = net.get_flat_params()
    # away from the kinks: |a - y| not at 0 (absolute error) or at delta (Huber)
    d = np.abs(net.predict(X) - Y)
    assert d.min() > 1e-3 and np.abs(d - delta).min() > 1e-3
    grad = objective(flat)[1]
    fd = np.zeros_like(flat)
    h = 1e-6
    for i in range(len(flat)):
        up, down = flat.copy(), flat.copy()
        up[i] += h
        down[i] -= h
        fd[i] = (objective(up)[0] - objective(down)[0]) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("sizes", [[3, 4, 2], [3, 6, 5, 2]], ids=["small", "general"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("output,loss,delta", LOSSES, ids=IDS)
def test_per_sample_and_batched_training_against_the_reference(output, loss, delta, dtype,
                                                               sizes):
    """batch_size=1 with plain SGD takes the per-sample paths (the small two-layer copy for
    [3, 4, 2]); batch_size=4 the batched one; Adam and momentum too."""
    rng = np.random.default_rng(5)
    X, Y = problem(rng, sizes, output, 13)
    rtol = 1e-10 if dtype == np.float64 else 2e-3
    for kwargs in (dict(batch_size=1, lr=0.02), dict(batch_size=1, lr=0.02, momentum=0.5),
                   dict(batch_size=4, lr=0.01, optimizer="adam", alpha=0.1)):
        net = Network(sizes, activation="tanh", output=output, loss=loss, huber_delta=delta,
                      dtype=dtype, seed=6)
        weights, biases = layers(net)
        history = net.fit(X.astype(dtype), Y.astype(dtype), epochs=10, shuffle=False,
                          **kwargs)
        expected = reference.train(weights, biases, X, Y, epochs=10, activation="tanh",
                                   output=output, loss=loss, huber_delta=delta,
                                   vectorised=kwargs["batch_size"] > 1, **kwargs)
        got_w, got_b = layers(net)
        for got, want in zip(got_w + got_b, weights + biases):
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, err_msg=str(kwargs))
        np.testing.assert_allclose(history.loss, expected, rtol=rtol * 10, err_msg=str(kwargs))


def test_absolute_error_gradient_is_zero_where_the_output_is_the_target():
    """sign(0) = 0, as torch's L1Loss gives there."""
    for dtype in DTYPES:
        net = Network([2, 2], output="identity", loss="absolute_error", dtype=dtype)
        net.weights = [np.zeros((2, 2))]
        net.biases = [np.array([0.5, -1.0])]
        X = np.ones((3, 2), dtype)
        Y = np.array([[0.5, 0.0]] * 3, dtype)  # the first output exact, the second below
        dW, db = net.gradients(X, Y)[0]
        np.testing.assert_array_equal(db, [0.0, -1.0])
        np.testing.assert_array_equal(dW, [[0.0, 0.0], [-1.0, -1.0]])
        assert net.loss(X, Y) == 1.0
        net.fit(X[:1], Y[:1], epochs=1, lr=0.1)  # the per-sample path
        np.testing.assert_allclose(net.biases[0], [0.5, -0.9], rtol=1e-6)


def test_huber_is_mse_near_the_target_and_absolute_error_far_off():
    X = np.zeros((2, 1))
    Y = np.array([[0.25], [5.0]])
    net = Network([1, 1], output="identity", loss="huber", huber_delta=2.0)
    net.weights, net.biases = [np.zeros((1, 1))], [np.zeros(1)]
    # 0.5 * 0.25**2 and 2 * (5 - 1), averaged
    assert net.loss(X, Y) == pytest.approx((0.5 * 0.0625 + 8.0) / 2, rel=1e-15)
    assert net.gradients(X, Y)[0][1][0] == pytest.approx((-0.25 - 2.0) / 2, rel=1e-15)


def test_poisson_loss_is_half_the_deviance_and_zero_at_the_target():
    net = Network([1, 1], output="exp", loss="poisson")
    assert net.loss_name == "poisson" and Network([1, 1], output="exp").loss_name == "poisson"
    net.weights, net.biases = [np.zeros((1, 1))], [np.log([3.0])]
    X = np.zeros((3, 1))
    Y = np.array([[3.0], [0.0], [1.0]])
    np.testing.assert_allclose(net.predict(X), 3.0, rtol=1e-15)
    want = np.mean([0.0, 3.0, 1 * np.log(1 / 3) - 1 + 3])
    assert net.loss(X, Y) == pytest.approx(want, rel=1e-14)
    assert net.gradients(X, Y)[0][1][0] == pytest.approx(np.mean([0.0, 3.0, 2.0]), rel=1e-14)


# ---- PyTorch ------------------------------------------------------------------------------

def torch_loss_and_grads(net, X, Y, criterion):
    """The loss and the gradients (flattened as nnpy lays them out) of a torch copy of net:
    tanh hidden layers, a linear output (the log-rate for PoissonNLLLoss)."""
    torch = pytest.importorskip("torch")
    params = []
    a = torch.tensor(X)
    weights, biases = layers(net)
    for l, (w, b) in enumerate(zip(weights, biases)):
        W = torch.tensor(w, requires_grad=True)
        B = torch.tensor(b, requires_grad=True)
        params += [W, B]
        a = a @ W.T + B
        if l < len(weights) - 1:
            a = torch.tanh(a)
    value = criterion(a, torch.tensor(Y))
    value.backward()
    return float(value.detach()), np.concatenate([p.grad.numpy().ravel() for p in params])


@pytest.mark.parametrize("output,loss,delta", LOSSES, ids=IDS)
def test_against_pytorch(output, loss, delta):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    rng = np.random.default_rng(8)
    sizes = [4, 6, 3]
    n = 40
    net = Network(sizes, activation="tanh", output=output, loss=loss, huber_delta=delta,
                  seed=9)
    X, Y = problem(rng, sizes, output, n)
    # nnpy: per sample the sum over outputs, the mean over samples = torch's sum / n; the
    # row's torch loss with torch's defaults (PoissonNLLLoss: log_input=True, full=False)
    row = ROWS[loss]
    criterion = getattr(torch.nn, row.torch)(
        reduction="sum", **({"delta": delta} if row.reads_huber_delta else {}))
    value, grads = torch_loss_and_grads(net, X, Y, criterion)
    value, grads = value / n, grads / n
    ours = net.loss(X, Y)
    if loss == "poisson":  # torch leaves out the constant y*log(y) - y
        ylogy = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1)), 0)
        ours -= float(np.sum(ylogy - Y)) / n
    assert ours == pytest.approx(value, rel=1e-12)
    got = flatten(*zip(*net.gradients(X, Y)))
    np.testing.assert_allclose(got, grads, rtol=1e-10, atol=1e-13)


# ---- scikit-learn -------------------------------------------------------------------------

def NNRegressor():
    """nnpy's estimator class (it needs scikit-learn)."""
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    from nnpy.estimators import NNRegressor
    return NNRegressor


def poisson_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1] + 0.5)).astype(np.float64)
    return X, y


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_poisson_matches_scikit_learns_mlp_regressor(solver):
    """The same initial weights (scikit-learn's draws from the same random_state), the same
    loss_curve_ and predictions."""
    sklearn_mlp = pytest.importorskip("sklearn.neural_network", reason="scikit-learn missing")
    X, y = poisson_data()
    params = dict(loss="poisson", hidden_layer_sizes=(6,), activation="tanh", solver=solver,
                  batch_size=16, learning_rate_init=0.01, alpha=0.01, max_iter=15,
                  shuffle=False, momentum=0.0, random_state=0, tol=0.0)
    theirs = sklearn_mlp.MLPRegressor(**params)
    ours = NNRegressor()(**params)
    with pytest.warns(Warning):  # both: not converged in 15 iterations
        theirs.fit(X, y)
    with pytest.warns(Warning):
        ours.fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    assert ours.n_iter_ == theirs.n_iter_
    if solver == "lbfgs":
        assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    else:
        # nnpy's Adam is torch's formula: epsilon sits apart from scikit-learn's by the bias
        # corrections, a relative 1e-8 on a step
        rtol = 1e-10 if solver == "sgd" else 1e-6
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6)
    assert np.all(ours.predict(X) > 0)


def test_poisson_converts_to_and_from_scikit_learn():
    sklearn_mlp = pytest.importorskip("sklearn.neural_network", reason="scikit-learn missing")
    X, y = poisson_data()
    theirs = sklearn_mlp.MLPRegressor(loss="poisson", hidden_layer_sizes=(4,), max_iter=5,
                                      random_state=0)
    with pytest.warns(Warning):
        theirs.fit(X, y)
    ours = NNRegressor().from_sklearn(theirs)
    assert ours.loss == "poisson" and ours.network_.output == "exp"
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-12)
    back = ours.to_sklearn()
    np.testing.assert_allclose(back.predict(X), theirs.predict(X), rtol=1e-12)
    huber = NNRegressor()(loss="huber", hidden_layer_sizes=(3,), max_iter=2)
    with pytest.warns(Warning):
        huber.fit(X, y)
    with pytest.raises(ValueError, match="no loss='huber'"):
        huber.to_sklearn()


@pytest.mark.parametrize("loss", ["absolute_error", "huber"])
def test_robust_regressors_fit_and_beat_a_constant(loss):
    rng = np.random.default_rng(10)
    X = rng.uniform(-2, 2, (300, 2))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] + 0.1 * rng.standard_normal(300)
    y[::15] += 30  # outliers
    reg = NNRegressor()(loss=loss, hidden_layer_sizes=(16,), max_iter=300,
                                      learning_rate_init=0.01, random_state=0)
    reg.fit(X, y)
    clean = np.ones(300, bool)
    clean[::15] = False
    error = np.median(np.abs(reg.predict(X) - y)[clean])
    constant = np.median(np.abs(np.median(y) - y)[clean])
    assert error < 0.5 * constant
    assert reg.network_.loss_name == loss and reg.out_activation_ == "identity"
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]


def test_estimator_checks():
    X, y = poisson_data(30)
    with pytest.raises(ValueError, match="y must hold non-negative values for loss='poisson'"):
        NNRegressor()(loss="poisson", max_iter=2).fit(X, y - 5)
    with pytest.raises(ValueError, match="huber_delta"):
        NNRegressor()(loss="huber", huber_delta=0.0).fit(X, y)
    reg = NNRegressor()(loss="huber", huber_delta=0.5, hidden_layer_sizes=(3,),
                                      max_iter=2)
    with pytest.warns(Warning):
        reg.fit(X, y)
    assert reg.network_.huber_delta == 0.5
    again = NNRegressor().from_network(reg.network_)
    assert again.loss == "huber" and again.huber_delta == 0.5
    with pytest.raises(ValueError, match="loss='poisson' disagrees"):
        NNRegressor().from_network(reg.network_, loss="poisson")


def test_regression_losses_are_the_tables():
    """NNRegressor's loss names, its type checkers' Literal and to_sklearn's choices are the
    rows' scikit-learn names."""
    NNRegressor()
    from nnpy.estimators import _shared
    names = tuple(row.sklearn for row in ROWS.values() if row.sklearn is not None)
    assert names == ("squared_error", "absolute_error", "huber", "poisson")
    assert get_args(_shared.RegressionLoss) == names
    assert NNRegressor()._parameter_constraints["loss"][0].options == set(names)
    assert _shared._MLP_LOSSES == ("squared_error", "poisson")


# ---- the table, Network's checks, files ------------------------------------------------------

def test_the_table_of_losses():
    """Every loss the core exports has a row (and the core's code), the Literal type checkers
    read lists the rows, and each output activation has one default loss among its pairs."""
    from nnpy._dispatch import core
    assert {name for name in dir(core) if name.startswith("LOSS_")} == \
        {row.core for row in ROWS.values()}
    assert _model.LOSSES == {row.name: getattr(core, row.core) for row in ROWS.values()}
    assert len(set(_model.LOSSES.values())) == len(ROWS)
    assert get_args(nnpy.network.Loss) == tuple(ROWS) == nnpy.network.LOSSES
    assert _model.PAIRS == {(o, row.name) for row in ROWS.values() for o in row.outputs}
    for output in _model.OUTPUTS:
        defaults = [row.name for row in ROWS.values() if output in row.default_for]
        assert defaults == [_model.DEFAULT_LOSS[output]]
        assert Network([2, 2], output=output).loss_name == defaults[0]
    for row in ROWS.values():
        assert set(row.default_for) <= set(row.outputs) <= set(_model.OUTPUTS), row.name
        assert (row.sklearn is None) == (row.regressor_output is None), row.name
        assert row.regressor_output in row.outputs + (None,), row.name
        assert row.sklearn is not None or not row.sklearn_mlp, row.name
        assert row.value is reference.LOSSES[row.name]
        assert row.output_delta is reference.OUTPUT_DELTAS[row.name]


def test_network_checks():
    with pytest.raises(ValueError, match="output='identity' trains with loss"):
        Network([2, 1], output="identity", loss="poisson")
    with pytest.raises(ValueError, match="output='exp' trains with loss 'poisson'"):
        Network([2, 1], output="exp", loss="mse")
    with pytest.raises(ValueError, match="output='sigmoid' trains with loss"):
        Network([2, 1], output="sigmoid", loss="huber")
    for bad in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="huber_delta must be a positive finite"):
            Network([2, 1], output="identity", loss="huber", huber_delta=bad)
    for bad in ("1", None, True):
        with pytest.raises(TypeError, match="huber_delta"):
            Network([2, 1], output="identity", loss="huber", huber_delta=bad)
    net = Network([2, 1], output="exp")
    with pytest.raises(ValueError, match=r"Y must hold non-negative values for loss='poisson'"
                                         r".*-1\.0 at index \(1, 0\)"):
        net.fit(np.zeros((2, 2)), np.array([[1.0], [-1.0]]), epochs=1, lr=0.1)
    assert "huber_delta=0.5" in repr(Network([2, 1], output="identity", loss="huber",
                                             huber_delta=0.5))


@pytest.mark.parametrize("output,loss,delta", LOSSES, ids=IDS)
def test_files_and_pickles_keep_the_loss(tmp_path, output, loss, delta):
    import pickle
    rng = np.random.default_rng(11)
    net = Network([3, 4, 2], activation="relu", output=output, loss=loss, huber_delta=delta,
                  seed=12)
    X, Y = problem(rng, net.sizes, output, 20)
    net.fit(X, Y, epochs=2, lr=0.01)
    for again in (Network.load(_saved(net, tmp_path)), pickle.loads(pickle.dumps(net)),
                  net.copy()):
        assert (again.output, again.loss_name, again.huber_delta) == (output, loss, delta)
        np.testing.assert_array_equal(again.predict(X), net.predict(X))
        assert again.loss(X, Y) == net.loss(X, Y)


def _saved(net, tmp_path):
    path = tmp_path / "net.npz"
    net.save(path)
    return path


def test_a_file_with_a_bad_huber_delta_is_refused(tmp_path):
    import json
    import zipfile
    net = Network([2, 1], output="identity", loss="huber", huber_delta=2.0)
    path = _saved(net, tmp_path)
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    header = json.loads(np.load(path)["header"].item())
    assert header["huber_delta"] == 2.0
    header["huber_delta"] = -1
    bad = tmp_path / "bad.npz"
    arrays = {name[:-4]: np.load(path)[name[:-4]] for name in members if name != "header.npy"}
    np.savez(bad, header=np.array(json.dumps(header)), **arrays)
    with pytest.raises(ValueError, match="huber_delta"):
        Network.load(bad)


def test_fann_refuses_the_exp_output(tmp_path):
    net = Network([2, 3, 1], output="exp", seed=0)
    with pytest.raises(ValueError, match="FANN cannot represent a 'exp' output layer"):
        nnpy.io.to_fann(net, tmp_path / "net.net")
    huber = Network([2, 3, 1], activation="tanh", output="identity", loss="huber", seed=0)
    nnpy.io.to_fann(huber, tmp_path / "huber.net")  # the loss is training's, not the model's
    np.testing.assert_allclose(nnpy.io.from_fann(tmp_path / "huber.net").predict(np.ones((1, 2))),
                               huber.predict(np.ones((1, 2))), rtol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 4])   # lockstep, and the stack's mini-batch path
def test_a_stack_passes_huber_delta_to_its_members(batch_size):
    from test_stack import check_members
    rng = np.random.default_rng(9)
    X, Y = problem(rng, [3, 4, 2], "identity", 15)
    stack, _ = check_members([3, 4, 2], 4, X, Y, dict(epochs=5, lr=0.05, batch_size=batch_size),
                             activation="tanh", output="identity", loss="huber",
                             huber_delta=0.3)
    assert stack.huber_delta == 0.3 and all(stack[k].huber_delta == 0.3 for k in range(4))
    assert "huber_delta=0.3" in repr(stack)
    # a delta the members' errors exceed trains apart from the default's
    default = nnpy.NetworkStack([3, 4, 2], 4, activation="tanh", output="identity",
                                loss="huber")
    default.fit(X, Y, epochs=5, lr=0.05, batch_size=batch_size)
    assert not np.array_equal(default.get_flat_params(), stack.get_flat_params())
    with pytest.raises(ValueError, match="huber_delta"):
        nnpy.NetworkStack([3, 4, 2], 2, output="identity", loss="huber", huber_delta=0.0)
