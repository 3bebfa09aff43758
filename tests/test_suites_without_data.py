"""The default suite (the demo's) and the CI suite run on the shipped Fashion-MNIST surrogate, without the data.

Each runs in a small budgeted form twice: once with the Fashion-MNIST lookup pointed at empty
folders (``OFA_BENCH_DATA``, the Debian folder, the user cache) and the loader replaced by one that
fails, once with the data where this machine has it (when it has it); their results tables must be
equal. Both suites name ``benchmark: fmnist`` and ``oracle: {mode: shipped}``, so the shipped
benchmark's surrogate answers every accuracy and its test target re-measures every final front.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins import registry
from ofa_bench.report import write_report
from ofa_bench.suite import load_suite, run_suite

CI_SUITE = Path(__file__).resolve().parents[1] / "benchmarks" / "ci.yaml"
#: The small form: fewer evaluations, seeds and reference archs, run in this process.
SMALL = {"budget.evaluations": 20, "seeds": 2, "reference.random_sample": 200, "engine.kind": "serial"}
#: Timing columns: the only ones allowed to differ between equal runs.
_TIMES = ("wall_s", "cpu_s", "eval_s", "strategy_s")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def lut(tmp_path_factory: pytest.TempPathFactory, one_thread: None) -> Path:
    """A coarse CPU table of ofa-fmnist for the default suite's latency objective (seconds to build)."""
    path = tmp_path_factory.mktemp("lut") / "lut.yaml"
    settings = {"repeats": 2, "warmup": 0, "rounds": 1, "calibration_archs": 0}
    registry.get("hardware", "lut").build("ofa-fmnist", "torch-cpu", path, **settings)
    return path


def _data_root() -> str | None:
    """Where this machine has Fashion-MNIST, or ``None``."""
    from ofa_bench.data.idx_files import FASHION_MNIST, find_root

    try:
        return str(find_root(FASHION_MNIST, None))
    except OfaBenchError:
        return None


def _hide_the_data(patch: pytest.MonkeyPatch, empty: Path) -> None:
    """Point every place the Fashion-MNIST lookup searches at ``empty`` and make loading fail."""
    import ofa_bench.data
    import ofa_bench.data.datasets
    from ofa_bench.data import idx_files

    empty.mkdir()
    patch.setenv(idx_files.DATA_ENV, str(empty))
    patch.setenv("XDG_CACHE_HOME", str(empty))  # the user cache ('ofa-bench data fetch' fills it)
    patch.setattr(idx_files, "FASHION_MNIST", dataclasses.replace(idx_files.FASHION_MNIST, debian_dir=empty))

    def no_data(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a suite on the shipped surrogate loaded the data")

    patch.setattr(ofa_bench.data.datasets, "load_data", no_data)
    patch.setattr(ofa_bench.data, "load_data", no_data)
    with pytest.raises(OfaBenchError, match="fashion-mnist data not found"):
        idx_files.find_root(idx_files.FASHION_MNIST, None)


def _without_times(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    return frame.drop(columns=[c for c in _TIMES if c in frame.columns])


@pytest.mark.parametrize("source", ["default", CI_SUITE], ids=["default", "ci"])
def test_the_suite_runs_without_the_data_and_as_with_it(
    source: str | Path, lut: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = load_suite(source, {**SMALL, **({"backends": [f"lut:table={lut}"]} if source == "default" else {})})
    assert (suite.benchmark.dir, suite.oracle.mode, suite.report_split) == ("fmnist", "shipped", "auto")
    root = _data_root()  # before the user cache moves, which may be where it is
    with monkeypatch.context() as patch:
        _hide_the_data(patch, tmp_path / "empty")
        without = run_suite(suite, tmp_path / "without")
        report = write_report(tmp_path / "without", without).markdown.read_text()
    # Each run its own evaluation cache (the shipped benchmark's lives in the user cache), so the
    # second measures everything again instead of reading the first one's answers.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    if root is not None:
        monkeypatch.setenv("OFA_BENCH_DATA", root)
    with_data = run_suite(suite, tmp_path / "with")
    for name in ("results.csv", "summary.csv", "holdout.csv"):
        pd.testing.assert_frame_equal(
            _without_times(tmp_path / "without" / name), _without_times(tmp_path / "with" / name)
        )
    assert without.state["oracle"] == with_data.state["oracle"] and without.state["oracle"]["mode"] == "shipped"
    assert without.state["benchmark"] == "shipped:fmnist"  # by name: the install path differs between machines
    assert (without.runs["status"] == "done").all() and len(without.runs) == len(suite.strategies) * 2
    assert without.verdict_metric == "hv_test" and without.runs["hv_test"].notna().all()
    assert "shipped surrogate" in report
    # The default suite answers with the surrogate's noise, the CI suite with its mean; the report says which.
    noisy = source == "default"
    assert without.noisy_oracle is noisy
    assert ("noisy draws (seeded per run)" if noisy else "noise-free mean") in report
