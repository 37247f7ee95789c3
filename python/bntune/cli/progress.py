"""Progress bars for the command line: trials done with the best value so far, and the epochs of
the trial that is running. tqdm draws them on stderr; they stay silent when stderr is not a
terminal, with ``--quiet``, or when tqdm is not installed."""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from bntune.tune.errors import StorageError
from bntune.tune.storage import SQLiteStorage


def _tqdm() -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class Progress:
    """A trial bar (``total`` trials, best value in the postfix) and an epoch bar under it.
    ``done`` and ``best`` start where a resumed run stands (``initial``, ``best``)."""

    def __init__(self, total: int, *, quiet: bool, minimize: bool = True, epochs: int = 0,
                 desc: str = "trials", unit: str = "trial", initial: int = 0,
                 best: float | None = None) -> None:  # fmt: skip
        tqdm = None if quiet or not sys.stderr.isatty() else _tqdm()
        self.minimize = minimize
        self.best = math.nan if best is None else best
        self.total = total
        self.done = min(initial, total)
        self._epochs = epochs
        self._trials = None
        if tqdm is not None:
            self._trials = tqdm(total=total, desc=desc, unit=unit, initial=self.done)
            if not math.isnan(self.best):
                self._trials.set_postfix_str(f"best {self.best:.4g}")
        self._epoch_bar = None
        if tqdm is not None and epochs > 0:
            self._epoch_bar = tqdm(total=epochs, desc="epochs", unit="ep", leave=False)

    @property
    def active(self) -> bool:
        """Whether bars are drawn."""
        return self._trials is not None

    def epoch(self, epoch: int, value: float) -> None:
        """The running trial finished ``epoch`` with ``value``."""
        if self._epoch_bar is not None:
            self._epoch_bar.n = epoch
            self._epoch_bar.set_postfix_str(f"dev loss {value:.4g}", refresh=False)
            self._epoch_bar.refresh()

    def trial_done(self, value: float | None) -> None:
        """One more trial finished with ``value`` (None or NaN: failed, pruned or diverged)."""
        if value is not None and math.isfinite(value):
            better = value < self.best if self.minimize else value > self.best
            if math.isnan(self.best) or better:
                self.best = value
        self.done = min(self.done + 1, self.total)
        if self._trials is not None:
            if not math.isnan(self.best):
                self._trials.set_postfix_str(f"best {self.best:.4g}", refresh=False)
            self._trials.update(1)
        if self._epoch_bar is not None:
            self._epoch_bar.set_postfix_str("", refresh=False)
            self._epoch_bar.reset(total=self._epochs)

    def set_done(self, done: int, best: float | None) -> None:
        """``done`` units of work finished, ``best`` the best value so far (None: none yet)."""
        if best is not None and math.isfinite(best):
            self.best = best
        self.done = min(done, self.total)
        if self._trials is not None:
            if not math.isnan(self.best):
                self._trials.set_postfix_str(f"best {self.best:.4g}", refresh=False)
            self._trials.n = min(done, self._trials.total or done)
            self._trials.refresh()

    def close(self) -> None:
        """Removes the epoch bar and leaves the trial bar's last line."""
        for bar in (self._epoch_bar, self._trials):
            if bar is not None:
                bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WithProgress:
    """Wraps an objective run in this process so that ``progress`` follows it: the epoch bar through
    the objective's ``on_epoch`` hook (if it has one), the trial bar when each trial returns."""

    def __init__(self, objective: Callable[[Any], float], progress: Progress) -> None:
        self.objective = objective
        self.progress = progress
        if hasattr(objective, "on_epoch"):
            objective.on_epoch = progress.epoch

    def __call__(self, trial: Any) -> float:
        value: float | None = None
        try:
            value = self.objective(trial)
        finally:
            self.progress.trial_done(value if isinstance(value, int | float) else None)
        return value


class StudyWatcher:
    """Follows a study's database from a thread and moves ``progress`` along: for work that runs
    on worker processes (or inside the tuner) where no hook reaches the driver's bars.

    ``unit="trial"`` counts the study's finished trials; ``unit="epoch"`` its recorded
    learning-curve points (caviar, PBT and panda commit them per epoch): a resumed run's bar
    starts where the study stands.
    The best value is that of the study's complete trials. Reads go through a read-only
    connection: the driver stays the only writer.
    """

    def __init__(self, storage: str | os.PathLike[str], study: str, progress: Progress, *,
                 unit: str = "trial", interval: float = 0.3) -> None:  # fmt: skip
        self.progress = progress
        self.interval = interval
        self.unit = unit
        self._stop = threading.Event()
        self._storage = SQLiteStorage(storage, read_only=True)
        found = self._storage.find_study(study)
        if found is None:
            self._storage.close()
            raise ValueError(f"StudyWatcher: no study named {study!r} in {storage!r}")
        self._study_id = found[0]
        self._thread = threading.Thread(target=self._run, name="bntune-progress", daemon=True)

    def _read(self) -> tuple[int, float | None]:
        return self._storage.progress(
            self._study_id, unit=self.unit, minimize=self.progress.minimize
        )

    def poll(self) -> None:
        """Reads the database once and updates the bar."""
        try:
            count, best = self._read()
        except StorageError:  # busy for a moment: the next poll catches up
            return
        self.progress.set_done(count, best)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def __enter__(self) -> StudyWatcher:
        if self.progress.active:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.poll()
        self._storage.close()
