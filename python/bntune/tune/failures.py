"""Failed trials are never silent: what a run's failures were, said once, the same way by the
API (a warning, or :class:`~bntune.tune.errors.AllTrialsFailed` when every trial failed with
the same exception) and by the command line (a count and the first error). Diverged trials (a
NaN or infinite value) are failures of the objective's numbers, not of its code: the API warns
of them too (:class:`DivergedTrialsWarning`), with the first one's parameters.

A trial cut short by Ctrl-C (``KeyboardInterrupt``) or by its driver dying is stored as failed
with ``rerun`` set (its configuration runs again when the study resumes), but it is not the
objective's failure: :func:`interrupted` tells it apart, and it is counted as interrupted, not
failed, and never blamed on the objective.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bntune.tune.errors import AllTrialsFailed
from bntune.tune.trial import FrozenTrial
from bntune.tune.trial_log import INTERRUPTED

RETRY_HINT = "fix the objective, then run again with retry_failed=True (--retry-failed)"


def interrupted(trial: FrozenTrial) -> bool:
    """Whether ``trial`` failed because it was interrupted (Ctrl-C in the driver, or the driver
    died), not because of its objective. A ``KeyboardInterrupt`` listed in ``catch`` is a
    failure like any other (``rerun`` is not set: the point is not run again)."""
    if trial.state != "failed" or not trial.rerun:
        return False
    return trial.error == INTERRUPTED or bool(_KEYBOARD_INTERRUPT.match(_last_line(trial.error)))


_KEYBOARD_INTERRUPT = re.compile(r"KeyboardInterrupt(:|$)")


class FailedTrialsWarning(UserWarning):
    """Some trials of a run failed (the others went on); the message has the first error."""


class DivergedTrialsWarning(FailedTrialsWarning):
    """Some trials of a run diverged: the objective returned NaN or an infinity, so they have no
    value (the best trial is chosen among the complete ones). The message has how many and the
    first one's parameters. A :class:`FailedTrialsWarning`, so that one filter covers both."""


@dataclass(frozen=True)
class Failures:
    """The trials a run finished, its failed ones (in order of number; not the interrupted
    ones) and how many were interrupted."""

    finished: int
    failed: Sequence[FrozenTrial]
    complete: int
    interrupted: int = 0
    diverged: Sequence[FrozenTrial] = ()

    @classmethod
    def of(cls, trials: Sequence[FrozenTrial]) -> Failures:
        done = [t for t in trials if t.state != "running"]
        cut = [t for t in done if interrupted(t)]
        failed = [t for t in done if t.state == "failed" and not interrupted(t)]
        diverged = [t for t in done if t.state == "diverged"]
        complete = sum(t.state == "complete" for t in done)
        return cls(len(done), failed, complete, interrupted=len(cut), diverged=diverged)

    @property
    def first_error(self) -> str:
        """The first failed trial's error, its last line (the exception and its message)."""
        return _last_line(self.failed[0].error) if self.failed else ""

    @property
    def all_alike(self) -> bool:
        """Every finished trial failed (but the interrupted ones), all with the same exception
        and message, up to the values in the message (``ValueError: bad lr 0.3`` and ``...0.02``
        are alike, and so are ``objective returned '0.5', not a real number`` and ``'0.7'``)."""
        kinds = {_without_values(_last_line(t.error)) for t in self.failed}
        everyone = len(self.failed) == self.finished - self.interrupted
        return bool(self.failed) and everyone and len(kinds) == 1

    def summary(self) -> str:
        """One line: how many failed, and the first error."""
        cut = f", {self.interrupted} interrupted" if self.interrupted else ""
        return (
            f"{len(self.failed)} of {self.finished} trials failed "
            f"({self.complete} complete{cut}); the first (trial {self.failed[0].number}): "
            f"{self.first_error}"
        )

    def diverged_summary(self) -> str:
        """One line: how many diverged, and the first one's parameters and value."""
        first = self.diverged[0]
        none = "; no trial has a value" if self.complete == 0 else ""
        return (
            f"{len(self.diverged)} of {self.finished} trials diverged: the objective returned "
            f"a non-finite value ({self.complete} complete{none}); the first (trial "
            f"{first.number}, params {first.params!r}): {_last_line(first.error)}"
        )


def warn_caller(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` naming the first frame outside bntune: the user's line that started
    the run, however deep in the tuner (and behind which decorators) the warning is raised.
    A warning attributed to a line of bntune's would show that line, and the default filter
    would show it once for every run of the script instead of once per call of the user's."""
    frame, level = sys._getframe(0), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


_PACKAGE = str(Path(__file__).resolve().parents[1])  # .../bntune


def check(trials: Sequence[FrozenTrial]) -> None:
    """Raises :class:`AllTrialsFailed` when every trial of ``trials`` (a run's) failed with the
    same exception, warns (:class:`FailedTrialsWarning`) when some failed, and
    (:class:`DivergedTrialsWarning`) when some diverged."""
    found = Failures.of(trials)
    if found.all_alike:
        raise AllTrialsFailed(
            f"all {len(found.failed)} trials failed with the same error; {RETRY_HINT}. The first "
            f"one's (trial {found.failed[0].number}):\n{found.failed[0].error}"
        )
    if found.failed:
        warn_caller(f"{found.summary()}; {RETRY_HINT}", FailedTrialsWarning)
    if found.diverged:
        warn_caller(found.diverged_summary(), DivergedTrialsWarning)


# the values in a message: quoted strings, numbers (integer, decimal, exponent), nan and inf
_VALUES = re.compile(
    r"""'(?:[^'\\]|\\.)*'
      | "(?:[^"\\]|\\.)*"
      | [-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?
      | \b(?:nan|inf)\b""",
    re.VERBOSE,
)


def _without_values(line: str) -> str:
    """``line`` with each number and quoted string replaced by ``…``."""
    return _VALUES.sub("…", line)


def _last_line(error: str | None) -> str:
    lines = [line for line in (error or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no error text)"
