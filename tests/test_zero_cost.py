"""Zero-cost proxies (``zc``), ``zc-gbdt`` and the proxy-warm-started evolution (docs/zero_cost.md).

Hand-derivable values on tiny networks first (each proxy's definition), then the predictor
conformance kit for every proxy (its learning check replaced: a proxy does not learn), then the
features predictor and the strategy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ofa_bench_predictors import zc_proxies as P
from ofa_bench_predictors import zero_cost as zc_module
from ofa_bench_predictors.zc_context import reinitialise
from ofa_bench_predictors.zero_cost import ALL_PROXIES, clear_cache

from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins import registry
from ofa_bench.plugins.testing import PredictorTests, StrategyTests
from ofa_bench.space import get_space

MINI = get_space("ofa-mini")
SMALL_BATCH = 8  # kit runs: the definitions do not depend on the batch size


def _linear(seed: int = 0, hidden: int | None = None) -> torch.nn.Module:
    torch.manual_seed(seed)
    if hidden is None:
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 3, bias=False)).double()
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(6, hidden, bias=False),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, 3, bias=False),
    ).double()


def _batch(n: int = 5, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((n, 6, 1, 1), generator=gen, dtype=torch.float64), torch.randint(0, 3, (n,), generator=gen)


def _loss_grad(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dL/dW of mean cross-entropy for logits W x, by hand: (softmax - onehot)^T x / n."""
    x = x.flatten(1)
    p = torch.softmax(x @ w.T, 1) - F.one_hot(y, 3).double()
    return p.T @ x / x.shape[0]


# ----- definitions on tiny networks ----------------------------------------------------------------


def test_synflow_of_a_positive_linear_net_is_depth_times_the_path_sum() -> None:
    """R = 1^T |W2| |W1| 1 is of degree one in each layer, so sum theta dR/dtheta = 2 R."""
    model = _linear(hidden=4)
    w1, w2 = model[1].weight.detach().abs().clone(), model[3].weight.detach().abs().clone()
    path_sum = float((w2 @ w1 @ torch.ones(6, dtype=torch.float64)).sum())
    assert P.synflow(model, torch.zeros(3, 6, 1, 1)) == pytest.approx(2 * path_sum, rel=1e-12)


def test_snip_and_grad_norm_of_a_linear_classifier() -> None:
    model, (x, y) = _linear(), _batch()
    w = model[1].weight.detach()
    g = _loss_grad(w, x, y)
    assert P.snip(model, x, y) == pytest.approx(float((w * g).abs().sum()), rel=1e-10)
    assert P.grad_norm(model, x, y) == pytest.approx(float(g.norm()), rel=1e-10)


def test_grasp_matches_an_explicit_hessian() -> None:
    model, (x, y) = _linear(), _batch()
    w = model[1].weight.detach().clone()
    hessian = torch.autograd.functional.hessian(lambda v: F.cross_entropy(x.flatten(1) @ v.T, y), w).reshape(18, 18)
    g = _loss_grad(w, x, y).reshape(-1)
    assert P.grasp(model, x, y) == pytest.approx(float(-(w.reshape(-1) * (hessian @ g)).sum()), rel=1e-8)


def test_fisher_of_a_two_layer_net_by_hand() -> None:
    model, (x, y) = _linear(hidden=4), _batch()
    w1, w2 = model[1].weight.detach(), model[3].weight.detach()
    a = torch.relu(x.flatten(1) @ w1.T)
    dlogits = (torch.softmax(a @ w2.T, 1) - F.one_hot(y, 3).double()) / x.shape[0]
    g = dlogits @ w2  # dL/da (the ReLU's output)
    assert P.fisher(model, x, y) == pytest.approx(float(0.5 * (a * g).pow(2).mean(0).sum()), rel=1e-10)


def test_jacov_of_a_linear_map_has_one_eigenvalue() -> None:
    """Every image has the same input gradient (the column sums of W): correlations all 1, eigenvalues (n, 0...)."""
    model, (x, _) = _linear(), _batch(n=5)
    k = P.K_EPS
    expected = -((math.log(5 + k) + 1 / (5 + k)) + 4 * (math.log(k) + 1 / k))
    assert P.jacov(model, x) == pytest.approx(expected, rel=1e-6)


def test_nwot_kernel_counts_matching_units() -> None:
    codes = [torch.tensor([[1, 0, 1], [1, 1, 0]])]
    kernel = P.nwot_kernel(codes)
    assert kernel.tolist() == [[3.0, 1.0], [1.0, 3.0]]
    assert math.log(np.linalg.det(kernel.numpy())) == pytest.approx(math.log(8.0))


