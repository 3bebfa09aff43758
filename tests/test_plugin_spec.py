"""Tests of plug-in specs: one grammar, read the same in a suite file and through ``parse_spec``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ofa_bench.errors import OfaBenchError, PluginError, yaml_problem
from ofa_bench.plugins import registry
from ofa_bench.plugins.interfaces import HardwareBackend
from ofa_bench.suite.config import BackendSpec, load_suite

PROBE = "spec-probe"


class ProbeBackend(HardwareBackend):
    """A backend whose parameters cover every value type a spec can give."""

    name = PROBE

    def __init__(
        self, *, table: str = "", scale: float = 1.0, warm: bool = False, runs: int = 1, note: str | None = None
    ) -> None:
        self.table, self.scale, self.warm, self.runs, self.note = table, scale, warm, runs, note

    def latency(self, archs: Sequence[Any]) -> np.ndarray:
        return np.full(len(archs), self.scale)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "device": "cpu", "version": "0", "units": "ms"}


@pytest.fixture(autouse=True)
def probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh registries with the probe backend registered, so nothing leaks into other tests."""
    monkeypatch.setattr(registry, "_REGISTRIES", registry._new_registries())
    registry.register("hardware", PROBE, ProbeBackend)


def _suite_file(tmp_path: Path, spec: str) -> Path:
    """A suite file that lists ``spec`` as written text (a JSON string is a YAML scalar)."""
    path = tmp_path / "suite.yaml"
    path.write_text(
        "name: t\n"
        "benchmark: {dir: bench}\n"
        "objectives: [accuracy, latency:mmacs]\n"
        "strategies: [random]\n"
        "budget: {evaluations: 10}\n"
        f"backends:\n  - mmacs\n  - {json.dumps(spec)}\n"
    )
    return path


GOOD = [
    # A float YAML would read as the text "1e3".
    (f"{PROBE}:scale=1e3", {"scale": 1000.0}),
    (f"{PROBE}:scale=-.5,runs=+3", {"scale": -0.5, "runs": 3}),
    # Bools in any case; YAML's yes/on stay text here, as on the command line.
    (f"{PROBE}:warm=true,note=yes", {"warm": True, "note": "yes"}),
    (f"{PROBE}:warm=FALSE:note=none", {"warm": False, "note": None}),
    # Paths with '/' and ':' (a drive letter, a port); ':' and ',' both separate parameters.
    (f"{PROBE}:table=C:/luts/out/t.yaml,runs=2", {"table": "C:/luts/out/t.yaml", "runs": 2}),
    (f"{PROBE}:table=out/lut.yaml:runs=2", {"table": "out/lut.yaml", "runs": 2}),
    (f"{PROBE}:note=http://host:8080/a", {"note": "http://host:8080/a"}),
    (f"{PROBE}: table = a b.yaml , scale = 2 ", {"table": "a b.yaml", "scale": 2}),
    (f"{PROBE}:note=", {"note": ""}),
    # Only decimal numbers are numbers: no nan, inf or 1_000.
    (f"{PROBE}:note=nan", {"note": "nan"}),
    (f"{PROBE}:note=1_000", {"note": "1_000"}),
    (PROBE, {}),
]


@pytest.mark.parametrize(("spec", "params"), GOOD)
def test_a_spec_reads_the_same_in_a_suite_file_and_through_parse_spec(
    spec: str, params: dict[str, Any], tmp_path: Path
) -> None:
    assert registry.parse_spec(spec) == (PROBE, params)
    backend = load_suite(_suite_file(tmp_path, spec)).backends[1]
    assert (backend.name, backend.params) == (PROBE, params)
    assert all(type(backend.params[k]) is type(v) for k, v in params.items())  # 1000.0, not 1000 or "1e3"
    # Written back, it reads the same again, and both routes create the same backend.
    assert registry.parse_spec(str(backend)) == (PROBE, params)
    made = registry.create_from_spec("hardware", spec)
    assert vars(made) == vars(registry.create("hardware", backend.name, **backend.params))


BAD = [
    ("", "has no name"),
    (":runs=1", "has no name"),
    ("table=t.yaml", "starts with a parameter, not a name"),
    (f"{PROBE}:runs", "'runs' is not key=value"),
    (f"{PROBE}:runs=1:warm", "'warm' is not key=value"),
    (f"{PROBE}:=3", "'=3' is not key=value"),
    (f"{PROBE}:1x=3", "'1x=3' is not key=value"),
    (f"{PROBE}:C:/t.yaml", "'C:/t.yaml' is not key=value"),
    (f"{PROBE}:runs=1,runs=2", "gives 'runs' twice"),
    (f"{PROBE}:\nruns", "'runs' is not key=value"),
]


@pytest.mark.parametrize(("spec", "problem"), BAD)
def test_a_bad_spec_gives_one_line_naming_it(spec: str, problem: str, tmp_path: Path) -> None:
    with pytest.raises(PluginError) as exc:
        registry.parse_spec(spec)
    message = str(exc.value)
    assert repr(spec) in message and problem in message and "\n" not in message
    path = _suite_file(tmp_path, spec)
    with pytest.raises(OfaBenchError) as exc:
        load_suite(path)
    assert str(exc.value) == f"{path}: backends[1]: {message}"


def test_a_spec_that_is_not_text_is_refused() -> None:
    with pytest.raises(PluginError, match="plug-in spec 3 is not text"):
        registry.parse_spec(3)  # type: ignore[arg-type]


def test_a_mapping_entry_keeps_its_yaml_types() -> None:
    spec = BackendSpec.model_validate({"name": PROBE, "params": {"scale": 1e3, "note": "1e3"}})
    assert spec.params == {"scale": 1000.0, "note": "1e3"}


def test_yaml_problem_names_the_position() -> None:
    import yaml

    with pytest.raises(yaml.YAMLError) as exc:
        yaml.safe_load("a: [1, 2\n")
    assert yaml_problem(exc.value).startswith("not valid YAML at line 2: ")
    assert yaml_problem(exc.value, column=True).startswith("not valid YAML at line 2 column 1: ")
    assert yaml_problem(yaml.YAMLError()) == "not valid YAML: YAMLError"
