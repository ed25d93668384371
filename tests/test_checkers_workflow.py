"""The configure-workflow checkers W1-W16: a passing and a failing hand-written trace each (the failing one
names the violating event's seq), the unknown cases, and the reference engine passing on every scenario."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from checker_traces import TraceBuilder

from conformance.checkers import registered, run_checkers
from conformance.context import CheckContext
from conformance.runner import pipelines_of
from conformance.verdict import Verdict
from sim.errors import InputError
from sim.scenario_loader import load_scenario
from sim.simulation import Simulation

Event = dict[str, Any]
P = "promise/demo"
R = "default/r1"
R2 = "default/r2"
MANUAL = "kratix.io/manual-reconciliation"
RUN_FROM_START = "internal.workflows.kratix.io/run-from-start"
SUSPENDED = "kratix.io/workflow-suspended"
COMPLETED = "ConfigureWorkflowCompleted"
PIPES = {("resource", "configure"): ["a", "b"], ("resource", "delete"): ["d"], ("promise", "configure"): [],
         ("promise", "delete"): []}
W_RULES = tuple(f"W{i}" for i in range(1, 17))
SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))


# -- building traces ------------------------------------------------------------------------------------
def check(rule: str, ctx: CheckContext) -> Verdict:
    return registered()[rule](ctx)


def assert_fails(verdict: Verdict, event: Event, category: str = "safety") -> None:
    assert verdict.result == "fail", verdict
    assert verdict.event is not None and verdict.event["seq"] == event["seq"], (verdict.message, verdict.event)
    assert verdict.category == category


def assert_passes(verdict: Verdict, exercised: bool = True) -> None:
    assert verdict.result == "pass", verdict
    assert ("not exercised" not in verdict.message) == exercised, verdict.message


def begin(b: TraceBuilder, promise_hash: str = "ph1", resources: Iterable[str] = (R,)) -> None:
    """Controller up, a Promise without configure pipelines reconciled, resources created at t=0."""
    b.at(0).event("controller_started")
    b.event("object_created", object=P, workflow="promise", hash=promise_hash)
    b.event("reconcile", object=P, workflow="promise", reason="done")
    for obj in resources:
        b.event("object_created", object=obj, workflow="resource", hash=f"{obj}-s1")


def in_progress(b: TraceBuilder, obj: str = R) -> Event:
    return b.event("condition_set", object=obj, type=COMPLETED, status="False", reason="PipelinesInProgress")


def job_created(b: TraceBuilder, job: str, pipeline: str, index: int, obj: str = R, hash_: str = "h1",
                action: str = "configure") -> Event:
    workflow = "promise" if obj.startswith("promise/") else "resource"
    return b.event("job_created", object=obj, workflow=workflow, action=action, pipeline=pipeline,
                   pipeline_index=index, job=job, hash=hash_, backoff_limit=6, restart_policy="OnFailure")


def job_ended(b: TraceBuilder, job: str, pipeline: str, index: int, obj: str = R, hash_: str = "h1",
              name: str = "job_completed", action: str = "configure") -> Event:
    return b.event(name, object=obj, workflow="resource", action=action, pipeline=pipeline, pipeline_index=index,
                   job=job, hash=hash_, status="True")


def step(b: TraceBuilder, job: str, container: str, code: int = 0, obj: str = R, attempt: int = 1,
         inside: Sequence[tuple[str, dict[str, Any]]] = ()) -> Event:
    """One container execution taking 1 s; ``inside`` events are emitted just before it exits."""
    pod = f"{job}-pod"
    b.event("container_started", object=obj, job=job, pod=pod, container=container, attempt=attempt)
    b.after(1)
    for name, fields in inside:
        b.event(name, **fields)
    return b.event("container_exited", object=obj, job=job, pod=pod, container=container, attempt=attempt,
                   exit_code=code)


def pod(b: TraceBuilder, job: str, user: Sequence[str] = ("step",), obj: str = R, action: str = "configure",
        work: Sequence[tuple[str, dict[str, Any]]] = (), status: Sequence[tuple[str, dict[str, Any]]] = ()) -> None:
    """A pod that runs reader, the user containers, work-writer (configure) and status-writer, all exiting 0."""
    b.event("pod_created", object=obj, job=job, pod=f"{job}-pod", attempt=1)
    step(b, job, "reader", obj=obj)
    for name in user:
        step(b, job, name, obj=obj)
    if action == "configure":
        step(b, job, "work-writer", obj=obj, inside=work)
    step(b, job, "status-writer", obj=obj, inside=status)


def completed_true(obj: str = R) -> tuple[str, dict[str, Any]]:
    return ("condition_set", {"object": obj, "type": COMPLETED, "status": "True",
                              "reason": "PipelinesExecutedSuccessfully"})


def full_run(b: TraceBuilder, names: Sequence[str], suffix: str, obj: str = R, hash_: str = "h1") -> list[Event]:
    """A whole configure run: PipelinesInProgress, then each pipeline's Job, pod and completion."""
    created = []
    for index, name in enumerate(names):
        if index == 0:
            in_progress(b, obj)
        created.append(job_created(b, f"{name}-{suffix}", name, index, obj, hash_))
        last = index == len(names) - 1
        pod(b, f"{name}-{suffix}", obj=obj, status=[completed_true(obj)] if last else [])
        b.after(1)
        job_ended(b, f"{name}-{suffix}", name, index, obj, hash_)
    b.event("reconcile", object=obj, workflow="resource", reason="done")
    return created


def scenario_run(path: Path, seed: int) -> tuple[CheckContext, str]:
    try:
        scenario, promise = load_scenario(path)
    except InputError as exc:  # a scenario another developer is still writing
        pytest.skip(f"{path.name} does not load: {exc}")
    trace = Simulation(scenario, seed=seed, promise=promise).run()
    return CheckContext(trace.header, trace.events, pipelines_of(promise)), scenario.name


