"""The bounds every count, seed and float read from a file or a flag must keep.

A number a person (or a hostile file) writes can ask for more than any machine runs: a billion
seeds, a budget of 10^12 evaluations, a negative latency offset. These limits are far above what a
real study uses and low enough that reaching one fails in seconds rather than after hours of
swapping. Errors are one line naming the field and the allowed range.
"""

from __future__ import annotations

import math
from typing import Any

from ofa_bench.errors import OfaBenchError

__all__ = [
    "MAX_ARCHIVE_SIZE",
    "MAX_ARCHS",
    "MAX_BATCH",
    "MAX_BUDGET",
    "MAX_EPOCHS",
    "MAX_EPOCHS_SCALE",
    "MAX_JOBS",
    "MAX_REFERENCE_SAMPLE",
    "MAX_REPEATS",
    "MAX_RUNS",
    "MAX_SEED",
    "MAX_SEEDS",
    "check_count",
    "check_finite",
    "check_seed",
    "clip",
    "excerpt",
]

#: Seeds of one suite or evaluation (each is a whole run per strategy).
MAX_SEEDS = 1_000
#: Runs (strategies x seeds) of one suite.
MAX_RUNS = 10_000
#: A seed must fit numpy's and torch's generators, which take unsigned 32-bit values everywhere.
MAX_SEED = 2**32 - 1
#: Evaluations of one run.
MAX_BUDGET = 1_000_000
#: Archs measured for an accuracy archive (each one is a BN re-calibration and a validation pass).
MAX_ARCHIVE_SIZE = 100_000
#: Random archs of a suite's reference sample.
MAX_REFERENCE_SAMPLE = 1_000_000
#: Archs asked of a strategy at a time, or images per batch.
MAX_BATCH = 65_536
#: Parallel workers.
MAX_JOBS = 1_024
#: Archs sampled, costed or evaluated by one command.
MAX_ARCHS = 10_000_000
#: Timed repeats, warm-up calls or rounds of one latency measurement.
MAX_REPEATS = 1_000_000
#: Epochs of one training phase.
MAX_EPOCHS = 100_000
#: Factor on the default schedule's epochs.
MAX_EPOCHS_SCALE = 1_000.0


def excerpt(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, so an error never echoes a whole input.

    A huge or deeply nested value is not fully rendered first: containers are summarised by
    type and length before their repr is attempted.
    """
    if isinstance(value, (list, tuple, dict, set)) and len(value) > limit:
        return f"a {type(value).__name__} of {len(value)} items"
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # deep nesting; ints beyond str()'s digit limit
        return f"a {type(value).__name__}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def clip(text: str, limit: int = 160) -> str:
    """``text`` on one line, cut to ``limit`` characters (for messages that quote other errors)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_count(value: Any, field: str, low: int, high: int) -> int:
    """``value`` if it is an integer in ``[low, high]``; else a one-line error naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise OfaBenchError(f"{field}: must be an integer from {low} to {high:,}; got {excerpt(value)}")
    return value


def check_seed(value: Any, field: str) -> int:
    """``value`` if it is a usable seed (``0 .. 2**32 - 1``); else a one-line error naming ``field``."""
    return check_count(value, field, 0, MAX_SEED)


def check_finite(value: Any, field: str, *, low: float | None = None, high: float | None = None,
                 positive: bool = False) -> float:  # fmt: skip
    """``value`` as a float if it is a finite number within the bounds; else a one-line error.

    Args:
        value: The number to check.
        field: Its name in the message.
        low: Smallest allowed value (inclusive).
        high: Largest allowed value (inclusive).
        positive: Require ``value > 0``.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    number = float(value) if ok else math.nan
    ok = ok and math.isfinite(number) and not (positive and number <= 0)
    ok = ok and (low is None or number >= low) and (high is None or number <= high)
    if not ok:
        parts = ["> 0"] if positive else []
        parts += [f">= {low:g}"] if low is not None else []
        parts += [f"<= {high:g}"] if high is not None else []
        allowed = f"a finite number {' and '.join(parts)}" if parts else "a finite number"
        raise OfaBenchError(f"{field}: must be {allowed}; got {excerpt(value)}")
    return number
