"""One driver per study: a lease (pid, host, heartbeat) kept by the storage.

The driver takes the lease when it opens a study and refreshes its heartbeat from a background
thread. A second driver gets :class:`StudyLocked` while the lease is alive; a lease whose owner
is gone — its pid is dead on this host, or its heartbeat is older than the timeout — is taken
over. Storage in this process has no other driver to exclude: its lease always succeeds.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

from bntune.tune.errors import StudyLocked
from bntune.tune.storage import Holder, Storage

#: seconds without a heartbeat after which a lease counts as abandoned
DEFAULT_LEASE_TIMEOUT = 60.0


def holder_alive(holder: Holder, timeout: float, now: float) -> bool:
    """Whether the driver holding a lease is alive: it beat within ``timeout`` seconds and, on
    this host, its pid still exists."""
    pid, host, heartbeat = holder
    if now - heartbeat > timeout:
        return False
    return not (host == socket.gethostname() and not pid_alive(pid))


def driver_alive(storage: Storage, study_id: int, timeout: float) -> bool:
    """Whether some live driver holds the study's lease (no lease: no driver)."""
    holder = storage.lease_holder(study_id)
    return holder is not None and holder_alive(holder, timeout, time.time())


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (signal 0 probes without sending)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


class Lease:
    """The lease of study ``study_id`` held by this process, with its heartbeat thread."""

    def __init__(
        self,
        storage: Storage,
        study_id: int,
        study_name: str,
        timeout: float = DEFAULT_LEASE_TIMEOUT,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"lease_timeout must be > 0 seconds, got {timeout!r}")
        self.storage = storage
        self.study_id = study_id
        self.timeout = float(timeout)
        self.token = uuid.uuid4().hex
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._acquire(study_name)
        if storage.path is not None:
            self._thread = threading.Thread(
                target=storage.keep_lease,
                args=(study_id, self.token, self._stop, self.timeout / 6, self.timeout),
                name=f"bntune-lease-{study_name}",
                daemon=True,
            )
            self._thread.start()

    def _acquire(self, study_name: str) -> None:
        now = time.time()
        current = self.storage.acquire_lease(
            self.study_id,
            self.token,
            (self.pid, self.host, now),
            lambda holder: holder_alive(holder, self.timeout, now),
        )
        if current is not None:
            raise StudyLocked(self._held_by(study_name, current, now))

    def _held_by(self, study_name: str, holder: Holder, now: float) -> str:
        """Why the lease cannot be taken: who holds it, and what to do about it."""
        pid, host, heartbeat = holder
        where = f"study {study_name!r} in {self.storage.path!r}"
        if pid == self.pid and host == self.host:
            # waiting would never end: the holder is a Study object of this very process
            # (a notebook cell run again, a second Study(...) of the same file)
            return (
                f"{where} is already open in this process (pid {pid}): another tune.Study "
                f"object of this process holds its lease; one driver per study — reuse that "
                f"object, or call its close() first (or open it with `with tune.Study(...) as "
                f"study:`), then open the study again"
            )
        return (
            f"{where} is driven by pid {pid} on host {host!r} (heartbeat "
            f"{now - heartbeat:.1f} s ago); one driver per study — wait for it, or stop it (a "
            f"dead driver's lease is taken over)"
        )

    def release(self) -> None:
        """Stops the heartbeat and deletes the lease (if it is still ours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.storage.release_lease(self.study_id, self.token)
