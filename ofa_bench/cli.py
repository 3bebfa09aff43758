"""The ``ofa-bench`` command: one subcommand per job.

Conventions shared by every subcommand: archs go in and out as JSON lines in OFA's dict form, and
``-`` means stdin or stdout; figures print as a table, or as one JSON value with ``--json``; long
work shows a progress bar unless ``--quiet`` or stdout is not a terminal; bad input exits with
status 2 and one line on stderr (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import numpy as np

from ofa_bench import registry
from ofa_bench.costs import macs_params
from ofa_bench.errors import OfaBenchError, SpaceError
from ofa_bench.jsonl import read_arch, read_archs, write_text
from ofa_bench.space import SearchSpace, get_space, preset_names

__all__ = ["main"]

PROG = "ofa-bench"
#: Modules that add subcommands: each defines ``add_commands(command, group)`` (see :func:`build_parser`).
_COMMAND_MODULES = (
    "ofa_bench.commands.hardware",
    "ofa_bench.commands.predictors",
    "ofa_bench.commands.search",
    "ofa_bench.commands.harness",
)
EXPORT_WEIGHTS = "random init (seed 0), untrained; loading a trained --checkpoint comes in a later issue"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other error of the CLI."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix(PROG).strip()
        where = f"{command}: " if command else ""
        hint = f"see '{self.prog} --help'"
        _print_error(f"{where}{message}; {hint}")
        raise SystemExit(2)


def _print_error(message: str) -> None:
    # Collapsing whitespace keeps the promise of exactly one line, whatever the message holds.
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)


# ----- argument types (their errors name the option through argparse) ---------------------------


def _space(value: str) -> SearchSpace:
    try:
        return get_space(value)
    except SpaceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}; got {value!r}")
        return number

    parse.__name__ = f"integer >= {low}"
    return parse


# ----- output ----------------------------------------------------------------------------------


def _dumps(obj: Any) -> str:
    # One line, so `ofa-bench ... --json | jq` and line-oriented tools both work.
    return json.dumps(obj, default=str)


def _archs(n: int) -> str:
    return f"{n} arch" if n == 1 else f"{n} archs"


def _human(value: float) -> str:
    """``219.4M``-style count with four significant digits."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.4g}{unit}"
    return f"{value:.4g}"


_NUMBER = re.compile(r"^(10\^)?[-+]?[\d.]+(e[-+]?\d+)?[KMG%]?$")


def _console(file: Any = None) -> Any:
    from rich.console import Console

    file = file or sys.stdout
    # Piped tables would otherwise be cut to 80 columns; a wider page folds less.
    return Console(file=file, highlight=False, width=None if file.isatty() else 120)


def _table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    caption: str | None = None,
    header: bool = True,
    file: Any = None,
) -> None:
    from rich.table import Table

    table = Table(title=title, caption=caption, title_justify="left", caption_justify="left", show_header=header)
    cells = [[str(cell) for cell in row] for row in rows]
    for i, column in enumerate(columns):
        numeric = bool(cells) and all(_NUMBER.match(row[i]) for row in cells)
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for row in cells:
        table.add_row(*row)
    _console(file).print(table)


# ----- subcommands ------------------------------------------------------------------------------


def _cmd_sample(args: argparse.Namespace) -> int:
    archs = args.space.sample(args.n, args.seed)
    write_text(args.out, "".join(arch.to_json() + "\n" for arch in archs), "archs")
    if args.out != "-" and not args.quiet:
        print(f"wrote {_archs(len(archs))} of {args.space.name} to {args.out}", file=sys.stderr)
    return 0


def _stats(values: np.ndarray) -> dict[str, float | int | None]:
    if values.size == 0:
        return {"min": None, "median": None, "max": None}
    return {"min": int(values.min()), "median": float(np.median(values)), "max": int(values.max())}


