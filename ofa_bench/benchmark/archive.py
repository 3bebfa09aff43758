"""The measured archive of a benchmark: what a surrogate is fitted on and validated against.

One command builds it (``ofa-bench build-archive``); its rows come from three sources, as
NAS-Bench-301's do:

* ``extreme``: every combination of the smallest and largest kernel, expand ratio and depth, at
  every resolution of the space (the corners a surrogate must not extrapolate to);
* ``random``: uniform random archs, seeded;
* ``trajectory:<strategy>``: every arch a search strategy evaluated while it searched the live
  benchmark (accuracy up, MACs down), each strategy on its own seed stream, so the good regions
  that searches visit are covered as densely as a benchmark's users will query them.

Each arch is measured once, with the benchmark's own BN-calibration subset: validation accuracy and
loss, the accuracies on two fixed disjoint halves of the validation split (even and odd positions,
as :func:`ofa_bench.benchmark.noise.remeasure`), and test accuracy and loss. For the first
``noise_archs`` random archs the **noise model** measures them again with BN calibrated on
``noise_repeats`` independent subsets of the training split.

Work is spread over the suites' engines (:func:`ofa_bench.search.engines.map_unordered`: joblib
processes locally, Dask or Ray on a cluster; CUDA when present). Every measurement is a row of the
benchmark's measurement cache (:class:`ofa_bench.io.cache.MeasurementCache`, ``records`` table), written
as soon as it is made, and a worker measures an arch only after claiming it there: a killed build
resumes where it stopped, and concurrent builders of one benchmark, local or not, divide the archs
between them instead of measuring any twice. Validation and test accuracies also go into the
ordinary cache rows (``live``, ``live:test``), so a live suite on the benchmark gets them free.

Output, in ``out_dir``: ``archive.csv`` (one row per arch), ``noise.csv`` (one row per arch and
calibration seed) and ``archive.json`` (provenance and summary figures).
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ofa_bench.benchmark.archive_plan import (
    ARCHIVE_COLUMNS,
    FULL,
    LONG_RUN_INDEX,
    MEASURED,
    NOISE,
    ArchivePlan,
    extreme_archs,
    measure_full,
    noise_seeds,
    strategy_digest,
)
from ofa_bench.benchmark.archive_summary import summarise_archive
from ofa_bench.benchmark.archive_workers import Job, Worker, run_job
from ofa_bench.benchmark.measure import LIVE
from ofa_bench.benchmark.provenance import format_command, git_commit
from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.benchmark.zoo import cache_dir, resolve_archive, resolve_benchmark
from ofa_bench.costs import macs_params
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import write_text_atomic
from ofa_bench.io.cache import Measurement, MeasurementCache
from ofa_bench.nn import resolve_device

__all__ = [
    "ARCHIVE_COLUMNS",
    "FULL",
    "NOISE",
    "ArchivePlan",
    "build_archive",
    "extreme_archs",
    "format_command",
    "measure_full",
    "reuse_archive",
    "summarise_archive",
]


def reuse_archive(bench: Benchmark, directory: str | Path) -> int:
    """Put an earlier archive's measurements of this benchmark into its cache; returns how many were new.

    A grown archive then measures only the archs the earlier one lacks. The earlier archive must
    describe the same weights and splits (its ``archive.json`` fingerprint). Values come back as
    ``archive.csv`` wrote them, to six significant digits: Fashion-MNIST's accuracies (hits out of
    10,000 images) exactly, losses rounded.
    """
    folder = resolve_archive(directory)
    try:
        info = json.loads((folder / "archive.json").read_text())
        table = pd.read_csv(folder / "archive.csv")
        noise = pd.read_csv(folder / "noise.csv") if (folder / "noise.csv").exists() else pd.DataFrame()
    except (OSError, ValueError) as exc:
        raise OfaBenchError(f"--reuse {str(folder)!r}: not a readable archive folder ({exc})") from None
    if info.get("fingerprint") != bench.fingerprint:
        raise OfaBenchError(
            f"--reuse {str(folder)!r}: measured on benchmark {info.get('fingerprint')!r}, not {bench.fingerprint!r}"
        )
    space, fp = bench.space, bench.fingerprint
    cache = MeasurementCache(cache_dir(bench.directory))
    new = 0
    try:
        keys = [space.from_json(a).to_json() for a in table["arch"]]
        have = cache.get_records(fp, FULL, keys)
        for key, row in zip(keys, table.to_dict("records")):
            if key in have:
                continue
            payload = {c: float(row[c]) for c in (*MEASURED, "seconds")}
            cache.put_record(fp, FULL, key, payload)
            cache.put(fp, LIVE, [key], [Measurement(payload["accuracy"], payload["loss"], payload["seconds"], False)])
            if math.isfinite(payload["test_accuracy"]):
                test = Measurement(payload["test_accuracy"], payload["test_loss"], payload["seconds"], False)
                cache.put(fp, f"{LIVE}:test", [key], [test])
            new += 1
        for row in noise.to_dict("records"):
            key = space.from_json(row["arch"]).to_json()
            payload = {c: float(row[c]) for c in ("accuracy", "valid_half_a", "valid_half_b")}
            cache.put_record(fp, NOISE.format(seed=int(row["calibration_seed"])), key, payload)
    finally:
        cache.close()
    return new


def build_archive(
    bench_ref: str | Path,
    out_dir: str | Path,
    plan: ArchivePlan = ArchivePlan(),
    *,
    engine: str = "joblib",
    jobs: int | None = None,
    threads: int = 1,
    device: str | None = None,
    address: str | None = None,
    chunk: int = 20,
    stale_after: float = 600.0,
    progress: Callable[[int, int], None] | None = None,
    command: str | None = None,
    reuse: str | Path | None = None,
) -> pd.DataFrame:
    """Measure the archive ``plan`` describes on a benchmark and write it to ``out_dir``.

    Args:
        bench_ref: The benchmark directory or a shipped benchmark's name.
        out_dir: Where ``archive.csv``, ``noise.csv``, ``archive.json`` and the trajectories' run
            logs go.
        plan: What to measure.
        engine: ``joblib`` (local processes), ``dask``, ``ray`` or ``serial``.
        jobs: Parallel workers (default: one per CPU core).
        threads: Torch threads per worker.
        device: ``cpu`` or ``cuda`` (default: CUDA when present).
        address: A Dask or Ray scheduler address.
        chunk: Archs per measuring job.
        stale_after: Seconds after which another worker's claim on an arch is taken over.
        progress: Called with ``(jobs done, jobs)``.
        command: The command line recorded in ``archive.json``.
        reuse: An earlier archive folder of the same benchmark whose measurements are taken
            instead of measured again (:func:`reuse_archive`).

    Returns:
        The archive table (:data:`ARCHIVE_COLUMNS`).
    """
    from ofa_bench.search.engines import map_unordered
    from ofa_bench.search.streams import stream_rng, stream_seed

    started = time.time()
    directory = resolve_benchmark(bench_ref)
    bench = Benchmark.load(directory)
    space = bench.space
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reused = reuse_archive(bench, reuse) if reuse is not None else 0
    base = {"bench": str(directory), "threads": threads, "device": device, "stale_after": stale_after}

    sources: dict[str, str] = {}
    fixed = (extreme_archs(space) if plan.extremes else []) + space.sample(
        plan.random, stream_rng(plan.seed, "archive_random")
    )
    for i, arch in enumerate(fixed):
        sources.setdefault(arch.to_json(), "extreme" if plan.extremes and i < len(space.resolutions) * 8 else "random")
    random_keys = [k for k, s in sources.items() if s == "random"]
    trajectory_jobs = [
        Job(
            kind="trajectory", strategy=name, seed=stream_seed(plan.seed, "archive_trajectory", strategy_digest(name), i),
            budget=plan.trajectory_budget, run_dir=str(out / "trajectories" / f"{name}-{i}"), **base,
        )
        for name in plan.strategies for i in range(plan.trajectory_seeds) if plan.trajectory_budget > 0
    ]  # fmt: skip
    # Long runs draw from indices no ordinary trajectory uses, so their seeds differ from every one of those.
    trajectory_jobs[:0] = [
        Job(
            kind="trajectory", strategy=name,
            seed=stream_seed(plan.seed, "archive_trajectory", strategy_digest(name), LONG_RUN_INDEX + j),
            budget=plan.long_budget, run_dir=str(out / "trajectories" / f"{name}-long{j}"), **base,
        )
        for j, name in enumerate(plan.long_runs)
    ]  # fmt: skip
    keys = list(sources)
    measure_jobs = [Job(kind="measure", archs=tuple(keys[i : i + chunk]), **base) for i in range(0, len(keys), chunk)]
    noise_keys = random_keys[: plan.noise_archs]
    noise_jobs = [
        Job(kind="noise", archs=tuple(noise_keys[i : i + chunk]), calibration_seed=seed, **base)
        for seed in noise_seeds(plan) for i in range(0, len(noise_keys), chunk)
    ]  # fmt: skip
    # Trajectories first: each is a sequential chain, the measuring chunks fill the other workers.
    all_jobs = trajectory_jobs + measure_jobs + noise_jobs
    trajectories: dict[str, list[str]] = {}
    measured = 0
    for done, result in enumerate(map_unordered(run_job, all_jobs, engine, jobs, address), start=1):
        measured += result["measured"]
        if result["kind"] == "trajectory":
            trajectories[f"{result['strategy']}-{result['seed']}"] = result["archs"]
            for key in result["archs"]:
                sources.setdefault(key, f"trajectory:{result['strategy']}")
        if progress is not None:
            progress(done, len(all_jobs))

    # Archs another builder still holds: wait for them here (or take them over when it died).
    finisher = Worker(Job(kind="measure", **base))
    try:
        rows = finisher.full([space.from_json(k) for k in sources], wait=True)
        noise = {
            seed: finisher.cache.get_records(bench.fingerprint, NOISE.format(seed=seed), noise_keys)
            for seed in noise_seeds(plan)
        }
        for seed, found in noise.items():
            missing = [space.from_json(k) for k in noise_keys if k not in found]
            if missing:
                measured += finisher.noise(missing, seed)
                noise[seed] = finisher.cache.get_records(bench.fingerprint, NOISE.format(seed=seed), noise_keys)
        measured += finisher.measured
    finally:
        finisher.cache.close()

    archs = [space.from_json(k) for k in sources]
    macs, params = macs_params(archs, space)
    table = pd.DataFrame(
        {
            "arch": [json.dumps(a.to_dict()) for a in archs],
            "source": list(sources.values()),
            **{c: [rows[k][c] for k in sources] for c in ("accuracy", "loss", "valid_half_a", "valid_half_b")},
            **{c: [rows[k][c] for k in sources] for c in ("test_accuracy", "test_loss")},
            "macs": macs.astype(np.int64),
            "params": params.astype(np.int64),
            "r": [a.r for a in archs],
            "seconds": [rows[k]["seconds"] for k in sources],
        }
    )
    noise_table = pd.DataFrame(
        [
            {"arch": json.dumps(space.from_json(k).to_dict()), "calibration_seed": seed, **found[k]}
            for seed, found in noise.items() for k in noise_keys if k in found
        ],
        columns=["arch", "calibration_seed", "accuracy", "valid_half_a", "valid_half_b"],
    )  # fmt: skip
    write_text_atomic(out / "archive.csv", table.to_csv(index=False, float_format="%.6g"))
    write_text_atomic(out / "noise.csv", noise_table.to_csv(index=False, float_format="%.6g"))
    info = {
        "format": "ofa-bench-archive",
        "version": 1,
        "benchmark": bench_ref if isinstance(bench_ref, str) else str(bench_ref),
        "fingerprint": bench.fingerprint,
        "preset": space.name,
        "plan": dataclasses.asdict(plan),
        "command": command,
        "commit": git_commit(),
        "engine": engine,
        "jobs": jobs,
        "threads": threads,
        "device": str(resolve_device(device)),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": round(time.time() - started, 1),
        "measured_now": measured,
        "reused": {"from": str(reuse), "archs": reused} if reuse is not None else None,
        "summary": summarise_archive(table, noise_table),
    }
    write_text_atomic(out / "archive.json", json.dumps(info, indent=2) + "\n")
    table.attrs.update(info)
    return table
