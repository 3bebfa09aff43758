"""Run the CI suite (benchmarks/ci.yaml) from scratch, check its invariants and gate it on its checks.

The suite runs on the shipped Fashion-MNIST benchmark's surrogate (``benchmark: fmnist``,
``oracle: {mode: shipped}``): it needs neither the dataset nor training, and its benchmark
fingerprint is the same on every machine. Invariants: every (strategy, seed) run finished its
whole budget, every run's hypervolume and IGD are finite (and the hypervolume positive), so is its
hypervolume on the re-measured front when the suite re-measures one, and report.md, report.html
and both figures were written. Then the suite's own ``checks:`` run through ``ofa-bench check``
against the committed baseline ``benchmarks/ci_baseline`` (docs/ci.md), the mechanism users gate
their CI with, writing JUnit XML to ``OUT/checks.xml``. Exit status 0 when all hold, 1 otherwise
(each failure printed on its own line), 2 for a bad suite or a baseline of another benchmark. Usage::

    python benchmarks/check_ci_suite.py [--suite benchmarks/ci.yaml] [--out out/ci/suite] [--jobs N] [--no-gate]

Re-record the baseline after a change meant to move the numbers (or a new shipped benchmark or
surrogate), checking the invariants but not the old baseline, which that change may fail::

    python benchmarks/check_ci_suite.py --no-gate && ofa-bench baseline save out/ci/suite benchmarks/ci_baseline
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ofa_bench.errors import OfaBenchError
from ofa_bench.report import write_report
from ofa_bench.suite import load_suite, run_suite

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "benchmarks" / "ci_baseline"
_T0 = time.perf_counter()


def check(suite_path: Path, out: Path, jobs: int | None = None) -> list[str]:
    """Run the suite into a fresh ``out`` and return the broken invariants (empty: all hold)."""
    suite = load_suite(suite_path)
    if (out / "suite.json").exists():  # a previous CI run: start over
        shutil.rmtree(out)
    start = time.perf_counter()
    results = run_suite(suite, out, jobs=jobs, progress=_progress)
    files = write_report(out, results)
    seconds = time.perf_counter() - start
    failures = []
    runs = results.runs.set_index(["strategy", "seed"])
    for entry in suite.strategies:
        for seed in suite.seeds:
            if (entry.key, seed) not in runs.index:
                failures.append(f"{entry.key} seed {seed}: no run")
                continue
            run = runs.loc[(entry.key, seed)]
            if run["status"] != "done" or run["evaluations"] != suite.budget.evaluations:
                failures.append(f"{entry.key} seed {seed}: {run['status']} after {run['evaluations']} evaluations")
            for metric in ("hv", "igd", *(("hv_test",) if results.verdict_metric == "hv_test" else ())):
                if not math.isfinite(float(run.get(metric, math.nan))):
                    failures.append(f"{entry.key} seed {seed}: {metric} is {run.get(metric)}")
            if not float(run.get("hv", 0.0)) > 0:
                failures.append(f"{entry.key} seed {seed}: hypervolume is 0 (no feasible point inside the reference)")
    for path in (files.markdown, files.html, *files.figures):
        if not path.is_file() or path.stat().st_size == 0:
            failures.append(f"{path}: not written")
    if len(files.figures) != 2:
        failures.append(f"expected 2 figures, got {[p.name for p in files.figures]}")
    print(f"ci suite: {len(results.runs)} runs in {seconds:.1f} s; report {files.markdown}", file=sys.stderr)
    return failures


def gate(out: Path, baseline: Path | None) -> int:
    """``ofa-bench check OUT --baseline BASELINE --junit OUT/checks.xml``: 0 pass, 1 a check failed, 2 bad input."""
    from ofa_bench import cli

    command = ["check", str(out), "--junit", str(out / "checks.xml")]
    if baseline is not None:
        command += ["--baseline", str(baseline)]
    return cli.main(command)


def _progress(stage: str, done: int, total: int) -> None:
    if done == total or stage == "runs":
        print(f"  {stage}: {done}/{total} ({time.perf_counter() - _T0:.0f} s)", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=ROOT / "benchmarks" / "ci.yaml")
    parser.add_argument("--out", type=Path, default=Path("out/ci/suite"))
    parser.add_argument("--jobs", type=int, default=None)
    baseline_help = "baseline of the suite's checks (default: benchmarks/ci_baseline for benchmarks/ci.yaml)"
    parser.add_argument("--baseline", type=Path, default=None, help=baseline_help)
    no_gate_help = "check the invariants only, not the suite's checks (to re-record the baseline)"
    parser.add_argument("--no-gate", action="store_true", help=no_gate_help)
    args = parser.parse_args(argv)
    try:
        failures = check(args.suite, args.out, args.jobs)
    except OfaBenchError as exc:
        print(f"check_ci_suite: error: {exc}", file=sys.stderr)
        return 2
    for failure in failures:
        print(f"FAIL {failure}")
    print("ci suite invariants hold" if not failures else f"{len(failures)} invariant(s) broken")
    if args.no_gate:
        return 1 if failures else 0
    ours = args.suite.resolve() == (ROOT / "benchmarks" / "ci.yaml").resolve()
    status = gate(args.out, args.baseline or (BASELINE if ours else None))
    return status if status == 2 else (1 if failures or status else 0)


if __name__ == "__main__":
    sys.exit(main())
