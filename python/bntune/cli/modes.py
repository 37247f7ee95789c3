"""Every mode the command line runs, in one registry: the study file's ``search.mode``, the
demo's ``--mode`` and the runner all read it.

A mode is a function mode (its trials call ``objective(trial)``: coarse-to-fine, random, grid)
or a trainable mode (it trains a ``tune.Trainable`` epoch by epoch: caviar, PBT, panda). A new
mode is one :class:`Mode` in :data:`MODES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bntune import tune


@dataclass(frozen=True)
class Run:
    """What a mode is run with (the study file's ``[search]`` or the demo's flags)."""

    trials: int
    rounds: int = 1
    #: coarse-to-fine's method; top and shrink are the zoom rule's (None for its defaults)
    method: str = "adaptive"
    top: float | None = None
    shrink: float | None = None
    sampler: str = "sobol"
    epochs: int = 0
    workers: int | None = None
    interval: int | None = None
    #: where panda starts (None: the centre of the space)
    start: dict[str, Any] | None = None
    #: function modes: run the failed trials' configurations again
    retry_failed: bool = False


def space_centre(space: tune.Space) -> dict[str, Any]:
    """The configuration at the centre of the unit cube (on each dimension's own scale): where
    a babysitter with no better idea starts."""
    return space.from_unit([0.5] * space.d)


def _coarse_to_fine(study: tune.Study, objective: Any, space: tune.Space, r: Run) -> None:
    study.coarse_to_fine(objective, space, rounds=r.rounds, trials_per_round=r.trials,
                         top=r.top, shrink=r.shrink, method=r.method, sampler=r.sampler,
                         n_workers=r.workers,
                         retry_failed=r.retry_failed)  # fmt: skip


def _optimize(study: tune.Study, objective: Any, space: tune.Space, r: Run) -> None:
    study.optimize(objective, space, n_trials=r.trials, sampler=r.sampler, n_workers=r.workers,
                   retry_failed=r.retry_failed)  # fmt: skip


def _caviar(study: tune.Study, objective: Any, space: tune.Space, r: Run) -> None:
    study.caviar(objective, space, population=r.trials, epochs=r.epochs, n_workers=r.workers)


def _pbt(study: tune.Study, objective: Any, space: tune.Space, r: Run) -> None:
    study.pbt(objective, space, population=r.trials, epochs=r.epochs,
              interval=r.interval or max(1, r.epochs // 6), n_workers=r.workers)  # fmt: skip


def _panda(study: tune.Study, objective: Any, space: tune.Space, r: Run) -> None:
    study.babysit(objective, r.start or space_centre(space), epochs=r.epochs)


@dataclass(frozen=True)
class Mode:
    """A mode of the command line (see the module docstring)."""

    name: str
    run: Callable[[tune.Study, Any, tune.Space, Run], None]
    #: trains a ``tune.Trainable`` (else calls a function objective)
    trains: bool = False
    #: the sampler it uses unless told otherwise (trainable modes always use Sobol)
    sampler: str = "sobol"
    #: the only sampler it accepts (grid mode samples a grid)
    only_sampler: str | None = None
    #: runs in the driver's process: no workers
    in_process: bool = False
    #: takes coarse-to-fine's rounds, method, top and shrink
    zooms: bool = False
    #: how many models a run of ``trials`` (per round) trains: None means ``trials``
    models: Callable[[int, int], int] | None = None

    def planned_trials(self, trials: int, rounds: int) -> int:
        """How many trials a run of ``trials`` (per round, for ``rounds`` rounds) makes."""
        return trials if self.models is None else self.models(trials, rounds)


MODES: dict[str, Mode] = {
    m.name: m
    for m in (
        Mode("coarse-to-fine", _coarse_to_fine, zooms=True, models=lambda t, r: t * r),
        Mode("random", _optimize, sampler="random"),
        Mode("grid", _optimize, sampler="grid", only_sampler="grid"),
        Mode("caviar", _caviar, trains=True),
        Mode("pbt", _pbt, trains=True),
        Mode("panda", _panda, trains=True, in_process=True, models=lambda t, r: 1),
    )
}
#: the modes' names, in the order the documentation lists them
NAMES = tuple(MODES)


def workers_error(mode: str, workers: int | None) -> str | None:
    """Why ``workers`` cannot go with ``mode`` (None when they can)."""
    if workers is not None and workers > 1 and MODES[mode].in_process:
        return f"{mode} mode runs in the driver's process"
    return None
