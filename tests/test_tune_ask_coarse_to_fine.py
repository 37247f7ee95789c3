"""Coarse-to-fine driven by ask and tell:
``study.ask(space, coarse_to_fine=tune.CoarseToFine(...))`` gives the trials and boxes of
``study.coarse_to_fine`` given the same results, whatever the order the results are told in; a
round advances when its trials are told."""

from __future__ import annotations

import math

import pytest

from bntune import tune

SPACE = tune.Space(
    x=tune.Uniform(0.0, 1.0),
    lr=tune.LogUniform(1e-4, 1.0),
    momentum=tune.OneMinusLogUniform(0.9, 0.999),
    batch=tune.Choice([32, 64, 128]),
)


def loss(p: dict) -> float:
    value = (p["x"] - 0.3) ** 2 + (math.log10(p["lr"]) + 2.0) ** 2
    return value + (math.log10(1.0 - p["momentum"]) + 2.0) ** 2 + (p["batch"] != 64)


def ask_and_tell_every_round(
    study: tune.Study, plan: tune.CoarseToFine, space=None, objective=None
):
    """The external loop: ask until the round's trials are all out, run them, tell the results
    last first; returns the RoundPending messages seen."""
    pending = []
    while True:
        batch = []
        try:
            while True:
                batch.append(study.ask(space, coarse_to_fine=plan))
        except tune.RoundPending as wait:
            pending.append(str(wait))
        except tune.SearchFinished:
            assert not batch
            return pending
        results = [(t, objective(t) if objective else loss(t.params)) for t in batch]
        for trial, value in reversed(results):
            study.tell(trial, value)


@pytest.mark.parametrize("method", ["adaptive", "zoom"])
def test_asked_rounds_are_the_rounds_coarse_to_fine_runs(method):
    reference = tune.Study("reference", seed=7)
    reference.coarse_to_fine(lambda t: loss(t.params), SPACE, rounds=5, trials_per_round=4,
                             method=method)  # fmt: skip
    study = tune.Study("asked", seed=7)
    plan = tune.CoarseToFine(rounds=5, trials_per_round=4, method=method)
    pending = ask_and_tell_every_round(study, plan, SPACE)
    assert [t.params for t in study.trials] == [t.params for t in reference.trials]
    assert [t.round for t in study.trials] == [t.round for t in reference.trials]
    assert study.boxes == reference.boxes
    assert len(study.boxes) == 5
    # each round waited for its own trials, named
    assert len(pending) == 5
    for r, message in enumerate(pending, 1):
        numbers = [t.number for t in study.trials if t.round == r]
        assert message.startswith(f"coarse-to-fine round {r}: trials ")
        assert ", ".join(map(str, numbers)) in message


def _conditional(trial) -> float:
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    value = (math.log10(lr) + 2.0) ** 2
    if trial.suggest_categorical("optimizer", ["sgd", "adam"]) == "adam":
        value += (trial.suggest_float("beta", 0.0, 1.0) - 0.2) ** 2
    return value


@pytest.mark.parametrize("method", ["adaptive", "zoom"])
def test_asked_define_by_run_rounds_are_the_rounds_coarse_to_fine_runs(method):
    reference = tune.Study("reference", seed=2)
    reference.coarse_to_fine(_conditional, rounds=4, trials_per_round=6, method=method)
    study = tune.Study("asked", seed=2)
    plan = tune.CoarseToFine(rounds=4, trials_per_round=6, method=method)
    ask_and_tell_every_round(study, plan, objective=_conditional)
    assert [t.params for t in study.trials] == [t.params for t in reference.trials]
    assert study.boxes == reference.boxes
    assert any("beta" not in t.params for t in study.trials)  # inactive: absent


@pytest.mark.parametrize("method", ["adaptive", "zoom"])
def test_asked_conditional_space_rounds_are_the_rounds_coarse_to_fine_runs(method):
    space = tune.Space(optimizer=tune.Choice({
        "sgd": {"lr": tune.LogUniform(1e-4, 1.0)},
        "adam": {"lr": tune.LogUniform(1e-4, 1.0), "beta": tune.Uniform(0.0, 1.0)},
    }))  # fmt: skip

    def objective(trial) -> float:
        p = trial.params
        return (math.log10(p["lr"]) + 2.0) ** 2 + (p.get("beta", 1.0) - 0.2) ** 2

    reference = tune.Study("reference", seed=5)
    reference.coarse_to_fine(objective, space, rounds=3, trials_per_round=5, method=method)
    study = tune.Study("asked", seed=5)
    plan = tune.CoarseToFine(rounds=3, trials_per_round=5, method=method)
    ask_and_tell_every_round(study, plan, space, objective=objective)
    assert [t.params for t in study.trials] == [t.params for t in reference.trials]
    assert study.boxes == reference.boxes


def test_a_trial_asked_and_lost_with_its_driver_is_asked_again(tmp_path):
    """A driver that stops with a trial out: the trial is recorded interrupted, and the next
    driver asks for its configuration again, so the run goes on as an unbroken one."""
    plan = tune.CoarseToFine(rounds=3, trials_per_round=4, method="adaptive")
    unbroken = tune.Study("unbroken", seed=1)
    ask_and_tell_every_round(unbroken, plan, SPACE)

    first = tune.Study("s", seed=1, storage=tmp_path / "s.db")
    told = [first.ask(SPACE, coarse_to_fine=plan) for _ in range(4)]
    for trial in told[:2]:
        first.tell(trial, loss(trial.params))
    first.close()  # trials 2 and 3 are lost
    again = tune.Study("s", storage=tmp_path / "s.db")
    ask_and_tell_every_round(again, plan, SPACE)
    lost = {2, 3}
    assert [t.state for t in again.trials if t.number in lost] == ["failed", "failed"]
    kept = [t.params for t in again.trials if t.number not in lost]
    assert kept == [t.params for t in unbroken.trials]
    assert again.boxes == unbroken.boxes


def test_asking_coarse_to_fine_wrongly_is_named():
    study = tune.Study("s", seed=0)
    with pytest.raises(TypeError, match=r"coarse_to_fine must be a tune\.CoarseToFine"):
        study.ask(SPACE, coarse_to_fine={"rounds": 3, "trials_per_round": 4})
    with pytest.raises(ValueError, match="rounds must be a positive integer"):
        tune.CoarseToFine(rounds=0, trials_per_round=4)
    with pytest.raises(ValueError, match="trials_per_round must be a positive integer"):
        tune.CoarseToFine(rounds=2, trials_per_round=-1)
    with pytest.raises(ValueError, match=r"top .*method='zoom'"):
        tune.CoarseToFine(rounds=2, trials_per_round=4, method="adaptive", top=0.1)
    with pytest.raises(ValueError, match="method must be one of"):
        tune.CoarseToFine(rounds=2, trials_per_round=4, method="trust")
    plan = tune.CoarseToFine(rounds=1, trials_per_round=1)
    trial = study.ask(SPACE, coarse_to_fine=plan)
    with pytest.raises(tune.RoundPending, match=f"round 1: trials {trial.number} "):
        study.ask(SPACE, coarse_to_fine=plan)
    study.tell(trial, 1.0)
    with pytest.raises(tune.TrialUsageError, match="finished already"):
        study.tell(trial, 1.0)
    with pytest.raises(tune.SearchFinished, match="1 rounds of 1 trials"):
        study.ask(SPACE, coarse_to_fine=plan)
