"""The predictor-evaluation harness: archives, splits, metrics, results, noise ceiling and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import kendalltau

from ofa_bench import cli
from ofa_bench.errors import OfaBenchError
from ofa_bench.metrics.predictors import score, top_precision
from ofa_bench.plugins.testing.predictors import synthetic_targets
from ofa_bench.predictor_eval import evaluate_predictors, read_archive, split, summarise
from ofa_bench.report.predictors import write_results
from ofa_bench.space import get_space

MINI = get_space("ofa-mini")
W10 = get_space("ofa-mbv3-w1.0")


@pytest.fixture(scope="module")
def measured():
    archs = MINI.sample(150, rng=2)
    return archs, synthetic_targets(archs, MINI, seed=2)


@pytest.fixture
def jsonl(measured, tmp_path: Path) -> Path:
    """Records as ``ofa-bench archive --out x.jsonl`` writes them: arch fields flat, plus measurements."""
    archs, y = measured
    lines = [json.dumps({**a.to_dict(), "accuracy": float(v), "loss": 0.3, "macs": 1}) for a, v in zip(archs, y)]
    path = tmp_path / "archive.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _one_line(info: pytest.ExceptionInfo) -> str:
    message = str(info.value)
    assert message and "\n" not in message
    return message


# ----- reading archives ------------------------------------------------------------------------


def test_reads_our_jsonl_and_infers_the_space(jsonl: Path, measured) -> None:
    archs, y = measured
    archive = read_archive(jsonl)
    assert archive.space == MINI and len(archive) == len(archs) and archive.duplicates == 0
    np.testing.assert_array_equal(archive.array, MINI.to_array(archs))
    np.testing.assert_array_equal(archive.y, y)


def test_reads_csv_with_an_arch_column_and_other_targets(measured, tmp_path: Path) -> None:
    archs, y = measured
    path = tmp_path / "records.csv"
    pd.DataFrame({"arch": [a.to_json() for a in archs], "accuracy": y, "loss": 1 - y}).to_csv(path, index=False)
    archive = read_archive(path, target="loss")
    np.testing.assert_allclose(archive.y, 1 - y)
    np.testing.assert_array_equal(archive.array, MINI.to_array(archs))


def test_reads_json_of_ofa_dicts_with_r_as_a_list_and_drops_duplicates(tmp_path: Path) -> None:
    archs = W10.sample(4, rng=0)
    items = [{**a.to_dict(), "r": [a.r], "accuracy": 0.7 + i / 100} for i, a in enumerate(archs)]
    items.append({**archs[0].to_dict(), "accuracy": 0.1})  # measured again: the first stays
    path = tmp_path / "ofa.json"
    path.write_text(json.dumps(items))
    archive = read_archive(path)
    assert archive.space.name == "ofa-mbv3-w1.0" and len(archive) == 4 and archive.duplicates == 1
    np.testing.assert_allclose(archive.y, [0.70, 0.71, 0.72, 0.73])


def test_reads_csv_with_list_columns(measured, tmp_path: Path) -> None:
    archs, y = measured
    frame = pd.DataFrame([{k: json.dumps(v) for k, v in a.to_dict().items()} for a in archs[:5]])
    frame["accuracy"] = y[:5]
    frame.to_csv(tmp_path / "lists.csv", index=False)
    np.testing.assert_array_equal(read_archive(tmp_path / "lists.csv").array, MINI.to_array(archs[:5]))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"ks": [3], "accuracy": 0.5}\n', "line 1: missing column(s) 'e', 'd', 'r'"),
        (None, "line 2: missing column 'accuracy'"),
        (None, "line 3: accuracy 'n/a' is not a finite number"),
        (None, "fit no search-space preset"),
    ],
    ids=["arch-columns", "target-column", "non-numeric", "no-space"],
)
def test_bad_archives_are_one_line_errors(measured, tmp_path: Path, content, message, request) -> None:
    archs, _ = measured
    rows = [{**a.to_dict(), "accuracy": 0.9} for a in archs[:4]]
    case = request.node.callspec.id
    if case == "target-column":
        rows[1].pop("accuracy")
    elif case == "non-numeric":
        rows[2]["accuracy"] = "n/a"
    elif case == "no-space":
        rows[3]["r"] = 999
    path = tmp_path / "bad.jsonl"
    path.write_text(content if content is not None else "".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(OfaBenchError) as info:
        read_archive(path)
    assert message in _one_line(info)


def test_archs_of_another_space_name_the_line(jsonl: Path) -> None:
    with pytest.raises(OfaBenchError) as info:
        read_archive(jsonl, space="ofa-mbv3-w1.0")
    assert "line 1: arch is not of space ofa-mbv3-w1.0" in _one_line(info)


# ----- splits, metrics, runs -----------------------------------------------------------------------


def test_split_is_fixed_and_train_sets_nest() -> None:
    parts = split(100, 30, [10, 50], test_seed=0)
    assert len(parts.test) == 30 and len(np.intersect1d(parts.test, parts.pool)) == 0
    np.testing.assert_array_equal(parts.test, split(100, 30, [10], test_seed=0).test)
    small, large = parts.train(10, seed=3), parts.train(50, seed=3)
    np.testing.assert_array_equal(small, large[:10])
    assert not np.array_equal(parts.train(10, seed=4), small)


def test_train_size_larger_than_the_pool_names_the_largest_allowed() -> None:
    with pytest.raises(OfaBenchError) as info:
        split(100, 30, [25, 400])
    assert "train size 400 is larger than the 70 archs left" in _one_line(info)
    assert "the largest allowed is 70" in str(info.value)


def test_score_of_a_perfect_and_a_reversed_prediction() -> None:
    y = np.linspace(0.8, 0.9, 50)
    perfect, reversed_ = score(y, y), score(y, -y)
    assert perfect["kendall_tau"] == pytest.approx(1.0) and perfect["rmse"] == 0 and perfect["top_precision"] == 1
    assert reversed_["kendall_tau"] == pytest.approx(-1.0) and reversed_["top_precision"] == 0
    assert score(y, np.zeros(50))["kendall_tau"] == 0.0  # constant predictions rank nothing


def test_score_is_kendalls_tau_b_and_spearmans_rho_by_hand() -> None:
    """Values counted by hand, on rankings where tau and rho differ (a planted Spearman fails here).

    (1,2,3,4,5) against (1,3,2,5,4): 10 pairs, 2 discordant, tau = (8 - 2) / 10 = 0.6; rank
    differences 0,1,1,1,1 give rho = 1 - 6 * 4 / (5 * 24) = 0.8.
    """
    got = score(np.array([1.0, 2, 3, 4, 5]), np.array([1.0, 3, 2, 5, 4]))
    assert got["kendall_tau"] == pytest.approx(0.6)
    assert got["spearman_rho"] == pytest.approx(0.8)
    assert got["rmse"] == pytest.approx(np.sqrt(4 / 5)) and got["mae"] == pytest.approx(0.8)
    # A tie in the measurements (tau-b): of 6 pairs 5 are concordant, 1 tied in y only,
    # tau_b = 5 / sqrt((6 - 1) * (6 - 0)).
    tied = score(np.array([1.0, 2, 2, 3]), np.array([1.0, 2, 3, 4]))
    assert tied["kendall_tau"] == pytest.approx(5 / np.sqrt(30))


def test_top_precision_counts_ties_at_the_boundary_as_top() -> None:
    y = np.array([0.9, 0.9, 0.9, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0, 0.0])
    assert top_precision(y, np.array([0, 1, 0, 0, 0, 0, 0, 0, 0, 0.0]), fraction=0.1) == 1.0
    assert top_precision(y, np.arange(10.0), fraction=0.2) == 0.0
    # Minimising: the two lowest predictions (indices 9, 8) are the two lowest measurements.
    assert top_precision(y, -np.arange(10.0), fraction=0.2, higher_is_better=False) == 1.0
    assert top_precision(y, np.arange(10.0), fraction=0.2, higher_is_better=False) == 0.0


def test_evaluate_and_summarise(jsonl: Path) -> None:
    archive = read_archive(jsonl)
    fast = {"gbdt": {"n_estimators": 50}, "rf": {"n_estimators": 20}}
    runs = evaluate_predictors(archive, ["gbdt", "rf"], [10, 40], seeds=[0, 1], test_size=50, params=fast)
    assert len(runs) == 2 * 2 * 2
    assert set(runs.columns) >= {"kendall_tau", "spearman_rho", "rmse", "mae", "top_precision", "fit_seconds"}
    again = evaluate_predictors(archive, ["gbdt", "rf"], [10, 40], seeds=[0, 1], test_size=50, params=fast)
    pd.testing.assert_series_equal(runs["kendall_tau"], again["kendall_tau"])
    summary = summarise(runs)
    assert list(summary["predictor"]) == ["gbdt", "gbdt", "rf", "rf"] and (summary["seeds"] == 2).all()
    big = summary[summary["train_size"] == 40]["kendall_tau_median"]
    assert (big > 0.3).all()  # the synthetic target is learnable
    gbdt10 = runs[(runs.predictor == "gbdt") & (runs.train_size == 10)]["kendall_tau"]
    assert summary["kendall_tau_iqr"].iloc[0] == pytest.approx(abs(gbdt10.iloc[0] - gbdt10.iloc[1]) / 2)


def test_unknown_predictor_lists_the_known_ones(jsonl: Path) -> None:
    with pytest.raises(OfaBenchError) as info:
        evaluate_predictors(read_archive(jsonl), ["gbdt", "xgboost"], [10], seeds=[0], test_size=50)
    assert "unknown accuracy predictor 'xgboost'; known: ensemble, gbdt, gp, mlp, rf" in _one_line(info)


def test_write_results(jsonl: Path, tmp_path: Path) -> None:
    archive = read_archive(jsonl)
    runs = evaluate_predictors(archive, ["gp"], [10, 20], seeds=[0, 1], test_size=50)
    paths = write_results(tmp_path / "new" / "dir", runs, summarise(runs), {"title": "t"}, {"ceiling": 0.7})
    assert pd.read_csv(paths["runs"]).shape[0] == 4
    assert Path(paths["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(Path(paths["json"]).read_text())["files"]["plot"] == paths["plot"]


# ----- CLI -------------------------------------------------------------------------------------------


def test_cli_evaluate_json(jsonl: Path, tmp_path: Path, capsys) -> None:
    argv = ["predictors", "evaluate", "--archive", str(jsonl), "--predictors", "gbdt,gp", "--train-sizes", "10,20",
            "--seeds", "2", "--test-size", "40", "--out", str(tmp_path / "out"), "--json"]  # fmt: skip
    assert cli.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["space"] == "ofa-mini" and report["archs"] == 150 and report["seeds"] == [0, 1]
    assert {(r["predictor"], r["train_size"]) for r in report["summary"]} == {
        ("gbdt", 10), ("gbdt", 20), ("gp", 10), ("gp", 20)
    }
    assert Path(report["files"]["plot"]).exists()


def test_cli_table(jsonl: Path, tmp_path: Path, capsys) -> None:
    argv = ["predictors", "evaluate", "--archive", str(jsonl), "--predictors", "rf", "--train-sizes", "10",
            "--seeds", "1", "--test-size", "40", "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "Kendall τ" in out and "rf" in out and "median±IQR over 1 seeds" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--train-sizes", "10,500"], "the largest allowed is 110"),
        (["--predictors", "mlp,nope"], "unknown accuracy predictor 'nope'"),
        (["--space", "ofa-mbv3-w1.2"], "arch is not of space ofa-mbv3-w1.2"),
        (["--target", "latency"], "missing column 'latency'"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(jsonl: Path, tmp_path: Path, capsys, extra, message) -> None:
    argv = ["predictors", "evaluate", "--archive", str(jsonl), "--test-size", "40", "--out", str(tmp_path), *extra]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_cli_fit_then_predict_with_std(jsonl: Path, tmp_path: Path, capsys, measured) -> None:
    archs, _ = measured
    model = tmp_path / "gp.zip"
    assert cli.main(["predictors", "fit", "--archive", str(jsonl), "--predictor", "gp", "--out", str(model)]) == 0
    source = tmp_path / "archs.jsonl"
    source.write_text("".join(a.to_json() + "\n" for a in archs[:3]))
    capsys.readouterr()
    assert cli.main(["predictors", "predict", "--model", str(model), "--archs", str(source), "--std"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3 and all(0 < r["accuracy"] < 1 and r["accuracy_std"] > 0 for r in lines)
    # A predictor of another column names its predictions after it, and is no accuracy oracle.
    argv = ["predictors", "fit", "--archive", str(jsonl), "--predictor", "gp", "--target", "loss", "--out"]
    assert cli.main([*argv, str(tmp_path / "loss.zip")]) == 0
    capsys.readouterr()
    assert cli.main(["predictors", "predict", "--model", str(tmp_path / "loss.zip"), "--archs", str(source)]) == 0
    assert all(set(json.loads(line)) - set(archs[0].to_dict()) == {"loss"} for line in capsys.readouterr().out.split())


# ----- noise ceiling ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_remeasure_reproduces_the_evaluator_and_another_subset_differs(tmp_path: Path) -> None:
    from ofa_bench.benchmark.noise import noise_ceiling, remeasure
    from ofa_bench.benchmark.trained import Benchmark
    from ofa_bench.data import DataSpec
    from ofa_bench.evaluate import Evaluator
    from ofa_bench.nn import ElasticMobileNetV3

    torch.manual_seed(0)
    bench = Benchmark.create(tmp_path / "b", ElasticMobileNetV3(MINI), DataSpec(calib_size=64), {}, 32)
    archs = MINI.sample(6, rng=3)
    with Evaluator(bench, device="cpu", cache=False) as evaluator:
        measured = evaluator.evaluate(archs)["accuracy"].to_numpy()
    same = remeasure(bench, archs, calibration_seed=None, device="cpu")
    np.testing.assert_array_equal(same.accuracy, measured)
    np.testing.assert_allclose(same.halves.mean(axis=1), measured, atol=1 / 360)  # 360 digits: halves of 180
    other = remeasure(bench, archs, calibration_seed=1, device="cpu")
    assert not np.array_equal(other.accuracy, measured) and np.all((other.accuracy >= 0) & (other.accuracy <= 1))
    ceiling = noise_ceiling(measured, other)
    assert ceiling["n"] == 6 and ceiling["calibration_seed"] == 1
    # The same figures from scipy and the Spearman-Brown formula, on the same measurements.
    assert ceiling["calibration"]["kendall_tau"] == pytest.approx(kendalltau(measured, other.accuracy).statistic)
    a, b = other.halves[:, 0], other.halves[:, 1]
    r = np.corrcoef(a, b)[0, 1]
    reliability = max(0.0, 2 * r / (1 + r))
    assert ceiling["split_half"]["reliability"] == pytest.approx(reliability)
    assert ceiling["split_half"]["tau_ceiling"] == pytest.approx(2 / np.pi * np.arcsin(np.sqrt(reliability)))


def test_noise_ceiling_of_a_noise_free_measurement_is_one() -> None:
    from ofa_bench.benchmark.noise import Remeasurement, noise_ceiling

    accuracy = np.linspace(0.5, 0.9, 20)
    ceiling = noise_ceiling(accuracy, Remeasurement(accuracy, np.stack([accuracy, accuracy], axis=1), 1))
    assert ceiling["calibration"]["kendall_tau"] == pytest.approx(1.0)
    assert ceiling["split_half"]["reliability"] == pytest.approx(1.0)
    assert ceiling["split_half"]["tau_ceiling"] == pytest.approx(1.0)


def test_predictors_take_specs_and_each_spec_is_its_own_row(jsonl: Path, tmp_path: Path, capsys) -> None:
    argv = ["--json", "predictors", "evaluate", "--archive", str(jsonl), "--predictors", "rf:n_estimators=5,rf",
            "--train-sizes", "10", "--seeds", "1", "--test-size", "40"]  # fmt: skip
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert [row["predictor"] for row in summary] == ["rf:n_estimators=5", "rf"]
    assert cli.main(["predictors", "evaluate", "--archive", str(jsonl), "--predictors", "knn:k=3"]) == 2
    assert "unknown accuracy predictor 'knn'" in capsys.readouterr().err


def test_a_shipped_archive_is_named_like_a_shipped_benchmark(capsys) -> None:
    argv = ["--json", "predictors", "evaluate", "--archive", "shipped:fmnist", "--predictors", "gbdt",
            "--train-sizes", "50", "--seeds", "1", "--test-size", "100"]  # fmt: skip
    assert cli.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    from ofa_bench.benchmark.zoo import resolve_archive

    assert report["archs"] == len(pd.read_csv(resolve_archive("shipped:fmnist") / "archive.csv")) == 2720
    assert report["space"] == "ofa-fmnist"
    assert cli.main(["predictors", "evaluate", "--archive", "shipped:nope", "--predictors", "gbdt"]) == 2
    assert "no shipped benchmark 'nope'; shipped: fmnist" in capsys.readouterr().err


def test_archive_file_gives_a_folders_csv_a_files_path_and_a_shipped_archives_csv(tmp_path) -> None:
    from ofa_bench.benchmark.zoo import archive_file, resolve_archive

    shipped = archive_file("shipped:fmnist")
    assert shipped == resolve_archive("shipped:fmnist") / "archive.csv" and shipped.is_file()
    (tmp_path / "archive.csv").write_text("arch,accuracy\n")
    assert archive_file(tmp_path) == tmp_path / "archive.csv"
    assert archive_file(str(tmp_path / "measured.jsonl")) == tmp_path / "measured.jsonl"
