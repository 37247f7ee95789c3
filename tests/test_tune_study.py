"""The study: trial states, pruning, records, resume, seeding and samplers end to end."""

import math
import threading
import warnings

import numpy as np
import pytest

from bntune import tune
from tune_helpers import needs_qmc

SPACE = tune.Space(x=tune.Uniform(-1.0, 1.0), y=tune.Uniform(-1.0, 1.0))


def quadratic(trial):
    return trial.params["x"] ** 2 + trial.params["y"] ** 2


@needs_qmc
def test_best_trial_is_the_minimum_over_trials_and_maximize_flips_it():
    study = tune.Study("q", seed=1)
    study.optimize(quadratic, SPACE, n_trials=32)
    values = [quadratic(t) for t in study.trials]
    assert [t.value for t in study.trials] == values
    assert study.best_trial.value == min(values)
    up = tune.Study("q", seed=1, direction="maximize")
    up.optimize(quadratic, SPACE, n_trials=32)
    assert up.best_trial.value == max(values)


@needs_qmc
def test_trial_k_matches_the_sobol_sequence_of_the_study_seed():
    from bntune import qmc

    study = tune.Study("s", seed=7)
    study.optimize(quadratic, SPACE, n_trials=16)
    expected = qmc.Sobol(2, scramble=True, seed=7).random(16)
    got = np.array([[t.unit["x"], t.unit["y"]] for t in study.trials])
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose([t.params["x"] for t in study.trials], -1 + 2 * expected[:, 0])


@needs_qmc
@pytest.mark.parametrize("sampler", ["sobol", "halton", "random", "lhs", "grid"])
def test_trial_k_is_the_same_however_the_run_is_split(sampler):
    one = tune.Study("a", seed=11)
    one.optimize(quadratic, SPACE, n_trials=20, sampler=sampler)
    split = tune.Study("a", seed=11)
    if sampler in ("lhs", "grid"):
        # the design is fixed by the budget: an interrupted call resumes inside it
        calls = {"n": 0}

        def stop_after_7(trial):
            calls["n"] += 1
            if calls["n"] == 8:
                raise KeyboardInterrupt
            return quadratic(trial)

        with pytest.raises(KeyboardInterrupt):
            split.optimize(stop_after_7, SPACE, n_trials=20, sampler=sampler)
        split.optimize(quadratic, SPACE, n_trials=20, sampler=sampler)
    else:
        split.optimize(quadratic, SPACE, n_trials=5, sampler=sampler)
        split.optimize(quadratic, SPACE, n_trials=20, sampler=sampler)
    done = {t.seq: t.params for t in split.trials if t.state == "complete"}
    assert done == {t.seq: t.params for t in one.trials}
    assert len(done) == len(one.trials)


@needs_qmc
def test_lhs_design_is_latin_for_its_budget():
    study = tune.Study("l", seed=3)
    study.optimize(quadratic, SPACE, n_trials=50, sampler="lhs")
    for name in ("x", "y"):
        cells = sorted(int(t.unit[name] * 50) for t in study.trials)
        assert cells == list(range(50))


def test_states_failed_diverged_and_error_text():
    space = tune.Space(k=tune.IntUniform(0, 3))

    def objective(trial):
        k = trial.params["k"]
        if k == 0:
            raise RuntimeError("boom")
        if k == 1:
            return math.nan
        if k == 2:
            return "oops"
        return 1.0

    study = tune.Study("s", seed=0)
    study.optimize(objective, space, n_trials=16, sampler="grid")  # grid: k = 0, 1, 2, 3
    by_k = {t.params["k"]: t for t in study.trials}
    assert by_k[0].state == "failed"
    assert "RuntimeError: boom" in by_k[0].error
    assert by_k[1].state == "diverged"
    assert by_k[1].value is None
    assert by_k[2].state == "failed"
    assert "not a real number" in by_k[2].error
    assert by_k[3].state == "complete"
    assert study.best_trial is by_k[3]


