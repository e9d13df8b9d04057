"""Networks in files: nnpy's own .npz format, and Nielsen's network2 JSON.

nnpy's format (`save_network` / `load_network`, also `Network.save` / `Network.load`) is a
plain .npz (a zip of .npy files, as `np.savez` writes it) holding

    header       a 0-d unicode array: a JSON object
                 {"format": "nnpy.Network", "version": 2, "sizes": [...],
                  "dtype": "float64" | "float32",
                  "activation": "sigmoid" | "tanh" | "relu" | "identity",
                  "output": "sigmoid" | "softmax" | "identity" | "exp",
                  "loss": "mse" | "cross_entropy" | "absolute_error" | "huber" | "poisson",
                  "huber_delta": d (only where it is not 1.0 or the loss is huber),
                  "init": ..., "nnpy_version": ...,
                  "optimizer": null | {"name": "sgd", "momentum": m, "nesterov": bool,
                                       "step": t} | {"name": "adam", "betas": [b1, b2],
                                       "eps": e, "step": t}}
    W_0, b_0, W_1, b_1, ...   the weights (n_out, n_in) and biases (n_out,) in that dtype
    optimizer_moments         the optimiser's state, (k, n_params) in that dtype, laid out as
                 Network.get_flat_params: SGD with momentum its velocity (k = 1), Adam its
                 first and second moments (k = 2); absent when k would be 0

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

import errno
import io
import json
import math
import numbers
import os
import secrets
import stat
import zipfile
import zlib
from typing import IO, TYPE_CHECKING, Any, Callable, Union, cast

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .network import Loss, Network, _OptimizerState

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

from .fann import from_fann, to_fann   # FANN's text format lives in nnpy.fann

__all__ = ["save_network", "load_network", "to_network2_json", "from_network2_json",
           "to_fann", "from_fann", "FORMAT", "VERSION"]

FORMAT = "nnpy.Network"
VERSION = 2
_READS = (1, 2)   # the versions load_network reads

_REQUIRED = {1: ("format", "version", "sizes", "dtype", "output", "loss"),
             2: ("format", "version", "sizes", "dtype", "activation", "output", "loss")}
_OPTIONAL = {1: ("init", "nnpy_version"),
             2: ("init", "nnpy_version", "optimizer", "huber_delta")}
_MAX_HEADER_BYTES = 1 << 20        # a header is a few hundred bytes; refuse to inflate more
_NPY_HEADER_ALLOWANCE = 1 << 16    # bytes an .npy member may hold beyond its data

_NETWORK2_COSTS = {"QuadraticCost": "mse", "CrossEntropyCost": "cross_entropy"}


# ---------------------------------------------------------------------------------------------
# nnpy's .npz format
# ---------------------------------------------------------------------------------------------

def save_network(net: Network, path: PathLike | IO[bytes]) -> None:
    """Writes `net` (an nnpy.Network) to `path` (a path, written as given: no ".npz" is
    appended; or a writable binary file object). A path is written to a temporary file in the
    same directory first and then renamed, so an interrupted save never leaves half a file."""
    from .network import Network
    if not isinstance(net, Network):
        raise TypeError(f"save_network needs an nnpy.Network, got {type(net).__name__}")
    from . import __version__
    flat, optimizer = net._snapshot()  # one consistent copy, under the network's thread guard
    header = {"format": FORMAT, "version": VERSION, "sizes": list(net.sizes),
              "dtype": net.dtype.name, "activation": net.activation, "output": net.output,
              "loss": net.loss_name, "init": net.init, "nnpy_version": __version__,
              "optimizer": _optimizer_header(optimizer)}
    if net.loss_name == "huber" or net.huber_delta != 1.0:  # 1.0: the default
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


def write_atomically(path: PathLike, write: Callable[[IO[bytes]], object]) -> None:
    """Calls write(f) with a new binary file beside `path` (a str, bytes or os.PathLike) and
    renames it over `path` once complete: a write that fails or is interrupted midway leaves
    the old file (or none) and no temporary behind. As open(path, "wb") would: a symlink's
    target is written, an existing file keeps its mode, and a new one gets 0666 less the
    umask."""
    name = os.fsdecode(os.fspath(path))
    target = os.path.realpath(name)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None  # os.open below applies the umask to 0o666, as open() does
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
    directory, base = os.path.split(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | \
        getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:  # another writer's temporary: draw another name
            continue
        except OSError as err:  # a missing or read-only folder: name the user's path, as open()
            raise type(err)(err.errno, err.strerror, name) from None
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.chmod(tmp, mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def open_regular(path: PathLike, what: str = "file") -> tuple[IO[bytes], str]:
    """`path` opened for binary reading, if it is a regular file: anything else (a directory,
    a FIFO, a device) raises ValueError before it is opened for reading, so that nothing
    blocks or has side effects; a missing file raises FileNotFoundError. Returns (file, name)."""
    name = os.fsdecode(os.fspath(path))
    if not stat.S_ISREG(os.stat(name).st_mode):
        raise ValueError(f"{name} is not a regular file ({_kind(os.stat(name).st_mode)}); "
                         f"a {what} must be one")
    # O_NONBLOCK: should a FIFO replace the file between the check and here, open does not
    # wait for a writer, and the check below refuses it
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
                 | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(f"{name} is not a regular file ({_kind(mode)}); a {what} must be "
                             f"one")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), name
    except BaseException:
        os.close(fd)
        raise


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a plain file"


def load_network(path: PathLike | IO[bytes], *, seed: int | None = None) -> Network:
    """Reads a network written by save_network from `path` (a path or a readable binary file
    object). `seed` seeds the loaded network's generator (the shuffling of later fits).
    Raises ValueError if the file is not an intact nnpy network file of a known version, and
    FileNotFoundError if it does not exist."""
    if hasattr(path, "read"):  # a file object (the cast: hasattr does not narrow)
        return _load(cast("IO[bytes]", path), "<file object>", seed)
    f, name = open_regular(path, "network file")
    with f:
        return _load(f, name, seed)


def _load(f: IO[bytes], name: str, seed: int | None) -> Network:
    return read_npz(f, name, "nnpy network file", lambda zf: _load_zip(zf, name, seed))


def read_npz(f: IO[bytes], name: str, what: str, read: Callable[[zipfile.ZipFile], Any]) -> Any:
    """read(zf) on the .npz archive in the binary file `f`; anything but a ValueError from a
    damaged or foreign file (not a zip, a bad member) becomes a ValueError saying that `name`
    is not a `what`."""
    try:
        start = f.read(4)
        f.seek(0)
    except OSError as err:
        raise ValueError(f"{name}: cannot read: {err}") from None
    if start != b"PK\x03\x04":
        raise ValueError(f"{name} is not an {what} (not an .npz archive)")
    try:
        with zipfile.ZipFile(f) as zf:
            return read(zf)
    except ValueError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, TypeError,
            UnicodeDecodeError, NotImplementedError, RuntimeError) as err:
        raise ValueError(f"{name} is damaged or not an {what}: "
                         f"{type(err).__name__}: {err}") from None


def _members(zf: zipfile.ZipFile, name: str) -> dict[str, zipfile.ZipInfo]:
    """{array name: ZipInfo} of the archive, every member an .npy file, no duplicates."""
    members = {}
    for info in zf.infolist():
        if not info.filename.endswith(".npy") or info.is_dir():
            raise ValueError(f"{name}: unexpected member {info.filename!r} in the archive")
        key = info.filename[:-4]
        if key in members:
            raise ValueError(f"{name}: the archive holds {key!r} twice")
        members[key] = info
    return members


def read_json_header(zf: zipfile.ZipFile, members: dict, name: str, what: str) -> Any:
    """The archive's "header" member (a 0-d unicode .npy array) parsed as JSON."""
    if "header" not in members:
        raise ValueError(f"{name}: not an {what} (no header array)")
    raw = _read_array(zf, members["header"], name, _MAX_HEADER_BYTES)
    if raw.shape != () or raw.dtype.kind != "U":
        raise ValueError(f"{name}: the header must be a single string, got an array of dtype "
                         f"{raw.dtype} and shape {raw.shape}")
    try:
        return json.loads(str(raw[()]))
    except (json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{name}: the header is not valid JSON: {err}") from None


def _read_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                max_bytes: int) -> np.ndarray:
    if info.file_size > max_bytes:
        raise ValueError(f"{name}: {info.filename!r} is {info.file_size} bytes, more than the "
                         f"{max_bytes} its header allows")
    with zf.open(info) as member:
        data = member.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{name}: {info.filename!r} is larger than its header allows")
    # Check the .npy header's shape and dtype against the bytes that follow before numpy
    # allocates what the header declares (a 200-byte member may declare 100 GB).
    stream = io.BytesIO(data)
    fmt = np.lib.format
    invalid = f"{name}: {info.filename!r} is not a valid .npy array"
    try:
        version = fmt.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, TypeError, OverflowError, SyntaxError) as err:
        raise ValueError(f"{invalid}: {err}") from None
    if not all(_is_int(extent) and extent >= 0 for extent in shape):
        raise ValueError(f"{invalid}: its header declares shape {shape}")
    if dtype.hasobject:
        raise ValueError(f"{name}: {info.filename!r} holds Python objects; refused (no pickle)")
    declared = dtype.itemsize * math.prod(shape)
    if declared != len(data) - stream.tell():
        raise ValueError(f"{name}: {info.filename!r} declares shape {shape} of {dtype} "
                         f"({declared} bytes) but holds {len(data) - stream.tell()}")
    stream.seek(0)
    try:
        return fmt.read_array(stream, allow_pickle=False)
    except (ValueError, TypeError, OverflowError, MemoryError) as err:
        raise ValueError(f"{invalid}: {type(err).__name__}: {err}") from None


