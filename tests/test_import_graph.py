"""The import graph of ofa_bench and the built-in plug-ins, read from the source with ``ast``.

Every ``import`` counts: module level, inside functions and under ``TYPE_CHECKING``, since each
of them is a dependency a reader has to follow. The graph must have no circles; imports run one way
through the layers drawn in docs/architecture.md (a module imports only its own layer and those
below); plug-ins stay out of everything above the public core; no plug-in package uses another
one's private modules or names; and no module is longer than 450 lines.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

#: Top-level import names of the built-in plug-in packages.
PLUGIN_PACKAGES = ("ofa_bench_strategies", "ofa_bench_predictors", "ofa_bench_hardware")
#: The device agent: it runs on a device without ofa-bench's core, so it imports none of the other roots
#: (its own row, below everything: the hardware plug-in imports its timing core and protocol).
AGENT_PACKAGE = "ofa_bench_agent"
#: All the agent may import outside itself: the standard library, numpy and onnxruntime.
AGENT_MAY_IMPORT = frozenset({"numpy", "onnxruntime"})
ROOTS = ("ofa_bench", *PLUGIN_PACKAGES, AGENT_PACKAGE)
#: The layers of docs/architecture.md, bottom first: a module (or package) and the layer it is in.
#: A module belongs to its longest listed prefix. ``ofa_bench`` itself, the public facade, is above all.
LAYERS: tuple[tuple[str, ...], ...] = (
    (AGENT_PACKAGE, "ofa_bench.errors", "ofa_bench.version", "ofa_bench.io.atomic", "ofa_bench.io.untrusted", "ofa_bench.io.cache",
     "ofa_bench.io.json_diff"),
    ("ofa_bench.space",),
    ("ofa_bench.costs", "ofa_bench.nn", "ofa_bench.data", "ofa_bench.io.export"),
    ("ofa_bench.plugins", "ofa_bench.objectives", "ofa_bench.io.predictor_files"),
    ("ofa_bench.io.jsonl", "ofa_bench.metrics"),
    ("ofa_bench.search", "ofa_bench.plugins.testing", *PLUGIN_PACKAGES),
    ("ofa_bench.benchmark", "ofa_bench.train"),
    ("ofa_bench.evaluate",),
    ("ofa_bench.suite", "ofa_bench.predictor_eval"),
    ("ofa_bench.report",),
    ("ofa_bench.demo",),
    ("ofa_bench.cli",),
    ("ofa_bench",),
)
#: What a plug-in package may import of the core: the public layers a third party builds on.
PLUGIN_MAY_IMPORT = 4
MAX_LINES = 450

Graph = dict[str, dict[str, set[str]]]  # module -> imported module -> names taken from it


def _root_dirs(roots: Iterable[str]) -> dict[str, Path]:
    dirs = {}
    for root in roots:
        spec = importlib.util.find_spec(root)
        assert spec is not None and spec.submodule_search_locations, f"{root} is not an importable package"
        dirs[root] = Path(next(iter(spec.submodule_search_locations)))
    return dirs


def _module_files(root_dirs: Mapping[str, Path]) -> dict[str, Path]:
    """Dotted module name of every ``.py`` file below each root's folder."""
    modules = {}
    for root, folder in root_dirs.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((root, *parts))] = path
    return modules


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _known(name: str, modules: Mapping[str, Path]) -> str | None:
    """The longest prefix of a dotted name that is one of ``modules``; ``None`` for outside ones."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def build_graph(root_dirs: Mapping[str, Path]) -> Graph:
    """Every import of every module below ``root_dirs`` that lands on another of those modules."""
    modules = _module_files(root_dirs)
    graph: Graph = {name: {} for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node)
                targets = [(f"{base}.{alias.name}", alias.name) for alias in node.names]
            else:
                continue
            for target, imported in targets:
                known = _known(target, modules)
                if known is None or known == name:
                    continue
                names = graph[name].setdefault(known, set())
                if imported is not None and known != target:  # a name from the module, not a submodule
                    names.add(imported)
    return graph


def circles(graph: Graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, {}):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _top(module: str) -> str:
    return module.partition(".")[0]


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` of the longest prefix of ``module`` listed there."""
    best, found = -1, None
    for index, members in enumerate(LAYERS):
        for prefix in members:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    if found is None:
        raise AssertionError(f"{module} is in no layer of LAYERS: add it where docs/architecture.md draws it")
    return found