def test_exceptions_outside_catch_propagate_after_recording_the_trial(tmp_path):
    def objective(trial):
        raise KeyError("bug")

    path = tmp_path / "s.db"
    study = tune.Study("s", storage=path, seed=0)
    with pytest.raises(KeyError):
        study.optimize(
            objective,
            tune.Space(k=tune.IntUniform(0, 3)),
            n_trials=4,
            sampler="grid",
            catch=(ValueError,),
        )
    assert [t.state for t in study.trials] == ["failed"]
    assert study.trials[0].rerun
    with pytest.raises(ValueError, match="no complete trial"):
        _ = study.best_trial


def test_median_stopping_prunes_curves_worse_than_the_median_at_the_same_step():
    space = tune.Space(k=tune.IntUniform(0, 9))
    # trial with level k reports k + step at steps 0..4; the grid runs k = 0, 1, ..., 9
    study = tune.Study("p", seed=0, pruner=tune.MedianStopping(n_startup_trials=3))

    def objective(trial):
        k = trial.params["k"]
        for step in range(5):
            trial.report(step, k + step)
        return float(k + 5)

    study.optimize(objective, space, n_trials=10, sampler="grid")
    states = [(t.params["k"], t.state) for t in study.trials]
    # k = 0, 1, 2 complete (startup); k = 3 is worse than median(0, 1, 2) + step at step 0
    assert states[:3] == [(0, "complete"), (1, "complete"), (2, "complete")]
    assert all(s == "pruned" for _, s in states[3:])
    pruned = study.trials[3]
    assert pruned.curve == {0: 3.0}
    assert pruned.value == 3.0
    assert study.trials[1].curve == {s: 1.0 + s for s in range(5)}


def test_median_stopping_lets_better_trials_run():
    space = tune.Space(k=tune.IntUniform(0, 9))
    study = tune.Study("p", seed=0, pruner=tune.MedianStopping(n_startup_trials=3))

    def objective(trial):
        k = 9 - trial.params["k"]  # each trial better than all before it
        for step in range(3):
            trial.report(step, k + step)
        return float(k)

    study.optimize(objective, space, n_trials=10, sampler="grid")
    assert all(t.state == "complete" for t in study.trials)


def test_to_records_lists_every_trial():
    study = tune.Study("r", seed=0)
    space = tune.Space(k=tune.IntUniform(0, 3), c=tune.Fixed("z"))
    study.optimize(lambda t: float(t.params["k"]), space, n_trials=4, sampler="grid")
    records = study.to_records()
    if not isinstance(records, list):  # pandas installed
        records = records.to_dict("records")
    assert [r["params_k"] for r in records] == [0, 1, 2, 3]
    assert [r["value"] for r in records] == [0.0, 1.0, 2.0, 3.0]
    assert all(r["state"] == "complete" and r["params_c"] == "z" for r in records)


def test_file_study_persists_trials_curves_and_seed(tmp_path):
    path = tmp_path / "study.db"
    space = tune.Space(k=tune.IntUniform(0, 3))

    def objective(trial):
        trial.report(0, 10.0 * trial.params["k"])
        trial.report(1, math.inf)
        return float(trial.params["k"])

    with tune.Study("p", storage=path, seed=5) as study:
        study.optimize(objective, space, n_trials=4, sampler="grid")
        before = [(t.number, t.params, t.value, t.state, t.curve) for t in study.trials]
    with tune.Study("p", storage=path) as again:
        assert again.seed == 5
        after = [(t.number, t.params, t.value, t.state, t.curve) for t in again.trials]
        assert after[0][4][0] == 0.0
        assert math.isnan(after[0][4][1])
        assert [a[:4] for a in after] == [b[:4] for b in before]
        with pytest.warns(tune.ResumedWarning, match="nothing to run"):
            again.optimize(objective, space, n_trials=4, sampler="grid")  # nothing left to do
        assert len(again.trials) == 4
    with pytest.raises(ValueError, match="seed"):
        tune.Study("p", storage=path, seed=6)
    with pytest.raises(ValueError, match="direction"):
        tune.Study("p", storage=path, direction="maximize")