def _check_header(header: Any, name: str) -> list[int]:  # header: parsed JSON, checked here
    if not isinstance(header, dict):
        raise ValueError(f"{name}: the header must be a JSON object, got {type(header).__name__}")
    if header.get("format") != FORMAT:
        raise ValueError(f"{name}: not an nnpy network file (format {header.get('format')!r})")
    version: Any = header.get("version")
    if not _is_int(version):
        raise ValueError(f"{name}: the format version must be an integer, got {version!r}")
    if version > VERSION:
        from . import __version__
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
    sizes = _check_sizes(header["sizes"], name)
    from . import _model
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
    _check_optimizer_header(header.get("optimizer"), name)
    if "huber_delta" in header:
        try:
            _model.check_huber_delta(header["huber_delta"])
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name}: {err}") from None
    if "nnpy_version" in header and not isinstance(header["nnpy_version"], str):
        raise ValueError(f"{name}: nnpy_version must be a string")
    return sizes


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_sizes(sizes: Any, name: str) -> list[int]:  # sizes: parsed JSON, checked here
    if not isinstance(sizes, list) or len(sizes) < 2 or \
            not all(_is_int(s) and s >= 1 for s in sizes):
        raise ValueError(f"{name}: sizes must be a list of at least two positive integers, "
                         f"got {sizes!r}")
    from ._validation import as_sizes
    try:
        as_sizes(sizes)  # sizes no Network can have are refused here, before any array is read
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: {err}") from None
    return [int(s) for s in sizes]


