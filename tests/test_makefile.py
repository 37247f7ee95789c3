"""The Makefile's long targets say what they are doing before the extension's silent build."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def dry_run(target: str, venv: Path) -> list[str]:
    """The commands ``make target`` would run (``make -n``), one per line."""
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(ROOT), target, f"VENV={venv}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("target", ["demo", "test"])
def test_target_announces_the_build_and_keeps_pips_progress(target, tmp_path):
    lines = dry_run(target, tmp_path / "venv")
    (install,) = [i for i, line in enumerate(lines) if " pip " in line and " install " in line]
    said = [line for line in lines[:install] if line.startswith("echo ")]
    assert any("Rust extension" in line for line in said), lines
    assert "--quiet" not in lines[install].split()
    assert "-q" not in lines[install].split()
