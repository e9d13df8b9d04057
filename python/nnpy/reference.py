"""The whole algorithm in plain numpy: readable, slow, and the oracle of nnpy's tests.

Two parts, both importing nothing compiled:

1. The blog post's API, complete (its `forwardPass` was never shown) and tidied, with the post's
   numbers: `sigmoid`, `sigmoid_prime`, `cost`, `init_net`, `forwardPass`, `backPropogation`.
   `backPropogation` keeps the post's order: with `update=True` it changes W_l before the layer
   below reads it, so lower layers get deltas through updated weights (see docs/post-api.md).

2. The library's algorithm for any layer sizes, the way Nielsen's network.py writes it:
   weights[l] is W_l with shape (n_out, n_in), biases[l] is b_l with shape (n_out,); samples are
   rows of X. Standard backprop: every delta is computed from the weights before the step.
   Losses, as the mean over samples of:
       "mse":            0.5 * sum((a - y)**2)                 (sigmoid output)
       "cross_entropy":  -sum(y*log(a) + (1-y)*log(1-a))      (sigmoid output)
                         -sum(y*log(softmax(z)))              (softmax output)
"""
import numpy as np

__all__ = [
    "sigmoid", "sigmoid_prime", "cost", "init_net", "forwardPass", "backPropogation",
    "init_params", "forward", "predict", "loss", "gradients", "gradients_per_sample", "sgd",
]


# ---------------------------------------------------------------------------------------------
# 1. The post's API
# ---------------------------------------------------------------------------------------------

def sigmoid(x):
    """1/(1+exp(-x)), without overflow warnings for large |x|."""
    # exp(-log(1 + exp(-x))): logaddexp never overflows, and the exp's argument is <= 0
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))


def sigmoid_prime(x):
    """Derivative of the sigmoid: s * (1 - s)."""
    s = sigmoid(x)
    return s * (1 - s)


def cost(y_hat, y):
    """Mean of the squared differences, as in the post."""
    return np.mean((np.asarray(y_hat, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2)


def init_net(inputSize, layers, outputSize):
    """The post's network: `layers` sigmoid layers, all but the last `inputSize` wide, weights
    uniform in [0, 1) from numpy's global generator, drawn in the post's order."""
    params = {"metadata": {"inputSize": inputSize, "outputSize": outputSize, "n_layers": layers}}
    theta = {}
    for idx in range(layers):
        n_out = outputSize if idx == layers - 1 else inputSize
        theta["W_" + str(idx)] = np.random.rand(n_out, inputSize)
        theta["B_" + str(idx)] = np.array([np.random.rand(n_out)]).T
    params["theta"] = theta
    return params


def forwardPass(x, y, params):
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


def backPropogation(params, lr, update=True, debug=False):
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

def init_params(sizes, init="xavier", rng=None, dtype=np.float64):
    """Weights and biases for layer widths `sizes`, initialised as nnpy.Network does:
       "uniform01"      the post's: weights and biases uniform in [0, 1)
       "normal"         Nielsen's network.py: standard normal
       "scaled_normal"  Nielsen's network2: weights N(0, 1/sqrt(n_in)), biases N(0, 1)
       "xavier"         Glorot uniform as scikit-learn has it for logistic layers: weights and
                        biases uniform in +-sqrt(2/(n_in+n_out))
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
            bound = np.sqrt(2.0 / (n_in + n_out))
            w = rng.uniform(-bound, bound, (n_out, n_in))
            b = rng.uniform(-bound, bound, n_out)
        else:
            raise ValueError(f"unknown init {init!r}")
        weights.append(w.astype(dtype))
        biases.append(b.astype(dtype))
    return weights, biases


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def forward(weights, biases, X, output="sigmoid"):
    """Activations of every layer for the rows of X: [A_0 = X, A_1, ..., A_L], and the
    output layer's pre-activation Z_L."""
    activations = [X]
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = activations[-1] @ w.T + b
        last = l == len(weights) - 1
        activations.append(_softmax(z) if last and output == "softmax" else sigmoid(z).astype(z.dtype))
    return activations, z


def predict(weights, biases, X, output="sigmoid"):
    """The network's output for the rows of X."""
    return forward(weights, biases, X, output)[0][-1]


def _sample_losses(a, z, Y, output, loss):
    if loss == "mse":
        return 0.5 * np.sum((a - Y) ** 2, axis=1)
    if output == "softmax":
        zmax = z.max(axis=1, keepdims=True)
        lse = zmax + np.log(np.sum(np.exp(z - zmax), axis=1, keepdims=True))
        return np.sum(Y * (lse - z), axis=1)
    # sigmoid cross-entropy from z: softplus(z) - y*z, stable for any z
    return np.sum(np.logaddexp(0, z) - Y * z, axis=1)


def loss(weights, biases, X, Y, output="sigmoid", loss="mse"):
    """Mean loss over the rows of X, Y."""
    acts, z = forward(weights, biases, X, output)
    return float(np.mean(_sample_losses(acts[-1], z, Y, output, loss)))


def gradients(weights, biases, X, Y, output="sigmoid", loss="mse"):
    """Backprop over a batch, vectorised: (mean loss, [dW_l], [db_l]) of the mean loss."""
    acts, z = forward(weights, biases, X, output)
    n = len(X)
    a = acts[-1]
    mean_loss = float(np.mean(_sample_losses(a, z, Y, output, loss)))
    # output deltas dLoss/dz
    if loss == "mse":
        delta = (a - Y) * a * (1 - a)
    elif output == "softmax":
        delta = a * Y.sum(axis=1, keepdims=True) - Y
    else:
        delta = a - Y
    dW, db = [None] * len(weights), [None] * len(weights)
    for l in reversed(range(len(weights))):
        dW[l] = delta.T @ acts[l] / n
        db[l] = delta.sum(axis=0) / n
        if l > 0:
            # hidden deltas, through the weights before any update
            delta = (delta @ weights[l]) * acts[l] * (1 - acts[l])
    return mean_loss, dW, db


def gradients_per_sample(weights, biases, x, y, output="sigmoid", loss="mse"):
    """Nielsen's backprop for one sample, with column vectors: (loss, [dW_l], [db_l])."""
    activation = np.asarray(x, dtype=weights[0].dtype).reshape(-1, 1)
    y = np.asarray(y, dtype=weights[0].dtype).reshape(-1, 1)
    activations, zs = [activation], []
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = w @ activation + b.reshape(-1, 1)
        zs.append(z)
        if l == len(weights) - 1 and output == "softmax":
            activation = _softmax(z.T).T
        else:
            activation = sigmoid(z).astype(z.dtype)
        activations.append(activation)
    a = activations[-1]
    sample_loss = float(_sample_losses(a.T, zs[-1].T, y.T, output, loss)[0])
    if loss == "mse":
        delta = (a - y) * a * (1 - a)
    elif output == "softmax":
        delta = a * y.sum() - y
    else:
        delta = a - y
    dW, db = [None] * len(weights), [None] * len(weights)
    for l in reversed(range(len(weights))):
        dW[l] = delta @ activations[l].T
        db[l] = delta.ravel()
        if l > 0:
            s = activations[l]
            delta = (weights[l].T @ delta) * s * (1 - s)
    return sample_loss, dW, db


def sgd(weights, biases, X, Y, *, epochs, lr, batch_size=1, output="sigmoid", loss="mse",
        l2=0.0, momentum=0.0, rng=None, orders=None, vectorised=True):
    """Mini-batch SGD in place on weights and biases; returns the per-epoch mean training loss
    (each sample's loss taken in its batch's forward pass, before that batch's step).

    Each epoch visits the samples in the order orders[epoch] when given, else a permutation
    drawn from `rng` (a numpy Generator), else in order. A batch's step uses the mean gradient
    of its samples: vectorised over the batch, or (vectorised=False) sample by sample as in
    Nielsen's network.py. l2 adds 0.5*l2*sum(W**2) (weights only) to the loss; momentum keeps
    a velocity v = momentum*v - lr*grad and steps W += v."""
    velocities_w = [np.zeros_like(w) for w in weights]
    velocities_b = [np.zeros_like(b) for b in biases]
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
            if vectorised:
                batch_loss, dW, db = gradients(weights, biases, X[rows], Y[rows], output, loss)
                total += batch_loss * len(rows)
            else:
                dW = [np.zeros_like(w) for w in weights]
                db = [np.zeros_like(b) for b in biases]
                for r in rows:
                    sample_loss, dw_s, db_s = gradients_per_sample(weights, biases, X[r], Y[r],
                                                                   output, loss)
                    total += sample_loss
                    for l in range(len(weights)):
                        dW[l] += dw_s[l] / len(rows)
                        db[l] += db_s[l] / len(rows)
            for l in range(len(weights)):
                step_w = -lr * (dW[l] + l2 * weights[l])
                step_b = -lr * db[l]
                if momentum:
                    step_w += momentum * velocities_w[l]
                    step_b += momentum * velocities_b[l]
                    velocities_w[l], velocities_b[l] = step_w, step_b
                weights[l] += step_w
                biases[l] += step_b
        history.append(total / n)
    return history
