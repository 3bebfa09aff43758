"""The sections of a suite file (benchmark, oracle, strategies, backends, budget, engine, ...).

Each is a strict pydantic model: unknown keys and wrongly typed values are errors, and plug-in
names are checked against the registry, so :func:`ofa_bench.suite.config.load_suite` can name
the field path of any mistake.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ofa_bench.errors import OfaBenchError, PluginError
from ofa_bench.io.untrusted import (
    MAX_ARCHIVE_SIZE,
    MAX_BUDGET,
    MAX_EPOCHS_SCALE,
    MAX_JOBS,
    MAX_REFERENCE_SAMPLE,
    MAX_SEED,
    excerpt,
)
from ofa_bench.io.untrusted.state import name_problem, shown
from ofa_bench.plugins import registry

__all__ = [
    "MAX_LEVELS",
    "MAX_REFERENCE",
    "MIN_SPAN",
    "BackendSpec",
    "BenchmarkSection",
    "Budget",
    "Engine",
    "HypervolumeSection",
    "OracleSection",
    "ReferenceSection",
    "Section",
    "StrategyEntry",
    "known_plugin",
]

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")

#: Largest hypervolume reference point on a normalised axis (0: the best bound, 1: the worst).
MAX_REFERENCE = 10.0
#: Smallest span of a fixed bound, relative to its magnitude: ``high - low >= MIN_SPAN * max(|low|, |high|, 1)``.
MIN_SPAN = 1e-9
#: Most levels of "best under limit" per column (each is a metric of every run).
MAX_LEVELS = 100


class Section(BaseModel):
    """Base of every suite section: unknown keys and loosely typed values are errors."""

    # strict: YAML already types its scalars, so "10" for a count is a mistake worth reporting.
    # allow_inf_nan=False: an infinite epochs_scale or wall_seconds is a mistake, not a setting.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _bind(kind: str, name: str, params: Mapping[str, Any]) -> None:
    """Check that ``params`` fit the plug-in's constructor (imports the plug-in)."""
    try:
        inspect.signature(registry.get(kind, name)).bind(**params)
    except PluginError as exc:
        raise ValueError(str(exc)) from None
    except TypeError as exc:
        raise ValueError(f"params do not fit {kind} {name!r}: {exc}") from None


def known_plugin(kind: str, name: str, label: str) -> str:
    """``name`` if the registry knows it, else a ValueError listing the known names."""
    known = registry.names(kind)
    if name not in known:
        raise ValueError(f"unknown {label} {name!r}; known: {', '.join(known) or 'none'}")
    return name


