"""``ofa-bench search`` end to end on a tiny untrained benchmark, resume, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ofa_bench import cli, get_space
from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.data import DataSpec
from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.objectives import minimum_of
from ofa_bench.plugins import registry
from ofa_bench.search.runlog import LOG_FILE, META_FILE

MINI = get_space("ofa-mini")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained ofa-mini benchmark on digits (BN re-calibration still separates archs)."""
    directory = tmp_path_factory.mktemp("search") / "bench"
    torch.manual_seed(0)
    Benchmark.create(
        directory, ElasticMobileNetV3(MINI), DataSpec(dataset="digits", calib_size=64), {"note": "untrained"},
        calibration_batch_size=32,
    )  # fmt: skip
    return directory


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _search(bench: Path, out: Path, *extra: str) -> list[str]:
    return ["search", "--bench", str(bench), "--strategy", "random", "--budget", "6", "--seed", "3",
            "--out", str(out), "--device", "cpu", *extra]  # fmt: skip


def test_search_writes_the_log_and_the_pareto_set(bench: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    code, stdout, err = _run(capsys, _search(bench, out, "--json", "--constraint", "macs<=4e6", "--batch-size", "4"))
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["evaluations"] == 6 and summary["strategy"] == "random" and summary["oracle"] == "live"
    entries = [json.loads(line) for line in (out / LOG_FILE).read_text().splitlines()]
    assert [e["n"] for e in entries] == list(range(1, 7)) and [e["batch"] for e in entries] == [1, 1, 1, 1, 2, 2]
    assert all(0 <= e["record"]["accuracy"] <= 1 and e["record"]["macs"] <= 4e6 for e in entries)
    assert all(e["time"]["eval_s"] > 0 for e in entries)
    meta = json.loads((out / META_FILE).read_text())
    assert meta["status"] == "done" and meta["fingerprint"] == Benchmark.load(bench).fingerprint
    assert meta["backends"] == ["mmacs"]
    pareto = [json.loads(line) for line in (out / "pareto.jsonl").read_text().splitlines()]
    table = pd.read_csv(out / "pareto.csv")
    assert len(pareto) == len(table) == summary["pareto"] >= 1
    logged = {json.dumps(e["arch"], separators=(",", ":")) for e in entries}
    assert set(table["arch"]) <= logged and {"accuracy", "latency:mmacs"} <= set(pareto[0])

    # Rerunning with the same --out resumes: a finished run measures nothing and says the same.
    code, again, _ = _run(capsys, _search(bench, out, "--json", "--constraint", "macs<=4e6", "--batch-size", "4"))
    assert code == 0 and json.loads(again)["pareto"] == summary["pareto"]
    assert len((out / LOG_FILE).read_text().splitlines()) == 6


def test_search_table_and_strategy_params(bench: Path, tmp_path: Path, capsys) -> None:
    argv = _search(bench, tmp_path / "evo", "--param", "population_size=4", "--objectives", "accuracy,params")
    argv[argv.index("random")] = "ofa-evolution"
    code, stdout, err = _run(capsys, argv)
    assert code == 0, err
    assert "evolution search, seed 3" in stdout and "best accuracy" in stdout and "Pareto set" in stdout
    meta = json.loads((tmp_path / "evo" / META_FILE).read_text())
    assert meta["strategy_params"]["population_size"] == 4 and meta["batch_size"] == 4


def test_search_with_a_surrogate_oracle_file(bench: Path, tmp_path: Path, capsys) -> None:
    archs = MINI.sample(30, 0)
    predictor = registry.create("predictor", "gbdt", n_estimators=10).fit(archs, np.linspace(0.2, 0.9, 30))
    path = tmp_path / "gbdt.predictor"
    predictor.save(path)
    code, stdout, err = _run(capsys, _search(bench, tmp_path / "s", "--json", "--oracle", f"surrogate:{path}"))
    assert code == 0, err
    assert json.loads(stdout)["oracle"] == "surrogate:GBDTPredictor"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--strategy", "nope"], "unknown search strategy 'nope'; known: "),
        (["--objectives", "accuracy,latency:foo"], "objective column 'latency:foo': no hardware backend 'foo'"),
        (["--constraint", "latency:foo<=3"], "constraint column 'latency:foo': no hardware backend 'foo'"),
        (["--objectives", "accuracy,flops"], "objective column 'flops' is not a record column; allowed: accuracy"),
        (["--constraint", "macs<=10"], "constraint macs<=10 cannot be met: the smallest arch of ofa-mini has macs="),
        (["--constraint", "macs>10"], "must read <column><=<number>"),
        (["--budget", "0"], "argument --budget: must be an integer >= 1 and <= 1,000,000; got '0'"),
        (["--param", "population_size"], "--param 'population_size' must read KEY=VALUE"),
        (["--param", "wings=2"], "search strategy 'random' has no parameter 'wings'; its parameters: dedupe"),
        (["--oracle", "magic"], "--oracle 'magic': use 'live', 'shipped' or 'surrogate:<predictor file>'"),
        (["--oracle", "surrogate:/nonexistent.predictor"], "not found"),
        (["--param", "dedupe=maybe"], "search strategy 'random': parameter dedupe must be true or false; got 'maybe'"),
        (["--strategy", "random:dedupe=maybe"], "parameter dedupe must be true or false; got 'maybe'"),
        (["--strategy", "random:dedupe=1"], "parameter dedupe must be true or false; got 1"),
    ],
)
def test_bad_input_is_one_line(bench: Path, tmp_path: Path, capsys, extra: list[str], message: str) -> None:
    argv = _search(bench, tmp_path / "run")
    for flag, value in zip(extra[::2], extra[1::2]):
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    code, stdout, err = _run(capsys, argv)
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("ofa-bench: error:") and message in err


