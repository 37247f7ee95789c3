"""Samplers: where trial k's point in the unit cube comes from.

``"sobol"`` (default, scrambled), ``"halton"``, ``"lhs"`` and ``"random"`` come from
``bntune.qmc``; ``"grid"`` (levels on each dimension's own scale) is kept for comparison. All
use of ``bntune.qmc`` goes through :func:`unit_points`.

Point k of a design depends only on (sampler, seed, dimension) — and for ``"lhs"`` and
``"grid"``, whose design needs the budget up front, on ``n_total`` too — never on which worker asks
or in what order: a study can hand out trials in any order and resume anywhere.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from bntune.tune.space import Space

SAMPLERS = ("sobol", "halton", "lhs", "random", "grid")
#: samplers whose design is fixed by the budget: a larger budget is a different design
BUDGETED = ("lhs", "grid")


def check_sampler(sampler: object) -> str:
    """``sampler`` itself when it names a sampler; ValueError otherwise."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    return str(sampler)


def derive_seed(seed: int, *parts: object) -> int:
    """A seed for a sub-stream (e.g. a coarse-to-fine round), a hash of ``seed`` and ``parts``:
    distinct parts give independent-looking streams, the same parts the same stream."""
    text = repr((int(seed), *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


def unit_points(sampler: str, d: int, seed: int, start: int, n: int, n_total: int) -> np.ndarray:
    """Points ``start .. start + n - 1`` of the ``sampler`` design in ``[0, 1)**d``, shape (n, d).

    The only place the tuner calls ``bntune.qmc``. ``n_total`` is the design size ("lhs" needs
    it; the sequences ignore it).
    """
    if n <= 0 or d == 0:
        return np.zeros((max(n, 0), d))
    from bntune import qmc

    # random_at reads points by index without moving the engine or warning (Sobol's
    # power-of-two advice is about drawing, and trial k simply gets point k)
    if sampler == "lhs":
        # one design of n_total points, keyed by index 0: a resumed call reads the same design
        design = qmc.LatinHypercube(d, seed=seed).random_at(0, n_total)
        return np.asarray(design, dtype=np.float64)[start : start + n]
    if sampler == "sobol":
        engine = qmc.Sobol(d, scramble=True, seed=seed)
    elif sampler == "halton":
        engine = qmc.Halton(d, scramble=True, seed=seed)
    elif sampler == "random":
        engine = qmc.Random(d, seed=seed)
    else:
        raise ValueError(
            f"unit_points: sampler must be one of sobol/halton/lhs/random, got {sampler!r}"
        )
    return np.asarray(engine.random_at(start, n), dtype=np.float64)


def grid_levels(space: Space, n_total: int) -> list[int]:
    """Levels per unit-cube coordinate for a grid of at most ``n_total`` points: every option of
    a Choice, and for numeric dimensions as many levels as fit, raised one dimension at a time
    (so 64 trials over 6 numeric dimensions give 2 levels each)."""
    dims = [space[name] for name in space.names]
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


def design_size(space: Space, sampler: str, n_total: int) -> int:
    """How many points the design has for budget ``n_total``: ``n_total``, except a grid, which
    may have fewer (a full product of levels) or, if the options alone outnumber the budget, is
    cut at ``n_total``."""
    if sampler != "grid":
        return n_total
    return min(n_total, math.prod(grid_levels(space, n_total)))


def grid_points(space: Space, start: int, n: int, n_total: int) -> np.ndarray:
    """Points ``start .. start + n - 1`` of the grid: level i of k sits at ``(i + 0.5) / k`` in
    unit space (so on each dimension's own scale), the last dimension varying fastest."""
    levels = grid_levels(space, n_total)
    size = design_size(space, "grid", n_total)
    stop = min(start + n, size)
    out = np.empty((max(stop - start, 0), len(levels)))
    for row, index in enumerate(range(start, stop)):
        for j in range(len(levels) - 1, -1, -1):
            index, level = divmod(index, levels[j])
            out[row, j] = (level + 0.5) / levels[j]
    return out


def design_points(
    space: Space, sampler: str, seed: int, start: int, n: int, n_total: int
) -> np.ndarray:
    """Points ``start .. start + n - 1`` of the design for ``space``; fewer rows if a grid ends."""
    check_sampler(sampler)
    if sampler == "grid":
        return grid_points(space, start, n, n_total)
    return unit_points(sampler, space.d, seed, start, n, n_total)
