"""Tests of shipped surrogates: their files, ``bench info``, and suites on them without the data.

The benchmark is an untrained ``ofa-fmnist`` supernet on a tiny MNIST-format folder; its
surrogate is a small GBDT fitted on 40 random archs with a synthetic accuracy. What is checked is
the machinery (files, labels, seeds, no data access), not accuracy.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from ofa_bench import cli
from ofa_bench.benchmark.surrogate import (
    SURROGATE_DIR,
    SURROGATE_FILE,
    load_surrogate,
    save_surrogate,
    surrogate_info,
)
from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.data import DataSpec
from ofa_bench.errors import OfaBenchError
from ofa_bench.evaluate import Evaluator
from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.plugins import registry
from ofa_bench.report import write_report
from ofa_bench.space import get_space
from ofa_bench.suite import load_suite, run_suite
from tests.harness_support import logs_of
from tests.test_idx_data import write_idx_folder

SPACE = get_space("ofa-fmnist")
#: Timing columns of results.csv: the only ones allowed to differ between equal runs.
_TIMES = ("wall_s", "cpu_s", "eval_s", "strategy_s")


def _synthetic(archs: list[Any], shift: float = 0.0) -> np.ndarray:
    """An accuracy that grows with every choice of the arch, so a GBDT can learn it."""
    array = SPACE.to_array(archs).astype(np.float64)
    span = np.ptp(array, axis=0)
    return 0.6 + 0.3 * np.mean(array / np.where(span > 0, span, 1.0) / 10, axis=1) + shift


def _fit(shift: float) -> Any:
    archs = SPACE.sample(40, 7)
    return registry.create("predictor", "gbdt", n_estimators=20).fit(archs, _synthetic(archs, shift))


def _info(**changes: Any) -> dict[str, Any]:
    info = {
        "predictor": "gbdt",
        "kendall_tau": 0.9,
        "quality": {"spearman": 0.95},
        "noise": {"sd": 0.06, "n_archs": 5},
        "archive": {"file": None, "n": 40},
        "command": "tests/test_shipped_oracle.py",
    }
    return {**info, **changes}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory, one_thread: None) -> Path:
    """A tiny benchmark with valid and test splits and a shipped surrogate of both."""
    root = tmp_path_factory.mktemp("shipped")
    write_idx_folder(root / "data", n_train=80, n_test=20)
    spec = DataSpec(dataset="idx", root=str(root / "data"), val_fraction=0.25, calib_size=20)
    torch.manual_seed(0)
    Benchmark.create(root / "bench", ElasticMobileNetV3(SPACE), spec, training={"note": "untrained"})
    save_surrogate(root / "bench", {"valid": _fit(0.0), "test": _fit(-0.02)}, _info())
    return root / "bench"


@pytest.fixture()
def plain_bench(tmp_path: Path, bench: Path) -> Path:
    """A copy of ``bench`` without its surrogate."""
    copy = tmp_path / "plain"
    shutil.copytree(bench, copy, ignore=shutil.ignore_patterns(SURROGATE_DIR, "cache.sqlite*"))
    return copy


def _suite(bench: Path, **changes: Any) -> dict[str, Any]:
    suite: dict[str, Any] = {
        "name": "shipped",
        "benchmark": str(bench),  # the shorthand for {dir: ...}
        "oracle": {"mode": "shipped"},
        "objectives": ["accuracy", "latency:mmacs"],
        "strategies": ["random", {"name": "regularized-evolution", "params": {"population_size": 8, "sample_size": 3}}],
        "budget": {"evaluations": 16},
        "batch_size": 8,
        "seeds": 2,
        "engine": {"kind": "serial"},
        "reference": {"random_sample": 40},
    }
    suite.update(changes)
    return suite


def _without_times(path: Path) -> pd.DataFrame:
    return pd.read_csv(path).drop(columns=[c for c in _TIMES if c in pd.read_csv(path, nrows=0).columns])


# ----- the files -----------------------------------------------------------------------------------


def test_info_load_and_labels(bench: Path) -> None:
    info = surrogate_info(bench)
    assert info is not None and info["predictor"] == "gbdt" and info["noise"]["sd"] == 0.06
    assert info["targets"] == {"valid": "valid.predictor", "test": "test.predictor"}
    assert info["fingerprint"] == Benchmark.load(bench).fingerprint
    valid, test = load_surrogate(bench), load_surrogate(bench, "test")
    archs = SPACE.sample(5, 1)
    assert np.allclose(valid.predict(archs), _fit(0.0).predict(archs))
    assert valid.oracle_label.startswith("shipped:") and len(valid.oracle_label) == len("shipped:") + 16
    assert test.oracle_label == f"{valid.oracle_label}:test" and test.target == "test"
    with pytest.raises(OfaBenchError, match=r"no target 'train'; allowed: valid, test$"):
        load_surrogate(bench, "train")


def test_evaluator_records_and_caches_under_the_shipped_label(bench: Path) -> None:
    oracle = load_surrogate(bench)
    archs = SPACE.sample(3, 2)
    with Evaluator(bench, oracle=oracle) as evaluator:
        first = evaluator.evaluate(archs)
        assert set(first["oracle"]) == {oracle.oracle_label} and not first["cached"].any()
        assert evaluator.evaluate(archs)["cached"].all()
    with pytest.raises(OfaBenchError, match="the oracle predicts valid accuracy; split must be valid"):
        Evaluator(bench, oracle=oracle, split="test")
    with Evaluator(bench, oracle=load_surrogate(bench, "test"), split="test") as evaluator:
        assert set(evaluator.evaluate(archs)["split"]) == {"test"}


def test_noisy_draws_are_seeded_per_arch_and_differ_from_the_mean(bench: Path) -> None:
    mean = load_surrogate(bench)
    archs = SPACE.sample(20, 3)
    a, again = mean.with_noise(1).predict(archs), mean.with_noise(1).predict(archs[::-1])[::-1]
    assert np.array_equal(a, again), "a draw depends on the arch and the seed, not on the order asked"
    assert not np.allclose(a, mean.predict(archs)) and not np.allclose(a, mean.with_noise(2).predict(archs))
    assert 0.02 < np.std(a - mean.predict(archs)) < 0.15  # noise.sd is 0.06 (clipped to [0, 1])
    assert mean.with_noise(1).oracle_label == f"{mean.oracle_label}+noise:1"


def test_bad_surrogate_files_are_one_line_errors(tmp_path: Path, bench: Path) -> None:
    good = json.loads((bench / SURROGATE_DIR / SURROGATE_FILE).read_text())
    folder = tmp_path / "b" / SURROGATE_DIR
    folder.mkdir(parents=True)
    cases = [
        ({"version": 2}, "version 2; this ofa-bench reads version 1"),
        ({"noise": {"sd": -1}}, "noise.sd must be a number >= 0"),
        ({"targets": {"valid": "../x.predictor"}}, "targets.valid must be a file name"),
        ({"targets": {"test": "test.predictor"}}, "targets must map 'valid'"),
        ({"kendall_tau": "high"}, "kendall_tau must be a number"),
        ({"archive": {"file": None, "n": -3}}, "archive.n must be an integer >= 0"),
    ]
    for change, message in cases:
        (folder / SURROGATE_FILE).write_text(json.dumps({**good, **change}))
        with pytest.raises(OfaBenchError, match=message) as caught:
            surrogate_info(tmp_path / "b")
        assert "\n" not in str(caught.value) and SURROGATE_FILE in str(caught.value)
    (folder / SURROGATE_FILE).write_text(json.dumps({k: v for k, v in good.items() if k != "noise"}))
    with pytest.raises(OfaBenchError, match="missing field 'noise'"):
        surrogate_info(tmp_path / "b")


def test_a_surrogate_of_another_benchmark_or_none_is_refused(bench: Path, plain_bench: Path) -> None:
    assert surrogate_info(plain_bench) is None
    with pytest.raises(OfaBenchError, match="ships no surrogate"):
        load_surrogate(plain_bench)
    with pytest.raises(OfaBenchError, match="is not the benchmark's"):
        save_surrogate(plain_bench, {"valid": _fit(0.0)}, _info(fingerprint="0123456789abcdef"))
    with pytest.raises(OfaBenchError, match="predictors must be given for valid"):
        save_surrogate(plain_bench, {"test": _fit(0.0)}, _info())
    assert surrogate_info(plain_bench) is None, "a refused save writes nothing"
    shutil.copytree(bench / SURROGATE_DIR, plain_bench / SURROGATE_DIR)
    meta = json.loads((plain_bench / SURROGATE_DIR / SURROGATE_FILE).read_text())
    meta["fingerprint"] = "0123456789abcdef"
    (plain_bench / SURROGATE_DIR / SURROGATE_FILE).write_text(json.dumps(meta))
    with pytest.raises(OfaBenchError, match="fitted for benchmark 0123456789abcdef, but"):
        load_surrogate(plain_bench)


def test_bench_info_and_list_show_the_surrogate(bench: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", "info", str(bench), "--json"]) == 0
    surrogate = json.loads(capsys.readouterr().out)["surrogate"]
    assert surrogate["kendall_tau"] == 0.9 and surrogate["predictor"] == "gbdt" and surrogate["noise"]["sd"] == 0.06
    assert surrogate["label"].startswith("shipped:") and surrogate["matches_benchmark"] is True
    assert cli.main(["bench", "info", str(bench)]) == 0
    assert "Kendall tau 0.900" in capsys.readouterr().out


def test_search_cli_takes_the_shipped_oracle(bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["search", "--bench", str(bench), "--strategy", "random", "--budget", "8", "--oracle", "shipped"]
    assert cli.main([*argv, "--objectives", "accuracy,macs", "--out", str(tmp_path / "run"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["oracle"] == load_surrogate(bench).oracle_label
    # A surrogate answers accuracy only: loss would be NaN in every record (an empty front, exit 0).
    for extra, role in ((["--objectives", "accuracy,loss"], "objective"), (["--constraint", "loss<=1"], "constraint")):
        assert cli.main([*argv, *extra, "--out", str(tmp_path / "loss")]) == 2
        assert f"{role} column 'loss' is measured by the live oracle only" in capsys.readouterr().err
    assert not (tmp_path / "loss").exists()


# ----- suites ----------------------------------------------------------------------------------------


def test_suite_fields_of_shipped_mode(bench: Path, plain_bench: Path) -> None:
    suite = load_suite(_suite(bench), {"benchmark.device": "cpu"})
    assert suite.benchmark.dir == str(bench) and suite.benchmark.preset == "ofa-fmnist"
    assert suite.benchmark.device == "cpu"
    with pytest.raises(OfaBenchError, match=r"oracle\.mode: benchmark '.*plain' ships no surrogate"):
        load_suite(_suite(plain_bench))
    # A misspelt benchmark is the benchmark field's fault, not the oracle's.
    with pytest.raises(OfaBenchError, match=r": benchmark: unknown benchmark 'fminst'"):
        load_suite({**_suite(bench), "benchmark": "fminst"})
    with pytest.raises(OfaBenchError, match=r"objectives\[1\]: loss is measured by the live oracle only"):
        load_suite(_suite(bench, objectives=["accuracy", "loss"]))
    with pytest.raises(OfaBenchError, match="noisy: needs mode: shipped"):
        load_suite(_suite(bench, oracle={"mode": "live", "noisy": True}))
    with pytest.raises(OfaBenchError, match="predictor: not used with mode: shipped"):
        load_suite(_suite(bench, oracle={"mode": "shipped", "predictor": "rf"}))
    # The surrogate is a GBDT: a strategy fitting trees would learn the oracle's own model class.
    clash = _suite(bench, strategies=["random", {"name": "surrogate", "params": {"predictor": "gbdt"}}])
    with pytest.raises(OfaBenchError, match=r"shipped surrogate 'gbdt' \(trees\) is the model strategies\[1\]"):
        load_suite(clash)
    load_suite({**clash, "oracle": {"mode": "shipped", "allow_same_family": True}})


@pytest.mark.parametrize("label", ["ensemble(gbdt,gp)", "ensemble(gp,gbdt)", "ensemble(mlp,ensemble(rf,gp))"])
def test_an_ensemble_surrogate_clashes_through_every_member(tmp_path: Path, bench: Path, label: str) -> None:
    """A shipped surrogate labelled ``ensemble(...)`` stands for all its members' families, the last too."""
    copy = tmp_path / "ensemble"
    shutil.copytree(bench, copy, ignore=shutil.ignore_patterns("cache.sqlite*"))
    info_file = copy / SURROGATE_DIR / SURROGATE_FILE
    info_file.write_text(json.dumps({**json.loads(info_file.read_text()), "predictor": label}))
    assert surrogate_info(copy)["predictor"] == label
    gp = _suite(copy, strategies=["random", {"name": "surrogate", "params": {"predictor": "gp"}}])
    with pytest.raises(OfaBenchError, match=rf"shipped surrogate '{re.escape(label)}' \(.*gp.*\) is the model strategies\[1\]"):
        load_suite(gp)
    # Every label has a tree member too: a strategy fitting a random forest learns part of the oracle.
    trees = _suite(copy, strategies=["random", {"name": "surrogate", "params": {"predictor": "rf"}}])
    with pytest.raises(OfaBenchError, match=r"\(.*trees.*\) is the model strategies\[1\]"):
        load_suite(trees)
    # The MLP is a member of the nested label only; elsewhere that strategy is fair.
    mlp = _suite(copy, strategies=["random", {"name": "surrogate", "params": {"predictor": "mlp"}}])
    if "mlp" in label:
        with pytest.raises(OfaBenchError, match=r"\(.*mlp.*\) is the model strategies\[1\]"):
            load_suite(mlp)
    else:
        assert load_suite(mlp).strategies[1].name == "surrogate"


