"""`numpy-vectorised`: mini-batch SGD with whole-batch matrix products in numpy (the way
Nielsen's book does it with matrices): nnpy.reference.sgd / init_params / predict."""
import numpy as np

from nnpy import reference as ref
from nnpy.benchmarks import measure, workloads
from nnpy.benchmarks.systems import result

IMPLEMENTATION = "nnpy.reference.sgd"


def run(system, workload, params, ctx):
    impl = IMPLEMENTATION
    reps, case = ctx["repeats"], ctx["case"]

    def train(sizes, init, X, Y, epochs, lr, batch, dtype=np.float64, start=None):
        if start is None:
            weights, biases = ref.init_params(sizes, init=init, rng=np.random.default_rng(0),
                                              dtype=dtype)
        else:
            weights, biases = [w.copy() for w in start[0]], [b.copy() for b in start[1]]
        t0 = measure.timer()
        history = ref.sgd(weights, biases, X, Y, epochs=epochs, lr=lr, batch_size=batch,
                          output="sigmoid", loss="mse", rng=np.random.default_rng(0))
        seconds = measure.timer() - t0
        return seconds, weights, biases, history

    if workload == "W1":
        X, y = workloads.xor_data()
        X, y = X.astype(np.float64), y.astype(np.float64)
        steps = params["steps"]

        def once(n=steps):
            seconds, _, _, history = train(workloads.W1_SIZES, "uniform01", X, y, n // 4,
                                           workloads.W1_LR, 1)
            return seconds, {"final_epoch_loss": float(history[-1])}
        times, info = measure.repeat(once, reps, warmup=lambda: once(1000))
        return {case: result(times, steps, impl=impl, **info)}

    if workload == "W2":
        d = workloads.load_digits_npz(ctx["data"])

        def once(epochs=workloads.W2_EPOCHS):
            seconds, w, b, history = train(workloads.W2_SIZES, "normal", d["X_train"],
                                           d["Y_train"], epochs, workloads.W2_LR,
                                           workloads.W2_BATCH)
            accuracy = float((ref.predict(w, b, d["X_test"], output="sigmoid").argmax(1)
                              == d["y_test"]).mean())
            return seconds, {"accuracy": accuracy, "final_epoch_loss": float(history[-1])}
        times, info = measure.repeat(once, reps, warmup=lambda: once(1))
        return {case: result(times, workloads.W2_EPOCHS, impl=impl, **info)}

    if workload == "W3":
        dtype = np.dtype(params["dtype"])
        X, Y = workloads.w3_data(dtype)

        def once(rows=None):
            Xs, Ys = (X, Y) if rows is None else (X[:rows], Y[:rows])
            seconds, w, _, history = train(workloads.W3_SIZES, "xavier", Xs, Ys, 1,
                                           workloads.W3_LR, workloads.W3_BATCH, dtype=dtype)
            return seconds, {"final_epoch_loss": float(history[-1]),
                             "weights_dtype": str(w[0].dtype)}
        times, info = measure.repeat(once, reps, warmup=lambda: once(1024))
        memory = measure.peak_memory(once) if ctx["memory"] else {}
        return {case: result(times, len(X), impl=impl, **info, **memory)}

    if workload == "W4":
        d = workloads.load_digits_npz(ctx["data"])
        weights, biases = ref.init_params(workloads.W4_SIZES, init="normal",
                                          rng=np.random.default_rng(0))
        X = np.ascontiguousarray(d["X"])
        x1 = X[:1].copy()  # one sample as a (1, 64) row: what numpy code passes
        calls = ctx["calls"]
        predict = ref.predict

        def one():
            t0 = measure.timer()
            for _ in range(calls):
                predict(weights, biases, x1, output="sigmoid")
            return measure.timer() - t0, {}

        def batch():
            t0 = measure.timer()
            predict(weights, biases, X, output="sigmoid")
            return measure.timer() - t0, {}
        t_one, _ = measure.repeat(one, reps, warmup=lambda: [predict(weights, biases, x1)
                                                             for _ in range(1000)])
        t_batch, _ = measure.repeat(batch, max(reps, 20), warmup=batch)
        return {"W4-one": result(t_one, calls, impl=impl),
                "W4-batch": result(t_batch, len(X), impl=impl)}
    raise NotImplementedError(workload)
