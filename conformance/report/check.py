"""The report options of ``kratix-sim check`` and the glue from its ``RunVerdicts`` to a Report."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from conformance.report.build import ReportBuilder, generated_now
from conformance.report.io import Outputs, write_outputs
from conformance.report.model import Invocation, Report
from conformance.runner import RunVerdicts
from sim.trace import Trace


def add_report_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reports (docs/reports.md)")
    group.add_argument("--report", type=Path, metavar="DIR",
                       help="write report.md, report.xml (JUnit), report.json and report.html into DIR")
    group.add_argument("--markdown", type=Path, metavar="FILE", help="write the Markdown report to FILE")
    group.add_argument("--junit", type=Path, metavar="FILE", help="write the JUnit XML report to FILE")
    group.add_argument("--json-report", type=Path, metavar="FILE", help="write the JSON report to FILE")
    group.add_argument("--html", type=Path, metavar="FILE", help="write the HTML report (with plots) to FILE")
    group.add_argument("--no-plots", action="store_true", help="HTML without plots (faster)")


def check_invocation(args: argparse.Namespace, rules: tuple[str, ...]) -> Invocation:
    """The command line as data (report paths left out: they do not change the content)."""
    parts = ["kratix-sim", "check", *(str(p) for p in args.paths or [])]
    for trace in args.trace or []:
        parts += ["--trace", str(trace)]
    if args.promise:
        parts += ["--promise", str(args.promise)]
    if args.seeds != 1:
        parts += ["--seeds", str(args.seeds)]
    if args.seed is not None:
        parts += ["--seed", str(args.seed)]
    if args.rules:
        parts += ["--rules", args.rules]
    engine = getattr(args, "engine", "reference")
    if engine != "reference":
        parts += ["--engine", engine]
    return Invocation(command=shlex.join(parts), options={
        "paths": [str(p) for p in args.paths or []], "traces": [str(t) for t in args.trace or []],
        "seeds": args.seeds, "seed": args.seed, "rules": list(rules), "engine": engine})


class CheckReport:
    """Collects ``check``'s runs as they come (keeping no traces) and writes the reports at the end."""

    def __init__(self, args: argparse.Namespace, rules: tuple[str, ...]) -> None:
        self.outputs = Outputs.select(args.report, args.markdown, args.junit, args.json_report, args.html)
        self.plots = not args.no_plots
        self.builder = ReportBuilder("check", "kratix-sim check", check_invocation(args, rules))
        self.started = time.monotonic()

    @classmethod
    def wanted(cls, args: argparse.Namespace, rules: tuple[str, ...]) -> CheckReport | None:
        report = cls(args, rules)
        report.outputs.check([*(args.paths or []), *(args.trace or [])])
        return report if report.outputs.any() else None

    def add(self, run: RunVerdicts, trace: Trace | None = None) -> None:
        """Record a run (its trace: the run's own, or the trace file it judged)."""
        from conformance.check_command import reproduce_command

        def reproduce(rule: str) -> str:
            return reproduce_command(run, rule)

        trace = trace if trace is not None else run.trace
        self.builder.add_run(subject=run.scenario, source=run.source, seed=run.seed, verdicts=run.verdicts,
                             trace=trace, reproduce=reproduce, engine=run.engine)
        run.trace = None

    def build(self) -> Report:
        return self.builder.build(generated_now(time.monotonic() - self.started))

    def write(self) -> Report:
        report = self.build()
        written = write_outputs(report, self.outputs, plots=self.plots)
        print("report: wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
        return report
