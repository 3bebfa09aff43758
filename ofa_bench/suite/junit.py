"""JUnit XML of a CI gate (:mod:`ofa_bench.suite.checks`), so CI systems show each check natively.

One ``<testsuite>``; one ``<testcase>`` per check, with a ``<failure>`` when it does not hold, and
one per run, with an ``<error>`` when the run did not finish. Written with :mod:`xml.etree`, so
every text is escaped.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from ofa_bench.io.atomic import write_text_atomic
from ofa_bench.suite.checks import GateResult

__all__ = ["junit_xml", "write_junit"]


def junit_xml(gate: GateResult) -> str:
    """The gate as a JUnit XML document (text, with an XML declaration)."""
    failures = sum(not c.passed for c in gate.checks)
    errors = sum(not r.passed for r in gate.runs)
    # Every attribute the strictest common schema (Ant's JUnit XSD) requires, time and hostname included.
    suite = ET.Element(
        "testsuite", name=f"ofa-bench {gate.suite}", tests=str(len(gate.checks) + len(gate.runs)),
        failures=str(failures), errors=str(errors), skipped="0", time=_seconds(sum(r.seconds for r in gate.runs)),
        timestamp=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"), hostname=socket.gethostname() or "localhost",
    )  # fmt: skip
    properties = ET.SubElement(suite, "properties")
    for name, value in (("run_dir", gate.run_dir), ("baseline", gate.baseline or ""), ("alpha", f"{gate.alpha:g}")):
        ET.SubElement(properties, "property", name=name, value=value)
    for check in gate.checks:
        case = ET.SubElement(suite, "testcase", classname=f"ofa-bench.{gate.suite}.checks", name=check.name, time="0")
        if not check.passed:
            failure = ET.SubElement(case, "failure", message=check.line(), type="CheckFailed")
            failure.text = check.detail
    for run in gate.runs:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"ofa-bench.{gate.suite}.runs",
            name=f"run {run.key}",
            time=_seconds(run.seconds),
        )
        if not run.passed:
            message = f"run {run.key}: {run.status} after {run.evaluations} evaluations"
            ET.SubElement(case, "error", message=message, type="RunUnfinished")
    ET.SubElement(suite, "system-out")
    ET.SubElement(suite, "system-err")
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def write_junit(gate: GateResult, path: str | Path) -> Path:
    """Write :func:`junit_xml` to ``path`` atomically (its folder is created)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(target, junit_xml(gate))
