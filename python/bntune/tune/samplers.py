"""Samplers: where trial k's point in the unit cube comes from.

A sampler is an object with a ``name``, ``budgeted`` (whether its design is fixed by the budget:
then a larger budget is a different design), ``size(dims, n_total)`` and
``points(dims, seed, start, n, n_total)``: points ``start .. start + n - 1`` of its design in
``[0, 1)**d`` for the dimensions ``dims`` that take a coordinate. ``"sobol"`` (default,
scrambled), ``"halton"``, ``"lhs"`` and ``"random"`` come from ``bntune.qmc``; ``"grid"``
(levels on each dimension's own scale) is kept for comparison.

Point k of a design depends only on (sampler, seed, dimensions) — and for a budgeted design on
``n_total`` too — never on which worker asks or in what order: a study can hand out trials in
any order and resume anywhere.

A new sampler is one class here, registered in :data:`REGISTRY`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bntune.tune.dimensions import Dimension


def derive_seed(seed: int, *parts: object) -> int:
    """A seed for a sub-stream (e.g. a coarse-to-fine round), a hash of ``seed`` and ``parts``:
    distinct parts give independent-looking streams, the same parts the same stream."""
    text = repr((int(seed), *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


class Sampler:
    """Base class of the samplers (see the module docstring)."""

    name: str = ""
    budgeted: bool = False
    #: whether coarse-to-fine can sample a box with a fresh stream of this design
    zoomable: bool = True

    def size(self, dims: Sequence[Dimension], n_total: int) -> int:
        """How many points the design has for budget ``n_total``."""
        return n_total

    def points(
        self, dims: Sequence[Dimension], seed: int, start: int, n: int, n_total: int
    ) -> np.ndarray:
        """Points ``start .. start + n - 1`` of the design, shape (n, len(dims)) (fewer rows if
        the design ends)."""
        if n <= 0 or not dims:
            return np.zeros((max(n, 0), len(dims)))
        return np.asarray(self._points(len(dims), seed, start, n, n_total), dtype=np.float64)

    def _points(self, d: int, seed: int, start: int, n: int, n_total: int) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sobol(Sampler):
    """Scrambled Sobol' points: trial k gets point k (``random_at`` reads a point by index
    without moving an engine or warning: the power-of-two advice is about drawing)."""

    name = "sobol"

    def _points(self, d: int, seed: int, start: int, n: int, n_total: int) -> Any:
        from bntune import qmc

        return qmc.Sobol(d, scramble=True, seed=seed).random_at(start, n)


class Halton(Sampler):
    """Scrambled Halton points."""

    name = "halton"

    def _points(self, d: int, seed: int, start: int, n: int, n_total: int) -> Any:
        from bntune import qmc

        return qmc.Halton(d, scramble=True, seed=seed).random_at(start, n)


class Random(Sampler):
    """Independent uniform points."""

    name = "random"

    def _points(self, d: int, seed: int, start: int, n: int, n_total: int) -> Any:
        from bntune import qmc

        return qmc.Random(d, seed=seed).random_at(start, n)


class LatinHypercube(Sampler):
    """A Latin hypercube of ``n_total`` points: one design per budget."""

    name = "lhs"
    budgeted = True

    def _points(self, d: int, seed: int, start: int, n: int, n_total: int) -> Any:
        from bntune import qmc

        # one design of n_total points, keyed by index 0: a resumed call reads the same design
        design = qmc.LatinHypercube(d, seed=seed).random_at(0, n_total)
        return np.asarray(design)[start : start + n]


class Grid(Sampler):
    """Levels on each dimension's own scale: level i of k sits at ``(i + 0.5) / k`` in unit
    space, the last dimension varying fastest. Every option of a Choice, and for numeric
    dimensions as many levels as fit in the budget, raised one dimension at a time (so 64 trials
    over 6 numeric dimensions give 2 levels each)."""

    name = "grid"
    budgeted = True
    zoomable = False

    def levels(self, dims: Sequence[Dimension], n_total: int) -> list[int]:
        """Levels per unit-cube coordinate for a grid of at most ``n_total`` points."""
        levels = [1 if d.numeric else d.levels(1) for d in dims]
        grown = True
        while grown:
            grown = False
            for i, dim in enumerate(dims):
                if not dim.numeric or levels[i] >= dim.levels(levels[i] + 1):
                    continue
                trial = levels.copy()
                trial[i] += 1
                if math.prod(trial) <= n_total:
                    levels = trial
                    grown = True
        return levels

    def size(self, dims: Sequence[Dimension], n_total: int) -> int:
        """``n_total``, or fewer (a full product of levels); cut at ``n_total`` if the options
        alone outnumber the budget."""
        return min(n_total, math.prod(self.levels(dims, n_total)))

    def points(
        self, dims: Sequence[Dimension], seed: int, start: int, n: int, n_total: int
    ) -> np.ndarray:
        levels = self.levels(dims, n_total)
        stop = min(start + n, self.size(dims, n_total))
        out = np.empty((max(stop - start, 0), len(levels)))
        for row, index in enumerate(range(start, stop)):
            for j in range(len(levels) - 1, -1, -1):
                index, level = divmod(index, levels[j])
                out[row, j] = (level + 0.5) / levels[j]
        return out


#: every sampler by name, in the order the documentation lists them
REGISTRY: dict[str, Sampler] = {
    s.name: s for s in (Sobol(), Halton(), LatinHypercube(), Random(), Grid())
}
SAMPLERS = tuple(REGISTRY)
#: samplers whose design is fixed by the budget: a larger budget is a different design
BUDGETED = tuple(name for name, s in REGISTRY.items() if s.budgeted)


def as_sampler(sampler: object) -> Sampler:
    """The sampler ``sampler`` names (or ``sampler`` itself); ValueError otherwise."""
    if isinstance(sampler, Sampler):
        return sampler
    found = REGISTRY.get(sampler) if isinstance(sampler, str) else None
    if found is None:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    return found
