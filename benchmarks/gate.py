"""The performance gate: each benchmark against the committed baseline, normalised by machine speed.

For every benchmark, the gate takes its fastest round now and in the baseline (at least 3 rounds
each; the minimum is the least noisy estimate of a cost on a shared machine), and divides their ratio
by the *machine speed factor* of its kind of work: the same ratio for that kind's calibration kernel
(:mod:`benchmarks.calibration`), measured in the same session::

    normalised = (now_min / base_min) / (kernel_now / kernel_base)

A normalised ratio above the threshold (default 1.6, so a real 2x regression trips it while a
machine that is uniformly slower or faster does not) is re-measured in a new session with its kind's
kernel, up to twice; it fails only when every re-measurement fails too (a real regression does). The baseline file is plain JSON,
independent of the interpreter and the platform.

Usage::

    python benchmarks/gate.py run [--baseline benchmarks/baseline.json] [-- PYTEST ARGS]
    python benchmarks/gate.py check RUN.json [--baseline benchmarks/baseline.json]
    python benchmarks/gate.py save RUN.json [RUN2.json ...] [--baseline benchmarks/baseline.json]

``run`` runs ``pytest benchmarks --quick`` (or the given arguments) and checks; ``check`` checks a
pytest-benchmark JSON file already written; ``save`` writes a new baseline from one. Exit status: 0
when every gated benchmark passes, 1 when any fails, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASELINE = ROOT / "benchmarks" / "baseline.json"
THRESHOLD = 1.6
MIN_ROUNDS = 3
RETRIES = 2
FORMAT = 1


class GateError(Exception):
    """Bad input to the gate (a missing or malformed file); exit status 2."""


@dataclass(frozen=True)
class Timing:
    """One benchmark's fastest round, how many rounds it took, and its kind of work."""

    min: float
    rounds: int
    kind: str | None
    calibration: bool = False
    kernel: float | None = None  # the kind's kernel, timed right around this benchmark


@dataclass(frozen=True)
class Row:
    """The gate's verdict on one benchmark."""

    name: str
    kind: str | None
    status: str  # PASS, FAIL, INVALID, NEW, NOT RUN
    ratio: float | None = None  # now / base
    factor: float | None = None  # kernel now / kernel base
    normalised: float | None = None
    note: str = ""


def read_run(path: Path) -> dict[str, Timing]:
    """The timings of a pytest-benchmark JSON file, keyed by test name (``file::test[param]``)."""
    try:
        data = json.loads(Path(path).read_text())
        out = {}
        for bench in data["benchmarks"]:
            info = bench.get("extra_info", {})
            name = bench["fullname"].split("benchmarks/", 1)[-1]
            kernel = info.get("calibration_kernel")
            adjacent = info.get("kernel_min")
            out[name] = Timing(
                float(bench["stats"]["min"]), int(bench["stats"]["rounds"]), info.get("calibration"), bool(kernel),
                float(adjacent) if adjacent is not None else None,
            )  # fmt: skip
        return out
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GateError(f"cannot read benchmark results {str(path)!r}: {type(exc).__name__}: {exc}") from None


def kernels(timings: dict[str, Timing]) -> dict[str, float]:
    """The calibration kernels' fastest rounds by kind."""
    return {t.kind: t.min for t in timings.values() if t.calibration and t.kind}


