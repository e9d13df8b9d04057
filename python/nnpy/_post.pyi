# Types of the compiled module nnpy._post (src/nncore/_post.pyx): the post's forwardPass and
# backPropogation, and the hooks nnpy.post registers. `params` is the post's dict of dicts
# ("metadata": sizes and learningRate, "theta": W_l/B_l arrays, "forwardPass", "deltas",
# "d_theta": arrays); its values differ in type by key, hence dict[str, Any].
from typing import Any, Callable, Optional

import numpy as np
from numpy.typing import ArrayLike

def overlaps_itself(arr: np.ndarray) -> bool: ...
def set_fallbacks(
    forward: Callable[[Any, Any, dict[str, Any]], dict[str, Any]],
    back: Callable[[dict[str, Any], float, bool, bool], dict[str, Any]],
    lr_check: Callable[[Any], float],
    overflow: Callable[[str, float], None],
) -> None: ...
def forwardPass(x: ArrayLike, y: ArrayLike, params: dict[str, Any]) -> dict[str, Any]: ...
def try_forward(x: ArrayLike, y: ArrayLike, params: dict[str, Any]) -> Optional[dict[str, Any]]: ...
def backPropogation(
    params: dict[str, Any], lr: float, update: bool = True, debug: bool = False
) -> dict[str, Any]: ...
