"""``ofa-bench run SUITE.yaml`` (run or resume a suite) and ``ofa-bench report RUN_DIR`` (write its report)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ofa_bench.cli import arguments, output, progress
from ofa_bench.cli.commands import gate
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted import excerpt, limits, parse_yaml

__all__ = ["add_commands"]

def add_commands(command: Callable[..., argparse.ArgumentParser], group: Callable[..., Any]) -> None:
    """Add the ``run`` and ``report`` subcommands."""

    p = command("run", _cmd_run, "run (or resume) a benchmark suite: every strategy x seed, then its report")
    p.set_defaults(on_interrupt=output.rerun_resumes)
    suite_help = "suite file (see docs/harness.md), or a built-in suite's name, e.g. 'default'"
    p.add_argument("suite", metavar="SUITE.yaml", help=suite_help)
    p.add_argument("--out", metavar="DIR", help="output directory; rerun into it to resume (default: out/<suite name>)")
    jobs_help = "parallel runs (default: the suite's engine.jobs)"
    p.add_argument("--jobs", type=arguments.int_at_least(1, limits.MAX_JOBS), metavar="N", help=jobs_help)
    engine_help = "parallel engine (default: the suite's engine.kind)"
    p.add_argument("--engine", choices=["joblib", "dask", "ray", "serial"], help=engine_help)
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
        help="override a suite field by its dotted path, value in YAML (e.g. --set budget.evaluations=50); repeatable",
    )  # fmt: skip
    p.add_argument("--no-report", action="store_true", help="do not write report.md / report.html")
    check_help = "then gate on the suite's checks: exit 1 when any fails or a run did not finish (see docs/ci.md)"
    p.add_argument("--check", action="store_true", help=check_help)
    gate.add_gate_flags(p)

    report_help = "write report.md and report.html (with PNG figures) for a suite's output directory"
    q = command("report", _cmd_report, report_help)
    q.add_argument("run_dir", metavar="RUN_DIR", help="output directory of 'ofa-bench run'")


def _overrides(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise OfaBenchError(f"--set {item!r}: must read KEY=VALUE, e.g. --set budget.evaluations=50")
        out[key.strip()] = parse_yaml(text, f"--set {key.strip()}")
    return out


def _cmd_run(args: argparse.Namespace) -> int:
    from ofa_bench.report.suite_report import write_report
    from ofa_bench.suite.config import BUILTIN_SUITES, load_suite
    from ofa_bench.suite.runner import run_suite

    if not Path(args.suite).exists() and args.suite not in BUILTIN_SUITES:
        raise OfaBenchError(f"{args.suite}: no such suite file; built-in suites by name: {', '.join(BUILTIN_SUITES)}")
    overrides = _overrides(args.overrides)
    if args.engine:
        overrides["engine.kind"] = args.engine
    suite = load_suite(args.suite, overrides)
    if args.out is None and (Path(suite.name).name != suite.name or suite.name in (".", "..")):
        # The default --out is out/<name>: a name with a path in it would write outside out/.
        raise OfaBenchError(f"{args.suite}: name: {excerpt(suite.name)} is not a plain file name; pass --out DIR")
    out = args.out or f"out/{suite.name}"
    if (args.baseline or args.junit) and not args.check:
        raise OfaBenchError("--baseline and --junit gate a run: add --check")
    if args.check:
        gate.preflight(args.baseline, suite)  # bad gate input fails before the runs, not after
    with progress.stage_bars(args, progress.SUITE_STAGES) as update:
        results = run_suite(suite, out, jobs=args.jobs, progress=update)
    report = None if args.no_report else write_report(out, results)
    if not args.check:
        return _print(args, results, report)
    if not args.json:  # with --json the gate's object is the one printed
        _print(args, results, report)
    return gate.gate(args, out)


def _cmd_report(args: argparse.Namespace) -> int:
    from ofa_bench.report.suite_report import write_report
    from ofa_bench.suite.results import collect_results

    results = collect_results(args.run_dir)
    return _print(args, results, write_report(args.run_dir, results))


def _print(args: argparse.Namespace, results: Any, report: Any) -> int:
    from ofa_bench.report.suite_report import summary_table, verdict
    from ofa_bench.suite.results import json_records

    if args.json:
        print(output.dumps({
            "out": str(results.out_dir), "suite": results.state["suite"]["name"],
            "fingerprint": results.state["fingerprint"], "baseline": results.baseline,
            "beats_baseline_hv": results.beats_baseline("hv"), "summary": json_records(results.summary),
            "runs": json_records(results.runs),
            "report": None if report is None else {"markdown": str(report.markdown), "html": str(report.html)},
        }))  # fmt: skip
        return 0
    from rich.markup import escape

    columns, rows, caption = summary_table(results)
    rows = [[escape(cell) for cell in row] for row in rows]  # "[q1, q3]" is text, not rich markup
    title = f"Suite {results.state['suite']['name']} ({results.state['fingerprint']})"
    output.table(escape(title), columns, rows, escape(caption))
    print(verdict(results))
    print(f"results: {results.out_dir / 'results.csv'}")
    if report is not None:
        print(f"report: {report.markdown} and {report.html}")
    return 0
