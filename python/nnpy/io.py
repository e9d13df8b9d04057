"""Networks in files: nnpy's own .npz format, and Nielsen's network2 JSON.

nnpy's format (`save_network` / `load_network`, also `Network.save` / `Network.load`) is a
plain .npz (a zip of .npy files, as `np.savez` writes it) holding

    header       a 0-d unicode array: a JSON object
                 {"format": "nnpy.Network", "version": 2, "sizes": [...],
                  "dtype": "float64" | "float32",
                  "activation": "sigmoid" | "tanh" | "relu" | "identity",
                  "output": "sigmoid" | "softmax" | "identity",
                  "loss": "mse" | "cross_entropy", "init": ..., "nnpy_version": ...,
                  "optimizer": null | {"name": "sgd", "momentum": m, "nesterov": bool,
                                       "step": t} | {"name": "adam", "betas": [b1, b2],
                                       "eps": e, "step": t}}
    W_0, b_0, W_1, b_1, ...   the weights (n_out, n_in) and biases (n_out,) in that dtype
    optimizer_moments         the optimiser's state, (k, n_params) in that dtype, laid out as
                 Network.get_flat_params: SGD with momentum its velocity (k = 1), Adam its
                 first and second moments (k = 2); absent when k would be 0

The "optimizer" object's fields besides "name" and "step", their checks and k are the
optimiser class's (nnpy.optimizers: `header_fields`, `from_header`, `vectors`); nnpy._netfile
writes and reads the format, with the safe-file helpers every format shares (nnpy._safefile).

Version 1 files (no activation: sigmoid hidden layers; no optimiser state) still load.

Reading never unpickles anything (every array is read with allow_pickle=False) and never runs
code from the file. Every field of the header is checked, and every array against it: the
exact set of arrays, their dtype, shapes and finiteness. Anything else (a damaged zip, a
truncated file, an unknown version, a missing or extra array, a wrong shape) raises
ValueError; a missing file raises FileNotFoundError as open() does, and anything that is not
a regular file (a directory, a FIFO, a device) raises ValueError without being opened for
reading (a FIFO would block).

Every writer writes a new file beside the target and renames it over the target, so a failed
or interrupted write leaves the old file as it was; the new file gets the mode open() would
give it (the old file's, else 0666 less the umask), and a symlink's target is what is written.

Nielsen's network2.py format (`to_network2_json` / `from_network2_json`) is the JSON his
`Network.save` writes: {"sizes": [...], "weights": [W_l as nested lists], "biases": [b_l as
(n_out, 1) column lists], "cost": "QuadraticCost" | "CrossEntropyCost"}. It holds sigmoid
networks only; QuadraticCost is nnpy's "mse" (0.5 * squared error, as his) and
CrossEntropyCost its sigmoid "cross_entropy".
"""
from __future__ import annotations

import json
import numbers
from typing import IO, TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from . import _netfile
from ._netfile import FORMAT, VERSION, check_sizes
from ._safefile import (PathLike, is_int, members, open_regular, read_array,  # noqa: F401
                        read_json_header, read_npz, read_text, write_atomically)
from .fann import from_fann, to_fann   # FANN's text format lives in nnpy.fann
from .network import Network

if TYPE_CHECKING:
    from .network import Loss

__all__ = ["save_network", "load_network", "to_network2_json", "from_network2_json",
           "to_fann", "from_fann", "FORMAT", "VERSION"]

# the safe-file helpers (nnpy._safefile), also under the names they had here, for code that
# imports them from nnpy.io
_members, _read_array, _is_int, _read_text, _check_sizes = \
    members, read_array, is_int, read_text, check_sizes

_NETWORK2_COSTS = {"QuadraticCost": "mse", "CrossEntropyCost": "cross_entropy"}


# ---------------------------------------------------------------------------------------------
# nnpy's .npz format (written and read by nnpy._netfile)
# ---------------------------------------------------------------------------------------------

def save_network(net: Network, path: PathLike | IO[bytes]) -> None:
    """Writes `net` (an nnpy.Network) to `path` (a path, written as given: no ".npz" is
    appended; or a writable binary file object). A path is written to a temporary file in the
    same directory first and then renamed, so an interrupted save never leaves half a file."""
    if not isinstance(net, Network):
        raise TypeError(f"save_network needs an nnpy.Network, got {type(net).__name__}")
    _netfile.write(net, path)


def load_network(path: PathLike | IO[bytes], *, seed: int | None = None) -> Network:
    """Reads a network written by save_network from `path` (a path or a readable binary file
    object). `seed` seeds the loaded network's generator (the shuffling of later fits).
    Raises ValueError if the file is not an intact nnpy network file of a known version, and
    FileNotFoundError if it does not exist."""
    return _netfile.read(path, Network, seed)


