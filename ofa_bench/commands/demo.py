"""``ofa-bench demo``: train on the bundled digits, measure, export, then run and report the default suite."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ofa_bench import cli
from ofa_bench.commands.train import _training_progress
from ofa_bench.space import get_space
from ofa_bench.untrusted import limits

__all__ = ["add_commands"]


def add_commands(command: Callable[..., argparse.ArgumentParser], group: Callable[..., Any]) -> None:
    """Add the ``demo`` subcommand."""
    demo_help = (
        "end-to-end demo on the bundled digits: train once (or reuse), measure, export, build a CPU latency "
        "table, compare strategies in the default suite and write its report"
    )
    p = command("demo", _cmd_demo, demo_help)
    space_help = f"{cli._space_help()} (default ofa-mini)"
    p.add_argument("--space", type=cli._space, default=get_space("ofa-mini"), help=space_help)
    p.add_argument(
        "-n", "--num", dest="n", type=cli._int_at_least(1, limits.MAX_ARCHIVE_SIZE), default=16,
        help="archs to sample (default 16)",
    )
    p.add_argument("--seed", type=cli._seed, default=0, help="seed of weights, archs and digits (default 0)")
    p.add_argument("--out", default="out/demo", metavar="DIR", help="output directory (default out/demo)")
    p.add_argument("--device", choices=["cpu", "cuda"], help="where to run forwards (default: cuda when present)")
    p.add_argument("--untrained", action="store_true", help="skip training: random weights, chance accuracy")
    p.add_argument(
        "--train-scale", type=cli._positive_float(limits.MAX_EPOCHS_SCALE), default=1.0,
        help="multiply the training epochs (default 1)",
    )
    p.add_argument("--no-suite", action="store_true", help="stop after measuring: no latency table, no strategy suite")
    budget_help = "evaluations per strategy run (default: the suite's, 150)"
    p.add_argument("--budget", type=cli._int_at_least(1, limits.MAX_BUDGET), help=budget_help)
    p.add_argument(
        "--seeds", type=cli._int_at_least(2, limits.MAX_SEEDS), help="seeds per strategy (default: the suite's, 5)",
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from ofa_bench.demo import UNTRAINED_NOTE, demo_benchmark, run_demo

    bench = None
    if not args.untrained:
        with _training_progress(args, None) as on_epoch_step:
            bench = demo_benchmark(args.out, args.space, args.seed, args.train_scale, on_epoch_step, args.device)
    show = not args.quiet and sys.stdout.isatty() and sys.stderr.isatty()
    with Progress(console=Console(file=sys.stderr), transient=True, disable=not show) as progress:
        task = progress.add_task("demo", total=args.n + 1)

        def on_step(done: int, total: int, what: str) -> None:
            progress.update(task, completed=done, total=total, description=what)

        result = run_demo(args.space, args.n, args.seed, args.out, on_step=on_step, device=args.device, bench=bench)
    weights = UNTRAINED_NOTE if bench is None else f"trained benchmark {result.benchmark} (fingerprint {bench.fingerprint})"
    if not args.json:
        _print_demo_records(result, weights, trained=bench is not None)
    suite = None if bench is None or args.no_suite else _demo_suite(args, bench)
    if args.json:
        print(cli._dumps({
            "space": result.space, "seed": result.seed, "device": result.device, "weights": weights,
            "records": result.records,
            "onnx": {"path": str(result.onnx_path), "index": result.onnx_index,
                     "max_abs_diff": result.onnx_max_abs_diff},
            "jsonl": str(result.jsonl_path), "seconds": round(result.seconds, 3),
            "suite": suite,
        }))  # fmt: skip
    return 0


def _demo_suite(args: argparse.Namespace, bench: Any) -> dict[str, Any]:
    """Run the default suite for the demo; print its summary unless --json; return its JSON summary."""
    from rich.markup import escape

    from ofa_bench.commands.harness import _progress
    from ofa_bench.demo import run_demo_suite
    from ofa_bench.harness.report import summary_table, verdict

    show = not args.quiet and sys.stderr.isatty()
    if show:
        print("profiling layers for the CPU latency table (once), then the default suite", file=sys.stderr)
    with _progress(args) as progress:
        outcome = run_demo_suite(
            bench, args.out, budget=args.budget, seeds=args.seeds, progress=progress, show_lut_progress=show
        )
    results = outcome.results
    summary = {
        "lut": str(outcome.lut), "lut_seconds": round(outcome.lut_seconds, 3), "out": str(results.out_dir),
        "report": str(outcome.report.markdown), "html": str(outcome.report.html),
        "baseline": results.baseline, "beats_baseline_hv": results.beats_baseline("hv"),
        "verdict": verdict(results), "seconds": round(outcome.seconds, 3),
    }  # fmt: skip
    if not args.json:
        columns, rows, caption = summary_table(results)
        title = f"Default suite on {bench.space.name} ({results.state['fingerprint']}, {outcome.seconds:.0f} s)"
        cli._table(title, columns, [[escape(cell) for cell in row] for row in rows], caption=escape(caption))
        print(verdict(results))
        print(f"latency table: {outcome.lut}")
        print(f"report: {outcome.report.markdown} (and {outcome.report.html.name})")
    return summary


def _print_demo_records(result: Any, weights: str, trained: bool) -> None:
    """Print the demo's table of measured archs and where its files went."""
    rows = [
        [
            i, "".join(map(str, r["d"])), r["r"], cli._human(r["macs"]), cli._human(r["params"]),
            f"{r['elastic_ms']:.2f}", f"{r['static_ms']:.2f}", f"{r['max_abs_diff']:.1e}", f"{r['agreement']:.0%}",
            f"{r['accuracy']:.0%}",
        ]
        for i, r in enumerate(result.records)
    ]  # fmt: skip
    columns = ["#", "depths", "r", "MACs", "params", "elastic ms", "static ms", "max |Δ|", "agree", "accuracy"]
    cli._table(
        f"Demo: {cli._archs(len(rows))} of {result.space} on digits "
        f"(seed {result.seed}, {result.device}, {result.seconds:.1f} s)",
        columns,
        rows,
        caption=f"Weights: {weights}. Accuracy: {'validation split after BN re-calibration' if trained else 'demo batch'}; "
        "max |Δ|: elastic vs extracted logits; agree: same predicted class.",
    )
    print(f"records: {result.jsonl_path}")
    print(
        f"ONNX: {result.onnx_path} (arch #{result.onnx_index}, the largest sampled; "
        f"ONNX Runtime vs PyTorch max |Δ| = {result.onnx_max_abs_diff:.1e})"
    )
