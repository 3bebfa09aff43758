"""Tests of the measured archive (``ofa-bench build-archive``): sources, resume, concurrent builders, noise model.

The benchmark is an untrained ofa-fmnist supernet on a tiny MNIST-format folder the tests write; what
is checked is the bookkeeping (what is measured, once, and where it goes), and that the archive's
accuracies are the evaluator's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ofa_bench.benchmark.archive import ArchivePlan, build_archive, extreme_archs, measure_full
from ofa_bench.benchmark.measure import Measurer
from ofa_bench.benchmark.noise import remeasure
from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.data import DataSpec
from ofa_bench.errors import OfaBenchError
from ofa_bench.evaluate import Evaluator
from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.space import get_space
from tests.test_idx_data import write_idx_folder

FMNIST = get_space("ofa-fmnist")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def bench(tmp_path: Path, one_thread: None) -> Path:
    write_idx_folder(tmp_path / "data", n_train=60, n_test=16)
    spec = DataSpec(dataset="idx", root=str(tmp_path / "data"), val_fraction=0.25, calib_size=16)
    torch.manual_seed(0)
    net = ElasticMobileNetV3(FMNIST)
    Benchmark.create(tmp_path / "bench", net, spec, calibration_batch_size=8, training={"note": "untrained"})
    return tmp_path / "bench"


SMALL = ArchivePlan(
    random=5, strategies=("random",), trajectory_budget=3, extremes=False, noise_archs=3, noise_repeats=2
)


def test_extremes_are_every_corner_at_every_resolution() -> None:
    archs = extreme_archs(FMNIST)
    assert len(archs) == len(set(archs)) == 8 * len(FMNIST.resolutions)
    assert FMNIST.largest() in archs and FMNIST.smallest() in archs


def test_full_measurement_is_what_the_evaluator_measures(bench: Path) -> None:
    b = Benchmark.load(bench)
    archs = FMNIST.sample(3, 1)
    measurer = Measurer(b, "cpu")
    full = [measure_full(measurer, a) for a in archs]
    with (
        Evaluator(bench, device="cpu", cache=False) as valid,
        Evaluator(bench, device="cpu", cache=False, split="test") as test,
    ):
        v, t = valid.evaluate(archs), test.evaluate(archs)
    assert [f["accuracy"] for f in full] == v["accuracy"].tolist()
    assert [f["test_accuracy"] for f in full] == t["accuracy"].tolist()
    np.testing.assert_allclose([f["loss"] for f in full], v["loss"], rtol=1e-6)
    n = b.data().n_val
    for f in full:  # the halves (even and odd positions) are disjoint and together the whole split
        assert f["valid_half_a"] * ((n + 1) // 2) + f["valid_half_b"] * (n // 2) == pytest.approx(f["accuracy"] * n)


def test_archive_holds_every_source_resumes_and_fills_the_cache(bench: Path, tmp_path: Path) -> None:
    plan = ArchivePlan(random=5, strategies=("random", "nsga2"), trajectory_budget=4, noise_archs=3, noise_repeats=2)
    table = build_archive(bench, tmp_path / "a", plan, engine="serial", chunk=4)
    counts = table["source"].value_counts().to_dict()
    assert counts["extreme"] == 32 and counts["random"] == 5
    assert 1 <= counts["trajectory:random"] <= 4 and 1 <= counts["trajectory:nsga2"] <= 4
    assert table["arch"].is_unique and table[["accuracy", "test_accuracy", "valid_half_a"]].notna().all().all()
    assert (table["macs"] > 0).all() and (table["params"] > 0).all()
    info = json.loads((tmp_path / "a" / "archive.json").read_text())
    assert info["measured_now"] == len(table) + 3 * 2  # each arch once, plus the noise re-measurements
    noise = pd.read_csv(tmp_path / "a" / "noise.csv")
    assert len(noise) == 3 * 2 and noise["calibration_seed"].nunique() == 2
    # Each noise row is what remeasure() gives for its arch and calibration seed.
    for seed, rows in noise.groupby("calibration_seed"):
        again = remeasure(bench, [FMNIST.from_dict(json.loads(a)) for a in rows["arch"]], calibration_seed=int(seed))
        np.testing.assert_allclose(rows["accuracy"], again.accuracy, rtol=1e-5)
        np.testing.assert_allclose(rows[["valid_half_a", "valid_half_b"]], again.halves, rtol=1e-5)
    summary = info["summary"]
    assert summary["noise"]["archs"] == 3 and summary["noise"]["measurements_per_arch"] == 3
    assert summary["split_half"]["archs"] == 5 and "tau_ceiling" in summary["split_half"]
    # A second build measures nothing and gives the same table; the live cache already has every arch.
    again = build_archive(bench, tmp_path / "b", plan, engine="serial", chunk=4)
    assert again.attrs["measured_now"] == 0
    pd.testing.assert_frame_equal(table.drop(columns="seconds"), again.drop(columns="seconds"))
    archs = [FMNIST.from_dict(json.loads(a)) for a in table["arch"]]
    with Evaluator(bench, device="cpu") as valid:
        assert valid.evaluate(archs)["cached"].all()


def test_a_claimed_arch_is_measured_by_its_claimant_only(bench: Path) -> None:
    from ofa_bench.benchmark.archive_plan import FULL
    from ofa_bench.benchmark.archive_workers import Job, Worker

    one, two = Worker(Job(bench=str(bench), kind="measure")), Worker(Job(bench=str(bench), kind="measure"))
    archs = FMNIST.sample(3, 4)
    fp, key = one.bench.fingerprint, archs[0].to_json()
    assert one.cache.claim(fp, FULL, key, one.owner, stale_after=600)
    got = two.full(archs, wait=False)  # the claimed arch is left to its claimant
    assert set(got) == {a.to_json() for a in archs[1:]} and two.measured == 2
    assert set(one.full(archs, wait=False)) == set(got) | {key} and one.measured == 1
    # A claim older than stale_after is taken over: a dead worker's arch is not lost.
    three = Worker(Job(bench=str(bench), kind="measure", stale_after=0.0))
    extra = FMNIST.sample(1, 9)[0]
    assert one.cache.claim(fp, FULL, extra.to_json(), one.owner, stale_after=600)
    assert set(three.full([extra], wait=True)) == {extra.to_json()} and three.measured == 1
    for worker in (one, two, three):
        worker.cache.close()


@pytest.mark.slow
def test_two_local_workers_split_the_work(bench: Path, tmp_path: Path) -> None:
    table = build_archive(bench, tmp_path / "a", SMALL, engine="joblib", jobs=2, chunk=2)
    assert table.attrs["measured_now"] == len(table) + 3 * 2
    assert set(table["source"]) == {"random", "trajectory:random"}


@pytest.mark.slow
def test_concurrent_builders_lose_nothing_and_measure_nothing_twice(bench: Path, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "ofa_bench", "build-archive", "--bench", str(bench), "--random", "12",
            "--strategies", "random", "--trajectory-budget", "4", "--noise-archs", "4", "--noise-repeats", "1",
            "--engine", "serial", "--chunk", "3", "--json"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [*argv, "--out", str(tmp_path / name)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for name in ("one", "two")
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    one, two = (json.loads((tmp_path / n / "archive.json").read_text()) for n in ("one", "two"))
    tables = [pd.read_csv(tmp_path / n / "archive.csv") for n in ("one", "two")]
    pd.testing.assert_frame_equal(tables[0].drop(columns="seconds"), tables[1].drop(columns="seconds"))
    unique = len(tables[0]) + 4  # archs plus one re-measurement of each noise arch
    assert one["measured_now"] + two["measured_now"] == unique


def test_bad_plans_say_what_is_allowed() -> None:
    with pytest.raises(OfaBenchError, match=r"noise_archs \(9\) must be <= random \(5\)"):
        ArchivePlan(random=5, noise_archs=9)
    with pytest.raises(OfaBenchError, match="unknown strategy 'nope'; known: .*regularized-evolution"):
        ArchivePlan(strategies=("nope",))


def _synthetic_archive(n: int, seed: int = 0) -> pd.DataFrame:
    archs = FMNIST.sample(n, seed)
    rng = np.random.default_rng(seed)
    accuracy = np.array([0.002 * sum(a.e) + 0.001 * sum(a.ks) + 0.003 * a.r for a in archs]) + rng.normal(0, 0.003, n)
    sources = ["random"] * (n - n // 4) + ["trajectory:nsga2"] * (n // 4)
    frame = {"arch": [json.dumps(a.to_dict()) for a in archs], "source": sources}
    return pd.DataFrame({**frame, "accuracy": accuracy, "test_accuracy": accuracy + rng.normal(0, 0.003, n)})


def test_the_shipped_surrogate_is_chosen_and_scored_on_archs_it_never_saw() -> None:
    from ofa_bench.benchmark.surrogate_fit import fit_shipped_surrogate

    table = _synthetic_archive(120)
    fit = fit_shipped_surrogate(table, FMNIST, candidates=["gbdt", "rf"], holdout=30, folds=3, curve=(40,))
    quality = fit.quality
    assert fit.label in ("gbdt", "rf") and quality["chosen"] == fit.label
    best_cv = max(c["kendall_tau"] for c in quality["choice"]["cross_validated"].values())
    assert quality["choice"]["cross_validated"][fit.label]["kendall_tau"] == best_cv
    assert quality["split"] == {"fit": 90, "heldout": 30, "seed": 0, "heldout_from": "random and trajectory archs"}
    for target in ("valid", "test"):
        held = quality["heldout"][target]
        assert held["n"] == 30 and held["kendall_tau"] > 0.5 and {"r2", "spearman_rho", "top_precision"} <= set(held)
    assert set(quality["leave_one_source_out"]) == {"random", "trajectory:nsga2"}
    assert [p["archs"] for p in quality["learning_curve"]] == [40, 90]
    # The held-out archs were never fitted on: refitting on the fitting part alone gives the same predictions.
    again = fit_shipped_surrogate(table, FMNIST, candidates=[fit.label], holdout=30, folds=3, curve=())
    assert again.quality["heldout"] == quality["heldout"]
    with pytest.raises(OfaBenchError, match="cannot hold out 200"):
        fit_shipped_surrogate(table, FMNIST, holdout=200)
    with pytest.raises(OfaBenchError, match="unknown surrogate candidate 'nope': no predictor 'nope'; known: ensemble, gbdt"):
        fit_shipped_surrogate(table, FMNIST, candidates=["nope"])
    with pytest.raises(OfaBenchError, match="n_estimatorz"):
        fit_shipped_surrogate(table, FMNIST, candidates=["gbdt:n_estimatorz=5"])
    # The calibration's effect is measured on the held-out archs; a strictly increasing map keeps the ranking.
    effect = quality["calibration"]["heldout"]["valid"]
    assert effect["after"]["kendall_tau"] == pytest.approx(effect["before"]["kendall_tau"], abs=1e-9)
    assert {"top_decile_residual", "kendall_tau_top_decile", "sd_ratio"} <= set(effect["before"])
    assert (fit.calibration is not None) == quality["calibration"]["shipped"]


def test_fit_surrogate_command_ships_it_into_the_benchmark(
    bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ofa_bench import cli
    from ofa_bench.benchmark.surrogate import load_surrogate, surrogate_info

    plan = ArchivePlan(random=30, strategies=(), extremes=False, noise_archs=4, noise_repeats=1)
    build_archive(bench, tmp_path / "arch", plan, engine="serial")
    # A label with a comma inside its parentheses is one candidate, not two.
    candidates = "gbdt,ensemble(gbdt,gp)"
    argv = ["fit-surrogate", "--bench", str(bench), "--archive", str(tmp_path / "arch"), "--candidates", candidates]
    assert cli.main([*argv, "--holdout", "10", "--folds", "2", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed["quality"]["choice"]["cross_validated"]) == {"gbdt", "ensemble(gbdt,gp)"}
    info = surrogate_info(bench)
    assert info["predictor"] == printed["predictor"] and info["kendall_tau"] == printed["kendall_tau"]
    assert info["archive"]["n"] == 30 and info["noise"]["sd"] > 0 and "split_half" in info["noise"]
    assert info["command"].startswith("ofa-bench fit-surrogate")
    predictor = load_surrogate(bench, "test")
    assert len(predictor.predict(FMNIST.sample(3, 0))) == 3
    other = tmp_path / "other"
    (other).mkdir()
    (other / "archive.csv").write_text("arch\n")
    (other / "archive.json").write_text(json.dumps({"fingerprint": "0123456789abcdef"}))
    assert cli.main(["fit-surrogate", "--bench", str(bench), "--archive", str(other)]) == 2
    assert "was measured on benchmark 0123456789abcdef" in capsys.readouterr().err


def test_a_grown_archive_reuses_an_earlier_one_and_measures_only_the_new_archs(bench: Path, tmp_path: Path) -> None:
    """An earlier archive's rows go into a fresh cache; a larger plan then measures only what they lack."""
    import shutil

    small = ArchivePlan(random=4, strategies=(), extremes=False, noise_archs=2, noise_repeats=1)
    first = build_archive(bench, tmp_path / "first", small, engine="serial", chunk=4)
    # The same benchmark on another machine: an empty cache.
    copy = tmp_path / "copy"
    shutil.copytree(bench, copy, ignore=shutil.ignore_patterns("cache.sqlite*"))
    grown = ArchivePlan(random=6, strategies=(), extremes=False, noise_archs=2, noise_repeats=1,
                        long_runs=("random",), long_budget=3)  # fmt: skip
    table = build_archive(copy, tmp_path / "grown", grown, engine="serial", chunk=4, reuse=tmp_path / "first")
    info = table.attrs
    assert info["reused"] == {"from": str(tmp_path / "first"), "archs": 4}
    # Two more random archs and the long run's (at most 3, random archs of its own stream): nothing else.
    long_run = table[table["source"] == "trajectory:random"]
    assert 1 <= len(long_run) <= 3 and (tmp_path / "grown" / "trajectories" / "random-long0" / "log.jsonl").exists()
    assert info["measured_now"] == 2 + len(long_run)
    # The reused rows are the earlier archive's, to the six digits archive.csv keeps.
    shared = table.set_index("arch").loc[first["arch"]]
    np.testing.assert_allclose(shared["accuracy"], first["accuracy"], rtol=1e-5)
    np.testing.assert_allclose(shared["loss"], first["loss"], rtol=1e-5)
    noise = pd.read_csv(tmp_path / "grown" / "noise.csv")
    assert len(noise) == 2  # the noise archs are the first random ones: reused, not re-measured


