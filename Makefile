# Two entry points for a fresh machine: `make demo` (the main job) and `make test` (CI runs this).
# Each creates the virtual environment when missing and installs the project into it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The reference implementation, used by tests only as a conformance oracle (never by the library).
OFA_ORACLE := ofa==0.1.0.post202307202001

.PHONY: demo test test-fast bench bench-baseline bench-compare mutate install clean

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

# Unit, integration and slow tests; the performance gate; the CI suite. The gate (benchmarks/gate.py)
# runs the short form of the benchmarks and compares each with benchmarks/baseline.json: a benchmark
# fails when it is more than 1.6x slower both raw and after dividing by the machine's speed factor (a
# calibration kernel of the same kind of work, timed in the same session), in two re-measurements too.
# pytest runs in two parts: most tests on TEST_WORKERS processes (pytest-xdist; one file per worker at a
# time, so a module's fixtures are built once), then the `serial` tests alone, since they time things,
# meet deadlines or send kill signals. Plain `pytest` runs everything in one process.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial"
	$(BIN)/python -m pytest -m serial
	$(BIN)/python benchmarks/gate.py run
	$(BIN)/python benchmarks/check_ci_suite.py

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# Full-length benchmarks, saved for comparison with --benchmark-compare; then the input fuzzing at
# twenty times the examples of the normal test run (docs/security.md).
bench: $(STAMP)
	OFA_BENCH_FUZZ=long $(BIN)/python -m pytest tests/test_untrusted_fuzz.py -q -p no:cacheprovider
	$(BIN)/python -m pytest benchmarks --benchmark-autosave

# Replace the committed baseline of the performance gate (any CPU: the gate normalises by machine speed;
# but an idle one, since heavy load slows memory-bound benchmarks more than their kernels). Two sessions,
# each benchmark's fastest kept, so one slow spell does not make the baseline lenient.
bench-baseline: $(STAMP)
	mkdir -p .benchmarks
	$(BIN)/python -m pytest benchmarks --quick -q --benchmark-json=.benchmarks/baseline-run1.json
	$(BIN)/python -m pytest benchmarks --quick -q --benchmark-json=.benchmarks/baseline-run2.json
	$(BIN)/python benchmarks/gate.py save .benchmarks/baseline-run1.json .benchmarks/baseline-run2.json

# A precise comparison on this machine: HEAD (the working tree) against BASE, interleaved sessions,
# each benchmark's ratio with a confidence interval; exit 1 when one is slower than 1.15x with confidence.
# make bench-compare BASE=main [ROUNDS=6] [ARGS="benchmarks/test_core_perf.py --quick"]
bench-compare: $(STAMP)
	@test -n "$(BASE)" || { echo "make bench-compare needs BASE=<git ref>, e.g. BASE=main" >&2; exit 2; }
	$(BIN)/python benchmarks/gate.py compare "$(BASE)" --rounds $(or $(ROUNDS),6) $(if $(ARGS),-- $(ARGS))

# Mutation testing (docs/testing.md): mutmut mutates the modules whose numbers are the product's verdicts
# ([tool.mutmut] in pyproject.toml) and runs the fast tests that call each mutated function; then the score
# per module and every surviving mutant not explained in scripts/mutants_equivalent.txt. Results are kept in
# mutants/, so a rerun tests only new or changed code. One worker by default (JOBS=2 on an idle machine);
# MUTANTS="ofa_bench.metrics.hypervolume.*" reruns just those (also after adding a test that kills them).
# The two plug-ins left out cost ~2 s per mutant (a full gc.collect at exit, machine info) and no test there needs them.
mutate: $(STAMP)
	test -x $(BIN)/mutmut || $(BIN)/python -m pip install -q "mutmut==3.8.1"
	PYTEST_ADDOPTS="-p no:unraisableexception -p no:benchmark" $(BIN)/mutmut run --max-children $(or $(JOBS),1) $(MUTANTS)
	$(BIN)/python scripts/mutation_score.py

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks out mutants
