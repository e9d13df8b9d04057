"""The `nnpy` command (also `python -m nnpy`).

    nnpy                 same as `nnpy xor`
    nnpy xor             the blog post's 2-2-1 network learns XOR; truth table, times against
                         the post's numpy loop, the error-per-epoch plot xor-loss.png and the
                         output over the input plane xor-surface.png
    nnpy digits          scikit-learn's 8x8 digits with a 64-32-10 network: held-out accuracy,
                         confusion matrix, and the loss/accuracy curves digits-curves.png
    nnpy bench [--quick] the benchmark suite (nnpy.benchmarks)

Common options: --seed, --epochs, --lr, --hidden, --no-progress, --out DIR, --no-plot.
Every run is deterministic for a given seed (apart from the times it prints). Bad arguments
(including an --out that cannot be written, checked before training) give a message and exit
status 2; the progress bar is drawn only on a terminal; a closed pipe (`nnpy digits | head`)
ends the run quietly.
"""
from __future__ import annotations

import argparse
import importlib
import os
import random
import sys
import tempfile
import time
from typing import Sequence

import numpy as np

__all__ = ["main"]

XOR_DEFAULTS = dict(epochs=2500, lr=1.0, hidden=2)
DIGITS_DEFAULTS = dict(epochs=30, lr=3.0, hidden=32, batch_size=10)
_REFERENCE_STEPS_MAX = 10_000   # steps of the post's numpy loop timed at most (then scaled)


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------

def _int_at_least(minimum, wording):
    """An argparse type: a whole number >= minimum."""
    def parse(text):
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


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _seed32(seed):
    """A seed below 2**32 for what takes no larger one (np.random.seed, scikit-learn's
    random_state): the seed itself when it fits, else one derived from all of its bits."""
    if seed < 2 ** 32:
        return seed
    return int(np.random.SeedSequence(seed).generate_state(1, np.uint32)[0])


def _common_options():
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


def _parser():
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="nnpy", description="nnpy's demos: the blog post's XOR network, handwritten "
        "digits, and the benchmarks. `nnpy` alone runs `nnpy xor`.")
    parser.add_argument("--version", action="version", version=f"nnpy {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{xor,digits,bench}")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line `argv` (default sys.argv[1:]); returns the exit status."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        # the reader went away (`nnpy digits | head -n 2`): stop quietly, and point stdout at
        # devnull so that the interpreter's final flush does not complain either
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # stdout is not a file (embedded use)
            pass
        return 1


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
    problem = _check_hidden(args) or _check_out(args)
    if problem:
        print(f"nnpy {args.command}: error: {problem}", file=sys.stderr)
        return 2
    try:
        return {"xor": run_xor, "digits": run_digits}[args.command](args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _bench(argv):
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


def _settings(args, defaults):
    return {key: getattr(args, key) if getattr(args, key, None) is not None else value
            for key, value in defaults.items()}


def _check_out(args):
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


def _check_hidden(args):
    """What is wrong with --hidden, or None: a width whose weights alone would not fit in
    this machine's memory is refused before anything is allocated."""
    if args.hidden is None:
        return None
    n_in, n_out = (2, 1) if args.command == "xor" else (64, 10)
    n_params = args.hidden * (n_in + 1) + n_out * (args.hidden + 1)
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not on this platform
        memory = 1 << 40
    if 4 * 8 * n_params > memory:  # weights, gradients and work space: several copies
        return (f"--hidden {args.hidden} means {n_params:,} weights ({8 * n_params / 2**30:,.1f} "
                f"GiB each copy, and training needs several); this machine has "
                f"{memory / 2**30:,.1f} GiB of memory")
    return None


def _out_path(args, name):
    return os.path.join(args.out, name)


def _have_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _format_time(seconds):
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


def _post_loop(api, steps, seed):
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


def _post_predict(params, x):
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


def _on_terminal():
    """Whether a progress bar can be drawn: stderr (where tqdm draws) is a terminal, not a
    pipe or a log file."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced
        return False


def _have_tqdm():
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def _xor_plot(args, net, history, epochs, hidden, lr):
    if not _have_matplotlib():
        print('\n(no plot: matplotlib is not installed; pip install "nnpy[plot]" for '
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
        print('nnpy digits needs scikit-learn for its data set: pip install "nnpy[sklearn]"',
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
        print('(no progress bar: pip install "nnpy[progress]")')
        progress = False

    def held_out(epoch, history):
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
            print('\n(no plot: matplotlib is not installed; pip install "nnpy[plot]")')
    return 0
