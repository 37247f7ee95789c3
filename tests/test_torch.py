"""bntune.torch against torch.nn.BatchNorm*d run in float64 and against float64 numpy formulas.

torch is optional: without it these tests skip, unless BNTUNE_REQUIRE_TORCH=1 (set by CI), under
which a missing torch is a failure.
"""

import copy
import inspect
import io
import os
import re
import subprocess
import sys
import warnings

import pytest

if os.environ.get("BNTUNE_REQUIRE_TORCH") == "1":
    import torch
else:
    torch = pytest.importorskip("torch")

from torch import nn
from torch.nn import functional as torch_f

import bntune
import bntune.torch as bt

TORCH_LAYERS = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
BNTUNE_LAYERS = {1: bt.BatchNorm1d, 2: bt.BatchNorm2d, 3: bt.BatchNorm3d}
# (layer dimension, input shape)
SHAPES = [
    (1, (2, 3)),
    (1, (16, 5)),
    (1, (300, 37)),
    (1, (4, 3, 7)),
    (1, (2, 8, 33)),
    (2, (2, 1, 3, 3)),
    (2, (8, 16, 8, 8)),
    (2, (3, 7, 5, 11)),
    (2, (1, 4, 2, 2)),
    (3, (2, 3, 4, 5, 6)),
    (3, (1, 2, 3, 3, 2)),
]
# bntune's float32 results against torch's float64 ones, relative to the largest value
TOL = {torch.float32: 3e-6, torch.float64: 1e-11}


def rel_err(got, want):
    got, want = got.detach().double(), want.detach().double()
    return ((got - want).abs().max() / want.abs().max().clamp(min=1.0)).item()


def make_pair(dim, c, dtype, **options):
    """A torch float64 layer (the reference) and a bntune layer with the same state."""
    ref = TORCH_LAYERS[dim](c, **options).double()
    if ref.affine:
        with torch.no_grad():
            ref.weight.uniform_(0.5, 1.5)
            ref.bias.uniform_(-0.5, 0.5)
    ours = BNTUNE_LAYERS[dim](c, **options).to(dtype)
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def step(layer, x, g):
    """Forward and backward once; returns y and the gradients of x and the parameters."""
    x = x.detach().clone().requires_grad_()
    y = layer(x)
    params = [p for p in (layer.weight, layer.bias) if p is not None]
    grads = torch.autograd.grad(y, [x, *params], g.to(y.dtype))
    return y, grads


@pytest.mark.parametrize(("dim", "shape"), SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"momentum": None},
        {"momentum": 0.3, "eps": 1e-3},
        {"affine": False},
        {"track_running_stats": False},
        {"affine": False, "track_running_stats": False, "momentum": None},
    ],
)
def test_layers_match_torch_over_training_steps_and_eval(dim, shape, dtype, options):
    torch.manual_seed(sum(shape))
    ref, ours = make_pair(dim, shape[1], dtype, **options)
    for it in range(3):
        x = torch.randn(shape, dtype=torch.float64) * (1 + it) + 2 * it
        g = torch.randn(shape, dtype=torch.float64)
        y_ref, grads_ref = step(ref, x, g)
        y, grads = step(ours, x.to(dtype), g)
        assert y.dtype == dtype
        assert y.shape == x.shape
        assert rel_err(y, y_ref) < TOL[dtype]
        for got, want in zip(grads, grads_ref, strict=True):
            assert rel_err(got, want) < 10 * TOL[dtype]
        if ref.track_running_stats:
            assert rel_err(ours.running_mean, ref.running_mean) < TOL[dtype]
            assert rel_err(ours.running_var, ref.running_var) < TOL[dtype]
            assert int(ours.num_batches_tracked) == int(ref.num_batches_tracked) == it + 1
        else:
            assert ours.running_mean is None
            assert ours.running_var is None
    ref.eval()
    ours.eval()
    x = torch.randn(shape, dtype=torch.float64)
    g = torch.randn(shape, dtype=torch.float64)
    y_ref, grads_ref = step(ref, x, g)
    y, grads = step(ours, x.to(dtype), g)
    assert rel_err(y, y_ref) < TOL[dtype]
    for got, want in zip(grads, grads_ref, strict=True):
        assert rel_err(got, want) < 10 * TOL[dtype]
    with torch.no_grad():
        assert rel_err(ours(x.to(dtype)), ref(x)) < TOL[dtype]


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_state_dict_round_trips_both_ways(dim):
    shape = {1: (6, 4, 5), 2: (3, 4, 5, 5), 3: (2, 4, 3, 3, 3)}[dim]
    torch.manual_seed(dim)
    theirs = TORCH_LAYERS[dim](4, momentum=None)
    ours = BNTUNE_LAYERS[dim](4, momentum=None)
    for _ in range(2):
        theirs(torch.randn(shape))
    ours.load_state_dict(theirs.state_dict())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for _ in range(2):
        x = torch.randn(shape)
        theirs(x)
        ours(x)
    back = TORCH_LAYERS[dim](4, momentum=None)
    back.load_state_dict(ours.state_dict())
    for key, value in theirs.state_dict().items():
        assert torch.allclose(back.state_dict()[key], value, rtol=1e-5, atol=1e-6), key
    assert int(back.num_batches_tracked) == 4


