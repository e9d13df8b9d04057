"""Runs one workload of one Python system in a fresh process and prints its result as JSON.

Every measurement runs in its own process so that thread limits are set before numpy loads
(OpenBLAS reads them once), torch's thread pool never meets numpy's, peak memory is the
system's own, and a crash of a library under test costs one row, not the run.

usage (run.py calls it):
  python -m nnpy.benchmarks.worker SYSTEM WORKLOAD CASE --threads N --repeats N --params JSON
                         [--data DIR] [--calls N] [--memory]
The last stdout line starting with RESULT_MARK is the JSON result.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from types import ModuleType
from typing import Any, Dict, List, Optional, Sequence

RESULT_MARK = "@@bench-result@@ "


def run_process(cmd: List[str], env: Dict[str, str], timeout: float) -> Dict[str, Any]:
    """Runs a worker command line; returns the JSON result it printed after RESULT_MARK, or
    {"status": "error", "reason": ...} when it printed none (a crash) or timed out."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"timed out after {timeout} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"status": "error", "reason": f"worker exited {proc.returncode}: " + " | ".join(tail)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("system")
    parser.add_argument("workload")
    parser.add_argument("case")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--params", default="{}")
    parser.add_argument("--data", default=None)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--budget", type=float, default=0.0,
                        help="stop repeating after this many timed seconds (0: never)")
    parser.add_argument("--min-repeats", type=int, default=1)
    args = parser.parse_args(argv)

    # Before anything imports numpy: the thread pools read these when they load.
    from nnpy.benchmarks import machine
    machine.set_thread_env(args.threads)
    removed = machine.drop_slow_openblas_vars()

    from nnpy.benchmarks import measure
    from nnpy.benchmarks.systems import Skip
    measure.BUDGET_S, measure.MIN_REPEATS = args.budget, args.min_repeats
    out = {"system": args.system, "workload": args.workload, "threads": args.threads}
    if removed:
        out["removed_env"] = removed
    ctx = {"threads": args.threads, "repeats": args.repeats, "data": args.data,
           "calls": args.calls, "memory": args.memory, "case": args.case}
    try:
        module = system_module(args.system, args.workload)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            threadpool_limits = None
        if threadpool_limits is not None:
            with threadpool_limits(limits=args.threads):
                out["cases"] = module.run(args.system, args.workload,
                                          json.loads(args.params), ctx)
        else:
            out["cases"] = module.run(args.system, args.workload, json.loads(args.params), ctx)
        out["status"] = "ok"
    except Skip as exc:
        out["status"] = "skipped"
        out["reason"] = str(exc)
    except Exception as exc:  # a failure of the system under test is a result too
        out["status"] = "error"
        out["reason"] = f"{type(exc).__name__}: {exc}"
    out["threadpool_info"] = threadpool_info()
    if "torch" in sys.modules:  # torch's own BLAS (MKL/oneDNN) is invisible to threadpoolctl
        torch = sys.modules["torch"]
        out["torch_num_threads"] = torch.get_num_threads()
        import re
        config = torch.__config__.show()
        out["torch_config"] = re.findall(r"(?:BLAS_INFO|LAPACK_INFO)=[^,\s]+|CPU capability "
                                         r"usage: \S+|Intel\(R\) oneAPI Math Kernel Library "
                                         r"Version [\d.]+", config)
    out["nnpy_cpu_level"] = nnpy_cpu_level()
    print(RESULT_MARK + json.dumps(out), flush=True)
    return 0


def system_module(system: str, workload: str) -> ModuleType:
    """The module that runs `system` on `workload` (the `reference` column is the post's loop
    on W1 and nnpy.reference.sgd on W2/W3)."""
    from nnpy.benchmarks.systems import numpy_lean, nnpy_api, post_loop, reference_sgd
    if system == "nnpy-post" or (system == "reference" and workload == "W1"):
        return post_loop
    if system == "reference":
        return reference_sgd
    if system in ("nnpy", "nnpy-stack"):
        return nnpy_api
    if system == "numpy":
        return numpy_lean
    if system == "torch":
        from nnpy.benchmarks.systems import torch_sys
        return torch_sys
    if system == "sklearn":
        from nnpy.benchmarks.systems import sklearn_sys
        return sklearn_sys
    raise ValueError(f"unknown system {system!r}")


def threadpool_info() -> Optional[list[dict[str, Any]]]:
    """Which BLAS/OpenMP libraries this process loaded, with their kernel and thread count."""
    try:
        from threadpoolctl import threadpool_info as info
    except ImportError:
        return None
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads",
            "threading_layer", "architecture", "filepath")
    return [{k: lib.get(k) for k in keep if k in lib} for lib in info()]


def nnpy_cpu_level() -> Optional[str]:
    if "nnpy" not in sys.modules:
        return None
    return getattr(sys.modules["nnpy"], "CPU_LEVEL", None)


if __name__ == "__main__":
    sys.exit(main())
