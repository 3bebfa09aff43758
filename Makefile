# Two entry points for a fresh machine: `make demo` (the main job) and `make test` (CI runs this).
# Each creates the virtual environment when missing and installs the project into it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The reference implementation, used by tests only as a conformance oracle (never by the library).
OFA_ORACLE := ofa==0.1.0.post202307202001

.PHONY: demo test test-fast bench bench-baseline install clean

$(STAMP): pyproject.toml tests/plugin_pkg/pyproject.toml examples/ofa-bench-example-backend/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# Pinned first so pip takes the local CPU-tested pair rather than resolving another release.
	$(BIN)/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/python -m pip install -q -e ".[test]" ./tests/plugin_pkg ./examples/ofa-bench-example-backend
	$(BIN)/python -m pip install -q --no-deps "$(OFA_ORACLE)"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ofa-bench demo

# Performance gate: the short CI form of the benchmarks against the committed baseline (saved with
# `make bench-baseline` on this machine type); fails when any benchmark's fastest round is more than
# 2.5x the baseline's (generous: shared 2-core machines swing ~1.7x on their own).
BENCH_GATE := --quick --benchmark-storage=file://benchmarks/baselines --benchmark-compare=0001 \
	--benchmark-compare-fail=min:150% --benchmark-columns=min,median,max,rounds

# Unit, integration and slow tests; the performance benchmarks against the baseline; the CI suite.
test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest benchmarks $(BENCH_GATE)
	$(BIN)/python benchmarks/check_ci_suite.py --untrained

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# Full-length benchmarks, saved for comparison with --benchmark-compare.
bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-autosave

# Replace the committed baseline of the CI benchmark gate (run on an otherwise idle machine).
bench-baseline: $(STAMP)
	rm -rf benchmarks/baselines
	$(BIN)/python -m pytest benchmarks --quick --benchmark-storage=file://benchmarks/baselines --benchmark-save=baseline

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks out
