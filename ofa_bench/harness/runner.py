"""Running a suite: every (strategy, seed) pair is one run in its own directory, spread over an engine.

``OUT/`` holds ``suite.json`` (the suite and what was fixed before any run: the benchmark
fingerprint, the oracle, the hypervolume normalisation, the reference front and target, the
measurement resolution, each run's seed), ``reference.csv`` (the random reference sample),
``oracle.predictor`` and ``oracle_archive.csv`` for a surrogate oracle (a shipped surrogate stays in its
benchmark: ``suite.json`` names it by fingerprint), ``units/<strategy>-s<seed>/`` (one run log
each, see :mod:`ofa_bench.harness.runlog`) and, at the end, the results tables
(:mod:`ofa_bench.harness.results`). Running the same suite into the same ``OUT`` again resumes:
finished runs are skipped, unfinished ones continue from their logs, and accuracies come from the
benchmark's shared evaluation cache.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ofa_bench import registry
from ofa_bench.atomic import write_text_atomic
from ofa_bench.benchmark import BENCHMARK_FILE, Benchmark
from ofa_bench.errors import OfaBenchError
from ofa_bench.harness.engines import map_unordered
from ofa_bench.harness.holdout import SplitPlan, plan_splits, remeasure_fronts, search_benchmark
from ofa_bench.harness.metrics.normalise import Normalisation
from ofa_bench.harness.oracle import Progress, oracle_for
from ofa_bench.harness.metrics.evals_to_target import TARGET_FRACTION
from ofa_bench.harness.reference import (
    REFERENCE_FILE,
    default_limits,
    fixed_normalisation,
    fixed_references,
    reference_sample,
)
from ofa_bench.harness.streams import stream_seed
from ofa_bench.harness.results import SuiteResults, collect_results, write_results
from ofa_bench.harness.runlog import RunLog
from ofa_bench.harness.suite import Suite, load_suite
from ofa_bench.interfaces import Predictor
from ofa_bench.untrusted import read_json
from ofa_bench.zoo import is_shipped

__all__ = [
    "REFERENCE_FILE",
    "SUITE_FILE",
    "UNITS_DIR",
    "Progress",
    "Unit",
    "ensure_benchmark",
    "run_suite",
    "run_unit",
    "units_of",
]

SUITE_FILE = "suite.json"
UNITS_DIR = "units"
_FORMAT = "ofa-bench-suite-run"



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
class _Job:
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
    suite_pid: int | None = None  # a local suite process its worker should not outlive
    splits: dict[str, Any] | None = None  # the suite's split plan: which benchmark the search measures on
    suite_seed: int = 0


def units_of(suite: Suite) -> list[Unit]:
    """The suite's runs, strategy by strategy, seed by seed."""
    return [
        Unit(s.key, s.name, dict(s.params), seed, stream_seed(suite.seed, "runs", seed))
        for s in suite.strategies
        for seed in suite.seeds
    ]


