"""Does a zero-cost warm start help evolution? Plain vs proxy-warm-started aging evolution on the shipped surrogate.

    python scripts/zero_cost_search.py --proxy nwot --n-candidates 200 --seeds 10 --budget 150 \\
        --out docs/zero_cost/search.csv

Both strategies maximise accuracy on ofa-fmnist, answered by the shipped Fashion-MNIST benchmark's
surrogate of validation accuracy with its seeded measurement noise (what the default suite's
``oracle: {mode: shipped}`` answers), 10 seeds each. The warm start's proxy cost is charged in
evaluations: ``ceil(n_candidates x proxy CPU s per arch / live measurement CPU s per arch)``, both
timed here on one thread (the proxy on ``--time-archs`` random archs, the live measurement of
validation accuracy, BN re-calibration included, on as many), and taken off its budget. Reported per
run: the best noise-free surrogate validation accuracy among the evaluated archs, and the
surrogate's test accuracy of the arch the run returns (its best noisy validation answer).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from ofa_bench_predictors.zero_cost import clear_cache
from ofa_bench_strategies.regularized_evolution import RegularizedEvolution
from ofa_bench_strategies.zc_warm_evolution import ZCWarmEvolution

from ofa_bench.benchmark.measure import Measurer
from ofa_bench.benchmark.surrogate import load_surrogate
from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.metrics.statistics import a12, rank_test
from ofa_bench.plugins import registry
from ofa_bench.search.loop import run_search


def exchange_rate(bench: Benchmark, proxy: str, n: int, batch_size: int) -> tuple[float, float]:
    """CPU seconds per arch of the proxy and of one live validation measurement, on ``n`` random archs."""
    archs = bench.space.sample(n, rng=np.random.default_rng(123))
    zc = registry.create("predictor", "zc", proxy=proxy, benchmark=str(bench.directory), batch_size=batch_size)
    zc.fit(archs[:2], [0.0, 0.0]).predict(archs[:1])
    clear_cache()
    start = time.process_time()
    zc.predict(archs)
    proxy_s = (time.process_time() - start) / n
    measurer = Measurer(bench)
    measurer.measure(archs[0])  # loads the data and the supernet
    start = time.process_time()
    for arch in archs:
        measurer.measure(arch)
    return proxy_s, (time.process_time() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proxy", default="nwot")
    parser.add_argument("--weights", default="supernet")
    parser.add_argument("--n-candidates", type=int, default=200)
    parser.add_argument("--population-size", type=int, default=50)
    parser.add_argument("--sample-size", type=int, default=10)
    parser.add_argument("--budget", type=int, default=150)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64, help="proxy minibatch")
    parser.add_argument("--time-archs", type=int, default=5)
    parser.add_argument("--out", default="docs/zero_cost/search.csv")
    args = parser.parse_args()
    torch.set_num_threads(1)

    bench = Benchmark.load("fmnist")
    valid, test = load_surrogate("fmnist", "valid", benchmark=bench), load_surrogate("fmnist", "test", benchmark=bench)
    proxy_s, measure_s = exchange_rate(bench, args.proxy, args.time_archs, args.batch_size)
    charge = math.ceil(args.n_candidates * proxy_s / measure_s) if args.proxy not in ("flops", "params") else 0
    print(f"proxy {proxy_s:.3f} CPU s/arch, live measurement {measure_s:.3f} CPU s/arch: "
          f"{args.n_candidates} candidates cost {charge} evaluations")  # fmt: skip

    evo = {"population_size": args.population_size, "sample_size": args.sample_size}
    warm = {**evo, "proxy": args.proxy, "weights": args.weights, "n_candidates": args.n_candidates,
            "benchmark": str(bench.directory), "batch_size": args.batch_size}  # fmt: skip
    rows = []
    for seed in range(args.seeds):
        noisy = valid.with_noise(seed)

        def evaluate(archs, oracle=noisy):
            return [{"accuracy": float(v)} for v in oracle.predict(archs)]

        for label, strategy, budget in (
            ("regularized-evolution", RegularizedEvolution(**evo), args.budget),
            (f"zc-evolution ({args.proxy})", ZCWarmEvolution(**warm), args.budget - charge),
        ):
            result = run_search(strategy, bench.space, "accuracy", [], evaluate, budget, seed, batch_size=10)
            answers = result.records["accuracy"]
            clean = valid.predict(result.X)
            returned = result.X[int(np.nanargmax(answers))][None, :]
            rows.append({
                "strategy": label, "seed": seed, "evaluations": budget, "charged": args.budget - budget,
                "best_valid": float(clean.max()), "returned_test": float(test.predict(returned)[0]),
                "best_valid_at_50": float(clean[: max(1, 50 - (args.budget - budget))].max()),
                "proxy_cpu_s": getattr(strategy, "proxy_seconds_", 0.0),
            })  # fmt: skip
            print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False, float_format="%.5f")
    plain, zc = (frame[frame.strategy == s] for s in frame.strategy.unique())
    print(f"\nnoise sd of one measurement: {valid.noise_sd:.4f}")
    print(
        "| strategy | evaluations | best valid (median, IQR) | returned arch's test (median, IQR) | best valid at 50 |"
    )
    print("| --- | ---: | --- | --- | --- |")
    for name, part in frame.groupby("strategy", sort=False):
        cells = []
        for column in ("best_valid", "returned_test", "best_valid_at_50"):
            q25, q50, q75 = np.percentile(part[column], [25, 50, 75])
            cells.append(f"{q50:.4f} ({q25:.4f}-{q75:.4f})")
        print(f"| `{name}` | {int(part.evaluations.iloc[0])} | " + " | ".join(cells) + " |")
    for column in ("best_valid", "returned_test", "best_valid_at_50"):
        x, base = zc[column].to_numpy(), plain[column].to_numpy()
        print(
            f"{column}: A12 (zc-evolution vs plain) {a12(x, base, 'max'):.2f}, "
            f"one-sided rank test p = {rank_test(x, base, 'max'):.3f}"
        )


if __name__ == "__main__":
    main()
