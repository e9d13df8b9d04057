"""The `nnpy` command (also `python -m nnpy`).

    nnpy                 same as `nnpy xor`
    nnpy xor             the blog post's 2-2-1 network learns XOR; truth table, times against
                         the post's numpy loop, the error-per-epoch plot xor-loss.png and the
                         output over the input plane xor-surface.png
    nnpy digits          scikit-learn's 8x8 digits with a 64-32-10 network: held-out accuracy,
                         confusion matrix, and the loss/accuracy curves digits-curves.png
    nnpy bench [--quick] the benchmark suite (nnpy.benchmarks)
    nnpy train DATA.csv --target COLUMN --save MODEL
                         trains an NNClassifier / NNRegressor on a CSV file's columns and saves
                         the model (nnpy.modelfile) in one file
    nnpy predict MODEL DATA.csv [--out FILE] [--proba]
                         the model's predictions for a CSV file's rows, as CSV
    nnpy score MODEL DATA.csv
                         accuracy and confusion matrix, or R^2, MAE and RMSE, on a labelled file

Demo options (xor, digits): --seed, --epochs, --lr, --hidden, --no-progress, --out DIR,
--no-plot. Every run is deterministic for a given seed (apart from the times it prints).

nnpy train reads a CSV file with a header (comma-separated, UTF-8; see nnpy._csvtable for
what a number is and what a missing value; "-" reads standard input). The --target column is
predicted from every other column (less those named by --ignore): numbers, or text columns
(and those named by --categorical), one-hot encoded with the file's categories; missing cells
are an error, or dropped or filled with the training rows' mean or median (--missing), the
fill stored in the model. Every problem of the file is said at once (the first 20). A target of integers or text is a classification,
one of other numbers a regression, unless --task says otherwise. The rows are split into a
training and a held-out part (--test-size, stratified by class for a classification, drawn
with --seed); the features are standardised with the training part's mean and standard
deviation (and a regression's target too); an NNClassifier / NNRegressor with scikit-learn's
MLP parameters (--hidden 64,32 is hidden_layer_sizes=(64, 32); --activation, --solver, --lr
is learning_rate_init, --alpha, --batch-size, --epochs is max_iter, --early-stopping with
--validation-fraction and --patience (n_iter_no_change), on by default when the validation
part has 20 rows or more, --seed is random_state) is trained on the training part; the held-out
accuracy or R^2 and the training time are printed, and the model is saved to --save.

nnpy predict reads the model and a CSV file holding the model's feature columns (matched by
name, in any order) and writes CSV to stdout (or --out -) or to --out FILE (written
atomically): a header, then one line per input row with all its columns as they were read
(ids included), then the prediction in a column named after the target, or predicted_TARGET
when the file has the target column (class labels as in the training file); --proba adds one
column per class, P(label), its probability. A category the model did not see is an error
naming it, or with --unknown ignore encoded as none of the known ones. Numbers are written
with all the digits needed to read them back exactly. nnpy score reads the same and the
target column, and prints the accuracy with a confusion matrix, or R^2, MAE and RMSE.

Class labels come back exactly as the training file spells them ("01", "+3", "setosa"): a
target column of integers written plainly ("7", "-3") holds int64 classes, any other
spelling keeps its text.

Bad arguments and bad input (a missing file, a column that is not there or not numeric, an
empty cell, an --out that cannot be written, an output file that is one of the command's
input files, a network too large for the memory available, a file that is not a model) give
a message and exit status 2, checked before training; a training run that diverges exits
with status 1, as does one whose standard output cannot be written (a full disk); the
progress bar is drawn only on a terminal. A closed pipe (`nnpy train ... | head -n 3`) ends
the printing, never the work: the model is still saved and the plots written, quietly, and
the status is then 141, as for a program a closed pipe ends (SIGPIPE).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import errno
import importlib
import io
import math
import os
import random
import sys
import tempfile
import time
import warnings
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence, TextIO

import numpy as np

from . import _family

if TYPE_CHECKING:
    from ._csvtable import Table
    from .estimators import NNClassifier, NNRegressor
    from .network import History, Network

__all__ = ["main"]

XOR_DEFAULTS = dict(epochs=2500, lr=1.0, hidden=2)
DIGITS_DEFAULTS = dict(epochs=30, lr=3.0, hidden=32, batch_size=10)
_REFERENCE_STEPS_MAX = 10_000   # steps of the post's numpy loop timed at most (then scaled)


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------

def _int_at_least(minimum: int, wording: str) -> Callable[[str], int]:
    """An argparse type: a whole number >= minimum."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {wording}, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1, "at least 1")
