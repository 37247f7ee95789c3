"""The study database in SQLite: one file, one writer (the driver). The only SQL in bntune.

Tables: ``bntune_meta`` (application and schema version), ``studies``, ``leases``, ``trials``
(number, params, value, state, round, timestamps, error text), ``curves`` (learning-curve points),
``checkpoints`` (for resumable training), ``trial_events`` (what the trainable modes did to a
trial: parameter changes, rollbacks, exploits), ``trial_values`` (a trial's values when the study
has several objectives), ``trial_attrs`` (the user attributes a trial set)
and ``boxes`` (coarse-to-fine rounds). This module is the one place that defines them.

Schema versions: ``PRAGMA user_version`` (and ``schema_version`` in ``bntune_meta``) counts
changes an older bntune could not read; a newer file is refused. Tables added within a version
(``trial_events``, ``trial_values`` and ``trial_attrs`` came after the first files of version 1)
are created by the first driver that opens an older file; a read-only view of such a file reads
them as empty.

Durability: by default the file is in WAL mode with ``synchronous=NORMAL``. A committed trial
survives the driver process being killed (the OS still has the write), but **not a power cut or
kernel crash**, which may lose the last trials committed before it (the database stays
consistent). ``durability="full"`` (``synchronous=FULL``) syncs every commit to disk and survives
those too, at the cost of one fsync per trial.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from bntune.tune.errors import StorageError
from bntune.tune.storage.base import Box, Holder, Progress, Records, Storage
from bntune.tune.trial import FrozenTrial

SCHEMA_VERSION = 1
#: PRAGMA application_id of a bntune study database: b"bntu" as a big-endian int
APPLICATION_ID = int.from_bytes(b"bntu", "big")
DURABILITIES = {"normal": "NORMAL", "full": "FULL"}
_SQLITE_MAGIC = b"SQLite format 3\x00"

# IF NOT EXISTS throughout: running the whole script on an older file of the same version adds the
# tables it lacks and leaves the others alone
_SCHEMA = """
CREATE TABLE IF NOT EXISTS bntune_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    direction TEXT NOT NULL,
    seed INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    study_id INTEGER PRIMARY KEY REFERENCES studies(id),
    token TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    acquired REAL NOT NULL,
    heartbeat REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    number INTEGER NOT NULL,
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    round INTEGER NOT NULL,
    state TEXT NOT NULL,
    params TEXT NOT NULL,
    unit TEXT NOT NULL,
    value REAL,
    error TEXT,
    started REAL NOT NULL,
    finished REAL,
    rerun INTEGER NOT NULL DEFAULT 0,
    UNIQUE (study_id, number)
);
CREATE TABLE IF NOT EXISTS curves (
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    step INTEGER NOT NULL,
    value REAL,
    PRIMARY KEY (trial_id, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    step INTEGER NOT NULL,
    path TEXT,
    data BLOB,
    created REAL NOT NULL,
    PRIMARY KEY (trial_id, step)
);
CREATE TABLE IF NOT EXISTS trial_values (
    trial_id INTEGER NOT NULL,
    objective INTEGER NOT NULL,
    value REAL,
    PRIMARY KEY (trial_id, objective)
);
CREATE TABLE IF NOT EXISTS trial_attrs (
    trial_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (trial_id, key)
);
CREATE TABLE IF NOT EXISTS trial_events (
    trial_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (trial_id, seq)
);
CREATE TABLE IF NOT EXISTS boxes (
    study_id INTEGER NOT NULL REFERENCES studies(id),
    stream TEXT NOT NULL,
    round INTEGER NOT NULL,
    box TEXT NOT NULL,
    PRIMARY KEY (study_id, stream, round)
);
"""
#: every table of the schema (a file of the current version has them all)
TABLES = frozenset(
    line.split()[5] for line in _SCHEMA.splitlines() if line.startswith("CREATE TABLE")
)
#: tables without which a file is not a usable study database (the rest can be added)
_CORE_TABLES = frozenset({"trials", "bntune_meta", "studies", "leases"})


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, *, immediate: bool = False) -> Iterator[None]:
    """``BEGIN`` (``BEGIN IMMEDIATE``: take the write lock now) ... ``COMMIT``; on any exception
    ``ROLLBACK`` and re-raise. The connection must be in autocommit mode (as :func:`connect`
    makes it)."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _check_header(path: Path) -> None:
    """Refuse, before SQLite touches it, a non-empty file that is not a SQLite database."""
    try:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as e:
        raise StorageError(f"cannot read study storage {str(path)!r}: {e}") from e
    if head and head != _SQLITE_MAGIC:
        raise StorageError(
            f"study storage {str(path)!r} is not a SQLite database (its first bytes are "
            f"{head[:16]!r}); bntune will not overwrite it — give another path"
        )


def connect(
    storage: str | os.PathLike[str], durability: str = "normal", *, read_only: bool = False
) -> sqlite3.Connection:
    """An open, checked connection to a bntune study database, created if the file is new.

    With ``read_only`` the file must already be a bntune database; it is opened with SQLite's
    ``mode=ro`` (a WAL reader: it sees what the driver has committed and never blocks it) and
    nothing is created, migrated or written.

    Raises :class:`StorageError` (leaving the file untouched) for a file that is not SQLite, is a
    SQLite database of another application, is damaged, or was written by a newer bntune.
    """
    if durability not in DURABILITIES:
        raise ValueError(f"durability must be 'normal' or 'full', got {durability!r}")
    path = Path(os.fspath(storage))
    where = str(path)
    if not read_only and not path.parent.is_dir():
        raise StorageError(
            f"cannot create study storage {where!r}: directory {str(path.parent)!r} does not exist"
        )
    if read_only:
        if not path.is_file():
            raise StorageError(f"study storage {where!r} does not exist (opened read-only)")
        # a URI, so that the path's own characters ('?', '#', '%') are escaped, not parsed
        target, uri = f"{path.resolve().as_uri()}?mode=ro", True
    else:
        target, uri = where, False
    _check_header(path)
    try:
        # autocommit mode: transactions are explicit BEGIN/COMMIT, one per finished trial
        conn = sqlite3.connect(
            target, uri=uri, isolation_level=None, check_same_thread=False, timeout=10.0
        )
    except sqlite3.Error as e:
        raise StorageError(f"cannot open study storage {where!r}: {e}") from e
    try:
        if read_only:
            if not _is_bntune(conn, where):
                raise StorageError(f"study storage {where!r} is empty, not a bntune study database")
        else:
            _check_or_create(conn, where)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={DURABILITIES[durability]}")
            conn.execute("PRAGMA foreign_keys=OFF")
    except sqlite3.OperationalError as e:  # locked, read-only, disk full...
        conn.close()
        raise StorageError(f"cannot use study storage {where!r}: {e}") from e
    except sqlite3.DatabaseError as e:
        conn.close()
        raise StorageError(f"study storage {where!r} is damaged or not a database: {e}") from e
    except BaseException:
        conn.close()
        raise
    return conn


def _check_or_create(conn: sqlite3.Connection, where: str) -> None:
    if _is_bntune(conn, where):
        _add_missing_tables(conn)
        return
    # Another driver may be creating the same new file: take the write lock, then look again.
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _is_bntune(conn, where):
            conn.execute("ROLLBACK")
            _add_missing_tables(conn)
            return
        _create_tables(conn)
        conn.execute(
            "INSERT INTO bntune_meta (key, value) VALUES ('application', 'bntune'), "
            "('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _create_tables(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def table_names(conn: sqlite3.Connection) -> set[str]:
    """The tables the database holds."""
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _add_missing_tables(conn: sqlite3.Connection) -> None:
    """Brings an older file of this schema version up to date (e.g. adds ``trial_events``)."""
    if TABLES.issubset(table_names(conn)):
        return  # the usual case: no write lock taken
    with transaction(conn, immediate=True):
        _create_tables(conn)


def _is_bntune(conn: sqlite3.Connection, where: str) -> bool:
    """True for a usable bntune database, False for an empty one; StorageError otherwise."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    # reading sqlite_master makes SQLite parse the schema: a damaged file fails here
    tables = table_names(conn)
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"study storage {where!r} has schema version {version}, newer than this bntune "
                f"understands ({SCHEMA_VERSION}); upgrade bntune to open it"
            )
        if not _CORE_TABLES.issubset(tables):
            raise StorageError(
                f"study storage {where!r} is a damaged bntune database (tables missing)"
            )
        return True
    if app_id != 0 or tables:
        raise StorageError(
            f"study storage {where!r} is a SQLite database but not a bntune study database "
            f"(application_id={app_id}, tables={sorted(tables)}); bntune will not modify it"
        )
    return False


# ---- the storage object ------------------------------------------------------------------------

# one encoder, made once: json.dumps would build it per call
_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_TRIAL_COLUMNS = (
    "id, number, stream, seq, round, state, params, unit, value, error, started, finished, rerun"
)
_INSERT_RUNNING = (
    "INSERT INTO trials (study_id, number, stream, seq, round, state, params, unit, started) "
    "VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)"
)
_FINISH = "UPDATE trials SET state = ?, value = ?, error = ?, finished = ?, rerun = ? WHERE id = ?"
# a finished trial of a function objective: its params too (a define-by-run trial chose them as
# it ran, after it was stored as running)
_FINISH_TRIAL = (
    "UPDATE trials SET state = ?, value = ?, error = ?, finished = ?, rerun = ?, params = ?, "
    "unit = ? WHERE id = ?"
)
_CURVE = "INSERT OR REPLACE INTO curves (trial_id, step, value) VALUES (?, ?, ?)"
_EVENT = "INSERT INTO trial_events (trial_id, seq, event) VALUES (?, ?, ?)"
_ATTR = "INSERT OR REPLACE INTO trial_attrs (trial_id, key, value) VALUES (?, ?, ?)"
_VALUE = "INSERT OR REPLACE INTO trial_values (trial_id, objective, value) VALUES (?, ?, ?)"
_PUT_CHECKPOINT = (
    "INSERT OR REPLACE INTO checkpoints (trial_id, step, path, data, created) "
    "VALUES (?, ?, NULL, ?, ?)"
)
_META = "INSERT OR REPLACE INTO bntune_meta (key, value) VALUES (?, ?)"


def _curve_rows(trial_id: int, points: Iterable[tuple[int, float]]) -> list[tuple]:
    # SQLite has no NaN: a non-finite point is stored as NULL and read back as NaN
    return [(trial_id, s, v if math.isfinite(v) else None) for s, v in points]


class SQLiteStorage(Storage):
    """A study database file (see the module docstring), opened by :func:`connect`; with
    ``read_only`` a WAL reader that never writes nor blocks the driver."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        durability: str = "normal",
        *,
        read_only: bool = False,
    ) -> None:
        self.path = os.fspath(path)
        self.read_only = bool(read_only)
        self.durability = durability
        self.connection = connect(self.path, durability, read_only=read_only)
        tables = table_names(self.connection)
        self._has_events = not read_only or "trial_events" in tables
        self._has_attrs = not read_only or "trial_attrs" in tables
        self._has_values = not read_only or "trial_values" in tables

    def _transaction(self, *, immediate: bool = False) -> contextlib.AbstractContextManager:
        return transaction(self.connection, immediate=immediate)

    # ---- studies -------------------------------------------------------------------------

    def get_or_create_study(self, name: str, direction: str, seed: int) -> tuple[int, str, int]:
        conn = self.connection
        with self._transaction(immediate=True):
            found = self.find_study(name)
            if found is not None:
                return found
            cur = conn.execute(
                "INSERT INTO studies (name, direction, seed, created) VALUES (?, ?, ?, ?)",
                (name, direction, seed, time.time()),
            )
        return int(cur.lastrowid or 0), direction, seed

    def find_study(self, name: str) -> tuple[int, str, int] | None:
        row = self.connection.execute(
            "SELECT id, direction, seed FROM studies WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), int(row[2]))

    def study_names(self) -> list[str]:
        return [r[0] for r in self.connection.execute("SELECT name FROM studies ORDER BY id")]

    # ---- trials --------------------------------------------------------------------------

    def load_trials(self, study_id: int) -> list[FrozenTrial]:
        conn = self.connection
        curves: dict[int, dict[int, float]] = {}
        for trial_id, step, value in conn.execute(
            "SELECT c.trial_id, c.step, c.value FROM curves c JOIN trials t ON t.id = c.trial_id "
            "WHERE t.study_id = ? ORDER BY c.trial_id, c.step",
            (study_id,),
        ):
            curves.setdefault(trial_id, {})[step] = math.nan if value is None else value
        trials = []
        by_id: dict[int, FrozenTrial] = {}
        for row in conn.execute(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE study_id = ? ORDER BY number", (study_id,)
        ):
            tid, number, stream, seq, rnd, state, params, unit, value, error, t0, t1, rerun = row
            trial = FrozenTrial(
                number=number,
                params=json.loads(params),
                value=value,
                state=state,
                curve=curves.get(tid, {}),
                round=rnd,
                error=error,
                started=t0,
                finished=t1,
                unit=json.loads(unit),
                stream=stream,
                seq=seq,
                rerun=bool(rerun),
                _id=tid,
            )
            trials.append(trial)
            by_id[tid] = trial
        # a read-only view of a file older than the events table (no mode ran in it) has none
        # a read-only view of a file older than these tables (nothing wrote them) has none
        if self._has_events:
            for trial, (text,) in self._rows_of(by_id, study_id, "trial_events", "event", "seq"):
                trial.events.append(json.loads(text))
        if self._has_attrs:
            for trial, (key, text) in self._rows_of(by_id, study_id, "trial_attrs", "key, value",
                                                    "key"):  # fmt: skip
                trial.user_attrs[key] = json.loads(text)
        if self._has_values:
            for trial, (value,) in self._rows_of(by_id, study_id, "trial_values", "value",
                                                 "objective"):  # fmt: skip
                trial.values = [*(trial.values or []), float(value)]
        return trials

    def _rows_of(
        self, by_id: dict[int, FrozenTrial], study_id: int, table: str, columns: str, order: str
    ) -> Iterator[tuple[FrozenTrial, tuple[Any, ...]]]:
        """(trial, the other columns) for each row of a per-trial table of the study, in order
        of trial and ``order`` (names from this module only: never user input)."""
        wanted = ", ".join(f"x.{c.strip()}" for c in columns.split(","))
        rows = self.connection.execute(
            f"SELECT x.trial_id, {wanted} FROM {table} x JOIN trials t ON t.id = x.trial_id "
            f"WHERE t.study_id = ? ORDER BY x.trial_id, x.{order}",
            (study_id,),
        )
        for trial_id, *rest in rows:
            trial = by_id.get(trial_id)
            if trial is not None:
                yield trial, tuple(rest)

    def mark_interrupted(self, study_id: int, error: str, now: float) -> None:
        self.connection.execute(
            "UPDATE trials SET state = 'failed', rerun = 1, finished = ?, error = ? "
            "WHERE study_id = ? AND state = 'running'",
            (now, error, study_id),
        )

    def save(self, study_id: int, finished: Records = (), started: Records = ()) -> None:
        conn = self.connection
        with self._transaction():
            for record in finished:
                done = (record.state, record.value, record.error, record.finished,
                        int(record.rerun))  # fmt: skip
                if record._defines:
                    chosen = (_dumps(record.params), _dumps(record.unit))
                    conn.execute(_FINISH_TRIAL, (*done, *chosen, record._id))
                else:
                    conn.execute(_FINISH, (*done, record._id))
                if record.user_attrs:
                    attrs = [(record._id, k, _dumps(v)) for k, v in record.user_attrs.items()]
                    conn.executemany(_ATTR, attrs)
                if record.values is not None:
                    values = [(record._id, i, v) for i, v in enumerate(record.values)]
                    conn.executemany(_VALUE, values)
                if record.curve:
                    conn.executemany(_CURVE, _curve_rows(record._id, record.curve.items()))
            for record in started:
                cur = conn.execute(
                    _INSERT_RUNNING,
                    (
                        study_id,
                        record.number,
                        record.stream,
                        record.seq,
                        record.round,
                        _dumps(record.params),
                        _dumps(record.unit),
                        record.started,
                    ),
                )
                record._id = int(cur.lastrowid or 0)

    def save_progress(self, record: FrozenTrial, progress: Progress) -> None:
        p = progress
        conn = self.connection
        with self._transaction():
            if p.points:
                conn.executemany(_CURVE, _curve_rows(record._id, p.points))
            if p.checkpoint is not None:
                step, data = p.checkpoint
                conn.execute(_PUT_CHECKPOINT, (record._id, int(step), data, time.time()))
                if not p.keep_checkpoints:
                    conn.execute(
                        "DELETE FROM checkpoints WHERE trial_id = ? AND step < ?",
                        (record._id, int(step)),
                    )
            if p.events:
                first = len(record.events)
                conn.executemany(
                    _EVENT,
                    [(record._id, first + i, json.dumps(e)) for i, e in enumerate(p.events)],
                )
            if p.finish is not None:
                state, value, error = p.finish
                conn.execute(_FINISH, (state, value, error, p.now, 0, record._id))

    def set_running(self, trial_ids: Iterable[int], *, clear_value: bool) -> None:
        conn = self.connection
        value = ", value = NULL" if clear_value else ""
        with self._transaction():
            for trial_id in trial_ids:
                conn.execute(
                    f"UPDATE trials SET state = 'running', error = NULL, finished = NULL, "
                    f"rerun = 0{value} WHERE id = ?",
                    (trial_id,),
                )

    # ---- checkpoints ---------------------------------------------------------------------

    def checkpoint(self, trial_id: int, step: int | None = None) -> tuple[int, bytes] | None:
        if step is None:
            row = self.connection.execute(
                "SELECT step, data FROM checkpoints WHERE trial_id = ? ORDER BY step DESC LIMIT 1",
                (trial_id,),
            ).fetchone()
        else:
            row = self.connection.execute(
                "SELECT step, data FROM checkpoints WHERE trial_id = ? AND step = ?",
                (trial_id, int(step)),
            ).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def checkpoint_steps(self, trial_id: int) -> list[int]:
        rows = self.connection.execute(
            "SELECT step FROM checkpoints WHERE trial_id = ? ORDER BY step", (trial_id,)
        )
        return [int(r[0]) for r in rows]

    # ---- coarse-to-fine boxes ------------------------------------------------------------

    def put_box(self, study_id: int, run: str, round_: int, box: Box) -> None:
        self.connection.execute(
            "INSERT OR REPLACE INTO boxes (study_id, stream, round, box) VALUES (?, ?, ?, ?)",
            (study_id, run, round_, json.dumps(box)),
        )

    def boxes(self, study_id: int, run: str | None = None) -> dict[int, Box]:
        conn = self.connection
        if run is None:
            row = conn.execute(
                "SELECT stream FROM boxes WHERE study_id = ? ORDER BY rowid DESC LIMIT 1",
                (study_id,),
            ).fetchone()
            if row is None:
                return {}
            run = str(row[0])
        rows = conn.execute(
            "SELECT round, box FROM boxes WHERE study_id = ? AND stream = ? ORDER BY round",
            (study_id, run),
        )
        return {int(r): json.loads(b) for r, b in rows}

    # ---- metadata ------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self.connection.execute(
            "SELECT value FROM bntune_meta WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, items: dict[str, str]) -> None:
        with self._transaction():
            self.connection.executemany(_META, list(items.items()))

    # ---- a watcher's summary -------------------------------------------------------------

    def progress(self, study_id: int, *, unit: str, minimize: bool) -> tuple[int, float | None]:
        try:
            return self._progress(study_id, unit, minimize)
        except sqlite3.OperationalError as e:  # busy for a moment: the caller polls again
            raise StorageError(f"study storage {self.path!r} is busy: {e}") from e

    def _progress(self, study_id: int, unit: str, minimize: bool) -> tuple[int, float | None]:
        conn = self.connection
        if unit == "trial":
            count_sql = "SELECT count(*) FROM trials WHERE study_id = ? AND state != 'running'"
        else:
            count_sql = (
                "SELECT count(*) FROM curves c JOIN trials t ON t.id = c.trial_id "
                "WHERE t.study_id = ?"
            )
        best = "min" if minimize else "max"
        (count,) = conn.execute(count_sql, (study_id,)).fetchone()
        (value,) = conn.execute(
            f"SELECT {best}(value) FROM trials WHERE study_id = ? AND state = 'complete'",
            (study_id,),
        ).fetchone()
        return int(count), value

    # ---- the lease -----------------------------------------------------------------------

    def lease_holder(self, study_id: int) -> Holder | None:
        row = self.connection.execute(
            "SELECT pid, host, heartbeat FROM leases WHERE study_id = ?", (study_id,)
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), float(row[2]))

    def acquire_lease(
        self, study_id: int, token: str, holder: Holder, alive: Callable[[Holder], bool]
    ) -> Holder | None:
        pid, host, now = holder
        with self._transaction(immediate=True):
            current = self.lease_holder(study_id)
            if current is not None and alive(current):
                return current
            self.connection.execute(
                "INSERT OR REPLACE INTO leases (study_id, token, pid, host, acquired, heartbeat) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (study_id, token, pid, host, now, now),
            )
        return None

    def keep_lease(
        self, study_id: int, token: str, stop: threading.Event, interval: float, timeout: float
    ) -> None:
        # its own connection: sqlite3 connections are not for concurrent use across threads
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=timeout / 2)
        except sqlite3.Error:
            return
        try:
            while not stop.wait(interval):
                try:
                    conn.execute(
                        "UPDATE leases SET heartbeat = ? WHERE study_id = ? AND token = ?",
                        (time.time(), study_id, token),
                    )
                except sqlite3.Error:
                    continue  # busy: try again next beat, well within the timeout
        finally:
            conn.close()

    def release_lease(self, study_id: int, token: str) -> None:
        # a closed or broken connection: the lease will go stale on its own
        with contextlib.suppress(sqlite3.Error):
            self.connection.execute(
                "DELETE FROM leases WHERE study_id = ? AND token = ?", (study_id, token)
            )

    def close(self) -> None:
        self.connection.close()
