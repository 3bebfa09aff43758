"""Search on one split, report on another: the held-out re-measurement of every run's final front.

A search (and a surrogate oracle's archive) sees only the search split; when a suite is done,
every finished run's final front (its feasible non-dominated evaluations) is measured live on a
split the search never saw, and ``hv_test`` (that front's hypervolume with the re-measured
accuracies, in the same fixed normalisation) is what the verdict tests. Which splits
(``report_split: auto`` or ``live``):

- a benchmark whose data has a test split (Fashion-MNIST, CIFAR...): search on ``valid``,
  report on ``test`` (:class:`ofa_bench.evaluate.Evaluator`'s ``split``);
- otherwise (digits): the validation split is cut into two fixed halves, drawn from the suite's
  ``holdout_split`` stream; search on half ``a``, report on half ``b``
  (:class:`HalfSplitBenchmark`, whose fingerprint names the half, so caches never mix them).

With ``oracle.mode: shipped`` the search sees the benchmark's shipped surrogate of validation
accuracy and the fronts are re-measured by its surrogate of test accuracy, so no data is read;
with ``report_split: live`` they are measured live on the test split instead (cached), so the
verdict rests on measurements while the search stays as cheap.

``OUT/holdout.csv`` holds one row per (run, front arch): ``key``, ``arch``, ``accuracy`` (what the
search saw) and ``accuracy_test`` (re-measured).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.io.atomic import write_text_atomic
from ofa_bench.metrics.hypervolume import hypervolume
from ofa_bench.metrics.normalise import Normalisation
from ofa_bench.objectives import non_dominated
from ofa_bench.plugins.interfaces import Predictor
from ofa_bench.search.streams import stream_rng

__all__ = ["HOLDOUT_FILE", "HalfSplitBenchmark", "SplitPlan", "front_rows", "plan_splits", "heldout_hypervolume", "remeasure_fronts", "search_benchmark"]

#: The re-measured fronts inside a suite's output directory.
HOLDOUT_FILE = "holdout.csv"


class _HalfData:
    """An :class:`~ofa_bench.data.ImageData` whose ``val`` split is one fixed subset of its positions."""

    def __init__(self, data: Any, keep: np.ndarray) -> None:
        self._data = data
        self._keep = keep
        self.n_val = int(keep.sum())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._data, name)

    def eval_batches(self, split: str, resolution: int, batch_size: int = 256) -> Iterator[tuple[Any, Any]]:
        batches = self._data.eval_batches(split, resolution, batch_size)
        if split != "val":
            yield from batches
            return
        offset = 0
        for x, y in batches:
            rows = self._keep[offset : offset + len(y)]
            offset += len(y)
            if rows.any():
                index = np.flatnonzero(rows)
                yield x[index], y[index]


@dataclass(frozen=True, eq=False)
class HalfSplitBenchmark(Benchmark):
    """A benchmark measured on one fixed half of its validation split.

    Build with :meth:`of`; everything but the validation images (and so the fingerprint) is the
    parent benchmark's.
    """

    half: str = "a"
    keep: np.ndarray = dataclasses.field(default=None, repr=False)  # type: ignore[assignment]

    @classmethod
    def of(cls, bench: Benchmark, half: str, suite_seed: int) -> HalfSplitBenchmark:
        """Half ``a`` or ``b`` of ``bench``'s validation split, cut by the suite's ``holdout_split`` stream."""
        n_val = int(bench.splits.get("n_val") or bench.data().n_val)
        order = stream_rng(suite_seed, "holdout_split", 1).permutation(n_val)
        keep = np.zeros(n_val, dtype=bool)
        keep[order[: n_val // 2] if half == "a" else order[n_val // 2 :]] = True
        fields = {f.name: getattr(bench, f.name) for f in dataclasses.fields(Benchmark)}
        return cls(**fields, half=half, keep=keep)

    @property
    def fingerprint(self) -> str:  # type: ignore[override]
        """The parent's fingerprint with the half and its positions mixed in."""
        parent = Benchmark.fingerprint.func(self)  # type: ignore[attr-defined]
        blob = f"{parent}:val-{self.half}:".encode() + np.packbits(self.keep).tobytes()
        return hashlib.sha256(blob).hexdigest()[:16]

    def data(self) -> Any:
        """The parent's data with ``val`` cut to this half."""
        return _HalfData(Benchmark.data(self), self.keep)

    @property
    def n_val(self) -> int:
        """Validation images of this half."""
        return int(self.keep.sum())


@dataclass(frozen=True)
class SplitPlan:
    """Which benchmark the search measures on and where its fronts are re-measured.

    Attributes:
        search: The benchmark of the search (the parent, or its validation half ``a``).
        report: The benchmark of the re-measurement (``None``: no held-out split).
        report_split: The Evaluator split name of the re-measurement (``valid`` or ``test``).
        describe: JSON-ready words for ``suite.json`` and the report.
        report_oracle: What re-measures instead of the supernet (a shipped surrogate's ``test``
            target), or ``None``: live measurement.
    """

    search: Benchmark
    report: Benchmark | None
    report_split: str
    describe: dict[str, Any]
    report_oracle: Predictor | None = None


