"""Checkers for the delete workflow rules D1-D6 (reference section 4)."""

from __future__ import annotations

from conformance.checkers import checker
from conformance.checkers.jobs import conclude, no_profile, t_of, trigger_between
from conformance.context import CheckContext, Event, JobInfo
from conformance.verdict import Verdict

MANUAL = "kratix.io/manual-reconciliation"
SUSPENDED = "kratix.io/workflow-suspended"
DELETE_WORKFLOWS = "kratix.io/delete-workflows"
WORK_CLEANUP = "kratix.io/work-cleanup"
WORKFLOWS_CLEANUP = "kratix.io/workflows-cleanup"
BINDING_CLEANUP = "kratix.io/resource-binding-cleanup"
RESOURCE_CLEANUP = "kratix.io/resource-request-cleanup"
RESOURCE_ORDER = (DELETE_WORKFLOWS, WORK_CLEANUP, WORKFLOWS_CLEANUP, BINDING_CLEANUP)
PROMISE_ORDER = (DELETE_WORKFLOWS, RESOURCE_CLEANUP, WORK_CLEANUP, WORKFLOWS_CLEANUP)
DELETE_COMPLETED = "DeleteWorkflowCompleted"
DELETE_FAILED = "DeleteWorkflowFailed"


def _delete_jobs(ctx: CheckContext, obj: str | None = None) -> list[JobInfo]:
    jobs = ctx.jobs.values() if obj is None else ctx.jobs_by_object.get(obj, [])
    return [j for j in jobs if j.action == "delete"]


def _is_delete_job(ctx: CheckContext, event: Event) -> bool:
    info = ctx.jobs.get(str(event.get("job", "")))
    return (info.action if info is not None else event.get("action")) == "delete"


def _promise_key(ctx: CheckContext, obj: str) -> str:
    name = ctx.promise_of(obj)
    return f"promise/{name}" if name else ""


def _triggered(ctx: CheckContext, obj: str, seq_from: int, seq_to: int) -> bool:
    """D4: what lets a new delete Job be created: the manual label (present or set), a spec change of the
    object or its Promise (new hash), or its delete Job deleted by someone else."""
    return trigger_between(ctx, obj, seq_from, seq_to, labels=(MANUAL,), delete_jobs_only=True)


def _retriggered(ctx: CheckContext, obj: str, seq_from: int, event: Event) -> bool | None:
    """D3/D4: was a new delete run of ``obj`` triggered after ``seq_from``, by ``event``? None when the trace
    cannot tell: it lacks the label history (an import) and its Events are incomplete. Kratix records a Normal
    ``PipelineStarted`` Event when the manual label re-triggers a delete Pipeline, so complete Events stand in
    for the label (an Event newer than a failure's Warning outlives it)."""
    if _triggered(ctx, obj, seq_from, event["seq"]):
        return True
    if ctx.evidence.missing("labels") is None:
        return False
    if ctx.evidence.missing("events") is not None:
        return None
    return any(e["event"] == "event_recorded" and e.get("reason") == "PipelineStarted" and e["seq"] > seq_from
               and abs(t_of(e) - t_of(event)) <= 1 for e in ctx.by_object.get(obj, []))


def _resumed_after_suspension(ctx: CheckContext, obj: str, seq_from: int, seq_to: int) -> bool:
    """Section 4 + C1: the delete run created at ``seq_from`` asked to suspend or retry (the workflow-suspended
    label was set after it) and the label was removed before ``seq_to`` (retryAfter passed, or resumed)."""
    suspended = False
    for event in ctx.by_object.get(obj, []):
        if event["seq"] <= seq_from:
            continue
        if event["seq"] >= seq_to:
            break
        if event["event"] in ("label_set", "label_removed") and event.get("label") == SUSPENDED:
            if event["event"] == "label_set":
                suspended = True
            elif suspended:
                return True
    return False


def _promise_changed_before(ctx: CheckContext, obj: str, seq: int) -> bool:
    """Whether the object's Promise spec changed before ``seq`` (its pipelines may then differ from the
    Promise the trace was judged with)."""
    key = obj if obj.startswith("promise/") else _promise_key(ctx, obj)
    return any(e["event"] == "spec_updated" and e["seq"] < seq for e in ctx.by_object.get(key, []))


