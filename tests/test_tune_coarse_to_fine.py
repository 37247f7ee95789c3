"""Coarse to fine, method="zoom": the box rule by hand, and zooming in on a known optimum
(the adaptive method: test_tune_trust_region.py)."""

import itertools
import math
import warnings

import numpy as np
import pytest

from bntune import tune
from bntune.tune.boxes import full_box, into_box, next_box
from bntune.tune.trial import FrozenTrial
from tune_helpers import needs_qmc


def _trial(value, **unit):
    return FrozenTrial(0, {}, value, "complete", unit=unit)


def test_box_covers_the_best_padded_and_at_least_shrink_times_the_previous_width():
    space = tune.Space(a=tune.Uniform(0, 1), b=tune.Uniform(0, 1), c=tune.Uniform(0, 1))
    box = full_box(space)
    best = [_trial(0.0, a=0.4, b=0.0, c=0.1), _trial(1.0, a=0.5, b=0.05, c=0.9)]
    new = next_box(space, box, best, shrink=0.5, pad=0.1)
    # a: [0.4, 0.5] padded by 0.1 -> [0.3, 0.6], narrower than 0.5: widened about 0.45
    assert new["a"] == pytest.approx([0.2, 0.7])
    # b: [-0.1, 0.15] -> widened about 0.025 to [-0.225, 0.275] -> shifted inside: [0, 0.5]
    assert new["b"] == pytest.approx([0.0, 0.5])
    # c: [0.0, 1.0] padded beyond the cube: clipped
    assert new["c"] == pytest.approx([0.0, 1.0])
    # next round: width at least half of the previous 0.5
    newer = next_box(space, new, [_trial(0.0, a=0.45, b=0.2, c=0.5)], shrink=0.5, pad=0.1)
    assert newer["a"] == pytest.approx([0.325, 0.575])


def test_into_box_maps_affinely_and_keeps_only_chosen_options():
    space = tune.Space(x=tune.Uniform(0, 1), act=tune.Choice(["relu", "tanh", "gelu", "elu"]))
    box = {"x": [0.2, 0.6], "act": [1, 3]}
    pts = np.array([[0.0, 0.0], [0.5, 0.49], [0.75, 0.5], [0.999, 0.99]])
    out = into_box(space, box, pts)
    np.testing.assert_allclose(out[:, 0], 0.2 + 0.4 * pts[:, 0])
    assert [space.from_unit(p)["act"] for p in out] == ["tanh", "tanh", "elu", "elu"]


@needs_qmc
def test_boxes_shrink_around_the_known_optimum_also_on_log_scales():
    # optimum at x = 0.3 (uniform), lr = 1e-5 on a log scale [1e-6, 1] (unit 1/6)
    space = tune.Space(x=tune.Uniform(0, 1), lr=tune.LogUniform(1e-6, 1.0))

    def f(trial):
        return (trial.params["x"] - 0.3) ** 2 + (math.log10(trial.params["lr"]) + 5) ** 2 / 36

    study = tune.Study("c2f", seed=4)
    study.coarse_to_fine(f, space, rounds=4, trials_per_round=16, method="zoom")
    boxes = study.boxes
    assert sorted(boxes) == [1, 2, 3, 4]
    optimum = {"x": 0.3, "lr": 1 / 6}
    widths = []
    for r in range(1, 5):
        for name in ("x", "lr"):
            lo, hi = boxes[r][name]
            assert lo <= optimum[name] <= hi, (r, name, boxes[r])
        widths.append(np.prod([boxes[r][n][1] - boxes[r][n][0] for n in ("x", "lr")]))
    assert widths[0] == 1.0
    assert all(b < a for a, b in itertools.pairwise(widths))
    assert widths[-1] < 0.1
    rounds = [t.round for t in study.trials]
    assert rounds == [1] * 16 + [2] * 16 + [3] * 16 + [4] * 16
    # the later rounds' trials stay in their boxes
    for t in study.trials:
        lo, hi = boxes[t.round]["lr"]
        assert lo <= t.unit["lr"] <= hi
    best_round1 = min(t.value for t in study.trials if t.round == 1)
    assert study.best_trial.value < best_round1 / 4


