"""``remote``: a runner whose device is another machine, reached through the device agent.

The host prepares each arch's subnet (or each single layer of a lookup table) exactly as
``onnxruntime-cpu`` does (:func:`ofa_bench_hardware.runners.onnx_model`), names it by the SHA-256
of its ONNX bytes, sends the agent only the models it does not hold yet, and asks it to time a
whole batch in one request with the runners' interleaved protocol. Being a runner (it has
``time_modules``), it builds lookup tables for the device (``ofa-bench hardware build-lut --runner
remote:url=...``), validates them (``hardware validate --runner remote:url=...``) and serves as a
suite's latency objective; the table it builds is an ordinary ``lut`` table that needs no device.
See docs/hardware.md, "Measuring on another device".
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ofa_bench_agent.device import CPU_PROVIDER
from ofa_bench_agent.protocol import TOKEN_ENV, sha256_hex
from ofa_bench_hardware.remote_client import AgentClient, ModelsMissing
from ofa_bench_hardware.runners import Runner, _version, onnx_model
from ofa_bench_hardware.timing import TimingStats

from ofa_bench.errors import OfaBenchError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["RemoteRunner"]

#: Bytes a models request adds to the models themselves (magic line, one length per model).
_FRAMING = 64
_STATS = ("median_ms", "q1_ms", "q3_ms", "mean_ms", "std_ms", "min_ms")


@dataclass(frozen=True)
class _Model:
    """A prepared model: its ONNX bytes, their SHA-256 and the input shape it is timed at."""

    data: bytes
    sha256: str
    input_shape: tuple[int, ...]


class RemoteRunner(Runner):
    """ONNX Runtime on another device, through ``python -m ofa_bench_agent`` running there.

    Args:
        url: The agent's address, ``http://HOST:PORT``. In a spec: ``remote:url=http://pi:8765``.
        token: The agent's shared token; default: the environment variable ``OFA_BENCH_AGENT_TOKEN``
            (better than a spec or a suite file, which are recorded with results).
        provider: ONNX Runtime execution provider on the device (default the CPU's); the agent
            lists those it has.
        timeout_s: Longest wait for one answer of the agent; a measurement it is asked for must
            finish within it (the agent stops at its deadline, a little earlier, and says so).
        threads, batch_size, repeats, warmup, rounds, seed, cache_size, clock, statistic: As for
            every runner (:class:`~ofa_bench_hardware.runners.Runner`); ``cache_size`` archs are
            timed per request, fewer when their models do not fit the agent's memory together.
    """

    name = "remote"
    library = "onnxruntime"

    def __init__(
        self,
        *,
        url: str | None = None,
        token: str | None = None,
        provider: str = CPU_PROVIDER,
        timeout_s: float = 600.0,
        threads: int = 1,
        batch_size: int = 1,
        repeats: int = 50,
        warmup: int = 10,
        rounds: int | None = None,
        seed: int = 0,
        cache_size: int = 64,
        clock: str = "wall",
        statistic: str = "median",
    ) -> None:
        super().__init__(threads=threads, batch_size=batch_size, repeats=repeats, warmup=warmup, rounds=rounds,
                         seed=seed, cache_size=cache_size, clock=clock, statistic=statistic)  # fmt: skip
        if url is None:
            raise OfaBenchError(
                "the remote runner needs the device agent's address: remote:url=http://HOST:PORT "
                "(start the agent there with 'python -m ofa_bench_agent'; docs/hardware.md)"
            )
        if not isinstance(provider, str) or not provider:
            raise OfaBenchError(f"remote: provider must be an execution provider's name; got {provider!r}")
        if clock == "cpu" and provider != CPU_PROVIDER:
            raise OfaBenchError(
                f"remote: clock='cpu' counts the measuring thread only; it needs provider={CPU_PROVIDER}"
            )
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s < math.inf:
            raise OfaBenchError(f"remote: timeout_s must be a positive number of seconds; got {timeout_s!r}")
        self.provider = provider
        self.timeout_s = float(timeout_s)
        self._token = token  # private: a secret, never recorded or shown (the client holds the one in use)
        self.client = AgentClient(url, token if token is not None else os.environ.get(TOKEN_ENV), self.timeout_s)
        self._info: dict[str, Any] | None = None
        self._known: set[str] = set()  # models the agent holds, as far as this runner knows

    @property
    def url(self) -> str:
        """The agent's address (without the token, which is never shown)."""
        return self.client.url

    # ----- the agent ---------------------------------------------------------------------------

    def agent_info(self, *, refresh: bool = False) -> dict[str, Any]:
        """The agent's ``/v1/info`` answer (device, limits), asked once and kept."""
        if self._info is None or refresh:
            self._info = self.client.info()
        return self._info

    def unavailable_reason(self) -> str | None:
        """``None`` when the agent answers and has the provider; otherwise its one-line error."""
        try:
            self._check_available()
        except OfaBenchError as exc:
            return str(exc)
        return None

    def _check_available(self) -> None:
        providers = self.agent_info()["device"].get("providers") or []
        if self.provider not in providers:
            raise OfaBenchError(
                f"the device agent at {self.url} has no {self.provider}; it has: {', '.join(map(str, providers))}"
            )

    def _device(self) -> str:
        device = self.agent_info()["device"]
        return f"{device.get('cpu')} on {device.get('node')}, {self.provider}"

    def _versions(self) -> dict[str, str]:
        versions = {"torch": _version("torch"), "onnx": _version("onnx")}  # the export, on this host
        if self._info is None and self.unavailable_reason() is not None:
            return {"onnxruntime": "unknown (agent unreachable)", **versions}
        device = self.agent_info()["device"]
        return {
            "onnxruntime": str(device.get("onnxruntime")), "python": str(device.get("python")),
            "numpy": str(device.get("numpy")), "ofa-bench-agent": str(self.agent_info().get("agent")), **versions,
        }  # fmt: skip

    def describe(self) -> dict[str, Any]:
        """See :meth:`Runner.describe`; adds the agent's address, the provider and the device's details."""
        info = {**super().describe(), "url": self.url, "provider": self.provider}
        if self._info is not None:
            info["device_info"] = dict(self._info["device"])
        return info

    # ----- preparing and timing ------------------------------------------------------------------

    def _prepare(self, module: nn.Module, shape: tuple[int, ...]) -> Any:
        data = onnx_model(module, shape)
        return _Model(data, sha256_hex(data), tuple(int(n) for n in shape))

    def _time(self, calls: list[Any], on_round: Callable[[int, int], None] | None = None) -> list[TimingStats]:
        limits = self.agent_info()["limits"]
        chunks = self._chunks(calls, limits)
        stats: list[TimingStats] = []
        for done, chunk in enumerate(chunks, start=1):
            stats.extend(self._time_chunk(chunk, limits))
            if on_round is not None:
                on_round(done, len(chunks))
        return stats

    def _chunks(self, models: Sequence[_Model], limits: dict[str, Any]) -> list[list[_Model]]:
        """Consecutive runs of models the agent can hold together (they are timed interleaved)."""
        room, most = int(limits["cache_bytes"]), int(limits["max_models"])
        chunks: list[list[_Model]] = []
        chunk: list[_Model] = []
        held: dict[str, int] = {}
        for model in models:
            size = len(model.data)
            if size > room:
                raise OfaBenchError(
                    f"an ONNX model of {size} bytes does not fit the memory of the device agent at {self.url} "
                    f"({room} bytes); start it with a larger --cache-mb"
                )
            if chunk and (len(chunk) >= most or (model.sha256 not in held and sum(held.values()) + size > room)):
                chunks.append(chunk)
                chunk, held = [], {}
            chunk.append(model)
            held[model.sha256] = size
        return [*chunks, chunk] if chunk else chunks

    def _time_chunk(self, chunk: list[_Model], limits: dict[str, Any]) -> list[TimingStats]:
        request = {
            "models": [{"sha256": m.sha256, "input_shape": list(m.input_shape)} for m in chunk],
            "warmup": self.warmup, "repeats": self.repeats, "rounds": self.rounds, "clock": self.clock,
            "threads": self.threads, "provider": self.provider, "seed": self.seed,
            # The agent stops a little before this host gives up, so its answer says why.
            "deadline_s": max(self.timeout_s - 5.0, 0.5 * self.timeout_s),
        }  # fmt: skip
        self._send(chunk, limits)
        try:
            answer = self.client.time(request)
        except ModelsMissing as exc:  # the agent restarted or made room since: send them again, once
            self._known.difference_update(exc.missing)
            self._send(chunk, limits)
            try:
                answer = self.client.time(request)
            except ModelsMissing:
                raise OfaBenchError(
                    f"the device agent at {self.url} dropped models as fast as they were sent; start it with a "
                    f"larger --cache-mb"
                ) from None
        return self._stats(answer, len(chunk))

    def _send(self, chunk: list[_Model], limits: dict[str, Any]) -> None:
        """Send the agent the models of ``chunk`` it does not hold, each once, in as few requests as fit."""
        unique = {m.sha256: m for m in chunk}
        unknown = [h for h in unique if h not in self._known]
        if not unknown:
            return
        missing = set(self.client.missing(unknown))
        self._known.update(h for h in unknown if h not in missing)
        largest = int(limits["max_request_bytes"]) - _FRAMING
        batch: list[_Model] = []
        for digest in (h for h in unknown if h in missing):
            model = unique[digest]
            if len(model.data) > largest:
                raise OfaBenchError(
                    f"an ONNX model of {len(model.data)} bytes is larger than the device agent at {self.url} accepts "
                    f"in one request ({largest + _FRAMING} bytes); start it with a larger --max-request-mb"
                )
            if batch and sum(len(m.data) for m in batch) + len(model.data) > largest:
                self._upload(batch)
                batch = []
            batch.append(model)
        if batch:
            self._upload(batch)

    def _upload(self, batch: list[_Model]) -> None:
        self.client.upload([m.data for m in batch], [m.sha256 for m in batch])
        self._known.update(m.sha256 for m in batch)

    def _stats(self, answer: Any, n: int) -> list[TimingStats]:
        rows = answer.get("stats") if isinstance(answer, dict) else None
        if not isinstance(rows, list) or len(rows) != n:
            raise OfaBenchError(f"the device agent at {self.url} answered {n} models' timing with something else")
        out = []
        for row in rows:
            values = [row.get(k) if isinstance(row, dict) else None for k in _STATS]
            count = row.get("count") if isinstance(row, dict) else None
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < math.inf for v in values) \
                    or not isinstance(count, int) or count < 1:  # fmt: skip
                raise OfaBenchError(f"the device agent at {self.url} sent a timing that is not finite milliseconds")
            out.append(TimingStats(*(float(v) for v in values), count))
        return out
