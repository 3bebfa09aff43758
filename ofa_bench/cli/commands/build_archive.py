"""``ofa-bench build-archive``: measure a benchmark's archive (random, extreme, trajectory archs) and noise model."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ofa_bench.cli import arguments, output, progress
from ofa_bench.errors import OfaBenchError

__all__ = ["add_commands"]


def add_commands(command: Callable[..., argparse.ArgumentParser], group: Callable[..., Any]) -> None:
    p = command(
        "build-archive",
        _cmd_build_archive,
        "measure a benchmark's archive: random, extreme and search-trajectory archs with validation and test "
        "accuracy, plus a noise model; resumable, parallel, shareable between concurrent builders",
    )
    p.set_defaults(on_interrupt=output.rerun_resumes)  # measurements are kept in the benchmark's cache
    p.add_argument("--bench", required=True, help="benchmark directory or shipped name (e.g. fmnist)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for archive.csv, noise.csv, archive.json")
    p.add_argument("--random", type=arguments.int_at_least(0, 10_000_000), default=768, help="uniform random archs (768)")
    p.add_argument(
        "--strategies",
        default="regularized-evolution,nsga2,tpe,local-search",
        help="comma-separated strategies whose search trajectories join the archive ('' for none)",
    )
    p.add_argument(
        "--trajectory-budget", type=arguments.int_at_least(0, 1_000_000), default=50, help="evaluations each (50)"
    )
    p.add_argument(
        "--trajectory-seeds", type=arguments.int_at_least(0, 1000), default=1, help="trajectories per strategy (1)"
    )
    p.add_argument(
        "--long-runs", default="", help="comma-separated strategies searched once more for --long-budget evaluations"
    )
    p.add_argument("--long-budget", type=arguments.int_at_least(0, 1_000_000), default=0, help="evaluations of a long run")
    p.add_argument(
        "--reuse", metavar="DIR", default=None,
        help="an earlier archive folder of the same benchmark: its measurements are taken, not repeated",
    )  # fmt: skip
    p.add_argument("--no-extremes", action="store_true", help="leave out the space's corner archs")
    p.add_argument("--noise-archs", type=arguments.int_at_least(0, 1_000_000), default=100, help="re-measured archs (100)")
    p.add_argument("--noise-repeats", type=arguments.int_at_least(0, 100), default=2, help="independent calibrations (2)")
    p.add_argument("--seed", type=arguments.seed, default=0, help="seed of every random choice (0)")
    p.add_argument("--engine", default="joblib", choices=("joblib", "dask", "ray", "serial"), help="parallel engine")
    p.add_argument("--jobs", type=arguments.int_at_least(1, 4096), default=None, help="workers (default: CPU cores)")
    p.add_argument("--address", default=None, help="Dask or Ray scheduler address (default: a local cluster)")
    p.add_argument("--threads", type=arguments.int_at_least(1, 1024), default=1, help="torch threads per worker (1)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: CUDA when present")
    p.add_argument("--chunk", type=arguments.int_at_least(1, 100_000), default=20, help="archs per measuring job (20)")
    add_fit_command(command)


def _cmd_build_archive(args: argparse.Namespace) -> int:
    from ofa_bench.benchmark.archive import ArchivePlan, build_archive
    from ofa_bench.benchmark.provenance import format_command

    strategies = tuple(s.strip() for s in args.strategies.split(",") if s.strip())
    long_runs = tuple(s.strip() for s in args.long_runs.split(",") if s.strip())
    _check_options(args, strategies, long_runs)
    plan = ArchivePlan(
        random=args.random, strategies=strategies, trajectory_budget=args.trajectory_budget,
        trajectory_seeds=args.trajectory_seeds, extremes=not args.no_extremes, noise_archs=args.noise_archs,
        noise_repeats=args.noise_repeats, seed=args.seed, long_runs=long_runs, long_budget=args.long_budget,
    )  # fmt: skip
    with progress.counting_bar(args, "measuring jobs") as update:
        table = build_archive(
            args.bench, args.out, plan, engine=args.engine, jobs=args.jobs, threads=args.threads,
            device=args.device, address=args.address, chunk=args.chunk,
            progress=update,
            command=format_command(args.argv), reuse=args.reuse,
        )  # fmt: skip
    info = table.attrs
    summary = info["summary"]
    payload = {"out": args.out, "fingerprint": info["fingerprint"], **summary, "wall_time_s": info["wall_time_s"]}
    notes = []
    if summary.get("split_half"):
        half = summary["split_half"]
        notes.append(f"split-half noise ceiling (Kendall tau, {half['archs']} random archs): {half['tau_ceiling']:.3f}")
    if summary.get("noise"):
        noise = summary["noise"]
        notes.append(
            f"calibration noise: per-arch sd {noise['per_arch_sd_mean']:.4f}; one measurement's sd {noise['sd']:.4f}"
        )
    rows = [[source, count] for source, count in summary["sources"].items()]
    title = f"archive of {info['fingerprint']}: {summary['archs']} archs in {args.out}"
    return output.print_figures(args, payload, title, ["source", "archs"], rows, caption="; ".join(notes) or None)


def _check_options(args: argparse.Namespace, strategies: tuple[str, ...], long_runs: tuple[str, ...]) -> None:
    """Refuse what :class:`ArchivePlan` would refuse, naming the options rather than the plan's fields."""
    from ofa_bench.plugins import registry

    if long_runs and args.long_budget < 1:
        raise OfaBenchError(f"--long-runs {args.long_runs} needs --long-budget N >= 1, the evaluations of a long run")
    if args.noise_archs > args.random:
        raise OfaBenchError(
            f"--noise-archs ({args.noise_archs}) must be <= --random ({args.random}): "
            "the noise model re-measures the first random archs"
        )
    known = registry.names("strategy")
    for option, names in (("--strategies", strategies), ("--long-runs", long_runs)):
        for name in names:
            if name not in known:
                raise OfaBenchError(f"{option}: unknown strategy {name!r}; known: {', '.join(known)}")


