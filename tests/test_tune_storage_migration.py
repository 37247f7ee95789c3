"""Study files written before ``trial_events`` moved into the storage schema still open and work.

The fixtures are made here by hand, with the SQL of the old layouts (schema version 1): the first
release's (no ``trial_events``, an index on trials that was later dropped), and the later one in
which the trainable modes had added ``trial_events`` themselves. Expected values come from what
the test wrote into the file and from the hand-written metric of ``modes_helpers.Scripted``."""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from bntune import tune
from modes_helpers import Scripted

# schema version 1 as the first bntune wrote it (without trial_events)
OLD_SCHEMA = """
CREATE TABLE bntune_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE studies (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, direction TEXT NOT NULL,
    seed INTEGER NOT NULL, created REAL NOT NULL
);
CREATE TABLE leases (
    study_id INTEGER PRIMARY KEY REFERENCES studies(id), token TEXT NOT NULL,
    pid INTEGER NOT NULL, host TEXT NOT NULL, acquired REAL NOT NULL, heartbeat REAL NOT NULL
);
CREATE TABLE trials (
    id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(id),
    number INTEGER NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL, round INTEGER NOT NULL,
    state TEXT NOT NULL, params TEXT NOT NULL, unit TEXT NOT NULL, value REAL, error TEXT,
    started REAL NOT NULL, finished REAL, rerun INTEGER NOT NULL DEFAULT 0,
    UNIQUE (study_id, number)
);
CREATE INDEX trials_by_stream ON trials (study_id, stream, seq);
CREATE TABLE curves (
    trial_id INTEGER NOT NULL REFERENCES trials(id), step INTEGER NOT NULL, value REAL,
    PRIMARY KEY (trial_id, step)
) WITHOUT ROWID;
CREATE TABLE checkpoints (
    trial_id INTEGER NOT NULL REFERENCES trials(id), step INTEGER NOT NULL, path TEXT,
    data BLOB, created REAL NOT NULL, PRIMARY KEY (trial_id, step)
);
CREATE TABLE boxes (
    study_id INTEGER NOT NULL REFERENCES studies(id), stream TEXT NOT NULL,
    round INTEGER NOT NULL, box TEXT NOT NULL, PRIMARY KEY (study_id, stream, round)
);
"""
# what the trainable modes added to such a file on first use
OLD_EVENTS_TABLE = (
    "CREATE TABLE IF NOT EXISTS trial_events (trial_id INTEGER NOT NULL, seq INTEGER NOT NULL, "
    "event TEXT NOT NULL, PRIMARY KEY (trial_id, seq))"
)
# (number, x, value, curve) of the trials the old file holds
OLD_TRIALS = [(0, 0.25, 0.5, {1: 0.75, 2: 0.5}), (1, 0.75, 0.125, {1: 0.25, 2: 0.125})]
EVENT = {"kind": "set_params", "epoch": 1, "values": {"lr": 0.1}}


def _old_file(path, *, with_events: bool) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA)
    conn.execute(f"PRAGMA application_id={int.from_bytes(b'bntu', 'big')}")
    conn.execute("PRAGMA user_version=1")
    conn.execute(
        "INSERT INTO bntune_meta VALUES ('application', 'bntune'), ('schema_version', '1')"
    )
    conn.execute("INSERT INTO studies VALUES (1, 'old', 'minimize', 7, 0.0)")
    for number, x, value, curve in OLD_TRIALS:
        conn.execute(
            "INSERT INTO trials (id, study_id, number, stream, seq, round, state, params, unit, "
            "value, started, finished) VALUES (?, 1, ?, 'sobol:x', ?, 1, 'complete', ?, ?, ?, "
            "1.0, 2.0)",
            (number + 1, number, number, json.dumps({"x": x}), json.dumps({"x": x}), value),
        )
        conn.executemany(
            "INSERT INTO curves VALUES (?, ?, ?)", [(number + 1, s, v) for s, v in curve.items()]
        )
    if with_events:
        conn.execute(OLD_EVENTS_TABLE)
        conn.execute("INSERT INTO trial_events VALUES (1, 0, ?)", (json.dumps(EVENT),))
    conn.commit()
    conn.close()


def _tables(path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    finally:
        conn.close()


def _user_version(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def _check_old_trials(study: tune.Study) -> None:
    assert [(t.number, t.params, t.value, t.curve) for t in study.trials] == [
        (n, {"x": x}, v, c) for n, x, v, c in OLD_TRIALS
    ]
    assert study.best_trial.number == 1


def _scripted_metric(lrs: list[float]) -> float:
    """Scripted's metric after one epoch per learning rate in ``lrs``, from w = 0."""
    w = np.zeros(4)
    for lr in lrs:
        w = w - lr * (w - 1.0)
    return float(np.sum((w - 1.0) ** 2))


def test_a_file_from_before_trial_events_opens_reads_and_runs_the_modes(tmp_path):
    path = tmp_path / "old.db"
    _old_file(path, with_events=False)
    before = path.read_bytes()

    with tune.Study("old", storage=path, read_only=True) as view:
        _check_old_trials(view)
        assert all(t.events == [] for t in view.trials)
    assert path.read_bytes() == before  # a reader changes nothing
    assert "trial_events" not in _tables(path)

    with tune.Study("old", storage=path) as study:  # the driver adds the missing table
        _check_old_trials(study)
        assert study.seed == 7
        assert "trial_events" in _tables(path)
        policy = lambda view: {"lr": 0.25} if view.epoch == 1 else None  # noqa: E731
        trial = study.babysit(Scripted, {"lr": 0.5}, epochs=2, policy=policy)
    assert trial.number == 2
    assert trial.curve[1] == _scripted_metric([0.5])
    assert trial.curve[2] == _scripted_metric([0.5, 0.25])
    assert _user_version(path) == 1  # same schema version: older bntune still opens the file

    with tune.Study("old", storage=path, read_only=True) as view:
        again = {t.number: t for t in view.trials}
        assert again[2].events == trial.events
        assert {"kind": "set_params", "epoch": 1, "values": {"lr": 0.25}} in again[2].events
        assert again[0].value == 0.5


def test_a_file_whose_modes_added_trial_events_keeps_its_events(tmp_path):
    path = tmp_path / "old-events.db"
    _old_file(path, with_events=True)
    table_sql = _tables(path)["trial_events"]

    with tune.Study("old", storage=path, read_only=True) as view:
        _check_old_trials(view)
        assert view.trials[0].events == [EVENT]
        assert view.trials[1].events == []
    with tune.Study("old", storage=path) as study:
        assert study.trials[0].events == [EVENT]
        study.optimize(lambda t: t.params["x"], tune.Space(x=tune.Uniform(0, 1)), n_trials=3)
        # the study's own stream ("sobol:x" of the hand-made rows) is not this space's key,
        # so three new trials ran, numbered after the old ones
        assert [t.number for t in study.trials] == [0, 1, 2, 3, 4]
        for t in study.trials[2:]:
            assert t.value == t.params["x"]
    assert _tables(path)["trial_events"] == table_sql  # left as the old bntune made it


def test_a_new_file_has_every_table_from_the_start(tmp_path):
    path = tmp_path / "new.db"
    tune.Study("new", storage=path, seed=0).close()
    expected = {"bntune_meta", "studies", "leases", "trials", "curves", "checkpoints",
                "trial_events", "trial_values", "trial_attrs", "boxes"}  # fmt: skip
    assert set(_tables(path)) == expected
    assert _user_version(path) == 1
