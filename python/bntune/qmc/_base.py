"""``QMCEngine``: the base class, subclassable the way scipy's is.

A subclass calls ``super().__init__(d, optimization=..., rng=...)`` and implements
``_random(n, *, workers=1)``; the base class gives it ``random``, ``integers``, ``reset`` and
``fast_forward`` and the attributes ``d``, ``rng`` (a numpy ``Generator``, made from ``rng``
exactly as scipy makes it, so a subclass draws the same numbers under both) and
``num_generated``. bntune's own engines override the drawing with their Rust streams.

When ``scipy.stats.qmc`` is loaded, this class is registered as a virtual subclass of scipy's
``QMCEngine``, so scipy's ``MultivariateNormalQMC`` and ``MultinomialQMC`` take bntune engines.
"""

from __future__ import annotations

import copy
import sys

import numpy as np
import numpy.typing as npt

from bntune.qmc._checks import as_bool, as_count, check_workers
from bntune.qmc._optimize import check_optimization, optimize
from bntune.qmc._seeds import _NOT_GIVEN, pick, spawn_child

_registered = False


def register_with_scipy() -> None:
    """Makes ``isinstance(engine, scipy.stats.qmc.QMCEngine)`` true once scipy is loaded."""
    global _registered
    if _registered:
        return
    module = sys.modules.get("scipy.stats._qmc")
    if module is not None:
        module.QMCEngine.register(QMCEngine)
        _registered = True


def _numpy_generator(value: object, name: str) -> np.random.Generator | np.random.RandomState:
    """scipy's rule: a Generator is spawned from (so the caller's one is not shared); ``rng=``
    values go through ``default_rng`` first; a RandomState passed as ``seed=`` is used as is."""
    if name == "rng" and not isinstance(value, np.random.Generator) and value is not None:
        value = np.random.default_rng(value)  # type: ignore[arg-type]
    if isinstance(value, np.random.Generator):
        child = spawn_child(value)
        if child is None:  # no SeedSequence to spawn from: seed a new one from its stream
            return np.random.default_rng(value.integers(0, 2**63))
        return np.random.Generator(type(value.bit_generator)(child))
    if isinstance(value, np.random.RandomState):
        return value
    return np.random.default_rng(value)  # type: ignore[arg-type]


class QMCEngine:
    """Base class of the samplers (see the module docs to write one)."""

    d: int
    num_generated: int
    rng: np.random.Generator | np.random.RandomState
    _optimization: str | None = None

    def __init__(
        self,
        d: int,
        *,
        optimization: str | None = None,
        rng: object = _NOT_GIVEN,
        seed: object = _NOT_GIVEN,
    ) -> None:
        register_with_scipy()
        value, name = pick(seed, rng)
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0:
            raise ValueError(f"d must be a non-negative integer value, got {d!r}")
        self.d = int(d)
        self.rng = _numpy_generator(value, name)
        self.rng_seed = copy.deepcopy(self.rng)
        self.num_generated = 0
        self._optimization = check_optimization(optimization)

    def _random(self, n: int = 1, *, workers: int = 1) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement _random(n, *, workers=1)")

    def random(self, n: int = 1, *, workers: int = 1) -> np.ndarray:
        """The next ``n`` points as an ``(n, d)`` array (optimized if the engine was made with
        ``optimization=``)."""
        count = as_count(n)
        check_workers(workers)
        sample = self._random(count, workers=workers)
        if self._optimization is not None:
            seed = int(self.rng.integers(0, 2**64, dtype=np.uint64))  # type: ignore[call-overload]
            sample = optimize(np.asarray(sample), self._optimization, seed)
        self.num_generated += count
        return sample

    def reset(self) -> QMCEngine:
        """Goes back to the first point (the ``rng`` is restored); returns the engine."""
        self.rng = copy.deepcopy(self.rng_seed)
        self.num_generated = 0
        return self

    def fast_forward(self, n: int) -> QMCEngine:
        """Skips ``n`` points; returns the engine."""
        self.random(n)
        return self

    def integers(
        self,
        l_bounds: npt.ArrayLike,
        u_bounds: npt.ArrayLike | None = None,
        *,
        n: int = 1,
        endpoint: bool = False,
        workers: int = 1,
    ) -> np.ndarray:
        """``n`` integer points: ``floor(x * (u - l) + l)`` per coordinate, as scipy.

        With ``u_bounds=None`` the range is ``[0, l_bounds)``. Bounds broadcast to ``(d,)`` and
        must be finite integers with ``l < u`` (``l <= u`` when ``endpoint=True``, which makes
        the upper bound inclusive). Returns int64 of shape ``(n, d)``.
        """
        if u_bounds is None:
            l_bounds, u_bounds = 0, l_bounds
        low = self._bound(l_bounds, "l_bounds")
        high = self._bound(u_bounds, "u_bounds")
        if as_bool(endpoint, "endpoint"):
            high = high + 1
        if np.any(low >= high):
            raise ValueError(
                "u_bounds must be greater than l_bounds (or equal with endpoint=True) in every "
                f"coordinate, got l_bounds={low.tolist()} u_bounds={u_bounds!r}"
            )
        sample = self.random(n, workers=workers)
        out = np.floor(sample * (high - low) + low)
        # Rounding can carry x * (u - l) + l up to u for huge ranges; keep [l, u).
        np.clip(out, low, high - 1, out=out)
        return out.astype(np.int64)

    def _bound(self, value: npt.ArrayLike, name: str) -> np.ndarray:
        array = np.asarray(value)
        if array.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be integers, got dtype {array.dtype}")
        as_float = array.astype(np.float64)
        if not np.all(np.isfinite(as_float)):
            raise ValueError(f"{name} must be finite, got {array.tolist()}")
        if array.dtype.kind == "f" and not np.all(as_float == np.floor(as_float)):
            raise ValueError(
                "'u_bounds' and 'l_bounds' must be integers or array-like of integers: "
                f"{name} must be integers, got {array.tolist()}"
            )
        try:
            return np.broadcast_to(as_float, (self.d,))
        except ValueError:
            raise ValueError(
                f"{name} must broadcast to d={self.d} values, got shape {array.shape}"
            ) from None
