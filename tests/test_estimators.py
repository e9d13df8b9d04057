"""nnpy.estimators: scikit-learn's own estimator checks, parity with MLPClassifier /
MLPRegressor (same weights step by step where the algorithms are the same, same scores where
training is long), the parameters' checks, the fitted attributes, and what the checks do not
cover."""
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import (load_digits, load_iris, make_blobs, make_friedman1,  # noqa: E402
                              make_multilabel_classification, make_regression)
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import nnpy  # noqa: E402
from nnpy.estimators import NNClassifier, NNRegressor  # noqa: E402

SKLEARN_OF = {NNClassifier: MLPClassifier, NNRegressor: MLPRegressor}


@pytest.fixture(autouse=True)
def one_blas_thread():
    """scikit-learn's MLP runs on numpy's BLAS: one thread, as nnpy (the machine is shared)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=1):
        yield


# ---- scikit-learn's estimator checks: every one runs and must pass (no expected failures) --

@parametrize_with_checks([NNClassifier(), NNRegressor()])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_estimator_checks(estimator, check):
    if getattr(check, "func", None) is not None and \
            check.func.__name__ == "check_array_api_input" and \
            not os.environ.get("SCIPY_ARRAY_API"):
        # scipy reads SCIPY_ARRAY_API once, when it is imported, and skips this check without
        # it: run the check in a fresh interpreter with the variable set instead.
        _run_array_api_check(estimator, check)
        return
    check(estimator)


def _run_array_api_check(estimator, check):
    name, = check.args
    code = (f"import warnings\n"
            f"from sklearn.exceptions import ConvergenceWarning\n"
            f"warnings.simplefilter('ignore', ConvergenceWarning)\n"
            f"from sklearn.utils.estimator_checks import check_array_api_input\n"
            f"from nnpy.estimators import {name}\n"
            f"check_array_api_input({name!r}, {name}(), **{check.keywords!r})\n")
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


# ---- data ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=240, centers=3, random_state=1)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def small():
    """Small problems of every kind: (X, y) for binary, multiclass, multi-label, regression
    (one and two outputs)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 5))
    w = rng.normal(size=(5, 3))
    Z = X @ w
    return {
        "binary": (X, (Z[:, 0] > 0).astype(int)),
        "multiclass": (X, np.argmax(Z, axis=1)),
        "multilabel": (X, (Z > 0).astype(int)),
        "regression": (X, 3.0 * Z[:, 0] + 1.0),
        "regression2": (X, Z[:, :2] * [1.0, -5.0]),
    }


def _pair(task, **params):
    cls = NNRegressor if task.startswith("regression") else NNClassifier
    return cls(**params), SKLEARN_OF[cls](**params)


def _fit_both(task, data, sample_weight=None, expect_warning=True, **params):
    ours, theirs = _pair(task, **params)
    X, y = data[task]
    for est in (ours, theirs):
        with pytest.warns(ConvergenceWarning) if expect_warning else warnings.catch_warnings():
            if not expect_warning:
                warnings.simplefilter("error", ConvergenceWarning)
            est.fit(X, y, sample_weight=sample_weight)
    return ours, theirs


def _assert_same_weights(ours, theirs, rtol=1e-10, atol=1e-12):
    assert len(ours.coefs_) == len(theirs.coefs_)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ---- parity: the same steps as scikit-learn -------------------------------------------------

TASKS = ["binary", "multiclass", "multilabel", "regression", "regression2"]


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_one_sgd_epoch_same_weights_as_sklearn(small, task, activation):
    """Same random_state: same initial weights; one epoch of sgd with momentum, shuffled in
    scikit-learn's order, batches of 16 with a smaller last one, an L2 penalty."""
    ours, theirs = _fit_both(task, small, solver="sgd", activation=activation, max_iter=1,
                             batch_size=16, alpha=0.01, learning_rate_init=0.05,
                             nesterovs_momentum=False, hidden_layer_sizes=(7, 4),
                             random_state=3)
    _assert_same_weights(ours, theirs)
    if task != "regression2":  # nnpy sums the outputs' losses (estimators docstring)
        assert ours.loss_curve_ == pytest.approx(theirs.loss_curve_, rel=1e-10)
    assert ours.out_activation_ == theirs.out_activation_


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("schedule", ["constant", "invscaling"])
def test_sgd_nesterov_epochs_same_weights_as_sklearn(small, task, schedule):
    """Five epochs of sgd with Nesterov momentum (the velocity carried from epoch to epoch)
    and the learning-rate schedule updated after each epoch; with sample weights."""
    weights = np.random.RandomState(1).randint(1, 4, len(small[task][0])).astype(float)
    ours, theirs = _fit_both(task, small, sample_weight=weights, solver="sgd",
                             learning_rate=schedule, power_t=0.3, max_iter=5, batch_size=20,
                             learning_rate_init=0.02, activation="tanh", random_state=0)
    _assert_same_weights(ours, theirs, rtol=1e-9)
    if task != "regression2":  # nnpy sums the outputs' losses (estimators docstring)
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert ours.t_ == theirs.t_ == 5 * len(weights)


