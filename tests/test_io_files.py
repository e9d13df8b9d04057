"""Issue 9, files: every writer is atomic and writes as open() would (mode, umask, symlinks,
bytes paths); readers refuse what is not a regular file without blocking; malformed content is
a ValueError naming the file and the field; `nnpy.io` is there after a plain `import nnpy`."""
import errno
import io
import json
import os
import stat
import subprocess
import sys
import threading
import zipfile

import numpy as np
import pytest

import nnpy
from nnpy import Network
from nnpy import io as nnpy_io


def small_net(seed=0):
    return Network([2, 3, 1], seed=seed)


# every writer of a path, as (name, write(net, path), read(path) -> Network)
WRITERS = {
    "save": (lambda net, path: net.save(path), Network.load),
    "save_network": (nnpy_io.save_network, nnpy_io.load_network),
    "to_network2_json": (nnpy_io.to_network2_json, nnpy_io.from_network2_json),
}
writers = pytest.mark.parametrize("writer", sorted(WRITERS))


def same_weights(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.weights + a.biases, b.weights + b.biases))


class FailingFile(io.FileIO):
    """A file that takes half of the first write, then fails as a full disk does."""

    def write(self, data):
        super().write(bytes(data)[: max(1, len(data) // 2)])
        raise OSError(errno.ENOSPC, "No space left on device (simulated)")


def leftovers(directory, keep):
    return sorted(set(os.listdir(directory)) - set(keep))


@writers
@pytest.mark.parametrize("failure", ["disk-full", "interrupt"])
def test_a_write_failing_midway_leaves_the_old_file(tmp_path, monkeypatch, writer, failure):
    write, read = WRITERS[writer]
    path = tmp_path / "net.out"
    old = small_net(0)
    write(old, path)
    before = path.read_bytes()

    if failure == "disk-full":
        monkeypatch.setattr(os, "fdopen", lambda fd, mode: FailingFile(fd, "w"))
        expected = OSError
    else:
        def interrupted(fd):
            raise KeyboardInterrupt  # Ctrl-C after everything was written, before the rename
        monkeypatch.setattr(os, "fsync", interrupted)
        expected = KeyboardInterrupt
    with pytest.raises(expected):
        write(small_net(1), path)
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert same_weights(read(path), old)
    assert leftovers(tmp_path, ["net.out"]) == []  # no temporary left behind


@writers
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_0666_less_the_umask(tmp_path, writer, umask):
    write, _ = WRITERS[writer]
    old = os.umask(umask)
    try:
        write(small_net(), tmp_path / "net.out")
        with open(tmp_path / "by-open", "wb"):
            pass
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(tmp_path / "net.out").st_mode)
    assert mode == 0o666 & ~umask == stat.S_IMODE(os.stat(tmp_path / "by-open").st_mode)


@writers
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600, 0o664])
def test_an_existing_file_keeps_its_mode(tmp_path, writer, mode):
    write, read = WRITERS[writer]
    path = tmp_path / "net.out"
    path.write_bytes(b"old")
    path.chmod(mode)
    write(small_net(), path)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert same_weights(read(path), small_net())


