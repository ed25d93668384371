"""Kratix's own tests (reference section 10), each reproduced as a scenario and checked on the trace.

Test names follow the Kratix test they mirror (lib/workflow/reconciler_test.go, the dynamic resource request
controller test and the Promise controller test). Times are computed by hand from the default timings: a
configure Job created at ``t`` runs reader [t, t+1], a 5 s user container [t+1, t+6], work-writer [t+6, t+7],
status-writer [t+7, t+8] and is Complete at t+9 (the Job controller's 1 s sync batch).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from engine_helpers import (
    PROMISE_KEY,
    R1,
    after,
    conditions,
    containers,
    finished,
    first,
    job_pipelines,
    job_times,
    jobs,
    key,
    labels,
    of,
    pipeline,
    promise,
    simulate,
    simulate_with_state,
)

from sim.cluster.objects import (
    BINDING_CLEANUP_FINALIZER,
    CONFIGURE_COMPLETED,
    DELETE_COMPLETED,
    DELETE_WORKFLOWS_FINALIZER,
    MANUAL_LABEL,
    PAUSED_LABEL,
    RECONCILED,
    RUN_FROM_START_LABEL,
    SUSPENDED_LABEL,
    WORK_CLEANUP_FINALIZER,
    WORKFLOWS_CLEANUP_FINALIZER,
)
from sim.cluster.steps import selectors_problem, workflow_control
from sim.executors.base import WORKFLOW_CONTROL_FILE, PodVolumes
from sim.simulation import Simulation
from sim.trace import Event, Trace

P3 = promise(configure=("pipe-a", "pipe-b", "pipe-c"), delete=("pipe-d",))
JOB_S = 9  # one configure Job with a 5 s container, creation to Complete


def phases(trace: Trace, obj: str = R1) -> list[list[str]]:
    return [e["phases"] for e in of(trace, "phases_set", obj)]


def reconciles(trace: Trace, obj: str = R1) -> list[Event]:
    return of(trace, "reconcile", obj)


# -- serial order (W1) -----------------------------------------------------------------------------------------
def test_triggers_one_job_after_the_other_until_all_jobs_completes() -> None:
    """W1/W3/W8: the Job for pipeline i+1 is created only once pipeline i's Job completed; one Job at a time."""
    trace = simulate(P3)
    created = jobs(trace)
    assert [e["pipeline"] for e in created] == ["pipe-a", "pipe-b", "pipe-c"]
    assert [e["t"] for e in created] == [0, 9, 18]
    for previous, nxt in itertools.pairwise(created):
        done = finished(trace, previous["job"])
        assert done["event"] == "job_completed"
        assert (done["t"], done["seq"] < nxt["seq"]) == (nxt["t"], True)
    # W3: never two running Jobs for the object
    ends = [finished(trace, e["job"]) for e in created]
    assert all(end["seq"] < nxt["seq"] for end, nxt in zip(ends, created[1:], strict=False))
    # W8: completion only after the last pipeline succeeded, then nothing more within the interval
    completed = [e for e in conditions(trace, CONFIGURE_COMPLETED) if e["status"] == "True"]
    assert [e["t"] for e in completed] == [26]
    assert completed[0]["seq"] > created[-1]["seq"]
    assert phases(trace)[-1] == ["Succeeded", "Succeeded", "Succeeded"]


# -- halt on failure (W4) --------------------------------------------------------------------------------------
# pipe-b always exits 1: OnFailure, backoffLimit 6 -> 7 executions starting at 10, 15, 30, 55, 100, 185, 350 and
# the Job fails one sync batch after the 6th restart: t = 351. Two controller restarts force later reconciles.
FAILED_AT = 351


def failing_trace() -> Trace:
    return simulate(P3, behaviour={key("pipe-b"): {"exitCodes": [1]}},
                    faults=[{"kind": "controller-restart", "at": 1000, "downtime": 10},
                            {"kind": "controller-restart", "at": 2000, "downtime": 10}],
                    duration="3h")


def test_the_running_job_has_failed_marks_the_pipeline_as_failed() -> None:
    """W4: the failed pipeline's phase is Failed, later ones Pending; ConfigureWorkflowCompleted=False/Failed."""
    trace = failing_trace()
    failed = first(of(trace, "job_failed"))
    assert (failed["pipeline"], failed["t"], failed["reason"]) == ("pipe-b", FAILED_AT, "BackoffLimitExceeded")
    assert phases(trace)[-1] == ["Succeeded", "Failed", "Pending"]
    cond = conditions(trace, CONFIGURE_COMPLETED)[-1]
    assert (cond["status"], cond["reason"], cond["message"], cond["t"]) == (
        "False", "ConfigureWorkflowFailed", "A Configure Pipeline has failed: pipe-b", FAILED_AT)


def test_the_running_job_has_failed_updates_the_status() -> None:
    """W4: Reconciled=False and workflowsFailed=1 once the Job failed; lastTransitionTime moved at the failure."""
    _trace, sim = simulate_with_state(P3, behaviour={key("pipe-b"): {"exitCodes": [1]}}, duration="3h")
    obj = sim.cluster.objects[R1]
    reconciled = obj.condition(RECONCILED)
    assert reconciled is not None and (reconciled.status, reconciled.reason) == ("False", "ConfigureWorkflowFailed")
    completed = obj.condition(CONFIGURE_COMPLETED)
    assert completed is not None and completed.last_transition_ms == FAILED_AT * 1000
    assert obj.status_document()["workflowsFailed"] == 1
    assert obj.status_document()["workflowsSucceeded"] == 0
    assert obj.status_document()["workflows"] == 3  # updateWorkflowsCounterStatus: the configure Pipelines


def test_a_completed_workflow_counts_every_pipeline_succeeded() -> None:
    """W8 (updateWorkflowsCounterStatus): workflows = workflowsSucceeded = the number of configure Pipelines."""
    _trace, sim = simulate_with_state(P3)
    status = sim.cluster.objects[R1].status_document()
    assert (status["workflows"], status["workflowsSucceeded"], status["workflowsFailed"]) == (3, 3, 0)


