"""Each hidden activation of nnpy's table (nnpy._family) through the whole library: its
gradients against PyTorch's autograd of the same network (torch.nn's module of the row), and
Network, the files, NetworkStack, the estimators and the CLI with it. The formulas' accuracy
is tests/test_activation_accuracy.py's; the reference and finite differences
tests/test_model_family.py's; the exports tests/test_export.py's and tests/test_fann.py's."""
import numpy as np
import pytest

import nnpy
from nnpy import Network, _family, _model

HIDDEN = list(_model.HIDDEN)


def problem(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 2, (n, 3))
    Y = np.eye(2)[(X[:, 0] * X[:, 1] > 0).astype(int)]
    return X, Y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", HIDDEN)
def test_gradients_against_torch(activation, dtype):
    torch = pytest.importorskip("torch")
    net = Network([3, 7, 5, 2], activation=activation, output="softmax", dtype=dtype, seed=1)
    X, Y = problem()
    X = X.astype(dtype)
    Y = Y.astype(dtype)
    loss = net.loss(X, Y)
    dW, db = (list(g) for g in zip(*net.gradients(X, Y)))
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    ws = [torch.tensor(np.array(w), dtype=tdtype, requires_grad=True) for w in net.weights]
    bs = [torch.tensor(np.array(b), dtype=tdtype, requires_grad=True) for b in net.biases]
    f = getattr(torch.nn, _family.ACTIVATIONS[activation].torch)()
    a = torch.tensor(X, dtype=tdtype)
    for l, (w, b) in enumerate(zip(ws, bs)):
        z = a @ w.T + b
        a = f(z) if l < len(ws) - 1 else z
    want = torch.nn.functional.cross_entropy(a, torch.tensor(Y, dtype=tdtype))
    want.backward()
    rtol = 1e-10 if dtype == np.float64 else 2e-4
    assert loss == pytest.approx(want.item(), rel=rtol)
    for got, t in zip(dW + db, ws + bs):
        scale = float(t.grad.abs().max())
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=rtol, atol=rtol * scale)
    # the forward pass alone, over the activation's bends and tails (to 20: torch's Softplus
    # returns z itself above its threshold, 20)
    z = torch.tensor(np.linspace(-20, 20, 2001), dtype=tdtype)
    one = Network([1, 1, 1], activation=activation, output="identity", dtype=dtype)
    one.set_flat_params([1, 0, 1, 0])
    # (atol: torch's GELU computes 1 + erf(z/sqrt(2)), which cancels in the left tail)
    np.testing.assert_allclose(one.predict(z.numpy()[:, None])[:, 0], f(z).numpy(),
                               rtol=1e-12 if dtype == np.float64 else 2e-6,
                               atol=8 * np.finfo(dtype).eps)


@pytest.mark.parametrize("activation", HIDDEN)
def test_fit_predict_save_load(tmp_path, activation):
    X, Y = problem()
    net = Network([3, 8, 2], activation=activation, output="softmax", seed=0)
    assert net.init == _family.ACTIVATIONS[activation].init
    before = net.loss(X, Y)
    net.fit(X, Y, epochs=30, lr=0.05, batch_size=8, optimizer="adam")
    assert net.loss(X, Y) < before
    net.save(tmp_path / "net.npz")
    back = Network.load(tmp_path / "net.npz")
    assert back.activation == activation
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    # per-sample SGD (the sized copies) and the batched path agree on one step's gradient
    one = Network([3, 2, 1], activation=activation, output="sigmoid", seed=2)
    start = one.get_flat_params()
    one.fit(X[:1], Y[:1, :1], epochs=1, lr=0.1, batch_size=1, shuffle=False)
    stepped = one.get_flat_params() - start
    dW, db = zip(*_copy(one, start).gradients(X[:1], Y[:1, :1]))
    want = -0.1 * np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(dW, db)])
    np.testing.assert_allclose(stepped, want, rtol=1e-12, atol=1e-15)


def _copy(net, flat):
    other = Network(net.sizes, activation=net.activation, output=net.output, loss=net.loss_name,
                    seed=0)
    other.set_flat_params(flat)
    return other


@pytest.mark.parametrize("activation", HIDDEN)
def test_network_stack(activation):
    X, Y = problem(16)
    stack = nnpy.NetworkStack([3, 3, 1], 3, activation=activation, output="sigmoid")
    alone = [Network([3, 3, 1], activation=activation, output="sigmoid", seed=s)
             for s in range(3)]
    stack.fit(X, Y[:, :1], epochs=3, lr=0.1, batch_size=1, shuffle=False)
    for k, net in enumerate(alone):
        net.fit(X, Y[:, :1], epochs=3, lr=0.1, batch_size=1, shuffle=False)
        np.testing.assert_array_equal(stack[k].get_flat_params(), net.get_flat_params())


@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize("fit_kwargs", [
    dict(epochs=3, lr=0.1, batch_size=8),                # members of one order: core.stack_train
    dict(epochs=3, lr=0.1, batch_size=1, momentum=0.9),  # lockstep, momentum mode
], ids=["mini-batch", "lockstep-momentum"])
def test_network_stack_paths(activation, fit_kwargs):
    # each member bit for bit its lone fit, on the stack's batched and lockstep paths
    from test_stack import check_members
    X, Y = problem(32)
    check_members([3, 3, 2], 3, X, Y[:, :2], fit_kwargs, seeds=[0, 0, 0],
                  activation=activation, output="sigmoid")


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")  # 20 epochs: enough for the wiring
@pytest.mark.parametrize("activation", HIDDEN)
def test_estimators(activation):
    pytest.importorskip("sklearn")
    from nnpy.estimators import NNClassifier
    row = _family.ACTIVATIONS[activation]
    name = row.sklearn or activation
    X, Y = problem(60)
    clf = NNClassifier(hidden_layer_sizes=(6,), activation=name, max_iter=20, random_state=0)
    clf.fit(X, Y.argmax(1))
    assert clf.network_.activation == activation
    assert clf.predict(X).shape == (60,)
    back = NNClassifier.from_network(clf.network_, classes=[0, 1])
    assert back.activation == name
    if row.sklearn is None:
        with pytest.raises(ValueError, match=f"scikit-learn's MLP has no activation='{name}'"):
            clf.to_sklearn()
    else:
        np.testing.assert_allclose(clf.to_sklearn().predict_proba(X), clf.predict_proba(X))


def test_cli_activation_choices():
    # the train command's --activation offers every hidden activation, by the estimators' names
    from nnpy.cli import _args
    parser = _args._parser()
    found = [action.choices for sub in parser._subparsers._group_actions
             for command in sub.choices.values() for action in command._actions
             if "--activation" in action.option_strings]
    assert found and all(list(c) == list(_family.ESTIMATOR_NAMES) for c in found)
    assert set(_family.ESTIMATOR_NAMES.values()) == set(_model.HIDDEN)