_seed = _int_at_least(0, "0 or more")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _fraction(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (both excluded), got {text}")
    return value


def _widths(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated hidden layer widths, "64,32" -> (64, 32)."""
    parts = text.split(",")
    if any(not part.strip() for part in parts):
        raise argparse.ArgumentTypeError(f"expected widths separated by commas such as 64,32; "
                                         f"{text!r} has an empty one")
    return tuple(_positive_int(part.strip()) for part in parts)


def _seed32(seed: int) -> int:
    """A seed below 2**32 for what takes no larger one (np.random.seed, scikit-learn's
    random_state): the seed itself when it fits, else one derived from all of its bits."""
    if seed < 2 ** 32:
        return seed
    return int(np.random.SeedSequence(seed).generate_state(1, np.uint32)[0])


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument("--seed", type=_seed, default=0,
                       help="seed of the initial weights, shuffling and splits (default 0)")
    group.add_argument("--epochs", type=_positive_int, default=None,
                       help="training epochs (xor: %(x)d, digits: %(d)d)"
                       % {"x": XOR_DEFAULTS["epochs"], "d": DIGITS_DEFAULTS["epochs"]})
    group.add_argument("--lr", type=_positive_float, default=None,
                       help="learning rate (xor: %(x)g, digits: %(d)g)"
                       % {"x": XOR_DEFAULTS["lr"], "d": DIGITS_DEFAULTS["lr"]})
    group.add_argument("--hidden", type=_positive_int, default=None,
                       help="width of the hidden layer (xor: %(x)d, digits: %(d)d)"
                       % {"x": XOR_DEFAULTS["hidden"], "d": DIGITS_DEFAULTS["hidden"]})
    group.add_argument("--no-progress", action="store_true", help="no progress bar")
    group.add_argument("--out", metavar="DIR", default=".",
                       help="directory for the plots (default: the current directory)")
    group.add_argument("--no-plot", action="store_true", help="write no plot")
    return common


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="nnpy", description="nnpy's demos (the blog post's XOR network, handwritten "
        "digits, the benchmarks), and training and prediction on your own CSV files. `nnpy` "
        "alone runs `nnpy xor`.")
    parser.add_argument("--version", action="version", version=f"nnpy {__version__}")
    commands = parser.add_subparsers(dest="command",
                                     metavar="{xor,digits,bench,train,predict,score}")
    common = _common_options()
    commands.add_parser("xor", parents=[common], help="the post's 2-2-1 network learns XOR",
                        description="Trains the blog post's 2-2-1 sigmoid network (weights "
                        "uniform in [0, 1), one sample per step) on all four XOR samples; prints "
                        "the truth table and the times against the post's loop, and writes the "
                        "error per epoch to xor-loss.png and the output over the input plane to "
                        "xor-surface.png.")
    commands.add_parser("digits", parents=[common], help="64-32-10 network on 8x8 digits",
                        description="Trains a 64-32-10 network on scikit-learn's digits "
                        "(75% of them, stratified) and reports the accuracy on the other 25%, "
                        "a confusion matrix, and the curves in digits-curves.png. Needs "
                        "scikit-learn.")
    commands.add_parser("bench", add_help=False, help="the benchmark suite: nnpy bench "
                        "[--quick] [...] (options: nnpy bench --help)")
    _train_parser(commands)
    _predict_parser(commands)
    _score_parser(commands)
    return parser


# `commands` is what ArgumentParser.add_subparsers returns
def _train_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    train = commands.add_parser(
        "train", help="train a network on a CSV file and save the model",
        description="Trains an NNClassifier or NNRegressor (scikit-learn's MLP parameters) to "
        "predict the --target column of a CSV file (a header line, then one row per sample) "
        "from all its other columns, which must be numeric. A target of integers or text is a "
        "classification, one of other numbers a regression, unless --task says otherwise. "
        "The rows are split into training and held-out rows (stratified by class), the "
        "features standardised with the training rows' mean and standard deviation (and a "
        "regression's target too); prints the held-out accuracy or R^2 and the training "
        "time, and saves everything `nnpy predict` and nnpy.load need in the --save file. "
        "Needs scikit-learn.",
        epilog="example: nnpy train iris.csv --target species --hidden 16 --save iris.model")
    train.add_argument("data", metavar="DATA.csv", help="the training data")
    train.add_argument("--target", required=True, metavar="COLUMN",
                       help="the column to predict")
    train.add_argument("--save", required=True, metavar="MODEL",
                       help="the file to write the model to (replaced if it exists)")
    train.add_argument("--task", choices=("classify", "regress"), default=None,
                       help="classify or regress (default: classify a target of integers or "
                       "text, regress one of other numbers)")
    train.add_argument("--ignore", action="append", default=[], metavar="COLUMN",
                       help="a column that is not a feature, such as an id (repeat for several)")
    train.add_argument("--categorical", action="append", default=[], metavar="COLUMN",
                       help="one-hot encode this feature column (repeat for several); a column "
                       "whose cells are all text is encoded without it")
    train.add_argument("--missing", choices=("drop", "mean", "median"), default=None,
                       help="missing cells (empty, NA, NaN, null, None): drop their rows, or "
                       "fill them with the training rows' mean or median (a text column's "
                       "most frequent category); the fill is saved and applied by predict "
                       "(default: a missing cell is an error)")
    train.add_argument("--test-size", type=_fraction, default=0.2, metavar="FRACTION",
                       help="fraction of the rows held out to score the model (default 0.2)")
    tuning = train.add_argument_group("the network and its training (scikit-learn's MLP "
                                      "parameters)")
    tuning.add_argument("--hidden", type=_widths, default=(100,), metavar="WIDTHS",
                        help="hidden layer widths, comma-separated, e.g. 64,32 "
                        "(hidden_layer_sizes; default 100)")
    tuning.add_argument("--activation", choices=tuple(_family.ESTIMATOR_NAMES),
                        default="relu", help="hidden layers' activation (default relu)")
    tuning.add_argument("--solver", choices=("adam", "sgd", "lbfgs"), default="adam",
                        help="the optimiser (default adam)")
    tuning.add_argument("--lr", type=_positive_float, default=0.001,
                        help="initial learning rate of adam and sgd (learning_rate_init; "
                        "default 0.001)")
    tuning.add_argument("--alpha", type=_non_negative_float, default=0.0001,
                        help="L2 penalty on the weights (alpha; default 0.0001)")
    tuning.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                        help="rows per step of adam and sgd (batch_size; default: 200, or all "
                        "the training rows if fewer)")
    tuning.add_argument("--epochs", type=_positive_int, default=None,
                        help="epochs at most (lbfgs: iterations; max_iter; default 1000 with "
                        "early stopping, else 200)")
    tuning.add_argument("--early-stopping", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="stop when the score on a validation part of the training rows "
                        "(--validation-fraction) has not improved for --patience epochs, and "
                        "keep the best weights (early_stopping; adam and sgd; default: on when "
                        "the validation part has 20 rows or more)")
    tuning.add_argument("--validation-fraction", type=_fraction, default=0.1,
                        metavar="FRACTION", help="the training rows early stopping scores on "
                        "(validation_fraction; default 0.1)")
    tuning.add_argument("--patience", type=_positive_int, default=10, metavar="EPOCHS",
                        help="epochs without improvement before stopping (n_iter_no_change; "
                        "default 10)")
    tuning.add_argument("--seed", type=_seed, default=0,
                        help="seed of the split, the initial weights and the shuffling "
                        "(random_state; default 0)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")


def _predict_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    predict = commands.add_parser(
        "predict", help="a saved model's predictions for a CSV file's rows",
        description="Reads a model saved by `nnpy train` and a CSV file with the model's "
        "feature columns (matched by name, in any order), and writes CSV: a header, then each "
        "input row with all its columns as read (ids included), then the prediction in a "
        "column named after the target (class labels as in the training file), or "
        "predicted_TARGET when the file has the target column itself. DATA.csv - reads "
        "standard input.",
        epilog="example: nnpy predict iris.model new-flowers.csv --proba --out predictions.csv")
    predict.add_argument("model", metavar="MODEL", help="a model file written by nnpy train")
    predict.add_argument("data", metavar="DATA.csv", help="the rows to predict (- for standard "
                         "input)")
    predict.add_argument("--out", metavar="FILE", default=None,
                         help="write the CSV to FILE (atomically) instead of standard output "
                         "(- is standard output)")
    predict.add_argument("--proba", action="store_true",
                         help="add each class's probability, in columns named P(label) "
                         "(classifiers)")
    _unknown_option(predict)


def _unknown_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--unknown", choices=("error", "ignore"), default="error",
                        help="a category of a text column that the model did not see in "
                        "training: an error naming it (default), or encoded as none of the "
                        "known categories (ignore)")


def _score_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    score = commands.add_parser(
        "score", help="a saved model's score on a labelled CSV file",
        description="Reads a model saved by `nnpy train` and a CSV file with the model's "
        "feature columns and its target column, and prints the accuracy and a confusion "
        "matrix (a classifier) or R^2, MAE and RMSE (a regression). DATA.csv - reads "
        "standard input.",
        epilog="example: nnpy score iris.model iris-test.csv")
    score.add_argument("model", metavar="MODEL", help="a model file written by nnpy train")
    score.add_argument("data", metavar="DATA.csv", help="labelled rows (- for standard input)")
    _unknown_option(score)


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


# The status of a program that a closed pipe (SIGPIPE) ends: 128 + the signal's number, as a
# shell reports it (`nnpy predict ... | head -n 1` then exits as `cat ... | head -n 1` does).
_CLOSED_PIPE = 128 + 13


class _Output:
    """sys.stdout or sys.stderr while a command runs: writes pass through until the stream
    fails (the reader of a pipe went away: `nnpy train ... | head -n 3`; a full disk), and
    are dropped from then on, so that a failed print never ends the work that matters
    (training, saving the model, writing the plots). The failure is kept for main to report.
    The stream's file descriptor then points at os.devnull (Python's recipe for SIGPIPE), so
    that what is left in its buffer does not fail again when the interpreter exits. A name
    or label the stream's encoding lacks is written escaped (\\xe9), not as a traceback."""

    def __init__(self, stream: Optional[TextIO]) -> None:
        self.stream = stream                        # None: the process has no such stream
        self.failure: Optional[OSError] = None      # why the stream stopped taking writes

    @property
    def closed_pipe(self) -> bool:
        return isinstance(self.failure, BrokenPipeError)

    def write(self, text: str) -> int:
        if self.stream is None and self.failure is None:  # started with the stream closed
            self.failure = OSError(errno.EBADF, "it is closed")
        if self.failure is None:
            try:
                try:
                    return self.stream.write(text)  # type: ignore[union-attr]
                except UnicodeEncodeError:  # a name or label its encoding lacks: escaped
                    encoding = self.stream.encoding or "ascii"  # type: ignore[union-attr]
                    return self.stream.write(  # type: ignore[union-attr]
                        text.encode(encoding, "backslashreplace").decode(encoding))
            except OSError as error:
                self._failed(error)
        return len(text)

    def flush(self) -> None:
        if self.stream is not None and self.failure is None:
            try:
                self.stream.flush()
            except OSError as error:
                self._failed(error)

    def _failed(self, error: OSError) -> None:
        self.failure = error
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self.stream.fileno())  # type: ignore[union-attr]
            finally:
                os.close(devnull)
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            pass  # not a file (embedded use, a test's capture): nothing is flushed at exit

    def isatty(self) -> bool:
        return self.stream is not None and self.failure is None and self.stream.isatty()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, ... of the stream
        return getattr(self.stream, name)


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


