"""Depthwise convolution for elastic blocks, fast on the small feature maps of low resolutions.

Two things make PyTorch's CPU depthwise convolution slow where OFA's late stages meet small
images (a 7x7 kernel on 1x1 to 4x4 maps at resolutions 12-24):

- taps that only ever meet zero padding: on an ``h x w`` map at most ``2h - 1`` by ``2w - 1``
  taps around the centre reach the input, so the kernel is cropped to them (with padding to
  match), which gives exactly the same output;
- oneDNN's weight gradient, which on such maps runs at about 1 GFLOP/s (20+ ms for a layer whose
  input gradient takes under 1 ms). On maps of at most :data:`SMALL_MAP` pixels the weight
  gradient is computed instead as a batched matrix product: per channel, the map-to-map matrix
  of the convolution has gradient ``grad_out^T @ input``, and each tap's gradient sums that
  matrix's entries the tap fills (one more product with a fixed 0/1 matrix).

The forward pass and the input gradient stay oneDNN's.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

__all__ = ["SMALL_MAP", "depthwise_conv"]

#: Largest input map (pixels) whose weight gradient is a matrix product: beyond it, the fixed 0/1
#: matrix (taps x output pixels x input pixels) outgrows what it saves (measured, forward plus
#: backward of a 7x7 layer, batch 64: 6x6 maps 5x faster, 8x8 1.4x, 12x12 1.2x, 24x24 slower).
SMALL_MAP = 144


def depthwise_conv(
    x: torch.Tensor, weight: torch.Tensor, stride: int, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """Depthwise convolution with ``same`` padding (odd kernel): ``F.conv2d`` with ``groups=channels``.

    Args:
        x: ``(n, c, h, w)`` input.
        weight: ``(c, 1, k, k)`` kernel, ``k`` odd.
        stride: Stride of both spatial dimensions.
        bias: Optional ``(c,)`` added to each output channel.
    """
    k_h, k_w = weight.shape[-2:]
    h, w = x.shape[-2:]
    crop_h, crop_w = min(k_h, 2 * h - 1), min(k_w, 2 * w - 1)
    if (crop_h, crop_w) != (k_h, k_w):
        top, left = (k_h - crop_h) // 2, (k_w - crop_w) // 2
        weight = weight[:, :, top : top + crop_h, left : left + crop_w]
    if h * w <= SMALL_MAP and weight.requires_grad and torch.is_grad_enabled():
        out = _SmallMapDepthwise.apply(x, weight, stride)
        return out if bias is None else out + bias.reshape(1, -1, 1, 1)
    return F.conv2d(x, weight, bias, stride, (crop_h // 2, crop_w // 2), 1, weight.size(0))


class _SmallMapDepthwise(torch.autograd.Function):
    """Depthwise convolution whose weight gradient is a batched matrix product (see the module doc)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, stride: int) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(x, weight)
        ctx.stride = stride
        k_h, k_w = weight.shape[-2:]
        return F.conv2d(x, weight, None, stride, (k_h // 2, k_w // 2), 1, weight.size(0))

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # noqa: D102
        x, weight = ctx.saved_tensors
        stride = ctx.stride
        c, _, k_h, k_w = weight.shape
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad_out, x, weight, None, [stride, stride], [k_h // 2, k_w // 2], [1, 1], False, [0, 0], c,
                [True, False, False],
            )[0]  # fmt: skip
        if ctx.needs_input_grad[1]:
            n, _, h, w = x.shape
            h_out, w_out = grad_out.shape[-2:]
            # (c, out pixels, n) @ (c, n, in pixels): the gradient of each channel's map-to-map matrix.
            # Both contiguous, channel-major: bmm on strided batches copies matrix by matrix.
            g = grad_out.permute(1, 2, 3, 0).contiguous().view(c, h_out * w_out, n)
            xs = x.permute(1, 0, 2, 3).contiguous().view(c, n, h * w)
            matrix_grad = torch.bmm(g, xs).view(c, -1)
            spread = _tap_spread(h, w, k_h, k_w, stride, x.dtype, x.device)
            grad_w = (matrix_grad @ spread.T).reshape(c, 1, k_h, k_w)
        return grad_x, grad_w, None


@functools.lru_cache(maxsize=64)
def _tap_spread(
    h: int, w: int, k_h: int, k_w: int, stride: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """The 0/1 matrix ``(taps, out pixels * in pixels)``: which tap fills each (out, in) entry."""
    h_out, w_out = (h - 1) // stride + 1, (w - 1) // stride + 1
    oi, oj, ti, tj = torch.meshgrid(
        torch.arange(h_out), torch.arange(w_out), torch.arange(k_h), torch.arange(k_w), indexing="ij"
    )
    ii, jj = oi * stride - k_h // 2 + ti, oj * stride - k_w // 2 + tj
    inside = (ii >= 0) & (ii < h) & (jj >= 0) & (jj < w)
    tap = (ti * k_w + tj)[inside]
    entry = ((oi * w_out + oj) * (h * w) + ii * w + jj)[inside]
    spread = torch.zeros(k_h * k_w, h_out * w_out * h * w, dtype=dtype)
    spread[tap, entry] = 1.0
    return spread.to(device)
