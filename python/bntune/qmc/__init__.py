"""Quasi-random samplers of the unit cube, shaped like ``scipy.stats.qmc``.

Every engine yields points in ``[0, 1)^d`` (float64 by default, float32 on request) and is
described completely by ``(kind, d, seed, scramble, bits, index)``: points are computed from
their index in Rust, so an engine can be pickled, rebuilt in another process at the same index,
fast-forwarded in O(d * bits) and read at any index without changing its state
(:meth:`QMCEngine.random_at`, which the tuner uses to give trial ``k`` point ``k``).

* :class:`Sobol` -- Joe & Kuo's ``new-joe-kuo-6.21201`` direction numbers (d <= 21201),
  Gray-code order; unscrambled output is bit-identical to
  ``scipy.stats.qmc.Sobol(d, scramble=False, bits=bits)``. ``scramble=True`` is a linear matrix
  scramble plus digital shift (as scipy), ``scramble="owen"`` nested uniform (Owen) scrambling.
* :class:`Halton` -- radical inverses in the first ``d`` primes; ``scramble=True`` permutes
  every digit position at random (as scipy). Unscrambled output equals scipy's.
* :class:`LatinHypercube` -- one point in each ``1/n`` stratum of every coordinate per draw,
  jittered (``scramble=True``) or centred.
* :class:`Random` -- Xoshiro256++ (``rand_xoshiro``) points.
* :func:`discrepancy` -- scipy's CD, WD, MD and L2-star discrepancies.

Seeds are integers in ``[0, 2**64)``, expanded in Rust with SplitMix64, so the same seed gives the
same points on every machine and for any thread count; ``seed=None`` draws one from the operating
system (read it back from :attr:`QMCEngine.seed`). Streams differ from scipy's for a given seed:
scipy draws from numpy's generators.

float32 output is the exact value rounded toward zero, never 1.0; float64 output is below 1.0
as well (scipy's Sobol' with ``bits > 53`` can round its largest points up to 1.0; here they
become the largest double below 1).
"""

from __future__ import annotations

import operator
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from bntune import _core

__all__ = [
    "Halton",
    "LatinHypercube",
    "QMCEngine",
    "Random",
    "Sobol",
    "discrepancy",
]

_SEED_LIMIT = 2**64
_DISCREPANCY_METHODS = ("CD", "WD", "MD", "L2-star")


def _as_int(value: object, name: str) -> int:
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


def _as_seed(seed: object) -> int | None:
    if seed is None:
        return None
    value = _as_int(seed, "seed")
    if not 0 <= value < _SEED_LIMIT:
        raise ValueError(f"seed must be None or an integer in [0, 2**64), got {value}")
    return value


def _as_count(n: object, name: str = "n") -> int:
    value = _as_int(n, name)
    if not 0 <= value < _SEED_LIMIT:
        raise ValueError(f"{name} must be a non-negative integer below 2**64, got {value}")
    return value


def _wants_float32(dtype: object) -> bool:
    if dtype is np.float64 or dtype is float:
        return False
    if dtype is np.float32:
        return True
    try:
        resolved = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        resolved = None
    if resolved == np.float64:
        return False
    if resolved == np.float32:
        return True
    raise TypeError(f"dtype must be numpy.float64 or numpy.float32, got {dtype!r}")


