"""The out-of-tree example backend (examples/ofa-bench-example-backend) plugs in by entry point alone."""

from __future__ import annotations

import pytest

from ofa_bench.plugins import registry
from ofa_bench.plugins.testing import HardwareBackendTests

pytestmark = pytest.mark.skipif(
    "example-macs-ms" not in registry.names("hardware"),
    reason="examples/ofa-bench-example-backend is not installed (make install installs it)",
)


class TestExampleBackend(HardwareBackendTests):
    @pytest.fixture
    def backend(self):
        return registry.create_from_spec("hardware", "example-macs-ms:gmacs_per_s=20")


def test_declared_by_its_own_package() -> None:
    info = {i.name: i for i in registry.describe("hardware")}["example-macs-ms"]
    assert info.distribution == "ofa-bench-example-backend" and info.error is None
    assert info.value == "ofa_bench_example_backend:ThroughputLatency"
