"""The demo's second half: a CPU latency table for ofa-fmnist, the default suite on the shipped fmnist surrogate."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import pytest
import yaml

from ofa_bench import demo
from ofa_bench.cli import main
from ofa_bench.cli.commands.demo import _demo_suite
from ofa_bench.demo import run_demo_suite

#: A coarse table: two timed calls per layer and no calibration archs, so the test takes seconds.
QUICK_LUT = {"repeats": 2, "warmup": 0, "rounds": 1, "calibration_archs": 0}
#: A smaller reference sample than the demo's, run in this process: the wiring is under test, not the numbers.
SMALL = {"reference.random_sample": 300, "engine.kind": "serial"}


def test_demo_suite_builds_a_table_runs_every_strategy_and_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the shipped benchmark's evaluation cache
    stages: set[str] = set()
    progress = lambda stage, *_: stages.add(stage)
    outcome = run_demo_suite(tmp_path, budget=10, seeds=2, lut_settings=QUICK_LUT, overrides=SMALL, progress=progress)
    table = yaml.safe_load(outcome.lut.read_text())
    assert table["complete"] and table["space"] == "ofa-fmnist"
    results = outcome.results
    assert (outcome.suite.benchmark.dir, results.state["space"]) == ("fmnist", "ofa-fmnist")
    assert results.state["oracle"]["mode"] == "shipped" and results.verdict_metric == "hv_test"
    runs = results.runs
    assert sorted(runs["strategy"].unique()) == ["nsga2", "random", "regularized-evolution", "surrogate", "tpe"]
    assert (runs["status"] == "done").all() and (runs["evaluations"] == 10).all()
    report = outcome.report.markdown.read_text()
    assert "latency:lut" in report and "shipped surrogate" in report and outcome.report.html.is_file()
    assert {"reference", "runs", "holdout"} <= stages and "archive" not in stages  # nothing measured live
    # The command's second call reuses the finished table and the finished runs, and says what they ran on.
    quick = functools.partial(run_demo_suite, lut_settings=QUICK_LUT, overrides=SMALL)
    monkeypatch.setattr(demo, "run_demo_suite", quick)
    args = argparse.Namespace(out=str(tmp_path), budget=10, seeds=2, quiet=True, json=False)
    summary = _demo_suite(args)
    assert summary["benchmark"] == "fmnist" and summary["oracle"]["label"] == results.state["oracle"]["label"]
    out = capsys.readouterr().out
    assert "Default suite on fmnist (ofa-fmnist" in out and "the shipped surrogate of fmnist" in out
    assert summary["oracle"]["noisy"] and "its mean plus a seeded noise draw per answer" in out
    again = demo.run_demo_suite(tmp_path, budget=10, seeds=2)
    assert again.lut_seconds < outcome.lut_seconds and again.results.runs["hv"].tolist() == runs["hv"].tolist()


def test_demo_suite_options_are_validated(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--seeds", "1", "--quiet"]) == 2
    assert "--seeds" in capsys.readouterr().err
