"""Suite files: one comparison of strategies on one benchmark under equal budgets, read from YAML.

A suite names the benchmark (and whether to train it when missing), the accuracy oracle (the
supernet itself, or a predictor fitted on a measured archive), the objectives and constraints, the
hardware backends, the strategies with their parameters, the budget, the seeds, the parallel
engine and the fixed normalisation of the hypervolume. Every (strategy, seed) pair is one run.

Validation is pydantic's; :func:`load_suite` turns the first error into one line naming the field
path, e.g. ``suite.yaml: strategies[1].name: unknown strategy 'foo'; known: nsga2, random``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted import MAX_BATCH, MAX_RUNS, MAX_SEED, MAX_SEEDS, excerpt, read_yaml
from ofa_bench.io.untrusted.state import name_problem
from ofa_bench.objectives import BASE_COLUMNS, backends_for, parse_constraint, parse_objectives
from ofa_bench.plugins.interfaces import Constraint, Objective
from ofa_bench.suite.checks import Check, fewest_seeds
from ofa_bench.suite.sections import (
    BackendSpec,
    BenchmarkSection,
    Budget,
    Engine,
    HypervolumeSection,
    OracleSection,
    ReferenceSection,
    Section,
    StrategyEntry,
    known_plugin,
)

__all__ = [
    "BUILTIN_SUITES",
    "BackendSpec",
    "BenchmarkSection",
    "Budget",
    "Check",
    "Engine",
    "HypervolumeSection",
    "OracleSection",
    "ReferenceSection",
    "StrategyEntry",
    "Suite",
    "load_suite",
]

class Suite(Section):
    """A whole comparison; see the module docstring and ``docs/harness.md``.

    Attributes:
        name: Name of the suite, shown in reports.
        description: Free text shown in reports.
        benchmark: The benchmark.
        oracle: The accuracy oracle.
        objectives: Columns to optimise, e.g. ``accuracy`` (maximised) and ``latency:lut``
            (minimised); ``max:``/``min:`` prefixes set the direction.
        constraints: Upper limits such as ``latency:mmacs<=30``.
        backends: Hardware backends (default: those the objectives and constraints name).
        strategies: Strategies to compare.
        budget: Per-run budget.
        batch_size: Archs asked of a strategy at a time (default: each strategy's preferred size).
        seeds: Seeds, or a count ``n`` meaning seeds ``0..n-1``; a run's strategy seed is drawn
            from the suite's ``runs`` stream at this number.
        seed: The suite seed every random stream is spawned from (:mod:`ofa_bench.search.streams`).
        report_split: ``auto``: search on the validation split and re-measure every run's final
            front on the test split (without one: search on one fixed half of the validation
            split, re-measure on the other; :mod:`ofa_bench.suite.holdout`); a shipped
            surrogate oracle re-measures with its ``test`` target. ``live``: as ``auto``, but
            the fronts are always measured live on the supernet, also when a surrogate searched
            (the verdict then rests on measurements; a shipped benchmark needs its data set
            installed). ``none``: search and report on the whole validation split.
        engine: Parallel engine.
        reference: The reference random sample.
        hv: Hypervolume normalisation and limits.
        checks: What a CI gate expects of the results (:mod:`ofa_bench.suite.checks`).
        alpha: Significance level of ``beats`` checks (Holm-adjusted p-values).
    """

    name: str = Field(min_length=1)
    description: str = ""
    benchmark: BenchmarkSection
    oracle: OracleSection = Field(default_factory=OracleSection)
    objectives: list[str] = Field(min_length=1)
    constraints: list[str] = Field(default_factory=list)
    backends: list[BackendSpec] = Field(default_factory=list)
    strategies: list[StrategyEntry] = Field(min_length=1)
    budget: Budget
    batch_size: int | None = Field(None, ge=1, le=MAX_BATCH)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    seed: int = Field(0, ge=0)
    report_split: Literal["auto", "live", "none"] = "auto"
    engine: Engine = Field(default_factory=Engine)
    reference: ReferenceSection = Field(default_factory=ReferenceSection)
    hv: HypervolumeSection = Field(default_factory=HypervolumeSection)
    checks: list[Check] = Field(default_factory=list)
    alpha: float = Field(0.05, gt=0, lt=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = name_problem(value)  # it names the default --out folder and heads every report
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, value: Any) -> Any:
        # Bounded here, before a count becomes a list: 10**9 seeds would fill memory first.
        if isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= MAX_SEEDS:
                raise ValueError(f"a count of seeds must be >= 1 and <= {MAX_SEEDS}; got {excerpt(value)}")
            return list(range(value))
        if not isinstance(value, list):
            raise ValueError(f"must be a count of seeds or a list of seeds, e.g. 3 or [0, 1, 2]; got {excerpt(value)}")
        if len(value) > MAX_SEEDS:
            raise ValueError(f"at most {MAX_SEEDS} seeds; got {len(value)}")
        for i, seed in enumerate(value):
            if isinstance(seed, int) and not isinstance(seed, bool) and not 0 <= seed <= MAX_SEED:
                raise ValueError(f"seeds[{i}] must be from 0 to {MAX_SEED}; got {excerpt(seed)}")
        return value

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError(f"seeds must be distinct; got {value}")
        if any(v < 0 for v in value):
            raise ValueError(f"seeds must be >= 0 (they index the suite's random streams); got {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Suite:
        for i, text in enumerate(self.objectives):
            try:
                parse_objectives([text])
            except OfaBenchError as exc:
                raise ValueError(f"objectives[{i}]: {str(exc).removeprefix('objectives: ')}") from None
        try:
            objectives = self.objective_list
        except OfaBenchError as exc:
            raise ValueError(str(exc)) from None  # already says "objectives: ..."
        for i, text in enumerate(self.constraints):
            try:
                parse_constraint(text)
            except OfaBenchError as exc:
                raise ValueError(f"constraints[{i}]: {exc}") from None
        named = [b.name for b in self.backends]
        if len(set(named)) != len(named):
            raise ValueError(f"backends: each backend may appear once; got {', '.join(named)}")
        columns = [(f"objectives[{i}]", o.column) for i, o in enumerate(objectives)]
        columns += [(f"constraints[{i}]", c.column) for i, c in enumerate(self.constraint_list)]
        for where, column in columns:
            if column == "loss" and self.oracle.mode != "live":
                raise ValueError(
                    f"{where}: loss is measured by the live oracle only; oracle.mode {self.oracle.mode} answers "
                    "accuracy (use oracle.mode: live, or accuracy)"
                )
            backend = column.partition(":")[2] if column.startswith("latency:") else None
            if backend is None and column not in BASE_COLUMNS:
                known = ", ".join([*BASE_COLUMNS, "latency:<backend>"])
                raise ValueError(f"{where}: unknown column {column!r}; known: {known}")
            if backend is not None and named and backend not in named:
                listed = ", ".join(named)
                raise ValueError(f"{where}: {column} needs backend {backend!r} in backends; backends: {listed}")
            if backend is not None and not named:
                try:
                    known_plugin("hardware", backend, "hardware backend")
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from None
        for column in self.hv.bounds:
            if column not in [o.column for o in objectives]:
                raise ValueError(f"hv.bounds: {column!r} is not an objective; objectives: {', '.join(self.objectives)}")
        self._known_limits(objectives, [b.name for b in self.backend_list])
        keys = [s.key for s in self.strategies]
        for i, key in enumerate(keys):
            if key in keys[:i]:
                raise ValueError(f"strategies[{i}]: {key!r} is used twice; give each entry its own label")
        self._fair_oracle()
        self._objectives_fit_strategies()
        return self

    def _known_limits(self, objectives: tuple[Objective, ...], backends: list[str]) -> None:
        """Refuse ``hv.limits`` of a column that is no cost the records hold (its metric would be empty)."""
        costs = ["macs", "params", *(f"latency:{b}" for b in backends)]
        costs += [o.column for o in objectives if o.direction == "min"] + [c.column for c in self.constraint_list]
        costs = list(dict.fromkeys(costs))
        for column in self.hv.limits:
            if column not in costs:
                listed = ", ".join(costs)
                raise ValueError(f"hv.limits: {excerpt(column)} is not a cost column of the records; allowed: {listed}")

    def _shipped_surrogate(self) -> dict[str, Any]:
        """The benchmark's ``surrogate.json`` (mode ``shipped``); a ValueError when it has none or lacks a target."""
        from ofa_bench.benchmark.surrogate import no_surrogate_message, surrogate_info
        from ofa_bench.benchmark.zoo import resolve_benchmark

        try:
            directory = resolve_benchmark(self.benchmark.dir)
        except OfaBenchError as exc:
            raise ValueError(f"benchmark: {exc}") from None
        try:
            info = surrogate_info(directory)
        except OfaBenchError as exc:
            raise ValueError(f"oracle.mode: {exc}") from None
        if info is None:
            raise ValueError(f"oracle.mode: {no_surrogate_message(self.benchmark.dir)}")
        if self.report_split == "auto" and "test" not in info["targets"]:
            raise ValueError(
                f"report_split: auto re-measures fronts with the shipped surrogate's test target, and "
                f"{self.benchmark.dir!r} ships only {', '.join(info['targets'])}; use report_split: none"
            )
        return info

    def _objectives_fit_strategies(self) -> None:
        """Refuse a strategy that optimises fewer objectives than the suite scores it on."""
        from ofa_bench.plugins import registry

        n = len(self.objective_list)
        for i, entry in enumerate(self.strategies):
            most = getattr(registry.get("strategy", entry.name), "max_objectives", None)
            if most is not None and n > most:
                raise ValueError(
                    f"strategies[{i}]: {entry.name!r} optimises only the first objective, but this suite scores "
                    f"{n}; use regularized-evolution, or one objective plus constraints"
                )

    def _fair_oracle(self) -> None:
        """Refuse an oracle of a model family a competing strategy fits internally (unless allowed)."""
        from ofa_bench.suite.fairness import family_clashes, label_clashes

        if self.oracle.mode == "shipped":
            label = self._shipped_surrogate()["predictor"]
            if self.oracle.allow_same_family:
                return
            entries = [(s.key, s.name, s.params) for s in self.strategies]
            for i, key, shared in label_clashes(label, entries)[:1]:
                raise ValueError(
                    f"oracle.mode: the shipped surrogate {label!r} ({'/'.join(sorted(shared))}) is the model "
                    f"strategies[{i}] {key!r} fits; use another strategy or oracle.allow_same_family: true"
                )
            return
        if self.oracle.mode != "surrogate" or self.oracle.allow_same_family:
            return
        entries = [(s.key, s.name, s.params) for s in self.strategies]
        for i, label, shared in family_clashes(self.oracle.predictor, self.oracle.params, entries)[:1]:
            raise ValueError(
                f"oracle.predictor: {self.oracle.predictor!r} ({'/'.join(sorted(shared))}) is the model "
                f"strategies[{i}] {label!r} fits; use another family or oracle.allow_same_family: true"
            )

    @model_validator(mode="after")
    def _checks_fit(self) -> Suite:
        keys = [s.key for s in self.strategies]
        for i, check in enumerate(self.checks):
            for name in ("strategy", "beats"):
                label = getattr(check, name)
                if label is not None and label not in keys:
                    raise ValueError(f"checks[{i}].{name}: unknown strategy {label!r}; strategies: {', '.join(keys)}")
            if check.beats is not None and check.beats == check.strategy:
                raise ValueError(f"checks[{i}].beats: a strategy cannot beat itself; strategies: {', '.join(keys)}")
            fewest = fewest_seeds(self.alpha)
            if check.beats is not None and len(self.seeds) < fewest:
                raise ValueError(
                    f"checks[{i}].beats: needs seeds >= {fewest} (got {len(self.seeds)}): with fewer a side the exact "
                    f"one-sided rank test can never give p < alpha {self.alpha:g}, so the check could never pass"
                )
            if check.metric == "hv_test" and self.report_split == "none":
                raise ValueError(f"checks[{i}].metric: hv_test needs report_split: auto or live; allowed here: hv, igd, "
                                 "evals_to_target, best:<column><=<level>")  # fmt: skip
        return self

    @model_validator(mode="after")
    def _bounded_runs(self) -> Suite:
        runs = len(self.strategies) * len(self.seeds)
        if runs > MAX_RUNS:
            raise ValueError(f"strategies x seeds: {runs} runs; the limit is {MAX_RUNS}")
        return self

    # ----- parsed views ---------------------------------------------------------------------------

    @property
    def objective_list(self) -> tuple[Objective, ...]:
        """The objectives as :class:`Objective` values."""
        return parse_objectives(self.objectives)

    @property
    def constraint_list(self) -> tuple[Constraint, ...]:
        """The constraints as :class:`Constraint` values."""
        return tuple(parse_constraint(text) for text in self.constraints)

    @property
    def backend_list(self) -> tuple[BackendSpec, ...]:
        """The backends, with those the objectives and constraints name added when none are listed."""
        if self.backends:
            return tuple(self.backends)
        columns = [o.column for o in self.objective_list] + [c.column for c in self.constraint_list]
        return tuple(BackendSpec(name=name) for name in backends_for(columns))


#: Suites shipped inside the package, by the name ``load_suite`` and ``ofa-bench run`` accept.
BUILTIN_SUITES = {"default": "default_suite.yaml"}


def load_suite(
    source: str | Path | Mapping[str, Any], overrides: Mapping[str, Any] | None = None, *, where: str | None = None
) -> Suite:
    """Read and validate a suite.

    Args:
        source: A YAML file, the name of a suite shipped with ofa-bench (``default``), or the suite
            as a mapping.
        overrides: Dotted keys to set before validation, e.g. ``{"benchmark.dir": "out/bench",
            "budget.evaluations": 50}``.
        where: What to call the source in messages (default: the file name, or ``suite``).

    Returns:
        The validated suite.

    Raises:
        OfaBenchError: One line naming the file and the field path of every problem (the first five).
    """
    if isinstance(source, Mapping):
        where = where or "suite"
        data: Any = dict(source)
    else:
        path = Path(source)
        where = where or str(source)
        if not path.exists() and str(source) in BUILTIN_SUITES:
            path = Path(__file__).with_name(BUILTIN_SUITES[str(source)])
        if not path.exists():
            raise OfaBenchError(f"{where}: no such suite file")
        data = read_yaml(path, where)  # bounded: a suite is untrusted input (docs/security.md)
    if not isinstance(data, dict):
        raise OfaBenchError(f"{where}: a suite must be a mapping with keys {', '.join(Suite.model_fields)}")
    if isinstance(data.get("benchmark"), str):  # the shorthand, so overrides may set benchmark.<field>
        data["benchmark"] = {"dir": data["benchmark"]}
    for key, value in (overrides or {}).items():
        _set(data, key, value, where)
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        raise OfaBenchError(f"{where}: {_messages(exc.errors())}") from None


def _set(data: dict[str, Any], key: str, value: Any, where: str) -> None:
    """Set a dotted key in nested dicts, creating sections as needed."""
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise OfaBenchError(f"{where}: cannot set {key!r}: {part!r} is not a section")
    node[parts[-1]] = value


def _path(loc: tuple[int | str, ...]) -> str:
    """``a.b[2].c``; a key that is not a plain name (a typo with spaces, a newline) is quoted and bounded."""
    text = ""
    for part in loc:
        if not isinstance(part, int) and not re.fullmatch(r"[\w.:-]{1,64}", str(part)):
            part = excerpt(str(part))
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The section model a location points into, for listing its allowed keys."""
    model: Any = Suite
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


_MAX_MESSAGE = 200
#: Length a problem's message may take when it is the only one (the lists of known names fit).
_MAX_SINGLE = 1000


#: Length of the part of an error line that lists problems; beyond it, a count of the rest.
_MAX_LINE = 200


def _messages(errors: Sequence[Mapping[str, Any]]) -> str:
    """Every problem of a validation on one line, each with its own path.

    A typo in two places is two problems, named both. When the full messages (with the fields each
    section allows) do not fit in :data:`_MAX_LINE` characters, the allowed fields are left out so
    every problem is still named; what still does not fit is counted, never dropped silently.
    """
    if len(errors) == 1:  # one problem: said whole, with every allowed value (within a sane bound)
        return _message(errors[0], limit=_MAX_SINGLE)
    full = [_message(e) for e in errors]
    compact = [_message(e, allowed=False) for e in errors]
    for lines in (full, compact):
        if len("; ".join(lines)) <= _MAX_LINE:
            return "; ".join(lines)
    shown = compact[:1]
    for line in compact[1:]:
        if len("; ".join([*shown, line])) > _MAX_LINE:
            break
        shown.append(line)
    rest = len(compact) - len(shown)
    return "; ".join(shown) + (f"; and {rest} more problem{'s' if rest > 1 else ''}" if rest else "")


def _message(error: Mapping[str, Any], allowed: bool = True, limit: int = _MAX_MESSAGE) -> str:
    """One pydantic error as ``path: what is wrong`` (with the fields its section allows, unless not ``allowed``)."""
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
    elif kind == "missing":
        message = "missing required field"
    elif kind == "extra_forbidden":
        model = _model_at(loc[:-1]) if allowed else None
        fields = f"; allowed: {', '.join(model.model_fields)}" if model is not None else ""
        message = f"unknown field{fields}"
    else:
        message = f"{error['msg']}; got {excerpt(error.get('input'))}"
    if len(message) > limit:  # a validator's own message may quote a whole list
        message = message[: limit - 3] + "..."
    path = _path(loc)
    return f"{path}: {message}" if path else message
