"""Reading a study needs no lease: ``bntune show``/``plot``/``babysit`` (without --epochs) and
``tune.Study(..., read_only=True)`` work while a driver in another process is in the middle of a
trial; anything that would run trials still needs the lease. Values are checked against the
fixture objective's formula, not against what the tuner printed."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bntune import tune
from test_cli import FIXTURES, bntune, fixture_objective

DONE = 6  # trials the driver completes before it stops inside the next one

SPACE = tune.Space(
    lr=tune.LogUniform(1e-4, 1.0),
    momentum=tune.OneMinusLogUniform(0.9, 0.999),
    width=tune.Uniform(-1.0, 1.0),
)


def _driver(db: Path, go: Path) -> subprocess.Popen:
    """A process that drives study "live" in ``db``: it completes DONE trials of the fixture
    objective, then waits inside trial DONE until ``go`` exists (holding the lease meanwhile)."""
    code = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(FIXTURES)!r})
        import fixture_objective
        from bntune import tune

        def objective(trial):
            if trial.number == {DONE}:
                print("inside", flush=True)
                deadline = time.time() + 120
                while not os.path.exists({str(go)!r}) and time.time() < deadline:
                    time.sleep(0.05)
            return fixture_objective.value(trial.params)

        space = tune.Space(
            lr=tune.LogUniform(1e-4, 1.0),
            momentum=tune.OneMinusLogUniform(0.9, 0.999),
            width=tune.Uniform(-1.0, 1.0),
        )
        with tune.Study("live", storage={str(db)!r}, seed=3) as study:
            study.optimize(objective, space, n_trials={DONE + 1}, sampler="random")
        print("finished", flush=True)
    """)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def _stored(db: Path) -> list[tuple[int, str, float | None, dict]]:
    """(number, state, value, params) of every trial, straight from the SQLite file."""
    import json

    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT number, state, value, params FROM trials ORDER BY number")
        return [(n, s, v, json.loads(p)) for n, s, v, p in rows]
    finally:
        conn.close()


def test_show_plot_and_reading_work_while_a_driver_runs_and_writing_is_locked(tmp_path):
    pytest.importorskip("matplotlib")
    db, go = tmp_path / "live.db", tmp_path / "go"
    driver = _driver(db, go)
    try:
        assert driver.stdout is not None
        assert driver.stdout.readline().strip() == "inside"
        stored = _stored(db)
        complete = [(n, fixture_objective.value(p)) for n, s, _, p in stored if s == "complete"]
        assert len(complete) == DONE
        assert [s for _, s, _, _ in stored].count("running") == 1
        best_number, best_value = min(complete, key=lambda nv: nv[1])

        shown = bntune("show", db)
        assert shown.returncode == 0, shown.stderr
        assert f"{DONE + 1} trials: {DONE} complete, 1 running" in shown.stdout
        assert f"best: trial {best_number} " in shown.stdout
        # the leaderboard's first row: rank 1, the best trial by the formula, its value
        first_row = shown.stdout.split("rank", 1)[1].splitlines()[1].split()
        assert first_row[:2] == ["1", str(best_number)]
        assert float(first_row[3]) == pytest.approx(best_value, abs=5e-5)

        plotted = bntune("plot", db, "--out", tmp_path / "plots")
        assert plotted.returncode == 0, plotted.stderr
        drawn = [Path(line) for line in plotted.stdout.split()]
        assert "objective_vs_params.png" in [p.name for p in drawn]
        for path in drawn:
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        looked = bntune("babysit", db, "--trial", str(best_number))
        assert looked.returncode == 0, looked.stderr

        with tune.Study("live", storage=db, read_only=True) as view:
            assert view.seed == 3
            values = {t.number: t.value for t in view.trials if t.state == "complete"}
            assert values == pytest.approx(dict(complete), rel=1e-12)
            assert view.best_trial.number == best_number
            with pytest.raises(tune.StudyReadOnly, match="read_only=True"):
                view.optimize(fixture_objective.objective, SPACE, n_trials=DONE + 3)
            with pytest.raises(tune.StudyReadOnly):
                view.coarse_to_fine(
                    fixture_objective.objective, SPACE, rounds=2, trials_per_round=2
                )

        # writing still needs the lease, which the driver holds
        with pytest.raises(tune.StudyLocked, match=rf"pid {driver.pid}"):
            tune.Study("live", storage=db)
        continued = bntune("babysit", db, "--trial", "0", "--epochs", "1",
                           "--trainable", "bntune.tune:MLPTrainable")  # fmt: skip
        assert continued.returncode == 1
        assert f"pid {driver.pid}" in continued.stderr
        # nothing the readers did changed the file
        assert _stored(db) == stored
    finally:
        go.touch()
        out, _ = driver.communicate(timeout=120)
    assert driver.returncode == 0
    assert out.strip() == "finished"
    final = _stored(db)
    assert [s for _, s, _, _ in final] == ["complete"] * (DONE + 1)
    for _, _, value, params in final:
        assert value == pytest.approx(fixture_objective.value(params), rel=1e-12)


