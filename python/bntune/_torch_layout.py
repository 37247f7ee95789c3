"""How bntune.torch hands tensors to the kernels and takes their results back: which calls
the kernels take, the memory layouts they read (contiguous, or channels-last as an (N·S, C)
matrix) and the tensors made from their outputs. Shared by the eager path (``bntune.torch``)
and the compiled one (``bntune._torch_compile``)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

DTYPES = (torch.float32, torch.float64)


def runs_here(x: Tensor, *others: Tensor | None) -> bool:
    """Whether bntune's kernels take this call: CPU float32/float64 tensors of one dtype."""
    if not x.is_cpu or x.dtype not in DTYPES or x.dim() < 2 or x.numel() == 0:
        return False
    return all(t is None or (t.is_cpu and t.dtype == x.dtype) for t in others)


def as_rows(x: Tensor) -> tuple[Tensor, bool]:
    """x as a tensor whose memory the kernels can read, and whether it is channels-last.

    A contiguous (N, C, *S) tensor is read as it is. A channels-last one (C innermost in memory)
    is read without a copy as the (N·S, C) matrix it is in memory, whose per-column statistics
    are the per-channel ones. Any other layout is copied once to contiguous.
    """
    if x.is_contiguous():
        return x, False
    if x.dim() > 2:
        last = x.movedim(1, -1)
        if last.is_contiguous():
            return last.reshape(-1, x.shape[1]), True
    return x.contiguous(), False


def like_rows(t: Tensor, channels_last: bool) -> Tensor:
    """`t` (x's shape) laid out as :func:`as_rows` laid out x, copying only if it differs."""
    if channels_last:
        return t.movedim(1, -1).contiguous().reshape(-1, t.shape[1])
    return t.contiguous()


def from_rows(y: np.ndarray, shape: torch.Size, channels_last: bool) -> Tensor:
    """The kernel's output as a tensor of x's shape (and x's memory format).

    A channels-last output is permuted by numpy, not torch: a tensor made by torch's view ops
    would be a view, and autograd forbids in-place changes (``nn.ReLU(inplace=True)``) to a
    view made inside a custom Function.
    """
    if channels_last:
        y = np.moveaxis(y.reshape(shape[0], *shape[2:], shape[1]), -1, 1)
    return torch.from_numpy(y)


def refused_by_torch(running_mean: Tensor | None, running_var: Tensor | None, eps: float) -> bool:
    """Whether these arguments are ones torch's ``batch_norm`` refuses (or that the kernels
    cannot update in place): they go to torch, for its own error (or its answer)."""
    if (running_mean is None) != (running_var is None):
        return True  # torch raises: both running statistics or neither
    if running_mean is not None and running_var is not None:
        if running_mean.requires_grad or running_var.requires_grad:
            return True  # torch raises: running statistics must not require grad
        if not (running_mean.is_contiguous() and running_var.is_contiguous()):
            return True
    return not eps > 0  # torch raises for eps <= 0 (NaN too)
