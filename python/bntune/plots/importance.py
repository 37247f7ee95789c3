"""The importance ranking as bars."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bntune import tune
from bntune.plots._common import new_figure, note, save

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def importance_bars(study: tune.Study, path: str | Path, *, objective: int | None = None) -> Path:
    """Writes :func:`importance_figure` to ``path`` (PNG)."""
    return save(importance_figure(study, objective=objective), Path(path))


def importance_figure(study: tune.Study, *, objective: int | None = None) -> Figure:
    """Horizontal bars of the first-order variance shares (``study.importance()``, from every
    complete trial with the space's unit coordinates), largest on top, each labelled with its
    value; the title gives the rest that no single hyperparameter explains. A study with several
    objectives ranks the ``objective``-th. A study with no sampled dimension gets a note
    instead; too few trials raise ValueError."""
    shares = study.importance(objective=objective)
    fig = new_figure(7, 0.5 * len(shares) + 1.6)
    if not shares:
        note(fig, f"study {study.name!r}: no sampled hyperparameter to rank")
        return fig
    ax = fig.add_subplot()
    names = list(shares)[::-1]
    vals = [shares[n] for n in names]
    bars = ax.barh(names, vals, color="C0")
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in vals], padding=3, fontsize=9)
    ax.set_xlim(0, 1.1)  # shares sum to at most 1
    what = "the objective" if objective is None else f"objective {objective}"
    ax.set_xlabel(f"share of {what}'s variance explained by the hyperparameter alone")
    n = sum(t.state == "complete" and bool(t.unit) for t in study.trials)
    rest = 1.0 - sum(vals)
    ax.set_title(
        f"Which hyperparameters mattered ({n} complete trials)\nstudy {study.name!r}; "
        f"rest (interactions, noise): {rest:.2f}",
        fontsize=11,
    )
    ax.grid(True, axis="x", alpha=0.3)
    return fig
