"""Checks in a suite file: what a CI gate expects of a suite's results, and whether they hold.

A suite's ``checks:`` list states expectations on any metric of ``summary.csv`` (``hv``,
``hv_test``, ``igd``, ``evals_to_target``, ``best:<column><=<level>``), each in the metric's own
direction (higher hypervolume, lower IGD...):

- ``{strategy, beats, metric}``: the strategy is ``better`` than ``beats`` on the metric, by the
  harness's own test: the exact one-sided rank test, Holm-corrected across the strategies tested
  against ``beats``, ``p_adjusted < alpha``, and the median gain beyond the metric's resolution;
- ``{strategy, metric, min}`` / ``{..., max}``: the median over finished seeds is at least / at most
  the number;
- ``{strategy, metric, baseline_tolerance}``: the median is no worse than the baseline run's median
  by more than that share of it (an earlier run of the same suite, ``--baseline DIR``).

:func:`evaluate_checks` reads a run directory (and a baseline directory) through the bounded
readers of :mod:`ofa_bench.io.untrusted`, checking every field it uses (:mod:`ofa_bench.suite.baseline`),
and returns a :class:`GateResult`; every run that did not finish fails the gate too. Bad input (a baseline of another suite, too few seeds for a rank test,
a metric the results lack) is an :class:`~ofa_bench.errors.OfaBenchError` of one line.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field, ValidationError, field_validator, model_validator

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted import excerpt
from ofa_bench.metrics.statistics import smallest_p, summarise
from ofa_bench.suite.baseline import check_metric_name, read_run_dir, same_suite
from ofa_bench.suite.sections import Section

__all__ = [
    "BASELINE_FILES",
    "Check",
    "CheckOutcome",
    "GateResult",
    "RunOutcome",
    "check_metric_name",
    "evaluate_checks",
    "fewest_seeds",
    "save_baseline",
]

#: What ``ofa-bench baseline save`` copies: the small part of a run a repository commits.
BASELINE_FILES = ("suite.json", "results.json", "summary.csv")

_KINDS = ("beats", "min", "max", "baseline_tolerance")
# Run statuses that count as finished (the harness's, see ofa_bench.suite.results).
_FINISHED = ("done", "wall_seconds")


class Check(Section):
    """One expectation on a strategy's results; exactly one of ``beats``, ``min``, ``max``, ``baseline_tolerance``.

    Attributes:
        strategy: The label of the strategy checked.
        metric: A metric column of ``summary.csv``.
        beats: A strategy label the strategy must be ``better`` than (corrected one-sided test).
        min: The median must be at least this.
        max: The median must be at most this.
        baseline_tolerance: The median may be worse than the baseline's median by at most this
            share of it (0.05: 5%).
    """

    strategy: str
    metric: str
    beats: str | None = None
    min: float | None = None
    max: float | None = None
    baseline_tolerance: float | None = Field(None, ge=0, le=1)

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        return check_metric_name(value)

    @model_validator(mode="after")
    def _one_kind(self) -> Check:
        given = [kind for kind in _KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            got = ", ".join(given) or "none"
            raise ValueError(f"give exactly one of {', '.join(_KINDS)}; got {got}")
        return self

    @property
    def kind(self) -> str:
        """Which expectation this is: ``beats``, ``min``, ``max`` or ``baseline_tolerance``."""
        return next(kind for kind in _KINDS if getattr(self, kind) is not None)

    def describe(self) -> str:
        """The check in words, e.g. ``nsga2 hv beats random``."""
        value = getattr(self, self.kind)
        shown = value if self.kind == "beats" else f"{value:g}"
        return f"{self.strategy} {self.metric} {self.kind} {shown}"


def fewest_seeds(alpha: float) -> int:
    """The fewest seeds a side with which the exact rank test can give a p-value below ``alpha``."""
    n = 1
    while not smallest_p(n, n) < alpha:
        n += 1
    return n


@dataclass
class CheckOutcome:
    """Whether one check held.

    Attributes:
        name: ``checks[i] <the check in words>``.
        strategy: The strategy checked.
        metric: The metric.
        kind: ``beats``, ``min``, ``max`` or ``baseline_tolerance``.
        passed: Whether the check held.
        observed: The observed median.
        expected: What was expected, in words.
        p_adjusted: The Holm-adjusted p-value (``beats`` only).
        detail: Medians and interquartile ranges behind the verdict.
    """

    name: str
    strategy: str
    metric: str
    kind: str
    passed: bool
    observed: float | None
    expected: str
    p_adjusted: float | None = None
    detail: str = ""

    def line(self) -> str:
        """One line for a person: ``FAIL checks[0] ...: observed ..., expected ...``."""
        p = f", p_adjusted {_num(self.p_adjusted)}" if self.kind == "beats" else ""
        return (
            f"{'PASS' if self.passed else 'FAIL'} {self.name}: strategy {self.strategy}, metric {self.metric}, "
            f"observed median {_num(self.observed)}{p}, expected {self.expected} ({self.detail})"
        )


@dataclass
class RunOutcome:
    """Whether one run finished (an unfinished run fails the gate)."""

    key: str
    status: str
    evaluations: int
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether the run finished its budget (or its wall-clock limit)."""
        return self.status in _FINISHED


