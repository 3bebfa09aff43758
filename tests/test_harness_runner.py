"""Tests of running suites: determinism across engines, resuming, results, reports and the CLI.

Runs use the tiny untrained benchmark and a surrogate oracle (see ``harness_support``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from harness_support import harness_bench, logs_of, suite_dict  # noqa: F401 - harness_bench is a fixture

from ofa_bench import cli
from ofa_bench.errors import OfaBenchError
from ofa_bench.report import write_report
from ofa_bench.search.runlog import RunLog
from ofa_bench.suite import collect_results, load_suite, run_suite

pytestmark = pytest.mark.usefixtures("one_thread")

TIME_COLUMNS = ["wall_s", "cpu_s", "eval_s", "strategy_s"]


def _comparable(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "results.csv").drop(columns=TIME_COLUMNS)


def test_a_suite_runs_every_unit_and_writes_results(harness_bench: Path, tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    results = run_suite(load_suite(suite_dict(harness_bench)), tmp_path, progress=lambda *a: seen.append(a))
    runs = results.runs
    expected = [("evolution", 0), ("evolution", 1), ("random", 0), ("random", 1)]
    assert sorted(zip(runs["strategy"], runs["seed"])) == expected
    assert (runs["status"] == "done").all() and (runs["evaluations"] == 30).all()
    # HV is bounded by the reference box: every arch lies inside the best bounds.
    reference = results.norm.reference
    assert runs["hv"].between(0, reference**2).all() and (runs["hv"] > 0).all()
    assert (runs["igd"] >= 0).all()
    for name in ("results.csv", "summary.csv", "pairwise.csv", "anytime.csv", "results.json", "suite.json"):
        assert (tmp_path / name).is_file()
    assert ("runs", 4, 4) in seen and any(stage == "archive" for stage, *_ in seen)
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["baseline"] == "random" and len(document["runs"]) == 4
    # The fixed normalisation: bounds are fixed before any run, from the reference sample.
    state = json.loads((tmp_path / "suite.json").read_text())
    low, high = state["normalisation"]["bounds"]["latency:mmacs"]
    assert 0 < low < high
    # Every run log holds the budget, in order, with the documented columns.
    log = RunLog.open(tmp_path / "units" / "random-s0")
    assert [e["n"] for e in log.entries] == list(range(1, 31))
    assert {"accuracy", "latency:mmacs"} <= set(log.entries[0]["record"])
    assert log.meta["fingerprint"] == state["fingerprint"] and log.meta["oracle"] == "surrogate:GBDTPredictor"


def test_points_beyond_the_best_bound_are_clipped_to_the_box(harness_bench: Path, tmp_path: Path) -> None:
    """Bounds narrower than the data: every accuracy lies beyond the best bound (negative normalised
    coordinate). Each clips to 0, so a run's hypervolume is the box above its lowest latency, by hand."""
    suite = suite_dict(harness_bench, seeds=1, hv={"bounds": {"accuracy": [0.0, 0.01]}})
    results = run_suite(load_suite(suite), tmp_path)
    state = json.loads((tmp_path / "suite.json").read_text())
    low, high = state["normalisation"]["bounds"]["latency:mmacs"]
    ref = results.norm.reference
    for key, hv in zip(results.runs["strategy"] + "-s0", results.runs["hv"]):
        entries = RunLog.open(tmp_path / "units" / key).entries
        assert min(e["record"]["accuracy"] for e in entries) > 0.01
        lowest = min((e["record"]["latency:mmacs"] - low) / (high - low) for e in entries)
        assert hv == pytest.approx(ref * (ref - max(lowest, 0.0)))
        assert hv <= ref**2


@pytest.mark.slow  # loky starts fresh worker processes: 7 s on a quiet 2-core machine, 30 s on a busy one
def test_same_suite_same_seeds_gives_identical_logs_serial_and_joblib(harness_bench: Path, tmp_path: Path) -> None:
    serial = tmp_path / "serial"
    parallel = tmp_path / "joblib"
    run_suite(load_suite(suite_dict(harness_bench, seeds=[0, 3])), serial)
    run_suite(load_suite(suite_dict(harness_bench, seeds=[0, 3], engine={"kind": "joblib", "jobs": 2})), parallel)
    a, b = logs_of(serial), logs_of(parallel)
    assert list(a) == ["evolution-s0", "evolution-s3", "random-s0", "random-s3"]
    assert a == b
    # Byte-identical once the time objects are dropped.
    for key in a:
        assert json.dumps(a[key]) == json.dumps(b[key])
    pd.testing.assert_frame_equal(_comparable(serial), _comparable(parallel))


def test_resume_skips_finished_runs_and_continues_unfinished_ones(harness_bench: Path, tmp_path: Path) -> None:
    suite = load_suite(suite_dict(harness_bench))
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run_suite(suite, whole)
    shutil.copytree(whole, cut)
    # As if killed: one run half-way through a batch, another not started at all.
    half = cut / "units" / "evolution-s1"
    lines = (half / "log.jsonl").read_text().splitlines(keepends=True)
    (half / "log.jsonl").write_text("".join(lines[:13]) + lines[13][:20])  # a torn last line too
    meta = json.loads((half / "run.json").read_text())
    (half / "run.json").write_text(json.dumps({**meta, "status": "running"}))
    shutil.rmtree(cut / "units" / "random-s1")
    for name in ("results.csv", "summary.csv"):
        (cut / name).unlink()
    finished = (cut / "units" / "random-s0" / "log.jsonl").stat().st_mtime_ns
    run_suite(suite, cut)
    assert logs_of(cut) == logs_of(whole)
    assert (cut / "units" / "random-s0" / "log.jsonl").stat().st_mtime_ns == finished  # skipped, not rerun
    pd.testing.assert_frame_equal(_comparable(cut), _comparable(whole))


def test_an_output_directory_of_another_suite_is_refused(harness_bench: Path, tmp_path: Path) -> None:
    def suite(**changes: object) -> object:
        return load_suite(suite_dict(harness_bench, seeds=1, strategies=["random"], **changes))

    run_suite(suite(), tmp_path)
    with pytest.raises(OfaBenchError, match=r"holds a run of another suite \(budget.evaluations: 30 there, 20 now\)"):
        run_suite(suite(budget={"evaluations": 20}), tmp_path)
    # Another engine is fine: resuming elsewhere is what engines are for.
    run_suite(suite(engine={"kind": "joblib", "jobs": 1}), tmp_path)


def test_wall_seconds_stop_runs_early(harness_bench: Path, tmp_path: Path) -> None:
    budget = {"evaluations": 30, "wall_seconds": 1e-9}
    suite = load_suite(suite_dict(harness_bench, seeds=1, strategies=["random"], budget=budget))
    results = run_suite(suite, tmp_path)
    assert results.runs["status"].tolist() == ["wall_seconds"]
    assert results.runs["evaluations"].tolist() == [0]
    assert results.runs["hv"].tolist() == [0.0]


def test_a_missing_benchmark_says_how_to_get_one(tmp_path: Path) -> None:
    suite = load_suite(suite_dict(tmp_path / "nowhere"))
    with pytest.raises(OfaBenchError, match=r"benchmark.dir: .*not found.*train_if_missing"):
        run_suite(suite, tmp_path / "out")


def test_report_has_every_section_and_figure(harness_bench: Path, tmp_path: Path) -> None:
    run_suite(load_suite(suite_dict(harness_bench)), tmp_path)
    files = write_report(tmp_path)
    text = files.markdown.read_text()
    for heading in ("## Summary", "## Strategy against strategy", "## Pareto fronts", "## Hypervolume vs evaluations",
                    "## Best under limit", "## Runs", "## Predictors", "## Setup", "## Environment"):  # fmt: skip
        assert heading in text
    results = collect_results(tmp_path)
    assert results.state["fingerprint"] in text
    assert "exact one-sided rank test" in text and "Holm-adjusted" in text and "smallest p-value" in text
    assert "Vargha-Delaney" in text and "## Strategies" in text and "oracle_overlap" in text
    assert "Ishibuchi" in text and "random start" in text
    # Two seeds a side: the smallest p is 1/6, far above Holm's first step over 2 pairs (0.025).
    assert "corrected across all 2 ordered pairs" in text and "no pair can be told apart" in text
    assert "| strategy | ofa_bench_predictors.gbdt:GBDTPredictor" not in text  # plug-in table lists entry points by row
    assert "ofa_bench_predictors.gbdt:GBDTPredictor" in text and "ofa_bench_strategies.regularized_evolution:" in text
    page = files.html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<img src='figures/pareto.png'" in page
    for figure in files.figures:
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {f.name for f in files.figures} == {"pareto.png", "hypervolume.png"}


