"""Plug-in specs: one string naming a plug-in and its constructor parameters.

One grammar is read wherever a spec is accepted (``--runner`` and ``--backends`` on the command
line, ``backends`` entries of a suite file, :func:`ofa_bench.plugins.registry.create_from_spec`), so a spec
means the same everywhere::

    spec  := name [ ":" param { ("," | ":") param } ]
    param := key "=" value

- ``name`` is everything before the first ``:`` and holds no ``=``.
- ``key`` is a Python identifier; each key may appear once.
- ``,`` always separates parameters. ``:`` separates them only where a key could follow it (a
  word followed by ``=``, ``,``, ``:`` or the end), so values keep colons that cannot start a
  parameter: ``lut:table=C:/luts/t.yaml,threads=2`` or ``x:url=http://host:8080/a``. A value
  cannot hold ``,``; give such a value as a mapping in a suite file or as a keyword parameter.
- ``value`` is stripped of surrounding spaces and read as ``true``/``false`` (any case) -> bool,
  ``none`` -> None, a decimal integer -> int, a decimal number with a point or an exponent
  (``0.5``, ``1e3``) -> float, anything else -> text. Unlike YAML, ``1e3`` is the float 1000.0 and
  ``yes``/``on`` stay text.
"""

from __future__ import annotations

import re
from typing import Any

from ofa_bench.errors import PluginError

__all__ = ["parse_spec"]

# A ':' followed by a word and then '=', ',', ':' or the end starts a parameter; any other ':' is
# part of a value (a drive letter, a port, a URL scheme).
_SEPARATOR = re.compile(r",|:(?=\s*[A-Za-z_]\w*\s*(?:[=,:]|$))")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_EXPECTED = "expected name[:key=value,...]"


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split a plug-in spec ``"name:key=value[,key=value...]"`` into its name and parameters.

    See the module docstring for the grammar. ``"lut:table=out/lut.yaml"`` gives
    ``("lut", {"table": "out/lut.yaml"})``; ``"torch-cpu:threads=2:statistic=min"`` and
    ``"torch-cpu:threads=2,statistic=min"`` both give
    ``("torch-cpu", {"threads": 2, "statistic": "min"})``.

    Args:
        spec: The spec text.

    Returns:
        The plug-in name and its parameters, values typed.

    Raises:
        PluginError: One line naming the spec: it is not text, its name is empty or holds ``=``,
            a parameter is not ``key=value`` with an identifier key, or a key appears twice.
    """
    if not isinstance(spec, str):
        raise PluginError(f"plug-in spec {spec!r} is not text; {_EXPECTED}")
    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name:
        raise PluginError(f"plug-in spec {spec!r} has no name; {_EXPECTED}")
    if "=" in name:
        raise PluginError(f"plug-in spec {spec!r} starts with a parameter, not a name; {_EXPECTED}")
    params: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in _SEPARATOR.split(rest))):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise PluginError(f"plug-in spec {spec!r}: {part!r} is not key=value; {_EXPECTED}")
        if key in params:
            raise PluginError(f"plug-in spec {spec!r} gives {key!r} twice")
        params[key] = _value(value.strip())
    return name, params


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text
