"""NNClassifier / NNRegressor to and from scikit-learn's MLPClassifier / MLPRegressor
(to_sklearn, from_sklearn), fitted estimators from an nnpy.Network (from_network), and the
estimators' divergence and Ctrl-C (SolverDiverged, KeyboardInterrupt), which `nnpy train`
relies on.

The oracle is scikit-learn itself: a converted MLP predicts with scikit-learn's own code, has
every fitted attribute a real fit gives it, and continues training (partial_fit, warm_start)
as one that scikit-learn fitted: with plain sgd the continued weights agree with nnpy's to
1e-10. skl2onnx and skops are used where installed, never required."""
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

import nnpy  # noqa: E402
from nnpy.estimators import NNClassifier, NNRegressor, SolverDiverged  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TASKS = ["binary-int", "binary-str", "multiclass-int", "multiclass-str", "multilabel",
         "regress", "regress-multi"]
ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
DTYPES = [np.float64, np.float32]
# nnpy's core and scikit-learn's numpy forward pass, on the same weights
CROSS_TOL = {np.float64: 1e-10, np.float32: 1e-5}
# what scikit-learn's fit sets that a converted MLP does without: its optimiser (a fresh one is
# made by the next partial_fit / fit), its random state (drawn again by every fit) and lbfgs's
# scratch layout (made by every lbfgs fit)
NOT_CARRIED = {"_optimizer", "_random_state", "_coef_indptr", "_intercept_indptr"}


@pytest.fixture(autouse=True)
def one_blas_thread():
    """scikit-learn's MLP runs on numpy's BLAS: one thread (the machine is shared)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=1):
        yield


def data(task, dtype=np.float64, n=40, seed=0):
    """(X, y) of a small problem of the kind `task`, every class present."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(dtype)
    labels = {"binary-int": np.array([1, 4]), "binary-str": np.array(["no", "yes"]),
              "multiclass-int": np.array([-1, 0, 2, 7]),
              "multiclass-str": np.array(["ant", "bee", "cat"])}.get(task)
    if labels is not None:
        y = labels[rng.permutation(np.arange(n) % len(labels))]
    elif task == "multilabel":
        y = (rng.random((n, 3)) < 0.5).astype(int)
    elif task == "regress":
        y = rng.normal(size=n)
    else:
        y = rng.normal(size=(n, 2))
    return X, y


def kinds(task):
    return (NNRegressor, MLPRegressor) if task.startswith("regress") else \
        (NNClassifier, MLPClassifier)


def outputs(model, X):
    """predict_proba for a classifier (the network's outputs), predict for a regressor."""
    return model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)


def assert_same_predictions(a, b, X, tol):
    """The same labels (a classifier), the same values to tol (a regressor)."""
    if hasattr(a, "predict_proba"):
        np.testing.assert_array_equal(a.predict(X), b.predict(X))
    else:
        np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=0, atol=tol)


def assert_same_weights(a, b):
    for name in ("coefs_", "intercepts_"):
        assert len(getattr(a, name)) == len(getattr(b, name))
        for x, y in zip(getattr(a, name), getattr(b, name)):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(x, y)


