"""Predictor, calibration and latency-model metrics worked out by hand (mutation testing, docs/testing.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ofa_bench.metrics.calibration import quantile_map, top_residual
from ofa_bench.metrics.latency import validation_metrics
from ofa_bench.metrics.predictors import METRICS, score, top_precision
from ofa_bench.metrics.ranking import kendall_tau, kendall_tau_p, spearman_rho

# Ten latencies (lower is better) and predictions of them.
LATENCY = np.array([5.0, 1.0, 4.0, 2.0, 3.0, 9.0, 8.0, 7.0, 6.0, 10.0])
PREDICTED = np.array([1.0, 2.0, 9.0, 10.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0])


def test_top_precision_when_lower_is_better() -> None:
    # k = round(0.2 * 10) = 2. The truly best two are the lowest: 1.0 and 2.0 (archs 1 and 3). The
    # predicted best two are the lowest predictions: archs 0 (1.0) and 1 (2.0); arch 1 is truly top.
    assert top_precision(LATENCY, PREDICTED, 0.2, higher_is_better=False) == 0.5
    # Read as "higher is better": truly best 10.0, 9.0 (archs 9, 5); predicted 10.0, 9.0 (archs 3, 2).
    assert top_precision(LATENCY, PREDICTED, 0.2, higher_is_better=True) == 0.0


def test_top_precision_takes_at_least_one_and_rounds_the_share() -> None:
    truth = np.arange(10.0)  # arch 9 is the best, then 8
    predicted = np.array([0, 0, 0, 0, 0, 0, 0, 0, 2.0, 1.0])  # picks arch 8 first, then arch 9
    # 0.1 * 10 = 1 arch: arch 8, which is not the best. 0.2 * 10 = 2: archs 8 and 9, both top two.
    assert top_precision(truth, predicted, 0.1) == 0.0
    assert top_precision(truth, predicted, 0.2) == 1.0
    # 0.04 * 10 rounds to 0, still one arch; 0.16 * 10 rounds to 2.
    assert top_precision(truth, predicted, 0.04) == 0.0
    assert top_precision(truth, predicted, 0.16) == 1.0


def test_top_precision_breaks_tied_predictions_by_position() -> None:
    # Every prediction equal: the first k archs are the predicted top (a stable order), and here
    # the first arch is the best one.
    truth = np.array([9.0, 1, 2, 3, 4, 5, 6, 7, 8, 0])
    assert top_precision(truth, np.zeros(10), 0.1) == 1.0
    assert top_precision(truth[::-1], np.zeros(10), 0.1) == 0.0
    # Twenty archs (numpy's default sort is not stable there): the first two are picked.
    truth = np.concatenate([[20.0, 19.0], np.arange(18.0)])
    assert top_precision(truth, np.zeros(20), 0.1) == 1.0


def test_score_by_hand() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([2.0, 2.0, 2.0, 6.0])
    # Errors 1, 0, -1, 2: RMSE sqrt(6 / 4), MAE 4 / 4.
    result = score(y, pred)
    assert list(result) == list(METRICS)
    assert result["rmse"] == pytest.approx(math.sqrt(1.5))
    assert result["mae"] == pytest.approx(1.0)
    # Tau-b: pairs (0,3), (1,3), (2,3) concordant, the other three tied in pred:
    # (3 - 0) / sqrt(6 * 3) = 1 / sqrt(2).
    assert result["kendall_tau"] == pytest.approx(1 / math.sqrt(2))
    # k = max(1, round(0.4)) = 1: the predicted best (arch 3, 6.0) is the true best.
    assert result["top_precision"] == 1.0
    # Lower is better: the predicted best is arch 0 (2.0, first of the tie), the true best arch 0.
    assert score(y, pred, higher_is_better=False)["top_precision"] == 1.0
    assert score(y[::-1], pred, higher_is_better=False)["top_precision"] == 0.0


def test_score_of_a_constant_prediction_ranks_nothing() -> None:
    result = score(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0]))
    assert result["kendall_tau"] == 0.0 and result["spearman_rho"] == 0.0
    assert result["rmse"] == pytest.approx(math.sqrt(2 / 3)) and result["mae"] == pytest.approx(2 / 3)


def test_rank_agreement_of_two_values_and_its_p_value() -> None:
    assert kendall_tau([1, 2], [1, 2]) == pytest.approx(1.0) and spearman_rho([1, 2], [2, 1]) == pytest.approx(-1.0)
    assert math.isnan(kendall_tau([1], [1])) and kendall_tau([1], [1], undefined=0.5) == 0.5
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    # Exact two-sided p of a perfect order of three: 2 of the 3! orders are as extreme, 2 / 6.
    tau, p = kendall_tau_p([1, 2, 3], [10, 20, 30])
    assert (tau, p) == (pytest.approx(1.0), pytest.approx(1 / 3))
    tau, p = kendall_tau_p([1, 1], [1, 2])
    assert math.isnan(tau) and math.isnan(p)
    with pytest.raises(ValueError, match="2 and 3 values"):
        kendall_tau([1, 2], [1, 2, 3])


def test_latency_validation_by_hand() -> None:
    measured = np.array([4.0, 8.0, 16.0, 32.0, 10.0])
    predicted = np.array([4.0, 8.5, 15.0, 40.0, 11.0])
    # Relative errors 0, 1/16, 1/16, 1/4, 1/10 (exactly 10%: within).
    out = validation_metrics(predicted, measured)
    assert out["n"] == 5
    assert out["mean_abs_rel_error"] == pytest.approx((0 + 0.0625 + 0.0625 + 0.25 + 0.1) / 5)
    assert out["within_10pct"] == pytest.approx(4 / 5)
    assert out["rmse_ms"] == pytest.approx(math.sqrt((0 + 0.25 + 1 + 64 + 1) / 5))
    # Same order on both sides: tau 1, exact two-sided p 2 / 5!.
    assert out["kendall_tau"] == pytest.approx(1.0) and out["kendall_p"] == pytest.approx(2 / 120)


def test_apply_map_is_piecewise_linear_inside_and_extends_the_end_segments() -> None:
    from ofa_bench.metrics.calibration import apply_map

    # Knots (0, 0), (1, 1), (2, 3), (3, 4): slopes 1, 2, 1.
    x, y = [0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 3.0, 4.0]
    np.testing.assert_allclose(apply_map([0.5, 1.5, 2.5], x, y), [0.5, 2.0, 3.5])
    # Beyond the ends, the end segments' lines: slope 1 below 0 and above 3.
    np.testing.assert_allclose(apply_map([-1.0, 4.0, 0.0, 3.0], x, y), [-1.0, 5.0, 0.0, 4.0])


def test_top_precision_of_tied_predictions_in_a_larger_set() -> None:
    # Twenty archs, predictions 1 for every third arch and 0 otherwise: k = round(0.4 * 20) = 8 is the
    # seven 1s and then, of the tied 0s, the first in position: arch 1. The true top eight are the
    # archs predicted 1 and arch 1.
    predicted = np.zeros(20)
    predicted[::3] = 1.0
    truth = np.zeros(20)
    truth[[0, 3, 6, 9, 12, 15, 18, 1]] = 1.0
    truth[2] = 0.5  # arch 2 is not in the top eight
    assert top_precision(truth, predicted, 0.4) == 1.0


def test_top_precision_defaults_to_the_top_tenth_and_higher_is_better() -> None:
    truth = np.arange(10.0)
    predicted = np.array([0, 0, 0, 0, 0, 0, 0, 0, 2.0, 1.0])  # picks arch 8 first
    assert top_precision(truth, predicted) == 0.0
    assert top_precision(truth, predicted[::-1] * 0 + np.arange(10.0)) == 1.0


def test_score_reads_higher_as_better_unless_told() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([1.0, 2.0, 4.0, 3.0])
    # k = 1. Higher is better: the predicted best is arch 2 (4.0), truly 3.0, not the best (4.0).
    # Lower is better: the predicted best is arch 0 (1.0), truly 1.0, the best.
    assert score(y, pred)["top_precision"] == 0.0
    assert score(y, pred, higher_is_better=False)["top_precision"] == 1.0


# ---- calibration: the quantile map and the top residual ----------------------------------------
def test_default_knots_are_the_percentiles() -> None:
    # 101 values 0..100: the k-th percentile (linear interpolation) of the predictions is k, of
    # measurements twice as spread, 2k; a knot at every percentile, 101 of them.
    x, y = quantile_map(np.arange(101.0), 2 * np.arange(101.0))
    np.testing.assert_allclose(x, np.arange(101.0))
    np.testing.assert_allclose(y, 2 * np.arange(101.0), atol=1e-9)


def test_two_knots_are_the_ends() -> None:
    x, y = quantile_map([3.0, 1.0, 2.0], [10.0, 30.0, 20.0], knots=2)
    np.testing.assert_allclose(x, [1.0, 3.0])
    np.testing.assert_allclose(y, [10.0, 30.0], atol=1e-9)
    with pytest.raises(ValueError, match="knots >= 2; got 1"):
        quantile_map([1.0, 2.0], [1.0, 2.0], knots=1)


def test_tied_measurements_still_give_a_strictly_increasing_map() -> None:
    x, y = quantile_map([1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0], knots=4)
    np.testing.assert_allclose(x, [1.0, 2.0, 3.0, 4.0])
    assert np.all(np.diff(y) > 0) and y[0] == 5.0 and y[-1] - 5.0 < 1e-9


def test_inputs_that_cannot_be_mapped_are_refused() -> None:
    with pytest.raises(ValueError, match="equally long finite sequences of >= 2 values; got 3, 2"):
        quantile_map([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"^quantile_map: every prediction is equal; there is no ranking to map$"):
        quantile_map([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])


def test_top_residual_ranked_by_measurement_or_by_prediction() -> None:
    predicted, measured = [3.0, 1.0, 2.0, 0.0], [1.0, 2.0, 3.0, 4.0]
    # k = 1: the best measured arch (4.0) was predicted 0.0; the best predicted (3.0) measured 1.0.
    assert top_residual(predicted, measured, 0.25) == pytest.approx(-4.0)
    assert top_residual(predicted, measured, 0.25, by="predicted") == pytest.approx(2.0)


def test_top_residual_breaks_ties_by_position() -> None:
    # Twenty archs measured 1 (every third) or 0: the top eight are the seven 1s and, of the tied
    # 0s, the first in position (arch 1). Predictions 0..19: residuals p - m over those eight.
    measured = np.zeros(20)
    measured[::3] = 1.0
    predicted = np.arange(20.0)
    top = [0, 3, 6, 9, 12, 15, 18, 1]
    assert top_residual(predicted, measured, 0.4) == pytest.approx(np.mean(predicted[top] - measured[top]))
    assert top_residual(predicted, measured, 0.4) == pytest.approx((63 + 1) / 8 - 7 / 8)
