"""``bntune demo`` in the trainable modes (caviar, PBT, panda) and ``bntune babysit``, checked
against independent replays with ``tune.MLPTrainable`` and ``nn.evaluate``."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")
from bntune import datasets, nn, tune
from bntune.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def dev_loss(model):
    data = datasets.digits(0)
    return nn.evaluate(model, nn.SoftmaxCrossEntropy(), data.X_dev, data.y_dev)[0]


def test_demo_caviar_saves_the_best_checkpoint(tmp_path, capsys):
    out = tmp_path / "caviar"
    args = ["demo", "--mode", "caviar", "--trials", "3", "--rounds", "1", "--epochs", "2"]
    assert main([*args, "--workers", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 trials: 3 complete" in printed
    assert "test acc" in printed
    with tune.Study("demo-caviar-3x1-e2-seed0", storage=out / "study.db") as study:
        trials = study.trials
        best = study.best_trial
    assert len(trials) == 3
    assert all(sorted(t.curve) == [1, 2] for t in trials)
    # the saved model scores, re-evaluated, the best value the best trial recorded
    best_curve = min(v for v in best.curve.values() if np.isfinite(v))
    assert dev_loss(nn.load(out / "best-model.npz")) == pytest.approx(best_curve, rel=1e-5)
    assert (out / "curves.png").read_bytes()[:8] == PNG

    # show reads the recorded trainable back and measures the test accuracy of the best model
    assert main(["show", str(out / "study.db")]) == 0
    shown = capsys.readouterr().out
    data = datasets.digits(0)
    _, acc = nn.evaluate(nn.load(out / "best-model.npz"), nn.SoftmaxCrossEntropy(), data.X_test,
                         data.y_test)  # fmt: skip
    first_row = shown.split("test acc")[1].splitlines()[1].split()
    assert first_row[1] == str(best.number)
    assert first_row[4] == f"{100 * acc:.1f}%"


def test_demo_pbt_runs_a_population(tmp_path, capsys):
    out = tmp_path / "pbt"
    args = ["demo", "--mode", "pbt", "--trials", "4", "--epochs", "2", "--quiet"]
    assert main([*args, "--workers", "1", "--out", str(out)]) == 0
    with tune.Study("demo-pbt-4x3-e2-seed0", storage=out / "study.db") as study:
        trials = study.trials
    assert len(trials) == 4
    assert all(max(t.curve) == 2 for t in trials)
    assert (out / "best-model.npz").is_file()


def run_cli(*args):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "bntune", *map(str, args)],
        capture_output=True, text=True, timeout=300, check=False, env=env,
    )  # fmt: skip


def test_panda_demo_then_babysit_by_hand(tmp_path, capsys):
    out = tmp_path / "panda"
    assert main(["demo", "--mode", "panda", "--epochs", "3", "--out", str(out), "--quiet"]) == 0
    timeline = out / "panda_timeline.png"
    assert timeline.read_bytes()[:8] == PNG
    db = out / "study.db"
    name = "demo-panda-12x3-e3-seed0"
    with tune.Study(name, storage=db) as study:
        (trial,) = study.trials
        start_params = dict(trial.params)
        events = list(trial.events)
    assert sorted(trial.curve) == [1, 2, 3]

    shown = run_cli("babysit", db, "--trial", "0")
    assert shown.returncode == 0, shown.stderr
    assert f"trial 0 of study {name!r}" in shown.stdout
    for step in (1, 2, 3):
        assert f"\n{step:>5}  {trial.curve[step]:>10.5g}" in shown.stdout

    # continue by hand: back to epoch 1's checkpoint, lr 0.05, two more epochs
    resumed = run_cli("babysit", db, "--trial", "0", "--rollback-to", "1", "--set", "lr=0.05",
                      "--epochs", "2")  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    with tune.Study(name, storage=db) as study:
        (after,) = study.trials
    assert sorted(after.curve) == [1, 2, 3, 4, 5]
    assert {"kind": "resume", "epoch": 3, "from": 1} in after.events
    assert {"kind": "set_params", "epoch": 3, "values": {"lr": 0.05}} in after.events

    # independent replay: the policy's changes up to epoch 1, epoch 1's state, then lr = 0.05
    replay = tune.MLPTrainable(start_params)
    replay.step()
    for e in events:
        if e["epoch"] == 1 and e["kind"] == "set_params":
            replay.set_params(**e["values"])
        assert e["kind"] != "rollback" or e["epoch"] > 1
    replay.set_params(lr=0.05)
    values = [replay.step(), replay.step()]
    np.testing.assert_allclose(values, [after.curve[4], after.curve[5]], rtol=1e-6)


def test_babysit_mistakes_exit_2(tmp_path, capsys):
    out = tmp_path / "panda"
    assert main(["demo", "--mode", "panda", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    db = out / "study.db"
    cases = [
        (["--trial", "4"], "--trial: study"),
        (["--trial", "0", "--set", "hidden=3", "--epochs", "1"], "--set: hidden cannot change"),
        (["--trial", "0", "--set", "lr", "--epochs", "1"], "--set: expected name=value"),
        (["--trial", "0", "--rollback-to", "7", "--epochs", "1"], "--rollback-to: trial 0 has no"),
        (["--trial", "0", "--set", "lr=0.1"], "--epochs: give the number"),
    ]
    for args, message in cases:
        assert main(["babysit", str(db), *args]) == 2, args
        assert f"bntune babysit: error: {message}" in capsys.readouterr().err

    # a trial that was not babysat cannot be continued
    fn_out = tmp_path / "random"
    assert main(["demo", "--mode", "random", "--trials", "1", "--rounds", "2", "--epochs", "1",
                 "--workers", "1", "--out", str(fn_out), "--quiet"]) == 0  # fmt: skip
    code = main(["babysit", str(fn_out / "study.db"), "--trial", "0", "--epochs", "1",
                 "--trainable", "bntune.tune:MLPTrainable"])  # fmt: skip
    assert code == 2
    assert "--trial: trial 0 was not babysat" in capsys.readouterr().err
