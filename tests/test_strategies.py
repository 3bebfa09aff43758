"""The strategy conformance kit applied to every built-in, plus checks specific to each.

Built-ins run with small settings (populations of 8-12) so a whole run of the kit fits in seconds;
the surrogate strategy uses a tiny least-squares predictor defined here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ofa_bench.errors import OfaBenchError
from ofa_bench.objectives import analytic_columns
from ofa_bench.plugins import registry
from ofa_bench.plugins.interfaces import Constraint, Objective, Predictor, Strategy
from ofa_bench.plugins.testing import StrategyTests
from ofa_bench.plugins.testing.strategies import MULTI, SINGLE, drive, synthetic_records
from ofa_bench.space import get_space

MINI = get_space("ofa-mini")


class LeastSquares(Predictor):
    """A tiny ridge regression on one-hot features: fast and deterministic."""

    name = "least-squares-test"

    def __init__(self, *, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, archs, y):
        X = MINI.encode_onehot(archs)
        self.coef_ = np.linalg.solve(X.T @ X + self.alpha * np.eye(X.shape[1]), X.T @ np.asarray(y, dtype=float))
        return self

    def predict(self, archs):
        return MINI.encode_onehot(archs) @ self.coef_


SMALL = {
    "random": {},
    "ofa-evolution": {"population_size": 8},
    "regularized-evolution": {"population_size": 8, "sample_size": 3},
    "pareto-evolution": {"population_size": 8},
    "nsga2": {"pop_size": 8},
    "tpe": {"n_startup_trials": 8},
    "local-search": {"n_initial": 6},
    "surrogate": {"predictor": LeastSquares(), "n_initial": 10, "batch": 6, "generations": 3, "pop_size": 12},
    # No benchmark: the zc predictor's random stand-in weights and images (the kit needs no data).
    "zc-evolution": {"population_size": 8, "sample_size": 3, "n_candidates": 16, "batch_size": 8},
}


@pytest.fixture(params=sorted(SMALL))
def builtin(request: pytest.FixtureRequest) -> str:
    return request.param


class TestBuiltins(StrategyTests):
    """Every check of the kit, for every built-in strategy."""

    @pytest.fixture
    def strategy(self, builtin: str, request: pytest.FixtureRequest) -> Strategy:
        # Random search ignores what it is told: the kit only checks that it runs on one objective.
        request.instance.optimises = builtin != "random"
        return registry.create("strategy", builtin, **SMALL[builtin])


def test_every_declared_strategy_is_covered() -> None:
    """Every strategy our own pyproject declares runs through the kit (and the kit names only those)."""
    from importlib.metadata import entry_points

    ours = entry_points(group="ofa_bench.strategies")
    declared = {ep.name for ep in ours if ep.value.startswith("ofa_bench_strategies.")}
    assert declared == set(SMALL)
    for name in SMALL:
        assert registry.get("strategy", name).name == name


@pytest.mark.parametrize("name", ["ofa-evolution", "regularized-evolution", "nsga2", "surrogate"])
def test_bad_parameters_are_one_line_errors(name: str) -> None:
    bad = {
        "ofa-evolution": {"population_size": 1}, "regularized-evolution": {"sample_size": 9, "population_size": 8},
        "nsga2": {"mutate_prob": 2.0}, "surrogate": {"batch": 0},
    }[name]  # fmt: skip
    with pytest.raises(OfaBenchError) as exc:
        registry.create("strategy", name, **bad)
    assert "\n" not in str(exc.value) and name in str(exc.value)


def test_evolution_keeps_ofa_defaults() -> None:
    strategy = registry.create("strategy", "ofa-evolution")
    assert (strategy.population_size, strategy.parent_ratio, strategy.mutation_ratio) == (100, 0.25, 0.5)
    assert (strategy.mutate_prob, strategy.resolution_mutate_prob) == (0.1, 0.5)
    assert strategy.n_parents == 25 and strategy.preferred_batch_size() == 100


#: Evolution settings under which children are plain copies of parents (nothing is resampled).
COPIES = {
    "population_size": 20, "mutation_ratio": 1.0, "mutate_prob": 0.0, "resolution_mutate_prob": 0.0, "dedupe": False
}  # fmt: skip


def test_evolution_parents_are_the_best_told() -> None:
    """After one generation, the next children descend from the best ``parent_ratio`` of the pool."""
    strategy = registry.create("strategy", "ofa-evolution", **COPIES)
    strategy.setup(MINI, SINGLE, (), 0)
    archs = strategy.ask(20)
    records = synthetic_records(MINI, archs)
    strategy.tell(archs, records)
    best = sorted(range(20), key=lambda i: -records[i]["accuracy"])[: strategy.n_parents]
    children = strategy.ask(20)
    # With mutation only and nothing resampled, children are copies of parents.
    assert set(children) <= {archs[i] for i in best}


def test_pareto_evolution_keeps_the_front() -> None:
    strategy = registry.create("strategy", "pareto-evolution", **COPIES)
    strategy.setup(MINI, MULTI, (), 0)
    archs = strategy.ask(20)
    records = synthetic_records(MINI, archs)
    strategy.tell(archs, records)
    F = np.array([[-r["accuracy"], r["latency:mmacs"]] for r in records])
    front = {archs[i] for i in range(20) if not any((F[j] <= F[i]).all() and (F[j] < F[i]).any() for j in range(20))}
    parents = set(strategy.ask(20))
    assert parents <= {archs[i] for i in range(20)}
    # The front survives whole when it fits among the parents; otherwise the parents all come from it.
    assert front <= parents if len(front) <= strategy.n_parents else parents <= front


def test_random_rejects_archs_over_a_cheap_limit() -> None:
    limit = float(np.quantile(analytic_columns(MINI, MINI.sample_array(400, 0), ["macs"])["macs"], 0.1))
    strategy = registry.create("strategy", "random")
    strategy.setup(MINI, MULTI, [Constraint("macs", limit)], 0)
    macs = analytic_columns(MINI, MINI.to_array(strategy.ask(200)), ["macs"])["macs"]
    assert (macs <= limit).all()


@pytest.mark.slow
def test_tpe_shares_a_study_through_sqlite(tmp_path) -> None:
    """Two workers with one storage URL and study name add their trials to one study."""
    import optuna

    url = f"sqlite:///{tmp_path / 'tpe.db'}"
    for worker in range(2):
        strategy = registry.create("strategy", "tpe", storage=url, study_name="shared", n_startup_trials=4)
        drive(strategy, MINI, 6, seed=worker, batch=2)
    study = optuna.load_study(study_name="shared", storage=url)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) >= 12 and len(study.directions) == 2


def test_tpe_learns_infeasibility_without_spending_evaluations() -> None:
    limit = float(np.quantile(analytic_columns(MINI, MINI.sample_array(400, 0), ["macs"])["macs"], 0.2))
    strategy = registry.create("strategy", "tpe", n_startup_trials=5)
    batches = drive(strategy, MINI, 20, constraints=[Constraint("macs", limit)])
    assert sum(len(b) for b in batches) == 20
    # Rejected proposals were told to Optuna as infeasible trials, so the study holds more than 20.
    assert len(strategy.study.trials) > 20


def test_tpe_falls_back_to_optunas_sampler_when_its_private_parts_move(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new Optuna without ``_ParzenEstimator`` where we expect it: a warning and Optuna's plain sampler."""
    import sys

    import optuna

    monkeypatch.setitem(sys.modules, "ofa_bench_strategies._tpe_sampler", None)  # the import now raises ImportError
    strategy = registry.create("strategy", "tpe", n_startup_trials=4)
    with pytest.warns(RuntimeWarning, match="plain TPESampler"):
        batches = drive(strategy, MINI, 8, batch=2)
    assert sum(len(b) for b in batches) == 8
    assert type(strategy.study.sampler) is optuna.samplers.TPESampler


