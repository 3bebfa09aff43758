"""The machine speed factor: one calibration kernel per kind of work, timed in the gated session.

The gate (``benchmarks/gate.py``) divides every benchmark's change against the baseline by the change
of its kind's kernel here; see :mod:`benchmarks.calibration`. These run first (file order), and again
with any benchmark the gate re-measures.
"""

from __future__ import annotations

import pytest

from benchmarks.calibration import KINDS, build_kernel


@pytest.mark.parametrize("kind", [pytest.param(k, marks=pytest.mark.calibration(k), id=k) for k in KINDS])
def test_calibration(benchmark, kind, quick):
    """Time one kind's kernel: the minimum over many short rounds is this machine's speed at that work."""
    run = build_kernel(kind)
    benchmark.extra_info["calibration_kernel"] = kind
    benchmark.pedantic(run, rounds=15 if quick else 40, warmup_rounds=2)
