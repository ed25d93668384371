"""Assembling a Report: add runs (verdicts + trace) one at a time, then build cases, findings and the summary.

Every command uses the same builder: ``check`` adds one run per scenario x seed; ``mutants`` would add runs
with ``engine=`` set, ``sweep`` runs with ``params=``, and any of them extra tables with ``add_section``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from conformance.report.metrics import run_metrics
from conformance.report.model import (
    Case,
    Counts,
    Finding,
    Generated,
    Invocation,
    Report,
    ReportKind,
    Run,
    RunVerdict,
    Section,
    Summary,
    Tool,
)
from conformance.rules import RULES_BY_ID
from conformance.verdict import Verdict, worst
from sim import __version__
from sim.trace import Trace
from sim.yamlio import source_date_epoch

EXTRA_RULES: dict[str, str] = {
    "LIVENESS": "every object converges after the last fault",
    "EXPECT": "the scenario's expectations (expect.assertions)",
}
Reproduce = Callable[[str], str | None]


def rule_title(rule: str) -> str:
    known = RULES_BY_ID.get(rule)
    return known.title if known else EXTRA_RULES.get(rule, "")


def run_id(subject: str, seed: int | None, engine: str = "reference", params: dict[str, Any] | None = None) -> str:
    text = subject if seed is None else f"{subject}#{seed}"
    if engine != "reference":
        text += f"@{engine}"
    if params:
        text += "?" + "&".join(f"{k}={params[k]}" for k in sorted(params))
    return text


def generated_now(wall_s: float | None = None) -> Generated:
    """Now as ISO 8601 UTC, and the wall-clock seconds taken. With SOURCE_DATE_EPOCH set (reproducible
    builds), that time and no duration, so every file of a run is the same byte for byte."""
    pinned = source_date_epoch()
    if pinned is not None:
        moment, wall_s = pinned, None
    else:
        moment = datetime.now(UTC)
    return Generated(at=moment.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
                     wall_s=None if wall_s is None else round(wall_s, 3))


class ReportBuilder:
    def __init__(self, kind: ReportKind, title: str, invocation: Invocation) -> None:
        self.kind = kind
        self.title = title
        self.invocation = invocation
        self.runs: list[Run] = []
        self.findings: list[Finding] = []
        self.sections: list[Section] = []
        self._reproduce: dict[tuple[str, str], str | None] = {}  # (run id, rule) -> command

    def add_run(self, *, subject: str, verdicts: Sequence[Verdict], trace: Trace | None, source: str = "",
                seed: int | None = None, reproduce: Reproduce | None = None, engine: str = "reference",
                params: dict[str, Any] | None = None, profile: str | None = None,
                last_fault: float | None = None) -> Run:
        """Record one run. ``trace`` gives the metrics and the timeline (None: verdicts only)."""
        ident = run_id(subject, seed, engine, params)
        taken = {run.id for run in self.runs}
        if ident in taken:
            n = 2
            while f"{ident}~{n}" in taken:
                n += 1
            ident = f"{ident}~{n}"
        if profile is None and trace is not None:
            header_profile = trace.header.get("profile")
            profile = header_profile if isinstance(header_profile, str) else None
        run = Run(id=ident, subject=subject, source=source, seed=seed, profile=profile, engine=engine,
                  params=dict(params or {}), result=worst(v.result for v in verdicts),
                  verdicts=[RunVerdict(rule=v.rule, result=v.result, category=v.category, message=v.message)
                            for v in verdicts])
        if trace is not None:
            metrics = run_metrics(trace, last_fault)
            run.metrics, run.objects, run.timeline = metrics.totals, metrics.objects, metrics.timeline
        for verdict in verdicts:
            if verdict.result != "fail":
                continue
            command = reproduce(verdict.rule) if reproduce else None
            self._reproduce[(ident, verdict.rule)] = command
            self.findings.append(Finding(
                id=f"{ident}::{verdict.rule}", subject=subject, source=source, run=ident, seed=seed,
                rule=verdict.rule, title=rule_title(verdict.rule), category=verdict.category,
                message=verdict.message, event=verdict.event, context=list(verdict.context), reproduce=command))
        self.runs.append(run)
        return run

    def add_section(self, section: Section) -> None:
        self.sections.append(section)

    def build(self, generated: Generated | None = None) -> Report:
        cases = list(self._cases())
        _keep_representative_timelines(self.runs)
        summary_cases, summary_verdicts = Counts(), Counts()
        for case in cases:
            summary_cases.add(case.result)
        for run in self.runs:
            for verdict in run.verdicts:
                summary_verdicts.add(verdict.result)
        subjects = list(dict.fromkeys(run.subject for run in self.runs))
        profiles = sorted({run.profile for run in self.runs if run.profile})
        return Report(
            kind=self.kind, title=self.title, tool=Tool(version=__version__), invocation=self.invocation,
            profiles=profiles,
            summary=Summary(result=worst(c.result for c in cases), cases=summary_cases, verdicts=summary_verdicts,
                            runs=len(self.runs), subjects=len(subjects)),
            cases=cases, runs=self.runs, findings=self.findings, sections=self.sections, generated=generated)

    def _cases(self) -> Iterable[Case]:
        by_subject: dict[str, list[Run]] = {}
        for run in self.runs:
            by_subject.setdefault(run.subject, []).append(run)
        for subject, runs in by_subject.items():
            rules = list(dict.fromkeys(v.rule for run in runs for v in run.verdicts))
            for rule in rules:
                pairs = [(run, v) for run in runs for v in run.verdicts if v.rule == rule]
                counts = Counts()
                for _, verdict in pairs:
                    counts.add(verdict.result)
                result = worst(v.result for _, v in pairs)
                first = next(((r, v) for r, v in pairs if v.result == result and result != "pass"), None)
                # every distinct message of the verdicts that set the result (two failed assertions are one case)
                messages = list(dict.fromkeys(v.message for _, v in pairs if v.result == result and v.message))
                yield Case(
                    id=f"{subject}::{rule}", subject=subject, source=runs[0].source, rule=rule,
                    title=rule_title(rule), category=pairs[0][1].category, result=result, counts=counts,
                    message="; ".join(messages) if first else "",
                    failed_seeds=list(dict.fromkeys(r.seed for r, v in pairs if v.result == "fail"
                                                    and r.seed is not None)),
                    reproduce=self._reproduce.get((first[0].id, rule)) if first and result == "fail" else None)


def _keep_representative_timelines(runs: list[Run]) -> None:
    """One timeline per subject (and engine): its first failing run, else its first run."""
    chosen: dict[tuple[str, str], Run] = {}
    for run in runs:
        key = (run.subject, run.engine)
        current = chosen.get(key)
        if current is None or (current.result != "fail" and run.result == "fail"):
            chosen[key] = run
    keep = {id(run) for run in chosen.values()}
    for run in runs:
        if id(run) not in keep:
            run.timeline = None


def representative(runs: Sequence[Run]) -> Run | None:
    """The run whose timeline a subject shows."""
    with_timeline = [run for run in runs if run.timeline is not None]
    return with_timeline[0] if with_timeline else (runs[0] if runs else None)
