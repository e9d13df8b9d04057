"""Turns the raw measurements of a run into figures, ratios, the targets' verdicts, and the
three output files: results.json, results.md (tables) and results.png (bar chart)."""
from __future__ import annotations

import json
import os
import statistics
from typing import Any, Dict, List, Optional, Tuple

# One system's measurements on one case ({"status", "times_s", "work", "median_s", ...}), and
# the cases of a run ({case id: {"title", "metric", "systems": {system: Entry}}}): JSON.
Entry = Dict[str, Any]
Cases = Dict[str, Any]

from nnpy.benchmarks import plugins

# Metric shown per case kind: (unit, from (seconds, work), higher is better?)
METRICS = {
    "ns/step": (lambda t, w: t / w * 1e9, False),
    "ns/call": (lambda t, w: t / w * 1e9, False),
    "ns/network-step": (lambda t, w: t / w * 1e9, False),
    "ms/epoch": (lambda t, w: t / w * 1e3, False),
    "samples/s": (lambda t, w: w / t, True),
}

# The targets. Each compares `mine` (case, system) with `other` (case, system):
#   "time":    mine's time per unit over other's must be <= bound (mine takes at most bound x)
#   "speedup": other's time per unit over mine's must be >= bound (mine is bound x as fast)
#   "accuracy": mine's accuracy within bound of each of `other` (a tuple of systems, same case)
# Issue 11's targets first, then W6's; then the earlier ones (issue 4) that no later target
# replaces.
TARGETS = [
    ("W1: nnpy fit <= 1.5x the C yardstick's time (fixed sizes)",
     ("W1", "nnpy"), "time", 1.5, ("W1", "c-limit")),
    ("W1: nnpy fit <= 0.6x FANN's time (fann_train per sample)",
     ("W1", "nnpy"), "time", 0.6, ("W1", "fann")),
    ("W1: the post's loop on nnpy >= 20x the post's numpy loop",
     ("W1", "nnpy-post"), "speedup", 20.0, ("W1", "reference")),
    ("W2: nnpy fit <= 0.9x the hand-tuned C's time",
     ("W2", "nnpy"), "time", 0.9, ("W2", "c-limit")),
    ("W4: one-sample predict <= 2.5x C's time",
     ("W4-one", "nnpy"), "time", 2.5, ("W4-one", "c-limit")),
    ("W4: one-sample predict <= 0.55x FANN's fann_run",
     ("W4-one", "nnpy"), "time", 0.55, ("W4-one", "fann")),
    ("W3 float64, 1 thread: nnpy >= 1.1x numpy's throughput",
     ("W3-64-1t", "nnpy"), "speedup", 1.1, ("W3-64-1t", "numpy")),
    ("W3 float32, 1 thread: nnpy >= 1.0x numpy's throughput",
     ("W3-32-1t", "nnpy"), "speedup", 1.0, ("W3-32-1t", "numpy")),
    ("W3 float64, 2 threads: nnpy >= 1.7x nnpy on one thread",
     ("W3-64-2t", "nnpy"), "speedup", 1.7, ("W3-64-1t", "nnpy")),
    ("W3 float64, 2 threads: nnpy >= numpy on two threads",
     ("W3-64-2t", "nnpy"), "speedup", 1.0, ("W3-64-2t", "numpy")),
    ("W6-xor: 16 networks in one NetworkStack.fit <= 0.25x a lone Network.fit's time per "
     "network-step", ("W6-xor", "nnpy-stack"), "time", 0.25, ("W6-xor", "nnpy")),
    ("W6-xor: 16 networks in one NetworkStack.fit <= 0.5x the C yardstick's time per "
     "network-step (one network, fixed sizes)",
     ("W6-xor", "nnpy-stack"), "time", 0.5, ("W6-xor", "c-limit")),
    # kept from issue 4: no issue-11 target covers them
    ("W2: nnpy >= 3x numpy's speed (issue 4)",
     ("W2", "nnpy"), "speedup", 3.0, ("W2", "numpy")),
    ("W2: at the same accuracy, within 0.03 of numpy and torch (issue 4)",
     ("W2", "nnpy"), "accuracy", 0.03, ("numpy", "torch")),
    ("W4: batch throughput >= numpy's (issue 4)",
     ("W4-batch", "nnpy"), "speedup", 1.0, ("W4-batch", "numpy")),
]