def _cmd_costs(args: argparse.Namespace) -> int:
    archs = read_archs(args.space, args.archs)
    macs, params = macs_params(archs, args.space)
    if not args.summary:
        lines = (
            json.dumps({**arch.to_dict(), "macs": int(m), "params": int(p)}, separators=(",", ":")) + "\n"
            for arch, m, p in zip(archs, macs, params)
        )
        write_text(args.out, "".join(lines), "costs")
        return 0
    summary = {"space": args.space.name, "count": len(archs), "macs": _stats(macs), "params": _stats(params)}
    if args.json:
        print(_dumps(summary))
        return 0
    rows = [
        [label, len(archs), *(("-" if v is None else _human(v)) for v in summary[key].values())]
        for label, key in (("MACs", "macs"), ("params", "params"))
    ]
    _table(f"Costs of {_archs(len(archs))} in {args.space.name}", ["", "count", "min", "median", "max"], rows)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from ofa_bench.demo import random_supernet
    from ofa_bench.export import export_onnx, onnx_max_abs_diff

    space: SearchSpace = args.space
    arch = read_arch(space, args.arch, what="--arch")
    if args.out == "-":
        raise OfaBenchError("--out: ONNX is binary and cannot go to stdout; give a file path")
    static = random_supernet(space, seed=0).extract(arch)
    try:
        path = export_onnx(static, args.out, arch.r, space.net.in_channels)
    except OSError as exc:
        raise OfaBenchError(f"cannot write ONNX file {args.out!r}: {exc.strerror}") from exc
    (macs,), (params,) = macs_params([arch])
    summary: dict[str, Any] = {
        "path": str(path), "bytes": path.stat().st_size, "space": space.name, "arch": arch.to_dict(),
        "macs": int(macs), "params": int(params), "input": [1, space.net.in_channels, arch.r, arch.r],
        "weights": EXPORT_WEIGHTS, "onnx_max_abs_diff": None,
    }  # fmt: skip
    if args.check:
        import torch

        x = torch.randn(2, space.net.in_channels, arch.r, arch.r, generator=torch.Generator().manual_seed(0))
        summary["onnx_max_abs_diff"] = onnx_max_abs_diff(static, path, x)
    if args.json:
        print(_dumps(summary))
        return 0
    rows = [
        ["path", summary["path"]],
        ["size", f"{summary['bytes'] / 2**20:.2f} MiB"],
        ["space", space.name],
        ["depths / resolution", f"d={list(arch.d)}  r={arch.r}"],
        ["input", "(batch, {}, {}, {}), batch dynamic".format(*summary["input"][1:])],
        ["MACs", _human(macs)],
        ["params", _human(params)],
        ["weights", EXPORT_WEIGHTS],
    ]
    if args.check:
        rows.append(["ONNX Runtime vs PyTorch", f"max |Δ| = {summary['onnx_max_abs_diff']:.2e}"])
    _table("ONNX export", ["", ""], rows, header=False)
    return 0


