"""Pictures of a study, one PNG per figure (matplotlib, from the ``plot`` extra), one module each.

- :func:`learning_curves` (``curves``): every trial's curve, the best highlighted, stopped ones
  dashed;
- :func:`objective_vs_params` (``params``, axes from ``scales``): the objective against each
  hyperparameter on its own scale (a log axis for log dimensions, a 1 - beta axis for betas),
  coloured by coarse-to-fine round, with each round's box;
- :func:`importance_bars` (``importance``): the importance ranking;
- :func:`pareto_front` (``pareto``): a study with several objectives, its front;
- :func:`panda_timeline` (``panda``): a babysat trial's metric per epoch with its learning rate
  and rollbacks;
- :func:`plot_study`: all of them into a directory.

Only a loss (a minimised objective) goes on a log y axis. Figures are drawn on matplotlib's Agg
canvas without pyplot, so nothing global changes and no display is needed.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from bntune import tune
from bntune.plots.curves import learning_curves, learning_curves_figure
from bntune.plots.importance import importance_bars, importance_figure
from bntune.plots.panda import panda_timeline, panda_timeline_figure
from bntune.plots.params import objective_vs_params, objective_vs_params_figure, plotted_params
from bntune.plots.pareto import pareto_front, pareto_front_figure

__all__ = [
    "importance_bars",
    "importance_figure",
    "learning_curves",
    "learning_curves_figure",
    "objective_vs_params",
    "objective_vs_params_figure",
    "panda_timeline",
    "panda_timeline_figure",
    "pareto_front",
    "pareto_front_figure",
    "plot_study",
    "plotted_params",
]


def plot_study(
    study: tune.Study,
    out: str | Path,
    *,
    space: tune.Space | None = None,
    objective: str = "objective",
) -> list[Path]:
    """Writes into ``out``: ``curves.png`` (when trials reported curves), ``panda_timeline.png``
    (of the latest babysat trial, if any), ``objective_vs_params.png`` (with two trials or more
    and a sampled hyperparameter; with no complete trial it says so) and ``importance.png``
    (when there are enough complete trials for a ranking); for a study with several objectives
    ``pareto_front.png`` instead of the last two; returns the paths written."""
    out = Path(out)
    written = []
    if len(study.directions) > 1:
        if any(t.curve for t in study.trials):
            written.append(learning_curves(study, out / "curves.png", metric=objective))
        written.append(pareto_front(study, out / "pareto_front.png"))
        for k in range(len(study.directions)):
            with contextlib.suppress(ValueError):  # too few complete trials for a ranking
                if study.importance(objective=k):
                    written.append(importance_bars(study, out / f"importance_{k}.png", objective=k))
        return written
    if any(t.curve for t in study.trials):
        written.append(learning_curves(study, out / "curves.png", metric=objective))
    babysat = [t for t in study.trials if t.events and t.curve]
    if babysat:
        last = babysat[-1]
        written.append(panda_timeline(study, last, out / "panda_timeline.png", metric=objective))
    if len(study.trials) > 1 and plotted_params(study, space):
        written.append(
            objective_vs_params(
                study, out / "objective_vs_params.png", space=space, objective=objective
            )
        )
    with contextlib.suppress(ValueError):  # too few complete trials for a ranking
        if study.importance():  # empty: no sampled dimension to rank
            written.append(importance_bars(study, out / "importance.png"))
    return written
