"""Worker launched by torchrun in tests: trains a tiny schedule and saves this rank's weights."""

from __future__ import annotations

import os
import sys

import torch

from ofa_bench.data import DataSpec
from ofa_bench.train import load_schedule
from ofa_bench.train.trainer import Trainer

if __name__ == "__main__":
    out, schedule = sys.argv[1], sys.argv[2]
    rank = int(os.environ["RANK"])
    trainer = Trainer("ofa-mini", f"{out}/run", load_schedule(schedule), DataSpec(calib_size=64), seed=3, device="cpu")
    net = trainer.run()
    torch.save({k: v.contiguous() for k, v in net.state_dict().items()}, f"{out}/rank{rank}.pt")
    torch.distributed.destroy_process_group()
