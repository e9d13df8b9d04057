"""`c-limit`: the C yardstick (bench/limit/*.c), what plain C does with the same arithmetic.

Variants, each a column of the results:
  c-limit      sizes fixed at compile time, cc -O3 -march=native (the floor; this flag is
               allowed for the yardstick only: nnpy's wheel must run on other processors)
  c-limit-dyn  W1 only: sizes read at run time, cc -O3 -march=native
  c-limit-O2   sizes fixed at compile time, cc -O2 (no -march): a baseline build
The programs time their own loops with clock_gettime and print JSON."""
import json
import os
import shutil
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT = os.path.join(os.path.dirname(HERE), "limit")

NATIVE = ["-O3", "-march=native"]
BASELINE = ["-O2"]
# binary name -> (source, flags); the variant columns use these
BUILDS = {
    "xor_fixed": ("xor.c", NATIVE + ["-DFIXED_SIZES"]),
    "xor_dyn": ("xor.c", NATIVE),
    "xor_fixed_O2": ("xor.c", BASELINE + ["-DFIXED_SIZES"]),
    "digits": ("digits.c", NATIVE),
    "digits_O2": ("digits.c", BASELINE),
}
VARIANTS = {  # system -> (W1 binary, W2/W4 binary or None)
    "c-limit": ("xor_fixed", "digits"),
    "c-limit-dyn": ("xor_dyn", None),
    "c-limit-O2": ("xor_fixed_O2", "digits_O2"),
}


def compiler():
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


def build(folder):
    """Compiles every variant into `folder`; returns ({binary: path or None}, log)."""
    cc = compiler()
    if cc is None:
        return {name: None for name in BUILDS}, {"error": "no C compiler"}
    paths, log = {}, {"cc": cc, "commands": {}}
    start = time.perf_counter()
    for name, (source, flags) in BUILDS.items():
        out = os.path.join(folder, name)
        cmd = [cc, *flags, "-o", out, os.path.join(LIMIT, source), "-lm"]
        log["commands"][name] = " ".join(cmd)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        paths[name] = out if proc.returncode == 0 else None
        if proc.returncode:
            log.setdefault("failed", {})[name] = proc.stderr[-2000:]
    log["seconds"] = round(time.perf_counter() - start, 2)
    return paths, log


def _run(cmd, timeout):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        raise RuntimeError(f"{os.path.basename(cmd[0])} exited {proc.returncode}: "
                           f"{proc.stderr[-500:]}")
    return json.loads(proc.stdout)


def run(system, workload, params, ctx, binaries):
    """Same contract as the Python systems, plus the built binaries. Returns
    {"status": ..., "cases": {...}} like a worker."""
    from nnpy.benchmarks import workloads
    w1_bin, digits_bin = VARIANTS[system]
    name = w1_bin if workload == "W1" else digits_bin
    if name is None:
        return {"status": "skipped", "reason": "n/a"}
    path = binaries.get(name)
    if path is None:
        return {"status": "skipped", "reason": "not installed (no C compiler or build failed)"}
    reps, timeout = str(ctx["repeats"]), ctx["timeout"]
    try:
        if workload == "W1":
            cmd = [path, str(params["steps"]), reps] + [str(n) for n in workloads.W1_SIZES]
            out = _run(cmd, timeout)
            cases = {ctx["case"]: {"times_s": out["times_s"], "work": out["steps"],
                                   "final_loss": out["final_loss"]}}
        else:
            data = os.path.join(ctx["data"], "digits.bin")
            n_all = 1797
            shape = [str(workloads.W2_N_TRAIN), str(n_all - workloads.W2_N_TRAIN), str(n_all)]
            if workload == "W2":
                out = _run([path, "train", data, *shape, str(workloads.W2_EPOCHS), reps],
                           timeout)
                cases = {ctx["case"]: {"times_s": out["times_s"], "work": out["epochs"],
                                       "accuracy": out["accuracy"]}}
            else:  # W4
                out = _run([path, "forward", data, *shape, str(ctx["calls"] * 5),
                            str(max(ctx["repeats"], 20))], timeout)
                cases = {"W4-one": {"times_s": out["times_one_s"], "work": out["calls"]},
                         "W4-batch": {"times_s": out["times_batch_s"], "work": out["rows"]}}
    except Exception as exc:
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    return {"status": "ok", "cases": cases, "threads": 1}
