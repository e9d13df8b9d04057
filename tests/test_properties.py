"""Property-based tests. Random shapes (zero-sized included), dtypes, memory
layouts (C, Fortran, transposed, strided, reversed, read-only) and values (NaN, infinities,
huge and tiny numbers) go into every public function; only the documented exceptions come out
(ValueError and TypeError for bad input, TrainingDiverged from fit), and an accepted input gives
the same result as its C-contiguous copy in the working dtype. The test process runs with
faulthandler (see conftest.py), so a crash in the core is reported as one.

Example counts are set by the hypothesis profile in conftest.py (40 per test by default;
HYPOTHESIS_PROFILE=thorough for many more).
"""
import io
import warnings
import zipfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, given, note, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import nnpy  # noqa: E402
from nnpy import Network, TrainingDiverged, reference  # noqa: E402

DOCUMENTED = (ValueError, TypeError)

REAL_DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.int8, np.uint8,
               np.uint64, np.bool_, np.dtype(">f8"), np.dtype(">i4")]
OTHER_DTYPES = [np.complex128, np.dtype("U3"), np.dtype("datetime64[s]")]
POST_DTYPES = REAL_DTYPES + OTHER_DTYPES
LAYOUTS = ["C", "F", "T", "strided", "reversed", "readonly"]


def _view(base, layout):
    """`base`'s values and shape in another memory layout."""
    if layout == "F":
        return np.asfortranarray(base)
    if layout == "T":
        return np.ascontiguousarray(base.T).T
    if layout == "strided" and base.ndim:
        return np.repeat(base, 2, axis=-1)[..., ::2]
    if layout == "reversed" and base.ndim:
        return np.ascontiguousarray(base[::-1])[::-1]
    if layout == "readonly":
        out = base.copy()
        out.setflags(write=False)
        return out
    return base


@st.composite
def any_array(draw, shape=None, dtypes=None, max_dims=3, finite=False):
    """A numpy array of a random real (mostly) dtype, shape and layout; or a nested list."""
    dtype = np.dtype(draw(st.sampled_from(dtypes or REAL_DTYPES + OTHER_DTYPES)))
    if shape is None:
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=5))
    kwargs = {}
    if dtype.kind == "f":
        kwargs = dict(allow_nan=not finite, allow_infinity=not finite)
    base = draw(hnp.arrays(dtype, shape, elements=hnp.from_dtype(dtype, **kwargs)
                           if dtype.kind in "fc" else None))
    layout = draw(st.sampled_from(LAYOUTS + ["list"]))
    if layout == "list" and dtype.kind in "biuf":
        return base.tolist()
    return _view(base, layout if layout != "list" else "C")


