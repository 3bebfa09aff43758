"""The files of a suite run a gate reads back (``suite.json``, ``results.json``), checked; a baseline held to a suite.

``ofa-bench check RUN`` and ``--baseline DIR`` read these files from folders that travel: a baseline
is committed to a repository, a run folder is handed over. Everything the gate reads is checked
before it is used, so a damaged or edited file is bad input (one line naming the file and the
field, exit status 2), never an internal error or a number that passes every check:

- ``suite.json``: ``suite`` an object with a ``name`` and a ``budget`` of at least one evaluation,
  ``fingerprint`` text, ``normalisation`` with objectives (column, ``max``/``min``), finite bounds
  ``low < high`` for each and a finite reference point > 0, finite resolutions >= 0;
- ``results.json``: ``runs`` and ``summary`` lists of objects; each metric in its range (:func:`metric_range`:
  hypervolumes from 0 to the reference box's volume, IGD >= 0, evaluations to target from 1 to the
  budget, a best-under-limit accuracy in [0, 1]) or ``null``; p-values and A12 in [0, 1]; each
  summary row's ``direction`` the one the harness gives its metric; one row per strategy and metric.

:func:`check_baseline` holds a baseline against the suite about to run (name, budget, objectives,
constraints, reference point, benchmark fingerprint when the benchmark exists, and a summary row
for every ``baseline_tolerance`` check), so ``run --check --baseline`` fails before any run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.json_diff import first_difference
from ofa_bench.io.untrusted import excerpt, read_json
from ofa_bench.io.untrusted.state import check_value, shown, value_range

__all__ = ["METRICS", "check_baseline", "check_metric_name", "metric_range", "read_run_dir", "same_suite"]

#: Metrics every suite's summary can hold; ``best:<column><=<level>`` ones come from its limits.
METRICS = ("hv", "hv_test", "igd", "evals_to_target")
_BEST = re.compile(r"^best:[A-Za-z0-9_:.-]+<=[-+0-9.eE]+$")
_DIRECTIONS = {"hv": "max", "hv_test": "max", "igd": "min", "evals_to_target": "min"}
#: Per-run figures of results.json that are counts or seconds: never negative.
_NON_NEGATIVE = ("wall_s", "cpu_s", "eval_s", "strategy_s", "oracle_overlap", "front_size")
#: Slack on a hypervolume's ceiling (the reference box's volume) for rounding.
_HV_SLACK = 1e-9


def check_metric_name(metric: str) -> str:
    """``metric`` if a summary can hold it, else a ValueError listing the allowed names."""
    if metric in METRICS or _BEST.match(metric):
        return metric
    raise ValueError(f"unknown metric {metric!r}; allowed: {', '.join(METRICS)}, best:<column><=<level>")


def _fail(where: str, message: str) -> OfaBenchError:
    return OfaBenchError(f"{where}: {message}")


def _is_int(value: Any, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


# ----- suite.json -------------------------------------------------------------------------------


def _check_state(state: Any, where: str) -> None:
    """The fields of ``suite.json`` a gate reads, each checked for type and range."""
    keys = ("suite", "fingerprint", "normalisation")
    missing = [k for k in keys if not isinstance(state, dict) or not isinstance(state.get(k), (dict, list, str))]
    if missing:
        raise _fail(where, f"missing {', '.join(missing)}; not a suite run")
    suite, norm = state["suite"], state["normalisation"]
    if not isinstance(suite, dict) or not isinstance(suite.get("name"), str):
        raise _fail(where, f"suite: must be an object with a name; got {excerpt(suite)}")
    budget = suite.get("budget")
    if not isinstance(budget, dict) or not _is_int(budget.get("evaluations"), 1):
        raise _fail(where, f"suite.budget.evaluations: must be an integer >= 1; got {excerpt(budget)}")
    if not isinstance(state["fingerprint"], str):
        raise _fail(where, f"fingerprint: must be text; got {excerpt(state['fingerprint'])}")
    if not isinstance(norm, dict):
        raise _fail(where, f"normalisation: must be an object; got {excerpt(norm)}")
    objectives = norm.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        raise _fail(where, f"normalisation.objectives: must be a non-empty list; got {excerpt(objectives)}")
    bounds = norm.get("bounds")
    if not isinstance(bounds, dict):
        raise _fail(where, f"normalisation.bounds: must be an object; got {excerpt(bounds)}")
    for i, objective in enumerate(objectives):
        at = f"normalisation.objectives[{i}]"
        if not isinstance(objective, dict) or not isinstance(objective.get("column"), str):
            raise _fail(where, f"{at}: must be an object with a column; got {excerpt(objective)}")
        if objective.get("direction") not in ("max", "min"):
            raise _fail(where, f"{at}.direction: must be 'max' or 'min'; got {excerpt(objective.get('direction'))}")
        pair = bounds.get(objective["column"])
        at = f"normalisation.bounds.{shown(objective['column'])}"
        if not isinstance(pair, list) or len(pair) != 2:
            raise _fail(where, f"{at}: must be [low, high]; got {excerpt(pair)}")
        low = check_value(pair[0], f"{where}: {at}[0]")
        check_value(pair[1], f"{where}: {at}[1]", low=low)
        if not pair[1] > pair[0]:
            raise _fail(where, f"{at}: must be [low, high] with low < high; got {excerpt(pair)}")
    if norm.get("reference") is not None:
        check_value(norm["reference"], f"{where}: normalisation.reference", low=0.0)
    for i, constraint in enumerate(norm.get("constraints") or []):
        if not isinstance(constraint, dict) or not isinstance(constraint.get("column"), str):
            raise _fail(
                where, f"normalisation.constraints[{i}]: must be an object with a column; got {excerpt(constraint)}"
            )
        check_value(constraint.get("upper"), f"{where}: normalisation.constraints[{i}].upper")
    for key in ("resolution", "resolution_test"):
        values = state.get(key, {})
        if not isinstance(values, dict):
            raise _fail(where, f"{key}: must be an object; got {excerpt(values)}")
        for column, value in values.items():
            check_value(value, f"{where}: {key}.{shown(column)}", low=0.0)


def _target_column(state: dict[str, Any]) -> tuple[str, str]:
    """The column and direction "best under limit" takes the best of: the first maximised objective, else the first."""
    objectives = state["normalisation"]["objectives"]
    chosen = next((o for o in objectives if o["direction"] == "max"), objectives[0])
    return chosen["column"], chosen["direction"]


def metric_range(metric: str, state: dict[str, Any]) -> tuple[float | None, float | None]:
    """The range ``(low, high)`` (``None``: open) of a metric of a suite whose ``suite.json`` is ``state``.

    A hypervolume lies in the reference box, so from 0 to ``reference ** m``; IGD is a distance,
    >= 0 (points beyond the worst bound are not clipped, so it has no ceiling); evaluations to
    target count from 1 to the budget; best under a limit is a value of the target column (an
    accuracy: [0, 1]).
    """
    norm = state["normalisation"]
    if metric in ("hv", "hv_test"):
        reference, m = norm.get("reference"), len(norm["objectives"])
        high = None
        if isinstance(reference, (int, float)) and not isinstance(reference, bool):
            try:
                high = float(reference) ** m * (1 + _HV_SLACK)
            except OverflowError:
                high = None
        return 0.0, high
    if metric == "igd":
        return 0.0, None
    if metric == "evals_to_target":
        return 1.0, float(state["suite"]["budget"]["evaluations"])
    return value_range(_target_column(state)[0])


def _direction(metric: str, state: dict[str, Any]) -> str:
    return _DIRECTIONS.get(metric) or _target_column(state)[1]


# ----- results.json -----------------------------------------------------------------------------


def _check_results(results: Any, state: dict[str, Any], where: str) -> None:
    """The runs and summary of ``results.json``, each value checked against its metric's range."""
    missing = [k for k in ("runs", "summary") if not isinstance(results, dict) or k not in results]
    if missing:
        raise _fail(where, f"missing {', '.join(missing)}; not a suite run")
    for key in ("runs", "summary"):
        if not isinstance(results[key], list):
            raise _fail(where, f"{key}: must be a list of objects, one per {key[:-1]}; got {excerpt(results[key])}")
    for i, row in enumerate(results["runs"]):
        at = f"runs[{i}]"
        if not isinstance(row, dict):
            raise _fail(where, f"{at}: must be an object; got {excerpt(row)}")
        for key in ("strategy", "status"):
            if not isinstance(row.get(key), str):
                raise _fail(where, f"{at}.{key}: must be text; got {excerpt(row.get(key))}")
        for key in ("seed", "evaluations"):
            if not _is_int(row.get(key)):
                raise _fail(where, f"{at}.{key}: must be an integer >= 0; got {excerpt(row.get(key))}")
        for key, value in row.items():
            if key in METRICS or _BEST.match(key):
                low, high = metric_range(key, state)
                check_value(value, f"{where}: {at}.{shown(key)}", low=low, high=high, missing="null")
            elif key in _NON_NEGATIVE:
                check_value(value, f"{where}: {at}.{key}", low=0.0, missing="null")
    seen: set[tuple[str, str]] = set()
    for i, row in enumerate(results["summary"]):
        at = f"summary[{i}]"
        if not isinstance(row, dict):
            raise _fail(where, f"{at}: must be an object; got {excerpt(row)}")
        strategy, metric = row.get("strategy"), row.get("metric")
        if not isinstance(strategy, str):
            raise _fail(where, f"{at}.strategy: must be text; got {excerpt(strategy)}")
        if not isinstance(metric, str) or not (metric in METRICS or _BEST.match(metric)):
            raise _fail(where, f"{at}.metric: must be one of {', '.join(METRICS)}, best:<column><=<level>; "
                               f"got {excerpt(metric)}")  # fmt: skip
        if (strategy, metric) in seen:
            raise _fail(where, f"{at}: a second row for {excerpt(strategy)} and {shown(metric)}")
        seen.add((strategy, metric))
        direction = _direction(metric, state)
        if row.get("direction") != direction:
            raise _fail(where, f"{at}.direction: must be {direction!r} for {shown(metric)}; "
                               f"got {excerpt(row.get('direction'))}")  # fmt: skip
        low, high = metric_range(metric, state)
        for key in ("median", "q1", "q3"):
            if key == "median" or key in row:
                check_value(row.get(key), f"{where}: {at}.{key} ({shown(metric)})", low=low, high=high,
                            missing="null")  # fmt: skip
        for key in ("p_value", "p_adjusted", "effect_size"):
            check_value(row.get(key), f"{where}: {at}.{key}", low=0.0, high=1.0, missing="null")
        if row.get("runs") is not None and not _is_int(row["runs"]):
            raise _fail(where, f"{at}.runs: must be an integer >= 0; got {excerpt(row['runs'])}")
        if not isinstance(row.get("better", False), bool):
            raise _fail(where, f"{at}.better: must be true or false; got {excerpt(row.get('better'))}")


