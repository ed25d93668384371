"""Cadence and restarts: W9 (interval), W10 (no spurious runs), W11 (restart resumes), W12/W13 (Promise gating), K1.

Expected times are derived by hand from the reference, not read from the engine: a run of the one-pipeline
Promise below starts at ``s``; reader [s, s+1], the 60 s container [s+1, s+61], work-writer [s+61, s+62],
status-writer [s+62, s+63] sets ConfigureWorkflowCompleted=True (lastTransitionTime s+63), and the Job is
Complete at s+64 (1 s sync batch). The reconcile that sees it requeues after the full interval.
"""

from __future__ import annotations

import itertools
import math

from engine_helpers import (
    PROMISE_KEY,
    R1,
    conditions,
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
)

from sim.cluster.objects import CONFIGURE_COMPLETED, MANUAL_LABEL, RUN_FROM_START_LABEL
from sim.trace import Trace

HOUR = 3600
INTERVAL = 10 * HOUR
HORIZON = 50 * HOUR
TO_CONDITION = 63  # run start -> ConfigureWorkflowCompleted=True
TO_COMPLETE = 64  # run start -> Job Complete
RESTART_EVERY = 3 * HOUR
DOWNTIME = 30

ONE_MINUTE = promise(configure=("pipe-a",))
ONE_MINUTE_BEHAVIOUR = {key("pipe-a"): {"duration": 60}}


def seconds(ms: int) -> int | float:
    """Milliseconds as the trace writes ``t``."""
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def expected_run_starts(restarts: list[float], downtime: float) -> list[float]:
    """W9 by hand: a run is due once now - lastTransitionTime > interval; it starts at the first requeue or
    controller start after that. A restart loses the pending requeue; the restart's reconcile requeues after
    the full interval when the run is not yet due."""
    starts = [0.0]
    while True:
        s = starts[-1]
        due = math.floor(s + TO_CONDITION) + INTERVAL  # whole-second lastTransitionTime; strict test
        pending = s + TO_COMPLETE + INTERVAL
        nxt = None
        for stop in restarts:
            if stop <= s + TO_COMPLETE:
                assert stop < s or stop > s + TO_COMPLETE, "a restart mid-run is outside this model"
                continue
            if pending < stop:
                break
            start = stop + downtime
            if start > due:
                nxt = start
                break
            pending = start + INTERVAL
        if nxt is None:
            assert pending > due
            nxt = pending
        if nxt > HORIZON:
            return starts
        starts.append(nxt)


def run_starts(trace: Trace) -> list[float]:
    return [e["t"] for e in jobs(trace)]


def completion_times(trace: Trace) -> list[float]:
    return [e["t"] for e in conditions(trace, CONFIGURE_COMPLETED) if e["status"] == "True"]


# -- W9 --------------------------------------------------------------------------------------------------------
def test_runs_start_every_interval_plus_run_time_plus_latency() -> None:
    """W9: runs start at 0 and then every interval + run time + 1 s sync batch, never every 2 intervals."""
    trace = simulate(ONE_MINUTE, behaviour=ONE_MINUTE_BEHAVIOUR, duration=HORIZON)
    period = INTERVAL + TO_COMPLETE
    assert run_starts(trace) == [0, period, 2 * period, 3 * period, 4 * period]
    assert run_starts(trace) == expected_run_starts([], 0)
    for condition_at, start in zip(completion_times(trace), run_starts(trace)[1:], strict=False):
        assert start - condition_at > INTERVAL  # never earlier than the interval after the completion condition
    assert labels(trace, MANUAL_LABEL)[::2] == [("label_set", t) for t in run_starts(trace)[1:]]


def test_a_failed_workflow_is_re_run_by_the_interval_when_reconcile_after_failure_is_true() -> None:
    """W9: with reconcileAfterFailure true, a failed run re-runs once the failure condition is older than interval."""
    failing = promise(configure=(pipeline("pipe-a", jobOptions={"backoffLimit": 0}),))
    trace = simulate(failing, behaviour={key("pipe-a"): {"duration": 60, "exitCodes": [1]}},
                     kratix={"reconcileAfterFailure": True}, duration=HORIZON)
    # reader [s, s+1], pipe-a fails at s+61, immediate restart, Job Failed at s+62; the failure's status write
    # returns 0.1 s later and the requeue fires a full interval after that.
    expected_ms, s = [], 0
    while s <= HORIZON * 1000:
        expected_ms.append(s)
        s += 62_000 + INTERVAL * 1000 + 100
    assert run_starts(trace) == [seconds(ms) for ms in expected_ms]
    failures = [e["t"] for e in of(trace, "job_failed")]
    for failed_at, start in zip(failures, run_starts(trace)[1:], strict=False):
        assert INTERVAL < start - math.floor(failed_at) < INTERVAL + 1


