"""A study: trials of one objective, stored in SQLite, resumable after a crash.

``Study`` is the user's handle: it checks arguments, opens the storage and takes the lease,
and hands the work to the layers below (see ``docs/architecture.md``): the trial loop
(:mod:`~bntune.tune.trial_loop`) and the modes run on the study's
:class:`~bntune.tune.trial_log.TrialLog`, which writes through its
:class:`~bntune.tune.storage.Storage`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from bntune.tune import caviar as caviar_mode
from bntune.tune import (
    coarse_to_fine,
    enqueue,
    failures,
    objectives,
    panda,
    pbt,
    records,
    run_control,
    suggest,
)
from bntune.tune.ask_tell import AskTell, CoarseToFine
from bntune.tune.checks import exception_classes, positive_int, study_seed
from bntune.tune.errors import StudyLocked, StudyReadOnly
from bntune.tune.executors import WorkPool
from bntune.tune.importance import study_importance
from bntune.tune.lease import DEFAULT_LEASE_TIMEOUT, Lease, driver_alive
from bntune.tune.population import Population
from bntune.tune.pruners import Pruner, check_pruner
from bntune.tune.samplers import Sampler, as_sampler
from bntune.tune.schedulers import as_scheduler
from bntune.tune.space import DefinedBy, Space, suggest_into
from bntune.tune.storage import Box, Storage, open_storage
from bntune.tune.trial import FrozenTrial, Trial
from bntune.tune.trial_log import INTERRUPTED, TrialLog
from bntune.tune.trial_loop import Design, design_size, points_left, run_design

Objective = Callable[[Trial], float]
Catch = Sequence[type[BaseException]] | type[BaseException]


def _one_run_at_a_time(method: Callable[..., Any]) -> Callable[..., Any]:
    """A run method that refuses to start while another run of the same ``Study`` object is
    going on in another thread (two threads would take the same points of the design: Optuna's
    ``n_jobs`` runs threads, bntune's parallel trials are ``n_workers`` or ``executor``)."""

    @functools.wraps(method)
    def run(study: Study, *args: Any, **kwargs: Any) -> Any:
        if not study._run_lock.acquire(blocking=False):
            raise StudyLocked(
                f"study {study.name!r} is already running {study._running} in another thread of "
                f"this process: one run at a time per Study object; for trials in parallel pass "
                f"n_workers= (processes) or executor="
            )
        try:
            study._running = method.__name__
            return method(study, *args, **kwargs)
        finally:
            study._run_lock.release()

    return run


@contextlib.contextmanager
def _resumable(study: Study, method: str) -> Iterator[None]:
    """A Ctrl-C (``KeyboardInterrupt``) out of a run gets a note saying the study is saved and
    that running it again resumes it (Python 3.11+ prints it under the traceback)."""
    try:
        yield
    except KeyboardInterrupt as e:
        if hasattr(e, "add_note"):  # Python 3.11+
            path = study.storage.path
            where = "in memory" if path is None else f"in {os.fspath(path)}"
            e.add_note(
                f"bntune: every finished trial of study {study.name!r} is saved {where}; "
                f"running the same study.{method}(...) again resumes it (the interrupted trial "
                f"runs again)"
            )
        raise


def _release(lease: Lease | None, storage: Storage) -> None:
    if lease is not None:
        lease.release()
    storage.close()


class Study:
    """Trials of one objective, kept in a SQLite file (or in memory).

    Args:
        name: the study's name; several studies can share a file.
        storage: path of the SQLite file (created if new), or None for an in-memory study
            (its trials live in Python only and end with the process).
            See :mod:`bntune.tune.storage` for what survives what.
        direction: "minimize" or "maximize"; None (default) means "minimize" for a new study
            and the stored direction when resuming.
        seed: seeds the samplers: trial k gets the same configuration for the same (seed, space).
            None draws one for a new study and reuses the stored one when resuming.
        pruner: e.g. ``tune.MedianStopping()``; used by ``trial.report``.
        durability: "normal" (WAL, synchronous=NORMAL: survives a killed process, not a power
            cut) or "full" (synchronous=FULL: an fsync per trial, survives a power cut).
        lease_timeout: seconds after which a driver that stopped heartbeating loses its lease.
        read_only: open an existing study to read it (trials, best trial, importance, boxes,
            checkpoints) without taking its lease, while a driver may be running it: SQLite
            ``mode=ro``, a WAL reader that sees the trials committed when it opened and never
            blocks the driver. Nothing is created or written; trials the driver is running are
            listed as ``running`` (or, when no live driver holds the lease, as ``failed`` with the
            interrupted error the next driver will record); running trials raises
            ``tune.StudyReadOnly``.

    Opening a study takes its lease (unless ``read_only``): a second driver gets
    ``tune.StudyLocked`` until this one calls ``close()`` (or exits). Trials left running by a
    dead driver are marked failed, and their configurations are run again by the next
    ``optimize``.
    """

    def __init__(
        self,
        name: str,
        *,
        storage: str | os.PathLike[str] | None = None,
        direction: str | None = None,
        seed: int | None = None,
        pruner: Pruner | None = None,
        durability: str = "normal",
        lease_timeout: float = DEFAULT_LEASE_TIMEOUT,
        read_only: bool = False,
        directions: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"Study: name must be a non-empty string, got {name!r}")
        direction = objectives.stored_direction(direction, directions)
        if pruner is not None and direction is not None and "," in direction:
            raise ValueError("Study: a pruner judges one objective; this study has several")
        study_seed("Study", seed)
        if read_only and storage is None:
            raise ValueError("Study: read_only needs storage (a file); got storage=None")
        self.name = name
        self.pruner = check_pruner(pruner)
        self.read_only = bool(read_only)
        self._storage = store = open_storage(storage, durability, read_only=read_only)
        self._lease: Lease | None = None
        try:
            driver_gone = False
            if read_only:
                found = store.find_study(name)
                if found is None:
                    raise ValueError(
                        f"Study: no study named {name!r} in {store.path!r} to open read-only; "
                        f"it holds {store.study_names()}"
                    )
                study_id, self.direction, self.seed = self._check_stored(found, direction, seed)
                driver_gone = not driver_alive(store, study_id, lease_timeout)
            else:
                created = store.get_or_create_study(
                    name,
                    "minimize" if direction is None else direction,
                    secrets.randbits(63) if seed is None else seed,
                )
                study_id, self.direction, self.seed = self._check_stored(created, direction, seed)
                if store.path is not None:
                    self._lease = Lease(store, study_id, name, lease_timeout)
                # we hold the lease: a trial still 'running' belongs to a driver that died
                store.mark_interrupted(study_id, INTERRUPTED, time.time())
            self._log = TrialLog(store, study_id, name, self.direction, self.seed)
            self._log.load(driver_gone=driver_gone)
            #: one per objective: ["minimize"], or several
            self.directions = list(self._log.directions)
        except BaseException:
            if self._lease is not None:
                self._lease.release()
            store.close()
            raise
        self._stop = threading.Event()
        # the designs (streams) this object's optimize ran to their end: calling it again on
        # one is Optuna's "n_trials more", which ResumedWarning answers
        self._designs_run: set[str] = set()
        self._run_lock = threading.Lock()  # see _one_run_at_a_time
        self._running = ""
        self._ask_tell = AskTell(self._log)
        self._finalizer = weakref.finalize(self, _release, self._lease, store)

    def _check_stored(
        self, stored: tuple[int, str, int], direction: str | None, seed: int | None
    ) -> tuple[int, str, int]:
        """The stored (id, direction, seed), after checking the ones asked for agree."""
        study_id, stored_direction, stored_seed = stored
        where = self._storage.path
        if direction is not None and direction != stored_direction:
            raise ValueError(
                f"Study {self.name!r} in {where!r} was created with "
                f"direction={stored_direction!r}, got direction={direction!r}"
            )
        if seed is not None and seed != stored_seed:
            raise ValueError(
                f"Study {self.name!r} in {where!r} was created with seed "
                f"{stored_seed}, got seed={seed}; pass seed=None to resume it"
            )
        return study_id, stored_direction, stored_seed

    def _zoomed_space(
        self, what: str, space: Space | None, zoom: coarse_to_fine.Zoom
    ) -> Space | None:
        """The space a coarse-to-fine run searches: ``space``, or None to define by run (also
        for a conditional space: its branches are suggested as the trial runs), once checked."""
        if space is not None and not isinstance(space, Space):
            raise TypeError(f"{what}: space must be a tune.Space or None, got {space!r}")
        if space is not None and space.conditional:
            space = None
        if space is None and zoom.sampler.name not in suggest.SAMPLERS:
            raise ValueError(
                f"{what}: sampler={zoom.sampler.name!r} needs a declared space; "
                f"without one use {' or '.join(suggest.SAMPLERS)}"
            )
        return space

    def _one_objective(self, what: str) -> None:
        if len(self.directions) > 1:
            raise ValueError(
                f"{what} works on one objective; study {self.name!r} has "
                f"{len(self.directions)} (directions={self.directions})"
            )

    def _check_writable(self) -> None:
        """Running trials writes the study: a read-only view may not (it holds no lease)."""
        if self.read_only:
            raise StudyReadOnly(
                f"study {self.name!r} in {self._storage.path!r} was opened with read_only=True; "
                f"open it without read_only (which takes its lease) to run trials"
            )

    # ---- public reading ------------------------------------------------------------------

    @property
    def storage(self) -> Storage:
        """Where the study lives (:class:`tune.storage.Storage`): its ``path`` (None in
        memory), metadata and checkpoints; the command line reads study files through it."""
        return self._storage

    @property
    def trials(self) -> list[FrozenTrial]:
        """Every finished trial, in order of number (a copy of the list); a ``read_only`` view
        also lists the trials its driver is running, as ``running`` (``failed``, interrupted,
        when the driver is gone)."""
        return list(self._log.trials)

    @property
    def best_trial(self) -> FrozenTrial:
        """The complete trial with the best value; ValueError while there is none (and for a
        study with several objectives: see :attr:`best_trials`)."""
        if len(self.directions) > 1:
            raise ValueError(
                f"Study {self.name!r} has {len(self.directions)} objectives: there is no single "
                f"best trial; study.best_trials is the Pareto front"
            )
        best = self._log.best
        if best is None:
            raise ValueError(f"Study {self.name!r} has no complete trial yet")
        return best

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """The Pareto front: the complete trials no other complete trial dominates (for one
        objective, the best trials, ties included), in order of number."""
        return objectives.pareto_front(self._log.trials, self.directions)

    @property
    def best_params(self) -> dict[str, Any]:
        """The best complete trial's parameters (a copy); ValueError while there is none."""
        return dict(self.best_trial.params)

    @property
    def best_value(self) -> float:
        """The best complete trial's value; ValueError while there is none."""
        value = self.best_trial.value
        assert value is not None
        return value

    @property
    def boxes(self) -> dict[int, Box]:
        """Coarse-to-fine boxes of the last ``coarse_to_fine`` run, per round: numeric dimension
        -> [low, high] in unit space, categorical -> indices of the options kept. Every trial of
        round r was drawn from box r, except the adaptive method's exploration moves (trials
        whose stream ends ``:x<r>``), drawn outside it. Define by run, a parameter the box
        lacks had not been seen before the round: it was drawn over its whole range."""
        return self._storage.boxes(self._log.study_id)

    def to_records(self) -> Any:
        """One dict per trial (number, state, value, round, error, started, finished, and
        ``params_<name>`` per hyperparameter); a pandas DataFrame when pandas is installed."""
        rows = records.rows(self._log.trials)
        try:
            import pandas as pd
        except ImportError:
            return rows
        return pd.DataFrame.from_records(rows)

    def trials_dataframe(self) -> Any:
        """The trials as a pandas DataFrame: number, state, value, round, error, started,
        finished, duration (seconds), ``params_<name>`` per hyperparameter (absent where a trial
        did not use it) and ``user_attrs_<key>`` per user attribute. Needs pandas (ImportError
        naming it otherwise)."""
        return records.dataframe(self._log.trials)

    def importance(
        self, *, degree: int | None = None, objective: int | None = None
    ) -> dict[str, float]:
        """Which hyperparameters mattered: name -> first-order share of the objective's variance
        over the search space, largest first; shares are >= 0 and sum to at most 1 (the rest is
        what no single hyperparameter explains). Estimated from every complete trial of the
        latest space by an additive polynomial fit of ``degree`` (default: up to 3, as the
        trials allow); a conditional parameter only from the trials that used it. A study with
        several objectives ranks one at a time: ``objective`` is its index in ``directions``.
        See :mod:`bntune.tune.importance` for the formula."""
        count = len(self.directions)
        if objective is None and count > 1:
            raise ValueError(
                f"importance: study {self.name!r} has {count} objectives "
                f"(directions={self.directions}); pass objective=0..{count - 1} to rank the "
                f"hyperparameters for one"
            )
        if objective is not None and (
            isinstance(objective, bool) or not isinstance(objective, int)
            or not 0 <= objective < count
        ):  # fmt: skip
            raise ValueError(
                f"importance: objective must be an index in 0..{count - 1} of "
                f"directions={self.directions}, got {objective!r}"
            )
        return study_importance(self._log.trials, self.name, degree=degree,
                                objective=objective if count > 1 else None,
                                suggested=self._log.suggested)  # fmt: skip

    # ---- running -------------------------------------------------------------------------

    @_one_run_at_a_time
    def optimize(
        self,
        objective: Objective,
        space: Space | None = None,
        *,
        n_trials: int,
        sampler: str | Sampler = "sobol",
        catch: Catch = (Exception,),
        n_workers: int | None = None,
        executor: Any = None,
        trial_timeout: float | None = None,
        retry_failed: bool = False,
        timeout: float | None = None,
        callbacks: Sequence[Callable[[Study, FrozenTrial], None]] = (),
        n_jobs: object = None,
    ) -> None:
        """Runs ``objective`` on the first ``n_trials`` points of ``sampler``'s design over
        ``space`` — or, without a space, lets each trial define its parameters as it runs
        (``trial.suggest_float``, ``suggest_int``, ``suggest_categorical``,
        ``suggest_one_minus_log``; see :mod:`bntune.tune.suggest`).

        ``n_workers`` > 1 runs trials on a local process pool (the objective must then be
        picklable: a module-level function), ``executor`` on any ``concurrent.futures.Executor``
        (e.g. Dask's ``client.get_executor()``); None/1 runs them here. ``trial_timeout``
        (seconds, with workers only) records a trial that runs longer as failed and goes on
        (a local pool's stuck process is killed). See :mod:`bntune.tune.trial_loop`.
        ``n_jobs`` (Optuna's threads) is refused with a TypeError pointing to ``n_workers``.

        Trials this study already ran on the same (space, sampler) count toward ``n_trials``:
        re-running a script after a crash finishes the job, continuing the sequence at the next
        unused index, and a larger ``n_trials`` extends it ("lhs" and "grid" designs depend on
        the budget, so a different ``n_trials`` is a new design). A grid may have fewer points
        than ``n_trials`` (a full product of levels). Unlike Optuna, a second
        ``optimize(f, n_trials=10)`` thus runs nothing: a call with nothing left, or a second
        call of this object on the same design, warns (``tune.ResumedWarning``) how many it runs
        and which ``n_trials`` runs that many more. Resuming (a new ``Study`` object on a study
        that another run left unfinished) runs the rest without a warning.

        ``timeout`` (seconds) starts no trial after that long, and :meth:`stop` (from a
        callback or another thread) none after it is called; the trials in flight finish and
        are stored. Each of ``callbacks`` is called as ``callback(study, trial)`` after each
        trial is stored.

        Exceptions listed in ``catch`` mark the trial failed (with the traceback as its error)
        and the study goes on; a non-finite value marks it diverged; ``tune.Pruned`` (or
        Optuna's ``TrialPruned``, told by its class name) pruned, with its last reported value.
        Failures are never silent: when some trials failed, a ``FailedTrialsWarning`` gives the
        count and the first error; when every trial failed with the same exception,
        ``tune.AllTrialsFailed`` is raised; when some diverged, a ``DivergedTrialsWarning`` (a
        ``FailedTrialsWarning``) gives the count and the first one's parameters.
        ``retry_failed=True`` runs the design's failed points again (after the objective was
        fixed).
        """
        self._check_writable()
        if n_jobs is not None:
            raise TypeError(
                f"optimize: n_jobs is Optuna's argument (threads), got n_jobs={n_jobs!r}; "
                f"bntune's is n_workers= (worker processes; trials run here without it) or "
                f"executor= (any concurrent.futures.Executor)"
            )
        design_sampler = as_sampler(sampler)
        n_trials = positive_int("n_trials", n_trials)
        catch = exception_classes(catch)
        if isinstance(space, Space) and space.conditional:
            objective, space = DefinedBy(objective, space), None  # its branches: define by run
        if space is None:
            if design_sampler.name not in suggest.SAMPLERS:
                raise ValueError(
                    f"sampler={design_sampler.name!r} needs a declared space (its design depends "
                    f"on it); without one use {' or '.join(suggest.SAMPLERS)}"
                )
            stream = f"{design_sampler.name}:define-by-run"
        elif not isinstance(space, Space):
            raise TypeError(f"space must be a tune.Space or None, got {space!r}")
        else:
            budget = f"/{n_trials}" if design_sampler.budgeted else ""
            stream = f"{design_sampler.name}{budget}:{space.key}"
        if trial_timeout is not None and not (
            isinstance(trial_timeout, int | float) and trial_timeout > 0
        ):
            raise ValueError(f"trial_timeout must be > 0 seconds or None, got {trial_timeout!r}")
        stopped = run_control.stop_check(self._stop, timeout)
        after_trial = run_control.after_each_trial(self, callbacks)
        design = Design(
            space, design_sampler, stream, self.seed, n_trials, retry_failed=retry_failed
        )
        left = points_left(self._log, design)
        queued = enqueue.pending(self._log)
        # Some points ran already. Say so when this object ran them (a second call, Optuna's
        # "n_trials more") or when nothing is left; not when another run left them, as after a
        # crash or Ctrl-C: resuming is what running the same call again is for.
        ran_here = stream in self._designs_run
        if left < design_size(design) and (ran_here or (left == 0 and not queued)):
            done = self._log.done_count(stream)
            run_control.warn_resumed(
                self.name, done, n_trials, left, budgeted=design_sampler.budgeted,
                enqueued=len(queued),
            )  # fmt: skip
        since = self._log.next_number
        with (
            _resumable(self, "optimize"),
            WorkPool(n_workers, executor, default_inline=True) as pool,
        ):
            if trial_timeout is not None and pool.inline:
                raise ValueError(
                    "trial_timeout needs workers (n_workers >= 2 or an executor): a trial running "
                    "in the driver cannot be interrupted"
                )
            run_design(self._log, objective, design, pool, catch=catch, pruner=self.pruner,
                       trial_timeout=trial_timeout, stopped=stopped, after_trial=after_trial,
                       enqueued=queued)  # fmt: skip
        self._designs_run.add(stream)
        failures.check(self._log.since(since))

    def ask(
        self,
        space: Space | None = None,
        *,
        sampler: str | Sampler = "sobol",
        coarse_to_fine: CoarseToFine | None = None,
    ) -> Trial:
        """A trial for you to run: the next point of ``sampler``'s design over ``space`` (or,
        without one, define-by-run: call ``trial.suggest_*``), stored as running. Give its
        result with :meth:`tell`. With ``coarse_to_fine=tune.CoarseToFine(rounds=...,
        trials_per_round=...)``, the next trial of that coarse-to-fine run (the trials and boxes
        of :meth:`coarse_to_fine` given the same results); when the round's trials are all out,
        ``tune.RoundPending`` (tell them first), after the last round ``tune.SearchFinished``.
        See :mod:`bntune.tune.ask_tell`."""
        self._check_writable()
        design_sampler = as_sampler(sampler)
        if coarse_to_fine is not None:
            return self._ask_coarse_to_fine(space, design_sampler, coarse_to_fine)
        if design_sampler.budgeted:
            raise ValueError(
                f"ask: sampler={design_sampler.name!r} designs for a budget; use optimize, or "
                f"a sampler without one (sobol, halton, random)"
            )
        conditional = isinstance(space, Space) and space.conditional
        if space is None or conditional:
            stream = f"{design_sampler.name}:define-by-run"
        elif not isinstance(space, Space):
            raise TypeError(f"ask: space must be a tune.Space or None, got {space!r}")
        else:
            stream = f"{design_sampler.name}:{space.key}"
        if conditional:
            trial = self._ask_tell.ask(None, design_sampler, stream, self.pruner)
            suggest_into(trial, space)  # type: ignore[arg-type]
            return trial
        return self._ask_tell.ask(space, design_sampler, stream, self.pruner)

    def _ask_coarse_to_fine(
        self, space: Space | None, sampler: Sampler, plan: CoarseToFine
    ) -> Trial:
        if not isinstance(plan, CoarseToFine):
            raise TypeError(
                f"ask: coarse_to_fine must be a tune.CoarseToFine(rounds=..., "
                f"trials_per_round=...), got {plan!r}"
            )
        zoom = plan.zoom(sampler)
        searched = self._zoomed_space("ask", space, zoom)
        trial = self._ask_tell.ask_coarse_to_fine(searched, zoom, self.pruner)
        if searched is None and space is not None:
            suggest_into(trial, space)  # a conditional space's branches
        return trial

    def tell(
        self, trial: Trial | int, value: Any = None, *, state: str | None = None
    ) -> FrozenTrial:
        """Stores the result of a trial from :meth:`ask` (the trial or its number): its
        ``value``, or ``state="pruned"`` (value: its last reported one unless given) or
        ``state="failed"``. Returns the stored trial; TrialUsageError for a trial told
        already or never asked."""
        self._check_writable()
        return self._ask_tell.tell(trial, value, state)

    def enqueue(self, params: dict[str, Any]) -> None:
        """Runs ``params`` (name -> value) as the next trial of :meth:`optimize` or :meth:`ask`,
        before the design's points (whose places it does not take). Define-by-run trials draw
        the parameters left out; with a declared space give every sampled one. Kept with the
        study until it has run. See :mod:`bntune.tune.enqueue`."""
        self._check_writable()
        enqueue.enqueue(self._log, params)

    def add_trial(
        self, params: dict[str, Any], value: float, *, space: Space | None = None
    ) -> FrozenTrial:
        """Stores a result obtained elsewhere as a complete trial; with the ``space`` it was
        drawn from it also counts for the importance ranking and coarse-to-fine's zoom rule."""
        self._check_writable()
        if space is not None and not isinstance(space, Space):
            raise TypeError(f"add_trial: space must be a tune.Space or None, got {space!r}")
        return enqueue.add_trial(self._log, params, value, space)

    def stop(self) -> None:
        """Starts no more trials in the running ``optimize`` (from a callback, or from another
        thread); the trials in flight finish and are stored."""
        self._stop.set()

    @_one_run_at_a_time
    def coarse_to_fine(
        self,
        objective: Objective,
        space: Space | None = None,
        *,
        rounds: int,
        trials_per_round: int,
        top: float | None = None,
        shrink: float | None = None,
        sampler: str | Sampler = "sobol",
        catch: Catch = (Exception,),
        n_workers: int | None = None,
        executor: Any = None,
        retry_failed: bool = False,
        method: str = coarse_to_fine.METHODS[0],
    ) -> None:
        """Coarse-to-fine search: ``rounds`` rounds of ``trials_per_round`` trials, each in a box
        on each hyperparameter's own scale. ``method="adaptive"`` (default) centres each box on
        the best trial, grows it after rounds that improve, shrinks it after rounds that do not,
        restarts from the whole space when it collapses, places the points with a small
        local model, and every third round spends one trial on a move outside the box (the
        best trial with one coordinate redrawn; stream ``<run>:x<r>``). See
        :mod:`bntune.tune.trust_region`; small rounds adapt best, e.g. 3-5 trials. Without a
        ``space`` (define by run), or with a conditional one, each box covers the parameters
        seen so far, is centred and sized on the parameters the best trial used (from the
        trials that used them), and leaves every other its whole range; with several
        objectives each round follows one ParEGO scalarisation (weights drawn per round). See
        :mod:`bntune.tune.adaptive_round`.
        ``method="zoom"`` is the fixed rule: ``top`` is the fraction of the best trials the
        next box covers (default 0.05), ``shrink`` the least width of a box relative
        to the previous one (default 0.5); the adaptive method refuses both. See
        :mod:`bntune.tune.coarse_to_fine`.

        ``n_workers`` and ``executor`` work as in :meth:`optimize`: each round's trials run in
        parallel, and the next round starts when they have all finished, so the boxes and every
        trial's configuration are those of a serial run. Failed trials are reported (and
        ``retry_failed`` works) as in :meth:`optimize`; a first round whose trials all failed
        the same way stops the run there."""
        self._check_writable()
        rounds = positive_int("rounds", rounds)
        trials_per_round = positive_int("trials_per_round", trials_per_round)
        design_sampler = as_sampler(sampler)
        catch = exception_classes(catch)
        zoom = coarse_to_fine.Zoom(rounds, trials_per_round, top, shrink, design_sampler, method)
        searched = self._zoomed_space("coarse_to_fine", space, zoom)
        if searched is None and space is not None:
            objective = DefinedBy(objective, space)  # a conditional space's branches
        space = searched
        since = self._log.next_number

        # after a round that is not all alike, no later one can be (the trials only add up):
        # the check walks the run's trials once, not once per round
        settled = False

        def after_round(r: int) -> None:
            nonlocal settled
            if settled:
                return
            found = failures.Failures.of(self._log.since(since))
            if found.all_alike:
                failures.check(self._log.since(since))  # no round would do better
            settled = found.finished > 0

        with (
            _resumable(self, "coarse_to_fine"),
            WorkPool(n_workers, executor, default_inline=True) as pool,
        ):
            coarse_to_fine.run(self._log, objective, space, zoom, pool, catch=catch,
                               pruner=self.pruner, retry_failed=retry_failed,
                               after_round=after_round)  # fmt: skip
        if self._log.next_number == since:  # the study had every trial of this run already
            run_control.warn_finished_run(self.name, rounds, trials_per_round)
        failures.check(self._log.since(since))

    # ---- trainable modes (see caviar.py, panda.py, pbt.py) ---------------------------------

    @_one_run_at_a_time
    def caviar(
        self,
        trainable: type,
        space: Space,
        *,
        population: int,
        epochs: int,
        scheduler: Any = None,
        n_workers: int | None = None,
        executor: Any = None,
    ) -> list[FrozenTrial]:
        """Caviar mode: ``population`` configurations of ``space`` (trial k gets point k of the
        study's Sobol design) trained in parallel as ``trainable`` for up to ``epochs`` epochs,
        each curve recorded per epoch. ``scheduler``: None (train all fully),
        ``tune.SuccessiveHalving()``, ``tune.ASHA()`` or ``tune.MedianStopping()``. Runs on
        ``executor`` (any ``concurrent.futures.Executor``), else ``n_workers`` local processes
        (None: the cores; 1: in this process). Returns the population's trials. See
        :mod:`bntune.tune.caviar`."""
        self._check_writable()
        self._one_objective("caviar")
        job = Population.checked("caviar", trainable, space, population, epochs)
        plan = as_scheduler(scheduler)
        with WorkPool(n_workers, executor) as pool:
            trials = caviar_mode.run(self._log, job, plan, pool)
        failures.check(trials)
        return trials

    @_one_run_at_a_time
    def babysit(
        self,
        trainable: type,
        params: dict[str, Any] | None,
        *,
        epochs: int,
        policy: Any = None,
        resume: int | None = None,
        from_step: int | None = None,
    ) -> FrozenTrial:
        """Panda mode: trains one ``trainable(params)`` for ``epochs`` epochs in this process,
        asking ``policy`` (default ``tune.DefaultPolicy()``) after each one. ``resume=number``
        continues that babysat trial from its last checkpoint (or ``from_step``). Returns the
        trial; ``trial.events`` lists the changes and rollbacks. See :mod:`bntune.tune.panda`."""
        self._check_writable()
        self._one_objective("babysit")
        trial = panda.babysit(
            self._log, trainable, params, epochs=epochs, policy=policy, resume=resume,
            from_step=from_step,
        )  # fmt: skip
        failures.check([trial])
        return trial

    @_one_run_at_a_time
    def pbt(
        self,
        trainable: type,
        space: Space,
        *,
        population: int,
        epochs: int,
        interval: int,
        n_workers: int | None = None,
        executor: Any = None,
    ) -> list[FrozenTrial]:
        """Population based training: every ``interval`` epochs the bottom quarter copies the
        checkpoint of the top quarter and perturbs its mutable hyperparameters. See
        :mod:`bntune.tune.pbt`."""
        self._check_writable()
        self._one_objective("pbt")
        job = Population.checked("pbt", trainable, space, population, epochs)
        interval = positive_int("pbt: interval", interval)
        with WorkPool(n_workers, executor) as pool:
            members = pbt.run(self._log, job, interval, pool)
        failures.check(members)
        return members

    def best_checkpoint(self) -> Any:
        """The best complete trial's stored checkpoint (a ``tune.Checkpoint``: trial, step,
        params, value, state; ``.load(trainable)`` rebuilds the model)."""
        return self._log.best_checkpoint()

    # ---- closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Releases the lease and closes the database (also done at exit and on collection)."""
        self._finalizer()

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self._storage.path or "memory"
        return f"Study({self.name!r}, storage={where!r}, trials={len(self._log.trials)})"
