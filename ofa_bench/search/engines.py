"""Parallel engines for suite runs: joblib processes by default, Dask or Ray for clusters, or serial.

Each engine maps one picklable function over the pending runs and yields results as runs
finish; scheduling is the engine's own (no scheduler of ours), so a run is the unit of work.

Every call runs with its stdout sent to stderr (:func:`ofa_bench.plugins.guard.stdout_to_stderr`:
workers share the command's stdout, which may be carrying its ``--json`` output), and a local
worker (joblib's; Dask's and Ray's without an address) exits as soon as the process that started
it is gone, killed or not (:func:`exit_with`), after running the clean-ups registered with
:func:`on_parent_exit` (an archive worker gives back its claims).
"""

from __future__ import annotations

import itertools
import os
import select
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins.guard import stdout_to_stderr

__all__ = ["ENGINES", "exit_with", "map_unordered", "on_parent_exit"]

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
        return (_call(fn, None, item) for item in items)
    # A cluster's workers may be on other machines, where this process id means nothing.
    parent = os.getpid() if kind == "joblib" or address is None else None
    return {"joblib": _joblib, "dask": _dask, "ray": _ray}[kind](fn, items, workers, address, parent)


def _call(fn: Callable[[T], R], parent: int | None, item: T) -> R:
    """One call of ``fn``, in a worker or in this process."""
    if parent is not None and parent != os.getpid():
        exit_with(parent)
    with stdout_to_stderr():
        return fn(item)


def _joblib(
    fn: Callable[[T], R], items: Sequence[T], workers: int, address: str | None, parent: int | None
) -> Iterator[R]:
    from joblib import Parallel, delayed

    # loky: fresh processes, so runs share no interpreter state and a crash stays in its worker.
    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")
    yield from parallel(delayed(_call)(fn, parent, item) for item in items)


def _dask(
    fn: Callable[[T], R], items: Sequence[T], workers: int, address: str | None, parent: int | None
) -> Iterator[R]:
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
        n = len(items)
        futures = client.map(_call, [fn] * n, [parent] * n, list(items), pure=False)
        for future in distributed.as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _ray(
    fn: Callable[[T], R], items: Sequence[T], workers: int, address: str | None, parent: int | None
) -> Iterator[R]:
    ray = _require("ray", "ray", 'pip install "ray[default]"')
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False)
    try:
        remote = ray.remote(num_cpus=1)(_call)
        pending = [remote.remote(fn, parent, item) for item in items]
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


# ----- workers die with their parent --------------------------------------------------------------

_WATCHED: set[int] = set()
_CLEANUPS: dict[int, Callable[[], None]] = {}
_keys = itertools.count()
_watch_lock = threading.Lock()
#: Seconds the clean-ups of :func:`on_parent_exit` may take before the worker exits anyway.
CLEANUP_S = 5.0


def exit_with(pid: int, every_s: float = 0.5) -> None:
    """End this worker process as soon as process ``pid`` is gone (a thread watches; once per pid).

    A parent killed with SIGKILL (or SIGTERM, which Python does not catch) cannot stop its
    workers; without this they would finish their work and then idle on. On Linux the watch waits
    on a pidfd, so the worker exits within milliseconds; elsewhere it polls every ``every_s``
    seconds. Exiting mid-work is safe for everything the engines run: run logs and measurements
    are written as they are made and resumed from.
    """
    with _watch_lock:
        if pid in _WATCHED:
            return
        _WATCHED.add(pid)
    handle = None
    try:
        handle = os.pidfd_open(pid)  # type: ignore[attr-defined]  # Linux >= 5.3, Python >= 3.9
    except ProcessLookupError:
        _leave()
    except (AttributeError, OSError):  # no pidfd here: poll
        handle = None

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])  # readable once the process has exited
            _leave()
        while True:
            time.sleep(every_s)
            try:
                os.kill(pid, 0)  # signal 0: only asks whether the process exists
            except ProcessLookupError:
                _leave()
            except PermissionError:  # exists, owned by another user: not ours to watch
                return

    threading.Thread(target=watch, name="ofa-bench-parent-watch", daemon=True).start()


def on_parent_exit(cleanup: Callable[[], None]) -> Callable[[], None]:
    """Run ``cleanup`` (from another thread) before this worker exits because its parent is gone.

    Returns:
        A function that unregisters it.
    """
    key = next(_keys)
    with _watch_lock:
        _CLEANUPS[key] = cleanup

    def unregister() -> None:
        with _watch_lock:
            _CLEANUPS.pop(key, None)

    return unregister


def _leave() -> None:
    """Run the clean-ups (for at most :data:`CLEANUP_S` seconds), then exit at once."""
    timer = threading.Timer(CLEANUP_S, os._exit, (1,))
    timer.daemon = True
    timer.start()
    with _watch_lock:
        cleanups = list(_CLEANUPS.values())
    for cleanup in cleanups:
        try:
            cleanup()
        except Exception:  # best effort: the process ends either way
            pass
    os._exit(1)
