"""W3-load: fit's default thread count (n_threads=None) against one thread, W3 in float64
(784-256-10, batch 128, one epoch of 8192 rows), on the machine as it is and with one
competing busy process (a Python `while` loop, at nice 0 and at nice 19) that this module
starts itself, bounded in time and killed at the end even on error.

In each condition the two fits alternate (n_threads=1 then None, the order swapped every
other pair), each on a fresh network of the same seed; the figures are the median samples/s
of each and their ratio. The targets: on an idle machine the default is at least 1.8x one
thread; under one busy process it never falls below 0.9x one thread. "idle" is the machine as
the run finds it: the run queue's length (/proc/loadavg) is reported with each condition,
and on a shared machine the idle ratio means little unless it was near 1 (this process).

    python -m nnpy.benchmarks.w3_load [--quick] [--repeats N] [--json PATH]

run(quick, repeats) -> dict and markdown(result) -> str are what the benchmark suite calls (a
plug-in, see plugins.py); the suite runs it in a process whose OpenMP threads are not limited.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

from nnpy.benchmarks import plugins, workloads

IDLE_TARGET = 1.8    # default / one thread on an idle machine, at least
BUSY_TARGET = 0.9    # default / one thread with one busy process, at least
# (name, nice of the competing process or None for none)
CONDITIONS: List[Tuple[str, Optional[int]]] = [("idle", None), ("busy, nice 0", 0),
                                               ("busy, nice 19", 19)]
BUSY_SECONDS = 120   # the competing process ends by itself after this, whatever happens here
SETTLE_S = 0.3       # a started competitor gets this long to be running before fits are timed
QUICK_PAIRS = 5      # --quick: pairs of fits per condition (at least)
FULL_PAIRS = 9

# The competing process: a busy loop that ends by itself after argv[1] seconds.
_BUSY = ("import sys, time\n"
         "end = time.monotonic() + float(sys.argv[1])\n"
         "while time.monotonic() < end:\n"
         "    pass\n")


@contextlib.contextmanager
def competitor(nice: Optional[int]) -> Iterator[Optional[subprocess.Popen[bytes]]]:
    """One busy process at `nice` while the block runs (none for None); killed on the way out,
    whatever happens in the block."""
    if nice is None:
        yield None
        return
    def lower_priority() -> None:  # in the child, before Python starts: niced from the start
        os.nice(nice)

    proc = subprocess.Popen([sys.executable, "-c", _BUSY, str(BUSY_SECONDS)],
                            stdin=subprocess.DEVNULL,
                            preexec_fn=lower_priority if nice and hasattr(os, "nice") else None)
    try:
        time.sleep(SETTLE_S)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def run_queue() -> Optional[str]:
    """Runnable tasks / all tasks on the machine right now (Linux), for the report."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[3]
    except (OSError, IndexError):
        return None


def _fit_seconds(Network: Any, X: Any, Y: Any, n_threads: Optional[int]) -> float:
    net = Network(workloads.W3_SIZES, seed=workloads.W3_SEED)
    started = time.perf_counter()
    net.fit(X, Y, epochs=1, lr=workloads.W3_LR, batch_size=workloads.W3_BATCH, loss="mse",
            n_threads=n_threads)
    return time.perf_counter() - started


@contextlib.contextmanager
def _counting_threads(counts: Dict[int, int]) -> Iterator[None]:
    """Counts the threads fit's default picks for each core call (nnpy._training's hook), when
    the installed nnpy has that hook."""
    import nnpy._training as training
    pick = getattr(training, "free_threads", None)
    if pick is None:
        yield
        return

    def counted(most: int) -> int:
        threads = pick(most)
        counts[threads] = counts.get(threads, 0) + 1
        return threads

    training.free_threads = counted
    try:
        yield
    finally:
        training.free_threads = pick


