"""Int8 inference of the MLP predictor's hidden layers through ONNX Runtime.

Strategies call the predictor in their inner loop, and on CPUs without AVX-512 the float32 forward
pass is bound by the core's FMA throughput. ONNX Runtime's u8 x s8 integer matrix product does
about twice the work per cycle, so the layers between hidden layers run in int8 here:

- weights are quantised symmetrically per output unit (int8, zero point 0);
- activations are quantised statically to uint8 with one scale per layer, fixed when the
  predictor is fitted (from the largest activation over calibration archs), so an arch's
  prediction never depends on the batch it arrives in. A zero point of 0 also folds the ReLU in:
  ``QuantizeLinear`` saturates negative values to 0;
- the first layer (a table lookup on one-hot features) and the output layer stay float32.

Integer products are exact and the rescaling is elementwise, so the results do not depend on the
batch size or on the number of threads either.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["build_session", "calibrate", "quantise_weight"]

_UINT8_MAX = 255.0
_INT8_MAX = 127.0
_OPSET = 13


def quantise_weight(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-column int8 quantisation of an ``(in, out)`` weight.

    Returns:
        ``(int8 weight, float32 scale per column)``; ``weight ~= q * scale``.
    """
    scale = (np.abs(weight).max(axis=0) / _INT8_MAX).astype(np.float32)
    scale[scale == 0] = 1.0
    return np.clip(np.rint(weight / scale), -_INT8_MAX, _INT8_MAX).astype(np.int8), scale


def calibrate(first: np.ndarray, coefs: Sequence[np.ndarray], intercepts: Sequence[np.ndarray]) -> list[float]:
    """Activation scale of each int8 layer, from calibration archs' first-layer products.

    Each layer's scale is set on the activations the quantised layers before it produce, so
    rounding upstream is accounted for.

    Args:
        first: ``(n, hidden)`` first-layer products (bias not added) of the calibration archs.
        coefs: The network's ``(in, out)`` float32 weights, first layer included.
        intercepts: Its biases.

    Returns:
        One uint8 scale per hidden-to-hidden layer (``len(coefs) - 2`` of them).
    """
    scales = []
    h = first.astype(np.float32)
    for i in range(1, len(coefs) - 1):
        active = np.maximum(h + intercepts[i - 1], 0.0)
        top = float(active.max())
        scale = top / _UINT8_MAX if top > 0 else 1.0
        scales.append(scale)
        q = np.clip(np.rint(active / scale), 0.0, _UINT8_MAX)
        wq, wscale = quantise_weight(coefs[i])
        h = (q @ wq.astype(np.float32)) * (np.float32(scale) * wscale)
    return scales


def build_session(
    coefs: Sequence[np.ndarray], intercepts: Sequence[np.ndarray], scales: Sequence[float], threads: int
):
    """An ONNX Runtime session mapping first-layer products ``h1`` to the network's output.

    Args:
        coefs: ``(in, out)`` float32 weights, first layer included (it is not in the graph).
        intercepts: Biases.
        scales: From :func:`calibrate`.
        threads: Intra-op threads of the session.

    Returns:
        An ``onnxruntime.InferenceSession`` with input ``h1`` ``(n, hidden)`` float32 and output
        ``out`` ``(n, 1)`` float32.
    """
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    initialisers = []
    nodes = []

    def const(name: str, value: np.ndarray) -> str:
        initialisers.append(numpy_helper.from_array(value, name))
        return name

    zero = const("zero_point", np.array(0, dtype=np.uint8))
    x = "h1"
    for i in range(1, len(coefs) - 1):
        wq, wscale = quantise_weight(coefs[i])
        scale = np.float32(scales[i - 1])
        nodes += [
            helper.make_node("Add", [x, const(f"bias{i}", intercepts[i - 1])], [f"pre{i}"]),
            helper.make_node("QuantizeLinear", [f"pre{i}", const(f"scale{i}", np.array(scale)), zero], [f"q{i}"]),
            helper.make_node("MatMulInteger", [f"q{i}", const(f"weight{i}", wq)], [f"int{i}"]),
            helper.make_node("Cast", [f"int{i}"], [f"float{i}"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"float{i}", const(f"rescale{i}", scale * wscale)], [f"h{i + 1}"]),
        ]
        x = f"h{i + 1}"
    last = len(coefs) - 1
    nodes += [
        helper.make_node("Add", [x, const(f"bias{last}", intercepts[last - 1])], ["pre_out"]),
        helper.make_node("Relu", ["pre_out"], ["act_out"]),
        helper.make_node("MatMul", ["act_out", const("weight_out", coefs[last])], ["prod_out"]),
        helper.make_node("Add", ["prod_out", const("bias_out", intercepts[last])], ["out"]),
    ]
    hidden = coefs[0].shape[1]
    graph = helper.make_graph(
        nodes,
        "mlp_int8",
        [helper.make_tensor_value_info("h1", TensorProto.FLOAT, [None, hidden])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 1])],
        initialisers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)])
    model.ir_version = 8  # the oldest ONNX Runtime we admit reads IR 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    # No spin-waiting between calls: a predictor is called between other CPU work (strategies,
    # scikit-learn's OpenMP), and idle ORT threads spinning on a small machine slow that work down.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
