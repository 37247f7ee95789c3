"""Type stubs for the Rust extension module ``bntune._core``."""

import numpy as np
import numpy.typing as npt

__version__: str

class BntuneError(Exception):
    """Base class of every error bntune raises itself."""

class ShapeError(BntuneError, ValueError):
    """An array has the wrong number of dimensions or the wrong extent."""

class DtypeError(BntuneError, TypeError):
    """An array has an unsupported or mismatched dtype."""

SEQUENTIAL_BELOW: int
"""Batch-norm inputs with fewer elements run on the calling thread, whatever the thread count."""

def simd_backend() -> str:
    """The vector instruction set the kernels use on this CPU, e.g. ``"avx2+fma"`` or
    ``"scalar"``. ``BNTUNE_SIMD=scalar`` in the environment forces the scalar path."""

def set_num_threads(n: int) -> None:
    """Sets the number of threads every bntune kernel runs on; ``n < 1`` raises ValueError."""

def get_num_threads() -> int:
    """The number of threads bntune kernels run on (default: the available cores)."""

def join_openmp(library: str | None) -> None:
    """Runs the kernels' parallel work on the team of the already loaded OpenMP runtime
    ``library`` (bntune.torch joins torch's); ``None`` goes back to bntune's own pool.
    ValueError if the library is not loaded or is not an OpenMP runtime."""

def openmp_joined() -> bool:
    """Whether the kernels' parallel work runs on an OpenMP team (see ``join_openmp``)."""

# --- batch norm (rust/python/batchnorm.rs) ---

def batch_norm_forward(
    x: npt.NDArray[np.floating],
    gamma: npt.NDArray[np.floating] | None,
    beta: npt.NDArray[np.floating] | None,
    running_mean: npt.NDArray[np.floating] | None,
    running_var: npt.NDArray[np.floating] | None,
    training: bool,
    momentum: float,
    eps: float,
    out: npt.NDArray[np.floating] | None,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Raw batch-norm forward; see ``bntune.functional.batch_norm_forward``."""

def batch_norm_backward(
    dy: npt.NDArray[np.floating],
    x: npt.NDArray[np.floating],
    gamma: npt.NDArray[np.floating] | None,
    mean: npt.NDArray[np.floating],
    invstd: npt.NDArray[np.floating],
    training: bool,
    out: npt.NDArray[np.floating] | None,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.floating], npt.NDArray[np.floating]]:
    """Raw batch-norm backward; see ``bntune.functional.batch_norm_backward``."""

# --- samplers (rust/python/qmc.rs) ---

class QmcEngine:
    """A sampler of points in [0, 1)^d addressed by index; wrapped by ``bntune.qmc``."""

    def __init__(self, kind: str, d: int, scramble: str, bits: int, seed: int | None) -> None:
        """``kind``: "sobol", "halton", "lhs", "oa-lhs" (strength-2 Latin hypercubes),
        "random"; ``scramble``: "none", "default", "owen"; ``seed=None`` draws one from the
        OS."""
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

def qmc_discrepancy(sample: np.ndarray, method: str, more: int = 0) -> float:
    """Discrepancy ("CD", "WD", "MD", "L2-star") of a C-contiguous float64 (n, d) sample, as
    the first n points of n + ``more`` (scipy's ``iterative=True`` is ``more=1``)."""

def qmc_random_cd(sample: np.ndarray, seed: int, n_iters: int, n_nochange: int) -> float:
    """Lowers the centred discrepancy of a C-contiguous float64 (n, d) sample in place by
    swaps within columns; returns the final discrepancy."""
