"""Issue 28, part B, rows 9, 10 and 11: baselines (and run folders) a gate reads back are checked.

A baseline whose ``results.json`` holds a median ``"abc"``, ``[1, 2]``, ``true`` or ``-1e300``, a
summary ``{}`` or ``"x"``, or a row ``5`` is bad input: exit status 2 with one line naming the file
and the field (exit 1 would read as "a check failed"). A baseline of another suite is refused
before the suite runs, not after.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness_support import harness_bench, suite_dict  # noqa: F401 - harness_bench is a fixture

from ofa_bench import cli
from ofa_bench.errors import OfaBenchError
from ofa_bench.suite import load_suite, run_suite
from ofa_bench.suite.baseline import check_baseline, metric_range, read_run_dir
from ofa_bench.suite.checks import evaluate_checks

pytestmark = pytest.mark.usefixtures("one_thread")

TOLERANCE = [{"strategy": "evolution", "metric": "hv", "baseline_tolerance": 0.05}]


@pytest.fixture(scope="module")
def run_and_baseline(harness_bench: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:  # noqa: F811
    """A finished run of the tiny suite (with a baseline_tolerance check) and its saved baseline."""
    root = tmp_path_factory.mktemp("gate")
    run_suite(load_suite(suite_dict(harness_bench, checks=TOLERANCE)), root / "run")
    assert cli.main(["baseline", "save", str(root / "run"), str(root / "baseline")]) == 0
    return root / "run", root / "baseline"


def _edited(source: Path, tmp: Path, name: str, change: Callable[[Any], Any]) -> Path:
    """A copy of ``source`` whose file ``name`` is edited in place by ``change`` (or replaced by what it returns)."""
    copy = tmp / f"{source.name}-edited-{len(list(tmp.iterdir()))}"
    shutil.copytree(source, copy)
    document = json.loads((copy / name).read_text())
    document = change(document) or document
    (copy / name).write_text(json.dumps(document))
    return copy


def _one_line(err: str, path: Path) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert len(lines[0]) - len(str(path)) < 300, lines[0]
    assert "internal error" not in lines[0]
    return lines[0]


def _summary(d: dict[str, Any], field: str, value: Any) -> None:
    d["summary"][0][field] = value


RESULTS_CASES = [  # row 9: internal error, exit 1 before; row 10: accepted before
    (lambda d: _summary(d, "median", "abc"), "summary[0].median (hv): must be a finite number from 0 to", "abc"),
    (lambda d: _summary(d, "median", [1, 2]), "summary[0].median (hv): must be a finite number", "[1, 2]"),
    (lambda d: d.update(summary={}), "summary: must be a list of objects", "{}"),
    (lambda d: d.update(summary="x"), "summary: must be a list of objects", "'x'"),
    (lambda d: d["runs"].__setitem__(0, 5), "runs[0]: must be an object", "got 5"),
    (lambda d: _summary(d, "median", -1e300), "summary[0].median (hv): must be a finite number from 0 to", "-1e+300"),
    (lambda d: _summary(d, "median", True), "summary[0].median (hv): must be a finite number", "True"),
    (lambda d: _summary(d, "median", 1e300), "summary[0].median (hv): must be a finite number from 0 to 4", "1e+300"),
    (lambda d: _summary(d, "direction", "min"), "summary[0].direction: must be 'max' for hv", "'min'"),
    (lambda d: _summary(d, "p_adjusted", 2.0), "summary[0].p_adjusted: must be a finite number from 0 to 1", "2.0"),
    (lambda d: _summary(d, "metric", "bogus"), "summary[0].metric: must be one of hv", "'bogus'"),
    (lambda d: d["summary"].append(d["summary"][0]), "]: a second row for 'random' and hv", ""),
    (lambda d: d["runs"][0].update(evaluations="30"), "runs[0].evaluations: must be an integer >= 0", "'30'"),
    (lambda d: d["runs"][0].update(igd=-1.0), "runs[0].igd: must be a finite number >= 0", "-1.0"),
    (lambda d: d["runs"][0].update(evals_to_target=0), "runs[0].evals_to_target: must be a finite number from 1 to 30", ""),
    (lambda d: d.__delitem__("runs"), "missing runs; not a suite run", ""),
    (lambda d: [1], "missing runs, summary; not a suite run", ""),
]  # fmt: skip


@pytest.mark.parametrize(("change", "message", "got"), RESULTS_CASES)
def test_a_bad_baseline_results_file_exits_2_naming_file_and_field(
    run_and_baseline: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[Any], Any],
    message: str,
    got: str,
) -> None:
    run, baseline = run_and_baseline
    bad = _edited(baseline, tmp_path, "results.json", change)
    assert cli.main(["check", str(run), "--baseline", str(bad)]) == 2
    line = _one_line(capsys.readouterr().err, bad)
    assert f"baseline {str(bad / 'results.json')!r}: " in line and message in line and got in line, line


def test_best_under_limit_accuracy_and_evals_to_target_have_their_ranges(run_and_baseline: tuple[Path, Path]) -> None:
    state, results = read_run_dir(run_and_baseline[1], "baseline")
    best = next(r["metric"] for r in results["summary"] if r["metric"].startswith("best:"))
    assert metric_range(best, state) == (0.0, 1.0)  # the best accuracy under a limit is a fraction
    assert metric_range("evals_to_target", state) == (1.0, 30.0)
    low, high = metric_range("hv", state)
    assert low == 0.0 and high == pytest.approx(state["normalisation"]["reference"] ** 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["normalisation"].update(reference="x"), "normalisation.reference: must be a finite number"),
        (lambda s: s["normalisation"]["bounds"].update(accuracy=[1, 1]), "with low < high"),
        (lambda s: s["normalisation"]["objectives"][0].update(direction="up"), "direction: must be 'max' or 'min'"),
        (lambda s: s.update(suite="x"), "suite: must be an object with a name"),
        (lambda s: s["suite"].update(budget={"evaluations": True}), "suite.budget.evaluations: must be an integer"),
        (lambda s: s.update(resolution={"accuracy": -1}), "resolution.accuracy: must be a finite number >= 0"),
    ],
    ids=["reference", "bounds", "direction", "suite", "budget", "resolution"],
)
def test_a_bad_baseline_suite_file_exits_2(
    run_and_baseline: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[Any], Any],
    message: str,
) -> None:
    run, baseline = run_and_baseline
    bad = _edited(baseline, tmp_path, "suite.json", change)
    assert cli.main(["check", str(run), "--baseline", str(bad)]) == 2
    line = _one_line(capsys.readouterr().err, bad)
    assert f"baseline {str(bad / 'suite.json')!r}: " in line and message in line, line


def test_the_run_folder_itself_is_checked_too(
    run_and_baseline: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _edited(run_and_baseline[0], tmp_path, "results.json", lambda d: _summary(d, "median", "abc"))
    assert cli.main(["check", str(bad)]) == 2
    assert f"run directory {str(bad / 'results.json')!r}: summary[0].median" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["check"], ["baseline", "save"]])
def test_an_unfinished_suite_run_says_to_rerun_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """A run folder with suite.json (written first) but no results.json (written last) is an interrupted suite."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "suite.json").write_text("{}")
    assert cli.main([*command, str(run), *([str(tmp_path / "dest")] if command[0] == "baseline" else [])]) == 2
    line = _one_line(capsys.readouterr().err, run)
    assert f"{str(run)!r}: no results.json: the suite did not finish; rerun 'ofa-bench run SUITE --out {run}'" in line
    assert "give the output directory" not in line
    (run / "suite.json").unlink()  # not a suite run at all
    assert cli.main(["check", str(run)]) == 2
    assert "no suite.json; give the output directory of 'ofa-bench run'" in capsys.readouterr().err


