"""The command line's view of a study database: which studies it holds, and the search space a
study was run with (stored by ``bntune run``/``demo`` so that ``plot`` draws every dimension on
its own scale)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bntune import tune
from bntune.tune.dimensions import from_description
from bntune.tune.storage import SQLiteStorage

_SPACE_KEY = "cli.space/"  # + study name, in the bntune_meta table
_OBJECTIVE_KEY = "cli.objective/"
_TRAINABLE_KEY = "cli.trainable/"


class StudyFileError(ValueError):
    """The file is missing, not a study database, or does not hold the named study."""


def study_names(path: str | os.PathLike[str]) -> list[str]:
    """Names of the studies stored in the database at ``path``, oldest first."""
    if not Path(path).is_file():
        raise StudyFileError(f"{os.fspath(path)}: no such study database")
    try:
        storage = SQLiteStorage(path, read_only=True)
    except tune.StorageError as err:
        raise StudyFileError(f"{os.fspath(path)}: not a bntune study database ({err})") from None
    try:
        return storage.study_names()
    finally:
        storage.close()


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
    ``study``: metadata of the storage, nothing else of the file changes."""
    items = {_SPACE_KEY + study.name: json.dumps(space.describe())}
    if objective is not None:
        items[_OBJECTIVE_KEY + study.name] = objective
    study.storage.set_meta(items)


def load_objective_name(study: tune.Study) -> str:
    """The objective's name ``save_space`` recorded, else ``"objective"``."""
    name = study.storage.meta(_OBJECTIVE_KEY + study.name)
    return "objective" if name is None else name


def load_space(study: tune.Study) -> tune.Space | None:
    """The space ``save_space`` recorded for ``study``, or None (a study run from Python)."""
    description = study.storage.meta(_SPACE_KEY + study.name)
    return None if description is None else space_from_description(json.loads(description))


def space_from_description(description: list[Any]) -> tune.Space:
    """Rebuilds a ``tune.Space`` from ``Space.describe()``."""
    dims: dict[str, tune.Dimension] = {}
    for name, described in description:
        try:
            dims[name] = from_description(described)
        except (TypeError, ValueError) as err:
            raise StudyFileError(f"dimension {name!r}: {err}") from None
    return tune.Space(**dims)


def save_trainable(study: tune.Study, reference: str) -> None:
    """Records which ``tune.Trainable`` (``"module:Class"``) trained the study's models, for
    ``bntune babysit``."""
    study.storage.set_meta({_TRAINABLE_KEY + study.name: reference})


def load_trainable(study: tune.Study) -> str | None:
    """The ``"module:Class"`` ``save_trainable`` recorded, or None."""
    return study.storage.meta(_TRAINABLE_KEY + study.name)
