"""Import names kept for one release after a rename still work, as the same modules, and warn."""

from __future__ import annotations

import importlib
import sys

import pytest

RENAMED = [("strategies", "ofa_bench_strategies", "nsga2"), ("predictors", "ofa_bench_predictors", "gbdt"),
           ("hardware", "ofa_bench_hardware", "proxies")]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "submodule"), RENAMED)
def test_old_plugin_package_name_warns_and_aliases_the_new_modules(
    monkeypatch: pytest.MonkeyPatch, old: str, new: str, submodule: str
) -> None:
    for name in [n for n in sys.modules if n == old or n.startswith(old + ".")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.warns(DeprecationWarning, match=f"'{old}' is a deprecated import name of '{new}'"):
        aliased = importlib.import_module(f"{old}.{submodule}")
    assert aliased is importlib.import_module(f"{new}.{submodule}")
    assert sys.modules[f"{old}.{submodule}"] is aliased


def test_entry_points_name_the_new_packages() -> None:
    from importlib.metadata import entry_points

    ours = [
        ep.value
        for group in ("ofa_bench.strategies", "ofa_bench.predictors", "ofa_bench.hardware")
        for ep in entry_points(group=group)
        if ep.dist is not None and ep.dist.name == "ofa-bench"
    ]
    assert ours and all(value.startswith("ofa_bench_") for value in ours)


def test_old_name_of_the_predictor_evaluate_module_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "ofa_bench.harness.surrogate", raising=False)
    with pytest.warns(DeprecationWarning, match="ofa_bench.harness.predictor_evaluate"):
        old = importlib.import_module("ofa_bench.harness.surrogate")
    assert old.PredictorEvaluate is importlib.import_module("ofa_bench.harness.predictor_evaluate").PredictorEvaluate
