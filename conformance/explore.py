"""Property-based exploration: Hypothesis generates scenarios, every checker judges each run, a failure is
shrunk, replayed once more (reported flaky if it no longer fails) and written as a scenario file that
``kratix-sim run`` and ``kratix-sim check`` replay exactly."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import NoSuchExample, Unsatisfiable

from conformance.runner import run_and_judge
from conformance.strategies import scenarios
from conformance.verdict import Verdict
from sim.scenario import Scenario
from sim.scenario_loader import resolve_scenario_promise
from sim.simulation import Simulation
from sim.yamlio import SourceMap, write_atomic


@dataclass
class Finding:
    """A shrunk counterexample: the scenario document, the failing verdicts, and whether it replays."""

    document: dict[str, Any]
    verdicts: list[Verdict]
    flaky: bool
    examples_tried: int
    path: Path | None = None

    @property
    def rules(self) -> list[str]:
        return sorted({v.rule for v in self.verdicts})


def failures(document: dict[str, Any], rules: tuple[str, ...], engine: type[Simulation]) -> list[Verdict]:
    """The failing verdicts of one generated scenario run with ``engine``."""
    scenario = Scenario.model_validate(document)
    promise = resolve_scenario_promise(scenario, SourceMap("<explored>"))
    run = run_and_judge(scenario, promise, scenario.spec.seed, rules, engine=engine)
    return [v for v in run.verdicts if v.result == "fail"]


def explore(rules: tuple[str, ...], engine: type[Simulation] = Simulation, examples: int = 200, seed: int = 0,
            profiles: tuple[str, ...] = ("kratix-2026.08",)) -> tuple[Finding | None, int]:
    """Search for a scenario that some checker fails; return the shrunk finding (or None) and the number of
    examples tried. Deterministic for a given seed."""
    tried = 0

    def fails(document: dict[str, Any]) -> bool:
        nonlocal tried
        tried += 1
        return bool(failures(document, rules, engine))

    config = settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                      suppress_health_check=list(HealthCheck),
                      phases=[Phase.generate, Phase.shrink], report_multiple_bugs=False)
    try:
        document = find(scenarios(profiles), fails, settings=config, random=random.Random(seed))
    except (NoSuchExample, Unsatisfiable):
        return None, tried
    verdicts = failures(document, rules, engine)  # replay once more
    return Finding(document, verdicts or [], flaky=not verdicts, examples_tried=tried), tried


def write_finding(finding: Finding, out_dir: Path, engine_name: str, seed: int) -> Path:
    """Write the counterexample as a scenario file; its description says what failed and how to replay."""
    document = dict(finding.document)
    name = f"explored-{engine_name}-{seed}"
    failed = ", ".join(f"{v.rule}: {v.message}" for v in finding.verdicts) or "flaky: did not fail on replay"
    document["metadata"] = {"name": name, "description": f"found by kratix-sim explore --engine {engine_name} "
                            f"--seed {seed}; failed {failed}"}
    path = out_dir / f"{name}.yaml"
    write_atomic(path, yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=120))
    finding.path = path
    return path
