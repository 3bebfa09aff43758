"""Hypervolume of every built-in strategy vs random search on the digits benchmark, via a surrogate oracle.

A predictor is fitted on a measured archive of the benchmark (``ofa-bench archive ... --out
archive.jsonl``) and answers the accuracy of every arch a strategy proposes, with exact MACs, so
5 seeds x 7 strategies x 200 evaluations take a minute or two. Objectives: maximise accuracy,
minimise ``latency:mmacs``. The hypervolume is pymoo's, of ``(1 - accuracy, MMACs)`` normalised by
fixed bounds (error between 0 and ``--max-error``, default 10%, as digits archs score 90-99%; MACs
between the space's smallest and largest arch), with the reference point (1, 1). Prints median and interquartile range per strategy and whether the
median beats random's.

Run: ``.venv/bin/python scripts/strategy_hv.py [--bench out/digits] [--budget 200] [--seeds 5]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.objectives import analytic_columns, minimum_of
from ofa_bench.plugins import registry
from ofa_bench.search.loop import run_search
from ofa_bench.search.predictor_evaluate import PredictorEvaluate

STRATEGIES = ("random", "evolution", "pareto-evolution", "nsga2", "tpe", "local-search", "surrogate")


def load_archive(bench: Benchmark, archive: Path, size: int | None) -> tuple[list, np.ndarray]:
    """Archs and accuracies of the archive file, or of the benchmark's seeded archive of ``size``.

    The seeded archive (``ofa_bench.evaluate.archive``, seed 0) comes from the benchmark's cache
    when ``ofa-bench archive`` measured it already, so a prefix of an unfinished one is free.
    """
    space = bench.space
    if size is None:
        rows = [json.loads(line) for line in archive.read_text().splitlines() if line.strip()]
        rows = [r for r in rows if r.get("accuracy") is not None]
        archs = [space.from_dict({k: r[k] for k in ("ks", "e", "d", "r")}) for r in rows]
        return archs, np.array([r["accuracy"] for r in rows], dtype=np.float64)
    from ofa_bench.evaluate import archive as measure

    df = measure(bench, size, seed=0, backends=("macs",))
    return [space.from_json(a) for a in df["arch"]], df["accuracy"].to_numpy(dtype=np.float64)


def fit_oracle(archs: list, y: np.ndarray, predictor: str) -> object:
    """The accuracy predictor fitted on every arch of the archive."""
    return registry.create("predictor", predictor).fit(archs, y)


def hypervolume(result: object, space: object, max_error: float) -> float:
    """Normalised hypervolume of the run's measured points (accuracy up, MACs down)."""
    from pymoo.indicators.hv import HV

    low = minimum_of(space, "macs")
    high = float(analytic_columns(space, space.to_array([space.largest()]), ["macs"])["macs"][0])
    accuracy, macs = result.records["accuracy"], result.records["macs"]
    ok = np.isfinite(accuracy) & np.isfinite(macs)
    points = np.column_stack([(1.0 - accuracy[ok]) / max_error, (macs[ok] - low) / (high - low)])
    return float(HV(ref_point=np.array([1.0, 1.0]))(points)) if len(points) else 0.0


def main(argv: list[str] | None = None) -> int:
    """Print the table; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default="out/digits", help="benchmark directory (default out/digits)")
    parser.add_argument("--archive", help="archive JSONL (default <bench>/archive.jsonl)")
    parser.add_argument("--archive-size", type=int, help="use the first N archs of the seed-0 archive instead (cached)")
    parser.add_argument("--predictor", default="gbdt", help="oracle predictor plug-in (default gbdt)")
    parser.add_argument("--max-error", type=float, default=0.1, help="error (1 - accuracy) at the reference point")
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    args = parser.parse_args(argv)
    bench = Benchmark.load(args.bench)
    archive = Path(args.archive or Path(args.bench) / "archive.jsonl")
    if args.archive_size is None and not archive.exists():
        print(f"no archive at {archive}; measure one: ofa-bench archive --bench {args.bench} -n 1000 --out {archive}")
        return 2
    archs, y = load_archive(bench, archive, args.archive_size)
    oracle = fit_oracle(archs, y, args.predictor)
    source = f"{len(archs)} archs of " + (f"the seed-0 archive of {args.bench}" if args.archive_size else str(archive))
    evaluate = PredictorEvaluate(bench.space, oracle)
    table: dict[str, tuple[list[float], list[float]]] = {}
    for name in args.strategies.split(","):
        volumes, overhead = [], []
        for seed in range(args.seeds):
            result = run_search(name, bench.space, "accuracy,latency:mmacs", [], evaluate, args.budget, seed)
            volumes.append(hypervolume(result, bench.space, args.max_error))
            overhead.append(float(result.times[:, 1].mean() * 1e3))
        table[name] = (volumes, overhead)
        print(f"  {name}: done", file=sys.stderr)
    baseline = float(np.median(table["random"][0])) if "random" in table else float("nan")
    print(f"Hypervolume at budget {args.budget}, {args.seeds} seeds, {args.predictor} oracle fitted on {source} "
          f"({bench.space.name}, fingerprint {bench.fingerprint})")  # fmt: skip
    print(f"{'strategy':18s} {'median HV':>10s} {'IQR':>17s} {'vs random':>10s} {'ms/arch':>8s}")
    for name, (volumes, overhead) in table.items():
        q1, med, q3 = np.percentile(volumes, [25, 50, 75])
        verdict = "-" if name == "random" else ("beats" if med > baseline else "does not")
        print(f"{name:18s} {med:10.4f} {q1:8.4f}-{q3:.4f} {verdict:>10s} {np.median(overhead):8.2f}")
    return 0


if __name__ == "__main__":
    start = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    sys.exit(code)
