"""The subcommands of ``ofa-bench``, a module per family (listed in ``ofa_bench.cli._COMMAND_MODULES``).

Each module defines ``add_commands(command, group)``: ``command(name, run, help)`` adds a top-level
subcommand and ``group(name, help)`` adds one with nested subcommands, returning their factory.
Shared output helpers (tables, JSON, argument types) live in :mod:`ofa_bench.cli`.
"""
