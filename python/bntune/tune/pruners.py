"""Pruners: stop a trial early when its learning curve is worse than the others'."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping


class CurveHistory:
    """The completed trials' learning-curve values, kept sorted per step so that a median is a
    lookup (a report costs O(log n), whatever the study's size)."""

    def __init__(self) -> None:
        self._by_step: dict[int, list[float]] = {}

    def add(self, curve: Mapping[int, float]) -> None:
        """Adds one completed trial's curve (step -> value); non-finite values are left out."""
        for step, value in curve.items():
            if value is not None and math.isfinite(value):
                bisect.insort(self._by_step.setdefault(step, []), value)

    def count(self, step: int) -> int:
        """How many completed trials reported a value at ``step``."""
        return len(self._by_step.get(step, ()))

    def median(self, step: int) -> float:
        """The median of completed trials' values at ``step`` (NaN when there are none)."""
        values = self._by_step.get(step)
        if not values:
            return math.nan
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])


class Pruner:
    """Base class of the pruners: ``should_prune(step, value, history, minimize)`` says whether a
    trial reporting ``value`` at ``step`` should stop, given the completed trials' curves
    (``history``) and the study's direction. Subclass it for a pruner of your own."""

    def should_prune(self, step: int, value: float, history: CurveHistory, minimize: bool) -> bool:
        raise NotImplementedError


def check_pruner(pruner: object) -> Pruner | None:
    """``pruner`` itself when it is None, a :class:`Pruner` or any object with a
    ``should_prune`` method of that signature; TypeError naming what it got."""
    if pruner is None or isinstance(pruner, Pruner):
        return pruner
    if callable(getattr(pruner, "should_prune", None)):
        return pruner  # type: ignore[return-value]  (a pruner of the user's, duck-typed)
    hint = ""
    if type(pruner).__module__.startswith("bntune.tune.schedulers"):
        hint = " (ASHA and SuccessiveHalving are caviar schedulers: study.caviar(..., scheduler=))"
    elif type(pruner).__module__.startswith("optuna"):
        hint = " (Optuna's pruners run in Optuna; bntune's are tune.MedianStopping)"
    raise TypeError(
        f"pruner must be None or a tune pruner such as tune.MedianStopping(), got {pruner!r}{hint}"
    )


class MedianStopping(Pruner):
    """Median stopping rule: prune a trial whose value at step s is worse than the median of the
    completed trials' values at the same step s.

    Args:
        n_startup_trials: no pruning until this many completed trials have a value at the step
            (default 5).
        n_warmup_steps: no pruning at steps below this (default 0).
    """

    def __init__(self, n_startup_trials: int = 5, n_warmup_steps: int = 0) -> None:
        if not isinstance(n_startup_trials, int) or n_startup_trials < 1:
            raise ValueError(f"n_startup_trials must be an integer >= 1, got {n_startup_trials!r}")
        if not isinstance(n_warmup_steps, int) or n_warmup_steps < 0:
            raise ValueError(f"n_warmup_steps must be an integer >= 0, got {n_warmup_steps!r}")
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps

    def should_prune(self, step: int, value: float, history: CurveHistory, minimize: bool) -> bool:
        """Whether a trial reporting ``value`` at ``step`` should stop."""
        if step < self.n_warmup_steps or history.count(step) < self.n_startup_trials:
            return False
        if not math.isfinite(value):
            return True
        median = history.median(step)
        return value > median if minimize else value < median

    def __repr__(self) -> str:
        return (
            f"MedianStopping(n_startup_trials={self.n_startup_trials}, "
            f"n_warmup_steps={self.n_warmup_steps})"
        )
