"""The unit of work of the trainable modes: "advance trial k by e epochs from checkpoint c".

:func:`advance` runs on a worker (or in the driver) and returns the new curve points and
checkpoint; it never touches the study. A worker keeps the trainables it advanced last, keyed by
trial, with the digest of the checkpoint they are in: when the next unit for that trial starts
from exactly that checkpoint, it skips rebuilding and reloading the model.
"""

from __future__ import annotations

import hashlib
import math
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from bntune.tune import checkpoints

_CACHE_SIZE = 32
_live: OrderedDict[tuple[str, int, type], tuple[bytes, Any]] = OrderedDict()


@dataclass
class Unit:
    """Advance trial ``trial`` of run ``run`` by ``epochs`` epochs, starting from ``checkpoint``
    (None: a fresh trainable) taken after ``start`` epochs; ``changes`` go to ``set_params``
    first. ``order`` sorts results that arrive together (reproducible commits)."""

    run: str
    trial: int
    trainable: type
    params: dict[str, Any]
    checkpoint: bytes | None
    start: int
    epochs: int
    changes: dict[str, Any] = field(default_factory=dict)
    limit_threads: bool = False
    order: int = 0


@dataclass
class UnitResult:
    """What a unit returns: ``points`` [(step, value)], the checkpoint after the last step
    (None if the trainable raised), and the error text when it raised."""

    trial: int
    points: list[tuple[int, float]]
    checkpoint: bytes | None
    step: int
    error: str | None = None


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def advance(unit: Unit) -> UnitResult:
    """Runs one unit (see :class:`Unit`)."""
    if unit.limit_threads:
        from bntune.tune.executors import limit_worker_threads

        limit_worker_threads()
    key = (unit.run, unit.trial, unit.trainable)
    points: list[tuple[int, float]] = []
    try:
        trainable = None
        cached = _live.pop(key, None)
        checkpoint = unit.checkpoint
        if cached is not None and checkpoint is not None and cached[0] == _digest(checkpoint):
            trainable = cached[1]
        if trainable is None:
            trainable = unit.trainable(dict(unit.params))
            if unit.checkpoint is not None:
                trainable.load_state_dict(checkpoints.decode(unit.checkpoint))
        if unit.changes:
            trainable.set_params(**unit.changes)
        step = unit.start
        for _ in range(unit.epochs):
            value = float(trainable.step())
            step += 1
            points.append((step, value))
            if not math.isfinite(value):
                break  # a diverged model has nothing more to say
        data = checkpoints.encode(trainable.state_dict())
    except Exception as e:
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip()
        return UnitResult(unit.trial, points, None, unit.start + len(points), text)
    _live[key] = (_digest(data), trainable)
    while len(_live) > _CACHE_SIZE:
        _live.popitem(last=False)
    return UnitResult(unit.trial, points, data, step)
