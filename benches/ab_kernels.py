"""Paired A/B timing of two builds of bntune's kernels in one process.

Loads two builds of the extension (`_core.abi3.so` files, e.g. from `cargo build --release
--features python --lib` before and after a change) under different module names and times
their training forward and backward (`out=`, no Python checks) interleaved, next to np.copyto
and np.add of the same bytes. Prints medians of per-round ratios: B over A, and each over
B_copy / B_add (one-thread np.copyto / np.add). With more than one thread, only the build
being timed has them (the other's pool is cut to one thread meanwhile).

Run: python benches/ab_kernels.py A.so B.so [--threads 1,2] [--rounds 21] [--dtype float32]
                                  [--offset 0] [--shape 4096,1024]... [--cpu]
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import os
import statistics
import time

import numpy as np

SHAPES = [(256, 1024), (4096, 64), (4096, 1024), (32768, 1024)]


def load(path, name):
    loader = importlib.machinery.ExtensionFileLoader(f"{name}._core", path)
    spec = importlib.util.spec_from_file_location(f"{name}._core", path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


CLOCK = time.perf_counter


def timed(fn, inner):
    t0 = CLOCK()
    for _ in range(inner):
        fn()
    return (CLOCK() - t0) / inner


def measure(mods, shape, threads, args):
    """Median per-round ratios of the two builds' kernels and of each to copy / add."""
    rng = np.random.default_rng(0)
    x = (args.offset + rng.standard_normal(shape)).astype(args.dtype)
    dy = rng.standard_normal(shape).astype(args.dtype)
    y, c = np.empty_like(x), np.empty_like(x)
    gamma = rng.uniform(0.5, 2, shape[1]).astype(args.dtype)
    beta = rng.standard_normal(shape[1]).astype(args.dtype)
    run = {"copy": lambda: np.copyto(y, x), "add": lambda: np.add(x, dy, out=c)}
    # Only the timed build's pool has `threads` threads (the other's has one): an idle pool's
    # workers, still spinning after their own calls, would take the cores from the timed one.
    pools = {}
    for key, m in mods.items():
        pools[key] = threads
        m.set_num_threads(threads)
        _, mean, inv = m.batch_norm_forward(x, gamma, beta, None, None, True, 0.1, 1e-5, y)

        def fwd(m=m):
            m.batch_norm_forward(x, gamma, beta, None, None, True, 0.1, 1e-5, y)

        def bwd(m=m, mean=mean, inv=inv):
            m.batch_norm_backward(dy, x, gamma, mean, inv, True, c)

        run["fwd" + key], run["bwd" + key] = fwd, bwd
    inner = {}
    for name, fn in run.items():
        fn()
        inner[name] = max(1, int(2e-3 / max(timed(fn, 1), 1e-7)))
    times = {k: [] for k in run}

    def solo(name):
        """Gives the build timed next the threads, the other one thread (pools change only
        when needed, outside the timing)."""
        key = name[-1] if name[:3] in ("fwd", "bwd") else None
        if key is None or threads == 1:
            return
        for other, m in mods.items():
            want = threads if other == key else 1
            if pools[other] != want:
                m.set_num_threads(want)
                pools[other] = want
        run[name]()  # a warm call on the new pool

    for r in range(args.rounds):
        # Alternate the order, so that neither build always follows the copy.
        for name in list(run) if r % 2 == 0 else list(reversed(run)):
            solo(name)
            times[name].append(timed(run[name], inner[name]))

    def ratio(p, q):
        return statistics.median(a / b for a, b in zip(times[p], times[q], strict=True))

    return {
        "fwd B/A": ratio("fwdB", "fwdA"),
        "bwd B/A": ratio("bwdB", "bwdA"),
        "fwdA/cp": ratio("fwdA", "copy"),
        "fwdB/cp": ratio("fwdB", "copy"),
        "bwdA/add": ratio("bwdA", "add"),
        "bwdB/add": ratio("bwdB", "add"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--offset", type=float, default=0.0, help="added to x (e.g. 1e4)")
    parser.add_argument("--shape", action="append", default=[])
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time by the calling thread's CPU time (one thread only: immune to preemption)",
    )
    args = parser.parse_args()
    if args.cpu:
        global CLOCK
        CLOCK = time.thread_time
    mods = {"A": load(args.a, "bn_a"), "B": load(args.b, "bn_b")}
    shapes = [tuple(int(v) for v in s.split(",")) for s in args.shape] or SHAPES
    print(f"A={args.a} B={args.b} {args.dtype} offset {args.offset} load {os.getloadavg()[0]:.2f}")
    print(
        f"{'shape':>20} thr  {'fwd B/A':>8} {'bwd B/A':>8} {'fwdA/cp':>8} {'fwdB/cp':>8} "
        f"{'bwdA/add':>8} {'bwdB/add':>8}"
    )
    for shape in shapes:
        for threads in [int(t) for t in args.threads.split(",")]:
            r = measure(mods, shape, threads, args)
            print(
                f"{shape!s:>20} {threads:>3}  {r['fwd B/A']:8.3f} {r['bwd B/A']:8.3f} "
                f"{r['fwdA/cp']:8.3f} {r['fwdB/cp']:8.3f} {r['bwdA/add']:8.3f} "
                f"{r['bwdB/add']:8.3f}",
                flush=True,
            )
    print(f"load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
