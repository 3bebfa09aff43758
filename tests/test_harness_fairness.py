"""Trustworthy comparisons: disjoint random streams, fixed references, no self-favouring oracle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ofa_bench.errors import OfaBenchError
from ofa_bench.search.streams import STREAMS, stream_seed
from ofa_bench.suite import load_suite, run_suite
from ofa_bench.suite.reference import ishibuchi_reference
from tests.harness_support import harness_bench, suite_dict  # noqa: F401 - the fixture

METRICS = ["hv", "igd", "evals_to_target"]


def test_a_metric_of_a_run_does_not_depend_on_the_other_strategies(harness_bench: Path, tmp_path: Path) -> None:
    small = {"seeds": 1, "budget": {"evaluations": 20}, "reference": {"random_sample": 40}}
    two = run_suite(load_suite(suite_dict(harness_bench, strategies=["random", "nsga2"], **small)), tmp_path / "two")
    three = run_suite(
        load_suite(suite_dict(harness_bench, strategies=["random", "nsga2", "tpe"], **small)), tmp_path / "three"
    )
    shared = three.runs[three.runs["strategy"].isin(["random", "nsga2"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(two.runs[["strategy", "seed", *METRICS]], shared[["strategy", "seed", *METRICS]])
    assert two.state["reference_front"] == three.state["reference_front"]


def test_oracle_archive_is_written_and_no_run_starts_from_it(harness_bench: Path, tmp_path: Path) -> None:
    results = run_suite(load_suite(suite_dict(harness_bench, reference={"random_sample": 30})), tmp_path)
    archive = pd.read_csv(tmp_path / "oracle_archive.csv")
    assert list(archive.columns) == ["arch", "accuracy"] and len(archive) == 10
    assert set(json.loads(archive["arch"][0])) == {"ks", "e", "d", "r"}
    assert (results.runs["oracle_overlap"] == 0).all()
    document = json.loads((tmp_path / "results.json").read_text())
    assert set(document["oracle_overlap"].values()) == {0} and document["unfinished"] == []
    # Run seeds come from the suite's "runs" stream; seed number 0 is no longer seed 0.
    units = {u["key"]: u for u in results.state["units"]}
    assert units["random-s0"]["run_seed"] == units["evolution-s0"]["run_seed"] == stream_seed(0, "runs", 0)
    assert units["random-s0"]["run_seed"] != units["random-s1"]["run_seed"]


def test_oracle_overlap_counts_evaluations_of_archs_the_oracle_was_fitted_on(harness_bench: Path, tmp_path: Path) -> None:
    """Overlap compares archs as archs: the archive's JSON (OFA's dict, spaces, its own key order)
    and the run log's compact JSON of the same arch are the same arch."""
    from ofa_bench.suite.results import collect_results

    run_suite(load_suite(suite_dict(harness_bench, reference={"random_sample": 30})), tmp_path)
    logged = [json.loads(line)["arch"] for line in (tmp_path / "units" / "random-s1" / "log.jsonl").read_text().splitlines()]
    shared = [logged[3], logged[7], logged[11]]
    archive = pd.read_csv(tmp_path / "oracle_archive.csv")
    extra = pd.DataFrame({"arch": [json.dumps(dict(reversed(list(a.items())))) for a in shared],
                          "accuracy": [0.5] * len(shared)})  # fmt: skip
    pd.concat([archive, extra]).to_csv(tmp_path / "oracle_archive.csv", index=False)
    # Counted independently: evaluations in each log whose arch equals one of the three.
    expected = {key: sum(json.loads(line)["arch"] in shared
                         for line in (tmp_path / "units" / key / "log.jsonl").read_text().splitlines())
                for key in ("random-s0", "random-s1", "evolution-s0", "evolution-s1")}  # fmt: skip
    assert expected["random-s1"] >= 3
    runs = collect_results(tmp_path).runs
    got = {f"{s}-s{n}": int(o) for s, n, o in zip(runs["strategy"], runs["seed"], runs["oracle_overlap"])}
    assert got == expected


def test_streams_are_distinct_whatever_the_numbers() -> None:
    seeds = {stream_seed(0, name, 0) for name in STREAMS}
    assert len(seeds) == len(STREAMS)
    assert stream_seed(0, "runs", 0) != stream_seed(1, "runs", 0) != stream_seed(0, "runs", 1)


def test_ishibuchi_reference_point() -> None:
    # Two objectives: H = N - 1 divisions for N points; three: C(H + 2, 2) <= N.
    assert ishibuchi_reference(11, 2) == pytest.approx(1.1)
    assert ishibuchi_reference(21, 3) == pytest.approx(1 + 1 / 5)
    assert ishibuchi_reference(1, 2) == 2.0


def test_unfinished_runs_are_left_out_of_the_tests_and_listed(harness_bench: Path, tmp_path: Path) -> None:
    from ofa_bench.search.runlog import RunLog
    from ofa_bench.suite.results import collect_results

    run_suite(load_suite(suite_dict(harness_bench, reference={"random_sample": 30})), tmp_path)
    log = RunLog.open(tmp_path / "units" / "evolution-s1")
    log.write_meta({**log.meta, "status": "running"})
    results = collect_results(tmp_path)
    assert results.unfinished == ["evolution-s1"]
    hv = results.summary[(results.summary["strategy"] == "evolution") & (results.summary["metric"] == "hv")]
    assert int(hv["runs"].iloc[0]) == 1
    assert np.isfinite(results.runs["hv"]).all()


