"""Exact analytic costs of sub-networks: MACs, parameters and the per-layer shape list.

MACs count the multiply-accumulates of convolutions and linear layers for one image (bias, BN and
activations are not counted), as OFA's own counter does; parameters count every learnable weight
of the extracted sub-network (BN affine included). Both equal what forward hooks measure on
:meth:`ofa_bench.nn.ElasticMobileNetV3.extract`, which the tests check.

Batches are fast because a block's cost depends only on its position, kernel, expand ratio and the
resolution: those are tabulated once per space and an arch's cost is a gather and a masked sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ofa_bench.space import Arch, SearchSpace, as_batch, make_divisible

__all__ = ["LayerShape", "array_costs", "layers", "macs_params", "block_plan", "BlockPlan"]


@dataclass(frozen=True)
class LayerShape:
    """One layer of a sub-network, as a latency lookup table keys it.

    Attributes:
        kind: ``"stem"``, ``"mbconv"``, ``"final_expand"``, ``"pool"`` (global average pooling,
            no MACs or parameters, listed because latency tables time it), ``"feature_mix"`` or
            ``"classifier"``.
        in_size: Input height (= width) in pixels; 1 after global pooling.
        in_channels: Input channels.
        out_channels: Output channels.
        kernel: Kernel size (1 for pointwise layers and the classifier).
        stride: Stride.
        expand: Expand ratio of an MBConv block (1 when it has no inverted bottleneck).
        mid_channels: Channels inside an MBConv block (its depthwise width).
        se: Whether the block has squeeze-and-excitation.
        act: ``"relu"``, ``"h_swish"`` or ``"none"``.
        idskip: Whether an identity shortcut adds the input to the output.
    """

    kind: str
    in_size: int
    in_channels: int
    out_channels: int
    kernel: int = 1
    stride: int = 1
    expand: int = 1
    mid_channels: int = 0
    se: bool = False
    act: str = "none"
    idskip: bool = False

    @property
    def out_size(self) -> int:
        """Output height: ``ceil(in_size / stride)`` with same padding."""
        return -(-self.in_size // self.stride)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of this layer for one image."""
        return _layer_costs(self)[0]

    @property
    def params(self) -> int:
        """Learnable parameters of this layer."""
        return _layer_costs(self)[1]

    def key(self) -> str:
        """This layer's key in OFA's published latency lookup tables.

        As in OFA's tables, an MBConv key's ``expand:`` field holds the block's middle channel
        count, not its expand ratio.
        """
        i, o = self.in_size, self.out_size
        if self.kind == "mbconv":
            return (
                f"expanded_conv-input:{i}x{i}x{self.in_channels}-output:{o}x{o}x{self.out_channels}"
                f"-expand:{self.mid_channels}-kernel:{self.kernel}-stride:{self.stride}"
                f"-idskip:{int(self.idskip)}-se:{int(self.se)}-hs:{int(self.act == 'h_swish')}"
            )
        if self.kind == "classifier":
            return f"Logits-input:{i}x{i}x{self.in_channels}-output:{self.out_channels}"
        if self.kind == "pool":
            return f"AvgPool2D-input:{i}x{i}x{self.in_channels}-output:{o}x{o}x{self.out_channels}"
        name = {"stem": "Conv", "final_expand": "Conv_1", "feature_mix": "Conv_2"}[self.kind]
        return f"{name}-input:{i}x{i}x{self.in_channels}-output:{o}x{o}x{self.out_channels}"


