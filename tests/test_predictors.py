"""Every registered accuracy predictor passes the shipped conformance kit; the built-ins' own behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins import registry
from ofa_bench.plugins.interfaces import Predictor
from ofa_bench.plugins.testing import PredictorTests
from ofa_bench.plugins.testing.predictors import synthetic_targets
from ofa_bench.space import get_space

# Small settings so the kit runs in seconds; the defaults are exercised by the evaluation harness.
FAST: dict[str, dict] = {
    "mlp": {"hidden_size": 64, "max_epochs": 200, "patience": 30, "device": "cpu"},
    "gbdt": {"n_estimators": 60},
    "rf": {"n_estimators": 30},
    "zc": {"batch_size": 8},
    "zc-gbdt": {"batch_size": 8, "n_estimators": 60},
}


def _fast(name: str) -> dict:
    if name == "ensemble":  # instances as members: also checks that they save and load
        members = tuple(registry.create("predictor", m, **FAST[m]) for m in ("gbdt", "rf"))
        return {"members": (*members, "gp"), "cv": 2}
    return FAST.get(name, {})


@pytest.mark.usefixtures("one_thread")
class TestRegisteredPredictors(PredictorTests):
    @pytest.fixture(params=registry.names("predictor"))
    def predictor(self, request):
        return registry.create("predictor", request.param, **_fast(request.param))


# ----- behaviour of the built-ins beyond the kit ---------------------------------------------------

MINI = get_space("ofa-mini")


@pytest.fixture(scope="module")
def data():
    archs = MINI.sample(120, rng=np.random.default_rng(5))
    return archs, synthetic_targets(archs, MINI, seed=5)


def test_fit_on_a_batch_array_needs_the_space_parameter(data) -> None:
    archs, y = data
    array = MINI.to_array(archs)
    with pytest.raises(OfaBenchError, match="space="):
        registry.create("predictor", "gbdt", n_estimators=20).fit(array, y)
    from_array = registry.create("predictor", "gbdt", n_estimators=20, space="ofa-mini").fit(array, y)
    from_list = registry.create("predictor", "gbdt", n_estimators=20).fit(archs, y)
    np.testing.assert_array_equal(from_array.predict(array), from_list.predict(archs))


@pytest.mark.parametrize("encoder", ["onehot", "ordinal"])
def test_encoders_give_their_feature_counts(data, encoder) -> None:
    archs, y = data
    rf = registry.create("predictor", "rf", n_estimators=10, encoder=encoder).fit(archs, y)
    expected = MINI.encode_onehot(archs[:1]).shape[1] if encoder == "onehot" else MINI.n_columns
    assert rf.n_features_in_ == expected


def test_callable_encoder_is_used_and_cannot_be_saved(data, tmp_path) -> None:
    archs, y = data
    calls = []

    def depth_and_resolution(array: np.ndarray, space) -> np.ndarray:
        calls.append(array.shape)
        return array[:, 2 * space.n_blocks :].astype(np.float64)

    gp = registry.create("predictor", "gp", encoder=depth_and_resolution).fit(archs, y)
    assert gp.n_features_in_ == MINI.n_stages + 1 and calls[0] == (len(archs), MINI.n_columns)
    assert gp.predict(archs[:3]).shape == (3,)
    with pytest.raises(OfaBenchError, match="callable encoder cannot be saved"):
        gp.save(tmp_path / "gp.zip")


def test_unknown_encoder_is_refused(data) -> None:
    archs, y = data
    with pytest.raises(OfaBenchError, match="unknown encoder 'binary'; allowed: onehot, ordinal"):
        registry.create("predictor", "gbdt", encoder="binary").fit(archs, y)


def test_mlp_stops_early_and_keeps_its_best_epoch(data) -> None:
    archs, y = data
    mlp = registry.create("predictor", "mlp", hidden_size=32, max_epochs=2000, patience=5, device="cpu").fit(archs, y)
    assert mlp.n_epochs_ < 2000
    assert np.isfinite(mlp.validation_loss_)


def test_mlp_standardises_targets(data) -> None:
    """Scaling the targets scales the predictions: training happens on standardised targets."""
    archs, y = data
    params = {"hidden_size": 32, "max_epochs": 30, "patience": 30, "device": "cpu"}
    small = registry.create("predictor", "mlp", **params).fit(archs, y).predict(archs[:10])
    large = registry.create("predictor", "mlp", **params).fit(archs, 100 * y + 7).predict(archs[:10])
    np.testing.assert_allclose(large, 100 * small + 7, rtol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_mlp_trains_on_the_gpu(data) -> None:
    archs, y = data
    mlp = registry.create("predictor", "mlp", hidden_size=32, max_epochs=50, device="cuda").fit(archs, y)
    assert mlp.predict(archs).shape == (len(archs),)


class _Noise(Predictor):
    """Predicts noise: an ensemble member adaptive switching must not pick."""

    name = "test-noise"

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, archs, y):
        self.fitted_ = True
        return self

    def predict(self, archs):
        return np.random.default_rng(len(archs)).random(len(archs))


def test_ensemble_selects_the_member_with_the_best_cv_tau(data) -> None:
    archs, y = data
    gbdt = registry.create("predictor", "gbdt", n_estimators=30)
    ensemble = registry.create("predictor", "ensemble", members=(_Noise(), gbdt), cv=3).fit(archs, y)
    assert ensemble.cv_tau_[1] > ensemble.cv_tau_[0]
    np.testing.assert_array_equal(ensemble.weights_, [0.0, 1.0])
    np.testing.assert_allclose(ensemble.predict(archs), ensemble.members_[1].predict(archs))
    assert np.all(ensemble.predict_std(archs) > 0)  # the members disagree


def test_ensemble_weighted_mode_averages_by_tau(data) -> None:
    archs, y = data
    members = "gbdt,rf"
    ensemble = registry.create("predictor", "ensemble", members=members, mode="weighted", cv=2).fit(archs, y)
    assert ensemble.weights_.sum() == pytest.approx(1.0) and np.all(ensemble.weights_ > 0)
    each = np.stack([m.predict(archs) for m in ensemble.members_])
    np.testing.assert_allclose(ensemble.predict(archs), ensemble.weights_ @ each)
    with pytest.raises(OfaBenchError, match="allowed: select, weighted"):
        registry.create("predictor", "ensemble", mode="vote").fit(archs, y)


@pytest.mark.parametrize("precision", ["int8", "float32"])
def test_mlp_onehot_lookup_path_equals_the_plain_forward_pass(data, precision) -> None:
    """The table-lookup first layer gives what the plain one-hot matrix product gives."""
    archs, y = data
    params = {"hidden_size": 32, "max_epochs": 20, "device": "cpu", "precision": precision}
    mlp = registry.create("predictor", "mlp", **params).fit(archs, y)
    assert mlp.onehot_table_ is not None
    plain = mlp._predict(MINI.encode_onehot(archs))
    np.testing.assert_allclose(mlp.predict(archs), plain, rtol=1e-5)


# ----- the MLP's int8 inference --------------------------------------------------------------------

MLP_FAST = {"hidden_size": 64, "max_epochs": 60, "device": "cpu"}


@pytest.fixture(scope="module")
def mlp_pair(data):
    """The same MLP (same seed, so the same weights) predicting in int8 and in float32."""
    archs, y = data
    int8 = registry.create("predictor", "mlp", **MLP_FAST).fit(archs, y)
    float32 = registry.create("predictor", "mlp", precision="float32", **MLP_FAST).fit(archs, y)
    return int8, float32


def test_mlp_int8_predictions_track_float32(data, mlp_pair) -> None:
    from scipy.stats import kendalltau

    _, y = data
    int8, float32 = mlp_pair
    assert (int8.precision_, float32.precision_) == ("int8", "float32")
    for a, b in zip(int8.coefs_, float32.coefs_):
        np.testing.assert_array_equal(a, b)
    fresh = MINI.sample_array(3000, rng=11)  # archs neither fitted nor calibrated on
    p8, p32 = int8.predict(fresh), float32.predict(fresh)
    assert kendalltau(p8, p32).statistic >= 0.99
    assert np.abs(p8 - p32).mean() <= 0.01 * y.std()


def test_mlp_int8_prediction_does_not_depend_on_the_batch(mlp_pair) -> None:
    int8, _ = mlp_pair
    array = MINI.sample_array(300, rng=12)
    one_by_one = np.concatenate([int8.predict(array[i : i + 1]) for i in range(len(array))])
    np.testing.assert_array_equal(int8.predict(array), one_by_one)


def test_mlp_int8_survives_pickling_and_saving(mlp_pair, tmp_path) -> None:
    import pickle

    from ofa_bench.io.predictor_files import load_predictor

    int8, _ = mlp_pair
    array = MINI.sample_array(200, rng=13)
    expected = int8.predict(array)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(int8)).predict(array), expected)
    loaded = load_predictor(int8.save(tmp_path / "mlp.zip"))
    assert loaded.precision_ == "int8" and loaded.act_scales_ == int8.act_scales_
    np.testing.assert_array_equal(loaded.predict(array), expected)


def test_mlp_keeps_float32_when_int8_would_rank_differently(data, mlp_pair, monkeypatch) -> None:
    import ofa_bench_predictors.mlp

    archs, y = data
    monkeypatch.setattr(ofa_bench_predictors.mlp, "_MIN_INT8_TAU", 1.01)  # no int8 ranking can pass
    with pytest.warns(RuntimeWarning, match="predicting in float32"):
        mlp = registry.create("predictor", "mlp", **MLP_FAST).fit(archs, y)
    assert mlp.precision_ == "float32" and mlp.act_scales_ is None
    np.testing.assert_array_equal(mlp.predict(archs), mlp_pair[1].predict(archs))


def test_mlp_unknown_precision_is_refused(data) -> None:
    archs, y = data
    with pytest.raises(OfaBenchError, match="precision must be one of int8, float32; got 'fp16'"):
        registry.create("predictor", "mlp", precision="fp16").fit(archs, y)


def test_mlp_state_from_before_int8_predicts_in_float32_and_int8_needs_its_scales(mlp_pair) -> None:
    int8, float32 = mlp_pair
    old = {k: v for k, v in int8.state_dict().items() if k not in ("precision", "act_scales")}
    restored = registry.create("predictor", "mlp", **MLP_FAST)
    restored.load_state_dict(old, MINI)
    assert restored.precision_ == "float32"
    array = MINI.sample_array(50, rng=14)
    np.testing.assert_array_equal(restored.predict(array), float32.predict(array))
    broken = {**int8.state_dict(), "act_scales": None}
    with pytest.raises(OfaBenchError, match="act_scales must hold 2 values for int8; got none"):
        registry.create("predictor", "mlp", **MLP_FAST).load_state_dict(broken, MINI)


def test_fit_takes_a_batch_array_with_its_space() -> None:
    archs = MINI.sample(40, rng=0)
    y = np.linspace(0.5, 0.9, 40)
    from_list = registry.create("predictor", "gbdt", n_estimators=10).fit(archs, y)
    from_array = registry.create("predictor", "gbdt", n_estimators=10).fit(MINI.to_array(archs), y, space="ofa-mini")
    np.testing.assert_array_equal(from_array.predict(archs), from_list.predict(archs))
    with pytest.raises(OfaBenchError, match=r"batch array but no search space; pass space="):
        registry.create("predictor", "gbdt").fit(MINI.to_array(archs), y)


def test_a_plugin_under_test_is_found_by_name_only_while_registered() -> None:
    from ofa_bench.plugins.predictor_base import ArchRegressor

    class Constant(ArchRegressor):
        name = "constant-under-test"

        def __init__(self, *, encoder="onehot", space=None):
            self.encoder, self.space = encoder, space

        def _fit(self, X, y):
            self.value_ = float(np.mean(y))

        def _predict(self, X):
            return np.full(len(X), self.value_)

        def _state(self):
            return {"value": self.value_}

        def _load_state(self, state):
            self.value_ = float(state["value"])

    assert "constant-under-test" not in registry.names("predictor")
    with registry.registered_while("predictor", "constant-under-test", Constant):
        assert registry.get("predictor", "constant-under-test") is Constant
    assert "constant-under-test" not in registry.names("predictor")
    with registry.registered_while("predictor", "gbdt", Constant):  # a known name is left as it is
        assert registry.get("predictor", "gbdt") is not Constant
