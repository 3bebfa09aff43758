"""Where two JSON values first differ: one comparison for every "is this the same suite / baseline" check."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Difference", "first_difference"]

#: Floats this close are the same number (JSON round trips and summation order move the last bits).
REL_TOL = 1e-9
ABS_TOL = 1e-12


@dataclass(frozen=True)
class Difference:
    """The first field where two JSON values differ: its path (``a.b[2].c``) and both values there."""

    path: str
    old: Any
    new: Any


def first_difference(old: Any, new: Any, where: str = "") -> Difference | None:
    """The first field, depth first in key order, where ``old`` and ``new`` differ; ``None`` when equal.

    Mappings are compared key by key (a key on one side only differs from ``None``), lists of equal
    length item by item (lists of other lengths differ as a whole), integers exactly, floats within
    a relative ``1e-9`` (absolute ``1e-12``), everything else with ``==``; booleans are not numbers.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        for key in dict.fromkeys([*old, *new]):
            found = first_difference(old.get(key), new.get(key), f"{where}.{key}" if where else str(key))
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            found = first_difference(a, b, f"{where}[{i}]")
            if found:
                return found
        return None
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (old, new))
    if numbers and (isinstance(old, float) or isinstance(new, float)):
        same = math.isclose(float(old), float(new), rel_tol=REL_TOL, abs_tol=ABS_TOL)
    else:
        same = old == new and type(old) is type(new) if numbers else old == new
    return None if same else Difference(where, old, new)