@pytest.mark.parametrize("directions", [["minimize"], ["maximize", "minimize"]])
def test_tpe_sampler_proposes_what_optunas_tpe_proposes(directions: list[str]) -> None:
    """The faster sampler and ask are Optuna's TPE: for a seed, the same trials, stored alike, as ``TPESampler``.

    The run covers the start-up trials, constraints most trials break, a failed trial, an
    enqueued trial and a single-choice parameter.
    """
    import optuna
    from ofa_bench_strategies._tpe_sampler import CategoricalParzenEstimator, FixedSpaceTPE
    from ofa_bench_strategies._tpe_trials import ask
    from optuna.distributions import CategoricalDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {f"b{i}": CategoricalDistribution([f"{k}x{e}" for k in (3, 5, 7) for e in (3, 4, 6)]) for i in range(6)}
    space.update({"d0": CategoricalDistribution([2, 3, 4]), "r": CategoricalDistribution(list(range(128, 228, 4)))})
    space["w"] = CategoricalDistribution([1.0])

    def constraints(trial: optuna.trial.FrozenTrial) -> list[float]:
        return [trial.user_attrs["c"]]

    runs = []
    settings = {"seed": 3, "multivariate": True, "n_startup_trials": 5, "constant_liar": False}
    settings["constraints_func"] = constraints
    for fast in (False, True):
        with warnings.catch_warnings():  # multivariate TPE is experimental, constraints_func deprecated
            warnings.simplefilter("ignore")
            sampler = FixedSpaceTPE(space, **settings) if fast else optuna.samplers.TPESampler(**settings)
        if fast:
            assert sampler.fast_paths and sampler._parzen_estimator_cls is CategoricalParzenEstimator
        study = optuna.create_study(directions=directions, sampler=sampler)
        for i in range(70):
            if i == 40:
                study.enqueue_trial({name: d.choices[0] for name, d in space.items()})
            trial, params = ask(study, space) if fast else (trial := study.ask(space), trial.params)
            size = sum(int(v.split("x")[0]) * int(v.split("x")[1]) for k, v in params.items() if k[0] == "b")
            trial.set_user_attr("c", float(size % 7 - 3))  # 3 in 7 break it, whatever their values
            values = [size / 10 + params["r"] / 50 - params["d0"], params["r"] - size]
            failed = i == 25
            state = optuna.trial.TrialState.FAIL if failed else None
            study.tell(trial, None if failed else values[: len(directions)], state=state)
            assert trial.params == params
        runs.append([(t.params, t.distributions, t.state, t.values) for t in study.trials])
    assert runs[0] == runs[1]


