"""Both sides of each speed comparison of issue 27, measured in one process, alternating rounds.

    .venv/bin/python scripts/speed_side_by_side.py [search] [forward] [predictor] [--rounds N] [--profile]

- ``search``: archs scored per second by our ``ofa-evolution`` (MLP predictor oracle, MACs limit,
  population 100, through the search loop) and by ``ofa``'s ``EvolutionFinder`` (its own 3x400 MLP
  accuracy predictor) with two efficiency models: our MACs counter called per arch, and ``ofa``'s
  ``Mbv3FLOPsModel``; the ratios are the targets ``evolution_vs_ofa_own_counter`` and
  ``evolution_vs_ofa_flops`` of ``benchmarks/targets.py``. Also how much of our time one
  predictor call per generation takes (the floor the predictor sets on our rate), and the rate of
  a strategy whose own logic costs nothing (it replays archs drawn beforehand) through the same
  loop, oracle and base-class bookkeeping: what is left for the strategy under each target.
- ``forward``: on 5 subnets (ofa-mbv3-w1.0, r=160, batch 8): our elastic forward, our extracted
  static subnet, the same with its batch norms folded (as our elastic eval path folds them) and
  ``ofa``'s elastic ``OFAMobileNetV3`` with the same weights, interleaved; every model and input
  channels-last, as the product runs inference on a CPU (``--nchw`` for the default layout).
- ``predictor``: one generation's predictor call (100 archs) split into its parts.

Everything runs on one thread (torch, BLAS, ONNX Runtime); every figure is the median of the
rounds, each round timing both sides back to back in alternating order. ``--profile`` prints the
top lines of a cProfile of our search instead of timing. The ``ofa`` package is the reference only
(installed for the benchmarks and tests).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.test_search_perf import LIMIT_M, POPULATION, W10, OwnCounter, fitted_mlp, predictor_seconds
from benchmarks.test_search_perf import ours as _ours
from benchmarks.test_search_perf import reference as _reference


def ours(mlp, generations: int) -> float:
    return _ours(mlp, generations, CPU_RATES)


def reference(efficiency: object, generations: int) -> float:
    return _reference(efficiency, generations, CPU_RATES)


#: Archs per CPU second of the latest runs (process time: less disturbed by other processes than wall time).
CPU_RATES: list[float] = []


def free_strategy(mlp, generations: int) -> float:
    """Archs scored per second through the same loop by a strategy whose own logic costs nothing.

    It proposes feasible archs drawn beforehand, a generation at a time, through the base class
    (so the duplicate bookkeeping every built-in pays is in); the rest is the loop and the oracle.
    """
    from ofa_bench_strategies._base import ArrayStrategy

    from ofa_bench.costs import array_costs
    from ofa_bench.search.loop import run_search
    from ofa_bench.search.predictor_evaluate import PredictorEvaluate

    budget = POPULATION * (generations + 1)
    drawn = W10.sample_array(3 * budget, 5)
    drawn = drawn[array_costs(W10, drawn, True, False)[0] <= LIMIT_M * 1e6][:budget]

    class Replay(ArrayStrategy):
        name = "replay"

        def preferred_batch_size(self) -> int:
            return POPULATION

        def _init(self) -> None:
            self._next = 0

        def _propose(self, n: int) -> np.ndarray:
            self._next += n
            return drawn[self._next - n : self._next]

    evaluate = PredictorEvaluate(W10, mlp)
    start, cpu = time.perf_counter(), time.process_time()
    result = run_search(Replay(), W10, "accuracy", [f"macs<={LIMIT_M * 1e6:g}"], evaluate, budget, seed=0)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert len(result) == budget
    CPU_RATES.append(budget / cpu)
    return budget / seconds


def search(rounds: int, gens: int, ref_gens: int) -> None:
    from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3
    from ofa.nas.efficiency_predictor import Mbv3FLOPsModel

    mlp = fitted_mlp()
    flops = Mbv3FLOPsModel(OFAMobileNetV3(ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4]))
    ours(mlp, 5)
    free_strategy(mlp, 5)
    rate, own, ofa_flops, floor, free, cpu = [], [], [], [], [], []
    for i in range(rounds):
        rate.append(ours(mlp, gens))
        own.append(reference(OwnCounter(), ref_gens))
        ofa_flops.append(reference(flops, max(2, ref_gens // 5)))
        free.append(free_strategy(mlp, gens))
        cpu.append(CPU_RATES[-4:])
        floor.append(predictor_seconds(mlp, 50))
        print(f"  round {i}: ours {rate[-1]:,.0f}/s, ofa+our counter {own[-1]:,.0f}/s, ofa+flops {ofa_flops[-1]:,.0f}/s, "
              f"free strategy {free[-1]:,.0f}/s", flush=True)  # fmt: skip
    r, o, f, p, z = (float(np.median(v)) for v in (rate, own, ofa_flops, floor, free))
    print(f"search: ours {r:,.0f} archs/s | ofa EvolutionFinder + our MACs counter {o:,.0f} archs/s "
          f"| ofa EvolutionFinder + Mbv3FLOPsModel {f:,.0f} archs/s")  # fmt: skip
    print(f"  evolution_vs_ofa_own_counter = {r / o:.2f}x (target >= 50)")
    print(f"  evolution_vs_ofa_flops       = {r / f:.2f}x (target >= 100)")
    c = np.median(np.array(cpu), axis=0)
    print(f"  on CPU time instead of wall time: ours {c[0]:,.0f}/s, {c[0] / c[1]:.2f}x and {c[0] / c[2]:.2f}x")
    share = p * c[0] / POPULATION
    print(f"  predictor call per generation (CPU, called back to back): {p * 1e3:.3f} ms = {share:.0%} of our CPU time "
          f"per generation; with every other cost removed our rate would be {POPULATION / p:,.0f} archs/s = "
          f"{POPULATION / p / c[1]:.1f}x / {POPULATION / p / c[2]:.1f}x (CPU rates)")  # fmt: skip
    # What the strategy's own logic may cost per generation for each target, given the free strategy's time.
    spare = [POPULATION / (bound * rate_) - POPULATION / z for bound, rate_ in ((50, o), (100, f))]
    print(f"  a strategy that costs nothing, same loop and oracle: {z:,.0f} archs/s = {z / o:.1f}x / {z / f:.1f}x "
          f"({POPULATION / z * 1e3:.3f} ms per generation; ours {POPULATION / r * 1e3:.3f}); left for the strategy's "
          f"own logic per generation: {spare[0] * 1e3:.3f} ms for 50x, {spare[1] * 1e3:.3f} ms for 100x "
          "(negative: out of reach whatever the strategy)")  # fmt: skip


def profile(gens: int) -> None:
    import cProfile
    import pstats

    mlp = fitted_mlp()
    ours(mlp, 5)
    prof = cProfile.Profile()
    prof.enable()
    ours(mlp, gens)
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(45)


def _time(fn, x) -> float:
    t0 = time.perf_counter()
    fn(x)
    return time.perf_counter() - t0


def forward(rounds: int, channels_last: bool = True) -> None:
    from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3

    from ofa_bench.nn import ElasticMobileNetV3
    from ofa_bench.nn.layers import fold_batch_norms
    from ofa_bench.nn.ofa_format import load_ofa_weights

    layout = torch.channels_last if channels_last else torch.contiguous_format
    print(f"forward: {'channels-last' if channels_last else 'NCHW'} models and images")

    torch.manual_seed(0)
    theirs = OFAMobileNetV3(
        n_classes=1000, width_mult=1.0, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4]
    ).eval()
    net = ElasticMobileNetV3(W10).eval()
    load_ofa_weights(net, theirs.state_dict())
    net, theirs = net.to(memory_format=layout), theirs.to(memory_format=layout)
    lines, ratios_ofa, ratios_static, ratios_folded = [], [], [], []
    with torch.inference_mode():
        for index, arch in enumerate(W10.sample(5, rng=2026)):
            arch = arch.replace(r=160)
            net.set_active(arch)
            theirs.set_active_subnet(ks=list(arch.ks), e=list(arch.e), d=list(arch.d))
            static = net.extract().eval().to(memory_format=layout)
            folded = fold_batch_norms(static)
            x = torch.randn(8, 3, 160, 160, generator=torch.Generator().manual_seed(index))
            x = x.contiguous(memory_format=layout)
            assert torch.allclose(net(x), static(x), atol=1e-4) and torch.allclose(folded(x), static(x), atol=1e-4)
            torch.testing.assert_close(net(x), theirs(x), atol=1e-3, rtol=1e-3)
            for _ in range(2):
                net(x), static(x), folded(x), theirs(x)
            te, ts, tf, to = [], [], [], []
            for i in range(rounds):
                order = [(net, te), (static, ts), (folded, tf), (theirs, to)]
                for fn, out in order if i % 2 == 0 else order[::-1]:
                    out.append(_time(fn, x))
            e_s, e_f, e_o = (float(np.median(np.array(te) / np.array(t))) for t in (ts, tf, to))
            ratios_static.append(e_s)
            ratios_folded.append(e_f)
            ratios_ofa.append(e_o)
            lines.append(f"  subnet {index} d={''.join(map(str, arch.d))}: elastic {np.median(te) * 1e3:.2f} ms, "
                         f"static {np.median(ts) * 1e3:.2f} ms, static BN folded {np.median(tf) * 1e3:.2f} ms, "
                         f"ofa elastic {np.median(to) * 1e3:.2f} ms; elastic/static {e_s:.3f}, "
                         f"elastic/static-folded {e_f:.3f}, elastic/ofa {e_o:.3f}")  # fmt: skip
            print(lines[-1], flush=True)
    print(f"forward: elastic/static median {np.median(ratios_static):.3f} (target <= 1.0), worst {max(ratios_static):.3f}; "
          f"elastic/ofa-elastic median {np.median(ratios_ofa):.3f} (target <= 0.8); elastic/static with BN folded "
          f"too median {np.median(ratios_folded):.3f}, worst {max(ratios_folded):.3f} (no target)")  # fmt: skip


def predictor(calls: int) -> None:
    from ofa_bench.plugins.encoding import onehot_codes

    mlp = fitted_mlp()
    array = W10.sample_array(POPULATION, 1)
    h = mlp._first_product(array)
    parts = {
        "whole predict": lambda: mlp.predict(array),
        "onehot_codes": lambda: onehot_codes(array, W10),
        "first product": lambda: mlp._first_product(array),
        "int8 session": lambda: mlp._run_int8(h),
        "float32 rest": lambda: mlp._rest(h.copy()),
    }
    times: dict[str, list[float]] = {k: [] for k in parts}
    for _ in range(calls):
        for key, fn in parts.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    for key, values in times.items():
        print(f"  predictor, 100 archs: {key:15s} {np.median(values) * 1e6:8.1f} us")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="*", help="search, forward, predictor (default: search forward)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--generations", type=int, default=100, help="ours; the reference runs 5 per round")
    parser.add_argument("--ref-generations", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile our search instead of timing")
    parser.add_argument("--nchw", action="store_true", help="forward: default memory layout instead of channels-last")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} logical cores; one thread per runtime", flush=True
    )
    unknown = set(args.what) - {"search", "forward", "predictor"}
    if unknown:
        parser.error(f"unknown comparison {min(unknown)!r}; choose from search, forward, predictor")
    if args.profile:
        profile(args.generations)
        return 0
    for what in args.what or ["search", "forward"]:
        if what == "search":
            search(args.rounds, args.generations, args.ref_generations)
        elif what == "forward":
            forward(max(args.rounds, 5) * 2, channels_last=not args.nchw)
        else:
            predictor(max(args.rounds, 50))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
