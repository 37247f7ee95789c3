"""Caviar mode: a population of models trained in parallel, each recording its curve per epoch.

Trial k of the population gets point k of the study's Sobol design (the configuration
``space.sample(population, seed=log.seed)[k]``), whatever the number of workers. The driver
asks the scheduler what to run, sends "advance trial k by e epochs from its checkpoint" units to
the executor, and commits each result (curve points and new checkpoint, one transaction) as it
arrives. A driver that is restarted with the same arguments continues from the stored
checkpoints: the scheduler's state is the stored curves.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from bntune.tune.executors import WorkPool, run_all
from bntune.tune.population import Population, population_trials
from bntune.tune.schedulers import Scheduler, TrialState
from bntune.tune.units import Unit, UnitResult, advance

if TYPE_CHECKING:
    from bntune.tune.trial import FrozenTrial
    from bntune.tune.trial_log import TrialLog


def run(log: TrialLog, job: Population, plan: Scheduler, pool: WorkPool) -> list[FrozenTrial]:
    """``study.caviar`` (see there; arguments checked there)."""
    trainable, space, population, epochs = job.trainable, job.space, job.size, job.epochs
    stream = f"caviar:{trainable.__qualname__}:{plan.key()}:{population}:{epochs}:{space.key}"
    pool.check_sendable(trainable, "trainable")
    trials = population_trials(log, space, stream, population)
    states = [_state(log, t) for t in trials]
    minimize = log.minimize

    def next_units(free: int) -> list[Unit]:
        runs, stops = plan.plan(states, free, epochs, minimize)
        while stops:  # stopping trials may let the others go on: ask again
            for index in stops:
                _stop(log, trials[index], states[index])
            runs, stops = plan.plan(states, free, epochs, minimize)
        units = []
        for index, until in runs:
            s, t = states[index], trials[index]
            found = log.storage.checkpoint(t._id) if s.done else None
            units.append(
                Unit(
                    run=stream,
                    trial=t.number,
                    trainable=trainable,
                    params=dict(t.params),
                    checkpoint=None if found is None else found[1],
                    start=s.done,
                    epochs=until - s.done,
                    limit_threads=pool.limit_threads,
                    order=index,
                )
            )
            s.flying = True
        return units

    def done(unit: Unit, result: UnitResult) -> None:
        index = unit.order
        s, t = states[index], trials[index]
        s.flying = False
        finish = None
        values = [v for _, v in result.points]
        if result.error is not None:
            finish = ("failed", None, result.error)
        elif values and not math.isfinite(values[-1]):
            finish = ("diverged", None, f"the metric became {values[-1]!r}")
        elif result.step >= epochs:
            finish = ("complete", values[-1], None)
        log.save_progress(
            t,
            points=result.points,
            checkpoint=None if result.checkpoint is None else (result.step, result.checkpoint),
            finish=finish,
        )
        s.done = result.step if result.checkpoint is not None else s.done
        s.curve.update(result.points)
        s.finished = finish is not None

    run_all(pool, advance, next_units, done)
    # trials the scheduler never took further stop where they are
    for t, s in zip(trials, states, strict=True):
        if t.state == "running":
            _stop(log, t, s)
    return trials


def _state(log: TrialLog, t: FrozenTrial) -> TrialState:
    s = TrialState(index=t.seq, curve=dict(t.curve))
    if t.state == "running":
        stored = log.storage.checkpoint_steps(t._id)
        s.done = stored[-1] if stored else 0
        # points after the last checkpoint (none: they commit together) would be redone
        s.curve = {k: v for k, v in s.curve.items() if k <= s.done}
    else:
        s.done = max(t.curve, default=0)
        s.finished = t.state != "pruned"
        s.stopped = t.state == "pruned"
    return s


def _stop(log: TrialLog, t: FrozenTrial, s: TrialState) -> None:
    value = s.curve.get(s.done) if s.done else None
    if value is not None and not math.isfinite(value):
        value = None
    log.save_progress(t, finish=("pruned", value, None))
    s.stopped = True
