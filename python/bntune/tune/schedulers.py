"""Schedulers for caviar mode: which trial trains next, for how long, and which ones stop.

Rungs: with ``grace`` g, ``reduction`` η and ``epochs`` E, the rungs are g, gη, gη², ... below
E, then E. A trial "reaches" a rung when it has trained that many epochs; its value there is
its curve value at that step (NaN/Inf rank last).

- :class:`SuccessiveHalving` (synchronous): every trial trains to rung 0; then the best
  ``floor(n / η)`` (at least 1) of the n trials alive continue to the next rung, the others
  stop (pruned); repeat until E. Its decisions depend only on the curves, never on timing, so
  they are the same for 1, 2 or 4 workers.
- :class:`ASHA` (asynchronous successive halving, Li et al. 2020): whenever a worker is free,
  promote a trial that is in the top ``1/η`` of the trials that reached its rung so far (highest
  rung first), resuming it from its checkpoint; if none can be promoted, start a new trial.
  Nobody waits for a rung to fill. What varies with the number of workers and their speed:
  which trials have reached a rung when a promotion is decided, so the set promoted (and the
  epochs spent) can differ from run to run; configurations never do.
- ``tune.MedianStopping`` (the pruner) also works here: each trial trains epoch by epoch and
  stops when its value at step s is worse than the median of the other trials' values at s,
  once ``n_startup_trials`` of them have one.
- ``None``: every trial trains all E epochs.

A scheduler sees only what is stored (curves, which trials stopped), so a restarted driver
takes the same decisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bntune.tune.pruners import CurveHistory, MedianStopping


@dataclass
class TrialState:
    """The driver's view of one caviar trial: its index in the population, epochs done, curve,
    and whether it is in flight, stopped (pruned) or finished (complete/diverged/failed)."""

    index: int
    done: int = 0
    curve: dict[int, float] = field(default_factory=dict)
    flying: bool = False
    stopped: bool = False
    finished: bool = False

    @property
    def alive(self) -> bool:
        return not (self.stopped or self.finished)

    @property
    def idle(self) -> bool:
        return self.alive and not self.flying


#: a scheduler's decision: runs [(index, train until this many epochs)], stops [index]
Plan = tuple[list[tuple[int, int]], list[int]]


def _check(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def rungs(grace: int, reduction: int, epochs: int) -> list[int]:
    """The rung epochs: grace * reduction**k below ``epochs``, then ``epochs``."""
    out = []
    r = grace
    while r < epochs:
        out.append(r)
        r *= reduction
    out.append(epochs)
    return out


def _rank_key(value: float | None, minimize: bool) -> float:
    if value is None or not math.isfinite(value):
        return math.inf
    return value if minimize else -value


class Scheduler:
    """Base class: ``plan(trials, free, epochs, minimize)`` returns at most ``free`` runs."""

    def plan(self, trials: list[TrialState], free: int, epochs: int, minimize: bool) -> Plan:
        raise NotImplementedError

    def key(self) -> str:
        """What identifies the scheduler in the run's stream name."""
        return repr(self)


class TrainFully(Scheduler):
    """No scheduler: every trial trains all epochs (one epoch per unit, so a checkpoint each)."""

    def plan(self, trials: list[TrialState], free: int, epochs: int, minimize: bool) -> Plan:
        idle = [t for t in trials if t.idle and t.done < epochs]
        idle.sort(key=lambda t: (t.done, t.index))
        return [(t.index, t.done + 1) for t in idle[:free]], []

    def __repr__(self) -> str:
        return "None"


