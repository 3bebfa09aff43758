"""Building lookup tables: every distinct layer timed once, resumable, atomic, consistent header."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from ofa_bench_hardware.layer_grid import layer_grid
from ofa_bench_hardware.runners import TorchCPU

from ofa_bench.costs import layers
from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins import registry
from ofa_bench.space import get_space

MINI = get_space("ofa-mini")
# One timed call per layer: these tests check the bookkeeping, not the figures.
QUICK = {"repeats": 1, "warmup": 0, "rounds": 1}


class CountingRunner(TorchCPU):
    """torch-cpu that counts the layers it times and can fail after a number of groups."""

    def __init__(self, fail_after_groups: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.timed: list[int] = []
        self.fail_after_groups = fail_after_groups

    def time_modules(self, modules):
        if self.fail_after_groups is not None and len(self.timed) >= self.fail_after_groups:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-build
        self.timed.append(len(modules))
        return super().time_modules(modules)


def test_build_times_each_distinct_layer_once(tmp_path: Path) -> None:
    out = tmp_path / "lut.yaml"
    runner = CountingRunner(**QUICK)
    lut = registry.get("hardware", "lut").build(MINI, runner, out, calibration_archs=3)
    distinct = layer_grid(MINI).distinct()
    assert sum(runner.timed) == len(distinct) == len({x.key() for x in distinct})
    data = yaml.safe_load(out.read_text())
    assert set(data["layers"]) == {x.key() for x in distinct}
    # Every layer of every arch is in the table, including the ones before and after the blocks.
    for arch in MINI.sample(20, rng=0) + [MINI.smallest(12), MINI.largest(24)]:
        assert {x.key() for x in layers(arch)} <= set(data["layers"])
    assert data["complete"] is True and data["space"] == "ofa-mini"
    assert data["runner"]["name"] == "torch-cpu" and data["runner"]["repeats"] == 1
    calibration = data["calibration"]
    assert calibration["archs"] == 3 and data["overhead_ms"] == calibration["overhead_ms"]
    assert data["scale"] == calibration["scale"] > 0
    info = lut.describe()
    assert info["runner"] == "torch-cpu" and info["version"].startswith("torch ")
    assert np.all(lut.latency(MINI.sample(10, rng=1)) > 0)
    # A finished table is not rebuilt.
    again = CountingRunner(**QUICK)
    registry.get("hardware", "lut").build(MINI, again, out, calibration_archs=3)
    assert again.timed == []


def test_interrupted_build_resumes_where_it_stopped(tmp_path: Path) -> None:
    out = tmp_path / "lut.yaml"
    with pytest.raises(KeyboardInterrupt):
        registry.get("hardware", "lut").build(MINI, CountingRunner(fail_after_groups=2, **QUICK), out, group_size=32)
    partial = yaml.safe_load(out.read_text())
    assert partial["complete"] is False
    done = len(partial["layers"])
    assert done > 0
    assert not list(tmp_path.glob(".lut.yaml.*"))  # no temporary file left behind
    rest = CountingRunner(**QUICK)
    registry.get("hardware", "lut").build(MINI, rest, out, calibration_archs=2)
    total = len(layer_grid(MINI).distinct())
    assert sum(rest.timed) == total - done
    final = yaml.safe_load(out.read_text())
    assert final["complete"] is True and len(final["layers"]) == total
    assert all(final["layers"][k] == v for k, v in partial["layers"].items())  # kept, not re-timed


def test_resume_with_other_settings_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "lut.yaml"
    with pytest.raises(KeyboardInterrupt):
        registry.get("hardware", "lut").build(MINI, CountingRunner(fail_after_groups=1, **QUICK), out, group_size=32)
    with pytest.raises(OfaBenchError, match="other settings \\(repeats\\)"):
        registry.get("hardware", "lut").build(MINI, "torch-cpu", out, repeats=2, warmup=0, rounds=1, statistic="median")


@pytest.mark.parametrize(
    ("spec", "params", "statistic"),
    [
        ("recorded-cpu", {}, "min"),  # tables default to each layer's fastest call
        ("recorded-cpu", {"statistic": None}, "min"),  # None is unset, as in registry.create
        ("recorded-cpu:statistic=median", {}, "median"),
        ("recorded-cpu", {"statistic": "median"}, "median"),
    ],
)
def test_a_runner_by_name_is_created_once_with_the_table_statistic(
    spec: str, params: dict, statistic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[str] = []

    class RecordedRunner(TorchCPU):
        """torch-cpu that records each creation and stops at the first layer."""

        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            created.append(self.statistic)

        def time_modules(self, modules):
            raise KeyboardInterrupt

    monkeypatch.setattr(registry, "_REGISTRIES", registry._new_registries())
    registry.register("hardware", "recorded-cpu", RecordedRunner)
    out = tmp_path / "lut.yaml"
    with pytest.raises(KeyboardInterrupt):
        registry.get("hardware", "lut").build(MINI, spec, out, **QUICK, **params)
    assert created == [statistic]
    assert yaml.safe_load(out.read_text())["statistic"] == statistic


def test_build_errors(tmp_path: Path) -> None:
    lut = registry.get("hardware", "lut")
    with pytest.raises(OfaBenchError, match="cannot time single layers"):
        lut.build(MINI, "mmacs", tmp_path / "t.yaml")
    with pytest.raises(OfaBenchError, match="unknown hardware backend 'tpu'; known: .*torch-cpu"):
        lut.build(MINI, "tpu", tmp_path / "t.yaml")
    with pytest.raises(OfaBenchError, match="does not exist"):
        lut.build(MINI, "torch-cpu", tmp_path / "missing" / "t.yaml")
    (tmp_path / "ofa.yaml").write_text("Conv-input:1x1x1-output:1x1x1: {count: 1, mean: 1.0, std: 0}\n")
    with pytest.raises(OfaBenchError, match="not an ofa-bench lookup table"):
        lut.build(MINI, "torch-cpu", tmp_path / "ofa.yaml", **QUICK)


def test_build_on_onnxruntime_times_layers(tmp_path: Path) -> None:
    """The ONNX Runtime runner times single layers too (a few, to stay fast)."""
    from ofa_bench_hardware.layer_modules import input_shape, layer_module

    runner = registry.create("hardware", "onnxruntime-cpu", **QUICK)
    shapes = layers(MINI.largest(16))
    picked = [shapes[0], shapes[5], shapes[-3], shapes[-1]]  # stem, a block, pooling, classifier
    stats = runner.time_modules([(layer_module(x), input_shape(x, 1)) for x in picked])
    assert len(stats) == 4 and all(s.median_ms > 0 for s in stats)


def test_calibration_archs_differ_from_validation_sample() -> None:
    from ofa_bench_hardware.lut_build import calibration_archs

    picked = calibration_archs(MINI, 10, seed=0)
    assert picked[:2] == [MINI.smallest(12), MINI.largest(24)] and len(picked) == 10
    assert not set(picked) & set(MINI.sample(50, rng=0))
    assert picked == calibration_archs(MINI, 10, seed=0)


def test_calibration_fits_scale_and_overhead(tmp_path: Path) -> None:
    """Whole networks measuring 2x their layers' sum plus 1 ms give scale 2 and overhead 1."""
    from ofa_bench_hardware.lut import LookupTableBackend
    from ofa_bench_hardware.lut_build import _calibrate
    from ofa_bench_hardware.lut_format import save_table

    entries = {x.key(): {"count": 1, "mean": 0.05 + x.macs / 1e7, "std": 0.0} for x in layer_grid(MINI).distinct()}
    path = save_table(tmp_path / "t.yaml", {"space": MINI.name}, entries)
    summed = LookupTableBackend(table=path)

    class Proportional(TorchCPU):
        def latency(self, archs, *, space=None):
            return 2.0 * summed.latency(archs) + 1.0

    table_sum = lambda table, archs: LookupTableBackend(table=table).latency(archs)
    fit = _calibrate(Proportional(), MINI, path, 8, seed=0, progress=False, table_sum=table_sum)
    assert fit["scale"] == pytest.approx(2.0) and fit["overhead_ms"] == pytest.approx(1.0)
    assert fit["median_relative_error_after"] == pytest.approx(0.0, abs=1e-6)
    assert _calibrate(Proportional(), MINI, path, 2, seed=0, progress=False, table_sum=table_sum)["scale"] == 1.0  # too few for a slope