# -- the reference passes -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_reference_engine_passes_every_workflow_checker(path: Path) -> None:
    for seed in (1, 2, 3):
        ctx, name = scenario_run(path, seed)
        failures = [v for v in run_checkers(ctx, W_RULES) if v.result == "fail" or "raised" in v.message]
        assert not failures, f"{name} seed {seed}: " + "; ".join(f"{v.rule}: {v.message}" for v in failures)


def test_every_workflow_rule_has_a_checker() -> None:
    assert set(W_RULES) <= set(registered())


def test_checkers_do_not_crash_on_a_sparse_foreign_trace() -> None:
    b = TraceBuilder(profile=None, with_config=False)
    b.at(0).event("job_created", object="x", job="j1")
    b.at(1).event("job_completed", job="j1")
    b.at(2).event("container_started", pod="ghost")
    b.at(3).event("work_written", object="x")
    b.at(4).event("status_merged", object="x")
    b.at(5).event("label_set", object="x", label=MANUAL)
    b.at(6).event("condition_set", object="x", type=COMPLETED, status="True")
    verdicts = run_checkers(b.context(), W_RULES)
    assert not [v for v in verdicts if "raised" in v.message], [v.message for v in verdicts]


# -- W1 -------------------------------------------------------------------------------------------------
def test_w1_pipelines_in_order_pass() -> None:
    b = TraceBuilder()
    begin(b)
    full_run(b, ["a", "b"], "1")
    assert_passes(check("W1", b.context(PIPES)))


def test_w1_next_pipeline_while_previous_runs_fails() -> None:
    b = TraceBuilder()
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    bad = b.at(5).event("job_created", object=R, workflow="resource", action="configure", pipeline="b",
                        pipeline_index=1, job="b-1", hash="h1")
    assert_fails(check("W1", b.context(PIPES)), bad)


def test_w1_next_pipeline_of_another_hash_fails() -> None:
    b = TraceBuilder()
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0, hash_="h1")
    b.at(10)
    job_ended(b, "a-1", "a", 0, hash_="h1")
    bad = job_created(b, "b-1", "b", 1, hash_="h2")
    assert_fails(check("W1", b.context(PIPES)), bad)


def test_w1_same_pipeline_again_only_after_a_suspend() -> None:
    b = TraceBuilder()
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    b.at(10)
    job_ended(b, "a-1", "a", 0)
    job_created(b, "b-1", "b", 1)
    b.at(20).event("label_set", object=R, label=SUSPENDED, value="true")
    job_ended(b, "b-1", "b", 1)
    b.at(80).event("label_removed", object=R, label=SUSPENDED)
    job_created(b, "b-2", "b", 1)
    b.at(90)
    job_ended(b, "b-2", "b", 1)
    bad = job_created(b, "b-3", "b", 1)
    assert_fails(check("W1", b.context(PIPES)), bad)


def test_w1_unknown_when_the_trace_starts_mid_run() -> None:
    b = TraceBuilder()
    b.at(0).event("controller_started")
    job_created(b, "b-1", "b", 1)
    assert check("W1", b.context(PIPES)).result == "unknown"


# -- W2 -------------------------------------------------------------------------------------------------
def test_w2_steps_in_order_with_a_restart_in_place_pass() -> None:
    b = TraceBuilder()
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    b.event("pod_created", object=R, job="a-1", pod="a-1-pod", attempt=1)
    step(b, "a-1", "reader")
    step(b, "a-1", "extract")
    step(b, "a-1", "transform", code=1)
    step(b, "a-1", "transform", attempt=2)
    step(b, "a-1", "work-writer")
    step(b, "a-1", "status-writer")
    b.after(1)
    job_ended(b, "a-1", "a", 0)
    assert_passes(check("W2", b.context(PIPES)))


def test_w2_container_starting_while_another_runs_fails() -> None:
    b = TraceBuilder()
    begin(b)
    job_created(b, "a-1", "a", 0)
    b.event("pod_created", object=R, job="a-1", pod="a-1-pod", attempt=1)
    b.event("container_started", object=R, job="a-1", pod="a-1-pod", container="reader", attempt=1)
    bad = b.event("container_started", object=R, job="a-1", pod="a-1-pod", container="extract", attempt=1)
    assert_fails(check("W2", b.context(PIPES)), bad)


def test_w2_next_step_after_a_failed_one_fails() -> None:
    b = TraceBuilder()
    begin(b)
    job_created(b, "a-1", "a", 0)
    b.event("pod_created", object=R, job="a-1", pod="a-1-pod", attempt=1)
    step(b, "a-1", "reader")
    step(b, "a-1", "extract", code=2)
    bad = b.event("container_started", object=R, job="a-1", pod="a-1-pod", container="transform", attempt=1)
    assert_fails(check("W2", b.context(PIPES)), bad)


def test_w2_user_containers_in_another_order_in_a_later_pod_fails() -> None:
    b = TraceBuilder()
    begin(b)
    job_created(b, "a-1", "a", 0)
    pod(b, "a-1", user=("extract", "load"))
    b.after(1)
    job_ended(b, "a-1", "a", 0)
    job_created(b, "a-2", "a", 0)
    b.event("pod_created", object=R, job="a-2", pod="a-2-pod", attempt=1)
    step(b, "a-2", "reader")
    bad = b.event("container_started", object=R, job="a-2", pod="a-2-pod", container="load", attempt=1)
    assert_fails(check("W2", b.context(PIPES)), bad)


def test_w2_delete_pod_with_a_status_writer_fails_in_kratix_2025() -> None:
    def trace(profile: str) -> tuple[CheckContext, Event]:
        b = TraceBuilder(profile=profile)
        begin(b)
        job_created(b, "d-1", "d", 0, action="delete")
        b.event("pod_created", object=R, job="d-1", pod="d-1-pod", attempt=1)
        step(b, "d-1", "reader")
        step(b, "d-1", "drop")
        bad = b.event("container_started", object=R, job="d-1", pod="d-1-pod", container="status-writer", attempt=1)
        return b.context(PIPES), bad

    ctx, bad = trace("kratix-2025")
    assert_fails(check("W2", ctx), bad)
    assert_passes(check("W2", trace("kratix-2026.08")[0]))


