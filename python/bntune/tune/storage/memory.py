"""Storage in this process only (``Study(storage=None)``): the same interface as the SQLite
file, kept in dicts; everything ends with the process. There is no other driver to exclude, so
the lease always succeeds.

It keeps the trial records it is given, not copies: their fields are what the caller (the
study's :class:`~bntune.tune.trial_log.TrialLog`) sets on them, so saving a result or a curve
point costs nothing here. What records do not hold — ids, checkpoints, boxes, metadata — it
keeps itself. ``load_trials`` hands out copies."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable

from bntune.tune.storage.base import Box, Progress, Records, Storage
from bntune.tune.trial import FrozenTrial


class InMemoryStorage(Storage):
    """Studies, trials, checkpoints, boxes and metadata in this process."""

    def __init__(self) -> None:
        self._studies: list[tuple[int, str, str, int]] = []  # (id, name, direction, seed)
        # trial id -> (study id, the caller's record); checkpoints by trial id, then step
        self._rows: dict[int, tuple[int, FrozenTrial]] = {}
        self._checkpoints: dict[int, dict[int, bytes]] = {}
        self._boxes: dict[tuple[int, str], dict[int, Box]] = {}
        self._box_order: list[tuple[int, str]] = []
        self._meta: dict[str, str] = {}
        self._lock = threading.Lock()

    # ---- studies -------------------------------------------------------------------------

    def get_or_create_study(self, name: str, direction: str, seed: int) -> tuple[int, str, int]:
        with self._lock:
            found = self.find_study(name)
            if found is not None:
                return found
            study_id = len(self._studies) + 1
            self._studies.append((study_id, name, direction, seed))
        return study_id, direction, seed

    def find_study(self, name: str) -> tuple[int, str, int] | None:
        for study_id, stored, direction, seed in self._studies:
            if stored == name:
                return study_id, direction, seed
        return None

    def study_names(self) -> list[str]:
        return [name for _, name, _, _ in self._studies]

    # ---- trials --------------------------------------------------------------------------

    def _of(self, study_id: int) -> list[FrozenTrial]:
        trials = [t for s, t in self._rows.values() if s == study_id]
        trials.sort(key=lambda t: t.number)
        return trials

    def load_trials(self, study_id: int) -> list[FrozenTrial]:
        out = []
        for stored in self._of(study_id):
            trial = copy.deepcopy(stored)
            trial._study = None
            out.append(trial)
        return out

    def mark_interrupted(self, study_id: int, error: str, now: float) -> None:
        for t in self._of(study_id):
            if t.state == "running":
                t.state, t.rerun, t.finished, t.error = "failed", True, now, error

    def save(self, study_id: int, finished: Records = (), started: Records = ()) -> None:
        # a finished record is already the stored one: nothing to copy
        for record in started:
            record._id = len(self._rows) + 1
            self._rows[record._id] = (study_id, record)

    def save_progress(self, record: FrozenTrial, progress: Progress) -> None:
        # the record takes the curve points, events and end from its caller
        if progress.checkpoint is not None:
            stored = self._checkpoints.setdefault(record._id, {})
            step, data = progress.checkpoint
            if not progress.keep_checkpoints:
                stored = self._checkpoints[record._id] = {
                    s: d for s, d in stored.items() if s >= step
                }
            stored[int(step)] = bytes(data)

    def set_running(self, trial_ids: Iterable[int], *, clear_value: bool) -> None:
        for trial_id in trial_ids:
            t = self._rows[trial_id][1]
            t.state, t.error, t.finished, t.rerun = "running", None, None, False
            if clear_value:
                t.value = None

    # ---- checkpoints ---------------------------------------------------------------------

    def checkpoint(self, trial_id: int, step: int | None = None) -> tuple[int, bytes] | None:
        stored = self._checkpoints.get(trial_id, {})
        if step is None:
            step = max(stored, default=None)
        return None if step not in stored else (int(step), stored[step])

    def checkpoint_steps(self, trial_id: int) -> list[int]:
        return sorted(self._checkpoints.get(trial_id, {}))

    # ---- coarse-to-fine boxes ------------------------------------------------------------

    def put_box(self, study_id: int, run: str, round_: int, box: Box) -> None:
        key = (study_id, run)
        self._boxes.setdefault(key, {})[round_] = copy.deepcopy(box)
        if key in self._box_order:
            self._box_order.remove(key)
        self._box_order.append(key)

    def boxes(self, study_id: int, run: str | None = None) -> dict[int, Box]:
        if run is None:
            runs = [r for s, r in self._box_order if s == study_id]
            if not runs:
                return {}
            run = runs[-1]
        stored = self._boxes.get((study_id, run), {})
        return {r: copy.deepcopy(stored[r]) for r in sorted(stored)}

    # ---- metadata ------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        return self._meta.get(key)

    def set_meta(self, items: dict[str, str]) -> None:
        self._meta.update(items)

    # ---- a watcher's summary -------------------------------------------------------------

    def progress(self, study_id: int, *, unit: str, minimize: bool) -> tuple[int, float | None]:
        trials = self._of(study_id)
        if unit == "trial":
            count = sum(t.state != "running" for t in trials)
        else:
            count = sum(len(t.curve) for t in trials)
        values = [t.value for t in trials if t.state == "complete" and t.value is not None]
        best = (min if minimize else max)(values) if values else None
        return count, best