def test_nwot_of_identical_images_is_singular() -> None:
    """Identical inputs give identical codes: every entry of K is the number of units, det K = 0."""
    model = _linear(hidden=7)
    x = torch.randn(1, 6, 1, 1, dtype=torch.float64).repeat(4, 1, 1, 1)
    codes = [(torch.relu(x.flatten(1) @ model[1].weight.detach().T) > 0).flatten(1)]
    assert P.nwot_kernel(codes).unique().tolist() == [7.0]
    assert P.nwot(model, x) == -math.inf


def test_zen_of_a_linear_map_without_batch_norm() -> None:
    """No BN: Zen-score is log E ||W (alpha eps)||, with the same seeded draws."""
    model = _linear()
    shape = (4, 6, 1, 1)
    gen = torch.Generator().manual_seed(3)
    torch.randn(shape, generator=gen, dtype=torch.float64)
    eps = torch.randn(shape, generator=gen, dtype=torch.float64).flatten(1)
    expected = math.log(float((0.01 * eps @ model[1].weight.detach().T).norm(dim=1).mean()))
    assert P.zen(model, torch.zeros(shape, dtype=torch.float64), seed=3) == pytest.approx(expected, rel=1e-9)


def test_reinitialise_is_seeded_and_he_normal() -> None:
    a, b = reinitialise(_linear(0, hidden=4).float(), 5), reinitialise(_linear(1, hidden=4).float(), 5)
    assert torch.equal(a[1].weight, b[1].weight)
    conv = reinitialise(torch.nn.Conv2d(64, 256, 3), 0)
    assert float(conv.weight.detach().std()) == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.02)


# ----- the predictor --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archs():
    return MINI.sample(6, rng=np.random.default_rng(1))


def _zc(**params):
    return registry.create("predictor", "zc", **{"batch_size": SMALL_BATCH, **params})


@pytest.mark.usefixtures("one_thread")
def test_params_baseline_counts_the_subnet_parameters(archs) -> None:
    """``zc:proxy=params`` is the analytic count; it equals the conv/linear/BN parameters of the extracted subnet."""
    from ofa_bench.nn import ElasticMobileNetV3

    predicted = registry.create("predictor", "zc", proxy="params").fit(archs, np.zeros(6)).predict(archs)
    net = ElasticMobileNetV3(MINI)
    counted = [sum(p.numel() for p in net.extract(a).parameters()) for a in archs]
    np.testing.assert_array_equal(predicted, counted)


@pytest.mark.usefixtures("one_thread")
def test_scores_are_deterministic_without_the_memo_and_variants_differ(archs) -> None:
    archs = archs[:3]
    first = _zc(proxy="nwot").fit(archs, np.zeros(3)).predict(archs)
    clear_cache()
    again = _zc(proxy="nwot").fit(archs, np.zeros(3)).predict(archs)
    np.testing.assert_array_equal(first, again)
    init = _zc(proxy="nwot", weights="init").fit(archs, np.zeros(3)).predict(archs)
    assert not np.array_equal(first, init)
    other_batch = _zc(proxy="nwot", seed=1).fit(archs, np.zeros(3)).predict(archs)
    assert not np.array_equal(first, other_batch)


@pytest.mark.usefixtures("one_thread")
def test_worker_processes_give_the_same_scores_each_arch_once(archs, monkeypatch) -> None:
    """``jobs=2`` scores on two loky workers; the scores equal one process's bit for bit, in row order,
    a repeated arch is scored once, and what was memoised is not scored again."""
    rows = [archs[0], archs[1], archs[2], archs[1], archs[3]]  # archs[1] twice
    clear_cache()
    alone = _zc(proxy="grasp").fit(rows, np.zeros(5)).predict(rows)
    clear_cache()
    two = _zc(proxy="grasp", jobs=2).fit(rows, np.zeros(5))
    before = zc_module.worker_cpu_seconds()
    np.testing.assert_array_equal(two.predict(rows), alone)
    assert zc_module.worker_cpu_seconds() > before  # the workers report the CPU time they spent
    assert alone[1] == alone[3] and len(set(alone.tolist())) == 4
    memo = dict(zc_module._SCORES)
    assert len(memo) == 4  # four distinct archs, each scored and memoised once
    def no_workers(*args, **kwargs):
        raise AssertionError("every arch was memoised: no worker should be asked")

    monkeypatch.setattr(zc_module, "_score_chunk", no_workers)
    monkeypatch.setattr(zc_module.ZeroCostPredictor, "_score", no_workers)
    np.testing.assert_array_equal(two.predict(rows[::-1]), alone[::-1])
    assert zc_module._SCORES == memo


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"proxy": "magic"}, "unknown proxy 'magic'; allowed: synflow"),
        ({"weights": "trained"}, "weights='trained' is not allowed; allowed: supernet, init"),
        ({"batch_size": 1}, "batch_size must be an integer from 2 to 4096"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"jobs": 0}, "jobs must be an integer from 1 to 256; got 0"),
        ({"jobs": True}, "jobs must be an integer from 1 to 256; got True"),
        ({"benchmark": "/no/such/benchmark"}, "has no supernet.pt"),
    ],
)
def test_bad_parameters_are_one_line_errors(archs, params, match) -> None:
    with pytest.raises(OfaBenchError, match=match) as info:
        _zc(**params).fit(archs, np.zeros(6))
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_benchmark_of_another_space_is_refused(archs) -> None:
    from ofa_bench.benchmark.zoo import resolve_benchmark

    with pytest.raises(OfaBenchError, match="is of space 'ofa-fmnist'; the archs are of 'ofa-mini'") as info:
        _zc(benchmark=str(resolve_benchmark("fmnist"))).fit(archs, np.zeros(6))
    assert "\n" not in str(info.value)


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_shipped_fmnist_scores_are_finite_and_fast() -> None:
    import time

    from ofa_bench.benchmark.zoo import resolve_benchmark

    space = get_space("ofa-fmnist")
    some = space.sample(3, rng=np.random.default_rng(0))
    bench = str(resolve_benchmark("fmnist"))
    for proxy in ("synflow", "nwot", "snip"):
        zc = registry.create("predictor", "zc", proxy=proxy, benchmark=bench).fit(some, np.zeros(3))
        zc.predict(some[:1])
        clear_cache()
        start = time.process_time()
        scores = zc.predict(some)
        assert np.all(np.isfinite(scores)) and (time.process_time() - start) / 3 < 1.0


