"""Caviar mode: trainables, checkpoints stored with the study, schedulers (in process)."""

import io
import math

import numpy as np
import pytest

from bntune import tune
from bntune.tune import checkpoints
from modes_helpers import Curve, Interrupting, curve_value

SPACE = tune.Space(a=tune.Uniform(0.0, 1.0), c=tune.Uniform(0.0, 1.0))


def test_checkpoint_bytes_round_trip_exactly():
    rng = np.random.default_rng(0)
    state = {
        "model": {"0.weight": rng.standard_normal((3, 4)).astype(np.float32)},
        "opt": [{"v": rng.standard_normal(5)}, {"v": np.arange(3, dtype=np.int64)}],
        "rng": np.random.default_rng(1).bit_generator.state,  # 128-bit integers
        "epoch": 7,
        "lr": 0.1,
        "nan": math.nan,
        "name": "x",
        "none": None,
        "flag": True,
    }
    back = checkpoints.decode(checkpoints.encode(state))
    assert back["model"]["0.weight"].dtype == np.float32
    np.testing.assert_array_equal(back["model"]["0.weight"], state["model"]["0.weight"])
    np.testing.assert_array_equal(back["opt"][0]["v"], state["opt"][0]["v"])
    assert back["opt"][1]["v"].dtype == np.int64
    assert back["rng"] == state["rng"]
    assert (back["epoch"], back["lr"], back["name"], back["none"], back["flag"]) == (
        7, 0.1, "x", None, True,
    )  # fmt: skip
    assert math.isnan(back["nan"])


def test_checkpoint_refuses_what_it_cannot_store():
    with pytest.raises(TypeError, match=r"cannot store a object at \.x"):
        checkpoints.encode({"x": object()})
    with pytest.raises(TypeError, match="keys must be strings"):
        checkpoints.encode({1: 2})
    buf = io.BytesIO()
    np.savez(buf, a=np.zeros(1))
    with pytest.raises(ValueError, match="not a bntune checkpoint"):
        checkpoints.decode(buf.getvalue())


def test_checkpoint_repr_summarises_the_state_on_one_line():
    state = {
        "model": {"w": np.zeros((100, 100), np.float32), "b": np.zeros(100)},
        "opt": [{"v": np.zeros((100, 100))}],
        "epoch": 3,
    }
    cp = checkpoints.Checkpoint(trial=2, step=5, params={"lr": 0.1}, value=0.25, state=state)
    # by hand: 3 arrays of 100*100*4 + 100*8 + 100*100*8 = 120,800 bytes
    assert repr(cp) == (
        "Checkpoint(trial=2, step=5, value=0.25, params={'lr': 0.1}, state=<3 arrays, 120.8 kB>)"
    )
    one = checkpoints.Checkpoint(trial=0, step=1, params={}, value=None, state=np.zeros(3))
    assert repr(one).endswith("state=<1 array, 24 bytes>)")


def test_caviar_trains_every_configuration_fully_and_stores_checkpoints(tmp_path):
    study = tune.Study("c", storage=tmp_path / "s.db", seed=3)
    trials = study.caviar(Curve, SPACE, population=5, epochs=4, n_workers=1)
    # trial k gets point k of the study's Sobol design
    expected = SPACE.sample(5, seed=3)
    assert [t.params for t in trials] == expected
    for t, params in zip(trials, expected, strict=True):
        assert t.state == "complete"
        assert t.curve == {e: pytest.approx(curve_value(params, e), abs=0) for e in range(1, 5)}
        assert t.value == curve_value(params, 4)
    best = min(expected, key=lambda p: curve_value(p, 4))
    assert study.best_trial.params == best
    cp = study.best_checkpoint()
    assert (cp.trial, cp.step) == (study.best_trial.number, 4)
    assert repr(cp).endswith("state=<1 array, 24 bytes>)")  # Curve's w: 3 float64
    model = study.best_trial.load(Curve)
    assert model.epoch == 4
    np.testing.assert_array_equal(model.w, np.full(3, 4.0))
    study.close()
    # the results are committed: a new driver sees them, and the run is not repeated
    again = tune.Study("c", storage=tmp_path / "s.db")
    assert sorted(t.value for t in again.trials) == sorted(t.value for t in trials)
    assert again.best_checkpoint().load(Curve).epoch == 4
    again.caviar(Curve, SPACE, population=5, epochs=4, n_workers=1)
    assert len(again.trials) == 5


