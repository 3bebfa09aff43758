"""Errors meant for a person rather than a traceback."""

from __future__ import annotations

__all__ = ["OfaBenchError", "PluginError", "SpaceError"]


class OfaBenchError(Exception):
    """An error meant for a person; the CLI prints its message as one line and exits 2."""


class SpaceError(OfaBenchError, ValueError):
    """An arch that does not fit its search space, or an unknown space preset."""


class PluginError(OfaBenchError, LookupError):
    """An unknown plug-in name or kind, or a plug-in that fails to load."""
