"""`torch`: PyTorch on the CPU, the idiomatic loop at its best: nn.Sequential of Linear +
Sigmoid, nn.MSELoss, optim.SGD, zero_grad / backward / step per batch, with nothing per step
that the step does not need: the loss is MSELoss(reduction="sum") and the learning rate carries
the 0.5 / batch (the same step as nnpy's "mse", 0.5 * squared error averaged over the batch,
without two more autograd nodes per step), SGD's update is torch's fused kernel
(OPTIMIZER_OPTIONS), each epoch's rows are gathered once so that a batch is a slice (a view),
and W1's draws are made before the loop. W4 runs under inference_mode, through torch's
functions on the layers' parameters (nn.Module's call costs more than the arithmetic there).

Runs in its own worker process (its thread pool and numpy's OpenBLAS slow each other in one
process), with torch.set_num_threads(threads). float64 for W1, W2 and W4 (as nnpy and numpy),
both dtypes for W3. W2 starts from the same weights and visits the samples in the same orders
as the numpy peer."""
from __future__ import annotations

import random
from typing import Any, Dict, Sequence

import numpy as np

from nnpy.benchmarks import measure, workloads
from nnpy.benchmarks.systems import need, result


def setup(threads: int) -> Any:  # the torch module (Any: torch is optional)
    torch = need("torch")
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set in this process
    return torch


def model(torch: Any, sizes: Sequence[int], dtype: Any) -> Any:  # an nn.Sequential
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out, dtype=dtype), torch.nn.Sigmoid()]
    return torch.nn.Sequential(*layers)


# SGD's update for all parameters in one fused kernel (CPU support since torch 2.4): the
# fastest of SGD's implementations on these small layers, where the default is a Python loop
# over the parameters.
OPTIMIZER_OPTIONS = {"fused": True}


def sgd(torch: Any, net: Any, lr: float, batch: int) -> Any:
    """optim.SGD whose step on MSELoss(reduction="sum") is nnpy's step on its mse loss
    (0.5 * squared error, mean over the batch) at learning rate `lr`."""
    try:
        return torch.optim.SGD(net.parameters(), lr=lr * 0.5 / batch, **OPTIMIZER_OPTIONS)
    except (RuntimeError, TypeError, ValueError):  # an older torch without the fused CPU SGD
        return torch.optim.SGD(net.parameters(), lr=lr * 0.5 / batch)


def mean_half_sse(torch: Any, out: Any, target: Any) -> float:
    """nnpy's mse loss value, for the final-loss figures (not in the timed loops)."""
    return 0.5 * float(torch.nn.functional.mse_loss(out, target, reduction="sum")) / len(out)


