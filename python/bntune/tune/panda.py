"""Panda mode: one model trained epoch by epoch and babysat — nudged, rolled back, stopped.

After every epoch the policy sees the run so far (a :class:`BabysitView`) and answers with
``None`` (carry on), a dict or :class:`SetParams` (change hyperparameters through
``set_params``), :class:`Rollback` (restore a stored checkpoint, then apply changes),
:class:`Stop`, or a list of these. Every epoch's checkpoint is stored with the study, the
checkpoint *after* training (the model that scored the curve value of that step); steps count
epochs spent, so a rollback does not rewind the step counter. The hyperparameters in effect
survive a rollback (only the weights, buffers and generators are restored) unless the rollback
changes them.

The trial's value is its best finite curve value, and ``study.best_checkpoint()`` /
``trial.load(trainable)`` give the model of that step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bntune.tune import checkpoints
from bntune.tune.checks import traceback_text
from bntune.tune.trainable import check_trainable, mutable_names
from bntune.tune.trial import current_params

if TYPE_CHECKING:
    from bntune.tune.trial import FrozenTrial
    from bntune.tune.trial_log import TrialLog

STREAM = "babysit"


@dataclass
class SetParams:
    """Change these hyperparameters from the next epoch on: ``SetParams(lr=0.01)``."""

    changes: dict[str, Any]

    def __init__(self, **changes: Any) -> None:
        self.changes = changes


@dataclass
class Rollback:
    """Restore the checkpoint of step ``to`` (None: the step with the best value so far; 0 is
    the initial model), then apply ``changes``: ``Rollback(lr=0.01)``."""

    to: int | None = None
    changes: dict[str, Any] = field(default_factory=dict)

    def __init__(self, to: int | None = None, **changes: Any) -> None:
        self.to = to
        self.changes = changes


@dataclass
class Stop:
    """Stop babysitting now."""


@dataclass
class BabysitView:
    """What a policy sees after each epoch: ``epoch`` (the step just trained), ``value`` (its
    metric), ``curve`` (step -> value), ``params`` (the hyperparameters now), ``best_step`` and
    ``best_value`` (best finite value so far; None before any), ``checkpoints`` (steps that can
    be rolled back to), ``events`` (what was done so far) and ``minimize``."""

    epoch: int
    value: float
    curve: dict[int, float]
    params: dict[str, Any]
    best_step: int | None
    best_value: float | None
    checkpoints: list[int]
    events: list[dict[str, Any]]
    minimize: bool = True
    #: the trainable's ``baseline`` attribute (None without one): the metric of a model that
    #: learned nothing (e.g. ln 10 for a 10-class cross-entropy); worse than that is broken
    baseline: float | None = None

    def better(self, a: float, b: float) -> bool:
        """Whether metric ``a`` is better than ``b`` in the study's direction."""
        return a < b if self.minimize else a > b


