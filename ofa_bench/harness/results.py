"""The results of a suite, computed from its run logs with the normalisation fixed before any run.

:func:`collect_results` reads ``OUT/suite.json``, every run log and the reference sample, and
computes per run: hypervolume, IGD, evaluations to 95% of the best final hypervolume, the best
accuracy under each limit and the search cost; per strategy: median, quartiles and the rank test
against random. :func:`write_results` writes ``results.csv`` (one row per run), ``summary.csv``
(one row per strategy and metric), ``anytime.csv`` (hypervolume curves) and ``results.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ofa_bench.atomic import write_text_atomic
from ofa_bench.errors import OfaBenchError
from ofa_bench.harness import metrics
from ofa_bench.harness.metrics.normalise import Normalisation
from ofa_bench.harness.runlog import LOG_FILE, META_FILE, RunLog, entries_frame
from ofa_bench.interfaces import Objective

__all__ = [
    "RESULT_FILES",
    "SuiteResults",
    "collect_results",
    "json_records",
    "metric_directions",
    "target_objective",
    "write_results",
]

#: Files :func:`write_results` writes into the suite's output directory.
RESULT_FILES = ("results.csv", "summary.csv", "anytime.csv", "results.json")


@dataclass
class SuiteResults:
    """What a suite found, per run and per strategy.

    Attributes:
        out_dir: The suite's output directory.
        state: ``suite.json``: the suite and what was fixed before any run.
        norm: The fixed normalisation.
        runs: One row per run: ``strategy``, ``name``, ``seed``, ``status``, ``evaluations``,
            ``hv``, ``igd``, ``evals_to_target``, ``best:<column><=<limit>``..., ``front_size``,
            ``wall_s``, ``cpu_s``, ``eval_s``, ``strategy_s``.
        summary: :func:`~ofa_bench.harness.metrics.summarise` of ``runs``.
        anytime: Hypervolume curves: ``strategy``, ``seed``, ``n``, ``hv``.
        reference_front: Normalised reference front of IGD.
        fronts: Normalised non-dominated feasible points per run key.
        baseline: The strategy label others are tested against, or ``None``.
    """

    out_dir: Path
    state: dict[str, Any]
    norm: Normalisation
    runs: pd.DataFrame
    summary: pd.DataFrame
    anytime: pd.DataFrame
    reference_front: np.ndarray
    fronts: dict[str, np.ndarray] = field(repr=False)
    baseline: str | None = None

    @property
    def strategies(self) -> list[str]:
        """Strategy labels in suite order."""
        return list(dict.fromkeys(u["label"] for u in self.state["units"]))

    def beats_baseline(self, metric: str = "hv", alpha: float = 0.05) -> list[str]:
        """Strategies whose ``metric`` beats the baseline's with a rank-test p-value below ``alpha``."""
        s = self.summary
        return s.loc[(s["metric"] == metric) & (s["p_value"] < alpha) & s["better"], "strategy"].tolist()


def metric_directions(state: dict[str, Any]) -> dict[str, str]:
    """Metric column to direction (``max`` better or ``min`` better) for a suite's results."""
    directions = {"hv": "max", "igd": "min", "evals_to_target": "min"}
    target = target_objective(state)
    for column, levels in state.get("limits", {}).items():
        for level in levels:
            directions[_limit_column(column, level)] = target.direction
    return directions


def target_objective(state: dict[str, Any]) -> Objective:
    """The objective "best under limit" takes the best of: the first maximised one (accuracy), else the first."""
    objectives = [Objective(o["column"], o["direction"]) for o in state["normalisation"]["objectives"]]
    return next((o for o in objectives if o.direction == "max"), objectives[0])


def _limit_column(column: str, level: float) -> str:
    return f"best:{column}<={level:g}"


