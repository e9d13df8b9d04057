"""The installed distribution: its name, one version, the license and the typing marker."""
import os
from importlib import metadata

import nnpy


def test_distribution_name_and_version():
    assert metadata.version("nnpy-net") == nnpy.__version__
    meta = metadata.metadata("nnpy-net")
    assert meta["Name"] == "nnpy-net"
    assert meta["License-Expression"] == "MIT"
    assert any(req.startswith("numpy>=") for req in metadata.requires("nnpy-net"))


def test_license_is_installed():
    licenses = [f for f in metadata.files("nnpy-net") if f.name == "LICENSE"]
    assert licenses, "no LICENSE in the installed distribution"
    text = licenses[0].read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the nnpy developers" in text


def test_py_typed_marker_is_installed():
    # PEP 561: without it a type checker treats nnpy as untyped ("missing library stubs")
    assert os.path.isfile(os.path.join(os.path.dirname(nnpy.__file__), "py.typed"))