def _settings(args: argparse.Namespace, defaults: dict[str, Any]) -> dict[str, Any]:
    return {key: getattr(args, key) if getattr(args, key, None) is not None else value
            for key, value in defaults.items()}


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


def _training_bytes(sizes: Sequence[int], solver: str, n_rows: int, batch: int) -> int:
    """An estimate from above of the memory a training run allocates: the copies of the
    parameters (_PARAMETER_COPIES), the activations and deltas of a block of rows, gemm's
    packing space, and the standardised, shuffled and encoded copies of the training rows."""
    n_params = sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    block = min(batch if solver != "lbfgs" else n_rows, _BLOCK_ROWS)
    activations = block * (sum(sizes) + 2 * max(sizes) + sizes[-1])
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
                    batch: int) -> Optional[str]:
    """What is wrong with training a network of these layer sizes on n_rows rows, or None:
    one whose training (_training_bytes) would not fit in the memory this process has."""
    need = _training_bytes(sizes, solver, n_rows, batch)
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


def _out_path(args: argparse.Namespace, name: str) -> str:
    return os.path.join(args.out, name)


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _format_time(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


# ---------------------------------------------------------------------------------------------
# nnpy xor
# ---------------------------------------------------------------------------------------------

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)


def _post_loop(api: ModuleType, steps: int, seed: int) -> tuple[float, dict[str, Any]]:
    """The post's training loop, as it is, on `api` (nnpy.reference: the post's plain numpy;
    nnpy.post: nnpy's functions of the same names): init_net(2, 2, 1) and `steps` rounds of
    forwardPass/backPropogation on X[randrange(0, 3)] with lr 0.125. Returns (seconds, params)."""
    state = np.random.get_state()
    try:
        np.random.seed(_seed32(seed))
        params = api.init_net(2, 2, 1)
    finally:
        np.random.set_state(state)
    draw = random.Random(seed).randrange
    started = time.perf_counter()
    for _ in range(steps):
        item = draw(0, 3)
        params = api.forwardPass(XOR_X[item], XOR_Y[item], params)
        params = api.backPropogation(params, 0.125)
    return time.perf_counter() - started, params


def _post_predict(params: dict[str, Any], x: np.ndarray) -> float:
    from . import reference
    return float(reference.forwardPass(x, [0.0], params)["forwardPass"]["A_1"][0, 0])