class DefaultPolicy:
    """The course's babysitting: raise the learning rate while the metric improves, cut it when
    it worsens, and roll back when it goes wrong.

    After each epoch, with ``v`` the metric, ``prev`` the previous epoch's and ``best`` the best
    so far:

    - ``v`` NaN/Inf, or, at the first epoch, worse than the trainable's ``baseline`` (the metric
      of a model that learned nothing, when it has one) by more than ``tolerance`` of it: the
      run broke; roll back to the best checkpoint and multiply ``param`` by ``down`` — or, when
      there is no good step yet, to the initial model with ``param`` times ``cut`` (a decade:
      rates are searched on a log scale, and one that broke the model from the start is far
      too large). A first epoch near the baseline is a slow start, not a divergence: it is
      judged by the curve like any other;
    - worse than ``best`` by more than ``tolerance * |best|``: roll back to the best checkpoint
      and multiply ``param`` by ``down``;
    - better than ``prev`` (or the first epoch): multiply ``param`` by ``up``;
    - otherwise (worse, within tolerance): multiply ``param`` by ``down``.

    ``param`` is never cut below ``floor`` times its value when the policy first saw it; a run
    that still breaks there is stopped (babysitting cannot save it).

    Defaults: ``param="lr"``, ``up=1.1``, ``down=0.7``, ``cut=0.1``, ``tolerance=0.5``,
    ``floor=1e-3`` (the dev metric of a run near the largest stable rate is noisy from epoch to
    epoch: a tighter tolerance rolls back on noise). They were chosen on the digits MLP with
    seeds 0-2 of ``benches/compare_parallel.py``'s panda part, which reports seeds 3-5.
    """

    def __init__(
        self,
        param: str = "lr",
        *,
        up: float = 1.1,
        down: float = 0.7,
        cut: float = 0.1,
        tolerance: float = 0.5,
        floor: float = 1e-3,
    ) -> None:
        if not (isinstance(up, int | float) and up >= 1.0):
            raise ValueError(f"DefaultPolicy: up must be a number >= 1, got {up!r}")
        if not (isinstance(down, int | float) and 0.0 < down <= 1.0):
            raise ValueError(f"DefaultPolicy: down must be in (0, 1], got {down!r}")
        if not (isinstance(cut, int | float) and 0.0 < cut <= 1.0):
            raise ValueError(f"DefaultPolicy: cut must be in (0, 1], got {cut!r}")
        if not (isinstance(tolerance, int | float) and tolerance >= 0.0):
            raise ValueError(f"DefaultPolicy: tolerance must be >= 0, got {tolerance!r}")
        if not (isinstance(floor, int | float) and 0.0 < floor <= 1.0):
            raise ValueError(f"DefaultPolicy: floor must be in (0, 1], got {floor!r}")
        self.param, self.up, self.down, self.cut = param, up, down, cut
        self.tolerance, self.floor = tolerance, floor
        self._lowest: float | None = None  # floor x the value first seen

    def __call__(self, view: BabysitView) -> SetParams | Rollback | Stop:
        if self.param not in view.params:
            raise ValueError(
                f"DefaultPolicy: the trainable's params have no {self.param!r} to tune; "
                f"pass DefaultPolicy(param=...) naming one of {sorted(view.params)}"
            )
        current = view.params[self.param]
        if self._lowest is None:
            self._lowest = current * self.floor
        v, best, baseline = view.value, view.best_value, view.baseline
        prev = view.curve.get(view.epoch - 1)
        broken = not math.isfinite(v)
        if baseline is not None and prev is None and math.isfinite(v):
            # the first epoch: far worse than a model that learned nothing is a divergence
            margin = self.tolerance * abs(baseline)
            broken = v > baseline + margin if view.minimize else v < baseline - margin
        if broken:
            to = view.best_step
            if to is None:  # nothing good yet: the rate is far too large
                return self._lower(current, self.cut, Rollback, 0)
            return self._lower(current, self.down, Rollback, to)
        if best is not None and best != v:
            margin = self.tolerance * abs(best)
            if v > best + margin if view.minimize else v < best - margin:
                return self._lower(current, self.down, Rollback, view.best_step)
        if prev is None or not math.isfinite(prev) or view.better(v, prev):
            return SetParams(**{self.param: current * self.up})
        return self._lower(current, self.down, SetParams)

    def _lower(
        self, current: float, factor: float, kind: type, to: int | None = None
    ) -> SetParams | Rollback | Stop:
        """``param`` times ``factor`` (a rollback to ``to``, or a change), not below the floor;
        Stop when a rollback finds it at the floor already."""
        assert self._lowest is not None
        if current <= self._lowest and kind is Rollback:
            return Stop()
        new = max(current * factor, self._lowest)
        if kind is Rollback:
            return Rollback(to, **{self.param: new})
        return SetParams(**{self.param: new})

    def __repr__(self) -> str:
        return (
            f"DefaultPolicy(param={self.param!r}, up={self.up}, down={self.down}, "
            f"cut={self.cut}, tolerance={self.tolerance}, floor={self.floor})"
        )


def _best(curve: Mapping[int, float], minimize: bool) -> tuple[int | None, float | None]:
    finite = [(v, s) for s, v in curve.items() if math.isfinite(v)]
    if not finite:
        return None, None
    sign = 1.0 if minimize else -1.0
    value, step = min(finite, key=lambda vs: (sign * vs[0], -vs[1]))
    return step, value


def _decisions(answer: Any) -> list[SetParams | Rollback | Stop]:
    if answer is None:
        return []
    if isinstance(answer, SetParams | Rollback | Stop):
        return [answer]
    if isinstance(answer, Mapping):
        return [SetParams(**answer)] if answer else []
    if isinstance(answer, str) and answer == "stop":
        return [Stop()]
    if isinstance(answer, list | tuple):
        return [d for a in answer for d in _decisions(a)]
    raise TypeError(
        f"babysit: the policy must return None, a dict of changes, tune.SetParams, "
        f"tune.Rollback, tune.Stop or a list of them, got {answer!r}"
    )


def _find(log: TrialLog, number: object) -> FrozenTrial:
    if isinstance(number, bool) or not isinstance(number, int):
        raise TypeError(f"babysit: resume must be a trial number, got {number!r}")
    log.revive(STREAM)
    live = [t for t in log.unfinished(STREAM) if t.number == number]
    found = live or [t for t in log.trials if t.number == number]
    if not found:
        raise ValueError(f"babysit: study {log.name!r} has no trial number {number}")
    trial = found[0]
    if trial.stream != STREAM:
        raise ValueError(
            f"babysit: trial {number} was not babysat (it comes from {trial.stream!r}); "
            f"resume takes the number of a babysit trial"
        )
    return trial


