"""ofa-bench: compare NAS search strategies, accuracy predictors and latency models on one
Once-for-All supernet.

The core values are :class:`Arch` (one sub-network) and :class:`SearchSpace` (its choices and
skeleton); everything else measures archs or reads measurements. The names a notebook needs are
here::

    from ofa_bench import Benchmark, Evaluator, get_space, load_suite, run_suite, registry

    space = get_space("ofa-fmnist")
    with Evaluator("fmnist") as evaluator:          # the shipped Fashion-MNIST benchmark
        records = evaluator.evaluate(space.sample(4, rng=0))
    results = run_suite(load_suite("ci"), "out/ci")  # results.runs / results.summary are DataFrames

Heavy names (torch, pandas) are imported on first use, so ``import ofa_bench`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ofa_bench.errors import OfaBenchError, PluginError, SpaceError
from ofa_bench.space import Arch, NetworkSpec, SearchSpace, as_batch, get_space, preset_names

if TYPE_CHECKING:
    from ofa_bench.benchmark.trained import Benchmark
    from ofa_bench.evaluate import Evaluator
    from ofa_bench.plugins import registry
    from ofa_bench.plugins.registry import create, names
    from ofa_bench.suite.config import Suite, load_suite
    from ofa_bench.suite.results import SuiteResults
    from ofa_bench.suite.runner import run_suite

from ofa_bench.version import __version__

__all__ = [
    "Arch",
    "Benchmark",
    "Evaluator",
    "NetworkSpec",
    "OfaBenchError",
    "PluginError",
    "SearchSpace",
    "SpaceError",
    "Suite",
    "SuiteResults",
    "__version__",
    "as_batch",
    "create",
    "get_space",
    "load_suite",
    "names",
    "preset_names",
    "registry",
    "run_suite",
]

_WHERE = {
    "Benchmark": "ofa_bench.benchmark.trained",
    "Evaluator": "ofa_bench.evaluate",
    "create": "ofa_bench.plugins.registry",
    "names": "ofa_bench.plugins.registry",
    "Suite": "ofa_bench.suite.config",
    "load_suite": "ofa_bench.suite.config",
    "SuiteResults": "ofa_bench.suite.results",
    "run_suite": "ofa_bench.suite.runner",
}


def __getattr__(name: str) -> Any:
    if name == "registry":
        value: Any = importlib.import_module("ofa_bench.plugins.registry")
    elif name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
    else:
        raise AttributeError(f"module 'ofa_bench' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
