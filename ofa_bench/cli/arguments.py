"""Argument types of the ``ofa-bench`` command: each validates one option and names it in its error.

Public so that command modules (and plug-in packages adding commands of their own) share one
parsing of counts, seeds, search spaces and plug-in specs: ``name`` or ``name:key=value[:key=value]``
for every kind of plug-in (:func:`plugin_specs`), the syntax ``--backends`` has always taken.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ofa_bench.errors import OfaBenchError, SpaceError
from ofa_bench.io.untrusted.limits import MAX_SEED, check_finite, excerpt
from ofa_bench.plugins import registry
from ofa_bench.space import SearchSpace, get_space, preset_names

__all__ = ["backends", "int_at_least", "plugin_specs", "positive_float", "seed", "space", "space_help"]


def space(value: str) -> SearchSpace:
    """An argparse type for a search-space preset name."""
    try:
        return get_space(value)
    except SpaceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def space_help() -> str:
    """Help text of a ``--space`` option: the preset names."""
    return f"search-space preset: {', '.join(preset_names())}"


def int_at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type for an integer in ``[low, high]`` (``high`` from :mod:`ofa_bench.io.untrusted.limits`)."""

    def parse(value: str) -> int:
        try:
            number = int(value) if len(value) < 40 else None
        except ValueError:
            number = None
        if number is None or number < low or (high is not None and number > high):
            allowed = f">= {low}" if high is None else f">= {low} and <= {high:,}"
            raise argparse.ArgumentTypeError(f"must be an integer {allowed}; got {excerpt(value)}")
        return number

    parse.__name__ = f"integer >= {low}"
    return parse


def seed(value: str) -> int:
    """An argparse type for a seed: numpy and torch take ``0 .. 2**32 - 1`` everywhere."""
    return int_at_least(0, MAX_SEED)(value)


seed.__name__ = "seed"


def positive_float(high: float) -> Callable[[str], float]:
    """An argparse type for a finite float in ``(0, high]``."""

    def parse(value: str) -> float:
        try:
            return check_finite(float(value), "value", positive=True, high=high)
        except (ValueError, OfaBenchError):
            allowed = f"a finite number > 0 and <= {high:g}"
            raise argparse.ArgumentTypeError(f"must be {allowed}; got {excerpt(value)}") from None

    parse.__name__ = "number"
    return parse


def backends(value: str) -> tuple[str, ...]:
    """Hardware backend specs, comma-separated: ``name`` or ``name:key=value[:key=value]`` (``lut:table=t.yaml``)."""
    return plugin_specs("hardware")(value)


def plugin_specs(kind: str) -> Callable[[str], tuple[str, ...]]:
    """An argparse type for comma-separated plug-in specs of ``kind``: ``name[:key=value...]``.

    The same syntax as ``--backends`` (an item with ``=`` but no ``:`` continues the spec before
    it), for strategies, predictors and hardware alike; each name is checked against the registry
    and a bad spec names itself.
    """

    def parse(value: str) -> tuple[str, ...]:
        specs: list[str] = []
        for item in filter(None, (part.strip() for part in value.split(","))):
            if specs and "=" in item and ":" not in item:
                specs[-1] += f":{item}"
            else:
                specs.append(item)
        if not specs:
            raise argparse.ArgumentTypeError(f"no {registry.label(kind)} named")
        known = registry.names(kind)
        for spec in specs:
            try:
                name, _ = registry.parse_spec(spec)
            except OfaBenchError as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None
            if name not in known:
                raise argparse.ArgumentTypeError(
                    f"unknown {registry.label(kind)} {name!r}; known: {', '.join(known) or 'none'}"
                )
        return tuple(specs)

    parse.__name__ = f"{kind} specs"
    return parse
