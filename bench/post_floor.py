"""The floor under the post's loop on nnpy (issue 11): what a step costs that no compiled
forwardPass/backPropogation can remove.

    python bench/post_floor.py [--steps 10000] [--repeats 7]

The post's loop (W1 through its API: randrange(0, 4), forwardPass, backPropogation(lr=0.125),
c = 0.5 * error**2 appended to a list) runs in these versions, interleaved, in one process:

  numpy       the post's numpy code (nnpy.reference), the ratio's denominator
  nnpy-post   nnpy's compiled forwardPass and backPropogation. In this loop nobody keeps the
              dicts a step replaces, so each step writes into the previous step's arrays
              instead of making new ones (nnpy._post re-uses them only when nothing but params
              holds them: no user code can tell)
  nnpy-kept   the same, but each step's params["forwardPass"] (the dict) and
              params["deltas"]["delta_0"] (an array) are held through the next step, as a user
              comparing consecutive steps would (a wrapper round backPropogation, one more
              Python call per step): then every step must make new objects, as the numpy code
              does
  floor       forwardPass and backPropogation replaced by functions that only make the new
              arrays and dicts one step leaves in `params` (np.empty of each shape, the dicts
              with their keys, the stores into params): no arithmetic, no checks
  floor-C     the same objects made through numpy's C API, as the compiled functions make them
              (bench/post_floor_alloc.pyx, built on the fly with pyximport when Cython and a C
              compiler are there; skipped with a message when not)
  loop        the loop's own work alone (randrange, X[item], y[item], the 0.5 * error**2
              bookkeeping, append): forwardPass/backPropogation return params as they are

Prints ns per step (median and minimum over the repeats) and the ratios: numpy / nnpy-post is
the target's "x the post's numpy" (>= 20x wanted); numpy / loop is the most any implementation
of the API could reach on this machine in this run (the loop's own work, which nnpy cannot
change, is all that is left); numpy / floor-C (numpy / floor) is the most an implementation
that makes new objects every step could reach, allocating as C does (from Python): the bound
on nnpy-kept, and on nnpy-post before it re-used objects.
"""
import argparse
import gc
import random
import statistics
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

import nnpy
import nnpy.reference
from nnpy.benchmarks import workloads

LR = workloads.W1_LR


def post_loop(forwardPass: Callable[..., Any], backPropogation: Callable[..., Any],
              params: Dict[str, Any], steps: int, seed: int = 0) -> float:
    """The post's loop, as bench's post_loop system runs it; returns seconds."""
    X, y = workloads.xor_data()
    random.seed(seed)
    randrange = random.randrange
    var = params
    epoch_error = []
    start = time.perf_counter()
    for _ in range(steps):
        item = randrange(0, 4)
        var = forwardPass(X[item], y[item], var)
        var = backPropogation(var, LR, debug=False)
        c = 0.5 * (var["forwardPass"]["error"]) ** 2
        epoch_error.append(c)
    return time.perf_counter() - start


def holding(backPropogation: Callable[..., Any]) -> Callable[..., Any]:
    """backPropogation that also holds each step's forward dict and delta_0 array until the
    next step's end (as a user comparing consecutive steps would): nothing can be re-used."""
    held: List[Any] = [None]

    def back(params: Dict[str, Any], lr: float, update: bool = True,
             debug: bool = False) -> Dict[str, Any]:
        params = backPropogation(params, lr, update, debug)
        held[0] = (params["forwardPass"], params["deltas"]["delta_0"])
        return params
    return back


