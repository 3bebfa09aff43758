"""``ofa-bench demo``: train on digits, measure, export; then the default suite on the shipped fmnist surrogate."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ofa_bench.cli import arguments, output, progress
from ofa_bench.io.untrusted import limits
from ofa_bench.space import get_space

__all__ = ["add_commands"]


def add_commands(command: Callable[..., argparse.ArgumentParser], group: Callable[..., Any]) -> None:
    """Add the ``demo`` subcommand."""
    demo_help = (
        "end-to-end demo: train on the bundled digits once (or reuse), measure, export; then build a CPU latency "
        "table for ofa-fmnist, compare strategies in the default suite on the shipped Fashion-MNIST surrogate "
        "and write its report"
    )
    p = command("demo", _cmd_demo, demo_help)
    space_help = f"{arguments.space_help()} (default ofa-mini)"
    p.add_argument("--space", type=arguments.space, default=get_space("ofa-mini"), help=space_help)
    p.add_argument(
        "-n", "--num", dest="n", type=arguments.int_at_least(1, limits.MAX_ARCHIVE_SIZE), default=16,
        help="archs to sample (default 16)",
    )
    p.add_argument("--seed", type=arguments.seed, default=0, help="seed of weights, archs and digits (default 0)")
    p.add_argument("--out", default="out/demo", metavar="DIR", help="output directory (default out/demo)")
    p.add_argument("--device", choices=["cpu", "cuda"], help="where to run forwards (default: cuda when present)")
    p.add_argument("--untrained", action="store_true", help="skip training: random weights, chance accuracy")
    p.add_argument(
        "--train", action="store_true",
        help="train the digits supernet here (minutes) instead of reusing the shipped weights that the defaults train",
    )
    p.add_argument(
        "--train-scale", type=arguments.positive_float(limits.MAX_EPOCHS_SCALE), default=1.0,
        help="multiply the training epochs (default 1)",
    )
    no_suite_help = "stop after measuring: no latency table, no strategy suite (--untrained implies it)"
    p.add_argument("--no-suite", action="store_true", help=no_suite_help)
    budget_help = "evaluations per strategy run (default: the suite's, 150)"
    p.add_argument("--budget", type=arguments.int_at_least(1, limits.MAX_BUDGET), help=budget_help)
    p.add_argument(
        "--seeds", type=arguments.int_at_least(2, limits.MAX_SEEDS), help="seeds per strategy (default: the suite's, 5)",
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    from ofa_bench.benchmark.trained import BENCHMARK_FILE
    from ofa_bench.demo import UNTRAINED_NOTE, demo_benchmark, run_demo
    from ofa_bench.errors import OfaBenchError

    if args.untrained and args.train:
        raise OfaBenchError("--train and --untrained contradict each other; give one")
    bench, how = None, ""
    if not args.untrained:
        existed = (Path(args.out) / "bench" / BENCHMARK_FILE).exists()
        with progress.training_bar(args, None) as on_epoch_step:
            bench = demo_benchmark(
                args.out, args.space, args.seed, args.train_scale, on_epoch_step, args.device, train=args.train
            )
        how = _weights_note(bench, existed)
    with progress.counting_bar(args, "demo") as on_step:
        result = run_demo(args.space, args.n, args.seed, args.out, on_step=on_step, device=args.device, bench=bench)
    weights = (
        UNTRAINED_NOTE if bench is None else f"trained benchmark {result.benchmark} (fingerprint {bench.fingerprint}): {how}"
    )
    if not args.json:
        _print_demo_records(result, weights, trained=bench is not None)
    # --untrained is the quick check of the training-free plumbing: it stops before the table and the suite.
    suite = None if bench is None or args.no_suite else _demo_suite(args)
    if args.json:
        print(output.dumps({
            "space": result.space, "seed": result.seed, "device": result.device, "weights": weights,
            "records": result.records,
            "onnx": {"path": str(result.onnx_path), "index": result.onnx_index,
                     "max_abs_diff": result.onnx_max_abs_diff},
            "jsonl": str(result.jsonl_path), "seconds": round(result.seconds, 3),
            "suite": suite,
        }))  # fmt: skip
    return 0


def _weights_note(bench: Any, existed: bool) -> str:
    """Where the demo's trained weights came from, in words: shipped, trained now, or an earlier run's."""
    from ofa_bench.demo import shipped_demo_provenance, weights_origin

    if weights_origin(bench) == "shipped":
        made = shipped_demo_provenance()
        facts = ", ".join(
            f"{key} {made[key]}" for key in ("command", "epochs", "train_seconds", "cpu") if made.get(key) is not None
        )
        return (
            f"the shipped digits weights, not trained in this run{f' ({facts})' if facts else ''}; "
            "--train trains them here"
        )
    return "reused from an earlier run in this folder" if existed else "trained in this run"


def _demo_suite(args: argparse.Namespace) -> dict[str, Any]:
    """Run the default suite for the demo; print its summary unless --json; return its JSON summary."""
    from rich.markup import escape

    from ofa_bench.demo import run_demo_suite
    from ofa_bench.report.suite_report import summary_table, verdict

    show = progress.shown(args)
    if show:
        print("profiling layers for the ofa-fmnist CPU latency table (once), then the default suite", file=sys.stderr)
    with progress.stage_bars(args, progress.SUITE_STAGES) as update:
        outcome = run_demo_suite(args.out, budget=args.budget, seeds=args.seeds, progress=update, show_lut_progress=show)
    results, benchmark = outcome.results, outcome.suite.benchmark
    oracle = {**(results.state.get("oracle") or {}), "noisy": results.noisy_oracle}
    summary = {
        "benchmark": benchmark.dir, "preset": benchmark.preset, "fingerprint": results.state["fingerprint"],
        "oracle": {k: oracle.get(k) for k in ("mode", "label", "predictor", "kendall_tau", "noise_sd", "noisy")},
        "lut": str(outcome.lut), "lut_seconds": round(outcome.lut_seconds, 3), "out": str(results.out_dir),
        "report": str(outcome.report.markdown), "html": str(outcome.report.html),
        "baseline": results.baseline, "beats_baseline_hv": results.beats_baseline("hv"),
        "verdict": verdict(results), "seconds": round(outcome.seconds, 3),
    }  # fmt: skip
    if not args.json:
        columns, rows, caption = summary_table(results)
        where = f"{benchmark.dir} ({benchmark.preset}, {results.state['fingerprint']}, {outcome.seconds:.0f} s)"
        title = f"Default suite on {where}"
        output.table(title, columns, [[escape(cell) for cell in row] for row in rows], caption=escape(caption))
        print(verdict(results))
        print(f"accuracy: {_oracle_line(benchmark.dir, oracle)}")
        print(f"latency table: {outcome.lut} (torch-cpu, {benchmark.preset})")
        print(f"report: {outcome.report.markdown} (and {outcome.report.html.name})")
    return summary


def _oracle_line(benchmark: str, oracle: dict[str, Any]) -> str:
    """Where the suite's accuracies came from, in one line."""
    if oracle.get("mode") != "shipped":
        name = oracle.get("label") or oracle.get("predictor") or "the supernet"
        return f"{oracle.get('mode', 'live')} oracle ({name})"
    tau, sd = oracle.get("kendall_tau"), oracle.get("noise_sd")
    quality = f", held-out Kendall tau {tau:.3f}" if isinstance(tau, (int, float)) else ""
    noise = f", noise sd {sd:.4f}" if isinstance(sd, (int, float)) else ""
    answers = "its mean plus a seeded noise draw per answer" if oracle.get("noisy") else "its noise-free mean"
    return (
        f"the shipped surrogate of {benchmark} ({oracle.get('predictor')}{quality}{noise}; {oracle.get('label')}), "
        f"{answers}: no dataset, no training"
    )


def _print_demo_records(result: Any, weights: str, trained: bool) -> None:
    """Print the demo's table of measured archs and where its files went."""
    rows = [
        [
            i, "".join(map(str, r["d"])), r["r"], output.human(r["macs"]), output.human(r["params"]),
            f"{r['elastic_ms']:.2f}", f"{r['static_ms']:.2f}", f"{r['max_abs_diff']:.1e}", f"{r['agreement']:.0%}",
            f"{r['accuracy']:.0%}",
        ]
        for i, r in enumerate(result.records)
    ]  # fmt: skip
    columns = ["#", "depths", "r", "MACs", "params", "elastic ms", "static ms", "max |Δ|", "agree", "accuracy"]
    output.table(
        f"Demo: {output.count_archs(len(rows))} of {result.space} on digits "
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
