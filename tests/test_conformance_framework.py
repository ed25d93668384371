"""The conformance framework: verdict composition, crash safety, liveness, and the check/rules/explore CLIs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from checker_traces import TraceBuilder

from conformance.checkers import CHECKERS, run_checkers
from conformance.context import CheckContext
from conformance.liveness import check_liveness
from conformance.rules import RULES, TRACE_RULES, select
from conformance.verdict import Verdict, combine, worst
from sim.scenario_loader import load_scenario
from sim.simulation import Simulation

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=cwd, check=False)


def test_fail_beats_unknown_beats_pass() -> None:
    """Composition: fail > unknown > pass; nothing judged is pass."""
    assert worst(["pass", "unknown", "pass"]) == "unknown"
    assert worst(["unknown", "fail", "pass"]) == "fail"
    assert worst([]) == "pass"
    verdicts = [Verdict("W1", "pass"), Verdict("W1", "unknown", "u"), Verdict("W1", "fail", "f")]
    assert combine("W1", verdicts).message == "f"


def test_a_checker_that_raises_is_unknown_never_pass() -> None:
    """A crashing checker counts as unknown, with the error in its message."""

    def broken(ctx: CheckContext) -> Verdict:
        raise KeyError("boom")

    CHECKERS["TEST-BROKEN"] = broken
    try:
        (verdict,) = run_checkers(TraceBuilder().context(), ["TEST-BROKEN"])
    finally:
        del CHECKERS["TEST-BROKEN"]
    assert verdict.result == "unknown"
    assert "KeyError" in verdict.message


def test_a_rule_without_checker_is_unknown() -> None:
    (verdict,) = run_checkers(TraceBuilder().context(), ["NO-SUCH-RULE"])
    assert verdict.result == "unknown"


def test_select_rules_by_id_and_family() -> None:
    assert select("W1,J") == ("W1", "J1", "J2", "J3", "J4")
    assert select(None) == TRACE_RULES
    with pytest.raises(ValueError, match="unknown rule"):
        select("W99")


def test_catalogue_has_every_rule_of_the_reference() -> None:
    """The catalogue lists W1-W16, J1-J4, D1-D6, C1, K1-K3, V1-V10, I1-I6, P1-P6."""
    expected = ([f"W{i}" for i in range(1, 17)] + [f"J{i}" for i in range(1, 5)] + [f"D{i}" for i in range(1, 7)]
                + ["C1", "K1", "K2", "K3"] + [f"V{i}" for i in range(1, 11)] + [f"I{i}" for i in range(1, 7)]
                + [f"P{i}" for i in range(1, 7)])
    assert [r.id for r in RULES] == expected


def _converging_trace(end_t: float, finish: bool) -> TraceBuilder:
    b = TraceBuilder()
    b.at(0).event("controller_started")
    b.at(0).event("object_created", object="default/r", workflow="resource")
    b.at(0).event("job_created", object="default/r", job="j1", pipeline="p", pipeline_index=0, action="configure")
    b.at(10).event("fault_injected", reason="controller-restart")
    if finish:
        b.at(30).event("condition_set", object="default/r", type="ConfigureWorkflowCompleted", status="True",
                       reason="PipelinesExecutedSuccessfully")
        b.at(31).event("job_completed", object="default/r", job="j1")
    b.at(end_t).event("reconcile", object="default/r")
    return b


def test_liveness_passes_when_every_object_converges_in_the_heal_window() -> None:
    """LIVENESS: a Job that completes after the last fault, within the bound, converges."""
    ctx = _converging_trace(200, finish=True).context()
    assert check_liveness(ctx, heal_from_t=10, bound_s=100).result == "pass"


def test_liveness_fails_when_an_object_never_settles() -> None:
    """LIVENESS: a Job still running at the end of the heal window is a liveness failure."""
    verdict = check_liveness(_converging_trace(200, finish=False).context(), heal_from_t=10, bound_s=100)
    assert verdict.result == "fail"
    assert verdict.category == "liveness"
    assert "default/r" in verdict.message


def test_liveness_is_unknown_when_the_trace_ends_before_the_heal_window() -> None:
    verdict = check_liveness(_converging_trace(50, finish=True).context(), heal_from_t=10, bound_s=100)
    assert verdict.result == "unknown"


def test_check_judges_a_trace_file_and_catches_a_doctored_one(tmp_path: Path) -> None:
    """check --trace: the reference's trace passes; a second Job created while the first runs fails W3."""
    scenario, promise = load_scenario(QUICKSTART)
    trace = Simulation(scenario, promise=promise).run()
    good = tmp_path / "good.jsonl"
    trace.write(good)
    result = cli("check", "--trace", str(good), "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["summary"]["fail"] == 0
    first = next(e for e in trace.events if e["event"] == "job_created")
    clone = dict(first, job="intruder", seq=first["seq"] + 0)
    events = []
    for event in trace.events:
        events.append(event)
        if event is first:
            events.append({**clone, "seq": event["seq"] * 1000 + 1})
    # renumber so seq stays strictly increasing
    for n, event in enumerate(events, start=1):
        event["seq"] = n
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(e) + "\n" for e in [trace.header, *events]))
    result = cli("check", "--trace", str(bad), "--rules", "W3", "--format", "json")
    assert result.returncode == 1
    (verdict,) = json.loads(result.stdout)["verdicts"]
    assert verdict["rule"] == "W3" and verdict["result"] == "fail"
    assert verdict["event"]["job"] == "intruder"


