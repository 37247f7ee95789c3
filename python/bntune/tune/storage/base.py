"""What a study keeps and where: the interface every storage implements.

A storage holds studies (name, direction, seed), their trials (with learning curves and the
events the trainable modes recorded), checkpoints, coarse-to-fine boxes, key-value metadata and
the lease that makes one driver the only writer. :class:`~bntune.tune.storage.SQLiteStorage`
keeps them in one file; :class:`~bntune.tune.storage.InMemoryStorage` in this process only.
Both are written the same way: every finished trial, curve point, checkpoint and event goes
through these methods, and each call that writes is one transaction.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bntune.tune.trial import FrozenTrial

#: a box in unit space: numeric name -> [low, high]; categorical name -> allowed option indices
Box = dict[str, list[float] | list[int]]
#: (pid, host, heartbeat) of the driver holding a lease
Holder = tuple[int, str, float]
#: trials to store
Records = Sequence[FrozenTrial]
#: a trial's end: (state, value, error)
Finish = tuple[str, float | None, str | None]


@dataclass(frozen=True)
class Progress:
    """What a unit of a trainable mode adds to its trial, stored in one transaction: curve
    ``points`` (step, value), a ``checkpoint`` (step, bytes) — the trial's older ones dropped
    unless ``keep_checkpoints`` —, new ``events`` (numbered after the ``record.events`` already
    stored) and, with ``finish``, the trial's end (state, value, error) at time ``now``."""

    points: Sequence[tuple[int, float]] = ()
    checkpoint: tuple[int, bytes] | None = None
    keep_checkpoints: bool = False
    events: Sequence[dict[str, Any]] = ()
    finish: Finish | None = None
    now: float = 0.0


class Storage(ABC):
    """The study database (see the module docstring)."""

    #: the file's path, or None for storage that lives in this process
    path: str | None = None
    read_only: bool = False

    # ---- studies -------------------------------------------------------------------------

    @abstractmethod
    def get_or_create_study(self, name: str, direction: str, seed: int) -> tuple[int, str, int]:
        """(id, direction, seed) of study ``name``, created with ``direction`` and ``seed`` if
        it does not exist (atomically: two drivers creating it get the same one)."""

    @abstractmethod
    def find_study(self, name: str) -> tuple[int, str, int] | None:
        """(id, direction, seed) of study ``name``, or None."""

    @abstractmethod
    def study_names(self) -> list[str]:
        """The studies held, oldest first."""

    # ---- trials --------------------------------------------------------------------------

    @abstractmethod
    def load_trials(self, study_id: int) -> list[FrozenTrial]:
        """Every trial of the study in order of number, with its curve and events."""

    @abstractmethod
    def mark_interrupted(self, study_id: int, error: str, now: float) -> None:
        """Trials still ``running`` become failed with ``error``, to be run again (their driver
        is gone: the caller holds the lease)."""

    @abstractmethod
    def save(self, study_id: int, finished: Records = (), started: Records = ()) -> None:
        """One transaction: the ``finished`` trials' results and curves, and the ``started``
        ones inserted as ``running`` (each gets its ``_id``)."""

    @abstractmethod
    def save_progress(self, record: FrozenTrial, progress: Progress) -> None:
        """One transaction for a unit of a trainable mode (see :class:`Progress`). The
        in-memory ``record`` is the caller's to update."""

    @abstractmethod
    def set_running(self, trial_ids: Iterable[int], *, clear_value: bool) -> None:
        """The trials go back to ``running`` (error and end time cleared; their value too with
        ``clear_value``) to be continued."""

    # ---- checkpoints ---------------------------------------------------------------------

    @abstractmethod
    def checkpoint(self, trial_id: int, step: int | None = None) -> tuple[int, bytes] | None:
        """(step, bytes) of the trial's checkpoint at ``step`` (None: its latest), or None."""

    @abstractmethod
    def checkpoint_steps(self, trial_id: int) -> list[int]:
        """The steps at which the trial has a stored checkpoint, ascending."""

    # ---- coarse-to-fine boxes ------------------------------------------------------------

    @abstractmethod
    def put_box(self, study_id: int, run: str, round_: int, box: Box) -> None:
        """Stores (or replaces) round ``round_``'s box of coarse-to-fine run ``run``."""

    @abstractmethod
    def boxes(self, study_id: int, run: str | None = None) -> dict[int, Box]:
        """The boxes per round of run ``run`` (None: the run stored last); {} if none."""

    # ---- metadata ------------------------------------------------------------------------

    @abstractmethod
    def meta(self, key: str) -> str | None:
        """The metadata value stored under ``key``, or None."""

    @abstractmethod
    def set_meta(self, items: dict[str, str]) -> None:
        """Stores (or replaces) metadata values, in one transaction."""

    # ---- a watcher's summary -------------------------------------------------------------

    @abstractmethod
    def progress(self, study_id: int, *, unit: str, minimize: bool) -> tuple[int, float | None]:
        """(count, best): finished trials (``unit="trial"``) or recorded curve points
        (``unit="epoch"``), and the best complete value (None without one)."""

    # ---- the lease: storage in this process has one driver by construction ---------------
    # (these defaults say so; a storage other processes can open overrides all four)

    def lease_holder(self, study_id: int) -> Holder | None:
        """(pid, host, heartbeat) of the study's lease, or None when nobody holds it."""
        return None

    def acquire_lease(
        self, study_id: int, token: str, holder: Holder, alive: Callable[[Holder], bool]
    ) -> Holder | None:
        """Takes the lease for ``holder`` (under ``token``) unless a holder for which
        ``alive`` is true has it: then returns that holder and changes nothing."""
        return None

    def keep_lease(
        self, study_id: int, token: str, stop: threading.Event, interval: float, timeout: float
    ) -> None:
        """Refreshes the lease's heartbeat every ``interval`` seconds until ``stop`` is set
        (run on a thread of its own)."""
        stop.wait()

    def release_lease(self, study_id: int, token: str) -> None:  # noqa: B027 (nothing held)
        """Deletes the lease if it is still ``token``'s (errors are ignored: a lease that cannot
        be deleted goes stale on its own)."""

    def close(self) -> None:  # noqa: B027 (storage in this process has nothing to close)
        """Releases what the storage holds open."""
