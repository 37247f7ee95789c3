"""The command line's view of a study database: which studies it holds, and the search space a
study was run with (stored by ``bntune run``/``demo`` so that ``plot`` draws every dimension on
its own scale)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from bntune import tune

_SPACE_KEY = "cli.space/"  # + study name, in the bntune_meta table
_OBJECTIVE_KEY = "cli.objective/"
_TRAINABLE_KEY = "cli.trainable/"
_DIMENSIONS: dict[str, type[tune.Dimension]] = {
    cls.__name__: cls
    for cls in (
        tune.Uniform,
        tune.LogUniform,
        tune.OneMinusLogUniform,
        tune.IntUniform,
        tune.IntLogUniform,
    )
}


class StudyFileError(ValueError):
    """The file is missing, not a study database, or does not hold the named study."""


def _connect_existing(path: str | os.PathLike[str]) -> sqlite3.Connection:
    p = Path(path)
    if not p.is_file():
        raise StudyFileError(f"{os.fspath(path)}: no such study database")
    try:
        conn = sqlite3.connect(f"file:{p.resolve()}?mode=ro", uri=True, timeout=10.0)
        conn.execute("SELECT count(*) FROM studies").fetchone()
    except sqlite3.DatabaseError as err:
        raise StudyFileError(f"{os.fspath(path)}: not a bntune study database ({err})") from None
    return conn


def study_names(path: str | os.PathLike[str]) -> list[str]:
    """Names of the studies stored in the database at ``path``, oldest first."""
    conn = _connect_existing(path)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM studies ORDER BY id")]
    finally:
        conn.close()


def pick_study(path: str | os.PathLike[str], name: str | None) -> str:
    """``name`` if the file holds it; with ``name=None`` the file's only study."""
    names = study_names(path)
    if name is None:
        if len(names) == 1:
            return names[0]
        if not names:
            raise StudyFileError(f"{os.fspath(path)}: holds no study")
        raise StudyFileError(
            f"{os.fspath(path)} holds several studies {names}; choose one with --study"
        )
    if name not in names:
        raise StudyFileError(f"{os.fspath(path)}: no study named {name!r}; it holds {names}")
    return name


def open_study(
    path: str | os.PathLike[str], name: str | None = None, *, read_only: bool = False
) -> tune.Study:
    """Opens an existing study without ever creating a file or a study: to run trials in it
    (taking its lease, so ``tune.StudyLocked`` while a driver runs it), or with ``read_only``
    to read it (no lease: a driver may be running it)."""
    study = pick_study(path, name)
    try:
        return tune.Study(study, storage=path, read_only=read_only)
    except tune.StorageError as err:
        raise StudyFileError(f"{os.fspath(path)}: {err}") from None


def save_space(study: tune.Study, space: tune.Space, objective: str | None = None) -> None:
    """Records ``space``'s description and the ``objective``'s name (for axis labels) with
    ``study``: rows in ``bntune_meta``, nothing else of the file changes."""
    rows = [(_SPACE_KEY + study.name, json.dumps(space.describe()))]
    if objective is not None:
        rows.append((_OBJECTIVE_KEY + study.name, objective))
    study._conn.executemany("INSERT OR REPLACE INTO bntune_meta (key, value) VALUES (?, ?)", rows)


def load_objective_name(study: tune.Study) -> str:
    """The objective's name ``save_space`` recorded, else ``"objective"``."""
    row = study._conn.execute(
        "SELECT value FROM bntune_meta WHERE key = ?", (_OBJECTIVE_KEY + study.name,)
    ).fetchone()
    return "objective" if row is None else str(row[0])


def load_space(study: tune.Study) -> tune.Space | None:
    """The space ``save_space`` recorded for ``study``, or None (a study run from Python)."""
    row = study._conn.execute(
        "SELECT value FROM bntune_meta WHERE key = ?", (_SPACE_KEY + study.name,)
    ).fetchone()
    if row is None:
        return None
    return space_from_description(json.loads(row[0]))


def space_from_description(description: list[Any]) -> tune.Space:
    """Rebuilds a ``tune.Space`` from ``Space.describe()``."""
    dims: dict[str, tune.Dimension] = {}
    for name, (kind, *args) in description:
        if kind == "Choice":
            dims[name] = tune.Choice(args[0])
        elif kind == "Fixed":
            dims[name] = tune.Fixed(args[0])
        elif kind in _DIMENSIONS:
            dims[name] = _DIMENSIONS[kind](*args)
        else:
            raise StudyFileError(f"unknown dimension kind {kind!r} for {name!r}")
    return tune.Space(**dims)


def save_trainable(study: tune.Study, reference: str) -> None:
    """Records which ``tune.Trainable`` (``"module:Class"``) trained the study's models, for
    ``bntune babysit``."""
    study._conn.execute(
        "INSERT OR REPLACE INTO bntune_meta (key, value) VALUES (?, ?)",
        (_TRAINABLE_KEY + study.name, reference),
    )


def load_trainable(study: tune.Study) -> str | None:
    """The ``"module:Class"`` ``save_trainable`` recorded, or None."""
    row = study._conn.execute(
        "SELECT value FROM bntune_meta WHERE key = ?", (_TRAINABLE_KEY + study.name,)
    ).fetchone()
    return None if row is None else str(row[0])
