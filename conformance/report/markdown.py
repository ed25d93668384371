"""Markdown: what a person reads in a pull request or a GitHub step summary (tables via tabulate).

Short by design: a status line, one row per subject, the failures with how to reproduce them, a metrics
table; the full rule matrix folds away in a ``<details>`` block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from conformance.report.model import Report, Run
from conformance.report.stats import metric_mean, summary_line
from conformance.verdict import worst

SYMBOL = {"pass": "pass", "fail": "**FAIL**", "unknown": "?"}
STATUS = {"pass": "PASS", "fail": "FAIL", "unknown": "PASS (with unknown verdicts)"}
MAX_FINDINGS = 50
METRIC_COLUMNS: tuple[tuple[str, str], ...] = (
    ("runs_started", "runs"), ("jobs", "Jobs"), ("pods", "pods"), ("retries", "retries"),
    ("jobs_failed", "failed Jobs"), ("runs_per_object_per_day_max", "max runs/object/day"),
    ("time_to_converge_s", "time to converge (s)"), ("queue_latency_max_s", "max queue latency (s)"),
    ("stuck_deletes", "stuck deletes"),
)


def cell(value: Any) -> str:
    """A table cell: one line, pipes escaped."""
    text = "-" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def code(text: str) -> str:
    """Inline code; a text with backticks gets a double fence."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    return tabulate([[cell(v) for v in row] for row in rows], headers=[cell(h) for h in headers],
                    tablefmt="github", disable_numparse=True)


def render_markdown(report: Report) -> str:
    lines = [f"# {report.title}: {STATUS[report.summary.result]}", ""]
    about = [code(report.invocation.command), f"{report.tool.name} {report.tool.version}"]
    if report.profiles:
        about.append("profile " + ", ".join(report.profiles))
    lines += [" · ".join(about), "", summary_line(report), ""]
    subjects = report.subjects()

    lines += ["## Results", ""]
    rows = []
    for subject in subjects:
        cases = [c for c in report.cases if c.subject == subject]
        runs = report.runs_of(subject)
        seeds = sorted({r.seed for r in runs if r.seed is not None})
        failing = [c.rule for c in cases if c.result == "fail"]
        rows.append([subject, SYMBOL[worst(c.result for c in cases)], sum(c.result == "pass" for c in cases),
                     sum(c.result == "fail" for c in cases), sum(c.result == "unknown" for c in cases),
                     ", ".join(failing) or "", _seeds(seeds)])
    lines += [table(["subject" if report.kind != "check" else "scenario", "result", "pass", "fail", "unknown",
                     "failing rules", "seeds"], rows), ""]

    if report.findings:
        lines += [f"## Failures ({len(report.findings)})", ""]
        for finding in report.findings[:MAX_FINDINGS]:
            title = f" {finding.title}" if finding.title else ""
            seed = f", seed {finding.seed}" if finding.seed is not None else ""
            lines.append(f"- **{finding.rule}**{title} ({finding.category}) in `{finding.subject}`{seed}: "
                         f"{cell(finding.message)}")
            if finding.reproduce:
                lines.append(f"  reproduce: {code(finding.reproduce)}")
        if len(report.findings) > MAX_FINDINGS:
            lines.append(f"- ... {len(report.findings) - MAX_FINDINGS} more in report.json")
        lines.append("")

    if any(run.metrics for run in report.runs):
        multi = any(len(report.runs_of(s)) > 1 for s in subjects)
        lines += ["## Metrics" + (" (mean over seeds)" if multi else ""), ""]
        rows = [[subject, *(metric_mean(report.runs_of(subject), name) for name, _ in METRIC_COLUMNS)]
                for subject in subjects]
        lines += [table(["scenario" if report.kind == "check" else "subject", *(h for _, h in METRIC_COLUMNS)],
                        rows), ""]

    for section in report.sections:
        lines += [f"## {section.title}", ""]
        if section.text:
            lines += [section.text, ""]
        if section.columns:
            lines += [table(section.columns, section.rows), ""]

    rules = list(dict.fromkeys(c.rule for c in report.cases))
    if rules:
        lines += ["<details><summary>Verdicts per rule</summary>", ""]
        by_key = {(c.subject, c.rule): c.result for c in report.cases}
        matrix = [[subject, *(SYMBOL[by_key[(subject, r)]] if (subject, r) in by_key else "-" for r in rules)]
                  for subject in subjects]
        lines += [table(["", *rules], matrix), "", "</details>", ""]
    return "\n".join(lines)


def _seeds(seeds: list[int]) -> str:
    if not seeds:
        return ""
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}..{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def runs_table(runs: Sequence[Run]) -> str:
    """Per-run metrics (used by ``report compare`` and handy in notebooks)."""
    return table(["run", *(h for _, h in METRIC_COLUMNS)],
                 [[run.id, *(run.metrics.get(name) for name, _ in METRIC_COLUMNS)] for run in runs])
