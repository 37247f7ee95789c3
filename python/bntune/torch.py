"""bntune's exact batch norm for PyTorch models on the CPU (``pip install 'bntune[torch]'``).

``BatchNorm1d``, ``BatchNorm2d`` and ``BatchNorm3d`` are drop-in replacements of torch's: they
*are* torch's classes (subclasses with no state of their own), so constructor arguments,
parameters, buffers, ``state_dict`` keys, ``num_batches_tracked``, ``momentum=None``, eval mode,
``track_running_stats=False`` and ``affine=False`` behave as in torch. Only the arithmetic
changes: statistics in float64, x - mean formed in float64 (see :mod:`bntune.functional`).

:func:`batch_norm` has ``torch.nn.functional.batch_norm``'s signature; :func:`convert` swaps
every torch batch-norm layer of a model for bntune's in place (``convert(model, back=True)``
undoes it).

bntune runs float32 and float64 CPU tensors. Anything else (CUDA tensors, half and bfloat16,
tensors of mixed dtypes or devices) is handed to torch's own ``batch_norm``, so the answer is
never wrong, only not bntune's. Gradients of gradients (``create_graph=True``) are computed by
torch's formula from the saved inputs. The tensors are shared with the kernels, not copied:
a contiguous input (or a channels-last one, read as an (N·H·W, C) matrix) is passed as a numpy
view, and the running statistics are updated in place.

The kernels run on torch's thread count and, once this module is imported, on torch's own
OpenMP threads (:func:`use_torch_threads` switches back to bntune's pool).

No tracer follows the kernels through numpy. Under ``torch.compile`` the layers and
:func:`batch_norm` run torch's own batch norm, which the compiler fuses with the ops around it,
or, after :func:`use_kernels_when_compiled`, bntune's kernels as a torch custom op,
``bntune::batch_norm`` (exact, as in eager mode, but slower there). ``torch.export``,
``torch.jit.trace`` and ``vmap``/``grad``/``jacrev`` see torch's own batch norm (an exported
program runs without bntune), and ``torch.jit.script`` compiles torch's layer in each bntune
layer's place, putting it in the model (same parameters and buffers; :func:`convert` makes them
bntune's again).

A parameter or running statistic whose length is not the input's channel count raises
:class:`ShapeError`, which is both a ``bntune.ShapeError`` and the ``RuntimeError`` torch raises
for the same mistake, and names the arguments as torch does (``weight``, ``bias``, ``input``).
"""

from __future__ import annotations

import ctypes
import os
import warnings
import weakref
from pathlib import Path
from typing import Any

import numpy as np

try:
    import torch
    from torch import Tensor, nn
    from torch.nn import functional as torch_f
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "bntune.torch needs PyTorch: pip install 'bntune[torch]' (or install torch)"
    ) from exc

from bntune import _core, _torch_compile
from bntune._torch_layout import DTYPES as _DTYPES
from bntune._torch_layout import as_rows as _as_rows
from bntune._torch_layout import from_rows as _from_rows
from bntune._torch_layout import like_rows as _like_rows
from bntune._torch_layout import refused_by_torch as _refused_by_torch
from bntune._torch_layout import runs_here as _runs_here

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "ShapeError",
    "batch_norm",
    "convert",
    "use_kernels_when_compiled",
    "use_torch_threads",
]


class ShapeError(_core.ShapeError, RuntimeError):
    """A length that does not match the input's channels: a ``bntune.ShapeError`` that code
    written for torch catches as the ``RuntimeError`` torch raises."""


# The kernels' argument names, and torch's for the same arguments.
_TORCH_NAMES = {"gamma": "weight", "beta": "bias", "x": "input", "x's": "input's"}


def _torch_shape_error(error: _core.ShapeError) -> ShapeError:
    """The kernels' shape error in torch's words."""
    words = str(error).split(" ")
    return ShapeError(" ".join(_TORCH_NAMES.get(w, w) for w in words))


# (torch before 2.3 has no torch.compiler.is_compiling; there compiled calls break the graph
# at each layer and run the kernels, as they did before the check)
_is_compiling = getattr(torch.compiler, "is_compiling", lambda: False)
_is_tracing = torch.jit.is_tracing
_functorch_active = getattr(torch._C, "_are_functorch_transforms_active", lambda: False)


