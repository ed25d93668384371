"""Reports people read and CI consumes (format ``kratix-sim-report/v1``, docs/reports.md).

``ReportBuilder`` collects runs into a ``Report``; ``write_outputs`` renders it as Markdown, JUnit XML, JSON
and a self-contained HTML page; ``compare`` and ``make_baseline`` keep and check a baseline.
"""

from conformance.report.build import ReportBuilder, generated_now, rule_title, run_id
from conformance.report.compare import Comparison, Tolerance, compare, make_baseline
from conformance.report.io import Outputs, load_report, write_outputs
from conformance.report.model import REPORT_FORMAT, Case, Finding, Invocation, Report, Run, Section, json_schema

__all__ = [
    "REPORT_FORMAT", "Case", "Comparison", "Finding", "Invocation", "Outputs", "Report", "ReportBuilder", "Run",
    "Section", "Tolerance", "compare", "generated_now", "json_schema", "load_report", "make_baseline",
    "rule_title", "run_id", "write_outputs",
]
