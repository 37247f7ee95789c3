"""Where work runs: in the driver, in a local process pool, or on any ``concurrent.futures``
executor (a Dask cluster through ``distributed.Client(...).get_executor()``).

The local pool starts its workers with **forkserver** (or spawn), never ``fork``: the kernels'
rayon thread pool does not survive a fork (a forked child that runs a kernel hangs). Each worker
runs kernels on one thread (``bntune.set_num_threads(1)``) and, through ``threadpoolctl`` when
it is installed, numpy's BLAS on one thread, so that n workers use n cores without
oversubscription. Work sent to an executor the driver did not create (Dask) sets the same limits
in the worker the first time a task runs there.

The driver is the only process that writes the study; workers return results to it.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from bntune.tune.sending import check_main_guard, check_sendable

#: environment variables read by the BLAS/OpenMP libraries numpy may use
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
#: seconds a local pool's processes get to exit when it is closed, before they are terminated
SHUTDOWN_TIMEOUT = 10.0
_limited = False
_blas_limits: Any = None


def limit_worker_threads() -> None:
    """One kernel thread and one BLAS thread in this process (idempotent)."""
    global _limited, _blas_limits
    if _limited:
        return
    for name in _THREAD_ENV:
        os.environ[name] = "1"  # for libraries loaded from now on, and children
    import bntune

    bntune.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        _openblas_one_thread()  # numpy's own OpenBLAS; a BLAS loaded later reads the env
    else:
        _blas_limits = threadpool_limits(limits=1)
    _limited = True


def _openblas_one_thread() -> bool:
    """Sets the OpenBLAS bundled in numpy's wheel (already loaded) to one thread, without
    threadpoolctl; False when there is none to set."""
    import ctypes
    import glob

    import numpy as np

    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in glob.glob(os.path.join(libs, "*openblas*")):
        try:
            lib = ctypes.CDLL(path)  # the loaded library: dlopen hands back the same one
        except OSError:
            continue
        for name in (
            "scipy_openblas_set_num_threads64_",
            "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_",
            "openblas_set_num_threads",
        ):
            setter = getattr(lib, name, None)
            if setter is not None:
                setter(1)
                return True
    return False


class InlineExecutor(cf.Executor):
    """Runs each task in the calling thread at ``submit`` time (``n_workers=1``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("InlineExecutor: cannot submit after shutdown")
        future: cf.Future = cf.Future()
        try:
            result = fn(*args, **kwargs)
        except BaseException as e:
            future.set_exception(e)
        else:
            future.set_result(result)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True


def _start_worker() -> None:
    """A local pool's worker: Ctrl-C is the driver's to handle (it stops the pool), and the
    kernels and BLAS run on one thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    limit_worker_threads()


class _LocalPool(cf.ProcessPoolExecutor):
    """A process pool whose workers never see Ctrl-C: the terminal sends it to every process of
    the foreground group, and a worker still starting up would print a traceback. Each worker
    (and the forkserver it comes from) starts with SIGINT blocked; ``_start_worker`` ignores it,
    then unblocks it. A Ctrl-C that arrives while a worker is being started waits until it is
    (an interrupted start leaves a child the pool does not know, reading a pickle whose
    semaphores the exiting driver removes)."""

    def _spawn_process(self) -> None:
        main = threading.current_thread() is threading.main_thread()
        if not main or not hasattr(signal, "pthread_sigmask"):
            super()._spawn_process()  # type: ignore[misc]
            return
        caught: list[int] = []
        handler = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            super()._spawn_process()  # type: ignore[misc]
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            signal.signal(signal.SIGINT, handler)
        if caught:
            raise KeyboardInterrupt


def process_pool(n_workers: int | None = None, *, start_method: str | None = None) -> cf.Executor:
    """A local ``ProcessPoolExecutor`` of ``n_workers`` (default: the cores) processes started
    with ``start_method`` ("forkserver" where available, else "spawn"; "fork" is refused), each
    limited to one kernel thread and one BLAS thread."""
    n = default_workers() if n_workers is None else check_workers(n_workers)
    methods = multiprocessing.get_all_start_methods()
    if start_method is None:
        start_method = "forkserver" if "forkserver" in methods else "spawn"
    if start_method not in ("forkserver", "spawn"):
        raise ValueError(
            f"process_pool: start_method must be 'forkserver' or 'spawn' (a forked child hangs "
            f"in the kernels' thread pool), got {start_method!r}"
        )
    if start_method not in methods:
        raise ValueError(f"process_pool: start method {start_method!r} is not available here")
    context = multiprocessing.get_context(start_method)
    return _LocalPool(max_workers=n, mp_context=context, initializer=_start_worker)


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def check_workers(n_workers: object) -> int:
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers must be a positive integer or None, got {n_workers!r}")
    return n_workers


class WorkPool:
    """The executor a mode runs on, and the bookkeeping to survive a worker that dies.

    ``executor`` (any ``concurrent.futures.Executor``) wins over ``n_workers``; otherwise
    ``n_workers=1`` runs in the driver and more workers (None: the cores) get a local process
    pool, which is rebuilt (up to ``max_rebuilds`` times) if a worker process is killed.
    """

    #: the trials are not run here but handed to the caller one by one (study.ask)
    hands_out = False

    def __init__(
        self,
        n_workers: int | None,
        executor: cf.Executor | None,
        *,
        default_inline: bool = False,
        max_rebuilds: int = 3,
    ) -> None:
        if executor is not None and not isinstance(executor, cf.Executor):
            raise TypeError(
                f"executor must be a concurrent.futures.Executor (e.g. "
                f"distributed.Client(...).get_executor()), got {executor!r}"
            )
        if n_workers is not None:
            check_workers(n_workers)
        self.owned = executor is None
        self.inline = executor is None and (
            n_workers == 1 or (n_workers is None and default_inline)
        )
        self.n_workers = 1 if self.inline else (n_workers or default_workers())
        self.limit_threads = executor is not None
        self._max_rebuilds = max_rebuilds
        self.rebuilds = 0
        self.executor: cf.Executor = executor or self._make()
        self._dask = type(self.executor).__module__.startswith("distributed.")

    def _make(self) -> cf.Executor:
        if self.inline:
            return InlineExecutor()
        check_main_guard()
        return process_pool(self.n_workers)

    @property
    def pickles(self) -> bool:
        """Whether work sent to the pool is pickled with the standard pickle (a local process
        pool: a lambda cannot go; Dask's cloudpickle can send one)."""
        return not self.inline and isinstance(self.executor, cf.ProcessPoolExecutor)

    def check_sendable(self, obj: object, what: str) -> None:
        """TypeError naming ``what`` when ``obj`` cannot reach this pool's workers."""
        if self.pickles:
            check_sendable(obj, what)

    @property
    def capacity(self) -> int:
        """How many tasks to keep in flight: the workers, or Dask's thread count."""
        if not self.owned:
            counter = getattr(self.executor, "_client", None)
            if counter is not None:
                try:
                    return max(1, sum(counter.nthreads().values()))
                except Exception:
                    return default_workers()
            return getattr(self.executor, "_max_workers", None) or default_workers()
        return self.n_workers

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future:
        if self._dask:
            # Dask would treat equal tasks (a re-run trial) as one and hand back the old result
            return self.executor.submit(fn, *args, pure=False)
        return self.executor.submit(fn, *args)

    def rebuild(self, error: BaseException) -> None:
        """Replaces a broken local pool (re-raising ``error`` for a foreign executor or after
        too many rebuilds)."""
        if not self.owned or self.rebuilds >= self._max_rebuilds:
            raise error
        self.rebuilds += 1
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._make()

    def kill(self) -> None:
        """Terminates a local pool's processes (one is stuck in a task that timed out) and
        starts a fresh pool; a foreign executor is left alone (its task is only abandoned)."""
        if not self.owned or self.inline:
            return
        processes = getattr(self.executor, "_processes", None) or {}
        for process in list(processes.values()):
            process.terminate()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._make()

    def close(self) -> None:
        """Shuts an owned pool down. A local pool's processes get ``SHUTDOWN_TIMEOUT`` seconds
        to finish, then are terminated: a shutdown never waits without bound (a pool whose task
        could not be pickled can deadlock in ``shutdown(wait=True)``, cpython#116685)."""
        if not self.owned:
            return
        processes = list((getattr(self.executor, "_processes", None) or {}).values())
        # shutdown(wait=False) drops the pool's queues: kept alive here until the workers are
        # gone, or their semaphores vanish under a worker still starting up
        queues = [getattr(self.executor, q, None) for q in ("_call_queue", "_result_queue")]
        self.executor.shutdown(wait=not processes, cancel_futures=True)
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(1.0)
        del queues

    def __enter__(self) -> WorkPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_all(
    pool: WorkPool,
    fn: Callable[[Any], Any],
    next_tasks: Callable[[int], list[Any]],
    on_done: Callable[[Any, Any], None],
    *,
    timeout: float | None = None,
    on_timeout: Callable[[Any], None] | None = None,
) -> None:
    """Runs ``fn(task)`` on ``pool`` for the tasks ``next_tasks(free)`` hands out (at most
    ``free``; it is asked again whenever a worker is free), calling ``on_done(task, result)`` in
    the driver as each finishes (results that arrive together in task ``order``). Stops when
    nothing is in flight and ``next_tasks`` has nothing more. A task whose worker died is run
    again (a broken local pool is rebuilt). Exceptions raised by ``fn`` propagate: catch them
    inside ``fn``. With ``timeout`` (seconds), a task still running after that long is given up:
    ``on_timeout(task)`` is called, and a local pool is replaced (its stuck process killed) with
    the other tasks in flight run again."""
    if pool.inline:
        # in the driver, one task at a time: no futures to wait on, no timeout to watch
        while tasks := next_tasks(1):
            for task in tasks:
                on_done(task, fn(task))
        return
    retry: list[Any] = []
    flying: dict[cf.Future, Any] = {}
    started: dict[cf.Future, float] = {}
    capacity = pool.capacity

    def restart(error: BaseException) -> None:
        # the local pool broke (a worker died): every task in flight runs again on a new pool
        retry.extend(flying.values())
        flying.clear()
        started.clear()
        pool.rebuild(error)

    def submit(task: Any) -> None:
        try:
            future = pool.submit(fn, task)
        except cf.BrokenExecutor as error:
            # a worker died after the last wait returned: the pool refuses new work
            restart(error)
            future = pool.submit(fn, task)
        flying[future] = task
        started[future] = time.monotonic()

    try:
        while True:
            free = capacity - len(flying)
            while retry and free > 0:
                submit(retry.pop(0))
                free -= 1
            if free > 0:
                for task in next_tasks(free):
                    submit(task)
            if not flying:
                return
            wait = None
            if timeout is not None:
                wait = max(0.0, min(started[f] for f in flying) + timeout - time.monotonic())
            done, _ = cf.wait(list(flying), timeout=wait, return_when=cf.FIRST_COMPLETED)
            if not done and timeout is not None:
                now = time.monotonic()
                late = [f for f in flying if now - started[f] >= timeout and not f.done()]
                for future in late:
                    future.cancel()
                    task = flying.pop(future)
                    if on_timeout is not None:
                        on_timeout(task)
                if late and pool.owned and not pool.inline:
                    retry.extend(flying.values())
                    flying.clear()
                    pool.kill()
                continue
            broken: BaseException | None = None
            for future in sorted(done, key=lambda f: _order(flying[f])):
                task = flying.pop(future)
                started.pop(future, None)
                try:
                    result = future.result()
                except cf.BrokenExecutor as e:
                    broken = e
                    retry.append(task)
                    continue
                on_done(task, result)
            if broken is not None:
                restart(broken)
    finally:
        for future in flying:
            future.cancel()


def _order(task: Any) -> Any:
    return getattr(task, "order", 0)
