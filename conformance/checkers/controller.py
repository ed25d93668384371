"""Checkers for workflow control (C1, reference section 5) and the controller rules K1-K3 (section 6)."""

from __future__ import annotations

from conformance.checkers import checker
from conformance.checkers.jobs import EXACT_S, conclude, no_profile, t_of, trigger_between
from conformance.context import CheckContext, Event, JobInfo
from conformance.verdict import Verdict

MANUAL = "kratix.io/manual-reconciliation"
RUN_FROM_START = "internal.workflows.kratix.io/run-from-start"
SUSPENDED = "kratix.io/workflow-suspended"
QUEUE_EPS_S = 0.01  # slack for a reconcile that is due at a known time
MAX_DOUBLINGS = 64


def _up_at(ctx: CheckContext, seq: int) -> bool:
    """Is the controller up at ``seq``? A trace without controller events is taken as always up."""
    return ctx.controller_up_at(seq) if ctx.controller_events else True


def _queue_of(ctx: CheckContext, obj: str) -> str:
    """The controller (work queue, one worker) that reconciles ``obj``: the Promise controller, or the
    resource controller of its Promise ("" when the Promise cannot be told)."""
    if obj.startswith("promise/"):
        return "promise"
    promise = ctx.promise_of(obj)
    return f"resource:{promise}" if promise else ""


def _job_queue(ctx: CheckContext, job: JobInfo) -> str:
    if job.workflow == "promise" or job.object.startswith("promise/"):
        return "promise"
    promise = ctx.header_promise(job)
    return f"resource:{promise}" if promise else ""


# -- C1 --------------------------------------------------------------------------------------------
@checker("C1")
def workflow_control(ctx: CheckContext) -> Verdict:
    """C1: a run whose pipeline asked to suspend or retry (label kratix.io/workflow-suspended set while its
    configure Job runs) writes no Work for that pipeline. The object's next configure Job is then either the
    same pipeline, once the label was removed (resume, or a retryAfter re-run) and with no trigger since the
    run's Job was created; or pipeline 0 after a manual or run-from-start label, a spec change of the object or
    its Promise, or its Jobs deleted. Never a later pipeline."""
    if ctx.profile is None:
        return no_profile("C1", ctx)
    if not ctx.profile.workflow_control:
        return Verdict("C1", "pass", f"not exercised (profile {ctx.profile.name} has no workflow control)")
    fails: list[Verdict] = []
    exercised = False
    for event in ctx.events:
        if event["event"] != "label_set" or event.get("label") != SUSPENDED:
            continue
        obj = str(event.get("object", ""))
        job = _setter(ctx, obj, event)
        if job is None:
            continue  # not set by a pipeline
        exercised = True
        verdict = _c1_run(ctx, job, event)
        if verdict is not None:
            fails.append(verdict)
    return conclude("C1", fails, [], exercised, "no pipeline suspended")


def _setter(ctx: CheckContext, obj: str, label: Event) -> JobInfo | None:
    """The configure Job whose status-writer set the label: a running one whose latest step before the label
    is the start of status-writer; else the newest running configure Job; None if none runs."""
    running = [j for j in ctx.configure_jobs(obj) if j.running_at(label["seq"])]
    for job in reversed(running):
        steps = [s for p in job.pods for s in p.steps if s["seq"] < label["seq"]]
        if steps and steps[-1]["event"] == "container_started" and steps[-1].get("container") == "status-writer":
            return job
    return running[-1] if running else None


def _c1_run(ctx: CheckContext, job: JobInfo, label: Event) -> Verdict | None:
    end = job.end_seq()
    for event in ctx.by_object.get(job.object, []):
        if event["seq"] <= job.created["seq"] or (end is not None and event["seq"] > end):
            continue
        if event["event"] == "work_written" and event.get("pipeline") == job.pipeline:
            return ctx.fail("C1", event, f"{job.object}: Work written for {job.pipeline} by {job.name}, whose "
                            "pipeline asked to suspend or retry")
    removed = False
    for event in ctx.after(label):
        if event.get("object") != job.object:
            continue
        name = event["event"]
        if name == "label_removed" and event.get("label") == SUSPENDED:
            removed = True
        elif name == "delete_requested":
            return None
        elif name == "job_created" and event.get("action", "configure") == "configure":
            index = event.get("pipeline_index", -1)
            triggered = trigger_between(ctx, job.object, job.created["seq"], event["seq"])
            if triggered and index == 0:
                return None
            if index == job.pipeline_index and removed and not triggered:
                return None
            if triggered:
                why = "after a manual/run-from-start label, spec change or Job deletion the run restarts at pipeline 0"
            elif index != job.pipeline_index:
                why = f"a suspended run resumes at its suspended pipeline {job.pipeline} (index {job.pipeline_index})"
            else:
                why = "the workflow-suspended label was not removed first"
            return ctx.fail("C1", event, f"{job.object}: Job for pipeline {event.get('pipeline')} (index {index}) "
                            f"after {job.name} suspended its run: {why}")
    return None


