"""The post's API (docs/post-api.md): its numbers, and its safety.

* point by point, against the post's own numpy code and nnpy.reference (at the end of the file);
* backPropogation never writes where it must not (read-only and self-overlapping arrays are
  refused by key, before any write, as numpy's `-=` refuses them), wrong containers and absurd
  sizes are clear errors, and an update that overflows warns as the post's numpy code does.
  Both paths are covered: the compiled glue (nnpy._post) and the Python fallback it hands
  irregular input to (here: a network deeper than the glue's 32 layers);
* a step may write into the arrays of the dicts it replaces when nobody but params can reach
  them: the tests keep, in every way a user can, what a step is about to replace, and check
  that what they kept never changes and that the step's values are nnpy.reference's."""
import copy
import gc
import random
import subprocess
import sys
import textwrap
import warnings
import weakref

import numpy as np
import pytest

import nnpy
from nnpy import _post, reference


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


# ---- re-used objects are never ones a user can see ------------------------------------------

PARTS = {"forwardPass": ["A_prev0", "Z_0", "A_0", "A_prev1", "Z_1", "A_1", "error"],
         "deltas": ["delta_1", "delta_0"], "d_theta": ["d_theta_1", "d_theta_0"]}
SAMPLES = [(np.array([0, 0]), np.array([0])), (np.array([0, 1]), np.array([1])),
           (np.array([1, 0]), np.array([1])), (np.array([1, 1]), np.array([0]))]


def step(params, i, api=nnpy):
    x, y = SAMPLES[i % 4]
    return api.backPropogation(api.forwardPass(x, y, params), 0.125)


class Twin:
    """params stepped by nnpy next to a copy stepped by nnpy.reference (the post's numpy)."""

    def __init__(self, layers=2):
        self.params = nnpy.init_net(2, layers, 1, rng=0)
        self.expected = copy.deepcopy(self.params)
        self.i = 0

    def step(self):
        step(self.params, self.i)
        step(self.expected, self.i, reference)
        self.i += 1
        for part in ("theta",) + tuple(PARTS):
            for key, value in self.expected[part].items():
                got = self.params[part][key]
                assert type(got) is np.ndarray and got.dtype == np.float64, (part, key)
                assert got.shape == value.shape and got.flags.writeable, (part, key)
                np.testing.assert_allclose(got, value, rtol=1e-12, atol=1e-300,
                                           err_msg=f"{part}[{key!r}]")


def test_the_posts_loop_reuses_what_nobody_holds():
    """The re-use is there (else the tests below would test nothing): in the post's loop the
    step after the first writes into the previous step's dicts and arrays."""
    twin = Twin()
    twin.step()
    ids = {part: (id(twin.params[part]), [id(twin.params[part][k]) for k in keys])
           for part, keys in PARTS.items()}
    for _ in range(5):
        twin.step()
        for part, keys in PARTS.items():
            assert list(twin.params[part]) == keys
            assert ids[part] == (id(twin.params[part]), [id(twin.params[part][k]) for k in keys])


def keep_dict(params, part, key):
    kept = params[part]
    return kept, {k: v.copy() for k, v in kept.items()}


KEEPERS = {
    # what a user keeps: (the object kept, the values it must keep)
    "the dict": keep_dict,
    "an array": lambda params, part, key: (params[part][key], params[part][key].copy()),
    "a view": lambda params, part, key: (params[part][key][:, 0], params[part][key][:, 0].copy()),
    "a transposed view": lambda params, part, key: (params[part][key].T, params[part][key].T.copy()),
    "a memoryview": lambda params, part, key: (memoryview(params[part][key]),
                                               params[part][key].copy()),
    "a list of the values": lambda params, part, key: (list(params[part].values()),
                                                       [v.copy() for v in params[part].values()]),
}


