"""The core's and Network's safety floor.

* every compiled entry point that writes into a caller's array refuses a read-only or
  self-overlapping (stride-0, as_strided) array with a ValueError naming it, before any write;
* threads: every read and write of the weights goes through the guard (assignment waits for
  reads, a fit refuses everything from other threads), a batch predict never mixes two sets of
  weights, in-place writes into the weight views are refused;
* nothing is allocated in proportion to `epochs`; a callback's np.False_ stops training;
* weights made non-finite in place are named, not blamed on the learning rate;
* cross-entropy keeps full relative precision on confidently right samples.
Overlap between threads is proven with barriers and events, never with sleeps.
"""
import pickle
import threading
import time

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import nnpy
from nnpy import Network, reference
from nnpy._dispatch import core

TIMEOUT = 300  # seconds: a hung thread fails the test instead of hanging the suite


# ---------------------------------------------------------------------------------------------
# The kernels refuse outputs they must not write into
# ---------------------------------------------------------------------------------------------

def _read_only(shape, dtype=np.float64):
    a = np.zeros(shape, dtype)
    a.flags.writeable = False
    return a


def _stride0(shape, dtype=np.float64):
    """A writeable array whose rows are all the same memory (what broadcast_to gives, but
    writeable, as as_strided makes it)."""
    base = np.zeros(shape[-1], dtype)
    return as_strided(base, shape=shape, strides=(0, base.itemsize))


def _kernel_call(name):
    """(call, shape): call(out) runs the kernel entry point `name` ("function.argument") with
    `out` as that output argument, of that shape, and everything else valid."""
    w = np.ones((3, 2))
    x = np.ones((2, 4))
    X, Y = np.ones((5, 2)), np.ones((5, 1))

    def model():
        return core.Model([2, 3, 1], core.ACT_SIGMOID, core.ACT_SIGMOID, core.LOSS_MSE)

    def train(params):
        opt = core.Optimizer(core.OPT_SGD, 0.1, np.zeros(1, np.int64))
        work = np.empty(model().train_work_size(5, 256, opt))
        core.train(model(), opt, core.Epochs(5, 5, 256, False, 0), params, np.empty(0), X, Y,
                   np.empty(0), np.empty(1), 1, work, False)

    n_params = 13  # of [2, 3, 1]
    calls = {
        "sigmoid_array.out": (lambda o: core.sigmoid_array(np.ones(4), o), (4,)),
        "sigmoid_prime_array.out": (lambda o: core.sigmoid_prime_array(np.ones(4), o), (4,)),
        "matmul.c": (lambda o: core.matmul(1.0, w, x, 0.0, o,
                                           np.empty(core.matmul_work_size(3, 4, 2))), (3, 4)),
        "axpy.y": (lambda o: core.axpy(1.0, np.ones((3, 4)), o), (3, 4)),
        "layer_forward.z": (lambda o: core.layer_forward(
            w, np.ones((3, 1)), x, o, np.empty((3, 4)), np.empty(core.matmul_work_size(3, 4, 2))),
            (3, 4)),
        "layer_forward.a": (lambda o: core.layer_forward(
            w, np.ones((3, 1)), x, np.empty((3, 4)), o, np.empty(core.matmul_work_size(3, 4, 2))),
            (3, 4)),
        "delta_times_sigmoid_prime.delta": (lambda o: core.delta_times_sigmoid_prime(
            1.0, np.ones((3, 4)), np.ones((3, 4)), o), (3, 4)),
        "forward.out": (lambda o: core.forward(model(), np.ones(n_params), X, o,
                                               np.empty(model().work_size(5)), 5), (5, 1)),
        "loss_and_gradient.grads": (lambda o: core.loss_and_gradient(
            model(), np.ones(n_params), X, Y, np.empty(0), 0.0, o,
            np.empty(model().work_size(5)), 5), (n_params,)),
        "train.params": (train, (n_params,)),
    }
    return calls[name]


KERNEL_OUTPUTS = ["sigmoid_array.out", "sigmoid_prime_array.out", "matmul.c", "axpy.y",
                  "layer_forward.z", "layer_forward.a", "delta_times_sigmoid_prime.delta",
                  "forward.out", "loss_and_gradient.grads", "train.params"]


@pytest.mark.parametrize("name", KERNEL_OUTPUTS)
def test_kernels_refuse_read_only_outputs_naming_them(name):
    call, shape = _kernel_call(name)
    out = _read_only(shape)
    with pytest.raises(ValueError, match=rf"\b{name.split('.')[1]}\b.*read-only"):
        call(out)
    assert not out.any()


