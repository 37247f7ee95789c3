"""Shared bits of the nn tests: whether the batch-norm kernels are built into this install."""

import pytest

try:
    from bntune import functional as _functional

    HAVE_BN_KERNELS = hasattr(_functional, "batch_norm_forward")
except ImportError:
    HAVE_BN_KERNELS = False

needs_bn = pytest.mark.skipif(
    not HAVE_BN_KERNELS, reason="bntune.functional (the batch-norm kernels) is not built"
)