def summarise(entry: Entry, metric: str) -> Entry:
    """Adds median/min seconds and the metric to one system's entry of one case."""
    times = entry.get("times_s")
    if entry.get("status") != "ok" or not times:
        return entry
    to_metric, _ = METRICS[metric]
    work = entry["work"]
    entry["median_s"] = statistics.median(times)
    entry["min_s"] = min(times)
    entry["median"] = to_metric(entry["median_s"], work)
    entry["best"] = to_metric(entry["min_s"], work)
    entry["unit"] = metric
    entry["repeats"] = len(times)
    return entry


def per_unit(entry: Entry, which: str = "median_s") -> float:
    return entry[which] / entry["work"]


def ok(cases: Cases, case: str, system: str) -> Optional[Entry]:
    entry = cases.get(case, {}).get("systems", {}).get(system)
    return entry if entry and entry.get("status") == "ok" and "median_s" in entry else None


def ratios(cases: Cases, mine: str = "nnpy") -> dict[str, dict[str, dict[str, float]]]:
    """{case: {other: speedup of `mine` over other (median; and from minimums)}}."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for case, data in cases.items():
        me = ok(cases, case, mine)
        if me is None:
            continue
        row: dict[str, dict[str, float]] = {}
        for other in data["systems"]:
            you = ok(cases, case, other)
            if other == mine or you is None:
                continue
            row[other] = {"median": per_unit(you) / per_unit(me),
                          "min": per_unit(you, "min_s") / per_unit(me, "min_s")}
        out[case] = row
    return out


def evaluate_targets(cases: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Each target's verdict (met / missed / n/a) with the ratio measured in this run."""
    verdicts = []
    for text, (case, mine), kind, bound, other in TARGETS:
        me = ok(cases, case, mine)
        verdict = {"target": text, "case": case, "bound": bound}
        if me is None:
            verdict.update(status="n/a", detail=f"{mine} did not run on {case}")
        elif kind == "accuracy":
            verdict.update(accuracy_verdict(cases, case, me, other, bound))
        else:
            you = ok(cases, *other)
            if you is None:
                verdict.update(status="n/a", detail=f"{other[1]} did not run on {other[0]}")
            else:
                verdict.update(ratio_verdict(kind, bound, me, you, (case, mine), other))
        verdicts.append(verdict)
    return verdicts


def label(case_system: Tuple[str, str], mine_case: str) -> str:
    """`system`, or `system on case` when the ratio crosses cases."""
    case, system = case_system
    return system if case == mine_case else f"{system} on {case}"


def ratio_verdict(kind: str, bound: float, me: Dict[str, Any], you: Dict[str, Any],
                  mine: Tuple[str, str], other: Tuple[str, str]) -> Dict[str, Any]:
    if kind == "time":
        r = per_unit(me) / per_unit(you)
        good = r <= bound
        detail = (f"{label(mine, mine[0])} takes {r:.3g}x {label(other, mine[0])}'s time "
                  f"(target <= {bound:g}x)")
    else:
        r = per_unit(you) / per_unit(me)
        good = r >= bound
        detail = (f"{label(mine, mine[0])} is {r:.3g}x as fast as {label(other, mine[0])} "
                  f"(target >= {bound:g}x)")
    if me.get("nnpy_threads") is not None and me.get("threads", 1) > me["nnpy_threads"]:
        detail += (f"; nnpy ran {me['nnpy_threads']} thread (its fit has no n_threads "
                   "parameter yet)")
    return {"value": r, "status": "met" if good else "missed", "detail": detail}


def accuracy_verdict(cases: Dict[str, Any], case: str, me: Dict[str, Any],
                     others: Tuple[str, ...], bound: float) -> Dict[str, Any]:
    mine_acc = me.get("accuracy")
    diffs, missing = {}, []
    for o in others:
        you = ok(cases, case, o)
        if you is None or you.get("accuracy") is None or mine_acc is None:
            missing.append(o)
        else:
            diffs[o] = mine_acc - you["accuracy"]
    if not diffs:
        return {"status": "n/a", "detail": f"missing {', '.join(missing)}"}
    good = all(abs(x) <= bound for x in diffs.values())
    return {"value": diffs, "status": "met" if good else "missed",
            "detail": f"nnpy {mine_acc:.3f}; " + ", ".join(
                f"{o} {mine_acc - x:.3f}" for o, x in diffs.items())
            + (f"; missing {', '.join(missing)}" if missing else "")}


