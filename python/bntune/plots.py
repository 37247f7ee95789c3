"""Pictures of a study, one PNG per figure (matplotlib, from the ``plot`` extra).

- :func:`learning_curves`: every trial's curve, the best highlighted, stopped ones dashed;
- :func:`objective_vs_params`: the objective against each hyperparameter on its own scale (a log
  axis for log dimensions, a 1 - beta axis for betas), coloured by coarse-to-fine round, with
  each round's box;
- :func:`importance_bars`: the importance ranking;
- :func:`panda_timeline`: a babysat trial's metric per epoch with its learning rate and
  rollbacks;
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


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _round_colour(r: int) -> str:
    return f"C{(r - 1) % 10}"


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI)
    return path


def _loss_scale(study: tune.Study, values: Sequence[float]) -> str:
    """The y scale of a study's objective: log for a loss (a minimised objective) whose positive
    values span more than a decade, linear otherwise — an accuracy or any maximised score is
    read on a linear axis."""
    finite = [v for v in values if math.isfinite(v)]
    if study.direction != "minimize" or not finite or min(finite) <= 0:
        return "linear"
    return "log" if max(finite) / min(finite) > 10 else "linear"


def _by_round(trials: Sequence[tune.FrozenTrial]) -> bool:
    """Whether the trials come from several rounds (coarse to fine): only then do labels name
    rounds; every other mode runs one round."""
    return len({t.round for t in trials}) > 1


def _note(fig: Figure, text: str) -> None:
    """Says in the figure why it holds no data, instead of drawing any."""
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, color="0.3")


def _value_label(study: tune.Study, objective: str) -> str:
    return f"{objective} — {'lower' if study.direction == 'minimize' else 'higher'} is better —"


def learning_curves(study: tune.Study, path: str | Path, *, metric: str = "dev loss") -> Path:
    """Writes :func:`learning_curves_figure` to ``path`` (PNG)."""
    return _save(learning_curves_figure(study, metric=metric), Path(path))


def learning_curves_figure(study: tune.Study, *, metric: str = "dev loss") -> Figure:
    """Each trial's reported curve (value per epoch); the best trial thick and labelled; pruned,
    diverged and failed trials dashed, ending in a cross. Each round its colour and label when
    there are several (coarse to fine). Log y axis for a loss whose values span a decade."""
    fig = _figure(9.5, 5)
    ax = fig.add_subplot()
    trials = [t for t in study.trials if t.curve]
    try:
        best = study.best_trial
    except ValueError:
        best = None
    values = [v for t in trials for v in t.curve.values() if math.isfinite(v)]
    by_round = _by_round(trials)
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
            label = f"round {t.round}" if by_round else "trials"
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
    ax.set_yscale(_loss_scale(study, values))
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
        return "int-log" if all(isinstance(v, int) for v in values) else "log"
    return "linear"


def _kind(dim: tune.Dimension | None, values: Sequence[Any]) -> str:
    if isinstance(dim, tune.Choice):
        return "choice"
    if isinstance(dim, tune.IntLogUniform):
        return "int-log"
    if isinstance(dim, tune.LogUniform):
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


def _integer_log_axis(ax: Axes, name: str) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    # whole numbers on a log axis: plain labels at 1, 2, 5 x 10^k (the default would label
    # every minor tick 2x10^1, 3x10^1, ... and run them into each other)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(f"{name} (log scale)")


def _limits(ax: Axes, dim: tune.Dimension, kind: str) -> None:
    """The whole searched range, with a 3% margin on the axis' own scale."""
    lo, hi = float(dim.low), float(dim.high)  # type: ignore[attr-defined]
    if kind == "one-minus-log":
        lo, hi = 1.0 - lo, 1.0 - hi  # largest first: beta grows to the right
    if kind in ("log", "int-log", "one-minus-log"):
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
    fig = _figure(4.2 * cols, 3.4 * rows + 0.5)
    done = [t for t in study.trials if t.state == "complete" and t.value is not None]
    if not names or not done:
        n = len(study.trials)
        _note(fig, "no sampled hyperparameter to plot against" if not names else
              f"no complete trial: {_n(n, 'trial')}, none complete — nothing to plot")  # fmt: skip
        fig.suptitle(f"{_value_label(study, objective)} against each hyperparameter")
        return fig
    stopped = [t for t in study.trials if t.state in ("diverged", "failed")]
    values = [float(t.value) for t in done]  # type: ignore[arg-type]
    y_scale = _loss_scale(study, values)
    boxes = study.boxes if space is not None else {}
    top_y = max(values) * (1.6 if y_scale == "log" else 1.08)
    rounds = sorted({t.round for t in done})
    by_round = _by_round(study.trials)
    from matplotlib.ticker import MaxNLocator

    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        dim = space[name] if space is not None and name in space else None
        kind = _kind(dim, [t.params[name] for t in study.trials if name in t.params])
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
            in_round = [t for t in done if t.round == r and has(t)]
            ax.scatter([x_of(t.params[name]) for t in in_round], [t.value for t in in_round],
                       s=22, color=_round_colour(r), edgecolor="white", lw=0.4,
                       label=f"round {r}" if by_round else "complete trials",
                       zorder=3)  # fmt: skip
            box = boxes.get(r, {}).get(name) if r > 1 else None
            if box is not None and dim is not None:
                if kind == "choice":
                    lo, hi = min(box) - 0.4, max(box) + 0.4
                else:
                    lo, hi = x_of(dim.from_unit(box[0])), x_of(dim.from_unit(box[1]))
                ax.axvspan(min(lo, hi), max(lo, hi), color=_round_colour(r), alpha=0.12, lw=0)
                for edge in (lo, hi):
                    ax.axvline(edge, color=_round_colour(r), lw=0.8, alpha=0.6)
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
            _beta_axis(ax, name)
        elif kind == "int-log":
            _integer_log_axis(ax, name)
        elif kind == "log":
            ax.set_xscale("log")
            ax.set_xlabel(f"{name} (log scale)")
        else:
            ax.set_xlabel(name)
            if isinstance(dim, tune.IntUniform):
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if dim is not None and kind != "choice":
            _limits(ax, dim, kind)
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
    fig.suptitle(f"{_value_label(study, objective)} against each hyperparameter{boxed}")
    return fig


