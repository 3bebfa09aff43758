"""How a command ends: its figures as one JSON value with ``--json``, else as a table."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

__all__ = ["print_figures"]


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
        title, columns, rows, header, caption: The table (see :func:`ofa_bench.cli._table`).
        file: Where to print (default standard output).

    Returns:
        0, the command's exit status.
    """
    # The parser module: imported here, so importing a command module stays cheap.
    from ofa_bench import cli

    if args.json:
        print(cli._dumps(payload), file=file)
    else:
        cli._table(title, columns, rows, caption=caption, header=header, file=file)
    return 0
