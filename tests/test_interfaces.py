"""Tests of the plug-in base classes and the conformance kit."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ofa_bench_testplugin import ConstantBackend

from ofa_bench.plugins.interfaces import Constraint, HardwareBackend, Objective, Predictor, Strategy
from ofa_bench.plugins.testing import HardwareBackendTests
from ofa_bench.space import Arch, get_space


class MeanPredictor(Predictor):
    """Predicts the training mean, shrunk towards a prior."""

    name = "mean"

    def __init__(self, *, prior: float = 0.0, shrink: float = 0.5, inner: Any = None) -> None:
        self.prior = prior
        self.shrink = shrink
        self.inner = inner

    def fit(self, archs: Sequence[Arch], y: Any) -> MeanPredictor:
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, archs: Sequence[Arch]) -> np.ndarray:
        value = self.shrink * self.prior + (1 - self.shrink) * self.mean_
        return np.full(len(archs), value)


class FirstStrategy(Strategy):
    """Proposes samples and counts what it is told."""

    def _setup(self) -> None:
        self.told = 0

    def ask(self, n: int) -> list[Arch]:
        return self.space.sample(n, rng=self.rng)

    def tell(self, archs: Sequence[Arch], records: Sequence[Any]) -> None:
        self.told += len(archs)


def test_get_params_lists_constructor_parameters() -> None:
    predictor = MeanPredictor(prior=1.0)
    assert predictor.get_params(deep=False) == {"inner": None, "prior": 1.0, "shrink": 0.5}


def test_set_params_round_trips() -> None:
    predictor = MeanPredictor()
    params = MeanPredictor(prior=2.0, shrink=0.1).get_params()
    assert predictor.set_params(**params) is predictor
    assert predictor.get_params() == params
    assert repr(predictor) == "MeanPredictor(inner=None, prior=2.0, shrink=0.1)"


def test_nested_params() -> None:
    predictor = MeanPredictor(inner=MeanPredictor(prior=3.0))
    assert predictor.get_params()["inner__prior"] == 3.0
    predictor.set_params(inner__shrink=0.9)
    assert predictor.inner.shrink == 0.9


def test_set_params_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="invalid parameter 'alpha' for predictor MeanPredictor"):
        MeanPredictor().set_params(alpha=1.0)


def test_varargs_constructor_is_rejected() -> None:
    class Loose(MeanPredictor):
        def __init__(self, **kwargs: Any) -> None:
            pass

    with pytest.raises(TypeError, match="must not take"):
        Loose().get_params()


def test_fit_predict_and_default_predict_std() -> None:
    archs = get_space("ofa-mini").sample(3, rng=0)
    predictor = MeanPredictor(shrink=0.0).fit(archs, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(predictor.predict(archs), [2.0, 2.0, 2.0])
    with pytest.raises(NotImplementedError, match="MeanPredictor does not estimate uncertainty"):
        predictor.predict_std(archs)


def test_strategy_setup_stores_state_and_seeds_rng() -> None:
    space = get_space("ofa-mini")
    objectives = [Objective("accuracy", "max"), Objective("latency:mmacs")]
    first, second = FirstStrategy(), FirstStrategy()
    first.setup(space, objectives, [Constraint("latency:mmacs", 100.0)], seed=1)
    second.setup(space, objectives, seed=1)
    assert first.objectives == tuple(objectives) and second.constraints == ()
    assert first.told == 0
    assert first.ask(4) == second.ask(4)
    first.tell(first.ask(2), [{}, {}])
    assert first.told == 2
    first.reseed_rng(1)
    second.reseed_rng(1)
    assert first.ask(3) == second.ask(3)


def test_objective_rejects_bad_direction() -> None:
    with pytest.raises(ValueError, match="direction must be 'min' or 'max'"):
        Objective("accuracy", "up")  # type: ignore[arg-type]


def test_abstract_methods_are_enforced() -> None:
    class Incomplete(HardwareBackend):
        name = "incomplete"

    with pytest.raises(TypeError):
        Incomplete()  # type: ignore[abstract]


class TestConstantBackend(HardwareBackendTests):
    """The test plug-in passes the conformance kit, as a third-party backend would."""

    @pytest.fixture
    def backend(self) -> HardwareBackend:
        return ConstantBackend()


def test_plain_strategy_is_asked_in_batches_of_ten() -> None:
    """A plug-in that says nothing about batches is not asked one arch at a time."""
    from ofa_bench.search.loop import run_search

    strategy = FirstStrategy()
    assert strategy.preferred_batch_size() == 10
    space = get_space("ofa-mini")

    def evaluate(archs):
        return [{"accuracy": 0.5} for _ in archs]

    result = run_search(strategy, space, "accuracy", [], evaluate, 25, seed=0)
    assert len(result) == 25 and strategy.told == 25
    assert np.bincount(result.batch)[1:].tolist() == [10, 10, 5]


def test_a_failed_kit_check_shows_the_values_it_compared(tmp_path: Path) -> None:
    """pytest rewrites the kits' asserts (they are registered before import), not only the author's test file."""
    (tmp_path / "test_short_backend.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            import pytest
            from ofa_bench.plugins import HardwareBackend
            from ofa_bench.plugins.testing import HardwareBackendTests

            class Short(HardwareBackend):
                name = "short"

                def latency(self, archs):
                    return np.ones(max(len(archs) - 1, 0))

                def describe(self):
                    return {"name": self.name, "device": "cpu", "version": "0", "units": "ms"}

            class TestShort(HardwareBackendTests):
                @pytest.fixture
                def backend(self):
                    return Short()
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "shape_and_values", tmp_path],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-2000:]
    assert re.search(r"^E\s+assert \(\d+,\) == \(\d+,\)$", done.stdout, flags=re.MULTILINE), done.stdout[-2000:]
