"""Runs a study the way the command line does: the chosen mode, a progress bar, the space recorded
with the study, the best built-in model kept."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bntune import tune
from bntune.progress import Progress, StudyWatcher, WithProgress
from bntune.studyfile import save_space, save_trainable


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


#: modes whose trials are function objectives, and modes that train a ``tune.Trainable``
FUNCTION_MODES = ("coarse-to-fine", "random", "grid")
TRAINABLE_MODES = ("caviar", "panda", "pbt")
#: modes that run in this process (the tuner gives them no worker pool)
IN_PROCESS_MODES = ("panda",)


def planned_trials(mode: str, trials: int, rounds: int) -> int:
    """How many trials a mode runs: ``trials`` per round for coarse-to-fine, one model for
    panda, ``trials`` otherwise."""
    if mode == "coarse-to-fine":
        return trials * rounds
    return 1 if mode == "panda" else trials


def space_centre(space: tune.Space) -> dict[str, Any]:
    """The configuration at the centre of the unit cube (on each dimension's own scale): where
    a babysitter with no better idea starts."""
    return space.from_unit([0.5] * space.d)


def run_mode(
    study: tune.Study,
    objective: Any,
    space: tune.Space,
    *,
    mode: str,
    sampler: str = "sobol",
    trials: int,
    rounds: int = 1,
    top: float = 0.05,
    shrink: float = 0.5,
    quiet: bool = False,
    epochs: int = 0,
    workers: int | None = None,
    interval: int | None = None,
    objective_name: str | None = None,
    start: dict[str, Any] | None = None,
) -> None:
    """Runs ``mode`` with a progress bar and records the space and ``objective_name`` with the
    study (for ``bntune plot``).

    Function modes ("coarse-to-fine", "random", "grid") call ``objective(trial)``; trainable
    modes ("caviar", "panda", "pbt") train ``objective``, a ``tune.Trainable`` class, for
    ``epochs`` epochs: caviar a population of ``trials``, PBT too (exploiting every
    ``interval`` epochs), panda one model started at ``start`` (default: the centre of
    ``space``) and babysat by ``tune.DefaultPolicy``. ``workers``: processes for every mode but
    panda, which runs in this process (None: the cores).
    """
    save_space(study, space, objective_name)
    if mode in TRAINABLE_MODES:
        save_trainable(study, f"{objective.__module__}:{objective.__qualname__}")
    minimize = study.direction == "minimize"
    if mode in FUNCTION_MODES and workers == 1:
        total = planned_trials(mode, trials, rounds)
        if mode == "grid":
            from bntune.tune.samplers import design_size

            total = design_size(space, "grid", trials)
        with Progress(total, quiet=quiet, minimize=minimize, epochs=epochs) as progress, \
                one_blas_thread():  # fmt: skip
            wrapped = WithProgress(objective, progress)
            if mode == "coarse-to-fine":
                study.coarse_to_fine(wrapped, space, rounds=rounds, trials_per_round=trials,
                                     top=top, shrink=shrink, sampler=sampler)  # fmt: skip
            else:
                study.optimize(wrapped, space, n_trials=trials, sampler=sampler, n_workers=1)
        return
    storage = study._path
    if mode in FUNCTION_MODES:
        total, unit = planned_trials(mode, trials, rounds), "trial"
    else:
        total, unit = planned_trials(mode, trials, rounds) * epochs, "epoch"
    progress = Progress(total, quiet=quiet or storage is None, minimize=minimize,
                        desc="epochs" if unit == "epoch" else "trials", unit=unit)  # fmt: skip
    with progress, one_blas_thread():
        watcher = (
            StudyWatcher(storage, study.name, progress, unit=unit)
            if storage is not None and progress.active
            else contextlib.nullcontext()
        )
        with watcher:
            if mode == "coarse-to-fine":
                study.coarse_to_fine(objective, space, rounds=rounds, trials_per_round=trials,
                                     top=top, shrink=shrink, sampler=sampler,
                                     n_workers=workers)  # fmt: skip
            elif mode in FUNCTION_MODES:
                study.optimize(objective, space, n_trials=trials, sampler=sampler,
                               n_workers=workers)  # fmt: skip
            elif mode == "caviar":
                study.caviar(objective, space, population=trials, epochs=epochs,
                             n_workers=workers)  # fmt: skip
            elif mode == "pbt":
                study.pbt(objective, space, population=trials, epochs=epochs,
                          interval=interval or max(1, epochs // 6), n_workers=workers)  # fmt: skip
            elif mode == "panda":
                study.babysit(objective, start or space_centre(space), epochs=epochs)
            else:
                raise ValueError(f"run_mode: unknown mode {mode!r}")


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
    from bntune.report import ranked

    return [t.number for t in ranked(study)[:top]]