def importance_bars(study: tune.Study, path: str | Path) -> Path:
    """Writes :func:`importance_figure` to ``path`` (PNG)."""
    return _save(importance_figure(study), Path(path))


def importance_figure(study: tune.Study) -> Figure:
    """Horizontal bars of the first-order variance shares (``study.importance()``, from every
    complete trial with the space's unit coordinates), largest on top, each labelled with its
    value; the title gives the rest that no single hyperparameter explains. A study with no
    sampled dimension gets a note instead; too few trials raise ValueError."""
    shares = study.importance()
    fig = _figure(7, 0.5 * len(shares) + 1.6)
    if not shares:
        _note(fig, f"study {study.name!r}: no sampled hyperparameter to rank")
        return fig
    ax = fig.add_subplot()
    names = list(shares)[::-1]
    vals = [shares[n] for n in names]
    bars = ax.barh(names, vals, color="C0")
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in vals], padding=3, fontsize=9)
    ax.set_xlim(0, 1.1)  # shares sum to at most 1
    ax.set_xlabel("share of the objective's variance explained by the hyperparameter alone")
    n = sum(t.state == "complete" and bool(t.unit) for t in study.trials)
    rest = 1.0 - sum(vals)
    ax.set_title(
        f"Which hyperparameters mattered ({n} complete trials)\nstudy {study.name!r}; "
        f"rest (interactions, noise): {rest:.2f}",
        fontsize=11,
    )
    ax.grid(True, axis="x", alpha=0.3)
    return fig


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
    return _save(panda_timeline_figure(study, trial, metric=metric, param=param), Path(path))


def panda_timeline_figure(
    study: tune.Study, trial: tune.FrozenTrial, *, metric: str = "objective", param: str = "lr"
) -> Figure:
    """A babysat trial epoch by epoch: the metric (left axis), the learning rate each epoch ran
    with (right axis, log scale, as steps), and every rollback drawn as an arrow from the epoch
    where it was decided back to the epoch whose checkpoint was restored."""
    fig = _figure(9.5, 5)
    ax = fig.add_subplot()
    steps = sorted(trial.curve)
    values = [trial.curve[s] for s in steps]
    ax.plot(steps, values, "o-", color="C0", ms=4, lw=1.6, label=metric)
    finite = [v for v in values if math.isfinite(v)]
    ax.set_yscale(_loss_scale(study, finite))
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
        f"Panda: trial {trial.number} babysat for {len(steps)} epochs — {_n(changes, 'change')}, "
        f"{_n(len(rollbacks), 'rollback')}\nstudy {study.name!r}",
        fontsize=11,
    )
    return fig


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
    (when there are enough complete trials for a ranking); returns the paths written."""
    out = Path(out)
    written = []
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
