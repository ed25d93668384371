"""Run scenarios for several seeds and judge each trace with the checkers and the liveness check."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from conformance.bounds import heal_bound_s
from conformance.checkers import run_checkers
from conformance.context import CheckContext, Evidence, PipelineNames, Pipelines
from conformance.liveness import check_liveness
from conformance.mutants.base import UNJUDGEABLE_WHEN_TRUNCATED, truncated
from conformance.rules import JUDGEABLE, ON_REQUEST, TRACE_RULES
from conformance.verdict import Verdict
from sim.durations import format_duration
from sim.errors import HarnessError
from sim.model.promise import WORKFLOW_ACTIONS, WORKFLOW_TYPES, Promise
from sim.scenario import Assertion, Scenario
from sim.simulation import Simulation
from sim.trace import Trace
from sim.yamlio import Limits

EXPECT = "EXPECT"
HARNESS = "HARNESS"  # the pseudo-rule of a run that crashed kratix-sim itself: a bug, never a pass


def _names(promise: Promise) -> PipelineNames:
    names: PipelineNames = {}
    for workflow in WORKFLOW_TYPES:
        for action in WORKFLOW_ACTIONS:
            pipelines = promise.pipelines(workflow, action)
            names[(workflow, action)] = tuple(p.name for p in (pipelines[:1] if action == "delete" else pipelines))
    return names


def pipelines_of(promise: Promise, versions: dict[str, Promise] | None = None) -> Pipelines:
    """The Promise's pipeline names, and those of each version a run's Promise updates made (by spec hash)."""
    return Pipelines(_names(promise), {h: _names(v) for h, v in sorted((versions or {}).items())})


@dataclass
class RunVerdicts:
    scenario: str  # the scenario's name
    source: str  # the file it came from ("" for a trace)
    seed: int | None
    verdicts: list[Verdict] = field(default_factory=list)
    trace: Trace | None = None
    from_trace: bool = False  # judged a trace file (``check --trace``), not a simulated scenario
    engine: str = "reference"  # the engine that ran it (a mutant's name for deliberately wrong engines)
    evidence: dict[str, str] = field(default_factory=dict)  # what an imported trace lacks (code -> detail)


def _assertion(ctx: CheckContext, assertion: Assertion) -> Verdict:
    """``expect.assertions``: by time ``by``, ``target`` has condition ``condition`` with ``status``."""
    latest = None
    for event in ctx.by_object.get(assertion.target, []):
        if float(event["t"]) > assertion.by:
            break
        if event["event"] == "condition_set" and event.get("type") == assertion.condition:
            latest = event
    if latest is not None and latest.get("status") == assertion.status:
        return Verdict(EXPECT, "pass")
    got = "never set" if latest is None else f"{latest.get('status')} ({latest.get('reason')})"
    message = (f"by {format_duration(assertion.by)} ({assertion.by:g} s) {assertion.target} should have "
               f"{assertion.condition}={assertion.status}; "
               f"it was {got}")
    if latest is not None:
        return ctx.fail(EXPECT, latest, message)
    return Verdict(EXPECT, "fail", message)


def judge(trace: Trace, rules: Iterable[str], pipelines: Pipelines | None = None,
          heal: tuple[float, float] | None = None, assertions: Iterable[Assertion] = ()) -> list[Verdict]:
    """All verdicts for one trace: one per rule, then liveness (when a heal window is given), then EXPECT."""
    ctx = CheckContext(trace.header, trace.events, pipelines)
    verdicts = run_checkers(ctx, rules)
    if heal is not None:
        verdicts.append(check_liveness(ctx, *heal))
    verdicts.extend(_assertion(ctx, a) for a in assertions)
    if truncated(trace):  # a runaway engine's run, stopped: safety holds on a prefix, liveness and EXPECT do not
        cut = trace.events[-1]
        why = (f"the run was cut short at t={cut['t']} s ({cut.get('reason', 'a runaway engine')}): not judged on "
               "a prefix of the run")
        verdicts = [Verdict(v.rule, "unknown", why) if v.rule in UNJUDGEABLE_WHEN_TRUNCATED else v for v in verdicts]
    return verdicts


def scenario_rules(scenario: Scenario, rules: tuple[str, ...]) -> tuple[str, ...]:
    """The rules one scenario is judged by. With the default selection (every trace rule): its
    ``expect.rules`` when a list (which may name I1), else every trace rule, plus I1 when its executor runs
    real containers (their Works may change on a re-run); with a chosen selection, that selection, narrowed
    to ``expect.rules`` when a list."""
    wanted = scenario.spec.expect.rules
    default = rules == TRACE_RULES
    if wanted == "all":
        real = scenario.spec.executor.type != "modelled"
        return (*rules, *ON_REQUEST) if default and real else rules
    return tuple(r for r in JUDGEABLE if r in wanted and (default or r in rules))


def heal_from_t(trace: Trace) -> float:
    """Where the heal period starts: after the last fault and the last object created (a new object is a
    change to converge from, like a fault)."""
    return max((float(e["t"]) for e in trace.events if e["event"] in ("fault_injected", "object_created")),
               default=0.0)


def run_and_judge(scenario: Scenario, promise: Promise, seed: int, rules: tuple[str, ...], source: str = "",
                  engine: type[Simulation] = Simulation, keep_trace: bool = False) -> RunVerdicts:
    """Simulate the scenario plus a fault-free heal period, then judge the trace."""
    bound = heal_bound_s(scenario, promise)
    simulation = engine(scenario, seed=seed, promise=promise)
    trace = simulation.run(heal_s=bound)
    verdicts = judge(trace, scenario_rules(scenario, rules), pipelines_of(promise, simulation.promise_versions),
                     (heal_from_t(trace), bound), scenario.spec.expect.assertions)
    return RunVerdicts(scenario.name, source, seed, verdicts, trace if keep_trace else None)


def crashed_run(scenario: Scenario, source: str, seed: int, error: HarnessError) -> RunVerdicts:
    """A run that raised inside kratix-sim: one failing HARNESS verdict carrying the error, no rule judged."""
    return RunVerdicts(scenario.name, source, seed, [Verdict(HARNESS, "fail", str(error))])


def judge_trace_file(path: Path, rules: tuple[str, ...], promise: Promise | None = None,
                     limits: Limits | None = None) -> RunVerdicts:
    trace = Trace.read(path, limits)
    if trace.header.get("source") != "cluster-import" and (not trace.events
                                                           or trace.events[-1]["event"] != "simulation_ended"):
        end = trace.events[-1]["t"] if trace.events else 0
        print(f"kratix-sim: warning: {path} does not end with simulation_ended: the trace was cut short; it is "
              f"judged as observed up to t={end}", file=sys.stderr)
    pipelines = pipelines_of(promise) if promise is not None else None
    seed = trace.header.get("seed")
    return RunVerdicts(str(trace.header.get("scenario") or path.name), str(path),
                       seed if isinstance(seed, int) else None, judge(trace, rules, pipelines), from_trace=True,
                       evidence=Evidence.of(trace.header).gaps)
