"""One driver per study: a lease row (pid, host, heartbeat) in the database.

The driver takes the lease when it opens a study and refreshes its heartbeat from a background
thread. A second driver gets :class:`StudyLocked` while the lease is alive; a lease whose owner
is gone — its pid is dead on this host, or its heartbeat is older than the timeout — is taken
over.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
import uuid

from bntune.tune.errors import StudyLocked
from bntune.tune.storage import transaction

#: seconds without a heartbeat after which a lease counts as abandoned
DEFAULT_LEASE_TIMEOUT = 60.0


def holder_alive(pid: int, host: str, heartbeat: float, timeout: float, now: float) -> bool:
    """Whether the driver holding a lease is alive: it beat within ``timeout`` seconds and, on
    this host, its pid still exists."""
    if now - heartbeat > timeout:
        return False
    return not (host == socket.gethostname() and not pid_alive(pid))


def driver_alive(conn: sqlite3.Connection, study_id: int, timeout: float) -> bool:
    """Whether some live driver holds the study's lease (no lease row: no driver)."""
    row = conn.execute(
        "SELECT pid, host, heartbeat FROM leases WHERE study_id = ?", (study_id,)
    ).fetchone()
    return row is not None and holder_alive(*row, timeout, time.time())


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
        path: str | None,
        conn: sqlite3.Connection,
        study_id: int,
        study_name: str,
        timeout: float = DEFAULT_LEASE_TIMEOUT,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"lease_timeout must be > 0 seconds, got {timeout!r}")
        self.path = path
        self.study_id = study_id
        self.timeout = float(timeout)
        self.token = uuid.uuid4().hex
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._acquire(conn, study_name)
        if path is not None:
            self._thread = threading.Thread(
                target=self._beat, name=f"bntune-lease-{study_name}", daemon=True
            )
            self._thread.start()

    def _acquire(self, conn: sqlite3.Connection, study_name: str) -> None:
        now = time.time()
        with transaction(conn, immediate=True):
            row = conn.execute(
                "SELECT token, pid, host, heartbeat FROM leases WHERE study_id = ?",
                (self.study_id,),
            ).fetchone()
            if row is not None and self._alive(row, now):
                _, pid, host, heartbeat = row
                raise StudyLocked(
                    f"study {study_name!r} in {self.path!r} is driven by pid {pid} on host "
                    f"{host!r} (heartbeat {now - heartbeat:.1f} s ago); one driver per study — "
                    f"wait for it, or stop it (a dead driver's lease is taken over)"
                )
            conn.execute(
                "INSERT OR REPLACE INTO leases (study_id, token, pid, host, acquired, heartbeat) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (self.study_id, self.token, self.pid, self.host, now, now),
            )

    def _alive(self, row: tuple, now: float) -> bool:
        _, pid, host, heartbeat = row
        return holder_alive(pid, host, heartbeat, self.timeout, now)

    def _beat(self) -> None:
        # own connection: sqlite3 connections are not for concurrent use across threads
        interval = self.timeout / 6
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.timeout / 2)
        except sqlite3.Error:
            return
        try:
            while not self._stop.wait(interval):
                try:
                    conn.execute(
                        "UPDATE leases SET heartbeat = ? WHERE study_id = ? AND token = ?",
                        (time.time(), self.study_id, self.token),
                    )
                except sqlite3.Error:
                    continue  # busy: try again next beat, well within the timeout
        finally:
            conn.close()

    def release(self, conn: sqlite3.Connection) -> None:
        """Stop the heartbeat and delete the lease row (if it is still ours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        # a closed or broken connection: the lease will go stale on its own
        with contextlib.suppress(sqlite3.Error):
            conn.execute(
                "DELETE FROM leases WHERE study_id = ? AND token = ?", (self.study_id, self.token)
            )