def linearity(cases: Cases) -> dict[str, dict[str, float]]:
    """ns/step at 100,000 steps over ns/step at 10,000, per system (1.0 = linear), from the
    fastest repeats (a short loop of the C yardstick takes under a millisecond, and on a
    shared machine the medians of long loops take more preemption: minimums compare better)."""
    out: dict[str, dict[str, float]] = {}
    for system in cases.get("W1", {}).get("systems", {}):
        short, long_ = ok(cases, "W1", system), ok(cases, "W1-100k", system)
        if short and long_:
            out[system] = {"min": long_["best"] / short["best"],
                           "median": long_["median"] / short["median"]}
    return out


# ---------------------------------------------------------------------------------------------
# Output files
# ---------------------------------------------------------------------------------------------

def fmt(value: Optional[float], metric: str) -> str:
    if value is None:
        return ""
    if metric == "samples/s":
        return f"{value:.3g}"
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def cell(entry: Optional[Dict[str, Any]], metric: str) -> str:
    if entry is None:
        return "-"
    status = entry.get("status")
    if status == "ok" and "median" in entry:
        text = fmt(entry["median"], metric)
        if entry.get("accuracy") is not None:
            text += f" (acc {entry['accuracy']:.3f})"
        if entry.get("gflops") is not None:
            text += f" ({entry['gflops']:.1f} GFLOP/s)"
        ran = entry.get("nnpy_threads")
        if ran is not None and entry.get("threads", 1) > ran:
            text += f" ({ran} thread: no n_threads)"
        return text
    reason = entry.get("reason", status or "?")
    if reason == "n/a":
        return "n/a"
    if reason.startswith("not installed"):
        return "skipped: not installed"
    return f"{status}: " + " ".join(reason.replace("|", "/").split())[:60]


def markdown(results: Dict[str, Any]) -> str:
    meta, cases = results["meta"], results["cases"]
    systems = [s for s in meta["systems"] if any(s in c["systems"] for c in cases.values())]
    lines = [f"# nnpy benchmark results{' (--quick)' if meta['quick'] else ''}", ""]
    lines.append(f"{meta['started']}; {meta['machine']['cpu_model']}, nproc "
                 f"{meta['machine']['nproc']}; Python {meta['machine']['python']}; "
                 + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
                 + f"; nnpy core {meta.get('nnpy_cpu_level')}. "
                 f"Run took {meta['duration_s']:.0f} s; load average at start "
                 f"{meta['machine']['loadavg_at_start']}.")
    lines.append("")
    lines.append("Median over repeats (minimum in results.json). 1 thread everywhere unless "
                 "the row says 2t. Lower is better for ns and ms, higher for samples/s. "
                 "\"-\": not part of this case (or left out by --quick); \"n/a\": the system "
                 "has no such variant.")
    lines.append("")
    lines.append("| case | unit | " + " | ".join(systems) + " |")
    lines.append("|---|---|" + "---|" * len(systems))
    for case_id, case in cases.items():
        row = [case_id, case["metric"]]
        row += [cell(case["systems"].get(s), case["metric"]) for s in systems]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")

    lines.append("## nnpy against each system (same run)")
    lines.append("")
    lines.append("Speed-up of nnpy's fit/predict: the other system's time per unit over nnpy's "
                 "(medians; > 1 means nnpy is faster).")
    lines.append("")
    others = [s for s in systems if s != "nnpy"]
    lines.append("| case | " + " | ".join(others) + " |")
    lines.append("|---|" + "---|" * len(others))
    for case_id, row in results["ratios"].items():
        lines.append("| " + case_id + " | " + " | ".join(
            f"{row[o]['median']:.3g}x" if o in row else "-" for o in others) + " |")
    lines.append("")

    lines.append("## Targets")
    lines.append("")
    lines.append("| target | verdict | measured |")
    lines.append("|---|---|---|")
    for t in results["targets"]:
        lines.append(f"| {t['target']} | **{t['status']}** | {t.get('detail', '')} |")
    lines.append("")

    if results.get("linearity"):
        lines.append("## W1: is it linear?")
        lines.append("")
        lines.append("ns/step at 100,000 steps over ns/step at 10,000 (1.0 = linear), from "
                     "the fastest repeats and from the medians.")
        lines.append("")
        lines.append("| | " + " | ".join(results["linearity"]) + " |")
        lines.append("|---|" + "---|" * len(results["linearity"]))
        for which in ("min", "median"):
            lines.append(f"| {which} | " + " | ".join(
                f"{v[which]:.2f}" for v in results["linearity"].values()) + " |")
        lines.append("")

    if any("peak_traced_MB" in e for c in cases.values() for e in c["systems"].values()):
        lines.append("## W3 peak memory during one fit (MB)")
        lines.append("")
        lines.append("tracemalloc peak (Python and numpy allocations) / peak resident set above "
                     "the resident set at the call's start (catches what the compiled core "
                     "or torch allocate).")
        lines.append("")
        lines.append("| case | system | tracemalloc | resident |")
        lines.append("|---|---|---|---|")
        for case_id, case in cases.items():
            for system, e in case["systems"].items():
                if "peak_traced_MB" in e:
                    lines.append(f"| {case_id} | {system} | {e['peak_traced_MB']} | "
                                 f"{e.get('peak_rss_above_start_MB')} |")
        lines.append("")

    for workload, outcome in results.get("plugins", {}).items():
        lines.append(plugins.section(workload, outcome))

    skipped = skipped_systems(results)
    if skipped:
        lines.append("## Skipped")
        lines.append("")
        for system, reason in skipped.items():
            lines.append(f"- {system}: {reason}")
        lines.append("")

    lines.append("## Notes")
    lines.append("")
    for note in meta["notes"]:
        lines.append(f"- {note}")
    lines.append("")
    return "\n".join(lines)


