"""Progressive-shrinking training: schedules, sampling, checkpoints, exact resume, data parallel."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.cli import main
from ofa_bench.data import DataSpec, load_data
from ofa_bench.errors import OfaBenchError
from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.space import get_space
from ofa_bench.train import (
    Phase,
    Schedule,
    calibrate_bn,
    default_schedule,
    load_schedule,
    no_ps_schedule,
    rss_schedule,
    scaled_schedule,
)
from ofa_bench.train.trainer import Trainer, sample_subnets

# Small convolutions run fastest, and steadiest on a busy machine, on one thread.
pytestmark = pytest.mark.usefixtures("one_thread")

MINI = get_space("ofa-mini")
# Every feature a checkpoint must carry: a plain phase, a distilling one (teacher) and a sorting one
# with several sub-networks a step and two epochs (an optimiser state inside a phase).
TINY_YAML = """\
batch_size: 128
phases:
  - {name: full, epochs: 1, lr: 0.1, kernel: [7], expand: [6], depth: [4]}
  - {name: kernel, epochs: 1, lr: 0.03, expand: [6], depth: [4], kd_ratio: 1.0}
  - {name: expand, epochs: 2, lr: 0.03, subnets_per_step: 2, kd_ratio: 1.0, sort_channels: true}
"""
DATA = DataSpec(calib_size=64)
# 359 training images: two steps of 128 an epoch, enough to run a mode's sampling and losses.
MODES_DATA = DataSpec(calib_size=64, val_fraction=0.8)
# The tiny schedule's data: 539 training images, 4 steps of 128 an epoch, so an interrupt at step 2
# falls mid-epoch. It is what `ofa-bench train --val-fraction 0.7` trains on, so CLI runs and
# in-process runs of the same schedule and seed end with the same weights.
TINY_VAL_FRACTION = 0.7
TINY_DATA = DataSpec(val_fraction=TINY_VAL_FRACTION)
TINY_SEED = 2


@pytest.fixture
def tiny_schedule(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_YAML)
    return path


def _state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def _assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# ----- schedules -------------------------------------------------------------------------------


def test_default_schedule_follows_progressive_shrinking() -> None:
    schedule = default_schedule(MINI)
    names = [p.name for p in schedule.phases]
    assert names == ["full", "kernel", "depth-1", "depth-2", "expand-1", "expand-2"]
    opened = [p.open_choices(MINI) for p in schedule.phases]
    assert opened[0] == {"kernel": (7,), "expand": (6,), "depth": (4,)}
    assert opened[1]["kernel"] == (3, 5, 7) and opened[1]["depth"] == (4,)
    assert opened[2]["depth"] == (3, 4) and opened[3]["depth"] == (2, 3, 4)
    assert opened[4]["expand"] == (4, 6) and opened[5]["expand"] == (3, 4, 6)
    assert [p.sort_channels for p in schedule.phases] == [False] * 4 + [True] * 2
    assert schedule.phases[0].kd_ratio == 0 and all(p.kd_ratio > 0 for p in schedule.phases[1:])


def test_no_ps_baseline_has_the_same_budget() -> None:
    ps = default_schedule(MINI)
    baseline = no_ps_schedule(ps)
    assert baseline.mode == "no-ps" and len(baseline.phases) == 1
    assert baseline.total_epochs == ps.total_epochs
    assert baseline.phases[0].open_choices(MINI) == {"kernel": (3, 5, 7), "expand": (3, 4, 6), "depth": (2, 3, 4)}
    assert baseline.phases[0].kd_ratio == 0
    sandwich = no_ps_schedule(ps.model_copy(update={"sampling": "sandwich"}))
    assert sandwich.phases[0].kd_ratio == 1.0


def test_rss_baseline_has_the_same_subnet_epochs() -> None:
    ps = default_schedule(MINI)
    # full 15 + kernel 5 at one subnet a step, 3 + 5 + 3 + 6 epochs at two: 54 subnet passes.
    assert ps.subnet_epochs == 15 + 5 + 2 * (3 + 5 + 3 + 6) == 54
    rss = rss_schedule(ps)
    assert rss.mode == "rss" and len(rss.phases) == 1
    (phase,) = rss.phases
    assert rss.subnet_epochs == ps.subnet_epochs and phase.subnets_per_step == 1
    assert phase.open_choices(MINI) == {"kernel": (3, 5, 7), "expand": (3, 4, 6), "depth": (2, 3, 4)}
    assert phase.kd_ratio == 0 and phase.lr == max(p.lr for p in ps.phases)
    assert (rss.batch_size, rss.weight_decay, rss.momentum) == (ps.batch_size, ps.weight_decay, ps.momentum)
    # no_ps_schedule keeps the epochs, so it makes more passes than PS: not equal compute.
    assert no_ps_schedule(ps).subnet_epochs == 2 * ps.total_epochs > ps.subnet_epochs
    with pytest.raises(OfaBenchError, match="sandwich"):
        rss_schedule(ps.model_copy(update={"sampling": "sandwich"}))
    ten = scaled_schedule(ps, 10)  # 370 epochs, at 1,000 subnets a step: 370,000 RSS epochs
    huge = ten.model_copy(update={"phases": tuple(p.model_copy(update={"subnets_per_step": 1000}) for p in ten.phases)})
    with pytest.raises(OfaBenchError, match="would need 370000 epochs; at most"):
        rss_schedule(huge)


def test_train_rss_flag_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "run")
    assert main(["train", "--out", out, "--rss", "--sandwich", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot use the sandwich rule" in err and "\n" not in err and "Traceback" not in err
    # --rss and --no-ps are two different baselines: pick one
    assert main(["train", "--out", out, "--rss", "--no-ps"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_train_resume_without_a_checkpoint_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--resume`` into a folder with no checkpoint refuses rather than silently training from scratch."""
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "missing"):
        assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"nothing to resume in {str(out)!r}: no checkpoint.pt (drop --resume" in err
        assert len(err.strip().splitlines()) == 1
    assert list((tmp_path / "empty").iterdir()) == [] and not (tmp_path / "missing").exists()


