"""Issue 9, the post's API: backPropogation never writes where it must not (read-only and
self-overlapping arrays are refused by key, before any write, as numpy's `-=` refuses them),
wrong containers and absurd sizes are clear errors, and an update that overflows warns as the
post's numpy code does. Both paths are covered: the compiled glue (nnpy._post) and the Python
fallback it hands irregular input to (here: a network deeper than the glue's 32 layers)."""
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import nnpy
from nnpy import _post

X0, Y0 = np.array([1.0, 0.0]), np.array([1.0])


def stepped(layers=2, seed=0):
    """A post network after one forwardPass, ready for backPropogation."""
    params = nnpy.init_net(2, layers, 1, rng=seed)
    return nnpy.forwardPass(X0, Y0, params)


def snapshot(params):
    return {k: np.array(v) for k, v in params["theta"].items()}


def assert_unchanged(params, before):
    for key, value in before.items():
        np.testing.assert_array_equal(params["theta"][key], value, err_msg=key)


def stride0_writeable(rows, cols, value=0.5):
    """A writeable view whose rows are all the same memory (np.broadcast_to's are read-only)."""
    base = np.full(cols, value)
    return np.lib.stride_tricks.as_strided(base, (rows, cols), (0, 8), writeable=True)


LAYERS = [2, 40]  # the compiled glue, and the Python path (deeper than its 32 layers)


@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("key", ["W_0", "B_0", "W_1", "B_1"])
def test_read_only_weights_are_refused_by_key_before_any_write(layers, key):
    params = stepped(layers)
    params["theta"][key].setflags(write=False)
    before = snapshot(params)
    with pytest.raises(ValueError, match=rf"params\['theta'\]\['{key}'\] is read-only"):
        nnpy.backPropogation(params, 0.5)
    assert_unchanged(params, before)  # no layer updated, not even those checked earlier


def test_the_posts_numpy_code_refuses_read_only_too():
    """What the message stands in for: numpy's own `-=` into a read-only array."""
    w = np.zeros((2, 2))
    w.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        w -= 0.5 * np.ones((2, 2))


@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("key,make", [
    ("W_0", lambda: stride0_writeable(2, 2)),
    ("B_0", lambda: stride0_writeable(2, 1)),
    ("W_0", lambda: np.lib.stride_tricks.as_strided(np.arange(3.0), (2, 2), (8, 8),
                                                     writeable=True)),  # a sliding window
])
def test_self_overlapping_weights_are_refused_by_key(layers, key, make):
    params = nnpy.init_net(2, layers, 1, rng=0)
    params["theta"][key] = make()
    nnpy.forwardPass(X0, Y0, params)
    before = snapshot(params)
    with pytest.raises(ValueError, match=rf"params\['theta'\]\['{key}'\] has elements that share"):
        nnpy.backPropogation(params, 0.5)
    assert_unchanged(params, before)


def test_broadcast_view_is_refused_not_written_through():
    params = nnpy.init_net(2, 2, 1, rng=0)
    params["theta"]["W_0"] = np.broadcast_to(np.array([0.1, 0.2]), (2, 2))
    nnpy.forwardPass(X0, Y0, params)
    with pytest.raises(ValueError, match=r"\['W_0'\]"):
        nnpy.backPropogation(params, 0.5)
    np.testing.assert_array_equal(params["theta"]["W_0"], [[0.1, 0.2], [0.1, 0.2]])