def run(system: str, workload: str, params: Dict[str, Any],
        ctx: Dict[str, Any]) -> Dict[str, Any]:
    torch = setup(ctx["threads"])
    reps, case = ctx["repeats"], ctx["case"]
    f64 = torch.float64

    if workload == "W1":
        X, y = workloads.xor_data()
        X = torch.tensor(X, dtype=f64)
        y = torch.tensor(y, dtype=f64)
        samples = [(X[i:i + 1], y[i:i + 1]) for i in range(4)]

        def once_w1(steps: int = params["steps"]) -> tuple[float, measure.Info]:
            torch.manual_seed(0)
            random.seed(0)
            net = model(torch, workloads.W1_SIZES, f64)
            with torch.no_grad():
                for p in net.parameters():
                    p.uniform_(0, 1)  # init="uniform01", as the post
            opt = sgd(torch, net, workloads.W1_LR, 1)
            loss_fn = torch.nn.MSELoss(reduction="sum")
            draws = [samples[random.randrange(0, 4)] for _ in range(steps)]
            t0 = measure.timer()
            for xb, yb in draws:
                opt.zero_grad()
                loss_fn(net(xb), yb).backward()
                opt.step()
            seconds = measure.timer() - t0
            with torch.no_grad():
                final = mean_half_sse(torch, net(X), y)
            return seconds, {"final_loss": final}
        times, info = measure.repeat(once_w1, reps, warmup=measure.warm_for(lambda: once_w1(1000)))
        return {case: result(times, params["steps"], **info)}

    if workload == "W2":
        d = workloads.load_digits_npz(ctx["data"])
        Xtr = torch.tensor(d["X_train"], dtype=f64)
        Ytr = torch.tensor(d["Y_train"], dtype=f64)
        Xte = torch.tensor(d["X_test"], dtype=f64)
        orders = torch.tensor(d["orders"])
        batch = workloads.W2_BATCH

        def once_w2(epochs: int = workloads.W2_EPOCHS) -> tuple[float, measure.Info]:
            net = model(torch, workloads.W2_SIZES, f64)
            with torch.no_grad():  # the W2 start weights
                for layer, w, b in ((net[0], d["W0"], d["b0"]), (net[2], d["W1"], d["b1"])):
                    layer.weight.copy_(torch.from_numpy(w))
                    layer.bias.copy_(torch.from_numpy(b))
            opt = sgd(torch, net, workloads.W2_LR, batch)  # 1500 rows: every batch is full
            loss_fn = torch.nn.MSELoss(reduction="sum")
            t0 = measure.timer()
            for epoch in range(epochs):
                Xe, Ye = Xtr[orders[epoch]], Ytr[orders[epoch]]
                for start in range(0, len(Xe), batch):
                    opt.zero_grad()
                    loss_fn(net(Xe[start:start + batch]), Ye[start:start + batch]).backward()
                    opt.step()
            seconds = measure.timer() - t0
            with torch.no_grad():
                predicted = net(Xte).argmax(1).numpy()
            return seconds, {"accuracy": float((predicted == d["y_test"]).mean())}
        times, info = measure.repeat(once_w2, reps, warmup=lambda: once_w2(1))
        return {case: result(times, workloads.W2_EPOCHS, **info)}

    if workload == "W3":
        dtype = {"float64": torch.float64, "float32": torch.float32}[params["dtype"]]
        Xn, Yn = workloads.w3_data(np.dtype(params["dtype"]))
        X, Y = torch.from_numpy(Xn), torch.from_numpy(Yn)

        def once_w3(rows: int = len(X)) -> tuple[float, measure.Info]:
            torch.manual_seed(0)
            net = model(torch, workloads.W3_SIZES, dtype)
            batch = workloads.W3_BATCH
            opt = sgd(torch, net, workloads.W3_LR, batch)  # 8192 and 1024 rows: full batches
            loss_fn = torch.nn.MSELoss(reduction="sum")
            generator = torch.Generator().manual_seed(0)
            t0 = measure.timer()
            order = torch.randperm(rows, generator=generator)
            Xe, Ye = X[order], Y[order]
            for start in range(0, rows, batch):
                opt.zero_grad()
                loss_fn(net(Xe[start:start + batch]), Ye[start:start + batch]).backward()
                opt.step()
            return measure.timer() - t0, {}
        times, info = measure.repeat(once_w3, reps, warmup=lambda: once_w3(1024))
        memory = measure.peak_memory(once_w3) if ctx["memory"] else {}
        return {case: result(times, len(X), **info, **memory)}

    if workload == "W4":
        d = workloads.load_digits_npz(ctx["data"])
        net = model(torch, workloads.W4_SIZES, f64).eval()
        X = torch.tensor(d["X"], dtype=f64)
        x = X[0].clone()
        calls = ctx["calls"]
        # The forward pass at its best: the layers' own parameters through torch.addmv/addmm
        # and torch.sigmoid, which skips nn.Module's call machinery (2-3x faster for one
        # sample here); net(x), the plain module call, is timed too (sequential_ns_per_call).
        W0, b0 = net[0].weight.detach(), net[0].bias.detach()
        W1, b1 = net[2].weight.detach(), net[2].bias.detach()
        addmv, addmm, sigmoid = torch.addmv, torch.addmm, torch.sigmoid
        with torch.inference_mode():
            if not torch.allclose(sigmoid(addmv(b1, W1, sigmoid(addmv(b0, W0, x)))), net(x)):
                raise RuntimeError("torch W4: the functional forward pass differs from net(x)")

        def predict_one(v: Any) -> Any:  # torch tensors
            return sigmoid(addmv(b1, W1, sigmoid(addmv(b0, W0, v))))

        def predict_rows(V: Any) -> Any:
            return sigmoid(addmm(b1, sigmoid(addmm(b0, V, W0.T)), W1.T))

        with torch.inference_mode():
            module_call = measure.calls(net, x, calls)
            t_module, _ = measure.repeat(module_call, reps, warmup=module_call)
            sequential = sorted(t_module)[len(t_module) // 2] / calls * 1e9
            out = measure.predict_timings(predict_one, x, predict_rows, X, calls, reps)
        out["W4-one"]["sequential_ns_per_call"] = sequential
        return out
    raise NotImplementedError(workload)
