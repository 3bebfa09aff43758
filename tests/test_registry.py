"""Tests of plug-in discovery, loading and creation.

They rely on the test plug-in package ``tests/plugin_pkg`` being installed
(``pip install ./tests/plugin_pkg``), which declares the hardware backend ``test-constant``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ofa_bench.errors import PluginError
from ofa_bench.plugins import registry
from ofa_bench.plugins.interfaces import HardwareBackend
from ofa_bench.plugins.parameters import parameter_names


class FakeBackend(HardwareBackend):
    """A backend registered in-process by the tests."""

    name = "fake"

    def __init__(self, *, ms: float = 2.0, device: str = "cpu") -> None:
        self.ms = ms
        self.device = device

    def latency(self, archs: Sequence[Any]) -> np.ndarray:
        return np.full(len(archs), self.ms)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "device": self.device, "version": "0", "units": "ms"}


def _normalise(name: str | None) -> str:
    return re.sub(r"[-_.]+", "-", name or "").lower()


@pytest.fixture(autouse=True)
def fresh_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give each test empty registries, so registrations and rescans do not leak between tests."""
    monkeypatch.setattr(registry, "_REGISTRIES", registry._new_registries())


@pytest.fixture
def broken_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install a fake distribution whose plug-ins fail to load, visible through sys.path."""
    info = tmp_path / "broken_dist-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-dist\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[ofa_bench.hardware]\n"
        "broken = broken_plugin_mod:Backend\n"
        "not-a-backend = broken_plugin_ok:NotABackend\n"
    )
    (tmp_path / "broken_plugin_mod.py").write_text(
        "raise ImportError('No module named libfoo (install broken-dist[gpu])')\n"
    )
    (tmp_path / "broken_plugin_ok.py").write_text("class NotABackend:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in ("broken_plugin_mod", "broken_plugin_ok"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    registry.refresh()
    return tmp_path


def test_names_lists_installed_plugin_without_importing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "ofa_bench_testplugin", raising=False)
    assert "test-constant" in registry.names("hardware")
    assert "ofa_bench_testplugin" not in sys.modules


def test_names_filters_with_fnmatch_and_sorts() -> None:
    registry.register("hardware", "zz-fake", FakeBackend)
    registry.register("hardware", "aa-fake", FakeBackend)
    assert registry.names("hardware", "*-fake") == ["aa-fake", "zz-fake"]
    assert registry.names("hardware", "test-*") == ["test-constant"]
    assert registry.names("strategy", "nothing*") == []


def test_describe_reports_distribution_and_version() -> None:
    infos = {info.name: info for info in registry.describe("hardware")}
    info = infos["test-constant"]
    assert info.kind == "hardware"
    assert info.value == "ofa_bench_testplugin:ConstantBackend"
    assert _normalise(info.distribution) == "ofa-bench-testplugin"
    assert info.version == "0.1.0"
    assert info.error is None


def test_get_loads_and_caches() -> None:
    cls = registry.get("hardware", "test-constant")
    assert issubclass(cls, HardwareBackend)
    assert cls.__name__ == "ConstantBackend"
    assert registry.get("hardware", "test-constant") is cls


def test_create_by_name_with_params() -> None:
    backend = registry.create("hardware", "test-constant", ms=3.0)
    assert isinstance(backend, HardwareBackend)
    np.testing.assert_array_equal(backend.latency([object(), object()]), [3.0, 3.0])


def test_create_drops_none_params() -> None:
    registry.register("hardware", "fake", FakeBackend)
    backend = registry.create("hardware", "fake", ms=None, device="gpu")
    assert (backend.ms, backend.device) == (2.0, "gpu")


def test_create_passes_an_instance_through() -> None:
    backend = FakeBackend(ms=5.0)
    assert registry.create("hardware", backend) is backend
    assert registry.create("hardware", backend, ms=None) is backend


def test_an_entry_point_named_otherwise_than_its_class_is_refused_naming_both() -> None:
    from importlib.metadata import EntryPoint

    from ofa_bench.plugins.registry import Registry

    hardware = Registry("hardware", "ofa_bench.hardware", HardwareBackend, "hardware backend")
    hardware._entry_points = {
        "phone2": EntryPoint("phone2", "ofa_bench_hardware.proxies:MMacsProxy", "ofa_bench.hardware"),
        "mmacs": EntryPoint("mmacs", "ofa_bench_hardware.proxies:MMacsProxy", "ofa_bench.hardware"),
    }
    with pytest.raises(PluginError, match="'phone2' .* calls itself 'mmacs' .*rename the entry point to 'mmacs'"):
        hardware.get("phone2")
    assert hardware.get("mmacs").name == "mmacs"


def test_an_unknown_name_declared_in_a_misspelt_group_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    from ofa_bench.plugins import registry as module
    from ofa_bench.plugins.registry import Registry

    declared = [EntryPoint("greedy", "my_pkg.greedy:Greedy", "ofa_bench.strategy")]

    def entry_points(*, group: str | None = None, name: str | None = None) -> list[EntryPoint]:
        return [ep for ep in declared if group in (None, ep.group) and name in (None, ep.name)]

    monkeypatch.setattr(module, "entry_points", entry_points)
    strategies = Registry("strategy", "ofa_bench.strategies", module.Strategy, "search strategy")
    with pytest.raises(PluginError, match=r"unknown search strategy 'greedy'; known: none \(an entry point 'greedy' "
                       r"is declared by an unknown package in group 'ofa_bench.strategy'; search strategy plug-ins are found "
                       r"in group 'ofa_bench.strategies'\)$"):  # fmt: skip
        strategies.get("greedy")
    with pytest.raises(PluginError, match=r"unknown search strategy 'other'; known: none$"):
        strategies.get("other")


def test_a_plug_in_missing_an_abstract_method_is_named_with_the_method() -> None:
    class NoLatency(HardwareBackend):
        name = "no-latency"

        def describe(self) -> dict[str, Any]:
            return {}

    with registry.registered_while("hardware", "no-latency", NoLatency):
        with pytest.raises(PluginError, match=r"hardware backend 'no-latency' \(.*NoLatency\) does not implement latency\(\)"):
            registry.create("hardware", "no-latency")


def test_create_rejects_params_with_an_instance() -> None:
    with pytest.raises(PluginError, match="parameters ms given with a hardware backend instance"):
        registry.create("hardware", FakeBackend(), ms=1.0)


def test_create_rejects_an_instance_of_another_kind() -> None:
    with pytest.raises(PluginError, match="expected a search strategy name"):
        registry.create("strategy", FakeBackend())


def test_create_rejects_unknown_params() -> None:
    registry.register("hardware", "fake", FakeBackend)
    with pytest.raises(PluginError, match="hardware backend 'fake' has no parameter 'speed'; its parameters: ms, device$"):
        registry.create("hardware", "fake", speed=1)


def test_unknown_params_are_named_with_every_accepted_one_through_kwargs_chains() -> None:
    # torch-cpu's own __init__ takes channels_last and hands **kwargs to its base runner's.
    with pytest.raises(PluginError, match="no parameter 'repeat' .did you mean 'repeats'..; its parameters: ") as exc:
        registry.create("hardware", "torch-cpu", repeat=5)
    accepted = str(exc.value).split("its parameters: ")[1].split(", ")
    assert {"channels_last", "threads", "repeats", "warmup", "statistic"} <= set(accepted)
    with pytest.raises(PluginError, match="no parameter 'pop' .did you mean 'pop_size'..; its parameters: pop_size"):
        registry.create("strategy", "nsga2", pop=10)
    registry.register("hardware", "fake", FakeBackend)
    with pytest.raises(PluginError, match="no parameter 'a', 'b'; its parameters: ms, device$"):
        registry.create("hardware", "fake", b=1, a=2)
    # A **kwargs no base class closes: the constructor itself judges (and its refusal is reported).
    assert parameter_names(type("Open", (), {"__init__": lambda self, **kw: None})) is None
    assert parameter_names(type("Bare", (), {})) == []
    # A bool parameter takes true or false only, however the plug-in is created (spec, suite, Python).
    with pytest.raises(PluginError, match="search strategy 'random': parameter dedupe must be true or false; got 'maybe'"):
        registry.create("strategy", "random", dedupe="maybe")
    assert registry.create("strategy", "random", dedupe=False).dedupe is False


def test_register_overwriting_warns() -> None:
    registry.register("hardware", "fake", FakeBackend)
    with pytest.warns(UserWarning, match="overwriting hardware backend 'fake'"):
        registry.register("hardware", "fake", FakeBackend)
    with pytest.warns(UserWarning, match="overwriting hardware backend 'test-constant'"):
        registry.register("hardware", "test-constant", FakeBackend)
    assert registry.get("hardware", "test-constant") is FakeBackend


def test_register_rejects_wrong_base_class() -> None:
    with pytest.raises(PluginError, match="not a subclass of Strategy"):
        registry.register("strategy", "fake", FakeBackend)


def test_registered_plugins_are_described_without_distribution() -> None:
    registry.register("hardware", "fake", FakeBackend)
    (info,) = [i for i in registry.describe("hardware") if i.name == "fake"]
    assert info.value == f"{__name__}:FakeBackend"
    assert (info.distribution, info.version, info.error) == (None, None, None)


def test_unknown_name_lists_known_names() -> None:
    registry.register("hardware", "fake", FakeBackend)
    with pytest.raises(PluginError) as excinfo:
        registry.get("hardware", "foo")
    message = str(excinfo.value)
    assert message.startswith("unknown hardware backend 'foo'; known: ")
    assert "fake" in message and "test-constant" in message


def test_unknown_predictor_lists_the_known_ones() -> None:
    with pytest.raises(PluginError, match="unknown accuracy predictor 'no-such-model'; known: .*gbdt.*mlp"):
        registry.create("predictor", "no-such-model")


@pytest.mark.parametrize("call", [registry.names, registry.describe])
def test_unknown_kind_names_allowed_kinds(call: Any) -> None:
    with pytest.raises(PluginError, match="unknown plug-in kind 'gpu'; known: hardware, predictor"):
        call("gpu")


def test_plugin_error_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        registry.get("strategy", "no-such-strategy")


def test_broken_plugin_is_listed_without_importing(broken_dist: Path) -> None:
    assert {"broken", "not-a-backend", "test-constant"} <= set(registry.names("hardware"))
    assert "broken_plugin_mod" not in sys.modules


def test_broken_plugin_error_names_package_and_cause(broken_dist: Path) -> None:
    with pytest.raises(PluginError) as excinfo:
        registry.get("hardware", "broken")
    message = str(excinfo.value)
    assert "\n" not in message
    assert "'broken'" in message
    assert "broken_plugin_mod:Backend" in message
    assert "package broken-dist 0.1" in message
    assert "ImportError: No module named libfoo (install broken-dist[gpu])" in message
    assert isinstance(excinfo.value.__cause__, ImportError)


def test_broken_plugin_does_not_break_the_others(broken_dist: Path) -> None:
    with pytest.raises(PluginError):
        registry.get("hardware", "broken")
    assert registry.create("hardware", "test-constant").latency([object()]).tolist() == [1.0]


def test_plugin_of_wrong_class_is_rejected(broken_dist: Path) -> None:
    with pytest.raises(PluginError, match="not a subclass of HardwareBackend"):
        registry.get("hardware", "not-a-backend")


def test_describe_reports_load_errors_instead_of_raising(broken_dist: Path) -> None:
    infos = {info.name: info for info in registry.describe("hardware")}
    assert infos["broken"].distribution == "broken-dist"
    assert infos["broken"].version == "0.1"
    assert infos["broken"].error is not None and "libfoo" in infos["broken"].error
    assert infos["not-a-backend"].error is not None
    assert infos["test-constant"].error is None


def test_refresh_forgets_removed_distributions(broken_dist: Path) -> None:
    assert "broken" in registry.names("hardware")
    # monkeypatch restores the whole of sys.path afterwards, so removing the entry here is safe.
    sys.path.remove(str(broken_dist))
    assert "broken" in registry.names("hardware")  # the scan is cached until refresh
    registry.refresh()
    assert "broken" not in registry.names("hardware")


def test_a_value_a_plugin_refuses_is_a_one_line_plugin_error(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    """A constructor raising ValueError on a user's value is bad input (exit 2), not an internal error."""
    from ofa_bench import cli
    from ofa_bench.errors import PluginError
    from ofa_bench.space import get_space
    from ofa_bench.plugins import HardwareBackend
    from ofa_bench.plugins import registry as plugins

    class Picky(HardwareBackend):
        name = "picky-under-test"

        def __init__(self, *, rate: float = 1.0) -> None:
            if rate <= 0:
                raise ValueError(f"rate must be > 0; got {rate}")
            self.rate = rate

        def latency(self, archs):
            return np.ones(len(archs)) / self.rate

        def describe(self):
            return {"name": self.name, "device": "none", "version": "0", "units": "ms"}

    with plugins.registered_while("hardware", "picky-under-test", Picky):
        with pytest.raises(PluginError) as info:
            plugins.create_from_spec("hardware", "picky-under-test:rate=0")
        assert str(info.value) == "hardware backend 'picky-under-test' refused rate=0: rate must be > 0; got 0"
        archs = tmp_path / "archs.jsonl"
        archs.write_text(get_space("ofa-fmnist").smallest().to_json() + "\n")
        argv = ["evaluate", "--bench", "fmnist", "--archs", str(archs), "--backends", "picky-under-test:rate=0"]
        code = cli.main(argv)
    assert code == 2 and "refused rate=0" in capsys.readouterr().err
