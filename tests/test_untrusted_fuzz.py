"""Fuzzing the readers of untrusted files (issue 16): a valid object or one line, nothing else.

Random and mutated inputs go to the arch reader, the suite, schedule and lookup-table readers and
the predictor-file reader. Each must return a valid object or raise :class:`OfaBenchError` with a
one-line message under 300 characters (what the CLI prints with exit status 2); any other
exception, a multi-line message or a hang is a failure.

The normal run is budgeted (well under 60 s on a 2-core CPU); ``OFA_BENCH_FUZZ=long`` (used by
``make bench``) multiplies the examples by 20, and ``OFA_BENCH_FUZZ_EXAMPLES=N`` sets them outright.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ofa_bench_hardware.lut_format import load_table, save_table

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.jsonl import read_arch, read_archs
from ofa_bench.io.predictor_files import dumps_predictor, loads_predictor
from ofa_bench.plugins.registry import create
from ofa_bench.space import get_space
from ofa_bench.suite.config import load_suite
from ofa_bench.train.schedule import default_schedule, load_schedule

# Hypothesis keeps caches in ./.hypothesis unless told otherwise (read when first needed, so setting
# it here is in time); the tests write nothing in the tree.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "ofa-bench-hypothesis"))

MINI = get_space("ofa-mini")
SUITE_FILE = Path(__file__).resolve().parents[1] / "ofa_bench" / "suite" / "default_suite.yaml"

_BASE = {"arch": 150, "suite": 100, "schedule": 150, "lut": 150, "predictor": 100}
_SCALE = 20 if os.environ.get("OFA_BENCH_FUZZ") == "long" else 1


def _examples(reader: str) -> int:
    fixed = os.environ.get("OFA_BENCH_FUZZ_EXAMPLES")
    return int(fixed) if fixed else _BASE[reader] * _SCALE


def _fuzz(reader: str) -> settings:
    # No example database: the tests write nothing outside their temporary directory. The budgeted
    # run is derandomized so CI sees the same examples every time; the long run explores.
    return settings(
        max_examples=_examples(reader),
        deadline=None,
        database=None,
        derandomize=_SCALE == 1 and not os.environ.get("OFA_BENCH_FUZZ_EXAMPLES"),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )


def _valid_or_one_line(read: Any, *args: Any) -> Any:
    """``read(*args)``, or None after checking the OfaBenchError it raised is one short line."""
    try:
        return read(*args)
    except OfaBenchError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 300, message[:600]
        return None


# ----- inputs ------------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
#: JSON/YAML-like values: what a careless or hostile file can hold after parsing.
values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)


@st.composite
def mutated_text(draw: st.DrawFn, seeds: list[str]) -> str:
    """A valid document with a few random edits: deletions, insertions, duplications, swaps."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        j = draw(st.integers(i, min(len(text), i + 40)))
        edit = draw(st.sampled_from(["delete", "insert", "duplicate", "replace"]))
        if edit == "delete":
            text = text[:i] + text[j:]
        elif edit == "insert":
            text = text[:i] + draw(st.text(max_size=10) | st.sampled_from(_YAML_BITS)) + text[i:]
        elif edit == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        else:
            text = text[:i] + draw(st.text(min_size=1, max_size=3)) + text[i + 1 :]
    return text


#: Pieces of YAML syntax worth inserting: anchors, aliases, tags, odd scalars, directives.
_YAML_BITS = [
    "&a ", "*a", "[", "]", "{", "}", ": ", "- ", "\n  ", "!!binary ", "!!python/object:os.system ", ".inf", "-.inf",
    ".nan", "1e999", "-1", "0", "2024-13-45", "? ", "<<: *a", "'", '"', "\t", "%YAML 1.1\n", "---\n",
]  # fmt: skip


@st.composite
def mutated_value(draw: st.DrawFn, seeds: list[Any]) -> Any:
    """A valid document with one random subtree replaced by a random value."""
    document = _copy(draw(st.sampled_from(seeds)))
    node = document
    while isinstance(node, (dict, list)) and node:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()) or not isinstance(node[key], (dict, list)) or not node[key]:
            node[key] = draw(values)
            break
        node = node[key]
    return document


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True)


def _documents(seeds: list[Any]) -> st.SearchStrategy[str]:
    """YAML text: random, a valid document edited as text, or one with a subtree replaced."""
    texts = [_dump(seed) for seed in seeds]
    return st.one_of(st.text(max_size=200), mutated_text(texts), mutated_value(seeds).map(_dump), values.map(_dump))


# ----- arch reader --------------------------------------------------------------------------------

_ARCH_LINES = [arch.to_json() for arch in MINI.sample(3, 0)]
_ARCH_DICTS = [MINI.sample(1, i)[0].to_dict() for i in range(3)]


@_fuzz("arch")
@given(text=st.one_of(st.text(max_size=200), mutated_text(["\n".join(_ARCH_LINES) + "\n"]),
                      mutated_value(_ARCH_DICTS).map(lambda v: _json(v))))  # fmt: skip
def test_arch_readers(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz-archs.jsonl"
    _write(path, text)
    archs = _valid_or_one_line(read_archs, MINI, str(path))
    assert archs is None or all(a.space == MINI for a in archs)
    arch = _valid_or_one_line(read_arch, MINI, text)
    assert arch is None or arch.space == MINI


def _json(value: Any) -> str:
    import json

    try:
        return json.dumps(value)
    except ValueError:  # a circular value cannot occur; nan/inf dump as NaN/Infinity, which JSON refuses
        return "{}"


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:  # lone surrogates: write undecodable bytes instead
        return False


def _write(path: Path, text: str) -> None:
    if _encodable(text):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text.encode("utf-8", "surrogatepass"))


