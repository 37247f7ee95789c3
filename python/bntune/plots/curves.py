"""Learning curves: every trial's value per epoch, the best highlighted."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from bntune import tune
from bntune.plots._common import STOPPED, loss_scale, new_figure, round_colour, save, several_rounds

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def learning_curves(study: tune.Study, path: str | Path, *, metric: str = "dev loss") -> Path:
    """Writes :func:`learning_curves_figure` to ``path`` (PNG)."""
    return save(learning_curves_figure(study, metric=metric), Path(path))


def learning_curves_figure(study: tune.Study, *, metric: str = "dev loss") -> Figure:
    """Each trial's reported curve (value per epoch); the best trial thick and labelled; pruned,
    diverged and failed trials dashed, ending in a cross. Each round its colour and label when
    there are several (coarse to fine). Log y axis for a loss whose values span a decade."""
    fig = new_figure(9.5, 5)
    ax = fig.add_subplot()
    trials = [t for t in study.trials if t.curve]
    try:
        best = study.best_trial
    except ValueError:
        best = None
    values = [v for t in trials for v in t.curve.values() if math.isfinite(v)]
    by_round = several_rounds(trials)
    rounds_seen: set[int] = set()
    for t in trials:
        steps = sorted(s for s in t.curve if math.isfinite(t.curve[s]))
        if not steps or t is best:
            continue
        ys = [t.curve[s] for s in steps]
        stopped = t.state in STOPPED
        label = None
        if t.round not in rounds_seen:
            rounds_seen.add(t.round)
            label = f"round {t.round}" if by_round else "trials"
        ax.plot(steps, ys, color=round_colour(t.round), alpha=0.45, lw=1.0,
                ls="--" if stopped else "-", label=label)  # fmt: skip
        if stopped:
            ax.plot(steps[-1:], ys[-1:], "x", color=round_colour(t.round), ms=6)
    if any(t.state in STOPPED for t in trials):
        ax.plot([], [], "k--x", lw=1.0, label="stopped (pruned/diverged)")
    if best is not None and best.curve:
        steps = sorted(best.curve)
        ax.plot(
            steps,
            [best.curve[s] for s in steps],
            color="black",
            lw=2.6,
            label=f"best: trial {best.number} ({metric} {best.value:.4g})",
            zorder=5,
        )
    ax.set_yscale(loss_scale(study, values))
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"Learning curves of {len(trials)} trials\nstudy {study.name!r}", fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    if trials:
        fig.legend(loc="outside right upper", fontsize=9)
    return fig