class _ProxyKit(PredictorTests):
    """The kit, with its learning check replaced: a proxy learns nothing, so it must be deterministic instead."""

    proxy = "synflow"

    @pytest.fixture
    def predictor(self):
        return _zc(proxy=self.proxy)

    def test_learns_the_signal(self, fitted, data) -> None:
        _, _, test, _ = data
        first = fitted.predict(test[:4])
        clear_cache()
        np.testing.assert_array_equal(fitted.predict(test[:4]), first)
        assert np.all(np.isfinite(first))


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
class TestSynflowKit(_ProxyKit):
    proxy = "synflow"


@pytest.mark.usefixtures("one_thread")
class TestFlopsKit(_ProxyKit):
    proxy = "flops"


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
class TestEveryProxyKit(_ProxyKit):
    @pytest.fixture(params=[p for p in ALL_PROXIES if p not in ("synflow", "flops")])
    def predictor(self, request):
        return _zc(proxy=request.param, weights="init" if request.param == "zen" else "supernet")


# ----- ZC as features -------------------------------------------------------------------------------


@pytest.mark.usefixtures("one_thread")
def test_zc_gbdt_appends_one_feature_per_proxy(archs) -> None:
    y = np.arange(6, dtype=float)
    model = registry.create("predictor", "zc-gbdt", proxies="flops,params", n_estimators=10, min_samples_leaf=1)
    model.fit(archs, y)
    assert model.n_features_in_ == MINI.n_columns + 2
    assert model.predict(archs).shape == (6,)
    with pytest.raises(OfaBenchError, match="unknown proxy 'magic'"):
        registry.create("predictor", "zc-gbdt", proxies="flops,magic").fit(archs, y)


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
class TestZCGBDTKit(PredictorTests):
    @pytest.fixture
    def predictor(self):
        return registry.create(
            "predictor", "zc-gbdt", proxies="synflow,params", batch_size=SMALL_BATCH, n_estimators=60
        )


# ----- ZC in search ---------------------------------------------------------------------------------


def _warm(**params):
    from ofa_bench_strategies.zc_warm_evolution import ZCWarmEvolution

    settings = {"population_size": 8, "sample_size": 3, "n_candidates": 24, "proxy": "flops", **params}
    return ZCWarmEvolution(**settings)


def test_warm_start_population_is_the_proxys_best_candidates() -> None:
    from ofa_bench.costs import macs_params
    from ofa_bench.plugins.testing.strategies import SINGLE

    strategy = _warm()
    strategy.setup(MINI, SINGLE, (), 0)
    first = MINI.to_array(strategy.ask(8))
    # The same seeded candidates, drawn again: the population is their 8 largest by MACs.
    again = _warm()
    again.setup(MINI, SINGLE, (), 0)
    candidates = again.sample_feasible(24, new=True)
    macs = macs_params(candidates, MINI)[0]
    assert sorted(map(tuple, first)) == sorted(map(tuple, candidates[np.argsort(-macs, kind="stable")[:8]]))
    assert strategy.proxy_archs_ == 24 and strategy.random_start(100) == 0


def test_warm_start_bad_candidates_is_a_one_line_error() -> None:
    with pytest.raises(OfaBenchError, match="n_candidates must be an integer >= population_size") as info:
        _warm(n_candidates=4)
    assert "\n" not in str(info.value)


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
class TestWarmEvolutionKit(StrategyTests):
    @pytest.fixture
    def strategy(self):
        return _warm(proxy="nwot", batch_size=SMALL_BATCH)
