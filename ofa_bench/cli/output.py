"""What the ``ofa-bench`` command prints: one-line errors, tables, JSON, counts.

Every command ends through :func:`print_figures`: one JSON value with ``--json`` (so pipelines read
figures without scraping), else a table for people.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "PROG", "RESUME_NOTE", "console", "count_archs", "dumps", "human", "plain", "print_error", "print_figures",
    "rerun_resumes", "table",
]  # fmt: skip

PROG = "ofa-bench"

#: What an interrupted command that resumes where it stopped prints (see :func:`rerun_resumes`).
RESUME_NOTE = "interrupted; rerun the same command to resume"


def print_error(message: str) -> None:
    # Collapsing whitespace keeps the promise of exactly one line, whatever the message holds.
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)


def rerun_resumes(args: argparse.Namespace) -> str | None:
    """The note of a command that resumes when rerun: ``parser.set_defaults(on_interrupt=rerun_resumes)``.

    ``main`` prints what a command's ``on_interrupt`` returns (``None``: nothing) on stderr when
    Ctrl-C or SIGTERM stops it, unless ``--quiet``.
    """
    return RESUME_NOTE


def dumps(obj: Any) -> str:
    # One line, so `ofa-bench ... --json | jq` and line-oriented tools both work.
    return json.dumps(obj, default=str)


def count_archs(n: int) -> str:
    return f"{n} arch" if n == 1 else f"{n} archs"


def human(value: float) -> str:
    """``219.4M``-style count with four significant digits."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.4g}{unit}"
    return f"{value:.4g}"


NUMBER = re.compile(r"^(10\^)?[-+]?[\d.]+(e[-+]?\d+)?[KMG%]?$")


def plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy numbers as Python ones, NaN as null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def console(file: Any = None) -> Any:
    from rich.console import Console

    file = file or sys.stdout
    # Piped tables would otherwise be cut to 80 columns; a wider page folds less.
    return Console(file=file, highlight=False, width=None if file.isatty() else 120)


def table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    caption: str | None = None,
    header: bool = True,
    file: Any = None,
) -> None:
    from rich.table import Table

    rich_table = Table(title=title, caption=caption, title_justify="left", caption_justify="left", show_header=header)
    cells = [[str(cell) for cell in row] for row in rows]
    for i, column in enumerate(columns):
        numeric = bool(cells) and all(NUMBER.match(row[i]) for row in cells)
        rich_table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for row in cells:
        rich_table.add_row(*row)
    console(file).print(rich_table)


def print_figures(
    args: argparse.Namespace,
    payload: Any,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    header: bool = True,
    caption: str | None = None,
    file: Any = None,
) -> int:
    """Print ``payload`` as one line of JSON when ``args.json``, else ``rows`` as a table.

    Args:
        args: The parsed command line (its ``json`` flag chooses).
        payload: What ``--json`` prints; the table shows the same figures formatted for people.
        title, columns, rows, header, caption: The table (see :func:`table`).
        file: Where to print (default standard output).

    Returns:
        0, the command's exit status.
    """
    if args.json:
        print(dumps(payload), file=file)
    else:
        table(title, columns, rows, caption=caption, header=header, file=file)
    return 0
