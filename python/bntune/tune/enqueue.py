"""Known configurations: ``study.enqueue(params)`` runs them next, ``study.add_trial(params,
value)`` imports a result obtained elsewhere.

Enqueued configurations are kept with the study (a crash does not lose them) and run before
the design's points, as trials of their own stream, so they never take a design point's place:
trial k of the design keeps its configuration. In a define-by-run study a parameter the
configuration leaves out is drawn as usual; with a declared space every sampled parameter must be
given. Added trials are stored complete; with a space their unit coordinates are computed, so
they count for the importance ranking and for coarse-to-fine's zoom rule (``method="zoom"``)
like any other (the adaptive method learns from its own run's trials).
"""

from __future__ import annotations

import json
import math
from typing import Any

from bntune.tune.errors import TrialUsageError
from bntune.tune.space import Space
from bntune.tune.trial import FrozenTrial
from bntune.tune.trial_log import TrialLog

ENQUEUED = "enqueued"
ADDED = "added"
#: where a define-by-run enqueued trial reads the parameters it was not given: far past any
#: design index (trial k of the design uses index k)
SPARE_INDEX = 1 << 29


def _key(log: TrialLog) -> str:
    return f"enqueued/{log.study_id}"


def _checked(params: object) -> dict[str, Any]:
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise TypeError(f"params must be a dict of name -> value, got {params!r}")
    try:
        json.dumps(params)
    except (TypeError, ValueError) as err:
        raise TypeError(f"params must be JSON-serialisable, got {params!r} ({err})") from None
    return dict(params)


def queue(log: TrialLog) -> list[dict[str, Any]]:
    """Every configuration ever enqueued, in order (index = its trial's seq)."""
    text = log.storage.meta(_key(log))
    return [] if text is None else json.loads(text)


def enqueue(log: TrialLog, params: object) -> None:
    """Adds a configuration to run next."""
    stored = [*queue(log), _checked(params)]
    log.storage.set_meta({_key(log): json.dumps(stored)})


def pending(log: TrialLog) -> list[tuple[int, dict[str, Any]]]:
    """The enqueued configurations not run yet, with their indices."""
    stored = queue(log)
    return [(i, stored[i]) for i in log.pending(ENQUEUED, len(stored))]


def declared_unit(space: Space, params: dict[str, Any]) -> dict[str, float]:
    """The unit coordinates of a full configuration of ``space``; TrialUsageError naming a
    parameter that is missing or off its dimension."""
    unit = {}
    for name in space.names:
        dim = space[name]
        if not dim.uses_coordinate:
            continue
        if name not in params:
            raise TrialUsageError(
                f"enqueued/added params miss {name!r}: with a declared space every sampled "
                f"parameter must be given (space: {list(space.names)})"
            )
        try:
            u = dim.to_unit(params[name])
        except (TypeError, ValueError, KeyError) as err:
            message = f"{name}={params[name]!r} is not a value of {dim!r}: {err}"
            raise TrialUsageError(message) from None
        if not (math.isfinite(u) and 0.0 <= u <= 1.0):
            raise TrialUsageError(f"{name}={params[name]!r} lies outside {dim!r}")
        unit[name] = u
    return unit


def add_trial(log: TrialLog, params: object, value: float, space: Space | None) -> FrozenTrial:
    """Stores a complete trial with ``params`` and ``value``."""
    params = _checked(params)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"add_trial: value must be a finite number, got {value!r}")
    unit = {} if space is None else declared_unit(space, params)
    done = log.pending(ADDED, log.next_number + 1)
    record = log.new_trial(params, unit, ADDED, done[0])
    log.save(started=[record])
    record.state, record.value = "complete", number
    record.finished = record.started
    log.save(finished=[record])
    return record