@pytest.mark.parametrize("name", [n for n in KERNEL_OUTPUTS if n in (
    "matmul.c", "axpy.y", "layer_forward.z", "layer_forward.a",
    "delta_times_sigmoid_prime.delta", "forward.out")])
def test_kernels_refuse_self_overlapping_outputs_naming_them(name):
    call, shape = _kernel_call(name)
    out = _stride0(shape)
    with pytest.raises(ValueError, match=rf"\b{name.split('.')[1]}\b.*more than once"):
        call(out)
    assert not out.any()


def test_axpy_refuses_an_interleaved_view_and_a_memory_map(tmp_path):
    base = np.zeros(8)
    interleaved = as_strided(base, shape=(3, 4), strides=(16, 8))  # rows overlap by half
    with pytest.raises(ValueError, match="y reaches some elements more than once"):
        core.axpy(1.0, np.ones((3, 4)), interleaved)
    assert not base.any()
    np.save(tmp_path / "y.npy", np.zeros((3, 4)))
    mapped = np.load(tmp_path / "y.npy", mmap_mode="r")
    with pytest.raises(ValueError, match="y is read-only"):
        core.axpy(1.0, np.ones((3, 4)), mapped)


def test_matmul_refuses_a_result_overlapping_its_factors():
    a = np.ones((4, 4))
    with pytest.raises(ValueError, match="c overlaps a"):
        core.matmul(1.0, a, np.ones((4, 4)), 0.0, a, np.empty(core.matmul_work_size(4, 4, 4)))
    assert np.all(a == 1)


def test_rng_and_order_outputs_are_checked():
    with pytest.raises(ValueError, match="rng is read-only"):
        core.seed_rng(_read_only(4, np.uint64), 1)
    with pytest.raises(ValueError, match="order is read-only"):
        core.permutation_step(_read_only(5, np.intp), np.zeros(4, np.uint64))


def test_post_api_python_path_refuses_read_only_weights():
    """nnpy.post's Python fallback writes the update through core.axpy: a read-only W_0 is
    refused with a ValueError (as the post's numpy code raises) and not written."""
    from nnpy import post
    np.random.seed(0)
    params = nnpy.init_net(2, 2, 1)
    params = nnpy.forwardPass(np.array([1.0, 0.0]), np.array([1.0]), params)
    w0 = params["theta"]["W_0"]
    before = w0.copy()
    w0.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        post._back_propagation(params, 0.5, True, False)
    np.testing.assert_array_equal(w0, before)


# ---------------------------------------------------------------------------------------------
# Threads: everything that reads or writes the weights goes through the guard
# ---------------------------------------------------------------------------------------------

def _data(n=200, n_in=8, n_out=3, seed=0):
    r = np.random.default_rng(seed)
    return r.random((n, n_in)), np.eye(n_out)[r.integers(0, n_out, n)]


class FitInThread:
    """Runs net.fit in a thread whose callback, after the first epoch, waits at a barrier
    with the test and then for `release`: between the barrier and release the fit is surely
    under way (the core is idle, but the guard is held), so what the test does there overlaps
    it."""

    def __init__(self, net, X, Y, **kwargs):
        self.barrier = threading.Barrier(2, timeout=TIMEOUT)
        self.release = threading.Event()
        self.result = []

        def callback(epoch, history):
            if epoch == 0:
                self.barrier.wait()
                assert self.release.wait(TIMEOUT)
            return True

        def run():
            try:
                self.result.append(net.fit(X, Y, callback=callback, **kwargs))
            except BaseException as err:  # noqa: B902 - reported to the test
                self.result.append(err)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        self.barrier.wait()

    def finish(self):
        self.release.set()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()
        assert not isinstance(self.result[0], BaseException), repr(self.result[0])
        return self.result[0]


OVERLAPPING = {   # on a Network([8, 8, 3]) (as wide as the post's dicts need)
    "assign weights[0]": lambda net: net.weights.__setitem__(0, np.zeros((8, 8))),
    "assign weights": lambda net: setattr(net, "weights", [np.zeros((8, 8)), np.zeros((3, 8))]),
    "assign biases": lambda net: setattr(net, "biases", [np.zeros(8), np.zeros(3)]),
    "set_flat_params": lambda net: net.set_flat_params(np.zeros(99)),
    "reset_optimizer": lambda net: net.reset_optimizer(),
    "save": lambda net: net.save(net._test_path),
    "copy": lambda net: net.copy(),
    "pickle": lambda net: pickle.dumps(net),
    "to_params": lambda net: net.to_params(),
    "get_flat_params": lambda net: net.get_flat_params(),
    "optimizer_state": lambda net: net.optimizer_state,
    "predict one sample": lambda net: net.predict(np.ones(8)),
    "predict": lambda net: net.predict(np.ones((5, 8))),
    "fit": lambda net: net.fit(np.ones((5, 8)), np.ones((5, 3)), epochs=1, lr=0.1),
}


