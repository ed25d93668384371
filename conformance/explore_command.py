"""``kratix-sim explore``: property-based search for rule violations, shrunk to a replayable scenario.

A generated scenario that crashes kratix-sim itself is a HarnessError (exit 3), never "no violation": the
exploration is deterministic for a seed, so the message's command reproduces it."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir

from conformance.explore import explore, write_finding
from conformance.rules import select
from sim.errors import EXIT_FAILED, EXIT_OK, InputError, harness_errors
from sim.executors.contract import temporary_directory
from sim.simulation import Simulation


def engines() -> dict[str, type[Simulation]]:
    """``reference`` plus every mutant by name."""
    from conformance.mutants import MUTANTS

    return {"reference": Simulation, **{name: m.engine for name, m in sorted(MUTANTS.items())}}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("explore", help="search generated scenarios for rule violations (Hypothesis)",
                            description="Generate Promises, resources, behaviours and fault schedules; judge every "
                                        "run; shrink a failure and write it as a scenario file.")
    parser.add_argument("--engine", default="reference", help="reference (default) or a mutant's name")
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rules", help="rule IDs or families (default: all trace rules)")
    parser.add_argument("--out", type=Path, default=Path("explored"),
                        help="folder for counterexample scenarios (default: explored, in the current folder)")
    parser.add_argument("--format", choices=["text", "json"], default="text")

    def handler(args: argparse.Namespace) -> int:
        available = engines()
        if args.engine not in available:
            raise InputError(f"unknown engine {args.engine!r}; accepted: {', '.join(available)}")
        if args.examples < 1:
            raise InputError("--examples must be at least 1")
        try:
            rules = select(args.rules)
        except ValueError as exc:
            raise InputError(f"--rules: {exc}") from exc
        reproduce = f"kratix-sim explore --engine {args.engine} --examples {args.examples} --seed {args.seed}"
        if args.rules:
            reproduce += f" --rules {shlex.quote(args.rules)}"
        with harness_errors(f"explore against {args.engine} seed {args.seed}", reproduce), \
                temporary_directory("kratix-sim-hypothesis-") as home:
            set_hypothesis_home_dir(str(home))  # Hypothesis's caches go there, not into the current folder
            finding, tried = explore(rules, available[args.engine], args.examples, args.seed)
        path = write_finding(finding, args.out, args.engine, args.seed) if finding is not None else None
        result = {"engine": args.engine, "seed": args.seed, "examples_tried": tried,
                  "found": finding is not None,
                  "flaky": finding.flaky if finding else False,
                  "rules": finding.rules if finding else [],
                  "messages": [v.message for v in finding.verdicts] if finding else [],
                  "scenario": str(path) if path else None}
        if args.format == "json":
            print(json.dumps(result, indent=2))
        elif finding is None:
            print(f"explored {tried} scenarios against {args.engine}: no rule violated")
        else:
            state = "FLAKY (did not fail on replay)" if finding.flaky else "violation"
            print(f"{state} against {args.engine}: {', '.join(finding.rules)} (found and shrunk in {tried} simulated "
                  "scenarios)")
            for verdict in finding.verdicts:
                print(f"  {verdict.rule}: {verdict.message}")
            engine = "" if args.engine == "reference" else f" --engine {args.engine}"
            print(f"shrunk scenario written to {path}\nreplay: kratix-sim check {path}{engine}")
        return EXIT_FAILED if finding is not None else EXIT_OK

    parser.set_defaults(handler=handler)