def test_train_schedule_that_is_a_directory_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--schedule", str(tmp_path), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"schedule file {str(tmp_path)!r} is a directory; a schedule is a YAML file" in err
    assert "not found" not in err


def test_interrupted_train_says_how_to_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    """Ctrl-C prints how to go on: nothing before the first checkpoint, --resume after it."""
    from ofa_bench.train import trainer

    def interrupted(self: Trainer, resume: bool = False) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer.Trainer, "fit", interrupted)
    out = tmp_path / "run"
    assert main(["train", "--out", str(out)]) == 130
    assert "interrupted" not in capsys.readouterr().err  # no checkpoint yet: a rerun starts afresh
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"")
    assert main(["train", "--out", str(out), "--resume"]) == 130
    assert capsys.readouterr().err == "ofa-bench: interrupted; rerun the same command to resume\n"
    assert main(["train", "--out", str(out)]) == 130  # as if the first run had written a checkpoint
    assert "rerun with --resume to continue from the last checkpoint" in capsys.readouterr().err
    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 130
    assert capsys.readouterr().err == ""


def test_scaled_schedule_rounds_and_keeps_one_epoch() -> None:
    fmnist = load_schedule("fmnist")
    quarter = scaled_schedule(fmnist, 0.25)
    assert [p.epochs for p in quarter.phases] == [5, 1, 1, 1]  # 21 full epochs round to 5
    assert [p.lr for p in quarter.phases] == [p.lr for p in fmnist.phases]
    assert default_schedule(MINI, 0.1) == scaled_schedule(default_schedule(MINI), 0.1)
    with pytest.raises(OfaBenchError, match="epochs scale must be > 0"):
        scaled_schedule(fmnist, 0)
    with pytest.raises(OfaBenchError, match="gives phase 'full' 21000000 epochs; at most"):
        scaled_schedule(fmnist, 1e6)


