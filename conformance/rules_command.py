"""``kratix-sim rules``: every rule of the reference with what covers it; uncovered rules are flagged."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tabulate import tabulate

from conformance.checkers import registered
from conformance.rules import RULES
from sim.errors import EXIT_FAILED, EXIT_OK


def coverage() -> list[dict[str, Any]]:
    """One row per rule: its kind and the code that judges it (empty when nothing does yet)."""
    from conformance.idempotency.matrix import RUN_RULES
    from sim.validation import RULE_CHECKS

    checkers = registered()
    rows = []
    for rule in RULES:
        covered_by: list[str] = []
        if rule.id in checkers:
            covered_by.append(f"checker {checkers[rule.id].__module__}.{checkers[rule.id].__name__}")
        if rule.id in RULE_CHECKS:
            covered_by.append(f"validator sim.validation.{RULE_CHECKS[rule.id].__name__}")
        if rule.id in RUN_RULES:
            covered_by.append("idempotency matrix (kratix-sim idempotency)")
        rows.append({"id": rule.id, "title": rule.title, "kind": rule.kind, "source": rule.source,
                     "covered_by": covered_by})
    return rows


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("rules", help="list the rules and what covers each",
                            description="List every rule of the reference with what judges it (a trace checker, "
                                        "the validator, an idempotency check); uncovered rules are flagged.")
    parser.add_argument("--format", choices=["text", "json"], default="text")

    def handler(args: argparse.Namespace) -> int:
        rows = coverage()
        uncovered_trace = [r["id"] for r in rows if r["kind"] == "trace" and not r["covered_by"]]
        if args.format == "json":
            print(json.dumps({"rules": rows, "uncovered": [r["id"] for r in rows if not r["covered_by"]]}, indent=2))
        else:
            table = [[r["id"], r["kind"], r["title"], "; ".join(r["covered_by"]) or "NOT COVERED"] for r in rows]
            print(tabulate(table, headers=["rule", "kind", "title", "covered by"]))
            uncovered = [r["id"] for r in rows if not r["covered_by"]]
            print(f"\n{len(rows) - len(uncovered)} of {len(rows)} rules covered"
                  + (f"; not covered: {', '.join(uncovered)}" if uncovered else ""))
        return EXIT_FAILED if uncovered_trace else EXIT_OK

    parser.set_defaults(handler=handler)
