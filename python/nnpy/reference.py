"""The whole algorithm in plain numpy: readable, slow, and the oracle of nnpy's tests.

Two parts, both importing nothing compiled:

1. The blog post's API, complete (its `forwardPass` was never shown) and tidied, with the post's
   numbers: `sigmoid`, `sigmoid_prime`, `cost`, `init_net`, `forwardPass`, `backPropogation`.
   `backPropogation` keeps the post's order: with `update=True` it changes W_l before the layer
   below reads it, so lower layers get deltas through updated weights (see docs/post-api.md).

2. The library's algorithm for any layer sizes, the way Nielsen's network.py writes it:
   weights[l] is W_l with shape (n_out, n_in), biases[l] is b_l with shape (n_out,); samples are
   rows of X. Hidden layers apply `activation` (ACTIVATIONS), the output layer `output`.
   Standard backprop: every delta is computed from the weights before the step, with f'(z) of
   the pre-activations z kept by the forward pass (DERIVATIVES), as Nielsen's network.py does.
   The formulas are the rows of nnpy._family.ACTIVATIONS and of nnpy._losses.LOSSES (plain
   numpy: LOSSES, OUTPUT_DELTAS). Losses per sample:
       "mse":            0.5 * sum((a - y)**2)
       "cross_entropy":  -sum(y*log(a) + (1-y)*log(1-a))      (sigmoid output)
                         -sum(y*log(softmax(z)))              (softmax output)
       "absolute_error": sum(|a - y|)                         (identity output)
       "huber":          sum(0.5*d**2 if |d| <= delta else delta*(|d| - 0.5*delta)), d = a - y
       "poisson":        sum(a - y*z + y*log(y) - y), a = exp(z)   (exp output: half the
                         Poisson deviance, scikit-learn's MLPRegressor(loss="poisson"))
   A batch's loss and gradient are sum(w_i * l_i) / sum(w_i) over its samples (w_i = 1 without
   sample weights); scikit-learn's alpha adds 0.5 * alpha * sum(W**2) / sum(w_i). Optimisers:
   SGD (momentum, Nesterov's as scikit-learn has it) and Adam (torch.optim.Adam's formula).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._family import ACTIVATIONS as _ROWS
from ._losses import LOSSES as _LOSS_ROWS

__all__ = [
    "sigmoid", "sigmoid_prime", "cost", "init_net", "forwardPass", "backPropogation",
    "ACTIVATIONS", "DERIVATIVES", "LOSSES", "OUTPUT_DELTAS", "init_params", "forward",
    "predict", "sample_losses", "loss", "gradients", "gradients_per_sample", "sgd_step",
    "adam_step", "train", "sgd",
]


# ---------------------------------------------------------------------------------------------
# 1. The post's API
# ---------------------------------------------------------------------------------------------

# The post's network: {"metadata": {"inputSize", "outputSize", "n_layers", "learningRate"},
# "theta": {"W_l", "B_l"}, "forwardPass": {...}, "deltas": {...}, "d_theta": {...}}; the
# values' types differ by key, hence Any.
Params = Dict[str, Any]

def sigmoid(x: ArrayLike) -> NDArray[np.float64]:  # a numpy float64 for a scalar x
    """1/(1+exp(-x)), without overflow warnings for large abs(x)."""
    # exp(-log(1 + exp(-x))): logaddexp never overflows, and the exp's argument is <= 0
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))


def sigmoid_prime(x: ArrayLike) -> NDArray[np.float64]:
    """Derivative of the sigmoid: s * (1 - s)."""
    s = sigmoid(x)
    return s * (1 - s)


def cost(y_hat: ArrayLike, y: ArrayLike) -> np.floating[Any]:  # a numpy float64
    """Mean of the squared differences, as in the post."""
    return np.mean((np.asarray(y_hat, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2)


def init_net(inputSize: int, layers: int, outputSize: int) -> Params:
    """The post's network: `layers` sigmoid layers, all but the last `inputSize` wide, weights
    uniform in [0, 1) from numpy's global generator, drawn in the post's order."""
    params: Params = {"metadata": {"inputSize": inputSize, "outputSize": outputSize,
                                   "n_layers": layers}}
    theta = {}
    for idx in range(layers):
        n_out = outputSize if idx == layers - 1 else inputSize
        theta["W_" + str(idx)] = np.random.rand(n_out, inputSize)
        theta["B_" + str(idx)] = np.array([np.random.rand(n_out)]).T
    params["theta"] = theta
    return params


def forwardPass(x: ArrayLike, y: ArrayLike, params: Params) -> Params:
    """One sample through the network; stores A_prev<l>, Z_<l>, A_<l> and error in
    params["forwardPass"] and returns params."""
    theta = params["theta"]
    a = np.asarray(x, dtype=np.float64).reshape(-1, 1)
    forward = {}
    for l in range(params["metadata"]["n_layers"]):
        forward["A_prev" + str(l)] = a
        z = theta["W_" + str(l)] @ a + theta["B_" + str(l)]
        a = sigmoid(z)
        forward["Z_" + str(l)] = z
        forward["A_" + str(l)] = a
    forward["error"] = np.asarray(y, dtype=np.float64).reshape(-1, 1) - a
    params["forwardPass"] = forward
    return params


def backPropogation(params: Params, lr: float, update: bool = True,
                    debug: bool = False) -> Params:
    """The post's backprop: deltas from the top layer down, each layer updated as soon as its
    gradient is known (when `update`), d_theta and deltas stored in params."""
    L = params["metadata"]["n_layers"]
    params["metadata"]["learningRate"] = lr
    forward, theta = params["forwardPass"], params["theta"]
    deltas, d_theta = {}, {}
    delta = None
    for l in reversed(range(L)):
        a_prev = forward["A_prev" + str(l)].reshape(1, -1)
        if l == L - 1:
            delta = -forward["error"] * sigmoid_prime(forward["Z_" + str(l)])
        else:
            # the post reads W_{l+1} here, after it may already have been updated
            delta = theta["W_" + str(l + 1)].T @ delta * sigmoid_prime(forward["Z_" + str(l)])
        dw = delta @ a_prev
        deltas["delta_" + str(l)] = delta
        d_theta["d_theta_" + str(l)] = dw
        if update:
            theta["W_" + str(l)] -= lr * dw
            theta["B_" + str(l)] -= lr * delta
        if debug:
            print(delta, dw) if l == L - 1 else print(delta)
    params["deltas"] = deltas
    params["d_theta"] = d_theta
    return params


# ---------------------------------------------------------------------------------------------
# 2. The library's algorithm
# ---------------------------------------------------------------------------------------------

# Activations f(z) of the rows of z (softmax: outputs only) ...
ACTIVATIONS: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
    name: row.function for name, row in _ROWS.items()}

# ... and their derivatives f'(z), from the pre-activations z (elementwise ones only).
DERIVATIVES: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
    name: row.derivative for name, row in _ROWS.items() if row.derivative is not None}

# Losses of the rows, (a, z, Y, output, huber_delta) -> one value per row, from the outputs a
# and the output layer's pre-activations z ...
LOSSES: Dict[str, Callable[..., np.ndarray]] = {
    name: row.value for name, row in _LOSS_ROWS.items()}

# ... and their output deltas dLoss/dz, same arguments, one row per sample.
OUTPUT_DELTAS: Dict[str, Callable[..., np.ndarray]] = {
    name: row.output_delta for name, row in _LOSS_ROWS.items()}


def init_params(sizes: Sequence[int], init: str = "xavier", rng: Any = None,
                dtype: Any = np.float64, activation: str = "sigmoid") -> Tuple[list, list]:
    """Weights and biases for layer widths `sizes`, initialised as nnpy.Network does::

       "uniform01"      the post's: weights and biases uniform in [0, 1)
       "normal"         Nielsen's network.py: standard normal
       "scaled_normal"  Nielsen's network2: weights N(0, 1/sqrt(n_in)), biases N(0, 1)
       "xavier"         Glorot uniform as scikit-learn's MLP has it: weights and biases uniform
                        in +-sqrt(2/(n_in+n_out)) for sigmoid hidden layers and
                        +-sqrt(6/(n_in+n_out)) for the others (every layer by the hidden one)
       "he"             He et al.: weights N(0, 2/n_in) (standard deviation sqrt(2/n_in)),
                        biases 0; for ReLU

    Draws W_0, b_0, W_1, b_1, ... in that order from `rng` (a numpy Generator)."""
    rng = np.random.default_rng(rng)
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        if init == "uniform01":
            w, b = rng.random((n_out, n_in)), rng.random(n_out)
        elif init == "normal":
            w, b = rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)
        elif init == "scaled_normal":
            w, b = rng.standard_normal((n_out, n_in)) / np.sqrt(n_in), rng.standard_normal(n_out)
        elif init == "xavier":
            bound = np.sqrt((2.0 if activation == "sigmoid" else 6.0) / (n_in + n_out))
            w = rng.uniform(-bound, bound, (n_out, n_in))
            b = rng.uniform(-bound, bound, n_out)
        elif init == "he":
            w, b = rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in), np.zeros(n_out)
        else:
            raise ValueError(f"unknown init {init!r}")
        weights.append(w.astype(dtype))
        biases.append(b.astype(dtype))
    return weights, biases


def forward(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], X: np.ndarray,
            output: str = "sigmoid", *, activation: str = "sigmoid",
            masks: Optional[Sequence[np.ndarray]] = None) -> Tuple[list, np.ndarray]:
    """Activations of every layer for the rows of X: [A_0 = X, A_1, ..., A_L], and the
    output layer's pre-activation Z_L. masks (dropout while training): for each hidden layer
    l = 1 .. L-1, its keep factors (rows x n_l: 0, or 1/(1-rate) for a kept unit); A_l is then
    f(Z_l) * masks[l-1], what the next layer reads."""
    activations, zs = _forward(weights, biases, X, output, activation, masks)
    return activations, zs[-1]


def _forward(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], X: np.ndarray,
             output: str, activation: str,
             masks: Optional[Sequence[np.ndarray]] = None) -> Tuple[list, list]:
    """[A_0 = X, A_1, ..., A_L] and [Z_1, ..., Z_L] for the rows of X (masks: see forward)."""
    activations, zs = [X], []
    for l, (w, b) in enumerate(zip(weights, biases)):
        zs.append(activations[-1] @ w.T + b)
        a = ACTIVATIONS[output if l == len(weights) - 1 else activation](zs[-1])
        if masks is not None and l < len(weights) - 1:
            a = a * masks[l]
        activations.append(a)
    return activations, zs


def predict(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], X: np.ndarray,
            output: str = "sigmoid", *, activation: str = "sigmoid") -> np.ndarray:
    """The network's output for the rows of X."""
    return forward(weights, biases, X, output, activation=activation)[0][-1]