def run_xor(args: argparse.Namespace) -> int:
    from .network import Network, TrainingDiverged
    s = _settings(args, XOR_DEFAULTS)
    epochs, lr, hidden = s["epochs"], s["lr"], s["hidden"]
    steps = 4 * epochs
    print(f"nnpy xor: the blog post's 2-{hidden}-1 sigmoid network, weights uniform in [0, 1) "
          f"(seed {args.seed}),")
    print(f"trained one sample at a time on all four XOR samples: {epochs} epochs x 4 = "
          f"{steps} steps, lr {lr}, 0.5 * squared error.")
    net = Network([2, hidden, 1], init="uniform01", seed=args.seed)
    progress = not args.no_progress and epochs >= 20_000 and _on_terminal() and _have_tqdm()
    started = time.perf_counter()
    try:
        history = net.fit(XOR_X, XOR_Y, epochs=epochs, lr=lr, batch_size=1, progress=progress)
    except TrainingDiverged as err:
        print(f"nnpy xor: {err}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    predictions = net.predict(XOR_X)[:, 0]

    print()
    print("  x1  x2 | target | nnpy's output")
    print("  -------+--------+--------------")
    for (x1, x2), target, out in zip(XOR_X.astype(int), XOR_Y[:, 0].astype(int), predictions):
        miss = abs(out - target)
        mark = "ok" if miss < 0.25 else ("WRONG" if miss >= 0.5 else "unsure")
        print(f"   {x1}   {x2} |   {target}    | {out:.4f}  {mark}")
    learned = bool(np.all(np.abs(predictions - XOR_Y[:, 0]) < 0.25))
    print(f"  final error (mean 0.5 * squared error): {history.loss[-1]:.3g}")
    # confidently wrong: the output sits at the wrong end of the sigmoid, whose slope is ~0
    saturated = int(np.sum(np.abs(predictions - XOR_Y[:, 0]) > 1 - _SATURATED))
    if not learned and saturated:
        print(f"  Not learned: the output is saturated ({saturated} of 4 samples answered within "
              f"{_SATURATED} of the\n  wrong value, where the sigmoid's slope is almost zero "
              f"and training stalls). The learning rate\n  is too large: --lr {lr:g} throws "
              f"the weights that far in the first steps. Try a smaller --lr\n  (the default is "
              f"{XOR_DEFAULTS['lr']:g}).")
    elif not learned:
        print("  Not learned. A 2-2-1 sigmoid network ends in a local minimum from some "
              "starting weights\n  (about 1 seed in 8 at the defaults), and few epochs may not "
              "be enough.\n  Try another --seed, more --epochs or a wider --hidden.")

    # the post's loop, on its numpy and on nnpy's functions, for the times (and for what the
    # post's loop learns)
    if hidden == 2:
        from . import post, reference
        timed = min(steps, _REFERENCE_STEPS_MAX)
        numpy_seconds, params = _post_loop(reference, timed, args.seed)
        nnpy_seconds, _ = _post_loop(post, timed, args.seed)
        per_step = {"fit": seconds / steps, "numpy": numpy_seconds / timed,
                    "nnpy": nnpy_seconds / timed}
        print()
        print("Time per training step (one sample: forward, backward, update):")
        print(f"  nnpy's Network.fit, the whole loop compiled:       "
              f"{_format_time(per_step['fit'])} ({steps} steps)")
        print(f"  the post's loop on nnpy (`from nnpy import ...`):  "
              f"{_format_time(per_step['nnpy'])} ({timed} steps)")
        print(f"  the post's loop on its numpy (nnpy.reference):     "
              f"{_format_time(per_step['numpy'])} ({timed} steps)")
        print("Speed-up over the post's numpy loop, per step:")
        print(f"  {per_step['numpy'] / per_step['nnpy']:.0f}x for the post's own script on nnpy's "
              f"forwardPass/backPropogation,")
        print(f"  {per_step['numpy'] / per_step['fit']:.0f}x for Network.fit (one call for all "
              f"the steps, not a Python call per step).")
        answer = _post_predict(params, XOR_X[3])
        print()
        print("Note: the post's loop draws `randrange(0, 3)`, so only the first three samples: "
              "[1, 1] -> 0 is")
        print(f"never trained. Its network (the loop above, {timed} steps, lr 0.125) answers "
              f"{answer:.2f} for [1, 1]")
        print("instead of 0. nnpy xor trains on all four samples.")
    else:
        print()
        print(f"Time: nnpy {_format_time(seconds)} for {steps} steps. (The speed-up over the "
              "post's loop is measured for --hidden 2: its network is 2-2-1.)")
        print("Note: the post's loop draws `randrange(0, 3)`, so [1, 1] -> 0 is never trained "
              "and its network\nanswers about 0.99 for [1, 1]. nnpy xor trains on all four.")

    if not args.no_plot:
        _xor_plot(args, net, history, epochs, hidden, lr)
    return 0


_SATURATED = 1e-3  # an output this close to the wrong value of 0 or 1 is saturated


def _on_terminal() -> bool:
    """Whether a progress bar can be drawn: stderr (where tqdm draws) is a terminal, not a
    pipe or a log file."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced
        return False


def _have_tqdm() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def _xor_plot(args: argparse.Namespace, net: Network, history: History, epochs: int,
              hidden: int, lr: float) -> None:
    if not _have_matplotlib():
        print('\n(no plot: matplotlib is not installed; pip install "nnpy-net[plot]" for '
              'xor-loss.png)')
        return
    from .plot import plot_decision_surface, plot_loss
    path = _out_path(args, "xor-loss.png")
    plot_loss(history, ylabel="error (mean of 0.5 * squared error)",
              title=f"XOR, 2-{hidden}-1 network: error per epoch (lr {lr}, seed {args.seed})",
              path=path)
    surface = _out_path(args, "xor-surface.png")
    plot_decision_surface(net, XOR_X, XOR_Y, title=f"XOR, 2-{hidden}-1 network: output over "
                          "the input plane", path=surface)
    print(f"\nWrote {path}: the error per epoch the post promised,")
    print(f"and {surface}: the network's output over the plane, with the four samples.")


# ---------------------------------------------------------------------------------------------
# nnpy digits
# ---------------------------------------------------------------------------------------------

def run_digits(args: argparse.Namespace) -> int:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        print('nnpy digits needs scikit-learn for its data set: pip install "nnpy-net[sklearn]"',
              file=sys.stderr)
        return 2
    from .network import Network, TrainingDiverged
    s = _settings(args, DIGITS_DEFAULTS)
    epochs, lr, hidden, batch = s["epochs"], s["lr"], s["hidden"], s["batch_size"]

    digits = load_digits()
    X = digits.data / 16.0
    labels = digits.target
    Y = np.eye(10)[labels]
    X_train, X_test, Y_train, Y_test, y_train, y_test = train_test_split(
        X, Y, labels, test_size=0.25, stratify=labels, random_state=_seed32(args.seed))
    print(f"nnpy digits: scikit-learn's 8x8 handwritten digits ({len(X)} images), "
          f"{len(X_train)} to train, {len(X_test)} held out")
    print(f"(stratified, seed {args.seed}); a 64-{hidden}-10 sigmoid network, "
          f"N(0, 1/sqrt(n_in)) weights, {epochs} epochs of mini-batch SGD")
    print(f"(batch {batch}, lr {lr}, 0.5 * squared error).")
    net = Network([64, hidden, 10], init="scaled_normal", seed=args.seed)
    progress = not args.no_progress and _on_terminal()
    if progress and not _have_tqdm():
        print('(no progress bar: pip install "nnpy-net[progress]")')
        progress = False

    def held_out(epoch: int, history: History) -> None:
        # measured on a snapshot: the network itself is busy inside fit
        snapshot = net.copy()
        history.val_loss.append(snapshot.loss(X_test, Y_test))
        history.val_accuracy.append(snapshot.accuracy(X_test, Y_test))

    sys.stdout.flush()
    started = time.perf_counter()
    try:
        history = net.fit(X_train, Y_train, epochs=epochs, lr=lr, batch_size=batch,
                          callback=held_out, progress=progress)
    except TrainingDiverged as err:
        print(f"nnpy digits: {err}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started

    predicted = net.predict(X_test).argmax(axis=1)
    accuracy = float(np.mean(predicted == y_test))
    print()
    print(f"Held-out accuracy: {100 * accuracy:.1f}% ({int(np.sum(predicted == y_test))} of "
          f"{len(y_test)}) after {epochs} epochs; training loss {history.loss[-1]:.4f}, "
          f"held-out loss {history.val_loss[-1]:.4f}.")
    print(f"Time: {_format_time(seconds)} for {epochs} epochs (with the held-out evaluation "
          f"after each).")
    print()
    print("Confusion matrix (rows: true digit, columns: predicted digit):")
    matrix = np.zeros((10, 10), dtype=int)
    np.add.at(matrix, (y_test, predicted), 1)
    print("       " + "".join(f"{d:>4}" for d in range(10)))
    for d in range(10):
        print(f"    {d}  " + "".join(f"{v:>4}" if v else "   ." for v in matrix[d]))

    if not args.no_plot:
        if _have_matplotlib():
            from .plot import plot_history
            path = _out_path(args, "digits-curves.png")
            plot_history(history, path, ylabel="loss (mean of 0.5 * squared error)",
                         val_label="held-out",
                         title=f"Digits, 64-{hidden}-10 network (lr {lr}, batch {batch}, "
                         f"seed {args.seed})")
            print(f"\nWrote {path}: training and held-out loss, and held-out accuracy, per "
                  "epoch.")
        else:
            print('\n(no plot: matplotlib is not installed; pip install "nnpy-net[plot]")')
    return 0


# ---------------------------------------------------------------------------------------------
# nnpy train, nnpy predict: a user's own CSV files
# ---------------------------------------------------------------------------------------------

class UsageError(Exception):
    """A mistake in what the user typed or gave (a file, a column): its message is printed
    and the command exits with status 2."""


_NOT_NUMERIC_HINT = ("feature columns must be numeric (leave a column out with --ignore "
                     "COLUMN, or one-hot encode it with --categorical COLUMN)")


_MISSING_HINT = ("--missing drop leaves out the rows with a missing cell; --missing mean or "
                 "median fills them")
_MAX_AUTO_CATEGORIES = 50  # a text column with more distinct values is likely an id or free text
_EARLY_STOPPING_ROWS = 20  # the fewest validation rows early stopping is on for by default


class _TrainingData:
    """nnpy train's CSV file, read and checked: the table (rows with missing cells left out
    under --missing drop), the feature columns, the text ones among them with their cells
    (None where missing) and the numeric ones as float64 (NaN where missing), the target."""

    def __init__(self, table: Table, features: list[str], columns: dict[str, Any],
                 categorical: list[str], y: np.ndarray, task: str, label_type: str,
                 dropped: int, n_missing: int) -> None:
        self.table, self.features, self.columns = table, features, columns
        self.categorical, self.y, self.task, self.label_type = categorical, y, task, label_type
        self.dropped = dropped      # rows left out for missing cells (--missing drop)
        self.n_missing = n_missing  # missing feature cells to fill (--missing mean, median)


def run_train(args: argparse.Namespace) -> int:
    try:
        from .estimators import NNClassifier, NNRegressor
    except ImportError:
        raise UsageError('training needs scikit-learn: pip install "nnpy-net[sklearn]"') from None
    from sklearn.model_selection import train_test_split

    from .modelfile import Model, encode_columns
    if args.data != "-":
        _check_not_an_input("--save", args.save, [("DATA.csv", args.data)])
    problem = _check_writable(args.save, "--save")
    if problem:
        raise UsageError(problem)
    if args.early_stopping and args.solver == "lbfgs":
        raise UsageError("--early-stopping works with --solver adam or sgd (lbfgs has no "
                         "epochs to stop between)")
    data = _training_data(args)
    table, features, y, task = data.table, data.features, data.y, data.task
    classes = np.unique(y) if task == "classify" else None
    n_test, n_train = _split_sizes(table, args, y, classes, data.label_type)
    n_out = len(classes) if classes is not None and len(classes) > 2 else 1

    # text columns: their categories are the file's (a held-out row's category is known too)
    categories = {name: sorted({c for c in data.columns[name] if c is not None})
                  for name in data.categorical}
    n_inputs = sum(len(categories.get(name, [0])) for name in features)
    batch = args.batch_size or min(n_train, 200)  # the estimators' batch_size "auto"
    problem = _memory_problem([n_inputs, *args.hidden, n_out],
                              "--hidden " + ",".join(map(str, args.hidden)), args.solver,
                              n_train, batch)
    if problem:
        raise UsageError(problem)
    n_validation = math.ceil(args.validation_fraction * n_train)
    early = args.early_stopping if args.early_stopping is not None else \
        args.solver != "lbfgs" and n_validation >= _EARLY_STOPPING_ROWS
    epochs = args.epochs or (1000 if early else 200)

    train_rows, test_rows = train_test_split(
        np.arange(len(table)), test_size=n_test, train_size=n_train,
        random_state=_seed32(args.seed), stratify=y if task == "classify" else None)
    fill = _fills(data, categories, train_rows, args.missing)
    inputs, _ = encode_columns(features, categories, fill, data.columns)  # checked: no problems
    input_names = _input_names(features, categories)
    mean, scale = _scaling(inputs[train_rows], input_names, "feature column", table.name)
    one_hot = np.array([name in categories for name in features
                        for _ in categories.get(name, [0])])
    mean[one_hot], scale[one_hot] = 0.0, 1.0  # one-hot inputs stay 0 and 1
    target_scaling = None
    fit_y = y
    if task == "regress":
        (y_mean,), (y_scale,) = _scaling(y[train_rows, None], [args.target], "target",
                                         table.name)
        target_scaling = (y_mean, y_scale)
        fit_y = (y - y_mean) / y_scale
    kind = NNClassifier if task == "classify" else NNRegressor
    estimator = kind(hidden_layer_sizes=args.hidden, activation=args.activation,
                     solver=args.solver, max_iter=epochs, random_state=_seed32(args.seed),
                     learning_rate_init=args.lr, alpha=args.alpha,
                     batch_size=args.batch_size or "auto", early_stopping=early,
                     validation_fraction=args.validation_fraction,
                     n_iter_no_change=args.patience)
    unit = "iterations" if args.solver == "lbfgs" else "epochs"

    what = ("regress" if classes is None
            else f"classify, {len(classes)} classes: {_labels_listing(classes)}")
    print(f"nnpy train: {table.name}, {len(table) + data.dropped} rows; target {args.target!r} "
          f"({what}); {len(features)} feature{'s' * (len(features) > 1)}")
    if classes is not None and data.label_type == "int" and args.task is None and \
            _looks_like_a_quantity(classes, len(y)):
        print(f"note: the target's {len(classes)} whole-number classes look like a quantity; "
              f"if it is one, --task regress is probably meant")
    if data.dropped:
        print(f"--missing drop: left out {data.dropped} row{'s' * (data.dropped > 1)} with a "
              f"missing cell")
    if data.n_missing:
        print(f"--missing {args.missing}: filled {data.n_missing} missing "
              f"cell{'s' * (data.n_missing > 1)} with the training rows' {args.missing} (the "
              f"most frequent category of a text column)")
    if categories:
        print("one-hot encoded: " + ", ".join(f"{name!r} ({len(c)} categor"
                                              f"{'ies' if len(c) > 1 else 'y'})"
                                              for name, c in categories.items()))
    print(f"{n_train} rows to train, {n_test} held out ({'stratified, ' * (task == 'classify')}"
          f"seed {args.seed}); features standardised"
          + (" and the target" if task == "regress" else ""))
    settings = "" if args.solver == "lbfgs" else \
        f" (lr {args.lr:g}, batch {args.batch_size or 'auto'})"
    print(f"{kind.__name__}: hidden layers {','.join(map(str, args.hidden))}, "
          f"{args.activation}, {args.solver}{settings}, alpha {args.alpha:g}, at most {epochs} "
          f"{unit}"
          + (f", early stopping on {n_validation} of the training rows (patience "
             f"{args.patience})" if early else ""))
    sys.stdout.flush()

    progress = not args.no_progress and _on_terminal() and _have_tqdm()
    started = time.perf_counter()
    converged = _fit(estimator, (inputs[train_rows] - mean) / scale, fit_y[train_rows], epochs,
                     progress)
    seconds = time.perf_counter() - started
    if converged is None:
        return 1

    model = Model.from_estimator(estimator, features, args.target, mean=mean, scale=scale,
                                 target_scaling=target_scaling, categories=categories,
                                 fill=fill)
    predicted = model._decode(model._outputs(inputs[test_rows]))
    if task == "classify":
        right = int(np.sum(predicted == y[test_rows]))
        metric, score = "accuracy", right / n_test
        summary = f"Held-out accuracy: {100 * score:.1f}% ({right} of {n_test} rows)"
    else:
        metric, score = "r2", _r2(y[test_rows], predicted)
        summary = f"Held-out R^2: {score:.4f} ({n_test} rows)"
    n_epochs = int(estimator.n_iter_)
    model.training = {"rows_train": n_train, "rows_test": n_test, "metric": metric,
                      "score": score, "seconds": seconds, "epochs": n_epochs}
    try:  # saved before the summary is printed: the model is what the run is for
        model.save(args.save)
    except OSError as err:
        raise UsageError(f"--save {args.save!r} cannot be written: {err.strerror or err}") \
            from None
    print(summary)
    stopped = ""
    if not converged:
        stopped = f" (stopped at --epochs {epochs} before converging: more --epochs may help)"
    elif early:
        stopped = (f" (early stopping: no better validation score for {args.patience} "
                   f"epochs; the best weights kept)")
    print(f"Training: {_format_time(seconds)}, {n_epochs} {unit}{stopped}")
    print(f"Saved the model to {args.save}; predict with: nnpy predict {args.save} DATA.csv")
    return 0


def _input_names(features: Sequence[str], categories: dict[str, list[str]]) -> list[str]:
    """The network's inputs: a numeric feature, or one "column=category" per category."""
    return [item for name in features for item in
            ([f"{name}={c}" for c in categories[name]] if name in categories else [name])]


