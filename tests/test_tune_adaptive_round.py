"""coarse_to_fine's adaptive method beyond a plain declared space: define by run (conditional
parameters too) and several objectives. The box around the incumbent's branch against values
computed by hand, the ParEGO scalarisation against its formula, the same configurations for 1
and 2 workers and after a resume, every trial in its round's stored box, and on ZDT1 a front
closer to the true one (hypervolume, computed here independently) than random search's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bntune import tune
from bntune.tune import adaptive_round as ar
from bntune.tune import objectives
from bntune.tune import trust_region as tr
from bntune.tune.trust_region import Region


def branchy(trial) -> float:
    """Branch "a" is always better (its x best at 0.2, its width 0.7 on a log scale); branch "b"
    has a y of its own and stays above 10 (module level: worker processes run it)."""
    branch = trial.suggest_categorical("branch", ["a", "b"])
    x = trial.suggest_float("x", 0.0, 1.0)
    if branch == "a":
        width = trial.suggest_float("width", 1e-3, 1.0, log=True)
        return (x - 0.2) ** 2 + (math.log10(width) + 0.5) ** 2 / 10
    y = trial.suggest_float("y", 0.0, 1.0)
    return 10.0 + y


def two_bowls(trial) -> tuple[float, float]:
    """Two objectives on a declared space: the distances to (0.2, 0.2) and to (0.8, 0.8)."""
    x, y = trial.params["x"], trial.params["y"]
    return (x - 0.2) ** 2 + (y - 0.2) ** 2, (x - 0.8) ** 2 + (y - 0.8) ** 2


PLANE = tune.Space(x=tune.Uniform(0.0, 1.0), y=tune.Uniform(0.0, 1.0))


# ---- the pieces, against values computed by hand ------------------------------------------


class _Done:
    """A complete trial as the evidence reads it."""

    def __init__(self, unit, value=None, values=None):
        self.unit, self.value, self.values = unit, value, values


def test_evidence_gives_a_new_parameter_a_column_and_leaves_it_nan_where_unused():
    ev = ar.Evidence([], [1.0])
    ev.add(1, [_Done({"x": 0.1}, 3.0), _Done({"x": 0.2, "b": 0.7}, 1.0)])
    ev.add(2, [])
    ev.add(3, [_Done({"z": 0.4, "a": 0.9, "x": 0.3}, 2.0)])
    assert ev.names == ["b", "x", "a", "z"]  # by round of first use, a round's new ones by name
    expected = [[np.nan, 0.1, np.nan, np.nan], [0.7, 0.2, np.nan, np.nan], [np.nan, 0.3, 0.9, 0.4]]
    np.testing.assert_array_equal(ev.units, expected)
    assert ev.starts == {1: 0, 2: 2, 3: 2}
    np.testing.assert_array_equal(ev.scores(3, None), [3.0, 1.0, 2.0])
    maximised = ar.Evidence(["x"], [-1.0])
    maximised.add(1, [_Done({"x": 0.5}, 4.0)])
    np.testing.assert_array_equal(maximised.scores(2, None), [-4.0])


def test_the_box_follows_the_incumbents_branch_and_keeps_the_rest_whole():
    space = tune.Space(x=tune.Uniform(0, 1), y=tune.Uniform(0, 1), z=tune.Uniform(0, 1))
    ev = ar.Evidence(["x", "y", "z"], [1.0])
    rows = [
        ({"x": 0.9, "y": 0.05}, 9.0),
        ({"x": 0.45, "y": 0.3}, 1.0),
        ({"x": 0.5, "y": 0.5}, 0.0),  # the incumbent: it used x and y, not z
        ({"x": 0.55, "y": 0.7}, 2.0),
        ({"x": 0.1, "z": 0.4}, 0.5),  # second best, but it lacks y: not a branch trial
    ]
    ev.add(1, [_Done(u, v) for u, v in rows])
    sobol = tune.samplers.REGISTRY["sobol"]
    plan = ar.next_round(space, ev, ev.scores(2, None), Region(best=0.0), sampler=sobol, seed=7,
                         n_box=4, move_seed=None, stored=None)  # fmt: skip
    # the top 3 branch trials (rows 2, 1, 3): x spread 1 : y spread 4 -> weights 0.5, 2; length
    # 0.8 -> sides 0.4 and min(1, 1.6) around (0.5, 0.5); z, which the incumbent lacks, whole
    assert plan.box == {"x": pytest.approx([0.3, 0.7]), "y": [0.0, 1.0], "z": [0.0, 1.0]}
    assert plan.names == ("x", "y")
    assert plan.rows.shape == (4, 2)
    assert plan.move is None
    assert all(set(p) == {"x", "y"} for p in plan.plan(plan.rows))
    # now the incumbent uses z: only the trials that used z (rows 4 and 5) are its branch
    ev.add(2, [_Done({"x": 0.3, "z": 0.6}, -1.0)])
    plan = ar.next_round(space, ev, ev.scores(3, None), Region(length=0.4, best=-1.0),
                         sampler=sobol, seed=7, n_box=2, move_seed=3, stored=None)  # fmt: skip
    # x: 0.1, 0.3 and z: 0.4, 0.6 spread alike -> weights 1; sides 0.4 around (0.3, 0.6)
    assert plan.box == {"x": pytest.approx([0.1, 0.5]), "y": [0.0, 1.0],
                        "z": pytest.approx([0.4, 0.8])}  # fmt: skip
    assert plan.names == ("x", "z")
    (move,) = plan.move  # the incumbent with one of its own coordinates redrawn
    assert sum(a != b for a, b in zip(move, [0.3, 0.6], strict=True)) == 1


def test_chebyshev_is_parego_s_augmented_scalarisation_on_scaled_objectives():
    minimised = np.array([[1.0, 10.0], [3.0, 30.0], [2.0, 20.0]])
    basis = minimised[:2]  # scales: objective 1 over [1, 3], objective 2 over [10, 30]
    w = np.array([0.25, 0.75])
    # scaled: (0, 0), (1, 1), (0.5, 0.5); weighted (0, 0), (0.25, 0.75), (0.125, 0.375)
    expected = [0.0, 0.75 + 0.05 * 1.0, 0.375 + 0.05 * 0.5]
    np.testing.assert_allclose(objectives.chebyshev(minimised, w, basis), expected, rtol=1e-12)
    # a constant objective scales by 1
    flat = np.array([[2.0, 5.0], [4.0, 5.0]])
    np.testing.assert_allclose(objectives.chebyshev(flat, w, flat), [0.0, 0.25 + 0.05 * 0.25])


def test_simplex_weights_are_uniform_on_the_simplex_and_fixed_by_the_seed():
    ws = np.array([objectives.simplex_weights(2, s) for s in range(4000)])
    assert (ws > 0).all()
    np.testing.assert_allclose(ws.sum(axis=1), 1.0)
    # on the 2-simplex the first weight is uniform on (0, 1): its quartiles 1/4, 1/2, 3/4
    np.testing.assert_allclose(np.quantile(ws[:, 0], [0.25, 0.5, 0.75]), [0.25, 0.5, 0.75],
                               atol=0.03)  # fmt: skip
    three = np.array([objectives.simplex_weights(3, s) for s in range(4000)])
    np.testing.assert_allclose(three.mean(axis=0), [1 / 3] * 3, atol=0.02)
    np.testing.assert_array_equal(
        objectives.simplex_weights(3, 11), objectives.simplex_weights(3, 11)
    )
    assert ar.round_weights(1, "run", 0, 2) is None
    assert not np.array_equal(ar.round_weights(2, "run", 0, 2), ar.round_weights(2, "run", 0, 3))


def test_a_round_on_its_own_scale_succeeds_when_it_beats_the_regions_best_on_that_scale():
    region = Region(best=5.0)  # the region's best on the last round's scale: not comparable
    after = tr.after_round(region, [0.4], 2, 2, before=0.5)
    assert (after.successes, after.failures, after.best) == (1, 0, 0.4)
    after = tr.after_round(region, [0.4995], 2, 2, before=0.5)  # needs < 0.5 - 0.0005
    assert (after.successes, after.failures, after.best) == (0, 1, 0.4995)


# ---- define by run --------------------------------------------------------------------------


def _configurations(study: tune.Study) -> list[tuple]:
    """(round, stream, seq, params, value(s)) of the complete trials, in design order."""
    done = [t for t in study.trials if t.state == "complete"]
    return sorted((t.round, t.stream, t.seq, tuple(sorted(t.params.items())), t.value,
                   tuple(t.values or ())) for t in done)  # fmt: skip


def test_define_by_run_gives_the_same_configurations_and_boxes_on_1_and_2_workers(tmp_path):
    runs = {}
    for workers in (1, 2):
        with tune.Study("a", storage=tmp_path / f"{workers}.db", seed=5) as study:
            study.coarse_to_fine(branchy, rounds=6, trials_per_round=4, n_workers=workers)
            runs[workers] = (_configurations(study), study.boxes)
    assert runs[1] == runs[2]
    assert len(runs[1][0]) == 24
    assert any(":x" in c[1] for c in runs[1][0])  # the exploration moves are among them


def _resumed_and_clean(tmp_path, objective, space, directions=None) -> tuple:
    """6 adaptive rounds of 4 stopped (KeyboardInterrupt) at objective call 11 (round 3, its
    third trial) and resumed, beside an unbroken run: (configurations, boxes) of each, and the
    calls the interrupted and resumed run made."""
    calls = {"n": 0}

    def f(trial):
        calls["n"] += 1
        if calls["n"] == 11:
            raise KeyboardInterrupt
        return objective(trial)

    path, kind = tmp_path / "s.db", {"directions": directions} if directions else {}
    with tune.Study("r", storage=path, seed=3, **kind) as study, pytest.raises(KeyboardInterrupt):
        study.coarse_to_fine(f, space, rounds=6, trials_per_round=4)
    with tune.Study("r", storage=path) as study:
        study.coarse_to_fine(f, space, rounds=6, trials_per_round=4)
        resumed = (_configurations(study), study.boxes)
    clean = tune.Study("r", seed=3, **kind)
    clean.coarse_to_fine(objective, space, rounds=6, trials_per_round=4)
    return resumed, (_configurations(clean), clean.boxes), calls["n"]


def test_a_define_by_run_run_resumed_mid_round_decides_as_an_unbroken_one(tmp_path):
    resumed, clean, calls = _resumed_and_clean(tmp_path, branchy, None)
    assert resumed == clean
    assert calls == 25


def test_a_run_with_several_objectives_resumed_mid_round_decides_as_an_unbroken_one(tmp_path):
    resumed, clean, calls = _resumed_and_clean(tmp_path, two_bowls, PLANE, ["minimize"] * 2)
    assert resumed == clean
    assert calls == 25


def test_define_by_run_boxes_cover_what_was_seen_and_zoom_only_on_trials_that_used_it():
    study = tune.Study("b", seed=1)
    # 6 rounds: too few for the region to collapse and restart (7 halvings), so each round's
    # incumbent is the best trial of all earlier rounds
    study.coarse_to_fine(branchy, rounds=6, trials_per_round=4)
    boxes, trials = study.boxes, study.trials
    assert boxes[1] == {}  # nothing seen yet: every parameter its whole range
    assert any(t.params["branch"] == "a" for t in trials if t.round == 1)
    for t in trials:  # inactive parameters are absent, not filled in
        assert set(t.params) == {"branch", "x", "width" if t.params["branch"] == "a" else "y"}
        assert set(t.unit) == set(t.params)
    for r in range(2, 7):
        earlier = [t for t in trials if t.round < r]
        incumbent = min(earlier, key=lambda t: t.value)
        assert incumbent.params["branch"] == "a"
        assert set(boxes[r]) == {n for t in earlier for n in t.params}
        # y: only branch b uses it, the incumbent does not: its whole range, never zoomed
        assert boxes[r]["y"] == [0.0, 1.0]
        assert boxes[r]["branch"] == [0, 1]
        for name in ("x", "width"):  # centred on the incumbent unless clipped at an edge
            low, high = boxes[r][name]
            u = incumbent.unit[name]
            assert low <= u <= high
            assert low == 0.0 or high == 1.0 or (low + high) / 2 == pytest.approx(u)
        assert boxes[r]["x"] != [0.0, 1.0] or boxes[r]["width"] != [0.0, 1.0]
        for t in trials:
            if t.round != r or ":x" in t.stream:
                continue
            for name, u in t.unit.items():  # every box trial lies in its round's box
                entry = boxes[r][name]
                if name == "branch":
                    assert int(u * 2) in entry
                else:
                    assert entry[0] <= u <= entry[1], (r, name)
    moves = [t for t in trials if ":x" in t.stream]
    assert [(t.round, t.seq) for t in moves] == [(3, 0), (6, 0)]
    for t in moves:  # the incumbent with one numeric coordinate it used redrawn
        incumbent = min((e for e in trials if e.round < t.round), key=lambda e: e.value)
        assert t.params["branch"] == incumbent.params["branch"]
        diff = [n for n in incumbent.params if t.params[n] != incumbent.params[n]]
        assert len(diff) == 1
        assert diff[0] in ("x", "width")
    # an independent check of the result: a random trial lands in branch a with x within 0.05
    # of 0.2 and width within 0.2 decades of 10**-0.5 with chance 0.5 * 0.1 * 0.4 / 3 = 1/150,
    # so 24 random trials would do so with chance 1 - (149/150)**24 < 15%
    best = study.best_trial.params
    assert abs(best["x"] - 0.2) < 0.05
    assert abs(math.log10(best["width"]) + 0.5) < 0.2


OPTIMIZERS = tune.Space(
    optimizer=tune.Choice({
        "sgd": {"lr": tune.LogUniform(1e-4, 1.0), "momentum": tune.Uniform(0.0, 0.99)},
        "adam": {"lr": tune.LogUniform(1e-4, 1.0), "beta2": tune.OneMinusLogUniform(0.99, 0.9999)},
    }),
    layers=tune.IntUniform(1, 3),
)  # fmt: skip


def _adam_wins(trial) -> float:
    p = trial.params
    return (math.log10(p["lr"]) + 2.0) ** 2 + (0.0 if p["optimizer"] == "adam" else 5.0)


def test_a_conditional_space_runs_adaptive_with_its_branches_only():
    study = tune.Study("c", seed=2)
    study.coarse_to_fine(_adam_wins, OPTIMIZERS, rounds=5, trials_per_round=4)
    for t in study.trials:
        branch = {"sgd": {"lr", "momentum"}, "adam": {"lr", "beta2"}}[t.params["optimizer"]]
        assert set(t.params) == {"optimizer", "layers"} | branch
    for r in range(2, 6):
        incumbent = min((t for t in study.trials if t.round < r), key=lambda t: t.value)
        if incumbent.params["optimizer"] == "adam":
            assert study.boxes[r]["momentum"] == [0.0, 1.0]  # sgd's: the incumbent lacks it
    assert study.best_trial.params["optimizer"] == "adam"


# ---- several objectives -----------------------------------------------------------------------


def test_several_objectives_give_the_same_configurations_on_1_and_2_workers(tmp_path):
    runs = {}
    for workers in (1, 2):
        with tune.Study("m", storage=tmp_path / f"{workers}.db", seed=8,
                        directions=["minimize", "maximize"]) as study:  # fmt: skip
            study.coarse_to_fine(two_bowls_mixed, PLANE, rounds=6, trials_per_round=3,
                                 n_workers=workers)  # fmt: skip
            runs[workers] = (
                sorted((t.round, t.stream, t.seq, t.params["x"], t.params["y"], tuple(t.values))
                       for t in study.trials),
                study.boxes,
            )  # fmt: skip
    assert runs[1] == runs[2]
    assert len(runs[1][0]) == 18
    # the boxes are boxes around trials, not the whole plane
    assert any(b != {"x": [0.0, 1.0], "y": [0.0, 1.0]} for r, b in runs[1][1].items() if r > 1)


def two_bowls_mixed(trial) -> tuple[float, float]:
    """two_bowls with the second objective negated (to be maximised)."""
    a, b = two_bowls(trial)
    return a, -b


def _zdt1(trial) -> tuple[float, float]:
    """ZDT1 (Zitzler, Deb and Thiele 2000) in 4 dimensions: its Pareto front is
    f2 = 1 - sqrt(f1), f1 in [0, 1], reached where x1..x3 = 0."""
    x = [trial.params[f"x{i}"] for i in range(4)]
    g = 1.0 + 9.0 * sum(x[1:]) / 3.0
    return x[0], g * (1.0 - math.sqrt(x[0] / g))


def _hypervolume_2d(points: list[list[float]], ref: tuple[float, float]) -> float:
    """The area dominated by ``points`` (both minimised) and bounded by ``ref``: a staircase."""
    area, lowest = 0.0, ref[1]
    steps = []
    for f1, f2 in sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1]):
        if f2 < lowest:
            steps.append((f1, f2))
            lowest = f2
    for i, (f1, f2) in enumerate(steps):
        right = steps[i + 1][0] if i + 1 < len(steps) else ref[0]
        area += (right - f1) * (ref[1] - f2)
    return area


def test_the_hypervolume_helper_against_a_hand_count():
    # steps at (0, 2), (1, 1), (2, 0) under ref (3, 3): 1*1 + 1*2 + 1*3 = 6; a dominated point
    # and one outside the reference add nothing
    assert _hypervolume_2d([[0, 2], [1, 1], [2, 0], [2, 2], [4, 0]], (3, 3)) == 6.0


def test_several_objectives_get_closer_to_the_zdt1_front_than_random_search():
    space = tune.Space(**{f"x{i}": tune.Uniform(0.0, 1.0) for i in range(4)})
    ref = (1.1, 6.0)
    # the true front's hypervolume: the box 1.1 x 6 less the area under 1 - sqrt(f1) on [0, 1]
    # (1 - 2/3)
    true = ref[0] * ref[1] - 1.0 / 3.0
    for seed in range(5):
        gaps = []
        adaptive = tune.Study("a", seed=seed, directions=["minimize", "minimize"])
        adaptive.coarse_to_fine(_zdt1, space, rounds=20, trials_per_round=3)
        plain = tune.Study("r", seed=seed, directions=["minimize", "minimize"])
        plain.optimize(_zdt1, space, n_trials=60, sampler="random")
        for study in (adaptive, plain):
            assert len(study.trials) == 60
            found = _hypervolume_2d([t.values for t in study.trials], ref)
            assert found <= true + 1e-12
            gaps.append(true - found)
        assert gaps[0] < gaps[1], (seed, gaps)