def measure(Network: Any, X: Any, Y: Any, nice: Optional[int], pairs: int) -> Dict[str, Any]:
    """`pairs` pairs of fits, n_threads=1 and None alternating, with a competitor at `nice`."""
    one: List[float] = []
    default: List[float] = []
    counts: Dict[int, int] = {}
    with competitor(nice):
        queue_before = run_queue()
        for i in range(pairs):
            order = (1, None) if i % 2 == 0 else (None, 1)
            for n_threads in order:
                if n_threads is None:
                    with _counting_threads(counts):
                        default.append(_fit_seconds(Network, X, Y, None))
                else:
                    one.append(_fit_seconds(Network, X, Y, 1))
        queue_after = run_queue()
    rows = len(X)
    return {"one_thread_samples_s": rows / statistics.median(one),
            "default_samples_s": rows / statistics.median(default),
            "ratio": statistics.median(one) / statistics.median(default),
            "pair_ratios": [a / b for a, b in zip(one, default)],
            "one_thread_s": one, "default_s": default,
            "default_threads_per_call": {str(k): v for k, v in sorted(counts.items())},
            "run_queue": [queue_before, queue_after]}


def run(quick: bool = False, repeats: int = 3) -> Dict[str, Any]:
    """Measures every condition; returns the rows (JSON-serialisable)."""
    import numpy as np
    import nnpy
    from nnpy._training import thread_limit
    X, Y = workloads.w3_data(np.float64)
    pairs = max(repeats, QUICK_PAIRS if quick else FULL_PAIRS)
    _fit_seconds(nnpy.Network, X, Y, 1)      # untimed warm-up: first-call costs, threads
    _fit_seconds(nnpy.Network, X, Y, None)
    rows = []
    for name, nice in CONDITIONS:
        row = {"condition": name, "nice": nice}
        row.update(measure(nnpy.Network, X, Y, nice, pairs))
        rows.append(row)
    from nnpy.benchmarks import machine
    return {"workload": "W3-load", "quick": bool(quick), "pairs": pairs,
            "default_most_threads": thread_limit(None), "cores": machine.describe()["cpus_usable"],
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "rows": rows}


def targets(result: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Each condition's target, met or missed."""
    out = []
    for row in result["rows"]:
        bound = IDLE_TARGET if row["nice"] is None else BUSY_TARGET
        out.append({"target": f"W3 float64, {row['condition']}: fit(n_threads=None) >= "
                              f"{bound:g}x fit(n_threads=1)",
                    "met": row["ratio"] >= bound,
                    "measured": f"{row['ratio']:.2f}x ({row['default_samples_s']:.3g} "
                                f"against {row['one_thread_samples_s']:.3g} samples/s; run "
                                f"queue {' -> '.join(str(q) for q in row['run_queue'])})"})
    return out


def markdown(result: Dict[str, Any]) -> str:
    """The table and the targets, met or missed, as Markdown."""
    lines = ["## W3-load: the default thread count, idle and beside a busy process", "",
             f"W3 in float64 (784-256-10, batch 128, one epoch of 8192 rows), "
             f"fit(n_threads=None) (up to {result['default_most_threads']} threads here) "
             f"against fit(n_threads=1): {result['pairs']} pairs of fits per condition, "
             "alternating, medians. The busy process is a Python loop this run starts and "
             "kills. Run queue: runnable / all tasks on the machine (this process's running "
             "thread included) before and after the condition's fits; \"idle\" is the machine "
             "as the run found it.", "",
             "| condition | n_threads=1 samples/s | n_threads=None samples/s | ratio | "
             "pairs' ratios (min-max) | default's threads per core call | run queue |",
             "|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        counts = ", ".join(f"{k}: {v}" for k, v in row["default_threads_per_call"].items())
        lines.append(f"| {row['condition']} | {row['one_thread_samples_s']:.3g} | "
                     f"{row['default_samples_s']:.3g} | {row['ratio']:.2f}x | "
                     f"{min(row['pair_ratios']):.2f}-{max(row['pair_ratios']):.2f} | "
                     f"{counts or '-'} | {' -> '.join(str(q) for q in row['run_queue'])} |")
    lines += plugins.targets_markdown(targets(result))
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    return plugins.standalone(
        argv, "w3_load", __doc__, run, markdown, repeats=1,
        quick_help=f"{QUICK_PAIRS} pairs of fits per condition ({FULL_PAIRS} without)",
        repeats_help="pairs of fits per condition, if more than the default")


if __name__ == "__main__":
    sys.exit(main())
