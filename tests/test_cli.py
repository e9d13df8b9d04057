"""The `nnpy` command: nnpy.cli.main(argv) -> exit status, `python -m nnpy`, the console
script."""
import os
import re
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

from nnpy.cli import main


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def without_times(text):
    """The output minus the lines that report times (which vary from run to run)."""
    return "\n".join(line for line in text.splitlines()
                     if not re.search(r"\d+(\.\d+)? ?(ns|µs|ms|s)\b|\d+x ", line))


def table(out):
    """{(x1, x2): output} from the truth table xor prints."""
    rows = re.findall(r"^ +([01]) +([01]) \| +([01]) +\| ([0-9.]+)", out, re.M)
    return {(int(a), int(b)): (int(t), float(o)) for a, b, t, o in rows}


def test_xor_learns_prints_the_table_and_the_speed_up(capsys, tmp_path):
    status, out, err = run(capsys, "xor", "--out", str(tmp_path), "--no-plot")
    assert status == 0, err
    rows = table(out)
    assert sorted(rows) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for (x1, x2), (target, output) in rows.items():
        assert target == (x1 ^ x2)
        assert abs(output - target) < 0.25  # the default seed learns XOR
    assert "all four XOR samples" in out
    # what is compared, per step: Network.fit, and the post's own loop on nnpy and on numpy
    times = dict(re.findall(r"^  (nnpy's Network.fit|the post's loop on nnpy|the post's loop on "
                            r"its numpy).*: +([0-9.]+ (?:ns|µs|ms|s)) ", out, re.M))
    assert len(times) == 3, out
    speedups = re.findall(r"^  (\d+)x for (the post's own script on nnpy's forwardPass/"
                          r"backPropogation|Network.fit)", out, re.M)
    assert [name for _, name in speedups] == [
        "the post's own script on nnpy's forwardPass/backPropogation", "Network.fit"], out
    # what the post's three-sample loop did to [1, 1]
    assert "randrange(0, 3)" in out and "[1, 1] -> 0 is" in out
    answer = float(re.search(r"answers ([0-9.]+) for \[1, 1\]", out).group(1))
    assert answer > 0.9
    assert os.listdir(tmp_path) == []  # --no-plot