def test_parameters_map_one_to_one():
    for ours, theirs in ((NNClassifier, MLPClassifier), (NNRegressor, MLPRegressor)):
        assert set(ours().get_params()) - {"dtype", "class_weight", "dropout"} == \
            set(theirs().get_params())
        params = dict(hidden_layer_sizes=(7, 2), activation="tanh", solver="sgd", alpha=0.3,
                      batch_size=5, learning_rate="invscaling", learning_rate_init=0.02,
                      power_t=0.4, max_iter=3, shuffle=False, random_state=4, tol=1e-3,
                      warm_start=True, momentum=0.5, nesterovs_momentum=False,
                      validation_fraction=0.2, beta_1=0.8, beta_2=0.99, epsilon=1e-7,
                      n_iter_no_change=4, max_fun=99)
        X, y = data("regress" if ours is NNRegressor else "binary-int")
        mlp = ours(**params).fit(X, y).to_sklearn()
        assert type(mlp) is theirs
        assert {k: mlp.get_params()[k] for k in params} == params
        back = ours.from_sklearn(mlp)
        assert back.get_params() == {**ours(**params).get_params(), "dtype": np.float64}


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("task", TASKS)
def test_round_trips(task, activation, dtype):
    ours_kind, theirs_kind = kinds(task)
    X, y = data(task, dtype)
    params = dict(hidden_layer_sizes=(5, 4), activation=activation, max_iter=5,
                  random_state=0)
    tol = CROSS_TOL[dtype]

    # nnpy -> scikit-learn: same weights (copies), scikit-learn's own code predicts the same
    ours = ours_kind(dtype=dtype, **params).fit(X, y)
    mlp = ours.to_sklearn()
    assert type(mlp) is theirs_kind
    check_is_fitted(mlp)
    assert_same_weights(mlp, ours)
    assert mlp.coefs_[0].dtype == dtype and mlp.coefs_[0].flags.c_contiguous
    assert not np.shares_memory(mlp.coefs_[0], ours.network_.weights[0])
    np.testing.assert_allclose(outputs(mlp, X), outputs(ours, X), rtol=0, atol=tol)
    assert_same_predictions(mlp, ours, X, tol)
    for name in ("n_iter_", "t_", "loss_", "best_loss_", "loss_curve_", "n_layers_",
                 "n_outputs_", "out_activation_", "n_features_in_"):
        assert getattr(mlp, name) == getattr(ours, name), name
    if ours_kind is NNClassifier:
        np.testing.assert_array_equal(mlp.classes_, ours.classes_)
        assert mlp.classes_.dtype == ours.classes_.dtype
    assert mlp.score(X, y) == pytest.approx(ours.score(X, y), abs=tol)
    # ... and back: the very same weights in nnpy, the very same outputs
    again = ours_kind.from_sklearn(mlp)
    assert again.dtype == dtype and again.network_.dtype == dtype
    np.testing.assert_array_equal(outputs(again, X), outputs(ours, X))
    np.testing.assert_array_equal(again.predict(X), ours.predict(X))
    assert again.loss_curve_ == ours.loss_curve_ and again.n_iter_ == ours.n_iter_

    # scikit-learn -> nnpy -> scikit-learn (scikit-learn keeps float32 after a float32 fit)
    theirs = theirs_kind(**params).fit(X, y)
    assert theirs.coefs_[0].dtype == dtype
    converted = ours_kind.from_sklearn(theirs)
    assert converted.network_.dtype == dtype
    assert_same_weights(converted, theirs)
    np.testing.assert_allclose(outputs(converted, X), outputs(theirs, X), rtol=0, atol=tol)
    assert_same_predictions(converted, theirs, X, tol)
    back = converted.to_sklearn()
    assert_same_weights(back, theirs)
    np.testing.assert_array_equal(outputs(back, X), outputs(theirs, X))
    np.testing.assert_array_equal(back.predict(X), theirs.predict(X))
    # everything a real fit sets, but what the next fit makes afresh anyway
    assert set(theirs.__dict__) - NOT_CARRIED <= set(back.__dict__)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_converted_mlp_has_every_fitted_attribute(solver):
    """to_sklearn gives what scikit-learn's own fit gives: the same attributes (but the
    optimiser and random state, made by the next fit), with early stopping too, and a
    DataFrame's feature names."""
    pd = pytest.importorskip("pandas")
    X, y = data("multiclass-str")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    for early_stopping in (False, True) if solver == "adam" else (False,):
        params = dict(hidden_layer_sizes=(4,), solver=solver, max_iter=4, random_state=0,
                      early_stopping=early_stopping)
        theirs = MLPClassifier(**params).fit(frame, y)
        mlp = NNClassifier(**params).fit(frame, y).to_sklearn()
        assert set(theirs.__dict__) - NOT_CARRIED <= set(mlp.__dict__)
        assert list(mlp.feature_names_in_) == ["a", "b", "c"]
        for name in ("validation_scores_", "best_validation_score_", "best_loss_"):
            assert (getattr(mlp, name, None) is None) == (getattr(theirs, name, None) is None)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "X does not have valid feature names"
            mlp.predict(frame)
        back = NNClassifier.from_sklearn(theirs)
        assert list(back.feature_names_in_) == ["a", "b", "c"]
        np.testing.assert_allclose(back.predict_proba(frame), theirs.predict_proba(frame),
                                   rtol=0, atol=1e-10)