def test_w2_completed_job_that_skipped_the_status_writer_fails() -> None:
    b = TraceBuilder()
    begin(b)
    job_created(b, "a-1", "a", 0)
    b.event("pod_created", object=R, job="a-1", pod="a-1-pod", attempt=1)
    step(b, "a-1", "reader")
    step(b, "a-1", "step")
    step(b, "a-1", "work-writer")
    bad = job_ended(b, "a-1", "a", 0)
    assert_fails(check("W2", b.context(PIPES)), bad)


def test_w2_unknown_without_a_known_profile() -> None:
    b = TraceBuilder(profile="kratix-1999")
    begin(b)
    assert check("W2", b.context()).result == "unknown"


# -- W3 -------------------------------------------------------------------------------------------------
def test_w3_jobs_of_different_objects_in_parallel_pass() -> None:
    b = TraceBuilder()
    begin(b, resources=(R, R2))
    job_created(b, "a-1", "a", 0, obj=R)
    job_created(b, "a-2", "a", 0, obj=R2)
    assert_passes(check("W3", b.context(PIPES)))


def test_w3_two_jobs_of_one_object_fail() -> None:
    b = TraceBuilder()
    begin(b)
    job_created(b, "a-1", "a", 0)
    bad = b.at(3).event("job_created", object=R, workflow="resource", action="configure", pipeline="a",
                        pipeline_index=0, job="a-2", hash="h2")
    assert_fails(check("W3", b.context(PIPES)), bad)


# -- W4 -------------------------------------------------------------------------------------------------
def failed_run(b: TraceBuilder) -> None:
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    b.at(100)
    job_ended(b, "a-1", "a", 0, name="job_failed")


def test_w4_new_run_after_a_manual_label_passes() -> None:
    b = TraceBuilder()
    begin(b)
    failed_run(b)
    b.at(500).event("label_set", object=R, label=MANUAL, value="true")
    b.event("label_removed", object=R, label=MANUAL)
    job_created(b, "a-2", "a", 0)
    assert_passes(check("W4", b.context(PIPES)))


def test_w4_new_job_without_trigger_fails() -> None:
    b = TraceBuilder()
    begin(b)
    failed_run(b)
    bad = b.at(500).event("job_created", object=R, workflow="resource", action="configure", pipeline="a",
                          pipeline_index=0, job="a-2", hash="h1")
    assert_fails(check("W4", b.context(PIPES)), bad)


def test_w4_spec_change_during_the_failed_run_is_a_trigger() -> None:
    b = TraceBuilder()
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    b.at(50).event("spec_updated", object=R, hash="s2", generation=2)
    b.at(100)
    job_ended(b, "a-1", "a", 0, name="job_failed")
    job_created(b, "a-2", "a", 0, hash_="h2")
    assert_passes(check("W4", b.context(PIPES)))


# -- W5 -------------------------------------------------------------------------------------------------
def test_w5_manual_label_restarts_at_pipeline_zero_pass() -> None:
    b = TraceBuilder()
    begin(b)
    full_run(b, ["a", "b"], "1")
    b.at(1000).event("label_set", object=R, label=MANUAL, value="true")
    b.event("label_removed", object=R, label=MANUAL)
    in_progress(b)
    job_created(b, "a-2", "a", 0)
    assert_passes(check("W5", b.context(PIPES)))


def test_w5_run_after_a_trigger_not_at_pipeline_zero_fails() -> None:
    b = TraceBuilder()
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    b.at(10)
    job_ended(b, "a-1", "a", 0)
    b.event("label_set", object=R, label=RUN_FROM_START, value="true")
    bad = job_created(b, "b-1", "b", 1)
    assert_fails(check("W5", b.context(PIPES)), bad)


def test_w5_all_jobs_deleted_is_a_trigger() -> None:
    b = TraceBuilder()
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    b.at(10)
    job_ended(b, "a-1", "a", 0)
    b.at(20).event("job_deleted", object=R, pipeline="a", job="a-1", reason="external")
    bad = job_created(b, "b-1", "b", 1)
    assert_fails(check("W5", b.context(PIPES)), bad)


def test_w5_unknown_without_the_runs_pipeline_zero_job() -> None:
    b = TraceBuilder()
    b.at(0).event("controller_started")
    job_created(b, "b-1", "b", 1)
    assert check("W5", b.context(PIPES)).result == "unknown"


# -- W6 -------------------------------------------------------------------------------------------------
def manual_mid_flight(b: TraceBuilder) -> Event:
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    return b.at(300).event("label_set", object=R, label=MANUAL, value="true")


def test_w6_suspend_then_restart_and_remove_the_label_pass() -> None:
    b = TraceBuilder()
    manual_mid_flight(b)
    b.event("job_suspend_requested", object=R, job="a-1", pipeline="a")
    b.at(301)
    job_ended(b, "a-1", "a", 0, name="job_suspended")
    b.event("label_removed", object=R, label=MANUAL)
    job_created(b, "a-2", "a", 0)
    assert_passes(check("W6", b.context(PIPES)))


def test_w6_job_running_on_without_suspension_fails() -> None:
    b = TraceBuilder()
    manual_mid_flight(b)
    b.at(900)
    bad = job_ended(b, "a-1", "a", 0)
    assert_fails(check("W6", b.context(PIPES)), bad, category="liveness")


def test_w6_label_removed_while_the_job_runs_fails() -> None:
    b = TraceBuilder()
    manual_mid_flight(b)
    bad = b.event("label_removed", object=R, label=MANUAL)
    b.at(400)
    job_created(b, "a-2", "a", 0)
    assert_fails(check("W6", b.context(PIPES)), bad)


