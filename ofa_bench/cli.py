"""The ``ofa-bench`` command: one subcommand per job.

Conventions shared by every subcommand: archs go in and out as JSON lines in OFA's dict form, and
``-`` means stdin or stdout; figures print as a table, or as one JSON value with ``--json``; long
work shows a progress bar unless ``--quiet`` or stdout is not a terminal; bad input exits with
status 2 and one line on stderr (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
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
from ofa_bench.errors import OfaBenchError, SpaceError
from ofa_bench.space import SearchSpace, get_space, preset_names
from ofa_bench.untrusted.limits import MAX_SEED, check_finite, excerpt

__all__ = ["main"]

PROG = "ofa-bench"
#: Modules that add subcommands: each defines ``add_commands(command, group)`` (see :func:`build_parser`).
_COMMAND_MODULES = (
    "ofa_bench.commands.archs",
    "ofa_bench.commands.catalog",
    "ofa_bench.commands.demo",
    "ofa_bench.commands.train",
    "ofa_bench.commands.evaluate",
    "ofa_bench.commands.data",
    "ofa_bench.commands.hardware",
    "ofa_bench.commands.predictors",
    "ofa_bench.commands.search",
    "ofa_bench.commands.harness",
    "ofa_bench.commands.gate",
    "ofa_bench.commands.build_archive",
)


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


def _space_help() -> str:
    """Help text of a ``--space`` option: the preset names."""
    return f"search-space preset: {', '.join(preset_names())}"


def _int_at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type for an integer in ``[low, high]`` (``high`` from :mod:`ofa_bench.untrusted.limits`)."""

    def parse(value: str) -> int:
        try:
            number = int(value) if len(value) < 40 else None
        except ValueError:
            number = None
        if number is None or number < low or (high is not None and number > high):
            allowed = f">= {low}" if high is None else f">= {low} and <= {high:,}"
            raise argparse.ArgumentTypeError(f"must be an integer {allowed}; got {excerpt(value)}")
        return number

    parse.__name__ = f"integer >= {low}"
    return parse


def _seed(value: str) -> int:
    """An argparse type for a seed: numpy and torch take ``0 .. 2**32 - 1`` everywhere."""
    return _int_at_least(0, MAX_SEED)(value)


_seed.__name__ = "seed"


def _positive_float(high: float) -> Callable[[str], float]:
    """An argparse type for a finite float in ``(0, high]``."""

    def parse(value: str) -> float:
        try:
            return check_finite(float(value), "value", positive=True, high=high)
        except (ValueError, OfaBenchError):
            allowed = f"a finite number > 0 and <= {high:g}"
            raise argparse.ArgumentTypeError(f"must be {allowed}; got {excerpt(value)}") from None

    parse.__name__ = "number"
    return parse


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


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy numbers as Python ones, NaN as null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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

    # Every subcommand lives in its own module; each adds its subcommands through these two factories.
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
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for commands that record their command line
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
