"""W5: scikit-learn's MLPClassifier / MLPRegressor against nnpy's NNClassifier / NNRegressor,
the same parameters on the same data, one thread each.

Cases: digits (X/16, stratified 75/25 split) with scikit-learn's defaults (ReLU + Adam),
tanh + SGD with Nesterov momentum, logistic + Adam, ReLU + SGD with learning_rate="adaptive",
and lbfgs; make_friedman1 (2000 samples, noise 0.5, X standardised on the training part,
75/25 split) with the regressors' defaults. Two more rows set nnpy's own options against the
nearest thing a scikit-learn user has: class_weight="balanced" against fit(sample_weight=
compute_sample_weight("balanced", y)) on imbalanced digits (all of 0, 1 and 2, 15% of each
other digit; balanced accuracy), and dropout=0.2 against alpha=1e-2 (L2) on the digits.
Every repeat fits both systems with the same random_state (0, 1, ... one per repeat),
interleaved; the figures are medians over repeats of the time per iteration (fit time /
n_iter_) and of the test accuracy / balanced accuracy / R^2.

Targets (issue 10), for the rows where both systems fit the same model: accuracy within 0.02
of scikit-learn's (R^2 within 0.03), per-iteration time at least 5x lower (lbfgs: 2x).

    python -m nnpy.benchmarks.w5 [--quick] [--repeats N] [--json PATH]

run(quick, repeats) -> dict (JSON-serialisable) and markdown(result) -> str are what the
benchmark suite (bench/run.py) calls.
"""
import statistics
import sys
import time
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

from nnpy.benchmarks import plugins

# (name, task, parameters given to both systems); everything else is scikit-learn's default
CASES: List[Tuple[str, str, Dict[str, Any]]] = [
    ("digits-relu-adam", "classification", {}),
    ("digits-tanh-sgd-nesterov", "classification",
     {"activation": "tanh", "solver": "sgd", "nesterovs_momentum": True}),
    ("digits-logistic-adam", "classification", {"activation": "logistic"}),
    ("digits-relu-sgd-adaptive", "classification", {"solver": "sgd", "learning_rate": "adaptive"}),
    ("digits-lbfgs", "classification", {"solver": "lbfgs"}),
    ("friedman1-relu-adam", "regression", {}),
]
# nnpy's own options against scikit-learn's nearest: (name, data set, metric, parameters of
# both, nnpy's own parameters, scikit-learn's, whether scikit-learn's fit gets balanced
# sample weights); no targets (issue 10's are for the same model in both)
OWN_OPTION_CASES: List[Tuple[str, str, str, Dict[str, Any], Dict[str, Any], Dict[str, Any],
                             bool]] = [
    ("digits-imbalanced-balanced", "digits-imbalanced", "balanced accuracy", {},
     {"class_weight": "balanced"}, {}, True),
    ("digits-dropout", "classification", "accuracy", {}, {"dropout": 0.2}, {"alpha": 1e-2},
     False),
]
IMBALANCED_FULL_CLASSES = (0, 1, 2)  # digits kept whole; of every other digit, a fraction:
IMBALANCED_FRACTION = 0.15
SCORE_MARGIN = {"classification": 0.02, "regression": 0.03}  # of accuracy / R^2
SPEEDUP = {"lbfgs": 2.0, "sgd": 5.0, "adam": 5.0}            # per-iteration time, by solver
QUICK_MAX_ITER = 50   # --quick: fewer epochs / iterations per fit (the defaults' 200 otherwise)