def _transformed() -> bool:
    """Whether this call is being traced or transformed rather than run: ``torch.compile`` and
    ``torch.export`` (TorchDynamo), ``torch.jit.trace``, or ``vmap``/``grad``/``jacrev``.
    Those see only torch's ops, so the layers hand such calls to torch's own batch norm (or,
    compiled, to bntune's custom op: :func:`use_kernels_when_compiled`): the kernels, reached
    through numpy, would be recorded as a constant (a traced model would return the example
    input's output for every input) or refused. About 0.3 us a call."""
    return _is_compiling() or _is_tracing() or _functorch_active()


_is_exporting = getattr(torch.compiler, "is_exporting", lambda: False)

# Whether compiled calls run the kernels (see use_kernels_when_compiled).
_kernels_when_compiled = [False]


def use_kernels_when_compiled(enabled: bool = True) -> bool:
    """Whether code compiled by ``torch.compile`` runs bntune's kernels, as the torch custom op
    ``bntune::batch_norm`` (exact, as in eager mode), or torch's own batch norm (the default);
    returns whether it now does. Off by default: a compiled conv-net training step took twice
    the time of torch's compiled step with the kernels in it (2026-12-07, ``benches/README.md``),
    since torch's compiler fuses its own batch norm with the ops around it. Needs torch 2.4 or
    later (``torch.library.custom_op``); recompile after switching (``torch._dynamo.reset()``)."""
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be True or False, got {enabled!r}")
    _kernels_when_compiled[0] = enabled and _torch_compile.AVAILABLE
    return _kernels_when_compiled[0]


def _compiled_here() -> bool:
    """Whether this traced call is ``torch.compile``'s (not ``torch.export``'s, nor another
    tracer's) and runs the kernels as a torch custom op (:mod:`bntune._torch_compile`, see
    :func:`use_kernels_when_compiled`). An exported program gets torch's op, which runs wherever
    the program is taken."""
    return _kernels_when_compiled[0] and _is_compiling() and not _is_exporting()


_threads = [0]


# Inputs smaller than this run on the calling thread whatever the thread count (the kernels'
# own threshold): the layers skip the thread-count check (0.1 us alone, 0.5-0.7 us inside a
# training step) for them. A larger input makes the check before the count matters.
_THREADS_MATTER_FROM = _core.SEQUENTIAL_BELOW


def _share_torchs_threads() -> None:
    """Runs bntune's kernels on as many threads as torch's (one check per call, a resize only
    when torch's count changed): more threads than cores would fight torch's own pool."""
    n = torch.get_num_threads()
    if n != _threads[0]:
        _core.set_num_threads(n)
        _threads[0] = n


# The OpenMP runtime bntune joined ("" before the first try, None when there is none), so that
# switching back and forth (`use_torch_threads`) does not search again.
_runtime: list[str | None] = [""]


def _torchs_openmp_runtime() -> str | None:
    """The path of torch's OpenMP runtime as loaded in this process, or None (torch built without
    OpenMP, another platform). Only a runtime already loaded qualifies."""
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None
    loaded = _loaded_libraries()
    bound = _runtime_torch_binds(loaded)
    # then torch's own copy: lib/ in its package, or torch.libs/ beside it (auditwheel's name)
    home = Path(torch.__file__).parent
    candidates = [] if bound is None else [bound]
    candidates += [
        str(p) for d in (home / "lib", home.parent / "torch.libs") for p in sorted(d.glob("*omp*"))
    ]
    # where the loader found it, if not in torch's own directory (conda, distro builds)
    candidates += sorted(p for p in loaded if "omp" in p.rsplit("/", 1)[-1])
    for path in candidates:
        try:
            _core.join_openmp(path)
        except ValueError:  # not loaded here, or not an OpenMP runtime
            continue
        return path
    return None


def _loaded_libraries() -> set[str]:
    """The paths of the shared libraries mapped into this process (empty where unknown)."""
    try:
        with open("/proc/self/maps") as maps:
            return {parts[-1] for parts in map(str.split, maps) if len(parts) == 6}
    except OSError:
        return set()


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