@pytest.mark.parametrize(("written", "expected"), [(None, "Resource requested"), ("shop is live", "shop is live")])
def test_completion_replaces_only_a_pending_message(written: str | None, expected: str) -> None:
    """W8/W16 (MarkAsCompleted): at completion the last status-writer turns message Pending into "Resource
    requested" (Promises: "Promise configured"); a message the pipelines wrote through status.yaml is kept."""
    status = {} if written is None else {"status": {"message": written}}
    trace, sim = simulate_with_state(P3, behaviour={key("pipe-c"): status})
    messages = [e["fields"]["message"] for e in of(trace, "status_updated") if "message" in e.get("fields", {})]
    assert messages[-1] == ("Pending" if written else expected)  # the merge set it, not a status update
    assert sim.cluster.objects[R1].message == expected
    assert sim.cluster.objects[PROMISE_KEY].message == "Promise configured"


def test_control_labels_count_only_with_the_value_true() -> None:
    """W5/W6, C1, pause (isLabelSetToTrue): manual-reconciliation or paused set to "false" is no such label: the
    resource runs its workflow once, is not paused, and the label is left as it is."""
    trace, sim = simulate_with_state(P3, resources=[
        {"name": "r1", "labels": {MANUAL_LABEL: "false"}}, {"name": "r2", "labels": {PAUSED_LABEL: "false"}}])
    for obj in (R1, "default/r2"):
        assert job_pipelines(trace, obj) == ["pipe-a", "pipe-b", "pipe-c"]
        assert {e["reason"] for e in reconciles(trace, obj)} & {"paused", "rerun", "suspend-for-manual"} == set()
    assert labels(trace, MANUAL_LABEL) == []
    assert sim.cluster.objects[R1].labels[MANUAL_LABEL] == "false"


def test_the_running_job_has_failed_does_not_create_any_new_jobs_on_the_next_reconciliation() -> None:
    """W4: after the failure, reconciles (restarts) create no Job, start no later pipeline, move no condition."""
    trace = failing_trace()
    failed = first(of(trace, "job_failed"))
    later = after(reconciles(trace), failed["seq"])
    assert {e["reason"] for e in later} == {"halted"}
    assert any(e["t"] >= 1010 for e in later) and any(e["t"] >= 2010 for e in later)  # both restarts reconciled
    assert after(jobs(trace), failed["seq"]) == []
    assert "pipe-c" not in job_pipelines(trace)
    assert [e["t"] for e in after(conditions(trace, CONFIGURE_COMPLETED), failed["seq"])] == [FAILED_AT]


def test_publishes_an_event() -> None:
    """W4: one Warning event names the failed pipeline; later reconciles do not repeat it."""
    trace = failing_trace()
    events = of(trace, "event_recorded")
    assert [(e["t"], e["type"], e["reason"], e["message"]) for e in events] == [
        (FAILED_AT, "Warning", "ConfigureWorkflowFailed", "A Configure Pipeline has failed: pipe-b")]


# -- recovery by the manual label (W5, W6) ---------------------------------------------------------------------
def recovering_trace() -> tuple[Trace, Simulation]:
    # pipe-b fails its 7 executions in the first Job, then succeeds on the 8th (the re-run).
    return simulate_with_state(P3, behaviour={key("pipe-b"): {"exitCodes": [1] * 7 + [0]}},
                               faults=[{"kind": "manual-reconcile", "at": 1000, "target": R1}], duration=3000)


def test_re_triggers_the_first_pipeline_in_the_workflow() -> None:
    """W5/W6: after a failure, the manual label re-runs from pipeline 0 at once and is removed in that step."""
    trace, _ = recovering_trace()
    failed = first(of(trace, "job_failed"))
    rerun = after(jobs(trace), failed["seq"])
    assert [(e["t"], e["pipeline"], e["pipeline_index"]) for e in rerun][:1] == [(1000, "pipe-a", 0)]
    assert labels(trace, MANUAL_LABEL) == [("label_set", 1000), ("label_removed", 1000)]


def test_marks_the_configure_workflow_as_running_again() -> None:
    """W8: the re-run's Job creation sets Pending, Reconciled=Unknown, PipelinesInProgress and resets the phases."""
    trace, _ = recovering_trace()
    at_rerun = [e for e in trace.events if e.get("object") == R1 and e["t"] == 1000]
    got = {(e["type"], e["status"], e["reason"]) for e in at_rerun if e["event"] == "condition_set"}
    assert got == {(RECONCILED, "Unknown", "WorkflowPending"),
                   (CONFIGURE_COMPLETED, "False", "PipelinesInProgress")}
    assert [e["phases"] for e in at_rerun if e["event"] == "phases_set"] == [["Running", "Pending", "Pending"]]
    updated = [e for e in at_rerun if e["event"] == "status_updated"]
    assert updated and updated[0]["fields"]["workflowsFailed"] == 0  # workflowsFailed back to 0


def test_previously_failing_job_succeeds() -> None:
    """W5/W8: the re-run passes the previously failing pipeline and completes the workflow."""
    trace, sim = recovering_trace()
    assert job_times(trace) == [0, 9, 1000, 1009, 1018]
    assert job_pipelines(trace) == ["pipe-a", "pipe-b", "pipe-a", "pipe-b", "pipe-c"]
    rerun_b = jobs(trace)[3]
    assert finished(trace, rerun_b["job"])["event"] == "job_completed"
    assert [c["exit_code"] for c in containers(trace, rerun_b["job"], "container_exited")
            if c["container"] == "step-1"] == [0]
    assert [(e["t"], e["status"]) for e in conditions(trace, CONFIGURE_COMPLETED)][-1] == (1026, "True")
    obj = sim.cluster.objects[R1]
    assert (obj.workflows_failed, obj.workflows_succeeded) == (0, 3)  # every one of the 3 Pipelines


