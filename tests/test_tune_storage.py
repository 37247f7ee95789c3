"""The study database: lease (live, stale), schema check, foreign and corrupt files, and a
driver killed with SIGKILL in the middle of a study."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest

from bntune import tune
from bntune.tune.storage import SCHEMA_VERSION
from tune_helpers import needs_qmc

SPACE = tune.Space(k=tune.IntUniform(0, 3))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_second_driver_gets_study_locked_while_the_first_is_open(tmp_path):
    path = tmp_path / "s.db"
    first = tune.Study("s", storage=path, seed=0)
    with pytest.raises(tune.StudyLocked, match=rf"pid {os.getpid()}"):
        tune.Study("s", storage=path)
    # another study in the same file has its own lease
    tune.Study("other", storage=path).close()
    first.close()
    tune.Study("s", storage=path).close()


def test_reopening_in_the_same_process_says_this_process_holds_the_lease(tmp_path):
    # a notebook cell that creates the study, run again while the first object is alive
    path = tmp_path / "s.db"
    first = tune.Study("s", storage=path, seed=0)
    first.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    with pytest.raises(tune.StudyLocked) as info:
        tune.Study("s", storage=path, seed=0)
    message = str(info.value)
    assert f"pid {os.getpid()}" in message
    assert "this process" in message
    assert "close()" in message
    assert "wait for it" not in message  # waiting on itself would never end
    # the rule stands: the first object still drives the study, and the file still refuses a
    # second one until it is closed
    first.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4)
    with pytest.raises(tune.StudyLocked, match="this process"):
        tune.Study("s", storage=path)
    first.close()
    with tune.Study("s", storage=path) as again:
        assert len(again.trials) == 4


def test_a_lease_of_another_pid_on_this_host_is_not_called_this_process(tmp_path):
    path = tmp_path / "s.db"
    study = tune.Study("s", storage=path, lease_timeout=30)
    study._lease._stop.set()
    _set_lease(path, pid=os.getppid(), heartbeat=time.time())  # alive, not this process
    with pytest.raises(tune.StudyLocked, match=rf"driven by pid {os.getppid()}.*wait for it"):
        tune.Study("s", storage=path, lease_timeout=30)
    study.close()


def test_live_driver_in_another_process_locks_and_its_death_frees(tmp_path):
    path = tmp_path / "s.db"
    code = textwrap.dedent(f"""
        import sys, time
        from bntune import tune
        study = tune.Study("s", storage={str(path)!r}, seed=0)
        print("ready", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        with pytest.raises(tune.StudyLocked, match=rf"pid {proc.pid}"):
            tune.Study("s", storage=path)
    finally:
        proc.kill()
        proc.wait()
    # the owner's pid is dead on this host: the lease is taken over at once
    tune.Study("s", storage=path).close()


def _set_lease(path, **cols):
    conn = sqlite3.connect(path)
    sets = ", ".join(f"{k} = ?" for k in cols)
    conn.execute(f"UPDATE leases SET {sets}", tuple(cols.values()))
    conn.commit()
    conn.close()


def test_stale_leases_are_taken_over_and_fresh_foreign_ones_are_not(tmp_path):
    path = tmp_path / "s.db"
    study = tune.Study("s", storage=path, seed=0, lease_timeout=30)
    study._lease._stop.set()  # freeze its heartbeat thread; the row stays as the test sets it
    # a dead pid on this host
    _set_lease(path, pid=_dead_pid())
    tune.Study("s", storage=path).close()
    # the row was deleted on close; make a live-looking foreign one
    study2 = tune.Study("s", storage=path, lease_timeout=30)
    study2._lease._stop.set()
    _set_lease(path, host="elsewhere." + socket.gethostname(), pid=1, heartbeat=time.time())
    with pytest.raises(tune.StudyLocked, match="elsewhere"):
        tune.Study("s", storage=path, lease_timeout=30)
    # same foreign lease whose heartbeat is older than the timeout
    _set_lease(path, heartbeat=time.time() - 31)
    tune.Study("s", storage=path, lease_timeout=30).close()


def test_heartbeat_keeps_a_live_lease_fresh(tmp_path):
    path = tmp_path / "s.db"
    study = tune.Study("s", storage=path, lease_timeout=0.6)  # beats every 0.1 s
    conn = sqlite3.connect(path)
    (acquired,) = conn.execute("SELECT acquired FROM leases").fetchone()
    deadline = time.monotonic() + 30
    beat = acquired
    while beat == acquired and time.monotonic() < deadline:
        time.sleep(0.05)
        (beat,) = conn.execute("SELECT heartbeat FROM leases").fetchone()
    conn.close()
    assert beat > acquired
    study.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM leases").fetchone() == (0,)
    conn.close()


def test_two_processes_creating_one_new_file_both_succeed(tmp_path):
    path = tmp_path / "new.db"
    code = (
        "import sys; from bntune import tune; "
        "tune.Study(sys.argv[2], storage=sys.argv[1]).close(); print('ok')"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path), f"s{i}"], stdout=subprocess.PIPE, text=True
        )
        for i in range(3)
    ]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outs == ["ok"] * 3
    with tune.Study("s0", storage=path) as study:
        assert study.trials == []


