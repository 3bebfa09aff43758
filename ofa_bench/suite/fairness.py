"""Checks that keep a suite from favouring some of its contestants.

A surrogate oracle of one model family rewards a strategy that fits the same family internally:
that strategy learns a noiseless copy of its own model class. :func:`family_clashes` finds such
pairs; a suite refuses them unless ``oracle.allow_same_family`` is set (then the report warns).

A predictor's family is its class's ``family`` attribute (default: its registered name; the tree
ensembles ``gbdt`` and ``rf`` share ``trees``); an ensemble's families are its members'. A
strategy's are those of its ``predictor`` parameter (given or default) plus its class's
``model_families`` (TPE: ``parzen``). A benchmark's shipped surrogate is known by its label
(``ensemble(gbdt,mlp)``): :func:`label_families` reads the members' families from it.

:func:`strategy_profile` describes what each strategy spends on its random start and its
parameters, for the report.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ofa_bench.errors import OfaBenchError, PluginError
from ofa_bench.plugins import registry

__all__ = [
    "family_clashes",
    "label_clashes",
    "label_families",
    "predictor_families",
    "strategy_families",
    "strategy_profile",
]


def _defaults(cls: Any) -> dict[str, Any]:
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def predictor_families(name: Any, params: Mapping[str, Any] | None = None) -> set[str]:
    """Model families of a predictor given by registry name (or instance) and parameters."""
    if not isinstance(name, str):
        cls = type(name)
        params = {**getattr(name, "__dict__", {}), **(params or {})}
    else:
        try:
            cls = registry.get("predictor", name)
        except PluginError:
            return {name}
    settings = {**_defaults(cls), **(params or {})}
    members = settings.get("members") if getattr(cls, "name", None) == "ensemble" else None
    if members is not None:
        listed = members.split(",") if isinstance(members, str) else list(members)
        out: set[str] = set()
        for member in listed:
            out |= predictor_families(member.strip() if isinstance(member, str) else member)
        return out
    return {str(getattr(cls, "family", None) or getattr(cls, "name", None) or cls.__name__)}


def strategy_families(name: str, params: Mapping[str, Any] | None = None) -> set[str]:
    """Model families a strategy fits internally (empty for model-free strategies)."""
    try:
        cls = registry.get("strategy", name)
    except PluginError:
        return set()
    settings = {**_defaults(cls), **(params or {})}
    out = set(getattr(cls, "model_families", ()))
    predictor = settings.get("predictor")
    if predictor is not None:
        out |= predictor_families(predictor, settings.get("predictor_params") or {})
    return out


def family_clashes(
    oracle_predictor: str, oracle_params: Mapping[str, Any], strategies: Sequence[tuple[str, str, Mapping[str, Any]]]
) -> list[tuple[int, str, set[str]]]:
    """Strategies sharing a model family with the oracle: ``(index, label, shared families)``.

    Args:
        oracle_predictor: The oracle's predictor name.
        oracle_params: Its parameters.
        strategies: ``(label, name, params)`` per strategy entry.
    """
    return _clashes(predictor_families(oracle_predictor, oracle_params), strategies)


def label_families(label: str) -> set[str]:
    """Model families of a predictor given by a label such as ``gbdt`` or ``ensemble(gbdt,mlp)``.

    A label with members in parentheses stands for its members' families (the label of a shipped
    surrogate, :mod:`ofa_bench.benchmark.surrogate`), a spec (``gbdt:n_estimators=2000``) for its
    predictor's; a name the registry does not know is its own family.
    """
    match = re.fullmatch(r"\s*[\w.-]+\s*\((.*)\)\s*", label)
    if match is None:
        name, params = registry.parse_spec(label.strip()) if ":" in label else (label.strip(), {})
        return predictor_families(name, params)
    out: set[str] = set()
    for member in _split_top(match.group(1)):
        out |= label_families(member)
    return out


def _split_top(text: str) -> list[str]:
    """``text`` split at commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in (p.strip() for p in parts) if p]


def label_clashes(
    label: str, strategies: Sequence[tuple[str, str, Mapping[str, Any]]]
) -> list[tuple[int, str, set[str]]]:
    """Like :func:`family_clashes`, for an oracle known by its label (a shipped surrogate's ``predictor``)."""
    return _clashes(label_families(label), strategies)


def _clashes(
    oracle: set[str], strategies: Sequence[tuple[str, str, Mapping[str, Any]]]
) -> list[tuple[int, str, set[str]]]:
    """``(index, label, shared families)`` of every strategy sharing a family with ``oracle``."""
    out = []
    for i, (label, name, params) in enumerate(strategies):
        shared = oracle & strategy_families(name, params)
        if shared:
            out.append((i, label, shared))
    return out


def strategy_profile(name: str, params: Mapping[str, Any], budget: int) -> dict[str, Any]:
    """A strategy's random start (evaluations of uniform random archs before it models or selects) and parameters.

    The random start is what the strategy declares (:meth:`~ofa_bench.plugins.interfaces.Strategy.random_start`,
    given the run's budget); ``None`` when it declares none or cannot be created with ``params``.
    """
    try:
        cls = registry.get("strategy", name)
        strategy = registry.create("strategy", name, **dict(params))
    except (PluginError, OfaBenchError):
        return {"random_start": None, "params": dict(params)}
    start = strategy.random_start(budget)
    return {"random_start": None if start is None else min(int(start), budget), "params": {**_defaults(cls), **dict(params)}}
