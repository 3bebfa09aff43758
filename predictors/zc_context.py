"""Where zero-cost proxies get their networks and minibatches: a benchmark directory, or a random stand-in.

A benchmark directory (``benchmark.json`` plus ``supernet.pt``, as ``ofa-bench train`` writes and
as ofa-bench ships under ``ofa_bench/benchmark/shipped/``) gives the trained supernet weights and
the data spec; the minibatch is the first batch of a seeded, unaugmented epoch of its training
split, at the arch's resolution (the same images for every arch of a resolution). Without a
benchmark, the supernet is seeded random initialisation and the minibatch seeded Gaussian noise
with random labels: enough for unit tests and the conformance kit, meaningless as a benchmark.

Plug-ins may not import :mod:`ofa_bench.benchmark` (docs/architecture.md), so the directory is read
here with the same untrusted-input readers the core uses; the full checks stay in ``Benchmark.load``.
"""

from __future__ import annotations

import dataclasses
import os
import types
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted import load_torch, read_json
from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.space import Arch, SearchSpace, get_space

__all__ = ["Context", "context", "reinitialise"]


class Context:
    """A supernet (CPU, float32) and a source of minibatches for one benchmark, or the random stand-in."""

    def __init__(self, space: SearchSpace, net: ElasticMobileNetV3, data: object | None, label: str) -> None:
        self.space, self.net, self.data, self.label = space, net, data, label
        self._batches: dict[tuple[int, int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def batch(self, r: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, labels)`` at resolution ``r``: ``size`` training images of a seeded epoch."""
        key = (r, size, seed)
        if key not in self._batches:
            if self.data is None:
                gen = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, r]).generate_state(1)[0]))
                x = torch.randn((size, self.space.net.in_channels, r, r), generator=gen)
                y = torch.randint(0, self.space.net.n_classes, (size,), generator=gen)
            else:
                x, y = next(iter(self.data.train_batches(size, [r], seed=seed, epoch=0)))
            self._batches[key] = (x.contiguous(memory_format=torch.channels_last), y)
        x, y = self._batches[key]
        return x.clone(memory_format=torch.channels_last), y.clone()

    def subnet(self, arch: Arch, twice_differentiable: bool = False) -> nn.Module:
        """The arch's static sub-network with copied supernet weights, in training mode (BN on batch
        statistics), without dropout, channels-last; see :func:`prepare`."""
        return prepare(self.net.extract(arch), twice_differentiable)


class _Hardswish2(nn.Hardswish):
    """Hard swish written with ``relu6``, which autograd differentiates twice (``hardswish_backward`` it cannot)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * F.relu6(x + 3.0) / 6.0


def _se_forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    s = torch.relu(self.reduce(x.mean((2, 3), keepdim=True)))
    return x * (F.relu6(self.expand(s) + 3.0) / 6.0)  # hard sigmoid, twice differentiable


def prepare(model: nn.Module, twice_differentiable: bool = False) -> nn.Module:
    """``model`` in training mode with out-of-place activations and no dropout, channels-last.

    ``twice_differentiable`` (GraSP's Hessian-gradient product) also swaps the depthwise operator
    for the stock ``nn.Conv2d`` kernel and hard swish / hard sigmoid for equal ``relu6`` forms.
    """
    for module in model.modules():
        if hasattr(module, "inplace"):
            module.inplace = False
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        if twice_differentiable:
            if isinstance(module, nn.Conv2d) and type(module) is not nn.Conv2d:
                module.__class__ = nn.Conv2d  # DepthwiseConv2d: same parameters, the stock kernel
            elif type(module) is nn.Hardswish:
                module.__class__ = _Hardswish2
            elif type(module).__name__ == "SqueezeExcite":
                module.forward = types.MethodType(_se_forward, module)
    return model.to(memory_format=torch.channels_last).train()


@torch.no_grad()
def reinitialise(model: nn.Module, seed: int, scheme: str = "kaiming") -> nn.Module:
    """Re-initialise every parameter from a seeded generator; returns ``model``.

    ``kaiming``: He-normal (fan-in) convolutions, linear weights N(0, 0.01^2), zero biases, unit BN
    scale and zero shift, fresh BN statistics. ``gaussian``: every conv and linear weight N(0, 1)
    (Zen-NAS's initialisation), the rest as ``kaiming``.
    """
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            w = module.weight
            if scheme == "gaussian":
                std = 1.0
            elif isinstance(module, nn.Conv2d):
                fan_in = w.shape[1] * w.shape[2] * w.shape[3]
                std = (2.0 / fan_in) ** 0.5
            else:
                std = 0.01
            w.copy_(torch.randn(w.shape, generator=gen, dtype=w.dtype) * std)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.BatchNorm2d):
            module.reset_parameters()
    return model


def context(benchmark: str | os.PathLike[str] | None, space: SearchSpace, seed: int) -> Context:
    """The context for ``benchmark`` (a directory, or ``None`` for the random stand-in of ``space``).

    Raises:
        OfaBenchError: One line: a missing or malformed benchmark, or one of another space.
    """
    if benchmark is None:
        return _random_context(space.name, seed)
    directory = Path(benchmark).resolve()
    ctx = _benchmark_context(str(directory), _stamp(directory))
    if ctx.space != space:
        raise OfaBenchError(
            f"benchmark {str(benchmark)!r} is of space {ctx.space.name!r}; the archs are of {space.name!r}"
        )
    return ctx


def _stamp(directory: Path) -> tuple[int, int]:
    try:
        stat = (directory / "supernet.pt").stat()
    except OSError:
        raise OfaBenchError(
            f"benchmark {str(directory)!r} has no supernet.pt; zero-cost proxies need a benchmark directory"
        ) from None
    return stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=4)
def _random_context(space_name: str, seed: int) -> Context:
    space = get_space(space_name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = ElasticMobileNetV3(space)
    return Context(space, net.eval(), None, f"random:{space_name}:{seed}")


@lru_cache(maxsize=2)
def _benchmark_context(directory: str, stamp: tuple[int, int]) -> Context:
    from ofa_bench.data import DataSpec, load_data

    where = f"benchmark {directory!r}"
    meta = read_json(Path(directory) / "benchmark.json", f"{where}: benchmark.json")
    if not isinstance(meta, dict) or meta.get("format") != "ofa-bench-benchmark":
        raise OfaBenchError(f"{where}: benchmark.json is not an ofa-bench benchmark file")
    try:
        space = get_space(meta["preset"])
        spec = dataclasses.replace(DataSpec.from_dict(meta["data"]), augment=False)
    except Exception as exc:  # noqa: BLE001  (any malformed field: one line)
        raise OfaBenchError(f"{where}: benchmark.json: {type(exc).__name__}: {exc}") from None
    checkpoint = load_torch(Path(directory) / "supernet.pt", f"{where}: supernet.pt")
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    net = ElasticMobileNetV3(space)
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OfaBenchError(f"{where}: supernet.pt does not fit {space.name}: {first}") from None
    net.clear_cache()
    return Context(space, net.eval(), load_data(spec), directory)
