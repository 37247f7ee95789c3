"""Coarse to fine: search the whole box, zoom into the region of the best points, repeat.

Round 1 samples the whole unit cube. Each later round:

1. takes the best ``top`` fraction (default 0.05, at least one trial) of all complete trials of
   the run so far — with 15 trials per round that is the best 1, then 2, then 3 trials;
2. per numeric dimension, forms the interval in unit space that covers them, pads it by
   ``PAD`` (0.1) of the previous round's width on each side, and widens it about its centre to
   at least ``shrink`` (default 0.5) times the previous width; then shifts it back inside
   [0, 1] (clipping only if it is wider than the cube);
3. per categorical dimension, keeps the options the best trials used;
4. samples that box with a fresh stream of ``sampler`` (seeded by the study's seed and the round).

The defaults (top=0.05, shrink=0.5, PAD=0.1) were chosen on development seeds of
``benches/compare_tuners.py`` (Hartmann-6, Branin, a deep-log-scale basin; 4 rounds x 15 trials)
before measuring on the benchmark's own seeds.

Because the box lives in unit space, a log-scale or 1 - beta dimension zooms by decades. Each
trial records its round and the boxes are stored: ``study.boxes``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bntune.tune.boxes import PAD, full_box, into_box, next_box
from bntune.tune.samplers import Sampler, derive_seed
from bntune.tune.space import Space
from bntune.tune.trial_loop import Design, run_design

__all__ = ["PAD", "Zoom", "full_box", "into_box", "next_box", "run"]

if TYPE_CHECKING:
    from bntune.tune.executors import WorkPool
    from bntune.tune.pruners import Pruner
    from bntune.tune.trial import FrozenTrial, Trial
    from bntune.tune.trial_log import TrialLog


@dataclass(frozen=True)
class Zoom:
    """A coarse-to-fine run's settings (see the module docstring), checked when made."""

    rounds: int
    trials_per_round: int
    top: float
    shrink: float
    sampler: Sampler

    def __post_init__(self) -> None:
        if not (isinstance(self.top, int | float) and 0.0 < self.top <= 1.0):
            raise ValueError(f"top must be a fraction in (0, 1], got {self.top!r}")
        if not (isinstance(self.shrink, int | float) and 0.0 < self.shrink <= 1.0):
            raise ValueError(f"shrink must be a fraction in (0, 1], got {self.shrink!r}")
        if not self.sampler.zoomable:
            raise ValueError(
                f"coarse_to_fine samples boxes with a fresh stream; use sobol, halton, "
                f"lhs or random, got sampler={self.sampler.name!r}"
            )

    def key(self, space: Space) -> str:
        """The run's name in the study: its boxes and streams are stored under it."""
        s = self
        return f"c2f:{s.sampler.name}:{s.trials_per_round}:{s.top}:{s.shrink}:{space.key}"


def run(
    log: TrialLog,
    objective: Callable[[Trial], float],
    space: Space,
    zoom: Zoom,
    pool: WorkPool,
    *,
    catch: tuple[type[BaseException], ...],
    pruner: Pruner | None,
    retry_failed: bool = False,
    after_round: Callable[[], None] | None = None,
) -> None:
    """The rounds of ``study.coarse_to_fine`` (arguments checked there), ``after_round`` called
    after each. Each round's trials run on ``pool``; a round ends when all its trials have, so
    the next box (and so every configuration) is the same for any number of workers."""
    run_key = zoom.key(space)
    storage, study_id = log.storage, log.study_id
    stored = storage.boxes(study_id, run_key)
    box = full_box(space)
    for r in range(1, zoom.rounds + 1):
        if r in stored:
            box = stored[r]
        else:
            if r > 1:
                box = next_box(space, box, _best(log, run_key, zoom.top), shrink=zoom.shrink)
            storage.put_box(study_id, run_key, r, box)
        stream = f"{run_key}:r{r}"
        seed = derive_seed(log.seed, stream)
        design = Design(space, zoom.sampler, stream, seed, zoom.trials_per_round, r,
                        box if r > 1 else None, retry_failed)  # fmt: skip
        run_design(log, objective, design, pool, catch=catch, pruner=pruner)
        if after_round is not None:
            after_round()


def _best(log: TrialLog, run_key: str, top: float) -> list[FrozenTrial]:
    done = [t for t in log.of_stream(run_key + ":r") if t.state == "complete"]
    done.sort(key=lambda t: t.value if log.minimize else -t.value)  # type: ignore[operator]
    return done[: max(1, math.ceil(top * len(done)))] if done else []
