"""The evaluator: archs in, records out, each measured once per benchmark.

Accuracy comes from the benchmark's supernet (BN re-calibrated per arch on the fixed calibration
subset, then top-1 on the fixed validation split, or on the test split for reporting) or, when an
``oracle`` predictor is given, from that surrogate (clipped to [0, 1]), labelled as such in every record. MACs and
params are analytic; latency comes from hardware backends. Accuracies are cached in
``cache.sqlite`` inside the benchmark (in the user cache directory for a shipped benchmark), keyed
by the benchmark fingerprint, the oracle (``live`` on the validation split, ``live:test`` on the
test split, a shipped surrogate's ``shipped:<fingerprint>``, or another surrogate's label plus a
digest of its fitted state) and the arch; each row is committed as soon as it is measured, so an
interrupted evaluation resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import math
import pickle
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ofa_bench.benchmark.measure import LIVE, Measurer
from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.benchmark.zoo import cache_dir
from ofa_bench.costs import macs_params
from ofa_bench.errors import OfaBenchError, SpaceError
from ofa_bench.io.cache import Measurement, MeasurementCache
from ofa_bench.nn import resolve_device
from ofa_bench.plugins import registry
from ofa_bench.plugins.guard import plugin_code
from ofa_bench.plugins.interfaces import HardwareBackend, Predictor
from ofa_bench.space import Arch, SearchSpace

__all__ = ["COLUMNS", "LIVE", "SPLITS", "Evaluator", "archive"]

#: The oracle label of accuracies measured on the supernet.

#: Record columns, in order; one ``latency:<backend>`` column per backend goes after ``params``.
COLUMNS = ("arch", "r", "accuracy", "loss", "macs", "params", "wall_time", "cached", "fingerprint", "oracle", "split")

#: Splits accuracy is measured on: ``valid`` for search and predictors, ``test`` for reporting only.
SPLITS = ("valid", "test")
_DATA_SPLIT = {"valid": "val", "test": "test"}

_UNITS = {
    "accuracy": "fraction (top-1)",
    "loss": "nats (mean cross-entropy)",
    "macs": "multiply-accumulates",
    "params": "parameters",
    "wall_time": "s",
}


class Evaluator:
    """Measures archs on one benchmark.

    Args:
        benchmark: A :class:`Benchmark` or the path of a benchmark directory.
        device: Where the supernet runs (default: CUDA when present).
        cache: Read and write ``cache.sqlite`` in the benchmark directory.
        oracle: A fitted :class:`Predictor` to use instead of the supernet (a surrogate benchmark);
            neither the supernet's forward passes nor the data are then ever needed. An oracle may
            name itself (an ``oracle_label`` attribute) and the split it predicts (``target``), as
            a benchmark's shipped surrogate does (:class:`ofa_bench.benchmark.surrogate.ShippedSurrogate`); one
            without ``target`` predicts ``valid``.
        progress: Show a progress bar on stderr while measuring.
        split: ``valid`` (default: what search and predictors see) or ``test`` (the held-out test
            split, for reporting; datasets without one, such as digits, have only ``valid``).
    """

    def __init__(
        self,
        benchmark: Benchmark | str | Path,
        *,
        device: str | torch.device | None = None,
        cache: bool = True,
        oracle: Predictor | None = None,
        progress: bool = False,
        split: str = "valid",
    ) -> None:
        if split not in SPLITS:
            raise OfaBenchError(f"unknown split {split!r}; allowed splits: {', '.join(SPLITS)}")
        self.split = split
        self.benchmark = benchmark if isinstance(benchmark, Benchmark) else Benchmark.load(benchmark)
        if split == "test" and "test_sha256" not in self.benchmark.splits:
            raise OfaBenchError(
                f"benchmark {str(self.benchmark.directory)!r} ({self.benchmark.data_spec.dataset}) has no test split; "
                "allowed splits: valid"
            )
        predicts = getattr(oracle, "target", "valid") if oracle is not None else split
        if predicts != split:
            raise OfaBenchError(
                f"the oracle predicts {predicts} accuracy; split must be {predicts} with this oracle, not {split}"
            )
        if oracle is not None and not isinstance(oracle, Predictor):
            raise OfaBenchError(f"oracle must be a fitted Predictor instance; got {type(oracle).__name__}")
        fitted_on = getattr(oracle, "predicts_", None)
        if fitted_on not in (None, "accuracy"):
            raise OfaBenchError(
                f"the oracle was fitted to predict {fitted_on!r}, not accuracy; fit one on accuracy "
                "(ofa-bench predictors fit --target accuracy)"
            )
        self.oracle = oracle
        self.device = resolve_device(device) if oracle is None else torch.device("cpu")
        self.progress = progress
        self._cache = MeasurementCache(cache_dir(self.benchmark.directory)) if cache else None
        self._measurer: Measurer | None = None
        self._probed: set[object] = set()  # backends (spec or instance id) that measured an arch here

    @property
    def space(self) -> SearchSpace:
        """The benchmark's search space."""
        return self.benchmark.space

    @property
    def oracle_label(self) -> str:
        """``"live"``, the oracle's own label (a shipped surrogate's), or ``"surrogate:<predictor class name>"``."""
        if self.oracle is None:
            return LIVE
        return getattr(self.oracle, "oracle_label", None) or f"surrogate:{type(self.oracle).__name__}"

    def close(self) -> None:
        """Close the cache connection."""
        if self._cache is not None:
            self._cache.close()

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- public ---------------------------------------------------------------------------------

    def evaluate(
        self, archs: Iterable[Arch | Mapping[str, Any]], backends: Sequence[str | HardwareBackend] = ("mmacs",)
    ) -> pd.DataFrame:
        """Measure archs; one record per arch, in input order (duplicates are measured once).

        Args:
            archs: Archs of the benchmark's space, or their OFA dicts.
            backends: Hardware backend names, specs (``"lut:table=out/lut.yaml"``, see
                :func:`ofa_bench.plugins.registry.parse_spec`) or instances; each adds a
                ``latency:<name>`` column in that backend's units (``df.attrs["units"]``).

        Returns:
            A DataFrame with columns ``arch`` (OFA JSON), ``r``, ``accuracy``, ``loss``, ``macs``,
            ``params``, ``latency:<name>``..., ``wall_time``, ``cached``, ``fingerprint``,
            ``oracle``, ``split``. ``wall_time`` is the time the accuracy measurement took when it was made,
            also for cached rows.
        """
        if isinstance(backends, (str, HardwareBackend)):
            backends = (backends,)
        archs = self._check(archs)
        backend_objs = [registry.create_from_spec("hardware", b) for b in backends]
        unique = list(dict.fromkeys(archs))
        key = self._cache_key()
        results = self._lookup(unique, key)
        missing = [a for a in unique if a not in results]
        if missing and self.oracle is None:
            # Live accuracy takes seconds per arch: a backend that cannot measure these archs (a table
            # of another space, a device that does not answer) fails now, on one arch, not after them
            # all. Once per backend and evaluator, so a search's later batches pay nothing for it.
            for spec, backend in zip(backends, backend_objs):
                probed = spec if isinstance(spec, str) else id(spec)
                if probed not in self._probed:
                    with plugin_code(f"hardware backend {backend.name or type(backend).__name__!r}: latency()"):
                        backend.latency(missing[:1])
                    self._probed.add(probed)
        if missing:
            results.update(self._predict(missing, key) if self.oracle is not None else self._measure_all(missing, key))
        return self._frame(archs, unique, results, backend_objs)

    # ----- steps ----------------------------------------------------------------------------------

    def _check(self, archs: Iterable[Arch | Mapping[str, Any]]) -> list[Arch]:
        space = self.space
        out = []
        for i, arch in enumerate(archs):
            if isinstance(arch, Mapping):
                try:
                    arch = space.from_dict(arch)
                except SpaceError as exc:
                    raise SpaceError(f"arch {i}: {exc}") from None
            elif not isinstance(arch, Arch):
                raise OfaBenchError(f"arch {i} is a {type(arch).__name__}; expected an Arch or an OFA dict")
            elif arch.space != space:
                raise SpaceError(
                    f"arch {i} is of space {arch.space.name!r}; benchmark {self.benchmark.fingerprint} "
                    f"is of {space.name!r}"
                )
            out.append(arch)
        return out

    def _cache_key(self) -> str | None:
        """The oracle's key in the cache; ``None`` when its answers cannot be cached.

        A surrogate's key adds a digest of its pickled state, so a refitted predictor (or one with
        other parameters) never reads the predictions of an earlier fit.
        """
        if self._cache is None:
            return None
        if self.oracle is None:
            return LIVE if self.split == "valid" else f"{LIVE}:{self.split}"
        named = getattr(self.oracle, "oracle_label", None)
        if named:  # it names exactly what it answers (a shipped surrogate: its files' fingerprint)
            return str(named)
        try:
            state = pickle.dumps(self.oracle, protocol=4)
        except Exception:  # an unpicklable predictor still predicts; it just is not cached
            return None
        return f"{self.oracle_label}@{hashlib.sha256(state).hexdigest()[:16]}"

    def _lookup(self, archs: list[Arch], key: str | None) -> dict[Arch, Measurement]:
        if key is None or not archs:
            return {}
        found = self._cache.get(self.benchmark.fingerprint, key, [a.to_json() for a in archs])
        return {a: found[a.to_json()] for a in archs if a.to_json() in found}

    def _store(self, archs: list[Arch], results: list[Measurement], key: str | None) -> None:
        if key is not None:
            self._cache.put(self.benchmark.fingerprint, key, [a.to_json() for a in archs], results)

    def _predict(self, archs: list[Arch], key: str | None) -> dict[Arch, Measurement]:
        start = time.perf_counter()
        with plugin_code(f"oracle {self.oracle_label!r}: predict()"):
            predicted = self.oracle.predict(archs)
        accuracy = np.asarray(predicted, dtype=np.float64).reshape(-1)
        if accuracy.shape != (len(archs),):
            raise OfaBenchError(
                f"oracle {type(self.oracle).__name__}.predict returned {accuracy.size} values for {len(archs)} archs"
            )
        each = (time.perf_counter() - start) / len(archs)
        # Accuracy is a fraction: a regressor's prediction beyond [0, 1] is clipped (NaN stays a failure).
        accuracy = np.clip(accuracy, 0.0, 1.0)
        results = [Measurement(float(a), math.nan, each, cached=False) for a in accuracy]
        self._store(archs, results, key)
        return dict(zip(archs, results))

    def _measure_all(self, archs: list[Arch], key: str | None) -> dict[Arch, Measurement]:
        results = {}
        with _progress(self.progress, len(archs), f"evaluating on {self.device}") as advance:
            for arch in archs:
                start = time.perf_counter()
                accuracy, loss = self._measure(arch)
                result = Measurement(accuracy, loss, time.perf_counter() - start, cached=False)
                self._store([arch], [result], key)  # committed now: a killed run resumes after this arch
                results[arch] = result
                advance()
        return results

    def _measure(self, arch: Arch) -> tuple[float, float]:
        """Top-1 accuracy and mean cross-entropy of ``arch`` on the evaluator's split."""
        if self._measurer is None:
            self._measurer = Measurer(self.benchmark, self.device)
        outcome = self._measurer.measure(arch, [_DATA_SPLIT[self.split]])[_DATA_SPLIT[self.split]]
        return outcome.accuracy, outcome.loss

    def _frame(
        self,
        archs: list[Arch],
        unique: list[Arch],
        results: dict[Arch, Measurement],
        backends: list[HardwareBackend],
    ) -> pd.DataFrame:
        macs, params = macs_params(archs, self.space) if archs else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        rows = [results[a] for a in archs]
        columns: dict[str, Any] = {
            "arch": [a.to_json() for a in archs],
            "r": np.array([a.r for a in archs], dtype=np.int64),
            "accuracy": np.array([m.accuracy for m in rows], dtype=np.float64),
            "loss": np.array([m.loss for m in rows], dtype=np.float64),
            "macs": macs.astype(np.int64),
            "params": params.astype(np.int64),
        }
        units = dict(_UNITS)
        described = {}
        position = {a: i for i, a in enumerate(unique)}
        index = np.array([position[a] for a in archs], dtype=np.int64)
        for backend in backends:
            with plugin_code(f"hardware backend {backend.name or type(backend).__name__!r}: describe() or latency()"):
                info = backend.describe()
                measured = backend.latency(unique) if unique else ()
            name = f"latency:{info.get('name') or backend.name or type(backend).__name__}"
            values = np.asarray(measured, dtype=np.float64).reshape(-1) if unique else np.zeros(0)
            if values.shape != (len(unique),):
                raise OfaBenchError(f"{name}: backend returned {values.size} values for {len(unique)} archs")
            columns[name] = values[index]
            units[name] = info.get("units", "ms")
            described[name] = info
        columns["wall_time"] = np.array([m.wall_time for m in rows], dtype=np.float64)
        columns["cached"] = np.array([m.cached for m in rows], dtype=bool)
        columns["fingerprint"] = [self.benchmark.fingerprint] * len(archs)
        columns["oracle"] = [self.oracle_label] * len(archs)
        columns["split"] = [self.split] * len(archs)
        df = pd.DataFrame(columns)
        df.attrs.update(
            fingerprint=self.benchmark.fingerprint,
            split=self.split,
            oracle=self.oracle_label,
            space=self.space.name,
            benchmark=str(self.benchmark.directory),
            units=units,
            backends=described,
        )
        return df