@pytest.mark.parametrize("how", list(KEEPERS))
@pytest.mark.parametrize("part,key", [(p, k) for p, keys in PARTS.items() for k in keys])
def test_what_a_user_keeps_never_changes(how, part, key):
    twin = Twin()
    twin.step()
    twin.step()
    kept, values = KEEPERS[how](twin.params, part, key)
    for _ in range(3):
        twin.step()
        if isinstance(kept, dict):
            assert twin.params[part] is not kept
            for k, v in values.items():
                np.testing.assert_array_equal(kept[k], v, err_msg=k)
        elif isinstance(kept, list):
            for got, v in zip(kept, values):
                np.testing.assert_array_equal(got, v)
        else:
            np.testing.assert_array_equal(np.asarray(kept), values)
            assert np.shares_memory(np.asarray(kept), twin.params[part][key]) is False


@pytest.mark.parametrize("part,key", [(p, k) for p, keys in PARTS.items() for k in keys])
def test_a_weakly_referenced_array_is_not_reused(part, key):
    twin = Twin()
    twin.step()
    twin.step()
    ref = weakref.ref(twin.params[part][key])
    twin.step()
    gc.collect()
    assert ref() is None  # replaced, not written into: the weak reference's object died


def test_every_step_kept_by_the_user_in_a_list():
    """The loop that keeps each step's dicts (as a user plotting the activations would)."""
    twin = Twin()
    kept = []
    for _ in range(8):
        twin.step()
        kept.append((twin.params["forwardPass"], twin.params["deltas"]["delta_0"],
                     {k: v.copy() for k, v in twin.params["forwardPass"].items()},
                     twin.params["deltas"]["delta_0"].copy()))
    assert len({id(forward) for forward, *_ in kept}) == len(kept)
    for forward, delta, forward_values, delta_values in kept:
        for k, v in forward_values.items():
            np.testing.assert_array_equal(forward[k], v)
        np.testing.assert_array_equal(delta, delta_values)


@pytest.mark.parametrize("change", [
    "read-only", "not aligned", "reshaped", "restrided", "extra key", "key order",
    "replaced array", "replaced key", "A_prev1 not A_0", "dict subclass"])
@pytest.mark.parametrize("part", list(PARTS))
def test_a_changed_dict_or_array_gives_a_new_one(change, part):
    """Whatever a user changed in place in a dict a step replaces (its arrays' flags, shape or
    strides, the dict's keys or their order) is not carried into the next step's objects."""
    twin = Twin()
    twin.step()
    twin.step()
    d = twin.params[part]
    first = next(iter(d))
    if change == "read-only":
        d[first].setflags(write=False)
    elif change == "not aligned":
        d[first].flags.aligned = False
    elif change == "reshaped":
        d[first].shape = d[first].shape[::-1]
    elif change == "restrided":
        with warnings.catch_warnings():  # deprecated in numpy 2.4, still possible
            warnings.simplefilter("ignore", DeprecationWarning)
            d[first].strides = (8, 0) if d[first].shape[1] == 1 else (0, 8)
    elif change == "extra key":
        d["note"] = "mine"
    elif change == "key order":
        d[first] = d.pop(first)
    elif change == "replaced array":
        d[first] = np.zeros_like(d[first])
    elif change == "replaced key":
        d[first.upper()] = d.pop(first)
    elif change == "A_prev1 not A_0":
        if part != "forwardPass":
            pytest.skip("forwardPass only")
        d["A_prev1"] = d["A_prev1"].copy()
    elif change == "dict subclass":
        twin.params[part] = type("D", (dict,), {})(d)
    del d  # the test's own reference would stop the re-use by itself
    twin.step()
    new = twin.params[part]
    assert type(new) is dict and list(new) == PARTS[part]
    for value in new.values():
        assert value.flags.writeable and value.flags.aligned and value.flags.c_contiguous
        assert value.flags.owndata and value.base is None
        assert value.strides == np.empty(value.shape).strides


