"""Runs a study the way the command line does: the chosen mode, a progress bar, the space recorded
with the study, the best built-in model kept."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bntune import tune
from bntune.progress import Progress, WithProgress
from bntune.studyfile import save_space


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """The demo network's matrices are tiny: a BLAS thread pool only spin-waits on them (the
    training tests measured 10-20x slower epochs on a busy 2-core machine), so one thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def planned_trials(mode: str, trials: int, rounds: int) -> int:
    """How many trials a mode runs: ``trials`` per round for coarse-to-fine, ``trials`` else."""
    return trials * rounds if mode == "coarse-to-fine" else trials


def run_mode(
    study: tune.Study,
    objective: Callable[[Any], float],
    space: tune.Space,
    *,
    mode: str,
    sampler: str,
    trials: int,
    rounds: int = 1,
    top: float = 0.05,
    shrink: float = 0.5,
    quiet: bool = False,
    epochs: int = 0,
    objective_name: str | None = None,
) -> None:
    """Runs ``mode`` ("coarse-to-fine", "random" or "grid") with a progress bar and records the
    space and ``objective_name`` with the study (for ``bntune plot``)."""
    save_space(study, space, objective_name)
    total = planned_trials(mode, trials, rounds)
    if mode == "grid":
        from bntune.tune.samplers import design_size

        total = design_size(space, "grid", trials)
    with Progress(total, quiet=quiet, minimize=study.direction == "minimize",
                  epochs=epochs) as progress, one_blas_thread():  # fmt: skip
        wrapped = WithProgress(objective, progress)
        if mode == "coarse-to-fine":
            study.coarse_to_fine(wrapped, space, rounds=rounds, trials_per_round=trials, top=top,
                                 shrink=shrink, sampler=sampler)  # fmt: skip
        else:
            study.optimize(wrapped, space, n_trials=trials, sampler=sampler)


def keep_best_model(study: tune.Study, artifacts: Path, target: Path) -> Path | None:
    """Copies the best trial's model (written by the built-in objective) to ``target`` and
    deletes the other trials' model files (their metrics stay). None when there is none."""
    try:
        best = study.best_trial.number
    except ValueError:
        return None
    source = artifacts / f"{best}.npz"
    if not source.is_file():
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    for model in artifacts.glob("*.npz"):
        if model != source:
            model.unlink()
    return target
