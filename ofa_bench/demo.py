"""The end-to-end demo: train once, then measure sampled archs every way the project can.

On scikit-learn's bundled digits (no download) it takes an ``ofa-mini`` supernet trained by progressive
shrinking: the one a previous run left in ``OUT/bench``, else the shipped weights that training with
the demo's defaults produces (:data:`SHIPPED_DEMO`; ``train=True``, ``--train``, trains it here,
and other settings always do), then for sampled archs measures
BN-re-calibrated validation accuracy, analytic costs, the elastic forward against the extracted
static network (their outputs must agree), and exports one to ONNX checked against ONNX Runtime.
:func:`run_demo_suite` then profiles a CPU latency table for the ``ofa-fmnist`` preset and compares
search strategies in the default suite on the shipped Fashion-MNIST benchmark's surrogate (no
dataset, no training). ``bench=None`` skips training for a quick check of the plumbing; its
accuracies are chance.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ofa_bench.benchmark.trained import BENCHMARK_FILE, CHECKPOINT_FILE, Benchmark
from ofa_bench.costs import macs_params
from ofa_bench.data import DataSpec, load_data
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import atomic_path, write_text_atomic
from ofa_bench.io.export import export_onnx, onnx_max_abs_diff
from ofa_bench.nn import ElasticMobileNetV3, resolve_device
from ofa_bench.space import Arch, SearchSpace, get_space

__all__ = [
    "SHIPPED_DEMO",
    "SHIPPED_DEMO_SETTINGS",
    "UNTRAINED_NOTE",
    "DemoResult",
    "SuiteOutcome",
    "demo_benchmark",
    "random_supernet",
    "run_demo",
    "run_demo_suite",
    "shipped_demo_applies",
    "shipped_demo_provenance",
    "weights_origin",
]

#: What every output built on :func:`random_supernet` must say about its numbers.
UNTRAINED_NOTE = "weights are random and untrained (--untrained): predictions are at chance level"

ONNX_NAME = "largest.onnx"
JSONL_NAME = "demo.jsonl"


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` measured and wrote.

    Attributes:
        space: Name of the search space.
        seed: Seed of the weights, the sampled archs and the digits batch.
        records: One flat dict per arch (see :func:`run_demo`), in sampling order.
        onnx_path: The exported ONNX file of the largest sampled arch.
        onnx_index: Position of that arch in ``records``.
        onnx_max_abs_diff: ``max |ONNX Runtime - PyTorch|`` of its logits on the digits batch.
        jsonl_path: The ``demo.jsonl`` file holding ``records``.
        seconds: Wall time of the whole demo.
        device: Where the forward passes ran (``cpu`` or ``cuda...``).
        benchmark: The trained benchmark directory used, or ``None`` for an untrained supernet.
    """

    space: str
    seed: int
    records: list[dict[str, Any]] = field(repr=False)
    onnx_path: Path
    onnx_index: int
    onnx_max_abs_diff: float
    jsonl_path: Path
    seconds: float
    device: str = "cpu"
    benchmark: str | None = None


