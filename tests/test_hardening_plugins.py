"""Plug-ins held to the harness's contract (issue 28, rows 17 and 18).

Row 17: a plug-in's prints (``print`` or a C extension writing to descriptor 1) never reach a
command's stdout, so ``ofa-bench --json run`` prints one JSON value with the serial and the
joblib engine. Row 18: ``budget.wall_seconds`` stops a run whose strategy blocks in ``ask()``;
the run is marked stopped by the wall budget and its log holds the batches told before the deadline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from harness_support import harness_bench, suite_dict  # noqa: F401 - harness_bench is a fixture

from ofa_bench.evaluate import Evaluator
from ofa_bench.plugins import registry
from ofa_bench.plugins.guard import OutOfTime, plugin_code, stdout_to_stderr, wall_deadline
from ofa_bench.search.loop import run_search
from ofa_bench.search.runlog import RunLog
from ofa_bench.suite import load_suite, run_suite

pytestmark = pytest.mark.serial  # wall budgets of a fraction of a second: run alone, not beside a parallel worker

REPO = Path(__file__).resolve().parents[1]

#: A third party's plug-ins that print (through sys.stdout and straight to descriptor 1, as C code
#: does) and, with ``sleep_from``, block in ``ask()``.
PLUGIN = textwrap.dedent(
    """
    import os
    import time

    import numpy as np

    from ofa_bench.plugins.interfaces import HardwareBackend, Predictor, Strategy


    def noise(what):
        print(f"plugin says: {what}")
        os.write(1, f"plugin writes to fd 1: {what}\\n".encode())


    class Noisy(Strategy):
        name = "noisy"

        def __init__(self, *, sleep_from=0, seconds=0.0):
            self.sleep_from, self.seconds, self.asks = sleep_from, seconds, 0
            noise("constructed")

        def _setup(self):
            noise("setup")

        def ask(self, n):
            self.asks += 1
            noise(f"ask {self.asks}")
            if self.sleep_from and self.asks >= self.sleep_from:
                time.sleep(self.seconds)
            return self.space.sample(n, self.rng)

        def tell(self, archs, records):
            noise("tell")


    class NoisyBackend(HardwareBackend):
        name = "noisy-latency"

        def latency(self, archs):
            noise("latency")
            return np.ones(len(archs))

        def describe(self):
            noise("describe")
            return {"name": "noisy-latency", "device": "none", "version": "1", "units": "ms"}


    class NoisyPredictor(Predictor):
        def fit(self, archs, y):
            noise("fit")
            return self

        def predict(self, archs):
            noise("predict")
            return np.full(len(archs), 0.5)
    """
)


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plug-ins as an installed distribution would be: a module and its entry points (PYTHONPATH)."""
    root = tmp_path_factory.mktemp("plugin")
    (root / "hardening_plugin.py").write_text(PLUGIN)
    info = root / "hardening_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hardening-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[ofa_bench.strategies]\nnoisy = hardening_plugin:Noisy\n"
        "[ofa_bench.hardware]\nnoisy-latency = hardening_plugin:NoisyBackend\n"
    )
    return root


@pytest.fixture
def plugin(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(plugin_dir))
    import hardening_plugin

    return hardening_plugin


# ----- the guard itself ---------------------------------------------------------------------------


def test_prints_inside_plugin_code_go_to_stderr_and_stdout_comes_back(capfd: pytest.CaptureFixture[str]) -> None:
    print("before")
    with plugin_code():
        print("inside")
        os.write(1, b"inside fd\n")
        with stdout_to_stderr():  # nested: one redirection, undone by the outer guard
            print("nested")
        print("still inside")
    print("after")
    out, err = capfd.readouterr()
    assert out == "before\nafter\n"
    assert err == "inside\ninside fd\nnested\nstill inside\n"


@pytest.mark.skipif(not hasattr(__import__("signal"), "setitimer"), reason="needs signal.setitimer")
@pytest.mark.parametrize("kind", ["sleep", "busy loop", "lock", "swallows Exception"])
def test_plugin_code_blocked_at_the_deadline_is_interrupted(kind: str) -> None:
    def block() -> None:
        if kind == "sleep":
            time.sleep(60)
        elif kind == "busy loop":
            while True:
                pass
        elif kind == "lock":
            threading.Event().wait()
        else:
            while True:
                try:
                    time.sleep(60)
                except Exception:
                    pass

    start = time.monotonic()
    with pytest.raises(OutOfTime), wall_deadline(0.3), plugin_code():
        block()
    assert 0.29 < time.monotonic() - start < 1.5


def test_the_harness_own_code_is_not_interrupted_and_the_next_plugin_call_stops() -> None:
    reached = []
    with pytest.raises(OutOfTime), wall_deadline(0.1):
        time.sleep(0.3)  # the harness's own code (say, writing the log) runs to its end
        reached.append("after the deadline")
        with plugin_code():
            reached.append("a plug-in call started after the deadline")
    assert reached == ["after the deadline"]