def test_debug_prints_see_the_previous_steps_dicts_unchanged():
    """A debug print runs Python code (sys.stdout's write) in mid-step: what it can reach is the
    previous step's deltas and d_theta, unchanged, as with the post's numpy code."""
    import contextlib
    import io
    twin = Twin()
    twin.step()
    twin.step()
    before = {part: {k: v.copy() for k, v in twin.params[part].items()}
              for part in ("deltas", "d_theta")}
    seen = []

    class Peek(io.StringIO):
        def write(self, text):
            seen.append({part: {k: v.copy() for k, v in twin.params[part].items()}
                         for part in ("deltas", "d_theta")})
            return super().write(text)

    with contextlib.redirect_stdout(Peek()):
        nnpy.backPropogation(twin.params, 0.125, debug=True)
    assert seen
    for view in seen:
        for part, values in before.items():
            for k, v in values.items():
                np.testing.assert_array_equal(view[part][k], v, err_msg=k)


def test_a_replaced_bad_weight_is_refused_after_many_steps():
    """Nothing about a network is remembered between calls: a weight replaced after a run of
    steps is checked again."""
    twin = Twin()
    for _ in range(5):
        twin.step()
    params = twin.params
    params["theta"]["W_1"] = np.array(params["theta"]["W_1"])
    params["theta"]["W_1"].setflags(write=False)
    before = snapshot(params)
    with pytest.raises(ValueError, match=r"params\['theta'\]\['W_1'\] is read-only"):
        nnpy.backPropogation(params, 0.5)
    assert_unchanged(params, before)
    params["theta"]["W_1"] = np.lib.stride_tricks.as_strided(np.zeros(1), (1, 2), (8, 0),
                                                              writeable=True)
    with pytest.raises(ValueError, match=r"\['W_1'\] has elements that share"):
        nnpy.backPropogation(params, 0.5)
    params["theta"]["W_0"] = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"\['W_0'\] has shape \(3, 2\)"):
        nnpy.forwardPass(X0, Y0, params)


@pytest.mark.parametrize("layers", [1, 3, 32])
def test_reused_steps_match_the_posts_numpy(layers):
    twin = Twin(layers)
    for _ in range(30):
        twin.step()


# =============================================================================================
# The post's API (docs/post-api.md), point by point, against the post's own numpy code and
# nnpy.reference.
# =============================================================================================

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])  # the post's X is an int array
Y = np.atleast_2d([0, 1, 1, 0]).T


def post_init_net(inputSize, layers, outputSize):
    """The post's init_net, verbatim but for indentation."""
    import numpy.random as r
    input_size = inputSize
    output_size = outputSize
    params, metadata, theta = {}, {}, {}
    metadata["inputSize"] = input_size
    metadata["outputSize"] = output_size
    metadata["n_layers"] = layers
    params["metadata"] = metadata
    for idx in range(0, layers):
        if idx != layers - 1:
            theta["W_" + str(idx)] = r.rand(input_size, input_size)
            theta["B_" + str(idx)] = np.array([r.rand(input_size)]).T
        else:
            theta["W_" + str(idx)] = r.rand(outputSize, input_size)
            theta["B_" + str(idx)] = np.array([r.rand(outputSize)]).T
    params["theta"] = theta
    return params


def run_post_loop(api, steps, seed=0, draw=3):
    """The post's training loop through `api` (a module with the post's functions)."""
    np.random.seed(seed)
    random.seed(seed)
    var = api.init_net(2, 2, 1)
    epoch_error = []
    for _ in range(steps):
        item = random.randrange(0, draw)
        var = api.forwardPass(X[item], Y[item], var)
        var = api.backPropogation(var, 0.125, debug=False)
        epoch_error.append(0.5 * (var["forwardPass"]["error"]) ** 2)
    return var, epoch_error


def assert_dicts_close(a, b, rtol):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=rtol, atol=0, err_msg=key)
        assert np.shape(a[key]) == np.shape(b[key]), key


