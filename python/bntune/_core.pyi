"""Type stubs for the Rust extension module ``bntune._core``."""

__version__: str

class BntuneError(Exception):
    """Base class of every error bntune raises itself."""

class ShapeError(BntuneError, ValueError):
    """An array has the wrong number of dimensions or the wrong extent."""

class DtypeError(BntuneError, TypeError):
    """An array has an unsupported or mismatched dtype."""

def simd_backend() -> str:
    """The vector instruction set the kernels use on this CPU, e.g. ``"avx2+fma"`` or
    ``"scalar"``. ``BNTUNE_SIMD=scalar`` in the environment forces the scalar path."""

def set_num_threads(n: int) -> None:
    """Sets the number of threads every bntune kernel runs on; ``n < 1`` raises ValueError."""

def get_num_threads() -> int:
    """The number of threads bntune kernels run on (default: the available cores)."""

# --- batch norm (rust/python/batchnorm.rs) ---

# --- samplers (rust/python/qmc.rs) ---

import numpy as np  # noqa: E402

class QmcEngine:
    """A sampler of points in [0, 1)^d addressed by index; wrapped by ``bntune.qmc``."""

    def __init__(self, kind: str, d: int, scramble: str, bits: int, seed: int | None) -> None:
        """``kind``: "sobol", "halton", "lhs", "random"; ``scramble``: "none", "default",
        "owen"; ``seed=None`` draws one from the OS."""
    @property
    def kind(self) -> str: ...
    @property
    def d(self) -> int: ...
    @property
    def bits(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def scramble(self) -> str: ...
    @property
    def index(self) -> int:
        """The index of the next point ``random`` returns."""
    @property
    def max_points(self) -> int: ...
    def random(self, n: int, float32: bool = False) -> np.ndarray:
        """The next ``n`` points, advancing the index."""
    def random_at(self, index: int, n: int, float32: bool = False) -> np.ndarray:
        """Points ``index .. index + n`` without moving the engine."""
    def fast_forward(self, n: int) -> None: ...
    def seek(self, index: int) -> None: ...

def qmc_discrepancy(sample: np.ndarray, method: str) -> float:
    """Discrepancy ("CD", "WD", "MD", "L2-star") of a C-contiguous float64 (n, d) sample."""
