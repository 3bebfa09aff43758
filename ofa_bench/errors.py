"""Errors meant for a person rather than a traceback."""

from __future__ import annotations

__all__ = ["OfaBenchError", "PluginError", "SpaceError", "yaml_problem"]


class OfaBenchError(Exception):
    """An error meant for a person; the CLI prints its message as one line and exits 2."""


class SpaceError(OfaBenchError, ValueError):
    """An arch that does not fit its search space, or an unknown space preset."""


class PluginError(OfaBenchError, LookupError):
    """An unknown plug-in name or kind, or a plug-in that fails to load."""


def yaml_problem(exc: Exception, *, column: bool = False) -> str:
    """Say where and why YAML failed to parse, for the end of a one-line message.

    Args:
        exc: The error PyYAML raised.
        column: Also give the column of the problem.

    Returns:
        ``"not valid YAML at line 3 column 7: <problem>"`` (the position when PyYAML knows it).
    """
    mark = getattr(exc, "problem_mark", None)
    at = ""
    if mark is not None:
        at = f" at line {mark.line + 1}" + (f" column {mark.column + 1}" if column else "")
    problem = getattr(exc, "problem", None) or type(exc).__name__
    return f"not valid YAML{at}: {problem}"