def test_an_oracle_of_a_contestants_own_model_family_is_refused(harness_bench: Path) -> None:
    surrogate = {"name": "surrogate", "params": {"predictor": "rf"}}
    with pytest.raises(OfaBenchError, match=r"oracle\.predictor: 'gbdt' \(trees\) is the model strategies\[1\]"):
        load_suite(suite_dict(harness_bench, strategies=["random", surrogate]))
    # An ensemble's families are its members': one tree member is enough to clash.
    ensemble = {"mode": "surrogate", "predictor": "ensemble", "archive_size": 10, "params": {"members": "gp,gbdt"}}
    with pytest.raises(OfaBenchError, match=r"oracle\.predictor: 'ensemble' \(trees\)"):
        load_suite(suite_dict(harness_bench, strategies=["random", surrogate], oracle=ensemble))
    allowed = {"mode": "surrogate", "predictor": "gbdt", "archive_size": 10, "allow_same_family": True}
    assert load_suite(suite_dict(harness_bench, strategies=["random", surrogate], oracle=allowed)).oracle.allow_same_family


def test_a_labels_families_are_every_members_at_every_depth() -> None:
    from ofa_bench.suite.fairness import label_clashes, label_families

    assert label_families("gbdt") == label_families("rf") == {"trees"}
    assert label_families("ensemble(gbdt,gp)") == {"trees", "gp"}
    assert label_families("ensemble(gp, gbdt)") == {"gp", "trees"}
    assert label_families("ensemble(mlp,ensemble(rf,gp))") == {"mlp", "trees", "gp"}
    assert label_families("my-model") == {"my-model"}  # unknown to the registry: its own family
    strategies = [("random", "random", {}), ("s-gp", "surrogate", {"predictor": "gp"}),
                  ("s-mlp", "surrogate", {"predictor": "mlp"}), ("tpe", "tpe", {})]  # fmt: skip
    assert label_clashes("ensemble(gbdt,gp)", strategies) == [(1, "s-gp", {"gp"})]
    assert label_clashes("ensemble(gbdt,mlp)", strategies) == [(2, "s-mlp", {"mlp"})]


def test_single_objective_evolution_is_refused_with_two_objectives(harness_bench: Path) -> None:
    with pytest.raises(OfaBenchError, match=r"strategies\[1\]: 'ofa-evolution' optimises only the first objective"):
        load_suite(suite_dict(harness_bench, strategies=["random", "ofa-evolution"]))
    one = load_suite(suite_dict(harness_bench, strategies=["random", "ofa-evolution"], objectives=["accuracy"],
                                constraints=["latency:mmacs<=6"]))  # fmt: skip
    assert [s.name for s in one.strategies] == ["random", "ofa-evolution"]


def test_the_default_suite_oracle_is_no_contestants_family() -> None:
    from ofa_bench.benchmark.surrogate import surrogate_info
    from ofa_bench.suite.fairness import label_families, strategy_families

    suite = load_suite("default")
    assert suite.oracle.mode == "shipped" and not suite.oracle.allow_same_family
    # Its verdict is what the demo reports: answers carry the noise of a live measurement (see
    # docs/fmnist_benchmark.md, section 5: the noise-free mean's verdicts disagreed with live ones).
    assert suite.oracle.noisy
    surrogate = surrogate_info(suite.benchmark.dir)
    assert surrogate is not None
    oracle = label_families(surrogate["predictor"])
    for entry in suite.strategies:
        assert not oracle & strategy_families(entry.name, entry.params), entry.name


@pytest.mark.slow  # live measurements of the archive and of every front on a busy 2-core machine: about a minute
def test_fronts_are_remeasured_on_the_held_out_half_of_digits(harness_bench: Path, tmp_path: Path) -> None:
    from ofa_bench.report.suite_report import write_report

    suite = suite_dict(harness_bench, report_split="auto", seeds=1, budget={"evaluations": 20},
                       reference={"random_sample": 30})  # fmt: skip
    results = run_suite(load_suite(suite), tmp_path)
    splits = results.state["splits"]
    assert (splits["search"], splits["report"]) == ("valid half a", "valid half b")
    assert splits["n_search"] + splits["n_report"] == 360 and splits["search_fingerprint"] != results.state["fingerprint"]
    # Accuracy's resolution is one image of the half the search saw.
    assert results.state["resolution"]["accuracy"] == pytest.approx(1 / splits["n_search"])
    holdout = pd.read_csv(tmp_path / "holdout.csv")
    assert set(holdout["key"]) == {"random-s0", "evolution-s0"}
    assert holdout["accuracy_test"].between(0, 1).all()
    assert results.runs["hv_test"].notna().all() and results.verdict_metric == "hv_test"
    text = write_report(tmp_path, results).markdown.read_text()
    assert "valid half b (verdict)" in text and "re-measured" in text


def test_leakage_compares_archs_not_their_text() -> None:
    """The archive's OFA dict (spaces, its own key order) and the log's compact JSON are one arch."""
    from ofa_bench.suite.leakage import arch_key, oracle_overlap

    archive_style = '{"r": 28, "d": [2, 3], "e": [3, 4], "ks": [3, 5]}'
    log_style = '{"ks":[3,5],"e":[3,4],"d":[2,3],"r":28}'
    assert archive_style != log_style and arch_key(archive_style) == arch_key(log_style)
    assert arch_key('{"ks":[3,5],"e":[3,4],"d":[2,3],"r":24}') != arch_key(log_style)
    fitted = {arch_key(archive_style)}
    # Three evaluations, two of them of the fitted arch (a repeat counts: each was answered from training data).
    evaluated = [log_style, '{"ks":[7,7],"e":[6,6],"d":[4,4],"r":28}', log_style]
    assert oracle_overlap(evaluated, fitted) == 2
    assert oracle_overlap([], fitted) == 0 and oracle_overlap(evaluated, set()) == 0
