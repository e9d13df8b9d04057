"""Optimisers as objects: one class per optimiser, each owning its settings and their checks,
its state vectors, the arguments it hands to the core and its fields in a network file.

    SGD(momentum=0.0, nesterov=False)   v = momentum*v - lr*g, W += v (nesterov: W += momentum*v
                                        - lr*g, as scikit-learn's nesterovs_momentum)
    Adam(betas=(0.9, 0.999), eps=1e-8)  torch.optim.Adam

`OPTIMIZERS` (name -> class) is the table everything reads: Network.fit(optimizer=name, ...)
builds the object from fit's keyword arguments (`from_fit_arguments`), nnpy.io writes and reads
a file's "optimizer" field through it (`header`, `from_header`) without knowing the names, and
`OptimizerState` keeps what the core updates between steps (moments and the step count).

A new optimiser is one class here (its settings, `vectors`, `core_arguments`, the header's
fields and their file checks, and `from_fit_arguments`) registered in `OPTIMIZERS`, plus its
step in the core.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Mapping, Optional, Tuple, Type, cast

import numpy as np
import numpy.typing as npt

from ._dispatch import core
from ._validation import as_float, choice

__all__ = ["Optimizer", "SGD", "Adam", "OPTIMIZERS", "OptimizerState", "from_fit_arguments"]


@dataclass(frozen=True)
class Optimizer:
    """An optimiser's settings (checked when made: ValueError/TypeError naming the argument).
    Two optimisers are equal when their settings are: fit keeps a network's state while they
    stay equal, and starts a fresh one when they change."""

    name: ClassVar[str]                      # its name in OPTIMIZERS, fit and files
    code: ClassVar[int]                      # the core's code for its step
    header_fields: ClassVar[Tuple[str, ...]]  # its fields in a file header, besides name and step

    @property
    def vectors(self) -> int:
        """Vectors of n_params its state holds (the core's Optimizer.state_vectors)."""
        raise NotImplementedError

    @property
    def settings(self) -> Tuple[Any, ...]:
        """(name, setting, ...): what Network.optimizer_state reports as "settings"."""
        raise NotImplementedError

    def core_arguments(self) -> Dict[str, Any]:
        """core.Optimizer's keyword arguments for these settings."""
        raise NotImplementedError

    def header(self) -> Dict[str, Any]:
        """Its fields in a network file's "optimizer" object (JSON values), `header_fields`."""
        raise NotImplementedError

    @classmethod
    def from_header(cls, fields: Mapping[str, Any], name: str) -> Optimizer:
        """The optimiser of a file's "optimizer" object (its `header_fields` present, parsed
        JSON), each field checked: ValueError starting with `name` (the file) otherwise."""
        raise NotImplementedError

    @classmethod
    def from_settings(cls, settings: Tuple[Any, ...]) -> Optimizer:
        """The optimiser of a `settings` tuple without its name (pickles of older networks)."""
        raise NotImplementedError

    @classmethod
    def from_fit_arguments(cls, momentum: Any, nesterov: Any, betas: Any,
                           eps: Any) -> Optimizer:
        """The optimiser Network.fit's keyword arguments describe (the others' arguments at
        their defaults, or refused)."""
        raise NotImplementedError

    def core_optimizer(self, lr: float, steps: npt.NDArray[np.int64], *, l2: float,
                       alpha: float) -> Any:
        """A core.Optimizer at learning rate lr, counting its steps in `steps`."""
        return core.Optimizer(self.code, lr, steps, l2=l2, alpha=alpha, **self.core_arguments())

    def new_state(self, n_params: int, dtype: npt.DTypeLike) -> OptimizerState:
        """A fresh state for a network of n_params in dtype: zero moments, step 0."""
        return OptimizerState(self, np.zeros(self.vectors * n_params, dtype))


def _check_nesterov(nesterov: Any) -> bool:
    if not isinstance(nesterov, (bool, np.bool_)):
        raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
    return bool(nesterov)


def _file_real(value: Any, low: float, high: float, what: str, name: str) -> float:
    """A header's number in [low, high), else ValueError naming the file and the field."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not low <= cast(float, value) < high:  # as given: an integer beyond float64 too
        raise ValueError(f"{name}: optimizer {what} must be a number in [{low}, {high}), "
                         f"got {value!r}")
    return float(value)


@dataclass(frozen=True)
class SGD(Optimizer):
    """Stochastic gradient descent with momentum (0: plain SGD) and Nesterov's variant.

    Parameters
    ----------
    momentum : float
        In [0, 1], as scikit-learn's.
    nesterov : bool
        Nesterov's momentum.
    """

    momentum: float = 0.0
    nesterov: bool = False

    name: ClassVar[str] = "sgd"
    code: ClassVar[int] = core.OPT_SGD
    header_fields: ClassVar[Tuple[str, ...]] = ("momentum", "nesterov")

    def __post_init__(self) -> None:
        object.__setattr__(self, "momentum",
                           as_float(self.momentum, "momentum", minimum=0.0, maximum=1.0))
        object.__setattr__(self, "nesterov", _check_nesterov(self.nesterov))

    @property
    def vectors(self) -> int:
        return 1 if self.momentum else 0   # the velocity, when there is momentum

    @property
    def settings(self) -> Tuple[Any, ...]:
        return ("sgd", self.momentum, self.nesterov)

    def core_arguments(self) -> Dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def header(self) -> Dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    @classmethod
    def from_header(cls, fields: Mapping[str, Any], name: str) -> SGD:
        momentum = _file_real(fields["momentum"], 0, 1, "momentum", name)
        if not isinstance(fields["nesterov"], bool):
            raise ValueError(f"{name}: optimizer nesterov must be true or false")
        return cls(momentum, fields["nesterov"])

    @classmethod
    def from_settings(cls, settings: Tuple[Any, ...]) -> SGD:
        return cls(*settings)

    @classmethod
    def from_fit_arguments(cls, momentum: Any, nesterov: Any, betas: Any, eps: Any) -> SGD:
        return cls(momentum, nesterov)   # Adam's betas and eps are not SGD's: left unread


@dataclass(frozen=True)
class Adam(Optimizer):
    """Adam, as torch.optim.Adam: eps is added to sqrt(v / (1 - beta2^t)).

    Parameters
    ----------
    betas : (float, float)
        The decay rates of the first and second moments, each in [0, 1).
    eps : float
        Added to the root of the second moment (> 0).
    """

    betas: Tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    name: ClassVar[str] = "adam"
    code: ClassVar[int] = core.OPT_ADAM
    header_fields: ClassVar[Tuple[str, ...]] = ("betas", "eps")

    def __post_init__(self) -> None:
        betas = self.betas
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        object.__setattr__(self, "betas",
                           (as_float(betas[0], "betas[0]", minimum=0.0, below=1.0),
                            as_float(betas[1], "betas[1]", minimum=0.0, below=1.0)))
        object.__setattr__(self, "eps", as_float(self.eps, "eps", positive=True))

    @property
    def vectors(self) -> int:
        return 2   # the first and second moments

    @property
    def settings(self) -> Tuple[Any, ...]:
        return ("adam", self.betas[0], self.betas[1], self.eps)

    def core_arguments(self) -> Dict[str, Any]:
        return {"beta1": self.betas[0], "beta2": self.betas[1], "eps": self.eps}

    def header(self) -> Dict[str, Any]:
        return {"betas": list(self.betas), "eps": self.eps}

    @classmethod
    def from_header(cls, fields: Mapping[str, Any], name: str) -> Adam:
        betas = fields["betas"]
        if not isinstance(betas, list) or len(betas) != 2:
            raise ValueError(f"{name}: optimizer betas must be a pair of numbers")
        beta1 = _file_real(betas[0], 0, 1, "betas[0]", name)
        beta2 = _file_real(betas[1], 0, 1, "betas[1]", name)
        eps = _file_real(fields["eps"], 0, math.inf, "eps", name)
        if not eps > 0:
            raise ValueError(f"{name}: optimizer eps must be > 0")
        return cls((beta1, beta2), eps)

    @classmethod
    def from_settings(cls, settings: Tuple[Any, ...]) -> Adam:
        return cls((settings[0], settings[1]), settings[2])

    @classmethod
    def from_fit_arguments(cls, momentum: Any, nesterov: Any, betas: Any, eps: Any) -> Adam:
        if SGD(momentum, nesterov) != SGD():   # checked as SGD's first, then refused
            raise ValueError("momentum and nesterov are settings of optimizer='sgd'; Adam's "
                             "are betas and eps")
        return cls(betas, eps)


# the optimiser table: name -> class
OPTIMIZERS: Dict[str, Type[Optimizer]] = {cls.name: cls for cls in (SGD, Adam)}


def from_fit_arguments(optimizer: Any, momentum: Any = 0.0, nesterov: Any = False,
                       betas: Any = (0.9, 0.999), eps: Any = 1e-8) -> Optimizer:
    """The optimiser of Network.fit's arguments: `optimizer` a name in OPTIMIZERS (or an
    Optimizer, the others then at their defaults), checked (ValueError/TypeError naming the
    argument)."""
    if isinstance(optimizer, Optimizer):
        given = [arg for arg, value, default in (("momentum", momentum, 0.0),
                                                 ("nesterov", nesterov, False),
                                                 ("betas", betas, (0.9, 0.999)),
                                                 ("eps", eps, 1e-8))
                 if not _same(value, default)]
        if given:
            raise ValueError(f"{', '.join(given)} cannot be given with an optimizer object "
                             f"({optimizer!r}): its settings are its own")
        return optimizer
    name = choice(optimizer, "optimizer", tuple(OPTIMIZERS))
    return OPTIMIZERS[name].from_fit_arguments(momentum, nesterov, betas, eps)


def _same(value: Any, default: Any) -> bool:
    """Whether a fit argument was left at its default (a pair compared item by item)."""
    try:
        if isinstance(default, tuple):
            return len(value) == len(default) and \
                all(float(v) == d for v, d in zip(value, default))
        return bool(value == default)
    except (TypeError, ValueError):
        return False


class OptimizerState:
    """An optimiser's state kept on a Network between fits: the core updates the moments and
    the step count in place, together, step by step.

    Parameters
    ----------
    optimizer : Optimizer
        The optimiser (and settings) the state belongs to.
    moments : ndarray
        SGD with momentum: the velocity; Adam: m then v (each flat, like the parameters).
    steps : ndarray of int64, shape (1,), optional
        [steps applied] (Adam's t); 0 when not given.
    """

    def __init__(self, optimizer: Optimizer, moments: np.ndarray,
                 steps: Optional[npt.NDArray[np.int64]] = None) -> None:
        self.optimizer = optimizer
        self.moments = moments
        self.steps = np.zeros(1, np.int64) if steps is None else steps

    @property
    def name(self) -> str:
        """The optimiser's name."""
        return self.optimizer.name

    @property
    def step(self) -> int:
        """Steps applied (Adam's t)."""
        return int(self.steps[0])

    def copy(self) -> OptimizerState:
        """An independent copy (the optimiser, immutable, shared)."""
        return OptimizerState(self.optimizer, self.moments.copy(), self.steps.copy())

    def __setstate__(self, state: Dict[str, Any]) -> None:
        # a pickle made before optimisers were objects holds (name, settings, moments, steps)
        if "settings" in state:
            settings = tuple(state["settings"])
            optimizer = OPTIMIZERS[settings[0]].from_settings(settings[1:])
            state = {"optimizer": optimizer, "moments": state["moments"],
                     "steps": state["steps"]}
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"OptimizerState({self.optimizer!r}, step={self.step})"
