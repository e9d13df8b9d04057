"""What is checked before a command's work starts (the output files, the memory a
training run needs), and UsageError, the message of a user's mistake (exit status 2)."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Optional, Sequence

from ._args import DIGITS_DEFAULTS
from ._output import _have_matplotlib


class UsageError(Exception):
    """A mistake in what the user typed or gave (a file, a column): its message is printed
    and the command exits with status 2."""


def _check_out(args: argparse.Namespace) -> Optional[str]:
    """What is wrong with --out, or None: checked (and the directory made) before training,
    so that a long run does not end in an error about where its plot goes."""
    if args.no_plot or not _have_matplotlib():
        return None
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        return f"--out {args.out!r} is a file, not a directory"
    try:
        os.makedirs(args.out, exist_ok=True)
        with tempfile.TemporaryFile(dir=args.out):
            pass
    except OSError as err:
        return f"--out {args.out!r} cannot be written: {err.strerror or err}"
    return None


def _check_hidden(args: argparse.Namespace) -> Optional[str]:
    """What is wrong with --hidden, or None: a width whose training would not fit in the
    memory this process has is refused before anything is allocated."""
    if args.hidden is None:
        return None
    if args.command == "xor":
        sizes, rows, batch = [2, args.hidden, 1], 4, 1
    else:  # digits: 1347 of the 1797 images train, in batches of 10
        sizes, rows, batch = [64, args.hidden, 10], 1347, int(DIGITS_DEFAULTS["batch_size"])
    return _memory_problem(sizes, f"--hidden {args.hidden}", "sgd", rows, batch)


# Rows nnpy computes at a time in training and prediction (nnpy.network's _TRAIN_BLOCK and
# _PREDICT_BLOCK), and the most threads of a product: what the workspace grows with.
_BLOCK_ROWS = 256
_PACKING_BYTES = 8 * 2 * (96 * 256 + 256 * 1024)  # gemm's packing space, per thread (x2: slack)


# Vectors of n_params numbers alive at the peak of a training run and of saving its model.
# adam: the parameters, its two moments, the training workspace's gradient and new moments
# (3), the estimator's copy of the best parameters, and saving's copy of the network with its
# moments and the serialised bytes (twice: the buffer and the array made of it); sgd: one
# moment (the velocity) in place of two, each way. lbfgs: scipy's L-BFGS-B keeps 10 pairs of
# vectors and a few more (2 * 10 + 5), with its own copies of the parameters and gradient.
_PARAMETER_COPIES = {"adam": 12, "sgd": 9, "lbfgs": 40}


def _training_bytes(sizes: Sequence[int], solver: str, n_rows: int, batch: int,
                    activation: str = "relu") -> int:
    """An estimate from above of the memory a training run allocates: the copies of the
    parameters (_PARAMETER_COPIES), the activations and deltas of a block of rows (and its
    pre-activations, for a hidden activation whose derivative the core takes from them),
    gemm's packing space, and the standardised, shuffled and encoded copies of the rows."""
    from .._dispatch import core
    n_params = sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    block = min(batch if solver != "lbfgs" else n_rows, _BLOCK_ROWS)
    activations = block * (sum(sizes) + 2 * max(sizes) + sizes[-1])
    if activation in core.ACTIVATIONS_FROM_Z:
        activations += block * sum(sizes[1:])
    rows = 4 * n_rows * (sizes[0] + sizes[-1])
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)
    return 8 * (_PARAMETER_COPIES[solver] * n_params + activations + rows) + \
        threads * _PACKING_BYTES


def _available_memory() -> int:
    """The bytes this process can still allocate, as well as can be told: the least of the
    memory the system has available (Linux's MemAvailable and free swap; else all of its
    memory), what the address-space limit (RLIMIT_AS) leaves, and what the cgroup's memory
    limit leaves."""
    limits = []
    meminfo = _proc_fields("/proc/meminfo")
    if "MemAvailable" in meminfo:
        limits.append(meminfo["MemAvailable"] + meminfo.get("SwapFree", 0))
    else:
        try:
            limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):  # not on this platform
            pass
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            mapped = _proc_fields("/proc/self/status").get("VmSize", 0)
            limits.append(max(soft - mapped, 0))
    except (ImportError, OSError, ValueError):  # Windows
        pass
    limits.extend(_cgroup_room())
    return min(limits) if limits else 1 << 50