@pytest.mark.parametrize("task", ["multiclass-str", "binary-int", "multilabel", "regress-multi"])
def test_training_continues_on_the_same_path(task):
    """Plain sgd (no momentum, no shuffling: the optimiser has no state to carry) continued
    after a conversion takes the same steps in both libraries, either way round."""
    ours_kind, theirs_kind = kinds(task)
    X, y = data(task)
    params = dict(hidden_layer_sizes=(6,), solver="sgd", momentum=0.0, shuffle=False,
                  batch_size=8, learning_rate_init=0.05, alpha=0.01, max_iter=3,
                  random_state=0)
    # nnpy -> scikit-learn: partial_fit in both
    ours = ours_kind(**params).fit(X, y)
    mlp = ours.to_sklearn()
    for _ in range(2):
        ours.partial_fit(X, y)
        mlp.partial_fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, mlp.coefs_ + mlp.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    assert len(mlp.loss_curve_) == len(ours.loss_curve_) == 5
    # several regression outputs: nnpy records the sum over outputs, scikit-learn the mean
    same_losses = task != "regress-multi"
    if same_losses:
        np.testing.assert_allclose(mlp.loss_curve_, ours.loss_curve_, rtol=1e-10)
    # scikit-learn -> nnpy: warm_start in both
    theirs = theirs_kind(**params).fit(X, y)
    converted = ours_kind.from_sklearn(theirs)
    for est in (theirs, converted):
        est.set_params(warm_start=True, max_iter=2).fit(X, y)
    for a, b in zip(converted.coefs_ + converted.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    assert len(converted.loss_curve_) == len(theirs.loss_curve_) == 5
    if same_losses:
        np.testing.assert_allclose(converted.loss_curve_, theirs.loss_curve_, rtol=1e-10)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_converted_models_keep_training_with_early_stopping(solver):
    X, y = data("multiclass-int", n=60)
    params = dict(hidden_layer_sizes=(5,), solver=solver, early_stopping=True,
                  validation_fraction=0.25, max_iter=3, random_state=0)
    mlp = NNClassifier(**params).fit(X, y).to_sklearn()
    mlp.set_params(warm_start=True).fit(X, y)
    assert len(mlp.validation_scores_) == 6
    back = NNClassifier.from_sklearn(mlp)
    best_weights, best_biases = back._best_params  # early stopping's best weights carried
    for ours, theirs in zip(best_weights + best_biases,
                            [c.T for c in mlp._best_coefs] + mlp._best_intercepts):
        np.testing.assert_array_equal(ours, theirs)
    assert back._no_improvement_count == mlp._no_improvement_count
    back.fit(X, y)
    assert len(back.validation_scores_) == 9 and back.n_iter_ == 3
    assert back.best_validation_score_ == max(back.validation_scores_)


def test_from_sklearn_refuses_what_nnpy_cannot_hold():
    X, y = data("regress")
    with pytest.raises(NotFittedError):
        NNRegressor.from_sklearn(MLPRegressor())
    assert issubclass(NotFittedError, ValueError)
    poisson = MLPRegressor(loss="poisson", hidden_layer_sizes=(3,), max_iter=2).fit(X, y ** 2)
    with pytest.raises(ValueError, match="poisson"):
        NNRegressor.from_sklearn(poisson)
    with pytest.raises(TypeError, match="MLPClassifier.*got MLPRegressor"):
        NNClassifier.from_sklearn(MLPRegressor(max_iter=2).fit(X, y))
    with pytest.raises(TypeError, match="MLPRegressor.*got NNRegressor"):
        NNRegressor.from_sklearn(NNRegressor(max_iter=2).fit(X, y))
    mlp = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(X, y)
    bad = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(X, y)
    bad.coefs_ = [bad.coefs_[0], bad.coefs_[1].T]
    with pytest.raises(ValueError, match="coefs_\\[1\\].*do not follow"):
        NNRegressor.from_sklearn(bad)
    bad.coefs_ = [c.astype(np.float16) for c in mlp.coefs_]
    with pytest.raises(ValueError, match="float32 or float64"):
        NNRegressor.from_sklearn(bad)
    bad.coefs_ = [mlp.coefs_[0].copy(), mlp.coefs_[1].copy()]
    bad.coefs_[1][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NNRegressor.from_sklearn(bad)
    bad.coefs_ = mlp.coefs_[:1]
    with pytest.raises(ValueError, match="n_layers_ - 1"):
        NNRegressor.from_sklearn(bad)


def test_skl2onnx_is_not_needed():
    """The conversions need scikit-learn only: they work with skl2onnx, onnx and skops
    unimportable, and import none of them."""
    code = textwrap.dedent("""
        import sys, warnings
        for name in ("skl2onnx", "onnx", "onnxruntime", "skops"):
            sys.modules[name] = None  # import fails
        warnings.simplefilter("ignore")
        import numpy as np
        from nnpy.estimators import NNClassifier
        X = np.random.default_rng(0).normal(size=(30, 2)); y = (X[:, 0] > 0).astype(int)
        mlp = NNClassifier(hidden_layer_sizes=(3,), max_iter=5).fit(X, y).to_sklearn()
        back = NNClassifier.from_sklearn(mlp)
        assert np.array_equal(back.predict(X), mlp.predict(X))
        print(sorted(n for n in ("skl2onnx", "onnx", "onnxruntime", "skops")
                     if sys.modules[n] is not None))
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_to_skl2onnx_where_installed():
    """The route this opens: skl2onnx's converter for MLPClassifier, run in onnxruntime,
    gives nnpy's probabilities."""
    skl2onnx = pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    from skl2onnx.common.data_types import FloatTensorType
    X, y = data("multiclass-str", np.float32)
    clf = NNClassifier(hidden_layer_sizes=(5,), activation="tanh", max_iter=20,
                       random_state=0, dtype=np.float32).fit(X, y)
    onx = skl2onnx.convert_sklearn(clf.to_sklearn(), initial_types=[("X", FloatTensorType(
        [None, 3]))], options={"zipmap": False})
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    label, proba = session.run(None, {"X": X})
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(label, clf.predict(X))


def test_to_skops_where_installed():
    sio = pytest.importorskip("skops.io")
    X, y = data("binary-str")
    clf = NNClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    converted = clf.to_sklearn()
    blob = sio.dumps(converted)
    mlp = sio.loads(blob, trusted=sio.get_untrusted_types(data=blob))
    np.testing.assert_array_equal(mlp.predict_proba(X), converted.predict_proba(X))
    np.testing.assert_allclose(mlp.predict_proba(X), clf.predict_proba(X), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(NNClassifier.from_sklearn(mlp).predict(X), clf.predict(X))


# ---- from_network --------------------------------------------------------------------------

def test_from_network_classifier():
    X = np.random.default_rng(1).normal(size=(30, 4))
    net = nnpy.Network([4, 6, 3], activation="tanh", output="softmax", seed=0)
    clf = NNClassifier.from_network(net, classes=["a", "b", "c"], solver="sgd",
                                    random_state=0)
    assert clf.network_ is net
    assert clf.get_params()["hidden_layer_sizes"] == (6,) and clf.activation == "tanh"
    assert clf.n_iter_ == 0 and clf.t_ == 0 and clf.loss_curve_ == []
    assert clf.out_activation_ == "softmax" and list(clf.classes_) == ["a", "b", "c"]
    named = NNClassifier.from_network(net, feature_names=np.array(list("pqrs")))
    assert list(named.feature_names_in_) == list("pqrs") and not hasattr(clf, "feature_names_in_")
    np.testing.assert_array_equal(clf.predict_proba(X), net.predict(X))
    np.testing.assert_array_equal(clf.predict(X), np.array(list("abc"))[net.predict(X).argmax(1)])
    y = np.array(list("abc"))[np.arange(30) % 3]
    clf.partial_fit(X, y)  # trains `net` itself
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 1
    np.testing.assert_array_equal(clf.predict_proba(X), net.predict(X))
    mlp = clf.to_sklearn()
    np.testing.assert_allclose(mlp.predict_proba(X), net.predict(X), rtol=0, atol=1e-10)
    # defaults: classes 0, 1, ...; one sigmoid unit is binary; several are multi-label
    assert list(NNClassifier.from_network(net).classes_) == [0, 1, 2]
    binary = nnpy.Network([4, 3, 1], output="sigmoid", loss="cross_entropy", seed=0)
    assert list(NNClassifier.from_network(binary).classes_) == [0, 1]
    two = NNClassifier.from_network(binary, classes=[False, True])
    assert two.predict_proba(X).shape == (30, 2) and two.predict(X).dtype == bool
    multilabel = nnpy.Network([4, 3, 2], output="sigmoid", loss="cross_entropy", seed=0)
    labels = NNClassifier.from_network(multilabel)
    assert labels.predict(X).shape == (30, 2) and labels.out_activation_ == "logistic"
    np.testing.assert_array_equal(labels.predict(X), (multilabel.predict(X) > 0.5).astype(int))


def test_from_network_regressor_and_float32():
    X = np.random.default_rng(2).normal(size=(10, 2)).astype(np.float32)
    net = nnpy.Network([2, 5, 2], activation="relu", output="identity", dtype=np.float32,
                       seed=0)
    reg = NNRegressor.from_network(net, solver="lbfgs")
    assert reg.dtype == np.float32 and reg.n_outputs_ == 2 and not hasattr(reg, "loss_curve_")
    np.testing.assert_array_equal(reg.predict(X), net.predict(X))
    mlp = reg.to_sklearn()
    assert mlp.coefs_[0].dtype == np.float32
    np.testing.assert_allclose(mlp.predict(X), net.predict(X), rtol=0, atol=1e-5)
    no_hidden = NNRegressor.from_network(nnpy.Network([2, 1], output="identity", seed=0))
    assert no_hidden.hidden_layer_sizes == () and no_hidden.to_sklearn().n_layers_ == 2


def test_from_network_refusals():
    softmax = nnpy.Network([2, 3, 3], output="softmax", seed=0)
    identity = nnpy.Network([2, 3, 1], output="identity", seed=0)
    cases = [
        (NNClassifier, nnpy.Network([2, 3, 1], seed=0), {}, "loss 'cross_entropy'.*'mse'"),
        (NNClassifier, identity, {}, "identity output"),
        (NNClassifier, nnpy.Network([2, 3, 2], output="softmax", seed=0), {}, "one sigmoid unit"),
        (NNClassifier, softmax, {"classes": ["b", "a", "c"]}, "sorted and distinct"),
        (NNClassifier, softmax, {"classes": ["a", "a", "c"]}, "sorted and distinct"),
        (NNClassifier, softmax, {"classes": [0, 1]}, "need 3 classes"),
        (NNClassifier, nnpy.Network([2, 3, 2], output="sigmoid", loss="cross_entropy", seed=0),
         {"classes": ["x", "y"]}, "multi-label"),
        (NNRegressor, identity, {"classes": [0, 1]}, "no classes"),
        (NNRegressor, softmax, {}, "identity output"),
        (NNRegressor, identity, {"hidden_layer_sizes": (4,)}, "disagrees with the network"),
        (NNRegressor, identity, {"activation": "relu"}, "disagrees"),
        (NNRegressor, identity, {"dtype": np.float32}, "disagrees"),
        (NNRegressor, identity, {"alpha": -1.0}, "alpha"),
        (NNRegressor, identity, {"feature_names": ["x"]}, "2 strings"),
    ]
    for kind, net, kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            kind.from_network(net, **kwargs)
    with pytest.raises(TypeError, match="nnpy.Network"):
        NNRegressor.from_network(identity.weights)
    with pytest.raises(TypeError, match="colour"):
        NNRegressor.from_network(identity, colour="red")


def test_model_file_estimator_uses_from_network(tmp_path):
    """nnpy.load(...).estimator is from_network's estimator, with the file's parameters."""
    X, y = data("multiclass-str")
    clf = NNClassifier(hidden_layer_sizes=(4,), activation="tanh", max_iter=5,
                       random_state=0).fit(X, y)
    model = nnpy.Model.from_estimator(clf, ["a", "b", "c"], "kind", training={"epochs": 5})
    model.save(tmp_path / "m.model")
    est = nnpy.load(tmp_path / "m.model").estimator
    assert type(est) is NNClassifier and est.get_params() == clf.get_params()
    np.testing.assert_array_equal(est.predict_proba(X), clf.predict_proba(X))
    assert est.n_iter_ == 5 and list(est.classes_) == list(clf.classes_)
    np.testing.assert_allclose(est.to_sklearn().predict_proba(X), clf.predict_proba(X),
                               rtol=0, atol=1e-10)
    bad = nnpy.Model(clf.network_, ["a", "b", "c"], "kind", classes=clf.classes_,
                     estimator_params={"hidden_layer_sizes": [9]})
    with pytest.raises(ValueError, match="estimator_params do not fit NNClassifier.*"
                                         "hidden_layer_sizes"):
        bad.estimator


# ---- divergence and Ctrl-C -----------------------------------------------------------------

@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_divergence_is_sklearns_error_and_a_training_diverged(solver, monkeypatch):
    X, y = data("regress")
    if solver == "lbfgs":  # L-BFGS-B ending on non-finite parameters
        import scipy.optimize
        real = scipy.optimize.minimize

        def minimize(*args, **kwargs):
            result = real(*args, **kwargs)
            result.x[0] = np.inf
            return result
        monkeypatch.setattr(scipy.optimize, "minimize", minimize)
        est = NNRegressor(solver="lbfgs", max_iter=2)
        fit = {"X": X, "y": y}
    else:
        est = NNRegressor(solver="sgd", learning_rate_init=1e6, momentum=0.0, random_state=0)
        fit = {"X": X * 1e3, "y": y * 1e100}
    with pytest.raises(SolverDiverged) as info:
        est.fit(**fit)
    assert isinstance(info.value, ValueError) and isinstance(info.value, nnpy.TrainingDiverged)
    assert str(info.value).startswith("Solver produced non-finite parameter weights. The input "
                                      "data may contain large values")
    assert str(info.value).count("Solver produced") == 1


@pytest.mark.parametrize("early_stopping", [False, True])
def test_ctrl_c_propagates_and_leaves_a_fitted_estimator(early_stopping, monkeypatch):
    X, y = data("multiclass-int", n=60)
    calls = []
    real_fit = nnpy.Network.fit

    def fit(self, *args, **kwargs):  # Ctrl-C in the third epoch
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_fit(self, *args, **kwargs)
    monkeypatch.setattr(nnpy.Network, "fit", fit)
    clf = NNClassifier(hidden_layer_sizes=(5,), max_iter=10, random_state=0,
                       early_stopping=early_stopping, n_iter_no_change=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not scikit-learn's warning either
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(KeyboardInterrupt):
            clf.fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    if early_stopping:  # the best weights so far, as after a completed fit
        best_weights, best_biases = clf._best_params
        for a, b in zip(clf.network_.weights + clf.network_.biases, best_weights + best_biases):
            np.testing.assert_array_equal(a, b)
    assert clf.predict(X).shape == (60,)


def test_nnpy_train_on_divergence_and_ctrl_c(tmp_path, monkeypatch, capsys):
    """nnpy train tells divergence (exit 1, said on stderr) and Ctrl-C (exit 130) by the
    exception's type."""
    from nnpy.cli import main
    X, y = data("multiclass-str", n=30)
    path = tmp_path / "d.csv"
    path.write_text("a,b,c,kind\n" + "".join(f"{r[0]},{r[1]},{r[2]},{k}\n"
                                             for r, k in zip(X, y)))
    argv = [str(path), "--target", "kind", "--hidden", "3", "--epochs", "5",
            "--save", str(tmp_path / "m.model")]

    def diverge(self, X, y):
        raise SolverDiverged("Solver produced non-finite parameter weights. (test)")
    monkeypatch.setattr(NNClassifier, "fit", diverge)
    assert main(["train", *argv]) == 1
    assert "training diverged: Solver produced non-finite" in capsys.readouterr().err

    def interrupt(self, X, y):
        raise KeyboardInterrupt
    monkeypatch.setattr(NNClassifier, "fit", interrupt)
    assert main(["train", *argv]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not (tmp_path / "m.model").exists()
