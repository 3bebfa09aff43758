"""A benchmark: one trained supernet plus everything that fixes what its accuracies mean.

A benchmark is a directory holding ``benchmark.json`` (search space, data spec with its split
hashes, BN-calibration and evaluation settings, a free-form training summary) and ``supernet.pt``
(the weights). :meth:`Benchmark.create` writes the weights first and ``benchmark.json`` last, so a
directory without ``benchmark.json`` is a benchmark whose writing did not finish.

The :attr:`Benchmark.fingerprint` names exactly what determines a measurement: two evaluations
are comparable when, and only when, their fingerprints are equal.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ofa_bench.errors import OfaBenchError, SpaceError
from ofa_bench.io.atomic import atomic_path, write_text_atomic
from ofa_bench.io.untrusted import MAX_BATCH, excerpt, load_torch, read_json
from ofa_bench.nn import ElasticMobileNetV3, resolve_device
from ofa_bench.space import SearchSpace, get_space

if TYPE_CHECKING:
    from ofa_bench.data import DataSpec, ImageData

__all__ = ["BENCHMARK_FILE", "CHECKPOINT_FILE", "Benchmark"]

BENCHMARK_FILE = "benchmark.json"
CHECKPOINT_FILE = "supernet.pt"
FORMAT = "ofa-bench-benchmark"
CHECKPOINT_FORMAT = "ofa-bench-supernet"
VERSION = 1


@dataclass(frozen=True, eq=False)
class Benchmark:
    """A loaded benchmark directory; build one with :meth:`load` or :meth:`create`.

    Attributes:
        directory: The benchmark directory.
        space: The search space of the supernet.
        data_spec: Which data, split and calibration subset accuracies are measured on.
        splits: What the data said of itself when the benchmark was created: split sizes and
            sha256 hashes, normalisation (see :meth:`ImageData.describe`).
        calibration_batch_size: Batch size of BN re-calibration (it changes the statistics).
        eval_batch_size: Batch size of the validation forward passes.
        training: Free-form summary of how the supernet was trained.
    """

    directory: Path
    space: SearchSpace
    data_spec: DataSpec
    splits: dict[str, Any]
    calibration_batch_size: int
    eval_batch_size: int
    training: dict[str, Any] = field(repr=False)
    _checkpoint_sha256: str = field(repr=False)
    _state_dict: dict[str, torch.Tensor] = field(repr=False)

    @property
    def checkpoint(self) -> Path:
        """The supernet weights file."""
        return self.directory / CHECKPOINT_FILE

    @cached_property
    def fingerprint(self) -> str:
        """16 hex characters naming everything that determines a measurement.

        Covers the preset, the data spec (without its local root path: the split hashes name the
        content), the split hashes and normalisation, the calibration settings and the sha256 of
        the checkpoint file.
        """
        spec = {k: v for k, v in self.data_spec.to_dict().items() if k != "root"}
        facts = {
            "preset": self.space.name,
            "data": spec,
            "splits": self.splits,
            "calibration": {"batch_size": self.calibration_batch_size, "size": self.data_spec.calib_size},
            "checkpoint_sha256": self._checkpoint_sha256,
        }
        canonical = json.dumps(facts, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def supernet(self, device: str | torch.device | None = None) -> ElasticMobileNetV3:
        """A fresh supernet with the benchmark's weights, in eval mode, on ``device``."""
        net = ElasticMobileNetV3(self.space)
        net.load_state_dict(self._state_dict)
        net.clear_cache()
        return net.to(resolve_device(device)).eval()

    def data(self) -> ImageData:
        """The benchmark's data (loaded once), checked to split exactly as when it was created.

        Raises:
            OfaBenchError: The data here splits differently (another copy of the dataset, or a
                changed loader), so its accuracies would not be the benchmark's.
        """
        return self._data

    @cached_property
    def _data(self) -> ImageData:
        from ofa_bench.data import load_data

        data = load_data(self.data_spec)
        here = _split_hashes(data)
        for key, expected in self.splits.items():
            if here.get(key) != expected:
                raise OfaBenchError(
                    f"benchmark {str(self.directory)!r}: the {self.data_spec.dataset} data here gives {key}="
                    f"{here.get(key)!r}, but the benchmark was built with {expected!r}; its accuracies "
                    f"would not be comparable (different dataset copy or loader version)"
                )
        return data

    # ----- writing and reading --------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        directory: str | Path,
        net: ElasticMobileNetV3,
        data_spec: DataSpec,
        training: Mapping[str, Any],
        calibration_batch_size: int = 100,
        eval_batch_size: int = 256,
        *,
        data: ImageData | None = None,
    ) -> Benchmark:
        """Write a benchmark directory from a trained supernet and return it loaded.

        Weights are written first and ``benchmark.json`` last (each atomically); an existing
        ``benchmark.json`` is removed before the weights change, so a reader never pairs old
        settings with new weights.

        Args:
            directory: Where to write; created if missing.
            net: The trained supernet (a DDP wrapper is unwrapped); weights are saved on the CPU.
            data_spec: The data it is evaluated on.
            training: JSON-serialisable summary (schedule, epochs, final accuracies, seed).
            calibration_batch_size: Batch size of BN re-calibration.
            eval_batch_size: Batch size of validation forward passes.
            data: The already loaded data of ``data_spec``, to avoid loading it again.
        """
        from ofa_bench.data import load_data

        net = getattr(net, "module", net)  # DistributedDataParallel keeps the model in .module
        if not isinstance(net, ElasticMobileNetV3):
            raise OfaBenchError(f"Benchmark.create needs an ElasticMobileNetV3; got {type(net).__name__}")
        for name, value in (("calibration_batch_size", calibration_batch_size), ("eval_batch_size", eval_batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise OfaBenchError(f"{name} must be an integer >= 1; got {value!r}")
        try:
            training_json = json.loads(json.dumps(dict(training), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise OfaBenchError(f"training summary is not JSON-serialisable: {exc}") from exc
        if data is None:
            data = load_data(data_spec)
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / BENCHMARK_FILE).unlink(missing_ok=True)
        state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        checkpoint = {"format": CHECKPOINT_FORMAT, "version": VERSION, "space": net.space.name, "state_dict": state}
        # Saved through a buffer: torch names the zip records after the file, and the temporary
        # name is random, so saving to the file would make equal weights hash differently.
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        with atomic_path(directory / CHECKPOINT_FILE) as tmp:
            tmp.write_bytes(buffer.getvalue())
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "preset": net.space.name,
            "data": data_spec.to_dict(),
            "splits": _split_hashes(data),
            "calibration": {"batch_size": calibration_batch_size, "size": data_spec.calib_size},
            "eval_batch_size": eval_batch_size,
            "checkpoint": CHECKPOINT_FILE,
            "training": training_json,
        }
        write_text_atomic(directory / BENCHMARK_FILE, json.dumps(meta, indent=2) + "\n")
        return cls.load(directory)

    @classmethod
    def load(cls, directory: str | Path) -> Benchmark:
        """Read and check a benchmark directory, or a shipped benchmark by name (see :mod:`ofa_bench.benchmark.zoo`).

        Raises:
            OfaBenchError: One line naming what is wrong: a missing directory or file, a malformed
                ``benchmark.json``, or a checkpoint that is corrupted, foreign or of another space.
        """
        from ofa_bench.benchmark.zoo import resolve_benchmark
        from ofa_bench.data import DataSpec

        directory = resolve_benchmark(directory)  # a shipped benchmark's name works as well as a path
        where = f"benchmark {str(directory)!r}"
        if not directory.exists():
            raise OfaBenchError(f"{where} not found: no such directory")
        if not directory.is_dir():
            raise OfaBenchError(f"{where} is not a directory; a benchmark is a directory with {BENCHMARK_FILE}")
        meta_path = directory / BENCHMARK_FILE
        if not meta_path.is_file():
            hint = " (its writing did not finish)" if (directory / CHECKPOINT_FILE).exists() else ""
            raise OfaBenchError(
                f"{where} has no {BENCHMARK_FILE}{hint}; train one with 'ofa-bench train --out DIR', "
                "or name a shipped one (see 'ofa-bench bench list')"
            )
        meta = _read_meta(meta_path)
        where = f"{where}: {BENCHMARK_FILE}"
        try:
            space = get_space(meta["preset"])
        except SpaceError as exc:
            raise OfaBenchError(f"{where}: preset: {exc}") from None
        try:
            spec = DataSpec.from_dict(meta["data"])
        except Exception as exc:  # a spec of any shape may be wrong in any way; say so in one line
            raise OfaBenchError(f"{where}: data: {type(exc).__name__}: {exc}") from None
        calibration = _field(meta, "calibration", dict, where)
        splits = _field(meta, "splits", dict, where)
        calib_batch = _positive(calibration, "batch_size", f"{where}: calibration")
        eval_batch = _positive(meta, "eval_batch_size", where)
        training = _field(meta, "training", dict, where)
        checkpoint_name = _field(meta, "checkpoint", str, where)
        if Path(checkpoint_name).name != checkpoint_name:
            raise OfaBenchError(f"{where}: checkpoint must be a file name in the benchmark; got {checkpoint_name!r}")
        if checkpoint_name != CHECKPOINT_FILE:
            raise OfaBenchError(f"{where}: checkpoint must be {CHECKPOINT_FILE!r}; got {checkpoint_name!r}")
        sha, state = _read_checkpoint(directory / CHECKPOINT_FILE, space)
        return cls(directory, space, spec, splits, calib_batch, eval_batch, training, sha, state)


def _split_hashes(data: ImageData) -> dict[str, Any]:
    """What ``data.describe()`` says beyond the spec: split sizes and hashes, normalisation.

    Round-tripped through JSON so it compares equal to what ``benchmark.json`` holds.
    """
    spec = data.spec.to_dict()
    facts = {k: v for k, v in data.describe().items() if k not in spec}
    return json.loads(json.dumps(facts))


def _read_meta(path: Path) -> dict[str, Any]:
    where = f"benchmark file {str(path)!r}"
    meta = read_json(path, where)
    if not isinstance(meta, dict):
        raise OfaBenchError(f"{where} must hold a JSON object; got {type(meta).__name__}")
    if meta.get("format") != FORMAT:
        raise OfaBenchError(f"{where}: format is {meta.get('format')!r}; expected {FORMAT!r}")
    if meta.get("version") != VERSION:
        raise OfaBenchError(f"{where}: version {meta.get('version')!r} is not supported; ofa-bench reads {VERSION}")
    for key in ("preset", "data", "splits", "calibration", "eval_batch_size", "checkpoint", "training"):
        if key not in meta:
            raise OfaBenchError(f"{where}: missing key {key!r}")
    return meta


def _field(meta: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = meta.get(key)
    if not isinstance(value, kind):
        kind_name = "object" if kind is dict else kind.__name__
        raise OfaBenchError(f"{where}: {key} must be a JSON {kind_name}; got {value!r}")
    return value


def _positive(meta: Mapping[str, Any], key: str, where: str) -> int:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BATCH:
        raise OfaBenchError(f"{where}: {key} must be an integer >= 1 and <= {MAX_BATCH:,}; got {excerpt(value)}")
    return value


@lru_cache(maxsize=None)
def _expected_shapes(space: SearchSpace) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in ElasticMobileNetV3(space).state_dict().items()}


def _read_checkpoint(path: Path, space: SearchSpace) -> tuple[str, dict[str, torch.Tensor]]:
    """The checkpoint's sha256 and state dict, checked to be weights of ``space``."""
    where = f"checkpoint {str(path)!r}"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise OfaBenchError(f"{where} not found; the benchmark directory is incomplete") from None
    except OSError as exc:
        raise OfaBenchError(f"{where} cannot be read: {exc.strerror}") from None
    checkpoint = load_torch(raw, where)  # member sizes checked before inflating (docs/security.md)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        got = checkpoint.get("format") if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise OfaBenchError(
            f"{where} is not an ofa-bench supernet checkpoint (format {got!r}, expected {CHECKPOINT_FORMAT!r}); "
            f"write one with Benchmark.create"
        )
    if checkpoint.get("version") != VERSION:
        version = checkpoint.get("version")
        raise OfaBenchError(f"{where}: version {version!r} is not supported; ofa-bench reads {VERSION}")
    if checkpoint.get("space") != space.name:
        raise OfaBenchError(
            f"{where} holds weights of space {checkpoint.get('space')!r}, but {BENCHMARK_FILE} says {space.name!r}"
        )
    state = checkpoint.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise OfaBenchError(f"{where}: state_dict must map names to tensors")
    expected = _expected_shapes(space)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        what = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise OfaBenchError(
            f"{where}: weights do not fit {space.name} ({len(missing)} missing, {len(unexpected)} unexpected; {what})"
        )
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise OfaBenchError(
                f"{where}: weights do not fit {space.name}: {key} has shape {tuple(state[key].shape)}, expected {shape}"
            )
    return hashlib.sha256(raw).hexdigest(), state
