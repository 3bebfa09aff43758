"""Save and load fitted predictors without executing code from the file.

A predictor file is a zip archive holding ``predictor.json`` (format, version, predictor name,
constructor parameters as JSON, search-space name, the record column it was fitted to predict when
the writer said, and an index of the learned state) plus one
member per piece of state: ``.npy`` arrays (read with ``allow_pickle=False``), ``.pt`` tensors
(read with ``torch.load(weights_only=True)``), ``.skops`` scikit-learn models (read by skops with
only the types the predictor class declares in ``trusted_types``) and nested predictor files.
Nothing in the file names code to run: the class comes from the plug-in registry by name.

A predictor is saveable when it has ``space_`` after fitting, ``state_dict()`` returning a dict of
such values (or JSON values) and ``load_state_dict(state, space)``; the built-ins all do.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import atomic_path
from ofa_bench.io.untrusted import (
    PREDICTOR_LIMITS,
    check_zip,
    clip,
    excerpt,
    load_torch,
    open_zip,
    parse_json,
    read_member,
)
from ofa_bench.plugins import registry
from ofa_bench.plugins.interfaces import Predictor
from ofa_bench.space import SearchSpace, get_space

__all__ = ["FORMAT", "VERSION", "dumps_predictor", "load_predictor", "loads_predictor", "save_predictor"]

FORMAT = "ofa-bench-predictor"
VERSION = 1
_META = "predictor.json"
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MAX_DEPTH = 4  # nested predictors (ensemble members) may nest, but not without end


def save_predictor(predictor: Predictor, path: str | Path, predicts: str | None = None) -> Path:
    """Write a fitted predictor to ``path`` atomically.

    Args:
        predictor: A fitted, saveable predictor.
        path: File to write (its directory must exist).
        predicts: The record column it was fitted on (``accuracy``, ``macs``...); read back as the
            loaded predictor's ``predicts_``, so it is not used as an oracle of another column.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OfaBenchError: Not fitted, not saveable, or a parameter that is not JSON (e.g. a callable).
    """
    data = dumps_predictor(predictor, predicts)
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    except OSError as exc:
        raise OfaBenchError(f"cannot write predictor file {str(path)!r}: {exc.strerror}") from exc
    return path


def load_predictor(path: str | Path) -> Predictor:
    """Read a predictor written by :func:`save_predictor`.

    Raises:
        OfaBenchError: One line: missing, truncated or corrupted file, another kind of file, a
            format version this ofa-bench does not read, an unknown predictor, untrusted types.
    """
    where = f"predictor file {str(path)!r}"
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise OfaBenchError(f"{where} not found") from None
    except OSError as exc:
        raise OfaBenchError(f"{where} cannot be read: {exc.strerror}") from None
    return loads_predictor(data, where)


def dumps_predictor(predictor: Predictor, predicts: str | None = None) -> bytes:
    """The bytes :func:`save_predictor` writes."""
    return _dumps(predictor, 0, predicts)


def loads_predictor(data: bytes, where: str = "predictor data") -> Predictor:
    """Rebuild a predictor from :func:`dumps_predictor` bytes; ``where`` names them in errors."""
    return _loads(data, where, 0, [PREDICTOR_LIMITS.total_bytes])


# ----- writing -------------------------------------------------------------------------------------


def _dumps(predictor: Predictor, depth: int, predicts: str | None = None) -> bytes:
    if depth > _MAX_DEPTH:
        raise OfaBenchError(f"predictors nest deeper than {_MAX_DEPTH} levels; cannot save")
    cls = type(predictor)
    label = cls.__name__
    if not isinstance(predictor, Predictor):
        raise OfaBenchError(f"cannot save {label}: not a Predictor")
    if not cls.name:
        raise OfaBenchError(f"cannot save {label}: it has no registry name (class attribute 'name')")
    if not (hasattr(predictor, "state_dict") and hasattr(predictor, "load_state_dict")):
        raise OfaBenchError(f"cannot save {label}: it has no state_dict()/load_state_dict() methods")
    space = getattr(predictor, "space_", None)
    if not isinstance(space, SearchSpace):
        raise OfaBenchError(f"cannot save {label}: it is not fitted yet; call fit(archs, y) first")
    params = {k: _encode_param(v, f"{label} parameter {k!r}") for k, v in predictor.get_params(deep=False).items()}
    index: dict[str, Any] = {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in predictor.state_dict().items():
            if not _KEY.match(key):
                raise OfaBenchError(f"cannot save {label}: state key {key!r} must match {_KEY.pattern}")
            index[key] = _write_state(archive, key, value, depth, f"{label} state {key!r}")
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "predictor": cls.name,
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "ofa_bench_version": _version(),
            "space": _space_name(space, label),
            "params": params,
            "state": index,
        }
        if predicts is not None:
            meta["predicts"] = str(predicts)
        archive.writestr(_META, json.dumps(meta, indent=1, allow_nan=False))
    return buffer.getvalue()


def _write_state(archive: zipfile.ZipFile, key: str, value: Any, depth: int, what: str) -> dict[str, Any]:
    import torch
    from sklearn.base import BaseEstimator

    if isinstance(value, Predictor):
        archive.writestr(f"state/{key}.predictor", _dumps(value, depth + 1))
        return {"kind": "predictor", "file": f"state/{key}.predictor"}
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Predictor) for v in value):
        files = []
        for i, member in enumerate(value):
            files.append(f"state/{key}.{i}.predictor")
            archive.writestr(files[-1], _dumps(member, depth + 1))
        return {"kind": "predictors", "files": files}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise OfaBenchError(f"cannot save {what}: object arrays need pickle")
        out = io.BytesIO()
        np.save(out, value, allow_pickle=False)
        archive.writestr(f"state/{key}.npy", out.getvalue())
        return {"kind": "array", "file": f"state/{key}.npy"}
    if isinstance(value, torch.Tensor) or (
        isinstance(value, dict) and value and all(isinstance(v, torch.Tensor) for v in value.values())
    ):
        out = io.BytesIO()
        torch.save(value, out)
        archive.writestr(f"state/{key}.pt", out.getvalue())
        return {"kind": "torch", "file": f"state/{key}.pt"}
    if isinstance(value, BaseEstimator):
        import skops.io

        archive.writestr(f"state/{key}.skops", skops.io.dumps(value))
        return {"kind": "skops", "file": f"state/{key}.skops"}
    try:
        return {"kind": "json", "value": json.loads(json.dumps(value, allow_nan=False))}
    except (TypeError, ValueError) as exc:
        raise OfaBenchError(f"cannot save {what}: {type(value).__name__} is not JSON-serialisable ({exc})") from None


def _encode_param(value: Any, what: str) -> Any:
    """A constructor parameter as JSON; tuples, dicts, predictors and spaces are tagged."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not np.isfinite(value):
            raise OfaBenchError(f"cannot save {what}={value!r}: not a finite number")
        return value
    if isinstance(value, np.generic):
        return _encode_param(value.item(), what)
    if isinstance(value, (list, tuple)):
        items = [_encode_param(v, what) for v in value]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode_param(v, what) for k, v in value.items()}}
    if isinstance(value, SearchSpace):
        return {"__space__": _space_name(value, what)}
    if isinstance(value, Predictor) and type(value).name:
        params = {k: _encode_param(v, what) for k, v in value.get_params(deep=False).items()}
        return {"__predictor__": type(value).name, "params": params}
    hint = " (a callable encoder cannot be saved; use 'onehot' or 'ordinal')" if callable(value) else ""
    raise OfaBenchError(f"cannot save {what}={value!r}: not JSON-serialisable{hint}")


