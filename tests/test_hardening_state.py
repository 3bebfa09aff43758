"""Issue 28, part B, rows 6, 7, 8 and 12: state read back (the evaluation cache, run logs) is untrusted.

A tampered cache row (``update measurements set accuracy=5.0``, ``accuracy='abc'``,
``wall_time='zz'``), a damaged payload of the measured archive, a cache folder that cannot be
opened, and a run log with ``"n": "x"`` or an accuracy of 5.0 must each give one line naming the
file and the row, exit status 2: never a silent number, never an internal error.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from harness_support import harness_bench, suite_dict  # noqa: F401 - harness_bench is a fixture

from ofa_bench import cli
from ofa_bench.errors import OfaBenchError
from ofa_bench.evaluate import Evaluator
from ofa_bench.io.cache import RECORD_FIELDS, Measurement, MeasurementCache
from ofa_bench.plugins.interfaces import Predictor
from ofa_bench.search.runlog import RunLog, read_log
from ofa_bench.space import get_space
from ofa_bench.suite import load_suite, run_suite

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def finished(harness_bench: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:  # noqa: F811
    """A copy of the tiny benchmark whose cache holds a suite's rows, and that suite's finished run."""
    bench = tmp_path_factory.mktemp("state") / "bench"
    shutil.copytree(harness_bench, bench)
    out = bench.parent / "run"
    run_suite(load_suite(suite_dict(bench, seeds=1)), out)
    return bench, out


def _one_line(text: str, path: Path | None = None) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert len(lines[0]) - len(str(path or "")) < 300, lines[0]  # bounded, whatever the temporary folder's name
    return lines[0]


def _suite_file(bench: Path, tmp: Path) -> Path:
    path = tmp / "suite.yaml"
    path.write_text(yaml.safe_dump(suite_dict(bench, seeds=1)))
    return path


def _tampered_bench(finished: tuple[Path, Path], tmp: Path, sql: str) -> Path:
    bench = tmp / "bench"
    shutil.copytree(finished[0], bench)
    with sqlite3.connect(bench / "cache.sqlite") as db:
        assert db.execute(sql).rowcount > 0
    return bench


# ----- rows 6 and 7: tampered measurement rows -----------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "field", "got"),
    [
        ("update measurements set accuracy = 5.0", "accuracy", "got 5.0"),  # row 6: silently used before
        ("update measurements set accuracy = 'abc'", "accuracy", "got 'abc'"),  # row 7: ValueError before
        ("update measurements set wall_time = 'zz'", "wall_time", "got 'zz'"),  # row 7
        ("update measurements set loss = -1.0", "loss", "got -1.0"),
        ("update measurements set accuracy = x'00ff'", "accuracy", "got b'"),
    ],
    ids=["accuracy-5", "accuracy-abc", "wall_time-zz", "loss-negative", "accuracy-blob"],
)
def test_a_tampered_cache_row_is_one_line_naming_the_file_and_row(
    finished: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], sql: str, field: str, got: str
) -> None:
    bench = _tampered_bench(finished, tmp_path, sql)
    assert cli.main(["run", str(_suite_file(bench, tmp_path)), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    line = _one_line(capsys.readouterr().err, bench)
    assert f"evaluation cache {str(bench / 'cache.sqlite')!r}: measurements row (oracle '" in line
    assert "arch '{" in line and f"{field}: must be a finite number" in line and got in line
    assert "internal error" not in line


def test_cache_rows_are_checked_on_read_and_on_write(tmp_path: Path) -> None:
    cache = MeasurementCache(tmp_path)
    good = Measurement(0.5, math.nan, 0.1, cached=False)
    failed = Measurement(math.nan, math.nan, 0.1, cached=False)  # a failed measurement: NULL, read back as NaN
    cache.put("fp", "live", ["a", "b"], [good, failed])
    found = cache.get("fp", "live", ["a", "b"])
    assert found["a"].accuracy == 0.5 and math.isnan(found["a"].loss) and math.isnan(found["b"].accuracy)
    for bad in (Measurement(1.5, 0.1, 0.1, False), Measurement(0.5, -0.1, 0.1, False),
                Measurement(0.5, 0.1, math.inf, False), Measurement(0.5, 0.1, -1.0, False)):  # fmt: skip
        with pytest.raises(OfaBenchError, match=r"new measurements row \(oracle 'live', arch 'c'\)"):
            cache.put("fp", "live", ["c"], [bad])
    assert cache.get("fp", "live", ["c"]) == {}
    cache.close()


def test_tampered_records_payloads_are_refused(tmp_path: Path) -> None:
    """The measured archive's payloads (the ``records`` table) are checked like the rows."""
    cache = MeasurementCache(tmp_path)
    full = {"accuracy": 0.5, "loss": 1.0, "valid_half_a": 0.5, "valid_half_b": math.nan, "test_accuracy": math.nan,
            "test_loss": math.nan, "seconds": 0.2}  # fmt: skip
    cache.put_record("fp", "archive:full", "a", full)
    assert cache.get_records("fp", "archive:full", ["a"])["a"]["accuracy"] == 0.5
    cases = {
        '{"accuracy": 5.0}': "payload lacks loss",
        "not json": "payload must be a JSON object",
        "[1, 2]": "payload must be a JSON object",
        json.dumps({**full, "accuracy": 5.0}): "payload accuracy: must be a finite number from 0 to 1",
        json.dumps({**full, "accuracy": "abc"}): "got 'abc'",
        json.dumps({**full, "seconds": -1}): "payload seconds: must be a finite number >= 0",
        json.dumps({**full, "accuracy": None}): "payload accuracy: must be a finite number",
        json.dumps({**full, "loss": True}): "got True",
    }
    for payload, message in cases.items():
        with sqlite3.connect(tmp_path / "cache.sqlite") as db:
            db.execute("update records set payload = ?", (payload,))
        with pytest.raises(OfaBenchError) as info:
            cache.get_records("fp", "archive:full", ["a"])
        text = str(info.value)
        assert "records row (kind 'archive:full', arch 'a')" in text and message in text and "\n" not in text
    with pytest.raises(OfaBenchError, match="payload valid_half_a: must be a finite number from 0 to 1"):
        cache.put_record("fp", "archive:noise:1", "b", {"accuracy": 0.5, "valid_half_a": 2.0, "valid_half_b": 0.5})
    cache.close()