class BenchmarkSection(Section):
    """The benchmark every run measures on; a bare string in YAML (``benchmark: fmnist``) is its ``dir``.

    Attributes:
        dir: The benchmark directory (relative paths are relative to the working directory), or
            the name of a shipped benchmark (``ofa-bench bench list``).
        preset: Search-space preset of the supernet, used when training it (default: the
            existing benchmark's own, else ``ofa-mini``).
        data: Data spec fields (see :class:`ofa_bench.data.DataSpec`), used when training it.
        train_if_missing: Train the supernet by progressive shrinking when ``dir`` holds none.
        epochs_scale: Multiplies every training phase's epochs.
        seed: Seed of training.
        device: Where live accuracies are measured (``cpu``/``cuda``; default: CUDA when present).
    """

    dir: str
    preset: str = "ofa-mini"
    data: dict[str, Any] = Field(default_factory=dict)
    train_if_missing: bool = False
    epochs_scale: float = Field(1.0, gt=0, le=MAX_EPOCHS_SCALE)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    device: Literal["cpu", "cuda"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = {"dir": value}
        if isinstance(value, dict) and "preset" not in value and isinstance(value.get("dir"), str):
            preset = _existing_preset(value["dir"])
            if preset is not None:
                value = {**value, "preset": preset}
        return value

    @field_validator("preset")
    @classmethod
    def _preset(cls, value: str) -> str:
        from ofa_bench.space import get_space

        get_space(value)  # SpaceError is a ValueError: pydantic reports it at this field
        return value

    @field_validator("data")
    @classmethod
    def _data(cls, value: dict[str, Any]) -> dict[str, Any]:
        from ofa_bench.data import DataSpec

        try:
            DataSpec.from_dict(value)
        except OfaBenchError as exc:
            raise ValueError(str(exc)) from None
        return value


def _existing_preset(ref: str) -> str | None:
    """The preset of the benchmark ``ref`` names, when it exists and says; else ``None`` (the loader reports)."""
    from ofa_bench.benchmark.trained import BENCHMARK_FILE
    from ofa_bench.benchmark.zoo import resolve_benchmark
    from ofa_bench.io.untrusted import read_json

    try:
        meta = read_json(resolve_benchmark(ref) / BENCHMARK_FILE, "benchmark file")
    except OfaBenchError:
        return None
    preset = meta.get("preset") if isinstance(meta, dict) else None
    return preset if isinstance(preset, str) else None


#: Oracle fields that only a fitted (``surrogate``) oracle uses.
_FITTED_ONLY = ("predictor", "params", "archive_size", "archive_seed", "holdout")


class OracleSection(Section):
    """Where accuracies come from.

    Attributes:
        mode: ``live`` measures on the supernet; ``surrogate`` fits ``predictor`` on an archive of
            ``archive_size`` measured random archs and answers with its predictions; ``shipped``
            answers with the benchmark's shipped surrogate (:mod:`ofa_bench.benchmark.surrogate`), its
            ``test`` target re-measuring the fronts, so neither the dataset nor training is needed.
        predictor: Registered predictor name for the surrogate oracle.
        params: Its constructor parameters.
        archive_size: Measured archs it is fitted on.
        archive_seed: Index of the archive within the suite's ``oracle_archive`` random stream
            (spawned from the suite's ``seed``, so it never coincides with a run's or the
            reference sample's archs, whatever the numbers).
        holdout: Share of the archive held out once to report the oracle's own quality (0: none).
        noise: The oracle's stated noise in accuracy (e.g. its held-out RMSE); differences of
            accuracy below it (or below one evaluation image) are never called better. With
            ``shipped`` it defaults to the surrogate's ``noise.sd``.
        noisy: ``shipped`` only: answer each search evaluation with the surrogate's mean plus a
            Gaussian draw of its ``noise.sd``, seeded per run (suite seed, the run's seed number)
            and per arch; the reference sample and the verdict's re-measurement use the mean.
            Default: the noise-free mean. (``noise`` is a threshold the suite states; ``noisy``
            makes answers noisy.)
        allow_same_family: Allow a predictor family that a competing strategy also fits
            internally (the report then warns that the comparison favours that strategy).
    """

    mode: Literal["live", "surrogate", "shipped"] = "live"
    predictor: str = "gbdt"
    params: dict[str, Any] = Field(default_factory=dict)
    archive_size: int = Field(200, ge=10, le=MAX_ARCHIVE_SIZE)
    archive_seed: int = Field(0, ge=0)
    holdout: float = Field(0.2, ge=0, lt=1)
    noise: float | None = Field(None, ge=0)
    noisy: bool = False
    allow_same_family: bool = False

    @field_validator("predictor")
    @classmethod
    def _predictor(cls, value: str) -> str:
        return known_plugin("predictor", value, "predictor")

    @model_validator(mode="after")
    def _params(self) -> OracleSection:
        if self.mode == "surrogate":
            _bind("predictor", self.predictor, self.params)
        if self.mode == "shipped":
            for name in _FITTED_ONLY:
                if name in self.model_fields_set:
                    raise ValueError(f"{name}: not used with mode: shipped (the benchmark's surrogate is fitted)")
        if self.noisy and self.mode != "shipped":
            raise ValueError(f"noisy: needs mode: shipped (only it has a noise model); mode: {self.mode}")
        return self


class StrategyEntry(Section):
    """One strategy of the comparison; a bare name in YAML means no parameters.

    Attributes:
        name: Registered strategy name.
        params: Its constructor parameters.
        label: Name of its runs in results (default: ``name``); distinct per entry.
    """

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return known_plugin("strategy", value, "strategy")

    @field_validator("label")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        if value is None:
            return value
        problem = name_problem(value)
        if problem is None and not _LABEL.match(value):
            problem = f"{excerpt(value)} must be letters, digits and _.+- (it names a directory)"
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _params(self) -> StrategyEntry:
        _bind("strategy", self.name, self.params)
        return self

    @property
    def key(self) -> str:
        """The label, or the name when no label is given."""
        return self.label or self.name


class BackendSpec(Section):
    """A hardware backend with parameters; YAML may write it as ``"lut:table=lut.yaml,runs=3"``.

    A text entry is a plug-in spec read by :func:`ofa_bench.plugins.registry.parse_spec`, exactly as
    ``--backends`` reads it: ``1e3`` is a float, ``true`` a bool, ``yes`` text.

    Attributes:
        name: Registered backend name; records get a ``latency:<name>`` column.
        params: Its constructor parameters.
    """

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        # The registry's grammar, so a spec reads the same here as on the command line.
        if not isinstance(value, str):
            return value
        try:
            name, params = registry.parse_spec(value)
        except PluginError as exc:
            raise ValueError(str(exc)) from None
        return {"name": name, "params": params}

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return known_plugin("hardware", value, "hardware backend")

    @model_validator(mode="after")
    def _params(self) -> BackendSpec:
        if self.params:
            _bind("hardware", self.name, self.params)
        return self

    def __str__(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}:{params}" if params else self.name


class Budget(Section):
    """What every run may spend: evaluations, and optionally wall-clock seconds.

    Attributes:
        evaluations: Evaluations per run (every proposed arch costs one, repeats too).
        wall_seconds: Stop a run after this many seconds even if evaluations remain; such runs
            are no longer reproducible evaluation for evaluation.
    """

    evaluations: int = Field(gt=0, le=MAX_BUDGET)
    wall_seconds: float | None = Field(None, gt=0)


class Engine(Section):
    """How runs are spread over processes or machines.

    Attributes:
        kind: ``joblib`` (local processes, the default), ``dask``, ``ray`` or ``serial``.
        jobs: Parallel workers (default: one per CPU core, at most one per run).
        address: Scheduler address of an existing Dask or Ray cluster (default: a local one).
    """

    kind: Literal["joblib", "dask", "ray", "serial"] = "joblib"
    jobs: int | None = Field(None, ge=1, le=MAX_JOBS)
    address: str | None = None


class ReferenceSection(Section):
    """The random sample that completes the reference front of IGD and fixes default bounds.

    Attributes:
        random_sample: Seeded random archs evaluated with the suite's oracle (0: none).
        seed: Index of the sample within the suite's ``reference_sample`` random stream (apart
            from the runs' and the oracle's streams whatever the numbers).
    """

    random_sample: int = Field(1000, ge=0, le=MAX_REFERENCE_SAMPLE)
    seed: int = Field(0, ge=0)


class HypervolumeSection(Section):
    """The fixed normalisation of objectives for hypervolume and IGD.

    Attributes:
        bounds: ``column: [best-or-worst, other]`` per objective; a missing column takes the range
            of the reference sample (with the space's smallest and largest arch). Finite, ``low <
            high``, and not degenerate: ``high - low >= MIN_SPAN * max(|low|, |high|, 1)``, so no
            measured value lands a billion box widths away (where IGD overflows).
        reference: Reference point per normalised objective, where 0 is the best bound and 1 the
            worst (default: Ishibuchi's ``1 + 1/H`` for the reference front's size, see
            :mod:`ofa_bench.suite.reference`, from 1 to 2); from 1 to :data:`MAX_REFERENCE`, so a
            hypervolume is at most ``MAX_REFERENCE ** m`` and never overflows.
        limits: Constraint levels per column for "best accuracy under limit" (default: the
            constraints' uppers, then quartiles of each minimised objective's bounds); 1 to
            :data:`MAX_LEVELS` finite levels per column, each naming its own metric
            (``best:<column><=<level:g>``); the columns must be costs the records hold (checked by the suite).
    """

    bounds: dict[str, list[float]] = Field(default_factory=dict)
    reference: float | None = None
    limits: dict[str, list[float]] = Field(default_factory=dict)

    @field_validator("bounds")
    @classmethod
    def _bounds(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for column, pair in value.items():
            if len(pair) != 2 or not pair[0] < pair[1]:
                raise ValueError(f"{shown(column)}: must be [low, high] with low < high; got {excerpt(pair)}")
            low, high = pair
            smallest = MIN_SPAN * max(abs(low), abs(high), 1.0)
            if not high - low >= smallest:
                raise ValueError(
                    f"{shown(column)}: [low, high] must span at least {MIN_SPAN:g} x max(|low|, |high|, 1) = "
                    f"{smallest:.3g} (normalised values divide by the span); got {excerpt(pair)}"
                )
        return value

    @field_validator("reference")
    @classmethod
    def _reference(cls, value: float | None) -> float | None:
        if value is not None and not 1.0 <= value <= MAX_REFERENCE:
            raise ValueError(
                f"must be from 1 to {MAX_REFERENCE:g} (normalised units: 1 is each objective's worst bound; "
                f"the default, Ishibuchi's 1 + 1/H, is at most 2); got {excerpt(value)}"
            )
        return value

    @field_validator("limits")
    @classmethod
    def _limits(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for column, levels in value.items():
            if not 1 <= len(levels) <= MAX_LEVELS:
                raise ValueError(f"{shown(column)}: give 1 to {MAX_LEVELS} levels; got {len(levels)}")
            named: dict[str, float] = {}
            for level in levels:
                name = f"{level:g}"  # the metric's name: best:<column><=<level:g>
                if name in named:
                    raise ValueError(
                        f"{shown(column)}: levels {named[name]!r} and {level!r} both name the metric "
                        f"best:{shown(column)}<={name}; give distinct levels"
                    )
                named[name] = level
        return value
