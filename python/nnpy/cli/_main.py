"""main: the `nnpy` command line, run with standard output and error guarded (_output)
and its errors turned into messages and exit statuses."""
from __future__ import annotations

import contextlib
import importlib
import sys
from typing import Sequence

from ._args import _parser
from ._checks import UsageError, _check_hidden, _check_out
from ._demos import run_digits, run_xor
from ._output import _CLOSED_PIPE, _Output
from ._predict import run_predict, run_score
from ._train import run_train


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line `argv` (default sys.argv[1:]); returns the exit status."""
    streams = sys.stdout, sys.stderr
    out, err = _Output(sys.stdout), _Output(sys.stderr)
    sys.stdout, sys.stderr = out, err  # file-like stand-ins, see _Output
    try:
        status = _main(list(sys.argv[1:] if argv is None else argv))
        out.flush()  # what is still buffered fails here, not in the interpreter's exit
        err.flush()
    finally:
        sys.stdout, sys.stderr = streams
    # stdout carries what was asked for: losing any of it changes the status; stderr's
    # messages are lost quietly (a failed command's status already says it failed)
    if out.failure is not None and not out.closed_pipe:  # a full disk, a closed descriptor
        with contextlib.suppress(OSError, ValueError, AttributeError):
            print(f"nnpy: error: cannot write to standard output: "
                  f"{out.failure.strerror or out.failure}", file=sys.stderr)
        return status or 1
    if out.closed_pipe:
        return status or _CLOSED_PIPE
    return status


def _main(argv: list[str]) -> int:
    if argv and argv[0] == "bench":
        return _bench(argv[1:])
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "xor")  # `nnpy` alone, or `nnpy --seed 3`, runs xor
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse printed the message (or the help)
        return exit_.code if isinstance(exit_.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 2
    if args.command in ("xor", "digits"):
        problem = _check_hidden(args) or _check_out(args)
        if problem:
            print(f"nnpy {args.command}: error: {problem}", file=sys.stderr)
            return 2
    run = {"xor": run_xor, "digits": run_digits, "train": run_train,
           "predict": run_predict, "score": run_score}[args.command]
    try:
        return run(args)
    except UsageError as err:
        print(f"nnpy {args.command}: error: {err}", file=sys.stderr)
        return 2
    except MemoryError:  # beyond what _memory_problem foresees (other processes took it)
        print(f"nnpy {args.command}: error: out of memory: "
              + ("the model or DATA.csv is too large for the memory available"
                 if args.command in ("predict", "score") else "the network (--hidden) or the data is "
                 "too large for the memory available; try a smaller --hidden"),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _bench(argv: list[str]) -> int:
    try:
        benchmarks = importlib.import_module("nnpy.benchmarks")
    except ImportError as err:
        if getattr(err, "name", None) not in ("nnpy.benchmarks",):
            raise
        print("nnpy bench: the benchmark suite (nnpy.benchmarks) is not in this installation "
              "of nnpy.", file=sys.stderr)
        return 2
    status = benchmarks.main(argv)
    return 0 if status is None else int(status)