def archive(
    benchmark: Benchmark | str | Path,
    n: int,
    seed: int = 0,
    backends: Sequence[str | HardwareBackend] = ("mmacs", "mparams"),
    evaluator: Evaluator | None = None,
) -> pd.DataFrame:
    """Measure ``n`` seeded random archs of the benchmark's space.

    Resumable through the cache, and a prefix of a larger archive with the same seed (sampling
    draws archs row by row), so growing ``n`` measures only the new archs.

    Args:
        benchmark: The benchmark, or its directory.
        n: How many archs.
        seed: Sampling seed.
        backends: Hardware backends for the ``latency:<name>`` columns.
        evaluator: An evaluator of this benchmark to use (e.g. with another device or oracle).
    """
    if evaluator is None:
        evaluator = Evaluator(benchmark)
    elif isinstance(benchmark, Benchmark) and benchmark.fingerprint != evaluator.benchmark.fingerprint:
        raise OfaBenchError(
            f"archive: the evaluator measures benchmark {evaluator.benchmark.fingerprint}, not {benchmark.fingerprint}"
        )
    df = evaluator.evaluate(evaluator.space.sample(n, seed), backends)
    df.attrs["seed"] = seed
    return df


@contextmanager
def _progress(show: bool, total: int, description: str) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr, or nothing; yields a function that advances it by one."""
    if not show:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)
