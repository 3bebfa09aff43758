"""Conformance checks every search strategy should pass.

Subclass :class:`StrategyTests` as ``Test...`` and override the ``strategy`` fixture to return a
fresh, not yet set up instance; every check then runs against it::

    class TestMyStrategy(StrategyTests):
        handles_constraints = True

        @pytest.fixture
        def strategy(self):
            return MyStrategy(population_size=8)

Archs are measured by :func:`synthetic_records`: a fixed random linear "accuracy" over one-hot
features and the exact analytic costs, so the checks take seconds and need no benchmark.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import pytest

from ofa_bench.objectives import ANALYTIC_COLUMNS, analytic_columns
from ofa_bench.plugins.interfaces import Constraint, Objective, Strategy
from ofa_bench.plugins.testing.conformance import ConformanceTests
from ofa_bench.space import Arch, SearchSpace

__all__ = ["StrategyTests", "drive", "synthetic_records"]

MULTI = (Objective("accuracy", "max"), Objective("latency:mmacs", "min"))
SINGLE = (Objective("accuracy", "max"),)


def synthetic_records(space: SearchSpace, archs: Sequence[Arch]) -> list[dict[str, float]]:
    """Deterministic records: ``accuracy`` in (0, 1) from a fixed linear form, ``loss``, and analytic costs."""
    array = space.to_array(archs)
    features = space.encode_onehot(array)
    weights = np.random.default_rng(12345).normal(size=features.shape[1])
    # A row-wise sum, not a matrix product: BLAS results change in the last bit with the batch
    # size, and records must not depend on which archs were measured together.
    accuracy = 1.0 / (1.0 + np.exp(-(features * weights).sum(axis=1) / 4.0))
    columns = {"accuracy": accuracy, "loss": 1.0 - accuracy, **analytic_columns(space, array, ANALYTIC_COLUMNS)}
    return [{k: float(v[i]) for k, v in columns.items()} for i in range(len(archs))]


def drive(
    strategy: Strategy,
    space: SearchSpace,
    budget: int,
    *,
    seed: int = 0,
    batch: int = 4,
    objectives: Sequence[Objective] = MULTI,
    constraints: Sequence[Constraint] = (),
    records: Callable[[SearchSpace, list[Arch]], list[dict[str, Any]]] = synthetic_records,
    setup: bool = True,
) -> list[list[Arch]]:
    """Set up (optionally) and run ask/tell to ``budget`` archs; return the asked batches."""
    if setup:
        strategy.setup(space, objectives, constraints, seed)
    batches = []
    done = 0
    while done < budget:
        n = min(batch, budget - done)
        archs = strategy.ask(n)
        batches.append(archs)
        strategy.tell(archs, records(space, archs))
        done += n
    return batches


def _failing(every: int) -> Callable[[SearchSpace, list[Arch]], list[dict[str, Any]]]:
    """Records where every ``every``-th arch failed (values ``None`` or NaN, some columns missing)."""
    counter = [0]

    def records(space: SearchSpace, archs: list[Arch]) -> list[dict[str, Any]]:
        out = synthetic_records(space, archs)
        for record in out:
            counter[0] += 1
            if counter[0] % every == 0:
                kind = counter[0] // every % 3
                if kind == 0:
                    record.update({k: None for k in record})
                elif kind == 1:
                    record.update({k: math.nan for k in record})
                else:
                    record.clear()
        return out

    return records


class StrategyTests(ConformanceTests):
    """Checks for a :class:`Strategy`; subclass as ``Test...`` and override ``strategy``.

    Attributes:
        handles_constraints: Whether the strategy promises that every proposal meets constraints
            on analytic columns (MACs, params); ``None`` reads the strategy's own
            ``handles_constraints`` attribute (absent: no promise).
        budget: Archs per run in the checks; large enough to leave any start-up phase.
        optimises: Whether the strategy steers by the values it is told; ``False`` (random search)
            skips the check that maximising and minimising an objective lead to different archs.
    """

    handles_constraints: ClassVar[bool | None] = None
    budget: ClassVar[int] = 48
    optimises: ClassVar[bool] = True

    @pytest.fixture
    def strategy(self) -> Strategy:
        """A fresh strategy, not set up; override this fixture."""
        self._must_override("strategy")

    @pytest.fixture
    def fresh(self, strategy: Strategy) -> Callable[[], Strategy]:
        """Make more fresh instances like ``strategy`` (copied before it is set up)."""
        template = copy.deepcopy(strategy)
        return lambda: copy.deepcopy(template)

    def _claims_constraints(self, strategy: Strategy) -> bool:
        if self.handles_constraints is not None:
            return self.handles_constraints
        return bool(getattr(strategy, "handles_constraints", False))

    # ----- the checks -----------------------------------------------------------------------------

    def test_is_strategy(self, strategy: Strategy) -> None:
        """The plug-in subclasses :class:`Strategy` and has a name."""
        assert isinstance(strategy, Strategy)
        assert isinstance(strategy.name, str) and strategy.name

    def test_parameters_are_stored_under_their_own_names(self, strategy: Strategy) -> None:
        """Every constructor parameter is an attribute of that name (a run records them so, to be rerun)."""
        self._check_parameters_stored(strategy)

    def test_ask_respects_n(self, strategy: Strategy, space: SearchSpace) -> None:
        """``ask(n)`` returns exactly ``n`` archs, for several ``n`` and between tells."""
        strategy.setup(space, MULTI, (), 0)
        for n in (1, 3, 0, 8, 2):
            archs = strategy.ask(n)
            assert isinstance(archs, list) and len(archs) == n
            strategy.tell(archs, synthetic_records(space, archs))

    def test_proposes_only_valid_archs(self, strategy: Strategy, space: SearchSpace) -> None:
        """Every proposal is an :class:`Arch` of the space that passes validation."""
        for batch in drive(strategy, space, self.budget):
            for arch in batch:
                assert isinstance(arch, Arch) and arch.space == space
                assert space.arch(arch.ks, arch.e, arch.d, arch.r) == arch

    def test_deterministic_for_a_seed(self, fresh: Callable[[], Strategy], space: SearchSpace) -> None:
        """The same seed and the same tells give the same asks; another seed gives others."""
        first = drive(fresh(), space, self.budget, seed=3)
        assert drive(fresh(), space, self.budget, seed=3) == first
        assert drive(fresh(), space, self.budget, seed=4) != first

    def test_resumable_from_told_history(self, fresh: Callable[[], Strategy], space: SearchSpace) -> None:
        """A new instance replaying the logged asks and tells continues exactly like the original."""
        whole = drive(fresh(), space, self.budget, seed=5, batch=3)
        cut = len(whole) // 2
        replay = fresh()
        replay.setup(space, MULTI, (), 5)
        for batch in whole[:cut]:
            assert replay.ask(len(batch)) == batch
            replay.tell(batch, synthetic_records(space, batch))
        assert drive(replay, space, self.budget - 3 * cut, batch=3, setup=False) == whole[cut:]

    def test_warm_start_from_foreign_history(self, fresh: Callable[[], Strategy], space: SearchSpace) -> None:
        """Told archs it never proposed (an archive), it still proposes valid archs."""
        archive = space.sample(20, rng=9)
        strategy = fresh()
        strategy.setup(space, MULTI, (), 0)
        strategy.tell(archive, synthetic_records(space, archive))
        batches = drive(strategy, space, self.budget // 2, setup=False)
        assert sum(len(b) for b in batches) == self.budget // 2

    def test_respects_constraints(self, fresh: Callable[[], Strategy], space: SearchSpace) -> None:
        """With constraints on analytic columns, every proposal meets them (where claimed)."""
        strategy = fresh()
        if not self._claims_constraints(strategy):
            pytest.skip(f"{type(strategy).__name__} does not claim to respect constraints")
        sample = space.sample_array(500, rng=1)
        costs = analytic_columns(space, sample, ["macs", "latency:mparams"])
        limits = (
            Constraint("macs", float(np.quantile(costs["macs"], 0.3))),
            Constraint("latency:mparams", float(np.quantile(costs["latency:mparams"], 0.7))),
        )
        batches = drive(strategy, space, self.budget, constraints=limits)
        array = space.to_array([a for b in batches for a in b])
        values = analytic_columns(space, array, [c.column for c in limits])
        for limit in limits:
            assert (values[limit.column] <= limit.upper).all(), f"a proposal breaks {limit}"

    def test_survives_failed_evaluations(self, strategy: Strategy, space: SearchSpace) -> None:
        """Records with ``None``, NaN or missing values (failed measurements) do not break it."""
        batches = drive(strategy, space, self.budget, records=_failing(every=2))
        assert sum(len(b) for b in batches) == self.budget

    def test_survives_all_evaluations_failing(self, strategy: Strategy, space: SearchSpace) -> None:
        """Even when nothing could be measured, it keeps proposing valid archs."""
        batches = drive(strategy, space, self.budget, records=_failing(every=1))
        assert all(isinstance(a, Arch) for b in batches for a in b)

    def test_survives_duplicate_and_empty_tells(self, strategy: Strategy, space: SearchSpace) -> None:
        """Telling an arch twice, an arch twice in one batch, or nothing at all is fine."""
        strategy.setup(space, MULTI, (), 0)
        archs = strategy.ask(4)
        records = synthetic_records(space, archs)
        strategy.tell(archs, records)
        strategy.tell(archs[:2] + archs[:1], records[:2] + records[:1])
        strategy.tell([], [])
        assert len(strategy.ask(5)) == 5

    def test_single_objective(self, fresh: Callable[[], Strategy], space: SearchSpace) -> None:
        """One objective works and steers the search: maximising it finds better archs than minimising it.

        The later half of a run's proposals is compared, so a shared random start does not count;
        a strategy that ignores what it is told (``optimises = False``) only has to run.
        """
        up = drive(fresh(), space, self.budget, objectives=SINGLE)
        down = drive(fresh(), space, self.budget, objectives=(Objective("accuracy", "min"),))

        def later_half(batches: list[list[Arch]]) -> float:
            archs = [a for b in batches for a in b]
            return float(np.mean([r["accuracy"] for r in synthetic_records(space, archs[len(archs) // 2 :])]))

        assert sum(len(b) for b in up) == sum(len(b) for b in down) == self.budget
        if self.optimises:
            assert later_half(up) > later_half(down), "maximising and minimising accuracy proposed alike"

    def test_random_start_is_declared_within_the_budget(self, strategy: Strategy) -> None:
        """``random_start(budget)`` is ``None`` (not declared) or a count between 0 and the budget."""
        for budget in (1, self.budget, 10_000):
            start = strategy.random_start(budget)
            assert start is None or (isinstance(start, (int, np.integer)) and 0 <= start <= budget), start

    def test_array_path_matches_arch_path(self, fresh: Callable[[], Strategy], space: SearchSpace) -> None:
        """``ask_array``/``tell_array`` (what the search loop calls) agree with ``ask``/``tell``."""
        by_arch = drive(fresh(), space, self.budget // 2, seed=7)
        strategy = fresh()
        strategy.setup(space, MULTI, (), 7)
        for batch in by_arch:
            array = strategy.ask_array(len(batch))
            assert space.from_array(array) == batch
            rows = synthetic_records(space, batch)
            strategy.tell_array(array, {k: np.array([r[k] for r in rows]) for k in rows[0]})
