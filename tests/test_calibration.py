"""The quantile map that undoes a surrogate's shrinkage, and the residual of the best archs it is judged by."""

from __future__ import annotations

import numpy as np
import pytest

from ofa_bench.metrics.calibration import apply_map, quantile_map, top_residual
from ofa_bench.metrics.ranking import kendall_tau


def test_a_linearly_shrunk_prediction_is_mapped_back_exactly() -> None:
    """Predictions 0.8 + 0.5 * (m - 0.8): the map is the inverse line, so mapped equals measured."""
    measured = np.linspace(0.75, 0.92, 201)
    predicted = 0.8 + 0.5 * (measured - 0.8)
    x, y = quantile_map(predicted, measured)
    np.testing.assert_allclose(apply_map(predicted, x, y), measured, atol=1e-9)
    # Beyond the fitted range the map continues with its end slopes (here 2): 0.91 -> 0.8 + 2 * 0.11.
    assert apply_map(np.array([0.91]), x, y)[0] == pytest.approx(1.02, abs=1e-9)
    assert apply_map(np.array([0.70]), x, y)[0] == pytest.approx(0.6, abs=1e-9)


def test_the_map_keeps_every_ranking_and_breaks_no_tie() -> None:
    rng = np.random.default_rng(0)
    measured = rng.integers(7500, 9200, 500) / 1e4  # accuracies over 10,000 images: many ties
    predicted = 0.86 + 0.4 * (measured - 0.86) + rng.normal(0, 0.005, 500)
    x, y = quantile_map(predicted, measured)
    assert np.all(np.diff(x) > 0) and np.all(np.diff(y) > 0)  # strictly increasing, plateaus included
    fresh = np.sort(rng.uniform(0.7, 1.0, 1000))
    assert np.all(np.diff(apply_map(fresh, x, y)) > 0)
    mapped = apply_map(predicted, x, y)
    assert kendall_tau(measured, mapped) == pytest.approx(kendall_tau(measured, predicted), abs=1e-12)


def test_top_residual_by_hand() -> None:
    measured = np.array([0.90, 0.80, 0.70, 0.60, 0.50])
    predicted = np.array([0.85, 0.82, 0.70, 0.61, 0.55])
    # Top 40% by measurement: archs 0 and 1: residuals -0.05 and +0.02, mean -0.015.
    assert top_residual(predicted, measured, 0.4) == pytest.approx(-0.015)
    # By prediction the same two archs here; a fraction that rounds to 0 still takes one arch.
    assert top_residual(predicted, measured, 0.4, by="predicted") == pytest.approx(-0.015)
    assert top_residual(predicted, measured, 0.01) == pytest.approx(-0.05)
    with pytest.raises(ValueError, match="by must be"):
        top_residual(predicted, measured, by="best")


def test_calibration_removes_the_shrinkage_of_the_best() -> None:
    rng = np.random.default_rng(1)
    measured = rng.normal(0.86, 0.02, 2000)
    predicted = 0.86 + 0.6 * (measured - 0.86)  # shrunk, no noise
    x, y = quantile_map(predicted[:1000], measured[:1000])
    before = top_residual(predicted[1000:], measured[1000:])
    after = top_residual(apply_map(predicted[1000:], x, y), measured[1000:])
    assert before < -0.01 and abs(after) < 0.002


def test_degenerate_input_is_refused() -> None:
    with pytest.raises(ValueError, match="every prediction is equal"):
        quantile_map([0.5, 0.5, 0.5], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="equally long finite"):
        quantile_map([0.5, np.nan], [0.1, 0.2])
    with pytest.raises(ValueError, match="knots >= 2"):
        quantile_map([0.1, 0.2], [0.1, 0.2], knots=1)
