"""Fuzzing the readers of state ofa-bench reads back (issue 28): a valid value or one line, nothing else.

Random and mutated cache rows (``measurements`` and ``records``), run logs and baselines go to the
readers the harness uses on them. Each must return values within their documented ranges or
raise :class:`OfaBenchError` with one line (what the CLI prints with exit status 2); any other
exception, a multi-line message or a number out of range is a failure. Budgeted like
``tests/test_untrusted_fuzz.py`` (``OFA_BENCH_FUZZ=long``, ``OFA_BENCH_FUZZ_EXAMPLES=N``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from harness_support import harness_bench, suite_dict  # noqa: F401 - harness_bench is a fixture
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_untrusted_fuzz import _json, _write, mutated_text, mutated_value, values

from ofa_bench import cli
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.cache import Measurement, MeasurementCache
from ofa_bench.plugins.testing.strategies import synthetic_records
from ofa_bench.search.loop import run_search
from ofa_bench.search.runlog import read_log
from ofa_bench.space import get_space
from ofa_bench.suite import load_suite, run_suite
from ofa_bench.suite.baseline import check_baseline, read_run_dir
from ofa_bench.suite.checks import evaluate_checks

MINI = get_space("ofa-mini")
_BASE = {"cache": 150, "payload": 150, "log": 100, "baseline": 100}
_SCALE = 20 if os.environ.get("OFA_BENCH_FUZZ") == "long" else 1


def _fuzz(reader: str) -> settings:
    fixed = os.environ.get("OFA_BENCH_FUZZ_EXAMPLES")
    return settings(
        max_examples=int(fixed) if fixed else _BASE[reader] * _SCALE,
        deadline=None,
        database=None,
        derandomize=_SCALE == 1 and not fixed,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )


def _valid_or_one_line(where: Path, read: Any, *args: Any, **kwargs: Any) -> Any:
    """``read(...)``, or None after checking its OfaBenchError is one line, bounded apart from the path ``where``."""
    try:
        return read(*args, **kwargs)
    except OfaBenchError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) - len(str(where)) < 300, message[:600]
        return None


def _in(value: float, low: float, high: float = math.inf) -> bool:
    return low <= value <= high


# ----- cache rows ---------------------------------------------------------------------------------

#: What an SQLite column can hold after tampering: NULL, integers, reals (NaN reads back as NULL), text, blobs.
_sql_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.binary(max_size=8),
    st.sampled_from([0.0, 0.5, 1.0, 1.0000001, -0.0, 5.0, 1e300]),
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("fuzz-cache")
    opened = MeasurementCache(folder)
    yield opened
    opened.close()


def _store(cache: MeasurementCache, sql: str, row: tuple[Any, ...]) -> bool:
    with sqlite3.connect(cache.path) as db:
        try:
            db.execute(sql, row)
        except sqlite3.IntegrityError:  # NULL where the schema says NOT NULL: SQLite refuses it itself
            return False
    return True


@_fuzz("cache")
@given(accuracy=_sql_values, loss=_sql_values, wall_time=_sql_values)
def test_measurement_rows(cache: MeasurementCache, accuracy: Any, loss: Any, wall_time: Any) -> None:
    row = ("fp", "live", "a", accuracy, loss, wall_time, "now")
    if not _store(cache, "INSERT OR REPLACE INTO measurements VALUES (?, ?, ?, ?, ?, ?, ?)", row):
        return
    found = _valid_or_one_line(cache.path, cache.get, "fp", "live", ["a"])
    if found is not None:
        m = found["a"]
        assert math.isnan(m.accuracy) or _in(m.accuracy, 0.0, 1.0)
        assert math.isnan(m.loss) or _in(m.loss, 0.0)
        assert _in(m.wall_time, 0.0) and math.isfinite(m.wall_time)
    # What is put is checked the same way: stored (and read back in range) or refused in one line.
    _valid_or_one_line(cache.path, cache.put, "fp", "put", ["b"], [Measurement(accuracy, loss, wall_time, False)])
    assert _valid_or_one_line(cache.path, cache.get, "fp", "put", ["b"]) is not None  # what was stored reads back


_FULL = {"accuracy": 0.5, "loss": 1.2, "valid_half_a": 0.5, "valid_half_b": float("nan"),
         "test_accuracy": 0.4, "test_loss": 1.3, "seconds": 0.2}  # fmt: skip
_NOISE = {"accuracy": 0.5, "valid_half_a": 0.45, "valid_half_b": 0.55}


@_fuzz("payload")
@given(
    kind=st.sampled_from(["archive:full", "archive:noise:7"]),
    text=st.one_of(
        mutated_value([_FULL, _NOISE]).map(lambda v: json.dumps(v)),
        mutated_text([json.dumps(_FULL), json.dumps(_NOISE)]),
        values.map(lambda v: json.dumps(v)),
    ),
)
def test_records_payloads(cache: MeasurementCache, kind: str, text: str) -> None:
    if not _store(cache, "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?)", ("fp", kind, "a", text, "now")):
        return
    found = _valid_or_one_line(cache.path, cache.get_records, "fp", kind, ["a"])
    if found is not None:
        payload = found["a"]
        assert set(_FULL if kind == "archive:full" else _NOISE) <= set(payload)
        for name in ("accuracy", "valid_half_a", "valid_half_b", "test_accuracy"):
            if name in payload:
                assert math.isnan(payload[name]) or _in(payload[name], 0.0, 1.0)
        assert _in(payload.get("seconds", 0.0), 0.0) and _in(payload["accuracy"], 0.0, 1.0)


# ----- run logs -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The ``log.jsonl`` and ``run.json`` of a small search."""
    folder = tmp_path_factory.mktemp("fuzz-log-seed")
    objectives = "accuracy,latency:mmacs"
    run_search("random", MINI, objectives, [], lambda a: synthetic_records(MINI, a), 8, 0, batch_size=3, run_dir=folder)
    return (folder / "log.jsonl").read_text(), (folder / "run.json").read_text()


