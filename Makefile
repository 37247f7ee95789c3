# bntune's everyday commands. `make` alone lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
export CARGO_TERM_COLOR ?= never
# extras `make test` installs; CI adds torch (`make test EXTRAS=test,torch`)
EXTRAS ?= test

.PHONY: help venv demo test test-rust test-python lint fmt bench build sdist wheel-check dev clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)

venv: $(PY) ## create the virtualenv (.venv) used by every target

# pip builds the Rust extension without a word for a minute or more: say so first, and keep
# pip's own progress lines (only the "already satisfied" ones are dropped).
BUILD_NOTE := building bntune's Rust extension (release, about a minute) and installing it into $(VENV)
PIP_INSTALL = PYTHONUNBUFFERED=1 $(PIP) install $(1) | { grep -v '^Requirement already satisfied' || true; }

demo: $(PY) ## install bntune with its demo extra into .venv, then run `bntune demo` (see ./bntune-demo/)
	@echo "make demo: $(BUILD_NOTE) with the demo extra…"
	$(call PIP_INSTALL,'.[demo]')
	@echo "make demo: running bntune demo"
	$(VENV)/bin/bntune demo

test: $(PY) ## install bntune with its test extra into .venv, then run cargo test and pytest
	@echo "make test: $(BUILD_NOTE) with the extras $(EXTRAS)…"
	$(call PIP_INSTALL,'.[$(EXTRAS)]')
	$(MAKE) --no-print-directory test-rust test-python

test-rust: ## cargo test of the pure Rust core (no Python needed)
	cargo test --all-targets --quiet

test-python: $(PY) ## pytest against the installed package (after `make test` or `make dev`)
	$(PY) -m pytest -q

dev: $(PY) ## fast rebuild of the extension into .venv while developing (maturin develop --release)
	$(PIP) install --quiet 'maturin>=1.9.4,<2'
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/maturin develop --release --extras test

lint: $(PY) ## rustfmt, clippy -D warnings, ruff check and ruff format --check
	$(PIP) install --quiet 'ruff>=0.6'
	cargo fmt --check
	cargo clippy --all-targets --quiet -- -D warnings
	cargo clippy --all-targets --features python --quiet -- -D warnings
	$(VENV)/bin/ruff check python tests benches
	$(VENV)/bin/ruff format --check python tests benches

fmt: $(PY) ## format Rust and Python sources in place
	$(PIP) install --quiet 'ruff>=0.6'
	cargo fmt
	$(VENV)/bin/ruff format python tests benches
	$(VENV)/bin/ruff check --fix python tests benches

bench: $(PY) ## criterion benches, then the side-by-side comparisons in benches/compare_*.py
	$(PIP) install --quiet '.[test]'
	cargo bench
	for script in benches/compare_*.py; do [ -e "$$script" ] || continue; $(PY) "$$script"; done

# maturin's PEP 517 hook tags wheels plain `linux` unless told otherwise; `pypi` makes it audit
# the extension and use the lowest manylinux tag it satisfies.
build: $(PY) ## build the abi3 manylinux wheel into dist/
	$(PIP) wheel . --no-deps -w dist --config-settings 'maturin.build-args=--compatibility pypi'

sdist: $(PY) ## build the source distribution into dist/
	$(PIP) install --quiet 'maturin>=1.9.4,<2'
	$(VENV)/bin/maturin sdist --out dist

wheel-check: build sdist ## check the wheel: one abi3 manylinux wheel that imports in a fresh venv
	bash .ci/check_wheel.sh dist

clean: ## remove build products and the virtualenv
	rm -rf target dist $(VENV) .pytest_cache .ruff_cache
