"""The study database: SQLite, one file, one writer (the driver).

Tables: ``bntune_meta`` (application and schema version), ``studies``, ``leases``, ``trials``
(number, params, value, state, round, timestamps, error text), ``curves`` (learning-curve points),
``checkpoints`` (for resumable training), ``trial_events`` (what the trainable modes did to a
trial: parameter changes, rollbacks, exploits) and ``boxes`` (coarse-to-fine rounds). This module
is the one place that defines them.

Schema versions: ``PRAGMA user_version`` (and ``schema_version`` in ``bntune_meta``) counts
changes an older bntune could not read; a newer file is refused. Tables added within a version
(``trial_events`` came after the first files of version 1: the modes created it on first use)
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
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from bntune.tune.errors import StorageError

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
    storage: str | os.PathLike[str] | None, durability: str = "normal", *, read_only: bool = False
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
    if read_only:
        if storage is None:
            raise ValueError("read_only needs a storage file: an in-memory study has no reader")
        path = Path(os.fspath(storage))
        where = str(path)
        if not path.is_file():
            raise StorageError(f"study storage {where!r} does not exist (opened read-only)")
        # a URI, so that the path's own characters ('?', '#', '%') are escaped, not parsed
        target, uri = f"{path.resolve().as_uri()}?mode=ro", True
    else:
        where = target = ":memory:" if storage is None else os.fspath(storage)
        uri = False
    if storage is not None:
        _check_header(Path(where))
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
            if storage is not None:
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
