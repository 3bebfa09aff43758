"""Performance of accuracy predictors (issue 5): batched prediction, as strategies call it in their inner loop.

Target: the MLP predictor (OFA's 3 hidden layers of 400 units on one-hot features) predicts at least
100,000 archs/s on one core for a batch array of 10,000 archs, encoding included, with its default
int8 inference. The float32 path is measured beside it as the baseline. The other predictors are
measured for comparison. Figures print in the closing throughput summary.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.conftest import THROUGHPUT
from benchmarks.targets import record
from ofa_bench.plugins import registry
from ofa_bench.plugins.testing.predictors import synthetic_targets
from ofa_bench.space import get_space

MINI = get_space("ofa-mini")
W10 = get_space("ofa-mbv3-w1.0")
BATCH = 10_000


def _fitted(name: str, space, **params):
    archs = space.sample(200, rng=0)
    # Few epochs: the weights' values do not change the cost of a forward pass, only its shape does.
    if name == "mlp":
        params = {"max_epochs": 3, "device": "cpu", **params}
    return registry.create("predictor", name, **params).fit(archs, synthetic_targets(archs, space))


@pytest.mark.parametrize(
    "precision",
    [
        pytest.param("int8", marks=pytest.mark.calibration("onnxruntime")),
        pytest.param("float32", marks=pytest.mark.calibration("blas")),
    ],
)
@pytest.mark.parametrize("space", [MINI, W10], ids=lambda s: s.name)
def test_mlp_predict_array_throughput(benchmark, space, precision, quick):
    """MLP prediction of a 10,000-arch batch array (one-hot encoding + 3x400 forward pass)."""
    mlp = _fitted("mlp", space, precision=precision)
    assert mlp.precision_ == precision
    array = space.sample_array(BATCH, rng=1)
    pred = benchmark.pedantic(mlp.predict, args=(array,), rounds=5 if quick else 20, warmup_rounds=1)
    assert pred.shape == (BATCH,) and np.isfinite(pred).all()
    THROUGHPUT[f"mlp predict, array, {space.name}, {precision}"] = BATCH / benchmark.stats.stats.median
    if precision == "int8":
        record("mlp_int8_rate", BATCH / benchmark.stats.stats.median)


@pytest.mark.calibration("python")
def test_mlp_predict_list_throughput(benchmark, quick):
    """The same from a list of Arch objects (conversion to an array included)."""
    mlp = _fitted("mlp", MINI)
    archs = MINI.sample(BATCH, rng=1)
    benchmark.pedantic(mlp.predict, args=(archs,), rounds=3 if quick else 10, warmup_rounds=1)
    THROUGHPUT["mlp predict, Arch list, ofa-mini"] = BATCH / benchmark.stats.stats.median


@pytest.mark.calibration("python")
def test_mlp_predict_small_batch_latency(benchmark, quick):
    """A small batch (100 archs), as a strategy scoring one generation asks: per-call overhead."""
    mlp = _fitted("mlp", MINI)
    array = MINI.sample_array(100, rng=1)
    benchmark.pedantic(mlp.predict, args=(array,), rounds=20 if quick else 200, warmup_rounds=2)
    THROUGHPUT["mlp predict, array of 100, ofa-mini"] = 100 / benchmark.stats.stats.median


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("gbdt", marks=pytest.mark.calibration("sklearn")),
        pytest.param("gp", marks=pytest.mark.calibration("blas")),
        pytest.param("rf", marks=pytest.mark.calibration("sklearn")),
    ],
)
def test_other_predictors_throughput(benchmark, name, quick):
    """The other predictors on the same 10,000-arch batch array (for comparison; no target)."""
    predictor = _fitted(name, MINI)
    array = MINI.sample_array(BATCH, rng=1)
    benchmark.pedantic(predictor.predict, args=(array,), rounds=3 if quick else 5, warmup_rounds=1)
    THROUGHPUT[f"{name} predict, array, ofa-mini"] = BATCH / benchmark.stats.stats.median
