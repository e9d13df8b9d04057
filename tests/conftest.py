"""Shared test setup.

* faulthandler is on for the whole test process (pyproject's addopts also pass -p faulthandler),
  so a crash in the compiled core is reported as a crash, with the Python stack, instead of a
  silent exit.
* hypothesis runs few examples per test (the suite must stay fast on two shared cores) and
  without deadlines (a loaded machine must not fail a test); HYPOTHESIS_PROFILE=thorough runs
  many more (HYPOTHESIS_EXAMPLES, default 1000).
* The report header says which core the tests ran on and whether it is the debug build
  (bounds, wraparound and initialisation checks on: NNPY_DEBUG=1 pip install .).
"""
import faulthandler
import os
import sys

import pytest

if not faulthandler.is_enabled():  # pytest -p faulthandler enables it on its own stderr copy
    faulthandler.enable(file=sys.stderr, all_threads=True)

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis is in the test extras; the property tests skip without it
    pass
else:
    settings.register_profile(
        "nnpy", max_examples=40, deadline=None, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much])
    settings.register_profile(
        "thorough", max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 1000)), deadline=None, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "nnpy"))


def pytest_report_header(config):
    try:
        import nnpy
        from nnpy._dispatch import core
    except Exception as err:  # pragma: no cover - reported, the tests then fail on import
        return f"nnpy: cannot import ({err})"
    debug = getattr(core, "DEBUG_BUILD", "unknown")
    return f"nnpy {nnpy.__version__} from {os.path.dirname(nnpy.__file__)}; " \
           f"core {nnpy.CPU_LEVEL}; debug build (bounds checks): {debug}"


@pytest.fixture
def rng():
    """A fresh seeded generator per test."""
    import numpy as np
    return np.random.default_rng(12345)