def collect_results(out_dir: str | Path) -> SuiteResults:
    """Compute the results of a suite's output directory (finished runs and any partial ones).

    Raises:
        OfaBenchError: The directory holds no suite run.
    """
    out = Path(out_dir)
    path = out / "suite.json"
    if not path.exists():
        raise OfaBenchError(f"{str(out)!r} holds no suite run (no suite.json); run one with 'ofa-bench run'")
    state = json.loads(path.read_text(encoding="utf-8"))
    norm = Normalisation.from_dict(state["normalisation"])
    logs: dict[str, pd.DataFrame] = {}
    status: dict[str, str] = {}
    for unit in state["units"]:
        directory = out / "units" / unit["key"]
        if (directory / LOG_FILE).exists() or (directory / META_FILE).exists():
            log = RunLog.open(directory)
            logs[unit["key"]] = entries_frame(log.entries)
            status[unit["key"]] = str(log.meta.get("stopped") or log.meta.get("status", "running"))
    reference = pd.read_csv(out / "reference.csv") if (out / "reference.csv").exists() else pd.DataFrame()
    front = metrics.reference_front([*logs.values(), reference], norm)
    curves = {key: metrics.anytime_hypervolume(df, norm) for key, df in logs.items()}
    finals = [float(c["hv"].iloc[-1]) for c in curves.values() if len(c)]
    best_final = max(finals, default=0.0)
    target = target_objective(state)
    rows, anytime, fronts = [], [], {}
    for unit in state["units"]:
        key = unit["key"]
        df = logs.get(key)
        row: dict[str, Any] = {"strategy": unit["label"], "name": unit["strategy"], "seed": unit["seed"]}
        if df is None:
            rows.append({**row, "status": "not started", "evaluations": 0})
            continue
        curve = curves[key]
        fronts[key] = norm.front(df)
        row.update(status=status[key], evaluations=int(df["n"].max()) if len(df) else 0)
        row["hv"] = float(curve["hv"].iloc[-1]) if len(curve) else 0.0
        row["igd"] = metrics.igd(df, norm, front)
        row["evals_to_target"] = metrics.evals_to_target(curve, best_final)
        for column, levels in state.get("limits", {}).items():
            best = metrics.best_under_limit(df, column, levels, target, norm.constraints)
            row.update({_limit_column(column, level): float(v) for level, v in zip(levels, best)})
        row["front_size"] = len(fronts[key])
        row.update(metrics.search_cost(df))
        rows.append(row)
        anytime.append(curve.assign(strategy=unit["label"], seed=unit["seed"])[["strategy", "seed", "n", "hv"]])
    runs = pd.DataFrame(rows)
    labels = {u["label"]: u["strategy"] for u in state["units"]}
    baseline = next((label for label, name in labels.items() if name == "random"), None)
    directions = {m: d for m, d in metric_directions(state).items() if m in runs}
    finished = runs[runs["status"] != "not started"] if "status" in runs else runs
    summary = metrics.summarise(finished, directions, baseline)
    empty = pd.DataFrame(columns=["strategy", "seed", "n", "hv"])
    curves_df = pd.concat(anytime, ignore_index=True) if anytime else empty
    return SuiteResults(out, state, norm, runs, summary, curves_df, front, fronts, baseline)


def write_results(results: SuiteResults) -> list[Path]:
    """Write the results tables into the suite's output directory, each atomically.

    Returns:
        The paths written (see :data:`RESULT_FILES`).
    """
    out = results.out_dir
    paths = [
        write_text_atomic(out / "results.csv", results.runs.to_csv(index=False)),
        write_text_atomic(out / "summary.csv", results.summary.to_csv(index=False)),
        write_text_atomic(out / "anytime.csv", results.anytime.to_csv(index=False)),
    ]
    document = {
        "suite": results.state["suite"]["name"],
        "fingerprint": results.state["fingerprint"],
        "baseline": results.baseline,
        "beats_baseline_hv": results.beats_baseline("hv"),
        "runs": json_records(results.runs),
        "summary": json_records(results.summary),
    }
    paths.append(write_text_atomic(out / "results.json", json.dumps(document, indent=2, allow_nan=False) + "\n"))
    return paths


def json_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Table rows as JSON-ready dicts: NaN and infinities become ``None``."""
    out = []
    for row in df.to_dict(orient="records"):
        clean = {}
        for key, value in row.items():
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            clean[key] = value
        out.append(clean)
    return out
