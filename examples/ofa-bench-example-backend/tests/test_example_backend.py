"""The example backend passes ofa-bench's conformance kit, found through its entry point."""

from __future__ import annotations

import numpy as np
import pytest

from ofa_bench.plugins import registry
from ofa_bench.plugins.testing import HardwareBackendTests
from ofa_bench.space import get_space


class TestExampleBackend(HardwareBackendTests):
    """Every check of the kit, run on the backend as ofa-bench creates it: by name."""

    @pytest.fixture
    def backend(self):
        return registry.create("hardware", "example-macs-ms")


def test_registered_under_its_package() -> None:
    infos = {info.name: info for info in registry.describe("hardware")}
    assert infos["example-macs-ms"].distribution == "ofa-bench-example-backend"
    assert infos["example-macs-ms"].error is None


def test_bigger_networks_are_slower() -> None:
    space = get_space("ofa-mini")
    fast = registry.create("hardware", "example-macs-ms", gmacs_per_s=100.0)
    slow = registry.create("hardware", "example-macs-ms", gmacs_per_s=1.0)
    archs = [space.smallest(), space.largest()]
    assert np.all(slow.latency(archs) > fast.latency(archs))
    assert fast.latency(archs)[0] < fast.latency(archs)[1]