def test_w6_label_removed_for_a_later_pipeline_fails() -> None:
    b = TraceBuilder()
    begin(b)
    full_run(b, ["a"], "1")
    b.at(500).event("label_set", object=R, label=MANUAL, value="true")
    bad = b.event("label_removed", object=R, label=MANUAL)
    job_created(b, "b-1", "b", 1)
    assert_fails(check("W6", b.context(PIPES)), bad)


def test_w6_job_created_for_the_label_without_removing_it_fails() -> None:
    b = TraceBuilder()
    begin(b)
    full_run(b, ["a", "b"], "1")
    b.at(500).event("label_set", object=R, label=MANUAL, value="true")
    in_progress(b)
    bad = job_created(b, "a-2", "a", 0)
    assert_fails(check("W6", b.context(PIPES)), bad)


# -- W7 -------------------------------------------------------------------------------------------------
def spec_change_mid_flight(b: TraceBuilder) -> Event:
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0, hash_="h1")
    return b.at(120).event("spec_updated", object=R, hash=f"{R}-s2", generation=2)


def test_w7_running_job_waited_for_then_new_run_pass() -> None:
    b = TraceBuilder()
    spec_change_mid_flight(b)
    b.at(300)
    job_ended(b, "a-1", "a", 0, hash_="h1")
    job_created(b, "a-2", "a", 0, hash_="h2")
    assert_passes(check("W7", b.context(PIPES)))


def test_w7_suspension_without_manual_label_fails_in_kratix_2026() -> None:
    b = TraceBuilder()
    spec_change_mid_flight(b)
    bad = b.event("job_suspend_requested", object=R, job="a-1", pipeline="a")
    b.at(121)
    job_ended(b, "a-1", "a", 0, name="job_suspended")
    job_created(b, "a-2", "a", 0, hash_="h2")
    assert_fails(check("W7", b.context(PIPES)), bad)


def test_w7_old_runs_next_pipeline_after_the_change_fails() -> None:
    b = TraceBuilder()
    spec_change_mid_flight(b)
    b.at(300)
    job_ended(b, "a-1", "a", 0, hash_="h1")
    bad = job_created(b, "b-1", "b", 1, hash_="h1")
    assert_fails(check("W7", b.context(PIPES)), bad)


def test_w7_kratix_2025_suspends_and_must_not_run_on() -> None:
    b = TraceBuilder(profile="kratix-2025")
    spec_change_mid_flight(b)
    b.event("job_suspend_requested", object=R, job="a-1", pipeline="a")
    b.at(121)
    job_ended(b, "a-1", "a", 0, name="job_suspended")
    job_created(b, "a-2", "a", 0, hash_="h2")
    assert_passes(check("W7", b.context(PIPES)))

    b = TraceBuilder(profile="kratix-2025")
    spec_change_mid_flight(b)
    b.at(300)
    bad = job_ended(b, "a-1", "a", 0)
    job_created(b, "a-2", "a", 0, hash_="h2")
    assert_fails(check("W7", b.context(PIPES)), bad, category="liveness")


# -- W8 -------------------------------------------------------------------------------------------------
def test_w8_completed_by_the_last_status_writer_pass() -> None:
    b = TraceBuilder()
    begin(b)
    full_run(b, ["a", "b"], "1")
    assert_passes(check("W8", b.context(PIPES)))


def test_w8_completed_by_an_earlier_pipeline_fails() -> None:
    b = TraceBuilder()
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    b.event("pod_created", object=R, job="a-1", pod="a-1-pod", attempt=1)
    step(b, "a-1", "reader")
    step(b, "a-1", "step")
    step(b, "a-1", "work-writer")
    b.event("container_started", object=R, job="a-1", pod="a-1-pod", container="status-writer", attempt=1)
    bad = b.event("condition_set", object=R, type=COMPLETED, status="True", reason="PipelinesExecutedSuccessfully")
    b.event("container_exited", object=R, job="a-1", pod="a-1-pod", container="status-writer", attempt=1,
            exit_code=0)
    assert_fails(check("W8", b.context(PIPES)), bad)


def test_w8_job_created_without_pipelines_in_progress_fails() -> None:
    b = TraceBuilder()
    begin(b)
    full_run(b, ["a", "b"], "1")
    b.at(1000).event("label_set", object=R, label=MANUAL, value="true")
    b.event("label_removed", object=R, label=MANUAL)
    bad = job_created(b, "a-2", "a", 0)
    assert_fails(check("W8", b.context(PIPES)), bad)


def test_w8_last_successful_time_moves_with_completion_pass() -> None:
    """W8: lastSuccessfulConfigureWorkflowTime set in the instant the workflow completed."""
    b = TraceBuilder()
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    pod(b, "a-1")
    b.after(1)
    job_ended(b, "a-1", "a", 0)
    job_created(b, "b-1", "b", 1)
    success = ("status_updated", {"object": R, "fields": {"lastSuccessfulConfigureWorkflowTime": 0}})
    pod(b, "b-1", status=[completed_true(), success])
    assert_passes(check("W8", b.context(PIPES)))


def test_w8_last_successful_time_moving_after_a_failure_fails() -> None:
    """W8: lastSuccessfulConfigureWorkflowTime moves only on success."""
    b = TraceBuilder()
    begin(b)
    full_run(b, ["a", "b"], "1")
    b.after(500).event("condition_set", object=R, type=COMPLETED, status="False", reason="ConfigureWorkflowFailed")
    bad = b.event("status_updated", object=R, fields={"lastSuccessfulConfigureWorkflowTime": int(b.t)})
    assert_fails(check("W8", b.context(PIPES)), bad)


def test_w8_unknown_without_the_pipelines() -> None:
    b = TraceBuilder()
    begin(b)
    full_run(b, ["a", "b"], "1")
    assert check("W8", b.context()).result == "unknown"


# -- W9 -------------------------------------------------------------------------------------------------
INTERVAL = 600.0


