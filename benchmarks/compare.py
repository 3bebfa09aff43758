"""A precise, same-machine comparison of two commits: HEAD against BASE, in interleaved sessions.

The cross-machine gate (:mod:`benchmarks.gate`) is a coarse guard: it compares with a baseline recorded
on another CPU, so it only catches large regressions. To know whether a change made a benchmark slower
by 10-50%, measure both versions here and now, the way ``asv continuous`` and pyperformance do:

1. BASE is checked out into a temporary git worktree; HEAD is this working tree as it is (uncommitted
   changes included).
2. Each side gets its own light virtual environment that installs only that side's project (editable,
   no dependencies) and borrows every dependency from the running interpreter's environment, so both
   run the same torch, numpy and scikit-learn, and neither sees the other's code.
3. The benchmarks run in ``rounds`` sessions per side, alternating which side goes first (BASE, HEAD,
   HEAD, BASE, ...), so a drift of the machine's speed over the comparison falls on both sides alike.
   Each side runs its own ``benchmarks/`` (so a comparison across an API change still runs); the
   report names the benchmark files that differ between the two.
4. Per benchmark and round, the raw ratio ``head_min / base_min`` (pytest-benchmark's fastest round
   of each session) and the **normalised** ratio: each side's time divided by its own calibration
   kernel of the same kind, timed right before and right after that benchmark in the same session
   (the gate's ``kernel_min``). A shared machine has slow spells that slow a whole session (measured
   here: one session in six ran every benchmark about 35% slower); the kernel slows with it, so the
   normalised ratio cancels the spell, which a fastest-of-many-rounds minimum does not.
   The report gives the median ratios, a 95% bootstrap interval of the geometric mean normalised
   ratio over rounds, and an exact one-sided Wilcoxon signed-rank test of
   ``log(normalised ratio) > log(threshold)``: a benchmark is **SLOWER** when that test rejects at
   ``alpha`` *and* its median raw ratio is beyond ``threshold`` too (normalisation excuses a slow
   spell, it never accuses by itself, as in the gate), **FASTER** for the mirror case against
   ``1 / threshold``, else ``same``. A benchmark without kernel times on both sides (a BASE older
   than ``kernel_min``) is tested on raw ratios and marked ``raw``.
   With ``n`` rounds the smallest attainable p-value is ``2**-n``, so ``alpha = 0.05`` needs at least
   5 rounds.

Exit status: 0 when no benchmark is SLOWER, 1 when one is, 2 for bad input (an unknown ref, too few
rounds).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from benchmarks.gate import GateError, read_run

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 1.15
ALPHA = 0.05
ROUNDS = 6
#: Runs of the calibration kernel before and after each benchmark (``kernel_min``). The gate's 5 are
#: enough for its 1.6x rule; here one session's kernel divides that round's ratio, and a fastest-of-5
#: kernel caught in a slow spell that the benchmark's fastest-of-hundreds escaped moved a ratio by 40%.
KERNEL_ROUNDS = 30
BOOTSTRAP = 4000
#: The files that decide what a benchmark measures; a difference between the sides is reported.
MEASURING = ("benchmarks/test_*.py", "benchmarks/conftest.py", "benchmarks/calibration.py")


@dataclass(frozen=True)
class Sample:
    """One benchmark in one session: its fastest round and its kind's kernel timed around it (seconds)."""

    seconds: float
    kernel: float | None = None


@dataclass(frozen=True)
class Comparison:
    """HEAD against BASE for one benchmark, over paired rounds."""

    name: str
    base_ms: float  # median over rounds of each session's fastest round
    head_ms: float
    raw: float  # median of per-round head / base
    ratio: float  # median of per-round normalised head / base (== raw when not normalised)
    low: float  # 95% bootstrap interval of the geometric mean of the tested ratio
    high: float
    p_slower: float  # exact one-sided Wilcoxon signed-rank: tested ratio > threshold
    p_faster: float  # tested ratio < 1 / threshold
    verdict: str  # SLOWER, FASTER, same, or "only in BASE"/"only in HEAD"
    normalised: bool = True


