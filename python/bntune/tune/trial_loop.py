"""The trial loop: the points of one design run as trials of a function objective.

One loop serves every way of running them: in the driver (``n_workers=1``: the pool's inline
executor), on a local process pool or on any ``concurrent.futures.Executor``; ``optimize`` and
each round of ``coarse_to_fine`` call it. The driver numbers trials in design order as it hands
them out (trial k gets point k of the design, whatever the number of workers), stores each as
``running`` first, and commits its result, with the values ``trial.report`` recorded, when it
comes back. In the driver, a trial's result and the next trial's start are one transaction.

A pruner decides where the trial runs, against the completed trials' curves: in the driver the
live ones; on a worker a snapshot taken when the trial was handed out (which trials have
completed by then depends on timing, so pruning decisions — not configurations — can differ
between runs on several workers).
"""

from __future__ import annotations

import copy
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bntune.tune import enqueue
from bntune.tune.boxes import into_box
from bntune.tune.checks import traceback_text
from bntune.tune.errors import TrialUsageError, is_pruned
from bntune.tune.executors import WorkPool, run_all
from bntune.tune.objectives import judge_values
from bntune.tune.pruners import CurveHistory, Pruner
from bntune.tune.samplers import Sampler
from bntune.tune.space import Space
from bntune.tune.storage import Box
from bntune.tune.suggest import Suggestions
from bntune.tune.trial import FrozenTrial, Trial, last_value
from bntune.tune.trial_log import TrialLog

Objective = Callable[[Trial], float]


class HandedOut(Exception):  # noqa: N818 - it is not an error: the control flow of ask
    """Raised by :func:`run_design` on a pool that hands trials out (``pool.hands_out``): the
    design's next point, stored as running, for the caller to run (see ``ask_tell.py``)."""

    def __init__(self, task: TrialTask, record: FrozenTrial) -> None:
        super().__init__(f"trial {record.number} handed out")
        self.task = task
        self.record = record


@dataclass(frozen=True)
class Design:
    """Which points to run: design ``stream`` of ``sampler`` over ``space`` seeded by ``seed``,
    for a budget of ``n_total`` points, as round ``round`` (mapped into ``box`` when given).
    Without a ``space`` the trials define their parameters as they run (``trial.suggest_*``)."""

    space: Space | None
    sampler: Sampler
    stream: str
    seed: int
    n_total: int
    round: int = 1
    box: Box | None = None
    #: run the points whose every trial failed again, too
    retry_failed: bool = False
    #: define by run: per index, unit coordinates chosen in advance for some parameters (in
    #: ``box`` coordinates when there is a box), read instead of their own sequences
    plan: Sequence[dict[str, float]] | None = None


@dataclass(slots=True)
class TrialTask:
    objective: Objective
    number: int
    params: dict[str, Any]
    round: int
    pruner: Pruner | None
    history: CurveHistory | None
    minimize: bool
    catch: tuple[type[BaseException], ...]
    limit_threads: bool
    order: int
    suggest: Suggestions | None = None
    #: a study with several objectives: their directions (None: one objective)
    directions: list[str] | None = None


@dataclass(slots=True)
class TrialOutcome:
    state: str
    value: float | None
    error: str | None
    curve: dict[int, float]
    #: the objective raised an exception not in ``catch``: the trial is run again later
    uncaught: bool = False
    #: (in the driver only) that exception, raised again once the trial is stored
    raised: BaseException | None = None
    #: a trial that defined its parameters as it ran: them, their unit coordinates, and the
    #: distributions it used (name -> Dimension.describe())
    params: dict[str, Any] | None = None
    unit: dict[str, float] | None = None
    dims: dict[str, list[Any]] | None = None
    #: what the objective recorded with ``trial.set_user_attr``
    user_attrs: dict[str, Any] | None = None
    #: several objectives: the values (``value`` is None)
    values: list[float] | None = None


def design_size(design: Design) -> int:
    """How many points ``design`` has: its budget, or fewer (a grid: a full product of levels)."""
    if design.space is None:
        return design.n_total
    return design.sampler.size(design.space.coordinate_dims, design.n_total)


def points_left(log: TrialLog, design: Design) -> int:
    """How many of the design's points :func:`run_design` runs (the enqueued aside): those the
    study has not run already (nor handed out)."""
    size = design_size(design)
    return len(log.pending(design.stream, size, retry_failed=design.retry_failed))


def judge(value: object) -> tuple[str, float | None, str | None]:
    """(state, value, error) of a trial whose objective returned ``value``: anything float()
    accepts through ``__float__`` (numpy scalars, 0-d arrays, tensors; a bool as 0 or 1, as
    Optuna takes it), not a str."""
    if isinstance(value, list | tuple):
        return (
            "failed",
            None,
            (
                f"objective returned {len(value)} values {value!r}; the study has one objective "
                f"(Study(directions=[...]) for several)"
            ),
        )
    if not hasattr(value, "__float__"):
        return "failed", None, f"objective returned {value!r}, not a real number"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        return "failed", None, f"objective returned {value!r}, not a real number ({e})"
    if not math.isfinite(number):
        return "diverged", None, f"objective returned {number!r}"
    return "complete", number, None


