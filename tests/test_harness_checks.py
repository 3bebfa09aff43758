"""Tests of suites as CI gates: checks in the suite file, ``--check``, baselines, exit codes and JUnit XML.

One tiny suite (random and evolution, 4 seeds, a surrogate oracle; see ``harness_support``) is run
once per module; each test reruns it with other checks, which resumes without a single new run.
"""

from __future__ import annotations

import itertools
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from harness_support import harness_bench, suite_dict  # noqa: F401 - harness_bench is a fixture
from scipy.stats import rankdata

from ofa_bench import cli
from ofa_bench.errors import OfaBenchError
from ofa_bench.suite import load_suite
from ofa_bench.suite.checks import evaluate_checks

pytestmark = pytest.mark.usefixtures("one_thread")

HOLDS = [{"strategy": "evolution", "metric": "hv", "min": 0.0}, {"strategy": "random", "metric": "igd", "max": 1e9}]
FAILS = [{"strategy": "evolution", "metric": "hv", "min": 10.0}]


@pytest.fixture(scope="module")
def suite_run(harness_bench: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """A finished 4-seed run of the tiny suite, with no checks."""
    out = tmp_path_factory.mktemp("checks") / "run"
    suite = tmp_path_factory.mktemp("suite") / "suite.yaml"
    suite.write_text(yaml.safe_dump(suite_dict(harness_bench, seeds=4)))
    assert cli.main(["run", str(suite), "--out", str(out), "--no-report", "--quiet", "--json"]) == 0
    return out


def _run(bench: Path, out: Path, tmp: Path, checks: list[dict[str, Any]], *flags: str, **changes: Any) -> int:
    """``ofa-bench run SUITE --check`` with ``checks`` (resumes ``out``: no new runs)."""
    path = tmp / "suite.yaml"
    path.write_text(yaml.safe_dump(suite_dict(bench, seeds=4, checks=checks, **changes)))
    return cli.main(["run", str(path), "--out", str(out), "--no-report", "--quiet", "--check", *flags])


def test_checks_that_hold_exit_0_and_a_failing_one_exits_1_naming_it(
    harness_bench: Path,  # noqa: F811
    suite_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run(harness_bench, suite_run, tmp_path, HOLDS) == 0
    printed = capsys.readouterr().out
    assert "passed: 2/2 checks hold, 8/8 runs finished" in printed
    assert _run(harness_bench, suite_run, tmp_path, HOLDS + FAILS) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL ")]
    assert len(lines) == 1
    assert lines[0].startswith("FAIL checks[2] evolution hv min 10: strategy evolution, metric hv, observed median ")
    assert "expected median >= 10" in lines[0] and "IQR [" in lines[0]
    # `check` reads the checks the last run stored in suite.json.
    assert cli.main(["check", str(suite_run)]) == 1
    assert "FAIL checks[2] evolution hv min 10" in capsys.readouterr().out


def test_a_beats_check_is_the_harness_test_against_random(suite_run: Path) -> None:
    from ofa_bench.suite.checks import Check

    gate = evaluate_checks(suite_run, checks=[Check(strategy="evolution", beats="random", metric="igd")])
    (outcome,) = gate.checks
    # The p-value recomputed here from results.csv: every one of the C(8, 4) = 70 ways to split the
    # eight IGDs into two groups of four, counting those whose mid-rank sum for the first group is at
    # most evolution's (lower IGD is better). One strategy against random: Holm changes nothing.
    runs = pd.read_csv(suite_run / "results.csv")
    evolution = runs.loc[runs["strategy"] == "evolution", "igd"].to_numpy()
    random_ = runs.loc[runs["strategy"] == "random", "igd"].to_numpy()
    ranks = rankdata(np.concatenate([evolution, random_]))
    observed = ranks[:4].sum()
    splits = [ranks[list(chosen)].sum() for chosen in itertools.combinations(range(8), 4)]
    p = float(np.mean(np.array(splits) <= observed + 1e-9))
    assert outcome.p_adjusted == pytest.approx(p)
    if outcome.passed:
        assert p < 0.05 and np.median(evolution) < np.median(random_)
    assert outcome.line().startswith("PASS" if outcome.passed else "FAIL") and f"p_adjusted" in outcome.line()
    assert "A12" in outcome.detail and "random median" in outcome.detail
    # Against another strategy: the same test with that strategy as the baseline (one-sided, so the
    # two directions' p-values are not both small).
    (forward,) = evaluate_checks(suite_run, checks=[Check(strategy="evolution", beats="random", metric="hv")]).checks
    (backward,) = evaluate_checks(suite_run, checks=[Check(strategy="random", beats="evolution", metric="hv")]).checks
    assert forward.p_adjusted is not None and backward.p_adjusted is not None
    assert not (forward.passed and backward.passed) and forward.p_adjusted + backward.p_adjusted >= 1 - 1e-9


def test_too_few_seeds_for_beats_exit_2(
    harness_bench: Path,  # noqa: F811
    suite_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    beats = [{"strategy": "evolution", "beats": "random", "metric": "hv"}]
    with pytest.raises(OfaBenchError, match=r"checks\[0\]\.beats: needs seeds >= 4 \(got 3\)"):
        load_suite(suite_dict(harness_bench, seeds=3, checks=beats))
    # Enough seeds in the suite, too few finished: an unfinished run leaves 3 a side.
    copy = tmp_path / "run"
    shutil.copytree(suite_run, copy)
    document = json.loads((copy / "results.json").read_text())
    document["runs"][0]["status"] = "killed"
    (copy / "results.json").write_text(json.dumps(document))
    state = json.loads((copy / "suite.json").read_text())
    state["suite"]["checks"] = beats
    (copy / "suite.json").write_text(json.dumps(state))
    assert cli.main(["check", str(copy)]) == 2
    err = capsys.readouterr().err
    assert "3 finished seeds" in err and "at least 4" in err and len(err.strip().splitlines()) == 1


def test_baseline_save_and_check_and_a_baseline_of_another_suite_exits_2(
    harness_bench: Path,  # noqa: F811
    suite_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = tmp_path / "baseline"
    assert cli.main(["baseline", "save", str(suite_run), str(base)]) == 0
    assert sorted(p.name for p in base.iterdir()) == ["results.json", "suite.json", "summary.csv"]
    tolerance = [{"strategy": "evolution", "metric": "hv", "baseline_tolerance": 0.05}]
    assert _run(harness_bench, suite_run, tmp_path, tolerance, "--baseline", str(base)) == 0
    out = capsys.readouterr().out
    assert "PASS checks[0] evolution hv baseline_tolerance 0.05" in out and "baseline median" in out
    # Without a baseline the check cannot be evaluated: bad input, before any run.
    assert _run(harness_bench, suite_run, tmp_path, tolerance) == 2
    assert "checks[0].baseline_tolerance: needs a baseline" in capsys.readouterr().err
    for field, change in (("fingerprint", lambda s: s.update(fingerprint="0" * 16)),
                          ("suite.name", lambda s: s["suite"].update(name="other")),
                          ("normalisation.reference", lambda s: s["normalisation"].update(reference=9.0))):  # fmt: skip
        other = tmp_path / f"other-{field}"
        shutil.copytree(base, other)
        state = json.loads((other / "suite.json").read_text())
        change(state)
        (other / "suite.json").write_text(json.dumps(state))
        assert cli.main(["check", str(suite_run), "--baseline", str(other)]) == 2
        err = capsys.readouterr().err
        assert f"{field} (" in err and "differs" in err and len(err.strip().splitlines()) == 1


def test_junit_and_json_carry_every_check_and_run(
    harness_bench: Path,  # noqa: F811
    suite_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    junit = tmp_path / "reports" / "checks.xml"
    assert _run(harness_bench, suite_run, tmp_path, HOLDS + FAILS, "--junit", str(junit), "--json") == 1
    document = json.loads(capsys.readouterr().out)
    assert document["passed"] is False and [c["passed"] for c in document["checks"]] == [True, True, False]
    assert len(document["runs"]) == 8 and all(r["passed"] for r in document["runs"])
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuite" and root.get("tests") == "11" and root.get("failures") == "1"
    # What the strictest common schema (Ant's JUnit XSD) requires of each element.
    assert all(
        root.get(a) is not None for a in ("name", "tests", "failures", "errors", "time", "timestamp", "hostname")
    )
    assert root.find("properties") is not None and root.find("system-out") is not None
    cases = root.findall("testcase")
    assert len(cases) == 11 and all(c.get("name") and c.get("classname") and c.get("time") for c in cases)
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["checks[2] evolution hv min 10"]
    failure = failed[0].find("failure")
    assert failure is not None and failure.get("type") and "expected median >= 10" in failure.get("message", "")
    # An unfinished run is an <error> test case and fails the gate.
    copy = tmp_path / "unfinished"
    shutil.copytree(suite_run, copy)
    results = json.loads((copy / "results.json").read_text())
    results["runs"][1]["status"] = "killed"
    (copy / "results.json").write_text(json.dumps(results))
    state = json.loads((copy / "suite.json").read_text())
    state["suite"]["checks"] = HOLDS
    (copy / "suite.json").write_text(json.dumps(state))
    assert cli.main(["check", str(copy), "--junit", str(junit)]) == 1
    assert "ERROR run " in capsys.readouterr().out
    root = ET.parse(junit).getroot()
    errors = [c for c in root.findall("testcase") if c.find("error") is not None]
    assert root.get("errors") == "1" and len(errors) == 1 and errors[0].get("name", "").startswith("run ")


def test_the_ci_example_suite_and_workflows_are_valid() -> None:
    root = Path(__file__).resolve().parents[1]
    suite = load_suite(root / "examples" / "ci" / "suite.yaml")
    assert suite.checks and len(suite.seeds) >= 4
    # The committed baseline is a run of this suite (what --baseline compares field by field).
    baseline = json.loads((root / "examples" / "ci" / "baseline" / "suite.json").read_text())
    assert baseline["suite"]["name"] == suite.name and baseline["suite"]["budget"] == suite.budget.model_dump()
    command = "--check --baseline examples/ci/baseline --junit reports/ofa-bench.xml"
    github = yaml.safe_load((root / "examples" / "ci" / "github-workflow.yml").read_text())
    steps = github["jobs"]["gate"]["steps"]
    assert any(command in " ".join(str(s.get("run", "")).split()) for s in steps)
    assert any("junit-report" in str(s.get("uses", "")) for s in steps)
    gitlab = yaml.safe_load((root / "examples" / "ci" / "gitlab-ci.yml").read_text())["search-quality"]
    assert any(command in " ".join(line.split()) for line in gitlab["script"])
    assert gitlab["artifacts"]["reports"]["junit"] == "reports/ofa-bench.xml"
    # The workflows shown in docs/ci.md are YAML too.
    text = (root / "docs" / "ci.md").read_text()
    blocks = text.split("```yaml\n")[1:]
    assert len(blocks) == 3 and all(yaml.safe_load(block.split("```")[0]) for block in blocks)
