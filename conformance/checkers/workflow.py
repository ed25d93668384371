"""Checkers for the configure workflow rules W1-W16 (reference section 2).

Each checker is a pure function of a CheckContext. A few facts are shared:

- *W5 triggers* (``_Triggers``): what may start a new run of an object: its creation, a spec change of it or of
  its Promise, the labels manual-reconciliation or run-from-start set (and kratix.io/reconcile-resources on a
  Promise, W12), every configure Job of it deleted (reason ``external``), an unpause, and in profile seed-doc
  a controller restart (resources only).
- *Step executions* (``_executions``): each container execution of a pod as a seq window
  (``container_started`` .. ``container_exited``), so an event emitted by a Kratix step (a Work written, a
  status merge, a condition set by the status-writer) can be attributed to the step that emitted it.
- *Controller latency* (``_latency_s``): how long the controller may take to act on a change when it is up:
  every Job creation holds the Promise's one resource worker 1.1 s (K1), so up to one hold per object in the
  trace, plus the Job controller's 1 s sync batch, whole-second timestamps and a margin of 3 s. Checkers that
  judge "within" a bound use it and say ``liveness``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from conformance.checkers import checker
from conformance.context import CheckContext, Event, JobInfo
from conformance.verdict import Verdict
from sim.profiles import DEFAULT_PROFILE, PROFILES, Profile

MANUAL = "kratix.io/manual-reconciliation"
RUN_FROM_START = "internal.workflows.kratix.io/run-from-start"
SUSPENDED = "kratix.io/workflow-suspended"
PAUSED = "kratix.io/paused"
RECONCILE_RESOURCES = "kratix.io/reconcile-resources"
COMPLETED = "ConfigureWorkflowCompleted"
PROMISE_AVAILABLE = "PromiseAvailable"
FAILED_REASON = "ConfigureWorkflowFailed"
IN_PROGRESS = "PipelinesInProgress"
READER, WORK_WRITER, STATUS_WRITER = "reader", "work-writer", "status-writer"
KRATIX_STEPS = (READER, WORK_WRITER, STATUS_WRITER)
COMPLETION_REASONS = ("done", "halted")  # `reconcile` decisions that found a run completed or failed
MARGIN_S = 3.0


# -- shared helpers -------------------------------------------------------------------------------------
class _Found:
    """The violations a checker found; its verdict names the earliest one (the first violating event)."""

    def __init__(self, ctx: CheckContext, rule: str) -> None:
        self.ctx = ctx
        self.rule = rule
        self.items: list[Verdict] = []

    def add(self, event: Event, message: str, category: str = "safety") -> None:
        self.items.append(self.ctx.fail(self.rule, event, message, category))

    def verdict(self, otherwise: Verdict) -> Verdict:
        """The earliest failure (safety first among failures at the same event), else ``otherwise``."""
        if not self.items:
            return otherwise
        return min(self.items, key=lambda v: ((v.event or {}).get("seq", 0), v.category != "safety"))


def _t(event: Event) -> float:
    return float(event.get("t", 0))


def _is_promise(obj: str) -> bool:
    return obj.startswith("promise/")


def _workflow_of(obj: str) -> str:
    return "promise" if _is_promise(obj) else "resource"


def _unknown_profile(rule: str, ctx: CheckContext) -> Verdict:
    return Verdict(rule, "unknown", f"unknown profile {ctx.header.get('profile')!r}")


def _latency_s(ctx: CheckContext) -> float:
    """See the module docstring: the controller's worst reaction time while it is up."""
    timing = (ctx.profile or PROFILES[DEFAULT_PROFILE]).timing
    objects = sum(1 for key in ctx.by_object if "/" in key)
    return timing.job_creation_hold_s * max(1, objects) + timing.job_sync_batch_s + 1.0 + MARGIN_S


def _up_throughout(ctx: CheckContext, t_from: float, t_to: float) -> bool:
    """Was the controller up during the whole of [t_from, t_to]?"""
    up = False
    for event in ctx.controller_events:
        if _t(event) > t_to:
            break
        if _t(event) <= t_from:
            up = event["event"] == "controller_started"
        elif event["event"] == "controller_stopped":
            return False
        else:
            up = True
    return up


def _first(events: list[Event], after_seq: int, name: str, **fields: object) -> Event | None:
    for event in events:
        if event["seq"] > after_seq and event["event"] == name and all(event.get(k) == v for k, v in fields.items()):
            return event
    return None


def _ended_event(job: JobInfo) -> Event | None:
    """The event at which the Job stopped running (its end condition, or its deletion)."""
    candidates = [e for e in (job.ended, job.deleted) if e is not None]
    return min(candidates, key=lambda e: e["seq"]) if candidates else None


def _suspended_by_control(ctx: CheckContext, job: JobInfo) -> bool:
    """Did the Job's run ask to suspend or retry (C1: label workflow-suspended set while the Job ran)?"""
    end = job.end_seq()
    return any(e["event"] == "label_set" and e.get("label") == SUSPENDED and e["seq"] > job.created["seq"]
               and (end is None or e["seq"] <= end) for e in ctx.by_object.get(job.object, []))


def _has_events(ctx: CheckContext, *names: str) -> bool:
    return any(e["event"] in names for e in ctx.events)


def _promise_has_configure(ctx: CheckContext, promise: str | None) -> bool | None:
    """Does the Promise have configure pipelines? From ``ctx.pipelines``, else from its Jobs or condition."""
    if ctx.pipelines is not None:
        return bool(ctx.pipelines.of("promise", "configure"))
    if promise is not None and (ctx.configure_jobs(promise) or ctx.condition_before(promise, COMPLETED, 2**62)):
        return True
    return None


class _ConfigurePipelines:
    """The configure pipeline names a Job's run had: those of the Promise version in effect when it was created
    (a Promise update can change them), when known and consistent with every configure Job of its workflow
    (each Job's pipeline at its index, by the version of its own creation); None otherwise."""

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.consistent: dict[str, bool] = {}

    def _at(self, job: JobInfo) -> tuple[str, ...]:
        assert self.ctx.pipelines is not None
        promise = self.ctx.promise_key(job.object)
        version = self.ctx.spec_hash_before(promise, job.created["seq"]) if promise is not None else None
        return self.ctx.pipelines.of(job.workflow, "configure", version)

    def of(self, job: JobInfo) -> tuple[str, ...] | None:
        if self.ctx.pipelines is None:
            return None
        if job.workflow not in self.consistent:
            self.consistent[job.workflow] = all(
                0 <= other.pipeline_index < len(names) and names[other.pipeline_index] == other.pipeline
                for other in self.ctx.jobs.values() if other.action == "configure" and other.workflow == job.workflow
                for names in (self._at(other),))
        return self._at(job) if self.consistent[job.workflow] else None


def _paused_during(ctx: CheckContext, obj: str, t_from: float, t_to: float) -> bool:
    """Was the object or its Promise paused at some time in [t_from, t_to]?"""
    for key in {obj, ctx.promise_key(obj) or obj}:
        paused = False
        for event in ctx.by_object.get(key, []):
            if _t(event) > t_to:
                break
            if event.get("label") == PAUSED and event["event"] in ("label_set", "label_removed"):
                paused = event["event"] == "label_set"
                if paused and _t(event) >= t_from:
                    return True
        if paused:
            return True
    return False


def _deleting_by(ctx: CheckContext, obj: str, t: float) -> bool:
    return any(e["event"] == "delete_requested" and _t(e) <= t for e in ctx.by_object.get(obj, []))


def _unavailable_gates(ctx: CheckContext) -> bool:
    """W13: does the trace's profile keep resources waiting while their Promise is Unavailable (unknown: yes)?"""
    return ctx.profile is None or ctx.profile.promise_unavailable_gates_resources


def _unavailable_windows(ctx: CheckContext, promise: str) -> list[tuple[Event, Event | None]]:
    """W13: when the Promise is Unavailable: from each of its configure Job creations (every Job of a run saves
    the Promise Unavailable) to its first reconcile with reason ``done`` after it (the one that saves it
    Available), or, in a trace without the Promise's reconciles, its next ConfigureWorkflowCompleted=True;
    None when the window never closes (a failed or unfinished run)."""
    events = ctx.by_object.get(promise, [])
    reconciles = any(e["event"] == "reconcile" for e in events)
    windows: list[tuple[Event, Event | None]] = []
    for job in ctx.configure_jobs(promise):
        seq = job.created["seq"]
        reopen = (next((e for e in events if e["seq"] > seq and e["event"] == "reconcile"
                        and e.get("reason") == "done"), None) if reconciles
                  else _first(events, seq, "condition_set", type=COMPLETED, status="True"))
        windows.append((job.created, reopen))
    return windows


def _gate_closed(ctx: CheckContext, obj: str, t_from: float, t_to: float) -> bool:
    """W13: may the resource's Promise gate have been closed during (t_from, t_to)?"""
    return any(closed < t_to and opened > t_from for closed, opened in _gate_windows(ctx, obj))


