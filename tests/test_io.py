"""Network files: save/load round trips, and every kind of damaged or foreign file is refused
with ValueError (never unpickled, never executed). Nielsen's network2 JSON both ways."""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import nnpy
from nnpy import io as nio


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
def test_round_trip(tmp_path, kwargs):
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
