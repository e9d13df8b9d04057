"""`sklearn`: scikit-learn's MLPClassifier with logistic hidden units and plain SGD (no
momentum, no L2, no early stop, shuffled each epoch). Its loss is softmax cross-entropy, not
MSE, and it starts from its own Glorot-uniform weights: the same network and batch size, not
the same arithmetic; its learning rate is workloads.SKLEARN_LR (3.0 is too large for that
loss). W4 times predict_proba of a classifier trained one epoch."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from nnpy.benchmarks import measure, workloads
from nnpy.benchmarks.systems import Skip, need, result


def classifier(epochs: int, lr: float = workloads.SKLEARN_LR) -> Any:  # an MLPClassifier
    MLPClassifier = need("sklearn.neural_network", "scikit-learn").MLPClassifier
    return MLPClassifier(hidden_layer_sizes=(workloads.W2_SIZES[1],), activation="logistic",
                         solver="sgd", learning_rate_init=lr, batch_size=workloads.W2_BATCH,
                         max_iter=epochs, momentum=0, alpha=0, shuffle=True, random_state=0,
                         n_iter_no_change=epochs + 1, tol=0)  # run every epoch


def run(system: str, workload: str, params: dict[str, Any],
        ctx: dict[str, Any]) -> dict[str, Any]:
    reps, case = ctx["repeats"], ctx["case"]
    warnings.filterwarnings("ignore")  # ConvergenceWarning after max_iter, by design
    d = workloads.load_digits_npz(ctx["data"])
    y_train = d["y"][:workloads.W2_N_TRAIN]

    if workload == "W2":
        def once(epochs: int = workloads.W2_EPOCHS) -> tuple[float, measure.Info]:
            clf = classifier(epochs)
            t0 = measure.timer()
            clf.fit(d["X_train"], y_train)
            seconds = measure.timer() - t0
            return seconds, {"accuracy": float(clf.score(d["X_test"], d["y_test"])),
                             "epochs_run": int(clf.n_iter_), "loss": "cross-entropy",
                             "learning_rate_init": workloads.SKLEARN_LR}
        times, info = measure.repeat(once, reps, warmup=lambda: once(1))
        return {case: result(times, workloads.W2_EPOCHS, **info)}

    if workload == "W4":
        clf = classifier(1).fit(d["X_train"], y_train)
        X = np.ascontiguousarray(d["X"])
        x1 = X[:1].copy()
        calls = max(1000, ctx["calls"] // 10)  # ~50 us a call: fewer calls, same precision
        proba = clf.predict_proba
        return measure.predict_timings(proba, x1, proba, X, calls, reps, note="predict_proba")
    raise Skip("n/a")
