"""Pareto metrics, normalisation, anytime curves, evals-to-target, best-under-limit and search cost,
against values worked out by hand (mutation testing, docs/testing.md).

The normalisation used below: accuracy maximised on bounds [0.5, 0.9], MMACs minimised on
[10, 30], reference 1.1. A record (accuracy a, MMACs c) is the point ((0.9 - a) / 0.4, (c - 10) / 20).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ofa_bench.metrics import (
    Normalisation,
    anytime_hypervolume,
    best_under_limit,
    curve_at,
    evals_to_target,
    hypervolume,
    igd,
    reference_front,
    run_hypervolume,
    search_cost,
)
from ofa_bench.plugins.interfaces import Constraint, Objective

ACC, MACS = Objective("accuracy", "max"), Objective("latency:mmacs", "min")
NORM = Normalisation((ACC, MACS), (), {"accuracy": (0.5, 0.9), "latency:mmacs": (10.0, 30.0)}, 1.1)


def _records(accuracy: list[float], macs: list[float], **columns: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"accuracy": accuracy, "latency:mmacs": macs, **columns})


# ---- hypervolume -------------------------------------------------------------------------------


def test_hypervolume_of_one_point_given_as_a_flat_array() -> None:
    # (0.5, 0.25) up to (1, 1): 0.5 * 0.75.
    assert hypervolume(np.array([0.5, 0.25]), np.array([1.0, 1.0])) == pytest.approx(0.375)
    assert hypervolume([[0.5, 0.25]], [1.0, 1.0]) == pytest.approx(0.375)
    # Per-axis reference: (2 - 0.5) * (1 - 0.5).
    assert hypervolume(np.array([[0.5, 0.5]]), np.array([2.0, 1.0])) == pytest.approx(0.75)


def test_rows_that_are_not_points_add_nothing() -> None:
    ok = np.array([[0.5, 0.5]])  # 0.25 up to (1, 1)
    for bad in ([-np.inf, 0.5], [np.nan, 0.1], [0.1, np.inf], [0.2, 1.2], [1.0, 0.0]):
        # -inf would be clipped to 0 (0.5 more), NaN, +inf and a point beyond or on the reference add nothing.
        assert hypervolume(np.array([bad, ok[0]]), 1.0) == pytest.approx(0.25), bad
    assert hypervolume(np.array([[2.0, 2.0]]), 1.0) == 0.0
    assert hypervolume(np.zeros((0, 3)), 1.0) == 0.0


def test_run_hypervolume_in_raw_units() -> None:
    # Records (0.9, 10) and (0.7, 30): points (0, 0) and (0.5, 1); the first dominates: 1.1 * 1.1.
    assert run_hypervolume(_records([0.9, 0.7], [10, 30]), NORM) == pytest.approx(1.21)
    # (0.7, 20) alone: point (0.5, 0.5), box 0.6 * 0.6.
    assert run_hypervolume(_records([0.7], [20]), NORM) == pytest.approx(0.36)


# ---- normalisation -----------------------------------------------------------------------------


def test_normalise_and_raw_by_hand() -> None:
    records = _records([0.9, 0.5, 0.8, 0.6], [10, 30, 20, 15])
    expected = [[0.0, 0.0], [1.0, 1.0], [0.25, 0.5], [0.75, 0.25]]
    np.testing.assert_allclose(NORM.points(records), expected)
    np.testing.assert_allclose(NORM.normalise(np.array([[-0.8, 20.0]])), [[0.25, 0.5]])
    # Back to record units: accuracy positive again (not the negated minimisation value).
    np.testing.assert_allclose(NORM.raw(np.array(expected)), [[0.9, 10], [0.5, 30], [0.8, 20], [0.6, 15]])
    np.testing.assert_allclose(NORM.raw(np.array([[1.1, 1.1]])), [[0.46, 32.0]])
    assert NORM.reference_point.tolist() == [1.1, 1.1]
    assert NORM.columns == ("accuracy", "latency:mmacs")


def test_a_maximised_objective_listed_second() -> None:
    norm = Normalisation((MACS, ACC), (), NORM.bounds, 2.0)
    np.testing.assert_allclose(norm.points(_records([0.8], [15])), [[0.25, 0.25]])
    np.testing.assert_allclose(norm.raw(np.array([[0.25, 0.25]])), [[15.0, 0.8]])
    assert norm.reference_point.tolist() == [2.0, 2.0]


def test_feasibility_with_a_constraint_met_exactly_and_missing_values() -> None:
    norm = Normalisation((ACC, MACS), (Constraint("latency:mmacs", 20.0), Constraint("params", 5.0)), NORM.bounds)
    assert norm.columns == ("accuracy", "latency:mmacs", "params")
    records = _records([0.8, 0.8, 0.8, math.nan, 0.8], [20, 20.5, 12, 12, 12], params=[5.0, 1, 6, 1, math.nan])
    # At the limit counts; over either limit, a missing objective or constraint value does not.
    assert norm.feasible_mask(records).tolist() == [True, False, False, False, False]
    assert norm.points(records).shape == (1, 2)
    assert norm.points(records, feasible_only=False).shape == (5, 2)
    # Without the constrained column no row can be shown to meet it.
    assert not norm.feasible_mask(records.drop(columns="params")).any()
    # Without constraints, only the missing objective is out.
    assert NORM.feasible_mask(records).tolist() == [True, True, True, False, True]
    # A value that is not a number is not a measurement.
    text = _records(["0.8", "n/a", 0.7], [20, 20, "x"])
    assert NORM.feasible_mask(text).tolist() == [True, False, False]
    np.testing.assert_allclose(NORM.points(text), [[0.25, 0.5]])


def test_front_is_the_non_dominated_points_sorted_without_repeats() -> None:
    records = _records([0.6, 0.8, 0.8, 0.7, 0.5], [12, 20, 20, 25, 30])
    # Points (0.75, 0.1), (0.25, 0.5) twice, (0.5, 0.75) and (1, 1): the last two are dominated.
    np.testing.assert_allclose(NORM.front(records), [[0.25, 0.5], [0.75, 0.1]])
    assert NORM.front(records.iloc[:0]).shape == (0, 2)


def test_bounds_are_required_and_the_dict_form_has_defaults() -> None:
    with pytest.raises(ValueError, match="no bounds for objective 'latency:mmacs'"):
        Normalisation((ACC, MACS), (), {"accuracy": (0.0, 1.0)})
    data = {"objectives": [{"column": "accuracy", "direction": "max"}], "bounds": {"accuracy": [0, 1]}}
    norm = Normalisation.from_dict(data)
    assert norm.constraints == () and norm.reference == 1.1 and norm.bounds == {"accuracy": (0.0, 1.0)}
    full = Normalisation((ACC, MACS), (Constraint("latency:mmacs", 25.0),), NORM.bounds, 1.5)
    assert full.to_dict() == {
        "objectives": [{"column": "accuracy", "direction": "max"}, {"column": "latency:mmacs", "direction": "min"}],
        "constraints": [{"column": "latency:mmacs", "upper": 25.0}],
        "bounds": {"accuracy": [0.5, 0.9], "latency:mmacs": [10.0, 30.0]},
        "reference": 1.5,
    }
    assert Normalisation.from_dict(full.to_dict()) == full


# ---- IGD and the reference front ---------------------------------------------------------------


def test_reference_front_of_several_frames() -> None:
    a = _records([0.9, 0.6], [30, 10])  # (0, 1), (0.75, 0)
    b = _records([0.8, 0.9], [20, 30])  # (0.25, 0.5), (0, 1) again
    np.testing.assert_allclose(reference_front([a, b], NORM), [[0.0, 1.0], [0.25, 0.5], [0.75, 0.0]])
    assert reference_front([], NORM).shape == (0, 2)
    assert reference_front([a.iloc[:0]], NORM).shape == (0, 2)


def test_igd_by_hand_and_its_edge_cases() -> None:
    front = np.array([[0.0, 1.0], [0.25, 0.5], [0.75, 0.0]])
    run = _records([0.8], [20])  # (0.25, 0.5): distances 0.5590, 0, 0.7071
    by_hand = (math.hypot(0.25, 0.5) + 0 + math.hypot(0.5, 0.5)) / 3
    assert igd(run, NORM, front) == pytest.approx(by_hand)
    assert math.isnan(igd(run, NORM, np.zeros((0, 2))))
    assert igd(_records([math.nan], [20]), NORM, front) == math.inf


# ---- anytime hypervolume and curve_at ----------------------------------------------------------


def test_anytime_curve_by_hand() -> None:
    records = _records(
        [0.7, 0.66, 0.82, math.nan, 0.7, 0.86, 0.5],
        [20, 22, 26, 10, 20, 14, 36],
        n=[1, 2, 3, 4, 5, 6, 7],
    )
    # (0.5, 0.5) -> 0.36; (0.6, 0.6) dominated; (0.2, 0.8) adds 0.3 * 0.3 -> 0.45; NaN skipped;
    # (0.5, 0.5) again changes nothing; (0.1, 0.2) dominates both: 1.0 * 0.9 -> 0.9; (1, 1.3) is
    # beyond the reference. The curve: its first evaluation, each improvement, its last evaluation.
    curve = anytime_hypervolume(records, NORM)
    assert curve["n"].tolist() == [1, 3, 6, 7]
    np.testing.assert_allclose(curve["hv"], [0.36, 0.45, 0.9, 0.9])
    assert curve["n"].dtype == np.int64


def test_anytime_curve_without_an_n_column_and_with_a_late_first_point() -> None:
    records = _records([math.nan, 0.7, 0.86], [20, 20, 14])
    curve = anytime_hypervolume(records, NORM)  # evaluations numbered 1, 2, 3
    assert curve["n"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(curve["hv"], [0.0, 0.36, 0.9])
    # Two records of one batch share n: one step, the value after both.
    both = _records([0.7, 0.86], [20, 14], n=[2, 2])
    curve = anytime_hypervolume(both, NORM)
    assert curve["n"].tolist() == [2] and curve["hv"].tolist() == pytest.approx([0.9])
    empty = anytime_hypervolume(records.iloc[:0], NORM)
    assert len(empty) == 0 and list(empty.columns) == ["n", "hv"] and empty["n"].dtype == np.int64


def test_anytime_curve_counts_only_feasible_points_inside_the_reference() -> None:
    capped = Normalisation((ACC, MACS), (Constraint("latency:mmacs", 25.0),), NORM.bounds, 1.1)
    # (0.5, 0.5) -> 0.36; then 0.9 accuracy at 28 MMACs breaks the 25 MMACs limit (it would
    # dominate everything); then a point exactly on the reference's MMACs coordinate (32 MMACs:
    # (32 - 10) / 20 = 1.1) adds nothing and is no step; the last evaluation closes the curve.
    records = _records([0.7, 0.9, 0.9, 0.6], [20, 28, 32, 24], n=[1, 2, 3, 4])
    curve = anytime_hypervolume(records, capped)
    assert curve["n"].tolist() == [1, 4]
    np.testing.assert_allclose(curve["hv"], [0.36, 0.36])
    unconstrained = anytime_hypervolume(records.iloc[[0, 2, 3]], NORM)
    assert unconstrained["n"].tolist() == [1, 4]


def test_anytime_curve_replaces_dominated_front_points() -> None:
    # (0.5, 0.5), then (0.75, 0.25), then (0.25, 0.25) dominates the second and improves on the first.
    records = _records([0.7, 0.6, 0.8], [20, 15, 15], n=[1, 2, 3])
    # 0.6 * 0.6 = 0.36; with [0.75, 1.1] x [0.25, 1.1]: 0.36 + 0.35 * 0.25 = 0.4475; then
    # [0.25, 1.1] x [0.25, 1.1] covers both boxes: 0.85 * 0.85 = 0.7225.
    np.testing.assert_allclose(anytime_hypervolume(records, NORM)["hv"], [0.36, 0.4475, 0.7225])


def test_curve_at_reads_the_step_function() -> None:
    curve = pd.DataFrame({"n": [1, 4, 9], "hv": [0.1, 0.5, 1.0]})
    got = curve_at(curve, np.array([0, 1, 3, 4, 8, 9, 20]))
    np.testing.assert_allclose(got, [0.0, 0.1, 0.1, 0.5, 0.5, 1.0, 1.0])
    late = pd.DataFrame({"n": [3], "hv": [0.7]})
    np.testing.assert_allclose(curve_at(late, np.array([2, 3])), [0.0, 0.7])
    empty = curve_at(curve.iloc[:0], np.array([[1, 2], [3, 4]]))
    assert empty.shape == (2, 2) and not empty.any()


# ---- evals to target ---------------------------------------------------------------------------


def test_evals_to_target_at_exactly_the_share() -> None:
    curve = pd.DataFrame({"n": [2, 5, 7], "hv": [0.5, 0.95, 1.0]})
    assert evals_to_target(curve, 1.0) == 5.0  # 0.95 reaches 0.95 * 1.0
    assert evals_to_target(curve, 1.0, fraction=0.5) == 2.0
    assert evals_to_target(curve, 1.0, fraction=0.96) == 7.0
    assert math.isnan(evals_to_target(curve, -1.0)) and math.isnan(evals_to_target(curve, math.nan))
    assert math.isnan(evals_to_target(curve.iloc[:0], 1.0))
    # A curve of one step (a run whose first evaluation was its best) is read like any other.
    assert evals_to_target(pd.DataFrame({"n": [3], "hv": [1.0]}), 1.0) == 3.0


# ---- best under limit --------------------------------------------------------------------------


def test_best_under_limit_of_a_minimised_target() -> None:
    records = _records([0.7, 0.8, 0.6], [20, 25, 12], params=[3.0, 5.0, 4.0])
    # The fewest MMACs among archs of at most p params: p = 3 -> 20; p = 4 -> 12; p = 2 -> none.
    got = best_under_limit(records, "params", [2, 3, 4, 5], target=MACS)
    np.testing.assert_allclose(got, [np.nan, 20, 12, 12])


def test_best_under_limit_with_constraints_and_missing_values() -> None:
    records = _records([0.7, 0.8, 0.9, math.nan], [20, 25, 12, 5], params=[3.0, 5.0, math.nan, 1.0])
    # Accuracy under a MMACs limit: 12 MMACs reaches 0.9, 25 reaches 0.9, 11 none (the NaN accuracy).
    np.testing.assert_allclose(best_under_limit(records, "latency:mmacs", [11, 12, 25]), [np.nan, 0.9, 0.9])
    # params <= 5 exactly counts, a NaN params does not meet the constraint.
    met = best_under_limit(records, "latency:mmacs", [30], constraints=[Constraint("params", 5.0)])
    assert met.tolist() == [0.8]
    # A constrained column the records lack: no record can be shown to meet it.
    measured = records.iloc[:3]
    assert np.isnan(best_under_limit(measured, "latency:mmacs", [30], constraints=[Constraint("other", 1.0)])).all()
    # One record is a run like any other; a value that is not a number is not a measurement.
    assert best_under_limit(records.iloc[:1], "latency:mmacs", [20, 19]).tolist()[0] == 0.7
    text = _records([0.7, 0.95, 0.8], ["20", "n/a", 25.0])
    np.testing.assert_allclose(best_under_limit(text, "latency:mmacs", [20, 30]), [0.7, 0.8])
    text_target = _records(["0.7", "failed", 0.8], [20, 10, 25])
    np.testing.assert_allclose(best_under_limit(text_target, "latency:mmacs", [10, 30]), [np.nan, 0.8])
    text_limit = records.assign(params=["3", "x", "1", "1"])
    assert best_under_limit(text_limit, "latency:mmacs", [30], constraints=[Constraint("params", 5.0)]).tolist() == [
        0.9
    ]
    assert np.isnan(best_under_limit(records, "missing", [1.0, 2.0])).tolist() == [True, True]
    assert np.isnan(best_under_limit(records.drop(columns="accuracy"), "params", [9.0])).all()
    assert best_under_limit(records.iloc[:0], "params", [1.0, 2.0, 3.0]).shape == (3,)


# ---- search cost -------------------------------------------------------------------------------


def test_search_cost_of_a_resumed_log_with_gaps() -> None:
    records = pd.DataFrame({
        "n": [11, 12, 13], "elapsed_s": [5.0, math.nan, 7.5], "cpu_s": [2.0, 3.0, math.nan],
        "eval_s": [1.0, math.nan, 2.0], "strategy_s": [0.25, 0.25, 0.5],
    })  # fmt: skip
    cost = search_cost(records)
    assert cost == {"evaluations": 13, "wall_s": 7.5, "cpu_s": 3.0, "eval_s": 3.0, "strategy_s": 1.0}
    assert isinstance(cost["evaluations"], int)
    bare = search_cost(pd.DataFrame({"accuracy": [0.5, 0.6]}))
    assert bare["evaluations"] == 2 and all(math.isnan(bare[k]) for k in ("wall_s", "cpu_s", "eval_s", "strategy_s"))
    assert search_cost(pd.DataFrame({"n": [], "elapsed_s": []}))["evaluations"] == 0
    assert math.isnan(search_cost(pd.DataFrame({"elapsed_s": [math.nan]}))["wall_s"])


def test_search_cost_of_a_log_whose_timing_columns_are_all_missing() -> None:
    # Every record of the run has null times (JSON null -> None): pandas keeps such a column as
    # objects; it is still "no figure" (wall, CPU) and nothing spent (the sums).
    records = pd.DataFrame({"n": [1, 2], "elapsed_s": [None, None], "cpu_s": [None, None],
                            "eval_s": [None, None], "strategy_s": [None, None]})  # fmt: skip
    cost = search_cost(records)
    assert cost["evaluations"] == 2 and math.isnan(cost["wall_s"]) and math.isnan(cost["cpu_s"])
    assert cost["eval_s"] == 0.0 and cost["strategy_s"] == 0.0