def read_baseline(path: Path) -> tuple[dict[str, Timing], dict[str, float]]:
    """Benchmarks and calibration kernels of a baseline file written by :func:`save`."""
    try:
        data = json.loads(Path(path).read_text())
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        benches = {
            n: Timing(float(b["min"]), int(b["rounds"]), b["calibration"], kernel=b.get("kernel_min"))
            for n, b in data["benchmarks"].items()
        }
        return benches, {k: float(v) for k, v in data["calibration"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GateError(f"cannot read baseline {str(path)!r}: {type(exc).__name__}: {exc}") from None


def _fastest(runs: Sequence[dict[str, Timing]]) -> dict[str, Timing]:
    """Per benchmark, the fastest round and the fastest adjacent kernel over several runs."""
    out: dict[str, Timing] = {}
    for timings in runs:
        for name, t in timings.items():
            old = out.get(name)
            if old is None:
                out[name] = t
                continue
            kernel = min((k for k in (old.kernel, t.kernel) if k is not None), default=None)
            out[name] = Timing(min(old.min, t.min), max(old.rounds, t.rounds), t.kind, t.calibration, kernel)
    return out


def save(runs: Sequence[Path], dest: Path) -> None:
    """Write the baseline of one or more runs (fastest of each), kernels, and the machine that measured them.

    Several runs make a steadier baseline: each benchmark's time and its kernel's are the fastest
    seen in any of them, both estimates of the machine at its least disturbed.
    """
    timings = _fastest([read_run(run) for run in runs])
    machine = json.loads(Path(runs[0]).read_text()).get("machine_info", {})
    data = {
        "format": FORMAT,
        "machine": {
            "cpu": machine.get("cpu", {}).get("brand_raw", ""),
            "python": machine.get("python_version", platform.python_version()),
        },
        "calibration": kernels(timings),
        "benchmarks": {
            name: {"min": t.min, "rounds": t.rounds, "calibration": t.kind, "kernel_min": t.kernel}
            for name, t in sorted(timings.items())
            if not t.calibration
        },
    }
    tmp = dest.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, dest)


def compare(
    base: dict[str, Timing], base_kernels: dict[str, float], now: dict[str, Timing], threshold: float = THRESHOLD
) -> list[Row]:
    """One row per benchmark in either run; FAIL where the normalised ratio exceeds ``threshold``."""
    now_kernels = kernels(now)
    rows = []
    for name in sorted(set(base) | {n for n, t in now.items() if not t.calibration}):
        if name not in now:
            rows.append(Row(name, base[name].kind, "NOT RUN", note="in the baseline, not run (skipped?)"))
            continue
        t = now[name]
        if name not in base:
            rows.append(Row(name, t.kind, "NEW", note="not in the baseline: save a new one"))
            continue
        if t.kind != base[name].kind:  # the kernels would measure different work
            rows.append(Row(name, t.kind, "INVALID", note=f"kind was {base[name].kind!r} in the baseline: save a new one"))
            continue
        if t.kernel and base[name].kernel:  # the kind's kernel timed right around the benchmark, in both runs
            factor = t.kernel / base[name].kernel
        elif t.kind is not None and t.kind in base_kernels and t.kind in now_kernels:
            factor = now_kernels[t.kind] / base_kernels[t.kind]
        else:
            rows.append(Row(name, t.kind, "INVALID", note=f"no calibration kernel of kind {t.kind!r} in both runs"))
            continue
        if t.rounds < MIN_ROUNDS:
            rows.append(Row(name, t.kind, "INVALID", note=f"{t.rounds} rounds; the gate needs >= {MIN_ROUNDS}"))
            continue
        ratio = t.min / base[name].min
        normalised = ratio / factor
        status = "PASS" if normalised <= threshold else "FAIL"
        rows.append(Row(name, t.kind, status, ratio, factor, normalised))
    return rows


def confirm(first: list[Row], retry: list[Row]) -> list[Row]:
    """Keep a failure only when its re-measurement fails too; the better of the two attempts is shown."""
    again = {r.name: r for r in retry}
    out = []
    for row in first:
        second = again.get(row.name)
        if row.status == "FAIL" and second is not None and second.normalised is not None:
            best = min(row, second, key=lambda r: r.normalised)
            history = row.note if row.note.startswith("re-measured") else f"re-measured: {row.normalised:.2f}"
            note = f"{history} then {second.normalised:.2f}"
            row = Row(best.name, best.kind, best.status, best.ratio, best.factor, best.normalised, note)
        out.append(row)
    return out


def failed(rows: Sequence[Row]) -> list[Row]:
    """Rows that make the gate fail: a slower benchmark or one that cannot be gated."""
    return [r for r in rows if r.status in ("FAIL", "INVALID")]


def table(rows: Sequence[Row], threshold: float = THRESHOLD) -> str:
    """The gate's verdicts as a fixed-width table, with a closing line."""

    def num(x: float | None) -> str:
        return f"{x:6.2f}" if x is not None else "     -"

    width = max([len(r.name) for r in rows] + [9])
    lines = [f"{'benchmark':{width}s} {'kind':11s} {'now/base':>8s} {'machine':>7s} {'normal.':>7s}  verdict"]
    for r in rows:
        lines.append(
            f"{r.name:{width}s} {r.kind or '-':11s} {num(r.ratio):>8s} {num(r.factor):>7s} {num(r.normalised):>7s}"
            f"  {r.status}{'  (' + r.note + ')' if r.note else ''}"
        )
    bad = failed(rows)
    gated = [r for r in rows if r.normalised is not None]
    lines.append(
        f"gate: {len(gated) - len([r for r in bad if r.status == 'FAIL'])}/{len(gated)} within {threshold:g}x "
        f"of the baseline after machine-speed normalisation; {'FAIL' if bad else 'PASS'}"
    )
    return "\n".join(lines)


def _pytest(args: Sequence[str], json_path: Path) -> int:
    command = [sys.executable, "-m", "pytest", *args, f"--benchmark-json={json_path}"]
    return subprocess.call(command, cwd=ROOT)


def run(baseline: Path, pytest_args: Sequence[str], threshold: float) -> int:
    """Run the benchmarks, check them, re-measure failures, print the table; the exit status."""
    base, base_kernels = read_baseline(baseline)
    with tempfile.TemporaryDirectory() as tmp:
        first_json = Path(tmp) / "run.json"
        code = _pytest(pytest_args or ["benchmarks", "--quick"], first_json)
        if code != 0:
            print(f"gate: the benchmarks themselves failed (pytest exit {code})", file=sys.stderr)
            return 1
        rows = compare(base, base_kernels, read_run(first_json), threshold)
        quick = ["--quick"] if "--quick" in pytest_args or not pytest_args else []
        for attempt in range(1, RETRIES + 1):
            slow = [r for r in rows if r.status == "FAIL"]
            if not slow:
                break
            print(f"gate: re-measuring {len(slow)} benchmark(s) above {threshold:g}x in a new session", flush=True)
            kinds = sorted({r.kind for r in slow if r.kind})
            ids = [f"benchmarks/{r.name}" for r in slow]
            ids += [f"benchmarks/test_calibration.py::test_calibration[{k}]" for k in kinds]
            retry_json = Path(tmp) / f"retry{attempt}.json"
            if _pytest([*ids, *quick, "-q"], retry_json) == 0:
                rows = confirm(rows, compare(base, base_kernels, read_run(retry_json), threshold))
    print(table(rows, threshold))
    return 1 if failed(rows) else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gate.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["run", "check", "save"])
    parser.add_argument("run_json", nargs="*", type=Path, help="pytest-benchmark JSON: one (check) or more (save)")
    parser.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE)
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    try:
        if not args.threshold > 1:
            raise GateError(f"--threshold must be a number > 1; got {args.threshold}")
        if args.action == "run":
            return run(args.baseline, pytest_args, args.threshold)
        if not args.run_json:
            raise GateError(f"gate.py {args.action} needs the pytest-benchmark JSON file of a run")
        if args.action == "save":
            save(args.run_json, args.baseline)
            print(f"baseline written to {args.baseline}")
            return 0
        base, base_kernels = read_baseline(args.baseline)
        rows = compare(base, base_kernels, read_run(args.run_json[0]), args.threshold)
        print(table(rows, args.threshold))
        return 1 if failed(rows) else 0
    except GateError as exc:
        print(f"gate: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
