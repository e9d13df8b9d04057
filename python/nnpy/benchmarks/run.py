"""Runs nnpy's benchmark suite: the fixed workloads W1-W4 and W6 (docs/workloads.md) on nnpy
and on every comparison system installed, side by side in one run, and the plug-ins
(plugins.py): W5 when it is installed, and W3-load (fit's default thread count beside a busy
process it starts); writes results.json, results.md and results.png.

    nnpy bench [--quick] [...]            results in ./bench-results/
    python bench/run.py [--quick] [...]   (a source checkout) results in bench/results/
    ... --only W1,W3 --repeats 7 --systems nnpy,c-limit --out /tmp/bench

Systems: nnpy-post (the post's API on nnpy), nnpy (Network.fit/predict), nnpy-stack
(NetworkStack.fit, W6), reference
(nnpy.reference: the post's numpy loop on W1, its sgd on W2/W3), numpy (the lean loop a numpy
user writes), torch, sklearn, fann (FANN through a C harness), and the C yardstick (c-limit,
c-limit-dyn, c-limit-O2; c-lockstep: 16 W1 networks in lockstep, W6). A system that is not
installed is reported as skipped, with how to install it. Each Python measurement runs in its
own process (worker.py); a system's repeats are spread over rounds (--rounds), the systems of
a case taking turns in each.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

QUICK_BUDGET_S = 5.0  # --quick: a measurement stops repeating after 5 timed s (2 repeats at least)

from nnpy.benchmarks import machine, plugins, report, workloads  # noqa: E402
from nnpy.benchmarks.systems import climit, fann_c  # noqa: E402
from nnpy.benchmarks.worker import run_process  # noqa: E402

NNPY_BENCH = "nnpy bench"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def make_parser(prog: str = NNPY_BENCH,
                default_out: str = "bench-results") -> argparse.ArgumentParser:
    """The command line of `prog`; `default_out` is where its results go without --out."""
    names = [c.id for c in workloads.cases(quick=False)]
    parser = argparse.ArgumentParser(
        prog=prog, description="nnpy's benchmark suite: workloads W1-W4 and W6 on nnpy and on "
        "every comparison system installed, side by side in one run, W5 (scikit-learn's MLP "
        "against nnpy's estimators) when it is installed, and W3-load (fit's default thread "
        "count, idle and beside a busy process). Writes results.json, results.md and "
        f"results.png to --out (default: {default_out}).")
    parser.add_argument("--quick", action="store_true",
                        help="3 repeats (2 where one takes over 2.5 s), W3 on 2 threads in "
                             "float64 only, W3-load with 5 pairs of fits per condition, the "
                             "slow 100,000-step loops skipped except nnpy's, FANN's, C's and "
                             "W6-xor's (< 5 minutes)")
    parser.add_argument("--out", default=default_out, metavar="DIR",
                        help=f"folder for results.json/.md/.png (default: {default_out})")
    parser.add_argument("--only", default=None, metavar="LIST",
                        help="comma-separated workloads or cases: W1-W6, W3-load (fit's "
                             "default threads beside a busy process; also in W3), or any of "
                             + ", ".join(names))
    parser.add_argument("--repeats", type=positive_int, default=None, metavar="N",
                        help="timed repeats per measurement (default 5; 3 with --quick)")
    parser.add_argument("--rounds", type=positive_int, default=3, metavar="N",
                        help="spread each system's repeats over N rounds, the systems of a "
                             "case taking turns in each (default 3; 1: each system's repeats "
                             "in one go)")
    parser.add_argument("--systems", default=None, metavar="LIST",
                        help="comma-separated systems to run (default: all): "
                             + ", ".join(workloads.ALL_SYSTEMS))
    return parser


def parse_args(argv: List[str], prog: str = NNPY_BENCH,
               default_out: str = "bench-results") -> argparse.Namespace:
    """Parses and checks `argv`; a bad argument exits with status 2 and a message."""
    parser = make_parser(prog, default_out)
    args = parser.parse_args(argv)
    if args.only is not None:
        wanted = [w.strip().upper() for w in args.only.split(",") if w.strip()]
        known = {c.id.upper() for c in workloads.cases(quick=False)}
        known |= {c.workload for c in workloads.cases(quick=False)}
        known |= {w.upper() for w in workloads.PLUGIN_WORKLOADS}
        unknown = [w for w in wanted if w not in known]
        if not wanted or unknown:
            parser.error(f"--only {args.only}: no such workload or case "
                         f"{', '.join(unknown) or '(empty list)'}; choose from W1-W6, W3-load, W6-cv "
                         "or a case id (see --help)")
        args.only = wanted
    if args.systems is not None:
        args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
        unknown = [s for s in args.systems if s not in workloads.ALL_SYSTEMS]
        if not args.systems or unknown:
            parser.error(f"--systems: unknown system {', '.join(unknown) or '(empty list)'}; "
                         "choose from " + ", ".join(workloads.ALL_SYSTEMS))
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        parser.error(f"--out {args.out}: is a file, not a folder")
    return args


def selected_cases(args: argparse.Namespace) -> List[workloads.Case]:
    cases = workloads.cases(args.quick)
    if args.only:
        cases = [c for c in cases if c.workload in args.only or c.id.upper() in args.only]
    return cases


def selected_plugins(args: argparse.Namespace) -> List[str]:
    """The plug-in workloads this run includes: those --only names (W3-load also with --only
    W3); without --only, all of them unless --systems narrows the run (a plug-in compares
    systems of its own)."""
    if args.only:
        return [w for w in workloads.PLUGIN_WORKLOADS
                if w.upper() in args.only or w.split("-")[0] in args.only]
    return [] if args.systems else list(workloads.PLUGIN_WORKLOADS)


def jobs_of(cases: List[workloads.Case]) -> List[Dict[str, Any]]:
    """Groups cases into worker calls: W4's two cases come from one call."""
    jobs: List[Dict[str, Any]] = []
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


