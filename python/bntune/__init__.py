"""Batch normalization that is fast and exact, and hyperparameter tuning done right.

A Python library with a Rust core (``bntune._core``: SIMD, multithreaded batch-norm kernels and
quasi-random samplers). Its parts:

- ``functional``: batch-norm forward and backward on numpy arrays, (N, C) or (N, C, H, W).
- ``qmc``: Sobol, Halton, Latin hypercube and plain random points, shaped like
  ``scipy.stats.qmc``.
- ``nn``: layers (Dense, BatchNorm, activations), losses, ``nn.mlp``, ``nn.fit``, save/load.
- ``optim``: SGD, Momentum, Nesterov, RMSprop, Adam and learning-rate schedules.
- ``datasets``: small real datasets split into train, dev and test (no download).
- ``tune``: search spaces on each hyperparameter's own scale (log, 1 - beta, ...), studies
  stored in SQLite, random/grid/quasi-random search, coarse to fine, caviar (many models in
  parallel), panda (one model babysat), population based training, importance.
- ``mlp``: the example batch-norm MLP that ``bntune demo`` tunes.
- ``plots``: figures of a study (needs matplotlib, imported on its own).
- the ``bntune`` command (``bntune.cli``): ``demo``, ``run``, ``show``, ``plot``, ``babysit``.

Runtime: ``__version__``, ``simd_backend()``, ``set_num_threads(n)``, ``get_num_threads()``.
Errors bntune raises itself derive from ``BntuneError``: ``ShapeError`` (also a ValueError),
``DtypeError`` (also a TypeError), ``TrainingDiverged`` (also an ArithmeticError).

Start with ``bntune demo`` in a shell, or ``help(bntune.tune)``.
"""

from bntune import datasets, functional, nn, optim, qmc, tune
from bntune._core import BntuneError as BntuneError
from bntune._core import DtypeError as DtypeError
from bntune._core import ShapeError as ShapeError
from bntune._core import __version__, get_num_threads, set_num_threads, simd_backend
from bntune.errors import TrainingDiverged as TrainingDiverged

# The exception classes are public (``bntune.ShapeError``; ``X as X`` marks them re-exported for
# type checkers) but stay out of ``__all__``: help() lists each name of ``__all__`` with all it
# inherits, some forty lines of BaseException's methods per exception. The docstring names them.
__all__ = [
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