@pytest.mark.parametrize("shape", [(4, 3, 2), (1, 1, 1), (5, 1, 3), (3, 4, 1)])
def test_init_net_draws_the_posts_weights(shape):
    np.random.seed(7)
    expected = post_init_net(*shape)
    np.random.seed(7)
    got = nnpy.init_net(*shape)
    assert got["metadata"] == expected["metadata"] == {
        "inputSize": shape[0], "outputSize": shape[2], "n_layers": shape[1]}
    assert_dicts_close(got["theta"], expected["theta"], rtol=0)
    # the next draw of the global generator is where the post's would be too
    np.random.seed(7)
    post_init_net(*shape)
    after_post = np.random.rand()
    np.random.seed(7)
    nnpy.init_net(*shape)
    assert np.random.rand() == after_post


def test_init_net_optional_generator():
    a = nnpy.init_net(3, 2, 1, rng=np.random.default_rng(5))
    b = nnpy.init_net(3, 2, 1, rng=5)
    assert_dicts_close(a["theta"], b["theta"], rtol=0)
    assert all(0 <= v.min() and v.max() < 1 for v in a["theta"].values())


@pytest.mark.parametrize("n_in,layers,n_out", [(2, 2, 1), (3, 3, 2), (4, 1, 3)])
def test_one_step_matches_reference(n_in, layers, n_out):
    np.random.seed(1)
    params = nnpy.init_net(n_in, layers, n_out)
    np.random.seed(1)
    expected = reference.init_net(n_in, layers, n_out)
    x = np.random.rand(n_in)
    y = np.random.rand(n_out)
    params = nnpy.backPropogation(nnpy.forwardPass(x, y, params), 0.5)
    expected = reference.backPropogation(reference.forwardPass(x, y, expected), 0.5)
    for part in ("theta", "forwardPass", "deltas", "d_theta"):
        assert_dicts_close(params[part], expected[part], rtol=1e-12)
    assert params["metadata"] == expected["metadata"]
    assert params["metadata"]["learningRate"] == 0.5


def test_ten_thousand_post_steps_match_reference():
    got, errors = run_post_loop(nnpy, 10_000)
    expected, expected_errors = run_post_loop(reference, 10_000)
    for key in expected["theta"]:
        np.testing.assert_allclose(got["theta"][key], expected["theta"][key], rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.ravel(errors), np.ravel(expected_errors), rtol=0, atol=1e-9)


def test_post_script_runs_unchanged_and_learns_what_the_post_learns():
    # the post's script from `var = init_net(...)` on, verbatim but for indentation
    script = textwrap.dedent("""
        from nnpy import sigmoid, sigmoid_prime, cost, init_net, forwardPass, backPropogation
        import numpy as np
        from random import randrange
        X = np.array([
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
        ])
        y = np.atleast_2d([0, 1, 1, 0]).T
        var = init_net(2, 2, 1) #A network with desire number of layers is initialized
        epochs = 10000
        epoch_error = []
        for i in range(0,epochs):
            item = randrange(0,3)
            var = forwardPass(X[item],y[item],var)
            var = backPropogation(var,0.125, debug=False)
            c = 0.5*(var["forwardPass"]["error"])**2
            epoch_error.append(c)
    """)
    np.random.seed(0)
    random.seed(0)
    namespace = {}
    exec(compile(script, "post.py", "exec"), namespace)
    var = namespace["var"]
    outputs = [nnpy.forwardPass(x, t, var)["forwardPass"]["A_1"].item() for x, t in zip(X, Y)]
    # the three trained samples are learnt; [1, 1] -> 0 was never drawn, so it answers ~1
    assert outputs[0] < 0.1 and outputs[1] > 0.9 and outputs[2] > 0.9
    assert outputs[3] > 0.9
    assert namespace["epoch_error"][-1].item() < 0.01


