"""Ask and tell: trials run by the caller (an external job system, a loop of one's own).

``study.ask()`` stores a ``running`` trial for the next point of the design — of a declared
space, or define-by-run (the caller's code calls ``trial.suggest_*``) — and returns the live
trial; ``study.tell(trial, value)`` (or ``state="pruned"`` / ``"failed"``) stores its result.
Asked trials take the design's points in order, as ``optimize`` would, so asking and telling
gives trial k the configuration ``optimize`` gives it.

Coarse-to-fine this way (``study.ask(space, coarse_to_fine=tune.CoarseToFine(rounds=...,
trials_per_round=...))``): each ask replays the run's rounds from what was told — the rounds'
trials come from the loop ``study.coarse_to_fine`` runs, on a pool that hands the next point out
instead of running it — so trial k and every box are those of ``study.coarse_to_fine`` given the
same results. A round's trials can all be out at once; the next round's box needs all their
results, so asking beyond them raises :class:`RoundPending` (naming the trials to tell), and
asking after the last round raises :class:`SearchFinished`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bntune.tune import coarse_to_fine, enqueue
from bntune.tune.checks import positive_int
from bntune.tune.coarse_to_fine import METHODS, Zoom
from bntune.tune.enqueue import ENQUEUED
from bntune.tune.errors import RoundPending, SearchFinished, TrialUsageError
from bntune.tune.executors import WorkPool
from bntune.tune.objectives import judge_values
from bntune.tune.pruners import Pruner
from bntune.tune.samplers import Sampler, as_sampler
from bntune.tune.space import Space
from bntune.tune.suggest import Suggestions
from bntune.tune.trial import FrozenTrial, Trial, last_value
from bntune.tune.trial_log import TrialLog
from bntune.tune.trial_loop import HandedOut, judge

TOLD_STATES = ("complete", "pruned", "failed")


@dataclass
class Asked:
    """A trial handed out by ``ask`` and not told yet."""

    record: FrozenTrial
    trial: Trial
    #: where its suggest_* values come from (None: a declared space's trial of a mode)
    suggest: Suggestions | None


class AskTell:
    """The asked trials of one study (in this driver)."""

    def __init__(self, log: TrialLog) -> None:
        self.log = log
        self.asked: dict[int, Asked] = {}

    def ask(
        self, space: Space | None, sampler: Sampler, stream: str, pruner: Pruner | None
    ) -> Trial:
        log = self.log
        waiting = {a.record.seq for a in self.asked.values() if a.record.stream == ENQUEUED}
        for seq, given in enqueue.pending(log):
            if seq not in waiting:
                return self._ask_enqueued(space, sampler, seq, given, pruner)
        # the points asked for and not told are not pending: one more than them is enough
        seq = log.pending(stream, log.next_number + len(log.asked.get(stream, ())) + 1)[0]
        if space is None:
            params: dict[str, Any] = {}
            unit: dict[str, float] = {}
            suggest = Suggestions(sampler.name, log.seed, seq, None, log.suggested)
        else:
            u = sampler.points(space.coordinate_dims, log.seed, seq, 1, seq + 1).tolist()[0]
            params, unit = space.from_unit(u), dict(zip(space.names, u, strict=True))
            suggest = Suggestions(sampler.name, log.seed, seq, space)
        return self._start(log.new_trial(params, unit, stream, seq), space, suggest, pruner)

    def _ask_enqueued(
        self,
        space: Space | None,
        sampler: Sampler,
        seq: int,
        given: dict[str, Any],
        pruner: Pruner | None,
    ) -> Trial:
        log = self.log
        if space is None:
            index = enqueue.SPARE_INDEX + seq
            suggest = Suggestions(sampler.name, log.seed, index, None, log.suggested, given)
            params: dict[str, Any] = {}
            unit: dict[str, float] = {}
        else:
            unit = enqueue.declared_unit(space, given)
            fixed = {n: space[n].from_unit(0.0) for n in space if n not in unit}
            params, suggest = {**fixed, **given}, Suggestions(sampler.name, log.seed, seq, space)
        return self._start(log.new_trial(params, unit, ENQUEUED, seq), space, suggest, pruner)

    def ask_coarse_to_fine(self, space: Space | None, zoom: Zoom, pruner: Pruner | None) -> Trial:
        """The next trial of the coarse-to-fine run ``zoom`` over ``space`` (None: define by
        run), replayed from what was told (see the module docstring)."""
        run_key = zoom.key(space)

        def round_told(r: int) -> None:
            waiting = sorted(
                n
                for n, a in self.asked.items()
                if a.record.stream.startswith(run_key + ":") and a.record.round == r
            )
            if waiting:
                raise RoundPending(
                    f"coarse-to-fine round {r}: trials {', '.join(map(str, waiting))} were "
                    f"asked for and not told; the next round's box needs their results: tell "
                    f"them (study.tell), then ask again"
                )

        try:
            coarse_to_fine.run(self.log, _handed_out_not_run, space, zoom, HandingOut(),
                               catch=(Exception,), pruner=pruner,
                               after_round=round_told)  # fmt: skip
        except HandedOut as handed:
            record, task = handed.record, handed.task
            return self._register(record, task.params, task.round, task.suggest, pruner)
        raise SearchFinished(
            f"the coarse-to-fine run ({zoom.rounds} rounds of {zoom.trials_per_round} trials) "
            f"is finished: every trial was told; study.best_trial has its result"
        )

    def _start(
        self, record: FrozenTrial, space: Space | None, suggest: Suggestions, pruner: Pruner | None
    ) -> Trial:
        record._defines = space is None
        self.log.save(started=[record])
        return self._register(record, record.params, 1, suggest, pruner)

    def _register(
        self,
        record: FrozenTrial,
        params: dict[str, Any],
        round_: int,
        suggest: Suggestions | None,
        pruner: Pruner | None,
    ) -> Trial:
        """The live trial of ``record`` (stored as running), kept until it is told."""
        log = self.log
        prune = None
        if pruner is not None:
            history, minimize = log.history, log.minimize

            def prune(step: int, value: float) -> bool:
                return pruner.should_prune(step, value, history, minimize)

        defines = suggest is not None and suggest.space is None
        trial = Trial(record.number, params, round_, prune, suggest, {} if defines else None)
        self.asked[record.number] = Asked(record, trial, suggest)
        log.asked.setdefault(record.stream, set()).add(record.seq)
        return trial

    def tell(self, trial: Trial | int, value: Any, state: str | None) -> FrozenTrial:
        number = trial.number if isinstance(trial, Trial) else trial
        entry = self.asked.pop(number, None) if isinstance(number, int) else None
        if entry is None:
            done = [t for t in self.log.trials if t.number == number]
            if done:
                raise TrialUsageError(f"tell: trial {number} is finished already ({done[0].state})")
            raise TrialUsageError(f"tell: trial {number!r} was not asked for (study.ask())")
        if state is not None and state not in TOLD_STATES:
            self.asked[number] = entry
            raise TrialUsageError(f"tell: state must be one of {TOLD_STATES}, got {state!r}")
        record, live = entry.record, entry.trial
        self.log.asked[record.stream].discard(record.seq)
        if state == "pruned":
            pruned = last_value(live.curve) if value is None else float(value)
            record.state, record.value, record.error = "pruned", pruned, None
        elif state == "failed":
            record.state, record.value, record.error = "failed", None, "told failed"
        elif len(self.log.directions) > 1:
            record.state, record.values, record.error = judge_values(value, self.log.directions)
        else:
            record.state, record.value, record.error = judge(value)
        record.curve = live.curve
        record.user_attrs = dict(live.user_attrs)
        record.finished = time.time()
        if entry.suggest is not None and entry.suggest.space is None:
            record.params, record.unit = live.params, dict(live.unit)
        self.log.save(finished=[record])
        if entry.suggest is not None and entry.suggest.dims:
            self.log.learn(entry.suggest.dims)
        return record


@dataclass(frozen=True)
class CoarseToFine:
    """A coarse-to-fine run for ``study.ask(space, coarse_to_fine=...)``: the arguments of
    ``study.coarse_to_fine`` (``rounds``, ``trials_per_round``, ``method``, ``top``, ``shrink``;
    the design's sampler is ask's ``sampler``), checked when made."""

    rounds: int
    trials_per_round: int
    method: str = METHODS[0]
    top: float | None = None
    shrink: float | None = None

    def __post_init__(self) -> None:
        positive_int("rounds", self.rounds)
        positive_int("trials_per_round", self.trials_per_round)
        self.zoom(as_sampler("sobol"))  # the other arguments' checks

    def zoom(self, sampler: Sampler) -> Zoom:
        """The run's settings with ``sampler`` drawing its designs."""
        return Zoom(self.rounds, self.trials_per_round, self.top, self.shrink, sampler,
                    self.method)  # fmt: skip


class HandingOut(WorkPool):
    """A pool that runs nothing: each design hands its next point to ``study.ask``."""

    hands_out = True

    def __init__(self) -> None:
        super().__init__(1, None)


def _handed_out_not_run(trial: Trial) -> float:  # pragma: no cover - never called
    raise AssertionError("a handed-out trial is run by the caller of study.ask")
