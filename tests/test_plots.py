"""The study plots: what each figure draws (checked against the study's own trials, recomputed
here), every dimension on its own scale, and valid, non-trivial PNG files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bntune import tune

pytest.importorskip("matplotlib")
from bntune import plots

SPACE = tune.Space(
    lr=tune.LogUniform(1e-4, 1.0),
    momentum=tune.OneMinusLogUniform(0.9, 0.999),
    hidden=tune.IntUniform(50, 100),
    batch_size=tune.Choice([32, 64, 128, 256]),
)


def objective(trial):
    """Best near lr = 0.01, momentum = 0.99; diverges for lr > 0.3 after reporting 2 steps."""
    p = trial.params
    final = (
        0.05
        + (math.log10(p["lr"]) + 2) ** 2
        + 0.3 * (math.log10(1 - p["momentum"]) + 2) ** 2
        + 0.001 * abs(p["hidden"] - 75)
        + (0.1 if p["batch_size"] == 256 else 0.0)
    )
    for step in range(1, 6):
        if p["lr"] > 0.3 and step == 3:
            return math.nan
        trial.report(step, final * (1 + 2.0 / step))
    return final


@pytest.fixture(scope="module")
def study():
    s = tune.Study("plots", storage=None, seed=11)
    s.coarse_to_fine(objective, SPACE, rounds=3, trials_per_round=16)
    return s


def axis_named(fig, name):
    (ax,) = [a for a in fig.axes if a.get_xlabel().startswith(name)]
    return ax


def test_learning_curves_best_highlighted_and_stopped_dashed(study):
    fig = plots.learning_curves_figure(study, metric="loss")
    (ax,) = fig.axes
    done = [t for t in study.trials if t.state == "complete"]
    best = min(done, key=lambda t: t.value)
    thick = [line for line in ax.get_lines() if line.get_linewidth() > 2]
    assert len(thick) == 1
    np.testing.assert_allclose(thick[0].get_ydata(), [best.curve[s] for s in range(1, 6)])
    assert f"trial {best.number}" in thick[0].get_label()
    diverged = [t for t in study.trials if t.state == "diverged"]
    assert diverged, "the fixture should produce diverged trials"
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--" and len(ln.get_xdata())]
    assert len(dashed) == len(diverged)
    for line in dashed:
        assert list(line.get_xdata()) == [1, 2]
    assert ax.get_yscale() == "log"  # values span more than a decade


def test_objective_vs_params_on_each_scale(study):
    fig = plots.objective_vs_params_figure(study, space=SPACE, objective="loss")
    fig.canvas.draw()
    done = [t for t in study.trials if t.state == "complete"]

    lr_ax = axis_named(fig, "lr")
    assert lr_ax.get_xscale() == "log"
    assert lr_ax.get_xlim()[0] < 1e-4 < 1.0 < lr_ax.get_xlim()[1]

    beta_ax = axis_named(fig, "momentum")
    assert beta_ax.get_xscale() == "log"
    left, right = beta_ax.get_xlim()
    assert left > right  # 1 - beta shrinks to the right: beta grows
    assert left > 0.1
    assert right < 1e-3
    labels = {t.get_text() for t in beta_ax.get_xticklabels()}
    assert {"0.9", "0.99", "0.999"} <= labels
    xs = np.concatenate([c.get_offsets()[:, 0] for c in beta_ax.collections if len(c.get_offsets())
                         and c.get_label().startswith("round")])  # fmt: skip
    np.testing.assert_allclose(np.sort(xs), np.sort([1 - t.params["momentum"] for t in done]))

    batch_ax = axis_named(fig, "batch_size")
    assert [t.get_text() for t in batch_ax.get_xticklabels()] == ["32", "64", "128", "256"]

    hidden_ax = axis_named(fig, "hidden")
    assert hidden_ax.get_xscale() == "linear"


def test_round_boxes_hold_their_rounds_trials(study):
    fig = plots.objective_vs_params_figure(study, space=SPACE)
    lr_ax = axis_named(fig, "lr")
    spans = list(lr_ax.patches)
    assert len(spans) == 2  # rounds 2 and 3
    for r, span in zip((2, 3), spans, strict=True):
        if hasattr(span, "get_width"):  # matplotlib >= 3.9 draws a Rectangle
            lo, hi = span.get_x(), span.get_x() + span.get_width()
        else:
            xs = np.asarray(span.get_xy())[:, 0]
            lo, hi = xs.min(), xs.max()
        # every trial of the round but the adaptive method's exploration moves (drawn hollow)
        in_round = [t.params["lr"] for t in study.trials if t.round == r and ":x" not in t.stream]
        assert in_round
        assert all(lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9) for v in in_round)
        assert hi / lo < 1e4  # narrower than the whole [1e-4, 1]


def test_exploration_moves_are_drawn_hollow_outside_their_rounds_box(study):
    moves = [t for t in study.trials if ":x" in t.stream]
    assert [(t.round, t.stream.rsplit(":", 1)[1]) for t in moves] == [(3, "x3")]
    fig = plots.objective_vs_params_figure(study, space=SPACE)
    lr_ax = axis_named(fig, "lr")
    hollow = [c for c in lr_ax.collections if len(c.get_facecolor()) == 0]
    assert len(hollow) == 1
    np.testing.assert_allclose(hollow[0].get_offsets()[:, 1], [t.value for t in moves])


def test_importance_bars_largest_on_top(study):
    fig = plots.importance_figure(study)
    (ax,) = fig.axes
    names = [t.get_text() for t in ax.get_yticklabels()]
    widths = [bar.get_width() for bar in ax.patches]
    assert widths == sorted(widths)  # barh draws bottom-up: the largest share on top
    assert names[-1] == "lr"  # the fixture's objective is dominated by lr


def test_scales_inferred_without_a_space(study):
    fig = plots.objective_vs_params_figure(study)
    assert axis_named(fig, "lr").get_xscale() == "log"
    beta_ax = axis_named(fig, "momentum")
    assert beta_ax.get_xscale() == "log"
    assert beta_ax.get_xlim()[0] > beta_ax.get_xlim()[1]


def test_plot_study_writes_valid_pngs(study, tmp_path):
    from matplotlib.image import imread

    paths = plots.plot_study(study, tmp_path, space=SPACE, objective="loss")
    assert sorted(p.name for p in paths) == [
        "curves.png",
        "importance.png",
        "objective_vs_params.png",
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = imread(path)
        assert pixels.shape[0] >= 300
        assert pixels.shape[1] >= 500
        assert float(pixels[..., :3].std()) > 0.05


class Halving:
    """A toy trainable: the loss w shrinks by a factor (1 - lr) per epoch."""

    mutable = ("lr",)

    def __init__(self, params):
        self.lr = float(params["lr"])
        self.w = 1.0

    def step(self):
        self.w *= 1.0 - self.lr
        return self.w

    def state_dict(self):
        return {"w": np.array([self.w])}

    def load_state_dict(self, state):
        self.w = float(state["w"][0])

    def set_params(self, **changes):
        self.lr = float(changes.get("lr", self.lr))


def test_panda_timeline_marks_changes_and_rollbacks():
    def policy(view):
        if view.epoch == 2:
            return tune.SetParams(lr=0.8)
        if view.epoch == 3:
            return tune.Rollback(1, lr=0.1)
        return None

    study = tune.Study("panda-plot", storage=None, seed=0)
    trial = study.babysit(Halving, {"lr": 0.5}, epochs=5, policy=policy)
    # by hand: w = 0.5, 0.25, then lr 0.8 -> 0.05; rolled back to epoch 1 (0.5) with lr 0.1
    np.testing.assert_allclose([trial.curve[s] for s in range(1, 6)],
                               [0.5, 0.25, 0.05, 0.45, 0.405])  # fmt: skip
    fig = plots.panda_timeline_figure(study, trial, metric="loss")
    ax, ax_lr = fig.axes
    (rate_line,) = ax_lr.get_lines()
    np.testing.assert_allclose(rate_line.get_ydata(), [0.5, 0.5, 0.8, 0.1, 0.1])
    assert ax_lr.get_yscale() == "log"
    (arrow,) = [t for t in ax.texts if hasattr(t, "xyann")]
    assert arrow.xy == (1, 0.5)  # to the restored epoch ...
    assert arrow.xyann == (3, pytest.approx(0.05))  # ... from the epoch that went wrong
    assert "1 rollback" in ax.get_title()