def _gate_windows(ctx: CheckContext, obj: str) -> list[tuple[float, float]]:
    """W13: the (closed, reopened) times of the resource's Promise gate (inf: never reopened). It closes at every
    controller start until the Promise's reconcile finds its workflow complete, and, where the profile keeps
    resources waiting for an Unavailable Promise, while any run of the Promise's configure workflow is in flight
    or has failed, and from a Promise spec change until a configure run started after it completes, plus the
    60 s after which a waiting resource checks again. A gated resource's reconcile stops before its workflow."""
    promise = ctx.promise_key(obj)
    if _is_promise(obj) or promise is None:
        return []
    has_configure = _promise_has_configure(ctx, promise)
    windows: list[tuple[float, float]] = []
    unavailable = _unavailable_gates(ctx)
    # A resource that found its Promise Unavailable checks again every slowRequeue (60 s): it may go on that
    # long after the Promise is Available again.
    recheck = (ctx.profile or PROFILES[DEFAULT_PROFILE]).timing.promise_unavailable_requeue_s
    if unavailable:
        windows += [(_t(closed), math.inf if opened is None else _t(opened) + recheck)
                    for closed, opened in _unavailable_windows(ctx, promise)]
    for update in ctx.by_object.get(promise, []):
        if update["event"] != "spec_updated" or not unavailable:
            continue
        reopen: float | None = _t(update)
        if has_configure is not False:
            new_run = next((j for j in ctx.configure_jobs(promise) if j.created["seq"] > update["seq"]
                            and not j.running_at(update["seq"])), None)
            done = None if new_run is None else _first(ctx.by_object[promise], new_run.created["seq"],
                                                       "condition_set", type=COMPLETED, status="True")
            reopen = None if done is None else _t(done) + recheck
        windows.append((_t(update), math.inf if reopen is None else reopen))
    for start in ctx.controller_events:
        if start["event"] == "controller_started":
            reopen = _gate_open_after(ctx, obj, start)
            windows.append((_t(start), math.inf if reopen is None else reopen))
    return windows


def _gate_open_after(ctx: CheckContext, obj: str, start: Event) -> float | None:
    """W13: when, after the controller start ``start``, a resource may run again: its Promise's first reconcile
    with reason ``done`` after the start (when the trace has the Promise's reconciles), else the first moment
    the Promise's configure workflow is complete with no run of it starting at the restart. ``start``'s own
    time for a Promise or a Promise without configure pipelines; None when it never opens or cannot be told."""
    promise = ctx.promise_key(obj)
    if _is_promise(obj) or promise is None:
        return _t(start)
    events = ctx.by_object.get(promise, [])
    if any(e["event"] == "reconcile" for e in events):
        done = next((e for e in events if e["seq"] > start["seq"] and e["event"] == "reconcile"
                     and e.get("reason") == "done"), None)
        return None if done is None else _t(done)
    has_configure = _promise_has_configure(ctx, promise)
    if not has_configure:
        return _t(start) if has_configure is False else None
    state = ctx.condition_before(promise, COMPLETED, start["seq"])
    rerun = any(j.created["seq"] > start["seq"] and _t(j.created) == _t(start) for j in ctx.configure_jobs(promise))
    if state is not None and state.get("status") == "True" and not rerun:
        return _t(start)
    nxt = next((e for e in events if e["seq"] > start["seq"] and e["event"] == "condition_set"
                and e.get("type") == COMPLETED and e.get("status") == "True"), None)
    return None if nxt is None else _t(nxt)


# -- W5 triggers ----------------------------------------------------------------------------------------
class _Triggers:
    """The W5 triggers of every object, sorted by seq, for "was there a trigger between two seqs?"."""

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.by_object: dict[str, list[Event]] = {}
        seed_doc_restarts = (ctx.restarts_between(0, 2**62)
                             if ctx.profile is not None and ctx.profile.restart_reruns_configure else [])
        promise_triggers: dict[str, list[Event]] = {}
        for obj, events in ctx.by_object.items():
            own: list[Event] = []
            configure = ctx.configure_jobs(obj)
            for event in events:
                name = event["event"]
                label = event.get("label")
                if (name in ("object_created", "spec_updated")
                        or (name == "label_set" and label in (MANUAL, RUN_FROM_START))
                        or (name == "label_set" and label == RECONCILE_RESOURCES and _is_promise(obj))  # W12
                        or (name == "label_removed" and label == PAUSED)):
                    own.append(event)
                elif name == "job_deleted" and event.get("reason") == "external":
                    seq = event["seq"]
                    if not any(j.created["seq"] < seq and (j.deleted is None or j.deleted["seq"] > seq)
                               for j in configure):
                        own.append(event)
            self.by_object[obj] = own
            if _is_promise(obj):
                promise_triggers[obj] = [e for e in own if e["event"] in ("spec_updated", "label_removed")]
        for obj in list(self.by_object):
            if _is_promise(obj):
                continue
            promise = ctx.promise_key(obj)
            extra = list(promise_triggers.get(promise or "", [])) + seed_doc_restarts
            if extra:
                self.by_object[obj] = sorted(self.by_object[obj] + extra, key=lambda e: e["seq"])
        self.seqs = {obj: [e["seq"] for e in events] for obj, events in self.by_object.items()}

    def between(self, obj: str, after_seq: int, before_seq: int) -> list[Event]:
        """Triggers of ``obj`` with after_seq < seq < before_seq."""
        events = self.by_object.get(obj, [])
        seqs = self.seqs.get(obj, [])
        start = bisect_right(seqs, after_seq)
        return [e for e in events[start:] if e["seq"] < before_seq]


# -- step executions ------------------------------------------------------------------------------------
@dataclass
class _Exec:
    object: str
    job: str
    pod: str
    container: str
    started: Event
    exited: Event | None

    def covers(self, seq: int) -> bool:
        return self.started["seq"] < seq and (self.exited is None or seq < self.exited["seq"])

    @property
    def exit_code(self) -> int | None:
        return None if self.exited is None else self.exited.get("exit_code")


def _pod_execs(ctx: CheckContext, pod_name: str) -> list[_Exec]:
    pod = ctx.pods[pod_name]
    job = ctx.jobs.get(pod.job)
    obj = job.object if job is not None else str(pod.created.get("object", ""))
    execs: list[_Exec] = []
    open_: dict[str, _Exec] = {}
    for event in pod.steps:
        name = str(event.get("container", ""))
        if event["event"] == "container_started":
            execution = _Exec(obj, pod.job, pod_name, name, event, None)
            execs.append(execution)
            open_[name] = execution
        else:
            started = open_.pop(name, None)
            if started is not None:
                started.exited = event
    return execs


def _executions(ctx: CheckContext) -> dict[str, list[_Exec]]:
    """Every step execution, per object, in start order."""
    by_object: dict[str, list[_Exec]] = {}
    for pod_name in ctx.pods:
        for execution in _pod_execs(ctx, pod_name):
            by_object.setdefault(execution.object, []).append(execution)
    for execs in by_object.values():
        execs.sort(key=lambda x: x.started["seq"])
    return by_object


def _open_step(execs: dict[str, list[_Exec]], obj: str, seq: int, container: str) -> _Exec | None:
    """The execution of ``container`` of ``obj`` that was running at ``seq`` (the newest, if several)."""
    found = None
    for execution in execs.get(obj, []):
        if execution.started["seq"] >= seq:
            break
        if execution.container == container and execution.covers(seq):
            found = execution
    return found


# -- W1 -------------------------------------------------------------------------------------------------
@checker("W1")
def serial_pipelines(ctx: CheckContext) -> Verdict:
    """A configure Job for pipeline i > 0 continues the object's newest configure Job (the newest not deleted
    before it): that Job has the same hash and completed before, for pipeline i-1, or (workflow control, C1)
    for pipeline i itself after asking to suspend or retry; and no other configure Job of the object runs."""
    found = _Found(ctx, "W1")
    if ctx.profile is None:
        return _unknown_profile("W1", ctx)
    exercised = False
    unknown = ""
    for obj, jobs in sorted(ctx.jobs_by_object.items()):
        configure = [j for j in jobs if j.action == "configure"]
        for n, job in enumerate(configure):
            if job.pipeline_index <= 0:
                continue
            exercised = True
            created = job.created["seq"]
            earlier = configure[:n]
            previous = [j for j in earlier if j.deleted is None or j.deleted["seq"] > created]
            label = f"{obj}: Job {job.name} for pipeline {job.pipeline} (index {job.pipeline_index})"
            if not previous:
                if earlier or any(e["event"] == "object_created" for e in ctx.by_object.get(obj, [])):
                    found.add(job.created, f"{label} created with no earlier Job of the run left "
                              "(a new run starts at pipeline 0)")
                    continue
                unknown = unknown or f"{obj}: the trace starts mid-run (its first Job is for pipeline {job.pipeline})"
                continue
            newest = previous[-1]
            same = job.pipeline_index == newest.pipeline_index
            allowed = newest.pipeline_index == job.pipeline_index - 1 or (same and ctx.profile.workflow_control)
            completed = newest.state == "complete" and newest.ended is not None and newest.ended["seq"] < created
            if newest.hash != job.hash or not allowed or not completed:
                found.add(job.created, f"{label} created after {newest.name} (pipeline "
                          f"{newest.pipeline}, index {newest.pipeline_index}, {newest.state}"
                          f"{'' if newest.hash == job.hash else ', another hash'}); it must follow the "
                          f"completed Job of pipeline index {job.pipeline_index - 1} of the same run")
                continue
            if same and not _suspended_by_control(ctx, newest):
                gap = ctx.evidence.missing("labels")
                if gap is not None:
                    unknown = unknown or (f"{label} re-runs a completed pipeline: a retry asked by the run "
                                          f"cannot be told ({gap})")
                    continue
                found.add(job.created, f"{label} re-runs a pipeline that completed without asking to "
                          "suspend or retry")
                continue
            running = [j for j in earlier if j.running_at(created)]
            if running:
                found.add(job.created, f"{label} created while {running[0].name} (pipeline "
                          f"{running[0].pipeline}) still runs")
                continue
    if unknown:
        return found.verdict(Verdict("W1", "unknown", unknown))
    return found.verdict(Verdict("W1", "pass", "" if exercised else "not exercised (no multi-pipeline run)"))