def test_layers_are_torch_layers_with_torchs_constructor():
    for dim in (1, 2, 3):
        ours, theirs = BNTUNE_LAYERS[dim], TORCH_LAYERS[dim]
        assert issubclass(ours, theirs)
        assert inspect.signature(ours.__init__) == inspect.signature(theirs.__init__)
    layer = bt.BatchNorm2d(3, eps=1e-3, momentum=0.2, affine=False, track_running_stats=False)
    assert (layer.eps, layer.momentum, layer.affine, layer.track_running_stats) == (
        1e-3,
        0.2,
        False,
        False,
    )
    assert layer.weight is None
    assert layer.running_mean is None


def test_functional_has_torchs_signature_and_results():
    assert list(inspect.signature(bt.batch_norm).parameters) == list(
        inspect.signature(torch_f.batch_norm).parameters
    )
    torch.manual_seed(0)
    x = torch.randn(4, 3, 5, dtype=torch.float64)
    w, b = torch.rand(3, dtype=torch.float64), torch.rand(3, dtype=torch.float64)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    rm2, rv2 = rm.clone(), rv.clone()
    y = bt.batch_norm(x, rm, rv, w, b, True, 0.25, 1e-4)
    want = torch_f.batch_norm(x, rm2, rv2, w, b, True, 0.25, 1e-4)
    assert torch.allclose(y, want, rtol=0, atol=1e-12)
    assert torch.allclose(rm, rm2, rtol=0, atol=1e-14)
    assert torch.allclose(rv, rv2, rtol=0, atol=1e-14)
    y = bt.batch_norm(x, rm, rv, w, b)  # eval by default, as torch
    assert torch.allclose(y, torch_f.batch_norm(x, rm2, rv2, w, b), rtol=0, atol=1e-12)
    # in training the running statistics are optional
    y = bt.batch_norm(x, None, None, training=True)
    assert torch.allclose(y, torch_f.batch_norm(x, None, None, training=True), atol=1e-12)


def test_convert_swaps_every_layer_in_place_and_back():
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Identity(),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 5),
        nn.BatchNorm1d(5, momentum=None),
    )
    twin = copy.deepcopy(model)
    params = list(model.parameters())
    buffers = list(model.buffers())
    assert bt.convert(model) is model
    assert type(model[1]) is bt.BatchNorm2d
    assert type(model[6]) is bt.BatchNorm1d
    assert all(a is b for a, b in zip(model.parameters(), params, strict=True))
    assert all(a is b for a, b in zip(model.buffers(), buffers, strict=True))
    x = torch.randn(8, 3, 8, 8)
    assert torch.allclose(model(x), twin(x), rtol=1e-4, atol=1e-5)
    model.eval()
    twin.eval()
    assert torch.allclose(model(x), twin(x), rtol=1e-4, atol=1e-5)
    bt.convert(model, back=True)
    assert type(model[1]) is nn.BatchNorm2d
    assert type(model[6]) is nn.BatchNorm1d
    single = bt.convert(nn.BatchNorm3d(2))
    assert type(single) is bt.BatchNorm3d
    sync = nn.SyncBatchNorm(3)
    with pytest.warns(UserWarning, match=r"left 1 batch-norm layer\(s\) as torch's: 0 \(Sync"):
        assert type(bt.convert(nn.Sequential(sync))[0]) is nn.SyncBatchNorm


