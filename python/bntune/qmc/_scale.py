"""``scale``: from the unit hypercube to a box and back, with scipy's checks and messages."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def _bounds(l_bounds: npt.ArrayLike, u_bounds: npt.ArrayLike, d: int) -> tuple[np.ndarray, ...]:
    try:
        lower = np.broadcast_to(np.asarray(l_bounds), (d,))
        upper = np.broadcast_to(np.asarray(u_bounds), (d,))
    except ValueError as exc:
        raise ValueError(
            "'l_bounds' and 'u_bounds' must be broadcastable and respect the sample dimension "
            f"d={d}, got shapes {np.shape(l_bounds)} and {np.shape(u_bounds)}"
        ) from exc
    if not np.all(lower < upper):
        raise ValueError(
            f"Bounds are not consistent 'l_bounds' < 'u_bounds': got {lower.tolist()} and "
            f"{upper.tolist()}"
        )
    return lower, upper


def scale(
    sample: npt.ArrayLike,
    l_bounds: npt.ArrayLike,
    u_bounds: npt.ArrayLike,
    *,
    reverse: bool = False,
) -> np.ndarray:
    """``sample * (u - l) + l`` for an ``(n, d)`` sample in ``[0, 1]^d``; with
    ``reverse=True``, ``(sample - l) / (u - l)`` for a sample inside the bounds."""
    array = np.asarray(sample)
    if array.ndim != 2:
        raise ValueError(f"Sample is not a 2D array: got shape {array.shape}")
    lower, upper = _bounds(l_bounds, u_bounds, array.shape[1])
    if not reverse:
        if array.size and (array.max() > 1.0 or array.min() < 0.0):
            raise ValueError("Sample is not in unit hypercube [0, 1]^d")
        return array * (upper - lower) + lower
    if not (np.all(array >= lower) and np.all(array <= upper)):
        raise ValueError("Sample is out of bounds [l_bounds, u_bounds]")
    return (array - lower) / (upper - lower)  # type: ignore[no-any-return]
