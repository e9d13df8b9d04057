"""Many NNClassifier / NNRegressor fits as one nnpy.NetworkStack: what NNGridSearchCV and the
ensembles share.

An estimator's fit (sgd or adam, no early stopping) draws its initial weights and then runs
_fit_stochastic's epochs: each epoch permutes the rows with its random_state's generator and
trains the network one epoch on them (Network.fit(epochs=1, shuffle=False)). Estimators that
see the same rows in the same order (one X, one generator: the same random_state and row count)
can take those epochs together: one NetworkStack.fit(epochs=1) per epoch, each member with its
own learning rate, momentum, betas, epsilon and alpha, and the estimator's per-epoch logic
(loss_curve_, tol and n_iter_no_change, the invscaling and adaptive schedules, max_iter) run
per member here. A member's arithmetic is its lone fit's (the stack's contract), so each
estimator ends as its own fit would leave it.
"""
from __future__ import annotations

import inspect
import traceback
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..stack import NetworkStack
from ._shared import _batch_size, _EpochRows

# the estimator parameters a stacked fit handles per member (everything else is shared)
PER_MEMBER = frozenset({"learning_rate_init", "alpha", "momentum", "beta_1", "beta_2",
                        "epsilon", "tol", "n_iter_no_change", "max_iter", "learning_rate",
                        "power_t"})


def stackable(estimator: Any) -> bool:
    """Whether `estimator` (unfitted) can train as a member of a stacked fit: an NNClassifier
    or NNRegressor itself (not a subclass) with solver sgd or adam, no early stopping, not
    verbose, and an int random_state (the members of one stack share its row order)."""
    from ._classifier import NNClassifier
    from ._regressor import NNRegressor
    if type(estimator) not in (NNClassifier, NNRegressor):
        return False
    seed = estimator.random_state
    return (estimator.solver in ("sgd", "adam") and not estimator.early_stopping
            and not estimator.verbose and isinstance(seed, (int, np.integer))
            and not isinstance(seed, (bool, np.bool_)))


def shared_key(estimator: Any) -> Tuple[Any, ...]:
    """What the members of one stack share: the class and every parameter not in
    PER_MEMBER; random_state too when the rows are shuffled (it orders them), not without
    shuffling (then it only draws each member's initial weights)."""
    params = estimator.get_params(deep=False)
    own = PER_MEMBER if estimator.shuffle else PER_MEMBER | {"random_state"}
    return (type(estimator).__name__,) + tuple(
        (name, repr(value)) for name, value in sorted(params.items()) if name not in own)


def _setup(estimator: Any, X: Any, y: Any, sample_weight: Any) -> Dict[str, Any]:
    """Runs the estimator's fit up to its epochs (checks, initial weights, fitted attributes)
    and returns what its _fit_stochastic was called with."""
    seen: Dict[str, Any] = {}
    signature = inspect.signature(type(estimator)._fit_stochastic)

    def capture(*args: Any, **kwargs: Any) -> None:
        seen.update(signature.bind(estimator, *args, **kwargs).arguments)

    estimator._fit_stochastic = capture   # an instance attribute, shadowing the method
    try:
        estimator.fit(X, y, sample_weight=sample_weight)
    finally:
        del estimator.__dict__["_fit_stochastic"]
    return seen


def fit_members(estimators: Sequence[Any], X: Any, y: Any,
                sample_weight: Optional[Any] = None, *,
                member_weights: Optional[np.ndarray] = None) -> List[Optional[BaseException]]:
    """Fits every estimator (each stackable, all with one shared_key but maybe random_state)
    on X, y as one NetworkStack, epoch by epoch; returns per estimator None (fitted) or the
    exception its own fit raises. sample_weight: (n_rows,) for all. member_weights:
    (n_estimators, n_rows), each member's row weights multiplied into sample_weight
    (bootstrap counts). The first estimator's random_state orders the rows in every epoch,
    so it ends exactly as its own fit; each estimator's random_state draws its initial
    weights (with one random_state for all, each estimator ends as its own fit)."""
    errors: List[Optional[BaseException]] = [None] * len(estimators)
    setups: List[Optional[Dict[str, Any]]] = []
    for k, est in enumerate(estimators):
        try:
            setups.append(_setup(est, X, y, sample_weight))
        except Exception as error:   # the member's own fit would raise it
            errors[k] = error
            setups.append(None)
    live = [k for k, s in enumerate(setups) if s is not None]
    if not live:
        return errors
    first = setups[live[0]]
    assert first is not None
    X_train, Y_train, sw = first["X"], first["Y"], first["sample_weight"]
    rows = None
    if member_weights is not None:
        base = np.ones(X_train.shape[0]) if sw is None else np.asarray(sw, np.float64)
        rows = np.asarray(member_weights, np.float64)[live] * base
    trained = _train([estimators[k] for k in live], X_train, Y_train, sw, rows, first["rs"])
    for k, outcome in zip(live, trained):
        errors[k] = outcome
    return errors


