"""The wire protocol between a host running ofa-bench and the device agent, used by both sides.

HTTP, one JSON or binary body per request, ``Authorization: Bearer <token>`` on every request
(the agent compares it with :func:`hmac.compare_digest`). Models are named by the SHA-256 of
their bytes, so a model (a layer, a subnet) crosses the network once however often it is timed::

    GET  /v1/info    -> {"agent", "protocol", "device": {...}, "limits": {...}, "models": n}
    POST /v1/have    {"sha256": [hex, ...]} -> {"missing": [hex, ...]}
    POST /v1/models  frames (see pack_models) -> {"stored": [hex, ...]}
    POST /v1/time    {"models": [{"sha256", "input_shape"}], "warmup", "repeats", "rounds",
                      "clock", "threads", "provider", "seed", "deadline_s"}
                     -> {"stats": [{median_ms, q1_ms, q3_ms, mean_ms, std_ms, min_ms, count}], "seconds"}

Errors are ``{"error": "<one line>"}`` with a 4xx/5xx status; ``/v1/time`` answers 409 with
``"missing"`` when a model it names is not stored (the host then sends it and asks again).
Only the standard library is used.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "DEFAULT_PORT", "HAVE", "INFO", "MODELS", "MODELS_TYPE", "PROTOCOL_VERSION", "TIME", "TOKEN_ENV", "Limits",
    "ProtocolError", "hashes", "pack_models", "parse_json_body", "sha256_hex", "unpack_models", "validate_time_request",
]  # fmt: skip

PROTOCOL_VERSION = 1
DEFAULT_PORT = 8765
#: Environment variable holding the shared token, read by the agent and by the host's ``remote`` runner.
TOKEN_ENV = "OFA_BENCH_AGENT_TOKEN"
INFO, HAVE, MODELS, TIME = "/v1/info", "/v1/have", "/v1/models", "/v1/time"
MODELS_TYPE = "application/x-ofa-bench-models"
_MAGIC = b"OFAMODELS1\n"
_LENGTH = struct.Struct(">Q")

#: Bounds of a timing request's settings (the host's own limits are the same or tighter).
MAX_REPEATS = 1_000_000
MAX_THREADS = 1024
MAX_SEED = 2**32 - 1
MAX_INPUT_ELEMENTS = 2**26  # 256 MiB of float32
MAX_DIMS = 8
CLOCKS = ("wall", "cpu")


class ProtocolError(ValueError):
    """A request the agent refuses: ``status`` is the HTTP status to answer with, ``extra`` more answer fields."""

    def __init__(self, message: str, status: int = 400, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.extra = dict(extra or {})


@dataclass(frozen=True)
class Limits:
    """What one agent accepts; sent in ``/v1/info`` so the host splits its work to fit.

    Attributes:
        max_request_bytes: Largest request body.
        cache_bytes: Models kept (least recently used go first); one timing request's models
            must fit together, since they are timed interleaved.
        max_models: Models per timing request.
        deadline_s: Longest a timing request may run before the agent stops it.
        max_json_bytes: Largest JSON body.
    """

    max_request_bytes: int = 64 * 2**20
    cache_bytes: int = 256 * 2**20
    max_models: int = 1024
    deadline_s: float = 900.0
    max_json_bytes: int = 4 * 2**20

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sha256_hex(data: bytes) -> str:
    """The name of a model: the SHA-256 of its bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def pack_models(models: Sequence[bytes]) -> bytes:
    """One ``/v1/models`` body: a magic line, then each model as an 8-byte big-endian length and its bytes."""
    return b"".join([_MAGIC, *(_LENGTH.pack(len(m)) + bytes(m) for m in models)])


def unpack_models(body: bytes, max_models: int) -> list[bytes]:
    """The models of a ``/v1/models`` body; :class:`ProtocolError` when it is malformed."""
    if not body.startswith(_MAGIC):
        raise ProtocolError("a models body must start with the protocol's magic line")
    view, pos, models = memoryview(body), len(_MAGIC), []
    while pos < len(view):
        if pos + _LENGTH.size > len(view):
            raise ProtocolError("a model's length is cut short")
        (length,) = _LENGTH.unpack_from(view, pos)
        pos += _LENGTH.size
        if length == 0 or pos + length > len(view):
            raise ProtocolError(f"model {len(models) + 1} is empty or runs past the end of the body")
        models.append(bytes(view[pos : pos + length]))
        pos += length
        if len(models) > max_models:
            raise ProtocolError(f"more than {max_models} models in one request")
    return models


