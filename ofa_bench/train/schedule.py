"""Progressive-shrinking schedules as data: a list of phases, each opening more of the space.

OFA trains the full network first, then opens elastic kernel, then depth (two phases), then expand
(two phases, channel-importance sort before each), distilling from the full network throughout.
A schedule here is exactly that list; the defaults are scaled for the bundled digits data and a
YAML file overrides any field. The no-PS baseline opens everything from the start for the same
total number of epochs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted import MAX_BATCH, MAX_EPOCHS, excerpt, read_yaml
from ofa_bench.space import SearchSpace

__all__ = ["Phase", "Schedule", "default_schedule", "load_schedule", "no_ps_schedule", "shipped_schedules"]

_SHIPPED_DIR = Path(__file__).with_name("schedules")


def shipped_schedules() -> list[str]:
    """Names of the schedules shipped with ofa-bench (``fmnist``), loadable by :func:`load_schedule`."""
    return sorted(p.stem for p in _SHIPPED_DIR.glob("*.yaml"))


class Phase(BaseModel):
    """One phase of training: which choices are open, for how long, with what loss.

    ``kernel``, ``expand`` and ``depth`` list the open choices; ``None`` opens all of the space's.
    Resolutions are always elastic, as in OFA.
    """

    # allow_inf_nan=False: an infinite lr would train to the end and only then fail.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str
    epochs: int = Field(ge=1, le=MAX_EPOCHS)
    lr: float = Field(gt=0)
    kernel: tuple[int, ...] | None = Field(None, min_length=1)
    expand: tuple[int, ...] | None = Field(None, min_length=1)
    depth: tuple[int, ...] | None = Field(None, min_length=1)
    subnets_per_step: int = Field(default=1, ge=1, le=1_000)
    kd_ratio: float = Field(default=0.0, ge=0)
    sort_channels: bool = False
    #: Train the largest open sub-network as the first of every step's sub-networks. Random
    #: sampling alone almost never draws it once kernels are open, and the largest then drifts
    #: away from the full network it started as (on Fashion-MNIST, 1.7 points of test accuracy).
    largest: bool = False

    def open_choices(self, space: SearchSpace) -> dict[str, tuple[int, ...]]:
        """The open choices per field, checked against ``space``."""
        out = {}
        for field, allowed in (("kernel", space.ks_choices), ("expand", space.e_choices), ("depth", space.d_choices)):
            values = getattr(self, field)
            if values is None:
                values = allowed
            bad = [v for v in values if v not in allowed]
            if bad:
                raise OfaBenchError(
                    f"phase {self.name!r}: {field} {bad[0]} is not in {space.name}; allowed: "
                    f"{', '.join(map(str, allowed))}"
                )
            out[field] = tuple(sorted(set(values)))
        return out


class Schedule(BaseModel):
    """A whole training run: phases in order plus the optimiser settings they share."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    phases: tuple[Phase, ...] = Field(min_length=1, max_length=1_000)
    batch_size: int = Field(default=64, ge=1, le=MAX_BATCH)
    weight_decay: float = Field(default=3e-5, ge=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    label_smoothing: float = Field(default=0.1, ge=0, lt=1)
    sampling: Literal["random", "sandwich"] = "random"
    mode: Literal["ps", "no-ps", "rss"] = "ps"

    @field_validator("phases")
    @classmethod
    def _unique_names(cls, phases: tuple[Phase, ...]) -> tuple[Phase, ...]:
        names = [p.name for p in phases]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"phase names must be unique; {duplicates[0]!r} repeats")
        return phases

    @property
    def total_epochs(self) -> int:
        """Epochs over all phases."""
        return sum(p.epochs for p in self.phases)

    @property
    def subnet_epochs(self) -> int:
        """Sub-network passes over the training data: each phase's epochs times its sub-networks per step.

        The unit of compute in which progressive shrinking and random-subnet sampling are compared
        (:func:`rss_schedule`); it does not count the teacher's forward passes under distillation.
        """
        return sum(p.epochs * p.subnets_per_step for p in self.phases)

    def validate_for(self, space: SearchSpace) -> None:
        """Check every phase's choices against ``space`` (one-line error naming the phase)."""
        for phase in self.phases:
            phase.open_choices(space)


