"""Baselines and comparisons: what got worse between two reports of the same kind.

Cases are compared by id (``subject::RULE``), metrics per run id (``subject#seed``...). A regression is a
new failure (a case failing now that did not fail before, or a new case that fails) or a metric whose
lower value is better (Jobs, retries, time to converge...) rising beyond the tolerance; a metric that becomes
null (never converged) is a regression too. Fixed failures, improvements and neutral changes are listed but
pass. ``generated`` is never compared.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from tabulate import tabulate

from conformance.report.metrics import METRICS_BY_NAME
from conformance.report.model import MetricValue, Report
from sim.errors import InputError

ChangeKind = Literal["new failure", "fixed", "result changed", "new case", "missing case", "metric",
                     "missing run", "new run"]
_SPEC = re.compile(r"^(?:(?P<metric>[A-Za-z0-9_.]+)=)?(?P<value>\d+(?:\.\d+)?)(?P<pct>%)?$")


@dataclass(frozen=True)
class Bound:
    relative: float = 0.0  # a fraction of the baseline value
    absolute: float = 0.0

    def allows(self, baseline: float, new: float) -> bool:
        return abs(new - baseline) <= max(self.absolute, self.relative * abs(baseline)) + 1e-9

    def __str__(self) -> str:
        parts = []
        if self.relative:
            parts.append(f"{self.relative * 100:g}%")
        if self.absolute:
            parts.append(f"{self.absolute:g}")
        return " or ".join(parts) or "0"


@dataclass
class Tolerance:
    """``10%`` (every metric, relative), ``0.5`` (every metric, absolute), ``jobs=2``, ``time_to_converge_s=5%``;
    a metric's own bound replaces the default one."""

    default: Bound = field(default_factory=Bound)
    metrics: dict[str, Bound] = field(default_factory=dict)

    def bound(self, metric: str) -> Bound:
        return self.metrics.get(metric, self.default)

    @classmethod
    def parse(cls, specs: list[str] | None) -> Tolerance:
        tolerance = cls()
        for spec in (s.strip() for item in specs or [] for s in item.split(",")):
            match = _SPEC.match(spec)
            if match is None:
                raise InputError(f"--tolerance {spec!r}: give N%, N, METRIC=N% or METRIC=N")
            value = float(match["value"])
            bound = Bound(relative=value / 100) if match["pct"] else Bound(absolute=value)
            if match["metric"]:
                if match["metric"] in tolerance.metrics:
                    raise InputError(f"--tolerance: metric {match['metric']!r} given twice")
                tolerance.metrics[match["metric"]] = bound
            else:
                tolerance.default = bound
        return tolerance


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    id: str
    what: str  # the rule or the metric
    baseline: Any
    new: Any
    regression: bool
    note: str = ""

    def row(self) -> list[Any]:
        return [self.kind + (" (REGRESSION)" if self.regression else ""), self.id, self.what,
                "-" if self.baseline is None else self.baseline, "-" if self.new is None else self.new, self.note]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "what": self.what, "baseline": self.baseline, "new": self.new,
                "regression": self.regression, "note": self.note}


@dataclass
class Comparison:
    changes: list[Change]
    tolerance: Tolerance

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    def headline(self) -> str:
        metric = [c for c in self.changes if c.kind == "metric"]
        failing = sum(1 for c in self.changes if c.kind == "new failure" or (c.kind == "new case" and c.regression))
        return (f"{failing} new failures, {self.count('fixed')} fixed failures, "
                f"{len(metric)} metric changes beyond tolerance ({sum(c.regression for c in metric)} regressions); "
                + ("REGRESSION" if self.regressions else "no regression"))

    def render(self, fmt: str = "text") -> str:
        if fmt == "json":
            return json.dumps({"regression": bool(self.regressions), "headline": self.headline(),
                               "changes": [c.to_json() for c in self.changes]}, indent=2)
        headers = ["change", "id", "rule / metric", "baseline", "new", "note"]
        rows = [c.row() for c in self.changes]
        if fmt == "markdown":
            body = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True) if rows else "no changes"
            return f"## Baseline comparison\n\n{self.headline()}\n\n{body}\n"
        body = tabulate(rows, headers=headers, disable_numparse=True) if rows else "no changes"
        return f"{body}\n\n{self.headline()}"


