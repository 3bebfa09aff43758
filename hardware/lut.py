"""Latency lookup tables: an arch's latency is the sum of its layers' measured latencies.

Queries are vectorised: per space, every (block position, kernel, expand, resolution) is resolved
to its table latency once (:mod:`ofa_bench_hardware.layer_grid`), so a batch of archs becomes one gather
and a masked sum. Tables are built by :meth:`LookupTableBackend.build` (``ofa-bench hardware
build-lut``) or are OFA's published per-resolution files (:mod:`ofa_bench_hardware.lut_format`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from ofa_bench_hardware.batch import arch_array
from ofa_bench_hardware.layer_grid import layer_grid
from ofa_bench_hardware.lut_format import LatencyTable, load_table

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted import excerpt
from ofa_bench.plugins.interfaces import HardwareBackend

if TYPE_CHECKING:
    from ofa_bench.space import Arch, SearchSpace

__all__ = ["LookupTableBackend"]

@dataclass(frozen=True)
class _SpaceIndex:
    """A table resolved onto one space's layer grid; NaN marks layers the table lacks."""

    block_ms: np.ndarray  # (n_blocks, |ks|, |e|, |r|)
    block_keys: np.ndarray  # same shape, layer keys (for messages)
    fixed_ms: np.ndarray  # (|r|,) sum of the layers every arch has
    fixed_missing: tuple[str | None, ...]  # per resolution, the first missing fixed layer key
    ks_index: np.ndarray  # choice value -> index along the grid's axes
    e_index: np.ndarray
    r_index: np.ndarray
    positions: np.ndarray  # arange(n_blocks)


class LookupTableBackend(HardwareBackend):
    """Latency from a per-layer lookup table: ``scale * sum of the arch's layers + overhead_ms``.

    ``scale`` and ``overhead_ms`` come from the table's header, fitted on whole networks when the
    table was built (1 and 0 for OFA's tables).

    Args:
        table: A table file (ours or OFA's), a list of files, or a directory of ``.yaml`` files
            (e.g. OFA's one file per resolution). In a backend spec: ``lut:table=PATH``.
    """

    accepts_arrays = True

    name = "lut"

    def __init__(self, table: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None) -> None:
        if table is None:
            raise OfaBenchError(
                "the lut backend needs a table: pass table=PATH (backend spec 'lut:table=PATH'); "
                "build one with 'ofa-bench hardware build-lut'"
            )
        self.table = table
        self.table_: LatencyTable = load_table(table)
        self._indexes: dict[SearchSpace, _SpaceIndex] = {}

    @classmethod
    def build(
        cls,
        space: SearchSpace | str,
        runner: str | HardwareBackend,
        out: str | os.PathLike[str],
        *,
        progress: bool = False,
        calibration_archs: int = 10,
        seed: int = 0,
        save_every_s: float = 10.0,
        group_size: int = 512,
        **runner_params: Any,
    ) -> LookupTableBackend:
        """Profile every distinct layer of ``space`` on ``runner`` and write the table to ``out``.

        Resumable: an unfinished table at ``out`` built with the same runner settings is
        continued, skipping the layers already timed. See :func:`ofa_bench_hardware.lut_build.build_table`.

        Args:
            space: Search space or preset name.
            runner: Runner name, backend spec (``"torch-cpu:threads=2"``) or instance; it must
                have ``time_modules`` (the built-in runners do).
            out: Where to write the YAML table.
            progress: Show a progress bar on stderr.
            calibration_archs: Whole archs measured at the end to fit ``scale`` and ``overhead_ms``.
            seed: Seed of the layer weights and the calibration archs.
            save_every_s: Seconds between saves of partial progress.
            group_size: Layers timed together in interleaved rounds (progress is saved between).
            **runner_params: Runner constructor parameters (``threads``, ``repeats``, ...) when
                ``runner`` is given by name.

        Returns:
            A backend reading the finished table.
        """
        from ofa_bench_hardware.lut_build import build_table

        path = build_table(
            space, runner, out, progress=progress, calibration_archs=calibration_archs, seed=seed,
            save_every_s=save_every_s, group_size=group_size, runner_params=runner_params,
            table_sum=lambda table, archs: cls(table=table).latency(archs),
        )  # fmt: skip
        return cls(table=path)

    # ----- queries -----------------------------------------------------------------------------

    def latency(self, archs: Sequence[Arch] | np.ndarray, *, space: SearchSpace | None = None) -> np.ndarray:
        """Predicted latency of each arch in milliseconds (see the class docstring).

        Args:
            archs: Archs of one space, or an ``(n, n_columns)`` choice array with ``space``.
            space: The space of an array batch.

        Returns:
            Float64 array of shape ``(n,)``.

        Raises:
            OfaBenchError: The table lacks a layer of some arch (the message names the layer key),
                or was built for another space.
        """
        array, space = arch_array(archs, space)
        if array.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        index = self._index(space)
        nb = space.n_blocks
        ki, ei = index.ks_index[array[:, :nb]], index.e_index[array[:, nb : 2 * nb]]
        ri = index.r_index[array[:, -1]]
        active = space.active_mask(array)
        per_block = index.block_ms[index.positions, ki, ei, ri[:, None]]
        total = np.where(active, per_block, 0.0).sum(axis=1) + index.fixed_ms[ri]
        if np.isnan(total).any():
            self._raise_missing(index, array, active, ki, ei, ri, space)
        latency = total * self.table_.scale + self.table_.overhead_ms
        if (latency < 0).any():  # a negative overhead_ms larger than a small arch's layers
            raise OfaBenchError(
                f"lookup table {self.table_.label}: overhead_ms {self.table_.overhead_ms:g} makes the latency of "
                f"some archs negative ({latency.min():.4g} ms); refit the table's calibration"
            )
        return latency

    def resolutions(self, space: SearchSpace) -> tuple[int, ...]:
        """The resolutions of ``space`` whose fixed layers (stem, head, ...) are all in the table.

        OFA publishes tables for a few resolutions only; validation samples archs at these.
        """
        index = self._index(space)
        return tuple(r for r, missing in zip(space.resolutions, index.fixed_missing) if missing is None)

    def describe(self) -> dict[str, Any]:
        """The table's runner, device and library versions (from its header), and its digest."""
        header = self.table_.header
        runner = header.get("runner") if isinstance(header.get("runner"), dict) else {}
        return {
            "name": self.name,
            "device": runner.get("device", "unknown (table without an ofa-bench header, e.g. OFA's)"),
            "version": runner.get("version", "unknown"),
            "units": "ms",
            "deterministic": True,
            "runner": runner.get("name"),
            "threads": runner.get("threads"),
            "batch_size": runner.get("batch_size"),
            "clock": runner.get("clock"),
            "statistic": header.get("statistic"),
            "space": header.get("space"),
            "complete": header.get("complete"),
            "scale": self.table_.scale,
            "overhead_ms": self.table_.overhead_ms,
            "table": [str(p.path) for p in self.table_.parts],
            "digest": self.table_.digest[:16],
            "n_layers": sum(len(p.latency_ms) for p in self.table_.parts),
        }

    # ----- internals ---------------------------------------------------------------------------

    def _index(self, space: SearchSpace) -> _SpaceIndex:
        index = self._indexes.get(space)
        if index is None:
            built_for = self.table_.header.get("space")
            if built_for is not None and built_for != space.name:
                raise OfaBenchError(
                    f"lookup table {self.table_.label} was built for space {excerpt(built_for)}; "
                    f"archs of {space.name!r} need a table built for that space"
                )
            index = self._indexes[space] = _resolve(self.table_, space)
        return index

    def _raise_missing(
        self,
        index: _SpaceIndex,
        array: np.ndarray,
        active: np.ndarray,
        ki: np.ndarray,
        ei: np.ndarray,
        ri: np.ndarray,
        space: SearchSpace,
    ) -> None:
        lacking = active & np.isnan(index.block_ms[index.positions, ki, ei, ri[:, None]])
        row = int(np.flatnonzero(np.isnan(index.fixed_ms[ri]) | lacking.any(axis=1))[0])
        key = index.fixed_missing[ri[row]]
        if key is None:
            b = int(np.flatnonzero(lacking[row])[0])
            key = index.block_keys[b, ki[row, b], ei[row, b], ri[row]]
        raise OfaBenchError(
            f"lookup table {self.table_.label} has no latency for layer {key!r} "
            f"(arch {row} of the batch, r={int(array[row, -1])}); build a table for {space.name} "
            f"with 'ofa-bench hardware build-lut'"
        )


