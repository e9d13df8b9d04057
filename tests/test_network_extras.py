"""Network's extras for everyday use: class labels, predict_classes, summary, early stopping,
learning-rate schedules, class_weight; each against an independent computation (one-hot
targets, equivalent sample weights, epoch-by-epoch fits, scikit-learn's formula)."""
import numpy as np
import pytest

import nnpy
from nnpy import reference
from nnpy.labels import class_weights
from nnpy.schedules import ExponentialDecay, InverseScaling, ReduceOnPlateau, StepDecay


def problem(n=60, n_in=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    labels = rng.integers(0, k, n)
    labels[:k] = np.arange(k)  # every class present
    return X, labels


def same_weights(a, b):
    np.testing.assert_array_equal(a.get_flat_params(), b.get_flat_params())


# ---- labels ------------------------------------------------------------------------------

def test_one_hot_is_the_identity_rows():
    labels = np.array([2, 0, 1, 2])
    np.testing.assert_array_equal(nnpy.one_hot(labels, 3), np.eye(3)[labels])
    np.testing.assert_array_equal(nnpy.one_hot([1.0, 0.0], 2, np.float32),
                                  np.eye(2, dtype=np.float32)[[1, 0]])
    assert nnpy.one_hot([0], 4).dtype == np.float64


@pytest.mark.parametrize("bad, match", [([0, 3], "labels must be class indices 0..2"),
                                        ([0, -1], "labels must be class indices 0..2"),
                                        ([0.5, 1], "labels must be integer"),
                                        ([[0, 1]], "labels must be a 1-D"),
                                        ([0, np.nan], "labels must be integer")])
def test_one_hot_refuses_what_is_not_a_label(bad, match):
    with pytest.raises(ValueError, match=match):
        nnpy.one_hot(bad, 3)


@pytest.mark.parametrize("output, loss", [("softmax", "cross_entropy"), ("sigmoid", "mse"),
                                          ("sigmoid", "cross_entropy")])
def test_labels_train_as_their_one_hot_targets(output, loss):
    X, labels = problem()
    a = nnpy.Network([5, 4, 3], output=output, loss=loss, seed=1)
    b = a.copy()
    ha = a.fit(X, labels, epochs=5, lr=0.2, batch_size=7, validation=(X[:20], labels[:20]))
    hb = b.fit(X, nnpy.one_hot(labels, 3), epochs=5, lr=0.2, batch_size=7,
               validation=(X[:20], nnpy.one_hot(labels[:20], 3)))
    same_weights(a, b)
    assert ha.loss == hb.loss and ha.val_loss == hb.val_loss
    Y = nnpy.one_hot(labels, 3)
    assert a.accuracy(X, labels) == a.accuracy(X, Y)
    assert a.loss(X, labels) == a.loss(X, Y)
    expected = reference.loss([np.asarray(w) for w in a.weights],
                              [np.asarray(b) for b in a.biases], X, Y, output, loss)
    assert a.loss(X, labels) == pytest.approx(expected, rel=1e-10)


def test_one_sigmoid_output_takes_0_1_labels():
    X, labels = problem(k=2)
    net = nnpy.Network([5, 3, 1], loss="cross_entropy", seed=0)
    net.fit(X, labels, epochs=3, lr=0.5)
    assert net.accuracy(X, labels) == net.accuracy(X, labels.reshape(-1, 1).astype(float))


@pytest.mark.parametrize("bad, match", [([0, 1, 3], r"Y must be class indices 0\.\.2"),
                                        ([0, 1, 1.5], "Y must be integer class indices")])
def test_bad_labels_name_y(bad, match):
    X = np.zeros((3, 5))
    net = nnpy.Network([5, 3], output="softmax")
    with pytest.raises(ValueError, match=match):
        net.fit(X, bad, epochs=1, lr=0.1)
    with pytest.raises(ValueError, match=match):
        net.accuracy(X, bad)
    with pytest.raises(ValueError, match="validation Y must be class indices"):
        net.fit(X, [0, 1, 2], epochs=1, lr=0.1, validation=(X, [0, 1, 7]))


def test_predict_classes():
    X, labels = problem()
    soft = nnpy.Network([5, 4, 3], output="softmax", seed=0)
    np.testing.assert_array_equal(soft.predict_classes(X), soft.predict(X).argmax(axis=1))
    assert soft.predict_classes(X[0]).shape == ()
    one = nnpy.Network([5, 4, 1], seed=0)
    np.testing.assert_array_equal(one.predict_classes(X), (one.predict(X)[:, 0] > 0.5))
    assert one.predict_classes(X).dtype == np.intp
    # consistent with accuracy
    assert soft.accuracy(X, labels) == np.mean(soft.predict_classes(X) == labels)
    with pytest.raises(ValueError, match="predict_classes needs a classifier's output"):
        nnpy.Network([5, 1], output="identity").predict_classes(X)


def test_summary_counts_every_parameter():
    net = nnpy.Network([13, 16, 8, 3], activation="relu", output="softmax", dtype=np.float32)
    text = net.summary()
    assert isinstance(text, str)
    lines = text.splitlines()
    counts = [int(line.split()[-1]) for line in lines[2:-1]]
    assert counts == [0] + [w.size + b.size for w, b in zip(net.weights, net.biases)]
    assert f"total: {len(net.get_flat_params())} parameters" in lines[-1]
    assert "relu" in lines[3] and "softmax" in lines[-2] and "float32" in lines[0]


# ---- learning-rate schedules -------------------------------------------------------------

def epoch_by_epoch(net, X, Y, rates, **kw):
    """The reference: one fit per epoch with that epoch's rate (shuffle=False, so that fits
    of one epoch chain into the fit of several)."""
    for rate in rates:
        net.fit(X, Y, epochs=1, lr=rate, shuffle=False, **kw)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_callable_lr_is_the_fits_of_each_epochs_rate(optimizer):
    X, labels = problem()
    schedule = lambda epoch: 0.3 / (1 + epoch)
    a = nnpy.Network([5, 4, 3], output="softmax", seed=2)
    b = a.copy()
    kw = dict(batch_size=8, optimizer=optimizer,
              momentum=0.5 if optimizer == "sgd" else 0.0)
    h = a.fit(X, labels, epochs=6, lr=schedule, shuffle=False, **kw)
    epoch_by_epoch(b, X, labels, [schedule(e) for e in range(6)], **kw)
    same_weights(a, b)
    assert h.lr == [schedule(e) for e in range(6)]


def test_named_schedules_follow_their_formulas():
    X, labels = problem(n=40)
    n = len(X)
    cases = [(StepDecay(0.4, factor=0.5, every=2), [0.4 * 0.5 ** (e // 2) for e in range(7)]),
             (ExponentialDecay(0.4, gamma=0.8), [0.4 * 0.8 ** e for e in range(7)]),
             # scikit-learn's invscaling: learning_rate_init / (t + 1) ** power_t, t = samples
             (InverseScaling(0.4, power_t=0.3), [0.4 / (e * n + 1) ** 0.3 for e in range(7)])]
    for schedule, rates in cases:
        a = nnpy.Network([5, 4, 3], output="softmax", seed=3)
        b = a.copy()
        h = a.fit(X, labels, epochs=7, lr=schedule, batch_size=10, shuffle=False)
        np.testing.assert_allclose(h.lr, rates, rtol=1e-15)
        epoch_by_epoch(b, X, labels, h.lr, batch_size=10)
        same_weights(a, b)


def test_reduce_on_plateau_divides_after_patience():
    """Against torch's ReduceLROnPlateau(mode='min', threshold_mode='abs'), worked by hand."""
    sched = ReduceOnPlateau(1.0, factor=0.5, patience=1, min_delta=0.1)
    history = nnpy.History()
    losses = [1.0, 0.95, 0.97, 0.5, 0.45, 0.44, 0.43, 0.2]
    rates = [sched.rate(0, history, 10)]
    for e, value in enumerate(losses):
        history.loss.append(value)
        rates.append(sched.rate(e + 1, history, 10))
    # epoch 0 best 1.0; 0.95 and 0.97 do not improve by > 0.1: two bad epochs > patience 1
    # halve; 0.5 improves; 0.45, 0.44 bad -> halve; 0.43 bad (count 1); 0.2 improves
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    # a new fit (epoch 0) starts again from lr
    assert sched.rate(0, nnpy.History(), 10) == 1.0


def test_constant_lr_is_recorded_and_bad_rates_refused():
    X, labels = problem()
    net = nnpy.Network([5, 3], output="softmax")
    assert net.fit(X, labels, epochs=3, lr=0.1).lr == [0.1] * 3
    with pytest.raises(ValueError, match="lr at epoch 2 must be > 0"):
        net.fit(X, labels, epochs=4, lr=lambda e: 0.1 if e < 2 else 0.0)
    with pytest.raises(TypeError, match="schedule must return a number"):
        net.fit(X, labels, epochs=2, lr=lambda e: "fast")
    with pytest.raises(ValueError, match="lr must be > 0"):
        net.fit(X, labels, epochs=2, lr=-1.0)


# ---- early stopping ----------------------------------------------------------------------

def reference_early_stopping(net, X, Y, epochs, patience, min_delta, validation=None, **kw):
    """Epoch by epoch, by hand: (best epoch, epochs run, best weights)."""
    best, best_epoch, waited, best_params = np.inf, None, 0, None
    for epoch in range(epochs):
        h = net.fit(X, Y, epochs=1, shuffle=False, validation=validation, **kw)
        value = h.val_loss[-1] if validation is not None else h.loss[-1]
        if value < best - min_delta:
            best, best_epoch, waited, best_params = value, epoch, 0, net.get_flat_params()
        else:
            waited += 1
            if waited >= patience:
                return best_epoch, epoch + 1, best_params
    return best_epoch, epochs, best_params


@pytest.mark.parametrize("on_validation", [True, False])
def test_early_stopping_matches_the_epoch_by_epoch_reference(on_validation):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 5))
    labels = rng.integers(0, 3, 40)  # noise: the validation loss soon rises
    Xv, lv = rng.standard_normal((30, 5)), rng.integers(0, 3, 30)
    validation = (Xv, lv) if on_validation else None
    kw = dict(lr=2.0 if on_validation else 5.0, batch_size=4)
    a = nnpy.Network([5, 16, 3], output="softmax", seed=0)
    b = a.copy()
    h = a.fit(X, labels, epochs=300, shuffle=False, validation=validation, patience=4,
              min_delta=1e-3, **kw)
    best_epoch, ran, best_params = reference_early_stopping(b, X, labels, 300, 4, 1e-3,
                                                            validation, **kw)
    assert h.epochs == ran and h.best_epoch == best_epoch
    assert h.stopped_early == (ran < 300)
    if on_validation:
        assert h.stopped_early and best_epoch < ran - 1
    np.testing.assert_array_equal(a.get_flat_params(), best_params)


def test_early_stopping_without_restore_keeps_the_last_weights():
    X, labels = problem()
    a = nnpy.Network([5, 8, 3], output="softmax", seed=0)
    b = a.copy()
    h = a.fit(X, labels, epochs=50, lr=3.0, shuffle=False, patience=2, min_delta=10.0,
              restore_best=False)
    # min_delta 10: no epoch after the first improves, so the fit stops after 3 epochs
    assert (h.epochs, h.best_epoch, h.stopped_early) == (3, 0, True)
    b.fit(X, labels, epochs=3, lr=3.0, shuffle=False)
    same_weights(a, b)
    assert nnpy.Network([5, 3], output="softmax").fit(X, labels, epochs=2, lr=0.1).best_epoch \
        is None
    with pytest.raises(ValueError, match="patience must be at least 1"):
        a.fit(X, labels, epochs=2, lr=0.1, patience=0)


# ---- class_weight ------------------------------------------------------------------------

def test_balanced_is_scikit_learns_formula():
    sklearn_cw = pytest.importorskip("sklearn.utils.class_weight")
    y = np.array([0, 0, 0, 1, 2, 2, 0, 1, 0, 0])
    np.testing.assert_array_equal(
        class_weights("balanced", y, 3),
        sklearn_cw.compute_class_weight("balanced", classes=np.arange(3), y=y))
    # a class absent from y: the others as scikit-learn computes them over the present ones
    y = np.array([0, 0, 2, 2, 2])
    np.testing.assert_array_equal(
        class_weights("balanced", y, 3)[[0, 2]],
        sklearn_cw.compute_class_weight("balanced", classes=np.array([0, 2]), y=y))


@pytest.mark.parametrize("class_weight", ["balanced", {0: 0.5, 2: 3.0}])
@pytest.mark.parametrize("with_sample_weight", [False, True])
@pytest.mark.parametrize("as_labels", [False, True])
def test_class_weight_is_the_equivalent_sample_weight(class_weight, with_sample_weight,
                                                      as_labels):
    X, labels = problem(n=50)
    labels[labels == 1] = 0  # unbalanced: class 1 rare
    labels[:3] = [0, 1, 2]
    sw = np.random.default_rng(1).random(50) + 0.1 if with_sample_weight else None
    if class_weight == "balanced":
        counts = np.bincount(labels, minlength=3)
        per_class = len(labels) / (3 * counts.astype(float))
    else:
        per_class = np.array([0.5, 1.0, 3.0])
    equivalent = per_class[labels] * (1.0 if sw is None else sw)
    Y = labels if as_labels else nnpy.one_hot(labels, 3)
    a = nnpy.Network([5, 4, 3], output="softmax", seed=4)
    b = a.copy()
    ha = a.fit(X, Y, epochs=4, lr=0.3, batch_size=6, class_weight=class_weight,
               sample_weight=sw)
    hb = b.fit(X, Y, epochs=4, lr=0.3, batch_size=6, sample_weight=equivalent)
    same_weights(a, b)
    assert ha.loss == hb.loss


def test_class_weight_for_one_sigmoid_output_and_refusals():
    X, labels = problem(k=2)
    a = nnpy.Network([5, 3, 1], loss="cross_entropy", seed=0)
    b = a.copy()
    a.fit(X, labels, epochs=3, lr=0.5, class_weight={1: 4.0})
    b.fit(X, labels, epochs=3, lr=0.5, sample_weight=np.where(labels == 1, 4.0, 1.0))
    same_weights(a, b)
    with pytest.raises(ValueError, match="class_weight needs a classifier's output"):
        nnpy.Network([5, 1], output="identity").fit(X, labels, epochs=1, lr=0.1,
                                                     class_weight="balanced")
    soft = nnpy.Network([5, 2], output="softmax")
    with pytest.raises(ValueError, match="Y must be one-hot rows"):
        soft.fit(X, np.full((len(X), 2), 0.5), epochs=1, lr=0.1, class_weight="balanced")
    with pytest.raises(ValueError, match="keys must be class indices 0..1"):
        soft.fit(X, labels, epochs=1, lr=0.1, class_weight={2: 1.0})
    with pytest.raises(ValueError, match="class_weight must be None, 'balanced'"):
        soft.fit(X, labels, epochs=1, lr=0.1, class_weight="auto")
