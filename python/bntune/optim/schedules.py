"""Learning-rate decay, stepped once per epoch.

Epochs count from 1, as the course's ``epoch_num`` does: ``lr_at(1)`` is the rate of the first
epoch and ``lr0`` the rate before any decay. ``nn.fit(..., schedule=s)`` calls
``s.apply(optimizer, epoch)`` at the start of every epoch. ``lr0=None`` takes the optimizer's
learning rate the first time the schedule is applied.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _positive(owner: str, name: str, value: Any, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{owner}: {name} must be finite and {bound}, got {value!r}")
    return value


class Schedule:
    """Base class: ``lr_at(epoch)`` is the learning rate of a 1-based epoch."""

    def __init__(self, lr0: float | None = None) -> None:
        self.lr0 = None if lr0 is None else _positive(type(self).__name__, "lr0", lr0)

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError

    def _check(self, epoch: int) -> float:
        name = type(self).__name__
        if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 1:
            raise ValueError(f"{name}: epoch counts from 1, got {epoch!r}")
        if self.lr0 is None:
            raise ValueError(f"{name}: lr0 is not set; pass lr0= or apply() it to an optimizer")
        return self.lr0

    def apply(self, optimizer: Any, epoch: int) -> float:
        """Sets ``optimizer.lr`` to ``lr_at(epoch)`` and returns it."""
        if self.lr0 is None:
            self.lr0 = float(optimizer.lr)
        lr = self.lr_at(epoch)
        optimizer.lr = lr
        return lr

    def state_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "lr0": self.lr0}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("type") != type(self).__name__:
            raise ValueError(
                f"{type(self).__name__}: load_state_dict got the state of a {state.get('type')!r}"
            )
        self.lr0 = state["lr0"]


class ExponentialDecay(Schedule):
    """``lr = lr0 · rate**epoch`` (e.g. ``rate=0.95``)."""

    def __init__(self, rate: float, *, lr0: float | None = None) -> None:
        super().__init__(lr0)
        self.rate = _positive("ExponentialDecay", "rate", rate)

    def lr_at(self, epoch: int) -> float:
        return self._check(epoch) * self.rate**epoch


class InverseTimeDecay(Schedule):
    """The course's decay: ``lr = lr0 / (1 + decay_rate · epoch)``."""

    def __init__(self, decay_rate: float, *, lr0: float | None = None) -> None:
        super().__init__(lr0)
        self.decay_rate = _positive("InverseTimeDecay", "decay_rate", decay_rate, allow_zero=True)

    def lr_at(self, epoch: int) -> float:
        return self._check(epoch) / (1.0 + self.decay_rate * epoch)


class StepDecay(Schedule):
    """Piecewise constant: ``lr = lr0 · factor**((epoch - 1) // step_size)``, i.e. ``lr0`` for the
    first ``step_size`` epochs, then multiplied by ``factor`` (default 0.5) every ``step_size``."""

    def __init__(self, step_size: int, factor: float = 0.5, *, lr0: float | None = None) -> None:
        super().__init__(lr0)
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepDecay: step_size must be a positive int, got {step_size!r}")
        self.step_size = step_size
        self.factor = _positive("StepDecay", "factor", factor)

    def lr_at(self, epoch: int) -> float:
        return self._check(epoch) * self.factor ** ((epoch - 1) // self.step_size)


class InverseSqrtDecay(Schedule):
    """``lr = k / sqrt(epoch)``: ``k`` is the rate of the first epoch (it replaces ``lr0``)."""

    def __init__(self, k: float) -> None:
        super().__init__(None)
        self.k = _positive("InverseSqrtDecay", "k", k)
        self.lr0 = self.k

    def apply(self, optimizer: Any, epoch: int) -> float:
        lr = self.lr_at(epoch)
        optimizer.lr = lr
        return lr

    def lr_at(self, epoch: int) -> float:
        self._check(epoch)
        return self.k / math.sqrt(epoch)
