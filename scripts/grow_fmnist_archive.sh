#!/usr/bin/env bash
# Grow the shipped Fashion-MNIST archive (issue 25): the 1,000 archs of the first archive are reused
# (--reuse: taken from its archive.csv, not measured again), and every built-in search strategy adds
# trajectories on its own seed streams, two of 120 evaluations each, plus three long runs of 400,
# so that the top of the accuracy range is dense. Random search adds none: the archive's 768 random
# archs are its trajectory. Resumable: run the same command again after a kill.
# On 2 cores (jobs 2, one torch thread each) it took the wall time archive.json records.
set -euo pipefail
out=${1:-out/archive-v2}
exec ofa-bench build-archive --bench fmnist --out "$out" \
    --random 768 --noise-archs 100 --noise-repeats 2 --seed 0 \
    --strategies regularized-evolution,nsga2,tpe,local-search,surrogate,pareto-evolution \
    --trajectory-budget 120 --trajectory-seeds 2 \
    --long-runs ofa-evolution,regularized-evolution,nsga2 --long-budget 400 \
    --reuse ofa_bench/benchmark/shipped/fmnist/archive \
    --jobs 2 --threads 1 --json