# -- D1 --------------------------------------------------------------------------------------------
@checker("D1")
def single_delete_pipeline(ctx: CheckContext) -> Verdict:
    """D1: only the first delete Pipeline runs: every delete Job has pipeline_index 0 and, when the
    Promise is known, the name of the workflow's first delete Pipeline."""
    fails: list[Verdict] = []
    jobs = _delete_jobs(ctx)
    for job in jobs:
        first = ctx.pipelines.of(job.workflow, "delete")[:1] if ctx.pipelines is not None else ()
        if job.pipeline_index != 0:
            fails.append(ctx.fail("D1", job.created, f"{job.object}: delete Job {job.name} runs pipeline "
                                  f"{job.pipeline} with index {job.pipeline_index}; only the first (index 0) runs"))
        elif first and job.pipeline != first[0]:
            fails.append(ctx.fail("D1", job.created, f"{job.object}: delete Job {job.name} runs pipeline "
                                  f"{job.pipeline}; the first delete Pipeline is {first[0]}"))
    return conclude("D1", fails, [], bool(jobs), "no delete Job")


# -- D2 --------------------------------------------------------------------------------------------
@checker("D2")
def delete_waits_for_configure(ctx: CheckContext) -> Verdict:
    """D2 (profiles where delete waits): no delete Job is created while a configure Job of the same object
    runs (created, not yet ended nor deleted)."""
    if ctx.profile is None:
        return no_profile("D2", ctx)
    if not ctx.profile.delete_waits_for_configure:
        return Verdict("D2", "pass", f"not exercised (profile {ctx.profile.name}: delete does not wait)")
    fails: list[Verdict] = []
    jobs = _delete_jobs(ctx)
    for job in jobs:
        running = [c for c in ctx.configure_jobs(job.object) if c.running_at(job.created["seq"])]
        if running:
            fails.append(ctx.fail("D2", job.created, f"{job.object}: delete Job {job.name} created while configure "
                                  f"Job {running[0].name} ({running[0].pipeline}) still runs"))
    return conclude("D2", fails, [], bool(jobs), "no delete Job")


# -- D3 --------------------------------------------------------------------------------------------
@checker("D3")
def one_delete_job(ctx: CheckContext) -> Verdict:
    """D3: deletion creates one delete Job, only after delete_requested; another one only after a trigger
    (manual label, spec change of the object or its Promise, the delete Job deleted externally) seen since
    the previous delete Job was created, or once the previous run's workflow-suspended label (it asked to
    suspend or retry, section 4 + C1) was removed. Retries happen inside the Job (J1-J3)."""
    fails: list[Verdict] = []
    unknowns: list[str] = []
    objects = sorted({j.object for j in _delete_jobs(ctx)})
    for obj in objects:
        requested: Event | None = None
        previous: Event | None = None
        for event in ctx.by_object.get(obj, []):
            if event["event"] == "delete_requested" and requested is None:
                requested = event
            if event["event"] != "job_created" or event.get("action") != "delete":
                continue
            if requested is None:
                gap = ctx.evidence.missing("objects")
                if gap is not None:  # an import without the object: its deletionTimestamp is unknown
                    unknowns.append(f"{obj}: delete Job {event.get('job')} with no deletion in the trace ({gap})")
                    break
                fails.append(ctx.fail("D3", event, f"{obj}: delete Job {event.get('job')} created before deletion "
                                      "was requested"))
                break
            if previous is not None and _resumed_after_suspension(ctx, obj, previous["seq"], event["seq"]):
                previous = event
                continue
            retriggered = True if previous is None else _retriggered(ctx, obj, previous["seq"], event)
            if retriggered is None:
                unknowns.append(f"{obj}: second delete Job {event.get('job')} with no trigger in the trace "
                                f"({ctx.evidence.missing('labels', 'events')})")
                break
            if not retriggered:
                since = previous.get("job") if previous is not None else None
                fails.append(ctx.fail("D3", event, f"{obj}: a second delete Job {event.get('job')} created with no "
                                      f"manual label, spec change or Job deletion since {since}"))
                break
            previous = event
    return conclude("D3", fails, unknowns, bool(objects), "no delete Job")


