"""nnpy's network file: a Network as an .npz archive and back (Network.save / Network.load, and
nnpy.io's save_network / load_network, whose docstring describes the format).

The optimiser's fields in the header are the optimiser object's (nnpy.optimizers): this module
writes and checks "name" and "step" and asks the class named for the rest; a state's moments
are the array "optimizer_moments", one row per state vector.
"""
from __future__ import annotations

import json
import math
import os
import zipfile
from typing import IO, TYPE_CHECKING, Any, cast

import numpy as np

from . import _losses, _model
from ._safefile import (PathLike, is_int, members, open_regular, read_array, read_json_header,
                        read_npz, write_atomically)
from ._validation import as_sizes
from ._version import __version__
from .optimizers import OPTIMIZERS, Optimizer, OptimizerState

if TYPE_CHECKING:
    from .network import Network

__all__ = ["FORMAT", "VERSION", "NPY_HEADER_ALLOWANCE", "write", "read", "read_from", "check_sizes"]

FORMAT = "nnpy.Network"
VERSION = 2
_READS = (1, 2)   # the versions `read` reads

_REQUIRED = {1: ("format", "version", "sizes", "dtype", "output", "loss"),
             2: ("format", "version", "sizes", "dtype", "activation", "output", "loss")}
_OPTIONAL = {1: ("init", "nnpy_version"),
             2: ("init", "nnpy_version", "optimizer", "huber_delta")}
NPY_HEADER_ALLOWANCE = 1 << 16    # bytes an .npy member may hold beyond its data


def write(net: Network, path: PathLike | IO[bytes]) -> None:
    """Writes `net` (a Network) to `path` (a path, written as given: no ".npz" is appended;
    or a writable binary file object). A path is written to a temporary file in the same
    directory first and then renamed, so an interrupted save never leaves half a file."""
    flat, optimizer = net._snapshot()  # one consistent copy, under the network's thread guard
    header = {"format": FORMAT, "version": VERSION, "sizes": list(net.sizes),
              "dtype": net.dtype.name, "activation": net.activation, "output": net.output,
              "loss": net.loss_name, "init": net.init, "nnpy_version": __version__,
              "optimizer": _optimizer_header(optimizer)}
    # the delta of a loss that reads it, or one that is not the default (1.0)
    if _losses.LOSSES[net.loss_name].reads_huber_delta or net.huber_delta != 1.0:
        header["huber_delta"] = net.huber_delta
    arrays = {"header": np.array(json.dumps(header))}
    start = 0
    for l, (n_in, n_out) in enumerate(zip(net.sizes[:-1], net.sizes[1:])):
        arrays["W_%d" % l] = flat[start:start + n_out * n_in].reshape(n_out, n_in)
        arrays["b_%d" % l] = flat[start + n_out * n_in:start + n_out * (n_in + 1)]
        start += n_out * (n_in + 1)
    if optimizer is not None and optimizer.moments.size:
        arrays["optimizer_moments"] = optimizer.moments.reshape(-1, len(flat))
    if isinstance(path, (str, bytes, os.PathLike)):
        write_atomically(path, lambda f: _savez(f, arrays))
    else:  # a file object
        _savez(path, arrays)


def _savez(f: IO[bytes], arrays: dict[str, Any]) -> None:
    np.savez(f, **arrays)


def read(path: PathLike | IO[bytes], make: type[Network], seed: int | None) -> Network:
    """Reads a network written by `write` from `path` (a path or a readable binary file
    object), made by `make` (the Network class; `seed` seeds its generator). Raises ValueError
    if the file is not an intact nnpy network file of a known version, and FileNotFoundError
    if it does not exist."""
    if hasattr(path, "read"):  # a file object (the cast: hasattr does not narrow)
        return read_from(cast("IO[bytes]", path), "<file object>", make, seed)
    f, name = open_regular(path, "network file")
    with f:
        return read_from(f, name, make, seed)


def read_from(f: IO[bytes], name: str, make: type[Network], seed: int | None) -> Network:
    """`read` from the binary file object `f`, called `name` in errors."""
    return read_npz(f, name, "nnpy network file", lambda zf: _read_zip(zf, name, make, seed))



def _check_header(header: Any, name: str) -> list[int]:  # header: parsed JSON, checked here
    if not isinstance(header, dict):
        raise ValueError(f"{name}: the header must be a JSON object, got {type(header).__name__}")
    if header.get("format") != FORMAT:
        raise ValueError(f"{name}: not an nnpy network file (format {header.get('format')!r})")
    version: Any = header.get("version")
    if not is_int(version):
        raise ValueError(f"{name}: the format version must be an integer, got {version!r}")
    if version > VERSION:
        raise ValueError(f"{name}: unknown format version {version}, from a newer nnpy: nnpy "
                         f"{__version__} reads network format versions up to {VERSION}; upgrade "
                         f"nnpy to read it")
    if version not in _READS:
        raise ValueError(f"{name}: unknown format version {version} (nnpy network files "
                         f"have versions {', '.join(map(str, _READS))})")
    missing = [k for k in _REQUIRED[version] if k not in header]
    if missing:
        raise ValueError(f"{name}: the header lacks {', '.join(missing)}")
    unknown = sorted(set(header) - set(_REQUIRED[version]) - set(_OPTIONAL[version]))
    if unknown:
        raise ValueError(f"{name}: the header has unknown fields {', '.join(map(repr, unknown))}")
    sizes = check_sizes(header["sizes"], name)
    if header["dtype"] not in ("float32", "float64"):
        raise ValueError(f"{name}: dtype must be 'float32' or 'float64', got {header['dtype']!r}")
    if header.get("activation", "sigmoid") not in _model.HIDDEN:
        raise ValueError(f"{name}: unknown activation {header['activation']!r}")
    if header["output"] not in _model.OUTPUTS:
        raise ValueError(f"{name}: unknown output {header['output']!r}")
    if header["loss"] not in _model.LOSSES:
        raise ValueError(f"{name}: unknown loss {header['loss']!r}")
    if (header["output"], header["loss"]) not in _model.PAIRS:
        raise ValueError(f"{name}: a {header['output']} output does not train with loss "
                         f"{header['loss']!r}")
    try:
        _model.check_output_width(header["output"], sizes[-1])
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None
    if "init" in header and header["init"] not in _model.INITS:
        raise ValueError(f"{name}: unknown init {header['init']!r}")
    _optimizer_of(header.get("optimizer"), name)  # checked here, before any array
    if "huber_delta" in header:
        try:
            _model.check_huber_delta(header["huber_delta"])
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name}: {err}") from None
    if "nnpy_version" in header and not isinstance(header["nnpy_version"], str):
        raise ValueError(f"{name}: nnpy_version must be a string")
    return sizes



