"""bntune.torch against torch's own batch norm on the CPU: per op and in whole training steps.

Contenders run interleaved in each round (torch, bntune, torch, bntune, ...); the tables report
the median time of each and the median over rounds of the per-round ratio torch/bntune (above 1:
bntune is faster). The load average is printed before and after: on a loaded machine the
ratios, not the times, are the figures to quote, and only when the load stayed low.

  op        forward + backward through autograd (x, weight and bias require grad)
  fwd       forward only, allocating (torch.no_grad, training mode)
  fwd out=  bntune.functional.batch_norm_forward into a preallocated array vs torch's
            batch_norm writing a fresh tensor (torch has no out=)
  bwd       backward only (the forward pass's graph kept, retain_graph)
  conv step a 3-block conv net (conv-BN-ReLU-pool) on 32x32 inputs, batch 128: forward,
            cross-entropy, backward, SGD step; torch's model vs the same after convert(model)
  MLP step  the same for an (N, C) MLP, Linear-BN-ReLU x 3, batch 256, width 1024
  own pool  the step again with bntune's kernels on bntune's own thread pool rather than
            torch's OpenMP team (what bntune.torch uses when torch runs on OpenMP)
  coexist   one BN forward+backward right after a torch conv and after a pause, bntune on
            torch's thread count and on one thread

Run: python benches/compare_torch.py [--quick] [--rounds R] [--part op|step|coexist|all]
          [--dtype float32|float64|both] [--shape 8,16,8,8 ...]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import numpy as np

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover
    raise SystemExit("compare_torch.py needs torch: pip install 'bntune[torch]'") from None

import bntune
import bntune.torch as bt
from bntune import _core
from bntune import functional as F  # noqa: N812 (the name the docs use)

OP_SHAPES = [
    (8, 16, 8, 8),
    (32, 64, 56, 56),
    (128, 256, 14, 14),
    (64, 512, 7, 7),
    (16, 128, 28, 28),
    (256, 1024),
    (4096, 1024),
    (4096, 64),
]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def race(contenders: dict, rounds: int, inner: int) -> dict:
    """Median seconds per call of each contender, and median per-round ratios to the first."""
    names = list(contenders)
    for fn in contenders.values():  # warm up
        fn()
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(rounds):
        for n in names:
            times[n].append(min(timed(contenders[n]) for _ in range(inner)))
    base = names[0]
    return {
        n: (
            statistics.median(times[n]),
            statistics.median(b / t for b, t in zip(times[base], times[n], strict=True)),
        )
        for n in names
    }


def make_pair(shape, dtype):
    c = shape[1]
    layer = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}
    theirs = layer[len(shape)](c).to(dtype)
    ours = bt.convert(copy.deepcopy(theirs))
    return theirs, ours


def op_rows(shape, dtype, rounds):
    theirs, ours = make_pair(shape, dtype)
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=dtype).requires_grad_()
    g = torch.randn(shape, dtype=dtype)
    n = int(np.prod(shape))
    inner = 3 if n > 1 << 20 else (10 if n > 1 << 14 else 200)

    def op(layer):
        def run():
            y = layer(x)
            y.backward(g)

        return run

    def fwd(layer):
        def run():
            with torch.no_grad():
                layer(x)

        return run

    xn = x.detach().numpy()
    out = np.empty_like(xn)
    w, b = ours.weight.detach().numpy(), ours.bias.detach().numpy()
    rm, rv = ours.running_mean.numpy(), ours.running_var.numpy()

    def fwd_out():
        F.batch_norm_forward(xn, w, b, rm, rv, training=True, out=out)

    y_t, y_b = theirs(x), ours(x)

    def bwd(y):
        def run():
            torch.autograd.grad(y, [x, *y_params(y)], g, retain_graph=True)

        return run

    def y_params(y):
        layer = theirs if y is y_t else ours
        return [layer.weight, layer.bias]

    rows = []
    for name, contenders in (
        ("op", {"torch": op(theirs), "bntune": op(ours)}),
        ("fwd", {"torch": fwd(theirs), "bntune": fwd(ours)}),
        ("fwd out=", {"torch": fwd(theirs), "bntune": fwd_out}),
        ("bwd", {"torch": bwd(y_t), "bntune": bwd(y_b)}),
    ):
        r = race(contenders, rounds, inner)
        rows.append((name, r["torch"][0], r["bntune"][0], r["bntune"][1]))
    return rows


class ConvNet(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)]
            layers += [nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(4 * width * 4 * 4, 10)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def mlp(width=1024, depth=3, d_in=256):
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(d_in if i == 0 else width, width, bias=False)]
        layers += [nn.BatchNorm1d(width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, 10))


def step_fn(model, x, labels):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def run():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), labels).backward()
        opt.step()

    return run


def on_pool(run):
    """`run` with bntune's kernels on bntune's own pool instead of torch's OpenMP team."""

    def pooled():
        bt.use_torch_threads(False)
        try:
            run()
        finally:
            bt.use_torch_threads(True)

    return pooled


