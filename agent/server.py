"""The agent's HTTP server: the standard library's ``ThreadingHTTPServer``, bounded.

Why the standard library: the agent runs on small devices (a Raspberry Pi) where every package is
one more thing to install, build for ARM and keep patched, and its protocol is four endpoints with
one JSON or binary body each. What a well-kept server library would add is bounded here instead:

- at most ``max_connections`` connections at once; one more is answered 503 and closed at once;
- one request per connection (HTTP/1.0, no keep-alive) whose headers and body must arrive within
  ``io_timeout_s`` (plus time for a large body at 256 KiB/s): a watchdog closes a slow sender,
  and every socket read and write has the same timeout;
- a body needs ``Content-Length`` (no chunked bodies) and at most ``max_request_bytes``, refused
  (413) before it is read; the standard library bounds the request line and headers (64 KiB per
  line, 100 headers);
- one measurement at a time (timings of two hosts would disturb each other) and each stops at
  its deadline (``deadline_s``, or the host's shorter one) with a 503.

A request never names code or files: models are bytes checked by :mod:`ofa_bench_agent.onnx_check`
and loaded only into ONNX Runtime; nothing is unpickled or imported.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ofa_bench_agent import __version__
from ofa_bench_agent.device import CPU_PROVIDER, describe_device, ort_input, ort_session
from ofa_bench_agent.onnx_check import ModelRefused, check_model
from ofa_bench_agent.protocol import (
    HAVE,
    INFO,
    MODELS,
    MODELS_TYPE,
    PROTOCOL_VERSION,
    TIME,
    Limits,
    ProtocolError,
    hashes,
    parse_json_body,
    sha256_hex,
    unpack_models,
    validate_time_request,
)  # fmt: skip
from ofa_bench_agent.timing import time_interleaved

__all__ = ["Agent", "AgentServer", "is_loopback", "make_server"]

#: Slowest accepted upload once the first ``io_timeout_s`` are over, in bytes per second.
MIN_UPLOAD_RATE = 256 * 1024


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (only there may the agent run without a token)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ModelStore:
    """Models by SHA-256, the least recently used dropped first beyond ``capacity`` bytes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.size = 0
        self._models: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._models)

    def missing(self, wanted: list[str]) -> list[str]:
        with self._lock:
            return [h for h in dict.fromkeys(wanted) if h not in self._models]

    def add(self, data: bytes) -> str:
        if len(data) > self.capacity:
            raise ProtocolError(
                f"a model of {len(data)} bytes is larger than the agent's cache ({self.capacity} bytes)", 413
            )
        check_model(data)
        digest = sha256_hex(data)
        with self._lock:
            if digest not in self._models:
                self._models[digest] = data
                self.size += len(data)
            self._models.move_to_end(digest)
            while self.size > self.capacity:
                _, dropped = self._models.popitem(last=False)
                self.size -= len(dropped)
        return digest

    def get(self, wanted: list[str]) -> dict[str, bytes]:
        with self._lock:
            lacking = [h for h in dict.fromkeys(wanted) if h not in self._models]
            if lacking:
                raise ProtocolError(
                    f"{len(lacking)} model(s) not stored here; send them first", 409, {"missing": lacking}
                )
            for h in wanted:
                self._models.move_to_end(h)
            return {h: self._models[h] for h in wanted}


class _Deadline(Exception):
    """A measurement ran past its deadline."""


