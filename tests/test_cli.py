"""The ``bntune`` command through subprocesses: the demo with a tiny budget, run/show/plot on the
TOML fixtures, usage errors. Results are checked against independent recomputation (the saved
model re-evaluated on the digits split, the fixture objective's formula)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import fixture_objective  # noqa: E402


def bntune(*args: str | os.PathLike[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "bntune", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False,
    )  # fmt: skip


def png_ok(path: Path) -> None:
    """A real PNG with a picture in it: the signature, a decodable image of a sensible size, and
    pixels that are not all alike."""
    plt_image = pytest.importorskip("matplotlib.image")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = plt_image.imread(path)
    assert pixels.ndim == 3
    assert pixels.shape[0] >= 300
    assert pixels.shape[1] >= 500
    assert float(pixels[..., :3].std()) > 0.05
    # more than a blank canvas with a frame: many distinct colours
    assert len(np.unique(pixels[..., :3].reshape(-1, 3), axis=0)) > 50


def test_help_through_the_script_entry():
    result = bntune("--help")
    assert result.returncode == 0, result.stderr
    assert "usage: bntune" in result.stdout
    for command in ("demo", "run", "show", "plot"):
        assert command in result.stdout


@pytest.mark.parametrize(
    ("command", "expected"),
    [("demo", "--trials"), ("run", "STUDY.toml"), ("show", "STUDY.db"), ("plot", "--out")],
)
def test_help_everywhere(capsys, command, expected):
    from bntune.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: bntune {command}" in out
    assert expected in out


def test_demo_tiny_budget(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    from bntune import datasets, nn, tune

    out = tmp_path / "demo"
    # 16 trials: enough for an importance ranking of the 6 dimensions (it needs 2 (1 + 6))
    result = bntune("demo", "--trials", "8", "--rounds", "2", "--epochs", "2", "--seed", "1",
                    "--out", out)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "leaderboard" in result.stdout
    assert "importance" in result.stdout
    for name in ("curves.png", "objective_vs_params.png", "importance.png"):
        png_ok(out / name)

    with tune.Study("demo-coarse-to-fine-8x2-e2-seed1", storage=out / "study.db") as study:
        trials = study.trials
        best = study.best_trial
    assert len(trials) == 16
    assert sorted(t.round for t in trials) == [1] * 8 + [2] * 8
    done = [t for t in trials if t.state == "complete"]
    assert best.value == min(t.value for t in done)
    assert all(sorted(t.curve) == [1, 2] for t in done)

    # the saved model is the best trial's: re-evaluated independently, its dev loss is the
    # study's best value and its test accuracy the one the leaderboard prints
    model = nn.load(out / "best-model.npz")
    data = datasets.digits(0)
    dev_loss, _ = nn.evaluate(model, nn.SoftmaxCrossEntropy(), data.X_dev, data.y_dev)
    assert dev_loss == pytest.approx(best.value, rel=1e-5)
    _, test_accuracy = nn.evaluate(model, nn.SoftmaxCrossEntropy(), data.X_test, data.y_test)
    first_row = result.stdout.split("leaderboard")[1].splitlines()[2].split()
    assert first_row[:2] == ["1", str(best.number)]
    assert first_row[4] == f"{100 * test_accuracy:.1f}%"


@pytest.mark.parametrize("mode", ["random", "grid"])
def test_demo_other_modes(tmp_path, capsys, mode):
    pytest.importorskip("sklearn")
    from bntune import tune
    from bntune.cli import main

    out = tmp_path / mode
    code = main(["demo", "--mode", mode, "--trials", "2", "--rounds", "2", "--epochs", "1",
                 "--out", str(out), "--quiet", "--workers", "1"])  # fmt: skip
    assert code == 0
    assert capsys.readouterr().out == ""
    with tune.Study(f"demo-{mode}-2x2-e1-seed0", storage=out / "study.db") as study:
        trials = study.trials
    assert {t.round for t in trials} == {1}
    lrs = {t.params["lr"] for t in trials}
    if mode == "grid":
        # the course's point: a grid of 4 points over 6 dimensions (6 batch sizes alone fill
        # it) tries a single learning rate
        assert len(trials) == 4
        assert len(lrs) == 1
    else:
        assert len(trials) == 4
        assert len(lrs) == 4


def test_demo_show_hint_runs_after_runs_with_other_flags(tmp_path):
    # two demos with other flags into one --out put two studies in study.db; the printed
    # `bntune show` line must still run, and show the study of the demo that printed it
    pytest.importorskip("sklearn")
    import shlex

    out = tmp_path / "demo dir"  # a space: the printed line must quote the path
    flags = ["--rounds", "1", "--epochs", "1", "--workers", "1", "--out", out]
    first = bntune("demo", "--trials", "2", *flags, "--quiet")
    assert first.returncode == 0, first.stderr
    second = bntune("demo", "--trials", "3", *flags)
    assert second.returncode == 0, second.stderr
    [line] = [x for x in second.stdout.splitlines() if x.startswith("study:")]
    command = shlex.split(line.split("(", 1)[1].rstrip(")"))
    assert command[:2] == ["bntune", "show"]
    shown = bntune(*command[1:])
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("study 'demo-coarse-to-fine-3x1-e1-seed0' ")
    assert "\n3 trials: " in shown.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["demo", "--trials", "0"], "--trials"),
        (["demo", "--rounds", "x"], "--rounds"),
        (["demo", "--mode", "sideways"], "--mode"),
        (["demo", "--seed", "-1"], "--seed"),
        (["demo", "--workers", "0"], "--workers"),
        (["babysit", "x.db"], "--trial"),
        (["frobnicate"], "frobnicate"),
        (["show"], "STUDY.db"),
    ],
)
def test_bad_usage_exits_2(capsys, args, named):
    from bntune.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err


def test_workers_with_an_in_process_mode_exits_2(tmp_path, capsys):
    from bntune.cli import main

    args = ["demo", "--mode", "panda", "--workers", "2", "--out", str(tmp_path / "d")]
    assert main(args) == 2
    assert "--workers: panda runs in this process" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_bad_usage_exit_code_through_a_subprocess():
    result = bntune("demo", "--trials", "0")
    assert result.returncode == 2
    assert "--trials: must be a positive integer, got '0'" in result.stderr


def test_show_and_plot_on_a_missing_or_foreign_file(tmp_path):
    result = bntune("show", tmp_path / "nope.db")
    assert result.returncode == 2
    assert "no such study database" in result.stderr
    assert not (tmp_path / "nope.db").exists()
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite at all, just text that is long enough to be a header" * 4)
    result = bntune("plot", junk, "--out", tmp_path)
    assert result.returncode == 2
    assert "not a bntune study database" in result.stderr


def _plottable_study(db: Path) -> None:
    """A stored study with a few complete trials of the fixture objective."""
    from bntune import tune

    space = tune.Space(
        lr=tune.LogUniform(1e-4, 1.0),
        momentum=tune.OneMinusLogUniform(0.9, 0.999),
        width=tune.Uniform(-1.0, 1.0),
    )
    with tune.Study("s", storage=db, seed=0) as study:
        study.optimize(fixture_objective.objective, space, n_trials=4, sampler="random")


@pytest.mark.parametrize("command", ["demo", "plot"])
@pytest.mark.parametrize(
    ("under", "message"),
    [
        ("a-file", "--out: {out} exists and is not a directory"),
        ("a-file/sub", "--out: cannot create the directory {out} (Not a directory)"),
    ],
)
def test_a_bad_out_is_a_usage_error(tmp_path, command, under, message):
    # every command with --out: exit 2 and one line naming --out and the path, no traceback
    (tmp_path / "a-file").write_text("not a directory")
    out = tmp_path / under
    if command == "plot":
        _plottable_study(tmp_path / "s.db")
        args = ["plot", tmp_path / "s.db", "--out", out]
    else:
        args = ["demo", "--trials", "1", "--rounds", "1", "--epochs", "1", "--out", out]
    result = bntune(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"bntune {command}: error: {message.format(out=out)}"]
    assert "Traceback" not in result.stderr
    assert (tmp_path / "a-file").read_text() == "not a directory"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_out_where_nothing_can_be_written_is_a_usage_error(tmp_path):
    # /proc is a directory that exists, but no file can be made in it (not even by root)
    result = bntune("demo", "--trials", "1", "--rounds", "1", "--epochs", "1", "--out", "/proc")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("bntune demo: error: --out: cannot write files in /proc (")
    assert len(result.stderr.splitlines()) == 1


def test_run_show_plot_function_objective(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    for name in ("study_function.toml", "fixture_objective.py"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    result = bntune("run", "study_function.toml", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    db = tmp_path / "fixture-function.db"
    assert db.is_file()

    from bntune import tune

    with tune.Study("fixture-function", storage=db) as study:
        trials = study.trials
    assert len(trials) == 16
    for t in trials:  # the stored value is the objective's, by its formula
        assert t.value == pytest.approx(fixture_objective.value(t.params), rel=1e-12)
    best = min(trials, key=lambda t: t.value)

    from bntune.cli import main

    assert main(["show", str(db)]) == 0
    shown = capsys.readouterr().out
    assert "16 trials: 16 complete" in shown
    assert f"best: trial {best.number} " in shown
    assert "importance" in shown

    plotted = bntune("plot", db, "--out", tmp_path / "plots")
    assert plotted.returncode == 0, plotted.stderr
    files = sorted(Path(p).name for p in plotted.stdout.split())
    assert files == ["curves.png", "importance.png", "objective_vs_params.png"]
    for name in files:
        png_ok(tmp_path / "plots" / name)

    # running it again resumes: nothing new to do, same trials
    assert main(["run", str(tmp_path / "study_function.toml"), "--quiet"]) == 0
    with tune.Study("fixture-function", storage=db) as study:
        assert len(study.trials) == 16


def test_run_builtin_mlp_fixture(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from bntune import tune
    from bntune.cli import main

    shutil.copy(FIXTURES / "study_mlp.toml", tmp_path / "study_mlp.toml")
    assert main(["run", str(tmp_path / "study_mlp.toml")]) == 0
    out = capsys.readouterr().out
    assert "8 trials:" in out
    assert "test acc" in out

    with tune.Study("fixture-mlp", storage=tmp_path / "fixture-mlp.db") as study:
        trials = study.trials
    assert len(trials) == 8
    assert all(t.params["layers"] == 1 and 16 <= t.params["hidden"] <= 32 for t in trials)
    done = [t for t in trials if t.state == "complete"]
    assert done
    for t in done:
        artifacts = tmp_path / "fixture-mlp-trials" / "fixture-mlp"
        metrics = json.loads((artifacts / f"{t.number}.json").read_text())
        assert metrics["dev_loss"] == pytest.approx(t.value, rel=1e-12)
        assert 0.0 <= metrics["test_accuracy"] <= 1.0
        assert metrics["epochs"] == 2
        assert math.isfinite(t.value)