def _live_trial(task: TrialTask) -> Trial:
    prune = None
    if task.pruner is not None and task.history is not None:
        pruner, history, minimize = task.pruner, task.history, task.minimize

        def prune(step: int, value: float) -> bool:
            return pruner.should_prune(step, value, history, minimize)

    return Trial(task.number, task.params, task.round, prune, task.suggest)


def run_trial(task: TrialTask) -> TrialOutcome:
    """Runs one trial on a worker: every ``Exception`` comes back as a failed outcome."""
    if task.limit_threads:
        from bntune.tune.executors import limit_worker_threads

        limit_worker_threads()
    live = _live_trial(task)
    return _defined(task, live, _outcome_on_worker(task, live))


def _outcome_on_worker(task: TrialTask, live: Trial) -> TrialOutcome:
    try:
        value = task.objective(live)
    except Exception as e:  # recorded; re-raised by the driver if not in catch
        if is_pruned(e):
            return _pruned(live)
        uncaught = not isinstance(e, task.catch) or isinstance(e, TrialUsageError)
        return TrialOutcome("failed", None, traceback_text(e), live.curve, uncaught)
    return _judged(task, value, live)


def _pruned(live: Trial) -> TrialOutcome:
    """A trial the objective stopped by raising ``tune.Pruned`` (or Optuna's ``TrialPruned``):
    its value is the last one it reported."""
    return TrialOutcome("pruned", last_value(live.curve), None, live.curve)


def _judged(task: TrialTask, value: object, live: Trial) -> TrialOutcome:
    if task.directions is None:
        return TrialOutcome(*judge(value), live.curve)
    state, values, error = judge_values(value, task.directions)
    return TrialOutcome(state, None, error, live.curve, values=values)


def run_trial_here(task: TrialTask) -> TrialOutcome:
    """Runs one trial in the driver: an exception not in ``catch`` (KeyboardInterrupt too) is
    handed back to be raised once the trial is stored."""
    live = _live_trial(task)
    return _defined(task, live, _outcome_here(task, live))


def _defined(task: TrialTask, live: Trial, out: TrialOutcome) -> TrialOutcome:
    """``out`` with what a define-by-run trial chose (as it ran: on a worker, the driver learns
    it only from here)."""
    if task.suggest is not None and task.suggest.space is None:
        out.params, out.unit, out.dims = live.params, live.unit, task.suggest.dims
    if live.user_attrs:
        out.user_attrs = live.user_attrs
    return out


def _outcome_here(task: TrialTask, live: Trial) -> TrialOutcome:
    try:
        value = task.objective(live)
    except TrialUsageError as e:  # whatever catch says: every trial would fail so
        return TrialOutcome("failed", None, traceback_text(e), live.curve, True, e)
    except BaseException as e:
        if is_pruned(e):
            return _pruned(live)
        if isinstance(e, task.catch):
            return TrialOutcome("failed", None, traceback_text(e), live.curve)
        return TrialOutcome("failed", None, traceback_text(e), live.curve, True, e)
    return _judged(task, value, live)


