"""The systems compared. Each Python system is a module with
    run(system, workload, params, ctx) -> {case_id: {"times_s": [...], "work": units, ...}}
called inside a worker process (worker.py) whose thread limits are already set; it raises Skip
when the system (or the piece of it a workload needs) is not installed, with how to install it.
The compiled harnesses (climit: the C yardstick; fann_c: FANN) are built and run from run.py."""

from __future__ import annotations

from types import ModuleType
from typing import Any, Iterable, Optional

# What to install when a system's package is missing (the message of its Skip).
INSTALL_HINTS = {
    "torch": "pip install torch (the CPU build is enough)",
    "sklearn": 'pip install "nnpy-net[bench]"',
}


class Skip(Exception):
    """The system cannot run this workload here; the message says why."""


def need(module_name: str, what: Optional[str] = None) -> ModuleType:
    """Imports module_name or raises Skip("not installed (...)") naming how to install it."""
    import importlib
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        top = module_name.split(".")[0]
        hint = INSTALL_HINTS.get(top)
        raise Skip(f"not installed ({what or module_name}: {exc}"
                   + (f"; {hint}" if hint else "") + ")") from None


def need_attr(obj: object, name: str, what: str) -> Any:
    if not hasattr(obj, name):
        raise Skip(f"not installed ({what} has no {name} yet)")
    return getattr(obj, name)


def result(times: Iterable[float], work: float, **extra: Any) -> dict[str, Any]:
    """One case's entry of a run(): the seconds of each repeat, the units of work timed (steps,
    epochs, rows, calls) and `extra` (losses, accuracies, ...)."""
    out = {"times_s": list(times), "work": work}
    out.update(extra)
    return out
