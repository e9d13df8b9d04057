"""Runs nnpy's benchmark suite: the fixed workloads W1-W4 (docs/workloads.md) on nnpy
and on every comparison system installed, side by side in one run, and writes results.json,
results.md and results.png.

    nnpy bench                      full run (5 repeats); also python bench/run.py
    nnpy bench --quick              fewer repeats, slow loops shortened (a few minutes)
    nnpy bench --only W1,W3 --repeats 7 --out /tmp/bench

Systems: nnpy-post (the post's API on nnpy), nnpy (Network.fit/predict), reference (the
post's numpy code, nnpy.reference), numpy-vectorised (nnpy.reference.sgd), torch, sklearn,
and the C yardstick (c-limit, c-limit-dyn, c-limit-O2). A system that is not installed is
reported as skipped. Each Python measurement runs in its own process (benchmarks/worker.py).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

QUICK_BUDGET_S = 5.0  # --quick: a measurement stops repeating after 5 timed s (2 repeats at least)

from nnpy.benchmarks import machine, report, workloads  # noqa: E402
from nnpy.benchmarks.systems import climit  # noqa: E402
from nnpy.benchmarks.worker import RESULT_MARK  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="nnpy bench", description="nnpy's benchmark suite (workloads W1-W4).")
    parser.add_argument("--quick", action="store_true",
                        help="3 repeats (2 where one takes over 2.5 s), no 2-thread W3 rows, the "
                             "slow 100,000-step loops skipped (< 5 minutes)")
    parser.add_argument("--out", default="bench-results",
                        help="folder for results.json/.md/.png (default: ./bench-results; "
                             "python bench/run.py writes bench/results)")
    parser.add_argument("--only", default=None,
                        help="comma-separated workloads or cases, e.g. W1,W3 or W3-64-1t")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats per measurement (default 5; 3 with --quick)")
    parser.add_argument("--systems", default=None,
                        help="comma-separated systems to run (default: all)")
    return parser.parse_args(argv)


def selected_cases(args):
    cases = workloads.cases(args.quick)
    if args.only:
        wanted = {w.strip().upper() for w in args.only.split(",") if w.strip()}
        cases = [c for c in cases if c.workload.upper() in wanted or c.id.upper() in wanted]
        if not cases:
            raise SystemExit(f"--only {args.only}: no such workload or case")
    return cases


def jobs_of(cases):
    """Groups cases into worker calls: W4's two cases come from one call."""
    jobs = []
    for case in cases:
        key = (case.workload, json.dumps(case.params, sort_keys=True))
        for job in jobs:
            if job["key"] == key:
                job["cases"].append(case)
                break
        else:
            jobs.append({"key": key, "workload": case.workload, "params": case.params,
                         "cases": [case]})
    return jobs


