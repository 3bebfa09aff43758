"""Benchmark harness: objectives, the search loop and its run log, suites, metrics and reports.

A *suite* (:func:`load_suite`) compares strategies on one benchmark under equal budgets;
:func:`run_suite` runs every (strategy, seed) pair through a parallel engine, resumably, and
:func:`write_report` turns the output directory into ``report.md`` and ``report.html``. One run
on its own is :func:`run_search`; its log is read back with :func:`read_log`.

Names are imported on first use, so ``import ofa_bench.harness`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ofa_bench.harness.loop import EvaluateFn, evaluator_fn, run_search
    from ofa_bench.harness.report import write_report
    from ofa_bench.harness.results import SuiteResults, collect_results, write_results
    from ofa_bench.harness.runlog import RunLog, read_log
    from ofa_bench.harness.runner import run_suite
    from ofa_bench.harness.suite import Suite, load_suite
    from ofa_bench.objectives import parse_constraint, parse_objectives

__all__ = [
    "EvaluateFn",
    "RunLog",
    "Suite",
    "SuiteResults",
    "collect_results",
    "evaluator_fn",
    "load_suite",
    "parse_constraint",
    "parse_objectives",
    "read_log",
    "run_search",
    "run_suite",
    "write_report",
    "write_results",
]

_WHERE = {
    "EvaluateFn": "loop",
    "evaluator_fn": "loop",
    "run_search": "loop",
    "parse_constraint": "objectives",
    "parse_objectives": "objectives",
    "write_report": "report",
    "SuiteResults": "results",
    "collect_results": "results",
    "write_results": "results",
    "RunLog": "runlog",
    "read_log": "runlog",
    "run_suite": "runner",
    "Suite": "suite",
    "load_suite": "suite",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