def test_read_only_memory_map_is_refused_not_a_crash(tmp_path):
    """np.load(mmap_mode="r") maps the file read-only: a write through it is SIGSEGV, so this
    runs in a child process (a crash fails the test instead of killing the run)."""
    script = textwrap.dedent(f"""
        import numpy as np, nnpy
        params = nnpy.init_net(2, 2, 1, rng=0)
        np.save({str(tmp_path / 'w0.npy')!r}, params["theta"]["W_0"])
        params["theta"]["W_0"] = np.load({str(tmp_path / 'w0.npy')!r}, mmap_mode="r")
        nnpy.forwardPass(np.array([1.0, 0.0]), np.array([1.0]), params)
        try:
            nnpy.backPropogation(params, 0.5)
        except ValueError as err:
            print("refused:", err)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "refused: params['theta']['W_0'] is read-only" in run.stdout


@pytest.mark.parametrize("layers", LAYERS)
def test_read_only_is_fine_without_update(layers):
    params = stepped(layers)
    for value in params["theta"].values():
        value.setflags(write=False)
    before = snapshot(params)
    nnpy.backPropogation(params, 0.5, update=False)
    assert_unchanged(params, before)
    assert "d_theta_0" in params["d_theta"]


def test_the_overlap_test_is_exact(rng):
    """_post.overlaps_itself against counting distinct element addresses."""
    base = np.zeros(64)
    for _ in range(400):
        rows, cols = rng.integers(1, 6, size=2)
        rs, cs = rng.integers(-4, 5, size=2)
        start = 32
        view = np.lib.stride_tricks.as_strided(base[start:], (rows, cols), (8 * rs, 8 * cs))
        offsets = {i * rs + j * cs for i in range(rows) for j in range(cols)}
        assert _post.overlaps_itself(view) == (len(offsets) < rows * cols), (rows, cols, rs, cs)


@pytest.mark.parametrize("fn", ["forwardPass", "backPropogation"])
@pytest.mark.parametrize("field", ["metadata", "theta"])
@pytest.mark.parametrize("bad", [None, [], "text", 3])
def test_wrong_container_names_the_key(fn, field, bad):
    params = stepped()
    params[field] = bad
    call = (lambda: nnpy.forwardPass(X0, Y0, params)) if fn == "forwardPass" else \
        (lambda: nnpy.backPropogation(params, 0.5))
    with pytest.raises(TypeError, match=rf"params\['{field}'\] must be a dict"):
        call()


@pytest.mark.parametrize("fn", ["forwardPass", "backPropogation", "from_params"])
@pytest.mark.parametrize("field", ["inputSize", "n_layers", "outputSize"])
@pytest.mark.parametrize("size", [2 ** 63, 2 ** 64 + 1, 10 ** 30])
def test_huge_sizes_are_value_errors(fn, field, size):
    params = stepped()
    params["metadata"][field] = size
    call = {"forwardPass": lambda: nnpy.forwardPass(X0, Y0, params),
            "backPropogation": lambda: nnpy.backPropogation(params, 0.5),
            "from_params": lambda: nnpy.Network.from_params(params)}[fn]
    with pytest.raises(ValueError, match=r"params\['theta'\]"):
        call()


@pytest.mark.parametrize("layers", LAYERS)
def test_an_overflowing_update_warns_as_numpy_does_and_happens(layers):
    params = stepped(layers)
    with pytest.warns(RuntimeWarning, match=r"overflow encountered in backPropogation.*"
                                            r"params\['theta'\]\['[WB]_\d+'\] infinite"):
        nnpy.backPropogation(params, 1e308)
    assert not all(np.isfinite(v).all() for v in params["theta"].values())


def test_the_posts_numpy_update_warns_there_too():
    """The post's numpy code on the same step (nnpy.reference is it), for comparison."""
    from nnpy import reference
    np.random.seed(0)
    params = reference.init_net(2, 2, 1)
    reference.forwardPass(X0, Y0, params)
    with pytest.warns(RuntimeWarning, match="overflow"):
        reference.backPropogation(params, 1e308)


@pytest.mark.parametrize("layers", LAYERS)
def test_overflow_follows_numpy_errstate(layers):
    params = stepped(layers)
    with np.errstate(over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        nnpy.backPropogation(params, 1e308)
    params = stepped(layers)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError, match="overflow"):
        nnpy.backPropogation(params, 1e308)


@pytest.mark.parametrize("layers", LAYERS)
def test_ordinary_steps_do_not_warn(layers):
    params = stepped(layers)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(20):
            nnpy.forwardPass(X0, Y0, params)
            nnpy.backPropogation(params, 0.5)
