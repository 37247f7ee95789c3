"""Runs a study the way the command line does: the chosen mode, a progress bar, the space recorded
with the study, the best built-in model kept."""

from __future__ import annotations

import contextlib
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bntune import tune
from bntune.cli.modes import MODES, Run
from bntune.cli.progress import Progress, StudyWatcher, WithProgress
from bntune.cli.studyfile import save_space, save_trainable
from bntune.tune.failures import FailedTrialsWarning
from bntune.tune.samplers import as_sampler


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


def run_mode(
    study: tune.Study,
    objective: Any,
    space: tune.Space,
    *,
    mode: str,
    run: Run,
    quiet: bool = False,
    objective_name: str | None = None,
) -> None:
    """Runs ``mode`` (a name of :data:`~bntune.cli.modes.MODES`) with a progress bar and
    records the space and ``objective_name`` with the study (for ``bntune plot``).

    Function modes call ``objective(trial)``; trainable modes train ``objective``, a
    ``tune.Trainable`` class, for ``run.epochs`` epochs: caviar a population of ``run.trials``,
    PBT too (exploiting every ``run.interval`` epochs), panda one model started at
    ``run.start`` (default: the centre of ``space``) and babysat by ``tune.DefaultPolicy``.
    ``run.workers``: processes for every mode but panda, which runs in this process (None: the
    cores).
    """
    with warnings.catch_warnings():
        # the command line says what failed itself, once the run is over (report.py), and
        # that it resumes a study: running the same configuration again is how it resumes
        warnings.simplefilter("ignore", FailedTrialsWarning)
        warnings.simplefilter("ignore", tune.ResumedWarning)
        _run_mode(study, objective, space, mode, run, quiet, objective_name)


def _run_mode(
    study: tune.Study,
    objective: Any,
    space: tune.Space,
    mode: str,
    run: Run,
    quiet: bool,
    objective_name: str | None,
) -> None:
    spec = MODES[mode]
    save_space(study, space, objective_name)
    if spec.trains:
        save_trainable(study, f"{objective.__module__}:{objective.__qualname__}")
    minimize = study.direction == "minimize"
    total = spec.planned_trials(run.trials, run.rounds)
    if spec.only_sampler == "grid":
        total = as_sampler("grid").size(space.coordinate_dims, run.trials)
    best = None if not study.trials or spec.trains else _best_value(study)
    if not spec.trains and run.workers == 1:
        # in this process: the progress bar follows each trial (and each epoch it reports),
        # from where a resumed study stands
        with Progress(total, quiet=quiet, minimize=minimize, epochs=run.epochs,
                      initial=len(study.trials), best=best) as progress, \
                one_blas_thread():  # fmt: skip
            spec.run(study, WithProgress(objective, progress), space, run)
        return
    storage = study.storage.path
    unit = "epoch" if spec.trains else "trial"
    if spec.trains:
        total *= run.epochs
    progress = Progress(total, quiet=quiet or storage is None, minimize=minimize,
                        desc="epochs" if unit == "epoch" else "trials", unit=unit)  # fmt: skip
    with progress, one_blas_thread():
        # on workers: a watcher reads the study file for the bar (see progress.py)
        watcher = (
            StudyWatcher(storage, study.name, progress, unit=unit)
            if storage is not None and progress.active
            else contextlib.nullcontext()
        )
        with watcher:
            spec.run(study, objective, space, run)


def _best_value(study: tune.Study) -> float | None:
    try:
        return study.best_trial.value
    except ValueError:
        return None


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


def trainable_models(study: tune.Study, trainable: type, numbers: list[int]) -> dict[int, Any]:
    """The stored best model (``trial.load(trainable)``) of each trial in ``numbers`` that has
    a checkpoint."""
    out = {}
    for t in study.trials:
        if t.number in numbers:
            try:
                out[t.number] = t.load(trainable)
            except (ValueError, KeyError):
                continue  # no stored checkpoint (e.g. a failed trial)
    return out


def test_accuracies(models: dict[int, Any]) -> dict[int, float]:
    """Trial number -> accuracy of its ``tune.MLPTrainable`` model on the digits test set."""
    from bntune import datasets, nn

    out = {}
    for number, trained in models.items():
        data = datasets.digits(int(trained.params.get("data_seed", 0)))
        _, acc = nn.evaluate(trained.model, nn.SoftmaxCrossEntropy(), data.X_test, data.y_test)
        if acc is not None:
            out[number] = acc
    return out


def ranked_numbers(study: tune.Study, top: int) -> list[int]:
    """Numbers of the ``top`` best complete trials, best first."""
    from bntune.cli.report import ranked

    return [t.number for t in ranked(study)[:top]]
