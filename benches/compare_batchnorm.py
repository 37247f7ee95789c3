"""bntune batch norm against the memory bound (np.copyto, np.add), naive numpy and torch.

Every contender runs interleaved in each round; the table reports medians over rounds of the
ratio to the baseline measured in the same round, so machine noise cancels as far as possible.

  B_copy = the faster of a 1-thread and a 2-thread (two halves) np.copyto into a preallocated
           array: one read and one write, the floor of forward-train and inference forward.
  B_add  = the same for np.add(a, b, out=c): two reads and one write, the floor of backward.

Run: python benches/compare_batchnorm.py [--quick] [--shape N,C[,...]]...
"""

from __future__ import annotations

import argparse
import statistics
import time
import timeit
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import bntune
from bntune import functional as F  # noqa: N812 (the name the docs use)

try:
    import torch  # type: ignore[import-not-found]
except ImportError:  # torch is optional: its column then says so
    torch = None

POOL = ThreadPoolExecutor(2)


def halves(a):
    return np.array_split(a.reshape(-1), 2)


def copy_1(x, y):
    np.copyto(y, x)


def copy_2(x, y):
    futures = [POOL.submit(np.copyto, d, s) for s, d in zip(halves(x), halves(y), strict=True)]
    for f in futures:
        f.result()


def add_1(a, b, c):
    np.add(a, b, out=c)


def add_2(a, b, c):
    parts = zip(halves(a), halves(b), halves(c), strict=True)
    futures = [POOL.submit(np.add, p, q, out=r) for p, q, r in parts]
    for f in futures:
        f.result()


def naive_numpy(x, gamma, beta, eps=1e-5):
    ax = (0, *range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=ax)
    var = x.var(axis=ax)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * gamma.reshape(
        shape
    ) + beta.reshape(shape)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def threads(n):
    if bntune.get_num_threads() != n:
        bntune.set_num_threads(n)


def measure(shape, dtype, rounds):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=dtype)
    dy = rng.standard_normal(shape, dtype=dtype)
    y, dx = np.empty_like(x), np.empty_like(x)
    gamma = np.ones(shape[1], dtype)
    beta = np.zeros(shape[1], dtype)
    rm, rv = np.zeros(shape[1], dtype), np.ones(shape[1], dtype)
    _, mean, invstd = F.batch_norm_forward(x, gamma, beta, out=y)

    def fwd(out=y):
        return F.batch_norm_forward(x, gamma, beta, out=out)

    def fwd_alloc():
        return F.batch_norm_forward(x, gamma, beta)

    def infer():
        return F.batch_norm_forward(x, gamma, beta, rm, rv, training=False, out=y)

    def bwd():
        return F.batch_norm_backward(dy, x, gamma, mean, invstd, out=dx)

    two = {
        "copy1": lambda: copy_1(x, y),
        "copy2": lambda: copy_2(x, y),
        "add1": lambda: add_1(x, dy, dx),
        "add2": lambda: add_2(x, dy, dx),
        "fwd": fwd,
        "fwd_alloc": fwd_alloc,
        "infer": infer,
        "bwd": bwd,
    }
    one = {"fwd1": fwd, "infer1": infer, "bwd1": bwd}
    times = {k: [] for k in [*two, *one]}
    for _ in range(rounds):
        threads(2)
        fwd()  # the first call on a fresh pool starts its threads
        for name, fn in two.items():
            times[name].append(timed(fn))
        threads(1)
        fwd()
        for name, fn in one.items():
            times[name].append(timed(fn))
    threads(2)
    naive = [timed(lambda: naive_numpy(x, gamma, beta)) for _ in range(2)]
    b_copy = [min(a, b) for a, b in zip(times["copy1"], times["copy2"], strict=True)]
    b_add = [min(a, b) for a, b in zip(times["add1"], times["add2"], strict=True)]

    def ratio(name, base):
        return statistics.median(t / b for t, b in zip(times[name], base, strict=True))

    def speedup(name1, name2):
        return statistics.median(a / b for a, b in zip(times[name1], times[name2], strict=True))

    nbytes = x.nbytes
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "fwd_copy": ratio("fwd", b_copy),
        "fwd_alloc_copy": ratio("fwd_alloc", b_copy),
        "infer_copy": ratio("infer", b_copy),
        "bwd_add": ratio("bwd", b_add),
        "fwd_gbs": 2 * nbytes / med["fwd"] / 1e9,
        "bwd_gbs": 3 * nbytes / med["bwd"] / 1e9,
        "copy_gbs": 2 * nbytes / statistics.median(b_copy) / 1e9,
        "add_gbs": 3 * nbytes / statistics.median(b_add) / 1e9,
        "vs_numpy": min(naive) / med["fwd"],
        "speedup_fwd": speedup("fwd1", "fwd"),
        "speedup_infer": speedup("infer1", "infer"),
        "speedup_bwd": speedup("bwd1", "bwd"),
    }