# -- K1 --------------------------------------------------------------------------------------------
@checker("K1")
def one_worker(ctx: CheckContext) -> Verdict:
    """K1: each controller has one worker and every Job creation holds it job_creation_hold_s (1.1 s), so
    Jobs created by the same controller (the resources of one Promise; all Promises) are at least that far
    apart, unless a controller restart came in between."""
    if ctx.profile is None:
        return no_profile("K1", ctx)
    hold = ctx.profile.timing.job_creation_hold_s
    fails: list[Verdict] = []
    unknowns: list[str] = []
    last: dict[str, JobInfo] = {}
    for job in sorted(ctx.jobs.values(), key=lambda j: j.created["seq"]):
        queue = _job_queue(ctx, job)
        if not queue:
            unknowns.append(f"cannot tell the Promise of {job.object} (several Promises in the trace)")
            continue
        previous = last.get(queue)
        last[queue] = job
        if previous is None:
            continue
        gap = t_of(job.created) - t_of(previous.created)
        if gap < hold - EXACT_S and not ctx.restarts_between(previous.created["seq"], job.created["seq"]):
            fails.append(ctx.fail("K1", job.created, f"{job.name} created {gap:g} s after {previous.name} by the "
                                  f"same controller ({queue}); one worker holds {hold:g} s per Job creation"))
    exercised = len(ctx.jobs) > 1
    return conclude("K1", fails, unknowns, exercised, "fewer than two Jobs")


# -- K2 --------------------------------------------------------------------------------------------
def _busy_slack(creations: list[float], due: float, hold: float) -> float:
    """How late a reconcile due at ``due`` may be: its worker may be held by Job creations around then."""
    slack = QUEUE_EPS_S
    while True:
        count = sum(1 for c in creations if due - hold < c <= due + slack)
        wider = QUEUE_EPS_S + count * hold
        if wider <= slack:
            return slack
        slack = wider


@checker("K2")
def requeues(ctx: CheckContext) -> Verdict:
    """K2: while a delete Job runs and the controller is up, its object is reconciled at least every
    delete_poll_s (the first time within job_creation_hold_s + delete_poll_s of the Job's creation). After a
    delete Job failed, the object's error reconciles follow controller-runtime's per-item back-off: the n-th
    consecutive error (n from 0; reset by a controller restart) asks for a retry base*2^n (capped) later,
    keeping an earlier pending retry; a reconcile with no change to the object since the previous one never
    comes before the pending retry, and one always comes by it. Lateness allows for the worker being held by
    Job creations (K1) plus 10 ms. Liveness category for the lateness part."""
    if ctx.profile is None:
        return no_profile("K2", ctx)
    deletes = [j for j in ctx.jobs.values() if j.action == "delete"]
    if not deletes:
        return Verdict("K2", "pass", "not exercised (no delete Job)")
    if not any(e["event"] == "reconcile" for e in ctx.events):
        return Verdict("K2", "unknown", "the trace has no reconcile events")
    creations: dict[str, list[float]] = {}
    for job in ctx.jobs.values():
        creations.setdefault(_job_queue(ctx, job), []).append(t_of(job.created))
    fails: list[Verdict] = []
    for job in deletes:
        times = creations.get(_job_queue(ctx, job), [])
        poll = _k2_poll(ctx, job, times)
        if poll is not None:
            fails.append(poll)
        if job.state == "failed":
            backoff = _k2_backoff(ctx, job, times)
            if backoff is not None:
                fails.append(backoff)
    return conclude("K2", fails, [], True, "")


def _k2_poll(ctx: CheckContext, job: JobInfo, creations: list[float]) -> Verdict | None:
    assert ctx.profile is not None
    timing = ctx.profile.timing
    poll, hold = timing.delete_poll_s, timing.job_creation_hold_s
    end = job.end_seq()
    due: float | None = t_of(job.created) + hold + poll if _up_at(ctx, job.created["seq"]) else None
    last = job.created
    for event in ctx.after(job.created):
        if end is not None and event["seq"] >= end:
            return None
        if due is not None and t_of(event) > due + _busy_slack(creations, due, hold):
            return ctx.fail("K2", event, f"{job.object}: delete Job {job.name} running, but no reconcile between "
                            f"t={t_of(last):g} and t={t_of(event):g} (poll every {poll:g} s)", "liveness")
        name = event["event"]
        if name in ("controller_stopped", "controller_started"):
            due = None  # a restart's first reconcile is K3's
        elif name == "reconcile" and event.get("object") == job.object:
            due, last = t_of(event) + poll, event
    return None


def _error_reconciles(ctx: CheckContext, obj: str) -> dict[int, bool]:
    """For each reconcile of ``obj`` (by seq): was it an error, i.e. not followed, before the next reconcile,
    by a Job creation or a finalizer removal (the way out of a stuck delete)."""
    result: dict[int, bool] = {}
    current: int | None = None
    for event in ctx.by_object.get(obj, []):
        name = event["event"]
        if name == "reconcile":
            current = event["seq"]
            result[current] = True
        elif current is not None and name in ("job_created", "finalizer_removed", "object_removed"):
            result[current] = False
    return result