# -- W2 -------------------------------------------------------------------------------------------------
def _check_pod(ctx: CheckContext, pod_name: str, profile: Profile) -> tuple[Event, str] | None:
    """The first W2 violation in one pod, or None."""
    pod = ctx.pods[pod_name]
    job = ctx.jobs.get(pod.job)
    action = job.action if job is not None else None
    where = f"{pod.created.get('object', '')} pod {pod_name}"
    running: Event | None = None
    last_exit: Event | None = None
    finished: set[str] = set()
    for event in pod.steps:
        name = str(event.get("container", ""))
        attempt = event.get("attempt")
        if event["event"] == "container_exited":
            if running is None or running.get("container") != name:
                return event, f"{where}: {name} exited without running"
            running, last_exit = None, event
            if event.get("exit_code") == 0:
                finished.add(name)
            continue
        if job is not None and job.ended is not None and job.ended["seq"] < event["seq"]:
            return event, f"{where}: {name} started after the Job ended ({job.ended['event']})"
        if running is not None:
            return event, f"{where}: {name} started while {running.get('container')} still runs"
        if last_exit is None:
            if name != READER:
                return event, f"{where}: the first step is {name}, not reader"
            if attempt not in (None, 1):
                return event, f"{where}: first execution of reader has attempt {attempt}"
            running = event
            continue
        previous = str(last_exit.get("container", ""))
        code = last_exit.get("exit_code")
        if name == previous:
            if code == 0:
                return event, f"{where}: {name} started again after it exited 0"
            if attempt is not None and last_exit.get("attempt") is not None and attempt != last_exit["attempt"] + 1:
                return event, f"{where}: restart of {name} has attempt {attempt} after attempt {last_exit['attempt']}"
            running = event
            continue
        if code != 0:
            return event, f"{where}: {name} started after {previous} exited {code}"
        if name in finished or name == READER:
            return event, f"{where}: {name} runs a second time in the pod"
        if attempt not in (None, 1):
            return event, f"{where}: first execution of {name} has attempt {attempt}"
        if previous == STATUS_WRITER:
            return event, f"{where}: {name} started after the status-writer, the last step"
        if previous == WORK_WRITER and name != STATUS_WRITER:
            return event, f"{where}: {name} started after the work-writer (only the status-writer follows it)"
        if name == WORK_WRITER and action == "delete":
            return event, f"{where}: a delete pod has no work-writer"
        if name == STATUS_WRITER:
            if action == "configure" and previous != WORK_WRITER:
                return event, f"{where}: the status-writer started after {previous}, not after the work-writer"
            if action == "delete" and not profile.delete_has_status_writer:
                return event, f"{where}: delete pods have no status-writer in profile {profile.name}"
        running = event
    return None


def _user_order(pod_steps: list[Event]) -> list[tuple[str, Event]]:
    order: list[tuple[str, Event]] = []
    for event in pod_steps:
        name = str(event.get("container", ""))
        if event["event"] == "container_started" and name not in KRATIX_STEPS and name not in [n for n, _ in order]:
            order.append((name, event))
    return order


def _completed_pod_problem(ctx: CheckContext, job: JobInfo, profile: Profile) -> str | None:
    """A completed Job's last pod must have run the whole sequence."""
    pods = [p for p in job.pods if p.steps]
    if not pods:
        return None
    exits = [e for e in pods[-1].steps if e["event"] == "container_exited"]
    last = exits[-1] if exits else None
    if last is None or last.get("exit_code") != 0:
        return "its last pod did not end with a step that exited 0"
    names = {str(e.get("container")) for e in exits if e.get("exit_code") == 0}
    if job.action == "configure" and (last.get("container") != STATUS_WRITER or WORK_WRITER not in names):
        return "its last pod did not run the work-writer and then the status-writer"
    if job.action == "delete" and profile.delete_has_status_writer and last.get("container") != STATUS_WRITER:
        return "its last pod did not end with the status-writer"
    return None


@checker("W2")
def serial_containers(ctx: CheckContext) -> Verdict:
    """In each pod, steps run one at a time in the order of section 1: reader first; a different step starts
    only after the previous one exited 0; a step restarts (same container, next attempt) only after a
    non-zero exit; configure pods end work-writer -> status-writer, delete pods have no work-writer and end
    with the status-writer (none in profile kratix-2025); no step runs twice after exiting 0 or after the
    status-writer, nor starts after its Job ended. User containers run in the same order in every pod of the
    same (workflow, action, pipeline, hash), and a Job that completed ran its last pod to the end."""
    found = _Found(ctx, "W2")
    profile = ctx.profile
    if profile is None:
        return _unknown_profile("W2", ctx)
    if not ctx.pods:
        return found.verdict(Verdict("W2", "pass", "not exercised (no pod in the trace)"))
    for pod_name in ctx.pods:
        problem = _check_pod(ctx, pod_name, profile)
        if problem is not None:
            found.add(*problem)
            continue
    reference: dict[tuple[str, str, str, str], list[str]] = {}
    for pod_name, pod in ctx.pods.items():
        job = ctx.jobs.get(pod.job)
        if job is None:
            continue
        key = (job.workflow, job.action, job.pipeline, job.hash)
        order = _user_order(pod.steps)
        names = [n for n, _ in order]
        ref = reference.setdefault(key, names)
        for i, (name, event) in enumerate(order):
            if i < len(ref) and ref[i] != name:
                found.add(event, f"{job.object} pod {pod_name}: user container {name} runs at position "
                          f"{i + 1}, where other pods of pipeline {job.pipeline} ran {ref[i]}")
                continue
        if len(names) > len(ref):
            reference[key] = names
    for job in ctx.jobs.values():
        if job.state == "complete" and job.ended is not None:
            problem_text = _completed_pod_problem(ctx, job, profile)
            if problem_text is not None:
                found.add(job.ended, f"{job.object}: Job {job.name} completed but {problem_text}")
                continue
    return found.verdict(Verdict("W2", "pass"))


# -- W3, W4 ---------------------------------------------------------------------------------------------
@checker("W3")
def single_flight(ctx: CheckContext) -> Verdict:
    """At most one workflow Job per object runs at any instant (profiles without D2 may overlap a delete
    Job with a configure Job)."""
    found = _Found(ctx, "W3")
    if ctx.profile is None:
        return _unknown_profile("W3", ctx)
    delete_may_overlap = not ctx.profile.delete_waits_for_configure
    for obj, jobs in sorted(ctx.jobs_by_object.items()):
        for n, job in enumerate(jobs):
            created = job.created["seq"]
            for other in jobs[:n]:
                if other.running_at(created):
                    if delete_may_overlap and "delete" in (job.action, other.action) and job.action != other.action:
                        continue
                    found.add(job.created, f"{obj}: Job {job.name} ({job.action} {job.pipeline}) "
                              f"created while {other.name} ({other.action} {other.pipeline}) runs")
                    continue
    return found.verdict(Verdict("W3", "pass"))


@checker("W4")
def halt_on_failure(ctx: CheckContext) -> Verdict:
    """After a configure Job fails (or is suspended, J4: treated as failed), the object's next Job needs a W5
    trigger since that Job was created (manual or run-from-start label, a spec change of the object or its
    Promise -- one during the run is waited for (W7) and then starts a new run --, all its Jobs deleted, an
    unpause, in seed-doc a controller restart) or the object's deletion (for a delete Job)."""
    found = _Found(ctx, "W4")
    exercised = False
    unknown = ""
    gap = ctx.evidence.missing("labels")
    triggers = _Triggers(ctx)
    for job in ctx.jobs.values():
        if job.action != "configure" or job.state not in ("failed", "suspended") or job.ended is None:
            continue
        exercised = True
        later = [j for j in ctx.jobs_by_object.get(job.object, []) if j.created["seq"] > job.ended["seq"]]
        if not later:
            continue
        nxt = later[0]
        if triggers.between(job.object, job.created["seq"], nxt.created["seq"]):
            continue
        deleting = _first(ctx.by_object.get(job.object, []), 0, "delete_requested")
        if nxt.action == "delete" and deleting is not None and deleting["seq"] < nxt.created["seq"]:
            continue
        if gap is not None and (nxt.action == "delete" or nxt.pipeline_index == 0):  # a new run: label unseen?
            unknown = unknown or (f"{job.object}: Job {nxt.name} (pipeline {nxt.pipeline}) created after {job.name} "
                                  f"ended, with no trigger in the trace; a label may have started it ({gap})")
            continue
        found.add(nxt.created, f"{job.object}: Job {nxt.name} (pipeline {nxt.pipeline}) created after "
                  f"{job.name} {'failed' if job.state == 'failed' else 'was suspended'}, with no trigger")
        continue
    if unknown:
        return found.verdict(Verdict("W4", "unknown", unknown))
    return found.verdict(Verdict("W4", "pass", "" if exercised else "not exercised (no failed configure Job)"))