def test_a_good_baseline_still_passes(run_and_baseline: tuple[Path, Path]) -> None:
    run, baseline = run_and_baseline
    gate = evaluate_checks(run, baseline)
    assert gate.passed and [c.kind for c in gate.checks] == ["baseline_tolerance"]


# ----- row 11: the baseline is held to the suite before anything runs -------------------------------


def _suite_file(bench: Path, tmp: Path, **changes: Any) -> Path:
    path = tmp / "suite.yaml"
    path.write_text(yaml.safe_dump(suite_dict(bench, checks=TOLERANCE, **changes)))
    return path


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: s["suite"].update(name="other"), "suite.name ('other' in the baseline, 'tiny' in the run)"),
        (lambda s: s["suite"]["budget"].update(evaluations=31), "suite.budget.evaluations (31 in the baseline, 30"),
        (lambda s: s.update(fingerprint="0" * 16), "fingerprint ('0000000000000000' in the baseline"),
        (
            lambda s: s["normalisation"]["objectives"].__delitem__(1),
            "normalisation.objectives (1 entries in the baseline, 2",
        ),
    ],
    ids=["name", "budget", "fingerprint", "objectives"],
)
def test_run_check_refuses_a_baseline_of_another_suite_before_running(
    harness_bench: Path,  # noqa: F811
    run_and_baseline: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[Any], Any],
    field: str,
) -> None:
    other = _edited(run_and_baseline[1], tmp_path, "suite.json", change)
    out = tmp_path / "new"
    started = time.monotonic()
    argv = ["run", str(_suite_file(harness_bench, tmp_path)), "--out", str(out), "--quiet", "--no-report"]
    assert cli.main([*argv, "--check", "--baseline", str(other)]) == 2
    line = _one_line(capsys.readouterr().err, other)
    assert f"{field}" in line and "differs" in line, line
    assert not out.exists(), "nothing may run (or be written) before the baseline is checked"
    assert time.monotonic() - started < 60


