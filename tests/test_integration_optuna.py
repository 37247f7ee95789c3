"""bntune.integration.optuna.CoarseToFineSampler: an Optuna script gets bntune's coarse-to-fine
zoom by changing its sampler, and suggests exactly what bntune's own study would."""

from __future__ import annotations

import math
import statistics

import pytest

optuna = pytest.importorskip("optuna")

from bntune import tune  # noqa: E402
from bntune.integration.optuna import CoarseToFineSampler, dimension_of  # noqa: E402
from bntune.tune import dimensions as dims  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def conditional_objective(trial) -> float:
    """Written once against the suggest API Optuna and bntune share: a log-scale rate, an
    integer, a choice with a conditional parameter, and a grid."""
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    layers = trial.suggest_int("layers", 1, 4)
    width = trial.suggest_int("width", 16, 256, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5, step=0.1)
    loss = (math.log10(lr) + 2.5) ** 2 + (layers - 3) ** 2 + (math.log2(width) - 6) ** 2 / 4
    loss += (dropout - 0.2) ** 2
    if trial.suggest_categorical("optimizer", ["sgd", "adam"]) == "adam":
        beta = trial.suggest_float("beta", 0.0, 1.0)
        loss += (beta - 0.3) ** 2
    else:
        loss += 0.5
    return loss


def two_objectives(trial) -> tuple[float, float]:
    x = trial.suggest_float("x", 0.0, 1.0)
    y = trial.suggest_float("y", 1e-3, 1.0, log=True)
    return x + y, (1.0 - x) ** 2 + y


def optuna_study(sampler: CoarseToFineSampler, **kwargs) -> optuna.Study:
    return optuna.create_study(sampler=sampler, **kwargs)


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_an_optuna_run_suggests_what_bntunes_coarse_to_fine_does(direction: str) -> None:
    sign = 1.0 if direction == "minimize" else -1.0

    def objective(trial) -> float:
        return sign * conditional_objective(trial)

    q, rounds = 8, 5
    ours = optuna_study(CoarseToFineSampler(trials_per_round=q, top=0.25, seed=11),
                        direction=direction)  # fmt: skip
    ours.optimize(objective, n_trials=q * rounds)
    reference = tune.Study("reference", seed=11, direction=direction)
    reference.coarse_to_fine(objective, rounds=rounds, trials_per_round=q, top=0.25,
                             method="zoom")  # fmt: skip
    assert [t.params for t in ours.trials] == [t.params for t in reference.trials]
    assert ours.sampler.boxes(ours) == {r: b for r, b in reference.boxes.items() if r > 1}
    # the zoom did zoom: the last box is narrower than the whole range on the parameters
    # every trial uses
    last = ours.sampler.boxes(ours)[rounds]
    assert all(last[n][1] - last[n][0] < 1.0 for n in ("lr", "layers", "width", "dropout")), last


def test_several_objectives_zoom_around_the_pareto_ranks_as_bntune_does() -> None:
    q, rounds = 6, 4
    ours = optuna_study(CoarseToFineSampler(trials_per_round=q, top=0.3, seed=2),
                        directions=["minimize", "minimize"])  # fmt: skip
    ours.optimize(two_objectives, n_trials=q * rounds)
    reference = tune.Study("pareto", seed=2, directions=["minimize", "minimize"])
    reference.coarse_to_fine(two_objectives, rounds=rounds, trials_per_round=q, top=0.3,
                             method="zoom")  # fmt: skip
    assert [t.params for t in ours.trials] == [t.params for t in reference.trials]
    assert ours.sampler.boxes(ours) == {r: b for r, b in reference.boxes.items() if r > 1}


