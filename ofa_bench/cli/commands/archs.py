"""``ofa-bench sample``, ``costs`` and ``export``: archs of one search space, as JSON lines or ONNX."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ofa_bench.cli import arguments, output
from ofa_bench.costs import macs_params
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import check_output_file
from ofa_bench.io.jsonl import arch_lines, read_arch, read_arch_arrays, text_output
from ofa_bench.io.untrusted import limits
from ofa_bench.plugins.guard import plugin_code
from ofa_bench.space import SearchSpace

__all__ = ["EXPORT_WEIGHTS", "add_commands"]

EXPORT_WEIGHTS = "random init (seed 0), untrained: the arch's graph, MACs and latency, not its accuracy"


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
    p.add_argument(
        "--backends", type=arguments.backends, metavar="SPECS",
        help="also latency:<name> columns from hardware backends, comma-separated specs (e.g. mmacs,lut:table=t.yaml)",
    )  # fmt: skip

    p = command("export", _cmd_export, "export one arch's extracted sub-network to ONNX")
    p.add_argument("--space", type=arguments.space, required=True, help=space_help)
    p.add_argument("--arch", required=True, metavar="JSON|@FILE|-", help="arch as JSON, @file, -, largest, smallest")
    p.add_argument("--out", required=True, metavar="FILE", help="the .onnx file to write")
    p.add_argument("--check", action="store_true", help="compare ONNX Runtime with PyTorch on a random batch")


#: Archs sampled, costed and written at a time: memory is bounded by a chunk, not by ``-n`` or the input.
CHUNK = 65_536


def _cmd_sample(args: argparse.Namespace) -> int:
    # space.sample_array draws row after row from one generator, so chunks give what one call of
    # space.sample(n, seed) gives: the output of a seed is the same for every n and chunk size.
    space: SearchSpace = args.space
    rng = np.random.default_rng(args.seed)
    with text_output(args.out, "archs") as out:
        for start in range(0, args.n, CHUNK):
            out.write(arch_lines(space, space.sample_array(min(CHUNK, args.n - start), rng)))
    if args.out != "-" and not args.quiet:
        print(f"wrote {output.count_archs(args.n)} of {space.name} to {args.out}", file=sys.stderr)
    return 0


def _stats(values: np.ndarray) -> dict[str, float | int | None]:
    if values.size == 0:
        return {"min": None, "median": None, "max": None}
    if values.dtype.kind == "f":
        finite = values[np.isfinite(values)]
        if finite.size < values.size:
            return {"min": None, "median": None, "max": None, "not_finite": int(values.size - finite.size)}
        return {"min": float(values.min()), "median": float(np.median(values)), "max": float(values.max())}
    return {"min": int(values.min()), "median": float(np.median(values)), "max": int(values.max())}


def _backends(specs: tuple[str, ...]) -> list[tuple[str, Any, str]]:
    """``(column, backend, units)`` per spec, the column named as ``evaluate`` names it."""
    from ofa_bench.plugins import registry

    made = []
    for spec in specs:
        backend = registry.create_from_spec("hardware", spec)
        info = backend.describe()
        column = f"latency:{info.get('name') or backend.name or type(backend).__name__}"
        made.append((column, backend, info.get("units", "ms")))
    return made


def _latency(space: SearchSpace, column: str, backend: Any, array: np.ndarray) -> np.ndarray:
    batch = array if getattr(backend, "accepts_arrays", False) else space.from_array(array)
    kwargs = {"space": space} if getattr(backend, "accepts_arrays", False) else {}
    with plugin_code():
        values = np.asarray(backend.latency(batch, **kwargs), dtype=np.float64).reshape(-1)
    if values.shape != (len(array),):
        raise OfaBenchError(f"{column}: backend returned {values.size} values for {len(array)} archs")
    return values


def _cmd_costs(args: argparse.Namespace) -> int:
    space: SearchSpace = args.space
    backends = _backends(args.backends or ())
    names = ["macs", "params", *(column for column, _, _ in backends)]
    kept: dict[str, list[np.ndarray]] = {name: [] for name in names}
    with contextlib.ExitStack() as stack:
        out = None if args.summary else stack.enter_context(text_output(args.out, "costs"))
        for array in read_arch_arrays(space, args.archs):
            macs, params = macs_params(array, space)
            columns = {"macs": macs, "params": params}
            columns.update({column: _latency(space, column, b, array) for column, b, _ in backends})
            if out is not None:
                out.write(arch_lines(space, array, columns))
            else:
                for name in names:
                    kept[name].append(columns[name])
    if not args.summary:
        return 0
    values = {name: np.concatenate(parts) if parts else np.zeros(0) for name, parts in kept.items()}
    count = len(values["macs"])
    summary: dict[str, Any] = {"space": space.name, "count": count, **{name: _stats(values[name]) for name in names}}
    labels = [("MACs", "macs"), ("params", "params")]
    for column, _, units in backends:
        summary[column]["units"] = units
        labels.append((f"{column} ({units})" if units else column, column))
    shown = {key: [("-" if summary[key][k] is None else output.human(summary[key][k])) for k in ("min", "median", "max")]
             for _, key in labels}  # fmt: skip
    rows = [[label, count, *shown[key]] for label, key in labels]
    title = f"Costs of {output.count_archs(count)} in {space.name}"
    return output.print_figures(args, summary, title, ["", "count", "min", "median", "max"], rows)


def _cmd_export(args: argparse.Namespace) -> int:
    from ofa_bench.demo import random_supernet
    from ofa_bench.io.export import export_onnx, onnx_max_abs_diff

    space: SearchSpace = args.space
    arch = read_arch(space, args.arch, what="--arch")
    if args.out == "-":
        raise OfaBenchError("--out: ONNX is binary and cannot go to stdout; give a file path")
    check_output_file(args.out, "ONNX")  # before the network is built
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
