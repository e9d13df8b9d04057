"""`c-limit`: the C yardstick (limit/xor.c, limit/digits.c), what plain C does with the same
arithmetic. W6-xor runs W1's program (one network) with W6's steps.

Variants, each a column of the results:
  c-limit      sizes fixed at compile time, cc -O3 -march=native (the floor; this flag is
               allowed for the yardstick only: nnpy's wheel must run on other processors)
  c-limit-dyn  W1 only: sizes read at run time, cc -O3 -march=native
  c-limit-O2   sizes fixed at compile time, cc -O2 (no -march): a baseline build
  c-lockstep   W6 only: limit/xor_lockstep.c, 16 networks in lockstep (each weight's 16 copies
               side by side), cc -O3 -march=native; its work is network-steps
The programs time their own loops with clock_gettime and print JSON."""
import json
import os
import shutil
import subprocess
import time
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT = os.path.join(os.path.dirname(HERE), "limit")

NATIVE = ["-O3", "-march=native"]
BASELINE = ["-O2"]
# binary name -> (source, flags, libraries); the variant columns use these
BUILDS = {
    "xor_fixed": ("xor.c", NATIVE + ["-DFIXED_SIZES"], ["-lm"]),
    "xor_dyn": ("xor.c", NATIVE, ["-lm"]),
    "xor_fixed_O2": ("xor.c", BASELINE + ["-DFIXED_SIZES"], ["-lm"]),
    "xor_lockstep": ("xor_lockstep.c", NATIVE, ["-lm"]),
    "digits": ("digits.c", NATIVE, ["-lm"]),
    "digits_O2": ("digits.c", BASELINE, ["-lm"]),
}
XOR_WORKLOADS = ("W1", "W6")  # the workloads of the xor program
VARIANTS = {  # system -> (W1/W6 binary, W2/W4 binary or None)
    "c-limit": ("xor_fixed", "digits"),
    "c-limit-dyn": ("xor_dyn", None),
    "c-limit-O2": ("xor_fixed_O2", "digits_O2"),
    "c-lockstep": ("xor_lockstep", None),   # W6: 16 networks in lockstep, per network-step
}
NO_COMPILER = "not installed (no C compiler: install gcc, or set CC)"


def compiler() -> Optional[str]:
    """The C compiler: $CC when set (None if it does not exist), else cc or gcc."""
    if os.environ.get("CC"):
        return shutil.which(os.environ["CC"])
    return shutil.which("cc") or shutil.which("gcc")


def build(folder: str, builds: Dict[str, Tuple[str, List[str], List[str]]] = BUILDS
          ) -> Tuple[Dict[str, Optional[str]], Dict[str, Any]]:
    """Compiles every entry of `builds` into `folder`; returns ({binary: path or None}, log)."""
    cc = compiler()
    if cc is None:
        return {name: None for name in builds}, {"error": NO_COMPILER}
    paths: Dict[str, Optional[str]] = {}
    log: Dict[str, Any] = {"cc": cc, "commands": {}}
    start = time.perf_counter()
    for name, (source, flags, libs) in builds.items():
        out = os.path.join(folder, name)
        cmd = [cc, *flags, "-o", out, os.path.join(LIMIT, source), *libs]
        log["commands"][name] = " ".join(cmd)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        paths[name] = out if proc.returncode == 0 else None
        if proc.returncode:
            log.setdefault("failed", {})[name] = proc.stderr[-2000:]
    log["seconds"] = round(time.perf_counter() - start, 2)
    return paths, log


def run_binary(cmd: List[str], timeout: float) -> Dict[str, Any]:
    """Runs one harness; returns its JSON output."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        raise RuntimeError(f"{os.path.basename(cmd[0])} exited {proc.returncode}: "
                           f"{proc.stderr[-500:]}")
    return json.loads(proc.stdout)


def digits_shape() -> List[str]:
    """The row counts the digits harnesses read from the data file."""
    from nnpy.benchmarks import workloads
    n_all = 1797
    return [str(workloads.W2_N_TRAIN), str(n_all - workloads.W2_N_TRAIN), str(n_all)]


def w4_cases(out: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """W4's two cases from a harness's `forward` output."""
    return {"W4-one": {"times_s": out["times_one_s"], "work": out["calls"]},
            "W4-batch": {"times_s": out["times_batch_s"], "work": out["rows"]}}


def run(system: str, workload: str, params: Dict[str, Any], ctx: Dict[str, Any],
        binaries: Dict[str, Optional[str]]) -> Dict[str, Any]:
    """Same contract as the Python systems, plus the built binaries. Returns
    {"status": ..., "cases": {...}} like a worker."""
    from nnpy.benchmarks import workloads
    w1_bin, digits_bin = VARIANTS[system]
    name = w1_bin if workload in XOR_WORKLOADS else digits_bin
    if name is None:
        return {"status": "skipped", "reason": "n/a"}
    path = binaries.get(name)
    if path is None:
        if compiler() is None:
            return {"status": "skipped", "reason": NO_COMPILER}
        return {"status": "error", "reason": "the C build failed (see c_build in results.json)"}
    # one repeat more than asked, the first dropped: a warm-up, as every Python system has
    # (a round of the suite may ask for a single repeat)
    reps, timeout = str(ctx["repeats"] + 1), ctx["timeout"]
    try:
        if workload in XOR_WORKLOADS:
            cmd = [path, str(params["steps"]), reps] + [str(n) for n in workloads.W1_SIZES]
            out = run_binary(cmd, timeout)
            cases = {ctx["case"]: {"times_s": out["times_s"][1:], "work": out["steps"],
                                   "final_loss": out["final_loss"]}}
        else:
            data = os.path.join(ctx["data"], "digits.bin")
            if workload == "W2":
                batch = params.get("batch", workloads.W2_BATCH)
                lr = params.get("lr", workloads.W2_LR)
                out = run_binary([path, "train", data, *digits_shape(),
                                  str(workloads.W2_EPOCHS), reps, str(batch), repr(lr)], timeout)
                cases = {ctx["case"]: {"times_s": out["times_s"][1:], "work": out["epochs"],
                                       "accuracy": out["accuracy"]}}
            else:  # W4
                cases = w4_cases(run_binary([path, "forward", data, *digits_shape(),
                                             str(ctx["calls"] * 5),
                                             str(max(ctx["repeats"], 20))], timeout))
    except Exception as exc:
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    return {"status": "ok", "cases": cases, "threads": 1}
