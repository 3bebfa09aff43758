"""The host's side of the device agent's protocol (:mod:`ofa_bench_agent.protocol`): HTTP with urllib.

Every failure is one :class:`~ofa_bench.errors.OfaBenchError` line naming the agent's address (never
the token): unreachable, wrong token, a request too large, an agent slower than ``timeout_s``, or an
answer that breaks the protocol. Proxies from the environment are not used (the token goes to the
device, not through a proxy) and redirects are not followed.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from ofa_bench_agent.protocol import HAVE, INFO, MODELS, MODELS_TYPE, PROTOCOL_VERSION, TIME, TOKEN_ENV, pack_models

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted import parse_json

__all__ = ["AgentClient", "ModelsMissing"]

#: Largest answer read from an agent (its answers are a few KiB of JSON).
MAX_ANSWER_BYTES = 16 * 2**20
#: Longest wait for the quick requests (info, have): a live agent answers them in milliseconds.
QUICK_TIMEOUT_S = 30.0


class ModelsMissing(Exception):
    """The agent lacks models a timing request names (it was restarted, or dropped them for room)."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"{len(missing)} models missing")
        self.missing = missing


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx becomes an HTTPError: the token is never sent on to another address


class AgentClient:
    """Requests to one device agent.

    Args:
        url: ``http://HOST:PORT`` (or ``https://``, e.g. behind a TLS proxy) of the agent.
        token: The agent's shared token, or ``None`` for an agent listening on loopback without one.
        timeout_s: Longest wait for one answer; a measurement must finish within it.
    """

    def __init__(self, url: str, token: str | None, timeout_s: float) -> None:
        if not isinstance(url, str):
            raise OfaBenchError(f"remote: url must be text such as http://HOST:PORT; got {type(url).__name__}")
        parts = urllib.parse.urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OfaBenchError(f"remote: url must look like http://HOST:PORT; got {url[:80]!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise OfaBenchError("remote: url must hold no user, password, query or fragment (the token goes in token=)")
        try:
            parts.port  # noqa: B018  (raises on a port that is not a number in range)
        except ValueError:
            raise OfaBenchError(f"remote: url {url[:80]!r} has an invalid port") from None
        self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self._token = token or None
        self.timeout_s = float(timeout_s)
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
        self.sent_models = 0
        self.sent_bytes = 0

    def __repr__(self) -> str:
        return f"AgentClient({self.url!r})"  # never the token

    def info(self) -> dict[str, Any]:
        """The agent's description of itself and the device, its limits and what it holds."""
        answer = self._request("GET", INFO, None, None, min(self.timeout_s, QUICK_TIMEOUT_S))
        if not isinstance(answer, dict) or answer.get("protocol") != PROTOCOL_VERSION:
            got = answer.get("protocol") if isinstance(answer, dict) else None
            raise OfaBenchError(
                f"device agent at {self.url} speaks protocol {got!r}, this host {PROTOCOL_VERSION}; "
                f"run the agent of this ofa-bench on the device"
            )
        for key in ("device", "limits"):
            if not isinstance(answer.get(key), dict):
                raise OfaBenchError(f"device agent at {self.url} sent an info answer without {key!r}")
        return answer

    def missing(self, hashes: Sequence[str]) -> list[str]:
        """Which of ``hashes`` the agent does not hold."""
        answer = self._request("POST", HAVE, _json({"sha256": list(hashes)}), "application/json",
                               min(self.timeout_s, QUICK_TIMEOUT_S))  # fmt: skip
        missing = answer.get("missing") if isinstance(answer, dict) else None
        if not isinstance(missing, list) or not set(missing) <= set(hashes):
            raise OfaBenchError(f"device agent at {self.url} sent a malformed answer to {HAVE}")
        return missing

    def upload(self, models: Sequence[bytes], hashes: Sequence[str]) -> None:
        """Send ``models`` (whose SHA-256 are ``hashes``) in one request; the agent must store each."""
        body = pack_models(models)
        answer = self._request("POST", MODELS, body, MODELS_TYPE, self.timeout_s)
        if not isinstance(answer, dict) or answer.get("stored") != list(hashes):
            raise OfaBenchError(f"device agent at {self.url} did not store the models it was sent")
        self.sent_models += len(models)
        self.sent_bytes += sum(len(m) for m in models)

    def time(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run one timing request; :class:`ModelsMissing` when the agent lacks some of its models."""
        return self._request("POST", TIME, _json(request), "application/json", self.timeout_s)

    # ----- HTTP ------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: bytes | None, content_type: str | None, timeout: float) -> Any:
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if self._token is not None:
            request.add_header("Authorization", f"Bearer {self._token}")
        if content_type is not None:
            request.add_header("Content-Type", content_type)
        try:
            with self._opener.open(request, timeout=timeout) as response:
                data = response.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise self._refusal(exc) from None
        except urllib.error.URLError as exc:
            raise self._failure(exc.reason, timeout) from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._failure(exc, timeout) from None
        return parse_json(data, f"answer of the device agent at {self.url}{path}", max_bytes=MAX_ANSWER_BYTES)

    def _failure(self, reason: Any, timeout: float) -> OfaBenchError:
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return OfaBenchError(
                f"device agent at {self.url} did not answer within {timeout:g} s; it may be busy or slow "
                f"(raise remote:timeout_s=..., or time fewer repeats)"
            )
        if isinstance(reason, ConnectionRefusedError):
            return OfaBenchError(
                f"cannot reach the device agent at {self.url}: connection refused (is 'python -m ofa_bench_agent' "
                f"running there, listening on that address and port?)"
            )
        if isinstance(reason, socket.gaierror):
            return OfaBenchError(f"cannot reach the device agent at {self.url}: unknown host")
        text = " ".join(str(reason).split())[:200] or type(reason).__name__
        return OfaBenchError(f"cannot reach the device agent at {self.url}: {text}")

    def _refusal(self, exc: urllib.error.HTTPError) -> Exception:
        try:
            payload = parse_json(exc.read(64 * 1024), "error answer")
        except (OfaBenchError, OSError, http.client.HTTPException):
            payload = None
        payload = payload if isinstance(payload, dict) else {}
        if exc.code == 409 and isinstance(payload.get("missing"), list):
            return ModelsMissing([str(h) for h in payload["missing"]])
        error = " ".join(str(payload.get("error") or exc.reason or "").split())[:300]
        if exc.code == 401:
            return OfaBenchError(
                f"device agent at {self.url} refused the token ({error}); give the agent's token as "
                f"remote:token=... or in ${TOKEN_ENV}"
            )
        if exc.code == 413:
            return OfaBenchError(f"device agent at {self.url} refused a request as too large: {error}")
        return OfaBenchError(f"device agent at {self.url} answered HTTP {exc.code}: {error}")


def _json(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")
