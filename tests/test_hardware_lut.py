"""Lookup-table backend: queries are sums of layer latencies; OFA's files load; errors are one line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from ofa_bench_hardware.layer_grid import layer_grid
from ofa_bench_hardware.layer_modules import input_shape, layer_module
from ofa_bench_hardware.lut import LookupTableBackend
from ofa_bench_hardware.lut_format import load_table, save_table

from ofa_bench.costs import LayerShape, layers, macs_params
from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins import registry
from ofa_bench.plugins.testing import HardwareBackendTests
from ofa_bench.space import get_space

MINI = get_space("ofa-mini")


def fake_latency(layer: LayerShape) -> float:
    """A made-up but layer-specific latency, so sums identify exactly which layers were added."""
    return 0.01 + layer.macs / 1e6 + layer.in_size * 1e-4 + layer.kernel * 1e-5


def write_table(
    path: Path, space=MINI, overhead_ms: float = 0.25, drop: tuple[str, ...] = (), scale: float = 1.5
) -> Path:
    entries = {
        layer.key(): {"count": 5, "mean": fake_latency(layer), "std": 0.0, "median": fake_latency(layer)}
        for layer in layer_grid(space).distinct()
        if layer.key() not in drop
    }
    runner = {"name": "fake", "device": "cpu: test", "version": "fake 1.0", "threads": 1, "batch_size": 1}
    header = {"space": space.name, "units": "ms", "complete": True, "scale": scale, "overhead_ms": overhead_ms,
              "runner": runner}  # fmt: skip
    return save_table(path, header, entries)


def reference(archs, overhead_ms: float, scale: float) -> np.ndarray:
    """The slow, obvious query: walk each arch's layer list."""
    return np.array([scale * sum(fake_latency(x) for x in layers(a)) + overhead_ms for a in archs])


@pytest.fixture
def table(tmp_path: Path) -> Path:
    return write_table(tmp_path / "lut.yaml")


class TestLookupTable(HardwareBackendTests):
    @pytest.fixture
    def backend(self, table):
        return registry.create_from_spec("hardware", f"lut:table={table}")


def test_query_is_scaled_sum_of_layers_plus_overhead(table: Path) -> None:
    lut = LookupTableBackend(table=table)
    archs = MINI.sample(40, rng=3) + [MINI.smallest(12), MINI.largest(24)]
    expected = reference(archs, 0.25, 1.5)
    np.testing.assert_allclose(lut.latency(archs), expected, rtol=1e-12)
    np.testing.assert_allclose(lut.latency(MINI.to_array(archs), space=MINI), expected, rtol=1e-12)
    info = lut.describe()
    assert info["device"] == "cpu: test" and info["runner"] == "fake"
    assert (info["scale"], info["overhead_ms"]) == (1.5, 0.25)


def test_unnormalised_array_ignores_inactive_blocks(table: Path) -> None:
    lut = LookupTableBackend(table=table)
    array = MINI.to_array(MINI.sample(5, rng=1))
    messy = array.copy()
    messy[:, : MINI.n_blocks] = max(MINI.ks_choices)  # inactive blocks too: they must not count
    np.testing.assert_allclose(
        lut.latency(messy, space=MINI), lut.latency(MINI.from_array(messy)), rtol=1e-12
    )


def test_missing_layer_is_named(tmp_path: Path) -> None:
    arch = MINI.largest(20)
    missing = layers(arch)[5].key()
    lut = LookupTableBackend(table=write_table(tmp_path / "t.yaml", drop=(missing,)))
    lut.latency([MINI.smallest(12)])  # archs without that layer still work
    with pytest.raises(OfaBenchError) as err:
        lut.latency([MINI.smallest(12), arch])
    message = str(err.value)
    assert missing in message and "arch 1" in message and "\n" not in message


def test_missing_fixed_layer_is_named(tmp_path: Path) -> None:
    stem = layers(MINI.smallest(16))[0].key()
    lut = LookupTableBackend(table=write_table(tmp_path / "t.yaml", drop=(stem,)))
    assert lut.resolutions(MINI) == (12, 20, 24)
    with pytest.raises(OfaBenchError, match=re.escape(stem)):
        lut.latency([MINI.smallest(16)])


