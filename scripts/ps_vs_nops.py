"""Progressive shrinking vs the no-PS baseline on digits (the table in docs/ps_vs_nops.md).

For each seed, trains ofa-mini twice under the same total epochs, once with the default
progressive-shrinking schedule and once with everything elastic from the start, then measures
eight fixed sub-networks (depth {min,max} x expand {min,max} x kernel {3,7}, same for all blocks,
largest resolution) with BN re-calibration. Usage: ``python scripts/ps_vs_nops.py OUT_DIR [SEEDS]``.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from ofa_bench.benchmark import Benchmark
from ofa_bench.evaluate import Evaluator
from ofa_bench.space import get_space
from ofa_bench.train import default_schedule, no_ps_schedule
from ofa_bench.train.trainer import Trainer


def fixed_subnets(space):
    """The eight corner sub-networks of the paper's comparison."""
    r = max(space.resolutions)
    out = []
    for d, e, k in itertools.product((min(space.d_choices), max(space.d_choices)),
                                     (min(space.e_choices), max(space.e_choices)), (3, 7)):
        out.append(space.arch([k] * space.n_blocks, [e] * space.n_blocks, [d] * space.n_stages, r))
    return out


def main() -> None:
    out = Path(sys.argv[1])
    seeds = [int(s) for s in (sys.argv[2] if len(sys.argv) > 2 else "0,1,2").split(",")]
    space = get_space("ofa-mini")
    archs = fixed_subnets(space)
    results = {}
    for seed in seeds:
        for mode in ("ps", "no-ps"):
            directory = out / f"{mode}-seed{seed}"
            if not (directory / "benchmark.json").exists():
                schedule = default_schedule(space)
                if mode == "no-ps":
                    schedule = no_ps_schedule(schedule)
                started = time.perf_counter()
                Trainer(space, directory, schedule, seed=seed).fit(resume=(directory / "checkpoint.pt").exists())
                print(f"{mode} seed {seed}: trained in {time.perf_counter() - started:.0f} s", flush=True)
            with Evaluator(Benchmark.load(directory)) as evaluator:
                accuracy = evaluator.evaluate(archs, ("macs",))["accuracy"].to_numpy()
            results[(mode, seed)] = accuracy
            print(mode, seed, np.round(accuracy * 100, 1).tolist(), flush=True)
    rows = []
    for i, arch in enumerate(archs):
        cells = []
        for mode in ("ps", "no-ps"):
            values = np.array([results[(mode, s)][i] for s in seeds]) * 100
            cells.append(f"{np.median(values):.1f} ({values.min():.1f}-{values.max():.1f})")
        label = f"d={arch.d[0]} e={arch.e[0]} k={arch.ks[0]}"
        rows.append(f"| {label} | {cells[0]} | {cells[1]} |")
    (out / "table.md").write_text("\n".join(rows) + "\n")
    (out / "results.json").write_text(json.dumps({f"{m}-{s}": v.tolist() for (m, s), v in results.items()}))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