def _expected_successive_halving(params, epochs, reduction):
    """Successive halving by hand: rung r keeps the best n // reduction of n."""
    alive = list(range(len(params)))
    rungs = [1]
    while rungs[-1] * reduction < epochs:
        rungs.append(rungs[-1] * reduction)
    stopped_at = {}
    for k, rung in enumerate(rungs):
        keep = max(1, len(params) // reduction ** (k + 1))
        ranked = sorted(alive, key=lambda i: (curve_value(params[i], rung), i))
        for i in ranked[keep:]:
            stopped_at[i] = rung
        alive = ranked[:keep]
    return alive, stopped_at


def test_successive_halving_keeps_exactly_the_top_third_at_each_rung():
    # c + a / e: curves cross, so the ranking at epoch 1 is not the one at epoch 3
    study = tune.Study("sh", seed=11)
    trials = study.caviar(
        Curve, SPACE, population=9, epochs=9, scheduler=tune.SuccessiveHalving(), n_workers=1
    )
    params = [t.params for t in trials]
    survivors, stopped_at = _expected_successive_halving(params, 9, 3)
    assert len(survivors) == 1
    assert len(stopped_at) == 8
    for i, t in enumerate(trials):
        if i in survivors:
            assert t.state == "complete"
            assert sorted(t.curve) == list(range(1, 10))
        else:
            assert t.state == "pruned"
            assert sorted(t.curve) == list(range(1, stopped_at[i] + 1))
            assert t.value == curve_value(params[i], stopped_at[i])
    # 9 trials x 1 epoch + 3 x 2 more + 1 x 6 more
    assert sum(len(t.curve) for t in trials) == 9 + 3 * 2 + 6


def test_asha_promotes_the_top_third_of_every_rung_by_the_end():
    study = tune.Study("asha", seed=5)
    trials = study.caviar(
        Curve, SPACE, population=27, epochs=27, scheduler=tune.ASHA(), n_workers=1
    )
    for lower, upper in ((1, 3), (3, 9), (9, 27)):
        reached = [t for t in trials if len(t.curve) >= lower]
        ranked = sorted(reached, key=lambda t: (curve_value(t.params, lower), t.number))
        for t in ranked[: len(reached) // 3]:
            assert len(t.curve) >= upper, (lower, t.number)
    assert all(len(t.curve) in (1, 3, 9, 27) for t in trials)
    done = [t for t in trials if t.state == "complete"]
    assert done
    assert all(len(t.curve) == 27 for t in done)
    assert {t.state for t in trials} == {"complete", "pruned"}
    used = sum(len(t.curve) for t in trials)
    assert used < 27 * 27 / 4


def test_median_stopping_stops_a_trial_worse_than_the_median_of_the_others():
    study = tune.Study("med", seed=2)
    rule = tune.MedianStopping(n_startup_trials=3)
    trials = study.caviar(Curve, SPACE, population=6, epochs=3, scheduler=rule, n_workers=1)
    # every trial runs epoch 1; at epoch 1 each trial is compared with the 5 others
    for t in trials:
        v1 = curve_value(t.params, 1)
        others = sorted(curve_value(o.params, 1) for o in trials if o is not t)
        if v1 > others[2]:  # worse than the median of 5
            assert t.state == "pruned"
            assert sorted(t.curve) == [1]
    assert any(t.state == "pruned" for t in trials)
    assert any(t.state == "complete" for t in trials)


def test_a_trainable_that_raises_is_recorded_with_its_traceback_and_the_rest_go_on():
    space = tune.Space(a=tune.Uniform(0.0, 1.0), c=tune.Uniform(0.0, 1.0), fail_at=tune.Fixed(0.5))
    study = tune.Study("fail", seed=0)
    trials = study.caviar(Curve, space, population=6, epochs=2, n_workers=1)
    failed = [t for t in trials if t.state == "failed"]
    assert failed
    assert all(t.params["a"] > 0.5 for t in failed)
    assert all("a test failure" in t.error for t in failed)
    assert all(t.state == "complete" for t in trials if t.params["a"] <= 0.5)


def test_a_killed_driver_is_continued_from_the_stored_checkpoints(tmp_path):
    path = tmp_path / "k.db"
    Interrupting.steps, Interrupting.kill_after = 0, 7
    study = tune.Study("k", storage=path, seed=4)
    with pytest.raises(KeyboardInterrupt):
        study.caviar(Interrupting, SPACE, population=4, epochs=3, n_workers=1)
    study.close()
    # 7 epochs were committed (one checkpoint each); the 8th was lost with the driver
    Interrupting.steps, Interrupting.kill_after = 0, None
    again = tune.Study("k", storage=path)
    trials = again.caviar(Interrupting, SPACE, population=4, epochs=3, n_workers=1)
    assert Interrupting.steps == 4 * 3 - 7  # nothing committed is trained again
    for t in trials:
        assert t.state == "complete"
        assert t.curve == {e: curve_value(t.params, e) for e in (1, 2, 3)}
    assert again.best_checkpoint().load(Interrupting).epoch == 3
    assert [t.params for t in trials] == SPACE.sample(4, seed=4)


def test_caviar_checks_its_arguments():
    study = tune.Study("bad", seed=0)
    with pytest.raises(TypeError, match="pass the class"):
        study.caviar(Curve({"a": 0, "c": 0}), SPACE, population=2, epochs=1)
    with pytest.raises(ValueError, match="population must be a positive integer, got 0"):
        study.caviar(Curve, SPACE, population=0, epochs=1)
    with pytest.raises(TypeError, match="scheduler must be None"):
        study.caviar(Curve, SPACE, population=2, epochs=1, scheduler="asha")
    with pytest.raises(ValueError, match="n_workers must be a positive integer"):
        study.caviar(Curve, SPACE, population=2, epochs=1, n_workers=0)
    with pytest.raises(ValueError, match="reduction must be an integer >= 2"):
        tune.SuccessiveHalving(reduction=1)
    with pytest.raises(ValueError, match="no complete trial with a stored checkpoint"):
        study.best_checkpoint()


@pytest.mark.parametrize("optimizer", ["momentum", "sgd", "nesterov", "rmsprop", "adam"])
def test_mlp_trainable_builds_every_optimizer_and_changes_its_knobs(optimizer):
    lr = 0.01 if optimizer in ("rmsprop", "adam") else 0.1
    model = tune.MLPTrainable(
        {"lr": lr, "optimizer": optimizer, "hidden": 8, "layers": 1, "n_train": 100}
    )
    assert math.isfinite(model.step())
    model.set_params(lr=lr / 2, momentum=0.8, weight_decay=1e-4)
    assert model.optimizer.weight_decay == 1e-4
    if optimizer in ("momentum", "nesterov", "rmsprop"):
        assert model.optimizer.beta == 0.8
    assert math.isfinite(model.step())
    assert model.optimizer.lr == lr / 2  # lr_decay 0: epoch e runs with lr


def test_the_best_digits_model_comes_home_with_its_dev_cross_entropy():
    from bntune import datasets, nn

    space = tune.Space(lr=tune.LogUniform(0.01, 0.5), hidden=tune.IntUniform(8, 16))
    study = tune.Study("mlp", seed=0)
    study.caviar(
        tune.MLPTrainable, space, population=3, epochs=2, n_workers=1
    )  # fmt: skip
    best = study.best_trial
    model = best.load(tune.MLPTrainable)
    data = datasets.digits(0)
    dev_loss, _ = nn.evaluate(model.model, nn.SoftmaxCrossEntropy(), data.X_dev, data.y_dev)
    assert dev_loss == best.value  # the same weights, the same evaluation
    assert model.model[0].weight.value.shape == (64, best.params["hidden"])


def test_successive_halving_continues_with_the_same_decisions_after_a_killed_driver(tmp_path):
    sh = tune.SuccessiveHalving()
    reference = tune.Study("ref", seed=11).caviar(
        Curve, SPACE, population=9, epochs=9, scheduler=sh, n_workers=1
    )
    Interrupting.steps, Interrupting.kill_after = 0, 12  # in the middle of the second rung
    study = tune.Study("sh", storage=tmp_path / "sh.db", seed=11)
    with pytest.raises(KeyboardInterrupt):
        study.caviar(Interrupting, SPACE, population=9, epochs=9, scheduler=sh, n_workers=1)
    study.close()
    Interrupting.steps, Interrupting.kill_after = 0, None
    again = tune.Study("sh", storage=tmp_path / "sh.db")
    trials = again.caviar(Interrupting, SPACE, population=9, epochs=9, scheduler=sh, n_workers=1)
    # committed before the kill: 9 rung-1 epochs and the first survivor's 2-epoch unit; the
    # second survivor's unit (1 of its 2 epochs done) was lost with the driver
    assert Interrupting.steps == (9 + 3 * 2 + 6) - (9 + 2)
    assert [(t.number, t.state, t.value, t.curve) for t in trials] == [
        (t.number, t.state, t.value, t.curve) for t in reference
    ]