def run_suite(
    suite: Suite | str | Path,
    out_dir: str | Path,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> SuiteResults:
    """Run (or resume) every run of a suite and write its results tables.

    Args:
        suite: A suite, or the path of a suite file.
        out_dir: Output directory; rerunning the same suite into it resumes.
        jobs: Parallel workers, overriding the suite's ``engine.jobs``.
        progress: Called as ``progress(stage, done, total)`` as work advances.

    Returns:
        The results (also written to ``out_dir``).

    Raises:
        OfaBenchError: A bad suite, a benchmark that cannot be loaded or trained, or an output
            directory holding a run of another suite.
    """
    suite = suite if isinstance(suite, Suite) else load_suite(suite)
    out = Path(out_dir)
    stored = _read_state(out)
    if stored is not None:
        _check_same_suite(_without_gate(stored["suite"]), _without_gate(_suite_json(suite)), out)
    bench = ensure_benchmark(suite, progress)
    if stored is not None and stored["fingerprint"] != bench.fingerprint:
        raise OfaBenchError(
            f"{str(out)!r} holds runs on benchmark {stored['fingerprint']}, but {suite.benchmark.dir!r} is now "
            f"{bench.fingerprint}; use another output directory"
        )
    if stored is not None and any(stored["suite"].get(k) != _suite_json(suite).get(k) for k in _GATE_FIELDS):
        # Checks judge results and change nothing a run does: the latest suite's are the ones 'ofa-bench check' reads.
        stored["suite"].update({k: _suite_json(suite).get(k) for k in _GATE_FIELDS})
        write_text_atomic(out / SUITE_FILE, json.dumps(stored, indent=2) + "\n")
    # Created only now: a missing benchmark or a preset mismatch leaves no empty --out behind.
    out.mkdir(parents=True, exist_ok=True)
    units = units_of(suite)
    pending = [u for u in units if not RunLog.open(out / UNITS_DIR / u.key).done]
    _check_same_surrogate(suite, bench, stored, out)
    # The search (oracle archive, reference, runs) measures on the search split only.
    plan = plan_splits(bench, suite.report_split, suite.seed, report_oracle=_shipped_report_oracle(suite, bench))
    oracle, oracle_info = None, (stored or {}).get("oracle", {})
    if pending or stored is None:
        oracle, oracle_info = oracle_for(suite, plan.search, out, progress)
    if stored is None:
        reference = reference_sample(suite, plan.search, oracle, out, progress)
        norm = fixed_normalisation(suite, reference)
        n_val = plan.describe.get("n_search")
        fixed = fixed_references(
            suite, reference, norm, n_val if isinstance(n_val, int) else None, TARGET_FRACTION,
            default_noise=oracle_info.get("noise_sd"),
        )  # fmt: skip
        n_report = plan.describe.get("n_report")
        if isinstance(n_report, int) and n_report > 0:
            fixed["resolution_test"] = {"accuracy": 1.0 / n_report}
        stored = {
            "format": _FORMAT,
            "version": 1,
            "suite": _suite_json(suite),
            "fingerprint": bench.fingerprint,
            "space": bench.space.name,
            # A shipped benchmark by name: the install path differs between machines and clones.
            "benchmark": f"shipped:{bench.directory.name}" if is_shipped(bench.directory) else str(bench.directory),
            "oracle": oracle_info,
            "normalisation": norm.to_dict(),
            "limits": default_limits(suite, norm),
            "splits": plan.describe,
            **fixed,
            "target_fraction": TARGET_FRACTION,
            "units": [
                {"key": u.key, "label": u.label, "strategy": u.strategy, "seed": u.seed, "run_seed": u.run_seed}
                for u in units
            ],
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        write_text_atomic(out / SUITE_FILE, json.dumps(stored, indent=2) + "\n")
    jobs_list = [_job(suite, plan, oracle, oracle_info, out, u) for u in pending]
    done = len(units) - len(pending)
    if progress is not None:
        progress("runs", done, len(units))
    engine = suite.engine
    for _ in map_unordered(run_unit, jobs_list, engine.kind, jobs or engine.jobs, engine.address):
        done += 1
        if progress is not None:
            progress("runs", done, len(units))
    if plan.report is not None:
        _remeasure(out, plan, units, Normalisation.from_dict(stored["normalisation"]), suite, progress)
    results = collect_results(out)
    write_results(results)
    return results


def _shipped_report_oracle(suite: Suite, bench: Benchmark) -> Predictor | None:
    """The shipped surrogate's ``test`` target, which re-measures fronts in place of the data (mode ``shipped``)."""
    if suite.oracle.mode != "shipped" or suite.report_split == "none":
        return None
    from ofa_bench.zoo.surrogate import load_surrogate

    return load_surrogate(bench.directory, "test", benchmark=bench)


def _check_same_surrogate(suite: Suite, bench: Benchmark, stored: dict[str, Any] | None, out: Path) -> None:
    """Refuse to resume runs answered by a shipped surrogate that has changed since (any of its files)."""
    if stored is None or suite.oracle.mode != "shipped":
        return
    from ofa_bench.zoo.surrogate import surrogate_fingerprint

    before, now = (stored.get("oracle") or {}).get("label"), f"shipped:{surrogate_fingerprint(bench.directory)}"
    if before != now:
        raise OfaBenchError(
            f"{str(out)!r} holds runs answered by oracle {before}, but the benchmark's shipped surrogate is now "
            f"{now}; use another output directory"
        )


def _remeasure(
    out: Path, plan: SplitPlan, units: list[Unit], norm: Normalisation, suite: Suite, progress: Progress | None
) -> None:
    """Re-measure the final front of every finished run on the report split (``holdout.csv``)."""
    from ofa_bench.harness.runlog import entries_frame

    logs = {}
    for unit in units:
        log = RunLog.open(out / UNITS_DIR / unit.key)
        if log.done:
            logs[unit.key] = entries_frame(log.entries)
    remeasure_fronts(out, plan, logs, norm, suite.benchmark.device)
    if progress is not None:
        progress("holdout", len(logs), len(units))


def ensure_benchmark(suite: Suite, progress: Progress | None = None) -> Benchmark:
    """Load the suite's benchmark, training it first when missing and ``train_if_missing`` says so."""
    section = suite.benchmark
    directory = Path(section.dir)
    if not (directory / BENCHMARK_FILE).exists() and section.train_if_missing:
        from ofa_bench.data import DataSpec
        from ofa_bench.space import get_space
        from ofa_bench.train import default_schedule
        from ofa_bench.train.trainer import Trainer

        space = get_space(section.preset)
        schedule = default_schedule(space, section.epochs_scale)
        epochs: set[tuple[str, int]] = set()

        def on_step(phase: str, epoch: int, step: int, steps: int, loss: float, accuracy: float) -> None:
            if step == steps:
                epochs.add((phase, epoch))
                if progress is not None:
                    progress("benchmark", len(epochs), schedule.total_epochs)

        trainer = Trainer(
            space, directory, schedule, DataSpec.from_dict(section.data), seed=section.seed,
            device=section.device, on_step=on_step,
        )  # fmt: skip
        trainer.fit(resume=trainer.checkpoint_path.exists())
    try:
        bench = Benchmark.load(directory)
    except OfaBenchError as exc:
        hint = "" if section.train_if_missing else " (set benchmark.train_if_missing: true to train one)"
        raise OfaBenchError(f"benchmark.dir: {exc}{hint}") from None
    if bench.space.name != section.preset:
        raise OfaBenchError(
            f"benchmark.preset: the benchmark in {section.dir!r} is of {bench.space.name}, not {section.preset}"
        )
    return bench


def run_unit(job: _Job) -> dict[str, Any]:
    """Run or resume one run in its directory (the function engines call in their workers).

    A lock on the run directory makes a second process (say, a worker of a killed suite that
    is still finishing) wait instead of writing the same log at the same time; local workers
    also exit soon after their suite process dies.

    Returns:
        ``key``, ``status`` and ``evaluations`` of the run.
    """
    import torch

    from ofa_bench.evaluate import Evaluator
    from ofa_bench.harness.loop import evaluator_fn, run_search

    if job.suite_pid is not None and job.suite_pid != os.getpid():
        _exit_with(job.suite_pid)
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


class _OutOfTime(Exception):
    """The run's wall-clock budget is spent."""


def _search(job: _Job, run_search: Callable[..., Any], evaluate: Callable[..., Any], log: RunLog) -> None:
    if job.wall_seconds is not None:
        spent = max((e.get("time", {}).get("elapsed_s") or 0.0 for e in log.entries), default=0.0)
        evaluate = _with_deadline(evaluate, job.wall_seconds - spent)
    try:
        run_search(
            job.unit.strategy, job.space, ",".join(job.objectives), job.constraints, evaluate, job.budget,
            job.unit.run_seed, batch_size=job.batch_size, strategy_params=job.unit.params, run_dir=job.directory,
            meta=job.meta,
        )  # fmt: skip
    except _OutOfTime:
        stopped = RunLog.open(job.directory)
        stopped.write_meta({**stopped.meta, "status": "done", "stopped": "wall_seconds"})


def _with_deadline(evaluate: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    deadline = time.monotonic() + seconds

    def evaluate_in_time(archs: Any) -> Any:
        if time.monotonic() >= deadline:
            raise _OutOfTime
        return evaluate(archs)

    return evaluate_in_time


_WATCHED: set[int] = set()


def _exit_with(pid: int, every_s: float = 1.0) -> None:
    """End this worker process soon after process ``pid`` is gone (once per worker).

    A suite killed with SIGKILL cannot stop its joblib workers; without this they would finish
    their run and then idle on. Exiting mid-run is safe: the log is resumed on the next run.
    """
    if pid in _WATCHED:
        return
    _WATCHED.add(pid)

    def watch() -> None:
        while True:
            time.sleep(every_s)
            try:
                os.kill(pid, 0)  # signal 0: only asks whether the process exists
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # exists, owned by another user: not ours to watch
                return

    threading.Thread(target=watch, name="ofa-bench-suite-watch", daemon=True).start()


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


def _job(suite: Suite, plan: SplitPlan, oracle: Predictor | None, info: dict[str, Any], out: Path, unit: Unit) -> _Job:
    bench = plan.search
    # Only joblib's workers are local children of this process; a cluster's may be on other machines.
    local = suite.engine.kind == "joblib"
    if suite.oracle.noisy and oracle is not None:
        # Seeded by the run's seed number: every strategy's run with that number sees the same draws.
        oracle = oracle.with_noise(stream_seed(suite.seed, "oracle_noise", unit.seed))  # type: ignore[attr-defined]
    return _Job(
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
        suite_pid=os.getpid() if local else None,
    )


# ----- the output directory's suite ---------------------------------------------------------------


def _suite_json(suite: Suite) -> dict[str, Any]:
    # The engine may change between a run and its resumption; nothing else may.
    return json.loads(suite.model_dump_json(exclude={"engine"}))


#: Suite fields that judge results (ofa_bench.harness.checks) and may change between a run and its resumption.
_GATE_FIELDS = ("checks", "alpha")


def _without_gate(suite: Any) -> Any:
    return {k: v for k, v in suite.items() if k not in _GATE_FIELDS} if isinstance(suite, dict) else suite


def _read_state(out: Path) -> dict[str, Any] | None:
    path = out / SUITE_FILE
    if not path.exists():
        return None
    try:
        state = read_json(path, repr(str(path)))
    except OfaBenchError as exc:
        raise OfaBenchError(f"{exc}; use another output directory") from None
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise OfaBenchError(f"{str(path)!r} is not an ofa-bench suite run; use another output directory")
    return state


def _check_same_suite(old: Any, new: Any, out: Path, where: str = "") -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in dict.fromkeys([*old, *new]):
            _check_same_suite(old.get(key), new.get(key), out, f"{where}.{key}" if where else key)
        return
    if old != new and not (isinstance(old, float) and isinstance(new, float) and math.isclose(old, new)):
        raise OfaBenchError(
            f"{str(out)!r} holds a run of another suite ({where}: {old!r} there, {new!r} now); "
            "use another --out, or the same suite to resume"
        )
