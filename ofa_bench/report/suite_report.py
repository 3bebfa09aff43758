"""The report of a suite: ``report.md`` and ``report.html`` with the same content, plus PNG figures.

Sections: summary table (median and IQR over seeds, exact one-sided rank tests against random,
Holm-adjusted across strategies, Vargha-Delaney A12 effect sizes) with a plain verdict; every
strategy against every other (Holm across all pairs);
median-attainment Pareto fronts; hypervolume-vs-evaluations curves; best accuracy under each
limit; every run (with its overlap with the oracle's archive); the strategies' random starts and
parameters; the surrogate oracle's quality (and a warning when it shares a model family with a
strategy); the setup (objectives, normalisation, fixed references, budget) and the environment
(package and plug-in versions, the benchmark fingerprint). Everything is rebuilt from the output directory, so a report can be
written for a suite that is still running or was interrupted.
"""

from __future__ import annotations

import math
import os
import platform
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ofa_bench.io.atomic import write_text_atomic
from ofa_bench.metrics import ALPHA, TARGET_FRACTION, smallest_p
from ofa_bench.report.pairwise import pairwise_blocks
from ofa_bench.report.plots import hypervolume_figure, pareto_figure
from ofa_bench.report.render import Block, html_page, markdown
from ofa_bench.suite.results import FINISHED, SuiteResults, collect_results, metric_directions, target_objective

__all__ = ["ReportFiles", "summary_table", "verdict", "write_report"]

#: Distributions whose versions every report lists (those installed).
PACKAGES = (
    "ofa-bench", "torch", "numpy", "scipy", "pandas", "scikit-learn", "pymoo", "optuna", "joblib",
    "matplotlib", "pydantic", "dask", "distributed", "ray",
)  # fmt: skip



@dataclass(frozen=True)
class ReportFiles:
    """Where a report was written.

    Attributes:
        markdown: ``report.md``.
        html: ``report.html``.
        figures: The PNG figures both link to.
    """

    markdown: Path
    html: Path
    figures: tuple[Path, ...]


