"""Define-by-run (``trial.suggest_*``), ported from the way Optuna scripts are written, with each
value checked against the design it must come from."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from bntune import qmc, tune
from bntune.tune.samplers import derive_seed
from failure_helpers import TrialPruned, conditional_net, prunes_above_half_as_optuna_does

TESTS = str(Path(__file__).parent)


def _expected_u(seed: int, name: str, index: int) -> float:
    """The documented design: parameter ``name``'s own scrambled 1-D Sobol' sequence."""
    engine = qmc.Sobol(1, scramble=True, seed=derive_seed(seed, "define-by-run", name))
    return float(engine.random_at(index, 1)[0, 0])


def test_each_value_is_its_parameters_own_sobol_point_on_its_scale():
    study = tune.Study("s", seed=7)
    study.optimize(conditional_net, n_trials=16)
    for t in study.trials:
        k = t.seq
        lr = 10 ** (-5 + 4 * _expected_u(7, "lr", k))
        assert t.params["lr"] == pytest.approx(lr, rel=1e-12)
        assert t.params["n_layers"] == 1 + int(3 * _expected_u(7, "n_layers", k))
        assert t.unit["lr"] == _expected_u(7, "lr", k)
    # each parameter's 16 values stratify its unit scale (one per sixteenth)
    cells = sorted(int(16 * t.unit["lr"]) for t in study.trials)
    assert cells == list(range(16))


def test_inactive_parameters_are_absent_not_filled_in():
    study = tune.Study("s", seed=1)
    study.optimize(conditional_net, n_trials=24)
    for t in study.trials:
        layers = t.params["n_layers"]
        assert {f"units_{i}" for i in range(layers)} <= set(t.params)
        assert not {f"units_{i}" for i in range(layers, 3)} & set(t.params)
        if t.params["optimizer"] == "adam":
            assert "beta2" in t.params
            assert "momentum" not in t.params
        else:
            assert "momentum" in t.params
            assert "beta2" not in t.params
            assert t.params["momentum"] == pytest.approx(round(t.params["momentum"], 2))
        assert set(t.unit) == set(t.params)


def test_a_trials_value_does_not_depend_on_what_else_was_suggested():
    def only_lr(trial):
        return trial.suggest_float("lr", 1e-5, 1e-1, log=True)

    a = tune.Study("a", seed=3)
    a.optimize(conditional_net, n_trials=8)
    b = tune.Study("b", seed=3)
    b.optimize(only_lr, n_trials=8)
    assert [t.params["lr"] for t in a.trials] == [t.params["lr"] for t in b.trials]


def test_one_and_two_workers_give_the_same_configurations(tmp_path):
    serial = tune.Study("s", storage=tmp_path / "1.db", seed=5)
    serial.optimize(conditional_net, n_trials=12)
    pooled = tune.Study("s", storage=tmp_path / "2.db", seed=5)
    pooled.optimize(conditional_net, n_trials=12, n_workers=2)
    assert [(t.params, t.value) for t in pooled.trials] == [
        (t.params, t.value) for t in serial.trials
    ]
    reopened = tune.Study("s", storage=tmp_path / "2.db", read_only=True)
    assert [t.params for t in reopened.trials] == [t.params for t in serial.trials]


def test_a_killed_run_resumes_with_the_same_configurations(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent("""
        import os, signal, sys
        from bntune import tune
        from failure_helpers import TrialPruned, conditional_net, prunes_above_half_as_optuna_does

        def objective(trial):
            if trial.number == 5 and os.environ.get("KILL"):
                os.kill(os.getpid(), signal.SIGKILL)
            return conditional_net(trial)

        if __name__ == "__main__":
            study = tune.Study("s", storage=sys.argv[1], seed=11)
            study.optimize(objective, n_trials=10)
    """))  # fmt: skip
    paths = os.pathsep.join(p for p in (TESTS, os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=paths)
    db = tmp_path / "s.db"
    killed = subprocess.run([sys.executable, str(script), str(db)], env=dict(env, KILL="1"),
                            timeout=120, check=False)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    resumed = subprocess.run([sys.executable, str(script), str(db)], env=env, timeout=120,
                             check=False)  # fmt: skip
    assert resumed.returncode == 0
    reference = tune.Study("ref", seed=11)
    reference.optimize(conditional_net, n_trials=10)
    with tune.Study("s", storage=db, read_only=True) as study:
        complete = {t.seq: t.params for t in study.trials if t.state == "complete"}
        assert complete == {t.seq: t.params for t in reference.trials}
        interrupted = [t for t in study.trials if t.state == "failed"]
        assert [t.seq for t in interrupted] == [5]


def test_pruning_in_the_users_loop():
    # Optuna's pattern: report each epoch, raise when told to prune
    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
        loss = 1.0
        for epoch in range(1, 11):
            loss *= 1.0 - min(lr, 0.5)
            trial.report(epoch, loss)
        return loss

    pruner = tune.MedianStopping(n_startup_trials=3, n_warmup_steps=2)
    study = tune.Study("s", seed=0, pruner=pruner)
    study.optimize(objective, n_trials=20)
    pruned = [t for t in study.trials if t.state == "pruned"]
    complete = [t for t in study.trials if t.state == "complete"]
    assert pruned
    assert complete
    # a pruned trial stopped where its curve fell behind the median: its rate is below the best
    assert max(t.params["lr"] for t in pruned) < study.best_params["lr"]


def _falls_to_x(trial):
    x = trial.suggest_float("x", 0, 1)
    return x, [x + 1.0 / (step + 1) for step in range(10)]


def _report_only(trial):
    x, curve = _falls_to_x(trial)
    for step, value in enumerate(curve):
        trial.report(step, value)
    return x


def _optunas_idiom(trial):
    x, curve = _falls_to_x(trial)
    for step, value in enumerate(curve):
        trial.report(step, value)
        if trial.should_prune():
            raise tune.Pruned()
    return x


def test_optunas_should_prune_idiom_prunes_where_report_alone_does():
    # report raises tune.Pruned itself: the idiom's check after it changes nothing
    results = []
    for objective in (_report_only, _optunas_idiom):
        study = tune.Study("s", seed=0, pruner=tune.MedianStopping())
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no failed trials to warn about
            study.optimize(objective, n_trials=20)
        results.append([(t.state, t.value) for t in study.trials])
    assert results[0] == results[1]
    states = [state for state, _ in results[1]]
    assert set(states) == {"complete", "pruned"}
    assert states[:5] == ["complete"] * 5  # MedianStopping's n_startup_trials


def test_should_prune_is_true_only_once_report_raised_pruned():
    seen: dict[str, set[bool]] = {"before": set(), "returned": set(), "caught": set()}

    def objective(trial):
        seen["before"].add(trial.should_prune())
        x, curve = _falls_to_x(trial)
        for step, value in enumerate(curve):
            try:
                trial.report(step, value)
            except tune.Pruned:
                seen["caught"].add(trial.should_prune())
                raise
            seen["returned"].add(trial.should_prune())
        return x

    study = tune.Study("s", seed=0, pruner=tune.MedianStopping())
    study.optimize(objective, n_trials=20)
    assert seen == {"before": {False}, "returned": {False}, "caught": {True}}
    seen["returned"].clear()
    tune.Study("u", seed=0).optimize(objective, n_trials=3)  # no pruner: never
    assert seen["returned"] == {False}


@pytest.mark.parametrize("workers", [1, 2])
def test_optunas_trial_pruned_prunes_the_trial_at_its_last_value(workers):
    # told by its class name (here the helpers' TrialPruned): Optuna is not imported for it
    study = tune.Study("s", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a pruned trial is not a failed one
        study.optimize(prunes_above_half_as_optuna_does, n_trials=8, n_workers=workers)
    for t in study.trials:
        x = t.params["x"]
        expected = ("pruned", 2.0 * x) if x > 0.5 else ("complete", x)
        assert (t.state, t.value) == expected
    assert {t.state for t in study.trials} == {"pruned", "complete"}


def test_a_trial_pruned_subclass_prunes_even_outside_catch():
    class Stopped(TrialPruned):
        pass

    def objective(trial):
        trial.report(0, 1.5)
        raise Stopped()

    study = tune.Study("s", seed=0)
    study.optimize(objective, n_trials=2, catch=())
    assert [(t.state, t.value) for t in study.trials] == [("pruned", 1.5)] * 2


def test_the_real_optuna_trial_pruned_prunes():
    optuna = pytest.importorskip("optuna")
    for raised in (optuna.TrialPruned, optuna.exceptions.TrialPruned):

        def objective(trial, raised=raised):
            trial.report(0, trial.suggest_float("x", 0, 1))
            raise raised()

        study = tune.Study("s", seed=0)
        study.optimize(objective, n_trials=3)
        assert [t.state for t in study.trials] == ["pruned"] * 3
        assert [t.value for t in study.trials] == [t.params["x"] for t in study.trials]


def test_best_params_value_and_the_dataframe():
    study = tune.Study("s", seed=0)
    study.optimize(conditional_net, n_trials=10)
    best = min((t for t in study.trials), key=lambda t: t.value)
    assert study.best_value == best.value
    assert study.best_params == best.params
    pd = pytest.importorskip("pandas")
    frame = study.trials_dataframe()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["number"]) == list(range(10))
    assert (frame["duration"] >= 0).all()
    for t in study.trials:
        row = frame[frame["number"] == t.number].iloc[0]
        if "beta2" not in t.params:
            assert math.isnan(row["params_beta2"])


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        (lambda t: t.suggest_float("x", 1.0, 0.0), r"suggest_float\('x'\): .*low must be <= high"),
        (lambda t: t.suggest_categorical("c", []), r"suggest_categorical\('c'\)"),
        (
            lambda t: t.suggest_float("x", 0, 1) + t.suggest_float("x", 0, 2),
            r"'x' was suggested as \['Uniform', 0.0, 1.0\] before, now as \['Uniform', 0.0, 2.0\]",
        ),
        (lambda t: t.suggest_float("x", 1e-3, 1.0, log=True, step=0.1), "not both"),
    ],
)
def test_bad_suggestions_stop_the_run_naming_the_parameter(objective, message):
    with pytest.raises(tune.TrialUsageError, match=message):
        tune.Study("s", seed=0).optimize(objective, n_trials=3)


def test_a_single_value_range_is_suggested_as_optuna_does():
    # Optuna accepts low == high and returns that value, on every scale
    def objective(trial):
        got = (
            trial.suggest_int("n", 3, 3),
            trial.suggest_int("m", 4, 4, log=True),
            trial.suggest_int("k", 6, 6, step=2),
            trial.suggest_float("x", 1.0, 1.0),
            trial.suggest_float("y", 2.5, 2.5, log=True),
            trial.suggest_float("z", 0.3, 0.3, step=0.1),
            trial.suggest_one_minus_log("b", 0.99, 0.99),
        )
        assert got == (3, 4, 6, 1.0, 2.5, 0.3, 0.99)
        assert [type(v) for v in got] == [int] * 3 + [float] * 4
        return trial.suggest_float("w", 0.0, 1.0)

    study = tune.Study("s", seed=0)
    study.optimize(objective, n_trials=16)
    assert [t.state for t in study.trials] == ["complete"] * 16
    study.coarse_to_fine(objective, rounds=2, trials_per_round=4)
    assert all(t.state == "complete" for t in study.trials)


def test_optunas_older_suggest_names_give_what_their_new_forms_give():
    def older(trial):
        return (
            trial.suggest_uniform("x", -1.0, 2.0)
            + trial.suggest_loguniform("lr", 1e-4, 1e-1)
            + trial.suggest_discrete_uniform("q", 0.0, 1.0, 0.25)
        )

    def newer(trial):
        return (
            trial.suggest_float("x", -1.0, 2.0)
            + trial.suggest_float("lr", 1e-4, 1e-1, log=True)
            + trial.suggest_float("q", 0.0, 1.0, step=0.25)
        )

    runs = []
    for objective in (older, newer):
        study = tune.Study("s", seed=3)
        study.optimize(objective, n_trials=8)
        runs.append([(t.params, t.value) for t in study.trials])
    assert runs[0] == runs[1]
    assert all(p["q"] in (0.0, 0.25, 0.5, 0.75, 1.0) for p, _ in runs[0])
    assert all(1e-4 <= p["lr"] <= 1e-1 for p, _ in runs[0])


@pytest.mark.parametrize("seed", range(4))
def test_a_single_value_parameter_explains_nothing(seed):
    # its coordinate varies, its value does not: share 0, and no noise fitted on it that would
    # take the share of the parameter that matters
    def noise(k):
        return 0.3 * math.sin(12.9898 * k)

    def objective(trial):
        for name in ("a", "b", "c", "d", "e", "f"):
            trial.suggest_int(name, 3, 3)
        trial.suggest_float("x", 1.0, 1.0, log=True)
        return trial.suggest_float("w", 0.0, 1.0) + noise(trial.number)

    study = tune.Study("s", seed=seed)
    study.optimize(objective, n_trials=32)
    shares = study.importance()
    assert {n: shares[n] for n in "abcdefx"} == dict.fromkeys("abcdefx", 0.0)
    # w uniform on [0, 1) has variance 1/12; the rest is the noise's
    noise_var = float(np.var([noise(k) for k in range(32)]))
    assert shares["w"] == pytest.approx((1 / 12) / (1 / 12 + noise_var), abs=0.08)


def test_a_bool_objective_value_counts_as_0_or_1():
    study = tune.Study("s", seed=0)
    study.optimize(lambda t: t.suggest_float("x", 0, 1) > 0.5, n_trials=8)
    assert [t.state for t in study.trials] == ["complete"] * 8
    assert [t.value for t in study.trials] == [float(t.params["x"] > 0.5) for t in study.trials]
    assert {type(t.value) for t in study.trials} == {float}
    both = tune.Study("m", seed=0, directions=["minimize", "maximize"])
    both.optimize(lambda t: (t.suggest_float("x", 0, 1), t.params["x"] > 0.5), n_trials=4)
    assert [t.values[1] for t in both.trials] == [float(t.params["x"] > 0.5) for t in both.trials]


def test_optunas_n_jobs_is_refused_pointing_to_n_workers():
    study = tune.Study("s", seed=0)
    with pytest.raises(TypeError, match=r"n_jobs.*n_workers="):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3, n_jobs=2)
    assert study.trials == []


def test_the_dataframe_without_pandas_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    study = tune.Study("s", seed=0)
    study.optimize(conditional_net, n_trials=2)
    with pytest.raises(ImportError, match="trials_dataframe needs pandas"):
        study.trials_dataframe()
    assert [r["number"] for r in study.to_records()] == [0, 1]


def test_one_distribution_per_parameter_across_trials():
    def objective(trial):
        high = 1.0 if trial.number < 2 else 2.0
        return trial.suggest_float("x", 0.0, high)

    study = tune.Study("s", seed=0)
    with pytest.raises(tune.TrialUsageError, match="'x' was suggested as"):
        study.optimize(objective, n_trials=4)
    assert len(study.trials) == 3


def test_with_a_declared_space_suggest_returns_the_sampled_value():
    space = tune.Space(lr=tune.LogUniform(1e-4, 1.0), layers=tune.IntUniform(1, 3))
    study = tune.Study("s", seed=0)
    seen = []

    def objective(trial):
        seen.append((trial.suggest_float("lr", 1e-4, 1.0, log=True),
                     trial.suggest_int("layers", 1, 3), dict(trial.params)))  # fmt: skip
        return trial.params["lr"]

    study.optimize(objective, space, n_trials=6)
    assert [(lr, layers) for lr, layers, _ in seen] == [(p["lr"], p["layers"]) for *_, p in seen]
    assert [p for *_, p in seen] == space.sample(6, seed=0)
    with pytest.raises(tune.TrialUsageError, match="'lr' is declared as LogUniform"):
        tune.Study("t", seed=0).optimize(lambda t: t.suggest_float("lr", 0, 1), space,
                                         n_trials=2)  # fmt: skip
    with pytest.raises(tune.TrialUsageError, match="'depth' is not in the study's declared"):
        tune.Study("u", seed=0).optimize(lambda t: t.suggest_int("depth", 1, 3), space,
                                         n_trials=2)  # fmt: skip


def test_budgeted_samplers_need_a_declared_space():
    with pytest.raises(ValueError, match="sampler='lhs' needs a declared space"):
        tune.Study("s").optimize(conditional_net, n_trials=4, sampler="lhs")


def test_sqlite_urls_name_the_same_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with tune.Study("s", storage="sqlite:///rel.db", seed=0) as study:
        study.optimize(conditional_net, n_trials=2)
    assert (tmp_path / "rel.db").is_file()
    with tune.Study("s", storage=f"sqlite:///{tmp_path}/rel.db", read_only=True) as study:
        assert len(study.trials) == 2
    with pytest.raises(ValueError, match="a file path or a 'sqlite:///path' URL"):
        tune.Study("s", storage="postgresql://host/db")


def test_timeout_and_stop_finish_the_trial_in_flight():
    import time

    def slow(trial):
        time.sleep(0.05)
        return trial.suggest_float("x", 0, 1)

    study = tune.Study("s", seed=0)
    t0 = time.monotonic()
    study.optimize(slow, n_trials=1000, timeout=0.5)
    assert time.monotonic() - t0 < 2.0
    assert 3 <= len(study.trials) < 1000
    assert {t.state for t in study.trials} == {"complete"}

    def stop_at_five(study, trial):
        if trial.number == 4:
            study.stop()

    other = tune.Study("t", seed=0)
    other.optimize(slow, n_trials=100, callbacks=[stop_at_five])
    assert [t.number for t in other.trials] == [0, 1, 2, 3, 4]
    other.optimize(slow, n_trials=7)  # a later optimize is not stopped: it continues the design
    assert [t.seq for t in other.trials] == list(range(7))


def test_callbacks_see_each_stored_trial_in_order():
    seen = []
    study = tune.Study("s", seed=0)
    record = lambda s, t: seen.append((t.number, t.state, s is study))  # noqa: E731
    study.optimize(conditional_net, n_trials=5, callbacks=[record])
    assert seen == [(k, "complete", True) for k in range(5)]
    assert np.isfinite([t.value for t in study.trials]).all()


# ---- ask and tell: an external loop drives the study ---------------------------------------


def test_ask_and_tell_gives_the_configurations_optimize_gives(tmp_path):
    study = tune.Study("s", storage=tmp_path / "s.db", seed=4)
    asked = [study.ask() for _ in range(3)]  # three jobs out at once
    for trial in reversed(asked):  # results come back in another order
        study.tell(trial, conditional_net(trial))
    for _ in range(3):
        trial = study.ask()
        study.tell(trial.number, conditional_net(trial))
    reference = tune.Study("ref", seed=4)
    reference.optimize(conditional_net, n_trials=6)
    assert [t.params for t in study.trials] == [t.params for t in reference.trials]
    assert [t.value for t in study.trials] == [t.value for t in reference.trials]
    with tune.Study("s", storage=tmp_path / "s.db", read_only=True) as stored:
        assert [t.params for t in stored.trials] == [t.params for t in reference.trials]


def test_ask_with_a_declared_space_and_tell_states():
    space = tune.Space(x=tune.Uniform(0.0, 1.0))
    study = tune.Study("s", seed=0)
    a, b, c = study.ask(space), study.ask(space), study.ask(space)
    assert [a.params, b.params, c.params] == space.sample(3, seed=0)
    b.report(1, 0.5)
    assert study.tell(b, state="pruned").value == 0.5
    assert study.tell(c, state="failed").state == "failed"
    assert study.tell(a, a.params["x"]).state == "complete"
    with pytest.raises(tune.TrialUsageError, match="trial 0 is finished already"):
        study.tell(a, 1.0)
    with pytest.raises(tune.TrialUsageError, match="was not asked for"):
        study.tell(17, 1.0)
    with pytest.raises(tune.TrialUsageError, match="state must be one of"):
        study.tell(study.ask(space), state="done")
    with pytest.raises(ValueError, match="ask: sampler='grid' designs for a budget"):
        study.ask(space, sampler="grid")


# ---- user attributes ------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_user_attributes_are_stored_with_the_trial(tmp_path, workers):
    from failure_helpers import with_user_attrs

    study = tune.Study("s", storage=tmp_path / "s.db", seed=0)
    study.optimize(with_user_attrs, n_trials=4, n_workers=workers)
    for t in study.trials:
        assert t.user_attrs == {"accuracy": 1.0 - t.params["x"], "note": f"trial {t.number}"}
    with tune.Study("s", storage=tmp_path / "s.db", read_only=True) as reopened:
        assert [t.user_attrs for t in reopened.trials] == [t.user_attrs for t in study.trials]
        frame = reopened.trials_dataframe()
        assert list(frame["user_attrs_note"]) == [f"trial {k}" for k in range(4)]
    trial = study.ask()
    trial.set_user_attr("told", [1, 2])
    assert study.tell(trial, 0.5).user_attrs == {"told": [1, 2]}


def test_a_user_attribute_that_json_cannot_store_is_refused():
    def objective(trial):
        trial.set_user_attr("model", object())
        return 1.0

    with pytest.raises(tune.TrialUsageError, match=r"set_user_attr\('model'\): .*JSON"):
        tune.Study("s").optimize(objective, n_trials=2)


# ---- enqueue and add_trial --------------------------------------------------------------------


def test_enqueued_configurations_run_first_without_taking_design_places(tmp_path):
    study = tune.Study("s", storage=tmp_path / "s.db", seed=2)
    study.enqueue({"lr": 1e-3, "n_layers": 2, "optimizer": "adam"})
    study.enqueue({"lr": 0.05})
    study.optimize(conditional_net, n_trials=4)
    first, second, *rest = study.trials
    assert (first.params["lr"], first.params["n_layers"], first.params["optimizer"]) == (
        1e-3, 2, "adam")  # fmt: skip
    assert "beta2" in first.params  # the branch's parameter, drawn as usual
    assert second.params["lr"] == 0.05
    reference = tune.Study("ref", seed=2)
    reference.optimize(conditional_net, n_trials=4)
    assert [t.params for t in rest] == [t.params for t in reference.trials]
    study.optimize(conditional_net, n_trials=4)  # nothing left to run: the queue ran once
    assert len(study.trials) == 6


def test_an_enqueued_value_off_its_distribution_is_refused():
    study = tune.Study("s", seed=0)
    study.enqueue({"lr": -1.0})
    with pytest.raises(tune.TrialUsageError, match=r"enqueued lr=-1.0 is not a value of"):
        study.optimize(conditional_net, n_trials=2)


def test_enqueue_with_a_declared_space_and_ask():
    space = tune.Space(x=tune.Uniform(0.0, 1.0), k=tune.Fixed(3))
    study = tune.Study("s", seed=0)
    study.enqueue({"x": 0.25})
    trial = study.ask(space)
    assert trial.params == {"x": 0.25, "k": 3}
    study.tell(trial, 0.25)
    assert study.ask(space).params == space.sample(1, seed=0)[0]


def test_added_trials_inform_the_zoom_and_the_best():
    space = tune.Space(x=tune.Uniform(0.0, 1.0))
    study = tune.Study("s", seed=0)
    added = study.add_trial({"x": 0.9}, -5.0, space=space)
    assert (added.state, added.value, added.unit) == ("complete", -5.0, {"x": 0.9})
    assert study.best_params == {"x": 0.9}
    study.coarse_to_fine(lambda t: (t.params["x"] - 0.9) ** 2, space, rounds=2,
                         trials_per_round=4, method="zoom", top=0.1, shrink=0.1)  # fmt: skip
    # the zoom's best trial is the imported one (value -5): the second box is [0.9, 0.9] padded
    # by 0.1 of the first box's width on each side (boxes.PAD), wider than shrink's 0.1
    assert study.boxes[2]["x"] == pytest.approx([0.8, 1.0])
    with pytest.raises(tune.TrialUsageError, match="miss 'x'"):
        study.add_trial({"y": 1.0}, 0.0, space=space)


# ---- several objectives --------------------------------------------------------------------


def _front_by_hand(points):
    """Indices of the points no other point dominates (minimise both), checked pairwise."""
    keep = []
    for i, (a0, a1) in enumerate(points):
        beaten = any(
            b0 <= a0 and b1 <= a1 and (b0 < a0 or b1 < a1)
            for j, (b0, b1) in enumerate(points) if j != i
        )  # fmt: skip
        if not beaten:
            keep.append(i)
    return keep


@pytest.mark.parametrize("workers", [1, 2])
def test_several_objectives_give_the_pareto_front(tmp_path, workers):
    from failure_helpers import two_objectives

    study = tune.Study("s", storage=tmp_path / "s.db", seed=0,
                       directions=["minimize", "minimize"])  # fmt: skip
    study.optimize(two_objectives, n_trials=24, n_workers=workers)
    points = [tuple(t.values) for t in study.trials]
    assert all(t.value is None and len(t.values) == 2 for t in study.trials)
    expected = [study.trials[i].number for i in _front_by_hand(points)]
    assert [t.number for t in study.best_trials] == expected
    with tune.Study("s", storage=tmp_path / "s.db", read_only=True) as stored:
        assert [t.values for t in stored.trials] == [list(p) for p in points]
        assert stored.directions == ["minimize", "minimize"]
    with pytest.raises(ValueError, match=r"no single best trial; study\.best_trials"):
        _ = study.best_trial


def test_a_maximised_objective_turns_the_front():
    study = tune.Study("s", seed=0, directions=["minimize", "maximize"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.params["x"]), n_trials=8)
    # more x is worse for the first and better for the second: nothing dominates
    assert len(study.best_trials) == 8


def test_several_objectives_bad_use_is_named():
    study = tune.Study("s", seed=0, directions=["minimize", "minimize"])
    with pytest.raises(tune.AllTrialsFailed, match="returned 3 values; the study has 2"):
        study.optimize(lambda t: (1.0, 2.0, 3.0), n_trials=2)
    single = tune.Study("t", seed=0)
    with pytest.raises(tune.AllTrialsFailed, match=r"returned 2 values .* has one objective"):
        single.optimize(lambda t: (1.0, 2.0), n_trials=2)
    with pytest.raises(ValueError, match="directions must be a list of two or more"):
        tune.Study("u", directions=["minimize"])
    with pytest.raises(ValueError, match="not both"):
        tune.Study("u", direction="minimize", directions=["minimize", "maximize"])
    with pytest.raises(ValueError, match="a pruner judges one objective"):
        tune.Study("u", directions=["minimize", "minimize"], pruner=tune.MedianStopping())
    with pytest.raises(ValueError, match=r"has 2 objectives .* pass objective=0\.\.1"):
        study.importance()
    with pytest.raises(ValueError, match=r"objective must be an index in 0\.\.1"):
        study.importance(objective=2)


def test_several_objectives_rank_their_hyperparameters_one_at_a_time():
    """The first objective is x alone, the second y alone: each ranking gives all its
    explained share to its own parameter (the fits are exact)."""

    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        y = trial.suggest_float("y", 0.0, 1.0)
        return 3.0 * x, (y - 0.5) ** 2

    study = tune.Study("s", seed=1, directions=["minimize", "maximize"])
    study.optimize(objective, n_trials=24)
    first, second = study.importance(objective=0), study.importance(objective=1)
    assert first == pytest.approx({"x": 1.0, "y": 0.0}, abs=1e-9)
    assert second == pytest.approx({"x": 0.0, "y": 1.0}, abs=1e-9)


def test_ask_tell_and_the_zoom_with_several_objectives():
    space = tune.Space(x=tune.Uniform(0.0, 1.0))
    study = tune.Study("s", seed=0, directions=["minimize", "minimize"])
    trial = study.ask(space)
    assert study.tell(trial, (0.5, 0.25)).values == [0.5, 0.25]
    # the zoom around the front: |x - 0.3| and |x - 0.35| pull the second box to x near 0.3
    study.coarse_to_fine(lambda t: (abs(t.params["x"] - 0.3), abs(t.params["x"] - 0.35)), space,
                         rounds=2, trials_per_round=8, method="zoom", top=0.25,
                         shrink=0.2)  # fmt: skip
    low, high = study.boxes[2]["x"]
    assert low < 0.3 < high
    assert high - low < 0.6


def test_the_front_is_drawn_and_shown(tmp_path):
    pytest.importorskip("matplotlib")
    from bntune import plots
    from bntune.cli.report import summary
    from failure_helpers import two_objectives

    study = tune.Study("s", seed=0, directions=["minimize", "minimize"])
    study.optimize(two_objectives, n_trials=16)
    fig = plots.pareto_front_figure(study)
    ax = fig.axes[0]
    everything, front = (c.get_offsets() for c in ax.collections)
    assert len(everything) == 16
    front_values = sorted(tuple(t.values) for t in study.best_trials)
    assert sorted(map(tuple, np.asarray(front))) == front_values
    written = plots.plot_study(study, tmp_path)
    assert [p.name for p in written] == ["pareto_front.png", "importance_0.png", "importance_1.png"]
    lines = summary(study).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Pareto front"))
    assert lines[at].startswith(f"Pareto front ({len(study.best_trials)} trials")
    end = lines.index("", at)
    shown = [int(line.split()[0]) for line in lines[at + 2 : end]]
    assert shown == [t.number for t in study.best_trials]
    # then one importance ranking per objective
    for k in (0, 1):
        head = f"importance (share of objective {k} (minimize)'s variance explained by each alone):"
        at = lines.index(head)
        ranked = [
            line.split()[0] for line in lines[at + 1 : at + 1 + len(study.importance(objective=k))]
        ]
        assert ranked == list(study.importance(objective=k))


# ---- coarse-to-fine over a define-by-run study ---------------------------------------------


def _branchy(trial):
    """Branch "a" is always better; its x is best near 0.2. Branch "b" has a y of its own."""
    branch = trial.suggest_categorical("branch", ["a", "b"])
    x = trial.suggest_float("x", 0.0, 1.0)
    if branch == "a":
        return (x - 0.2) ** 2
    y = trial.suggest_float("y", 0.0, 1.0)
    return 10.0 + y


@pytest.mark.parametrize("workers", [1, 2])
def test_define_by_run_coarse_to_fine_zooms_active_parameters_only(tmp_path, workers):
    study = tune.Study("s", storage=tmp_path / "s.db", seed=3)
    study.coarse_to_fine(_branchy, rounds=3, trials_per_round=8, method="zoom", top=0.25,
                         shrink=0.3, n_workers=workers)  # fmt: skip
    boxes = study.boxes
    assert set(boxes) == {1, 2, 3}
    assert boxes[1] == {}  # round 1: the whole range of everything
    # the best trials are all branch "a": only it is kept, x zooms toward 0.2, and y (absent
    # from every one of them) keeps its whole range
    for r in (2, 3):
        assert boxes[r]["branch"] == [0]
        assert boxes[r]["y"] == [0.0, 1.0]
        low, high = boxes[r]["x"]
        assert high - low < 1.0
    for t in study.trials:
        if t.round > 1:
            assert t.params["branch"] == "a"
            assert "y" not in t.params
            low, high = boxes[t.round]["x"]
            assert low <= t.unit["x"] <= high
    # round 2's box covers round 1's best x (the zoom rule's definition)
    round1 = min((t for t in study.trials if t.round == 1), key=lambda t: t.value)
    assert boxes[2]["x"][0] <= round1.unit["x"] <= boxes[2]["x"][1]


def test_define_by_run_coarse_to_fine_is_the_same_for_one_and_two_workers(tmp_path):
    runs = []
    for workers in (1, 2):
        study = tune.Study("s", storage=tmp_path / f"{workers}.db", seed=9)
        study.coarse_to_fine(conditional_net, rounds=3, trials_per_round=6, method="zoom",
                             top=0.2, shrink=0.5, n_workers=workers)  # fmt: skip
        runs.append(([t.params for t in study.trials], study.boxes))
    assert runs[0] == runs[1]


# ---- conditional declared spaces -----------------------------------------------------------

OPTIMIZERS = tune.Space(
    optimizer=tune.Choice({
        "sgd": {"lr": tune.LogUniform(1e-4, 1.0), "momentum": tune.Uniform(0.0, 0.99)},
        "adam": {"lr": tune.LogUniform(1e-4, 1.0), "beta1": tune.OneMinusLogUniform(0.8, 0.99),
                 "beta2": tune.OneMinusLogUniform(0.99, 0.9999)},
    }),
    layers=tune.IntUniform(1, 3),
    width=tune.Fixed(64),
)  # fmt: skip


def _optimizer_objective(trial):
    p = trial.params
    loss = (math.log10(p["lr"]) + 2.0) ** 2 + p["layers"] / 10
    return loss + (0.0 if p["optimizer"] == "adam" else 5.0)


def test_a_conditional_space_gives_each_trial_its_branch_only(tmp_path):
    study = tune.Study("s", storage=tmp_path / "s.db", seed=1)
    study.optimize(_optimizer_objective, OPTIMIZERS, n_trials=16)
    for t in study.trials:
        branch = {"sgd": {"lr", "momentum"}, "adam": {"lr", "beta1", "beta2"}}
        expected = {"optimizer", "layers", "width"} | branch[t.params["optimizer"]]
        assert set(t.params) == expected  # inactive parameters absent, not filled in
        assert t.params["width"] == 64
        assert set(t.unit) == expected - {"width"}

    # the same values a define-by-run objective suggesting the branch by hand would get
    def by_hand(trial):
        optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
        trial.suggest_float("lr", 1e-4, 1.0, log=True)
        if optimizer == "sgd":
            trial.suggest_float("momentum", 0.0, 0.99)
        else:
            trial.suggest_one_minus_log("beta1", 0.8, 0.99)
            trial.suggest_one_minus_log("beta2", 0.99, 0.9999)
        trial.suggest_int("layers", 1, 3)
        trial.params["width"] = 64
        return _optimizer_objective(trial)

    reference = tune.Study("ref", seed=1)
    reference.optimize(by_hand, n_trials=16)
    assert [t.params for t in study.trials] == [t.params for t in reference.trials]


def test_a_conditional_space_zooms_and_ranks_only_on_active_trials():
    study = tune.Study("s", seed=2)
    study.coarse_to_fine(_optimizer_objective, OPTIMIZERS, rounds=3, trials_per_round=10,
                         method="zoom", top=0.2, shrink=0.5)  # fmt: skip
    box = study.boxes[3]
    adam = OPTIMIZERS["optimizer"].options.index("adam")
    assert box["optimizer"] == [adam]  # adam is always better
    assert box["momentum"] == [0.0, 1.0]  # no best trial used sgd's momentum: not zoomed
    later = [t for t in study.trials if t.round > 1]
    assert all(t.params["optimizer"] == "adam" for t in later)
    assert all("momentum" not in t.params for t in later)


def test_conditional_space_mistakes_are_named():
    with pytest.raises(ValueError, match=r"'lr' is .* in one branch and .* in another"):
        tune.Space(opt=tune.Choice({"a": {"lr": tune.LogUniform(1e-3, 1.0)},
                                    "b": {"lr": tune.Uniform(0.0, 1.0)}}))  # fmt: skip
    with pytest.raises(TypeError, match="option 'a' must map names to tune dimensions"):
        tune.Choice({"a": [1, 2]})
    with pytest.raises(ValueError, match="define their parameters as they run"):
        OPTIMIZERS.sample(3, seed=0)


def _branch_objective(trial):
    """log10(lr) everywhere (variance 3/4 on its unit scale), plus in the adam branch
    2 (beta - 1/2) (variance 1/3 there) and in the sgd branch momentum - 1/2 (1/12 there); the
    branch itself adds nothing."""
    lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
    if trial.suggest_categorical("optimizer", ["sgd", "adam"]) == "adam":
        return math.log10(lr) + 2.0 * (trial.suggest_float("beta", 0.0, 1.0) - 0.5)
    return math.log10(lr) + trial.suggest_float("momentum", 0.0, 1.0) - 0.5


@pytest.mark.parametrize("declared", [False, True])
def test_a_conditional_parameter_is_ranked_only_from_the_trials_that_used_it(declared):
    """Each main effect above is linear on its unit scale, so the additive fit is exact and the
    shares are known: a branch's parameter explains its within-branch variance times the share
    of trials in the branch, whichever branch the last trial took."""
    study = tune.Study("s", seed=4)
    if declared:
        space = tune.Space(optimizer=tune.Choice({
            "sgd": {"lr": tune.LogUniform(1e-3, 1.0), "momentum": tune.Uniform(0.0, 1.0)},
            "adam": {"lr": tune.LogUniform(1e-3, 1.0), "beta": tune.Uniform(0.0, 1.0)},
        }))  # fmt: skip

        def objective(trial):
            p = trial.params
            lr = math.log10(p["lr"])
            return lr + (2.0 * (p["beta"] - 0.5) if "beta" in p else p["momentum"] - 0.5)

        study.optimize(objective, space, n_trials=48)
    else:
        study.optimize(_branch_objective, n_trials=48)
    adam = sum(t.params["optimizer"] == "adam" for t in study.trials) / len(study.trials)
    assert 0.2 < adam < 0.8
    parts = {"lr": 3 / 4, "beta": adam / 3, "momentum": (1 - adam) / 12, "optimizer": 0.0}
    expected = {n: v / sum(parts.values()) for n, v in parts.items()}
    shares = study.importance()
    assert set(shares) == set(expected)
    for name, share in expected.items():
        assert shares[name] == pytest.approx(share, abs=1e-9), name
