"""Calibration kernels: how fast this machine is, right now, at each kind of work our benchmarks do.

Machines of "the same kind" differ (an AMD EPYC and an Intel Xeon runner were 0.4x to 1.6x apart on
different benchmarks of ours), and a shared machine's speed drifts. So the performance gate never
compares a benchmark's time with the committed baseline directly: it divides by how much slower or
faster this run's calibration kernel *of the same kind* is than the baseline's (the machine speed
factor), measured in the same session. A kernel uses only third-party code (numpy, torch, ONNX
Runtime, scikit-learn, the interpreter), so a regression in ofa-bench never moves the yardstick.

Each kernel is built by a factory (set-up outside the timing, including every output buffer: a
kernel allocates nothing large while timed) and takes 3-20 ms on one core.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["KINDS", "build_kernel"]

#: Kinds of work, with what the kernel of each measures.
KINDS: dict[str, str] = {
    "python": "interpreter: small objects, dicts, tuples, hashing (Arch lists, strategy loops)",
    "numpy": "vectorised integer gathers and reductions (batch arrays, tables)",
    "blas": "float32 matrix products through numpy's BLAS (MLP float32, GP)",
    "torch": "convolutions, forward and backward, through torch on one thread (supernet, training)",
    "onnxruntime": "int8 MatMulInteger through ONNX Runtime on one thread (MLP int8)",
    "sklearn": "tree-ensemble prediction through scikit-learn (GBDT, random forest)",
}


def _python() -> Callable[[], object]:
    keys = [(i % 7, i % 5, i % 3) for i in range(20_000)]

    def run() -> int:
        seen: dict[tuple[int, ...], int] = {}
        for key in keys:
            record = {"ks": list(key), "r": key[0] * 4}
            seen[tuple(record["ks"])] = seen.get(key, 0) + record["r"]
        return len(seen)

    return run


def _numpy() -> Callable[[], object]:
    # Every array the timed code writes is allocated here, once. With a fresh multi-megabyte result
    # per call, the kernel timed the allocator's state as much as the machine: whether glibc maps
    # and faults in new pages or recycles heap depends on what the process freed before (its mmap
    # threshold rises after a large free). Measured in one process each: this kernel's old form
    # took 3.6 ms fresh, then 3.1-4.7 ms after large frees; blas's 4.1-4.4 ms fresh, 2.2-2.3 after.
    # Those swings, not the code, failed the gate at 1.6x in a clean clone.
    rng = np.random.default_rng(0)
    table = rng.random(4096)
    index = rng.integers(0, 4096, size=(4_000, 40))
    gathered = np.empty(index.shape)
    sums = np.empty(index.shape[0])
    prefix = np.empty(index.shape[0], dtype=index.dtype)

    def run() -> float:
        total = 0.0
        for _ in range(8):
            np.take(table, index, out=gathered)
            np.sum(gathered, axis=1, out=sums)
            np.cumsum(index[:, 0], out=prefix)
            total += float(sums.max()) + float(prefix[-1])
        return total

    return run


def _blas() -> Callable[[], object]:
    rng = np.random.default_rng(0)
    a = rng.random((2_000, 400), dtype=np.float32)
    b = rng.random((400, 400), dtype=np.float32)
    product = np.empty((2_000, 400), dtype=np.float32)  # written in place: see _numpy

    def run() -> float:
        np.matmul(a, b, out=product)
        np.maximum(product, 0.0, out=product)
        return float(product[:, :1].sum())

    return run


def _torch() -> Callable[[], object]:
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(8, 48, 1, bias=False), nn.BatchNorm2d(48), nn.ReLU(),
        nn.Conv2d(48, 48, 5, padding=2, groups=48, bias=False), nn.BatchNorm2d(48), nn.ReLU(),
        nn.Conv2d(48, 8, 1, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10),
    )  # fmt: skip
    x = torch.randn(16, 8, 20, 20)
    y = torch.randint(0, 10, (16,))

    def run() -> float:
        model.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return float(loss.detach())

    return run


def _onnxruntime() -> Callable[[], object]:
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = rng.integers(-127, 128, size=(400, 400), dtype=np.int8)
    graph = helper.make_graph(
        [
            helper.make_node("MatMulInteger", ["x", "w"], ["acc"]),
            helper.make_node("Cast", ["acc"], ["y"], to=TensorProto.FLOAT),
        ],
        "calibration",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [None, 400])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 400])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    x = rng.integers(0, 256, size=(20_000, 400), dtype=np.uint8)

    def run() -> float:
        return float(session.run(None, {"x": x})[0][0, 0])

    return run


def _sklearn() -> Callable[[], object]:
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(0)
    features = rng.integers(0, 2, size=(400, 60)).astype(np.float64)
    model = HistGradientBoostingRegressor(max_iter=200, random_state=0).fit(features, rng.random(400))
    queries = rng.integers(0, 2, size=(2_000, 60)).astype(np.float64)

    def run() -> float:
        return float(model.predict(queries)[0])

    return run


_FACTORIES: dict[str, Callable[[], Callable[[], object]]] = {
    "python": _python,
    "numpy": _numpy,
    "blas": _blas,
    "torch": _torch,
    "onnxruntime": _onnxruntime,
    "sklearn": _sklearn,
}
assert set(_FACTORIES) == set(KINDS)


def build_kernel(kind: str) -> Callable[[], object]:
    """The calibration kernel of one kind of work, set up and ready to time."""
    if kind not in _FACTORIES:
        raise ValueError(f"unknown calibration kind {kind!r}; known: {', '.join(KINDS)}")
    return _FACTORIES[kind]()
