"""Reading YAML and JSON that ofa-bench did not write: bounded in size, nesting and alias expansion.

Every reader of suites, schedules, lookup tables, archs, archives, predictor and benchmark
metadata goes through here. Before a YAML document is built, its event stream is scanned once:
the bytes, the nodes, the nesting depth, the aliases and the nodes the aliases would add if the
document were expanded (what pydantic and ``repr`` do) are counted against fixed limits, so a
"billion laughs" file fails in milliseconds instead of exhausting memory. JSON has no aliases; it
is bounded in size and depth. Errors are one line, name the source, and quote at most a short
excerpt of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ofa_bench.errors import OfaBenchError, yaml_problem
from ofa_bench.io.untrusted.limits import excerpt

__all__ = [
    "MAX_ALIASES",
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_JSON_BYTES",
    "MAX_NODES",
    "MAX_YAML_BYTES",
    "parse_json",
    "parse_yaml",
    "read_json",
    "read_untrusted_text",
    "read_yaml",
]

#: Largest YAML file (a lookup table of every layer of every resolution is a few MB).
MAX_YAML_BYTES = 32 * 2**20
#: Largest JSON or JSON-lines file (ten million archs would be ~2 GB; a study uses far fewer).
MAX_JSON_BYTES = 512 * 2**20
#: Nodes (scalars and collections) of one YAML document.
MAX_NODES = 4_000_000
#: Nesting depth of a YAML or JSON document, aliases expanded.
MAX_DEPTH = 100
#: Aliases (``*name``) in one YAML document.
MAX_ALIASES = 1_000
#: Nodes that expanding every alias would add; a small bound, as aliases only save repetition.
MAX_ALIAS_NODES = 100_000

# The C parser is several times faster on lookup tables of thousands of entries.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader, refusing a mapping key given twice (PyYAML keeps the last one silently).

    YAML requires keys to be unique; a table with one layer twice, or a suite with two
    ``budget:`` keys, is a mistake to name, not to resolve by position. Keys a merge (``<<: *x``)
    brings in may still be overridden, as YAML's merge key allows.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: the base class names it
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"found duplicate key {excerpt(key, 80)}", key_node.start_mark,
                    )  # fmt: skip
        return super().construct_mapping(node, deep=deep)


_COLLECTION_START = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_COLLECTION_END = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def read_untrusted_text(path: str | Path, what: str, max_bytes: int) -> str:
    """The UTF-8 text of a file no larger than ``max_bytes``.

    Args:
        path: The file.
        what: What it is, for messages (``"suite file 'x.yaml'"``).
        max_bytes: Largest accepted size.

    Raises:
        OfaBenchError: Missing, unreadable, too large or not UTF-8.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise OfaBenchError(f"{what} not found") from None
    except IsADirectoryError:
        raise OfaBenchError(f"{what} is a directory, not a file") from None
    except OSError as exc:
        raise OfaBenchError(f"{what} cannot be read: {exc.strerror or type(exc).__name__}") from None
    return _decode(raw, what, max_bytes)


def _decode(raw: bytes | str, what: str, max_bytes: int) -> str:
    if len(raw) > max_bytes:
        raise OfaBenchError(f"{what} is larger than the limit of {max_bytes:,} bytes")
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OfaBenchError(f"{what} is not UTF-8 text (byte {exc.start})") from None


# ----- YAML ---------------------------------------------------------------------------------------