def test_check_text_output_names_rule_event_and_reproduce_command(tmp_path: Path) -> None:
    """A failing expectation prints the rule, the message and a one-line reproduce command."""
    scenario_file = tmp_path / "expects-wrong.yaml"
    text = QUICKSTART.read_text().replace("promise: promises/database.yaml",
                                          f"promise: {ROOT / 'scenarios' / 'promises' / 'database.yaml'}")
    text += "  expect:\n    assertions:\n      - {by: 1m, target: default/orders-db, condition: " \
            "ConfigureWorkflowCompleted, status: \"True\"}\n"
    scenario_file.write_text(text)
    result = cli("check", str(scenario_file), "--rules", "W1")
    assert result.returncode == 1, result.stdout
    assert "FAIL EXPECT" in result.stdout
    assert f"reproduce: kratix-sim check {scenario_file} --seed 7 --seeds 1" in result.stdout


@pytest.mark.parametrize("args", [["--rules", "W99", "scenarios/quickstart.yaml"], ["no-such-file.yaml"],
                                  ["--seeds", "0", "scenarios/quickstart.yaml"], []])
def test_check_bad_input_exits_2_with_one_line(args: list[str]) -> None:
    result = cli("check", *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("rules", "message"), [
    ("[W1, W99]", "spec.expect.rules[1]: 'W99' is not a rule ID"),
    ("[W1, V3]", "spec.expect.rules[1]: 'V3' is a rule of another kind"),
])
def test_expected_rules_are_checked_against_the_catalogue(tmp_path: Path, rules: str, message: str) -> None:
    """A typo in spec.expect.rules would silently judge fewer rules: bad input with the file, line and key."""
    scenario_file = tmp_path / "typo.yaml"
    text = QUICKSTART.read_text().replace("promise: promises/database.yaml",
                                          f"promise: {ROOT / 'scenarios' / 'promises' / 'database.yaml'}")
    scenario_file.write_text(text + f"  expect:\n    rules: {rules}\n")
    result = cli("check", str(scenario_file))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stdout
    assert len(lines) == 1 and f"{scenario_file}:" in lines[0] and message in lines[0], lines


def test_i1_is_judged_when_asked_for() -> None:
    """I1 (an idempotency rule a checker judges on a trace) can be chosen with --rules; the default selection
    of a modelled scenario leaves it out."""
    asked = cli("check", "scenarios/quickstart.yaml", "--rules", "W1,I1", "--format", "json")
    assert asked.returncode == 0, asked.stderr
    assert {v["rule"] for v in json.loads(asked.stdout)["verdicts"]} >= {"W1", "I1"}
    default = cli("check", "scenarios/quickstart.yaml", "--format", "json")
    assert "I1" not in {v["rule"] for v in json.loads(default.stdout)["verdicts"]}


def test_check_picks_scenarios_by_kind_in_a_folder() -> None:
    """A folder's Promises are not mistaken for scenarios."""
    result = cli("check", "scenarios/promises")
    assert result.returncode == 2
    assert "no scenario files" in result.stderr


def test_liveness_accepts_a_resource_blocked_by_its_halted_promise() -> None:
    """LIVENESS/W13: a resource waiting for a Promise whose workflow halted has settled; it is not stuck."""
    b = TraceBuilder()
    b.at(0).event("controller_started")
    b.at(0).event("object_created", object="promise/p", workflow="promise")
    b.at(0).event("object_created", object="default/r", workflow="resource")
    b.at(0).event("job_created", object="promise/p", job="pj", pipeline="p", pipeline_index=0, action="configure")
    b.at(20).event("job_failed", object="promise/p", job="pj")
    b.at(20).event("condition_set", object="promise/p", type="ConfigureWorkflowCompleted", status="False",
                   reason="ConfigureWorkflowFailed")
    b.at(500).event("simulation_ended")
    assert check_liveness(b.context(), heal_from_t=0, bound_s=100).result == "pass"
    running = TraceBuilder()
    running.at(0).event("object_created", object="promise/p", workflow="promise")
    running.at(0).event("object_created", object="default/r", workflow="resource")
    running.at(0).event("job_created", object="promise/p", job="pj", pipeline="p", pipeline_index=0)
    running.at(500).event("simulation_ended")
    assert check_liveness(running.context(), heal_from_t=0, bound_s=100).result == "fail"