def test_convert_names_the_layers_it_leaves_as_torchs():
    class Mine(nn.BatchNorm1d):
        pass

    model = nn.Sequential(nn.BatchNorm1d(3), nn.Sequential(Mine(3), nn.LazyBatchNorm2d()))
    with pytest.warns(UserWarning, match="bntune.torch.convert left") as caught:
        bt.convert(model)
    (message,) = [str(w.message) for w in caught]
    assert "left 2 batch-norm layer(s)" in message
    assert "1.0 (Mine), 1.1 (LazyBatchNorm2d)" in message
    assert type(model[0]) is bt.BatchNorm1d
    model[1][1](torch.randn(4, 2, 3, 3))  # a lazy layer becomes torch's BatchNorm2d
    with pytest.warns(
        UserWarning, match=r"left 1 batch-norm layer\(s\) as torch's: 1.0 \(Mine\)\."
    ):
        bt.convert(model)
    assert type(model[1][1]) is bt.BatchNorm2d
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bt.convert(model, back=True)  # going back leaves nothing unsaid


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_gradcheck_in_float64(dim, training, affine):
    shape = {1: (5, 3), 2: (3, 2, 3, 2), 3: (2, 2, 2, 3, 2)}[dim]
    torch.manual_seed(dim)
    layer = BNTUNE_LAYERS[dim](shape[1], affine=affine).double()
    if affine:
        with torch.no_grad():
            layer.weight.uniform_(0.5, 1.5)
            layer.bias.uniform_(-0.5, 0.5)
    layer.running_var.fill_(0.7)
    layer.train(training)
    momentum = layer.momentum
    layer.momentum = 0.0  # gradcheck calls the layer many times; keep the statistics put
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))
    layer.momentum = momentum