def _torch_adam_updates(self, grads):
    """scikit-learn's AdamOptimizer._get_updates with torch's formula (epsilon added to the
    square root of the bias-corrected second moment): nnpy's Adam."""
    self.t += 1
    self.ms = [self.beta_1 * m + (1 - self.beta_1) * g for m, g in zip(self.ms, grads)]
    self.vs = [self.beta_2 * v + (1 - self.beta_2) * g ** 2 for v, g in zip(self.vs, grads)]
    return [-self.learning_rate_init * (m / (1 - self.beta_1 ** self.t))
            / (np.sqrt(v / (1 - self.beta_2 ** self.t)) + self.epsilon)
            for m, v in zip(self.ms, self.vs)]


@pytest.fixture
def torch_adam(monkeypatch):
    """scikit-learn's MLP with nnpy's (torch's) Adam update, for step-by-step comparisons."""
    from sklearn.neural_network import _stochastic_optimizers
    monkeypatch.setattr(_stochastic_optimizers.AdamOptimizer, "_get_updates", _torch_adam_updates)


@pytest.mark.parametrize("task", TASKS)
def test_adam_steps_same_as_sklearn_with_torchs_formula(small, task, torch_adam):
    """Adam: scikit-learn's loop with its update replaced by torch's formula gives nnpy's
    weights to rounding (the formulas differ only in where epsilon enters)."""
    ours, theirs = _fit_both(task, small, solver="adam", max_iter=3, batch_size=16,
                             learning_rate_init=0.01, random_state=2)
    _assert_same_weights(ours, theirs, rtol=1e-9, atol=1e-12)


def test_adam_epsilon_difference_is_the_documented_one(small):
    """With a large epsilon the two Adams differ; nnpy's matches torch's formula, computed
    here in numpy on scikit-learn's gradients."""
    X, y = small["regression"]
    params = dict(solver="adam", max_iter=1, batch_size=len(X), learning_rate_init=0.1,
                  epsilon=0.5, hidden_layer_sizes=(3,), shuffle=False, random_state=0)
    ours, theirs = NNRegressor(**params), MLPRegressor(**params)
    with pytest.warns(ConvergenceWarning):
        ours.fit(X, y)
    with pytest.warns(ConvergenceWarning):
        theirs.fit(X, y)
    start = MLPRegressor(**dict(params, max_iter=1, learning_rate_init=1e-300))
    with pytest.warns(ConvergenceWarning):
        start.fit(X, y)  # the initial weights (a step of 1e-300 changes nothing)
    grads = _sklearn_gradients(start, X, y)
    beta_1, beta_2, eps, lr = 0.9, 0.999, 0.5, 0.1
    for param, grad, got, sk in zip(start.coefs_ + start.intercepts_, grads,
                                    ours.coefs_ + ours.intercepts_,
                                    theirs.coefs_ + theirs.intercepts_):
        m_hat = (1 - beta_1) * grad / (1 - beta_1)
        v_hat = (1 - beta_2) * grad ** 2 / (1 - beta_2)
        np.testing.assert_allclose(got, param - lr * m_hat / (np.sqrt(v_hat) + eps), rtol=1e-10)
        assert not np.allclose(got, sk, rtol=1e-6)  # scikit-learn's: epsilon / sqrt(1-beta_2)


def _sklearn_gradients(model, X, y):
    """scikit-learn's gradient of the mean loss at model's weights (its own backprop)."""
    Y = y.reshape(len(y), -1).astype(float)
    units = [X.shape[1], *model.hidden_layer_sizes, Y.shape[1]]
    activations = [X] + [None] * (len(units) - 1)
    deltas = [None] * (len(units) - 1)
    coef_grads = [np.empty((a, b)) for a, b in zip(units[:-1], units[1:])]
    intercept_grads = [np.empty(b) for b in units[1:]]
    _, coef_grads, intercept_grads = model._backprop(X, Y, None, activations, deltas,
                                                     coef_grads, intercept_grads)
    return coef_grads + intercept_grads


