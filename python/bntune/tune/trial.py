"""Trials: the live one an objective sees, and the finished record a study keeps."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bntune.tune import dimensions as dims
from bntune.tune.dimensions import Dimension
from bntune.tune.errors import Pruned, TrialUsageError

if TYPE_CHECKING:
    from bntune.tune.suggest import Suggestions

STATES = ("complete", "failed", "pruned", "diverged", "running")


@dataclass(eq=False)
class FrozenTrial:
    """A trial as stored: ``number`` (0, 1, ... in the study), ``params``, ``value`` (None unless
    complete or pruned), ``state`` (one of "complete", "failed", "pruned", "diverged",
    "running"), ``curve`` (step -> reported value), ``round`` (coarse-to-fine round, 1 for the
    whole space), ``error`` (text for failed and diverged trials) and timestamps (seconds since
    the epoch)."""

    number: int
    params: dict[str, Any]
    value: float | None
    state: str
    curve: dict[int, float] = field(default_factory=dict)
    round: int = 1
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    #: the unit-cube coordinates the configuration came from (name -> u)
    unit: dict[str, float] = field(default_factory=dict)
    #: which design the point came from, and its index in it (resume bookkeeping)
    stream: str = ""
    seq: int = 0
    #: True when the trial was cut short by its driver dying: its configuration is run again
    rerun: bool = False
    _id: int = field(default=-1, repr=False)
    #: what a babysitter or PBT did to the trial: dicts with "kind" ("set_params", "rollback",
    #: "exploit", ...), "epoch" and the values
    events: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _study: Any = field(default=None, repr=False)
    #: a study with several objectives: one value per direction (``value`` stays None)
    values: list[float] | None = field(default=None, repr=False)
    #: what the objective recorded with ``trial.set_user_attr`` (JSON values)
    user_attrs: dict[str, Any] = field(default_factory=dict, repr=False)
    #: the trial chooses its params as it runs (define by run): they are stored when it ends
    _defines: bool = field(default=False, repr=False)

    @classmethod
    def running(
        cls,
        number: int,
        params: dict[str, Any],
        unit: Mapping[str, float],
        stream: str,
        seq: int,
        round: int = 1,
    ) -> FrozenTrial:
        """The record of a trial that starts now: point ``seq`` of design ``stream``."""
        return cls(
            number=number,
            params=params,
            value=None,
            state="running",
            round=round,
            started=time.time(),
            unit=dict(unit),
            stream=stream,
            seq=seq,
        )

    def load(self, trainable: type, step: int | None = None) -> Any:
        """The trial's model rebuilt from its stored checkpoint at ``step`` (None: the stored
        step with the best value): ``trainable(params)`` with the state loaded."""
        log = None if self._study is None else self._study()
        if log is None:
            raise ValueError(f"trial {self.number} does not belong to an open study")
        return log.checkpoint(self, step).load(trainable)

    def __repr__(self) -> str:
        return (
            f"FrozenTrial(number={self.number}, state={self.state!r}, value={self.value!r}, "
            f"params={self.params!r})"
        )


class Trial:
    """The trial an objective receives: read ``trial.params`` (a declared space's sampled
    values) or ask for values with ``trial.suggest_float/int/categorical/one_minus_log`` (define
    by run), optionally call ``trial.report(step, value)`` as training goes, return the
    objective's value."""

    __slots__ = (
        "_last_step",
        "_prune",
        "_suggest",
        "curve",
        "number",
        "params",
        "round",
        "unit",
        "user_attrs",
    )

    def __init__(
        self,
        number: int,
        params: dict[str, Any],
        round: int,
        prune: Callable[[int, float], bool] | None,
        suggest: Suggestions | None = None,
        unit: dict[str, float] | None = None,
    ) -> None:
        self.number = number
        self.params = params
        self.round = round
        self.curve: dict[int, float] = {}
        self.unit: dict[str, float] = {} if unit is None else unit
        self.user_attrs: dict[str, Any] = {}
        self._prune = prune
        self._suggest = suggest
        self._last_step: int | None = None

    def set_user_attr(self, key: str, value: Any) -> None:
        """Records ``value`` (anything JSON can store) under ``key`` with the trial: stored with
        its result, on ``FrozenTrial.user_attrs`` and in ``study.trials_dataframe()``."""
        if not isinstance(key, str) or not key:
            raise TrialUsageError(f"set_user_attr: key must be a non-empty string, got {key!r}")
        try:
            json.dumps(value, allow_nan=True)
        except (TypeError, ValueError) as err:
            raise TrialUsageError(
                f"set_user_attr({key!r}): the value must be JSON-serialisable, got {value!r} "
                f"({err})"
            ) from None
        self.user_attrs[key] = value

    # ---- define by run (see bntune.tune.suggest) -----------------------------------------

    def suggest_float(
        self, name: str, low: float, high: float, *, log: bool = False, step: float | None = None
    ) -> float:
        """A real value in ``[low, high]``: uniform, on a log scale with ``log=True``, or on the
        grid ``low, low + step, ...`` with ``step``."""
        if log and step is not None:
            raise TrialUsageError(f"suggest_float({name!r}): give log=True or step, not both")
        if log:
            return self._value("suggest_float", name, dims.LogUniform, low, high)
        if step is not None:
            return float(self._value("suggest_float", name, dims.Stepped, low, high, step))
        return self._value("suggest_float", name, dims.Uniform, low, high)

    def suggest_int(
        self, name: str, low: int, high: int, *, log: bool = False, step: int = 1
    ) -> int:
        """An integer in ``[low, high]`` (both included): uniform, on a log scale with
        ``log=True``, or every ``step``-th from ``low``."""
        if log and step != 1:
            raise TrialUsageError(f"suggest_int({name!r}): give log=True or step, not both")
        if log:
            return self._value("suggest_int", name, dims.IntLogUniform, low, high)
        if step != 1:
            return self._value("suggest_int", name, dims.Stepped, low, high, step)
        return self._value("suggest_int", name, dims.IntUniform, low, high)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        """One of ``choices``, each equally likely."""
        return self._value("suggest_categorical", name, dims.Choice, choices)

    # Optuna's older names (deprecated there since 3.0), which ported scripts still call.

    def suggest_uniform(self, name: str, low: float, high: float) -> float:
        """``suggest_float(name, low, high)`` (Optuna's older name)."""
        return self.suggest_float(name, low, high)

    def suggest_loguniform(self, name: str, low: float, high: float) -> float:
        """``suggest_float(name, low, high, log=True)`` (Optuna's older name)."""
        return self.suggest_float(name, low, high, log=True)

    def suggest_discrete_uniform(self, name: str, low: float, high: float, q: float) -> float:
        """``suggest_float(name, low, high, step=q)`` (Optuna's older name)."""
        return self.suggest_float(name, low, high, step=q)

    def suggest_one_minus_log(self, name: str, low: float, high: float) -> float:
        """A value in ``[low, high]`` below 1 whose ``1 - value`` is on a log scale: the scale of
        momentum and Adam's betas (0.9, 0.99 and 0.999 equally likely decades)."""
        return self._value("suggest_one_minus_log", name, dims.OneMinusLogUniform, low, high)

    def _value(self, call: str, name: str, kind: type[Dimension], *args: Any) -> Any:
        if not isinstance(name, str) or not name:
            raise TrialUsageError(f"{call}: name must be a non-empty string, got {name!r}")
        if self._suggest is None:
            raise TrialUsageError(
                f"{call}({name!r}): this trial's parameters come from its mode; read trial.params"
            )
        try:
            dim = _dimension(kind, args)
        except (TypeError, ValueError) as err:
            raise TrialUsageError(f"{call}({name!r}): {err}") from None
        return self._suggest.value(self.params, self.unit, name, dim)

    def report(self, step: int, value: float) -> None:
        """Records ``value`` at ``step`` on the learning curve (stored with the trial) and raises
        :class:`tune.Pruned` when the study's pruner says to stop. Reporting a step again
        replaces its value."""
        if isinstance(step, bool) or not isinstance(step, int):
            try:
                step = int(step.__index__())
            except AttributeError:
                raise TrialUsageError(
                    f"trial.report(step, value): step must be an integer, got step={step!r} "
                    f"(bntune's order is report(step, value); Optuna's is report(value, step))"
                ) from None
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TrialUsageError(
                f"trial.report(step, value): value must be a real number, got {value!r}"
            ) from None
        self.curve[step] = value
        self._last_step = step
        if self._prune is not None and self._prune(step, value):
            raise Pruned(f"trial {self.number} pruned at step {step} (value {value!r})")

    def should_prune(self) -> bool:
        """Whether the study's pruner says to stop at the last reported step (Optuna's idiom,
        ``if trial.should_prune(): raise tune.Pruned()``; ``optuna.TrialPruned`` works too).

        bntune's :meth:`report` raises :class:`tune.Pruned` itself when the pruner says so, so
        after a ``report`` that returned this is False: the idiom runs unchanged, and stops
        the trial at the same step as ``report`` alone would. It is True only after catching the
        ``tune.Pruned`` of ``report``; False before any report and in a study without a pruner.
        """
        if self._prune is None or self._last_step is None:
            return False
        return bool(self._prune(self._last_step, self.curve[self._last_step]))

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self.params!r})"


