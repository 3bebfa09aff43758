"""Where a measured artefact came from: the git commit of the code and the command line that made it."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

__all__ = ["format_command", "git_commit"]


def git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=False)
        return done.stdout.strip() or None if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None



def format_command(argv: Sequence[str]) -> str:
    """The command line as a user would type it."""
    return "ofa-bench " + " ".join(shlex.quote(a) for a in argv)
