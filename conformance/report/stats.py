"""Small aggregations every renderer shares."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def runs_heading(runs: int, subjects: int, noun: str, seeds: Iterable[int]) -> str:
    """``3 runs of 2 scenarios, seeds 1..2``: seeds as a range when they are one, else listed."""
    text = f"{_count(runs, 'run')} of {_count(subjects, noun)}"
    chosen = sorted(set(seeds))
    if len(chosen) == 1:
        text += f", seed {chosen[0]}"
    elif chosen:
        contiguous = chosen == list(range(chosen[0], chosen[-1] + 1))
        text += f", seeds {chosen[0]}..{chosen[-1]}" if contiguous else f", seeds {', '.join(map(str, chosen))}"
    return text


def summary_line(report: Report) -> str:
    s = report.summary
    runs = runs_heading(s.runs, s.subjects, "scenario" if report.kind == "check" else "subject",
                        (run.seed for run in report.runs if run.seed is not None))
    return (f"{runs}: cases {s.cases.pass_} passed, {s.cases.fail} failed, {s.cases.unknown} unknown "
            f"(verdicts {s.verdicts.pass_} passed, {s.verdicts.fail} failed, {s.verdicts.unknown} unknown)")
