"""Pictures of a study, one PNG per figure (matplotlib, from the ``plot`` extra).

- :func:`learning_curves`: every trial's curve, the best highlighted, stopped ones dashed;
- :func:`objective_vs_params`: the objective against each hyperparameter on its own scale (a log
  axis for log dimensions, a 1 - beta axis for betas), coloured by coarse-to-fine round, with
  each round's box;
- :func:`importance_bars`: the importance ranking;
- :func:`plot_study`: all of them into a directory.

Figures are drawn on matplotlib's Agg canvas without pyplot, so nothing global changes and no
display is needed.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bntune import tune

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_DPI = 110
_STOPPED = ("pruned", "diverged", "failed")


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError(
            "bntune's plots need matplotlib, which is not installed; install it with the plot "
            "extra: pip install 'bntune[plot]' (the demo extra has it too)"
        ) from err
    return matplotlib


def _figure(width: float, height: float) -> Figure:
    _matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def _round_colour(r: int) -> str:
    return f"C{(r - 1) % 10}"


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI)
    return path


def _value_label(study: tune.Study, objective: str) -> str:
    return f"{objective} ({'lower' if study.direction == 'minimize' else 'higher'} is better)"


def learning_curves(study: tune.Study, path: str | Path, *, metric: str = "dev loss") -> Path:
    """Writes :func:`learning_curves_figure` to ``path`` (PNG)."""
    return _save(learning_curves_figure(study, metric=metric), Path(path))


def learning_curves_figure(study: tune.Study, *, metric: str = "dev loss") -> Figure:
    """Each trial's reported curve (value per epoch); the best trial thick and labelled; pruned,
    diverged and failed trials dashed, ending in a cross. Log y axis when values span a decade."""
    fig = _figure(9.5, 5)
    ax = fig.add_subplot()
    trials = [t for t in study.trials if t.curve]
    try:
        best = study.best_trial
    except ValueError:
        best = None
    values = [v for t in trials for v in t.curve.values() if math.isfinite(v)]
    rounds_seen: set[int] = set()
    for t in trials:
        steps = sorted(s for s in t.curve if math.isfinite(t.curve[s]))
        if not steps or t is best:
            continue
        ys = [t.curve[s] for s in steps]
        stopped = t.state in _STOPPED
        label = None
        if t.round not in rounds_seen:
            rounds_seen.add(t.round)
            label = f"round {t.round}"
        ax.plot(steps, ys, color=_round_colour(t.round), alpha=0.45, lw=1.0,
                ls="--" if stopped else "-", label=label)  # fmt: skip
        if stopped:
            ax.plot(steps[-1:], ys[-1:], "x", color=_round_colour(t.round), ms=6)
    if any(t.state in _STOPPED for t in trials):
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
    if values and min(values) > 0 and max(values) / min(values) > 10:
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"Learning curves of {len(trials)} trials\nstudy {study.name!r}", fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    if trials:
        fig.legend(loc="outside right upper", fontsize=9)
    return fig


def _infer_kind(values: Sequence[Any]) -> str:
    """A scale for a dimension the study file did not describe, from its values."""
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "choice"
    lo, hi = min(values), max(values)
    if lo > 0 and hi < 1 and lo >= 0.5 and (1 - lo) / (1 - hi) >= 10:
        return "one-minus-log"
    if lo > 0 and hi / lo >= 20:
        return "log"
    return "linear"


def _kind(dim: tune.Dimension | None, values: Sequence[Any]) -> str:
    if isinstance(dim, tune.Choice):
        return "choice"
    if isinstance(dim, tune.LogUniform | tune.IntLogUniform):
        return "log"
    if isinstance(dim, tune.OneMinusLogUniform):
        return "one-minus-log"
    if isinstance(dim, tune.Uniform | tune.IntUniform):
        return "linear"
    return _infer_kind(values)


def _beta_axis(ax: Axes, name: str) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    # x holds 1 - beta; label the decades with beta itself (0.9, 0.99, 0.999), growing to the
    # right
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.xaxis.set_major_locator(LogLocator(base=10))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{1 - x:.6g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(f"{name} (on a log scale of 1 - {name})")


def _limits(ax: Axes, dim: tune.Dimension, kind: str) -> None:
    """The whole searched range, with a 3% margin on the axis' own scale."""
    lo, hi = float(dim.low), float(dim.high)  # type: ignore[attr-defined]
    if kind == "one-minus-log":
        lo, hi = 1.0 - lo, 1.0 - hi  # largest first: beta grows to the right
    if kind in ("log", "one-minus-log"):
        pad = (hi / lo) ** 0.03
        ax.set_xlim(lo / pad, hi * pad)
    else:
        pad = 0.03 * (hi - lo)
        ax.set_xlim(lo - pad, hi + pad)


def objective_vs_params(
    study: tune.Study,
    path: str | Path,
    *,
    space: tune.Space | None = None,
    objective: str = "objective",
) -> Path:
    """Writes :func:`objective_vs_params_figure` to ``path`` (PNG)."""
    figure = objective_vs_params_figure(study, space=space, objective=objective)
    return _save(figure, Path(path))


