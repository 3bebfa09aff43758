"""``ofa-bench hardware``: list latency backends, build lookup tables, validate them on a runner.

Backends are reached through the registry only (``registry.get("hardware", "lut")``), so a table
backend or runner from another package works here exactly like the built-in ones.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from ofa_bench.cli import arguments, output, progress
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted import limits
from ofa_bench.plugins import registry
from ofa_bench.plugins.guard import plugin_code
from ofa_bench.space import SearchSpace, get_space

__all__ = ["add_commands"]


# ----- subcommands ------------------------------------------------------------------------------


def _runner_params(args: argparse.Namespace) -> dict[str, Any]:
    """Runner constructor parameters from the options given on the command line.

    Raises:
        OfaBenchError: An option that sets what the ``--runner`` spec sets to another value (the spec
            would silently win). The values themselves are checked when the runner is created.
    """
    names = ("threads", "batch_size", "repeats", "warmup", "rounds", "clock", "statistic")
    params = {k: getattr(args, k) for k in names}
    given = {k: v for k, v in params.items() if v is not None}
    _, spec_params = registry.parse_spec(args.runner)
    for key in sorted(given.keys() & spec_params.keys()):
        if spec_params[key] != given[key]:
            option = f"--{key.replace('_', '-')}"
            raise OfaBenchError(
                f"--runner {args.runner!r} sets {key}={spec_params[key]} but {option} {given[key]} was given; "
                f"give {key} once"
            )
    return given


def _create_runner(spec: str, given: dict[str, Any], defaults: dict[str, Any]) -> Any:
    """Create a runner from its spec; ``defaults`` fill parameters its constructor takes.

    Options the user gave are passed as they are, so a runner that does not take one says so;
    defaults are only offered where the constructor accepts them (a third-party runner may not).
    """
    from ofa_bench.plugins.parameters import parameter_names

    name, spec_params = registry.parse_spec(spec)
    accepted = parameter_names(registry.get("hardware", name))  # None: a **kwargs no base class closes
    offered = {k: v for k, v in defaults.items() if v is not None and (accepted is None or k in accepted)}
    return registry.create("hardware", name, **{**offered, **given, **spec_params})


def _cmd_list(args: argparse.Namespace) -> int:
    entries = []
    for name in registry.names("hardware"):
        entry: dict[str, Any] = {"name": name, "available": None, "device": None, "units": None, "note": None}
        try:
            backend = registry.create("hardware", name)
            info = backend.describe()
            entry.update(available=backend.is_available(), device=info.get("device"), units=info.get("units"))
        except OfaBenchError as exc:  # e.g. a table backend needs its table to be created
            entry["note"] = str(exc)
        entries.append(entry)
    rows = [
        [e["name"], {True: "yes", False: "no", None: "-"}[e["available"]], e["units"] or "-", e["device"] or e["note"]]
        for e in entries
    ]
    return output.print_figures(args, entries, "Hardware backends", ["name", "available", "units", "device / note"], rows)


def _buildable(name: str) -> bool:
    from ofa_bench.plugins.interfaces import BuildableBackend

    try:
        return isinstance(registry.get("hardware", name), BuildableBackend)
    except Exception:  # noqa: BLE001  (a broken plug-in is listed by 'plugins', not here)
        return False


def _runner_as_backend(spec: str) -> str | None:
    """The message for a runner given as ``--backend`` (it measures; ``--runner`` takes it), else ``None``."""
    try:
        cls = registry.get("hardware", registry.parse_spec(spec)[0])
    except OfaBenchError:
        return None
    if not callable(getattr(cls, "time_modules", None)):
        return None
    return (
        f"--backend {spec!r} names a runner, which measures the layers; pass it as --runner {spec} "
        f"(--backend names the table format to build, lut by default)"
    )


def _cmd_build_lut(args: argparse.Namespace) -> int:
    from ofa_bench.errors import OfaBenchError
    from ofa_bench.plugins.interfaces import BuildableBackend

    hint = _runner_as_backend(args.backend)
    if hint is not None:
        raise OfaBenchError(hint)
    backend_class = registry.get("hardware", args.backend)
    if not isinstance(backend_class, BuildableBackend):
        buildable = [n for n in registry.names("hardware") if _buildable(n)]
        raise OfaBenchError(
            f"--backend {args.backend!r} cannot be built (it has no build classmethod); buildable: {', '.join(buildable)}"
        )
    start = time.perf_counter()
    backend = backend_class.build(
        args.space, args.runner, args.out, progress=progress.shown(args), calibration_archs=args.calibration,
        seed=args.seed, **_runner_params(args),
    )  # fmt: skip
    info = backend.describe()
    summary = {
        "table": args.out, "space": args.space.name, "backend": args.backend, "runner": info.get("runner"),
        "device": info["device"], "version": info["version"], "layers": info.get("n_layers"),
        "scale": info.get("scale"), "overhead_ms": info.get("overhead_ms"),
        "seconds": round(time.perf_counter() - start, 2),
    }  # fmt: skip
    rows = [[key, output.plain(value)] for key, value in summary.items()]
    return output.print_figures(args, summary, f"Lookup table for {args.space.name}", ["", ""], rows, header=False)


def _cmd_fit_linear(args: argparse.Namespace) -> int:

    runner = _create_runner(args.runner, _runner_params(args), {"cache_size": args.n})
    archs = args.space.sample(args.n, args.seed)
    with _status(progress.shown(args), f"measuring {output.count_archs(len(archs))} on {runner.name}"), plugin_code():
        measured = runner.latency(archs)
    info = runner.describe()
    source = (
        f"{runner.name}, {info.get('threads')} thread(s), batch {info.get('batch_size')}, "
        f"{args.space.name}, {len(archs)} archs"
    )
    fitted = registry.get("hardware", "macs-linear").fit(archs, measured, source=source)
    fit = fitted.describe()["fit"]
    spec = f"macs-linear:slope_ms_per_mmac={fit['slope_ms_per_mmac']:.6g}:intercept_ms={fit['intercept_ms']:.6g}"
    summary = {**fit, "spec": spec, "device": info.get("device"), "measured_median_ms": float(np.median(measured))}
    rows = [
        ["slope", f"{fit['slope_ms_per_mmac']:.6g} ms per MMAC"],
        ["intercept", f"{fit['intercept_ms']:.6g} ms"],
        ["r2", f"{fit['r2']:.3f}"],
        ["fitted on", source],
        ["device", info.get("device")],
        ["use as", spec],
    ]
    return output.print_figures(args, summary, "Linear MACs latency model", ["", ""], rows, header=False)


def _validation_archs(lut: Any, space: SearchSpace, n: int, seed: int) -> list:
    """``n`` seeded random archs at the resolutions the table covers (OFA's tables cover a few)."""
    covered = lut.resolutions(space)
    if not covered:
        raise OfaBenchError(
            f"lookup table {lut.table_.label} covers no resolution of {space.name}; is it for that space?"
        )
    rng = np.random.default_rng(seed)
    array = space.sample_array(n, rng)
    array[:, -1] = rng.choice(np.asarray(covered), size=n)
    return space.from_array(array)


@contextlib.contextmanager
def _status(show: bool, message: str) -> Iterator[None]:
    if not show:
        yield
        return
    from rich.console import Console

    with Console(file=sys.stderr).status(message):
        yield


def _cmd_validate(args: argparse.Namespace) -> int:
    from ofa_bench.metrics.latency import validation_metrics
    from ofa_bench.report.latency_validation import measure_latencies, scatter_plot, write_validation_csv

    lut = registry.create("hardware", "lut", table=args.table)
    info = lut.describe()
    space = args.space or (get_space(info["space"]) if info.get("space") else None)
    if space is None:
        raise OfaBenchError("--space is required: the table does not name its space (OFA's tables do not)")
    # Measure with the settings the table was built with unless told otherwise, and all archs in
    # one interleaved group (cache_size) so load drift cannot rank them by measuring order.
    defaults = {key: info.get(key) for key in ("threads", "batch_size", "clock", "statistic")}
    defaults["cache_size"] = args.n
    runner = _create_runner(args.runner, _runner_params(args), defaults)
    archs = _validation_archs(lut, space, args.n, args.seed)
    with plugin_code():
        predicted = lut.latency(archs)
    with _status(progress.shown(args), f"measuring {output.count_archs(len(archs))} on {runner.name}"):
        measured, spread = measure_latencies(runner, archs)
    metrics = validation_metrics(predicted, measured)
    summary = {
        **metrics, "table": info["table"], "table_runner": info.get("runner"), "runner": runner.describe(),
        "space": space.name, "seed": args.seed, "plot": args.plot, "out": args.out,
    }  # fmt: skip
    if args.out is not None:
        write_validation_csv(args.out, archs, predicted, measured, spread)
    if args.plot is not None:
        scatter_plot(args.plot, predicted, measured, metrics, f"{info['runner'] or 'table'} LUT vs {runner.name}")
    rows = [
        ["archs", metrics["n"]],
        ["Kendall tau", f"{metrics['kendall_tau']:.3f}"],
        ["within +-10%", f"{100 * metrics['within_10pct']:.1f}%"],
        ["RMSE", f"{metrics['rmse_ms']:.4g} ms"],
        ["mean |error| / measured", f"{100 * metrics['mean_abs_rel_error']:.1f}%"],
        ["median of measured", f"{np.median(measured):.4g} ms"],
        ["measured on", f"{runner.name}: {summary['runner']['device']}"],
        ["measured as", ", ".join(f"{k} {summary['runner'][k]}" for k in _SETTINGS if k in summary["runner"])],
    ]
    title = f"Lookup table {lut.table_.label} vs {runner.name}"
    return output.print_figures(args, summary, title, ["", ""], rows, header=False)


_SETTINGS = ("statistic", "clock", "repeats", "threads", "batch_size")


# ----- parser -----------------------------------------------------------------------------------


def _runner_options(p: argparse.ArgumentParser, int_at_least: Any, note: str, statistic_note: str | None = None) -> None:
    p.add_argument("--threads", type=int_at_least(1, limits.MAX_JOBS), help=f"intra-op threads of the runner ({note})")
    p.add_argument("--batch-size", type=int_at_least(1, limits.MAX_BATCH), help=f"images per inference ({note})")
    p.add_argument(
        "--repeats", type=int_at_least(1, limits.MAX_REPEATS),
        help="timed inferences per network or layer (runner default 50)",
    )
    p.add_argument(
        "--warmup", type=int_at_least(0, limits.MAX_REPEATS), help="untimed inferences first (runner default 10)",
    )
    p.add_argument("--rounds", type=int_at_least(1, limits.MAX_REPEATS),
                   help="interleaved passes over all networks or layers the repeats are split into "
                        "(default: repeats)")  # fmt: skip
    p.add_argument("--clock", choices=["wall", "cpu"],
                   help=f"wall: latency; cpu: the measuring thread's CPU time, steadier on a shared machine, "
                        f"threads=1 only ({note}, else wall)")
    p.add_argument("--statistic", choices=["median", "min"],
                   help=f"figure per network or layer: median call, or fastest call, which varies least under "
                        f"load ({statistic_note or note + ', else median'})")  # fmt: skip


def add_commands(command: Any, group: Any) -> None:
    """Add ``ofa-bench hardware list | build-lut | fit-linear | validate``."""
    from ofa_bench.space import preset_names

    hw = group("hardware", "latency backends: list them, build lookup tables, validate tables on a runner")
    hw("list", _cmd_list, "list hardware backends and whether each can run here")

    runner_help = (
        "runner name or spec, e.g. torch-cpu, onnxruntime-cpu, torch-cuda, 'torch-cpu:channels_last=false', "
        "remote:url=http://HOST:PORT (a device agent)"
    )
    p = hw("build-lut", _cmd_build_lut, "time every distinct layer of a space on a runner into a lookup table")
    p.set_defaults(on_interrupt=output.rerun_resumes)  # an unfinished table is resumed
    p.add_argument("--space", type=arguments.space, required=True, help=f"search-space preset: {', '.join(preset_names())}")
    p.add_argument("--runner", required=True, help=runner_help)
    p.add_argument("--backend", default="lut", help="table backend to build, any with a build classmethod (default lut)")
    p.add_argument("--out", required=True, metavar="FILE", help="YAML table to write (an unfinished one is resumed)")
    _runner_options(p, arguments.int_at_least, "runner default 1", statistic_note="default min for tables")
    p.add_argument("--calibration", type=arguments.int_at_least(0, limits.MAX_ARCHIVE_SIZE), default=10, metavar="N",
                   help="whole archs measured to fit the table's scale and overhead (default 10)")  # fmt: skip
    p.add_argument("--seed", type=arguments.seed, default=0, help="seed of layer weights and calibration archs (default 0)")

    p = hw("fit-linear", _cmd_fit_linear, "fit the macs-linear proxy (ms = slope * MMACs + intercept) to a runner")
    p.add_argument("--space", type=arguments.space, required=True, help=f"search-space preset: {', '.join(preset_names())}")
    p.add_argument("--runner", required=True, help=runner_help)
    p.add_argument(
        "-n", "--num", dest="n", type=arguments.int_at_least(2, limits.MAX_ARCHIVE_SIZE), default=60,
        help="archs to measure (default 60)",
    )
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    _runner_options(p, arguments.int_at_least, "runner default")

    p = hw("validate", _cmd_validate, "measure random archs on a runner and compare with a lookup table")
    p.add_argument("--table", required=True, nargs="+", metavar="PATH", help="table file(s) or a directory (OFA's too)")
    p.add_argument("--runner", required=True, help=runner_help)
    p.add_argument(
        "-n", "--num", dest="n", type=arguments.int_at_least(2, limits.MAX_ARCHIVE_SIZE), default=50,
        help="archs to measure (default 50)",
    )
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--space", type=arguments.space, help="search space (default: the one the table names)")
    _runner_options(p, arguments.int_at_least, "default: as the table was built")
    p.add_argument("--plot", metavar="PNG", help="write a predicted-vs-measured scatter plot")
    p.add_argument("--out", metavar="CSV", help="write arch, predicted and measured latency per arch (- for stdout)")