def test_plain_nnpy_runs_xor_and_writes_the_plots(capsys, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys)
    assert status == 0, err
    assert len(table(out)) == 4
    for name in ("xor-loss.png", "xor-surface.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
        assert name in out


def test_same_seed_same_output_and_seeds_differ(capsys, tmp_path):
    args = ("xor", "--epochs", "400", "--no-plot", "--out", str(tmp_path))
    first = run(capsys, *args, "--seed", "7")[1]
    second = run(capsys, *args, "--seed", "7")[1]
    other = run(capsys, *args, "--seed", "8")[1]
    assert without_times(first) == without_times(second)
    assert table(first) != table(other)


def test_options_reach_the_training(capsys, tmp_path):
    status, out, _ = run(capsys, "xor", "--epochs", "30", "--lr", "0.25", "--hidden", "3",
                         "--seed", "2", "--no-plot")
    assert status == 0
    assert "2-3-1" in out and "30 epochs x 4 = 120 steps" in out and "lr 0.25" in out
    assert "Not learned" in out  # 30 epochs are far too few


def test_top_level_options_run_xor(capsys):
    status, out, _ = run(capsys, "--epochs", "10", "--no-plot")
    assert status == 0 and "10 epochs x 4" in out


@pytest.mark.parametrize("argv, message", [
    (["xor", "--epochs", "0"], "--epochs: must be at least 1"),
    (["xor", "--epochs", "ten"], "--epochs: expected a whole number"),
    (["xor", "--lr", "-1"], "--lr: must be a finite number > 0"),
    (["xor", "--lr", "nan"], "--lr: must be a finite number > 0"),
    (["xor", "--seed", "-3"], "--seed: must be 0 or more"),
    (["xor", "--hidden", "0"], "--hidden: must be at least 1"),
    (["xor", "--colour"], "unrecognized arguments: --colour"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["digits", "--epochs"], "expected one argument"),
])
def test_bad_arguments_exit_2_with_a_message(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert message in err
    assert "usage:" in err


def test_out_must_be_a_directory(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    status, _, err = run(capsys, "xor", "--epochs", "5", "--out", str(tmp_path / "file"))
    assert status == 2 and "not a directory" in err


def test_out_directory_is_created(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    status, _, _ = run(capsys, "xor", "--epochs", "20", "--out", str(tmp_path / "a" / "b"))
    assert status == 0
    assert (tmp_path / "a" / "b" / "xor-loss.png").exists()


def test_help_and_version(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0 and "xor" in out and "digits" in out and "bench" in out
    status, out, _ = run(capsys, "xor", "--help")
    assert status == 0 and "--seed" in out and "--no-progress" in out
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.startswith("nnpy ")


def test_bench_calls_the_suite_with_its_arguments(capsys, monkeypatch):
    calls = []
    fake = types.ModuleType("nnpy.benchmarks")
    fake.main = lambda argv: calls.append(argv) or 0
    monkeypatch.setitem(sys.modules, "nnpy.benchmarks", fake)
    assert main(["bench", "--quick", "--other", "x"]) == 0
    assert calls == [["--quick", "--other", "x"]]
    fake.main = lambda argv: 3
    assert main(["bench"]) == 3


def test_bench_without_the_suite(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "nnpy.benchmarks", None)  # import fails
    status, _, err = run(capsys, "bench", "--quick")
    assert status == 2 and "nnpy.benchmarks" in err


def test_digits(capsys, tmp_path):
    pytest.importorskip("sklearn")
    status, out, err = run(capsys, "digits", "--epochs", "4", "--no-progress", "--out",
                           str(tmp_path), "--seed", "1")
    assert status == 0, err
    accuracy = float(re.search(r"Held-out accuracy: ([0-9.]+)%", out).group(1))
    assert accuracy > 85
    assert "1347 to train, 450 held out" in out
    rows = re.findall(r"^    (\d)  ((?: +(?:\d+|\.))+)$", out, re.M)
    assert [int(r[0]) for r in rows] == list(range(10))
    matrix = np.array([[0 if v == "." else int(v) for v in r[1].split()] for r in rows])
    assert matrix.shape == (10, 10) and matrix.sum() == 450
    assert np.trace(matrix) == round(accuracy / 100 * 450)
    assert err == ""  # no progress bar
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no plot" in out
    else:
        assert (tmp_path / "digits-curves.png").read_bytes()[:4] == b"\x89PNG"


def test_digits_progress_bar_on_a_terminal_only(capsys, monkeypatch):
    pytest.importorskip("sklearn")
    pytest.importorskip("tqdm")
    status, _, err = run(capsys, "digits", "--epochs", "2", "--no-plot")
    assert status == 0 and err == ""  # stderr is a pipe here: no bar drawn into it
    monkeypatch.setattr("nnpy.cli._demos._on_terminal", lambda: True)
    status, _, err = run(capsys, "digits", "--epochs", "2", "--no-plot")
    assert status == 0
    assert "2/2" in err  # tqdm draws on stderr


def test_no_progress_bar_into_a_pipe_or_log_file(tmp_path):
    """Run from a console with stderr sent to a log file: no bar goes into the log."""
    pytest.importorskip("tqdm")
    with open(tmp_path / "log", "w") as log:
        done = subprocess.run([sys.executable, "-m", "nnpy", "xor", "--epochs", "20000",
                               "--no-plot"], stdout=log, stderr=subprocess.STDOUT, timeout=300)
    assert done.returncode == 0
    text = (tmp_path / "log").read_text()
    assert "it/s" not in text and "epoch/s" not in text and "\r" not in text, text


def test_digits_without_scikit_learn(capsys, monkeypatch):
    for name in ("sklearn", "sklearn.datasets", "sklearn.model_selection"):
        monkeypatch.setitem(sys.modules, name, None)
    status, _, err = run(capsys, "digits", "--epochs", "1")
    assert status == 2
    assert 'pip install "nnpy-net[sklearn]"' in err


def test_python_dash_m_and_the_console_script(tmp_path):
    done = subprocess.run([sys.executable, "-m", "nnpy", "xor", "--epochs", "50", "--no-plot"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "x1  x2" in done.stdout
    done = subprocess.run([sys.executable, "-m", "nnpy", "xor", "--lr", "0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--lr" in done.stderr
    script = shutil.which("nnpy", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("the nnpy console script is not beside this python")
    done = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("nnpy ")


def no_training(monkeypatch):
    """Makes Network.fit fail the test: an error must come before any training."""
    def fit(*args, **kwargs):
        raise AssertionError("trained before refusing the arguments")
    monkeypatch.setattr("nnpy.network.Network.fit", fit)


@pytest.mark.parametrize("command", ["xor", "digits"])
def test_out_under_a_file_is_refused_before_training(capsys, tmp_path, monkeypatch, command):
    pytest.importorskip("matplotlib")
    (tmp_path / "file").write_text("x")
    no_training(monkeypatch)
    status, _, err = run(capsys, command, "--out", str(tmp_path / "file" / "plots"))
    assert status == 2, err
    assert "--out" in err and "file" in err and "Traceback" not in err


def test_out_in_an_unwritable_directory_is_refused_before_training(capsys, tmp_path,
                                                                   monkeypatch):
    pytest.importorskip("matplotlib")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("this user writes into read-only directories (root)")
        no_training(monkeypatch)
        status, _, err = run(capsys, "xor", "--out", str(locked))
        assert status == 2 and "--out" in err and "cannot be written" in err
    finally:
        locked.chmod(0o700)


def test_out_that_cannot_be_written_even_by_root(capsys, monkeypatch):
    """Writing a file to check --out: os.access would say yes to root."""
    pytest.importorskip("matplotlib")
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc")
    no_training(monkeypatch)
    status, _, err = run(capsys, "xor", "--out", "/proc/self/nnpy-plots")
    assert status == 2 and "--out" in err and "cannot be written" in err


@pytest.mark.parametrize("hidden", ["1000000000000", str(10 ** 30)])
def test_absurd_hidden_width_exits_2(capsys, monkeypatch, hidden):
    no_training(monkeypatch)
    status, _, err = run(capsys, "xor", "--hidden", hidden, "--no-plot")
    assert status == 2 and "--hidden" in err and "memory" in err


def run_with_memory_limit(argv, check=True, limit=2 * 2 ** 30):
    """`nnpy argv` in a process whose address space is limited (RLIMIT_AS) to `limit` bytes,
    as a container or `ulimit -v` limits it; check=False switches the memory check off, so
    that training meets the limit itself."""
    resource = pytest.importorskip("resource")
    code = ("import sys, nnpy.cli as cli, nnpy.cli._checks as checks; "
            + ("" if check else "checks._memory_problem = lambda *args: None; ")
            + "sys.exit(cli.main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          timeout=300,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS,
                                                                (limit, limit)))


@pytest.mark.parametrize("check", [True, False])
@pytest.mark.parametrize("command", ["xor", "digits"])
def test_a_network_beyond_the_memory_limit_exits_2(command, check):
    """--hidden 50000000 fits this machine's memory several times over (weights alone: 1.6
    GB for xor) but not a 2 GiB limit: the check counts against the memory this process may
    use, and a MemoryError it did not foresee is a message too, never a traceback."""
    if command == "digits":
        pytest.importorskip("sklearn")
    done = run_with_memory_limit([command, "--hidden", "50000000", "--no-plot",
                                  "--no-progress", "--epochs", "1"], check=check)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr
    assert done.stderr.startswith(f"nnpy {command}: error: ")
    assert ("--hidden 50000000 is too large" if check else "out of memory") in done.stderr
    assert "memory" in done.stderr


def test_the_memory_check_counts_the_activations():
    """Training holds a batch's activations and deltas (rows x every layer's width), the
    optimiser's moments and copies of the parameters: the estimate is above what a run
    takes, for widths where the activations dominate and where the weights do."""
    from nnpy.cli._checks import _training_bytes
    wide = _training_bytes([64, 10_000_000, 10], "sgd", 1347, 10)
    assert wide > 8 * 10 * (10_000_000 * 3) + 8 * 2 * 75_000_000  # deltas + 2 weight copies
    adam = _training_bytes([784, 256, 10], "adam", 60_000, 200)
    n_params = 785 * 256 + 257 * 10
    assert adam > 8 * (3 * n_params + 200 * (784 + 256 + 10))
    assert _training_bytes([784, 256, 10], "lbfgs", 60_000, 200) > 8 * 25 * n_params
    # silu and gelu keep each layer's pre-activations beside its activations
    for activation in ("silu", "gelu"):
        kept = _training_bytes([784, 256, 10], "adam", 60_000, 200, activation)
        assert kept == adam + 8 * 200 * (256 + 10)


@pytest.mark.parametrize("seed", [2 ** 32 - 1, 2 ** 32, 2 ** 70])
def test_any_non_negative_seed_works_for_xor(capsys, seed):
    status, out, err = run(capsys, "xor", "--epochs", "300", "--no-plot", "--seed", str(seed))
    assert status == 0, err
    assert len(table(out)) == 4
    again = run(capsys, "xor", "--epochs", "300", "--no-plot", "--seed", str(seed))[1]
    assert without_times(out) == without_times(again)


@pytest.mark.parametrize("seed", [2 ** 32, 2 ** 70])
def test_any_non_negative_seed_works_for_digits(capsys, seed):
    pytest.importorskip("sklearn")
    status, out, err = run(capsys, "digits", "--epochs", "1", "--no-plot", "--no-progress",
                           "--seed", str(seed))
    assert status == 0, err
    assert "Held-out accuracy" in out


def test_large_seeds_are_not_folded_onto_small_ones():
    from nnpy.cli._args import _seed32
    assert _seed32(5) == 5 and _seed32(2 ** 32 - 1) == 2 ** 32 - 1
    derived = {_seed32(2 ** 32 + k) for k in range(50)} | {_seed32(2 ** 70)}
    assert len(derived) == 51 and all(0 <= s < 2 ** 32 for s in derived)


CLOSED_PIPE = 141  # 128 + SIGPIPE: the status of a program a closed pipe ends


def quiet(err):
    """No traceback and no "Exception ignored ... BrokenPipeError" from the interpreter."""
    return b"Traceback" not in err and b"BrokenPipe" not in err and b"Exception" not in err


@pytest.mark.parametrize("unbuffered", [False, True])
@pytest.mark.parametrize("argv", [["xor", "--epochs", "200", "--no-plot"],
                                  ["digits", "--epochs", "1", "--no-plot", "--no-progress"],
                                  ["bench", "--help"], ["xor", "--help"], ["--version"]])
def test_a_closed_pipe_ends_quietly(argv, unbuffered):
    """`nnpy digits | head -n 2`: the reader is gone before nnpy writes (closed here before
    the child has even started Python), so every write fails with EPIPE: the run ends as one
    a closed pipe ends, quietly, with status 141."""
    if argv[0] == "digits":
        pytest.importorskip("sklearn")
    env = dict(os.environ, PYTHONUNBUFFERED="1" if unbuffered else "")
    child = subprocess.Popen([sys.executable, "-m", "nnpy", *argv], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
    child.stdout.close()
    _, err = child.communicate(timeout=300)
    assert quiet(err), err.decode()
    assert child.returncode == CLOSED_PIPE


@pytest.mark.parametrize("unbuffered", [False, True])
def test_a_closed_pipe_still_writes_the_plots(tmp_path, unbuffered):
    """What matters (the plots) is done even when nobody reads the text."""
    pytest.importorskip("matplotlib")
    env = dict(os.environ, PYTHONUNBUFFERED="1" if unbuffered else "")
    child = subprocess.Popen([sys.executable, "-m", "nnpy", "xor", "--epochs", "50", "--out",
                              str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env)
    child.stdout.close()
    _, err = child.communicate(timeout=300)
    assert quiet(err), err.decode()
    assert child.returncode == CLOSED_PIPE
    assert sorted(os.listdir(tmp_path)) == ["xor-loss.png", "xor-surface.png"]


@pytest.mark.parametrize("unbuffered", [False, True])
def test_a_pipe_closed_midway_ends_quietly(unbuffered):
    """As `| head -n 2` does it: two lines read, then the reader goes away."""
    env = dict(os.environ, PYTHONUNBUFFERED="1" if unbuffered else "")
    child = subprocess.Popen([sys.executable, "-m", "nnpy", "xor", "--epochs", "100000",
                              "--no-plot"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env)
    lines = [child.stdout.readline() for _ in range(2)]
    child.stdout.close()
    _, err = child.communicate(timeout=300)
    assert lines[0].startswith(b"nnpy xor:")
    assert quiet(err), err.decode()
    # the rest of the output may have fitted in the pipe before it closed: then nothing failed
    assert child.returncode in (0, CLOSED_PIPE)


def test_head_in_a_shell_pipeline(tmp_path):
    """`nnpy xor | head -n 1` in bash, with and without PYTHONUNBUFFERED: one line out, no
    complaint from the interpreter, the status of a closed pipe or success."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    for unbuffered in ("", "1"):
        script = (f'PYTHONUNBUFFERED={unbuffered} "{sys.executable}" -m nnpy xor --epochs 20 '
                  f'--no-plot 2>"{tmp_path}/err" | head -n 1; echo "${{PIPESTATUS[0]}}"')
        done = subprocess.run([bash, "-c", script], capture_output=True, timeout=300)
        first, status = done.stdout.decode().splitlines()
        assert first.startswith("nnpy xor:")
        assert int(status) in (0, CLOSED_PIPE)
        assert quiet((tmp_path / "err").read_bytes()), (tmp_path / "err").read_text()


def test_an_output_that_cannot_be_written_is_a_message():
    """stdout on a full disk (/dev/full) or closed (`>&-`): a message and status 1, not a
    traceback."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "nnpy", "xor", "--epochs", "20",
                               "--no-plot"], stdout=full, stderr=subprocess.PIPE, timeout=300)
    assert done.returncode == 1
    assert b"cannot write to standard output: No space left on device" in done.stderr
    assert b"Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "nnpy", "xor", "--epochs", "20", "--no-plot"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300,
                          preexec_fn=lambda: os.close(1))
    assert done.returncode == 1, done.stderr
    assert b"cannot write to standard output" in done.stderr and b"closed" in done.stderr


def test_saturated_outputs_blame_the_learning_rate(capsys):
    status, out, _ = run(capsys, "xor", "--lr", "1e6", "--no-plot")
    assert status == 0
    assert "Not learned" in out and "saturated" in out and "--lr 1e+06" in out
    assert "another --seed" not in out and "local minimum" not in out


def test_a_local_minimum_still_suggests_another_seed(capsys):
    status, out, _ = run(capsys, "xor", "--seed", "12", "--no-plot")  # a local minimum at lr 1
    assert status == 0
    assert "local minimum" in out and "another --seed" in out and "saturated" not in out


def test_help_shows_no_doubled_percent(capsys):
    for command in ("xor", "digits", "bench"):
        if command == "bench":
            continue  # bench's help is the benchmark suite's
        status, out, _ = run(capsys, command, "--help")
        assert status == 0 and "%%" not in out
    assert "75% of them" in " ".join(run(capsys, "digits", "--help")[1].split())


def test_what_the_demos_write_is_git_ignored(capsys, tmp_path, monkeypatch):
    """nnpy xor writes its plots into the current directory, often a checkout: .gitignore
    (which the sdist build also honours) must cover every file it leaves."""
    import fnmatch
    import pathlib
    pytest.importorskip("matplotlib")
    ignore = pathlib.Path(__file__).resolve().parent.parent / ".gitignore"
    patterns = [line.strip() for line in ignore.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "xor", "--epochs", "20")[0] == 0
    written = sorted(os.listdir(tmp_path))
    assert written == ["xor-loss.png", "xor-surface.png"]
    for name in written:
        assert any(fnmatch.fnmatch(name, p) for p in patterns), name
        assert name in ignore.read_text()
    readme = (ignore.parent / "README.md").read_text()
    assert all(name in readme for name in written)
