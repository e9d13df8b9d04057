"""The benchmark suite (nnpy.benchmarks, `nnpy bench`, bench/run.py): its command line, where
its results go, its skip messages, the W5 plug-in wiring, and that its peers compute what nnpy
computes (the numpy peer against nnpy.reference, torch's step, FANN against the C yardstick).
No timing is asserted: only what a run reports and how."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nnpy import benchmarks, reference
from nnpy.benchmarks import plugins, report, run, workloads
from nnpy.benchmarks.systems import Skip, climit, fann_c, need, numpy_lean

BENCH_SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "run.py"


def bench(capsys, *argv, **kwargs):
    status = benchmarks.main(list(argv), **kwargs)
    out, err = capsys.readouterr()
    return status, out, err


# --- command line --------------------------------------------------------------------------

@pytest.mark.parametrize("argv, names", [
    (["--only", "W9"], "W9"),
    (["--only", "W1,nope"], "NOPE"),
    (["--only", ","], "--only"),
    (["--systems", "nnpy,matlab"], "matlab"),
    (["--repeats", "0"], "--repeats"),
    (["--repeats", "x"], "--repeats"),
    (["--no-such-option"], "--no-such-option"),
])
def test_bad_arguments_give_a_message_and_status_2(capsys, argv, names):
    status, out, err = bench(capsys, *argv)
    assert status == 2
    assert names in err and "usage: nnpy bench" in err
    assert "Traceback" not in err


def test_out_that_is_a_file_is_refused_before_running(capsys, tmp_path):
    target = tmp_path / "results"
    target.write_text("")
    status, _, err = bench(capsys, "--out", str(target), "--only", "W1")
    assert status == 2 and "is a file" in err


def test_nnpy_bench_with_an_unknown_workload_exits_2():
    done = subprocess.run([sys.executable, "-m", "nnpy", "bench", "--only", "W9"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "W9" in done.stderr and "Traceback" not in done.stderr


def test_nnpy_bench_help_names_itself_and_its_results_folder(capsys):
    status, out, _ = bench(capsys, "--help")
    assert status == 0
    assert out.startswith("usage: nnpy bench")
    assert "bench-results" in out


@pytest.mark.skipif(not BENCH_SCRIPT.exists(), reason="no source checkout (bench/run.py)")
def test_bench_script_help_names_itself_and_bench_results(tmp_path):
    done = subprocess.run([sys.executable, str(BENCH_SCRIPT), "--help"],
                          cwd=BENCH_SCRIPT.parents[1], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python bench/run.py")
    assert "nnpy bench" not in done.stdout
    assert os.path.join("bench", "results") in done.stdout


def test_default_results_folders():
    assert run.parse_args([]).out == "bench-results"
    assert run.parse_args([], "python bench/run.py", "bench/results").out == "bench/results"
    assert run.parse_args(["--out", "x"]).out == "x"


def test_only_accepts_workloads_and_cases_in_any_case():
    args = run.parse_args(["--only", "w1,W3-64-2t,W5", "--quick"])
    cases = [c.id for c in run.selected_cases(args)]
    assert cases == ["W1", "W1-100k", "W3-64-2t"]
    assert run.selected_plugins(args) == ["W5"]
    assert run.selected_plugins(run.parse_args(["--only", "W1"])) == []
    assert run.selected_plugins(run.parse_args([])) == ["W3-load", "W5", "W6-cv", "W6-sweep"]
    assert run.selected_plugins(run.parse_args(["--only", "w6-cv"])) == ["W6-cv"]
    assert run.selected_plugins(run.parse_args(["--only", "W6"])) == ["W6-cv", "W6-sweep"]
    assert run.selected_plugins(run.parse_args(["--systems", "nnpy"])) == []


def test_quick_runs_w3_on_two_threads_in_float64():
    quick = {c.id: c for c in workloads.cases(quick=True)}
    full = {c.id for c in workloads.cases(quick=False)}
    assert quick["W3-64-2t"].params == {"dtype": "float64", "threads": 2}
    assert "W3-32-2t" not in quick and "W3-32-2t" in full


# --- skip messages -------------------------------------------------------------------------

def test_a_missing_torch_is_skipped_with_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch fails
    with pytest.raises(Skip, match=r"not installed \(torch.*pip install torch"):
        need("torch")


def test_nnpy_bench_without_torch_says_how_to_install_it(capsys, tmp_path, monkeypatch):
    # a `torch` package that fails to import, ahead of any real one, in the worker processes
    fake = tmp_path / "site" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('torch is hidden by a test')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    status, out, _ = bench(capsys, "--only", "W1", "--systems", "torch", "--quick",
                           "--repeats", "1", "--out", str(tmp_path / "out"))
    assert status == 0
    assert "pip install torch" in out
    md = (tmp_path / "out" / "results.md").read_text()
    assert "## Skipped" in md and "torch: not installed" in md and "pip install torch" in md
    entry = json.loads((tmp_path / "out" / "results.json").read_text())
    assert entry["cases"]["W1"]["systems"]["torch"]["status"] == "skipped"


def test_fann_missing_is_skipped_with_the_apt_package(tmp_path, monkeypatch):
    failed = {"fann": None}, {"failed": {"fann": "fann.c:22:10: fatal error: doublefann.h: "
                                                 "No such file or directory"}}
    monkeypatch.setattr(climit, "build", lambda folder, builds=None: failed)
    path, _, reason = fann_c.build(str(tmp_path))
    assert path is None and "apt-get install libfann-dev" in reason
    out = fann_c.run("W1", {"steps": 10}, {"repeats": 1, "timeout": 10, "case": "W1"}, path,
                     reason)
    assert out == {"status": "skipped", "reason": reason}


def test_no_c_compiler_skips_the_compiled_systems(tmp_path, monkeypatch):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    binaries, log = climit.build(str(tmp_path))
    assert set(binaries.values()) == {None} and "no C compiler" in log["error"]
    out = climit.run("c-limit", "W1", {"steps": 10}, {"repeats": 1, "timeout": 10,
                                                       "case": "W1"}, binaries)
    assert out["status"] == "skipped" and "no C compiler" in out["reason"]
    assert "no C compiler" in fann_c.build(str(tmp_path))[2]


def test_report_lists_each_skipped_system_once():
    entry = {"status": "skipped", "reason": "not installed (torch: x; pip install torch)"}
    results = {"cases": {"W1": {"systems": {"torch": entry, "nnpy": {"status": "ok"}}},
                         "W2": {"systems": {"torch": entry}}}}
    assert report.skipped_systems(results) == {"torch": entry["reason"]}


# --- the W5 plug-in ------------------------------------------------------------------------

FAKE_W5 = '''
def run(quick, repeats):
    return {"rows": [{"name": "digits", "seconds": {"nnpy": 0.1, "sklearn": 0.3},
                      "score": {"nnpy": 0.97, "sklearn": 0.96}}],
            "quick": quick, "repeats": repeats}


def markdown(result):
    row = result["rows"][0]
    return "## W5 fake\\n\\n| " + row["name"] + " | " + str(row["score"]["nnpy"]) + " |\\n"
'''


@pytest.fixture
def fake_w5(tmp_path, monkeypatch):
    """A stand-in W5 module on the path of this process and of the workers."""
    (tmp_path / "fake_w5_plugin.py").write_text(textwrap.dedent(FAKE_W5))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setitem(plugins.PLUGINS, "W5", ("fake_w5_plugin", (), ""))
    return tmp_path


def test_w5_plugin_runs_in_a_worker_and_its_table_lands_in_the_report(capsys, fake_w5):
    out_dir = fake_w5 / "out"
    status, _, _ = bench(capsys, "--only", "W5", "--quick", "--repeats", "2",
                         "--out", str(out_dir))
    assert status == 0
    results = json.loads((out_dir / "results.json").read_text())
    w5 = results["plugins"]["W5"]
    assert w5["status"] == "ok"
    assert w5["result"]["quick"] is True and w5["result"]["repeats"] == 2
    assert results["cases"] == {}
    assert "## W5 fake\n\n| digits | 0.97 |" in (out_dir / "results.md").read_text()


def test_w5_that_is_not_installed_is_skipped_with_a_message(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(plugins.PLUGINS, "W5", ("nnpy_no_such_w5_module", (), ""))
    status, out, _ = bench(capsys, "--only", "W5", "--out", str(tmp_path))
    assert status == 0
    assert "nnpy_no_such_w5_module is not in this installation" in out
    assert "W5 skipped" in (tmp_path / "results.md").read_text()


def test_w5_needs_scikit_learn(monkeypatch):
    monkeypatch.setitem(plugins.PLUGINS, "W5", ("fake", ("nnpy_no_such_dependency",),
                                                'pip install "nnpy-net[sklearn]"'))
    assert plugins.missing("W5") == ('not installed (nnpy_no_such_dependency; '
                                     'pip install "nnpy-net[sklearn]")')


def test_a_w5_result_that_is_not_json_is_an_error(capsys, fake_w5):
    (fake_w5 / "fake_w5_plugin.py").write_text(
        "def run(quick, repeats):\n    return {'x': object()}\n")
    outcome = plugins.run_in_worker("W5", True, 1, dict(os.environ), 120)
    assert outcome["status"] == "error" and "not JSON serializable" in outcome["reason"]


# --- the peers compute what nnpy computes --------------------------------------------------

def test_numpy_peer_takes_the_steps_of_nnpy_reference():
    rng = np.random.default_rng(3)
    X, Y = rng.random((95, 64)), rng.random((95, 10))
    weights, biases = reference.init_params([64, 32, 10], init="normal", rng=rng)
    net = numpy_lean.BatchSGD(weights[0], biases[0], weights[1], biases[1], batch=10)
    orders = np.random.default_rng(0)  # reference.sgd draws one permutation per epoch
    for _ in range(2):
        net.epoch(X, Y, orders.permutation(len(X)), 3.0)  # 95 rows: a last batch of 5
    reference.sgd(weights, biases, X, Y, epochs=2, lr=3.0, batch_size=10, output="sigmoid",
                  loss="mse", rng=np.random.default_rng(0))
    np.testing.assert_allclose(net.W0T.T, weights[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(net.W1T.T, weights[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(net.b0, biases[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(net.b1, biases[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(net.predict(X), reference.predict(weights, biases, X),
                               rtol=1e-12)


def test_torch_peer_takes_nnpys_step():
    torch = pytest.importorskip("torch")
    from nnpy.benchmarks.systems import torch_sys
    rng = np.random.default_rng(1)
    X, Y = rng.random((10, 64)), rng.random((10, 10))
    weights, biases = reference.init_params([64, 32, 10], init="normal", rng=rng)
    net = torch_sys.model(torch, [64, 32, 10], torch.float64)
    with torch.no_grad():
        for layer, w, b in zip((net[0], net[2]), weights, biases):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
    opt = torch_sys.sgd(torch, net, 3.0, len(X))
    opt.zero_grad()
    torch.nn.MSELoss(reduction="sum")(net(torch.from_numpy(X)), torch.from_numpy(Y)).backward()
    opt.step()
    _, dW, db = reference.gradients(weights, biases, X, Y)
    for layer, w, g in zip((net[0], net[2]), weights, dW):
        np.testing.assert_allclose(layer.weight.detach().numpy(), w - 3.0 * g, rtol=1e-10,
                                   atol=1e-12)


def _built(tmp_path, builds):
    paths, log = climit.build(str(tmp_path), builds)
    if climit.compiler() is None:
        pytest.skip("no C compiler")
    return paths, log


def test_c_lockstep_trains_16_xor_networks_and_counts_network_steps(tmp_path):
    """The W6 C program: its work is network-steps (16 a step), its networks learn XOR as the
    one-network program's do (mean loss well under the untrained 0.125 after 20,000 steps),
    and the suite runs it as the c-lockstep system on W6 only."""
    paths, log = _built(tmp_path, {"xor_lockstep": climit.BUILDS["xor_lockstep"]})
    assert paths["xor_lockstep"] is not None, log
    out = climit.run_binary([paths["xor_lockstep"], "20000", "2"], 60)
    assert out["steps"] == 16 * 20000 and out["networks"] == 16
    assert len(out["times_s"]) == 2 and 0 < out["final_loss"] < 0.06
    case = {"repeats": 1, "timeout": 60, "case": "W6-xor"}
    ran = climit.run("c-lockstep", "W6", {"steps": 1000}, case, paths)
    assert ran["status"] == "ok" and ran["cases"]["W6-xor"]["work"] == 16 * 1000
    assert climit.run("c-lockstep", "W2", {}, case, paths)["status"] == "skipped"


def test_fann_trains_xor_as_the_c_yardstick_does(tmp_path):
    """With steepness 0.5 and the linear error function, fann_train is the C yardstick's SGD
    step: the same loss after 2,000 steps from the same start and draws (FANN's derivative
    clipping to [0.01, 0.99] does not come into play this early)."""
    path, log, reason = fann_c.build(str(tmp_path))
    if path is None:
        pytest.skip(reason)
    paths, _ = _built(tmp_path, {"xor_fixed": climit.BUILDS["xor_fixed"]})
    fann = climit.run_binary([path, "xor", "2000", "1"], 60)
    c = climit.run_binary([paths["xor_fixed"], "2000", "1", "2", "2", "1"], 60)
    assert fann["final_loss"] == pytest.approx(c["final_loss"], rel=1e-6)


# --- rounds --------------------------------------------------------------------------------

@pytest.mark.parametrize("repeats, rounds, plan", [
    (3, 3, [1, 1, 1]), (5, 3, [2, 2, 1]), (7, 3, [3, 2, 2]), (2, 3, [1, 1]), (4, 1, [4])])
def test_repeats_are_spread_over_the_rounds(repeats, rounds, plan):
    assert run.rounds_of(repeats, rounds) == plan


def test_a_systems_rounds_are_merged_in_order():
    first = {"status": "ok", "threads": 1,
             "cases": {"W3-64-1t": {"times_s": [3.0], "work": 10, "tracemalloc": 7.5}}}
    second = {"status": "ok", "threads": 1,
              "cases": {"W3-64-1t": {"times_s": [1.0, 2.0], "work": 10, "final_epoch_loss": 0.5}}}
    merged = run.merge_rounds([first, second])
    entry = merged["cases"]["W3-64-1t"]
    assert entry["times_s"] == [3.0, 1.0, 2.0]
    assert entry["tracemalloc"] == 7.5 and entry["final_epoch_loss"] == 0.5  # from either round
    assert first["cases"]["W3-64-1t"]["times_s"] == [3.0]  # the rounds' own results untouched
    failed = {"status": "error", "reason": "worker died"}
    assert run.merge_rounds([first, failed, second]) == failed


def test_a_run_in_rounds_reports_every_rounds_repeats(capsys, tmp_path):
    status, out, _ = bench(capsys, "--only", "W1", "--systems", "nnpy,c-limit", "--quick",
                           "--repeats", "3", "--rounds", "3", "--out", str(tmp_path))
    assert status == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["meta"]["rounds"] == 3
    nnpy = results["cases"]["W1"]["systems"]["nnpy"]
    assert nnpy["status"] == "ok" and nnpy["repeats"] == len(nnpy["times_s"]) == 3
    c = results["cases"]["W1"]["systems"]["c-limit"]
    assert c["status"] in ("ok", "skipped")  # skipped without a C compiler
    if c["status"] == "ok":
        assert c["repeats"] == 3  # one per round, each after an untimed warm-up repeat
    assert "Rounds: each system's repeats are spread over 3 round(s)" in \
        (tmp_path / "results.md").read_text()


# --- W3-load: the default thread count beside a busy process ----------------------------------

def test_w3_load_is_in_quick_runs_and_in_only_w3():
    assert "W3-load" in run.selected_plugins(run.parse_args(["--quick"]))
    assert run.selected_plugins(run.parse_args(["--only", "w3-load"])) == ["W3-load"]
    assert run.selected_plugins(run.parse_args(["--only", "W3", "--quick"])) == ["W3-load"]
    assert run.selected_plugins(run.parse_args(["--only", "W3-64-2t"])) == []


FAKE_W3_LOAD = """
import os
def run(quick, repeats):
    import nnpy._training as training
    from nnpy._dispatch import core
    return {"omp": os.environ.get("OMP_NUM_THREADS"),
            "openblas": os.environ.get("OPENBLAS_NUM_THREADS"),
            "max_threads": core.max_threads(), "most": training.thread_limit(None)}
