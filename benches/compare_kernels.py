"""bntune's batch-norm kernels alone against the memory bound and torch's own kernels.

Calls `bntune._core` directly with `out=` (no Python-level checks, no allocation), next to
np.copyto / np.add of the same bytes and torch's aten kernels (`native_batch_norm`,
`native_batch_norm_backward`), with bntune and torch on the same number of threads. Every
contender runs once per round, interleaved; the table gives medians over rounds of ratios
measured within a round, and the median time per element.

  fwd/copy  bntune's training forward over B_copy (np.copyto, the faster of one thread and
            two threads on halves: one read and one write, the floor of a forward pass)
  bwd/add   bntune's training backward over B_add (np.add(a, b, out=c), the same way)
  torch/bn  torch's kernel time over bntune's (above 1: bntune is faster)

Run: python benches/compare_kernels.py [--rounds R] [--threads 1,2] [--dtype float32]
                                       [--shape N,C[,...]]... [--part nc|nchw|all] [--cpu]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import bntune
from bntune import _core

try:
    import torch  # type: ignore[import-not-found]
except ImportError:  # the torch columns then say so
    torch = None

NC_SHAPES = [(256, 1024), (4096, 64), (4096, 1024), (32768, 1024)]
NCHW_SHAPES = [(16, 128, 28, 28), (64, 512, 7, 7), (128, 256, 14, 14), (32, 64, 56, 56)]
POOL = ThreadPoolExecutor(2)


def halves(a):
    return np.array_split(a.reshape(-1), 2)


def on_halves(fn, *arrays):
    futures = [POOL.submit(fn, *parts) for parts in zip(*map(halves, arrays), strict=True)]
    for f in futures:
        f.result()


CLOCK = time.perf_counter


def timed(fn, inner):
    t0 = CLOCK()
    for _ in range(inner):
        fn()
    return (CLOCK() - t0) / inner


def contenders(shape, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    y, dx, c = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    gamma = rng.uniform(0.5, 2.0, shape[1]).astype(dtype)
    beta = rng.standard_normal(shape[1]).astype(dtype)
    _, mean, invstd = _core.batch_norm_forward(x, gamma, beta, None, None, True, 0.1, 1e-5, y)
    run = {
        "copy1": lambda: np.copyto(y, x),
        "copy2": lambda: on_halves(np.copyto, y, x),
        "add1": lambda: np.add(x, dy, out=c),
        "add2": lambda: on_halves(lambda a, b, o: np.add(a, b, out=o), x, dy, c),
        "fwd": lambda: _core.batch_norm_forward(x, gamma, beta, None, None, True, 0.1, 1e-5, y),
        "bwd": lambda: _core.batch_norm_backward(dy, x, gamma, mean, invstd, True, dx),
    }
    if torch is not None:
        tx, tdy = torch.from_numpy(x), torch.from_numpy(dy)
        tw, tb = torch.from_numpy(gamma), torch.from_numpy(beta)
        _, smean, sinvstd = torch.ops.aten.native_batch_norm(
            tx, tw, tb, None, None, True, 0.1, 1e-5
        )
        mask = [True, True, True]
        run["torch_fwd"] = lambda: torch.ops.aten.native_batch_norm(
            tx, tw, tb, None, None, True, 0.1, 1e-5
        )
        run["torch_bwd"] = lambda: torch.ops.aten.native_batch_norm_backward(
            tdy, tx, tw, None, None, smean, sinvstd, True, 1e-5, mask
        )
    return run, x.size


def measure(shape, dtype, threads, rounds):
    bntune.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    run, size = contenders(shape, dtype)
    # Enough calls per timing to take about a millisecond; one warm-up call each.
    inner = {}
    for name, fn in run.items():
        fn()
        inner[name] = max(1, int(1e-3 / max(timed(fn, 1), 1e-7)))
    times = {k: [] for k in run}
    for _ in range(rounds):
        for name, fn in run.items():
            times[name].append(timed(fn, inner[name]))
    if CLOCK is time.thread_time:
        # The two-thread copies run on other threads: this thread's CPU time misses them.
        b_copy, b_add = times["copy1"], times["add1"]
    else:
        b_copy = [min(a, b) for a, b in zip(times["copy1"], times["copy2"], strict=True)]
        b_add = [min(a, b) for a, b in zip(times["add1"], times["add2"], strict=True)]

    def ratio(a, b):
        return statistics.median(p / q for p, q in zip(a, b, strict=True))

    row = {
        "fwd/copy": ratio(times["fwd"], b_copy),
        "bwd/add": ratio(times["bwd"], b_add),
        "fwd ns/el": statistics.median(times["fwd"]) / size * 1e9,
        "bwd ns/el": statistics.median(times["bwd"]) / size * 1e9,
        "copy ns/el": statistics.median(b_copy) / size * 1e9,
    }
    if torch is not None:
        row["torch/bn fwd"] = ratio(times["torch_fwd"], times["fwd"])
        row["torch/bn bwd"] = ratio(times["torch_bwd"], times["bwd"])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--part", choices=["nc", "nchw", "all"], default="all")
    parser.add_argument("--shape", action="append", default=[], help="e.g. 4096,1024")
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time by the calling thread's CPU time (immune to preemption; one thread only)",
    )
    args = parser.parse_args()
    if args.cpu:
        global CLOCK
        CLOCK = time.thread_time
        args.threads = "1"
    shapes = [tuple(int(v) for v in s.split(",")) for s in args.shape]
    if not shapes:
        shapes = (NC_SHAPES if args.part != "nchw" else []) + (
            NCHW_SHAPES if args.part != "nc" else []
        )
    dtype = np.dtype(args.dtype).type
    print(
        f"bntune {bntune.__version__} ({bntune.simd_backend()}), torch "
        f"{torch.__version__ if torch is not None else 'not installed'}, {args.dtype}, "
        f"{args.rounds} rounds{', thread CPU time' if args.cpu else ''}, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    cols = None
    for shape in shapes:
        for threads in [int(t) for t in args.threads.split(",")]:
            row = measure(shape, dtype, threads, args.rounds)
            if cols is None:
                cols = list(row)
                print(f"{'shape':>20} {'thr':>3} " + " ".join(f"{c:>12}" for c in cols))
            vals = " ".join(f"{row[c]:12.3f}" for c in cols)
            print(f"{shape!s:>20} {threads:>3} {vals}", flush=True)
    print(f"load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