# -- W5 -------------------------------------------------------------------------------------------------
@checker("W5")
def runs_start_at_zero(ctx: CheckContext) -> Verdict:
    """After a W5 trigger of an object (created; spec change of it or of its Promise; label
    manual-reconciliation or run-from-start set; all its configure Jobs deleted; unpause; seed-doc: a
    controller restart), its next configure Job is for pipeline 0. A configure Job for pipeline i > 0 carries
    the hash of its run's pipeline-0 Job."""
    found = _Found(ctx, "W5")
    triggers = _Triggers(ctx)
    exercised = False
    unknown = ""
    for obj in sorted(ctx.jobs_by_object):
        configure = ctx.configure_jobs(obj)
        previous_seq = 0
        run_start: JobInfo | None = None
        for job in configure:
            created = job.created["seq"]
            fired = triggers.between(obj, previous_seq, created)
            previous_seq = created
            if fired:
                exercised = True
                if job.pipeline_index != 0:
                    trigger = fired[-1]
                    what = " ".join(str(x) for x in (trigger["event"], trigger.get("label")) if x)
                    found.add(job.created, f"{obj}: after {what} (seq {trigger['seq']}) the next Job {job.name} is for "
                              f"pipeline {job.pipeline} (index {job.pipeline_index}), not pipeline 0")
                    continue
            if job.pipeline_index == 0:
                run_start = job
            elif run_start is None:
                unknown = unknown or f"{obj}: the trace has no pipeline-0 Job before {job.name}"
            elif job.hash != run_start.hash:
                found.add(job.created, f"{obj}: Job {job.name} (pipeline {job.pipeline}) has hash "
                          f"{job.hash}, not its run's ({run_start.hash}, from {run_start.name})")
                continue
    if unknown:
        return found.verdict(Verdict("W5", "unknown", unknown))
    return found.verdict(Verdict("W5", "pass", "" if exercised else "not exercised (no trigger followed by a Job)"))


# -- W6 -------------------------------------------------------------------------------------------------
@checker("W6")
def manual_reconciliation(ctx: CheckContext) -> Verdict:
    """The manual-reconciliation label set while a configure Job of the object runs makes Kratix suspend that
    Job: it is suspend-requested or ends before any new Job of the object, and (controller up, object and
    Promise not paused, not deleting) it does not run on to its own end later than the controller latency
    after the label (liveness). The label is removed only while no Job of the same action runs, in the same
    instant as the next Job of the object is created, which is a configure Job for pipeline 0 or a delete Job
    (an object without configure pipelines may drop it with no Job); and a Job created while the label is set
    removes it in that same instant."""
    found = _Found(ctx, "W6")
    exercised = False
    latency = _latency_s(ctx)
    for obj, events in sorted(ctx.by_object.items()):
        jobs = ctx.jobs_by_object.get(obj, [])
        for event in events:
            if event["event"] == "label_set" and event.get("label") == MANUAL:
                seq = event["seq"]
                deleting = _first(events, 0, "delete_requested")
                if deleting is not None and deleting["seq"] < seq:
                    continue
                running = [j for j in jobs if j.action == "configure" and j.running_at(seq)]
                if not running:
                    continue
                exercised = True
                job = running[0]
                later = [j for j in jobs if j.created["seq"] > seq]
                end = job.end_seq()
                if later and (end is None or end > later[0].created["seq"]):
                    found.add(later[0].created, f"{obj}: Job {later[0].name} created while {job.name}, "
                              "running when the manual-reconciliation label was set, still runs")
                    continue
                requested = job.suspend_requested is not None and job.suspend_requested["seq"] > job.created["seq"]
                ended = _ended_event(job)
                if requested or ended is None or ended["event"] in ("job_suspended", "job_deleted"):
                    continue
                if (_t(ended) - _t(event) > latency and _up_throughout(ctx, _t(event), _t(ended))
                        and not _paused_during(ctx, obj, _t(event), _t(ended))
                        and not _deleting_by(ctx, obj, _t(ended))
                        and not _gate_closed(ctx, obj, _t(event), _t(ended))):
                    found.add(ended, f"{obj}: Job {job.name} ran on to its end {_t(ended) - _t(event):g} s "
                              f"after the manual-reconciliation label (seq {seq}) without being suspended",
                              category="liveness")
                    continue
            elif event["event"] == "label_removed" and event.get("label") == MANUAL:
                exercised = True
                seq = event["seq"]
                nxt = next((j for j in jobs if j.created["seq"] > seq), None)
                if (nxt is None or _t(nxt.created) != _t(event)) and ctx.pipelines is not None \
                        and not ctx.pipelines.of(_workflow_of(obj), "configure"):
                    continue  # nothing to run: the reconcile spends the label without a Job
                if nxt is None or _t(nxt.created) != _t(event):
                    found.add(event, f"{obj}: the manual-reconciliation label was removed without a Job "
                              "being created in the same instant")
                    continue
                if not (nxt.action == "delete" or (nxt.action == "configure" and nxt.pipeline_index == 0)):
                    found.add(event, f"{obj}: the manual-reconciliation label was removed for Job "
                              f"{nxt.name} (pipeline {nxt.pipeline}, index {nxt.pipeline_index}), not pipeline 0")
                    continue
                busy = [j for j in jobs if j.action == nxt.action and j.running_at(seq)]
                if busy:
                    found.add(event, f"{obj}: the manual-reconciliation label was removed while "
                              f"{busy[0].name} still runs")
                    continue
            elif event["event"] == "job_created" and MANUAL in ctx.labels_before(obj, event["seq"]):
                exercised = True
                removed = any(e["event"] == "label_removed" and e.get("label") == MANUAL and _t(e) == _t(event)
                              and e["seq"] > event["seq"] for e in events)
                if not removed:
                    found.add(event, f"{obj}: Job {event.get('job')} created while the "
                              "manual-reconciliation label is set, and the label is not removed in that step")
                    continue
    return found.verdict(Verdict("W6", "pass", "" if exercised else "not exercised (no manual-reconciliation label)"))


# -- W7 -------------------------------------------------------------------------------------------------
def _spec_keys(ctx: CheckContext, obj: str) -> list[tuple[int, tuple[str | None, str | None]]]:
    """(seq, (Promise spec hash, object spec hash)) from each spec event that concerns ``obj``."""
    promise = ctx.promise_key(obj)
    merged = sorted(ctx.by_object.get(obj, []) + ([] if promise is None or promise == obj
                                                   else ctx.by_object.get(promise, [])), key=lambda e: e["seq"])
    current: tuple[str | None, str | None] = (None, None)
    keys = []
    for event in merged:
        if event["event"] in ("object_created", "spec_updated"):
            own = event.get("object") == obj
            value = event.get("hash")
            current = (current[0], value) if own else (value, current[1])
            keys.append((event["seq"], current))
    return keys


