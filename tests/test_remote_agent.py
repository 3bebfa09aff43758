"""The device agent and the ``remote`` runner, on loopback: measuring, tables, a suite, and every refusal.

Each agent runs as a device runs it (tests/agent_support.py): a copy of ``agent/`` in a process
where ofa-bench's core and torch cannot be imported.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import ofa_bench_agent
import onnxruntime
import pytest
from agent_support import TOKEN, agent_command, agent_env, install_on_device, start_agent
from ofa_bench_agent.protocol import TOKEN_ENV, ProtocolError, pack_models, sha256_hex, unpack_models
from ofa_bench_hardware.layer_grid import layer_grid
from ofa_bench_hardware.layer_modules import input_shape, layer_module
from ofa_bench_hardware.remote_client import AgentClient
from ofa_bench_hardware.timing import torch_threads

from ofa_bench import cli
from ofa_bench.errors import OfaBenchError
from ofa_bench.metrics.ranking import kendall_tau
from ofa_bench.plugins import registry
from ofa_bench.plugins.testing import HardwareBackendTests
from ofa_bench.space import get_space

pytestmark = pytest.mark.serial  # the agent's 1-2 s deadlines and I/O timeouts: run alone, not beside a parallel worker

MINI = get_space("ofa-mini")
#: A space of 26 distinct layers, so a whole table builds in seconds.
TINY = dataclasses.replace(
    MINI, name="agent-test", ks_choices=(3, 5), e_choices=(3,), d_choices=(1, 2), resolutions=(12,)
)
FAST = {"repeats": 6, "warmup": 2, "rounds": 2}


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_on_device(tmp_path_factory.mktemp("device"))


@pytest.fixture(scope="module")
def agent(device: Path):
    running = start_agent(device)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def strict_agent(device: Path):
    """An agent with small limits: 256 KiB per request, a 1 s deadline, 2 connections, 2 s to send a request."""
    running = start_agent(device, "--max-request-mb", "0.25", "--cache-mb", "4", "--deadline-s", "1",
                          "--max-connections", "2", "--io-timeout-s", "2")  # fmt: skip
    yield running
    running.stop()


def remote(agent, **params):
    return registry.create("hardware", "remote", url=agent.url, token=TOKEN, **{**FAST, **params})


@pytest.fixture(scope="module")
def shared_remote(agent):
    """One runner for the kit's checks, so each subnet is exported once."""
    return remote(agent)


def _extremes(space):
    return [space.smallest(min(space.resolutions)), space.largest(max(space.resolutions))]


class TestRemoteRunner(HardwareBackendTests):
    rtol = 4.0  # a measured backend, as the local runners' kit tests (noise under load: up to 3.2x seen)

    @pytest.fixture
    def backend(self, shared_remote):
        return shared_remote

    @pytest.fixture
    def archs(self, space):
        return _extremes(space)


def test_the_agent_describes_the_device_and_never_the_token(shared_remote) -> None:
    info = shared_remote.describe()
    device = info["device_info"]
    assert {"cpu", "cores", "machine", "system", "python", "numpy", "onnxruntime", "providers"} <= set(device)
    assert info["device"].startswith("cpu: ") and info["device"].endswith(", CPUExecutionProvider")
    assert info["libraries"]["onnxruntime"] == onnxruntime.__version__  # the device is this machine
    assert info["url"] == shared_remote.url and info["repeats"] == FAST["repeats"]
    assert TOKEN not in json.dumps(info) + repr(shared_remote.client)


def test_remote_and_local_timings_agree_on_order(shared_remote) -> None:
    archs = _extremes(MINI)
    remote_ms = shared_remote.latency(archs)
    local_ms = registry.create("hardware", "onnxruntime-cpu", **FAST).latency(archs)
    assert remote_ms[1] > remote_ms[0] > 0 and local_ms[1] > local_ms[0] > 0
    assert 0.2 < remote_ms[1] / local_ms[1] < 5