class SuccessiveHalving(Scheduler):
    """Synchronous successive halving: at each rung the best ``floor(n / reduction)`` (at least
    1) of the ``n`` trials alive continue. Rungs are ``grace * reduction**k`` epochs, then the
    last epoch. Defaults: ``grace=1``, ``reduction=3``."""

    def __init__(self, grace: int = 1, reduction: int = 3) -> None:
        self.grace = _check("SuccessiveHalving: grace", grace, 1)
        self.reduction = _check("SuccessiveHalving: reduction", reduction, 2)

    def plan(self, trials: list[TrialState], free: int, epochs: int, minimize: bool) -> Plan:
        alive = [t for t in trials if t.alive]
        if not alive:
            return [], []
        ladder = rungs(self.grace, self.reduction, epochs)
        low = min(t.done for t in alive)
        if low in ladder and all(not t.flying for t in alive):
            k = ladder.index(low)
            if low == epochs:
                return [], []
            keep = max(1, len(trials) // self.reduction ** (k + 1))
            if len(alive) > keep:
                ranked = sorted(
                    alive, key=lambda t: (_rank_key(t.curve.get(low), minimize), t.index)
                )
                return [], [t.index for t in ranked[keep:]]
        target = next(r for r in ladder if r > low)
        idle = [t for t in alive if not t.flying and t.done < target]
        idle.sort(key=lambda t: t.index)
        return [(t.index, target) for t in idle[:free]], []

    def __repr__(self) -> str:
        return f"SuccessiveHalving(grace={self.grace}, reduction={self.reduction})"


class ASHA(Scheduler):
    """Asynchronous successive halving: a free worker promotes a trial in the top
    ``1/reduction`` of its rung (it resumes from its checkpoint), else starts a new trial.
    Trials never promoted end pruned. Defaults: ``grace=1``, ``reduction=3``."""

    def __init__(self, grace: int = 1, reduction: int = 3) -> None:
        self.grace = _check("ASHA: grace", grace, 1)
        self.reduction = _check("ASHA: reduction", reduction, 2)

    def plan(self, trials: list[TrialState], free: int, epochs: int, minimize: bool) -> Plan:
        ladder = rungs(self.grace, self.reduction, epochs)
        runs: list[tuple[int, int]] = []
        taken: set[int] = set()
        for _ in range(free):
            job = self._job(trials, ladder, minimize, taken)
            if job is None:
                break
            runs.append(job)
            taken.add(job[0])
        return runs, []

    def _job(
        self, trials: list[TrialState], ladder: list[int], minimize: bool, taken: set[int]
    ) -> tuple[int, int] | None:
        for k in range(len(ladder) - 2, -1, -1):
            rung = ladder[k]
            reached = [t for t in trials if t.done >= rung and rung in t.curve]
            top = sorted(reached, key=lambda t: (_rank_key(t.curve[rung], minimize), t.index))
            top = top[: len(reached) // self.reduction]
            for t in top:
                finite = math.isfinite(t.curve[rung])
                if t.idle and t.done == rung and finite and t.index not in taken:
                    return t.index, ladder[k + 1]
        fresh = [t for t in trials if t.idle and t.done == 0 and t.index not in taken]
        if fresh:
            return min(fresh, key=lambda t: t.index).index, ladder[0]
        return None

    def __repr__(self) -> str:
        return f"ASHA(grace={self.grace}, reduction={self.reduction})"


class MedianRule(Scheduler):
    """Caviar's use of :class:`tune.MedianStopping`: epoch by epoch, a trial whose value at
    step s is worse than the median of the other trials' values at s (once
    ``n_startup_trials`` others have one, and from ``n_warmup_steps`` on) stops."""

    def __init__(self, rule: MedianStopping) -> None:
        self.rule = rule

    def plan(self, trials: list[TrialState], free: int, epochs: int, minimize: bool) -> Plan:
        stops = []
        runs = []
        for t in sorted(trials, key=lambda t: (t.done, t.index)):
            if not t.idle or t.done >= epochs:
                continue
            if t.done > 0:
                others = CurveHistory()
                for o in trials:
                    if o.index != t.index and t.done in o.curve:
                        others.add({t.done: o.curve[t.done]})
                if self.rule.should_prune(t.done, t.curve[t.done], others, minimize):
                    stops.append(t.index)
                    continue
            if len(runs) < free:
                runs.append((t.index, t.done + 1))
        return runs, stops

    def key(self) -> str:
        return repr(self.rule)


def as_scheduler(scheduler: object) -> Scheduler:
    """The scheduler caviar runs for its ``scheduler`` argument."""
    if scheduler is None:
        return TrainFully()
    if isinstance(scheduler, MedianStopping):
        return MedianRule(scheduler)
    if isinstance(scheduler, Scheduler):
        return scheduler
    raise TypeError(
        f"scheduler must be None, tune.SuccessiveHalving, tune.ASHA or tune.MedianStopping, "
        f"got {scheduler!r}"
    )
