"""The built-in plug-ins load through their entry points and pass the shipped conformance kit."""

from __future__ import annotations

import numpy as np
import pytest

from ofa_bench import registry
from ofa_bench.costs import macs_params
from ofa_bench.interfaces import Objective
from ofa_bench.space import get_space
from ofa_bench.testing import HardwareBackendTests


def test_builtins_are_declared_as_entry_points() -> None:
    assert {"macs", "params"} <= set(registry.names("hardware"))
    assert "random" in registry.names("strategy")
    infos = {info.name: info for info in registry.describe("hardware")}
    assert infos["macs"].distribution == "ofa-bench"
    assert infos["macs"].error is None


class TestMacsProxy(HardwareBackendTests):
    @pytest.fixture
    def backend(self):
        return registry.create("hardware", "macs")


class TestParamsProxy(HardwareBackendTests):
    @pytest.fixture
    def backend(self):
        return registry.create("hardware", "params")

    @pytest.fixture
    def space(self):
        return get_space("ofa-mbv3-w1.0")


def test_proxy_values_are_costs_in_millions() -> None:
    space = get_space("ofa-mbv3-w1.0")
    archs = space.sample(5, rng=3)
    macs, params = macs_params(archs)
    np.testing.assert_allclose(registry.create("hardware", "macs").latency(archs), macs / 1e6)
    np.testing.assert_allclose(registry.create("hardware", "params").latency(archs), params / 1e6)


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