# -- spec change (W5, W7) --------------------------------------------------------------------------------------
def test_spec_change_triggers_the_first_pipeline() -> None:
    """W5: a spec change (new kratix.io/hash) after completion re-runs the workflow from pipeline 0."""
    trace = simulate(P3, faults=[{"kind": "update-resource", "at": 1000, "target": R1, "spec": {"size": 2}}])
    created = jobs(trace)
    assert [(e["t"], e["pipeline"]) for e in created[3:]] == [(1000, "pipe-a"), (1009, "pipe-b"), (1018, "pipe-c")]
    old_hash, new_hash = created[0]["hash"], created[3]["hash"]
    assert old_hash != new_hash
    assert {e["hash"] for e in created[3:]} == {new_hash}


def test_re_runs_all_pipelines_in_the_workflow() -> None:
    """W5: with older Jobs at the current hash but a newest Job at another, every pipeline re-runs from 0."""
    trace = simulate(P3, faults=[
        {"kind": "update-resource", "at": 1000, "target": R1, "spec": {"size": 2}},
        {"kind": "update-resource", "at": 2000, "target": R1, "spec": {"size": None}},  # back to the original spec
    ])
    created = jobs(trace)
    assert [e["t"] for e in created] == [0, 9, 18, 1000, 1009, 1018, 2000, 2009, 2018]
    original = created[0]["hash"]
    assert [e["hash"] == original for e in created] == [True] * 3 + [False] * 3 + [True] * 3
    assert [e["pipeline"] for e in created[6:]] == ["pipe-a", "pipe-b", "pipe-c"]


# pipe-a runs 100 s: created 0, Complete at 104; the spec changes at 50, mid-flight.
def spec_change_mid_flight(profile: str | None = None) -> Trace:
    return simulate(P3, behaviour={key("pipe-a"): {"duration": 100}},
                    faults=[{"kind": "update-resource", "at": 50, "target": R1, "spec": {"size": 2}}],
                    kratix={"profile": profile} if profile else None)


def test_does_not_create_a_new_job() -> None:
    """W7/W3: while the old run's Job is running, the spec change creates no Job."""
    trace = spec_change_mid_flight()
    old = jobs(trace)[0]
    done = finished(trace, old["job"])
    assert done["t"] == 104
    assert [e for e in jobs(trace) if e["t"] >= 50 and e["seq"] < done["seq"]] == []
    assert [e["reason"] for e in reconciles(trace) if e["t"] == 50] == ["wait-running"]


def test_waits_for_the_previous_job_to_complete_without_suspending_it() -> None:
    """W7: the running Job is not suspended; the new run starts at pipeline 0 when it ends."""
    trace = spec_change_mid_flight()
    old, new = jobs(trace)[:2]
    assert trace.named("job_suspend_requested", "job_suspended") == []
    done = finished(trace, old["job"])
    assert done["event"] == "job_completed"
    assert (new["t"], new["pipeline"], new["pipeline_index"]) == (104, "pipe-a", 0)
    assert new["seq"] > done["seq"] and new["hash"] != old["hash"]


def test_never_triggers_the_next_job_in_the_outdated_workflow() -> None:
    """W7: no later pipeline of the outdated run ever starts; every later Job carries the new hash."""
    trace = spec_change_mid_flight()
    created = jobs(trace)
    old_hash = created[0]["hash"]
    assert [e["hash"] == old_hash for e in created] == [True, False, False, False]
    assert [(e["t"], e["pipeline"]) for e in created] == [(0, "pipe-a"), (104, "pipe-a"), (208, "pipe-b"),
                                                          (217, "pipe-c")]


def test_spec_change_suspends_the_running_job_in_the_kratix_2025_profile() -> None:
    """W7 (profile kratix-2025): the spec change suspends the running Job; the new run starts when it stops."""
    trace = spec_change_mid_flight("kratix-2025")
    old = jobs(trace)[0]
    assert [(e["t"], e["job"]) for e in trace.named("job_suspend_requested")] == [(50, old["job"])]
    stopped = finished(trace, old["job"])
    assert (stopped["event"], stopped["t"], stopped["reason"], stopped["message"]) == (
        "job_suspended", 51, "JobSuspended", "Job suspended")  # J4
    assert [(e["t"], e["pipeline"]) for e in jobs(trace)[1:]] == [(51, "pipe-a"), (155, "pipe-b"), (164, "pipe-c")]


# -- manual label while a Job runs (W6) ------------------------------------------------------------------------
# pipe-b runs 100 s (created 9); the manual label arrives at 50.
def manual_mid_flight() -> Trace:
    return simulate(P3, behaviour={key("pipe-b"): {"duration": 100}},
                    faults=[{"kind": "manual-reconcile", "at": 50, "target": R1}], duration=1000)


def test_suspends_the_current_job() -> None:
    """W6/J4: the manual label makes Kratix suspend the running Job; its pod is stopped one sync batch later."""
    trace = manual_mid_flight()
    running = jobs(trace)[1]
    assert running["pipeline"] == "pipe-b"
    assert [(e["t"], e["job"]) for e in trace.named("job_suspend_requested")] == [(50, running["job"])]
    stopped = finished(trace, running["job"])
    assert (stopped["event"], stopped["t"]) == ("job_suspended", 51)
    killed = containers(trace, running["job"], "container_exited")[-1]
    assert (killed["container"], killed["exit_code"], killed["t"]) == ("step-1", 137, 51)


def test_aborts_the_reconciliation_loop() -> None:
    """W6: the reconcile that suspends creates nothing; the next run starts at pipeline 0 after the suspension."""
    trace = manual_mid_flight()
    at_50 = [e for e in trace.events if e.get("object") == R1 and e["t"] == 50]
    assert [e["reason"] for e in at_50 if e["event"] == "reconcile"] == ["suspend-for-manual"]
    assert [e for e in at_50 if e["event"] == "job_created"] == []
    stopped = first(trace.named("job_suspended"))
    assert [(e["t"], e["pipeline"]) for e in after(jobs(trace), stopped["seq"])] == [
        (51, "pipe-a"), (60, "pipe-b"), (164, "pipe-c")]
    assert [e["pipeline"] for e in jobs(trace) if e["seq"] < stopped["seq"]] == ["pipe-a", "pipe-b"]


