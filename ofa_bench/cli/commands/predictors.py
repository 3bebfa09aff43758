"""``ofa-bench predictors``: evaluate accuracy predictors on an archive; fit, save and use one."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ofa_bench.cli import arguments, output, progress
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted import limits
from ofa_bench.plugins import registry
from ofa_bench.plugins.guard import plugin_code

__all__ = ["add_commands"]

_METRIC_LABELS = {
    "kendall_tau": "Kendall τ",
    "spearman_rho": "Spearman ρ",
    "rmse": "RMSE",
    "mae": "MAE",
    "top_precision": "top-10%",
}




def _one_spec(value: str) -> str:
    specs = arguments.plugin_specs("predictor")(value)
    if len(specs) != 1:
        raise argparse.ArgumentTypeError(f"one predictor spec, not {len(specs)}: {value!r}")
    return specs[0]


def _sizes(value: str) -> list[int]:
    sizes = []
    for part in value.split(","):
        try:
            size = int(part)
        except ValueError:
            size = 0
        if size < 2:
            message = f"train sizes must be integers >= 2, comma-separated; got {part.strip()!r}"
            raise argparse.ArgumentTypeError(message)
        sizes.append(size)
    return sizes


def _cell(row: Any, metric: str) -> str:
    digits = 4 if metric in ("rmse", "mae") else 3  # errors of accuracies are a few thousandths
    return f"{row[f'{metric}_median']:.{digits}f}±{row[f'{metric}_iqr']:.{digits}f}"


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ofa_bench import predictor_eval as pe
    from ofa_bench.benchmark.noise import noise_ceiling, remeasure
    from ofa_bench.report.predictors import write_results

    archive = pe.read_archive(args.archive, args.target, args.space)
    seeds = list(range(args.seeds))
    parts = pe.split(len(archive), args.test_size, args.train_sizes, args.test_seed)  # fail before any work
    with progress.counting_bar(args, "fitting") as update:
        runs = pe.evaluate_predictors(
            archive, args.predictors, args.train_sizes, seeds, args.test_size, args.test_seed,
            not args.lower_is_better, on_run=update,
        )  # fmt: skip
    summary = pe.summarise(runs)
    ceiling, lines = None, None
    if args.noise_ceiling is not None:
        test_archs = archive.space.from_array(archive.array[parts.test])
        with progress.counting_bar(args, "re-measuring the test archs") as update:
            done = iter(range(1, len(test_archs) + 1))
            again = remeasure(
                args.noise_ceiling, test_archs, args.calibration_seed, args.device,
                on_arch=lambda: update(next(done), len(test_archs), "another BN-calibration subset"),
            )  # fmt: skip
        ceiling = noise_ceiling(archive.y[parts.test], again)
        lines = {
            "calibration ceiling": ceiling["calibration"]["kendall_tau"],
            "validation-sampling ceiling (est.)": ceiling["split_half"]["tau_ceiling"],
        }
    report = {
        "title": f"{archive.source}: {len(archive)} archs of {archive.space.name}, test {args.test_size}",
        "archive": archive.source, "space": archive.space.name, "target": archive.target,
        "archs": len(archive), "duplicates_dropped": archive.duplicates, "test_size": args.test_size,
        "test_seed": args.test_seed, "seeds": seeds, "train_sizes": sorted(set(args.train_sizes)),
        "predictors": args.predictors, "noise_ceiling": ceiling,
        "summary": json.loads(summary.to_json(orient="records")),
    }  # fmt: skip
    if args.out is not None:
        report["files"] = write_results(args.out, runs, summary, report, lines)
    rows = [
        [
            row["predictor"], row["train_size"], *(_cell(row, m) for m in _METRIC_LABELS),
            f"{row['fit_seconds_median']:.2f}", f"{row['predict_seconds_median'] * 1e3:.1f}",
        ]
        for _, row in summary.iterrows()
    ]  # fmt: skip
    caption = (
        f"median±IQR over {len(seeds)} seeds (times: median); held-out {args.test_size} archs (seed {args.test_seed})"
    )
    if ceiling is not None:
        half = ceiling["split_half"]
        caption += (
            f"; noise ceiling on the test archs: τ {ceiling['calibration']['kendall_tau']:.3f} against a re-measurement "
            f"with BN-calibration seed {args.calibration_seed} (validation images shared), τ {half['kendall_tau']:.3f} "
            f"between disjoint validation halves, so an estimated best τ of {half['tau_ceiling']:.3f} on the whole split"
        )
    if archive.duplicates:
        caption += f"; {archive.duplicates} duplicate archs dropped"
    if args.out is not None:
        caption += f"; results in {args.out}"
    columns = ["predictor", "train", *_METRIC_LABELS.values(), "fit s", "predict ms"]
    return output.print_figures(args, report, f"Accuracy predictors on {report['title']}", columns, rows, caption=caption)


def _cmd_fit(args: argparse.Namespace) -> int:
    from ofa_bench.io.predictor_files import save_predictor
    from ofa_bench.predictor_eval import read_archive

    archive = read_archive(args.archive, args.target, args.space)
    predictor = registry.create_from_spec("predictor", args.predictor)
    if args.seed is not None and "seed" in predictor.get_params(deep=False):
        predictor.set_params(seed=args.seed)
    with plugin_code(f"accuracy predictor {args.predictor!r}: fit()"):
        predictor.fit(archive.space.from_array(archive.array), archive.y)
    path = save_predictor(predictor, args.out, predicts=archive.target)
    summary = {"predictor": args.predictor, "space": archive.space.name, "archs": len(archive), "out": str(path)}
    if args.json:
        print(output.dumps(summary))
    elif not args.quiet:
        print(f"fitted {args.predictor} on {output.count_archs(len(archive))} of {archive.space.name}; saved to {path}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from ofa_bench.io.jsonl import read_archs, write_text
    from ofa_bench.io.predictor_files import load_predictor

    predictor = load_predictor(args.model)
    space = predictor.space_
    archs = read_archs(space, args.archs)
    with plugin_code(f"accuracy predictor {getattr(predictor, 'name', None) or type(predictor).__name__!r}: predict()"):
        pred = predictor.predict(archs)
    std = None
    if args.std:
        try:
            with plugin_code():
                std = predictor.predict_std(archs)
        except NotImplementedError:
            raise OfaBenchError(f"--std: predictor {type(predictor).name!r} gives no uncertainty") from None
    target = args.target or getattr(predictor, "predicts_", None) or "accuracy"
    lines = []
    for i, arch in enumerate(archs):
        record = {**arch.to_dict(), target: float(pred[i])}
        if std is not None:
            record[f"{target}_std"] = float(np.asarray(std)[i])
        lines.append(json.dumps(record, separators=(",", ":")) + "\n")
    write_text(args.out, "".join(lines), "predictions")
    return 0


def add_commands(command: Any, group: Any) -> None:
    """Add ``ofa-bench predictors evaluate``, ``fit`` and ``predict``."""
    sub = group("predictors", "evaluate accuracy predictors on an archive of measured archs; fit and use one")
    archive_help = (
        "measured archs: JSON lines or .csv as 'ofa-bench archive --out' writes, .json/.csv of OFA dicts, "
        "a build-archive folder, or shipped:NAME (a shipped benchmark's archive, e.g. shipped:fmnist)"
    )
    space_help = "search-space preset of the archs (default: inferred)"

    p = sub("evaluate", _cmd_evaluate, "fit predictors at several train sizes and seeds; score on a fixed held-out set")
    p.add_argument("--archive", required=True, metavar="FILE", help=archive_help)
    p.add_argument(
        "--predictors", type=arguments.plugin_specs("predictor"), default="mlp,gbdt,gp", metavar="SPECS",
        help="comma-separated predictor specs, name or name:key=value, e.g. 'gbdt,rf:n_estimators=200' (default mlp,gbdt,gp)",
    )
    p.add_argument(
        "--train-sizes", type=_sizes, default="25,50,100,200,400", metavar="N,M", help="default 25,50,100,200,400"
    )
    p.add_argument(
        "--seeds", type=arguments.int_at_least(1, limits.MAX_SEEDS), default=5, metavar="N", help="seeds 0..N-1 (default 5)",
    )
    p.add_argument(
        "--test-size", type=arguments.int_at_least(2, limits.MAX_ARCHIVE_SIZE), default=300,
        help="held-out archs (default 300)",
    )
    p.add_argument("--test-seed", type=arguments.seed, default=0, help="seed of the held-out set (default 0)")
    p.add_argument("--target", default="accuracy", help="column to predict (default accuracy)")
    p.add_argument(
        "--lower-is-better", action="store_true", help="the target is minimised (loss, latency): the top 10%% is lowest"
    )
    p.add_argument("--space", type=arguments.space, help=space_help)
    p.add_argument(
        "--out", default="out/predictors", metavar="DIR", help="runs.csv, summary.csv/json, tau plot (out/predictors)"
    )
    p.add_argument(
        "--noise-ceiling", metavar="BENCH_DIR",
        help="benchmark the archive was measured on: re-measure the test archs with another BN-calibration subset "
        "and report the tau between the two measurements",
    )  # fmt: skip
    p.add_argument("--calibration-seed", type=arguments.seed, default=1, help="seed of that other subset (default 1)")
    p.add_argument("--device", choices=["cpu", "cuda"], help="where re-measuring runs (default: cuda when present)")

    p = sub("fit", _cmd_fit, "fit one predictor on a whole archive and save it (no code runs when it is loaded)")
    p.add_argument("--archive", required=True, metavar="FILE", help=archive_help)
    p.add_argument(
        "--predictor", required=True, type=_one_spec, metavar="SPEC", help="predictor name or spec, e.g. 'gp' or 'rf:n_estimators=200'"
    )
    p.add_argument("--out", required=True, metavar="FILE", help="predictor file to write")
    p.add_argument("--target", default="accuracy", help="column to predict (default accuracy)")
    p.add_argument("--space", type=arguments.space, help=space_help)
    p.add_argument("--seed", type=arguments.seed, help="predictor seed (default: its own default)")

    p = sub("predict", _cmd_predict, "predict archs (JSON lines) with a saved predictor")
    p.add_argument("--model", required=True, metavar="FILE", help="file written by 'ofa-bench predictors fit'")
    p.add_argument("--archs", default="-", metavar="FILE", help="JSON-lines archs, or - for stdin (default)")
    p.add_argument("--out", default="-", metavar="FILE", help="JSON lines with the prediction added (default stdout)")
    p.add_argument(
        "--target", help="name of the predicted field (default: the column the predictor was fitted on, else accuracy)"
    )
    p.add_argument("--std", action="store_true", help="add <target>_std where the predictor estimates it")
