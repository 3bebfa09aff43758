"""Zero-cost proxies as accuracy predictors: a score per arch from one minibatch, no training.

One predictor plug-in, ``zc``, whose ``proxy`` parameter names the proxy (``zc:proxy=nwot``;
docs/zero_cost.md): ``fit`` learns nothing (it checks its parameters and that the benchmark loads, and records the space), and
``predict`` scores every arch on the sub-network the supernet yields for it. Higher scores are
meant to mean higher accuracy; ranks are what count (Kendall tau, Spearman), not values.

Parameters:

* ``proxy``: ``synflow`` (default), ``snip``, ``grasp``, ``fisher``, ``grad_norm``, ``jacov``,
  ``nwot``, ``zen``, ``epe_nas`` (on the network), or ``flops`` / ``params`` (analytic MACs and
  parameter counts, the baselines; they ignore the other parameters).

* ``benchmark``: a benchmark directory (``ofa_bench/benchmark/shipped/fmnist`` for the shipped
  Fashion-MNIST one); ``None`` uses seeded random supernet weights and Gaussian-noise images,
  which only tests use.
* ``weights``: ``supernet`` (the sub-network with the supernet's trained weights) or ``init``
  (the same sub-network re-initialised from ``seed``: He-normal, or N(0, 1) for ``zen`` as in
  Zen-NAS).
* ``batch_size``: images in the minibatch (default 64), drawn from the training split.
* ``seed``: which minibatch, and the re-initialisation.
* ``jobs``: worker processes that score the archs not yet memoised (default 1: this process). Each
  worker holds one torch thread and loads the benchmark once (joblib's loky workers are reused
  between calls); scores are the same as with one process. A proxy's double backward barely gains from a
  second torch thread but scales with processes (``grasp``: 0.75 -> 0.41-0.45 s of wall per arch
  with ``jobs=2`` on 2 cores), so for long tables use ``jobs`` rather than threads.

Scores are memoised per process (they are a pure function of the parameters and the arch), so a
search or an evaluation that meets an arch twice computes it once; :func:`clear_cache` forgets them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from ofa_bench_predictors.zc_context import Context, context, reinitialise
from ofa_bench_predictors.zc_proxies import PROXIES

from ofa_bench.costs import macs_params
from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins.predictor_base import ArchRegressor
from ofa_bench.space import SearchSpace

__all__ = ["ALL_PROXIES", "NETWORK_PROXIES", "ZeroCostPredictor", "clear_cache", "worker_cpu_seconds"]

#: Allowed values of ``weights``.
WEIGHTS = ("supernet", "init")
#: Proxies scored on a network (the rest, ``flops`` and ``params``, are analytic).
NETWORK_PROXIES: tuple[str, ...] = tuple(PROXIES)
#: Every proxy ``zc`` computes.
ALL_PROXIES: tuple[str, ...] = (*NETWORK_PROXIES, "flops", "params")
_MAX_CACHE = 200_000
_SCORES: dict[tuple, float] = {}
#: CPU seconds that ``jobs`` worker processes spent scoring, as they reported it (this process's own
#: CPU time is not in it). Workers can be replaced between calls (loky restarts a worker whose memory
#: grew), so the parent cannot read their clocks reliably; each chunk brings its own figure back.
_WORKER_CPU = [0.0]


def clear_cache() -> None:
    """Forget every memoised score (for timing, and for tests of determinism)."""
    _SCORES.clear()


def worker_cpu_seconds() -> float:
    """CPU seconds spent scoring in ``jobs`` worker processes so far in this process's life."""
    return _WORKER_CPU[0]


