"""The import graph of ofa_bench and the built-in plug-ins, read from the source with ``ast``.

Every ``import`` counts: module level, inside functions and under ``TYPE_CHECKING``, since each
of them is a dependency a reader has to follow. The graph must have no circles, plug-ins must not
reach into the harness, and no plug-in package may use another one's private modules or names
(docs/architecture.md).
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

#: The package every plug-in must stay out of: it runs suites, plug-ins are run by it.
HARNESS = "ofa_bench.harness"
#: Top-level import names of the built-in plug-in packages.
PLUGIN_PACKAGES = ("ofa_bench_strategies", "ofa_bench_predictors", "ofa_bench_hardware")
#: The deprecated import names of the plug-in packages (thin packages that alias the new ones).
OLD_NAMES = ("strategies", "predictors", "hardware")
ROOTS = ("ofa_bench", *PLUGIN_PACKAGES, *OLD_NAMES)

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
        # A root may hold another one's folder (strategies/ofa_bench_strategies): that is the other's.
        nested = [other for other in root_dirs.values() if other != folder and other.is_relative_to(folder)]
        for path in sorted(folder.rglob("*.py")):
            if any(path.is_relative_to(other) for other in nested):
                continue
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


def plugin_imports_of_harness(graph: Graph, plugins: Iterable[str]) -> list[str]:
    """``module -> target`` for every import of the harness by a plug-in package."""
    plugins = set(plugins)
    return [
        f"{module} -> {target}"
        for module, targets in sorted(graph.items())
        if _top(module) in plugins
        for target in sorted(targets)
        if target == HARNESS or target.startswith(HARNESS + ".")
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
    assert "ofa_bench._space.arch" in graph and "ofa_bench.space" in graph["ofa_bench.objectives"]
    assert "ofa_bench_strategies.nsga2" in graph and not [m for m in graph if ".ofa_bench_" in m]


def test_no_import_circles(graph: Graph) -> None:
    # A function-level import that closes a circle counts too: move what both sides need into a
    # module below them both, or pass it in, rather than hide the circle inside a function.
    assert circles(graph) == [], "modules that import each other, directly or through others"


def test_space_and_its_implementation_modules_import_one_way(graph: Graph) -> None:
    assert "ofa_bench._space.arch" in graph["ofa_bench.space"]
    assert not [m for m in graph if m.startswith("ofa_bench._space") and "ofa_bench.space" in graph[m]]


def test_plugins_never_import_the_harness(graph: Graph) -> None:
    assert plugin_imports_of_harness(graph, PLUGIN_PACKAGES) == []


def test_plugins_never_import_each_others_private_names(graph: Graph) -> None:
    assert private_cross_plugin_imports(graph, PLUGIN_PACKAGES) == []


def test_nothing_imports_the_deprecated_plugin_names(graph: Graph) -> None:
    users = [m for m, ts in graph.items() if _top(m) not in OLD_NAMES and any(_top(t) in OLD_NAMES for t in ts)]
    assert users == []


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


def test_harness_and_private_imports_by_plugins_are_found(tmp_path: Path) -> None:
    dirs = {
        "ofa_bench": _package(tmp_path, "ofa_bench", {"harness.py": "", "space.py": ""}),
        "plug_a": _package(tmp_path, "plug_a", {"_impl.py": "_SECRET = 1\n", "public.py": "_helper = 2\n"}),
        "plug_b": _package(
            tmp_path,
            "plug_b",
            {
                "uses.py": "from plug_a._impl import _SECRET\nfrom plug_a.public import _helper\n"
                "from plug_a import public\nfrom ofa_bench.space import x\n",
                "runs.py": "def go():\n    import ofa_bench.harness\n",
            },
        ),
    }
    graph = build_graph(dirs)
    assert plugin_imports_of_harness(graph, ["plug_a", "plug_b"]) == ["plug_b.runs -> ofa_bench.harness"]
    assert private_cross_plugin_imports(graph, ["plug_a", "plug_b"]) == [
        "plug_b.uses -> plug_a._impl (_impl, _SECRET)",
        "plug_b.uses -> plug_a.public (_helper)",
    ]