@pytest.mark.parametrize("training", [True, False])
def test_double_backward_falls_back_to_torchs_formula(training):
    torch.manual_seed(2)
    layer = bt.BatchNorm2d(2, momentum=0.0).double().train(training)
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
    x = torch.randn(3, 2, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(layer, (x,))
    w = layer.weight
    assert torch.autograd.gradgradcheck(
        lambda x, w: bt.batch_norm(x, None, None, w, None, True), (x, w)
    )


@pytest.mark.parametrize("dim", [2, 3])
def test_channels_last_in_channels_last_out(dim):
    shape = (4, 6, 5, 3) if dim == 2 else (2, 6, 3, 4, 3)
    fmt = torch.channels_last if dim == 2 else torch.channels_last_3d
    torch.manual_seed(3)
    ref, ours = make_pair(dim, 6, torch.float32)
    x = torch.randn(shape, dtype=torch.float64)
    g = torch.randn(shape, dtype=torch.float64).contiguous(memory_format=fmt)
    y_ref, grads_ref = step(ref, x, g)
    xc = x.float().contiguous(memory_format=fmt).requires_grad_()
    y = ours(xc)
    assert y.is_contiguous(memory_format=fmt)
    assert rel_err(y, y_ref) < TOL[torch.float32]
    grads = torch.autograd.grad(y, [xc, ours.weight, ours.bias], g.float())
    assert grads[0].is_contiguous(memory_format=fmt)
    for got, want in zip(grads, grads_ref, strict=True):
        assert rel_err(got, want) < 10 * TOL[torch.float32]
    assert rel_err(ours.running_var, ref.running_var) < TOL[torch.float32]


def test_strided_input_and_gradient():
    torch.manual_seed(4)
    ref, ours = make_pair(2, 3, torch.float64)
    x = torch.randn(6, 3, 8, 10, dtype=torch.float64)[::2, :, :, ::3]
    g = torch.randn(3, 3, 8, 4, dtype=torch.float64).transpose(2, 3).contiguous().transpose(2, 3)
    y_ref, grads_ref = step(ref, x, g)
    y, grads = step(ours, x, g)
    assert rel_err(y, y_ref) < TOL[torch.float64]
    for got, want in zip(grads, grads_ref, strict=True):
        assert rel_err(got, want) < TOL[torch.float64]
    # a gradient broadcast from a scalar (stride 0)
    xs = x.clone().requires_grad_()
    ours(xs).sum().backward()
    xr = x.clone().requires_grad_()
    ref(xr).sum().backward()
    assert (xs.grad - xr.grad).abs().max().item() < 1e-12


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_goes_to_torch(dtype):
    torch.manual_seed(5)
    x = torch.randn(4, 3, 5).to(dtype)
    ours = bt.BatchNorm1d(3).to(dtype)
    theirs = nn.BatchNorm1d(3).to(dtype)
    assert torch.equal(ours(x), theirs(x))
    assert torch.equal(ours.running_var, theirs.running_var)


def test_mixed_dtypes_go_to_torch():
    x = torch.randn(4, 3, 5)
    w = torch.ones(3, dtype=torch.float64)
    try:
        want = torch_f.batch_norm(x, None, None, w, None, True)
    except RuntimeError as e:
        with pytest.raises(RuntimeError, match=re.escape(str(e))):
            bt.batch_norm(x, None, None, w, None, True)
    else:
        assert torch.equal(bt.batch_norm(x, None, None, w, None, True), want)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_goes_to_torch():
    x = torch.randn(4, 3, 5, device="cuda")
    ours = bt.BatchNorm1d(3).cuda()
    theirs = nn.BatchNorm1d(3).cuda()
    assert torch.equal(ours(x), theirs(x))


def test_refusals_read_like_torchs():
    with pytest.raises(ValueError, match="channel"):
        bt.BatchNorm1d(3)(torch.randn(1, 3))
    with pytest.raises(ValueError, match="expected 4D input"):
        bt.BatchNorm2d(3)(torch.randn(2, 3, 4))
    empty = torch.randn(0, 3, 4)
    assert bt.BatchNorm1d(3).eval()(empty).shape == empty.shape


@pytest.mark.parametrize("mode", ["grad", "no_grad", "eval"])
@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({}, "weight"),
        ({"affine": False}, "running_mean"),
        ({"track_running_stats": False}, "weight"),
    ],
)
def test_a_layer_of_the_wrong_width_raises_torchs_error_type_with_torchs_names(mode, options, name):
    x = torch.randn(4, 7, 3, requires_grad=mode == "grad")
    layers = [TORCH_LAYERS[1](16, **options), BNTUNE_LAYERS[1](16, **options)]
    raised = []
    for layer in layers:
        layer.train(mode != "eval")
        with torch.set_grad_enabled(mode == "grad"), pytest.raises(RuntimeError) as info:
            layer(x)
        raised.append(info.value)
    ours = raised[1]  # torch's raised[0] is a RuntimeError too
    assert isinstance(ours, bt.ShapeError)
    assert isinstance(ours, bntune.ShapeError)
    assert str(ours) == (
        f"{name} must have shape (7,) to match input's 7 channels, got shape (16,)"
    )


def test_functional_of_the_wrong_width_names_torchs_arguments():
    x = torch.randn(4, 3)
    for weight, bias, name in [
        (torch.ones(5), torch.zeros(3), "weight"),
        (torch.ones(3), torch.zeros(5), "bias"),
    ]:
        with pytest.raises(RuntimeError):
            torch_f.batch_norm(x, None, None, weight, bias, training=True)
        for grad in (False, True):
            with pytest.raises(bt.ShapeError, match=f"^{name} must have shape \\(3,\\)"):
                bt.batch_norm(x.requires_grad_(grad), None, None, weight, bias, training=True)


def small_net(dim=2, c=3):
    """A conv (or linear) layer, a converted batch norm and a ReLU, in eval mode with trained
    running statistics."""
    torch.manual_seed(c)
    first = nn.Conv2d(2, c, 1) if dim == 2 else nn.Linear(2, c)
    net = nn.Sequential(first, TORCH_LAYERS[dim](c), nn.ReLU())
    x = torch.randn((8, 2, 4, 4) if dim == 2 else (8, 2))
    net(x * 3 + 1)  # running statistics away from their initial values
    return bt.convert(net).eval(), x


def test_a_traced_model_follows_its_input():
    # Traced under no_grad, as models are for deployment: the kernels' result, reached
    # through numpy, would be recorded as a constant of the example input.
    net, x = small_net()
    with torch.no_grad():
        traced = torch.jit.trace(net, x)
        other = torch.randn_like(x) * 10
        assert torch.allclose(traced(other), net(other), rtol=1e-5, atol=1e-6)
    assert "aten::batch_norm" in str(traced.inlined_graph)