def _choice_index(choices: tuple[int, ...]) -> np.ndarray:
    index = np.zeros(max(choices) + 1, dtype=np.int64)
    index[list(choices)] = np.arange(len(choices))
    return index


def _resolve(table: LatencyTable, space: SearchSpace) -> _SpaceIndex:
    """Look every grid layer of ``space`` up in ``table``, resolution by resolution.

    Keys of layers after global pooling do not name the resolution, and OFA's per-resolution files
    each hold them with their own measurement; as in OFA, a resolution reads its own file first
    (the file holding that resolution's stem layer), then the others.
    """
    grid = layer_grid(space)
    nb, nk, ne, nr = grid.blocks.shape
    block_ms = np.full(grid.blocks.shape, np.nan)
    block_keys = np.empty(grid.blocks.shape, dtype=object)
    fixed_ms = np.zeros(nr)
    fixed_missing: list[str | None] = []
    for ri in range(nr):
        stem = grid.fixed[ri][0].key()
        dicts = sorted((p.latency_ms for p in table.parts), key=lambda d: stem not in d)
        missing = None
        for layer in grid.fixed[ri]:
            value = _lookup(dicts, layer.key())
            if value is None and missing is None:
                missing = layer.key()
            fixed_ms[ri] += np.nan if value is None else value
        fixed_missing.append(missing)
        for b in range(nb):
            for ki in range(nk):
                for ei in range(ne):
                    key = grid.blocks[b, ki, ei, ri].key()
                    block_keys[b, ki, ei, ri] = key
                    value = _lookup(dicts, key)
                    block_ms[b, ki, ei, ri] = np.nan if value is None else value
    return _SpaceIndex(
        block_ms, block_keys, fixed_ms, tuple(fixed_missing), _choice_index(space.ks_choices),
        _choice_index(space.e_choices), _choice_index(space.resolutions), np.arange(nb),
    )  # fmt: skip


def _lookup(dicts: list[dict[str, float]], key: str) -> float | None:
    for d in dicts:
        value = d.get(key)
        if value is not None:
            return value
    return None

