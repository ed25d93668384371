"""``kratix-sim check``: run scenarios for N seeds and judge every trace by the rules (or judge a trace file).

Exit 0 when nothing fails (unknown allowed), 1 on any failure (safety, liveness or expectation), 2 bad input,
3 when a run crashed kratix-sim itself: the other runs still run, and the crashed one is a failing ``HARNESS``
verdict in the output and the reports (never a pass), with the command that reproduces it.
"""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tabulate import tabulate

from conformance.report.check import CheckReport, add_report_options
from conformance.report.stats import runs_heading
from conformance.rules import JUDGEABLE, RULES_BY_ID, select
from conformance.runner import HARNESS, RunVerdicts, crashed_run, judge_trace_file, run_and_judge
from conformance.verdict import Verdict, worst
from sim.errors import EXIT_FAILED, EXIT_OK, HarnessError, InputError, Location, harness_errors
from sim.model.loader import load_promise
from sim.model.promise import Promise
from sim.scenario import Scenario
from sim.scenario_loader import load_scenario, scenario_documents
from sim.trace import Trace
from sim.yamlio import Limits

SYMBOL = {"pass": "pass", "fail": "FAIL", "unknown": "?"}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from sim.cli import add_limit_options, limits_from

    parser = sub.add_parser("check", help="simulate scenarios and judge the traces against Kratix's rules",
                            description="Run each scenario for N seeds (plus a fault-free heal period) and judge "
                                        "every trace with the rule checkers and the liveness check; or judge a "
                                        "trace file with --trace.")
    parser.add_argument("paths", nargs="*", type=Path, metavar="SCENARIO_OR_DIR")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per scenario (default 1)")
    parser.add_argument("--seed", type=int, help="first seed (default: each scenario's own seed)")
    parser.add_argument("--rules", help="rule IDs or families, comma-separated (e.g. W1,W4,J)")
    parser.add_argument("--trace", type=Path, action="append", help="judge a JSONL trace file instead")
    parser.add_argument("--promise", type=Path, help="with --trace: the Promise, for pipeline order")
    parser.add_argument("--engine", default="reference",
                        help="reference (default) or a mutant's name (see kratix-sim mutants)")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    add_report_options(parser)
    add_limit_options(parser)

    def handler(args: argparse.Namespace) -> int:
        return run_check(args, limits_from(args))

    parser.set_defaults(handler=handler)


