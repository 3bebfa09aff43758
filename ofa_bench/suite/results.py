"""The results of a suite, computed from its run logs with the references fixed before any run.

:func:`collect_results` reads ``OUT/suite.json``, every run log and the reference sample, and
computes per run: hypervolume, IGD against the fixed reference front, evaluations to 95% of that
front's hypervolume, the best accuracy under each limit, the search cost and ``oracle_overlap``
(evaluations of archs the surrogate oracle was fitted on); per strategy, over finished runs only:
median, quartiles, the exact rank test against random, Holm-adjusted p and A12 effect size; and
every strategy against every other on the verdict's metric and hv (Holm across all ordered pairs).
No run's numbers depend on which other runs exist. :func:`write_results` writes ``results.csv``
(one row per run), ``summary.csv`` (one row per strategy and metric), ``pairwise.csv`` (one row
per ordered pair of strategies and metric), ``anytime.csv`` (hypervolume curves) and
``results.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ofa_bench import metrics
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import write_text_atomic
from ofa_bench.io.untrusted import read_json
from ofa_bench.metrics.normalise import Normalisation
from ofa_bench.plugins.interfaces import Objective
from ofa_bench.search.runlog import LOG_FILE, META_FILE, RunLog, entries_frame
from ofa_bench.suite.holdout import HOLDOUT_FILE, heldout_hypervolume
from ofa_bench.suite.leakage import archive_keys, oracle_overlap

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
RESULT_FILES = ("results.csv", "summary.csv", "pairwise.csv", "anytime.csv", "results.json")

#: Run statuses that count as finished (a wall-clock stop is a finished run of its budget).
FINISHED = ("done", "wall_seconds")


@dataclass
class SuiteResults:
    """What a suite found, per run and per strategy.

    Attributes:
        out_dir: The suite's output directory.
        state: ``suite.json``: the suite and what was fixed before any run.
        norm: The fixed normalisation.
        runs: One row per run: ``strategy``, ``name``, ``seed``, ``status``, ``evaluations``,
            ``hv``, ``hv_test`` (the final front re-measured on the report split, when the suite
            has one), ``igd``, ``evals_to_target``, ``oracle_overlap`` (surrogate oracle only),
            ``best:<column><=<limit>``..., ``front_size``, ``wall_s``, ``cpu_s``, ``eval_s``,
            ``strategy_s``.
        summary: :func:`~ofa_bench.metrics.summarise` of ``runs``.
        anytime: Hypervolume curves: ``strategy``, ``seed``, ``n``, ``hv``.
        reference_front: Normalised reference front of IGD, fixed in ``suite.json``.
        fronts: Normalised non-dominated feasible points per run key.
        baseline: The strategy label others are tested against, or ``None``.
        pairwise: :func:`~ofa_bench.metrics.pairwise` of the finished runs on ``hv`` and the
            verdict's metric: one row per (strategy, other, metric).
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
    pairwise: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @property
    def strategies(self) -> list[str]:
        """Strategy labels in suite order."""
        return list(dict.fromkeys(u["label"] for u in self.state["units"]))

    @property
    def noisy_oracle(self) -> bool:
        """Whether the suite's surrogate oracle answered with seeded noise draws (``oracle: {noisy: true}``)."""
        return bool((self.state["suite"].get("oracle") or {}).get("noisy"))

    @property
    def unfinished(self) -> list[str]:
        """Run keys that did not finish (killed, still running, not started): left out of the tests."""
        runs = self.runs
        if "status" not in runs:
            return []
        mask = ~runs["status"].isin(FINISHED)
        return [f"{r['strategy']}-s{r['seed']}" for r in runs[mask].to_dict("records")]

    @property
    def verdict_metric(self) -> str:
        """What the verdict tests: ``hv_test`` (the held-out re-measurement) when the suite has it, else ``hv``."""
        has_test = "hv_test" in self.runs and self.runs["hv_test"].notna().any()
        return "hv_test" if has_test else "hv"

    def beats_baseline(self, metric: str = "hv", alpha: float = metrics.ALPHA) -> list[str]:
        """Strategies whose ``metric`` beats the baseline's: Holm-adjusted p below ``alpha`` and beyond resolution."""
        s = self.summary
        return s.loc[(s["metric"] == metric) & (s["p_adjusted"] < alpha) & s["better"], "strategy"].tolist()

    def beats(self, metric: str | None = None) -> list[tuple[str, str]]:
        """``(winner, loser)`` pairs on ``metric`` (default the verdict's): Holm across all pairs, beyond resolution."""
        table = self.pairwise
        if table.empty:
            return []
        rows = table[(table["metric"] == (metric or self.verdict_metric)) & table["better"]]
        return list(zip(rows["strategy"], rows["other"]))


