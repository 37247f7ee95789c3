"""A study with several objectives: its trials in the plane of two objectives, the Pareto front
drawn through them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bntune import tune
from bntune.plots._common import new_figure, note, save

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pareto_front(
    study: tune.Study, path: str | Path, *, objectives: tuple[int, int] = (0, 1)
) -> Path:
    """Writes :func:`pareto_front_figure` to ``path`` (PNG)."""
    return save(pareto_front_figure(study, objectives=objectives), Path(path))


def pareto_front_figure(study: tune.Study, *, objectives: tuple[int, int] = (0, 1)) -> Figure:
    """The complete trials' values of objectives ``objectives`` (grey), the Pareto front's
    (``study.best_trials``, coloured and joined as a staircase in order of the first one). A
    study without two complete trials with values gets a note."""
    i, j = objectives
    done = [t for t in study.trials if t.state == "complete" and t.values is not None]
    fig = new_figure(7, 5.5)
    if len(study.directions) < 2:
        note(fig, f"study {study.name!r} has one objective: no Pareto front")
        return fig
    if not done:
        note(fig, f"study {study.name!r}: no complete trial yet")
        return fig
    front = sorted(study.best_trials, key=lambda t: (t.values[i], t.values[j]))  # type: ignore[index]
    ax = fig.add_subplot()
    ax.scatter([t.values[i] for t in done], [t.values[j] for t in done],  # type: ignore[index]
               s=14, color="0.7", label=f"{len(done)} complete trials")  # fmt: skip
    xs = [t.values[i] for t in front]  # type: ignore[index]
    ys = [t.values[j] for t in front]  # type: ignore[index]
    ax.step(xs, ys, where="post", color="C3", alpha=0.6)
    ax.scatter(xs, ys, s=30, color="C3", zorder=3, label=f"Pareto front ({len(front)})")
    d = study.directions
    ax.set_xlabel(f"objective {i} ({d[i]})")
    ax.set_ylabel(f"objective {j} ({d[j]})")
    ax.set_title(f"Pareto front of study {study.name!r}", fontsize=11)
    ax.legend(loc="best", fontsize=9)
    ax.grid(True, alpha=0.3)
    return fig