def test_schedule_yaml_round_trip_and_errors(tmp_path: Path, tiny_schedule: Path) -> None:
    schedule = load_schedule(tiny_schedule)
    assert schedule.batch_size == 128 and schedule.total_epochs == 4
    bad = tmp_path / "bad.yaml"
    cases = [
        ("phases:\n  - {name: a, epochs: 0, lr: 0.1}\n", "phases.0.epochs"),
        ("phases:\n  - {name: a, epochs: 1}\n", "phases.0.lr"),
        ("phases:\n  - {name: a, epochs: 1, lr: 0.1, colour: red}\n", "phases.0.colour"),
        ("batch_size: many\nphases:\n  - {name: a, epochs: 1, lr: 0.1}\n", "batch_size"),
        ("phases: [\n", "not valid YAML at line 2"),
    ]
    for text, needle in cases:
        bad.write_text(text)
        with pytest.raises(OfaBenchError, match=needle.replace(".", r"\.")) as info:
            load_schedule(bad)
        assert "\n" not in str(info.value)
    with pytest.raises(OfaBenchError, match="not found"):
        load_schedule(tmp_path / "missing.yaml")
    phase = Phase(name="odd", epochs=1, lr=0.1, kernel=(4,))
    with pytest.raises(OfaBenchError, match=r"phase 'odd': kernel 4 is not in ofa-mini; allowed: 3, 5, 7"):
        Schedule(phases=(phase,)).validate_for(MINI)


# ----- sub-network sampling ----------------------------------------------------------------------


def test_sampling_respects_open_choices_and_sandwich() -> None:
    choices = {"kernel": (3, 5), "expand": (6,), "depth": (3, 4)}
    archs = sample_subnets(MINI, choices, 6, 16, np.random.default_rng(0), sandwich=True)
    assert archs[0] == MINI.arch([5] * 20, [6] * 20, [4] * 5, 16)
    assert archs[1] == MINI.arch([3] * 20, [6] * 20, [3] * 5, 16)
    for arch in archs:
        active = [arch.ks[i] for _, _, i in arch.active_blocks]
        assert set(active) <= {3, 5} and set(arch.d) <= {3, 4} and arch.r == 16
    again = sample_subnets(MINI, choices, 6, 16, np.random.default_rng(0), sandwich=True)
    assert archs == again


def test_largest_first_replaces_only_the_first_draw() -> None:
    choices = {"kernel": (3, 5), "expand": (4, 6), "depth": (3, 4)}
    uniform = sample_subnets(MINI, choices, 3, 20, np.random.default_rng(1), sandwich=False)
    archs = sample_subnets(MINI, choices, 3, 20, np.random.default_rng(1), sandwich=False, largest=True)
    assert archs[0] == MINI.arch([5] * 20, [6] * 20, [4] * 5, 20)
    assert archs[1:] == uniform[1:]  # the same random draws: only the first is replaced
    assert uniform[0] != archs[0]


def test_largest_is_named_in_a_checkpoint_only_when_set(tmp_path: Path, tiny_schedule: Path) -> None:
    """Checkpoints written before phases had ``largest`` keep resuming: the identity omits it when false."""
    plain = load_schedule(tiny_schedule)
    trainer = Trainer(MINI, tmp_path, plain, DATA, seed=0)
    assert all("largest" not in phase for phase in trainer._identity()["schedule"]["phases"])
    first = plain.phases[0].model_copy(update={"largest": True})
    marked = plain.model_copy(update={"phases": (first, *plain.phases[1:])})
    phases = Trainer(MINI, tmp_path, marked, DATA, seed=0)._identity()["schedule"]["phases"]
    assert phases[0]["largest"] is True and all("largest" not in phase for phase in phases[1:])


