"""bntune: fast, exact batch normalization and hyperparameter tuning done right.

The numerics live in a Rust extension (``bntune._core``); this package is the thin Python face
over it: ``functional`` (batch-norm kernels), ``qmc`` (samplers), ``nn`` and ``optim`` (models and
optimizers), ``datasets``, and ``tune`` (search spaces, studies, coarse-to-fine).
"""

from bntune import datasets, functional, nn, optim, qmc, tune
from bntune._core import (
    BntuneError,
    DtypeError,
    ShapeError,
    __version__,
    get_num_threads,
    set_num_threads,
    simd_backend,
)
from bntune.errors import TrainingDiverged

__all__ = [
    "BntuneError",
    "DtypeError",
    "ShapeError",
    "TrainingDiverged",
    "__version__",
    "datasets",
    "functional",
    "get_num_threads",
    "nn",
    "optim",
    "qmc",
    "set_num_threads",
    "simd_backend",
    "tune",
]
