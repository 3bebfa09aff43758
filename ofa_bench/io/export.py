"""Export extracted static sub-networks to ONNX and check ONNX Runtime against PyTorch.

Only static sub-networks (from :meth:`ofa_bench.nn.ElasticMobileNetV3.extract`) are exported: the
elastic supernet's choices are Python control flow, which a traced graph would freeze silently.
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ofa_bench.io.atomic import atomic_path

__all__ = ["export_onnx", "onnx_max_abs_diff"]


def _cpu_eval_copy(model: nn.Module) -> nn.Module:
    # A copy, so exporting or checking never changes the caller's model's device or mode.
    return copy.deepcopy(model).cpu().eval()


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    resolution: int,
    in_channels: int,
    batch_size: int = 1,
    opset: int = 17,
) -> Path:
    """Export a static sub-network to an ONNX file with a dynamic batch axis.

    The model is exported in eval mode on the CPU (from a copy; ``model`` is left untouched).
    The graph has one input ``input`` of shape ``(batch, in_channels, resolution, resolution)``
    and one output ``logits`` of shape ``(batch, n_classes)``. The file is written atomically.

    Args:
        model: A static sub-network, e.g. ``ElasticMobileNetV3(space).extract(arch)``.
        path: Where to write the ``.onnx`` file; its directory must exist.
        resolution: Input height and width in pixels (the arch's ``r``).
        in_channels: Input channels (the space's ``net.in_channels``).
        batch_size: Batch size of the example input used for tracing; the exported batch axis
            is dynamic regardless.
        opset: ONNX opset version.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    model = _cpu_eval_copy(model)
    example = torch.zeros(batch_size, in_channels, resolution, resolution)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the dynamo one, but it is ~20x
        # faster on these models and keeps the batch axis dynamic; its warnings are noise here.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(
            model,
            (example,),
            str(tmp),
            dynamo=False,
            opset_version=opset,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
    return path


def onnx_max_abs_diff(model: nn.Module, path: str | os.PathLike[str], x: torch.Tensor | np.ndarray) -> float:
    """Largest absolute difference between ONNX Runtime (CPU) and PyTorch (eval, CPU) logits.

    Args:
        model: The PyTorch model the file was exported from (left untouched).
        path: The exported ``.onnx`` file.
        x: Input batch ``(n, c, r, r)``; any ``n``, since the batch axis is dynamic.

    Returns:
        ``max |onnx - torch|`` over all logits.
    """
    # Imported here: onnxruntime takes ~0.3 s to import and only this function needs it.
    import onnxruntime as ort

    x = torch.as_tensor(x, dtype=torch.float32).cpu()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(["logits"], {"input": x.numpy()})
    with torch.no_grad():
        torch_out = _cpu_eval_copy(model)(x).numpy()
    return float(np.abs(onnx_out - torch_out).max()) if onnx_out.size else 0.0