@pytest.mark.parametrize("operation", sorted(OVERLAPPING))
def test_everything_overlapping_a_fit_from_another_thread_is_refused(operation, tmp_path):
    X, Y = _data()
    net = Network([8, 8, 3], seed=0)
    net._test_path = tmp_path / "net.npz"
    ref = net.copy()
    fit = FitInThread(net, X, Y, epochs=3, lr=0.5, batch_size=10, momentum=0.5)
    try:
        with pytest.raises(RuntimeError, match="being trained by fit in another thread"):
            OVERLAPPING[operation](net)
    finally:
        fit.finish()
    assert not net._test_path.exists()
    # the refused operation changed nothing: the weights are those of the fit alone
    ref.fit(X, Y, epochs=3, lr=0.5, batch_size=10, momentum=0.5, callback=lambda e, h: True)
    np.testing.assert_array_equal(net.get_flat_params(), ref.get_flat_params())


def test_a_fit_may_assign_and_read_from_its_own_callback():
    X, Y = _data()
    net = Network([8, 4, 3], seed=0)
    seen = []

    def callback(epoch, history):
        net.weights[1] = np.zeros((3, 4))   # allowed: the core is not running
        seen.append((net.predict(X[:2]).copy(), net.get_flat_params()))
        return epoch < 1

    net.fit(X, Y, epochs=5, lr=0.5, callback=callback)
    assert len(seen) == 2
    assert np.all(seen[0][1][36:48] == 0)  # weights[1] is zero right after the assignment