def test_tpe_fast_paths_change_no_proposal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The strategy proposes the same archs with the faster paths as with Optuna's own split and ask."""
    import ofa_bench_strategies._tpe_sampler as sampler_module

    limit = float(np.quantile(analytic_columns(MINI, MINI.sample_array(400, 0), ["macs"])["macs"], 0.5))
    runs = []
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(sampler_module, "_proposes_as_optuna", lambda: False)
        strategy = registry.create("strategy", "tpe", n_startup_trials=6)
        batches = drive(strategy, MINI, 40, seed=5, batch=3, constraints=[Constraint("macs", limit)])
        assert strategy.study.sampler.fast_paths is fast
        runs.append([a for b in batches for a in b])
    assert runs[0] == runs[1]


def _one_choice_apart(a, b) -> bool:
    """Whether two archs differ in exactly one choice: a depth, the resolution, or one active block's kernel or expand."""
    changes = sum(x != y for x, y in zip(a.d, b.d)) + (a.r != b.r)
    for stage in range(MINI.n_stages):
        start = stage * MINI.max_depth
        for block in range(start, start + min(a.d[stage], b.d[stage])):  # active in both
            changes += (a.ks[block] != b.ks[block]) + (a.e[block] != b.e[block])
    return changes == 1


def test_local_search_moves_to_an_improving_neighbour() -> None:
    """First-improvement hill climbing, checked step by step against the rule in its docstring.

    After the random start the centre is the best arch told; every proposal is one choice away from
    the centre; the first told proposal with higher accuracy becomes the centre. The climb improves
    on the random start.
    """
    strategy = registry.create("strategy", "local-search", n_initial=4)
    batches = drive(strategy, MINI, 60, objectives=SINGLE, batch=1)
    archs = [a for b in batches for a in b]
    accuracy = [r["accuracy"] for r in synthetic_records(MINI, archs)]
    centre = max(range(4), key=lambda i: accuracy[i])
    moves = 0
    for i in range(4, len(archs)):
        assert _one_choice_apart(archs[i], archs[centre]), (i, archs[i], archs[centre])
        if accuracy[i] > accuracy[centre]:
            centre, moves = i, moves + 1
    assert moves >= 3 and accuracy[centre] > max(accuracy[:4])


def test_surrogate_fits_one_predictor_per_expensive_column() -> None:
    strategy = registry.create("strategy", "surrogate", **SMALL["surrogate"])
    objectives = (Objective("accuracy", "max"), Objective("loss", "min"), Objective("macs", "min"))
    drive(strategy, MINI, 22, objectives=objectives)
    assert set(strategy.models_) == {"accuracy", "loss"}
    assert all(isinstance(m, LeastSquares) and hasattr(m, "coef_") for m in strategy.models_.values())


def test_surrogate_with_the_default_gbdt_predictor() -> None:
    strategy = registry.create("strategy", "surrogate", n_initial=10, batch=5, generations=2, pop_size=10)
    batches = drive(strategy, MINI, 20)
    assert sum(len(b) for b in batches) == 20 and type(strategy.models_["accuracy"]).name == "gbdt"


def test_regularized_evolution_ages_out_and_picks_parents_by_pareto_rank() -> None:
    strategy = registry.create("strategy", "regularized-evolution", population_size=10, sample_size=10, mutate_prob=1e-9)
    strategy.setup(MINI, MULTI, (), 0)
    first = strategy.ask(10)
    records = synthetic_records(MINI, first)
    strategy.tell(first, records)
    # A tournament over the whole population always picks its first-ranked member; with (almost)
    # nothing resampled, children are that member or a near copy; repeats are made again.
    children = strategy.ask(4)
    assert len(set(children)) == 4 and not set(children) & set(first)
    strategy.tell(children, synthetic_records(MINI, children))
    X = strategy._population[0]
    assert len(X) == 10  # the four oldest left the queue
    assert MINI.to_array(children).tolist() == X[-4:].tolist()


def test_objective_vector_is_a_minimisation_vector_by_hand() -> None:
    from ofa_bench.objectives import objective_vector, parse_objectives

    objectives = parse_objectives("accuracy,latency:lut,max:latency:mmacs")
    np.testing.assert_array_equal(objective_vector({"accuracy": 0.9, "latency:lut": 3.0, "latency:mmacs": 2.0}, objectives),
                                  [-0.9, 3.0, -2.0])  # fmt: skip
    failed = objective_vector({"accuracy": None, "latency:lut": float("nan")}, objectives)
    assert np.isinf(failed).all() and (failed > 0).all()  # failed or missing: the worst