def c_copy(value, dtype):
    """The C-contiguous copy an accepted input must behave like (in the working dtype)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array(value, dtype=dtype, order="C", copy=True)


def _same(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


# ---------------------------------------------------------------------------------------------
# The post's API
# ---------------------------------------------------------------------------------------------

@given(x=any_array(max_dims=4), fn=st.sampled_from([nnpy.sigmoid, nnpy.sigmoid_prime]))
def test_elementwise(x, fn):
    try:
        out = fn(x)
    except DOCUMENTED:
        return
    expected = fn(c_copy(x, np.float64))
    assert np.shape(out) == np.shape(x)
    assert _same(out, expected)
    finite = np.isfinite(c_copy(x, np.float64))
    assert np.all((np.asarray(out)[finite] >= 0) & (np.asarray(out)[finite] <= 1))


@given(a=any_array(), b=any_array())
def test_cost(a, b):
    try:
        value = nnpy.cost(a, b)
    except DOCUMENTED:
        return
    assert _same(value, nnpy.cost(c_copy(a, np.float64), c_copy(b, np.float64)))
    assert np.isnan(value) or value >= 0


SIZE_VALUES = st.one_of(st.integers(-2, 5), st.floats(-2, 5), st.none(), st.text(max_size=2),
                        st.booleans(), st.just(np.int64(3)))


@given(n_in=SIZE_VALUES, layers=SIZE_VALUES, n_out=SIZE_VALUES)
def test_init_net(n_in, layers, n_out):
    try:
        params = nnpy.init_net(n_in, layers, n_out, rng=0)
    except DOCUMENTED:
        return
    theta = params["theta"]
    assert len(theta) == 2 * layers
    assert theta["W_%d" % (layers - 1)].shape == (n_out, n_in)


@given(n_in=st.integers(1, 4), layers=st.integers(1, 3), n_out=st.integers(1, 3),
       x=any_array(max_dims=2, dtypes=POST_DTYPES), y=any_array(max_dims=2, dtypes=POST_DTYPES),
       lr=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3),
                    st.none()),
       update=st.booleans())
def test_forward_pass_and_back_propagation(n_in, layers, n_out, x, y, lr, update):
    params = nnpy.init_net(n_in, layers, n_out, rng=1)
    before = {k: v.copy() for k, v in params["theta"].items()}
    try:
        nnpy.forwardPass(x, y, params)
    except DOCUMENTED:
        assert "forwardPass" not in params
        assert all(np.array_equal(params["theta"][k], v) for k, v in before.items())
        return
    # accepted: the same as the numpy reference on float64 columns
    ref = reference.forwardPass(c_copy(x, np.float64).reshape(-1, 1),
                                c_copy(y, np.float64).reshape(-1, 1),
                                {"metadata": dict(params["metadata"]),
                                 "theta": {k: v.copy() for k, v in before.items()}})
    for key, value in ref["forwardPass"].items():
        # error = y - output: an output within rounding of numpy's, taken from a y of about
        # its size, agrees to 1e-12 of |y| (not of a difference that cancels to 1e-4)
        scale = float(np.max(np.abs(c_copy(y, np.float64)))) if key == "error" else 0.0
        np.testing.assert_allclose(params["forwardPass"][key], value, rtol=1e-12,
                                   atol=1e-12 * scale + 1e-300)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the post prints nothing; huge lr may overflow
            nnpy.backPropogation(params, lr, update=update)
    except DOCUMENTED:
        assert all(np.array_equal(params["theta"][k], v) for k, v in before.items())
        return
    if not update:
        assert all(np.array_equal(params["theta"][k], v) for k, v in before.items())


# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------

@st.composite
def networks(draw):
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    output = draw(st.sampled_from(["sigmoid", "softmax"]))
    if output == "softmax":
        sizes[-1] = max(sizes[-1], 2)  # a softmax over one unit is refused
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    init = draw(st.sampled_from(["uniform01", "normal", "scaled_normal", "xavier"]))
    return Network(sizes, output=output, dtype=dtype, init=init, seed=draw(st.integers(0, 9)))


@st.composite
def data_for(draw, net, rows=None):
    """X and Y for `net`: sometimes right, sometimes of any shape, dtype and layout."""
    n = draw(st.integers(0, 6)) if rows is None else rows
    good = draw(st.booleans())
    if good:
        X = draw(any_array(shape=(n, net.sizes[0]), dtypes=REAL_DTYPES,
                           finite=draw(st.booleans())))
        if net.output == "softmax" and draw(st.booleans()):
            # targets cross-entropy takes (arbitrary ones are mostly refused): one-hot rows
            Y = np.eye(net.sizes[-1])[draw(st.lists(st.integers(0, net.sizes[-1] - 1),
                                                    min_size=n, max_size=n))]
        else:
            Y = draw(any_array(shape=(n, net.sizes[-1]), dtypes=REAL_DTYPES,
                               finite=draw(st.booleans())))
    else:
        X, Y = draw(any_array()), draw(any_array())
    return X, Y


@given(data=st.data())
def test_constructor(data):
    sizes = data.draw(st.one_of(
        st.lists(st.one_of(st.integers(-1, 6), st.floats(0, 6), st.none(), st.booleans()),
                 max_size=4),
        st.integers(), st.text(max_size=3), any_array(max_dims=2)))
    kwargs = data.draw(st.fixed_dictionaries({}, optional={
        "output": st.sampled_from(["sigmoid", "softmax", "relu", None, 3]),
        "loss": st.sampled_from(["mse", "cross_entropy", "hinge", None, 0]),
        "init": st.sampled_from(["uniform01", "normal", "scaled_normal", "xavier", "he", None]),
        "dtype": st.sampled_from([np.float32, np.float64, "float32", "f8", np.int32, "float16",
                                  "blah", complex, None, object]),
        "seed": st.one_of(st.none(), st.integers(-2, 2 ** 70), st.floats(), st.text(max_size=1)),
    }))
    # no giant networks: their honest outcome is MemoryError (or the OOM killer)
    widths = [v for v in np.ravel(np.asarray(sizes, dtype=object)) if isinstance(v, (int, np.integer))]
    assume(all(abs(int(v)) <= 10_000 for v in widths))
    try:
        net = Network(sizes, **kwargs)
    except DOCUMENTED:
        return
    assert net.dtype in (np.float32, np.float64)
    assert len(net.sizes) >= 2 and min(net.sizes) >= 1
    assert np.all(np.isfinite(net._flat))


@given(net=networks(), data=st.data())
def test_predict(net, data):
    X = data.draw(st.one_of(any_array(), any_array(shape=(data.draw(st.integers(0, 5)),
                                                          net.sizes[0]))))
    before = net._flat.copy()
    try:
        out = net.predict(X)
    except DOCUMENTED:
        assert np.array_equal(net._flat, before)
        return
    expected = net.predict(c_copy(X, net.dtype))
    assert out.dtype == net.dtype and _same(out, expected)
    assert np.all(np.isfinite(out)) and np.all((out >= 0) & (out <= 1))
    assert out.shape[-1] == net.sizes[-1]


@given(net=networks(), data=st.data(),
       method=st.sampled_from(["loss", "gradients", "accuracy"]))
def test_loss_gradients_accuracy(net, data, method):
    X, Y = data.draw(data_for(net))
    before = net._flat.copy()
    call = getattr(net, method)
    try:
        result = call(X, Y)
    except DOCUMENTED:
        assert np.array_equal(net._flat, before)
        return
    expected = call(c_copy(X, net.dtype), c_copy(Y, net.dtype))
    if method == "gradients":
        # a gradient sums products of an output delta (about |Y|) and an input (about |X|):
        # below the square root of the dtype's largest value both stay finite; beyond it the
        # gradient or the sums it is made of (softmax cross-entropy sums Y) can overflow
        bound = np.sqrt(np.finfo(net.dtype).max) / 1e3
        moderate = all(np.all(np.abs(c_copy(v, np.float64)) <= bound) for v in (X, Y))
        for (a, b), (c, d) in zip(result, expected):
            assert _same(a, c) and _same(b, d)
            assert not moderate or (np.all(np.isfinite(a)) and np.all(np.isfinite(b)))
    else:
        assert _same(result, expected)
    assert np.array_equal(net._flat, before)


HYPER = st.fixed_dictionaries(
    {"epochs": st.one_of(st.integers(-1, 3), st.floats(-1, 3), st.none()),
     "lr": st.one_of(st.floats(-1, 1e6), st.sampled_from([np.nan, np.inf, 1e300, 0.0]),
                     st.floats(1e-3, 10.0), st.integers(-1, 3), st.none())},
    optional={"batch_size": st.one_of(st.integers(-1, 8), st.floats(0, 4)),
              "momentum": st.floats(-0.5, 1.5),
              "l2": st.floats(-1, 2),
              "shuffle": st.sampled_from([True, False, 1, None]),
              "loss": st.sampled_from(["mse", "cross_entropy", "hinge", None])})


@given(net=networks(), data=st.data(), hyper=HYPER)
def test_fit(net, data, hyper):
    X, Y = data.draw(data_for(net))
    note(f"X={X!r} Y={Y!r}")
    twin = net.copy()
    before = net._flat.copy()
    try:
        history = net.fit(X, Y, **hyper)
    except DOCUMENTED:
        assert np.array_equal(net._flat, before)
        return
    except TrainingDiverged:
        assert np.all(np.isfinite(net._flat))
        return
    assert np.all(np.isfinite(net._flat))
    assert history.epochs == hyper["epochs"]
    twin_history = twin.fit(c_copy(X, net.dtype), c_copy(Y, net.dtype), **hyper)
    assert np.array_equal(net._flat, twin._flat)
    assert _same(history.loss, twin_history.loss)


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved_bytes():
    pytest.importorskip("nnpy.io")
    buf = io.BytesIO()
    net = Network([3, 4, 2], seed=0)
    from nnpy.io import save_network  # takes a file object too
    save_network(net, buf)
    return net, buf.getvalue()


@given(data=st.data())
def test_load_random_damage(saved_bytes, tmp_path_factory, data):
    net, blob = saved_bytes
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(blob) - 1), st.integers(0, 255)),
                               max_size=4))
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(blob))))
    damaged = bytearray(blob)
    for pos, value in edits:
        damaged[pos] = value
    if cut is not None:
        damaged = damaged[:cut]
    path = tmp_path_factory.mktemp("load") / "net.npz"
    path.write_bytes(bytes(damaged))
    try:
        back = Network.load(path)
    except (ValueError, OSError):
        return
    assert back.sizes == net.sizes and np.all(np.isfinite(back._flat))


@given(blob=st.binary(max_size=300))
def test_load_random_bytes(tmp_path_factory, blob):
    pytest.importorskip("nnpy.io")
    path = tmp_path_factory.mktemp("load") / "net.npz"
    path.write_bytes(blob)
    with pytest.raises((ValueError, OSError)):
        Network.load(path)


# (no NUL in names: zipfile cuts a member name at NUL and then fails writing it)
@given(names=st.lists(st.text(min_size=1, max_size=8).filter(lambda s: "\x00" not in s),
                      max_size=4),
       arrays=st.lists(any_array(dtypes=REAL_DTYPES), max_size=4))
def test_load_random_archives(tmp_path_factory, names, arrays):
    pytest.importorskip("nnpy.io")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names: wanted here
        for name, array in zip(names, arrays):
            member = io.BytesIO()
            np.save(member, np.asarray(array), allow_pickle=False)
            zf.writestr(name + ".npy", member.getvalue())
    path = tmp_path_factory.mktemp("load") / "net.npz"
    path.write_bytes(buf.getvalue())
    with pytest.raises((ValueError, OSError)):
        Network.load(path)