def run_design(
    log: TrialLog,
    objective: Objective,
    design: Design,
    pool: WorkPool,
    *,
    catch: tuple[type[BaseException], ...],
    pruner: Pruner | None,
    trial_timeout: float | None = None,
    stopped: Callable[[], bool] | None = None,
    after_trial: Callable[[FrozenTrial], None] | None = None,
    enqueued: Sequence[tuple[int, dict[str, Any]]] = (),
) -> None:
    """Runs the points of ``design`` that ``log`` has not done yet, in index order. No new
    trial starts once ``stopped()`` is true (the trials in flight finish and are stored);
    ``after_trial`` sees each finished trial once it is stored. The ``enqueued``
    configurations (index, params) run first (see :mod:`bntune.tune.enqueue`)."""
    space = design.space
    if space is not None and not isinstance(space, Space):
        raise TypeError(f"space must be a tune.Space or None, got {space!r}")
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {objective!r}")
    pool.check_sendable(objective, "objective")
    sampler = design.sampler
    dims = [] if space is None else space.coordinate_dims
    size = design_size(design)
    pending = log.pending(design.stream, size, retry_failed=design.retry_failed)
    if not pending and not enqueued:
        return
    first = pending[0] if pending else 0
    rows: list[list[float]] = []
    if space is not None and pending:
        points = sampler.points(dims, design.seed, first, pending[-1] - first + 1, design.n_total)
        if design.box is not None:
            points = into_box(space, design.box, points)
        rows = points.tolist()  # Python floats: cheaper to map and to encode than numpy's
    declared = None if space is None else Suggestions(sampler.name, design.seed, 0, space)
    queue: deque[int] = deque(pending)
    known_first: deque[tuple[int, dict[str, Any]]] = deque(enqueued)
    records: dict[int, FrozenTrial] = {}
    ready: list[TrialTask] = []  # started with the last result (in the driver)
    uncaught: list[str] = []
    inline = pool.inline
    directions = log.directions if len(log.directions) > 1 else None
    # in the driver the next trial is stored with the last result (a stop is checked before
    # it is made), unless callbacks must see the result first (one of them may stop the run)
    prefetch = inline and after_trial is None

    def more() -> bool:
        left = bool(queue) or bool(known_first)
        return left and not uncaught and (stopped is None or not stopped())

    def make() -> TrialTask:
        if known_first:
            return make_enqueued(*known_first.popleft())
        seq = queue.popleft()
        if space is None:
            # define by run: the trial asks; a worker gets a snapshot of what the study knows
            params: dict[str, Any] = {}
            unit: dict[str, float] = {}
            known = log.suggested if inline else dict(log.suggested)
            planned = None if design.plan is None else design.plan[seq]
            suggest = Suggestions(sampler.name, design.seed, seq, None, known, box=design.box,
                                  planned=planned)  # fmt: skip
        else:
            u = rows[seq - first]
            params, suggest = space.from_unit(u), declared
            unit = dict(zip(space.names, u, strict=True))
        record = log.new_trial(params, unit, design.stream, seq, design.round)
        return task_for(record, params, suggest, seq)

    def make_enqueued(seq: int, given: dict[str, Any]) -> TrialTask:
        if space is None:
            params: dict[str, Any] = {}
            known = log.suggested if inline else dict(log.suggested)
            index = enqueue.SPARE_INDEX + seq
            suggest = Suggestions(sampler.name, design.seed, index, None, known, given)
            unit: dict[str, float] = {}
        else:
            unit = enqueue.declared_unit(space, given)
            fixed = {n: space[n].from_unit(0.0) for n in space if n not in unit}
            params, suggest = {**fixed, **given}, declared
        return task_for(log.new_trial(params, unit, enqueue.ENQUEUED, seq), params, suggest, seq)

    def task_for(
        record: FrozenTrial, params: dict[str, Any], suggest: Suggestions | None, seq: int
    ) -> TrialTask:
        record._defines = space is None
        records[record.number] = record
        history = None
        if pruner is not None:
            # in the driver the live curves; a worker gets a snapshot (the driver adds to them)
            history = log.history if inline else copy.deepcopy(log.history)
        return TrialTask(objective, record.number, params, design.round, pruner, history,
                         log.minimize, catch, pool.limit_threads, seq, suggest,
                         directions)  # fmt: skip

    def next_tasks(free: int) -> list[TrialTask]:
        tasks = ready[:free]
        del ready[:free]
        while len(tasks) < free and more():
            tasks.append(make())
        started = [records[t.number] for t in tasks if records[t.number]._id < 0]
        if started:
            log.save(started=started)
        return tasks

    def on_done(task: TrialTask, out: TrialOutcome) -> None:
        record = records.pop(task.number)
        record.state, record.value, record.error = out.state, out.value, out.error
        record.curve = out.curve
        record.finished = time.time()
        record.rerun = out.uncaught
        if out.params is not None:
            record.params, record.unit = out.params, dict(out.unit or {})
        if out.user_attrs:
            record.user_attrs = dict(out.user_attrs)
        record.values = out.values
        started = []
        if prefetch and not out.uncaught and more():
            ready.append(make())
            started.append(records[ready[-1].number])
        log.save(finished=[record], started=started)
        if out.dims:
            log.learn(out.dims)
        if after_trial is not None and out.raised is None:
            after_trial(record)
        if out.raised is not None:
            raise out.raised
        if out.uncaught and out.error is not None:
            uncaught.append(out.error)

    def on_timeout(task: TrialTask) -> None:
        error = f"timed out: the trial ran longer than trial_timeout={trial_timeout} s"
        on_done(task, TrialOutcome("failed", None, error, {}))

    if pool.hands_out:
        # ask and tell: the first point not done (nor asked) is stored as running and handed
        # to the caller, who tells its result; with none left the design returns
        tasks = next_tasks(1)
        if tasks:
            raise HandedOut(tasks[0], records[tasks[0].number])
        return
    work = run_trial_here if inline else run_trial
    run_all(pool, work, next_tasks, on_done, timeout=trial_timeout, on_timeout=on_timeout)
    if uncaught:
        raise RuntimeError(
            f"the objective raised an exception not listed in catch (the trial is recorded "
            f"failed and will be run again):\n{uncaught[0]}"
        )