# ----- BN re-calibration -------------------------------------------------------------------------


def test_calibration_is_a_cumulative_average_and_repeatable() -> None:
    torch.manual_seed(0)
    net = ElasticMobileNetV3(MINI)
    arch = MINI.sample(1, rng=4)[0]
    data = load_data(DATA)
    batches = [x for x, _ in data.eval_batches("calib", arch.r, 16)]
    assert calibrate_bn(net, arch, batches) == data.n_calib
    first = {k: v.clone() for k, v in net.state_dict().items() if "running" in k}
    # The stem BN's statistics are the plain mean over batches of each batch's mean.
    with torch.no_grad():
        stem_out = [net.stem.conv(x) for x in batches]
    expected = torch.stack([o.mean((0, 2, 3)) for o in stem_out]).mean(0)
    torch.testing.assert_close(net.stem.bn.running_mean, expected, rtol=1e-5, atol=1e-6)
    assert not net.training and net.active_arch == arch
    calibrate_bn(net, arch, batches)
    for key, value in first.items():
        assert torch.equal(net.state_dict()[key], value), key


# ----- training, checkpoints and resume ----------------------------------------------------------


@dataclass(frozen=True)
class StraightRun:
    """An uninterrupted tiny run: the trainer (its history), the benchmark it wrote and its folder."""

    trainer: Trainer
    bench: Benchmark
    directory: Path


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory: pytest.TempPathFactory, one_thread: None) -> StraightRun:
    """The tiny schedule trained once, uninterrupted, for the whole module.

    The tests only read it: the benchmark it wrote, and the weights every interrupted or killed run
    of the same schedule, data and seed must end with (on one thread, as they all run).
    """
    out = tmp_path_factory.mktemp("straight")
    path = out / "tiny.yaml"
    path.write_text(TINY_YAML)
    trainer = Trainer(MINI, out / "bench", load_schedule(path), TINY_DATA, seed=TINY_SEED)
    bench = trainer.fit()
    assert bench is not None  # single process: rank 0
    return StraightRun(trainer, bench, out / "bench")


def test_train_writes_a_loadable_benchmark(straight_run: StraightRun, tiny_schedule: Path) -> None:
    """Training writes a benchmark of its space with one finite log per epoch; a second run into
    the same folder is refused (before it writes anything, so the shared run stays as it was)."""
    trainer, bench = straight_run.trainer, straight_run.bench
    assert bench.space == MINI
    assert [log.phase for log in trainer.history] == ["full", "kernel", "expand", "expand"]
    assert all(np.isfinite(log.loss) for log in trainer.history)
    assert bench.training["epochs"] == 4 and bench.training["mode"] == "ps"
    with pytest.raises(OfaBenchError, match="already holds a training checkpoint"):
        Trainer(MINI, straight_run.directory, load_schedule(tiny_schedule), TINY_DATA, seed=TINY_SEED).run()


LEARN_YAML = """\
batch_size: 32
phases:
  - {name: full, epochs: 3, lr: 0.05, kernel: [7], expand: [6], depth: [4]}
  - {name: all, epochs: 1, lr: 0.02, subnets_per_step: 1, kd_ratio: 1.0}
"""


