"""What ``optimize`` checks between trials: a stop asked for (``study.stop()``), a timeout, and
the callbacks that see each stored trial; and before them, how many trials ``n_trials`` leaves
to run (:func:`warn_resumed`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from bntune.tune.failures import warn_caller
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


class ResumedWarning(UserWarning):
    """``optimize`` runs fewer than ``n_trials`` trials, maybe none: ``n_trials`` counts the
    study's trials of the design, and it has some already (bntune resumes to ``n_trials``;
    Optuna would run ``n_trials`` more). The message says which ``n_trials`` runs that many
    more. Also: a ``coarse_to_fine`` call that runs nothing, the study having its every trial."""


def warn_resumed(
    study: str, done: int, n_trials: int, left: int, *, budgeted: bool, enqueued: int
) -> None:
    """Warns (:class:`ResumedWarning`) that a run of ``n_trials`` on study ``study``, which has
    run ``done`` points of the design already, runs only the ``left`` it has not."""
    if left > 0:
        running = f"running the {left} left"
    elif enqueued:
        running = f"running only the {enqueued} enqueued"
    else:
        running = "nothing to run"
    if budgeted:
        more = (
            "this sampler's design depends on its budget: another n_trials is a new design of "
            "that many trials"
        )
    else:
        more = f"pass n_trials={done + n_trials} for {n_trials} more"
    warn_caller(
        f"study {study!r} already has {done} trials of this design and n_trials={n_trials} "
        f"counts the study's trials (bntune resumes to n_trials): {running}; {more}",
        ResumedWarning,
    )


def warn_finished_run(study: str, rounds: int, trials_per_round: int) -> None:
    """Warns (:class:`ResumedWarning`) that a coarse-to-fine run of study ``study`` ran nothing:
    the study has every trial of that run already (bntune resumes a run; it does not repeat
    it)."""
    warn_caller(
        f"study {study!r} already has every trial of this coarse-to-fine run ({rounds} rounds "
        f"of {trials_per_round} trials): nothing to run (running the same call again resumes an "
        f"unfinished run); for another search, change its rounds, trials_per_round, sampler or "
        f"space, or use a new study",
        ResumedWarning,
    )
