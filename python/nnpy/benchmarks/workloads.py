"""The fixed workloads W1-W4 and W6 (see docs/workloads.md): their settings, the cases a run
measures, and the data files every system reads, so that all systems train on the same bytes.

A *case* is one row of the results table: a workload at one size, dtype or thread count
(W1 at 10,000 and 100,000 steps, W2 at batch 10 and at batch 1, W3 per dtype and thread
count, W4 one sample and batch, W6-xor: W1's network 16 times in one NetworkStack.fit).
W3-load and W5 are plug-ins with their own modules (plugins.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy itself is imported inside the functions: after the thread limits
    import numpy
    from numpy.typing import DTypeLike

# W1: the post's XOR loop
W1_SIZES = [2, 2, 1]
W1_LR = 0.125
W1_STEPS = 10_000
W1_STEPS_LONG = 100_000

# W2: digits, mini-batch SGD
W2_SIZES = [64, 32, 10]
W2_N_TRAIN = 1500          # first 1500 rows train, the last 297 test (the data set's order)
W2_EPOCHS = 30
W2_LR = 3.0
W2_BATCH = 10
W2_SEED = 0
SKLEARN_LR = 0.5           # MLPClassifier's loss is softmax cross-entropy: 3.0 diverges

# W3: wide batch, compute-bound
W3_SIZES = [784, 256, 10]
W3_ROWS = 8192
W3_BATCH = 128
W3_LR = 0.1
W3_SEED = 0

# W4: inference on the W2 network
W4_SIZES = W2_SIZES

# W6-xor: W1's network and settings, W6_NETWORKS copies (seeds 0 .. W6_NETWORKS - 1) trained
# in one NetworkStack.fit; timed per network-step
W6_NETWORKS = 16
W6_STEPS = 100_000         # per network, in every run (--quick too: the 16 take well under 1 s)


def w3_flops_per_epoch(rows: int = W3_ROWS, batch: int = W3_BATCH) -> int:
    """Floating-point operations counted for one W3 epoch: 6 * batch * (784*256 + 256*10) per
    batch, i.e. 2 for the forward product, 2 for the weight gradient, 2 for the delta passed
    down (the update and the elementwise work are not counted: the usual convention)."""
    weights = sum(a * b for a, b in zip(W3_SIZES[:-1], W3_SIZES[1:]))
    n_batches, last = divmod(rows, batch)
    return 6 * weights * (n_batches * batch + last)


@dataclass
class Case:
    """One measured row: `workload` names the worker's job, `params` what the worker needs."""
    id: str
    workload: str
    title: str
    metric: str                  # what the table shows: ns/step, ms/epoch, samples/s, ns/call
    params: dict = field(default_factory=dict)
    systems: tuple = ()


PYTHON_SYSTEMS = ("nnpy-post", "nnpy", "nnpy-stack", "reference", "numpy", "torch", "sklearn")
C_SYSTEMS = ("fann", "c-limit", "c-limit-dyn", "c-limit-O2", "c-lockstep")
ALL_SYSTEMS = PYTHON_SYSTEMS + C_SYSTEMS
PLUGIN_WORKLOADS = ("W3-load", "W5", "W6-cv", "W6-sweep")  # bring their own module (plugins.py)


def cases(quick: bool) -> list[Case]:
    """All cases of a run, in order. W4's two cases come from one worker call (workload W4)."""
    c_sys = ("c-limit", "c-limit-dyn", "c-limit-O2")
    w1_sys = ("nnpy-post", "nnpy", "reference", "numpy", "torch", "fann") + c_sys
    # In --quick the 100,000-step loop runs only where it is cheap (the slow loops take ~10 s)
    w1_long = ("nnpy", "fann") + c_sys if quick else w1_sys
    out = [
        Case("W1", "W1", "W1 xor-seed, 10,000 steps", "ns/step", {"steps": W1_STEPS}, w1_sys),
        Case("W1-100k", "W1", "W1 xor-seed, 100,000 steps", "ns/step",
             {"steps": W1_STEPS_LONG}, w1_long),
        Case("W2", "W2", "W2 digits-sgd, 30 epochs", "ms/epoch", {},
             ("nnpy", "reference", "numpy", "torch", "sklearn", "c-limit", "c-limit-O2")),
        # FANN has no mini-batch SGD: its incremental training (fann_train per sample) is
        # compared with nnpy and C at batch 1, with the same step per sample (3.0 / 10)
        Case("W2-b1", "W2", "W2 digits, per-sample SGD (batch 1, lr 0.3), 30 epochs",
             "ms/epoch", {"batch": 1, "lr": W2_LR / W2_BATCH}, ("nnpy", "fann", "c-limit")),
    ]
    # 2 threads: float64 in every run (a target), float32 too in full runs
    for threads, dtypes in ((1, ("float64", "float32")),
                            (2, ("float64",) if quick else ("float64", "float32"))):
        for dtype in dtypes:
            out.append(Case(f"W3-{dtype[-2:]}-{threads}t", "W3",
                            f"W3 wide-batch {dtype}, {threads} thread{'s' * (threads > 1)}",
                            "samples/s", {"dtype": dtype, "threads": threads},
                            ("nnpy", "numpy", "torch") if threads > 1
                            else ("nnpy", "reference", "numpy", "torch")))
    w4_sys = ("nnpy", "numpy", "torch", "sklearn", "fann", "c-limit", "c-limit-O2")
    out.append(Case("W4-one", "W4", "W4 predict one sample", "ns/call", {}, w4_sys))
    out.append(Case("W4-batch", "W4", "W4 predict 1797 samples", "samples/s", {}, w4_sys))
    # nnpy-stack's work is W6_NETWORKS * steps network-steps; nnpy's and C's (one network)
    # is steps: the unit is one network's step either way
    out.append(Case("W6-xor", "W6", f"W6 xor-stack: {W6_NETWORKS} W1 networks, "
                    f"{W6_STEPS:,} steps each", "ns/network-step",
                    {"steps": W6_STEPS, "networks": W6_NETWORKS},
                    ("nnpy-stack", "nnpy", "c-limit", "c-lockstep", "fann")))
    return out