def test_a_calibration_line_that_makes_small_archs_negative_is_not_kept(tmp_path: Path) -> None:
    """Noisy timings can tilt the line so steeply that its intercept is below minus the smallest arch.

    Seen on a loaded CI machine (one timed call per layer, 3 calibration archs): overhead -45 ms, and
    every query of the table raised. The fit falls back to one that keeps every arch positive.
    """
    from ofa_bench_hardware.lut import LookupTableBackend
    from ofa_bench_hardware.lut_build import _calibrate, calibration_archs
    from ofa_bench_hardware.lut_format import save_table

    entries = {x.key(): {"count": 1, "mean": 0.05 + x.macs / 1e7, "std": 0.0} for x in layer_grid(MINI).distinct()}
    path = save_table(tmp_path / "t.yaml", {"space": MINI.name}, entries)
    summed = LookupTableBackend(table=path)
    smallest = float(summed.latency([MINI.smallest(12)])[0])

    class Steep(TorchCPU):
        """Every arch on a line of slope 3 through -3.5x the smallest arch's sum, except the smallest."""

        def latency(self, archs, *, space=None):
            s = summed.latency(archs)
            return np.where(np.isclose(s, smallest), smallest, 3.0 * s - 3.5 * smallest)

    table_sum = lambda table, archs: LookupTableBackend(table=table).latency(archs)
    assert np.all(Steep().latency(calibration_archs(MINI, 8, seed=0)) > 0)  # a possible measurement
    slope_only = _calibrate(Steep(), MINI, path, 8, seed=0, progress=False, table_sum=table_sum)
    assert slope_only["fit"] in ("offset", "ratio")
    assert slope_only["scale"] * smallest + slope_only["overhead_ms"] > 0

    # The line is kept when it is sound.
    class Proportional(TorchCPU):
        def latency(self, archs, *, space=None):
            return 2.0 * summed.latency(archs) + 1.0

    assert _calibrate(Proportional(), MINI, path, 8, seed=0, progress=False, table_sum=table_sum)["fit"] == "line"