# ----- suite, schedule and lookup-table readers ---------------------------------------------------

_SUITES = [
    yaml.safe_load(SUITE_FILE.read_text(encoding="utf-8")),
    {"name": "t", "benchmark": {"dir": "b"}, "objectives": ["accuracy", "latency:mmacs"],
     "strategies": ["random", {"name": "random", "label": "r2", "params": {}}], "budget": {"evaluations": 10},
     "seeds": [0, 1], "engine": {"kind": "serial", "jobs": 2}, "reference": {"random_sample": 10}},
]  # fmt: skip
_SCHEDULES = [default_schedule(MINI).model_dump(mode="json"), {"phases": [{"name": "a", "epochs": 1, "lr": 0.1}]}]


def _lut_documents(tmp: Path) -> list[Any]:
    ours = tmp / "seed-lut.yaml"
    layers = {
        "Conv-input:24x24x1-output:12x12x8": {"count": 5, "mean": 0.06, "std": 0.01, "median": 0.06},
        "MBConv-input:12x12x8-output:12x12x8-k3-e3": {"count": 5, "mean": 0.1, "std": 0.0, "median": 0.1},
    }
    save_table(ours, {"space": "ofa-mini", "scale": 1.02, "overhead_ms": 0.05, "statistic": "median"}, layers)
    ofa = {"Conv-input:224x224x3-output:112x112x16": {"count": 50, "mean": 0.5, "std": 0.01}}
    return [yaml.safe_load(ours.read_text()), ofa]


@_fuzz("suite")
@given(text=_documents(_SUITES))
def test_suite_reader(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz-suite.yaml"
    _write(path, text)
    suite = _valid_or_one_line(load_suite, str(path))
    if suite is not None:
        assert 1 <= len(suite.seeds) <= 1000 and suite.budget.evaluations >= 1
        assert math.isfinite(suite.benchmark.epochs_scale)


@_fuzz("suite")
@given(data=st.one_of(mutated_value(_SUITES), values))
def test_suite_reader_on_mappings(data: Any) -> None:
    if isinstance(data, dict):
        _valid_or_one_line(load_suite, data)


@_fuzz("schedule")
@given(text=_documents(_SCHEDULES))
def test_schedule_reader(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz-schedule.yaml"
    _write(path, text)
    schedule = _valid_or_one_line(load_schedule, path)
    if schedule is not None:
        for phase in schedule.phases:
            assert math.isfinite(phase.lr) and phase.lr > 0 and phase.epochs >= 1
            for choices in (phase.kernel, phase.expand, phase.depth):
                assert choices is None or len(choices) >= 1
        _valid_or_one_line(schedule.validate_for, MINI)


@pytest.fixture(scope="module")
def lut_seeds(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    return _lut_documents(tmp_path_factory.mktemp("lut-seeds"))


@_fuzz("lut")
@given(data=st.data())
def test_lookup_table_reader(
    tmp_path_factory: pytest.TempPathFactory, lut_seeds: list[Any], data: st.DataObject
) -> None:
    text = data.draw(_documents(lut_seeds))
    path = tmp_path_factory.getbasetemp() / "fuzz-lut.yaml"
    _write(path, text)
    table = _valid_or_one_line(load_table, path)
    if table is not None:
        assert math.isfinite(table.scale) and table.scale > 0 and math.isfinite(table.overhead_ms)
        for part in table.parts:
            assert all(math.isfinite(v) and v >= 0 for v in part.latency_ms.values())


# ----- predictor-file reader ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def predictor_file() -> bytes:
    archs = MINI.sample(40, 0)
    y = np.linspace(0.5, 0.9, len(archs))
    predictor = create("predictor", "gbdt", n_estimators=5, min_samples_leaf=2).fit(archs, y)
    return dumps_predictor(predictor)


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rezip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@_fuzz("predictor")
@given(data=st.data())
def test_predictor_file_reader(predictor_file: bytes, data: st.DataObject) -> None:
    import json

    kind = data.draw(st.sampled_from(["bytes", "meta", "member"]))
    if kind == "bytes":  # damaged bytes: the zip's own checks (CRC, directory) meet them first
        raw = bytearray(predictor_file)
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
        blob = bytes(raw[: data.draw(st.integers(0, len(raw)))]) if data.draw(st.booleans()) else bytes(raw)
    else:  # a well-formed zip whose contents lie: the reader's own checks meet them
        members = _members(predictor_file)
        if kind == "meta":
            meta = json.loads(members["predictor.json"])
            mutated = data.draw(mutated_value([meta]))
            members["predictor.json"] = _json(mutated).encode() if data.draw(st.booleans()) else (
                data.draw(mutated_text([json.dumps(meta)])).encode("utf-8", "surrogatepass"))  # fmt: skip
        else:
            name = data.draw(st.sampled_from(sorted(n for n in members if n != "predictor.json")))
            body = bytearray(members[name])
            for _ in range(data.draw(st.integers(1, 8))):
                body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
            members[name] = bytes(body[: data.draw(st.integers(0, len(body)))])
        blob = _rezip(members)
    predictor = _valid_or_one_line(loads_predictor, blob, "fuzzed predictor file")
    if predictor is not None:
        _valid_or_one_line(predictor.predict, MINI.sample(3, 1))
