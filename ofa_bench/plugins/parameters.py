"""What a plug-in's constructor takes, read from its signature (for messages and checks, not for calling).

A plug-in hands ``**kwargs`` to its base class now and then (``torch-cpu`` to the runner base); the
constructor's parameters are then those of the chain of ``__init__`` methods up to the first one
without ``**kwargs``. A chain that ``**kwargs`` leave open (a class that keeps them itself) has no
fixed list, and its constructor judges its parameters alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from ofa_bench.errors import PluginError

__all__ = ["bool_parameters", "check_bool_params", "parameter_names"]


def _parameters(cls: type) -> list[inspect.Parameter] | None:
    """The keyword parameters of ``cls(...)`` through its ``__init__`` chain; ``None`` when open-ended."""
    found: list[inspect.Parameter] = []
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is object:  # reached with no __init__ of its own in the chain: no parameters
            return found
        try:
            parameters = list(inspect.signature(init).parameters.values())[1:]  # without self
        except (TypeError, ValueError):
            return None
        for p in parameters:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in names:
                names.add(p.name)
                found.append(p)
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return found
        if all(k.__dict__.get("__init__") is None for k in klass.__mro__[1:-1]):
            return None  # **kwargs that only object's __init__ would get: kept by the class itself
    return found


def parameter_names(cls: type) -> list[str] | None:
    """The keyword parameters ``cls(...)`` accepts, in order; ``None`` when the list is open-ended."""
    parameters = _parameters(cls)
    return None if parameters is None else [p.name for p in parameters]


def bool_parameters(cls: type) -> set[str]:
    """Constructor parameters of ``cls`` that take a bool: annotated ``bool`` or defaulting to ``True``/``False``."""
    return {p.name for p in _parameters(cls) or () if p.annotation in (bool, "bool") or isinstance(p.default, bool)}


def check_bool_params(cls: type, params: Mapping[str, Any], where: str) -> None:
    """Refuse a value other than a bool for a bool parameter of ``cls`` (``dedupe=maybe`` would count as true).

    Args:
        cls: The plug-in class the parameters are for.
        params: Its parameters, typed as :func:`~ofa_bench.plugins.spec.parse_spec` types them.
        where: What the parameters belong to, for the message (``"search strategy 'random'"``).

    Raises:
        PluginError: Naming the parameter and the value given.
    """
    for key in sorted(bool_parameters(cls) & set(params)):
        value = params[key]
        if value is not None and not isinstance(value, bool):
            raise PluginError(f"{where}: parameter {key} must be true or false; got {value!r}")
