"""Coarse to fine: search the whole box, zoom into the region of the best points, repeat.

Two methods decide the boxes. ``method="adaptive"`` is a trust region whose box grows after
rounds that improve, shrinks after rounds that do not, restarts from the whole cube when it
collapses, places its points with a small local model, and every third round spends one trial
on a move outside the box (stream ``<run>:x<r>``): see :mod:`bntune.tune.trust_region`.
``method="zoom"`` is the fixed rule below (its knobs ``top`` and ``shrink`` belong to it alone).

Zoom: round 1 samples the whole unit cube. Each later round:

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

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bntune.tune import trust_region
from bntune.tune.boxes import PAD, full_box, into_box, next_box
from bntune.tune.dimensions import from_description
from bntune.tune.enqueue import ADDED
from bntune.tune.objectives import best_by_rank
from bntune.tune.samplers import Sampler, derive_seed
from bntune.tune.space import Space
from bntune.tune.trial_loop import Design, run_design

__all__ = ["METHODS", "PAD", "Zoom", "full_box", "into_box", "next_box", "run"]

#: the ways of deciding the boxes; the first is the default
METHODS = ("adaptive", "zoom")

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
    top: float | None
    shrink: float | None
    sampler: Sampler
    method: str = METHODS[0]

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.method == "adaptive":
            given = [k for k in ("top", "shrink") if getattr(self, k) is not None]
            if given:
                raise ValueError(
                    f"{' and '.join(given)} set the boxes of method='zoom'; method='adaptive' "
                    f"sizes its boxes from the results (see bntune.tune.trust_region): "
                    f"drop {' and '.join(given)} or pass method='zoom'"
                )
        else:
            if self.top is None:
                object.__setattr__(self, "top", 0.05)
            if self.shrink is None:
                object.__setattr__(self, "shrink", 0.5)
            if not (isinstance(self.top, int | float) and 0.0 < self.top <= 1.0):
                raise ValueError(f"top must be a fraction in (0, 1], got {self.top!r}")
            if not (isinstance(self.shrink, int | float) and 0.0 < self.shrink <= 1.0):
                raise ValueError(f"shrink must be a fraction in (0, 1], got {self.shrink!r}")
        if not self.sampler.zoomable:
            raise ValueError(
                f"coarse_to_fine samples boxes with a fresh stream; use sobol, halton, "
                f"lhs or random, got sampler={self.sampler.name!r}"
            )

    def key(self, space: Space | None) -> str:
        """The run's name in the study: its boxes and streams are stored under it."""
        s = self
        where = "define-by-run" if space is None else space.key
        if s.method == "adaptive":
            return f"c2f-adaptive:{s.sampler.name}:{s.trials_per_round}:{where}"
        return f"c2f:{s.sampler.name}:{s.trials_per_round}:{s.top}:{s.shrink}:{where}"


