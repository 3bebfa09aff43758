"""Running a suite: every (strategy, seed) pair is one run in its own directory, spread over an engine.

``OUT/`` holds ``suite.json`` (the suite and what was fixed before any run: the benchmark
fingerprint, the oracle, the hypervolume normalisation, the reference front and target, the
measurement resolution, each run's seed), ``reference.csv`` (the random reference sample),
``oracle.predictor`` and ``oracle_archive.csv`` for a surrogate oracle (a shipped surrogate stays in its
benchmark: ``suite.json`` names it by fingerprint), ``units/<strategy>-s<seed>/`` (one run log
each, see :mod:`ofa_bench.search.runlog`) and, at the end, the results tables
(:mod:`ofa_bench.suite.results`). Running the same suite into the same ``OUT`` again resumes:
finished runs are skipped, unfinished ones continue from their logs, and accuracies come from the
benchmark's shared evaluation cache.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ofa_bench.benchmark.trained import BENCHMARK_FILE, Benchmark
from ofa_bench.benchmark.zoo import is_shipped
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import write_text_atomic
from ofa_bench.metrics.evals_to_target import TARGET_FRACTION
from ofa_bench.metrics.normalise import Normalisation
from ofa_bench.plugins.guard import stdout_to_stderr
from ofa_bench.plugins.interfaces import Predictor
from ofa_bench.search.engines import map_unordered
from ofa_bench.search.runlog import RunLog
from ofa_bench.suite.config import Suite, load_suite
from ofa_bench.suite.holdout import SplitPlan, plan_splits, remeasure_fronts
from ofa_bench.suite.oracle import Progress, oracle_for
from ofa_bench.suite.reference import (
    REFERENCE_FILE,
    default_limits,
    fixed_normalisation,
    fixed_references,
    reference_sample,
)
from ofa_bench.suite.results import SuiteResults, collect_results, write_results
from ofa_bench.suite.state import (
    GATE_FIELDS,
    STATE_FORMAT,
    SUITE_FILE,
    check_same_suite,
    check_same_surrogate,
    read_state,
    suite_json,
    without_gate,
)
from ofa_bench.suite.units import UNITS_DIR, Unit, make_job, run_unit, units_of

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
    stored = read_state(out)
    if stored is not None:
        check_same_suite(without_gate(stored["suite"]), without_gate(suite_json(suite)), out)
    bench = ensure_benchmark(suite, progress)
    if stored is not None and stored["fingerprint"] != bench.fingerprint:
        raise OfaBenchError(
            f"{str(out)!r} holds runs on benchmark {stored['fingerprint']}, but {suite.benchmark.dir!r} is now "
            f"{bench.fingerprint}; use another output directory"
        )
    if stored is not None and any(stored["suite"].get(k) != suite_json(suite).get(k) for k in GATE_FIELDS):
        # Checks judge results and change nothing a run does: the latest suite's are the ones 'ofa-bench check' reads.
        stored["suite"].update({k: suite_json(suite).get(k) for k in GATE_FIELDS})
        write_text_atomic(out / SUITE_FILE, json.dumps(stored, indent=2) + "\n")
    # Created only now: a missing benchmark or a preset mismatch leaves no empty --out behind.
    out.mkdir(parents=True, exist_ok=True)
    units = units_of(suite)
    pending = [u for u in units if not RunLog.open(out / UNITS_DIR / u.key).done]
    check_same_surrogate(suite, bench, stored, out)
    # The search (oracle archive, reference, runs) measures on the search split only.
    plan = plan_splits(bench, suite.report_split, suite.seed, report_oracle=_shipped_report_oracle(suite, bench))
    oracle, oracle_info = None, (stored or {}).get("oracle", {})
    if pending or stored is None:
        with stdout_to_stderr():  # fitting the oracle runs a predictor plug-in's code
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
            "format": STATE_FORMAT,
            "version": 1,
            "suite": suite_json(suite),
            "fingerprint": bench.fingerprint,
            "space": bench.space.name,
            # A shipped benchmark by name: the install path differs between machines and clones.
            "benchmark": f"shipped:{bench.directory.name}" if is_shipped(bench.directory) else str(bench.directory),
            "oracle": oracle_info,
            "normalisation": norm.to_dict(),
            "limits": default_limits(suite, norm, np.asarray(fixed["reference_front"], dtype=np.float64)),
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
    jobs_list = [make_job(suite, plan, oracle, oracle_info, out, u) for u in pending]
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
    if suite.oracle.mode != "shipped" or suite.report_split in ("none", "live"):
        return None
    from ofa_bench.benchmark.surrogate import load_surrogate

    return load_surrogate(bench.directory, "test", benchmark=bench)


def _remeasure(
    out: Path, plan: SplitPlan, units: list[Unit], norm: Normalisation, suite: Suite, progress: Progress | None
) -> None:
    """Re-measure the final front of every finished run on the report split (``holdout.csv``)."""
    from ofa_bench.search.runlog import entries_frame

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