def write_report(run_dir: str | Path, results: SuiteResults | None = None) -> ReportFiles:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` into a suite's output directory.

    Args:
        run_dir: The suite's output directory (``ofa-bench run --out``).
        results: Its results when already computed (default: computed from the directory).

    Returns:
        The files written.

    Raises:
        OfaBenchError: The directory holds no suite run.
    """
    results = results if results is not None else collect_results(run_dir)
    out = results.out_dir
    (out / "figures").mkdir(exist_ok=True)
    pareto = pareto_figure(results, out / "figures" / "pareto.png")
    curves = hypervolume_figure(results, out / "figures" / "hypervolume.png")
    blocks = _blocks(results, pareto, curves)
    text = write_text_atomic(out / "report.md", markdown(blocks))
    page = write_text_atomic(out / "report.html", html_page(blocks, results.state["suite"]["name"]))
    return ReportFiles(text, page, tuple(p for p in (pareto, curves) if p is not None))


# ----- content ------------------------------------------------------------------------------------


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "never" if value > 0 else "-inf"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.{digits}g}"


def _p(value: float) -> str:
    return "–" if math.isnan(value) else (f"{value:.3g}" + (" *" if value < ALPHA else ""))


def _a12(cell: dict[str, Any] | None) -> str:
    value = cell.get("effect_size", math.nan) if cell else math.nan
    return "–" if value is None or math.isnan(value) else f"{value:.2f}"


def _p_adjusted(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "–"
    return _p(float(cell.get("p_adjusted", math.nan))) + (" ✓" if cell.get("better") else "")


def _cell(results: SuiteResults, strategy: str, metric: str) -> dict[str, Any] | None:
    rows = results.summary[(results.summary["strategy"] == strategy) & (results.summary["metric"] == metric)]
    return None if rows.empty else rows.iloc[0].to_dict()


def _spread(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "–"
    return f"{_num(cell['median'])} [{_num(cell['q1'])}, {_num(cell['q3'])}]"


def summary_table(results: SuiteResults) -> tuple[list[str], list[list[str]], str]:
    """The summary table of a suite's results: columns, one row of text per strategy, and a caption."""
    columns = ["strategy", "runs", "HV median [IQR]", "p adj. (HV)", "A12 (HV)", "IGD median [IQR]",
               "p adj. (IGD)", "A12 (IGD)", f"evals to {TARGET_FRACTION:.0%} ref. HV", "wall s", "CPU s"]  # fmt: skip
    rows = []
    runs = results.runs
    for label in results.strategies:
        mine = runs[runs["strategy"] == label]
        done = int(mine["status"].isin(FINISHED).sum()) if "status" in mine else 0
        hv, igd = _cell(results, label, "hv"), _cell(results, label, "igd")
        rows.append([
            label, f"{done}/{len(mine)}", _spread(hv), _p_adjusted(hv), _a12(hv), _spread(igd), _p_adjusted(igd),
            _a12(igd), _spread(_cell(results, label, "evals_to_target")),
            _num(float(mine["wall_s"].median()) if "wall_s" in mine else math.nan, 3),
            _num(float(mine["cpu_s"].median()) if "cpu_s" in mine else math.nan, 3),
        ])  # fmt: skip
    seeds = len(results.state["suite"]["seeds"])
    base = results.baseline or "the baseline"
    caption = (
        f"Median [first, third quartile] over {seeds} seeds, finished runs only. "
        f"p adj.: exact one-sided rank test that the strategy beats {base} (higher HV, lower IGD), Holm-adjusted "
        f"across the {max(len(results.strategies) - 1, 0)} strategies compared with {base}; * marks p adj. < "
        f"{ALPHA:g}, ✓ also a median gain beyond the measurement resolution (the verdict's \"better\"). "
        f"A12: Vargha-Delaney effect size, the chance that a run of the strategy beats a run of {base} (0.5: no "
        "difference; 0.56/0.64/0.71: small/medium/large). "
        f"Evals to {TARGET_FRACTION:.0%} ref. HV: evaluations until a run reaches {TARGET_FRACTION:.0%} of the "
        "hypervolume of the reference front fixed before any run (never: not reached). Wall/CPU s: median "
        "seconds per run."
    )
    return columns, rows, caption


def _summary(results: SuiteResults) -> list[Block]:
    columns, rows, caption = summary_table(results)
    blocks: list[Block] = [("h2", "Summary"), ("table", (columns, rows)), ("p", caption)]
    blocks += _heldout(results)
    blocks.append(("p", verdict(results)))
    if results.unfinished:
        blocks.append(("p", f"Unfinished runs, left out of every test: {', '.join(results.unfinished)}."))
    return blocks


def verdict(results: SuiteResults) -> str:
    """Which strategies beat the random baseline on hypervolume (Holm-adjusted p < alpha, beyond resolution), honestly."""
    if results.baseline is None:
        return "This suite has no random baseline, so no strategy is tested against one."
    seeds = len(results.state["suite"]["seeds"])
    floor = smallest_p(seeds, seeds)
    metric = results.verdict_metric
    beats = results.beats_baseline(metric)
    where = "hypervolume of the final fronts re-measured on the held-out split" if metric == "hv_test" else "hypervolume"

    def figures(s: str) -> str:
        cell = _cell(results, s, metric) or {}
        return f"{s} (p adj. = {cell.get('p_adjusted', math.nan):.3g}, A12 = {cell.get('effect_size', math.nan):.2f})"

    if beats:
        text = f"Beating {results.baseline} on {where} (Holm-adjusted p < {ALPHA:g}): {', '.join(map(figures, beats))}."
    else:
        text = f"No strategy beats {results.baseline} on {where} at Holm-adjusted p < {ALPHA:g}."
    near = [
        s for s in results.strategies
        if s not in beats and s != results.baseline and (_cell(results, s, metric) or {}).get("p_value", 1.0) < ALPHA
    ]  # fmt: skip
    if near:
        text += (
            f" Significant before correction only, or by less than the resolution: {', '.join(map(figures, near))}."
        )
    text += f" With {seeds} seeds per strategy the smallest p-value this test can give is {floor:.3g}"
    if not floor < ALPHA:
        text += f", so this suite cannot show p < {ALPHA:g} whatever happens; use at least 4 seeds"
    return text + "."


def _heldout(results: SuiteResults) -> list[Block]:
    splits = results.state.get("splits") or {}
    if results.verdict_metric != "hv_test":
        return []
    rows = []
    for label in results.strategies:
        hv, test = _cell(results, label, "hv"), _cell(results, label, "hv_test")
        rows.append([label, _spread(hv), _spread(test), _p_adjusted(test), _a12(test)])
    columns = ["strategy", f"HV on {splits.get('search')} (search)", f"HV on {splits.get('report')} (verdict)",
               "p adj. (verdict)", "A12 (verdict)"]  # fmt: skip
    how = f"re-measured live on {splits.get('report')} ({splits.get('n_report')} images)"
    if splits.get("remeasured_by"):
        how = (
            f"re-measured on {splits.get('report')} ({splits.get('n_report')} images) by the shipped surrogate "
            f"of that split, {splits['remeasured_by']}"
        )
    searched = results.state.get("oracle", {}).get("label", "live")
    caption = (
        f"Each run's final front (its feasible non-dominated evaluations, as the search's oracle, {searched}, "
        f"measured them on {splits.get('search')}, {splits.get('n_search')} images) {how}, "
        "which neither the search nor the oracle saw; the verdict tests the "
        "re-measured hypervolume. A gap between the columns is what the search split flattered."
    )
    return [("table", (columns, rows)), ("p", caption)]


def _limits(results: SuiteResults) -> list[Block]:
    directions = metric_directions(results.state)
    metrics = [m for m in directions if m.startswith("best:")]
    if not metrics:
        return []
    rows = [[label, *(_spread(_cell(results, label, m)) for m in metrics)] for label in results.strategies]
    target = target_objective(results.state)
    caption = (
        f"Best {target.column} found with the cost under each limit (and every "
        "constraint met): median [IQR] over seeds; – where no run found an arch under the limit, -inf in a "
        "quartile where some runs found none."
    )
    return [("h2", "Best under limit"), ("table", (["strategy", *[m[5:] for m in metrics]], rows)), ("p", caption)]


def _runs(results: SuiteResults) -> list[Block]:
    columns = ["strategy", "seed", "status", "evaluations", "hv", "igd", "evals_to_target", "front_size", "wall_s"]
    runs = results.runs
    if "oracle_overlap" in runs:
        columns.insert(7, "oracle_overlap")
    rows = [
        [r[c] if isinstance(r.get(c), str) else _num(r.get(c)) for c in columns] for r in runs.to_dict("records")
    ]
    blocks: list[Block] = [("h2", "Runs"), ("table", (columns, rows))]
    if "oracle_overlap" in runs:
        blocks.append(("p", "oracle_overlap: evaluations of a run whose arch is in the surrogate oracle's training "
                       "archive (oracle_archive.csv), where the oracle is scored on its own training data; the "
                       "archive is drawn from its own random stream, so chance alone puts archs there."))  # fmt: skip
    return blocks


def _strategies(results: SuiteResults) -> list[Block]:
    from ofa_bench.suite.fairness import strategy_profile

    budget = int(results.state["suite"]["budget"]["evaluations"])
    rows = []
    for entry in results.state["suite"]["strategies"]:
        profile = strategy_profile(entry["name"], entry.get("params") or {}, budget)
        start = profile["random_start"]
        share = "–" if start is None else f"{start}/{budget} ({start / budget:.0%})"
        params = ", ".join(f"{k}={_plain_value(v)}" for k, v in profile["params"].items()) or "none"
        rows.append([entry.get("label") or entry["name"], entry["name"], share, params])
    caption = (
        "Random start: evaluations of uniformly random archs before a strategy models or selects anything "
        "(random search: all of them). Parameters: every constructor parameter, given or default."
    )
    return [("h2", "Strategies"), ("table", (["strategy", "plug-in", "random start", "parameters"], rows)),
            ("p", caption)]  # fmt: skip


def _plain_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return str(value)
    return type(value).__name__


def _oracle(results: SuiteResults) -> list[Block]:
    info = results.state.get("oracle", {})
    blocks: list[Block] = []
    if info.get("mode") == "surrogate":
        held = info.get("holdout") or {}
        suite_seed = results.state["suite"].get("seed", 0)
        archive = f"{info.get('archive_size')} (stream oracle_archive[{info.get('archive_seed')}] of suite seed {suite_seed})"
        split = f"{held.get('train', '–')}/{held.get('test', '–')}"
        rows = [[
            info.get("predictor"), _plain(info.get("params") or {}), archive, split,
            _num(held.get("kendall_tau")), _num(held.get("rmse")),
        ]]  # fmt: skip
        columns = ["oracle predictor", "params", "archive", "train/test", "Kendall tau", "RMSE"]
        blocks += [("h2", "Predictors"), ("table", (columns, rows)), ("p",
                   "Accuracies in this suite are the surrogate oracle's predictions, fitted on the measured archive; "
                   "its quality on a held-out part of the archive is shown.")]  # fmt: skip
        blocks += _family_warning(results)
    if info.get("mode") == "shipped":
        rows = [[info.get("predictor"), info.get("label"), _num(info.get("kendall_tau")), _num(info.get("noise_sd")),
                 "noisy draws (seeded per run)" if results.noisy_oracle else "noise-free mean",
                 (info.get("archive") or {}).get("n", "–")]]  # fmt: skip
        columns = ["shipped surrogate", "label", "Kendall tau (held out)", "noise sd", "answers", "archive archs"]
        blocks += [("h2", "Predictors"), ("table", (columns, rows)), ("p",
                   "Accuracies in this suite are the benchmark's shipped surrogate's predictions (no data, no "
                   f"training); it was made by: {info.get('command')}.")]  # fmt: skip
        blocks += _family_warning(results)
    used = [
        (s.get("label") or s["name"], s["params"]["predictor"])
        for s in results.state["suite"]["strategies"]
        if isinstance(s.get("params", {}).get("predictor"), str)
    ]
    if used:
        if not blocks:
            blocks.append(("h2", "Predictors"))
        blocks.append(("table", (["strategy", "predictor"], [list(u) for u in used])))
    return blocks


def _family_warning(results: SuiteResults) -> list[Block]:
    from ofa_bench.suite.fairness import family_clashes, label_clashes

    oracle = results.state["suite"]["oracle"]
    entries = [(s.get("label") or s["name"], s["name"], s.get("params") or {}) for s in results.state["suite"]["strategies"]]
    if oracle.get("mode") == "shipped":
        clashes = label_clashes(str(results.state.get("oracle", {}).get("predictor") or ""), entries)
    else:
        clashes = family_clashes(oracle["predictor"], oracle.get("params") or {}, entries)
    if not clashes:
        return []
    named = ", ".join(f"{label} ({'/'.join(sorted(shared))})" for _, label, shared in clashes)
    return [("p", f"Warning: the oracle is of a model family that {named} also fits internally "
             "(oracle.allow_same_family: true), so those strategies learn a copy of the oracle's own model class "
             "and this comparison favours them.")]  # fmt: skip


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "defaults"
    return str(value)


def _setup(results: SuiteResults) -> list[Block]:
    state, suite, norm = results.state, results.state["suite"], results.norm
    bounds = "; ".join(f"{c}: [{_num(lo)}, {_num(hi)}]" for c, (lo, hi) in norm.bounds.items())
    backends = [b["name"] + (f" ({_plain(b['params'])})" if b.get("params") else "") for b in suite["backends"]]
    backends = backends or sorted(_latency_backends(results))
    rows = [
        ["benchmark", f"{state['benchmark']} (fingerprint {state['fingerprint']}, space {state['space']})"],
        ["oracle", state.get("oracle", {}).get("label", "live")],
        ["objectives", ", ".join(f"{o.column} ({o.direction})" for o in norm.objectives)],
        ["constraints", ", ".join(suite["constraints"]) or "none"],
        ["backends", ", ".join(backends) or "none"],
        ["budget", f"{suite['budget']['evaluations']} evaluations per run"
         + (f", at most {suite['budget']['wall_seconds']} s" if suite["budget"].get("wall_seconds") else "")],
        ["batch size", str(suite.get("batch_size") or "each strategy's own")],
        ["seeds", ", ".join(map(str, suite["seeds"]))],
        ["normalisation", f"{bounds}; reference point {norm.reference:.6g} on every normalised axis "
         + ("(given)" if suite["hv"].get("reference") is not None else "(Ishibuchi's 1 + 1/H for the reference front)")],
        ["reference front", f"fixed before any run: the non-dominated points of {suite['reference']['random_sample']} "
         f"random archs and the space's extremes (stream reference_sample[{suite['reference']['seed']}]): "
         f"{len(results.reference_front)} points, HV {_num(state.get('reference_hv'))}; target of evals to "
         f"{TARGET_FRACTION:.0%}: HV {_num(state.get('target_hv'))}"],
        ["resolution", ", ".join(f"{k}: {_num(v)}" for k, v in state.get("resolution", {}).items()) or "none"],
        ["suite seed", f"{suite.get('seed', 0)} (every random stream is spawned from it with its own key)"],
        ["created", state.get("created", "–")],
    ]  # fmt: skip
    return [("h2", "Setup"), ("table", (["", ""], rows))]


def _environment(results: SuiteResults) -> list[Block]:
    from ofa_bench.plugins import registry

    rows = [
        ["python", platform.python_version()],
        ["platform", platform.platform()],
        ["CPU cores", str(os.cpu_count())],
    ]
    for name in PACKAGES:
        try:
            rows.append([name, metadata.version(name)])
        except metadata.PackageNotFoundError:
            continue
    suite = results.state["suite"]
    wanted = {
        "strategy": {s["name"] for s in suite["strategies"]},
        "hardware": {b["name"] for b in suite["backends"]} | _latency_backends(results),
        "predictor": _oracle_predictors(results)
        | {s["params"]["predictor"] for s in suite["strategies"] if isinstance(s["params"].get("predictor"), str)},
    }
    plugins = []
    for kind, names in wanted.items():
        for info in registry.describe(kind):
            if info.name in names:
                where = info.distribution or "(in process)"
                plugins.append([kind, info.name, info.value, where, info.version or "–"])
    return [
        ("h2", "Environment"),
        ("table", (["", "version"], rows)),
        ("table", (["kind", "plug-in", "entry point", "distribution", "version"], plugins)),
        ("p", f"Benchmark fingerprint: {results.state['fingerprint']}"),
    ]


def _oracle_predictors(results: SuiteResults) -> set[str]:
    """Registered predictor names the oracle is made of (a shipped surrogate's, read from its label)."""
    oracle = results.state["suite"]["oracle"]
    if oracle["mode"] == "surrogate":
        return {oracle["predictor"]}
    if oracle["mode"] == "shipped":
        return set(re.findall(r"[\w.-]+", str(results.state.get("oracle", {}).get("predictor") or "")))
    return set()


def _latency_backends(results: SuiteResults) -> set[str]:
    columns = [o.column for o in results.norm.objectives] + [c.column for c in results.norm.constraints]
    return {c.partition(":")[2] for c in columns if c.startswith("latency:")}


def _blocks(results: SuiteResults, pareto: Path | None, curves: Path | None) -> list[Block]:
    suite = results.state["suite"]
    strategies = ", ".join(results.strategies)
    intro = (
        f"{len(results.strategies)} strategies ({strategies}) × {len(suite['seeds'])} seeds, "
        f"{suite['budget']['evaluations']} evaluations per run, on benchmark {results.state['fingerprint']} "
        f"({results.state['space']}, accuracy oracle: {results.state.get('oracle', {}).get('label', 'live')})."
    )
    blocks: list[Block] = [("h1", f"Suite {suite['name']}")]
    if suite.get("description"):
        blocks.append(("p", suite["description"]))
    blocks += [("p", intro), *_summary(results), *pairwise_blocks(results)]
    if pareto is not None:
        blocks += [("h2", "Pareto fronts"), ("image", (pareto, "Median attainment front per strategy")), ("p",
                   "Each line is the front reached by at least half of a strategy's seeds (the median attainment "
                   "surface); grey points are the reference front fixed before any run (the random sample's).")]  # fmt: skip
    if curves is not None:
        blocks += [("h2", "Hypervolume vs evaluations"), ("image", (curves, "Hypervolume vs evaluations")), ("p",
                   "Median hypervolume over seeds after each evaluation, in the suite's fixed normalisation; the band "
                   "spans the first to third quartile.")]  # fmt: skip
    return (
        blocks + _limits(results) + _runs(results) + _strategies(results) + _oracle(results) + _setup(results)
        + _environment(results)
    )  # fmt: skip
