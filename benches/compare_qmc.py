"""bntune.qmc vs scipy.stats.qmc (and np.ones, the cost of fresh output), side by side.

Contenders run interleaved in one process; the table shows median wall times, their ratios,
and the median CPU time of the process (all threads), which shows how much of a wall-time
difference a loaded machine is eating. Two bounds for a large draw: "first touch" is np.empty
plus one write per 4 KiB page, i.e. only the page faults (the kernel zeroing each fresh page),
which dominate np.ones; "1 thread" is bntune on one core, to compare with the single-threaded
peers when the other cores are busy. Run:
    .venv/bin/python benches/compare_qmc.py [--repeats 7] [PART ...]
with PART among sobol, float32, halton, lhs, random_cd, strength2, construction, trial (default:
all).
"""

import argparse
import statistics
import time
import warnings

import numpy as np

import bntune
from bntune import qmc

try:
    from scipy.stats import qmc as sq
except ImportError:  # scipy is a peer, not a dependency
    sq = None

N = 2**20
D = 16


def _time(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _race(contenders, repeats):
    """Median (wall, cpu) seconds per contender; cpu sums every thread of the process."""
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            times[name].append(_time(fn))
    return {
        name: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
        for name, t in times.items()
    }


def _first_touch(shape, dtype=np.float64):
    """Allocates like np.ones but writes one value per 4 KiB page: the page faults alone."""
    a = np.empty(shape, dtype=dtype)
    a.reshape(-1)[:: 4096 // a.itemsize] = 0
    return a


def _one_thread(fn):
    def run():
        threads = bntune.get_num_threads()
        bntune.set_num_threads(1)
        try:
            return fn()
        finally:
            bntune.set_num_threads(threads)

    return run


def _report(title, medians, ours="bntune"):
    base = medians[ours][0]
    print(f"\n{title}")
    for name, (wall, cpu) in medians.items():
        ratio = "" if name == ours else f"  {name}/bntune = {wall / base:6.2f}x"
        print(f"  {name:<22} {wall * 1e3:10.3f} ms (cpu {cpu * 1e3:9.3f} ms){ratio}")


def sobol(repeats):
    for scramble in (False, True):
        contenders = {
            "bntune": lambda s=scramble: qmc.Sobol(D, scramble=s, seed=1).random_base2(20),
            "bntune 1 thread": _one_thread(
                lambda s=scramble: qmc.Sobol(D, scramble=s, seed=1).random_base2(20)
            ),
            "np.ones": lambda: np.ones((N, D)),
            "first touch": lambda: _first_touch((N, D)),
        }
        if sq is not None:
            contenders["scipy"] = lambda s=scramble: sq.Sobol(D, scramble=s, rng=1).random_base2(20)
        _report(f"Sobol d={D} n=2**20 float64 scramble={scramble}", _race(contenders, repeats))


def float32(repeats):
    contenders = {
        "bntune": lambda: qmc.Sobol(D, seed=1).random_base2(20, dtype=np.float32),
        "bntune float64": lambda: qmc.Sobol(D, seed=1).random_base2(20),
        "np.ones float32": lambda: np.ones((N, D), dtype=np.float32),
        "first touch float32": lambda: _first_touch((N, D), np.float32),
    }
    _report(f"Sobol d={D} n=2**20 float32 scrambled", _race(contenders, repeats))


def halton(repeats):
    contenders = {"bntune": lambda: qmc.Halton(D, seed=1).random(N)}
    if sq is not None:
        contenders["scipy"] = lambda: sq.Halton(D, rng=1).random(N)
    _report(f"Halton scrambled d={D} n=2**20", _race(contenders, max(3, repeats // 2)))


def lhs(repeats):
    contenders = {
        "bntune": lambda: qmc.LatinHypercube(D, seed=1).random(N),
        "bntune 1 thread": _one_thread(lambda: qmc.LatinHypercube(D, seed=1).random(N)),
        "bntune centred": lambda: qmc.LatinHypercube(D, scramble=False, seed=1).random(N),
    }
    if sq is not None:
        contenders["scipy"] = lambda: sq.LatinHypercube(D, rng=1).random(N)
    _report(f"LatinHypercube d={D} n=2**20", _race(contenders, max(3, repeats // 2)))


def random_cd(repeats):
    """optimization="random-cd" on Latin hypercubes: same settings as scipy (10 000 tries at
    most, stop after 100 without improvement); the final discrepancies are printed too, since
    the two searches take different random swaps."""
    for n, d in ((256, 8), (1024, 16)):
        contenders = {
            "bntune": lambda n=n, d=d: qmc.LatinHypercube(
                d, optimization="random-cd", seed=1
            ).random(n),
        }
        if sq is not None:
            contenders["scipy"] = lambda n=n, d=d: sq.LatinHypercube(
                d, optimization="random-cd", rng=1
            ).random(n)
        _report(
            f"LatinHypercube d={d} n={n} optimization='random-cd'",
            _race(contenders, max(3, repeats // 2)),
        )
        for name, fn in contenders.items():
            print(f"  {name:<22} CD after: {qmc.discrepancy(fn()):.6f}")


def strength2(repeats):
    """Orthogonal-array Latin hypercubes (strength=2): n = p**2 points for a prime p."""
    for p, d in ((31, 16), (101, 32)):
        contenders = {
            "bntune": lambda p=p, d=d: qmc.LatinHypercube(d, strength=2, seed=1).random(p * p),
        }
        if sq is not None:
            contenders["scipy"] = lambda p=p, d=d: sq.LatinHypercube(d, strength=2, rng=1).random(
                p * p
            )
        _report(f"LatinHypercube strength=2 d={d} n={p}**2", _race(contenders, repeats))


def construction(repeats):
    contenders = {"bntune": lambda: qmc.Sobol(1111, seed=1)}
    if sq is not None:
        contenders["scipy"] = lambda: sq.Sobol(1111, rng=1)
    _report("scrambled Sobol construction d=1111", _race(contenders, repeats))


def trial(repeats):
    """The tuner's per-trial pattern: a seeded scrambled engine, jump to the trial, one point."""

    def ours_trial(k=[0]):  # noqa: B006 - a counter so every call gets a new seed
        k[0] += 1
        engine = qmc.Sobol(8, seed=k[0])
        engine.fast_forward(100_000)
        return engine.random(1)

    def scipy_trial(k=[0]):  # noqa: B006
        k[0] += 1
        engine = sq.Sobol(8, rng=k[0])
        engine.fast_forward(100_000)
        return engine.random(1)

    loops = 2000
    contenders = {"bntune": lambda: [ours_trial() for _ in range(loops)]}
    if sq is not None:
        contenders["scipy"] = lambda: [scipy_trial() for _ in range(20)]
    medians = _race(contenders, repeats)
    print("\nper trial: Sobol(8, seed=k), fast_forward(100_000), random(1)")
    ours_us = medians["bntune"][0] / loops * 1e6
    print(f"  bntune {ours_us:8.2f} us")
    if sq is not None:
        theirs = medians["scipy"][0] / 20 * 1e6
        print(f"  scipy  {theirs:8.2f} us  scipy/bntune = {theirs / ours_us:.0f}x")


PARTS = {
    "sobol": sobol,
    "float32": float32,
    "halton": halton,
    "lhs": lhs,
    "random_cd": random_cd,
    "strength2": strength2,
    "construction": construction,
    "trial": trial,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "parts",
        nargs="*",
        metavar="PART",
        help=f"comparisons to run, of {', '.join(PARTS)} (default: all). Fresh-output draws "
        "are mostly page faults, whose cost depends on what the process allocated and freed "
        "before: a part run alone measures them in a process the other parts have not churned",
    )
    args = parser.parse_args()
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    warnings.simplefilter("ignore")
    if sq is None:
        print("scipy not installed: peer columns skipped")
    for name in args.parts or PARTS:
        PARTS[name](args.repeats)


if __name__ == "__main__":
    main()
