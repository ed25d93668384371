"""``kratix-sim report``: baselines, comparisons, re-rendering and the schema of ``kratix-sim-report/v1``.

    kratix-sim report baseline save REPORT.json [--to FILE]
    kratix-sim report compare BASELINE NEW [--tolerance SPEC]... [--fail-on-change] [--format text|markdown|json]
    kratix-sim report render REPORT.json (--report DIR | --markdown F | --junit F | --json-report F | --html F)
    kratix-sim report schema

``compare`` exits 1 on a regression (a new failure, a lower-is-better metric rising beyond the tolerance),
0 otherwise, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sim.errors import EXIT_FAILED, EXIT_OK, InputError

if TYPE_CHECKING:
    from sim.yamlio import Limits


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("report", help="baselines and comparisons of reports; re-render a report.json",
                            description="Work with kratix-sim-report/v1 files (written by `check --report DIR`).")
    actions = parser.add_subparsers(dest="report_command", metavar="ACTION", required=True)

    baseline = actions.add_parser("baseline", help="keep a report as a baseline")
    baseline_actions = baseline.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    save = baseline_actions.add_parser("save", help="strip a report to a baseline (cases, verdicts, metrics)",
                                       description="Write REPORT.json as a baseline: cases, verdicts and metrics "
                                                   "without timelines, per-object tables, event context or the "
                                                   "`generated` block.")
    save.add_argument("report", type=Path, metavar="REPORT.json")
    save.add_argument("--to", type=Path, metavar="FILE", help="default: baseline.json beside REPORT.json")
    _limit_options(save)
    save.set_defaults(handler=_save)

    compare = actions.add_parser("compare", help="new failures, fixed failures and metric changes; exit 1 on a "
                                                 "regression",
                                 description="Compare a report with a baseline (or any earlier report of the same "
                                             "kind). Exit 1 on a regression.")
    compare.add_argument("baseline", type=Path, metavar="BASELINE")
    compare.add_argument("new", type=Path, metavar="NEW")
    compare.add_argument("--tolerance", action="append", metavar="SPEC",
                         help="allowed metric change: N%% or N for every metric, METRIC=N%% or METRIC=N for one; "
                              "comma-separated or repeated (default 0: any change is reported)")
    compare.add_argument("--fail-on-change", action="store_true",
                         help="any change beyond the tolerance is a regression (neutral metrics, unknown verdicts, "
                              "missing cases too)")
    compare.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    compare.add_argument("--output", type=Path, metavar="FILE", help="also write the comparison to FILE")
    _limit_options(compare)
    compare.set_defaults(handler=_compare)

    render = actions.add_parser("render", help="render a report.json again (Markdown, JUnit, JSON, HTML)")
    render.add_argument("source", type=Path, metavar="REPORT.json")
    from conformance.report.check import add_report_options

    add_report_options(render)
    _limit_options(render)
    render.set_defaults(handler=_render)

    schema = actions.add_parser("schema", help="print the JSON Schema of kratix-sim-report/v1")
    schema.set_defaults(handler=_schema)


def _limit_options(parser: argparse.ArgumentParser) -> None:
    from sim.cli import add_limit_options

    add_limit_options(parser)


def _limits(args: argparse.Namespace) -> Limits:
    from sim.cli import limits_from

    return limits_from(args)


def _save(args: argparse.Namespace) -> int:
    from conformance.report import load_report, make_baseline
    from sim.yamlio import refuse_overwriting_inputs, write_atomic

    target: Path = args.to or args.report.with_name("baseline.json")
    refuse_overwriting_inputs([target], [args.report])
    baseline = make_baseline(load_report(args.report, _limits(args)))
    write_atomic(target, baseline.dumps())
    print(f"baseline: {len(baseline.cases)} cases, {len(baseline.runs)} runs -> {target}")
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from conformance.report import Tolerance, compare, load_report
    from sim.yamlio import refuse_overwriting_inputs, write_atomic

    refuse_overwriting_inputs([args.output], [args.baseline, args.new])
    tolerance = Tolerance.parse(args.tolerance)
    limits = _limits(args)
    comparison = compare(load_report(args.baseline, limits), load_report(args.new, limits), tolerance,
                         args.fail_on_change)
    text = comparison.render(args.format)
    print(text)
    if args.output is not None:
        write_atomic(args.output, text if text.endswith("\n") else text + "\n")
    return EXIT_FAILED if comparison.regressions else EXIT_OK


def _render(args: argparse.Namespace) -> int:
    from conformance.report import Outputs, load_report, write_outputs

    outputs = Outputs.select(args.report, args.markdown, args.junit, args.json_report, args.html)
    if not outputs.any():
        raise InputError("say what to write: --report DIR, --markdown, --junit, --json-report or --html")
    outputs.check([args.source])
    written = write_outputs(load_report(args.source, _limits(args)), outputs, plots=not args.no_plots)
    print("report: wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from conformance.report import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK
