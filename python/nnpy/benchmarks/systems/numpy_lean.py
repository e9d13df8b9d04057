"""`numpy`: the numpy peer at its best, the code a user who knows numpy writes for a sigmoid
network with one hidden layer (every workload's shape): buffers allocated once, two matrix
products forward and three backward per batch, elementwise work in place with `out=`, the
learning rate folded into the output deltas (the smallest array) so that the weight gradients
come out of the products already scaled, weights stored transposed (n_in, n_out) so that the
rows of a batch multiply them directly, each batch's rows gathered into a contiguous buffer
with np.take(..., out=, mode="clip") (mode="raise" would copy through a temporary; the
indices are a permutation, always in range). float64, or float32 where the case says so.

W1 and W4's one sample use 1-D vectors and np.dot (np.dot costs less per call than np.matmul
on tiny arrays); W1's 2-element vectors use plain expressions (see xor_steps); the rest works
on batches of rows.

(nnpy.reference.sgd, the `reference` column, is the same algorithm written to be read.)"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

import numpy as np

from nnpy.benchmarks import measure, workloads
from nnpy.benchmarks.systems import Skip, result


def sigmoid_(z: np.ndarray) -> np.ndarray:
    """z <- 1 / (1 + exp(-z)) in place: four passes, no temporaries. exp overflows to inf for
    z < -709 and the result is then 0, as it should be (the caller silences the warning)."""
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += 1.0
    np.reciprocal(z, out=z)
    return z


class BatchSGD:
    """Mini-batch SGD on 0.5 * squared error for a sizes[0]-sizes[1]-sizes[2] sigmoid network,
    with every buffer a batch of up to `batch` rows needs."""

    def __init__(self, W0: np.ndarray, b0: np.ndarray, W1: np.ndarray, b1: np.ndarray,
                 batch: int) -> None:
        dtype = W0.dtype
        self.W0T = np.ascontiguousarray(W0.T)   # (n0, n1): inputs times W0T
        self.W1T = np.ascontiguousarray(W1.T)   # (n1, n2)
        self.b0, self.b1 = b0.copy(), b1.copy()
        n0, n1 = self.W0T.shape
        n2 = self.W1T.shape[1]
        self.batch = batch
        self.Xb = np.empty((batch, n0), dtype)  # the batch's rows
        self.Yb = np.empty((batch, n2), dtype)
        self.A1 = np.empty((batch, n1), dtype)  # hidden activations
        self.A2 = np.empty((batch, n2), dtype)  # outputs
        self.D1 = np.empty((batch, n1), dtype)  # hidden deltas
        self.D2 = np.empty((batch, n2), dtype)  # output deltas (times lr / rows)
        self.gW0T = np.empty((n0, n1), dtype)   # weight gradients (times lr / rows)
        self.gW1T = np.empty((n1, n2), dtype)
        self.gb0 = np.empty(n1, dtype)
        self.gb1 = np.empty(n2, dtype)

    def step(self, X: np.ndarray, Y: np.ndarray, lr: float) -> None:
        """One SGD step on the rows of X, Y (contiguous views of at most `batch` rows)."""
        n = len(X)
        A1, A2, D1, D2 = self.A1[:n], self.A2[:n], self.D1[:n], self.D2[:n]
        # forward
        np.matmul(X, self.W0T, out=A1)
        A1 += self.b0
        sigmoid_(A1)
        np.matmul(A1, self.W1T, out=A2)
        A2 += self.b1
        sigmoid_(A2)
        # output deltas: (a - y) * a * (1 - a), times lr / n
        np.subtract(A2, Y, out=D2)
        D2 *= A2
        np.subtract(1.0, A2, out=A2)
        D2 *= A2
        D2 *= lr / n
        # gradients and hidden deltas, all from the weights before the step
        np.matmul(A1.T, D2, out=self.gW1T)
        np.matmul(D2, self.W1T.T, out=D1)
        D1 *= A1
        np.subtract(1.0, A1, out=A1)
        D1 *= A1
        np.matmul(X.T, D1, out=self.gW0T)
        # updates
        self.W1T -= self.gW1T
        self.W0T -= self.gW0T
        self.b1 -= np.sum(D2, axis=0, out=self.gb1)
        self.b0 -= np.sum(D1, axis=0, out=self.gb0)

    def epoch(self, X: np.ndarray, Y: np.ndarray, order: np.ndarray, lr: float) -> None:
        """One epoch over the rows of X, Y in the order `order`, `batch` rows per step."""
        take = np.take
        for start in range(0, len(order), self.batch):
            rows = order[start:start + self.batch]
            Xb, Yb = self.Xb[:len(rows)], self.Yb[:len(rows)]
            take(X, rows, axis=0, out=Xb, mode="clip")
            take(Y, rows, axis=0, out=Yb, mode="clip")
            self.step(Xb, Yb, lr)

    def predict(self, X: np.ndarray) -> np.ndarray:
        H = sigmoid_(X @ self.W0T + self.b0)
        return sigmoid_(H @ self.W1T + self.b1)


def xor_steps(steps: int, seed: int = 0) -> Tuple[float, float]:
    """W1: per-sample SGD on the 2-2-1 network from uniform [0, 1) weights, one of the four XOR
    samples drawn uniformly per step (all draws made before the loop). Returns (seconds of the
    loop, final loss over the four samples).

    On vectors of 2 a numpy call costs more than a new array (numpy keeps small ones in a
    cache), so the plain expressions, with fewer calls, beat out= buffers here (about 10% in
    our runs); the weights are still updated in place."""
    X, y = workloads.xor_data()
    X, y = X.astype(np.float64), y.astype(np.float64)
    rng = np.random.default_rng(seed)
    W0, b0 = rng.random((2, 2)), rng.random(2)
    W1, b1 = rng.random((1, 2)), rng.random(1)
    draws = rng.integers(0, 4, steps).tolist()
    xs, ys = list(X), list(y)
    lr = workloads.W1_LR
    dot, exp, outer = np.dot, np.exp, np.outer
    start = measure.timer()
    for k in draws:
        x = xs[k]
        a1 = 1.0 / (1.0 + exp(-(dot(W0, x) + b0)))      # forward
        a2 = 1.0 / (1.0 + exp(-(dot(W1, a1) + b1)))
        d2 = (a2 - ys[k]) * a2 * (1.0 - a2) * lr        # output delta, times lr
        d1 = dot(d2, W1) * a1 * (1.0 - a1)              # hidden delta through the old weights
        W1 -= outer(d2, a1)                             # updates
        b1 -= d2
        W0 -= outer(d1, x)
        b0 -= d1
    seconds = measure.timer() - start
    out = sigmoid_(sigmoid_(X @ W0.T + b0) @ W1.T + b1)
    return seconds, float(np.mean(0.5 * (out - y) ** 2))


def run(system: str, workload: str, params: Dict[str, Any],
        ctx: Dict[str, Any]) -> Dict[str, Any]:
    reps, case = ctx["repeats"], ctx["case"]
    with np.errstate(over="ignore"):
        return _run(workload, params, ctx, reps, case)


def _run(workload: str, params: Dict[str, Any], ctx: Dict[str, Any], reps: int,
         case: str) -> Dict[str, Any]:
    if workload == "W1":
        steps = params["steps"]

        def once_w1(n: int = steps) -> tuple[float, measure.Info]:
            seconds, loss = xor_steps(n)
            return seconds, {"final_loss": loss}
        times, info = measure.repeat(once_w1, reps, warmup=measure.warm_for(lambda: once_w1(1000)))
        return {case: result(times, steps, **info)}

    if workload == "W2":
        d = workloads.load_digits_npz(ctx["data"])
        X, Y, orders = d["X_train"], d["Y_train"], d["orders"]

        def once_w2(epochs: int = workloads.W2_EPOCHS) -> tuple[float, measure.Info]:
            t0 = measure.timer()
            net = BatchSGD(d["W0"], d["b0"], d["W1"], d["b1"], workloads.W2_BATCH)
            for e in range(epochs):
                net.epoch(X, Y, orders[e], workloads.W2_LR)
            seconds = measure.timer() - t0
            accuracy = float((net.predict(d["X_test"]).argmax(1) == d["y_test"]).mean())
            return seconds, {"accuracy": accuracy}
        times, info = measure.repeat(once_w2, reps, warmup=lambda: once_w2(1))
        return {case: result(times, workloads.W2_EPOCHS, **info)}

    if workload == "W3":
        dtype = np.dtype(params["dtype"])
        X, Y = workloads.w3_data(dtype)
        W0, b0, W1, b1 = (w.astype(dtype) for w in w3_start())

        def once_w3(rows: int = len(X)) -> tuple[float, measure.Info]:
            rng = np.random.default_rng(workloads.W3_SEED)
            t0 = measure.timer()
            net = BatchSGD(W0, b0, W1, b1, workloads.W3_BATCH)
            net.epoch(X[:rows], Y[:rows], rng.permutation(rows), workloads.W3_LR)
            return measure.timer() - t0, {"weights_dtype": str(net.W0T.dtype)}
        times, info = measure.repeat(once_w3, reps, warmup=lambda: once_w3(1024))
        memory = measure.peak_memory(once_w3) if ctx["memory"] else {}
        return {case: result(times, len(X), **info, **memory)}

    if workload == "W4":
        return w4(workloads.load_digits_npz(ctx["data"]), ctx["calls"], reps)
    raise Skip("n/a")


def w3_start() -> List[np.ndarray]:
    """W3's start weights: Glorot uniform (as nnpy.reference.init_params "xavier"), seed 0."""
    rng = np.random.default_rng(workloads.W3_SEED)
    out = []
    for n_in, n_out in zip(workloads.W3_SIZES[:-1], workloads.W3_SIZES[1:]):
        bound = np.sqrt(2.0 / (n_in + n_out))
        out += [rng.uniform(-bound, bound, (n_out, n_in)), rng.uniform(-bound, bound, n_out)]
    return out


