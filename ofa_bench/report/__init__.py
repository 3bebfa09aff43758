"""Reports: a suite's ``report.md`` and ``report.html`` with tables, Pareto fronts and hypervolume
curves (:func:`write_report`), and the predictor-evaluation tables and tau plot."""

from __future__ import annotations

from ofa_bench.report.suite_report import write_report

__all__ = ["write_report"]
