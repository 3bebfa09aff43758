"""Train once: progressive shrinking, knowledge distillation, BN re-calibration."""

from __future__ import annotations

from ofa_bench.train.calibrate import calibrate_bn
from ofa_bench.train.schedule import (
    Phase,
    Schedule,
    default_schedule,
    load_schedule,
    no_ps_schedule,
    rss_schedule,
    scaled_schedule,
)

__all__ = [
    "Phase",
    "Schedule",
    "Trainer",
    "calibrate_bn",
    "default_schedule",
    "load_schedule",
    "no_ps_schedule",
    "rss_schedule",
    "scaled_schedule",
]


def __getattr__(name: str):
    # The trainer pulls in the data module; import it only when asked for.
    if name == "Trainer":
        from ofa_bench.train.trainer import Trainer

        return Trainer
    raise AttributeError(name)