def test_rules_command_shows_every_rule_covered() -> None:
    """kratix-sim rules: no trace-checkable rule (nor any other) without a checker, validator or check."""
    result = cli("rules", "--format", "json")
    assert result.returncode == 0, result.stdout
    data = json.loads(result.stdout)
    assert data["uncovered"] == []
    by_id = {r["id"]: r for r in data["rules"]}
    assert all(any(c.startswith("checker ") for c in by_id[r]["covered_by"]) for r in TRACE_RULES)
    assert by_id["V7"]["covered_by"] == ["validator sim.validation.check_single_delete_pipeline"]


def test_explore_finds_nothing_against_the_reference_ci_profile(tmp_path: Path) -> None:
    """explore, CI profile: 200 generated scenarios, every checker and liveness, and the reference passes all.
    (The full run, 2000 examples, is a README command with its last result recorded.)"""
    result = cli("explore", "--examples", "200", "--seed", "0", "--out", str(tmp_path), "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert (data["found"], data["examples_tried"]) == (False, 200)
    assert list(tmp_path.iterdir()) == []


def test_the_scenario_library_passes_check_with_five_seeds() -> None:
    """Issue 5 acceptance: `kratix-sim check scenarios/ --seeds 5` passes (nothing fails)."""
    result = cli("check", "scenarios/", "--seeds", "5", "--format", "json")
    assert result.returncode == 0, result.stdout[-3000:]
    summary = json.loads(result.stdout)["summary"]
    assert summary["fail"] == 0 and summary["runs"] >= 5 * 20


def test_the_scenario_schema_accepts_the_library_and_rejects_unknown_keys() -> None:
    """kratix-sim schema scenario: a JSON Schema editors can use; every library scenario validates."""
    import jsonschema
    import yaml

    from sim.scenario_loader import scenario_documents

    result = cli("schema", "scenario")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    validator = jsonschema.Draft202012Validator(schema)
    files = [p for p in sorted((ROOT / "scenarios").glob("*.yaml")) if scenario_documents(p)]
    assert len(files) >= 16
    for path in files:
        validator.validate(yaml.safe_load(path.read_text()))
    bad = yaml.safe_load(QUICKSTART.read_text())
    bad["spec"]["surprise"] = 1
    assert not validator.is_valid(bad)
    for key, value in (("profile", "kratix-2099"), ("defaultBackoffLimit", 2**31)):  # as `run` refuses them
        wrong = yaml.safe_load(QUICKSTART.read_text())
        wrong["spec"]["kratix"][key] = value
        assert not validator.is_valid(wrong), key


def test_sim_run_is_the_python_api() -> None:
    """sim.run(scenario, seed=...) -> Trace, the same bytes as the Simulation class gives."""
    import sim

    scenario, promise = load_scenario(QUICKSTART)
    assert sim.run(scenario, seed=3).to_jsonl() == Simulation(scenario, seed=3, promise=promise).run().to_jsonl()


@pytest.mark.parametrize(("before", "after"), [(("one", "two"), ("one",)), (("one",), ("one", "two"))])
def test_w8_w11_judge_each_run_by_the_pipelines_of_its_promise_version(before: tuple[str, ...],
                                                                      after: tuple[str, ...]) -> None:
    """W8/W11: after an update-promise removed the last configure pipeline, the remaining one is the last of
    the runs that follow (this used to fail W8); after one added a pipeline, the runs are judged, not unknown."""
    from engine_helpers import promise, scenario

    from conformance.runner import run_and_judge
    from sim.model.promise import Promise

    doc = promise(configure=before)
    patch = {"workflows": promise(configure=after)["spec"]["workflows"]}
    spec = scenario(doc, faults=[{"kind": "update-promise", "at": 3600, "target": "promise", "spec": patch},
                                 {"kind": "controller-restart", "at": 3610, "downtime": 5}], duration=7200)
    run = run_and_judge(spec, Promise.model_validate(doc), 1, select("W8,W11"), keep_trace=True)
    verdicts = {v.rule: v for v in run.verdicts}
    assert verdicts["W8"].result == "pass", verdicts["W8"].message
    assert verdicts["W11"].result in ("pass", "unknown"), verdicts["W11"].message
    assert run.trace is not None
    assert {e["pipeline"] for e in run.trace.events if e["event"] == "job_created" and e["t"] >= 3600} == set(after)
