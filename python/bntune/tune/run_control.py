"""What ``optimize`` checks between trials: a stop asked for (``study.stop()``), a timeout, and
the callbacks that see each stored trial."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from bntune.tune.trial import FrozenTrial


def stop_check(stop: threading.Event, timeout: float | None) -> Callable[[], bool]:
    """Whether to start no more trials: ``stop`` set, or ``timeout`` seconds passed from now."""
    if timeout is not None and not (
        isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0
    ):
        raise ValueError(f"timeout must be > 0 seconds or None, got {timeout!r}")
    stop.clear()
    if timeout is None:
        return stop.is_set
    deadline = time.monotonic() + timeout
    return lambda: stop.is_set() or time.monotonic() >= deadline


def after_each_trial(
    study: Any, callbacks: Sequence[Callable[[Any, FrozenTrial], None]]
) -> Callable[[FrozenTrial], None] | None:
    """One function calling every ``callback(study, trial)`` in order (None without any)."""
    if callable(callbacks):
        callbacks = [callbacks]  # type: ignore[list-item]
    callbacks = list(callbacks)
    for c in callbacks:
        if not callable(c):
            raise TypeError(f"callbacks must be callables callback(study, trial), got {c!r}")
    if not callbacks:
        return None

    def after_trial(trial: FrozenTrial) -> None:
        for callback in callbacks:
            callback(study, trial)

    return after_trial
