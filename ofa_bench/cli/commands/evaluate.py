"""``ofa-bench evaluate`` (measure given archs) and ``archive`` (measure N seeded random archs) on a benchmark."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ofa_bench.cli import arguments, output, progress
from ofa_bench.io.jsonl import read_archs, write_text
from ofa_bench.io.untrusted import limits

__all__ = ["add_commands"]


def add_commands(command: Callable[..., argparse.ArgumentParser], group: Callable[..., Any]) -> None:
    """Add the ``evaluate`` and ``archive`` subcommands, which share their options."""
    bench_help = "benchmark directory (benchmark.json + supernet.pt), or a shipped benchmark's name (see 'bench list')"
    out_help = "records file: .csv for CSV, anything else JSON lines, - for stdout (summary then goes to stderr)"
    for name, run, help in (
        ("evaluate", _cmd_evaluate, "measure archs on a benchmark: accuracy, loss, MACs, params, latency"),
        ("archive", _cmd_archive, "measure N seeded random archs on a benchmark (resumable through the cache)"),
    ):
        p = command(name, run, help)
        if name == "archive":
            p.set_defaults(on_interrupt=_archive_interrupted)
        p.add_argument("--bench", required=True, metavar="DIR|NAME", help=bench_help)
        p.add_argument(
            "--split", choices=("valid", "test"), default="valid",
            help="measure accuracy on the validation split (default; what search sees) or the test split (reporting)",
        )  # fmt: skip
        if name == "evaluate":
            p.add_argument("--archs", default="-", metavar="FILE", help="JSON-lines file, or - for stdin (default)")
        else:
            count = arguments.int_at_least(0, limits.MAX_ARCHIVE_SIZE)
            p.add_argument("-n", "--num", dest="n", type=count, required=True, help="how many archs")
            p.add_argument("--seed", type=arguments.seed, default=0, help="sampling seed (default 0)")
        default = "mmacs" if name == "evaluate" else "mmacs,mparams"
        p.add_argument(
            "--backends", type=arguments.backends, default=default, metavar="A,B",
            help=f"hardware backends for latency:<name> columns, comma-separated (default {default})",
        )  # fmt: skip
        p.add_argument("--out", metavar="FILE", help=out_help)
        p.add_argument("--no-cache", action="store_true", help="neither read nor write the benchmark's cache.sqlite")
        p.add_argument("--device", choices=["cpu", "cuda"], help="where the supernet runs (default: cuda when present)")


def _archive_interrupted(args: argparse.Namespace) -> str | None:
    # Measurements resume through the cache; with --no-cache a rerun starts over.
    return None if args.no_cache else output.rerun_resumes(args)


def _evaluator(args: argparse.Namespace) -> Any:
    from ofa_bench.evaluate import Evaluator

    show = progress.shown(args)
    return Evaluator(args.bench, device=args.device, cache=not args.no_cache, progress=show, split=args.split)


def _records_jsonl(df: Any) -> str:
    lines = []
    for row in df.to_dict(orient="records"):
        arch = json.loads(row.pop("arch"))
        del row["r"]  # already in the arch
        record = {**arch, **{k: output.plain(v) for k, v in row.items()}}
        lines.append(json.dumps(record, separators=(",", ":")) + "\n")
    return "".join(lines)


def _report_records(args: argparse.Namespace, evaluator: Any, df: Any, seconds: float, title: str) -> int:
    if args.out is not None:
        text = df.to_csv(index=False) if args.out.endswith(".csv") else _records_jsonl(df)
        write_text(args.out, text, "records")
        if args.out != "-" and not args.quiet:
            print(f"wrote {len(df)} records to {args.out}", file=sys.stderr)
    bench = evaluator.benchmark
    accuracy = df["accuracy"].to_numpy(dtype=float)
    fresh = df.drop_duplicates("arch")
    summary = {
        "benchmark": str(bench.directory), "fingerprint": bench.fingerprint, "space": bench.space.name,
        "oracle": evaluator.oracle_label, "split": evaluator.split, "device": str(evaluator.device),
        "count": len(df),
        "unique": len(fresh), "accuracy": {
            "min": output.plain(float(np.min(accuracy))) if accuracy.size else None,
            "median": output.plain(float(np.median(accuracy))) if accuracy.size else None,
            "max": output.plain(float(np.max(accuracy))) if accuracy.size else None,
        },
        "cached": int(fresh["cached"].sum()), "measured": int((~fresh["cached"]).sum()),
        "seconds": round(seconds, 3), "out": args.out, "units": df.attrs.get("units", {}),
    }  # fmt: skip
    # Records on stdout keep it clean: the summary goes to stderr then.
    file = sys.stderr if args.out == "-" else sys.stdout
    acc = summary["accuracy"]
    pct = [("-" if v is None else f"{v:.2%}") for v in (acc["min"], acc["median"], acc["max"])]
    rows = [
        ["archs", f"{len(df)} ({len(fresh)} unique)"],
        ["accuracy min / median / max", " / ".join(pct)],
        ["cached hits", summary["cached"]],
        ["measured now", summary["measured"]],
        ["seconds", f"{seconds:.1f}"],
    ]
    oracle = f"{evaluator.oracle_label} accuracy on {evaluator.split}"
    caption = f"{bench.space.name}, fingerprint {bench.fingerprint}, {oracle}"
    return output.print_figures(args, summary, title, ["", ""], rows, caption=caption, header=False, file=file)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    with _evaluator(args) as evaluator:
        archs = read_archs(evaluator.space, args.archs)
        start = time.perf_counter()
        df = evaluator.evaluate(archs, args.backends)
        seconds = time.perf_counter() - start
        return _report_records(args, evaluator, df, seconds, f"Evaluated {output.count_archs(len(df))}")


def _cmd_archive(args: argparse.Namespace) -> int:
    from ofa_bench.evaluate import archive

    with _evaluator(args) as evaluator:
        start = time.perf_counter()
        df = archive(evaluator.benchmark, args.n, args.seed, args.backends, evaluator=evaluator)
        seconds = time.perf_counter() - start
        title = f"Archive of {output.count_archs(len(df))} (seed {args.seed})"
        return _report_records(args, evaluator, df, seconds, title)
