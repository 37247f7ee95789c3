"""Plots of the studies a new user makes first: a babysat trial among searched ones, a space of
fixed values, an all-failed study, one-round modes, maximised accuracies, integer log scales,
a panda timeline. Checked on the figure objects (tick texts, scales, points, legends)."""

from __future__ import annotations

import math
import re

import pytest

from bntune import tune
from bntune.cli.report import importance_text
from modes_helpers import Curve

pytest.importorskip("matplotlib")
from bntune import plots

SPACE = tune.Space(a=tune.Uniform(0.0, 1.0), c=tune.Uniform(0.0, 1.0), hidden=tune.IntUniform(1, 5))


def _never(view):
    return None


def drawn(fig):
    """Draws ``fig`` on an Agg canvas (ticks and legends get their places); returns the
    renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def points(ax) -> int:
    return sum(len(c.get_offsets()) for c in ax.collections)


def panel(fig, name):
    (ax,) = [a for a in fig.axes if a.get_xlabel().startswith(name)]
    return ax


def legend_labels(fig) -> list[str]:
    legends = list(fig.legends) + [a.get_legend() for a in fig.axes if a.get_legend()]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


@pytest.fixture
def mixed():
    """8 searched trials of SPACE, then a babysat trial with only a and c (and no unit)."""
    study = tune.Study("mixed", seed=0)
    study.optimize(lambda t: t.params["a"] + 0.1 * t.params["hidden"], SPACE, n_trials=8)
    study.babysit(Curve, {"a": 1.0, "c": 0.0}, epochs=2, policy=_never)
    return study


def test_objective_vs_params_plots_each_trial_that_has_the_parameter(mixed):
    fig = plots.objective_vs_params_figure(mixed, space=SPACE)
    assert points(panel(fig, "hidden")) == 8  # the babysat trial has no hidden
    assert points(panel(fig, "a")) == 9
    assert points(panel(fig, "c")) == 9


def test_plot_study_of_a_study_with_a_babysat_trial(mixed, tmp_path):
    written = plots.plot_study(mixed, tmp_path, space=SPACE)
    assert sorted(p.name for p in written) == [
        "curves.png",
        "importance.png",
        "objective_vs_params.png",
    ]


def test_a_space_of_fixed_values_has_nothing_to_plot_against(tmp_path):
    study = tune.Study("fixed", seed=0)
    study.optimize(lambda t: float(t.params["a"]), tune.Space(a=tune.Fixed(3)), n_trials=3)
    fixed = tune.Space(a=tune.Fixed(3))
    assert plots.plot_study(study, tmp_path, space=fixed) == []
    fig = plots.objective_vs_params_figure(study, space=fixed)
    assert not fig.axes
    assert any("no sampled hyperparameter" in t.get_text() for t in fig.texts)


def test_a_babysat_study_shows_no_ranking_and_plots_its_timeline(tmp_path):
    study = tune.Study("panda", seed=0)
    study.babysit(Curve, {"a": 1.0, "c": 0.0}, epochs=3, policy=lambda v: tune.SetParams())
    assert importance_text(study) == "importance: no searched dimension"
    names = sorted(p.name for p in plots.plot_study(study, tmp_path))
    assert "importance.png" not in names
    assert "objective_vs_params.png" not in names


def test_an_all_failed_study_draws_no_point():
    def fails(trial):
        raise RuntimeError("broken objective")

    study = tune.Study("failed", seed=0)
    with pytest.raises(tune.AllTrialsFailed):
        study.optimize(fails, SPACE, n_trials=4)
    assert {t.state for t in study.trials} == {"failed"}
    fig = plots.objective_vs_params_figure(study, space=SPACE)
    assert sum(points(ax) for ax in fig.axes) == 0
    assert any("no complete trial" in t.get_text() for t in fig.texts)


def test_integer_log_axis_has_plain_integer_tick_labels():
    space = tune.Space(batch=tune.IntLogUniform(16, 512), lr=tune.LogUniform(1e-4, 1.0))
    study = tune.Study("int-log", seed=0)
    study.optimize(lambda t: math.log(t.params["batch"]), space, n_trials=12)
    for fig in (
        plots.objective_vs_params_figure(study, space=space),
        plots.objective_vs_params_figure(study),  # the scale inferred from the values
    ):
        drawn(fig)
        ax = panel(fig, "batch")
        assert ax.get_xscale() == "log"
        ticks = ax.get_xticklabels() + ax.get_xticklabels(minor=True)
        left, right = sorted(ax.get_xlim())
        shown = [
            t.get_text() for t in ticks if t.get_text() and left <= t.get_position()[0] <= right
        ]
        assert shown == ["20", "50", "100", "200", "500"]


def test_a_maximised_accuracy_is_never_on_a_log_axis():
    # accuracies from 0.05 to 0.9 span more than a decade; only a loss goes on a log axis
    study = tune.Study("accuracy", direction="maximize", seed=0)

    def accuracy(trial):
        final = 0.05 + 0.85 * trial.params["a"]
        for step in (1, 2, 3):
            trial.report(step, final * step / 3)
        return final

    study.optimize(accuracy, SPACE, n_trials=8)
    (curves,) = plots.learning_curves_figure(study, metric="accuracy").axes
    assert curves.get_yscale() == "linear"
    fig = plots.objective_vs_params_figure(study, space=SPACE, objective="accuracy")
    assert {ax.get_yscale() for ax in fig.axes} == {"linear"}
    babysat = tune.Study("accuracy-panda", direction="maximize", seed=0)
    trial = babysat.babysit(Curve, {"a": 1.0, "c": 0.0}, epochs=20, policy=_never)
    timeline = plots.panda_timeline_figure(babysat, trial, metric="accuracy")
    assert timeline.axes[0].get_yscale() == "linear"
    # a loss spanning a decade still is
    loss = tune.Study("loss-panda", seed=0)
    trial = loss.babysit(Curve, {"a": 1.0, "c": 0.0}, epochs=20, policy=_never)
    assert plots.panda_timeline_figure(loss, trial).axes[0].get_yscale() == "log"


def test_one_round_modes_do_not_label_rounds():
    study = tune.Study("caviar", seed=0)
    study.caviar(Curve, tune.Space(a=tune.Uniform(0, 1), c=tune.Uniform(0, 1)), population=4,
                 epochs=3, n_workers=1)  # fmt: skip
    for fig in (
        plots.learning_curves_figure(study),
        plots.objective_vs_params_figure(study),
    ):
        labels = legend_labels(fig)
        assert labels
        assert not [label for label in labels if re.match("round", label)]


def test_the_panda_legend_covers_no_axes():
    study = tune.Study("panda-legend", seed=0)
    trial = study.babysit(Curve, {"a": 1.0, "c": 0.0}, epochs=5, policy=_never)
    fig = plots.panda_timeline_figure(study, trial)
    renderer = drawn(fig)
    legends = list(fig.legends) + [a.get_legend() for a in fig.axes if a.get_legend()]
    assert legends
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent(renderer))