def objective_vs_params_figure(
    study: tune.Study, *, space: tune.Space | None = None, objective: str = "objective"
) -> Figure:
    """One panel per hyperparameter: the objective of every complete trial against its value on
    the dimension's own scale, coloured by round; each later round's coarse-to-fine box shaded
    in its colour; diverged trials as crosses along the top edge."""
    trials = [t for t in study.trials if t.params]
    names = [n for n in (trials[0].params if trials else []) if
             space is None or n not in space or space[n].uses_coordinate]  # fmt: skip
    if space is not None:
        names = [n for n in names if n in space.names]
    cols = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig = _figure(4.2 * cols, 3.4 * rows + 0.5)
    done = [t for t in trials if t.state == "complete" and t.value is not None]
    stopped = [t for t in trials if t.state in ("diverged", "failed")]
    values = [float(t.value) for t in done]  # type: ignore[arg-type]
    log_y = bool(values) and min(values) > 0 and max(values) / min(values) > 10
    boxes = study.boxes if space is not None else {}
    top_y = max(values) * (1.6 if log_y else 1.08) if values else 1.0
    rounds = sorted({t.round for t in trials})
    from matplotlib.ticker import MaxNLocator

    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        dim = space[name] if space is not None and name in space else None
        kind = _kind(dim, [t.params[name] for t in trials])
        options: list[Any] = []
        if kind == "choice":
            if isinstance(dim, tune.Choice):
                options = dim.options
            else:
                options = sorted({t.params[name] for t in trials}, key=repr)

        def x_of(v: Any, kind: str = kind, options: list[Any] = options) -> float:
            if kind == "choice":
                return float(options.index(v))
            return 1.0 - v if kind == "one-minus-log" else float(v)

        for r in rounds:
            in_round = [t for t in done if t.round == r]
            ax.scatter([x_of(t.params[name]) for t in in_round], [t.value for t in in_round],
                       s=22, color=_round_colour(r), edgecolor="white", lw=0.4,
                       label=f"round {r}", zorder=3)  # fmt: skip
            box = boxes.get(r, {}).get(name) if r > 1 else None
            if box is not None and dim is not None:
                if kind == "choice":
                    lo, hi = min(box) - 0.4, max(box) + 0.4
                else:
                    lo, hi = x_of(dim.from_unit(box[0])), x_of(dim.from_unit(box[1]))
                ax.axvspan(min(lo, hi), max(lo, hi), color=_round_colour(r), alpha=0.12, lw=0)
                for edge in (lo, hi):
                    ax.axvline(edge, color=_round_colour(r), lw=0.8, alpha=0.6)
        if stopped:
            ax.scatter(
                [x_of(t.params[name]) for t in stopped],
                [top_y] * len(stopped),
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
            _beta_axis(ax, name)
        elif kind == "log":
            ax.set_xscale("log")
            ax.set_xlabel(f"{name} (log scale)")
        else:
            ax.set_xlabel(name)
            if isinstance(dim, tune.IntUniform):
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if dim is not None and kind != "choice":
            _limits(ax, dim, kind)
        if log_y:
            ax.set_yscale("log")
        if i % cols == 0:
            ax.set_ylabel(objective)
        ax.grid(True, alpha=0.3)
    if names:
        handles, labels = fig.axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=9)
    boxed = " with each round's coarse-to-fine box" if boxes else ""
    fig.suptitle(f"{_value_label(study, objective)} against each hyperparameter{boxed}")
    return fig


def importance_bars(study: tune.Study, path: str | Path) -> Path:
    """Writes :func:`importance_figure` to ``path`` (PNG)."""
    return _save(importance_figure(study), Path(path))


def importance_figure(study: tune.Study) -> Figure:
    """Horizontal bars of the first-order variance shares (``study.importance()``), largest on
    top, each labelled with its value."""
    shares = study.importance()
    fig = _figure(7, 0.5 * len(shares) + 1.6)
    ax = fig.add_subplot()
    names = list(shares)[::-1]
    vals = [shares[n] for n in names]
    bars = ax.barh(names, vals, color="C0")
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in vals], padding=3, fontsize=9)
    ax.set_xlim(0, max(1.0, max(vals, default=0) * 1.15))
    ax.set_xlabel("share of the objective's variance explained by the hyperparameter alone")
    ax.set_title(
        f"Which hyperparameters mattered (round 1 trials)\nstudy {study.name!r}", fontsize=11
    )
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def plot_study(
    study: tune.Study,
    out: str | Path,
    *,
    space: tune.Space | None = None,
    objective: str = "objective",
) -> list[Path]:
    """Writes ``curves.png`` (when trials reported curves), ``objective_vs_params.png`` and
    ``importance.png`` (when there are enough complete round-1 trials) into ``out``; returns the
    paths written."""
    out = Path(out)
    written = []
    if any(t.curve for t in study.trials):
        written.append(learning_curves(study, out / "curves.png", metric=objective))
    if study.trials:
        written.append(
            objective_vs_params(
                study, out / "objective_vs_params.png", space=space, objective=objective
            )
        )
    with contextlib.suppress(ValueError):  # too few complete round-1 trials for a ranking
        written.append(importance_bars(study, out / "importance.png"))
    return written
