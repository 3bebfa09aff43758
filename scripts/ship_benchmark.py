"""Copy a trained benchmark into the zoo (``ofa_bench/benchmark/shipped/<name>``) with its provenance record.

    .venv/bin/python scripts/ship_benchmark.py --src out/fmnist --name fmnist \\
        --command "ofa-bench train ..." --commit <sha> --started 2026-...Z --finished 2026-...Z \\
        [--figures out/fmnist_figures.json] [--note "..."]

The record holds the exact command, the code commit it ran at, seed, the data's pinned hashes,
device, threads, torch version, wall time (from the start and end stamps of the run, plus
``--prior-seconds`` when the run resumed a checkpoint another run wrote, e.g. at a phase boundary
the two schedules share) and the fingerprint; with ``--figures`` also the measured figures and the
recorded archs that ``ofa-bench evaluate --bench <name> --split test`` must reproduce.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import datetime
from pathlib import Path

from ofa_bench.benchmark.trained import BENCHMARK_FILE, CHECKPOINT_FILE, Benchmark
from ofa_bench.benchmark.zoo import PROVENANCE_FILE, ZOO_DIR


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--command", required=True)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--started", required=True, help="ISO time the (first) run started")
    parser.add_argument("--finished", required=True, help="ISO time it finished")
    parser.add_argument("--prior-seconds", type=float, default=0.0, help="seconds of a resumed earlier run")
    parser.add_argument("--figures", type=Path, nargs="*", default=[], help="figures JSON files, merged in order")
    parser.add_argument("--note", default="")
    args = parser.parse_args()

    bench = Benchmark.load(args.src)
    training = bench.training
    started = datetime.fromisoformat(args.started.replace("Z", "+00:00"))
    finished = datetime.fromisoformat(args.finished.replace("Z", "+00:00"))
    dest = ZOO_DIR / args.name
    dest.mkdir(parents=True, exist_ok=True)
    for name in (CHECKPOINT_FILE, BENCHMARK_FILE):  # weights first, benchmark.json last
        shutil.copyfile(args.src / name, dest / name)
    record = {
        "name": args.name,
        "command": args.command,
        "commit": args.commit,
        "seed": training.get("seed"),
        "preset": bench.space.name,
        "dataset": bench.data_spec.dataset,
        "data_sha256": bench.splits.get("files_sha256"),
        "device": training.get("device"),
        "threads": training.get("threads"),
        "torch": training.get("torch"),
        "started": args.started,
        "finished": args.finished,
        "wall_time_s": round((finished - started).total_seconds() + args.prior_seconds, 1),
        **({"prior_seconds": args.prior_seconds} if args.prior_seconds else {}),
        "training_seconds": training.get("seconds"),
        "epoch_seconds": [round(e["seconds"], 1) for e in training.get("history", [])],
        "fingerprint": Benchmark.load(dest).fingerprint,
        "note": args.note,
    }
    if args.figures:
        figures: dict = {}
        for path in args.figures:
            figures.update({k: v for k, v in json.loads(path.read_text()).items() if k != "random"})
        record["recorded"] = figures.get("recorded", [])
        record["figures"] = {k: figures[k] for k in ("timing", "span", "noise_ceiling") if k in figures}
    (dest / PROVENANCE_FILE).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: record[k] for k in ("name", "fingerprint", "wall_time_s")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
