"""`import nnpy` (and its modules that do not need them) import no optional package; the
modules that need one say how to install it when it is missing."""
import os
import subprocess
import sys

import pytest

OPTIONAL = ("sklearn", "matplotlib", "tqdm", "dask", "distributed", "joblib", "scipy", "pandas",
            "torch", "threadpoolctl")


def imported_after(statement, env=None):
    code = (f"{statement}\n"
            "import sys\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(OPTIONAL)!r}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("statement", [
    "import nnpy",
    "import nnpy, nnpy.io, nnpy.plot, nnpy.cli, nnpy.reference",
    "import nnpy; nnpy.Network([2, 2, 1]).fit([[0, 1]], [[1]], epochs=2, lr=0.5)",
])
def test_no_optional_package_is_imported(statement):
    assert imported_after(statement) == "[]"


def test_save_and_load_import_nothing_optional(tmp_path):
    path = tmp_path / "n.npz"
    statement = (f"import nnpy; net = nnpy.Network([2, 3, 1]); net.save({str(path)!r}); "
                 f"nnpy.Network.load({str(path)!r})")
    assert imported_after(statement) == "[]"


def blocked_env(tmp_path, *names):
    """An environment in which importing `names` fails, as if they were not installed."""
    root = tmp_path / "blocked"
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text("raise ImportError('not installed (test)')\n")
    return dict(os.environ, PYTHONPATH=str(root))


def run(code, env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)


def test_estimators_without_scikit_learn(tmp_path):
    done = run("import nnpy.estimators", blocked_env(tmp_path, "sklearn"))
    assert done.returncode != 0
    assert 'pip install "nnpy-net[sklearn]"' in done.stderr


def test_progress_without_tqdm(tmp_path):
    code = ("import nnpy\n"
            "try:\n    nnpy.Network([1, 1]).fit([[0]], [[1]], epochs=1, lr=1, progress=True)\n"
            "except ImportError as e:\n    print(e)\n")
    done = run(code, blocked_env(tmp_path, "tqdm"))
    assert 'pip install "nnpy-net[progress]"' in done.stdout, done.stderr


def test_cli_without_matplotlib_still_runs_xor(tmp_path):
    done = subprocess.run([sys.executable, "-m", "nnpy", "xor", "--epochs", "20"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env=blocked_env(tmp_path, "matplotlib"))
    assert done.returncode == 0, done.stderr
    assert 'pip install "nnpy-net[plot]"' in done.stdout
    assert not (tmp_path / "xor-loss.png").exists()


def test_cli_digits_without_tqdm(tmp_path):
    pytest.importorskip("sklearn")
    pty = pytest.importorskip("pty")  # the bar (and the hint) are for a terminal only
    main_fd, terminal = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "nnpy", "digits", "--epochs", "1",
                               "--no-plot"], stdout=subprocess.PIPE, stderr=terminal,
                              text=True, timeout=120, cwd=tmp_path,
                              env=blocked_env(tmp_path, "tqdm"))
    finally:
        os.close(terminal)
        os.close(main_fd)
    assert done.returncode == 0
    assert 'pip install "nnpy-net[progress]"' in done.stdout
