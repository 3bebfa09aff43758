"""Base classes for the three plug-in kinds: search strategies, accuracy predictors, hardware backends.

A plug-in subclasses one of these, implements its few abstract methods and is declared under the
matching entry-point group (see :mod:`ofa_bench.plugins.registry`).
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from typing import Self

    from numpy.typing import ArrayLike

    from ofa_bench.space import Arch, SearchSpace

__all__ = [
    "DESCRIBE_KEYS",
    "BuildableBackend",
    "Constraint",
    "HardwareBackend",
    "Objective",
    "Predictor",
    "Strategy",
]

#: Keys every :meth:`HardwareBackend.describe` result must contain; they are recorded with results.
DESCRIBE_KEYS: tuple[str, ...] = ("name", "device", "version", "units")


@dataclass(frozen=True)
class Objective:
    """One column of the records to optimise.

    Attributes:
        column: Record column, e.g. ``"accuracy"`` or ``"latency:mmacs"``.
        direction: ``"min"`` to minimise the column, ``"max"`` to maximise it.
    """

    column: str
    direction: Literal["min", "max"] = "min"

    def __post_init__(self) -> None:
        if self.direction not in ("min", "max"):
            raise ValueError(
                f"objective {self.column!r}: direction must be 'min' or 'max', "
                f"got {self.direction!r}"
            )


@dataclass(frozen=True)
class Constraint:
    """An upper limit on one column of the records.

    Attributes:
        column: Record column, e.g. ``"latency:mmacs"``.
        upper: Largest allowed value (inclusive).
    """

    column: str
    upper: float


class Strategy(abc.ABC):
    """A search strategy speaking ask-and-tell; the harness owns the loop and the budget.

    Subclasses implement :meth:`ask` and may override :meth:`tell` and the :meth:`_setup` hook.
    After :meth:`setup` the strategy has ``space``, ``objectives``, ``constraints`` and ``rng``.
    """

    name: ClassVar[str] = ""

    space: SearchSpace
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...]
    rng: np.random.Generator

    def setup(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint] = (),
        seed: int | None = None,
    ) -> None:
        """Prepare for one search run.

        Args:
            space: The search space to propose archs from.
            objectives: What to optimise.
            constraints: Upper limits proposals should respect.
            seed: Seed of ``self.rng``; the only source of randomness a strategy may use.
        """
        self.space = space
        self.objectives = tuple(objectives)
        self.constraints = tuple(constraints)
        self.rng = np.random.default_rng(seed)
        self._setup()

    def _setup(self) -> None:
        """Hook called at the end of :meth:`setup`; state that depends on the space goes here."""

    @abc.abstractmethod
    def ask(self, n: int) -> list[Arch]:
        """Propose archs to evaluate next.

        Args:
            n: How many archs to propose.

        Returns:
            ``n`` archs of ``self.space``.
        """

    def tell(self, archs: Sequence[Arch], records: Sequence[Mapping[str, Any]]) -> None:
        """Receive the measurements of archs proposed earlier; does nothing by default.

        Args:
            archs: The evaluated archs.
            records: One record (column name to value) per arch, in the same order.
        """

    def ask_array(self, n: int) -> np.ndarray:
        """Propose archs as an ``(n, space.n_columns)`` array; by default wraps :meth:`ask`.

        Built-in strategies override this (and :meth:`tell_array`) so a loop over cheap
        evaluations never builds :class:`Arch` objects.
        """
        archs = self.ask(n)
        if isinstance(archs, np.ndarray):
            from ofa_bench.errors import PluginError

            raise PluginError(
                f"search strategy {self.name or type(self).__name__!r}: ask() returned a numpy array; it returns "
                "a list of Arch (a strategy that works on batch arrays overrides ask_array() and tell_array() instead)"
            )
        return self.space.to_array(archs)

    def tell_array(self, array: np.ndarray, records: Mapping[str, np.ndarray]) -> None:
        """Receive measurements column-wise (``records[column][i]`` is of ``array[i]``); wraps :meth:`tell`.

        Args:
            array: ``(n, space.n_columns)`` choice values of the evaluated archs.
            records: Column name to a float array of ``n`` values, NaN where a measurement failed.
        """
        rows = [{c: float(v[i]) for c, v in records.items()} for i in range(len(array))]
        self.tell(self.space.from_array(array), rows)

    def random_start(self, budget: int) -> int | None:
        """How many of a run's first evaluations are uniform random archs, for the report.

        A strategy that starts from random archs before it models or selects (a first population,
        startup trials) says how many here, given the run's budget; the report lists it beside
        every strategy so readers see how much of each budget went to chance. ``None`` (the
        default) means not declared, shown as "–".
        """
        return None

    def preferred_batch_size(self) -> int:
        """How many archs the strategy likes to be asked for at once; a loop's default batch size.

        The default, 10, keeps the loop's per-batch costs (conversion to arrays, evaluation calls,
        logging) small for a plain plug-in: at 1, a 40-line strategy on a surrogate oracle spent 16 s
        per run where built-ins spent under 1 s. A strategy that must see every result before its
        next proposal returns 1; one that proposes a generation at a time returns its size.
        """
        return 10

    def reseed_rng(self, seed: int | None = None) -> None:
        """Replace ``self.rng``, e.g. so parallel workers do not share a random stream.

        Args:
            seed: New seed; ``None`` draws fresh entropy.
        """
        self.rng = np.random.default_rng(seed)


class Predictor(abc.ABC):
    """An accuracy predictor (surrogate) following scikit-learn's estimator conventions.

    The constructor takes keyword parameters, stores each under its own name and does no work;
    :meth:`fit` returns ``self`` and names learned state with a trailing underscore.
    :meth:`get_params` and :meth:`set_params` come from the constructor signature. A predictor
    whose :meth:`predict` also takes an ``(n, space.n_columns)`` batch array of the space it was
    fitted on declares ``accepts_arrays = True`` (:class:`~ofa_bench.plugins.ArchRegressor` does);
    searches then hand it populations without building :class:`Arch` objects.
    """

    name: ClassVar[str] = ""
    #: Whether :meth:`predict` (and :meth:`predict_std`) take a batch array as well as a list of archs.
    accepts_arrays: ClassVar[bool] = False

    @abc.abstractmethod
    def fit(self, archs: Sequence[Arch], y: ArrayLike) -> Self:
        """Learn from measured archs.

        Args:
            archs: Training archs.
            y: One target value per arch.

        Returns:
            ``self``.
        """

    @abc.abstractmethod
    def predict(self, archs: Sequence[Arch]) -> np.ndarray:
        """Predict the target of each arch.

        Args:
            archs: Archs to predict.

        Returns:
            Float array of shape ``(len(archs),)``.
        """

    def predict_std(self, archs: Sequence[Arch]) -> np.ndarray:
        """Predict the standard deviation of each prediction, for predictors that estimate it.

        Args:
            archs: Archs to predict.

        Returns:
            Float array of shape ``(len(archs),)``.

        Raises:
            NotImplementedError: The predictor gives no uncertainty.
        """
        raise NotImplementedError(f"{type(self).__name__} does not estimate uncertainty")

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """Return the constructor's parameter names, sorted."""
        if cls.__init__ is object.__init__:
            return []
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
        for p in parameters:
            # Parameters must be enumerable for get_params/clone to round-trip, as in scikit-learn.
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(
                    f"{cls.__name__}.__init__ must not take *args or **kwargs; "
                    f"got {p} (predictors list every parameter by name)"
                )
        return sorted(p.name for p in parameters)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor parameters of this predictor.

        Args:
            deep: Also return the parameters of parameters that have ``get_params``, as
                ``"<param>__<sub-param>"``.

        Returns:
            Parameter name to value.
        """
        params: dict[str, Any] = {}
        for key in self._get_param_names():
            value = getattr(self, key)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update((f"{key}__{k}", v) for k, v in value.get_params().items())
            params[key] = value
        return params

    def set_params(self, **params: Any) -> Self:
        """Set constructor parameters; ``"<param>__<sub-param>"`` reaches into nested objects.

        Args:
            **params: Parameter name to new value.

        Returns:
            ``self``.

        Raises:
            ValueError: A name is not a constructor parameter.
        """
        valid = self._get_param_names()
        nested: dict[str, dict[str, Any]] = {}
        for full_key, value in params.items():
            key, sep, sub_key = full_key.partition("__")
            if key not in valid:
                raise ValueError(
                    f"invalid parameter {key!r} for predictor {type(self).__name__}; "
                    f"valid: {', '.join(valid) or 'none'}"
                )
            if sep:
                nested.setdefault(key, {})[sub_key] = value
            else:
                setattr(self, key, value)
        for key, sub_params in nested.items():
            getattr(self, key).set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({args})"


class HardwareBackend(abc.ABC):
    """A source of latency for archs: analytic proxy, lookup table or on-device runner.

    Subclasses set the class attribute ``name`` and implement :meth:`latency` and :meth:`describe`.
    A backend that also takes a batch as an ``(n, space.n_columns)`` array of choice values (how
    strategies hold populations), called ``latency(array, space=space)``, declares it with
    ``accepts_arrays = True``; the harness then never builds :class:`Arch` objects for it.
    """

    name: ClassVar[str] = ""
    #: Whether :meth:`latency` takes ``(array, space=space)`` as well as a list of archs.
    accepts_arrays: ClassVar[bool] = False

    @abc.abstractmethod
    def latency(self, archs: Sequence[Arch]) -> np.ndarray:
        """Measure or estimate the latency of a batch of archs.

        Args:
            archs: Archs, all from one search space.

        Returns:
            Float64 array of shape ``(len(archs),)`` in milliseconds, or in the units that
            :meth:`describe` names for proxies.
        """

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """Describe this backend for provenance.

        Returns:
            A dict with at least the keys in :data:`DESCRIBE_KEYS` (``name``, ``device``,
            ``version``, ``units``); ``deterministic: True`` declares that repeated calls give
            equal results.
        """

    def is_available(self) -> bool:
        """Return whether this backend can run here (e.g. its device is present)."""
        return True


@runtime_checkable
class BuildableBackend(Protocol):
    """An optional capability of a :class:`HardwareBackend` class: it is built by profiling a runner.

    A lookup table is the example: every distinct layer of a space is timed on a runner and the
    table written to a file. ``ofa-bench hardware build-lut --backend NAME`` builds any registered
    backend class that has this capability (checked with ``isinstance(cls, BuildableBackend)``),
    so a third-party table format is built the same way as ours.
    """

    @classmethod
    def build(
        cls, space: Any, runner: Any, out: Any, *, progress: Any = None, **settings: Any
    ) -> HardwareBackend:
        """Profile ``runner`` on ``space``, write what is measured to ``out`` and return the backend reading it."""
        ...