def completed_at(b: TraceBuilder, t: float) -> Event:
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    return b.at(t).event("condition_set", object=R, type=COMPLETED, status="True",
                         reason="PipelinesExecutedSuccessfully")


def interval_run(b: TraceBuilder, t: float, suffix: str = "2") -> Event:
    label = b.at(t).event("label_set", object=R, label=MANUAL, value="true")
    b.event("label_removed", object=R, label=MANUAL)
    in_progress(b)
    job_created(b, f"a-{suffix}", "a", 0)
    return label


def test_w9_interval_run_after_the_interval_pass() -> None:
    b = TraceBuilder(config={"reconciliationInterval_s": INTERVAL})
    completed_at(b, 60.4)
    b.at(61)
    job_ended(b, "a-1", "a", 0)
    interval_run(b, 661.5)
    assert_passes(check("W9", b.context(PIPES)))


def test_w9_interval_label_before_the_interval_elapsed_fails() -> None:
    b = TraceBuilder(config={"reconciliationInterval_s": INTERVAL})
    completed_at(b, 60.4)
    bad = interval_run(b, 660)  # age 600 s: the strict test says not due
    assert_fails(check("W9", b.context(PIPES)), bad)


def test_w9_manual_reconcile_fault_is_not_judged_as_interval() -> None:
    b = TraceBuilder(config={"reconciliationInterval_s": INTERVAL})
    completed_at(b, 60)
    b.at(100).event("fault_injected", reason="manual-reconcile", object=R)
    interval_run(b, 100)
    assert_passes(check("W9", b.context(PIPES)))


def test_w9_no_interval_run_while_the_controller_is_up_fails() -> None:
    b = TraceBuilder(config={"reconciliationInterval_s": INTERVAL})
    start = completed_at(b, 60)
    b.at(2000).event("reconcile", object=R, workflow="resource", reason="done")
    verdict = check("W9", b.context(PIPES))
    assert_fails(verdict, start, category="liveness")


def test_w9_down_at_the_deadline_a_due_run_starts_at_the_restart() -> None:
    b = TraceBuilder(config={"reconciliationInterval_s": INTERVAL})
    completed_at(b, 60)
    b.at(1000).event("controller_stopped")  # down across 60 + 2 x 600: no judgement then
    b.at(1400).event("controller_started")
    b.event("reconcile", object=P, workflow="promise", reason="done")
    interval_run(b, 1401)
    assert_passes(check("W9", b.context(PIPES)))


def test_w9_restart_before_due_requeues_one_interval_from_the_restart() -> None:
    b = TraceBuilder(config={"reconciliationInterval_s": INTERVAL})
    start = completed_at(b, 60)
    b.at(400).event("controller_stopped")
    b.at(500).event("controller_started")  # not due (440 s): the run is owed by 500 + 600 (+ latency)
    b.event("reconcile", object=P, workflow="promise", reason="done")
    interval_run(b, 1250)  # in time for 60 + 2 x 600, late for the restart's requeue
    assert_fails(check("W9", b.context(PIPES)), start, category="liveness")


def test_w9_unknown_without_config() -> None:
    b = TraceBuilder(with_config=False)
    completed_at(b, 60)
    assert check("W9", b.context(PIPES)).result == "unknown"


# -- W10 ------------------------------------------------------------------------------------------------
def restart(b: TraceBuilder, t: float) -> Event:
    b.at(t).event("controller_stopped")
    started = b.at(t + 30).event("controller_started")
    b.event("reconcile", object=P, workflow="promise", reason="done")
    return started


def test_w10_restart_does_not_rerun_a_completed_workflow_pass() -> None:
    b = TraceBuilder()
    begin(b)
    full_run(b, ["a", "b"], "1")
    restart(b, 1000)
    b.event("reconcile", object=R, workflow="resource", reason="done")
    assert_passes(check("W10", b.context(PIPES)))


def test_w10_run_started_by_a_restart_fails_outside_seed_doc() -> None:
    def trace(profile: str) -> tuple[CheckContext, Event]:
        b = TraceBuilder(profile=profile)
        begin(b)
        full_run(b, ["a", "b"], "1")
        restart(b, 1000)
        in_progress(b)
        bad = job_created(b, "a-2", "a", 0)
        return b.context(PIPES), bad

    ctx, bad = trace("kratix-2026.08")
    assert_fails(check("W10", ctx), bad)
    assert_passes(check("W10", trace("seed-doc")[0]))


def test_w10_retry_of_a_suspended_pipeline_zero_is_explained() -> None:
    b = TraceBuilder()
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    b.at(10).event("label_set", object=R, label=SUSPENDED, value="true")
    b.at(11)
    job_ended(b, "a-1", "a", 0)
    b.at(611).event("label_removed", object=R, label=SUSPENDED)
    job_created(b, "a-2", "a", 0)
    assert_passes(check("W10", b.context(PIPES)))


# -- W11 ------------------------------------------------------------------------------------------------
def caught_by_restart(b: TraceBuilder) -> Event:
    """Pipeline a of R completes while the controller is down."""
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    b.at(100).event("controller_stopped")
    b.at(200)
    job_ended(b, "a-1", "a", 0)
    started = b.at(400).event("controller_started")
    b.event("reconcile", object=P, workflow="promise", reason="done")
    return started


def test_w11_restart_continues_with_the_next_pipeline_pass() -> None:
    b = TraceBuilder()
    caught_by_restart(b)
    job_created(b, "b-1", "b", 1)
    assert_passes(check("W11", b.context(PIPES)))


def test_w11_restart_that_starts_over_fails() -> None:
    b = TraceBuilder()
    caught_by_restart(b)
    in_progress(b)
    bad = job_created(b, "a-2", "a", 0)
    assert_fails(check("W11", b.context(PIPES)), bad)


def test_w11_restart_that_never_continues_fails() -> None:
    b = TraceBuilder()
    started = caught_by_restart(b)
    b.at(1000).event("reconcile", object=R, workflow="resource", reason="done")
    assert_fails(check("W11", b.context(PIPES)), started, category="liveness")


