"""A network's parameters as layers: the views into its flat array (layer_views), and what
net.weights and net.biases are: read-only views of one layer's parameters (ParamView), in a list
whose items are assigned by copying checked values in under the network's thread guard
(ParamList)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Sequence, Tuple

import numpy as np
import numpy.typing as npt

from ._dispatch import core
from ._validation import as_matrix

if TYPE_CHECKING:
    from .network import FloatArray, Network

__all__ = ["ParamView", "ParamList", "checked_layer", "split_layers", "layer_views",
           "check_finite"]


class ParamView(np.ndarray):
    """A read-only view of one layer's weights or biases (what net.weights[l] and
    net.biases[l] are): writing into it would bypass the checks of assignment and the guard
    against other threads, so it refuses and says to assign instead. Arrays computed from it
    are plain numpy arrays."""

    _nnpy_name = "this array"

    def __array_finalize__(self, obj: Any) -> None:
        self._nnpy_name = getattr(obj, "_nnpy_name", ParamView._nnpy_name)

    def __array_wrap__(self, array: Any, context: Any = None,
                       return_scalar: bool = False) -> Any:
        # results of ufuncs and reductions: plain arrays, and scalars where numpy gives them
        array = array.view(np.ndarray)
        return array[()] if return_scalar or array.ndim == 0 else array

    def __repr__(self) -> str:
        return repr(self.view(np.ndarray))

    def __setitem__(self, index: Any, value: Any) -> None:
        if not self.flags.writeable:
            raise ValueError(f"{self._nnpy_name} is a read-only view of the network's "
                             f"parameters; assign instead: {self._nnpy_name} = new_values "
                             f"(e.g. a changed copy)")
        super().__setitem__(index, value)


class ParamList(list):
    """weights or biases: read-only views into the flat parameter array; assigning an item
    copies the new values in (same shape required, checked, under the thread guard), so
    net.weights[0] = W works as users expect."""

    def __init__(self, net: Network, views: List[FloatArray], name: str) -> None:
        super().__init__(views)
        self._net = net
        self._name = name

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            raise TypeError(f"assign {self._name} items one at a time")
        index = range(len(self))[index]  # IndexError as for a list; negative counts from the end
        checked = checked_layer(value, list.__getitem__(self, index), f"{self._name}[{index}]")
        with self._net._guard.write():
            self._net._write_layer(self._name, index, checked)


def checked_layer(value: npt.ArrayLike, target: FloatArray, name: str) -> FloatArray:
    """`value` as an array of target's dtype and shape, finite; else ValueError naming `name`."""
    array = as_matrix(np.reshape(value, (-1, 1)) if target.ndim == 1 else value,
                      name, target.dtype)[0]
    if array.size != target.size or (target.ndim == 2 and array.shape != target.shape):
        raise ValueError(f"{name} must have shape {target.shape}, got {np.shape(value)}")
    return array.reshape(target.shape)


def split_layers(flat: FloatArray, sizes: Sequence[int]
                 ) -> Tuple[List[FloatArray], List[FloatArray]]:
    """([W_0, W_1, ...], [b_0, b_1, ...]): writable views of a flat vector laid out for layer
    widths `sizes` (W_0 row-major, b_0, W_1, b_1, ...), as the parameters and gradients are."""
    weights: List[FloatArray] = []
    biases: List[FloatArray] = []
    start = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights.append(flat[start:start + n_out * n_in].reshape(n_out, n_in))
        biases.append(flat[start + n_out * n_in:start + n_out * n_in + n_out])
        start += n_out * n_in + n_out
    return weights, biases


def layer_views(flat: FloatArray, sizes: Sequence[int]
                ) -> Tuple[List[FloatArray], List[FloatArray], List[FloatArray], List[FloatArray]]:
    """(weights, biases, public weights, public biases) of the network's flat parameter array:
    writable views (split_layers) for the core's and assignment's writes, and read-only
    ParamView views of the same memory for net.weights and net.biases."""
    weights, biases = split_layers(flat, sizes)
    public: Dict[str, List[FloatArray]] = {"weights": [], "biases": []}
    for name, views in (("weights", weights), ("biases", biases)):
        for l, view in enumerate(views):
            frozen = view.view(ParamView)
            frozen.flags.writeable = False
            frozen._nnpy_name = f"net.{name}[{l}]"
            public[name].append(frozen)
    return weights, biases, public["weights"], public["biases"]


def check_finite(flat: FloatArray, weights: List[FloatArray], biases: List[FloatArray]) -> None:
    """ValueError naming the first weight or bias that is inf or NaN (only possible when the
    memory was written past the read-only views); call with the network's guard held."""
    if not core.count_nonfinite(flat):
        return
    for name, views in (("weights", weights), ("biases", biases)):
        for l, view in enumerate(views):
            bad = np.flatnonzero(~np.isfinite(view.ravel()))
            if len(bad):
                where = tuple(int(i) for i in np.unravel_index(bad[0], view.shape))
                value = view.ravel()[bad[0]]
                raise ValueError(f"the network's parameters are not finite: {name}[{l}] "
                                 f"holds {value} at index {where} (written in place, past "
                                 f"the read-only views?); assign finite {name} first")