def run_worker(system: str, job: Dict[str, Any], ctx: Dict[str, Any]) -> Dict[str, Any]:
    """One worker process; returns its result dict (status ok/skipped/error)."""
    case = job["cases"][0]
    threads = job["params"].get("threads", 1)
    cmd = [sys.executable, "-m", "nnpy.benchmarks.worker", system, job["workload"], case.id,
           "--threads", str(threads), "--repeats", str(ctx["repeats"]),
           "--params", json.dumps(job["params"]), "--calls", str(ctx["calls"])]
    if ctx["data"]:
        cmd += ["--data", ctx["data"]]
    if job["workload"] == "W3" and threads == 1 and ctx.get("memory", True) and (
            not ctx["quick"] or system in ("nnpy", "numpy")):
        cmd.append("--memory")  # peak memory: nnpy against numpy (and torch in a full run)
    if ctx["quick"]:
        cmd += ["--budget", str(QUICK_BUDGET_S), "--min-repeats", "2"]
    return run_process(cmd, machine.set_thread_env(threads, dict(ctx["env"])), ctx["timeout"])


def notes_of(args: argparse.Namespace, removed_env: Dict[str, str]) -> List[str]:
    """What each system does exactly: the notes at the end of results.md."""
    notes = [
        "Thread counts: 1 everywhere (OMP/OPENBLAS/MKL_NUM_THREADS=1 set before numpy loads, "
        "threadpoolctl limits, torch.set_num_threads(1)) except the W3 rows marked 2t: 2 "
        "OpenBLAS threads for numpy, torch.set_num_threads(2), and fit(n_threads=2) for nnpy "
        "when its fit has that parameter (the entry's nnpy_threads in results.json says which "
        "ran). Each measurement runs in its own process.",
        f"Rounds: each system's repeats are spread over {args.rounds} round(s); in each round "
        "the systems of a case are measured in turn, in an order rotated from round to round, "
        "so that a slow phase of this shared machine (they last minutes, and can double a "
        "time) falls on every system of a comparison alike rather than on one of them.",
        "Ratios are computed from medians within this run; absolute times drift on this "
        "shared machine.",
        "numpy is the peer at its best: buffers allocated once, two matrix products forward "
        "and three backward per batch, elementwise work in place with out=, the learning rate "
        "folded into the output deltas, each batch's rows gathered into a buffer "
        "(systems/numpy_lean.py); W1 and W4's one sample use 1-D vectors and np.dot, W1 in "
        "plain expressions (faster than out= on 2-vectors). reference is nnpy.reference, "
        "the same algorithm written to be read: the post's loop on W1, reference.sgd on W2/W3.",
        "W1: nnpy-post and reference run the post's loop (randrange(0, 4), all four samples, "
        "forwardPass + backPropogation + the post's 0.5*error**2 bookkeeping). nnpy runs "
        "Network.fit(epochs=steps/4, batch_size=1, shuffle=True): shuffled epochs of the 4 "
        "samples, not draws with replacement. numpy, torch, FANN and C draw one of the 4 "
        "samples uniformly per step (numpy all draws before the loop) and do standard backprop.",
        f"W6-xor: nnpy-stack is one NetworkStack.fit of {workloads.W6_NETWORKS} W1 networks "
        f"(seeds 0-{workloads.W6_NETWORKS - 1}, init uniform01), {workloads.W6_STEPS:,} "
        "per-sample steps each (fit(epochs=steps/4, lr 0.125, batch_size=1, shuffle=True): "
        "each network its own shuffled epochs), timed per network-step (the fit's time over "
        f"{workloads.W6_NETWORKS} x steps); nnpy is Network.fit of one of them (seed 0) and "
        "c-limit W1's C program (sizes fixed at compile time; uniform draws) for one network, "
        "and fann FANN's fann_train on one network, all with the same steps, per step; "
        "c-lockstep is a C program (limit/xor_lockstep.c) that trains 16 such networks in "
        "lockstep, each weight's 16 copies side by side in vector lanes (a vectorisable exp of "
        "its own in the sigmoid), per network-step. The targets: the stack at most 0.25x the "
        "lone fit and 0.5x the C program per network-step.",
        "W2: accuracy on the last 297 rows (by-writer split, a timing workload). numpy, "
        "reference, torch, C and FANN start from the same N(0,1) weights (seed 0) and visit the "
        "same epoch orders; nnpy starts from the same weights (Network(seed=0) draws them as "
        "nnpy.reference.init_params does) but shuffles with its own generator. With N(0,1) "
        "starts the accuracy depends on the seed (about 0.82-0.92 over seeds 0-3). sklearn's "
        "loss is softmax cross-entropy (learning_rate_init="
        f"{workloads.SKLEARN_LR}; 3.0 is too large for it) and it starts from its own Glorot "
        "weights.",
        "W2-b1 and FANN: FANN has no mini-batch SGD; its incremental training is fann_train "
        "on one sample after the other (what fann_train_epoch does with "
        "FANN_TRAIN_INCREMENTAL). So FANN is compared at batch 1: W2's network, data, start "
        "weights and epoch orders, one SGD step per sample with lr 0.3 (W2's 3.0 / 10: the "
        "same step per sample), against nnpy's fit(batch_size=1, lr=0.3) and the C yardstick "
        "at batch 1. W2's batch of 10 has no FANN entry.",
        "FANN (libdoublefann; its Debian version under versions): FANN_SIGMOID at steepness "
        "0.5 (FANN's sigmoid is 1/(1+exp(-2*s*x)), so this is nnpy's), FANN_ERRORFUNC_LINEAR, "
        "momentum 0: "
        "each fann_train is one SGD step on 0.5 * squared error, deltas from the weights "
        "before the step. FANN's own: its derivative clips the activation to [0.01, 0.99], "
        "its learning rate is a float, fann_train also updates its MSE counters. W4 is "
        "fann_run per sample (one sample: repeated calls; batch: all 1797 rows, one call "
        "each). Called from C: no Python in its times.",
        "W3: GFLOP/s counts 6*batch*(784*256+256*10) flops per batch (forward, weight "
        "gradient, delta passed down; not the update or the elementwise work): "
        f"{workloads.w3_flops_per_epoch() / 1e9:.2f} GFLOP per epoch. Peak memory is measured "
        "in separate untimed fits (1-thread rows). Both cores of this machine are shared "
        "with other work, so 2t rows can come out slower than 1t.",
        "W4: one sample from Python: nnpy predict(x) and numpy (np.dot into buffers) with x "
        "of shape (64,), sklearn predict_proba of a (1, 64) row, torch under inference_mode "
        "through torch.addmv/torch.sigmoid on the layers' parameters (a (64,) tensor; the "
        "plain module call net(x) is 2-3x slower: sequential_ns_per_call in results.json). "
        "The network is untrained (forward cost does not depend on the values).",
        "torch: nn.Sequential of Linear + Sigmoid, optim.SGD, zero_grad/backward/step per "
        "batch; the loss is MSELoss(reduction='sum') with lr * 0.5 / batch (the same step as "
        "nnpy's mse: 0.5 * squared error, mean over the batch); each epoch's rows gathered "
        "once; float64 except in W3's float32 rows.",
        "c-limit: -O3 -march=native (allowed for the yardstick only), sizes fixed at compile "
        "time; c-limit-dyn: sizes read at run time (W1); c-limit-O2: plain -O2; c-lockstep "
        "(W6): 16 networks in lockstep, -O3 -march=native. The C programs "
        "(and the FANN harness) time their own loops with clock_gettime.",
    ]
    if removed_env:
        notes.append(f"Removed from the environment for all runs: {removed_env} (they slow a "
                     "current numpy's OpenBLAS).")
    else:
        notes.append("OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE were not set.")
    return notes


