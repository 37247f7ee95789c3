"""Population based training (Jaderberg et al. 2017), synchronous.

The population (trial k gets point k of the study's Sobol design) trains in generations of
``interval`` epochs. At the end of each generation but the last, members are ranked by their
metric; each member of the bottom quarter (at least one when the population has two or more)
copies the checkpoint of a member of the top quarter (exploit) — inheriting its structural
hyperparameters (layers, hidden units) with it — and perturbs the hyperparameters that
``set_params`` accepts, each on its own scale (explore):

- ``LogUniform``, ``IntLogUniform``: multiplied by 0.8 or 1.25;
- ``OneMinusLogUniform``: ``1 - value`` multiplied by 0.8 or 1.25;
- ``Uniform``, ``IntUniform``: moved by ±10% of the range (integers by at least 1);
- ``Choice``: moved to a neighbouring option;

each clipped to its dimension's range. The random choices come from a generator seeded by the
study's seed and the generation, so a run is reproducible whatever the number of workers.
Exploits are stored as ``trial.events`` ({"kind": "exploit", "epoch", "from", "params",
"values"}); each trial's curve is its member's curve, across the checkpoints it copied.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from bntune.tune.dimensions import (
    Choice,
    Dimension,
    IntLogUniform,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Uniform,
)
from bntune.tune.executors import WorkPool, run_all
from bntune.tune.population import Population, population_trials
from bntune.tune.samplers import derive_seed
from bntune.tune.space import Space
from bntune.tune.trainable import mutable_names
from bntune.tune.trial import current_params
from bntune.tune.units import Unit, UnitResult, advance

if TYPE_CHECKING:
    from bntune.tune.trial import FrozenTrial
    from bntune.tune.trial_log import TrialLog

#: the multiplicative steps on log scales, and the additive step on linear ones
FACTORS = (0.8, 1.25)
LINEAR_STEP = 0.1


def perturb(dim: Dimension, value: Any, rng: np.random.Generator) -> Any:
    """``value`` moved one step on ``dim``'s own scale (see the module docstring)."""
    up = bool(rng.integers(2))
    if isinstance(dim, LogUniform | IntLogUniform):
        new = value * (FACTORS[1] if up else FACTORS[0])
        new = min(max(new, dim.low), dim.high)
        if isinstance(dim, IntLogUniform):
            new = round(new)
            if new == value:
                new = min(max(value + (1 if up else -1), dim.low), dim.high)
        return new
    if isinstance(dim, OneMinusLogUniform):
        gap = (1.0 - value) * (FACTORS[1] if up else FACTORS[0])
        return min(max(1.0 - gap, dim.low), dim.high)
    if isinstance(dim, IntUniform):
        move = max(1, round(LINEAR_STEP * (dim.high - dim.low)))
        return int(min(max(value + (move if up else -move), dim.low), dim.high))
    if isinstance(dim, Uniform):
        move = LINEAR_STEP * (dim.high - dim.low)
        return min(max(value + (move if up else -move), dim.low), dim.high)
    if isinstance(dim, Choice):
        i = dim.index(value) + (1 if up else -1)
        return dim.options[min(max(i, 0), len(dim.options) - 1)]
    return value


