"""Ask and tell: trials run by the caller (an external job system, a loop of one's own).

``study.ask()`` stores a ``running`` trial for the next point of the design — of a declared
space, or define-by-run (the caller's code calls ``trial.suggest_*``) — and returns the live
trial; ``study.tell(trial, value)`` (or ``state="pruned"`` / ``"failed"``) stores its result.
Asked trials take the design's points in order, as ``optimize`` would, so asking and telling
gives trial k the configuration ``optimize`` gives it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bntune.tune import enqueue
from bntune.tune.enqueue import ENQUEUED
from bntune.tune.errors import TrialUsageError
from bntune.tune.objectives import judge_values
from bntune.tune.pruners import Pruner
from bntune.tune.samplers import Sampler
from bntune.tune.space import Space
from bntune.tune.suggest import Suggestions
from bntune.tune.trial import FrozenTrial, Trial, last_value
from bntune.tune.trial_log import TrialLog
from bntune.tune.trial_loop import judge

TOLD_STATES = ("complete", "pruned", "failed")


@dataclass
class Asked:
    """A trial handed out by ``ask`` and not told yet."""

    record: FrozenTrial
    trial: Trial
    suggest: Suggestions


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
        outstanding = {a.record.seq for a in self.asked.values() if a.record.stream == stream}
        candidates = log.pending(stream, log.next_number + len(outstanding) + 1)
        seq = next(i for i in candidates if i not in outstanding)
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

    def _start(
        self, record: FrozenTrial, space: Space | None, suggest: Suggestions, pruner: Pruner | None
    ) -> Trial:
        log = self.log
        params = record.params
        record._defines = space is None
        log.save(started=[record])
        prune = None
        if pruner is not None:
            history, minimize = log.history, log.minimize

            def prune(step: int, value: float) -> bool:
                return pruner.should_prune(step, value, history, minimize)

        trial = Trial(record.number, params, 1, prune, suggest, {} if space is None else None)
        self.asked[record.number] = Asked(record, trial, suggest)
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
        if entry.suggest.space is None:
            record.params, record.unit = live.params, dict(live.unit)
        self.log.save(finished=[record])
        if entry.suggest.dims:
            self.log.learn(entry.suggest.dims)
        return record
