"""The ``ofa-bench`` command: one subcommand per job.

Conventions shared by every subcommand: archs go in and out as JSON lines in OFA's dict form, and
``-`` means stdin or stdout; figures print as a table, or as one JSON value with ``--json``; long
work shows a progress bar unless ``--quiet`` or stdout is not a terminal; bad input exits with
status 2 and one line on stderr (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import dataclasses
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


def _console() -> Any:
    from rich.console import Console

    # Piped tables would otherwise be cut to 80 columns; a wider page folds less.
    return Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 120)


def _table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], caption: str | None = None, header: bool = True
) -> None:
    from rich.table import Table

    table = Table(title=title, caption=caption, title_justify="left", caption_justify="left", show_header=header)
    cells = [[str(cell) for cell in row] for row in rows]
    for i, column in enumerate(columns):
        numeric = bool(cells) and all(_NUMBER.match(row[i]) for row in cells)
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for row in cells:
        table.add_row(*row)
    _console().print(table)


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

    from ofa_bench.demo import UNTRAINED_NOTE, run_demo

    show = not args.quiet and sys.stdout.isatty() and sys.stderr.isatty()
    with Progress(console=Console(file=sys.stderr), transient=True, disable=not show) as progress:
        task = progress.add_task("demo", total=args.n + 1)

        def on_step(done: int, total: int, what: str) -> None:
            progress.update(task, completed=done, total=total, description=what)

        result = run_demo(args.space, args.n, args.seed, args.out, on_step=on_step, device=args.device)
    if args.json:
        print(_dumps({
            "space": result.space, "seed": result.seed, "device": result.device, "weights": UNTRAINED_NOTE,
            "records": result.records,
            "onnx": {"path": str(result.onnx_path), "index": result.onnx_index,
                     "max_abs_diff": result.onnx_max_abs_diff},
            "jsonl": str(result.jsonl_path), "seconds": round(result.seconds, 3),
        }))  # fmt: skip
        return 0
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
        caption=f"Note: {UNTRAINED_NOTE}. max |Δ|: elastic vs extracted logits; agree: same predicted class.",
    )
    print(f"records: {result.jsonl_path}")
    print(
        f"ONNX: {result.onnx_path} (arch #{result.onnx_index}, the largest sampled; "
        f"ONNX Runtime vs PyTorch max |Δ| = {result.onnx_max_abs_diff:.1e})"
    )
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

    p = command("demo", _cmd_demo, "end-to-end demo on the bundled digits (untrained supernet)")
    p.add_argument("--space", type=_space, default=get_space("ofa-mini"), help=f"{space_help} (default ofa-mini)")
    p.add_argument("-n", "--num", dest="n", type=_int_at_least(1), default=16, help="archs to sample (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, archs and digits (default 0)")
    p.add_argument("--out", default="out/demo", metavar="DIR", help="output directory (default out/demo)")
    p.add_argument("--device", choices=["cpu", "cuda"], help="where to run forwards (default: cuda when present)")
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
