"""``ofa-bench plugins`` and ``spaces``: list what is installed and which search spaces there are."""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable
from typing import Any

from ofa_bench.cli import output
from ofa_bench.costs import macs_params
from ofa_bench.plugins import registry
from ofa_bench.space import get_space, preset_names

__all__ = ["add_commands"]


def add_commands(command: Callable[..., argparse.ArgumentParser], group: Callable[..., Any]) -> None:
    """Add the ``plugins`` and ``spaces`` subcommands."""
    p = command("plugins", _cmd_plugins, "list installed plug-ins and whether they load")
    p.add_argument("--kind", choices=registry.kinds(), help="only this kind")

    command("spaces", _cmd_spaces, "list the search-space presets")


def _cmd_plugins(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else registry.kinds()
    entries = [
        {**dataclasses.asdict(info), "status": "ok" if info.error is None else "error"}
        for kind in kinds
        for info in registry.describe(kind)
    ]
    rows = [
        [e["kind"], e["name"], e["distribution"] or "(in process)", e["version"] or "-", e["error"] or "ok"]
        for e in entries
    ]
    return output.print_figures(args, entries, "Plug-ins", ["kind", "name", "distribution", "version", "status"], rows)


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

    def short(values: list[int]) -> str:
        return ",".join(map(str, values)) if len(values) <= 6 else f"{values[0]}..{values[-1]} ({len(values)})"

    rows = [
        [e["name"], e["blocks"], e["stages"], short(e["ks"]), short(e["e"]), short(e["d"]), short(e["resolutions"]),
         f"10^{e['log10_size']:.1f}", output.human(e["largest_macs"]), output.human(e["largest_params"])]
        for e in entries
    ]  # fmt: skip
    columns = ["name", "blocks", "stages", "ks", "e", "d", "resolutions", "size", "largest MACs", "largest params"]
    return output.print_figures(args, entries, "Search-space presets", columns, rows)