def skipped_systems(results: Dict[str, Any]) -> Dict[str, str]:
    """{system: reason} for every system skipped as not installed (once per system)."""
    out: Dict[str, str] = {}
    for case in results["cases"].values():
        for system, entry in case["systems"].items():
            reason = entry.get("reason") or ""
            if entry.get("status") == "skipped" and reason.startswith("not installed"):
                out.setdefault(system, reason)
    return out


def chart(results: Dict[str, Any], path: str) -> Optional[str]:
    """Bar chart, one panel per case, log scale; returns a message when it cannot."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: results.png skipped"
    cases = results["cases"]
    panels = [(cid, c) for cid, c in cases.items()
              if any(e.get("status") == "ok" and "median" in e for e in c["systems"].values())]
    if not panels:
        return "nothing measured: results.png skipped"
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 3.3 * rows), squeeze=False)
    colors = {"nnpy": "#d62728", "nnpy-post": "#ff9896", "nnpy-stack": "#8b0000",
              "reference": "#7f7f7f", "numpy": "#1f77b4", "torch": "#ff7f0e", "sklearn": "#2ca02c",
              "fann": "#9467bd", "c-limit": "#000000", "c-limit-dyn": "#555555",
              "c-limit-O2": "#999999"}
    for ax, (cid, case) in zip(axes.flat, panels):
        items = [(s, e) for s, e in case["systems"].items()
                 if e.get("status") == "ok" and "median" in e]
        names = [s for s, _ in items]
        values = [e["median"] for _, e in items]
        y = range(len(items))
        ax.barh(y, values, color=[colors.get(n, "#8c564b") for n in names])
        ax.set_yticks(list(y))
        ax.set_yticklabels(names, fontsize=9)
        ax.invert_yaxis()
        ax.set_xscale("log")
        higher = METRICS[case["metric"]][1]
        ax.set_title(f"{case['title']}\n{case['metric']}, "
                     f"{'higher' if higher else 'lower'} is better", fontsize=10)
        for i, v in enumerate(values):
            ax.text(v, i, " " + fmt(v, case["metric"]), va="center", fontsize=8)
        lo, hi = min(values), max(values)
        ax.set_xlim(lo / 2, hi * 8)  # room for the value labels
        ax.tick_params(axis="x", labelsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"nnpy benchmarks{' (--quick)' if results['meta']['quick'] else ''}: "
                 f"median of repeats, log scale, {results['meta']['machine']['cpu_model']}",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def write(results: Dict[str, Any], out_dir: str) -> tuple[str, Optional[str]]:
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    text = markdown(results)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(text)
    message = chart(results, os.path.join(out_dir, "results.png"))
    return text, message
