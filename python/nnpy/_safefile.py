"""Safe files: written atomically, read without surprises. The helpers every nnpy file format
shares (networks, stacks, models, FANN and network2 files, CSV tables): nothing here knows what a
network is.

Writing goes to a new file beside the target, renamed over it once complete (a failed or
interrupted write leaves the old file as it was). Reading opens regular files only (a FIFO would
block), and an .npz archive's members are checked (names, sizes, .npy headers) before numpy
allocates anything, never unpickled.
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
from typing import IO, Any, Callable, Union

import numpy as np

__all__ = ["PathLike", "write_atomically", "open_regular", "read_npz", "members",
           "read_json_header", "read_array", "is_int", "read_text", "MAX_HEADER_BYTES"]

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

MAX_HEADER_BYTES = 1 << 20        # a header is a few hundred bytes; refuse to inflate more


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


def members(zf: zipfile.ZipFile, name: str) -> dict[str, zipfile.ZipInfo]:
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
    raw = read_array(zf, members["header"], name, MAX_HEADER_BYTES)
    if raw.shape != () or raw.dtype.kind != "U":
        raise ValueError(f"{name}: the header must be a single string, got an array of dtype "
                         f"{raw.dtype} and shape {raw.shape}")
    try:
        return json.loads(str(raw[()]))
    except (json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{name}: the header is not valid JSON: {err}") from None


def read_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
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
    if not all(is_int(extent) and extent >= 0 for extent in shape):
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



def is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))



def read_text(path: PathLike | IO[str] | IO[bytes], encoding: str, kind: str) -> tuple[str, str]:
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
