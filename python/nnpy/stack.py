"""nnpy.NetworkStack: many networks of one shape and family, trained in one call.

A stack holds n_networks members, each a complete nnpy.Network (its weights, optimiser state
and shuffling generator). Member k of NetworkStack(sizes, n, seed=...) starts exactly as
Network(sizes, ..., seed=seeds[k]), and after stack.fit(...) it holds the weights that network
reaches when fitted alone with member k's settings (its own shuffle order included): the
per-member arithmetic is the lone network's, bit for bit.

How fit runs the members:
  lockstep    plain per-sample SGD (batch_size 1, no momentum, no alpha) on a small network
              of one hidden layer (input, hidden and output widths at most 4;
              hidden sigmoid, tanh, relu or identity; output sigmoid or identity with mse):
              the members step together, each weight's copies side by side in vector lanes
              (member index innermost), each member reading its own sample of its own shuffle
              order every step (core.lockstep_sgd).
  one by one  everything else: each member's epochs go through core.train, the compiled loop
              a lone Network.fit uses (whole epochs per call, GIL released).
Either way a member that stops (its callback returns False, or a step would make a weight
non-finite) is frozen where it stopped while the others go on; each member has its own
History (a StackHistory, which also says why it stopped).
"""
from __future__ import annotations

import io as _io
import json
import threading
import time
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _model
from ._dispatch import core
from ._validation import as_float, as_int, as_matrix, as_sample_weight, as_targets, choice
from .network import (Activation, Callback, FloatArray, History, Init, Loss, Network,
                      Optimizer, Output, TrainingDiverged, _Guard, _TRAIN_BLOCK, _accuracy,
                      _core_settings, _first_budget, _next_budget, _optimizer_settings,
                      _progress_bar, _threads)

if TYPE_CHECKING:
    from .io import PathLike

__all__ = ["NetworkStack", "StackHistory"]

FORMAT = "nnpy.NetworkStack"
VERSION = 1
_MAX_MEMBERS = 1 << 16            # members a stack file may hold
_MAX_MEMBER_BYTES = 1 << 31       # bytes one member's network file may take
_SMALL_WIDTH = 4                  # the lockstep kernel's widths: at most this, each layer

PerMember = Union[float, Sequence[float], npt.ArrayLike]


@dataclass
class StackHistory(History):
    """One member's History, and why it stopped early: None (it ran every epoch),
    "callback" (its callback returned False) or "diverged" (a step would have made a weight
    infinite or NaN; the weights before that step are kept)."""
    stopped: Optional[str] = None