def _as_bool(value: object, name: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")


class QMCEngine:
    """Base class of the samplers: state, drawing by position or by index, pickling.

    Not instantiated directly; use :class:`Sobol`, :class:`Halton`, :class:`LatinHypercube` or
    :class:`Random`.
    """

    _kind: str = ""
    _engine: Any

    def _start(self, d: object, scramble: str, bits: int, seed: object) -> None:
        dim = d if type(d) is int else _as_int(d, "d")
        if dim < 1:
            raise ValueError(f"d must be a positive integer, got {dim}")
        self._engine = _core.QmcEngine(self._kind, dim, scramble, bits, _as_seed(seed))

    @property
    def d(self) -> int:
        """The number of coordinates of each point."""
        return int(self._engine.d)

    @property
    def seed(self) -> int:
        """The seed in use (drawn from the OS when the engine was made with ``seed=None``)."""
        return int(self._engine.seed)

    @property
    def num_generated(self) -> int:
        """The index of the next point :meth:`random` returns (drawn plus skipped so far)."""
        return int(self._engine.index)

    def random(self, n: int = 1, *, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        """The next ``n`` points as an ``(n, d)`` array of ``dtype`` (float64 or float32)."""
        return self._engine.random(_as_count(n), _wants_float32(dtype))  # type: ignore[no-any-return]

    def random_at(self, index: int, n: int = 1, *, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        """Points ``index .. index + n - 1`` as an ``(n, d)`` array, leaving the engine's own
        position alone and never warning. For :class:`LatinHypercube`, a fresh design of ``n``
        points keyed by ``index``. This is how the tuner gives trial ``k`` the point at ``k``."""
        start = _as_count(index, "index")
        return self._engine.random_at(start, _as_count(n), _wants_float32(dtype))  # type: ignore[no-any-return]

    def fast_forward(self, n: int) -> QMCEngine:
        """Skips ``n`` points in O(d * bits) (nothing is generated); returns the engine."""
        self._engine.fast_forward(_as_count(n))
        return self

    def reset(self) -> QMCEngine:
        """Goes back to the first point; returns the engine."""
        self._engine.seek(0)
        return self

    def integers(
        self,
        l_bounds: npt.ArrayLike,
        u_bounds: npt.ArrayLike | None = None,
        *,
        n: int = 1,
        endpoint: bool = False,
    ) -> np.ndarray:
        """``n`` integer points: ``floor(l + x * (u - l))`` per coordinate, as scipy.

        With ``u_bounds=None`` the range is ``[0, l_bounds)``. Bounds broadcast to ``(d,)`` and
        must be finite integers with ``l < u`` (``l <= u`` when ``endpoint=True``, which makes
        the upper bound inclusive). Returns int64 of shape ``(n, d)``.
        """
        if u_bounds is None:
            l_bounds, u_bounds = 0, l_bounds
        low = self._bound(l_bounds, "l_bounds")
        high = self._bound(u_bounds, "u_bounds")
        if _as_bool(endpoint, "endpoint"):
            high = high + 1
        if np.any(low >= high):
            raise ValueError(
                "u_bounds must be greater than l_bounds (or equal with endpoint=True) in every "
                f"coordinate, got l_bounds={low.tolist()} u_bounds={u_bounds!r}"
            )
        sample = self.random(n)
        out = np.floor(low + sample * (high - low))
        # Rounding can carry l + x * (u - l) up to u for huge ranges; keep [l, u).
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
            raise ValueError(f"{name} must be integers, got {array.tolist()}")
        try:
            return np.broadcast_to(as_float, (self.d,))
        except ValueError:
            raise ValueError(
                f"{name} must broadcast to d={self.d} values, got shape {array.shape}"
            ) from None

    def _state(self) -> dict[str, Any]:
        engine = self._engine
        return {
            "kind": engine.kind,
            "d": engine.d,
            "seed": engine.seed,
            "scramble": engine.scramble,
            "bits": engine.bits,
            "index": engine.index,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self._state()))

    def __repr__(self) -> str:
        state = self._state()
        return (
            f"{type(self).__name__}(d={state['d']}, scramble={state['scramble']!r}, "
            f"seed={state['seed']}, index={state['index']})"
        )


def _restore(cls: type[QMCEngine], state: dict[str, Any]) -> QMCEngine:
    """Rebuilds a pickled engine at its index."""
    engine = cls.__new__(cls)
    engine._engine = _core.QmcEngine(
        state["kind"], state["d"], state["scramble"], state["bits"], state["seed"]
    )
    engine._engine.seek(state["index"])
    if isinstance(engine, Sobol):
        engine._warned = False
    return engine


class Sobol(QMCEngine):
    """Sobol' points (Joe & Kuo ``new-joe-kuo-6.21201``), at most ``2**bits`` of them.

    Args:
        d: coordinates per point, ``1 <= d <= 21201``.
        scramble: ``True`` (default) for LMS + digital shift, ``"owen"`` for nested uniform
            scrambling, ``False`` for the plain sequence (first point 0).
        bits: integer precision, ``1 <= bits <= 64`` (default 30, as scipy).
        seed: ``None`` or an integer in ``[0, 2**64)``.

    Like scipy, :meth:`random` warns when a first draw (from index 0) is not a power of two
    (the balance properties need ``2**m`` points), here at most once per engine until
    :meth:`reset`; :meth:`random_at` never warns.
    """

    _kind = "sobol"
    MAXDIM = 21201

    def __init__(
        self,
        d: int,
        *,
        scramble: bool | str = True,
        bits: int | None = 30,
        seed: int | None = None,
    ) -> None:
        nbits = 30 if bits is None else _as_int(bits, "bits")
        if not 1 <= nbits <= 64:
            raise ValueError(f"bits must be between 1 and 64, got {nbits}")
        if scramble is True:
            mode = "default"
        elif isinstance(scramble, str):
            if scramble not in ("owen", "lms"):
                raise ValueError(f"scramble must be True, False, 'lms' or 'owen', got {scramble!r}")
            mode = "owen" if scramble == "owen" else "default"
        else:
            mode = "default" if _as_bool(scramble, "scramble") else "none"
        dim = _as_int(d, "d")
        if dim > self.MAXDIM:
            raise ValueError(f"d must be at most {self.MAXDIM} for Sobol', got {dim}")
        self._start(dim, mode, nbits, seed)
        self._warned = False

    @property
    def bits(self) -> int:
        """Integer precision: the engine has ``2**bits`` points."""
        return int(self._engine.bits)

    def random(self, n: int = 1, *, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        """The next ``n`` points as an ``(n, d)`` array of ``dtype`` (float64 or float32).

        Warns (once per engine) when drawing from the start a count that is not a power of 2.
        """
        count = _as_count(n)
        # scipy's rule: a first draw (from index 0) of a count that is not a power of two.
        if count & (count - 1) and not self._warned and self._engine.index == 0:
            self._warned = True
            warnings.warn(
                "The balance properties of Sobol' points require n to be a power of 2 "
                f"(drawing {count} points from the start).",
                UserWarning,
                stacklevel=2,
            )
        return self._engine.random(count, _wants_float32(dtype))  # type: ignore[no-any-return]

    def random_base2(self, m: int, *, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        """The next ``2**m`` points; the total drawn must stay a power of two."""
        power = _as_count(m, "m")
        if power > self.bits:
            raise ValueError(f"m must be at most bits={self.bits}, got {power}")
        n = 1 << power
        total = self._engine.index + n
        if total & (total - 1):
            raise ValueError(
                "The balance properties of Sobol' points require n to be a power of 2: "
                f"{self._engine.index} points were drawn before, so n={self._engine.index}"
                f"+2**{power}={total}. Use random() to draw it anyway."
            )
        return self._engine.random(n, _wants_float32(dtype))  # type: ignore[no-any-return]

    def reset(self) -> Sobol:
        """Goes back to the first point (and re-arms the power-of-two warning)."""
        self._engine.seek(0)
        self._warned = False
        return self


class Halton(QMCEngine):
    """Halton points over the first ``d`` primes (``1 <= d <= 1000``).

    ``scramble=True`` (default) applies random digit permutations; ``False`` gives scipy's
    plain sequence (first point 0).
    """

    _kind = "halton"

    def __init__(self, d: int, *, scramble: bool = True, seed: int | None = None) -> None:
        mode = "default" if _as_bool(scramble, "scramble") else "none"
        self._start(d, mode, 64, seed)


class LatinHypercube(QMCEngine):
    """Latin hypercube designs: each :meth:`random` call of ``n`` points puts one point in
    every ``1/n`` stratum of every coordinate.

    ``scramble=True`` (default) places it uniformly inside its cell, ``False`` at the centre.
    float32 output keeps the strata too: where rounding toward zero would take a point below its
    stratum, it is the next float32 up instead (for ``n`` below about ``2**23``, where every
    stratum holds a float32).
    """

    _kind = "lhs"

    def __init__(self, d: int, *, scramble: bool = True, seed: int | None = None) -> None:
        mode = "default" if _as_bool(scramble, "scramble") else "none"
        self._start(d, mode, 64, seed)


class Random(QMCEngine):
    """Independent uniform points from Xoshiro256++ (a pseudo-random baseline)."""

    _kind = "random"

    def __init__(self, d: int, *, seed: int | None = None) -> None:
        self._start(d, "none", 64, seed)


def discrepancy(sample: npt.ArrayLike, *, method: str = "CD") -> float:
    """The discrepancy of an ``(n, d)`` sample in ``[0, 1]^d``, with scipy's definitions.

    ``method``: ``"CD"`` centred (default), ``"WD"`` wrap-around, ``"MD"`` mixture or
    ``"L2-star"``; the formulas are in ``rust/qmc/discrepancy.rs``. Lower is more uniform.
    O(n**2 d), multithreaded.
    """
    if method not in _DISCREPANCY_METHODS:
        raise ValueError(f"method must be one of {_DISCREPANCY_METHODS}, got {method!r}")
    try:
        array = np.ascontiguousarray(sample, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"sample must be an array of numbers, got {type(sample).__name__}") from exc
    if array.ndim != 2:
        raise _core.ShapeError(f"sample must be a 2-D (n, d) array, got shape {array.shape}")
    return float(_core.qmc_discrepancy(array, method))
