"""`torch`: PyTorch on the CPU, the idiomatic loop: nn.Sequential of Linear + Sigmoid,
nn.MSELoss, optim.SGD, zero_grad / backward / step per batch. Runs in its own worker process
(its thread pool and numpy's OpenBLAS slow each other in one process), with
torch.set_num_threads(threads).

The loss is MSELoss(reduction="sum") * 0.5 / batch: the same loss and gradient as nnpy's
"mse" (0.5 * squared error, mean over the batch), so that lr 3.0 means the same step.
float64 for W1, W2 and W4 (as nnpy and numpy), both dtypes for W3. W2 starts from the same
weights and visits the samples in the same orders as numpy-vectorised."""
import random

import numpy as np

from nnpy.benchmarks import measure, workloads
from nnpy.benchmarks.systems import need, result


def setup(threads):
    torch = need("torch")
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set in this process
    return torch


def model(torch, sizes, dtype):
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out, dtype=dtype), torch.nn.Sigmoid()]
    return torch.nn.Sequential(*layers)


def half_sse(torch):
    mse = torch.nn.MSELoss(reduction="sum")
    return lambda out, target: 0.5 * mse(out, target) / out.shape[0]


def run(system, workload, params, ctx):
    torch = setup(ctx["threads"])
    reps, case = ctx["repeats"], ctx["case"]
    f64 = torch.float64

    if workload == "W1":
        X, y = workloads.xor_data()
        X = torch.tensor(X, dtype=f64)
        y = torch.tensor(y, dtype=f64)
        samples = [(X[i:i + 1], y[i:i + 1]) for i in range(4)]

        def once(steps=params["steps"]):
            torch.manual_seed(0)
            random.seed(0)
            net = model(torch, workloads.W1_SIZES, f64)
            with torch.no_grad():
                for p in net.parameters():
                    p.uniform_(0, 1)  # init="uniform01", as the post
            opt = torch.optim.SGD(net.parameters(), lr=workloads.W1_LR)
            loss_fn = half_sse(torch)
            randrange = random.randrange
            t0 = measure.timer()
            for _ in range(steps):
                xb, yb = samples[randrange(0, 4)]
                opt.zero_grad()
                loss = loss_fn(net(xb), yb)
                loss.backward()
                opt.step()
            seconds = measure.timer() - t0
            with torch.no_grad():
                final = float(loss_fn(net(X), y))
            return seconds, {"final_loss": final}
        times, info = measure.repeat(once, reps, warmup=lambda: once(1000))
        return {case: result(times, params["steps"], **info)}

    if workload == "W2":
        d = workloads.load_digits_npz(ctx["data"])
        Xtr = torch.tensor(d["X_train"], dtype=f64)
        Ytr = torch.tensor(d["Y_train"], dtype=f64)
        Xte = torch.tensor(d["X_test"], dtype=f64)
        orders = torch.tensor(d["orders"])
        batch = workloads.W2_BATCH

        def once(epochs=workloads.W2_EPOCHS):
            net = model(torch, workloads.W2_SIZES, f64)
            with torch.no_grad():  # numpy-vectorised's start weights
                for layer, w, b in ((net[0], d["W0"], d["b0"]), (net[2], d["W1"], d["b1"])):
                    layer.weight.copy_(torch.from_numpy(w))
                    layer.bias.copy_(torch.from_numpy(b))
            opt = torch.optim.SGD(net.parameters(), lr=workloads.W2_LR)
            loss_fn = half_sse(torch)
            t0 = measure.timer()
            for epoch in range(epochs):
                order = orders[epoch]
                for start in range(0, len(order), batch):
                    rows = order[start:start + batch]
                    opt.zero_grad()
                    loss = loss_fn(net(Xtr[rows]), Ytr[rows])
                    loss.backward()
                    opt.step()
            seconds = measure.timer() - t0
            with torch.no_grad():
                predicted = net(Xte).argmax(1).numpy()
            return seconds, {"accuracy": float((predicted == d["y_test"]).mean())}
        times, info = measure.repeat(once, reps, warmup=lambda: once(1))
        return {case: result(times, workloads.W2_EPOCHS, **info)}

    if workload == "W3":
        dtype = {"float64": torch.float64, "float32": torch.float32}[params["dtype"]]
        Xn, Yn = workloads.w3_data(np.dtype(params["dtype"]))
        X, Y = torch.from_numpy(Xn), torch.from_numpy(Yn)

        def once(rows=len(X)):
            torch.manual_seed(0)
            net = model(torch, workloads.W3_SIZES, dtype)
            opt = torch.optim.SGD(net.parameters(), lr=workloads.W3_LR)
            loss_fn = half_sse(torch)
            generator = torch.Generator().manual_seed(0)
            t0 = measure.timer()
            order = torch.randperm(rows, generator=generator)
            for start in range(0, rows, workloads.W3_BATCH):
                idx = order[start:start + workloads.W3_BATCH]
                opt.zero_grad()
                loss = loss_fn(net(X[idx]), Y[idx])
                loss.backward()
                opt.step()
            return measure.timer() - t0, {}
        times, info = measure.repeat(once, reps, warmup=lambda: once(1024))
        memory = measure.peak_memory(once) if ctx["memory"] else {}
        return {case: result(times, len(X), **info, **memory)}

    if workload == "W4":
        d = workloads.load_digits_npz(ctx["data"])
        net = model(torch, workloads.W4_SIZES, f64).eval()
        X = torch.tensor(d["X"], dtype=f64)
        x = X[0].clone()
        calls = ctx["calls"]

        def one():
            with torch.inference_mode():
                t0 = measure.timer()
                for _ in range(calls):
                    net(x)
                return measure.timer() - t0, {}

        def batch():
            with torch.inference_mode():
                t0 = measure.timer()
                net(X)
                return measure.timer() - t0, {}
        t_one, _ = measure.repeat(one, reps, warmup=one)
        t_batch, _ = measure.repeat(batch, max(reps, 20), warmup=batch)
        return {"W4-one": result(t_one, calls), "W4-batch": result(t_batch, len(X))}
    raise NotImplementedError(workload)
