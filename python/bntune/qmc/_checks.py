"""Argument checks shared by the samplers, each naming the argument it rejects."""

from __future__ import annotations

import operator
import os

import numpy as np
import numpy.typing as npt

COUNT_LIMIT = 2**64


def as_int(value: object, name: str) -> int:
    """``operator.index(value)``, refusing bools and naming the argument on failure."""
    if type(value) is int:  # the common case, first: this runs on every draw
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got the bool {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{name} must be an integer, got {type(value).__name__} {value!r}"
        ) from None


def as_count(n: object, name: str = "n") -> int:
    value = as_int(n, name)
    if not 0 <= value < COUNT_LIMIT:
        raise ValueError(f"{name} must be a non-negative integer below 2**64, got {value}")
    return value


class DimensionError(TypeError, ValueError):
    """A ``d`` that is not an integer (a float, a str, a bool): scipy raises ``ValueError``
    there, bntune raised ``TypeError``; this is both, so code written for either catches it."""


def as_dim(d: object, limit: int | None = None, engine: str = "") -> int:
    """A dimension ``0 <= d <= limit``; beyond the limit the message names it (as scipy)."""
    if type(d) is int:
        dim = d
    else:
        try:
            dim = as_int(d, "d")
        except TypeError as err:
            raise DimensionError(str(err)) from None
    if dim < 0:
        raise ValueError(f"d must be a non-negative integer, got {dim}")
    if limit is not None and dim > limit:
        raise ValueError(
            f"Maximum supported dimensionality is {limit} for {engine}: d must be at most "
            f"{limit}, got {dim}"
        )
    return dim


def as_bool(value: object, name: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")


def wants_float32(dtype: npt.DTypeLike) -> bool:
    if dtype is np.float64 or dtype is float:
        return False
    if dtype is np.float32:
        return True
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved == np.float64:
        return False
    if resolved == np.float32:
        return True
    raise TypeError(f"dtype must be numpy.float64 or numpy.float32, got {dtype!r}")


def check_workers(workers: object) -> int:
    """scipy's ``workers`` rule: ``-1`` (every CPU) or a positive count.

    bntune's kernels run on its own thread pool (:func:`bntune.set_num_threads`), so the value
    is checked, as scipy does, but does not change how many threads run.
    """
    count = workers if type(workers) is int else as_int(workers, "workers")
    if count == -1:
        cpus = os.cpu_count()
        if cpus is None:
            raise NotImplementedError(
                "Cannot determine the number of cpus using os.cpu_count(), cannot use -1 for "
                "the number of workers"
            )
        return cpus
    if count <= 0:
        raise ValueError(f"Invalid number of workers: {count}, must be -1 or > 0")
    return count