class Agent:
    """What the agent knows and does, apart from HTTP: the token, the limits, the stored models, timing."""

    def __init__(self, token: str | None, limits: Limits) -> None:
        self._token = token.encode("utf-8") if token else None
        self.limits = limits
        self.store = ModelStore(limits.cache_bytes)
        self.device = describe_device()
        self._timing = threading.Lock()
        self.counters = {"requests": 0, "models_received": 0, "bytes_received": 0, "measurements": 0}

    def authorised(self, header: str | None) -> bool:
        if self._token is None:
            return True
        scheme, _, given = (header or "").partition(" ")
        return scheme == "Bearer" and hmac.compare_digest(given.strip().encode("utf-8"), self._token)

    def info(self, body: bytes, content_type: str) -> dict[str, Any]:
        return {
            "agent": __version__, "protocol": PROTOCOL_VERSION, "device": self.device, "limits": self.limits.to_dict(),
            "models": len(self.store), "stored_bytes": self.store.size, "counters": dict(self.counters),
        }  # fmt: skip

    def _json(self, body: bytes, what: str) -> Any:
        if len(body) > self.limits.max_json_bytes:
            raise ProtocolError(f"{what} of {len(body)} bytes is larger than {self.limits.max_json_bytes} bytes", 413)
        return parse_json_body(body, what)

    def have(self, body: bytes, content_type: str) -> dict[str, Any]:
        return {"missing": self.store.missing(hashes(self._json(body, "the have request"), self.limits))}

    def models(self, body: bytes, content_type: str) -> dict[str, Any]:
        if content_type != MODELS_TYPE:
            raise ProtocolError(f"models are sent as {MODELS_TYPE}", 415)
        stored = []
        for i, data in enumerate(unpack_models(body, self.limits.max_models)):
            try:
                stored.append(self.store.add(data))
            except ModelRefused as exc:
                raise ProtocolError(f"model {i + 1} of the request refused: {exc}") from None
            self.counters["models_received"] += 1
            self.counters["bytes_received"] += len(data)
        return {"stored": stored}

    def time(self, body: bytes, content_type: str) -> dict[str, Any]:
        request = validate_time_request(self._json(body, "the time request"), self.limits)
        start = time.monotonic()
        deadline = start + request["deadline_s"]
        provider = request["provider"]
        if provider not in self.device["providers"]:
            raise ProtocolError(f"execution provider {provider[:60]!r} is not available here; available: "
                                f"{', '.join(self.device['providers'])}")  # fmt: skip
        if request["clock"] == "cpu" and (request["threads"] != 1 or provider != CPU_PROVIDER):
            raise ProtocolError("clock 'cpu' counts the measuring thread only: it needs threads 1 on the CPU provider")
        if not self._timing.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            raise ProtocolError("the agent is busy with another measurement past this request's deadline", 503)
        try:
            stats = self._measure(request, deadline)
        finally:
            self._timing.release()
        self.counters["measurements"] += 1
        return {"stats": [s.to_dict() for s in stats], "seconds": round(time.monotonic() - start, 3)}

    def _measure(self, request: dict[str, Any], deadline: float) -> list[Any]:
        entries = request["models"]
        models = self.store.get([e["sha256"] for e in entries])
        calls: list[Callable[[], object]] = []
        sessions: dict[str, Any] = {}
        for i, entry in enumerate(entries):
            digest, shape = entry["sha256"], entry["input_shape"]
            if digest not in sessions:
                try:
                    sessions[digest] = ort_session(models[digest], request["threads"], request["provider"])
                except Exception as exc:  # noqa: BLE001  (ONNX Runtime's own errors; one line of them)
                    raise ProtocolError(f"models[{i}] ({digest[:12]}) cannot be loaded by ONNX Runtime: {_line(exc)}")
            session = sessions[digest]
            name = _check_input(session, shape, i)
            calls.append(_call(session, {name: ort_input(shape, request["seed"])}))
            if time.monotonic() > deadline:
                raise ProtocolError(f"the deadline of {request['deadline_s']:g} s passed while loading the models", 503)

        rounds_done = [0]

        def on_round(done: int, rounds: int) -> None:
            rounds_done[0] = done

        def check() -> None:  # after every call, outside the timed interval
            if time.monotonic() > deadline:
                raise _Deadline

        try:
            return time_interleaved(calls, warmup=request["warmup"], repeats=request["repeats"], rounds=request["rounds"],
                                    clock=request["clock"], on_round=on_round, check=check)  # fmt: skip
        except _Deadline:
            rounds = min(request["rounds"], request["repeats"])
            raise ProtocolError(
                f"the measurement passed its deadline of {request['deadline_s']:g} s after {rounds_done[0]} of {rounds} "
                f"rounds; ask for fewer repeats or models per request, or start the agent with a longer --deadline-s",
                503,
            ) from None
        except Exception as exc:  # noqa: BLE001
            raise ProtocolError(f"ONNX Runtime failed while timing: {_line(exc)}") from None


