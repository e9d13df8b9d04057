"""W6-cv: a cross-validated grid search, NNGridSearchCV against scikit-learn's
GridSearchCV(MLPClassifier), one thread and n_jobs=1 each.

Data: scikit-learn's digits, X / 16 (1797 rows). Estimator: hidden_layer_sizes=(32,),
max_iter=30, random_state=0, everything else the default (ReLU, Adam, batch 200, no early
stopping). Grid: learning_rate_init in (0.0001, 0.0003, 0.001, 0.01) x alpha in (0.0001, 1.0),
8 points; cv=5 (StratifiedKFold, not shuffled): 40 fits and one refit per search. Systems,
interleaved in every repeat: GridSearchCV(MLPClassifier), GridSearchCV(NNClassifier) (nnpy's
estimator fitted one by one) and NNGridSearchCV(NNClassifier) (the 8 points as one
NetworkStack per split). Figures: the median time of a whole search (fit, refit included)
and each search's best_params_ and best_score_.

Target (issue 21): NNGridSearchCV at least 10x faster than GridSearchCV(MLPClassifier), with
the same best_params_.

    python -m nnpy.benchmarks.w6_cv [--quick] [--repeats N] [--json PATH]

run(quick, repeats) -> dict and markdown(result) -> str are what the suite calls.
"""
import statistics
import sys
import time
import warnings
from typing import Any, Dict, List, Optional

from nnpy.benchmarks import plugins

GRID = {"learning_rate_init": [0.0001, 0.0003, 0.001, 0.01], "alpha": [0.0001, 1.0]}
ESTIMATOR: Dict[str, Any] = {"hidden_layer_sizes": (32,), "max_iter": 30, "random_state": 0}
CV = 5
SPEEDUP = 10.0
SYSTEMS = ("sklearn", "nnpy-gridsearchcv", "nnpy")
LABELS = {"sklearn": "GridSearchCV(MLPClassifier)",
          "nnpy-gridsearchcv": "GridSearchCV(NNClassifier)",
          "nnpy": "NNGridSearchCV(NNClassifier)"}


def _search(system: str) -> Any:
    from sklearn.model_selection import GridSearchCV
    from sklearn.neural_network import MLPClassifier
    from nnpy.estimators import NNClassifier, NNGridSearchCV
    if system == "sklearn":
        return GridSearchCV(MLPClassifier(**ESTIMATOR), GRID, cv=CV, n_jobs=1)
    if system == "nnpy-gridsearchcv":
        return GridSearchCV(NNClassifier(**ESTIMATOR), GRID, cv=CV, n_jobs=1)
    return NNGridSearchCV(NNClassifier(**ESTIMATOR), GRID, cv=CV, n_jobs=1)


def _run_once(system: str, X: Any, y: Any) -> Dict[str, Any]:
    search = _search(system)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter=30 is expected
        started = time.perf_counter()
        search.fit(X, y)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "best_params": search.best_params_,
            "best_score": float(search.best_score_),
            "mean_test_score": [float(s) for s in search.cv_results_["mean_test_score"]]}


def run(quick: bool = False, repeats: int = 3) -> Dict[str, Any]:
    """Every system's search `repeats` times (--quick: at most 2), interleaved, in an order
    rotated from repeat to repeat; one BLAS thread."""
    from sklearn.datasets import load_digits
    from threadpoolctl import threadpool_limits
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    if quick:
        repeats = min(repeats, 2)
    runs: Dict[str, List[Dict[str, Any]]] = {system: [] for system in SYSTEMS}
    with threadpool_limits(limits=1):
        for repeat in range(repeats):
            order = SYSTEMS[repeat % len(SYSTEMS):] + SYSTEMS[:repeat % len(SYSTEMS)]
            for system in order:
                runs[system].append(_run_once(system, X, y))
    rows = {}
    for system, results in runs.items():
        rows[system] = {"label": LABELS[system],
                        "seconds": statistics.median(r["seconds"] for r in results),
                        "all_seconds": [r["seconds"] for r in results],
                        "best_params": results[0]["best_params"],
                        "best_score": results[0]["best_score"],
                        "mean_test_score": results[0]["mean_test_score"]}
    from . import machine
    return {"workload": "W6-cv", "quick": bool(quick), "repeats": int(repeats),
            "grid": GRID, "estimator": {k: list(v) if isinstance(v, tuple) else v
                                        for k, v in ESTIMATOR.items()},
            "cv": CV, "rows": rows, "machine": machine.describe(),
            "speedup": rows["sklearn"]["seconds"] / rows["nnpy"]["seconds"],
            "speedup_over_nnpy_gridsearchcv":
                rows["nnpy-gridsearchcv"]["seconds"] / rows["nnpy"]["seconds"]}


def targets(result: Dict[str, Any]) -> List[Dict[str, Any]]:
    rows = result["rows"]
    same = rows["nnpy"]["best_params"] == rows["sklearn"]["best_params"]
    return [{"target": f"W6-cv: NNGridSearchCV at least {SPEEDUP:g}x faster than "
                       "GridSearchCV(MLPClassifier), with the same best_params_",
             "met": result["speedup"] >= SPEEDUP and same,
             "measured": f"{result['speedup']:.2f}x faster; best_params_ "
                         f"{'the same' if same else 'differ'}"}]


def markdown(result: Dict[str, Any]) -> str:
    """The table and the target, as Markdown."""
    est = ", ".join(f"{k}={tuple(v) if isinstance(v, list) else v!r}"
                    for k, v in result["estimator"].items())
    lines = ["## W6-cv: a cross-validated grid search", "",
             f"digits X/16, {est}, grid {result['grid']}, cv={result['cv']}, one thread and "
             f"n_jobs=1 each; medians of {result['repeats']} repeat(s) of a whole search "
             "(40 fits and the refit).", "",
             "| search | seconds | best_params_ | best_score_ |", "|---|---|---|---|"]
    for row in result["rows"].values():
        lines.append(f"| {row['label']} | {row['seconds']:.3g} | {row['best_params']} | "
                     f"{row['best_score']:.4f} |")
    lines += ["", f"NNGridSearchCV against GridSearchCV(NNClassifier), the same fits one by "
                  f"one: {result['speedup_over_nnpy_gridsearchcv']:.2f}x."]
    lines += plugins.targets_markdown(targets(result))
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    return plugins.standalone(argv, "w6_cv", __doc__, run, markdown, repeats=3,
                              quick_help="at most 2 repeats")


if __name__ == "__main__":
    sys.exit(main())