def values_checked_against_their_boxes(study: optuna.Study, q: int) -> int:
    """Asserts that every value of a trial after round 1 lies in its round's stored box (an
    integer's or a grid value's cell meets it); returns how many values were checked."""
    boxes = study.sampler.boxes(study)
    checked = 0
    for t in study.trials[q:]:
        box = boxes[t.number // q + 1]
        for name, value in t.params.items():
            dim = dimension_of(t.distributions[name])
            if isinstance(dim, dims.Choice):
                assert dim.index(value) in box[name]
                continue
            lo, hi = box[name]
            start, end = unit_cell(dim, value)
            where = (name, value, (start, end), (lo, hi))
            assert lo - 1e-12 <= end, where
            assert start <= hi + 1e-12, where
            checked += 1
    return checked


def unit_cell(dim: dims.Dimension, value: object) -> tuple[float, float]:
    """The unit coordinates that map to `value`: an integer's or a grid value's whole cell
    (on a log scale for IntLogUniform), a continuous value's own point."""
    if isinstance(dim, dims.IntLogUniform):
        span = math.log(dim.high + 1) - math.log(dim.low)
        k = int(value)  # type: ignore[call-overload]
        return (
            (math.log(k) - math.log(dim.low)) / span,
            (math.log(k + 1) - math.log(dim.low)) / span,
        )
    u = dim.to_unit(value)
    half = 0.5 / getattr(dim, "_count", math.inf)
    return u - half, u + half


def test_every_trial_lies_in_its_rounds_box() -> None:
    q = 10
    study = optuna_study(CoarseToFineSampler(trials_per_round=q, seed=4))
    study.optimize(conditional_objective, n_trials=5 * q)
    assert sorted(study.sampler.boxes(study)) == [2, 3, 4, 5]
    assert values_checked_against_their_boxes(study, q) > 4 * q * 4


def test_a_parameter_the_best_trials_lacked_keeps_its_whole_range() -> None:
    def objective(trial) -> float:
        lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
        loss = (math.log10(lr) + 2.0) ** 2
        if trial.suggest_categorical("optimizer", ["sgd", "adam"]) == "adam":
            loss += 10.0 + trial.suggest_float("beta", 0.0, 1.0)  # adam never wins
        return loss

    q = 8
    study = optuna_study(CoarseToFineSampler(trials_per_round=q, top=0.2, seed=1))
    study.optimize(objective, n_trials=5 * q)
    boxes = study.sampler.boxes(study)
    assert any("beta" in t.params for t in study.trials)
    for box in boxes.values():
        assert box["optimizer"] == [0]  # only sgd is kept
        assert box.get("beta", [0.0, 1.0]) == [0.0, 1.0]
    assert boxes[5]["lr"][1] - boxes[5]["lr"][0] < 0.5


def test_a_resumed_study_continues_the_same_design(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    unbroken = optuna_study(CoarseToFineSampler(trials_per_round=5, seed=9))
    unbroken.optimize(conditional_objective, n_trials=25)

    first = optuna_study(CoarseToFineSampler(trials_per_round=5, seed=9), storage=url,
                         study_name="s")  # fmt: skip
    first.optimize(conditional_objective, n_trials=12)
    # another process: a new sampler without a seed takes the study's stored one
    again = optuna.load_study(study_name="s", storage=url,
                              sampler=CoarseToFineSampler(trials_per_round=5))  # fmt: skip
    again.optimize(conditional_objective, n_trials=13)
    assert [t.params for t in again.trials] == [t.params for t in unbroken.trials]

    other = optuna.load_study(study_name="s", storage=url,
                              sampler=CoarseToFineSampler(trials_per_round=5, seed=10))  # fmt: skip
    with pytest.raises(ValueError, match=r"seed=10 .* seed 9"):
        other.optimize(conditional_objective, n_trials=1)


def test_enqueued_trials_keep_their_values_and_count_for_the_box() -> None:
    def objective(trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        y = trial.suggest_float("y", 0.0, 1.0)
        return (x - 0.9) ** 2 + (y - 0.1) ** 2

    study = optuna_study(CoarseToFineSampler(trials_per_round=4, seed=0))
    study.enqueue_trial({"x": 0.9, "y": 0.1})  # the optimum, as trial 0
    study.optimize(objective, n_trials=8)
    assert study.trials[0].params == {"x": 0.9, "y": 0.1}
    box = study.sampler.boxes(study)[2]
    # the best of round 1 is the enqueued optimum: round 2's box is around it (the unit
    # coordinate of a uniform value is the value)
    assert box["x"][0] <= 0.9 <= box["x"][1]
    assert box["y"][0] <= 0.1 <= box["y"][1]
    assert box["x"][1] - box["x"][0] <= 0.5 + 1e-12


def test_threads_share_one_box_per_round() -> None:
    study = optuna_study(CoarseToFineSampler(trials_per_round=6, seed=3))
    study.optimize(conditional_objective, n_trials=30, n_jobs=2)
    assert len(study.trials) == 30
    assert sorted(study.sampler.boxes(study)) == [2, 3, 4, 5]
    # one box per round, decided once: every trial of the round was drawn from the stored one
    assert values_checked_against_their_boxes(study, 6) > 4 * 6 * 4


def test_coarse_to_fine_beats_random_search_on_a_known_optimum() -> None:
    """Median regret over 9 seeds, 60 trials: the optimum (0 at lr=1e-3, momentum 0.9,
    x=0.7) is known, so the regret is the best value found."""

    def objective(trial) -> float:
        lr = trial.suggest_float("lr", 1e-6, 1.0, log=True)
        beta = trial.suggest_float("one_minus_beta", 1e-4, 1.0, log=True)
        x = trial.suggest_float("x", 0.0, 1.0)
        return (math.log10(lr) + 3) ** 2 + (math.log10(beta) + 1) ** 2 + 10 * (x - 0.7) ** 2

    def best(sampler) -> float:
        study = optuna_study(sampler)
        study.optimize(objective, n_trials=60)
        return study.best_value

    c2f = [best(CoarseToFineSampler(trials_per_round=15, seed=s)) for s in range(9)]
    rand = [best(optuna.samplers.RandomSampler(seed=s)) for s in range(9)]
    assert statistics.median(c2f) < 0.5 * statistics.median(rand), (c2f, rand)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"trials_per_round": 0}, "trials_per_round"),
        ({"top": 0.0}, "top"),
        ({"shrink": 1.5}, "shrink"),
        ({"sampler": "lhs"}, "sampler"),
        ({"seed": -1}, "seed"),
        ({"seed": True}, "seed"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        CoarseToFineSampler(**kwargs)


def test_optuna_distributions_map_to_the_dimensions_bntunes_suggest_makes() -> None:
    fd, idist = optuna.distributions.FloatDistribution, optuna.distributions.IntDistribution
    assert dimension_of(fd(1e-4, 1.0, log=True)) == dims.LogUniform(1e-4, 1.0)
    assert dimension_of(fd(0.0, 1.0, step=0.25)) == dims.Stepped(0.0, 1.0, 0.25)
    assert dimension_of(fd(-1.0, 1.0)) == dims.Uniform(-1.0, 1.0)
    assert dimension_of(idist(1, 64, log=True)) == dims.IntLogUniform(1, 64)
    assert dimension_of(idist(0, 10, step=2)) == dims.Stepped(0, 10, 2)
    assert dimension_of(idist(0, 10)) == dims.IntUniform(0, 10)
    choices = optuna.distributions.CategoricalDistribution(["a", None, 3])
    assert dimension_of(choices) == dims.Choice(["a", None, 3])