def _k2_backoff(ctx: CheckContext, job: JobInfo, creations: list[float]) -> Verdict | None:
    assert ctx.profile is not None and job.ended is not None
    timing = ctx.profile.timing
    base, cap, hold = timing.error_backoff_base_s, timing.error_backoff_cap_s, timing.job_creation_hold_s
    obj = job.object
    errors = _error_reconciles(ctx, obj)
    up = _up_at(ctx, job.ended["seq"])
    failures = 0
    pending: float | None = None
    changed = True  # the Job's failure itself is a change the controller watches
    previous: Event = job.ended
    for event in ctx.after(job.ended):
        if pending is not None and up and t_of(event) > pending + _busy_slack(creations, pending, hold):
            return ctx.fail("K2", event, f"{obj}: error back-off retry due at t={pending:g} after the reconcile at "
                            f"t={t_of(previous):g}, but no reconcile by t={t_of(event):g}", "liveness")
        name = event["event"]
        if name in ("controller_stopped", "controller_started"):
            up = name == "controller_started"
            pending, failures, changed = None, 0, True
            continue
        if event.get("object") != obj:
            continue
        if name == "object_removed" or (name == "job_created" and event.get("action") == "delete"):
            return None
        if name != "reconcile":
            changed = True
            continue
        if not errors.get(event["seq"], False):
            return None
        if not changed and pending is not None and t_of(event) < pending - EXACT_S:
            return ctx.fail("K2", event, f"{obj}: error reconcile at t={t_of(event):g}, "
                            f"{t_of(event) - t_of(previous):g} s after the previous one with nothing changed; "
                            f"the back-off retry was due at t={pending:g}")
        if pending is not None and t_of(event) >= pending - EXACT_S:
            pending = None  # the retry fired
        delay = cap if failures >= MAX_DOUBLINGS else min(base * 2 ** failures, cap)
        failures += 1
        retry = t_of(event) + delay
        pending = retry if pending is None else min(pending, retry)
        changed, previous = False, event
    return None


# -- K3 --------------------------------------------------------------------------------------------
@checker("K3")
def restart_reconciles_everything(ctx: CheckContext) -> Verdict:
    """K3: after each controller start that follows a stop, every object that exists (created, not removed)
    is reconciled before the controller stops again, within (objects of its controller) x job_creation_hold_s
    + 10 ms of the start (one worker per controller, each Job creation holding it). Judged only when the
    controller stayed up past that bound and the trace goes on; a late reconcile is a liveness failure, none at
    all a safety failure."""
    if ctx.profile is None:
        return no_profile("K3", ctx)
    hold = ctx.profile.timing.job_creation_hold_s
    starts = ctx.restarts_between(0, 1 << 62)
    if not starts:
        return Verdict("K3", "pass", "not exercised (no controller restart)")
    if not any(e["event"] == "reconcile" for e in ctx.events):
        return Verdict("K3", "unknown", "the trace has no reconcile events")
    fails: list[Verdict] = []
    unknowns: list[str] = []
    for start in starts:
        objects = ctx.existing_at(start["seq"])
        sizes: dict[str, int] = {}
        for obj in objects:
            queue = _queue_of(ctx, obj)
            sizes[queue] = sizes.get(queue, 0) + 1
        stop = next((e for e in ctx.controller_events
                     if e["seq"] > start["seq"] and e["event"] == "controller_stopped"), None)
        for obj in objects:
            queue = _queue_of(ctx, obj)
            if not queue:
                unknowns.append(f"cannot tell the controller of {obj} (several Promises in the trace)")
                continue
            verdict = _k3_object(ctx, start, stop, obj, t_of(start) + sizes[queue] * hold + QUEUE_EPS_S)
            if verdict is not None:
                fails.append(verdict)
    return conclude("K3", fails, unknowns, True, "")


def _k3_object(ctx: CheckContext, start: Event, stop: Event | None, obj: str, bound: float) -> Verdict | None:
    reconciled: Event | None = None
    for event in ctx.by_object.get(obj, []):
        if event["seq"] <= start["seq"] or (stop is not None and event["seq"] > stop["seq"]):
            continue
        if event["event"] == "object_removed":
            return None
        if event["event"] == "reconcile":
            reconciled = event
            break
    if reconciled is not None and t_of(reconciled) <= bound:
        return None
    late = ctx.first_past(start, bound)
    if late is None or (stop is not None and stop["seq"] < late["seq"]):
        return None  # the trace ended or the controller stopped before the bound
    if reconciled is None:
        until = f"before the controller stopped at t={t_of(stop):g}" if stop is not None else "before the trace ended"
        return ctx.fail("K3", late, f"{obj} existed at the controller start at t={t_of(start):g} but was never "
                        f"reconciled {until}")
    return ctx.fail("K3", late, f"{obj} not reconciled by t={bound:g} after the controller start at "
                    f"t={t_of(start):g} (reconciled only at t={t_of(reconciled):g})", "liveness")
