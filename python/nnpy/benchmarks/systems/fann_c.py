"""`fann`: FANN 2.2 (Debian's libfann-dev, double precision), through a small C harness
(limit/fann.c) compiled on the spot against libdoublefann, as the C yardstick is: fann_train
per sample for W1 (and W6-xor's one network) and for digits at batch 1 (FANN's incremental
training: it has no mini-batch SGD, so W2's batch of 10 has no FANN column), fann_run for W4.
See limit/fann.c for the set-up that makes FANN's sigmoid and update nnpy's (steepness 0.5,
linear error function)."""
import os
from typing import Any, Dict, Optional, Tuple

from nnpy.benchmarks.systems import climit

BUILDS = {"fann": ("fann.c", ["-O2"], ["-ldoublefann", "-lm"])}
INSTALL = "not installed (FANN: apt-get install libfann-dev)"


def build(folder: str) -> Tuple[Optional[str], Dict[str, Any], Optional[str]]:
    """Builds the harness; returns (path or None, log, reason it is missing or None)."""
    paths, log = climit.build(folder, BUILDS)
    if climit.compiler() is None:
        return None, log, climit.NO_COMPILER
    if paths["fann"] is None:
        error = log.get("failed", {}).get("fann", "")
        if "fann.h" in error or "-ldoublefann" in error or "doublefann" in error:
            return None, log, INSTALL
        return None, log, "error: the FANN harness did not compile (see c_build in results.json)"
    return paths["fann"], log, None


def run(workload: str, params: Dict[str, Any], ctx: Dict[str, Any], path: Optional[str],
        reason: Optional[str]) -> Dict[str, Any]:
    """Same result shape as climit.run."""
    from nnpy.benchmarks import workloads
    if path is None:
        return {"status": "skipped", "reason": reason}
    # one repeat more than asked, the first dropped: a warm-up, as every Python system has
    # (a round of the suite may ask for a single repeat)
    reps, timeout = str(ctx["repeats"] + 1), ctx["timeout"]
    try:
        if workload in ("W1", "W6"):   # W6: one network, W6's steps
            out = climit.run_binary([path, "xor", str(params["steps"]), reps], timeout)
            cases = {ctx["case"]: {"times_s": out["times_s"][1:], "work": out["steps"],
                                   "final_loss": out["final_loss"]}}
        elif workload == "W2":
            if params.get("batch", workloads.W2_BATCH) != 1:
                return {"status": "skipped", "reason": "n/a"}
            data = os.path.join(ctx["data"], "digits.bin")
            out = climit.run_binary([path, "train", data, *climit.digits_shape(),
                                     str(workloads.W2_EPOCHS), reps, repr(params["lr"])],
                                    timeout)
            cases = {ctx["case"]: {"times_s": out["times_s"][1:], "work": out["epochs"],
                                   "accuracy": out["accuracy"]}}
        else:  # W4
            data = os.path.join(ctx["data"], "digits.bin")
            cases = climit.w4_cases(climit.run_binary(
                [path, "forward", data, *climit.digits_shape(), str(ctx["calls"]),
                 str(max(ctx["repeats"], 20))], timeout))
    except Exception as exc:
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    return {"status": "ok", "cases": cases, "threads": 1}