def test_does_not_remove_the_manual_reconciliation_label_from_the_parent_while_waiting() -> None:
    """W6: the label stays while the Job is being suspended; it goes in the step that creates pipeline 0's Job."""
    trace = manual_mid_flight()
    assert labels(trace, MANUAL_LABEL) == [("label_set", 50), ("label_removed", 51)]
    removed = first(of(trace, "label_removed", label=MANUAL_LABEL))
    stopped = first(trace.named("job_suspended"))
    new_job = first(after(jobs(trace), stopped["seq"]))
    assert stopped["seq"] < removed["seq"] < new_job["seq"]


def test_re_triggers_all_the_pipelines_removing_the_label() -> None:
    """W6: with no Job running, the label starts pipeline 0 at once, is removed, and every pipeline runs."""
    trace = simulate(P3, faults=[{"kind": "manual-reconcile", "at": 1000, "target": R1}])
    assert labels(trace, MANUAL_LABEL) == [("label_set", 1000), ("label_removed", 1000)]
    assert [(e["t"], e["pipeline"]) for e in jobs(trace)[3:]] == [(1000, "pipe-a"), (1009, "pipe-b"),
                                                                  (1018, "pipe-c")]
    assert trace.named("job_suspend_requested") == []


# -- run-from-start (W5, W12) ----------------------------------------------------------------------------------
def test_waits_for_the_running_job() -> None:
    """W5/W12: run-from-start (from kratix.io/reconcile-resources) waits for the running Job, never suspends it."""
    trace = simulate(P3, behaviour={key("pipe-a"): {"duration": 100}},
                     faults=[{"kind": "reconcile-resources", "at": 50, "target": "promise"}], duration=1000)
    assert labels(trace, RUN_FROM_START_LABEL) == [("label_set", 50), ("label_removed", 104)]
    assert trace.named("job_suspend_requested") == []
    old = jobs(trace)[0]
    assert finished(trace, old["job"])["t"] == 104
    assert [(e["t"], e["pipeline"]) for e in jobs(trace)[1:]] == [(104, "pipe-a"), (208, "pipe-b"), (217, "pipe-c")]


def test_restarts_the_workflow_from_the_first_pipeline_and_removes_the_label() -> None:
    """W5/C1: run-from-start (set on unpause) re-runs from pipeline 0 and is removed when that Job is created."""
    trace = simulate(P3, faults=[{"kind": "pause", "at": 500, "target": R1},
                                 {"kind": "unpause", "at": 1000, "target": R1}])
    assert labels(trace, RUN_FROM_START_LABEL) == [("label_set", 1000), ("label_removed", 1000)]
    removed = first(of(trace, "label_removed", label=RUN_FROM_START_LABEL))
    rerun = jobs(trace)[3:]
    assert removed["seq"] < rerun[0]["seq"]
    assert [(e["t"], e["pipeline"]) for e in rerun] == [(1000, "pipe-a"), (1009, "pipe-b"), (1018, "pipe-c")]


# -- retention (W14) -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("keep", [None, 2])
def test_deletes_the_oldest_jobs(keep: int | None) -> None:
    """W14: after each completed run only the newest numberOfJobsToKeep (default 5) Jobs per pipeline remain."""
    trace = simulate(promise(configure=("pipe-a", "pipe-b")),
                     faults=[{"kind": "manual-reconcile", "every": 100, "until": 700, "target": R1}],
                     kratix={"numberOfJobsToKeep": keep} if keep else None, duration=1000)
    kept = keep or 5
    created = jobs(trace)
    assert len(created) == 16  # 8 runs of 2 pipelines
    for pipe in ("pipe-a", "pipe-b"):
        names = [e["job"] for e in created if e["pipeline"] == pipe]
        deleted = [e for e in of(trace, "job_deleted") if e["pipeline"] == pipe]
        assert {e["reason"] for e in deleted} == {"retention"}
        assert [e["job"] for e in deleted] == names[: len(names) - kept]  # oldest first
    # pruning happens when a run completes, never while a Job of the object runs
    completions = {e["t"] for e in of(trace, "reconcile") if e["reason"] == "done"}
    assert {e["t"] for e in of(trace, "job_deleted")} <= completions


def test_deletes_the_oldest_failed_jobs() -> None:
    """W14: failed runs are pruned too (at the failure), keeping the newest 5 failed Jobs."""
    failing = promise(configure=(pipeline("pipe-a", jobOptions={"backoffLimit": 0}),))
    trace = simulate(failing, behaviour={key("pipe-a"): {"exitCodes": [1]}},
                     faults=[{"kind": "manual-reconcile", "every": 100, "until": 700, "target": R1}], duration=1000)
    created = jobs(trace)
    assert len(created) == len(of(trace, "job_failed")) == 8
    deleted = of(trace, "job_deleted")
    assert [e["job"] for e in deleted] == [e["job"] for e in created[:3]]
    assert {e["reason"] for e in deleted} == {"retention"}
    # each prune happens at a failure (t = run start + 7: reader 1 s, container 5 s, sync 1 s)
    assert [e["t"] for e in deleted] == [507, 607, 707]


# -- workflow control (C1) -------------------------------------------------------------------------------------
def test_starts_from_the_suspended_pipeline() -> None:
    """C1: a suspended workflow resumes at the suspended pipeline (not pipeline 0) when its label is removed."""
    trace = simulate(P3, behaviour={key("pipe-b"): {"workflowControl": {"suspend": True, "message": "wait"}}},
                     faults=[{"kind": "resume", "at": 500, "target": R1}], duration=1000)
    assert labels(trace, SUSPENDED_LABEL)[:2] == [("label_set", 17), ("label_removed", 500)]
    assert [e["phases"] for e in of(trace, "phases_set") if e["t"] == 17] == [["Succeeded", "Suspended", "Pending"]]
    assert [(e["t"], e["pipeline"], e["pipeline_index"]) for e in jobs(trace)] == [
        (0, "pipe-a", 0), (9, "pipe-b", 1), (500, "pipe-b", 1)]
    assert of(trace, "work_written", pipeline="pipe-b") == []  # C1/W15: a suspending run writes no Work