def compare_rounds(
    base: Sequence[dict[str, Sample]], head: Sequence[dict[str, Sample]], threshold: float = THRESHOLD,
    alpha: float = ALPHA, seed: int = 0,
) -> list[Comparison]:  # fmt: skip
    """Verdicts from per-round timings (``{benchmark: Sample}`` per session), paired round by round."""
    if len(base) != len(head):
        raise GateError(f"need one HEAD session per BASE session; got {len(base)} and {len(head)}")
    names = sorted(set().union(*base, *head))
    rng = np.random.default_rng(seed)
    out = []
    for name in names:
        pairs = [(b[name], h[name]) for b, h in zip(base, head) if name in b and name in h]
        if not pairs:
            where = "BASE" if any(name in b for b in base) else "HEAD"
            out.append(Comparison(name, *[math.nan] * 8, verdict=f"only in {where}"))
            continue
        b_times = np.array([b.seconds for b, _ in pairs])
        h_times = np.array([h.seconds for _, h in pairs])
        raw = np.log(h_times / b_times)
        normalised = all(b.kernel and h.kernel for b, h in pairs)
        logs = raw - np.log([h.kernel / b.kernel for b, h in pairs]) if normalised else raw
        means = logs[rng.integers(0, len(logs), size=(BOOTSTRAP, len(logs)))].mean(axis=1)
        low, high = np.exp(np.quantile(means, [0.025, 0.975]))
        p_slower = _signed_rank_p(logs - math.log(threshold), "greater")
        p_faster = _signed_rank_p(logs + math.log(threshold), "less")
        raw_median = float(np.median(raw))
        if p_slower < alpha and raw_median > math.log(threshold):
            verdict = "SLOWER"
        elif p_faster < alpha and raw_median < -math.log(threshold):
            verdict = "FASTER"
        else:
            verdict = "same"
        out.append(Comparison(
            name, float(np.median(b_times)) * 1e3, float(np.median(h_times)) * 1e3, float(np.exp(raw_median)),
            float(np.exp(np.median(logs))), float(low), float(high), p_slower, p_faster, verdict, normalised,
        ))  # fmt: skip
    return out


def _signed_rank_p(differences: np.ndarray, alternative: str) -> float:
    """Exact one-sided Wilcoxon signed-rank p-value; 1.0 when every difference is zero."""
    if not np.any(differences):
        return 1.0
    return float(stats.wilcoxon(differences, alternative=alternative, method="exact").pvalue)


def table(rows: Sequence[Comparison], threshold: float = THRESHOLD, alpha: float = ALPHA) -> str:
    """The comparison as a fixed-width table, with a closing line."""
    width = max([len(r.name) for r in rows] + [9])
    lines = [f"{'benchmark':{width}s} {'BASE ms':>9s} {'HEAD ms':>9s} {'raw':>6s} {'HEAD/BASE':>9s} "
             f"{'95% CI':>11s} {'p slower':>8s}  verdict"]  # fmt: skip
    for r in rows:
        if math.isnan(r.ratio):
            lines.append(f"{r.name:{width}s} {'-':>9s} {'-':>9s} {'-':>6s} {'-':>9s} {'-':>11s} {'-':>8s}  {r.verdict}")
            continue
        lines.append(
            f"{r.name:{width}s} {r.base_ms:9.3f} {r.head_ms:9.3f} {r.raw:6.3f} {r.ratio:9.3f} "
            f"{f'{r.low:.2f}-{r.high:.2f}':>11s} {r.p_slower:8.4f}  {r.verdict}{'' if r.normalised else ' (raw)'}"
        )
    slower = [r for r in rows if r.verdict == "SLOWER"]
    lines.append(
        f"compare: {len(slower)} of {len(rows)} benchmark(s) slower than {threshold:g}x BASE at alpha {alpha:g} "
        f"(HEAD/BASE normalised by each session's calibration kernel; exact one-sided signed-rank test over "
        f"rounds, and the raw median beyond {threshold:g}x too); {'FAIL' if slower else 'PASS'}"
    )
    return "\n".join(lines)


def _git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GateError(f"git {' '.join(args)}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'failed'}")
    return done.stdout.strip()


