"""Network files (nnpy.io), by part:

* a truncated, bit-flipped, wrongly shaped or pickle-bearing file makes Network.load raise
  ValueError (or OSError), never crash, hang or run code. The damaged files are built from a
  real saved network by editing its archive (a .npz: a zip of .npy members), so the tests hold
  for any member layout;
* save/load round trips, every field of the header checked, Nielsen's network2 JSON both ways;
* every writer is atomic and writes as open() would (mode, umask, symlinks, bytes paths);
  readers refuse what is not a regular file without blocking; malformed content is a
  ValueError naming the file and the field; `nnpy.io` is there after a plain `import nnpy`."""
import errno
import io
import json
import os
import pickle
import stat
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest

import nnpy
from nnpy import Network
from nnpy import io as nio
from nnpy import io as nnpy_io


REFUSED = (ValueError, OSError)
SLOW = 20.0  # seconds: a load slower than this counts as a hang


def _net(**kwargs):
    net = Network([3, 4, 2], seed=0, **kwargs)
    X = np.random.default_rng(0).random((10, 3))
    net.fit(X, np.random.default_rng(1).random((10, 2)), epochs=2, lr=0.5)
    return net


@pytest.fixture
def saved(tmp_path):
    net = _net()
    path = tmp_path / "net.npz"
    net.save(path)
    return net, path, path.read_bytes()


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _archive(members, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, value in members.items():
            zf.writestr(name, value)
    return buf.getvalue()


def _npy(array, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def _load_refused(path):
    """Loads `path` expecting refusal; returns the exception."""
    started = time.monotonic()
    with pytest.raises(REFUSED) as info:
        Network.load(path)
    assert time.monotonic() - started < SLOW
    return info.value


def _load_either(path, like):
    """A load that may be refused or may succeed (a flip in a field the format does not
    check, such as a zip timestamp); a success must be an intact, usable network."""
    started = time.monotonic()
    try:
        net = Network.load(path)
    except REFUSED:
        return False
    finally:
        assert time.monotonic() - started < SLOW
    assert isinstance(net, Network) and net.sizes == like.sizes
    assert np.all(np.isfinite(net._flat))
    assert np.all(np.isfinite(net.predict(np.ones((2, like.sizes[0])))))
    return True


def test_round_trip(saved, tmp_path):
    net, path, _ = saved
    back = Network.load(path)
    assert back.sizes == net.sizes and back.dtype == net.dtype
    assert back.output == net.output and back.loss_name == net.loss_name
    assert np.array_equal(back._flat, net._flat)
    with open(path, "rb") as f:  # a file object too
        assert np.array_equal(nnpy_io.load_network(f)._flat, net._flat)


# ---------------------------------------------------------------------------------------------
# Truncated and bit-flipped files
# ---------------------------------------------------------------------------------------------

def test_truncated_files(saved, tmp_path):
    _, _, data = saved
    target = tmp_path / "cut.npz"
    lengths = sorted(set(range(0, len(data), max(1, len(data) // 300))) |
                     {1, 2, 3, 4, 5, 22, len(data) - 22, len(data) - 1})
    for n in lengths:
        target.write_bytes(data[:n])
        _load_refused(target)


def test_bit_flips(saved, tmp_path):
    net, _, data = saved
    target = tmp_path / "flipped.npz"
    r = np.random.default_rng(0)
    positions = range(0, len(data), max(1, len(data) // 400))
    loaded = 0
    for pos in positions:
        bit = int(r.integers(8))
        flipped = bytearray(data)
        flipped[pos] ^= 1 << bit
        target.write_bytes(bytes(flipped))
        loaded += _load_either(target, net)
    # most flips hit CRC-protected data or checked fields
    assert loaded < len(positions) // 2


def test_random_multi_byte_damage(saved, tmp_path):
    net, _, data = saved
    target = tmp_path / "damaged.npz"
    r = np.random.default_rng(1)
    for _ in range(150):
        damaged = bytearray(data)
        start = int(r.integers(len(data)))
        length = int(r.integers(1, 64))
        damaged[start:start + length] = r.integers(0, 256, min(length, len(data) - start),
                                                   dtype=np.uint8).tobytes()
        target.write_bytes(bytes(damaged))
        _load_either(target, net)


@pytest.mark.parametrize("content", [b"", b"\x00", b"PK", b"PK\x03\x04", b"PK\x05\x06" + bytes(18),
                                     b"not a network", b"\x93NUMPY", bytes(range(256)) * 8,
                                     b'{"sizes": [3, 2]}'],
                         ids=["empty", "nul", "PK", "local-header", "empty-zip-eocd", "text",
                              "npy-magic", "bytes", "json"])
def test_foreign_content(tmp_path, content):
    path = tmp_path / "foreign.npz"
    path.write_bytes(content)
    _load_refused(path)


def test_other_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        Network.load(tmp_path / "missing.npz")
    with pytest.raises(REFUSED):
        Network.load(tmp_path)  # a directory
    np.save(tmp_path / "plain.npy", np.ones(3))
    _load_refused(tmp_path / "plain.npy")
    np.savez(tmp_path / "other.npz", a=np.ones(3))
    _load_refused(tmp_path / "other.npz")
    empty_zip = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty_zip, "w"):
        pass
    _load_refused(empty_zip)


# ---------------------------------------------------------------------------------------------
# Well-formed archives with wrong contents
# ---------------------------------------------------------------------------------------------

def _edit(data, edit):
    members = _members(data)
    edit(members)
    return _archive(members)


def _header(members):
    raw = np.load(io.BytesIO(members["header.npy"]), allow_pickle=False)
    return json.loads(str(raw[()]))


def _set_header(members, **changes):
    header = _header(members)
    for key, value in changes.items():
        if value is _DROP:
            header.pop(key, None)
        else:
            header[key] = value
    members["header.npy"] = _npy(np.array(json.dumps(header)))


_DROP = object()


def _array(members, key):
    return np.load(io.BytesIO(members[key + ".npy"]), allow_pickle=False)


EDITS = {
    "W0-transposed": lambda m: m.__setitem__("W_0.npy", _npy(_array(m, "W_0").T.copy())),
    "W0-extra-row": lambda m: m.__setitem__("W_0.npy", _npy(np.ones((5, 3)))),
    "W0-flat": lambda m: m.__setitem__("W_0.npy", _npy(_array(m, "W_0").ravel())),
    "W0-3d": lambda m: m.__setitem__("W_0.npy", _npy(_array(m, "W_0")[None])),
    "W0-scalar": lambda m: m.__setitem__("W_0.npy", _npy(np.float64(1))),
    "W0-empty": lambda m: m.__setitem__("W_0.npy", _npy(np.ones((0, 3)))),
    "b0-column": lambda m: m.__setitem__("b_0.npy", _npy(_array(m, "b_0")[:, None])),
    "b1-short": lambda m: m.__setitem__("b_1.npy", _npy(np.ones(1))),
    "W1-float32": lambda m: m.__setitem__("W_1.npy", _npy(_array(m, "W_1").astype(np.float32))),
    "W1-int": lambda m: m.__setitem__("W_1.npy", _npy(np.ones((2, 4), dtype=np.int64))),
    "W1-complex": lambda m: m.__setitem__("W_1.npy", _npy(np.ones((2, 4), dtype=complex))),
    "W1-string": lambda m: m.__setitem__("W_1.npy", _npy(np.full((2, 4), "x"))),
    "W1-structured": lambda m: m.__setitem__(
        "W_1.npy", _npy(np.zeros((2, 4), dtype=[("a", "f8")]))),
    "W1-big-endian": lambda m: m.__setitem__("W_1.npy", _npy(_array(m, "W_1").astype(">f8"))),
    "W1-nan": lambda m: m.__setitem__("W_1.npy", _npy(np.full((2, 4), np.nan))),
    "b0-inf": lambda m: m.__setitem__("b_0.npy", _npy(np.array([0, 0, np.inf, 0.0]))),
    "missing-W1": lambda m: m.pop("W_1.npy"),
    "missing-b0": lambda m: m.pop("b_0.npy"),
    "missing-header": lambda m: m.pop("header.npy"),
    "extra-array": lambda m: m.__setitem__("W_2.npy", _npy(np.ones((2, 2)))),
    "extra-file": lambda m: m.__setitem__("README.txt", b"hello"),
    "sizes-wider": lambda m: _set_header(m, sizes=[3, 5, 2]),
    "sizes-deeper": lambda m: _set_header(m, sizes=[3, 4, 2, 2]),
    "sizes-shallower": lambda m: _set_header(m, sizes=[3, 2]),
    "sizes-zero": lambda m: _set_header(m, sizes=[3, 0, 2]),
    "sizes-negative": lambda m: _set_header(m, sizes=[3, -4, 2]),
    "sizes-float": lambda m: _set_header(m, sizes=[3, 4.0, 2]),
    "sizes-huge": lambda m: _set_header(m, sizes=[3, 10 ** 12, 2]),
    "sizes-bool": lambda m: _set_header(m, sizes=[3, True, 2]),
    "sizes-string": lambda m: _set_header(m, sizes="3,4,2"),
    "sizes-missing": lambda m: _set_header(m, sizes=_DROP),
    "dtype-float32": lambda m: _set_header(m, dtype="float32"),
    "dtype-unknown": lambda m: _set_header(m, dtype="float16"),
    "dtype-object": lambda m: _set_header(m, dtype="object"),
    "output-unknown": lambda m: _set_header(m, output="relu"),
    "loss-unknown": lambda m: _set_header(m, loss="hinge"),
    "softmax-mse": lambda m: _set_header(m, output="softmax", loss="mse"),
    "init-unknown": lambda m: _set_header(m, init="lecun"),
    "version-future": lambda m: _set_header(m, version=99),
    "version-string": lambda m: _set_header(m, version="1"),
    "format-other": lambda m: _set_header(m, format="keras"),
    "header-not-json": lambda m: m.__setitem__("header.npy", _npy(np.array("{not json"))),
    "header-list": lambda m: m.__setitem__("header.npy", _npy(np.array("[1, 2]"))),
    "header-deep": lambda m: m.__setitem__("header.npy", _npy(np.array("[" * 100000))),
    "header-number": lambda m: m.__setitem__("header.npy", _npy(np.array(3.0))),
    "header-bytes": lambda m: m.__setitem__("header.npy", _npy(np.array(b"{}"))),
    "header-array": lambda m: m.__setitem__("header.npy", _npy(np.array(["{}", "{}"]))),
    "member-not-npy": lambda m: m.__setitem__("W_0.npy", b"garbage"),
    "member-empty": lambda m: m.__setitem__("b_1.npy", b""),
    "npy-bad-version": lambda m: m.__setitem__("W_0.npy", b"\x93NUMPY\x09\x00" + m["W_0.npy"][8:]),
    "npy-truncated-data": lambda m: m.__setitem__("W_0.npy", m["W_0.npy"][:-5]),
    "npy-extra-data": lambda m: m.__setitem__("W_0.npy", m["W_0.npy"] + bytes(64)),
}


def _npy_with_header(header_text, payload=b""):
    """An .npy (version 1.0) with a hand-written header dict text."""
    text = header_text.encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    text = text + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload


EDITS.update({
    "npy-huge-shape": lambda m: m.__setitem__("W_0.npy", _npy_with_header(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4000000000, 3), }", bytes(96))),
    "npy-huge-1d": lambda m: m.__setitem__("b_0.npy", _npy_with_header(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (10000000000000000,), }", bytes(32))),
    "npy-negative-shape": lambda m: m.__setitem__("b_0.npy", _npy_with_header(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (-4,), }", bytes(32))),
    "npy-fortran-flag": lambda m: m.__setitem__("W_0.npy", _npy_with_header(
        "{'descr': '<f8', 'fortran_order': True, 'shape': (4, 3), }", bytes(96))),
    "npy-evil-header": lambda m: m.__setitem__("W_0.npy", _npy_with_header(
        "__import__('os').system('touch /tmp/nnpy_evil_header')")),
    "npy-object-descr": lambda m: m.__setitem__("W_0.npy", _npy_with_header(
        "{'descr': '|O', 'fortran_order': False, 'shape': (4, 3), }", bytes(96))),
})


CASES = list(EDITS)
MAY_LOAD = {
    "npy-fortran-flag",  # same shape, values in another order: a valid array
    "npy-extra-data",    # bytes after a complete array: ignored, as numpy does
}


@pytest.mark.parametrize("edit", CASES, ids=list(EDITS))
def test_wrong_contents(saved, tmp_path, edit):
    net, _, data = saved
    path = tmp_path / "edited.npz"
    path.write_bytes(_edit(data, EDITS[edit]))
    if edit in MAY_LOAD:
        _load_either(path, net)
    else:
        err = _load_refused(path)
        assert str(err)
    assert not os.path.exists("/tmp/nnpy_evil_header")


def test_compressed_archive_and_bomb(saved, tmp_path):
    net, _, data = saved
    members = _members(data)
    path = tmp_path / "compressed.npz"
    # np.savez_compressed's layout is a valid file
    path.write_bytes(_archive(members, zipfile.ZIP_DEFLATED))
    assert np.array_equal(Network.load(path)._flat, net._flat)
    # a header member that inflates to 200 MB (from ~200 kB)
    members["header.npy"] = _npy_with_header(
        "{'descr': '<U100000000', 'fortran_order': False, 'shape': (), }",
        bytes(200 * 1024 * 1024))
    path.write_bytes(_archive(members, zipfile.ZIP_DEFLATED))
    _load_refused(path)


# ---------------------------------------------------------------------------------------------
# Files that carry pickles: refused, and the pickle never runs
# ---------------------------------------------------------------------------------------------

class _Evil:
    """Unpickling this creates the marker file: proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("where", ["header", "W_0", "b_1", "extra"])
def test_pickled_members_never_run(saved, tmp_path, where):
    _, _, data = saved
    marker = tmp_path / f"ran_{where}"
    evil = np.empty((), dtype=object)
    evil[()] = _Evil(marker)
    payload = _npy(np.array([_Evil(marker), 1.0], dtype=object), allow_pickle=True)
    members = _members(data)
    members[f"{where}.npy"] = payload if where != "header" else _npy(evil, allow_pickle=True)
    path = tmp_path / "evil.npz"
    path.write_bytes(_archive(members))
    _load_refused(path)
    assert not marker.exists(), "loading ran code from the file"


def test_whole_file_pickles_never_run(tmp_path):
    marker = tmp_path / "ran_pickle"
    for i, blob in enumerate([pickle.dumps(_Evil(marker)), pickle.dumps(_net()),
                              pickle.dumps({"W_0": _Evil(marker)}, protocol=2)]):
        path = tmp_path / f"pickle_{i}.npz"
        path.write_bytes(blob)
        _load_refused(path)
    # a .npy holding a pickled object array, under an .npz name
    path = tmp_path / "objects.npz"
    np.save(path.with_suffix(".npy"), np.array([_Evil(marker)], dtype=object), allow_pickle=True)
    os.replace(path.with_suffix(".npy"), path)
    _load_refused(path)
    assert not marker.exists(), "loading ran code from the file"


def test_float32_networks_round_trip_and_are_checked(tmp_path):
    net = _net(dtype=np.float32)
    path = tmp_path / "f32.npz"
    net.save(path)
    back = Network.load(path)
    assert back.dtype == np.float32 and np.array_equal(back._flat, net._flat)
    members = _members(path.read_bytes())
    members["W_0.npy"] = _npy(_array(members, "W_0").astype(np.float64))
    path.write_bytes(_archive(members))
    _load_refused(path)


# ---------------------------------------------------------------------------------------------
# Nielsen's network2 JSON, when nnpy.io reads it
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "", "{", "[]", "null", '{"sizes": [2, 1]}', "[" * 100000,
    '{"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0]]], "cost": "HingeCost"}',
    '{"sizes": [2, 1], "weights": [[[1, 2, 3]]], "biases": [[[0]]], "cost": "QuadraticCost"}',
    '{"sizes": [2, 1], "weights": [[[1, NaN]]], "biases": [[[0]]], "cost": "QuadraticCost"}',
    '{"sizes": [2, 1], "weights": [[[1, "a"]]], "biases": [[[0]]], "cost": "QuadraticCost"}',
    '{"sizes": [2, 0], "weights": [[]], "biases": [[]], "cost": "QuadraticCost"}',
    '{"sizes": [2, 1], "weights": [[[1, 1e999]]], "biases": [[[0]]], "cost": "QuadraticCost"}',
], ids=["empty", "open", "list", "null", "partial", "deep", "cost", "shape", "nan", "string",
        "zero-size", "overflow"])
def test_network2_json_refused(tmp_path, text):
    if not hasattr(nnpy_io, "from_network2_json"):
        pytest.skip("nnpy.io has no network2 reader")
    path = tmp_path / "net2.json"
    path.write_text(text)
    with pytest.raises(REFUSED):
        nnpy_io.from_network2_json(path)


# ---------------------------------------------------------------------------------------------
# A loaded model's predict: every input it cannot take is refused, naming the column
# ---------------------------------------------------------------------------------------------

def _model():
    import nnpy
    net = Network([2, 3, 1], output="identity", seed=0)
    model = nnpy.Model(net, ["f0", "f1"], "y")
    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    return nnpy.load(buf)


def _long(text):
    return np.array([1.0, np.longdouble(text)], dtype=np.longdouble)


@pytest.mark.parametrize("X, error, words", [
    ({"f0": [10 ** 400], "f1": [1.0]}, ValueError, ["column 'f0'", "row 0", "float64"]),
    ({"f0": 10 ** 400, "f1": 1.0}, ValueError, ["column 'f0'", "float64"]),
    ({"f0": [1.0], "f1": [-(10 ** 400)]}, ValueError, ["column 'f1'", "row 0", "float64"]),
    ({"f0": [1, 2, 10 ** 400], "f1": [1, 2, 3]}, ValueError, ["column 'f0'", "row 2"]),
    ({"f0": np.array([10 ** 400], dtype=object), "f1": [1.0]}, ValueError, ["column 'f0'"]),
    ({"f0": [__import__("fractions").Fraction(10 ** 400, 3)], "f1": [1.0]}, ValueError,
     ["column 'f0'", "row 0"]),
    ({"f0": [1.0, 2.0], "f1": _long("1e400")}, ValueError, ["column 'f1'", "row 1", "float64"]),
    ([[1.0, 10 ** 400]], ValueError, ["column 'f1'", "row 0", "float64"]),
    ([[1.0, 2.0], [10 ** 400, 2.0]], ValueError, ["column 'f0'", "row 1"]),
    ({"f0": ["a"], "f1": [1.0]}, TypeError, ["column 'f0'", "numbers"]),
    ({"f0": [1.0, "a"], "f1": [1.0, 2.0]}, TypeError, ["column 'f0'", "numbers"]),
    ({"f0": [None], "f1": [1.0]}, TypeError, ["column 'f0'", "None"]),
    ({"f0": None, "f1": [1.0]}, TypeError, ["column 'f0'", "None"]),
    ({"f0": [1.0, None], "f1": [1.0, 2.0]}, TypeError, ["column 'f0'", "row 1", "None"]),
    ([[1.0, None]], TypeError, ["column 'f1'", "row 0", "None"]),
    ({"f0": [__import__("decimal").Decimal("1e400")], "f1": [1.0]}, TypeError,
     ["column 'f0'", "numbers"]),
    ({"f0": [[1.0, 2.0]], "f1": [1.0]}, ValueError, ["column 'f0'", "1-D"]),
    ({"f0": [[1.0], [2.0, 3.0]], "f1": [1.0, 2.0]}, ValueError, ["column 'f0'", "ragged"]),
    ({"f0": [1.0, 2.0], "f1": [1.0]}, ValueError, ["'f0' 2", "'f1' 1", "lengths"]),
    ({"f0": [1j], "f1": [1.0]}, TypeError, ["column 'f0'", "complex"]),
    ({"f0": [1.0], "f1": [float("nan")]}, ValueError, ["column 'f1'", "finite"]),
    ([["a", "1.0"]], TypeError, ["column 'f0'", "numbers", "'a'"]),
])
def test_model_predict_names_the_column_it_cannot_take(X, error, words):
    model = _model()
    for method in (model.predict, model.standardize):
        with pytest.raises(error) as caught:
            method(X)
        for word in words:
            assert word in str(caught.value), (word, str(caught.value))


def test_model_predict_names_the_column_of_a_dataframe():
    pandas = pytest.importorskip("pandas")
    model = _model()
    frame = pandas.DataFrame({"f1": [1.0, 2.0],
                              "f0": pandas.Series([1, 10 ** 400], dtype=object)})
    with pytest.raises(ValueError, match=r"column 'f0' \(row 1\)"):
        model.predict(frame)
    frame = pandas.DataFrame({"f0": [1.0, 2.0], "f1": [1.0, "x"]})
    with pytest.raises(TypeError, match=r"column 'f1' \(row 1\)"):
        model.predict(frame)
    # numbers it can take, in every form, predict as the network does
    plain = np.array([[1.0, 2.0], [3.0, -4.0]])
    want = model.network.predict(plain)[:, 0]
    for X in (plain, plain.tolist(), {"f0": [1, 3], "f1": [2, -4]},
              pandas.DataFrame({"f1": [2.0, -4.0], "f0": [1.0, 3.0]}),
              {"f0": np.array([1, 3], dtype=object), "f1": [2.0, -4.0]}):
        np.testing.assert_array_equal(model.predict(X), want)


# =============================================================================================
# Network files: save/load round trips, and every kind of damaged or foreign file is refused
# with ValueError (never unpickled, never executed). Nielsen's network2 JSON both ways.
# =============================================================================================

def trained(sizes=(3, 5, 2), **kwargs):
    net = nnpy.Network(list(sizes), seed=1, **kwargs)
    rng = np.random.default_rng(0)
    X = rng.random((20, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], 20)]
    net.fit(X, Y, epochs=3, lr=0.5)
    return net, X


def same_network(a, b):
    assert a.sizes == b.sizes and a.output == b.output and a.loss_name == b.loss_name
    assert a.dtype == b.dtype
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        assert wa.dtype == wb.dtype
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("kwargs", [
    {},
    {"output": "softmax"},
    {"loss": "cross_entropy"},
    {"dtype": np.float32, "init": "scaled_normal"},
])
def test_round_trip_keeps_every_setting(tmp_path, kwargs):
    net, X = trained(**kwargs)
    path = tmp_path / "net.npz"
    net.save(path)
    back = nnpy.Network.load(path)
    same_network(net, back)
    assert back.init == net.init
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    # the loaded network trains like any other
    back.fit(X, net.predict(X), epochs=1, lr=0.1)


def test_path_is_written_as_given_and_str_paths_work(tmp_path):
    net, _ = trained()
    path = str(tmp_path / "model.nnpy")  # no .npz appended
    nio.save_network(net, path)
    assert os.listdir(tmp_path) == ["model.nnpy"]  # and no temporary file left behind
    same_network(net, nio.load_network(path))


def test_file_objects(tmp_path):
    net, _ = trained((2, 4, 4, 1))
    buffer = io.BytesIO()
    nio.save_network(net, buffer)
    buffer.seek(0)
    same_network(net, nio.load_network(buffer))


def test_file_is_a_plain_npz_with_a_json_header(tmp_path):
    net, _ = trained()
    net.save(tmp_path / "n.npz")
    with np.load(tmp_path / "n.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["W_0", "W_1", "b_0", "b_1", "header"]
        header = json.loads(str(z["header"]))
        np.testing.assert_array_equal(z["W_1"], net.weights[1])
    assert header["format"] == "nnpy.Network" and header["version"] == 2
    assert header["sizes"] == [3, 5, 2] and header["dtype"] == "float64"
    assert header["output"] == "sigmoid" and header["loss"] == "mse"


def test_seed_of_the_loaded_network(tmp_path):
    net, X = trained()
    net.save(tmp_path / "n.npz")
    a = nio.load_network(tmp_path / "n.npz", seed=3)
    b = nio.load_network(tmp_path / "n.npz", seed=3)
    Y = net.predict(X)
    assert a.fit(X, Y, epochs=2, lr=0.3).loss == b.fit(X, Y, epochs=2, lr=0.3).loss


def test_missing_file_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        nnpy.Network.load(tmp_path / "nothing.npz")


# ---- damaged and foreign files ------------------------------------------------------------

def write_npz(path, header, arrays):
    contents = dict(arrays)
    if header is not None:
        contents["header"] = np.array(header if isinstance(header, str) else json.dumps(header))
    np.savez(path, **contents)


def good_parts():
    net, _ = trained()
    header = {"format": "nnpy.Network", "version": 1, "sizes": [3, 5, 2], "dtype": "float64",
              "output": "sigmoid", "loss": "mse", "init": "xavier"}
    arrays = {"W_0": net.weights[0].copy(), "b_0": net.biases[0].copy(),
              "W_1": net.weights[1].copy(), "b_1": net.biases[1].copy()}
    return header, arrays


def test_the_test_files_are_valid_when_unchanged(tmp_path):
    header, arrays = good_parts()
    write_npz(tmp_path / "ok.npz", header, arrays)
    assert nnpy.Network.load(tmp_path / "ok.npz").sizes == (3, 5, 2)


@pytest.mark.parametrize("change, message", [
    (lambda h, a: h.update(version=3), "unknown format version 3"),
    (lambda h, a: h.update(version="1"), "version must be an integer"),
    (lambda h, a: h.update(version=True), "version must be an integer"),
    (lambda h, a: h.update(format="other"), "not an nnpy network file"),
    (lambda h, a: h.pop("sizes"), "lacks sizes"),
    (lambda h, a: h.update(extra=1), "unknown fields"),
    (lambda h, a: h.update(sizes=[3, 5]), "unexpected arrays"),
    (lambda h, a: h.update(sizes=[3, 5, 2, 2]), "arrays missing"),
    (lambda h, a: h.update(sizes=[3, 4, 2]), "shape"),
    (lambda h, a: h.update(sizes=[3, 0, 2]), "positive integers"),
    (lambda h, a: h.update(sizes="3,5,2"), "sizes must be a list"),
    (lambda h, a: h.update(dtype="float16"), "dtype"),
    (lambda h, a: h.update(dtype="float32"), "dtype float64; the header says float32"),
    (lambda h, a: h.update(output="relu"), "unknown output"),
    (lambda h, a: h.update(loss="hinge"), "unknown loss"),
    (lambda h, a: h.update(output="softmax"), "softmax output does not train with loss"),
    (lambda h, a: h.update(init="zeros"), "unknown init"),
    (lambda h, a: a.pop("b_1"), "arrays missing"),
    (lambda h, a: a.update(W_9=np.zeros(2)), "unexpected arrays"),
    (lambda h, a: a.update(W_0=a["W_0"].T.copy()), "W_0 has shape"),
    (lambda h, a: a.update(b_0=a["b_0"][:, None]), "b_0 has shape"),
    (lambda h, a: a.update(W_1=a["W_1"].astype(np.float32)), "W_1 has dtype float32"),
    (lambda h, a: a.update(W_1=a["W_1"].astype(np.int64)), "W_1 has dtype int64"),
    (lambda h, a: a["W_1"].__setitem__((0, 0), np.nan), "NaN or infinity"),
    (lambda h, a: a["b_0"].__setitem__(1, np.inf), "NaN or infinity"),
])
def test_every_field_is_checked(tmp_path, change, message):
    header, arrays = good_parts()
    change(header, arrays)
    write_npz(tmp_path / "bad.npz", header, arrays)
    with pytest.raises(ValueError, match=message):
        nnpy.Network.load(tmp_path / "bad.npz")


def _rewritten_header(data, member, **changes):
    """An .npz archive (bytes) with the JSON header in `member` changed."""
    import io
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            raw = zin.read(info)
            if info.filename == member + ".npy":
                header = json.loads(str(np.load(io.BytesIO(raw))[()]))
                header.update(changes)
                buffer = io.BytesIO()
                np.save(buffer, np.array(json.dumps(header)))
                raw = buffer.getvalue()
            zout.writestr(info, raw)
    return out.getvalue()


@pytest.mark.parametrize("version", [3, 4, 10 ** 30])
def test_a_newer_network_or_model_file_is_refused_naming_both_versions(tmp_path, version):
    """A file whose header declares a format version newer than this nnpy's newest: refused
    by each reader of a versioned nnpy format, naming the file's version and the newest known
    (never read as if it were an older one)."""
    from nnpy import io as nnpy_io
    from nnpy import modelfile
    net = nnpy.Network([2, 3, 1], output="identity", seed=0)
    net.save(tmp_path / "net.npz")
    (tmp_path / "new.npz").write_bytes(_rewritten_header((tmp_path / "net.npz").read_bytes(),
                                                         "header", version=version))
    with pytest.raises(ValueError) as caught:
        nnpy.Network.load(tmp_path / "new.npz")
    message = str(caught.value)
    assert f"version {version}" in message and "newer nnpy" in message, message
    assert f"versions up to {nnpy_io.VERSION}" in message, message

    model = nnpy.Model(net, ["a", "b"], "y")
    model.save(tmp_path / "m.model")
    model_version = version - 2 + modelfile.VERSION   # newer than the model format's newest
    (tmp_path / "new.model").write_bytes(_rewritten_header(
        (tmp_path / "m.model").read_bytes(), "header", version=model_version))
    with pytest.raises(ValueError) as caught:
        nnpy.load(tmp_path / "new.model")
    message = str(caught.value)
    assert f"version {model_version}" in message and "newer nnpy" in message, message
    assert f"reads version {modelfile.VERSION}" in message, message


@pytest.mark.parametrize("version", [0, -1])
def test_a_network_file_version_below_the_first_is_not_called_newer(tmp_path, version):
    header, arrays = good_parts()
    header["version"] = version
    write_npz(tmp_path / "bad.npz", header, arrays)
    with pytest.raises(ValueError, match=rf"unknown format version {version} \(nnpy network "
                                         r"files have versions 1, 2\)"):
        nnpy.Network.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("header, message", [
    (None, "no header"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
])
def test_bad_headers(tmp_path, header, message):
    _, arrays = good_parts()
    write_npz(tmp_path / "bad.npz", header, arrays)
    with pytest.raises(ValueError, match=message):
        nnpy.Network.load(tmp_path / "bad.npz")


def test_header_of_the_wrong_type(tmp_path):
    _, arrays = good_parts()
    np.savez(tmp_path / "bad.npz", header=np.array([1.0, 2.0]), **arrays)
    with pytest.raises(ValueError, match="header must be a single string"):
        nnpy.Network.load(tmp_path / "bad.npz")


def test_pickled_arrays_are_never_loaded(tmp_path):
    header, arrays = good_parts()
    marker = tmp_path / "executed"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    arrays["W_0"] = np.array([Evil()], dtype=object)
    write_npz(tmp_path / "evil.npz", header, arrays)
    with pytest.raises(ValueError):
        nnpy.Network.load(tmp_path / "evil.npz")
    assert not marker.exists()
    # a pickled object header too
    header_evil = {"header": np.array([Evil()], dtype=object)}
    np.savez(tmp_path / "evil2.npz", **header_evil)
    with pytest.raises(ValueError):
        nnpy.Network.load(tmp_path / "evil2.npz")
    assert not marker.exists()


def test_non_npz_files(tmp_path):
    (tmp_path / "text.npz").write_text("hello")
    np.save(tmp_path / "array.npy", np.zeros(3))
    (tmp_path / "empty.npz").write_bytes(b"")
    for name in ("text.npz", "array.npy", "empty.npz"):
        with pytest.raises(ValueError, match="not an nnpy network file"):
            nnpy.Network.load(tmp_path / name)


def test_truncated_and_corrupted_files(tmp_path):
    net, _ = trained((8, 16, 4))
    net.save(tmp_path / "n.npz")
    data = (tmp_path / "n.npz").read_bytes()
    for cut in (10, len(data) // 3, len(data) // 2, len(data) - 30):
        (tmp_path / "cut.npz").write_bytes(data[:cut])
        with pytest.raises(ValueError):
            nnpy.Network.load(tmp_path / "cut.npz")
    # flip bytes inside the stored arrays: the zip's CRC check fails
    rng = np.random.default_rng(0)
    for _ in range(20):
        damaged = bytearray(data)
        at = int(rng.integers(100, len(data) - 200))
        damaged[at] ^= 0xFF
        (tmp_path / "flip.npz").write_bytes(bytes(damaged))
        try:
            loaded = nnpy.Network.load(tmp_path / "flip.npz")
        except ValueError:
            continue
        # a flip in a place nothing reads (zip padding, local headers) may leave it intact;
        # then the network must be the saved one exactly
        same_network(net, loaded)


def test_extra_member_that_is_not_npy(tmp_path):
    header, arrays = good_parts()
    write_npz(tmp_path / "n.npz", header, arrays)
    with zipfile.ZipFile(tmp_path / "n.npz", "a") as zf:
        zf.writestr("script.py", "print('hi')")
    with pytest.raises(ValueError, match="unexpected member"):
        nnpy.Network.load(tmp_path / "n.npz")


def test_oversized_member_is_refused_before_reading(tmp_path):
    header, arrays = good_parts()
    arrays["W_0"] = np.zeros((5, 3 * 100_000))  # far more data than sizes allow
    write_npz(tmp_path / "big.npz", header, arrays)
    with pytest.raises(ValueError, match="bytes|larger"):
        nnpy.Network.load(tmp_path / "big.npz")


def test_save_rejects_non_networks(tmp_path):
    with pytest.raises(TypeError):
        nio.save_network({"W_0": 1}, tmp_path / "x.npz")


# ---- Nielsen's network2 JSON --------------------------------------------------------------

def test_network2_round_trip(tmp_path):
    net, X = trained((4, 6, 3), loss="cross_entropy")
    path = tmp_path / "net2.json"
    nio.to_network2_json(net, path)
    data = json.loads(path.read_text())
    assert set(data) == {"sizes", "weights", "biases", "cost"}
    assert data["cost"] == "CrossEntropyCost"
    assert data["sizes"] == [4, 6, 3]
    assert np.shape(data["biases"][0]) == (6, 1)  # columns, as network2 keeps them
    assert np.shape(data["weights"][1]) == (3, 6)
    back = nio.from_network2_json(path)
    same_network(net, back)
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


def test_network2_file_as_nielsen_writes_it(tmp_path):
    # what network2.Network([2, 3, 1]).save(...) writes: QuadraticCost, column biases
    rng = np.random.default_rng(4)
    sizes = [2, 3, 1]
    weights = [rng.standard_normal((y, x)) / np.sqrt(x) for x, y in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
    data = {"sizes": sizes, "weights": [w.tolist() for w in weights],
            "biases": [b.tolist() for b in biases], "cost": "QuadraticCost"}
    (tmp_path / "n2.json").write_text(json.dumps(data))
    net = nio.from_network2_json(tmp_path / "n2.json", dtype=np.float32)
    assert net.loss_name == "mse" and net.output == "sigmoid" and net.dtype == np.float32
    # Nielsen's feedforward: a = sigmoid(w @ a + b) on columns
    x = np.array([[0.3], [0.8]])
    a = x
    for w, b in zip(weights, biases):
        a = 1 / (1 + np.exp(-(w @ a + b)))
    np.testing.assert_allclose(net.predict(x.ravel()), a.ravel(), rtol=1e-6)


def test_network2_rejects_softmax(tmp_path):
    net = nnpy.Network([2, 2, 2], output="softmax")
    with pytest.raises(ValueError, match="sigmoid"):
        nio.to_network2_json(net, tmp_path / "x.json")


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(cost="LogCost"), "unknown cost"),
    (lambda d: d.update(cost="__import__('os')"), "unknown cost"),
    (lambda d: d.pop("weights"), "no weights"),
    (lambda d: d.update(sizes=[2, 3]), "need 1 weight"),
    (lambda d: d["weights"][0].pop(), "3 x 2 nested list"),
    (lambda d: d["biases"][0].__setitem__(0, [1.0, 2.0]), r"3 x 1 nested list"),
    (lambda d: d["weights"][0][0].__setitem__(0, "1"), "numbers only"),
    (lambda d: d["weights"][0][0].__setitem__(0, float("nan")), "NaN"),
])
def test_network2_bad_files(tmp_path, change, message):
    net, _ = trained((2, 3, 1))
    nio.to_network2_json(net, tmp_path / "ok.json")
    data = json.loads((tmp_path / "ok.json").read_text())
    change(data)
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message):
        nio.from_network2_json(tmp_path / "bad.json")


def test_network2_not_json(tmp_path):
    (tmp_path / "x.json").write_bytes(b"\xff\xfe garbage")
    with pytest.raises(ValueError, match="not a network2 JSON file|not valid JSON"):
        nio.from_network2_json(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("[1, 2, 3]")
    with pytest.raises(ValueError, match="JSON object"):
        nio.from_network2_json(tmp_path / "y.json")


# =============================================================================================
# Writers and readers: every writer is atomic and writes as open() would (mode, umask, symlinks,
# bytes paths); readers refuse what is not a regular file without blocking; malformed content is
# a ValueError naming the file and the field; `nnpy.io` is there after a plain `import nnpy`.
# =============================================================================================

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
