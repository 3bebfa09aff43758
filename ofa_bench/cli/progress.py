"""Progress bars of the ``ofa-bench`` command, on stderr: shown on a terminal unless ``--quiet``.

Every long job reports through one of three shapes: a count (:func:`counting_bar`: evaluations,
fits, measuring jobs), named stages of a suite (:func:`stage_bars`), or training epochs
(:func:`training_bar`). Each yields the callback the library takes; with the bar hidden the
callback does nothing, so the library never needs to know whether anyone is watching.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

__all__ = ["SUITE_STAGES", "counting_bar", "shown", "stage_bars", "training_bar"]

#: What the stages a suite reports progress in are called on screen.
SUITE_STAGES = {
    "benchmark": "training the benchmark (epochs)",
    "archive": "measuring the oracle's archive",
    "reference": "evaluating the reference sample",
    "runs": "runs",
}


def shown(args: argparse.Namespace) -> bool:
    """Whether bars show: stderr is a terminal and ``--quiet`` was not given."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def _progress(args: argparse.Namespace, *columns: object, transient: bool = True, visible: bool = True):  # noqa: ANN202
    from rich.console import Console
    from rich.progress import Progress

    show = visible and shown(args)
    return Progress(*columns, console=Console(file=sys.stderr), transient=transient, disable=not show)


@contextmanager
def counting_bar(args: argparse.Namespace, description: str) -> Iterator[Callable[..., None]]:
    """A bar over a count; yields ``update(done, total, what=None)`` (``what`` joins the description)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())  # fmt: skip
    with _progress(args, *columns) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int, what: str | None = None) -> None:
            label = f"{description}: {what}" if what else description
            bar.update(task, completed=done, total=total, description=label)

        yield update


@contextmanager
def stage_bars(args: argparse.Namespace, labels: Mapping[str, str]) -> Iterator[Callable[[str, int, int], None]]:
    """One bar per stage as it starts; yields ``update(stage, done, total)`` (``labels`` names the stages)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with _progress(args, *columns, transient=False) as progress:
        tasks: dict[str, object] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(labels.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        yield update


@contextmanager
def training_bar(args: argparse.Namespace, epochs: int | None) -> Iterator[Callable[..., None]]:
    """A bar over training epochs (on rank 0 of a distributed run only); yields the trainer's ``on_step``."""
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    rank0 = int(os.environ.get("RANK", "0")) == 0
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[stats]}"), TimeElapsedColumn())
    with _progress(args, *columns, transient=False, visible=rank0) as progress:
        task = progress.add_task("training", total=epochs, stats="")
        done: set[tuple[str, int]] = set()

        def on_step(phase: str, epoch: int, step: int, steps: int, loss: float, accuracy: float) -> None:
            if step == steps:
                done.add((phase, epoch))
            stats = f"step {step}/{steps} loss {loss:.3f} acc {accuracy:.1%}"
            progress.update(task, completed=len(done), description=f"training: {phase} epoch {epoch + 1}", stats=stats)

        yield on_step
