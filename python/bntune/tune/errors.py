"""The tuner's exceptions: a held lease, a read-only study, an unusable database, a pruned
trial (and which exceptions of other libraries count as one)."""

from __future__ import annotations

from bntune._core import BntuneError


class StudyLocked(BntuneError, RuntimeError):  # noqa: N818 - the documented public name
    """Another live driver holds this study's lease (its pid, host and heartbeat are in the
    message). Wait for it to finish, or stop it; a lease whose owner died is taken over. When
    the holder is another ``Study`` object of this very process (a notebook cell run again),
    the message says so: reuse that object, or call its ``close()`` first. Also raised by a run
    method (``optimize``, ``coarse_to_fine``, ...) called while the same object runs one in
    another thread: trials in parallel are ``n_workers`` or ``executor``, not threads."""


class StudyReadOnly(BntuneError, RuntimeError):  # noqa: N818 - named like StudyLocked
    """The study was opened with ``read_only=True`` (no lease), and something tried to run
    trials in it. Reading needs no lease; writing does: open it without ``read_only``."""


class StorageError(BntuneError, RuntimeError):
    """The storage file cannot be used as a bntune study database: it is not SQLite, it is a
    SQLite database of another application, or it was written by a newer bntune. The file is
    never modified in that case."""


class Pruned(BntuneError):  # noqa: N818 - the name users write is `tune.Pruned`, as in the docs
    """Raised by ``trial.report`` when the study's pruner stops the trial early. Let it propagate
    out of the objective: the trial is recorded as pruned with its curve so far. An objective may
    raise it itself, too; so may an objective ported from Optuna raise ``optuna.TrialPruned``
    (see :func:`is_pruned`)."""


def is_pruned(error: BaseException) -> bool:
    """Whether an exception out of an objective prunes its trial rather than fails it:
    :class:`Pruned`, or an exception whose class (or a base of it) is named ``TrialPruned``, as
    ``optuna.TrialPruned`` is — told by its name, so that Optuna need not be imported."""
    return isinstance(error, Pruned) or any(
        kind.__name__ == "TrialPruned" for kind in type(error).__mro__
    )


class TrialUsageError(BntuneError, TypeError):
    """The objective called the trial's API wrongly (e.g. ``trial.report(value, step)``, Optuna's
    order, where bntune's is ``report(step, value)``). Such a trial is not recorded as one more
    failed trial: every trial would fail the same way, so the error stops the run."""


class AllTrialsFailed(BntuneError, RuntimeError):  # noqa: N818 - says what happened
    """Every trial of a run failed, all with the same exception (its first traceback is in the
    message). Fix the objective, then run again with ``retry_failed=True``."""


class RoundPending(BntuneError, RuntimeError):  # noqa: N818 - says what the state is
    """``study.ask`` of a coarse-to-fine run whose current round's trials are all out: the next
    round's box needs their results. Tell them, then ask again."""


class SearchFinished(BntuneError, RuntimeError):  # noqa: N818 - says what the state is
    """``study.ask`` of a coarse-to-fine run whose every round's trials were told."""