def step_rows(rounds):
    torch.manual_seed(0)
    rows = []
    team = _core.openmp_joined()
    for name, model, x in (
        ("conv step", ConvNet(), torch.randn(128, 3, 32, 32)),
        ("MLP step", mlp(), torch.randn(256, 256)),
    ):
        labels = torch.randint(0, 10, (x.shape[0],))
        ours = bt.convert(copy.deepcopy(model))
        contenders = {"torch": step_fn(model, x, labels), "bntune": step_fn(ours, x, labels)}
        if team:
            pooled = bt.convert(copy.deepcopy(model))
            contenders["bntune pool"] = on_pool(step_fn(pooled, x, labels))
        r = race(contenders, rounds, 2)
        rows.append((name, r["torch"][0], r["bntune"][0], r["bntune"][1]))
        if team:
            rows.append(("  own pool", r["torch"][0], r["bntune pool"][0], r["bntune pool"][1]))
    return rows


def coexist_rows(rounds):
    """One BN forward+backward timed right after a torch conv (whose OpenMP workers are still
    spinning) and after a 20 ms pause (alone): bntune on torch's OpenMP team (what
    bntune.torch does), on its own pool of torch's thread count, and on one thread."""
    torch.manual_seed(0)
    shape = (128, 32, 32, 32)
    x, g = torch.randn(shape), torch.randn(shape)
    conv, conv_in = nn.Conv2d(32, 32, 3, padding=1), torch.randn(shape)
    layers = {"torch": nn.BatchNorm2d(32), "bntune": bt.BatchNorm2d(32)}
    torch_threads = torch.get_num_threads()
    on_team = _core.openmp_joined()

    def bn_after(layer, before, threads, team=False):
        def run():
            if bntune.get_num_threads() != threads:
                bntune.set_num_threads(threads)
            bt._threads[0] = threads  # keep bntune.torch from resetting it
            if team:
                bt.use_torch_threads(True)
            else:
                bt.use_torch_threads(False)
            before()
            xr = x.detach().requires_grad_()
            t0 = time.perf_counter()
            layer(xr).backward(g)
            return time.perf_counter() - t0

        return run

    def conv_op():
        with torch.no_grad():
            conv(conv_in)

    def pause():
        time.sleep(0.02)

    cases = {"torch after conv": bn_after(layers["torch"], conv_op, torch_threads)}
    cases["torch alone"] = bn_after(layers["torch"], pause, torch_threads)
    if on_team:
        t = torch_threads
        cases[f"bntune/{t}t team after conv"] = bn_after(layers["bntune"], conv_op, t, True)
        cases[f"bntune/{t}t team alone"] = bn_after(layers["bntune"], pause, t, True)
    for threads in sorted({torch_threads, 1}, reverse=True):
        cases[f"bntune/{threads}t after conv"] = bn_after(layers["bntune"], conv_op, threads)
        cases[f"bntune/{threads}t alone"] = bn_after(layers["bntune"], pause, threads)
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(rounds):
        for k, fn in cases.items():
            times[k].append(fn())
    bntune.set_num_threads(torch_threads)
    bt._threads[0] = torch_threads
    if on_team:
        bt.use_torch_threads(True)
    print(f"\nBN {shape} forward+backward after a conv / alone  ({load()})")
    print("  (team: torch's OpenMP threads; otherwise bntune's own pool)")
    for k, v in times.items():
        print(f"  {k:<28} {statistics.median(v) * 1e3:8.3f} ms")


def print_rows(title, rows):
    print(f"\n{title}")
    print(f"{'':<10} {'torch ms':>10} {'bntune ms':>10} {'torch/bntune':>13}")
    for name, t, b, ratio in rows:
        print(f"{name:<10} {t * 1e3:>10.3f} {b * 1e3:>10.3f} {ratio:>12.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and shapes")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--part", choices=["op", "step", "coexist", "all"], default="all")
    parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    parser.add_argument(
        "--shape",
        action="append",
        default=None,
        help="only this op shape, e.g. 8,16,8,8 (repeatable; default: every shape)",
    )
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 15)
    dtypes = {"float32": [torch.float32], "float64": [torch.float64]}.get(
        args.dtype, [torch.float32, torch.float64]
    )
    team = " on torch's OpenMP team" if _core.openmp_joined() else " of its own"
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), bntune "
        f"{bntune.__version__} ({bntune.get_num_threads()} threads{team}, "
        f"{bntune.simd_backend()}); {rounds} rounds; {load()}"
    )
    if args.part in ("op", "all"):
        shapes = OP_SHAPES[:3] + OP_SHAPES[5:6] if args.quick else OP_SHAPES
        if args.shape:
            shapes = [tuple(int(v) for v in s.split(",")) for s in args.shape]
        for dtype in dtypes:
            for shape in shapes:
                title = f"{tuple(shape)} {str(dtype).removeprefix('torch.')}  ({load()})"
                print_rows(title, op_rows(shape, dtype, rounds))
    if args.part in ("coexist", "all"):
        coexist_rows(rounds)
    if args.part in ("step", "all"):
        print_rows(f"training steps, float32  ({load()})", step_rows(rounds))
    print(f"\n{load()}")


if __name__ == "__main__":
    main()