@needs_qmc
def test_categorical_dimensions_keep_the_best_options():
    space = tune.Space(x=tune.Uniform(0, 1), act=tune.Choice(["a", "b", "c", "d"]))
    penalty = {"a": 3.0, "b": 0.0, "c": 2.0, "d": 1.0}

    def f(trial):
        return penalty[trial.params["act"]] + trial.params["x"]

    study = tune.Study("cat", seed=2)
    study.coarse_to_fine(f, space, rounds=3, trials_per_round=16, top=0.1, method="zoom")
    assert study.boxes[1]["act"] == [0, 1, 2, 3]
    assert study.boxes[2]["act"] == [1]  # the top 2 of 16 are "b" trials with small x
    assert {t.params["act"] for t in study.trials if t.round > 1} == {"b"}


@needs_qmc
def test_coarse_to_fine_resumes_with_its_stored_boxes(tmp_path):
    space = tune.Space(x=tune.Uniform(0, 1), y=tune.Uniform(0, 1))
    path = tmp_path / "s.db"
    calls = {"n": 0}

    def f(trial):
        calls["n"] += 1
        if calls["n"] == 21:
            raise KeyboardInterrupt
        return (trial.params["x"] - 0.7) ** 2 + (trial.params["y"] - 0.2) ** 2

    with tune.Study("c", storage=path, seed=9) as study, pytest.raises(KeyboardInterrupt):
        study.coarse_to_fine(f, space, rounds=3, trials_per_round=12, method="zoom")
    with tune.Study("c", storage=path) as study:
        study.coarse_to_fine(f, space, rounds=3, trials_per_round=12, method="zoom")
        resumed = study.trials
        boxes = study.boxes
    calls["n"] = -(10**9)
    clean = tune.Study("c", seed=9)
    clean.coarse_to_fine(f, space, rounds=3, trials_per_round=12, method="zoom")
    assert boxes == clean.boxes
    done = sorted((t.round, t.seq, t.value) for t in resumed if t.state == "complete")
    assert done == sorted((t.round, t.seq, t.value) for t in clean.trials)
    assert calls["n"] - (-(10**9)) == 36


def test_bad_arguments():
    study = tune.Study("c")
    space = tune.Space(x=tune.Uniform(0, 1))
    with pytest.raises(ValueError, match="top"):
        study.coarse_to_fine(
            lambda t: 0.0, space, rounds=2, trials_per_round=4, top=0.0, method="zoom"
        )
    with pytest.raises(ValueError, match="shrink"):
        study.coarse_to_fine(
            lambda t: 0.0, space, rounds=2, trials_per_round=4, shrink=2.0, method="zoom"
        )
    with pytest.raises(ValueError, match="rounds"):
        study.coarse_to_fine(lambda t: 0.0, space, rounds=0, trials_per_round=4)


def test_a_finished_run_called_again_says_it_runs_nothing_and_a_resume_says_nothing(tmp_path):
    space = tune.Space(x=tune.Uniform(0.0, 1.0))
    path = tmp_path / "s.db"

    def cut_at_5(trial):
        if trial.number == 5:
            raise KeyboardInterrupt
        return trial.params["x"]

    with tune.Study("s", storage=path, seed=0) as study, pytest.raises(KeyboardInterrupt):
        study.coarse_to_fine(cut_at_5, space, rounds=2, trials_per_round=4)
    with tune.Study("s", storage=path) as again:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # resuming what another run left: nothing to say
            again.coarse_to_fine(lambda t: t.params["x"], space, rounds=2, trials_per_round=4)
        done = len(again.trials)
        assert [t.state for t in again.trials].count("complete") == 8
        with pytest.warns(tune.ResumedWarning, match="every trial of this coarse-to-fine run"):
            again.coarse_to_fine(lambda t: t.params["x"], space, rounds=2, trials_per_round=4)
        assert len(again.trials) == done
