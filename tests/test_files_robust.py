"""Issue 6, item 8: a truncated, bit-flipped, wrongly shaped or pickle-bearing file makes
Network.load raise ValueError (or OSError), never crash, hang or run code.

The damaged files are built from a real saved network by editing its archive (a .npz: a zip of
.npy members), so the tests hold for any member layout; skipped while nnpy.io is missing."""
import io
import json
import os
import pickle
import time
import zipfile

import numpy as np
import pytest

from nnpy import Network

nnpy_io = pytest.importorskip("nnpy.io")

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
