"""Bad study files: each kind of mistake makes ``bntune run`` exit 2 with a message naming the
key at fault (through a subprocess, as a user meets it)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

GOOD = {
    "study": 'name = "s"\nseed = 1',
    "search": 'mode = "random"\ntrials = 2',
    "objective": 'function = "math:fsum"',
    "space": 'lr = { scale = "log", low = 1e-4, high = 1.0 }',
}


def study_file(**sections: str | None) -> str:
    """The GOOD study with some sections replaced (None drops a section)."""
    parts = []
    for name, body in {**GOOD, **sections}.items():
        if body is not None:
            parts.append(f"[{name}]\n{body}\n")
    return "\n".join(parts)


BAD = [
    # (what is wrong, the file, the key the message must name, a phrase it must contain)
    ("not TOML", "[study\nname = 's'", "not valid TOML", "line 1"),
    ("unknown section", study_file() + "\n[serach]\nmode = 'grid'\n", "serach", "unknown key"),
    ("missing section", study_file(space=None), "space", "missing section"),
    ("missing name", study_file(study="seed = 1"), "study.name", "missing"),
    ("unknown study key", study_file(study='name = "s"\nsede = 1'), "study.sede", "unknown key"),
    ("bad direction", study_file(study='name = "s"\ndirection = "down"'), "study.direction",
     "minimize"),
    ("negative seed", study_file(study='name = "s"\nseed = -3'), "study.seed", "non-negative"),
    ("bad mode", study_file(search='mode = "sideways"'), "search.mode", "coarse-to-fine"),
    ("bad sampler", study_file(search='mode = "random"\nsampler = "sobel"'), "search.sampler",
     "sobol"),
    ("zero trials", study_file(search='mode = "random"\ntrials = 0'), "search.trials",
     "positive integer"),
    ("trials as text", study_file(search='trials = "ten"'), "search.trials", "positive integer"),
    ("rounds without coarse-to-fine", study_file(search='mode = "random"\nrounds = 3'),
     "search.rounds", "only applies"),
    ("top out of range", study_file(search="top = 1.5"), "search.top", "fraction"),
    ("unknown method", study_file(search='mode = "coarse-to-fine"\nmethod = "trust"'),
     "search.method", "adaptive"),
    ("top with the adaptive method",
     study_file(search='mode = "coarse-to-fine"\nmethod = "adaptive"\ntop = 0.1'), "search.top",
     'method = "zoom"'),
    ("method without coarse-to-fine", study_file(search='mode = "random"\nmethod = "zoom"'),
     "search.method", "only applies"),
    ("two objectives", study_file(objective='builtin = "mlp"\nfunction = "math:fsum"'),
     "objective", "exactly one"),
    ("bad function reference", study_file(objective='function = "math.fsum"'),
     "objective.function", "module:function"),
    ("missing module", study_file(objective='function = "no_such_module_xyz:f"'),
     "objective.function", "cannot import"),
    ("missing function", study_file(objective='function = "math:no_such_function"'),
     "objective.function", "no attribute"),
    ("unknown dataset", study_file(objective='builtin = "mlp"\ndataset = "mnist"'),
     "objective.dataset", "digits"),
    ("unknown optimizer", study_file(objective='builtin = "mlp"\noptimizer = "adagrad"'),
     "objective.optimizer", "momentum"),
    ("builtin with an unused hyperparameter",
     study_file(objective='builtin = "mlp"', space='dropout = { scale = "linear", low = 0, high = 1 }'),  # noqa: E501
     "space.dropout", "does not use"),
    ("log scale with a non-positive bound",
     study_file(space='lr = { scale = "log", low = 0, high = 1 }'), "space.lr.low", "> 0"),
    ("low above high", study_file(space='lr = { scale = "log", low = 1, high = 1e-4 }'),
     "space.lr.low", "< high"),
    ("beta bound at 1",
     study_file(space='momentum = { scale = "one-minus-log", low = 0.9, high = 1.0 }'),
     "space.momentum.high", "1 - high > 0"),
    ("unknown scale", study_file(space='lr = { scale = "logarithmic", low = 1e-4, high = 1 }'),
     "space.lr.scale", "one-minus-log"),
    ("missing bound", study_file(space='lr = { scale = "log", low = 1e-4 }'), "space.lr.high",
     "missing"),
    ("non-integer int bound", study_file(space='hidden = { scale = "int", low = 1.5, high = 9 }'),
     "space.hidden.low", "integer"),
    ("empty choices", study_file(space="batch_size = { choices = [] }"),
     "space.batch_size.choices", "empty"),
    ("dimension not a table", study_file(space="lr = 0.1"), "space.lr", "must be a table"),
    ("a function for a trainable mode", study_file(search='mode = "caviar"'),
     "objective.function", "tune.Trainable"),
    ("a trainable for a function mode", study_file(objective='trainable = "bntune.tune:MLPTrainable"'),  # noqa: E501
     "objective.trainable", "calls a function"),
    ("a trainable that is no class",
     study_file(search='mode = "pbt"', objective='trainable = "math:fsum"'),
     "objective.trainable", "not a class"),
    ("interval outside pbt", study_file(search='mode = "caviar"\ninterval = 2'),
     "search.interval", "pbt"),
    ("workers for panda", study_file(search='mode = "panda"\nworkers = 2'), "search.workers",
     "driver's process"),
    ("a sampler for caviar", study_file(search='mode = "caviar"\nsampler = "halton"'),
     "search.sampler", "Sobol"),
    ("unknown dimension key",
     study_file(space='lr = { scale = "log", low = 1e-4, high = 1, step = 2 }'),
     "space.lr.step", "unknown key"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "text", "key", "phrase"), BAD, ids=[b[0] for b in BAD])
def test_bad_config_exits_2_naming_the_key(tmp_path, capsys, what, text, key, phrase):
    from bntune.cli import main

    path = tmp_path / "study.toml"
    path.write_text(text)
    assert main(["run", str(path)]) == 2, what
    captured = capsys.readouterr()
    assert captured.out == ""
    message = captured.err.strip().splitlines()[-1]
    assert message.startswith(f"bntune run: error: {path}: ")
    assert key in message, message
    assert phrase in message, message
    assert not (tmp_path / "s.db").exists()  # nothing was created


def test_bad_config_through_a_subprocess(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(study_file(space='lr = { scale = "log", low = -1, high = 1 }'))
    result = subprocess.run(
        [sys.executable, "-m", "bntune", "run", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
        env=dict(os.environ, OPENBLAS_NUM_THREADS="1"),
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"bntune run: error: {path}: space.lr.low: must be > 0 on a log scale, got -1"
    )


def test_config_parse_in_process_matches_the_scales():
    # the same checks in process: a valid file becomes the tune dimensions it describes
    from pathlib import Path

    from bntune import tune
    from bntune.cli import config

    cfg = config.parse(
        study_file(
            space='lr = { scale = "log", low = 1e-4, high = 1.0 }\n'
            'momentum = { scale = "one-minus-log", low = 0.9, high = 0.999 }\n'
            'hidden = { scale = "int", low = 50, high = 100 }\n'
            'depth = { scale = "int-log", low = 1, high = 64 }\n'
            'width = { scale = "linear", low = -1, high = 1 }\n'
            "batch_size = { choices = [64, 128] }\n"
            'act = { value = "relu" }'
        ),
        base=Path("/tmp"),
    )
    space = cfg.space
    assert space["lr"] == tune.LogUniform(1e-4, 1.0)
    assert space["momentum"] == tune.OneMinusLogUniform(0.9, 0.999)
    assert space["hidden"] == tune.IntUniform(50, 100)
    assert space["depth"] == tune.IntLogUniform(1, 64)
    assert space["width"] == tune.Uniform(-1, 1)
    assert space["batch_size"] == tune.Choice([64, 128])
    assert space["act"] == tune.Fixed("relu")
    assert cfg.storage == Path("/tmp/s.db")
    assert (cfg.mode, cfg.sampler, cfg.trials, cfg.seed) == ("random", "random", 2, 1)


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("", ("adaptive", None, None)),
        ('method = "zoom"', ("zoom", 0.05, 0.5)),
        ("top = 0.2", ("zoom", 0.2, 0.5)),  # the zoom rule's knobs choose it
        ('shrink = 0.7\nmethod = "zoom"', ("zoom", 0.05, 0.7)),
    ],
)
def test_coarse_to_fine_method_defaults_to_adaptive_and_top_or_shrink_mean_zoom(search, expected):
    from pathlib import Path

    from bntune.cli import config

    cfg = config.parse(study_file(search=f'mode = "coarse-to-fine"\n{search}'), base=Path("/tmp"))
    assert (cfg.method, cfg.top, cfg.shrink) == expected


def test_caviar_study_file_trains_the_builtin_mlp(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from bntune import tune
    from bntune.cli import main

    path = tmp_path / "caviar.toml"
    path.write_text(
        study_file(
            search='mode = "caviar"\ntrials = 2\nworkers = 1',
            objective='builtin = "mlp"\nepochs = 2\noptimizer = "adam"',
            space='lr = { scale = "log", low = 1e-3, high = 1e-2 }\n'
            'hidden = { scale = "int", low = 8, high = 16 }',
        )
    )
    assert main(["run", str(path)]) == 0
    assert "test acc" in capsys.readouterr().out
    with tune.Study("s", storage=tmp_path / "s.db") as study:
        trials = study.trials
    assert len(trials) == 2
    assert all(t.params["optimizer"] == "adam" and sorted(t.curve) == [1, 2] for t in trials)
    assert all(1e-3 <= t.params["lr"] <= 1e-2 and 8 <= t.params["hidden"] <= 16 for t in trials)
