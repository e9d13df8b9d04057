"""Picks the build of the compiled core that this processor runs fastest.

The wheel carries the core built for several instruction-set levels (`_core_baseline`, and on
x86-64 `_core_x86_64_v3` for AVX2+FMA and `_core_x86_64_v4` for AVX-512). The best level the
CPU supports is imported; NNPY_CPU_LEVEL=baseline (or x86_64_v3, ...) forces one, for tests and
comparisons.
"""
import importlib
import importlib.util
import os

# From best to worst: (module suffix, numpy CPU feature that must be present)
LEVELS = [("x86_64_v4", "X86_V4"), ("x86_64_v3", "X86_V3"), ("baseline", None)]


def _cpu_features():
    try:  # numpy's own run-time CPU detection
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_features__
        except ImportError:
            return {}
    return __cpu_features__


def available_levels():
    """The levels built into this install that the processor can run, best first."""
    features = _cpu_features()
    found = []
    for level, feature in LEVELS:
        if feature is not None and not features.get(feature, False):
            continue
        if importlib.util.find_spec(f"nnpy._core_{level}") is not None:
            found.append(level)
    return found


def load_core(level=None):
    """Imports the core for `level` (default: NNPY_CPU_LEVEL, else the best available)."""
    level = level or os.environ.get("NNPY_CPU_LEVEL") or None
    levels = available_levels()
    if level is None:
        if not levels:
            raise ImportError("nnpy's compiled core is missing: reinstall nnpy")
        level = levels[0]
    elif level not in levels:
        raise ImportError(f"NNPY_CPU_LEVEL={level!r} is not built or not supported by this "
                          f"processor; available: {levels}")
    return importlib.import_module(f"nnpy._core_{level}")


core = load_core()
CPU_LEVEL = core.__name__.rsplit("_core_", 1)[1]
