"""The driver's bookkeeping of one study: its trials in memory, the best one, the progress of
each design, and every write of a trial to the storage.

Everything that runs trials — the trial loop, coarse-to-fine, caviar, PBT, panda — works on a
:class:`TrialLog`, never on a ``Study``: the log is what they share, the study is the user's
handle on it.
"""

from __future__ import annotations

import bisect
import json
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bntune.tune import checkpoints
from bntune.tune.errors import TrialUsageError
from bntune.tune.pruners import CurveHistory
from bntune.tune.storage import Finish, Progress, Storage
from bntune.tune.trial import FrozenTrial

#: a trial's hyperparameters by name
Params = dict[str, Any]

#: The error of a trial whose driver died while it ran.
INTERRUPTED = "interrupted: the driver process died while the trial was running"


class TrialLog:
    """The trials of study ``study_id`` in ``storage`` as this driver knows them.

    ``trials`` are the finished ones (and, in a read-only view, the running ones) in order of
    number; ``live`` the trainable modes' trials still ``running`` in this driver;
    ``best`` the best complete trial; ``history`` the completed trials' curves (for pruners).
    """

    def __init__(
        self, storage: Storage, study_id: int, name: str, direction: str, seed: int
    ) -> None:
        self.storage = storage
        self.study_id = study_id
        self.name = name
        self.direction = direction
        #: one per objective ("minimize" or "maximize")
        self.directions = direction.split(",")
        self.minimize = direction == "minimize"
        self.seed = seed
        self.trials: list[FrozenTrial] = []
        self.live: dict[int, FrozenTrial] = {}
        self.best: FrozenTrial | None = None
        self.history = CurveHistory()
        self.next_number = 0
        #: define by run: each parameter's distribution (name -> Dimension.describe())
        self.suggested: dict[str, list[Any]] = {}
        # per design (stream): the indices done, and the largest, so that a run finds its
        # pending indices without scanning every trial
        self._done: dict[str, tuple[set[int], list[int]]] = {}
        #: per design (stream): the indices handed out by study.ask and not told yet
        self.asked: dict[str, set[int]] = {}

    def load(self, *, driver_gone: bool = False) -> None:
        """Reads every stored trial; with ``driver_gone`` (a read-only view with no live
        driver), a ``running`` trial is shown as the next driver will record it: failed,
        interrupted."""
        for trial in self.storage.load_trials(self.study_id):
            if trial.state == "running" and driver_gone:
                trial.state, trial.error, trial.rerun = "failed", INTERRUPTED, True
            self.remember(trial)
        self.next_number = self.trials[-1].number + 1 if self.trials else 0
        stored = self.storage.meta(self._suggested_key)
        self.suggested = {} if stored is None else json.loads(stored)

    @property
    def _suggested_key(self) -> str:
        return f"define-by-run/{self.study_id}"

    def learn(self, dims: Mapping[str, list[Any]]) -> None:
        """Records the distributions a define-by-run trial used (stored when one is new);
        TrialUsageError when one differs from what the study used before."""
        new = {}
        for name, described in dims.items():
            before = self.suggested.get(name)
            if before is None:
                new[name] = described
            elif before != described:
                raise TrialUsageError(
                    f"suggest: {name!r} was suggested as {before} in an earlier trial and as "
                    f"{described} in another: a parameter keeps one distribution for the study"
                )
        if new:
            self.suggested.update(new)
            self.storage.set_meta({self._suggested_key: json.dumps(self.suggested)})

    # ---- in memory -----------------------------------------------------------------------

    def better(self, a: float | None, b: float | None) -> bool:
        """Whether value ``a`` beats ``b`` in the study's direction (anything beats None)."""
        if a is None or b is None:
            return b is None
        return a < b if self.minimize else a > b

    def remember(self, trial: FrozenTrial) -> None:
        """Adds a finished trial to the log."""
        trial._study = weakref.ref(self)  # a weak link: a dropped study still closes
        if self.trials and trial.number < self.trials[-1].number:
            # finished out of order (on workers): keep the list in order of number
            bisect.insort(self.trials, trial, key=_number)
        else:
            self.trials.append(trial)
        if not trial.rerun:
            seqs, largest = self._done.setdefault(trial.stream, (set(), [-1]))
            seqs.add(trial.seq)
            largest[0] = max(largest[0], trial.seq)
        if trial.state == "complete":
            self.history.add(trial.curve)
            single = len(self.directions) == 1  # several objectives: no single best
            if single and (self.best is None or self.better(trial.value, self.best.value)):
                self.best = trial

    def _forget(self, gone: Sequence[FrozenTrial]) -> None:
        """Takes trials out of ``trials`` (they run again), and out of ``best``."""
        ids = {id(t) for t in gone}
        self.trials = [t for t in self.trials if id(t) not in ids]
        if self.best is not None and id(self.best) in ids:
            self.best = None
            for t in self.trials:
                if t.state == "complete" and (
                    self.best is None or self.better(t.value, self.best.value)
                ):
                    self.best = t

    def done_count(self, stream: str) -> int:
        """How many indices of design ``stream`` are done (whatever the budget they ran for)."""
        return len(self._done.get(stream, (set(), [-1]))[0])

    def pending(self, stream: str, size: int, *, retry_failed: bool = False) -> list[int]:
        """The indices below ``size`` of design ``stream`` not yet done nor asked for (and not
        told), ascending; with ``retry_failed`` also those whose every trial failed."""
        done, largest = self._done.get(stream, (set(), [-1]))
        if largest[0] == len(done) - 1:  # indices 0 .. largest all done: the usual case
            pending = list(range(len(done), size))
        else:
            pending = [i for i in range(size) if i not in done]
        if retry_failed:
            ran = [t for t in self.trials if t.stream == stream and t.seq < size]
            failed = {t.seq for t in ran if t.state == "failed"}
            failed -= {t.seq for t in ran if t.state != "failed"}
            pending = sorted({*pending, *failed})
        asked = self.asked.get(stream)
        return [i for i in pending if i not in asked] if asked else pending

    def since(self, number: int) -> list[FrozenTrial]:
        """The finished trials numbered ``number`` or more (a run's, when ``number`` was the
        next number as it started)."""
        return [t for t in self.trials if t.number >= number]

    def of_stream(self, prefix: str) -> list[FrozenTrial]:
        """The finished trials whose design's name starts with ``prefix``."""
        return [t for t in self.trials if t.stream.startswith(prefix)]

    # ---- trials of a design --------------------------------------------------------------

    def new_trial(
        self, params: Params, unit: Mapping[str, float], stream: str, seq: int, round_: int = 1
    ) -> FrozenTrial:
        """The record of a trial with the study's next number (not stored yet: see
        :meth:`save`)."""
        record = FrozenTrial.running(self.next_number, params, unit, stream, seq, round_)
        self.next_number += 1
        return record

    def save(
        self, finished: Sequence[FrozenTrial] = (), started: Sequence[FrozenTrial] = ()
    ) -> None:
        """One transaction: the ``finished`` trials' results (they join the log) and the
        ``started`` ones as ``running``."""
        self.storage.save(self.study_id, finished, started)
        for record in finished:
            self.remember(record)

    # ---- trials of the trainable modes ---------------------------------------------------

    def start_live(
        self, params: dict[str, Any], unit: Mapping[str, float], stream: str, seq: int
    ) -> FrozenTrial:
        """A trainable mode's trial, stored ``running`` now and kept in ``live``."""
        record = self.new_trial(params, unit, stream, seq)
        self.storage.save(self.study_id, started=[record])
        record._study = weakref.ref(self)
        self.live[record._id] = record
        return record

    def save_progress(
        self,
        record: FrozenTrial,
        *,
        points: Iterable[tuple[int, float]] = (),
        checkpoint: tuple[int, bytes] | None = None,
        keep_checkpoints: bool = False,
        events: Iterable[dict[str, Any]] = (),
        finish: Finish | None = None,
    ) -> None:
        """One transaction for a unit of training: curve ``points``, a ``checkpoint`` (step,
        bytes) — dropping the older ones unless ``keep_checkpoints`` —, ``events``, and the
        trial's end (state, value, error) when ``finish`` is given. The record follows."""
        points = list(points)
        events = list(events)
        now = time.time()
        self.storage.save_progress(
            record, Progress(points, checkpoint, keep_checkpoints, events, finish, now)
        )
        for s, v in points:
            record.curve[s] = v
        record.events.extend(events)
        if finish is not None:
            record.state, record.value, record.error = finish
            record.finished = now
            record.rerun = False
            self.live.pop(record._id, None)
            self.remember(record)

    def unfinished(self, stream: str) -> list[FrozenTrial]:
        """The trials of ``stream`` still ``running``: those this driver left unfinished (a mode
        interrupted by an exception) and those a dead driver left (revived)."""
        self.revive(stream)
        return [t for t in self.live.values() if t.stream == stream and t.state == "running"]

    def revive(self, stream: str) -> list[FrozenTrial]:
        """The trials of ``stream`` that were still training when their driver died, set back
        to ``running`` (and taken out of ``trials`` until they finish)."""
        dead = [
            t
            for t in self.trials
            if t.stream == stream and t.state == "failed" and t.rerun and _interrupted(t.error)
        ]
        if not dead:
            return []
        self.storage.set_running([t._id for t in dead], clear_value=False)
        self._forget(dead)
        for t in dead:
            t.state, t.error, t.finished, t.rerun = "running", None, None, False
            self.live[t._id] = t
        return dead

    def checkpoint(self, trial: FrozenTrial, step: int | None = None) -> checkpoints.Checkpoint:
        """The trial's stored checkpoint at ``step`` (None: its step with the best value)."""
        return checkpoints.checkpoint_of(self.storage, trial, step, minimize=self.minimize)

    def best_checkpoint(self) -> checkpoints.Checkpoint:
        """The best complete trial's checkpoint (at its best stored step)."""
        return checkpoints.best_checkpoint(
            self.storage, self.trials, minimize=self.minimize, study_name=self.name
        )

    def reopen(self, trial: FrozenTrial) -> None:
        """A finished trial goes back to ``running``, to be continued (a babysat trial)."""
        if trial.state == "running":
            return
        self.storage.set_running([trial._id], clear_value=True)
        self._forget([trial])
        trial.state, trial.value, trial.error, trial.finished = "running", None, None, None
        self.live[trial._id] = trial


def _number(trial: FrozenTrial) -> int:
    return trial.number


def _interrupted(error: str | None) -> bool:
    return error is not None and error.startswith("interrupted")
