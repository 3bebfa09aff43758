"""Timing one callable the way every runner does: warm-up, repeated timed calls, robust summary.

Runners on the host (:mod:`ofa_bench_hardware.runners`, which re-exports this module through
:mod:`ofa_bench_hardware.timing`) and the device agent time whole sub-networks and single layers
with these routines, so a lookup table, the runner it predicts and a device measured through the
agent share the exact same measurement procedure. Only the standard library and numpy are used:
this module runs on the device.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["CLOCKS", "STATISTICS", "TimingStats", "time_interleaved", "time_samples"]


@dataclass(frozen=True)
class TimingStats:
    """Summary of repeated timings of one call, in milliseconds.

    Attributes:
        median_ms: Median time of one call: the latency a runner reports.
        q1_ms: First quartile.
        q3_ms: Third quartile.
        mean_ms: Mean (sensitive to outliers such as a pre-empted run; kept for OFA's table format).
        std_ms: Standard deviation.
        min_ms: Fastest call.
        count: How many timed calls the summary is over.
    """

    median_ms: float
    q1_ms: float
    q3_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    count: int

    def value(self, statistic: str) -> float:
        """The figure called ``statistic`` (one of :data:`STATISTICS`), in milliseconds."""
        return {"median": self.median_ms, "min": self.min_ms}[statistic]

    @property
    def iqr_ms(self) -> float:
        """Interquartile range: the spread reported beside the median."""
        return self.q3_ms - self.q1_ms

    @classmethod
    def from_samples(cls, samples_ms: np.ndarray | list[float]) -> TimingStats:
        """Summarise raw per-call times in milliseconds.

        Args:
            samples_ms: One time per call; at least one.
        """
        x = np.asarray(samples_ms, dtype=np.float64)
        q1, median, q3 = np.percentile(x, [25, 50, 75])
        return cls(float(median), float(q1), float(q3), float(x.mean()), float(x.std()), float(x.min()), x.size)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields plus ``iqr_ms``, ready for JSON or YAML."""
        return {**asdict(self), "iqr_ms": self.iqr_ms}


#: Clocks a measurement can use: wall time (latency), or CPU time of the calling thread.
CLOCKS = ("wall", "cpu")
#: Figures a runner can report per arch: the median call, or the fastest.
STATISTICS = ("median", "min")


def time_samples(
    fn: Callable[[], object],
    *,
    warmup: int,
    repeats: int,
    sync: Callable[[], None] | None = None,
    clock: str = "wall",
    check: Callable[[], None] | None = None,
) -> np.ndarray:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` calls timed one by one.

    Each call is timed alone (not a loop divided by its length) so the median and quartiles
    describe single inferences and a pre-empted call shows up as an outlier, not as a shift.

    Args:
        fn: The call to time, e.g. one forward pass on a fixed input.
        warmup: Untimed calls first (allocator, caches, lazy initialisation, kernel selection).
        repeats: Timed calls.
        sync: Called before starting and before stopping each clock, e.g.
            ``torch.cuda.synchronize`` so asynchronous device work is inside the interval.
        clock: ``"wall"`` (latency) or ``"cpu"``: CPU time of the calling thread, which
            excludes time the thread waits while other processes run, so single-threaded
            inference measures steadily on a shared machine (it counts no other thread's work).
        check: Called after every call, outside the timed interval; it may raise to stop the
            timing (the device agent stops a measurement at its deadline this way).

    Returns:
        The ``repeats`` times in milliseconds.
    """
    for _ in range(warmup):
        fn()
        if check is not None:
            check()
    if sync is not None:
        sync()
    samples = np.empty(max(repeats, 0), dtype=np.float64)
    # Looked up at call time (not bound at import) so tests can substitute a fake clock.
    read = time.perf_counter if clock == "wall" else time.thread_time
    for i in range(samples.size):
        if sync is not None:
            sync()
        start = read()
        fn()
        if sync is not None:
            sync()
        samples[i] = read() - start
        if check is not None:
            check()
    return samples * 1e3


def time_interleaved(
    calls: Sequence[Callable[[], object]],
    *,
    warmup: int,
    repeats: int,
    rounds: int,
    sync: Callable[[], None] | None = None,
    clock: str = "wall",
    on_round: Callable[[int, int], None] | None = None,
    check: Callable[[], None] | None = None,
) -> list[TimingStats]:
    """Time several calls in interleaved rounds so slow drift in machine load hits all alike.

    Every call is warmed up, then ``rounds`` passes over the calls each time ``repeats / rounds``
    calls of each, after one untimed call. On a shared machine the load changes over seconds;
    timing one network after another would turn that drift into differences between networks,
    and rank them by when they were measured. The untimed call re-warms the caches with the
    call's own weights, which the other calls of the pass evicted, so each timed call runs as in
    back-to-back inference (without it, ONNX Runtime timed ~40% slower amid 50 other sessions
    than amid 10, so figures depended on the batch they were measured in).

    Args:
        calls: The calls to time.
        warmup: Untimed calls of each before the first round (and one more in every round).
        repeats: Timed calls of each, in all rounds together (at least one per call).
        rounds: Passes over ``calls``; capped at ``repeats``.
        sync: See :func:`time_samples`.
        clock: See :func:`time_samples`.
        on_round: Called as ``on_round(done, rounds)`` after each pass, e.g. to move a progress bar.
        check: See :func:`time_samples`.

    Returns:
        One summary per call, in order.
    """
    for call in calls:
        time_samples(call, warmup=warmup, repeats=0, sync=sync, check=check)
    repeats = max(repeats, 1)
    rounds = min(max(rounds, 1), repeats)
    per_round = np.diff(np.linspace(0, repeats, rounds + 1).round().astype(int))
    samples: list[list[np.ndarray]] = [[] for _ in calls]
    for done, n in enumerate(per_round, start=1):
        for i, call in enumerate(calls):
            samples[i].append(time_samples(call, warmup=1, repeats=int(n), sync=sync, clock=clock, check=check))
        if on_round is not None:
            on_round(done, rounds)
    return [TimingStats.from_samples(np.concatenate(s)) for s in samples]