def _line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _check_input(session: Any, shape: tuple[int, ...], i: int) -> str:
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].type != "tensor(float)":
        raise ProtocolError(f"models[{i}] must take exactly one float32 input")
    declared = inputs[0].shape
    if len(declared) != len(shape) or any(isinstance(d, int) and d != n for d, n in zip(declared, shape)):
        raise ProtocolError(f"models[{i}] takes input {list(declared)}, not input_shape {list(shape)}")
    return inputs[0].name


def _call(session: Any, feed: dict[str, Any]) -> Callable[[], object]:
    return lambda: session.run(None, feed)


_ROUTES: dict[tuple[str, str], str] = {("GET", INFO): "info", ("POST", HAVE): "have", ("POST", MODELS): "models",
                                       ("POST", TIME): "time"}  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    server: AgentServer
    protocol_version = "HTTP/1.0"

    def version_string(self) -> str:
        return "ofa-bench-agent"

    def setup(self) -> None:
        self.timeout = self.server.io_timeout_s  # every socket read and write
        super().setup()
        self._watchdog = self._watch(self.server.io_timeout_s)

    def finish(self) -> None:
        self._watchdog.cancel()
        super().finish()

    def _watch(self, seconds: float) -> threading.Timer:
        """Close the connection unless the request has arrived within ``seconds``."""

        def close() -> None:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        timer = threading.Timer(seconds, close)
        timer.daemon = True
        timer.start()
        return timer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        agent = self.server.agent
        agent.counters["requests"] += 1
        path = self.path.split("?", 1)[0]
        try:
            route = _ROUTES.get((method, path))
            if route is None:
                known = any(p == path for _, p in _ROUTES)
                raise ProtocolError(f"{method} {path[:60]} is not part of the agent's protocol", 405 if known else 404)
            if not agent.authorised(self.headers.get("Authorization")):
                raise ProtocolError("wrong or missing token", 401)
            body = self._body() if method == "POST" else b""
            self._watchdog.cancel()  # the request is in; the work has its own deadline
            result = getattr(agent, route)(body, self.headers.get("Content-Type", ""))
            self._reply(200, result)
        except ProtocolError as exc:
            self._reply(exc.status, {"error": str(exc), **exc.extra})
        except Exception as exc:  # noqa: BLE001  (a bug must not take the agent down; say what kind)
            self._reply(500, {"error": f"internal error of the agent: {type(exc).__name__}: {_line(exc)}"})

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise ProtocolError("chunked bodies are not accepted; send Content-Length", 411)
        text = self.headers.get("Content-Length")
        if text is None or not text.strip().isdigit():
            raise ProtocolError("a request body needs Content-Length", 411)
        length = int(text)
        limit = self.server.agent.limits.max_request_bytes
        if length > limit:
            self.close_connection = True
            raise ProtocolError(f"request of {length} bytes is larger than the agent accepts ({limit} bytes; "
                                f"start it with a larger --max-request-mb)", 413)  # fmt: skip
        self._watchdog.cancel()
        self._watchdog = self._watch(self.server.io_timeout_s + length / MIN_UPLOAD_RATE)
        body = self.rfile.read(length)
        if len(body) != length:
            raise ProtocolError(f"the body ended after {len(body)} of {length} bytes")
        return body

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the host went away; nothing to tell it

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


class AgentServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with a bound on connections and the agent attached."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 16

    def __init__(self, address: tuple[str, int], agent: Agent, *, max_connections: int = 4, io_timeout_s: float = 30.0,
                 quiet: bool = False) -> None:  # fmt: skip
        self.agent = agent
        self.io_timeout_s = io_timeout_s
        self.quiet = quiet
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request: socket.socket) -> None:
        body = b'{"error": "the agent is serving as many connections as it accepts; try again"}'
        head = (
            f"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            request.settimeout(1.0)
            request.sendall(head.encode("ascii") + body)
        except OSError:
            pass
        finally:
            self.shutdown_request(request)


class _AgentServer6(AgentServer):
    address_family = socket.AF_INET6


def make_server(host: str, port: int, agent: Agent, **settings: Any) -> AgentServer:
    """A bound (not yet serving) agent server on ``host:port`` (port 0: any free port)."""
    cls = _AgentServer6 if ":" in host else AgentServer
    return cls((host, port), agent, **settings)