def last_value(curve: dict[int, float]) -> float | None:
    """The value at the curve's last step, or None for an empty curve or a non-finite value."""
    if not curve:
        return None
    value = curve[max(curve)]
    return value if math.isfinite(value) else None


def current_params(record: FrozenTrial) -> dict[str, Any]:
    """The trial's hyperparameters now: its sampled ``params`` updated by its events
    (``set_params`` changes, and the whole params an ``exploit`` inherited)."""
    params = dict(record.params)
    for event in record.events:
        if event.get("kind") == "exploit":
            params = dict(event["params"])
        elif event.get("kind") == "set_params":
            params.update(event["values"])
    return params


def _dimension(kind: type[Dimension], args: tuple[Any, ...]) -> Dimension:
    """``kind(*args)``, made once per distinct arguments (a trial suggests the same ones every
    time, and checking a dimension's arguments costs more than drawing from it)."""
    # typed: 1 and 1.0 are equal keys but not equal arguments (an int grid or a float one)
    try:
        key = (kind, tuple(_typed(a) for a in args))
        hash(key)
    except TypeError:
        return kind(*args)
    return _made_dimension(key, args)


def _typed(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return (type(value), tuple(_typed(v) for v in value))
    return (type(value), value)


_made: dict[Any, Dimension] = {}


def _made_dimension(key: Any, args: tuple[Any, ...]) -> Dimension:
    dim = _made.get(key)
    if dim is None:
        if len(_made) > 4096:
            _made.clear()
        dim = _made[key] = key[0](*args)
    return dim