# ---------------------------------------------------------------------------------------------
# Nielsen's network2 JSON
# ---------------------------------------------------------------------------------------------

def to_network2_json(net: Network, path: PathLike | IO[str]) -> None:
    """Writes `net` in the JSON format of Nielsen's network2.py (`network2.load(path)` reads
    it). Only sigmoid-output networks fit that format: softmax ones raise ValueError. The
    values are written as float64 (JSON numbers; float32 networks convert exactly)."""
    if not isinstance(net, Network):
        raise TypeError(f"to_network2_json needs an nnpy.Network, got {type(net).__name__}")
    if net.output != "sigmoid":
        raise ValueError("network2's format holds sigmoid-output networks; this one has a "
                         f"{net.output} output")
    cost = {v: k for k, v in _NETWORK2_COSTS.items()}[net.loss_name]
    data = {"sizes": list(net.sizes),
            "weights": [np.asarray(w, np.float64).tolist() for w in net.weights],
            "biases": [np.asarray(b, np.float64).reshape(-1, 1).tolist() for b in net.biases],
            "cost": cost}
    text = json.dumps(data)
    if hasattr(path, "write"):
        path.write(text)
        return
    write_atomically(path, lambda f: f.write(text.encode("utf-8")))


def from_network2_json(path: PathLike | IO[str] | IO[bytes], *, dtype: npt.DTypeLike = np.float64,
                       seed: int | None = None) -> Network:
    """A Network (sigmoid output) from a file written by Nielsen's network2.py `save` (or by
    to_network2_json). Raises ValueError for anything that is not a well-formed network2 file:
    unknown cost, sizes that do not match the arrays, ragged or non-finite values."""
    name, text = read_text(path, "utf-8", "a network2 JSON file")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{name} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{name}: a network2 file holds a JSON object, got {type(data).__name__}")
    missing = [k for k in ("sizes", "weights", "biases", "cost") if k not in data]
    if missing:
        raise ValueError(f"{name}: not a network2 file: no {', '.join(missing)}")
    sizes = check_sizes(data["sizes"], name)
    cost = data["cost"]
    if not isinstance(cost, str) or cost not in _NETWORK2_COSTS:
        raise ValueError(f"{name}: unknown cost {cost!r}; expected one of "
                         f"{', '.join(_NETWORK2_COSTS)}")
    n_layers = len(sizes) - 1
    weights, biases = data["weights"], data["biases"]
    if not isinstance(weights, list) or not isinstance(biases, list) or \
            len(weights) != n_layers or len(biases) != n_layers:
        raise ValueError(f"{name}: sizes {sizes} need {n_layers} weight and bias arrays")
    ws, bs = [], []
    for l in range(n_layers):
        w = _json_array(weights[l], f"{name}: weights[{l}]", (sizes[l + 1], sizes[l]))
        b = _json_array(biases[l], f"{name}: biases[{l}]", (sizes[l + 1], 1))
        ws.append(w)
        bs.append(b.ravel())
    loss = cast("Loss", _NETWORK2_COSTS[cost])  # the cast: the table's values are Loss names
    net = Network(sizes, output="sigmoid", loss=loss, init="scaled_normal", dtype=dtype,
                  seed=seed)
    net.weights = ws
    net.biases = bs
    return net


def _json_array(value: Any, what: str, shape: tuple[int, int]) -> np.ndarray:  # parsed JSON
    if not isinstance(value, list) or len(value) != shape[0] or \
            not all(isinstance(row, list) and len(row) == shape[1] for row in value):
        raise ValueError(f"{what} must be a {shape[0]} x {shape[1]} nested list")
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
               for row in value for v in row):
        raise ValueError(f"{what} must hold numbers only")
    try:
        array = np.array(value, dtype=np.float64)
    except OverflowError:  # a JSON integer beyond float64, such as 10**400
        i, j = next((i, j) for i, row in enumerate(value) for j, v in enumerate(row)
                    if abs(v) > float(np.finfo(np.float64).max))
        raise ValueError(f"{what}[{i}][{j}] is {_short(value[i][j])}, beyond the range of "
                         f"float64") from None
    if not np.isfinite(array).all():
        i, j = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(f"{what}[{i}][{j}] holds NaN or infinity ({array[i, j]}); the values "
                         f"must be finite")
    return array


def _short(number: object) -> str:
    text = repr(number)
    return text if len(text) <= 24 else f"{text[:10]}...{text[-6:]} ({len(text)} digits)"
