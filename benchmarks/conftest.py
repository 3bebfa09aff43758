"""Shared set-up of the performance benchmarks: one thread, and a closing table of ratios.

Ratios (elastic / static) are measured inside one test by interleaving the two models, because
on a shared, noisy machine only a baseline measured in the same moment is a fair comparison.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

RATIOS: dict[str, float] = {}
THROUGHPUT: dict[str, float] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--quick",
        action="store_true",
        help="short form for CI: fewer interleaved repetitions (figures are noisier)",
    )


@pytest.fixture
def quick(request: pytest.FixtureRequest) -> bool:
    """Whether the short CI form was asked for."""
    return bool(request.config.getoption("--quick"))


@pytest.fixture(autouse=True)
def one_thread():
    """Every benchmark runs on one intra-op thread, as the targets are stated."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def pytest_terminal_summary(terminalreporter) -> None:
    if RATIOS:
        terminalreporter.section("elastic / static time (median of interleaved pairs)")
        groups: dict[str, list[float]] = {}
        for name, ratio in RATIOS.items():
            terminalreporter.write_line(f"{name:48s} {ratio:6.3f}")
            groups.setdefault(name.split(",")[0], []).append(ratio)
        for group, values in groups.items():
            terminalreporter.write_line(f"{'median, ' + group:48s} {float(np.median(values)):6.3f}")
    if THROUGHPUT:
        terminalreporter.section("throughput (archs per second, one core)")
        for name, rate in THROUGHPUT.items():
            terminalreporter.write_line(f"{name:48s} {rate:12,.{0 if rate >= 100 else 2}f}")