def _runtime_torch_binds(loaded: set[str] | None = None) -> str | None:
    """The file defining the ``GOMP_parallel`` torch's CPU library calls, as the dynamic loader
    resolves it from that library (its own dependencies, in order), or None where that cannot
    be asked (no ``dladdr``, the library not found).

    Looking for any loaded library named like an OpenMP runtime can pick the wrong one when
    several are loaded (a conda environment with both LLVM's ``libomp`` and GNU's ``libgomp``);
    this is the one torch's own parallel regions run on. ``loaded``: the libraries mapped
    into the process (:func:`_loaded_libraries`), when the caller has read them already.
    """
    names = ("libtorch_cpu.so", "libtorch_cpu.dylib")
    home = Path(torch.__file__).parent / "lib"
    if loaded is None:
        loaded = _loaded_libraries()
    found = [p for p in loaded if p.rsplit("/", 1)[-1].startswith(names)]
    for path in found + [str(home / n) for n in names]:
        try:
            library = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_NOW)
            entry = ctypes.cast(library.GOMP_parallel, ctypes.c_void_p).value
            info = _DlInfo()
            if entry and ctypes.CDLL(None).dladdr(ctypes.c_void_p(entry), ctypes.byref(info)):
                return os.fsdecode(info.dli_fname) if info.dli_fname else None
        except (AttributeError, OSError):  # not loaded, no such symbol, no dladdr/RTLD_NOLOAD
            continue
    return None


def _join_torchs_openmp() -> bool:
    """Runs the kernels' parallel work on torch's own OpenMP threads; whether it could.

    After each parallel op torch's OpenMP workers spin for milliseconds before they sleep, and a
    thread of bntune's own pool woken meanwhile waits for a core: a BN layer right after a conv
    took 2.5x its standalone time on 2 cores (rust/threads/openmp.rs). On torch's team the work
    goes to threads that are already running.
    """
    if _runtime[0] == "":
        _runtime[0] = _torchs_openmp_runtime()
    elif _runtime[0] is not None:
        _core.join_openmp(_runtime[0])
    return _runtime[0] is not None


