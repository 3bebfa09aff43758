"""Training checkpoints: written atomically, read without executing code, checked before use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import atomic_path
from ofa_bench.io.untrusted import load_torch

__all__ = ["load_checkpoint", "save_checkpoint"]

FORMAT = "ofa-bench-train"
VERSION = 1


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically: a crash leaves the previous checkpoint intact."""
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "version": VERSION, **state}, tmp)


def load_checkpoint(path: str | Path, identity: dict[str, Any]) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` and check it belongs to this run.

    Args:
        path: The checkpoint file.
        identity: Fields it must match (space, schedule, data, seed): resuming under other
            settings would silently train a different network.

    Raises:
        OfaBenchError: Missing, corrupted or foreign file, or one written by another run.
    """
    path = Path(path)
    name = repr(str(path))
    if not path.is_file():
        raise OfaBenchError(f"checkpoint {name} not found")
    state = load_torch(path, f"checkpoint {name}", " is corrupted or not a torch file")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise OfaBenchError(f"checkpoint {name} is not an ofa-bench training checkpoint")
    if state.get("version") != VERSION:
        raise OfaBenchError(f"checkpoint {name} has format version {state.get('version')}; this ofa-bench reads {VERSION}")
    for key, expected in identity.items():
        if state.get(key) != expected:
            raise OfaBenchError(
                f"checkpoint {name} was written with {key} {_short(state.get(key))}; this run asks for "
                f"{key} {_short(expected)}; resume needs the same {key}"
            )
    return state


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
