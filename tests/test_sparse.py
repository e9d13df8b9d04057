"""Sparse X (scipy.sparse): fits, predictions, losses and gradients equal those of the same X
dense; the first layer reads the stored values only. The sparse products sum the same nonzero
terms as the dense product, in another grouping (gemm's blocked and vector partial sums), so
the results agree to rounding, not bit for bit."""
import numpy as np
import pytest

import nnpy
from nnpy import reference

sp = pytest.importorskip("scipy.sparse", reason="scipy is needed for sparse inputs")

FORMATS = ["csr_matrix", "csr_array", "csc_matrix", "coo_matrix", "coo_array"]


def sparse_problem(n=240, n_in=40, n_out=3, density=0.08, seed=0, dtype=np.float64):
    """Random sparse inputs with an all-zero row, one-hot targets."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, n_in, density=density, random_state=seed, format="csr",
                  data_rvs=lambda k: rng.normal(size=k)).astype(dtype)
    X = X.tolil()
    X[5, :] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    Y = np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, n)]
    return X, Y


def tolerance(dtype):
    return 1e-10 if dtype == np.float64 else 2e-4


def same_fit(X_sparse, X_dense, Y, dtype, **fit):
    dense = nnpy.Network([X_dense.shape[1], 12, Y.shape[1]], output="softmax", seed=3,
                         dtype=dtype)
    sparse = dense.copy()
    h_dense = dense.fit(X_dense, Y, **fit)
    h_sparse = sparse.fit(X_sparse, Y, **fit)
    tol = tolerance(dtype)
    np.testing.assert_allclose(sparse.get_flat_params(), dense.get_flat_params(),
                               rtol=tol, atol=tol)
    np.testing.assert_allclose(h_sparse.loss, h_dense.loss, rtol=tol)
    return dense, sparse


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer, batch_size", [("sgd", 16), ("adam", 32), ("sgd", 1),
                                                   ("adam", 1)])
def test_sparse_fit_equals_dense_fit(dtype, optimizer, batch_size):
    X, Y = sparse_problem(dtype=dtype)
    dense, sparse = same_fit(X, X.toarray(), Y, dtype, epochs=4, lr=0.05,
                             batch_size=batch_size, optimizer=optimizer)
    assert not np.array_equal(sparse.get_flat_params(),
                              nnpy.Network([40, 12, 3], output="softmax", seed=3,
                                           dtype=dtype).get_flat_params())  # it trained


@pytest.mark.parametrize("batch_size", [1, 16])
def test_sparse_fit_with_dropout_equals_dense_fit(batch_size):
    # the masks depend on the sample numbers, not on how X is stored
    X, Y = sparse_problem()
    same_fit(X, X.toarray(), Y, np.float64, epochs=3, lr=0.05, batch_size=batch_size,
             dropout=0.3)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_trains_as_dense(fmt):
    X, Y = sparse_problem()
    make = getattr(sp, fmt)
    same_fit(make(X), X.toarray(), Y, np.float64, epochs=3, lr=0.1, batch_size=20,
             optimizer="sgd", momentum=0.9)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_index_dtypes(index_dtype):
    X, Y = sparse_problem()
    X.indptr = X.indptr.astype(index_dtype)
    X.indices = X.indices.astype(index_dtype)
    assert X.indices.dtype == index_dtype
    same_fit(X, X.toarray(), Y, np.float64, epochs=3, lr=0.1, batch_size=25)


def test_duplicate_and_unsorted_entries_are_summed_without_changing_x():
    X, Y = sparse_problem(n=60)
    coo = X.tocoo()
    # each stored value split into two halves, in reversed order: duplicates, unsorted
    rows = np.concatenate([coo.row, coo.row])[::-1]
    cols = np.concatenate([coo.col, coo.col])[::-1]
    vals = np.concatenate([coo.data / 2, coo.data / 2])[::-1]
    order = np.argsort(rows, kind="stable")
    csr = sp.csr_matrix((vals[order], cols[order],
                         np.searchsorted(rows[order], np.arange(61))), shape=X.shape)
    assert not csr.has_canonical_format
    before = (csr.data.copy(), csr.indices.copy())
    same_fit(csr, X.toarray(), Y, np.float64, epochs=3, lr=0.1, batch_size=10)
    np.testing.assert_array_equal(csr.data, before[0])  # the caller's X is left alone
    np.testing.assert_array_equal(csr.indices, before[1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_loss_gradients_accuracy_equal_dense(dtype):
    X, Y = sparse_problem(dtype=dtype)
    net = nnpy.Network([40, 12, 3], output="softmax", seed=1, dtype=dtype)
    Xd = X.toarray()
    tol = tolerance(dtype)
    np.testing.assert_allclose(net.predict(X), net.predict(Xd), rtol=tol, atol=tol)
    # against nnpy.reference (plain numpy) too
    np.testing.assert_allclose(net.predict(X), reference.predict(
        [w.astype(np.float64) for w in net.weights], [b.astype(np.float64) for b in net.biases],
        Xd.astype(np.float64), "softmax"), rtol=10 * tol, atol=10 * tol)
    assert net.loss(X, Y) == pytest.approx(net.loss(Xd, Y), rel=tol)
    for (dw_s, db_s), (dw_d, db_d) in zip(net.gradients(X, Y), net.gradients(Xd, Y)):
        np.testing.assert_allclose(dw_s, dw_d, rtol=tol, atol=tol)
        np.testing.assert_allclose(db_s, db_d, rtol=tol, atol=tol)
    assert net.accuracy(X, Y) == net.accuracy(Xd, Y)
    value_s, grad_s = net.objective(X, Y, alpha=0.1)(net.get_flat_params())
    value_d, grad_d = net.objective(Xd, Y, alpha=0.1)(net.get_flat_params())
    assert value_s == pytest.approx(value_d, rel=tol)
    np.testing.assert_allclose(grad_s, grad_d, rtol=tol, atol=tol)


def test_gradient_matches_finite_differences():
    X, Y = sparse_problem(n=30, n_in=10)
    net = nnpy.Network([10, 5, 3], output="softmax", seed=2)
    objective = net.objective(X, Y)
    flat = net.get_flat_params()
    _, grad = objective(flat)
    step = 1e-6
    for i in range(0, len(flat), 7):
        up, down = flat.copy(), flat.copy()
        up[i] += step
        down[i] -= step
        numeric = (objective(up)[0] - objective(down)[0]) / (2 * step)
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_sample_weight_and_validation_take_sparse_x():
    X, Y = sparse_problem()
    weights = np.random.default_rng(4).uniform(0.1, 2, X.shape[0])
    dense, sparse = same_fit(X, X.toarray(), Y, np.float64, epochs=3, lr=0.1, batch_size=16,
                             sample_weight=weights)
    history = sparse.fit(X, Y, epochs=2, lr=0.1, validation=(X[:50], Y[:50]))
    assert len(history.val_loss) == 2


def test_results_do_not_depend_on_threads():
    X, Y = sparse_problem(n=600, n_in=300, density=0.2)
    nets = []
    for threads in (1, 2):
        net = nnpy.Network([300, 64, 3], output="softmax", seed=5)
        net.fit(X, Y, epochs=2, lr=0.1, batch_size=200, n_threads=threads)
        nets.append(net.get_flat_params())
    np.testing.assert_array_equal(nets[0], nets[1])


def test_bad_sparse_x_is_a_value_error_naming_x():
    X, Y = sparse_problem(n=20, n_in=6)
    net = nnpy.Network([6, 4, 3], output="softmax")
    bad = X.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        net.fit(bad, Y, epochs=1, lr=0.1)
    with pytest.raises(ValueError, match="X contains NaN"):
        net.predict(bad)
    with pytest.raises(ValueError, match="X has 7 columns"):
        net.predict(sp.csr_matrix((4, 7)))
    with pytest.raises(ValueError, match="X is empty"):
        net.predict(sp.csr_matrix((0, 6)))
    with pytest.raises(ValueError, match="Y has 19 rows but X has 20"):
        net.fit(X, Y[:19], epochs=1, lr=0.1)
    with pytest.raises(ValueError, match="validation X has 5 columns"):
        net.fit(X, Y, epochs=1, lr=0.1, validation=(sp.csr_matrix((3, 5)), Y[:3]))


def test_stack_trains_sparse_x_as_lone_networks():
    X, Y = sparse_problem(n=80, n_in=4, n_out=1)
    stack = nnpy.NetworkStack([4, 3, 1], 2, seeds=[1, 2])
    lone = [nnpy.Network([4, 3, 1], seed=s) for s in (1, 2)]
    stack.fit(X, Y, epochs=3, lr=0.2)  # per-sample SGD: lockstep when X is dense
    for k, net in enumerate(lone):
        net.fit(X, Y, epochs=3, lr=0.2)
        np.testing.assert_array_equal(stack[k].get_flat_params(), net.get_flat_params())
    np.testing.assert_array_equal(stack.predict(X)[1], lone[1].predict(X))


def test_overflow_names_the_layer_and_row_of_sparse_x():
    net = nnpy.Network([3, 2, 1], dtype=np.float32, seed=0)
    net.weights = [np.full((2, 3), 1e30), np.ones((1, 2))]
    X = sp.csr_matrix(np.array([[0, 0, 0], [0, 1e10, 0]], np.float32))
    with pytest.raises(ValueError, match=r"layer 0 .* row 1 of X.* 1e\+10"):
        net.predict(X)
    with pytest.raises(ValueError, match=r"layer 0 .* row 1 of X"):
        net.loss(X, np.zeros((2, 1), np.float32))


def test_core_refuses_inconsistent_csr():
    from nnpy._dispatch import core
    data, indices = np.ones(3), np.array([0, 1, 9], np.int32)
    with pytest.raises(ValueError, match="indices must lie"):
        core.CsrRows(data, indices, np.array([0, 2, 3]), 5)
    with pytest.raises(ValueError, match="indptr must run"):
        core.CsrRows(data, indices[:2], np.array([0, 2, 3]), 10)
    with pytest.raises(ValueError, match="non-decreasing"):
        core.CsrRows(data, indices, np.array([0, 3, 2, 3]), 10)


# ---- the estimators -------------------------------------------------------------------------

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is needed for the estimators")


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer:UserWarning")
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("fmt", ["csr_matrix", "csr_array", "csc_matrix", "coo_array"])
def test_classifier_sparse_equals_dense(solver, fmt):
    from nnpy.estimators import NNClassifier
    X, Y = sparse_problem(n=150)
    y = Y.argmax(axis=1)
    Xs = getattr(sp, fmt)(X)
    dense = NNClassifier(hidden_layer_sizes=(10,), solver=solver, max_iter=30,
                         random_state=0).fit(X.toarray(), y)
    sparse = NNClassifier(hidden_layer_sizes=(10,), solver=solver, max_iter=30,
                          random_state=0).fit(Xs, y)
    for a, b in zip(sparse.coefs_, dense.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(X.toarray()),
                               rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(sparse.predict(Xs), dense.predict(X.toarray()))
    assert sparse.score(Xs, y) == dense.score(X.toarray(), y)


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer:UserWarning")
def test_regressor_partial_fit_and_early_stopping_take_sparse_x():
    from nnpy.estimators import NNRegressor
    X, Y = sparse_problem(n=200)
    y = Y @ np.array([1.0, -2.0, 0.5])
    dense = NNRegressor(hidden_layer_sizes=(8,), random_state=0, early_stopping=True,
                        max_iter=20).fit(X.toarray(), y)
    sparse = NNRegressor(hidden_layer_sizes=(8,), random_state=0, early_stopping=True,
                         max_iter=20).fit(X, y)
    np.testing.assert_allclose(sparse.predict(X), dense.predict(X.toarray()), rtol=1e-8,
                               atol=1e-10)
    part_dense = NNRegressor(hidden_layer_sizes=(8,), random_state=0)
    part_sparse = NNRegressor(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(3):
        part_dense.partial_fit(X.toarray(), y)
        part_sparse.partial_fit(X, y)
    np.testing.assert_allclose(part_sparse.predict(X), part_dense.predict(X.toarray()),
                               rtol=1e-8, atol=1e-10)


def test_estimator_refuses_nan_in_sparse_x():
    from nnpy.estimators import NNClassifier
    X, Y = sparse_problem(n=30)
    X.data[0] = np.nan
    with pytest.raises(ValueError, match="X"):
        NNClassifier(max_iter=2).fit(X, Y.argmax(axis=1))


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer:UserWarning")
def test_grid_search_and_ensembles_take_sparse_x():
    from nnpy.estimators import NNClassifier, NNEnsembleRegressor, NNGridSearchCV
    X, Y = sparse_problem(n=120)
    y = Y.argmax(axis=1)
    grid = {"alpha": [1e-4, 1e-2], "learning_rate_init": [1e-3, 1e-2]}
    searches = [NNGridSearchCV(NNClassifier(hidden_layer_sizes=(8,), max_iter=15,
                                            random_state=0), grid, cv=3).fit(x, y)
                for x in (X, X.toarray())]
    for key in ("mean_test_score", "rank_test_score"):
        np.testing.assert_allclose(searches[0].cv_results_[key], searches[1].cv_results_[key])
    assert searches[0].best_params_ == searches[1].best_params_
    target = Y @ np.array([1.0, -2.0, 0.5])
    ensembles = [NNEnsembleRegressor((8,), n_estimators=3, max_iter=10,
                                     random_state=0).fit(x, target)
                 for x in (sp.csc_matrix(X), X.toarray())]
    sparse_mean, sparse_std = ensembles[0].predict(X, return_std=True)
    dense_mean, dense_std = ensembles[1].predict(X.toarray(), return_std=True)
    np.testing.assert_allclose(sparse_mean, dense_mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(sparse_std, dense_std, rtol=1e-7, atol=1e-10)
