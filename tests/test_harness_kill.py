"""End to end: ``ofa-bench run`` killed with SIGKILL mid-run resumes to the results of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from harness_support import harness_bench, logs_of, suite_dict  # noqa: F401 - harness_bench is a fixture

from ofa_bench.suite import load_suite, run_suite

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")]


def _lines(out: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in out.glob("units/*/log.jsonl"))


def _run(suite: Path, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "ofa_bench", "run", str(suite), "--out", str(out), "--quiet"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.parametrize("engine", ["joblib"])  # the serial engine resumes through the same run logs
def test_sigkill_mid_run_then_rerun_equals_an_uninterrupted_run(
    harness_bench: Path, tmp_path: Path, engine: str
) -> None:
    data = suite_dict(harness_bench, budget={"evaluations": 300}, batch_size=5, engine={"kind": engine, "jobs": 2})
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run_suite(load_suite({**data, "engine": {"kind": "serial"}}), whole)  # also fills the benchmark's cache

    process = _run(path, cut)
    deadline = time.monotonic() + 120
    while _lines(cut) < 40 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read().decode()}"
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    # Workers of a killed suite stop too (they watch it): the logs stop growing.
    time.sleep(4)
    settled = _lines(cut)
    time.sleep(3)
    assert _lines(cut) == settled
    statuses = [json.loads(p.read_text()).get("status") for p in cut.glob("units/*/run.json")]
    assert statuses.count("done") < 4, "killed too late: every run had finished"
    assert not (cut / "results.csv").exists()

    rerun = _run(path, cut)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()
    assert logs_of(cut) == logs_of(whole)
    times = ["wall_s", "cpu_s", "eval_s", "strategy_s"]
    pd.testing.assert_frame_equal(
        pd.read_csv(cut / "results.csv").drop(columns=times), pd.read_csv(whole / "results.csv").drop(columns=times)
    )
    assert (cut / "report.md").is_file()