def _space_name(space: SearchSpace, what: str) -> str:
    try:
        preset = get_space(space.name)
    except OfaBenchError:
        preset = None
    if preset != space:
        raise OfaBenchError(f"cannot save {what}: search space {space.name!r} is not a preset")
    return space.name


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ofa-bench")
    except PackageNotFoundError:
        return None


# ----- reading -------------------------------------------------------------------------------------


def _loads(data: bytes, where: str, depth: int, budget: list[int]) -> Predictor:
    """Rebuild one predictor; ``budget`` holds the bytes all files, nested ones too, may still inflate to."""
    if depth > _MAX_DEPTH:
        raise OfaBenchError(f"{where}: predictors nest deeper than {_MAX_DEPTH} levels")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise OfaBenchError(
            f"{where} is truncated, corrupted or not an ofa-bench predictor file (no complete zip archive)"
        ) from None
    with archive:
        check_zip(archive, where, PREDICTOR_LIMITS)  # from the central directory, before inflating
        meta = _read_meta(archive, where, budget)
        name = meta["predictor"]
        cls = _predictor_class(name, where)
        try:
            space = get_space(meta["space"])
        except OfaBenchError as exc:
            raise OfaBenchError(f"{where}: {exc}") from None
        if not isinstance(meta["params"], dict):
            raise OfaBenchError(f"{where}: params must be a JSON object")
        params = {k: _decode_param(v, where, depth) for k, v in meta["params"].items()}
        predictor = _build(cls, name, params, where)
        if not isinstance(meta["state"], dict):
            raise OfaBenchError(f"{where}: state must be a JSON object")
        state = {
            key: _read_state(archive, entry, f"{where}: state {excerpt(key)}", cls, depth, budget)
            for key, entry in meta["state"].items()
        }
    try:
        predictor.load_state_dict(state, space)
    except Exception as exc:  # the state passed every format check but does not fit the class
        reason = clip(exc, 120)
        if not isinstance(exc, OfaBenchError):
            reason = f"{type(exc).__name__}: {reason}"
        raise OfaBenchError(f"{where}: state does not fit {name!r} ({reason})") from None
    predicts = meta.get("predicts")
    if predicts is not None:
        if not isinstance(predicts, str):
            raise OfaBenchError(f"{where}: predicts must be a column name; got {excerpt(predicts)}")
        predictor.predicts_ = predicts
    return predictor


