#!/usr/bin/env bash
# Grow the shipped Fashion-MNIST archive (issue 25): the 1,000 archs of the first archive (commit
# 69b2522, ofa_bench/zoo/fmnist/archive there) are reused (--reuse: taken from its archive.csv, not
# measured again), and every built-in search strategy adds a trajectory of 120 live evaluations on
# its own seed stream, plus three long runs of 400, so that the top of the accuracy range is dense.
# Random search adds none: the archive's 768 random archs are its trajectory. Resumable: run the
# same command again after a kill. It was started with --trajectory-seeds 2 and cut to 1 after 2.5
# hours of a machine shared with other work (the second seeds would have taken 3 more hours); the
# runs already made were resumed from their logs, and every measurement came from the cache.
# On 2 cores (jobs 2, one torch thread each) it took the wall time archive.json records.
#   git worktree add /tmp/archive-v1 69b2522
#   scripts/grow_fmnist_archive.sh out/archive-v2 /tmp/archive-v1/ofa_bench/zoo/fmnist/archive
set -euo pipefail
out=${1:-out/archive-v2}
reuse=${2:?give the folder of the 1,000-arch archive to reuse (see above)}
exec ofa-bench build-archive --bench fmnist --out "$out" \
    --random 768 --noise-archs 100 --noise-repeats 2 --seed 0 \
    --strategies regularized-evolution,nsga2,tpe,local-search,surrogate,pareto-evolution \
    --trajectory-budget 120 --trajectory-seeds 1 \
    --long-runs ofa-evolution,regularized-evolution,nsga2 --long-budget 400 \
    --reuse "$reuse" \
    --jobs 2 --threads 1 --json
