"""``ofa-bench data check|fetch`` (datasets on disk) and ``ofa-bench bench list|info`` (benchmarks).

``bench info`` shows a benchmark's shipped surrogate (``surrogate`` in ``--json``: its
``surrogate.json`` plus its ``label``, whether it ``matches_benchmark`` and its headline ``figures``:
held-out tau, top-decile residual, sizes), ``bench list`` marks
benchmarks that ship one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ofa_bench.cli import arguments, output

__all__ = ["add_commands"]

_IDX_DATASETS = ("fashion-mnist", "idx")


def add_commands(command: Callable[..., argparse.ArgumentParser], group: Callable[..., Any]) -> None:
    """Add the ``data`` and ``bench`` command groups."""
    data = group("data", "datasets on disk: check the files and their pinned hashes, download Fashion-MNIST")
    p = data("check", _cmd_check, "read a dataset's files strictly, print split sizes and whether the hashes match")
    p.add_argument("name", choices=_IDX_DATASETS, help="dataset")
    p.add_argument("--root", metavar="DIR", help="the dataset's folder (default: the lookup order; idx needs it)")
    p = data("fetch", _cmd_fetch, "download Fashion-MNIST's upstream files, verified, atomically and resumably")
    p.set_defaults(on_interrupt=output.rerun_resumes)
    p.add_argument("name", choices=("fashion-mnist",), help="dataset")
    p.add_argument("--root", metavar="DIR", help="destination folder (default: the user cache, where loading looks)")
    p.add_argument("--url", metavar="URL", help="base URL serving the .gz files (default: the upstream mirror)")
    p.add_argument(
        "--timeout", type=arguments.positive_float(86_400), default=1800.0, metavar="SECONDS",
        help="give up when the whole fetch takes longer (default 1800)",
    )  # fmt: skip
    p.add_argument(
        "--stall-timeout", type=arguments.positive_float(3_600), default=60.0, metavar="SECONDS",
        help="give up when the server sends nothing for this long (default 60)",
    )  # fmt: skip

    bench = group("bench", "shipped benchmarks: list them, show one's fingerprint, splits and provenance")
    bench("list", _cmd_bench_list, "list the shipped benchmarks")
    p = bench("info", _cmd_bench_info, "show a benchmark: fingerprint, preset, dataset, splits, provenance, surrogate")
    p.add_argument("name", metavar="NAME", help="a shipped benchmark's name (see 'bench list') or a directory")


def _cmd_check(args: argparse.Namespace) -> int:
    from ofa_bench.data.idx_files import ANY_IDX, FASHION_MNIST, read_splits
    from ofa_bench.errors import OfaBenchError

    if args.name == "idx" and args.root is None:
        raise OfaBenchError("data check idx needs --root DIR: the folder of the four MNIST-format files")
    dataset = FASHION_MNIST if args.name == "fashion-mnist" else ANY_IDX
    found = read_splits(dataset, args.root, root_option="--root")
    report = {
        "dataset": args.name,
        "root": str(found.root),
        "train": len(found.train_labels),
        "test": len(found.test_labels),
        "image_size": list(found.train_images.shape[1:]),
        "n_classes": int(max(found.train_labels.max(), found.test_labels.max())) + 1,
        "verified": found.verified,
        "sha256": found.sha256,
    }
    verdict = {True: "yes (pinned SHA-256 of the decompressed files)", None: "nothing pinned for idx"}[found.verified]
    rows = [
        ["root", report["root"]],
        ["train images", report["train"]],
        ["test images", report["test"]],
        ["image size", "x".join(map(str, report["image_size"]))],
        ["classes", report["n_classes"]],
        ["hashes match", verdict],
    ]
    return output.print_figures(args, report, f"Dataset {args.name}", ["", ""], rows, header=False)


def _cmd_fetch(args: argparse.Namespace) -> int:
    from ofa_bench.data.fetch import fetch
    from ofa_bench.data.idx_files import FASHION_MNIST

    done: dict[str, str] = {}

    def on_file(name: str, what: str) -> None:
        done[name] = what
        if not args.quiet and not args.json:
            print(f"{what} {name}", file=sys.stderr)

    folder = fetch(FASHION_MNIST, args.root, args.url, on_file, stall_s=args.stall_timeout, deadline_s=args.timeout)
    if args.json:
        print(output.dumps({"dataset": args.name, "root": str(folder), "files": done, "verified": True}))
    else:
        print(f"{args.name} is in {folder} (hashes verified)")
    return 0


def _bench_facts(ref: str) -> dict[str, Any]:
    from ofa_bench.benchmark.surrogate import quality_figures, surrogate_fingerprint, surrogate_info
    from ofa_bench.benchmark.trained import Benchmark
    from ofa_bench.benchmark.zoo import is_shipped, provenance

    bench = Benchmark.load(ref)
    surrogate = surrogate_info(bench.directory)
    if surrogate is not None:
        label = f"shipped:{surrogate_fingerprint(bench.directory)}"
        surrogate = {
            **surrogate, "label": label, "matches_benchmark": surrogate["fingerprint"] == bench.fingerprint,
            "figures": quality_figures(surrogate),
        }  # fmt: skip
    splits = bench.splits
    names = {"train": "n_train", "valid": "n_val", "calib": "n_calib", "test": "n_test"}
    return {
        "name": bench.directory.name if is_shipped(bench.directory) else None,
        "dir": str(bench.directory),
        "fingerprint": bench.fingerprint,
        "preset": bench.space.name,
        "dataset": bench.data_spec.dataset,
        "splits": {
            split: {"size": splits[size], "sha256": splits.get(f"{'val' if split == 'valid' else split}_sha256")}
            for split, size in names.items()
            if size in splits
        },
        "provenance": provenance(bench.directory),
        "training_seconds": bench.training.get("seconds"),
        "surrogate": surrogate,
    }


def _cmd_bench_list(args: argparse.Namespace) -> int:
    from ofa_bench.benchmark.zoo import shipped_benchmarks

    entries = [_bench_facts(name) for name in shipped_benchmarks()]
    keys = ("name", "dir", "fingerprint", "preset", "dataset")
    payload = [{**{k: e[k] for k in keys}, "surrogate": _surrogate_brief(e["surrogate"])} for e in entries]
    rows = [[e["name"], e["preset"], e["dataset"], e["fingerprint"], _surrogate_line(e["surrogate"], "-")] for e in entries]
    return output.print_figures(args, payload, "Shipped benchmarks", ["name", "preset", "dataset", "fingerprint", "surrogate"], rows)


def _cmd_bench_info(args: argparse.Namespace) -> int:
    facts = _bench_facts(args.name)
    prov = facts["provenance"] or {}
    rows = [
        ["name", facts["name"] or "-"],
        ["directory", facts["dir"]],
        ["fingerprint", facts["fingerprint"]],
        ["preset", facts["preset"]],
        ["dataset", facts["dataset"]],
    ]
    rows += [[f"{split} split", f"{s['size']} images, sha256 {s['sha256']}"] for split, s in facts["splits"].items()]
    for key in ("command", "commit", "seed", "device", "wall_time_s"):
        if key in prov:
            rows.append([f"provenance: {key}", prov[key]])
    rows.append(["surrogate", _surrogate_line(facts["surrogate"])])
    return output.print_figures(args, facts, f"Benchmark {facts['name'] or facts['dir']}", ["", ""], rows, header=False)


def _surrogate_brief(surrogate: dict[str, Any] | None) -> dict[str, Any] | None:
    """What ``bench list --json`` says of a shipped surrogate."""
    if surrogate is None:
        return None
    return {k: surrogate.get(k) for k in ("predictor", "kendall_tau", "label", "matches_benchmark")}


def _surrogate_line(surrogate: dict[str, Any] | None, none: str = "none (suites on it need the data)") -> str:
    """One table cell describing a shipped surrogate: its predictor, held-out tau and noise."""
    if surrogate is None:
        return none
    text = (
        f"{surrogate['predictor']}, Kendall tau {surrogate['kendall_tau']:.3f} held out, noise sd "
        f"{surrogate['noise']['sd']:.4g}, {surrogate['archive']['n']} archs ({surrogate['label']})"
    )
    residual = (surrogate.get("figures") or {}).get("top_decile_residual")
    if residual is not None:
        calibrated = "calibrated" if surrogate["figures"]["calibrated"] else "uncalibrated"
        text += f"; top-decile residual {residual:+.4f} ({calibrated})"
    return text if surrogate["matches_benchmark"] else text + "; FITTED FOR ANOTHER FINGERPRINT"