def test_reuse_refuses_an_archive_of_other_weights(bench: Path, tmp_path: Path) -> None:
    from ofa_bench.benchmark.archive import reuse_archive

    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "archive.json").write_text(json.dumps({"fingerprint": "0123456789abcdef"}))
    (tmp_path / "old" / "archive.csv").write_text("arch,accuracy\n")
    with pytest.raises(OfaBenchError, match=r"--reuse .*: measured on benchmark '0123456789abcdef', not '"):
        reuse_archive(Benchmark.load(bench), tmp_path / "old")
    with pytest.raises(OfaBenchError, match="not a readable archive folder"):
        reuse_archive(Benchmark.load(bench), tmp_path / "missing")
    with pytest.raises(OfaBenchError, match="long_budget must be >= 1"):
        ArchivePlan(long_runs=("random",))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--long-runs", "nsga2"], "--long-runs nsga2 needs --long-budget N >= 1"),
        (["--random", "5"], "--noise-archs (100) must be <= --random (5)"),
        (["--strategies", "random,nope"], "--strategies: unknown strategy 'nope'; known: "),
        (["--long-runs", "nope", "--long-budget", "3"], "--long-runs: unknown strategy 'nope'; known: "),
    ],
)
def test_build_archive_errors_name_the_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    """The plan's checks, given on the command line, name the options (not ArchivePlan's fields), before any work."""
    from ofa_bench import cli

    out = tmp_path / "archive"
    assert cli.main(["build-archive", "--bench", str(tmp_path / "no-bench"), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert "long_budget" not in err and "noise_archs" not in err and not out.exists()