@checker("W7")
def spec_change_waits(ctx: CheckContext) -> Verdict:
    """A configure Job carries the hash of the specs current at its creation: a Job with the hash of an older
    spec is never created after a spec change, and the hash changes only with a spec. When the spec of an
    object, or of its Promise, changes while a configure Job of the object runs, the next configure Job is for
    pipeline 0 and is created only after the running one ended; kratix-2026.08 / seed-doc: the running Job is
    not suspended unless the manual-reconciliation label was set; kratix-2025: a change of the object's own
    spec suspends it (it is suspend-requested, or ends within the controller latency: liveness)."""
    found = _Found(ctx, "W7")
    profile = ctx.profile
    if profile is None:
        return _unknown_profile("W7", ctx)
    exercised = False
    latency = _latency_s(ctx)
    for obj in sorted(ctx.jobs_by_object):
        keys = _spec_keys(ctx, obj)
        if not keys:
            continue
        key_seqs = [s for s, _ in keys]
        hash_of: dict[tuple[str | None, str | None], str] = {}
        key_of: dict[str, tuple[str | None, str | None]] = {}
        for job in ctx.configure_jobs(obj):
            i = bisect_right(key_seqs, job.created["seq"]) - 1
            if i < 0:
                continue
            key = keys[i][1]
            if job.hash in key_of and key_of[job.hash] != key:
                exercised = True
                found.add(job.created, f"{obj}: Job {job.name} (pipeline {job.pipeline}) carries hash "
                          f"{job.hash} of an older spec (the spec changed at seq {keys[i][0]})")
                continue
            if key in hash_of and hash_of[key] != job.hash:
                found.add(job.created, f"{obj}: Job {job.name} has hash {job.hash} though the spec is "
                          f"the one that gave {hash_of[key]} (only .spec feeds the hash)")
                continue
            hash_of.setdefault(key, job.hash)
            key_of.setdefault(job.hash, key)
    for update in (e for e in ctx.events if e["event"] == "spec_updated"):
        source = str(update.get("object", ""))
        if _is_promise(source):
            affected = [o for o in ctx.jobs_by_object if o == source or ctx.promise_key(o) == source]
        else:
            affected = [source]
        for obj in sorted(affected):
            jobs = ctx.configure_jobs(obj)
            running = [j for j in jobs if j.running_at(update["seq"])]
            if not running:
                continue
            exercised = True
            job = running[0]
            nxt = next((j for j in jobs if j.created["seq"] > update["seq"]), None)
            end = job.end_seq()
            if nxt is not None and (end is None or end > nxt.created["seq"]):
                found.add(nxt.created, f"{obj}: Job {nxt.name} created while {job.name}, running at the "
                          f"spec change (seq {update['seq']}), still runs")
                continue
            if nxt is not None and nxt.pipeline_index != 0:
                found.add(nxt.created, f"{obj}: after the spec change (seq {update['seq']}) the next Job "
                          f"{nxt.name} is for pipeline {nxt.pipeline}, not pipeline 0 of the new spec")
                continue
            request = job.suspend_requested
            if not profile.spec_change_suspends:
                if request is not None and request["seq"] > update["seq"]:
                    manual = [e for e in ctx.by_object.get(obj, []) if e["event"] == "label_set"
                              and e.get("label") == MANUAL and job.created["seq"] < e["seq"] < request["seq"]]
                    if not manual:
                        found.add(request, f"{obj}: Job {job.name} suspended after the spec change "
                                  f"(seq {update['seq']}) with no manual-reconciliation label; it must be "
                                  f"waited for in profile {profile.name}")
                        continue
            elif source == obj and (request is None or request["seq"] < update["seq"]):
                ended = _ended_event(job)
                if ended is not None and ended["event"] in ("job_completed", "job_failed") \
                        and _t(ended) - _t(update) > latency and _up_throughout(ctx, _t(update), _t(ended)) \
                        and not _paused_during(ctx, obj, _t(update), _t(ended)) \
                        and not _deleting_by(ctx, obj, _t(ended)) and not _gate_closed(ctx, obj, _t(update), _t(ended)):
                    found.add(ended, f"{obj}: Job {job.name} ran on to its end "
                              f"{_t(ended) - _t(update):g} s after the spec change; profile {profile.name} "
                              "suspends it", category="liveness")
                    continue
    return found.verdict(Verdict("W7", "pass", "" if exercised else "not exercised (no spec change while a Job ran)"))


# -- W8 -------------------------------------------------------------------------------------------------
@checker("W8")
def completion(ctx: CheckContext) -> Verdict:
    """ConfigureWorkflowCompleted=True is set only by the status-writer of a configure Job of the object's
    last configure pipeline, in a pod whose run did not ask to suspend or retry; every configure Job is created
    while the object's ConfigureWorkflowCompleted is False/PipelinesInProgress (set before it, or in the same
    instant before the object's next Job); lastSuccessfulConfigureWorkflowTime moves only in the instant the
    workflow completes. Needs the Promise's pipelines for the first part (else unknown)."""
    found = _Found(ctx, "W8")
    pipelines = _ConfigurePipelines(ctx)
    execs = _executions(ctx)
    has_steps = bool(execs)
    unknown = ""
    exercised = False
    for event in ctx.events:
        if event["event"] != "condition_set" or event.get("type") != COMPLETED or event.get("status") != "True":
            continue
        obj = str(event.get("object", ""))
        exercised = True
        if not has_steps:
            unknown = unknown or "the trace has no container events"
            continue
        step = _open_step(execs, obj, event["seq"], STATUS_WRITER)
        job = ctx.jobs.get(step.job) if step is not None else None
        if step is None or job is None or job.action != "configure":
            found.add(event, f"{obj}: ConfigureWorkflowCompleted=True set outside the status-writer of a "
                      "configure Job")
            continue
        suspend = [e for e in ctx.by_object.get(obj, []) if e["event"] == "label_set" and e.get("label") == SUSPENDED
                   and step.covers(e["seq"])]
        if suspend:
            found.add(event, f"{obj}: ConfigureWorkflowCompleted=True set by the status-writer of "
                      f"{job.name}, whose run asked to suspend")
            continue
        names = pipelines.of(job)
        if names is None:
            unknown = unknown or "the Promise's pipelines are not known (or do not match the trace's Jobs)"
            continue
        last = len(names) - 1
        if job.pipeline_index != last or (names and names[last] != job.pipeline):
            found.add(event, f"{obj}: ConfigureWorkflowCompleted=True set by the status-writer of "
                      f"{job.name}, pipeline {job.pipeline} (index {job.pipeline_index}); the last pipeline is "
                      f"{names[last] if names else 'none'} (index {last})")
            continue
    if _has_events(ctx, "condition_set"):
        for obj, jobs in sorted(ctx.jobs_by_object.items()):
            for job in jobs:
                if job.action != "configure":
                    continue
                exercised = True
                state = ctx.condition_before(obj, COMPLETED, job.created["seq"])
                if state is not None and state.get("status") == "False" and state.get("reason") == IN_PROGRESS:
                    continue
                same_instant = False
                for later in ctx.after(job.created):
                    if _t(later) != _t(job.created) or (later.get("object") == obj and later["event"] == "job_created"):
                        break
                    if later.get("object") == obj and later["event"] == "condition_set" and later.get("type") == \
                            COMPLETED and later.get("status") == "False" and later.get("reason") == IN_PROGRESS:
                        same_instant = True
                        break
                if not same_instant:
                    got = "never set" if state is None else f"{state.get('status')}/{state.get('reason')}"
                    found.add(job.created, f"{obj}: Job {job.name} created while ConfigureWorkflowCompleted "
                              f"was {got}, not False/PipelinesInProgress")
                    continue
    elif ctx.jobs:
        unknown = unknown or "the trace has no condition events"
    # lastSuccessfulConfigureWorkflowTime moves only on success: in the instant the workflow completes.
    for event in ctx.events:
        fields = event.get("fields")
        if event["event"] != "status_updated" or not isinstance(fields, dict) \
                or "lastSuccessfulConfigureWorkflowTime" not in fields:
            continue
        exercised = True
        obj = str(event.get("object", ""))
        state = ctx.condition_before(obj, COMPLETED, event["seq"])
        if state is None or state.get("status") != "True" or _t(state) != _t(event):
            found.add(event, f"{obj}: lastSuccessfulConfigureWorkflowTime moved without the workflow completing "
                      "in that instant")
    if unknown:
        return found.verdict(Verdict("W8", "unknown", unknown))
    return found.verdict(Verdict("W8", "pass", "" if exercised else "not exercised"))


# -- W9 -------------------------------------------------------------------------------------------------
def _previous_reconcile(ctx: CheckContext, event: Event) -> Event | None:
    i = ctx.index_of[event["seq"]]
    for earlier in reversed(ctx.events[:i]):
        if _t(earlier) != _t(event):
            return None
        if earlier["event"] == "reconcile":
            return earlier
    return None


def _set_by_interval(ctx: CheckContext, label: Event, profile: Profile, reconciles: bool) -> bool | None:
    """Was this manual-reconciliation label set by the controller for the interval (W9)? None: cannot tell."""
    obj = str(label.get("object", ""))
    t = _t(label)
    if ctx.fault_at(t, "manual-reconcile", obj):
        return False
    if profile.restart_reruns_configure and not _is_promise(obj):
        for started in ctx.restarts_between(0, label["seq"]):
            if _t(started) == t:
                return False  # seed-doc: the restart labels every resource
    if not reconciles:
        return None if profile.fanout_label == "manual" else True
    previous = _previous_reconcile(ctx, label)
    if previous is None:
        return True
    if previous.get("object") != obj:
        return False  # set by another object's reconcile: a Promise's fan-out (kratix-2025)
    return previous.get("reason") != "unpaused"


def _eligible(condition: Event, raf: bool) -> bool:
    return condition.get("status") == "True" or (raf and condition.get("reason") == FAILED_REASON)


def _interval_deadline_check(ctx: CheckContext, obj: str, start: Event, interval: float,
                             slack: float) -> Verdict | None:
    """W9 liveness for one completed or failed run, from its condition event ``start``."""
    if _deleting_by(ctx, obj, _t(start)):
        return None
    promise = ctx.promise_key(obj)
    base = math.floor(_t(start))
    windows = sorted(_gate_windows(ctx, obj))

    def past_gate(due: float, deadline: float) -> float | None:
        """W13: a run due from ``due`` while the Promise gate is closed starts when it reopens (None: never)."""
        for closed, opened in windows:
            if closed < deadline + slack and opened > due:
                if opened == math.inf:
                    return None
                deadline = max(deadline, opened)
        return deadline

    deadline = past_gate(base + interval, base + 2 * interval)
    if deadline is None:
        return None
    up = ctx.controller_up_at(start["seq"])
    for event in ctx.after(start):
        if up and _t(event) > deadline + slack:
            return ctx.fail("W9", start, f"{obj}: ConfigureWorkflowCompleted {start.get('status')}/"
                            f"{start.get('reason')} since {base} s, interval {interval:g} s: no interval run by "
                            f"{deadline + slack:g} s (controller up)", category="liveness")
        name = event["event"]
        key = event.get("object")
        label = event.get("label")
        period_over = (  # a run starts or is asked for, or nothing is owed any more
            (key == obj and (name in ("job_created", "delete_requested", "object_removed", "spec_updated")
                             or (name == "condition_set" and event.get("type") == COMPLETED)
                             or (name == "label_set" and label in (MANUAL, RUN_FROM_START, PAUSED))))
            or (key == promise and key != obj and (name == "spec_updated" or (
                name == "label_set" and label in (PAUSED, RECONCILE_RESOURCES)))))
        if period_over:
            return None
        if name == "controller_stopped":
            up = False
        elif name == "controller_started":
            up = True
            gate = _gate_open_after(ctx, obj, event)  # W13: a resource waits for its Promise after a start
            if gate is None:
                return None
            deadline = past_gate(_t(event), gate if gate - base > interval else gate + interval)
            if deadline is None:
                return None
    return None