def _proc_fields(path: str) -> dict[str, int]:
    """The "Name: N kB" lines of a /proc file as {name: bytes}; {} where there is none."""
    fields = {}
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                name, _, value = line.partition(":")
                parts = value.split()
                if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
                    fields[name] = 1024 * int(parts[0])
    except OSError:
        pass
    return fields


def _cgroup_room() -> list[int]:
    """What the memory limit of this process's cgroup (v2) leaves, if it has one."""
    try:
        with open("/proc/self/cgroup", encoding="ascii", errors="replace") as f:
            paths = [line.strip().split(":", 2)[2] for line in f if line.startswith("0::")]
        base = os.path.join("/sys/fs/cgroup", paths[0].lstrip("/")) if paths else ""
        with open(os.path.join(base, "memory.max")) as f:
            limit = f.read().strip()
        with open(os.path.join(base, "memory.current")) as f:
            used = int(f.read().strip())
    except (OSError, ValueError, IndexError):
        return []
    return [] if limit == "max" or not limit.isdigit() else [max(int(limit) - used, 0)]


def _memory_problem(sizes: Sequence[int], option: str, solver: str, n_rows: int,
                    batch: int, activation: str = "relu") -> Optional[str]:
    """What is wrong with training a network of these layer sizes on n_rows rows, or None:
    one whose training (_training_bytes) would not fit in the memory this process has."""
    need = _training_bytes(sizes, solver, n_rows, batch, activation)
    have = _available_memory()
    if need > have:
        n_params = sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
        return (f"{option} is too large for this machine: training a "
                f"{'-'.join(map(str, sizes))} network ({n_params:,} weights, {solver}) on "
                f"{n_rows:,} rows needs about {_format_bytes(need)}, and this process has "
                f"{_format_bytes(have)} of memory available")
    return None


def _format_bytes(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.0f} MiB"


def _check_not_an_input(option: str, path: str, inputs: Sequence[tuple[str, str]]) -> None:
    """UsageError if the file `option` writes to is one of the `inputs` ((what, path) pairs)
    the command reads: writing it would destroy what the command reads from."""
    for what, source in inputs:
        if _same_file(path, source):
            same = "" if path == source else " (the same file)"
            raise UsageError(f"{option} {path!r} is {what} {source!r}{same}: writing it would "
                             f"replace the {what} this command reads; write to another file")


def _same_file(a: str, b: str) -> bool:
    """Whether the paths a and b name one file: the same file system object when both exist
    (through a symbolic link, a hard link, or two spellings of a path), or the same path once
    symbolic links are resolved."""
    try:
        first, second = os.stat(a), os.stat(b)
    except (OSError, ValueError):  # one is missing, unreadable, or no path at all
        pass
    else:
        if first.st_ino and (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino):
            return True
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except (OSError, ValueError):
        return False


def _check_writable(path: str, option: str) -> Optional[str]:
    """What keeps `path` from being written as a new file (replacing an old one), or None:
    checked before a long run, which would otherwise end in the error."""
    if os.path.isdir(path):
        return f"{option} {path!r} is a directory; it needs a file name"
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        return f"{option} {path!r}: the directory {directory!r} does not exist"
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as err:
        return f"{option} {path!r} cannot be written: {err.strerror or err}"
    return None


def _check_encodable(texts: Sequence[str]) -> None:
    """UsageError if standard output's encoding cannot write the column names and labels of
    the CSV (the numbers are ASCII): a label must not come out changed."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    for text in texts:
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            raise UsageError(f"standard output's encoding ({encoding}) cannot write {text!r}: "
                             f"write the CSV (UTF-8) with --out FILE, or set "
                             f"PYTHONIOENCODING=utf-8") from None
        except LookupError:  # an encoding Python does not know: let the write tell
            return
