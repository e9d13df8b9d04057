"""sample_weight at any scale: a weighted mean does not change when every weight is scaled, so
loss, gradients, objective, fit (every optimiser, batch and per-sample path), lbfgs and the
estimators give the results of the weights as given whatever their scale; what has no weighted
mean (negative, NaN, infinite, all zero) is a ValueError naming sample_weight; a scalar is one
weight for every row, as scikit-learn's."""
import warnings

import numpy as np
import pytest

from nnpy import Network, reference

FLOAT_MAX = float(np.finfo(np.float64).max)
TINY = float(np.finfo(np.float64).smallest_subnormal)  # 5e-324

W = np.array([1.0, 2.0, 3.0, 4.0, 1.0, 2.0])


def _scales(w):
    """Factors that take w to the ends of the float64 range: the smallest weight to the
    smallest subnormal, the largest to near the largest float, and plain large and small."""
    return [1e-300, TINY / w.min(), 1e300, FLOAT_MAX / w.max() / 2]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3))
    Y = rng.uniform(size=(6, 2))
    return X, Y


def _net(dtype=np.float64, sizes=(3, 5, 2)):
    return Network(list(sizes), activation="tanh", seed=1, dtype=dtype)


@pytest.mark.parametrize("c", _scales(W))
def test_loss_and_gradients_do_not_depend_on_the_weights_scale(data, c):
    X, Y = data
    net = _net()
    cw = c * W
    assert np.all(np.isfinite(cw)) and cw.min() > 0
    expected = net.loss(X, Y, sample_weight=W)
    assert expected == pytest.approx(reference.loss(net.weights, net.biases, X, Y,
                                                    activation="tanh", sample_weight=W))
    assert net.loss(X, Y, sample_weight=cw) == pytest.approx(expected, rel=1e-14)
    for (dw, db), (ew, eb) in zip(net.gradients(X, Y, sample_weight=cw),
                                  net.gradients(X, Y, sample_weight=W)):
        np.testing.assert_allclose(dw, ew, rtol=1e-13, atol=1e-17)
        np.testing.assert_allclose(db, eb, rtol=1e-13, atol=1e-17)


