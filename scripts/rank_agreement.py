"""Rank agreement between the live Fashion-MNIST benchmark and its shipped surrogate (issue 14, item 5).

    .venv/bin/python scripts/rank_agreement.py --out out/agreement [--only live|shipped] [--jobs 2] [--noisy]

Runs ``benchmarks/agreement.yaml`` twice, with ``oracle.mode`` live and shipped, into
``OUT/live`` and ``OUT/shipped`` (each resumable: rerun the same command after a kill), then
writes ``OUT/agreement.json``: each strategy's median hypervolume both ways, the Kendall tau
between the two rankings by median hypervolume, and the Holm-corrected verdicts against random
search both ways (with Holm-adjusted p and the Vargha-Delaney effect size) and whether they agree.

To tell a disagreement from seed noise it also bootstraps the seeds (2,000 resamples, each
strategy's runs drawn with replacement in each half): the tau between a resampled live ranking and
a resampled surrogate ranking, next to the tau between two independent resamples of the live half
alone (how well the live benchmark agrees with itself at this many seeds: the ceiling). Random
search proposes the same archs under both oracles, so its per-seed hypervolumes pair up directly;
the same proposals are also scored by the surrogate's mean prediction with and without its
calibration map (section 3 of docs/fmnist_benchmark.md), which isolates what calibration did to the
bias. The all-pairs verdicts (Holm across every ordered pair of strategies) are compared both ways.
The live half needs the dataset installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ofa_bench.io.atomic import write_text_atomic
from ofa_bench.metrics.ranking import kendall_tau
from ofa_bench.suite import load_suite, run_suite
from ofa_bench.suite.results import collect_results

SUITE = Path(__file__).resolve().parents[1] / "benchmarks" / "agreement.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/agreement"))
    parser.add_argument("--suite", type=Path, default=SUITE)
    parser.add_argument(
        "--only", choices=("live", "shipped"), help="run one half only (e.g. the live one in the background)"
    )
    parser.add_argument("--jobs", type=int, default=None, help="parallel runs (default: CPU cores)")
    parser.add_argument(
        "--noisy", action="store_true",
        help="the surrogate half answers with its noise model (oracle.noisy) into OUT/shipped-noisy, "
             "and the figures go to OUT/agreement-noisy.json; the live half is shared",
    )  # fmt: skip
    args = parser.parse_args()
    folders = {"live": "live", "shipped": "shipped-noisy" if args.noisy else "shipped"}
    modes = [args.only] if args.only else ["shipped", "live"]
    for mode in modes:
        overrides = {"oracle.mode": mode}
        if mode == "shipped" and args.noisy:
            overrides["oracle.noisy"] = True
        if args.jobs:
            overrides["engine.jobs"] = args.jobs
        suite = load_suite(args.suite, overrides)
        print(f"running the {mode} half into {args.out / folders[mode]}", file=sys.stderr, flush=True)
        run_suite(suite, args.out / folders[mode])
    if not all((args.out / folder / "suite.json").is_file() for folder in folders.values()):
        return 0
    halves = {mode: collect_results(args.out / folder) for mode, folder in folders.items()}
    per_seed = {mode: r.runs.pivot(index="seed", columns="strategy", values="hv") for mode, r in halves.items()}
    medians = {mode: table.median() for mode, table in per_seed.items()}
    strategies = sorted(set(medians["live"].index) & set(medians["shipped"].index))
    live = [float(medians["live"][s]) for s in strategies]
    shipped = [float(medians["shipped"][s]) for s in strategies]
    verdicts = {mode: sorted(r.beats_baseline("hv")) for mode, r in halves.items()}
    unfinished = {mode: r.unfinished for mode, r in halves.items()}
    all_pairs = {mode: set(r.beats("hv")) for mode, r in halves.items()}
    tests = {}
    for mode, r in halves.items():
        rows = r.summary[(r.summary["metric"] == "hv") & r.summary["p_adjusted"].notna()]
        tests[mode] = {row["strategy"]: row for row in rows.to_dict("records")}
    versus = {
        s: {mode: {"p_holm": float(tests[mode][s]["p_adjusted"]), "effect_size_a12": float(tests[mode][s]["effect_size"])}
            for mode in halves}
        for s in strategies if all(s in tests[mode] for mode in halves)
    }  # fmt: skip
    out = {
        "suite": _shown(args.suite),
        "surrogate_noisy": args.noisy,
        "strategies": strategies,
        "median_hv": {s: {"live": a, "shipped": b} for s, a, b in zip(strategies, live, shipped)},
        "kendall_tau": kendall_tau(live, shipped),
        "seed_bootstrap": bootstrap_taus(per_seed["live"][strategies], per_seed["shipped"][strategies]),
        "beats_random_holm": verdicts,
        "versus_random": versus,
        "verdicts_agree": verdicts["live"] == verdicts["shipped"],
        "all_pairs_beats": {mode: [list(pair) for pair in sorted(pairs)] for mode, pairs in all_pairs.items()},
        "all_pairs_agree": all_pairs["live"] == all_pairs["shipped"],
        "same_proposals": {
            "strategy": "random",
            "hv_by_seed": {
                int(seed): {mode: float(per_seed[mode].loc[seed, "random"]) for mode in halves}
                for seed in per_seed["live"].index
            },
            "calibration": calibration_effect(args.out / "live", halves["live"].norm, per_seed["live"]["random"]),
        },
        "unfinished": unfinished,
    }
    write_text_atomic(args.out / f"agreement{'-noisy' if args.noisy else ''}.json", json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (the figures are committed)."""
    root = SUITE.parents[1]
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def calibration_effect(live_out: Path, norm, live_hv: pd.Series) -> dict:
    """Random search's live proposals scored by the surrogate's mean, without and with calibration.

    Per seed: the hypervolume of the run's archs with their measured MMACs and the surrogate's mean
    accuracy (no noise draw, so the two differ only by the calibration map), minus the live run's
    hypervolume. Negative: the surrogate under-rates the run (it shrinks the best archs).
    """
    from ofa_bench.benchmark.surrogate import ShippedSurrogate, load_surrogate
    from ofa_bench.metrics.anytime import anytime_hypervolume
    from ofa_bench.search.runlog import read_log

    calibrated = load_surrogate("fmnist")
    raw = ShippedSurrogate(predictor=calibrated.predictor, target=calibrated.target, label=calibrated.label)
    space = calibrated.predictor.space_
    out: dict = {"by_seed": {}}
    for seed, live in live_hv.items():
        records = read_log(live_out / "units" / f"random-s{seed}")  # as the suite reads it, validated
        if len(records) == 0:
            continue
        archs = [space.from_dict(json.loads(arch)) for arch in records["arch"]]
        row = {"live": float(live)}
        for name, surrogate in (("before", raw), ("after", calibrated)):
            scored = records.assign(accuracy=surrogate.predict(archs))
            row[name] = float(anytime_hypervolume(scored, norm)["hv"].iloc[-1]) - float(live)
        check = float(anytime_hypervolume(records, norm)["hv"].iloc[-1])
        if abs(check - float(live)) > 1e-9:  # the same hypervolume as the suite's results, or nothing
            raise SystemExit(f"random-s{seed}: recomputed live hv {check} differs from the suite's {live}")
        out["by_seed"][int(seed)] = row
    for name in ("before", "after"):
        bias = np.array([r[name] for r in out["by_seed"].values()])
        out[f"bias_{name}"] = {"median": float(np.median(bias)), "min": float(bias.min()), "max": float(bias.max()),
                               "negative_seeds": int((bias < 0).sum()), "seeds": len(bias)}  # fmt: skip
    return out


