"""The environment of a benchmark run: thread limits set before numpy loads, the OpenBLAS
variables that slow a current numpy, and a description of the machine for the results."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from typing import Any, Dict, MutableMapping, Optional, Sequence, TypeVar, overload

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NNPY_NUM_THREADS")
# Set on some machines for old OpenBLAS builds; they make a current numpy's BLAS pick a slower
# kernel, so they are removed for the whole run (and the removal recorded).
SLOW_OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


_Env = TypeVar("_Env", bound=MutableMapping[str, str])


@overload
def set_thread_env(threads: int) -> os._Environ[str]: ...
@overload
def set_thread_env(threads: int, env: _Env) -> _Env: ...
def set_thread_env(threads: int,
                   env: Optional[MutableMapping[str, str]] = None) -> MutableMapping[str, str]:
    """Limits every thread pool we know of to `threads` (must run before numpy is imported:
    OpenBLAS and OpenMP read these once, when they load)."""
    env = os.environ if env is None else env
    for name in THREAD_VARS:
        env[name] = str(threads)
    return env


def drop_slow_openblas_vars(env: Optional[MutableMapping[str, str]] = None) -> dict[str, str]:
    """Removes OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE; returns what was removed."""
    env = os.environ if env is None else env
    return {name: env.pop(name) for name in SLOW_OPENBLAS_VARS if name in env}


def _run(cmd: Sequence[str]) -> str:
    # without the thread limits: nproc reports OMP_NUM_THREADS when it is set
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS + ("OMP_THREAD_LIMIT",)}
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20, env=env).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model() -> str:
    for line in _run(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def describe() -> dict[str, Any]:
    """Machine, OS, compiler and load: what a reader needs to place the absolute numbers."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "cpu_model": cpu_model(),
        "nproc": (_run(["nproc"]).strip() or str(os.cpu_count())),
        "cpus_usable": affinity,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cc": (_run(["cc", "--version"]).splitlines() or ["none"])[0],
        "loadavg_at_start": load,
    }


def versions() -> Dict[str, Optional[str]]:
    """Versions of the packages compared, where installed (imported lazily: no torch here)."""
    from importlib import metadata
    out: Dict[str, Optional[str]] = {}
    for dist in ("numpy", "nnpy-net", "nnpy", "torch", "scikit-learn", "threadpoolctl",
                 "matplotlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    if out.pop("nnpy-net"):  # the distribution's new name; the report calls it nnpy
        out["nnpy"] = metadata.version("nnpy-net")
    out["libfann"] = _run(["dpkg-query", "-W", "-f", "${Version}", "libfann-dev"]).strip() or None
    return out
