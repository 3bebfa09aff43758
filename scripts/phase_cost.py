"""What the elastic phases cost the largest sub-network: its accuracy as the full network left it, and now.

    .venv/bin/python scripts/phase_cost.py out/fmnist [--threads 2]

A finished training folder (``ofa-bench train --out DIR``) keeps its last checkpoint, whose
``teacher`` weights are the full network at the end of its own phase (the elastic phases distil
from it). This measures the largest sub-network, with BN re-calibration, on the validation and the
test split, once with those weights and once with the final ones, and prints one JSON line. It is
how the 1.7-point loss behind the ``largest: true`` elastic phases of the ``fmnist`` schedule was
found (docs/fmnist.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ofa_bench.errors import OfaBenchError
from ofa_bench.evaluate import Evaluator
from ofa_bench.train.trainer import CHECKPOINT_NAME


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a finished training folder (benchmark.json, checkpoint.pt)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    state = torch.load(args.out / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    if state.get("teacher") is None:
        raise SystemExit(f"{args.out / CHECKPOINT_NAME}: no teacher weights (no distilling phase ran)")
    result: dict[str, object] = {"out": str(args.out)}
    for split in ("valid", "test"):
        try:
            evaluator = Evaluator(args.out, cache=False, split=split)
        except OfaBenchError as exc:
            result[split] = str(exc)
            continue
        largest = evaluator.space.largest()
        final = evaluator.evaluate([largest], backends=())["accuracy"].iloc[0]
        evaluator._supernet().load_state_dict(state["teacher"])  # the same net, the full phase's weights
        full = evaluator.evaluate([largest], backends=())["accuracy"].iloc[0]
        result[split] = {"full_phase_end": full, "final": final}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