def test_training_lowers_the_loss_and_learns_digits_for_the_full_network_and_a_subnet(tmp_path: Path) -> None:
    """Four short epochs on digits (ten balanced classes, chance 10%): the loss falls and both the
    full network and a random subnet (BN re-calibrated) classify the validation split far above chance.

    Measured with seeds 0 and 1: the full phase's loss 2.3 -> 1.1-1.2, validation accuracy 0.71-0.79
    (full network) and 0.58-0.63 (this subnet); gradient ascent leaves both near 0.1.
    """
    from ofa_bench.evaluate import Evaluator

    path = tmp_path / "learn.yaml"
    path.write_text(LEARN_YAML)
    losses: list[float] = []

    def record(phase: str, epoch: int, step: int, steps: int, loss: float, accuracy: float) -> None:
        if phase == "full" and epoch == 0:
            losses.append(loss)  # the running mean of the epoch so far

    trainer = Trainer(MINI, tmp_path / "bench", load_schedule(path), DATA, seed=0, on_step=record)
    bench = trainer.fit()
    first, last = losses[0], [log for log in trainer.history if log.phase == "full"][-1]
    assert first > 2.0  # about ln(10) = 2.30 before any step
    assert last.loss < 0.6 * first, (first, trainer.history)
    assert last.accuracy > 0.6
    subnet = MINI.sample(1, rng=11)[0]
    with Evaluator(bench, device="cpu", cache=False) as evaluator:
        accuracy = evaluator.evaluate([MINI.largest(), subnet])["accuracy"].to_numpy()
    assert accuracy[0] > 0.55 and accuracy[1] > 0.35, accuracy


def _interrupt_at(stop_epoch: int) -> Callable[[str, int, int, int, float, float], None]:
    """An ``on_step`` that interrupts the expand phase's epoch ``stop_epoch`` after its second step."""

    def interrupt(phase: str, epoch: int, step: int, steps: int, loss: float, accuracy: float) -> None:
        if phase == "expand" and epoch == stop_epoch and step == 2:
            raise KeyboardInterrupt

    return interrupt


def test_resume_after_interrupts_mid_epoch_is_bit_identical(
    tmp_path: Path, tiny_schedule: Path, straight_run: StraightRun
) -> None:
    """A run interrupted twice mid-epoch and resumed each time ends with the straight run's very weights.

    The first interrupt falls inside the expand phase's first epoch (after its channel sort, before
    its first checkpoint), so the resume starts that phase afresh from the kernel phase's checkpoint;
    the second, in the resumed run, inside its second epoch, so the next resume must restore the
    phase's optimiser state. Each time the checkpoint is checked to be the one meant, and a resume
    that goes wrong in either case changes the final weights: one run checks both cases.
    """
    schedule = load_schedule(tiny_schedule)
    out = tmp_path / "resumed"
    for resume, stop_epoch in ((False, 0), (True, 1)):
        with pytest.raises(KeyboardInterrupt):
            Trainer(MINI, out, schedule, TINY_DATA, seed=TINY_SEED, on_step=_interrupt_at(stop_epoch)).fit(resume)
        checkpoint = torch.load(out / "checkpoint.pt", weights_only=True)
        assert (checkpoint["phase"], checkpoint["epoch"]) == (2, stop_epoch)  # expand, the interrupted epoch
    Trainer(MINI, out, schedule, TINY_DATA, seed=TINY_SEED).fit(resume=True)
    _assert_identical(_state(straight_run.directory / "supernet.pt"), _state(out / "supernet.pt"))


@pytest.mark.slow
def test_resume_after_sigkill_is_bit_identical(tmp_path: Path, tiny_schedule: Path, straight_run: StraightRun) -> None:
    """The CLI killed with SIGKILL at an arbitrary moment, then resumed, ends where a straight run ends.

    ``train --val-fraction 0.7`` trains on ``TINY_DATA``, so the straight run is the shared one; the
    kill lands soon after the first checkpoint, while three of the four epochs are still to come.
    """
    killed = tmp_path / "killed"
    args = [
        "train", "--out", str(killed), "--schedule", str(tiny_schedule), "--seed", str(TINY_SEED),
        "--val-fraction", str(TINY_VAL_FRACTION), "--quiet",
    ]  # fmt: skip
    command = [sys.executable, "-m", "ofa_bench", *args]
    # Float sums depend on the thread count: the killed run computes what the straight one did.
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while not (killed / "checkpoint.pt").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # somewhere inside the next epoch: any moment after a checkpoint will do
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "supernet.pt").exists(), "the run finished before it could be killed"
    assert main([*args, "--resume"]) == 0
    _assert_identical(_state(straight_run.directory / "supernet.pt"), _state(killed / "supernet.pt"))


