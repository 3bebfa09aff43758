"""Rank agreement between the live Fashion-MNIST benchmark and its shipped surrogate (issue 14, item 5).

    .venv/bin/python scripts/rank_agreement.py --out out/agreement [--only live|shipped] [--jobs 2]

Runs ``benchmarks/agreement.yaml`` twice, with ``oracle.mode`` live and shipped, into
``OUT/live`` and ``OUT/shipped`` (each resumable: rerun the same command after a kill), then
writes ``OUT/agreement.json``: each strategy's median hypervolume both ways, the Kendall tau
between the two rankings by median hypervolume, and the Holm-corrected verdicts against random
search both ways with whether they agree. The live half needs the dataset installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scipy.stats import kendalltau

from ofa_bench.atomic import write_text_atomic
from ofa_bench.harness import load_suite, run_suite
from ofa_bench.harness.results import collect_results

SUITE = Path(__file__).resolve().parents[1] / "benchmarks" / "agreement.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/agreement"))
    parser.add_argument("--suite", type=Path, default=SUITE)
    parser.add_argument("--only", choices=("live", "shipped"), help="run one half only (e.g. the live one in the background)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel runs (default: CPU cores)")
    args = parser.parse_args()
    modes = [args.only] if args.only else ["shipped", "live"]
    for mode in modes:
        overrides = {"oracle.mode": mode}
        if args.jobs:
            overrides["engine.jobs"] = args.jobs
        suite = load_suite(args.suite, overrides)
        print(f"running the {mode} half into {args.out / mode}", file=sys.stderr, flush=True)
        run_suite(suite, args.out / mode)
    if not all((args.out / mode / "suite.json").is_file() for mode in ("live", "shipped")):
        return 0
    halves = {mode: collect_results(args.out / mode) for mode in ("live", "shipped")}
    medians = {mode: r.runs.groupby("strategy")["hv"].median() for mode, r in halves.items()}
    strategies = sorted(set(medians["live"].index) & set(medians["shipped"].index))
    live = [float(medians["live"][s]) for s in strategies]
    shipped = [float(medians["shipped"][s]) for s in strategies]
    verdicts = {mode: sorted(r.beats_baseline("hv")) for mode, r in halves.items()}
    unfinished = {mode: r.unfinished for mode, r in halves.items()}
    out = {
        "suite": str(args.suite),
        "strategies": strategies,
        "median_hv": {s: {"live": a, "shipped": b} for s, a, b in zip(strategies, live, shipped)},
        "kendall_tau": float(kendalltau(live, shipped).statistic),
        "beats_random_holm": verdicts,
        "verdicts_agree": verdicts["live"] == verdicts["shipped"],
        "unfinished": unfinished,
    }
    write_text_atomic(args.out / "agreement.json", json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