def test_a_table_builds_remotely_and_each_layer_crosses_once(agent, tmp_path: Path) -> None:
    runner = remote(agent)
    layers = layer_grid(TINY).distinct()
    lut = registry.get("hardware", "lut").build(TINY, runner, tmp_path / "tiny.yaml", calibration_archs=3)
    info = lut.describe()
    assert info["complete"] and info["runner"] == "remote" and info["n_layers"] == len(layers)
    assert info["device"] == runner.describe()["device"]
    assert runner.client.sent_models == len(layers) + 3  # every layer and calibration arch once
    # Another host session sends nothing the agent holds: models are named by their content.
    again = remote(agent)
    stats = again.time_modules([(layer_module(x, 0), input_shape(x, 1)) for x in layers[:4] + layers[:1]])
    assert len(stats) == 5 and all(s.min_ms > 0 for s in stats) and again.client.sent_models == 0
    # The table is an ordinary lut table: it answers without the device.
    table = registry.create("hardware", "lut", table=tmp_path / "tiny.yaml")
    assert np.all(table.latency(TINY.sample(5, 0)) > 0)


@pytest.mark.slow
def test_a_table_built_through_the_agent_ranks_archs_as_the_local_runner_measures_them(agent, tmp_path: Path) -> None:
    """The acceptance figure: ofa-mini's table built on the "device" against onnxruntime-cpu timing 30 archs here.

    Both with the runners' defaults and the table's statistic (the fastest call), as ``hardware validate``
    measures; no calibration archs, since scale and overhead do not change a ranking.

    Timings on a shared 2-core machine have disturbed sessions: one fresh-clone run of ``make test`` in
    eight read tau 0.770 where an idle machine reads 0.91-0.92. As the performance gate does, a figure
    below the bound is measured again, both sides from scratch, and the test fails only when the new
    measurement falls short too.
    """
    settings = {"repeats": 50, "warmup": 10, "rounds": 50, "statistic": "min"}
    archs = MINI.sample(30, 1)

    def agreement(attempt: int) -> float:
        # Cutting subnets and layers out of the supernet (small tensors) on one torch thread: quicker, and steadier
        # on a busy machine. The timings are ONNX Runtime's, on its own threads (the runners' default: one).
        with torch_threads(1):
            lut = registry.get("hardware", "lut").build(MINI, remote(agent, **settings),
                                                       tmp_path / f"mini-{attempt}.yaml", calibration_archs=0)  # fmt: skip
            measured = registry.create("hardware", "onnxruntime-cpu", cache_size=len(archs), **settings).latency(archs)
        return kendall_tau(lut.latency(archs), measured)

    taus = [agreement(0)]
    if taus[0] < 0.8:
        taus.append(agreement(1))
    assert max(taus) >= 0.8, f"Kendall tau {taus} between the remote table and onnxruntime-cpu on 30 archs"


def test_a_suite_optimises_latency_measured_on_the_device(agent, tmp_path: Path, monkeypatch) -> None:
    from ofa_bench import load_suite, run_suite

    monkeypatch.setenv(TOKEN_ENV, TOKEN)  # as a suite should take it: not in the suite file
    suite = load_suite({
        "name": "on-device", "benchmark": "fmnist", "oracle": {"mode": "shipped"}, "report_split": "none",
        "objectives": ["accuracy", "latency:remote"], "strategies": ["random"],
        "backends": [{"name": "remote", "params": {"url": agent.url, "repeats": 3, "warmup": 1}}],
        "budget": {"evaluations": 4}, "batch_size": 4, "seeds": 1, "reference": {"random_sample": 0},
        "engine": {"kind": "serial"},
    })  # fmt: skip
    out = tmp_path / "out"
    results = run_suite(suite, out)
    assert results.runs["evaluations"].tolist() == [4]
    (log,) = out.glob("units/*/log.jsonl")
    latencies = [json.loads(line)["record"]["latency:remote"] for line in log.read_text().splitlines()]
    assert len(latencies) == 4 and all(np.isfinite(latencies)) and min(latencies) > 0
    assert not [p for p in out.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]


# ----- refusals: each is one line, exit 2 from the command line -------------------------------------


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and len(text) < 400 and TOKEN not in text
    return text