# -- D4 --------------------------------------------------------------------------------------------
@checker("D4")
def stuck_after_delete_failure(ctx: CheckContext) -> Verdict:
    """D4: after a delete Job fails, the controller (once it reconciles the object) sets
    DeleteWorkflowCompleted=False/DeleteWorkflowFailed and records a Warning event; no new delete Job, no
    removal of kratix.io/delete-workflows and no object_removed until a trigger (manual label, spec change of
    the object or its Promise, the delete Job deleted externally; one set while the Job ran counts)."""
    fails: list[Verdict] = []
    unknowns: list[str] = []
    failed = [j for j in _delete_jobs(ctx) if j.state == "failed" and j.ended is not None]
    any_reconcile = any(e["event"] == "reconcile" for e in ctx.events)
    for job in failed:
        assert job.ended is not None
        obj = job.object
        condition = warned = False
        first_reconcile: Event | None = None
        for event in ctx.after(job.ended):
            if event.get("object") != obj:
                continue
            name = event["event"]
            escape = name == "object_removed" or (name == "job_created" and event.get("action") == "delete") or (
                name == "finalizer_removed" and event.get("finalizer") == DELETE_WORKFLOWS)
            if escape:
                retriggered = _retriggered(ctx, obj, job.created["seq"], event)
                if retriggered is None:
                    unknowns.append(f"{obj}: the deletion went on after delete Job {job.name} failed, with no "
                                    f"trigger in the trace ({ctx.evidence.missing('labels', 'events')})")
                elif not retriggered:
                    what = "new delete Job" if name == "job_created" else (
                        "object removed" if name == "object_removed" else f"{DELETE_WORKFLOWS} removed")
                    fails.append(ctx.fail("D4", event, f"{obj}: {what} after the delete Job {job.name} failed, with "
                                          "no manual label, spec change or Job deletion"))
                break
            if (name == "condition_set" and event.get("type") == DELETE_COMPLETED and event.get("status") == "False"
                    and event.get("reason") == DELETE_FAILED):
                condition = True
            elif name == "event_recorded" and event.get("type") == "Warning":
                warned = True
            elif (name == "reconcile" and first_reconcile is None
                  and not _triggered(ctx, obj, job.created["seq"], event["seq"])):
                first_reconcile = event
        if condition and warned:
            continue
        missing = " and ".join(m for m, seen in (("DeleteWorkflowCompleted=False/DeleteWorkflowFailed", condition),
                                                  ("a Warning event", warned)) if not seen)
        if first_reconcile is not None:
            fails.append(ctx.fail("D4", first_reconcile, f"{obj}: the controller reconciled after delete Job "
                                  f"{job.name} failed but never set {missing}"))
        elif not any_reconcile:
            unknowns.append(f"{obj}: no {missing} after {job.name} failed, and the trace has no reconcile events")
    return conclude("D4", fails, unknowns, bool(failed), "no delete Job failed")


# -- D5 --------------------------------------------------------------------------------------------
@checker("D5")
def cleanup_in_order(ctx: CheckContext) -> Verdict:
    """D5: finalizers are removed only after delete_requested and in order (resources: delete-workflows,
    work-cleanup, workflows-cleanup, resource-binding-cleanup; Promises: delete-workflows,
    resource-request-cleanup, work-cleanup, workflows-cleanup); delete-workflows and work-cleanup only after the
    newest delete Job completed (when the object has a delete Job, or a delete Pipeline and its Promise did not
    change) and only if that run did not ask to suspend or retry (the workflow-suspended label set while it ran,
    section 4 + C1); work-cleanup only once every Work of the object is deleted; no Work written after it;
    object_removed only after the last one."""
    fails: list[Verdict] = []
    exercised = False
    for obj, events in sorted(ctx.by_object.items()):
        if not any(e["event"] in ("finalizer_removed", "object_removed") for e in events):
            continue
        exercised = True
        verdict = _d5_object(ctx, obj, events)
        if verdict is not None:
            fails.append(verdict)
    return conclude("D5", fails, [], exercised, "no finalizer removed")


def _d5_object(ctx: CheckContext, obj: str, events: list[Event]) -> Verdict | None:
    is_promise = obj.startswith("promise/")
    order = PROMISE_ORDER if is_promise else RESOURCE_ORDER
    workflow = "promise" if is_promise else "resource"
    has_pipeline = ctx.pipelines is not None and bool(ctx.pipelines.of(workflow, "delete"))
    present: list[str] = []
    works: set[str] = set()
    requested = False
    rank = -1
    cleaned: Event | None = None
    newest_delete: str | None = None
    newest_done = False
    newest_suspended = False  # the newest delete run asked to suspend or retry
    for event in events:
        name = event["event"]
        if name == "finalizers_added":
            present.extend(f for f in event.get("finalizers", []) if f not in present)
        elif name == "delete_requested":
            requested = True
        elif name == "work_written":
            if cleaned is not None:
                return ctx.fail("D5", event, f"{obj}: Work for {event.get('pipeline')} written after "
                                f"{WORK_CLEANUP} was removed at t={t_of(cleaned):g}")
            works.add(str(event.get("pipeline", "")))
        elif name == "work_deleted":
            works.discard(str(event.get("pipeline", "")))
        elif name == "job_created" and event.get("action") == "delete":
            newest_delete, newest_done, newest_suspended = str(event.get("job", "")), False, False
        elif name == "job_completed" and event.get("job") == newest_delete:
            newest_done = True
        elif (name == "label_set" and event.get("label") == SUSPENDED and newest_delete is not None
              and not newest_done):
            newest_suspended = True
        elif name == "finalizer_removed":
            finalizer = str(event.get("finalizer", ""))
            if not requested:
                return ctx.fail("D5", event, f"{obj}: finalizer {finalizer} removed before deletion was requested")
            if finalizer in order:
                if order.index(finalizer) < rank:
                    return ctx.fail("D5", event, f"{obj}: finalizer {finalizer} removed after {order[rank]}; order "
                                    f"is {', '.join(order)}")
                rank = order.index(finalizer)
            expects_run = newest_delete is not None or (
                has_pipeline and not _promise_changed_before(ctx, obj, event["seq"]))
            if finalizer in (DELETE_WORKFLOWS, WORK_CLEANUP) and expects_run and (
                    not newest_done or newest_suspended):
                state = ("no delete Job ran" if newest_delete is None
                         else f"delete Job {newest_delete} has not completed" if not newest_done
                         else f"delete Job {newest_delete} asked to suspend or retry ({SUSPENDED} set while it ran)")
                return ctx.fail("D5", event, f"{obj}: finalizer {finalizer} removed but {state}")
            if finalizer == WORK_CLEANUP:
                if works:
                    return ctx.fail("D5", event, f"{obj}: {WORK_CLEANUP} removed while Works remain for "
                                    f"{', '.join(sorted(works))}")
                cleaned = event
            if finalizer in present:
                present.remove(finalizer)
        elif name == "object_removed" and present:
            return ctx.fail("D5", event, f"{obj}: removed while finalizers remain: {', '.join(present)}")
    return None