def se_channels(mid: int) -> int:
    """Hidden width of the squeeze-and-excitation of an ``mid``-channel block (reduction 4)."""
    return make_divisible(mid // 4, 8)


def _layer_costs(layer: LayerShape) -> tuple[int, int]:
    i, o = layer.in_size, layer.out_size
    cin, cout, k = layer.in_channels, layer.out_channels, layer.kernel
    if layer.kind == "stem" or layer.kind == "final_expand":
        return o * o * cin * cout * k * k, cin * cout * k * k + 2 * cout
    if layer.kind == "pool":  # additions only: neither MACs nor parameters
        return 0, 0
    if layer.kind == "feature_mix":  # no BN, no bias, after global pooling
        return cin * cout, cin * cout
    if layer.kind == "classifier":
        return cin * cout, cin * cout + cout
    mid = layer.mid_channels
    macs = params = 0
    if layer.expand != 1:  # inverted bottleneck 1x1 conv + BN
        macs += i * i * cin * mid
        params += cin * mid + 2 * mid
    macs += o * o * mid * k * k  # depthwise conv + BN
    params += mid * k * k + 2 * mid
    if layer.se:  # two 1x1 convs with bias on the pooled vector
        hidden = se_channels(mid)
        macs += 2 * mid * hidden
        params += 2 * mid * hidden + mid + hidden
    macs += o * o * mid * cout  # pointwise linear conv + BN
    params += mid * cout + 2 * cout
    return macs, params


@dataclass(frozen=True)
class BlockPlan:
    """Fixed facts of one elastic block position: channels, stride, activation, SE, shortcut."""

    stage: int
    index: int
    in_channels: int
    out_channels: int
    stride: int
    act: str
    se: bool

    @property
    def idskip(self) -> bool:
        """Identity shortcut: only when the block keeps both resolution and width."""
        return self.stride == 1 and self.in_channels == self.out_channels

    def mid_channels(self, expand: int) -> int:
        """Depthwise width at expand ratio ``expand``."""
        return make_divisible(round(self.in_channels * expand), 8)


@lru_cache(maxsize=None)
def block_plan(space: SearchSpace) -> tuple[BlockPlan, ...]:
    """The ``n_blocks`` elastic block positions of ``space``, stage by stage."""
    net = space.net
    plans = []
    width = net.channels(net.first_block_width)
    for s, (base, stride) in enumerate(zip(net.stage_widths, net.stage_strides)):
        out = net.channels(base)
        for j in range(space.max_depth):
            plans.append(
                BlockPlan(s, j, width, out, stride if j == 0 else 1, net.stage_acts[s], net.stage_se[s])
            )
            width = out
    return tuple(plans)


def _spatial_sizes(space: SearchSpace, r: int) -> tuple[int, int, list[int], int]:
    """Input sizes of stem, first block, each stage's first block, and of the final expand."""
    net = space.net
    size = -(-r // net.stem_stride)
    first = size
    size = -(-size // net.first_block_stride)
    stage_in = []
    for stride in net.stage_strides:
        stage_in.append(size)
        size = -(-size // stride)
    return r, first, stage_in, size


def _fixed_layers(space: SearchSpace, r: int) -> tuple[list[LayerShape], list[LayerShape]]:
    """Layers every sub-network has: (before the elastic stages, after them)."""
    net = space.net
    stem_in, first_in, _, final_in = _spatial_sizes(space, r)
    stem_c, first_c = net.channels(net.stem_width), net.channels(net.first_block_width)
    last_c = net.channels(net.stage_widths[-1])
    final_c, mix_c = net.channels(net.final_expand_width), net.channels(net.feature_mix_width)
    head = [
        LayerShape("stem", stem_in, net.in_channels, stem_c, 3, net.stem_stride, act=net.stem_act),
        LayerShape(
            "mbconv", first_in, stem_c, first_c, 3, net.first_block_stride, 1, stem_c,
            False, net.first_block_act, net.first_block_stride == 1 and stem_c == first_c,
        ),
    ]
    tail = [
        LayerShape("final_expand", final_in, last_c, final_c, act="h_swish"),
        LayerShape("pool", final_in, final_c, final_c, kernel=final_in, stride=final_in),
        LayerShape("feature_mix", 1, final_c, mix_c, act="h_swish"),
        LayerShape("classifier", 1, mix_c, net.n_classes),
    ]
    return head, tail


def layers(arch: Arch) -> list[LayerShape]:
    """The per-layer shape list of ``arch``, in execution order (what a latency table keys)."""
    space = arch.space
    head, tail = _fixed_layers(space, arch.r)
    _, _, stage_in, _ = _spatial_sizes(space, arch.r)
    plans = block_plan(space)
    body = []
    for s, j, flat in arch.active_blocks:
        plan = plans[flat]
        size = stage_in[s] if j == 0 else -(-stage_in[s] // space.net.stage_strides[s])
        body.append(
            LayerShape(
                "mbconv", size, plan.in_channels, plan.out_channels, arch.ks[flat], plan.stride,
                arch.e[flat], plan.mid_channels(arch.e[flat]), plan.se, plan.act, plan.idskip,
            )
        )
    return head + body + tail


@dataclass(frozen=True)
class _CostTables:
    block_macs: np.ndarray  # (n_blocks, |ks|, |e|, |r|)
    block_params: np.ndarray  # (n_blocks, |ks|, |e|)
    fixed_macs: np.ndarray  # (|r|,)
    fixed_params: int


@lru_cache(maxsize=None)
def _cost_tables(space: SearchSpace) -> _CostTables:
    plans = block_plan(space)
    nk, ne, nr = len(space.ks_choices), len(space.e_choices), len(space.resolutions)
    block_macs = np.zeros((space.n_blocks, nk, ne, nr), dtype=np.int64)
    block_params = np.zeros((space.n_blocks, nk, ne), dtype=np.int64)
    fixed_macs = np.zeros(nr, dtype=np.int64)
    fixed_params = 0
    for ri, r in enumerate(space.resolutions):
        head, tail = _fixed_layers(space, r)
        fixed_macs[ri] = sum(layer.macs for layer in head + tail)
        fixed_params = sum(layer.params for layer in head + tail)
        _, _, stage_in, _ = _spatial_sizes(space, r)
        for b, plan in enumerate(plans):
            s = plan.stage
            size = stage_in[s] if plan.index == 0 else -(-stage_in[s] // space.net.stage_strides[s])
            for ki, k in enumerate(space.ks_choices):
                for ei, e in enumerate(space.e_choices):
                    layer = LayerShape(
                        "mbconv", size, plan.in_channels, plan.out_channels, k, plan.stride, e,
                        plan.mid_channels(e), plan.se, plan.act, plan.idskip,
                    )
                    block_macs[b, ki, ei, ri], block_params[b, ki, ei] = _layer_costs(layer)
    return _CostTables(block_macs, block_params, fixed_macs, fixed_params)


def macs_params(archs: Sequence[Arch] | np.ndarray, space: SearchSpace | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MACs and parameter counts of a batch of archs, as two int64 arrays.

    Args:
        archs: Archs of one space, or an ``(n, n_columns)`` array of choice values.
        space: Required when ``archs`` is an array; inferred from the first arch otherwise.
    """
    if not isinstance(archs, np.ndarray):
        archs = list(archs)
        if not archs:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        space = space or archs[0].space
    return array_costs(space, as_batch(archs, space))


@dataclass(frozen=True)
class _FlatCosts:
    """:class:`_CostTables` laid out for one ``take`` per batch: choice values map straight to rows."""

    code: np.ndarray  # (max_ks + 1) * (max_e + 1) ->  ks index * |e| + e index (values not allowed: any)
    e_top: int  # max_e + 1
    block_base: np.ndarray  # (n_blocks,) first row of each block in block_params
    block_macs: np.ndarray  # (n_blocks * (|ks| * |e| + 1) * |r|,) the extra code per block is inactive: 0
    block_params: np.ndarray  # (n_blocks * (|ks| * |e| + 1),)
    inactive: int  # the code of an inactive block
    r_index: np.ndarray  # (max_r + 1,) resolution value -> index
    n_r: int


@lru_cache(maxsize=None)
def _flat_costs(space: SearchSpace) -> _FlatCosts:
    tables = _cost_tables(space)
    nk, ne, nr, nb = len(space.ks_choices), len(space.e_choices), len(space.resolutions), space.n_blocks
    e_top = max(space.e_choices) + 1
    code = np.zeros((max(space.ks_choices) + 1) * e_top, dtype=np.int64)
    for ki, k in enumerate(space.ks_choices):
        for ei, e in enumerate(space.e_choices):
            code[k * e_top + e] = ki * ne + ei
    macs = np.zeros((nb, nk * ne + 1, nr), dtype=np.int64)
    macs[:, :-1] = tables.block_macs.reshape(nb, nk * ne, nr)
    params = np.zeros((nb, nk * ne + 1), dtype=np.int64)
    params[:, :-1] = tables.block_params.reshape(nb, nk * ne)
    r_index = np.zeros(max(space.resolutions) + 1, dtype=np.int64)
    r_index[list(space.resolutions)] = np.arange(nr)
    base = np.arange(nb, dtype=np.int64) * (nk * ne + 1)
    return _FlatCosts(code, e_top, base, macs.ravel(), params.ravel(), nk * ne, r_index, nr)


def array_costs(
    space: SearchSpace, array: np.ndarray, macs: bool = True, params: bool = True
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """MACs and parameters of a valid ``(n, n_columns)`` int64 batch array, unchecked (``None`` when not wanted).

    The caller guarantees valid choices (arrays from the space's own operators, or checked by
    :meth:`SearchSpace.validate_array`); the sums are those of :func:`macs_params`.
    """
    if len(array) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return (empty if macs else None), (empty if params else None)
    flat, fixed = _flat_costs(space), _cost_tables(space)
    nb = len(flat.block_base)
    # One row per block and choice pair (or the zero row of an inactive block).
    rows = flat.code.take(array[:, :nb] * flat.e_top + array[:, nb : 2 * nb])
    np.copyto(rows, flat.inactive, where=~space.active_mask(array))
    rows += flat.block_base
    out_params = flat.block_params.take(rows).sum(axis=1) + fixed.fixed_params if params else None
    out_macs = None
    if macs:
        r_i = flat.r_index.take(array[:, -1])
        rows *= flat.n_r
        rows += r_i[:, None]
        out_macs = flat.block_macs.take(rows).sum(axis=1) + fixed.fixed_macs.take(r_i)
    return out_macs, out_params