def test_run_check_refuses_a_damaged_baseline_and_a_missing_tolerance_row_before_running(
    harness_bench: Path,  # noqa: F811
    run_and_baseline: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "new"
    argv = ["run", str(_suite_file(harness_bench, tmp_path)), "--out", str(out), "--quiet", "--no-report", "--check"]
    damaged = _edited(run_and_baseline[1], tmp_path, "results.json", lambda d: _summary(d, "median", True))
    assert cli.main([*argv, "--baseline", str(damaged)]) == 2
    assert "summary[0].median (hv)" in _one_line(capsys.readouterr().err, damaged) and not out.exists()

    def drop_evolution_hv(d: dict[str, Any]) -> None:
        d["summary"] = [r for r in d["summary"] if not (r["strategy"] == "evolution" and r["metric"] == "hv")]

    lacking = tmp_path / "lacking"
    shutil.move(_edited(run_and_baseline[1], tmp_path, "results.json", drop_evolution_hv), lacking)
    assert cli.main([*argv, "--baseline", str(lacking)]) == 2
    line = _one_line(capsys.readouterr().err, lacking)
    assert "checks[0]: the baseline" in line and "has no 'hv' for 'evolution'" in line and not out.exists()


def test_check_baseline_accepts_the_suite_it_was_saved_from(
    harness_bench: Path,  # noqa: F811
    run_and_baseline: tuple[Path, Path],
) -> None:
    suite = load_suite(suite_dict(harness_bench, checks=TOLERANCE))
    check_baseline(suite, run_and_baseline[1])  # the fingerprint is read from the benchmark
    with pytest.raises(OfaBenchError, match=r"normalisation\.reference \(2\.0 in the baseline, 3\.0 in the run\)"):
        check_baseline(
            load_suite(suite_dict(harness_bench, checks=TOLERANCE, hv={"reference": 3.0})), run_and_baseline[1]
        )
