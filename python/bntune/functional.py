"""Batch normalization as plain functions on numpy arrays (float32 or float64).

The semantics are those of ``torch.nn.functional.batch_norm``, so code can switch between the
two. For ``x`` of shape (N, C) or (N, C, d1, ..., dk), statistics are per channel C over the
M = N·d1·…·dk values of that channel:

    mean   = (1/M) Σ x
    var    = (1/M) Σ (x - mean)²              (biased; two-pass, accumulated in float64)
    invstd = 1 / √(var + eps)
    y      = (x - mean)·gamma·invstd + beta    (x - mean formed in float64)

The kernels run in Rust (SIMD, on ``bntune.get_num_threads()`` threads) and return bitwise the
same result for any number of threads.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bntune import _core

__all__ = ["batch_norm_backward", "batch_norm_forward"]

FloatArray = npt.NDArray[np.floating]


def batch_norm_forward(
    x: FloatArray,
    gamma: FloatArray | None = None,
    beta: FloatArray | None = None,
    running_mean: FloatArray | None = None,
    running_var: FloatArray | None = None,
    *,
    training: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
    out: FloatArray | None = None,
) -> tuple[FloatArray, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Batch-norm forward pass: returns ``(y, mean, invstd)``.

    Args:
        x: float32 or float64 array of shape (N, C) or (N, C, d1, ..., dk). Any memory layout
            (a non-contiguous or Fortran-ordered ``x`` is copied once).
        gamma, beta: per-channel scale and shift of shape (C,) and x's dtype; ``None`` means
            gamma = 1 and beta = 0.
        running_mean, running_var: running statistics of shape (C,), x's dtype, contiguous
            and writable. In training they are updated in place (each may be ``None``):
            ``running_mean = (1 - momentum)·running_mean + momentum·mean`` and
            ``running_var = (1 - momentum)·running_var + momentum·var·M/(M - 1)``
            (the unbiased variance). Required when ``training=False``.
        training: ``True`` normalises with the batch statistics (needs M > 1);
            ``False`` with the running statistics:
            ``y = (x - running_mean)/√(running_var + eps)·gamma + beta``.
        momentum: weight of the new batch in the running statistics (default 0.1).
        eps: added to the variance before the square root (default 1e-5, must be >= 0).
        out: optional preallocated C-contiguous, writable array of x's shape and dtype that
            receives y (and is returned as y).

    Returns:
        ``y`` (x's shape and dtype), and ``mean`` and ``invstd = 1/√(var + eps)`` as float64
        arrays of shape (C,) — the batch statistics in training, the running ones in
        inference — ready for :func:`batch_norm_backward`.

    Raises:
        ValueError: (``bntune.ShapeError`` for shapes) ``x`` with fewer than 2 dimensions, no
            elements or, when training, one value per channel (M == 1); per-channel arrays not
            of shape (C,), ``out`` of the wrong shape or not writable and contiguous, read-only
            or strided running statistics, ``training=False`` without running statistics.
        TypeError: (``bntune.DtypeError``) non-float ``x`` or arrays whose dtype differs from
            x's. Nothing is modified when an exception is raised.
    """
    return _core.batch_norm_forward(
        x, gamma, beta, running_mean, running_var, training, momentum, eps, out
    )


def batch_norm_backward(
    dy: FloatArray,
    x: FloatArray,
    gamma: FloatArray | None,
    mean: npt.NDArray[np.floating],
    invstd: npt.NDArray[np.floating],
    *,
    training: bool = True,
    out: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Batch-norm backward pass: returns ``(dx, dgamma, dbeta)``.

    With ``x̂ = (x - mean)·invstd`` and M values per channel:

        dbeta  = Σ dy
        dgamma = Σ dy·x̂
        dx     = gamma·invstd/M · (M·dy - dbeta - x̂·dgamma)   (training=True)
        dx     = dy·gamma·invstd                              (training=False)

    Args:
        dy: gradient of the loss with respect to y; float32 or float64, x's shape.
        x: the forward input (same dtype and shape as ``dy``).
        gamma: the forward scale of shape (C,) and x's dtype, or ``None`` for 1.
        mean, invstd: the float64 (C,) arrays returned by :func:`batch_norm_forward`.
        training: whether the forward pass used batch statistics (they then depend on x).
        out: optional preallocated C-contiguous, writable array of x's shape and dtype that
            receives dx.

    Returns:
        ``dx`` (x's shape and dtype), ``dgamma`` and ``dbeta`` of shape (C,) in gamma's dtype
        (x's dtype when gamma is ``None``). All sums are accumulated in float64.

    Raises:
        ValueError, TypeError: as :func:`batch_norm_forward`, for the same kinds of bad input.
    """
    return _core.batch_norm_backward(dy, x, gamma, mean, invstd, training, out)