# -- D6 --------------------------------------------------------------------------------------------
@checker("D6")
def promise_delete_order(ctx: CheckContext) -> Verdict:
    """D6: a Promise's delete Job is created only while none of its resources' configure Jobs runs (profiles
    where delete waits); resources deleted by the Promise's deletion get delete_requested only after that delete
    Job completed (a user's own delete-resource fault is exempt); kratix.io/resource-request-cleanup is removed,
    and the Promise itself removed, only after all its resources are gone."""
    if ctx.profile is None:
        return no_profile("D6", ctx)
    fails: list[Verdict] = []
    unknowns: list[str] = []
    promises = [k for k, evs in sorted(ctx.by_object.items())
                if k.startswith("promise/") and any(e["event"] == "delete_requested" for e in evs)]
    resources_all = [k for k in ctx.by_object if not k.startswith("promise/")]
    for promise in promises:
        name = promise.split("/", 1)[1]
        unattributed = [r for r in resources_all if not ctx.promise_of(r)]
        if unattributed:
            unknowns.append(f"cannot tell which Promise owns {unattributed[0]} (several Promises in the trace)")
            continue
        resources = {r for r in resources_all if ctx.promise_of(r) == name}
        verdict = _d6_promise(ctx, promise, resources)
        if verdict is not None:
            fails.append(verdict)
    return conclude("D6", fails, unknowns, bool(promises), "no Promise deleted")


def _d6_promise(ctx: CheckContext, promise: str, resources: set[str]) -> Verdict | None:
    assert ctx.profile is not None
    waits = ctx.profile.delete_waits_for_configure
    delete_jobs = _delete_jobs(ctx, promise)
    has_pipeline = bool(delete_jobs) or (ctx.pipelines is not None and bool(ctx.pipelines.of("promise", "delete")))
    requested = False
    completed = False
    alive: set[str] = set()
    for event in ctx.events:
        key = event.get("object")
        name = event["event"]
        if key in resources:
            if name == "object_created":
                alive.add(key)
            elif name == "object_removed":
                alive.discard(key)
            elif (name == "delete_requested" and requested and has_pipeline and not completed
                  and not ctx.fault_at(t_of(event), "delete-resource", key)):
                return ctx.fail("D6", event, f"{key} deleted before the delete Job of {promise} completed")
            continue
        if key != promise:
            continue
        if name == "delete_requested":
            requested = True
        elif name == "job_created" and event.get("action") == "delete":
            completed = False
            if waits:
                running = [j for r in sorted(resources) for j in ctx.configure_jobs(r) if j.running_at(event["seq"])]
                if running:
                    return ctx.fail("D6", event, f"{promise}: delete Job {event.get('job')} created while configure "
                                    f"Job {running[0].name} of {running[0].object} still runs")
        elif name == "job_completed" and _is_delete_job(ctx, event):
            completed = True
        elif (name == "object_removed" or (name == "finalizer_removed"
                                           and event.get("finalizer") == RESOURCE_CLEANUP)) and alive:
            what = "removed" if name == "object_removed" else f"{RESOURCE_CLEANUP} removed"
            return ctx.fail("D6", event, f"{promise} {what} while its resources remain: {', '.join(sorted(alive))}")
    return None
