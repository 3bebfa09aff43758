"""Building a lookup table: time every distinct layer of a space once on a runner.

The build is resumable and its writes atomic: progress is saved every few seconds (and when
interrupted) as an unfinished table, and a rerun with the same runner settings skips the layers
already in it. At the end a few whole archs are measured on the same runner and a line
``measured = scale * sum of layers + overhead_ms`` is fitted to them and stored in the header
(see :func:`_calibrate`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ofa_bench_hardware.layer_grid import layer_grid
from ofa_bench_hardware.layer_modules import input_shape, layer_module
from ofa_bench_hardware.lut_format import load_table, save_table
from ofa_bench_hardware.timing import TimingStats

from ofa_bench.costs import LayerShape
from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins import registry
from ofa_bench.plugins.interfaces import HardwareBackend
from ofa_bench.space import SearchSpace, get_space

__all__ = ["build_table", "calibration_archs"]

#: Runner settings that must match for a rerun to continue an unfinished table.
_RESUME_KEYS = (
    "name", "device", "version", "threads", "batch_size", "repeats", "warmup", "rounds", "clock", "statistic",
    "channels_last",
)  # fmt: skip
#: Mixed into the seed of the calibration archs so they differ from ``space.sample(n, seed)``.
_CALIBRATION_STREAM = 0x0CA1


def build_table(
    space: SearchSpace | str,
    runner: str | HardwareBackend,
    out: str | os.PathLike[str],
    *,
    progress: bool = False,
    calibration_archs: int = 10,
    seed: int = 0,
    save_every_s: float = 10.0,
    group_size: int = 512,
    runner_params: Mapping[str, Any] | None = None,
    table_sum: Callable[[Path, list], np.ndarray] | None = None,
) -> Path:
    """Time each distinct layer of ``space`` on ``runner`` and write a complete table to ``out``.

    Args:
        space: Search space or preset name.
        runner: Runner name, spec (``"torch-cpu:threads=2"``) or instance with ``time_modules``.
        out: Destination YAML file; an unfinished table there with the same settings is resumed.
        progress: Show a progress bar on stderr.
        calibration_archs: Whole archs measured to fit the per-network overhead (0: none).
        seed: Seed of the layer weights and of the calibration archs.
        save_every_s: Seconds between saves of partial progress.
        group_size: Layers timed together in interleaved rounds, so drifting machine speed hits
            them alike (all 284 of ofa-mini in one group, ofa-mbv3's 1,257 in three); progress is
            saved between groups.
        runner_params: Constructor parameters when ``runner`` is a name or spec.
        table_sum: ``(table path, archs) -> latencies`` as the backend reading the table sums its
            layers; the calibration fits whole networks against it. Passed in by the backend
            (:meth:`ofa_bench_hardware.lut.LookupTableBackend.build`), so this module never imports it.

    Returns:
        ``out`` as a :class:`~pathlib.Path`.
    """
    space = get_space(space)
    params = dict(runner_params or {})
    if _statistic_left_open(runner, params):
        # Tables sum hundreds of layer timings, so they take each layer's fastest call: on a shared
        # CPU whose speed swings over tens of seconds, medians taken at different moments rank
        # whole networks worse (Kendall tau 0.64-0.82 against measured archs, versus 0.80-0.88).
        params["statistic"] = "min"
    runner = registry.create_from_spec("hardware", runner, **params)
    if not callable(getattr(runner, "time_modules", None)):
        raise OfaBenchError(
            f"hardware backend {runner.name!r} cannot time single layers (it has no time_modules); "
            f"build tables with a runner: torch-cpu, torch-cuda or onnxruntime-cpu"
        )
    if not runner.is_available():
        reason = getattr(runner, "unavailable_reason", lambda: "is_available() is False")()
        raise OfaBenchError(f"hardware backend {runner.name!r} is not available here: {reason}")
    out = Path(out)
    if not out.parent.is_dir():
        raise OfaBenchError(f"cannot write lookup table {str(out)!r}: directory {str(out.parent)!r} does not exist")
    info = runner.describe()
    settings = {k: info.get(k) for k in _RESUME_KEYS}
    header: dict[str, Any] = {
        "space": space.name,
        "units": "ms",
        "statistic": info.get("statistic", "median"),
        "complete": False,
        "runner": {**settings, "libraries": info.get("libraries", {})},
        "seed": seed,
        "scale": 1.0,
        "overhead_ms": 0.0,
    }
    entries, finished = _resume(out, space, settings)
    if finished:
        return out
    layers = [layer for layer in layer_grid(space).distinct() if layer.key() not in entries]
    batch = getattr(runner, "batch_size", 1)
    header["started"] = _now()
    with _bar(progress, f"timing layers on {runner.name}", len(entries) + len(layers), len(entries)) as show:
        last_save = time.monotonic()
        size = max(group_size, 1)
        try:
            for start in range(0, len(layers), size):
                group = layers[start : start + size]
                timed = _time_group(runner, group, seed, batch, show, len(entries))
                for layer, stats in zip(group, timed):
                    entries[layer.key()] = _entry(stats)
                show(len(entries))
                if time.monotonic() - last_save >= save_every_s:
                    save_table(out, header, entries)
                    last_save = time.monotonic()
        finally:
            # Also on Ctrl-C or an error: what was timed is kept for the rerun.
            save_table(out, header, entries)
    header["calibration"] = _calibrate(runner, space, out, calibration_archs, seed, progress, table_sum)
    header["scale"] = header["calibration"]["scale"]
    header["overhead_ms"] = header["calibration"]["overhead_ms"]
    header["complete"] = True
    header["finished"] = _now()
    return save_table(out, header, entries)


def _statistic_left_open(spec: Any, params: Mapping[str, Any]) -> bool:
    """Whether a runner given by name or spec takes a ``statistic`` that neither it nor ``params`` set.

    ``None`` counts as unset, as in :func:`ofa_bench.plugins.registry.create`. An instance has chosen its
    statistic already. Deciding before the runner is created means it is created once, with the
    statistic the table needs.
    """
    if not isinstance(spec, str) or params.get("statistic") is not None:
        return False
    name, spec_params = registry.parse_spec(spec)
    if "statistic" in spec_params:
        return False
    return _accepts(registry.get("hardware", name), "statistic")


def _accepts(cls: type, key: str) -> bool:
    """Whether ``cls`` takes the keyword ``key``, following ``**kwargs`` up to the base classes.

    A runner subclass commonly adds its own options and passes ``**kwargs`` on, so the
    signature of ``cls`` alone does not show what its base's constructor takes.
    """
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters
        if key in parameters:
            return True
        if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            return False
    return False


def calibration_archs(space: SearchSpace, n: int, seed: int) -> list:
    """The archs a table is calibrated on: the extremes, then seeded random ones.

    Drawn from a stream of their own (not ``space.sample(n, seed)``), so validating with the
    same seed measures other archs than the ones the table was fitted to.
    """
    extremes = [space.smallest(min(space.resolutions)), space.largest(max(space.resolutions))]
    return (extremes + space.sample(max(n - 2, 0), rng=np.random.default_rng([seed, _CALIBRATION_STREAM])))[:n]


def _calibrate(
    runner: HardwareBackend,
    space: SearchSpace,
    out: Path,
    n: int,
    seed: int,
    progress: bool,
    table_sum: Callable[[Path, list], np.ndarray] | None,
) -> dict[str, Any]:
    """Fit ``measured = scale * (sum of layers) + overhead_ms`` on ``n`` whole archs.

    The overhead is time in no layer (the call into the network, the flatten before the
    classifier); the scale absorbs what makes a layer faster alone than inside a network (warm
    caches; with ``statistic=min``, that the sum of per-layer minima undercuts the network's
    minimum more the more layers it has). Theil-Sen, so one disturbed measurement cannot tilt it;
    with fewer than 3 archs, or a fit that is not increasing, only the overhead is fitted.

    A fit must keep every calibration arch's latency positive (the smallest arch of the space is
    always among them, so then every arch's is): a steep line through a few noisy timings can
    have an intercept of minus tens of milliseconds, which the table would refuse at every query.
    Such a fit falls back to the overhead alone, then to a ratio (``scale`` only, always
    positive); ``fit`` in the result says which was kept.
    """
    if n <= 0:
        return {"archs": 0, "scale": 1.0, "overhead_ms": 0.0}
    from scipy.stats import theilslopes

    if table_sum is None:
        raise OfaBenchError("calibrating a table needs table_sum (how the backend sums a table's layers)")
    archs = calibration_archs(space, n, seed)
    summed = table_sum(out, archs)  # the table saved so far: scale 1, no overhead
    with _bar(progress, f"calibrating on {runner.name}", len(archs), 0) as show:
        measured = np.asarray(runner.latency(archs), dtype=np.float64).reshape(-1)
        show(len(archs))
    bad = ~(np.isfinite(measured) & (measured > 0)) if measured.shape == (len(archs),) else None
    if bad is None or bad.any():
        got = f"{measured.size} values" if bad is None else f"{measured[bad][0]!r} for {archs[int(np.argmax(bad))]}"
        raise OfaBenchError(
            f"calibrating on {runner.name}: whole-arch latencies must be {len(archs)} finite values > 0 (ms); got {got}"
        )
    if not (np.all(np.isfinite(summed)) and np.all(summed > 0)):
        raise OfaBenchError(f"calibrating on {runner.name}: the table's summed latencies must be finite and > 0")
    candidates = []  # (fit, scale, overhead), the preferred first
    if len(archs) >= 3 and np.ptp(summed) > 0:
        slope, intercept, _, _ = theilslopes(measured, summed)
        if slope > 0:
            candidates.append(("line", float(slope), float(intercept)))
    candidates.append(("offset", 1.0, float(np.median(measured - summed))))
    candidates.append(("ratio", float(np.median(measured / summed)), 0.0))
    # The ratio is positive for positive timings, so the search always ends by it.
    fit, scale, overhead = next(c for c in candidates if np.all(c[1] * summed + c[2] > 0))
    fitted = scale * summed + overhead
    return {
        "archs": len(archs),
        "seed": seed,
        "fit": fit,
        "scale": round(scale, 6),
        "overhead_ms": round(overhead, 6),
        "median_relative_error_before": round(float(np.median(np.abs(summed - measured) / measured)), 4),
        "median_relative_error_after": round(float(np.median(np.abs(fitted - measured) / measured)), 4),
    }


def _resume(out: Path, space: SearchSpace, settings: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], bool]:
    """The entries of an existing table at ``out`` to continue from, and whether it is complete."""
    if not out.exists():
        return {}, False
    table = load_table(out)
    header = table.header
    if not header:
        raise OfaBenchError(f"{str(out)!r} exists and is not an ofa-bench lookup table; choose another --out")
    previous = {k: (header.get("runner") or {}).get(k) for k in _RESUME_KEYS}
    if header.get("space") != space.name or previous != settings:
        differing = [k for k in _RESUME_KEYS if previous[k] != settings[k]]
        what = "space" if header.get("space") != space.name else ", ".join(differing)
        raise OfaBenchError(
            f"{str(out)!r} holds a table built with other settings ({what}); rerun with the same "
            f"space and runner settings to resume, or choose another --out"
        )
    from ofa_bench.io.untrusted import read_yaml

    # Re-read the full per-layer statistics (load_table keeps only the latency, and checked them).
    entries = dict(read_yaml(out, f"lookup table {str(out)!r}")["layers"])
    return entries, bool(header.get("complete"))


def _time_group(
    runner: Any, group: list[LayerShape], seed: int, batch: int, show: Callable[[float], None], done_before: int
) -> list[TimingStats]:
    """Time a group of layers on ``runner``, moving the progress bar after each interleaved pass."""
    modules = [(layer_module(x, seed), input_shape(x, batch)) for x in group]
    if "on_round" not in inspect.signature(runner.time_modules).parameters:
        return runner.time_modules(modules)  # another package's runner need not report its passes
    return runner.time_modules(modules, on_round=lambda done, rounds: show(done_before + len(group) * done / rounds))


def _entry(stats: TimingStats) -> dict[str, Any]:
    """A layer's table entry: OFA's fields (count, mean, std) plus the median and quartiles."""
    fields = {"count": stats.count, "mean": stats.mean_ms, "std": stats.std_ms, "median": stats.median_ms,
              "q1": stats.q1_ms, "q3": stats.q3_ms, "min": stats.min_ms}  # fmt: skip
    return {k: v if isinstance(v, int) else float(f"{v:.6g}") for k, v in fields.items()}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@contextlib.contextmanager
def _bar(show: bool, description: str, total: int, completed: int) -> Iterator[Callable[[float], None]]:
    """A rich progress bar on stderr, or nothing; yields a function setting how much is done."""
    if not show:
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )  # fmt: skip

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task(description, total=total, completed=completed)
        yield lambda done: bar.update(task, completed=done)
