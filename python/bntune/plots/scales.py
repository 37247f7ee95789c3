"""Each hyperparameter's x axis on its own scale: linear, log (integers labelled plainly),
1 - beta for betas, or its options."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bntune import tune

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def infer_kind(values: Sequence[Any]) -> str:
    """A scale for a dimension the study file did not describe, from its values."""
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "choice"
    lo, hi = min(values), max(values)
    if lo > 0 and hi < 1 and lo >= 0.5 and (1 - lo) / (1 - hi) >= 10:
        return "one-minus-log"
    if lo > 0 and hi / lo >= 20:
        return "int-log" if all(isinstance(v, int) for v in values) else "log"
    return "linear"


def kind_of(dim: tune.Dimension | None, values: Sequence[Any]) -> str:
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
    return infer_kind(values)


def beta_axis(ax: Axes, name: str) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    # x holds 1 - beta; label the decades with beta itself (0.9, 0.99, 0.999), growing to the
    # right
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.xaxis.set_major_locator(LogLocator(base=10))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{1 - x:.6g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(f"{name} (on a log scale of 1 - {name})")


def integer_log_axis(ax: Axes, name: str) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    # whole numbers on a log axis: plain labels at 1, 2, 5 x 10^k (the default would label
    # every minor tick 2x10^1, 3x10^1, ... and run them into each other)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(f"{name} (log scale)")


def set_limits(ax: Axes, dim: tune.Dimension, kind: str) -> None:
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