def test_search_refuses_a_device_that_is_not_here_as_evaluate_does(
    bench: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--device cuda`` without CUDA is refused, even with the shipped oracle (which never runs the supernet)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = _search(bench, tmp_path / "run")
    argv[argv.index("--device") + 1] = "cuda"
    for oracle in ("live", "shipped"):
        code, _, err = _run(capsys, [*argv, "--oracle", oracle])
        assert code == 2 and "device 'cuda' asked for, but this machine has no usable CUDA GPU" in err
    code, _, evaluate_err = _run(capsys, ["evaluate", "--bench", str(bench), "--device", "cuda", "--archs", "-"])
    assert evaluate_err == err and not (tmp_path / "run").exists()


def test_infeasible_constraint_reports_the_minimum(bench: Path, tmp_path: Path, capsys) -> None:
    low = minimum_of(MINI, "latency:mparams")
    code, _, err = _run(capsys, _search(bench, tmp_path / "run", "--constraint", f"latency:mparams<={low / 2}"))
    assert code == 2 and f"latency:mparams={low:g}" in err and f"an upper bound >= {low:g}" in err


def test_strategy_takes_a_spec_like_every_plugin_kind(bench: Path, tmp_path: Path, capsys) -> None:
    """``--strategy name:key=value`` (the syntax of --backends and --predictors); --param still adds and wins."""
    argv = _search(bench, tmp_path / "evo", "--objectives", "accuracy", "--param", "mutate_prob=0.3")
    argv[argv.index("random")] = "ofa-evolution:population_size=4:mutate_prob=0.2"
    code, _, err = _run(capsys, argv)
    assert code == 0, err
    meta = json.loads((tmp_path / "evo" / META_FILE).read_text())
    assert meta["strategy"] == "ofa-evolution"
    assert meta["strategy_params"]["population_size"] == 4 and meta["strategy_params"]["mutate_prob"] == 0.3
    code, _, err = _run(capsys, [*argv[:-2], "--strategy", "ofa-evolution:population_sz=4"])
    assert code == 2 and "population_sz" in err and len(err.strip().splitlines()) == 1


def test_a_finished_run_is_not_continued_with_other_backends_nor_taken_by_a_suite(
    bench: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "run"
    assert _run(capsys, _search(bench, out))[0] == 0
    code, _, err = _run(capsys, _search(bench, out, "--backends", "mparams"))
    assert code == 2 and "holds another run (backends: ['mmacs'] there, ['mmacs', 'mparams'] now)" in err
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: t\nbenchmark: {bench}\nobjectives: [accuracy]\nstrategies: [random]\nbudget: {{evaluations: 4}}\n")
    code, _, err = _run(capsys, ["run", str(suite), "--out", str(out)])
    assert code == 2 and "holds a search run (run.json), not a suite run" in err
