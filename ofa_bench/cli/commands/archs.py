"""``ofa-bench sample``, ``costs`` and ``export``: archs of one search space, as JSON lines or ONNX."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ofa_bench.cli import arguments, output
from ofa_bench.costs import macs_params
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.jsonl import read_arch, read_archs, write_text
from ofa_bench.io.untrusted import limits
from ofa_bench.space import SearchSpace

__all__ = ["EXPORT_WEIGHTS", "add_commands"]

EXPORT_WEIGHTS = "random init (seed 0), untrained; loading a trained --checkpoint comes in a later issue"


def add_commands(command: Callable[..., argparse.ArgumentParser], group: Callable[..., Any]) -> None:
    """Add the ``sample``, ``costs`` and ``export`` subcommands."""
    space_help = arguments.space_help()
    p = command("sample", _cmd_sample, "sample archs uniformly, as JSON lines")
    p.add_argument("--space", type=arguments.space, required=True, help=space_help)
    p.add_argument(
        "-n", "--num", dest="n", type=arguments.int_at_least(0, limits.MAX_ARCHS), required=True, help="how many archs",
    )
    p.add_argument("--seed", type=arguments.seed, default=0, help="random seed (default 0, so runs repeat)")
    p.add_argument("--out", default="-", metavar="FILE", help="JSON-lines file, or - for stdout (default)")

    p = command("costs", _cmd_costs, "analytic MACs and params of archs read as JSON lines")
    p.add_argument("--space", type=arguments.space, required=True, help=space_help)
    p.add_argument("--archs", default="-", metavar="FILE", help="JSON-lines file, or - for stdin (default)")
    p.add_argument("--out", default="-", metavar="FILE", help="JSON-lines file, or - for stdout (default)")
    p.add_argument("--summary", action="store_true", help="print count/min/median/max instead of one line per arch")

    p = command("export", _cmd_export, "export one arch's extracted sub-network to ONNX")
    p.add_argument("--space", type=arguments.space, required=True, help=space_help)
    p.add_argument("--arch", required=True, metavar="JSON|@FILE|-", help="arch as JSON, @file, -, largest, smallest")
    p.add_argument("--out", required=True, metavar="FILE", help="the .onnx file to write")
    p.add_argument("--check", action="store_true", help="compare ONNX Runtime with PyTorch on a random batch")


def _cmd_sample(args: argparse.Namespace) -> int:
    archs = args.space.sample(args.n, args.seed)
    write_text(args.out, "".join(arch.to_json() + "\n" for arch in archs), "archs")
    if args.out != "-" and not args.quiet:
        print(f"wrote {output.count_archs(len(archs))} of {args.space.name} to {args.out}", file=sys.stderr)
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
    rows = [
        [label, len(archs), *(("-" if v is None else output.human(v)) for v in summary[key].values())]
        for label, key in (("MACs", "macs"), ("params", "params"))
    ]
    title = f"Costs of {output.count_archs(len(archs))} in {args.space.name}"
    return output.print_figures(args, summary, title, ["", "count", "min", "median", "max"], rows)


def _cmd_export(args: argparse.Namespace) -> int:
    from ofa_bench.demo import random_supernet
    from ofa_bench.io.export import export_onnx, onnx_max_abs_diff

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
    rows = [
        ["path", summary["path"]],
        ["size", f"{summary['bytes'] / 2**20:.2f} MiB"],
        ["space", space.name],
        ["depths / resolution", f"d={list(arch.d)}  r={arch.r}"],
        ["input", "(batch, {}, {}, {}), batch dynamic".format(*summary["input"][1:])],
        ["MACs", output.human(macs)],
        ["params", output.human(params)],
        ["weights", EXPORT_WEIGHTS],
    ]
    if args.check:
        rows.append(["ONNX Runtime vs PyTorch", f"max |Δ| = {summary['onnx_max_abs_diff']:.2e}"])
    return output.print_figures(args, summary, "ONNX export", ["", ""], rows, header=False)