@pytest.mark.parametrize("bad", [np.nan, 0.0, -1.0, "short"])
def test_calibration_refuses_timings_that_are_not_positive_latencies(tmp_path: Path, bad) -> None:
    """A runner answering NaN, zero, a negative time or the wrong number of values gets one clear error."""
    from ofa_bench_hardware.lut import LookupTableBackend
    from ofa_bench_hardware.lut_build import _calibrate
    from ofa_bench_hardware.lut_format import save_table

    entries = {x.key(): {"count": 1, "mean": 0.05 + x.macs / 1e7, "std": 0.0} for x in layer_grid(MINI).distinct()}
    path = save_table(tmp_path / "t.yaml", {"space": MINI.name}, entries)
    summed = LookupTableBackend(table=path)

    class Broken(TorchCPU):
        def latency(self, archs, *, space=None):
            out = 2.0 * summed.latency(archs)
            if bad == "short":
                return out[:-1]
            out[1] = bad
            return out

    table_sum = lambda table, archs: LookupTableBackend(table=table).latency(archs)
    with pytest.raises(OfaBenchError, match=r"calibrating on torch-cpu: whole-arch latencies must be 8 finite values > 0"):
        _calibrate(Broken(), MINI, path, 8, seed=0, progress=False, table_sum=table_sum)
