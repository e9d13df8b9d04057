"""The documentation site's ```python blocks run, each on its own as a script, and print what
the page says they print.

The convention (the same as the README's, tests/test_readme.py): every ```python block of a
page under docs/ is a complete script that a reader can copy into a file and run, in a fresh
interpreter and an empty directory, with nothing from the blocks before it. Blocks that are
not meant to run (shell sessions, outputs, C, fragments) use another fence language: bash,
console, text, c. Every block is listed in BLOCKS below with the modules it needs (a block whose
modules are missing is skipped, with the reason) and a check of its output, so that a new
block is run, and checked, only once it is listed. The blocks run with plain python: Sphinx is
not needed (it is the docs extra's, for building the site; CI builds it with -W)."""
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)


def python_blocks(page):
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


def silent(out, tmp):
    assert out == ""


def check_library(out, tmp):
    assert "[0.005 0.995 0.995 0.006] 1.3e-05" in out  # the output the page prints


def check_regression(out, tmp):
    assert out.split() == ["[20.", "29.96]"]


def check_regression_losses(out, tmp):
    lines = out.splitlines()
    means = np.array(lines[0].strip("[]").split(), float)   # the true means: e^0, e^1, e^2
    np.testing.assert_allclose(means, np.exp([0, 1, 2]), rtol=0.2)
    slopes = {line.split()[0]: float(line.split("[")[1].split("]")[0]) for line in lines[1:]}
    assert slopes["mse"] < 1.9                   # pulled by the outliers
    for loss in ("huber", "absolute_error"):
        assert abs(slopes[loss] - 2) < 0.1      # the true slope


def check_estimators(out, tmp):
    lines = out.splitlines()
    assert float(lines[1]) > 0.95  # "about 0.98"
    assert float(lines[2]) > 0.95  # "about 0.97"


def check_dropout(out, tmp):
    same, accuracy = out.split()
    assert same == "True" and float(accuracy) > 0.9   # "True 0.95"


def check_dropout_estimator(out, tmp):
    assert float(out) > 0.95  # "about 0.98"


def check_sparse(out, tmp):
    assert out.split() == ["True", "True"]


def check_to_sklearn(out, tmp):
    assert out.splitlines() == ["MLPClassifier True", "NNClassifier True"]


def check_dask(out, tmp):
    best = eval(out.strip().splitlines()[-1], {})  # a dict literal of the best parameters
    assert set(best) == {"hidden_layer_sizes", "learning_rate_init"}


def check_stacked_search(out, tmp):
    best_line, ensemble_line = out.strip().splitlines()
    assert "'alpha'" in best_line and "'learning_rate_init'" in best_line
    assert float(best_line.rsplit(" ", 1)[1]) > 0.8   # the best mean accuracy over the folds
    assert ensemble_line.count("[") == 2


def check_exports(out, tmp):
    assert out.split() == ["True", "True"]
    for name in ("xor.onnx", "xor.h", "xor.net"):
        assert (tmp / name).stat().st_size > 0


def check_plots(out, tmp):
    for name in ("xor-curves.png", "xor-surface.png"):
        assert (tmp / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# (page, a line only that block of the page has, the modules it needs, its check)
BLOCKS = [
    ("post-api.md", "from nnpy import sigmoid", [], silent),
    ("guide/post.md", "from nnpy import sigmoid, sigmoid_prime, cost", [], silent),
    ("guide/network.md", "net = nnpy.Network([2, 2, 1], init=\"xavier\", seed=0)", [],
     check_library),
    ("guide/network.md", "# regression: tanh hidden layer, identity output, Adam", [],
     check_regression),
    ("guide/network.md", "# dropout: each hidden unit dropped", [], check_dropout),
    ("guide/network.md", "# counts: an exp output", [], check_regression_losses),
    ("guide/network.md", "# one-hot features: 1,000 rows, 500 columns", ["scipy"],
     check_sparse),
    ("guide/estimators.md", "from nnpy.estimators import NNClassifier\n\ndigits", ["sklearn"],
     check_estimators),
    ("guide/estimators.md", "dropout=0.3, max_iter=300", ["sklearn"],
     check_dropout_estimator),
    ("guide/estimators.md", "mlp = clf.to_sklearn()", ["sklearn"], check_to_sklearn),
    ("guide/estimators.md", "from dask.distributed import", ["sklearn", "dask.distributed"],
     check_dask),
    ("guide/estimators.md", "from nnpy.estimators import NNClassifier, NNEnsembleRegressor",
     ["sklearn"], check_stacked_search),
    ("guide/files.md", "from nnpy.export import to_c, to_onnx", ["onnx", "onnxruntime"],
     check_exports),
    ("guide/files.md", "from nnpy.plot import", ["matplotlib"], check_plots),
]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_every_block_is_listed(page):
    name = page.relative_to(DOCS).as_posix()
    listed = [marker for where, marker, _, _ in BLOCKS if where == name]
    blocks = python_blocks(page)
    assert len(blocks) == len(listed), f"{name}: list each ```python block in BLOCKS"
    for marker in listed:
        assert sum(marker in block for block in blocks) == 1, (name, marker)


@pytest.mark.parametrize("page, marker, needs, check", BLOCKS,
                         ids=[f"{p}:{c.__name__}" for p, _, _, c in BLOCKS])
def test_docs_block_runs_as_a_script(tmp_path, page, marker, needs, check):
    for module in needs:
        pytest.importorskip(module)
    (block,) = [b for b in python_blocks(DOCS / page) if marker in b]
    script = tmp_path / "example.py"
    script.write_text(block)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    check(done.stdout, tmp_path)
