"""The gate trips on a real 2x slowdown of one benchmark and passes the same code unmodified.

End to end, through ``benchmarks/gate.py run`` in fresh sessions: a baseline is measured from the
unmodified code, then the same benchmark is gated as it is (exit 0) and with its timed function run
twice per call (``OFA_BENCH_INJECT_SLOWDOWN``, exit 1). Logic-only checks of the gate (machine
factor, rounds, missing kinds) are in ``tests/test_bench_gate.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.conftest import SLOWDOWN_VARIABLE

ROOT = Path(__file__).resolve().parents[1]
TARGET = "benchmarks/test_core_perf.py::test_costs_throughput_array"


def _run(*args: str, slowdown: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != SLOWDOWN_VARIABLE}
    if slowdown:
        env[SLOWDOWN_VARIABLE] = slowdown
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_gate_trips_on_injected_2x_slowdown(tmp_path):
    # The baseline is the fastest of three sessions, as `make bench-baseline` records it: from one, a
    # slow spell of the shared machine once made the baseline 1.45x slow, so the 2x slowdown read 1.38x.
    runs, baseline = [tmp_path / f"run{i}.json" for i in range(3)], tmp_path / "baseline.json"
    for run_json in runs:
        measured = _run(
            "-m", "pytest", TARGET, "--quick", "-q", "-p", "no:cacheprovider", f"--benchmark-json={run_json}"
        )
        assert measured.returncode == 0, measured.stdout[-2000:]
    assert _run("benchmarks/gate.py", "save", *map(str, runs), "--baseline", str(baseline)).returncode == 0
    assert set(json.loads(baseline.read_text())["benchmarks"]) == {TARGET.split("/", 1)[1]}

    gate = ("benchmarks/gate.py", "run", "--baseline", str(baseline), "--", TARGET, "--quick", "-q", "-p", "no:cacheprovider")
    plain = _run(*gate)
    assert plain.returncode == 0, plain.stdout[-2000:]
    assert "PASS" in plain.stdout.splitlines()[-1]

    slowed = _run(*gate, slowdown="*test_costs_throughput_array*=2")
    assert slowed.returncode == 1, slowed.stdout[-2000:]
    row = next(line for line in slowed.stdout.splitlines() if line.startswith("test_core_perf.py::test_costs_throughput_array"))
    assert "FAIL" in row and "re-measured" in row
