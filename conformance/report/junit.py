"""JUnit XML for CI: one ``testsuite`` per subject (scenario), one ``testcase`` per subject x rule.

A failed case carries ``<failure type="RULE" message="...">`` whose text gives the rule, the message, the
seeds that failed, the events around the violation and the command that reproduces it. An unknown verdict
is ``<skipped>``. The attributes the common JUnit schemas require are all present (Ant's JUnit.xsd:
testsuite ``name tests failures errors time timestamp hostname``, ``id`` and ``package`` inside
``testsuites``; testcase ``name classname time``; failure ``message type``), so GitLab, Jenkins, GitHub
test-report actions and junitparser read it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from conformance.report.model import Case, Finding, Report
from conformance.report.stats import metric_mean

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MAX_CONTEXT = 12


def _clean(text: Any) -> str:
    return _INVALID_XML.sub("?", str(text))


def _timestamp(report: Report) -> str:
    """Ant's pattern has no zone: ``YYYY-MM-DDTHH:MM:SS`` (UTC)."""
    at = report.generated.at if report.generated else "1970-01-01T00:00:00Z"
    return at.replace("Z", "")[:19]


def failure_text(case: Case, finding: Finding | None) -> str:
    title = f" {case.title}" if case.title else ""
    lines = [f"{case.rule}{title} ({case.category}): {case.message}",
             f"scenario: {case.subject}" + (f" ({case.source})" if case.source else "")]
    if case.failed_seeds:
        lines.append("failed seeds: " + ", ".join(str(s) for s in case.failed_seeds))
    if case.reproduce:
        lines.append(f"reproduce: {case.reproduce}")
    if finding is not None and finding.context:
        lines.append(f"events (run {finding.run}):")
        focus = finding.event.get("seq") if finding.event else None
        for event in finding.context[:MAX_CONTEXT]:
            marker = ">>" if focus is not None and event.get("seq") == focus else "  "
            fields = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("seq", "t", "event"))
            lines.append(f"  {marker} #{event.get('seq')} t={event.get('t')} {event.get('event')} {fields}")
    return "\n".join(lines) + "\n"


def render_junit(report: Report) -> str:
    subjects = report.subjects()
    package = f"kratix-sim.{report.kind}"
    total = {"tests": 0, "failures": 0, "skipped": 0}
    root = ET.Element("testsuites", {"name": _clean(report.title)})
    first_finding: dict[tuple[str, str], Finding] = {}
    for finding in report.findings:
        first_finding.setdefault((finding.subject, finding.rule), finding)
    for index, subject in enumerate(subjects):
        cases = [c for c in report.cases if c.subject == subject]
        runs = report.runs_of(subject)
        counts = {"tests": len(cases), "failures": sum(c.result == "fail" for c in cases),
                  "skipped": sum(c.result == "unknown" for c in cases)}
        for key in total:
            total[key] += counts[key]
        suite = ET.SubElement(root, "testsuite", {
            "name": _clean(subject), "tests": str(counts["tests"]), "failures": str(counts["failures"]),
            "errors": "0", "skipped": str(counts["skipped"]), "time": "0", "timestamp": _timestamp(report),
            "hostname": "kratix-sim", "id": str(index), "package": package})
        props = ET.SubElement(suite, "properties")
        source = cases[0].source if cases else (runs[0].source if runs else "")
        seeds = sorted({r.seed for r in runs if r.seed is not None})
        for name, value in (("source", source), ("seeds", ",".join(str(s) for s in seeds)),
                            ("profile", ",".join(sorted({r.profile for r in runs if r.profile}))),
                            ("engine", ",".join(sorted({r.engine for r in runs}))),
                            ("command", report.invocation.command)):
            if value:
                ET.SubElement(props, "property", {"name": name, "value": _clean(value)})
        for case in cases:
            name = f"{case.rule}: {case.title}" if case.title else case.rule
            element = ET.SubElement(suite, "testcase", {"name": _clean(name),
                                                        "classname": _clean(f"{package}.{subject}"), "time": "0"})
            if case.result == "fail":
                message = case.message + (f" (reproduce: {case.reproduce})" if case.reproduce else "")
                failure = ET.SubElement(element, "failure", {"message": _clean(message), "type": _clean(case.rule)})
                failure.text = _clean(failure_text(case, first_finding.get((subject, case.rule))))
            elif case.result == "unknown":
                ET.SubElement(element, "skipped", {"message": _clean(f"unknown: {case.message}")})
        out = ET.SubElement(suite, "system-out")
        metrics = [f"{name}={metric_mean(runs, name)}" for name in (runs[0].metrics if runs else {})]
        out.text = _clean(" ".join(metrics)) if metrics else ""
        ET.SubElement(suite, "system-err").text = ""
    root.set("tests", str(total["tests"]))
    root.set("failures", str(total["failures"]))
    root.set("errors", "0")
    root.set("skipped", str(total["skipped"]))
    root.set("time", "0")  # simulated runs are judged together; times would only make the file vary
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
