"""Hostile and careless input (issue 16): bombs, unbounded counts, internal errors, odd numbers.

Every case must end in one line of at most 300 characters (an :class:`OfaBenchError`, exit 2 on
the command line), never a traceback, a hang or gigabytes of memory. The bombs run in a child
process that reports its own peak resident memory (``ru_maxrss``), so a regression fails the test
instead of taking the machine down; the child is also capped at 4 GiB of address space. (The child reads its peak
from ``/proc/self/status``, ``VmHWM``, where Linux has it: ``ru_maxrss`` of a process started from
pytest includes pytest's own peak, torch and all.)
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from ofa_bench_hardware.lut_format import load_table

from ofa_bench import cli
from ofa_bench.errors import OfaBenchError, PluginError
from ofa_bench.io import jsonl
from ofa_bench.io.jsonl import read_archs
from ofa_bench.io.untrusted import (
    MAX_ALIAS_NODES,
    MAX_SEEDS,
    PREDICTOR_LIMITS,
    ZipLimits,
    check_count,
    check_finite,
    excerpt,
    load_torch,
    open_zip,
    parse_json,
    parse_yaml,
)
from ofa_bench.plugins.interfaces import Strategy
from ofa_bench.plugins.testing.strategies import synthetic_records
from ofa_bench.search.loop import run_search
from ofa_bench.space import get_space
from ofa_bench.suite.config import load_suite
from ofa_bench.train.schedule import load_schedule

REPO = Path(__file__).resolve().parents[1]
MINI = get_space("ofa-mini")
PEAK_MB = 500
MAX_ERROR = 300


def _one_line(message: str) -> str:
    assert "\n" not in message and len(message) < MAX_ERROR, message[:500]
    return message


def _suite(**changes: object) -> dict:
    """A valid suite (live oracle, so nothing is measured while validating)."""
    suite = {
        "name": "t",
        "benchmark": {"dir": "no-such-benchmark"},
        "objectives": ["accuracy", "latency:mmacs"],
        "strategies": ["random"],
        "budget": {"evaluations": 10},
        "seeds": 1,
        "engine": {"kind": "serial"},
    }
    suite.update(changes)
    return suite


def _laughs(levels: int, width: int = 9) -> str:
    """A "billion laughs" chain: ``levels`` anchors, each a list of ``width`` aliases of the one before."""
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _child(code: str, setup: str = "", timeout: float = 120) -> dict:
    """Run ``setup`` then ``code`` in a fresh interpreter.

    Returns:
        ``error`` and ``kind`` (the message and class of what ``code`` raised), ``peak_mb`` (the
        child's peak resident memory) and ``grown_mb`` (how much ``code`` raised that peak above
        what ``setup``, typically imports, had reached).
    """
    script = textwrap.dedent(
        """\
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))
        from ofa_bench.errors import OfaBenchError

        def peak_mb():
            try:  # ru_maxrss keeps the parent's peak across fork and exec on Linux; VmHWM is this image's
                with open("/proc/self/status") as status:
                    return int([line.split()[1] for line in status if line.startswith("VmHWM:")][0]) / 1024
            except (OSError, IndexError, ValueError):
                return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        {setup}
        before = peak_mb()
        result = {"error": None, "kind": None}
        try:
        {body}
        except OfaBenchError as exc:
            result["error"], result["kind"] = str(exc), "OfaBenchError"
        except BaseException as exc:
            result["error"], result["kind"] = repr(exc)[:500], type(exc).__name__
        result["peak_mb"] = peak_mb()
        result["grown_mb"] = result["peak_mb"] - before
        print(json.dumps(result))
        """
    )
    script = script.replace("{setup}", textwrap.dedent(setup).strip("\n"))
    script = script.replace("{body}", textwrap.indent(textwrap.dedent(code).strip("\n"), "    "))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=timeout)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _refused(result: dict, *words: str, imports_torch: bool = False) -> str:
    """The one-line message of a refusal within :data:`PEAK_MB`.

    A reader whose package imports torch (``ofa_bench.train``) starts above the bound from the
    import alone, so there the bound applies to what the read added to the peak.
    """
    assert result["kind"] == "OfaBenchError", result
    assert (result["grown_mb"] if imports_torch else result["peak_mb"]) < PEAK_MB, result
    message = _one_line(result["error"])
    for word in words:
        assert word in message, message
    return message


# ----- 1. YAML alias bombs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("levels", "where"),
    [(9, "name: *l8\n"), (7, "strategies: *l6\n")],
    ids=["9x9-in-name", "7x9-in-strategies"],
)
def test_alias_bomb_in_a_suite_is_refused_in_bounded_memory(tmp_path: Path, levels: int, where: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_laughs(levels) + where)
    result = _child(f"from ofa_bench.suite.config import load_suite\nload_suite({str(path)!r})")
    _refused(result, "bomb.yaml", "alias", f"{MAX_ALIAS_NODES:,}")


def test_alias_bomb_in_a_lookup_table_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    table = tmp_path / "lut.yaml"
    table.write_text(_laughs(9) + "format: ofa-bench-lut\nformat_version: 1\nlayers: {k: {mean: *l8}}\n")
    result = _child(f"load_table({str(table)!r})", setup="from ofa_bench_hardware.lut_format import load_table")
    _refused(result, "lookup table", "lut.yaml", "alias")


def test_alias_bomb_in_a_schedule_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.yaml"
    schedule.write_text(_laughs(9) + "phases: *l8\n")
    result = _child(f"load_schedule({str(schedule)!r})", setup="from ofa_bench.train.schedule import load_schedule")
    _refused(result, "schedule file", "alias", imports_torch=True)


def test_alias_bomb_through_the_command_line_exits_2_without_creating_out(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_laughs(9) + "name: *l8\n")
    assert cli.main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    _one_line(err.strip())
    assert "refused" in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: &a [*a]\n", ["refers to a collection that contains it"]),
        ("x: " + "[" * 200 + "]" * 200 + "\n", ["nests deeper than 100"]),
        ("a: &a " + "[" * 60 + "1" + "]" * 60 + "\nb: " + "[" * 60 + "*a" + "]" * 60 + "\n", ["aliases expanded"]),
        ("".join(f"k{i}: &a{i} 1\n" for i in range(1002)) + "x: [" + ", ".join(f"*a{i}" for i in range(1002)) + "]\n",
         ["more than 1000 aliases"]),
        ("a: [1, 2\n", ["not valid YAML at line"]),
        ("when: 2024-13-45\n", ["a value cannot be read"]),
        ("big: " + "9" * 5000 + "\n", ["a value cannot be read"]),
    ],
    ids=["recursive", "deep", "deep-through-alias", "many-aliases", "syntax", "bad-date", "huge-int"],
)
def test_yaml_reader_refuses_in_one_line(text: str, words: list[str]) -> None:
    with pytest.raises(OfaBenchError) as info:
        parse_yaml(text, "x.yaml")
    message = _one_line(str(info.value))
    assert message.startswith("x.yaml: ")
    for word in words:
        assert word in message


def test_yaml_reader_keeps_ordinary_aliases_and_caps_size() -> None:
    assert parse_yaml("p: &p {a: 1}\nq: *p\n", "x") == {"p": {"a": 1}, "q": {"a": 1}}
    with pytest.raises(OfaBenchError, match="larger than the limit of 10 bytes"):
        parse_yaml("a: 1234567890\n", "x", max_bytes=10)


# ----- 2. unbounded counts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "limit"),
    [
        ({"seeds": 1_000_000_000}, "seeds", f"{MAX_SEEDS}"),
        ({"seeds": list(range(MAX_SEEDS + 1))}, "seeds", f"{MAX_SEEDS}"),
        ({"seeds": [2**40]}, "seeds", "4294967295"),
        ({"budget": {"evaluations": 10**12}}, "budget.evaluations", "1000000"),
        ({"batch_size": 10**9}, "batch_size", "65536"),
        ({"engine": {"kind": "serial", "jobs": 10**6}}, "engine.jobs", "1024"),
        ({"reference": {"random_sample": 10**9}}, "reference.random_sample", "1000000"),
        ({"oracle": {"mode": "surrogate", "archive_size": 10**9}}, "oracle.archive_size", "100000"),
        ({"benchmark": {"dir": "b", "seed": -3}}, "benchmark.seed", "0"),
        ({"strategies": [{"name": "random", "label": f"r{i}"} for i in range(11)], "seeds": 1000}, "runs", "10000"),
    ],
    ids=["seed-count", "seed-list", "seed-value", "budget", "batch", "jobs", "reference", "archive", "bench-seed",
         "runs"],  # fmt: skip
)
def test_suite_counts_are_bounded_with_the_field_and_limit_named(changes: dict, field: str, limit: str) -> None:
    with pytest.raises(OfaBenchError) as info:
        load_suite(_suite(**changes))
    message = _one_line(str(info.value))
    assert field in message and limit in message


def test_a_negative_seed_fails_before_anything_is_written(tmp_path: Path, capsys) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(_suite(seeds=[-1])))
    assert cli.main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "seeds" in _one_line(err)
    assert not (tmp_path / "out").exists()


def test_a_missing_benchmark_leaves_no_empty_out(tmp_path: Path, capsys) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(_suite(benchmark={"dir": str(tmp_path / "absent")})))
    assert cli.main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "benchmark.dir" in _one_line(capsys.readouterr().err.strip())
    assert not (tmp_path / "out").exists()


def test_a_preset_mismatch_leaves_no_empty_out(tmp_path: Path, capsys) -> None:
    from harness_support import make_benchmark

    bench = make_benchmark(tmp_path / "bench")
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(_suite(benchmark={"dir": str(bench), "preset": "ofa-mbv3-w1.0"})))
    assert cli.main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "benchmark.preset" in _one_line(capsys.readouterr().err.strip())
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["sample", "--space", "ofa-mini", "-n", "2", "--seed", "-5"],
        ["sample", "--space", "ofa-mini", "-n", "10000000000"],
        ["sample", "--space", "ofa-mini", "-n", "9" * 5000],
        ["search", "--bench", "b", "--budget", "10000000000", "--strategy", "random"],
        ["train", "--out", "x", "--epochs-scale", "inf"],
        ["run", "suite.yaml", "--jobs", "100000"],
    ],
    ids=["negative-seed", "huge-n", "giant-n", "budget", "epochs-scale", "jobs"],
)
def test_command_line_counts_are_bounded(argv: list[str], capsys, tmp_path: Path) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "must be" in _one_line(err) and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_limit_helpers_name_the_field() -> None:
    assert check_count(5, "n", 0, 10) == 5
    with pytest.raises(OfaBenchError, match=r"^n: must be an integer from 0 to 10; got True$"):
        check_count(True, "n", 0, 10)
    assert check_finite(2, "lr", positive=True) == 2.0
    for bad in (float("inf"), float("nan"), 0, "1", None):
        with pytest.raises(OfaBenchError, match="^lr: must be a finite number > 0"):
            check_finite(bad, "lr", positive=True)
    assert excerpt("x" * 1000).endswith("...") and len(excerpt("x" * 1000)) == 40
    assert excerpt(list(range(1000))) == "a list of 1000 items"
    nested: list = []
    for _ in range(10_000):
        nested = [nested]
    assert excerpt(nested) in ("a list", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[...")


# ----- 3. zip bombs --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 1 MB on disk; its one member inflates to 1 GiB of zeros."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.predictor"
    chunk = bytes(2**20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("predictor.json", "w", force_zip64=True) as member:
            for _ in range(1024):
                member.write(chunk)
    assert path.stat().st_size < 8 * 2**20
    return path


def test_zip_bomb_predictor_file_is_refused_before_inflating(zip_bomb: Path) -> None:
    result = _child(f"from ofa_bench.io.predictor_files import load_predictor\nload_predictor({str(zip_bomb)!r})")
    _refused(result, "predictor.json", "1,073,741,824", f"{PREDICTOR_LIMITS.member_bytes:,}")


def test_zip_bomb_checkpoint_is_refused_before_torch_reads_it(zip_bomb: Path) -> None:
    # The same 1 GiB member, under a checkpoint limit lowered to 512 MiB (the real one is 2 GiB).
    setup = """
        from ofa_bench.io.untrusted import zipped
        zipped.CHECKPOINT_LIMITS = zipped.ZipLimits(members=10, member_bytes=2**29, total_bytes=2**30)
        """
    code = f"""
        try:
            zipped.load_torch({str(zip_bomb)!r}, 'checkpoint')
        finally:
            assert "torch" not in sys.modules, "torch was imported before the refusal"
        """
    result = _child(code, setup)
    _refused(result, "checkpoint: refused", "536,870,912")


def test_zip_member_count_method_and_lies_are_refused(tmp_path: Path) -> None:
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(20):
            archive.writestr(f"m{i}", b"")
    with pytest.raises(OfaBenchError, match="holds 20 members; the limit is 10"):
        open_zip(many.getvalue(), "z", ZipLimits(members=10, member_bytes=100, total_bytes=100))
    with pytest.raises(OfaBenchError, match="inflate to 200 bytes; the limit is 150"):
        two = _zip({"a": bytes(100), "b": bytes(100)})
        open_zip(two, "z", ZipLimits(members=10, member_bytes=100, total_bytes=150))
    bz = io.BytesIO()
    with zipfile.ZipFile(bz, "w", compression=zipfile.ZIP_BZIP2) as archive:
        archive.writestr("a", b"x")
    with pytest.raises(OfaBenchError, match="compression method 12; allowed: stored, deflate"):
        open_zip(bz.getvalue(), "z", PREDICTOR_LIMITS)
    with pytest.raises(OfaBenchError, match="truncated, corrupted or not a zip archive"):
        open_zip(b"PK\x03\x04 not really", "z", PREDICTOR_LIMITS)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# ----- 4. internal errors become one-line errors -------------------------------------------------


def test_deeply_nested_arch_line_is_one_line_not_recursion_error(tmp_path: Path, capsys) -> None:
    path = tmp_path / "archs.jsonl"
    path.write_text("[" * 100_000 + "\n")
    with pytest.raises(OfaBenchError, match="archs line 1: refused: the JSON nests deeper than 100 levels"):
        read_archs(MINI, str(path))
    assert cli.main(["costs", "--space", "ofa-mini", "--archs", str(path)]) == 2
    _one_line(capsys.readouterr().err.strip())
    with pytest.raises(OfaBenchError, match="nests deeper"):
        MINI.from_json("[" * 50_000)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("phases: [{name: a, epochs: 1, lr: 0.1, kernel: []}]\n", ["phases.0.kernel", "at least 1"]),
        ("phases: [{name: a, epochs: 1, lr: .inf}]\n", ["phases.0.lr", "finite"]),
        ("phases: [{name: a, epochs: 1, lr: .nan}]\n", ["phases.0.lr", "finite"]),
        ("phases: [{name: a, epochs: 10000000, lr: 0.1}]\n", ["phases.0.epochs", "100000"]),
        ("batch_size: 100000000\nphases: [{name: a, epochs: 1, lr: 0.1}]\n", ["batch_size", "65536"]),
        ("phases: [{name: '" + "x" * 5000 + "', epochs: 0, lr: 0.1}]\n", ["phases.0.epochs"]),
    ],
    ids=["empty-kernel", "inf-lr", "nan-lr", "epochs", "batch", "long-input"],
)
def test_schedule_mistakes_are_one_line(tmp_path: Path, text: str, words: list[str]) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text(text)
    with pytest.raises(OfaBenchError) as info:
        load_schedule(path)
    message = _one_line(str(info.value))
    for word in words:
        assert word in message


def test_binary_schedule_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(OfaBenchError, match="is not UTF-8 text"):
        load_schedule(path)


class _DictStrategy(Strategy):
    """A plug-in that proposes OFA dicts instead of :class:`Arch` objects."""

    name = "dict-proposer"

    def ask(self, n: int) -> list:
        return [{"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 12}] * n


def test_a_strategy_whose_ask_returns_dicts_is_named() -> None:
    with pytest.raises(PluginError) as info:
        run_search(_DictStrategy(), MINI, "accuracy,latency:mmacs", [], lambda a: synthetic_records(MINI, a), 4, 0)
    message = _one_line(str(info.value))
    assert "strategy 'dict-proposer'" in message and "arch 0 is a dict" in message and "ask(" in message


# ----- 5. numbers that make no sense ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ({"overhead_ms": -1e9}, ["overhead_ms", ">= -1000"]),
        ({"scale": -1}, ["scale", "> 0"]),
        ({"scale": 1e308}, ["scale", "<= 1000"]),
        ({"scale": float("inf")}, ["scale", "finite"]),
        ({"overhead_ms": float("nan")}, ["overhead_ms", "finite"]),
    ],
    ids=["negative-overhead", "negative-scale", "huge-scale", "inf-scale", "nan-overhead"],
)
def test_lookup_table_calibration_must_be_finite_and_sane(tmp_path: Path, header: dict, words: list[str]) -> None:
    path = tmp_path / "lut.yaml"
    document = {"format": "ofa-bench-lut", "format_version": 1, "space": "ofa-mini", **header,
                "layers": {"k": {"count": 1, "mean": 0.1, "median": 0.1}}}  # fmt: skip
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(OfaBenchError) as info:
        load_table(path)
    message = _one_line(str(info.value))
    for word in words:
        assert word in message


def test_lookup_table_entry_message_names_mean_once(tmp_path: Path) -> None:
    path = tmp_path / "ofa.yaml"
    path.write_text("Conv-input:8x8x1: {count: 1, mean: -1}\n")
    with pytest.raises(OfaBenchError) as info:
        load_table(path)
    assert "needs a numeric 'mean' from 0" in str(info.value)
    assert "'mean' or 'mean'" not in str(info.value)


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e9])
def test_suite_epochs_scale_must_be_finite(value: float) -> None:
    with pytest.raises(OfaBenchError, match="benchmark.epochs_scale"):
        load_suite(_suite(benchmark={"dir": "b", "epochs_scale": value}))


def test_validation_errors_quote_only_a_prefix_of_the_input() -> None:
    for changes in ({"name": ["x" * 100_000]}, {"seeds": "y" * 100_000}, {"hv": {"bounds": {"accuracy": [2.0] * 999}}}):
        with pytest.raises(OfaBenchError) as info:
            load_suite(_suite(**changes))
        _one_line(str(info.value))


# ----- 6. cosmetic ---------------------------------------------------------------------------------


class _RunsCommand:
    def __reduce__(self):
        return (os.system, ("echo should-not-run",))


def test_raw_pickle_checkpoint_is_one_complete_sentence_without_warnings(tmp_path: Path) -> None:
    path = tmp_path / "raw.pt"
    path.write_bytes(pickle.dumps({"state": _RunsCommand()}, protocol=4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(OfaBenchError) as info:
            load_torch(path, "checkpoint 'raw.pt'")
    message = _one_line(str(info.value))
    assert "asks to unpickle something other than tensors" in message and message.endswith(")")


def test_a_full_disk_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    class FullFile(io.StringIO):
        write = full

    monkeypatch.setattr(Path, "write_text", full)
    monkeypatch.setattr(jsonl, "open", lambda *args, **kwargs: FullFile(), raising=False)  # streamed writes
    out = tmp_path / "archs.jsonl"
    assert cli.main(["sample", "--space", "ofa-mini", "-n", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "No space left on device" in err and str(out) in err, err
    assert list(tmp_path.iterdir()) == []


def test_json_reader_bounds() -> None:
    assert parse_json('{"a": [1, 2]}', "j") == {"a": [1, 2]}
    with pytest.raises(OfaBenchError, match="^j: malformed JSON at line 1 column 2"):
        parse_json("[,", "j")
    with pytest.raises(OfaBenchError, match="nests deeper than 100"):
        parse_json("[" * 150 + "]" * 150, "j")
    with pytest.raises(OfaBenchError, match="^j: malformed JSON"):
        parse_json("9" * 5000, "j")
    assert np.isinf(parse_json("1e999", "j"))  # Python's own reading; consumers check finiteness


def test_a_skops_member_is_a_zip_checked_like_the_file(tmp_path: Path) -> None:
    from ofa_bench.io.predictor_files import dumps_predictor, loads_predictor
    from ofa_bench.plugins.registry import create

    predictor = create("predictor", "gbdt", n_estimators=3, min_samples_leaf=2)
    data = dumps_predictor(predictor.fit(MINI.sample(20, 0), np.linspace(0.5, 0.9, 20)))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    inner = {f"m{i}": b"" for i in range(PREDICTOR_LIMITS.members + 1)}
    members["state/model.skops"] = _zip(inner)
    with pytest.raises(OfaBenchError) as info:
        loads_predictor(_zip(members), "p")
    n = PREDICTOR_LIMITS.members
    assert f"p: state 'model': refused: it holds {n + 1:,} members; the limit is {n:,}" == _one_line(str(info.value))


def test_a_suite_name_with_a_path_cannot_choose_where_run_writes(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(_suite(name="../../escaped")))
    assert cli.main(["run", str(path)]) == 2
    message = _one_line(capsys.readouterr().err.strip())
    assert "name: '../../escaped' is not a plain file name; pass --out DIR" in message
    assert list(tmp_path.iterdir()) == [path]