def _predictor_class(name: str, where: str) -> type:
    if name not in registry.names("predictor"):
        known = ", ".join(registry.names("predictor")) or "none"
        raise OfaBenchError(f"{where}: unknown accuracy predictor {excerpt(name)}; known: {known}")
    try:
        return registry.get("predictor", name)
    except OfaBenchError as exc:
        raise OfaBenchError(f"{where}: {exc}") from None


def _build(cls: type, name: str, params: dict[str, Any], where: str) -> Predictor:
    # Not registry.create: it drops None values, and a saved None must come back as None.
    try:
        return cls(**params)
    except OfaBenchError as exc:
        raise OfaBenchError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise OfaBenchError(f"{where}: cannot rebuild {name!r} from its params: {clip(exc, 120)}") from None


def _member(archive: zipfile.ZipFile, name: Any, where: str, budget: list[int]) -> bytes:
    if not isinstance(name, str):
        raise OfaBenchError(f"{where}: file name must be a string; got {excerpt(name)}")
    size = archive.getinfo(name).file_size if name in archive.NameToInfo else 0
    if size > budget[0]:
        raise OfaBenchError(
            f"{where}: refused: member {excerpt(name)} and the files read before it inflate to more than "
            f"{PREDICTOR_LIMITS.total_bytes:,} bytes"
        )
    budget[0] -= size
    return read_member(archive, name, where)