def use_torch_threads(enabled: bool = True) -> bool:
    """Whether bntune's kernels run their parallel work on torch's OpenMP threads (the default
    once ``bntune.torch`` is imported) or on bntune's own pool; returns whether they now do.

    torch's threads are the right place when torch owns the cores, as in a training loop: its
    workers spin for milliseconds after every op, and a second pool's threads would wait for a
    core. A machine whose cores are shared with other busy processes can favour bntune's own
    pool, which never waits for a thread that has not started (``benches/compare_torch.py
    --part coexist`` compares the two). Returns False when torch does not run on OpenMP.
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be True or False, got {enabled!r}")
    if enabled:
        return _join_torchs_openmp()
    _core.join_openmp(None)
    return False


use_torch_threads()

# numpy views of the per-channel tensors (weights, biases, running statistics), which live as
# long as their layer: making a view costs about 3 us, finding it here a few hundred ns. An
# entry is keyed by the tensor's id, checked against its data pointer (which `.data = ...`,
# `.to()` or `set_()` change), and dropped when the tensor is.
_VIEWS: dict[int, tuple[weakref.ref, int, np.ndarray]] = {}


def _param_view(t: Tensor | None) -> np.ndarray | None:
    if t is None:
        return None
    key, ptr = id(t), t.data_ptr()
    hit = _VIEWS.get(key)
    if hit is not None and hit[0]() is t and hit[1] == ptr:
        return hit[2]
    view = t.detach().numpy()
    _VIEWS[key] = (weakref.ref(t, lambda _, key=key: _VIEWS.pop(key, None)), ptr, view)
    return view


# Module-level names for what the per-call paths use: a global lookup instead of an attribute
# lookup on torch or _core each time.
_from_numpy = torch.from_numpy
_grad_enabled = torch.is_grad_enabled
_core_forward = _core.batch_norm_forward
_core_backward = _core.batch_norm_backward
_NO_GRADS = (None, None, None, None)


class _BatchNormFunction(torch.autograd.Function):
    """Forward and backward each one call into the Rust kernels.

    The per-channel arguments come twice: as tensors (for autograd and for double backward)
    and as the numpy views the kernels read (made once per layer, see `_LayerViews`). The
    views travel with the scalars in one tuple, ``spec``: every argument of ``apply`` costs
    autograd some work, in forward and in backward (a None returned for it).

    Written for the per-call cost of small inputs, where it is what separates bntune from
    torch (issue #18): ``ctx``'s fields are set directly rather than through
    ``save_for_backward`` and ``set_materialize_grads`` (the same fields, one Python call
    fewer each), and tensors are turned into numpy arrays with ``.numpy()`` alone: autograd
    runs ``forward`` and ``backward`` with grad mode off, where ``.numpy()`` accepts a tensor
    that requires grad, so no ``.detach()`` is needed.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: Tensor,
        weight: Tensor | None,
        bias: Tensor | None,
        spec: tuple[Any, ...],
    ) -> Tensor:
        wn, bn, rm, rv, training, momentum, eps = spec
        if x.is_contiguous():
            xn = x.numpy()
            channels_last = False
        else:
            rows, channels_last = _as_rows(x)
            xn = rows.numpy()
        try:
            y, mean, invstd = _core_forward(xn, wn, bn, rm, rv, training, momentum, eps, None)
        except _core.ShapeError as e:
            raise _torch_shape_error(e) from None
        # x for torch's checks that it was not modified in place (and for double backward);
        # the kernels' views of x and the weight ride along, not to be made again.
        ctx.to_save = (x, weight, bias)  # what ctx.save_for_backward(x, weight, bias) sets
        ctx.kept = (xn, wn, mean, invstd, training, eps, channels_last)
        ctx.materialize_grads = False  # ctx.set_materialize_grads(False)
        if channels_last:
            return _from_rows(y, x.shape, True)
        return _from_numpy(y)

    @staticmethod
    def backward(ctx: Any, dy: Tensor | None) -> tuple[Tensor | None, ...]:
        x, weight, bias = ctx.saved_tensors  # raises if one was modified in place since
        if dy is None:
            return _NO_GRADS
        xn, wn, mean, invstd, training, eps, channels_last = ctx.kept
        if _grad_enabled():
            # create_graph=True: the gradient must itself be differentiable, so it is
            # computed by torch's formula from the saved inputs and statistics.
            grads = _torch_grads(dy, x, weight, bias, mean, invstd, training, eps)
            return (*grads, None)
        need = ctx.needs_input_grad  # False for a None weight or bias
        dyn = _like_rows(dy, True).numpy() if channels_last else dy.contiguous().numpy()
        dx, dgamma, dbeta = _core_backward(dyn, xn, wn, mean, invstd, training, None)
        if not need[0]:
            dxt = None
        elif channels_last:
            dxt = _from_rows(dx, x.shape, True)
        else:
            dxt = _from_numpy(dx)
        return (
            dxt,
            _from_numpy(dgamma) if need[1] else None,
            _from_numpy(dbeta) if need[2] else None,
            None,
        )


def _torch_version() -> tuple[int, int]:
    """torch's (major, minor) version, (0, 0) when it cannot be read."""
    try:
        major, minor = torch.__version__.split(".")[:2]
        return int(major), int(minor)
    except (AttributeError, ValueError):
        return (0, 0)


# The torch versions whose BackwardCFunction.apply `_install_direct_backward` stands in for.
_DIRECT_APPLY_READ = (2, 1) <= _torch_version() <= (2, 15)


