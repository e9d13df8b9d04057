"""nnpy.NetworkStack: many networks of one shape and family, trained in one call.

A stack holds n_networks members, each a complete nnpy.Network (its weights, optimiser state
and shuffling generator). Member k of NetworkStack(sizes, n, seed=...) starts exactly as
Network(sizes, ..., seed=seeds[k]), and after stack.fit(...) it holds the weights that network
reaches when fitted alone with member k's settings (its own shuffle order included): the
per-member arithmetic is the lone network's, bit for bit.

How fit runs the members:
  lockstep    per-sample SGD (batch_size 1; plain, momentum or Nesterov, with l2 and alpha;
              any lr schedule, early stopping, sample and class weights) on a small network
              of one hidden layer (input, hidden and output widths at most 4; any
              activation, output and loss): the members step together, each weight's copies
              side by side in vector lanes (member index innermost), each member reading its
              own sample of its own shuffle order every step (core.lockstep_sgd); no dropout;
              dense X only.
  batched     mini-batches (2 .. 256 rows): the members that share a shuffle order (one seed)
              train together in core.stack_train, each batch's rows gathered once and their
              first-layer weight gradients computed as one product, each member's arithmetic
              train's (see nnpy._stack_batch); no dropout; dense X only.
  one by one  everything else (dropout included): each member's epochs go through core.train,
              the compiled loop a lone Network.fit uses (whole epochs per call, GIL released);
              sparse X (scipy.sparse) is read sparse there, as by a lone fit, never densified.
Either way each member's arguments are checked, and its epochs recorded, validated, called
back, scheduled and early-stopped, by Network.fit's own helpers (nnpy._training's plan_fit,
run_fit, epoch_done); a member that stops where its lone fit would stop or raise is frozen
there while the others go on; each member has its own History (a StackHistory, which also
says why it stopped).
"""
from __future__ import annotations

import copy
import io as _io
import json
import threading
import time
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union, cast

import numpy as np
import numpy.typing as npt

from . import _losses
from ._dispatch import core
from ._evaluation import accuracy
from ._guard import Guard
from ._netfile import read as read_network, write as write_network
from ._safefile import (members as archive_members, open_regular, read_array, read_json_header,
                        read_npz, write_atomically)
from ._training import (FitPlan, StartOverflow, epoch_done, first_budget, fit_start,
                        member_stopped, next_budget, plan_fit, progress_bar, run_fit,
                        state_for)
from ._stack_batch import batched_fits, fit_batched
from ._sparse import as_rows
from ._validation import as_int, choice
from .network import (Activation, Callback, FloatArray, History, Init, Loss, Network,
                      Optimizer, Output, TrainingDiverged)
from .optimizers import SGD
from .schedules import Schedule

if TYPE_CHECKING:
    from ._safefile import PathLike

__all__ = ["NetworkStack", "StackHistory"]

FORMAT = "nnpy.NetworkStack"
VERSION = 1
_MAX_MEMBERS = 1 << 16            # members a stack file may hold
_MAX_MEMBER_BYTES = 1 << 31       # bytes one member's network file may take
_SMALL_WIDTH = 4                  # the lockstep kernel's widths: at most this, each layer

PerMember = Union[float, Sequence[float], npt.ArrayLike]


@dataclass
class StackHistory(History):
    """One member's History, and why it stopped before its last epoch: None (it did not),
    "callback" (its callback returned False), "patience" (early stopping; stopped_early is
    True), "diverged" (where its lone fit raises TrainingDiverged: a step would have made a
    weight infinite or NaN, or led to weights whose pre-activations overflow the dtype on X;
    the weights before that step are kept) or "refused" (where its lone fit raises ValueError:
    the weights it started from overflow on X; weights and optimiser state put back). error:
    the lone fit's message for the last two."""
    stopped: Optional[str] = None
    error: Optional[str] = None


