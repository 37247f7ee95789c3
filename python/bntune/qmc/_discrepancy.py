"""Discrepancies with scipy's definitions and error messages: :func:`discrepancy` (Rust,
multithreaded) and :func:`update_discrepancy` (one new point, O(n d) in numpy)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bntune import _core
from bntune.qmc._checks import as_bool, check_workers

_METHODS = ("CD", "WD", "MD", "L2-star")


def as_unit_sample(sample: npt.ArrayLike, name: str = "sample") -> np.ndarray:
    """A C-contiguous float64 (n, d) array in [0, 1]^d, or scipy's errors."""
    try:
        array = np.ascontiguousarray(sample, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers, got {type(sample).__name__}") from exc
    if array.ndim != 2:
        raise _core.ShapeError(
            f"Sample is not a 2D array: {name} must be a 2-D (n, d) array, got shape {array.shape}"
        )
    if array.size and not (array.min() >= 0.0 and array.max() <= 1.0):  # NaN fails too
        raise ValueError(
            f"Sample is not in unit hypercube: {name} must lie in [0, 1]^d, found values in "
            f"[{np.nanmin(array)}, {np.nanmax(array)}]"
            + (" and NaN" if np.isnan(array).any() else "")
        )
    return array


def discrepancy(
    sample: npt.ArrayLike,
    *,
    iterative: bool = False,
    method: str = "CD",
    workers: int = 1,
) -> float:
    """The discrepancy of an ``(n, d)`` sample in ``[0, 1]^d``, with scipy's definitions.

    ``method``: ``"CD"`` centred (default), ``"WD"`` wrap-around, ``"MD"`` mixture or
    ``"L2-star"``; the formulas are in ``rust/qmc/discrepancy.rs``. Lower is more uniform.
    O(n**2 d) on bntune's thread pool (``workers`` is checked as scipy checks it, and
    :func:`bntune.set_num_threads` sets the threads). ``iterative=True`` computes the terms of
    ``sample`` as the first ``n`` points of ``n + 1``, the start for
    :func:`update_discrepancy`.
    """
    if method not in _METHODS:
        # scipy's message, its set of names listed once and in a fixed order
        names = ", ".join(map(repr, _METHODS))
        raise ValueError(f"{method!r} is not a valid method. It must be one of {{{names}}}")
    check_workers(workers)
    array = as_unit_sample(sample)
    more = 1 if as_bool(iterative, "iterative") else 0
    return float(_core.qmc_discrepancy(array, method, more))


def update_discrepancy(x_new: npt.ArrayLike, sample: npt.ArrayLike, initial_disc: float) -> float:
    """The centred discrepancy of ``sample`` plus the point ``x_new``, from ``initial_disc``,
    the value of ``discrepancy(sample, iterative=True)``: adds the new point's terms,

    -2/N Π_k q(x_k) + 1/N² (2 Σ_j Π_k f(x_k, s_jk) + Π_k (1 + |x_k - 1/2|)), N = n + 1,

    with the single-point factor q and the pair factor f of the centred discrepancy.
    """
    points = as_unit_sample(sample)
    x = np.asarray(x_new, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x_new is not a 1D array: got shape {x.shape}")
    if not (np.all(x >= 0) and np.all(x <= 1)):
        raise ValueError(f"x_new is not in unit hypercube: got {x.tolist()}")
    if x.shape[0] != points.shape[1]:
        raise ValueError(
            f"x_new and sample must be broadcastable: x_new has {x.shape[0]} coordinates, "
            f"sample {points.shape[1]}"
        )
    total = points.shape[0] + 1
    zx = np.abs(x - 0.5)
    zs = np.abs(points - 0.5)
    single = np.prod(1.0 + 0.5 * zx - 0.5 * zx**2)
    pairs = np.prod(1.0 + 0.5 * zx + 0.5 * zs - 0.5 * np.abs(x - points), axis=1).sum()
    itself = np.prod(1.0 + zx)
    return float(initial_disc - 2.0 / total * single + (2.0 * pairs + itself) / total**2)