def _train(members: List[Any], X: Any, Y: np.ndarray, sw: Optional[np.ndarray],
           rows: Optional[np.ndarray], rs: np.random.RandomState
           ) -> List[Optional[BaseException]]:
    """_fit_stochastic's epochs (no early stopping, no validation set, not incremental) for
    every member at once; per member None, or the error its own fit raises. rows: None, or
    each member's sample weights (n_members, n_rows)."""
    from ._shared import SolverDiverged
    from sklearn.exceptions import ConvergenceWarning
    errors: List[Optional[BaseException]] = [None] * len(members)
    first = members[0]
    n_samples = X.shape[0]
    batch_size = _batch_size(first.batch_size, n_samples)
    solver = first.solver
    sgd = solver == "sgd"
    lrs: List[float] = []
    for est in members:
        est.network_.reset_optimizer()
        settings = (est.solver, est.momentum, est.nesterovs_momentum, est.beta_1, est.beta_2,
                    est.epsilon)
        est._optimizer = _Optimizer(settings, float(est.learning_rate_init))
        est.n_iter_ = 0
        lrs.append(float(est.learning_rate_init))
    shared = dict(batch_size=batch_size, shuffle=False, optimizer=solver,
                  nesterov=bool(first.nesterovs_momentum) and sgd)
    momentum = [float(est.momentum) if sgd else 0.0 for est in members]
    betas = [(float(est.beta_1), float(est.beta_2)) for est in members]
    eps = [float(est.epsilon) for est in members]
    alpha = [float(est.alpha) for est in members]
    dropout = [float(est.dropout) for est in members]

    active = list(range(len(members)))
    stack = NetworkStack.from_networks([est.network_ for est in members])
    shuffle = bool(first.shuffle)
    epoch = _EpochRows(X, Y, sw, shuffle)
    while active:
        if shuffle:
            epoch.shuffle(rs)
        weights: Any = epoch.sample_weight
        if rows is not None:
            weights = rows[active][:, epoch.order] if shuffle else rows[active]
        histories = stack.fit(
            epoch.X, epoch.Y, epochs=1, sample_weight=weights,
            lr=[lrs[k] for k in active], momentum=[momentum[k] for k in active],
            betas=[betas[k] for k in active], eps=[eps[k] for k in active],
            alpha=[alpha[k] for k in active], dropout=[dropout[k] for k in active], **shared)
        done = []
        for j, k in enumerate(active):
            est, history = members[k], histories[j]
            if history.stopped in ("diverged", "refused"):
                errors[k] = SolverDiverged(
                    "Solver produced non-finite parameter weights. The input data may "
                    f"contain large values and need to be preprocessed. ({history.error})")
                done.append(j)
                continue
            est.n_iter_ += 1
            est.loss_ = est._epoch_loss(history)
            est.t_ += n_samples
            est.loss_curve_.append(est.loss_)
            est._update_no_improvement_count(False, None, None, None)
            if sgd and est.learning_rate == "invscaling":
                lrs[k] = float(est.learning_rate_init) / (est.t_ + 1) ** est.power_t
            est._optimizer.learning_rate = lrs[k]
            if est._no_improvement_count > est.n_iter_no_change:
                msg = (f"Training loss did not improve more than tol={est.tol:f} for "
                       f"{est.n_iter_no_change} consecutive epochs.")
                if est._trigger_stopping(msg, sgd):
                    done.append(j)
                    continue
                lrs[k] = est._optimizer.learning_rate
                est._no_improvement_count = 0
            if est.n_iter_ == est.max_iter:
                warnings.warn("Stochastic Optimizer: Maximum iterations (max_iter="
                              f"{est.max_iter}) reached and the optimization hasn't "
                              "converged yet.", ConvergenceWarning)
                done.append(j)
        if done:
            for j in done:
                members[active[j]].network_ = stack[j]
            kept = [j for j in range(len(active)) if j not in done]
            if kept:
                stack = NetworkStack.from_networks([stack[j] for j in kept])
            active = [active[j] for j in kept]
    return errors


class _Optimizer:
    """The estimator's record of its optimiser: settings and current learning rate."""

    def __init__(self, settings: Tuple[Any, ...], learning_rate: float) -> None:
        self.settings = settings
        self.learning_rate = learning_rate


def failure_text(error: BaseException) -> str:
    """The traceback text GridSearchCV records for a failed fit."""
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))
