"""Elastic layers, the elastic MobileNetV3 supernet and the static sub-networks it extracts."""

from __future__ import annotations

from ofa_bench.nn.elastic import ElasticMBConv
from ofa_bench.nn.layers import ConvBNAct, MBConv, MobileNetV3, SqueezeExcite
from ofa_bench.nn.supernet import ElasticMobileNetV3, default_device, resolve_device

__all__ = [
    "ConvBNAct",
    "ElasticMBConv",
    "ElasticMobileNetV3",
    "MBConv",
    "MobileNetV3",
    "SqueezeExcite",
    "default_device",
    "resolve_device",
]