def _r2(truth: np.ndarray, predicted: np.ndarray) -> float:
    """R^2 as scikit-learn's r2_score computes it (1 for a perfect fit of a constant)."""
    residual = float(np.sum((truth - predicted) ** 2))
    total = float(np.sum((truth - truth.mean()) ** 2))
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return 1.0 - residual / total


def _looks_like_a_quantity(classes: np.ndarray, n_rows: int) -> bool:
    """Whether integer classes look like a numeric quantity rather than a set of labels: many
    of them for the rows there are."""
    return len(classes) > 20 and len(classes) > n_rows / 10


def _fills(data: _TrainingData, categories: dict[str, list[str]], train_rows: np.ndarray,
           how: Optional[str]) -> dict[str, Any]:
    """The value that replaces a missing cell of each feature column (--missing mean or
    median): the training rows' mean or median, a text column's most frequent category
    there; {} otherwise."""
    if how not in ("mean", "median"):
        return {}
    fill: dict[str, Any] = {}
    for name in data.features:
        column = data.columns[name]
        if name in categories:
            present = [column[i] for i in train_rows if column[i] is not None]
            if not present:
                present = [c for c in column if c is not None]
            labels, counts = np.unique(present, return_counts=True)
            fill[name] = str(labels[int(np.argmax(counts))])  # the first of the most frequent
            continue
        values = column[train_rows]
        values = values[~np.isnan(values)]
        if not len(values):
            raise UsageError(f"{data.table.name}: column {name!r} has no value in the "
                             f"training rows to take the {how} of")
        fill[name] = float(np.mean(values) if how == "mean" else np.median(values))
    return fill


