"""Subcommands of ``ofa-bench`` that are large enough for their own module.

Each module defines ``add_commands(command, group)``: ``command(name, run, help)`` adds a top-level
subcommand and ``group(name, help)`` adds one with nested subcommands, returning their factory.
Shared output helpers (tables, JSON, argument types) live in :mod:`ofa_bench.cli`.
"""
