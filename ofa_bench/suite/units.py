"""The runs of a suite: one :class:`Unit` per (strategy, seed), run by :func:`run_unit` in an engine's worker.

A worker runs or resumes one run in its own directory under ``OUT/units/`` (its run log,
:mod:`ofa_bench.search.runlog`); a lock keeps two processes from writing one log, and
``budget.wall_seconds`` stops a run at its deadline, also inside a plug-in call that blocks
(:func:`ofa_bench.plugins.guard.wall_deadline`). A local worker exits as soon as its suite process
dies (:func:`ofa_bench.search.engines.exit_with`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ofa_bench.plugins import registry
from ofa_bench.plugins.guard import OutOfTime, check_deadline, wall_deadline
from ofa_bench.plugins.interfaces import Predictor
from ofa_bench.search.runlog import RunLog
from ofa_bench.search.streams import stream_seed
from ofa_bench.suite.config import Suite
from ofa_bench.suite.holdout import SplitPlan, search_benchmark

__all__ = ["UNITS_DIR", "Unit", "UnitJob", "make_job", "run_unit", "units_of"]

UNITS_DIR = "units"


@dataclass(frozen=True)
class Unit:
    """One run of a suite: a strategy entry with one seed.

    Attributes:
        label: The strategy entry's label (its name unless given).
        strategy: Registered strategy name.
        params: Its parameters.
        seed: The run's seed number (its name; the same number gives every strategy the same stream).
        run_seed: The strategy's seed: drawn from the suite's ``runs`` stream at ``seed``.
    """

    label: str
    strategy: str
    params: dict[str, Any] = field(hash=False)
    seed: int
    run_seed: int = 0

    @property
    def key(self) -> str:
        """The run's directory name, ``<label>-s<seed>``."""
        return f"{self.label}-s{self.seed}"


@dataclass(frozen=True)
class UnitJob:
    """Everything a worker process needs for one run (pickled to the worker)."""

    unit: Unit
    directory: str
    benchmark: str
    device: str | None
    space: str
    objectives: tuple[str, ...]
    constraints: tuple[str, ...]
    backends: tuple[tuple[str, dict[str, Any]], ...]
    budget: int
    batch_size: int | None
    wall_seconds: float | None
    oracle: Predictor | None
    meta: dict[str, Any]
    splits: dict[str, Any] | None = None  # the suite's split plan: which benchmark the search measures on
    suite_seed: int = 0


def units_of(suite: Suite) -> list[Unit]:
    """The suite's runs, strategy by strategy, seed by seed."""
    return [
        Unit(s.key, s.name, dict(s.params), seed, stream_seed(suite.seed, "runs", seed))
        for s in suite.strategies
        for seed in suite.seeds
    ]


def run_unit(job: UnitJob) -> dict[str, Any]:
    """Run or resume one run in its directory (the function engines call in their workers).

    A lock on the run directory makes a second process (say, a worker of a killed suite that
    is still finishing) wait instead of writing the same log at the same time.

    Returns:
        ``key``, ``status`` and ``evaluations`` of the run.
    """
    import torch

    from ofa_bench.evaluate import Evaluator
    from ofa_bench.search.loop import evaluator_fn, run_search

    directory = Path(job.directory)
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory / ".lock"):
        log = RunLog.open(directory)
        if not log.done:
            threads = torch.get_num_threads()
            # One thread per run: runs go in parallel, and results must not depend on thread counts.
            torch.set_num_threads(1)
            try:
                bench = search_benchmark(job.benchmark, job.splits, job.suite_seed)
                with Evaluator(bench, device=job.device, oracle=job.oracle) as evaluator:
                    backends = [registry.create("hardware", name, **params) for name, params in job.backends]
                    evaluate = evaluator_fn(evaluator, backends)
                    _search(job, run_search, evaluate, log)
            finally:
                torch.set_num_threads(threads)
            log = RunLog.open(directory)
    return {"key": job.unit.key, "status": log.meta.get("status"), "evaluations": len(log.entries)}


def _search(job: UnitJob, run_search: Callable[..., Any], evaluate: Callable[..., Any], log: RunLog) -> None:
    deadline: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if job.wall_seconds is not None:
        spent = max((e.get("time", {}).get("elapsed_s") or 0.0 for e in log.entries), default=0.0)
        deadline = wall_deadline(job.wall_seconds - spent)
        evaluate = _in_time(evaluate)
    try:
        with deadline:
            run_search(
                job.unit.strategy, job.space, ",".join(job.objectives), job.constraints, evaluate, job.budget,
                job.unit.run_seed, batch_size=job.batch_size, strategy_params=job.unit.params,
                run_dir=job.directory, meta=job.meta,
            )  # fmt: skip
    except OutOfTime:
        # The log holds every batch told before the deadline; the batch in progress is dropped.
        stopped = RunLog.open(job.directory)
        # Stopped in the strategy's setup, the run has no metadata yet: the job's stand in.
        stopped.write_meta({**(stopped.meta or job.meta), "status": "done", "stopped": "wall_seconds"})


def _in_time(evaluate: Callable[..., Any]) -> Callable[..., Any]:
    """``evaluate``, refused once the deadline has passed (no evaluation starts after it)."""

    def evaluate_in_time(archs: Any) -> Any:
        check_deadline()
        return evaluate(archs)

    return evaluate_in_time


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no advisory locks here (Windows): runs are not shared between processes
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def make_job(
    suite: Suite, plan: SplitPlan, oracle: Predictor | None, info: dict[str, Any], out: Path, unit: Unit
) -> UnitJob:
    """What a worker needs to run ``unit`` of ``suite`` into ``out`` (picklable)."""
    bench = plan.search
    if suite.oracle.noisy and oracle is not None:
        # Seeded by the run's seed number: every strategy's run with that number sees the same draws.
        oracle = oracle.with_noise(stream_seed(suite.seed, "oracle_noise", unit.seed))  # type: ignore[attr-defined]
    return UnitJob(
        unit=unit,
        # Absolute: engine workers need not share this process's working directory.
        directory=str((out / UNITS_DIR / unit.key).resolve()),
        benchmark=str(bench.directory.resolve()),
        splits=plan.describe,
        suite_seed=suite.seed,
        device=suite.benchmark.device,
        space=bench.space.name,
        objectives=tuple(suite.objectives),
        constraints=tuple(suite.constraints),
        backends=tuple((b.name, dict(b.params)) for b in suite.backend_list),
        budget=suite.budget.evaluations,
        batch_size=suite.batch_size,
        wall_seconds=suite.budget.wall_seconds,
        oracle=oracle,
        meta={
            "suite": suite.name,
            "unit": unit.key,
            "seed_number": unit.seed,
            "fingerprint": bench.fingerprint,
            "oracle": getattr(oracle, "oracle_label", None) or info.get("label", "live"),
        },
    )
