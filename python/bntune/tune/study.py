"""A study: trials of one objective, stored in SQLite, resumable after a crash."""

from __future__ import annotations

import json
import math
import os
import secrets
import sqlite3
import time
import traceback
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from bntune.tune import storage as storage_db
from bntune.tune.errors import Pruned, StudyReadOnly
from bntune.tune.lease import DEFAULT_LEASE_TIMEOUT, Lease, driver_alive
from bntune.tune.pruners import CurveHistory, MedianStopping
from bntune.tune.samplers import BUDGETED, check_sampler, design_points, design_size
from bntune.tune.space import Space
from bntune.tune.trial import FrozenTrial, Trial, last_value

Objective = Callable[[Trial], float]
#: a box in unit space: numeric name -> [low, high]; categorical name -> allowed option indices
Box = dict[str, list[float] | list[int]]

_INSERT_RUNNING = (
    "INSERT INTO trials (study_id, number, stream, seq, round, state, params, unit, started) "
    "VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)"
)
_FINISH = "UPDATE trials SET state = ?, value = ?, error = ?, finished = ?, rerun = ? WHERE id = ?"
# one encoder, made once: json.dumps would build it per call
_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_CURVE = "INSERT OR REPLACE INTO curves (trial_id, step, value) VALUES (?, ?, ?)"


def _release(lease: Lease | None, conn: sqlite3.Connection) -> None:
    if lease is not None:
        lease.release(conn)
    conn.close()