def run(
    log: TrialLog,
    objective: Callable[[Trial], float],
    space: Space | None,
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
    the next box (and so every configuration) is the same for any number of workers. Without a
    ``space`` (define by run, the zoom rule only) each round's box covers the parameters the
    study has seen, each zoomed on the best trials that used it."""
    if zoom.method == "adaptive":
        assert space is not None  # refused by the study
        _run_adaptive(log, objective, space, zoom, pool, catch=catch, pruner=pruner,
                      retry_failed=retry_failed, after_round=after_round)  # fmt: skip
        return
    run_key = zoom.key(space)
    storage, study_id = log.storage, log.study_id
    stored = storage.boxes(study_id, run_key)
    box = {} if space is None else full_box(space)
    for r in range(1, zoom.rounds + 1):
        if r in stored:
            box = stored[r]
        else:
            if r > 1:
                top, shrink = float(zoom.top), float(zoom.shrink)  # type: ignore[arg-type]
                seen = space if space is not None else _suggested_space(log)
                box = next_box(seen, box, _best(log, run_key, top, seen), shrink=shrink)
            storage.put_box(study_id, run_key, r, box)
        stream = f"{run_key}:r{r}"
        seed = derive_seed(log.seed, stream)
        design = Design(space, zoom.sampler, stream, seed, zoom.trials_per_round, r,
                        box if r > 1 else None, retry_failed)  # fmt: skip
        run_design(log, objective, design, pool, catch=catch, pruner=pruner)
        if after_round is not None:
            after_round()


def _suggested_space(log: TrialLog) -> Space:
    """The parameters a define-by-run study has suggested, as a space (in order of name)."""
    return Space(**{n: from_description(d) for n, d in sorted(log.suggested.items())})


def _best(log: TrialLog, run_key: str, top: float, space: Space) -> list[FrozenTrial]:
    # the run's trials, and results added with the space's coordinates (study.add_trial)
    added = [t for t in log.of_stream(ADDED) if set(space.names) <= set(t.unit)]
    done = [t for t in [*log.of_stream(run_key + ":r"), *added] if t.state == "complete"]
    if len(log.directions) > 1:  # several objectives: the best ranks of non-dominated sorting
        return best_by_rank(done, log.directions, max(1, math.ceil(top * len(done))))
    done.sort(key=lambda t: t.value if log.minimize else -t.value)  # type: ignore[operator]
    return done[: max(1, math.ceil(top * len(done)))] if done else []


def _run_adaptive(
    log: TrialLog,
    objective: Callable[[Trial], float],
    space: Space,
    zoom: Zoom,
    pool: WorkPool,
    *,
    catch: tuple[type[BaseException], ...],
    pruner: Pruner | None,
    retry_failed: bool,
    after_round: Callable[[], None] | None,
) -> None:
    """The rounds of method="adaptive": the region's state is replayed from each finished
    round's results (read back in seq order), so a resumed run decides as an unbroken one."""
    run_key = zoom.key(space)
    storage, study_id = log.storage, log.study_id
    stored = storage.boxes(study_id, run_key)
    tau_fail = trust_region.failures_allowed(space.d, zoom.trials_per_round)
    region = trust_region.Region()
    # the complete trials' unit points and minimised values in (round, seq) order, and where
    # each round starts in them
    seen = trust_region.Seen(space.d)
    starts: dict[int, int] = {}
    for r in range(1, zoom.rounds + 1):
        stream = f"{run_key}:r{r}"
        seed = derive_seed(log.seed, stream)
        sampler, design_box = zoom.sampler, None
        n_box, designs = zoom.trials_per_round, []
        if region.restarting:
            box = full_box(space)
        else:
            u, y = seen.units[starts[region.since] :], seen.ys[starts[region.since] :]
            box = stored[r] if r in stored else trust_region.region_box(space, region, u, y)
            if trust_region.explores(r, region, zoom.trials_per_round):
                n_box -= 1
                xstream = f"{run_key}:x{r}"
                row = trust_region.move(space, u, y, derive_seed(log.seed, xstream))
                designs.append(Design(space, trust_region.Planned(row), xstream, 0, 1, r, None,
                                      retry_failed))  # fmt: skip
            rows = trust_region.place(space, box, u, y, zoom.sampler, seed, n_box)
            sampler, design_box = trust_region.Planned(rows), box
        if r not in stored:
            storage.put_box(study_id, run_key, r, box)
        designs.insert(0, Design(space, sampler, stream, seed, n_box, r, design_box,
                                 retry_failed))  # fmt: skip
        done = []
        for design in designs:
            done += _run_round_design(log, objective, design, pool, catch=catch, pruner=pruner)
        sign = 1.0 if log.minimize else -1.0
        starts[r] = seen.n
        seen.add([[t.unit[name] for name in space.names] for t in done],
                 [sign * t.value for t in done])  # type: ignore[operator]  # fmt: skip
        region = trust_region.after_round(region, seen.ys[starts[r] :].tolist(), r, tau_fail)
        if after_round is not None:
            after_round()


def _run_round_design(
    log: TrialLog,
    objective: Callable[[Trial], float],
    design: Design,
    pool: WorkPool,
    *,
    catch: tuple[type[BaseException], ...],
    pruner: Pruner | None,
) -> list[FrozenTrial]:
    """Runs ``design`` and returns its first results (``_first_results``)."""
    # a design that starts afresh has its trials at the end of the log (in number order)
    fresh = len(log.pending(design.stream, design.n_total)) == design.n_total
    first_number = log.next_number
    run_design(log, objective, design, pool, catch=catch, pruner=pruner)
    if fresh:
        at = bisect.bisect_left(log.trials, first_number, key=lambda t: t.number)
        return _first_results(log.trials[at:], design.stream)
    return _first_results(log.trials, design.stream)


def _first_results(trials: list[FrozenTrial], stream: str) -> list[FrozenTrial]:
    """The complete trials of design ``stream`` that its first run of each point gave (a point
    run again by ``retry_failed`` does not change what later rounds decided), in seq order."""
    first: dict[int, FrozenTrial] = {}
    for t in trials:
        mine = t.stream == stream and not t.rerun and t.state != "running"
        if mine and (t.seq not in first or t.number < first[t.seq].number):
            first[t.seq] = t
    return [first[k] for k in sorted(first) if first[k].state == "complete"]
