"""The zero-cost table of docs/zero_cost.md from scripts/zero_cost_scores.py's CSV.

    python scripts/zero_cost_table.py results/zero_cost/scores.csv --out docs/zero_cost/table.csv

Per column (proxy and variant): Kendall tau, Spearman rho and top-10% precision against the
archive's validation and test accuracy (``ofa_bench.metrics.predictors.score``, what
``ofa-bench predictors evaluate`` reports), Kendall tau against the arch's MACs (the ``flops``
column, when the CSV has it), and CPU and wall seconds per arch. Prints a Markdown table. ``--source
random`` keeps the archs the archive drew at random (not those from search trajectories).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from ofa_bench.metrics.predictors import score
from ofa_bench.metrics.ranking import kendall_tau

TARGETS = {"accuracy": "val", "test_accuracy": "test"}


def table(scores: pd.DataFrame, seconds: dict) -> pd.DataFrame:
    rows = []
    for column in scores.columns:
        if column in ("index", *TARGETS):
            continue
        proxy, _, weights = column.partition("@")
        row = {"proxy": proxy, "weights": weights or "-"}
        for target, short in TARGETS.items():
            metrics = score(scores[target].to_numpy(), scores[column].to_numpy())
            row |= {f"tau_{short}": metrics["kendall_tau"], f"rho_{short}": metrics["spearman_rho"],
                    f"top10_{short}": metrics["top_precision"]}  # fmt: skip
        row["tau_macs"] = kendall_tau(scores[column], scores["flops"]) if "flops" in scores else float("nan")
        row["cpu_s_per_arch"] = seconds.get(column, {}).get("cpu_per_arch", float("nan"))
        row["wall_s_per_arch"] = seconds.get(column, {}).get("wall_per_arch", float("nan"))
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(frame: pd.DataFrame) -> str:
    head = "| proxy | weights | tau val | rho val | top-10% val | tau test | rho test | top-10% test | tau vs MACs | CPU s / arch | wall s / arch |"
    lines = [head, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in frame.itertuples():
        lines.append(
            f"| `{r.proxy}` | {r.weights} | {r.tau_val:.3f} | {r.rho_val:.3f} | {r.top10_val:.2f} | {r.tau_test:.3f} "
            f"| {r.rho_test:.3f} | {r.top10_test:.2f} | {r.tau_macs:.2f} | {r.cpu_s_per_arch:.3f} | {r.wall_s_per_arch:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", nargs="?", default="results/zero_cost/scores.csv")
    parser.add_argument("--out", default="docs/zero_cost/table.csv")
    parser.add_argument(
        "--source", help="only the archs the archive says came from this source (random, trajectory, extreme)"
    )
    parser.add_argument("--archive", default="shipped:fmnist", help="the archive the scores' index refers to")
    args = parser.parse_args()
    scores = pd.read_csv(args.scores)
    if args.source:
        from ofa_bench.benchmark.zoo import archive_file

        # Every row, repeats included: the scores' index counts the archive's rows (read_archive drops repeats).
        sources = pd.read_csv(archive_file(args.archive))["source"].astype(str)
        kind = sources.str.split(":").str[0].to_numpy()[scores["index"].to_numpy()]
        if args.source not in set(kind):
            raise SystemExit(f"--source {args.source!r}: no such archs; sources here: {', '.join(sorted(set(kind)))}")
        scores = scores[kind == args.source].reset_index(drop=True)
    seconds_path = Path(args.scores).with_suffix(".seconds.json")
    seconds = json.loads(seconds_path.read_text()) if seconds_path.exists() else {}
    frame = table(scores, seconds)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False, float_format="%.4f")
    print(f"{len(scores)} archs of the archive" + (f" (source {args.source})" if args.source else ""))
    print(markdown(frame))


if __name__ == "__main__":
    main()
