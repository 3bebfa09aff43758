"""``ofa-bench check RUN_DIR`` (a suite's checks as a CI gate) and ``ofa-bench baseline save RUN_DIR DEST``.

``ofa-bench run SUITE --check`` ends with the same gate (:func:`gate`). Exit status: 0 when every
check holds and every run finished, 1 when any does not (one line each), 2 for bad input.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ofa_bench.cli import output
from ofa_bench.errors import OfaBenchError

__all__ = ["add_commands", "add_gate_flags", "gate", "preflight"]


def add_gate_flags(p: argparse.ArgumentParser) -> None:
    """The flags ``check`` and ``run --check`` share."""
    p.add_argument("--baseline", metavar="DIR", help="an earlier run of the same suite (see 'ofa-bench baseline save')")
    p.add_argument("--junit", metavar="FILE", help="also write the outcome as JUnit XML")


def add_commands(command: Callable[..., argparse.ArgumentParser], group: Callable[..., Any]) -> None:
    """Add the ``check`` and ``baseline save`` subcommands."""
    p = command("check", _cmd_check, "check a suite run against its suite's checks (exit 1 when any fails)")
    p.add_argument("run_dir", metavar="RUN_DIR", help="output directory of 'ofa-bench run'")
    add_gate_flags(p)
    baseline = group("baseline", "baselines for 'ofa-bench check': the small part of a run to commit")
    q = baseline("save", _cmd_save, "copy suite.json, results.json and summary.csv of a run (not its logs) to DEST")
    q.add_argument("run_dir", metavar="RUN_DIR", help="output directory of 'ofa-bench run'")
    q.add_argument("dest", metavar="DEST", help="directory to write (e.g. a folder committed to your repository)")


def preflight(baseline: str | None, suite: Any = None) -> None:
    """Refuse bad gate input before any work: a baseline that is no run, a tolerance check without a baseline.

    Given the suite about to run, the baseline is also read, checked and held against it (name,
    budget, objectives, benchmark fingerprint...), so a baseline of another suite fails before the runs.
    """
    if baseline is not None and not (Path(baseline) / "suite.json").is_file():
        raise OfaBenchError(f"--baseline {baseline!r}: no suite.json; give a run directory or 'baseline save' output")
    for i, check in enumerate(getattr(suite, "checks", [])):
        if check.baseline_tolerance is not None and baseline is None:
            raise OfaBenchError(f"checks[{i}].baseline_tolerance: needs a baseline; pass --baseline DIR")
    if baseline is not None and suite is not None:
        from ofa_bench.suite.baseline import check_baseline

        check_baseline(suite, baseline)


def gate(args: argparse.Namespace, run_dir: str | Path) -> int:
    """Evaluate the run's checks, print the outcome (or ``--json``), write ``--junit``; the exit status."""
    from ofa_bench.suite.checks import evaluate_checks
    from ofa_bench.suite.junit import write_junit

    result = evaluate_checks(run_dir, args.baseline)
    if args.junit:
        write_junit(result, args.junit)
    if args.json:
        print(output.dumps(result.to_dict()))
    else:
        for check in result.checks:
            print(check.line())
        for line in result.failure_lines():
            if line.startswith("ERROR"):
                print(line)
        failed = sum(not c.passed for c in result.checks)
        unfinished = sum(not r.passed for r in result.runs)
        print(
            f"{'passed' if result.passed else 'FAILED'}: {len(result.checks) - failed}/{len(result.checks)} checks hold, "
            f"{len(result.runs) - unfinished}/{len(result.runs)} runs finished"
        )
    return 0 if result.passed else 1


def _cmd_check(args: argparse.Namespace) -> int:
    preflight(args.baseline)
    return gate(args, args.run_dir)


def _cmd_save(args: argparse.Namespace) -> int:
    from ofa_bench.suite.checks import save_baseline

    written = save_baseline(args.run_dir, args.dest)
    if args.json:
        print(output.dumps({"baseline": str(args.dest), "files": [str(p) for p in written]}))
    else:
        print(f"baseline: {', '.join(str(p) for p in written)}")
    return 0
