"""The random streams of a suite, all spawned from its one ``seed`` with distinct keys.

Every stream is ``numpy.random.SeedSequence(suite_seed, spawn_key=(stream key, index...))``: two
streams with different keys are independent whatever the seeds and indices, so the oracle's
training archive can never be a run's first batch, nor the reference sample a run's, as they
were when each was ``space.sample(n, 0)``.

=====================  ================================================================
stream                 what it draws
=====================  ================================================================
``oracle_archive``     the random archs the surrogate oracle is fitted on
``reference_sample``   the random archs of the fixed reference front and bounds
``runs``               each run's strategy seed (index: the run's seed number)
``lut_calibration``    the calibration archs of a latency table built for the suite
``holdout_split``      which archive archs are held out to score the oracle
``oracle_noise``       a shipped surrogate's noisy draws (index: the run's seed number)
``archive_random``     the random archs of a benchmark's measured archive
``archive_trajectory`` each archive trajectory's strategy seed (index: name digest, number)
``archive_noise``      the BN-calibration subsets of the archive's noise model (index: repeat)
=====================  ================================================================
"""

from __future__ import annotations

import numpy as np

__all__ = ["STREAMS", "stream", "stream_rng", "stream_seed"]

#: Stream name to its spawn key (fixed forever: changing one changes every suite's numbers).
STREAMS = {
    "oracle_archive": 1,
    "reference_sample": 2,
    "runs": 3,
    "lut_calibration": 4,
    "holdout_split": 5,
    "archive_random": 6,
    "archive_trajectory": 7,
    "archive_noise": 8,
    "oracle_noise": 9,
}


def stream(suite_seed: int, name: str, *index: int) -> np.random.SeedSequence:
    """The seed sequence of stream ``name`` (and ``index``, e.g. a run's seed number) of a suite."""
    if name not in STREAMS:
        raise KeyError(f"unknown random stream {name!r}; known: {', '.join(STREAMS)}")
    return np.random.SeedSequence(int(suite_seed), spawn_key=(STREAMS[name], *(int(i) for i in index)))


def stream_rng(suite_seed: int, name: str, *index: int) -> np.random.Generator:
    """A generator on stream ``name``."""
    return np.random.default_rng(stream(suite_seed, name, *index))


def stream_seed(suite_seed: int, name: str, *index: int) -> int:
    """A 63-bit integer seed drawn from stream ``name``, for code that takes an ``int`` seed."""
    return int(stream(suite_seed, name, *index).generate_state(1, np.uint64)[0] >> np.uint64(1))
