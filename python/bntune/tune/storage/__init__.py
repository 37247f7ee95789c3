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
    return SQLiteStorage(storage, durability, read_only=read_only)
