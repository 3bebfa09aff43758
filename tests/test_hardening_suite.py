"""Issue 28, part B, rows 13, 14 and 15: names and hypervolume settings of a suite are validated.

A suite ``name: "a\\0b"`` (an internal error before), a 5,000-character name (a 5 KB error line
before), ``hv: {reference: 1e300}`` (every hypervolume inf before), ``hv.bounds`` accuracy ``[0,
1e-300]`` (every IGD inf) and ``hv.limits: {bogus: [1]}`` (medians -inf) are one-line errors
naming the field, before anything runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from harness_support import suite_dict

from ofa_bench import cli
from ofa_bench.errors import OfaBenchError
from ofa_bench.suite import load_suite

BENCH = Path("no-such-bench")  # loading a suite does not need the benchmark


def _error(**changes: Any) -> str:
    with pytest.raises(OfaBenchError) as info:
        load_suite(suite_dict(BENCH, **changes))
    message = str(info.value)
    assert "\n" not in message and len(message) < 300, message
    return message


# ----- row 13: names -------------------------------------------------------------------------------


def test_a_name_with_a_nul_byte_exits_2_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite_dict(BENCH, name="a\0b")))
    assert cli.main(["run", str(path), "--quiet"]) == 2  # no --out: the name would have named out/<name>
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "internal error" not in err
    assert "name: must be printable text (no NUL" in err and "'a\\x00b'" in err
    assert not (tmp_path / "out").exists()


def test_an_unknown_suite_lists_the_built_in_ones(capsys: pytest.CaptureFixture[str]) -> None:
    from ofa_bench.suite.config import BUILTIN_SUITES

    assert cli.main(["run", "nope", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == f"ofa-bench: error: nope: no such suite file; built-in suites by name: {', '.join(BUILTIN_SUITES)}\n"
    assert "default" in BUILTIN_SUITES


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("x" * 5000, "name: must be at most 100 characters; got 5,000"),
        ("tab\there", "name: must be printable text"),
        ("new\nline", "name: must be printable text"),
        ("", "name: "),
    ],
    ids=["5000-characters", "tab", "newline", "empty"],
)
def test_bad_suite_names_are_one_short_line(name: str, expected: str) -> None:
    assert expected in _error(name=name)


def test_names_within_the_limits_load() -> None:
    assert load_suite(suite_dict(BENCH, name="x" * 100)).name == "x" * 100
    assert load_suite(suite_dict(BENCH, name="Suite: NAS / ü 2024")).name.endswith("2024")  # printable, any script


def test_a_5000_character_strategy_label_is_one_short_line() -> None:
    strategies = ["random", {"name": "random", "label": "r" * 5000}]
    assert "strategies[1].label: must be at most 100 characters" in _error(strategies=strategies)
    strategies = ["random", {"name": "random", "label": "a\0b"}]
    assert "strategies[1].label: must be printable text" in _error(strategies=strategies)


# ----- rows 14 and 15: hv.reference, hv.bounds, hv.limits ------------------------------------------


@pytest.mark.parametrize("reference", [1e300, 10.5, 0.5, 0.0, -1.0])
def test_a_reference_point_outside_1_to_10_is_refused(reference: float) -> None:
    message = _error(hv={"reference": reference})
    assert message.startswith("suite: hv.reference: must be from 1 to 10") and "got" in message


@pytest.mark.parametrize("reference", [1, 1.1, 2.0, 10])
def test_reference_points_from_1_to_10_load(reference: float) -> None:
    assert load_suite(suite_dict(BENCH, hv={"reference": reference})).hv.reference == reference


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ([0, 1e-300], "hv.bounds: accuracy: [low, high] must span at least 1e-09"),
        ([1e6, 1e6 + 1e-6], "hv.bounds: accuracy: [low, high] must span at least 1e-09"),
        ([1, 0], "hv.bounds: accuracy: must be [low, high] with low < high"),
        ([0, float("inf")], "hv.bounds.accuracy[1]"),
        ([0, float("nan")], "hv.bounds.accuracy[1]"),
        ([0], "hv.bounds: accuracy: must be [low, high]"),
        ([True, 1], "hv.bounds.accuracy[0]"),
    ],
    ids=["degenerate", "degenerate-relative", "reversed", "inf", "nan", "one", "bool"],
)
def test_degenerate_or_non_finite_bounds_are_refused(bounds: list[float], expected: str) -> None:
    assert expected in _error(hv={"bounds": {"accuracy": bounds}})


def test_usable_bounds_load() -> None:
    hv = {"bounds": {"accuracy": [0.0, 0.01], "latency:mmacs": [1e-9, 2e-9]}}
    assert load_suite(suite_dict(BENCH, hv=hv)).hv.bounds["accuracy"] == [0.0, 0.01]


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        (
            {"bogus": [1]},
            "hv.limits: 'bogus' is not a cost column of the records; allowed: macs, params, latency:mmacs",
        ),
        ({"accuracy": [0.5]}, "hv.limits: 'accuracy' is not a cost column"),
        ({"macs": []}, "hv.limits: macs: give 1 to 100 levels; got 0"),
        ({"macs": list(range(101))}, "hv.limits: macs: give 1 to 100 levels; got 101"),
        ({"macs": [1.0000001, 1.0000002]}, "levels 1.0000001 and 1.0000002 both name the metric best:macs<=1"),
        ({"macs": [float("inf")]}, "hv.limits.macs[0]"),
    ],
    ids=["bogus", "maximised", "empty", "too-many", "same-name", "inf"],
)
def test_limits_of_unknown_columns_or_bad_levels_are_refused(limits: dict[str, list[float]], expected: str) -> None:
    assert expected in _error(hv={"limits": limits})


def test_limits_on_costs_load() -> None:
    hv = {"limits": {"latency:mmacs": [2, 1], "params": [1e5]}}
    suite = load_suite(suite_dict(BENCH, constraints=["macs<=3e6"], hv=hv))
    assert suite.hv.limits == {"latency:mmacs": [2, 1], "params": [1e5]}
    assert load_suite(suite_dict(BENCH, constraints=["macs<=3e6"], hv={"limits": {"macs": [1e6]}})).hv.limits
