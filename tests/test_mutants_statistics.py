"""The exact rank test, A12, Holm, summarise and pairwise against hand-worked values and brute-force
enumeration (mutation testing, docs/testing.md)."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from ofa_bench.metrics.statistics import a12, holm, pairwise, rank_test, smallest_p, summarise


def _enumerated_p(values: list[float], baseline: list[float]) -> float:
    """The exact one-sided p of the mid-rank sum by listing every relabelling (higher is better)."""
    both = np.array(values + baseline, dtype=float)
    ranks = rankdata(both)
    observed = ranks[: len(values)].sum()
    sums = [ranks[list(chosen)].sum() for chosen in combinations(range(both.size), len(values))]
    return float(np.mean(np.array(sums) >= observed - 1e-9))


def test_smallest_p_by_hand() -> None:
    assert smallest_p(2, 3) == pytest.approx(1 / 10)
    assert smallest_p(1, 1) == pytest.approx(1 / 2)
    assert math.isnan(smallest_p(0, 3)) and math.isnan(smallest_p(3, 0))


def test_rank_test_with_one_run_a_side_and_ties_by_hand() -> None:
    # [2] against [1, 2, 3, 1]: mid-ranks 3.5 | 1.5, 3.5, 5, 1.5. Of the 5 relabellings (which one
    # value is "ours"), 3 have a rank of at least 3.5: p = 3/5.
    assert rank_test(np.array([2.0]), np.array([1.0, 2.0, 3.0, 1.0]), "max") == pytest.approx(3 / 5)
    # Lower is better: ranks of the negated values 2.5 | 4.5, 2.5, 1, 4.5: 4 of 5 at least 2.5.
    assert rank_test(np.array([2.0]), np.array([1.0, 2.0, 3.0, 1.0]), "min") == pytest.approx(4 / 5)
    # [3, 2, 2] against [2]: ranks 4, 2, 2 | 2; sums of three of four: 8, 8, 8 (ours and two others) and 6.
    assert rank_test(np.array([3.0, 2.0, 2.0]), np.array([2.0]), "max") == pytest.approx(3 / 4)


@pytest.mark.parametrize(
    ("values", "baseline"),
    [([1.0, 2.0, 2.0, 3.0], [2.0, 2.0, 3.0, 4.0]), ([5.0, 5.0, 4.0], [4.0, 3.0, 3.0, 1.0]), ([2.0, 2.0], [2.0, 1.0])],
)
def test_rank_test_with_ties_is_the_enumerated_permutation_p(values: list[float], baseline: list[float]) -> None:
    assert rank_test(np.array(values), np.array(baseline), "max") == pytest.approx(_enumerated_p(values, baseline))
    negated = _enumerated_p([-v for v in values], [-v for v in baseline])
    assert rank_test(np.array(values), np.array(baseline), "min") == pytest.approx(negated)


def test_rank_test_never_reached_is_worst_and_empty_is_nan() -> None:
    # Lower is better; NaN (never reached) is the worst. [1, NaN] against [2, 3], as "higher is
    # better" -1, -inf | -2, -3: ranks 4, 1 | 3, 2, our sum 5. The six pairs of ranks sum to
    # 5, 7, 6, 4, 3, 5: four reach 5.
    assert rank_test(np.array([1.0, np.nan]), np.array([2.0, 3.0]), "min") == pytest.approx(4 / 6)
    assert math.isnan(rank_test(np.array([]), np.array([1.0]), "max"))
    assert math.isnan(rank_test(np.array([1.0]), np.array([]), "max"))


def test_a_large_tied_sample_is_sampled_and_cannot_go_below_what_the_samples_show() -> None:
    # 11 runs a side: C(22, 11) = 705432 relabellings, more than are enumerated, so 99,999 are drawn.
    # Complete separation: no draw reaches the observed sum, and a sampled p-value counts the
    # observation itself: (0 + 1) / (99999 + 1) (Phipson and Smyth 2010), above the exact 1 / 705432.
    values = np.array([10.0] * 6 + [11.0] * 5)
    baseline = np.array([1.0] * 6 + [2.0] * 5)
    assert rank_test(values, baseline, "max") == pytest.approx(1 / 100_000)


def test_a12_with_infinite_and_never_reached_values() -> None:
    # +inf beats every finite value, -inf loses to every one, whatever the finite values are.
    assert a12(np.array([np.inf, 3.0]), np.array([5.0, 4.0]), "max") == pytest.approx(2 / 4)
    assert a12(np.array([-np.inf, 5.0]), np.array([4.0, 3.0]), "max") == pytest.approx(2 / 4)
    assert a12(np.array([np.inf]), np.array([3.0, 2.0]), "max") == 1.0
    assert a12(np.array([np.inf]), np.array([-10.0, -9.0]), "max") == 1.0
    assert a12(np.array([-np.inf]), np.array([-10.0, -9.0]), "max") == 0.0
    assert a12(np.array([np.inf]), np.array([-np.inf]), "max") == 1.0
    assert a12(np.array([-np.inf]), np.array([np.inf]), "max") == 0.0
    # Lower is better: never reached (NaN) loses to a run that reached; -inf wins.
    assert a12(np.array([np.nan]), np.array([7.0]), "min") == 0.0
    assert a12(np.array([np.nan]), np.array([7.0]), "max") == 0.0  # never reached is worst both ways
    assert a12(np.array([-np.inf, 1.0]), np.array([0.5]), "min") == pytest.approx(1 / 2)
    assert math.isnan(a12(np.array([]), np.array([1.0]), "max"))
    assert math.isnan(a12(np.array([1.0]), np.array([]), "max"))


def test_holm_of_one_and_of_equal_p_values() -> None:
    assert holm(np.array([0.03])).tolist() == [0.03]
    # Ties: 0.02 * 3, 0.02 * 2 -> monotone 0.06, 0.06; 0.5 * 1 = 0.5 -> 0.5.
    np.testing.assert_allclose(holm(np.array([0.5, 0.02, 0.02])), [0.5, 0.06, 0.06])
    assert np.isnan(holm(np.array([np.nan, np.nan]))).all()


def _runs() -> pd.DataFrame:
    return pd.DataFrame({
        "algo": ["base"] * 4 + ["good"] * 4 + ["same"] * 4,
        "hv": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.1, 0.2, 0.3, 0.4],
        "evals": [50.0, 60.0, np.nan, np.nan, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, np.nan, np.nan],
    })  # fmt: skip


def test_summarise_by_hand() -> None:
    table = summarise(_runs(), {"hv": "max", "evals": "min"}, baseline="base", by="algo")
    assert table["strategy"].tolist() == ["base", "base", "good", "good", "same", "same"]
    assert table["runs"].tolist() == [4] * 6
    row = table.set_index(["strategy", "metric"])
    # Evals of base: 50, 60 and two never reached (inf): median 60 and q1 50 of the observed values
    # (inverted CDF), q3 never reached.
    assert (row.loc[("base", "evals"), "median"], row.loc[("base", "evals"), "q1"]) == (60.0, 50.0)
    assert row.loc[("base", "evals"), "q3"] == math.inf
    # good beats base on both: complete separation of 4 and 4, p = 1 / C(8, 4) = 1/70, A12 = 1.
    for metric in ("hv", "evals"):
        assert row.loc[("good", metric), "p_value"] == pytest.approx(1 / 70)
        assert row.loc[("good", metric), "effect_size"] == 1.0
    # same equals base: A12 one half; Holm per metric over {1/70, p_same}: 2/70 for good.
    assert row.loc[("same", "hv"), "effect_size"] == 0.5
    assert row.loc[("good", "hv"), "p_adjusted"] == pytest.approx(2 / 70)
    assert row.loc[("good", "evals"), "p_adjusted"] == pytest.approx(2 / 70)
    assert row.loc[("good", "hv"), "better"] and not row.loc[("same", "hv"), "better"]
    assert not row.loc[("base", "hv"), "better"] and math.isnan(row.loc[("base", "hv"), "p_value"])
    # A stricter alpha: 2/70 = 0.029 is not below 0.01.
    strict = summarise(_runs(), {"hv": "max"}, baseline="base", by="algo", alpha=0.01)
    assert not strict["better"].any()
    # A resolution of 0.45 on hv: good's median (0.65) is only 0.4 above base's (0.25).
    coarse = summarise(_runs(), {"hv": "max"}, baseline="base", by="algo", resolution={"hv": 0.45})
    assert not coarse["better"].any()
    fine = summarise(_runs(), {"hv": "max"}, baseline="base", by="algo", resolution={"hv": 0.35})
    assert fine.set_index("strategy").loc["good", "better"]


def test_summarise_without_a_baseline_tests_nothing() -> None:
    for baseline in (None, "absent"):
        table = summarise(_runs(), {"hv": "max"}, baseline=baseline, by="algo")
        assert table["p_value"].isna().all() and table["effect_size"].isna().all() and not table["better"].any()
        assert table.set_index("strategy").loc["good", "median"] == pytest.approx(0.65)
    missing = summarise(_runs(), {"nope": "max"}, baseline="base", by="algo")
    assert missing["runs"].tolist() == [0, 0, 0] and missing["median"].isna().all()


def test_both_never_reached_is_not_better() -> None:
    runs = pd.DataFrame({"strategy": ["random"] * 3 + ["x"] * 3, "evals": [np.nan] * 6})
    table = summarise(runs, {"evals": "min"}).set_index("strategy")
    assert not table.loc["x", "better"] and math.isnan(table.loc["x", "p_value"])
    assert table.loc["x", "median"] == math.inf


def test_pairwise_options_by_hand() -> None:
    runs = _runs()
    table = pairwise(runs, {"hv": "max"}, by="algo")
    row = table.set_index(["strategy", "other"])
    # good against base and same: p 1/70 each; the other four claims larger. Holm over 6: 6/70 = 0.086.
    assert row.loc[("good", "base"), "p_value"] == pytest.approx(1 / 70)
    assert row.loc[("good", "same"), "p_adjusted"] == pytest.approx(6 / 70)
    assert row.loc[("base", "same"), "effect_size"] == 0.5
    assert not table["better"].any()
    loose = pairwise(runs, {"hv": "max"}, by="algo", alpha=0.1).set_index(["strategy", "other"])
    assert loose.loc[("good", "base"), "better"] and not loose.loc[("base", "good"), "better"]
    coarse = pairwise(runs, {"hv": "max"}, by="algo", alpha=0.1, resolution={"hv": 0.45})
    assert not coarse["better"].any()
    # Lower is better on evals: good (10..40) beats base (50, 60, never, never).
    evals = pairwise(runs, {"evals": "min"}, by="algo", alpha=0.1).set_index(["strategy", "other"])
    assert evals.loc[("good", "base"), "better"] and evals.loc[("good", "base"), "effect_size"] == 1.0
    assert pairwise(runs, {"nope": "max"}, by="algo").empty


def test_values_of_any_shape_are_one_value_per_seed() -> None:
    # Four seeds a side given as a 2x2 array and a row: complete separation, p = 1 / C(8, 4), A12 = 1.
    better, worse = np.array([[5.0, 6.0], [7.0, 8.0]]), np.array([[1.0, 2.0, 3.0, 4.0]])
    assert rank_test(better, worse, "max") == pytest.approx(1 / 70)
    assert a12(better, worse, "max") == 1.0 and a12(worse, better, "max") == 0.0


def test_the_default_baseline_is_random_and_rows_keep_the_order_of_first_appearance() -> None:
    runs = pd.DataFrame({"strategy": ["random"] * 4 + ["nsga2"] * 4 + ["evo"] * 4,
                         "hv": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 0.5, 0.6, 0.7, 0.8]})  # fmt: skip
    table = summarise(runs, {"hv": "max"})
    assert table["strategy"].tolist() == ["random", "nsga2", "evo"]
    assert table["p_value"].iloc[1] == pytest.approx(1 / 70) and table["direction"].tolist() == ["max"] * 3
    assert list(table.columns) == ["strategy", "metric", "direction", "runs", "median", "q1", "q3", "p_value",
                                   "p_adjusted", "effect_size", "better"]  # fmt: skip
    pairs = pairwise(runs, {"hv": "max"})
    assert list(zip(pairs["strategy"], pairs["other"]))[:3] == [
        ("random", "nsga2"),
        ("random", "evo"),
        ("nsga2", "random"),
    ]
    assert list(pairs.columns) == ["strategy", "other", "metric", "direction", "p_value", "p_adjusted",
                                   "effect_size", "better"]  # fmt: skip
    assert pairs["direction"].tolist() == ["max"] * 6
    # No runs: an empty table with the same columns.
    assert list(summarise(runs.iloc[:0], {"hv": "max"}).columns) == list(table.columns)
    assert list(pairwise(runs.iloc[:0], {"hv": "max"}).columns) == list(pairs.columns)


def test_better_is_strictly_below_alpha_and_strictly_beyond_the_resolution() -> None:
    runs = pd.DataFrame({"strategy": ["random"] * 4 + ["evo"] * 4, "hv": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]})
    # One test: p = p_adjusted = 1/70; medians 2.5 and 6.5, a gain of exactly 4.
    assert summarise(runs, {"hv": "max"}, resolution={"hv": 3.5}).set_index("strategy").loc["evo", "better"]
    assert not summarise(runs, {"hv": "max"}, resolution={"hv": 4.0}).set_index("strategy").loc["evo", "better"]
    assert not summarise(runs, {"hv": "max"}, alpha=1 / 70).set_index("strategy").loc["evo", "better"]
    pairs = pairwise(runs, {"hv": "max"}, alpha=2 / 70).set_index(["strategy", "other"])  # Holm: 2 * 1/70
    assert not pairs.loc[("evo", "random"), "better"]
    assert pairwise(runs, {"hv": "max"}, alpha=0.03).set_index(["strategy", "other"]).loc[("evo", "random"), "better"]


def test_the_resolution_of_a_minimised_metric() -> None:
    # Lower is better: medians 51.5 (random) and 49.75 (evo), a gain of 1.75.
    runs = pd.DataFrame({"strategy": ["random"] * 4 + ["evo"] * 4,
                         "evals": [50.0, 51.0, 52.0, 53.0, 49.9, 49.8, 49.7, 49.6]})  # fmt: skip
    assert summarise(runs, {"evals": "min"}, resolution={"evals": 1.5}).set_index("strategy").loc["evo", "better"]
    assert not summarise(runs, {"evals": "min"}, resolution={"evals": 2.0}).set_index("strategy").loc["evo", "better"]


def test_never_reached_medians_are_worst_on_both_sides() -> None:
    # A baseline that reached the target in 2 of 4 runs: median 60 (the values 50, 60, never, never).
    runs = _runs()
    table = summarise(runs, {"evals": "min"}, baseline="base", by="algo").set_index("strategy")
    assert table.loc["good", "better"]  # p = 2/70 after Holm, median 25 against 60
    # Both medians never reached: no gain can be shown, whatever the p-value. [1, 2, never x 3] against
    # never x 5: the two reached runs hold the top two ranks; a relabelling ties that only if it keeps
    # both, C(8, 3) of C(10, 5): p = 56 / 252.
    never = pd.DataFrame({"strategy": ["random"] * 5 + ["x"] * 5,
                          "evals": [np.nan] * 5 + [1.0, 2.0, np.nan, np.nan, np.nan]})  # fmt: skip
    summary = summarise(never, {"evals": "min"}, alpha=0.5).set_index("strategy")
    assert summary.loc["x", "p_value"] == pytest.approx(56 / 252)
    assert summary.loc["x", "median"] == math.inf and not summary.loc["x", "better"]
    # A strategy whose median counts a never-reached run as worst: [1, 2, 3, never] -> median 2,
    # against 10..13 (median 11.5): a gain of 9.5, not beyond a resolution of 10.
    mixed = pd.DataFrame({"strategy": ["x"] * 4 + ["y"] * 4, "evals": [1.0, 2.0, 3.0, np.nan, 10.0, 11.0, 12.0, 13.0]})
    pairs = pairwise(mixed, {"evals": "min"}, alpha=0.5, resolution={"evals": 10.0}).set_index(["strategy", "other"])
    # Ranks (higher is better) 8, 7, 6, 1 | 5, 4, 3, 2: 12 of the 70 relabellings reach the sum 22.
    assert pairs.loc[("x", "y"), "p_value"] == pytest.approx(12 / 70)
    assert not pairs.loc[("x", "y"), "better"]
    assert (
        pairwise(mixed, {"evals": "min"}, alpha=0.5, resolution={"evals": 9.0})
        .set_index(["strategy", "other"])
        .loc[("x", "y"), "better"]
    )


def test_without_ties_large_samples_are_still_exact() -> None:
    # 11 a side, no ties, complete separation: Mann-Whitney's exact p is 1 / C(22, 11) (a normal
    # approximation, or sampling relabellings, would give something else).
    assert rank_test(np.arange(11.0) + 100, np.arange(11.0), "max") == pytest.approx(1 / math.comb(22, 11))


def test_enumerated_p_counts_only_relabellings_at_least_as_extreme() -> None:
    # [2] against [1, 3, 3]: mid-ranks 2 | 1, 3.5, 3.5; relabellings sum to 2, 1, 3.5, 3.5: three reach 2.
    assert rank_test(np.array([2.0]), np.array([1.0, 3.0, 3.0]), "max") == pytest.approx(3 / 4)


def test_tied_samples_up_to_the_limit_are_enumerated() -> None:
    # 10 a side with ties: C(20, 10) = 184756 relabellings, all listed; complete separation: 1 / 184756
    # (sampling 99,999 of them could not go below 1 / 100000).
    values = np.array([10.0] * 5 + [11.0] * 5)
    baseline = np.array([1.0] * 5 + [2.0] * 5)
    assert rank_test(values, baseline, "max") == pytest.approx(1 / 184756)


def test_a_sampled_p_value_is_reproducible() -> None:
    rng = np.random.default_rng(3)
    values, baseline = rng.integers(0, 6, 11).astype(float), rng.integers(0, 5, 11).astype(float)
    first = rank_test(values, baseline, "max")  # 705432 relabellings: 99,999 drawn, from a fixed seed
    assert 0 < first < 1 and rank_test(values, baseline, "max") == first
