"""Panda mode (babysit: policies, rollback, resume) and PBT, against hand-computed runs."""

import math

import numpy as np
import pytest

import modes_helpers
from bntune import tune
from bntune.tune import checkpoints
from modes_helpers import NoisyQuadratic, Scripted


def _descend(w, lr):
    """One step of Scripted by hand: gradient descent on 0.5 |w - 1|^2."""
    return w - lr * (w - 1.0)


def _metric(w):
    return float(np.sum((w - 1.0) ** 2))


def test_default_policy_raises_lr_while_improving_and_rolls_back_exactly_on_nan():
    modes_helpers.LOG.clear()
    study = tune.Study("panda", seed=0)
    policy = tune.DefaultPolicy(up=1.2, down=0.5, cut=0.1, tolerance=0.1)
    trial = study.babysit(Scripted, {"lr": 1.5}, epochs=5, policy=policy)
    # by hand: lr 1.5 improves (up x1.2), 1.8 improves (up), 2.16 diverges -> roll back to the
    # best step (2) with lr 2.16 * 0.5; then NaN is no baseline, so 1.08 counts as improving
    w0 = np.zeros(4)
    w1 = _descend(w0, 1.5)
    w2 = _descend(w1, 1.5 * 1.2)
    lr4 = 1.5 * 1.2 * 1.2 * 0.5
    w4 = _descend(w2, lr4)
    w5 = _descend(w4, lr4 * 1.2)
    kinds = [(e["kind"], e["epoch"]) for e in trial.events]
    assert kinds == [
        ("set_params", 1),
        ("set_params", 2),
        ("rollback", 3),
        ("set_params", 3),
        ("set_params", 4),
        ("set_params", 5),
    ]
    assert trial.events[2]["to"] == 2
    assert trial.events[3]["values"]["lr"] == pytest.approx(lr4, rel=1e-15)
    # epoch 4 started from exactly the state saved after epoch 2
    start4 = modes_helpers.LOG[3]
    np.testing.assert_array_equal(start4["w"], w2)
    assert start4["lr"] == pytest.approx(lr4, rel=1e-15)
    assert trial.curve[1] == _metric(w1)
    assert trial.curve[2] == _metric(w2)
    assert math.isnan(trial.curve[3])
    assert trial.curve[4] == pytest.approx(_metric(w4), rel=1e-12)
    assert trial.curve[5] == pytest.approx(_metric(w5), rel=1e-12)
    assert trial.state == "complete"
    assert trial.value == trial.curve[5]
    # take the model home: the best step, or any stored one
    np.testing.assert_allclose(study.best_checkpoint().load(Scripted).w, w5, rtol=1e-15)
    np.testing.assert_array_equal(trial.load(Scripted, step=2).w, w2)


def test_a_user_policy_sets_params_rolls_back_to_any_step_and_stops():
    modes_helpers.LOG.clear()

    def policy(view):
        if view.epoch == 1:
            assert view.params == {"lr": 1.5}
            return {"lr": 0.5}
        if view.epoch == 2:
            assert view.checkpoints == [0, 1, 2]
            return tune.Rollback(to=0)
        return tune.Stop()

    study = tune.Study("user", seed=0)
    trial = study.babysit(Scripted, {"lr": 1.5}, epochs=10, policy=policy)
    assert sorted(trial.curve) == [1, 2, 3]
    assert [e["kind"] for e in trial.events] == ["set_params", "rollback", "stop"]
    log = modes_helpers.LOG
    assert [entry["lr"] for entry in log] == [1.5, 0.5, 0.5]  # the knob survives the rollback
    np.testing.assert_array_equal(log[1]["w"], _descend(np.zeros(4), 1.5))
    np.testing.assert_array_equal(log[2]["w"], np.zeros(4))  # the initial model
    assert trial.curve[3] == _metric(_descend(np.zeros(4), 0.5))


def test_babysit_resumes_a_stored_run_from_its_last_or_any_checkpoint(tmp_path):
    path = tmp_path / "b.db"
    keep = lambda view: None  # noqa: E731 - a policy that watches and does nothing
    study = tune.Study("resume", storage=path, seed=0)
    first = study.babysit(Scripted, {"lr": 0.5}, epochs=3, policy=keep)
    number = first.number
    study.close()
    study = tune.Study("resume", storage=path)
    modes_helpers.LOG.clear()
    trial = study.babysit(Scripted, None, epochs=2, policy=keep, resume=number)
    assert trial.number == number
    w = np.zeros(4)
    for e in range(1, 6):
        w = _descend(w, 0.5)
        assert trial.curve[e] == _metric(w)
    np.testing.assert_array_equal(modes_helpers.LOG[0]["w"], 1.0 - 0.5**3)
    # from an earlier checkpoint, with a changed learning rate
    trial = study.babysit(Scripted, {"lr": 0.25}, epochs=1, policy=keep, resume=number, from_step=1)
    assert trial.curve[6] == _metric(_descend(_descend(np.zeros(4), 0.5), 0.25))
    assert trial.events[-2:] == [
        {"kind": "resume", "epoch": 5, "from": 1},
        {"kind": "set_params", "epoch": 5, "values": {"lr": 0.25}},
    ]
    study.close()
    again = tune.Study("resume", storage=path)
    assert again.trials[0].events[-1]["values"] == {"lr": 0.25}
    assert len(again.trials) == 1


