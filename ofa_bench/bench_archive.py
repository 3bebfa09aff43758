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
as :func:`ofa_bench.predictor_eval.noise.remeasure`), and test accuracy and loss. For the first
``noise_archs`` random archs the **noise model** measures them again with BN calibrated on
``noise_repeats`` independent subsets of the training split.

Work is spread over the suites' engines (:func:`ofa_bench.harness.engines.map_unordered`: joblib
processes locally, Dask or Ray on a cluster; CUDA when present). Every measurement is a row of the
benchmark's measurement cache (:class:`ofa_bench.cache.MeasurementCache`, ``records`` table), written
as soon as it is made, and a worker measures an arch only after claiming it there: a killed build
resumes where it stopped, and concurrent builders of one benchmark, local or not, divide the archs
between them instead of measuring any twice. Validation and test accuracies also go into the
ordinary cache rows (``live``, ``live:test``), so a live suite on the benchmark gets them free.

Output, in ``out_dir``: ``archive.csv`` (one row per arch), ``noise.csv`` (one row per arch and
calibration seed) and ``archive.json`` (provenance and summary figures).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
import platform
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ofa_bench.atomic import write_text_atomic
from ofa_bench.benchmark import Benchmark
from ofa_bench.cache import Measurement, MeasurementCache
from ofa_bench.costs import macs_params
from ofa_bench.errors import OfaBenchError
from ofa_bench.evaluate import LIVE
from ofa_bench.nn import resolve_device
from ofa_bench.space import Arch, SearchSpace
from ofa_bench.train.calibrate import calibrate_bn
from ofa_bench.zoo import cache_dir, resolve_benchmark

__all__ = [
    "ARCHIVE_COLUMNS",
    "ArchivePlan",
    "build_archive",
    "extreme_archs",
    "measure_full",
    "summarise_archive",
]

#: Columns of ``archive.csv``.
ARCHIVE_COLUMNS = (
    "arch", "source", "accuracy", "loss", "valid_half_a", "valid_half_b", "test_accuracy", "test_loss",
    "macs", "params", "r", "seconds",
)  # fmt: skip
#: What one full measurement of an arch holds (``archive.csv`` columns).
_MEASURED = ("accuracy", "loss", "valid_half_a", "valid_half_b", "test_accuracy", "test_loss")
#: Kinds of rows in the cache's ``records`` table.
FULL = "archive:full"
NOISE = "archive:noise:{seed}"
#: Objectives of the trajectory searches.
TRAJECTORY_OBJECTIVES = "accuracy,macs"
#: First stream index of the long runs (ordinary trajectories use 0, 1, ... per strategy).
LONG_RUN_INDEX = 1_000_000


@dataclass(frozen=True)
class ArchivePlan:
    """What an archive holds.

    Attributes:
        random: Uniform random archs.
        strategies: Search strategies whose trajectories join the archive.
        trajectory_budget: Evaluations of each trajectory.
        trajectory_seeds: Trajectories per strategy (each its own seed).
        extremes: Whether the space's corners join the archive.
        noise_archs: Random archs (the first ones) measured again for the noise model.
        noise_repeats: Independent BN-calibration subsets each of them is measured with.
        seed: Seed of every random choice (sampling, strategy seeds, calibration subsets).
        long_runs: Strategies searched once more each for ``long_budget`` evaluations (its own seed),
            so the archive also holds where a long search ends up.
        long_budget: Evaluations of each long run.
    """

    random: int = 768
    strategies: tuple[str, ...] = ("regularized-evolution", "nsga2", "tpe", "local-search")
    trajectory_budget: int = 50
    trajectory_seeds: int = 1
    extremes: bool = True
    noise_archs: int = 100
    noise_repeats: int = 2
    seed: int = 0
    long_runs: tuple[str, ...] = ()
    long_budget: int = 0

    def __post_init__(self) -> None:
        if self.long_runs and self.long_budget < 1:
            raise OfaBenchError(f"archive long_budget must be >= 1 with long runs; got {self.long_budget}")
        for name in ("random", "trajectory_budget", "trajectory_seeds", "noise_archs", "noise_repeats", "seed",
                     "long_budget"):  # fmt: skip
            if getattr(self, name) < 0:
                raise OfaBenchError(f"archive {name} must be >= 0; got {getattr(self, name)}")
        if self.noise_archs > self.random:
            raise OfaBenchError(
                f"archive noise_archs ({self.noise_archs}) must be <= random ({self.random}): "
                "the noise model re-measures the first random archs"
            )
        for field_name in ("strategies", "long_runs"):
            names = getattr(self, field_name)
            if names:
                from ofa_bench import registry

                known = registry.names("strategy")
                for name in names:
                    if name not in known:
                        raise OfaBenchError(
                            f"archive {field_name}: unknown strategy {name!r}; known: {', '.join(known)}"
                        )