def default_schedule(space: SearchSpace, scale: float = 1.0) -> Schedule:
    """OFA's progressive shrinking with epochs scaled for the bundled digits data.

    Args:
        space: The space to train (its largest choices define the first phases).
        scale: Multiplies every phase's epochs (at least one each), e.g. 0.1 for a smoke test.
    """
    k, e, d = space.ks_choices, space.e_choices, space.d_choices
    phases = [
        Phase(name="full", epochs=15, lr=0.1, kernel=(max(k),), expand=(max(e),), depth=(max(d),)),
        Phase(name="kernel", epochs=5, lr=0.03, expand=(max(e),), depth=(max(d),), kd_ratio=1.0),
        Phase(name="depth-1", epochs=3, lr=0.01, expand=(max(e),), depth=d[-2:], subnets_per_step=2, kd_ratio=1.0),
        Phase(name="depth-2", epochs=5, lr=0.03, expand=(max(e),), subnets_per_step=2, kd_ratio=1.0),
        Phase(name="expand-1", epochs=3, lr=0.01, expand=e[-2:], subnets_per_step=2, kd_ratio=1.0, sort_channels=True),
        Phase(name="expand-2", epochs=6, lr=0.03, subnets_per_step=2, kd_ratio=1.0, sort_channels=True),
    ]  # fmt: skip
    schedule = Schedule(phases=tuple(phases))
    return schedule if scale == 1.0 else scaled_schedule(schedule, scale)


def no_ps_schedule(schedule: Schedule) -> Schedule:
    """The no-PS baseline: every dimension elastic from the start, same total epochs.

    It keeps the schedule's optimiser settings and the largest ``subnets_per_step``. There is no
    trained full network to distil from, so ``kd_ratio`` is 0, unless the sandwich rule supplies
    in-place distillation from the largest sub-network of each step.
    """
    lr = max(p.lr for p in schedule.phases)
    per_step = max(p.subnets_per_step for p in schedule.phases)
    kd = 1.0 if schedule.sampling == "sandwich" else 0.0
    phase = Phase(name="all-elastic", epochs=schedule.total_epochs, lr=lr, subnets_per_step=per_step, kd_ratio=kd)
    return schedule.model_copy(update={"phases": (phase,), "mode": "no-ps"})


def rss_schedule(schedule: Schedule) -> Schedule:
    """Random-subnet sampling (RSS) with the same compute as ``schedule``: the equal-compute baseline.

    One phase in which every dimension is elastic from the start and each step trains one uniformly
    drawn sub-network, for as many epochs as ``schedule`` has sub-network epochs
    (:attr:`Schedule.subnet_epochs`), so both make the same number of sub-network passes over the
    data. The learning rate follows the same family as each progressive-shrinking phase (a cosine
    decay from the phase's rate), from the schedule's highest rate; the optimiser settings are
    kept. No distillation: there is no trained full network to distil from. This is the baseline of
    Shipard et al. (CVPRW 2022), against which :func:`no_ps_schedule` (same epochs, more passes) is
    not equal-compute.
    """
    if schedule.sampling == "sandwich":
        raise OfaBenchError("random-subnet sampling draws one sub-network per step; it cannot use the sandwich rule")
    if schedule.subnet_epochs > MAX_EPOCHS:
        raise OfaBenchError(
            f"random-subnet sampling would need {schedule.subnet_epochs} epochs; at most {MAX_EPOCHS} allowed"
        )
    lr = max(p.lr for p in schedule.phases)
    phase = Phase(name="random-subnets", epochs=schedule.subnet_epochs, lr=lr, subnets_per_step=1, kd_ratio=0.0)
    return schedule.model_copy(update={"phases": (phase,), "mode": "rss"})


def scaled_schedule(schedule: Schedule, scale: float) -> Schedule:
    """``schedule`` with every phase's epochs multiplied by ``scale`` (rounded, at least one each)."""
    if not scale > 0:
        raise OfaBenchError(f"epochs scale must be > 0; got {scale}")
    phases = []
    for phase in schedule.phases:
        epochs = max(1, round(phase.epochs * scale))
        if epochs > MAX_EPOCHS:
            raise OfaBenchError(
                f"epochs scale {scale} gives phase {phase.name!r} {epochs} epochs; at most {MAX_EPOCHS} allowed"
            )
        phases.append(phase.model_copy(update={"epochs": epochs}))
    return schedule.model_copy(update={"phases": tuple(phases)})


def load_schedule(path: str | Path) -> Schedule:
    """Read a schedule from YAML, or a shipped one by name; errors name the field path, e.g. ``phases.2.epochs``."""
    path = Path(path)
    if not path.is_file() and str(path) in shipped_schedules():
        path = _SHIPPED_DIR / f"{path}.yaml"
    if not path.is_file():
        shipped = ", ".join(shipped_schedules())
        problem = "is a directory; a schedule is a YAML file" if path.is_dir() else "not found"
        raise OfaBenchError(f"schedule file {str(path)!r} {problem} (shipped schedules by name: {shipped})")
    data = read_yaml(path, f"schedule file {str(path)!r}")  # bounded: see docs/security.md
    try:
        return Schedule.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        got = f"; got {excerpt(error['input'])}" if error["type"] not in ("missing", "extra_forbidden") else ""
        raise OfaBenchError(f"schedule file {str(path)!r}: {field}: {error['msg']}{got}") from None
