"""Small aggregations every renderer shares."""

from __future__ import annotations

from collections.abc import Sequence

from conformance.report.model import MetricValue, Report, Run


def metric_mean(runs: Sequence[Run], name: str) -> MetricValue:
    """The mean of a metric over runs, rounded; None when any run has it null (e.g. never converged)."""
    values = [run.metrics.get(name) for run in runs if name in run.metrics]
    if not values:
        return None
    if any(v is None for v in values):
        return None
    numbers = [float(v) for v in values if v is not None]
    mean = round(sum(numbers) / len(numbers), 3)
    return int(mean) if mean == int(mean) else mean


def summary_line(report: Report) -> str:
    s = report.summary
    runs = f"{s.runs} runs of {s.subjects} {'scenarios' if report.kind == 'check' else 'subjects'}"
    seeds = sorted({run.seed for run in report.runs if run.seed is not None})
    if seeds:
        runs += f", seeds {seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else f", seed {seeds[0]}"
    return (f"{runs}: cases {s.cases.pass_} passed, {s.cases.fail} failed, {s.cases.unknown} unknown "
            f"(verdicts {s.verdicts.pass_} passed, {s.verdicts.fail} failed, {s.verdicts.unknown} unknown)")
