"""Workloads that bring their own module (W5: scikit-learn's MLP against nnpy's estimators,
in nnpy.benchmarks.w5; W3-load: fit's default thread count beside a busy process, in
nnpy.benchmarks.w3_load; W6-sweep: a 16-point sweep as one NetworkStack, in
nnpy.benchmarks.w6_sweep). The interface such a module provides:

    run(quick: bool, repeats: int) -> dict
        Measures the workload and returns a JSON-serialisable dict: its rows (each with a name,
        the seconds per iteration of every system compared, their accuracy or R^2), whatever
        else its table needs. `quick` must keep it to about a minute here. Called in a fresh
        process whose thread pools are limited to one thread before numpy loads (OpenMP's
        left unlimited for those in ALL_CORES).
    markdown(result: dict) -> str
        The workload's section of results.md (a "## W5 ..." heading, its table, its targets
        marked met/missed), from what run() returned. Called in the suite's own process.

The suite runs a plug-in when --only names it, and in every full or --quick run when what it
needs (`requires`) is installed; otherwise it says why it skipped it. The module is looked up
by name when the run starts, so an installation without it runs the rest.

Run in a worker:  python -m nnpy.benchmarks.plugins MODULE [--quick] --repeats N
(prints the result as JSON after worker.RESULT_MARK on its last line).
"""
import argparse
import importlib
import importlib.util
import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional

# workload id -> (module, modules it needs, what to install when they are missing)
PLUGINS = {
    "W3-load": ("nnpy.benchmarks.w3_load", (), ""),
    "W5": ("nnpy.benchmarks.w5", ("sklearn", "threadpoolctl"), 'pip install "nnpy-net[bench]"'),
    "W6-cv": ("nnpy.benchmarks.w6_cv", ("sklearn", "threadpoolctl"),
              'pip install "nnpy-net[bench]"'),
    "W6-sweep": ("nnpy.benchmarks.w6_sweep", ("sklearn",), 'pip install "nnpy-net[bench]"'),
}
# Plug-ins that measure nnpy's own choice of threads: their worker leaves OpenMP (the core's
# threads) unlimited; the other thread pools (OpenBLAS, MKL) stay at one thread.
ALL_CORES = ("W3-load",)
UNLIMITED_VARS = ("OMP_NUM_THREADS", "NNPY_NUM_THREADS")


def targets_markdown(targets: List[Dict[str, Any]]) -> List[str]:
    """A plug-in's targets (dicts of target, met, measured) as the lines of a Markdown table,
    a blank line first: the form every section of results.md gives its targets."""
    lines = ["", "| target | verdict | measured |", "|---|---|---|"]
    lines += [f"| {t['target']} | **{'met' if t['met'] else 'missed'}** | {t['measured']} |"
              for t in targets]
    return lines


def missing(workload: str) -> Optional[str]:
    """Why `workload` cannot run here (a message with the install hint), or None."""
    module, requires, hint = PLUGINS[workload]
    for name in requires:
        if importlib.util.find_spec(name) is None:
            return f"not installed ({name}; {hint})"
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        return f"{module} is not in this installation of nnpy"
    return None


def run_in_worker(workload: str, quick: bool, repeats: int, env: Dict[str, str],
                  timeout: float) -> Dict[str, Any]:
    """Runs the plug-in's run() in a fresh process; returns {"status": "ok", "result": ...} or
    {"status": "skipped"/"error", "reason": ...}."""
    from nnpy.benchmarks.worker import run_process
    reason = missing(workload)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    cmd = [sys.executable, "-m", "nnpy.benchmarks.plugins", PLUGINS[workload][0],
           "--repeats", str(repeats)] + (["--quick"] if quick else [])
    if workload in ALL_CORES:  # before the worker imports nnpy: OpenMP reads them as it loads
        env = {k: v for k, v in env.items() if k not in UNLIMITED_VARS}
        cmd.append("--all-cores")
    return run_process(cmd, env, timeout)


def section(workload: str, outcome: Dict[str, Any]) -> str:
    """The plug-in's part of results.md: its own markdown(), or a line saying why not."""
    if outcome.get("status") == "ok":
        try:
            module = importlib.import_module(PLUGINS[workload][0])
            return module.markdown(outcome["result"]).rstrip() + "\n"
        except Exception as exc:  # a broken table must not cost the rest of the report
            return f"## {workload}\n\n{workload}.markdown failed: {type(exc).__name__}: {exc}\n"
    return f"## {workload}\n\n{workload} {outcome.get('status')}: {outcome.get('reason')}\n"


def standalone(argv: Optional[List[str]], module: str, doc: str,
               run: Callable[..., Dict[str, Any]], markdown: Callable[[Dict[str, Any]], str],
               *, quick_help: str, repeats: int, quick_repeats: Optional[int] = None,
               repeats_help: Optional[str] = None) -> int:
    """A plug-in module run as a script (python -m nnpy.benchmarks.<module> [--quick]
    [--repeats N] [--json PATH]): its table printed, its result also written as JSON on
    request. `repeats` is the default, `quick_repeats` the default with --quick (None: the
    same); the plug-in's run(quick=, repeats=) measures."""
    parser = argparse.ArgumentParser(prog=f"python -m nnpy.benchmarks.{module}",
                                     description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--repeats", type=int, default=None,
                        help=repeats_help or f"timed repeats (default {repeats})")
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON here")
    args = parser.parse_args(argv)
    count = args.repeats
    if count is None:
        count = quick_repeats if args.quick and quick_repeats is not None else repeats
    if count < 1:
        parser.error("--repeats must be at least 1")
    try:
        result = run(quick=args.quick, repeats=count)
    except ImportError as err:
        print(f"{module} needs what it compares with: pip install \"nnpy-net[bench]\" ({err})",
              file=sys.stderr)
        return 2
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print(markdown(result), end="")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnpy.benchmarks.plugins",
                                     description="Runs one plug-in workload module.")
    parser.add_argument("module")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--all-cores", action="store_true",
                        help="leave OpenMP's threads unlimited (the others at one)")
    args = parser.parse_args(argv)
    from nnpy.benchmarks import machine
    machine.set_thread_env(1)         # before numpy loads
    if args.all_cores:
        for name in UNLIMITED_VARS:
            os.environ.pop(name, None)
    machine.drop_slow_openblas_vars()
    from nnpy.benchmarks.worker import RESULT_MARK
    try:
        result = importlib.import_module(args.module).run(quick=args.quick,
                                                          repeats=args.repeats)
        out = {"status": "ok", "result": json.loads(json.dumps(result))}
    except Exception as exc:
        out = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    print(RESULT_MARK + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
