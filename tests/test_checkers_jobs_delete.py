"""Checkers J1-J4, D1-D6, C1 and K1-K3: hand-written traces that pass, fail (at a named event) or cannot be
judged, plus every scenario of the library run by the reference engine, which none of them may fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from checker_traces import TraceBuilder

from conformance.checkers import run_checkers
from conformance.context import CheckContext
from conformance.runner import pipelines_of
from conformance.verdict import Verdict
from sim.scenario_loader import load_scenario
from sim.simulation import Simulation

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
MY_RULES = ("J1", "J2", "J3", "J4", "D1", "D2", "D3", "D4", "D5", "D6", "C1", "K1", "K2", "K3")
R1 = "default/r1"
PROMISE = "promise/demo"
MANUAL = "kratix.io/manual-reconciliation"
SUSPENDED = "kratix.io/workflow-suspended"
RESOURCE_FINALIZERS = ["kratix.io/delete-workflows", "kratix.io/work-cleanup", "kratix.io/workflows-cleanup",
                       "kratix.io/resource-binding-cleanup"]
Event = dict[str, Any]


def judge(rule: str, ctx: CheckContext) -> Verdict:
    (verdict,) = run_checkers(ctx, [rule])
    return verdict


def assert_fails_at(verdict: Verdict, event: Event, category: str = "safety") -> None:
    assert verdict.result == "fail", verdict
    assert verdict.event is not None and verdict.event["seq"] == event["seq"], (verdict.message, verdict.event)
    assert verdict.category == category


def assert_passes(verdict: Verdict, exercised: bool = True) -> None:
    assert verdict.result == "pass", verdict
    assert verdict.message.startswith("not exercised") != exercised, verdict.message


# -- trace-building helpers ----------------------------------------------------------------------------
def start(profile: str | None = "kratix-2026.08", **kw: Any) -> TraceBuilder:
    b = TraceBuilder(profile=profile, **kw)
    b.at(0).event("controller_started")
    b.event("object_created", object=PROMISE, workflow="promise", hash="p1")
    b.event("object_created", object=R1, workflow="resource", hash="h1")
    return b


def job(b: TraceBuilder, name: str, pipeline: str = "a", index: int = 0, action: str = "configure",
        limit: int | None = 6, policy: str | None = "OnFailure", obj: str = R1, hash_: str = "h1",
        workflow: str = "resource") -> Event:
    return b.event("job_created", object=obj, workflow=workflow, action=action, pipeline=pipeline,
                   pipeline_index=index, job=name, hash=hash_, backoff_limit=limit, restart_policy=policy)


def end(b: TraceBuilder, name: str, state: str, pipeline: str = "a", index: int = 0, action: str = "configure",
        obj: str = R1, reason: str | None = None) -> Event:
    event = {"completed": "job_completed", "failed": "job_failed", "suspended": "job_suspended"}[state]
    if state == "failed" and reason is None:
        reason = "BackoffLimitExceeded"
    return b.event(event, object=obj, workflow="resource", action=action, pipeline=pipeline, pipeline_index=index,
                   job=name, hash="h1", type=state.capitalize(), status="True", reason=reason)


def pod(b: TraceBuilder, job_name: str, name: str, attempt: int = 1, obj: str = R1) -> Event:
    return b.event("pod_created", object=obj, job=job_name, pod=name, pipeline="a", attempt=attempt)


def run(b: TraceBuilder, job_name: str, pod_name: str, container: str, attempt: int = 1, exit_code: int = 0,
        duration: float = 1, obj: str = R1) -> tuple[Event, Event]:
    """container_started now, container_exited ``duration`` later (the builder's clock moves on)."""
    started = b.event("container_started", object=obj, job=job_name, pod=pod_name, pipeline="a",
                      container=container, attempt=attempt)
    b.after(duration)
    exited = b.event("container_exited", object=obj, job=job_name, pod=pod_name, pipeline="a",
                     container=container, attempt=attempt, exit_code=exit_code)
    return started, exited


def reconcile(b: TraceBuilder, obj: str = R1, reason: str = "wait-running") -> Event:
    return b.event("reconcile", object=obj, workflow="promise" if obj.startswith("promise/") else "resource",
                   reason=reason)


# -- J1 ------------------------------------------------------------------------------------------------
def never_job(limit: int = 1, failures: int = 2, fail_at_end: bool = True) -> tuple[TraceBuilder, list[Event]]:
    """A Never Job whose step ``x`` fails in every pod: pods 10 s, 20 s... apart (J2), failed 1 s after the last."""
    b = start()
    job(b, "j", limit=limit, policy="Never")
    exits = []
    for n in range(failures):
        pod(b, "j", f"p{n}", attempt=n + 1)
        run(b, "j", f"p{n}", "reader")
        _, exited = run(b, "j", f"p{n}", "x", exit_code=1)
        exits.append(exited)
        if n + 1 < failures:
            b.after(min(10 * 2**n, 600))
    if fail_at_end:
        b.after(1)
        exits.append(end(b, "j", "failed"))
    return b, exits


def test_j1_never_fails_at_the_limit_plus_one_failed_pod() -> None:
    b, _ = never_job(limit=1, failures=2)
    assert_passes(judge("J1", b.context()))
    assert_passes(judge("J2", b.context()))
    assert_passes(judge("J3", b.context()))


def test_j1_never_failing_before_the_limit_fails() -> None:
    b, events = never_job(limit=2, failures=2)
    assert_fails_at(judge("J1", b.context()), events[-1])


def test_j1_never_pod_after_the_limit_fails() -> None:
    b, _ = never_job(limit=1, failures=2, fail_at_end=False)
    b.after(40)
    extra = pod(b, "j", "p9", attempt=3)
    assert_fails_at(judge("J1", b.context()), extra)


def test_j1_job_not_failed_within_the_sync_batch_fails() -> None:
    b, _ = never_job(limit=1, failures=2, fail_at_end=False)
    b.after(1.5)
    late = reconcile(b)
    assert_fails_at(judge("J1", b.context()), late)


def test_j1_trace_ending_inside_the_sync_batch_passes() -> None:
    b, _ = never_job(limit=1, failures=2, fail_at_end=False)
    assert_passes(judge("J1", b.context()))


def onfailure_job(limit: int, restarts: int, fail_after: float | None = 1) -> tuple[TraceBuilder, list[Event]]:
    """An OnFailure Job whose step ``x`` fails ``restarts`` + 1 times: restarts after 0, 10, 20... s (J2)."""
    b = start()
    job(b, "j", limit=limit, policy="OnFailure")
    pod(b, "j", "p")
    run(b, "j", "p", "reader")
    starts = []
    for k in range(restarts):
        started, _ = run(b, "j", "p", "x", attempt=k + 1, exit_code=1, duration=5)
        starts.append(started)
        b.after(0 if k == 0 else 10 * 2 ** (k - 1))
    last = b.event("container_started", object=R1, job="j", pod="p", pipeline="a", container="x",
                   attempt=restarts + 1)
    starts.append(last)
    if fail_after is not None:
        b.after(fail_after)
        starts.append(end(b, "j", "failed"))
        b.event("container_exited", object=R1, job="j", pod="p", pipeline="a", container="x", attempt=restarts + 1,
                exit_code=137, reason="Killed")
    return b, starts


def test_j1_onfailure_fails_when_restarts_reach_the_limit() -> None:
    b, _ = onfailure_job(limit=2, restarts=2)
    assert_passes(judge("J1", b.context()))
    assert_passes(judge("J2", b.context()))
    assert_passes(judge("J3", b.context()))


def test_j1_onfailure_limit_zero_fails_at_the_first_restart() -> None:
    b, _ = onfailure_job(limit=0, restarts=1)
    assert_passes(judge("J1", b.context()))


def test_j1_onfailure_failing_early_fails() -> None:
    b, events = onfailure_job(limit=3, restarts=2)
    assert_fails_at(judge("J1", b.context()), events[-1])


def test_j1_onfailure_restart_after_the_limit_fails() -> None:
    b, _ = onfailure_job(limit=2, restarts=2)
    b.after(20)
    again = b.event("container_started", object=R1, job="j", pod="p", pipeline="a", container="x", attempt=4)
    assert_fails_at(judge("J1", b.context()), again)
    b, starts = onfailure_job(limit=2, restarts=3, fail_after=None)  # still running: the Job was not failed
    first_past_sync = next(e for e in b.events if e["seq"] > starts[2]["seq"])  # the exit 5 s after the restart
    assert_fails_at(judge("J1", b.context()), first_past_sync)


def test_j1_wrong_failure_reason_fails() -> None:
    b, _ = onfailure_job(limit=1, restarts=1, fail_after=None)
    b.after(0.5)
    bad = end(b, "j", "failed", reason="DeadlineExceeded")
    assert_fails_at(judge("J1", b.context()), bad)


def test_j1_unknown_without_backoff_limit_or_profile() -> None:
    b = start()
    job(b, "j", limit=None)
    pod(b, "j", "p")
    run(b, "j", "p", "x", exit_code=1)
    assert judge("J1", b.context()).result == "unknown"
    b2, _ = never_job()
    b2.header["profile"] = "kratix-1999"
    assert judge("J1", b2.context()).result == "unknown"


def test_j1_unknown_when_pods_are_missing() -> None:
    b = start()
    job(b, "j", limit=1, policy="Never")
    b.after(100)
    end(b, "j", "failed")
    assert judge("J1", b.context()).result == "unknown"


def test_j1_not_exercised_without_failures() -> None:
    b = start()
    job(b, "j")
    pod(b, "j", "p")
    run(b, "j", "p", "reader")
    end(b, "j", "completed")
    assert_passes(judge("J1", b.context()), exercised=False)


# -- J2 ------------------------------------------------------------------------------------------------
def test_j2_never_pod_created_off_schedule_fails() -> None:
    b = start()
    job(b, "j", limit=3, policy="Never")
    pod(b, "j", "p0")
    run(b, "j", "p0", "reader", exit_code=1)
    b.after(10.001)
    early = pod(b, "j", "p1", attempt=2)
    assert_fails_at(judge("J2", b.context()), early)


def test_j2_never_backoff_is_capped() -> None:
    """backoffLimit 8: delays 10, 20, ... 320, 600 (not 640)."""
    b, _ = never_job(limit=8, failures=9)
    assert_passes(judge("J2", b.context()))
    uncapped = start()
    job(uncapped, "j", limit=8, policy="Never")
    for n in range(8):
        created = pod(uncapped, "j", f"p{n}", attempt=n + 1)
        run(uncapped, "j", f"p{n}", "reader", exit_code=1)
        uncapped.after(10 * 2**n)
    assert_fails_at(judge("J2", uncapped.context()), created)


def test_j2_never_missing_next_pod_fails() -> None:
    b = start()
    job(b, "j", limit=3, policy="Never")
    pod(b, "j", "p0")
    run(b, "j", "p0", "reader", exit_code=1)
    b.after(10.5)
    late = reconcile(b)
    assert_fails_at(judge("J2", b.context()), late)


def test_j2_onfailure_second_restart_without_backoff_fails() -> None:
    b = start()
    job(b, "j", policy="OnFailure")
    pod(b, "j", "p")
    run(b, "j", "p", "x", exit_code=1)
    run(b, "j", "p", "x", attempt=2, exit_code=1)
    second = run(b, "j", "p", "x", attempt=3)[0]  # due 10 s after the second failure
    assert_fails_at(judge("J2", b.context()), second)


def test_j2_onfailure_backoff_resets_after_a_quiet_period() -> None:
    b = start()
    job(b, "j", policy="OnFailure")
    pod(b, "j", "p")
    run(b, "j", "p", "x", exit_code=1, duration=700)
    run(b, "j", "p", "x", attempt=2, exit_code=1, duration=700)
    run(b, "j", "p", "x", attempt=3, exit_code=0)  # 700 s without failure: immediate again
    assert_passes(judge("J2", b.context()))


def test_j2_unknown_without_restart_policy() -> None:
    b = start()
    job(b, "j", policy=None)
    pod(b, "j", "p")
    run(b, "j", "p", "x", exit_code=1)
    assert judge("J2", b.context()).result == "unknown"


# -- J3 ------------------------------------------------------------------------------------------------
def test_j3_onfailure_rerunning_an_earlier_step_fails() -> None:
    b = start()
    job(b, "j", policy="OnFailure")
    pod(b, "j", "p")
    run(b, "j", "p", "reader")
    run(b, "j", "p", "x", exit_code=1)
    again = run(b, "j", "p", "reader")[0]
    assert_fails_at(judge("J3", b.context()), again)


def test_j3_onfailure_restart_of_another_container_fails() -> None:
    b = start()
    job(b, "j", policy="OnFailure")
    pod(b, "j", "p")
    run(b, "j", "p", "x", exit_code=1)
    wrong = run(b, "j", "p", "y", attempt=2)[0]
    assert_fails_at(judge("J3", b.context()), wrong)


def test_j3_onfailure_second_pod_fails() -> None:
    b = start()
    job(b, "j", policy="OnFailure")
    pod(b, "j", "p")
    run(b, "j", "p", "reader", exit_code=1)
    b.after(10)
    second = pod(b, "j", "p2", attempt=2)
    assert_fails_at(judge("J3", b.context()), second)


def test_j3_never_pod_must_start_with_reader() -> None:
    b = start()
    job(b, "j", limit=2, policy="Never")
    pod(b, "j", "p0")
    run(b, "j", "p0", "reader")
    run(b, "j", "p0", "x", exit_code=1)
    b.after(10)
    pod(b, "j", "p1", attempt=2)
    dirty = run(b, "j", "p1", "x")[0]
    assert_fails_at(judge("J3", b.context()), dirty)


def test_j3_never_new_pod_without_a_failure_fails() -> None:
    b = start()
    job(b, "j", limit=2, policy="Never")
    pod(b, "j", "p0")
    run(b, "j", "p0", "reader")
    second = pod(b, "j", "p1", attempt=2)
    assert_fails_at(judge("J3", b.context()), second)


def test_j3_unknown_when_a_retried_pod_has_no_steps() -> None:
    b = start()
    job(b, "j", limit=2, policy="Never")
    pod(b, "j", "p0")
    b.after(10)
    pod(b, "j", "p1", attempt=2)
    run(b, "j", "p1", "reader", exit_code=1)
    assert judge("J3", b.context()).result == "unknown"


def test_j3_policy_forced_by_the_profile() -> None:
    b = start(profile="seed-doc")
    bad = job(b, "j", policy="OnFailure")
    assert_fails_at(judge("J3", b.context()), bad)
    ok = start(profile="kratix-2025")
    job(ok, "j", policy="OnFailure")
    assert_passes(judge("J3", ok.context()), exercised=False)


# -- J4 ------------------------------------------------------------------------------------------------
def suspended_run() -> tuple[TraceBuilder, Event]:
    """Pipeline 0 runs; the manual label suspends it (W6); Kratix starts pipeline 0 again (J4 passes)."""
    b = start()
    job(b, "j1", limit=6)
    pod(b, "j1", "p")
    b.event("container_started", object=R1, job="j1", pod="p", pipeline="a", container="reader", attempt=1)
    b.at(300).event("label_set", object=R1, label=MANUAL, value="true")
    requested = b.event("job_suspend_requested", object=R1, job="j1", pipeline="a")
    b.at(301)
    suspended = end(b, "j1", "suspended")
    b.event("container_exited", object=R1, job="j1", pod="p", pipeline="a", container="reader", attempt=1,
            exit_code=137, reason="Killed")
    b.event("label_removed", object=R1, label=MANUAL)
    job(b, "j2")
    del requested
    return b, suspended


def test_j4_suspension_then_rerun_from_pipeline_0_passes() -> None:
    b, _ = suspended_run()
    assert_passes(judge("J4", b.context()))


def test_j4_container_started_after_suspension_fails() -> None:
    b, _ = suspended_run()
    b.at(302)
    late = b.event("container_started", object=R1, job="j1", pod="p", pipeline="a", container="x", attempt=1)
    assert_fails_at(judge("J4", b.context()), late)


def test_j4_next_pipeline_after_suspension_fails() -> None:
    b = start(profile="kratix-2025")
    job(b, "j1")
    b.at(120).event("spec_updated", object=R1, hash="h2", generation=2)
    b.event("job_suspend_requested", object=R1, job="j1", pipeline="a")
    b.at(121)
    end(b, "j1", "suspended")
    nxt = job(b, "j2", pipeline="b", index=1)
    assert_fails_at(judge("J4", b.context()), nxt)


def test_j4_new_job_without_trigger_after_suspension_fails() -> None:
    b = start()
    job(b, "j1")
    b.at(100).event("job_suspend_requested", object=R1, job="j1", pipeline="a")
    b.at(101)
    end(b, "j1", "suspended")
    again = job(b, "j2")
    assert_fails_at(judge("J4", b.context()), again)


def test_j4_requested_suspension_that_never_happens_fails() -> None:
    b = start()
    job(b, "j1")
    b.at(100).event("job_suspend_requested", object=R1, job="j1", pipeline="a")
    b.at(103)
    late = reconcile(b)
    assert_fails_at(judge("J4", b.context()), late)


# -- D1-D6 ---------------------------------------------------------------------------------------------
def deletion(profile: str = "kratix-2026.08", delete_result: str = "completed") -> tuple[TraceBuilder, Event]:
    """r1 configured (Work written), deleted; one delete Job; finalizers removed in order; r1 gone."""
    b = start(profile=profile)
    b.event("finalizers_added", object=R1, finalizers=RESOURCE_FINALIZERS)
    job(b, "c1")
    b.at(30).event("work_written", object=R1, pipeline="a", digest="d", files=1, changed=True)
    end(b, "c1", "completed")
    b.at(100).event("delete_requested", object=R1)
    reconcile(b, reason="start-delete")
    delete = job(b, "d1", pipeline="del", action="delete", limit=1, policy="Never")
    b.at(101.1)
    reconcile(b, reason="delete-running")
    b.at(116.1)
    reconcile(b, reason="delete-running")
    b.at(120)
    end(b, "d1", delete_result, pipeline="del", action="delete")
    return b, delete


def finish_cleanup(b: TraceBuilder, obj: str = R1) -> None:
    reconcile(b, obj, "delete-completed")
    b.event("finalizer_removed", object=obj, finalizer="kratix.io/delete-workflows")
    b.event("work_deleted", object=obj, pipeline="a", reason="work-cleanup")
    b.event("finalizer_removed", object=obj, finalizer="kratix.io/work-cleanup")
    b.event("job_deleted", object=obj, pipeline="a", job="c1", reason="workflows-cleanup")
    b.event("finalizer_removed", object=obj, finalizer="kratix.io/workflows-cleanup")
    b.event("finalizer_removed", object=obj, finalizer="kratix.io/resource-binding-cleanup")
    b.event("object_removed", object=obj)


def test_d_rules_pass_on_a_clean_deletion() -> None:
    b, _ = deletion()
    finish_cleanup(b)
    ctx = b.context(pipelines={("resource", "delete"): ["del"], ("resource", "configure"): ["a"]})
    for rule in ("D1", "D2", "D3", "D5", "K2"):
        assert_passes(judge(rule, ctx))
    assert_passes(judge("D4", ctx), exercised=False)


def test_d1_second_delete_pipeline_fails() -> None:
    b = start()
    b.event("delete_requested", object=R1)
    bad = job(b, "d1", pipeline="del-2", index=1, action="delete")
    assert_fails_at(judge("D1", b.context()), bad)
    b2 = start()
    b2.event("delete_requested", object=R1)
    wrong_name = job(b2, "d1", pipeline="other", action="delete")
    assert_fails_at(judge("D1", b2.context(pipelines={("resource", "delete"): ["del"]})), wrong_name)


def test_d2_delete_job_while_configure_runs() -> None:
    def trace(profile: str) -> tuple[TraceBuilder, Event]:
        b = start(profile=profile)
        job(b, "c1")
        b.at(60).event("delete_requested", object=R1)
        return b, job(b, "d1", pipeline="del", action="delete")

    b, bad = trace("kratix-2026.08")
    assert_fails_at(judge("D2", b.context()), bad)
    b, _ = trace("kratix-2025")  # delete does not wait in this profile
    assert_passes(judge("D2", b.context()), exercised=False)
    b, _ = trace("no-such-profile")
    assert judge("D2", b.context()).result == "unknown"


def test_d3_second_delete_job_needs_a_trigger() -> None:
    b, _ = deletion(delete_result="failed")
    b.at(500)
    again = job(b, "d2", pipeline="del", action="delete")
    assert_fails_at(judge("D3", b.context()), again)
    ok, _ = deletion(delete_result="failed")
    ok.at(500).event("label_set", object=R1, label=MANUAL, value="true")
    ok.event("label_removed", object=R1, label=MANUAL)
    job(ok, "d2", pipeline="del", action="delete")
    assert_passes(judge("D3", ok.context()))


def test_d3_delete_job_before_deletion_requested_fails() -> None:
    b = start()
    early = job(b, "d1", pipeline="del", action="delete")
    assert_fails_at(judge("D3", b.context()), early)


def stuck(b: TraceBuilder) -> None:
    """What Kratix does after the delete Job failed: condition, Warning event, error reconciles."""
    reconcile(b, reason="delete-failed")
    b.event("condition_set", object=R1, type="DeleteWorkflowCompleted", status="False",
            reason="DeleteWorkflowFailed", message="The Delete Pipeline has failed")
    b.event("event_recorded", object=R1, type="Warning", reason="DeleteWorkflowFailed",
            message="The Delete Pipeline has failed")


def test_d4_stuck_until_the_manual_label() -> None:
    b, _ = deletion(delete_result="failed")
    stuck(b)
    b.at(7000).event("label_set", object=R1, label=MANUAL, value="true")
    reconcile(b, reason="start-delete")
    b.event("label_removed", object=R1, label=MANUAL)
    job(b, "d2", pipeline="del", action="delete")
    assert_passes(judge("D4", b.context()))


def test_d4_missing_condition_fails_at_the_reconcile() -> None:
    b, _ = deletion(delete_result="failed")
    first = reconcile(b, reason="delete-failed")
    b.event("event_recorded", object=R1, type="Warning", reason="DeleteWorkflowFailed", message="failed")
    assert_fails_at(judge("D4", b.context()), first)


def test_d4_removal_without_trigger_fails() -> None:
    b, _ = deletion(delete_result="failed")
    stuck(b)
    b.at(200)
    removed = b.event("finalizer_removed", object=R1, finalizer="kratix.io/delete-workflows")
    b.event("object_removed", object=R1)
    assert_fails_at(judge("D4", b.context()), removed)


def test_d4_unknown_without_reconcile_events() -> None:
    b = start()
    b.event("delete_requested", object=R1)
    job(b, "d1", pipeline="del", action="delete", limit=0, policy="Never")
    b.at(10)
    end(b, "d1", "failed", pipeline="del", action="delete")
    assert judge("D4", b.context()).result == "unknown"


def test_d5_finalizers_out_of_order_fail() -> None:
    b, _ = deletion()
    reconcile(b, reason="delete-completed")
    b.event("finalizer_removed", object=R1, finalizer="kratix.io/delete-workflows")
    b.event("finalizer_removed", object=R1, finalizer="kratix.io/workflows-cleanup")
    b.event("work_deleted", object=R1, pipeline="a", reason="work-cleanup")
    bad = b.event("finalizer_removed", object=R1, finalizer="kratix.io/work-cleanup")
    assert_fails_at(judge("D5", b.context()), bad)


def test_d5_work_cleanup_with_works_left_fails() -> None:
    b, _ = deletion()
    b.event("finalizer_removed", object=R1, finalizer="kratix.io/delete-workflows")
    bad = b.event("finalizer_removed", object=R1, finalizer="kratix.io/work-cleanup")
    assert_fails_at(judge("D5", b.context()), bad)


def test_d5_work_cleanup_before_the_delete_job_completed_fails() -> None:
    b = start()
    b.event("finalizers_added", object=R1, finalizers=RESOURCE_FINALIZERS)
    b.event("delete_requested", object=R1)
    job(b, "d1", pipeline="del", action="delete")
    bad = b.event("finalizer_removed", object=R1, finalizer="kratix.io/delete-workflows")
    assert_fails_at(judge("D5", b.context()), bad)


def test_d5_removed_with_finalizers_left_and_work_after_cleanup_fail() -> None:
    b, _ = deletion()
    b.event("finalizer_removed", object=R1, finalizer="kratix.io/delete-workflows")
    gone = b.event("object_removed", object=R1)
    assert_fails_at(judge("D5", b.context()), gone)
    b2, _ = deletion()
    b2.event("finalizer_removed", object=R1, finalizer="kratix.io/delete-workflows")
    b2.event("work_deleted", object=R1, pipeline="a", reason="work-cleanup")
    b2.event("finalizer_removed", object=R1, finalizer="kratix.io/work-cleanup")
    late = b2.event("work_written", object=R1, pipeline="a", digest="d", files=1, changed=True)
    assert_fails_at(judge("D5", b2.context()), late)


def suspended_deletion() -> TraceBuilder:
    """r1 deleted; its delete Job's status-writer asked to retry (label set while it ran); the Job completed."""
    b = start()
    b.event("finalizers_added", object=R1, finalizers=RESOURCE_FINALIZERS)
    b.at(100).event("delete_requested", object=R1)
    job(b, "d1", pipeline="del", action="delete")
    b.at(107).event("label_set", object=R1, label=SUSPENDED, value="true")
    b.at(108)
    end(b, "d1", "completed", pipeline="del", action="delete")
    return b


def test_d5_a_delete_run_that_asked_to_retry_does_not_complete_the_deletion() -> None:
    """Section 4 + C1: finalizers stay while the newest delete run asked to suspend or retry; a later run that
    asks nothing completes it."""
    b = suspended_deletion()
    bad = b.event("finalizer_removed", object=R1, finalizer="kratix.io/delete-workflows")
    assert_fails_at(judge("D5", b.context()), bad)
    ok = suspended_deletion()
    ok.at(137).event("label_removed", object=R1, label=SUSPENDED)
    job(ok, "d2", pipeline="del", action="delete")
    ok.at(145)
    end(ok, "d2", "completed", pipeline="del", action="delete")
    ok.event("finalizer_removed", object=R1, finalizer="kratix.io/delete-workflows")
    assert_passes(judge("D5", ok.context()))
    assert_passes(judge("D3", ok.context()))  # a new delete Job once the suspended run's label was removed


def test_d3_a_new_delete_job_while_the_suspended_label_is_still_set_fails() -> None:
    b = suspended_deletion()
    b.at(137)
    again = job(b, "d2", pipeline="del", action="delete")
    assert_fails_at(judge("D3", b.context()), again)


def test_d5_no_delete_job_is_expected_once_the_promise_changed() -> None:
    """D5: the Promise had a delete Pipeline; after a Promise update (which may have removed it) delete-workflows
    may go without a delete Job; without the update it may not."""
    def trace(update: bool) -> tuple[TraceBuilder, Event]:
        b = start()
        b.event("finalizers_added", object=R1, finalizers=RESOURCE_FINALIZERS)
        if update:
            b.at(50).event("spec_updated", object=PROMISE, hash="p2", generation=2)
        b.at(100).event("delete_requested", object=R1)
        return b, b.event("finalizer_removed", object=R1, finalizer="kratix.io/delete-workflows")

    pipelines = {("resource", "delete"): ["del"]}
    b, removed = trace(update=False)
    assert_fails_at(judge("D5", b.context(pipelines)), removed)
    b, _ = trace(update=True)
    assert_passes(judge("D5", b.context(pipelines)))


def promise_deletion(resource_first: bool = False) -> tuple[TraceBuilder, dict[str, Event]]:
    b = start()
    marks: dict[str, Event] = {}
    b.at(3600).event("delete_requested", object=PROMISE)
    if resource_first:
        marks["early"] = b.event("delete_requested", object=R1)
    job(b, "pd", pipeline="remove", action="delete", obj=PROMISE, workflow="promise", hash_="p1")
    b.at(3630)
    b.event("job_completed", object=PROMISE, workflow="promise", action="delete", pipeline="remove",
            pipeline_index=0, job="pd", hash="p1", type="Complete", status="True")
    b.event("finalizer_removed", object=PROMISE, finalizer="kratix.io/delete-workflows")
    if not resource_first:
        b.event("delete_requested", object=R1)
    b.at(3700)
    b.event("object_removed", object=R1)
    b.event("finalizer_removed", object=PROMISE, finalizer="kratix.io/resource-request-cleanup")
    marks["removed"] = b.event("object_removed", object=PROMISE)
    return b, marks


def test_d6_promise_delete_order() -> None:
    b, _ = promise_deletion()
    assert_passes(judge("D6", b.context()))
    b, marks = promise_deletion(resource_first=True)
    assert_fails_at(judge("D6", b.context()), marks["early"])


def test_d6_promise_removed_before_its_resources_fails() -> None:
    b = start()
    b.at(100).event("delete_requested", object=PROMISE)
    gone = b.event("object_removed", object=PROMISE)
    assert_fails_at(judge("D6", b.context()), gone)


def test_d6_promise_delete_job_while_resource_configure_runs_fails() -> None:
    b = start()
    job(b, "c1")
    b.at(60).event("delete_requested", object=PROMISE)
    bad = job(b, "pd", pipeline="remove", action="delete", obj=PROMISE, workflow="promise", hash_="p1")
    assert_fails_at(judge("D6", b.context()), bad)


def test_d6_unknown_when_resources_cannot_be_attributed() -> None:
    b = start()
    b.event("object_created", object="promise/other", workflow="promise", hash="p2")
    b.at(100).event("delete_requested", object=PROMISE)
    assert judge("D6", b.context()).result == "unknown"


# -- C1 ------------------------------------------------------------------------------------------------
def suspending_pipeline(b: TraceBuilder, name: str, index: int = 1, write_work: bool = False) -> Event:
    """Pipeline ``b`` (index 1) runs and its status-writer sets the workflow-suspended label."""
    job(b, name, pipeline="b", index=index)
    pod(b, name, f"{name}-p")
    if write_work:
        b.event("work_written", object=R1, pipeline="b", digest="d", files=1, changed=True)
    b.event("container_started", object=R1, job=name, pod=f"{name}-p", pipeline="b", container="status-writer",
            attempt=1)
    label = b.event("label_set", object=R1, label=SUSPENDED, value="true")
    b.after(1)
    b.event("job_completed", object=R1, workflow="resource", action="configure", pipeline="b", pipeline_index=index,
            job=name, hash="h1", type="Complete", status="True")
    return label


def test_c1_resume_at_the_suspended_pipeline_passes() -> None:
    b = start()
    suspending_pipeline(b, "j1")
    b.at(3600).event("label_removed", object=R1, label=SUSPENDED)
    job(b, "j2", pipeline="b", index=1)
    assert_passes(judge("C1", b.context()))


def test_c1_manual_label_restarts_at_pipeline_0() -> None:
    b = start()
    suspending_pipeline(b, "j1")
    b.at(3600).event("label_set", object=R1, label=MANUAL, value="true")
    b.event("label_removed", object=R1, label=SUSPENDED)
    b.event("label_removed", object=R1, label=MANUAL)
    job(b, "j2", pipeline="a", index=0)
    assert_passes(judge("C1", b.context()))
    wrong = start()
    suspending_pipeline(wrong, "j1")
    wrong.at(3600).event("label_set", object=R1, label=MANUAL, value="true")
    wrong.event("label_removed", object=R1, label=SUSPENDED)
    resumed = job(wrong, "j2", pipeline="b", index=1)
    assert_fails_at(judge("C1", wrong.context()), resumed)


def test_c1_later_pipeline_while_suspended_fails() -> None:
    b = start()
    suspending_pipeline(b, "j1")
    b.after(5)
    skipped = job(b, "j2", pipeline="c", index=2)
    assert_fails_at(judge("C1", b.context()), skipped)


def test_c1_rerun_without_removing_the_label_fails() -> None:
    b = start()
    suspending_pipeline(b, "j1")
    b.after(600)
    rerun = job(b, "j2", pipeline="b", index=1)
    assert_fails_at(judge("C1", b.context()), rerun)


def test_c1_work_written_by_a_suspending_pipeline_fails() -> None:
    b = start()
    job(b, "j1", pipeline="b", index=1)
    pod(b, "j1", "j1-p")
    written = b.event("work_written", object=R1, pipeline="b", digest="d", files=1, changed=True)
    b.event("container_started", object=R1, job="j1", pod="j1-p", pipeline="b", container="status-writer",
            attempt=1)
    b.event("label_set", object=R1, label=SUSPENDED, value="true")
    assert_fails_at(judge("C1", b.context()), written)


def test_c1_not_exercised_in_a_profile_without_workflow_control() -> None:
    b = start(profile="kratix-2025")
    suspending_pipeline(b, "j1")
    assert_passes(judge("C1", b.context()), exercised=False)


# -- K1 ------------------------------------------------------------------------------------------------
def test_k1_job_creations_of_one_controller_are_held_apart() -> None:
    b = start()
    job(b, "j1")
    b.after(1.1)
    job(b, "j2", obj="default/r2")
    b.after(0.3)
    job(b, "pj", obj=PROMISE, workflow="promise")  # another controller: not held by r2's creation
    assert_passes(judge("K1", b.context()))
    b.after(0.5)
    too_soon = job(b, "j3", obj="default/r3")
    assert_fails_at(judge("K1", b.context()), too_soon)


def test_k1_restart_releases_the_hold() -> None:
    b = start()
    job(b, "j1")
    b.at(0.2).event("controller_stopped")
    b.event("controller_started")
    job(b, "j2", obj="default/r2")
    assert_passes(judge("K1", b.context()))


# -- K2 ------------------------------------------------------------------------------------------------
def test_k2_running_delete_job_must_be_polled() -> None:
    b = start()
    b.event("delete_requested", object=R1)
    reconcile(b, reason="start-delete")
    job(b, "d1", pipeline="del", action="delete")
    b.at(1.1)
    reconcile(b, reason="delete-running")
    b.at(16.1)
    reconcile(b, reason="delete-running")
    b.at(40)
    late = reconcile(b, reason="delete-running")
    assert_fails_at(judge("K2", b.context()), late, "liveness")


def backoff_trace(gaps: list[float]) -> tuple[TraceBuilder, list[Event]]:
    """A failed delete Job, then error reconciles ``gaps`` apart (the first triggered by the failure)."""
    b = start()
    b.event("delete_requested", object=R1)
    job(b, "d1", pipeline="del", action="delete", limit=0, policy="Never")
    b.at(100)
    end(b, "d1", "failed", pipeline="del", action="delete")
    out = [reconcile(b, reason="delete-failed")]
    for gap in gaps:
        b.after(gap)
        out.append(reconcile(b, reason="delete-failed"))
    return b, out


def test_k2_error_backoff_doubles_and_caps() -> None:
    gaps = [0.005 * 2**n for n in range(18)] + [1000.0, 1000.0]  # 0.005 ... 655.36, then the 1000 s cap
    b, _ = backoff_trace(gaps)
    assert_passes(judge("K2", b.context()))


def test_k2_error_retry_before_the_backoff_fails() -> None:
    b, events = backoff_trace([0.005, 0.01, 0.015])  # the third retry comes 15 ms after, 20 ms were due
    assert_fails_at(judge("K2", b.context()), events[3])


def test_k2_error_retry_after_the_backoff_fails() -> None:
    b, events = backoff_trace([0.005, 0.01, 0.05])  # due 20 ms after the previous one (10 ms slack)
    assert_fails_at(judge("K2", b.context()), events[3], "liveness")


def test_k2_change_of_the_object_explains_an_early_reconcile() -> None:
    b, _ = backoff_trace([])
    b.event("condition_set", object=R1, type="DeleteWorkflowCompleted", status="False",
            reason="DeleteWorkflowFailed", message="m")
    reconcile(b, reason="delete-failed")  # same instant, triggered by the condition change
    b.after(0.005)
    reconcile(b, reason="delete-failed")  # the first timer (5 ms) is kept
    b.after(0.02)
    reconcile(b, reason="delete-failed")
    assert_passes(judge("K2", b.context()))


def test_k2_unknown_without_reconcile_events() -> None:
    b = start()
    b.event("delete_requested", object=R1)
    job(b, "d1", pipeline="del", action="delete")
    assert judge("K2", b.context()).result == "unknown"


# -- K3 ------------------------------------------------------------------------------------------------
def restart_trace() -> TraceBuilder:
    b = start()
    b.event("object_created", object="default/r2", workflow="resource", hash="h2")
    b.at(100).event("controller_stopped")
    b.at(130).event("controller_started")
    return b


def test_k3_every_object_is_reconciled_after_a_restart() -> None:
    b = restart_trace()
    reconcile(b, PROMISE, "done")
    reconcile(b, R1, "start")
    job(b, "j1")
    b.after(1.1)
    reconcile(b, "default/r2", "done")
    b.at(500)
    reconcile(b)
    assert_passes(judge("K3", b.context()))


def test_k3_late_reconcile_is_a_liveness_failure() -> None:
    b = restart_trace()
    reconcile(b, PROMISE, "done")
    reconcile(b, R1, "done")
    b.after(5)
    late = reconcile(b, "default/r2", "done")
    assert_fails_at(judge("K3", b.context()), late, "liveness")


def test_k3_object_never_reconciled_fails() -> None:
    b = restart_trace()
    reconcile(b, PROMISE, "done")
    reconcile(b, R1, "done")
    b.at(600)
    later = b.event("fault_injected", reason="manual-reconcile", object=R1)
    b.event("controller_stopped")
    assert_fails_at(judge("K3", b.context()), later)


def test_k3_unknown_without_reconcile_events() -> None:
    b = restart_trace()
    b.at(600).event("controller_stopped")
    assert judge("K3", b.context()).result == "unknown"


# -- robustness and the reference engine ----------------------------------------------------------------
def test_partial_traces_never_crash_the_checkers() -> None:
    b = TraceBuilder(profile="kratix-2026.08", with_config=False)
    b.event("job_created", job="orphan")
    b.event("pod_created", pod="p", job="nobody")
    b.event("container_started", pod="p", container="x", attempt="two")
    b.event("container_exited", pod="p", container="x", exit_code=1)
    b.event("job_failed", job="orphan")
    b.event("label_set", object=R1, label=SUSPENDED)
    b.event("finalizer_removed", object=R1)
    b.event("reconcile", object=R1)
    b.event("controller_started")
    b.event("object_removed", object=PROMISE)
    for verdict in run_checkers(b.context(), MY_RULES):
        assert "checker raised" not in verdict.message, (verdict.rule, verdict.message)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_reference_engine_passes_on_every_scenario(path: Path) -> None:
    scenario, promise = load_scenario(path)
    for seed in (1, 2, 3):
        trace = Simulation(scenario, seed=seed, promise=promise).run()
        ctx = CheckContext(trace.header, trace.events, pipelines_of(promise))
        failed = [(v.rule, v.message, v.event) for v in run_checkers(ctx, MY_RULES) if v.result != "pass"]
        assert not failed, f"seed {seed}: {failed}"
