"""``IndexedEngine``: the base of bntune's own engines, whose points come from Rust by index.

An engine is ``(kind, d, seed, scramble, bits, index)`` plus its ``optimization``: it pickles,
rebuilds at its index in another process, fast-forwards without drawing and reads any index
without moving (:meth:`IndexedEngine.random_at`). ``d = 0`` engines (scipy allows them) are
served here without the Rust core.
"""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np
import numpy.typing as npt

from bntune import _core
from bntune.qmc._base import QMCEngine, register_with_scipy
from bntune.qmc._checks import as_count, as_dim, check_workers, wants_float32
from bntune.qmc._optimize import check_optimization, optimize
from bntune.qmc._seeds import pick, rust_seed


class _NoCoordinates:
    """The core engine's interface for d = 0: every point is empty."""

    d = 0

    def __init__(self, kind: str, scramble: str, bits: int, seed: int | None) -> None:
        self.kind, self.scramble, self.bits = kind, scramble, bits
        self.seed = secrets.randbits(64) if seed is None else seed
        self.index = 0
        self.max_points = 2**bits if kind == "sobol" else 2**64

    def _check(self, start: int, n: int) -> None:
        if start + n > self.max_points:
            raise ValueError(
                f"at most {self.max_points} points can be drawn from this engine; {start} were "
                f"drawn or skipped before, so n={n} would need {start + n}"
            )

    def random_at(self, index: int, n: int, float32: bool = False) -> np.ndarray:
        self._check(index, n)
        return np.empty((n, 0), dtype=np.float32 if float32 else np.float64)

    def random(self, n: int, float32: bool = False) -> np.ndarray:
        out = self.random_at(self.index, n, float32)
        self.index += n
        return out

    def fast_forward(self, n: int) -> None:
        self._check(self.index, n)
        self.index += n

    def seek(self, index: int) -> None:
        self._check(index, 0)
        self.index = index


def _core_engine(kind: str, d: int, scramble: str, bits: int, seed: int | None) -> Any:
    if d == 0:
        return _NoCoordinates(kind, scramble, bits, seed)
    return _core.QmcEngine(kind, d, scramble, bits, seed)


class IndexedEngine(QMCEngine):
    """An engine whose points are computed in Rust from their index (see the module docs)."""

    _kind: str = ""
    _name: str = ""
    _max_d: int | None = None
    _engine: Any

    def _start(
        self,
        d: object,
        scramble: str,
        bits: int,
        seed: object,
        rng: object,
        optimization: object,
        kind: str | None = None,
    ) -> None:
        register_with_scipy()
        value, name = pick(seed, rng)
        dim = as_dim(d, self._max_d, self._name)
        self._optimization = check_optimization(optimization)
        self._engine = _core_engine(kind or self._kind, dim, scramble, bits, rust_seed(value, name))
        self._rng: np.random.Generator | None = None

    # scipy's attributes, read from the core engine (assignment is not supported).
    @property
    def d(self) -> int:  # type: ignore[override]
        """The number of coordinates of each point."""
        return int(self._engine.d)

    @property
    def num_generated(self) -> int:  # type: ignore[override]
        """The index of the next point :meth:`random` returns (drawn plus skipped so far)."""
        return int(self._engine.index)

    @property
    def seed(self) -> int:
        """The 64-bit seed of the engine's Rust streams (drawn from the OS for ``None``)."""
        return int(self._engine.seed)

    @property
    def scramble(self) -> bool | str:
        """``True`` (the engine's default randomisation), ``False`` or ``"owen"``."""
        mode = self._engine.scramble
        return {"none": False, "default": True}.get(mode, mode)  # type: ignore[no-any-return]

    @property
    def optimization(self) -> str | None:
        """``"random-cd"``, ``"lloyd"`` or ``None``."""
        return self._optimization

    @property
    def rng(self) -> np.random.Generator:  # type: ignore[override]
        """A numpy ``Generator`` seeded from :attr:`seed`, for code that expects scipy's
        attribute; the engine's own points never draw from it."""
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        return self._rng

    def _draw(self, start: int, count: int, float32: bool, advance: bool) -> np.ndarray:
        engine = self._engine
        if advance:
            sample = engine.random(count, float32)
        else:
            sample = engine.random_at(start, count, float32)
        if self._optimization is not None:
            key = np.random.SeedSequence([self.seed, start, 1 + (self._optimization == "lloyd")])
            seed = int(key.generate_state(1, np.uint64)[0])
            sample = optimize(sample, self._optimization, seed)
        return sample  # type: ignore[no-any-return]

    def random(
        self, n: int = 1, *, workers: int = 1, dtype: npt.DTypeLike = np.float64
    ) -> np.ndarray:
        """The next ``n`` points as an ``(n, d)`` array of ``dtype`` (float64 or float32).

        ``workers`` is checked as scipy checks it; bntune's thread pool does the work.
        """
        if workers != 1:
            check_workers(workers)
        if self._optimization is None:  # the plain path, kept short: it runs on every draw
            return self._engine.random(as_count(n), wants_float32(dtype))  # type: ignore[no-any-return]
        return self._draw(self._engine.index, as_count(n), wants_float32(dtype), True)

    def random_at(self, index: int, n: int = 1, *, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        """Points ``index .. index + n - 1`` as an ``(n, d)`` array, leaving the engine's own
        position alone and never warning. For :class:`LatinHypercube`, a fresh design of ``n``
        points keyed by ``index``. This is how the tuner gives trial ``k`` the point at ``k``."""
        start = as_count(index, "index")
        return self._draw(start, as_count(n), wants_float32(dtype), False)

    def fast_forward(self, n: int) -> IndexedEngine:
        """Skips ``n`` points in O(d * bits) (nothing is generated); returns the engine."""
        self._engine.fast_forward(as_count(n))
        return self

    def reset(self) -> IndexedEngine:
        """Goes back to the first point; returns the engine."""
        self._engine.seek(0)
        self._rng = None
        return self

    def _state(self) -> dict[str, Any]:
        engine = self._engine
        return {
            "kind": engine.kind,
            "d": engine.d,
            "seed": engine.seed,
            "scramble": engine.scramble,
            "bits": engine.bits,
            "index": engine.index,
            "optimization": self._optimization,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self._state()))

    def _restored(self) -> None:
        """Sets an unpickled engine's Python-side state (engines that have some override it)."""

    def __repr__(self) -> str:
        state = self._state()
        extra = f", optimization={self._optimization!r}" if self._optimization else ""
        return (
            f"{type(self).__name__}(d={state['d']}, scramble={state['scramble']!r}, "
            f"seed={state['seed']}, index={state['index']}{extra})"
        )


def _restore(cls: type[IndexedEngine], state: dict[str, Any]) -> IndexedEngine:
    """Rebuilds a pickled engine at its index."""
    engine = cls.__new__(cls)
    engine._engine = _core_engine(
        state["kind"], state["d"], state["scramble"], state["bits"], state["seed"]
    )
    engine._engine.seek(state["index"])
    engine._optimization = state.get("optimization")
    engine._rng = None
    engine._restored()
    return engine