def test_a_failed_workflow_is_never_re_run_by_the_interval_when_reconcile_after_failure_is_false() -> None:
    """W9/W4: with reconcileAfterFailure false a failed run is never re-run by the interval."""
    failing = promise(configure=(pipeline("pipe-a", jobOptions={"backoffLimit": 0}),))
    trace = simulate(failing, behaviour={key("pipe-a"): {"duration": 60, "exitCodes": [1]}},
                     kratix={"reconcileAfterFailure": False}, duration=HORIZON,
                     faults=[{"kind": "controller-restart", "every": RESTART_EVERY, "downtime": DOWNTIME}])
    assert run_starts(trace) == [0]
    assert {e["reason"] for e in of(trace, "reconcile") if e["t"] > 62} == {"halted"}


def test_the_interval_does_not_restart_a_suspended_workflow() -> None:
    """C1/W9: a suspended run left PipelinesInProgress, so the interval's age test never restarts it."""
    doc = promise(configure=("pipe-a", "pipe-b", "pipe-c"), interval="1h")
    trace = simulate(doc, behaviour={key("pipe-b"): {"workflowControl": {"suspend": True}}}, duration="6h")
    assert list(zip(job_times(trace), job_pipelines(trace), strict=True)) == [(0, "pipe-a"), (9, "pipe-b")]
    assert labels(trace, MANUAL_LABEL) == []
    assert [(e["status"], e["reason"]) for e in conditions(trace, CONFIGURE_COMPLETED)] == [
        ("False", "PipelinesInProgress")]


# -- W9/W10 with restarts --------------------------------------------------------------------------------------
def restarted_trace() -> Trace:
    return simulate(ONE_MINUTE, behaviour=ONE_MINUTE_BEHAVIOUR, duration=HORIZON,
                    faults=[{"kind": "controller-restart", "every": RESTART_EVERY, "downtime": DOWNTIME}])