def test_w11_jobs_deleted_while_down_restart_at_pipeline_zero() -> None:
    def trace(index: int) -> tuple[CheckContext, Event]:
        b = TraceBuilder()
        begin(b)
        in_progress(b)
        job_created(b, "a-1", "a", 0)
        b.at(100).event("controller_stopped")
        b.at(200)
        job_ended(b, "a-1", "a", 0)
        b.at(300).event("job_deleted", object=R, pipeline="a", job="a-1", reason="external")
        b.at(400).event("controller_started")
        b.event("reconcile", object=P, workflow="promise", reason="done")
        bad = job_created(b, "x-2", ["a", "b"][index], index)
        return b.context(PIPES), bad

    assert_passes(check("W11", trace(0)[0]))
    ctx, bad = trace(1)
    assert_fails(check("W11", ctx), bad)


def test_w11_unknown_without_the_pipelines() -> None:
    b = TraceBuilder()
    caught_by_restart(b)
    job_created(b, "b-1", "b", 1)
    assert check("W11", b.context()).result == "unknown"


# -- W12 ------------------------------------------------------------------------------------------------
PROMISE_PIPES = {**PIPES, ("promise", "configure"): ["install"]}


def promise_installed(b: TraceBuilder, resources: Iterable[str] = (R,)) -> None:
    b.at(0).event("controller_started")
    b.event("object_created", object=P, workflow="promise", hash="ph1")
    in_progress(b, P)
    job_created(b, "install-1", "install", 0, obj=P, hash_="ph1")
    pod(b, "install-1", obj=P, status=[completed_true(P)])
    b.after(1)
    job_ended(b, "install-1", "install", 0, obj=P, hash_="ph1")
    b.event("reconcile", object=P, workflow="promise", reason="done")
    for obj in resources:
        b.event("object_created", object=obj, workflow="resource", hash=f"{obj}-s1")
        full_run(b, ["a"], "1", obj=obj)


def promise_updated(b: TraceBuilder) -> Event:
    b.at(1000).event("spec_updated", object=P, hash="ph2", generation=2)
    in_progress(b, P)
    job_created(b, "install-2", "install", 0, obj=P, hash_="ph2")
    b.event("pod_created", object=P, job="install-2", pod="install-2-pod", attempt=1)
    step(b, "install-2", "reader", obj=P)
    step(b, "install-2", "install", obj=P)
    step(b, "install-2", "work-writer", obj=P)
    step(b, "install-2", "status-writer", obj=P, inside=[completed_true(P)])
    completion = next(e for e in reversed(b.events) if e["event"] == "condition_set")
    b.after(1)
    job_ended(b, "install-2", "install", 0, obj=P, hash_="ph2")
    b.event("reconcile", object=P, workflow="promise", reason="done")
    return completion


def test_w12_resources_rerun_after_the_promise_workflow_pass() -> None:
    b = TraceBuilder()
    promise_installed(b, resources=(R, R2))
    promise_updated(b)
    for obj in (R, R2):
        b.after(1.1).event("label_set", object=obj, label=RUN_FROM_START, value="true")
        b.event("label_removed", object=obj, label=RUN_FROM_START)
        in_progress(b, obj)
        job_created(b, f"a-{obj[-2:]}-2", "a", 0, obj=obj, hash_="h2")
    assert_passes(check("W12", b.context(PROMISE_PIPES)))


@pytest.mark.parametrize(("profile", "gated"), [("kratix-2026.08", True), ("kratix-2025", False)])
def test_w12_resource_job_before_the_promise_workflow_completed(profile: str, gated: bool) -> None:
    """A resource Job while a Promise update's workflow re-runs: a violation where the profile gates resources
    during an update (promise_update_gates_resources), allowed in kratix-2025, which gates only the install."""
    b = TraceBuilder(profile=profile)
    promise_installed(b)
    b.at(1000).event("spec_updated", object=P, hash="ph2", generation=2)
    in_progress(b, P)
    job_created(b, "install-2", "install", 0, obj=P, hash_="ph2")
    b.after(1).event("label_set", object=R, label=MANUAL, value="true")
    b.event("label_removed", object=R, label=MANUAL)
    in_progress(b)
    bad = job_created(b, "a-2", "a", 0, hash_="h2")
    if gated:
        assert_fails(check("W12", b.context(PROMISE_PIPES)), bad)
    else:
        assert check("W12", b.context(PROMISE_PIPES)).result == "pass"


def test_w12_resource_never_rerun_fails() -> None:
    b = TraceBuilder()
    promise_installed(b)
    completion = promise_updated(b)
    b.at(5000).event("reconcile", object=R, workflow="resource", reason="done")
    assert_fails(check("W12", b.context(PROMISE_PIPES)), completion, category="liveness")


def test_w12_reconcile_resources_label_reruns_the_promise_then_fans_out() -> None:
    b = TraceBuilder()
    promise_installed(b)
    b.at(1000).event("label_set", object=P, label="kratix.io/reconcile-resources", value="true")
    b.event("label_removed", object=P, label="kratix.io/reconcile-resources")
    in_progress(b, P)
    job_created(b, "install-2", "install", 0, obj=P, hash_="ph1")
    pod(b, "install-2", obj=P, status=[completed_true(P)])
    b.after(1)
    job_ended(b, "install-2", "install", 0, obj=P, hash_="ph1")
    b.event("label_set", object=R, label=RUN_FROM_START, value="true")
    b.event("label_removed", object=R, label=RUN_FROM_START)
    in_progress(b)
    job_created(b, "a-2", "a", 0)
    assert_passes(check("W12", b.context(PROMISE_PIPES)))


def test_w12_reconcile_resources_label_without_a_promise_rerun_fails() -> None:
    b = TraceBuilder()
    promise_installed(b)
    label = b.at(1000).event("label_set", object=P, label="kratix.io/reconcile-resources", value="true")
    b.at(2000).event("reconcile", object=P, workflow="promise", reason="done")
    assert_fails(check("W12", b.context(PROMISE_PIPES)), label, category="liveness")