def _cmd_plugins(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else registry.kinds()
    entries = [
        {**dataclasses.asdict(info), "status": "ok" if info.error is None else "error"}
        for kind in kinds
        for info in registry.describe(kind)
    ]
    if args.json:
        print(_dumps(entries))
        return 0
    rows = [
        [e["kind"], e["name"], e["distribution"] or "(in process)", e["version"] or "-", e["error"] or "ok"]
        for e in entries
    ]
    _table("Plug-ins", ["kind", "name", "distribution", "version", "status"], rows)
    return 0


def _cmd_spaces(args: argparse.Namespace) -> int:
    entries = []
    for space in map(get_space, preset_names()):
        (macs,), (params,) = macs_params([space.largest()])
        entries.append({
            "name": space.name, "description": space.description, "blocks": space.n_blocks,
            "stages": space.n_stages, "ks": list(space.ks_choices), "e": list(space.e_choices),
            "d": list(space.d_choices), "resolutions": list(space.resolutions), "size": space.size,
            "log10_size": round(math.log10(space.size), 3), "largest_macs": int(macs), "largest_params": int(params),
        })  # fmt: skip
    if args.json:
        print(_dumps(entries))
        return 0

    def short(values: list[int]) -> str:
        return ",".join(map(str, values)) if len(values) <= 6 else f"{values[0]}..{values[-1]} ({len(values)})"

    rows = [
        [e["name"], e["blocks"], e["stages"], short(e["ks"]), short(e["e"]), short(e["d"]), short(e["resolutions"]),
         f"10^{e['log10_size']:.1f}", _human(e["largest_macs"]), _human(e["largest_params"])]
        for e in entries
    ]  # fmt: skip
    columns = ["name", "blocks", "stages", "ks", "e", "d", "resolutions", "size", "largest MACs", "largest params"]
    _table("Search-space presets", columns, rows)
    return 0


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
        print(_dumps({
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
        _table(title, columns, [[escape(cell) for cell in row] for row in rows], caption=escape(caption))
        print(verdict(results))
        print(f"latency table: {outcome.lut}")
        print(f"report: {outcome.report.markdown} (and {outcome.report.html.name})")
    return summary


def _print_demo_records(result: Any, weights: str, trained: bool) -> None:
    """Print the demo's table of measured archs and where its files went."""
    rows = [
        [
            i, "".join(map(str, r["d"])), r["r"], _human(r["macs"]), _human(r["params"]), f"{r['elastic_ms']:.2f}",
            f"{r['static_ms']:.2f}", f"{r['max_abs_diff']:.1e}", f"{r['agreement']:.0%}", f"{r['accuracy']:.0%}",
        ]
        for i, r in enumerate(result.records)
    ]  # fmt: skip
    columns = ["#", "depths", "r", "MACs", "params", "elastic ms", "static ms", "max |Δ|", "agree", "accuracy"]
    _table(
        f"Demo: {_archs(len(rows))} of {result.space} on digits "
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


def _backends(value: str) -> tuple[str, ...]:
    """Backend specs, comma-separated: ``name`` or ``name:key=value[:key=value]`` (``lut:table=t.yaml``).

    An item with ``=`` but no ``:`` continues the spec before it (``lut:table=t.yaml,threads=2``):
    backend names never contain ``=``.
    """
    specs: list[str] = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        if specs and "=" in item and ":" not in item:
            specs[-1] += f":{item}"
        else:
            specs.append(item)
    known = registry.names("hardware")
    for spec in specs:
        try:
            name, _ = registry.parse_spec(spec)
        except OfaBenchError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if name not in known:
            raise argparse.ArgumentTypeError(f"unknown hardware backend {name!r}; known: {', '.join(known) or 'none'}")
    return tuple(specs)


def _evaluator(args: argparse.Namespace) -> Any:
    from ofa_bench.evaluate import Evaluator

    show = not args.quiet and sys.stderr.isatty()
    return Evaluator(args.bench, device=args.device, cache=not args.no_cache, progress=show)


def _records_jsonl(df: Any) -> str:
    lines = []
    for row in df.to_dict(orient="records"):
        arch = json.loads(row.pop("arch"))
        del row["r"]  # already in the arch
        record = {**arch, **{k: _plain(v) for k, v in row.items()}}
        lines.append(json.dumps(record, separators=(",", ":")) + "\n")
    return "".join(lines)


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy numbers as Python ones, NaN as null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
        "oracle": evaluator.oracle_label, "device": str(evaluator.device), "count": len(df),
        "unique": len(fresh), "accuracy": {
            "min": _plain(float(np.min(accuracy))) if accuracy.size else None,
            "median": _plain(float(np.median(accuracy))) if accuracy.size else None,
            "max": _plain(float(np.max(accuracy))) if accuracy.size else None,
        },
        "cached": int(fresh["cached"].sum()), "measured": int((~fresh["cached"]).sum()),
        "seconds": round(seconds, 3), "out": args.out, "units": df.attrs.get("units", {}),
    }  # fmt: skip
    # Records on stdout keep it clean: the summary goes to stderr then.
    file = sys.stderr if args.out == "-" else sys.stdout
    if args.json:
        print(_dumps(summary), file=file)
        return 0
    acc = summary["accuracy"]
    pct = [("-" if v is None else f"{v:.2%}") for v in (acc["min"], acc["median"], acc["max"])]
    rows = [
        ["archs", f"{len(df)} ({len(fresh)} unique)"],
        ["accuracy min / median / max", " / ".join(pct)],
        ["cached hits", summary["cached"]],
        ["measured now", summary["measured"]],
        ["seconds", f"{seconds:.1f}"],
    ]
    caption = f"{bench.space.name}, fingerprint {bench.fingerprint}, {evaluator.oracle_label} accuracy"
    _table(title, ["", ""], rows, caption=caption, header=False, file=file)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import time

    with _evaluator(args) as evaluator:
        archs = read_archs(evaluator.space, args.archs)
        start = time.perf_counter()
        df = evaluator.evaluate(archs, args.backends)
        seconds = time.perf_counter() - start
        return _report_records(args, evaluator, df, seconds, f"Evaluated {_archs(len(df))}")


def _cmd_archive(args: argparse.Namespace) -> int:
    import time

    from ofa_bench.evaluate import archive

    with _evaluator(args) as evaluator:
        start = time.perf_counter()
        df = archive(evaluator.benchmark, args.n, args.seed, args.backends, evaluator=evaluator)
        seconds = time.perf_counter() - start
        title = f"Archive of {_archs(len(df))} (seed {args.seed})"
        return _report_records(args, evaluator, df, seconds, title)


@contextlib.contextmanager
def _training_progress(args: argparse.Namespace, epochs: int | None) -> Any:
    """A progress bar over training epochs (rank 0, a terminal, no --quiet); yields the trainer's on_step."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    rank0 = int(os.environ.get("RANK", "0")) == 0
    show = rank0 and not args.quiet and sys.stderr.isatty()
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[stats]}"), TimeElapsedColumn()]
    with Progress(*columns, console=Console(file=sys.stderr), disable=not show) as progress:
        task = progress.add_task("training", total=epochs, stats="")
        done: set[tuple[str, int]] = set()

        def on_step(phase: str, epoch: int, step: int, steps: int, loss: float, accuracy: float) -> None:
            if step == steps:
                done.add((phase, epoch))
            stats = f"step {step}/{steps} loss {loss:.3f} acc {accuracy:.1%}"
            progress.update(task, completed=len(done), description=f"training: {phase} epoch {epoch + 1}", stats=stats)

        yield on_step


def _cmd_train(args: argparse.Namespace) -> int:
    from ofa_bench.data import DataSpec
    from ofa_bench.evaluate import Evaluator
    from ofa_bench.train import default_schedule, load_schedule, no_ps_schedule
    from ofa_bench.train.trainer import Trainer

    space = args.preset
    schedule = load_schedule(args.schedule) if args.schedule else default_schedule(space, args.epochs_scale)
    if args.sandwich:
        schedule = schedule.model_copy(update={"sampling": "sandwich"})
    if args.no_ps:
        schedule = no_ps_schedule(schedule)
    data = DataSpec(dataset=args.data, root=args.data_root)
    with _training_progress(args, schedule.total_epochs) as on_step:
        trainer = Trainer(space, args.out, schedule, data, args.seed, args.device, on_step)
        bench = trainer.fit(resume=args.resume)
    if bench is None:  # a data-parallel rank other than 0: rank 0 reports
        return 0
    with Evaluator(bench, device=args.device) as evaluator:
        df = evaluator.evaluate([space.largest(), space.smallest()], ("macs", "params"))
    summary = {
        "benchmark": str(bench.directory), "fingerprint": bench.fingerprint, "space": space.name,
        "mode": schedule.mode, "sampling": schedule.sampling, "epochs": schedule.total_epochs, "seed": args.seed,
        "seconds": bench.training.get("seconds"), "largest_accuracy": float(df["accuracy"].iloc[0]),
        "smallest_accuracy": float(df["accuracy"].iloc[1]),
    }  # fmt: skip
    if args.json:
        print(_dumps(summary))
        return 0
    rows = [
        ["benchmark", summary["benchmark"]],
        ["fingerprint", summary["fingerprint"]],
        ["schedule", f"{schedule.mode}, {schedule.sampling} sampling, {schedule.total_epochs} epochs"],
        ["training seconds", summary["seconds"]],
        ["largest subnet val accuracy", f"{summary['largest_accuracy']:.2%}"],
        ["smallest subnet val accuracy", f"{summary['smallest_accuracy']:.2%}"],
    ]
    _table(f"Trained {space.name} on {args.data}", ["", ""], rows, header=False)
    return 0


# ----- parser and entry point -------------------------------------------------------------------


def _global_flags(default: Any) -> argparse.ArgumentParser:
    # Subcommands use SUPPRESS so a flag given before the subcommand is not reset by its default.
    parent = _Parser(add_help=False)
    flags = parent.add_argument_group("global options")
    flags.add_argument(
        "--json", action="store_true", default=default, help="print figures as one JSON value instead of a table"
    )
    flags.add_argument("--quiet", action="store_true", default=default, help="no progress bars or notes")
    flags.add_argument("--debug", action="store_true", default=default, help="show tracebacks on errors")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The ``ofa-bench`` argument parser with all subcommands."""
    description = "Compare NAS search strategies, accuracy predictors and latency models on one OFA supernet."
    parser = _Parser(prog=PROG, description=description, parents=[_global_flags(False)])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = [_global_flags(argparse.SUPPRESS)]

    def command(name: str, run: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=common)
        p.set_defaults(run=run)
        return p

    space_help = f"search-space preset: {', '.join(preset_names())}"
    p = command("sample", _cmd_sample, "sample archs uniformly, as JSON lines")
    p.add_argument("--space", type=_space, required=True, help=space_help)
    p.add_argument("-n", "--num", dest="n", type=_int_at_least(0), required=True, help="how many archs")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0, so runs repeat)")
    p.add_argument("--out", default="-", metavar="FILE", help="JSON-lines file, or - for stdout (default)")

    p = command("costs", _cmd_costs, "analytic MACs and params of archs read as JSON lines")
    p.add_argument("--space", type=_space, required=True, help=space_help)
    p.add_argument("--archs", default="-", metavar="FILE", help="JSON-lines file, or - for stdin (default)")
    p.add_argument("--out", default="-", metavar="FILE", help="JSON-lines file, or - for stdout (default)")
    p.add_argument("--summary", action="store_true", help="print count/min/median/max instead of one line per arch")

    p = command("export", _cmd_export, "export one arch's extracted sub-network to ONNX")
    p.add_argument("--space", type=_space, required=True, help=space_help)
    p.add_argument("--arch", required=True, metavar="JSON|@FILE|-", help="arch as JSON, @file, -, largest, smallest")
    p.add_argument("--out", required=True, metavar="FILE", help="the .onnx file to write")
    p.add_argument("--check", action="store_true", help="compare ONNX Runtime with PyTorch on a random batch")

    p = command("plugins", _cmd_plugins, "list installed plug-ins and whether they load")
    p.add_argument("--kind", choices=registry.kinds(), help="only this kind")

    command("spaces", _cmd_spaces, "list the search-space presets")

    demo_help = (
        "end-to-end demo on the bundled digits: train once (or reuse), measure, export, build a CPU latency "
        "table, compare strategies in the default suite and write its report"
    )
    p = command("demo", _cmd_demo, demo_help)
    p.add_argument("--space", type=_space, default=get_space("ofa-mini"), help=f"{space_help} (default ofa-mini)")
    p.add_argument("-n", "--num", dest="n", type=_int_at_least(1), default=16, help="archs to sample (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, archs and digits (default 0)")
    p.add_argument("--out", default="out/demo", metavar="DIR", help="output directory (default out/demo)")
    p.add_argument("--device", choices=["cpu", "cuda"], help="where to run forwards (default: cuda when present)")
    p.add_argument("--untrained", action="store_true", help="skip training: random weights, chance accuracy")
    p.add_argument("--train-scale", type=float, default=1.0, help="multiply the training epochs (default 1)")
    p.add_argument("--no-suite", action="store_true", help="stop after measuring: no latency table, no strategy suite")
    p.add_argument("--budget", type=_int_at_least(1), help="evaluations per strategy run (default: the suite's, 150)")
    p.add_argument("--seeds", type=_int_at_least(2), help="seeds per strategy (default: the suite's, 5)")

    p = command("train", _cmd_train, "train a supernet by progressive shrinking into a benchmark directory")
    p.add_argument("--preset", type=_space, default=get_space("ofa-mini"), help=f"{space_help} (default ofa-mini)")
    p.add_argument("--out", required=True, metavar="DIR", help="benchmark directory to write (checkpoints too)")
    p.add_argument("--schedule", metavar="FILE", help="YAML schedule (default: progressive shrinking for digits)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--no-ps", action="store_true", help="baseline: everything elastic from the start, same epochs")
    p.add_argument("--sandwich", action="store_true", help="largest + smallest + random subnets per step")
    p.add_argument("--epochs-scale", type=float, default=1.0, help="multiply the default schedule's epochs")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice in training (default 0)")
    p.add_argument("--data", default="digits", choices=["digits", "cifar10", "cifar100", "imagefolder"])
    p.add_argument("--data-root", metavar="DIR", help="folder of a local data set (all but digits)")
    p.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when present")

    bench_help = "benchmark directory (benchmark.json + supernet.pt)"
    out_help = "records file: .csv for CSV, anything else JSON lines, - for stdout (summary then goes to stderr)"
    for name, run, help in (
        ("evaluate", _cmd_evaluate, "measure archs on a benchmark: accuracy, loss, MACs, params, latency"),
        ("archive", _cmd_archive, "measure N seeded random archs on a benchmark (resumable through the cache)"),
    ):
        p = command(name, run, help)
        p.add_argument("--bench", required=True, metavar="DIR", help=bench_help)
        if name == "evaluate":
            p.add_argument("--archs", default="-", metavar="FILE", help="JSON-lines file, or - for stdin (default)")
        else:
            p.add_argument("-n", "--num", dest="n", type=_int_at_least(0), required=True, help="how many archs")
            p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
        default = "macs" if name == "evaluate" else "macs,params"
        p.add_argument(
            "--backends", type=_backends, default=default, metavar="A,B",
            help=f"hardware backends for latency:<name> columns, comma-separated (default {default})",
        )  # fmt: skip
        p.add_argument("--out", metavar="FILE", help=out_help)
        p.add_argument("--no-cache", action="store_true", help="neither read nor write the benchmark's cache.sqlite")
        p.add_argument("--device", choices=["cpu", "cuda"], help="where the supernet runs (default: cuda when present)")

    def group(name: str, help: str) -> Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]:
        """A subcommand with its own subcommands (``ofa-bench hardware build-lut``); returns their factory."""
        p = sub.add_parser(name, help=help, description=help, parents=common)
        nested = p.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")

        def nested_command(
            sub_name: str, run: Callable[[argparse.Namespace], int], sub_help: str
        ) -> argparse.ArgumentParser:
            q = nested.add_parser(sub_name, help=sub_help, description=sub_help, parents=common)
            q.set_defaults(run=run)
            return q

        return nested_command

    # Larger jobs live in their own modules; each adds its subcommands through these two factories.
    for module in _COMMAND_MODULES:
        importlib.import_module(module).add_commands(command, group)
    return parser


def _silence_stdout() -> None:
    # After a closed pipe, the interpreter's final flush of stdout would print another error.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ofa-bench`` command.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        Exit status: 0 on success, 2 for bad input or usage, 1 for an internal error, 130 when
        interrupted.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed as one line
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader stopped early, e.g. `ofa-bench sample ... | head`
        _silence_stdout()
        return 141
    except OfaBenchError as exc:
        if args.debug:
            raise
        _print_error(exc)
        return 2
    except OSError as exc:
        if args.debug:
            raise
        where = f" {exc.filename!r}" if exc.filename else ""
        _print_error(f"cannot access{where}: {exc.strerror or exc}")
        return 2
    except Exception as exc:
        if args.debug:
            raise
        _print_error(f"internal error: {type(exc).__name__}: {exc}; rerun with --debug")
        return 1


if __name__ == "__main__":
    sys.exit(main())
