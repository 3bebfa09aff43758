"""The demo's second half: a CPU latency table, the default suite and its report, on a tiny benchmark."""

from __future__ import annotations

from pathlib import Path

import yaml

from harness_support import harness_bench  # noqa: F401  (session fixture)

from ofa_bench.benchmark import Benchmark
from ofa_bench.cli import main
from ofa_bench.demo import run_demo_suite

#: A coarse table: two timed calls per layer and no calibration archs, so the test takes seconds.
QUICK_LUT = {"repeats": 2, "warmup": 0, "rounds": 1, "calibration_archs": 0}
#: A smaller oracle archive and reference sample than the demo's: the wiring is under test, not the numbers.
SMALL = {"oracle.archive_size": 30, "reference.random_sample": 300, "report_split": "none"}


def test_demo_suite_builds_a_table_runs_every_strategy_and_reports(harness_bench: Path, tmp_path: Path) -> None:  # noqa: F811
    bench = Benchmark.load(harness_bench)
    stages: set[str] = set()
    outcome = run_demo_suite(
        bench, tmp_path, budget=10, seeds=2, lut_settings=QUICK_LUT, overrides=SMALL, progress=lambda stage, *_: stages.add(stage)
    )
    table = yaml.safe_load(outcome.lut.read_text())
    assert table["complete"] and table["space"] == bench.space.name
    runs = outcome.results.runs
    assert sorted(runs["strategy"].unique()) == ["nsga2", "random", "regularized-evolution", "surrogate", "tpe"]
    assert (runs["status"] == "done").all() and (runs["evaluations"] == 10).all()
    report = outcome.report.markdown.read_text()
    assert "latency:lut" in report and outcome.report.html.is_file()
    assert {"archive", "runs"} <= stages
    # A second call reuses the finished table and the finished runs.
    again = run_demo_suite(bench, tmp_path, budget=10, seeds=2, lut_settings=QUICK_LUT, overrides=SMALL)
    assert again.results.runs["hv"].tolist() == runs["hv"].tolist()


def test_demo_suite_options_are_validated(capsys) -> None:
    assert main(["demo", "--seeds", "1", "--quiet"]) == 2
    assert "--seeds" in capsys.readouterr().err
