"""The ``optimization=`` step every engine can apply to each draw, as scipy's engines do.

* ``"random-cd"``: swaps of two values within a column, kept when the centred discrepancy goes
  down (at most 10 000 tries, stopping after 100 in a row without improvement: scipy's
  settings). Columns keep their values, so a Latin hypercube stays one. In Rust
  (``rust/qmc/random_cd.rs``), O(n d) per try.
* ``"lloyd"``: Lloyd's algorithm towards a centroidal Voronoi tessellation of the unit cube
  (10 iterations at most, stopping when no point moves more than 1e-5: scipy's settings). Each
  cell's centroid is estimated from 256 scrambled Sobol' probe points per sample point (fewer
  once n * d exceeds 65 536); scipy builds the exact cells with ``scipy.spatial``, which
  bntune does not depend on. Points spread apart; a Latin hypercube's strata are not kept.

Both are deterministic given their seed, so a reset engine repeats its optimized draws.
"""

from __future__ import annotations

import numpy as np

from bntune import _core
from bntune.qmc._seeds import _NOT_GIVEN, pick, rust_seed

OPTIMIZATIONS = ("random-cd", "lloyd")
_RANDOM_CD_ITERS = 10_000
_RANDOM_CD_NOCHANGE = 100
_LLOYD_MAXITER = 10
_LLOYD_TOL = 1e-5
_PROBES_PER_POINT = 256
_MAX_PROBE_VALUES = 1 << 24
# Probe-to-point distances are computed this many at a time (a 32 MB float64 block).
_DISTANCE_BLOCK = 1 << 22
#: the largest Sobol' dimension (``Sobol.MAXDIM``)
_SOBOL_MAXDIM = 21201


def check_optimization(optimization: object) -> str | None:
    """``None`` or the method's lower-case name (scipy accepts any case)."""
    if optimization is None:
        return None
    name = optimization.lower() if isinstance(optimization, str) else optimization
    if name not in OPTIMIZATIONS:
        raise ValueError(
            f"{optimization!r} is not a valid optimization method. It must be one of "
            f"{set(OPTIMIZATIONS)!r}"
        )
    return str(name)


def optimize(sample: np.ndarray, method: str, seed: int) -> np.ndarray:
    """``sample`` (n, d) improved by ``method``; float32 in, float32 out (still below 1)."""
    n, d = sample.shape
    if n < 2 or d == 0:
        return sample
    work = np.array(sample, dtype=np.float64, order="C")
    if method == "random-cd":
        _core.qmc_random_cd(work, seed, _RANDOM_CD_ITERS, _RANDOM_CD_NOCHANGE)
    else:
        work = _lloyd(work, seed)
    if sample.dtype == np.float32:
        below_one = np.nextafter(np.float32(1), np.float32(0))
        return np.minimum(work.astype(np.float32), below_one)
    return work


def _nearest(points: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """For each probe, the index of the nearest point (Euclidean)."""
    n = len(points)
    squared = np.einsum("ij,ij->i", points, points)
    out = np.empty(len(probes), dtype=np.intp)
    step = max(1, _DISTANCE_BLOCK // n)
    for start in range(0, len(probes), step):
        block = probes[start : start + step]
        # |p - x|² = |x|² - 2 p.x + |p|², and |p|² is the same for every point.
        distances = squared - 2.0 * (block @ points.T)
        out[start : start + step] = np.argmin(distances, axis=1)
    return out


def _lloyd(sample: np.ndarray, seed: int) -> np.ndarray:
    n, d = sample.shape
    # At most _MAX_PROBE_VALUES coordinates of probes (128 MB): large designs get fewer
    # probes per point (Lloyd's algorithm is meant for small designs, as scipy's).
    count = max(n, min(_PROBES_PER_POINT * n, _MAX_PROBE_VALUES // d))
    # the core engines straight (the engine classes use this module: no import back), seeded
    # as Sobol(d, seed=seed) / Random(d, seed=seed) are
    value, name = pick(seed, _NOT_GIVEN)
    if d <= _SOBOL_MAXDIM:
        engine = _core.QmcEngine("sobol", d, "default", 30, rust_seed(value, name))
    else:
        engine = _core.QmcEngine("random", d, "none", 64, rust_seed(value, name))
    probes = engine.random_at(0, count, False)
    points = sample
    for _ in range(_LLOYD_MAXITER):
        owner = _nearest(points, probes)
        counts = np.bincount(owner, minlength=n)
        sums = np.zeros_like(points)
        np.add.at(sums, owner, probes)
        has_probes = counts > 0
        centroids = points.copy()
        centroids[has_probes] = sums[has_probes] / counts[has_probes, None]
        moved = np.max(np.abs(centroids - points))
        points = centroids
        if moved < _LLOYD_TOL:
            break
    return np.clip(points, 0.0, np.nextafter(1.0, 0.0))