def check_sizes(sizes: Any, name: str) -> list[int]:  # sizes: parsed JSON, checked here
    if not isinstance(sizes, list) or len(sizes) < 2 or \
            not all(is_int(s) and s >= 1 for s in sizes):
        raise ValueError(f"{name}: sizes must be a list of at least two positive integers, "
                         f"got {sizes!r}")
    try:
        as_sizes(sizes)  # sizes no Network can have are refused here, before any array is read
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: {err}") from None
    return [int(s) for s in sizes]



def _read_zip(zf: zipfile.ZipFile, name: str, make: type[Network],
              seed: int | None) -> Network:
    archive = members(zf, name)
    header = read_json_header(zf, archive, name, "nnpy network file")
    sizes = _check_header(header, name)
    dtype = np.dtype(header["dtype"])
    n_layers = len(sizes) - 1

    expected = {"header"}
    shapes: dict[str, tuple[int, ...]] = {}
    for l in range(n_layers):
        shapes["W_%d" % l] = (sizes[l + 1], sizes[l])
        shapes["b_%d" % l] = (sizes[l + 1],)
    optimizer = _optimizer_of(header.get("optimizer"), name)
    moments = 0 if optimizer is None else optimizer.vectors
    if moments:
        shapes["optimizer_moments"] = (moments, sum(shapes[k][0] * (shapes[k][1] + 1)
                                                    for k in shapes if k.startswith("W_")))
    expected |= set(shapes)
    missing = sorted(expected - set(archive))
    extra = sorted(set(archive) - expected)
    if missing:
        raise ValueError(f"{name}: arrays missing for sizes {sizes}: {', '.join(missing)}")
    if extra:
        raise ValueError(f"{name}: unexpected arrays for sizes {sizes}: {', '.join(extra)}")

    arrays = {}
    for key, shape in shapes.items():
        limit = math.prod(shape) * dtype.itemsize + NPY_HEADER_ALLOWANCE
        array = read_array(zf, archive[key], name, limit)
        if array.dtype != dtype:
            raise ValueError(f"{name}: {key} has dtype {array.dtype}; the header says "
                             f"{dtype.name}")
        if array.shape != shape:
            raise ValueError(f"{name}: {key} has shape {array.shape}; sizes {sizes} need "
                             f"{shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"{name}: {key} holds NaN or infinity")
        arrays[key] = array

    net = make(sizes, activation=header.get("activation", "sigmoid"), output=header["output"],
               loss=header["loss"], huber_delta=header.get("huber_delta", 1.0),
               init=header.get("init", "xavier"), dtype=dtype, seed=seed)
    flat = np.concatenate([a for l in range(n_layers)
                           for a in (arrays["W_%d" % l].ravel(), arrays["b_%d" % l])])
    state = None
    if optimizer is not None:
        state = OptimizerState(optimizer, arrays["optimizer_moments"].ravel().copy()
                               if moments else np.zeros(0, dtype),
                               np.array([header["optimizer"]["step"]], np.int64))
    net._restore(flat, state)
    return net


def _optimizer_header(state: OptimizerState | None) -> dict[str, Any] | None:
    """The header's "optimizer" field for a network's optimiser state (None: none kept)."""
    if state is None:
        return None
    return {"name": state.name, **state.optimizer.header(), "step": state.step}


def _optimizer_of(field: Any, name: str) -> Optimizer | None:  # field: parsed JSON
    """The optimiser of a header's checked "optimizer" field (None: no state kept); ValueError
    naming the file `name` for a field that is not one."""
    if field is None:
        return None
    fields = {key: ("name", *cls.header_fields, "step") for key, cls in OPTIMIZERS.items()}
    if not isinstance(field, dict) or field.get("name") not in fields or \
            sorted(field) != sorted(fields[field["name"]]):
        raise ValueError(f"{name}: optimizer must be null or an object with the fields "
                         f"{' / '.join(', '.join(f) for f in fields.values())}, got {field!r}")
    if not is_int(field["step"]) or not 0 <= field["step"] < 2 ** 62:
        raise ValueError(f"{name}: optimizer step must be an integer in [0, 2**62), "
                         f"got {field['step']!r}")
    return OPTIMIZERS[field["name"]].from_header(field, name)
