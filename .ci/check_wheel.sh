#!/usr/bin/env bash
# Checks what `make build` left in DIR: exactly one abi3 wheel with a manylinux tag, which installs
# into a fresh virtualenv and imports with no source tree on the path; and an sdist beside it.
set -euo pipefail
dist=${1:?usage: check_wheel.sh DIST_DIR}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

shopt -s nullglob
wheels=("$dist"/bntune-"$version"-*.whl)
sdists=("$dist"/bntune-"$version".tar.gz)
[ ${#wheels[@]} -eq 1 ] || { echo "expected one wheel for $version in $dist, found: ${wheels[*]:-none}" >&2; exit 1; }
[ ${#sdists[@]} -eq 1 ] || { echo "expected the sdist bntune-$version.tar.gz in $dist" >&2; exit 1; }
wheel=${wheels[0]}
case "$(basename "$wheel")" in
  *-cp310-abi3-manylinux*) echo "wheel ok: $(basename "$wheel")" ;;
  *) echo "not an abi3 manylinux wheel: $(basename "$wheel")" >&2; exit 1 ;;
esac

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel"
cd "$scratch"
"$scratch/venv/bin/python" - <<'PY'
import bntune, pathlib
assert "site-packages" in pathlib.Path(bntune.__file__).parts, bntune.__file__
print(f"fresh venv: bntune {bntune.__version__}, simd_backend() = {bntune.simd_backend()!r}")
PY