def parse_json_body(body: bytes, what: str) -> Any:
    """A JSON request or answer body (its size is bounded by whoever read it)."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"{what} is not valid JSON ({type(exc).__name__})") from None


def _hex(value: Any, where: str) -> str:
    if not (isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)):
        raise ProtocolError(f"{where} must be a SHA-256 in lower-case hex")
    return value


def hashes(request: Any, limits: Limits) -> list[str]:
    """The ``sha256`` list of a ``/v1/have`` request."""
    if not isinstance(request, dict) or not isinstance(request.get("sha256"), list):
        raise ProtocolError('a have request is {"sha256": [hex, ...]}')
    if len(request["sha256"]) > limits.max_models:
        raise ProtocolError(f"more than {limits.max_models} hashes in one request")
    return [_hex(h, f"sha256[{i}]") for i, h in enumerate(request["sha256"])]


def _integer(request: dict[str, Any], key: str, low: int, high: int) -> int:
    value = request.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProtocolError(f"{key} must be an integer from {low} to {high}")
    return value


def validate_time_request(request: Any, limits: Limits) -> dict[str, Any]:
    """A ``/v1/time`` request checked field by field; :class:`ProtocolError` names the first bad one."""
    if not isinstance(request, dict):
        raise ProtocolError("a time request is a JSON object")
    unknown = sorted(set(request) - {"models", "warmup", "repeats", "rounds", "clock", "threads", "provider", "seed",
                                     "deadline_s"})  # fmt: skip
    if unknown:
        raise ProtocolError(f"unknown field {unknown[0][:40]!r} in the time request")
    models = request.get("models")
    if not isinstance(models, list) or not 1 <= len(models) <= limits.max_models:
        raise ProtocolError(f"models must be a list of 1 to {limits.max_models} entries")
    checked = []
    for i, entry in enumerate(models):
        if not isinstance(entry, dict) or set(entry) != {"sha256", "input_shape"}:
            raise ProtocolError(f"models[{i}] must be {{sha256, input_shape}}")
        shape = entry["input_shape"]
        if (
            not isinstance(shape, list)
            or not 1 <= len(shape) <= MAX_DIMS
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_INPUT_ELEMENTS for n in shape)
        ):
            raise ProtocolError(f"models[{i}].input_shape must be 1 to {MAX_DIMS} positive integers")
        if math.prod(shape) > MAX_INPUT_ELEMENTS:
            raise ProtocolError(f"models[{i}].input_shape has more than {MAX_INPUT_ELEMENTS} elements")
        checked.append({"sha256": _hex(entry["sha256"], f"models[{i}].sha256"), "input_shape": tuple(shape)})
    out: dict[str, Any] = {"models": checked}
    out["warmup"] = _integer(request, "warmup", 0, MAX_REPEATS)
    out["repeats"] = _integer(request, "repeats", 1, MAX_REPEATS)
    out["rounds"] = _integer(request, "rounds", 1, MAX_REPEATS)
    out["threads"] = _integer(request, "threads", 1, MAX_THREADS)
    out["seed"] = _integer(request, "seed", 0, MAX_SEED)
    if request.get("clock") not in CLOCKS:
        raise ProtocolError(f"clock must be one of {', '.join(CLOCKS)}")
    out["clock"] = request["clock"]
    provider = request.get("provider")
    if not isinstance(provider, str) or not 0 < len(provider) <= 100:
        raise ProtocolError("provider must be the name of an ONNX Runtime execution provider")
    out["provider"] = provider
    deadline = request.get("deadline_s", limits.deadline_s)
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not 0 < deadline < math.inf:
        raise ProtocolError("deadline_s must be a positive number of seconds")
    out["deadline_s"] = min(float(deadline), limits.deadline_s)
    return out
