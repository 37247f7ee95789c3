"""A babysat trial's timeline: its metric, the learning rate it ran with, its rollbacks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from bntune import tune
from bntune.plots._common import loss_scale, new_figure, plural, save

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _lr_by_epoch(trial: tune.FrozenTrial, param: str) -> dict[int, float]:
    """The value of ``param`` each epoch ran with: the trial's starting value, changed from the
    epoch after each ``set_params`` event that names it."""
    value = trial.params.get(param)
    changes: dict[int, float] = {}
    for event in trial.events:
        if event.get("kind") == "set_params" and param in event.get("values", {}):
            changes[int(event["epoch"])] = float(event["values"][param])
    out = {}
    for step in sorted(trial.curve):
        out[step] = value
        if step in changes:
            value = changes[step]
    return {s: float(v) for s, v in out.items() if isinstance(v, int | float)}


def panda_timeline(
    study: tune.Study, trial: tune.FrozenTrial, path: str | Path, *, metric: str = "objective",
    param: str = "lr",
) -> Path:  # fmt: skip
    """Writes :func:`panda_timeline_figure` to ``path`` (PNG)."""
    return save(panda_timeline_figure(study, trial, metric=metric, param=param), Path(path))


def panda_timeline_figure(
    study: tune.Study, trial: tune.FrozenTrial, *, metric: str = "objective", param: str = "lr"
) -> Figure:
    """A babysat trial epoch by epoch: the metric (left axis), the learning rate each epoch ran
    with (right axis, log scale, as steps), and every rollback drawn as an arrow from the epoch
    where it was decided back to the epoch whose checkpoint was restored."""
    fig = new_figure(9.5, 5)
    ax = fig.add_subplot()
    steps = sorted(trial.curve)
    values = [trial.curve[s] for s in steps]
    ax.plot(steps, values, "o-", color="C0", ms=4, lw=1.6, label=metric)
    finite = [v for v in values if math.isfinite(v)]
    ax.set_yscale(loss_scale(study, finite))
    # a rollback the policy decided, or a person's resume from an earlier checkpoint
    rollbacks = [
        {"epoch": e["epoch"], "to": e["to"] if e.get("kind") == "rollback" else e["from"]}
        for e in trial.events
        if e.get("kind") == "rollback" or (e.get("kind") == "resume" and "from" in e)
    ]
    for k, event in enumerate(rollbacks):
        at, to = int(event["epoch"]), int(event["to"])
        y = trial.curve.get(at, math.nan)
        y_to = trial.curve.get(to, y) if to > 0 else y
        if not math.isfinite(y):
            y = max(finite, default=1.0)
        ax.annotate("", xy=(to, y_to), xytext=(at, y),
                    arrowprops={"arrowstyle": "->", "color": "C3", "lw": 1.4,
                                "connectionstyle": "arc3,rad=0.3"})  # fmt: skip
        ax.plot([at], [y], "x", color="C3", ms=9, mew=2,
                label="rollback (arrow: to the restored epoch)" if k == 0 else None)  # fmt: skip
    rates = _lr_by_epoch(trial, param)
    if rates:
        ax2 = ax.twinx()
        ax2.step(list(rates), list(rates.values()), where="mid", color="C1", lw=1.4,
                 label=f"{param} set by the babysitter")  # fmt: skip
        ax2.set_yscale("log")
        from matplotlib.ticker import FuncFormatter

        # plain numbers; between decades only 2x and 5x are labelled
        ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax2.yaxis.set_minor_formatter(
            FuncFormatter(lambda v, _pos: f"{v:g}" if f"{v:.0e}"[0] in "25" else "")
        )
        ax2.set_ylabel(f"{param} (log scale)", color="C1")
        ax2.tick_params(axis="y", which="both", colors="C1")
    # outside the axes: wherever it sits inside, some curve runs under it
    handles, labels = ax.get_legend_handles_labels()
    for other in fig.axes[1:]:
        h2, l2 = other.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=9)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric, color="C0")
    ax.grid(True, alpha=0.3)
    changes = sum(1 for e in trial.events if e.get("kind") == "set_params")
    ax.set_title(
        f"Panda: trial {trial.number} babysat for {len(steps)} epochs — "
        f"{plural(changes, 'change')}, {plural(len(rollbacks), 'rollback')}\nstudy {study.name!r}",
        fontsize=11,
    )
    return fig
