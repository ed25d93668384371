"""A self-contained HTML page: inline CSS, plots as PNG data URIs, no scripts, nothing fetched.

The Content-Security-Policy forbids every external load, so the page shows the same offline, in a CI
artifact viewer or attached to an e-mail.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from html import escape
from typing import Any

from conformance.report.build import representative
from conformance.report.markdown import METRIC_COLUMNS
from conformance.report.model import Finding, Report, Run
from conformance.report.stats import metric_mean, summary_line
from conformance.verdict import worst

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#212529;background:#f8f9fa}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:24px;margin:8px 0}h2{font-size:19px;margin:28px 0 8px}h3{font-size:16px;margin:18px 0 6px}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#fff;border:1px solid #dee2e6;padding:8px;overflow-x:auto}
table{border-collapse:collapse;background:#fff;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #dee2e6;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:4px;padding:1px 8px;font-weight:600;font-size:12px;color:#fff}
.pass{background:#2f9e44}.fail{background:#e03131}.unknown{background:#868e96}
.chips{display:flex;flex-wrap:wrap;gap:4px;margin:6px 0}
.chip{border-radius:3px;padding:1px 6px;font-size:12px;color:#fff}
section.subject{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:4px 16px 12px;margin:18px 0}
figure{margin:8px 0}figure img{max-width:100%;height:auto;display:block}
figcaption{font-size:12px;color:#495057}
.about{color:#495057}nav a{margin-right:10px;white-space:nowrap}
"""
RESULT_TEXT = {"pass": "PASS", "fail": "FAIL", "unknown": "UNKNOWN"}


def slug(text: str) -> str:
    return "s-" + re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")


def _badge(result: str, text: str | None = None) -> str:
    return f'<span class="badge {escape(result)}">{escape(text or RESULT_TEXT.get(result, result))}</span>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for value in row:
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            text = "-" if value is None else str(value)
            cells.append(f'<td class="n">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _img(png: bytes, alt: str, caption: str, css_class: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure class="{css_class}"><img alt="{escape(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _finding_html(finding: Finding) -> str:
    parts = [f"<h3>{_badge('fail')} {escape(finding.rule)} {escape(finding.title)} "
             f"<small>({escape(finding.category)}) · {escape(finding.run)}</small></h3>",
             f"<p>{escape(finding.message)}</p>"]
    if finding.reproduce:
        parts.append(f"<p>reproduce: <code>{escape(finding.reproduce)}</code></p>")
    if finding.context:
        focus = finding.event.get("seq") if finding.event else None
        lines = []
        for event in finding.context:
            marker = ">>" if focus is not None and event.get("seq") == focus else "  "
            fields = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("seq", "t", "event"))
            lines.append(f"{marker} #{event.get('seq')} t={event.get('t')} {event.get('event')} {fields}")
        parts.append("<details><summary>events</summary><pre>" + escape("\n".join(lines)) + "</pre></details>")
    return "\n".join(parts)


def _subject_html(report: Report, subject: str, runs: list[Run], plots: bool) -> str:
    cases = [c for c in report.cases if c.subject == subject]
    result = worst(c.result for c in cases)
    seeds = sorted({r.seed for r in runs if r.seed is not None})
    source = cases[0].source if cases else (runs[0].source if runs else "")
    parts = [f'<section class="subject" id="{slug(subject)}">',
             f"<h2>{escape(subject)} {_badge(result)}</h2>",
             '<p class="about">' + " · ".join(escape(x) for x in (
                 source, f"{len(runs)} run(s)", "seeds " + ", ".join(map(str, seeds)) if seeds else "") if x)
             + "</p>"]
    chips = "".join(
        f'<span class="chip {escape(c.result)}" title="{escape(f"{c.title}: {c.message}" if c.message else c.title)}">'
        f"{escape(c.rule)}</span>" for c in cases)
    parts.append(f'<div class="chips">{chips}</div>')
    run = representative(runs)
    if plots:
        from conformance.report.plots import activity_png, timeline_png
    if plots and run is not None and run.timeline is not None:
        caption = (f"Timeline of run {run.id}: per object, Jobs (thick bars, coloured by outcome) and pods (thin "
                   "bars); crosses are failures, dashed lines faults, dotted lines controller stops.")
        parts.append(_img(timeline_png(run.timeline, f"{subject}: run {run.id}"), f"timeline of {run.id}",
                          caption, "timeline"))
    if plots and run is not None and run.objects:
        parts.append(_img(activity_png(run), f"runs per day and retries of {run.id}",
                          f"Run {run.id}: configure runs started per simulated day; retries per object.",
                          "activity"))
    if run is not None and run.objects:
        parts.append(f"<h3>objects (run {escape(run.id)})</h3>")
        parts.append(_table(
            ["object", "state", "runs", "completed", "failed", "Jobs", "pods", "pod retries", "container restarts",
             "runs/day", "time to converge (s)"],
            [[o.object, o.state, o.runs_started, o.runs_completed, o.runs_failed, o.jobs, o.pods, o.pod_retries,
              o.container_restarts, o.runs_per_day, o.time_to_converge_s] for o in run.objects]))
    failing = [c for c in cases if c.result != "pass"]
    if failing:
        parts.append("<h3>not passing</h3>")
        parts.append(_table(["rule", "result", "message", "reproduce"],
                            [[f"{c.rule} {c.title}", c.result, c.message, c.reproduce or ""] for c in failing]))
    parts.append("</section>")
    return "\n".join(parts)


def render_html(report: Report, plots: bool = True) -> str:
    subjects = report.subjects()
    title = f"{report.title}: {RESULT_TEXT[report.summary.result]}"
    about = [f"<code>{escape(report.invocation.command)}</code>",
             escape(f"{report.tool.name} {report.tool.version}")]
    if report.profiles:
        about.append("profile " + escape(", ".join(report.profiles)))
    if report.generated:
        about.append("generated " + escape(report.generated.at))
    body = [f"<h1>{escape(report.title)} {_badge(report.summary.result)}</h1>",
            f'<p class="about">{" · ".join(about)}</p>', f"<p>{escape(summary_line(report))}</p>"]
    nav = []
    for subject in subjects:
        result = worst(c.result for c in report.cases if c.subject == subject)
        nav.append(f'<a href="#{slug(subject)}">{_badge(result, subject)}</a>')
    body.append("<nav>" + " ".join(nav) + "</nav>")
    if report.findings:
        body.append(f'<h2 id="failures">Failures ({len(report.findings)})</h2>')
        body.extend(_finding_html(f) for f in report.findings[:100])
    if any(run.metrics for run in report.runs):
        multi = any(len(report.runs_of(s)) > 1 for s in subjects)
        body.append('<h2 id="metrics">Metrics' + (" (mean over seeds)" if multi else "") + "</h2>")
        body.append(_table(["scenario" if report.kind == "check" else "subject", *(h for _, h in METRIC_COLUMNS)],
                           [[s, *(metric_mean(report.runs_of(s), n) for n, _ in METRIC_COLUMNS)] for s in subjects]))
    for section in report.sections:
        body.append(f'<h2 id="{escape(slug(section.id))}">{escape(section.title)}</h2>')
        if section.text:
            body.append(f"<p>{escape(section.text)}</p>")
        if section.columns:
            body.append(_table(section.columns, section.rows))
    for subject in subjects:
        body.append(_subject_html(report, subject, report.runs_of(subject), plots))
    body.append(f'<footer class="about"><p>{escape(report.format)} · kind {escape(report.kind)}</p></footer>')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(body) + "\n</main>\n</body>\n</html>\n")