@checker("W9")
def cadence(ctx: CheckContext) -> Verdict:
    """Reconciliation interval (header config). Safety: the controller sets the manual-reconciliation label for
    the interval (a label not explained by a manual-reconcile fault, a seed-doc restart, a kratix-2025 fan-out
    or an unpause) only when now - lastTransitionTime(ConfigureWorkflowCompleted, whole seconds) > interval and
    the condition is True, or failed with reconcileAfterFailure, and run-from-start is absent. Liveness: an
    object whose condition turned True (or failed, with reconcileAfterFailure) gets a new run by
    lastTransition + 2 x interval (an older pending requeue may fire before the run is due and push it one more
    interval: the delaying queue keeps the earliest time), or after a controller restart at s by s + interval
    (s itself when already due), plus the controller latency, when the controller is up then and the trace
    goes that far; a run due while the resource's Promise gate is closed (W13) is owed only once it reopens."""
    found = _Found(ctx, "W9")
    profile = ctx.profile
    if profile is None:
        return _unknown_profile("W9", ctx)
    if ctx.interval_s is None or ctx.reconcile_after_failure is None:
        return Verdict("W9", "unknown", "the trace header has no reconciliationInterval_s / reconcileAfterFailure")
    interval = float(ctx.interval_s)
    raf = bool(ctx.reconcile_after_failure)
    reconciles = _has_events(ctx, "reconcile")
    exercised = False
    unknown = ""
    for event in ctx.events:
        if event["event"] != "label_set" or event.get("label") != MANUAL:
            continue
        by_interval = _set_by_interval(ctx, event, profile, reconciles)
        if by_interval is None:
            unknown = unknown or "cannot tell interval labels from fan-out labels without reconcile events"
            continue
        if not by_interval:
            continue
        exercised = True
        obj = str(event.get("object", ""))
        condition = ctx.condition_before(obj, COMPLETED, event["seq"])
        if condition is None:
            found.add(event, f"{obj}: interval label set with no ConfigureWorkflowCompleted condition")
            continue
        age = _t(event) - math.floor(_t(condition))
        if age <= interval:
            found.add(event, f"{obj}: interval label set {age:g} s after ConfigureWorkflowCompleted last "
                      f"moved; the interval is {interval:g} s (the age test is strict)")
            continue
        if not _eligible(condition, raf):
            found.add(event, f"{obj}: interval label set while ConfigureWorkflowCompleted is "
                      f"{condition.get('status')}/{condition.get('reason')} (reconcileAfterFailure={raf})")
            continue
        if RUN_FROM_START in ctx.labels_before(obj, event["seq"]):
            found.add(event, f"{obj}: interval label set while run-from-start is set")
            continue
    slack = _latency_s(ctx)
    for obj, events in sorted(ctx.by_object.items()):
        for event in events:
            if event["event"] == "condition_set" and event.get("type") == COMPLETED and _eligible(event, raf):
                exercised = True
                verdict = _interval_deadline_check(ctx, obj, event, interval, slack)
                if verdict is not None:
                    found.items.append(verdict)
    if unknown:
        return found.verdict(Verdict("W9", "unknown", unknown))
    return found.verdict(Verdict("W9", "pass", "" if exercised else "not exercised (no completed run)"))


# -- W10 ------------------------------------------------------------------------------------------------
@checker("W10")
def no_spurious_runs(ctx: CheckContext) -> Verdict:
    """Every configure run start (a Job for pipeline 0) has a W5 trigger since the object's previous run start:
    object created, spec change of it or of its Promise, label manual-reconciliation or run-from-start set,
    all its configure Jobs deleted, an unpause; with workflow control (C1), a retry or resume of a suspended
    pipeline 0 (its newest Job, pipeline 0 of the same hash, asked to suspend); in profile seed-doc, a controller
    restart (resources). A plain controller restart is never one."""
    found = _Found(ctx, "W10")
    profile = ctx.profile
    if profile is None:
        return _unknown_profile("W10", ctx)
    triggers = _Triggers(ctx)
    exercised = False
    for obj in sorted(ctx.jobs_by_object):
        configure = ctx.configure_jobs(obj)
        previous_start = 0
        for n, job in enumerate(configure):
            if job.pipeline_index != 0:
                continue
            exercised = True
            created = job.created["seq"]
            fired = triggers.between(obj, previous_start, created)
            previous_start = created
            if fired:
                continue
            alive = [j for j in configure[:n] if j.deleted is None or j.deleted["seq"] > created]
            if profile.workflow_control and alive and alive[-1].pipeline_index == 0 and alive[-1].hash == job.hash \
                    and alive[-1].state == "complete" and _suspended_by_control(ctx, alive[-1]):
                continue
            restart = ctx.restarts_between(0, created)
            note = f" (a controller restart at seq {restart[-1]['seq']} is not one)" if restart else ""
            found.add(job.created, f"{obj}: run started (Job {job.name}, pipeline {job.pipeline}) with "
                      f"no trigger since the previous run start{note}")
            continue
    return found.verdict(Verdict("W10", "pass", "" if exercised else "not exercised (no run)"))


# -- W11 ------------------------------------------------------------------------------------------------
@checker("W11")
def restart_resumes(ctx: CheckContext) -> Verdict:
    """After a controller restart every object continues from its Jobs: when its newest configure Job (created
    before the restart) completed for pipeline i < last without asking to suspend, and no W5 trigger came
    since it, the object's next configure Job is pipeline i+1 with the same hash; if all its configure Jobs
    were deleted, the next is pipeline 0. Liveness: that next Job is created within the controller latency of
    the restart, the Job's end, the deletion or the Promise's workflow completing (whichever is last), when the
    controller stays up and the trace goes that far. Needs the pipelines (else unknown) unless the Job's run
    set ConfigureWorkflowCompleted=True."""
    found = _Found(ctx, "W11")
    pipelines = _ConfigurePipelines(ctx)
    if ctx.profile is None:
        return _unknown_profile("W11", ctx)
    triggers = _Triggers(ctx)
    slack = _latency_s(ctx)
    exercised = False
    unknown = ""
    for restart in ctx.restarts_between(0, 2**62):
        r_seq = restart["seq"]
        for obj in ctx.existing_at(r_seq):
            events = ctx.by_object.get(obj, [])
            if any(e["event"] == "delete_requested" for e in events):
                continue
            configure = ctx.configure_jobs(obj)
            before = [j for j in configure if j.created["seq"] < r_seq]
            if not before:
                continue
            after = [j for j in configure if j.created["seq"] > r_seq]
            nxt = after[0] if after else None
            horizon = nxt.created["seq"] if nxt is not None else 2**62
            alive = [j for j in before if j.deleted is None or j.deleted["seq"] > horizon]
            if not alive:
                deletions = [j.deleted for j in before
                             if j.deleted is not None and j.deleted.get("reason") == "external"]
                if not deletions:
                    continue
                exercised = True
                if nxt is not None and nxt.pipeline_index != 0:
                    found.add(nxt.created, f"{obj}: its Jobs were deleted; after the restart (seq {r_seq}) "
                              f"its next Job {nxt.name} is for pipeline {nxt.pipeline}, not pipeline 0")
                    continue
                ready = max(_t(restart), max(_t(d) for d in deletions))
                expected = "pipeline 0"
            else:
                newest = alive[-1]
                if newest.deleted is not None or newest.state != "complete" or newest.ended is None:
                    continue
                if triggers.between(obj, newest.created["seq"], horizon) or _suspended_by_control(ctx, newest):
                    continue
                completed_run = any(e["event"] == "condition_set" and e.get("type") == COMPLETED
                                    and e.get("status") == "True" and newest.created["seq"] < e["seq"] <
                                    newest.ended["seq"] for e in events)
                if completed_run:
                    continue
                names = pipelines.of(newest)
                if names is None:
                    unknown = unknown or "the Promise's pipelines are not known (or do not match the trace's Jobs)"
                    continue
                last = len(names) - 1
                if newest.pipeline_index >= last:
                    continue
                exercised = True
                if nxt is not None and (nxt.pipeline_index != newest.pipeline_index + 1 or nxt.hash != newest.hash):
                    found.add(nxt.created, f"{obj}: after the restart (seq {r_seq}) the next Job {nxt.name} "
                              f"is for pipeline {nxt.pipeline} (index {nxt.pipeline_index}); its run had "
                              f"completed pipeline {newest.pipeline} (index {newest.pipeline_index}) and "
                              "continues with the next one")
                    continue
                ready = max(_t(restart), _t(newest.ended))
                expected = f"pipeline index {newest.pipeline_index + 1}"
            gate = _gate_open_after(ctx, obj, restart)
            if gate is None:
                continue
            deadline = max(ready, gate) + slack
            if (nxt is None or _t(nxt.created) > deadline) and ctx.end_t > deadline \
                    and _up_throughout(ctx, _t(restart), deadline) \
                    and not _paused_during(ctx, obj, _t(restart), deadline) \
                    and not _gate_closed(ctx, obj, max(ready, gate), deadline):
                found.add(restart, f"{obj}: no Job for {expected} by {deadline:g} s after the restart at "
                          f"{_t(restart):g} s", category="liveness")
                continue
    if unknown:
        return found.verdict(Verdict("W11", "unknown", unknown))
    return found.verdict(Verdict("W11", "pass", "" if exercised else "not exercised (no run caught by a restart)"))


