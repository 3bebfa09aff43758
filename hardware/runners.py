"""On-device runners: time the extracted static subnet of each arch on this machine.

Each runner builds the subnet (random weights, seeded: latency does not depend on the values),
warms it up, times ``repeats`` single inferences with a fixed thread count and batch size, and
reports the median; :meth:`Runner.measure` returns the full summary (quartiles, spread) and
:meth:`Runner.describe` the device and library versions. A batch is timed in interleaved rounds
(:func:`ofa_bench_hardware.timing.time_interleaved`) so drifting machine load does not rank networks by
when they were measured. The same timing applies to single layers through
:meth:`Runner.time_modules`, which is how lookup tables are built.
"""

from __future__ import annotations

import abc
import contextlib
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from ofa_bench_agent.device import cpu_name, ort_session
from ofa_bench_hardware.batch import arch_list
from ofa_bench_hardware.timing import CLOCKS, STATISTICS, TimingStats, time_interleaved, torch_threads

from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins.interfaces import HardwareBackend

if TYPE_CHECKING:
    from torch import nn

    from ofa_bench.nn import ElasticMobileNetV3
    from ofa_bench.space import Arch, SearchSpace

__all__ = ["OnnxRuntimeCPU", "Runner", "TorchCPU", "TorchCUDA", "onnx_model"]


