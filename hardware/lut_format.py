"""Reading and writing latency lookup tables: ofa-bench's YAML and OFA's published files.

OFA publishes one YAML file per resolution mapping each layer key to ``{count, mean, std}``
(milliseconds). Our tables use the same keys and per-layer fields, with ``median`` and quartiles
added, under a header naming the space, the runner and its settings, and a calibration fitted on
whole networks (an arch's latency is ``scale * sum of its layers + overhead_ms``)::

    format: ofa-bench-lut
    format_version: 1
    space: ofa-mini
    units: ms
    complete: true
    runner: {name: torch-cpu, device: ..., version: torch 2.14.1, threads: 1, batch_size: 1, ...}
    scale: 1.02
    overhead_ms: 0.05
    layers:
      Conv-input:24x24x1-output:12x12x8: {count: 50, mean: 0.061, std: 0.004, median: 0.060, ...}

A layer's latency is the field the header's ``statistic`` names (``median`` or ``min``, ours),
else its ``mean`` (OFA's files, which have no header).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import atomic_path
from ofa_bench.io.untrusted import MAX_YAML_BYTES, check_finite, excerpt, parse_yaml, read_untrusted_text

__all__ = ["FORMAT", "FORMAT_VERSION", "LatencyTable", "TablePart", "load_table", "save_table", "table_files"]

FORMAT = "ofa-bench-lut"
FORMAT_VERSION = 1

# The C dumper is several times faster on tables of thousands of entries.
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class TablePart:
    """One table file.

    Attributes:
        path: Where it was read from.
        header: Everything but ``layers`` for our format; empty for OFA's files.
        latency_ms: Layer key to latency in milliseconds.
        digest: SHA-256 of the file's bytes (hex).
    """

    path: Path
    header: dict[str, Any]
    latency_ms: dict[str, float]
    digest: str


@dataclass(frozen=True)
class LatencyTable:
    """A lookup table made of one or more files (e.g. OFA's one file per resolution).

    Attributes:
        parts: The files, in the order given.
        header: The header of the first ofa-bench file, empty when all files are OFA's.
    """

    parts: tuple[TablePart, ...]
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The file names for messages: one path, or the first and a count."""
        first = str(self.parts[0].path)
        return first if len(self.parts) == 1 else f"{first} (+{len(self.parts) - 1} more files)"

    @property
    def overhead_ms(self) -> float:
        """Per-network time not in any layer (fitted when our tables are built; 0 for OFA's)."""
        return float(self.header.get("overhead_ms", 0.0))

    @property
    def scale(self) -> float:
        """Factor from a sum of layers to a network (fitted when our tables are built; 1 for OFA's)."""
        return float(self.header.get("scale", 1.0))

    @property
    def digest(self) -> str:
        """One digest of all files' contents, in order, for provenance."""
        return hashlib.sha256("".join(p.digest for p in self.parts).encode()).hexdigest()


def table_files(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files a table source names: a file, a list of files, or directories of ``*.yaml``/``*.yml``.

    Raises:
        OfaBenchError: A path does not exist, or a directory holds no YAML file.
    """
    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not sources:
        raise OfaBenchError("no lookup-table file given; pass a YAML file, a list of files or a directory")
    files: list[Path] = []
    for item in sources:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            if not found:
                raise OfaBenchError(f"lookup-table directory {str(path)!r} holds no .yaml or .yml file")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise OfaBenchError(
                f"lookup table {str(path)!r} does not exist; profile one with 'ofa-bench hardware build-lut "
                f"--space SPACE --runner torch-cpu --out {path}' (docs/hardware.md)"
            )
    return files


def load_table(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> LatencyTable:
    """Load a lookup table from our format or OFA's, from one file, several, or a directory.

    Raises:
        OfaBenchError: A file is missing, not YAML, or not a table (the message names the file).
    """
    parts = tuple(_load_part(path) for path in table_files(source))
    headers = [p.header for p in parts if p.header]
    for other in headers[1:]:
        for key in ("space", "scale", "overhead_ms", "statistic"):
            if other.get(key) != headers[0].get(key):
                raise OfaBenchError(
                    f"lookup-table files disagree on {key}: {excerpt(headers[0].get(key))} vs {excerpt(other.get(key))}; "
                    f"load tables built for one space and runner together"
                )
    return LatencyTable(parts, dict(headers[0]) if headers else {})


#: Bounds of the calibration: a fitted ``scale`` is near 1 and ``overhead_ms`` near 0; a layer
#: beyond an hour is a unit mistake. Together they keep every latency finite.
_MAX_SCALE = 1e3
_OVERHEAD_MS = (-1e3, 1e6)
_MAX_LAYER_MS = 3.6e6


def _load_part(path: Path) -> TablePart:
    where = f"lookup table {str(path)!r}"
    text = read_untrusted_text(path, where, MAX_YAML_BYTES)
    raw = text.encode("utf-8")
    data = parse_yaml(text, where)  # bounded: a table may come from anywhere (docs/security.md)
    if not isinstance(data, Mapping):
        raise OfaBenchError(
            f"lookup table {str(path)!r} is not a mapping of layer keys to {{count, mean, std}} "
            f"(OFA's format) nor an ofa-bench table with a 'layers' section"
        )
    if data.get("format") == FORMAT:
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise OfaBenchError(
                f"lookup table {str(path)!r} has format_version {excerpt(version)}; this ofa-bench reads {FORMAT_VERSION}"
            )
        entries = data.get("layers")
        if not isinstance(entries, Mapping):
            raise OfaBenchError(f"lookup table {str(path)!r} has no 'layers' mapping of layer keys to latencies")
        header = {k: v for k, v in data.items() if k != "layers"}
        check_finite(header.get("scale", 1.0), f"{where}: scale", positive=True, high=_MAX_SCALE)
        check_finite(header.get("overhead_ms", 0.0), f"{where}: overhead_ms", low=_OVERHEAD_MS[0], high=_OVERHEAD_MS[1])
        if header.get("statistic", "median") not in ("median", "min", "mean"):
            raise OfaBenchError(
                f"lookup table {str(path)!r}: statistic must be median, min or mean; got {excerpt(header['statistic'])}"
            )
    else:
        entries, header = data, {}
    field_ = header.get("statistic", "mean")
    latency = {}
    for key, entry in entries.items():
        value = entry.get(field_, entry.get("mean")) if isinstance(entry, Mapping) else None
        if not (isinstance(key, str) and _is_number(value) and 0 <= value <= _MAX_LAYER_MS):
            wanted = repr(field_) if field_ == "mean" else f"{field_!r} or 'mean'"
            raise OfaBenchError(
                f"lookup table {str(path)!r}: entry {excerpt(key, 80)} needs a numeric {wanted} from 0 to "
                f"{_MAX_LAYER_MS:g} ms (e.g. {{count: 50, mean: 0.12, std: 0.01}})"
            )
        latency[key] = float(value)
    return TablePart(path, header, latency, hashlib.sha256(raw).hexdigest())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def save_table(
    path: str | os.PathLike[str], header: Mapping[str, Any], layers: Mapping[str, Mapping[str, Any]]
) -> Path:
    """Write a table in our format atomically (a reader never sees half a table).

    Args:
        path: Destination; its directory must exist.
        header: Header fields (``format`` and ``format_version`` are set here).
        layers: Layer key to its statistics (``count``, ``mean``, ``std``, ``median``, ...).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    document = {"format": FORMAT, "format_version": FORMAT_VERSION, **header, "layers": dict(layers)}
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            yaml.dump(document, f, Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=1000)
    return path