def floor_functions(params: Dict[str, Any]) -> Tuple[Callable[..., Any], Callable[..., Any]]:
    """forwardPass and backPropogation that make only the objects a step leaves in params."""
    meta = params["metadata"]
    n_layers, n_in, n_out = meta["n_layers"], meta["inputSize"], meta["outputSize"]
    rows = [n_out if l == n_layers - 1 else n_in for l in range(n_layers)]
    prev_keys = ["A_prev%d" % l for l in range(n_layers)]
    z_keys = ["Z_%d" % l for l in range(n_layers)]
    a_keys = ["A_%d" % l for l in range(n_layers)]
    delta_keys = ["delta_%d" % l for l in range(n_layers)]
    dtheta_keys = ["d_theta_%d" % l for l in range(n_layers)]
    empty = np.empty

    def forward(x: Any, y: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        forward: Dict[str, Any] = {}
        a = empty((n_in, 1))                       # x as a column
        target = empty((n_out, 1))                 # y as a column: becomes the error
        for l in range(n_layers):
            forward[prev_keys[l]] = a
            forward[z_keys[l]] = empty((rows[l], 1))
            a = forward[a_keys[l]] = empty((rows[l], 1))
        forward["error"] = target
        params["forwardPass"] = forward
        return params

    def back(params: Dict[str, Any], lr: float, update: bool = True,
             debug: bool = False) -> Dict[str, Any]:
        params["metadata"]["learningRate"] = lr
        deltas: Dict[str, Any] = {}
        d_theta: Dict[str, Any] = {}
        for l in range(n_layers - 1, -1, -1):
            deltas[delta_keys[l]] = empty((rows[l], 1))
            d_theta[dtheta_keys[l]] = empty((rows[l], n_in))
        params["deltas"] = deltas
        params["d_theta"] = d_theta
        return params

    return forward, back


def floor_c_functions() -> Tuple[Optional[Callable[..., Any]], Optional[str]]:
    """floor_functions compiled (bench/post_floor_alloc.pyx), or a reason why not."""
    import os
    import sys
    try:
        import pyximport
    except ImportError:
        return None, "Cython is not installed (pip install cython)"
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    try:
        pyximport.install(setup_args={"include_dirs": np.get_include()}, language_level=3,
                          inplace=False)
        import post_floor_alloc
    except Exception as err:  # no compiler, no headers: the C floor is left out
        return None, f"could not build post_floor_alloc.pyx ({type(err).__name__}: {err})"
    finally:
        sys.path.remove(here)
    return post_floor_alloc.functions, None


def loop_functions(params: Dict[str, Any]) -> Tuple[Callable[..., Any], Callable[..., Any]]:
    """forwardPass and backPropogation that do nothing (params keeps one forward pass)."""
    params["forwardPass"] = {"error": np.zeros((params["metadata"]["outputSize"], 1))}
    return (lambda x, y, params: params), (lambda params, lr, update=True, debug=False: params)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be at least 1")

    def params_for(module: Any) -> Dict[str, Any]:
        np.random.seed(0)  # the post's weights
        params: Dict[str, Any] = module.init_net(2, 2, 1)
        return params

    cases: Dict[str, Callable[[], float]] = {
        "numpy": lambda: post_loop(nnpy.reference.forwardPass, nnpy.reference.backPropogation,
                                   params_for(nnpy.reference), args.steps),
        "nnpy-post": lambda: post_loop(nnpy.forwardPass, nnpy.backPropogation,
                                       params_for(nnpy), args.steps),
        "nnpy-kept": lambda: post_loop(nnpy.forwardPass, holding(nnpy.backPropogation),
                                       params_for(nnpy), args.steps),
    }
    makers: List[Tuple[str, Callable[..., Any]]] = [("floor", floor_functions)]
    floor_c, why = floor_c_functions()
    if floor_c is not None:
        makers.append(("floor-C", floor_c))
    else:
        print(f"floor-C left out: {why}")
    makers.append(("loop", loop_functions))
    def floor_case(make: Callable[..., Any]) -> Callable[[], float]:
        def run() -> float:
            params = params_for(nnpy)
            forward, back = make(params)
            with np.errstate(all="ignore"):  # the floor's arrays hold whatever np.empty left
                return post_loop(forward, back, params, args.steps)
        return run

    for name, make in makers:
        cases[name] = floor_case(make)

    times: Dict[str, List[float]] = {name: [] for name in cases}
    for case in cases.values():  # warm-up
        case()
    for _ in range(args.repeats):
        for name, case in cases.items():
            gc.collect()
            times[name].append(case() / args.steps * 1e9)
    median = {name: statistics.median(t) for name, t in times.items()}

    print(f"the post's loop, {args.steps:,} steps, {args.repeats} repeats interleaved; "
          f"load average at the end {tuple(round(v, 2) for v in _loadavg())}")
    print(f"{'':10} {'median ns/step':>15} {'min ns/step':>12}")
    for name in cases:
        print(f"{name:10} {median[name]:15,.0f} {min(times[name]):12,.0f}")
    print(f"numpy / nnpy-post: {median['numpy'] / median['nnpy-post']:.1f}x (target >= 20x)")
    print(f"numpy / loop:      {median['numpy'] / median['loop']:.1f}x (the most the API allows: "
          f"the loop's own work alone)")
    print(f"numpy / nnpy-kept: {median['numpy'] / median['nnpy-kept']:.1f}x (each step's objects "
          f"held through the next: no re-use)")
    if "floor-C" in median:
        print(f"numpy / floor-C:   {median['numpy'] / median['floor-C']:.1f}x (the most when each "
              f"step makes new objects, allocating as C does)")
    print(f"numpy / floor:     {median['numpy'] / median['floor']:.1f}x (the most when each "
          f"step makes new objects, allocating from Python)")
    floor = median.get("floor-C", median["floor"])
    print(f"nnpy-post above the loop alone: {median['nnpy-post'] - median['loop']:,.0f} ns/step; "
          f"nnpy-kept above the floor{'-C' if 'floor-C' in median else ''}: "
          f"{median['nnpy-kept'] - floor:,.0f} ns/step")


def _loadavg() -> Tuple[float, ...]:
    try:
        import os
        return os.getloadavg()
    except (OSError, AttributeError):
        return ()


if __name__ == "__main__":
    main()