def test_a_read_only_view_reports_a_dead_drivers_trial_as_interrupted(tmp_path):
    db, go = tmp_path / "live.db", tmp_path / "go"
    driver = _driver(db, go)
    assert driver.stdout is not None
    assert driver.stdout.readline().strip() == "inside"
    with tune.Study("live", storage=db, read_only=True) as view:
        assert [t.state for t in view.trials].count("running") == 1  # its driver is alive
    driver.kill()  # SIGKILL: no chance to release the lease or finish the trial
    driver.communicate(timeout=60)
    stored = _stored(db)
    assert [s for _, s, _, _ in stored].count("running") == 1  # the file still says running
    with tune.Study("live", storage=db, read_only=True) as view:
        states = [t.state for t in view.trials]
        interrupted = [t for t in view.trials if t.number == DONE]
    assert states == ["complete"] * DONE + ["failed"]
    assert interrupted[0].error.startswith("interrupted")
    shown = bntune("show", db)
    assert shown.returncode == 0, shown.stderr
    assert f"{DONE + 1} trials: {DONE} complete, 1 interrupted" in shown.stdout
    assert _stored(db) == stored  # reading changed nothing
    # the next driver records what the view showed
    with tune.Study("live", storage=db) as study:
        assert [t.state for t in study.trials] == states
        assert study.trials[DONE].error == interrupted[0].error


def test_read_only_never_creates_or_migrates_and_takes_the_stored_direction(tmp_path):
    missing = tmp_path / "missing.db"
    with pytest.raises(tune.StorageError, match="does not exist"):
        tune.Study("s", storage=missing, read_only=True)
    assert not missing.exists()
    with pytest.raises(ValueError, match="read_only needs storage"):
        tune.Study("s", read_only=True)
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(tune.StorageError, match="empty"):
        tune.Study("s", storage=empty, read_only=True)
    assert empty.stat().st_size == 0

    db = tmp_path / "up.db"
    with tune.Study("up", storage=db, direction="maximize", seed=1) as study:
        study.optimize(lambda t: -((t.params["width"] - 0.25) ** 2), SPACE, n_trials=8)
    with pytest.raises(ValueError, match="no study named 'other'"):
        tune.Study("other", storage=db, read_only=True)
    with pytest.raises(ValueError, match="direction"):
        tune.Study("up", storage=db, direction="minimize", read_only=True)
    with pytest.raises(ValueError, match="seed"):
        tune.Study("up", storage=db, seed=2, read_only=True)
    with tune.Study("up", storage=db, read_only=True) as view:
        assert view.direction == "maximize"
        widths = [t.params["width"] for t in view.trials]
        best = max(widths, key=lambda w: -((w - 0.25) ** 2))
        assert view.best_trial.params["width"] == best
    # `bntune show` of a maximizing study: the stored direction, no error
    shown = bntune("show", db)
    assert shown.returncode == 0, shown.stderr
    assert "(maximize, seed 1)" in shown.stdout


def test_show_into_a_closed_pipe_stops_without_a_traceback(tmp_path):
    db = tmp_path / "s.db"
    with tune.Study("s", storage=db, seed=0) as study:
        study.optimize(lambda t: t.params["width"], SPACE, n_trials=16)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written (`| head -0`)
    try:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        result = subprocess.run([sys.executable, "-m", "bntune", "show", str(db)],
                                stdout=write_end, stderr=subprocess.PIPE, text=True, env=env,
                                timeout=120, check=False)  # fmt: skip
    finally:
        os.close(write_end)
    assert result.returncode == 1
    assert result.stderr == ""
