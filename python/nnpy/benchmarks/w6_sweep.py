"""W6-sweep: a 16-point hyper-parameter sweep trained as one NetworkStack against 16 lone
Network.fit calls, 16 scikit-learn MLPClassifier fits and PyTorch (16 loops, and the 16 models
stacked into batched tensors; the faster counts).

The sweep: digits (X/16, stratified 75/25 split), 64-32-10, ReLU hidden layer, softmax output
with cross-entropy, Adam, batch 32, 30 epochs, 16 settings: lr in {1e-3, 3e-3, 1e-2, 3e-2}
times alpha (scikit-learn's L2 penalty) in {1e-5, 1e-4, 1e-3, 1e-2}, one random_state (seed 0)
for all, so the stack's members share their shuffle order. Every system runs on one thread.
The figures: the whole sweep's seconds (median of the repeats) and each setting's held-out
accuracy.

Targets (issue 21): the stack at most 0.4x the 16 lone fits' time, and at least 15x faster than
scikit-learn's 16 fits.

    python -m nnpy.benchmarks.w6_sweep [--quick] [--repeats N]

run(quick, repeats) -> dict and markdown(result) -> str are what the benchmark suite calls.
"""
import itertools
import statistics
import sys
import time
import warnings
from typing import Any, Callable, Dict, List

from nnpy.benchmarks import plugins

LRS = (1e-3, 3e-3, 1e-2, 3e-2)
ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2)
SIZES = (64, 32, 10)
BATCH = 32
EPOCHS = 30
STACK_RATIO = 0.4      # the stack's time at most this fraction of the 16 lone fits'
SKLEARN_SPEEDUP = 15.0  # the stack at least this many times faster than scikit-learn


def settings() -> List[Dict[str, float]]:
    """The 16 points, lr outer, alpha inner."""
    return [{"lr": lr, "alpha": alpha} for lr, alpha in itertools.product(LRS, ALPHAS)]


def _data() -> tuple:
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25,
                                                        stratify=y, random_state=0)
    Y_train = np.eye(10)[y_train]
    return X_train, X_test, Y_train, y_train, y_test


def _nnpy_stack(data: tuple) -> List[float]:
    import numpy as np
    from nnpy import NetworkStack
    X_train, X_test, Y_train, _, y_test = data
    points = settings()
    stack = NetworkStack(list(SIZES), len(points), activation="relu", output="softmax",
                         loss="cross_entropy", seeds=[0] * len(points))
    stack.fit(X_train, Y_train, epochs=EPOCHS, batch_size=BATCH, optimizer="adam",
              lr=[p["lr"] for p in points], alpha=[p["alpha"] for p in points], n_threads=1)
    return [float(np.mean(out.argmax(axis=1) == y_test)) for out in stack.predict(X_test)]


def _nnpy_lone(data: tuple) -> List[float]:
    import numpy as np
    from nnpy import Network
    X_train, X_test, Y_train, _, y_test = data
    scores = []
    for p in settings():
        net = Network(list(SIZES), activation="relu", output="softmax", loss="cross_entropy",
                      seed=0)
        net.fit(X_train, Y_train, epochs=EPOCHS, batch_size=BATCH, optimizer="adam",
                lr=p["lr"], alpha=p["alpha"], n_threads=1)
        scores.append(float(np.mean(net.predict(X_test).argmax(axis=1) == y_test)))
    return scores