def _training_data(args: argparse.Namespace) -> _TrainingData:
    """nnpy train's CSV file, every cell checked: every problem is said at once."""
    from ._csvtable import Problems, TableError, read_table
    try:
        table = read_table(args.data)
        features = _feature_columns(table, args.target, args.ignore)
        for name in args.categorical:
            table.index(name)
            if name not in features:
                raise TableError(f"--categorical {name!r} is not a feature column (it is the "
                                 f"--target or --ignored)")
        categorical = [name for name in features
                       if name in args.categorical or table.is_text(name)]
        problems = Problems(table.name)
        for name in categorical:
            present = {c for c in table.cells(name) if not _is_missing_cell(c)}
            if name not in args.categorical and len(present) > _MAX_AUTO_CATEGORIES and \
                    len(present) > len(table) / 2:
                problems.add(None, f"column {name!r} holds text with {len(present)} distinct "
                             f"values in {len(table)} rows: an id or free text? leave it out "
                             f"with --ignore {name}, or one-hot encode it anyway with "
                             f"--categorical {name}")
        numeric = {name: table.scan_numbers(name, problems, _NOT_NUMERIC_HINT)
                   for name in features if name not in categorical}
        missing = np.zeros(len(table), dtype=bool)
        for name in features:
            missing |= table.missing_rows(name)
        target_missing = table.missing_rows(args.target)
        if args.missing is None:
            for name in features:
                table.report_missing(name, problems, hint=_MISSING_HINT)
        if args.missing == "drop":
            keep = np.flatnonzero(~(missing | target_missing))
            problems.raise_if_any()
            if not len(keep):
                raise TableError(f"{table.name}: every row has a missing cell; --missing drop "
                                 f"leaves none (--missing mean or median fills them)")
            dropped = len(table) - len(keep)
            table = table.subset(keep)
            numeric = {name: values[keep] for name, values in numeric.items()}
            n_missing = 0
        else:
            dropped = 0
            n_missing = int(sum(table.missing_rows(name).sum() for name in features))
        y, task, label_type = table.target(args.target, args.task, problems)
        problems.raise_if_any()
    except TableError as err:
        raise UsageError(str(err)) from None
    columns: dict[str, Any] = dict(numeric)
    for name in categorical:
        columns[name] = [None if _is_missing_cell(c) else c for c in table.cells(name)]
    return _TrainingData(table, features, columns, categorical, y, task, label_type, dropped,
                         n_missing)


def _is_missing_cell(cell: str) -> bool:
    from ._csvtable import is_missing
    return is_missing(cell)


