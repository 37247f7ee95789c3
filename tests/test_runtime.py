"""The package's process-wide surface: version, SIMD dispatch, thread pool, exception classes."""

import os
import pydoc
import subprocess
import sys
from pathlib import Path

import pytest

import bntune

REPO = Path(__file__).resolve().parents[1]


def _cargo_version() -> str:
    for line in (REPO / "Cargo.toml").read_text().splitlines():
        if line.startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    raise AssertionError("Cargo.toml has no version line")


def test_version_comes_from_cargo_toml():
    assert bntune.__version__ == _cargo_version()


def test_version_matches_installed_metadata():
    from importlib.metadata import version

    assert version("bntune") == bntune.__version__


def _backend_in_subprocess(value: str | None) -> str:
    env = dict(os.environ)
    env.pop("BNTUNE_SIMD", None)
    if value is not None:
        env["BNTUNE_SIMD"] = value
    out = subprocess.run(
        [sys.executable, "-c", "import bntune; print(bntune.simd_backend())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def test_simd_backend_is_a_known_name():
    assert bntune.simd_backend() in {"scalar", "avx2+fma", "avx512", "neon"}


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="needs /proc/cpuinfo")
def test_simd_backend_matches_the_cpu():
    flags = _cpu_flags()
    expected = "avx2+fma" if {"avx2", "fma"} <= flags else "scalar"
    assert _backend_in_subprocess(None) == expected


def test_bntune_simd_scalar_forces_the_scalar_path():
    assert _backend_in_subprocess("scalar") == "scalar"
    assert _backend_in_subprocess("Scalar") == "scalar"


def test_unknown_bntune_simd_value_falls_back_to_detection():
    assert _backend_in_subprocess("no-such-isa") == _backend_in_subprocess(None)


@pytest.fixture
def restore_threads():
    before = bntune.get_num_threads()
    yield
    bntune.set_num_threads(before)


def test_default_thread_count_is_the_available_cores():
    code = "import bntune; print(bntune.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == len(os.sched_getaffinity(0))


@pytest.mark.usefixtures("restore_threads")
def test_set_num_threads_round_trips():
    for n in (1, 2, 3):
        bntune.set_num_threads(n)
        assert bntune.get_num_threads() == n


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize("bad", [0, -1])
def test_set_num_threads_rejects_non_positive(bad):
    before = bntune.get_num_threads()
    with pytest.raises(ValueError, match="n must be"):
        bntune.set_num_threads(bad)
    assert bntune.get_num_threads() == before


@pytest.mark.usefixtures("restore_threads")
def test_set_num_threads_rejects_absurd_counts():
    with pytest.raises(ValueError, match="n must be"):
        bntune.set_num_threads(10**9)


def test_set_num_threads_rejects_non_integers():
    with pytest.raises(TypeError):
        bntune.set_num_threads(2.5)  # type: ignore[arg-type]


def test_exception_hierarchy():
    assert issubclass(bntune.BntuneError, Exception)
    assert issubclass(bntune.ShapeError, bntune.BntuneError)
    assert issubclass(bntune.ShapeError, ValueError)
    assert issubclass(bntune.DtypeError, bntune.BntuneError)
    assert issubclass(bntune.DtypeError, TypeError)
    assert not issubclass(bntune.ShapeError, TypeError)
    for cls in (bntune.BntuneError, bntune.ShapeError, bntune.DtypeError):
        assert cls.__module__ == "bntune"
        assert cls.__doc__


def test_exceptions_can_be_raised_and_caught_as_python_classes():
    with pytest.raises(ValueError, match="bad shape"):
        raise bntune.ShapeError("bad shape")
    with pytest.raises(TypeError, match="bad dtype"):
        raise bntune.DtypeError("bad dtype")


def test_public_names_are_exported():
    for name in bntune.__all__:
        assert hasattr(bntune, name), name


def test_help_says_what_bntune_is_not_what_exceptions_inherit():
    text = pydoc.render_doc(bntune, renderer=pydoc.plaintext)
    doc = bntune.__doc__
    assert "batch normalization" in doc.splitlines()[0].lower()
    for part in ("functional", "qmc", "nn", "optim", "datasets", "tune", "plots", "mlp"):
        assert f"``{part}``" in doc, part
    for error in ("BntuneError", "ShapeError", "DtypeError", "TrainingDiverged"):
        assert error in doc
        assert isinstance(getattr(bntune, error), type)  # still public
    assert "inherited from" not in text  # no page of BaseException's methods
    assert len(text.splitlines()) < 100