@pytest.fixture
def kernels_when_compiled():
    """bntune's kernels in compiled code for the test (the default is torch's op)."""
    if not bt.use_kernels_when_compiled(True):
        pytest.skip("needs torch.library.custom_op (torch 2.4+)")
    torch._dynamo.reset()
    yield
    bt.use_kernels_when_compiled(False)
    torch._dynamo.reset()


@pytest.mark.usefixtures("kernels_when_compiled")
@pytest.mark.parametrize("channels_last", [False, True])
def test_a_compiled_model_runs_the_kernels_and_matches_eager(channels_last):
    # torch.compile(fullgraph=True) keeps bntune's kernels (a torch custom op): the results,
    # gradients and running statistics are the eager layers'.
    def net():
        torch.manual_seed(0)
        return bt.convert(nn.Sequential(nn.BatchNorm2d(3), nn.Flatten(), nn.BatchNorm1d(48)))

    eager, model = net(), net()
    compiled = torch.compile(model, fullgraph=True)
    x = torch.randn(8, 3, 4, 4) * 3 + 1
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    for _ in range(2):
        xs = [x.clone().requires_grad_() for _ in range(2)]
        ys = [eager(xs[0]), compiled(xs[1])]
        for y in ys:
            (y * torch.arange(y.numel()).reshape(y.shape)).sum().backward()
        assert torch.allclose(ys[1], ys[0], rtol=1e-6, atol=1e-6)
        assert torch.allclose(xs[1].grad, xs[0].grad, rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(model.modules(), eager.modules(), strict=True):
        if isinstance(ours, nn.modules.batchnorm._BatchNorm):
            assert torch.allclose(ours.weight.grad, theirs.weight.grad, rtol=1e-5, atol=1e-5)
            assert torch.allclose(ours.running_var, theirs.running_var, rtol=1e-6)
            assert int(ours.num_batches_tracked) == 2
    model.eval()
    eager.eval()
    with torch.no_grad():
        assert torch.allclose(torch.compile(model)(x), eager(x), rtol=1e-6, atol=1e-6)


@pytest.mark.usefixtures("kernels_when_compiled")
@pytest.mark.parametrize(
    "make",
    [lambda: torch.randn(4, 5, 5, 3).permute(0, 3, 1, 2),  # channels-last
     lambda: torch.randn(4, 3, 5, 5).transpose(2, 3),  # dense, neither layout: copied
     lambda: torch.randn(4, 3, 10, 5)[:, :, ::2]],  # not dense: copied
    ids=["channels_last", "transposed", "strided"],
)  # fmt: skip
def test_the_compiled_op_lays_out_its_output_as_the_compiler_expects(make):
    x = make()
    layer = bt.BatchNorm2d(3)
    xs = [x.clone().requires_grad_() for _ in range(2)]
    ys = [torch.compile(layer, fullgraph=True)(xs[0]), layer(xs[1])]
    for y in ys:
        (y * torch.arange(y.numel()).reshape(y.shape)).sum().backward()
    assert ys[0].stride() == torch.empty_like(x).stride()
    assert torch.allclose(ys[0], ys[1], rtol=1e-6, atol=1e-6)
    assert torch.allclose(xs[0].grad, xs[1].grad, rtol=1e-5, atol=1e-5)


def test_compiled_code_runs_the_kernels_only_when_asked_and_keeps_their_accuracy():
    # 3e4 + 0.01·N(0, 1) in float32, against the float64 normalisation of the same values:
    # bntune's kernels are within float32 rounding; torch's op, compiled or not, is off by
    # about a tenth of a standard deviation
    torch.manual_seed(0)
    x = torch.randn(64, 2, 8, 8)
    x[:, 1] = x[:, 1] * 0.01 + 3e4
    want = TORCH_LAYERS[2](2).double()(x.double()).detach()

    def compiled_error(layer):
        torch._dynamo.reset()
        with torch.no_grad():
            return (torch.compile(layer, fullgraph=True)(x).double() - want).abs().max().item()

    assert compiled_error(bt.BatchNorm2d(2)) > 1e-3  # the default: torch's op
    assert compiled_error(nn.BatchNorm2d(2)) > 1e-3
    with pytest.raises(TypeError, match="enabled"):
        bt.use_kernels_when_compiled("yes")
    if not bt.use_kernels_when_compiled(True):
        pytest.skip("needs torch.library.custom_op (torch 2.4+)")
    try:
        assert compiled_error(bt.BatchNorm2d(2)) < 1e-6
        exported = torch.export.export(bt.BatchNorm2d(2), (x,))
        assert "bntune::batch_norm" not in str(exported.graph)  # exported: torch's op
    finally:
        bt.use_kernels_when_compiled(False)
        torch._dynamo.reset()


def test_a_scripted_model_runs_torchs_layer_with_the_same_state():
    net, x = small_net()
    layer = net[1]
    with torch.no_grad():
        want = net(x)
        scripted = torch.jit.script(net)
        assert torch.allclose(scripted(x), want, rtol=1e-5, atol=1e-6)
    # torch.jit.script puts what __prepare_scriptable__ gives in the model itself: torch's
    # layer, sharing the parameters and buffers; convert() makes it bntune's again
    assert type(net[1]) is nn.BatchNorm2d
    assert net[1].weight is layer.weight
    assert net[1].running_var is layer.running_var
    assert type(bt.convert(net)[1]) is bt.BatchNorm2d


@pytest.mark.parametrize("dim", [1, 2])
def test_export_and_functorch_transforms_see_torchs_op(dim):
    net, x = small_net(dim)
    with torch.no_grad():
        want = net(x)
    exported = torch.export.export(net, (x,))
    assert torch.allclose(exported.module()(x), want, rtol=1e-5, atol=1e-6)
    assert torch.allclose(torch.vmap(net)(x.unsqueeze(1)).squeeze(1), want, atol=1e-6)
    grad = torch.func.grad(lambda t: net(t).sum())(x)
    eager = x.clone().requires_grad_()
    net(eager).sum().backward()
    assert torch.allclose(grad, eager.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make", [lambda: torch.randn(4, 3, 5, 5).to(memory_format=torch.channels_last),
             lambda: torch.randn(4, 7, 3).transpose(1, 2)],  # (N, C, L) with C innermost
    ids=["channels_last", "transposed"],
)  # fmt: skip
def test_an_in_place_relu_after_a_channels_last_input(make):
    x = make()
    dim = x.dim() - 2
    grads = []
    for layer in (TORCH_LAYERS[dim](3), BNTUNE_LAYERS[dim](3)):
        xr = x.detach().clone().requires_grad_()
        y = nn.ReLU(inplace=True)(layer(xr))
        (y * torch.arange(y.numel()).reshape(y.shape)).sum().backward()
        grads.append((y, xr.grad, layer.weight.grad))
    for theirs, ours in zip(*grads, strict=True):
        assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    assert grads[1][0].is_contiguous(memory_format=torch.channels_last) == (x.dim() == 4)


