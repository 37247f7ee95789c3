"""Coarse-to-fine boxes in unit space: the whole cube, the next round's box around the best
trials, and the mapping of a design's points into a box (the rule is described in
:mod:`bntune.tune.coarse_to_fine`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from bntune.tune.dimensions import Choice, Dimension
from bntune.tune.objectives import best_by_rank
from bntune.tune.space import Space
from bntune.tune.storage import Box

if TYPE_CHECKING:
    from bntune.tune.trial import FrozenTrial

#: padding on each side of the best trials' interval, as a fraction of the previous width
PAD = 0.1


def full_entry(dim: Dimension) -> list[float] | list[int]:
    """A dimension's whole range in a box: [0, 1], or every option of a Choice."""
    return list(range(len(dim.options))) if isinstance(dim, Choice) else [0.0, 1.0]


def full_box(space: Space) -> Box:
    """The whole unit cube: [0, 1] per numeric dimension, every option per categorical one."""
    return {name: full_entry(space[name]) for name in space.names}


def zoom_best(
    done: Sequence[FrozenTrial], directions: Sequence[str], top: float
) -> list[FrozenTrial]:
    """The complete trials ``done`` the zoom rule's next box covers: the best ``top`` fraction
    of them (at least one) by value, or by non-dominated rank with several objectives; equal
    values keep the order of ``done``."""
    if not done:
        return []
    count = max(1, math.ceil(top * len(done)))
    if len(directions) > 1:
        return best_by_rank(done, directions, count)
    sign = 1.0 if directions[0] == "minimize" else -1.0
    return sorted(done, key=lambda t: sign * t.value)[:count]  # type: ignore[operator]


def next_box(
    space: Space, box: Box, best: list[FrozenTrial], *, shrink: float, pad: float | None = None
) -> Box:
    """The box of the next round from the previous ``box`` and the ``best`` trials (``pad``:
    default ``PAD``)."""
    pad = PAD if pad is None else pad
    if not best:
        return box
    new: Box = {}
    for name in space.names:
        dim = space[name]
        # only the trials that used the parameter say where it is good (a conditional one is
        # absent from the others); without any, its box stays as it was
        having = [t for t in best if name in t.unit]
        previous = box.get(name, full_entry(dim))
        if not having:
            new[name] = previous
            continue
        if isinstance(dim, Choice):
            new[name] = sorted({dim.index(t.params[name]) for t in having})
            continue
        lo_prev, hi_prev = previous
        width = hi_prev - lo_prev
        us = [t.unit[name] for t in having]
        lo, hi = min(us) - pad * width, max(us) + pad * width
        if hi - lo < shrink * width:
            centre = 0.5 * (lo + hi)
            lo, hi = centre - 0.5 * shrink * width, centre + 0.5 * shrink * width
        if lo < 0.0:
            lo, hi = 0.0, hi - lo
        if hi > 1.0:
            lo, hi = max(0.0, lo - (hi - 1.0)), 1.0
        new[name] = [lo, hi]
    return new


def into_box(space: Space, box: Box, points: np.ndarray) -> np.ndarray:
    """Maps unit-cube ``points`` into ``box``: affinely for numeric dimensions; for categorical
    ones onto the centre of a kept option's cell, each kept option equally likely."""
    out = np.array(points, dtype=np.float64, copy=True)
    for j, name in enumerate(space.names):
        dim = space[name]
        if isinstance(dim, Choice):
            kept = box[name]
            pick = np.minimum((out[:, j] * len(kept)).astype(np.int64), len(kept) - 1)
            out[:, j] = (np.asarray(kept, dtype=np.float64)[pick] + 0.5) / len(dim.options)
        else:
            lo, hi = box[name]
            # stay strictly below 1 so from_unit never sees the closed end
            out[:, j] = np.minimum(lo + out[:, j] * (hi - lo), math.nextafter(1.0, 0.0))
    return out