def test_w12_update_superseded_before_its_run_completed_is_judged_by_the_later_one() -> None:
    b = TraceBuilder()
    promise_installed(b)
    b.at(1000).event("spec_updated", object=P, hash="ph2", generation=2)
    in_progress(b, P)
    job_created(b, "install-2", "install", 0, obj=P, hash_="ph2")
    b.at(1005).event("spec_updated", object=P, hash="ph3", generation=3)
    pod(b, "install-2", obj=P, status=[completed_true(P)])  # gen 2's run completes: no fan-out for it
    b.after(1)
    job_ended(b, "install-2", "install", 0, obj=P, hash_="ph2")
    in_progress(b, P)
    job_created(b, "install-3", "install", 0, obj=P, hash_="ph3")
    b.at(1200)
    pod(b, "install-3", obj=P, status=[completed_true(P)])
    b.after(1)
    job_ended(b, "install-3", "install", 0, obj=P, hash_="ph3")
    b.event("label_set", object=R, label=RUN_FROM_START, value="true")
    b.event("label_removed", object=R, label=RUN_FROM_START)
    in_progress(b)
    job_created(b, "a-2", "a", 0, hash_="h3")
    assert_passes(check("W12", b.context(PROMISE_PIPES)))


def test_w12_unknown_with_two_promises() -> None:
    b = TraceBuilder()
    promise_installed(b)
    b.event("object_created", object="promise/other", workflow="promise", hash="o1")
    promise_updated(b)
    assert check("W12", b.context(PROMISE_PIPES)).result == "unknown"


# -- W13 ------------------------------------------------------------------------------------------------
def test_w13_resource_after_the_promise_completed_pass() -> None:
    b = TraceBuilder()
    promise_installed(b)
    assert_passes(check("W13", b.context(PROMISE_PIPES)))


def test_w13_resource_before_the_promise_completed_fails() -> None:
    b = TraceBuilder()
    b.at(0).event("controller_started")
    b.event("object_created", object=P, workflow="promise", hash="ph1")
    in_progress(b, P)
    job_created(b, "install-1", "install", 0, obj=P, hash_="ph1")
    b.event("object_created", object=R, workflow="resource", hash="s1")
    in_progress(b)
    bad = job_created(b, "a-1", "a", 0)
    assert_fails(check("W13", b.context(PROMISE_PIPES)), bad)


def test_w13_resource_after_a_restart_before_the_promise_reconcile_fails() -> None:
    b = TraceBuilder()
    promise_installed(b)
    b.at(1000).event("controller_stopped")
    b.at(1100).event("controller_started")
    b.event("label_set", object=R, label=MANUAL, value="true")
    b.event("label_removed", object=R, label=MANUAL)
    in_progress(b)
    bad = job_created(b, "a-2", "a", 0)
    b.event("reconcile", object=P, workflow="promise", reason="done")
    assert_fails(check("W13", b.context(PROMISE_PIPES)), bad)


@pytest.mark.parametrize(("profile", "gated"), [("kratix-2026.08", True), ("kratix-2025", False)])
def test_w13_resource_during_a_later_promise_run(profile: str, gated: bool) -> None:
    """A resource Job created while a manual re-run of the Promise's workflow is in flight: a violation where
    an Unavailable Promise gates its resources (kratix-2026.08), allowed in kratix-2025; after the Promise's
    `done` reconcile it is allowed in both."""
    def promise_rerun_started() -> TraceBuilder:
        b = TraceBuilder(profile=profile)
        promise_installed(b)
        b.at(2000).event("label_set", object=P, label=MANUAL, value="true")
        b.event("label_removed", object=P, label=MANUAL)
        in_progress(b, P)
        job_created(b, "install-2", "install", 0, obj=P, hash_="ph1")
        return b

    b = promise_rerun_started()
    b.after(30).event("label_set", object=R, label=MANUAL, value="true")
    b.event("label_removed", object=R, label=MANUAL)
    in_progress(b)
    early = job_created(b, "a-2", "a", 0)
    verdict = check("W13", b.context(PROMISE_PIPES))
    if gated:
        assert_fails(verdict, early)
        assert "created while the Promise was Unavailable" in verdict.message
    else:
        assert_passes(verdict)
    after = promise_rerun_started()
    pod(after, "install-2", obj=P, status=[completed_true(P)])
    after.after(1)
    job_ended(after, "install-2", "install", 0, obj=P, hash_="ph1")
    after.event("reconcile", object=P, workflow="promise", reason="done")
    after.event("label_set", object=R, label=MANUAL, value="true")
    after.event("label_removed", object=R, label=MANUAL)
    in_progress(after)
    job_created(after, "a-2", "a", 0)
    assert_passes(check("W13", after.context(PROMISE_PIPES)))


@pytest.mark.parametrize("marks_available_first", [True, False])
def test_w13_resource_job_while_the_resource_is_marked_promise_unavailable(marks_available_first: bool) -> None:
    """A resource marked PromiseAvailable=False (its Promise could not fulfil it) starts a run only after a
    reconcile marked it True again (Kratix ends that reconcile with the write): a Job while the mark is False
    fails W13, even once the Promise is Available."""
    b = TraceBuilder()
    promise_installed(b)
    b.at(2000).event("condition_set", object=R, type="PromiseAvailable", status="False",
                     reason="PromiseRequirementsNotInstalled", message="Promise Requirements are not installed")
    b.at(2060)
    if marks_available_first:
        b.event("condition_set", object=R, type="PromiseAvailable", status="True", reason="PromiseAvailable",
                message="Promise Requirements are met")
    b.event("label_set", object=R, label=MANUAL, value="true")
    b.event("label_removed", object=R, label=MANUAL)
    in_progress(b)
    job = job_created(b, "a-2", "a", 0)
    verdict = check("W13", b.context(PROMISE_PIPES))
    if marks_available_first:
        assert_passes(verdict)
    else:
        assert_fails(verdict, job)
        assert "marked PromiseAvailable=False (since 2000 s)" in verdict.message


