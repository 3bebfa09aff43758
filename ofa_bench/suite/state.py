"""The suite an output folder holds (``OUT/suite.json``): read it, and refuse to resume another suite into it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.json_diff import first_difference
from ofa_bench.io.untrusted import read_json
from ofa_bench.suite.config import Suite

__all__ = ["GATE_FIELDS", "STATE_FORMAT", "SUITE_FILE", "check_same_suite", "check_same_surrogate", "read_state", "suite_json", "without_gate"]

SUITE_FILE = "suite.json"
STATE_FORMAT = "ofa-bench-suite-run"


def suite_json(suite: Suite) -> dict[str, Any]:
    # The engine may change between a run and its resumption; nothing else may.
    return json.loads(suite.model_dump_json(exclude={"engine"}))


#: Suite fields that judge results (ofa_bench.suite.checks) and may change between a run and its resumption.
GATE_FIELDS = ("checks", "alpha")


def without_gate(suite: Any) -> Any:
    return {k: v for k, v in suite.items() if k not in GATE_FIELDS} if isinstance(suite, dict) else suite


def read_state(out: Path) -> dict[str, Any] | None:
    path = out / SUITE_FILE
    if not path.exists():
        from ofa_bench.search.runlog import META_FILE

        if (out / META_FILE).is_file():  # a single search's run directory: its files would mix with a suite's
            raise OfaBenchError(
                f"{str(out)!r} holds a search run ({META_FILE}), not a suite run; use another output directory"
            )
        return None
    try:
        state = read_json(path, repr(str(path)))
    except OfaBenchError as exc:
        raise OfaBenchError(f"{exc}; use another output directory") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise OfaBenchError(f"{str(path)!r} is not an ofa-bench suite run; use another output directory")
    return state


def check_same_suite(old: Any, new: Any, out: Path) -> None:
    found = first_difference(old, new)
    if found is not None:
        raise OfaBenchError(
            f"{str(out)!r} holds a run of another suite ({found.path}: {found.old!r} there, {found.new!r} now); "
            "use another --out, or the same suite to resume"
        )


def check_same_surrogate(suite: Suite, bench: Benchmark, stored: dict[str, Any] | None, out: Path) -> None:
    """Refuse to resume runs answered by a shipped surrogate that has changed since (any of its files)."""
    if stored is None or suite.oracle.mode != "shipped":
        return
    from ofa_bench.benchmark.surrogate import surrogate_fingerprint

    before, now = (stored.get("oracle") or {}).get("label"), f"shipped:{surrogate_fingerprint(bench.directory)}"
    if before != now:
        raise OfaBenchError(
            f"{str(out)!r} holds runs answered by oracle {before}, but the benchmark's shipped surrogate is now "
            f"{now}; use another output directory"
        )
