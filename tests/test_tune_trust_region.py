"""coarse_to_fine's adaptive method (the default): the trust-region rule against hand-computed
values, the same configurations for 1 and 2 workers and after a resume mid-round, and the boxes
stored, shown and plotted being the ones the trials were sampled from (every trial but the
exploration moves, which are recorded as such by their stream)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bntune import tune
from bntune.tune import trust_region as tr
from bntune.tune.trust_region import Region

SPACE = tune.Space(
    lr=tune.LogUniform(1e-5, 1.0),
    beta=tune.OneMinusLogUniform(0.9, 0.999),
    x=tune.Uniform(0.0, 1.0),
    act=tune.Choice(["relu", "tanh", "elu"]),
    layers=tune.Fixed(2),
)


def valley(trial) -> float:
    """Smallest at lr = 10**-3, 1 - beta = 10**-2, x = 0.3, act = tanh (module level, so that
    worker processes can run it)."""
    p = trial.params
    return (
        (math.log10(p["lr"]) + 3.0) ** 2
        + (math.log10(1.0 - p["beta"]) + 2.0) ** 2
        + 4.0 * (p["x"] - 0.3) ** 2
        + (0.0 if p["act"] == "tanh" else 0.5)
    )


# ---- the rule, against values computed by hand ------------------------------------------


def test_failures_allowed_is_turbos_ceil_max_4_d_over_q():
    assert tr.failures_allowed(6, 5) == 2  # ceil(6 / 5)
    assert tr.failures_allowed(2, 5) == 1  # ceil(4 / 5)
    assert tr.failures_allowed(10, 3) == 4  # ceil(10 / 3)
    assert tr.failures_allowed(3, 1) == 4


def test_a_regions_first_round_sets_its_best_and_counts_nothing():
    after = tr.after_round(Region(), [3.0, 2.0, 5.0], 1, 2)
    assert after == Region(0.8, 0, 0, 1, 2.0)
    assert not after.restarting
    # a first round whose trials all failed leaves the region restarting
    assert tr.after_round(Region(), [], 1, 2).restarting


def test_three_successes_double_the_length_up_to_its_cap():
    region = Region(best=2.0)
    region = tr.after_round(region, [1.5], 2, 2)
    assert (region.successes, region.failures, region.best) == (1, 0, 1.5)
    region = tr.after_round(region, [1.0, 4.0], 3, 2)
    assert (region.length, region.successes) == (0.8, 2)
    region = tr.after_round(region, [0.5], 4, 2)
    assert (region.length, region.successes, region.best) == (1.6, 0, 0.5)
    for r in (5, 6, 7):
        region = tr.after_round(region, [region.best - 1.0], r, 2)
    assert region.length == 1.6  # LENGTH_MAX


def test_an_improvement_below_a_thousandth_is_a_failure_and_failures_halve_the_length():
    region = Region(best=2.0)
    region = tr.after_round(region, [1.999], 2, 2)  # needs < 2.0 - 0.002
    assert (region.successes, region.failures, region.best) == (0, 1, 1.999)
    region = tr.after_round(region, [], 3, 2)  # a round with no complete trial fails too
    assert (region.length, region.failures) == (0.4, 0)
    # a success resets the failures
    region = tr.after_round(Region(best=2.0, failures=1), [1.0], 2, 2)
    assert (region.successes, region.failures) == (1, 0)


def test_a_collapsed_region_restarts_from_the_next_round():
    region = Region(length=1.5 * 2.0**-7, best=1.0, since=3)
    after = tr.after_round(region, [1.0], 9, 1)  # halved to 0.75 * 2**-7 < 2**-7
    assert after == Region(since=10)
    assert after.restarting


def test_spread_weights_are_the_spreads_over_their_geometric_mean_kept_in_half_to_double():
    top = np.array([[0.5, 0.5], [0.45, 0.3], [0.55, 0.7]])  # std 0.1/sqrt(6) and 0.4/sqrt(6)
    np.testing.assert_allclose(tr.spread_weights(top), [0.5, 2.0], rtol=1e-12)
    top3 = np.array([[0.5, 0.5, 0.5], [0.4, 0.45, 0.3], [0.6, 0.55, 0.7]])  # 2 : 1 : 4
    # geometric mean of (2, 1, 4) is 2: weights 1, 0.5, 2
    np.testing.assert_allclose(tr.spread_weights(top3), [1.0, 0.5, 2.0], rtol=1e-12)
    wide = np.array([[0.5, 0.5], [0.49, 0.1], [0.51, 0.9]])  # 1 : 40 -> 1/6.3, 6.3: clipped
    np.testing.assert_allclose(tr.spread_weights(wide), [0.5, 2.0])


def test_the_box_is_centred_on_the_incumbent_with_sides_length_times_weight():
    space = tune.Space(x=tune.Uniform(0, 1), y=tune.Uniform(0, 1), c=tune.Choice(["a", "b"]))
    units = np.array([[0.9, 0.05, 0.25], [0.45, 0.3, 0.75], [0.5, 0.5, 0.25], [0.55, 0.7, 0.75]])
    ys = np.array([9.0, 1.0, 0.0, 2.0])
    # top 3 (max(3, 4 // 5)): x spread 1 : y spread 4 -> weights 0.5, 2; length 0.8 -> sides
    # 0.4 and min(1, 1.6) = 1 around the incumbent (0.5, 0.5); every option of c
    box = tr.region_box(space, Region(best=0.0), units, ys)
    assert box == {"x": pytest.approx([0.3, 0.7]), "y": [0.0, 1.0], "c": [0, 1]}
    # near the edge the box is clipped, not shifted: it keeps the incumbent at its centre
    units[2, :2] = [0.1, 0.95]
    units[1, :2] = [0.05, 0.75]
    units[3, :2] = [0.15, 1.15]
    box = tr.region_box(space, Region(length=0.4, best=0.0), units, ys)
    assert box["x"] == pytest.approx([0.0, 0.2])  # side 0.4 * 0.5 = 0.2 around 0.1
    assert box["y"] == pytest.approx([0.55, 1.0])  # side 0.4 * 2 = 0.8 around 0.95


def test_placed_points_are_candidates_of_the_box():
    space = tune.Space(x=tune.Uniform(0, 1), y=tune.Uniform(0, 1))
    rng = np.random.default_rng(0)
    units = rng.random((20, 2))
    ys = ((units - 0.3) ** 2).sum(1)
    box = {"x": [0.1, 0.5], "y": [0.2, 0.4]}
    sobol = tune.samplers.REGISTRY["sobol"]
    rows = tr.place(space, box, units, ys, sobol, 7, 5)
    assert rows.shape == (5, 2)
    assert len({tuple(r) for r in rows}) == 5
    cand = sobol.points(space.coordinate_dims, tune.samplers.derive_seed(7, "candidates"), 0,
                        tr.CANDIDATES, tr.CANDIDATES)  # fmt: skip
    assert all((cand == r).all(axis=1).any() for r in rows)
    np.testing.assert_array_equal(rows, tr.place(space, box, units, ys, sobol, 7, 5))


def test_the_model_picks_the_length_scale_of_largest_marginal_likelihood():
    # reference: each scale's Matérn 5/2 kernel written out, its log evidence from
    # np.linalg.solve and slogdet
    rng = np.random.default_rng(3)
    x = rng.random((30, 3))
    y = np.sin(6.0 * x[:, 0]) + x[:, 1]
    dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    evidence = []
    for scale in tr.LENGTH_SCALES:
        r = math.sqrt(5.0) * dist / scale
        k = (1.0 + r + r**2 / 3.0) * np.exp(-r) + tr.NOISE * np.eye(len(x))
        evidence.append(-0.5 * y @ np.linalg.solve(k, y) - 0.5 * np.linalg.slogdet(k)[1])
    scale, k = tr._fit(math.sqrt(5.0) * dist, y)
    assert scale == tr.LENGTH_SCALES[int(np.argmax(evidence))]
    r = math.sqrt(5.0) * dist / scale
    np.testing.assert_allclose(k, (1.0 + r + r**2 / 3.0) * np.exp(-r) + tr.NOISE * np.eye(30),
                               rtol=1e-12, atol=1e-15)  # fmt: skip


def test_normal_scores_of_ranks_with_equal_values_sharing_their_mean():
    from statistics import NormalDist

    z = NormalDist().inv_cdf  # rank k of 5 scores z((k + 0.5) / 5)
    tied = (z(0.5) + z(0.7) + z(0.9)) / 3.0  # 3.0 holds ranks 2, 3 and 4
    np.testing.assert_allclose(tr._normal_scores(np.array([3.0, 1.0, 3.0, 2.0, 3.0])),
                               [tied, z(0.1), tied, z(0.3), tied], rtol=1e-12)  # fmt: skip
    np.testing.assert_allclose(tr._normal_scores(np.array([0.2, -1.0, 5.0])),
                               [z(0.5), z(1 / 6), z(5 / 6)], rtol=1e-12, atol=1e-15)  # fmt: skip


def test_the_evidence_buffer_is_the_rounds_stacked_in_order():
    from bntune.tune.adaptive_round import RowBuffer

    rng = np.random.default_rng(0)
    rounds = [rng.random((k, 3)) for k in (3, 0, 2, 40, 1)]
    buffer = RowBuffer(3)
    for rows in rounds:
        buffer.add(rows)
    np.testing.assert_array_equal(buffer.array, np.vstack(rounds))
    buffer.widen(2)  # a new parameter: NaN in the rows so far
    last = rng.random((5, 5))
    buffer.add(last)
    expected = np.vstack([np.hstack([np.vstack(rounds), np.full((46, 2), np.nan)]), last])
    np.testing.assert_array_equal(buffer.array, expected)


def test_every_third_round_explores_unless_the_region_restarts_or_has_one_trial():
    going, restarting = Region(best=1.0), Region()
    assert [r for r in range(1, 10) if tr.explores(r, going, 3)] == [3, 6, 9]
    assert not any(tr.explores(r, restarting, 3) for r in range(1, 10))
    assert not any(tr.explores(r, going, 1) for r in range(1, 10))
    assert tr.explores(3, going, 2)


def test_a_move_is_the_incumbent_with_one_numeric_coordinate_redrawn():
    space = tune.Space(x=tune.Uniform(0, 1), c=tune.Choice(["a", "b"]), y=tune.Uniform(0, 1))
    units = np.array([[0.1, 0.25, 0.2], [0.6, 0.75, 0.7], [0.3, 0.25, 0.9]])
    ys = np.array([2.0, 1.0, 1.0])  # the incumbent: row 1, the first of the two lowest
    changed = set()
    for seed in range(20):
        (row,) = tr.move(space, units, ys, seed)
        assert row[1] == 0.75  # the categorical coordinate is never moved
        diff = [j for j in (0, 2) if row[j] != units[1, j]]
        assert len(diff) == 1
        assert 0.0 <= row[diff[0]] < 1.0
        changed |= set(diff)
        np.testing.assert_array_equal(row, tr.move(space, units, ys, seed)[0])
    assert changed == {0, 2}  # either numeric coordinate, as the seed says


# ---- runs -------------------------------------------------------------------------------


def _configurations(study: tune.Study) -> list[tuple]:
    """(round, seq, params, value) of the complete trials, in design order."""
    done = [t for t in study.trials if t.state == "complete"]
    return sorted((t.round, t.seq, tuple(sorted(t.params.items())), t.value) for t in done)


def test_the_same_configurations_and_boxes_on_1_and_2_workers(tmp_path):
    runs = {}
    for workers in (1, 2):
        with tune.Study("a", storage=tmp_path / f"{workers}.db", seed=5) as study:
            study.coarse_to_fine(valley, SPACE, rounds=5, trials_per_round=4, method="adaptive",
                                 n_workers=workers)  # fmt: skip
            runs[workers] = (_configurations(study), study.boxes)
    assert runs[1] == runs[2]
    assert len(runs[1][0]) == 20


def _interrupt_and_resume(tmp_path, name, stop_at):
    """5 adaptive rounds of 4, stopped (KeyboardInterrupt) at objective call ``stop_at``, then
    resumed: the resumed study's trials, configurations and boxes, and the calls made."""
    calls = {"n": 0}

    def f(trial):
        calls["n"] += 1
        if calls["n"] == stop_at:
            raise KeyboardInterrupt
        return valley(trial)

    path = tmp_path / "s.db"
    with tune.Study(name, storage=path, seed=3) as study, pytest.raises(KeyboardInterrupt):
        study.coarse_to_fine(f, SPACE, rounds=5, trials_per_round=4, method="adaptive")
    with tune.Study(name, storage=path) as study:
        study.coarse_to_fine(f, SPACE, rounds=5, trials_per_round=4, method="adaptive")
        return study.trials, _configurations(study), study.boxes, calls["n"]


