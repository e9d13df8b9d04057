"""nnpy xor and nnpy digits: the blog post's XOR network and the 8x8 digits."""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from ._args import DIGITS_DEFAULTS, XOR_DEFAULTS, _seed32
from ._output import _format_time, _have_matplotlib, _have_tqdm, _on_terminal

if TYPE_CHECKING:
    from ..network import History, Network

_REFERENCE_STEPS_MAX = 10_000   # steps of the post's numpy loop timed at most (then scaled)


def _settings(args: argparse.Namespace, defaults: dict[str, Any]) -> dict[str, Any]:
    return {key: getattr(args, key) if getattr(args, key, None) is not None else value
            for key, value in defaults.items()}


def _out_path(args: argparse.Namespace, name: str) -> str:
    return os.path.join(args.out, name)


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
    from .. import reference
    return float(reference.forwardPass(x, [0.0], params)["forwardPass"]["A_1"][0, 0])


def run_xor(args: argparse.Namespace) -> int:
    from ..network import Network, TrainingDiverged
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
        from .. import post, reference
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


def _xor_plot(args: argparse.Namespace, net: Network, history: History, epochs: int,
              hidden: int, lr: float) -> None:
    if not _have_matplotlib():
        print('\n(no plot: matplotlib is not installed; pip install "nnpy-net[plot]" for '
              'xor-loss.png)')
        return
    from ..plot import plot_decision_surface, plot_loss
    path = _out_path(args, "xor-loss.png")
    plot_loss(history, ylabel="error (mean of 0.5 * squared error)",
              title=f"XOR, 2-{hidden}-1 network: error per epoch (lr {lr}, seed {args.seed})",
              path=path)
    surface = _out_path(args, "xor-surface.png")
    plot_decision_surface(net, XOR_X, XOR_Y, title=f"XOR, 2-{hidden}-1 network: output over "
                          "the input plane", path=surface)
    print(f"\nWrote {path}: the error per epoch the post promised,")
    print(f"and {surface}: the network's output over the plane, with the four samples.")


def run_digits(args: argparse.Namespace) -> int:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        print('nnpy digits needs scikit-learn for its data set: pip install "nnpy-net[sklearn]"',
              file=sys.stderr)
        return 2
    from ..network import Network, TrainingDiverged
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
            from ..plot import plot_history
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
