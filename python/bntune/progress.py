"""Progress bars for the command line: trials done with the best value so far, and the epochs of
the trial that is running. tqdm draws them on stderr; they stay silent when stderr is not a
terminal, with ``--quiet``, or when tqdm is not installed."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any


def _tqdm() -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class Progress:
    """A trial bar (``total`` trials, best value in the postfix) and an epoch bar under it."""

    def __init__(self, total: int, *, quiet: bool, minimize: bool = True, epochs: int = 0,
                 desc: str = "trials") -> None:  # fmt: skip
        tqdm = None if quiet or not sys.stderr.isatty() else _tqdm()
        self.minimize = minimize
        self.best = math.nan
        self._epochs = epochs
        self._trials = None if tqdm is None else tqdm(total=total, desc=desc, unit="trial")
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
        if self._trials is not None:
            if not math.isnan(self.best):
                self._trials.set_postfix_str(f"best {self.best:.4g}", refresh=False)
            self._trials.update(1)
        if self._epoch_bar is not None:
            self._epoch_bar.reset(total=self._epochs)

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
