"""Tests of benchmarks and the evaluator: records, BN-calibrated accuracy, the cache, surrogates, CLI.

Every test runs on a tiny benchmark: an untrained ``ofa-mini`` supernet (seed 0) on the bundled
digits with a 64-image calibration subset. Untrained weights are enough: BN re-calibration
rescales activations per arch, so archs get different losses and accuracies.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from ofa_bench import cli, get_space
from ofa_bench.benchmark.trained import BENCHMARK_FILE, CHECKPOINT_FILE, Benchmark
from ofa_bench.costs import macs_params
from ofa_bench.data import DataSpec
from ofa_bench.errors import OfaBenchError
from ofa_bench.evaluate import Evaluator, archive
from ofa_bench.io.cache import CACHE_FILE, MeasurementCache
from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.plugins.interfaces import Predictor
from ofa_bench.train.calibrate import calibrate_bn

MINI = get_space("ofa-mini")


pytestmark = pytest.mark.usefixtures("one_thread")


def _net(seed: int = 0, space: str = "ofa-mini") -> ElasticMobileNetV3:
    torch.manual_seed(seed)
    return ElasticMobileNetV3(space)


def _spec() -> DataSpec:
    return DataSpec(dataset="digits", calib_size=64)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A benchmark directory built once; tests copy it (see ``bench``) to keep their cache their own."""
    directory = tmp_path_factory.mktemp("made") / "bench"
    Benchmark.create(directory, _net(), _spec(), {"note": "untrained", "seed": 0}, calibration_batch_size=32)
    return directory


@pytest.fixture
def bench(made: Path, tmp_path: Path) -> Path:
    directory = tmp_path / "bench"
    directory.mkdir()
    for name in (BENCHMARK_FILE, CHECKPOINT_FILE):
        (directory / name).write_bytes((made / name).read_bytes())
    return directory


def _archs(n: int = 3, seed: int = 1) -> list:
    return MINI.sample(n, seed)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and message
    return message


# ----- records ----------------------------------------------------------------------------------


def test_records_have_the_documented_columns_and_types(bench: Path) -> None:
    archs = _archs()
    df = Evaluator(bench, device="cpu").evaluate(archs, backends=("mmacs", "mparams"))
    assert list(df.columns) == [
        "arch", "r", "accuracy", "loss", "macs", "params", "latency:mmacs", "latency:mparams",
        "wall_time", "cached", "fingerprint", "oracle", "split",
    ]  # fmt: skip
    assert [MINI.from_json(s) for s in df["arch"]] == archs
    assert df["r"].tolist() == [a.r for a in archs]
    for column, kind in (("r", "int64"), ("macs", "int64"), ("params", "int64"), ("accuracy", "float64"),
                         ("loss", "float64"), ("wall_time", "float64"), ("cached", "bool")):  # fmt: skip
        assert df[column].dtype == kind, column
    assert df["accuracy"].between(0, 1).all() and (df["loss"] > 0).all()
    assert df["loss"].nunique() == 3, "calibrated archs should differ"
    macs, params = macs_params(archs)
    assert df["macs"].tolist() == macs.tolist() and df["params"].tolist() == params.tolist()
    np.testing.assert_allclose(df["latency:mmacs"], macs / 1e6)
    assert not df["cached"].any() and (df["wall_time"] > 0).all()
    fingerprint = Benchmark.load(bench).fingerprint
    assert set(df["fingerprint"]) == {fingerprint} and set(df["oracle"]) == {"live"}
    assert df.attrs["units"]["latency:mmacs"] == "MMACs" and df.attrs["oracle"] == "live"
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0


def test_measurement_is_deterministic_and_equals_a_manual_one(bench: Path) -> None:
    archs = _archs(2)
    first = Evaluator(bench, cache=False).evaluate(archs)
    second = Evaluator(bench, cache=False).evaluate(archs)
    pd.testing.assert_series_equal(first["accuracy"], second["accuracy"])
    pd.testing.assert_series_equal(first["loss"], second["loss"])
    # By hand: calibrate the supernet, then extract the static subnet and evaluate that.
    benchmark = Benchmark.load(bench)
    net, data = benchmark.supernet("cpu"), benchmark.data()
    for arch, accuracy, loss in zip(archs, first["accuracy"], first["loss"]):
        calibrate_bn(net, arch, (torch.as_tensor(x) for x, _ in data.eval_batches("calib", arch.r, 32)))
        static = net.extract(arch).eval()
        correct, total, loss_sum = 0, 0, 0.0
        with torch.no_grad():
            for x, y in data.eval_batches("val", arch.r, 256):
                logits = static(torch.as_tensor(x))
                correct += int((logits.argmax(1) == torch.as_tensor(y)).sum())
                loss_sum += float(F.cross_entropy(logits, torch.as_tensor(y), reduction="sum"))
                total += len(y)
        assert total == data.n_val
        assert correct / total == accuracy
        assert loss_sum / total == pytest.approx(loss, rel=1e-5)


