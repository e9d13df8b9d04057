"""The post's API (docs/post-api.md), point by point, against the post's own numpy code and
nnpy.reference."""
import random
import textwrap
import warnings

import numpy as np
import pytest

import nnpy
from nnpy import reference

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