def numeric_gradient(params, x, y, key, eps=1e-6):
    """Central differences of 0.5*sum(error**2) with respect to theta[key]."""
    theta = params["theta"][key]
    grad = np.zeros_like(theta)
    for index in np.ndindex(theta.shape):
        saved = theta[index]
        losses = []
        for step in (eps, -eps):
            theta[index] = saved + step
            error = reference.forwardPass(x, y, params)["forwardPass"]["error"]
            losses.append(0.5 * np.sum(error ** 2))
        theta[index] = saved
        grad[index] = (losses[0] - losses[1]) / (2 * eps)
    return grad


@pytest.mark.parametrize("n_in,layers,n_out", [(2, 2, 1), (3, 3, 2)])
def test_d_theta_without_update_is_the_true_gradient(n_in, layers, n_out):
    np.random.seed(3)
    params = nnpy.init_net(n_in, layers, n_out)
    x, y = np.random.rand(n_in), np.random.rand(n_out)
    before = {k: v.copy() for k, v in params["theta"].items()}
    params = nnpy.backPropogation(nnpy.forwardPass(x, y, params), 0.3, update=False)
    assert_dicts_close(params["theta"], before, rtol=0)  # update=False changes nothing
    for l in range(layers):
        expected = numeric_gradient(params, x, y, "W_%d" % l)
        np.testing.assert_allclose(params["d_theta"]["d_theta_%d" % l], expected,
                                   rtol=1e-6, atol=1e-9)
        expected_b = numeric_gradient(params, x, y, "B_%d" % l)
        np.testing.assert_allclose(params["deltas"]["delta_%d" % l], expected_b,
                                   rtol=1e-6, atol=1e-9)


def test_dict_keys_and_shapes():
    params = nnpy.init_net(3, 3, 2)
    params = nnpy.backPropogation(nnpy.forwardPass([1, 0, 1], [0, 1], params), 0.1)
    assert set(params) == {"metadata", "theta", "forwardPass", "deltas", "d_theta"}
    assert set(params["theta"]) == {"W_0", "B_0", "W_1", "B_1", "W_2", "B_2"}
    assert params["theta"]["W_0"].shape == (3, 3) and params["theta"]["W_2"].shape == (2, 3)
    assert params["theta"]["B_1"].shape == (3, 1) and params["theta"]["B_2"].shape == (2, 1)
    forward = params["forwardPass"]
    assert set(forward) == {"A_prev0", "Z_0", "A_0", "A_prev1", "Z_1", "A_1",
                            "A_prev2", "Z_2", "A_2", "error"}
    assert forward["A_prev0"].shape == (3, 1) and forward["A_2"].shape == (2, 1)
    assert forward["error"].shape == (2, 1)
    np.testing.assert_allclose(forward["error"], np.array([[0], [1]]) - forward["A_2"])
    assert set(params["deltas"]) == {"delta_0", "delta_1", "delta_2"}
    assert params["deltas"]["delta_2"].shape == (2, 1)
    assert set(params["d_theta"]) == {"d_theta_0", "d_theta_1", "d_theta_2"}
    assert params["d_theta"]["d_theta_2"].shape == (2, 3)
    for part in ("theta", "forwardPass", "deltas", "d_theta"):
        for value in params[part].values():
            assert type(value) is np.ndarray and value.dtype == np.float64


def test_debug_prints_only_when_asked(capsys):
    params = nnpy.forwardPass([0, 1], [1], nnpy.init_net(2, 2, 1))
    nnpy.backPropogation(params, 0.1, debug=False)
    assert capsys.readouterr().out == ""
    nnpy.backPropogation(params, 0.1, debug=True)
    out = capsys.readouterr().out
    reference.backPropogation(params, 0.1, debug=True)
    assert out and out.count("[") == capsys.readouterr().out.count("[")


@pytest.mark.parametrize("x,y", [
    ([0, 1], [1]), ((0, 1), 1), (np.array([0, 1]), np.array([1])),
    (np.array([[0], [1]]), np.array([[1]])), (np.array([[0, 1]]), 1.0),
    (np.array([False, True]), np.array([True])), (np.array([0, 1], np.float32), [1]),
])
def test_int_list_and_column_inputs(x, y):
    np.random.seed(0)
    got = nnpy.forwardPass(x, y, nnpy.init_net(2, 2, 1))
    np.random.seed(0)
    expected = reference.forwardPass(np.array([0.0, 1.0]), [1.0], reference.init_net(2, 2, 1))
    assert_dicts_close(got["forwardPass"], expected["forwardPass"], rtol=1e-12)


