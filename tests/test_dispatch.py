"""CPU detection and dispatch: nnpy._cpu against Linux's /proc/cpuinfo, the level nnpy picks
(whatever numpy says), and NNPY_CPU_LEVEL for every level: built, not built, not runnable."""
import os
import platform
import subprocess
import sys

import pytest

import nnpy
from nnpy import _cpu, _dispatch

X86_64 = platform.machine().lower() in ("x86_64", "amd64")
# nnpy._cpu's names that /proc/cpuinfo spells differently (the kernel lists no osxsave, and
# lists xsave only when it has enabled it)
CPUINFO_NAME = {"lzcnt": "abm", "sse3": "pni", "osxsave": "xsave"}


def cpuinfo_flags():
    """The flags of the first processor in /proc/cpuinfo (skips where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        pytest.skip("no /proc/cpuinfo: not Linux")
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    pytest.skip("/proc/cpuinfo lists no x86 flags")


def levels_per_cpuinfo():
    """The levels the processor runs according to the kernel, best first."""
    flags = cpuinfo_flags()
    return [level for level, needs in _dispatch.LEVELS.items()
            if all(CPUINFO_NAME.get(name, name) in flags for name in needs)]


def import_nnpy(level=None, code="import nnpy; print(nnpy.CPU_LEVEL)"):
    """Runs `code` in a fresh interpreter with NNPY_CPU_LEVEL=level (unset for None)."""
    env = {k: v for k, v in os.environ.items() if k != "NNPY_CPU_LEVEL"}
    if level is not None:
        env["NNPY_CPU_LEVEL"] = level
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.skipif(not X86_64, reason="CPUID exists on x86-64 only")
def test_features_match_proc_cpuinfo():
    flags = cpuinfo_flags()
    features = _cpu.features()
    assert set(features) == {name for needs in _dispatch.LEVELS.values() for name in needs}
    assert features == {name: CPUINFO_NAME.get(name, name) in flags for name in features}


@pytest.mark.skipif(X86_64, reason="the other architectures have no x86 features")
def test_no_x86_features_elsewhere():
    assert _cpu.features() == {}
    assert _dispatch.cpu_levels() == ["baseline"]


def test_levels_from_features():
    everything = {name: True for needs in _dispatch.LEVELS.values() for name in needs}
    assert _dispatch.cpu_levels(everything) == ["x86_64_v4", "x86_64_v3", "baseline"]
    no_zmm_state = dict(everything, avx512bw=False)
    assert _dispatch.cpu_levels(no_zmm_state) == ["x86_64_v3", "baseline"]
    assert _dispatch.missing_features("x86_64_v4", no_zmm_state) == ["avx512bw"]
    assert _dispatch.cpu_levels(dict(everything, movbe=False)) == ["baseline"]
    assert _dispatch.cpu_levels({}) == ["baseline"]


def test_the_level_is_the_best_built_one_the_processor_runs():
    runs = levels_per_cpuinfo() if X86_64 and sys.platform == "linux" else _dispatch.cpu_levels()
    expected = next(level for level in _dispatch.built_levels() if level in runs)
    done = import_nnpy()
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [expected]
    if "NNPY_CPU_LEVEL" not in os.environ:
        assert nnpy.CPU_LEVEL == expected


def test_the_level_does_not_depend_on_numpys_cpu_table():
    # numpy < 2.4 has no X86_V3/X86_V4 keys in its private table; nnpy must not care
    code = """if True:
        import numpy
        try:
            from numpy._core import _multiarray_umath as umath
        except ImportError:
            from numpy.core import _multiarray_umath as umath
        umath.__cpu_features__.clear()
        import nnpy
        print(nnpy.CPU_LEVEL)"""
    done = import_nnpy(code=code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [_dispatch.available_levels()[0]]


@pytest.mark.parametrize("level", list(_dispatch.LEVELS))
def test_forced_level(level):
    done = import_nnpy(level.upper().replace("_", "-", 2) if level != "baseline" else level)
    if level in _dispatch.available_levels():
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [level]
    elif level not in _dispatch.built_levels():
        assert "is not built in this install" in done.stderr
    else:
        assert "this processor cannot run that core (it lacks avx" in done.stderr
        assert "ImportError" in done.stderr


def test_unknown_level_is_refused():
    done = import_nnpy("pentium_mmx")
    assert done.returncode != 0
    assert "NNPY_CPU_LEVEL='pentium_mmx' is not a level nnpy knows: use one of x86_64_v4, " \
           "x86_64_v3, baseline" in done.stderr
    with pytest.raises(ImportError, match="level 'pentium_mmx' is not a level nnpy knows"):
        _dispatch.load_core("pentium_mmx")


def test_a_level_the_processor_cannot_run_is_refused(monkeypatch):
    monkeypatch.setattr(_dispatch, "built_levels", lambda: list(_dispatch.LEVELS))
    monkeypatch.setattr(_dispatch, "cpu_features",
                        lambda: {name: True for name in _dispatch.LEVELS["x86_64_v3"]})
    with pytest.raises(ImportError, match=r"level 'x86_64_v4': this processor cannot run that "
                                          r"core \(it lacks avx512f, avx512bw, avx512cd, "
                                          r"avx512dq, avx512vl\); it runs x86_64_v3, baseline"):
        _dispatch.load_core("x86_64_v4")


def test_a_level_not_built_is_refused(monkeypatch):
    monkeypatch.setattr(_dispatch, "built_levels", lambda: ["baseline"])
    with pytest.raises(ImportError, match=r"level 'x86-64-v3' is not built in this install of "
                                          r"nnpy \(built: baseline\)"):
        _dispatch.load_core("x86-64-v3")


# What the core's libgomp says of its wait policy (omp_display_env), from a fresh process.
SPIN_PROBE = """
import ctypes, os, sys
import nnpy
assert "GOMP_SPINCOUNT" not in os.environ or os.environ["GOMP_SPINCOUNT"] == sys.argv[1]
with open("/proc/self/maps") as f:
    paths = sorted({line.split()[-1] for line in f if "libgomp" in line})
if not paths:
    print("no libgomp")
    raise SystemExit
os.dup2(1, 2)  # omp_display_env writes to stderr: into the output read below
ctypes.CDLL(paths[0]).omp_display_env(1)
"""


@pytest.mark.parametrize("env,spins", [({}, _dispatch._SPIN_COUNT),
                                       ({"GOMP_SPINCOUNT": "12345"}, "12345"),
                                       ({"OMP_WAIT_POLICY": "active"}, None)])
def test_the_cores_openmp_threads_sleep_soon_unless_the_user_chose(env, spins):
    """nnpy's libgomp spins _SPIN_COUNT before an idle thread sleeps (a shared machine's
    other work gets the processor), unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT;
    the environment itself is left as it was."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    if not os.path.exists("/proc/self/maps"):
        pytest.skip("no /proc/self/maps: not Linux")
    done = subprocess.run([sys.executable, "-c", SPIN_PROBE, env.get("GOMP_SPINCOUNT", "")],
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    if "no libgomp" in done.stdout:
        pytest.skip("this build of the core has no OpenMP")
    setting = [line for line in done.stdout.splitlines() if "GOMP_SPINCOUNT" in line]
    assert setting, done.stdout
    if spins is None:  # the user's policy: libgomp's own count for it, not nnpy's
        assert f"'{_dispatch._SPIN_COUNT}'" not in setting[0]
    else:
        assert f"'{spins}'" in setting[0]
