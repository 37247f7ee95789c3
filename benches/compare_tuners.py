"""Tuner benchmarks: per-trial overhead and search quality, side by side with Optuna.

    python benches/compare_tuners.py              # both parts, a few minutes
    python benches/compare_tuners.py overhead     # only the per-trial overhead
    python benches/compare_tuners.py quality --seeds 200 --optuna-seeds 30

Overhead: a trivial objective, so what is timed is the tuner (sampling, bookkeeping, storage).
bntune with SQLite at the default durability (WAL, synchronous=NORMAL), with durability="full",
and in memory; Optuna's RandomSampler with its SQLite storage and in memory (if installed).
Contenders run interleaved, several times; medians are printed. Flatness: per-trial time of the
first 1000 trials of fresh studies and of trials 7001-10000 of a big one, timed alternately.

Quality: median simple regret (best value found minus the known optimum) over many seeds with a
bootstrap 90% interval, at equal budget: coarse_to_fine 4 rounds x 15 trials (its defaults) vs
random search and Sobol with 60 trials on Hartmann-6, Branin and a function whose optimum lies
deep on log scales; random vs grid with 64 trials on a 6-D function where 2 dimensions matter.
Optuna's TPE and QMC samplers beside, on fewer seeds (they are slower).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable

import numpy as np

from bntune import tune

# ---------------------------------------------------------------- overhead


def _overhead_space() -> tune.Space:
    return tune.Space(
        lr=tune.LogUniform(1e-4, 1.0),
        beta=tune.OneMinusLogUniform(0.9, 0.999),
        hidden=tune.IntUniform(50, 100),
        batch=tune.Choice([64, 128, 256, 512]),
    )


def _trivial(trial) -> float:
    return trial.params["lr"]


def bntune_per_trial(storage: str | None, n: int, durability: str = "normal") -> float:
    """Seconds per trial of a fresh n-trial study."""
    study = tune.Study("bench", storage=storage, durability=durability, seed=0)
    t0 = time.perf_counter()
    study.optimize(_trivial, _overhead_space(), n_trials=n, sampler="random")
    elapsed = time.perf_counter() - t0
    study.close()
    return elapsed / n


def bntune_growth(
    tmp: str, n: int = 10_000, chunk: int = 200, repeats: int = 5
) -> tuple[float, float]:
    """Median seconds per trial of ``chunk`` trials on a fresh study and on one already holding
    ``n - chunk * repeats`` trials, timed alternately so that machine load hits both alike.
    (``n_trials`` counts the study's trials on this design, so each call adds ``chunk``.)"""
    space = _overhead_space()
    big = tune.Study("growth", storage=f"{tmp}/growth.db", seed=0)
    filled = n - chunk * repeats
    big.optimize(_trivial, space, n_trials=filled, sampler="random")
    small_times, big_times = [], []
    for r in range(repeats):
        small = tune.Study("fresh", storage=f"{tmp}/fresh{r}.db", seed=r)
        t0 = time.perf_counter()
        small.optimize(_trivial, space, n_trials=chunk, sampler="random")
        small_times.append((time.perf_counter() - t0) / chunk)
        small.close()
        t0 = time.perf_counter()
        big.optimize(_trivial, space, n_trials=filled + chunk * (r + 1), sampler="random")
        big_times.append((time.perf_counter() - t0) / chunk)
    big.close()
    return statistics.median(small_times), statistics.median(big_times)


def _define_by_run(trial) -> float:
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    trial.suggest_one_minus_log("beta", 0.9, 0.999)
    trial.suggest_int("hidden", 50, 100)
    trial.suggest_categorical("batch", [64, 128, 256, 512])
    return lr


def bntune_define_by_run_per_trial(storage: str | None, n: int) -> float:
    """Seconds per trial of a fresh n-trial study whose trials call ``trial.suggest_*``."""
    study = tune.Study("bench", storage=storage, seed=0)
    t0 = time.perf_counter()
    study.optimize(_define_by_run, n_trials=n, sampler="random")
    elapsed = time.perf_counter() - t0
    study.close()
    return elapsed / n


def optuna_per_trial(storage: str | None, n: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage, sampler=optuna.samplers.RandomSampler(seed=0), study_name="bench"
    )

    def objective(trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
        trial.suggest_float("one_minus_beta", 1e-3, 1e-1, log=True)
        trial.suggest_int("hidden", 50, 100)
        trial.suggest_categorical("batch", [64, 128, 256, 512])
        return lr

    t0 = time.perf_counter()
    study.optimize(objective, n_trials=n)
    return (time.perf_counter() - t0) / n


def _have_optuna() -> bool:
    try:
        import optuna  # noqa: F401
    except ImportError:
        return False
    return True


def overhead(repeats: int, n: int, optuna_sqlite_n: int) -> None:
    print("== per-trial overhead, trivial objective (medians of interleaved repeats) ==")
    have_optuna = _have_optuna()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tune.Space(x=tune.Uniform(0, 1)).sample(2, sampler="random", seed=0)  # warm imports
        for r in range(repeats):
            runs: list[tuple[str, Callable[[], float]]] = [
                ("bntune sqlite normal", lambda r=r: bntune_per_trial(f"{tmp}/n{r}.db", n)),
                ("bntune sqlite full", lambda r=r: bntune_per_trial(f"{tmp}/f{r}.db", n, "full")),
                ("bntune memory", lambda: bntune_per_trial(None, n)),
                (
                    "bntune define-by-run sqlite",
                    lambda r=r: bntune_define_by_run_per_trial(f"{tmp}/d{r}.db", n),
                ),
            ]
            if have_optuna:
                runs += [
                    (
                        "optuna sqlite random",
                        lambda r=r: optuna_per_trial(f"sqlite:///{tmp}/o{r}.db", optuna_sqlite_n),
                    ),
                    ("optuna memory random", lambda: optuna_per_trial(None, n)),
                ]
            for name, run in runs:
                results.setdefault(name, []).append(run())
        med = {k: statistics.median(v) for k, v in results.items()}
        for name, sec in med.items():
            trials = optuna_sqlite_n if name == "optuna sqlite random" else n
            print(f"  {name:24s} {sec * 1e3:8.3f} ms/trial   ({trials} trials x {repeats})")
        if have_optuna:
            print(
                f"  ratio optuna/bntune, sqlite: "
                f"{med['optuna sqlite random'] / med['bntune sqlite normal']:.1f}x   "
                f"memory: {med['optuna memory random'] / med['bntune memory']:.1f}x"
            )
        else:
            print("  optuna not installed: peer not measured")
        first, last = bntune_growth(tmp)
        print(
            f"  growth, sqlite normal: first trials of a study {first * 1e3:.3f} ms/trial, "
            f"trials 7001-10000 {last * 1e3:.3f} ms/trial (ratio {last / first:.2f})"
        )


# ---------------------------------------------------------------- test functions

HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
HARTMANN_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
HARTMANN_MIN = -3.32237


def hartmann6(x: np.ndarray) -> float:
    inner = np.sum(HARTMANN_A * (x - HARTMANN_P) ** 2, axis=1)
    return float(-np.sum(HARTMANN_ALPHA * np.exp(-inner)))


def branin(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


BRANIN_MIN = 0.397887

# optimum deep on log scales: lr = 10^-6.3 in [1e-8, 1], weight decay = 10^-7.4 in [1e-8, 1],
# 1 - beta = 10^-4.6 in [1e-5, 1e-1], and a plain dimension x = 0.4
DEEP_OPT = {"lr": -6.3, "wd": -7.4, "beta": -4.6, "x": 0.4}


def deep_log(p: dict) -> float:
    z = (
        ((math.log10(p["lr"]) - DEEP_OPT["lr"]) / 8) ** 2
        + ((math.log10(p["wd"]) - DEEP_OPT["wd"]) / 8) ** 2
        + ((math.log10(1 - p["beta"]) - DEEP_OPT["beta"]) / 4) ** 2
        + (p["x"] - DEEP_OPT["x"]) ** 2
    )
    return 1 - math.exp(-20 * z)  # a basin, flat far away: optimum 0


def _unit_space(d: int) -> tune.Space:
    return tune.Space(**{f"x{i}": tune.Uniform(0.0, 1.0) for i in range(d)})


PROBLEMS: dict[str, tuple[tune.Space, Callable[[dict], float], float]] = {
    "hartmann6": (
        _unit_space(6),
        lambda p: hartmann6(np.array([p[f"x{i}"] for i in range(6)])),
        HARTMANN_MIN,
    ),
    "branin": (
        tune.Space(x1=tune.Uniform(-5.0, 10.0), x2=tune.Uniform(0.0, 15.0)),
        lambda p: branin(p["x1"], p["x2"]),
        BRANIN_MIN,
    ),
    "deep_log": (
        tune.Space(
            lr=tune.LogUniform(1e-8, 1.0),
            wd=tune.LogUniform(1e-8, 1.0),
            beta=tune.OneMinusLogUniform(0.9, 0.99999),
            x=tune.Uniform(0.0, 1.0),
        ),
        deep_log,
        0.0,
    ),
    # 6-D, only x0 and x1 matter (Branin on them): the course's argument against grids
    "two_of_six": (
        _unit_space(6),
        lambda p: branin(-5 + 15 * p["x0"], 15 * p["x1"]),
        BRANIN_MIN,
    ),
}


# ---------------------------------------------------------------- quality


def regret_bntune(problem: str, method: str, seed: int) -> float:
    space, f, fmin = PROBLEMS[problem]
    study = tune.Study(problem, seed=seed)
    objective = lambda trial: f(trial.params)  # noqa: E731
    if method == "coarse_to_fine":
        study.coarse_to_fine(objective, space, rounds=4, trials_per_round=15)
    else:
        n = 64 if problem == "two_of_six" else 60
        study.optimize(objective, space, n_trials=n, sampler=method)
    return study.best_trial.value - fmin


def regret_optuna(problem: str, method: str, seed: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    space, f, fmin = PROBLEMS[problem]
    sampler = (
        optuna.samplers.TPESampler(seed=seed)
        if method == "optuna_tpe"
        else optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
    )
    study = optuna.create_study(sampler=sampler)

    def objective(trial) -> float:
        params = {}
        for name in space:
            dim = space[name]
            if isinstance(dim, tune.OneMinusLogUniform):
                params[name] = 1 - trial.suggest_float(name, 1 - dim.high, 1 - dim.low, log=True)
            else:
                log = isinstance(dim, tune.LogUniform)
                params[name] = trial.suggest_float(name, dim.low, dim.high, log=log)
        return f(params)

    study.optimize(objective, n_trials=60)
    return study.best_value - fmin


def median_ci(values: list[float], rng: np.random.Generator) -> tuple[float, float, float]:
    """Median and its bootstrap 90% interval (2000 resamples)."""
    v = np.asarray(values)
    boots = np.median(rng.choice(v, size=(2000, v.size), replace=True), axis=1)
    return float(np.median(v)), float(np.quantile(boots, 0.05)), float(np.quantile(boots, 0.95))


def quality(seeds: int, optuna_seeds: int) -> None:
    print(f"== search quality: median simple regret, bootstrap 90% interval, {seeds} seeds ==")
    rng = np.random.default_rng(2024)
    have_optuna = _have_optuna() and optuna_seeds > 0
    for problem in ("hartmann6", "deep_log", "branin"):
        medians = {}
        for method in ("coarse_to_fine", "random", "sobol"):
            t0 = time.perf_counter()
            regrets = [regret_bntune(problem, method, s) for s in range(seeds)]
            med, lo, hi = median_ci(regrets, rng)
            medians[method] = (med, regrets)
            took = time.perf_counter() - t0
            print(f"  {problem:10s} {method:15s} {med:.4g}  [{lo:.4g}, {hi:.4g}]  ({took:.0f} s)")
        if have_optuna:
            for method in ("optuna_tpe", "optuna_qmc"):
                regrets = [regret_optuna(problem, method, s) for s in range(optuna_seeds)]
                med, lo, hi = median_ci(regrets, rng)
                print(
                    f"  {problem:10s} {method:15s} {med:.4g}  [{lo:.4g}, {hi:.4g}]"
                    f"  ({optuna_seeds} seeds)"
                )
        c2f, rnd = medians["coarse_to_fine"][1], medians["random"][1]
        ratios = [
            np.median(rng.choice(c2f, len(c2f))) / np.median(rng.choice(rnd, len(rnd)))
            for _ in range(2000)
        ]
        print(
            f"  {problem:10s} ratio coarse_to_fine / random: "
            f"{medians['coarse_to_fine'][0] / medians['random'][0]:.3f}  "
            f"[{np.quantile(ratios, 0.05):.3f}, {np.quantile(ratios, 0.95):.3f}]  (target <= 0.5)"
        )
    regrets = [regret_bntune("two_of_six", "random", s) for s in range(seeds)]
    med, lo, hi = median_ci(regrets, rng)
    grid = regret_bntune("two_of_six", "grid", 0)  # the grid does not depend on the seed
    print(f"  two_of_six random(64)   {med:.4g}  [{lo:.4g}, {hi:.4g}]")
    print(f"  two_of_six grid(64)     {grid:.4g}  (2 levels per dimension, 4 distinct (x0, x1))")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", choices=["overhead", "quality", "all"], default="all")
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--optuna-seeds", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--optuna-sqlite-trials", type=int, default=100)
    args = parser.parse_args()
    print(f"bntune {tune.__name__}  pid {os.getpid()}")
    if args.part in ("overhead", "all"):
        overhead(args.repeats, args.trials, args.optuna_sqlite_trials)
    if args.part in ("quality", "all"):
        quality(args.seeds, args.optuna_seeds)


if __name__ == "__main__":
    main()
