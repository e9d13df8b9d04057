"""float32 Adam takes the step float64 arithmetic gives, to float32's rounding: its coefficients
1 - beta1, 1 - beta2 and the bias corrections come from the float64 betas, rounded once (from a
float32 beta2 = 0.999, 1 - beta2 is 1.3e-5 off, and the first step 6.6e-6; 8.3e-5 for 0.9999)."""
import numpy as np
import pytest

from nnpy import Network

BETAS = [(0.9, 0.999), (0.9, 0.9999), (0.8, 0.99999), (0.95, 0.99)]


def problem():
    """A one-layer float32 network at zero weights (a step is then its own value, rounded
    once) and a full batch: every step's gradient is net.gradients at the weights it starts
    from, computed by the same float32 arithmetic fit uses."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 5)).astype(np.float32)
    Y = rng.random((16, 3)).astype(np.float32)
    net = Network([5, 3], output="sigmoid", loss="cross_entropy", dtype=np.float32, seed=0)
    net.weights = [np.zeros((3, 5), np.float32)]
    net.biases = [np.zeros(3, np.float32)]
    return net, X, Y


def flat_gradient(net, X, Y):
    return np.concatenate([np.concatenate([dw.ravel(), db]) for dw, db in net.gradients(X, Y)])


@pytest.mark.parametrize("betas", BETAS)
def test_float32_adam_steps_match_float64_arithmetic(betas):
    lr, eps = 1e-3, 1e-8
    b1, b2 = betas
    net, X, Y = problem()
    m = v = np.zeros(net.get_flat_params().size)
    for t in (1, 2, 3):
        start = net.get_flat_params().astype(np.float64)
        g = flat_gradient(net, X, Y).astype(np.float64)
        net.fit(X, Y, epochs=1, lr=lr, batch_size=len(X), shuffle=False, optimizer="adam",
                betas=betas, eps=eps)
        # torch.optim.Adam's step in float64 from the same float32 gradient
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step = -lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        taken = net.get_flat_params().astype(np.float64) - start
        # a handful of float32 roundings (~6e-8 each) in the step; from step 2 on also the
        # rounding of start + step to float32 (|start| up to (t - 1) * lr)
        rtol = 5e-7 if t == 1 else 5e-7 + (t - 1) * 2 ** -24
        np.testing.assert_allclose(taken, step, rtol=rtol, atol=0)
        state = net.optimizer_state
        assert state["step"] == t
        n = len(m)
        np.testing.assert_allclose(state["moments"][:n], m, rtol=5e-7 * t)
        np.testing.assert_allclose(state["moments"][n:], v, rtol=5e-7 * t)


@pytest.mark.parametrize("betas", BETAS)
def test_float32_adam_against_torch(betas):
    torch = pytest.importorskip("torch", reason="torch is not installed: the comparison with "
                                                "torch.optim.Adam is skipped")
    lr, eps = 1e-3, 1e-8
    net, X, Y = problem()
    p = torch.zeros(net.get_flat_params().size, dtype=torch.float32, requires_grad=True)
    opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps)
    for _ in range(3):
        g = flat_gradient(net, X, Y)
        net.fit(X, Y, epochs=1, lr=lr, batch_size=len(X), shuffle=False, optimizer="adam",
                betas=betas, eps=eps)
        p.grad = torch.from_numpy(g.copy())
        opt.step()
        np.testing.assert_allclose(net.get_flat_params(), p.detach().numpy(), rtol=1e-6,
                                   atol=1e-9)