def read_yaml(path: str | Path, what: str, *, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """Read a YAML file within the limits of this module; see :func:`parse_yaml`."""
    return parse_yaml(read_untrusted_text(path, what, max_bytes), what, max_bytes=max_bytes)


def parse_yaml(text: str | bytes, what: str, *, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """Parse one YAML document with PyYAML's safe loader, after checking it stays within bounds.

    Args:
        text: The document (bytes must be UTF-8).
        what: The source, for messages.
        max_bytes: Largest accepted size.

    Returns:
        The plain Python value (dicts, lists, scalars).

    Raises:
        OfaBenchError: Too large, too deep, too many nodes or aliases, an alias that would expand
            beyond :data:`MAX_ALIAS_NODES` or refers to itself, or not valid YAML.
    """
    text = _decode(text, what, max_bytes)
    _check_yaml_events(text, what)
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise OfaBenchError(f"{what}: {yaml_problem(exc, column=True)}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # A scalar that cannot become a value: a date like 2024-13-45, an int beyond the digit limit.
        raise OfaBenchError(f"{what}: not valid YAML: a value cannot be read ({type(exc).__name__})") from None


def _check_yaml_events(text: str, what: str) -> None:
    """Walk the parser's events once, counting what building the document would cost."""
    # Each open collection is [anchor, expanded size, expanded height below it].
    stack: list[list[Any]] = [[None, 0, 0]]
    anchors: dict[str, tuple[int, int]] = {}
    open_anchors: set[str] = set()
    nodes = aliases = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, _COLLECTION_START):
                nodes += 1
                stack.append([event.anchor, 1, 0])
                if event.anchor is not None:
                    anchors.pop(event.anchor, None)
                    open_anchors.add(event.anchor)
                if len(stack) - 1 > MAX_DEPTH:
                    _refuse(what, event, f"nests deeper than {MAX_DEPTH} levels")
            elif isinstance(event, _COLLECTION_END):
                anchor, size, height = stack.pop()
                if anchor is not None:
                    anchors[anchor] = (size, height + 1)
                    open_anchors.discard(anchor)
                _add(stack, size, height + 1, what, event)
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    _refuse(what, event, f"has more than {MAX_ALIASES} aliases")
                if event.anchor in open_anchors:
                    _refuse(what, event, f"alias *{_short(event.anchor)} refers to a collection that contains it")
                size, height = anchors.get(event.anchor, (1, 0))  # undefined: the loader says so below
                _add(stack, size, height, what, event, alias=True)
            elif isinstance(event, yaml.ScalarEvent):
                nodes += 1
                if event.anchor is not None:
                    anchors[event.anchor] = (1, 0)
                _add(stack, 1, 0, what, event)
            if nodes > MAX_NODES:
                _refuse(what, event, f"has more than {MAX_NODES:,} nodes")
    except yaml.YAMLError as exc:
        raise OfaBenchError(f"{what}: {yaml_problem(exc, column=True)}") from None
    expanded = stack[0][1]
    if expanded - nodes > MAX_ALIAS_NODES:
        _refuse(what, None, f"aliases expand to more than {MAX_ALIAS_NODES:,} extra nodes")


def _add(stack: list[list[Any]], size: int, height: int, what: str, event: Any, alias: bool = False) -> None:
    frame = stack[-1]
    frame[1] += size
    frame[2] = max(frame[2], height)
    if alias and size > MAX_ALIAS_NODES:
        _refuse(what, event, f"alias expands to more than {MAX_ALIAS_NODES:,} nodes")
    if len(stack) - 1 + height > MAX_DEPTH:
        _refuse(what, event, f"nests deeper than {MAX_DEPTH} levels (aliases expanded)")


def _refuse(what: str, event: Any, problem: str) -> None:
    mark = getattr(event, "start_mark", None)
    at = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
    raise OfaBenchError(f"{what}: refused{at}: the YAML {problem}; see docs/security.md")


def _short(text: Any, limit: int = 30) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----- JSON ---------------------------------------------------------------------------------------


def read_json(path: str | Path, what: str, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Read a JSON file within the limits of this module; see :func:`parse_json`."""
    return parse_json(read_untrusted_text(path, what, max_bytes), what, max_bytes=max_bytes)


def parse_json(text: str | bytes, what: str, *, max_bytes: int = MAX_JSON_BYTES, line: bool = False) -> Any:
    """Parse one JSON value, bounded in size and nesting depth.

    Args:
        text: The JSON text (bytes must be UTF-8).
        what: The source, for messages (``"archs line 3"``).
        max_bytes: Largest accepted size.
        line: ``text`` is one line of a JSON-lines file: positions name only the column.

    Raises:
        OfaBenchError: ``"<what>: malformed JSON at line L column C: <reason>"``, too large, or
            nested deeper than :data:`MAX_DEPTH`.
    """
    text = _decode(text, what, max_bytes)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"column {exc.colno}" if line else f"line {exc.lineno} column {exc.colno}"
        raise OfaBenchError(f"{what}: malformed JSON at {at}: {exc.msg}") from None
    except RecursionError:
        raise OfaBenchError(f"{what}: refused: the JSON nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # an integer beyond Python's digit limit
        raise OfaBenchError(f"{what}: malformed JSON: {_short(exc, 80)}") from None
    # Counting brackets first skips the walk for the usual shallow value (an arch line has four).
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth_exceeds(value, MAX_DEPTH):
        raise OfaBenchError(f"{what}: refused: the JSON nests deeper than {MAX_DEPTH} levels")
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests deeper than ``limit``, walked without recursion."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (list, dict)):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((v, depth + 1) for v in children if isinstance(v, (list, dict)))
    return False