def _install_direct_backward() -> None:
    """Makes autograd call `_BatchNormFunction.backward` directly.

    The engine calls the node's ``apply``; torch's (``BackwardCFunction.apply``) looks up
    whether the Function defines ``backward`` or ``vjp`` and whether it wants its gradients
    boxed, on every call, before calling ``backward``: 1-2 us of a 60-70 us backward pass on a
    small input. For this Function the answers are fixed (``backward``, unboxed), so its node
    class gets an ``apply`` that calls ``backward`` at once. Installed only on the structure it
    was written for and on the torch versions whose ``apply`` was read (2.1 to 2.15: the same
    lookups, then ``backward``); a later torch keeps its own ``apply``, which may do more.
    """
    node = getattr(_BatchNormFunction, "_backward_cls", None)
    base = getattr(torch.autograd.function, "BackwardCFunction", None)
    if (
        not _DIRECT_APPLY_READ
        or node is None
        or base is None
        or not issubclass(node, base)
        or "apply" in node.__dict__
        or _BatchNormFunction.vjp is not torch.autograd.Function.vjp
        or getattr(_BatchNormFunction, "boxed_grads_call", False)
    ):
        return
    backward = _BatchNormFunction.backward

    def apply(self: Any, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
        return backward(self, *grads)

    node.apply = apply


_install_direct_backward()


def _torch_grads(
    dy: Tensor,
    x: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    mean: np.ndarray,
    invstd: np.ndarray,
    training: bool,
    eps: float,
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """Differentiable gradients of batch norm, by torch's ops (for double backward)."""
    shape = (1, -1) + (1,) * (x.dim() - 2)
    with torch.enable_grad():
        if training:
            y = torch_f.batch_norm(x, None, None, weight, bias, True, 0.0, eps)
        else:
            m = torch.from_numpy(mean).to(x.dtype).view(shape)
            s = torch.from_numpy(invstd).to(x.dtype).view(shape)
            y = (x - m) * s
            if weight is not None:
                y = y * weight.view(shape)
            if bias is not None:
                y = y + bias.view(shape)
        inputs = [t for t in (x, weight, bias) if t is not None and t.requires_grad]
        grads = iter(torch.autograd.grad(y, inputs, dy, create_graph=True, allow_unused=True))
    return tuple(  # type: ignore[return-value]
        next(grads) if t is not None and t.requires_grad else None for t in (x, weight, bias)
    )


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """``torch.nn.functional.batch_norm`` computed by bntune's kernels.

    Same arguments and result; in training, ``running_mean`` and ``running_var`` (when given)
    are updated in place with the unbiased batch variance, as torch does. Inputs bntune does not
    run (see the module doc) go to torch's own function.
    """
    if _compiled_here():
        return _torch_compile.batch_norm(
            input, running_mean, running_var, weight, bias, training, momentum, eps
        )
    if (
        _transformed()
        or not _runs_here(input, running_mean, running_var, weight, bias)
        or momentum is None
        or _refused_by_torch(running_mean, running_var, eps)
    ):
        return torch_f.batch_norm(
            input, running_mean, running_var, weight, bias, training, momentum, eps
        )
    if not training and (running_mean is None or running_var is None):
        # torch's own message for the same mistake
        return torch_f.batch_norm(
            input, running_mean, running_var, weight, bias, training, momentum, eps
        )
    _share_torchs_threads()
    if torch.is_grad_enabled() and (
        input.requires_grad
        or (weight is not None and weight.requires_grad)
        or (bias is not None and bias.requires_grad)
    ):
        views = map(_param_view, (weight, bias, running_mean, running_var))
        return _BatchNormFunction.apply(input, weight, bias, (*views, training, momentum, eps))
    rows, channels_last = _as_rows(input)
    params = _param_view(weight), _param_view(bias)
    stats = _param_view(running_mean), _param_view(running_var)
    # without autograd here (grad mode off, or nothing requires grad), so .numpy() accepts it
    try:
        y, _, _ = _core_forward(rows.numpy(), *params, *stats, training, momentum, eps, None)
    except _core.ShapeError as e:
        raise _torch_shape_error(e) from None
    return _from_rows(y, input.shape, channels_last)


class _LayerViews:
    """What a layer's calls reuse: its per-channel tensors, their numpy views and data pointers.

    Kept in the layer's ``__dict__`` and checked on every call (the tensors by identity, their
    memory by data pointer: ``.data = ...`` and ``.to()`` change one or the other, in-place
    writes neither), so a layer reaches its views with a few comparisons instead of
    torch's ``Module.__getattr__`` and ``Tensor.numpy()`` each time. A live view keeps its
    tensor's memory alive, so an unchanged pointer is the same memory. Copies and pickles of
    the layer start with no views (``__reduce__``): a deep copy's views would alias nothing.
    """

    __slots__ = ("bias", "count", "dtype", "key", "ptrs", "running_mean", "running_var", "weight")

    def __init__(self) -> None:
        # (weight, bias, running_mean, running_var, num_batches_tracked) and their data
        # pointers; no pointers yet, which no layer's tensors match
        self.key: tuple[Tensor | None, ...] = (None,) * 5
        self.ptrs: tuple[int, ...] = ()
        self.dtype: torch.dtype | None = None
        self.weight: np.ndarray | None = None
        self.bias: np.ndarray | None = None
        self.running_mean: np.ndarray | None = None
        self.running_var: np.ndarray | None = None
        # num_batches_tracked as a memoryview of a 1-element int64 numpy view: `count[0] += 1`
        # costs about 0.08 us (0.16 us on the numpy view, whose scalars are numpy's; torch's
        # `add_(1)` several).
        self.count: memoryview | None = None

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return (_LayerViews, ())


def _ptrs(key: tuple[Tensor | None, ...]) -> tuple[int, ...]:
    return tuple(0 if t is None else t.data_ptr() for t in key)


def _layer_views(bn: nn.modules.batchnorm._BatchNorm) -> _LayerViews | None:
    """The layer's views, made again when its tensors changed; None when bntune cannot run
    them (not CPU, not float32/float64, mixed dtypes, strided running statistics)."""
    params, buffers = bn._parameters, bn._buffers
    views = bn.__dict__.get("_bntune_views")
    if views is not None:
        # The check of every call (the layers' forward makes it through here), written out:
        # half the time of a loop over the tensors. The same tensors, on the same memory.
        w, b, rm, rv, n = views.key
        if (
            params.get("weight") is w
            and params.get("bias") is b
            and buffers.get("running_mean") is rm
            and buffers.get("running_var") is rv
            and buffers.get("num_batches_tracked") is n
            and views.ptrs
            == (
                0 if w is None else w.data_ptr(),
                0 if b is None else b.data_ptr(),
                0 if rm is None else rm.data_ptr(),
                0 if rv is None else rv.data_ptr(),
                0 if n is None else n.data_ptr(),
            )
        ):
            return views
    key = (
        params.get("weight"),
        params.get("bias"),
        buffers.get("running_mean"),
        buffers.get("running_var"),
        buffers.get("num_batches_tracked"),
    )
    floats = [t for t in key[:4] if t is not None]
    dtype = floats[0].dtype if floats else None
    count = key[4]
    if (
        any(not t.is_cpu or t.dtype != dtype or not t.is_contiguous() for t in floats)
        or (dtype is not None and dtype not in _DTYPES)
        or (count is not None and (not count.is_cpu or count.dtype != torch.int64))
    ):
        return None
    views = _LayerViews()
    views.key, views.ptrs, views.dtype = key, _ptrs(key), dtype
    as_numpy = [None if t is None else t.detach().numpy() for t in key[:4]]
    views.weight, views.bias, views.running_mean, views.running_var = as_numpy
    views.count = None if count is None else memoryview(count.detach().view(1).numpy())
    bn.__dict__["_bntune_views"] = views
    return views


class _BntuneBatchNorm:
    """The forward pass shared by the three layers: torch's logic, bntune's kernels.

    Written for the per-call cost of small inputs: the layer's tensors come from its cached
    views ([`_LayerViews`]), and the checks of :func:`batch_norm` are made once per change of
    the layer's tensors rather than once per call.
    """

    # The input dimensions torch's `_check_input_dim` accepts, checked here without the call
    # (torch's check runs for any other, to raise its error). Set by each layer class; a
    # subclass with a `_check_input_dim` of its own gets () (`__init_subclass__`): its check
    # runs on every call.
    _bntune_dims: tuple[int, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_check_input_dim" in cls.__dict__:
            cls._bntune_dims = ()

    def __prepare_scriptable__(self) -> nn.Module:
        """What ``torch.jit.script`` compiles in this layer's place: torch's own layer, holding
        the same parameters and buffers (the kernels are not TorchScript)."""
        torchs = next(c for c in type(self).__mro__ if c in _SWAPS)
        twin = torchs.__new__(torchs)
        twin.__dict__.update(self.__dict__)
        twin.__dict__.pop("_bntune_views", None)
        return twin

    def forward(self, input: Tensor) -> Tensor:
        bn: nn.modules.batchnorm._BatchNorm = self  # type: ignore[assignment]
        if input.dim() not in self._bntune_dims:
            bn._check_input_dim(input)
        if _transformed():  # before any tensor is read through numpy
            if _compiled_here():
                return _torch_compile.layer_forward(bn, input)
            return nn.modules.batchnorm._BatchNorm.forward(bn, input)
        params = bn._parameters
        views = _layer_views(bn)
        dtype = input.dtype
        if (
            views is None
            # views.dtype, when there is one, is float32 or float64
            or (dtype is not views.dtype and (views.dtype is not None or dtype not in _DTYPES))
            or not input.is_cpu
            or (numel := input.numel()) == 0
            or not bn.eps > 0  # torch's own error in training
        ):
            return nn.modules.batchnorm._BatchNorm.forward(bn, input)
        training, momentum = bn.training, bn.momentum
        factor = 0.0 if momentum is None else momentum
        count = views.count
        if training and count is not None and bn.track_running_stats:
            count[0] += 1
            if momentum is None:  # a cumulative moving average
                factor = 1.0 / count[0]
        # Without running statistics, eval mode normalises with the batch's (as torch does).
        rm, rv = views.running_mean, views.running_var
        use_batch = training or (rm is None and rv is None)
        if training and not bn.track_running_stats:
            rm = rv = None
        if numel >= _THREADS_MATTER_FROM and torch.get_num_threads() != _threads[0]:
            _share_torchs_threads()
        weight, bias = params.get("weight"), params.get("bias")
        if _grad_enabled() and (
            input.requires_grad
            or (weight is not None and weight.requires_grad)
            or (bias is not None and bias.requires_grad)
        ):
            spec = (views.weight, views.bias, rm, rv, use_batch, factor, bn.eps)
            return _BatchNormFunction.apply(input, weight, bias, spec)
        rows, channels_last = _as_rows(input)
        try:
            y, _, _ = _core_forward(
                rows.numpy(),  # no autograd here: .numpy() needs no .detach()
                views.weight,
                views.bias,
                rm,
                rv,
                use_batch,
                factor,
                bn.eps,
                None,
            )
        except _core.ShapeError as e:
            raise _torch_shape_error(e) from None
        return _from_rows(y, input.shape, channels_last)


class BatchNorm1d(_BntuneBatchNorm, nn.BatchNorm1d):
    """``torch.nn.BatchNorm1d`` with bntune's kernels on (N, C) or (N, C, L) input."""

    _bntune_dims = (2, 3)


class BatchNorm2d(_BntuneBatchNorm, nn.BatchNorm2d):
    """``torch.nn.BatchNorm2d`` with bntune's kernels on (N, C, H, W) input."""

    _bntune_dims = (4,)


class BatchNorm3d(_BntuneBatchNorm, nn.BatchNorm3d):
    """``torch.nn.BatchNorm3d`` with bntune's kernels on (N, C, D, H, W) input."""

    _bntune_dims = (5,)


_SWAPS: dict[type, type] = {
    nn.BatchNorm1d: BatchNorm1d,
    nn.BatchNorm2d: BatchNorm2d,
    nn.BatchNorm3d: BatchNorm3d,
}


def convert(model: nn.Module, *, back: bool = False) -> nn.Module:
    """Makes every ``nn.BatchNorm1d/2d/3d`` of ``model`` (itself included) bntune's, in place.

    Each layer keeps its identity, parameters, buffers and hooks: only its class changes, so
    optimizers built before the call keep working. ``back=True`` turns bntune's layers back
    into torch's. Subclasses of torch's layers (``SyncBatchNorm``, lazy or user-defined ones)
    are left alone, and a warning names them. Returns ``model``.
    """
    swaps = {v: k for k, v in _SWAPS.items()} if back else _SWAPS
    left = []
    for name, module in model.named_modules():
        new = swaps.get(type(module))
        if new is not None:
            module.__class__ = new
            module.__dict__.pop("_bntune_views", None)
        elif (
            not back
            and isinstance(module, nn.modules.batchnorm._BatchNorm)
            and not isinstance(module, _BntuneBatchNorm)
        ):
            left.append(f"{name or 'the model'} ({type(module).__name__})")
    if left:
        warnings.warn(
            f"bntune.torch.convert left {len(left)} batch-norm layer(s) as torch's: "
            f"{', '.join(left)}. Subclasses of torch's layers (SyncBatchNorm, lazy ones before "
            "their first call, your own) keep their class and torch's arithmetic.",
            stacklevel=2,
        )
    return model