def _load_zip(zf: zipfile.ZipFile, name: str, seed: int | None) -> Network:
    members = _members(zf, name)
    header = read_json_header(zf, members, name, "nnpy network file")
    sizes = _check_header(header, name)
    dtype = np.dtype(header["dtype"])
    n_layers = len(sizes) - 1

    expected = {"header"}
    shapes: dict[str, tuple[int, ...]] = {}
    for l in range(n_layers):
        shapes["W_%d" % l] = (sizes[l + 1], sizes[l])
        shapes["b_%d" % l] = (sizes[l + 1],)
    moments = _moment_vectors(header.get("optimizer"))
    if moments:
        shapes["optimizer_moments"] = (moments, sum(shapes[k][0] * (shapes[k][1] + 1)
                                                    for k in shapes if k.startswith("W_")))
    expected |= set(shapes)
    missing = sorted(expected - set(members))
    extra = sorted(set(members) - expected)
    if missing:
        raise ValueError(f"{name}: arrays missing for sizes {sizes}: {', '.join(missing)}")
    if extra:
        raise ValueError(f"{name}: unexpected arrays for sizes {sizes}: {', '.join(extra)}")

    arrays = {}
    for key, shape in shapes.items():
        limit = math.prod(shape) * dtype.itemsize + _NPY_HEADER_ALLOWANCE
        array = _read_array(zf, members[key], name, limit)
        if array.dtype != dtype:
            raise ValueError(f"{name}: {key} has dtype {array.dtype}; the header says "
                             f"{dtype.name}")
        if array.shape != shape:
            raise ValueError(f"{name}: {key} has shape {array.shape}; sizes {sizes} need "
                             f"{shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"{name}: {key} holds NaN or infinity")
        arrays[key] = array

    from .network import Network, _OptimizerState
    net = Network(sizes, activation=header.get("activation", "sigmoid"),
                  output=header["output"], loss=header["loss"],
                  huber_delta=header.get("huber_delta", 1.0),
                  init=header.get("init", "xavier"), dtype=dtype, seed=seed)
    flat = np.concatenate([a for l in range(n_layers)
                           for a in (arrays["W_%d" % l].ravel(), arrays["b_%d" % l])])
    optimizer = header.get("optimizer")
    state = None
    if optimizer is not None:
        settings = (("sgd", float(optimizer["momentum"]), optimizer["nesterov"])
                    if optimizer["name"] == "sgd" else
                    ("adam", float(optimizer["betas"][0]), float(optimizer["betas"][1]),
                     float(optimizer["eps"])))
        state = _OptimizerState(optimizer["name"], settings,
                                arrays["optimizer_moments"].ravel().copy() if moments else
                                np.zeros(0, dtype), np.array([optimizer["step"]], np.int64))
    net._restore(flat, state)
    return net


def _optimizer_header(state: _OptimizerState | None) -> dict[str, Any] | None:
    """The header's "optimizer" field for a network's optimiser state (None: none kept)."""
    if state is None:
        return None
    if state.name == "sgd":
        return {"name": "sgd", "momentum": state.settings[1], "nesterov": state.settings[2],
                "step": state.step}
    return {"name": "adam", "betas": list(state.settings[1:3]), "eps": state.settings[3],
            "step": state.step}


def _moment_vectors(optimizer: dict[str, Any] | None) -> int:
    """Rows of the optimizer_moments array a checked "optimizer" field needs."""
    if optimizer is None:
        return 0
    return 2 if optimizer["name"] == "adam" else int(optimizer["momentum"] != 0)


def _check_optimizer_header(optimizer: Any, name: str) -> None:  # optimizer: parsed JSON
    if optimizer is None:
        return
    fields = {"sgd": ("name", "momentum", "nesterov", "step"),
              "adam": ("name", "betas", "eps", "step")}
    if not isinstance(optimizer, dict) or optimizer.get("name") not in fields or \
            sorted(optimizer) != sorted(fields[optimizer["name"]]):
        raise ValueError(f"{name}: optimizer must be null or an object with the fields "
                         f"{' / '.join(', '.join(f) for f in fields.values())}, got {optimizer!r}")

    def real(value: Any, low: float, high: float, what: str) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
                not low <= cast(float, value) < high:  # numbers.Real has no typed comparisons
            raise ValueError(f"{name}: optimizer {what} must be a number in [{low}, {high}), "
                             f"got {value!r}")

    if not _is_int(optimizer["step"]) or not 0 <= optimizer["step"] < 2 ** 62:
        raise ValueError(f"{name}: optimizer step must be an integer in [0, 2**62), "
                         f"got {optimizer['step']!r}")
    if optimizer["name"] == "sgd":
        real(optimizer["momentum"], 0, 1, "momentum")
        if not isinstance(optimizer["nesterov"], bool):
            raise ValueError(f"{name}: optimizer nesterov must be true or false")
    else:
        betas = optimizer["betas"]
        if not isinstance(betas, list) or len(betas) != 2:
            raise ValueError(f"{name}: optimizer betas must be a pair of numbers")
        real(betas[0], 0, 1, "betas[0]")
        real(betas[1], 0, 1, "betas[1]")
        real(optimizer["eps"], 0, float("inf"), "eps")
        if not optimizer["eps"] > 0:
            raise ValueError(f"{name}: optimizer eps must be > 0")


# ---------------------------------------------------------------------------------------------
# Nielsen's network2 JSON
# ---------------------------------------------------------------------------------------------

def to_network2_json(net: Network, path: PathLike | IO[str]) -> None:
    """Writes `net` in the JSON format of Nielsen's network2.py (`network2.load(path)` reads
    it). Only sigmoid-output networks fit that format: softmax ones raise ValueError. The
    values are written as float64 (JSON numbers; float32 networks convert exactly)."""
    from .network import Network
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
    name, text = _read_text(path, "utf-8", "a network2 JSON file")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{name} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{name}: a network2 file holds a JSON object, got {type(data).__name__}")
    missing = [k for k in ("sizes", "weights", "biases", "cost") if k not in data]
    if missing:
        raise ValueError(f"{name}: not a network2 file: no {', '.join(missing)}")
    sizes = _check_sizes(data["sizes"], name)
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
    from .network import Network
    loss = cast("Loss", _NETWORK2_COSTS[cost])  # the cast: the table's values are Loss names
    net = Network(sizes, output="sigmoid", loss=loss, init="scaled_normal", dtype=dtype,
                  seed=seed)
    net.weights = ws
    net.biases = bs
    return net


def _read_text(path: PathLike | IO[str] | IO[bytes], encoding: str, kind: str) -> tuple[str, str]:
    """(name, text) of `path` (a path to a regular file, or a readable file object, text or
    binary); ValueError saying that it is not `kind` if the bytes are not `encoding`."""
    if hasattr(path, "read"):
        name, text = "<file object>", path.read()
    else:
        f, name = open_regular(path, kind.split(" ", 1)[1] if kind.startswith("a ") else kind)
        with f:
            text = f.read()
    if isinstance(text, bytes):
        try:
            text = text.decode(encoding)
        except UnicodeDecodeError:
            raise ValueError(f"{name} is not {kind} (not {encoding.upper()} text)") from None
    return name, text


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