def test_functional_refuses_what_torch_refuses_with_torchs_errors():
    x = torch.randn(4, 3)
    stat = torch.zeros(3)
    cases = [
        (ValueError, dict(running_mean=stat, running_var=None, training=True)),
        (ValueError, dict(running_mean=None, running_var=None, training=True, eps=0.0)),
        (RuntimeError, dict(running_mean=stat.clone().requires_grad_(), running_var=stat + 1)),
    ]
    for error, kwargs in cases:
        with pytest.raises(error) as theirs:
            torch_f.batch_norm(x, **kwargs)
        with pytest.raises(type(theirs.value), match=re.escape(str(theirs.value)[:40])):
            bt.batch_norm(x, **kwargs)
    layer = BNTUNE_LAYERS[1](3, eps=0.0)
    with pytest.raises(ValueError, match="eps must be positive"):
        layer(x)


def test_import_bntune_does_not_import_torch():
    code = "import sys, bntune; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# The hard-data cases of issue 18: torch's float32 kernels lose the answer, bntune's keep it.
def ref_forward_train(x, eps=1e-5):
    """Batch norm in float64 from the definition (x - mean formed in float64)."""
    x = x.double()
    dims = [0, *range(2, x.dim())]
    mean = x.mean(dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dims, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps), var.flatten(), x[0].numel() / x.shape[1]