@pytest.mark.parametrize("task", TASKS[:-1])
def test_lbfgs_iterations_same_as_sklearn(small, task):
    """A few L-BFGS-B iterations on nnpy's loss and gradient: the same iterates as
    scikit-learn's (scipy's optimiser on the same function, parameters in another order).
    Not with several regression outputs: there scikit-learn's loss averages the outputs' squared
    errors while its gradient is of their sum, so its line search sees another function."""
    ours, theirs = _fit_both(task, small, solver="lbfgs", max_iter=4, alpha=0.1,
                             activation="tanh", hidden_layer_sizes=(6,), random_state=4)
    assert ours.n_iter_ == theirs.n_iter_ == 4
    _assert_same_weights(ours, theirs, rtol=1e-7, atol=1e-9)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    assert ours.t_ == theirs.t_ == 0
    for name in ("loss_curve_", "best_loss_", "validation_scores_"):
        assert not hasattr(ours, name) and not hasattr(theirs, name)


def _exact_lbfgs(est, X, y, iterations):
    """The flat parameters (coefs_ and intercepts_ in scikit-learn's layout) after `iterations`
    of scipy's L-BFGS-B on the exact objective (nnpy.reference's loss and gradient, numpy),
    from the initial weights est's fit draws, with its options."""
    import scipy.optimize
    from nnpy import reference
    start = clone(est).set_params(max_iter=1)
    start._validate_params()
    Xv, Y = start._validate_input(X, y, False, reset=True, dtype=np.dtype(np.float64))
    units = [Xv.shape[1], *start.hidden_layer_sizes, Y.shape[1]]
    start._initialize(Y, units, np.random.RandomState(est.random_state), np.dtype(np.float64))
    net = start.network_
    shapes = [w.shape for w in net.weights]

    def unpack(theta):
        weights, biases, i = [], [], 0
        for n_out, n_in in shapes:
            weights.append(theta[i:i + n_out * n_in].reshape(n_out, n_in))
            biases.append(theta[i + n_out * n_in:i + n_out * (n_in + 1)])
            i += n_out * (n_in + 1)
        return weights, biases

    def objective(theta):
        value, dW, db = reference.gradients(*unpack(theta), Xv, Y, net.output, net.loss_name,
                                            activation=net.activation, alpha=est.alpha)
        return value, np.concatenate([a.ravel() for pair in zip(dW, db) for a in pair])

    result = scipy.optimize.minimize(objective, net.get_flat_params(), jac=True,
                                     method="L-BFGS-B", options={
                                         "maxfun": est.max_fun, "maxiter": iterations,
                                         "gtol": est.tol})
    weights, biases = unpack(result.x)
    return np.concatenate([w.T.ravel() for w in weights] + biases)


def _flat(est):
    return np.concatenate([a.ravel() for a in est.coefs_ + est.intercepts_])


@pytest.mark.parametrize("task", TASKS[:3])
def test_lbfgs_iterates_are_exact_objective_lbfgs_not_sklearns_when_outputs_saturate(small, task):
    """What the README says of lbfgs: nnpy's iterates are those of L-BFGS-B on the exact
    objective, over many iterations; scikit-learn's classifier clips its probabilities to
    [eps, 1 - eps] in its log-loss, which steers its line search elsewhere once outputs near 0
    or 1 (here: unscaled inputs of scale 100, relu)."""
    X, y = small[task]
    X = X * 100
    params = dict(solver="lbfgs", activation="relu", hidden_layer_sizes=(6,), random_state=4,
                  max_iter=25)
    ours, theirs = _fit_both(task, {task: (X, y)}, **params)
    assert ours.n_iter_ == theirs.n_iter_ == 25
    np.testing.assert_allclose(_flat(ours), _exact_lbfgs(ours, X, y, 25), rtol=0, atol=1e-10)
    assert np.abs(_flat(ours) - _flat(theirs)).max() > 1e-3


