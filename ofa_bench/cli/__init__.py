"""The ``ofa-bench`` command: one subcommand per job.

Conventions shared by every subcommand: archs go in and out as JSON lines in OFA's dict form, and
``-`` means stdin or stdout; figures print as a table, or as one JSON value with ``--json``; long
work shows a progress bar unless ``--quiet`` or stdout is not a terminal; bad input exits with
status 2 and one line on stderr (``--debug`` shows the traceback instead).

This module builds the parser from the command modules in :mod:`ofa_bench.cli.commands` (each
parses its options, calls the library and prints) and runs it; their shared argument types are
:mod:`ofa_bench.cli.arguments`, their output :mod:`ofa_bench.cli.output`, their progress bars
:mod:`ofa_bench.cli.progress`. Command modules never import this one.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import errno
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

from ofa_bench.cli.commands import (
    archs,
    build_archive,
    catalog,
    data,
    demo,
    evaluate,
    gate,
    hardware,
    harness,
    predictors,
    search,
    train,
)
from ofa_bench.cli.output import PROG, print_error
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import path_problem

__all__ = ["build_parser", "main"]

#: Modules that add subcommands, in help order: each defines ``add_commands(command, group)``.
_COMMAND_MODULES = (archs, catalog, demo, train, evaluate, data, hardware, predictors, search, harness, gate, build_archive)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other error of the CLI."""

    #: The arguments a subcommand's parser was given, searched for a misspelt option on any error.
    _given: Sequence[str] = ()

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix(PROG).strip()
        where = f"{command}: " if command else ""
        hint = f"see '{self.prog} --help'"
        print_error(f"{where}{message}{self._did_you_mean(message)}; {hint}")
        raise SystemExit(2)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        if self._subparsers is None:  # a subcommand: all it is given is its own
            self._given = list(sys.argv[1:] if args is None else args)
        namespace, extras = super().parse_known_args(args, namespace)
        # What a subcommand does not know is its error, so the message points to its --help
        # (argparse would hand the leftovers up to 'ofa-bench' and its --help).
        if extras and self._subparsers is None and self.prog != PROG:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            self._given = extras
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace

    def _did_you_mean(self, message: str) -> str:
        """The closest option to the first given ``--option`` this parser lacks (a misspelt one), or ``""``."""
        options = [o for o in self._option_string_actions if o.startswith("--")]
        for token in self._given:
            if token == "--":
                break
            name = token.partition("=")[0]
            if name.startswith("--") and not any(o.startswith(name) for o in options):
                close = difflib.get_close_matches(name, options, n=1)
                if close:
                    # A misspelt required option is first reported as missing: name the misspelling too.
                    unknown = "" if name in message else f"; unknown option {name}"
                    return f"{unknown} (did you mean {close[0]}?)"
        return ""


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
        module.add_commands(command, group)
    return parser


def _silence_stdout() -> None:
    # After a closed pipe, the interpreter's final flush of stdout would print another error.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _os_problem(exc: OSError) -> str:
    """What an OSError means; for a folder that cannot be made, what is in the way ("File exists" misleads)."""
    if exc.filename and exc.errno in (errno.EEXIST, errno.ENOTDIR, errno.ELOOP):
        problem = path_problem(exc.filename, "folder")
        if problem is not None:
            return problem
    return exc.strerror or str(exc)


def _interrupt_note(args: argparse.Namespace) -> str | None:
    """The line a command prints when interrupted (its ``on_interrupt``), or ``None``."""
    on_interrupt = getattr(args, "on_interrupt", None)
    if on_interrupt is None or args.quiet:
        return None
    try:
        return on_interrupt(args)
    except Exception:  # noqa: BLE001  (a note must never hide the interrupt)
        return None


def _say_from_handler(line: str) -> None:
    # os.write, not print: a signal handler may run while the main thread is inside a write to stderr.
    with contextlib.suppress(OSError):
        os.write(2, f"{PROG}: {line}\n".encode())


@contextlib.contextmanager
def _note_on_sigterm(args: argparse.Namespace) -> Iterator[None]:
    """While a resumable command runs, SIGTERM prints its note, then ends the process as before (status 143)."""
    if getattr(args, "on_interrupt", None) is None or args.quiet or not hasattr(signal, "SIGTERM"):
        yield
        return
    pid = os.getpid()

    def on_sigterm(signum: int, frame: object) -> None:
        signal.signal(signum, signal.SIG_DFL)
        if os.getpid() == pid:  # not in a forked worker, which inherited this handler
            note = _interrupt_note(args)
            if note:
                _say_from_handler(note)
        os.kill(os.getpid(), signum)

    try:
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread: leave SIGTERM alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
        with _note_on_sigterm(args):
            return args.run(args)
    except KeyboardInterrupt:
        note = _interrupt_note(args)
        if note:
            print(f"{PROG}: {note}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped early, e.g. `ofa-bench sample ... | head`
        _silence_stdout()
        return 141
    except OfaBenchError as exc:
        if args.debug:
            raise
        print_error(exc)
        return 2
    except OSError as exc:
        if args.debug:
            raise
        where = f" {exc.filename!r}" if exc.filename else ""
        print_error(f"cannot access{where}: {_os_problem(exc)}")
        return 2
    except Exception as exc:
        if args.debug:
            raise
        print_error(f"internal error: {type(exc).__name__}: {exc}; rerun with --debug")
        return 1


if __name__ == "__main__":
    sys.exit(main())
