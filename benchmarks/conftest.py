"""Shared set-up of the performance benchmarks: one thread policy, calibration kinds, closing tables.

Thread policy. Every benchmark runs on one thread of every runtime (torch, OpenMP, BLAS, ONNX
Runtime), as the targets are stated. Environment variables alone are not enough (a runtime already
loaded ignores them) and ``threadpoolctl`` alone is not either (it only limits libraries loaded
when it is called, and scikit-learn brings its own OpenMP on first import). So the variables are
set before anything is imported, every runtime is loaded once, and then ``threadpool_limits(1)``
holds for the whole session; the session checks that every pool reports one thread and records
the pools in the benchmark JSON's machine info. (On a fresh 2-core machine, scikit-learn's OpenMP
at two threads next to other work was what made the GBDT benchmark 2-5x slower than its baseline.)

Calibration kinds. Each benchmark declares the kind of work it does with
``@pytest.mark.calibration("torch")`` (see :mod:`benchmarks.calibration`); the gate normalises its
time by that kind's kernel, measured in the same session. The kernel is also timed right before and
after each benchmark (``kernel_min``, the fastest of ``OFA_BENCH_KERNEL_ROUNDS`` runs each side,
default 5); ``gate.py compare`` asks for more, since it divides by that figure round by round.

Injected slowdown. ``OFA_BENCH_INJECT_SLOWDOWN="PATTERN=K"`` makes every benchmark whose node id
matches the fnmatch PATTERN run its timed function K times per call (a real K-fold slowdown),
which is how the gate's own test shows that it trips.

Ratios (elastic / static) are measured inside one test by interleaving the two models, because on
a shared, noisy machine only a baseline measured in the same moment is a fair comparison.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import fnmatch
import time

import numpy as np
import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture
from threadpoolctl import threadpool_info, threadpool_limits

from benchmarks.calibration import KINDS, build_kernel

RATIOS: dict[str, float] = {}
THREADS: list[int] = []  # torch's thread count while the benchmarks ran
THROUGHPUT: dict[str, float] = {}
SLOWDOWN_VARIABLE = "OFA_BENCH_INJECT_SLOWDOWN"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--quick",
        action="store_true",
        help="short form for CI: fewer interleaved repetitions (figures are noisier)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "calibration(kind): the kind of work a benchmark does, for the gate")


def _load_runtimes() -> None:
    """Import every runtime with a thread pool, so the limits below reach all of them."""
    import onnxruntime  # noqa: F401
    import scipy.linalg  # noqa: F401
    import sklearn.ensemble  # noqa: F401  (loads scikit-learn's own OpenMP)


@pytest.fixture(scope="session", autouse=True)
def one_thread_everywhere():
    """torch, OpenMP and BLAS pools held to one thread for the whole session, and checked."""
    _load_runtimes()
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        wide = [p for p in threadpool_info() if p["num_threads"] != 1]
        if wide or torch.get_num_threads() != 1:
            pytest.exit(f"thread policy not applied: {wide}, torch {torch.get_num_threads()}", returncode=3)
        THREADS.append(torch.get_num_threads())
        yield
    torch.set_num_threads(previous)


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info["thread_pools"] = [
        {"api": p["internal_api"], "library": os.path.basename(p["filepath"]), "threads": p["num_threads"]}
        for p in threadpool_info()
    ]


def _slowdown_for(nodeid: str) -> int:
    spec = os.environ.get(SLOWDOWN_VARIABLE, "")
    if not spec:
        return 1
    pattern, _, factor = spec.rpartition("=")
    if not pattern or not factor.isdigit() or int(factor) < 1:
        raise pytest.UsageError(f"{SLOWDOWN_VARIABLE} must be PATTERN=K with an integer K >= 1; got {spec!r}")
    return int(factor) if fnmatch.fnmatch(nodeid, pattern) else 1


class _Repeated(BenchmarkFixture):
    """A benchmark fixture whose timed function runs ``repeat`` times per call (injected slowdown).

    pytest-benchmark insists on its own fixture type, so the instance's class is swapped for this one.
    """

    repeat = 1

    def _wrap(self, target):
        def repeated(*args, **kwargs):
            for _ in range(self.repeat - 1):
                target(*args, **kwargs)
            return target(*args, **kwargs)

        return repeated

    def __call__(self, target, *args, **kwargs):
        return super().__call__(self._wrap(target), *args, **kwargs)

    def pedantic(self, target, *args, **kwargs):
        return super().pedantic(self._wrap(target), *args, **kwargs)


_KERNELS: dict[str, object] = {}
KERNEL_ROUNDS_VARIABLE = "OFA_BENCH_KERNEL_ROUNDS"


def _kernel_rounds() -> int:
    spec = os.environ.get(KERNEL_ROUNDS_VARIABLE, "5")
    if not spec.isdigit() or int(spec) < 1:
        raise pytest.UsageError(f"{KERNEL_ROUNDS_VARIABLE} must be an integer >= 1; got {spec!r}")
    return int(spec)


def _kernel_min(kind: str) -> float:
    """The fastest of a few rounds of one kind's calibration kernel (built once per session)."""
    if kind not in _KERNELS:
        _KERNELS[kind] = build_kernel(kind)
        _KERNELS[kind]()  # warm-up
    best = float("inf")
    for _ in range(_kernel_rounds()):
        start = time.perf_counter()
        _KERNELS[kind]()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.fixture
def benchmark(benchmark, request: pytest.FixtureRequest):
    """pytest-benchmark's fixture, tagged with the test's calibration kind (and slowed when asked).

    The kind's kernel is also timed right before and right after the test (``kernel_min``), so the
    gate's machine speed factor describes the moment the benchmark ran, not the session's start.
    """
    marker = request.node.get_closest_marker("calibration")
    kind = marker.args[0] if marker else None
    if kind not in KINDS:
        raise pytest.UsageError(
            f"{request.node.nodeid}: mark it @pytest.mark.calibration(kind) with kind one of {', '.join(KINDS)}"
        )
    benchmark.extra_info["calibration"] = kind
    before = _kernel_min(kind)
    times = _slowdown_for(request.node.nodeid)
    if times > 1:
        benchmark.extra_info["injected_slowdown"] = times
        benchmark.__class__ = _Repeated
        benchmark.repeat = times
    yield benchmark
    benchmark.extra_info["kernel_min"] = min(before, _kernel_min(kind))


@pytest.fixture
def quick(request: pytest.FixtureRequest) -> bool:
    """Whether the short CI form was asked for."""
    return bool(request.config.getoption("--quick"))


@pytest.hookimpl(trylast=True)
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
    from benchmarks.targets import FIGURES, machine_line, table

    if FIGURES:  # last, so a run ends with its verdicts
        terminalreporter.section("targets (benchmarks/targets.py): PASS or MISS")
        terminalreporter.write_line(machine_line(THREADS[-1] if THREADS else torch.get_num_threads()))
        for line in table():
            terminalreporter.write_line(line)
