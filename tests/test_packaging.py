"""The package as a user gets it: every folder of ofa_bench is installed, and the facade holds the names a notebook needs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    """pyproject.toml lists packages explicitly (the plug-in folders are mapped); a new folder must join the list."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "ofa_bench").rglob("__init__.py")}
    assert folders <= listed, f"not in [tool.setuptools] packages: {sorted(folders - listed)}"
    assert config["package-dir"] == {
        "ofa_bench_strategies": "strategies", "ofa_bench_predictors": "predictors", "ofa_bench_hardware": "hardware",
        "ofa_bench_agent": "agent",
    }  # fmt: skip
    for name, folder in config["package-dir"].items():
        assert name in listed and (ROOT / folder / "__init__.py").is_file()


def test_the_facade_holds_what_a_notebook_needs(tmp_path: Path) -> None:
    import ofa_bench
    from ofa_bench import Arch, Benchmark, Evaluator, create, get_space, load_suite, names, registry, run_suite

    assert set(ofa_bench.__all__) >= {"Arch", "Benchmark", "Evaluator", "load_suite", "run_suite", "get_space", "registry"}
    assert Benchmark.__module__ == "ofa_bench.benchmark.trained" and Evaluator.__module__ == "ofa_bench.evaluate"
    assert names("strategy") == registry.names("strategy") and create("hardware", "mmacs").name == "mmacs"
    assert isinstance(get_space("ofa-mini").largest(), Arch)
    suite = load_suite({
        "name": "facade", "benchmark": "fmnist", "oracle": {"mode": "shipped"},
        "objectives": ["accuracy", "latency:mmacs"], "strategies": ["random"],
        "budget": {"evaluations": 10}, "seeds": 1, "reference": {"random_sample": 20}, "engine": {"kind": "serial"},
    })  # fmt: skip
    results = run_suite(suite, tmp_path / "out")
    assert isinstance(results.runs, pd.DataFrame) and isinstance(results.summary, pd.DataFrame)
    assert results.runs["evaluations"].tolist() == [10]


def test_importing_the_facade_is_cheap() -> None:
    """``import ofa_bench`` loads neither torch nor pandas: heavy names come on first use."""
    import subprocess
    import sys

    code = "import sys, ofa_bench; print(sorted(m for m in ('torch', 'pandas', 'sklearn') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