def _refused_untouched(path, match=None):
    """Opening ``path`` as a study, to drive it or to read it, raises StorageError (matching
    ``match``) and leaves every byte of the file as it was."""
    before = path.read_bytes()
    for read_only in (False, True):
        with pytest.raises(tune.StorageError, match=match):
            tune.Study("s", storage=path, read_only=read_only)
        assert path.read_bytes() == before


def test_newer_schema_is_refused_untouched(tmp_path):
    path = tmp_path / "s.db"
    tune.Study("s", storage=path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    _refused_untouched(path, "newer")


def test_foreign_sqlite_database_is_refused_untouched(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    conn.execute("INSERT INTO customers VALUES (1, 'ada')")
    conn.commit()
    conn.close()
    _refused_untouched(path, "not a bntune study database")


def test_non_sqlite_and_corrupt_files_are_refused_untouched(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, these are my notes\n" * 100)
    _refused_untouched(text, "not a SQLite database")

    path = tmp_path / "s.db"
    with tune.Study("s", storage=path) as study:
        study.optimize(lambda t: 1.0, SPACE, n_trials=4, sampler="grid")
    data = bytearray(path.read_bytes())
    # keep the valid header, overwrite the schema page's content with garbage
    data[100:] = bytes((i * 37) % 251 for i in range(len(data) - 100))
    path.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"s.db{suffix}").unlink(missing_ok=True)
    _refused_untouched(path)


def test_full_durability_opens_and_stores(tmp_path):
    path = tmp_path / "s.db"
    with tune.Study("s", storage=path, durability="full") as study:
        assert study.storage.connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        study.optimize(lambda t: 1.0, SPACE, n_trials=4, sampler="grid")
    with tune.Study("s", storage=path) as study:
        assert study.storage.connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert study.storage.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert len(study.trials) == 4


DRIVER = """
import os, sys, time
from bntune import tune
path, log, n, hang_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
space = tune.Space(x=tune.Uniform(0, 1), y=tune.LogUniform(1e-3, 1))

def objective(trial):
    with open(log, "a") as f:
        f.write(f"{trial.params['x']!r} {trial.params['y']!r}\\n")
    if trial.number == hang_at:
        time.sleep(600)  # killed here, mid-evaluation
    time.sleep(0.002)
    trial.report(0, trial.params["x"])
    return trial.params["x"] + trial.params["y"]

study = tune.Study("kill", storage=path, seed=42)
study.optimize(objective, space, n_trials=n)
print("finished", flush=True)
"""


@needs_qmc
def test_sigkill_mid_study_loses_nothing_and_evaluates_no_completed_config_twice(tmp_path):
    path, log, n = tmp_path / "s.db", tmp_path / "evaluations.log", 60
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    args = [sys.executable, str(script), str(path), str(log), str(n)]
    proc = subprocess.Popen([*args, "25"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 26:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    conn = sqlite3.connect(path)
    before = conn.execute(
        "SELECT number, params, value FROM trials WHERE state = 'complete' ORDER BY number"
    ).fetchall()
    conn.close()
    assert len(before) == 25  # trials 0..24; trial 25 was running

    # the dead driver's lease is taken over; the run finishes
    done = subprocess.run([*args, "-1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "finished" in done.stdout

    conn = sqlite3.connect(path)
    after = conn.execute(
        "SELECT number, params, value FROM trials WHERE state = 'complete' ORDER BY number"
    ).fetchall()
    conn.close()
    assert after[: len(before)] == before  # nothing lost or changed
    assert len(after) == n
    configs = [p for _, p, _ in after]
    assert len(set(configs)) == n  # n distinct configurations, each complete once
    evaluations = log.read_text().splitlines()
    # every configuration evaluated once, except the one killed mid-evaluation
    assert len(evaluations) == n + 1
    counts = Counter(evaluations)
    for _, params, _ in before:
        p = json.loads(params)
        assert counts[f"{p['x']!r} {p['y']!r}"] == 1
    with tune.Study("kill", storage=path) as study:
        evaluated = {(t.params["x"], t.params["y"]) for t in study.trials if t.state == "complete"}
        failed = [t for t in study.trials if t.state == "failed"]
    assert len(evaluated) == n
    assert len(failed) == 1
    assert "interrupted" in failed[0].error
    assert failed[0].params in [t.params for t in study.trials if t.state == "complete"]