@pytest.mark.parametrize("shape", [(32, 4, 56, 56), (128, 4, 14, 14)])
def test_a_constant_channel_of_1e7(shape, record_property):
    x = torch.randn(shape)
    x[:, 1] = 1e7
    want, _, _ = ref_forward_train(x)
    layer_ours, layer_theirs = bt.BatchNorm2d(4), nn.BatchNorm2d(4)
    with torch.no_grad():
        ours, theirs = layer_ours(x), layer_theirs(x)
    err_ours = (ours.double() - want).abs().max().item()
    err_theirs = (theirs.double() - want).abs().max().item()
    record_property("torch_max_abs_err", err_theirs)
    record_property("bntune_max_abs_err", err_ours)
    assert err_ours < 1e-5
    assert torch.equal(ours[:, 1], torch.zeros_like(ours[:, 1]))  # exactly beta


def test_a_channel_of_1e7_plus_noise(record_property):
    torch.manual_seed(6)
    n = 4096
    x = torch.randn(n, 4, dtype=torch.float64)
    x[:, 2] = 1e7 + 100 * x[:, 2]
    x = x.float()
    g = torch.randn(n, 4)
    # float64 reference on the same float32 values
    xd = x.double().requires_grad_()
    yd = torch_f.batch_norm(xd, None, None, None, None, True, 0.0, 1e-5)
    want_y = ref_forward_train(x)[0]
    assert (yd - want_y).abs().max().item() < 1e-9  # torch in float64 agrees with the formula
    (want_dx,) = torch.autograd.grad(yd, xd, g.double())
    var = x.double().var(0, unbiased=True)
    want_rv = 0.9 * 1.0 + 0.1 * var
    errs = {}
    for name, layer in (("bntune", bt.BatchNorm1d(4)), ("torch", nn.BatchNorm1d(4))):
        xi = x.clone().requires_grad_()
        y = layer(xi)
        (dx,) = torch.autograd.grad(y, xi, g)
        errs[name] = (
            rel_err(y, want_y),
            rel_err(dx, want_dx),
            ((layer.running_var.double() - want_rv).abs() / want_rv).max().item(),
        )
        record_property(f"{name}_rel_err_y_dx_running_var", errs[name])
    assert errs["bntune"][0] < 1e-6
    assert errs["bntune"][1] < 1e-5
    assert errs["bntune"][2] < 1e-6


def test_new_parameter_data_is_seen():
    torch.manual_seed(8)
    layer = bt.BatchNorm1d(3)
    x = torch.randn(6, 3)
    layer(x)
    layer.weight.data = torch.full((3,), 2.0)
    with torch.no_grad():
        layer.bias.fill_(1.0)  # in place: the same memory
    want = nn.functional.batch_norm(x, None, None, layer.weight, layer.bias, True)
    assert torch.allclose(layer(x), want, atol=1e-6)
    layer.double()
    assert torch.allclose(layer(x.double()), want.double(), atol=1e-6)


def test_views_of_dropped_tensors_are_dropped():
    before = len(bt._VIEWS)
    layer = nn.BatchNorm1d(3)
    x = torch.randn(6, 3, requires_grad=True)
    stats = layer.running_mean, layer.running_var, layer.weight, layer.bias
    bt.batch_norm(x, *stats, training=True).sum().backward()
    assert len(bt._VIEWS) == before + 4
    del layer, stats
    assert len(bt._VIEWS) == before


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_layer_updates_its_own_statistics(how):
    # The copy must not write through views of the original's tensors.
    torch.manual_seed(9)
    layer = bt.BatchNorm1d(3)
    layer(torch.randn(8, 3))
    if how == "deepcopy":
        twin = copy.deepcopy(layer)
    else:
        buffer = io.BytesIO()
        torch.save(layer, buffer)
        buffer.seek(0)
        twin = torch.load(buffer, weights_only=False)
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    x = 3 + 2 * torch.randn(16, 3)
    want = nn.BatchNorm1d(3)
    want.load_state_dict(twin.state_dict())
    want(x)
    twin(x)
    for k, v in layer.state_dict().items():
        assert torch.equal(v, before[k]), k
    for k, v in want.state_dict().items():
        assert torch.allclose(twin.state_dict()[k], v, rtol=1e-6), k


# The per-call shortcuts of bntune.torch (issue #18: the small-input op at torch's speed) must
# keep autograd's checks and options: these pin them.