def _draw(trial):
    return trial.suggest_float("x", 0.0, 1.0)


def test_n_trials_counts_the_studys_trials_and_says_so_when_it_runs_fewer(tmp_path):
    study = tune.Study("s", storage=tmp_path / "s.db", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a first run runs all n_trials: nothing to say
        study.optimize(_draw, n_trials=10)
    # Optuna would run 5 more; bntune resumes to 5 and has them: it says so, once
    with pytest.warns(tune.ResumedWarning) as caught:
        study.optimize(_draw, n_trials=5)
    assert len(caught) == 1
    assert str(caught[0].message) == (
        "study 's' already has 10 trials of this design and n_trials=5 counts the study's "
        "trials (bntune resumes to n_trials): nothing to run; pass n_trials=15 for 5 more"
    )
    assert len(study.trials) == 10
    with pytest.warns(tune.ResumedWarning, match="running the 2 left; pass n_trials=22 for 12"):
        study.optimize(_draw, n_trials=12)
    assert len(study.trials) == 12
    # the number it names runs that many more, continuing the same design
    with pytest.warns(tune.ResumedWarning, match="running the 5 left"):
        study.optimize(_draw, n_trials=17)
    assert [t.seq for t in study.trials] == list(range(17))


def test_a_study_resumed_after_a_stop_says_how_many_it_runs(tmp_path):
    path = tmp_path / "s.db"
    with tune.Study("s", storage=path, seed=0) as study:
        study.optimize(_draw, n_trials=10, callbacks=[lambda s, t: t.number == 3 and s.stop()])
        assert len(study.trials) == 4
    with tune.Study("s", storage=path) as again, warnings.catch_warnings():
        # another run left them: running the same call again resumes, with nothing to say
        warnings.simplefilter("error")
        again.optimize(_draw, n_trials=10)
        assert len(again.trials) == 10
        with pytest.warns(tune.ResumedWarning, match="already has 10 trials.*nothing to run"):
            again.optimize(_draw, n_trials=10)


def test_a_budgeted_design_run_again_says_another_budget_is_another_design():
    study = tune.Study("s", seed=0)
    study.optimize(quadratic, SPACE, n_trials=8, sampler="lhs")
    with pytest.warns(tune.ResumedWarning, match="nothing to run; .*new design"):
        study.optimize(quadratic, SPACE, n_trials=8, sampler="lhs")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # another budget: a new design, all of it runs
        study.optimize(quadratic, SPACE, n_trials=4, sampler="lhs")
    assert len(study.trials) == 12


def test_an_enqueued_trial_still_runs_when_the_design_is_done():
    study = tune.Study("s", seed=0)
    study.optimize(_draw, n_trials=3)
    study.enqueue({"x": 0.25})
    with pytest.warns(tune.ResumedWarning, match="running only the 1 enqueued"):
        study.optimize(_draw, n_trials=3)
    assert [t.params["x"] for t in study.trials][3:] == [0.25]


def test_interrupted_trial_is_rerun_and_completed_ones_are_not(tmp_path):
    path = tmp_path / "study.db"
    space = tune.Space(k=tune.IntUniform(0, 7))
    seen = []

    def interrupt_at_5(trial):
        seen.append(trial.params["k"])
        if trial.params["k"] == 5:
            raise KeyboardInterrupt
        return float(trial.params["k"])

    with tune.Study("r", storage=path, seed=0) as study, pytest.raises(KeyboardInterrupt):
        study.optimize(interrupt_at_5, space, n_trials=8, sampler="grid")

    def record(trial):
        seen.append(trial.params["k"])
        return 0.0

    with tune.Study("r", storage=path) as study:
        study.optimize(record, space, n_trials=8, sampler="grid")
        complete = sorted(t.params["k"] for t in study.trials if t.state == "complete")
    assert complete == list(range(8))
    assert seen == [0, 1, 2, 3, 4, 5, 5, 6, 7]


def test_argument_errors():
    study = tune.Study("e")
    with pytest.raises(ValueError, match="sampler"):
        study.optimize(quadratic, SPACE, n_trials=3, sampler="tpe")
    with pytest.raises(ValueError, match="n_trials"):
        study.optimize(quadratic, SPACE, n_trials=0)
    with pytest.raises(TypeError, match="catch"):
        study.optimize(quadratic, SPACE, n_trials=1, catch=("x",))
    with pytest.raises(ValueError, match="direction"):
        tune.Study("e", direction="down")
    with pytest.raises(ValueError, match="durability"):
        tune.Study("e", durability="paranoid")
    with pytest.raises(ValueError, match="seed"):
        tune.Study("e", seed=2**63)
    with pytest.raises(ValueError, match="seed"):
        tune.Study("e", seed=-1)


def test_median_stopping_follows_the_direction():
    space = tune.Space(k=tune.IntUniform(0, 5))

    def falling(trial):  # values 5, 4, ..., 0: each worse than before when maximizing
        value = float(5 - trial.params["k"])
        trial.report(0, value)
        return value

    study = tune.Study("m", direction="maximize", pruner=tune.MedianStopping(n_startup_trials=2))
    study.optimize(falling, space, n_trials=6, sampler="grid")
    # after 5 and 4 complete (median 4.5), 3 is below the median and pruned, and so on
    assert [t.state for t in study.trials] == ["complete"] * 2 + ["pruned"] * 4
    assert study.best_trial.value == 5.0


def test_a_space_of_fixed_values_runs():
    study = tune.Study("f")
    study.optimize(lambda t: float(t.params["a"]), tune.Space(a=tune.Fixed(1)), n_trials=3)
    assert [t.params for t in study.trials] == [{"a": 1}] * 3


def test_a_trial_left_running_in_the_middle_is_rerun_alone(tmp_path):
    import sqlite3

    path = tmp_path / "study.db"
    space = tune.Space(k=tune.IntUniform(0, 5))
    with tune.Study("g", storage=path, seed=0) as study:
        study.optimize(lambda t: float(t.params["k"]), space, n_trials=6, sampler="grid")
    # as if a driver running several trials at once had died with trial 2 unfinished
    conn = sqlite3.connect(path)
    conn.execute("UPDATE trials SET state = 'running', value = NULL WHERE number = 2")
    conn.commit()
    conn.close()
    seen = []

    def record(trial):
        seen.append(trial.params["k"])
        return float(trial.params["k"])

    with tune.Study("g", storage=path) as study:
        assert study.trials[2].state == "failed"
        assert study.trials[2].rerun
        study.optimize(record, space, n_trials=6, sampler="grid")
        complete = sorted(t.params["k"] for t in study.trials if t.state == "complete")
    assert seen == [2]
    assert complete == [0, 1, 2, 3, 4, 5]


def test_a_second_run_of_one_study_from_another_thread_is_refused():
    # Optuna's n_jobs runs trials in threads; here two threads would take the same points.
    study = tune.Study("s", seed=0)
    started, release = threading.Event(), threading.Event()

    def slow(trial):
        started.set()
        release.wait(10)
        return trial.params["x"]

    runner = threading.Thread(target=study.optimize, args=(slow, SPACE), kwargs={"n_trials": 2})
    runner.start()
    try:
        assert started.wait(10)
        with pytest.raises(tune.StudyLocked, match="already running optimize in another thread"):
            study.coarse_to_fine(quadratic, SPACE, rounds=2, trials_per_round=2)
    finally:
        release.set()
        runner.join(10)
    assert [t.state for t in study.trials] == ["complete", "complete"]
    with pytest.warns(tune.ResumedWarning, match="running the 2 left"):
        study.optimize(quadratic, SPACE, n_trials=4)  # once the first run ended, runs go on
    assert len(study.trials) == 4