def main(argv: Optional[List[str]] = None, prog: str = NNPY_BENCH,
         default_out: str = "bench-results") -> int:
    """Runs the suite with command-line arguments `argv` (default sys.argv[1:]) as `prog`,
    writing to `default_out` unless --out says otherwise; returns the exit status (2 for a
    bad argument, after a message)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_args(argv, prog, default_out)
    except SystemExit as exit_:  # argparse printed the help, or the message
        return exit_.code if isinstance(exit_.code, int) else 2
    started = time.time()
    # Every measurement runs in a worker process whose environment is this one's, with one
    # thread unless a case says otherwise and without the slow OpenBLAS settings. (This
    # process only prepares data: numpy may already be loaded here when the `nnpy bench`
    # command calls main, too late for thread limits, so nothing is measured in it.)
    base_env = machine.set_thread_env(1, dict(os.environ))
    removed_env = machine.drop_slow_openblas_vars(base_env)
    repeats = args.repeats or (3 if args.quick else 5)
    cases = selected_cases(args)
    results: Dict[str, Any] = {
        "meta": {
            "command": " ".join([prog] + argv),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
            "quick": args.quick, "repeats": repeats, "rounds": args.rounds,
            "machine": machine.describe(),
            "versions": machine.versions(), "removed_env": removed_env,
            "systems": list(workloads.ALL_SYSTEMS), "notes": notes_of(args, removed_env),
        },
        "cases": {c.id: {"title": c.title, "metric": c.metric, "params": c.params,
                         "systems": {}} for c in cases},
        "plugins": {},
    }
    ctx = {"quick": args.quick, "repeats": repeats, "rounds": args.rounds, "env": base_env,
           "calls": 20_000 if args.quick else 50_000,
           "timeout": 240 if args.quick else 1800}
    if cases:
        run_cases(results, cases, args.systems, ctx, started)
    for workload in selected_plugins(args):
        say(started, f"{workload}: running (its own module)")
        outcome = plugins.run_in_worker(workload, args.quick, repeats, base_env,
                                        ctx["timeout"] * 2)
        results["plugins"][workload] = outcome
        if outcome["status"] != "ok":
            say(started, f"{workload} {outcome['status']}: {outcome.get('reason')}")

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


def run_cases(results: Dict[str, Any], cases: List[workloads.Case],
              only_systems: Optional[List[str]], ctx: Dict[str, Any], started: float) -> None:
    """Measures every (system, case) of the run; results go into results["cases"]."""
    def wanted(case: workloads.Case) -> List[str]:
        return [s for s in case.systems if only_systems is None or s in only_systems]

    with tempfile.TemporaryDirectory(prefix="nnpy-bench-") as tmp:
        # Data and builds, once for the whole run (only what the selected cases need)
        ctx = dict(ctx, data=tmp)
        if any(c.workload in ("W2", "W4") and wanted(c) for c in cases):
            try:
                workloads.write_digits(tmp)
            except ImportError as exc:
                ctx["data"] = None
                results["meta"]["notes"].append(
                    f"scikit-learn missing ({exc}): W2 and W4 have no data, skipped.")
        compiled = {s for c in cases for s in wanted(c)} & set(workloads.C_SYSTEMS)
        binaries: Dict[str, Optional[str]] = {}
        fann_path, fann_reason = None, None
        if compiled:
            binaries, build_log = climit.build(tmp)
            fann_path, fann_log, fann_reason = fann_c.build(tmp)
            results["meta"]["c_build"] = {"c-limit": build_log, "fann": fann_log}
            say(started, f"C built in {build_log.get('seconds', 0)} s"
                         + (f"; fann {fann_reason}" if fann_reason else ""))

        tp_info = results["meta"].setdefault("threadpool_info", {})
        for job in jobs_of(cases):
            systems = [s for s in workloads.ALL_SYSTEMS
                       if any(s in wanted(c) for c in job["cases"])]
            outs: Dict[str, List[Dict[str, Any]]] = {s: [] for s in systems}
            for r, reps in enumerate(rounds_of(ctx["repeats"], ctx["rounds"])):
                turn = r % len(systems) if systems else 0
                for system in systems[turn:] + systems[:turn]:
                    if outs[system] and outs[system][-1].get("status") != "ok":
                        continue  # skipped or failed: not tried again
                    round_ctx = dict(ctx, repeats=reps, memory=r == 0)  # memory: measured once
                    outs[system].append(measure_once(system, job, round_ctx, binaries,
                                                     fann_path, fann_reason))
            for system in systems:
                record(results, job, system, merge_rounds(outs[system]), tp_info, started)

    for cid, case in results["cases"].items():
        if cid.startswith("W3"):
            for entry in case["systems"].values():
                if "median_s" in entry:
                    entry["gflops"] = workloads.w3_flops_per_epoch() / entry["median_s"] / 1e9


def rounds_of(repeats: int, rounds: int) -> List[int]:
    """The repeats of each round: `repeats` spread over `rounds` rounds (fewer rounds when
    there are fewer repeats), the first rounds taking one more where they do not divide."""
    n = max(1, min(rounds, repeats))
    return [repeats // n + (1 if r < repeats % n else 0) for r in range(n)]


def measure_once(system: str, job: Dict[str, Any], ctx: Dict[str, Any],
                 binaries: Dict[str, Optional[str]], fann_path: Optional[str],
                 fann_reason: Optional[str]) -> Dict[str, Any]:
    """One round of one system on one job: ctx["repeats"] repeats, in a worker process (or
    the C and FANN harnesses); returns its result dict (status ok/skipped/error)."""
    if ctx["data"] is None and job["workload"] in ("W2", "W4"):
        return {"status": "skipped",
                "reason": 'not installed (scikit-learn, for the digits data: '
                          'pip install "nnpy-net[bench]")'}
    if system == "fann":
        return fann_c.run(job["workload"], job["params"], dict(ctx, case=job["cases"][0].id),
                          fann_path, fann_reason)
    if system in climit.VARIANTS:
        return climit.run(system, job["workload"], job["params"],
                          dict(ctx, case=job["cases"][0].id), binaries)
    return run_worker(system, job, ctx)


def merge_rounds(outs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """One system's outcome over its rounds: under each case the repeats of every round
    (times_s joined, in order) and the rest from the last round that reported it; a round
    that did not succeed makes the outcome that round's (skipped, or the error)."""
    failed = next((out for out in outs if out.get("status") != "ok"), None)
    if failed is not None or not outs:
        return failed or {"status": "error", "reason": "not measured"}
    merged = dict(outs[-1], cases={})
    for out in outs:
        for cid, entry in out.get("cases", {}).items():
            into = merged["cases"].setdefault(cid, {})
            times = into.get("times_s", []) + list(entry.get("times_s", []))
            into.update(entry)
            into["times_s"] = times
    return merged


def record(results: Dict[str, Any], job: Dict[str, Any], system: str, out: Dict[str, Any],
           tp_info: Dict[str, Any], started: float) -> None:
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


def say(started: float, text: str) -> None:
    print(f"[{time.time() - started:5.0f} s] {text}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