def _fit(estimator: NNClassifier | NNRegressor, Z: np.ndarray, y: np.ndarray, epochs: int,
         progress: bool) -> Optional[bool]:
    """estimator.fit(Z, y) with its warnings caught: True if it converged, False if it ran out
    of epochs, None if it diverged (said on stderr). Ctrl-C propagates (KeyboardInterrupt)."""
    from sklearn.exceptions import ConvergenceWarning

    from .network import TrainingDiverged
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _epoch_progress(estimator, epochs, progress):
                estimator.fit(Z, y)
        except TrainingDiverged as err:  # the estimators' SolverDiverged
            print(f"nnpy train: training diverged: {err}", file=sys.stderr)
            return None
    return not any(issubclass(w.category, ConvergenceWarning) for w in caught)


def _feature_columns(table: Table, target: str, ignore: Sequence[str]) -> list[str]:
    """The feature columns of a training table: all but the target and the ignored ones,
    every column named once."""
    from ._csvtable import TableError
    for column in [target, *ignore]:
        table.index(column)  # names the column if the header lacks it
    if target in ignore:
        raise TableError(f"--ignore {target!r} names the --target column")
    for i, name in enumerate(table.columns):
        if not name:
            raise TableError(f"{table.name}: column {i + 1} has no name in the header (pandas "
                             f"writes its index so: to_csv(..., index=False) leaves it out)")
        table.index(name)  # a column named twice
    features = [c for c in table.columns if c != target and c not in ignore]
    if not features:
        raise TableError(f"{table.name}: no feature columns left besides the target "
                         f"{target!r}")
    return features


def _split_sizes(table: Table, args: argparse.Namespace, y: np.ndarray,
                 classes: Optional[np.ndarray], label_type: str) -> tuple[int, int]:
    """(n_test, n_train) as scikit-learn's train_test_split takes --test-size, after checking
    that both parts can hold what scoring and a stratified split need."""
    n = len(table)
    n_test = math.ceil(args.test_size * n)
    n_train = n - n_test
    if classes is not None:
        labels, first, counts = np.unique(y, return_index=True, return_counts=True)
        if len(labels) < 2:
            raise UsageError(f"{table.name}: the target {args.target!r} holds one class only "
                             f"({_label(labels[0])}); a classifier needs at least 2")
        lonely = np.flatnonzero(counts < 2)
        if len(lonely):
            row = first[lonely[0]]
            quantity = label_type in ("int", "str") and args.task is None and \
                all(_is_number(str(label)) for label in labels) and \
                (len(lonely) > 1 or _looks_like_a_quantity(labels, len(y)))
            raise UsageError(f"{table.name}, line {table.lines[row]}: class "
                             f"{_label(labels[lonely[0]])} of {args.target!r} has a single "
                             f"row; the split is stratified, and needs at least 2 rows of each "
                             f"class ({len(lonely)} class{'es' * (len(lonely) > 1)} with one)"
                             + (f". The target holds whole numbers, {len(labels)} distinct "
                                f"ones: if it is a quantity (a count, a price, a score), "
                                f"--task regress is probably meant" if quantity else ""))
        need, why = len(labels), f"one row of each of the {len(labels)} classes"
    else:
        need, why = 2, "2 rows (R^2 is not defined for fewer)"
    if n_test < need or n_train < need:
        raise UsageError(f"{table.name}: too few rows: {n} rows with --test-size "
                         f"{args.test_size:g} make {n_train} to train and {n_test} held out; "
                         f"each part needs at least {why}")
    return n_test, n_train


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _scaling(X: np.ndarray, columns: Sequence[str], what: str,
             name: str) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) of each column of X: its mean and standard deviation, scale 1 for a
    constant column; UsageError if the values are too large to standardise."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        constant = (X == X[0]).all(axis=0)
        scale[constant] = 1.0
        ok = np.isfinite(mean) & np.isfinite(scale) & np.isfinite((X - mean) / scale).all(axis=0)
    if not ok.all():
        column = columns[int(np.argmin(ok))]
        raise UsageError(f"{name}: {what} {column!r} holds numbers too large to standardise "
                         f"(their mean or spread overflows float64)")
    return mean, scale


def _label(value: Any) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _labels_listing(classes: np.ndarray, limit: int = 6) -> str:
    shown = ", ".join(_label(c) for c in classes[:limit])
    return shown + (", ..." if len(classes) > limit else "")


@contextlib.contextmanager
def _epoch_progress(estimator: NNClassifier | NNRegressor, epochs: int,
                    show: bool) -> Iterator[None]:
    """A progress bar over the epochs of estimator.fit (on stderr), drawn from the lines
    scikit-learn's MLP prints with verbose=True ("Iteration N, loss = L"); nothing if not
    `show`. The estimator's verbose is off again afterwards."""
    if not show:
        yield
        return
    from tqdm.auto import tqdm
    bar = tqdm(total=epochs, unit="epoch", leave=False, file=sys.stderr)
    estimator.set_params(verbose=True)
    try:
        with contextlib.redirect_stdout(_IterationLines(bar)):
            yield
    finally:
        estimator.set_params(verbose=False)
        bar.close()


class _IterationLines:
    """A stdout for estimator.fit(verbose=True): "Iteration N, loss = L" lines move the bar,
    the rest of the verbose output is dropped."""

    def __init__(self, bar: Any) -> None:  # a tqdm bar (tqdm is optional, imported lazily)
        self.bar = bar          # the tqdm bar
        self.pending = ""       # text after the last newline

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.startswith("Iteration "):
                head, _, loss = line.partition(", loss = ")
                try:
                    done = int(head.split()[1])
                except (IndexError, ValueError):
                    continue
                self.bar.update(max(0, min(done, self.bar.total) - self.bar.n))
                self.bar.set_postfix(loss=loss.strip(), refresh=False)
        return len(text)

    def flush(self) -> None:
        pass


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


