"""Parallel and trainable-mode benchmarks: efficiency, ASHA, panda, PBT.

    python benches/compare_parallel.py                 # all parts (several minutes)
    python benches/compare_parallel.py efficiency      # or: asha, panda, pbt

- efficiency: trials of fixed CPU work (about 1 s on one core, a pure-Python loop) run by
  ``study.optimize`` serially, on a warm local process pool (``executor=tune.process_pool(2)``),
  beside the same work on a bare ``concurrent.futures.ProcessPoolExecutor(2)`` (what this
  machine's free cores allow right now: on a shared machine that is the ceiling),
  on a pool started by the call (``n_workers=2``), and on a Dask LocalCluster (2 worker
  processes, 1 thread each) when ``distributed`` is installed. Efficiency = serial time /
  (workers x parallel time). Contenders interleaved, median of the runs.
- asha: 27 configurations of the digits MLP (``tune.MLPTrainable``), up to 27 epochs: ASHA
  (grace 1, reduction 3) against training all 27 fully; best final dev cross-entropy and the
  epochs each used, on ``tune.default_space()`` and on a wider space with rates up to 3 (whose
  curves are noisy near the top rates, so early rungs rank them less reliably).
- panda: the digits MLP without batch norm started at lr = 100, where a fixed run breaks; the
  default policy babysits it for 20 epochs. Against a 10-point log grid of fixed learning rates
  (1e-3 .. 1e2), 20 epochs each.
- pbt: a noisy quadratic whose best learning rate falls during training (large to get down from
  the start, small for a low noise floor); PBT with 4 members against the same 4 configurations
  trained independently, over 10 seeds.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import statistics
import time

import numpy as np

from bntune import tune

# ---------------------------------------------------------------- efficiency


def busy(trial: tune.Trial) -> float:
    """Fixed CPU work: ``n`` iterations of a pure-Python loop."""
    total = 0
    for i in range(trial.params["n"]):
        total += i * i % 7
    return float(total % 13)


def busy_plain(n: int) -> float:
    """The same work as :func:`busy`, without a trial: what a bare process pool runs."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return float(total % 13)


def _calibrate(seconds: float) -> int:
    n = 200_000
    while True:
        t0 = time.perf_counter()
        busy(tune.Trial(0, {"n": n}, 1, None))
        dt = time.perf_counter() - t0
        if dt > 0.2:
            return int(n * seconds / dt)
        n *= 2


def efficiency(runs: int = 5, trials: int = 6) -> None:
    n = _calibrate(1.0)
    space = tune.Space(n=tune.Fixed(n), x=tune.Uniform(0.0, 1.0))
    print(f"efficiency: {trials} trials of ~1 s each, {runs} interleaved runs")

    def timed(**kwargs: object) -> float:
        study = tune.Study("eff", seed=0)
        t0 = time.perf_counter()
        study.optimize(busy, space, n_trials=trials, **kwargs)  # type: ignore[arg-type]
        return time.perf_counter() - t0

    client = cluster = None
    try:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    except ImportError:
        print("  dask: distributed not installed, not measured")
    names = ("bare pool", "warm pool", "cold pool", "dask")
    times: dict[str, list[float]] = {"serial": [], **{name: [] for name in names}}
    with tune.process_pool(2) as pool, cf.ProcessPoolExecutor(2) as bare:
        for warm in (pool, bare):  # start the workers
            list(warm.map(int, range(4)))
        for _ in range(runs):
            times["serial"].append(timed())
            t0 = time.perf_counter()
            list(bare.map(busy_plain, [n] * trials))
            times["bare pool"].append(time.perf_counter() - t0)
            times["warm pool"].append(timed(executor=pool))
            times["cold pool"].append(timed(n_workers=2))
            if client is not None:
                times["dask"].append(timed(executor=client.get_executor()))
    if client is not None:
        client.close()
        cluster.close()  # type: ignore[union-attr]
    serial = statistics.median(times["serial"])
    print(f"  serial           median {serial:6.2f} s")
    for name in names:
        if times[name]:
            t = statistics.median(times[name])
            effs = sorted(s / (2 * p) for s, p in zip(times["serial"], times[name], strict=True))
            print(
                f"  {name:16s} median {t:6.2f} s  efficiency {serial / (2 * t):6.1%}  "
                f"(per run: {', '.join(f'{e:.0%}' for e in effs)})"
            )


# ---------------------------------------------------------------- ASHA

#: the course's space (``tune.default_space()``), and a wider, noisier one (rates up to 3)
SPACES = {
    "default_space": tune.default_space(),
    "wide": tune.Space(
        lr=tune.LogUniform(1e-3, 3.0),
        momentum=tune.OneMinusLogUniform(0.8, 0.99),
        hidden=tune.IntUniform(16, 64),
        layers=tune.IntUniform(1, 3),
        batch_size=tune.Choice([32, 64, 128]),
    ),
}


def asha(seeds: tuple[int, ...] = (0, 1, 2), n_workers: int = 2) -> None:
    for name, space in SPACES.items():
        print(f"asha: 27 digits-MLP configurations of {name}, up to 27 epochs, {n_workers} workers")
        _asha(space, seeds, n_workers)


