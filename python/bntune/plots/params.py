"""The objective against each hyperparameter, with coarse-to-fine's rounds and boxes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bntune import tune
from bntune.plots._common import (
    loss_scale,
    new_figure,
    note,
    plural,
    round_colour,
    save,
    several_rounds,
    value_label,
)
from bntune.plots.scales import beta_axis, integer_log_axis, kind_of, set_limits
from bntune.tune.trust_region import is_move

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def objective_vs_params(
    study: tune.Study,
    path: str | Path,
    *,
    space: tune.Space | None = None,
    objective: str = "objective",
) -> Path:
    """Writes :func:`objective_vs_params_figure` to ``path`` (PNG)."""
    figure = objective_vs_params_figure(study, space=space, objective=objective)
    return save(figure, Path(path))


def plotted_params(study: tune.Study, space: tune.Space | None = None) -> list[str]:
    """The hyperparameters :func:`objective_vs_params_figure` draws a panel for: the space's
    sampled dimensions (fixed ones have nothing to show) that some trial carries, or without a
    space every parameter of any trial, in first-seen order."""
    seen = list(dict.fromkeys(n for t in study.trials for n in t.params))
    if space is None:
        return seen
    return [n for n in space.names if n in seen]


def objective_vs_params_figure(
    study: tune.Study, *, space: tune.Space | None = None, objective: str = "objective"
) -> Figure:
    """One panel per hyperparameter (:func:`plotted_params`): the objective of every complete
    trial that has that hyperparameter against its value on the dimension's own scale, coloured
    by round when there are several; each later round's coarse-to-fine box shaded in its colour;
    diverged and failed trials as crosses along the top edge. With no complete trial, or nothing
    to plot against, the figure says so and draws no point."""
    names = plotted_params(study, space)
    cols = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig = new_figure(4.2 * cols, 3.4 * rows + 0.5)
    done = [t for t in study.trials if t.state == "complete" and t.value is not None]
    if not names or not done:
        n = plural(len(study.trials), "trial")
        note(fig, "no sampled hyperparameter to plot against" if not names else
              f"no complete trial: {n}, none complete — nothing to plot")  # fmt: skip
        fig.suptitle(f"{value_label(study, objective)} against each hyperparameter")
        return fig
    stopped = [t for t in study.trials if t.state in ("diverged", "failed")]
    values = [float(t.value) for t in done]  # type: ignore[arg-type]
    y_scale = loss_scale(study, values)
    boxes = study.boxes if space is not None else {}
    top_y = max(values) * (1.6 if y_scale == "log" else 1.08)
    rounds = sorted({t.round for t in done})
    by_round = several_rounds(study.trials)
    from matplotlib.ticker import MaxNLocator

    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        dim = space[name] if space is not None and name in space else None
        kind = kind_of(dim, [t.params[name] for t in study.trials if name in t.params])
        options: list[Any] = []
        if kind == "choice":
            if isinstance(dim, tune.Choice):
                options = dim.options
            else:
                options = sorted({t.params[name] for t in study.trials if name in t.params},
                                 key=repr)  # fmt: skip

        def x_of(v: Any, kind: str = kind, options: list[Any] = options) -> float:
            if kind == "choice":
                return float(options.index(v))
            return 1.0 - v if kind == "one-minus-log" else float(v)

        def has(t: tune.FrozenTrial, name: str = name, options: list[Any] = options) -> bool:
            # a babysat trial, or one of another space, may lack the parameter or hold a value
            # the panel has no place for
            return name in t.params and (not options or t.params[name] in options)

        for r in rounds:
            in_round = [t for t in done if t.round == r and has(t) and not is_move(t.stream)]
            ax.scatter([x_of(t.params[name]) for t in in_round], [t.value for t in in_round],
                       s=22, color=round_colour(r), edgecolor="white", lw=0.4,
                       label=f"round {r}" if by_round else "complete trials",
                       zorder=3)  # fmt: skip
            # the adaptive method's exploration moves lie outside the box: drawn hollow
            moves = [t for t in done if t.round == r and has(t) and is_move(t.stream)]
            if moves:
                ax.scatter([x_of(t.params[name]) for t in moves], [t.value for t in moves],
                           s=26, facecolor="none", edgecolor=round_colour(r), lw=1.0,
                           label=f"round {r}, outside its box" if by_round else "outside the box",
                           zorder=3)  # fmt: skip
            box = boxes.get(r, {}).get(name) if r > 1 else None
            if box is not None and dim is not None:
                if kind == "choice":
                    lo, hi = min(box) - 0.4, max(box) + 0.4
                else:
                    lo, hi = x_of(dim.from_unit(box[0])), x_of(dim.from_unit(box[1]))
                ax.axvspan(min(lo, hi), max(lo, hi), color=round_colour(r), alpha=0.12, lw=0)
                for edge in (lo, hi):
                    ax.axvline(edge, color=round_colour(r), lw=0.8, alpha=0.6)
        shown = [t for t in stopped if has(t)]
        if shown:
            ax.scatter(
                [x_of(t.params[name]) for t in shown],
                [top_y] * len(shown),
                marker="x",
                color="0.4",
                s=20,
                label="diverged/failed",
                zorder=3,
            )
        if kind == "choice":
            ax.set_xticks(range(len(options)), [str(o) for o in options])
            ax.set_xlim(-0.6, len(options) - 0.4)
            ax.set_xlabel(f"{name} (one of {len(options)} options)")
        elif kind == "one-minus-log":
            beta_axis(ax, name)
        elif kind == "int-log":
            integer_log_axis(ax, name)
        elif kind == "log":
            ax.set_xscale("log")
            ax.set_xlabel(f"{name} (log scale)")
        else:
            ax.set_xlabel(name)
            if isinstance(dim, tune.IntUniform):
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if dim is not None and kind != "choice":
            set_limits(ax, dim, kind)
        ax.set_yscale(y_scale)
        if i % cols == 0:
            ax.set_ylabel(objective)
        ax.grid(True, alpha=0.3)
    handles: dict[str, Any] = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncols=len(handles), fontsize=9)  # fmt: skip
    boxed = " with each round's coarse-to-fine box" if boxes else ""
    fig.suptitle(f"{value_label(study, objective)} against each hyperparameter{boxed}")
    return fig
