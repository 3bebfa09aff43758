"""Parallel engines for suite runs: joblib processes by default, Dask or Ray for clusters, or serial.

Each engine maps one picklable function over the pending runs and yields results as runs
finish; scheduling is the engine's own (no scheduler of ours), so a run is the unit of work.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ofa_bench.errors import OfaBenchError

__all__ = ["ENGINES", "map_unordered"]

T = TypeVar("T")
R = TypeVar("R")

#: Engine kinds a suite may name.
ENGINES: tuple[str, ...] = ("joblib", "dask", "ray", "serial")


def map_unordered(
    fn: Callable[[T], R], items: Sequence[T], kind: str = "joblib", jobs: int | None = None, address: str | None = None
) -> Iterator[R]:
    """Call ``fn`` on every item through an engine; yield the results in completion order.

    Args:
        fn: A module-level (picklable) function.
        items: Its arguments, one call each.
        kind: ``joblib``, ``dask``, ``ray`` or ``serial``.
        jobs: Parallel workers (default: one per CPU core, at most one per item).
        address: Scheduler address of an existing Dask or Ray cluster (default: start a local one).

    Raises:
        OfaBenchError: Unknown engine, or its package is not installed.
    """
    if kind not in ENGINES:
        raise OfaBenchError(f"engine.kind: unknown engine {kind!r}; known: {', '.join(ENGINES)}")
    if not items:
        return iter(())
    workers = max(1, min(len(items), jobs or os.cpu_count() or 1))
    if kind == "serial" or (kind == "joblib" and workers == 1):
        return (fn(item) for item in items)
    return {"joblib": _joblib, "dask": _dask, "ray": _ray}[kind](fn, items, workers, address)


def _joblib(fn: Callable[[T], R], items: Sequence[T], workers: int, address: str | None) -> Iterator[R]:
    from joblib import Parallel, delayed

    # loky: fresh processes, so runs share no interpreter state and a crash stays in its worker.
    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")
    yield from parallel(delayed(fn)(item) for item in items)


def _dask(fn: Callable[[T], R], items: Sequence[T], workers: int, address: str | None) -> Iterator[R]:
    distributed = _require("dask.distributed", "dask", 'pip install "dask[distributed]"')
    if address is not None:
        client = distributed.Client(address)
        cluster = None
    else:
        # One thread per worker process: each run uses one core, like the joblib engine. Starting
        # the workers writes Dask's worker settings (OMP_NUM_THREADS=1 and others) into this
        # process's environment; they are put back so later subprocesses are not pinned too.
        environ = dict(os.environ)
        try:
            cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
        finally:
            os.environ.clear()
            os.environ.update(environ)
        client = distributed.Client(cluster)
    try:
        futures = client.map(fn, list(items), pure=False)
        for future in distributed.as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _ray(fn: Callable[[T], R], items: Sequence[T], workers: int, address: str | None) -> Iterator[R]:
    ray = _require("ray", "ray", 'pip install "ray[default]"')
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False)
    try:
        remote = ray.remote(num_cpus=1)(fn)
        pending = [remote.remote(item) for item in items]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        if started:
            ray.shutdown()


def _require(module: str, kind: str, install: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise OfaBenchError(f"engine.kind: {kind} needs the {module.split('.')[0]!r} package here; {install}") from None
