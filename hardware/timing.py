"""Timing one callable the way every runner does: warm-up, repeated timed calls, robust summary.

Runners time whole sub-networks and lookup-table builders time single layers with this one
routine, so a table and the runner it predicts share the exact same measurement procedure. The
numpy-only core (:class:`TimingStats`, :func:`time_samples`, :func:`time_interleaved`) lives in the
device agent's package, :mod:`ofa_bench_agent.timing`, so a device measured through the agent
(the ``remote`` runner) is timed by the very same code; it is re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ofa_bench_agent.timing import CLOCKS, STATISTICS, TimingStats, time_interleaved, time_samples

__all__ = ["CLOCKS", "STATISTICS", "TimingStats", "time_interleaved", "time_samples", "torch_threads"]


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the body with ``threads`` intra-op PyTorch threads, restoring the previous count after.

    The count is process-wide in PyTorch, so it is set around each measurement rather than once.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
