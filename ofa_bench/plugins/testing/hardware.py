"""Conformance checks every hardware backend should pass."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pytest

from ofa_bench.plugins.interfaces import DESCRIBE_KEYS, HardwareBackend
from ofa_bench.plugins.testing.conformance import ConformanceTests

if TYPE_CHECKING:
    from ofa_bench.space import Arch, SearchSpace

__all__ = ["HardwareBackendTests"]


class HardwareBackendTests(ConformanceTests):
    """Checks for a :class:`HardwareBackend`; subclass as ``Test...`` and override ``backend``.

    Attributes:
        n_archs: How many archs the checks measure.
        rtol: Relative tolerance when comparing a batch with one-by-one measurements; measured
            backends, whose timings are noisy, loosen it.
    """

    n_archs: ClassVar[int] = 8
    rtol: ClassVar[float] = 1e-9

    @pytest.fixture
    def backend(self) -> HardwareBackend:
        """The backend under test; override this fixture."""
        self._must_override("backend")

    @pytest.fixture
    def archs(self, space: SearchSpace) -> list[Arch]:
        """A fixed sample of archs from ``space``."""
        return space.sample(self.n_archs, rng=np.random.default_rng(0))

    def test_is_hardware_backend(self, backend: HardwareBackend) -> None:
        """The backend subclasses :class:`HardwareBackend` and has a name."""
        assert isinstance(backend, HardwareBackend)
        assert isinstance(backend.name, str) and backend.name

    def test_parameters_are_stored_under_their_own_names(self, backend: HardwareBackend) -> None:
        """Every constructor parameter is an attribute of that name, as for every kind of plug-in."""
        self._check_parameters_stored(backend)

    def test_describe_has_required_keys(self, backend: HardwareBackend) -> None:
        """``describe()`` names the backend, device, version and units for provenance."""
        info = backend.describe()
        missing = [key for key in DESCRIBE_KEYS if key not in info]
        assert not missing, f"describe() lacks {missing}"
        assert info["name"] == backend.name

    def test_is_available_returns_bool(self, backend: HardwareBackend) -> None:
        """``is_available()`` answers with a plain bool."""
        assert isinstance(backend.is_available(), bool)

    def test_latency_shape_and_values(self, backend: HardwareBackend, archs: list[Arch]) -> None:
        """Latencies are finite, positive float64 values, one per arch."""
        latency = backend.latency(archs)
        assert isinstance(latency, np.ndarray)
        assert latency.shape == (len(archs),)
        assert latency.dtype == np.float64
        assert np.all(np.isfinite(latency)) and np.all(latency > 0)

    def test_empty_batch(self, backend: HardwareBackend) -> None:
        """An empty batch gives an empty array, not an error."""
        assert backend.latency([]).shape == (0,)

    def test_batch_equals_one_by_one(self, backend: HardwareBackend, archs: list[Arch]) -> None:
        """Measuring a batch gives what measuring each arch alone gives."""
        one_by_one = np.concatenate([backend.latency([arch]) for arch in archs])
        batch = backend.latency(archs)
        np.testing.assert_allclose(batch, one_by_one, rtol=self.rtol)
        # Noisy (measured) backends get a loose tolerance; the order of their results must still hold,
        # so a batch whose latencies are mixed up between archs fails (override ``archs`` with archs
        # far apart in cost, as the runners' tests do with the space's extremes).
        if self.rtol >= 1e-6:
            assert (np.argsort(batch, kind="stable") == np.argsort(one_by_one, kind="stable")).all()

    def test_array_batch_equals_list(self, backend: HardwareBackend, archs: list[Arch], space: SearchSpace) -> None:
        """A backend that declares ``accepts_arrays`` gives for ``latency(array, space=space)`` what the list gives."""
        if not backend.accepts_arrays:
            pytest.skip("backend takes lists of archs only (accepts_arrays is False)")
        from_array = backend.latency(space.to_array(archs), space=space)
        np.testing.assert_allclose(from_array, backend.latency(archs), rtol=self.rtol)

    def test_deterministic(self, backend: HardwareBackend, archs: list[Arch]) -> None:
        """A backend that declares ``deterministic`` gives equal results on repeated calls."""
        if not backend.describe().get("deterministic", False):
            pytest.skip("backend does not declare itself deterministic")
        np.testing.assert_array_equal(backend.latency(archs), backend.latency(archs))
