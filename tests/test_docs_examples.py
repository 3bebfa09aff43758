"""Every code example in README.md and docs/ is run by this test.

- ``python`` blocks: the blocks of one document run in order, as one module, in a fresh folder,
  under pytest (so a conformance-kit class a document shows is collected and its checks run):
  a document's examples are one program a reader could paste. A block marked ``text`` or ``pyi``
  (a signature listing) is not code.
- ``bash`` / ``sh`` blocks: every ``ofa-bench`` command line is parsed by the command's own parser
  (options, choices and argument types: presets, seeds, counts, plug-in specs), and the quick ones
  listed in :data:`RUN` are run for real, in order, in a fresh folder. The others take minutes
  (training a supernet, profiling a latency table, a whole suite) and run in their own tests.

Where an example needs something a reader would have made first (a trained digits benchmark, a
lookup table), the document says so in an HTML comment before the block,
``<!-- example-setup: NAME -->``, and :data:`SETUPS` makes it here the quick way.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ofa_bench.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!-- example-setup: (?P<setup>[\w-]+) -->\s*\n)?```(?P<lang>\w+)\n(?P<code>.*?)```", re.S)


def _blocks(path: Path, langs: tuple[str, ...]) -> list[tuple[str | None, str, int]]:
    text = path.read_text(encoding="utf-8")
    return [
        (m.group("setup"), m.group("code"), text.count("\n", 0, m.start()) + 1)
        for m in BLOCK.finditer(text)
        if m.group("lang") in langs
    ]


def _python_docs() -> list[Path]:
    return [p for p in DOCS if _blocks(p, ("python",))]


#: What a document's examples assume a reader made first, made here the quick way (seconds).
SETUPS = {
    # An untrained digits benchmark where the docs train one (training is tested on its own).
    "digits-benchmark": textwrap.dedent('''
        import torch
        from ofa_bench.benchmark import Benchmark
        from ofa_bench.data import DataSpec
        from ofa_bench.nn import ElasticMobileNetV3
        torch.manual_seed(0)
        Benchmark.create("out/digits", ElasticMobileNetV3("ofa-mini"), DataSpec(calib_size=64), {"note": "untrained"}, 32)
    '''),
    # OFA's published per-resolution tables (one YAML file per resolution), with made-up latencies.
    "ofa-note10-tables": textwrap.dedent('''
        import os, yaml, numpy as _np
        from ofa_bench.space import get_space as _get_space
        from ofa_bench_hardware.layer_grid import layer_grid
        _space, _rng = _get_space("ofa-mbv3-w1.0"), _np.random.default_rng(0)
        _grid = layer_grid(_space)
        os.makedirs("note10", exist_ok=True)
        for _i, _r in enumerate(_space.resolutions):
            if _r not in (160, 176, 192, 208, 224):
                continue
            _keys = {x.key() for x in _grid.fixed[_i]} | {x.key() for x in _grid.blocks[:, :, :, _i].reshape(-1)}
            _table = {k: {"count": 10, "mean": float(_rng.uniform(0.1, 5)), "std": 0.1} for k in sorted(_keys)}
            with open(f"note10/{_r}_lookup_table.yaml", "w") as _f:
                yaml.safe_dump(_table, _f)
    '''),
    # Measured archs and their accuracies, as `ofa-bench archive` gives them.
    "measured-archs": textwrap.dedent('''
        import pandas as pd
        from ofa_bench.space import get_space
        from ofa_bench.benchmark.zoo import resolve_archive
        _archive = pd.read_csv(resolve_archive("shipped:fmnist") / "archive.csv")
        archs = [get_space("ofa-fmnist").from_json(a) for a in _archive["arch"][:300]]
        accuracies = _archive["accuracy"][:300].to_numpy()
    '''),
}


@pytest.mark.parametrize("doc", _python_docs(), ids=lambda p: p.name)
def test_python_examples_run(doc: Path, tmp_path: Path) -> None:
    parts = []
    for setup, code, line in _blocks(doc, ("python",)):
        if setup:
            parts.append(f"# setup: {setup}\n{SETUPS[setup]}")
        parts.append(f"# {doc.name}, line {line}\n{code}")
    module = tmp_path / f"test_doc_{doc.stem}.py"
    module.write_text("\n".join(parts), encoding="utf-8")
    # One torch thread: the examples' small convolutions run fastest, and steadiest on a busy machine, so.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pytest", str(module), "-q", "-p", "no:cacheprovider", "-x", "-m", "not slow"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False)
    # 5: nothing to collect, the examples ran at import without a test class
    assert done.returncode in (0, 5), done.stdout[-4000:] + done.stderr[-2000:]
    kits = re.findall(r"^class (Test\w+)\((\w+Tests)\)", module.read_text(), flags=re.M)
    if kits:  # a document that shows a conformance kit: its checks ran and passed
        assert done.returncode == 0 and re.search(r"\d+ passed", done.stdout), done.stdout[-2000:]


def _redirects_removed(argv: list[str]) -> list[str]:
    out, skip = [], False
    for word in argv:
        if skip:
            skip = False
            continue
        if word in (">", "<", "2>"):
            skip = True
            continue
        out.append(word)
    return out


def _commands(code: str) -> list[list[str]]:
    """The ``ofa-bench`` invocations of a shell block, as argument lists (continuations joined, redirections dropped)."""
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0].strip()
        for part in re.split(r"\s*(?:\||&&|;)\s*", line):
            words = shlex.split(part) if part else []
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value prefixes
                words = words[1:]
            if words[:1] == ["ofa-bench"]:
                out.append(_redirects_removed(words[1:]))
    return out


def _shell_examples() -> list[tuple[str, list[str]]]:
    found = []
    for doc in DOCS:
        for _, code, line in _blocks(doc, ("bash", "sh")):
            for argv in _commands(code):
                found.append((f"{doc.name}:{line}", argv))
    return found


@pytest.mark.parametrize(("where", "argv"), _shell_examples(), ids=lambda x: x if isinstance(x, str) else None)
def test_shell_examples_parse(where: str, argv: list[str]) -> None:
    """Every ofa-bench command line in the docs is one the command accepts, as written."""
    parser = build_parser()
    try:
        parser.parse_args(argv)
    except SystemExit as exc:  # the parser printed one line naming the problem
        pytest.fail(f"{where}: ofa-bench {' '.join(argv)} is refused by the parser (exit {exc.code})")


#: Shell examples quick enough to run as written (seconds each), by document and the command's words.
RUN = {
    "README.md": [
        "sample --space ofa-mbv3-w1.0 -n 5 --seed 0",
        "costs --space ofa-mbv3-w1.0 --archs archs.jsonl",
        "export --space ofa-mini --arch largest --out subnet.onnx --check",
        "plugins",
        "spaces",
        "bench list",
        "bench info fmnist --json",
    ],
}


def test_quick_shell_examples_run(tmp_path: Path) -> None:
    """The quick commands of the README run as written, in order (each may use the last one's files)."""
    examples = {" ".join(argv): argv for where, argv in _shell_examples() if where.startswith("README.md")}
    (tmp_path / "archs.jsonl").write_text("")
    for text in RUN["README.md"]:
        assert text in {e[: len(text)] for e in examples}, f"not in README any more: ofa-bench {text}"
        argv = shlex.split(text)
        stdout = subprocess.run(
            [sys.executable, "-m", "ofa_bench", *argv], cwd=tmp_path, capture_output=True, text=True, timeout=300,
            check=False, env={**os.environ, "OMP_NUM_THREADS": "1"},
        )  # fmt: skip
        assert stdout.returncode == 0, f"ofa-bench {text}: {stdout.stderr[-1000:]}"
        if argv[0] == "sample":
            (tmp_path / "archs.jsonl").write_text(stdout.stdout)
