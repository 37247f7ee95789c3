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

def simd_backend() -> str:
    """The vector instruction set the kernels use on this CPU, e.g. ``"avx2+fma"`` or
    ``"scalar"``. ``BNTUNE_SIMD=scalar`` in the environment forces the scalar path."""

def set_num_threads(n: int) -> None:
    """Sets the number of threads every bntune kernel runs on; ``n < 1`` raises ValueError."""

def get_num_threads() -> int:
    """The number of threads bntune kernels run on (default: the available cores)."""

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