def test_off_the_main_thread_a_late_call_stops_when_it_returns() -> None:
    outcome: list[Any] = []

    def run() -> None:
        start = time.monotonic()
        try:
            with wall_deadline(0.1), plugin_code():
                time.sleep(0.4)
        except OutOfTime:
            outcome.append(time.monotonic() - start)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert len(outcome) == 1 and 0.39 < outcome[0] < 2.0


# ----- row 17: stdout ------------------------------------------------------------------------------


def test_a_strategys_prints_never_reach_stdout_in_the_search_loop(
    plugin: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    def evaluate(archs: list) -> list[dict[str, float]]:
        return [{"macs": float(i)} for i in range(len(archs))]

    with registry.registered_while("strategy", "noisy-test", plugin.Noisy):
        result = run_search("noisy-test", "ofa-mini", "macs", (), evaluate, 6, seed=0, batch_size=3)
    assert len(result) == 6
    out, err = capfd.readouterr()
    assert out == ""
    for what in ("constructed", "setup", "ask 2", "tell"):
        assert f"plugin says: {what}" in err and f"plugin writes to fd 1: {what}" in err


def test_a_backends_and_an_oracles_prints_never_reach_stdout_in_the_evaluator(
    plugin: Any, harness_bench: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    space = __import__("ofa_bench.space", fromlist=["get_space"]).get_space("ofa-mini")
    with Evaluator(harness_bench, oracle=plugin.NoisyPredictor(), cache=False) as evaluator:
        df = evaluator.evaluate(space.sample(4, 0), [plugin.NoisyBackend()])
    assert np.allclose(df["accuracy"], 0.5) and np.allclose(df["latency:noisy-latency"], 1.0)
    out, err = capfd.readouterr()
    assert out == ""
    assert "plugin says: predict" in err and "plugin writes to fd 1: latency" in err


# ----- row 18: the wall budget ---------------------------------------------------------------------


def _sleepy_suite(wall: float, engine: str, seeds: int = 1) -> dict[str, Any]:
    """A suite on the shipped Fashion-MNIST surrogate (no data, no measuring) whose strategy blocks in its 2nd ask."""
    return suite_dict(
        Path("fmnist"), benchmark="fmnist", oracle={"mode": "shipped"}, seeds=seeds,
        strategies=[{"name": "noisy", "params": {"sleep_from": 2, "seconds": 120}}],
        budget={"evaluations": 30, "wall_seconds": wall}, engine={"kind": engine, "jobs": 2},
    )  # fmt: skip


def _check_stopped(out: Path, units: int) -> None:
    """Every run is stopped by the wall budget, its log holding the first batch (10 archs) only."""
    for unit in sorted((out / "units").iterdir()):
        log = RunLog.open(unit)
        assert log.meta["status"] == "done" and log.meta["stopped"] == "wall_seconds"
        assert log.meta["strategy"] == "noisy"
        assert [e["n"] for e in log.entries] == list(range(1, 11))
    assert len(list((out / "units").iterdir())) == units


def test_wall_seconds_stop_a_strategy_blocked_in_ask(plugin: Any, tmp_path: Path) -> None:
    stages: dict[tuple[str, int], float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        stages.setdefault((stage, done), time.monotonic())

    with registry.registered_while("strategy", "noisy", plugin.Noisy):
        suite = load_suite(_sleepy_suite(wall=1.0, engine="serial"))
        results = run_suite(suite, tmp_path, progress=progress)
    seconds = stages[("runs", 1)] - stages[("runs", 0)]  # the run alone (not the oracle's archive before it)
    assert seconds < 10, f"the blocked strategy ran {seconds:.0f} s under a 1 s wall budget"
    assert results.runs["status"].tolist() == ["wall_seconds"]
    assert results.runs["evaluations"].tolist() == [10]
    _check_stopped(tmp_path, 1)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["serial", "joblib"])
def test_json_run_with_a_printing_blocking_plugin_prints_one_json_value_and_stops_in_time(
    plugin_dir: Path, tmp_path: Path, engine: str
) -> None:
    """The issue's reproducers, scaled down: ``ofa-bench --json run`` on a plug-in that prints and blocks."""
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(_sleepy_suite(wall=2.0, engine=engine, seeds=2)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(plugin_dir), str(REPO)])}
    command = [sys.executable, "-m", "ofa_bench", "--json", "run", str(path), "--out", str(tmp_path / "out")]
    start = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert seconds < 60, f"{seconds:.0f} s: the wall budget did not stop the blocked plug-in"
    figures = json.loads(done.stdout)  # one JSON value, nothing else
    assert [r["status"] for r in figures["runs"]] == ["wall_seconds", "wall_seconds"]
    assert "plugin says: ask 1" in done.stderr and "plugin writes to fd 1: tell" in done.stderr
    _check_stopped(tmp_path / "out", 2)
