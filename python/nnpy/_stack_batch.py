"""NetworkStack's mini-batch path: members that share a shuffle order train together in
core.stack_train, which gathers each batch's rows once for all of them and computes their
first-layer weight gradients as one product, each member's arithmetic bit for bit its lone
Network.fit's (see src/nncore/stack_batch.pxi).

Members share their order when their shuffling generators draw the same seed at the start of
fit (as Network.fit draws it), as members made with one seed do; without shuffling every member
reads the rows in order. Other members form groups of their own, trained one group after
another. Between core calls each member's epochs are recorded, validated, called back,
scheduled and early-stopped by Network.fit's own helpers; a member that stops is frozen (left
out of its group's later batches).
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Dict, List

import numpy as np

from ._dispatch import core
from ._training import (_PARALLEL_WORK, TRAIN_BLOCK, FitPlan, epoch_done, first_budget,
                        fit_start, free_threads, member_stopped, next_budget, state_for)
from .network import Network

if TYPE_CHECKING:
    from .stack import StackHistory


def batched_fits(plans: List[FitPlan]) -> bool:
    """Whether fit takes core.stack_train: several members, mini-batches of 2 .. TRAIN_BLOCK
    rows (one block each, as Network.fit computes them), no dropout, dense X (sparse X trains
    one member at a time, read sparse by core.train)."""
    plan = plans[0]
    return (len(plans) > 1 and hasattr(core, "stack_train") and plan.epochs > 0
            and 2 <= plan.batch_size <= TRAIN_BLOCK and isinstance(plan.X, np.ndarray)
            and all(p.dropout == 0 for p in plans))


def fit_batched(members: List[Network], plans: List[FitPlan],
                histories: List[StackHistory], bar: Any) -> None:
    """Every member's fit, the members grouped by their shuffle order (see the module
    docstring)."""
    groups: Dict[Any, List[int]] = {}
    seeds = []
    for k, (net, plan) in enumerate(zip(members, plans)):
        net._loss_name = plan.loss_name
        seeds.append(int(net._rng.integers(2 ** 63)))   # as Network.fit draws it
        groups.setdefault(seeds[k] if plan.shuffle else None, []).append(k)
    for ks in groups.values():
        _fit_group([members[k] for k in ks], [plans[k] for k in ks],
                   [histories[k] for k in ks], seeds[ks[0]], bar, ks)


def _fit_group(members: List[Network], plans: List[FitPlan], histories: List[StackHistory],
               seed: int, bar: Any, indices: List[int]) -> None:
    """One group's fit in core.stack_train calls."""
    first = plans[0]
    X, Y, epochs, n = first.X, first.Y, first.epochs, len(first.X)
    n_members = len(members)
    model = members[0]._model(first.loss_name)
    starts = [fit_start(net) for net in members]
    states = [state_for(net, plan.optimizer) for net, plan in zip(members, plans)]
    rates = [plan.control.rate(0, history) for plan, history in zip(plans, histories)]
    optimizers = [plan.core_optimizer(rate, state)
                  for plan, rate, state in zip(plans, rates, states)]
    order = np.arange(n, dtype=np.intp)
    rng = np.zeros(4, np.uint64)
    core.seed_rng(rng, seed)
    on = np.full(n_members, core.STACK_RUNNING, np.uint8)
    loss_sums = np.zeros(n_members)
    member_epochs = np.zeros(n_members, np.int64)
    per_epoch = bar is not None or any(
        p.validation is not None or p.callback is not None or p.control.per_epoch
        for p in plans)
    interruptible = threading.current_thread() is threading.main_thread()
    batches_per_epoch = -(-n // first.batch_size)
    max_batches = first_budget(first.batch_size, model.n_params * n_members)
    most = first.most
    adapt = first.adapt_threads and most > 1 and \
        first.batch_size * model.n_params * n_members >= _PARALLEL_WORK
    params = [net._flat for net in members]
    moments = [state.moments for state in states]
    weights = [np.ascontiguousarray(plan.sample_weight) for plan in plans]
    position = completed = 0
    while completed < epochs and (on == core.STACK_RUNNING).any():
        room = 1 if per_epoch else \
            min(epochs - completed, max_batches // batches_per_epoch + 1)
        losses = np.empty((n_members, room))
        threads = free_threads(most) if adapt else most
        started = time.perf_counter()
        status, ran, done, position = core.stack_train(
            model, optimizers, params, moments, X, Y, weights, on, order, rng, position,
            first.batch_size, first.shuffle, losses, loss_sums, member_epochs, max_batches,
            interruptible, threads)
        max_batches = next_budget(max_batches, ran, time.perf_counter() - started)
        completed += done
        for k, (net, plan, history) in enumerate(zip(members, plans, histories)):
            if on[k] == 0:
                continue   # stopped earlier: frozen
            recorded = losses[k, :member_epochs[k]].tolist()
            if on[k] != core.STACK_RUNNING:   # diverged or overflowed in this call
                member_stopped(net, model, starts[k], X, history, recorded, rates[k],
                               on[k] != core.STACK_DIVERGED)
                on[k] = 0
                continue
            if not per_epoch:
                history.loss.extend(recorded)
                history.lr.extend([rates[k]] * len(recorded))
                continue
            for value in recorded:
                stop = epoch_done(net, plan, history, value, rates[k], bar,
                                       {"member": indices[k]})
                if stop is not None:
                    history.stopped = stop
                    on[k] = 0
                    break
            if on[k] == core.STACK_RUNNING and recorded and plan.control.per_epoch and \
                    len(history.loss) < epochs:
                new_rate = plan.control.rate(len(history.loss), history)
                if new_rate != rates[k]:
                    rates[k] = new_rate
                    optimizers[k] = plan.core_optimizer(new_rate, states[k])
        if status == core.STATUS_INTERRUPTED:
            break   # Python raises KeyboardInterrupt (see nn_interrupt.h)
    for k in range(n_members):
        if on[k] == core.STACK_RUNNING:
            plans[k].control.finish(histories[k], members[k]._flat)