def add_fit_command(command: Callable[..., argparse.ArgumentParser]) -> None:
    from ofa_bench.benchmark.surrogate_fit import CANDIDATES

    p = command(
        "fit-surrogate",
        _cmd_fit_surrogate,
        "choose, validate and fit the surrogate a benchmark ships, from its measured archive (build-archive)",
    )
    p.add_argument("--bench", required=True, help="benchmark directory or shipped name; the surrogate goes into it")
    p.add_argument(
        "--archive", required=True, metavar="DIR", help="a build-archive output folder, or shipped:NAME (e.g. shipped:fmnist)"
    )
    p.add_argument("--candidates", default=",".join(CANDIDATES), help=f"candidates (default: {','.join(CANDIDATES)})")
    p.add_argument("--holdout", type=arguments.int_at_least(10, 10_000_000), default=300, help="held-out archs (300)")
    p.add_argument("--folds", type=arguments.int_at_least(2, 100), default=5, help="cross-validation folds (5)")
    p.add_argument("--seed", type=arguments.seed, default=0, help="seed of the held-out draw, folds and predictors (0)")


def _cmd_fit_surrogate(args: argparse.Namespace) -> int:
    from ofa_bench.benchmark.provenance import format_command
    from ofa_bench.benchmark.surrogate_fit import ship_surrogate, split_labels

    say = (lambda line: print(line, file=sys.stderr, flush=True)) if not args.quiet else None
    fit, info = ship_surrogate(
        args.bench, args.archive, candidates=split_labels(args.candidates), holdout=args.holdout, folds=args.folds,
        seed=args.seed, progress=say, command=format_command(args.argv),
    )  # fmt: skip
    rows = [
        [target, f"{s['kendall_tau']:.3f}", f"{s['spearman_rho']:.3f}", f"{s['r2']:.3f}", f"{s['top_precision']:.2f}", s["n"]]
        for target, s in fit.quality["heldout"].items()
    ]
    title = f"surrogate {fit.label} of {info['archive']['fingerprint']}, on held-out archs"
    columns = ["target", "Kendall tau", "Spearman", "R^2", "top-10%", "archs"]
    return output.print_figures(args, info, title, columns, rows)