def test_babysit_checks_its_arguments():
    study = tune.Study("args", seed=0)
    with pytest.raises(ValueError, match="give params"):
        study.babysit(Scripted, None, epochs=1)
    with pytest.raises(ValueError, match="no trial number 7"):
        study.babysit(Scripted, None, epochs=1, resume=7)
    with pytest.raises(TypeError, match="policy must return"):
        study.babysit(Scripted, {"lr": 0.1}, epochs=1, policy=lambda v: 3)
    with pytest.raises(ValueError, match=r"no 'lr' to tune"):
        study.babysit(modes_helpers.Curve, {"a": 0.1, "c": 0.2}, epochs=1)


def test_mlp_trainable_state_round_trips_exactly_and_guards_structure():
    params = {"lr": 0.05, "hidden": 16, "layers": 1, "n_train": 200, "batch_size": 50}
    a = tune.MLPTrainable(params)
    a.step()
    saved = checkpoints.decode(checkpoints.encode(a.state_dict()))
    a.set_params(lr=0.2)
    expected = a.step()
    b = tune.MLPTrainable(params)
    b.load_state_dict(saved)
    b.set_params(lr=0.2)
    assert b.step() == expected
    with pytest.raises(ValueError, match=r"\['hidden'\] cannot change mid-training"):
        a.set_params(hidden=32)
    with pytest.raises(ValueError, match="unknown params"):
        tune.MLPTrainable({"lr": 0.1, "hiden": 3})


def _quadratic_run(lr, m, steps):
    for _ in range(steps):
        m = (1.0 - lr) ** 2 * m + lr**2 * NoisyQuadratic.sigma2
    return m


QSPACE = tune.Space(lr=tune.LogUniform(1e-3, 0.9), width=tune.IntUniform(1, 4))


def test_pbt_bottom_quarter_copies_the_top_and_perturbs_lr_on_its_log_scale():
    study = tune.Study("pbt", seed=1)
    members = study.pbt(NoisyQuadratic, QSPACE, population=4, epochs=6, interval=2, n_workers=1)
    exploits = [(m, e) for m in members for e in m.events if e["kind"] == "exploit"]
    assert sorted(e["epoch"] for _, e in exploits) == [2, 4]  # one per generation boundary
    # replay the population by hand from the stored configurations and exploit events
    lr = {m.number: m.params["lr"] for m in members}
    width = {m.number: m.params["width"] for m in members}
    value = {m.number: NoisyQuadratic.m0 for m in members}
    for boundary in (2, 4):
        value = {k: _quadratic_run(lr[k], v, 2) for k, v in value.items()}
        ranked = sorted(value, key=lambda k: (value[k], k))
        (bottom, event) = next((m.number, e) for m, e in exploits if e["epoch"] == boundary)
        assert bottom == ranked[-1]
        assert event["from"] == ranked[0]
        ratio = event["values"]["lr"] / lr[ranked[0]]
        assert ratio == pytest.approx(0.8) or ratio == pytest.approx(1.25)
        assert event["params"]["width"] == width[ranked[0]]  # structure comes with the weights
        value[bottom] = value[ranked[0]]
        lr[bottom], width[bottom] = event["values"]["lr"], width[ranked[0]]
    value = {k: _quadratic_run(lr[k], v, 2) for k, v in value.items()}
    for m in members:
        assert m.state == "complete"
        assert m.value == pytest.approx(value[m.number], rel=1e-12)


def test_pbt_beats_the_same_configurations_trained_independently():
    # the best learning rate falls during training: large to get down from m0, small for a low
    # noise floor
    study = tune.Study("pbt-vs", seed=0)
    members = study.pbt(NoisyQuadratic, QSPACE, population=4, epochs=40, interval=2, n_workers=1)
    independent = [_quadratic_run(p["lr"], NoisyQuadratic.m0, 40) for p in QSPACE.sample(4, seed=0)]
    assert min(m.value for m in members) < min(independent)
    assert study.best_checkpoint().load(NoisyQuadratic).m == min(m.value for m in members)


def test_default_policy_treats_a_first_epoch_far_worse_than_the_baseline_as_broken():
    modes_helpers.LOG.clear()
    study = tune.Study("baseline", seed=0)
    policy = tune.DefaultPolicy(up=1.2, down=0.5, cut=0.1, tolerance=0.1)
    trial = study.babysit(modes_helpers.ScriptedWithBaseline, {"lr": 1.99}, epochs=2, policy=policy)
    # epoch 1: 4 * (1 - 1.99)^2 = 3.9204, above the baseline 3 by more than 10% of it: back to
    # the initial model with lr / 10; epoch 2: 4 * (1 - 0.199)^2 = 2.566404: raise lr by 1.2
    assert trial.curve[1] == pytest.approx(3.9204, rel=1e-12)
    assert trial.curve[2] == pytest.approx(2.566404, rel=1e-12)
    assert [(e["kind"], e.get("to"), e.get("values")) for e in trial.events] == [
        ("rollback", 0, None),
        ("set_params", None, {"lr": pytest.approx(0.199, rel=1e-12)}),
        ("set_params", None, {"lr": pytest.approx(0.2388, rel=1e-12)}),
    ]
    np.testing.assert_array_equal(modes_helpers.LOG[1]["w"], np.zeros(4))


