"""The systems compared. Each Python system is a module with
    run(workload, params, ctx) -> {case_id: {"times_s": [...], "work": units per repeat, ...}}
called inside a worker process (bench/worker.py) whose thread limits are already set; it
raises Skip when the system (or the piece of it a workload needs) is not installed.
The C yardstick (climit) is compiled and run from run.py directly."""


class Skip(Exception):
    """The system cannot run this workload here; the message says why."""


def need(module_name, what=None):
    """Imports module_name or raises Skip("not installed")."""
    import importlib
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise Skip(f"not installed ({what or module_name}: {exc})") from None


def need_attr(obj, name, what):
    if not hasattr(obj, name):
        raise Skip(f"not installed ({what} has no {name} yet)")
    return getattr(obj, name)


def result(times, work, **extra):
    out = {"times_s": list(times), "work": work}
    out.update(extra)
    return out