def test_a_run_resumed_mid_round_decides_as_an_unbroken_one(tmp_path):
    trials, resumed, boxes, calls = _interrupt_and_resume(tmp_path, "r", 11)  # round 3, 3rd
    interrupted = [t for t in trials if t.state != "complete"]
    clean = tune.Study("r", seed=3)
    clean.coarse_to_fine(valley, SPACE, rounds=5, trials_per_round=4, method="adaptive")
    assert boxes == clean.boxes
    assert resumed == _configurations(clean)
    # the interrupted trial is stored failed beside its rerun, which ran the same point
    assert [(t.round, t.seq, t.state) for t in interrupted] == [(3, 2, "failed")]
    assert any(c[:3] == (3, 2, tuple(sorted(interrupted[0].params.items()))) for c in resumed)
    assert calls == 21


def test_every_trial_lies_in_its_rounds_stored_box_and_the_run_finds_the_valley():
    study = tune.Study("b", seed=1)
    study.coarse_to_fine(valley, SPACE, rounds=8, trials_per_round=5, method="adaptive")
    boxes = study.boxes
    assert sorted(boxes) == list(range(1, 9))
    assert boxes[1] == {"lr": [0.0, 1.0], "beta": [0.0, 1.0], "x": [0.0, 1.0], "act": [0, 1, 2]}
    moves = [t for t in study.trials if ":x" in t.stream]
    for t in study.trials:
        if t in moves:
            continue
        box = boxes[t.round]
        for name in ("lr", "beta", "x"):
            assert box[name][0] <= t.unit[name] <= box[name][1], (t.round, name)
        assert SPACE["act"].index(t.params["act"]) in box["act"]
    assert any(boxes[r]["x"] != [0.0, 1.0] for r in range(2, 9))  # later boxes are boxes
    # the exploration moves: one trial in rounds 3 and 6, the best earlier trial with one
    # numeric coordinate redrawn, stored under the round's x stream
    assert [(t.round, t.stream.rsplit(":", 1)[1], t.seq) for t in moves] == [
        (3, "x3", 0),
        (6, "x6", 0),
    ]
    assert sum(t.round == 3 for t in study.trials) == 5  # 4 in the box and the move
    for t in moves:
        earlier = [e for e in study.trials if e.round < t.round]
        best = min(earlier, key=lambda e: e.value)
        diff = [n for n in ("lr", "beta", "x", "act") if t.unit[n] != best.unit[n]]
        assert len(diff) == 1
        assert diff[0] != "act"
    # an independent check of the result: random search's median best on 40 trials of this
    # function is above 0.5 (the act penalty alone is 0.5 for two options in three)
    assert study.best_trial.value < 0.2


