"""``bntune demo``: tune the batch-norm MLP on scikit-learn's digits, end to end, on embedded
defaults.

The course's search space (``tune.default_space("momentum")``): learning rate on a log scale,
momentum beta on the 1 - beta scale, hidden units, layers, mini-batch size and learning-rate
decay; the Momentum optimizer; coarse-to-fine Sobol search (3 rounds x 12 trials by default, each
round's trials on ``workers`` processes) minimising the dev cross-entropy after ``epochs``
epochs. Writes to ``out``: ``study.db`` (the SQLite study), ``best-model.npz`` (``nn.load``
reads it), ``study-trials/`` (per-trial metrics) and the plots.

Other modes: ``random`` and ``grid`` (trials x rounds trials, also on ``workers`` processes),
``caviar`` (a population of trials x rounds models trained in parallel, ``tune.MLPTrainable``),
``pbt`` (population based training of ``trials`` models) and ``panda`` (one model babysat by
``tune.DefaultPolicy`` from the centre of the space).
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bntune import tune
from bntune.cli.modes import MODES, Run
from bntune.cli.report import counts_text, importance_text, leaderboard
from bntune.cli.runner import (
    keep_best_model,
    ranked_numbers,
    run_mode,
    test_accuracies,
    trainable_models,
)
from bntune.mlp.objective import MLPObjective, trial_artifacts

OBJECTIVE = "dev cross-entropy (nats)"
#: where the panda demo starts: the course's defaults (momentum 0.9) and a middling network
PANDA_START = {"lr": 0.1, "momentum": 0.9, "hidden": 75, "batch_size": 64, "layers": 3,
               "lr_decay": 0.01}  # fmt: skip


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
    #: worker processes for random, grid, caviar and pbt (None: the cores)
    workers: int | None = None


def study_name(s: DemoSettings) -> str:
    """One study per setting, so that runs with other flags share the file without mixing."""
    return f"demo-{s.mode}-{s.trials}x{s.rounds}-e{s.epochs}-seed{s.seed}"


def show_command(storage: Path, name: str) -> str:
    """The ``bntune show`` command for this study, runnable as printed: with ``--study``, since
    runs with other flags add their own studies to the same file."""
    return f"bntune show {shlex.quote(str(storage))} --study {shlex.quote(name)}"


def _budget(s: DemoSettings) -> tuple[int, int]:
    """(trials argument of the mode, how many models it trains)."""
    if s.mode == "coarse-to-fine":
        return s.trials, s.trials * s.rounds
    if s.mode == "pbt":
        return s.trials, s.trials
    if s.mode == "panda":
        return 1, 1
    return s.trials * s.rounds, s.trials * s.rounds


def run(s: DemoSettings, stream: TextIO | None = None) -> tune.Study:
    """Runs the demo and prints its one-screen summary to ``stream`` (default: the current
    ``sys.stdout``, looked up at call time); returns the study (open)."""
    stream = sys.stdout if stream is None else stream
    out = Path(s.out)
    out.mkdir(parents=True, exist_ok=True)
    storage = out / "study.db"
    name = study_name(s)
    artifacts = trial_artifacts(storage, name)
    space = tune.default_space("momentum")
    trials, total = _budget(s)
    function_mode = not MODES[s.mode].trains
    objective = (
        MLPObjective(
            dataset="digits",
            epochs=s.epochs,
            optimizer="momentum",
            seed=s.seed,
            artifacts=artifacts,
        )
        if function_mode
        else tune.MLPTrainable
    )
    say = (lambda text: None) if s.quiet else (lambda text: print(text, file=stream, flush=True))
    what = "model" if total == 1 else "models"
    say(
        f"bntune demo: {s.mode} mode, {total} {what} of the batch-norm MLP (Momentum, "
        f"{s.epochs} epochs) on digits, minimising the dev cross-entropy -> {out}/"
    )
    t0 = time.perf_counter()
    study = tune.Study(name, storage=storage, seed=s.seed)
    run = Run(trials=trials, rounds=s.rounds, sampler=MODES[s.mode].sampler, epochs=s.epochs,
              workers=s.workers, start=PANDA_START)  # fmt: skip
    run_mode(study, objective, space, mode=s.mode, run=run, quiet=s.quiet,
             objective_name=OBJECTIVE)  # fmt: skip
    elapsed = time.perf_counter() - t0
    accuracy: dict[int, float] | None = None
    if function_mode:
        model = keep_best_model(study, artifacts, out / "best-model.npz")
    else:
        from bntune import nn

        models = trainable_models(study, tune.MLPTrainable, ranked_numbers(study, 5))
        accuracy = test_accuracies(models)
        model = None
        if models:
            model = out / "best-model.npz"
            nn.save(models[ranked_numbers(study, 1)[0]].model, model)
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
            "leaderboard (dev cross-entropy; test accuracy of the same model):",
            leaderboard(
                study,
                top=5,
                artifacts=artifacts if function_mode else None,
                test_accuracy=accuracy,
            ),
            "",
            importance_text(study) if len(study.trials) > 1 else "(one model: no ranking)",
            "",
            f"study:      {storage}   ({show_command(storage, name)})",
        ]
        if model is not None:
            lines.append(f"best model: {model}   (bntune.nn.load)")
        lines += [f"plot:       {p}" for p in written]
        if plots_note:
            lines.append(plots_note)
        print("\n".join(lines), file=stream, flush=True)
    return study
