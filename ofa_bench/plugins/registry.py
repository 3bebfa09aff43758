"""Find, list and create plug-ins by name.

Each plug-in kind has one :class:`Registry`, filled from an entry-point group; our built-in
plug-ins are declared in our own package metadata under the same groups a third party uses.

=========  ========================  =====================
kind       entry-point group         base class
=========  ========================  =====================
strategy   ``ofa_bench.strategies``  :class:`Strategy`
predictor  ``ofa_bench.predictors``  :class:`Predictor`
hardware   ``ofa_bench.hardware``    :class:`HardwareBackend`
=========  ========================  =====================

Names are listed without importing any plug-in; a plug-in is imported the first time it is used,
and one that fails to import is reported with its package name without breaking the others.
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import importlib
import inspect
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ofa_bench.errors import PluginError
from ofa_bench.plugins.guard import plugin_code, stdout_to_stderr
from ofa_bench.plugins.interfaces import HardwareBackend, Predictor, Strategy
from ofa_bench.plugins.parameters import check_bool_params, parameter_names
from ofa_bench.plugins.spec import parse_spec

__all__ = [
    "PluginInfo",
    "Registry",
    "create",
    "create_from_spec",
    "describe",
    "get",
    "kinds",
    "label",
    "names",
    "parse_spec",
    "refresh",
    "register",
    "registered_while",
]


@dataclass(frozen=True)
class PluginInfo:
    """What is known about one plug-in, as shown by ``ofa-bench plugins``.

    Attributes:
        kind: Plug-in kind, e.g. ``"hardware"``.
        name: Name the plug-in is created by.
        value: Where it lives, ``"module:attr"``.
        distribution: Name of the package that declares it; ``None`` for in-process registrations.
        version: Version of that package, or ``None``.
        error: Why it fails to load, or ``None`` when it loads.
    """

    kind: str
    name: str
    value: str
    distribution: str | None
    version: str | None
    error: str | None = None


class Registry:
    """The plug-ins of one kind: entry points of one group plus in-process registrations.

    Args:
        kind: Plug-in kind, e.g. ``"hardware"``.
        group: Entry-point group, e.g. ``"ofa_bench.hardware"``.
        base: Class every plug-in of this kind subclasses.
        label: The kind in words for messages, e.g. ``"hardware backend"``.
    """

    def __init__(self, kind: str, group: str, base: type, label: str) -> None:
        self.kind = kind
        self.group = group
        self.base = base
        self.label = label
        self._entry_points: dict[str, EntryPoint] | None = None
        self._loaded: dict[str, type] = {}
        self._registered: dict[str, type] = {}

    def refresh(self) -> None:
        """Forget the entry-point scan and loaded plug-ins; in-process registrations stay."""
        self._entry_points = None
        self._loaded.clear()

    def _scan(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            found: dict[str, EntryPoint] = {}
            for ep in entry_points(group=self.group):
                if ep.name in found and found[ep.name].value != ep.value:
                    warnings.warn(
                        f"{self.label} {ep.name!r} is declared by both {_origin(found[ep.name])} "
                        f"and {_origin(ep)}; using the first",
                        stacklevel=3,
                    )
                    continue
                found.setdefault(ep.name, ep)
            self._entry_points = found
        return self._entry_points

    def names(self, pattern: str = "*") -> list[str]:
        """List plug-in names matching a pattern, without importing any plug-in.

        Args:
            pattern: :mod:`fnmatch` pattern, e.g. ``"onnx*"``.

        Returns:
            Sorted names.
        """
        known = set(self._scan()) | set(self._registered)
        return sorted(fnmatch.filter(known, pattern))

    def get(self, name: str) -> type:
        """Return the plug-in class called ``name``, importing it on first use.

        Args:
            name: Plug-in name.

        Returns:
            A subclass of :attr:`base`.

        Raises:
            PluginError: The name is unknown, or the plug-in fails to load or is not a
                subclass of :attr:`base`.
        """
        if name in self._registered:
            return self._registered[name]
        if name in self._loaded:
            return self._loaded[name]
        ep = self._scan().get(name)
        if ep is None:
            known = ", ".join(self.names()) or "none"
            raise PluginError(f"unknown {self.label} {name!r}; known: {known}{self._elsewhere(name)}")
        where = f"{self.label} {name!r} (entry point {ep.value} from {_origin(ep)})"
        try:
            # Importing runs the plug-in's code; not under a deadline, as half an import is worse than a late one.
            with stdout_to_stderr():
                obj = ep.load()
        except Exception as exc:
            # One line: the CLI prints the message alone; --debug shows the chained traceback.
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            raise PluginError(f"{where} failed to load: {reason}") from exc
        if not (isinstance(obj, type) and issubclass(obj, self.base)):
            raise PluginError(f"{where} is {obj!r}, not a subclass of {self.base.__name__}")
        own = getattr(obj, "name", None)
        if isinstance(own, str) and own and own != name:
            # Records, columns (latency:<name>) and logs use the class's name: a different entry-point
            # name would create the plug-in under one name and file its results under another.
            raise PluginError(
                f"{where} calls itself {own!r} (its class attribute 'name'); rename the entry point to {own!r} "
                f"or set name = {name!r}"
            )
        self._loaded[name] = obj
        return obj

    def _elsewhere(self, name: str) -> str:
        """A hint when ``name`` is declared in a misspelt group (``ofa_bench.strategy``, say)."""
        for ep in entry_points(name=name):
            if ep.group != self.group and ep.group.replace("-", "_").lower().startswith("ofa_bench"):
                return (
                    f" (an entry point {name!r} is declared by {_origin(ep)} in group {ep.group!r}; "
                    f"{self.label} plug-ins are found in group {self.group!r})"
                )
        return ""

    def create(self, name_or_instance: str | object, **params: Any) -> Any:
        """Create a plug-in by name, or pass an existing instance through.

        Args:
            name_or_instance: Plug-in name, or an instance of :attr:`base` to return as is.
            **params: Constructor parameters; ``None`` values are dropped so callers can pass
                unset options straight through.

        Returns:
            An instance of :attr:`base`.

        Raises:
            PluginError: The name is unknown or fails to load, the parameters do not fit the
                constructor, or parameters were given with an instance.
        """
        params = {k: v for k, v in params.items() if v is not None}
        if isinstance(name_or_instance, self.base):
            if params:
                raise PluginError(
                    f"parameters {', '.join(sorted(params))} given with a {self.label} instance; "
                    f"parameters apply only when creating by name"
                )
            return name_or_instance
        if not isinstance(name_or_instance, str):
            raise PluginError(
                f"expected a {self.label} name or {self.base.__name__} instance, "
                f"got {name_or_instance!r}"
            )
        cls = self.get(name_or_instance)
        if inspect.isabstract(cls):
            missing = ", ".join(f"{m}()" for m in sorted(cls.__abstractmethods__))
            raise PluginError(
                f"{self.label} {name_or_instance!r} ({cls.__module__}:{cls.__qualname__}) does not implement "
                f"{missing}, which every {self.base.__name__} must"
            )
        accepted = parameter_names(cls)
        unknown = sorted(set(params) - set(accepted)) if accepted is not None else []
        if unknown:
            close = difflib.get_close_matches(unknown[0], accepted, n=1, cutoff=0.5)
            close = close or [a for a in accepted if a.startswith(unknown[0])][:1]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise PluginError(
                f"{self.label} {name_or_instance!r} has no parameter {', '.join(map(repr, unknown))}{hint}; "
                f"its parameters: {', '.join(accepted) or 'none'}"
            )
        check_bool_params(cls, params, f"{self.label} {name_or_instance!r}")
        try:
            inspect.signature(cls).bind(**params)
        except TypeError as exc:
            raise PluginError(f"cannot create {self.label} {name_or_instance!r}: {exc}") from exc
        try:
            with plugin_code():
                return cls(**params)
        except (ValueError, TypeError) as exc:
            # Parameters come from users (specs, suite files): a plug-in refusing a value is bad
            # input, named here, not an internal error.
            shown = ", ".join(f"{k}={v!r}" for k, v in sorted(params.items())) or "no parameters"
            raise PluginError(
                f"{self.label} {name_or_instance!r} refused {shown}: {' '.join(str(exc).split()) or type(exc).__name__}"
            ) from exc

    def register(self, name: str, obj: type) -> None:
        """Register a plug-in class in this process, e.g. from a notebook or a test.

        Args:
            name: Name to create it by; an existing name is overwritten with a warning.
            obj: A subclass of :attr:`base`.

        Raises:
            PluginError: ``obj`` is not a subclass of :attr:`base`.
        """
        if not (isinstance(obj, type) and issubclass(obj, self.base)):
            raise PluginError(
                f"cannot register {obj!r} as {self.label} {name!r}: "
                f"not a subclass of {self.base.__name__}"
            )
        if name in self._registered or name in self._scan():
            warnings.warn(f"overwriting {self.label} {name!r}", stacklevel=3)
        self._registered[name] = obj

    def describe(self) -> list[PluginInfo]:
        """Report every plug-in, loading each to tell whether it works.

        Returns:
            One :class:`PluginInfo` per name, sorted by name; load failures are reported in
            ``error`` instead of raised.
        """
        infos = []
        for name in self.names():
            if name in self._registered:
                obj = self._registered[name]
                infos.append(
                    PluginInfo(self.kind, name, f"{obj.__module__}:{obj.__qualname__}", None, None)
                )
                continue
            ep = self._scan()[name]
            try:
                self.get(name)
                error = None
            except PluginError as exc:
                error = str(exc)
            dist = ep.dist
            infos.append(
                PluginInfo(
                    self.kind,
                    name,
                    ep.value,
                    dist.name if dist is not None else None,
                    dist.version if dist is not None else None,
                    error,
                )
            )
        return infos


def _origin(ep: EntryPoint) -> str:
    """Name the package that declares an entry point, for messages."""
    if ep.dist is None:
        return "an unknown package"
    return f"package {ep.dist.name} {ep.dist.version}"


def _new_registries() -> dict[str, Registry]:
    return {
        "strategy": Registry("strategy", "ofa_bench.strategies", Strategy, "search strategy"),
        "predictor": Registry("predictor", "ofa_bench.predictors", Predictor, "accuracy predictor"),
        "hardware": Registry("hardware", "ofa_bench.hardware", HardwareBackend, "hardware backend"),
    }


_REGISTRIES = _new_registries()


def _registry(kind: str) -> Registry:
    try:
        return _REGISTRIES[kind]
    except KeyError:
        raise PluginError(
            f"unknown plug-in kind {kind!r}; known: {', '.join(sorted(_REGISTRIES))}"
        ) from None


def label(kind: str) -> str:
    """The kind in words, for messages: ``"hardware backend"``, ``"accuracy predictor"``, ``"search strategy"``."""
    return _registry(kind).label


def kinds() -> list[str]:
    """Return the plug-in kinds, sorted."""
    return sorted(_REGISTRIES)


def names(kind: str, pattern: str = "*") -> list[str]:
    """List the plug-in names of one kind matching a pattern, without importing any plug-in.

    Args:
        kind: ``"strategy"``, ``"predictor"`` or ``"hardware"``.
        pattern: :mod:`fnmatch` pattern.

    Returns:
        Sorted names.
    """
    return _registry(kind).names(pattern)


def get(kind: str, name: str) -> type:
    """Return a plug-in class by name, importing it on first use.

    Args:
        kind: ``"strategy"``, ``"predictor"`` or ``"hardware"``.
        name: Plug-in name.

    Returns:
        The plug-in class.

    Raises:
        PluginError: The kind or name is unknown, or the plug-in fails to load.
    """
    return _registry(kind).get(name)


def create(kind: str, name_or_instance: str | object, **params: Any) -> Any:
    """Create a plug-in by name, or pass an instance of the kind's base class through.

    Args:
        kind: ``"strategy"``, ``"predictor"`` or ``"hardware"``.
        name_or_instance: Plug-in name or instance.
        **params: Constructor parameters; ``None`` values are dropped.

    Returns:
        The plug-in instance.

    Raises:
        PluginError: See :meth:`Registry.create`.
    """
    return _registry(kind).create(name_or_instance, **params)


def create_from_spec(kind: str, spec: str | object, **params: Any) -> Any:
    """Create a plug-in from a spec string (see :func:`parse_spec`), a plain name, or an instance.

    Args:
        kind: ``"strategy"``, ``"predictor"`` or ``"hardware"``.
        spec: ``"name"``, ``"name:key=value..."``, or an instance passed through.
        **params: More constructor parameters; the spec's own take precedence.

    Returns:
        The plug-in instance.

    Raises:
        PluginError: A malformed spec, an unknown name (the message lists the known ones), or
            parameters that do not fit the constructor.
    """
    if not isinstance(spec, str):
        return create(kind, spec, **params)
    name, spec_params = parse_spec(spec)
    return create(kind, name, **{**params, **spec_params})


def register(kind: str, name: str, obj: type) -> None:
    """Register a plug-in class in this process; overwriting a name warns.

    Args:
        kind: ``"strategy"``, ``"predictor"`` or ``"hardware"``.
        name: Name to create it by.
        obj: A subclass of the kind's base class.

    Raises:
        PluginError: The kind is unknown or ``obj`` has the wrong base class.
    """
    _registry(kind).register(name, obj)


@contextlib.contextmanager
def registered_while(kind: str, name: str, obj: type) -> Iterator[None]:
    """Within the block, ``name`` creates ``obj`` unless the name is known already (installed or registered).

    For a plug-in under test before its package is installed: its conformance kit saves and loads
    it by name, as every saved predictor file names its class.
    """
    registry = _registry(kind)
    if name in registry.names():
        yield
        return
    registry.register(name, obj)
    try:
        yield
    finally:
        registry._registered.pop(name, None)


def describe(kind: str) -> list[PluginInfo]:
    """Report every plug-in of one kind with its package, version and any load error.

    Args:
        kind: ``"strategy"``, ``"predictor"`` or ``"hardware"``.

    Returns:
        One :class:`PluginInfo` per name, sorted by name.
    """
    return _registry(kind).describe()


def refresh() -> None:
    """Rescan entry points, e.g. after installing a plug-in package in this process."""
    # Path finders cache directory listings; new distributions would stay invisible without this.
    importlib.invalidate_caches()
    for registry in _REGISTRIES.values():
        registry.refresh()
