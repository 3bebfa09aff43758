"""Starting a device agent for the tests, on loopback, as a device would run it.

The agent runs from a copy of the ``agent/`` folder (how it is installed on a device) in a
process where ofa-bench's core, the built-in plug-ins, torch, onnx, scipy, yaml, pydantic, pandas
and scikit-learn cannot be imported: every test that talks to it shows the agent needs only Python,
numpy and onnxruntime.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from ofa_bench_agent.protocol import TOKEN_ENV

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "loopback-test-token-0123456789"
#: What a Raspberry Pi-class device does not have installed.
NOT_ON_THE_DEVICE = ("ofa_bench", "ofa_bench_hardware", "ofa_bench_strategies", "ofa_bench_predictors", "torch",
                     "torchvision", "onnx", "onnxscript", "scipy", "yaml", "pydantic", "pandas", "sklearn")  # fmt: skip
_RUN = textwrap.dedent(f"""
    import runpy, sys
    for name in {NOT_ON_THE_DEVICE!r}:
        sys.modules[name] = None  # import fails, as on a device without it
    target = sys.argv.pop(1)
    sys.argv = [target, *sys.argv[1:]]
    if target.endswith(".pyz"):
        runpy.run_path(target, run_name="__main__")
    else:
        runpy.run_module(target, run_name="__main__", alter_sys=True)
""")


@dataclass
class RunningAgent:
    url: str
    process: subprocess.Popen

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def install_on_device(folder: Path) -> Path:
    """Copy the agent package into ``folder`` as a device install does; returns the folder."""
    shutil.copytree(ROOT / "agent", folder / "ofa_bench_agent", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def agent_command(*args: str, pyz: Path | None = None) -> list[str]:
    """The command running the agent (``-m ofa_bench_agent``, or the zip application ``pyz``) with ``args``,
    where ofa-bench's core cannot be imported."""
    return [sys.executable, "-c", _RUN, str(pyz) if pyz else "ofa_bench_agent", *args]


def agent_env(device: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    env["PYTHONPATH"] = str(device)
    return env


def start_agent(
    device: Path, *args: str, token: str | None = TOKEN, pyz: Path | None = None, startup_s: float = 60.0
) -> RunningAgent:
    """Start ``python -m ofa_bench_agent`` on 127.0.0.1, any free port, from ``device``; wait until it listens."""
    command = agent_command("--port", "0", "--quiet", *(["--token", token] if token else []), *args, pyz=pyz)
    errors = device / f"agent-{len(list(device.glob('agent-*.err')))}.err"
    with open(errors, "w", encoding="utf-8") as stderr:
        process = subprocess.Popen(command, cwd=device, env=agent_env(device), stdout=subprocess.PIPE, stderr=stderr,
                                   text=True)  # fmt: skip
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=startup_s)
    line = process.stdout.readline() if ready else ""
    found = re.search(r"http://127\.0\.0\.1:\d+", line)
    if found is None:
        process.kill()
        process.wait()
        raise RuntimeError(f"the agent did not start: {line!r} {errors.read_text()[-2000:]}")
    return RunningAgent(found.group(0), process)
