"""Measure the figures of a Fashion-MNIST benchmark (issue 13's acceptance) and write them as JSON.

    .venv/bin/python scripts/fmnist_figures.py --bench fmnist --out out/fmnist_figures.json

Figures: the largest subnet's test accuracy; five recorded archs (largest, smallest, three seeded
random ones) with their valid and test accuracies, which ``ofa-bench evaluate --bench fmnist
--split test`` must reproduce; live evaluation time per arch (BN calibration + the whole
validation split, no cache: wall and CPU seconds); the test-accuracy span of random subnets; and
the noise ceiling from two halves of the validation split (:func:`ofa_bench.predictor_eval.
noise_ceiling`). Random archs are measured in chunks and the file is rewritten after each, so a
run cut short still reports its figures, with the number of archs they rest on; running again
resumes (test accuracies come from the benchmark's cache, validation halves from the file).
``--only test`` (recorded archs, timing, test span) and ``--only valid`` (noise ceiling) split the
work between two processes with separate ``--out`` files, e.g. on a machine shared with other work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ofa_bench.benchmark.noise import Remeasurement, noise_ceiling, remeasure
from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.evaluate import Evaluator


def _write(path: Path, figures: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(figures, indent=2) + "\n")
    os.replace(tmp, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default="fmnist", help="benchmark directory or shipped name")
    parser.add_argument("--out", type=Path, required=True, help="figures JSON (rewritten after each chunk)")
    parser.add_argument("--archs", type=int, default=300, help="random archs for the span and noise ceiling")
    parser.add_argument("--span-archs", type=int, default=200, help="how many of them give the test span")
    parser.add_argument("--timing", type=int, default=10, help="archs timed live, without cache")
    parser.add_argument("--seed", type=int, default=2026, help="sampling seed of the random archs")
    parser.add_argument("--chunk", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    parser.add_argument("--only", choices=("test", "valid"), help="only the test-split or the validation figures")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    bench = Benchmark.load(args.bench)
    space = bench.space
    figures = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if figures.get("fingerprint") not in (None, bench.fingerprint):
        sys.exit(f"{args.out} holds figures of benchmark {figures['fingerprint']}, not {bench.fingerprint}")
    figures.update(fingerprint=bench.fingerprint, preset=space.name, threads=args.threads)
    valid = Evaluator(bench, device="cpu")
    test = Evaluator(bench, device="cpu", split="test")

    want_test, want_valid = args.only in (None, "test"), args.only in (None, "valid")
    if "recorded" not in figures and want_test:
        recorded = [space.largest(), space.smallest(), *space.sample(3, 7)]
        v, t = valid.evaluate(recorded), test.evaluate(recorded)
        figures["recorded"] = [
            {"arch": a.to_dict(), "valid": float(va), "test": float(ta)}
            for a, va, ta in zip(recorded, v["accuracy"], t["accuracy"])
        ]
        figures["largest"] = figures["recorded"][0]
        _write(args.out, figures)

    if "timing" not in figures and args.timing > 0 and want_test:
        timed = space.sample(args.timing, args.seed + 1)
        with Evaluator(bench, device="cpu", cache=False) as cold:
            cold.evaluate(timed[:1])  # data and weights loaded outside the timing
            wall, cpu = time.perf_counter(), time.process_time()
            cold.evaluate(timed)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        figures["timing"] = {
            "archs": args.timing,
            "wall_s_per_arch": wall / args.timing,
            "cpu_s_per_arch": cpu / args.timing,
            "archs_per_s": args.timing / wall,
            "load_average": os.getloadavg()[0],
        }
        _write(args.out, figures)

    archs = space.sample(args.archs, args.seed)
    done = figures.setdefault("random", {"valid": [], "halves": [], "test": []})
    goals = ([("test", args.span_archs)] if want_test else []) + ([("valid", args.archs)] if want_valid else [])
    for key, goal in goals:
        while len(done[key]) < min(goal, len(archs)):
            chunk = archs[len(done[key]) : min(len(done[key]) + args.chunk, goal)]
            if key == "test":
                done["test"] += test.evaluate(chunk)["accuracy"].tolist()
                span = np.asarray(done["test"])
                figures["span"] = {
                    "archs": int(len(span)),
                    "test_min": float(span.min()),
                    "test_max": float(span.max()),
                    "points": float(100 * (span.max() - span.min())),
                }
                print(f"{len(span)} archs: test span {figures['span']['points']:.2f} points", flush=True)
            else:
                again = remeasure(bench, chunk, calibration_seed=None, device="cpu")
                done["valid"] += again.accuracy.tolist()
                done["halves"] += again.halves.tolist()
                valid_acc, halves = np.asarray(done["valid"]), np.asarray(done["halves"])
                ceiling = noise_ceiling(valid_acc, Remeasurement(valid_acc, halves, None))
                figures["noise_ceiling"] = {"archs": len(valid_acc), **ceiling["split_half"]}
                print(f"{len(valid_acc)} archs: tau ceiling {ceiling['split_half']['tau_ceiling']:.3f}", flush=True)
            _write(args.out, figures)
    valid.close()
    test.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
