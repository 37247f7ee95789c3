"""Shared bits of the tuner tests."""

import importlib

import pytest


def _has_qmc() -> bool:
    try:
        qmc = importlib.import_module("bntune.qmc")
    except ImportError:
        return False
    return all(hasattr(qmc, n) for n in ("Sobol", "Halton", "LatinHypercube", "Random"))


HAS_QMC = _has_qmc()
needs_qmc = pytest.mark.skipif(
    not HAS_QMC, reason="bntune.qmc (the samplers issue) is not built into this branch yet"
)
