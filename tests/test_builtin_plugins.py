"""The built-in plug-ins load through their entry points and pass the shipped conformance kit."""

from __future__ import annotations

import numpy as np
import pytest

from ofa_bench.costs import macs_params
from ofa_bench.plugins import registry
from ofa_bench.plugins.interfaces import Objective
from ofa_bench.plugins.testing import HardwareBackendTests
from ofa_bench.space import get_space


def test_builtins_are_declared_as_entry_points() -> None:
    assert {"mmacs", "mparams"} <= set(registry.names("hardware"))
    assert "random" in registry.names("strategy")
    infos = {info.name: info for info in registry.describe("hardware")}
    assert infos["mmacs"].distribution == "ofa-bench"
    assert infos["mmacs"].error is None


def test_no_deprecated_names_are_left() -> None:
    """Nothing has been released: the old names (macs, params, evolution) are gone, not aliased."""
    assert not {"macs", "params"} & set(registry.names("hardware"))
    assert "evolution" not in registry.names("strategy")


class TestMMacsProxy(HardwareBackendTests):
    @pytest.fixture
    def backend(self):
        return registry.create("hardware", "mmacs")


class TestMParamsProxy(HardwareBackendTests):
    @pytest.fixture
    def backend(self):
        return registry.create("hardware", "mparams")

    @pytest.fixture
    def space(self):
        return get_space("ofa-mbv3-w1.0")


def test_proxy_values_are_costs_in_millions() -> None:
    space = get_space("ofa-mbv3-w1.0")
    archs = space.sample(5, rng=3)
    macs, params = macs_params(archs)
    np.testing.assert_allclose(registry.create("hardware", "mmacs").latency(archs), macs / 1e6)
    np.testing.assert_allclose(registry.create("hardware", "mparams").latency(archs), params / 1e6)


def test_random_strategy_is_seeded_and_valid() -> None:
    space = get_space("ofa-mini")

    def asks(seed: int) -> list:
        strategy = registry.create("strategy", "random")
        strategy.setup(space, [Objective("macs", "min")], [], seed)
        return strategy.ask(7) + strategy.ask(3)

    first = asks(11)
    assert len(first) == 10 and all(arch.space == space for arch in first)
    assert first == asks(11)
    assert first != asks(12)


def test_analytic_columns_are_read_from_the_backends() -> None:
    from ofa_bench_hardware.proxies import MMacsProxy, MParamsProxy

    from ofa_bench.objectives import ANALYTIC_COLUMNS, analytic_columns

    assert ANALYTIC_COLUMNS["latency:mmacs"] == (0, MMacsProxy.scale)
    assert ANALYTIC_COLUMNS["latency:mparams"] == (1, MParamsProxy.scale)
    assert "latency:lut" not in ANALYTIC_COLUMNS and "latency:no-such-backend" not in ANALYTIC_COLUMNS
    assert {"macs", "params", "latency:mmacs", "latency:mparams"} <= set(ANALYTIC_COLUMNS)
    space = get_space("ofa-mini")
    archs = space.sample(5, 0)
    columns = analytic_columns(space, space.to_array(archs), ["latency:mmacs", "macs"])
    np.testing.assert_allclose(columns["latency:mmacs"], registry.create("hardware", "mmacs").latency(archs))
    np.testing.assert_allclose(columns["latency:mmacs"], columns["macs"] * 1e-6)
    assert registry.create("hardware", "mmacs").describe()["units"] == "MMACs"