def _load_model(path: str) -> Any:
    from .modelfile import load
    try:
        return load(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as err:
        raise UsageError(f"{path} cannot be read: {err.strerror or err}") from None
    except ValueError as err:
        raise UsageError(str(err)) from None


def _model_inputs(model: Any, table: Table, unknown: str, problems: Any) -> np.ndarray:
    """The model's network inputs (before standardisation) for a table's rows; what cannot be
    read or encoded goes to `problems` (a _csvtable.Problems) with its line."""
    from ._csvtable import TableError, is_missing
    features = list(model.feature_names)
    missing = [name for name in features if name not in table.columns]
    if missing:
        raise TableError(f"{table.name} lacks the model's feature column"
                         f"{'s' * (len(missing) > 1)} {', '.join(map(repr, missing))}"
                         + (f" (the model takes {', '.join(map(repr, features))})"
                            if len(missing) < len(features) else ""))
    columns: dict[str, Any] = {}
    for name in features:
        table.index(name)  # a column named twice
        if name in model.categories:
            columns[name] = [None if is_missing(c) else c for c in table.cells(name)]
        else:
            columns[name] = table.scan_numbers(
                name, problems, "the model's feature column is numeric")
    inputs, found = model.encode_columns(columns, unknown)
    for row, name, kind, text in found:
        line = table.lines[row]
        if kind == "missing" and not is_missing(table.cells(name)[row]):
            continue  # a cell that is not a number: said by scan_numbers
        if kind == "missing":
            problems.add(line, f"column {name!r} has {_empty(table.cells(name)[row])}",
                         "the model fills no missing value (it was trained without --missing "
                         "mean or median): fill the cells or leave the rows out")
        elif kind == "unknown":
            problems.add(line, text, "--unknown ignore encodes a category the model did not "
                         "see as none of those it knows")
        elif kind != "infinite":  # already said: a cell beyond float64 is not a number here
            problems.add(line, text)
    return inputs


def _empty(cell: str) -> str:
    return "an empty cell" if cell == "" else f"a missing value ({cell!r})"


def _outputs(model: Any, inputs: np.ndarray, data: str) -> np.ndarray:
    """The model's network outputs; a value too large for its scaling is a UsageError."""
    try:
        return model._outputs(inputs)
    except ValueError as err:
        raise UsageError(f"{data}: {err}") from None


def _prediction_column(model: Any, columns: Sequence[str]) -> str:
    """The name of the prediction's column: the target's, or predicted_TARGET when the file
    has the target column (then kept as it is, beside the prediction)."""
    name = model.target
    if name in columns:
        name = f"predicted_{model.target}"
        while name in columns:
            name = "_" + name
    return name


def run_predict(args: argparse.Namespace) -> int:
    from ._csvtable import Problems, TableError, read_table
    out_path = None if args.out in (None, "-") else args.out
    if out_path is not None:
        _check_not_an_input("--out", out_path, [("MODEL", args.model)]
                            + ([("DATA.csv", args.data)] if args.data != "-" else []))
        problem = _check_writable(out_path, "--out")
        if problem:
            raise UsageError(problem)
    model = _load_model(args.model)
    if args.proba and model.task != "classify":
        raise UsageError(f"--proba: {args.model} is a regression model (target "
                         f"{model.target!r}); only a classifier has class probabilities")
    try:
        table = read_table(args.data)
        problems = Problems(table.name)
        inputs = _model_inputs(model, table, args.unknown, problems)
        problems.raise_if_any()
    except TableError as err:
        raise UsageError(str(err)) from None
    header = list(table.columns) + [_prediction_column(model, table.columns)]
    outputs = _outputs(model, inputs, table.name)
    labels = model._decode(outputs)
    if args.proba:
        probabilities = model._probabilities(outputs)
        header += [f"P({label})" for label in model.classes.tolist()]

    def write(out: TextIO) -> None:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for i, row in enumerate(table.rows):
            line = list(row)
            line.append(_cell(labels[i]))
            if args.proba:
                line.extend(repr(float(p)) for p in probabilities[i])
            writer.writerow(line)

    if out_path is None:
        _check_encodable(header + [_cell(label) for label in np.unique(labels)]
                         + [cell for row in table.rows for cell in row])
        write(sys.stdout)
        sys.stdout.flush()
        return 0

    def write_file(f: IO[bytes]) -> None:
        text = io.TextIOWrapper(f, encoding="utf-8", newline="")
        write(text)
        text.flush()
        text.detach()  # write_atomically closes f

    from .io import write_atomically
    try:
        write_atomically(out_path, write_file)
    except OSError as err:
        raise UsageError(f"--out {out_path!r} cannot be written: {err.strerror or err}") \
            from None
    print(f"nnpy predict: wrote {len(table)} rows to {out_path}", file=sys.stderr)
    return 0


def run_score(args: argparse.Namespace) -> int:
    from ._csvtable import Problems, TableError, is_missing, read_table
    model = _load_model(args.model)
    try:
        table = read_table(args.data)
        if model.target not in table.columns:
            raise TableError(f"{table.name} has no column {model.target!r}, the model's target: "
                             f"scoring needs the true values (nnpy predict gives predictions "
                             f"alone)")
        table.index(model.target)
        problems = Problems(table.name)
        inputs = _model_inputs(model, table, args.unknown, problems)
        truth_cells = table.cells(model.target)
        if model.task == "regress":
            truth = table.scan_numbers(model.target, problems, "a regression's target is "
                                       "numeric")
            table.report_missing(model.target, problems, " (the target)",
                                 "every row scored needs its true value")
        else:
            for line, cell in zip(table.lines, truth_cells):
                if cell == "" or cell.lower() == "nan":
                    problems.add(line, f"column {model.target!r} (the target) has "
                                 f"{_empty(cell)}", "every row scored needs its true label")
        problems.raise_if_any()
    except TableError as err:
        raise UsageError(str(err)) from None
    predicted = model._decode(_outputs(model, inputs, table.name))
    n = len(table)
    print(f"nnpy score: {args.model} on {table.name}, {n} row{'s' * (n > 1)}; target "
          f"{model.target!r} ({'classify' if model.task == 'classify' else 'regress'})")
    if model.task == "regress":
        error = predicted - truth
        mae = float(np.mean(np.abs(error)))
        rmse = float(np.sqrt(np.mean(error ** 2)))
        r2 = "not defined for one row" if n < 2 else f"{_r2(truth, predicted):.4f}"
        print(f"R^2: {r2}")
        print(f"MAE: {mae:.6g}")
        print(f"RMSE: {rmse:.6g}")
        return 0
    predicted_text = [_cell(label) for label in predicted]
    right = sum(p == t for p, t in zip(predicted_text, truth_cells))
    print(f"Accuracy: {100 * right / n:.1f}% ({right} of {n} rows)")
    known = [_cell(label) for label in model.classes]
    unseen = sorted(set(truth_cells) - set(known))
    if unseen:
        print(f"({len(unseen)} label{'s' * (len(unseen) > 1)} of the file the model does not "
              f"know, counted as wrong: {', '.join(map(repr, unseen[:6]))}"
              f"{', ...' if len(unseen) > 6 else ''})")
    _print_confusion(truth_cells, predicted_text, known + unseen, known)
    return 0


def _print_confusion(truth: Sequence[str], predicted: Sequence[str], rows: Sequence[str],
                     columns: Sequence[str]) -> None:
    """The confusion matrix: a row per true label, a column per predicted one."""
    counts = {(t, p): 0 for t in rows for p in columns}
    for t, p in zip(truth, predicted):
        counts[t, p] += 1
    width = max(5, *(len(c) for c in columns), *(len(str(v)) for v in counts.values()))
    label_width = max(4, *(len(r) for r in rows))
    print()
    print("Confusion matrix (rows: true label, columns: predicted label):")
    print(" " * (label_width + 2) + "".join(f"{c:>{width + 1}}" for c in columns))
    for r in rows:
        print(f"  {r:<{label_width}}" + "".join(
            f"{counts[r, c] if counts[r, c] else '.':>{width + 1}}" for c in columns))


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


def _cell(value: Any) -> str:
    """A prediction as CSV text: labels as they were, floats with all their digits."""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)
