"""Failures are never silent and nothing is lost (the command line's side): bad --set values,
a run whose trials fail, a changed study file, Ctrl-C, unreadable files, missing directories,
a resumed run's progress. Through subprocesses, as a user meets them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


def bntune(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "bntune", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300, check=False)  # fmt: skip


def study_toml(tmp_path: Path, *, mode="random", trials=4, extra_search="", objective=None,
               name="s", storage=None) -> Path:  # fmt: skip
    objective = objective or 'function = "failure_helpers:raises_above_half"'
    where = "" if storage is None else f'storage = "{storage}"\n'
    path = tmp_path / "study.toml"
    path.write_text(
        f'[study]\nname = "{name}"\nseed = 0\n{where}\n'
        f'[search]\nmode = "{mode}"\ntrials = {trials}\n{extra_search}\n'
        f"[objective]\n{objective}\n\n"
        f'[space]\nx = {{ scale = "linear", low = 0.0, high = 1.0 }}\n'
    )
    return path


# ---- 1. babysit --set refuses bad values before writing anything ---------------------------


@pytest.fixture(scope="module")
def panda_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("panda")
    result = bntune("demo", "--mode", "panda", "--epochs", "2", "--quiet", "--out", out)
    assert result.returncode == 0, result.stderr
    return out / "study.db"


@pytest.mark.parametrize(("value", "why"), [("-5", "must be > 0"), ("abc", "must be a number")])
def test_babysit_refuses_a_bad_set_value_and_writes_nothing(panda_study, value, why):
    from bntune import tune

    def snapshot():
        with tune.Study(tune_name(panda_study), storage=panda_study, read_only=True) as s:
            t = s.trials[0]
            return t.state, t.value, len(t.events), dict(t.curve)

    before = snapshot()
    result = bntune("babysit", panda_study, "--trial", "0", "--set", f"lr={value}",
                    "--epochs", "2")  # fmt: skip
    assert result.returncode == 2
    assert "--set: lr=" in result.stderr
    assert why in result.stderr
    assert "continuing" not in result.stdout
    assert snapshot() == before
    again = bntune("babysit", panda_study, "--trial", "0", "--set", "lr=0.05", "--epochs", "1")
    assert again.returncode == 0, again.stderr


def tune_name(path: Path) -> str:
    from bntune.cli.studyfile import pick_study

    return pick_study(path, None)


# ---- 4. a run whose trials all fail exits 1 and says why ------------------------------------


def test_run_whose_trials_all_fail_exits_1_with_the_error(tmp_path):
    path = study_toml(tmp_path, objective='function = "failure_helpers:always_raises"')
    result = bntune("run", path, "--quiet")
    assert result.returncode == 1
    assert "all 4 trials failed" in result.stderr
    assert "ValueError: the objective has a bug" in result.stderr
    assert "--retry-failed" in result.stderr


def test_run_with_some_failures_reports_the_count_and_first_error(tmp_path):
    result = bntune("run", study_toml(tmp_path, trials=8), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "trials failed" in result.stderr
    assert "ValueError: x too large" in result.stderr


# ---- 5. --retry-failed ----------------------------------------------------------------------


def test_run_retry_failed_reruns_them_after_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("BNTUNE_TEST_FIXED", str(tmp_path / "fixed"))
    path = study_toml(tmp_path, objective='function = "failure_helpers:fixed_by_a_file"')
    assert bntune("run", path, "--quiet").returncode == 1
    (tmp_path / "fixed").touch()
    again = bntune("run", path, "--quiet")
    assert again.returncode == 1  # nothing new ran: the hint says how to retry
    assert "--retry-failed" in again.stderr
    retried = bntune("run", path, "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    assert "4 complete" in bntune("show", tmp_path / "s.db").stdout


# ---- 7. a changed study file says what will happen -----------------------------------------


def test_a_changed_trials_per_round_is_refused_naming_the_key(tmp_path):
    objective = 'function = "failure_helpers:slow"'
    path = study_toml(tmp_path, mode="coarse-to-fine", trials=3, extra_search="rounds = 2",
                      objective=objective)  # fmt: skip
    assert bntune("run", path, "--quiet").returncode == 0
    study_toml(tmp_path, mode="coarse-to-fine", trials=5, extra_search="rounds = 2",
               objective=objective)  # fmt: skip
    result = bntune("run", path, "--quiet")
    assert result.returncode == 2
    assert "search.trials changed since this study ran (3 -> 5)" in result.stderr
    from bntune import tune

    with tune.Study("s", storage=tmp_path / "s.db", read_only=True) as study:
        assert len(study.trials) == 6  # nothing ran


def test_coarse_to_fine_runs_the_method_the_study_file_names(tmp_path):
    from bntune import tune

    objective = 'function = "failure_helpers:slow"'
    for method in ("adaptive", "zoom"):
        (tmp_path / method).mkdir()
        search = f'rounds = 3\nmethod = "{method}"'
        path = study_toml(tmp_path / method, mode="coarse-to-fine", trials=3,
                          extra_search=search, objective=objective)  # fmt: skip
        assert bntune("run", path, "--quiet").returncode == 0
        with tune.Study("s", storage=tmp_path / method / "s.db", read_only=True) as study:
            assert len(study.trials) == 9
            assert sorted(study.boxes) == [1, 2, 3]
            runs = {t.stream.split(":")[0] for t in study.trials}
            assert runs == {"c2f-adaptive" if method == "adaptive" else "c2f"}


def test_a_study_run_before_search_method_existed_resumes_as_zoom(tmp_path):
    """A study recorded without search.method ran the zoom rule: leaving the key out now
    (adaptive) is refused naming it; method = "zoom" resumes."""
    import json

    from bntune import tune

    objective = 'function = "failure_helpers:slow"'
    path = study_toml(tmp_path, mode="coarse-to-fine", trials=3,
                      extra_search='rounds = 2\nmethod = "zoom"', objective=objective)  # fmt: skip
    assert bntune("run", path, "--quiet").returncode == 0
    with tune.Study("s", storage=tmp_path / "s.db") as study:  # the record an older bntune wrote
        recorded = json.loads(study.storage.meta("cli.settings/s"))
        del recorded["method"]
        study.storage.set_meta({"cli.settings/s": json.dumps(recorded)})
    study_toml(tmp_path, mode="coarse-to-fine", trials=3, extra_search="rounds = 3",
               objective=objective)  # fmt: skip
    refused = bntune("run", path, "--quiet")
    assert refused.returncode == 2
    assert 'search.method changed since this study ran ("zoom" -> "adaptive")' in refused.stderr
    study_toml(tmp_path, mode="coarse-to-fine", trials=3,
               extra_search='rounds = 3\nmethod = "zoom"', objective=objective)  # fmt: skip
    resumed = bntune("run", path, "--quiet")
    assert resumed.returncode == 0, resumed.stderr


def test_a_changed_objective_is_refused(tmp_path):
    path = study_toml(tmp_path, objective='function = "failure_helpers:slow"')
    assert bntune("run", path, "--quiet").returncode == 0
    study_toml(tmp_path, objective='function = "failure_helpers:raises_above_half"')
    result = bntune("run", path)
    assert result.returncode == 2
    assert "objective changed since this study ran" in result.stderr


def test_more_random_trials_extend_the_same_design(tmp_path):
    objective = 'function = "failure_helpers:slow"'
    path = study_toml(tmp_path, trials=3, objective=objective)
    assert bntune("run", path, "--quiet").returncode == 0
    study_toml(tmp_path, trials=5, objective=objective)
    result = bntune("run", path)
    assert result.returncode == 0, result.stderr
    assert "search.trials raised from 3 to 5: extending the same design" in result.stdout
    from bntune import tune

    with tune.Study("s", storage=tmp_path / "s.db", read_only=True) as study:
        fresh = tune.Study("fresh", seed=0)
        fresh.optimize(lambda t: t.params["x"], tune.Space(x=tune.Uniform(0.0, 1.0)),
                       n_trials=5, sampler="random")  # fmt: skip
        assert [t.params for t in study.trials] == [t.params for t in fresh.trials]


# ---- 11. a resumed run's progress starts where the study stands ----------------------------


def test_a_resumed_runs_progress_starts_at_the_trials_done(tmp_path, monkeypatch):
    from bntune import tune
    from bntune.cli import runner
    from bntune.cli.modes import Run

    seen = []

    class Recording(runner.Progress):
        def close(self):
            seen.append((self.done, self.total))
            super().close()

    monkeypatch.setattr(runner, "Progress", Recording)
    space = tune.Space(x=tune.Uniform(0.0, 1.0))
    study = tune.Study("s", seed=0)
    study.optimize(lambda t: t.params["x"], space, n_trials=15, sampler="random")
    with warnings.catch_warnings():
        # resuming is what running a configuration again means: no ResumedWarning here
        warnings.simplefilter("error", tune.ResumedWarning)
        runner.run_mode(study, lambda t: t.params["x"], space, mode="random", quiet=True,
                        run=Run(trials=60, sampler="random", workers=1))  # fmt: skip
    assert seen == [(60, 60)]
    with pytest.warns(tune.ResumedWarning, match="nothing to run; pass n_trials=120 for 60 more"):
        study.optimize(lambda t: t.params["x"], space, n_trials=60, sampler="random")


def test_the_watchers_count_includes_the_trials_done_before(tmp_path):
    from bntune import tune
    from bntune.cli.progress import Progress, StudyWatcher

    with tune.Study("s", storage=tmp_path / "s.db", seed=0) as study:
        study.optimize(lambda t: t.params["x"], tune.Space(x=tune.Uniform(0, 1)), n_trials=7)
        progress = Progress(20, quiet=True)
        with StudyWatcher(tmp_path / "s.db", "s", progress) as watcher:
            watcher.poll()
        assert (progress.done, progress.total) == (7, 20)


# ---- 12. Ctrl-C: one line, saved, resumable ------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_says_the_study_is_saved_in_one_line_and_the_run_resumes(tmp_path, workers):
    # 60 trials of 0.2 s: the run lasts 6-12 s, so the Ctrl-C sent once a first trial is saved
    # lands mid-run even when a loaded machine slows the polling below (30 trials left 3 s)
    path = study_toml(tmp_path, trials=60, objective='function = "failure_helpers:slow"',
                      extra_search=f"workers = {workers}")  # fmt: skip
    paths = [str(TESTS), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    process = subprocess.Popen([sys.executable, "-m", "bntune", "run", str(path), "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)  # fmt: skip
    db = tmp_path / "s.db"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _finished_trials(db):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert f"every finished trial is saved in {db}" in lines[0]
    assert "run the same command again to resume".lower() in lines[0].lower()
    resumed = bntune("run", path, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert "fix the objective" not in resumed.stderr  # a Ctrl-C is not the objective's failure
    from bntune import tune

    with tune.Study("s", storage=db, read_only=True) as study:
        complete = [t for t in study.trials if t.state == "complete"]
        assert sorted(t.params["x"] for t in complete) == sorted(
            c["x"]
            for c in tune.Space(x=tune.Uniform(0.0, 1.0)).sample(60, sampler="random", seed=0)
        )


def test_a_trial_cut_short_by_ctrl_c_is_not_blamed_on_the_objective(tmp_path, monkeypatch):
    monkeypatch.setenv("BNTUNE_TEST_INTERRUPTED", str(tmp_path / "interrupted"))
    path = study_toml(tmp_path, trials=6, objective='function = "failure_helpers:interrupted_once"',
                      extra_search="workers = 1")  # fmt: skip
    first = bntune("run", path, "--quiet")
    assert first.returncode == 130, first.stderr
    resumed = bntune("run", path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming study 's': 2 trials done, 1 interrupted (to run again)" in resumed.stdout
    assert "failed" not in resumed.stderr
    assert "fix the objective" not in resumed.stderr

    # what is stored, read straight from the SQLite file: trial 2 failed with the Ctrl-C and
    # marked to run again, then its configuration ran as trial 3; every point completed
    import sqlite3

    with sqlite3.connect(tmp_path / "s.db") as db:
        rows = db.execute("SELECT number, seq, state, rerun, error FROM trials ORDER BY number")
        stored = rows.fetchall()
    assert [(n, seq, state, rerun) for n, seq, state, rerun, _ in stored] == [
        (0, 0, "complete", 0), (1, 1, "complete", 0), (2, 2, "failed", 1),
        (3, 2, "complete", 0), (4, 3, "complete", 0), (5, 4, "complete", 0),
        (6, 5, "complete", 0),
    ]  # fmt: skip
    assert stored[2][4].rstrip().endswith("KeyboardInterrupt")
    shown = bntune("show", tmp_path / "s.db")
    assert "7 trials: 6 complete, 1 interrupted\n" in shown.stdout


def _finished_trials(db: Path) -> int:
    if not db.exists():
        return 0
    from bntune import tune

    try:
        with tune.Study("s", storage=db, read_only=True) as study:
            return len(study.trials)
    except (tune.StorageError, ValueError):
        return 0


# ---- 13. unreadable inputs: exit 2 and one line ---------------------------------------------


def test_run_on_a_binary_file_exits_2_with_one_line(tmp_path):
    path = tmp_path / "some.db"
    path.write_bytes(b"SQLite format 3\x00\xff\xfe\x00\x01" * 20)
    result = bntune("run", path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not a UTF-8 text file" in result.stderr


def test_run_with_a_foreign_storage_exits_2_with_one_line(tmp_path):
    (tmp_path / "foreign.db").write_bytes(b"this is not a database at all" * 10)
    result = bntune("run", study_toml(tmp_path, storage="foreign.db"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "study.storage" in result.stderr
    assert "not a SQLite database" in result.stderr


# ---- 14. a storage in a missing directory is refused, not created ---------------------------


def test_run_with_storage_in_a_missing_directory_exits_2_and_creates_nothing(tmp_path):
    missing = tmp_path / "nowhere"
    result = bntune("run", study_toml(tmp_path, storage=f"{missing}/x.db"))
    assert result.returncode == 2
    assert f"study.storage: directory {missing} does not exist" in result.stderr
    assert not missing.exists()


# ---- a conditional space in a study file ------------------------------------------------------


def test_a_study_file_declares_a_conditional_space(tmp_path):
    import shutil

    path = tmp_path / "study.toml"
    shutil.copy(TESTS / "fixtures" / "study_conditional.toml", path)
    result = bntune("run", path, "--quiet")  # the objective refuses another branch's params
    assert result.returncode == 0, result.stderr
    shown = bntune("show", tmp_path / "conditional.db").stdout
    header = next(line for line in shown.splitlines() if line.startswith("rank"))
    assert {"optimizer", "lr", "layers"} <= set(header.split())
    assert "None" not in shown  # an inactive parameter shows as "-"
    bad = path.read_text().replace('mode = "random"', 'mode = "caviar"')
    path.write_text(bad.replace('function = "failure_helpers:conditional_from_file"',
                                'trainable = "bntune.tune:MLPTrainable"'))  # fmt: skip
    refused = bntune("run", path)
    assert refused.returncode == 2
    assert "space: a conditional choice" in refused.stderr
