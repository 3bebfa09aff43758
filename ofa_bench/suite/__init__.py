"""Suites: strategies compared on one benchmark under equal budgets, seeds and a fixed normalisation.

A suite file (:func:`load_suite`, validated) names the benchmark, the oracle, objectives, budget,
strategies and seeds; :func:`run_suite` runs every (strategy, seed) pair through a parallel engine,
resumably, and :func:`collect_results` reads the output folder back as tables
(:class:`SuiteResults`, with pandas DataFrames). Reports are :mod:`ofa_bench.report`'s; one search
on its own is :mod:`ofa_bench.search`'s.

Names are imported on first use, so ``import ofa_bench.suite`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ofa_bench.suite.config import Suite, load_suite
    from ofa_bench.suite.results import SuiteResults, collect_results, write_results
    from ofa_bench.suite.runner import run_suite

__all__ = ["Suite", "SuiteResults", "collect_results", "load_suite", "run_suite", "write_results"]

_WHERE = {
    "Suite": "config",
    "load_suite": "config",
    "SuiteResults": "results",
    "collect_results": "results",
    "write_results": "results",
    "run_suite": "runner",
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
