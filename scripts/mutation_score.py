"""Per-module mutation scores from mutmut's results in ``mutants/`` (``make mutate``, docs/testing.md).

mutmut keeps one ``mutants/<path>.py.meta`` JSON per mutated file, with each mutant's exit code; its
own summary is one line for the whole run. This prints one row per module:

    killed    a test failed (or pytest errored) with the mutant in place
    timeout   the tests ran far past their clean time (an endless loop): counted as detected
    survived  every test passed: a bug of that shape would go unnoticed, unless the mutant is
              equivalent (listed with its reason in scripts/mutants_equivalent.txt)
    no tests  no selected test calls the mutated function
    other     suspicious, segfault, not checked (an interrupted run), interrupted
    score     (killed + timeout) / (total - skipped - not checked)
    explained the score counting the listed equivalent mutants as dealt with

    python scripts/mutation_score.py            # the table, then every unexplained survivor
    python scripts/mutation_score.py --check    # exit 1 when a survivor is neither killed nor explained
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = ROOT / "scripts" / "mutants_equivalent.txt"

# mutmut 3's exit codes (mutmut/stats.py, status_by_exit_code); anything else is "suspicious".
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 2: "interrupted",
          None: "not checked", 34: "skipped", 35: "suspicious", 36: "timeout", 37: "killed",
          -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout", -11: "segfault", -9: "segfault"}  # fmt: skip


def equivalent_mutants(path: Path = EQUIVALENT) -> dict[str, str]:
    """``name -> reason`` from lines ``NAME  # reason`` (blank lines and ``#`` lines skipped)."""
    out: dict[str, str] = {}
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition("#")
        out[name.strip()] = reason.strip()
    return out


def results(mutants: Path) -> dict[str, dict[str, str]]:
    """Module name -> mutant name -> status, for every ``.meta`` file under ``mutants``."""
    out: dict[str, dict[str, str]] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        module = ".".join(meta.relative_to(mutants).with_suffix("").with_suffix("").parts)
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        if codes:
            out[module] = {name: STATUS.get(code, "suspicious") for name, code in codes.items()}
    return out


def _score(detected: int, tested: int) -> str:
    return f"{100.0 * detected / tested:5.1f}%" if tested else "    -"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants", help="mutmut's folder (default: mutants/)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a survivor is not listed as equivalent")
    args = parser.parse_args(argv)
    by_module = results(args.mutants)
    if not by_module:
        print(f"no mutmut results under {args.mutants}; run `make mutate` first", file=sys.stderr)
        return 2
    equivalent = equivalent_mutants()
    header = (f"{'module':34} {'total':>5} {'killed':>6} {'timeout':>7} {'survived':>8} {'equiv':>5} "
              f"{'no tests':>8} {'other':>5} {'score':>6} {'explained':>9}")  # fmt: skip
    print(header)
    print("-" * len(header))
    sums: Counter[str] = Counter()
    unexplained: list[str] = []
    for module, statuses in by_module.items():
        count = Counter(statuses.values())
        equiv = sum(1 for name, s in statuses.items() if s == "survived" and name in equivalent)
        unexplained += [name for name, s in statuses.items() if s == "survived" and name not in equivalent]
        other = count["suspicious"] + count["segfault"] + count["not checked"] + count["interrupted"]
        row = Counter(total=len(statuses), killed=count["killed"], timeout=count["timeout"],
                      survived=count["survived"], equiv=equiv, no_tests=count["no tests"], other=other,
                      tested=len(statuses) - count["skipped"] - count["not checked"])  # fmt: skip
        sums.update(row)
        print(_row(module, row))
    print("-" * len(header))
    print(_row("all", sums))
    stale = sorted(set(equivalent) - {name for statuses in by_module.values() for name in statuses})
    if stale:
        print(f"\n{len(stale)} listed equivalent mutant(s) no longer exist (the code changed): {', '.join(stale)}")
    if unexplained:
        print(f"\n{len(unexplained)} surviving mutant(s) neither killed nor explained; `mutmut show NAME` for each:")
        for name in unexplained:
            print(f"    {name}")
    return 1 if args.check and unexplained else 0


def _row(module: str, r: Counter[str]) -> str:
    detected = r["killed"] + r["timeout"]
    return (f"{module:34} {r['total']:5d} {r['killed']:6d} {r['timeout']:7d} {r['survived']:8d} {r['equiv']:5d} "
            f"{r['no_tests']:8d} {r['other']:5d} {_score(detected, r['tested']):>6} "
            f"{_score(detected + r['equiv'], r['tested']):>9}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
