"""Reusable conformance checks for plug-in authors.

Subclass a test-suite class in your own tests, override its fixture, and inherit every check::

    from ofa_bench.testing import HardwareBackendTests

    class TestMyBackend(HardwareBackendTests):
        @pytest.fixture
        def backend(self):
            return MyBackend()

These modules import pytest, which is needed only where they are used.
"""

from __future__ import annotations

from ofa_bench.testing.hardware import HardwareBackendTests

__all__ = ["HardwareBackendTests"]
