"""``ofa-bench train``: train a supernet by progressive shrinking into a benchmark directory."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ofa_bench.cli import arguments, output, progress
from ofa_bench.data.spec import DATASETS
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted import limits
from ofa_bench.space import get_space

__all__ = ["add_commands"]


def add_commands(command: Callable[..., argparse.ArgumentParser], group: Callable[..., Any]) -> None:
    """Add the ``train`` subcommand."""
    p = command("train", _cmd_train, "train a supernet by progressive shrinking into a benchmark directory")
    preset_help = f"{arguments.space_help()} (default ofa-mini)"
    p.add_argument("--preset", type=arguments.space, default=get_space("ofa-mini"), help=preset_help)
    p.add_argument("--out", required=True, metavar="DIR", help="benchmark directory to write (checkpoints too)")
    p.add_argument(
        "--schedule",
        metavar="FILE|NAME",
        help="YAML schedule, or a shipped one by name (fmnist); default: progressive shrinking for digits",
    )
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.set_defaults(on_interrupt=_interrupted)
    baseline = p.add_mutually_exclusive_group()
    baseline.add_argument(
        "--no-ps", action="store_true", help="baseline: everything elastic from the start, same epochs"
    )
    baseline.add_argument(
        "--rss",
        action="store_true",
        help="equal-compute baseline: one random subnet per step for as many subnet-epochs as the schedule has",
    )
    p.add_argument("--sandwich", action="store_true", help="largest + smallest + random subnets per step")
    p.add_argument(
        "--epochs-scale",
        type=arguments.positive_float(limits.MAX_EPOCHS_SCALE),
        default=1.0,
        help="multiply every phase's epochs (rounded, at least 1), of --schedule or the default",
    )
    p.add_argument("--seed", type=arguments.seed, default=0, help="seed of every random choice in training (default 0)")
    p.add_argument("--data", default="digits", choices=list(DATASETS))
    p.add_argument(
        "--data-root", metavar="DIR", help="folder of a local data set (all but digits; fashion-mnist is also searched)"
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        metavar="F",
        help="held-out validation share of the training images (default: 1/6 for fashion-mnist and idx, "
        "10,000 of 60,000 images; 0.2 otherwise)",
    )
    p.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when present")
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads for torch (default: torch's choice); 1 is far faster on a machine shared with other work",
    )


def _interrupted(args: argparse.Namespace) -> str | None:
    """What to do after an interrupt: resume from the last epoch's checkpoint, if one was written."""
    from ofa_bench.train.trainer import CHECKPOINT_NAME

    if not (Path(args.out) / CHECKPOINT_NAME).is_file():
        return None  # stopped before the first epoch ended: a rerun starts afresh anyway
    if args.resume:
        return output.RESUME_NOTE
    return "interrupted; rerun with --resume to continue from the last checkpoint"


def _cmd_train(args: argparse.Namespace) -> int:
    from ofa_bench.data import DataSpec
    from ofa_bench.evaluate import Evaluator
    from ofa_bench.train import default_schedule, load_schedule, no_ps_schedule, rss_schedule, scaled_schedule
    from ofa_bench.train.trainer import CHECKPOINT_NAME, Trainer

    space = args.preset
    if args.resume and not (Path(args.out) / CHECKPOINT_NAME).is_file():
        # Training from scratch here would be silent: --resume promises a continuation.
        raise OfaBenchError(
            f"nothing to resume in {args.out!r}: no {CHECKPOINT_NAME} (drop --resume to start a new training)"
        )
    if args.threads is not None:
        if args.threads < 1:
            raise OfaBenchError(f"--threads must be an integer >= 1; got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    schedule = load_schedule(args.schedule) if args.schedule else default_schedule(space)
    if args.epochs_scale != 1.0:
        schedule = scaled_schedule(schedule, args.epochs_scale)
    if args.sandwich:
        schedule = schedule.model_copy(update={"sampling": "sandwich"})
    if args.no_ps:
        schedule = no_ps_schedule(schedule)
    if args.rss:
        schedule = rss_schedule(schedule)
    val_fraction = args.val_fraction
    if val_fraction is None:
        val_fraction = 1 / 6 if args.data in ("fashion-mnist", "idx") else DataSpec.val_fraction
    data = DataSpec(dataset=args.data, root=args.data_root, val_fraction=val_fraction)
    with progress.training_bar(args, schedule.total_epochs) as on_step:
        trainer = Trainer(space, args.out, schedule, data, args.seed, args.device, on_step)
        bench = trainer.fit(resume=args.resume)
    if bench is None:  # a data-parallel rank other than 0: rank 0 reports
        return 0
    with Evaluator(bench, device=args.device) as evaluator:
        df = evaluator.evaluate([space.largest(), space.smallest()], ("mmacs", "mparams"))
    summary = {
        "benchmark": str(bench.directory), "fingerprint": bench.fingerprint, "space": space.name,
        "mode": schedule.mode, "sampling": schedule.sampling, "epochs": schedule.total_epochs, "seed": args.seed,
        "seconds": bench.training.get("seconds"), "largest_accuracy": float(df["accuracy"].iloc[0]),
        "smallest_accuracy": float(df["accuracy"].iloc[1]),
    }  # fmt: skip
    rows = [
        ["benchmark", summary["benchmark"]],
        ["fingerprint", summary["fingerprint"]],
        ["schedule", f"{schedule.mode}, {schedule.sampling} sampling, {schedule.total_epochs} epochs"],
        ["training seconds", summary["seconds"]],
        ["largest subnet val accuracy", f"{summary['largest_accuracy']:.2%}"],
        ["smallest subnet val accuracy", f"{summary['smallest_accuracy']:.2%}"],
    ]
    return output.print_figures(args, summary, f"Trained {space.name} on {args.data}", ["", ""], rows, header=False)
