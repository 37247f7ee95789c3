"""bntune's batch norm as torch custom ops, for code compiled by ``torch.compile`` after
``bntune.torch.use_kernels_when_compiled()``: the compiled model keeps bntune's kernels (and
their exact arithmetic) instead of torch's op. ``torch.export`` keeps torch's op.

Eager calls do not come here: ``bntune.torch``'s ``autograd.Function`` costs less a call. Under
TorchDynamo the kernels cannot be reached through numpy (the tracer sees fake tensors), so the
layers call ``torch.ops.bntune.batch_norm``, whose fake implementation gives the tracer the
outputs' shapes and whose real one runs the kernels; its backward is
``bntune::batch_norm_backward`` (``torch.library.register_autograd``). Needs
``torch.library.custom_op`` (torch 2.4 and later).

Measured (2026-12-07, Zen 3, 2 threads): a compiled conv-net training step took 2x the time of
torch's compiled step, most of it in the compiled graph around the op (the op itself about
9 ms of 234): torch's compiler fuses its own batch norm with the ReLU and pooling after it, and
with this op in the graph it stores the ReLU's backward mask as bools, a byte at a time. So it
is not the default.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as torch_f

from bntune import _core
from bntune._torch_layout import as_rows, from_rows, like_rows, refused_by_torch, runs_here

AVAILABLE = hasattr(torch.library, "custom_op") and hasattr(torch.library, "register_autograd")


def _rows(x: Tensor) -> tuple[np.ndarray, bool]:
    """x as the numpy array the kernels read, and whether it is channels-last."""
    rows, channels_last = as_rows(x.detach())
    return rows.numpy(), channels_last


def _shaped(y: np.ndarray, x: Tensor, channels_last: bool) -> Tensor:
    """The kernels' output laid out as ``torch.empty_like(x)`` would be (the compiled graph
    takes the fake implementation's strides for the real ones): as x unless x was copied to
    contiguous, whose own dense strides may differ."""
    out = from_rows(y, x.shape, channels_last)
    if x.is_contiguous() or channels_last:
        return out
    return torch.empty_like(x).copy_(out)


def _view(t: Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().numpy()


if AVAILABLE:

    @torch.library.custom_op("bntune::batch_norm", mutates_args=(), device_types="cpu")
    def batch_norm_op(
        x: Tensor,
        weight: Tensor | None,
        bias: Tensor | None,
        running_mean: Tensor | None,
        running_var: Tensor | None,
        training: bool,
        momentum: float,
        eps: float,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """y; the batch's (or running) mean and invstd in float64; and in training the running
        statistics updated (new tensors: an op with an autograd formula may not change its
        inputs, so the caller copies them back), else empty tensors."""
        rows, channels_last = _rows(x)
        update = training and running_mean is not None and running_var is not None
        new_mean = running_mean.detach().clone() if update else None
        new_var = running_var.detach().clone() if update else None
        stats = (new_mean, new_var) if update else (running_mean, running_var)
        params = _view(weight), _view(bias), *map(_view, stats)
        y, mean, invstd = _core.batch_norm_forward(rows, *params, training, momentum, eps, None)
        return (
            _shaped(y, x, channels_last),
            torch.from_numpy(mean),
            torch.from_numpy(invstd),
            x.new_empty(0) if new_mean is None else new_mean,
            x.new_empty(0) if new_var is None else new_var,
        )

    @batch_norm_op.register_fake
    def _(x, weight, bias, running_mean, running_var, training, momentum, eps):  # noqa: ANN001, ANN202
        c = x.shape[1]
        stat = x.new_empty(c, dtype=torch.float64)
        update = training and running_mean is not None and running_var is not None
        new = (torch.empty_like(running_mean), torch.empty_like(running_var)) if update else (
            x.new_empty(0), x.new_empty(0))  # fmt: skip
        return torch.empty_like(x), stat, torch.empty_like(stat), *new

    @torch.library.custom_op("bntune::batch_norm_backward", mutates_args=(), device_types="cpu")
    def batch_norm_backward_op(
        dy: Tensor, x: Tensor, weight: Tensor | None, mean: Tensor, invstd: Tensor, training: bool
    ) -> tuple[Tensor, Tensor, Tensor]:
        """dx, dweight and dbias (the last two in x's dtype, of length C)."""
        rows, channels_last = _rows(x)
        dy_rows = like_rows(dy.detach(), channels_last).numpy()  # laid out as x was read
        grads = _core.batch_norm_backward(
            dy_rows, rows, _view(weight), mean.numpy(), invstd.numpy(), training, None
        )
        dx, dweight, dbias = grads
        return _shaped(dx, x, channels_last), torch.from_numpy(dweight), torch.from_numpy(dbias)

    @batch_norm_backward_op.register_fake
    def _(dy, x, weight, mean, invstd, training):  # noqa: ANN001, ANN202
        c = x.shape[1]
        return torch.empty_like(x), x.new_empty(c), x.new_empty(c)

    def _setup(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
        x, weight, bias, _, _, training, _, _ = inputs
        _, mean, invstd, _, _ = output
        ctx.save_for_backward(x, weight, mean, invstd)
        ctx.training, ctx.has_bias = training, bias is not None

    def _backward(ctx: Any, dy: Tensor, *_stat_grads: Any) -> tuple[Any, ...]:
        x, weight, mean, invstd = ctx.saved_tensors
        dx, dweight, dbias = torch.ops.bntune.batch_norm_backward(
            dy, x, weight, mean, invstd, ctx.training
        )
        dweight = dweight if weight is not None else None
        dbias = dbias if ctx.has_bias else None
        return dx, dweight, dbias, None, None, None, None, None

    torch.library.register_autograd("bntune::batch_norm", _backward, setup_context=_setup)


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    training: bool,
    momentum: float,
    eps: float,
) -> Tensor:
    """``torch.nn.functional.batch_norm`` for a compiled graph: bntune's op where it applies
    (float32 or float64 CPU tensors of one dtype), else torch's."""
    if (
        not AVAILABLE
        or not runs_here(input, running_mean, running_var, weight, bias)
        or refused_by_torch(running_mean, running_var, eps)
        or (not training and running_mean is None)  # torch's error: nothing to normalise with
    ):
        return torch_f.batch_norm(
            input, running_mean, running_var, weight, bias, training, momentum, eps
        )
    y, _, _, new_mean, new_var = torch.ops.bntune.batch_norm(
        input, weight, bias, running_mean, running_var, training, momentum, eps
    )
    if training and running_mean is not None and running_var is not None:
        with torch.no_grad():
            running_mean.copy_(new_mean)
            running_var.copy_(new_var)
    return y


def layer_forward(bn: nn.modules.batchnorm._BatchNorm, input: Tensor) -> Tensor:
    """``torch.nn.modules.batchnorm._BatchNorm.forward``, calling :func:`batch_norm`; with
    ``momentum=None`` in training, torch's own (the cumulative average's factor comes from a
    tensor, a value the traced graph cannot pass to an op as a float)."""
    cumulative = bn.momentum is None and bn.training and bn.track_running_stats
    if not AVAILABLE or cumulative:
        return nn.modules.batchnorm._BatchNorm.forward(bn, input)
    bn._check_input_dim(input)
    factor = 0.0 if bn.momentum is None else bn.momentum  # (None: eval, or no running stats)
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
    use_batch = bn.training or (bn.running_mean is None and bn.running_var is None)
    keep = not bn.training or bn.track_running_stats
    return batch_norm(
        input,
        bn.running_mean if keep else None,
        bn.running_var if keep else None,
        bn.weight,
        bn.bias,
        use_batch,
        factor,
        bn.eps,
    )
