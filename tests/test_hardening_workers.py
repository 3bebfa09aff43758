"""Workers die with their parent (issue 28, row 19).

``ofa-bench build-archive --jobs 2`` killed with SIGKILL or SIGTERM left its two joblib workers
measuring to the end. Now a worker exits as soon as the build process is gone, giving back its
claims on the archs it was measuring, so the resumed build finishes without waiting for them to go
stale (600 s). The suite's workers share the mechanism (``tests/test_harness_kill.py``).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from ofa_bench import cli
from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.data import DataSpec
from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.search.engines import map_unordered
from ofa_bench.space import get_space
from tests.test_idx_data import write_idx_folder

pytestmark = pytest.mark.serial  # workers must exit within seconds of a kill: run alone, not beside a parallel worker

psutil = pytest.importorskip("psutil")

REPO = Path(__file__).resolve().parents[1]
RANDOM = 10


@pytest.fixture()
def bench(tmp_path: Path) -> Path:
    """An untrained ofa-fmnist benchmark on a tiny MNIST-format folder (as tests/test_bench_archive.py's)."""
    write_idx_folder(tmp_path / "data", n_train=60, n_test=16)
    spec = DataSpec(dataset="idx", root=str(tmp_path / "data"), val_fraction=0.25, calib_size=16)
    torch.manual_seed(0)
    net = ElasticMobileNetV3(get_space("ofa-fmnist"))
    Benchmark.create(tmp_path / "bench", net, spec, calibration_batch_size=8, training={"note": "untrained"})
    return tmp_path / "bench"


def _build(bench: Path, out: Path, engine: str = "joblib") -> list[str]:
    """The ``ofa-bench`` arguments of the build."""
    return [
        "--quiet", "build-archive", "--bench", str(bench), "--out", str(out),
        "--random", str(RANDOM), "--strategies", "random", "--trajectory-budget", "0", "--noise-archs", "0",
        "--no-extremes", "--engine", engine, "--jobs", "2", "--chunk", "1",
    ]  # fmt: skip


def _measured(bench: Path, table: str = "records") -> int:
    try:
        with sqlite3.connect(bench / "cache.sqlite", timeout=5) as db:
            return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def _alive(procs: list) -> list:
    alive = []
    for proc in procs:
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
@pytest.mark.usefixtures("one_thread")  # the resumed build measures in this process
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_build_archive_workers_exit_when_the_build_is_killed_and_the_build_resumes(
    bench: Path, tmp_path: Path, sig: str, capfd: pytest.CaptureFixture[str]
) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "ofa_bench", *_build(bench, tmp_path / "a")]
    build = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _measured(bench) < 2 and build.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert build.poll() is None, f"the build ended before it could be killed: {build.stderr.read().decode()}"
    workers = psutil.Process(build.pid).children(recursive=True)
    assert sum("loky" in " ".join(p.cmdline()) for p in workers) >= 2, [p.cmdline() for p in workers]
    assert _measured(bench) < RANDOM, "killed too late: every arch was measured"

    os.kill(build.pid, getattr(signal, sig))
    build.wait(timeout=30)
    killed = time.monotonic()
    while _alive(workers) and time.monotonic() < killed + 30:
        time.sleep(0.05)
    seconds = time.monotonic() - killed
    left = [p.cmdline() for p in _alive(workers)]
    assert not left, f"{len(left)} worker processes still running 30 s after {sig} of their parent: {left}"
    assert seconds < 5, f"the workers took {seconds:.1f} s to exit after {sig} of their parent"
    # They stopped measuring, too: nothing is added after they are gone.
    settled = _measured(bench)
    time.sleep(1)
    assert _measured(bench) == settled < RANDOM

    # Their claims were given back, so the resumed build (serial, in this process: quicker to start)
    # does not wait 600 s for them to go stale.
    assert _measured(bench, "claims") == 0
    assert cli.main(_build(bench, tmp_path / "a", engine="serial")) == 0, capfd.readouterr().err
    table = pd.read_csv(tmp_path / "a" / "archive.csv")
    assert len(table) == RANDOM and table["accuracy"].notna().all()
    assert _measured(bench) == RANDOM  # each arch measured once, before or after the kill


def _pid(_: int) -> int:
    return os.getpid()


def test_engine_calls_run_with_stdout_on_stderr_and_parent_watch_only_in_workers(
    capfd: pytest.CaptureFixture[str],
) -> None:
    def noisy(i: int) -> int:
        print(f"call {i}")
        return i

    assert sorted(map_unordered(noisy, [1, 2], "serial")) == [1, 2]
    out, err = capfd.readouterr()
    assert out == "" and err == "call 1\ncall 2\n"
    # In-process calls start no watch: this process is no worker of itself.
    assert list(map_unordered(_pid, [0], "serial")) == [os.getpid()]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_worker_whose_parent_is_gone_runs_its_cleanups_and_exits(tmp_path: Path) -> None:
    """A forked worker watching its parent leaves as soon as the parent exits, after its clean-ups."""
    marker = tmp_path / "cleaned"
    code = f"""
import os, sys, time
sys.path.insert(0, {str(REPO)!r})
from ofa_bench.search.engines import exit_with, on_parent_exit
if os.fork() == 0:  # the worker: without the watch it would sleep 60 s
    on_parent_exit(lambda: open({str(marker)!r}, "w").close())
    exit_with(os.getppid())
    time.sleep(60)
    os._exit(0)
time.sleep(0.5)
os._exit(0)  # the parent ends; the worker holds the pipes open until it ends too
"""
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", code], timeout=30, check=True, capture_output=True)
    seconds = time.monotonic() - start
    assert marker.exists(), "the worker's clean-up did not run"
    assert seconds < 10, f"the worker outlived its parent by {seconds - 0.5:.1f} s"


def test_an_archive_worker_gives_back_its_claims(bench: Path) -> None:
    """What a worker whose build died does before exiting: its claims are released, so others measure at once."""
    from ofa_bench.benchmark.archive_workers import Job, Worker

    one, two = Worker(Job(bench=str(bench), kind="measure")), Worker(Job(bench=str(bench), kind="measure"))
    key = get_space("ofa-fmnist").sample(1, 0)[0].to_json()
    fp = one.bench.fingerprint
    try:
        assert one.cache.claim(fp, "full", key, one.owner, stale_after=600)
        assert not two.cache.claim(fp, "full", key, two.owner, stale_after=600)  # held for 600 s
        one.give_back()  # from any thread: it opens its own connection
        assert two.cache.claim(fp, "full", key, two.owner, stale_after=600)
    finally:
        one.cache.close()
        two.cache.close()