def _sklearn(data: tuple) -> List[float]:
    from sklearn.neural_network import MLPClassifier
    X_train, X_test, _, y_train, y_test = data
    scores = []
    for p in settings():
        model = MLPClassifier(hidden_layer_sizes=(SIZES[1],), activation="relu", solver="adam",
                              batch_size=BATCH, learning_rate_init=p["lr"], alpha=p["alpha"],
                              max_iter=EPOCHS, tol=0.0, n_iter_no_change=EPOCHS + 1,
                              random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter is expected
            model.fit(X_train, y_train)
        scores.append(float(model.score(X_test, y_test)))
    return scores


def _torch_loops(data: tuple) -> List[float]:
    """16 models one after another: nn.Sequential, CrossEntropyLoss plus scikit-learn's
    alpha penalty on the weights, optim.Adam (foreach)."""
    import torch
    X_train, X_test, _, y_train, y_test = data
    X = torch.tensor(X_train, dtype=torch.float64)
    y = torch.tensor(y_train)
    Xt = torch.tensor(X_test, dtype=torch.float64)
    n = len(X)
    scores = []
    for p in settings():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(),
                                    torch.nn.Linear(SIZES[1], SIZES[2])).double()
        weights = [model[0].weight, model[2].weight]
        opt = torch.optim.Adam(model.parameters(), lr=p["lr"], foreach=True)
        loss_fn = torch.nn.CrossEntropyLoss()
        generator = torch.Generator().manual_seed(0)
        for _ in range(EPOCHS):
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, BATCH):
                rows = order[start:start + BATCH]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(X[rows]), y[rows])
                loss = loss + 0.5 * p["alpha"] * sum((w * w).sum() for w in weights) / len(rows)
                loss.backward()
                opt.step()
        with torch.no_grad():
            scores.append(float((model(Xt).argmax(1) == torch.tensor(y_test)).double().mean()))
    return scores


def _torch_batched(data: tuple) -> List[float]:
    """The 16 models as stacked tensors (what torch.func.vmap over functional_call amounts to
    for this network): batched matrix products, one autograd pass for all, Adam by hand on
    the stacked parameters with each model's lr; one shuffle order for all."""
    import torch
    X_train, X_test, _, y_train, y_test = data
    points = settings()
    k = len(points)
    X = torch.tensor(X_train, dtype=torch.float64)
    y = torch.tensor(y_train)
    Xt = torch.tensor(X_test, dtype=torch.float64)
    n = len(X)
    torch.manual_seed(0)
    bound1, bound2 = SIZES[0] ** -0.5, SIZES[1] ** -0.5
    params = [torch.empty(k, SIZES[1], SIZES[0], dtype=torch.float64).uniform_(-bound1, bound1),
              torch.empty(k, 1, SIZES[1], dtype=torch.float64).uniform_(-bound1, bound1),
              torch.empty(k, SIZES[2], SIZES[1], dtype=torch.float64).uniform_(-bound2, bound2),
              torch.empty(k, 1, SIZES[2], dtype=torch.float64).uniform_(-bound2, bound2)]
    for t in params:
        t.requires_grad_(True)
    lr = torch.tensor([p["lr"] for p in points], dtype=torch.float64).view(k, 1, 1)
    alpha = torch.tensor([p["alpha"] for p in points], dtype=torch.float64)
    m = [torch.zeros_like(t) for t in params]
    v = [torch.zeros_like(t) for t in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    generator = torch.Generator().manual_seed(0)

    def forward(x: Any) -> Any:
        h = torch.relu(torch.baddbmm(params[1], x.expand(k, -1, -1), params[0].transpose(1, 2)))
        return torch.baddbmm(params[3], h, params[2].transpose(1, 2))

    step = 0
    for _ in range(EPOCHS):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, BATCH):
            rows = order[start:start + BATCH]
            logits = forward(X[rows])
            losses = torch.nn.functional.cross_entropy(
                logits.reshape(-1, SIZES[2]), y[rows].repeat(k), reduction="none"
            ).view(k, -1).mean(1)
            penalty = 0.5 * alpha * ((params[0] ** 2).sum((1, 2)) + (params[2] ** 2).sum((1, 2)))
            grads = torch.autograd.grad((losses + penalty / len(rows)).sum(), params)
            step += 1
            with torch.no_grad():
                for t, g, mt, vt in zip(params, grads, m, v):
                    mt.mul_(beta1).add_(g, alpha=1 - beta1)
                    vt.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                    denom = (vt / (1 - beta2 ** step)).sqrt_().add_(eps)
                    t.sub_(lr * (mt / (1 - beta1 ** step)) / denom)
    with torch.no_grad():
        predicted = forward(Xt).argmax(2)
        return [float(s) for s in (predicted == torch.tensor(y_test)).double().mean(1)]


def _time(fn: Callable[[tuple], List[float]], data: tuple, repeats: int) -> Dict[str, Any]:
    times, scores = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        scores = fn(data)
        times.append(time.perf_counter() - started)
    return {"seconds": statistics.median(times), "times": times, "accuracy": scores}


