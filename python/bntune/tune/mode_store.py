"""What the trainable modes (caviar, panda, PBT) write, always from the driver.

A trial of a mode is a row of ``trials`` that stays ``running`` while it trains; each unit of
work commits, in one transaction, its curve points, its checkpoint (``checkpoints`` table) and
its events (``trial_events``). A driver that
was killed leaves its trials ``running``; the next one to open the study marks them failed as
interrupted, and the mode that owns them *revives* them (back to ``running``) to continue from
their last checkpoint.
"""

from __future__ import annotations

import json
import math
import time
import weakref
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from bntune.tune import checkpoints
from bntune.tune.storage import table_names, transaction
from bntune.tune.trial import FrozenTrial

if TYPE_CHECKING:
    import sqlite3

    from bntune.tune.study import Study

_CURVE = "INSERT OR REPLACE INTO curves (trial_id, step, value) VALUES (?, ?, ?)"
_FINISH = "UPDATE trials SET state = ?, value = ?, error = ?, finished = ?, rerun = 0 WHERE id = ?"


def load_events(study: Study) -> None:
    """Fills ``trial.events`` of every loaded trial from the database."""
    conn = study._conn
    # a read-only view of a file older than the table (no mode ran in it) cannot add it
    if study.read_only and "trial_events" not in table_names(conn):
        return
    by_id = {t._id: t for t in study._trials}
    rows = conn.execute(
        "SELECT e.trial_id, e.event FROM trial_events e JOIN trials t ON t.id = e.trial_id "
        "WHERE t.study_id = ? ORDER BY e.trial_id, e.seq",
        (study._id,),
    )
    for trial_id, text in rows:
        trial = by_id.get(trial_id)
        if trial is not None:
            trial.events.append(json.loads(text))


def stored_events(conn: sqlite3.Connection, trial_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT event FROM trial_events WHERE trial_id = ? ORDER BY seq", (trial_id,)
    )
    return [json.loads(r[0]) for r in rows]


def stored_curve(conn: sqlite3.Connection, trial_id: int) -> dict[int, float]:
    rows = conn.execute(
        "SELECT step, value FROM curves WHERE trial_id = ? ORDER BY step", (trial_id,)
    )
    return {int(s): (math.nan if v is None else float(v)) for s, v in rows}


def new_trial(
    study: Study,
    params: dict[str, Any],
    unit: Mapping[str, float],
    stream: str,
    seq: int,
) -> FrozenTrial:
    """Inserts a ``running`` trial with the study's next number and returns its record."""
    record = study._start_trial(params, unit, stream, seq)
    record._study = weakref.ref(study)
    _live(study)[record._id] = record
    return record


def _live(study: Study) -> dict[int, FrozenTrial]:
    """This study's mode trials still ``running`` in this driver (kept on the study object)."""
    live = study.__dict__.get("_mode_live")
    if live is None:
        live = study.__dict__["_mode_live"] = {}
    return live


def unfinished(study: Study, stream: str) -> list[FrozenTrial]:
    """The trials of ``stream`` still ``running``: those this driver left unfinished (a mode
    interrupted by an exception) and those a dead driver left (revived)."""
    revive(study, stream)
    return [t for t in _live(study).values() if t.stream == stream and t.state == "running"]


def revive(study: Study, stream: str) -> list[FrozenTrial]:
    """The trials of ``stream`` that were still training when their driver died, set back to
    ``running`` (and taken out of ``study.trials`` until they finish)."""
    conn = study._conn
    dead = [
        t
        for t in study._trials
        if t.stream == stream and t.state == "failed" and t.rerun and _interrupted(t.error)
    ]
    if not dead:
        return []
    with transaction(conn):
        for t in dead:
            conn.execute(
                "UPDATE trials SET state = 'running', error = NULL, finished = NULL, rerun = 0 "
                "WHERE id = ?",
                (t._id,),
            )
    gone = {id(t) for t in dead}
    study._trials = [t for t in study._trials if id(t) not in gone]
    for t in dead:
        t.state, t.error, t.finished, t.rerun = "running", None, None, False
        _live(study)[t._id] = t
    return dead


def _interrupted(error: str | None) -> bool:
    return error is not None and error.startswith("interrupted")


def commit(
    study: Study,
    record: FrozenTrial,
    *,
    points: Iterable[tuple[int, float]] = (),
    checkpoint: tuple[int, bytes] | None = None,
    keep_checkpoints: bool = False,
    events: Iterable[dict[str, Any]] = (),
    finish: tuple[str, float | None, str | None] | None = None,
) -> None:
    """One transaction: curve ``points``, a ``checkpoint`` (step, bytes) — dropping the older
    ones unless ``keep_checkpoints`` —, ``events``, and the trial's end (state, value, error)
    when ``finish`` is given. The in-memory ``record`` follows."""
    conn = study._conn
    points = list(points)
    events = list(events)
    with transaction(conn):
        if points:
            conn.executemany(
                _CURVE,
                [(record._id, s, v if math.isfinite(v) else None) for s, v in points],
            )
        if checkpoint is not None:
            checkpoints.put(conn, record._id, checkpoint[0], checkpoint[1])
            if not keep_checkpoints:
                checkpoints.drop_before(conn, record._id, checkpoint[0])
        if events:
            first = len(record.events)
            conn.executemany(
                "INSERT INTO trial_events (trial_id, seq, event) VALUES (?, ?, ?)",
                [(record._id, first + i, json.dumps(e)) for i, e in enumerate(events)],
            )
        finished = time.time()
        if finish is not None:
            state, value, error = finish
            conn.execute(_FINISH, (state, value, error, finished, record._id))
    for s, v in points:
        record.curve[s] = v
    record.events.extend(events)
    if finish is not None:
        record.state, record.value, record.error = finish
        record.finished = finished
        record.rerun = False
        _live(study).pop(record._id, None)
        study._remember(record)


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