def markdown(result):
    return "## W3-load fake\\n"
"""


def test_w3_load_worker_leaves_openmp_unlimited(tmp_path, monkeypatch):
    (tmp_path / "fake_w3_load.py").write_text(textwrap.dedent(FAKE_W3_LOAD))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(plugins.PLUGINS, "W3-load", ("fake_w3_load", (), ""))
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    from nnpy.benchmarks import machine
    machine.set_thread_env(1, env)  # as the suite's base environment has them
    outcome = plugins.run_in_worker("W3-load", True, 1, env, 120)
    assert outcome["status"] == "ok", outcome
    result = outcome["result"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert result["omp"] is None and result["openblas"] == "1"
    assert result["most"] == min(cores, result["max_threads"])
    if core_has_openmp():
        assert result["max_threads"] == cores


def core_has_openmp():
    from nnpy._dispatch import core
    return core.OPENMP


def test_w3_load_competitor_is_killed_even_on_error():
    from nnpy.benchmarks import w3_load
    with pytest.raises(RuntimeError, match="inside"):
        with w3_load.competitor(19) as proc:
            assert proc.poll() is None  # running
            if os.path.exists(f"/proc/{proc.pid}/stat"):
                stat = open(f"/proc/{proc.pid}/stat").read()
                assert stat[stat.rindex(")") + 2:].split()[16] == "19"  # its nice value
            raise RuntimeError("inside")
    assert proc.poll() is not None
    with w3_load.competitor(None) as none:
        assert none is None


def test_w3_load_runs_every_condition_and_marks_its_targets(monkeypatch):
    from nnpy.benchmarks import w3_load
    monkeypatch.setattr(workloads, "W3_ROWS", 384)  # 3 batches: plumbing, not timing
    monkeypatch.setattr(w3_load, "SETTLE_S", 0.05)
    monkeypatch.setattr(w3_load, "QUICK_PAIRS", 1)
    result = json.loads(json.dumps(w3_load.run(quick=True, repeats=2)))
    assert [r["condition"] for r in result["rows"]] == ["idle", "busy, nice 0", "busy, nice 19"]
    for row in result["rows"]:
        assert len(row["one_thread_s"]) == len(row["default_s"]) == 2
        assert row["ratio"] == pytest.approx(np.median(row["one_thread_s"])
                                             / np.median(row["default_s"]))
        if result["default_most_threads"] > 1:  # fit counted free cores for each core call
            assert sum(row["default_threads_per_call"].values()) > 0
    for row, ratio in zip(result["rows"], (1.85, 0.95, 0.85)):
        row["ratio"] = ratio
    verdicts = [t["met"] for t in w3_load.targets(result)]
    assert verdicts == [True, True, False]
    result["rows"][0]["ratio"] = 1.75
    md = w3_load.markdown(result)
    assert "idle: fit(n_threads=None) >= 1.8x fit(n_threads=1) | **missed** | 1.75x" in md
    assert "nice 0: fit(n_threads=None) >= 0.9x fit(n_threads=1) | **met** | 0.95x" in md
    assert "nice 19: fit(n_threads=None) >= 0.9x fit(n_threads=1) | **missed** | 0.85x" in md


# --- W6-xor: many networks in one NetworkStack.fit ----------------------------------------------

def test_w6_xor_is_in_quick_and_full_runs_and_in_only_w6():
    for quick in (True, False):
        w6 = {c.id: c for c in workloads.cases(quick=quick)}["W6-xor"]
        assert w6.workload == "W6" and w6.metric == "ns/network-step"
        assert w6.params == {"steps": 100_000, "networks": 16}
        assert w6.systems == ("nnpy-stack", "nnpy", "c-limit", "c-lockstep", "fann")
    assert "W6-xor" in [c.id for c in run.selected_cases(run.parse_args(["--quick"]))]
    for only in ("W6", "w6-xor", "W6-XOR"):
        args = run.parse_args(["--only", only, "--quick"])
        assert [c.id for c in run.selected_cases(args)] == ["W6-xor"]
        assert run.selected_plugins(args) == (["W6-cv", "W6-sweep"] if only == "W6" else [])
    args = run.parse_args(["--only", "W1"])
    assert "W6-xor" not in [c.id for c in run.selected_cases(args)]
    assert "nnpy-stack" in run.parse_args(["--systems", "nnpy-stack"]).systems


def _w6_entry(seconds, work):
    return report.summarise({"status": "ok", "times_s": [seconds], "work": work},
                            "ns/network-step")


@pytest.mark.parametrize("stack_s, lone_s, c_s, verdicts", [
    # 16 x 1000 network-steps in stack_s against 1000 steps of one network in lone_s / c_s
    (16 * 0.2, 1.0, 0.5, ["met", "met"]),        # 0.2x the lone fit, 0.4x C
    (16 * 0.25, 1.0, 0.5, ["met", "met"]),       # exactly on both bounds
    (16 * 0.3, 1.0, 0.5, ["missed", "missed"]),  # 0.3x the lone fit, 0.6x C
    (16 * 0.2, 1.0, 0.3, ["met", "missed"]),     # 0.67x C
    (16 * 0.3, 1.0, 1.0, ["missed", "met"]),
])
def test_w6_xor_targets_compare_per_network_step(stack_s, lone_s, c_s, verdicts):
    cases = {"W6-xor": {"systems": {"nnpy-stack": _w6_entry(stack_s, 16 * 1000),
                                    "nnpy": _w6_entry(lone_s, 1000),
                                    "c-limit": _w6_entry(c_s, 1000)}}}
    w6 = [t for t in report.evaluate_targets(cases) if t["case"] == "W6-xor"]
    assert [t["bound"] for t in w6] == [0.25, 0.5]
    assert [t["status"] for t in w6] == verdicts
    assert w6[0]["value"] == pytest.approx(stack_s / 16 / lone_s)
    assert w6[1]["value"] == pytest.approx(stack_s / 16 / c_s)
    assert "nnpy-stack takes" in w6[0]["detail"] and "c-limit's time" in w6[1]["detail"]
    del cases["W6-xor"]["systems"]["c-limit"]
    w6 = [t for t in report.evaluate_targets(cases) if t["case"] == "W6-xor"]
    assert w6[1]["status"] == "n/a" and "c-limit did not run" in w6[1]["detail"]


def test_w6_stack_system_times_one_fit_of_all_networks_per_network_step():
    from nnpy.benchmarks.systems import nnpy_api
    ctx = {"repeats": 2, "case": "W6-xor"}
    out = nnpy_api.run("nnpy-stack", "W6", {"steps": 40, "networks": 3}, ctx)["W6-xor"]
    assert out["work"] == 3 * 40 and out["networks"] == 3 and len(out["times_s"]) == 2
    # the members are the lone networks of seeds 0-2: their losses differ, and member 0's
    # equals the lone fit's (the lone system's network)
    losses = out["final_epoch_losses"]
    assert len(losses) == 3 and len(set(losses)) == 3
    lone = nnpy_api.run("nnpy", "W6", {"steps": 40, "networks": 3}, ctx)["W6-xor"]
    assert lone["work"] == 40 and lone["final_epoch_loss"] == losses[0]
    with pytest.raises(Skip):
        nnpy_api.run("nnpy-stack", "W1", {"steps": 40}, dict(ctx, case="W1"))


def test_a_w6_run_reports_the_stack_the_lone_fit_and_c_with_its_targets(capsys, tmp_path):
    status, out, _ = bench(capsys, "--only", "W6-xor", "--quick", "--repeats", "2", "--rounds",
                           "2", "--out", str(tmp_path))
    assert status == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["cases"]) == ["W6-xor"] and results["plugins"] == {}
    systems = results["cases"]["W6-xor"]["systems"]
    stack, lone = systems["nnpy-stack"], systems["nnpy"]
    assert stack["status"] == lone["status"] == "ok"
    assert stack["work"] == 16 * 100_000 and lone["work"] == 100_000
    assert stack["repeats"] == lone["repeats"] == 2
    assert stack["median"] == pytest.approx(np.median(stack["times_s"]) / 1.6e6 * 1e9)
    assert len(stack["final_epoch_losses"]) == 16
    assert systems["c-limit"]["status"] in ("ok", "skipped")  # skipped without a C compiler
    if systems["c-limit"]["status"] == "ok":
        assert systems["c-limit"]["work"] == 100_000
    md = (tmp_path / "results.md").read_text()
    assert "| W6-xor | ns/network-step |" in md
    verdicts = {t["target"]: t for t in results["targets"] if t["case"] == "W6-xor"}
    assert len(verdicts) == 2
    lone_target = next(t for text, t in verdicts.items() if "lone Network.fit" in text)
    assert lone_target["status"] in ("met", "missed")
    assert f"| {lone_target['target']} | **{lone_target['status']}** |" in md


# --- W6-cv: NNGridSearchCV against GridSearchCV(MLPClassifier) -------------------------------

def _w6_cv_result(sklearn_seconds, nnpy_seconds, nnpy_best):
    row = {"best_score": 0.93, "mean_test_score": [0.9]}
    rows = {"sklearn": dict(row, label="GridSearchCV(MLPClassifier)", seconds=sklearn_seconds,
                            best_params={"alpha": 0.0001, "learning_rate_init": 0.01}),
            "nnpy-gridsearchcv": dict(row, label="GridSearchCV(NNClassifier)", seconds=3.0,
                                      best_params=nnpy_best),
            "nnpy": dict(row, label="NNGridSearchCV(NNClassifier)", seconds=nnpy_seconds,
                         best_params=nnpy_best)}
    return {"rows": rows, "speedup": sklearn_seconds / nnpy_seconds,
            "speedup_over_nnpy_gridsearchcv": 3.0 / nnpy_seconds, "repeats": 1, "cv": 5,
            "grid": {"alpha": [0.0001, 1.0]}, "estimator": {"hidden_layer_sizes": [32]}}


def test_w6_cv_target_needs_the_speed_and_the_same_best_params():
    from nnpy.benchmarks import w6_cv
    same = {"alpha": 0.0001, "learning_rate_init": 0.01}
    other = {"alpha": 1.0, "learning_rate_init": 0.01}
    verdicts = [w6_cv.targets(_w6_cv_result(s, n, best))[0]["met"]
                for s, n, best in [(20.0, 1.0, same), (20.0, 4.0, same), (20.0, 1.0, other)]]
    assert verdicts == [True, False, False]
    text = w6_cv.markdown(_w6_cv_result(20.0, 4.0, same))
    assert "| NNGridSearchCV(NNClassifier) | 4 |" in text and "**missed** | 5.00x faster" in text
    assert "W6-cv" in dict(plugins.PLUGINS) and "W6-cv" in workloads.PLUGIN_WORKLOADS


def test_w6_sweep_table_and_targets():
    from nnpy.benchmarks import w6_sweep
    points = w6_sweep.settings()
    assert len(points) == 16 and {p["lr"] for p in points} == set(w6_sweep.LRS)

    def system(seconds, accuracy):
        return {"seconds": seconds, "times": [seconds], "accuracy": [accuracy] * 16}

    result = {"workload": "W6-sweep", "quick": True, "repeats": 1, "settings": points,
              "systems": {"nnpy-stack": system(1.0, 0.97), "nnpy": system(2.0, 0.97),
                          "sklearn": system(20.0, 0.96)}}
    verdicts = [t["met"] for t in w6_sweep.targets(result)]
    assert verdicts == [False, True]            # 0.5x the lone fits; 20x scikit-learn
    text = w6_sweep.markdown(result)
    assert "**missed** | 0.500x" in text and "**met** | 20.0x faster" in text
    rows = [line for line in text.splitlines() if line.startswith("| 0.001 | ")]
    assert "PyTorch not installed" in text and len(rows) == 4     # lr 1e-3, each alpha
    result["systems"]["nnpy-stack"] = system(0.3, 0.97)
    assert [t["met"] for t in w6_sweep.targets(result)] == [True, True]