# -- delete (D1-D5) --------------------------------------------------------------------------------------------
P_DELETE = promise(configure=("pipe-a", "pipe-b"), delete=("pipe-d", "pipe-e"))


def test_reconciles_the_first_pipeline() -> None:
    """D1/D3: deletion creates one delete Job, for the first delete Pipeline only."""
    trace = simulate(P_DELETE, faults=[{"kind": "delete-resource", "at": 100, "target": R1}])
    deletes = jobs(trace, action="delete")
    assert [(e["t"], e["pipeline"], e["pipeline_index"]) for e in deletes] == [(100, "pipe-d", 0)]
    assert [e["reason"] for e in reconciles(trace) if e["t"] == 101.1] == ["delete-running"]


@pytest.mark.parametrize("with_delete_pipeline", [True, False])
def test_considers_the_workflow_as_completed(with_delete_pipeline: bool) -> None:
    """D5: once the delete Job completes (or with no delete Pipeline) the finalizers go in order, then the object."""
    doc = P_DELETE if with_delete_pipeline else promise(configure=("pipe-a", "pipe-b"))
    trace = simulate(doc, faults=[{"kind": "delete-resource", "at": 100, "target": R1}])
    removed_finalizers = [(e["t"], e["finalizer"]) for e in of(trace, "finalizer_removed")]
    if with_delete_pipeline:
        # delete Job: reader [100, 101], pipe-d [101, 106], status-writer [106, 107], Complete at 108
        done = first(jobs(trace, action="delete"))
        assert finished(trace, done["job"])["t"] == 108
        assert [(e["t"], e["status"], e["reason"]) for e in conditions(trace, DELETE_COMPLETED)] == [
            (100, "False", "DeleteWorkflowInProgress"), (108, "True", "PipelinesExecutedSuccessfully")]
        order = [DELETE_WORKFLOWS_FINALIZER, WORK_CLEANUP_FINALIZER, WORKFLOWS_CLEANUP_FINALIZER,
                 BINDING_CLEANUP_FINALIZER]
        at = 108
    else:
        assert jobs(trace, action="delete") == []
        order = [WORK_CLEANUP_FINALIZER, WORKFLOWS_CLEANUP_FINALIZER, BINDING_CLEANUP_FINALIZER]
        at = 100
    assert removed_finalizers == [(at, f) for f in order]
    assert [(e["t"], e["reason"]) for e in of(trace, "work_deleted")] == [(at, "work-cleanup")] * 2
    assert [e["t"] for e in of(trace, "object_removed")] == [at]


# The delete Pipeline has backoffLimit 0 and exits [1, 0]: the first delete Job fails; the manual re-run passes.
P_DELETE_FAILS = promise(configure=("pipe-a",), delete=(pipeline("pipe-d", jobOptions={"backoffLimit": 0}),))


def failing_delete() -> Trace:
    return simulate(P_DELETE_FAILS, behaviour={key("pipe-d", action="delete"): {"exitCodes": [1, 0]}},
                    faults=[{"kind": "delete-resource", "at": 100, "target": R1},
                            {"kind": "manual-reconcile", "at": 2000, "target": R1}], duration=3000)


def test_returns_an_error() -> None:
    """D4/K2: a failed delete Job -> DeleteWorkflowFailed, a Warning, error back-off; no new Job, no removal."""
    trace = failing_delete()
    failed = first(of(trace, "job_failed"))
    assert failed["t"] == 107  # reader [100, 101], pipe-d fails at 106, restart, Job Failed at 107
    assert [(e["status"], e["reason"], e["t"]) for e in conditions(trace, DELETE_COMPLETED)][1] == (
        "False", "DeleteWorkflowFailed", 107)
    before_retrigger = [e for e in of(trace, "event_recorded") if e["t"] < 2000]
    assert [(e["type"], e["reason"]) for e in before_retrigger] == [("Warning", "DeleteWorkflowFailed")]
    retries = [e for e in reconciles(trace) if e["seq"] > failed["seq"] and e["t"] < 2000]
    assert {e["reason"] for e in retries} == {"delete-failed"}
    gaps = [round(b["t"] * 1000) - round(a["t"] * 1000) for a, b in itertools.pairwise(retries)]
    gaps = [g for g in gaps if g > 0]
    assert gaps[0] == 5 and len(gaps) > 10
    assert all(b == 2 * a for a, b in itertools.pairwise(gaps[1:]))  # per-item exponential back-off
    assert [e for e in jobs(trace, action="delete") if failed["seq"] < e["seq"] and e["t"] < 2000] == []
    assert [e["t"] for e in of(trace, "object_removed")] == [2008]


def test_re_triggers_the_pipeline() -> None:
    """D4: the manual label creates a new delete Job; when it completes the object is removed."""
    trace = failing_delete()
    deletes = jobs(trace, action="delete")
    assert [(e["t"], e["pipeline"]) for e in deletes] == [(100, "pipe-d"), (2000, "pipe-d")]
    assert finished(trace, deletes[1]["job"])["event"] == "job_completed"
    assert [e["t"] for e in of(trace, "object_removed")] == [2008]


def test_deletes_the_label() -> None:
    """D4: the manual label is removed in the step that creates the new delete Job."""
    trace = failing_delete()
    assert labels(trace, MANUAL_LABEL) == [("label_set", 2000), ("label_removed", 2000)]
    removed = first(of(trace, "label_removed", label=MANUAL_LABEL))
    assert removed["seq"] < jobs(trace, action="delete")[1]["seq"]


def test_fires_an_event() -> None:
    """D4 (Kratix test): re-triggering the delete Pipeline fires a Normal PipelineStarted event."""
    trace = failing_delete()
    started = [e for e in of(trace, "event_recorded") if e["t"] == 2000]
    assert [(e["type"], e["reason"], e["message"]) for e in started] == [
        ("Normal", "PipelineStarted", "Delete Pipeline started: pipe-d")]


