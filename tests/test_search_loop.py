"""The search loop and its run log: budget, determinism, resume after a crash, Pareto set, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ofa_bench.errors import OfaBenchError, PluginError
from ofa_bench.objectives import (
    analytic_columns,
    backends_for,
    minimum_of,
    non_dominated,
    parse_constraint,
    parse_objectives,
)
from ofa_bench.plugins.interfaces import Constraint, Objective, Strategy
from ofa_bench.plugins.testing.strategies import synthetic_records
from ofa_bench.search.loop import run_search
from ofa_bench.search.predictor_evaluate import PredictorEvaluate
from ofa_bench.search.runlog import LOG_FILE, META_FILE, TIME_KEYS, RunLog, read_log
from ofa_bench.space import get_space

MINI = get_space("ofa-mini")
OBJ = "accuracy,latency:mmacs"


class Crash(Exception):
    """Stands in for a kill in the middle of an evaluation."""


def evaluate(archs):
    return synthetic_records(MINI, archs)


def crashing(after: int):
    """An evaluate that dies once ``after`` archs have been measured."""
    seen = [0]

    def run(archs):
        seen[0] += len(archs)
        if seen[0] > after:
            raise Crash
        return synthetic_records(MINI, archs)

    return run


def _lines(directory: Path) -> list[dict]:
    entries = [json.loads(line) for line in (directory / LOG_FILE).read_text().splitlines()]
    for entry in entries:
        assert set(entry["time"]) == set(TIME_KEYS)
        del entry["time"]
    return entries


def _run(run_dir=None, strategy="ofa-evolution", budget=30, evaluate=evaluate, **kw):
    params = kw.pop("strategy_params", {"population_size": 8} if strategy == "ofa-evolution" else None)
    return run_search(
        strategy, MINI, OBJ, ["macs<=3e6"], evaluate, budget, 1, batch_size=kw.pop("batch_size", 4),
        strategy_params=params, run_dir=run_dir, **kw,
    )  # fmt: skip


# ----- objectives ---------------------------------------------------------------------------------


def test_parse_objectives_and_constraints() -> None:
    assert parse_objectives("accuracy, latency:lut") == (Objective("accuracy", "max"), Objective("latency:lut", "min"))
    assert parse_objectives("max:params,min:accuracy") == (Objective("params", "max"), Objective("accuracy", "min"))
    assert parse_constraint("latency:torch-cpu <= 12") == Constraint("latency:torch-cpu", 12.0)
    assert parse_constraint("macs<=300e6").upper == 300e6
    assert backends_for(["accuracy", "latency:lut", "macs", "latency:lut", "latency:onnxruntime-cpu"]) == (
        "lut",
        "onnxruntime-cpu",
    )
    for bad in ("", "accuracy,accuracy", "accuracy,,macs"):
        with pytest.raises(OfaBenchError):
            parse_objectives(bad)
    for bad in ("macs<3e6", "macs>=1", "macs<=lots", "<=3", "macs<=inf"):
        with pytest.raises(OfaBenchError, match="<column><=<number>"):
            parse_constraint(bad)


def test_analytic_columns_match_the_cost_model() -> None:
    array = MINI.sample_array(50, 3)
    fast = analytic_columns(MINI, array, ["macs", "latency:mparams", "accuracy"], validate=False)
    checked = analytic_columns(MINI, array, ["macs", "latency:mparams"])
    assert set(fast) == {"macs", "latency:mparams"}
    np.testing.assert_array_equal(fast["macs"], checked["macs"])
    np.testing.assert_allclose(fast["latency:mparams"], checked["latency:mparams"])
    smallest = analytic_columns(MINI, MINI.to_array([MINI.smallest(r=min(MINI.resolutions))]), ["macs"])["macs"][0]
    assert minimum_of(MINI, "macs") == smallest and (analytic_columns(MINI, array, ["macs"])["macs"] >= smallest).all()
    assert minimum_of(MINI, "latency:lut") is None


def test_non_dominated_ignores_failures() -> None:
    F = np.array([[1, 5], [2, 2], [3, 3], [0, np.inf], [2, 2]], dtype=float)
    assert non_dominated(F).tolist() == [True, True, False, False, True]


# ----- the loop -----------------------------------------------------------------------------------


def test_budget_is_spent_exactly_and_logged_in_order(tmp_path: Path) -> None:
    result = _run(tmp_path / "run", budget=30)
    assert len(result) == 30 and result.X.shape == (30, MINI.n_columns)
    entries = _lines(tmp_path / "run")
    assert [e["n"] for e in entries] == list(range(1, 31))
    assert [e["batch"] for e in entries] == [1 + i // 4 for i in range(30)]
    assert [MINI.from_dict(e["arch"]) for e in entries] == result.archs
    assert set(entries[0]["record"]) >= {"accuracy", "loss", "macs", "params", "latency:mmacs"}
    meta = json.loads((tmp_path / "run" / META_FILE).read_text())
    assert meta["status"] == "done" and meta["strategy"] == "ofa-evolution" and meta["seed"] == 1
    assert meta["strategy_params"]["population_size"] == 8 and meta["constraints"] == ["macs<=3e+06"]
    df = read_log(tmp_path / "run")
    assert list(df.columns[:3]) == ["n", "batch", "arch"] and list(df.columns[-4:]) == list(TIME_KEYS)
    assert (df["elapsed_s"].diff().dropna() >= 0).all() and len(df) == 30


def test_runs_are_deterministic_for_a_seed(tmp_path: Path) -> None:
    _run(tmp_path / "a")
    _run(tmp_path / "b")
    assert _lines(tmp_path / "a") == _lines(tmp_path / "b")


@pytest.mark.parametrize("strategy", ["ofa-evolution", "nsga2", "local-search"])
@pytest.mark.parametrize("crash_after", [9, 12])  # mid-batch, and at a batch boundary
def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path: Path, strategy: str, crash_after: int) -> None:
    params = {"ofa-evolution": {"population_size": 8}, "nsga2": {"pop_size": 8}, "local-search": {"n_initial": 4}}[strategy]
    _run(tmp_path / "whole", strategy, strategy_params=params)
    with pytest.raises(Crash):
        _run(tmp_path / "cut", strategy, strategy_params=params, evaluate=crashing(crash_after))
    assert json.loads((tmp_path / "cut" / META_FILE).read_text())["status"] == "running"
    assert len(_lines(tmp_path / "cut")) == crash_after // 4 * 4
    _run(tmp_path / "cut", strategy, strategy_params=params)
    assert _lines(tmp_path / "cut") == _lines(tmp_path / "whole")


def test_torn_last_line_and_half_logged_batch_are_recovered(tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    _run(whole)
    cut = tmp_path / "cut"
    cut.mkdir()
    lines = (whole / LOG_FILE).read_text().splitlines(keepends=True)
    # A crash while writing line 11: lines 9-10 of batch 3 made it, line 11 is half written.
    (cut / LOG_FILE).write_text("".join(lines[:10]) + lines[10][: len(lines[10]) // 2])
    meta = json.loads((whole / META_FILE).read_text())
    (cut / META_FILE).write_text(json.dumps({**meta, "status": "running"}))
    log = RunLog.open(cut)
    assert len(log.entries) == 10 and (cut / LOG_FILE).read_text().endswith("\n")
    measured = []

    def counting(archs):
        measured.extend(archs)
        return evaluate(archs)

    _run(cut, evaluate=counting)
    assert _lines(cut) == _lines(whole)
    assert len(measured) == 20  # only the rest of batch 3 and what follows


def test_a_finished_run_is_not_evaluated_again(tmp_path: Path) -> None:
    first = _run(tmp_path / "run")
    again = _run(tmp_path / "run", evaluate=crashing(0))
    np.testing.assert_array_equal(first.X, again.X)


def test_resume_refuses_another_run_in_the_directory(tmp_path: Path) -> None:
    _run(tmp_path / "run", budget=8)
    with pytest.raises(OfaBenchError, match="holds another run .seed") as exc:
        run_search("ofa-evolution", MINI, OBJ, ["macs<=3e6"], evaluate, 8, 2, batch_size=4,
                   strategy_params={"population_size": 8}, run_dir=tmp_path / "run")  # fmt: skip
    assert "\n" not in str(exc.value)
    with pytest.raises(OfaBenchError, match="strategy_params"):
        _run(tmp_path / "run", budget=8, strategy_params={"population_size": 10})


def test_a_run_that_failed_before_its_first_evaluation_does_not_block_its_directory(tmp_path: Path) -> None:
    def broken(archs):
        raise OfaBenchError("the lut backend needs a table")

    with pytest.raises(OfaBenchError, match="needs a table"):
        _run(tmp_path / "run", budget=8, evaluate=broken)
    assert (tmp_path / "run" / META_FILE).exists() and not RunLog.open(tmp_path / "run").entries
    # The corrected command (other settings) runs there, and equals the same run in a fresh directory.
    fixed = _run(tmp_path / "run", budget=8, strategy="random", strategy_params={})
    np.testing.assert_array_equal(fixed.X, _run(tmp_path / "fresh", budget=8, strategy="random", strategy_params={}).X)
    assert json.loads((tmp_path / "run" / META_FILE).read_text())["strategy"] == "random"
    # Once it holds evaluations, another run is refused there as before.
    with pytest.raises(OfaBenchError, match="holds another run"):
        _run(tmp_path / "run", budget=8)


def test_a_finished_run_whose_log_was_cut_short_is_resumed_not_reported_as_done(tmp_path: Path) -> None:
    whole = _run(tmp_path / "run", budget=12)
    log = tmp_path / "run" / LOG_FILE
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:5]))  # a batch and a bit of the next
    assert not RunLog.open(tmp_path / "run").done
    again = _run(tmp_path / "run", budget=12)
    np.testing.assert_array_equal(again.X, whole.X)
    assert RunLog.open(tmp_path / "run").done and len(RunLog.open(tmp_path / "run").entries) == 12


def test_a_larger_budget_continues_a_finished_run(tmp_path: Path) -> None:
    short = _run(tmp_path / "run", budget=12)
    longer = _run(tmp_path / "run", budget=20)
    assert len(longer) == 20
    np.testing.assert_array_equal(longer.X[:12], short.X)


def test_pareto_set_is_the_feasible_non_dominated_set() -> None:
    result = _run(budget=40, strategy="random", strategy_params={})
    pareto = result.pareto()
    macs, acc, lat = (result.records[c] for c in ("macs", "accuracy", "latency:mmacs"))
    feasible = macs <= 3e6
    expected = set()
    for i in np.flatnonzero(feasible):
        others = np.flatnonzero(feasible)
        dominated = any(acc[j] >= acc[i] and lat[j] <= lat[i] and (acc[j] > acc[i] or lat[j] < lat[i]) for j in others)
        if not dominated:
            expected.add(result.archs[i].to_json())
    assert set(pareto["arch"]) == expected and pareto["accuracy"].is_monotonic_decreasing


def test_failed_records_are_logged_as_null_and_never_in_the_pareto_set(tmp_path: Path) -> None:
    def flaky(archs):
        records = evaluate(archs)
        for record in records[::2]:
            record["accuracy"] = None
        return records

    result = _run(tmp_path / "run", budget=16, evaluate=flaky)
    entries = _lines(tmp_path / "run")
    assert entries[0]["record"]["accuracy"] is None and entries[1]["record"]["accuracy"] is not None
    assert not np.isnan(result.pareto()["accuracy"]).any()


def test_surrogate_evaluate_runs_on_arrays_and_archs() -> None:
    class Sum:
        def predict(self, archs):
            return np.asarray([sum(a.ks) for a in archs], dtype=float)

    from ofa_bench.plugins.interfaces import Predictor

    Predictor.register(Sum)  # an archs-only predictor: given archs, never arrays
    evaluate_fn = PredictorEvaluate(MINI, Sum())
    archs = MINI.sample(5, 0)
    records = evaluate_fn(archs)
    assert [r["accuracy"] for r in records] == [sum(a.ks) for a in archs]
    assert records[0]["latency:mmacs"] == pytest.approx(records[0]["macs"] / 1e6)
    result = run_search("random", MINI, OBJ, [], evaluate_fn, 10, 0)
    assert len(result) == 10 and evaluate_fn.label == "surrogate:Sum"


# ----- errors ---------------------------------------------------------------------------------------


def test_bad_settings_are_one_line_errors() -> None:
    low = minimum_of(MINI, "macs")
    with pytest.raises(OfaBenchError, match=f"smallest arch of ofa-mini has macs={low:g}") as exc:
        run_search("random", MINI, OBJ, [f"macs<={low / 2}"], evaluate, 5, 0)
    assert "\n" not in str(exc.value)
    with pytest.raises(OfaBenchError, match="budget must be >= 1"):
        run_search("random", MINI, OBJ, [], evaluate, 0, 0)
    with pytest.raises(PluginError, match="unknown search strategy 'nope'; known: .*evolution"):
        run_search("nope", MINI, OBJ, [], evaluate, 5, 0)
    with pytest.raises(OfaBenchError, match="column 'latency:lut' is not in the evaluation records"):
        run_search("random", MINI, "accuracy,latency:lut", [], evaluate, 5, 0)


def test_a_strategy_breaking_the_protocol_is_named() -> None:
    class Short(Strategy):
        name = "short"

        def ask(self, n):
            return self.space.sample(max(0, n - 1), self.rng)

    with pytest.raises(PluginError, match="strategy 'short' proposed 3 archs when asked for 4"):
        run_search(Short(), MINI, OBJ, [], evaluate, 8, 0, batch_size=4)

    class Arrays(Strategy):
        name = "arrays"

        def ask(self, n):
            return self.space.sample_array(n, self.rng)

    with pytest.raises(PluginError, match="'arrays': ask.. returned a numpy array; it returns a list of Arch .* overrides ask_array"):
        run_search(Arrays(), MINI, OBJ, [], evaluate, 8, 0, batch_size=4)


def test_an_exception_inside_a_plug_in_names_the_plug_in_and_the_call() -> None:
    """A plug-in's own bug (a KeyError in tell, say) is reported as the plug-in's, with the original chained."""

    class Greedy(Strategy):
        name = "greedy"

        def ask(self, n):
            return self.space.sample(n, self.rng)

        def tell(self, archs, records):
            records[0]["latency"]  # the column is latency:mmacs

    with pytest.raises(PluginError, match=r"^search strategy 'greedy': tell\(\) raised KeyError: 'latency'$") as exc:
        run_search(Greedy(), MINI, OBJ, [], evaluate, 8, 0, batch_size=4)
    assert isinstance(exc.value.__cause__, KeyError)

    class Broken(Greedy):
        name = "broken"

        def setup(self, *args):
            raise RuntimeError("no GPU")

    with pytest.raises(PluginError, match=r"^search strategy 'broken': setup\(\) raised RuntimeError: no GPU$"):
        run_search(Broken(), MINI, OBJ, [], evaluate, 8, 0, batch_size=4)
    # The evaluation function is the caller's own code: what it raises comes out unchanged.
    with pytest.raises(Crash):
        _run(budget=8, evaluate=lambda archs: (_ for _ in ()).throw(Crash()))


def test_a_configured_backend_measures_its_column_once() -> None:
    """``latency:lut`` with a ``lut:table=...`` spec is measured by that spec only, not also by a default ``lut``."""
    columns = ["accuracy", "latency:lut", "latency:mmacs"]
    assert backends_for(columns, ["lut:table=t.yaml"]) == ("mmacs", "lut:table=t.yaml")
    assert backends_for(columns) == ("lut", "mmacs")
    assert backends_for(columns, ["mparams"]) == ("lut", "mmacs", "mparams")
