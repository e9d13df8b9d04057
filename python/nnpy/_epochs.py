"""What Network.fit does between epochs beyond recording them: the learning-rate schedule and
early stopping (EpochControl), and class labels taken as targets (labels_as_targets)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np
import numpy.typing as npt

from ._validation import as_float, as_int
from .labels import as_labels, one_hot
from .schedules import Schedule, check_rate, first_rate

if TYPE_CHECKING:
    from .network import History


def labels_as_targets(Y: npt.ArrayLike, name: str, n_rows: int, output: str, n_out: int,
                      dtype: npt.DTypeLike) -> npt.ArrayLike:
    """Y one-hot encoded when it is 1-D class labels (one per row of X) for a classifier's
    outputs: a sigmoid or softmax output of two units or more (a single sigmoid unit takes
    0/1 labels as they are); anything else as it came, for the targets' own checks."""
    if output == "identity" or n_out < 2:
        return Y
    try:
        shape = np.shape(Y)
    except (TypeError, ValueError, OverflowError):  # ragged or odd: as_targets says what
        return Y
    if len(shape) != 1 or shape[0] != n_rows:
        return Y
    return one_hot(as_labels(Y, n_out, name), n_out, dtype)


class EpochControl:
    """fit's learning rate for each epoch, and early stopping: which epoch's weights are best
    so far (a copy of them), and whether to stop."""

    def __init__(self, lr: Any, patience: Optional[int], min_delta: float,
                 restore_best: bool, n_samples: int) -> None:
        self._constant = first_rate(lr)
        self._schedule = None if self._constant is not None else lr
        self.patience = None if patience is None else as_int(patience, "patience", 1)
        self.min_delta = as_float(min_delta, "min_delta", minimum=0.0)
        if not isinstance(restore_best, (bool, np.bool_)):
            raise TypeError(f"restore_best must be True or False, got {restore_best!r}")
        self.restore_best = bool(restore_best)
        self._n_samples = n_samples
        self._best = float("inf")
        self._best_epoch: Optional[int] = None
        self._best_params: Optional[np.ndarray] = None
        self._waited = 0

    @property
    def per_epoch(self) -> bool:
        """Whether fit must come back to Python after every epoch."""
        return self._schedule is not None or self.patience is not None

    def rate(self, epoch: int, history: History) -> float:
        """The learning rate for `epoch` (0-based in this fit)."""
        if self._constant is not None:
            return self._constant
        if isinstance(self._schedule, Schedule):
            value = self._schedule.rate(epoch, history, self._n_samples)
        else:
            value = self._schedule(epoch)  # type: ignore[misc]
        return check_rate(value, epoch)

    def should_stop(self, history: History, params: np.ndarray) -> bool:
        """After an epoch: keeps a copy of `params` if its monitored loss (validation loss if
        recorded, else training loss) improved on the best by more than min_delta; True when
        `patience` epochs in a row have not."""
        if self.patience is None:
            return False
        value = history.val_loss[-1] if history.val_loss else history.loss[-1]
        if value < self._best - self.min_delta:  # NaN never improves
            self._best = value
            self._best_epoch = len(history.loss) - 1
            self._waited = 0
            if self.restore_best:
                self._best_params = params.copy()
            return False
        self._waited += 1
        if self._waited >= self.patience:
            history.stopped_early = True
            return True
        return False

    def finish(self, history: History, params: np.ndarray) -> History:
        """At the end of a fit: records the best epoch and, with restore_best, puts its
        weights back into `params` (the caller holds the network for training)."""
        if self.patience is not None:
            history.best_epoch = self._best_epoch
            if self._best_params is not None and self._best_epoch != len(history.loss) - 1:
                params[...] = self._best_params
        return history