def test_sigmoid_and_cost_values():
    x = np.linspace(-40, 40, 1001).reshape(7, 11, 13)[:, ::2]
    with np.errstate(over="ignore"):
        expected = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(nnpy.sigmoid(x), expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(nnpy.sigmoid_prime(x), expected * (1 - expected), rtol=1e-12, atol=0)
    assert nnpy.sigmoid(0.0) == 0.5 and np.ndim(nnpy.sigmoid(3)) == 0
    assert nnpy.sigmoid_prime(0) == 0.25
    np.testing.assert_allclose(nnpy.sigmoid([[1, 2]]), [[expected_1 := 1 / (1 + np.exp(-1)),
                                                        1 / (1 + np.exp(-2))]])
    assert expected_1 > 0.73
    y_hat, y = np.array([[0.2], [0.9]]), np.array([[0.0], [1.0]])
    assert nnpy.cost(y_hat, y) == pytest.approx(np.mean([_ * _ for _ in (y_hat - y)]), rel=1e-15)
    assert nnpy.cost([1, 2, 3], 2) == pytest.approx(2 / 3)


def test_sigmoid_huge_inputs_do_not_warn():
    x = np.array([-1e300, -800.0, -50.0, 0.0, 50.0, 800.0, 1e300, -np.inf, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = nnpy.sigmoid(x)
        p = nnpy.sigmoid_prime(x)
    np.testing.assert_array_equal(s[[0, 1, 7]], 0.0)
    np.testing.assert_array_equal(s[[5, 6, 8]], 1.0)
    assert s[2] == pytest.approx(np.exp(-50.0), rel=1e-12)
    assert np.all(p >= 0) and np.all(np.isfinite(p))
    assert np.isnan(nnpy.sigmoid(np.nan))


def test_arrays_in_the_dict_are_ordinary_and_replaceable():
    import pickle
    params = nnpy.init_net(2, 2, 1)
    params["theta"]["W_0"] = np.asfortranarray(np.full((2, 2), 0.5))  # a user's own array
    params = nnpy.backPropogation(nnpy.forwardPass([1, 0], [1], params), 0.1)
    assert not np.all(params["theta"]["W_0"] == 0.5)  # updated in place, Fortran order or not
    copy = pickle.loads(pickle.dumps(params))
    assert_dicts_close(copy["theta"], params["theta"], rtol=0)


@pytest.mark.parametrize("change", ["reversed key order", "an extra key", "keys not interned"])
def test_theta_in_any_order_or_with_extra_keys(change):
    """The compiled glue reads theta in init_net's key order without lookups; any other theta
    (another order, more keys, keys that are equal strings but other objects) is looked up by
    key, with the same numbers."""
    np.random.seed(0)
    params = nnpy.init_net(2, 3, 1)
    np.random.seed(0)
    expected = reference.init_net(2, 3, 1)
    theta = params["theta"]
    if change == "reversed key order":
        params["theta"] = dict(reversed(list(theta.items())))
    elif change == "an extra key":
        theta["note"] = "a user's"
    else:
        params["theta"] = {"".join(list(k)): v for k, v in theta.items()}
        assert all(a is not b for a, b in zip(params["theta"], theta))
    for i in range(12):
        for api, p in ((nnpy, params), (reference, expected)):
            api.backPropogation(api.forwardPass(X[i % 4], Y[i % 4], p), 0.125)
        assert_dicts_close({k: v for k, v in params["theta"].items() if k != "note"},
                           expected["theta"], rtol=1e-12)
        assert_dicts_close(params["forwardPass"], expected["forwardPass"], rtol=1e-12)
