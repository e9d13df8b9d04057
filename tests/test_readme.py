"""Every Python example in README.md runs, in order, in one namespace (as a reader would)."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_examples():
    assert len(python_blocks()) >= 5


def test_readme_examples_run(tmp_path, monkeypatch, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    pytest.importorskip("dask.distributed")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme"}
    for number, block in enumerate(python_blocks()):
        exec(compile(block, f"README.md python block {number + 1}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "[0.005 0.995 0.995 0.006]" in printed              # the library example's output
    assert namespace["clf"].score(namespace["X_test"], namespace["y_test"]) > 0.95
    assert (tmp_path / "xor-curves.png").stat().st_size > 0
    assert (tmp_path / "xor-surface.png").stat().st_size > 0
