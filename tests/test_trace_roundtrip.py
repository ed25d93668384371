"""Round trip: simulate a scenario, ``trace export`` it as kubectl YAML (the cluster as it is at time ``at``),
``trace import`` it back, and judge both. The rules the export can judge keep their verdicts (``CASES``: W1-W3,
W5, J1, J3, D1-D4 where exercised); every other rule turns unknown, naming what is missing, never into a
different pass or fail:

- always: W6, W9, W10, W12, C1 (label history), W7 (when specs changed), W8 (condition history), W11, W13,
  K2, K3 (controller restarts and reconciles), K1, J2 (sub-second timing, kubelet restart history), W14, D5, D6
  (deleted Jobs and objects, finalizer history), W15, W16 (Works and status merges are not imported);
- configure-halts-on-failure and manual-reconciliation-mid-flight: W4 (and J4 for the suspended Job), as the
  run after the failure (the suspension) was started by the manual-reconciliation label, which the cluster
  has removed again, so the new pipeline-0 Job has no trigger in the evidence;
- a rule the scenario does not exercise (no delete Job, no failure...): "not exercised" is no pass when
  deleted objects leave no record.
Deliberately wrong engines (mutants) show the same for failures: a violation the export shows stays a fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conformance.explore_command import engines
from conformance.rules import TRACE_RULES
from conformance.runner import judge, pipelines_of
from conformance.verdict import Verdict
from sim.cli import main
from sim.scenario_loader import load_scenario
from sim.trace import Trace

SCENARIOS = Path(__file__).parent.parent / "scenarios"
CASES = {  # scenario: (export time in trace seconds, None = the end; rules whose verdict the import keeps)
    # before the resource's deletion at 104400 s removes everything
    "quickstart": (100000.0, {"W1", "W2", "W3", "W5", "J1", "J3"}),
    "configure-halts-on-failure": (None, {"W1", "W2", "W3", "W5", "J1", "J3"}),
    # stuck: the delete Job failed at 694 s
    "delete-stuck-until-manual-reconciliation": (700.0, {"W2", "W3", "W5", "J1", "J3", "D1", "D2", "D3", "D4"}),
    "manual-reconciliation-mid-flight": (None, {"W1", "W2", "W3", "W5"}),
}


def round_trip(tmp_path: Path, scenario_name: str, at: float | None,
               engine: str = "reference") -> tuple[dict[str, Verdict], dict[str, Verdict]]:
    """Verdicts on the simulated trace (up to ``at``) and on its export imported back."""
    path = SCENARIOS / f"{scenario_name}.yaml"
    scenario, promise = load_scenario(path)
    trace = engines()[engine](scenario, seed=scenario.spec.seed, promise=promise).run()
    trace_path, export = tmp_path / "sim.jsonl", tmp_path / "export"
    trace.write(trace_path)
    assert main(["trace", "export", str(trace_path), "--out", str(export),
                 *(["--at", str(at)] if at is not None else [])]) == 0
    promise_file = SCENARIOS / yaml.safe_load(path.read_text())["spec"]["promise"]
    imported = tmp_path / "imported.jsonl"
    jobs = export / "jobs-pods.yaml"
    assert main(["trace", "import", "--jobs", str(jobs), "--pods", str(jobs), "--events", str(export / "events.yaml"),
                 "--objects", str(export / "objects.yaml"), "--promise", str(promise_file),
                 "--out", str(imported)]) == 0
    seen = Trace(trace.header, [e for e in trace.events if at is None or float(e["t"]) <= at])
    pipelines = pipelines_of(promise)
    original = {v.rule: v for v in judge(seen, TRACE_RULES, pipelines)}
    back = {v.rule: v for v in judge(Trace.read(imported), TRACE_RULES, pipelines)}
    return original, back


@pytest.mark.parametrize("scenario_name", sorted(CASES))
def test_round_trip_keeps_verdicts(tmp_path: Path, scenario_name: str) -> None:
    at, kept = CASES[scenario_name]
    original, back = round_trip(tmp_path, scenario_name, at)
    assert {rule for rule in TRACE_RULES if original[rule].result == back[rule].result} == kept
    for rule in set(TRACE_RULES) - kept:
        assert back[rule].result == "unknown", (rule, back[rule])
        message = back[rule].message
        assert ("the trace lacks the evidence" in message or "object label history" in message
                or ("not exercised" in message and "deleted Jobs, pods and objects leave no record" in message))


@pytest.mark.parametrize(("scenario_name", "mutant", "failing"), [
    ("configure-halts-on-failure", "next-pipeline-after-failure", {"W1", "W4"}),
    ("configure-halts-on-failure", "onfailure-limit-off-by-one", {"J1"}),
    ("quickstart", "pipelines-in-parallel", {"W1", "W3"}),
    ("manual-reconciliation-mid-flight", "suspended-job-keeps-running", {"W2", "J4"}),
])
def test_round_trip_keeps_failures(tmp_path: Path, scenario_name: str, mutant: str, failing: set[str]) -> None:
    original, back = round_trip(tmp_path, scenario_name, CASES[scenario_name][0], engine=mutant)
    assert {r for r, v in original.items() if v.result == "fail"} >= failing
    assert {r for r, v in back.items() if v.result == "fail"} == failing


def test_export_is_kubectl_shaped_and_deterministic(tmp_path: Path) -> None:
    scenario, promise = load_scenario(SCENARIOS / "configure-halts-on-failure.yaml")
    trace_path = tmp_path / "sim.jsonl"
    engines()["reference"](scenario, seed=scenario.spec.seed, promise=promise).run().write(trace_path)
    for out in ("a", "b"):
        assert main(["trace", "export", str(trace_path), "--out", str(tmp_path / out), "--kind", "App"]) == 0
    for name in ("jobs-pods.yaml", "events.yaml", "objects.yaml"):
        text = (tmp_path / "a" / name).read_text()
        assert text == (tmp_path / "b" / name).read_text() and "&id" not in text  # kubectl writes no anchors
    listed = yaml.safe_load((tmp_path / "a" / "jobs-pods.yaml").read_text())
    assert listed["kind"] == "List"
    job = next(item for item in listed["items"] if item["kind"] == "Job")
    assert job["metadata"]["labels"]["kratix.io/workflow-type"] == "resource"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "App"
    events = yaml.safe_load((tmp_path / "a" / "events.yaml").read_text())["items"]
    assert [(e["type"], e["reason"], e["involvedObject"]["name"]) for e in events] == [
        ("Warning", "ConfigureWorkflowFailed", "shop")]
