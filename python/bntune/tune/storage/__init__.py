"""Where a study's trials live: one interface (:class:`Storage`), a SQLite file
(:class:`SQLiteStorage`, the only SQL in bntune) or this process (:class:`InMemoryStorage`).

See :mod:`bntune.tune.storage.sqlite` for the file's tables, schema versions and durability.
"""

from __future__ import annotations

import os

from bntune.tune.storage.base import Box, Finish, Holder, Progress, Storage
from bntune.tune.storage.memory import InMemoryStorage
from bntune.tune.storage.sqlite import (
    APPLICATION_ID,
    DURABILITIES,
    SCHEMA_VERSION,
    TABLES,
    SQLiteStorage,
)

__all__ = [
    "APPLICATION_ID",
    "DURABILITIES",
    "SCHEMA_VERSION",
    "TABLES",
    "Box",
    "Finish",
    "Holder",
    "InMemoryStorage",
    "Progress",
    "SQLiteStorage",
    "Storage",
    "open_storage",
]


def open_storage(
    storage: str | os.PathLike[str] | None, durability: str = "normal", *, read_only: bool = False
) -> Storage:
    """The storage a study's ``storage=`` argument names: a SQLite file at a path, or (None)
    storage in this process."""
    if durability not in DURABILITIES:
        raise ValueError(f"durability must be 'normal' or 'full', got {durability!r}")
    if storage is None:
        if read_only:
            raise ValueError("read_only needs a storage file: an in-memory study has no reader")
        return InMemoryStorage()
    return SQLiteStorage(storage_path(storage), durability, read_only=read_only)


def storage_path(storage: str | os.PathLike[str]) -> str:
    """The file a ``storage=`` argument names: a path, or a ``sqlite:///path`` URL (Optuna's and
    SQLAlchemy's form: ``sqlite:///rel.db`` is relative, ``sqlite:////abs.db`` absolute)."""
    text = os.fspath(storage)
    if "://" not in text:
        return text
    scheme, _, rest = text.partition("://")
    if scheme != "sqlite" or not rest.startswith("/") or rest == "/":
        raise ValueError(
            f"storage must be a file path or a 'sqlite:///path' URL, got {text!r} (bntune keeps "
            f"studies in SQLite files only)"
        )
    return rest[1:]
