"""``kratix-sim mutants``: does the suite catch deliberately wrong engines?

The reference engine and every mutant (``conformance.mutants``) run over the scenario library, a few seeds
each, judged by every trace rule, the liveness check and the scenarios' expectations. A mutant the library
does not kill is handed to the explorer. Exit 0 when the reference passes everything and every mutant is
killed, 1 otherwise, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tabulate import tabulate

from conformance.check_command import scenario_files
from conformance.explore import explore, failures
from conformance.mutants import MUTANTS, Mutant
from conformance.rules import TRACE_RULES
from conformance.runner import run_and_judge
from sim.errors import EXIT_FAILED, EXIT_OK, InputError
from sim.model.promise import Promise
from sim.scenario import Scenario
from sim.scenario_loader import load_scenario
from sim.simulation import Simulation
from sim.yamlio import DEFAULT_LIMITS, Limits

EXPLORE = "explore"
EXPLORE_ATTEMPTS = 3  # explorer seeds tried while its findings fail the reference engine too
DEFAULT_SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"  # the library kratix-sim ships


@dataclass(frozen=True)
class LibraryScenario:
    path: Path
    scenario: Scenario
    promise: Promise

    @property
    def name(self) -> str:
        return self.scenario.name


@dataclass(frozen=True)
class Kill:
    """One failing verdict against an engine: the rule (or LIVENESS / EXPECT), where, and why."""

    rule: str
    scenario: str  # a scenario's name, or ``explore``
    seed: int | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "scenario": self.scenario, "seed": self.seed, "message": self.message}


@dataclass
class MutantResult:
    mutant: Mutant
    kills: list[Kill] = field(default_factory=list)
    explored: int = 0  # generated scenarios the explorer tried (0: not needed)
    note: str = ""

    @property
    def killed(self) -> bool:
        return bool(self.kills)

    @property
    def killer_rules(self) -> list[str]:
        return sorted({k.rule for k in self.kills})

    @property
    def own_rule_killed(self) -> bool:
        """The mutant breaks the rule it claims (its rule is among the failing verdicts)."""
        return self.mutant.rule in self.killer_rules

    def killed_by(self) -> str:
        """``W4, W1 (configure-halts-on-failure)``: each rule with the first place that caught it."""
        if not self.kills:
            return "-"
        places: dict[str, list[str]] = {}
        for kill in self.kills:
            places.setdefault(kill.scenario, [])
            if kill.rule not in places[kill.scenario]:
                places[kill.scenario].append(kill.rule)
        return "; ".join(f"{', '.join(rules)} ({scenario})" for scenario, rules in places.items())

    def to_json(self) -> dict[str, Any]:
        return {"name": self.mutant.name, "rule": self.mutant.rule, "description": self.mutant.description,
                "killed": self.killed, "killed_by": [k.to_json() for k in self.kills],
                "own_rule_killed": self.own_rule_killed, "explored": self.explored, "note": self.note}


@dataclass
class Report:
    reference_failures: list[Kill]
    results: list[MutantResult]
    runs: int  # reference runs

    @property
    def reference_passes(self) -> bool:
        return not self.reference_failures

    @property
    def survivors(self) -> list[MutantResult]:
        return [r for r in self.results if not r.killed]

    @property
    def ok(self) -> bool:
        return self.reference_passes and not self.survivors

    def to_json(self) -> dict[str, Any]:
        return {"reference_passes": self.reference_passes,
                "reference_failures": [k.to_json() for k in self.reference_failures],
                "mutants": [r.to_json() for r in self.results],
                "summary": {"mutants": len(self.results), "killed": len(self.results) - len(self.survivors),
                            "survivors": [r.mutant.name for r in self.survivors],
                            "killed_only_by_other_rules": [r.mutant.name for r in self.results
                                                           if r.killed and not r.own_rule_killed]}}


# -- running ------------------------------------------------------------------------------------------------
def load_library(directory: Path, limits: Limits = DEFAULT_LIMITS) -> list[LibraryScenario]:
    """Every ``kind: Scenario`` file of the folder, sorted by file name."""
    if not directory.is_dir():
        raise InputError(f"--scenarios: {directory} is not a folder")
    library = []
    for path in scenario_files([directory], limits):
        scenario, promise = load_scenario(path, limits)
        library.append(LibraryScenario(path, scenario, promise))
    return library


def _seeds(scenario: Scenario, count: int) -> range:
    return range(scenario.spec.seed, scenario.spec.seed + count)


Known = frozenset[tuple[str, int | None, str]]  # (scenario, seed, rule) the reference engine fails too


def known_failures(kills: Iterable[Kill]) -> Known:
    return frozenset((k.scenario, k.seed, k.rule) for k in kills)


def library_kills(engine: type[Simulation], library: Sequence[LibraryScenario], seeds: int,
                  rules: tuple[str, ...] = TRACE_RULES, stop_at_first: bool = True,
                  known: Known = frozenset()) -> list[Kill]:
    """Failing verdicts of ``engine`` over the library; with ``stop_at_first``, those of the first failing run.
    A verdict the reference engine fails too (``known``) kills nothing; a run a mutant cut short (runaway) is
    judged on its safety rules only (``run_and_judge``)."""
    kills: list[Kill] = []
    for item in library:
        for seed in _seeds(item.scenario, seeds):
            run = run_and_judge(item.scenario, item.promise, seed, rules, str(item.path), engine=engine)
            failed = [Kill(v.rule, item.name, seed, v.message) for v in run.verdicts
                      if v.result == "fail" and (item.name, seed, v.rule) not in known]
            kills.extend(failed)
            if failed and stop_at_first:
                return kills
    return kills


def explore_kills(mutant: Mutant, examples: int, seed: int, rules: tuple[str, ...] = TRACE_RULES,
                  attempts: int = EXPLORE_ATTEMPTS) -> tuple[list[Kill], int, str]:
    """The explorer's shrunk counterexample against the mutant, replayed on the reference engine too: only
    rules the reference passes on that scenario count as kills. A finding the reference fails as well is a bug
    of the suite, not a kill; the search then goes on with the next seed (up to ``attempts`` seeds). Returns
    the kills, the examples tried and a note on findings that did not count."""
    tried = 0
    notes: list[str] = []
    for attempt_seed in range(seed, seed + attempts):
        finding, count = explore(rules, engine=mutant.engine, examples=examples, seed=attempt_seed)
        tried += count
        if finding is None:
            break
        if finding.flaky:
            notes.append(f"seed {attempt_seed}: the finding did not fail on replay (flaky)")
            continue
        reference = {v.rule for v in failures(finding.document, rules, Simulation)}
        kills = [Kill(v.rule, EXPLORE, finding.document["spec"]["seed"], v.message)
                 for v in finding.verdicts if v.rule not in reference]
        if kills:
            return kills, tried, ""
        notes.append(f"seed {attempt_seed}: the finding fails the reference engine too "
                     f"({', '.join(sorted(reference))}), a bug of the suite, not a kill")
    return [], tried, "; ".join(notes)


def evaluate(mutant: Mutant, library: Sequence[LibraryScenario], seeds: int = 2, examples: int = 100,
             explore_seed: int = 0, full: bool = False, known: Known = frozenset()) -> MutantResult:
    """Run one mutant over the library (stopping at the first kill unless ``full``); explore if it survives.
    ``known``: the reference engine's own failures, which kill nothing."""
    result = MutantResult(mutant, library_kills(mutant.engine, library, seeds, stop_at_first=not full, known=known))
    if not result.killed and examples > 0:
        result.kills, result.explored, result.note = explore_kills(mutant, examples, explore_seed)
    return result


