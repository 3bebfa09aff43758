"""End to end: ``ofa-bench run`` killed with SIGKILL mid-run resumes to the results of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from harness_support import harness_bench, logs_of, suite_dict  # noqa: F401 - harness_bench is a fixture

from ofa_bench import cli
from ofa_bench.suite import load_suite, run_suite

try:
    import psutil
except ImportError:  # then the workers get a fixed grace instead of being watched
    psutil = None

pytestmark = [pytest.mark.slow, pytest.mark.serial, pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")]


def _lines(out: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in out.glob("units/*/log.jsonl"))


def _run(suite: Path, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "ofa_bench", "run", str(suite), "--out", str(out), "--quiet"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _workers(pid: int) -> list[Any]:
    """The processes the run started (its engine's workers), as psutil sees them; [] without psutil."""
    if psutil is None:
        return []
    return psutil.Process(pid).children(recursive=True)


def _wait_until_gone(workers: list[Any], grace: float) -> None:
    """Wait ``grace`` seconds, or less once every one of ``workers`` has exited (watched with psutil)."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and (not workers or any(_running(p) for p in workers)):
        time.sleep(0.05)


def _running(proc: Any) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.usefixtures("one_thread")  # the uninterrupted run and the rerun, in this process
@pytest.mark.parametrize("engine", ["joblib"])  # the serial engine resumes through the same run logs
def test_sigkill_mid_run_then_rerun_equals_an_uninterrupted_run(
    harness_bench: Path, tmp_path: Path, engine: str, capfd: pytest.CaptureFixture[str]
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
    workers = _workers(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    # Workers of a killed suite stop too (they watch it): the logs stop growing.
    _wait_until_gone(workers, grace=4)
    settled = _lines(cut)
    time.sleep(3)
    assert _lines(cut) == settled
    statuses = [json.loads(p.read_text()).get("status") for p in cut.glob("units/*/run.json")]
    assert statuses.count("done") < 4, "killed too late: every run had finished"
    assert not (cut / "results.csv").exists()

    # The rerun, the same command in this process (the kill is the subprocess's; its imports are not needed again).
    assert cli.main(["run", str(path), "--out", str(cut), "--quiet"]) == 0, capfd.readouterr().err
    assert logs_of(cut) == logs_of(whole)
    times = ["wall_s", "cpu_s", "eval_s", "strategy_s"]
    pd.testing.assert_frame_equal(
        pd.read_csv(cut / "results.csv").drop(columns=times), pd.read_csv(whole / "results.csv").drop(columns=times)
    )
    assert (cut / "report.md").is_file()