def test_huge_and_subnormal_sample_weights_give_the_unweighted_loss_and_gradients():
    """Equal weights of 1e308 (whose sum overflows) or 5e-324 (subnormal) give the unweighted
    loss and gradients, not loss 0.0 with zero or NaN gradients."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    Y = np.array([[0], [1], [1], [0]], float)
    net = Network([2, 4, 1], seed=0)
    plain = net.loss(X, Y)
    for w in (1e308, 5e-324):
        assert net.loss(X, Y, sample_weight=[w] * 4) == pytest.approx(plain, rel=1e-15)
        for (dw, db), (ew, eb) in zip(net.gradients(X, Y, sample_weight=[w] * 4),
                                      net.gradients(X, Y)):
            np.testing.assert_allclose(dw, ew, rtol=1e-14)
            np.testing.assert_allclose(db, eb, rtol=1e-14)


@pytest.mark.parametrize("c", _scales(W))
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_objective_keeps_its_definition_at_any_scale(data, c, alpha):
    """(sum w_i l_i + 0.5 alpha sum(W**2)) / sum w_i: weights c * w with alpha c * a are
    weights w with alpha a (the penalty's share follows the weights' sum, as scikit-learn's)."""
    X, Y = data
    net = _net()
    flat = net.get_flat_params()
    alpha_c = alpha * c
    alpha = alpha_c / c  # (not alpha where alpha * c rounds in the subnormals)
    value, grad = net.objective(X, Y, sample_weight=c * W, alpha=alpha_c)(flat)
    expected, egrad = net.objective(X, Y, sample_weight=W, alpha=alpha)(flat)
    assert np.isfinite(value) and value == pytest.approx(expected, rel=1e-13)
    np.testing.assert_allclose(grad, egrad, rtol=1e-12, atol=1e-17)
    if alpha == 0:
        plain, pgrad = net.objective(X, Y, sample_weight=W)(flat)
        assert value == pytest.approx(plain, rel=1e-14)
        np.testing.assert_allclose(grad, pgrad, rtol=1e-13, atol=1e-17)
    else:  # the reference's definition, at weights near the range's ends
        assert value == pytest.approx(reference.loss(
            net.weights, net.biases, X, Y, activation="tanh", sample_weight=W,
            alpha=alpha), rel=1e-12)


def test_objective_refuses_a_penalty_beyond_the_float_range(data):
    X, Y = data
    with pytest.raises(ValueError, match="alpha.*sample_weight"):
        _net().objective(X, Y, sample_weight=TINY * W, alpha=1.0)


FITS = [
    dict(optimizer="sgd", batch_size=1),                       # per-sample
    dict(optimizer="sgd", batch_size=4, momentum=0.9),         # batches, last one short
    dict(optimizer="sgd", batch_size=6, momentum=0.9, nesterov=True),
    dict(optimizer="adam", batch_size=2),
    dict(optimizer="adam", batch_size=1, alpha=0.01),
    dict(optimizer="sgd", batch_size=3, l2=0.01, alpha=0.02),
]


# (3, 4, 2): per-sample SGD's loop compiled for small widths; (3, 5, 2): the general one
@pytest.mark.parametrize("sizes", [(3, 5, 2), (3, 4, 2)], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("settings", FITS, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
@pytest.mark.parametrize("c", _scales(W))
def test_fit_does_not_depend_on_the_weights_scale(data, settings, c, dtype, sizes):
    """Every optimiser, batch size and the per-sample path: weights c * w train as w does
    (alpha by c too, its definition), in float32 too (weights beyond float32's range
    are fine: only their ratios reach the core)."""
    X, Y = data
    a, b = _net(dtype, sizes), _net(dtype, sizes)
    alpha_c = settings.get("alpha", 0.0) * c
    alpha = alpha_c / c  # (rounded where alpha * c is subnormal)
    common = dict(epochs=3, lr=0.1, shuffle=True, **{k: v for k, v in settings.items()
                                                     if k != "alpha"})
    ha = a.fit(X, Y, sample_weight=c * W, alpha=alpha_c, **common)
    hb = b.fit(X, Y, sample_weight=W, alpha=alpha, **common)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=rtol)
    np.testing.assert_allclose(a.get_flat_params(), b.get_flat_params(), rtol=rtol,
                               atol=rtol * 1e-3)
    start = _net(dtype, sizes).get_flat_params()
    assert not np.allclose(a.get_flat_params(), start)  # it trained


def test_fit_with_huge_weights_makes_progress():
    """[1e308] * 4 silently made no progress (zero gradients)."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    Y = np.array([[0], [1], [1], [0]], float)
    a, b = Network([2, 4, 1], seed=0), Network([2, 4, 1], seed=0)
    ha = a.fit(X, Y, epochs=50, lr=2.0, batch_size=4, sample_weight=[1e308] * 4)
    hb = b.fit(X, Y, epochs=50, lr=2.0, batch_size=4)
    assert ha.loss[-1] < ha.loss[0]
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-12)
    np.testing.assert_allclose(a.get_flat_params(), b.get_flat_params(), rtol=1e-12)


@pytest.mark.parametrize("bad, what", [
    ([1.0, -1.0, 1.0, 1.0, 1.0, 1.0], ">= 0"),
    ([1.0, np.nan, 1.0, 1.0, 1.0, 1.0], "NaN"),
    ([1.0, np.inf, 1.0, 1.0, 1.0, 1.0], "infinity"),
    ([0.0] * 6, "all zero"),
    (0.0, "all zero"),
    (-2.0, ">= 0"),
    ([1e300, 1e-300, 1.0, 1.0, 1.0, 1.0], "counts as 0"),
    ([[1.0] * 6], "1-D"),
    ([1.0] * 5, "6 values"),
])
def test_weights_without_a_weighted_mean_are_refused(data, bad, what):
    X, Y = data
    net = _net()
    before = net.get_flat_params()
    for call in (lambda: net.loss(X, Y, sample_weight=bad),
                 lambda: net.gradients(X, Y, sample_weight=bad),
                 lambda: net.objective(X, Y, sample_weight=bad),
                 lambda: net.fit(X, Y, epochs=1, lr=0.1, sample_weight=bad)):
        with pytest.raises(ValueError, match="sample_weight") as err:
            call()
        assert what in str(err.value)
    np.testing.assert_array_equal(net.get_flat_params(), before)


def test_a_ratio_float32_cannot_hold_is_refused_in_float32_only(data):
    """1e-50 beside 1 is a positive weight in float64 and 0 in float32."""
    X, Y = data
    w = [1.0, 1e-50, 1.0, 1.0, 1.0, 1.0]
    assert np.isfinite(_net().loss(X, Y, sample_weight=w))
    with pytest.raises(ValueError, match=r"sample_weight\[1\].*float32"):
        _net(np.float32).loss(X, Y, sample_weight=w)


@pytest.mark.parametrize("scalar", [2.0, 3, np.float32(0.5), np.array(7.0), 1e308])
def test_a_scalar_weight_is_every_rows(data, scalar):
    """scikit-learn's convention (its _check_sample_weight): one number weights every row."""
    X, Y = data
    net = _net()
    assert net.loss(X, Y, sample_weight=scalar) == pytest.approx(net.loss(X, Y), rel=1e-15)
    flat = net.get_flat_params()
    value, grad = net.objective(X, Y, sample_weight=scalar, alpha=0.5)(flat)
    expected, egrad = net.objective(X, Y, sample_weight=np.full(6, float(scalar)),
                                    alpha=0.5)(flat)
    assert value == expected
    np.testing.assert_array_equal(grad, egrad)
    a, b = net.copy(), net.copy()
    a.fit(X, Y, epochs=2, lr=0.1, batch_size=2, sample_weight=scalar, shuffle=False)
    b.fit(X, Y, epochs=2, lr=0.1, batch_size=2, sample_weight=np.full(6, float(scalar)),
          shuffle=False)
    np.testing.assert_array_equal(a.get_flat_params(), b.get_flat_params())


# ---- the estimators: lbfgs, sgd, adam, score ---------------------------------------------

sklearn = pytest.importorskip("sklearn")


@pytest.fixture
def classes():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 4))
    y = np.argmax(X[:, :3], axis=1)
    w = rng.uniform(0.5, 3.0, size=40)
    return X, y, w