# -- W12 ------------------------------------------------------------------------------------------------
@checker("W12")
def promise_update_fans_out(ctx: CheckContext) -> Verdict:
    """A Promise spec change, or label kratix.io/reconcile-resources, re-runs the Promise's own configure
    workflow first: a Promise configure Job for pipeline 0 is created within the controller latency (after its
    running Job, if any, ended: W7), and after a spec change no resource configure Job is created until a
    Promise Job created after the change has set ConfigureWorkflowCompleted=True (the label does not close the
    gate; nor does a spec change in a profile whose ``promise_unavailable_gates_resources`` is off: kratix-2025).
    From that completion (at once for a Promise without configure pipelines) every resource of the Promise
    re-runs from pipeline 0 (fan-out label run-from-start; kratix-2025: manual): a configure Job for pipeline 0
    within the controller latency of the completion, or of the end of its running Job (waited for,
    not suspended: W7). The two "within" parts are liveness, judged when the controller stays up, nothing
    pauses, deletes or updates again, and the trace goes that far."""
    found = _Found(ctx, "W12")
    if ctx.profile is None:
        return _unknown_profile("W12", ctx)
    promises = [k for k in ctx.by_object if _is_promise(k)]
    updates = [e for e in ctx.events if _is_promise(str(e.get("object", ""))) and (
        e["event"] == "spec_updated" or (e["event"] == "label_set" and e.get("label") == RECONCILE_RESOURCES))]
    if not updates:
        return found.verdict(Verdict("W12", "pass", "not exercised (no Promise update)"))
    if len(promises) != 1:
        return found.verdict(Verdict("W12", "unknown", "cannot tell which Promise each resource belongs to"))
    promise = promises[0]
    has_configure = _promise_has_configure(ctx, promise)
    if has_configure is None:
        return found.verdict(Verdict("W12", "unknown", "not known whether the Promise has configure pipelines"))
    resources = [k for k in ctx.by_object if not _is_promise(k) and "/" in k]
    resource_jobs = sorted((j for r in resources for j in ctx.configure_jobs(r)), key=lambda j: j.created["seq"])
    promise_events = ctx.by_object.get(promise, [])
    slack = _latency_s(ctx)

    def judgeable(t_from: float, deadline: float, after_seq: int, objects: Sequence[str]) -> bool:
        """The controller stayed up, nothing paused, deleted or updated again, and the trace goes that far."""
        if ctx.end_t <= deadline or not _up_throughout(ctx, t_from, deadline):
            return False
        if any(u["seq"] > after_seq and _t(u) <= deadline for u in updates):
            return False
        for obj in objects:
            for e in ctx.by_object.get(obj, []):
                if _t(e) <= deadline and (e["event"] in ("delete_requested", "object_removed") or (
                        e["event"] == "label_set" and e.get("label") == PAUSED and e["seq"] > after_seq)):
                    return False
            if PAUSED in ctx.labels_before(obj, after_seq):
                return False
        return True

    for update in updates:
        u = update["seq"]
        completion: Event | None = update
        if has_configure:
            running = [j for j in ctx.configure_jobs(promise) if j.running_at(u)]
            new_job = next((j for j in ctx.configure_jobs(promise) if j.created["seq"] > u
                            and not j.running_at(u)), None)
            ends = [_t(e) for e in (_ended_event(running[0]),) if e is not None] if running else []
            deadline = max([_t(update), *ends]) + slack
            if (new_job is None or _t(new_job.created) > deadline) and (ends or not running) \
                    and judgeable(_t(update), deadline, u, [promise]):
                found.add(update, f"{promise}: no re-run of the Promise's configure workflow by "
                          f"{deadline:g} s after its update (seq {u})", category="liveness")
                continue
            completion = None if new_job is None else _first(promise_events, new_job.created["seq"], "condition_set",
                                                              type=COMPLETED, status="True")
            if update["event"] == "spec_updated" and ctx.profile.promise_unavailable_gates_resources:
                limit = completion["seq"] if completion is not None else 2**62
                early = next((j for j in resource_jobs if u < j.created["seq"] < limit), None)
                if early is not None:
                    found.add(early.created, f"{early.object}: Job {early.name} created after the "
                              f"Promise's spec change (seq {u}) before the Promise's configure workflow "
                              "completed again")
                    continue
        if completion is None:
            continue
        c = completion["seq"]
        if any(u < other["seq"] < c for other in updates):
            continue  # superseded: the fan-out waits for the later update's run
        for obj in ctx.existing_at(c):
            if _is_promise(obj):
                continue
            jobs = ctx.configure_jobs(obj)
            running = [j for j in jobs if j.running_at(c)]
            ends = [_t(e) for e in (_ended_event(running[0]),) if e is not None] if running else []
            if running and not ends:
                continue  # still running when the trace ends
            deadline = max([_t(completion), *ends]) + slack
            rerun = next((j for j in jobs if j.created["seq"] > c and j.pipeline_index == 0), None)
            if rerun is not None and _t(rerun.created) <= deadline:
                continue
            if judgeable(_t(completion), deadline, c, [obj, promise]):
                found.add(completion, f"{obj}: no re-run from pipeline 0 by {deadline:g} s after the "
                          f"Promise update (seq {u}) was fanned out", category="liveness")
                continue
    return found.verdict(Verdict("W12", "pass"))


# -- W13 ------------------------------------------------------------------------------------------------
@checker("W13")
def promise_gates_resources(ctx: CheckContext) -> Verdict:
    """Resource configure Jobs wait for their Promise's configure workflow on first install and after every
    controller start: when the Promise has configure pipelines, no resource configure Job is created before the
    Promise's first ConfigureWorkflowCompleted=True, nor, after a controller start, before the Promise's
    condition has been True since that start (a workflow mid-flight or failed at the start must complete
    first); and none before the Promise's first reconcile after the start that finds its workflow complete (a
    `reconcile` with reason `done`; judged when the trace has the Promise's reconciles). Where the profile keeps
    resources waiting for an Unavailable Promise (kratix-2026.08, Kratix PR #773; not kratix-2025), also none
    while any later run of the Promise's configure workflow (update, interval, manual) is in flight or has
    failed: from the creation of one of its Jobs to the Promise's next reconcile with reason `done` (its next
    ConfigureWorkflowCompleted=True in a trace without its reconciles). A spec change also closes it (W12).
    And none while the resource itself is marked PromiseAvailable=False: a resource whose Promise could not
    fulfil it is marked so, and the reconcile that finds the Promise available again sets the mark True and
    ends there (its write brings the next reconcile)."""
    found = _Found(ctx, "W13")
    resource_jobs = sorted((j for obj, jobs in ctx.jobs_by_object.items() if not _is_promise(obj)
                            for j in jobs if j.action == "configure"), key=lambda j: j.created["seq"])
    if not resource_jobs:
        return found.verdict(Verdict("W13", "pass", "not exercised (no resource configure Job)"))
    starts = [e for e in ctx.controller_events if e["event"] == "controller_started"]
    unavailable: dict[str, list[tuple[Event, Event | None]]] = {}
    for job in resource_jobs:
        promise = ctx.promise_key(job.object)
        if promise is None:
            return found.verdict(Verdict("W13", "unknown", f"cannot tell the Promise of {job.object}"))
        has_configure = _promise_has_configure(ctx, promise)
        if has_configure is None:
            return found.verdict(Verdict("W13", "unknown", "not known whether the Promise has configure pipelines"))
        seq = job.created["seq"]
        promise_events = ctx.by_object.get(promise, [])
        last_start = next((s for s in reversed(starts) if s["seq"] < seq), None)
        since = last_start["seq"] if last_start is not None else 0
        if has_configure:
            state = ctx.condition_before(promise, COMPLETED, since + 1)
            completed_since = (state is not None and state.get("status") == "True") or any(
                e["event"] == "condition_set" and e.get("type") == COMPLETED and e.get("status") == "True"
                and since < e["seq"] < seq for e in promise_events)
            if not completed_since:
                ever = any(e["event"] == "condition_set" and e.get("type") == COMPLETED and e.get("status") == "True"
                           and e["seq"] < seq for e in promise_events)
                when = f"since the controller start at {_t(last_start):g} s" if last_start and ever else "ever"
                found.add(job.created, f"{job.object}: Job {job.name} created though the Promise's "
                          f"configure workflow has not completed {when}")
                continue
        reconciles = [e for e in promise_events if e["event"] == "reconcile"]
        if reconciles and last_start is not None and not any(
                since < e["seq"] < seq and e.get("reason") == "done" for e in reconciles):
            found.add(job.created, f"{job.object}: Job {job.name} created after the controller start at "
                      f"{_t(last_start):g} s before the Promise's reconcile found its workflow complete")
            continue
        mark = ctx.condition_before(job.object, PROMISE_AVAILABLE, seq)
        if mark is not None and mark.get("status") == "False":
            found.add(job.created, f"{job.object}: Job {job.name} created while the resource was marked "
                      f"PromiseAvailable=False (since {_t(mark):g} s); the reconcile that finds its Promise "
                      "available again marks it True and ends there")
            continue
        if not _unavailable_gates(ctx):
            continue
        if promise not in unavailable:
            unavailable[promise] = _unavailable_windows(ctx, promise)
        closed = next((c for c, opened in unavailable[promise]
                       if c["seq"] < seq and (opened is None or opened["seq"] > seq)), None)
        if closed is not None:
            found.add(job.created, f"{job.object}: Job {job.name} created while the Promise was Unavailable: the "
                      f"run of its configure workflow whose Job {closed.get('job')} was created at "
                      f"{_t(closed):g} s had not completed")
    return found.verdict(Verdict("W13", "pass"))