def run_worker(system, job, ctx):
    """One worker process; returns its result dict (status ok/skipped/error)."""
    case = job["cases"][0]
    threads = job["params"].get("threads", 1)
    cmd = [sys.executable, "-m", "nnpy.benchmarks.worker", system, job["workload"], case.id,
           "--threads", str(threads), "--repeats", str(ctx["repeats"]),
           "--params", json.dumps(job["params"]), "--calls", str(ctx["calls"])]
    if ctx["data"]:
        cmd += ["--data", ctx["data"]]
    if job["workload"] == "W3" and threads == 1 and (
            not ctx["quick"] or system in ("nnpy", "numpy-vectorised")):
        cmd.append("--memory")  # peak memory: nnpy against numpy (and torch in a full run)
    if ctx["quick"]:
        cmd += ["--budget", str(QUICK_BUDGET_S), "--min-repeats", "2"]
    env = machine.set_thread_env(threads, dict(ctx["env"]))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=ctx["timeout"])
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"timed out after {ctx['timeout']} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"status": "error", "reason": f"worker exited {proc.returncode}: " + " | ".join(tail)}


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    # Every measurement runs in a worker process whose environment is this one's, with one
    # thread unless a case says otherwise and without the slow OpenBLAS settings. (This
    # process only prepares data: numpy may already be loaded here when the `nnpy bench`
    # command calls main, too late for thread limits, so nothing is measured in it.)
    base_env = machine.set_thread_env(1, dict(os.environ))
    removed_env = machine.drop_slow_openblas_vars(base_env)
    repeats = args.repeats or (3 if args.quick else 5)
    cases = selected_cases(args)
    only_systems = set(args.systems.split(",")) if args.systems else None
    notes = [
        "Thread counts: 1 everywhere (OMP/OPENBLAS/MKL_NUM_THREADS=1 set before numpy loads, "
        "threadpoolctl limits, torch.set_num_threads(1)) except the W3 rows marked 2t (2 for "
        "every system there). Each measurement runs in its own process.",
        "Ratios are computed from medians within this run; absolute times drift on this "
        "shared machine.",
        "W1: nnpy-post and reference run the post's loop (randrange(0, 4), all four samples, "
        "forwardPass + backPropogation + the post's 0.5*error**2 bookkeeping). nnpy runs "
        "Network.fit(epochs=steps/4, batch_size=1, shuffle=True): shuffled epochs of the 4 "
        "samples, not draws with replacement. numpy-vectorised is nnpy.reference.sgd with "
        "batch_size=1. torch draws with randrange(0, 4) and steps per sample. C draws uniformly "
        "(xorshift) and uses standard backprop.",
        "W2: accuracy on the last 297 rows (by-writer split, a timing workload). "
        "numpy-vectorised, torch and C start from the same N(0,1) weights (seed 0) and visit "
        "the same epoch orders; nnpy starts from the same weights (Network(seed=0) draws them "
        "as nnpy.reference.init_params does) but shuffles with its own generator. With N(0,1) "
        "starts the accuracy depends on the seed (about 0.82-0.92 over seeds 0-3). sklearn's loss is softmax "
        f"cross-entropy (learning_rate_init={workloads.SKLEARN_LR}; 3.0 is too large for it) "
        "and it starts from its own Glorot weights.",
        "W3: GFLOP/s counts 6*batch*(784*256+256*10) flops per batch (forward, weight "
        "gradient, delta passed down; not the update or the elementwise work): "
        f"{workloads.w3_flops_per_epoch() / 1e9:.2f} GFLOP per epoch. Peak memory is measured "
        "in separate untimed fits (1-thread rows).",
        "W4: one sample from Python: nnpy predict(x) with x of shape (64,); numpy and sklearn "
        "take a (1, 64) row; torch a (64,) tensor under inference_mode. The network is "
        "untrained (forward cost does not depend on the values).",
        "W3 2t rows: OMP/OPENBLAS/MKL_NUM_THREADS=2 and torch.set_num_threads(2); nnpy's "
        "core had no threads of its own when this suite was written, so its 2t row shows "
        "whether that changed. Both cores are shared with other work, so 2t can be slower.",
        "torch uses MSELoss(reduction='sum') * 0.5 / batch (same loss and gradient as nnpy's "
        "mse) and float64 except in W3's float32 rows.",
        "c-limit: -O3 -march=native (allowed for the yardstick only), sizes fixed at compile "
        "time; c-limit-dyn: sizes read at run time (W1); c-limit-O2: plain -O2. The C programs "
        "time their own loops with clock_gettime.",
    ]
    if removed_env:
        notes.append(f"Removed from the environment for all runs: {removed_env} (they slow a "
                     "current numpy's OpenBLAS).")
    else:
        notes.append("OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE were not set.")

    results = {
        "meta": {
            "command": " ".join([os.path.basename(sys.executable), "bench/run.py"]
                                + list(argv if argv is not None else sys.argv[1:])),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
            "quick": args.quick, "repeats": repeats, "machine": machine.describe(),
            "versions": machine.versions(), "removed_env": removed_env,
            "systems": list(workloads.ALL_SYSTEMS), "notes": notes,
        },
        "cases": {c.id: {"title": c.title, "metric": c.metric, "params": c.params,
                         "systems": {}} for c in cases},
    }

    with tempfile.TemporaryDirectory(prefix="nnpy-bench-") as tmp:
        # Data and C builds, once for the whole run
        data = tmp
        try:
            workloads.write_digits(tmp)
        except ImportError as exc:
            data = None
            notes.append(f"scikit-learn missing ({exc}): W2 and W4 have no data, skipped.")
        binaries, build_log = climit.build(tmp)
        results["meta"]["c_build"] = build_log
        say(started, f"data written, C built in {build_log.get('seconds', 0)} s")

        ctx = {"quick": args.quick, "repeats": repeats, "data": data, "env": base_env,
               "calls": 20_000 if args.quick else 50_000,
               "timeout": 240 if args.quick else 1800}
        tp_info = results["meta"].setdefault("threadpool_info", {})
        for job in jobs_of(cases):
            systems = [s for s in workloads.ALL_SYSTEMS
                       if any(s in c.systems for c in job["cases"])
                       and (only_systems is None or s in only_systems)]
            for system in systems:
                if data is None and job["workload"] in ("W2", "W4"):
                    out = {"status": "skipped", "reason": "not installed (scikit-learn: data)"}
                elif system in climit.VARIANTS:
                    out = climit.run(system, job["workload"], job["params"],
                                     dict(ctx, case=job["cases"][0].id), binaries)
                else:
                    out = run_worker(system, job, ctx)
                record(results, job, system, out, tp_info, started)

    for cid, case in results["cases"].items():
        if cid.startswith("W3"):
            for entry in case["systems"].values():
                if "median_s" in entry:
                    entry["gflops"] = workloads.w3_flops_per_epoch() / entry["median_s"] / 1e9
    results["ratios"] = report.ratios(results["cases"])
    results["targets"] = report.evaluate_targets(results["cases"])
    results["linearity"] = report.linearity(results["cases"])
    results["meta"]["duration_s"] = time.time() - started
    try:
        results["meta"]["loadavg_at_end"] = os.getloadavg()
    except OSError:
        pass
    results["meta"]["nnpy_cpu_level"] = next(
        (e.get("nnpy_cpu_level") for c in results["cases"].values()
         for e in c["systems"].values() if e.get("nnpy_cpu_level")), None)
    text, message = report.write(results, args.out)
    print()
    print(text)
    if message:
        print(message)
    print(f"results in {args.out} ({time.time() - started:.0f} s)")
    return 0