def read_run_dir(directory: str | Path, what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``suite.json`` and ``results.json`` of a run (or baseline) directory, checked.

    Raises:
        OfaBenchError: A missing file, or a field of the wrong type or out of its range, naming
            the file and the field.
    """
    path = Path(directory)
    if (path / "suite.json").is_file() and not (path / "results.json").is_file():
        # suite.json is written before the first run, results.json after the last: an interrupted suite.
        raise OfaBenchError(
            f"{what} {str(path)!r}: no results.json: the suite did not finish; rerun "
            f"'ofa-bench run SUITE --out {path}' to finish it"
        )
    for name in ("suite.json", "results.json"):
        if not (path / name).is_file():
            raise OfaBenchError(f"{what} {str(path)!r}: no {name}; give the output directory of 'ofa-bench run'")
    where = f"{what} {str(path / 'suite.json')!r}"
    state = read_json(path / "suite.json", where)
    _check_state(state, where)
    where = f"{what} {str(path / 'results.json')!r}"
    results = read_json(path / "results.json", where)
    _check_results(results, state, where)
    return state, results


# ----- a baseline against a run or a suite ------------------------------------------------------


def _differs(base_dir: str, fields: list[tuple[str, Any, Any]]) -> None:
    for name, mine, theirs in fields:
        found = first_difference(theirs, mine, name)
        if found is None:
            continue
        if isinstance(found.old, list) and isinstance(found.new, list):
            where = f"{found.path} ({len(found.old)} entries in the baseline, {len(found.new)} in the run)"
        else:
            where = f"{found.path} ({excerpt(found.old)} in the baseline, {excerpt(found.new)} in the run)"
        raise OfaBenchError(
            f"--baseline {excerpt(base_dir, 80)}: {where} differs; a baseline must be an earlier run of the same suite "
            "on the same benchmark (save a new one with 'ofa-bench baseline save RUN_DIR DEST')"
        )


def same_suite(run: dict[str, Any], base: dict[str, Any], base_dir: str) -> None:
    """Refuse a baseline of another suite, benchmark, normalisation or reference front."""
    _differs(base_dir, [
        ("suite.name", run["suite"].get("name"), base["suite"].get("name")),
        ("suite.budget", run["suite"].get("budget"), base["suite"].get("budget")),
        ("fingerprint", run["fingerprint"], base["fingerprint"]),
        ("normalisation", run["normalisation"], base["normalisation"]),
        ("reference_front", run.get("reference_front"), base.get("reference_front")),
    ])  # fmt: skip


def _fingerprint_of(suite: Any) -> str | None:
    """The fingerprint of the suite's benchmark when it exists now (else the run reports or trains it)."""
    from ofa_bench.benchmark.trained import Benchmark

    try:
        return Benchmark.load(suite.benchmark.dir).fingerprint
    except OfaBenchError:
        return None


def check_baseline(suite: Any, baseline_dir: str | Path, fingerprint: str | None = None) -> None:
    """Hold a baseline against the suite about to run, before anything runs.

    What is known before running is compared: the suite's name and budget, its objectives and
    constraints, the reference point when the suite fixes it, the benchmark's fingerprint when the
    benchmark exists (or ``fingerprint`` when given), and the baseline's summary must hold every
    strategy and metric a ``baseline_tolerance`` check reads. The rest (bounds from the reference
    sample, the reference front) is compared after the runs, as ``ofa-bench check`` does.

    Args:
        suite: The :class:`~ofa_bench.suite.config.Suite` about to run.
        baseline_dir: The baseline directory.
        fingerprint: The benchmark's fingerprint, when the caller already knows it.

    Raises:
        OfaBenchError: A baseline that is damaged, out of range, or of another suite or benchmark.
    """
    state, results = read_run_dir(baseline_dir, "baseline")
    norm = state["normalisation"]
    fields: list[tuple[str, Any, Any]] = [
        ("suite.name", suite.name, state["suite"].get("name")),
        ("suite.budget", json.loads(suite.budget.model_dump_json()), state["suite"].get("budget")),
        ("normalisation.objectives", [{"column": o.column, "direction": o.direction} for o in suite.objective_list],
         norm.get("objectives")),
        ("normalisation.constraints", [{"column": c.column, "upper": float(c.upper)} for c in suite.constraint_list],
         norm.get("constraints", [])),
    ]  # fmt: skip
    if suite.hv.reference is not None:
        fields.append(("normalisation.reference", float(suite.hv.reference), norm.get("reference")))
    _differs(str(baseline_dir), fields)
    fingerprint = fingerprint or _fingerprint_of(suite)
    if fingerprint is not None:
        _differs(str(baseline_dir), [("fingerprint", fingerprint, state["fingerprint"])])
    rows = {(r["strategy"], r["metric"]) for r in results["summary"]}
    for i, check in enumerate(suite.checks):
        if check.baseline_tolerance is not None and (check.strategy, check.metric) not in rows:
            have = ", ".join(sorted({m for s, m in rows if s == check.strategy})) or "none"
            raise OfaBenchError(
                f"checks[{i}]: the baseline {excerpt(str(baseline_dir), 80)} has no {check.metric!r} for "
                f"{check.strategy!r} in its summary; its metrics for {check.strategy!r}: {excerpt(have, 120)}"
            )
