"""Plant known bugs one at a time in a scratch copy and check that the fast tests catch each.

The six bugs a reviewer planted (issue 30), each a plausible one-line mistake in code whose numbers
are the product's verdicts. For each: copy the working tree to a scratch folder, apply the one
change, run the fast tests of the files that should catch it (``-m "not slow"``), and report
CAUGHT (a test failed) or MISSED. The working tree is never touched.

    python scripts/planted_bugs.py            # all six; exit 1 when one is missed
    python scripts/planted_bugs.py igd        # one, by name

``make mutate`` is the systematic form of the same question (mutmut, every operator on every line).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Bug:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    what: str


BUGS = (
    Bug("hypervolume-clip", "ofa_bench/metrics/hypervolume.py", "    inside = np.maximum(inside, 0.0)\n", "",
        ("tests/test_harness_metrics.py",), "coordinates below 0 no longer clipped to the box"),
    Bug("ensemble-last-member", "ofa_bench/suite/fairness.py", "    parts.append(text[start:])\n", "",
        ("tests/test_harness_fairness.py", "tests/test_shipped_oracle.py"),
        "the last member of an ensemble(...) label dropped"),
    Bug("overlap-raw-text", "ofa_bench/suite/leakage.py", "arch_key(text) in fitted_on", "text in fitted_on",
        ("tests/test_harness_fairness.py",), "oracle overlap compares raw log text (counts 0)"),
    Bug("igd-is-gd", "ofa_bench/metrics/igd.py", "IGD(np.asarray(front, dtype=np.float64)).do(found)",
        "IGD(found).do(np.asarray(front, dtype=np.float64))", ("tests/test_harness_metrics.py",),
        "IGD's arguments swapped (computes GD)"),
    Bug("spearman-for-tau", "ofa_bench/metrics/predictors.py", '"kendall_tau": kendall_tau(y_true',
        '"kendall_tau": spearman_rho(y_true', ("tests/test_predictor_eval.py",), "Spearman in place of Kendall tau"),
    Bug("gradient-ascent", "ofa_bench/train/trainer.py", "            loss.backward()\n",
        "            (-loss).backward()\n", ("tests/test_train.py",), "the trainer climbs the loss"),
)  # fmt: skip


def _copy_tree(dest: Path) -> None:
    """The working tree as it is (uncommitted changes included), without ignored files."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True,
        check=True,
    ).stdout.splitlines()  # fmt: skip
    for name in listed:
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def plant(bug: Bug) -> tuple[bool, str]:
    """Apply ``bug`` in a scratch copy and run its tests; ``(caught, summary line)``."""
    with tempfile.TemporaryDirectory(prefix=f"planted-{bug.name}-") as tmp:
        tree = Path(tmp)
        _copy_tree(tree)
        target = tree / bug.path
        text = target.read_text()
        if text.count(bug.old) != 1:
            raise SystemExit(f"{bug.name}: the line to change is not in {bug.path} exactly once; update BUGS")
        target.write_text(text.replace(bug.old, bug.new))
        command = [sys.executable, "-m", "pytest", *bug.tests, "-m", "not slow", "-q", "-x", "-p", "no:cacheprovider"]
        done = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("FAILED")] or done.stdout.splitlines()[-1:]
        return done.returncode == 1, lines[0] if lines else f"pytest exit {done.returncode}"


def main(names: list[str]) -> int:
    chosen = [b for b in BUGS if not names or b.name in names]
    missed = 0
    for bug in chosen:
        caught, line = plant(bug)
        missed += not caught
        print(f"{'CAUGHT' if caught else 'MISSED'}  {bug.name:22s} {bug.what}: {line}", flush=True)
    print(f"{len(chosen) - missed}/{len(chosen)} planted bugs caught by the fast tests")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
