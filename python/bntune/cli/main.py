"""The ``bntune`` command: ``demo``, ``run STUDY.toml``, ``show STUDY.db``, ``plot STUDY.db``,
``babysit STUDY.db --trial N``.

Exit codes: 0 success; 1 the work itself failed (e.g. `run` or `babysit --epochs` on a study a
running driver holds; `show`, `plot` and `babysit` without --epochs only read, needing no lease);
2 bad usage or a bad study file, with a message naming the offending option or key (an --out
that cannot be made or written in is checked before any work).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bntune import tune

USAGE_ERROR = 2


class UsageError(Exception):
    """Bad usage or configuration: reported in one line, exit code 2."""


def _integer(low: int, kind: str) -> Callable[[str], int]:
    """An argparse ``type``: an int >= ``low``, else "must be a <kind> integer, got '<text>'"."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be a {kind} integer, got {text!r}")
        return value

    return parse


_positive_int = _integer(1, "positive")
_seed = _integer(0, "non-negative")


def _out_dir(path: Path) -> None:
    """Makes ``--out`` (and its parents) and checks that files can be written in it, before any
    work: a bad path is a usage error naming it, not a traceback after the work is done."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out: {path} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"--out: cannot create the directory {path} ({err.strerror})") from None
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise UsageError(f"--out: cannot write files in {path} ({err.strerror})") from None


def _study_command(commands: Any, name: str, *, help: str, description: str) -> Any:
    """A command on a stored study: its ``STUDY.db`` argument and ``--study``."""
    parser = commands.add_parser(name, help=help, description=description)
    parser.add_argument("db", type=Path, metavar="STUDY.db")
    parser.add_argument("--study", help="which study, when the file holds several")
    return parser


def _parser() -> argparse.ArgumentParser:
    from bntune.cli.modes import NAMES as MODES

    parser = argparse.ArgumentParser(
        prog="bntune",
        description="Batch normalization that is fast and exact, and hyperparameter tuning done "
        "right. Run `bntune demo` to see it tune a network end to end.",
    )
    parser.add_argument("--version", action="version", version=f"bntune {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="tune the batch-norm MLP on digits end to end (~3 rounds x 12 trials)",
        description="Tunes the batch-norm MLP (Momentum optimizer) on scikit-learn's digits over "
        "the course's search space (learning rate on a log scale, momentum on the 1 - beta "
        "scale, hidden units, layers, mini-batch size, learning-rate decay), minimising the dev "
        "cross-entropy; prints a leaderboard and the importance ranking; writes the SQLite study, "
        "the best model and PNG plots to --out.",
    )
    demo.add_argument("--trials", type=_positive_int, default=12,
                      help="trials per round (default: 12)")  # fmt: skip
    demo.add_argument("--rounds", type=_positive_int, default=3,
                      help="coarse-to-fine rounds; random and grid run trials x rounds trials "
                      "(default: 3)")  # fmt: skip
    demo.add_argument("--mode", choices=MODES, default="coarse-to-fine",
                      help="how to search (default: coarse-to-fine, Sobol points); caviar trains "
                      "trials x rounds models in parallel, pbt a population of trials, panda "
                      "babysits one model")  # fmt: skip
    demo.add_argument("--workers", type=_positive_int, default=None,
                      help="worker processes for every mode but panda, which babysits one "
                      "model in this process (default: the cores)")  # fmt: skip
    demo.add_argument("--epochs", type=_positive_int, default=30,
                      help="epochs per trial (default: 30)")  # fmt: skip
    demo.add_argument("--seed", type=_seed, default=0, help="seed of the search (default: 0)")
    demo.add_argument("--out", type=Path, default=Path("bntune-demo"),
                      help="output directory (default: ./bntune-demo/)")  # fmt: skip
    demo.add_argument("--quiet", action="store_true", help="print nothing, draw no bars")

    run = commands.add_parser(
        "run",
        help="run a study described in a TOML file",
        description="Runs the study a TOML file describes ([study], [search], [objective], "
        "[space]; see bntune.config) and prints its summary. Re-running resumes it.",
    )
    run.add_argument("config", type=Path, metavar="STUDY.toml")
    run.add_argument("--retry-failed", action="store_true",
                     help="run the failed trials' configurations again (after fixing the "
                     "objective); function modes only")  # fmt: skip
    run.add_argument("--quiet", action="store_true", help="print nothing, draw no bars")

    show = _study_command(
        commands,
        "show",
        help="print a study's leaderboard, counts, best params and importance",
        description="Prints a stored study: counts of trials by state, the leaderboard, the best "
        "parameters and the importance ranking.",
    )
    show.add_argument("--top", type=_positive_int, default=10,
                      help="rows of the leaderboard (default: 10)")  # fmt: skip

    plot = _study_command(
        commands,
        "plot",
        help="draw a study's plots as PNG files",
        description="Writes curves.png, objective_vs_params.png and importance.png for a stored "
        "study.",
    )
    plot.add_argument("--out", type=Path, default=Path("."),
                      help="directory for the PNG files (default: .)")  # fmt: skip

    babysit = _study_command(
        commands,
        "babysit",
        help="show a babysat trial's curve and events, and continue it by hand",
        description="The panda workflow for a person: prints trial N's learning curve with the "
        "changes and rollbacks recorded at each epoch; with --epochs k, continues it for k "
        "epochs (no automatic policy) after applying --set changes, from its last checkpoint or "
        "from epoch E's with --rollback-to E.",
    )
    babysit.add_argument("--trial", type=int, required=True, metavar="N",
                         help="the trial's number")  # fmt: skip
    babysit.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                         help="change a hyperparameter first: --set lr=0.01 (repeats)")  # fmt: skip
    babysit.add_argument("--rollback-to", type=int, metavar="E",
                         help="restart from the checkpoint of epoch E")  # fmt: skip
    babysit.add_argument("--epochs", type=int, default=0, metavar="K",
                         help="epochs to continue for (default: 0, only show)")  # fmt: skip
    babysit.add_argument("--trainable", metavar="MODULE:CLASS",
                         help="the tune.Trainable to rebuild the model with (default: the one "
                         "recorded by bntune demo/run)")  # fmt: skip
    return parser


def _version() -> str:
    from bntune import __version__

    return __version__


def _demo(args: argparse.Namespace) -> int:
    from bntune.cli import demo
    from bntune.cli.modes import workers_error

    if workers_error(args.mode, args.workers) is not None:
        raise UsageError(
            f"--workers: {args.mode} runs in this process; drop --workers or use a mode with "
            f"workers (coarse-to-fine, random, grid, caviar, pbt), got --workers {args.workers}"
        )
    settings = demo.DemoSettings(
        trials=args.trials, rounds=args.rounds, mode=args.mode, seed=args.seed,
        out=args.out, epochs=args.epochs, quiet=args.quiet, workers=args.workers,
    )  # fmt: skip
    from bntune.cli.report import failures_exit_code

    _out_dir(args.out)
    args.saved_in = Path(args.out) / "study.db"
    with demo.run(settings) as study:
        return failures_exit_code(study, "demo")


def _run(args: argparse.Namespace) -> int:
    from bntune import tune
    from bntune.cli import config, study_changes
    from bntune.cli.modes import Run
    from bntune.cli.report import failures_exit_code, summary
    from bntune.cli.runner import ranked_numbers, run_mode, test_accuracies, trainable_models
    from bntune.mlp.objective import trial_artifacts

    try:
        cfg = config.load(args.config)
    except config.ConfigError as err:
        raise UsageError(f"{args.config}: {err}") from None
    trains = cfg.trainable is not None
    if args.retry_failed and trains:
        raise UsageError(f"--retry-failed: applies to function modes, not {cfg.mode!r}")
    try:
        study = tune.Study(cfg.name, storage=cfg.storage, direction=cfg.direction, seed=cfg.seed)
    except ValueError as err:  # a stored study made with another seed or direction
        raise UsageError(f"{args.config}: study: {err}") from None
    except tune.StorageError as err:  # not a study database, a newer one, no such directory
        raise UsageError(f"{args.config}: study.storage: {err}") from None
    args.saved_in = cfg.storage
    with study:
        try:
            said = study_changes.check(study, cfg)
        except study_changes.StudyChangedError as err:
            raise UsageError(f"{args.config}: {err}") from None
        if said is not None and not args.quiet:
            print(said)
        run = Run(trials=cfg.trials, rounds=cfg.rounds, method=cfg.method, top=cfg.top,
                  shrink=cfg.shrink,
                  sampler=cfg.sampler, epochs=cfg.epochs, workers=cfg.workers,
                  interval=cfg.interval, retry_failed=args.retry_failed)  # fmt: skip
        run_mode(study, cfg.trainable if trains else cfg.objective, cfg.space, mode=cfg.mode,
                 run=run, quiet=args.quiet,
                 objective_name="dev cross-entropy (nats)" if cfg.builtin else None)  # fmt: skip
        if not args.quiet:
            artifacts = None
            accuracy = None
            if cfg.builtin and not trains:
                artifacts = trial_artifacts(cfg.storage, cfg.name)
            elif cfg.builtin:
                models = trainable_models(study, cfg.trainable, ranked_numbers(study, 10))
                accuracy = test_accuracies(models)
            print(summary(study, artifacts=artifacts, test_accuracy=accuracy))
            print(f"\nstudy: {cfg.storage}")
        return failures_exit_code(study, "run")


def _open(args: argparse.Namespace, *, read_only: bool) -> tune.Study:
    """The study ``args.db`` / ``args.study``: ``read_only`` for commands that only read it
    (they need no lease, so they work while a driver is running the study)."""
    from bntune.cli.studyfile import StudyFileError, open_study

    try:
        return open_study(args.db, args.study, read_only=read_only)
    except StudyFileError as err:
        raise UsageError(str(err)) from None


def _show(args: argparse.Namespace) -> int:
    from bntune.cli.report import summary
    from bntune.cli.runner import ranked_numbers, test_accuracies, trainable_models
    from bntune.cli.studyfile import load_trainable
    from bntune.mlp.objective import trial_artifacts

    with _open(args, read_only=True) as study:
        artifacts = trial_artifacts(args.db, study.name)
        accuracy = None
        if load_trainable(study) == "bntune.mlp.trainable:MLPTrainable":
            from bntune.tune import MLPTrainable

            models = trainable_models(study, MLPTrainable, ranked_numbers(study, args.top))
            accuracy = test_accuracies(models)
        print(summary(study, artifacts=artifacts if artifacts.is_dir() else None, top=args.top,
                      test_accuracy=accuracy))  # fmt: skip
    return 0


def _plot(args: argparse.Namespace) -> int:
    from bntune.cli.studyfile import load_objective_name, load_space
    from bntune.plots import plot_study

    with _open(args, read_only=True) as study:
        _out_dir(args.out)
        space, name = load_space(study), load_objective_name(study)
        for path in plot_study(study, args.out, space=space, objective=name):
            print(path)
    return 0


def _babysit(args: argparse.Namespace) -> int:
    from bntune.cli import babysit as b
    from bntune.cli.studyfile import load_trainable

    try:
        changes = b.parse_set(args.set)
        if args.epochs < 0:
            raise b.BabysitUsageError(f"--epochs: must be >= 0, got {args.epochs}")
        if (changes or args.rollback_to is not None) and args.epochs == 0:
            raise b.BabysitUsageError(
                "--epochs: give the number of epochs to continue for with --set or --rollback-to"
            )
        # only showing reads; continuing trains, which takes the lease
        with _open(args, read_only=args.epochs == 0) as study:
            trial = b.find_trial(study, args.trial)
            print(b.describe(study, trial))
            if args.epochs == 0:
                return 0
            reference = args.trainable or load_trainable(study)
            if reference is None:
                raise b.BabysitUsageError(
                    "--trainable: the study does not record which tune.Trainable trained it; "
                    "name it, e.g. --trainable bntune.tune:MLPTrainable"
                )
            trainable = b.load_class(reference)
            trial = b.continue_trial(study, trial, trainable, changes=changes,
                                     rollback_to=args.rollback_to, epochs=args.epochs)  # fmt: skip
            print()
            print(b.describe(study, trial))
    except b.BabysitUsageError as err:
        raise UsageError(str(err)) from None
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bntune`` script; returns the exit code."""
    from bntune.tune import AllTrialsFailed, StudyLocked

    args = _parser().parse_args(argv)
    handlers = {"demo": _demo, "run": _run, "show": _show, "plot": _plot, "babysit": _babysit}
    handler = handlers[args.command]
    try:
        code = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's flush at exit
        return code
    except BrokenPipeError:
        # the reader went away (`bntune show STUDY.db | head`): stop without a traceback, and
        # point stdout at /dev/null so that the flush at exit does not fail again
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except UsageError as err:
        print(f"bntune {args.command}: error: {err}", file=sys.stderr)
        return USAGE_ERROR
    except StudyLocked as err:
        print(f"bntune {args.command}: {err}", file=sys.stderr)
        return 1
    except AllTrialsFailed as err:
        print(f"bntune {args.command}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        saved = getattr(args, "saved_in", None)
        where = f" in {saved}" if saved is not None else ""
        print(f"\nbntune {args.command}: interrupted; every finished trial is saved{where}. "
              f"Run the same command again to resume (the interrupted trial runs again).",
              file=sys.stderr)  # fmt: skip
        return 130
    except ImportError as err:
        print(f"bntune {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
