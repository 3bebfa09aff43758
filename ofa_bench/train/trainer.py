"""The progressive-shrinking trainer: knowledge distillation, checkpoints, resume, data parallel.

Every random choice of a step (data order, augmentation, resolution, sampled sub-networks,
dropout) is a function of ``(seed, phase, epoch, step)``, not of state carried from earlier steps.
A checkpoint at each epoch boundary therefore holds everything a resumed run needs to finish with
weights bit-identical to an uninterrupted run, and every data-parallel rank samples the same
sub-networks without exchanging anything.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.data import DataSpec, ImageData, load_data
from ofa_bench.errors import OfaBenchError
from ofa_bench.nn import ElasticMobileNetV3, resolve_device
from ofa_bench.space import Arch, SearchSpace, get_space
from ofa_bench.train.checkpoint import load_checkpoint, save_checkpoint
from ofa_bench.train.schedule import Phase, Schedule, default_schedule

__all__ = ["EpochLog", "Trainer", "sample_subnets"]

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass(frozen=True)
class EpochLog:
    """What one epoch did: mean training loss and accuracy of the first sub-network per step."""

    phase: str
    epoch: int
    loss: float
    accuracy: float
    lr: float
    seconds: float


def sample_subnets(
    space: SearchSpace,
    choices: dict[str, tuple[int, ...]],
    n: int,
    r: int,
    rng: np.random.Generator,
    sandwich: bool,
    largest: bool = False,
) -> list[Arch]:
    """Sample ``n`` sub-networks from the open ``choices`` at resolution ``r``.

    With ``sandwich`` the first is the largest and the second the smallest open sub-network
    (BigNAS's sandwich rule); the rest are uniform. With ``largest`` only the first is replaced by
    the largest. The random draws are the same either way, so the uniform ones do not change.
    """
    nb, ns = space.n_blocks, space.n_stages
    columns = [("kernel", nb), ("expand", nb), ("depth", ns)]
    rows = np.concatenate(
        [rng.choice(choices[name], size=(n, width)) for name, width in columns] + [np.full((n, 1), r)], axis=1
    )
    if sandwich or largest:
        for i, pick in enumerate((max, min)[: min(n, 2 if sandwich else 1)]):
            rows[i, :-1] = np.concatenate([np.full(width, pick(choices[name])) for name, width in columns])
    return space.from_array(rows)


def _soft_cross_entropy(logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
    return -(F.softmax(target_logits, dim=1) * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


@dataclass
class _Distributed:
    rank: int = 0
    world_size: int = 1

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls, device: torch.device) -> _Distributed:
        """Join the process group torchrun describes in the environment (gloo on CPU, NCCL on CUDA)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(dist.get_rank(), dist.get_world_size())

    def average_(self, tensors: list[torch.Tensor]) -> None:
        # One flat all-reduce instead of torch's DDP wrapper: DDP's reducer assumes one graph per
        # step, while elastic training runs several sub-networks, each using a different subset of
        # the parameters; averaging the summed gradients once per step is exactly data parallel.
        if not self.active or not tensors:
            return
        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for t in tensors:
            t.copy_(flat[offset : offset + t.numel()].view_as(t))
            offset += t.numel()


@dataclass
class Trainer:
    """Trains an elastic supernet by progressive shrinking and writes a benchmark directory.

    Args:
        space: Search space (or preset name) of the supernet.
        out_dir: Where checkpoints and the final benchmark go.
        schedule: Phases and optimiser settings (default: :func:`default_schedule`).
        data: Data set specification (default: the bundled digits).
        seed: Seed of every random choice in training.
        device: ``cpu``, ``cuda`` or ``None`` for CUDA when present.
        on_step: Called as ``on_step(phase, epoch, step, steps, loss, accuracy)`` for progress.
    """

    space: SearchSpace | str
    out_dir: str | Path
    schedule: Schedule | None = None
    data: DataSpec = field(default_factory=DataSpec)
    seed: int = 0
    device: str | torch.device | None = None
    on_step: Callable[[str, int, int, int, float, float], None] | None = None

    def __post_init__(self) -> None:
        self.space = get_space(self.space)
        self.out_dir = Path(self.out_dir)
        self.schedule = self.schedule or default_schedule(self.space)
        self.schedule.validate_for(self.space)
        self.device = resolve_device(self.device)
        self.history: list[EpochLog] = []
        self._rank, self._world_size = 0, 1
        self._data: ImageData | None = None

    @property
    def checkpoint_path(self) -> Path:
        """The rolling checkpoint, rewritten atomically at every epoch boundary."""
        return self.out_dir / CHECKPOINT_NAME

    def fit(self, resume: bool = False) -> Benchmark | None:
        """Train (see :meth:`run`) and write the benchmark directory into :attr:`out_dir`.

        Returns:
            The benchmark, or ``None`` on data-parallel ranks other than 0 (rank 0 writes it).
        """
        started = time.perf_counter()
        net = self.run(resume)
        if self._rank != 0:
            return None
        summary = {
            "seed": self.seed,
            "mode": self.schedule.mode,
            "sampling": self.schedule.sampling,
            "schedule": self.schedule.model_dump(mode="json"),
            "epochs": self.schedule.total_epochs,
            "world_size": self._world_size,
            "device": str(self.device),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "seconds": round(time.perf_counter() - started, 1),
            "history": [log.__dict__ for log in self.history],
        }
        return Benchmark.create(self.out_dir, net, self.data, training=summary, data=self._data)

    def run(self, resume: bool = False) -> ElasticMobileNetV3:
        """Train every phase (continuing from the checkpoint with ``resume``); return the supernet."""
        if self.device.type == "cuda" and "LOCAL_RANK" in os.environ:  # one GPU per torchrun process
            self.device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
            torch.cuda.set_device(self.device)
        par = _Distributed.from_env(self.device)
        self._rank, self._world_size = par.rank, par.world_size
        data = self._data = load_data(self.data)
        if data.in_channels != self.space.net.in_channels or data.n_classes != self.space.net.n_classes:
            raise OfaBenchError(
                f"data set {self.data.dataset} has {data.in_channels} channels and {data.n_classes} classes; "
                f"{self.space.name} expects {self.space.net.in_channels} and {self.space.net.n_classes}"
            )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(self.seed)
        # channels_last: oneDNN's depthwise convolutions, the bulk of the work, run 2-10x faster.
        net = ElasticMobileNetV3(self.space).to(self.device, memory_format=torch.channels_last)
        teacher: ElasticMobileNetV3 | None = None
        start_phase, start_epoch = 0, 0
        if self.checkpoint_path.exists():
            if not resume:
                raise OfaBenchError(
                    f"{str(self.out_dir)!r} already holds a training checkpoint; pass --resume to continue it "
                    "or choose another output directory"
                )
            state = load_checkpoint(self.checkpoint_path, self._identity())
            net.load_state_dict(state["model"])
            if state["teacher"] is not None:
                teacher = self._make_teacher(net, state["teacher"])
            start_phase, start_epoch = state["phase"], state["epoch"]
            self.history = [EpochLog(**log) for log in state["history"]]
            optimizer_state = state["optimizer"]
        else:
            optimizer_state = None
        for p_index in range(start_phase, len(self.schedule.phases)):
            phase = self.schedule.phases[p_index]
            first_epoch = start_epoch if p_index == start_phase else 0
            if phase.kd_ratio > 0 and teacher is None and self.schedule.sampling != "sandwich":
                teacher = self._make_teacher(net, net.state_dict())
            if phase.sort_channels and first_epoch == 0:
                net.sort_channels(phase.open_choices(self.space)["expand"])
            optimizer = self._optimizer(net, phase)
            if optimizer_state is not None and p_index == start_phase:
                optimizer.load_state_dict(optimizer_state)
            for epoch in range(first_epoch, phase.epochs):
                self.history.append(self._train_epoch(net, teacher, optimizer, data, p_index, epoch, par))
                if par.active:
                    par.average_([b for b in net.buffers() if b.is_floating_point()])
                if par.rank == 0:
                    save_checkpoint(self.checkpoint_path, self._checkpoint(net, teacher, optimizer, p_index, epoch))
                if par.active:
                    dist.barrier()
        net.set_max()
        return net

    # ----- one epoch -----------------------------------------------------------------------------

    def _train_epoch(
        self,
        net: ElasticMobileNetV3,
        teacher: ElasticMobileNetV3 | None,
        optimizer: torch.optim.Optimizer,
        data: ImageData,
        p_index: int,
        epoch: int,
        par: _Distributed,
    ) -> EpochLog:
        schedule, phase = self.schedule, self.schedule.phases[p_index]
        choices = phase.open_choices(self.space)
        global_epoch = sum(p.epochs for p in schedule.phases[:p_index]) + epoch
        steps = data.steps_per_epoch(schedule.batch_size, par.world_size)
        if steps == 0:
            raise OfaBenchError(f"batch size {schedule.batch_size} is larger than the training split")
        torch.manual_seed(int(np.random.SeedSequence([self.seed, p_index, epoch]).generate_state(1)[0]))  # dropout
        net.train()
        batches = data.train_batches(
            schedule.batch_size, self.space.resolutions, self.seed, global_epoch, par.rank, par.world_size
        )
        started, total_loss, total_correct, total_seen = time.perf_counter(), 0.0, 0, 0
        lr = phase.lr
        for step, (x, y) in enumerate(batches):
            lr = 0.5 * phase.lr * (1 + math.cos(math.pi * (epoch * steps + step) / (phase.epochs * steps)))
            for group in optimizer.param_groups:
                group["lr"] = lr
            x = x.to(self.device, non_blocking=True, memory_format=torch.channels_last)
            y = y.to(self.device, non_blocking=True)
            rng = np.random.default_rng([self.seed, p_index, epoch, step])
            sandwich = schedule.sampling == "sandwich"
            archs = sample_subnets(self.space, choices, phase.subnets_per_step, x.size(-1), rng, sandwich, phase.largest)
            loss, correct = self._step(net, teacher, optimizer, phase, archs, x, y, par)
            total_loss += loss * y.size(0)
            total_correct += correct
            total_seen += y.size(0)
            if self.on_step is not None:
                self.on_step(phase.name, epoch, step + 1, steps, total_loss / total_seen, total_correct / total_seen)
        return EpochLog(
            phase.name, epoch, total_loss / max(total_seen, 1), total_correct / max(total_seen, 1), lr,
            time.perf_counter() - started,
        )  # fmt: skip

    def _step(
        self,
        net: ElasticMobileNetV3,
        teacher: ElasticMobileNetV3 | None,
        optimizer: torch.optim.Optimizer,
        phase: Phase,
        archs: list[Arch],
        x: torch.Tensor,
        y: torch.Tensor,
        par: _Distributed,
    ) -> tuple[float, int]:
        # None, not zero: parameters no sub-network of this step used are skipped by the optimiser
        # (no weight decay or momentum step), whatever earlier steps did, so a resumed run, which
        # starts without gradients, updates exactly what an uninterrupted run updates.
        optimizer.zero_grad(set_to_none=True)
        smoothing = self.schedule.label_smoothing
        soft = None
        if teacher is not None and phase.kd_ratio > 0:
            with torch.no_grad():
                soft = teacher(x)
        first_loss, first_correct = 0.0, 0
        for i, arch in enumerate(archs):
            net.set_active(arch)
            logits = net(x)
            loss = F.cross_entropy(logits, y, label_smoothing=smoothing)
            if self.schedule.sampling == "sandwich" and i == 0:
                soft = logits.detach()  # in-place distillation: the largest teaches the rest
            elif soft is not None and phase.kd_ratio > 0:
                loss = loss + phase.kd_ratio * _soft_cross_entropy(logits, soft)
            loss.backward()
            if i == 0:
                first_loss, first_correct = loss.item(), int((logits.argmax(1) == y).sum())
        # Every rank ran the same sub-networks, so the same parameters have gradients everywhere.
        par.average_([p.grad for p in net.parameters() if p.grad is not None])
        optimizer.step()
        return first_loss, first_correct

    # ----- helpers -------------------------------------------------------------------------------

    def _optimizer(self, net: ElasticMobileNetV3, phase: Phase) -> torch.optim.Optimizer:
        # No weight decay on BN affine parameters and biases (all 1-D), as OFA trains.
        decay = [p for p in net.parameters() if p.ndim > 1]
        no_decay = [p for p in net.parameters() if p.ndim <= 1]
        groups = [{"params": decay, "weight_decay": self.schedule.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.SGD(groups, lr=phase.lr, momentum=self.schedule.momentum, nesterov=True)

    def _make_teacher(self, net: ElasticMobileNetV3, state: dict[str, torch.Tensor]) -> ElasticMobileNetV3:
        teacher = copy.deepcopy(net)
        teacher.load_state_dict(state)
        teacher.set_max()
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        return teacher

    def _identity(self) -> dict[str, Any]:
        """What a checkpoint must match to be resumed by this trainer."""
        schedule = self.schedule.model_dump(mode="json")
        for phase in schedule["phases"]:  # named only when set, so checkpoints from before the field resume
            if not phase["largest"]:
                del phase["largest"]
        return {
            "space": self.space.name,
            "schedule": schedule,
            "data": self.data.to_dict(),
            "seed": self.seed,
        }

    def _checkpoint(
        self,
        net: ElasticMobileNetV3,
        teacher: ElasticMobileNetV3 | None,
        optimizer: torch.optim.Optimizer,
        p_index: int,
        epoch: int,
    ) -> dict[str, Any]:
        phase = self.schedule.phases[p_index]
        next_phase, next_epoch = (p_index, epoch + 1) if epoch + 1 < phase.epochs else (p_index + 1, 0)
        return {
            **self._identity(),
            "phase": next_phase,
            "epoch": next_epoch,
            "model": net.state_dict(),
            # The optimiser belongs to the phase; a new phase starts a fresh one.
            "optimizer": optimizer.state_dict() if next_phase == p_index else None,
            "teacher": teacher.state_dict() if teacher is not None else None,
            "history": [log.__dict__ for log in self.history],
        }
