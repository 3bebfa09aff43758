"""Which dataset to use and how to split it: :class:`DataSpec`, validated on construction."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted.limits import excerpt

__all__ = ["DATASETS", "DataSpec"]

#: Dataset names a :class:`DataSpec` accepts.
DATASETS = ("digits", "fashion-mnist", "idx", "cifar10", "cifar100", "imagefolder")

_FIELD_RULES: dict[str, tuple[tuple[type, ...], str]] = {
    "dataset": ((str,), f"one of {', '.join(DATASETS)}"),
    "root": ((str, type(None)), "a folder path or null"),
    "split_seed": ((int,), "an integer in [0, 2**32)"),
    "val_fraction": ((int, float), "a number strictly between 0 and 1"),
    "calib_size": ((int,), "an integer >= 1"),
    "augment": ((bool,), "true or false"),
}


@dataclass(frozen=True)
class DataSpec:
    """Which dataset to use and how to split it; validated on construction.

    Attributes:
        dataset: ``digits``, ``fashion-mnist``, ``idx`` (any MNIST-format folder), ``cifar10``,
            ``cifar100`` or ``imagefolder``.
        root: Folder holding the data; required for all but digits and fashion-mnist (which is
            also looked for elsewhere, see :mod:`ofa_bench.data.idx_files`); a path-like is turned
            into a str.
        split_seed: Seed of the validation split and the calibration subset.
        val_fraction: Held-out validation share (seeded, stratified) of the training images for
            digits, IDX datasets (whose official test split is kept for reporting) and an image
            folder without ``val/``; CIFAR validates on its test set.
        calib_size: Images drawn (seeded, stratified where labels allow) from the train split for
            BN calibration, as OFA does.
        augment: Whether training batches are augmented.
    """

    dataset: str = "digits"
    root: str | None = None
    split_seed: int = 0
    val_fraction: float = 0.2
    calib_size: int = 500
    augment: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.root, os.PathLike):
            object.__setattr__(self, "root", os.fspath(self.root))
        for name, (types, allowed) in _FIELD_RULES.items():
            value = getattr(self, name)
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise OfaBenchError(f"data spec field {name!r} must be {allowed}; got {type(value).__name__} {excerpt(value)}")
        if self.dataset not in DATASETS:
            known = ", ".join(DATASETS)
            raise OfaBenchError(f"unknown dataset {excerpt(self.dataset)} in data spec field 'dataset'; known: {known}")
        checks = {
            "split_seed": 0 <= self.split_seed < 2**32,
            "val_fraction": 0 < self.val_fraction < 1,
            "calib_size": self.calib_size >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                allowed = _FIELD_RULES[name][1]
                raise OfaBenchError(f"data spec field {name!r} must be {allowed}; got {excerpt(getattr(self, name))}")
        object.__setattr__(self, "val_fraction", float(self.val_fraction))

    def to_dict(self) -> dict[str, Any]:
        """The spec as a JSON-ready dict; :meth:`from_dict` reads it back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataSpec:
        """Build a spec from a mapping such as a config section; missing keys take their defaults.

        Raises:
            OfaBenchError: An unknown key, a value of the wrong type, or a value out of range.
        """
        names = [f.name for f in fields(cls)]
        if not isinstance(data, Mapping):
            keys = ", ".join(names)
            raise OfaBenchError(f"a data spec must be a mapping with keys {keys}; got {type(data).__name__}")
        unknown = sorted(repr(key) for key in data if key not in names)
        if unknown:
            raise OfaBenchError(f"unknown data spec key {unknown[0]}; allowed keys: {', '.join(names)}")
        return cls(**data)
