"""Quasi-random samplers of the unit cube: a drop-in for ``scipy.stats.qmc``.

The namespace has every public name of ``scipy.stats.qmc`` (SciPy 1.17), with scipy's
arguments, attributes and error messages, and SciPy's own test file passes against it (see
``tests/test_qmc_scipy_suite.py`` for the few tests that cannot, and why).

bntune's engines yield points in ``[0, 1)^d`` (float64 by default, float32 on request) and are
described completely by ``(kind, d, seed, scramble, bits, index)`` and their ``optimization``:
points are computed from their index in Rust, so an engine can be pickled, rebuilt in another
process at the same index, fast-forwarded in O(d * bits) and read at any index without changing
its state (``random_at``, which the tuner uses to give trial ``k`` point ``k``).

* :class:`Sobol` -- Joe & Kuo's ``new-joe-kuo-6.21201`` direction numbers (d <= 21201),
  Gray-code order; unscrambled output is bit-identical to
  ``scipy.stats.qmc.Sobol(d, scramble=False, bits=bits)``. ``scramble=True`` is a linear matrix
  scramble plus digital shift (as scipy), ``scramble="owen"`` nested uniform (Owen) scrambling.
* :class:`Halton` -- radical inverses in the first ``d`` primes (d <= 1000); ``scramble=True``
  permutes every digit position at random (as scipy). Unscrambled output equals scipy's.
* :class:`LatinHypercube` -- one point in each ``1/n`` stratum of every coordinate per draw,
  jittered (``scramble=True``) or centred; ``strength=2`` for orthogonal-array designs.
* :class:`Random` -- Xoshiro256++ (``rand_xoshiro``) points (bntune only).
* ``optimization="random-cd"`` or ``"lloyd"`` on every engine (see ``_optimize.py``).
* :class:`QMCEngine` -- the base class; subclass it as scipy's (``_random(n, *, workers=1)``).
* :func:`discrepancy` (CD, WD, MD, L2-star, ``iterative=``), :func:`update_discrepancy`,
  :func:`scale` -- with scipy's definitions.
* ``PoissonDisk``, ``MultivariateNormalQMC``, ``MultinomialQMC``, ``geometric_discrepancy`` --
  SciPy's own, re-exported when SciPy is installed (they raise ImportError without it); scipy's
  classes accept bntune's engines as ``engine=``.

Randomness: ``seed=`` and ``rng=`` take ``None`` (a seed from the operating system; read it
back from ``engine.seed``), a non-negative integer, a numpy ``Generator``, ``SeedSequence``,
``BitGenerator`` or ``RandomState``. ``seed=k`` for ``k < 2**64`` is bntune's historical
stream: ``k`` expanded in Rust with SplitMix64, the same points on every machine and for any
thread count. Other values are turned into one 64-bit seed as scipy consumes them (a
``Generator`` is spawned from, so engines made one after another from it differ; ``rng=k`` is
``default_rng(k)``); the full mapping is in ``_seeds.py``. Scrambled points, Latin hypercubes and
optimized designs are bntune's own streams and differ from scipy's for the same seed (scipy
draws from numpy's generators); unscrambled Sobol' and Halton points are scipy's exactly.

``workers=`` is accepted and checked wherever scipy takes it; bntune's kernels run on its own
thread pool (:func:`bntune.set_num_threads`).

float32 output is the exact value rounded toward zero, never 1.0; float64 output is below 1.0
as well (scipy's Sobol' with ``bits > 53`` can round its largest points up to 1.0; here they
become the largest double below 1).
"""

from __future__ import annotations

from typing import Any

from bntune.qmc import _scipy
from bntune.qmc._base import QMCEngine, register_with_scipy
from bntune.qmc._discrepancy import discrepancy, update_discrepancy
from bntune.qmc._engines import Halton, LatinHypercube, Random, Sobol
from bntune.qmc._scale import scale

__all__ = [
    "Halton",
    "LatinHypercube",
    "MultinomialQMC",
    "MultivariateNormalQMC",
    "PoissonDisk",
    "QMCEngine",
    "Random",
    "Sobol",
    "discrepancy",
    "geometric_discrepancy",
    "scale",
    "update_discrepancy",
]

register_with_scipy()


def __getattr__(name: str) -> Any:
    if name in _scipy.NAMES:
        value = _scipy.load(name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
