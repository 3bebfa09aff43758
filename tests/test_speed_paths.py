"""The fast paths of issue 27 give exactly what the paths they replace gave.

The search loop's hot path (strategy bookkeeping, the MLP predictor's first layer, the analytic
columns of a predictor evaluation) was made cheaper without changing a single proposed arch or
predicted value: these tests hold each fast path to its slower reference, and pin the archs an
``ofa-evolution`` run proposes for a fixed seed (they were recorded before the change).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from ofa_bench_predictors.mlp import _onehot_codes
from ofa_bench_strategies._base import History, Seen, row_hash

from ofa_bench.objectives import ANALYTIC_COLUMNS, analytic_columns, parse_objectives
from ofa_bench.plugins import registry
from ofa_bench.plugins.encoding import onehot_codes
from ofa_bench.search.loop import run_search
from ofa_bench.search.predictor_evaluate import PredictorEvaluate
from ofa_bench.space import get_space

SPACES = ("ofa-mini", "ofa-mbv3-w1.0", "ofa-mbv3-w1.2")


@pytest.mark.parametrize("name", SPACES)
def test_mlp_codes_equal_the_encoding_modules(name: str) -> None:
    space = get_space(name)
    for seed in range(5):
        normalised = space.sample_array(97, seed)
        raw = space._tables.draw(np.random.default_rng(seed), (41, space.n_columns))  # inactive blocks not reset
        for array in (normalised, raw, normalised[::3], np.asfortranarray(normalised)):
            np.testing.assert_array_equal(_onehot_codes(array, space), onehot_codes(array, space))


class _Constant:
    """A predictor of the arch's resolution: enough to exercise the evaluation's columns."""

    accepts_arrays = True

    def predict(self, array: np.ndarray) -> np.ndarray:
        return array[:, -1].astype(np.float64)


@pytest.mark.parametrize("name", SPACES)
def test_predictor_evaluate_columns_equal_analytic_columns(name: str) -> None:
    space = get_space(name)
    array = space.sample_array(64, 3)
    got = PredictorEvaluate(space, _Constant()).evaluate_array(array)
    expected = analytic_columns(space, array, ANALYTIC_COLUMNS, validate=False)
    assert list(got) == ["accuracy", *expected]
    for column, values in expected.items():
        assert got[column].dtype == np.float64
        np.testing.assert_array_equal(got[column], values)
    got["macs"][0] = -1.0  # every column its own array
    assert all(v[0] != -1.0 for c, v in got.items() if c != "macs")


def test_history_joins_batches_on_read() -> None:
    """Rows read back in order however adds and reads interleave; the caller's arrays are copied."""
    history = History(3, 1, 2)
    rng = np.random.default_rng(0)
    X_all, F_all, G_all = [], [], []
    for i, size in enumerate((5, 70, 1, 0, 130, 9, 64)):
        X, F, G = rng.integers(0, 9, (size, 3)), rng.random((size, 1)), rng.random((size, 2))
        X_all.append(X.copy())
        F_all.append(F.copy())
        G_all.append(G.copy())
        history.add(X, F, G)
        X[:], F[:], G[:] = -1, -1.0, -1.0
        assert history.n == sum(len(x) for x in X_all)
        if i % 2:  # read every other batch: joins of one and of several batches
            np.testing.assert_array_equal(history.X, np.concatenate(X_all))
    np.testing.assert_array_equal(history.X, np.concatenate(X_all))
    np.testing.assert_array_equal(history.F, np.concatenate(F_all))
    np.testing.assert_array_equal(history.G, np.concatenate(G_all))
    assert history.n == 279


def test_seen_fresh_hashes_skip_only_the_checks() -> None:
    rng = np.random.default_rng(1)
    rows = rng.integers(0, 7, (300, 10))
    checked, fresh = Seen(), Seen()
    checked.add(rows[:200])
    unique_first = np.unique(row_hash(rows[:200]))
    fresh.add_hashes(unique_first, fresh=True)
    assert len(checked) == len(fresh)
    probe = row_hash(rows)
    np.testing.assert_array_equal(checked.contains(probe), fresh.contains(probe))


def _cheap_evaluate(space):
    weights = np.random.default_rng(1).random(space.encode_onehot(space.sample_array(1, 0)).shape[1])

    class Cheap:
        def evaluate_array(self, array: np.ndarray) -> dict[str, np.ndarray]:
            return {"accuracy": space.encode_onehot(array) @ weights / 60.0, **analytic_columns(space, array, ANALYTIC_COLUMNS)}

    return Cheap()


#: sha1 (first 16 hex) of the proposed archs, recorded before the fast paths existed.
PINNED = {
    ("ofa-evolution", "ofa-mbv3-w1.0", "accuracy", ("macs<=3e8",), 0, (), 1500): "ef7f2e0602963dc5",
    ("ofa-evolution", "ofa-mbv3-w1.0", "accuracy", ("macs<=1.5e8",), 1, (("population_size", 50),), 2000): "cbafa18bb271b3db",
    ("ofa-evolution", "ofa-mbv3-w1.0", "accuracy", ("macs<=3e8", "params<=6e6"), 2, (("dedupe", False),), 1500):
        "069687c9c2eb4eee",
    ("pareto-evolution", "ofa-mbv3-w1.0", "accuracy,latency:mmacs", ("macs<=3e8",), 0, (), 1500): "38793b4a4f627202",
    ("regularized-evolution", "ofa-mbv3-w1.0", "accuracy,latency:mmacs", ("macs<=3e8",), 3, (), 1500):
        "6eca753a06393028",
    ("local-search", "ofa-mbv3-w1.0", "accuracy,latency:mmacs", ("macs<=3e8",), 0, (), 1500): "31b9e34d5e49aa4a",
    ("ofa-evolution", "ofa-mini", "accuracy", (), 0, (("population_size", 20),), 400): "e3321e4c69f1a8bd",
}  # fmt: skip


@pytest.mark.parametrize("case", list(PINNED), ids=lambda c: f"{c[0]}-{c[1]}-{c[4]}")
def test_strategies_propose_the_archs_they_proposed_before(case) -> None:
    name, space_name, objectives, constraints, seed, params, budget = case
    space = get_space(space_name)
    result = run_search(
        name, space, objectives, list(constraints), _cheap_evaluate(space), budget, seed=seed, strategy_params=dict(params)
    )
    digest = hashlib.sha1(np.ascontiguousarray(result.X, dtype=np.int64).tobytes()).hexdigest()[:16]
    assert digest == PINNED[case]


def test_strategy_remembers_every_asked_and_told_arch() -> None:
    space = get_space("ofa-mini")
    strategy = registry.create("strategy", "ofa-evolution", population_size=12)
    strategy.setup(space, parse_objectives("accuracy"), (), 5)
    evaluate = _cheap_evaluate(space)
    asked = []
    for _ in range(6):
        X = strategy.ask_array(12)
        asked.append(X.copy())
        strategy.tell_array(X.copy(), evaluate.evaluate_array(X))
    other = space.sample_array(7, 99)  # told without being asked for
    strategy.tell_array(other, evaluate.evaluate_array(other))
    everything = np.concatenate([*asked, other])
    assert len(strategy.seen) == len(np.unique(row_hash(everything)))
    assert strategy.seen.contains(row_hash(everything)).all()
    assert strategy.history.n == len(everything)
    np.testing.assert_array_equal(strategy.history.X, everything)
