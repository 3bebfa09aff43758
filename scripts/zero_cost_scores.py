"""Score archs of a measured archive with every zero-cost proxy and variant; write one CSV.

    python scripts/zero_cost_scores.py --n 200 --out results/zero_cost/scores.csv

One column per ``proxy@weights`` (``flops`` and ``params`` once, without a variant), plus the
archive index and both accuracies; ``<out>.seconds.json`` holds CPU and wall seconds per arch of
each column (memo cleared first, data loading and the benchmark's first load not counted). Columns
already in ``--out`` are kept and skipped, so an interrupted run resumes. One torch thread; with
``--jobs N`` each proxy scores on N worker processes of one thread each, and the CPU figure adds the
CPU time the workers report (a worker's reload of the benchmark, when loky replaces it, included).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from ofa_bench_predictors.zero_cost import ALL_PROXIES, NETWORK_PROXIES, clear_cache, worker_cpu_seconds

from ofa_bench.benchmark.zoo import resolve_benchmark
from ofa_bench.plugins import registry
from ofa_bench.predictor_eval import read_archive


def subset(n_total: int, n: int, seed: int) -> np.ndarray:
    """A sorted, seeded subset of ``n`` archive indices (all of them when ``n`` is 0 or too large)."""
    if n <= 0 or n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng([seed, 0x2C]).choice(n_total, n, replace=False))


def columns(proxies: list[str], weights: list[str]) -> list[tuple[str, str, str]]:
    """``(column, proxy, weights)`` for every proxy and variant asked for."""
    out = []
    for proxy in proxies:
        for w in weights if proxy in NETWORK_PROXIES else ["supernet"]:
            out.append((f"{proxy}@{w}" if proxy in NETWORK_PROXIES else proxy, proxy, w))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", default="shipped:fmnist")
    parser.add_argument("--benchmark", default="fmnist", help="benchmark directory or shipped name")
    parser.add_argument("--n", type=int, default=200, help="archs of a seeded subset (0: all)")
    parser.add_argument("--subset-seed", type=int, default=0)
    parser.add_argument("--proxies", default=",".join(ALL_PROXIES))
    parser.add_argument("--weights", default="supernet,init")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes per proxy (zc's jobs; one thread each)")
    parser.add_argument("--out", default="results/zero_cost/scores.csv")
    args = parser.parse_args()
    torch.set_num_threads(1)

    valid = read_archive(args.archive)
    test = read_archive(args.archive, target="test_accuracy")
    index = subset(len(valid), args.n, args.subset_seed)
    space, archs = valid.space, valid.array[index]
    bench = str(resolve_benchmark(args.benchmark))
    out = Path(args.out)
    seconds_path = out.with_suffix(".seconds.json")
    if out.exists():
        table = pd.read_csv(out)
        if not np.array_equal(table["index"].to_numpy(), index):
            raise SystemExit(f"{out} holds another subset; use another --out")
        seconds = json.loads(seconds_path.read_text()) if seconds_path.exists() else {}
    else:
        table = pd.DataFrame({"index": index, "accuracy": valid.y[index], "test_accuracy": test.y[index]})
        seconds = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    for column, proxy, weights in columns(args.proxies.split(","), args.weights.split(",")):
        if column in table.columns:
            continue
        params = {"proxy": proxy, "space": space}
        if proxy in NETWORK_PROXIES:
            params.update(weights=weights, benchmark=bench, batch_size=args.batch_size, seed=args.seed, jobs=args.jobs)
        predictor = registry.create("predictor", "zc", **params).fit(archs[:2], [0.0, 0.0])  # loads the benchmark
        # First call, not timed: builds the minibatch cache (and, with --jobs, starts the workers, each
        # loading the benchmark once).
        predictor.predict(archs[: max(1, args.jobs)])
        clear_cache()
        cpu, wall = time.process_time() + worker_cpu_seconds(), time.perf_counter()
        table[column] = predictor.predict(archs)
        cpu, wall = time.process_time() + worker_cpu_seconds() - cpu, time.perf_counter() - wall
        seconds[column] = {"cpu_per_arch": cpu / len(archs), "wall_per_arch": wall / len(archs), "jobs": args.jobs}
        table.to_csv(out, index=False)
        seconds_path.write_text(json.dumps(seconds, indent=1) + "\n")
        print(f"{column}: {cpu / len(archs):.3f} CPU s/arch, {wall / len(archs):.3f} wall s/arch", flush=True)


if __name__ == "__main__":
    main()