def run_mutants(library: Sequence[LibraryScenario], mutants: Iterable[Mutant], seeds: int = 2, examples: int = 100,
                explore_seed: int = 0, full: bool = False, jobs: int = 1,
                limits: Limits = DEFAULT_LIMITS) -> Report:
    """The reference, then every mutant; ``jobs`` > 1 spreads the mutants over worker processes (each loads
    the library again from its files). Results do not depend on ``jobs``."""
    reference = library_kills(Simulation, library, seeds, stop_at_first=False)
    known = known_failures(reference)
    runs = sum(len(_seeds(item.scenario, seeds)) for item in library)
    mutants = list(mutants)
    if jobs > 1 and len(mutants) > 1:
        directories = sorted({str(item.path.parent) for item in library})
        tasks = [(m.name, directories, limits, seeds, examples, explore_seed, full, known) for m in mutants]
        with ProcessPoolExecutor(max_workers=min(jobs, len(mutants)), mp_context=get_context("spawn")) as pool:
            results = list(pool.map(_evaluate_task, tasks))
    else:
        results = [evaluate(m, library, seeds, examples, explore_seed, full, known) for m in mutants]
    return Report(reference, results, runs)


_LIBRARIES: dict[tuple[str, ...], list[LibraryScenario]] = {}


def _evaluate_task(task: tuple[str, list[str], Limits, int, int, int, bool, Known]) -> MutantResult:
    """One mutant in a worker process."""
    name, directories, limits, seeds, examples, explore_seed, full, known = task
    key = tuple(directories)
    if key not in _LIBRARIES:
        _LIBRARIES[key] = [item for directory in directories for item in load_library(Path(directory), limits)]
    return evaluate(MUTANTS[name], _LIBRARIES[key], seeds, examples, explore_seed, full, known)