@pytest.mark.parametrize("token", ["not-the-token", None])
def test_a_wrong_or_missing_token_is_refused(agent, token, monkeypatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    runner = registry.create("hardware", "remote", url=agent.url, token=token)
    assert runner.is_available() is False
    with pytest.raises(OfaBenchError, match="refused the token") as exc:
        runner.latency([MINI.smallest()])
    assert "not-the-token" not in _one_line(exc)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_agent_is_one_line_and_exit_2(capsys) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(OfaBenchError, match="cannot reach the device agent .* connection refused") as exc:
        registry.create("hardware", "remote", url=url).latency([MINI.smallest()])
    _one_line(exc)
    code = cli.main(["hardware", "fit-linear", "--space", "ofa-mini", "--runner", f"remote:url={url}", "-n", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach the device agent" in err and len(err.strip().splitlines()) == 1


def test_a_silent_agent_times_out() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(OfaBenchError, match=r"did not answer within 0\.5 s") as exc:
            registry.create("hardware", "remote", url=url, timeout_s=0.5).latency([MINI.smallest()])
        assert time.monotonic() - start < 5
    _one_line(exc)


@pytest.mark.parametrize(
    ("settings", "rounds"),
    [({"repeats": 10**6, "rounds": 1000}, 1000), ({"repeats": 10**6, "rounds": 1}, 1), ({"warmup": 10**6}, 2)],
    ids=["many-rounds", "one-long-round", "long-warm-up"],
)
def test_the_agent_stops_a_measurement_at_its_deadline(strict_agent, settings, rounds) -> None:
    runner = remote(strict_agent, **settings)
    layer = layer_grid(TINY).distinct()[0]
    start = time.monotonic()
    with pytest.raises(OfaBenchError, match=rf"passed its deadline of 1 s after \d+ of {rounds} rounds") as exc:
        runner.time_module(layer_module(layer, 0), input_shape(layer, 1))
    assert time.monotonic() - start < 30
    _one_line(exc)


def test_oversized_requests_are_refused(agent, strict_agent) -> None:
    with pytest.raises(OfaBenchError, match="larger than the device agent .* accepts in one request") as exc:
        remote(strict_agent).latency([MINI.smallest()])  # about 1 MB of ONNX; the agent takes 256 KiB
    assert "--max-request-mb" in _one_line(exc)
    status, answer = _raw(agent, "POST", "/v1/models", headers={"Content-Length": str(10**12)})
    assert status == 413 and "larger than the agent accepts" in answer["error"]


def _raw(agent, method: str, path: str, body: bytes = b"", headers: dict | None = None, token: str = TOKEN):
    connection = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=30)
    try:
        connection.putrequest(method, path)
        for key, value in {"Authorization": f"Bearer {token}", **(headers or {})}.items():
            connection.putheader(key, value)
        if body and "Content-Length" not in (headers or {}):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _external_data_model() -> bytes:
    from onnx import TensorProto, helper

    tensor = helper.make_tensor("w", TensorProto.FLOAT, [1], vals=[0.0])
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "secrets.bin"
    graph = helper.make_graph([helper.make_node("Identity", ["w"], ["y"])], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], [tensor])  # fmt: skip
    return helper.make_model(graph).SerializeToString()


def test_only_self_contained_onnx_models_are_stored(agent) -> None:
    client = AgentClient(agent.url, TOKEN, 30)
    for data, why in ((_external_data_model(), "external data"), (b"\xff\xff\xff\xff", "not an ONNX model")):
        with pytest.raises(OfaBenchError, match=why) as exc:
            client.upload([data], [sha256_hex(data)])
        _one_line(exc)
    assert client.info()["models"] >= 0  # still serving


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("POST", "/v1/time", b"{", 400, "not valid JSON"),
        ("POST", "/v1/time", b'{"models": []}', 400, "models must be a list of 1 to"),
        ("POST", "/v1/time", json.dumps({"models": [{"sha256": "0" * 64, "input_shape": [1, -3]}]}).encode(), 400,
         "input_shape must be"),
        ("POST", "/v1/time", b'{"models": [], "code": "import os"}', 400, "unknown field 'code'"),
        ("POST", "/v1/have", b'{"sha256": ["../etc/passwd"]}', 400, "SHA-256 in lower-case hex"),
        ("POST", "/v1/models", b"not frames", 415, "models are sent as"),
        ("GET", "/v1/time", b"", 405, "not part of the agent's protocol"),
        ("GET", "/etc/passwd", b"", 404, "not part of the agent's protocol"),
    ],
)  # fmt: skip
def test_malformed_requests_are_refused(agent, method, path, body, status, error) -> None:
    got, answer = _raw(agent, method, path, body)
    assert got == status and error in answer["error"] and "\n" not in answer["error"]