def test_cli_run_and_report(harness_bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite_dict(harness_bench, strategies=["random"], engine={"kind": "joblib"})))
    out = tmp_path / "out"
    assert cli.main(["run", str(path), "--out", str(out), "--engine", "serial", "--set", "seeds=1", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["suite"] == "tiny" and [r["strategy"] for r in document["runs"]] == ["random"]
    assert Path(document["report"]["markdown"]).is_file()
    assert cli.main(["report", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "HV median" in printed and "A12" in printed and f"report: {out / 'report.md'}" in printed
    assert cli.main(["report", str(tmp_path / "empty")]) == 2
    assert "holds no suite run" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(("engine", "module"), [("dask", "dask.distributed"), ("ray", "ray")])
def test_local_cluster_gives_the_same_logs(harness_bench: Path, tmp_path: Path, engine: str, module: str) -> None:
    pytest.importorskip(module)
    run_suite(load_suite(suite_dict(harness_bench, seeds=2)), tmp_path / "serial")
    run_suite(load_suite(suite_dict(harness_bench, seeds=2, engine={"kind": engine, "jobs": 2})), tmp_path / engine)
    assert logs_of(tmp_path / "serial") == logs_of(tmp_path / engine)


def test_live_oracle_measures_on_the_supernet(harness_bench: Path, tmp_path: Path) -> None:
    data = suite_dict(
        harness_bench, oracle={"mode": "live"}, strategies=["random"], seeds=1, budget={"evaluations": 4},
        batch_size=2, reference={"random_sample": 0}, hv={"bounds": {"accuracy": [0.0, 1.0]}},
    )  # fmt: skip
    results = run_suite(load_suite(data), tmp_path)
    log = RunLog.open(tmp_path / "units" / "random-s0")
    assert log.meta["oracle"] == "live"
    # Live records carry the measured loss; a surrogate's would be null.
    assert all(e["record"]["loss"] is not None for e in log.entries)
    assert results.state["normalisation"]["bounds"]["accuracy"] == [0.0, 1.0]
    assert len(pd.read_csv(tmp_path / "reference.csv")) == 2  # only the smallest and the largest arch


def test_engines_without_their_package_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from ofa_bench.search.engines import map_unordered

    monkeypatch.setitem(sys.modules, "ray", None)  # None in sys.modules makes the import fail
    with pytest.raises(OfaBenchError, match=r"engine.kind: ray needs the 'ray' package here; pip install"):
        list(map_unordered(abs, [1, -2], "ray", jobs=2))
    assert sorted(map_unordered(abs, [1, -2], "serial")) == [1, 2]


@pytest.mark.slow
def test_dask_engine_leaves_the_environment_as_it_was() -> None:
    """Dask writes its worker settings (OMP_NUM_THREADS=1...) into the parent's environment; we restore it."""
    pytest.importorskip("dask.distributed")
    import os

    from ofa_bench.search.engines import map_unordered

    before = dict(os.environ)
    assert sorted(map_unordered(abs, [1, -2], "dask", jobs=1)) == [1, 2]
    assert dict(os.environ) == before


def test_default_limits_are_the_quartiles_of_the_reference_front(harness_bench: Path, tmp_path: Path) -> None:
    """The levels of best-under-limit cut into the front (where strategies differ), not the bounds' range."""
    import numpy as np

    results = run_suite(load_suite(suite_dict(harness_bench, seeds=1)), tmp_path)
    state = json.loads((tmp_path / "suite.json").read_text())
    low, high = state["normalisation"]["bounds"]["latency:mmacs"]
    front = np.asarray(state["reference_front"])
    latency = low + front[:, 1] * (high - low)  # the cost column, back in MMACs
    expected = [float(f"{v:.4g}") for v in np.quantile(latency, [0.25, 0.5, 0.75])]
    assert state["limits"]["latency:mmacs"] == sorted(set(expected))
    assert latency.min() <= min(expected) and max(expected) <= latency.max()
    # Every strategy's row of the all-pairs table exists, both directions, with Holm across all of them.
    pairs = pd.read_csv(tmp_path / "pairwise.csv")
    hv = pairs[pairs["metric"] == "hv"]
    assert sorted(zip(hv["strategy"], hv["other"])) == [("evolution", "random"), ("random", "evolution")]
    assert (hv["p_adjusted"] >= hv["p_value"]).all()
    assert results.beats("hv") == []  # one seed a side can show nothing
