"""Tests of suite files: validation with one-line errors naming the field path, and parsed views."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from ofa_bench import cli
from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins import registry
from ofa_bench.plugins.interfaces import Objective
from ofa_bench.suite.config import BackendSpec, load_suite

BASE: dict[str, Any] = {
    "name": "t",
    "benchmark": {"dir": "bench"},
    "objectives": ["accuracy", "latency:mmacs"],
    "strategies": ["random"],
    "budget": {"evaluations": 10},
}


def _error(changes: dict[str, Any], tmp_path: Path) -> str:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({**BASE, **changes}))
    with pytest.raises(OfaBenchError) as exc:
        load_suite(path)
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def test_a_minimal_suite_takes_its_defaults() -> None:
    suite = load_suite(BASE)
    assert suite.seeds == [0, 1, 2]
    assert suite.engine.kind == "joblib"
    assert suite.oracle.mode == "live"
    assert suite.objective_list == (Objective("accuracy", "max"), Objective("latency:mmacs", "min"))
    # No backends listed: those the objectives name.
    assert [b.name for b in suite.backend_list] == ["mmacs"]
    assert suite.strategies[0].key == "random"


def test_unknown_strategy_names_the_entry_and_lists_the_known(tmp_path: Path) -> None:
    message = _error({"strategies": ["random", {"name": "foo"}]}, tmp_path)
    assert message.startswith("strategies[1].name: unknown strategy 'foo'; known: ")
    assert "random" in message and all(name in message for name in registry.names("strategy"))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"budget": {"evaluations": 0}}, "budget.evaluations: Input should be greater than 0"),
        ({"budget": {"evaluations": "ten"}}, "budget.evaluations: Input should be a valid integer"),
        ({"budget": {"evaluations": 2.5}}, "budget.evaluations: Input should be a valid integer"),
        ({"budget": {}}, "budget.evaluations: missing required field"),
        ({"batch_size": True}, "batch_size: Input should be a valid integer"),
        ({"benchmark": {"dir": "b", "dta": {}}}, "benchmark.dta: unknown field; allowed: dir, preset, data"),
        ({"benchmark": {"dir": "b", "preset": "nope"}}, "benchmark.preset: unknown search space 'nope'"),
        ({"benchmark": {"dir": "b", "data": {"dataset": "mnist"}}}, "benchmark.data: unknown dataset 'mnist'"),
        ({"oracle": {"mode": "magic"}}, "oracle.mode: Input should be 'live', 'surrogate' or 'shipped'"),
        ({"oracle": {"mode": "surrogate", "predictor": "crystal"}}, "oracle.predictor: unknown predictor 'crystal'"),
        ({"objectives": ["accuracy", "latency:nope"]}, "objectives[1]: unknown hardware backend 'nope'"),
        ({"objectives": ["accuracy", "latency:lut"], "backends": ["mmacs"]}, "objectives[1]: latency:lut needs backend"),
        ({"objectives": ["accuracy", "flops"]}, "objectives[1]: unknown column 'flops'"),
        ({"objectives": []}, "objectives: List should have at least 1 item"),
        ({"constraints": ["macs < 5"]}, "constraints[0]: constraint 'macs < 5' must read <column><=<number>"),
        ({"backends": ["mmacs:speed=3"]}, "backends[0]: params do not fit hardware 'mmacs'"),
        ({"strategies": [{"name": "random", "params": {"zz": 1}}]}, "strategies[0]: params do not fit strategy"),
        ({"strategies": ["random", "random"]}, "strategies[1]: 'random' is used twice"),
        ({"seeds": 0}, "seeds: a count of seeds must be >= 1"),
        ({"seeds": [1, 1]}, "seeds: seeds must be distinct"),
        ({"engine": {"kind": "slurm"}}, "engine.kind: Input should be 'joblib', 'dask', 'ray' or 'serial'"),
        ({"hv": {"bounds": {"accuracy": [1, 0]}}}, "hv.bounds: accuracy: must be [low, high] with low < high"),
        ({"bogus": 1}, "bogus: unknown field; allowed: name, description, benchmark"),
    ],
)
def test_bad_fields_give_one_line_naming_the_path(changes: dict[str, Any], expected: str, tmp_path: Path) -> None:
    assert _error(changes, tmp_path).startswith(expected)


def test_a_lone_problem_lists_every_known_name_however_many_plug_ins_are_installed(tmp_path: Path) -> None:
    from ofa_bench_strategies.random_search import RandomSearch

    with contextlib.ExitStack() as stack:
        for i in range(8):
            stack.enter_context(registry.registered_while("strategy", f"third-party-strategy-long-name-{i}", RandomSearch))
        message = _error({"strategies": ["randm"]}, tmp_path)
        assert message.endswith(f"known: {', '.join(registry.names('strategy'))}"), message
        assert len(message) > 300 and "more problem" not in message and "..." not in message
        two = _error({"strategies": ["randm", "tpee"]}, tmp_path)  # two long problems: the second is counted
        assert two.endswith("; and 1 more problem"), two
    assert not registry.names("strategy", "third-party-*")


def test_missing_top_level_field(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in BASE.items() if k != "budget"}))
    with pytest.raises(OfaBenchError, match=r"suite.yaml: budget: missing required field$"):
        load_suite(path)


def test_yaml_syntax_and_shape_errors(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(OfaBenchError, match=r"broken.yaml: not valid YAML at line \d+ column \d+"):
        load_suite(path)
    path.write_text("- a list\n")
    with pytest.raises(OfaBenchError, match="a suite must be a mapping"):
        load_suite(path)
    with pytest.raises(OfaBenchError, match="no such suite file"):
        load_suite(tmp_path / "missing.yaml")


def test_seed_count_backend_text_and_labels() -> None:
    suite = load_suite(
        {
            **BASE,
            "seeds": 4,
            "backends": ["mmacs", {"name": "mparams"}],
            "objectives": ["accuracy", "min:latency:mmacs", "max:params"],
            "strategies": ["random", {"name": "random", "label": "random-again"}],
        }
    )
    assert suite.seeds == [0, 1, 2, 3]
    assert [str(b) for b in suite.backend_list] == ["mmacs", "mparams"]
    assert suite.objective_list[1:] == (Objective("latency:mmacs", "min"), Objective("params", "max"))
    assert [s.key for s in suite.strategies] == ["random", "random-again"]


def test_backend_text_parses_typed_parameters() -> None:
    spec = BackendSpec.model_validate("mmacs")
    assert (spec.name, spec.params) == ("mmacs", {})
    with pytest.raises(ValueError, match="'oops' is not key=value"):
        BackendSpec.model_validate("macs:oops")


def test_overrides_set_dotted_fields() -> None:
    suite = load_suite(BASE, {"budget.evaluations": 7, "benchmark.dir": "elsewhere", "engine.kind": "serial"})
    assert (suite.budget.evaluations, suite.benchmark.dir, suite.engine.kind) == (7, "elsewhere", "serial")
    with pytest.raises(OfaBenchError, match=r"^suite: budget.evaluations: Input should be greater than 0"):
        load_suite(BASE, {"budget.evaluations": 0})


def test_shipped_suites_are_valid() -> None:
    root = Path(__file__).resolve().parents[1] / "benchmarks"
    for source in (root / "ci.yaml", "default"):
        suite = load_suite(source)
        assert "random" in [s.name for s in suite.strategies]


def test_cli_run_with_a_bad_suite_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({**BASE, "strategies": ["random", "foo"]}))
    assert cli.main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "strategies[1].name: unknown strategy 'foo'" in err
    assert cli.main(["run", str(path), "--set", "nonsense"]) == 2
    assert "--set 'nonsense': must read KEY=VALUE" in capsys.readouterr().err


def test_a_suite_with_typos_in_several_places_names_each() -> None:
    suite = {"name": "x", "benchmark": {"dir": "out/bench"}, "objectives": ["accuracy"],
             "strategies": [{"name": "random", "lable": "r"}, {"name": "nsga2", "parms": {}}],
             "budget": {"evaluations": 5}}  # fmt: skip
    with pytest.raises(OfaBenchError) as info:
        load_suite(suite)
    message = str(info.value)
    assert "strategies[0].lable: unknown field" in message and "strategies[1].parms: unknown field" in message
    assert "more" not in message and "\n" not in message
