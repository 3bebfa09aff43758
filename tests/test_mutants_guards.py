"""Fairness and leakage guards and the suite's random streams, against values derived independently
(mutation testing, docs/testing.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ofa_bench.search.streams import STREAMS, stream, stream_rng, stream_seed
from ofa_bench.suite.fairness import _split_top, label_families, predictor_families, strategy_families
from ofa_bench.suite.leakage import ARCHIVE_FILE, arch_key, archive_keys, oracle_overlap

# The spawn keys the module's docstring fixes forever: changing one changes every suite's numbers.
DOCUMENTED_KEYS = {"oracle_archive": 1, "reference_sample": 2, "runs": 3, "lut_calibration": 4, "holdout_split": 5,
                   "archive_random": 6, "archive_trajectory": 7, "archive_noise": 8, "oracle_noise": 9}  # fmt: skip


@pytest.mark.parametrize("name", sorted(DOCUMENTED_KEYS))
def test_each_stream_is_numpys_seed_sequence_with_its_documented_key(name: str) -> None:
    key = DOCUMENTED_KEYS[name]
    expected = np.random.SeedSequence(12345, spawn_key=(key, 7, 2))
    got = stream(12345, name, 7, 2)
    assert (got.entropy, got.spawn_key) == (12345, (key, 7, 2))
    assert got.generate_state(4).tolist() == expected.generate_state(4).tolist()
    # Without an index the key alone; a generator draws what numpy's default_rng draws on it.
    assert stream(3, name).spawn_key == (key,)
    draws = np.random.default_rng(np.random.SeedSequence(3, spawn_key=(key, 1))).random(3)
    assert stream_rng(3, name, 1).random(3).tolist() == draws.tolist()


def test_a_stream_seed_is_the_top_63_bits_of_the_streams_first_word() -> None:
    word = int(np.random.SeedSequence(5, spawn_key=(3, 4)).generate_state(1, np.uint64)[0])
    seed = stream_seed(5, "runs", 4)
    assert seed == word >> 1 and 0 <= seed < 2**63
    assert isinstance(seed, int)


def test_an_unknown_stream_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="unknown random stream 'run'; known: oracle_archive, reference_sample, runs"):
        stream(0, "run")
    assert set(STREAMS) == set(DOCUMENTED_KEYS)


def test_split_top_splits_at_top_level_commas_only() -> None:
    assert _split_top("a,b(c,d),e") == ["a", "b(c,d)", "e"]
    assert _split_top("x(y(z,w),v),u") == ["x(y(z,w),v)", "u"]
    assert _split_top(" gbdt , ,mlp ") == ["gbdt", "mlp"]
    assert _split_top("ab,cd") == ["ab", "cd"]
    assert _split_top("only") == ["only"]
    assert _split_top("") == []


def test_label_families_read_specs_and_nested_ensembles() -> None:
    # gbdt and rf are one family (trees); mlp, gp their own.
    assert label_families("ensemble(ensemble(gp,mlp),rf)") == {"gp", "mlp", "trees"}
    assert label_families(" ensemble ( mlp , gp ) ") == {"mlp", "gp"}
    assert label_families("gbdt:n_estimators=2000") == {"trees"}
    # A spec's parameters count: an ensemble of gp alone is gp (the default members include trees).
    assert label_families("ensemble:members=gp") == {"gp"}


def test_predictor_families_of_names_instances_and_ensembles() -> None:
    assert predictor_families("gp") == {"gp"} and predictor_families("rf") == {"trees"}
    assert predictor_families("ensemble", {"members": "mlp, gp"}) == {"mlp", "gp"}
    assert predictor_families("ensemble", {"members": ["gbdt", "mlp"]}) == {"trees", "mlp"}
    assert predictor_families("not-registered") == {"not-registered"}
    from ofa_bench.plugins import registry

    assert predictor_families(registry.create("predictor", "gp")) == {"gp"}


def test_strategy_families_are_its_predictors_plus_its_own_models() -> None:
    assert strategy_families("random") == set()
    assert strategy_families("unknown-strategy") == set()
    assert strategy_families("surrogate", {"predictor": "gp"}) == {"gp"}
    assert strategy_families("surrogate", {"predictor": "ensemble", "predictor_params": {"members": "rf,mlp"}}) == {
        "trees",
        "mlp",
    }
    assert "parzen" in strategy_families("tpe")


def test_archive_keys_read_the_oracle_archive(tmp_path: Path) -> None:
    assert archive_keys(tmp_path) is None
    texts = ['{"r": 28, "ks": [3, 5]}', '{"ks": [7], "r": 24}']
    pd.DataFrame({"arch": texts, "accuracy": [0.5, 0.6]}).to_csv(tmp_path / ARCHIVE_FILE, index=False)
    assert archive_keys(tmp_path) == {'{"ks":[3,5],"r":28}', '{"ks":[7],"r":24}'}
    assert arch_key('{ "r" : 28 , "ks" : [3 , 5] }') == '{"ks":[3,5],"r":28}'
    assert oracle_overlap(['{"ks":[7],"r":24}'] * 3 + ['{"ks":[7],"r":28}'], archive_keys(tmp_path)) == 3


def test_family_clashes_name_each_strategy_sharing_the_oracles_family() -> None:
    from ofa_bench.suite.fairness import family_clashes

    strategies = [("random", "random", {}), ("s-rf", "surrogate", {"predictor": "rf"}),
                  ("s-gp", "surrogate", {"predictor": "gp"})]  # fmt: skip
    # A gbdt oracle and an rf-fitting surrogate are both trees; a gp-member ensemble clashes with s-gp.
    assert family_clashes("gbdt", {}, strategies) == [(1, "s-rf", {"trees"})]
    assert family_clashes("ensemble", {"members": "gp,mlp"}, strategies) == [(2, "s-gp", {"gp"})]
    assert family_clashes("mlp", {}, strategies) == []


def test_strategy_profile_is_the_declared_random_start_and_every_parameter() -> None:
    from ofa_bench.suite.fairness import strategy_profile

    # Regularized evolution's first population (population_size, default 50) is random; its other
    # parameters' defaults are sample_size 10 and mutate_prob 0.1.
    defaults = {"population_size": 20, "sample_size": 10, "mutate_prob": 0.1}
    assert strategy_profile("regularized-evolution", {"population_size": 20}, 100) == {
        "random_start": 20,
        "params": defaults,
    }
    assert strategy_profile("regularized-evolution", {"population_size": 20}, 5)["random_start"] == 5
    assert strategy_profile("random", {}, 30)["random_start"] == 30  # every evaluation is random
    # Unknown strategies and parameters a strategy refuses: no random start, the parameters as given.
    assert strategy_profile("nope", {"a": 1}, 10) == {"random_start": None, "params": {"a": 1}}
    assert strategy_profile("regularized-evolution", {"bogus": 1}, 10) == {"random_start": None, "params": {"bogus": 1}}


def test_strategy_profile_of_a_strategy_that_declares_no_random_start() -> None:
    from ofa_bench_strategies.random_search import RandomSearch

    from ofa_bench.plugins import registry
    from ofa_bench.suite.fairness import strategy_profile

    class Undeclared(RandomSearch):
        """A strategy keeping the interface's default: no random start declared (None)."""

        def random_start(self, budget: int) -> int | None:
            return None

    with registry.registered_while("strategy", "mutants-undeclared", Undeclared):
        assert strategy_profile("mutants-undeclared", {}, 30)["random_start"] is None


def test_families_from_defaults_instances_and_class_names() -> None:
    from ofa_bench_strategies.surrogate import SurrogateAssisted

    from ofa_bench.plugins import registry

    # The ensemble's default members are gbdt, rf and gp; the surrogate strategy's default predictor gbdt.
    assert predictor_families("ensemble") == {"trees", "gp"}
    assert strategy_families("surrogate") == {"trees"}
    # An ensemble instance is read through its own members; an object of no registered kind by its class.
    assert predictor_families(registry.create("predictor", "ensemble", members="gp,mlp")) == {"gp", "mlp"}
    assert predictor_families("ensemble", {"members": [registry.create("predictor", "gp"), "rf"]}) == {"gp", "trees"}
    assert predictor_families(object()) == {"object"}

    class Both(SurrogateAssisted):
        """A strategy with a model family of its own and a predictor parameter: both count."""

        model_families = ("parzen",)

    with registry.registered_while("strategy", "mutants-both", Both):
        assert strategy_families("mutants-both", {"predictor": "gp"}) == {"parzen", "gp"}