def test_corrupted_and_foreign_checkpoints_are_one_line_errors(tmp_path: Path, tiny_schedule: Path) -> None:
    schedule = load_schedule(tiny_schedule)
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(os.urandom(256))
    with pytest.raises(OfaBenchError, match="corrupted") as info:
        Trainer(MINI, out, schedule, DATA).run(resume=True)
    assert "\n" not in str(info.value)
    torch.save({"weights": torch.zeros(3)}, out / "checkpoint.pt")
    with pytest.raises(OfaBenchError, match="not an ofa-bench training checkpoint"):
        Trainer(MINI, out, schedule, DATA).run(resume=True)
    other = schedule.model_copy(update={"batch_size": 64})
    short = Schedule(phases=schedule.phases[:1], batch_size=256)
    Trainer(MINI, tmp_path / "short", short, DATA).run()
    with pytest.raises(OfaBenchError, match="written with schedule .*; this run asks for schedule .*; resume needs"):
        Trainer(MINI, tmp_path / "short", other, DATA).run(resume=True)
    code = main(["train", "--out", str(out), "--resume", "--quiet"])
    assert code == 2


def test_a_checkpoint_of_another_seed_names_which_seed_is_which(tmp_path: Path) -> None:
    from ofa_bench.train.checkpoint import load_checkpoint, save_checkpoint

    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"seed": 0})
    with pytest.raises(OfaBenchError) as info:
        load_checkpoint(path, {"seed": 5})
    assert str(info.value) == (
        f"checkpoint {str(path)!r} was written with seed 0; this run asks for seed 5; resume needs the same seed"
    )


def test_no_ps_and_sandwich_modes_train(tmp_path: Path, tiny_schedule: Path) -> None:
    """The no-PS, RSS and sandwich variants of the tiny schedule train every epoch they plan to finite
    losses (two steps an epoch run each mode's sampling and distillation as a full epoch would)."""
    base = load_schedule(tiny_schedule)
    for name, schedule in (
        ("nops", no_ps_schedule(base)),
        ("rss", rss_schedule(base)),
        ("sandwich", base.model_copy(update={"sampling": "sandwich"})),
    ):
        trainer = Trainer(MINI, tmp_path / name, schedule, MODES_DATA, seed=0)
        trainer.run()
        assert len(trainer.history) == schedule.total_epochs == (6 if name == "rss" else 4)
        assert all(np.isfinite(log.loss) for log in trainer.history)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The worker trains on the full digits train split: two steps of 256 per rank and epoch. The two
# phases run every data-parallel path: gradient averaging (over a subset of the parameters when
# sub-networks are elastic), BN-buffer averaging, rank 0's checkpoint between barriers, a phase
# change (new optimiser, teacher made from the trained weights, channel sort) and two sub-networks
# a step with distillation.
DDP_YAML = """\
batch_size: 256
phases:
  - {name: full, epochs: 1, lr: 0.1, kernel: [7], expand: [6], depth: [4]}
  - {name: expand, epochs: 1, lr: 0.03, subnets_per_step: 2, kd_ratio: 1.0, sort_channels: true}
"""


@pytest.mark.slow
def test_two_process_data_parallel_ranks_end_identical(tmp_path: Path) -> None:
    """Two torchrun ranks, each training on its half of every epoch's images, end with identical, trained weights."""
    schedule = tmp_path / "ddp.yaml"
    schedule.write_text(DDP_YAML)
    worker = Path(__file__).with_name("ddp_worker.py")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
        "--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(worker), str(tmp_path), str(schedule),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    _assert_identical(rank0, rank1)
    # The ranks really trained (weights moved from the seeded initialisation).
    torch.manual_seed(3)
    initial = ElasticMobileNetV3(MINI).state_dict()
    assert not torch.equal(initial["stem.conv.weight"], rank0["stem.conv.weight"].contiguous())