def test_plots_draw_the_boxes_the_trials_were_sampled_from():
    pytest.importorskip("matplotlib")
    from bntune import plots

    study = tune.Study("p", seed=2)
    study.coarse_to_fine(valley, SPACE, rounds=4, trials_per_round=5, method="adaptive")
    fig = plots.objective_vs_params_figure(study, space=SPACE)
    (ax,) = [a for a in fig.axes if a.get_xlabel().startswith("x")]
    spans = list(ax.patches)
    assert len(spans) == 3  # rounds 2, 3 and 4
    for r, span in zip((2, 3, 4), spans, strict=True):
        if hasattr(span, "get_width"):
            lo, hi = span.get_x(), span.get_x() + span.get_width()
        else:
            xs = np.asarray(span.get_xy())[:, 0]
            lo, hi = xs.min(), xs.max()
        assert (lo, hi) == pytest.approx(tuple(study.boxes[r]["x"]))  # x is unit-scaled
        inside = [t for t in study.trials if t.round == r and ":x" not in t.stream]
        assert all(lo - 1e-12 <= t.params["x"] <= hi + 1e-12 for t in inside)


def test_the_zoom_knobs_are_refused_by_the_adaptive_method():
    study = tune.Study("k")
    with pytest.raises(ValueError, match="top set the boxes of method='zoom'"):
        study.coarse_to_fine(valley, SPACE, rounds=2, trials_per_round=4, top=0.1,
                             method="adaptive")  # fmt: skip
    with pytest.raises(ValueError, match="top and shrink"):
        study.coarse_to_fine(valley, SPACE, rounds=2, trials_per_round=4, top=0.1, shrink=0.5,
                             method="adaptive")  # fmt: skip
    with pytest.raises(ValueError, match="method must be one of"):
        study.coarse_to_fine(valley, SPACE, rounds=2, trials_per_round=4, method="turbo")
    assert study.trials == []


