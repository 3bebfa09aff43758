"""What the agent runs on, and the one way a model becomes an ONNX Runtime session.

:func:`ort_session` is also what the host's ``onnxruntime-cpu`` runner uses
(:mod:`ofa_bench_hardware.runners`), so a model timed on the device through the agent and on the
host locally runs with the same session settings. Only the standard library, numpy and
onnxruntime are used: this module runs on the device.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

__all__ = ["CPU_PROVIDER", "cpu_name", "describe_device", "ort_input", "ort_session"]

CPU_PROVIDER = "CPUExecutionProvider"


@cache
def cpu_name() -> str:
    """``"cpu: <model name> (<n> logical cores)"`` from /proc/cpuinfo where it exists.

    ARM boards (a Raspberry Pi) name no ``model name`` in /proc/cpuinfo on every kernel; their
    ``Hardware``/``Model`` lines, then the machine type, stand in.
    """
    found: dict[str, str] = {}
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            key, sep, value = line.partition(":")
            key = key.strip()
            if sep and key in ("model name", "Model", "Hardware") and key not in found:
                found[key] = value.strip()
    model = found.get("model name") or found.get("Model") or found.get("Hardware") or ""
    model = model or platform.processor() or platform.machine() or "unknown"
    return f"cpu: {model} ({os.cpu_count()} logical cores)"


def _version(module: Any) -> str:
    return str(getattr(module, "__version__", "unknown"))


def describe_device() -> dict[str, Any]:
    """The device as the host records it: CPU, cores, system, Python, numpy, ONNX Runtime, providers."""
    import onnxruntime as ort

    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "node": platform.node(),
        "python": platform.python_version(),
        "numpy": _version(np),
        "onnxruntime": _version(ort),
        "providers": list(ort.get_available_providers()),
    }


def ort_session(model: bytes, threads: int, provider: str = CPU_PROVIDER) -> Any:
    """An ONNX Runtime session of ``model`` (the bytes of an ``.onnx`` file), set up for timing.

    Sessions run sequentially with ``intra_op_num_threads=threads`` and one inter-op thread, all
    graph optimisations on; only the ONNX format is accepted (not ORT's own flatbuffer format).
    A provider other than the CPU's falls back to the CPU for the operators it lacks.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors reach the caller as exceptions, not as console noise
    options.add_session_config_entry("session.load_model_format", "ONNX")
    providers = [provider] if provider == CPU_PROVIDER else [provider, CPU_PROVIDER]
    return ort.InferenceSession(model, options, providers=providers)


def ort_input(shape: Sequence[int], seed: int) -> np.ndarray:
    """The fixed input every runner feeds a model of input ``shape``: seeded standard normal float32."""
    return np.random.default_rng(seed).standard_normal(tuple(shape), dtype=np.float32)
