"""Progressive shrinking (PS) vs random-subnet sampling (RSS) at equal compute (docs/ps_vs_nops.md).

    .venv/bin/python scripts/ps_vs_nops.py out/ps_vs_rss --bench digits --seeds 0,1,2
    .venv/bin/python scripts/ps_vs_nops.py out/ps_vs_rss --bench fmnist --seeds 0,1 --scale 0.25 --threads 2

For each seed, trains the preset twice: once with the progressive-shrinking schedule (digits: the
default one; fmnist: the shipped ``fmnist`` schedule with every phase's epochs times ``--scale``)
and once with :func:`ofa_bench.train.rss_schedule` of it: one uniformly random sub-network per
step, every dimension elastic from the start, for as many sub-network epochs as PS makes, the same
cosine learning-rate family and optimiser settings. Then measures eight fixed sub-networks (depth
{min,max} x expand {min,max} x kernel {3,7}, the same in every block, largest resolution) with BN
re-calibration, on the validation split (digits has no separate test split) or the test split
(fmnist). Resumable: a killed run continues from its checkpoint when the command is rerun. Writes
``OUT/BENCH/results.json`` and ``OUT/BENCH/table.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.data import DataSpec
from ofa_bench.evaluate import Evaluator
from ofa_bench.io.atomic import write_text_atomic
from ofa_bench.space import get_space
from ofa_bench.train import default_schedule, load_schedule, rss_schedule, scaled_schedule
from ofa_bench.train.trainer import Trainer

SETTINGS = {
    # bench: (preset, data, split the table reports)
    "digits": ("ofa-mini", DataSpec(), "valid"),
    "fmnist": ("ofa-fmnist", DataSpec(dataset="fashion-mnist", val_fraction=1 / 6), "test"),
}


def fixed_subnets(space):
    """The eight corner sub-networks of OFA's Figure 4 comparison."""
    r = max(space.resolutions)
    out = []
    for d, e, k in itertools.product((min(space.d_choices), max(space.d_choices)),
                                     (min(space.e_choices), max(space.e_choices)), (3, 7)):  # fmt: skip
        out.append(space.arch([k] * space.n_blocks, [e] * space.n_blocks, [d] * space.n_stages, r))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--bench", choices=sorted(SETTINGS), default="digits")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every PS phase's epochs (fmnist: reduced budget)"
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument(
        "--only", choices=("ps", "rss"), help="train one method only (to run the two side by side); writes no table"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    preset, data, split = SETTINGS[args.bench]
    space = get_space(preset)
    ps = load_schedule("fmnist") if args.bench == "fmnist" else default_schedule(space)
    if args.scale != 1.0:
        ps = scaled_schedule(ps, args.scale)
    schedules = {"ps": ps, "rss": rss_schedule(ps)}
    seeds = [int(s) for s in args.seeds.split(",")]
    archs = fixed_subnets(space)
    out = args.out / args.bench
    runs = []
    for seed, (method, schedule) in itertools.product(seeds, schedules.items()):
        if args.only and method != args.only:
            continue
        directory = out / f"{method}-seed{seed}"
        if not (directory / "benchmark.json").exists():
            resumed = (directory / "checkpoint.pt").exists()
            started, cpu = time.perf_counter(), time.process_time()
            Trainer(space, directory, schedule, data, seed=seed).fit(resume=resumed)
            spent = {"cpu_s": round(time.process_time() - cpu, 1), "resumed": resumed}
            write_text_atomic(directory / "cpu.json", json.dumps(spent) + "\n")
            print(f"{method} seed {seed}: trained in {time.perf_counter() - started:.0f} s", flush=True)
        bench = Benchmark.load(directory)
        with Evaluator(bench, split=split) as evaluator:
            accuracy = evaluator.evaluate(archs, ("mmacs",))["accuracy"].to_numpy()
        # seconds: the epochs' own times, summed, so a resumed run counts every epoch once
        runs.append(
            {
                "method": method,
                "seed": seed,
                "seconds": round(sum(log["seconds"] for log in bench.training["history"]), 1),
                # CPU time of the training process: less sensitive than wall time to other work on the
                # machine; covers only the last leg of a resumed run ("resumed": true)
                **_cpu(directory),
                "epochs": schedule.total_epochs,
                "subnet_epochs": schedule.subnet_epochs,
                "accuracy": accuracy.tolist(),
            }
        )
        print(method, seed, np.round(accuracy * 100, 1).tolist(), flush=True)
    if args.only:
        return
    labels = [f"d={a.d[0]} e={a.e[0]} k={a.ks[0]}" for a in archs]
    results = {
        "bench": args.bench, "preset": preset, "split": split, "scale": args.scale, "seeds": seeds,
        "threads": torch.get_num_threads(), "subnets": labels,
        "schedules": {m: s.model_dump(mode="json") for m, s in schedules.items()}, "runs": runs,
    }  # fmt: skip
    write_text_atomic(out / "results.json", json.dumps(results, indent=1) + "\n")
    write_text_atomic(out / "table.md", table(results))
    print(table(results))


def table(results: dict) -> str:
    """The doc's table: per sub-network median (min-max) over seeds in %, and RSS - PS paired by seed."""
    acc = {m: np.array(v) * 100 for m, v in _by_method(results, "accuracy").items()}  # seeds x subnets
    lines = ["| sub-network | PS | RSS | RSS - PS (mean over seeds) |", "| --- | --- | --- | --- |"]
    for i, label in enumerate(results["subnets"]):
        cells = [f"{np.median(acc[m][:, i]):.1f} ({acc[m][:, i].min():.1f}-{acc[m][:, i].max():.1f})" for m in acc]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {np.mean(acc['rss'][:, i] - acc['ps'][:, i]):+.1f} |")
    diff = acc["rss"] - acc["ps"]
    lines.append(f"| **all eight** | {acc['ps'].mean():.1f} | {acc['rss'].mean():.1f} | {diff.mean():+.1f} |")
    lines += ["", "| | PS | RSS |", "| --- | --- | --- |"]
    for key, title, per_seed in (
        ("epochs", "epochs", False),  # the same for every seed: shown once
        ("subnet_epochs", "sub-network epochs", False),
        ("seconds", "training wall time, s (per seed)", True),
        ("cpu_s", "training CPU time, s (per seed)", True),
    ):
        shown = {m: v if per_seed else v[:1] for m, v in _by_method(results, key).items()}
        lines.append(f"| {title} | {_joined(shown['ps'])} | {_joined(shown['rss'])} |")
    return "\n".join(lines) + "\n"


def _by_method(results: dict, key: str) -> dict[str, list]:
    """``key`` of every run, per method, in seed order."""
    return {m: [r[key] for r in results["runs"] if r["method"] == m] for m in ("ps", "rss")}


def _joined(values: list) -> str:
    return ", ".join("-" if v is None else f"{v:.0f}" for v in values)


def _cpu(directory: Path) -> dict:
    """The training's CPU time as the script recorded it (``None`` when it was killed before writing it)."""
    path = directory / "cpu.json"
    return json.loads(path.read_text()) if path.is_file() else {"cpu_s": None, "resumed": None}


if __name__ == "__main__":
    main()