def run(quick: bool = False, repeats: int = 3) -> Dict[str, Any]:
    """The sweep by every system installed, `repeats` times each (one thread)."""
    import importlib.util
    data = _data()
    systems: Dict[str, Callable[[tuple], List[float]]] = {
        "nnpy-stack": _nnpy_stack, "nnpy": _nnpy_lone, "sklearn": _sklearn}
    if importlib.util.find_spec("torch") is not None:
        import torch
        torch.set_num_threads(1)
        systems["torch-loops"] = _torch_loops
        systems["torch-batched"] = _torch_batched
    if quick:
        repeats = min(repeats, 3)
    out: Dict[str, Any] = {}
    for name, fn in systems.items():
        fn(data) if name.startswith("nnpy") else None   # warm-up: imports, first calls
    for name, fn in systems.items():
        out[name] = _time(fn, data, repeats)
    if "torch-loops" in out:
        best = min(("torch-loops", "torch-batched"), key=lambda s: out[s]["seconds"])
        out["torch"] = dict(out[best], method=best)
    from . import machine
    return {"workload": "W6-sweep", "quick": bool(quick), "repeats": int(repeats),
            "threads": 1, "settings": settings(), "systems": out,
            "machine": machine.describe(), "versions": machine.versions()}


def targets(result: Dict[str, Any]) -> List[Dict[str, Any]]:
    s = result["systems"]
    stack = s["nnpy-stack"]["seconds"]
    ratio = stack / s["nnpy"]["seconds"]
    speedup = s["sklearn"]["seconds"] / stack
    return [{"target": f"the stack at most {STACK_RATIO:g}x the 16 lone Network.fit",
             "met": ratio <= STACK_RATIO, "measured": f"{ratio:.3f}x"},
            {"target": f"the stack at least {SKLEARN_SPEEDUP:g}x faster than scikit-learn",
             "met": speedup >= SKLEARN_SPEEDUP, "measured": f"{speedup:.1f}x faster"}]


def markdown(result: Dict[str, Any]) -> str:
    s = result["systems"]
    stack = s["nnpy-stack"]["seconds"]
    names = [n for n in ("nnpy-stack", "nnpy", "sklearn", "torch-loops", "torch-batched")
             if n in s]
    labels = {"nnpy-stack": "NetworkStack.fit (16 members)", "nnpy": "16 lone Network.fit",
              "sklearn": "16 MLPClassifier fits", "torch-loops": "PyTorch, 16 loops",
              "torch-batched": "PyTorch, stacked tensors"}
    lines = ["## W6-sweep: 16 settings (lr x alpha) of a digits MLP in one NetworkStack", "",
             f"64-32-10 ReLU/softmax, Adam, batch {BATCH}, {EPOCHS} epochs, lr in "
             f"{list(LRS)} x alpha in {list(ALPHAS)}, seed 0 for all; one thread; whole-sweep "
             f"seconds, median of {result['repeats']} repeat(s); accuracy on the held-out 25%.",
             "", "| system | sweep s | vs the stack | mean accuracy |", "|---|---|---|---|"]
    for name in names:
        acc = s[name]["accuracy"]
        lines.append(f"| {labels[name]} | {s[name]['seconds']:.3f} | "
                     f"{s[name]['seconds'] / stack:.2f}x | {sum(acc) / len(acc):.4f} |")
    if "torch" not in s:
        lines.append("")
        lines.append("PyTorch not installed (`pip install torch`): its rows are left out.")
    lines += ["", "Held-out accuracy per setting:", "",
              "| lr | alpha | " + " | ".join(labels[n] for n in names) + " |",
              "|---|---|" + "---|" * len(names)]
    for i, point in enumerate(result["settings"]):
        lines.append(f"| {point['lr']:g} | {point['alpha']:g} | " + " | ".join(
            f"{s[n]['accuracy'][i]:.4f}" for n in names) + " |")
    lines += plugins.targets_markdown(targets(result))
    return "\n".join(lines) + "\n"


def main(argv: Any = None) -> int:
    return plugins.standalone(argv, "w6_sweep", __doc__ or "", run, markdown, repeats=3,
                              quick_help="fewer repeats")


if __name__ == "__main__":
    sys.exit(main())
