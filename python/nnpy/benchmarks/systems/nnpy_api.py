"""`nnpy`: the library's own API (nnpy.Network, its compiled training loop and predict);
`nnpy-stack`: nnpy.NetworkStack, many networks in one fit (W6).

W1 trains with fit(epochs=2500, batch_size=1, shuffle=True): 10,000 per-sample steps, but in
shuffled epochs of the 4 samples, not draws with replacement as the post's loop does.
W6-xor: nnpy-stack fits W6_NETWORKS copies of W1's network (seeds 0 .. 15) in one
NetworkStack.fit with W1's settings, each member its own shuffled order; nnpy fits one of them
(seed 0) with Network.fit, as W1 does.
W3 on 2 threads passes n_threads=2 to fit when fit has that parameter; until then the row runs
nnpy's one thread, and the entry says so (nnpy_threads)."""
from __future__ import annotations

import inspect
from typing import Any, Dict, Optional, Tuple

import numpy as np

from nnpy.benchmarks import measure, workloads
from nnpy.benchmarks.systems import Skip, need, need_attr, result


# `Network` below is whatever nnpy.Network the installed nnpy has (the suite also measures
# older versions), found at run time: Any.

def network_class() -> Any:
    nnpy = need("nnpy")
    return need_attr(nnpy, "Network", "nnpy")


def _last_loss(history: Any) -> Optional[float]:
    loss = getattr(history, "loss", None)
    return float(loss[-1]) if loss else None


def w1(Network: Any, steps: int) -> tuple[float, measure.Info]:
    X, y = workloads.xor_data()
    X = X.astype(np.float64)
    y = y.astype(np.float64)
    net = Network(workloads.W1_SIZES, init="uniform01", seed=0)
    start = measure.timer()
    history = net.fit(X, y, epochs=steps // 4, lr=workloads.W1_LR, batch_size=1, loss="mse",
                      shuffle=True)
    seconds = measure.timer() - start
    return seconds, {"final_epoch_loss": _last_loss(history)}


def w6_stack(NetworkStack: Any, steps: int, networks: int) -> tuple[float, measure.Info]:
    """One NetworkStack.fit of `networks` W1 networks, `steps` per-sample steps each."""
    X, y = workloads.xor_data()
    X = X.astype(np.float64)
    y = y.astype(np.float64)
    stack = NetworkStack(workloads.W1_SIZES, networks, init="uniform01",
                         seeds=list(range(networks)))
    start = measure.timer()
    histories = stack.fit(X, y, epochs=steps // 4, lr=workloads.W1_LR, batch_size=1,
                          loss="mse", shuffle=True)
    seconds = measure.timer() - start
    losses = [_last_loss(h) for h in histories]
    return seconds, {"networks": networks, "final_epoch_losses": losses}


def w2(Network: Any, data: dict[str, np.ndarray], epochs: int = workloads.W2_EPOCHS,
       batch: int = workloads.W2_BATCH, lr: float = workloads.W2_LR) -> tuple[float, measure.Info]:
    net = Network(workloads.W2_SIZES, init="normal", seed=workloads.W2_SEED)
    start = measure.timer()
    history = net.fit(data["X_train"], data["Y_train"], epochs=epochs, lr=lr,
                      batch_size=batch, loss="mse")
    seconds = measure.timer() - start
    accuracy = float((net.predict(data["X_test"]).argmax(1) == data["y_test"]).mean())
    return seconds, {"accuracy": accuracy, "final_epoch_loss": _last_loss(history)}


def fit_threads(Network: Any, threads: int) -> Tuple[Dict[str, int], int]:
    """fit's keyword arguments for `threads` threads, and the number nnpy will use: n_threads
    when fit has it, else nothing (one thread)."""
    if "n_threads" in inspect.signature(Network.fit).parameters:
        return {"n_threads": threads}, threads
    return {}, 1


def w3(Network: Any, X: np.ndarray, Y: np.ndarray, dtype: np.dtype[Any],
       rows: Optional[int] = None, threads: int = 1) -> tuple[float, measure.Info]:
    net = Network(workloads.W3_SIZES, dtype=dtype, seed=workloads.W3_SEED)
    X, Y = (X, Y) if rows is None else (X[:rows], Y[:rows])
    extra, _ = fit_threads(Network, threads)
    start = measure.timer()
    history = net.fit(X, Y, epochs=1, lr=workloads.W3_LR, batch_size=workloads.W3_BATCH,
                      loss="mse", **extra)
    seconds = measure.timer() - start
    return seconds, {"final_epoch_loss": _last_loss(history)}


def w4(Network: Any, data: dict[str, np.ndarray], calls: int,
       repeats: int) -> dict[str, Any]:
    net = Network(workloads.W4_SIZES, init="normal", seed=0)
    X = np.ascontiguousarray(data["X"])
    x = X[0].copy()
    predict = net.predict
    if predict(x).shape != (10,):
        raise RuntimeError(f"predict(x) of shape (64,) gave shape {predict(x).shape}")
    return measure.predict_timings(predict, x, predict, X, calls, repeats)


def run(system: str, workload: str, params: Dict[str, Any],
        ctx: Dict[str, Any]) -> Dict[str, Any]:
    reps = ctx["repeats"]
    case = ctx["case"]
    if system == "nnpy-stack":
        if workload != "W6":
            raise Skip("n/a")
        NetworkStack = need_attr(need("nnpy"), "NetworkStack", "nnpy")
        steps, networks = params["steps"], params["networks"]
        times, info = measure.repeat(lambda: w6_stack(NetworkStack, steps, networks), reps,
                                     warmup=measure.warm_for(
                                         lambda: w6_stack(NetworkStack, 1000, networks)))
        # the unit is one network's step: the stack does `networks` of them per step
        return {case: result(times, steps * networks, **info)}
    Network = network_class()
    if workload in ("W1", "W6"):  # W6: one of the stack's networks, alone
        steps = params["steps"]
        times, info = measure.repeat(lambda: w1(Network, steps), reps,
                                     warmup=measure.warm_for(lambda: w1(Network, 1000)))
        return {case: result(times, steps, **info)}
    if workload == "W2":
        data = workloads.load_digits_npz(ctx["data"])
        batch = params.get("batch", workloads.W2_BATCH)
        lr = params.get("lr", workloads.W2_LR)
        times, info = measure.repeat(lambda: w2(Network, data, batch=batch, lr=lr), reps,
                                     warmup=lambda: w2(Network, data, 1, batch, lr))
        return {case: result(times, workloads.W2_EPOCHS, **info)}
    if workload == "W3":
        dtype = np.dtype(params["dtype"])
        X, Y = workloads.w3_data(dtype)
        threads = ctx["threads"]
        times, info = measure.repeat(lambda: w3(Network, X, Y, dtype, threads=threads), reps,
                                     warmup=lambda: w3(Network, X, Y, dtype, 1024, threads))
        memory = measure.peak_memory(lambda: w3(Network, X, Y, dtype)) if ctx["memory"] else {}
        nnpy_threads = fit_threads(Network, threads)[1]
        return {case: result(times, len(X), nnpy_threads=nnpy_threads, **info, **memory)}
    if workload == "W4":
        return w4(Network, workloads.load_digits_npz(ctx["data"]), ctx["calls"], reps)
    raise Skip("n/a")
