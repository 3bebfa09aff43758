"""Tests of the suite metrics against hand-computed values and scipy/pymoo, on synthetic run logs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu

from ofa_bench import metrics
from ofa_bench.metrics import Normalisation
from ofa_bench.plugins.interfaces import Constraint, Objective
from ofa_bench.search.runlog import read_log

OBJECTIVES = (Objective("accuracy", "max"), Objective("latency:mmacs", "min"))
NORM = Normalisation(OBJECTIVES, (), {"accuracy": (0.0, 1.0), "latency:mmacs": (0.0, 10.0)}, 1.1)


def _records(accuracy: list[float], latency: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"n": np.arange(1, len(accuracy) + 1), "accuracy": accuracy, "latency:mmacs": latency})


def _write_log(directory: Path, accuracy: list[float], latency: list[float]) -> Path:
    """A run log in the run-log format: one JSON object per evaluation."""
    directory.mkdir(parents=True)
    lines = []
    for i, (a, t) in enumerate(zip(accuracy, latency)):
        lines.append(json.dumps({
            "n": i + 1, "batch": i // 2 + 1, "arch": {"ks": [3], "e": [3], "d": [2], "r": 32},
            "record": {"accuracy": a, "latency:mmacs": t},
            "time": {"eval_s": 0.5, "strategy_s": 0.1, "elapsed_s": 0.6 * (i + 1), "cpu_s": 0.4 * (i + 1)},
        }))  # fmt: skip
    (directory / "log.jsonl").write_text("\n".join(lines) + "\n")
    (directory / "run.json").write_text(json.dumps({"status": "done"}))
    return directory


def test_normalisation_maps_best_bound_to_zero_and_back() -> None:
    df = _records([1.0, 0.0, 0.5], [0.0, 10.0, 5.0])
    points = NORM.points(df)
    np.testing.assert_allclose(points, [[0, 0], [1, 1], [0.5, 0.5]])
    np.testing.assert_allclose(NORM.raw(points), df[["accuracy", "latency:mmacs"]].to_numpy())
    assert Normalisation.from_dict(json.loads(json.dumps(NORM.to_dict()))) == NORM


def test_hypervolume_matches_the_staircase_by_hand() -> None:
    # Normalised points (0.5,0.5), (0.2,0.8), (0.4,0.2), (0.1,1.0); (0.5,0.5) is dominated.
    df = _records([0.5, 0.8, 0.6, 0.9], [5, 8, 2, 10])
    by_hand = (0.2 - 0.1) * (1.1 - 1.0) + (0.4 - 0.2) * (1.1 - 0.8) + (1.1 - 0.4) * (1.1 - 0.2)
    assert metrics.run_hypervolume(df, NORM) == pytest.approx(by_hand)
    assert metrics.hypervolume(np.zeros((0, 2)), 1.1) == 0.0
    # A point beyond the reference point adds nothing.
    assert metrics.hypervolume(np.array([[1.2, 0.0]]), 1.1) == 0.0


def test_hypervolume_clips_points_beyond_the_best_bound_to_it() -> None:
    """A coordinate below 0 (better than the best bound) counts as 0: the volume never leaves the box.

    (-0.5, 0.5) with reference 1.1 covers [0, 1.1] x [0.5, 1.1] = 1.1 * 0.6 = 0.66, not 1.6 * 0.6.
    """
    assert metrics.hypervolume(np.array([[-0.5, 0.5]]), 1.1) == pytest.approx(0.66)
    assert metrics.hypervolume(np.array([[-3.0, -3.0]]), 1.1) == pytest.approx(1.1**2)
    # Against pymoo on the clipped points, for a mixed set.
    from pymoo.indicators.hv import HV

    points = np.array([[-0.2, 0.7], [0.3, 0.3], [0.8, -0.1], [0.5, 0.9]])
    expected = HV(ref_point=np.array([1.1, 1.1])).do(np.clip(points, 0.0, None))
    assert metrics.hypervolume(points, 1.1) == pytest.approx(expected)
    assert metrics.hypervolume(points, 1.1) <= 1.1**2


def test_hypervolume_of_three_objectives_by_hand() -> None:
    # Two boxes from the reference (1, 1, 1): [0.5,1]x[0,1]x[0,1] and [0,1]x[0.5,1]x[0.5,1]; overlap
    # [0.5,1]x[0.5,1]x[0.5,1]. 0.5 + 0.25 - 0.125.
    points = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.5]])
    assert metrics.hypervolume(points, 1.0) == pytest.approx(0.5 + 0.25 - 0.125)


def test_constraints_and_missing_values_exclude_points() -> None:
    df = _records([0.9, 0.5, math.nan], [9.0, 2.0, 1.0])
    constrained = Normalisation(OBJECTIVES, (Constraint("latency:mmacs", 5.0),), NORM.bounds, 1.1)
    assert constrained.feasible_mask(df).tolist() == [False, True, False]
    only = _records([0.5], [2.0])
    assert metrics.run_hypervolume(df, constrained) == pytest.approx(metrics.run_hypervolume(only, NORM))


def test_igd_is_zero_on_the_reference_front_and_positive_away_from_it() -> None:
    good = _records([0.9, 0.6], [5.0, 1.0])
    bad = _records([0.5], [6.0])
    front = metrics.reference_front([good, bad], NORM)
    assert len(front) == 2  # bad is dominated
    assert metrics.igd(good, NORM, front) == pytest.approx(0.0)
    # By hand: bad is (0.5, 0.6) normalised; the front is (0.1, 0.5) and (0.4, 0.1).
    by_hand = (math.dist((0.1, 0.5), (0.5, 0.6)) + math.dist((0.4, 0.1), (0.5, 0.6))) / 2
    assert metrics.igd(bad, NORM, front) == pytest.approx(by_hand)
    assert metrics.igd(_records([], []), NORM, front) == math.inf


def test_igd_averages_over_the_reference_front_not_over_the_run() -> None:
    """IGD is the mean over *front* points of the distance to the run; GD (the other way) differs.

    The run found one end of a two-point front: every found point lies on the front (GD 0), but the
    other end is sqrt(2) away from anything found, so IGD = (0 + sqrt(2)) / 2.
    """
    front = np.array([[0.0, 1.0], [1.0, 0.0]])
    run = _records([1.0], [10.0])  # normalised (0, 1): one end of the front
    assert metrics.igd(run, NORM, front) == pytest.approx(math.sqrt(2) / 2)
    # Three points of a run against a one-point front: IGD is the distance to the nearest one only.
    run = _records([0.9, 0.5, 0.1], [1.0, 5.0, 9.0])  # (0.1, 0.1), (0.5, 0.5), (0.9, 0.9)
    assert metrics.igd(run, NORM, np.array([[0.0, 0.0]])) == pytest.approx(math.hypot(0.1, 0.1))


def test_anytime_curve_steps_up_and_ends_at_the_run_hypervolume() -> None:
    df = _records([0.1, 0.2, 0.15, 0.9, 0.3], [9, 8, 9.5, 9, 1])
    curve = metrics.anytime_hypervolume(df, NORM)
    assert curve["n"].iloc[0] == 1 and curve["n"].iloc[-1] == 5
    assert np.all(np.diff(curve["hv"]) >= 0)
    assert 3 not in curve["n"].tolist()  # a dominated point changes nothing
    assert curve["hv"].iloc[-1] == pytest.approx(metrics.run_hypervolume(df, NORM))
    for k in range(1, 6):
        assert metrics.curve_at(curve, np.array([k]))[0] == pytest.approx(metrics.run_hypervolume(df.iloc[:k], NORM))


def test_evals_to_target_is_the_first_evaluation_reaching_the_share() -> None:
    curve = pd.DataFrame({"n": [1, 4, 9], "hv": [0.1, 0.5, 1.0]})
    assert metrics.evals_to_target(curve, best_final=1.0) == 9
    assert metrics.evals_to_target(curve, best_final=0.5) == 4
    assert math.isnan(metrics.evals_to_target(curve, best_final=2.0))
    assert math.isnan(metrics.evals_to_target(curve, best_final=0.0))


def test_best_under_limit() -> None:
    df = _records([0.5, 0.8, 0.6, 0.9], [5, 8, 2, 10])
    best = metrics.best_under_limit(df, "latency:mmacs", [1, 2, 5, 9, 10])
    np.testing.assert_allclose(best, [np.nan, 0.6, 0.6, 0.8, 0.9])
    constrained = metrics.best_under_limit(df, "latency:mmacs", [10], constraints=[Constraint("latency:mmacs", 6)])
    assert constrained.tolist() == [0.6]


def test_attainment_front_levels() -> None:
    a = np.array([[0.1, 0.9], [0.5, 0.2]])
    b = np.array([[0.3, 0.5]])
    union = metrics.attainment_front([a, b], level=1)
    np.testing.assert_allclose(union, [[0.1, 0.9], [0.3, 0.5], [0.5, 0.2]])
    both = metrics.attainment_front([a, b], level=2)
    # Attained by both runs: b's point needs a's (0.5, 0.2) to reach y <= 0.5, at x = 0.5.
    np.testing.assert_allclose(both, [[0.3, 0.9], [0.5, 0.5]])
    assert len(metrics.attainment_front([a, np.zeros((0, 2))], level=2)) == 0


def test_rank_test_is_scipys_one_sided_mann_whitney() -> None:
    better, worse = np.array([3.0, 4.0, 5.0, 6.0]), np.array([1.0, 2.0, 2.5, 3.5])
    greater = mannwhitneyu(better, worse, alternative="greater").pvalue
    assert metrics.rank_test(better, worse, "max") == pytest.approx(greater)
    less = mannwhitneyu(worse, better, alternative="less").pvalue
    assert metrics.rank_test(worse, better, "min") == pytest.approx(less)
    assert math.isnan(metrics.rank_test(np.ones(3), np.ones(3), "max"))
    assert metrics.smallest_p(3, 3) == pytest.approx(0.05)
    assert metrics.smallest_p(4, 4) < 0.05
    # "Never reached" counts as the worst value, not as missing.
    assert metrics.rank_test(np.array([5.0, 6, 7, 8]), np.array([np.nan] * 4), "min") < 0.05


@pytest.mark.parametrize("n", [3, 4, 5])
def test_rank_test_with_ties_never_goes_below_the_exact_floor(n: int) -> None:
    floor = 1 / math.comb(2 * n, n)
    # Runs that never reached a target tie with each other; a normal approximation went below the floor.
    p = metrics.rank_test(np.arange(5.0, 5 + n), np.full(n, np.nan), "min")
    assert p >= floor and p == pytest.approx(floor)
    tied = metrics.rank_test(np.array([2.0] * (n - 1) + [3.0]), np.array([1.0] + [2.0] * (n - 1)), "max")
    assert floor <= tied < 1
    assert metrics.rank_test(np.array([1.0, 1, 2]), np.array([2.0, 3, 3, 3]), "max") >= metrics.smallest_p(3, 4)


def test_rank_test_without_ties_is_scipys_exact_mann_whitney() -> None:
    x, y = np.array([0.3, 0.9, 0.5, 0.7, 0.8]), np.array([0.1, 0.6, 0.2, 0.4, 0.35])
    exact = mannwhitneyu(x, y, alternative="greater", method="exact").pvalue
    assert metrics.rank_test(x, y, "max") == pytest.approx(exact)


def test_holm_on_the_textbook_example() -> None:
    # Four hypotheses at alpha 0.05 (Holm 1979's procedure): sorted 0.005, 0.01, 0.03, 0.04 are
    # compared with 0.05/4, 0.05/3, 0.05/2, 0.05/1; the first two are rejected, the step-down stops at 0.03.
    adjusted = metrics.holm(np.array([0.01, 0.04, 0.03, 0.005]))
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    assert (adjusted < 0.05).tolist() == [True, False, False, True]
    with_nan = metrics.holm(np.array([np.nan, 0.02, 0.5]))
    assert math.isnan(with_nan[0]) and with_nan[1:].tolist() == [0.04, 0.5]
    assert metrics.holm(np.array([0.6, 0.7])).tolist() == [1.0, 1.0]


def test_a12_on_a_known_example() -> None:
    # Pairs (x > y) + ties/2 over 16 pairs: 0 + 1 + 2.5 + 3 = 6.5.
    assert metrics.a12(np.array([1.0, 2, 3, 4]), np.array([2.0, 2, 3, 5]), "max") == pytest.approx(6.5 / 16)
    assert metrics.a12(np.array([1.0, 2, 3, 4]), np.array([2.0, 2, 3, 5]), "min") == pytest.approx(9.5 / 16)
    assert metrics.a12(np.array([3.0, 4]), np.array([1.0, 2]), "max") == 1.0
    # Never reached (NaN) is the worst: a run that reached the target beats it.
    assert metrics.a12(np.array([10.0]), np.array([np.nan]), "min") == 1.0


def test_better_needs_the_corrected_p_and_a_difference_beyond_the_resolution() -> None:
    runs = pd.DataFrame({
        "strategy": ["random"] * 5 + ["a"] * 5 + ["b"] * 5,
        "acc": [0.536, 0.537, 0.538, 0.539, 0.5399, 0.6, 0.61, 0.62, 0.63, 0.64, 0.5401, 0.5402, 0.5403, 0.5404, 0.5405],
    })  # fmt: skip
    summary = metrics.summarise(runs, {"acc": "max"}, "random", resolution={"acc": 1 / 360}).set_index("strategy")
    assert summary.loc["a", "p_value"] == pytest.approx(1 / 252)
    assert summary.loc["a", "p_adjusted"] == pytest.approx(2 / 252)
    assert summary.loc["a", "effect_size"] == 1.0 and bool(summary.loc["a", "better"])
    # Every run of b beats every run of random, but by less than one validation image.
    assert summary.loc["b", "p_value"] < 0.05 and not bool(summary.loc["b", "better"])
    assert math.isnan(summary.loc["random", "p_adjusted"]) and math.isnan(summary.loc["random", "effect_size"])


def test_summarise_gives_median_iqr_and_p_against_the_baseline() -> None:
    runs = pd.DataFrame({
        "strategy": ["random"] * 4 + ["evo"] * 4,
        "hv": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
    })  # fmt: skip
    summary = metrics.summarise(runs, {"hv": "max"}, baseline="random").set_index("strategy")
    assert summary.loc["random", "median"] == 2.5
    assert (summary.loc["evo", "q1"], summary.loc["evo", "q3"]) == (5.75, 7.25)
    assert math.isnan(summary.loc["random", "p_value"])
    assert summary.loc["evo", "p_value"] == pytest.approx(1 / 70)
    assert summary.loc["evo", "p_adjusted"] == pytest.approx(1 / 70) and summary.loc["evo", "effect_size"] == 1.0
    assert bool(summary.loc["evo", "better"])


def test_metrics_from_a_run_log_in_the_log_format(tmp_path: Path) -> None:
    directory = _write_log(tmp_path / "run", [0.5, 0.8, 0.6, 0.9], [5, 8, 2, 10])
    df = read_log(directory)
    cost = metrics.search_cost(df)
    assert cost["evaluations"] == 4
    assert cost["wall_s"] == pytest.approx(2.4) and cost["cpu_s"] == pytest.approx(1.6)
    assert cost["eval_s"] == pytest.approx(2.0) and cost["strategy_s"] == pytest.approx(0.4)
    assert metrics.run_hypervolume(df, NORM) == pytest.approx(0.7)


def test_pairwise_tests_every_ordered_pair_and_corrects_across_all() -> None:
    from itertools import combinations

    from ofa_bench.metrics.statistics import pairwise

    # Three strategies, 4 seeds, clearly ordered: c > b > a on hv (no ties).
    runs = pd.DataFrame({
        "strategy": ["a"] * 4 + ["b"] * 4 + ["c"] * 4,
        "hv": [0.10, 0.11, 0.12, 0.13, 0.20, 0.21, 0.22, 0.23, 0.30, 0.31, 0.32, 0.33],
    })  # fmt: skip
    table = pairwise(runs, {"hv": "max"})
    assert len(table) == 6  # 3 * 2 ordered pairs
    # Each "x beats y" with complete separation has p = 1 / C(8, 4) = 1/70; the reverse claims p = 1.
    row = lambda s, o: table[(table["strategy"] == s) & (table["other"] == o)].iloc[0]
    for better, worse in (("b", "a"), ("c", "a"), ("c", "b")):
        assert row(better, worse)["p_value"] == pytest.approx(1 / 70)
        assert row(worse, better)["p_value"] == pytest.approx(1.0)
        assert row(better, worse)["effect_size"] == 1.0 and row(worse, better)["effect_size"] == 0.0
    # Holm over all 6: the three smallest are 1/70 each, scaled by 6, 5, 4 and made monotone: 6/70.
    assert row("c", "a")["p_adjusted"] == pytest.approx(6 / 70)
    assert not table["better"].any()  # 6/70 > 0.05: four seeds cannot carry six claims
    # With ten seeds a side the same separation is decisive (1 / C(20, 10) * 6 << 0.05).
    ten = pd.DataFrame({"strategy": [s for s in "abc" for _ in range(10)],
                        "hv": [base + i / 100 for base in (0.1, 0.3, 0.5) for i in range(10)]})  # fmt: skip
    decided = pairwise(ten, {"hv": "max"})
    assert set(map(tuple, decided.loc[decided["better"], ["strategy", "other"]].to_numpy())) == {
        ("b", "a"), ("c", "a"), ("c", "b")
    }
    assert len(list(combinations("abc", 2))) * 2 == len(decided)