def _asha(space: tune.Space, seeds: tuple[int, ...], n_workers: int) -> None:
    quality, budget = [], []
    for seed in seeds:
        t0 = time.perf_counter()
        full = tune.Study("full", seed=seed).caviar(
            tune.MLPTrainable, space, population=27, epochs=27, n_workers=n_workers
        )
        t_full = time.perf_counter() - t0
        t0 = time.perf_counter()
        fast = tune.Study("asha", seed=seed).caviar(
            tune.MLPTrainable,
            space,
            population=27,
            epochs=27,
            scheduler=tune.ASHA(),
            n_workers=n_workers,
        )
        t_asha = time.perf_counter() - t0
        best_full = min(t.value for t in full if t.state == "complete")  # type: ignore[type-var]
        best_asha = min(t.value for t in fast if t.state == "complete")  # type: ignore[type-var]
        used_full = sum(len(t.curve) for t in full)
        used_asha = sum(len(t.curve) for t in fast)
        quality.append(best_asha / best_full)
        budget.append(used_asha / used_full)
        print(
            f"  seed {seed}: all fully {best_full:.4f} ({used_full} epochs, {t_full:.1f} s); "
            f"ASHA {best_asha:.4f} ({used_asha} epochs, {t_asha:.1f} s): dev CE ratio "
            f"{quality[-1]:.3f}, epochs {budget[-1]:.1%}"
        )
    print(
        f"  ASHA / full: median dev CE ratio {statistics.median(quality):.3f} (target <= 1.05), "
        f"median epochs {statistics.median(budget):.1%} (target <= 25%)"
    )


# ---------------------------------------------------------------- panda


def fixed_run(lr: float, seed: int, epochs: int = 20) -> list[float]:
    model = tune.MLPTrainable({"lr": lr, "batch_norm": False, "seed": seed})
    return [model.step() for _ in range(epochs)]


def babysat(seed: int, epochs: int = 20) -> tuple[float, int, int, float]:
    study = tune.Study("panda", seed=0)
    params = {"lr": 100.0, "batch_norm": False, "seed": seed}
    trial = study.babysit(tune.MLPTrainable, params, epochs=epochs)
    rollbacks = sum(e["kind"] == "rollback" for e in trial.events)
    lrs = [e["values"]["lr"] for e in trial.events if e["kind"] == "set_params"]
    return trial.value, study.best_checkpoint().step, rollbacks, lrs[-1]  # type: ignore[return-value]


def panda(seeds: tuple[int, ...] = (3, 4, 5), epochs: int = 20) -> None:
    # DefaultPolicy's constants were chosen on seeds 0-2; these are held out
    print(f"panda: digits MLP without batch norm, started at lr = 100, {epochs} epochs")
    grid = np.logspace(-3, 2, 10)
    jobs = [(lr, seed) for seed in seeds for lr in grid]
    with tune.process_pool(2) as pool:
        curves = list(pool.map(fixed_run, *zip(*jobs, strict=True)))
        runs = list(pool.map(babysat, seeds))
    ratios = []
    for seed, (value, step, rollbacks, lr) in zip(seeds, runs, strict=True):
        mine = [c for (_, s), c in zip(jobs, curves, strict=True) if s == seed]
        finals = [c[-1] for c in mine]
        best = min(finals)
        best_lr = grid[finals.index(best)]
        print(
            f"  seed {seed}: fixed lr=100 ends at {mine[-1][-1]:.3f}; best fixed lr {best_lr:.3g} "
            f"ends at {best:.4f}; panda {value:.4f} (step {step}, {rollbacks} rollbacks, "
            f"final lr {lr:.3g}): ratio {value / best:.3f}; vs the grid's best epoch "
            f"{min(min(c) for c in mine):.4f}: {value / min(min(c) for c in mine):.3f}"
        )
        ratios.append(value / best)
    print(f"  panda / best fixed final: median {statistics.median(ratios):.3f} (target <= 1.10)")


# ---------------------------------------------------------------- PBT


class NoisyQuadratic:
    """SGD on a quadratic with gradient noise, through its exact second moment
    ``m <- (1 - lr)^2 m + lr^2`` from ``m = 1e6``; the metric is m."""

    mutable = ("lr",)

    def __init__(self, params: dict) -> None:
        self.lr = float(params["lr"])
        self.m = 1e6

    def step(self) -> float:
        self.m = (1.0 - self.lr) ** 2 * self.m + self.lr**2
        return self.m

    def state_dict(self) -> dict:
        return {"m": self.m, "lr": self.lr}

    def load_state_dict(self, state: dict) -> None:
        self.m, self.lr = float(state["m"]), float(state["lr"])

    def set_params(self, **changes: float) -> None:
        if set(changes) - {"lr"}:
            raise ValueError(f"only lr can change, got {sorted(changes)}")
        self.lr = float(changes.get("lr", self.lr))


def pbt(seeds: int = 10, epochs: int = 40, interval: int = 2) -> None:
    print(f"pbt: noisy quadratic, population 4, {epochs} epochs, interval {interval}")
    space = tune.Space(lr=tune.LogUniform(1e-3, 0.9))
    ratios = []
    for seed in range(seeds):
        members = tune.Study("pbt", seed=seed).pbt(
            NoisyQuadratic, space, population=4, epochs=epochs, interval=interval, n_workers=1
        )
        independent = []
        for params in space.sample(4, seed=seed):
            model = NoisyQuadratic(params)
            independent.append([model.step() for _ in range(epochs)][-1])
        ratios.append(min(independent) / min(m.value for m in members))  # type: ignore[type-var]
    wins = sum(r > 1 for r in ratios)
    print(
        f"  independent best / PBT best: median {statistics.median(ratios):.2f}, "
        f"PBT better on {wins}/{seeds} seeds ({', '.join(f'{r:.2f}' for r in ratios)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "parts", nargs="*", default=["efficiency", "asha", "panda", "pbt"],
        choices=["efficiency", "asha", "panda", "pbt"],
    )  # fmt: skip
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for part in args.parts:
        if part == "efficiency":
            efficiency(args.runs)
        elif part == "asha":
            asha()
        elif part == "panda":
            panda()
        else:
            pbt()
        print(flush=True)


if __name__ == "__main__":
    main()