def run(log: TrialLog, job: Population, interval: int, pool: WorkPool) -> list[FrozenTrial]:
    """``study.pbt`` (see there and this module's docstring; arguments checked there)."""
    trainable, space, population, epochs = job.trainable, job.space, job.size, job.epochs
    # the perturbations' seed does not depend on the trainable's name, the stream does
    run_key = f"pbt:{population}:{epochs}:{interval}:{space.key}"
    stream = f"pbt:{trainable.__qualname__}:{population}:{epochs}:{interval}:{space.key}"
    minimize = log.minimize
    pool.check_sendable(trainable, "trainable")
    members = population_trials(log, space, stream, population)
    mutable = [n for n in mutable_names(trainable, members[0].params) if space[n].uses_coordinate]
    done = {
        m.number: (_stored_step(log, m) if m.state == "running" else max(m.curve, default=0))
        for m in members
    }
    while True:
        alive = [m for m in members if m.state == "running"]
        if not alive:
            break
        low = min(done[m.number] for m in alive)
        target = min(epochs, (low // interval + 1) * interval)
        _train(log, pool, stream, trainable, alive, done, target, mutable)
        alive = [m for m in members if m.state == "running"]
        if target >= epochs:
            for m in alive:
                last = m.curve.get(done[m.number])
                log.save_progress(m, finish=("complete", last, None))
            break
        _exploit(log, space, run_key, alive, done, target, mutable, minimize)
    return members


def _stored_step(log: TrialLog, m: FrozenTrial) -> int:
    stored = log.storage.checkpoint_steps(m._id)
    return stored[-1] if stored else 0


def _train(
    log: TrialLog,
    pool: WorkPool,
    stream: str,
    trainable: type,
    alive: list[FrozenTrial],
    done: dict[int, int],
    target: int,
    mutable: list[str],
) -> None:
    """Every alive member trains up to ``target`` epochs (in parallel)."""
    queue = []
    for order, m in enumerate(alive):
        if done[m.number] >= target:
            continue
        params = current_params(m)
        found = log.storage.checkpoint(m._id) if done[m.number] else None
        queue.append(
            Unit(
                run=stream,
                trial=m.number,
                trainable=trainable,
                params=params,
                checkpoint=None if found is None else found[1],
                start=done[m.number],
                epochs=target - done[m.number],
                changes={k: params[k] for k in mutable},
                limit_threads=pool.limit_threads,
                order=order,
            )
        )
    by_number = {m.number: m for m in alive}

    def next_units(free: int) -> list[Unit]:
        out = queue[:free]
        del queue[:free]
        return out

    def on_done(unit: Unit, result: UnitResult) -> None:
        m = by_number[unit.trial]
        values = [v for _, v in result.points]
        finish = None
        if result.error is not None:
            finish = ("failed", None, result.error)
        elif values and not math.isfinite(values[-1]):
            finish = ("diverged", None, f"the metric became {values[-1]!r}")
        log.save_progress(
            m,
            points=result.points,
            checkpoint=None if result.checkpoint is None else (result.step, result.checkpoint),
            finish=finish,
        )
        if result.checkpoint is not None:
            done[m.number] = result.step

    run_all(pool, advance, next_units, on_done)


def _exploit(
    log: TrialLog,
    space: Space,
    run_key: str,
    alive: list[FrozenTrial],
    done: dict[int, int],
    target: int,
    mutable: list[str],
    minimize: bool,
) -> None:
    """The bottom quarter copies the top quarter's checkpoints at step ``target``, perturbed."""
    if any(
        e.get("kind") == "exploit" and e.get("epoch") == target for m in alive for e in m.events
    ):
        return  # this generation's exploit is stored already (a resumed run)
    n = len(alive) // 4 or (1 if len(alive) >= 2 else 0)
    if n == 0:
        return
    sign = 1.0 if minimize else -1.0

    def score(m: FrozenTrial) -> tuple[float, int]:
        v = m.curve.get(target, math.nan)
        return (sign * v if math.isfinite(v) else math.inf, m.number)

    ranked = sorted(alive, key=score)
    top, bottom = ranked[:n], ranked[-n:]
    rng = np.random.default_rng(derive_seed(log.seed, run_key, target))
    for m in bottom:
        donor = top[int(rng.integers(n))]
        params = current_params(donor)
        values = {name: perturb(space[name], params[name], rng) for name in mutable}
        params.update(values)
        found = log.storage.checkpoint(donor._id, done[donor.number])
        assert found is not None
        event = {
            "kind": "exploit",
            "epoch": target,
            "from": donor.number,
            "params": params,
            "values": values,
        }
        log.save_progress(m, checkpoint=(target, found[1]), events=[event])
        done[m.number] = target
