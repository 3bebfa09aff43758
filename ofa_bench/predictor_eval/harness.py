"""Compare accuracy predictors on one archive, NASLib-style: train sizes x seeds, fixed test set.

A fixed, seeded test set is held out once; for every seed the remaining pool is shuffled once and
each train size takes a prefix of that order, so larger training sets contain the smaller ones
and differences between sizes are not sampling noise. Every predictor sees the same archs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ofa_bench.errors import OfaBenchError
from ofa_bench.metrics.predictors import METRICS, score
from ofa_bench.plugins import registry
from ofa_bench.plugins.guard import plugin_code
from ofa_bench.predictor_eval.archive import Archive

__all__ = ["Split", "check_predictors", "evaluate_predictors", "split", "summarise"]

#: Per-run columns besides the metrics.
TIMES: tuple[str, ...] = ("fit_seconds", "predict_seconds")


@dataclass(frozen=True)
class Split:
    """The fixed test set and the pool training sets are drawn from (indices into an archive)."""

    test: np.ndarray
    pool: np.ndarray

    def train(self, size: int, seed: int) -> np.ndarray:
        """The first ``size`` archs of the pool in the order of ``seed`` (prefixes nest)."""
        order = np.random.default_rng([seed, 0x7E57]).permutation(self.pool)
        return order[:size]


def split(n: int, test_size: int, train_sizes: Sequence[int], test_seed: int = 0) -> Split:
    """Hold out ``test_size`` of ``n`` archs, checking every train size fits in the rest.

    Raises:
        OfaBenchError: A test set that leaves nothing to train on, or a train size larger than
            the pool (naming the largest allowed).
    """
    if test_size < 2 or test_size > n - 2:
        raise OfaBenchError(f"--test-size {test_size} must be between 2 and {n - 2} for an archive of {n} unique archs")
    pool = n - test_size
    for size in train_sizes:
        if size < 2:
            raise OfaBenchError(f"train size {size} is too small; predictors need at least 2 archs")
        if size > pool:
            raise OfaBenchError(
                f"train size {size} is larger than the {pool} archs left for training ({n} unique archs minus the "
                f"{test_size}-arch test set); the largest allowed is {pool}"
            )
    order = np.random.default_rng([test_seed, 0x7E57]).permutation(n)
    return Split(test=np.sort(order[:test_size]), pool=np.sort(order[test_size:]))


def check_predictors(specs: Sequence[str]) -> list[str]:
    """The predictor specs (``name`` or ``name:key=value[:key=value]``), checked against the registry.

    Raises:
        OfaBenchError: A malformed spec, an unknown name (listing the known ones), or none at all.
    """
    known = registry.names("predictor")
    specs = [s.strip() for s in specs if s.strip()]
    if not specs:
        raise OfaBenchError(f"no predictors given; known: {', '.join(known)}")
    for spec in specs:
        name, _ = registry.parse_spec(spec)
        if name not in known:
            raise OfaBenchError(f"unknown accuracy predictor {name!r}; known: {', '.join(known) or 'none'}")
    return specs


def evaluate_predictors(
    archive: Archive,
    predictors: Sequence[str],
    train_sizes: Sequence[int],
    seeds: Sequence[int],
    test_size: int = 300,
    test_seed: int = 0,
    higher_is_better: bool = True,
    on_run: Callable[[int, int, str], None] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Fit every predictor at every train size and seed; score each on the fixed test set.

    Args:
        archive: The measured archs.
        predictors: Registered predictor names; each is created with ``seed=<seed>`` when it
            takes a ``seed`` parameter.
        train_sizes: Training-set sizes.
        seeds: Seeds of the training samples (and of the predictors).
        test_size: Held-out archs, the same for every run.
        test_seed: Seed of the held-out set.
        higher_is_better: Direction of the target, for the top-10% precision.
        on_run: Called after each run with ``(done, total, description)``.
        params: Constructor parameters per predictor name, e.g. ``{"mlp": {"hidden_size": 200}}``.

    Returns:
        One row per run: ``predictor``, ``train_size``, ``seed``, the :data:`METRICS` and
        ``fit_seconds``, ``predict_seconds``.
    """
    names = check_predictors(predictors)  # specs; each is its own row label
    sizes = sorted(set(int(s) for s in train_sizes))
    parts = split(len(archive), test_size, sizes, test_seed)
    x_test, y_test = archive.array[parts.test], archive.y[parts.test]
    total, rows = len(names) * len(sizes) * len(seeds), []
    for name in names:
        for size in sizes:
            for seed in seeds:
                train = parts.train(size, seed)
                base, spec_params = registry.parse_spec(name)
                predictor = registry.create("predictor", base, **{**(params or {}).get(base, {}), **spec_params})
                if "seed" in predictor.get_params(deep=False):
                    predictor.set_params(seed=seed)
                archs = archive.space.from_array(archive.array[train])
                start = time.perf_counter()
                with plugin_code(f"accuracy predictor {name!r}: fit()"):
                    predictor.fit(archs, archive.y[train])
                fitted = time.perf_counter()
                with plugin_code(f"accuracy predictor {name!r}: predict()"):
                    pred = np.asarray(predictor.predict(archive.space.from_array(x_test)), dtype=np.float64)
                done = time.perf_counter()
                rows.append({
                    "predictor": name, "train_size": size, "seed": seed,
                    **score(y_test, pred, higher_is_better),
                    "fit_seconds": fitted - start, "predict_seconds": done - fitted,
                })  # fmt: skip
                if on_run is not None:
                    on_run(len(rows), total, f"{name} n={size} seed={seed}")
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Median and interquartile range over seeds of every metric and time.

    Returns:
        One row per ``(predictor, train_size)`` in input order, with ``<metric>_median`` and
        ``<metric>_iqr`` columns and ``seeds`` (how many runs).
    """
    rows = []
    for (name, size), group in runs.groupby(["predictor", "train_size"], sort=False):
        row: dict[str, object] = {"predictor": name, "train_size": int(size), "seeds": len(group)}
        for column in (*METRICS, *TIMES):
            q25, q50, q75 = np.percentile(group[column].to_numpy(dtype=np.float64), [25, 50, 75])
            row[f"{column}_median"] = float(q50)
            row[f"{column}_iqr"] = float(q75 - q25)
        rows.append(row)
    return pd.DataFrame(rows)
