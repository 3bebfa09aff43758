"""Tests of the valid/test protocol of the evaluator and of named (shipped) benchmarks.

The benchmarks here are untrained supernets on tiny MNIST-format folders the tests write; what is
checked is the protocol (which split, which cache rows, which names resolve), not accuracy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from ofa_bench import cli
from ofa_bench.benchmark import zoo
from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.data import DataSpec
from ofa_bench.errors import OfaBenchError
from ofa_bench.evaluate import Evaluator
from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.space import get_space
from tests.test_idx_data import write_idx_folder

FMNIST = get_space("ofa-fmnist")


def _untrained(directory: Path, space_name: str, spec: DataSpec) -> Path:
    torch.manual_seed(0)
    Benchmark.create(directory, ElasticMobileNetV3(get_space(space_name)), spec, training={"note": "untrained"})
    return directory


@pytest.fixture(scope="module")
def idx_bench(tmp_path_factory: pytest.TempPathFactory, one_thread: None) -> Path:
    root = tmp_path_factory.mktemp("idx")
    write_idx_folder(root / "data", n_train=80, n_test=20)
    spec = DataSpec(dataset="idx", root=str(root / "data"), val_fraction=0.25, calib_size=20)
    return _untrained(root / "bench", "ofa-fmnist", spec)


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_fingerprint_names_every_split(idx_bench: Path) -> None:
    splits = Benchmark.load(idx_bench).splits
    for name in ("train", "val", "calib", "test"):
        assert len(splits[f"{name}_sha256"]) == 16
    assert (splits["n_train"], splits["n_val"], splits["n_test"]) == (60, 20, 20)


def test_valid_and_test_are_measured_and_cached_apart(idx_bench: Path) -> None:
    archs = FMNIST.sample(2, 5)
    with Evaluator(idx_bench, device="cpu") as valid, Evaluator(idx_bench, device="cpu", split="test") as test:
        v, t = valid.evaluate(archs), test.evaluate(archs)
        assert set(v["split"]) == {"valid"} and set(t["split"]) == {"test"}
        assert v.attrs["split"] == "valid" and t.attrs["split"] == "test"
        assert not t["cached"].any(), "test accuracies never come from validation rows"
        assert test.evaluate(archs)["cached"].all()
        again = valid.evaluate(archs)
        assert again["cached"].all() and again["accuracy"].tolist() == v["accuracy"].tolist()
    with Evaluator(idx_bench, device="cpu", cache=False, split="test") as fresh:
        assert fresh.evaluate(archs)["accuracy"].tolist() == t["accuracy"].tolist()


def test_unknown_split_and_digits_test_split_are_refused(tmp_path: Path, idx_bench: Path) -> None:
    with pytest.raises(OfaBenchError, match="allowed splits: valid, test"):
        Evaluator(idx_bench, split="val")
    digits = _untrained(tmp_path / "digits", "ofa-mini", DataSpec(calib_size=50))
    with pytest.raises(OfaBenchError, match="has no test split; allowed splits: valid"):
        Evaluator(digits, split="test")


def test_evaluate_cli_takes_split(capsys: pytest.CaptureFixture[str], tmp_path: Path, idx_bench: Path) -> None:
    archs = tmp_path / "archs.jsonl"
    archs.write_text(FMNIST.smallest(16).to_json() + "\n")
    argv = ["evaluate", "--bench", str(idx_bench), "--split", "test", "--archs", str(archs), "--json"]
    code, out, _ = _run(capsys, argv)
    assert code == 0 and json.loads(out)["split"] == "test"


@pytest.mark.parametrize("command", [["evaluate", "--archs", "-"], ["archive", "-n", "1"], ["bench", "info"]])
def test_unknown_benchmark_name_is_one_line(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    argv = [*command, "no-such-bench"] if command[0] == "bench" else [*command, "--bench", "no-such-bench"]
    code, out, err = _run(capsys, argv)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1
    assert "unknown benchmark 'no-such-bench'" in lines[0] and "shipped:" in lines[0]


def test_a_shipped_benchmark_resolves_by_name_and_caches_outside_the_package(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, idx_bench: Path
) -> None:
    fake_zoo = tmp_path / "zoo"
    shutil.copytree(idx_bench, fake_zoo / "tiny", ignore=shutil.ignore_patterns("cache.sqlite*"))
    (fake_zoo / "tiny" / zoo.PROVENANCE_FILE).write_text(json.dumps({"command": "made by a test", "seed": 0}))
    monkeypatch.setattr(zoo, "ZOO_DIR", fake_zoo.resolve())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert zoo.shipped_benchmarks() == ["tiny"]
    code, out, _ = _run(capsys, ["bench", "list", "--json"])
    assert code == 0 and [e["name"] for e in json.loads(out)] == ["tiny"]
    code, out, _ = _run(capsys, ["bench", "info", "tiny", "--json"])
    info = json.loads(out)
    assert {"name", "dir", "fingerprint", "preset", "dataset", "splits", "provenance"} <= set(info)
    assert info["name"] == "tiny" and info["provenance"]["command"] == "made by a test"
    assert set(info["splits"]) == {"train", "valid", "calib", "test"}
    assert info["fingerprint"] == Benchmark.load(idx_bench).fingerprint
    with Evaluator("tiny", device="cpu") as evaluator:
        evaluator.evaluate([FMNIST.smallest(16)])
    assert not list((fake_zoo / "tiny").glob("cache.sqlite*"))
    assert (tmp_path / "cache" / "ofa-bench" / "zoo" / "tiny" / "cache.sqlite").is_file()
