"""Network.fit's machinery: its arguments checked into a plan (plan_fit), the loop that hands
whole epochs to the core in calls of about 50 ms (run_fit), the work after an epoch that comes
back to Python (epoch_done), and the threads each call may use. NetworkStack runs its members
through the same functions."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

from . import _load, _model
from ._dispatch import core
from ._epochs import EpochControl, labels_as_targets
from ._evaluation import accuracy, overflow_error
from ._sparse import as_rows, dense_x, sparse_kw
from ._validation import (as_float, as_int, as_sample_weight, as_targets,
                          scaled_alpha)
from .history import History, TrainingDiverged
from .labels import ClassWeight, classes_of, weighted_samples
from .optimizers import Optimizer, OptimizerState, from_fit_arguments

if TYPE_CHECKING:
    from tqdm.auto import tqdm as _Tqdm

    from .network import Callback, FloatArray, LearningRate, Loss, Network

__all__ = ["FitPlan", "StartOverflow", "plan_fit", "run_fit", "epoch_done", "fit_start",
           "overflow_stop", "member_stopped", "state_for", "diverged", "thread_limit",
           "free_threads",
           "available_cores", "first_budget", "next_budget", "progress_bar", "TRAIN_BLOCK"]

_CALL_SECONDS = 0.05   # target length of one call into the core: overhead against latency
_FIRST_CALL_RATE = 1e8  # rows x (parameters + 100) a second the first call assumes: 10x to 100x
                        # below what fit runs at (W1 1e9, W3 1e10), so the first call is short
TRAIN_BLOCK = 256      # rows per forward/backward block of a batch: bounds fit's workspace, and
                       # how often a long batch looks for Ctrl-C
_PARALLEL_WORK = 1 << 15  # rows of a block x parameters below which the core keeps a batch on
                          # one thread whatever fit allows (its smallest threshold: two
                          # threads' element-wise work): fit counts free cores only above it

Start = Tuple["FloatArray", Optional[OptimizerState]]  # weights and optimiser state fit began with


class StartOverflow(Exception):
    """Raised by run_fit when the weights fit started from overflow on X (fit raises `error`,
    the core's ValueError, as predict and loss do)."""

    def __init__(self, error: ValueError) -> None:
        super().__init__(str(error))
        self.error = error


def diverged(epoch: int, lr: float) -> TrainingDiverged:
    """fit's error for a step that would make a weight or the optimiser state non-finite."""
    return TrainingDiverged(
        f"training diverged in epoch {epoch}: a step would have made a weight infinite or NaN "
        f"(lr={lr}); the weights before that step are kept. Try a smaller lr.")


@dataclass
class FitPlan:
    """Network.fit's arguments, checked and converted (plan_fit): what its training loop
    (run_fit) runs on."""
    X: FloatArray
    Y: FloatArray
    epochs: int
    batch_size: int             # at most len(X)
    loss: Optional[Loss]        # as given (validation's loss)
    loss_name: str              # the checked loss trained
    shuffle: bool
    optimizer: Optimizer        # its settings; the state stays on the network
    l2: float
    alpha: float                # scaled with the sample weights (scaled_alpha)
    sample_weight: FloatArray   # scaled (as_sample_weight); empty: every weight 1
    control: EpochControl       # learning rate per epoch, early stopping
    validation: Optional[Tuple[FloatArray, FloatArray]]
    callback: Optional[Callback]
    most: int                   # the most threads a core call may use
    adapt_threads: bool         # n_threads was None: count the free cores before each call
    dropout: float = 0.0        # the hidden layers' dropout rate (0: none)

    def core_optimizer(self, lr: float, state: OptimizerState) -> Any:
        """A core.Optimizer at learning rate lr on the kept state."""
        return self.optimizer.core_optimizer(lr, state.steps, l2=self.l2, alpha=self.alpha)


def plan_fit(net: Network, X: npt.ArrayLike, Y: npt.ArrayLike, *, epochs: int,
             lr: LearningRate, batch_size: int, loss: Optional[Loss], shuffle: bool,
             optimizer: Any, momentum: float, nesterov: bool, betas: Tuple[float, float],
             eps: float, l2: float, alpha: float, sample_weight: Optional[npt.ArrayLike],
             validation: Optional[Tuple[npt.ArrayLike, npt.ArrayLike]],
             callback: Optional[Callback], n_threads: Optional[int], patience: Optional[int],
             min_delta: float, restore_best: bool, class_weight: ClassWeight,
             dropout: float = 0.0) -> FitPlan:
    """fit's arguments checked and converted (ValueError/TypeError for a bad one), before
    anything is trained."""
    epochs = as_int(epochs, "epochs", 0)
    batch_size = as_int(batch_size, "batch_size", 1)
    loss_name = net._check_loss(loss)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
    checked_optimizer = from_fit_arguments(optimizer, momentum, nesterov, betas, eps)
    l2 = as_float(l2, "l2", minimum=0.0)
    alpha = as_float(alpha, "alpha", minimum=0.0)
    dropout = as_float(dropout, "dropout", minimum=0.0, below=1.0)
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable as callback(epoch, history)")
    X, Y = net._xy(X, Y, loss_name)
    control = EpochControl(lr, patience, min_delta, restore_best, len(X))
    if class_weight is not None:
        sample_weight = class_weighted(net, Y, class_weight, sample_weight)
    sw, weight_scale = as_sample_weight(sample_weight, len(X), net.dtype)
    alpha = scaled_alpha(alpha, weight_scale, net.dtype)
    checked_validation = None
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError("validation must be a pair (X_val, Y_val)")
        n_out = net.sizes[-1]
        Xv, _ = as_rows(validation[0], "validation X", net.dtype, net.sizes[0])
        Yv = as_targets(labels_as_targets(validation[1], "validation Y", len(Xv), net.output,
                                          n_out, net.dtype),
                        "validation Y", len(Xv), n_out, net.dtype)
        _model.check_targets(Yv, "validation Y", net.output, loss_name)
        checked_validation = (Xv, Yv)
    most = thread_limit(n_threads)
    return FitPlan(X, Y, epochs, min(batch_size, len(X)), loss, loss_name, bool(shuffle),
                   checked_optimizer, l2, alpha, sw, control, checked_validation, callback, most,
                   n_threads is None, dropout)


def class_weighted(net: Network, Y: FloatArray, class_weight: ClassWeight,
                   sample_weight: Optional[npt.ArrayLike]) -> npt.NDArray[np.float64]:
    """sample_weight times each row's class weight (see fit's class_weight), float64."""
    if net.output == "identity":
        raise ValueError("class_weight needs a classifier's output (softmax or sigmoid); "
                         "this network's output is 'identity'")
    classes = classes_of(Y, "Y")
    return weighted_samples(class_weight, classes, max(net.sizes[-1], 2), sample_weight)


def run_fit(net: Network, plan: FitPlan, history: History, bar: Optional[_Tqdm],
            postfix: Optional[Dict[str, Any]] = None) -> Optional[str]:
    """fit's training of `net` on a checked plan, recording into `history`; the caller holds
    the network for training (its guard, or a network no one else sees). Returns why it
    stopped before plan.epochs: "callback", "patience", or None. Raises TrainingDiverged
    (weights and state of the last finite step kept), or StartOverflow when the weights it
    started from overflow on X (weights and state then put back)."""
    X, Y, sw, control = plan.X, plan.Y, plan.sample_weight, plan.control
    epochs = plan.epochs
    n = len(X)
    batches_per_epoch = -(-n // plan.batch_size)
    model = net._model(plan.loss_name)
    per_epoch = plan.validation is not None or plan.callback is not None or \
        bar is not None or control.per_epoch
    interruptible = threading.current_thread() is threading.main_thread()
    max_batches = first_budget(plan.batch_size, model.n_params)  # then measured
    most = plan.most
    adapt = plan.adapt_threads and most > 1 and \
        min(plan.batch_size, TRAIN_BLOCK) * model.n_params >= _PARALLEL_WORK
    net._check_finite_parameters()
    net._loss_name = plan.loss_name
    if epochs == 0:
        return None
    # what fit started from, put back if its weights overflow on X (then fit changes
    # nothing, as predict and loss refuse those weights alike)
    start = fit_start(net)
    state = state_for(net, plan.optimizer)
    lr = control.rate(0, history)
    opt = plan.core_optimizer(lr, state)
    seed = int(net._rng.integers(2 ** 63))   # the shuffle's and the dropout's
    run = core.Epochs(n, plan.batch_size, TRAIN_BLOCK, plan.shuffle, seed)
    dropout = {"dropout": plan.dropout, "dropout_seed": seed} if plan.dropout else {}
    work = np.empty(model.train_work_size(plan.batch_size, TRAIN_BLOCK, opt, most,
                                          bool(plan.dropout)), net.dtype)
    while run.completed < epochs:
        room = 1 if per_epoch else \
            min(epochs - run.completed, max_batches // batches_per_epoch + 1)
        losses = np.empty(room)
        threads = free_threads(most) if adapt else most
        started = time.perf_counter()
        status, ran, completed = core.train(model, opt, run, net._flat, state.moments,
                                            dense_x(X), Y, sw, losses, max_batches, work,
                                            interruptible, threads, **dropout,
                                            **sparse_kw(X))
        max_batches = next_budget(max_batches, ran, time.perf_counter() - started)
        if not per_epoch:  # a call's epochs at once (W1: an epoch is 4 steps)
            history.loss.extend(losses[:completed].tolist())
            history.lr.extend([lr] * completed)
        if status == core.STATUS_OVERFLOWED:
            raise overflow_stop(net, model, start, X, run.completed + 1, lr)
        if status == core.STATUS_DIVERGED:
            raise diverged(run.completed + 1, lr)
        if not per_epoch:
            continue
        for value in losses[:completed]:
            stop = epoch_done(net, plan, history, float(value), lr, bar, postfix)
            if stop is not None:
                return stop
        if completed and control.per_epoch and run.completed < epochs:
            new_lr = control.rate(run.completed, history)
            if new_lr != lr:
                lr = new_lr
                opt = plan.core_optimizer(lr, state)
    control.finish(history, net._flat)
    return None


def fit_start(net: Network) -> Start:
    """A copy of the weights and optimiser state fit starts from (see overflow_stop)."""
    return (net._flat.copy(), None if net._optimizer is None else net._optimizer.copy())


def overflow_stop(net: Network, model: Any, start: Start, X: FloatArray, epoch: int,
                  lr: float) -> Exception:
    """What fit raises when a step's pre-activations overflowed: StartOverflow (with the
    weights and state it started from put back) if they overflow on X already at the start,
    else TrainingDiverged (the weights of the last finite step kept)."""
    error = overflow_error(model, start[0], X)
    if error is not None:
        net._flat[...] = start[0]
        net._optimizer = start[1]
        return StartOverflow(error)
    return TrainingDiverged(
        f"training diverged in epoch {epoch}: the weights it reached make a layer's "
        f"pre-activations overflow {net.dtype.name} (lr={lr}); the weights before that "
        f"step are kept. Try a smaller lr.")


def member_stopped(net: Network, model: Any, start: Start, X: FloatArray, history: Any,
                   recorded: List[float], lr: float, overflowed: bool) -> bool:
    """A NetworkStack member whose step diverged (or whose pre-activations overflowed) in a
    core call: its epochs of that call recorded in history, and why it stopped
    (history.stopped "diverged", or "refused" where X overflows already at the start, with
    the weights it started from put back: then True)."""
    history.loss.extend(recorded)
    history.lr.extend([lr] * len(recorded))
    epoch = len(history.loss) + 1
    error = overflow_stop(net, model, start, X, epoch, lr) if overflowed else diverged(epoch, lr)
    if isinstance(error, StartOverflow):
        history.stopped, history.error = "refused", str(error.error)
        return True
    history.stopped, history.error = "diverged", str(error)
    return False


def epoch_done(net: Network, plan: FitPlan, history: History, value: float, lr: float,
               bar: Optional[_Tqdm], postfix: Optional[Dict[str, Any]] = None
               ) -> Optional[str]:
    """fit's work after an epoch that came back to Python: records its loss and lr, the
    validation loss and accuracy, the progress bar, the callback and early stopping.
    Returns why the fit stops here ("callback" or "patience", the best weights then put
    back when asked), or None to go on."""
    control = plan.control
    history.loss.append(value)
    history.lr.append(lr)
    if plan.validation is not None:
        Xv, Yv = plan.validation
        history.val_loss.append(net.loss(Xv, Yv, loss=plan.loss))
        history.val_accuracy.append(accuracy(net.predict(Xv), Yv))
    if bar is not None:
        bar.update(1)
        bar.set_postfix(**(postfix or {}), loss=f"{history.loss[-1]:.4g}")
    if plan.callback is not None:
        verdict = plan.callback(len(history.loss) - 1, history)
        if isinstance(verdict, (bool, np.bool_)) and not verdict:
            control.finish(history, net._flat)
            return "callback"
    if control.should_stop(history, net._flat):
        control.finish(history, net._flat)
        return "patience"
    return None


def state_for(net: Network, optimizer: Optimizer) -> OptimizerState:
    """The network's kept optimiser state if it belongs to this optimiser (equal settings),
    else a fresh one, kept from now on. Guard held."""
    state = net._optimizer
    if state is None or state.optimizer != optimizer:
        state = optimizer.new_state(len(net._flat), net.dtype)
        net._optimizer = state
    return state


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity; os.cpu_count() where the platform
    has no affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def thread_limit(n_threads: Optional[int]) -> int:
    """The most threads fit may use: n_threads (None: the available cores), capped by
    OpenMP's limit for the calling thread, so that threadpoolctl's limits and joblib's /
    Dask's OMP_NUM_THREADS in their workers hold (1 when the core has no OpenMP)."""
    wanted = available_cores() if n_threads is None else as_int(n_threads, "n_threads", 1)
    return max(1, min(wanted, core.max_threads()))


def free_threads(most: int) -> int:
    """Threads for fit's next core call with n_threads=None: at most `most`, no more than the
    cores other runnable tasks leave free right now (see nnpy._load); `most` where that
    cannot be measured."""
    free = _load.free_cores(available_cores())
    return most if free is None else min(most, free)


def first_budget(batch_size: int, n_params: int) -> int:
    """Batches for fit's first core call: _CALL_SECONDS of work at _FIRST_CALL_RATE (one
    batch for large ones; the post's 10,000 steps in one call rather than six, each with its
    own set-up)."""
    return max(1, int(_CALL_SECONDS * _FIRST_CALL_RATE / (batch_size * (n_params + 100))))


def next_budget(budget: int, ran: int, elapsed: float) -> int:
    """Batches for the next core call: about _CALL_SECONDS at the speed of the last call
    (`ran` batches in `elapsed` seconds), growing at most 8x a call."""
    if ran <= 0 or elapsed <= 0:
        return budget * 8
    return int(max(1, min(budget * 8, ran * _CALL_SECONDS / elapsed)))


def progress_bar(total: int) -> _Tqdm:
    """fit's tqdm progress bar of `total` epochs (ImportError saying how to get tqdm)."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError('progress=True needs tqdm: pip install "nnpy-net[progress]"') from None
    return tqdm(total=total, unit="epoch")