# -- output ---------------------------------------------------------------------------------------------------
def render_text(report: Report) -> str:
    lines = []
    if report.reference_passes:
        lines.append(f"reference engine: passes ({report.runs} runs)")
    else:
        lines.append(f"reference engine: FAILS ({len(report.reference_failures)} failing verdicts in "
                     f"{report.runs} runs)")
        lines += [f"  {k.rule} {k.scenario} seed {k.seed}: {k.message}" for k in report.reference_failures]
        lines.append("  (a verdict the reference fails too kills no mutant)")
    lines.append("")
    rows = [[r.mutant.name, r.mutant.rule, "yes" if r.killed else "NO", r.killed_by()] for r in report.results]
    lines.append(tabulate(rows, headers=["mutant", "rule", "killed", "killed by"]))
    lines.append("")
    total = len(report.results)
    killed = total - len(report.survivors)
    percent = 100 * killed // total if total else 100
    lines.append(f"{killed}/{total} mutants killed ({percent}%)")
    for result in report.survivors:
        tried = f" and {result.explored} explored scenarios" if result.explored else ""
        lines.append(f"  survivor {result.mutant.name} ({result.mutant.rule}): passed the library{tried}; "
                     f"{result.mutant.description}")
        if result.note:
            lines.append(f"    {result.note}")
    other = [r for r in report.results if r.killed and not r.own_rule_killed]
    if other:
        lines.append("killed, but not by the rule they break: "
                     + ", ".join(f"{r.mutant.name} ({r.mutant.rule})" for r in other))
    return "\n".join(lines)


# -- the command ----------------------------------------------------------------------------------------------
def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from sim.cli import add_limit_options, limits_from

    parser = sub.add_parser("mutants", help="check that the rule checkers catch deliberately wrong engines",
                            description="Run the reference engine and every mutant over the scenario library "
                                        "(all trace rules, liveness and expectations); explore further for "
                                        "mutants the library does not kill; print a kill table.")
    parser.add_argument("--scenarios", type=Path, default=DEFAULT_SCENARIOS, metavar="DIR",
                        help="the scenario library (default: the one shipped with kratix-sim, its scenarios/ folder)")
    parser.add_argument("--only", metavar="NAME,...", help="only these mutants (comma-separated names)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per scenario, from its own seed (default 2)")
    parser.add_argument("--examples", type=int, default=100,
                        help="explorer examples per mutant the library does not kill (default 100; 0: no explorer)")
    parser.add_argument("--seed", type=int, default=0, help="the explorer's seed (default 0)")
    parser.add_argument("--full", action="store_true",
                        help="run every scenario for every mutant and list every killer (slower)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes for the mutants (default: the number of CPUs)")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    add_limit_options(parser)

    def handler(args: argparse.Namespace) -> int:
        return run_command(args, limits_from(args))

    parser.set_defaults(handler=handler)


def select_mutants(only: str | None) -> list[Mutant]:
    if not only:
        return list(MUTANTS.values())
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in MUTANTS]
    if unknown or not names:
        raise InputError(f"--only: unknown mutant {', '.join(unknown) or '(none given)'}; "
                         f"accepted: {', '.join(MUTANTS)}")
    return [MUTANTS[n] for n in sorted(set(names))]


def run_command(args: argparse.Namespace, limits: Limits) -> int:
    if args.seeds < 1:
        raise InputError("--seeds must be at least 1")
    if args.examples < 0:
        raise InputError("--examples must be 0 or more")
    if args.jobs < 1:
        raise InputError("--jobs must be at least 1")
    mutants = select_mutants(args.only)
    library = load_library(args.scenarios, limits)
    report = run_mutants(library, mutants, args.seeds, args.examples, args.seed, args.full, args.jobs, limits)
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render_text(report))
    return EXIT_OK if report.ok else EXIT_FAILED