def _log_documents(log: str) -> st.SearchStrategy[str]:
    entries = [json.loads(line) for line in log.splitlines()]
    as_lines = mutated_value([entries]).map(
        lambda e: "".join(_json(x) + "\n" for x in e) if isinstance(e, list) else ""
    )
    return st.one_of(mutated_text([log]), as_lines, st.text(max_size=100))


@_fuzz("log")
@given(data=st.data())
def test_run_logs(tmp_path_factory: pytest.TempPathFactory, logged: tuple[str, str], data: st.DataObject) -> None:
    log, meta = logged
    folder = tmp_path_factory.getbasetemp() / "fuzz-run"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    _write(folder / "log.jsonl", data.draw(_log_documents(log)))
    if data.draw(st.booleans()):
        meta = data.draw(st.one_of(mutated_value([json.loads(meta)]).map(_json), mutated_text([meta])))
    _write(folder / "run.json", meta)
    df = _valid_or_one_line(folder, read_log, folder)
    if df is not None:
        assert df["n"].tolist() == list(range(1, len(df) + 1))
        if "accuracy" in df:
            assert df["accuracy"].dropna().between(0, 1).all()
        for column in ("eval_s", "strategy_s", "elapsed_s", "cpu_s"):
            assert (df[column].dropna() >= 0).all()


# ----- baselines ----------------------------------------------------------------------------------

_TOLERANCE = [{"strategy": "evolution", "metric": "hv", "baseline_tolerance": 0.05}]


@pytest.fixture(scope="module")
def gated(harness_bench: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:  # noqa: F811
    """A finished run of the tiny suite with a baseline_tolerance check, its baseline, and the suite."""
    root = tmp_path_factory.mktemp("fuzz-gate")
    small = {"seeds": 1, "budget": {"evaluations": 12}, "reference": {"random_sample": 20}}
    suite = load_suite(suite_dict(harness_bench, checks=_TOLERANCE, **small))
    run_suite(suite, root / "run")
    assert cli.main(["baseline", "save", str(root / "run"), str(root / "baseline")]) == 0
    return root / "run", root / "baseline", suite


@_fuzz("baseline")
@given(data=st.data())
def test_baselines(
    tmp_path_factory: pytest.TempPathFactory, gated: tuple[Path, Path, Any], data: st.DataObject
) -> None:
    run, baseline, suite = gated
    folder = tmp_path_factory.getbasetemp() / "fuzz-baseline"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(baseline, folder)
    name = data.draw(st.sampled_from(["results.json", "suite.json"]))
    text = (baseline / name).read_text()
    mutated = data.draw(st.one_of(mutated_value([json.loads(text)]).map(_json), mutated_text([text])))
    _write(folder / name, mutated)
    files = _valid_or_one_line(folder, read_run_dir, folder, "baseline")
    gate = _valid_or_one_line(folder, evaluate_checks, run, folder)
    assert files is not None or gate is None  # what the reader refuses, the gate never reads
    if gate is not None:
        (check,) = gate.checks
        assert check.observed is not None and math.isfinite(check.observed)
    state = json.loads((run / "suite.json").read_text())
    _valid_or_one_line(folder, check_baseline, suite, folder, fingerprint=state["fingerprint"])