def random_supernet(space: SearchSpace | str, seed: int = 0) -> ElasticMobileNetV3:
    """An untrained supernet with reproducible random weights, in eval mode.

    The global torch RNG is left as it was, so calling this does not change other random draws.

    Args:
        space: Search space or preset name.
        seed: Seed of the weight initialisation.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ElasticMobileNetV3(space).eval()


def _channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    # Grey digits fed to a colour network (the ImageNet presets) repeat the one channel.
    return x.expand(-1, channels, -1, -1).contiguous() if channels != x.size(1) else x


def _forward_ms(model: nn.Module, x: torch.Tensor, repeats: int = 3) -> tuple[torch.Tensor, float]:
    """Logits and the median forward time; one untimed warm-up run builds caches first."""
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)  # GPU work is asynchronous
    with torch.no_grad():
        out = model(x)
        times = []
        for _ in range(repeats):
            sync()
            start = time.perf_counter()
            model(x)
            sync()
            times.append((time.perf_counter() - start) * 1e3)
    return out, statistics.median(times)


def run_demo(
    space: SearchSpace | str = "ofa-mini",
    n: int = 16,
    seed: int = 0,
    out_dir: str | Path = "out/demo",
    batch_size: int = 64,
    on_step: Callable[[int, int, str], None] | None = None,
    device: str | torch.device | None = None,
    bench: Benchmark | None = None,
) -> DemoResult:
    """Sample ``n`` archs and measure each in the supernet and as an extracted network; export one.

    Each record holds the arch (``ks``, ``e``, ``d``, ``r``) and: ``macs`` and ``params``
    (analytic); ``elastic_ms`` and ``static_ms`` (median CPU forward time of the batch);
    ``max_abs_diff`` between the elastic and static logits (should be ~0); ``agreement``, the
    fraction of images both predict the same class for; ``accuracy``: with ``bench``, top-1 on its
    validation split after BN re-calibration (the evaluator's measurement), else on the demo batch
    (chance level: untrained); ``onnx`` and ``onnx_max_abs_diff``, set on the one arch exported
    (the one with the most MACs) and ``None`` elsewhere.

    Args:
        space: Search space or preset name.
        n: Number of archs to sample (at least 1).
        seed: Seed of the weights, the archs and the digits batch.
        out_dir: Directory for ``demo.jsonl`` and ``largest.onnx`` (created if missing).
        batch_size: Digits per forward pass.
        on_step: Called as ``on_step(done, total, what)`` after each step, for progress display.
        device: Where to run the forward passes; CUDA when present by default.
        bench: A trained benchmark of ``space`` (see :func:`demo_benchmark`); ``None`` uses an
            untrained supernet.

    Returns:
        The records and where the files are.
    """
    start = time.perf_counter()
    space = get_space(space)
    if n < 1:
        raise OfaBenchError(f"n must be >= 1 for the demo; got {n}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    total = n + 1
    if on_step is not None:
        on_step(0, total, "loading digits and building the supernet")
    device = resolve_device(device)
    archs = space.sample(n, seed)
    macs, params = macs_params(archs)
    inputs: dict[int, torch.Tensor] = {}  # per resolution: only a few resolutions exist
    if bench is None:
        net, data = random_supernet(space, seed).to(device), load_data(DataSpec())
        measured = None
    else:
        if bench.space != space:
            raise OfaBenchError(f"benchmark {str(bench.directory)!r} is of {bench.space.name}, not {space.name}")
        from ofa_bench.evaluate import Evaluator
        from ofa_bench.train.calibrate import calibrate_bn

        with Evaluator(bench, device=device) as evaluator:
            measured = evaluator.evaluate(archs, ("mmacs", "mparams"))["accuracy"].to_numpy()
        net, data = bench.supernet(device), bench.data()
    labels: dict[int, torch.Tensor] = {}
    for r in sorted({a.r for a in archs}):  # a fixed validation batch per resolution
        x, y = next(iter(data.eval_batches("val", r, batch_size)))
        inputs[r], labels[r] = _channels(x, space.net.in_channels).to(device), y.to(device)

    def activate(arch: Arch) -> None:
        # A trained supernet's BN statistics are re-estimated per arch, as the evaluator does.
        if bench is not None:
            calib = data.eval_batches("calib", arch.r, bench.calibration_batch_size)
            calibrate_bn(net, arch, (images for images, _ in calib))
        net.set_active(arch)

    records = []
    for i, arch in enumerate(archs):
        x = inputs[arch.r]
        activate(arch)
        elastic_out, elastic_ms = _forward_ms(net, x)
        static_out, static_ms = _forward_ms(net.extract(arch), x)
        pred_e, pred_s = elastic_out.argmax(1), static_out.argmax(1)
        records.append(
            {
                **arch.to_dict(),
                "macs": int(macs[i]),
                "params": int(params[i]),
                "elastic_ms": round(elastic_ms, 4),
                "static_ms": round(static_ms, 4),
                "max_abs_diff": float((elastic_out - static_out).abs().max()),
                "agreement": float((pred_e == pred_s).float().mean()),
                "accuracy": float(measured[i]) if measured is not None else float((pred_s == labels[arch.r]).float().mean()),
                "onnx": None,
                "onnx_max_abs_diff": None,
            }
        )
        if on_step is not None:
            on_step(i + 1, total, f"arch {i + 1}/{n}")

    largest = int(np.argmax(macs))
    arch = archs[largest]
    activate(arch)  # the exported network carries its own BN statistics, not the last arch's
    static = net.extract(arch)
    onnx_path = export_onnx(static, out_dir / ONNX_NAME, arch.r, space.net.in_channels)
    diff = onnx_max_abs_diff(static, onnx_path, inputs[arch.r].cpu())
    records[largest].update(onnx=ONNX_NAME, onnx_max_abs_diff=diff)
    jsonl_path = write_text_atomic(out_dir / JSONL_NAME, "".join(json.dumps(r) + "\n" for r in records))
    if on_step is not None:
        on_step(total, total, "ONNX export")
    seconds = time.perf_counter() - start
    where = None if bench is None else str(bench.directory)
    return DemoResult(space.name, seed, records, onnx_path, largest, diff, jsonl_path, seconds, str(device), where)


#: The digits benchmark ``ofa-bench demo --train`` trains with its defaults, shipped in the package
#: (``benchmark.json``, ``supernet.pt`` and ``provenance.json``: how and where it was trained), so the
#: demo measures a trained supernet without spending minutes training it first.
SHIPPED_DEMO = Path(__file__).resolve().parent / "demo_weights" / "digits-ofa-mini"
#: The settings the shipped weights were trained with: only a demo with these settings reuses them.
SHIPPED_DEMO_SETTINGS: dict[str, Any] = {"space": "ofa-mini", "seed": 0, "scale": 1.0}


def shipped_demo_applies(space: SearchSpace | str, seed: int, scale: float) -> bool:
    """Whether the shipped digits weights are what training with these settings would produce."""
    wanted = SHIPPED_DEMO_SETTINGS
    return (
        get_space(space).name == wanted["space"] and seed == wanted["seed"] and float(scale) == wanted["scale"]
        and (SHIPPED_DEMO / BENCHMARK_FILE).is_file()
    )  # fmt: skip


def shipped_demo_provenance() -> dict[str, Any]:
    """How the shipped digits weights were trained (``provenance.json``); empty when none is shipped."""
    try:
        return json.loads((SHIPPED_DEMO / "provenance.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def weights_origin(bench: Benchmark) -> str:
    """``"shipped"`` when ``bench`` holds the shipped digits weights (same checkpoint), else ``"trained"``."""
    if not (SHIPPED_DEMO / BENCHMARK_FILE).is_file():
        return "trained"
    try:
        shipped = Benchmark.load(SHIPPED_DEMO)
    except OfaBenchError:
        return "trained"
    return "shipped" if shipped.fingerprint == bench.fingerprint else "trained"


def demo_benchmark(
    out_dir: str | Path,
    space: SearchSpace | str = "ofa-mini",
    seed: int = 0,
    scale: float = 1.0,
    on_step: Callable[[str, int, int, int, float, float], None] | None = None,
    device: str | torch.device | None = None,
    train: bool = False,
) -> Benchmark:
    """The demo's trained benchmark in ``out_dir/bench``: reused when there, else shipped or trained.

    Without ``train``, settings equal to :data:`SHIPPED_DEMO_SETTINGS` copy the shipped weights
    (what training with them produces) into ``out_dir/bench``; any other settings, or ``train``,
    train with the default progressive-shrinking schedule (epochs times ``scale``) on digits,
    resuming from a checkpoint a killed earlier run left. ``train`` replaces a copy of the shipped
    weights, and reuses weights trained by an earlier run.
    """
    from ofa_bench.train import default_schedule
    from ofa_bench.train.trainer import Trainer

    directory = Path(out_dir) / "bench"
    if (directory / BENCHMARK_FILE).exists():
        bench = Benchmark.load(directory)
        if not (train and weights_origin(bench) == "shipped"):
            return bench
        (directory / BENCHMARK_FILE).unlink()  # asked to train: the shipped copy makes way
    space = get_space(space)
    if not train and shipped_demo_applies(space, seed, scale):
        directory.mkdir(parents=True, exist_ok=True)
        # Weights first and benchmark.json last, each atomically, as Benchmark.create writes them.
        for name in (CHECKPOINT_FILE, BENCHMARK_FILE):
            with atomic_path(directory / name) as tmp:
                shutil.copyfile(SHIPPED_DEMO / name, tmp)
        return Benchmark.load(directory)
    trainer = Trainer(space, directory, default_schedule(space, scale), seed=seed, device=device, on_step=on_step)
    bench = trainer.fit(resume=trainer.checkpoint_path.exists())
    assert bench is not None  # single process: rank 0
    return bench


@dataclass(frozen=True)
class SuiteOutcome:
    """What :func:`run_demo_suite` built, ran and wrote.

    Attributes:
        lut: The CPU latency table the suite's latency objective reads.
        lut_seconds: Time spent building it (0 when an earlier run left it complete).
        results: The suite's results (:class:`ofa_bench.suite.SuiteResults`).
        report: The report files (:class:`ofa_bench.report.suite_report.ReportFiles`).
        seconds: Wall time of the suite, table building excluded.
        suite: The suite as run (:class:`ofa_bench.suite.Suite`), overrides applied.
    """

    lut: Path
    lut_seconds: float
    results: Any = field(repr=False)
    report: Any = field(repr=False)
    seconds: float = 0.0
    suite: Any = field(default=None, repr=False)


def run_demo_suite(
    out_dir: str | Path,
    *,
    budget: int | None = None,
    seeds: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    show_lut_progress: bool = False,
    lut_settings: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> SuiteOutcome:
    """Build a CPU latency table for the default suite's benchmark, run the suite on it, report.

    The default suite compares strategies on the shipped Fashion-MNIST benchmark's surrogate
    (``benchmark: fmnist``, ``oracle: {mode: shipped}``), so it needs neither the dataset nor the
    digits supernet the demo trains. The table (``OUT/lut.yaml``) is profiled on ``torch-cpu``
    for that benchmark's preset (``ofa-fmnist``) and resumes if a killed run left part of it; the
    suite (``OUT/suite``) resumes the same way, so a second demo costs seconds.

    Args:
        out_dir: The demo's output directory.
        budget: Evaluations per run, replacing the suite's (smaller is quicker and noisier).
        seeds: Seeds per strategy, replacing the suite's.
        progress: ``progress(stage, done, total)`` as the suite advances.
        show_lut_progress: Show the table builder's own progress bar.
        lut_settings: Keyword arguments of the table build (``repeats``, ``calibration_archs``...),
            e.g. a coarse, quick table in tests.
        overrides: More suite fields by dotted path (``{"reference.random_sample": 300}``); the
            table is built for the preset of the benchmark they leave the suite on.
    """
    from ofa_bench.plugins import registry
    from ofa_bench.report import write_report
    from ofa_bench.search.streams import stream_seed
    from ofa_bench.suite import load_suite, run_suite

    out_dir = Path(out_dir)
    lut = out_dir / "lut.yaml"
    suite_fields: dict[str, Any] = {"backends": [f"lut:table={lut}"]}
    if budget is not None:
        suite_fields["budget.evaluations"] = budget
    if seeds is not None:
        suite_fields["seeds"] = seeds
    suite = load_suite("default", {**suite_fields, **(overrides or {})})
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    # The table's calibration archs come from the suite's own stream, apart from every other.
    settings = {"seed": stream_seed(suite.seed, "lut_calibration"), **(lut_settings or {})}
    # Building returns at once when a finished table is there, and resumes a partial one.
    space = get_space(suite.benchmark.preset)
    registry.get("hardware", "lut").build(space, "torch-cpu", lut, progress=show_lut_progress, **settings)
    lut_seconds = time.perf_counter() - start
    start = time.perf_counter()
    results = run_suite(suite, out_dir / "suite", progress=progress)
    report = write_report(out_dir / "suite", results)
    return SuiteOutcome(lut, lut_seconds, results, report, time.perf_counter() - start, suite)