def torch_column(shape, dtype, rounds):
    """torch's training forward time over bntune's, with out= and allocating (both interleaved)."""
    if torch is None:
        return "not installed"
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(shape).astype(dtype))
    w = torch.ones(shape[1], dtype=x.dtype)
    b = torch.zeros(shape[1], dtype=x.dtype)
    xn = x.numpy()
    gamma, beta = w.numpy(), b.numpy()
    out = np.empty_like(xn)
    with_out, alloc = [], []
    for _ in range(rounds):
        t_torch = timed(lambda: torch.nn.functional.batch_norm(x, None, None, w, b, True))
        with_out.append(t_torch / timed(lambda: F.batch_norm_forward(xn, gamma, beta, out=out)))
        alloc.append(t_torch / timed(lambda: F.batch_norm_forward(xn, gamma, beta)))
    return (
        f"{statistics.median(with_out):.2f}x faster (allocating: {statistics.median(alloc):.2f}x)"
    )


def torch_small_call_us():
    """torch's (8,16,8,8) float32 training forward: (median, best) microseconds, or None."""
    if torch is None:
        return None
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((8, 16, 8, 8)).astype(np.float32))
    w, b = torch.ones(16), torch.zeros(16)

    def fn():
        return torch.nn.functional.batch_norm(x, None, None, w, b, True)

    per_call = [t / 2000 * 1e6 for t in timeit.repeat(fn, number=2000, repeat=7)]
    return statistics.median(per_call), min(per_call)


def small_call_us():
    x = np.random.default_rng(0).standard_normal((8, 16, 8, 8)).astype(np.float32)
    g, b = np.ones(16, np.float32), np.zeros(16, np.float32)
    out = np.empty_like(x)
    _, mean, invstd = F.batch_norm_forward(x, g, b)
    calls = {
        "forward (out=)": lambda: F.batch_norm_forward(x, g, b, out=out),
        "forward (alloc)": lambda: F.batch_norm_forward(x, g, b),
        "backward (out=)": lambda: F.batch_norm_backward(x, x, g, mean, invstd, out=out),
    }
    result = {}
    for name, fn in calls.items():
        per_call = [t / 2000 * 1e6 for t in timeit.repeat(fn, number=2000, repeat=7)]
        result[name] = (statistics.median(per_call), min(per_call))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes and few rounds")
    parser.add_argument(
        "--shape",
        action="append",
        metavar="N,C[,...]",
        help="measure this shape only (repeatable), e.g. --shape 4096,1024",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        metavar="R",
        help="rounds per shape and dtype (default: 15, or 7 above 128 MB); the machine's noise "
        "comes in bursts, so medians need many",
    )
    args = parser.parse_args()
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    shapes = [(32, 64, 56, 56), (4096, 1024), (160, 64, 56, 56), (32768, 1024)]
    if args.quick:
        shapes = [(8, 64, 28, 28), (1024, 256)]
    if args.shape:
        shapes = [tuple(int(v) for v in s.split(",")) for s in args.shape]
    print(
        f"bntune {bntune.__version__}, SIMD {bntune.simd_backend()}, torch: "
        f"{'not installed' if torch is None else torch.__version__}"
    )
    header = (
        f"{'shape':<18}{'dtype':<8}{'fwd/Bcopy':>10}{'alloc/Bc':>9}{'inf/Bcopy':>10}"
        f"{'bwd/Badd':>9}{'fwd GB/s':>9}{'bwd GB/s':>9}{'copy GB/s':>10}{'add GB/s':>9}"
        f"{'vs numpy':>9}{'1->2 fwd':>9}{'1->2 inf':>9}{'1->2 bwd':>9}  torch"
    )
    print(header)
    for shape in shapes:
        for dtype in (np.float32, np.float64):
            size = np.prod(shape) * np.dtype(dtype).itemsize
            rounds = args.rounds or (3 if args.quick else (7 if size > 2**27 else 15))
            r = measure(shape, dtype, rounds)
            print(
                f"{shape!s:<18}{np.dtype(dtype).name:<8}{r['fwd_copy']:>10.2f}"
                f"{r['fwd_alloc_copy']:>9.2f}{r['infer_copy']:>10.2f}{r['bwd_add']:>9.2f}"
                f"{r['fwd_gbs']:>9.1f}{r['bwd_gbs']:>9.1f}{r['copy_gbs']:>10.1f}"
                f"{r['add_gbs']:>9.1f}{r['vs_numpy']:>8.1f}x{r['speedup_fwd']:>8.2f}x"
                f"{r['speedup_infer']:>8.2f}x{r['speedup_bwd']:>8.2f}x  "
                f"{torch_column(shape, dtype, rounds)}",
                flush=True,
            )
    print("\nsmall call, (8,16,8,8) float32, from Python (median / best of 7x2000 calls):")
    theirs = torch_small_call_us()
    for name, (med, best) in small_call_us().items():
        if name.startswith("forward") and theirs is not None:
            peer = f"torch forward: {theirs[0]:.2f} us / {theirs[1]:.2f} us"
        else:
            peer = "torch: not measured" if theirs is None else "torch: no such call"
        print(f"  {name:<16} {med:6.2f} us / {best:6.2f} us   ({peer})")


if __name__ == "__main__":
    main()