def sample_losses(a: Optional[np.ndarray], z: np.ndarray, Y: np.ndarray, output: str = "sigmoid",
                  loss: str = "mse", huber_delta: float = 1.0) -> np.ndarray:
    """The loss of each row (LOSSES): from the outputs a and, for cross-entropy, the
    pre-activations z (so that confident outputs keep their precision)."""
    return LOSSES[loss](a, z, Y, output, huber_delta)


def _output_delta(a: np.ndarray, z: np.ndarray, Y: np.ndarray, output: str,
                  loss: str, huber_delta: float = 1.0) -> np.ndarray:
    """dLoss/dz of the output layer, one row per sample (OUTPUT_DELTAS)."""
    return OUTPUT_DELTAS[loss](a, z, Y, output, huber_delta)


def _penalty(weights: Sequence[np.ndarray], alpha: float, weight_sum: float) -> float:
    """scikit-learn's alpha: 0.5 * alpha * sum(W**2) / sum(w_i) on the loss."""
    if not alpha:
        return 0.0
    return 0.5 * alpha * sum(float(np.sum(w.astype(np.float64) ** 2)) for w in weights) / weight_sum


def loss(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], X: np.ndarray,
         Y: np.ndarray, output: str = "sigmoid", loss: str = "mse", *,
         activation: str = "sigmoid", sample_weight: Optional[np.ndarray] = None,
         alpha: float = 0.0, huber_delta: float = 1.0) -> float:
    """The loss over the rows of X, Y: sum(w_i * l_i) / sum(w_i) (the mean without
    sample_weight), plus alpha's penalty."""
    acts, z = forward(weights, biases, X, output, activation=activation)
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    losses = sample_losses(acts[-1], z, Y, output, loss, huber_delta)
    return float(np.sum(w * losses) / w.sum()) + _penalty(weights, alpha, w.sum())


