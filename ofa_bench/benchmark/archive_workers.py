"""The workers that measure an archive: jobs an engine runs, each opening the benchmark and its cache once.

A worker measures an arch only after claiming it in the benchmark's measurement cache, and stores
each measurement as soon as it is made, so a killed build resumes where it stopped and concurrent
builders divide the archs between them (see :mod:`ofa_bench.benchmark.archive`). A local worker
whose build process dies gives its claims back and exits (:func:`ofa_bench.search.engines.exit_with`),
so a resumed build need not wait for them to go stale.
"""

from __future__ import annotations

import math
import os
import platform
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ofa_bench.benchmark.archive_plan import FULL, NOISE, TRAJECTORY_OBJECTIVES, measure_full
from ofa_bench.benchmark.measure import LIVE, Measurer
from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.benchmark.zoo import cache_dir
from ofa_bench.costs import macs_params
from ofa_bench.io.cache import Measurement, MeasurementCache
from ofa_bench.nn import resolve_device
from ofa_bench.search.engines import on_parent_exit
from ofa_bench.space import Arch

__all__ = ["Job", "Worker", "run_job"]


@dataclass(frozen=True)
class Job:
    """One unit of work for an engine (picklable: paths and arch JSON, no tensors)."""

    bench: str
    kind: str  # "measure", "noise" or "trajectory"
    archs: tuple[str, ...] = ()
    calibration_seed: int | None = None
    strategy: str | None = None
    seed: int = 0
    budget: int = 0
    run_dir: str | None = None
    threads: int = 1
    device: str | None = None
    stale_after: float = 600.0


@dataclass
class Worker:
    """A benchmark, its supernet and its cache, opened once per job."""

    job: Job
    owner: str = field(default_factory=lambda: f"{platform.node()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    measured: int = 0

    def __post_init__(self) -> None:
        torch.set_num_threads(max(1, self.job.threads))
        self.bench = Benchmark.load(self.job.bench)
        self.device = resolve_device(self.job.device)
        self.cache = MeasurementCache(cache_dir(self.bench.directory))
        self.measurer = Measurer(self.bench, self.device)  # the supernet loads on the first measurement

    def give_back(self) -> None:
        """Release this worker's claims (from any thread: it opens its own connection)."""
        cache = MeasurementCache(cache_dir(self.bench.directory))
        try:
            cache.release(self.owner)
        finally:
            cache.close()

    def full(self, archs: Sequence[Arch], wait: bool) -> dict[str, dict]:
        """Full measurements of ``archs`` by arch JSON: recorded ones read, unclaimed ones measured.

        With ``wait``, archs another worker holds are waited for (and taken over if its claim goes
        stale); without, they are left out of the answer.
        """
        fp = self.bench.fingerprint
        keys = [a.to_json() for a in archs]
        have = self.cache.get_records(fp, FULL, keys)
        pending = [(a, k) for a, k in zip(archs, keys) if k not in have]
        while pending:
            held = []
            for arch, key in pending:
                if self.cache.claim(fp, FULL, key, self.owner, self.job.stale_after):
                    have[key] = self._measure_and_store(arch, key)
                else:
                    held.append((arch, key))
            if not wait or not held:
                break
            time.sleep(1.0)
            found = self.cache.get_records(fp, FULL, [k for _, k in held])
            have.update(found)
            pending = [(a, k) for a, k in held if k not in found]
        return have

    def _measure_and_store(self, arch: Arch, key: str) -> dict:
        payload = measure_full(self.measurer, arch)
        fp = self.bench.fingerprint
        self.cache.put_record(fp, FULL, key, payload)
        seconds = payload["seconds"]
        self.cache.put(fp, LIVE, [key], [Measurement(payload["accuracy"], payload["loss"], seconds, False)])
        if math.isfinite(payload["test_accuracy"]):
            test = Measurement(payload["test_accuracy"], payload["test_loss"], seconds, False)
            self.cache.put(fp, f"{LIVE}:test", [key], [test])
        self.measured += 1
        return payload

    def noise(self, archs: Sequence[Arch], seed: int) -> int:
        """Measure ``archs`` again with BN calibrated on subset ``seed``; returns how many were measured."""
        from ofa_bench.benchmark.noise import remeasure_each

        fp, kind, done = self.bench.fingerprint, NOISE.format(seed=seed), 0
        keys = [a.to_json() for a in archs]
        have = self.cache.get_records(fp, kind, keys)
        # Each arch is claimed just before it is measured (remeasure_each asks for the next arch
        # only after yielding the last), and stored as soon as it is; the supernet and the data
        # load once for the whole job.
        mine = (
            arch
            for arch, key in zip(archs, keys)
            if key not in have and self.cache.claim(fp, kind, key, self.owner, self.job.stale_after)
        )
        for arch, hits in remeasure_each(self.bench, mine, seed, self.device):
            payload = {
                "accuracy": float(hits.mean()),
                "valid_half_a": float(hits[0::2].mean()),
                "valid_half_b": float(hits[1::2].mean()),
            }
            self.cache.put_record(fp, kind, arch.to_json(), payload)
            done += 1
        return done


def run_job(job: Job) -> dict[str, Any]:
    """Engine entry point: do one job; returns what it measured and, for a trajectory, its archs."""
    worker = Worker(job)
    forget = on_parent_exit(worker.give_back)
    space = worker.bench.space
    try:
        if job.kind == "measure":
            worker.full([space.from_json(a) for a in job.archs], wait=False)
            return {"kind": job.kind, "archs": len(job.archs), "measured": worker.measured}
        if job.kind == "noise":
            measured = worker.noise([space.from_json(a) for a in job.archs], int(job.calibration_seed or 0))
            return {"kind": job.kind, "archs": len(job.archs), "measured": measured, "seed": job.calibration_seed}
        return _trajectory(worker)
    finally:
        forget()
        worker.cache.close()


def _trajectory(worker: Worker) -> dict[str, Any]:
    from ofa_bench.search.loop import run_search

    job, space = worker.job, worker.bench.space

    def evaluate(archs: list[Arch]) -> list[dict[str, float]]:
        found = worker.full(archs, wait=True)
        macs, params = macs_params(archs, space)
        return [
            {
                "accuracy": found[a.to_json()]["accuracy"],
                "loss": found[a.to_json()]["loss"],
                "macs": float(m),
                "params": float(p),
            }
            for a, m, p in zip(archs, macs, params)
        ]

    result = run_search(
        job.strategy, space, TRAJECTORY_OBJECTIVES, (), evaluate, job.budget, job.seed, run_dir=job.run_dir,
        meta={"fingerprint": worker.bench.fingerprint, "oracle": LIVE},
    )  # fmt: skip
    archs = [a.to_json() for a in space.from_array(result.X)]
    return {
        "kind": "trajectory",
        "strategy": job.strategy,
        "seed": job.seed,
        "archs": archs,
        "measured": worker.measured,
    }