class NetworkStack:
    """n_networks feed-forward networks of one shape and family, trained together.

    sizes, activation, output, loss, huber_delta, init, dtype
                as for Network (one value for all members).
    n_networks  how many members.
    seeds       n_networks ints, member k's seed (default 0 .. n_networks - 1): member k starts
                exactly as Network(sizes, ..., seed=seeds[k]).

    len(stack) is n_networks; stack[k] is a copy of member k as a Network (weights, optimiser
    state and shuffling generator). Threads: as for Network (any number of reads at once; fit
    needs the stack alone and raises RuntimeError if another thread is using it)."""

    def __init__(self, sizes: Sequence[int], n_networks: int, *,
                 activation: Activation = "sigmoid", output: Output = "sigmoid",
                 loss: Optional[Loss] = None, huber_delta: float = 1.0,
                 init: Optional[Init] = None, dtype: npt.DTypeLike = np.float64,
                 seeds: Optional[Sequence[int]] = None) -> None:
        n = as_int(n_networks, "n_networks", 1)
        if seeds is None:
            seeds = list(range(n))
        if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__"):
            raise TypeError(f"seeds must be a sequence of {n} ints, got {type(seeds).__name__}")
        if len(seeds) != n:
            raise ValueError(f"seeds must hold n_networks = {n} ints, got {len(seeds)}")
        checked = [as_int(s, f"seeds[{k}]", 0) for k, s in enumerate(seeds)]
        members = [Network(sizes, activation=activation, output=output, loss=loss,
                           huber_delta=huber_delta, init=init, dtype=dtype, seed=s)
                   for s in checked]
        self._setup(members, tuple(checked))

    def _setup(self, members: List[Network], seeds: Optional[Tuple[int, ...]]) -> None:
        self._members = members
        self._seeds = seeds
        self._guard = Guard()

    @classmethod
    def from_networks(cls, networks: Sequence[Network]) -> NetworkStack:
        """A stack of copies of `networks` (at least one; one shape, family and dtype): member
        k starts as networks[k] is now (weights, optimiser state, shuffling generator)."""
        if isinstance(networks, Network) or not hasattr(networks, "__iter__"):
            raise TypeError("from_networks needs a sequence of Networks")
        networks = list(networks)
        if not networks:
            raise ValueError("from_networks needs at least one Network")
        for k, net in enumerate(networks):
            if not isinstance(net, Network):
                raise TypeError(f"networks[{k}] is a {type(net).__name__}, not a Network")
        first = networks[0]
        for k, net in enumerate(networks[1:], 1):
            for what in ("sizes", "activation", "output", "loss_name", "huber_delta", "dtype"):
                if getattr(net, what) != getattr(first, what):
                    raise ValueError(f"networks[{k}] has {what} {getattr(net, what)!r}, "
                                     f"networks[0] {getattr(first, what)!r}: a stack's "
                                     f"members share one shape and family")
        stack = cls.__new__(cls)
        stack._setup([net.copy() for net in networks], None)
        return stack

    # ---- structure ----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._members)

    @property
    def n_networks(self) -> int:
        """Number of members."""
        return len(self._members)

    @property
    def seeds(self) -> Optional[Tuple[int, ...]]:
        """The members' seeds (None for a stack made by from_networks or loaded)."""
        return self._seeds

    @property
    def sizes(self) -> Tuple[int, ...]:
        return self._members[0].sizes

    @property
    def activation(self) -> str:
        return self._members[0].activation

    @property
    def output(self) -> str:
        return self._members[0].output

    @property
    def loss_name(self) -> str:
        return self._members[0].loss_name

    @property
    def huber_delta(self) -> float:
        """Huber's delta, for the "huber" loss (the members')."""
        return self._members[0].huber_delta

    @property
    def init(self) -> str:
        return self._members[0].init

    @property
    def dtype(self) -> np.dtype:
        return self._members[0].dtype

    def __getitem__(self, index: int) -> Network:
        """A copy of member `index` as a Network (negative indices count from the end)."""
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"stack indices are ints, got {type(index).__name__}")
        k = range(len(self._members))[index]  # IndexError as for a list
        with self._guard.read():
            return self._members[k].copy()

    def get_flat_params(self) -> FloatArray:
        """The members' parameters, (n_networks, n_params): row k as member k's
        get_flat_params()."""
        with self._guard.read():
            return np.stack([m._flat for m in self._members])

    def __repr__(self) -> str:
        delta = (f", huber_delta={self.huber_delta!r}"
                 if _losses.LOSSES[self.loss_name].reads_huber_delta else "")
        return (f"NetworkStack({list(self.sizes)}, {len(self)}, activation={self.activation!r}, "
                f"output={self.output!r}, loss={self.loss_name!r}{delta}, "
                f"dtype={self.dtype.name})")

    # ---- copies, pickles, files ---------------------------------------------------------

    def copy(self) -> NetworkStack:
        """An independent copy (every member's weights, optimiser state and generator)."""
        other = NetworkStack.__new__(NetworkStack)
        other.__setstate__(self.__getstate__())
        return other

    def __getstate__(self) -> Dict[str, Any]:
        with self._guard.read():
            return {"members": [m.__getstate__() for m in self._members],
                    "seeds": self._seeds}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        members = []
        for member_state in state["members"]:
            net = Network.__new__(Network)
            net.__setstate__(member_state)
            members.append(net)
        self._setup(members, state["seeds"])

    def save(self, path: PathLike) -> None:
        """Writes the stack to `path`: an .npz holding a JSON header and each member as the
        bytes of its Network.save file (weights and optimiser state)."""
        with self._guard.read():
            members = [m.copy() for m in self._members]
            seeds = self._seeds
        arrays: Dict[str, Any] = {"header": np.array(json.dumps(
            {"format": FORMAT, "version": VERSION, "n_networks": len(members),
             "seeds": None if seeds is None else list(seeds)}))}
        for k, net in enumerate(members):
            buffer = _io.BytesIO()
            write_network(net, buffer)
            arrays[f"member_{k}"] = np.frombuffer(buffer.getvalue(), np.uint8)
        write_atomically(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: PathLike) -> NetworkStack:
        """Reads a stack written by save; ValueError for a damaged or foreign file. Never runs
        code from the file (no pickle: every array is read with allow_pickle=False, and each
        member is checked as Network.load checks a network file)."""
        f, name = open_regular(path, "network stack file")
        with f:
            members, seeds = read_npz(f, name, "nnpy network stack file",
                                      lambda zf: _read_stack(zf, name))
        for k, net in enumerate(members[1:], 1):
            for what in ("sizes", "activation", "output", "loss_name", "huber_delta", "dtype"):
                if getattr(net, what) != getattr(members[0], what):
                    raise ValueError(f"{name}: member {k} has {what} {getattr(net, what)!r}, "
                                     f"member 0 {getattr(members[0], what)!r}")
        stack = cls.__new__(cls)
        stack._setup(members, seeds)
        return stack

    # ---- inference ----------------------------------------------------------------------

    def predict(self, X: npt.ArrayLike, *, reduce: Optional[str] = None) -> FloatArray:
        """Every member's outputs for the rows of X: (n_networks, n_rows, n_outputs); a 1-D
        sample gives (n_networks, n_outputs). reduce="mean" or "std": the members' mean or
        standard deviation (the ensemble's prediction and spread), without the first axis."""
        if reduce is not None:
            reduce = choice(reduce, "reduce", ("mean", "std"))
        X, single = as_rows(X, "X", self.dtype, self.sizes[0], allow_1d=True)
        with self._guard.read():
            out = np.stack([m._predict_rows(X) for m in self._members])
        if single:
            out = out[:, 0]
        if reduce == "mean":
            return out.mean(axis=0)
        if reduce == "std":
            return out.std(axis=0)
        return out

    def loss(self, X: npt.ArrayLike, Y: npt.ArrayLike,
             sample_weight: Optional[npt.ArrayLike] = None, *,
             loss: Optional[Loss] = None) -> npt.NDArray[np.float64]:
        """Each member's loss over X, Y (see Network.loss): n_networks values. sample_weight
        (n_rows,) for all, or (n_networks, n_rows), a row per member."""
        first = self._members[0]
        X, Y = first._xy(X, Y, first._check_loss(loss))
        weights = _per_member_rows(sample_weight, len(self), len(X))
        with self._guard.read():
            return np.array([m.loss(X, Y, w, loss=loss)
                             for m, w in zip(self._members, weights)])

    def accuracy(self, X: npt.ArrayLike, Y: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Each member's accuracy on X, Y (see Network.accuracy): n_networks values."""
        first = self._members[0]
        X, Y = first._xy(X, Y, first.loss_name)
        outputs = self.predict(X)
        return np.array([accuracy(out, Y) for out in outputs])

    # ---- training -----------------------------------------------------------------------

    def fit(self, X: npt.ArrayLike, Y: npt.ArrayLike, *, epochs: int, lr: Any,
            batch_size: int = 1, loss: Optional[Loss] = None, shuffle: bool = True,
            optimizer: Optimizer = "sgd", momentum: PerMember = 0.0, nesterov: bool = False,
            betas: Any = (0.9, 0.999), eps: PerMember = 1e-8, l2: PerMember = 0.0,
            alpha: PerMember = 0.0, sample_weight: Optional[npt.ArrayLike] = None,
            validation: Any = None,
            callback: Union[None, Callback, Sequence[Optional[Callback]]] = None,
            progress: bool = False, n_threads: Optional[int] = None,
            patience: Any = None, min_delta: PerMember = 0.0, restore_best: Any = True,
            class_weight: Any = None, dropout: PerMember = 0.0) -> List[StackHistory]:
        """Trains every member as Network.fit would train it alone; returns a StackHistory
        per member.

        Every argument is Network.fit's, checked as it checks them (an error for one
        member's setting names the member). Per member, a sequence of n_networks values
        (member k trains with the k-th): lr (numbers, callables lr(epoch) or nnpy.schedules;
        a schedule given for all members is copied for each), momentum, l2, alpha, eps,
        patience, min_delta, restore_best, class_weight (a list; a dict or "balanced" is for
        all members), dropout (members with dropout train one by one), and betas
        (n_networks pairs). sample_weight: (n_rows,) or a number for all members, or
        (n_networks, n_rows), a row per member (weight 0 outside a member's
        fold: cross-validation; bootstrap counts). validation: a pair (X_val, Y_val) as a tuple
        for all members, or a list of n_networks such pairs (or None). callback: one callable,
        called as callback(epoch, history) with each member's own history, or a list of
        n_networks callables (or None).

        A member stops where its lone fit would stop, frozen there while the others go on,
        its history saying why (StackHistory.stopped): its callback returned False
        ("callback"), early stopping ("patience"), a step would have made a weight non-finite
        or led to weights whose pre-activations overflow the dtype on X ("diverged": the
        lone fit raises TrainingDiverged; the weights before that step are kept), or the
        weights it started from overflow on X ("refused": the lone fit raises ValueError; its
        weights and optimiser state are put back). StackHistory.error holds the lone fit's
        message. Raises RuntimeError if another thread is using the stack; in the main thread
        Ctrl-C raises KeyboardInterrupt, each member keeping the weights of its last
        completed step."""
        n_members = len(self._members)
        first = self._members[0]
        loss_name = first._check_loss(loss)
        X, Y = first._xy(X, Y, loss_name)   # once for all members (their plans check again)
        members = {
            "lr": _own_schedules(_per_member(lr, "lr", n_members)),
            "momentum": _per_member(momentum, "momentum", n_members),
            "betas": _per_member_pairs(betas, n_members),
            "eps": _per_member(eps, "eps", n_members),
            "l2": _per_member(l2, "l2", n_members),
            "alpha": _per_member(alpha, "alpha", n_members),
            "sample_weight": _per_member_rows(sample_weight, n_members, len(X)),
            "validation": _per_member_validation(validation, n_members),
            "callback": _per_member_callbacks(callback, n_members),
            "patience": _per_member(patience, "patience", n_members),
            "min_delta": _per_member(min_delta, "min_delta", n_members),
            "restore_best": _per_member(restore_best, "restore_best", n_members),
            "class_weight": _per_member(class_weight, "class_weight", n_members),
            "dropout": _per_member(dropout, "dropout", n_members),
        }
        plans = []
        for k, net in enumerate(self._members):
            try:
                plans.append(plan_fit(
                    net, X, Y, epochs=epochs, batch_size=batch_size, loss=loss, shuffle=shuffle,
                    optimizer=optimizer, nesterov=nesterov, n_threads=n_threads,
                    **{name: values[k] for name, values in members.items()}))
            except (ValueError, TypeError) as err:
                if n_members == 1:
                    raise
                raise type(err)(f"member {k}: {err}") from None
        if not isinstance(progress, (bool, np.bool_)):
            raise TypeError(f"progress must be True or False, got {progress!r}")
        bar = progress_bar(plans[0].epochs * n_members) if progress else None

        histories = [StackHistory() for _ in range(n_members)]
        try:
            with self._guard.train():
                for net in self._members:
                    net._check_finite_parameters()
                if _lockstep_fits(first, plans):
                    _fit_lockstep(self._members, plans, histories, bar)
                elif batched_fits(plans):
                    fit_batched(self._members, plans, histories, bar)
                else:
                    for k, net in enumerate(self._members):
                        _fit_one(k, net, plans[k], histories[k], bar)
        finally:
            if bar is not None:
                bar.close()
        return histories


# ---- fit's helpers ----------------------------------------------------------------------------

def _fit_one(k: int, net: Network, plan: FitPlan, history: StackHistory, bar: Any) -> None:
    """Member k's fit through Network.fit's own loop (core.train), its ending recorded in its
    history rather than raised."""
    try:
        history.stopped = run_fit(net, plan, history, bar, {"member": k})
    except TrainingDiverged as error:
        history.stopped, history.error = "diverged", str(error)
    except StartOverflow as refusal:
        history.stopped, history.error = "refused", str(refusal.error)


def _lockstep_fits(net: Network, plans: List[FitPlan]) -> bool:
    """Whether fit takes the lockstep kernel (see the module docstring)."""
    sizes = net.sizes
    plan = plans[0]
    return (len(plans) > 1 and hasattr(core, "lockstep_sgd") and plan.epochs > 0
            and plan.batch_size == 1 and len(sizes) == 3 and sizes[0] <= _SMALL_WIDTH
            and sizes[1] <= _SMALL_WIDTH and sizes[2] <= _SMALL_WIDTH
            and isinstance(plan.X, np.ndarray)
            and all(isinstance(p.optimizer, SGD) and p.dropout == 0 for p in plans))


def _fit_lockstep(members: List[Network], plans: List[FitPlan],
                  histories: List[StackHistory], bar: Any) -> None:
    """Every member's per-sample SGD in core.lockstep_sgd: the members in vector lanes
    (padded to a multiple of core.LOCKSTEP_LANES), each lane with its own order, generator,
    lr, momentum and velocity, l2, alpha and sample weights; between calls, each member's
    epochs recorded, and its validation, callback, schedule and early stopping run, by
    Network.fit's own helpers.
    Members that stop are frozen (lane off)."""
    X, Y, epochs = plans[0].X, plans[0].Y, plans[0].epochs
    n, n_members = len(X), len(members)
    lanes = -(-n_members // core.LOCKSTEP_LANES) * core.LOCKSTEP_LANES
    net0 = members[0]
    dtype = net0.dtype
    model = net0._model(plans[0].loss_name)
    n_params = model.n_params
    params = np.zeros((n_params, lanes), dtype)
    lr = np.ones(lanes, dtype)
    momentum = np.zeros(lanes, dtype)
    l2 = np.zeros(lanes)
    alpha = np.zeros(lanes)
    sgds = [cast(SGD, p.optimizer) for p in plans]   # _lockstep_fits takes SGD only
    nesterov = bool(sgds[0].nesterov)
    with_momentum = [sgd.momentum != 0 for sgd in sgds]
    velocity = np.zeros((n_params if any(with_momentum) else 0, lanes), dtype)
    weights = np.ones((lanes, n), dtype)
    order = np.tile(np.arange(n, dtype=np.intp), (lanes, 1))
    rng = np.zeros((lanes, 4), np.uint64)
    on = np.zeros(lanes, np.uint8)
    steps = np.zeros(lanes, np.int64)
    starts, states, rates = [], [], []
    for k, (net, plan) in enumerate(zip(members, plans)):
        net._loss_name = plan.loss_name
        starts.append(fit_start(net))
        state = state_for(net, plan.optimizer)   # the step count, the velocity
        states.append(state)
        rates.append(plan.control.rate(0, histories[k]))
        params[:, k] = net._flat
        # the optimiser's <floating> casts of lr and momentum; l2 and alpha as it takes them
        lr[k] = dtype.type(rates[k])
        momentum[k] = dtype.type(sgds[k].momentum)
        l2[k] = plan.l2
        alpha[k] = plan.alpha
        if with_momentum[k]:
            velocity[:, k] = state.moments
        if len(plan.sample_weight):
            weights[k] = plan.sample_weight
        core.seed_rng(rng[k], int(net._rng.integers(2 ** 63)))
        on[k] = 1
        steps[k] = state.step
    per_epoch = bar is not None or any(
        p.validation is not None or p.callback is not None or p.control.per_epoch
        for p in plans)
    interruptible = threading.current_thread() is threading.main_thread()
    max_steps = first_budget(1, n_params) * max(1, lanes // core.LOCKSTEP_LANES)
    loss_sum = np.zeros(lanes)
    lane_epochs = np.zeros(lanes, np.int64)
    position = completed = 0

    def sync(k: int) -> None:
        """Member k's network as its lane is now."""
        members[k]._flat[...] = params[:, k]
        states[k].steps[0] = steps[k]
        if with_momentum[k]:
            states[k].moments[...] = velocity[:, k]

    try:
        while completed < epochs and (on == 1).any():
            room = 1 if per_epoch else min(epochs - completed, max_steps // n + 1)
            losses = np.empty((lanes, room))
            started = time.perf_counter()
            status, ran, done, position = core.lockstep_sgd(
                model, params, velocity, lr, momentum, nesterov, l2, alpha, X, Y, weights,
                order, rng, on, loss_sum, steps, losses, lane_epochs, position,
                plans[0].shuffle, max_steps, interruptible)
            max_steps = next_budget(max_steps, ran, time.perf_counter() - started)
            completed += done
            for k, (net, plan) in enumerate(zip(members, plans)):
                if on[k] == 0:
                    continue   # stopped earlier: frozen
                history = histories[k]
                recorded = losses[k, :lane_epochs[k]].tolist()
                if on[k] >= 2:   # diverged or overflowed in this call
                    sync(k)
                    if member_stopped(net, model, starts[k], X, history, recorded, rates[k],
                                      on[k] != 2):
                        params[:, k] = net._flat   # put back as it started
                    on[k] = 0
                    continue
                if not per_epoch:
                    history.loss.extend(recorded)
                    history.lr.extend([rates[k]] * len(recorded))
                    continue
                for value in recorded:
                    sync(k)   # what validation, the callback and early stopping see
                    stop = epoch_done(net, plan, history, value, rates[k], bar, {"member": k})
                    if stop is not None:
                        history.stopped = stop
                        params[:, k] = net._flat   # the best epoch's, if put back
                        on[k] = 0
                        break
                if on[k] == 1 and recorded and plan.control.per_epoch and \
                        len(history.loss) < epochs:
                    rates[k] = plan.control.rate(len(history.loss), history)
                    lr[k] = dtype.type(rates[k])
        for k in range(n_members):
            if on[k] == 1:
                sync(k)
                plans[k].control.finish(histories[k], members[k]._flat)
                params[:, k] = members[k]._flat
    finally:
        for k in range(n_members):
            sync(k)


# ---- argument checks --------------------------------------------------------------------------

def _per_member(value: Any, name: str, n: int) -> List[Any]:
    """A value for all members, or a sequence of n values (1-D): a list or tuple, or a 1-D
    array. Strings, dicts, callables and schedules are one value for all."""
    if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim):
        values = list(value)
        if np.ndim(value) != 1 and not all(
                v is None or isinstance(v, dict) or callable(v) for v in values):
            raise ValueError(f"{name} must be one value or a sequence of n_networks = {n} "
                             f"values, got shape {np.shape(value)}")
        if len(values) != n:
            raise ValueError(f"{name} must be one value or a sequence of n_networks = {n} "
                             f"values, got {len(values)}")
        return values
    return [value] * n


def _own_schedules(values: List[Any]) -> List[Any]:
    """lr per member, a schedule that more than one member would share copied for each (a
    schedule such as ReduceOnPlateau keeps state through a fit)."""
    seen: set = set()
    out = []
    for value in values:
        if isinstance(value, Schedule):
            if id(value) in seen:
                value = copy.deepcopy(value)
            seen.add(id(value))
        out.append(value)
    return out


def _per_member_pairs(betas: Any, n: int) -> List[Any]:
    """betas: one pair for all members, or a sequence of n pairs."""
    shape = np.shape(betas) if not isinstance(betas, (str, bytes)) else ()
    if len(shape) == 2:
        if shape != (n, 2):
            raise ValueError(f"betas must be a pair (beta1, beta2) or n_networks = {n} pairs, "
                             f"got shape {shape}")
        return [tuple(pair) for pair in betas]
    return [betas] * n


def _per_member_callbacks(callback: Any, n: int) -> List[Optional[Callback]]:
    if callback is None or callable(callback):
        return [callback] * n
    if isinstance(callback, (str, bytes)) or not hasattr(callback, "__len__"):
        raise TypeError("callback must be callable as callback(epoch, history), or a list of "
                        "n_networks such callables (or None)")
    callbacks = list(callback)
    if len(callbacks) != n:
        raise ValueError(f"callback: a list needs n_networks = {n} entries, got "
                         f"{len(callbacks)}")
    for k, c in enumerate(callbacks):
        if c is not None and not callable(c):
            raise TypeError(f"callback[{k}] must be callable as callback(epoch, history) or "
                            f"None")
    return callbacks


def _per_member_validation(validation: Any, n: int) -> List[Any]:
    """A tuple (X_val, Y_val) for all members, or a list of n pairs (or None); each member's
    fit checks its own."""
    if isinstance(validation, list):
        if len(validation) != n:
            raise ValueError(f"validation: a list holds one (X_val, Y_val) pair (or None) per "
                             f"member, n_networks = {n}; got {len(validation)} entries (a pair "
                             f"for all members is a tuple)")
        return list(validation)
    return [validation] * n


def _per_member_rows(sample_weight: Optional[npt.ArrayLike], n: int, n_rows: int) -> List[Any]:
    """sample_weight for all members (None, a number or (n_rows,)), or (n_networks, n_rows):
    a row per member; each member's fit checks its own."""
    if sample_weight is not None and np.ndim(sample_weight) == 2:
        rows = np.asarray(sample_weight)
        if rows.shape != (n, n_rows):
            raise ValueError(f"sample_weight must have shape (n_rows,) = ({n_rows},) or "
                             f"(n_networks, n_rows) = ({n}, {n_rows}), got {rows.shape}")
        return list(rows)
    return [sample_weight] * n



# ---- files --------------------------------------------------------------------------------------

def _read_stack(zf: zipfile.ZipFile,
                name: str) -> Tuple[List[Network], Optional[Tuple[int, ...]]]:
    members = archive_members(zf, name)
    header = read_json_header(zf, members, name, "nnpy network stack file")
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{name}: not an nnpy network stack file (format is not {FORMAT!r})")
    if header.get("version") != VERSION:
        raise ValueError(f"{name}: unknown stack file version {header.get('version')!r}")
    n = header.get("n_networks")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= _MAX_MEMBERS:
        raise ValueError(f"{name}: n_networks must be an int in 1 .. {_MAX_MEMBERS}, got {n!r}")
    seeds = header.get("seeds")
    if seeds is not None:
        if not isinstance(seeds, list) or len(seeds) != n or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
            raise ValueError(f"{name}: seeds must be null or {n} ints >= 0")
        seeds = tuple(seeds)
    expected = {"header"} | {f"member_{k}" for k in range(n)}
    if set(members) != expected:
        extra = sorted(set(members) - expected)
        missing = sorted(expected - set(members))
        raise ValueError(f"{name}: the archive's arrays do not match its header (missing "
                         f"{missing}, unexpected {extra})")
    nets = []
    for k in range(n):
        raw = read_array(zf, members[f"member_{k}"], name, _MAX_MEMBER_BYTES)
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"{name}: member_{k} must be a 1-D uint8 array (a network file's "
                             f"bytes), got {raw.dtype} of shape {raw.shape}")
        try:
            nets.append(read_network(_io.BytesIO(raw.tobytes()), Network, None))
        except ValueError as err:
            raise ValueError(f"{name}: member {k}: {err}") from None
    return nets, seeds
