"""Reusable conformance checks for plug-in authors.

Subclass a test-suite class in your own tests, override its fixture, and inherit every check::

    from ofa_bench.plugins.testing import HardwareBackendTests

    class TestMyBackend(HardwareBackendTests):
        @pytest.fixture
        def backend(self):
            return MyBackend()

These modules import pytest, which is needed only where they are used; each suite is imported on
first access, so using one never imports the others.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

__all__ = ["HardwareBackendTests", "PredictorTests", "StrategyTests"]

_MODULES = {
    "HardwareBackendTests": "ofa_bench.plugins.testing.hardware",
    "PredictorTests": "ofa_bench.plugins.testing.predictors",
    "StrategyTests": "ofa_bench.plugins.testing.strategies",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module 'ofa_bench.plugins.testing' has no attribute {name!r}")
    _rewrite_asserts()
    return getattr(importlib.import_module(_MODULES[name]), name)


def _rewrite_asserts() -> None:
    """Have pytest rewrite the kits' asserts, so a failed check shows the values it compared.

    pytest rewrites only test modules and what is registered before it is imported; a kit's
    failure would otherwise read as a bare ``AssertionError``. Outside pytest this does nothing.
    """
    import pytest

    pytest.register_assert_rewrite(*(m for m in (*_MODULES.values(), _CONFORMANCE) if m not in sys.modules))


_CONFORMANCE = "ofa_bench.plugins.testing.conformance"
