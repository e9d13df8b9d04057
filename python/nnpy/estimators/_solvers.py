"""The estimators' training loops: sgd and adam epoch by epoch in the core, lbfgs by
scipy's L-BFGS-B on the core's loss and gradient."""
from __future__ import annotations

import warnings
from typing import Any, Optional, cast

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from ..network import History, TrainingDiverged, _overflow_error
from .._sparse import as_rows
from ._shared import _batch_size, _EpochRows, _Optimizer, _scale_free
from ._state import _MLPState

_MIN_ADAPTIVE_LR = 1e-6  # "adaptive" stops instead of dividing a learning rate at or below this


class _MLPSolvers(_MLPState):
    """The solvers' loops (_fit_stochastic, _fit_lbfgs) and what they record."""

    # ---- sgd and adam -------------------------------------------------------------------

    def _fit_stochastic(self, X: np.ndarray, Y: np.ndarray, sample_weight: Optional[np.ndarray],
                        rs: np.random.RandomState, incremental: bool,
                        validation: Optional[tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]]
                        = None) -> None:
        net = self.network_
        settings = (self.solver, self.momentum, self.nesterovs_momentum, self.beta_1,
                    self.beta_2, self.epsilon)
        if not incremental or getattr(self, "_optimizer", None) is None or \
                self._optimizer.settings != settings:
            # a new optimiser, as scikit-learn makes at every fit: zero velocity and moments,
            # the initial learning rate
            net.reset_optimizer()
            self._optimizer = _Optimizer(settings, float(self.learning_rate_init))
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        X_val: Optional[np.ndarray]
        y_val: Optional[np.ndarray]
        Y_val: Optional[np.ndarray]
        sw_val: Optional[np.ndarray]
        if validation is not None:  # fit's X_val, y_val: early stopping on them, no split
            X_train, Y_train, sw_train = X, Y, sample_weight
            X_val, Y_val, sw_val = validation
            y_val = self._targets_for_score(Y_val)
        elif early_stopping:
            # the split of scikit-learn: stratified for a single output column only
            stratify = Y.astype(bool) if is_classifier(self) and self.n_outputs_ == 1 \
                else None
            arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
            split = train_test_split(*arrays, random_state=rs,
                                     test_size=self.validation_fraction, stratify=stratify)
            X_train, X_val, Y_train, Y_val = split[:4]
            sw_train, sw_val = split[4:] if sample_weight is not None else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            y_val = self._targets_for_score(Y_val)
        else:
            X_train, Y_train, sw_train = X, Y, sample_weight
            X_val = y_val = Y_val = sw_val = None

        n_samples = X_train.shape[0]
        batch_size = _batch_size(self.batch_size, n_samples)

        rows = _EpochRows(X_train, Y_train, sw_train, bool(self.shuffle))
        sgd = self.solver == "sgd"
        fit_settings: dict[str, Any] = dict(
            batch_size=batch_size, shuffle=False, optimizer=self.solver,
            momentum=float(self.momentum) if sgd else 0.0,
            nesterov=bool(self.nesterovs_momentum) and sgd,
            betas=(float(self.beta_1), float(self.beta_2)), eps=float(self.epsilon),
            alpha=float(self.alpha), dropout=float(self.dropout))
        t_start = self.t_  # samples trained before this call (partial_fit, warm starts)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    rows.shuffle(rs)
                try:
                    history = net.fit(rows.X, rows.Y, epochs=1, sample_weight=rows.sample_weight,
                                      lr=self._optimizer.learning_rate, **fit_settings)
                except (TrainingDiverged, ValueError) as error:
                    # net.fit refuses weights whose pre-activations overflow on X with a
                    # ValueError; each epoch is a fit of its own, so once this call has trained
                    # an epoch (t_ counts its samples) that is training's divergence, not X's
                    if isinstance(error, ValueError) and self.t_ == t_start:
                        # X itself overflows at the initial weights: net.fit named the row of
                        # its shuffled copy; name it in X
                        raise _overflow_error(net._model(), net.get_flat_params(),
                                              as_rows(X, "X", net.dtype, None)[0]) or error
                    err = error if isinstance(error, TrainingDiverged) else TrainingDiverged(
                        f"the weights training reached overflow on X: {error}")
                    if not early_stopping:
                        raise err from None
                    self._diverged(err)  # scikit-learn's outcome: the best weights, no error
                    break
                self.n_iter_ += 1
                self.loss_ = self._epoch_loss(history)
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                if early_stopping:
                    self._record_validation_loss(cast(np.ndarray, X_val),
                                                 cast(np.ndarray, Y_val), sw_val)
                self._update_no_improvement_count(early_stopping, X_val, y_val, sw_val)
                if sgd and self.learning_rate == "invscaling":
                    self._optimizer.learning_rate = \
                        float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score did not improve" if early_stopping else \
                        "Training loss did not improve"
                    msg = (f"{what} more than tol={self.tol:f} for {self.n_iter_no_change} "
                           f"consecutive epochs.")
                    if self._trigger_stopping(msg, sgd):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn("Stochastic Optimizer: Maximum iterations (max_iter="
                                  f"{self.max_iter}) reached and the optimization hasn't "
                                  "converged yet.", ConvergenceWarning)
        except KeyboardInterrupt:
            # scikit-learn warns and returns; here Ctrl-C propagates, the estimator fitted
            # as far as it got (the completed steps, or early stopping's best weights)
            self._end_stochastic(early_stopping)
            raise
        self._end_stochastic(early_stopping)

    def _record_validation_loss(self, X_val: np.ndarray, Y_val: np.ndarray,
                                sw_val: Optional[np.ndarray]) -> None:
        """Appends the epoch's loss on the validation set to validation_loss_curve_: the
        loss of loss_curve_ without alpha's penalty (log-loss, or squared error as nnpy
        reports it), weighted by the validation sample weights; NaN where it overflows."""
        curve = cast("list[float]", self.validation_loss_curve_)
        try:
            curve.append(float(self.network_.loss(X_val, Y_val, sample_weight=sw_val)))
        except ValueError:  # outputs that overflowed (Network says so)
            curve.append(np.nan)

    def _diverged(self, err: TrainingDiverged) -> None:
        """With early stopping, a step that would make a weight non-finite ends training as
        scikit-learn's MLP ends it (its weights go non-finite, its validation scores NaN, and
        it keeps the weights of the best score without an error): the epoch is counted, its
        loss and validation scores are NaN, a ConvergenceWarning says why training stopped,
        and the best weights are restored."""
        self.n_iter_ += 1
        self.loss_ = np.nan
        self.loss_curve_.append(np.nan)
        cast("list[float]", self.validation_scores_).append(np.nan)
        cast("list[float]", self.validation_loss_curve_).append(np.nan)
        warnings.warn(f"training diverged in epoch {self.n_iter_} ({err}); stopped with the "
                      "weights of the best validation score", ConvergenceWarning)

    def _end_stochastic(self, early_stopping: bool) -> None:
        if early_stopping:  # the weights of the best validation score
            self.network_.weights, self.network_.biases = self._best_params

    def _epoch_loss(self, history: History) -> float:
        """The epoch's training loss as scikit-learn reports it."""
        return float(history.loss[-1])

    def _trigger_stopping(self, msg: str, sgd: bool) -> bool:
        """True to stop; with sgd's "adaptive" schedule, divides the learning rate by 5
        instead until it is at most 1e-6."""
        if not (sgd and self.learning_rate == "adaptive"):
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if self._optimizer.learning_rate <= _MIN_ADAPTIVE_LR:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self._optimizer.learning_rate /= 5.0
        if self.verbose:
            print(msg + " Setting learning rate to %f" % self._optimizer.learning_rate)
        return False

    def _update_no_improvement_count(self, early_stopping: bool, X_val: Optional[np.ndarray],
                                     y_val: Optional[np.ndarray],
                                     sw_val: Optional[np.ndarray]) -> None:
        # casts: with early stopping, _start_curves made the validation records and the
        # split made X_val, y_val; without it, best_loss_ is a number
        if early_stopping:
            scores, best = cast("list[float]", self.validation_scores_), \
                cast(float, self.best_validation_score_)
            score = self._validation_score(cast(np.ndarray, X_val), cast(np.ndarray, y_val),
                                           sw_val)
            scores.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < best + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > best:
                self.best_validation_score_ = score
                self._best_params = self._params_copy()
        else:
            best_loss = cast(float, self.best_loss_)
            if self.loss_curve_[-1] > best_loss - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < best_loss:
                self.best_loss_ = self.loss_curve_[-1]

    def _validation_score(self, X: np.ndarray, y: np.ndarray,
                          sample_weight: Optional[np.ndarray]) -> float:
        """Accuracy (classifier) or R^2 (regressor) of the current weights on X, y; NaN if
        the outputs are not finite (as scikit-learn)."""
        try:
            out = self.network_.predict(X)
        except ValueError:  # X was checked: outputs that overflowed (Network.predict says so)
            return np.nan
        return float(self._score_function(y, self._decode(out),
                                          sample_weight=_scale_free(sample_weight)))

    # ---- lbfgs --------------------------------------------------------------------------

    def _fit_lbfgs(self, X: np.ndarray, Y: np.ndarray, sample_weight: Optional[np.ndarray]) -> None:
        import scipy.optimize
        net = self.network_
        iteration = [0]

        def report(intermediate_result: Any) -> None:  # a scipy.optimize.OptimizeResult
            iteration[0] += 1
            print("Iteration %d, loss = %.8f" % (iteration[0], intermediate_result.fun))

        objective = net.objective(X, Y, sample_weight=sample_weight, alpha=float(self.alpha))
        result = scipy.optimize.minimize(
            objective, net.get_flat_params().astype(np.float64), method="L-BFGS-B", jac=True,
            callback=report if self.verbose else None,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        self.n_iter_ = min(int(result.nit), self.max_iter)
        if result.status != 0:
            message = (f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                       f"(status={result.status}):\n{result.message}\n")
            if self.n_iter_ == self.max_iter:
                message += ("\nIncrease the number of iterations to improve the convergence "
                            f"(max_iter={self.max_iter}).")
            message += ("\nYou might also want to scale the data as shown in:\n"
                        "    https://scikit-learn.org/stable/modules/preprocessing.html")
            warnings.warn(message, ConvergenceWarning, stacklevel=4)
        if not np.isfinite(result.x).all():
            raise TrainingDiverged("L-BFGS-B ended on non-finite parameters")
        net.set_flat_params(result.x)
        self.loss_ = float(result.fun)