def test_a_suite_on_the_shipped_surrogate_needs_no_data(
    bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ofa_bench.data
    import ofa_bench.data.datasets

    suite = load_suite(_suite(bench))
    data = Path(Benchmark.load(bench).data_spec.root)
    with monkeypatch.context() as patch:
        # The data is gone: its folder moved, the lookup pointed at an empty folder, the loader refuses.
        (tmp_path / "empty").mkdir()
        patch.setenv("OFA_BENCH_DATA", str(tmp_path / "empty"))
        data.rename(tmp_path / "away")

        def no_data(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a shipped-oracle suite loaded the data")

        patch.setattr(ofa_bench.data.datasets, "load_data", no_data)
        patch.setattr(ofa_bench.data, "load_data", no_data)
        try:
            without = run_suite(suite, tmp_path / "without")
            report = write_report(tmp_path / "without", without).markdown.read_text()
        finally:
            (tmp_path / "away").rename(data)
    with_data = run_suite(suite, tmp_path / "with")
    for name in ("results.csv", "summary.csv"):
        pd.testing.assert_frame_equal(
            _without_times(tmp_path / "without" / name), _without_times(tmp_path / "with" / name)
        )
    assert without.verdict_metric == "hv_test" and with_data.runs["hv_test"].notna().all()
    state = json.loads((tmp_path / "with" / "suite.json").read_text())
    label = load_surrogate(bench).oracle_label
    assert state["oracle"]["mode"] == "shipped" and state["oracle"]["label"] == label
    assert state["splits"]["remeasured_by"] == f"{label}:test"
    # 0.06 > one image of 20 (0.05): no difference below the surrogate's noise is called better.
    assert state["resolution"]["accuracy"] == 0.06
    holdout = pd.read_csv(tmp_path / "with" / "holdout.csv")
    assert not np.allclose(holdout["accuracy"], holdout["accuracy_test"]), "fronts are re-measured by the test target"
    run = json.loads((tmp_path / "with" / "units" / "random-s0" / "run.json").read_text())
    assert run["oracle"] == label
    assert "shipped surrogate" in report and label in report and "by the shipped surrogate of that split" in report


def test_noisy_mode_is_reproducible_and_not_the_mean(bench: Path, tmp_path: Path) -> None:
    noisy = load_suite(_suite(bench, oracle={"mode": "shipped", "noisy": True}, report_split="none"))
    run_suite(noisy, tmp_path / "a")
    run_suite(noisy, tmp_path / "b")
    logs = logs_of(tmp_path / "a")
    assert logs == logs_of(tmp_path / "b")
    mean = load_surrogate(bench)
    entries = logs["random-s0"]
    archs = [SPACE.from_dict(e["arch"]) for e in entries]
    answered = np.array([e["record"]["accuracy"] for e in entries])
    assert not np.allclose(answered, mean.predict(archs))
    assert np.std(answered - mean.predict(archs)) < 0.15  # noise.sd is 0.06
    meta = json.loads((tmp_path / "a" / "units" / "random-s0" / "run.json").read_text())
    assert meta["oracle"].startswith(f"{mean.oracle_label}+noise:")


def test_resuming_after_the_surrogate_changed_is_refused(plain_bench: Path, tmp_path: Path) -> None:
    save_surrogate(plain_bench, {"valid": _fit(0.0), "test": _fit(-0.02)}, _info())
    suite = load_suite(_suite(plain_bench, report_split="none", seeds=1, strategies=["random"]))
    run_suite(suite, tmp_path / "out")
    save_surrogate(plain_bench, {"valid": _fit(0.01)}, _info(kendall_tau=0.8))
    assert sorted(p.name for p in (plain_bench / SURROGATE_DIR).iterdir()) == [SURROGATE_FILE, "valid.predictor"]
    with pytest.raises(OfaBenchError, match="holds runs answered by oracle shipped:.*, but the benchmark's shipped"):
        run_suite(suite, tmp_path / "out")


def test_a_calibrated_surrogate_answers_through_its_map(tmp_path: Path, bench: Path) -> None:
    copy = tmp_path / "calibrated"
    shutil.copytree(bench, copy, ignore=shutil.ignore_patterns("cache.sqlite*"))
    info_file = copy / SURROGATE_DIR / SURROGATE_FILE
    info = json.loads(info_file.read_text())
    # y = 2 x - 0.5 on the knots, and beyond them: a map a test can check by hand.
    info["calibration"] = {"valid": {"x": [0.0, 0.5, 1.0], "y": [-0.5, 0.5, 1.5]}}
    info_file.write_text(json.dumps(info))
    archs = SPACE.sample(6, rng=3)
    raw = load_surrogate(bench).predict(archs)
    calibrated = load_surrogate(copy)
    np.testing.assert_allclose(calibrated.predict(archs), 2 * raw - 0.5, atol=1e-12)
    np.testing.assert_allclose(load_surrogate(copy, "test").predict(archs), load_surrogate(bench, "test").predict(archs))
    assert calibrated.oracle_label != load_surrogate(bench).oracle_label  # another map answers other numbers
    for bad in ({"valid": {"x": [0.0, 1.0], "y": [1.0, 0.5]}}, {"valid": {"x": [0.0], "y": [0.0]}},
                {"nope": {"x": [0, 1], "y": [0, 1]}}):  # fmt: skip
        info_file.write_text(json.dumps({**info, "calibration": bad}))
        with pytest.raises(OfaBenchError, match=r"calibration\."):
            surrogate_info(copy)


def test_report_split_live_measures_the_fronts_on_the_supernet(bench: Path, tmp_path: Path) -> None:
    """The surrogate searches, the supernet judges: each front arch measured live on the test split."""
    from ofa_bench.evaluate import Evaluator

    results = run_suite(load_suite(_suite(bench, report_split="live", seeds=1)), tmp_path / "live")
    state = json.loads((tmp_path / "live" / "suite.json").read_text())
    assert state["splits"]["report"] == "test" and "remeasured_by" not in state["splits"]
    holdout = pd.read_csv(tmp_path / "live" / "holdout.csv")
    space = Benchmark.load(bench).space
    archs = [space.from_dict(json.loads(a)) for a in holdout["arch"]]
    with Evaluator(Benchmark.load(bench), split="test", cache=False) as live:
        measured = live.evaluate(archs, ())["accuracy"].to_numpy(np.float64)
    np.testing.assert_allclose(holdout["accuracy_test"].to_numpy(np.float64), measured)
    # 20 test images: every live accuracy is a whole number of images, which no surrogate output is.
    assert np.allclose(measured * 20, np.round(measured * 20))
    assert results.verdict_metric == "hv_test"
    report = write_report(tmp_path / "live", results).markdown.read_text()
    assert f"as the search's oracle, {state['oracle']['label']}" in report and "re-measured live on test" in report


def test_bench_info_figures_read_the_shipped_side_of_the_calibration() -> None:
    from ofa_bench.benchmark.surrogate import quality_figures

    effect = {"valid": {
        "before": {"top_decile_residual": -0.004, "kendall_tau_top_decile": 0.30, "top_precision": 0.6},
        "after": {"top_decile_residual": 0.0005, "kendall_tau_top_decile": 0.30, "top_precision": 0.6},
    }}  # fmt: skip
    info = _info(quality={"split": {"fit": 30, "heldout": 10}, "calibration": {"shipped": True, "heldout": effect}})
    figures = quality_figures({**info, "calibration": {"valid": {"x": [0, 1], "y": [0, 1]}}})
    assert figures == {
        "kendall_tau": 0.9, "kendall_tau_top_decile": 0.30, "top_precision": 0.6, "top_decile_residual": 0.0005,
        "calibrated": True, "archs": 40, "fit": 30, "heldout": 10,
    }  # fmt: skip
    # A map fitted but not shipped (it did not help): the figures are the uncalibrated ones.
    info["quality"]["calibration"]["shipped"] = False
    assert quality_figures(info)["top_decile_residual"] == -0.004 and not quality_figures(info)["calibrated"]
    # An older surrogate.json without these figures: None, not an error.
    assert quality_figures(_info())["top_decile_residual"] is None