def gradients(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], X: np.ndarray,
              Y: np.ndarray, output: str = "sigmoid", loss: str = "mse", *,
              activation: str = "sigmoid", sample_weight: Optional[np.ndarray] = None,
              alpha: float = 0.0, masks: Optional[Sequence[np.ndarray]] = None,
              huber_delta: float = 1.0) -> Tuple[float, list, list]:
    """Backprop over a batch, vectorised: (loss, [dW_l], [db_l]) of the loss defined in `loss`.
    masks: dropout's keep factors of the hidden layers (see `forward`); a hidden layer's
    deltas are then (D @ W) * mask * f'(Z)."""
    acts, zs = _forward(weights, biases, X, output, activation, masks)
    a, z = acts[-1], zs[-1]
    losses = sample_losses(a, z, Y, output, loss, huber_delta)
    # output deltas, each sample's times its weight over the weights' sum (1/n without weights)
    if sample_weight is None:
        weight_sum = len(X)
        batch_loss = float(np.mean(losses))
        delta = _output_delta(a, z, Y, output, loss, huber_delta) / weight_sum
    else:
        w = np.asarray(sample_weight, np.float64)
        weight_sum = w.sum()
        batch_loss = float(np.sum(w * losses) / weight_sum)
        delta = _output_delta(a, z, Y, output, loss, huber_delta) * (w / weight_sum).astype(a.dtype)[:, None]
    batch_loss += _penalty(weights, alpha, weight_sum)
    dW: list = [None] * len(weights)
    db: list = [None] * len(weights)
    for l in reversed(range(len(weights))):
        dW[l] = delta.T @ acts[l]
        if alpha:
            dW[l] += (alpha / weight_sum) * weights[l]
        db[l] = delta.sum(axis=0)
        if l > 0:
            # hidden deltas, through the weights before any update
            delta = delta @ weights[l]
            if masks is not None:  # dropout: the kept units' deltas, before f'(z)
                delta = delta * masks[l - 1]
            delta = delta * DERIVATIVES[activation](zs[l - 1])
    return batch_loss, dW, db