# -- W14 ------------------------------------------------------------------------------------------------
@checker("W14")
def job_retention(ctx: CheckContext) -> Verdict:
    """numberOfJobsToKeep N (header config). A Job is deleted for retention only by a reconcile that found the
    run completed or failed (`done` / `halted`, when the trace has reconciles), only when finished, oldest
    first, keeping the newest N of its (object, action, pipeline). After such a reconcile at most N Jobs of each
    (object, action, pipeline) that were finished at it remain (checked before the object's next Job and at
    the end of the trace)."""
    found = _Found(ctx, "W14")
    keep = ctx.jobs_to_keep
    if keep is None:
        return found.verdict(Verdict("W14", "unknown", "the trace header has no numberOfJobsToKeep"))
    reconciles = _has_events(ctx, "reconcile")
    exercised = False
    for event in ctx.events:
        if event["event"] != "job_deleted" or event.get("reason") != "retention":
            continue
        exercised = True
        job = ctx.jobs.get(str(event.get("job", "")))
        if job is None:
            continue
        seq = event["seq"]
        obj = job.object
        if job.ended is None or job.ended["seq"] > seq:
            found.add(event, f"{obj}: Job {job.name} deleted for retention while it runs")
            continue
        group = [j for j in ctx.jobs_by_object.get(obj, []) if j.action == job.action and j.pipeline == job.pipeline
                 and j.created["seq"] < seq and (j.deleted is None or j.deleted["seq"] >= seq)]
        older = [j for j in group if j.created["seq"] < job.created["seq"]]
        if older:
            found.add(event, f"{obj}: Job {job.name} deleted for retention while the older "
                      f"{older[0].name} is kept")
            continue
        if len(group) <= keep:
            found.add(event, f"{obj}: Job {job.name} deleted for retention though only {len(group)} Jobs "
                      f"of pipeline {job.pipeline} existed (numberOfJobsToKeep {keep})")
            continue
        if reconciles:
            previous = next((e for e in reversed(ctx.by_object.get(obj, []))
                             if e["event"] == "reconcile" and e["seq"] < seq), None)
            if previous is None or previous.get("reason") not in COMPLETION_REASONS:
                found.add(event, f"{obj}: Job {job.name} deleted for retention by a reconcile that did "
                          "not find the run completed or failed")
                continue
    if reconciles:
        for obj, events in sorted(ctx.by_object.items()):
            jobs = ctx.jobs_by_object.get(obj, [])
            for event in events:
                if event["event"] != "reconcile" or event.get("reason") not in COMPLETION_REASONS:
                    continue
                seq = event["seq"]
                nxt = next((j for j in jobs if j.created["seq"] > seq), None)
                check = nxt.created["seq"] if nxt is not None else 2**62
                counts: dict[tuple[str, str], list[JobInfo]] = {}
                for job in jobs:
                    if job.ended is not None and job.ended["seq"] < seq and job.created["seq"] < seq \
                            and (job.deleted is None or job.deleted["seq"] > check):
                        counts.setdefault((job.action, job.pipeline), []).append(job)
                for (action, pipeline), kept in sorted(counts.items()):
                    if len(kept) > keep:
                        exercised = True
                        where = nxt.created if nxt is not None else event
                        found.add(where, f"{obj}: {len(kept)} finished {action} Jobs of pipeline "
                                  f"{pipeline} kept after the completion reconcile at seq {seq} "
                                  f"(numberOfJobsToKeep {keep})")
                        continue
    return found.verdict(Verdict("W14", "pass", "" if exercised else "not exercised (no Job deleted for retention)"))


# -- W15 ------------------------------------------------------------------------------------------------
@checker("W15")
def outputs(ctx: CheckContext) -> Verdict:
    """A Work for (object, pipeline) is written only by the work-writer of a configure Job of that object and
    pipeline, which then exits 0, in a pod whose user containers all last exited 0, and never by a pod whose
    status-writer then asks to suspend or retry (label kratix.io/workflow-suspended set)."""
    found = _Found(ctx, "W15")
    writes = [e for e in ctx.events if e["event"] == "work_written"]
    if not writes:
        return found.verdict(Verdict("W15", "pass", "not exercised (no Work written)"))
    execs = _executions(ctx)
    if not execs:
        return found.verdict(Verdict("W15", "unknown", "the trace has no container events"))
    for write in writes:
        obj = str(write.get("object", ""))
        step = _open_step(execs, obj, write["seq"], WORK_WRITER)
        job = ctx.jobs.get(step.job) if step is not None else None
        if step is None or job is None:
            found.add(write, f"{obj}: Work for pipeline {write.get('pipeline')} written outside a "
                      "work-writer")
            continue
        if job.action != "configure" or job.pipeline != write.get("pipeline"):
            found.add(write, f"{obj}: Work for pipeline {write.get('pipeline')} written by the "
                      f"work-writer of {job.name} ({job.action} {job.pipeline})")
            continue
        if step.exit_code not in (None, 0):
            found.add(write, f"{obj}: the work-writer that wrote the Work of {job.pipeline} exited "
                      f"{step.exit_code}")
            continue
        pod_steps = [x for x in execs[obj] if x.pod == step.pod]
        last_exit: dict[str, int | None] = {}
        for execution in pod_steps:
            if execution.started["seq"] < step.started["seq"] and execution.container not in KRATIX_STEPS:
                last_exit[execution.container] = execution.exit_code
        bad = sorted(name for name, code in last_exit.items() if code != 0)
        if bad:
            found.add(write, f"{obj}: Work of {job.pipeline} written though user container {bad[0]} "
                      "did not exit 0")
            continue
        writers = [x for x in pod_steps if x.container == STATUS_WRITER and x.started["seq"] > step.started["seq"]]
        suspend = next((e for e in ctx.by_object.get(obj, []) if e["event"] == "label_set"
                        and e.get("label") == SUSPENDED and any(w.covers(e["seq"]) for w in writers)), None)
        if suspend is not None:
            found.add(write, f"{obj}: Work of {job.pipeline} written by a run that asked to suspend or "
                      f"retry (label set at seq {suspend['seq']})")
            continue
    return found.verdict(Verdict("W15", "pass"))


# -- W16 ------------------------------------------------------------------------------------------------
@checker("W16")
def status_merge(ctx: CheckContext) -> Verdict:
    """A status merge happens only inside a status-writer execution of the object, never carries the
    reserved top-level key `kratix`, carries only `message` for a Promise, and a status-writer that exited
    non-zero merged nothing."""
    found = _Found(ctx, "W16")
    merges = [e for e in ctx.events if e["event"] == "status_merged"]
    if not merges:
        return found.verdict(Verdict("W16", "pass", "not exercised (no status merge)"))
    execs = _executions(ctx)
    for merge in merges:
        obj = str(merge.get("object", ""))
        keys = [str(k) for k in merge.get("keys") or []]
        if "kratix" in keys:
            found.add(merge, f"{obj}: status merge carries the reserved key `kratix`")
            continue
        if _is_promise(obj) and set(keys) - {"message"}:
            found.add(merge, f"{obj}: a Promise's status merge keeps only `message`, got {sorted(keys)}")
            continue
        if not execs:
            continue
        step = _open_step(execs, obj, merge["seq"], STATUS_WRITER)
        if step is None:
            found.add(merge, f"{obj}: status merged outside a status-writer")
            continue
        if step.exit_code not in (None, 0):
            found.add(merge, f"{obj}: status merged by a status-writer that exited {step.exit_code}")
            continue
    if not execs:
        return found.verdict(Verdict("W16", "unknown", "the trace has no container events"))
    return found.verdict(Verdict("W16", "pass"))