def test_lbfgs_converged_fit_agrees_with_sklearn(small):
    X, y = small["multiclass"]
    ours, theirs = _fit_both("multiclass", small, expect_warning=False, solver="lbfgs",
                             hidden_layer_sizes=(5,), alpha=3.0, max_iter=1000, random_state=0)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-7)


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_early_stopping_same_scores_and_best_weights_as_sklearn(small, task):
    ours, theirs = _fit_both(task, small, expect_warning=False, solver="sgd",
                             early_stopping=True, validation_fraction=0.25, n_iter_no_change=3,
                             learning_rate_init=0.05, max_iter=300, random_state=5)
    assert ours.n_iter_ == theirs.n_iter_ < 300
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_,
                               rtol=1e-9)
    assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)
    assert ours.best_validation_score_ == max(ours.validation_scores_)
    assert ours.best_loss_ is None
    _assert_same_weights(ours, theirs, rtol=1e-8, atol=1e-10)


def test_adaptive_learning_rate_same_path_as_sklearn(small):
    """learning_rate="adaptive": the step is divided by 5 each time the loss stalls for
    n_iter_no_change epochs, until it is at most 1e-6; the same epochs as scikit-learn."""
    ours, theirs = _fit_both("regression", small, expect_warning=False, solver="sgd",
                             learning_rate="adaptive", tol=0.5, n_iter_no_change=2,
                             learning_rate_init=0.01, max_iter=500, shuffle=False,
                             random_state=0)
    assert ours.n_iter_ == theirs.n_iter_ < 500
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-8)
    assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate)
    assert ours._optimizer.learning_rate <= 1e-6


def test_warm_start_continues_as_sklearn(small):
    params = dict(solver="sgd", max_iter=3, batch_size=16, random_state=0, warm_start=True)
    X, y = small["multiclass"]
    ours, theirs = NNClassifier(**params), MLPClassifier(**params)
    for _ in range(3):
        with pytest.warns(ConvergenceWarning):
            ours.fit(X, y)
        with pytest.warns(ConvergenceWarning):
            theirs.fit(X, y)
    _assert_same_weights(ours, theirs, rtol=1e-9)
    assert ours.loss_curve_ == pytest.approx(theirs.loss_curve_, rel=1e-9)
    assert len(ours.loss_curve_) == 9 and ours.n_iter_ == 3 and ours.t_ == 9 * len(X)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same"):
        ours.fit(X, np.where(y == 0, 7, y))


def test_warm_start_false_starts_over(small):
    X, y = small["binary"]
    clf = NNClassifier(solver="sgd", max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning):
        first = [c.copy() for c in clf.fit(X, y).coefs_]
    with pytest.warns(ConvergenceWarning):
        again = clf.fit(X, y).coefs_
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert len(clf.loss_curve_) == 2


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_same_as_sklearn(small, solver, torch_adam):
    """partial_fit: one epoch a call, the optimiser's velocity / moments kept between calls."""
    X, y = small["multiclass"]
    params = dict(solver=solver, batch_size=20, learning_rate_init=0.01, random_state=0)
    ours, theirs = NNClassifier(**params), MLPClassifier(**params)
    for start in range(0, 60, 20):
        ours.partial_fit(X[start:start + 20], y[start:start + 20], classes=[0, 1, 2])
        theirs.partial_fit(X[start:start + 20], y[start:start + 20], classes=[0, 1, 2])
    for _ in range(3):
        ours.partial_fit(X, y)
        theirs.partial_fit(X, y)
    _assert_same_weights(ours, theirs, rtol=1e-9, atol=1e-12)
    assert ours.n_iter_ == theirs.n_iter_ == 1
    assert ours.t_ == theirs.t_ == 3 * 20 + 3 * 60
    assert len(ours.loss_curve_) == 6


def test_partial_fit_errors(small):
    X, y = small["multiclass"]
    clf = NNClassifier()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="is not the same as on last call"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        clf.partial_fit(X[:3], [0, 1, 7])
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :1], y)
    for cls in (NNClassifier, NNRegressor):
        assert not hasattr(cls(solver="lbfgs"), "partial_fit")
        with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
            cls(solver="lbfgs").partial_fit(X, y)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        NNRegressor(early_stopping=True).partial_fit(X, y.astype(float))


def test_partial_fit_regressor_continues(small):
    X, y = small["regression"]
    reg = NNRegressor(solver="sgd", learning_rate_init=0.01, random_state=0)
    for _ in range(40):
        reg.partial_fit(X, y)
    assert len(reg.loss_curve_) == 40 and reg.n_iter_ == 1
    assert reg.loss_curve_[-1] < 0.1 * reg.loss_curve_[0]


# ---- same accuracy as scikit-learn on real problems -----------------------------------------

@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=0)


