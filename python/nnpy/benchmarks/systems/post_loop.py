"""W1 through the post's API: `nnpy-post` (nnpy's compatible functions on the compiled core)
and `reference` (nnpy.reference, the post's numpy code), both in the post's Python loop:
one sample drawn with randrange(0, 4) per step (all four; the post's randrange(0, 3) never
trains [1, 1]), forwardPass, backPropogation(lr=0.125), and the post's error bookkeeping
(c = 0.5 * error**2 appended to a list)."""
from __future__ import annotations

import random
from typing import Any, Callable

import numpy as np

from nnpy.benchmarks import measure, workloads
from nnpy.benchmarks.systems import Skip, need, result


# The post's three functions, as the system under test has them.
InitNet = Callable[[int, int, int], Any]
ForwardPass = Callable[[Any, Any, Any], Any]
BackPropogation = Callable[..., Any]


def api(system: str) -> tuple[InitNet, ForwardPass, BackPropogation]:
    if system == "nnpy-post":
        mod = need("nnpy")
    else:
        need("nnpy")
        mod = need("nnpy.reference", "nnpy.reference")
    for name in ("init_net", "forwardPass", "backPropogation"):
        if not hasattr(mod, name):
            raise Skip(f"not installed ({mod.__name__} has no {name} yet)")
    return mod.init_net, mod.forwardPass, mod.backPropogation


def post_loop(init_net: InitNet, forwardPass: ForwardPass, backPropogation: BackPropogation,
              steps: int, seed: int = 0) -> tuple[float, measure.Info]:
    """The post's loop; returns (seconds of the loop, info). Set-up is not timed."""
    X, y = workloads.xor_data()
    np.random.seed(seed)          # init_net draws from numpy's global generator, as the post
    random.seed(seed)
    randrange = random.randrange
    var = init_net(2, 2, 1)
    epoch_error = []
    start = measure.timer()
    for _ in range(steps):
        item = randrange(0, 4)
        var = forwardPass(X[item], y[item], var)
        var = backPropogation(var, workloads.W1_LR, debug=False)
        c = 0.5 * (var["forwardPass"]["error"]) ** 2
        epoch_error.append(c)
    seconds = measure.timer() - start
    return seconds, {"final_step_loss": float(np.mean(epoch_error[-100:]))}


def run(system: str, workload: str, params: dict[str, Any],
        ctx: dict[str, Any]) -> dict[str, Any]:
    if workload != "W1":
        raise Skip("n/a")
    fns = api(system)
    steps = params["steps"]
    times, info = measure.repeat(lambda: post_loop(*fns, steps), ctx["repeats"],
                                 warmup=measure.warm_for(
                                     lambda: post_loop(*fns, min(steps, 1000))))
    return {ctx["case"]: result(times, steps, **info)}