@pytest.mark.parametrize("path", ["layer", "functional"])
def test_in_place_changes_before_backward_are_refused(path):
    torch.manual_seed(10)
    layer = bt.BatchNorm2d(3)

    def bn(x):
        if path == "layer":
            return layer(x)
        return bt.batch_norm(x, None, None, layer.weight, layer.bias, True)

    leaf = torch.randn(4, 3, 2, 2, requires_grad=True)
    x = leaf * 1.0
    y = bn(x)
    x.add_(1.0)  # x is saved for backward: autograd must notice
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    y = bn(leaf)
    with torch.no_grad():
        layer.weight.mul_(2.0)  # so is the weight
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("needs", [(True, False), (False, True), (True, True)])
def test_only_the_gradients_asked_for_are_made(needs):
    torch.manual_seed(11)
    ref, ours = make_pair(2, 3, torch.float64)
    x = torch.randn(4, 3, 2, 2, dtype=torch.float64)
    g = torch.randn(4, 3, 2, 2, dtype=torch.float64)
    grads = {}
    for name, layer in (("torch", ref), ("bntune", ours)):
        xr = x.clone().requires_grad_(needs[0])
        layer.weight.requires_grad_(needs[1])
        layer.bias.requires_grad_(needs[1])
        layer(xr).backward(g)
        grads[name] = (xr.grad, layer.weight.grad, layer.bias.grad)
    for got, want in zip(grads["bntune"], grads["torch"], strict=True):
        assert (got is None) == (want is None)
        if want is not None:
            assert rel_err(got, want) < TOL[torch.float64]


def test_a_gradient_that_requires_grad_without_create_graph():
    # autograd passes it on as it is (grad mode off): the kernels read it all the same
    torch.manual_seed(12)
    ref, ours = make_pair(1, 3, torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    g = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    (want,) = torch.autograd.grad(ref(x), x, g)
    (got,) = torch.autograd.grad(ours(x), x, g)
    assert not got.requires_grad
    assert rel_err(got, want) < TOL[torch.float64]


def test_an_output_without_a_gradient_costs_no_kernel_call(monkeypatch):
    # set_materialize_grads(False): when the gradient reaching the layer is undefined (here a
    # function whose backward gives None), backward returns None without running the kernels
    # on zeros.
    class Drop(torch.autograd.Function):
        @staticmethod
        def forward(ctx, y):
            return y.clone()

        @staticmethod
        def backward(ctx, dz):
            return None

    calls = []
    kernel = bt._core_backward
    monkeypatch.setattr(bt, "_core_backward", lambda *a: calls.append(1) or kernel(*a))
    layer = bt.BatchNorm1d(3)
    x = torch.randn(5, 3, requires_grad=True)
    (Drop.apply(layer(x)).sum() + x.sum()).backward()
    assert torch.equal(x.grad, torch.ones_like(x))
    assert layer.weight.grad is None
    assert calls == []
    layer(x).sum().backward()
    assert calls == [1]


def test_a_subclass_with_its_own_input_check_keeps_it():
    class Strict(bt.BatchNorm2d):
        def _check_input_dim(self, input):
            if input.shape[0] < 2:
                raise ValueError("Strict wants two samples")

    assert bt.BatchNorm2d._bntune_dims == (4,)
    assert Strict._bntune_dims == ()
    layer = Strict(3)
    layer(torch.randn(2, 3, 2, 2))
    with pytest.raises(ValueError, match="two samples"):
        layer(torch.randn(1, 3, 2, 2))
    with pytest.raises(ValueError, match="expected 4D input"):
        bt.BatchNorm2d(3)(torch.randn(2, 3, 4))


def test_backward_runs_through_the_direct_apply():
    node = bt._BatchNormFunction._backward_cls
    if not bt._DIRECT_APPLY_READ:
        pytest.skip(f"torch {torch.__version__} keeps its own apply")
    assert "apply" in node.__dict__  # installed on the torch it was written for
    layer = bt.BatchNorm1d(3)
    y = layer(torch.randn(5, 3, requires_grad=True))
    assert type(y.grad_fn) is node


def test_the_thread_count_follows_torchs_on_a_large_input():
    import bntune

    threads = torch.get_num_threads()
    layer = bt.BatchNorm1d(8)
    try:
        torch.set_num_threads(1)
        layer(torch.randn(bt._THREADS_MATTER_FROM // 8, 8))
        assert bntune.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    layer(torch.randn(bt._THREADS_MATTER_FROM // 8, 8))
    assert bntune.get_num_threads() == threads