class NetworkStack:
    """n_networks feed-forward networks of one shape and family, trained together.

    sizes, activation, output, loss, init, dtype  as for Network (one value for all members).
    n_networks  how many members.
    seeds       n_networks ints, member k's seed (default 0 .. n_networks - 1): member k starts
                exactly as Network(sizes, ..., seed=seeds[k]).

    len(stack) is n_networks; stack[k] is a copy of member k as a Network (weights, optimiser
    state and shuffling generator). Threads: as for Network (any number of reads at once; fit
    needs the stack alone and raises RuntimeError if another thread is using it)."""

    def __init__(self, sizes: Sequence[int], n_networks: int, *,
                 activation: Activation = "sigmoid", output: Output = "sigmoid",
                 loss: Optional[Loss] = None, init: Optional[Init] = None,
                 dtype: npt.DTypeLike = np.float64,
                 seeds: Optional[Sequence[int]] = None) -> None:
        n = as_int(n_networks, "n_networks", 1)
        if seeds is None:
            seeds = list(range(n))
        if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__"):
            raise TypeError(f"seeds must be a sequence of {n} ints, got {type(seeds).__name__}")
        if len(seeds) != n:
            raise ValueError(f"seeds must hold n_networks = {n} ints, got {len(seeds)}")
        checked = [as_int(s, f"seeds[{k}]", 0) for k, s in enumerate(seeds)]
        members = [Network(sizes, activation=activation, output=output, loss=loss, init=init,
                           dtype=dtype, seed=s) for s in checked]
        self._setup(members, tuple(checked))

    def _setup(self, members: List[Network], seeds: Optional[Tuple[int, ...]]) -> None:
        self._members = members
        self._seeds = seeds
        self._guard = _Guard()

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
            for what in ("sizes", "activation", "output", "loss_name", "dtype"):
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
        return (f"NetworkStack({list(self.sizes)}, {len(self)}, activation={self.activation!r}, "
                f"output={self.output!r}, loss={self.loss_name!r}, dtype={self.dtype.name})")

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
        from .io import save_network, write_atomically
        with self._guard.read():
            members = [m.copy() for m in self._members]
            seeds = self._seeds
        arrays: Dict[str, Any] = {"header": np.array(json.dumps(
            {"format": FORMAT, "version": VERSION, "n_networks": len(members),
             "seeds": None if seeds is None else list(seeds)}))}
        for k, net in enumerate(members):
            buffer = _io.BytesIO()
            save_network(net, buffer)
            arrays[f"member_{k}"] = np.frombuffer(buffer.getvalue(), np.uint8)
        write_atomically(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: PathLike) -> NetworkStack:
        """Reads a stack written by save; ValueError for a damaged or foreign file. Never runs
        code from the file (no pickle: every array is read with allow_pickle=False, and each
        member is checked as Network.load checks a network file)."""
        from .io import open_regular, read_npz
        f, name = open_regular(path, "network stack file")
        with f:
            members, seeds = read_npz(f, name, "nnpy network stack file",
                                      lambda zf: _read_stack(zf, name))
        for k, net in enumerate(members[1:], 1):
            for what in ("sizes", "activation", "output", "loss_name", "dtype"):
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
        X, single = as_matrix(X, "X", self.dtype, self.sizes[0], allow_1d=True)
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
        X, Y = self._members[0]._xy(X, Y)
        weights = _sample_weights(sample_weight, len(self), len(X), self.dtype)
        with self._guard.read():
            return np.array([m.loss(X, Y, w if len(w) else None, loss=loss)
                             for m, w in zip(self._members, weights)])

    def accuracy(self, X: npt.ArrayLike, Y: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Each member's accuracy on X, Y (see Network.accuracy): n_networks values."""
        X, Y = self._members[0]._xy(X, Y)
        outputs = self.predict(X)
        return np.array([_accuracy(out, Y) for out in outputs])

    # ---- training -----------------------------------------------------------------------

    def fit(self, X: npt.ArrayLike, Y: npt.ArrayLike, *, epochs: int, lr: PerMember,
            batch_size: int = 1, loss: Optional[Loss] = None, shuffle: bool = True,
            optimizer: Optimizer = "sgd", momentum: PerMember = 0.0, nesterov: bool = False,
            betas: Any = (0.9, 0.999), eps: PerMember = 1e-8, l2: PerMember = 0.0,
            alpha: PerMember = 0.0, sample_weight: Optional[npt.ArrayLike] = None,
            validation: Any = None,
            callback: Union[None, Callback, Sequence[Optional[Callback]]] = None,
            progress: bool = False, n_threads: Optional[int] = None) -> List[StackHistory]:
        """Trains every member as Network.fit would train it alone; returns a StackHistory
        per member.

        Every argument is Network.fit's. lr, momentum, l2, alpha and eps may also be a
        sequence of n_networks values, and betas a sequence of n_networks pairs: member k
        trains with the k-th. sample_weight: (n_rows,) for all members, or (n_networks,
        n_rows), a row per member (weight 0 outside a member's fold: cross-validation;
        bootstrap counts). validation: a pair (X_val, Y_val) as a tuple for all members, or a
        list of n_networks such pairs (or None). callback: one callable, called as
        callback(epoch, history) with each member's own history, or a list of n_networks
        callables (or None); a member whose callback returns False stops there, the others go
        on. A member whose step would make a weight infinite or NaN stops before that step
        (its history says stopped="diverged"); no TrainingDiverged is raised.
        Raises RuntimeError if another thread is using the stack; in the main thread Ctrl-C
        raises KeyboardInterrupt, each member keeping the weights of its last completed
        step."""
        n_members = len(self._members)
        first = self._members[0]
        epochs = as_int(epochs, "epochs", 0)
        batch_size = as_int(batch_size, "batch_size", 1)
        loss_name = first._check_loss(loss)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        lrs = _per_member(lr, "lr", n_members)
        momenta = _per_member(momentum, "momentum", n_members)
        l2s = _per_member(l2, "l2", n_members)
        alphas = _per_member(alpha, "alpha", n_members)
        epss = _per_member(eps, "eps", n_members)
        beta_pairs = _per_member_pairs(betas, n_members)
        settings = [_optimizer_settings(optimizer, momenta[k], nesterov, beta_pairs[k], epss[k])
                    for k in range(n_members)]
        lrs = [as_float(v, f"lr[{k}]", positive=True) for k, v in enumerate(lrs)]
        l2s = [as_float(v, f"l2[{k}]", minimum=0.0) for k, v in enumerate(l2s)]
        alphas = [as_float(v, f"alpha[{k}]", minimum=0.0) for k, v in enumerate(alphas)]
        callbacks = _per_member_callbacks(callback, n_members)
        X, Y = first._xy(X, Y)
        weights = _sample_weights(sample_weight, n_members, len(X), self.dtype)
        validations = _per_member_validation(validation, n_members, first)
        threads = _threads(n_threads)
        if not isinstance(progress, (bool, np.bool_)):
            raise TypeError(f"progress must be True or False, got {progress!r}")
        bar = _progress_bar(epochs * n_members) if progress else None

        histories = [StackHistory() for _ in range(n_members)]
        batch_size = min(batch_size, len(X))
        try:
            with self._guard.train():
                for net in self._members:
                    net._check_finite_parameters()
                for net in self._members:
                    net._loss_name = loss_name
                if epochs == 0:
                    return histories
                jobs = [_Member(k, net, settings[k], lrs[k], l2s[k], alphas[k], weights[k],
                                validations[k], callbacks[k], histories[k], loss, bar)
                        for k, net in enumerate(self._members)]
                if _lockstep_fits(first, loss_name, batch_size, settings, alphas, n_members):
                    _fit_lockstep(jobs, first, X, Y, epochs, bool(shuffle))
                else:
                    for job in jobs:
                        _fit_one(job, X, Y, epochs, batch_size, bool(shuffle), threads)
        finally:
            if bar is not None:
                bar.close()
        return histories


# ---- fit's helpers ----------------------------------------------------------------------------

class _Member:
    """One member's part of a stack's fit: its network, settings and per-epoch duties."""

    def __init__(self, index: int, net: Network, settings: Tuple[Any, ...], lr: float,
                 l2: float, alpha: float, sample_weight: np.ndarray,
                 validation: Optional[Tuple[np.ndarray, np.ndarray]],
                 callback: Optional[Callback], history: StackHistory, loss: Optional[Loss],
                 bar: Any) -> None:
        self.index, self.net, self.settings = index, net, settings
        self.lr, self.l2, self.alpha = lr, l2, alpha
        self.sample_weight, self.validation, self.callback = sample_weight, validation, callback
        self.history, self.loss, self.bar = history, loss, bar

    @property
    def per_epoch(self) -> bool:
        """Whether Python has work after every epoch (as Network.fit's per_epoch)."""
        return self.validation is not None or self.callback is not None or self.bar is not None

    def optimizer(self) -> Tuple[Any, Any]:
        """(its kept optimiser state, a core.Optimizer on it), as Network.fit makes them."""
        state = self.net._optimizer_state_for(self.settings)
        opt = core.Optimizer(_model.OPTIMIZERS[self.settings[0]], self.lr, state.steps,
                             l2=self.l2, alpha=self.alpha, **_core_settings(self.settings))
        return state, opt

    def epoch_done(self, value: float) -> bool:
        """Records an epoch's loss and runs the per-epoch duties; False if the callback stops
        this member."""
        history = self.history
        history.loss.append(float(value))
        if self.validation is not None:
            Xv, Yv = self.validation
            history.val_loss.append(self.net.loss(Xv, Yv, loss=self.loss))
            history.val_accuracy.append(_accuracy(self.net.predict(Xv), Yv))
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(member=self.index, loss=f"{history.loss[-1]:.4g}")
        if self.callback is not None:
            verdict = self.callback(len(history.loss) - 1, history)
            if isinstance(verdict, (bool, np.bool_)) and not verdict:
                history.stopped = "callback"
                return False
        return True


def _fit_one(job: _Member, X: np.ndarray, Y: np.ndarray, epochs: int, batch_size: int,
             shuffle: bool, threads: int) -> None:
    """One member's epochs through core.train, call for call as Network.fit runs them."""
    net = job.net
    n = len(X)
    batches_per_epoch = -(-n // batch_size)
    model = net._model()
    interruptible = threading.current_thread() is threading.main_thread()
    max_batches = _first_budget(batch_size, model.n_params)
    state, opt = job.optimizer()
    run = core.Epochs(n, batch_size, _TRAIN_BLOCK, shuffle, int(net._rng.integers(2 ** 63)))
    work = np.empty(model.train_work_size(batch_size, _TRAIN_BLOCK, opt, threads), net.dtype)
    sw = job.sample_weight
    while run.completed < epochs:
        room = 1 if job.per_epoch else \
            min(epochs - run.completed, max_batches // batches_per_epoch + 1)
        losses = np.empty(room)
        started = time.perf_counter()
        status, ran, completed = core.train(model, opt, run, net._flat, state.moments, X, Y,
                                            sw, losses, max_batches, work, interruptible,
                                            threads)
        max_batches = _next_budget(max_batches, ran, time.perf_counter() - started)
        if status == core.STATUS_DIVERGED:
            job.history.stopped = "diverged"
            return
        if not job.per_epoch:
            job.history.loss.extend(losses[:completed].tolist())
            continue
        for value in losses[:completed]:
            if not job.epoch_done(value):
                return


def _lockstep_fits(net: Network, loss_name: str, batch_size: int,
                   settings: List[Tuple[Any, ...]], alphas: List[float],
                   n_members: int) -> bool:
    """Whether fit takes the lockstep kernel (see the module docstring)."""
    sizes = net.sizes
    return (n_members > 1 and hasattr(core, "lockstep_sgd") and batch_size == 1
            and len(sizes) == 3 and sizes[0] <= _SMALL_WIDTH
            and sizes[1] <= _SMALL_WIDTH and sizes[2] <= _SMALL_WIDTH
            and net.output in ("sigmoid", "identity") and loss_name == "mse"
            and all(s[0] == "sgd" and s[1] == 0 for s in settings)
            and not any(alphas))


def _fit_lockstep(jobs: List[_Member], net: Network, X: np.ndarray, Y: np.ndarray,
                  epochs: int, shuffle: bool) -> None:
    """Every member's plain per-sample SGD in core.lockstep_sgd: the members in vector lanes
    (padded to a multiple of core.LOCKSTEP_LANES), each lane with its own order, generator,
    lr, decay and sample weights; members that stop are frozen (lane off)."""
    n, n_members = len(X), len(jobs)
    lanes = -(-n_members // core.LOCKSTEP_LANES) * core.LOCKSTEP_LANES
    dtype = net.dtype
    model = net._model()
    n_params = model.n_params
    params = np.zeros((n_params, lanes), dtype)
    lr = np.ones(lanes, dtype)
    decay = np.zeros(lanes, dtype)
    weights = np.ones((lanes, n), dtype)
    order = np.tile(np.arange(n, dtype=np.intp), (lanes, 1))
    rng = np.zeros((lanes, 4), np.uint64)
    on = np.zeros(lanes, np.uint8)
    steps = np.zeros(lanes, np.int64)
    states = []
    for k, job in enumerate(jobs):
        state, _ = job.optimizer()   # plain SGD: no moments, the step count only
        states.append(state)
        params[:, k] = job.net._flat
        # the optimiser's <floating> casts of lr and l2 + alpha / w (alpha is 0 here)
        lr[k] = dtype.type(job.lr)
        decay[k] = dtype.type(job.l2)
        if len(job.sample_weight):
            weights[k] = job.sample_weight
        core.seed_rng(rng[k], int(job.net._rng.integers(2 ** 63)))
        on[k] = 1
        steps[k] = state.step
    per_epoch = any(job.per_epoch for job in jobs)
    interruptible = threading.current_thread() is threading.main_thread()
    max_steps = _first_budget(1, n_params) * max(1, lanes // core.LOCKSTEP_LANES)
    loss_sum = np.zeros(lanes)
    lane_epochs = np.zeros(lanes, np.int64)
    position = completed = 0

    def write_back() -> None:
        for k, job in enumerate(jobs):
            job.net._flat[...] = params[:, k]
            states[k].steps[0] = steps[k]

    try:
        while completed < epochs and on.any():
            room = 1 if per_epoch else min(epochs - completed, max_steps // n + 1)
            losses = np.empty((lanes, room))
            started = time.perf_counter()
            status, ran, done, position = core.lockstep_sgd(
                model, params, lr, decay, X, Y, weights, order, rng, on, loss_sum, steps,
                losses, lane_epochs, position, shuffle, max_steps, interruptible)
            max_steps = _next_budget(max_steps, ran, time.perf_counter() - started)
            completed += done
            for k, job in enumerate(jobs):
                if on[k] == 0:
                    continue   # stopped earlier: frozen
                recorded = losses[k, :lane_epochs[k]]
                if on[k] == 2:  # diverged in this call: the epochs it completed first count
                    job.history.loss.extend(recorded.tolist())
                    job.history.stopped = "diverged"
                    on[k] = 0
                    continue
                if not job.per_epoch:
                    job.history.loss.extend(recorded.tolist())
                    continue
                for value in recorded:
                    job.net._flat[...] = params[:, k]   # validation and callback see it
                    if not job.epoch_done(value):
                        on[k] = 0
                        break
    finally:
        write_back()


# ---- argument checks --------------------------------------------------------------------------

def _per_member(value: Any, name: str, n: int) -> List[Any]:
    """A scalar for all members, or a sequence of n values (1-D)."""
    if isinstance(value, (str, bytes)):
        return [value] * n   # the checks that follow say what is wrong
    if np.ndim(value) == 0:
        return [value] * n
    array = np.asarray(value, dtype=object)
    if array.ndim != 1 or len(array) != n:
        raise ValueError(f"{name} must be a number or a sequence of n_networks = {n} numbers, "
                         f"got shape {array.shape}")
    return list(array)


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


def _checked_validation(pair: Any, name: str,
                        net: Network) -> Tuple[np.ndarray, np.ndarray]:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{name} must be a pair (X_val, Y_val)")
    Xv, _ = as_matrix(pair[0], f"{name} X", net.dtype, net.sizes[0])
    Yv = as_targets(pair[1], f"{name} Y", len(Xv), net.sizes[-1], net.dtype)
    return Xv, Yv


def _per_member_validation(validation: Any, n: int,
                           net: Network) -> List[Optional[Tuple[np.ndarray, np.ndarray]]]:
    """A tuple (X_val, Y_val) for all members, or a list of n pairs (or None)."""
    if validation is None:
        return [None] * n
    if isinstance(validation, list):
        if len(validation) != n:
            raise ValueError(f"validation: a list holds one (X_val, Y_val) pair (or None) per "
                             f"member, n_networks = {n}; got {len(validation)} entries (a pair "
                             f"for all members is a tuple)")
        return [None if v is None else _checked_validation(v, f"validation[{k}]", net)
                for k, v in enumerate(validation)]
    shared = _checked_validation(validation, "validation", net)
    return [shared] * n


def _sample_weights(sample_weight: Optional[npt.ArrayLike], n: int, n_rows: int,
                    dtype: np.dtype) -> List[np.ndarray]:
    """Each member's checked sample weights (empty: every weight 1)."""
    if sample_weight is None:
        return [as_sample_weight(None, n_rows, dtype)] * n
    if np.ndim(sample_weight) == 2:
        rows = np.asarray(sample_weight)
        if rows.shape != (n, n_rows):
            raise ValueError(f"sample_weight must have shape (n_rows,) = ({n_rows},) or "
                             f"(n_networks, n_rows) = ({n}, {n_rows}), got {rows.shape}")
        checked = []
        for k in range(n):
            try:
                checked.append(as_sample_weight(rows[k], n_rows, dtype))
            except (ValueError, TypeError) as err:
                raise type(err)(f"sample_weight[{k}]: {err}") from None
        return checked
    shared = as_sample_weight(sample_weight, n_rows, dtype)
    return [shared] * n


# ---- files --------------------------------------------------------------------------------------

def _read_stack(zf: zipfile.ZipFile,
                name: str) -> Tuple[List[Network], Optional[Tuple[int, ...]]]:
    from .io import _members, _read_array, load_network, read_json_header
    members = _members(zf, name)
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
        raw = _read_array(zf, members[f"member_{k}"], name, _MAX_MEMBER_BYTES)
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"{name}: member_{k} must be a 1-D uint8 array (a network file's "
                             f"bytes), got {raw.dtype} of shape {raw.shape}")
        try:
            nets.append(load_network(_io.BytesIO(raw.tobytes())))
        except ValueError as err:
            raise ValueError(f"{name}: member {k}: {err}") from None
    return nets, seeds
