"""Seeded splits: the held-out validation share, and stratified picks of a split."""

from __future__ import annotations

import math

import numpy as np

from ofa_bench.data.spec import DataSpec
from ofa_bench.errors import OfaBenchError


def _n_held_out(spec: DataSpec, n: int, what: str) -> int:
    n_val = math.ceil(spec.val_fraction * n)
    if not 0 < n_val < n:
        raise OfaBenchError(
            f"val_fraction {spec.val_fraction} of the {n} {what} images leaves no train or no validation images"
        )
    return n_val


def _stratified_pick(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted positions of ``size`` of ``labels``, drawn seeded and stratified where the labels allow."""
    n = len(labels)
    if size >= n:
        return np.arange(n)
    from sklearn.model_selection import train_test_split

    try:
        picked, _ = train_test_split(np.arange(n), train_size=size, stratify=labels, random_state=seed)
    except ValueError:  # a class with one image, or fewer picks than classes: stratifying is impossible
        picked = np.random.default_rng(seed).choice(n, size, replace=False)
    return np.sort(picked)