def test_missing_models_are_named_so_the_host_sends_them(agent) -> None:
    request = {"models": [{"sha256": "ab" * 32, "input_shape": [1, 1, 4, 4]}], "warmup": 0, "repeats": 1, "rounds": 1,
               "clock": "wall", "threads": 1, "provider": "CPUExecutionProvider", "seed": 0}  # fmt: skip
    status, answer = _raw(agent, "POST", "/v1/time", json.dumps(request).encode())
    assert status == 409 and answer["missing"] == ["ab" * 32]


def test_the_agent_bounds_connections_and_slow_senders(strict_agent) -> None:
    idle = [socket.create_connection(("127.0.0.1", strict_agent.port), timeout=10) for _ in range(2)]
    try:
        time.sleep(0.3)  # both accepted and waiting for their requests
        status, answer = _raw(strict_agent, "GET", "/v1/info")
        assert status == 503 and "as many connections" in answer["error"]
        idle[0].sendall(b"GET /v1/info HTTP/1.0\r\n")  # a request line, then nothing more
        assert idle[0].recv(100) == b"" and idle[1].recv(100) == b""  # closed after --io-timeout-s 2
    finally:
        for s in idle:
            s.close()
    time.sleep(0.2)
    assert _raw(strict_agent, "GET", "/v1/info")[0] == 200


def test_the_agent_needs_a_token_beyond_loopback(device: Path) -> None:
    done = subprocess.run(agent_command("--host", "0.0.0.0", "--port", "0"), cwd=device, env=agent_env(device),
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "needs a token of at least 16 characters" in done.stderr


def test_the_agent_travels_as_one_file(tmp_path: Path) -> None:
    """``--write-pyz`` packs the agent into one file a device's Python runs (numpy and onnxruntime installed there)."""
    pyz = tmp_path / "ofa-bench-agent.pyz"
    subprocess.run([sys.executable, "-m", "ofa_bench_agent", "--write-pyz", str(pyz)], check=True, capture_output=True)
    device = tmp_path / "pi"
    device.mkdir()
    running = start_agent(device, pyz=pyz)
    try:
        assert AgentClient(running.url, TOKEN, 30).info()["agent"] == ofa_bench_agent.__version__
    finally:
        running.stop()


def test_remote_settings_are_checked() -> None:
    with pytest.raises(OfaBenchError, match="needs the device agent's address"):
        registry.create("hardware", "remote")
    for params, why in (
        ({"url": "ftp://device:21"}, "url must look like"),
        ({"url": "http://user:pw@device:8765"}, "no user, password"),
        ({"url": "http://device:8765", "timeout_s": 0}, "timeout_s must be"),
        ({"url": "http://device:8765", "clock": "cpu", "provider": "XnnpackExecutionProvider"}, "clock='cpu'"),
    ):
        with pytest.raises(OfaBenchError, match=why):
            registry.create("hardware", "remote", **params)


def test_a_runner_given_as_the_table_backend_is_pointed_to_runner(capsys, tmp_path: Path) -> None:
    argv = ["hardware", "build-lut", "--space", "ofa-mini", "--runner", "onnxruntime-cpu",
            "--backend", "remote:url=http://127.0.0.1:8765", "--out", str(tmp_path / "t.yaml")]  # fmt: skip
    assert cli.main(argv) == 2
    assert "pass it as --runner remote:url=http://127.0.0.1:8765" in capsys.readouterr().err
    assert not (tmp_path / "t.yaml").exists()


def test_model_frames_round_trip_and_truncation_is_refused() -> None:
    models = [b"a" * 10, b"b" * 3]
    body = pack_models(models)
    assert unpack_models(body, 10) == models
    for bad in (body[:-1], body[:5], body + b"\x00"):
        with pytest.raises(ProtocolError):
            unpack_models(bad, 10)
    with pytest.raises(ProtocolError, match="more than 1 models"):
        unpack_models(body, 1)
