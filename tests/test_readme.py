"""Every ```python block of README.md runs on its own as a script (in a fresh interpreter, in an
empty directory, as a reader who copies one block into a file would run it) and prints what the
README says it prints. Links in the README, bench/README.md and docs/ point at files of the
repository."""
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def check_post(out, tmp):
    """The post's script: silent, as the post's is."""
    assert out == ""


def check_library(out, tmp):
    assert "[0.005 0.995 0.995 0.006] 1.3e-05" in out  # the output the README prints


def check_estimator(out, tmp):
    assert out.split() == ["True"]


def check_stack(out, tmp):
    assert out.split("\n")[0] == "(4, 1) (4, 1) (2, 2, 1)"


def check_exports(out, tmp):
    assert out.split() == ["True"]
    for name in ("xor.h", "xor.net"):
        assert (tmp / name).stat().st_size > 0


# (a line only that block has, what it needs installed, its check); the documentation site's
# blocks: tests/test_docs.py
BLOCKS = [
    ("from nnpy import sigmoid, sigmoid_prime, cost", [], check_post),
    ("net = nnpy.Network([2, 2, 1], init=\"xavier\", seed=0)            #", [], check_library),
    ("stack = nnpy.NetworkStack([2, 2, 1], 16", [], check_stack),
    ("clf = NNClassifier(hidden_layer_sizes=(64,)", ["sklearn"], check_estimator),
    ("from nnpy.export import to_c\n", [], check_exports),
]


def test_every_block_is_checked():
    blocks = python_blocks()
    assert len(blocks) == len(BLOCKS)
    for marker, _, _ in BLOCKS:
        assert sum(marker in block for block in blocks) == 1, marker


@pytest.mark.parametrize("marker, needs, check", BLOCKS, ids=[c.__name__[6:] for _, _, c in BLOCKS])
def test_readme_block_runs_as_a_script(tmp_path, marker, needs, check):
    for module in needs:
        pytest.importorskip(module)
    (block,) = [b for b in python_blocks() if marker in b]
    script = tmp_path / "example.py"
    script.write_text(block)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    check(done.stdout, tmp_path)


LINKED = [ROOT / "README.md", ROOT / "bench" / "README.md",
          *sorted(p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts)]


@pytest.mark.parametrize("page", LINKED, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_point_into_the_repository(page):
    """Relative links resolve to files in the repository (not ../shared/..., which a clone or
    an sdist does not have)."""
    text = page.read_text()
    assert "../shared/" not in text and "shared/seed" not in text and "shared/bench" not in text
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" in target:
            continue
        resolved = (page.parent / target).resolve()
        assert resolved.exists() and ROOT in resolved.parents, target


def test_readme_is_a_front_page():
    """The README stays a front page; everything else lives in the documentation site."""
    assert len(README.read_text().splitlines()) <= 200
