"""Coarse to fine: search the whole box, zoom into the region of the best points, repeat.

Two methods decide the boxes. ``method="adaptive"`` is a trust region whose box grows after
rounds that improve, shrinks after rounds that do not, restarts from the whole cube when it
collapses, places its points with a small local model, and every third round spends one trial
on a move outside the box (stream ``<run>:x<r>``): see :mod:`bntune.tune.trust_region`. It
runs define by run too (no declared space, or a conditional one: the box, model and move follow
the parameters the best trial used, the others keep their whole range) and with several
objectives (one ParEGO scalarisation a round): see :mod:`bntune.tune.adaptive_round`.
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bntune.tune import trust_region
from bntune.tune.adaptive_round import (
    Evidence,
    Round,
    best_before,
    full_round_box,
    next_round,
    round_weights,
)
from bntune.tune.boxes import PAD, full_box, into_box, next_box, zoom_best
from bntune.tune.dimensions import from_description
from bntune.tune.enqueue import ADDED
from bntune.tune.objectives import signs
from bntune.tune.samplers import Sampler, derive_seed
from bntune.tune.space import Space
from bntune.tune.storage import Box
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
    after_round: Callable[[int], None] | None = None,
) -> None:
    """The rounds of ``study.coarse_to_fine`` (arguments checked there), ``after_round(r)``
    called after each round r. Each round's trials run on ``pool``; a round ends when all its
    trials have, so the next box (and so every configuration) is the same for any number of
    workers. Without a ``space`` (define by run) each round's box covers the parameters the
    study has seen (the zoom rule) or the run has seen (the adaptive method), each decided by
    trials that used it."""
    if zoom.method == "adaptive":
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
            after_round(r)


def _suggested_space(log: TrialLog) -> Space:
    """The parameters a define-by-run study has suggested, as a space (in order of name)."""
    return Space(**{n: from_description(d) for n, d in sorted(log.suggested.items())})


def _best(log: TrialLog, run_key: str, top: float, space: Space) -> list[FrozenTrial]:
    # the run's trials, and results added with the space's coordinates (study.add_trial)
    added = [t for t in log.of_stream(ADDED) if set(space.names) <= set(t.unit)]
    done = [t for t in [*log.of_stream(run_key + ":r"), *added] if t.state == "complete"]
    return zoom_best(done, log.directions, top)


def _run_adaptive(
    log: TrialLog,
    objective: Callable[[Trial], float],
    space: Space | None,
    zoom: Zoom,
    pool: WorkPool,
    *,
    catch: tuple[type[BaseException], ...],
    pruner: Pruner | None,
    retry_failed: bool,
    after_round: Callable[[int], None] | None,
) -> None:
    """The rounds of method="adaptive": the region's state is replayed from each finished
    round's results (read back in seq order), so a resumed run decides as an unbroken one.
    Without a ``space`` (define by run) or with several objectives, the round is decided as
    :mod:`bntune.tune.adaptive_round` says."""
    run_key = zoom.key(space)
    storage, study_id = log.storage, log.study_id
    stored = storage.boxes(study_id, run_key)
    evidence = Evidence([] if space is None else space.names, signs(log.directions))
    region = trust_region.Region()
    for r in range(1, zoom.rounds + 1):
        stream = f"{run_key}:r{r}"
        seed = derive_seed(log.seed, stream)
        weights = round_weights(len(log.directions), run_key, log.seed, r)
        seen = space if space is not None else evidence.space(log.suggested)
        n_box, designs = zoom.trials_per_round, []
        if region.restarting or seen is None:
            plan = Round(stored.get(r, full_round_box(seen)))
            design = Design(space, zoom.sampler, stream, seed, n_box, r, None, retry_failed)
        else:
            xstream = f"{run_key}:x{r}"
            xseed = derive_seed(log.seed, xstream)
            explores = trust_region.explores(r, region, zoom.trials_per_round)
            if explores:
                n_box -= 1
            # a round replayed with every point done (a resume, each study.ask) needs no model
            left = log.pending(stream, n_box, retry_failed=retry_failed)
            plan = next_round(seen, evidence, evidence.scores(r, weights), region,
                              sampler=zoom.sampler, seed=seed, n_box=n_box,
                              move_seed=xseed if explores else None,
                              stored=stored.get(r), place=bool(left))  # fmt: skip
            design = _planned_design(space, zoom.sampler, stream, seed, n_box, r, plan.box,
                                     plan.rows, plan, retry_failed)  # fmt: skip
            if plan.move is not None:
                designs.append(_planned_design(space, zoom.sampler, xstream, xseed, 1, r, None,
                                               plan.move, plan, retry_failed))  # fmt: skip
        if r not in stored:
            storage.put_box(study_id, run_key, r, plan.box)
        designs.insert(0, design)
        done = []
        for design in designs:
            done += _run_round_design(log, objective, design, pool, catch=catch, pruner=pruner)
        evidence.add(r, done)
        scores = evidence.scores(r, weights)
        before = None if weights is None else best_before(scores, evidence, region, r)
        d = len(evidence.names)
        tau_fail = trust_region.failures_allowed(d, zoom.trials_per_round)
        region = trust_region.after_round(region, scores[evidence.starts[r] :].tolist(), r,
                                          tau_fail, before)  # fmt: skip
        if after_round is not None:
            after_round(r)


def _planned_design(
    space: Space | None,
    sampler: Sampler,
    stream: str,
    seed: int,
    n: int,
    r: int,
    box: Box | None,
    rows: np.ndarray | None,
    plan: Round,
    retry_failed: bool,
) -> Design:
    """The design of ``n`` points chosen in advance (``rows`` over ``plan.names``, in ``box``
    coordinates when there is a box): as a sampler of a declared space's points, or define by
    run as the coordinates the trials read (the others drawn from ``sampler``'s sequences)."""
    if rows is None:  # no model (the incumbent used no parameter): a plain design of the box
        return Design(space, sampler, stream, seed, n, r, box, retry_failed)
    if space is not None:
        return Design(space, trust_region.Planned(rows), stream, seed, n, r, box, retry_failed)
    return Design(None, sampler, stream, seed, n, r, box, retry_failed, plan.plan(rows))


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