def babysit(
    log: TrialLog,
    trainable: type,
    params: Mapping[str, Any] | None,
    *,
    epochs: int,
    policy: Callable[[BabysitView], Any] | None = None,
    resume: int | None = None,
    from_step: int | None = None,
) -> FrozenTrial:
    """``study.babysit`` (see there and this module's docstring)."""
    trainable = check_trainable(trainable)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"babysit: epochs must be an integer >= 0, got {epochs!r}")
    policy = DefaultPolicy() if policy is None else policy
    if not callable(policy):
        raise TypeError(f"babysit: policy must be callable, got {policy!r}")
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(f"babysit: params must be a dict or None, got {params!r}")
    minimize = log.minimize
    events: list[dict[str, Any]] = []
    if resume is None:
        if params is None:
            raise ValueError("babysit: give params (or resume=trial_number)")
        if from_step is not None:
            raise ValueError("babysit: from_step needs resume=trial_number")
        record = log.start_live(dict(params), {}, STREAM, log.next_number)
        model = trainable(dict(params))
        step = 0
        current = dict(params)
        log.save_progress(record, checkpoint=(0, checkpoints.encode(model.state_dict())),
            keep_checkpoints=True,
        )  # fmt: skip
    else:
        record = _find(log, resume)
        log.reopen(record)
        stored = log.storage.checkpoint_steps(record._id)
        if not stored:
            raise ValueError(f"babysit: trial {record.number} has no stored checkpoint")
        step = max([*record.curve, *stored])
        start = stored[-1] if from_step is None else from_step
        if start not in stored:
            raise ValueError(
                f"babysit: trial {record.number} has no checkpoint at from_step={from_step!r}; "
                f"stored steps: {stored}"
            )
        if from_step is None:
            # a rollback decided at the last step says where training went on from
            for e in record.events:
                if e.get("kind") == "rollback" and e.get("epoch") == step:
                    start = e["to"]
        current = current_params(record)
        model = trainable(dict(current))
        found = log.storage.checkpoint(record._id, start)
        assert found is not None
        model.load_state_dict(checkpoints.decode(found[1]))
        if start != step:
            events.append({"kind": "resume", "epoch": step, "from": start})
        changes = dict(params or {})
        if changes:
            events.append({"kind": "set_params", "epoch": step, "values": changes})
            current.update(changes)
    mutable = mutable_names(trainable, current)
    if resume is not None:
        model.set_params(**{k: current[k] for k in mutable})
    if events:
        log.save_progress(record, events=events)
    stored_steps = log.storage.checkpoint_steps(record._id)
    stopped = False
    for _ in range(epochs):
        try:
            value = float(model.step())
        except Exception as e:
            text = traceback_text(e)
            log.save_progress(record, finish=("failed", None, text))
            return record
        step += 1
        trained = checkpoints.encode(model.state_dict())
        curve = {**record.curve, step: value}
        # best of the earlier steps: the model to go back to
        best_step, best_value = _best(record.curve, minimize)
        view = BabysitView(
            epoch=step,
            value=value,
            curve=curve,
            params=dict(current),
            best_step=best_step,
            best_value=best_value,
            checkpoints=[*stored_steps, step],
            events=list(record.events),
            minimize=minimize,
            baseline=getattr(model, "baseline", None),
        )
        events = []
        for decision in _decisions(policy(view)):
            if isinstance(decision, Stop):
                events.append({"kind": "stop", "epoch": step})
                stopped = True
            elif isinstance(decision, Rollback):
                to = best_step if decision.to is None else decision.to
                if to is None:
                    to = 0
                if to == step:
                    data = trained
                else:
                    found = log.storage.checkpoint(record._id, to)
                    if found is None:
                        raise ValueError(
                            f"babysit: the policy asked to roll back to step {to}, which has no "
                            f"checkpoint; stored: {view.checkpoints}"
                        )
                    data = found[1]
                model.load_state_dict(checkpoints.decode(data))
                events.append({"kind": "rollback", "epoch": step, "to": to, "value": _json(value)})
                current.update(decision.changes)
                model.set_params(**{k: current[k] for k in mutable})
                if decision.changes:
                    events.append({"kind": "set_params", "epoch": step, "values": decision.changes})
            else:
                model.set_params(**decision.changes)
                current.update(decision.changes)
                events.append({"kind": "set_params", "epoch": step, "values": decision.changes})
        log.save_progress(
            record,
            points=[(step, value)],
            checkpoint=(step, trained),
            keep_checkpoints=True,
            events=events,
        )
        stored_steps.append(step)
        if stopped:
            break
    best_step, best_value = _best(record.curve, minimize)
    if best_value is None and record.curve:
        finish = ("diverged", None, "no epoch gave a finite metric")
    else:
        finish = ("complete", best_value, None)
    log.save_progress(record, finish=finish)
    return record


def _json(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)