def extreme_archs(space: SearchSpace) -> list[Arch]:
    """Every combination of the smallest and largest kernel, expand and depth, at every resolution."""
    k, e, d = space.ks_choices, space.e_choices, space.d_choices
    archs = []
    for r in space.resolutions:
        for kk, ee, dd in itertools.product((min(k), max(k)), (min(e), max(e)), (min(d), max(d))):
            archs.append(
                space.from_dict(
                    {"ks": [kk] * space.n_blocks, "e": [ee] * space.n_blocks, "d": [dd] * space.n_stages, "r": r}
                )
            )
    return archs


def measure_full(bench: Benchmark, net: torch.nn.Module, arch: Arch, device: torch.device) -> dict[str, float]:
    """One arch's validation accuracy and loss, its two validation halves, and test accuracy and loss.

    BN is calibrated once, on the benchmark's own subset, so ``accuracy`` equals what
    :class:`ofa_bench.evaluate.Evaluator` measures on the validation split and ``test_accuracy``
    what it measures on the test split (NaN for a benchmark without one).
    """
    data = bench.data()
    calib = (
        torch.as_tensor(x).contiguous(memory_format=torch.channels_last)
        for x, _ in data.eval_batches("calib", arch.r, bench.calibration_batch_size)
    )
    started = time.perf_counter()
    calibrate_bn(net, arch, calib)
    out: dict[str, float] = {}
    for split in ("val", "test"):
        if split not in data.eval_splits:
            out.update(test_accuracy=math.nan, test_loss=math.nan)
            continue
        hits, loss = [], 0.0
        with torch.inference_mode():
            for x, y in data.eval_batches(split, arch.r, bench.eval_batch_size):
                x = torch.as_tensor(x).to(device, memory_format=torch.channels_last)
                y = torch.as_tensor(y).to(device)
                logits = net(x)
                loss += float(F.cross_entropy(logits, y, reduction="sum"))
                hits.append((logits.argmax(1) == y).cpu().numpy())
        correct = np.concatenate(hits).astype(np.float64) if hits else np.zeros(0)
        if correct.size == 0:
            raise OfaBenchError(f"benchmark {str(bench.directory)!r}: the {split} split is empty")
        if split == "val":
            out.update(
                accuracy=float(correct.mean()),
                loss=loss / correct.size,
                valid_half_a=float(correct[0::2].mean()),
                valid_half_b=float(correct[1::2].mean()) if correct.size > 1 else math.nan,
            )
        else:
            out.update(test_accuracy=float(correct.mean()), test_loss=loss / correct.size)
    out["seconds"] = time.perf_counter() - started
    return out


