"""Conformance checks every accuracy predictor should pass, like scikit-learn's ``check_estimator``.

Subclass :class:`PredictorTests` as ``Test...``, override the ``predictor`` fixture to return an
unfitted instance, and every check runs on it::

    class TestMyPredictor(PredictorTests):
        @pytest.fixture
        def predictor(self):
            return MyPredictor(seed=0)

Training data is synthetic: the target is a smooth function of an arch's MACs and params plus a
little noise, so a predictor that learns anything ranks held-out archs well.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pytest

from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins.interfaces import Predictor
from ofa_bench.plugins.testing.conformance import ConformanceTests

if TYPE_CHECKING:
    from pathlib import Path

    from ofa_bench.space import Arch, SearchSpace

__all__ = ["PredictorTests", "clone", "synthetic_targets"]


def synthetic_targets(archs: list[Arch] | np.ndarray, space: SearchSpace, seed: int = 0) -> np.ndarray:
    """An accuracy-like target: rises with log MACs and log params, plus noise of 0.2 points.

    Args:
        archs: Archs or a batch array of ``space``.
        space: Their space.
        seed: Seed of the noise.

    Returns:
        Float64 values around 0.9.
    """
    from ofa_bench.costs import macs_params

    macs, params = macs_params(archs, space)
    macs, params = np.log(macs.astype(np.float64)), np.log(params.astype(np.float64))
    signal = 0.03 * (macs - macs.mean()) + 0.01 * (params - params.mean())
    return 0.9 + signal + np.random.default_rng(seed).normal(0.0, 0.002, len(signal))


def clone(predictor: Predictor) -> Predictor:
    """A new, unfitted predictor with the same parameters (scikit-learn's ``clone``)."""
    from sklearn.base import clone as sk_clone

    return sk_clone(predictor)


class PredictorTests(ConformanceTests):
    """Checks for a :class:`Predictor`; subclass as ``Test...`` and override ``predictor``.

    Attributes:
        n_train: Training archs.
        n_test: Held-out archs.
        min_tau: Kendall tau on held-out archs a predictor must at least reach on the synthetic
            target (a smooth function of MACs and params).
        rtol: Tolerance when comparing predictions that should be equal (determinism, save/load).
    """

    n_train: ClassVar[int] = 60
    n_test: ClassVar[int] = 40
    min_tau: ClassVar[float] = 0.3
    rtol: ClassVar[float] = 1e-7

    @pytest.fixture
    def predictor(self) -> Predictor:
        """The unfitted predictor under test; override this fixture."""
        self._must_override("predictor")

    @pytest.fixture
    def data(self, space: SearchSpace) -> tuple[list[Arch], np.ndarray, list[Arch], np.ndarray]:
        """``(train_archs, train_y, test_archs, test_y)`` with the synthetic target."""
        archs = space.sample(self.n_train + self.n_test, rng=np.random.default_rng(0))
        y = synthetic_targets(archs, space)
        n = self.n_train
        return archs[:n], y[:n], archs[n:], y[n:]

    @pytest.fixture
    def fitted(self, predictor: Predictor, data: tuple) -> Predictor:
        """The predictor fitted on the training data."""
        train, y, _, _ = data
        return predictor.fit(train, y)

    # ----- scikit-learn conventions ------------------------------------------------------------

    def test_is_predictor(self, predictor: Predictor) -> None:
        """The predictor subclasses :class:`Predictor` and has a name."""
        assert isinstance(predictor, Predictor)
        assert isinstance(predictor.name, str) and predictor.name

    def test_constructor_only_stores_params(self, predictor: Predictor) -> None:
        """A new instance holds exactly its parameters as public attributes, and no learned state."""
        public = {k for k in vars(predictor) if not k.startswith("_")}
        assert public == set(predictor.get_params(deep=False)), "__init__ must store each parameter, nothing else"

    def test_get_set_params_round_trip(self, predictor: Predictor) -> None:
        """``set_params(**get_params())`` returns self and changes nothing; unknown names fail."""
        params = predictor.get_params(deep=False)
        assert predictor.set_params(**params) is predictor
        assert _same(predictor.get_params(deep=False), params)
        with pytest.raises(ValueError):
            predictor.set_params(no_such_parameter_xyz=1)

    def test_clone(self, predictor: Predictor) -> None:
        """scikit-learn's ``clone`` rebuilds the predictor from its parameters."""
        copy = clone(predictor)
        assert type(copy) is type(predictor) and copy is not predictor
        assert _same(copy.get_params(deep=False), predictor.get_params(deep=False))

    def test_fit_returns_self(self, predictor: Predictor, data: tuple) -> None:
        """``fit`` returns the predictor itself."""
        train, y, _, _ = data
        assert predictor.fit(train, y) is predictor

    def test_learned_state_ends_in_underscore(self, predictor: Predictor, data: tuple) -> None:
        """``fit`` adds only attributes ending in ``_`` (or private ones) and keeps the parameters."""
        before = predictor.get_params(deep=False)
        names = set(vars(predictor))
        train, y, _, _ = data
        predictor.fit(train, y)
        added = set(vars(predictor)) - names
        assert added, "fit stored no learned state"
        bad = sorted(k for k in added if not (k.endswith("_") or k.startswith("_")))
        assert not bad, f"learned state without a trailing underscore: {bad}"
        assert _same(predictor.get_params(deep=False), before)

    def test_not_fitted_error(self, predictor: Predictor, data: tuple) -> None:
        """Predicting before ``fit`` raises a one-line :class:`OfaBenchError` saying so."""
        _, _, test, _ = data
        with pytest.raises(OfaBenchError, match="not fitted") as info:
            predictor.predict(test)
        assert "\n" not in str(info.value)

    def test_clone_of_fitted_is_unfitted(self, fitted: Predictor, data: tuple) -> None:
        """A clone carries parameters, not learned state."""
        with pytest.raises(OfaBenchError, match="not fitted"):
            clone(fitted).predict(data[2])

    # ----- predictions -------------------------------------------------------------------------

    def test_predict_shape_dtype_finite(self, fitted: Predictor, data: tuple) -> None:
        """One finite float64 prediction per arch."""
        _, _, test, _ = data
        pred = fitted.predict(test)
        assert isinstance(pred, np.ndarray) and pred.dtype == np.float64
        assert pred.shape == (len(test),)
        assert np.all(np.isfinite(pred))

    def test_accepts_batch_array(self, fitted: Predictor, data: tuple, space: SearchSpace) -> None:
        """A predictor declaring ``accepts_arrays`` predicts for a batch array what it predicts for the archs."""
        if not fitted.accepts_arrays:
            pytest.skip("predictor takes lists of archs only (accepts_arrays is False)")
        _, _, test, _ = data
        np.testing.assert_allclose(fitted.predict(space.to_array(test)), fitted.predict(test), rtol=self.rtol)

    def test_batch_equals_one_by_one(self, fitted: Predictor, data: tuple) -> None:
        """Predicting a batch gives what predicting each arch alone gives."""
        _, _, test, _ = data
        alone = np.concatenate([fitted.predict(test[i : i + 1]) for i in range(5)])
        np.testing.assert_allclose(fitted.predict(test[:5]), alone, rtol=1e-5, atol=1e-9)

    def test_empty_batch(self, fitted: Predictor, space: SearchSpace) -> None:
        """An empty batch gives an empty float64 array."""
        pred = fitted.predict(space.to_array([]))
        assert pred.shape == (0,) and pred.dtype == np.float64

    def test_learns_the_signal(self, fitted: Predictor, data: tuple) -> None:
        """Held-out archs are ranked with Kendall tau of at least ``min_tau``."""
        from ofa_bench.metrics.ranking import kendall_tau

        _, _, test, y = data
        tau = kendall_tau(fitted.predict(test), y, undefined=0.0)
        assert tau >= self.min_tau, f"Kendall tau {tau:.3f} < {self.min_tau}"

    def test_deterministic_for_a_seed(self, predictor: Predictor, data: tuple) -> None:
        """Two fits of equal predictors on equal data predict equally."""
        train, y, test, _ = data
        first = clone(predictor).fit(train, y).predict(test)
        second = clone(predictor).fit(train, y).predict(test)
        np.testing.assert_allclose(first, second, rtol=self.rtol)

    def test_predict_std(self, fitted: Predictor, data: tuple) -> None:
        """``predict_std`` gives finite, non-negative float64 values, or is declared absent."""
        _, _, test, _ = data
        if not _gives_std(fitted, test):
            return
        std = fitted.predict_std(test)
        assert isinstance(std, np.ndarray) and std.dtype == np.float64 and std.shape == (len(test),)
        assert np.all(np.isfinite(std)) and np.all(std >= 0)

    # ----- bad input ---------------------------------------------------------------------------

    def test_bad_targets(self, predictor: Predictor, data: tuple) -> None:
        """Targets of the wrong length, or not finite, are a one-line :class:`OfaBenchError`."""
        train, y, _, _ = data
        with pytest.raises(OfaBenchError):
            predictor.fit(train, y[:-1])
        bad = y.copy()
        bad[3] = np.nan
        with pytest.raises(OfaBenchError, match=r"\[3\]"):
            predictor.fit(train, bad)

    def test_archs_of_another_space(self, fitted: Predictor, space: SearchSpace) -> None:
        """Archs of another space, or arrays of the wrong shape, are refused with an :class:`OfaBenchError`."""
        from ofa_bench.space import get_space, preset_names

        other = next(get_space(n) for n in preset_names() if get_space(n) != space)
        with pytest.raises(OfaBenchError):
            fitted.predict(other.sample(3, rng=0))
        with pytest.raises(OfaBenchError):
            fitted.predict(np.zeros((3, space.n_columns + 1), dtype=np.int64))

    # ----- persistence -------------------------------------------------------------------------

    def test_pickle(self, fitted: Predictor, data: tuple) -> None:
        """A fitted predictor pickles (the evaluator digests a surrogate oracle's pickled state)."""
        _, _, test, _ = data
        copy = pickle.loads(pickle.dumps(fitted))
        np.testing.assert_allclose(copy.predict(test), fitted.predict(test), rtol=self.rtol)

    @pytest.fixture
    def findable(self, fitted: Predictor) -> Iterator[None]:
        """The predictor's class is found by its name while a check runs, installed or not.

        A saved predictor names its class and is loaded through the registry; a plug-in tested
        before its package is installed is registered in this process for the check.
        """
        from ofa_bench.plugins import registry

        with registry.registered_while("predictor", type(fitted).name, type(fitted)):
            yield

    def test_save_load_round_trip(self, fitted: Predictor, data: tuple, tmp_path: Path, findable: None) -> None:
        """A saved and loaded predictor has the same class, parameters and predictions."""
        from ofa_bench.io.predictor_files import load_predictor, save_predictor

        _, _, test, _ = data
        path = save_predictor(fitted, tmp_path / "predictor.zip")
        loaded = load_predictor(path)
        assert type(loaded) is type(fitted)
        assert _same(loaded.get_params(deep=False), fitted.get_params(deep=False))
        np.testing.assert_allclose(loaded.predict(test), fitted.predict(test), rtol=self.rtol)
        if _gives_std(fitted, test):
            np.testing.assert_allclose(loaded.predict_std(test), fitted.predict_std(test), rtol=1e-6, atol=1e-12)

    def test_truncated_file_is_one_line_error(self, fitted: Predictor, tmp_path: Path, findable: None) -> None:
        """A truncated predictor file fails to load with a one-line :class:`OfaBenchError`."""
        from ofa_bench.io.predictor_files import load_predictor, save_predictor

        path = save_predictor(fitted, tmp_path / "predictor.zip")
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        with pytest.raises(OfaBenchError) as info:
            load_predictor(path)
        assert "\n" not in str(info.value)


def _gives_std(predictor: Predictor, archs: list[Arch]) -> bool:
    """Whether ``predict_std`` answers (``NotImplementedError`` declares it absent)."""
    try:
        predictor.predict_std(archs[:1])
    except NotImplementedError:
        return False
    return True


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Parameter dicts are equal (predictor-valued parameters compare by their own parameters)."""
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, Predictor) and isinstance(y, Predictor):
            if type(x) is not type(y) or not _same(x.get_params(deep=False), y.get_params(deep=False)):
                return False
        elif isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
            if type(x) is not type(y) or len(x) != len(y):
                return False
            if not all(_same({"v": u}, {"v": v}) for u, v in zip(x, y)):
                return False
        elif x is not y and x != y:
            return False
    return True
