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
            pid, host, heartbeat = current
            raise StudyLocked(
                f"study {study_name!r} in {self.storage.path!r} is driven by pid {pid} on host "
                f"{host!r} (heartbeat {now - heartbeat:.1f} s ago); one driver per study — "
                f"wait for it, or stop it (a dead driver's lease is taken over)"
            )

    def release(self) -> None:
        """Stops the heartbeat and deletes the lease (if it is still ours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.storage.release_lease(self.study_id, self.token)