def test_waits_for_configure_pipeline_to_finish_before_starting_delete_pipeline() -> None:
    """D2: the delete Job is created only after the running configure Job finished; no later pipeline starts."""
    trace = simulate(promise(configure=("pipe-a", "pipe-b"), delete=("pipe-d",)),
                     behaviour={key("pipe-a"): {"duration": 100}},
                     faults=[{"kind": "delete-resource", "at": 50, "target": R1}])
    configure = first(jobs(trace))
    done = finished(trace, configure["job"])
    delete = first(jobs(trace, action="delete"))
    assert (done["event"], done["t"]) == ("job_completed", 104)
    assert (delete["t"], delete["seq"] > done["seq"]) == (104, True)
    assert job_pipelines(trace) == ["pipe-a"]
    assert {e["reason"] for e in reconciles(trace) if 50 <= e["t"] < 104} == {"delete-waits-for-configure"}


def test_a_delete_pipeline_removed_by_a_promise_update_does_not_leave_the_object_stuck() -> None:
    """D5: the resource got kratix.io/delete-workflows while the Promise had a delete pipeline; a Promise update
    removed it, so on deletion the finalizer is removed without a Job and the other finalizers follow."""
    trace = simulate(promise(configure=("pipe-a",), delete=("pipe-d",)),
                     faults=[{"kind": "update-promise", "at": 100, "target": "promise",
                              "spec": {"workflows": {"resource": {"delete": None}}}},
                             {"kind": "delete-resource", "at": 300, "target": R1}], duration=600)
    assert DELETE_WORKFLOWS_FINALIZER in first(of(trace, "finalizers_added"))["finalizers"]
    assert jobs(trace, action="delete") == []
    removed = first(of(trace, "finalizer_removed"))
    assert (removed["finalizer"], removed["t"]) == (DELETE_WORKFLOWS_FINALIZER, 300)
    assert [e["t"] for e in of(trace, "object_removed")] == [300]


RETRY_GATE = {"retryAfter": "30s", "message": "waiting for the gate"}


def test_a_delete_pipeline_that_asks_to_retry_runs_again_and_keeps_the_object() -> None:
    """Section 4 + C1 (Kratix system test "keep on retrying"): a delete pipeline writing retryAfter keeps the
    object and its Works with DeleteWorkflowCompleted=False/DeleteWorkflowSuspended; the same pipeline runs
    again nextRetryAt later (attempts counted), until a run asks nothing and the deletion completes."""
    trace = simulate(promise(configure=("pipe-a",), delete=("pipe-d",)),
                     behaviour={key("pipe-d", action="delete"): {"workflowControl": [RETRY_GATE, RETRY_GATE, None]}},
                     faults=[{"kind": "delete-resource", "at": 100, "target": R1}], duration=600)
    # reader [100, 101], pipe-d [101, 106], status-writer [106, 107] asks: nextRetryAt 137; Job Complete at 108
    assert [e["t"] for e in jobs(trace, action="delete")] == [100, 137, 174]
    assert [(e["t"], e["reason"]) for e in conditions(trace, DELETE_COMPLETED)] == [
        (100, "DeleteWorkflowInProgress"), (108, "DeleteWorkflowSuspended"), (137, "DeleteWorkflowInProgress"),
        (145, "DeleteWorkflowSuspended"), (174, "DeleteWorkflowInProgress"), (182, "PipelinesExecutedSuccessfully")]
    assert [(e["t"], e["phases"]) for e in of(trace, "phases_set") if e.get("action") == "delete"] == [
        (107, ["Suspended"]), (137, ["Running"]), (144, ["Suspended"]), (174, ["Running"])]
    assert labels(trace, SUSPENDED_LABEL) == [("label_set", 107), ("label_removed", 137), ("label_set", 144),
                                              ("label_removed", 174)]
    assert [e["t"] for e in of(trace, "work_deleted")] == [182]  # D5 work-cleanup only after it completed
    assert [e["t"] for e in of(trace, "object_removed")] == [182]


def test_a_suspended_delete_pipeline_waits_for_the_label_to_be_removed() -> None:
    """Section 4 + C1: suspend: true keeps the object, its phase Suspended (attempts 1) in
    status.kratix.workflows.delete; removing the label (fault resume) runs the delete pipeline again."""
    approve = {"suspend": True, "message": "waiting for approval"}
    doc = promise(configure=("pipe-a",), delete=("pipe-d",))
    behaviour = {key("pipe-d", action="delete"): {"workflowControl": [approve, None]}}
    waiting, sim = simulate_with_state(doc, behaviour=behaviour,
                                       faults=[{"kind": "delete-resource", "at": 100, "target": R1}], duration=290)
    late = [e for e in reconciles(waiting) if e["t"] >= 108]
    assert {e["reason"] for e in late} == {"delete-suspended"}
    assert max(e["t"] for e in late) == 116.1  # the delete-running poll already queued (15 s after 101.1); no more
    assert sim.cluster.objects[R1].status_document()["kratix"]["workflows"]["delete"] == {"pipelines": [
        {"name": "pipe-d", "phase": "Suspended", "message": "waiting for approval", "attempts": 1}]}
    resumed = simulate(doc, behaviour=behaviour, duration=600,
                       faults=[{"kind": "delete-resource", "at": 100, "target": R1},
                               {"kind": "resume", "at": 300, "target": R1}])
    assert [e["t"] for e in jobs(resumed, action="delete")] == [100, 300]
    assert [e["t"] for e in of(resumed, "object_removed")] == [308]


# -- reconciliation interval (W9; dynamic_resource_request_controller_test.go) ---------------------------------
P_INTERVAL = promise(configure=("pipe-a", "pipe-b"), interval="1h")


def test_re_runs_the_resource_configure_workflows() -> None:
    """W9: when the interval is reached the workflow re-runs from pipeline 0 (period interval + run + sync)."""
    trace = simulate(P_INTERVAL, duration="4h")
    # run: pipe-a at s, pipe-b at s+9, ConfigureWorkflowCompleted=True at s+17, Complete at s+18;
    # the requeue fires 3600 s after that: age 3601 s > interval -> manual label -> pipe-a.
    starts = [e["t"] for e in jobs(trace) if e["pipeline"] == "pipe-a"]
    assert starts == [0, 3618, 7236, 10854]
    assert labels(trace, MANUAL_LABEL) == [(event, t) for t in starts[1:] for event in ("label_set", "label_removed")]