def gradients_per_sample(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
                         x: Any, y: Any, output: str = "sigmoid", loss: str = "mse", *,
                         activation: str = "sigmoid",
                         huber_delta: float = 1.0) -> Tuple[float, list, list]:
    """Nielsen's backprop for one sample, with column vectors: (loss, [dW_l], [db_l])."""
    a = np.asarray(x, dtype=weights[0].dtype).reshape(-1, 1)
    y = np.asarray(y, dtype=weights[0].dtype).reshape(-1, 1)
    activations, zs = [a], []
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = w @ a + b.reshape(-1, 1)
        zs.append(z)
        a = ACTIVATIONS[output if l == len(weights) - 1 else activation](z.T).T
        activations.append(a)
    sample_loss = float(sample_losses(a.T, zs[-1].T, y.T, output, loss, huber_delta)[0])
    delta = _output_delta(a.T, zs[-1].T, y.T, output, loss, huber_delta).T
    dW: list = [None] * len(weights)
    db: list = [None] * len(weights)
    for l in reversed(range(len(weights))):
        dW[l] = delta @ activations[l].T
        db[l] = delta.ravel()
        if l > 0:
            delta = (weights[l].T @ delta) * DERIVATIVES[activation](zs[l - 1])
    return sample_loss, dW, db


def sgd_step(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], state: dict, *,
             lr: float, momentum: float = 0.0, nesterov: bool = False) -> None:
    """One step of scikit-learn's SGDOptimizer on the arrays `params`, in place::

        v = momentum * v - lr * g;  p += v   (Nesterov: p += momentum * v - lr * g)

    state["velocity"] keeps v between steps (plain SGD, momentum 0, keeps none)."""
    if momentum == 0:
        for p, g in zip(params, grads):
            p -= lr * g
        return
    velocity = state.setdefault("velocity", [np.zeros_like(p) for p in params])
    for p, g, v in zip(params, grads, velocity):
        v[...] = momentum * v - lr * g
        p += momentum * v - lr * g if nesterov else v