def _delta_note(baseline: float, new: float) -> str:
    delta = new - baseline
    text = f"{delta:+g}"
    if baseline:
        text += f" ({delta / abs(baseline) * 100:+.1f}%)"
    return text


def compare(baseline: Report, new: Report, tolerance: Tolerance | None = None,
            fail_on_change: bool = False) -> Comparison:
    if baseline.kind != new.kind:
        raise InputError(f"cannot compare a {baseline.kind!r} report with a {new.kind!r} report")
    tolerance = tolerance or Tolerance()
    known = sorted({metric for report in (baseline, new) for run in report.runs for metric in run.metrics})
    unknown = sorted(set(tolerance.metrics) - set(known))
    if unknown:  # a misspelt metric would quietly leave the real one at the default tolerance
        raise InputError(f"--tolerance: no metric {', '.join(map(repr, unknown))} in these reports; "
                         f"accepted: {', '.join(known) or 'none'}")
    changes: list[Change] = []
    old_cases = {c.id: c for c in baseline.cases}
    new_cases = {c.id: c for c in new.cases}
    for ident, case in new_cases.items():
        before = old_cases.get(ident)
        if before is None:
            changes.append(Change("new case", ident, case.rule, None, case.result, case.result == "fail",
                                  case.message if case.result == "fail" else ""))
        elif case.result == "fail" and before.result != "fail":
            changes.append(Change("new failure", ident, case.rule, before.result, "fail", True, case.message))
        elif before.result == "fail" and case.result == "pass":
            changes.append(Change("fixed", ident, case.rule, "fail", "pass", False))
        elif before.result != case.result:
            changes.append(Change("result changed", ident, case.rule, before.result, case.result, fail_on_change,
                                  case.message))
    for ident, case in old_cases.items():
        if ident not in new_cases:
            changes.append(Change("missing case", ident, case.rule, case.result, None, fail_on_change))

    old_runs = {r.id: r for r in baseline.runs}
    new_runs = {r.id: r for r in new.runs}
    for ident, run in new_runs.items():
        earlier = old_runs.get(ident)
        if earlier is None:
            changes.append(Change("new run", ident, "", None, run.result, False))
            continue
        for metric in dict.fromkeys([*earlier.metrics, *run.metrics]):
            change = _metric_change(ident, metric, earlier.metrics.get(metric), run.metrics.get(metric),
                                    tolerance, fail_on_change)
            if change is not None:
                changes.append(change)
    for ident, run in old_runs.items():
        if ident not in new_runs:
            changes.append(Change("missing run", ident, "", run.result, None, fail_on_change))
    order = {"new failure": 0, "new case": 1, "metric": 2, "result changed": 3, "fixed": 4, "missing case": 5,
             "missing run": 6, "new run": 7}
    changes.sort(key=lambda c: (not c.regression, order[c.kind]))
    return Comparison(changes, tolerance)


def _metric_change(run: str, metric: str, before: MetricValue, after: MetricValue, tolerance: Tolerance,
                   fail_on_change: bool) -> Change | None:
    lower_is_better = METRICS_BY_NAME[metric].better == "lower" if metric in METRICS_BY_NAME else False
    if before is None and after is None:
        return None
    if before is None or after is None:
        # null means "never" (e.g. never converged): worse than any number for a lower-is-better metric
        worse = after is None and lower_is_better
        return Change("metric", run, metric, before, after, worse or fail_on_change,
                      "became null (never)" if after is None else "no longer null")
    if tolerance.bound(metric).allows(float(before), float(after)):
        return None
    worse = lower_is_better and after > before
    verdict = ("worse, " if worse else "better, ") if lower_is_better else ""
    note = verdict + _delta_note(float(before), float(after)) + f", tolerance {tolerance.bound(metric)}"
    return Change("metric", run, metric, before, after, worse or fail_on_change, note)


def make_baseline(report: Report) -> Report:
    """What a baseline keeps: cases, findings and each run's metrics; no per-run verdicts, timelines, per-object
    tables, event context or ``generated`` (so a baseline is small and stable in version control)."""
    baseline = report.model_copy(deep=True)
    baseline.baseline = True
    baseline.generated = None
    for run in baseline.runs:
        run.timeline = None
        run.objects = []
        run.verdicts = []  # the cases hold the results, the findings the failures
    for finding in baseline.findings:
        finding.context = []
    return baseline
