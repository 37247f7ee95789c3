"""bntune: fast, exact batch normalization and hyperparameter tuning done right.

The numerics live in a Rust extension (``bntune._core``); this package is the thin Python face
over it. See ``bntune.functional`` for the batch-norm kernels and ``bntune.qmc`` for samplers.
"""

from bntune import qmc, tune
from bntune._core import (
    BntuneError,
    DtypeError,
    ShapeError,
    __version__,
    get_num_threads,
    set_num_threads,
    simd_backend,
)

__all__ = [
    "BntuneError",
    "DtypeError",
    "ShapeError",
    "__version__",
    "get_num_threads",
    "qmc",
    "set_num_threads",
    "simd_backend",
    "tune",
]
