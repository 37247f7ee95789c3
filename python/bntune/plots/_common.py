"""What every figure of :mod:`bntune.plots` shares: the canvas, saving, labels, colours and the
y scale of an objective."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bntune import tune

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_DPI = 110
STOPPED = ("pruned", "diverged", "failed")


def matplotlib_module() -> Any:
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError(
            "bntune's plots need matplotlib, which is not installed; install it with the plot "
            "extra: pip install 'bntune[plot]' (the demo extra has it too)"
        ) from err
    return matplotlib


def new_figure(width: float, height: float) -> Figure:
    matplotlib_module()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def round_colour(r: int) -> str:
    return f"C{(r - 1) % 10}"


def save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI)
    return path


def loss_scale(study: tune.Study, values: Sequence[float]) -> str:
    """The y scale of a study's objective: log for a loss (a minimised objective) whose positive
    values span more than a decade, linear otherwise — an accuracy or any maximised score is
    read on a linear axis."""
    finite = [v for v in values if math.isfinite(v)]
    if study.direction != "minimize" or not finite or min(finite) <= 0:
        return "linear"
    return "log" if max(finite) / min(finite) > 10 else "linear"


def several_rounds(trials: Sequence[tune.FrozenTrial]) -> bool:
    """Whether the trials come from several rounds (coarse to fine): only then do labels name
    rounds; every other mode runs one round."""
    return len({t.round for t in trials}) > 1


def note(fig: Figure, text: str) -> None:
    """Says in the figure why it holds no data, instead of drawing any."""
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, color="0.3")


def value_label(study: tune.Study, objective: str) -> str:
    return f"{objective} — {'lower' if study.direction == 'minimize' else 'higher'} is better —"