#: The error of a trial whose driver died while it ran.
INTERRUPTED = "interrupted: the driver process died while the trial was running"


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
        pruner: MedianStopping | None = None,
        durability: str = "normal",
        lease_timeout: float = DEFAULT_LEASE_TIMEOUT,
        read_only: bool = False,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"Study: name must be a non-empty string, got {name!r}")
        if direction not in (None, "minimize", "maximize"):
            raise ValueError(
                f"Study: direction must be 'minimize', 'maximize' or None, got {direction!r}"
            )
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63
        ):
            # SQLite stores signed 64-bit integers
            raise ValueError(f"Study: seed must be None or an integer in [0, 2**63), got {seed!r}")
        if read_only and storage is None:
            raise ValueError("Study: read_only needs storage (a file); got storage=None")
        self.name = name
        self.pruner = pruner
        self.read_only = bool(read_only)
        self._path = None if storage is None else os.fspath(storage)
        self._conn = storage_conn = storage_db.connect(storage, durability, read_only=read_only)
        self._lease: Lease | None = None
        try:
            driver_gone = False
            if read_only:
                self._id, self.direction, self.seed = self._find_study(direction, seed)
                driver_gone = not driver_alive(storage_conn, self._id, lease_timeout)
            else:
                self._id, self.direction, self.seed = self._open_study(direction, seed)
                if self._path is not None:
                    self._lease = Lease(self._path, storage_conn, self._id, name, lease_timeout)
                self._mark_interrupted()
            self._load(driver_gone)
        except BaseException:
            storage_conn.close()
            raise
        self._finalizer = weakref.finalize(self, _release, self._lease, storage_conn)
        self._minimize = self.direction == "minimize"

    # ---- opening -------------------------------------------------------------------------

    def _open_study(self, direction: str | None, seed: int | None) -> tuple[int, str, int]:
        conn = self._conn
        with storage_db.transaction(conn, immediate=True):
            row = conn.execute(
                "SELECT id, direction, seed FROM studies WHERE name = ?", (self.name,)
            ).fetchone()
            if row is None:
                direction = "minimize" if direction is None else direction
                seed = secrets.randbits(63) if seed is None else seed
                cur = conn.execute(
                    "INSERT INTO studies (name, direction, seed, created) VALUES (?, ?, ?, ?)",
                    (self.name, direction, seed, time.time()),
                )
                study_id = int(cur.lastrowid or 0)
            else:
                study_id, direction, seed = self._check_stored(row, direction, seed)
        return study_id, direction, int(seed)

    def _find_study(self, direction: str | None, seed: int | None) -> tuple[int, str, int]:
        row = self._conn.execute(
            "SELECT id, direction, seed FROM studies WHERE name = ?", (self.name,)
        ).fetchone()
        if row is None:
            names = [r[0] for r in self._conn.execute("SELECT name FROM studies ORDER BY id")]
            raise ValueError(
                f"Study: no study named {self.name!r} in {self._path!r} to open read-only; "
                f"it holds {names}"
            )
        return self._check_stored(row, direction, seed)

    def _check_stored(
        self, row: tuple[int, str, int], direction: str | None, seed: int | None
    ) -> tuple[int, str, int]:
        """The stored (id, direction, seed), after checking the ones asked for agree."""
        study_id, stored_direction, stored_seed = row
        if direction is not None and direction != stored_direction:
            raise ValueError(
                f"Study {self.name!r} in {self._path!r} was created with "
                f"direction={stored_direction!r}, got direction={direction!r}"
            )
        if seed is not None and seed != stored_seed:
            raise ValueError(
                f"Study {self.name!r} in {self._path!r} was created with seed "
                f"{stored_seed}, got seed={seed}; pass seed=None to resume it"
            )
        return int(study_id), str(stored_direction), int(stored_seed)

    def _check_writable(self) -> None:
        """Running trials writes the study: a read-only view may not (it holds no lease)."""
        if self.read_only:
            raise StudyReadOnly(
                f"study {self.name!r} in {self._path!r} was opened with read_only=True; open it "
                f"without read_only (which takes its lease) to run trials"
            )

    def _mark_interrupted(self) -> None:
        # We hold the lease, so a trial still 'running' belongs to a driver that died.
        self._conn.execute(
            "UPDATE trials SET state = 'failed', rerun = 1, finished = ?, error = ? "
            "WHERE study_id = ? AND state = 'running'",
            (time.time(), INTERRUPTED, self._id),
        )

    def _load(self, driver_gone: bool) -> None:
        """Reads every trial; with ``driver_gone`` (a read-only view with no live driver), a
        ``running`` trial is shown as the next driver will record it: failed, interrupted."""
        curves: dict[int, dict[int, float]] = {}
        for trial_id, step, value in self._conn.execute(
            "SELECT c.trial_id, c.step, c.value FROM curves c JOIN trials t ON t.id = c.trial_id "
            "WHERE t.study_id = ? ORDER BY c.trial_id, c.step",
            (self._id,),
        ):
            curves.setdefault(trial_id, {})[step] = math.nan if value is None else value
        self._trials: list[FrozenTrial] = []
        # per design (stream): the indices done, and the largest, so that a call finds its
        # pending indices without scanning every trial
        self._done: dict[str, tuple[set[int], list[int]]] = {}
        self._history = CurveHistory()
        self._best: FrozenTrial | None = None
        for row in self._conn.execute(
            "SELECT id, number, stream, seq, round, state, params, unit, value, error, started, "
            "finished, rerun FROM trials WHERE study_id = ? ORDER BY number",
            (self._id,),
        ):
            tid, number, stream, seq, rnd, state, params, unit, value, error, t0, t1, rerun = row
            if state == "running" and driver_gone:
                state, error, rerun = "failed", INTERRUPTED, 1
            trial = FrozenTrial(
                number=number,
                params=json.loads(params),
                value=value,
                state=state,
                curve=curves.get(tid, {}),
                round=rnd,
                error=error,
                started=t0,
                finished=t1,
                unit=json.loads(unit),
                stream=stream,
                seq=seq,
                rerun=bool(rerun),
                _id=tid,
            )
            self._remember(trial)
        self._next_number = self._trials[-1].number + 1 if self._trials else 0
        from bntune.tune.mode_store import load_events

        load_events(self)

    def _remember(self, trial: FrozenTrial) -> None:
        trial._study = weakref.ref(self)  # a weak link: a dropped study still closes
        self._trials.append(trial)
        if not trial.rerun:
            seqs, largest = self._done.setdefault(trial.stream, (set(), [-1]))
            seqs.add(trial.seq)
            largest[0] = max(largest[0], trial.seq)
        if trial.state == "complete":
            self._history.add(trial.curve)
            if self._best is None or self._better(trial.value, self._best.value):
                self._best = trial

    def _better(self, a: float | None, b: float | None) -> bool:
        if a is None or b is None:
            return b is None
        return a < b if self.direction == "minimize" else a > b

    # ---- public reading ------------------------------------------------------------------

    @property
    def trials(self) -> list[FrozenTrial]:
        """Every finished trial, in order of number (a copy of the list); a ``read_only`` view
        also lists the trials its driver is running, as ``running`` (``failed``, interrupted,
        when the driver is gone)."""
        return list(self._trials)

    @property
    def best_trial(self) -> FrozenTrial:
        """The complete trial with the best value; ValueError while there is none."""
        if self._best is None:
            raise ValueError(f"Study {self.name!r} has no complete trial yet")
        return self._best

    @property
    def boxes(self) -> dict[int, Box]:
        """Coarse-to-fine boxes of the last ``coarse_to_fine`` run, per round: numeric dimension
        -> [low, high] in unit space, categorical -> indices of the options kept."""
        from bntune.tune.coarse_to_fine import load_boxes

        return load_boxes(self)

    def to_records(self) -> Any:
        """One dict per trial (number, state, value, round, error, started, finished, and
        ``params_<name>`` per hyperparameter); a pandas DataFrame when pandas is installed."""
        records = []
        for t in self._trials:
            record: dict[str, Any] = {
                "number": t.number,
                "state": t.state,
                "value": t.value,
                "round": t.round,
                "error": t.error,
                "started": t.started,
                "finished": t.finished,
            }
            record.update({f"params_{k}": v for k, v in t.params.items()})
            records.append(record)
        try:
            import pandas as pd
        except ImportError:
            return records
        return pd.DataFrame.from_records(records)

    def importance(self, *, degree: int | None = None) -> dict[str, float]:
        """Which hyperparameters mattered: name -> first-order share of the objective's variance
        over the search space, largest first; shares are >= 0 and sum to at most 1 (the rest is
        what no single hyperparameter explains). Estimated from every complete trial of the
        latest space by an additive polynomial fit of ``degree`` (default: up to 3, as the
        trials allow). See :mod:`bntune.tune.importance` for the formula."""
        from bntune.tune.importance import study_importance

        return study_importance(self, degree=degree)

    # ---- running -------------------------------------------------------------------------

    def optimize(
        self,
        objective: Objective,
        space: Space,
        *,
        n_trials: int,
        sampler: str = "sobol",
        catch: Sequence[type[BaseException]] | type[BaseException] = (Exception,),
        n_workers: int | None = None,
        executor: Any = None,
        trial_timeout: float | None = None,
    ) -> None:
        """Runs ``objective`` on the first ``n_trials`` points of ``sampler``'s design.

        ``n_workers`` > 1 runs trials on a local process pool (the objective must then be
        picklable: a module-level function), ``executor`` on any ``concurrent.futures.Executor``
        (e.g. Dask's ``client.get_executor()``); None/1 runs them here. ``trial_timeout``
        (seconds, with workers only) records a trial that runs longer as failed and goes on
        (a local pool's stuck process is killed). See :mod:`bntune.tune.parallel`.

        Trials this study already ran on the same (space, sampler) count toward ``n_trials``:
        re-running a script after a crash finishes the job, continuing the sequence at the next
        unused index, and a larger ``n_trials`` extends it ("lhs" and "grid" designs depend on
        the budget, so a different ``n_trials`` is a new design). A grid may have fewer points
        than ``n_trials`` (a full product of levels).

        Exceptions listed in ``catch`` mark the trial failed (with the traceback as its error)
        and the study goes on; a non-finite value marks it diverged; ``tune.Pruned`` pruned.
        """
        self._check_writable()
        sampler = check_sampler(sampler)
        n_trials = _check_count("n_trials", n_trials)
        catch = _check_catch(catch)
        budget = f"/{n_trials}" if sampler in BUDGETED else ""
        stream = f"{sampler}{budget}:{space.key}"
        if trial_timeout is not None and not (
            isinstance(trial_timeout, int | float) and trial_timeout > 0
        ):
            raise ValueError(f"trial_timeout must be > 0 seconds or None, got {trial_timeout!r}")
        if executor is not None or n_workers not in (None, 1):
            from bntune.tune import parallel
            from bntune.tune.executors import WorkPool

            if not isinstance(space, Space):
                raise TypeError(f"space must be a tune.Space, got {space!r}")
            with WorkPool(n_workers, executor) as pool:
                parallel.optimize(
                    self, objective, space, sampler, stream, n_trials, catch, pool, trial_timeout
                )
            return
        if trial_timeout is not None:
            raise ValueError(
                "trial_timeout needs workers (n_workers >= 2 or an executor): a trial running in "
                "the driver cannot be interrupted"
            )
        self._run_stream(objective, space, sampler, stream, self.seed, 1, n_trials, None, catch)

    def coarse_to_fine(
        self,
        objective: Objective,
        space: Space,
        *,
        rounds: int,
        trials_per_round: int,
        top: float = 0.05,
        shrink: float = 0.5,
        sampler: str = "sobol",
        catch: Sequence[type[BaseException]] | type[BaseException] = (Exception,),
        n_workers: int | None = None,
        executor: Any = None,
    ) -> None:
        """Coarse-to-fine search: ``rounds`` rounds of ``trials_per_round`` trials, each in a box
        zoomed around the best trials so far: ``top`` is the fraction of the best trials the
        next box covers, ``shrink`` the least width of a box relative to the previous one. See
        :mod:`bntune.tune.coarse_to_fine` for the box rule and its defaults.

        ``n_workers`` and ``executor`` work as in :meth:`optimize`: each round's trials run in
        parallel, and the next round starts when they have all finished, so the boxes and every
        trial's configuration are those of a serial run."""
        self._check_writable()
        from bntune.tune.coarse_to_fine import run

        arguments = dict(
            rounds=_check_count("rounds", rounds),
            trials_per_round=_check_count("trials_per_round", trials_per_round),
            top=top,
            shrink=shrink,
            sampler=check_sampler(sampler),
            catch=_check_catch(catch),
        )
        if executor is None and n_workers in (None, 1):
            run(self, objective, space, **arguments)
            return
        from bntune.tune.executors import WorkPool

        if not isinstance(space, Space):
            raise TypeError(f"space must be a tune.Space, got {space!r}")
        with WorkPool(n_workers, executor) as pool:
            run(self, objective, space, **arguments, pool=pool)

    # ---- trainable modes (see caviar.py, panda.py, pbt.py) ---------------------------------

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
        from bntune.tune.caviar import run

        return run(
            self,
            trainable,
            space,
            population=population,
            epochs=epochs,
            scheduler=scheduler,
            n_workers=n_workers,
            executor=executor,
        )

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
        from bntune.tune.panda import babysit

        return babysit(
            self, trainable, params, epochs=epochs, policy=policy, resume=resume,
            from_step=from_step,
        )  # fmt: skip

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
        from bntune.tune.pbt import run

        return run(
            self, trainable, space, population=population, epochs=epochs, interval=interval,
            n_workers=n_workers, executor=executor,
        )  # fmt: skip

    def best_checkpoint(self) -> Any:
        """The best complete trial's stored checkpoint (a ``tune.Checkpoint``: trial, step,
        params, value, state; ``.load(trainable)`` rebuilds the model)."""
        from bntune.tune.checkpoints import best_checkpoint

        return best_checkpoint(self)

    def _run_stream(
        self,
        objective: Objective,
        space: Space,
        sampler: str,
        stream: str,
        seed: int,
        round_: int,
        n_total: int,
        box: Box | None,
        catch: tuple[type[BaseException], ...],
    ) -> None:
        """Evaluates the not-yet-done points of one design (``stream``), in index order."""
        self._check_writable()
        if not isinstance(space, Space):
            raise TypeError(f"space must be a tune.Space, got {space!r}")
        if not callable(objective):
            raise TypeError(f"objective must be callable, got {objective!r}")
        size = design_size(space, sampler, n_total)
        done, largest = self._done.get(stream, (set(), [-1]))
        if largest[0] == len(done) - 1:  # indices 0 .. largest all done: the usual case
            pending = list(range(len(done), size))
        else:
            pending = [i for i in range(size) if i not in done]
        if not pending:
            return
        first = pending[0]
        points = design_points(space, sampler, seed, first, pending[-1] - first + 1, n_total)
        if box is not None:
            from bntune.tune.coarse_to_fine import into_box

            points = into_box(space, box, points)
        rows = points.tolist()  # Python floats: cheaper to map and to encode than numpy's
        names = space.names
        prune = self._prune if self.pruner is not None else None

        def make(seq: int) -> tuple[Trial, FrozenTrial]:
            u = rows[seq - first]
            params = space.from_unit(u)
            number = self._next_number
            self._next_number += 1
            unit = zip(names, u, strict=True)
            record = FrozenTrial.running(number, params, dict(unit), stream, seq, round_)
            return Trial(number, params, round_, prune), record

        conn = self._conn
        # an in-memory study keeps its trials in Python only: nothing could read them back
        persist = self._path is not None
        live, record = make(pending[0])
        if persist:
            with storage_db.transaction(conn):
                self._insert_running(record)
        for k in range(len(pending)):
            raised: BaseException | None = None
            try:
                value = objective(live)
                state, val, error = _judge(value)
            except Pruned:
                state, val, error = "pruned", last_value(live.curve), None
            except catch as e:
                state, val, error = "failed", None, _error_text(e)
            except BaseException as e:
                state, val, error = "failed", None, _error_text(e)
                raised = e
            record.state, record.value, record.error = state, val, error
            record.curve = live.curve
            record.finished = time.time()
            record.rerun = raised is not None
            nxt = make(pending[k + 1]) if raised is None and k + 1 < len(pending) else None
            if persist:
                self._commit(record, nxt[1] if nxt is not None else None)
            self._remember(record)
            if raised is not None:
                raise raised
            if nxt is not None:
                live, record = nxt

    def _commit(self, record: FrozenTrial, nxt: FrozenTrial | None) -> None:
        """One transaction: the finished trial's result and curve, and the next trial's start."""
        conn = self._conn
        with storage_db.transaction(conn):
            conn.execute(
                _FINISH,
                (
                    record.state,
                    record.value,
                    record.error,
                    record.finished,
                    int(record.rerun),
                    record._id,
                ),
            )
            if record.curve:
                conn.executemany(
                    _CURVE,
                    [
                        (record._id, s, v if math.isfinite(v) else None)
                        for s, v in record.curve.items()
                    ],
                )
            if nxt is not None:
                self._insert_running(nxt)

    def _start_trial(
        self,
        params: dict[str, Any],
        unit: Any,
        stream: str,
        seq: int,
        round_: int = 1,
    ) -> FrozenTrial:
        """A ``running`` trial with the study's next number, committed on its own."""
        record = FrozenTrial.running(self._next_number, params, unit, stream, seq, round_)
        with storage_db.transaction(self._conn):
            self._insert_running(record)
        self._next_number += 1
        return record

    def _insert_running(self, record: FrozenTrial) -> None:
        cur = self._conn.execute(
            _INSERT_RUNNING,
            (
                self._id,
                record.number,
                record.stream,
                record.seq,
                record.round,
                _dumps(record.params),
                _dumps(record.unit),
                record.started,
            ),
        )
        record._id = int(cur.lastrowid or 0)

    def _prune(self, step: int, value: float) -> bool:
        assert self.pruner is not None
        return self.pruner.should_prune(step, value, self._history, self._minimize)

    # ---- closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Releases the lease and closes the database (also done at exit and on collection)."""
        self._finalizer()

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self._path or "memory"
        return f"Study({self.name!r}, storage={where!r}, trials={len(self._trials)})"


def _judge(value: object) -> tuple[str, float | None, str | None]:
    # anything float() accepts through __float__ (numpy scalars, 0-d arrays, tensors), not str
    if isinstance(value, bool) or not hasattr(value, "__float__"):
        return "failed", None, f"objective returned {value!r}, not a real number"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        return "failed", None, f"objective returned {value!r}, not a real number ({e})"
    if not math.isfinite(number):
        return "diverged", None, f"objective returned {number!r}"
    return "complete", number, None


def _error_text(e: BaseException) -> str:
    return "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip()


def _check_count(name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return n


def _check_catch(
    catch: Sequence[type[BaseException]] | type[BaseException],
) -> tuple[type[BaseException], ...]:
    items = (catch,) if isinstance(catch, type) else tuple(catch)
    for c in items:
        if not (isinstance(c, type) and issubclass(c, BaseException)):
            raise TypeError(f"catch must be exception classes, got {catch!r}")
    return items
