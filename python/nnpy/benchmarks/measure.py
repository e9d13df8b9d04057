"""Timing and memory helpers used inside the workers.

A measured function does its own set-up (a fresh network, fresh parameters) and returns the
seconds of the part that counts, timed with perf_counter around that part only.
"""
from __future__ import annotations

import gc
import time
from typing import Any, Callable, Dict, Optional, Tuple


# Set by the worker from --budget / --min-repeats (--quick): once the timed repeats have used
# BUDGET_S seconds and MIN_REPEATS are done, stop early. 0 = always run every repeat.
BUDGET_S = 0.0
MIN_REPEATS = 1

Info = Dict[str, Any]                   # what a measured run reports besides its seconds
Run = Callable[[], Tuple[float, Info]]  # a measured run: () -> (seconds, info)


def repeat(run: Run, repeats: int,
           warmup: Optional[Callable[[], object]] = None) -> tuple[list[float], Info]:
    """Calls warmup() once (untimed: imports, caches, lazy allocations), then run() `repeats`
    times (fewer under a --quick budget); returns (list of seconds, info of the last run).
    run() returns (seconds, info)."""
    if warmup is not None:
        warmup()
    times: list[float] = []
    info: Info = {}
    for _ in range(repeats):
        gc.collect()  # so that one repeat does not pay for the garbage of the one before
        seconds, info = run()
        times.append(seconds)
        if BUDGET_S and len(times) >= MIN_REPEATS and sum(times) > BUDGET_S:
            break
    return times, info


WARM_S = 0.05  # seconds a per-step workload's warm-up runs for at least (warm_for)


def warm_for(call: Callable[[], object], seconds: float = WARM_S) -> Callable[[], None]:
    """A warm-up that calls call() again until `seconds` have passed. A W1 repeat lasts a
    millisecond or two, less than this machine takes to come up to speed from idle: with one
    1,000-step warm-up, nnpy's 10,000-step repeats took 1.75 ms at first and 1.26 ms by the
    seventh, while 100,000-step repeats held steady."""
    def warm() -> None:
        end = time.perf_counter() + seconds
        call()
        while time.perf_counter() < end:
            call()
    return warm


def timer() -> float:
    """perf_counter; a name so that the call sites read as what they do."""
    return time.perf_counter()


def _status_kb(field: str) -> Optional[int]:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_memory(fn: Callable[[], object]) -> dict[str, Optional[float]]:
    """Runs fn() twice: once under tracemalloc (peak bytes of Python and numpy allocations made
    during the call) and once watching the resident set (peak RSS above the RSS at the call's
    start, by resetting the kernel's high-water mark; Linux only). Returns MB, None if unknown.
    tracemalloc does not see memory a compiled core or torch allocates itself: hence both."""
    import tracemalloc
    gc.collect()
    tracemalloc.start()
    fn()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    gc.collect()
    rss_delta = None
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        before = _status_kb("VmRSS")
        fn()
        peak = _status_kb("VmHWM")
        if before is not None and peak is not None:
            rss_delta = (peak - before) / 1024
    except OSError:
        pass
    return {"peak_traced_MB": round(traced / 2**20, 2),
            "peak_rss_above_start_MB": None if rss_delta is None else round(rss_delta, 2)}


def calls(fn: Callable[[Any], Any], arg: Any, n: int) -> Run:
    """A run() for repeat(): n calls fn(arg) in a plain loop, timed together."""
    def run() -> tuple[float, Info]:
        start = timer()
        for _ in range(n):
            fn(arg)
        return timer() - start, {}
    return run


def predict_timings(predict_one: Callable[[Any], Any], x: Any, predict_rows: Callable[[Any], Any],
                    X: Any, n_calls: int, repeats: int, **info: Any) -> Dict[str, Any]:
    """W4's two cases for one system: `n_calls` calls predict_one(x) per repeat (ns per call),
    and predict_rows(X) on all rows (samples per second, at least 20 repeats: one is short).
    Returns {"W4-one": ..., "W4-batch": ...} entries (info is added to both)."""
    from nnpy.benchmarks.systems import result
    one, rows = calls(predict_one, x, n_calls), calls(predict_rows, X, 1)
    t_one, _ = repeat(one, repeats, warmup=calls(predict_one, x, min(n_calls, 1000)))
    t_rows, _ = repeat(rows, max(repeats, 20), warmup=rows)
    return {"W4-one": result(t_one, n_calls, **info), "W4-batch": result(t_rows, len(X), **info)}
