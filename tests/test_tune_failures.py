"""Failures are never silent and nothing is lost (the tuner's side): each test reproduces a
fault a new user met, with the behaviour now expected."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import warnings

import pytest

from bntune import tune
from failure_helpers import (
    always_raises,
    diverges_above_half,
    first_one_slow,
    fixed_by_a_file,
    raises_above_half,
    reports_in_optunas_order,
)

SPACE = tune.Space(x=tune.Uniform(0.0, 1.0))
TESTS = str(__import__("pathlib").Path(__file__).parent)


def _script(tmp_path, body: str) -> subprocess.CompletedProcess:
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(body))
    # the bntune under test (PYTHONPATH may point at another tree) and these tests' helpers
    paths = os.pathsep.join(p for p in (TESTS, os.environ.get("PYTHONPATH")) if p)
    env = {"PYTHONPATH": paths, "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=90, check=False)  # fmt: skip


# ---- 2. a lambda on worker processes: a clear error, never a hang --------------------------


def test_a_lambda_on_workers_is_refused_at_once_in_fresh_processes(tmp_path):
    body = """
        from bntune import tune

        if __name__ == "__main__":
            study = tune.Study("s", seed=0)
            study.optimize(lambda t: t.params["x"], tune.Space(x=tune.Uniform(0, 1)),
                           n_trials=12, n_workers=2)
    """
    for _ in range(5):  # it hung in 1 of 5 fresh runs before
        result = _script(tmp_path, body)
        assert result.returncode == 1
        assert "a lambda cannot be sent to worker processes" in result.stderr
        assert "n_workers=1" in result.stderr
        assert result.stderr.count("Traceback") == 1


def test_a_local_function_on_workers_names_the_objective():
    def local(trial):
        return trial.params["x"]

    with pytest.raises(TypeError, match=r"objective: .*local.* cannot be sent to worker"):
        tune.Study("s", seed=0).optimize(local, SPACE, n_trials=2, n_workers=2)


def test_an_unsendable_objective_is_fine_in_the_driver():
    study = tune.Study("s", seed=0)
    study.optimize(lambda t: t.params["x"], SPACE, n_trials=3, n_workers=1)
    assert len(study.trials) == 3


# ---- 3. no __main__ guard: one clear error, no broken pool, no misleading lock ------------


def test_a_script_without_a_main_guard_gets_one_clear_error(tmp_path):
    result = _script(tmp_path, """
        from bntune import tune
        from failure_helpers import slow

        study = tune.Study("s", storage="s.db", seed=0)
        study.optimize(slow, tune.Space(x=tune.Uniform(0, 1)), n_trials=4, n_workers=2)
        print("done")
    """)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.count("Traceback") == 1
    assert '`if __name__ == "__main__":` guard' in result.stderr
    assert "StudyLocked" not in result.stderr
    assert "BrokenProcessPool" not in result.stderr


def test_the_same_script_with_the_guard_runs(tmp_path):
    result = _script(tmp_path, """
        from bntune import tune
        from failure_helpers import slow

        if __name__ == "__main__":
            study = tune.Study("s", storage="s.db", seed=0)
            study.optimize(slow, tune.Space(x=tune.Uniform(0, 1)), n_trials=4, n_workers=2)
            print("done", len(study.trials))
    """)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "done 4" in result.stdout


# ---- 4. a run whose trials fail says so ----------------------------------------------------


def test_every_trial_failing_alike_raises_with_the_first_traceback_and_the_count():
    study = tune.Study("s", seed=0)
    with pytest.raises(tune.AllTrialsFailed, match="all 6 trials failed") as info:
        study.optimize(always_raises, SPACE, n_trials=6)
    assert "ValueError: the objective has a bug" in str(info.value)
    assert "retry_failed=True" in str(info.value)
    assert [t.state for t in study.trials] == ["failed"] * 6  # recorded all the same


def _raises_with_its_x(trial):
    raise ValueError(f"bad x {trial.params['x']}")


def _raises_two_ways(trial):
    if trial.params["x"] > 0.5:
        raise TypeError(f"x {trial.params['x']} is too large")
    raise ValueError(f"bad x {trial.params['x']}")


@pytest.mark.parametrize(
    ("objective", "error"),
    [(_raises_with_its_x, "ValueError: bad x {}"),
     (lambda t: str(t.params["x"]), "objective returned '{}', not a real number")],
)  # fmt: skip
def test_every_trial_failing_alike_but_for_the_values_in_the_message_raises(objective, error):
    study = tune.Study("s", seed=0)
    with pytest.raises(tune.AllTrialsFailed, match="all 6 trials failed") as info:
        study.optimize(objective, SPACE, n_trials=6)
    assert str(info.value).endswith(error.format(study.trials[0].params["x"]))  # the first's
    assert len({t.error for t in study.trials}) == 6  # six different messages


def test_trials_failing_with_two_different_errors_only_warn():
    study = tune.Study("s", seed=0)
    with pytest.warns(tune.FailedTrialsWarning, match="6 of 6 trials failed"):
        study.optimize(_raises_two_ways, SPACE, n_trials=6)


def test_coarse_to_fine_stops_after_a_round_whose_trials_all_failed_alike():
    study = tune.Study("s", seed=0)
    with pytest.raises(tune.AllTrialsFailed, match="all 5 trials failed"):
        study.coarse_to_fine(always_raises, SPACE, rounds=3, trials_per_round=5)
    assert len(study.trials) == 5


def test_some_trials_failing_warns_with_the_count_and_the_first_error():
    study = tune.Study("s", seed=0)
    with pytest.warns(tune.FailedTrialsWarning) as caught:
        study.optimize(raises_above_half, SPACE, n_trials=8)
    failed = [t for t in study.trials if t.state == "failed"]
    message = str(caught[0].message)
    assert f"{len(failed)} of 8 trials failed" in message
    assert f"the first (trial {failed[0].number}): ValueError: x too large" in message


def test_every_trial_diverging_warns_with_the_count_and_the_first_params():
    study = tune.Study("s", seed=0)
    with pytest.warns(tune.DivergedTrialsWarning) as caught:
        study.optimize(lambda t: math.nan * t.suggest_float("x", 0, 1), n_trials=20)
    assert len(caught) == 1  # once, at the end of the run
    first = study.trials[0]
    assert [t.state for t in study.trials] == ["diverged"] * 20
    message = str(caught[0].message)
    assert "20 of 20 trials diverged" in message
    assert "no trial has a value" in message
    assert f"(trial 0, params {{'x': {first.params['x']!r}}}): objective returned nan" in message
    with pytest.raises(ValueError, match="no complete trial"):
        _ = study.best_value


@pytest.mark.parametrize("workers", [1, 2])
def test_some_trials_diverging_warn_as_failures_do(workers):
    study = tune.Study("s", seed=0)
    # one filter for both: a diverged trial is a failure of the objective's numbers
    with pytest.warns(tune.FailedTrialsWarning) as caught:
        study.optimize(diverges_above_half, SPACE, n_trials=8, n_workers=workers)
    diverged = [t for t in study.trials if t.params["x"] > 0.5]
    assert [t.state for t in diverged] == ["diverged"] * len(diverged)
    assert [str(w.message).split(":")[0] for w in caught] == [
        f"{len(diverged)} of 8 trials diverged"
    ]
    assert isinstance(caught[0].message, tune.DivergedTrialsWarning)
    assert f"(trial {diverged[0].number}, params {diverged[0].params!r})" in str(caught[0].message)
    assert study.best_value == min(t.params["x"] for t in study.trials if t.params["x"] <= 0.5)


def test_failed_and_diverged_trials_each_warn():
    def objective(trial):
        k = trial.params["k"]
        if k == 0:
            raise RuntimeError("boom")
        return math.inf if k == 1 else float(k)

    study = tune.Study("s", seed=0)
    with pytest.warns(tune.FailedTrialsWarning) as caught:
        study.optimize(objective, tune.Space(k=tune.IntUniform(0, 2)), n_trials=3, sampler="grid")
    kinds = sorted(type(w.message).__name__ for w in caught)
    assert kinds == ["DivergedTrialsWarning", "FailedTrialsWarning"]
    diverged = next(str(w.message) for w in caught if "diverged" in str(w.message))
    assert "1 of 3 trials diverged" in diverged
    assert "objective returned inf" in diverged


def test_a_run_without_failures_is_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tune.Study("s", seed=0).optimize(lambda t: t.params["x"], SPACE, n_trials=4)


# ---- 4b. a Ctrl-C is not a failure of the objective ----------------------------------------


def _failed(number: int, error: str, *, rerun: bool) -> tune.FrozenTrial:
    return tune.FrozenTrial(number, {"x": 0.5}, None, "failed", error=error, rerun=rerun)


def _traceback(last: str) -> str:
    return f'Traceback (most recent call last):\n  File "obj.py", line 3, in objective\n{last}\n'


def test_an_interrupted_trial_is_counted_apart_from_the_failed_ones():
    from bntune.tune.failures import Failures
    from bntune.tune.trial_log import INTERRUPTED

    trials = [
        tune.FrozenTrial(0, {"x": 0.1}, 0.1, "complete"),
        _failed(1, _traceback("ValueError: bug"), rerun=False),
        _failed(2, _traceback("KeyboardInterrupt"), rerun=True),  # Ctrl-C in the driver
        _failed(3, INTERRUPTED, rerun=True),  # its driver died (or Ctrl-C with workers)
        # KeyboardInterrupt listed in catch: recorded failed, not run again: a failure
        _failed(4, _traceback("KeyboardInterrupt"), rerun=False),
        # an exception not in catch is run again, but it is the objective's
        _failed(5, _traceback("RuntimeError: not in catch"), rerun=True),
    ]
    found = Failures.of(trials)
    assert [t.number for t in found.failed] == [1, 4, 5]
    assert found.interrupted == 2
    assert found.summary() == (
        "3 of 6 trials failed (1 complete, 2 interrupted); the first (trial 1): ValueError: bug"
    )
    # every trial but the interrupted one failed alike: still "all failed"
    alike = [_failed(0, _traceback("ValueError: bug"), rerun=False),
             _failed(1, _traceback("KeyboardInterrupt"), rerun=True),
             _failed(2, _traceback("ValueError: bug"), rerun=False)]  # fmt: skip
    assert Failures.of(alike).all_alike
    assert not Failures.of([trials[0], trials[2], trials[3]]).failed


def test_ctrl_c_in_optimize_notes_the_study_is_saved_and_running_again_resumes(tmp_path):
    db = tmp_path / "s.db"

    def interrupted_at_3(trial):
        if trial.number == 3:
            raise KeyboardInterrupt
        return trial.params["x"]

    with tune.Study("s", storage=db, seed=0) as study:
        with pytest.raises(KeyboardInterrupt) as info:
            study.optimize(interrupted_at_3, SPACE, n_trials=6)
        if sys.version_info >= (3, 11):
            assert info.value.__notes__ == [
                f"bntune: every finished trial of study 's' is saved in {db}; running the same "
                f"study.optimize(...) again resumes it (the interrupted trial runs again)"
            ]
    with tune.Study("s", storage=db) as study, warnings.catch_warnings():
        warnings.simplefilter("error")  # no FailedTrialsWarning: nothing failed
        study.optimize(lambda t: t.params["x"], SPACE, n_trials=6)
        states = [(t.seq, t.state) for t in study.trials]
    # the interrupted point ran again (trial 4); every point of the design completed
    assert states == [(0, "complete"), (1, "complete"), (2, "complete"), (3, "failed"),
                      (3, "complete"), (4, "complete"), (5, "complete")]  # fmt: skip


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes are Python 3.11+")
def test_ctrl_c_in_coarse_to_fine_in_memory_notes_it_too():
    def interrupted(trial):
        raise KeyboardInterrupt

    study = tune.Study("m", seed=0)
    with pytest.raises(KeyboardInterrupt) as info:
        study.coarse_to_fine(interrupted, SPACE, rounds=2, trials_per_round=3)
    [note] = info.value.__notes__
    assert note.startswith("bntune: every finished trial of study 'm' is saved in memory; ")
    assert "study.coarse_to_fine(...) again resumes it" in note


# ---- 5. failed trials can be run again -----------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_retry_failed_runs_the_failed_configurations_again(tmp_path, workers):
    space = tune.Space(x=tune.Uniform(0.0, 1.0), fixed=tune.Fixed(str(tmp_path / "fixed")))
    study = tune.Study("s", storage=tmp_path / "s.db", seed=0)
    with pytest.raises(tune.AllTrialsFailed):
        study.optimize(fixed_by_a_file, space, n_trials=4, n_workers=workers)
    (tmp_path / "fixed").touch()
    study.optimize(fixed_by_a_file, space, n_trials=4, n_workers=workers)  # no retry: no-op
    assert len(study.trials) == 4
    study.optimize(fixed_by_a_file, space, n_trials=4, n_workers=workers, retry_failed=True)
    failed = [t for t in study.trials if t.state == "failed"]
    redone = [t for t in study.trials if t.state == "complete"]
    assert [t.params for t in redone] == [t.params for t in failed]  # the same design points
    assert [t.value for t in redone] == [t.params["x"] for t in redone]
    study.optimize(fixed_by_a_file, space, n_trials=4, retry_failed=True)  # nothing left
    assert len(study.trials) == 8


# ---- 6. misuse is refused at the call -------------------------------------------------------


@pytest.mark.parametrize("pruner", [tune.ASHA(), tune.SuccessiveHalving(), object(), "median"])
def test_a_pruner_that_is_not_one_is_refused_at_construction(pruner):
    with pytest.raises(TypeError, match="pruner must be None or a tune pruner"):
        tune.Study("s", pruner=pruner)


def test_asha_as_a_pruner_says_where_it_belongs():
    with pytest.raises(TypeError, match=r"caviar schedulers: study.caviar\(\.\.\., scheduler=\)"):
        tune.Study("s", pruner=tune.ASHA())


def test_report_in_optunas_order_stops_the_run_naming_the_order():
    study = tune.Study("s", seed=0)
    with pytest.raises(tune.TrialUsageError, match=r"bntune's order is report\(step, value\)"):
        study.optimize(reports_in_optunas_order, SPACE, n_trials=5)
    assert len(study.trials) == 1  # stopped at the first
    assert study.trials[0].rerun


def test_report_in_optunas_order_on_workers_stops_the_run_too():
    study = tune.Study("s", seed=0)
    with pytest.raises(RuntimeError, match=r"bntune's order is report\(step, value\)"):
        study.optimize(reports_in_optunas_order, SPACE, n_trials=5, n_workers=2)


# ---- 9. trials in order of number after a parallel run -------------------------------------


def test_trials_after_a_parallel_run_are_in_order_of_number():
    study = tune.Study("s", seed=0)
    study.optimize(first_one_slow, SPACE, n_trials=6, n_workers=2)
    assert [t.number for t in study.trials] == list(range(6))


# ---- 14. a storage path in a missing directory -----------------------------------------------


def test_storage_in_a_missing_directory_is_refused_and_not_created(tmp_path):
    with pytest.raises(tune.StorageError, match=r"directory .*missing.* does not exist"):
        tune.Study("s", storage=tmp_path / "missing" / "s.db")
    assert not (tmp_path / "missing").exists()


def test_the_tuners_warnings_name_the_callers_line():
    # not a line of bntune's: the default filter would then show them once per process
    study = tune.Study("s", seed=0)
    with pytest.warns(tune.FailedTrialsWarning) as failed:
        study.optimize(raises_above_half, SPACE, n_trials=8)
    with pytest.warns(tune.ResumedWarning) as resumed:
        study.optimize(raises_above_half, SPACE, n_trials=8)
    with pytest.warns(tune.FailedTrialsWarning) as zoomed:
        study.coarse_to_fine(raises_above_half, SPACE, rounds=2, trials_per_round=4)
    for caught in (failed, resumed, zoomed):
        assert [w.filename for w in caught] == [__file__] * len(caught)
