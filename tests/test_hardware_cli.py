"""``ofa-bench hardware`` subcommands and backend spec strings."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau

from ofa_bench import cli
from ofa_bench.cli import arguments
from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins import registry

QUICK = ["--repeats", "2", "--warmup", "1", "--rounds", "1"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lut") / "mini.yaml"
    code = cli.main(["--quiet", "hardware", "build-lut", "--space", "ofa-mini", "--runner", "torch-cpu",
                     "--out", str(out), "--calibration", "3", *QUICK])  # fmt: skip
    assert code == 0
    return out


def test_build_lut_reports_json(table: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # The module's table is finished, so building to it again returns at once with its summary.
    code, out, _ = run(capsys, "--json", "hardware", "build-lut", "--space", "ofa-mini", "--runner", "torch-cpu",
                       "--out", str(table), *QUICK)  # fmt: skip
    summary = json.loads(out)
    assert code == 0 and summary["layers"] == 284 and summary["runner"] == "torch-cpu"
    assert summary["space"] == "ofa-mini" and isinstance(summary["overhead_ms"], float)


def test_build_lut_picks_backends_by_capability(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from ofa_bench.plugins import registry
    from ofa_bench.plugins.interfaces import BuildableBackend

    assert isinstance(registry.get("hardware", "lut"), BuildableBackend)
    assert not isinstance(registry.get("hardware", "mmacs"), BuildableBackend)
    code, _, err = run(capsys, "hardware", "build-lut", "--space", "ofa-mini", "--runner", "torch-cpu",
                       "--backend", "mmacs", "--out", str(tmp_path / "t.yaml"))  # fmt: skip
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "'mmacs' cannot be built" in err and "buildable: lut" in err
    assert not (tmp_path / "t.yaml").exists()


def test_validate_writes_metrics_plot_and_csv(table: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plot, rows = tmp_path / "scatter.png", tmp_path / "validation.csv"
    code, out, _ = run(capsys, "--json", "hardware", "validate", "--table", str(table), "--runner", "torch-cpu",
                       "-n", "4", "--seed", "3", "--plot", str(plot), "--out", str(rows), *QUICK)  # fmt: skip
    assert code == 0
    summary = json.loads(out)
    assert summary["runner"]["threads"] == 1  # taken from the table's header
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(rows, newline="") as f:
        records = list(csv.DictReader(f))
    assert len(records) == summary["n"] == 4
    # The summary's figures, recomputed from the rows it wrote (scipy's tau, the definitions by hand).
    measured = np.array([float(r["measured_ms"]) for r in records])
    predicted = np.array([float(r["predicted_ms"]) for r in records])
    assert (measured > 0).all() and (predicted > 0).all()
    assert summary["kendall_tau"] == pytest.approx(kendalltau(predicted, measured).statistic, abs=1e-9)
    assert summary["rmse_ms"] == pytest.approx(float(np.sqrt(np.mean((predicted - measured) ** 2))), rel=1e-4)
    assert summary["within_10pct"] == pytest.approx(np.mean(np.abs(predicted - measured) <= 0.1 * measured))


def test_validate_prints_a_table(table: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "hardware", "validate", "--table", str(table), "--runner", "onnxruntime-cpu", "-n", "2",
                       *QUICK)  # fmt: skip
    assert code == 0 and "Kendall tau" in out and "within +-10%" in out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--runner", "tpu"], "unknown hardware backend 'tpu'; known:"),
        (["--runner", "torch-cpu:threads"], "is not key=value"),
        (["--runner", "torch-cpu", "--space", "ofa-mbv3-w1.0"], "built for space 'ofa-mini'"),
    ],
)
def test_validate_errors_are_one_line(table: Path, capsys, argv: list[str], fragment: str) -> None:
    code, _, err = run(capsys, "hardware", "validate", "--table", str(table), "-n", "2", *argv)
    assert code == 2 and fragment in err and err.count("\n") == 1


def test_missing_and_malformed_tables(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "hardware", "validate", "--table", str(tmp_path / "no.yaml"), "--runner", "torch-cpu")
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("layers: [\n")
    code, _, err = run(capsys, "hardware", "validate", "--table", str(bad), "--runner", "torch-cpu")
    assert code == 2 and str(bad) in err and err.count("\n") == 1


def test_ofa_tables_need_a_space(tmp_path: Path, capsys) -> None:
    entry = "Conv-input:160x160x3-output:80x80x16: {count: 1, mean: 0.1, std: 0}\n"
    (tmp_path / "160_lookup_table.yaml").write_text(entry)
    code, _, err = run(capsys, "hardware", "validate", "--table", str(tmp_path), "--runner", "torch-cpu")
    assert code == 2 and "--space is required" in err


@pytest.mark.parametrize(
    ("runner", "flags", "fragment"),
    [
        ("torch-cpu:threads=2", ["--threads", "1"], "--runner 'torch-cpu:threads=2' sets threads=2 but --threads 1"),
        ("torch-cpu:batch_size=4", ["--batch-size", "2"], "sets batch_size=4 but --batch-size 2 was given"),
        ("torch-cpu:channels_last=maybe", [], "parameter channels_last must be true or false; got 'maybe'"),
    ],
)
def test_runner_spec_conflicting_with_a_flag_is_refused(
    tmp_path: Path, capsys, runner: str, flags: list[str], fragment: str
) -> None:
    """A spec parameter would silently win over the flag (2 threads for --threads 1): refused before any timing."""
    out = tmp_path / "t.yaml"
    argv = ["hardware", "build-lut", "--space", "ofa-mini", "--runner", runner, "--out", str(out), *flags]
    code, _, err = run(capsys, *argv)
    assert code == 2 and fragment in err and err.count("\n") == 1 and not out.exists()
    code, _, err = run(capsys, "hardware", "fit-linear", "--space", "ofa-mini", "--runner", runner, *flags)
    assert code == 2 and fragment in err


def test_unavailable_runner(table: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = run(capsys, "hardware", "validate", "--table", str(table), "--runner", "torch-cuda", "-n", "2")
    assert code == 2 and "'torch-cuda' is not available here" in err and err.count("\n") == 1
    code, _, err = run(capsys, "hardware", "build-lut", "--space", "ofa-mini", "--runner", "torch-cuda",
                       "--out", str(table.parent / "cuda.yaml"))  # fmt: skip
    assert code == 2 and "'torch-cuda' is not available here" in err


def test_list(capsys) -> None:
    code, out, _ = run(capsys, "--json", "hardware", "list")
    entries = {e["name"]: e for e in json.loads(out)}
    assert code == 0 and entries["torch-cpu"]["available"] is True and entries["mmacs"]["units"] == "MMACs"
    assert "needs a table" in entries["lut"]["note"]


# ----- backend specs ----------------------------------------------------------------------------


def test_parse_spec() -> None:
    assert registry.parse_spec("lut:table=out/lut.yaml") == ("lut", {"table": "out/lut.yaml"})
    assert registry.parse_spec("torch-cpu:threads=2:channels_last=false:x=0.5") == (
        "torch-cpu", {"threads": 2, "channels_last": False, "x": 0.5}
    )  # fmt: skip
    assert registry.parse_spec("mmacs") == ("mmacs", {})
    # Suite files write parameters comma-separated; both read the same.
    assert registry.parse_spec("lut:table=t.yaml,threads=2") == registry.parse_spec("lut:table=t.yaml:threads=2")
    for bad in ("", ":a=1", "lut:table", "lut:=x"):
        with pytest.raises(OfaBenchError):
            registry.parse_spec(bad)


def test_specs_create_backends(table: Path) -> None:
    lut = registry.create_from_spec("hardware", f"lut:table={table}")
    assert lut.describe()["table"] == [str(table)]
    runner = registry.create_from_spec("hardware", "torch-cpu:threads=2", repeats=3)
    assert (runner.threads, runner.repeats) == (2, 3)
    assert registry.create_from_spec("hardware", lut) is lut
    with pytest.raises(OfaBenchError, match="unknown hardware backend 'nope'; known: .*lut.*macs"):
        registry.create_from_spec("hardware", "nope:x=1")
    with pytest.raises(OfaBenchError, match="hardware backend 'lut' has no parameter 'tabel' .did you mean 'table'.."):
        registry.create_from_spec("hardware", f"lut:tabel={table}")


def test_cli_backends_option_takes_specs(table: Path) -> None:
    assert arguments.backends(f"mmacs, lut:table={table}") == ("mmacs", f"lut:table={table}")
    assert arguments.backends("torch-cpu:threads=1,repeats=3,mmacs") == ("torch-cpu:threads=1:repeats=3", "mmacs")
    with pytest.raises(argparse.ArgumentTypeError, match="unknown hardware backend 'gpu'; known: "):
        arguments.backends("mmacs,gpu:x=1")


def test_evaluator_takes_backend_specs(table: Path, tmp_path: Path) -> None:
    import torch

    from ofa_bench.benchmark.trained import Benchmark
    from ofa_bench.data import DataSpec
    from ofa_bench.evaluate import Evaluator
    from ofa_bench.nn import ElasticMobileNetV3
    from ofa_bench.space import get_space

    space = get_space("ofa-mini")
    torch.manual_seed(0)
    Benchmark.create(tmp_path / "bench", ElasticMobileNetV3(space), DataSpec(dataset="digits", calib_size=32),
                     {"seed": 0}, calibration_batch_size=32)  # fmt: skip
    archs = space.sample(2, rng=0)
    with Evaluator(tmp_path / "bench", device="cpu", cache=False) as evaluator:
        df = evaluator.evaluate(archs, backends=("mmacs", f"lut:table={table}"))
    expected = registry.create("hardware", "lut", table=table).latency(archs)
    assert list(df["latency:lut"]) == pytest.approx(list(expected))
    assert df.attrs["backends"]["latency:lut"]["runner"] == "torch-cpu"


def test_fit_linear_prints_a_usable_spec(capsys) -> None:
    code, out, _ = run(capsys, "--json", "hardware", "fit-linear", "--space", "ofa-mini", "--runner", "torch-cpu",
                       "-n", "4", *QUICK)  # fmt: skip
    fit = json.loads(out)
    assert code == 0 and fit["n_archs"] == 4 and fit["slope_ms_per_mmac"] >= 0
    backend = registry.create_from_spec("hardware", fit["spec"])
    assert backend.slope_ms_per_mmac == pytest.approx(fit["slope_ms_per_mmac"], rel=1e-5)