def _read_meta(archive: zipfile.ZipFile, where: str, budget: list[int]) -> dict[str, Any]:
    raw = _member(archive, _META, where, budget) if _META in archive.namelist() else None
    if raw is None:
        raise OfaBenchError(f"{where} is not an ofa-bench predictor file (it has no {_META})")
    try:
        meta = parse_json(raw, f"{where}: {_META}")
    except OfaBenchError as exc:
        raise OfaBenchError(f"{where}: {_META} is corrupted ({str(exc).removeprefix(f'{where}: {_META}: ')})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = excerpt(meta.get("format")) if isinstance(meta, dict) else type(meta).__name__
        raise OfaBenchError(f"{where} is not an ofa-bench predictor file (format {got}, expected {FORMAT!r})")
    if meta.get("version") != VERSION:
        raise OfaBenchError(
            f"{where} has format version {excerpt(meta.get('version'))}; this ofa-bench reads version {VERSION} "
            f"(re-save the predictor with this version)"
        )
    missing = [k for k in ("predictor", "space", "params", "state") if k not in meta]
    if missing:
        raise OfaBenchError(f"{where}: {_META} lacks key {missing[0]!r}")
    if not isinstance(meta["predictor"], str):
        raise OfaBenchError(f"{where}: predictor must be a name; got {excerpt(meta['predictor'])}")
    return meta


def _read_state(archive: zipfile.ZipFile, entry: Any, where: str, cls: Any, depth: int, budget: list[int]) -> Any:
    kind = entry.get("kind") if isinstance(entry, dict) else None
    if kind == "json":
        return entry.get("value")
    if kind == "predictor":
        return _loads(_member(archive, entry.get("file"), where, budget), where, depth + 1, budget)
    if kind == "predictors":
        files = entry.get("files")
        if not isinstance(files, list):
            raise OfaBenchError(f"{where}: files must be a list")
        return [_loads(_member(archive, f, where, budget), where, depth + 1, budget) for f in files]
    if kind == "array":
        try:
            return np.load(io.BytesIO(_member(archive, entry.get("file"), where, budget)), allow_pickle=False)
        except OfaBenchError:
            raise
        except Exception as exc:
            raise OfaBenchError(f"{where}: not a valid .npy array ({type(exc).__name__})") from None
    if kind == "torch":
        return load_torch(_member(archive, entry.get("file"), where, budget), where, ": not a valid tensors file")
    if kind == "skops":
        data = _member(archive, entry.get("file"), where, budget)
        return _read_skops(data, where, tuple(getattr(cls, "trusted_types", ())))
    allowed = "json, array, torch, skops, predictor(s)"
    raise OfaBenchError(f"{where}: unknown state kind {excerpt(kind)}; allowed: {allowed}")


def _read_skops(data: bytes, where: str, trusted: tuple[str, ...]) -> Any:
    import skops.io

    if zipfile.is_zipfile(io.BytesIO(data)):  # a skops file is a zip of its own: same checks first
        open_zip(data, where, PREDICTOR_LIMITS).close()
    try:
        untrusted = skops.io.get_untrusted_types(data=data)
    except Exception as exc:
        raise OfaBenchError(f"{where}: not a valid skops model ({type(exc).__name__}: {clip(exc)})") from None
    refused = sorted(set(untrusted) - set(trusted))
    if refused:
        raise OfaBenchError(f"{where}: refusing to load untrusted types {clip(', '.join(refused), 200)}")
    try:
        return skops.io.loads(data, trusted=list(untrusted))
    except Exception as exc:
        raise OfaBenchError(f"{where}: not a valid skops model ({type(exc).__name__}: {clip(exc)})") from None


def _decode_param(value: Any, where: str, depth: int) -> Any:
    if isinstance(value, list):
        return [_decode_param(v, where, depth) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(_decode_param(v, where, depth) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode_param(v, where, depth) for k, v in value["__dict__"].items()}
    if "__space__" in value:
        try:
            return get_space(value["__space__"])
        except OfaBenchError as exc:
            raise OfaBenchError(f"{where}: {exc}") from None
    if "__predictor__" in value:
        name = value["__predictor__"]
        cls = _predictor_class(name, where)
        params = {k: _decode_param(v, where, depth) for k, v in value.get("params", {}).items()}
        return _build(cls, name, params, where)
    raise OfaBenchError(f"{where}: unknown tagged parameter {excerpt(sorted(value))}")
