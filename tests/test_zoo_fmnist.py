"""The shipped Fashion-MNIST benchmark: its record, its size, and that it reproduces its figures.

Marked slow: it measures two archs on the real 10,000-image test split (a budgeted form of the
acceptance check, no training). Skips when Fashion-MNIST is not installed.
"""

from __future__ import annotations

import json

import pytest
import torch

from ofa_bench import cli
from ofa_bench.benchmark import zoo
from ofa_bench.data.idx_files import FASHION_MNIST, find_root
from ofa_bench.errors import OfaBenchError

pytestmark = pytest.mark.skipif("fmnist" not in zoo.shipped_benchmarks(), reason="fmnist is not shipped here")

PROVENANCE_KEYS = {"command", "commit", "seed", "data_sha256", "device", "threads", "wall_time_s", "fingerprint"}


def test_shipped_benchmark_is_small_and_says_where_it_came_from(capsys: pytest.CaptureFixture[str]) -> None:
    folder = zoo.ZOO_DIR / "fmnist"
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    assert size <= 10 * 2**20
    record = zoo.provenance(folder)
    assert record is not None and PROVENANCE_KEYS <= set(record)
    assert record["data_sha256"] == FASHION_MNIST.sha256
    assert cli.main(["bench", "info", "fmnist", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["fingerprint"] == record["fingerprint"] and info["preset"] == "ofa-fmnist"
    assert info["dataset"] == "fashion-mnist" and set(info["splits"]) == {"train", "valid", "calib", "test"}
    assert (info["splits"]["valid"]["size"], info["splits"]["test"]["size"]) == (10000, 10000)


@pytest.fixture
def recorded_threads():
    """The thread count the recorded accuracies were measured with (docs/fmnist.md).

    oneDNN sums in another order on another thread count: at one thread the largest subnet of
    e91dfc337b2b2fdd classifies one of the 10,000 test images differently (0.9174, not 0.9175).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_shipped_benchmark_reproduces_its_recorded_test_accuracies(
    capsys: pytest.CaptureFixture[str], tmp_path, recorded_threads: None
) -> None:
    try:
        find_root(FASHION_MNIST, None)
    except OfaBenchError:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    recorded = zoo.provenance(zoo.ZOO_DIR / "fmnist")["recorded"][:2]
    archs = tmp_path / "archs.jsonl"
    archs.write_text("".join(json.dumps(r["arch"]) + "\n" for r in recorded))
    argv = ["evaluate", "--bench", "fmnist", "--split", "test", "--no-cache", "--archs", str(archs), "--out", "-"]
    assert cli.main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["accuracy"] for row in rows] == [r["test"] for r in recorded]
    assert {row["split"] for row in rows} == {"test"}