# ---------------------------------------------------------------------------------------------
# Data: written once per run by run.py into a temporary folder, read by the workers
# ---------------------------------------------------------------------------------------------

def xor_data() -> tuple[numpy.ndarray, numpy.ndarray]:
    """The post's XOR data: X (4, 2) integers as in the post, y a (4, 1) column."""
    import numpy as np
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    y = np.atleast_2d([0, 1, 1, 0]).T
    return X, y


def w2_start(np: ModuleType) -> tuple[list[numpy.ndarray], list[numpy.ndarray], numpy.ndarray]:
    """W2's start weights and epoch orders, as nnpy.reference draws them with seed 0:
    init_params(sizes, "normal", default_rng(0)) and sgd(..., rng=default_rng(0)), which takes
    one permutation per epoch. Written out here so that bench needs no nnpy to make them and
    the numpy peer, torch, the C yardstick and FANN start from the same weights and visit
    the rows in the same orders."""
    rng = np.random.default_rng(W2_SEED)
    weights, biases = [], []
    for n_in, n_out in zip(W2_SIZES[:-1], W2_SIZES[1:]):
        weights.append(rng.standard_normal((n_out, n_in)))
        biases.append(rng.standard_normal(n_out))
    rng = np.random.default_rng(W2_SEED)
    orders = np.array([rng.permutation(W2_N_TRAIN) for _ in range(W2_EPOCHS)])
    return weights, biases, orders


def write_digits(folder: str) -> str:
    """Writes digits.npz (for the Python systems) and digits.bin (for the C yardstick) into
    `folder`; returns the npz path. Needs scikit-learn (load_digits ships the data)."""
    import numpy as np
    from sklearn.datasets import load_digits
    digits = load_digits()
    X = digits.data / 16.0
    y = digits.target.astype(np.int64)
    Y = np.eye(10)[y]
    weights, biases, orders = w2_start(np)
    n = W2_N_TRAIN
    path = os.path.join(folder, "digits.npz")
    np.savez(path, X=X, y=y, Y=Y, X_train=X[:n], Y_train=Y[:n], X_test=X[n:], y_test=y[n:],
             W0=weights[0], b0=biases[0], W1=weights[1], b1=biases[1], orders=orders)
    with open(os.path.join(folder, "digits.bin"), "wb") as f:
        for part in (X[:n], Y[:n], X[n:], y[n:].astype(np.float64), X, weights[0], biases[0],
                     weights[1], biases[1], orders.astype(np.float64)):
            f.write(np.ascontiguousarray(part, dtype=np.float64).tobytes())
    return path


def load_digits_npz(folder: str) -> dict[str, numpy.ndarray]:
    import numpy as np
    with np.load(os.path.join(folder, "digits.npz")) as f:
        return {k: f[k] for k in f.files}


def w3_data(dtype: DTypeLike) -> tuple[numpy.ndarray, numpy.ndarray]:
    """8192 x 784 standard normal inputs and one-hot targets of 10 random classes (seed 0)."""
    import numpy as np
    rng = np.random.default_rng(W3_SEED)
    X = rng.standard_normal((W3_ROWS, W3_SIZES[0]))
    classes = rng.integers(0, W3_SIZES[-1], W3_ROWS)
    Y = np.eye(W3_SIZES[-1])[classes]
    return np.ascontiguousarray(X, dtype=dtype), np.ascontiguousarray(Y, dtype=dtype)