# ----- workers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
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
class _Worker:
    """A benchmark, its supernet and its cache, opened once per job."""

    job: _Job
    owner: str = field(default_factory=lambda: f"{platform.node()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    measured: int = 0

    def __post_init__(self) -> None:
        torch.set_num_threads(max(1, self.job.threads))
        self.bench = Benchmark.load(self.job.bench)
        self.device = resolve_device(self.job.device)
        self.cache = MeasurementCache(cache_dir(self.bench.directory))
        self._net: torch.nn.Module | None = None

    @property
    def net(self) -> torch.nn.Module:
        if self._net is None:
            self._net = self.bench.supernet(self.device).to(memory_format=torch.channels_last)
        return self._net

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
        payload = measure_full(self.bench, self.net, arch, self.device)
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
        from ofa_bench.predictor_eval.noise import remeasure_each

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


def _run_job(job: _Job) -> dict[str, Any]:
    """Engine entry point: do one job; returns what it measured and, for a trajectory, its archs."""
    worker = _Worker(job)
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
        worker.cache.close()


def _trajectory(worker: _Worker) -> dict[str, Any]:
    from ofa_bench.harness.loop import run_search

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


# ----- building -----------------------------------------------------------------------------------


def reuse_archive(bench: Benchmark, directory: str | Path) -> int:
    """Put an earlier archive's measurements of this benchmark into its cache; returns how many were new.

    A grown archive then measures only the archs the earlier one lacks. The earlier archive must
    describe the same weights and splits (its ``archive.json`` fingerprint). Values come back as
    ``archive.csv`` wrote them, to six significant digits: Fashion-MNIST's accuracies (hits out of
    10,000 images) exactly, losses rounded.
    """
    folder = Path(directory)
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
            payload = {c: float(row[c]) for c in (*_MEASURED, "seconds")}
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
    from ofa_bench.harness.engines import map_unordered
    from ofa_bench.harness.streams import stream_rng, stream_seed

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
        _Job(
            kind="trajectory", strategy=name, seed=stream_seed(plan.seed, "archive_trajectory", _digest(name), i),
            budget=plan.trajectory_budget, run_dir=str(out / "trajectories" / f"{name}-{i}"), **base,
        )
        for name in plan.strategies for i in range(plan.trajectory_seeds) if plan.trajectory_budget > 0
    ]  # fmt: skip
    # Long runs draw from indices no ordinary trajectory uses, so their seeds differ from every one of those.
    trajectory_jobs[:0] = [
        _Job(
            kind="trajectory", strategy=name,
            seed=stream_seed(plan.seed, "archive_trajectory", _digest(name), LONG_RUN_INDEX + j),
            budget=plan.long_budget, run_dir=str(out / "trajectories" / f"{name}-long{j}"), **base,
        )
        for j, name in enumerate(plan.long_runs)
    ]  # fmt: skip
    keys = list(sources)
    measure_jobs = [_Job(kind="measure", archs=tuple(keys[i : i + chunk]), **base) for i in range(0, len(keys), chunk)]
    noise_keys = random_keys[: plan.noise_archs]
    noise_jobs = [
        _Job(kind="noise", archs=tuple(noise_keys[i : i + chunk]), calibration_seed=seed, **base)
        for seed in _noise_seeds(plan) for i in range(0, len(noise_keys), chunk)
    ]  # fmt: skip
    # Trajectories first: each is a sequential chain, the measuring chunks fill the other workers.
    all_jobs = trajectory_jobs + measure_jobs + noise_jobs
    trajectories: dict[str, list[str]] = {}
    measured = 0
    for done, result in enumerate(map_unordered(_run_job, all_jobs, engine, jobs, address), start=1):
        measured += result["measured"]
        if result["kind"] == "trajectory":
            trajectories[f"{result['strategy']}-{result['seed']}"] = result["archs"]
            for key in result["archs"]:
                sources.setdefault(key, f"trajectory:{result['strategy']}")
        if progress is not None:
            progress(done, len(all_jobs))

    # Archs another builder still holds: wait for them here (or take them over when it died).
    finisher = _Worker(_Job(kind="measure", **base))
    try:
        rows = finisher.full([space.from_json(k) for k in sources], wait=True)
        noise = {
            seed: finisher.cache.get_records(bench.fingerprint, NOISE.format(seed=seed), noise_keys)
            for seed in _noise_seeds(plan)
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
        "commit": _commit(),
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


def _digest(name: str) -> int:
    """A stable 31-bit number for a strategy name (its stream index, whatever the list's order)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") >> 1


def _noise_seeds(plan: ArchivePlan) -> list[int]:
    from ofa_bench.harness.streams import stream_seed

    return [stream_seed(plan.seed, "archive_noise", i) % 2**31 for i in range(plan.noise_repeats)]


def _commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=False)
        return done.stdout.strip() or None if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def summarise_archive(table: pd.DataFrame, noise: pd.DataFrame) -> dict[str, Any]:
    """Counts per source, accuracy spans, the split-half noise ceiling and the calibration-noise model.

    ``split_half`` rests on the random archs: the Kendall tau and Pearson r between the two
    validation halves, the Spearman-Brown reliability of the whole split and the estimated best
    Kendall tau any predictor can reach against it (see :func:`ofa_bench.predictor_eval.noise_ceiling`).
    ``noise`` rests on the re-measured archs: per-arch standard deviation of validation accuracy over
    the archive's own and the independent calibrations, its mean and maximum, the calibration-only
    Kendall tau between the archive and each re-measurement, the sampling standard deviation of a
    whole validation split (from the halves: ``sd(a - b) / 2``), and ``sd``, the standard deviation
    of one measurement combining both, which a noisy surrogate oracle draws from.
    """
    from scipy.stats import kendalltau

    out: dict[str, Any] = {"archs": len(table), "sources": table["source"].value_counts().sort_index().to_dict()}
    random = table[table["source"] == "random"]
    for column in ("accuracy", "test_accuracy"):
        values = table[column].to_numpy(np.float64)
        values_random = random[column].to_numpy(np.float64)
        if np.isfinite(values).any():
            out[column] = {
                "min": float(np.nanmin(values)),
                "median": float(np.nanmedian(values)),
                "max": float(np.nanmax(values)),
                "random_span_points": float(100 * (np.nanmax(values_random) - np.nanmin(values_random)))
                if len(values_random)
                else None,
            }
    if len(random) >= 3:
        a, b = random["valid_half_a"].to_numpy(np.float64), random["valid_half_b"].to_numpy(np.float64)
        r = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0
        reliability = max(0.0, 2 * r / (1 + r)) if r > -1 else 0.0
        out["split_half"] = {
            "archs": len(random),
            "kendall_tau": float(kendalltau(a, b).statistic),
            "pearson_r": r,
            "reliability": reliability,
            "tau_ceiling": float(2 / math.pi * math.asin(math.sqrt(reliability))),
            "sampling_sd": float(np.std(a - b, ddof=1) / 2),
        }
    if len(noise):
        own = table.set_index("arch")["accuracy"]
        wide = noise.pivot(index="arch", columns="calibration_seed", values="accuracy")
        wide.insert(0, "own", own.reindex(wide.index).to_numpy())
        per_arch = wide.std(axis=1, ddof=1).to_numpy(np.float64)
        calibration_sd = float(np.sqrt(np.nanmean(per_arch**2)))
        sampling_sd = out.get("split_half", {}).get("sampling_sd", 0.0)
        out["noise"] = {
            "archs": len(wide),
            "measurements_per_arch": int(wide.shape[1]),
            "per_arch_sd_mean": float(np.nanmean(per_arch)),
            "per_arch_sd_max": float(np.nanmax(per_arch)),
            "calibration_sd": calibration_sd,
            "calibration_kendall_tau": [
                float(kendalltau(wide["own"], wide[c]).statistic) for c in wide.columns if c != "own"
            ],
            "sampling_sd": sampling_sd,
            "sd": float(math.sqrt(calibration_sd**2 + sampling_sd**2)),
        }
    return _finite(out)


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity (a tau of constant accuracies, say) as ``None``, for JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_command(argv: Sequence[str]) -> str:
    """The command line as a user would type it."""
    return "ofa-bench " + " ".join(shlex.quote(a) for a in argv)
