"""Values ofa-bench wrote and reads back: measurement-cache rows, run-log records, results, names.

State read back is untrusted too: a cache, a run log or a baseline is a file like any other, and
may be damaged, edited or handed over. Each value it holds has a known type and range (accuracy
is a fraction; losses, costs, latencies and times are not negative; everything is finite), and a
value outside it is refused with one line naming the file, the row and the field, never used as
a number. Names that end up in file names and report lines are printable and bounded.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted.limits import excerpt

__all__ = ["MAX_NAME", "check_value", "name_problem", "shown", "value_range"]

#: Longest suite name or strategy label (they name folders and head report lines).
MAX_NAME = 100

#: Columns that hold a fraction (top-1 accuracy and its parts).
_FRACTIONS = frozenset({"accuracy", "test_accuracy", "valid_half_a", "valid_half_b"})
#: Columns that are never negative: losses, costs and seconds.
_NON_NEGATIVE = frozenset(
    {"loss", "test_loss", "macs", "params", "wall_time", "seconds", "eval_s", "strategy_s", "elapsed_s", "cpu_s"}
)


def shown(name: Any) -> str:
    """A column, metric or key name for a message: as it is when plain, else quoted and cut short."""
    return name if isinstance(name, str) and re.fullmatch(r"[\w.:<=+-]{1,64}", name) else excerpt(name)


def value_range(column: str) -> tuple[float | None, float | None]:
    """The range ``(low, high)`` (``None``: open) of a record column: accuracy in [0, 1], costs and times >= 0."""
    if column in _FRACTIONS:
        return 0.0, 1.0
    if column in _NON_NEGATIVE or column.startswith("latency:"):
        return 0.0, None
    return None, None


def _allowed(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"a finite number from {low:g} to {high:g}"
    if low is not None:
        return f"a finite number >= {low:g}"
    if high is not None:
        return f"a finite number <= {high:g}"
    return "a finite number"


def check_value(
    value: Any,
    field: str,
    column: str | None = None,
    *,
    low: float | None = None,
    high: float | None = None,
    missing: str | None = None,
    nan_is_missing: bool = False,
) -> float | None:
    """``value`` as a float when it is a finite number in its column's range; else a one-line error.

    Args:
        value: The value read back.
        field: Where it is, for the message (``"run log 'x/log.jsonl' line 3: record.accuracy"``).
        column: Its column, whose range (:func:`value_range`) applies; ``low``/``high`` override it.
        low: Smallest allowed value (inclusive).
        high: Largest allowed value (inclusive).
        missing: What ``None`` means where it is allowed (``"null for a failed measurement"``);
            ``None`` refuses a missing value.
        nan_is_missing: Read NaN as a missing value (the formats that store "none" as NaN).

    Returns:
        The number, or ``None`` for an allowed missing value.
    """
    if column is not None:
        default_low, default_high = value_range(column)
        low = default_low if low is None else low
        high = default_high if high is None else high
    number = None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            number = float(value)
        except (OverflowError, ValueError):  # an integer beyond a float's range
            number = math.inf
    if (value is None or (nan_is_missing and number is not None and math.isnan(number))) and missing is not None:
        return None
    if (
        number is not None
        and math.isfinite(number)
        and (low is None or number >= low)
        and (high is None or number <= high)
    ):
        return number
    allowed = _allowed(low, high) + (f", or {missing}" if missing else "")
    raise OfaBenchError(f"{field}: must be {allowed}; got {excerpt(value)}")


def name_problem(value: Any, limit: int = MAX_NAME) -> str | None:
    """What is wrong with a name (a suite name, a strategy label), or ``None``: printable, 1 to ``limit`` characters."""
    if not isinstance(value, str):
        return f"must be text; got {excerpt(value)}"
    if not value:
        return "must not be empty"
    if len(value) > limit:
        return f"must be at most {limit} characters; got {len(value):,} ({excerpt(value, 24)})"
    if not value.isprintable():
        return f"must be printable text (no NUL, tab, newline or other control character); got {excerpt(value)}"
    return None
