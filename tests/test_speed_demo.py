"""The demo reuses the shipped digits weights instead of training, says so, and trains when asked.

Training the digits supernet was most of ``ofa-bench demo``'s time after installing (issue 27); the
weights the demo's defaults train are shipped in the package, and only a demo with exactly those
settings reuses them. The training path itself is tested in tests/test_cli.py (a short schedule).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ofa_bench import demo
from ofa_bench.benchmark.trained import BENCHMARK_FILE, CHECKPOINT_FILE, Benchmark
from ofa_bench.cli import main

pytestmark = pytest.mark.skipif(
    not (demo.SHIPPED_DEMO / BENCHMARK_FILE).is_file(), reason="no shipped demo weights in this tree"
)


def test_shipped_weights_apply_only_to_the_settings_that_train_them() -> None:
    assert demo.shipped_demo_applies("ofa-mini", 0, 1.0)
    assert not demo.shipped_demo_applies("ofa-mini", 1, 1.0)
    assert not demo.shipped_demo_applies("ofa-mini", 0, 0.2)
    assert not demo.shipped_demo_applies("ofa-mbv3-w1.0", 0, 1.0)
    made = demo.shipped_demo_provenance()
    assert made["command"].startswith("ofa-bench demo") and made["seed"] == 0 and made["space"] == "ofa-mini"


def test_shipped_weights_load_as_a_benchmark() -> None:
    bench = Benchmark.load(demo.SHIPPED_DEMO)
    assert bench.space.name == "ofa-mini" and bench.data_spec.dataset == "digits"
    assert demo.weights_origin(bench) == "shipped"


def test_demo_benchmark_copies_the_shipped_weights_without_training(tmp_path: Path, monkeypatch) -> None:
    from ofa_bench.train import trainer

    def no_training(*args, **kwargs):
        raise AssertionError("the demo trained although the shipped weights apply")

    monkeypatch.setattr(trainer.Trainer, "fit", no_training)
    bench = demo.demo_benchmark(tmp_path)
    assert bench.directory == tmp_path / "bench"
    for name in (BENCHMARK_FILE, CHECKPOINT_FILE):
        assert (tmp_path / "bench" / name).read_bytes() == (demo.SHIPPED_DEMO / name).read_bytes()
    assert demo.weights_origin(bench) == "shipped"
    assert demo.demo_benchmark(tmp_path).fingerprint == bench.fingerprint  # reused the second time


@pytest.mark.slow
def test_demo_says_it_reused_the_shipped_weights(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["demo", "-n", "2", "--json", "--quiet", "--no-suite", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    assert "the shipped digits weights, not trained in this run" in result["weights"]
    assert "--train trains them here" in result["weights"]
    assert all(r["max_abs_diff"] <= 1e-4 and r["agreement"] == 1.0 for r in result["records"])
    assert max(r["accuracy"] for r in result["records"]) > 0.5  # trained weights, BN re-calibrated


def test_train_and_untrained_contradict(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["demo", "--train", "--untrained", "--quiet", "--out", str(tmp_path)])
    assert code == 2
    assert "--train and --untrained" in capsys.readouterr().err