def test_table_of_another_space_is_refused(table: Path) -> None:
    w10 = get_space("ofa-mbv3-w1.0")
    with pytest.raises(OfaBenchError, match="built for space 'ofa-mini'"):
        LookupTableBackend(table=table).latency(w10.sample(1, rng=0))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: [1, 2\n", "not valid YAML at line"),
        ("- 1\n- 2\n", "not a mapping"),
        ("expanded_conv-x: {count: 1, std: 0}\n", "needs a numeric 'mean'"),
        ("Conv-x: {mean: fast}\n", "needs a numeric 'mean'"),
        ("format: ofa-bench-lut\nformat_version: 1\nspace: ofa-mini\n", "no 'layers' mapping"),
        ("format: ofa-bench-lut\nformat_version: 99\nlayers: {}\n", "format_version 99"),
    ],
)
def test_malformed_tables_name_the_file(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(OfaBenchError) as err:
        LookupTableBackend(table=path)
    assert fragment in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_absent_sources(tmp_path: Path) -> None:
    with pytest.raises(OfaBenchError, match="does not exist; profile one with 'ofa-bench hardware build-lut .*nope.yaml'"):
        LookupTableBackend(table=tmp_path / "nope.yaml")
    with pytest.raises(OfaBenchError, match="holds no .yaml"):
        LookupTableBackend(table=tmp_path)
    with pytest.raises(OfaBenchError, match="needs a table"):
        registry.create("hardware", "lut")


def _ofa_files(folder: Path, space, resolutions, seed: int) -> dict[int, dict[str, dict[str, float]]]:
    """OFA's published layout: one ``<r>_lookup_table.yaml`` per resolution, key -> {count, mean, std}."""
    rng = np.random.default_rng(seed)
    grid = layer_grid(space)
    tables = {}
    for r in resolutions:
        ri = space.resolutions.index(r)
        keys = {x.key() for x in grid.fixed[ri]} | {x.key() for x in grid.blocks[:, :, :, ri].reshape(-1)}
        tables[r] = {k: {"count": 10, "mean": float(rng.uniform(0.1, 5.0)), "std": 0.1} for k in sorted(keys)}
        (folder / f"{r}_lookup_table.yaml").write_text(yaml.safe_dump(tables[r]))
    return tables


def test_ofa_per_resolution_files_from_a_directory(tmp_path: Path) -> None:
    w10 = get_space("ofa-mbv3-w1.0")
    tables = _ofa_files(tmp_path, w10, (160, 224), seed=0)
    lut = LookupTableBackend(table=tmp_path)
    assert lut.resolutions(w10) == (160, 224)
    assert lut.describe()["device"].startswith("unknown")
    for arch in w10.sample(6, rng=2):
        for r in (160, 224):
            arch_r = arch.replace(r=r)
            # Post-pooling keys (Conv_2, Logits) are in both files: each resolution uses its own.
            expected = sum(tables[r][x.key()]["mean"] for x in layers(arch_r))
            assert lut.latency([arch_r])[0] == pytest.approx(expected, rel=1e-12)
    # A list of files in any order reads the same as the directory.
    same = LookupTableBackend(table=sorted(tmp_path.glob("*.yaml"), reverse=True))
    archs = [a.replace(r=160) for a in w10.sample(5, rng=1)]
    np.testing.assert_array_equal(same.latency(archs), lut.latency(archs))
    with pytest.raises(OfaBenchError, match="no latency for layer 'Conv-input:192x192x3"):
        lut.latency([w10.largest(192)])


@pytest.mark.slow
def test_ofa_files_predict_what_ofa_predicts(tmp_path: Path) -> None:
    """OFA's own MBv3LatencyTable, fed the same files, predicts the same latencies."""
    pytest.importorskip("ofa")
    from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3
    from ofa.nas.efficiency_predictor.latency_lookup_table import MBv3LatencyTable

    w10 = get_space("ofa-mbv3-w1.0")
    tables = _ofa_files(tmp_path, w10, (160, 192), seed=1)
    lut = LookupTableBackend(table=tmp_path)
    ofa_net = OFAMobileNetV3(width_mult=1.0, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4])
    for i, arch in enumerate(w10.sample(4, rng=5) + [w10.smallest(160)]):
        arch = arch.replace(r=(160, 192)[i % 2])
        ofa_net.set_active_subnet(ks=list(arch.ks), e=list(arch.e), d=list(arch.d))
        theirs = MBv3LatencyTable.__new__(MBv3LatencyTable)  # skip the download in __init__
        theirs.lut = tables[arch.r]
        expected = theirs.predict_network_latency(ofa_net.get_active_subnet(), arch.r)
        assert lut.latency([arch])[0] == pytest.approx(expected, rel=1e-12)


def test_our_tables_keep_ofa_fields(table: Path) -> None:
    data = yaml.safe_load(table.read_text())
    assert data["format"] == "ofa-bench-lut"
    entry = next(iter(data["layers"].values()))
    assert {"count", "mean", "std"} <= set(entry)
    assert load_table(table).overhead_ms == 0.25


def test_layer_modules_chain_into_the_network() -> None:
    """The modules the builder times are the network's layers: they chain, and their weights add up."""
    for arch in MINI.sample(3, rng=4) + [MINI.largest(24)]:
        shapes = layers(arch)
        x = torch.randn(input_shape(shapes[0], 2))
        total = 0
        with torch.inference_mode():
            for shape in shapes:
                module = layer_module(shape)
                assert tuple(x.shape) == input_shape(shape, 2)
                x = module(x)
                total += sum(p.numel() for p in module.parameters())
        assert tuple(x.shape) == (2, MINI.net.n_classes)
        assert total == macs_params([arch])[1][0]


def test_header_statistic_picks_the_field(tmp_path: Path) -> None:
    """A table built with statistic=min is read by its 'min' fields; OFA-only fields fall back to mean."""
    arch = MINI.largest(16)
    entries = {x.key(): {"count": 3, "mean": 3.0, "std": 0.1, "median": 2.0, "min": 1.0} for x in layers(arch)}
    header = {"space": MINI.name, "statistic": "min"}
    lut = LookupTableBackend(table=save_table(tmp_path / "min.yaml", header, entries))
    assert lut.latency([arch])[0] == pytest.approx(len(layers(arch)))  # 1.0 ms per layer
    assert lut.describe()["statistic"] == "min"
