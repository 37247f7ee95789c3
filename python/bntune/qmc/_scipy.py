"""The parts of ``scipy.stats.qmc`` bntune re-exports rather than reimplements.

``PoissonDisk``, ``MultivariateNormalQMC``, ``MultinomialQMC`` and ``geometric_discrepancy`` are
SciPy's own objects when SciPy is installed (it is not a dependency of bntune). Without SciPy
the names still exist, and using them raises an ``ImportError`` that says so.
"""

from __future__ import annotations

from typing import Any, NoReturn

from bntune.qmc._base import register_with_scipy

NAMES = ("MultinomialQMC", "MultivariateNormalQMC", "PoissonDisk", "geometric_discrepancy")


def _missing(name: str, cause: ImportError) -> Any:
    message = (
        f"bntune.qmc.{name} is scipy.stats.qmc.{name}, re-exported: it needs SciPy, which is "
        f"not installed (pip install scipy): {cause}"
    )

    def unavailable(*args: object, **kwargs: object) -> NoReturn:
        raise ImportError(message)

    unavailable.__name__ = unavailable.__qualname__ = name
    unavailable.__doc__ = message
    return unavailable


def load(name: str) -> Any:
    """SciPy's object called ``name``, or a stand-in that raises ImportError when called."""
    try:
        from scipy.stats import qmc as scipy_qmc
    except ImportError as exc:
        return _missing(name, exc)
    register_with_scipy()
    return getattr(scipy_qmc, name)