@pytest.mark.parametrize("params", [
    dict(),
    dict(activation="tanh", solver="sgd", learning_rate_init=0.01),
    dict(solver="lbfgs", max_iter=60),
], ids=["relu-adam", "tanh-sgd-nesterov", "lbfgs"])
def test_digits_accuracy_as_sklearn(digits, params):
    X_train, X_test, y_train, y_test = digits
    params = dict(dict(max_iter=40, hidden_layer_sizes=(64,), random_state=0), **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a short run on purpose
        ours = NNClassifier(**params).fit(X_train, y_train)
        theirs = MLPClassifier(**params).fit(X_train, y_train)
    assert ours.score(X_test, y_test) > 0.93
    assert abs(ours.score(X_test, y_test) - theirs.score(X_test, y_test)) <= 0.02


def test_friedman1_r2_as_sklearn():
    X, y = make_friedman1(n_samples=1000, noise=0.5, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    params = dict(hidden_layer_sizes=(50,), max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = NNRegressor(**params).fit(X_train, y_train)
        theirs = MLPRegressor(**params).fit(X_train, y_train)
    assert ours.score(X_test, y_test) > 0.75
    assert abs(ours.score(X_test, y_test) - theirs.score(X_test, y_test)) <= 0.03


# ---- fitted attributes ----------------------------------------------------------------------

@pytest.mark.parametrize("task, out_activation, n_outputs", [
    ("binary", "logistic", 1), ("multiclass", "softmax", 3), ("multilabel", "logistic", 3),
    ("regression", "identity", 1), ("regression2", "identity", 2)])
def test_fitted_attributes(small, task, out_activation, n_outputs):
    X, y = small[task]
    est = _pair(task, hidden_layer_sizes=(8, 5), solver="sgd", max_iter=7, random_state=0)[0]
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(max_iter=7\) reached"):
        est.fit(X, y)
    assert est.out_activation_ == out_activation and est.n_outputs_ == n_outputs
    assert est.n_layers_ == 4 and est.n_features_in_ == 5
    assert [c.shape for c in est.coefs_] == [(5, 8), (8, 5), (5, n_outputs)]
    assert [b.shape for b in est.intercepts_] == [(8,), (5,), (n_outputs,)]
    assert est.n_iter_ == len(est.loss_curve_) == 7 and est.t_ == 7 * len(X)
    assert est.loss_ == est.loss_curve_[-1] and est.best_loss_ == min(est.loss_curve_)
    assert est.validation_scores_ is None and est.best_validation_score_ is None
    assert isinstance(est.network_, nnpy.Network)
    # coefs_ are read-only views of the network's weights (the network is the model);
    # assigning coefs_ / intercepts_ sets them
    np.testing.assert_array_equal(est.coefs_[0], est.network_.weights[0].T)
    with pytest.raises(ValueError, match="read-only"):
        est.coefs_[0][...] = 0.0
    est.coefs_ = [np.ones_like(c) for c in est.coefs_]
    est.intercepts_ = [np.zeros_like(b) for b in est.intercepts_]
    assert (est.network_.weights[1] == 1).all() and not est.network_.biases[2].any()


def test_feature_names_in():
    pd = pytest.importorskip("pandas")
    X, y = make_blobs(n_samples=40, centers=2, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b"])
    clf = NNClassifier(solver="lbfgs", random_state=0).fit(frame, y)
    assert list(clf.feature_names_in_) == ["a", "b"]


def test_binary_is_one_logistic_unit_with_two_probability_columns():
    X, y = make_blobs(n_samples=120, centers=2, random_state=3)
    labels = np.array(["spam", "ham"])[y]
    clf = NNClassifier(solver="lbfgs", random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["ham", "spam"]
    assert clf.network_.sizes[-1] == 1 and clf.network_.output == "sigmoid"
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(proba[:, 1] > 0.5).astype(int)])
    assert clf.score(X, labels) > 0.95


def test_multilabel(small):
    X, Y = make_multilabel_classification(n_samples=200, n_classes=4, random_state=0)
    X = StandardScaler().fit_transform(X)
    clf = NNClassifier(solver="lbfgs", hidden_layer_sizes=(20,), max_iter=300,
                       random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.network_.loss_name == "cross_entropy"
    np.testing.assert_array_equal(clf.classes_, np.arange(4))
    pred, proba = clf.predict(X), clf.predict_proba(X)
    assert pred.shape == proba.shape == (200, 4)
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    assert clf.score(X, Y) > 0.8  # subset accuracy on the training set


def test_classifier_multiclass_probabilities(blobs):
    X, y = blobs
    clf = NNClassifier(solver="lbfgs", random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.95
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    assert clf.network_.output == "softmax"


# ---- sample_weight --------------------------------------------------------------------------

@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_integer_sample_weight_equals_repeated_rows(small, task):
    """Full-batch epochs (batch_size "auto" is all of fewer than 200 rows): weights 0..3 give
    exactly the steps of the data with each row repeated that many times (the same loss,
    gradient and penalty divisor)."""
    X, y = small[task]
    weights = np.random.RandomState(0).randint(0, 4, len(X))
    params = dict(solver="sgd", max_iter=3, shuffle=False, alpha=0.1, random_state=0)
    weighted, repeated = _pair(task, **params)[0], _pair(task, **params)[0]
    with pytest.warns(ConvergenceWarning):
        weighted.fit(X, y, sample_weight=weights)
    with pytest.warns(ConvergenceWarning):
        repeated.fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    _assert_same_weights(weighted, repeated, rtol=1e-11)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-11)


def test_sample_weight_lbfgs_equals_repeated_rows(small):
    X, y = small["binary"]
    weights = np.random.RandomState(1).randint(0, 3, len(X))
    a = NNClassifier(solver="lbfgs", random_state=0).fit(X, y, sample_weight=weights)
    b = NNClassifier(solver="lbfgs", random_state=0).fit(np.repeat(X, weights, axis=0),
                                                        np.repeat(y, weights))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("weights, error", [
    (np.ones(3), "one weight per sample"), (-np.ones(60), "non-negative"),
    (np.zeros(60), "weights are all zero"), (np.full(60, np.nan), "finite"),
    ("heavy", "real numbers")])
def test_bad_sample_weight(small, weights, error):
    X, y = small["binary"]
    with pytest.raises((ValueError, TypeError), match=error):
        NNClassifier().fit(X, y, sample_weight=weights)


# ---- the parameters' checks -----------------------------------------------------------------

@pytest.mark.parametrize("param, value", [
    ("hidden_layer_sizes", 0), ("hidden_layer_sizes", "32"), ("activation", "sigmoid"),
    ("solver", "newton"), ("alpha", -1.0), ("batch_size", 0), ("batch_size", "big"),
    ("learning_rate", "cyclic"), ("learning_rate_init", 0.0), ("power_t", -0.5),
    ("max_iter", 0), ("max_iter", 2.5), ("shuffle", "yes"), ("random_state", "seed"),
    ("tol", -1e-4), ("warm_start", 1), ("momentum", 1.5), ("nesterovs_momentum", None),
    ("early_stopping", "no"), ("validation_fraction", 1.0), ("beta_1", 1.0),
    ("beta_2", -0.1), ("epsilon", 0.0), ("n_iter_no_change", 0), ("max_fun", 0),
])
@pytest.mark.parametrize("cls", [NNClassifier, NNRegressor])
def test_bad_parameters_raise_in_fit_as_sklearn(small, cls, param, value):
    """Checked in fit (scikit-learn's rule), with scikit-learn's own messages."""
    X, y = small["binary"]
    est = cls(**{param: value})
    with pytest.raises(ValueError, match=f"The '{param}' parameter of {cls.__name__} must be"):
        est.fit(X, y)


def test_other_bad_parameters(small):
    X, y = small["binary"]
    with pytest.raises(ValueError, match=r"hidden_layer_sizes must be > 0, got \[10, 0\]"):
        NNClassifier(hidden_layer_sizes=(10, 0)).fit(X, y)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        NNClassifier(dtype=np.int32).fit(X, y)
    with pytest.raises(ValueError, match="loss='poisson' is not available in nnpy"):
        NNRegressor(loss="poisson").fit(X, y.astype(float))
    with pytest.raises(ValueError, match="The 'loss' parameter of NNRegressor must be"):
        NNRegressor(loss="huber").fit(X, y.astype(float))
    with pytest.raises(ValueError, match="The validation set is too small"):
        NNRegressor(early_stopping=True, validation_fraction=0.01).fit(X, y.astype(float))
    with pytest.warns(UserWarning, match="It is going to be clipped"):
        NNClassifier(solver="sgd", batch_size=1000, max_iter=1000, tol=10.0).fit(X, y)


def test_defaults_are_sklearns():
    for ours, theirs in ((NNClassifier(), MLPClassifier()), (NNRegressor(), MLPRegressor())):
        mine = ours.get_params()
        assert mine.pop("dtype") is None  # follow X, as scikit-learn does
        assert mine.pop("dropout") == 0.0   # nnpy's own, off
        if isinstance(ours, NNClassifier):
            assert mine.pop("class_weight") is None
        assert mine == theirs.get_params()


# ---- stopping, warnings, verbose ------------------------------------------------------------

def test_tol_stop_and_convergence_warning(blobs):
    """Training stops after n_iter_no_change + 1 epochs without an improvement of tol, at the
    epoch where scikit-learn stops, without a warning; max_iter reached warns."""
    X, y = blobs
    params = dict(solver="sgd", learning_rate_init=0.1, tol=1e-2, n_iter_no_change=3,
                  random_state=0)
    ours, theirs = _fit_both("multiclass", {"multiclass": blobs}, expect_warning=False,
                             **params)
    assert ours.n_iter_ == theirs.n_iter_ == len(ours.loss_curve_) < 200
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-8)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(max_iter=3\)"):
        NNClassifier(max_iter=3, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        NNClassifier(solver="lbfgs", max_iter=2, random_state=0).fit(X, y)


def test_huge_max_iter_is_an_upper_bound(blobs):
    """max_iter far beyond memory is a bound, not an allocation (issue 9), for every solver;
    n_iter_no_change=np.inf (scikit-learn's "never stop early") is accepted."""
    X, y = blobs
    for solver in ("sgd", "adam"):
        clf = NNClassifier(solver=solver, max_iter=10**12, n_iter_no_change=2, tol=1.0,
                           random_state=0).fit(X, y)
        assert clf.n_iter_ == len(clf.loss_curve_) == 4  # 3 epochs without a gain of tol
    assert NNClassifier(solver="lbfgs", max_iter=10**12, random_state=0).fit(X, y).n_iter_ < 1000
    with pytest.warns(ConvergenceWarning):
        clf = NNClassifier(n_iter_no_change=np.inf, tol=10.0, max_iter=5).fit(X, y)
    assert clf.n_iter_ == 5


def test_verbose_prints_as_sklearn(blobs, capsys):
    X, y = blobs
    with pytest.warns(ConvergenceWarning):
        NNClassifier(max_iter=3, verbose=True, early_stopping=True, random_state=0).fit(X, y)
    ours = capsys.readouterr().out
    with pytest.warns(ConvergenceWarning):
        MLPClassifier(max_iter=3, verbose=True, early_stopping=True, random_state=0).fit(X, y)
    theirs = capsys.readouterr().out
    assert [line.split(" = ")[0].split(":")[0] for line in ours.splitlines()] == \
        [line.split(" = ")[0].split(":")[0] for line in theirs.splitlines()]
    assert ours.count("Validation score: ") == 3


# ---- issue 9's regressor findings: no target squeezing --------------------------------------

def test_regressor_constant_and_tiny_targets(torch_adam):
    """A constant target is learnt as itself (the old regressor predicted 3.575 for 3.7 and
    -0.125 for 1e-6): to lbfgs's tolerance (its relative loss reduction, about 2e-9, stops
    it), with sgd as close as the epochs allow, and with adam as close as scikit-learn's."""
    X = np.linspace(0, 1, 40).reshape(-1, 1)
    for value in (3.7, 1e-6):
        y = np.full(40, value)
        reg = NNRegressor(solver="lbfgs", activation="identity", tol=1e-12,
                          random_state=0).fit(X, y)
        np.testing.assert_allclose(reg.predict(X), value, atol=min(1e-5, value))
        reg = NNRegressor(solver="sgd", learning_rate_init=0.01, batch_size=8, tol=0.0,
                          max_iter=1000, random_state=0)
        with pytest.warns(ConvergenceWarning):
            reg.fit(X, y)
        np.testing.assert_allclose(reg.predict(X), value, atol=0.005)
        ours, theirs = _fit_both("regression", {"regression": (X, np.full(40, value))},
                                 max_iter=50, n_iter_no_change=50, random_state=0)
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9)


def test_regressor_extrapolates():
    """Trained on y = 10x for x in [0, 1], an identity network predicts 20 and 30 at 2 and 3
    (the old sigmoid-output regressor could not leave the training range)."""
    X = np.linspace(0, 1, 30).reshape(-1, 1)
    reg = NNRegressor(activation="identity", solver="lbfgs", hidden_layer_sizes=(4,),
                      random_state=0).fit(X, 10 * X.ravel())
    np.testing.assert_allclose(reg.predict([[2.0], [3.0]]), [20.0, 30.0], rtol=1e-3)


def test_regressor_huge_targets_clear_error():
    X = np.linspace(-1, 1, 20).reshape(-1, 1)
    y = np.where(X.ravel() > 0, 1e308, -1e308)
    with pytest.raises(ValueError, match="as large as 1e\\+308 in magnitude") as info:
        NNRegressor().fit(X, y)
    assert "NaN" not in str(info.value)
    # large but representable targets: trained, or the clear non-finite-weights error
    try:
        reg = NNRegressor(solver="sgd", learning_rate_init=0.5, max_iter=5).fit(X, y * 1e-160)
    except ValueError as err:
        assert "Solver produced non-finite parameter weights" in str(err)
    else:
        assert np.isfinite(reg.predict(X)).all()


def test_regressor_multi_output_parity(small):
    X, Y = small["regression2"]
    ours, theirs = _fit_both("regression2", small, expect_warning=False, solver="lbfgs",
                             max_iter=500, random_state=0)
    assert ours.predict(X).shape == (60, 2)
    assert ours.score(X, Y) == pytest.approx(theirs.score(X, Y), abs=0.01)
    with pytest.warns(sklearn.exceptions.DataConversionWarning):
        column = NNRegressor(solver="lbfgs", random_state=0).fit(X, Y[:, :1])
    assert column.predict(X).shape == (60,)


# ---- precision, pickling, scikit-learn's machinery ------------------------------------------

def test_float32_and_pickle(blobs):
    X, y = blobs
    with pytest.warns(ConvergenceWarning):
        clf = NNClassifier(random_state=0, dtype=np.float32, max_iter=30).fit(X, y)
    assert clf.network_.dtype == np.float32 and clf.coefs_[0].dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float32
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    with pytest.warns(ConvergenceWarning):
        ours64 = NNClassifier(random_state=0, max_iter=30).fit(X, y)
    assert abs(ours64.score(X, y) - clf.score(X, y)) < 0.02


def test_unfitted_raises():
    for est in (NNClassifier(), NNRegressor()):
        with pytest.raises(NotFittedError):
            est.predict(np.zeros((2, 2)))
        assert not hasattr(est, "coefs_")


def test_diverging_sgd_is_sklearns_error(small):
    X, y = small["regression"]
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        NNRegressor(solver="sgd", learning_rate_init=1e6, momentum=0.0,
                    random_state=0).fit(X * 1e3, y * 1e100)


def test_pipeline_cross_val_and_clone():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), NNClassifier(solver="lbfgs", random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.85
    est = NNClassifier(hidden_layer_sizes=(8, 4), alpha=0.1)
    assert clone(est).get_params() == est.get_params()


def test_grid_search_sequential(blobs):
    X, y = blobs
    grid = GridSearchCV(NNClassifier(solver="lbfgs", random_state=0, max_iter=50),
                        {"hidden_layer_sizes": [(4,), (16,)], "alpha": [1e-4, 1.0]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
    assert grid.best_score_ > 0.8
    assert set(grid.best_params_) == {"hidden_layer_sizes", "alpha"}


def test_regression_fixture_learns():
    X, y = make_regression(n_samples=200, n_features=4, n_informative=2, noise=1.0,
                           random_state=0)
    X = StandardScaler().fit_transform(X)
    reg = NNRegressor(solver="lbfgs", tol=1.0, random_state=0).fit(X, y * 10 + 300)
    assert reg.score(X, y * 10 + 300) > 0.99


# ---- W5 -------------------------------------------------------------------------------------

def test_w5_markdown_and_json_shape():
    """The W5 benchmark's report (fake numbers: no timing in tests)."""
    from nnpy.benchmarks import w5
    row = {"case": "digits-lbfgs", "task": "classification", "metric": "accuracy",
           "params": {"solver": "lbfgs"}, "solver": "lbfgs",
           "sklearn": {"seconds_per_iter": 0.01, "score": 0.96, "n_iter": 40},
           "nnpy": {"seconds_per_iter": 0.004, "score": 0.95, "n_iter": 41},
           "speedup": 2.5, "score_gap": -0.01}
    result = {"rows": [row], "repeats": 3, "quick": False}
    text = w5.markdown(result)
    assert text.startswith("## W5")
    assert "| digits-lbfgs | solver='lbfgs' | 10 | 4 | 2.5x |" in text
    verdicts = [t["met"] for t in w5.targets(result)]
    assert verdicts == [True, True]
    row["speedup"], row["score_gap"] = 1.5, -0.03
    assert [t["met"] for t in w5.targets(result)] == [False, False]
    assert "**missed**" in w5.markdown(result)
