"""The skeleton the conformance kits share: the plug-in fixture to override and the space to use."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, NoReturn

import pytest

if TYPE_CHECKING:
    from ofa_bench.space import SearchSpace

__all__ = ["ConformanceTests"]


class ConformanceTests:
    """Base of the kits in :mod:`ofa_bench.plugins.testing`; not collected itself (no ``Test`` prefix).

    Attributes:
        space_name: The search-space preset the checks draw archs from; the small bundled one by
            default, so a kit runs in seconds.
    """

    space_name: ClassVar[str] = "ofa-mini"

    @pytest.fixture
    def space(self) -> SearchSpace:
        """The space archs are drawn from: the preset :attr:`space_name`."""
        from ofa_bench.space import get_space

        return get_space(self.space_name)

    def _check_parameters_stored(self, plugin: object) -> None:
        """Each constructor parameter is an attribute of the same name: run.json records them so.

        ``_<name>`` counts too: a parameter that must stay out of records (a secret token) is kept so.
        """
        from ofa_bench.plugins.parameters import parameter_names

        names = parameter_names(type(plugin)) or []
        missing = [name for name in names if not (hasattr(plugin, name) or hasattr(plugin, f"_{name}"))]
        assert not missing, (
            f"{type(plugin).__name__} takes {', '.join(missing)} but stores no attribute of that name; "
            "store each parameter under its own name (self.<name> = <name>), as the registry, run.json and "
            "get_params read them back (self._<name> for a secret that records must not hold)"
        )

    def _must_override(self, fixture: str) -> NoReturn:
        """What the plug-in fixture of a kit does when a subclass forgot to override it."""
        raise NotImplementedError(f"{type(self).__name__} must override the {fixture!r} fixture")