def test_w13_unknown_when_the_promise_pipelines_are_unknown() -> None:
    b = TraceBuilder()
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    assert check("W13", b.context()).result == "unknown"


# -- W14 ------------------------------------------------------------------------------------------------
def runs_of_one_pipeline(b: TraceBuilder, count: int) -> None:
    begin(b)
    for n in range(1, count + 1):
        if n > 1:
            b.after(100).event("label_set", object=R, label=MANUAL, value="true")
            b.event("label_removed", object=R, label=MANUAL)
        full_run(b, ["a"], str(n))


def test_w14_oldest_jobs_deleted_after_completion_pass() -> None:
    b = TraceBuilder(config={"numberOfJobsToKeep": 2})
    runs_of_one_pipeline(b, 3)
    b.event("job_deleted", object=R, pipeline="a", job="a-1", reason="retention")
    assert_passes(check("W14", b.context({("resource", "configure"): ["a"]})))


def test_w14_newer_job_deleted_first_fails() -> None:
    b = TraceBuilder(config={"numberOfJobsToKeep": 2})
    runs_of_one_pipeline(b, 3)
    bad = b.event("job_deleted", object=R, pipeline="a", job="a-2", reason="retention")
    assert_fails(check("W14", b.context({("resource", "configure"): ["a"]})), bad)


def test_w14_too_many_jobs_kept_fails() -> None:
    b = TraceBuilder(config={"numberOfJobsToKeep": 2})
    runs_of_one_pipeline(b, 3)
    b.at(2000).event("label_set", object=R, label=MANUAL, value="true")
    b.event("label_removed", object=R, label=MANUAL)
    in_progress(b)
    bad = job_created(b, "a-4", "a", 0)
    assert_fails(check("W14", b.context({("resource", "configure"): ["a"]})), bad)


def test_w14_unknown_without_config() -> None:
    b = TraceBuilder(with_config=False)
    runs_of_one_pipeline(b, 1)
    assert check("W14", b.context()).result == "unknown"


# -- W15 ------------------------------------------------------------------------------------------------
def work(pipeline: str = "a") -> tuple[str, dict[str, Any]]:
    return ("work_written", {"object": R, "pipeline": pipeline, "digest": "d1", "files": 1, "changed": True})


def test_w15_work_written_by_the_work_writer_pass() -> None:
    b = TraceBuilder()
    begin(b)
    in_progress(b)
    job_created(b, "a-1", "a", 0)
    pod(b, "a-1", work=[work()])
    assert_passes(check("W15", b.context(PIPES)))


def test_w15_work_written_outside_the_work_writer_fails() -> None:
    b = TraceBuilder()
    begin(b)
    job_created(b, "a-1", "a", 0)
    b.event("pod_created", object=R, job="a-1", pod="a-1-pod", attempt=1)
    step(b, "a-1", "reader")
    step(b, "a-1", "step", inside=[work()])
    bad = next(e for e in b.events if e["event"] == "work_written")
    assert_fails(check("W15", b.context(PIPES)), bad)


def test_w15_work_written_by_a_run_that_suspends_fails() -> None:
    b = TraceBuilder()
    begin(b)
    job_created(b, "a-1", "a", 0)
    pod(b, "a-1", work=[work()], status=[("label_set", {"object": R, "label": SUSPENDED, "value": "true"})])
    bad = next(e for e in b.events if e["event"] == "work_written")
    assert_fails(check("W15", b.context(PIPES)), bad)


def test_w15_unknown_without_container_events() -> None:
    b = TraceBuilder()
    begin(b)
    job_created(b, "a-1", "a", 0)
    name, fields = work()
    b.event(name, **fields)
    assert check("W15", b.context(PIPES)).result == "unknown"


# -- W16 ------------------------------------------------------------------------------------------------
def merge(keys: list[str], obj: str = R) -> tuple[str, dict[str, Any]]:
    return ("status_merged", {"object": obj, "keys": keys})


def test_w16_status_merged_by_the_status_writer_pass() -> None:
    b = TraceBuilder()
    begin(b)
    job_created(b, "a-1", "a", 0)
    pod(b, "a-1", status=[merge(["endpoint", "conditions"])])
    assert_passes(check("W16", b.context(PIPES)))


def test_w16_reserved_kratix_key_fails() -> None:
    b = TraceBuilder()
    begin(b)
    job_created(b, "a-1", "a", 0)
    pod(b, "a-1", status=[merge(["kratix", "note"])])
    bad = next(e for e in b.events if e["event"] == "status_merged")
    assert_fails(check("W16", b.context(PIPES)), bad)


def test_w16_merge_by_a_failing_status_writer_fails() -> None:
    b = TraceBuilder()
    begin(b)
    job_created(b, "a-1", "a", 0)
    b.event("pod_created", object=R, job="a-1", pod="a-1-pod", attempt=1)
    step(b, "a-1", "reader")
    step(b, "a-1", "work-writer")
    step(b, "a-1", "status-writer", code=1, inside=[merge(["tier"])])
    bad = next(e for e in b.events if e["event"] == "status_merged")
    assert_fails(check("W16", b.context(PIPES)), bad)


def test_w16_promise_keeps_only_message() -> None:
    b = TraceBuilder()
    begin(b)
    job_created(b, "install-1", "install", 0, obj=P)
    pod(b, "install-1", obj=P, status=[merge(["message", "operatorVersion"], obj=P)])
    bad = next(e for e in b.events if e["event"] == "status_merged")
    assert_fails(check("W16", b.context(PROMISE_PIPES)), bad)


def test_w16_unknown_without_container_events() -> None:
    b = TraceBuilder()
    begin(b)
    b.event("status_merged", object=R, keys=["tier"])
    assert check("W16", b.context(PIPES)).result == "unknown"