class ZeroCostPredictor(ArchRegressor):
    """A zero-cost proxy as a predictor: the proxy's score is the prediction; ``fit`` learns nothing."""

    name: ClassVar[str] = "zc"

    def __init__(
        self,
        *,
        proxy: str = "synflow",
        weights: str = "supernet",
        benchmark: str | None = None,
        batch_size: int = 64,
        seed: int | None = 0,
        space: str | SearchSpace | None = None,
        jobs: int = 1,
    ) -> None:
        self.proxy = proxy
        self.weights = weights
        self.benchmark = benchmark
        self.batch_size = batch_size
        self.seed = seed
        self.space = space
        self.jobs = jobs

    # ----- ArchRegressor hooks -------------------------------------------------------------------

    def _fit_array(self, array: np.ndarray, y: np.ndarray, space: SearchSpace) -> None:
        self._check_params()
        if self.proxy in NETWORK_PROXIES:
            context(self.benchmark, space, self._seed())  # loads (and checks) the benchmark once

    def _predict_array(self, array: np.ndarray) -> np.ndarray:
        if self.proxy not in NETWORK_PROXIES:
            macs, params = macs_params(array, self.space_)
            return (macs if self.proxy == "flops" else params).astype(np.float64)
        ctx = context(self.benchmark, self.space_, self._seed())
        keys = [(self.proxy, self.weights, ctx.label, self.batch_size, self._seed(), row.tobytes()) for row in array]
        first: dict[tuple, int] = {}  # each arch not memoised yet, once, at its first row
        for i, key in enumerate(keys):
            if key not in _SCORES and key not in first:
                first[key] = i
        todo = list(first.values())
        fresh = {keys[todo[n]]: score for n, score in self._scores(ctx, [array[i] for i in todo])}
        out = np.array([fresh[key] if key in fresh else _SCORES[key] for key in keys], dtype=np.float64)
        if len(_SCORES) + len(fresh) > _MAX_CACHE:
            _SCORES.clear()
        _SCORES.update(fresh)
        return out

    def _scores(self, ctx: Context, rows: list[np.ndarray]) -> Iterator[tuple[int, float]]:
        """``(position, score)`` of each row: here (on ``ctx``), or on ``jobs`` worker processes in chunks."""
        if self.jobs == 1 or len(rows) < 2:
            yield from ((i, self._score(ctx, row)) for i, row in enumerate(rows))
            return
        workers = min(self.jobs, len(rows))
        chunks = [list(range(w, len(rows), workers)) for w in range(workers)]
        params = {**self.get_params(), "jobs": 1, "space": self.space_}
        tasks = [(params, [(i, rows[i]) for i in chunk]) for chunk in chunks]
        # loky (a plug-in uses the public core only, not the harness's engines): fresh processes, reused
        # between calls, so each loads the benchmark once.
        from joblib import Parallel, delayed

        for done, cpu in Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")(
            delayed(_score_chunk)(task) for task in tasks
        ):
            _WORKER_CPU[0] += cpu
            yield from done

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        pass

    # ----- the score -----------------------------------------------------------------------------

    def _seed(self) -> int:
        return 0 if self.seed is None else int(self.seed)

    def _check_params(self) -> None:
        where = f"zc:proxy={self.proxy}"
        if self.proxy not in ALL_PROXIES:
            raise OfaBenchError(f"zc: unknown proxy {self.proxy!r}; allowed: {', '.join(ALL_PROXIES)}")
        if self.weights not in WEIGHTS:
            raise OfaBenchError(f"{where}: weights={self.weights!r} is not allowed; allowed: {', '.join(WEIGHTS)}")
        if (
            isinstance(self.batch_size, bool)
            or not isinstance(self.batch_size, int)
            or not 2 <= self.batch_size <= 4096
        ):
            raise OfaBenchError(f"{where}: batch_size must be an integer from 2 to 4096; got {self.batch_size!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0):
            raise OfaBenchError(f"{where}: seed must be an integer >= 0 or none; got {self.seed!r}")
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or not 1 <= self.jobs <= 256:
            raise OfaBenchError(f"{where}: jobs must be an integer from 1 to 256; got {self.jobs!r}")
        if self.benchmark is not None and not isinstance(self.benchmark, str):
            raise OfaBenchError(f"{where}: benchmark must be a directory path; got {self.benchmark!r}")

    def _score(self, ctx: Context, row: np.ndarray) -> float:
        arch = ctx.space.from_array(row[None, :])[0]
        x, y = ctx.batch(arch.r, self.batch_size, self._seed())
        model = ctx.subnet(arch, twice_differentiable=self.proxy == "grasp")
        if self.weights == "init":
            reinitialise(model, self._seed(), "gaussian" if self.proxy == "zen" else "kaiming")
        with torch.enable_grad():
            if self.proxy == "zen":

                def features(inp: torch.Tensor) -> torch.Tensor:
                    return model.final_expand(model.blocks(model.stem(inp)))

                value = PROXIES["zen"](model, x, y, features=features, seed=self._seed())
            else:
                value = PROXIES[self.proxy](model, x, y)
        if not np.isfinite(value):  # a degenerate network (e.g. a singular NASWOT kernel): rank it last
            value = -1e300 if value < 0 or np.isnan(value) else 1e300
        return float(value)


def _score_chunk(task: tuple[dict[str, Any], list[tuple[int, np.ndarray]]]) -> tuple[list[tuple[int, float]], float]:
    """A worker's share: ``(position, score)`` per row, on one torch thread (module level: picklable),
    and the CPU seconds it took (loading the benchmark included, the first time in a worker)."""
    start = time.process_time()
    params, rows = task
    torch.set_num_threads(1)
    predictor = ZeroCostPredictor(**params)
    predictor.space_ = params["space"]
    ctx = context(predictor.benchmark, predictor.space_, predictor._seed())
    return [(i, predictor._score(ctx, row)) for i, row in rows], time.process_time() - start
