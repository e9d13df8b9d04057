"""Learning-rate schedules for Network.fit: `lr` may be a number, a callable of the epoch, or
one of these.

    from nnpy.schedules import StepDecay, ExponentialDecay, InverseScaling, ReduceOnPlateau
    net.fit(X, Y, epochs=30, lr=lambda epoch: 0.5 * 0.9 ** epoch)        # any callable
    net.fit(X, Y, epochs=30, lr=StepDecay(0.5, factor=0.1, every=10))     # torch's StepLR
    net.fit(X, Y, epochs=30, lr=ReduceOnPlateau(0.5, patience=3))        # scikit-learn's "adaptive"

fit asks for the learning rate once before each epoch (epochs counted from 0 in that fit) and
uses it for every step of the epoch: the compiled loop runs whole epochs, Python comes back
once an epoch. A plain callable is called as lr(epoch); a Schedule as
schedule.rate(epoch, history, n_samples) with the History of the fit so far (for schedules
that follow the loss). fit records the rate of each epoch in History.lr.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ._validation import as_float, as_int

if TYPE_CHECKING:
    from .network import History

__all__ = ["Schedule", "StepDecay", "ExponentialDecay", "InverseScaling", "ReduceOnPlateau"]


class Schedule:
    """A learning-rate schedule: rate(epoch, history, n_samples) -> the rate for epoch
    `epoch` (0 at the start of each fit), given the History of that fit's completed epochs
    and the number of training samples. fit calls it once per epoch, in order."""

    def __init__(self, lr: float) -> None:
        self.lr = as_float(lr, "lr", positive=True)

    def rate(self, epoch: int, history: History, n_samples: int) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class StepDecay(Schedule):
    """lr * factor ** (epoch // every): the rate drops by `factor` every `every` epochs
    (torch.optim.lr_scheduler.StepLR(step_size=every, gamma=factor)).

    Parameters
    ----------
    lr : float
        The first epochs' rate.
    factor : float, default 0.1
        In (0, 1].
    every : int, default 10

    Examples
    --------
    >>> net.fit(X, Y, epochs=30, lr=StepDecay(0.5, factor=0.5, every=10))  # 0.5, 0.25, 0.125
    """

    def __init__(self, lr: float, factor: float = 0.1, every: int = 10) -> None:
        super().__init__(lr)
        self.factor = as_float(factor, "factor", positive=True, maximum=1.0)
        self.every = as_int(every, "every", 1)

    def rate(self, epoch: int, history: History, n_samples: int) -> float:
        return self.lr * self.factor ** (epoch // self.every)


class ExponentialDecay(Schedule):
    """lr * gamma ** epoch (torch.optim.lr_scheduler.ExponentialLR(gamma)).

    Parameters
    ----------
    lr : float
        Epoch 0's rate.
    gamma : float
        In (0, 1].

    Examples
    --------
    >>> net.fit(X, Y, epochs=30, lr=ExponentialDecay(0.5, gamma=0.9))
    """

    def __init__(self, lr: float, gamma: float) -> None:
        super().__init__(lr)
        self.gamma = as_float(gamma, "gamma", positive=True, maximum=1.0)

    def rate(self, epoch: int, history: History, n_samples: int) -> float:
        return self.lr * self.gamma ** epoch


class InverseScaling(Schedule):
    """scikit-learn's learning_rate="invscaling": lr / (t + 1) ** power_t with t the samples
    seen before the epoch (epoch * n_samples), updated once an epoch as scikit-learn's MLP
    updates it.

    Parameters
    ----------
    lr : float
        Epoch 0's rate (learning_rate_init).
    power_t : float, default 0.5

    Examples
    --------
    >>> net.fit(X, Y, epochs=30, lr=InverseScaling(0.5, power_t=0.25))
    """

    def __init__(self, lr: float, power_t: float = 0.5) -> None:
        super().__init__(lr)
        self.power_t = as_float(power_t, "power_t", minimum=0.0)

    def rate(self, epoch: int, history: History, n_samples: int) -> float:
        return self.lr / (epoch * n_samples + 1) ** self.power_t


class ReduceOnPlateau(Schedule):
    """Divides the rate when the loss stops improving: torch's
    ReduceLROnPlateau(mode="min", threshold_mode="abs", threshold=min_delta, factor,
    patience, min_lr), and like scikit-learn's learning_rate="adaptive" (factor 0.2). The
    loss followed is the validation loss when fit has `validation`, else the training loss.
    An epoch improves when its loss is below the best so far by more than min_delta; after
    more than `patience` epochs in a row without, the rate becomes max(rate * factor, min_lr)
    and the count starts again. Each fit starts from lr.

    Parameters
    ----------
    lr : float
        The starting rate.
    factor : float, default 0.2
        In (0, 1).
    patience : int, default 10
    min_delta : float, default 1e-4
    min_lr : float, default 0.0

    Examples
    --------
    >>> net.fit(X, Y, epochs=100, lr=ReduceOnPlateau(0.5, patience=3), validation=(Xv, Yv))
    """

    def __init__(self, lr: float, factor: float = 0.2, patience: int = 10,
                 min_delta: float = 1e-4, min_lr: float = 0.0) -> None:
        super().__init__(lr)
        self.factor = as_float(factor, "factor", positive=True, below=1.0)
        self.patience = as_int(patience, "patience", 0)
        self.min_delta = as_float(min_delta, "min_delta", minimum=0.0)
        self.min_lr = as_float(min_lr, "min_lr", minimum=0.0)
        self._reset()

    def _reset(self) -> None:
        self._current = self.lr
        self._best = float("inf")
        self._bad_epochs = 0
        self._seen = 0

    def rate(self, epoch: int, history: History, n_samples: int) -> float:
        if epoch == 0:
            self._reset()
        followed = history.val_loss if history.val_loss else history.loss
        # the epochs completed since the last call (one, as fit calls it)
        for value in followed[self._seen:]:
            if value < self._best - self.min_delta:
                self._best = value
                self._bad_epochs = 0
            else:
                self._bad_epochs += 1
            if self._bad_epochs > self.patience:
                self._current = max(self._current * self.factor, self.min_lr)
                self._bad_epochs = 0
        self._seen = len(followed)
        return self._current


def check_rate(value: object, epoch: int) -> float:
    """A schedule's answer for `epoch`, checked: a finite number > 0, else ValueError."""
    try:
        return as_float(value, f"lr at epoch {epoch}", positive=True)
    except TypeError as err:
        raise TypeError(f"the lr schedule must return a number: {err}") from None


def first_rate(lr: object) -> Optional[float]:
    """lr checked as a constant rate, or None when it is a schedule (a callable)."""
    if isinstance(lr, Schedule) or callable(lr):
        return None
    return as_float(lr, "lr", positive=True)