def _environment(tree: Path, where: Path) -> Path:
    """A virtual environment at ``where`` holding only ``tree``'s project, every dependency borrowed.

    The running interpreter's site-packages are added by a ``.pth`` line, so their own ``.pth`` files
    (the running environment's editable install of *this* checkout among them) are not processed: each
    side imports its own ofa-bench and nothing of the other's.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    purelib = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip())  # fmt: skip
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "_borrowed_dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(borrowed)))
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(tree)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise GateError(f"cannot install {tree} into its comparison environment: {done.stderr.strip()[-400:]}")
    return python


def _session(python: Path, tree: Path, pytest_args: Sequence[str], json_path: Path) -> dict[str, Sample]:
    command = [str(python), "-m", "pytest", *pytest_args, "-q", "-p", "no:cacheprovider", f"--benchmark-json={json_path}"]
    # Not the calling pytest's own xdist variables: pytest-benchmark disables itself under a worker.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST"))}
    env["OFA_BENCH_KERNEL_ROUNDS"] = str(KERNEL_ROUNDS)
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise GateError(f"the benchmarks failed in {tree} (pytest exit {done.returncode}): {done.stdout.strip()[-600:]}")
    return {name: Sample(t.min, t.kernel) for name, t in read_run(json_path).items() if not t.calibration}


def compare(
    base_ref: str, rounds: int = ROUNDS, threshold: float = THRESHOLD, alpha: float = ALPHA,
    pytest_args: Sequence[str] = (), head: Path = ROOT, json_out: Path | None = None,
) -> int:  # fmt: skip
    """Measure HEAD (the working tree ``head``) against ``base_ref`` on this machine; the exit status."""
    if rounds < 1 or 2.0**-rounds >= alpha:
        raise GateError(f"--rounds {rounds} cannot reach alpha {alpha:g} (smallest p is 2^-rounds); use >= "
                        f"{math.ceil(-math.log2(alpha) + 1e-9)}")  # fmt: skip
    if not threshold > 1:
        raise GateError(f"--threshold must be a number > 1; got {threshold}")
    try:
        sha = _git("rev-parse", "--verify", "--quiet", f"{base_ref}^{{commit}}", cwd=head)
    except GateError:
        raise GateError(f"BASE {base_ref!r} is not a commit of the repository at {head}") from None
    args = list(pytest_args) or ["benchmarks", "--quick"]
    changed = _git("diff", "--name-only", sha, "--", *MEASURING, cwd=head).split()
    with tempfile.TemporaryDirectory(prefix="ofa-bench-compare-") as tmp:
        work = Path(tmp)
        base_tree = work / "base"
        _git("worktree", "add", "--detach", "--quiet", str(base_tree), sha, cwd=head)
        try:
            print(f"compare: HEAD ({head}) against BASE {base_ref} ({sha[:12]}), {rounds} interleaved round(s)",
                  flush=True)  # fmt: skip
            sides = {"BASE": (_environment(base_tree, work / "env-base"), base_tree),
                     "HEAD": (_environment(head, work / "env-head"), head)}  # fmt: skip
            timings: dict[str, list[dict[str, Sample]]] = {"BASE": [], "HEAD": []}
            for r in range(rounds):
                order = ("BASE", "HEAD") if r % 2 == 0 else ("HEAD", "BASE")
                for side in order:
                    python, tree = sides[side]
                    timings[side].append(_session(python, tree, args, work / f"{side}-{r}.json"))
                print(f"compare: round {r + 1}/{rounds} done", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=head, check=False,
                           capture_output=True)  # fmt: skip
            shutil.rmtree(base_tree, ignore_errors=True)
    rows = compare_rounds(timings["BASE"], timings["HEAD"], threshold, alpha)
    if changed:
        print(f"note: benchmark files differ between BASE and HEAD: {', '.join(changed)}")
    print(table(rows, threshold, alpha))
    if json_out is not None:
        json_out.write_text(json.dumps({
            "base": sha, "rounds": rounds, "threshold": threshold, "alpha": alpha, "pytest_args": args,
            "benchmark_files_changed": changed, "benchmarks": [asdict(r) for r in rows],
            "timings": {side: [{n: asdict(t) for n, t in run.items()} for run in runs] for side, runs in timings.items()},
        }, indent=1, allow_nan=True) + "\n")  # fmt: skip
    return 1 if any(r.verdict == "SLOWER" for r in rows) else 0