def test_batch_predictions_never_mix_two_sets_of_weights():
    """One thread assigns A and B in turn while another predicts 4000 rows: every prediction is
    A's or B's (the assignment waits for the prediction under way, and it for the assignment)."""
    r = np.random.default_rng(1)
    X = r.random((4000, 32))
    net = Network([32, 64, 10], seed=0)
    A = [w.copy() for w in net.weights]
    B = [w * -0.5 for w in A]
    out_a = net.predict(X)
    net.weights = B
    out_b = net.predict(X)
    assert not np.array_equal(out_a, out_b)
    start = threading.Barrier(2, timeout=TIMEOUT)
    done = threading.Event()
    outputs, errors = [], []

    def assigner():
        start.wait()
        i = 0
        while not done.is_set():
            net.weights = A if i % 2 == 0 else B
            i += 1

    def predictor():
        start.wait()
        try:
            for _ in range(60):
                outputs.append(net.predict(X))
        except BaseException as err:  # noqa: B902
            errors.append(err)
        finally:
            done.set()

    threads = [threading.Thread(target=t, daemon=True) for t in (assigner, predictor)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive()
    assert not errors, errors
    mixed = sum(not (np.array_equal(o, out_a) or np.array_equal(o, out_b)) for o in outputs)
    assert mixed == 0, f"{mixed} of {len(outputs)} predictions mixed two sets of weights"


def _wait_until(condition):
    """Polls a condition about another thread's state (never a fixed sleep)."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "the other thread never got there"
        time.sleep(0.001)


def test_a_read_waits_for_an_assignment_under_way_and_sees_all_of_it():
    """A writer holds the guard (as an assignment does while it copies); a one-sample predict
    and a batch predict from other threads wait for it (the one-sample path does not read
    half-written weights) and then see the new weights only."""
    net = Network([8, 5, 3], seed=0)
    x = np.linspace(0, 1, 8)
    new = [w * 2 for w in net.weights]
    expected = reference.predict(new, list(net.biases), x[None, :])[0]
    inside, go = threading.Event(), threading.Event()
    results = {}

    def writer():
        with net._guard.write():
            inside.set()
            assert go.wait(TIMEOUT)
            for l, w in enumerate(new):
                net._write_layer("weights", l, w)

    def reader(name, call):
        results[name] = call()

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    assert inside.wait(TIMEOUT)
    readers = [threading.Thread(target=reader, args=(name, call), daemon=True)
               for name, call in (("one", lambda: net.predict(x)),
                                  ("batch", lambda: net.predict(x[None, :])[0]))]
    for t in readers:
        t.start()
    _wait_until(lambda: len(net._guard._cond._waiters) == 2)  # both blocked on the guard
    assert not results
    go.set()
    for t in [w] + readers:
        t.join(TIMEOUT)
        assert not t.is_alive()
    for name in ("one", "batch"):
        np.testing.assert_allclose(results[name], expected, rtol=1e-12, err_msg=name)


def test_predict_one_refuses_while_another_thread_holds_the_network():
    net = Network([4, 3, 2], seed=0)

    class Guard:
        _exclusive = threading.get_ident() + 1  # another thread's write or fit

    assert core.predict_one(net._model(), net._flat, np.ones(4), Guard) is None
    Guard._exclusive = None
    out = core.predict_one(net._model(), net._flat, np.ones(4), Guard)
    np.testing.assert_allclose(out, net.predict(np.ones((2, 4)))[0], rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_one_takes_one_sample_and_leaves_the_rest_to_the_general_path(dtype):
    net = Network([4, 3, 2], dtype=dtype, seed=0)
    rows = np.arange(12, dtype=dtype).reshape(3, 4) / 10
    expected = net.predict(rows)  # the general path (3 rows)

    class Guard:
        _exclusive = None

    def one(x):
        return core.predict_one(net._forward_model, net._flat, x, Guard)

    for x, shape in ((rows[1], (2,)), (rows[1:2], (1, 2))):
        out = one(x)
        assert out.shape == shape and out.dtype == dtype and out.flags.writeable
        np.testing.assert_array_equal(out.reshape(-1), expected[1])
        assert net.predict(x).shape == shape
    other = np.float32 if dtype == np.float64 else np.float64
    irregular = [rows[1].astype(other), rows[:2], rows[1:2].T, rows[:, 1], rows[1, :3],
                 rows[1].tolist(), rows[1].reshape(1, 1, 4), rows[1].astype(np.int64),
                 np.full(4, np.nan, dtype), rows[1].view(rows.dtype.newbyteorder()),
                 np.array(1.0, dtype)]
    for x in irregular:  # taken by predict's general path, which converts or raises
        assert one(x) is None, x
    with pytest.raises(ValueError, match="X"):
        net.predict(np.full(4, np.nan, dtype))
    with pytest.raises(ValueError, match="X"):
        net.predict(rows[1, :3])
    np.testing.assert_allclose(net.predict(rows[1].tolist()), expected[1], rtol=1e-6)


def test_weight_views_are_read_only_and_say_to_assign():
    net = Network([3, 4, 2], seed=0)
    before = net.get_flat_params()
    with pytest.raises(ValueError, match=r"net.weights\[0\] is a read-only view.*assign"):
        net.weights[0][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"net.biases\[1\] is a read-only view.*assign"):
        net.biases[1][:] = 0
    with pytest.raises(ValueError, match="read-only"):
        net.weights[1] += 1
    np.testing.assert_array_equal(net.get_flat_params(), before)
    # what is computed from a view is an ordinary, writeable array
    doubled = net.weights[0] * 2
    assert type(doubled) is np.ndarray and doubled.flags.writeable
    assert type(net.weights[0].sum()) is np.float64 and type(net.weights[0] @ np.ones(3)) is np.ndarray
    assert repr(net.weights[0]).startswith("array([[")
    copy = net.weights[0].copy()
    copy[0, 0] = 5.0
    net.weights[0] = copy
    assert net.weights[0][0, 0] == 5.0


# ---------------------------------------------------------------------------------------------
# Epochs, callbacks, non-finite weights, messages
# ---------------------------------------------------------------------------------------------

def test_nothing_is_allocated_in_proportion_to_epochs():
    X, Y = _data(n=50)
    net = Network([8, 4, 3], seed=0)
    history = net.fit(X, Y, epochs=10 ** 12, lr=0.5, callback=lambda e, h: e < 2)
    assert history.epochs == 3
    # without a callback, a budget-cut run with a huge bound stops on Ctrl-C or divergence
    # only; here a shorter bound checks the per-call buffers at the seams between calls
    a, b = Network([8, 4, 3], seed=1), Network([8, 4, 3], seed=1)
    la = a.fit(X, Y, epochs=300, lr=0.5, shuffle=False).loss
    lb = []
    for _ in range(3):
        lb += b.fit(X, Y, epochs=100, lr=0.5, shuffle=False).loss
    assert la == lb


@pytest.mark.parametrize("stop", [False, np.False_, np.bool_(False)])
def test_a_callback_returning_numpy_false_stops(stop):
    X, Y = _data(n=20)
    net = Network([8, 4, 3], seed=0)
    history = net.fit(X, Y, epochs=100, lr=0.1, callback=lambda e, h: stop if e == 1 else True)
    assert history.epochs == 2
    # None, True and other values keep going
    assert net.fit(X, Y, epochs=3, lr=0.1, callback=lambda e, h: None).epochs == 3


def _poison(net, layer, index, value=np.nan):
    """Writes past the read-only view, as only deliberate code can."""
    view = np.asarray(net.weights[layer])
    view.flags.writeable = True
    view[index] = value


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_weights_are_named_not_blamed_on_the_learning_rate(value, tmp_path):
    X, Y = _data(n=20)
    net = Network([8, 4, 3], seed=0)
    _poison(net, 1, (2, 1), value)
    message = r"not finite: weights\[1\] holds (nan|inf) at index \(2, 1\)"
    calls = [lambda: net.predict(X), lambda: net.loss(X, Y), lambda: net.gradients(X, Y),
             lambda: net.save(tmp_path / "n.npz")]
    if np.isnan(value):
        # the one-sample path checks its output: NaN sends it the general way, which names
        # the weight (an infinite weight may still give a finite, saturated output there)
        calls.append(lambda: net.predict(X[0]))
    for call in calls:
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(ValueError, match=message) as info:
        net.fit(X, Y, epochs=1, lr=0.1)
    assert not isinstance(info.value, nnpy.TrainingDiverged)
    assert "lr" not in str(info.value)


def test_assigning_a_bad_second_layer_names_it():
    net = Network([3, 4, 2], seed=0)
    before = net.get_flat_params()
    with pytest.raises(ValueError, match=r"weights\[1\] contains NaN"):
        net.weights = [np.zeros((4, 3)), np.full((2, 4), np.nan)]
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape \(2, 4\)"):
        net.weights = [np.zeros((4, 3)), np.zeros((4, 2))]
    with pytest.raises(ValueError, match=r"biases\[1\] contains infinity"):
        net.biases = [np.zeros(4), [0, np.inf]]
    with pytest.raises(ValueError, match=r"weights\[1\] contains NaN"):
        net.weights[-1] = np.full((2, 4), np.nan)
    np.testing.assert_array_equal(net.get_flat_params(), before)


# ---------------------------------------------------------------------------------------------
# Cross-entropy keeps its precision on confidently right samples
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_cross_entropy_of_confident_samples(dtype):
    net = Network([1, 1], loss="cross_entropy", dtype=dtype)
    net.weights, net.biases = [[[1.0]]], [[0.0]]
    tail = {30: 9.357622968840175e-14, 40: 4.248354255291589e-18}  # log1p(exp(-z))
    for z, y, exact in [(30, 1, tail[30]), (40, 1, tail[40]), (-30, 0, tail[30]),
                        (-40, 0, tail[40]), (30, 0, 30 + tail[30]), (-40, 1, 40 + tail[40])]:
        assert net.loss([[z]], [[y]]) == pytest.approx(exact, rel=1e-12), (z, y)
        ref = reference.sample_losses(None, np.array([[float(z)]]), np.array([[float(y)]]),
                                      "sigmoid", "cross_entropy")[0]
        assert ref == pytest.approx(exact, rel=1e-12), (z, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_cross_entropy_of_confident_samples(dtype):
    net = Network([2, 3], output="softmax", dtype=dtype)
    net.weights, net.biases = [np.eye(3, 2)], [np.zeros(3)]
    # z = (40, 0, 0), class 0: loss = log(1 + 2 exp(-40))
    exact = np.log1p(2 * np.exp(-40.0))
    assert net.loss([[40.0, 0.0]], [[1.0, 0.0, 0.0]]) == pytest.approx(exact, rel=1e-12)
    z = np.array([[40.0, 0.0, 0.0]])
    assert reference.sample_losses(None, z, np.array([[1.0, 0, 0]]), "softmax",
                                   "cross_entropy")[0] == pytest.approx(exact, rel=1e-12)
    # the wrong class: 40 + log(1 + 2 exp(-40))
    assert net.loss([[40.0, 0.0]], [[0.0, 1.0, 0.0]]) == pytest.approx(40 + exact, rel=1e-12)