def _fit(cls, X, y, w, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence
        return cls(hidden_layer_sizes=(5,), random_state=0, **params).fit(X, y, sample_weight=w)


@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
@pytest.mark.parametrize("c", [1e300, 1e-300, 2.0 ** -1060])
def test_estimators_do_not_depend_on_the_weights_scale(classes, solver, c):
    """lbfgs with huge weights ended with loss_ = nan and n_iter_ = 0; alpha (the default
    1e-4) follows the weights' sum, so c * w with alpha c * a is w with alpha a."""
    from nnpy.estimators import NNClassifier, NNRegressor
    X, y, w = classes
    for cls, target in ((NNClassifier, y), (NNRegressor, X @ [1.0, -2.0, 0.5, 3.0])):
        params = dict(solver=solver, max_iter=15)
        # (c * w) / c and (1e-4 * c) / c: what is left of w and alpha where c * w and
        # 1e-4 * c round in the subnormals
        big = _fit(cls, X, target, c * w, alpha=1e-4 * c, **params)
        plain = _fit(cls, X, target, c * w / c, alpha=1e-4 * c / c, **params)
        assert np.isfinite(big.loss_) and big.n_iter_ == plain.n_iter_ > 0
        assert big.loss_ == pytest.approx(plain.loss_, rel=1e-9)
        for a, b in zip(big.coefs_ + big.intercepts_, plain.coefs_ + plain.intercepts_):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
        assert big.score(X, target, sample_weight=c * w) == \
            pytest.approx(plain.score(X, target, sample_weight=c * w / c), rel=1e-12)


def test_lbfgs_with_huge_weights_matches_normal_weights(classes):
    """The same weights times 1e307 (their sum beyond float64; alpha 0: nothing depends on the
    scale) ended with loss_ = nan and n_iter_ = 0."""
    from nnpy.estimators import NNClassifier
    X, y, w = classes
    big = _fit(NNClassifier, X, y, w * 1e307, solver="lbfgs", alpha=0.0, max_iter=15)
    plain = _fit(NNClassifier, X, y, w, solver="lbfgs", alpha=0.0, max_iter=15)
    assert np.isfinite(big.loss_) and big.n_iter_ == plain.n_iter_ == 15
    assert big.loss_ == pytest.approx(plain.loss_, rel=1e-10)
    for a, b in zip(big.coefs_, plain.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "sgd"])
def test_estimators_take_a_scalar_weight(classes, solver):
    """NNClassifier(...).fit(X, y, sample_weight=2.0) was refused with a shape message."""
    from nnpy.estimators import NNClassifier, NNRegressor
    X, y, _ = classes
    for cls, target in ((NNClassifier, y), (NNRegressor, X[:, 0])):
        a = _fit(cls, X, target, 2.0, solver=solver, max_iter=5)
        b = _fit(cls, X, target, np.full(len(X), 2.0), solver=solver, max_iter=5)
        for p, q in zip(a.coefs_, b.coefs_):
            np.testing.assert_array_equal(p, q)


def test_early_stopping_scores_with_tiny_weights(classes):
    """The validation score (scikit-learn's weighted accuracy) at weights near 5e-324."""
    from nnpy.estimators import NNClassifier
    X, y, w = classes
    params = dict(solver="sgd", early_stopping=True, validation_fraction=0.25, max_iter=5)
    c = 2.0 ** -1060
    tiny = _fit(NNClassifier, X, y, w * c, alpha=0.0, **params)
    plain = _fit(NNClassifier, X, y, w * c / c, alpha=0.0, **params)
    assert np.all(np.isfinite(tiny.validation_scores_))
    np.testing.assert_allclose(tiny.validation_scores_, plain.validation_scores_, rtol=1e-12)


@pytest.mark.parametrize("bad", [[-1.0] + [1.0] * 39, [np.nan] + [1.0] * 39, [0.0] * 40, -1.0])
def test_estimators_refuse_weights_without_a_weighted_mean(classes, bad):
    from nnpy.estimators import NNClassifier
    X, y, _ = classes
    with pytest.raises(ValueError, match="sample_weight"):
        NNClassifier(solver="lbfgs", max_iter=2).fit(X, y, sample_weight=bad)