def _datasets() -> Dict[str, tuple]:
    from sklearn.datasets import load_digits, make_friedman1
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    X, y = load_digits(return_X_y=True)
    digits = train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=0)
    X, y = make_friedman1(n_samples=2000, noise=0.5, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    friedman = (scaler.transform(X_train), scaler.transform(X_test), y_train, y_test)
    return {"classification": tuple(digits), "regression": friedman,
            "digits-imbalanced": _imbalanced_digits()}


def _imbalanced_digits() -> tuple:
    """The digits with IMBALANCED_FRACTION of each digit outside IMBALANCED_FULL_CLASSES (a
    seeded draw), split 75/25 stratified: the test part is as imbalanced as the training."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    keep = [np.flatnonzero(y == c) if c in IMBALANCED_FULL_CLASSES else
            rng.choice(np.flatnonzero(y == c), round(IMBALANCED_FRACTION * np.sum(y == c)),
                       replace=False) for c in np.unique(y)]
    rows = np.sort(np.concatenate(keep))
    return tuple(train_test_split(X[rows] / 16.0, y[rows], test_size=0.25, stratify=y[rows],
                                  random_state=0))


def _estimators(task: str) -> Dict[str, Any]:
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from nnpy.estimators import NNClassifier, NNRegressor
    if task == "classification":
        return {"sklearn": MLPClassifier, "nnpy": NNClassifier}
    return {"sklearn": MLPRegressor, "nnpy": NNRegressor}


def _scorer(metric: str) -> Callable[[Any, Any, Any], float]:
    """score(model, X, y) for a row's metric."""
    if metric == "balanced accuracy":
        from sklearn.metrics import balanced_accuracy_score
        return lambda model, X, y: balanced_accuracy_score(y, model.predict(X))
    return lambda model, X, y: model.score(X, y)


def _fit_once(cls: type, params: dict, data: tuple, metric: str = "accuracy",
              balanced_sample_weight: bool = False) -> Dict[str, float]:  # cls: an estimator
    X_train, X_test, y_train, y_test = data
    model = cls(**params)
    fit_params = {}
    if balanced_sample_weight:  # computed outside the timed fit, as a user would hold it
        from sklearn.utils.class_weight import compute_sample_weight
        fit_params["sample_weight"] = compute_sample_weight("balanced", y_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter is expected here
        started = time.perf_counter()
        model.fit(X_train, y_train, **fit_params)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "n_iter": int(model.n_iter_),
            "score": float(_scorer(metric)(model, X_test, y_test))}


def _all_cases() -> List[Dict[str, Any]]:
    """CASES and OWN_OPTION_CASES in one form."""
    cases = [{"name": name, "task": task, "data": task, "params": params,
              "metric": "accuracy" if task == "classification" else "R^2", "own": {},
              "sklearn_own": {}, "balanced_sample_weight": False, "targets": True}
             for name, task, params in CASES]
    for name, data, metric, params, own, sklearn_own, balanced in OWN_OPTION_CASES:
        cases.append({"name": name, "task": "classification", "data": data, "params": params,
                      "metric": metric, "own": own, "sklearn_own": sklearn_own,
                      "balanced_sample_weight": balanced, "targets": False})
    return cases


def run(quick: bool = False, repeats: int = 3) -> Dict[str, Any]:
    """Runs every case `repeats` times per system (one BLAS thread); returns the rows."""
    from threadpoolctl import threadpool_info, threadpool_limits
    datasets = _datasets()
    rows: List[Dict[str, Any]] = []
    with threadpool_limits(limits=1):
        pools = [{k: p.get(k) for k in ("internal_api", "num_threads", "version")}
                 for p in threadpool_info()]
        for case in _all_cases():
            task, case_params, data = case["task"], case["params"], datasets[case["data"]]
            systems = _estimators(task)
            own = {"nnpy": case["own"], "sklearn": case["sklearn_own"]}
            weighted = {"nnpy": False, "sklearn": case["balanced_sample_weight"]}
            for system, cls in systems.items():  # untimed warm-up: imports, first-call costs
                _fit_once(cls, dict(case_params, **own[system], max_iter=2), data,
                          case["metric"], weighted[system])
            runs: Dict[str, List[dict]] = {system: [] for system in systems}
            for seed in range(repeats):
                params = dict(case_params, random_state=seed)
                if quick:
                    params["max_iter"] = QUICK_MAX_ITER
                for system, cls in systems.items():  # interleaved: drift hits both alike
                    runs[system].append(_fit_once(cls, dict(params, **own[system]), data,
                                                  case["metric"], weighted[system]))
            row: Dict[str, Any] = {"case": case["name"], "task": task, "metric": case["metric"],
                                   "params": dict(case_params, **({"max_iter": QUICK_MAX_ITER}
                                                                 if quick else {})),
                                   "solver": case_params.get("solver", "adam"),
                                   "targets": case["targets"]}
            if not case["targets"]:
                row["nnpy_params"] = case["own"]
                row["sklearn_params"] = dict(case["sklearn_own"])
                if case["balanced_sample_weight"]:
                    row["sklearn_fit"] = 'sample_weight=compute_sample_weight("balanced", y)'
            for system, results in runs.items():
                row[system] = {
                    "seconds_per_iter": statistics.median(r["seconds"] / r["n_iter"]
                                                          for r in results),
                    "score": statistics.median(r["score"] for r in results),
                    "n_iter": statistics.median(r["n_iter"] for r in results),
                    "scores": [r["score"] for r in results],
                    "n_iters": [r["n_iter"] for r in results],
                }
            row["speedup"] = row["sklearn"]["seconds_per_iter"] / row["nnpy"]["seconds_per_iter"]
            row["score_gap"] = row["nnpy"]["score"] - row["sklearn"]["score"]
            rows.append(row)
    from . import machine
    return {"workload": "W5", "quick": bool(quick), "repeats": int(repeats), "threads": 1,
            "threadpools": pools, "machine": machine.describe(), "versions": machine.versions(),
            "rows": rows}


def targets(result: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Each row's two targets: per-iteration speed-up and score margin, met or missed (rows
    that fit the same model in both systems)."""
    out = []
    for row in result["rows"]:
        if not row.get("targets", True):
            continue
        bound = SPEEDUP[row["solver"]]
        out.append({"target": f"{row['case']}: per-iteration time >= {bound:g}x lower",
                    "met": row["speedup"] >= bound,
                    "measured": f"{row['speedup']:.2f}x lower"})
        margin = SCORE_MARGIN[row["task"]]
        out.append({"target": f"{row['case']}: {row['metric']} within {margin:g} of "
                              "scikit-learn's",
                    "met": row["score_gap"] >= -margin,
                    "measured": f"nnpy {row['nnpy']['score']:.4f}, scikit-learn "
                                f"{row['sklearn']['score']:.4f} ({row['score_gap']:+.4f})"})
    return out


def markdown(result: Dict[str, Any]) -> str:
    """The results table and the targets, met or missed, as Markdown."""
    lines = ["## W5: scikit-learn's MLP against nnpy's estimators", "",
             f"Same parameters and data, one thread each, medians of {result['repeats']} "
             f"repeat(s) (random_state 0, 1, ...)"
             f"{'; --quick: max_iter=%d' % QUICK_MAX_ITER if result['quick'] else ''}. "
             "ms/iter is fit time / n_iter_ (an epoch for sgd/adam, an iteration for lbfgs); "
             "scores on the held-out 25%.",
             "",
             "| case | parameters | scikit-learn ms/iter | nnpy ms/iter | speed-up | "
             "scikit-learn score | nnpy score | n_iter (sklearn / nnpy) |",
             "|---|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        params = _params_text(row)
        sk, nn = row["sklearn"], row["nnpy"]
        lines.append(f"| {row['case']} | {params} | {sk['seconds_per_iter'] * 1e3:.3g} | "
                     f"{nn['seconds_per_iter'] * 1e3:.3g} | {row['speedup']:.1f}x | "
                     f"{sk['score']:.4f} ({row['metric']}) | {nn['score']:.4f} | "
                     f"{sk['n_iter']:g} / {nn['n_iter']:g} |")
    if any(not row.get("targets", True) for row in result["rows"]):
        lines += ["", "Rows with nnpy's own options (class_weight, dropout) set them against "
                      "the nearest thing scikit-learn's MLP has, a different model: no "
                      "targets; nnpy without dropout is the digits-relu-adam row."]
    lines += plugins.targets_markdown(targets(result))
    return "\n".join(lines) + "\n"


def _params_text(row: Dict[str, Any]) -> str:
    """The parameters column: those of both systems, then each system's own."""
    def listed(params: Dict[str, Any]) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in params.items())
    text = listed(row["params"]) or "defaults"
    if row.get("nnpy_params"):
        text += f"; nnpy: {listed(row['nnpy_params'])}"
    sklearn = [listed(row.get("sklearn_params", {}))]
    if row.get("sklearn_fit"):
        sklearn.append(f"fit({row['sklearn_fit']})")
    sklearn = [part for part in sklearn if part]
    if sklearn:
        text += f"; scikit-learn: {', '.join(sklearn)}"
    return text


def main(argv: Optional[List[str]] = None) -> int:
    return plugins.standalone(
        argv, "w5", __doc__, run, markdown, repeats=3, quick_repeats=1,
        quick_help=f"max_iter={QUICK_MAX_ITER} per fit, one repeat unless --repeats",
        repeats_help="fits per case and system (default 3, --quick 1)")


if __name__ == "__main__":
    sys.exit(main())