def adam_step(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], state: dict, *,
              lr: float, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
    """One step of torch.optim.Adam on the arrays `params`, in place: with t the step number::

        m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g**2
        p -= lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)

    state keeps "m", "v" and "t" between steps."""
    b1, b2 = betas
    state["t"] = t = state.get("t", 0) + 1
    m = state.setdefault("m", [np.zeros_like(p) for p in params])
    v = state.setdefault("v", [np.zeros_like(p) for p in params])
    for p, g, m_l, v_l in zip(params, grads, m, v):
        m_l[...] = b1 * m_l + (1 - b1) * g
        v_l[...] = b2 * v_l + (1 - b2) * g ** 2
        p -= lr * (m_l / (1 - b1 ** t)) / (np.sqrt(v_l / (1 - b2 ** t)) + eps)


def train(weights: list, biases: list, X: np.ndarray, Y: np.ndarray, *, epochs: int,
          lr: float, batch_size: int = 1, activation: str = "sigmoid", output: str = "sigmoid",
          loss: str = "mse", optimizer: str = "sgd", momentum: float = 0.0,
          nesterov: bool = False, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
          l2: float = 0.0, alpha: float = 0.0, sample_weight: Optional[np.ndarray] = None,
          rng: Optional[np.random.Generator] = None, orders: Optional[Sequence] = None,
          vectorised: bool = True, state: Optional[dict] = None,
          huber_delta: float = 1.0) -> list:
    """Mini-batch training in place on weights and biases; returns each epoch's loss: the sum
    over its batches of (batch size * batch loss) / n, each batch's loss (with alpha's penalty)
    taken in its forward pass, before its step.

    Each epoch visits the samples in the order orders[epoch] when given, else a permutation
    drawn from `rng` (a numpy Generator), else in order. A batch's gradient is that of its
    loss (see `gradients`), vectorised or (vectorised=False) sample by sample as in Nielsen's
    network.py; l2 adds l2 * W to it (weights only); then one step of `optimizer` ("sgd":
    sgd_step, "adam": adam_step). A batch whose sample weights sum to 0 takes no step. `state`
    (a dict) keeps the optimiser's state, so that a later call continues where this one ended."""
    state = {} if state is None else state
    n = len(X)
    history = []
    for epoch in range(epochs):
        if orders is not None:
            order = np.asarray(orders[epoch])
        elif rng is not None:
            order = rng.permutation(n)
        else:
            order = np.arange(n)
        total = 0.0
        for start in range(0, n, batch_size):
            rows = order[start:start + batch_size]
            w = None if sample_weight is None else np.asarray(sample_weight, np.float64)[rows]
            if w is not None and w.sum() == 0:
                continue
            if vectorised:
                batch_loss, dW, db = gradients(weights, biases, X[rows], Y[rows], output, loss,
                                               activation=activation, sample_weight=w,
                                               alpha=alpha, huber_delta=huber_delta)
            else:
                shares = np.full(len(rows), 1 / len(rows)) if w is None else w / w.sum()
                weight_sum = len(rows) if w is None else w.sum()
                batch_loss = _penalty(weights, alpha, weight_sum)
                dW = [(alpha / weight_sum) * W for W in weights]
                db = [np.zeros_like(b) for b in biases]
                for r, share in zip(rows, shares):
                    sample_loss, dw_s, db_s = gradients_per_sample(
                        weights, biases, X[r], Y[r], output, loss, activation=activation,
                        huber_delta=huber_delta)
                    batch_loss += share * sample_loss
                    for l in range(len(weights)):
                        dW[l] += share * dw_s[l]
                        db[l] += share * db_s[l]
            total += batch_loss * len(rows)
            grads = [d + l2 * W for d, W in zip(dW, weights)] + db
            if optimizer == "adam":
                adam_step(weights + biases, grads, state, lr=lr, betas=betas, eps=eps)
            else:
                sgd_step(weights + biases, grads, state, lr=lr, momentum=momentum,
                         nesterov=nesterov)
        history.append(total / n)
    return history


sgd = train  # the name nnpy.benchmarks runs as numpy-vectorised
