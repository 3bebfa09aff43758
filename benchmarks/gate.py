"""The performance gate: each benchmark against the committed baseline, excused for a slower machine.

For every benchmark, the gate takes its fastest round now and in the baseline (at least 3 rounds
each; the minimum is the least noisy estimate of a cost on a shared machine), and the *machine speed
factor* of its kind of work: the same ratio for that kind's calibration kernel
(:mod:`benchmarks.calibration`), measured in the same session::

    raw        = now_min / base_min
    factor     = kernel_now / kernel_base
    normalised = raw / factor

**The rule, in one sentence: a benchmark fails only when it is more than the threshold (1.6x) slower
than the baseline both raw and after dividing by the machine's speed factor, and stays so in two
re-measurements in new sessions.** Equivalently, its time is divided by the machine's slowdown at its
kind of work but never by a speed-up (``raw / max(factor, 1)``): normalisation can excuse a machine
that is slower at the work, it can never accuse one that is faster at the kernel.

What it can and cannot catch across machines. It is a coarse guard against large regressions (a
function that got 2x slower), not a precise instrument. One kernel's speed relative to one
benchmark's differs between CPUs (model, SIMD path, cache sizes, allocator state): on an AMD EPYC the
torch kernel ran at 0.66 of an Intel Xeon baseline while the elastic forward ran at 1.06, so dividing
by the kernel there accused code that had not changed. The gate therefore cannot see a regression
smaller than the threshold, nor one that a machine's extra speed at that benchmark hides (a faster
CPU that runs 2x-slower code in 1.5x the baseline's time passes). For a precise verdict compare two
commits on one machine: ``gate.py compare BASE`` (``make bench-compare BASE=ref``,
:mod:`benchmarks.compare`) runs both in interleaved sessions and gives each benchmark's ratio with
a confidence interval. The baseline file is plain JSON, independent of the interpreter and platform.

Usage::

    python benchmarks/gate.py run [--baseline benchmarks/baseline.json] [-- PYTEST ARGS]
    python benchmarks/gate.py check RUN.json [--baseline benchmarks/baseline.json]
    python benchmarks/gate.py save RUN.json [RUN2.json ...] [--baseline benchmarks/baseline.json]
    python benchmarks/gate.py compare BASE_REF [--rounds 6] [--threshold 1.15] [-- PYTEST ARGS]

``run`` runs ``pytest benchmarks --quick`` (or the given arguments) and checks; ``check`` checks a
pytest-benchmark JSON file already written; ``save`` writes a new baseline from one; ``compare``
measures HEAD against another commit on this machine. Exit status: 0 when every gated benchmark
passes, 1 when any fails, 2 for bad input.
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

    @property
    def judged(self) -> float | None:
        """The figure the threshold applies to: normalised by a slowdown of the machine, never by a speed-up."""
        if self.ratio is None or self.normalised is None:
            return None
        return min(self.ratio, self.normalised)


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
    """One row per benchmark in either run; FAIL where both the raw and the normalised ratio exceed ``threshold``."""
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
        row = Row(name, t.kind, "PASS", ratio, factor, ratio / factor)
        if row.judged > threshold:  # beyond the threshold raw *and* normalised
            row = Row(name, t.kind, "FAIL", ratio, factor, ratio / factor)
        rows.append(row)
    return rows


def confirm(first: list[Row], retry: list[Row]) -> list[Row]:
    """Keep a failure only when its re-measurement fails too; the better of the two attempts is shown."""
    again = {r.name: r for r in retry}
    out = []
    for row in first:
        second = again.get(row.name)
        if row.status == "FAIL" and second is not None and second.judged is not None:
            best = min(row, second, key=lambda r: r.judged)
            history = row.note if row.note.startswith("re-measured") else f"re-measured: {row.judged:.2f}"
            note = f"{history} then {second.judged:.2f}"
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
    head = f"{'now/base':>8s} {'machine':>7s} {'normal.':>7s} {'judged':>7s}"
    lines = [f"{'benchmark':{width}s} {'kind':11s} {head}  verdict"]
    for r in rows:
        figures = f"{num(r.ratio):>8s} {num(r.factor):>7s} {num(r.normalised):>7s} {num(r.judged):>7s}"
        lines.append(f"{r.name:{width}s} {r.kind or '-':11s} {figures}  {r.status}{'  (' + r.note + ')' if r.note else ''}")
    bad = failed(rows)
    gated = [r for r in rows if r.judged is not None]
    lines.append(
        f"gate: {len(gated) - len([r for r in bad if r.status == 'FAIL'])}/{len(gated)} within {threshold:g}x "
        f"of the baseline raw or after machine-speed normalisation (judged = the smaller); {'FAIL' if bad else 'PASS'}"
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
    parser.add_argument("action", choices=["run", "check", "save", "compare"])
    parser.add_argument("inputs", nargs="*", help="pytest-benchmark JSON: one (check) or more (save); a git ref (compare)")
    parser.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE)
    parser.add_argument("--threshold", type=float, help=f"default {THRESHOLD} (run, check), 1.15 (compare)")
    parser.add_argument("--rounds", type=int, default=6, help="compare: interleaved sessions per side")
    parser.add_argument("--alpha", type=float, default=0.05, help="compare: significance level")
    parser.add_argument("--json-out", type=Path, help="compare: also write the figures to this JSON file")
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    try:
        if args.action == "compare":
            from benchmarks import compare as same_machine

            if len(args.inputs) != 1:
                raise GateError("gate.py compare needs one git ref to compare HEAD with, e.g. `compare main`")
            threshold = same_machine.THRESHOLD if args.threshold is None else args.threshold
            return same_machine.compare(args.inputs[0], args.rounds, threshold, args.alpha, pytest_args,
                                   json_out=args.json_out)  # fmt: skip
        threshold = THRESHOLD if args.threshold is None else args.threshold
        if not threshold > 1:
            raise GateError(f"--threshold must be a number > 1; got {threshold}")
        if args.action == "run":
            return run(args.baseline, pytest_args, threshold)
        if not args.inputs:
            raise GateError(f"gate.py {args.action} needs the pytest-benchmark JSON file of a run")
        runs = [Path(p) for p in args.inputs]
        if args.action == "save":
            save(runs, args.baseline)
            print(f"baseline written to {args.baseline}")
            return 0
        base, base_kernels = read_baseline(args.baseline)
        rows = compare(base, base_kernels, read_run(runs[0]), threshold)
        print(table(rows, threshold))
        return 1 if failed(rows) else 0
    except GateError as exc:
        print(f"gate: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # Run as a script: import the module once, as ``benchmarks.gate``, so that benchmarks.compare and
    # this entry point share one GateError.
    sys.path.insert(0, str(ROOT))
    from benchmarks.gate import main as _main

    sys.exit(_main())