def scenario_files(paths: Iterable[Path], limits: Limits) -> list[Path]:
    """Scenario files among the paths; a folder contributes its files with ``kind: Scenario`` (sorted). A file
    named twice (also through its folder) counts once."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            candidates = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            found = [p for p in candidates if scenario_documents(p, limits)]
            if not found:
                raise InputError("no scenario files (kind: Scenario) in this folder", Location(str(path)))
            files.extend(found)
        else:
            files.append(path)
    seen: set[Path] = set()
    unique = []
    for path in files:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def check_expected_rules(path: Path, scenario: Scenario, limits: Limits) -> None:
    """``spec.expect.rules`` names only rules a checker judges on a trace (a typo would silently judge less)."""
    wanted = scenario.spec.expect.rules
    if wanted == "all":
        return
    for index, rule in enumerate(wanted):
        if rule not in JUDGEABLE:
            source = scenario_documents(path, limits)[0].source
            known = "a rule of another kind (validate, idempotency)" if rule in RULES_BY_ID else "not a rule ID"
            raise InputError(f"{rule!r} is {known}; rules judged on a trace: {', '.join(JUDGEABLE)}",
                             source.at(("spec", "expect", "rules", index)))


def load_scenarios(paths: Iterable[Path], limits: Limits) -> list[tuple[Path, Scenario, Promise]]:
    """Every scenario file loaded, before any runs; two files of one ``metadata.name`` are bad input (the name
    identifies runs and cases in reports and baselines)."""
    loaded: list[tuple[Path, Scenario, Promise]] = []
    named: dict[str, Path] = {}
    for path in scenario_files(paths, limits):
        scenario, promise = load_scenario(path, limits)
        check_expected_rules(path, scenario, limits)
        if scenario.name in named:
            raise InputError(f"metadata.name {scenario.name!r} is also the name of {named[scenario.name]}; "
                             "scenario names identify runs in reports and baselines, give each file its own",
                             Location(str(path)))
        named[scenario.name] = path
        loaded.append((path, scenario, promise))
    return loaded


def run_check(args: argparse.Namespace, limits: Limits) -> int:
    try:
        rules = select(args.rules)
    except ValueError as exc:
        raise InputError(f"--rules: {exc}") from exc
    if args.seeds < 1:
        raise InputError("--seeds must be at least 1")
    runs: list[RunVerdicts] = []
    crashes: list[HarnessError] = []
    report = CheckReport.wanted(args, rules)
    if args.trace:
        if args.paths:
            raise InputError("give scenarios or --trace, not both")
        promise = load_promise(args.promise, limits).promise if args.promise else None
        runs = [judge_trace_file(path, rules, promise, limits) for path in args.trace]
        if report is not None:
            for path, run in zip(args.trace, runs, strict=True):
                report.add(run, Trace.read(path, limits))
    else:
        if not args.paths:
            raise InputError("give at least one scenario file or folder (or --trace FILE)")
        from conformance.explore_command import engines

        available = engines()
        if args.engine not in available:
            raise InputError(f"unknown engine {args.engine!r}; accepted: {', '.join(available)}")
        for path, scenario, promise in load_scenarios(args.paths, limits):
            first = scenario.spec.seed if args.seed is None else args.seed
            for seed in range(first, first + args.seeds):
                crash_site = RunVerdicts(scenario.name, str(path), seed, engine=args.engine)
                try:
                    with harness_errors(f"scenario {scenario.name} seed {seed}",
                                        reproduce_command(crash_site, HARNESS)):
                        run = run_and_judge(scenario, promise, seed, rules, str(path),
                                            engine=available[args.engine], keep_trace=report is not None)
                except HarnessError as exc:
                    crashes.append(exc)
                    run = crashed_run(scenario, str(path), seed, exc)
                run.engine = args.engine
                runs.append(run)
                if report is not None:
                    report.add(run)
    if args.format == "json":
        print(json.dumps(to_json(runs), indent=2))
    else:
        print(render_text(runs, rules))
    if report is not None:
        report.write()
    if crashes:  # after the reports, which show the crashed runs as failing HARNESS cases
        crash = crashes[0]
        more = f" (and {len(crashes) - 1} more runs)" if len(crashes) > 1 else ""
        raise HarnessError(crash.subject + more, crash.error, crash.reproduce)
    return EXIT_FAILED if any(v.result == "fail" for run in runs for v in run.verdicts) else EXIT_OK


def reproduce_command(run: RunVerdicts, rule: str) -> str:
    """One command that reproduces a verdict: the scenario with its seed, or the trace file it judged."""
    if run.from_trace or not run.source or run.seed is None:
        return f"kratix-sim check --trace {shlex.quote(run.source or '<trace>')} --rules {rule}"
    rules = "" if rule in ("LIVENESS", "EXPECT", HARNESS) else f" --rules {rule}"
    engine = "" if run.engine == "reference" else f" --engine {run.engine}"
    return f"kratix-sim check {shlex.quote(run.source)} --seed {run.seed} --seeds 1{rules}{engine}"


def to_json(runs: list[RunVerdicts]) -> dict[str, Any]:
    verdicts: list[dict[str, Any]] = [
        {"scenario": run.scenario, "seed": run.seed, "rule": v.rule, "result": v.result, "category": v.category,
         "event": v.event, "message": v.message}
        for run in runs for v in run.verdicts
    ]
    counts = {result: sum(1 for v in verdicts if v["result"] == result) for result in ("pass", "fail", "unknown")}
    document: dict[str, Any] = {
        "verdicts": verdicts, "summary": {**counts, "runs": len(runs), "scenarios": len({r.scenario for r in runs}),
                                          "result": worst(v.result for run in runs for v in run.verdicts)}}
    if any(run.evidence for run in runs):  # imported traces: what each lacks
        document["evidence"] = {run.source: run.evidence for run in runs if run.evidence}
    return document


def render_text(runs: list[RunVerdicts], rules: tuple[str, ...]) -> str:
    by_scenario: dict[str, list[RunVerdicts]] = {}
    for run in runs:
        by_scenario.setdefault(run.scenario, []).append(run)
    judged = {v.rule for run in runs for v in run.verdicts}
    asked = [r for r in JUDGEABLE if r in judged and r not in rules]  # I1 for scenarios with real executors
    extra = [r for r in ("LIVENESS", "EXPECT", HARNESS) if r in judged]
    columns = [*rules, *asked, *extra]
    rows = []
    for name, group in by_scenario.items():
        row: list[str] = [name]
        for rule in columns:
            present = [v for run in group for v in run.verdicts if v.rule == rule]
            row.append(SYMBOL[worst(v.result for v in present)] if present else "-")
        rows.append(row)
    heading = runs_heading(len(runs), len(by_scenario), "scenario", (r.seed for r in runs if r.seed is not None))
    lines = [heading, "", tabulate(rows, headers=["scenario", *columns]), ""]
    failures = [(run, v) for run in runs for v in run.verdicts if v.result == "fail"]
    for run, verdict in failures:
        lines.extend(_explain(run, verdict))
    for run in runs:
        lines.extend(_evidence(run))
    unknown = sum(1 for run in runs for v in run.verdicts if v.result == "unknown")
    passed = sum(1 for run in runs for v in run.verdicts if v.result == "pass")
    lines.append(f"{passed} passed, {len(failures)} failed, {unknown} unknown")
    return "\n".join(lines)


def _evidence(run: RunVerdicts) -> list[str]:
    """For a trace that lacks evidence (an import, docs/cluster-import.md): what it lacks, and each unknown."""
    if not run.evidence:
        return []
    lines = [f"evidence missing in {run.source or run.scenario}:"]
    lines += [f"  {code}: {detail}" for code, detail in run.evidence.items()]
    lines += [f"  ? {v.rule}: {v.message}" for v in run.verdicts if v.result == "unknown"]
    return [*lines, ""]


def _explain(run: RunVerdicts, verdict: Verdict) -> list[str]:
    rule = RULES_BY_ID.get(verdict.rule)
    title = rule.title if rule else verdict.rule.lower()
    lines = [f"FAIL {verdict.rule} ({verdict.category}) {title}: {run.scenario} seed {run.seed}",
             f"  {verdict.message}"]
    if verdict.context:
        lines.append("  events:")
        for event in verdict.context:
            marker = ">>" if verdict.event is not None and event.get("seq") == verdict.event.get("seq") else "  "
            fields = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("seq", "t", "event"))
            lines.append(f"  {marker} #{event.get('seq')} t={event.get('t')} {event.get('event')} {fields}")
    lines += [f"  reproduce: {reproduce_command(run, verdict.rule)}", ""]
    return lines