def test_record_fields_are_what_the_archive_writes() -> None:
    from ofa_bench.benchmark.archive_plan import FULL, MEASURED, NOISE

    assert set(RECORD_FIELDS[FULL]) == {*MEASURED, "seconds"}
    assert NOISE.format(seed=3).startswith("archive:noise:") and "archive:noise:" in RECORD_FIELDS


class TooHigh(Predictor):
    """A regressor of accuracy that overshoots: 1.5, -0.5, then a failure (NaN)."""

    def fit(self, archs: Any, y: Any) -> TooHigh:
        return self

    def predict(self, archs: Any) -> np.ndarray:
        return np.array([1.5, -0.5, math.nan][: len(archs)])


def test_a_surrogate_prediction_beyond_one_is_clipped_so_it_is_stored(harness_bench: Path, tmp_path: Path) -> None:  # noqa: F811
    bench = tmp_path / "bench"
    shutil.copytree(harness_bench, bench)
    with Evaluator(bench, oracle=TooHigh()) as evaluator:
        archs = evaluator.space.sample(3, 0)
        first = evaluator.evaluate(archs)
        again = evaluator.evaluate(archs)
    assert first["accuracy"].tolist()[:2] == [1.0, 0.0] and math.isnan(first["accuracy"].iloc[2])
    assert again["cached"].all() and again["accuracy"].tolist()[:2] == [1.0, 0.0]


# ----- row 8: a cache that cannot be opened --------------------------------------------------------


