"""Shared pieces of the harness tests: a tiny benchmark and a tiny suite on it.

The benchmark is an untrained ``ofa-mini`` supernet on digits with a 64-image calibration
subset, built once per test session; suites use the surrogate oracle (a small GBDT fitted on ten
measured archs), so a run costs milliseconds and the benchmark's cache makes the archive free
after the first test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.data import DataSpec
from ofa_bench.nn import ElasticMobileNetV3


def make_benchmark(directory: Path) -> Path:
    """Write the tiny untrained benchmark into ``directory``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = ElasticMobileNetV3("ofa-mini")
    Benchmark.create(directory, net, DataSpec(dataset="digits", calib_size=64), {"note": "untrained"}, 32)
    return directory


@pytest.fixture(scope="session")
def harness_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny benchmark, shared by every harness test (its cache too)."""
    return make_benchmark(tmp_path_factory.mktemp("harness") / "bench")


def suite_dict(bench: Path, **changes: Any) -> dict[str, Any]:
    """A tiny surrogate-oracle suite on ``bench``: random and regularized evolution (labelled evolution), 2 seeds, 30 evaluations each."""
    suite: dict[str, Any] = {
        "name": "tiny",
        "benchmark": {"dir": str(bench)},
        "oracle": {"mode": "surrogate", "predictor": "gbdt", "archive_size": 10, "params": {"n_estimators": 20}},
        "objectives": ["accuracy", "latency:mmacs"],
        "strategies": ["random", {"name": "regularized-evolution", "label": "evolution",
                                  "params": {"population_size": 10, "sample_size": 3}}],
        "budget": {"evaluations": 30},
        "batch_size": 10,
        "seeds": 2,
        "engine": {"kind": "serial"},
        "reference": {"random_sample": 100},
        "report_split": "none",  # held-out re-measurement is live, so slow: its own test turns it on
    }
    suite.update(changes)
    return suite


def log_without_time(run_dir: Path) -> list[dict[str, Any]]:
    """A run log's lines with their ``time`` objects dropped (what must be deterministic)."""
    lines = (run_dir / "log.jsonl").read_text(encoding="utf-8").splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in lines]


def logs_of(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Every run log of a suite's output directory, by run key, without times."""
    return {d.name: log_without_time(d) for d in sorted((out / "units").iterdir())}
