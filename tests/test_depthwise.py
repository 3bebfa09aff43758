"""The elastic blocks' depthwise convolution equals PyTorch's, outputs and gradients alike."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ofa_bench.nn.depthwise import SMALL_MAP, depthwise_conv

SHAPES = [  # (channels, height, width, kernel, stride)
    (6, 1, 1, 7, 1),  # only the centre tap reaches
    (5, 2, 3, 7, 1),  # cropped to 3x5
    (4, 3, 3, 5, 2),
    (8, 4, 4, 7, 2),
    (3, 7, 6, 3, 1),
    (4, 12, 12, 7, 1),  # the largest matrix-product map
    (2, 13, 12, 7, 2),  # just above it: PyTorch's own gradient
]


@pytest.mark.parametrize("channels_last", [True, False], ids=["channels_last", "contiguous"])
@pytest.mark.parametrize(("c", "h", "w", "k", "stride"), SHAPES)
def test_outputs_and_gradients_equal_conv2d(c, h, w, k, stride, channels_last) -> None:
    gen = torch.Generator().manual_seed(c * 100 + h * 10 + w)
    x = torch.randn(3, c, h, w, generator=gen)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    x.requires_grad_(True)
    weight = torch.randn(c, 1, k, k, generator=gen, requires_grad=True)
    ours = depthwise_conv(x, weight, stride)
    reference = F.conv2d(x, weight, None, stride, k // 2, 1, c)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-5)
    grad = torch.randn(ours.shape, generator=gen)
    ours_grads = torch.autograd.grad(ours, (x, weight), grad)
    reference_grads = torch.autograd.grad(reference, (x, weight), grad)
    for a, b in zip(ours_grads, reference_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_matrix_product_gradient_passes_gradcheck() -> None:
    x = torch.randn(2, 3, 4, 3, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 1, 5, 5, dtype=torch.float64, requires_grad=True)
    assert 4 * 3 <= SMALL_MAP
    assert torch.autograd.gradcheck(lambda a, b: depthwise_conv(a, b, 2), (x, weight))


def test_no_grad_and_frozen_weights_take_the_plain_path() -> None:
    x = torch.randn(2, 4, 3, 3)
    weight = torch.randn(4, 1, 7, 7)
    with torch.no_grad():
        out = depthwise_conv(x, weight, 1)
    assert out.grad_fn is None
    torch.testing.assert_close(out, F.conv2d(x, weight, None, 1, 3, 1, 4), rtol=0, atol=1e-6)


def test_extracted_depthwise_layer_runs_the_same_operator_and_matches_conv2d() -> None:
    from ofa_bench.nn.layers import ConvBNAct, DepthwiseConv2d

    layer = ConvBNAct(6, 6, kernel=7, stride=1, groups=6).conv
    assert type(layer) is DepthwiseConv2d and type(ConvBNAct(6, 8, kernel=1).conv) is torch.nn.Conv2d
    plain = torch.nn.Conv2d(6, 6, 7, 1, 3, groups=6, bias=False)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(2, 6, 3, 3, requires_grad=True)
    ours, reference = layer(x), plain(x)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-5)
    assert type(ours.grad_fn).__name__ != type(reference.grad_fn).__name__  # the supernet's backward
    grads = torch.autograd.grad(ours.sum(), (x, layer.weight))
    reference_grads = torch.autograd.grad(reference.sum(), (x, plain.weight))
    for a, b in zip(grads, reference_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