def _has_test(bench: Benchmark) -> bool:
    from ofa_bench.evaluate import Evaluator

    return "test_sha256" in bench.splits and "split" in inspect.signature(Evaluator).parameters


def plan_splits(bench: Benchmark, mode: str, suite_seed: int, report_oracle: Predictor | None = None) -> SplitPlan:
    """The search and report splits of a suite on ``bench`` (``mode``: ``auto``, ``live`` or ``none``).

    With ``report_oracle`` (a shipped surrogate of the test split) the search sees the whole
    validation split and the fronts are re-measured by that oracle: no data is read.
    """
    n_val = bench.splits.get("n_val")
    if mode == "none":
        return SplitPlan(bench, None, "valid", {"search": "valid", "report": None, "n_search": n_val})
    if report_oracle is not None:
        split = getattr(report_oracle, "target", "test")
        words = {
            "search": "valid", "report": split, "n_search": n_val, "n_report": bench.splits.get(f"n_{split}"),
            "remeasured_by": getattr(report_oracle, "oracle_label", type(report_oracle).__name__),
        }  # fmt: skip
        return SplitPlan(bench, bench, split, words, report_oracle)
    if _has_test(bench):
        words = {"search": "valid", "report": "test", "n_search": n_val, "n_report": bench.splits.get("n_test")}
        return SplitPlan(bench, bench, "test", words)
    a, b = HalfSplitBenchmark.of(bench, "a", suite_seed), HalfSplitBenchmark.of(bench, "b", suite_seed)
    words = {
        "search": "valid half a", "report": "valid half b", "n_search": a.n_val, "n_report": b.n_val,
        "search_fingerprint": a.fingerprint, "report_fingerprint": b.fingerprint,
    }  # fmt: skip
    return SplitPlan(a, b, "valid", words)


def search_benchmark(directory: str, describe: dict[str, Any] | None, suite_seed: int) -> Benchmark:
    """The search benchmark a worker loads: the benchmark at ``directory``, or its half ``a``."""
    bench = Benchmark.load(directory)
    if describe and describe.get("search") == "valid half a":
        return HalfSplitBenchmark.of(bench, "a", suite_seed)
    return bench


def front_rows(records: pd.DataFrame, norm: Normalisation) -> pd.DataFrame:
    """A run's final front: its feasible, non-dominated evaluations (one row per distinct arch)."""
    feasible = records[norm.feasible_mask(records)]
    if feasible.empty:
        return feasible
    points = norm.points(feasible, feasible_only=False)
    front = feasible[non_dominated(points)]
    return front.drop_duplicates("arch")


def remeasure_fronts(
    out: Path, plan: SplitPlan, logs: dict[str, pd.DataFrame], norm: Normalisation, device: str | None = None
) -> pd.DataFrame:
    """Measure every run's final front on the report split (live, or by ``plan.report_oracle``); write ``holdout.csv``.

    Runs already in ``holdout.csv`` (a resumed suite) are kept as they are.
    """
    from ofa_bench.evaluate import Evaluator

    path = out / HOLDOUT_FILE
    done = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=["key", "arch", "accuracy", "accuracy_test"])
    parts = [done]
    todo = {key: front_rows(df, norm) for key, df in logs.items() if key not in set(done["key"])}
    archs = list(dict.fromkeys(a for front in todo.values() for a in front["arch"]))
    if archs and plan.report is not None:
        space = plan.report.space
        parsed = [space.from_dict(json.loads(text)) for text in archs]
        kwargs = {"split": plan.report_split} if plan.report_split != "valid" else {}
        with Evaluator(plan.report, device=device, oracle=plan.report_oracle, **kwargs) as evaluator:
            measured = evaluator.evaluate(parsed, ())["accuracy"].to_numpy(np.float64)
        accuracy = dict(zip(archs, measured))
        for key, front in todo.items():
            parts.append(pd.DataFrame({
                "key": key, "arch": front["arch"].to_numpy(), "accuracy": front["accuracy"].to_numpy(np.float64),
                "accuracy_test": [accuracy[a] for a in front["arch"]],
            }))  # fmt: skip
    table = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else done
    write_text_atomic(path, table.to_csv(index=False))
    return table


def heldout_hypervolume(records: pd.DataFrame, holdout: pd.DataFrame, norm: Normalisation) -> float:
    """The hypervolume of a run's final front with its accuracies re-measured on the report split."""
    if holdout.empty:
        return float("nan")
    front = front_rows(records, norm)
    remeasured = dict(zip(holdout["arch"], holdout["accuracy_test"]))
    if not set(front["arch"]) <= set(remeasured):
        return float("nan")
    front = front.assign(accuracy=[remeasured[a] for a in front["arch"]])
    return hypervolume(norm.points(front), norm.reference_point)