@dataclass
class GateResult:
    """The checks and runs of one run directory."""

    suite: str
    run_dir: str
    baseline: str | None
    alpha: float
    checks: list[CheckOutcome] = field(default_factory=list)
    runs: list[RunOutcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every check held and every run finished."""
        return all(c.passed for c in self.checks) and all(r.passed for r in self.runs)

    def failure_lines(self) -> list[str]:
        """One line per failed check and per unfinished run."""
        lines = [c.line() for c in self.checks if not c.passed]
        lines += [f"ERROR run {r.key}: {r.status} after {r.evaluations} evaluations" for r in self.runs if not r.passed]
        return lines

    def to_dict(self) -> dict[str, Any]:
        """The result as one JSON-ready object."""
        return {
            "suite": self.suite, "run_dir": self.run_dir, "baseline": self.baseline, "alpha": self.alpha,
            "passed": self.passed, "checks": [asdict(c) for c in self.checks],
            "runs": [{**asdict(r), "passed": r.passed} for r in self.runs],
        }  # fmt: skip


def _num(value: float | None) -> str:
    return "none" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def _clean(value: Any) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


# ----- evaluating -------------------------------------------------------------------------------


def evaluate_checks(
    run_dir: str | Path,
    baseline_dir: str | Path | None = None,
    checks: list[Check] | None = None,
    alpha: float | None = None,
) -> GateResult:
    """Evaluate a suite's checks on a run directory (and a baseline directory).

    Args:
        run_dir: Output directory of ``ofa-bench run``.
        baseline_dir: An earlier run directory of the same suite (or ``ofa-bench baseline save``'s copy).
        checks: The checks (default: those of the run's ``suite.json``).
        alpha: The significance level of ``beats`` (default: the suite's).

    Returns:
        The outcome of every check and every run.

    Raises:
        OfaBenchError: Bad input: a baseline of another suite, a metric or strategy the results
            lack, a ``beats`` check with too few finished seeds, ``baseline_tolerance`` without a baseline.
    """
    state, results = read_run_dir(run_dir, "run directory")
    suite = state["suite"]
    if checks is None:
        checks = []
        for i, entry in enumerate(suite.get("checks") or []):
            try:
                checks.append(Check.model_validate(entry))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = "".join(f".{part}" for part in first["loc"])
                message = str(first["msg"]).removeprefix("Value error, ")
                raise OfaBenchError(f"{run_dir}/suite.json: checks[{i}]{where}: {message}") from None
    alpha = alpha if alpha is not None else suite.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise OfaBenchError(f"{run_dir}/suite.json: alpha: must be a number with 0 < alpha < 1; got {excerpt(alpha)}")
    alpha = float(alpha)
    base: tuple[dict[str, Any], dict[str, Any]] | None = None
    if baseline_dir is not None:
        base = read_run_dir(baseline_dir, "baseline")
        same_suite(state, base[0], str(baseline_dir))
    runs = pd.DataFrame(results["runs"])
    summary = pd.DataFrame(results["summary"])
    gate = GateResult(str(suite.get("name")), str(run_dir), None if baseline_dir is None else str(baseline_dir), alpha)
    for i, check in enumerate(checks):
        name = f"checks[{i}] {check.describe()}"
        direction = _direction(summary, check, name)
        if check.kind == "beats":
            gate.checks.append(_beats(check, name, runs, state, direction, alpha))
        elif check.kind in ("min", "max"):
            gate.checks.append(_bound(check, name, summary, direction))
        else:
            if base is None:
                raise OfaBenchError(f"{name}: baseline_tolerance needs a baseline; pass --baseline DIR")
            gate.checks.append(_tolerance(check, name, summary, pd.DataFrame(base[1]["summary"]), direction))
    for row in runs.to_dict("records"):
        seconds = _clean(row.get("wall_s")) or 0.0
        gate.runs.append(RunOutcome(f"{row['strategy']}-s{row['seed']}", str(row.get("status")),
                                    int(row.get("evaluations") or 0), seconds))  # fmt: skip
    return gate


def _row(summary: pd.DataFrame, strategy: str, metric: str, name: str, where: str = "the run's") -> dict[str, Any]:
    rows = summary[(summary["strategy"] == strategy) & (summary["metric"] == metric)] if len(summary) else summary
    if len(rows) == 0:
        strategies = ", ".join(dict.fromkeys(summary["strategy"])) if len(summary) else "none"
        metrics = ", ".join(dict.fromkeys(summary["metric"])) if len(summary) else "none"
        raise OfaBenchError(
            f"{name}: {where} summary has no {metric!r} for {strategy!r}; strategies: {strategies}; metrics: {metrics}"
        )
    return rows.iloc[0].to_dict()


def _direction(summary: pd.DataFrame, check: Check, name: str) -> str:
    # The harness fixed each metric's direction when it summarised; a check never guesses it.
    return str(_row(summary, check.strategy, check.metric, name)["direction"])


def _iqr(row: dict[str, Any]) -> str:
    q1, q3 = _num(_clean(row.get("q1"))), _num(_clean(row.get("q3")))
    return f"median {_num(_clean(row.get('median')))}, IQR [{q1}, {q3}]"


def _bound(check: Check, name: str, summary: pd.DataFrame, direction: str) -> CheckOutcome:
    row = _row(summary, check.strategy, check.metric, name)
    median = _clean(row["median"])
    limit = float(check.min if check.kind == "min" else check.max)  # type: ignore[arg-type]
    passed = median is not None and (median >= limit if check.kind == "min" else median <= limit)
    expected = f"median {'>=' if check.kind == 'min' else '<='} {limit:g}"
    detail = f"IQR [{_num(_clean(row.get('q1')))}, {_num(_clean(row.get('q3')))}] over {row.get('runs')} finished runs"
    return CheckOutcome(name, check.strategy, check.metric, check.kind, passed, median, expected, detail=detail)


def _tolerance(
    check: Check, name: str, summary: pd.DataFrame, base_summary: pd.DataFrame, direction: str
) -> CheckOutcome:
    row = _row(summary, check.strategy, check.metric, name)
    base_row = _row(base_summary, check.strategy, check.metric, name, "the baseline's")
    median, base = _clean(row["median"]), _clean(base_row["median"])
    share = float(check.baseline_tolerance)  # type: ignore[arg-type]
    if base is None:
        raise OfaBenchError(f"{name}: the baseline's median of {check.metric} for {check.strategy} is not a number")
    slack = share * abs(base)
    limit = base - slack if direction == "max" else base + slack
    passed = median is not None and (median >= limit if direction == "max" else median <= limit)
    sign, step = (">=", "-") if direction == "max" else ("<=", "+")
    expected = f"median {sign} {limit:.4g} (baseline median {base:.4g} {step} {share * 100:g}%)"
    detail = f"run {_iqr(row)}; baseline {_iqr(base_row)}"
    return CheckOutcome(name, check.strategy, check.metric, check.kind, passed, median, expected, detail=detail)


def _beats(
    check: Check, name: str, runs: pd.DataFrame, state: dict[str, Any], direction: str, alpha: float
) -> CheckOutcome:
    from ofa_bench.suite.results import metric_resolution

    other = str(check.beats)
    finished = runs[runs["status"].isin(_FINISHED)].copy() if "status" in runs else runs.copy()
    finished[check.metric] = pd.to_numeric(finished.get(check.metric), errors="coerce")
    labels = list(dict.fromkeys(runs["strategy"]))
    for label in (check.strategy, other):
        if label not in labels:
            raise OfaBenchError(f"{name}: no runs of {label!r}; strategies: {', '.join(labels)}")
    fewest = fewest_seeds(alpha)
    counts = {label: int((finished["strategy"] == label).sum()) for label in (check.strategy, other)}
    for label, n in counts.items():
        if n < fewest:
            raise OfaBenchError(
                f"{name}: {label} has {n} finished seeds; a beats check needs at least {fewest} a side, because with "
                f"fewer the exact one-sided rank test's smallest p-value is {smallest_p(n, n):.3g}, never below alpha {alpha:g}"
            )
    directions = {check.metric: direction}
    table = summarise(finished, directions, other, resolution=metric_resolution(state, directions), alpha=alpha)
    row = table[table["strategy"] == check.strategy].iloc[0].to_dict()
    base = table[table["strategy"] == other].iloc[0].to_dict()
    p = _clean(row["p_adjusted"])
    passed = bool(row["better"])
    expected = f"better than {other} (Holm-adjusted p < {alpha:g}, median gain beyond the resolution)"
    effect = _clean(row["effect_size"])
    detail = f"{check.strategy} {_iqr(row)}; {other} {_iqr(base)}; A12 {_num(effect)}"
    return CheckOutcome(name, check.strategy, check.metric, "beats", passed, _clean(row["median"]), expected, p, detail)


def save_baseline(run_dir: str | Path, dest: str | Path) -> list[Path]:
    """Copy the small part of a run directory a repository commits (:data:`BASELINE_FILES`, not the logs).

    Returns:
        The files written.
    """
    from ofa_bench.io.atomic import write_text_atomic
    from ofa_bench.io.untrusted import MAX_JSON_BYTES, read_untrusted_text

    read_run_dir(run_dir, "run directory")  # refuses anything but a suite run
    source, target = Path(run_dir), Path(dest)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in BASELINE_FILES:
        if (source / name).is_file():
            text = read_untrusted_text(source / name, f"run directory {str(source / name)!r}", MAX_JSON_BYTES)
            written.append(write_text_atomic(target / name, text))
    return written