def upward_imports(graph: Graph) -> list[str]:
    """``module (layer) -> target (layer)`` for every import of a higher layer."""
    return [
        f"{module} ({layer_of(module)}) -> {target} ({layer_of(target)})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]


def plugin_imports_beyond_the_public_core(graph: Graph, plugins: Iterable[str]) -> list[str]:
    """``module -> target`` for every import by a plug-in package of a core layer above the public ones."""
    plugins = set(plugins)
    return [
        f"{module} -> {target}"
        for module, targets in sorted(graph.items())
        if _top(module) in plugins
        for target in sorted(targets)
        if _top(target) == "ofa_bench" and layer_of(target) > PLUGIN_MAY_IMPORT
    ]


def private_cross_plugin_imports(graph: Graph, plugins: Iterable[str]) -> list[str]:
    """``module -> target`` where a plug-in package uses another one's private module or name."""
    plugins = set(plugins)
    found = []
    for module, targets in sorted(graph.items()):
        for target, names in sorted(targets.items()):
            if _top(module) not in plugins or _top(target) not in plugins or _top(target) == _top(module):
                continue
            private = [part for part in target.split(".")[1:] if part.startswith("_") and part != "__init__"]
            private += sorted(n for n in names if n.startswith("_"))
            if private:
                found.append(f"{module} -> {target} ({', '.join(private)})")
    return found


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph(_root_dirs(ROOTS))


def test_graph_covers_the_core_and_every_plugin_package(graph: Graph) -> None:
    tops = {_top(m) for m in graph}
    assert tops == set(ROOTS)
    assert "ofa_bench.space.arch" in graph and "ofa_bench.space" in graph["ofa_bench.objectives"]
    assert "ofa_bench_strategies.nsga2" in graph and not [m for m in graph if ".ofa_bench_" in m]


def test_no_import_circles(graph: Graph) -> None:
    # A function-level import that closes a circle counts too: move what both sides need into a
    # module below them both, or pass it in, rather than hide the circle inside a function.
    assert circles(graph) == [], "modules that import each other, directly or through others"


def test_imports_run_one_way_through_the_layers(graph: Graph) -> None:
    assert upward_imports(graph) == []


def test_nothing_imports_the_public_facade(graph: Graph) -> None:
    """``ofa_bench/__init__`` re-exports for users; a module of ours importing it would depend on everything."""
    assert [m for m, targets in graph.items() if "ofa_bench" in targets and m != "ofa_bench"] == []


def test_the_cli_imports_its_commands_and_no_command_imports_the_cli(graph: Graph) -> None:
    commands = [m for m in graph if m.startswith("ofa_bench.cli.commands.")]
    assert commands and set(commands) <= set(graph["ofa_bench.cli"]) | {"ofa_bench.cli.commands"}
    assert [m for m in commands if "ofa_bench.cli" in graph[m]] == []


def test_space_and_its_implementation_modules_import_one_way(graph: Graph) -> None:
    assert "ofa_bench.space.search_space" in graph["ofa_bench.space"]
    assert not [m for m in graph if m.startswith("ofa_bench.space.") and "ofa_bench.space" in graph[m]]


def test_the_device_agent_imports_nothing_of_ofa_bench(graph: Graph) -> None:
    """On a device the agent has Python, numpy and onnxruntime only: no other root, no torch, no YAML."""
    assert [f"{m} -> {t}" for m, targets in sorted(graph.items()) if _top(m) == AGENT_PACKAGE
            for t in sorted(targets) if _top(t) != AGENT_PACKAGE] == []  # fmt: skip
    outside = {}
    for name, path in _module_files(_root_dirs([AGENT_PACKAGE])).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            tops = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                tops = [node.module or ""]
            for top in {t.partition(".")[0] for t in tops}:
                if top not in sys.stdlib_module_names and top not in AGENT_MAY_IMPORT | {AGENT_PACKAGE}:
                    outside.setdefault(name, []).append(top)
    assert outside == {}


def test_plugins_use_only_the_public_core(graph: Graph) -> None:
    assert plugin_imports_beyond_the_public_core(graph, PLUGIN_PACKAGES) == []


def test_plugins_never_import_each_others_private_names(graph: Graph) -> None:
    assert private_cross_plugin_imports(graph, PLUGIN_PACKAGES) == []


def test_no_module_is_longer_than_450_lines() -> None:
    files = _module_files(_root_dirs(ROOTS))
    long = {name: n for name, path in files.items() if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_plugin_folders_are_the_packages() -> None:
    """strategies/, predictors/ and hardware/ hold their modules directly: no second folder inside."""
    dirs = _root_dirs(PLUGIN_PACKAGES)
    assert {d.name for d in dirs.values()} == {"strategies", "predictors", "hardware"}
    assert [sub for d in dirs.values() for sub in d.iterdir() if sub.is_dir() and sub.name != "__pycache__"] == []


# ----- the checks themselves fail on what they forbid ---------------------------------------------


def _package(tmp_path: Path, name: str, files: Mapping[str, str]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for file, text in files.items():
        (folder / file).write_text(text)
    return folder


def test_a_circle_is_found_whichever_kind_of_import_closes_it(tmp_path: Path) -> None:
    core = _package(
        tmp_path,
        "core",
        {
            "a.py": "from core.b import B\n",
            "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from core.c import C\nB = 1\n",
            "c.py": "def late():\n    from . import a\n",
            "d.py": "import core.a\n",
        },
    )
    assert circles(build_graph({"core": core})) == [["core.a", "core.b", "core.c"]]


def test_upward_plugin_and_private_imports_are_found(tmp_path: Path) -> None:
    dirs = {
        "ofa_bench": _package(tmp_path, "ofa_bench", {"suite.py": "", "space.py": "", "errors.py": "import ofa_bench.suite\n"}),
        "plug_a": _package(tmp_path, "plug_a", {"_impl.py": "_SECRET = 1\n", "public.py": "_helper = 2\n"}),
        "plug_b": _package(
            tmp_path,
            "plug_b",
            {
                "uses.py": "from plug_a._impl import _SECRET\nfrom plug_a.public import _helper\n"
                "from plug_a import public\nfrom ofa_bench.space import x\n",
                "runs.py": "def go():\n    import ofa_bench.suite\n",
            },
        ),
    }
    graph = build_graph(dirs)
    assert upward_imports({"ofa_bench.errors": graph["ofa_bench.errors"]}) == [
        "ofa_bench.errors (0) -> ofa_bench.suite (8)"
    ]
    assert plugin_imports_beyond_the_public_core(graph, ["plug_a", "plug_b"]) == ["plug_b.runs -> ofa_bench.suite"]
    assert private_cross_plugin_imports(graph, ["plug_a", "plug_b"]) == [
        "plug_b.uses -> plug_a._impl (_impl, _SECRET)",
        "plug_b.uses -> plug_a.public (_helper)",
    ]


def test_command_handlers_are_plain_functions() -> None:
    """A handler returns the exit status: a decorator (a stray @contextmanager once) would hand main an object."""
    decorated = []
    commands = _root_dirs(["ofa_bench"])["ofa_bench"] / "cli" / "commands"
    for path in sorted(commands.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("_cmd_") and node.decorator_list:
                decorated.append(f"{path.name}:{node.name}")
    assert decorated == []
