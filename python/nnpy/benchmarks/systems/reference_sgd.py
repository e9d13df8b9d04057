"""`reference` on W2 and W3: nnpy.reference.sgd, the library's algorithm in plain numpy written
to be read (Nielsen's network.py style: fresh arrays for every intermediate, one product per
line). Its own column so that its cost shows next to the `numpy` peer's lean loop; on W1 the
`reference` column is the post's loop (systems/post_loop.py)."""
from __future__ import annotations

from typing import Any, Dict

import numpy as np

from nnpy.benchmarks import measure, workloads
from nnpy.benchmarks.systems import Skip, need, result


def run(system: str, workload: str, params: Dict[str, Any],
        ctx: Dict[str, Any]) -> Dict[str, Any]:
    ref = need("nnpy.reference", "nnpy")
    reps, case = ctx["repeats"], ctx["case"]

    def train(weights: list[np.ndarray], biases: list[np.ndarray], X: np.ndarray,
              Y: np.ndarray, epochs: int, lr: float,
              batch: int) -> tuple[float, list[float]]:
        t0 = measure.timer()
        history = ref.sgd(weights, biases, X, Y, epochs=epochs, lr=lr, batch_size=batch,
                          output="sigmoid", loss="mse", rng=np.random.default_rng(0))
        return measure.timer() - t0, history

    if workload == "W2":
        d = workloads.load_digits_npz(ctx["data"])

        def once_w2(epochs: int = workloads.W2_EPOCHS) -> tuple[float, measure.Info]:
            # the W2 start weights; sgd's rng(0) draws the W2 epoch orders (workloads.w2_start)
            weights, biases = [d["W0"].copy(), d["W1"].copy()], [d["b0"].copy(), d["b1"].copy()]
            seconds, history = train(weights, biases, d["X_train"], d["Y_train"], epochs,
                                     workloads.W2_LR, workloads.W2_BATCH)
            accuracy = float((ref.predict(weights, biases, d["X_test"]).argmax(1)
                              == d["y_test"]).mean())
            return seconds, {"accuracy": accuracy, "final_epoch_loss": float(history[-1])}
        times, info = measure.repeat(once_w2, reps, warmup=lambda: once_w2(1))
        return {case: result(times, workloads.W2_EPOCHS, **info)}

    if workload == "W3":
        dtype = np.dtype(params["dtype"])
        X, Y = workloads.w3_data(dtype)

        def once_w3(rows: int = len(X)) -> tuple[float, measure.Info]:
            weights, biases = ref.init_params(workloads.W3_SIZES, init="xavier",
                                              rng=np.random.default_rng(0), dtype=dtype)
            seconds, history = train(weights, biases, X[:rows], Y[:rows], 1, workloads.W3_LR,
                                     workloads.W3_BATCH)
            return seconds, {"final_epoch_loss": float(history[-1])}
        times, info = measure.repeat(once_w3, reps, warmup=lambda: once_w3(1024))
        return {case: result(times, len(X), **info)}
    raise Skip("n/a")