FAILING_FAST = promise(configure=("pipe-a", pipeline("pipe-b", jobOptions={"backoffLimit": 0})), interval="1h")


@pytest.mark.parametrize("reconcile_after_failure", [True, None])
def test_re_runs_the_resource_configure_workflows_after_a_failure_when_reconcile_after_failure_is_true(
        reconcile_after_failure: bool | None) -> None:
    """W9: with reconcileAfterFailure true (the default) a failed workflow re-runs one interval after failing."""
    kratix = {} if reconcile_after_failure is None else {"reconcileAfterFailure": reconcile_after_failure}
    trace = simulate(FAILING_FAST, behaviour={key("pipe-b"): {"exitCodes": [1]}}, kratix=kratix, duration="3h")
    # pipe-b: created s+9, fails at s+15, immediate restart, Job Failed at s+16. The failure's condition has
    # lastTransitionTime s+16 (whole seconds); the requeue fires interval after the status write (+0.1 s).
    failures = [e["t"] for e in of(trace, "job_failed")]
    starts = [e["t"] for e in jobs(trace) if e["pipeline"] == "pipe-a"]
    assert starts == [0, 3616.1, 7232.2]
    assert failures == [16, 3632.1, 7248.2]
    for failed_at, start in zip(failures, starts[1:], strict=False):
        assert start - int(failed_at) > 3600  # W9: the age test is strict


def test_does_not_re_run_a_failed_workflow_when_reconcile_after_failure_is_false() -> None:
    """W9: with reconcileAfterFailure false a failed workflow is never re-run by the interval."""
    trace = simulate(FAILING_FAST, behaviour={key("pipe-b"): {"exitCodes": [1]}},
                     kratix={"reconcileAfterFailure": False}, duration="5h")
    assert job_times(trace) == [0, 9]
    assert labels(trace, MANUAL_LABEL) == []


# -- Promise update (W12; promise_controller_test.go) ----------------------------------------------------------
def test_re_runs_all_resource_configure_workflows() -> None:
    """W12: a Promise spec change re-runs the Promise's configure workflow, then every resource from pipeline 0."""
    doc = promise(configure=("pipe-a", "pipe-b"), promise_configure=("promise-pipe",))
    names = ["default/r-0", "default/r-1", "default/r-2"]
    trace = simulate(doc, resources=[{"name": "r", "count": 3}],
                     behaviour={key("promise-pipe", workflow="promise"): {"duration": 30}},
                     faults=[{"kind": "update-promise", "at": 200, "target": "promise",
                              "spec": {"destinationSelectors": [{"matchLabels": {"env": "prod"}}]}}],
                     duration=1000)
    promise_jobs = jobs(trace, PROMISE_KEY)
    assert [e["t"] for e in promise_jobs] == [0, 200]
    promise_done = finished(trace, promise_jobs[1]["job"])
    assert promise_done["t"] == 234  # reader 1 + 30 + work-writer 1 + status-writer 1 + sync 1
    for obj in names:
        first_run, rerun = jobs(trace, obj)[:2], jobs(trace, obj)[2:]
        assert [e["pipeline"] for e in rerun] == ["pipe-a", "pipe-b"]
        assert rerun[0]["seq"] > promise_done["seq"]
        assert rerun[0]["hash"] != first_run[0]["hash"]
        assert labels(trace, RUN_FROM_START_LABEL, obj)[0] == ("label_set", 234)
    assert [jobs(trace, obj)[2]["t"] for obj in names] == [234, 235.1, 236.2]  # K1: one worker, 1.1 s holds


# -- profiles --------------------------------------------------------------------------------------------------
def test_controller_restart_re_runs_resources_in_the_seed_doc_profile() -> None:
    """W10 (profile seed-doc): a controller restart re-runs every resource's configure workflow from pipeline 0."""
    trace = simulate(P3, faults=[{"kind": "controller-restart", "at": 1000, "downtime": 10}],
                     kratix={"profile": "seed-doc"})
    assert [(e["t"], e["pipeline"]) for e in jobs(trace)] == [
        (0, "pipe-a"), (9, "pipe-b"), (18, "pipe-c"), (1010, "pipe-a"), (1019, "pipe-b"), (1028, "pipe-c")]
    assert {e["restart_policy"] for e in jobs(trace)} == {"Never"}
    assert labels(trace, MANUAL_LABEL) == [("label_set", 1010), ("label_removed", 1010)]


def test_controller_restart_does_not_re_run_resources_in_the_default_profile() -> None:
    """W10: in kratix-2026.08 a controller restart does not re-run a completed workflow."""
    trace = simulate(P3, faults=[{"kind": "controller-restart", "at": 1000, "downtime": 10}])
    assert job_times(trace) == [0, 9, 18]
    assert [e["reason"] for e in reconciles(trace) if e["t"] == 1010] == ["done"]


def test_cancels_the_current_job() -> None:
    """W6/D4 (Kratix test "cancels the current job"): the manual label suspends a running delete Job; a new
    delete Job is created once it stopped, and the label is removed in that step."""
    trace = simulate(P_DELETE_FAILS, behaviour={key("pipe-d", action="delete"): {"duration": 100}},
                     faults=[{"kind": "delete-resource", "at": 100, "target": R1},
                             {"kind": "manual-reconcile", "at": 120, "target": R1}], duration=3000)
    first_delete, second_delete = jobs(trace, action="delete")
    requested = first(of(trace, "job_suspend_requested", job=first_delete["job"]))
    suspended = finished(trace, first_delete["job"])
    assert (requested["t"], suspended["event"], suspended["t"]) == (120, "job_suspended", 121)
    assert second_delete["t"] == 121 and second_delete["seq"] > suspended["seq"]
    assert labels(trace, MANUAL_LABEL) == [("label_set", 120), ("label_removed", 121)]
    assert finished(trace, second_delete["job"])["event"] == "job_completed"