def test_a_cache_that_cannot_be_opened_says_what_works_for_each_command(
    finished: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = tmp_path / "bench"
    shutil.copytree(finished[0], bench, ignore=shutil.ignore_patterns("cache.sqlite*"))
    (bench / "cache.sqlite").mkdir()  # what a read-only or full folder gives: SQLite cannot open the file
    assert cli.main(["run", str(_suite_file(bench, tmp_path)), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    line = _one_line(capsys.readouterr().err, bench)
    assert (
        "cannot open the evaluation cache" in line and "'run', 'build-archive' and the other commands need it" in line
    )
    assert "'evaluate', 'archive' and 'search' can skip the cache (--no-cache" in line
    # ... and what it advises works: evaluate --no-cache measures without the cache.
    archs = tmp_path / "archs.jsonl"
    archs.write_text(get_space("ofa-mini").sample(1, 0)[0].to_json() + "\n")
    argv = ["evaluate", "--bench", str(bench), "--no-cache", "--archs", str(archs), "--out", str(tmp_path / "r.csv")]
    assert cli.main([*argv, "--quiet"]) == 0
    assert len(pd.read_csv(tmp_path / "r.csv")) == 1


# ----- row 12: tampered run logs -------------------------------------------------------------------


def _tamper_log(out: Path, tmp: Path, line: int, change: Any) -> Path:
    copy = tmp / "run"
    shutil.copytree(out, copy)
    log = copy / "units" / "random-s0" / "log.jsonl"
    lines = log.read_text().splitlines()
    entry = json.loads(lines[line - 1])
    change(entry)
    lines[line - 1] = json.dumps(entry)
    log.write_text("\n".join(lines) + "\n")
    return copy


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.update(n="x"), "line 5: n: must be 5"),
        (lambda e: e["record"].update(accuracy=5.0), "line 5: record.accuracy: must be a finite number from 0 to 1"),
        (lambda e: e["record"].update(accuracy="0.9"), "line 5: record.accuracy: must be a finite number"),
        (lambda e: e["record"].update({"latency:mmacs": -1.0}), "line 5: record.latency:mmacs: must be a finite"),
        (lambda e: e["time"].update(eval_s=-1.0), "line 5: time.eval_s: must be a finite number >= 0"),
        (lambda e: e.update(n=3), "line 5: n: must be 5"),
        (lambda e: e.update(batch=0), "line 5: batch: must be an integer from 1 to 5"),
        (lambda e: e.update(arch=[1, 2]), "line 5: arch: must be a JSON object"),
        (lambda e: e.update(record=[0.5]), "line 5: record: must be a JSON object"),
    ],
    ids=[
        "n-x",
        "accuracy-5",
        "accuracy-text",
        "latency-negative",
        "time-negative",
        "n-out-of-order",
        "batch-0",
        "arch-list",
        "record-list",
    ],
)
def test_a_tampered_run_log_is_one_line_naming_the_file_and_line(
    finished: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Any, message: str
) -> None:
    copy = _tamper_log(finished[1], tmp_path, 5, change)
    assert cli.main(["report", str(copy), "--quiet"]) == 2
    line = _one_line(capsys.readouterr().err, copy)
    assert f"run log {str(copy / 'units' / 'random-s0' / 'log.jsonl')!r} {message}" in line, line
    with pytest.raises(OfaBenchError, match="line 5"):  # resuming reads it the same way
        read_log(copy / "units" / "random-s0")


def test_run_metadata_of_the_wrong_shape_is_refused(finished: tuple[Path, Path], tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(finished[1], copy)
    meta = copy / "units" / "random-s0" / "run.json"
    for document, message in (([1, 2], "must be a JSON object"), ({"status": 5}, "status: must be text"),
                              ({"budget": "x"}, "budget: must be a positive integer")):  # fmt: skip
        meta.write_text(json.dumps(document))
        with pytest.raises(OfaBenchError, match=message):
            RunLog.open(meta.parent)


def test_a_torn_last_line_is_still_dropped_and_a_valid_log_reads(finished: tuple[Path, Path], tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(finished[1], copy)
    log = copy / "units" / "random-s0" / "log.jsonl"
    log.write_text(log.read_text() + '{"n": 31, "batch": 4, "arch": {"ks"')  # a crash mid-write
    df = read_log(log.parent)
    assert df["n"].tolist() == list(range(1, 31)) and log.read_text().endswith("\n")
    assert df["accuracy"].between(0, 1).all()


def test_appending_refuses_what_reading_would_refuse(tmp_path: Path) -> None:
    log = RunLog.open(tmp_path / "r")
    entry = {"n": 1, "batch": 1, "arch": {"ks": [3]}, "record": {"accuracy": 0.5}, "time": {"eval_s": 0.1}}
    log.append([entry])
    with pytest.raises(
        OfaBenchError, match=r"evaluation 2 for run log .*: record\.accuracy: must be a finite number from 0 to 1"
    ):
        log.append([{**entry, "n": 2, "record": {"accuracy": 91.0}}])  # a percentage, not a fraction
    with pytest.raises(OfaBenchError, match="evaluation 2 for run log .*: n: must be 2"):
        log.append([{**entry, "n": 5}])
    assert len(RunLog.open(tmp_path / "r").entries) == 1


def test_report_recomputes_from_the_logs_not_from_results_csv(
    finished: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A log edited within range is what the report shows: the tables are recomputed from the logs."""
    stale = pd.read_csv(finished[1] / "results.csv").set_index("strategy")["hv"]

    def better(entry: dict[str, Any]) -> None:
        entry["record"]["accuracy"] = 1.0

    copy = _tamper_log(finished[1], tmp_path, 5, better)
    assert cli.main(["--json", "report", str(copy), "--quiet"]) == 0
    runs = {r["strategy"]: r["hv"] for r in json.loads(capsys.readouterr().out)["runs"]}
    assert runs["random"] > stale["random"] and runs["evolution"] == pytest.approx(stale["evolution"])