def test_default_policy_does_not_spiral_on_a_slow_start():
    # the first epoch reads worse than chance whatever the rate: the old policy cut the rate
    # tenfold and rolled back every time, down to 1e-32; a slow start is judged by the curve
    study = tune.Study("slow", seed=0)
    trial = study.babysit(modes_helpers.SlowStart, {"lr": 0.3}, epochs=8)
    rates = [e["values"]["lr"] for e in trial.events if e["kind"] == "set_params"]
    assert not [e for e in trial.events if e["kind"] == "rollback"]
    assert min(rates) >= 0.3
    # gradient descent with lr >= 0.3 from w = 0: (1 - lr)^(2k) * 4 after k epochs
    assert trial.value < 4 * 0.7**14


def test_default_policy_stops_cutting_at_its_floor():
    study = tune.Study("broken", seed=0)
    policy = tune.DefaultPolicy(cut=0.1, floor=1e-3)
    trial = study.babysit(modes_helpers.AlwaysBroken, {"lr": 0.5}, epochs=20, policy=policy)
    rates = [e["values"]["lr"] for e in trial.events if e["kind"] == "set_params"]
    kinds = [e["kind"] for e in trial.events]
    assert kinds[-1] == "stop"
    # cut 0.5 -> 0.05 -> 0.005 -> 0.0005 (the floor, 1e-3 x 0.5), held there once, then stop
    assert rates == pytest.approx([0.05, 0.005, 0.0005, 0.0005], rel=1e-9)
    assert len(trial.curve) == 5
    assert trial.state == "diverged"


def _view(value, curve, best_step=None, best_value=None, baseline=None):
    return tune.BabysitView(
        epoch=max(curve),
        value=value,
        curve=curve,
        params={"lr": 0.1},
        best_step=best_step,
        best_value=best_value,
        checkpoints=[0, *curve],
        events=[],
        baseline=baseline,
    )


def test_default_policy_rules_one_by_one():
    p = tune.DefaultPolicy(up=1.1, down=0.7, cut=0.1, tolerance=0.5)
    assert p(_view(0.9, {1: 1.0, 2: 0.9}, 1, 1.0)) == tune.SetParams(lr=pytest.approx(0.11))
    # worse than the previous epoch, within tolerance of the best: cut, no rollback
    assert p(_view(1.2, {1: 1.0, 2: 1.2}, 1, 1.0)) == tune.SetParams(lr=pytest.approx(0.07))
    # worse than the best by more than 50%: back to the best with the rate cut
    assert p(_view(1.6, {1: 1.0, 2: 1.6}, 1, 1.0)) == tune.Rollback(1, lr=pytest.approx(0.07))
    assert p(_view(math.inf, {1: 1.0, 2: math.inf}, 1, 1.0)) == tune.Rollback(
        1, lr=pytest.approx(0.07)
    )
    # broken from the start: back to the initial model, a decade lower
    assert p(_view(math.nan, {1: math.nan})) == tune.Rollback(0, lr=pytest.approx(0.01))
    assert p(_view(3.5, {1: 3.5}, baseline=2.3)) == tune.Rollback(0, lr=pytest.approx(0.01))
    # a first epoch near the baseline is a slow start: judged by the curve (first: raise)
    assert p(_view(2.5, {1: 2.5}, baseline=2.3)) == tune.SetParams(lr=pytest.approx(0.11))
    with pytest.raises(ValueError, match="up must be a number >= 1"):
        tune.DefaultPolicy(up=0.5)


def test_pbt_continues_after_its_driver_was_killed(tmp_path):
    from modes_helpers import InterruptingQuadratic

    reference = tune.Study("ref", seed=2).pbt(
        NoisyQuadratic, QSPACE, population=4, epochs=6, interval=2, n_workers=1
    )
    InterruptingQuadratic.steps, InterruptingQuadratic.kill_after = 0, 10
    study = tune.Study("pbt", storage=tmp_path / "p.db", seed=2)
    with pytest.raises(KeyboardInterrupt):
        study.pbt(InterruptingQuadratic, QSPACE, population=4, epochs=6, interval=2, n_workers=1)
    study.close()
    InterruptingQuadratic.steps, InterruptingQuadratic.kill_after = 0, None
    again = tune.Study("pbt", storage=tmp_path / "p.db")
    members = again.pbt(
        InterruptingQuadratic, QSPACE, population=4, epochs=6, interval=2, n_workers=1
    )
    assert InterruptingQuadratic.steps == 4 * 6 - 10  # what was committed is not redone
    for mine, ref in zip(members, reference, strict=True):
        assert mine.params == ref.params
        assert mine.events == ref.events
        assert mine.value == pytest.approx(ref.value, rel=1e-12)
