"""The linear MACs-to-milliseconds proxy: conformance, fitting, batch forms."""

from __future__ import annotations

import numpy as np
import pytest
from ofa_bench_hardware.linear import DEFAULT_FIT, LinearMacsLatency

from ofa_bench.costs import macs_params
from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins import registry
from ofa_bench.plugins.testing import HardwareBackendTests
from ofa_bench.space import get_space

MINI = get_space("ofa-mini")


class TestLinearMacsLatency(HardwareBackendTests):
    @pytest.fixture
    def backend(self):
        return registry.create("hardware", "macs-linear")


class TestLinearMacsLatencyW10(HardwareBackendTests):
    @pytest.fixture
    def backend(self):
        return registry.create_from_spec("hardware", "macs-linear:slope_ms_per_mmac=0.02:intercept_ms=1")

    @pytest.fixture
    def space(self):
        return get_space("ofa-mbv3-w1.0")


def test_defaults_are_the_documented_fit() -> None:
    backend = LinearMacsLatency()
    assert backend.slope_ms_per_mmac == DEFAULT_FIT.slope_ms_per_mmac
    assert backend.intercept_ms == DEFAULT_FIT.intercept_ms
    assert backend.describe()["fit"]["source"] == DEFAULT_FIT.source
    arch = MINI.largest()
    mmacs = macs_params([arch])[0][0] / 1e6
    expected = DEFAULT_FIT.slope_ms_per_mmac * mmacs + DEFAULT_FIT.intercept_ms
    assert backend.latency([arch])[0] == pytest.approx(expected)


def test_fit_recovers_a_line() -> None:
    archs = MINI.sample(30, rng=0)
    mmacs = macs_params(archs)[0] / 1e6
    noise = np.random.default_rng(0).normal(0, 1e-3, len(archs))
    fitted = LinearMacsLatency.fit(archs, 0.7 * mmacs + 2.5 + noise, source="synthetic")
    assert fitted.slope_ms_per_mmac == pytest.approx(0.7, rel=1e-2)
    assert fitted.intercept_ms == pytest.approx(2.5, rel=1e-2)
    fit = fitted.describe()["fit"]
    assert fit["n_archs"] == 30 and fit["r2"] > 0.99 and fit["source"] == "synthetic"
    again = LinearMacsLatency.fit(MINI.to_array(archs), 0.7 * mmacs + 2.5 + noise, space=MINI)
    assert again.slope_ms_per_mmac == pytest.approx(fitted.slope_ms_per_mmac)


def test_array_equals_list() -> None:
    backend = LinearMacsLatency(0.5, 1.0)
    archs = MINI.sample(50, rng=4)
    np.testing.assert_array_equal(backend.latency(archs), backend.latency(MINI.to_array(archs), space=MINI))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"slope_ms_per_mmac": -1.0}, "slope_ms_per_mmac"), ({"intercept_ms": float("nan")}, "intercept_ms")],
)
def test_bad_coefficients(kwargs: dict, fragment: str) -> None:
    with pytest.raises(OfaBenchError, match=fragment):
        LinearMacsLatency(**kwargs)


def test_fit_needs_matching_measurements() -> None:
    archs = MINI.sample(3, rng=0)
    with pytest.raises(OfaBenchError, match="2 latencies given for 3 archs"):
        LinearMacsLatency.fit(archs, [1.0, 2.0])
    with pytest.raises(OfaBenchError, match="different MAC counts"):
        LinearMacsLatency.fit([archs[0], archs[0]], [1.0, 2.0])