def metric_directions(state: dict[str, Any]) -> dict[str, str]:
    """Metric column to direction (``max`` better or ``min`` better) for a suite's results."""
    directions = {"hv": "max", "hv_test": "max", "igd": "min", "evals_to_target": "min"}
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
    state = read_json(path, f"suite run {str(path)!r}")  # a run directory may be handed over: bounded
    norm = Normalisation.from_dict(state["normalisation"])
    logs: dict[str, pd.DataFrame] = {}
    status: dict[str, str] = {}
    for unit in state["units"]:
        directory = out / "units" / unit["key"]
        if (directory / LOG_FILE).exists() or (directory / META_FILE).exists():
            log = RunLog.open(directory)
            logs[unit["key"]] = entries_frame(log.entries)
            status[unit["key"]] = str(log.meta.get("stopped") or log.meta.get("status", "running"))
    front, reference_hv = _fixed_front(state, out, norm)
    overlap = archive_keys(out)
    holdout = pd.read_csv(out / HOLDOUT_FILE) if (out / HOLDOUT_FILE).exists() else None
    curves = {key: metrics.anytime_hypervolume(df, norm) for key, df in logs.items()}
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
        row["evals_to_target"] = metrics.evals_to_target(curve, reference_hv, state.get("target_fraction", 0.95))
        if overlap is not None:
            row["oracle_overlap"] = oracle_overlap(df["arch"], overlap)
        if holdout is not None:
            row["hv_test"] = heldout_hypervolume(df, holdout[holdout["key"] == key], norm)
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
    finished = runs[runs["status"].isin(FINISHED)] if "status" in runs else runs
    resolution = metric_resolution(state, directions)
    summary = metrics.summarise(finished, directions, baseline, resolution=resolution)
    verdict = "hv_test" if "hv_test" in finished and finished["hv_test"].notna().any() else "hv"
    pairs = metrics.pairwise(
        finished, {m: directions[m] for m in dict.fromkeys(("hv", verdict)) if m in directions}, resolution=resolution
    )
    empty = pd.DataFrame(columns=["strategy", "seed", "n", "hv"])
    curves_df = pd.concat(anytime, ignore_index=True) if anytime else empty
    return SuiteResults(out, state, norm, runs, summary, curves_df, front, fronts, baseline, pairs)


def metric_resolution(state: dict[str, Any], directions: dict[str, str]) -> dict[str, float]:
    """Per metric, the smallest difference of medians that is more than measurement granularity.

    ``suite.json`` fixes each record column's resolution (accuracy: one image of the evaluation
    split, or the oracle's stated noise if larger). A "best under limit" of a column has that
    resolution; on the normalised axes a column's step is ``resolution / span``, which moves an
    IGD by at most the length of the steps and a hypervolume by at most their sum times the
    reference box's face.
    """
    norm = state["normalisation"]
    resolution = state.get("resolution", {})
    steps = []
    for objective in norm["objectives"]:
        low, high = norm["bounds"][objective["column"]]
        steps.append(float(resolution.get(objective["column"], 0.0)) / (high - low) if high > low else 0.0)
    m = len(steps)
    face = float(norm.get("reference") or 1.0) ** (m - 1)
    out = {"hv": sum(steps) * face, "igd": math.sqrt(sum(x * x for x in steps)), "evals_to_target": 0.0}
    test = state.get("resolution_test", {})
    test_steps = [
        float(test.get(o["column"], 0.0)) / (norm["bounds"][o["column"]][1] - norm["bounds"][o["column"]][0])
        for o in norm["objectives"]
    ]
    out["hv_test"] = sum(test_steps) * face
    target = target_objective(state)
    for metric in directions:
        if metric.startswith("best:"):
            out[metric] = float(resolution.get(target.column, 0.0))
    return {k: v for k, v in out.items() if k in directions}


def _fixed_front(state: dict[str, Any], out: Path, norm: Normalisation) -> tuple[np.ndarray, float]:
    """The reference front and its hypervolume fixed in ``suite.json`` (older runs: from ``reference.csv``)."""
    m = len(norm.objectives)
    if "reference_front" in state:
        front = np.asarray(state["reference_front"], dtype=np.float64).reshape(-1, m)
        return front, float(state.get("reference_hv", metrics.hypervolume(front, norm.reference_point)))
    reference = pd.read_csv(out / "reference.csv") if (out / "reference.csv").exists() else pd.DataFrame()
    front = metrics.reference_front([reference], norm) if len(reference) else np.zeros((0, m))
    return front, metrics.hypervolume(front, norm.reference_point) if len(front) else 0.0


def write_results(results: SuiteResults) -> list[Path]:
    """Write the results tables into the suite's output directory, each atomically.

    Returns:
        The paths written (see :data:`RESULT_FILES`).
    """
    out = results.out_dir
    paths = [
        write_text_atomic(out / "results.csv", results.runs.to_csv(index=False)),
        write_text_atomic(out / "summary.csv", results.summary.to_csv(index=False)),
        write_text_atomic(out / "pairwise.csv", results.pairwise.to_csv(index=False)),
        write_text_atomic(out / "anytime.csv", results.anytime.to_csv(index=False)),
    ]
    document = {
        "suite": results.state["suite"]["name"],
        "fingerprint": results.state["fingerprint"],
        "baseline": results.baseline,
        "beats_baseline_hv": results.beats_baseline("hv"),
        "verdict_metric": results.verdict_metric,
        "beats_baseline_verdict": results.beats_baseline(results.verdict_metric),
        "beats_verdict": [list(pair) for pair in results.beats()],
        "splits": results.state.get("splits"),
        "unfinished": results.unfinished,
        "oracle_overlap": (
            {f"{r['strategy']}-s{r['seed']}": int(r["oracle_overlap"]) for r in results.runs.to_dict("records")
             if isinstance(r.get("oracle_overlap"), (int, float)) and not pd.isna(r.get("oracle_overlap"))}
            if "oracle_overlap" in results.runs else None
        ),  # fmt: skip
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