@writers
def test_a_symlink_has_its_target_written(tmp_path, writer):
    write, read = WRITERS[writer]
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "net.out"
    target.write_bytes(b"old")
    link = tmp_path / "link.out"
    link.symlink_to(target)
    write(small_net(), link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert same_weights(read(target), small_net())
    dangling = tmp_path / "dangling.out"
    dangling.symlink_to(tmp_path / "real" / "new.out")
    write(small_net(), dangling)  # as open() does: the target is created
    assert dangling.is_symlink() and (tmp_path / "real" / "new.out").is_file()
    assert leftovers(tmp_path / "real", ["net.out", "new.out"]) == []


@writers
def test_bytes_paths(tmp_path, writer):
    write, read = WRITERS[writer]
    path = os.fsencode(tmp_path / "net.out")
    write(small_net(), path)
    assert same_weights(read(path), small_net())


@writers
def test_errors_name_the_path_given_not_a_temporary(tmp_path, writer):
    write, _ = WRITERS[writer]
    missing = str(tmp_path / "no-such-folder" / "net.out")
    with pytest.raises(FileNotFoundError) as caught:
        write(small_net(), missing)
    assert caught.value.filename == missing and ".tmp" not in str(caught.value)
    with pytest.raises(IsADirectoryError) as caught:
        write(small_net(), str(tmp_path))
    assert caught.value.filename == str(tmp_path)
    assert os.listdir(tmp_path) == []  # no temporary left behind


def make_fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("reader", [Network.load, nnpy_io.load_network,
                                    nnpy_io.from_network2_json])
def test_a_fifo_is_refused_without_blocking(tmp_path, reader):
    path = make_fifo(tmp_path)
    unblocked = threading.Event()

    def rescue():
        # only if the reader blocked in open(): a writer lets it through (and the test fails)
        if not done.wait(30):
            unblocked.set()
            with open(path, "wb") as f:
                f.write(b"x")
    done = threading.Event()
    threading.Thread(target=rescue, daemon=True).start()
    try:
        with pytest.raises(ValueError, match="not a regular file .a FIFO."):
            reader(path)
    finally:
        done.set()
    assert not unblocked.is_set()


@pytest.mark.parametrize("reader", [Network.load, nnpy_io.from_network2_json])
def test_directories_and_devices_are_refused(tmp_path, reader):
    with pytest.raises(ValueError, match="not a regular file .a directory."):
        reader(tmp_path)
    if os.path.exists("/dev/null"):
        with pytest.raises(ValueError, match="not a regular file .a character device."):
            reader("/dev/null")
    with pytest.raises(FileNotFoundError):
        reader(tmp_path / "missing")


def network2(**changes):
    data = {"sizes": [2, 1], "weights": [[[0.5, -0.25]]], "biases": [[[0.125]]],
            "cost": "QuadraticCost"}
    data.update(changes)
    return data


@pytest.mark.parametrize("changes, field", [
    (dict(weights=[[[10 ** 400, 1]]]), r"weights\[0\]\[0\]\[0\]"),
    (dict(weights=[[[1, -10 ** 400]]]), r"weights\[0\]\[0\]\[1\]"),
    (dict(biases=[[[10 ** 309]]]), r"biases\[0\]\[0\]\[0\]"),
    (dict(cost=[]), "cost"),
    (dict(cost={}), "cost"),
    (dict(cost=None), "cost"),
    (dict(cost=3), "cost"),
    (dict(sizes=[2, 2 ** 62, 1]), "sizes"),
    (dict(sizes=[2, 10 ** 30]), "sizes"),
])
def test_network2_content_errors_are_value_errors_naming_the_field(tmp_path, changes, field):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(network2(**changes)))
    with pytest.raises(ValueError, match=field) as info:
        nnpy_io.from_network2_json(path)
    assert str(path) in str(info.value)


def test_network2_well_formed_still_loads(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(network2()))
    net = nnpy_io.from_network2_json(path)
    np.testing.assert_array_equal(net.weights[0], [[0.5, -0.25]])


def npy_member(header_text, payload=b""):
    """An .npy (version 1.0) with a hand-written header."""
    text = header_text.encode("latin1")
    text = text + b" " * (64 - (10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload


def rewrite(path, **members):
    """The archive at `path` with some members (name -> bytes) replaced."""
    with zipfile.ZipFile(path) as zf:
        data = {info.filename: zf.read(info) for info in zf.infolist()}
    data.update({name + ".npy": value for name, value in members.items()})
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in data.items():
            zf.writestr(name, value)


@pytest.mark.parametrize("shape", ["(-1, -1)", "(-2, -4)", "(2.5, 2)", "('a', 2)"])
def test_numpy_errors_in_the_archive_name_the_file_and_the_array(tmp_path, shape):
    path = tmp_path / "net.npz"
    small_net().save(path)
    rewrite(path, W_0=npy_member(
        f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}", bytes(48)))
    with pytest.raises(ValueError) as info:
        Network.load(path)
    assert str(path) in str(info.value) and "W_0" in str(info.value)


def header_with(path, **fields):
    with zipfile.ZipFile(path) as zf:
        header = json.loads(str(np.load(io.BytesIO(zf.read("header.npy")))))
    header.update(fields)
    buffer = io.BytesIO()
    np.save(buffer, np.array(json.dumps(header)))
    rewrite(path, header=buffer.getvalue())


@pytest.mark.parametrize("sizes", [[2, 2 ** 62, 1], [2, 2 ** 31, 2 ** 31, 1], [2 ** 63, 1]])
def test_huge_sizes_in_a_header_give_no_negative_byte_count(tmp_path, sizes):
    path = tmp_path / "net.npz"
    small_net().save(path)
    header_with(path, sizes=sizes)
    with pytest.raises(ValueError) as info:
        Network.load(path)
    message = str(info.value)
    assert str(path) in message and "sizes" in message
    assert not any(part.lstrip("(").startswith("-") and part.lstrip("(-")[:1].isdigit()
                   for part in message.split()), message


def test_nnpy_io_after_a_plain_import(tmp_path):
    """As the README writes it: `import nnpy` then nnpy.io.from_network2_json(...), in a fresh
    interpreter (in this one another test may have imported nnpy.io already)."""
    path = tmp_path / "net.json"
    path.write_text(json.dumps(network2()))
    script = ("import sys, nnpy\n"
              f"net = nnpy.io.from_network2_json({str(path)!r})\n"
              "print(net.sizes)\n"
              "heavy = {'sklearn', 'scipy', 'matplotlib', 'tqdm', 'torch', 'dask'}\n"
              "print(sorted(heavy & set(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["(2, 1)", "[]"]
    assert nnpy.io is nnpy_io