def test_adaptive_is_the_default_and_the_zoom_stays_reachable():
    default, adaptive = tune.Study("d", seed=4), tune.Study("a", seed=4)
    default.coarse_to_fine(valley, SPACE, rounds=3, trials_per_round=4)
    adaptive.coarse_to_fine(valley, SPACE, rounds=3, trials_per_round=4, method="adaptive")
    assert _configurations(default) == _configurations(adaptive)
    assert default.boxes == adaptive.boxes
    with pytest.raises(ValueError, match="pass method='zoom'"):
        default.coarse_to_fine(valley, SPACE, rounds=3, trials_per_round=4, shrink=0.5)
    zoom = tune.Study("z", seed=4)
    zoom.coarse_to_fine(valley, SPACE, rounds=3, trials_per_round=4, top=0.25, method="zoom")
    assert {t.stream.split(":")[0] for t in zoom.trials} == {"c2f"}
    assert {t.stream.split(":")[0] for t in default.trials} == {"c2f-adaptive"}


def test_a_run_resumed_at_its_exploration_move_decides_as_an_unbroken_one(tmp_path):
    # round 3: three trials in the box (calls 9-11), then the move (12)
    trials, resumed, boxes, _ = _interrupt_and_resume(tmp_path, "m", 12)
    interrupted = [(t.round, t.stream[-2:], t.state) for t in trials if t.state != "complete"]
    clean = tune.Study("m", seed=3)
    clean.coarse_to_fine(valley, SPACE, rounds=5, trials_per_round=4, method="adaptive")
    assert interrupted == [(3, "x3", "failed")]
    assert boxes == clean.boxes
    assert resumed == _configurations(clean)
