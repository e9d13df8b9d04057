"""fit's default thread count (n_threads=None): before each call into the core it counts the
tasks of other processes runnable at that moment (nnpy._load, from Linux's /proc) and uses only
the cores they leave free, so that a busy machine never makes the default slower than one
thread (shown by the W3-load benchmark, not here: no timings on a shared machine).

* the count: the machine's runnable tasks less this thread's and its OpenMP workers' (another
  Python thread of this process counts as another task), read from a fake /proc;
* fit asks again before every core call, uses min(free, the most it may) each time, never asks
  for an explicit n_threads or for work too small to be split, and the weights stay
  bit-identical however the count changes from call to call;
* a real busy process is seen.
"""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import nnpy._training as training
from nnpy import Network, _load
from nnpy._dispatch import core

linux_proc = pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="needs Linux's /proc")


def _fake_proc(tmp_path, monkeypatch, running, states):
    """/proc/loadavg with `running` runnable tasks and /proc/self/task with {tid: state}."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "loadavg").write_text(f"0.50 0.40 0.30 {running}/321 4567\n")
    tasks = tmp_path / "task"
    for tid, state in states.items():
        (tasks / str(tid)).mkdir(parents=True)
        # a command name with ") R (" in it: the state is read after the last ")"
        (tasks / str(tid) / "stat").write_text(f"{tid} (odd) R (name) {state} 1 2 3 4\n")
    monkeypatch.setattr(_load, "_LOADAVG", str(tmp_path / "loadavg"))
    monkeypatch.setattr(_load, "_TASKS", str(tasks))


def test_own_threads_are_not_counted_as_others(tmp_path, monkeypatch):
    me = threading.get_native_id()
    # this thread and an OpenMP worker running, one sleeping: 5 runnable = 3 others
    _fake_proc(tmp_path, monkeypatch, 5, {me: "R", 900001: "R", 900002: "S"})
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert _load.others_running() == 3
    assert _load.free_cores(2) == 1 and _load.free_cores(8) == 5
    _fake_proc(tmp_path / "idle", monkeypatch, 2, {me: "R", 900001: "R"})
    assert _load.others_running() == 0 and _load.free_cores(2) == 2


def test_another_python_thread_of_this_process_counts_as_another_task(tmp_path, monkeypatch):
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        me = threading.get_native_id()
        _fake_proc(tmp_path, monkeypatch, 3, {me: "R", other.native_id: "R", 900003: "R"})
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
        assert _load.others_running() == 1  # the other Python thread (a second fit)
    finally:
        stop.set()
        other.join()


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")
def test_others_are_scaled_to_the_cpus_this_process_may_use(tmp_path, monkeypatch):
    me = threading.get_native_id()
    _fake_proc(tmp_path, monkeypatch, 17, {me: "R"})  # 16 others on a 64-CPU machine
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert _load.others_running() == 1  # 16 * 4 / 64


def test_unreadable_counts_mean_every_core(tmp_path, monkeypatch):
    monkeypatch.setattr(_load, "_LOADAVG", str(tmp_path / "no-such-file"))
    assert _load.others_running() is None and _load.free_cores(4) is None
    monkeypatch.setattr(training._load, "free_cores", lambda cores: None)
    assert training.free_threads(2) == 2


def _w3_like(n=640, seed=0):
    r = np.random.default_rng(seed)
    return r.standard_normal((n, 784)), np.eye(10)[r.integers(0, 10, n)]


@pytest.fixture
def calls(monkeypatch):
    """Records the threads of every core.train call and every free-core count fit asks for;
    the free cores follow the list in calls["free"] round and round."""
    record = {"train": [], "asked": 0, "free": [2]}
    train = core.train

    def counting_train(*args):
        record["train"].append(args[-1])
        return train(*args)

    def free(cores):
        record["asked"] += 1
        return record["free"][(record["asked"] - 1) % len(record["free"])]

    monkeypatch.setattr(core, "train", counting_train)
    monkeypatch.setattr(training._load, "free_cores", free)
    monkeypatch.setattr(training, "available_cores", lambda: 2)
    return record


def test_fit_counts_free_cores_before_every_core_call(calls):
    most = training.thread_limit(None)
    X, Y = _w3_like()
    calls["free"] = [1, 2, 2, 1]
    net = Network((784, 256, 10), seed=0)
    net.fit(X, Y, epochs=3, lr=0.1, batch_size=128)
    assert len(calls["train"]) > 1 and calls["asked"] == len(calls["train"])
    expected = [min(most, calls["free"][i % 4]) for i in range(len(calls["train"]))]
    assert calls["train"] == expected


def test_explicit_n_threads_and_small_work_do_not_count(calls):
    X, Y = _w3_like(n=300)
    Network((784, 256, 10), seed=0).fit(X, Y, epochs=2, lr=0.1, batch_size=128, n_threads=2)
    r = np.random.default_rng(1)
    # W2's shape (64-32-10, batch 10): no product or loop of it is split, whatever fit allows
    Network((64, 32, 10), seed=0).fit(r.random((200, 64)), np.eye(10)[r.integers(0, 10, 200)],
                                      epochs=3, lr=0.5, batch_size=10)
    assert calls["asked"] == 0
    assert calls["train"][0] == min(2, core.max_threads())


@pytest.mark.skipif(not core.OPENMP or core.max_threads() < 2,
                    reason="needs OpenMP and two threads")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weights_are_the_same_when_the_count_changes_between_calls(calls, dtype):
    X, Y = (a.astype(dtype) for a in _w3_like())
    calls["free"] = [2, 1, 1, 2, 1]
    nets = [Network((784, 256, 10), seed=4, dtype=dtype) for _ in range(2)]
    nets[0].fit(X, Y, epochs=4, lr=0.1, batch_size=128, momentum=0.9)
    assert set(calls["train"]) == {1, 2}
    nets[1].fit(X, Y, epochs=4, lr=0.1, batch_size=128, momentum=0.9, n_threads=1)
    for a, b in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        np.testing.assert_array_equal(a, b)


@linux_proc
def test_a_busy_process_is_counted():
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.monotonic() + 60\n"
                             "while time.monotonic() < end:\n    pass\n"])
    try:
        time.sleep(0.5)
        seen = [_load.others_running() for _ in range(5)]
    finally:
        busy.kill()
        busy.wait()
    # a busy loop is runnable all the time: every count includes it (others may add to it)
    assert min(seen) >= 1