def bootstrap_taus(live: pd.DataFrame, shipped: pd.DataFrame, n: int = 2000, seed: int = 0) -> dict:
    """Seed-bootstrap distribution of rank agreement: live vs surrogate, and live vs itself (the ceiling).

    ``live`` and ``shipped``: hypervolume per seed (rows) and strategy (columns). Each resample
    draws every strategy's seeds with replacement and ranks strategies by median hypervolume.
    """
    rng = np.random.default_rng(seed)

    def resample(table) -> np.ndarray:
        values = table.to_numpy()
        rows = rng.integers(0, values.shape[0], size=values.shape)
        return np.median(np.take_along_axis(values, rows, axis=0), axis=0)

    cross = np.array([kendall_tau(resample(live), resample(shipped)) for _ in range(n)])
    self_ = np.array([kendall_tau(resample(live), resample(live)) for _ in range(n)])

    def summary(taus: np.ndarray) -> dict:
        taus = np.nan_to_num(taus)  # a resample with tied medians throughout has no ranking: tau 0
        return {"median": float(np.median(taus)), "mean": float(taus.mean()),
                "q05": float(np.quantile(taus, 0.05)), "q95": float(np.quantile(taus, 0.95))}  # fmt: skip

    return {"resamples": n, "live_vs_shipped": summary(cross), "live_vs_live": summary(self_)}


if __name__ == "__main__":
    raise SystemExit(main())
