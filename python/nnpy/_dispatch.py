"""Picks the build of the compiled core that this processor runs fastest.

The wheel carries the core built for several instruction-set levels: `_core_baseline` always,
and on x86-64, when the compiler could build them, `_core_x86_64_v3` (AVX2, FMA, BMI2, ...) and
`_core_x86_64_v4` (AVX-512). The processor's features come from `nnpy._cpu` (CPUID and XGETBV,
compiled for the baseline), not from numpy's private CPU table, whose keys change between numpy
versions: the choice is the same with every numpy. NNPY_CPU_LEVEL=baseline (or x86_64_v3,
x86-64-v4, ...) forces one level, for tests and comparisons; a level this install does not hold
or this processor cannot run is an ImportError that says which levels are possible.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType
from typing import Mapping, Optional

from . import _cpu

# The x86-64 micro-architecture levels (x86-64 psABI) as features named as nnpy._cpu names
# them. v2's features are listed too: -march=x86-64-v3 lets the compiler use them.
_V2 = ("cx16", "lahf_lm", "popcnt", "sse3", "ssse3", "sse4_1", "sse4_2")
_V3 = _V2 + ("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "lzcnt", "movbe", "osxsave")
_V4 = _V3 + ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")

# Each level nnpy builds, best first, with the features it needs.
LEVELS: dict[str, tuple[str, ...]] = {"x86_64_v4": _V4, "x86_64_v3": _V3, "baseline": ()}


def cpu_features() -> dict[str, bool]:
    """The processor's features that the levels need (empty on non-x86 processors)."""
    return _cpu.features()


def missing_features(level: str, features: Optional[Mapping[str, bool]] = None) -> list[str]:
    """The features `level` needs that the processor (or `features`) lacks."""
    features = cpu_features() if features is None else features
    return [name for name in LEVELS[level] if not features.get(name, False)]


def cpu_levels(features: Optional[Mapping[str, bool]] = None) -> list[str]:
    """The levels this processor runs, best first, whether built or not."""
    return [level for level in LEVELS if not missing_features(level, features)]


def built_levels() -> list[str]:
    """The levels whose core this install holds, best first."""
    return [level for level in LEVELS
            if importlib.util.find_spec(f"nnpy._core_{level}") is not None]


def available_levels() -> list[str]:
    """The levels built into this install that the processor can run, best first."""
    runs = cpu_levels()
    return [level for level in built_levels() if level in runs]


def _normalise(level: str) -> str:
    """x86-64-v3 (the compilers' spelling) and X86_64_V3 mean x86_64_v3."""
    return level.strip().lower().replace("-", "_")


# How long an idle OpenMP thread of the core spins before it sleeps, in libgomp's spins (a
# pause instruction each). libgomp's default, 300,000, suits a machine of its own; on one
# shared with other work the waiting thread burns the time slice its partner needs, and two
# threads ran W3 3-14x slower than one (10,000: 1.2-5.8x faster than the default there).
_SPIN_COUNT = "10000"


def _import_core(name: str) -> ModuleType:
    """Imports nnpy._core_<name>. libgomp reads its wait policy from the environment once, as
    it loads (with the core); unless the user chose one (OMP_WAIT_POLICY, GOMP_SPINCOUNT),
    the core's libgomp is given _SPIN_COUNT, and the environment is restored afterwards (a
    wheel carries its own copy of libgomp, so no other library's threads are affected)."""
    ours = "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ
    if ours:
        os.environ["GOMP_SPINCOUNT"] = _SPIN_COUNT
    try:
        return importlib.import_module(f"nnpy._core_{name}")
    finally:
        if ours:
            del os.environ["GOMP_SPINCOUNT"]


def load_core(level: Optional[str] = None) -> ModuleType:
    """Imports the core for `level` (default: NNPY_CPU_LEVEL, else the best available)."""
    what = f"level {level!r}"
    if not level:
        level = os.environ.get("NNPY_CPU_LEVEL", "").strip() or None
        what = f"NNPY_CPU_LEVEL={level!r}"
    built = built_levels()
    if level is None:
        usable = available_levels()
        if not usable:
            raise ImportError("nnpy's compiled core is missing: reinstall nnpy-net")
        return _import_core(usable[0])
    name = _normalise(level)
    if name not in LEVELS:
        raise ImportError(f"{what} is not a level nnpy knows: use one of "
                          f"{', '.join(LEVELS)} (or unset NNPY_CPU_LEVEL for the best)")
    if name not in built:
        raise ImportError(f"{what} is not built in this install of nnpy (built: "
                          f"{', '.join(built)}); unset NNPY_CPU_LEVEL or choose a built level")
    missing = missing_features(name)
    if missing:
        raise ImportError(f"{what}: this processor cannot run that core (it lacks "
                          f"{', '.join(missing)}); it runs {', '.join(cpu_levels())}")
    return _import_core(name)


core = load_core()
CPU_LEVEL: str = core.__name__.rsplit("_core_", 1)[1]
