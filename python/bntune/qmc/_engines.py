"""bntune's engines: :class:`Sobol`, :class:`Halton`, :class:`LatinHypercube`, :class:`Random`.

Every constructor takes scipy's arguments (``d``, ``scramble``, ``optimization``, ``rng`` and the
older ``seed``; ``bits`` for Sobol', ``strength`` for Latin hypercubes); see
:mod:`bntune.qmc._seeds` for how ``seed``/``rng`` values become bntune's Rust seed.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt

from bntune.qmc._checks import as_bool, as_count, as_int, check_workers, wants_float32
from bntune.qmc._indexed import IndexedEngine
from bntune.qmc._seeds import _NOT_GIVEN


class Sobol(IndexedEngine):
    """Sobol' points (Joe & Kuo ``new-joe-kuo-6.21201``), at most ``2**bits`` of them.

    Args:
        d: coordinates per point, ``0 <= d <= 21201``.
        scramble: ``True`` (default) for LMS + digital shift, ``"owen"`` for nested uniform
            scrambling, ``False`` for the plain sequence (first point 0).
        bits: integer precision, ``1 <= bits <= 64`` (default 30, as scipy).
        optimization: ``None``, ``"random-cd"`` or ``"lloyd"``, applied to each draw.
        rng, seed: the randomness (see :mod:`bntune.qmc`); ``seed=k`` for an int ``k`` is
            bntune's historical stream.

    Like scipy, :meth:`random` warns when a first draw (from index 0) is not a power of two
    (the balance properties need ``2**m`` points), here at most once per engine until
    :meth:`reset`; :meth:`random_at` never warns.
    """

    _kind = "sobol"
    _name = "Sobol'"
    MAXDIM = 21201
    _max_d = MAXDIM

    def __init__(
        self,
        d: int,
        *,
        scramble: bool | str = True,
        bits: int | None = 30,
        optimization: str | None = None,
        rng: object = _NOT_GIVEN,
        seed: object = _NOT_GIVEN,
    ) -> None:
        nbits = 30 if bits is None else as_int(bits, "bits")
        if not 1 <= nbits <= 64:
            raise ValueError(
                f"Maximum supported 'bits' is 64: bits must be between 1 and 64, got {nbits}"
            )
        if scramble is True:
            mode = "default"
        elif isinstance(scramble, str):
            if scramble not in ("owen", "lms"):
                raise ValueError(f"scramble must be True, False, 'lms' or 'owen', got {scramble!r}")
            mode = "owen" if scramble == "owen" else "default"
        else:
            mode = "default" if as_bool(scramble, "scramble") else "none"
        self._start(d, mode, nbits, seed, rng, optimization)
        self._warned = False

    def _restored(self) -> None:
        self._warned = False

    @property
    def bits(self) -> int:
        """Integer precision: the engine has ``2**bits`` points."""
        return int(self._engine.bits)

    def random(
        self, n: int = 1, *, workers: int = 1, dtype: npt.DTypeLike = np.float64
    ) -> np.ndarray:
        """The next ``n`` points as an ``(n, d)`` array of ``dtype`` (float64 or float32).

        Warns (once per engine) when drawing from the start a count that is not a power of 2.
        """
        count = as_count(n)
        # scipy's rule: a first draw (from index 0) of a count that is not a power of two.
        if count & (count - 1) and not self._warned and self._engine.index == 0:
            self._warned = True
            warnings.warn(
                "The balance properties of Sobol' points require n to be a power of 2 "
                f"(drawing {count} points from the start).",
                UserWarning,
                stacklevel=2,
            )
        if workers != 1:
            check_workers(workers)
        if self._optimization is None:
            return self._engine.random(count, wants_float32(dtype))  # type: ignore[no-any-return]
        return self._draw(self._engine.index, count, wants_float32(dtype), True)

    def random_base2(self, m: int, *, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        """The next ``2**m`` points; the total drawn must stay a power of two."""
        power = as_count(m, "m")
        if power > self.bits:
            raise ValueError(f"m must be at most bits={self.bits}, got {power}")
        if power >= 64:  # 2**64 points: more than a draw can count (bits=64 allows m=64)
            raise ValueError(f"m must be at most 63 (n = 2**m points, below 2**64), got {power}")
        n = 1 << power
        total = self._engine.index + n
        if total & (total - 1):
            raise ValueError(
                "The balance properties of Sobol' points require n to be a power of 2: "
                f"{self._engine.index} points were drawn before, so n={self._engine.index}"
                f"+2**{power}={total}. Use random() to draw it anyway."
            )
        return self._draw(self._engine.index, n, wants_float32(dtype), True)

    def reset(self) -> Sobol:
        """Goes back to the first point (and re-arms the power-of-two warning)."""
        super().reset()
        self._warned = False
        return self


class Halton(IndexedEngine):
    """Halton points over the first ``d`` primes (``0 <= d <= 1000``).

    ``scramble=True`` (default) applies random digit permutations; ``False`` gives scipy's
    plain sequence (first point 0). ``optimization``, ``rng`` and ``seed`` as for
    :class:`Sobol`.
    """

    _kind = "halton"
    _name = "Halton"
    _max_d = 1000

    def __init__(
        self,
        d: int,
        *,
        scramble: bool = True,
        optimization: str | None = None,
        rng: object = _NOT_GIVEN,
        seed: object = _NOT_GIVEN,
    ) -> None:
        mode = "default" if as_bool(scramble, "scramble") else "none"
        self._start(d, mode, 64, seed, rng, optimization)


class LatinHypercube(IndexedEngine):
    """Latin hypercube designs: each :meth:`random` call of ``n`` points puts one point in
    every ``1/n`` stratum of every coordinate.

    ``scramble=True`` (default) places it uniformly inside its cell, ``False`` at the centre.
    ``strength=2`` builds orthogonal-array Latin hypercubes: ``n`` must then be the square of
    a prime ``p`` with ``d <= p + 1``, and every 2-D projection has one point in each cell of
    the ``p x p`` grid. float32 output keeps the strata too: where rounding toward zero would
    take a point below its stratum, it is the next float32 up instead (for ``n`` below about
    ``2**23``, where every stratum holds a float32). ``optimization="random-cd"`` keeps the
    Latin hypercube property (not the orthogonal array's); ``rng`` and ``seed`` as for
    :class:`Sobol`.
    """

    _kind = "lhs"
    _name = "LatinHypercube"
    _max_d = 1 << 20

    def __init__(
        self,
        d: int,
        *,
        scramble: bool = True,
        strength: int = 1,
        optimization: str | None = None,
        rng: object = _NOT_GIVEN,
        seed: object = _NOT_GIVEN,
    ) -> None:
        mode = "default" if as_bool(scramble, "scramble") else "none"
        if isinstance(strength, (bool, np.bool_)) or strength not in (1, 2):
            raise ValueError(f"{strength!r} is not a valid strength. It must be one of {{1, 2}}")
        kind = "oa-lhs" if strength == 2 else "lhs"
        self._start(d, mode, 64, seed, rng, optimization, kind)

    @property
    def strength(self) -> int:
        """1 for plain Latin hypercubes, 2 for orthogonal-array ones."""
        return 2 if self._engine.kind == "oa-lhs" else 1


class Random(IndexedEngine):
    """Independent uniform points from Xoshiro256++ (a pseudo-random baseline)."""

    _kind = "random"
    _name = "Random"
    _max_d = 1 << 20

    def __init__(
        self,
        d: int,
        *,
        optimization: str | None = None,
        rng: object = _NOT_GIVEN,
        seed: object = _NOT_GIVEN,
    ) -> None:
        self._start(d, "none", 64, seed, rng, optimization)