@pytest.mark.parametrize(("selectors", "problem"), [
    ([{"matchLabels": {"env": "dev"}}, {"directory": "x", "matchLabels": {"env": "prod"}}], None),
    ([{"matchLabels": {"env": "dev"}}, {"matchLabels": {"env": "dev"}}], "duplicate destination selector for the root"),
    ([{"directory": "x/", "matchLabels": {"a": "b"}}, {"directory": "x", "matchLabels": {"a": "c"}}],
     "duplicate destination selector for directory 'x'"),
    ([{"directory": ".", "matchLabels": {"a": "b"}}, {"matchLabels": {"a": "c"}}], "for the root"),
    ([{"directory": "a/b", "matchLabels": {"a": "b"}}], "must be a single directory"),
    ([{"matchLabels": {"replicas": 1}}], "label values must be strings"),
    ([{"matchLabels": {}}], "non-empty matchLabels"),
    ([{"directory": "x"}], "non-empty matchLabels"),
    ([{"matchLabels": 5}], "matchLabels 5 must be a mapping of label to value"),
    (["env=dev"], "destination selector 'env=dev' must be a mapping with matchLabels"),
])
def test_destination_selectors_are_judged_as_the_work_writer_cleans_them(selectors: list[Any],
                                                                           problem: str | None) -> None:
    """P3 (work-writer, filepath.Clean): no directory is the root ".", "x/" is "x"; each at most once; label
    values are strings (a map[string]string)."""
    found = selectors_problem(selectors)
    assert (found is None) if problem is None else (found is not None and problem in found), found


@pytest.mark.parametrize(("control", "asks"), [
    ({"retryAfter": ""}, False), ({"retryAfter": "", "suspend": True}, True), ({"retryAfter": "30s"}, True),
    ({"message": "only a message"}, False),
])
def test_workflow_control_asks_only_for_a_non_empty_retry_after_or_suspend(control: dict[str, Any],
                                                                          asks: bool) -> None:
    """C1/P4 (Kratix: RetryAfter != ""): an empty retryAfter asks for nothing and is no error."""
    parsed, problem = workflow_control(PodVolumes(input_object={}, metadata={WORKFLOW_CONTROL_FILE: control}))
    assert problem is None
    assert (parsed is not None) == asks


@pytest.mark.parametrize(("control", "expected", "problem"), [
    ({"suspend": "true"}, None, "suspend: 'true' must be a boolean"),
    ({"suspend": 1}, None, "must be a boolean"),
    ({"retryAfter": 30}, None, "retryAfter: 30 must be a string"),
    ({"message": 5, "suspend": True}, None, "message: 5 must be a string"),
    ({"Suspend": True, "Message": "m"}, {"message": "m", "suspend": True}, None),
    ({"retryafter": "1m"}, {"message": "", "retry_after_s": 60.0}, None),
    ({"suspend": None, "message": None, "maxAttempts": "x"}, None, None),
    ({"suspend": False}, None, None),
])
def test_workflow_control_is_read_as_kratix_unmarshals_it(control: dict[str, Any], expected: dict[str, Any] | None,
                                                          problem: str | None) -> None:
    """C1/P4: workflow-control.yaml is unmarshalled into Kratix's {Suspend bool, Message string, RetryAfter
    string}: a value of another type fails the pipeline, keys match the fields case-insensitively, null is the
    zero value and unknown keys are ignored."""
    parsed, found = workflow_control(PodVolumes(input_object={}, metadata={WORKFLOW_CONTROL_FILE: control}))
    assert parsed == expected
    assert (found is None) if problem is None else (found is not None and problem in found), found


@pytest.mark.parametrize(("profile", "waits"), [(None, True), ("kratix-2025", False)])
def test_a_resource_waits_for_a_promise_updates_workflow_only_where_the_profile_gates(profile: str | None,
                                                                                     waits: bool) -> None:
    """W12/W13: a resource manually reconciled while its Promise's configure workflow re-runs after an update
    waits for that workflow (kratix-2026.08: the Promise is saved Available=False, Kratix PR #773); in
    kratix-2025 only the first install gates it, so its Job starts at once."""
    doc = promise(configure=("pipe-a",), promise_configure=("promise-pipe",))
    trace = simulate(doc, behaviour={key("promise-pipe", workflow="promise"): {"duration": 30}},
                     faults=[{"kind": "update-promise", "at": 200, "target": "promise",
                              "spec": {"destinationSelectors": [{"matchLabels": {"env": "prod"}}]}},
                             {"kind": "manual-reconcile", "at": 210, "target": R1}],
                     kratix={"profile": profile} if profile else None, duration=1000)
    promise_done = finished(trace, jobs(trace, PROMISE_KEY)[1]["job"])
    assert promise_done["t"] == 234
    rerun = jobs(trace)[1]
    if waits:
        assert (rerun["t"], rerun["seq"] > promise_done["seq"]) == (234, True)
        # marked PromiseAvailable=False (its write brings one more reconcile, which requeues after 60 s) ...
        assert [e["reason"] for e in reconciles(trace) if e["t"] == 210] == ["promise-unavailable"] * 2
        # ... until the fan-out's label wakes it: marked True, then the run starts in the next reconcile
        assert [e["reason"] for e in reconciles(trace, R1) if e["t"] == 234][:2] == ["promise-available", "start"]
    else:
        assert rerun["t"] == 210


def test_restarts_of_one_schedule_within_its_own_downtime_are_skipped() -> None:
    """K3 (faults): a restart every 20 s with 1 min of downtime; the times that fall while the controller is
    down have no effect and leave no fault_injected (this used to crash the run: "Negative delay")."""
    trace = simulate(P3, faults=[{"kind": "controller-restart", "every": 20, "until": 120, "downtime": 60}],
                     duration=600)
    assert [e["t"] for e in trace.named("fault_injected")] == [20, 80]
    assert [(e["event"], e["t"]) for e in trace.named("controller_started", "controller_stopped")] == [
        ("controller_started", 0), ("controller_stopped", 20), ("controller_started", 80),
        ("controller_stopped", 80), ("controller_started", 140)]