def record(results, job, system, out, tp_info, started):
    """Stores one system's outcome under each of the job's cases and prints a progress line."""
    for case in job["cases"]:
        if system not in case.systems:
            continue
        entry = {"status": out.get("status", "error"), "threads": out.get("threads", 1)}
        if out.get("status") == "ok":
            measured = out.get("cases", {}).get(case.id)
            if measured is None:
                entry.update(status="error", reason="no measurement returned")
            else:
                entry.update(measured)
        else:
            entry["reason"] = out.get("reason", "")
        for key in ("nnpy_cpu_level", "torch_num_threads", "torch_config"):
            if out.get(key):
                entry[key] = out[key]
        report.summarise(entry, case.metric)
        results["cases"][case.id]["systems"][system] = entry
        if out.get("threadpool_info") is not None:
            tp_info.setdefault(f"{system}, {entry['threads']} thread(s)", out["threadpool_info"])
        if "median" in entry:
            extra = f" acc {entry['accuracy']:.3f}" if entry.get("accuracy") is not None else ""
            say(started, f"{case.id:9s} {system:17s} {report.fmt(entry['median'], case.metric)}"
                         f" {case.metric} (median of {entry['repeats']}){extra}")
        else:
            say(started, f"{case.id:9s} {system:17s} {entry['status']}: {entry.get('reason')}")


def say(started, text):
    print(f"[{time.time() - started:5.0f} s] {text}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
