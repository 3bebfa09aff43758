"""Reading CIFAR batch files: pickles, unpickled so that only numpy arrays can come out."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ofa_bench.data.sources import _one_line
from ofa_bench.errors import OfaBenchError


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(text, "latin1"); only that is allowed.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin1")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    # Taken from numpy's own reduce values rather than imported by name: numpy 2 moved numpy.core to
    # numpy._core, and old files name the first while new ones name the second.
    reconstruct = np.ndarray((0,)).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    scalar = np.int64(0).__reduce__()[0]
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    allowed[("_codecs", "encode")] = _latin1_encode
    return allowed


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles only numpy arrays and plain containers, so a crafted file cannot run code."""

    _allowed = _allowed_globals()

    def __init__(self, file: BinaryIO, path: Path) -> None:
        super().__init__(file, encoding="bytes")  # the files were written by Python 2
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise OfaBenchError(
                f"refusing to load {str(self._path)!r}: it asks for {module}.{name}, which a CIFAR file never "
                "needs (only numpy arrays are allowed)"
            ) from None


def _read_cifar_file(path: Path, label_key: str, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, 3072)`` uint8 and labels ``(n,)`` int64 of one CIFAR batch file."""
    try:
        with open(path, "rb") as fh:
            batch = _CifarUnpickler(fh, path).load()
    except OfaBenchError:
        raise
    except Exception as exc:  # a truncated or garbled pickle fails in many different ways
        raise OfaBenchError(f"corrupt CIFAR file {str(path)!r}: {_one_line(exc)}") from None
    corrupt = f"corrupt CIFAR file {str(path)!r}: expected a dict with 'data' (N x 3072 uint8) and {label_key!r}"
    if not isinstance(batch, dict):
        raise OfaBenchError(f"{corrupt}; got {type(batch).__name__}")
    batch = {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in batch.items()}
    data = batch.get("data")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise OfaBenchError(f"{corrupt}; 'data' is {_describe_value(data)}")
    try:
        labels = np.asarray(batch.get(label_key), dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        labels = np.empty(0)
    if labels.shape != (len(data),) or (len(labels) and not 0 <= labels.min() <= labels.max() < n_classes):
        raise OfaBenchError(f"{corrupt}; {label_key!r} must be {len(data)} integers in [0, {n_classes})")
    return data, labels


def _describe_value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    return "missing" if value is None else f"a {type(value).__name__}"
