"""``bntune demo``: tune the batch-norm MLP on scikit-learn's digits, end to end, on embedded
defaults.

The course's search space (``tune.default_space("momentum")``): learning rate on a log scale,
momentum beta on the 1 - beta scale, hidden units, layers, mini-batch size and learning-rate
decay; the Momentum optimizer; coarse-to-fine Sobol search (3 rounds x 12 trials by default)
minimising the dev cross-entropy after ``epochs`` epochs. Writes to ``out``: ``study.db`` (the
SQLite study), ``best-model.npz`` (``nn.load`` reads it), ``study-trials/`` (per-trial metrics)
and the plots.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bntune import tune
from bntune.mlp_objective import MLPObjective, trial_artifacts
from bntune.report import counts_text, importance_text, leaderboard
from bntune.runner import keep_best_model, planned_trials, run_mode

MODES = ("coarse-to-fine", "random", "grid")
OBJECTIVE = "dev cross-entropy (nats)"


@dataclass
class DemoSettings:
    """The demo's knobs (the command line's flags)."""

    trials: int = 12
    rounds: int = 3
    mode: str = "coarse-to-fine"
    seed: int = 0
    out: Path = Path("bntune-demo")
    epochs: int = 30
    quiet: bool = False


def study_name(s: DemoSettings) -> str:
    """One study per setting, so that runs with other flags share the file without mixing."""
    rounds = f"x{s.rounds}" if s.mode == "coarse-to-fine" else ""
    return f"demo-{s.mode}-{s.trials}{rounds}-e{s.epochs}-seed{s.seed}"


def run(s: DemoSettings, stream: TextIO = sys.stdout) -> tune.Study:
    """Runs the demo and prints its one-screen summary to ``stream``; returns the study (open)."""
    out = Path(s.out)
    out.mkdir(parents=True, exist_ok=True)
    storage = out / "study.db"
    name = study_name(s)
    artifacts = trial_artifacts(storage, name)
    space = tune.default_space("momentum")
    objective = MLPObjective(dataset="digits", epochs=s.epochs, optimizer="momentum",
                             seed=s.seed, artifacts=artifacts)  # fmt: skip
    total = planned_trials(s.mode, s.trials, s.rounds)
    say = (lambda text: None) if s.quiet else (lambda text: print(text, file=stream, flush=True))
    say(
        f"bntune demo: {s.mode} search, {total} trials of the batch-norm MLP (Momentum, "
        f"{s.epochs} epochs) on digits, minimising the dev cross-entropy -> {out}/"
    )
    t0 = time.perf_counter()
    study = tune.Study(name, storage=storage, seed=s.seed)
    sampler = {"coarse-to-fine": "sobol", "random": "random", "grid": "grid"}[s.mode]
    trials = s.trials * s.rounds if s.mode != "coarse-to-fine" else s.trials
    run_mode(study, objective, space, mode=s.mode, sampler=sampler, trials=trials,
             rounds=s.rounds, quiet=s.quiet, epochs=s.epochs,
             objective_name=OBJECTIVE)  # fmt: skip
    elapsed = time.perf_counter() - t0
    model = keep_best_model(study, artifacts, out / "best-model.npz")
    written = []
    try:
        from bntune.plots import plot_study

        written = plot_study(study, out, space=space, objective=OBJECTIVE)
        plots_note = ""
    except ImportError as err:
        plots_note = f"plots skipped: {err}"
    if not s.quiet:
        lines = [
            "",
            f"{counts_text(study)} in {elapsed:.0f} s",
            "",
            "leaderboard (dev cross-entropy after the last epoch; test accuracy of that model):",
            leaderboard(study, top=5, artifacts=artifacts),
            "",
            importance_text(study),
            "",
            f"study:      {storage}   (bntune show {storage})",
        ]
        if model is not None:
            lines.append(f"best model: {model}   (bntune.nn.load)")
        lines += [f"plot:       {p}" for p in written]
        if plots_note:
            lines.append(plots_note)
        print("\n".join(lines), file=stream, flush=True)
    return study