class Runner(HardwareBackend):
    """Base of the on-device runners; subclasses say how to prepare and call a model.

    Args:
        threads: Intra-op threads of the inference library, fixed for every measurement.
        batch_size: Images per inference.
        repeats: Timed inferences per arch (the median is reported).
        warmup: Untimed inferences before timing.
        rounds: Interleaved passes over a batch the repeats are split into; default
            ``repeats`` (one call of each arch per pass), so every arch is sampled evenly over
            the whole measurement; 1 times one arch after the other.
        seed: Seed of the random weights and input.
        cache_size: How many prepared subnets to keep, so re-measuring an arch skips building
            it; also how many archs one interleaved group holds.
        clock: ``"wall"`` (latency, the default) or ``"cpu"``: CPU time of the measuring
            thread, which ignores time spent waiting for other processes; for steady figures
            on a shared machine, with ``threads=1`` on CPU runners only.
        statistic: What :meth:`latency` reports of the timed calls: ``"median"`` (default) or
            ``"min"``, the fastest call, which varies least when other work shares the machine.
    """

    accepts_arrays = True

    #: Library whose version is reported, e.g. ``"torch"``.
    library: ClassVar[str] = ""

    def __init__(
        self,
        *,
        threads: int = 1,
        batch_size: int = 1,
        repeats: int = 50,
        warmup: int = 10,
        rounds: int | None = None,
        seed: int = 0,
        cache_size: int = 64,
        clock: str = "wall",
        statistic: str = "median",
    ) -> None:
        rounds = repeats if rounds is None else rounds
        for label, value, least in (
            ("threads", threads, 1), ("batch_size", batch_size, 1), ("repeats", repeats, 1),
            ("warmup", warmup, 0), ("rounds", rounds, 1), ("cache_size", cache_size, 0),
        ):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                raise OfaBenchError(f"{self.name}: {label} must be an integer >= {least}; got {value!r}")
        if clock not in CLOCKS:
            raise OfaBenchError(f"{self.name}: clock must be one of {', '.join(CLOCKS)}; got {clock!r}")
        if clock == "cpu" and (threads != 1 or self._sync() is not None):
            raise OfaBenchError(
                f"{self.name}: clock='cpu' counts the measuring thread only; it needs threads=1 on a CPU runner"
            )
        if statistic not in STATISTICS:
            raise OfaBenchError(f"{self.name}: statistic must be one of {', '.join(STATISTICS)}; got {statistic!r}")
        self.clock = clock
        self.statistic = statistic
        self.threads = int(threads)
        self.batch_size = int(batch_size)
        self.repeats = int(repeats)
        self.warmup = int(warmup)
        self.rounds = int(rounds)
        self.seed = int(seed)
        self.cache_size = int(cache_size)
        self._prepared: OrderedDict[Arch, Callable[[], object]] = OrderedDict()
        self._supernets: dict[SearchSpace, ElasticMobileNetV3] = {}

    # ----- what a subclass provides ------------------------------------------------------------

    def unavailable_reason(self) -> str | None:
        """Why this runner cannot run here, or ``None`` when it can."""
        return None

    @abc.abstractmethod
    def _prepare(self, module: nn.Module, shape: tuple[int, ...]) -> Callable[[], object]:
        """Return a call running one inference of ``module`` on a fixed input of ``shape``."""

    def _sync(self) -> Callable[[], None] | None:
        """A barrier for asynchronous devices, called around each timed call."""
        return None

    def _context(self) -> contextlib.AbstractContextManager[None]:
        """Entered around every timing (fixed threads, no autograd)."""
        return contextlib.nullcontext()

    def _device(self) -> str:
        return cpu_name()  # as the device agent names its CPU

    def _versions(self) -> dict[str, str]:
        return {self.library: _version(self.library)}

    # ----- HardwareBackend ---------------------------------------------------------------------

    def is_available(self) -> bool:
        """Whether this runner can run on this machine (see :meth:`unavailable_reason`)."""
        return self.unavailable_reason() is None

    def latency(self, archs: Sequence[Arch] | np.ndarray, *, space: SearchSpace | None = None) -> np.ndarray:
        """Measured latency of each arch (the :attr:`statistic` of its timed calls), in milliseconds.

        Args:
            archs: Archs of one space, or an ``(n, n_columns)`` choice array with ``space``.
            space: The space of an array batch.

        Returns:
            Float64 array of shape ``(n,)``.
        """
        stats = self.measure(archs, space=space)
        return np.array([s.value(self.statistic) for s in stats], dtype=np.float64)

    def measure(self, archs: Sequence[Arch] | np.ndarray, *, space: SearchSpace | None = None) -> list[TimingStats]:
        """Time each arch's subnet and return the full summary (median, quartiles, spread).

        Args:
            archs: Archs of one space, or an ``(n, n_columns)`` choice array with ``space``.
            space: The space of an array batch.

        Returns:
            One :class:`TimingStats` per arch, in milliseconds.
        """
        archs = arch_list(archs, space)
        if not archs:
            return []
        self._check_available()
        stats: list[TimingStats] = []
        group = max(self.cache_size, 1)
        for start in range(0, len(archs), group):
            stats.extend(self._time([self._prepared_arch(arch) for arch in archs[start : start + group]]))
        return stats

    def time_modules(
        self,
        modules: Sequence[tuple[nn.Module, Sequence[int]]],
        on_round: Callable[[int, int], None] | None = None,
    ) -> list[TimingStats]:
        """Time any modules (e.g. single layers) exactly as archs are timed, interleaved.

        Args:
            modules: ``(module, input_shape)`` pairs: a PyTorch module taking one
                ``(n, c, h, w)`` tensor and that tensor's shape, whose batch dimension is
                replaced by :attr:`batch_size`.
            on_round: Called as ``on_round(done, rounds)`` after each interleaved pass.

        Returns:
            One summary of :attr:`repeats` timed calls per module, in milliseconds.
        """
        if not modules:
            return []
        self._check_available()
        calls = [self._prepare(module, (self.batch_size, *tuple(shape)[1:])) for module, shape in modules]
        return self._time(calls, on_round)

    def time_module(self, module: nn.Module, input_shape: Sequence[int]) -> TimingStats:
        """Time one module; see :meth:`time_modules`."""
        return self.time_modules([(module, input_shape)])[0]

    def describe(self) -> dict[str, Any]:
        """Device, library versions and measurement settings; runners are not deterministic."""
        versions = self._versions()
        return {
            "name": self.name,
            "device": self._device() if self.is_available() else f"unavailable: {self.unavailable_reason()}",
            "version": ", ".join(f"{lib} {v}" for lib, v in versions.items()),
            "units": "ms",
            "deterministic": False,
            "statistic": self.statistic,
            "threads": self.threads,
            "batch_size": self.batch_size,
            "repeats": self.repeats,
            "warmup": self.warmup,
            "rounds": self.rounds,
            "clock": self.clock,
            "libraries": versions,
        }

    # ----- shared machinery --------------------------------------------------------------------

    def _check_available(self) -> None:
        reason = self.unavailable_reason()
        if reason is not None:
            raise OfaBenchError(f"hardware backend {self.name!r} is not available here: {reason}")

    def _time(
        self, calls: list[Callable[[], object]], on_round: Callable[[int, int], None] | None = None
    ) -> list[TimingStats]:
        with self._context():
            return time_interleaved(
                calls, warmup=self.warmup, repeats=self.repeats, rounds=self.rounds, sync=self._sync(),
                clock=self.clock, on_round=on_round,
            )  # fmt: skip

    def _prepared_arch(self, arch: Arch) -> Callable[[], object]:
        call = self._prepared.get(arch)
        if call is not None:
            self._prepared.move_to_end(arch)
            return call
        shape = (self.batch_size, arch.space.net.in_channels, arch.r, arch.r)
        call = self._prepare(self._supernet(arch.space).extract(arch).eval(), shape)
        if self.cache_size:
            self._prepared[arch] = call
            while len(self._prepared) > self.cache_size:
                self._prepared.popitem(last=False)
        return call

    def _supernet(self, space: SearchSpace) -> ElasticMobileNetV3:
        if space not in self._supernets:
            import torch

            from ofa_bench.nn import ElasticMobileNetV3

            with torch.random.fork_rng(devices=[]):  # seeded without disturbing the caller's RNG
                torch.manual_seed(self.seed)
                self._supernets[space] = ElasticMobileNetV3(space).eval()
        return self._supernets[space]

    def _input(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.random.default_rng(self.seed).standard_normal(shape, dtype=np.float32)


class _TorchRunner(Runner):
    """PyTorch eager inference in ``inference_mode`` on one device.

    Args:
        channels_last: Run 4-D tensors in channels-last memory format, which oneDNN's and cuDNN's
            depthwise convolutions run fastest in (as the evaluator does).
        **kwargs: See :class:`Runner`.
    """

    library = "torch"
    device_type: ClassVar[str] = "cpu"

    def __init__(self, *, channels_last: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channels_last = bool(channels_last)

    def _prepare(self, module: nn.Module, shape: tuple[int, ...]) -> Callable[[], object]:
        import torch

        device = torch.device(self.device_type)
        module = module.to(device).eval()
        x = torch.from_numpy(self._input(shape)).to(device)
        if self.channels_last and x.dim() == 4:
            module = module.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        return lambda: module(x)

    @contextlib.contextmanager
    def _context(self) -> Iterator[None]:
        import torch

        with torch_threads(self.threads), torch.inference_mode():
            yield

    def describe(self) -> dict[str, Any]:
        """See :meth:`Runner.describe`; adds the memory format."""
        return {**super().describe(), "channels_last": self.channels_last}


class TorchCPU(_TorchRunner):
    """PyTorch on the CPU (see :class:`Runner` for the parameters)."""

    name = "torch-cpu"


class TorchCUDA(_TorchRunner):
    """PyTorch on the first CUDA GPU, synchronising around each timed call."""

    name = "torch-cuda"
    device_type = "cuda"

    def unavailable_reason(self) -> str | None:
        """``None`` with a usable CUDA GPU; otherwise what is missing."""
        import torch

        if not torch.cuda.is_available():
            return "no usable CUDA GPU (torch.cuda.is_available() is False); use torch-cpu or onnxruntime-cpu"
        return None

    def _sync(self) -> Callable[[], None] | None:
        import torch

        return torch.cuda.synchronize

    def _device(self) -> str:
        import torch

        return f"cuda: {torch.cuda.get_device_name(0)}"

    def _versions(self) -> dict[str, str]:
        import torch

        versions = {"torch": _version("torch"), "cuda": str(torch.version.cuda)}
        if torch.backends.cudnn.is_available():
            versions["cudnn"] = str(torch.backends.cudnn.version())
        return versions


class OnnxRuntimeCPU(Runner):
    """ONNX Runtime's CPU provider on the subnet exported with :func:`ofa_bench.io.export.export_onnx`.

    Sessions run sequentially with ``intra_op_num_threads=threads`` and one inter-op thread.
    """

    name = "onnxruntime-cpu"
    library = "onnxruntime"

    def unavailable_reason(self) -> str | None:
        """``None`` when onnxruntime with its CPU provider is installed."""
        try:
            import onnxruntime as ort
        except ImportError:
            return "the onnxruntime package is not installed (pip install onnxruntime)"
        if "CPUExecutionProvider" not in ort.get_available_providers():
            return "onnxruntime has no CPUExecutionProvider in this build"
        return None

    def _prepare(self, module: nn.Module, shape: tuple[int, ...]) -> Callable[[], object]:
        # The session settings are the device agent's, so local and remote timings are alike.
        session = ort_session(onnx_model(module, shape), self.threads)
        feed = {session.get_inputs()[0].name: self._input(shape)}
        return lambda: session.run(None, feed)

    def _versions(self) -> dict[str, str]:
        return {"onnxruntime": _version("onnxruntime"), "torch": _version("torch"), "onnx": _version("onnx")}


def onnx_model(module: nn.Module, shape: Sequence[int]) -> bytes:
    """The ONNX file of ``module`` for an input of ``shape`` (``(n, c, h, w)``), as bytes.

    Exported with :func:`ofa_bench.io.export.export_onnx`; what ``onnxruntime-cpu`` loads and what
    the ``remote`` runner sends to the device agent. Traced with one PyTorch thread: a batch of one
    small image gains nothing from more, and on a loaded machine each traced operator waited for
    its threads (ofa-mini subnets exported in 0.8-1.1 s instead of 4.7-5.7 s at load 10 on 2 cores).
    """
    from ofa_bench.io.export import export_onnx

    with tempfile.TemporaryDirectory(prefix="ofa-bench-ort-") as folder, torch_threads(1):
        path = export_onnx(module, os.path.join(folder, "model.onnx"), shape[2], shape[1], batch_size=shape[0])
        return path.read_bytes()


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"
