"""``study.optimize`` on several workers: a trial runs whole on a worker, the driver writes.

The driver numbers trials in design order as it hands them out (trial k gets point k of the
design, whatever the number of workers), inserts each as ``running``, and commits its result,
with the values ``trial.report`` recorded on the worker, when it comes back. A pruner decides
on the worker, against a snapshot of the completed trials' curves taken when the trial was
handed out: with more than one worker, which trials have completed by then depends on timing,
so pruning decisions (not configurations) can differ between runs.
"""

from __future__ import annotations

import copy
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bntune.tune.errors import Pruned
from bntune.tune.executors import WorkPool, run_all
from bntune.tune.pruners import CurveHistory, MedianStopping
from bntune.tune.samplers import design_points, design_size
from bntune.tune.trial import FrozenTrial, Trial, last_value

if TYPE_CHECKING:
    from bntune.tune.space import Space
    from bntune.tune.study import Box, Study


@dataclass
class TrialTask:
    objective: Callable[[Trial], float]
    number: int
    params: dict[str, Any]
    round: int
    pruner: MedianStopping | None
    history: CurveHistory | None
    minimize: bool
    catch: tuple[type[BaseException], ...]
    limit_threads: bool
    order: int


@dataclass
class TrialOutcome:
    state: str
    value: float | None
    error: str | None
    curve: dict[int, float]
    uncaught: bool = False


def run_trial(task: TrialTask) -> TrialOutcome:
    """Runs one trial of a function objective (on a worker)."""
    if task.limit_threads:
        from bntune.tune.executors import limit_worker_threads

        limit_worker_threads()
    prune = None
    if task.pruner is not None and task.history is not None:
        pruner, history, minimize = task.pruner, task.history, task.minimize

        def prune(step: int, value: float) -> bool:
            return pruner.should_prune(step, value, history, minimize)

    live = Trial(task.number, task.params, task.round, prune)
    try:
        value = task.objective(live)
    except Pruned:
        return TrialOutcome("pruned", last_value(live.curve), None, live.curve)
    except Exception as e:  # recorded; re-raised by the driver if not in catch
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip()
        return TrialOutcome("failed", None, text, live.curve, not isinstance(e, task.catch))
    from bntune.tune.study import _judge

    state, val, error = _judge(value)
    return TrialOutcome(state, val, error, live.curve)


def optimize(
    study: Study,
    objective: Callable[[Trial], float],
    space: Space,
    sampler: str,
    stream: str,
    n_total: int,
    catch: tuple[type[BaseException], ...],
    pool: WorkPool,
    trial_timeout: float | None = None,
    *,
    seed: int | None = None,
    round_: int = 1,
    box: Box | None = None,
) -> None:
    """The parallel body of ``study.optimize`` (arguments checked there), and of one round of
    ``study.coarse_to_fine``: then ``seed`` is the round's stream seed (default: the study's),
    ``round_`` its number and ``box`` the unit-space box its points are mapped into."""
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {objective!r}")
    done = {t.seq for t in study._trials if t.stream == stream and not t.rerun}
    pending = [i for i in range(design_size(space, sampler, n_total)) if i not in done]
    if not pending:
        return
    first = pending[0]
    stream_seed = study.seed if seed is None else seed
    points = design_points(space, sampler, stream_seed, first, pending[-1] - first + 1, n_total)
    if box is not None:
        from bntune.tune.coarse_to_fine import into_box

        points = into_box(space, box, points)
    rows = points.tolist()
    queue = list(pending)
    records: dict[int, FrozenTrial] = {}
    uncaught: list[str] = []

    def next_tasks(free: int) -> list[TrialTask]:
        tasks = []
        while queue and len(tasks) < free and not uncaught:
            seq = queue.pop(0)
            u = rows[seq - first]
            params = space.from_unit(u)
            unit = dict(zip(space.names, u, strict=True))
            record = study._start_trial(params, unit, stream, seq, round_)
            records[record.number] = record
            # a snapshot: the driver goes on adding to the live one
            history = copy.deepcopy(study._history) if study.pruner is not None else None
            tasks.append(
                TrialTask(
                    objective,
                    record.number,
                    params,
                    round_,
                    study.pruner,
                    history,
                    study.direction == "minimize",
                    catch,
                    pool.limit_threads,
                    seq,
                )
            )
        return tasks

    def on_done(task: TrialTask, out: TrialOutcome) -> None:
        record = records.pop(task.number)
        record.state, record.value, record.error = out.state, out.value, out.error
        record.curve = out.curve
        record.finished = time.time()
        record.rerun = out.uncaught
        study._commit(record, None)
        study._remember(record)
        if out.uncaught and out.error is not None:
            uncaught.append(out.error)

    def on_timeout(task: TrialTask) -> None:
        error = f"timed out: the trial ran longer than trial_timeout={trial_timeout} s"
        on_done(task, TrialOutcome("failed", None, error, {}))

    run_all(pool, run_trial, next_tasks, on_done, timeout=trial_timeout, on_timeout=on_timeout)
    if uncaught:
        raise RuntimeError(
            f"the objective raised an exception not listed in catch (the trial is recorded "
            f"failed and will be run again):\n{uncaught[0]}"
        )