def w4(d: Dict[str, np.ndarray], calls: int, reps: int) -> Dict[str, Any]:
    """W4: one sample as a 1-D vector through np.dot into preallocated buffers, and all 1797
    rows as two products into preallocated (rows, n) buffers."""
    W0, b0, W1, b1 = d["W0"], d["b0"], d["W1"], d["b1"]
    X = np.ascontiguousarray(d["X"])
    x = X[0].copy()
    h, o = np.empty(len(b0)), np.empty(len(b1))
    W0T, W1T = np.ascontiguousarray(W0.T), np.ascontiguousarray(W1.T)
    H, O = np.empty((len(X), len(b0))), np.empty((len(X), len(b1)))
    dot, add = np.dot, np.add

    def predict_one(x: np.ndarray) -> np.ndarray:
        dot(W0, x, out=h)
        add(h, b0, out=h)
        sigmoid_(h)
        dot(W1, h, out=o)
        add(o, b1, out=o)
        return sigmoid_(o)

    def predict_rows(X: np.ndarray) -> np.ndarray:
        np.matmul(X, W0T, out=H)
        add(H, b0, out=H)
        sigmoid_(H)
        np.matmul(H, W1T, out=O)
        add(O, b1, out=O)
        return sigmoid_(O)

    reference = 1 / (1 + np.exp(-(W1 @ (1 / (1 + np.exp(-(W0 @ x + b0)))) + b1)))
    if not np.allclose(predict_one(x), reference) or not np.allclose(predict_rows(X)[0],
                                                                     reference):
        raise RuntimeError("numpy W4: the lean forward pass does not match the plain formula")

    return measure.predict_timings(predict_one, x, predict_rows, X, calls, reps)