def test_duplicates_are_measured_once_and_dicts_are_accepted(bench: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = _archs(2)
    calls = _count_measurements(monkeypatch)
    df = Evaluator(bench, cache=False).evaluate([a, b.to_dict(), a])
    assert calls == [a, b]
    assert df.loc[0].drop("wall_time").equals(df.loc[2].drop("wall_time"))
    assert len(Evaluator(bench).evaluate([])) == 0


def test_a_backend_that_cannot_measure_fails_before_live_accuracy_is_measured(
    bench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ofa_bench.errors import PluginError
    from ofa_bench.plugins import HardwareBackend

    class OtherSpace(HardwareBackend):
        name = "other-space"

        def latency(self, archs):
            raise OfaBenchError("lookup table t.yaml was built for space 'ofa-mini'")

        def describe(self):
            return {"name": self.name, "device": "cpu", "version": "0", "units": "ms"}

    calls = _count_measurements(monkeypatch)
    with pytest.raises(OfaBenchError, match="built for space 'ofa-mini'"):
        Evaluator(bench, cache=False).evaluate(_archs(3), [OtherSpace()])
    assert calls == []

    class Buggy(OtherSpace):
        def latency(self, archs):
            return {}["device"]

    with pytest.raises(PluginError, match="hardware backend 'other-space': latency.. raised KeyError: 'device'"):
        Evaluator(bench, cache=False).evaluate(_archs(3), [Buggy()])
    assert calls == []

    class Counting(OtherSpace):
        asked: list[int] = []

        def latency(self, archs):
            self.asked.append(len(archs))
            return np.ones(len(archs))

    backend, evaluator = Counting(), Evaluator(bench, cache=False)
    evaluator.evaluate(_archs(3), [backend])
    evaluator.evaluate(_archs(5)[3:], [backend])
    assert Counting.asked == [1, 3, 2]  # the probe once per evaluator, then every batch whole


# ----- cache ------------------------------------------------------------------------------------


def _count_measurements(monkeypatch: pytest.MonkeyPatch, fail_on: int | None = None) -> list:
    calls: list = []
    measure = Evaluator._measure

    def counting(self: Evaluator, arch):
        calls.append(arch)
        if len(calls) == fail_on:
            raise KeyboardInterrupt  # as if the run were killed while measuring this arch
        return measure(self, arch)

    monkeypatch.setattr(Evaluator, "_measure", counting)
    return calls


def _no_measuring(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("measured although the cache should answer")

    monkeypatch.setattr(Evaluator, "_measure", fail)
    monkeypatch.setattr(Benchmark, "supernet", fail)


def test_second_evaluation_is_answered_by_the_cache(bench: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archs = _archs(2)
    first = Evaluator(bench).evaluate(archs)
    assert (bench / CACHE_FILE).exists()
    _no_measuring(monkeypatch)
    second = Evaluator(bench).evaluate(archs)
    assert second["cached"].all()
    for column in ("accuracy", "loss", "wall_time"):
        pd.testing.assert_series_equal(first[column], second[column])


def test_killed_evaluation_resumes_without_measuring_twice(bench: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archs = _archs(4)
    _count_measurements(monkeypatch, fail_on=3)
    with pytest.raises(KeyboardInterrupt):
        Evaluator(bench).evaluate(archs)
    monkeypatch.undo()
    calls = _count_measurements(monkeypatch)
    df = Evaluator(bench).evaluate(archs)
    assert calls == archs[2:]
    assert df["cached"].tolist() == [True, True, False, False]


def test_new_weights_change_the_fingerprint_and_skip_old_rows(bench: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archs = _archs(2)
    old = Evaluator(bench).evaluate(archs)
    net = Benchmark.load(bench).supernet("cpu")
    with torch.no_grad():
        net.classifier[1].bias.add_(0.5)
    rebuilt = Benchmark.create(bench, net, _spec(), {"note": "changed"}, calibration_batch_size=32)
    assert rebuilt.fingerprint != old["fingerprint"][0]
    calls = _count_measurements(monkeypatch)
    new = Evaluator(bench).evaluate(archs)
    assert calls == archs and not new["cached"].any()
    assert set(new["fingerprint"]) == {rebuilt.fingerprint}
    cache = MeasurementCache(bench)
    assert cache.count(old["fingerprint"][0]) == 2 and cache.count(rebuilt.fingerprint) == 2
    cache.close()


def test_fingerprint_names_the_calibration_settings(bench: Path, tmp_path: Path) -> None:
    net = Benchmark.load(bench).supernet("cpu")
    other = Benchmark.create(tmp_path / "b64", net, _spec(), {}, calibration_batch_size=64)
    same = Benchmark.create(tmp_path / "b32", net, _spec(), {}, calibration_batch_size=32)
    assert Benchmark.load(bench).fingerprint == same.fingerprint != other.fingerprint


def test_cache_opens_while_another_process_switches_it_to_wal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite says "database is locked" at once, busy timeout or not, while another connection
    switches a new file to WAL (several workers opening one new cache): opening waits it out."""
    import sqlite3

    real_connect = sqlite3.connect
    refused: list[str] = []

    class Refusing:
        """A connection whose first WAL switches fail with ``error``, as under the race."""

        def __init__(self, db: sqlite3.Connection, error: str, times: int) -> None:
            self._db, self._error, self._times = db, error, times

        def execute(self, sql: str, *args):
            if sql.startswith("PRAGMA journal_mode") and len(refused) < self._times:
                refused.append(sql)
                raise sqlite3.OperationalError(self._error)
            return self._db.execute(sql, *args)

        def __getattr__(self, name: str):
            return getattr(self._db, name)

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: Refusing(real_connect(*a, **k), "database is locked", 3))
    cache = MeasurementCache(tmp_path)
    assert len(refused) == 3 and cache._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cache.close()
    # Any other error is still a one-line refusal, at once.
    refused.clear()
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: Refusing(real_connect(*a, **k), "disk I/O error", 1))
    (tmp_path / "other").mkdir()
    with pytest.raises(OfaBenchError, match="cannot open the evaluation cache .*disk I/O error") as info:
        MeasurementCache(tmp_path / "other")
    assert len(refused) == 1 and "\n" not in str(info.value)


# ----- surrogate oracle --------------------------------------------------------------------------


class MacsScore(Predictor):
    """A toy surrogate: bigger networks score higher."""

    def __init__(self, *, scale: float = 1e7) -> None:
        self.scale = scale

    def fit(self, archs, y):
        self.fitted_ = True
        return self

    def predict(self, archs):
        macs, _ = macs_params(archs)
        return 1.0 - np.exp(-macs / self.scale)


def test_surrogate_oracle_is_labelled_and_never_loads_the_supernet(
    bench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archs = _archs()
    _no_measuring(monkeypatch)
    monkeypatch.setattr(Benchmark, "data", lambda self: pytest.fail("surrogate loaded the data"))
    oracle = MacsScore().fit(archs, [0.5] * 3)
    df = Evaluator(bench, oracle=oracle).evaluate(archs)
    assert set(df["oracle"]) == {"surrogate:MacsScore"} and df.attrs["oracle"] == "surrogate:MacsScore"
    np.testing.assert_allclose(df["accuracy"], oracle.predict(archs))
    assert df["loss"].isna().all() and not df["cached"].any()
    again = Evaluator(bench, oracle=oracle).evaluate(archs)
    assert again["cached"].all() and again["loss"].isna().all()
    refitted = Evaluator(bench, oracle=MacsScore(scale=2e7).fit(archs, [0.5] * 3)).evaluate(archs)
    assert not refitted["cached"].any(), "another fit must not read the first fit's predictions"
    assert (refitted["accuracy"] < df["accuracy"]).all()
    monkeypatch.undo()
    live = Evaluator(bench).evaluate(archs[:1])  # surrogate rows never answer for the live oracle
    assert not live["cached"].any() and set(live["oracle"]) == {"live"}


def test_archive_is_a_seeded_prefix_and_resumes(bench: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = archive(bench, 1, seed=4)
    assert list(small.columns[6:8]) == ["latency:mmacs", "latency:mparams"] and small.attrs["seed"] == 4
    calls = _count_measurements(monkeypatch)
    large = archive(bench, 2, seed=4)
    assert large["arch"][:1].tolist() == small["arch"].tolist()
    assert large["cached"].tolist() == [True, False] and len(calls) == 1


# ----- errors -------------------------------------------------------------------------------------


def test_benchmark_errors_are_one_line(bench: Path, tmp_path: Path) -> None:
    with pytest.raises(OfaBenchError, match="not found") as exc:
        Benchmark.load(tmp_path / "nowhere")
    _one_line(exc)

    meta = json.loads((bench / BENCHMARK_FILE).read_text())
    checkpoint = (bench / CHECKPOINT_FILE).read_bytes()

    def broken(text: str | None = None, weights: bytes | None = None, drop: str | None = None) -> str:
        (bench / BENCHMARK_FILE).write_text(json.dumps(meta) if text is None else text)
        (bench / CHECKPOINT_FILE).write_bytes(checkpoint if weights is None else weights)
        if drop:
            (bench / drop).unlink()
        with pytest.raises(OfaBenchError) as exc:
            Benchmark.load(bench)
        return _one_line(exc)

    assert "malformed JSON at line 1" in broken(text='{"format": ')
    assert "format is 'nope'" in broken(text=json.dumps({**meta, "format": "nope"}))
    assert "version 9" in broken(text=json.dumps({**meta, "version": 9}))
    assert "eval_batch_size must be an integer" in broken(text=json.dumps({**meta, "eval_batch_size": "x"}))
    assert "unknown search space 'tiny'" in broken(text=json.dumps({**meta, "preset": "tiny"}))
    assert "writing did not finish" in broken(drop=BENCHMARK_FILE)
    assert "checkpoint" in broken(drop=CHECKPOINT_FILE) and "not found" in broken(drop=CHECKPOINT_FILE)
    random_bytes = np.random.default_rng(0).bytes(4096)
    assert "corrupted or not a torch weights file" in broken(weights=random_bytes)
    assert "corrupted" in broken(weights=checkpoint[: len(checkpoint) // 2])

    def saved(obj: object) -> bytes:
        path = tmp_path / "other.pt"
        torch.save(obj, path)
        return path.read_bytes()

    assert "not an ofa-bench supernet checkpoint" in broken(weights=saved(_net().state_dict()))
    other_split = {**meta, "splits": {**meta["splits"], "val_sha256": "0" * 16}}
    (bench / BENCHMARK_FILE).write_text(json.dumps(other_split))
    (bench / CHECKPOINT_FILE).write_bytes(checkpoint)
    with pytest.raises(OfaBenchError, match="val_sha256=.* would not be comparable") as exc:
        Benchmark.load(bench).data()  # the data here splits differently from the benchmark's
    _one_line(exc)
    big = ElasticMobileNetV3("ofa-mbv3-w1.0").state_dict()
    foreign = {"format": "ofa-bench-supernet", "version": 1, "space": "ofa-mbv3-w1.0", "state_dict": big}
    assert "weights of space 'ofa-mbv3-w1.0'" in broken(weights=saved(foreign))
    assert "do not fit ofa-mini" in broken(weights=saved({**foreign, "space": "ofa-mini"}))


def test_arch_of_another_space_is_refused(bench: Path) -> None:
    with pytest.raises(OfaBenchError, match="arch 1 is of space 'ofa-mbv3-w1.0'") as exc:
        Evaluator(bench).evaluate([MINI.largest(), get_space("ofa-mbv3-w1.0").largest()])
    _one_line(exc)
    with pytest.raises(OfaBenchError, match=r"arch 0: ks\[0\]=4") as exc:
        Evaluator(bench).evaluate([{**MINI.largest().to_dict(), "ks": [4] * MINI.n_blocks}])
    _one_line(exc)


# ----- command line -------------------------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_evaluate_writes_records_and_a_summary(
    bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archs = _archs()
    archs_file = tmp_path / "archs.jsonl"
    archs_file.write_text("".join(a.to_json() + "\n" for a in archs + archs[:1]))
    out = tmp_path / "records.jsonl"
    argv = ["evaluate", "--bench", str(bench), "--archs", str(archs_file), "--out", str(out), "--device", "cpu"]
    code, stdout, err = _run(capsys, argv + ["--json", "--backends", "mmacs,mparams"])
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["count"] == 4 and summary["unique"] == 3 and summary["measured"] == 3 and summary["cached"] == 0
    assert 0 <= summary["accuracy"]["min"] <= summary["accuracy"]["median"] <= summary["accuracy"]["max"] <= 1
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [MINI.from_dict({k: r[k] for k in "ks e d r".split()}) for r in records] == archs + archs[:1]
    assert {"accuracy", "loss", "macs", "params", "latency:mmacs", "latency:mparams", "cached"} <= set(records[0])
    code, stdout, _ = _run(capsys, argv[:-2] + ["--out", str(tmp_path / "r.csv")])
    assert code == 0 and "cached hits" in stdout and "3" in stdout
    table = pd.read_csv(tmp_path / "r.csv")
    assert len(table) == 4 and table["cached"].all()
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_archive(bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["archive", "--bench", str(bench), "-n", "2", "--seed", "2"]
    code, stdout, err = _run(capsys, argv + ["--out", "-", "--json"])
    assert code == 0
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [MINI.from_dict({k: r[k] for k in "ks e d r".split()}) for r in lines] == MINI.sample(2, 2)
    assert "latency:mparams" in lines[0] and json.loads(err)["count"] == 2
    code, stdout, _ = _run(capsys, argv + ["--quiet"])
    assert code == 0 and "Archive of 2 archs" in stdout


def test_cli_evaluate_of_a_folder_without_a_benchmark_names_the_commands_that_give_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, err = _run(capsys, ["evaluate", "--bench", str(tmp_path), "--archs", "-"])
    assert code == 2 and stdout == "" and len(err.splitlines()) == 1
    assert f"benchmark {str(tmp_path)!r} has no benchmark.json; train one with 'ofa-bench train --out DIR'" in err
    assert "'ofa-bench bench list'" in err and "Benchmark.create" not in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["evaluate", "--bench", "{missing}", "--archs", "-"], "not found"),
        (["archive", "--bench", "{bench}", "-n", "1", "--backends", "mmacs,warp"], "unknown hardware backend 'warp'"),
        (["archive", "--bench", "{corrupt}", "-n", "1"], "corrupted"),
    ],
)
def test_cli_errors_are_one_line(
    bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / BENCHMARK_FILE).write_bytes((bench / BENCHMARK_FILE).read_bytes())
    (corrupt / CHECKPOINT_FILE).write_bytes(b"\x00" * 100)
    paths = {"missing": tmp_path / "missing", "bench": bench, "corrupt": corrupt}
    code, stdout, err = _run(capsys, [a.format(**paths) for a in argv])
    assert code == 2 and stdout == ""
    assert len(err.splitlines()) == 1 and message in err and err.startswith("ofa-bench: error:")
    assert not math.isnan(code)


@pytest.mark.slow
def test_cache_survives_sigkill_of_the_archive_command(bench: Path, tmp_path: Path) -> None:
    """``ofa-bench archive`` killed with SIGKILL keeps what it measured; the rerun measures the rest."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    def rows() -> int:
        if not (bench / CACHE_FILE).exists():
            return 0
        with sqlite3.connect(bench / CACHE_FILE) as db:
            try:
                return db.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]
            except sqlite3.OperationalError:  # table not created yet
                return 0

    n = 12
    command = [sys.executable, "-m", "ofa_bench", "archive", "--bench", str(bench), "-n", str(n), "--quiet"]
    # The same thread count as this process's fresh measurement below (float sums depend on it).
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while rows() < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = rows()
    assert 2 <= kept < n, "killed too late to test resuming"
    out = tmp_path / "archive.jsonl"
    assert cli.main(["archive", "--bench", str(bench), "-n", str(n), "--out", str(out), "--quiet", "--json"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sum(r["cached"] for r in records) == kept and rows() == n
    # The kill lost nothing: the same accuracies as a fresh, uninterrupted measurement.
    with Evaluator(bench, cache=False) as evaluator:
        fresh = evaluator.evaluate(MINI.sample(n, 0))
    assert [r["accuracy"] for r in records] == fresh["accuracy"].tolist()