def test_restarts_add_no_runs_and_only_delay_the_next_one() -> None:
    """W9/W10: restarts every 3h add no runs; each run starts at the first restart or requeue after it is due."""
    trace = restarted_trace()
    stops = [float(RESTART_EVERY * k) for k in range(1, HORIZON // RESTART_EVERY + 1)]
    assert [e["t"] for e in trace.named("controller_stopped")] == stops
    expected = expected_run_starts(stops, DOWNTIME)
    assert run_starts(trace) == expected
    assert expected == [0, 43230, 86430, 129630, 172830]  # each a controller start: the requeues were lost
    plain = simulate(ONE_MINUTE, behaviour=ONE_MINUTE_BEHAVIOUR, duration=HORIZON)
    assert len(run_starts(trace)) <= len(run_starts(plain))
    starts = run_starts(trace)
    assert all(b - a >= INTERVAL for a, b in itertools.pairwise(starts))
    restarts_at = {e["t"] for e in trace.named("controller_started")}
    for condition_at, start in zip(completion_times(trace), starts[1:], strict=False):
        assert start - condition_at > INTERVAL
        # the run starts at the first controller start after it became due (no earlier restart was due)
        assert start == min(t for t in restarts_at if t - condition_at > INTERVAL)


def test_a_restart_does_not_re_run_a_completed_workflow() -> None:
    """W10: reconciles after each restart find the newest Job complete and create nothing."""
    trace = restarted_trace()
    starts = set(run_starts(trace))
    for started in trace.named("controller_started")[1:]:
        reasons = [e["reason"] for e in of(trace, "reconcile") if e["t"] == started["t"]]
        assert reasons, started
        if started["t"] not in starts:
            assert set(reasons) == {"done"}


# -- W11 -------------------------------------------------------------------------------------------------------
P3 = promise(configure=("pipe-a", "pipe-b", "pipe-c"))
PIPE_B_LONG = {key("pipe-b"): {"duration": 100}}  # pipe-b: created 9, Complete at 113


def test_a_workflow_caught_mid_flight_by_a_restart_continues() -> None:
    """W11: a restart during pipe-b neither re-runs pipe-a nor restarts pipe-b; pipe-c follows pipe-b."""
    trace = simulate(P3, behaviour=PIPE_B_LONG, faults=[{"kind": "controller-restart", "at": 50, "downtime": 10}])
    assert list(zip(job_times(trace), job_pipelines(trace), strict=True)) == [
        (0, "pipe-a"), (9, "pipe-b"), (113, "pipe-c")]
    assert [e["reason"] for e in of(trace, "reconcile") if e["t"] == 60] == ["wait-running"]


def test_a_workflow_whose_job_ended_during_the_downtime_continues_at_the_restart() -> None:
    """W11/K3: pipe-b completes while the controller is down; the restart's initial list starts pipe-c."""
    trace = simulate(P3, behaviour=PIPE_B_LONG, faults=[{"kind": "controller-restart", "at": 50, "downtime": 100}])
    assert finished(trace, jobs(trace)[1]["job"])["t"] == 113
    assert list(zip(job_times(trace), job_pipelines(trace), strict=True)) == [
        (0, "pipe-a"), (9, "pipe-b"), (150, "pipe-c")]


def test_deleted_jobs_and_a_restart_start_again_at_pipeline_0() -> None:
    """W11 (issue #811): with its Jobs deleted during the downtime, the workflow starts again at pipeline 0."""
    trace = simulate(P3, behaviour=PIPE_B_LONG,
                     faults=[{"kind": "controller-restart", "at": 50, "downtime": 10},
                             {"kind": "delete-jobs", "at": 55, "target": R1}])
    assert [(e["t"], e["reason"]) for e in of(trace, "job_deleted")] == [(55, "external"), (55, "external")]
    assert list(zip(job_times(trace), job_pipelines(trace), strict=True)) == [
        (0, "pipe-a"), (9, "pipe-b"), (60, "pipe-a"), (69, "pipe-b"), (173, "pipe-c")]


# -- W13 -------------------------------------------------------------------------------------------------------
GATED = promise(configure=("pipe-a",), promise_configure=("promise-pipe",))
PROMISE_PIPE = key("promise-pipe", workflow="promise")


def test_resource_workflows_wait_for_the_promise_configure_workflow_on_install() -> None:
    """W13: on first install a resource's workflow starts only once the Promise's configure workflow completed."""
    trace = simulate(GATED, behaviour={PROMISE_PIPE: {"duration": 30}})
    promise_job = first(jobs(trace, PROMISE_KEY))
    done = finished(trace, promise_job["job"])
    assert done["t"] == 34  # reader 1 + 30 + work-writer 1 + status-writer 1 + sync 1
    first_job = first(jobs(trace))
    assert (first_job["t"], first_job["seq"] > done["seq"]) == (34, True)
    assert {e["reason"] for e in of(trace, "reconcile") if e["t"] < 34 and e["reason"] != "add-finalizers"} == {
        "waiting-for-promise"}


def test_resource_workflows_wait_for_the_promise_configure_workflow_after_a_restart() -> None:
    """W13: after a restart, a resource change waits until the Promise's running configure workflow completed."""
    trace = simulate(GATED, behaviour={PROMISE_PIPE: {"duration": 600}}, duration=3000, faults=[
        {"kind": "manual-reconcile", "at": 1000, "target": "promise"},  # Promise run: 1000 -> Complete at 1604
        {"kind": "controller-restart", "at": 1200, "downtime": 10},
        {"kind": "update-resource", "at": 1300, "target": R1, "spec": {"size": 2}},
    ])
    rerun = first(jobs(trace, PROMISE_KEY)[1:])
    assert (rerun["t"], finished(trace, rerun["job"])["t"]) == (1000, 1604)
    assert [e["t"] for e in jobs(trace)] == [604, 1604]
    assert {e["reason"] for e in of(trace, "reconcile") if 1210 <= e["t"] < 1604} == {"waiting-for-promise"}


# -- K1 --------------------------------------------------------------------------------------------------------
def test_one_worker_spaces_job_creations_of_a_promises_resources() -> None:
    """K1: five resources created at once get their first Jobs >= 1.1 s apart; their Jobs run in parallel."""
    trace = simulate(ONE_MINUTE, resources=[{"name": "r", "count": 5}])
    names = [f"default/r-{i}" for i in range(5)]
    firsts = [first(jobs(trace, obj)) for obj in names]
    times_ms = [round(e["t"] * 1000) for e in firsts]
    assert times_ms == [0, 1100, 2200, 3300, 4400]
    assert all(b - a >= 1100 for a, b in itertools.pairwise(times_ms))
    # W3 is per object: the first resource's Job is still running when the last one's is created
    assert finished(trace, firsts[0]["job"])["seq"] > firsts[-1]["seq"]


# -- W12 -------------------------------------------------------------------------------------------------------
def test_a_promise_update_fans_out_only_after_the_promise_configure_workflow_completes() -> None:
    """W12: every resource re-runs from pipeline 0 after the Promise's configure workflow, without suspending."""
    doc = promise(configure=("pipe-a", "pipe-b"), promise_configure=("promise-pipe",))
    names = [f"default/r-{i}" for i in range(3)]
    trace = simulate(doc, resources=[{"name": "r", "count": 3}],
                     behaviour={PROMISE_PIPE: {"duration": 30}, key("pipe-a"): {"duration": 100}},
                     faults=[{"kind": "update-promise", "at": 50, "target": "promise"}], duration=1000)
    # install: Promise Job 0 -> Complete 34; resources' pipe-a Jobs at 34, 35.1, 36.2 (Complete 138, 139.1, 140.2)
    promise_rerun = jobs(trace, PROMISE_KEY)[1]
    assert promise_rerun["t"] == 50
    promise_done = finished(trace, promise_rerun["job"])
    assert promise_done["t"] == 84
    assert trace.named("job_suspend_requested") == []
    for index, obj in enumerate(names):
        created = jobs(trace, obj)
        assert [e["pipeline"] for e in created] == ["pipe-a", "pipe-a", "pipe-b"]  # old run's pipe-b never starts
        old, new = created[0], created[1]
        assert labels(trace, RUN_FROM_START_LABEL, obj) == [("label_set", 84), ("label_removed", new["t"])]
        assert new["seq"] > promise_done["seq"]
        assert new["t"] == finished(trace, old["job"])["t"] == round(138 + 1.1 * index, 1)
        assert new["hash"] != old["hash"]
    assert [e for e in trace.named("job_created") if 50 < e["t"] < 84 and e["object"] != PROMISE_KEY] == []
