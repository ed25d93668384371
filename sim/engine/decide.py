"""The reconcile decision (reference section 11), a pure function of an Observation.

``decide`` reads the object, its Jobs and the configuration and returns the actions to take and when to
come back; it changes nothing. Rule IDs mark each branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sim.cluster.objects import (
    BINDING_CLEANUP_FINALIZER,
    COMPLETED_MESSAGE,
    CONFIGURE_COMPLETED,
    DELETE_COMPLETED,
    DELETE_WORKFLOWS_FINALIZER,
    MANUAL_LABEL,
    PROMISE_AVAILABLE,
    RECONCILE_RESOURCES_LABEL,
    RECONCILED,
    RESOURCE_CLEANUP_FINALIZER,
    RUN_FROM_START_LABEL,
    SUSPENDED_LABEL,
    WORK_CLEANUP_FINALIZER,
    WORKFLOWS_CLEANUP_FINALIZER,
    Job,
    KObject,
    PipelinePhase,
    is_true,
)
from sim.model.promise import WorkflowAction, WorkflowType
from sim.profiles import Profile

PAUSED_REASON = "PausedReconciliation"
FAILED_REASON = "ConfigureWorkflowFailed"


# -- actions ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SetLabel:
    label: str


@dataclass(frozen=True)
class RemoveLabel:
    label: str


@dataclass(frozen=True)
class SetCondition:
    type: str
    status: str
    reason: str
    message: str = ""


@dataclass(frozen=True)
class SetPhases:
    phases: tuple[PipelinePhase, ...]


@dataclass(frozen=True)
class SetDeletePhase:
    """Section 4/C1: the delete pipeline's phase (only once it has asked to suspend or retry)."""

    phase: PipelinePhase


@dataclass(frozen=True)
class SetStatus:
    message: str | None = None
    workflows_succeeded: int | None = None
    workflows_failed: int | None = None
    promise_status: str | None = None  # W13: a Promise's Available / Unavailable
    count_workflows: bool = True  # `workflows` (the configure Pipelines) is written with the status


@dataclass(frozen=True)
class CreateJob:
    action: WorkflowAction
    index: int


@dataclass(frozen=True)
class SuspendJob:
    job: str


@dataclass(frozen=True)
class PruneJobs:
    """W14: keep the newest ``numberOfJobsToKeep`` Jobs per pipeline."""


@dataclass(frozen=True)
class DeleteStaleWorks:
    """Section 1: on completion, delete Works of pipelines no longer in the Promise."""


@dataclass(frozen=True)
class AddFinalizers:
    finalizers: tuple[str, ...]


@dataclass(frozen=True)
class RemoveFinalizer:
    finalizer: str


@dataclass(frozen=True)
class DeleteWorks:
    """D5 work-cleanup."""


@dataclass(frozen=True)
class DeleteJobs:
    """D5 workflows-cleanup."""


@dataclass(frozen=True)
class RecordEvent:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class FanOut:
    """W12: every resource of the Promise re-runs from pipeline 0."""


@dataclass(frozen=True)
class RequestFanOut:
    """W12 (reconcile-resources label): fan out once the Promise's workflow run now starting completes."""


@dataclass(frozen=True)
class MarkObserved:
    """W12/W13: the Promise's configure workflow completed for this generation; resources may run."""

    generation: int


@dataclass(frozen=True)
class DeleteResources:
    """D6: delete every resource of the Promise."""


Action = (
    SetLabel | RemoveLabel | SetCondition | SetPhases | SetDeletePhase | SetStatus | CreateJob | SuspendJob | PruneJobs
    | DeleteStaleWorks | AddFinalizers | RemoveFinalizer | DeleteWorks | DeleteJobs | RecordEvent | FanOut
    | RequestFanOut | MarkObserved | DeleteResources
)


@dataclass(init=False)
class Decision:
    """What a reconcile does. Read, never written (not frozen: its ``__init__`` is compiled, see sim/native.py)."""

    outcome: str  # a short name for the trace's ``reconcile`` event
    actions: tuple[Action, ...]
    requeue_after_ms: int | None
    error: str | None  # K2: requeue with per-item exponential back-off

    def __init__(self, outcome: str, actions: tuple[Action, ...] = (), requeue_after_ms: int | None = None,
                 error: str | None = None) -> None:
        self.outcome = outcome
        self.actions = actions
        self.requeue_after_ms = requeue_after_ms
        self.error = error


# -- observation --------------------------------------------------------------------------------------
@dataclass(init=False)
class Observation:
    """What a reconcile reads. ``obj`` and ``jobs`` are read, never written.

    Built for every reconcile, so not frozen: its ``__init__`` (the generated one's signature) assigns the fields
    and is compiled with the rest of the core (sim/native.py); a dataclass's generated one would not be.
    """

    now_ms: int
    obj: KObject
    workflow: WorkflowType
    configure: tuple[str, ...]  # pipeline names in order
    delete: tuple[str, ...]
    jobs: tuple[Job, ...]  # the object's Jobs, oldest first
    hash: str  # current kratix.io/hash
    profile: Profile
    interval_ms: int
    reconcile_after_failure: bool
    paused: bool
    controller_started: bool  # W13: the resource controller of the resource's Promise runs
    gate_open: bool  # W13: the Promise can fulfil its resources
    resource_configure_running: bool  # D6 (Promise delete)
    resources_remaining: int  # D6
    fanout_label: str
    extra: dict[str, str]

    def __init__(self, now_ms: int, obj: KObject, workflow: WorkflowType, configure: tuple[str, ...],
                 delete: tuple[str, ...], jobs: tuple[Job, ...], hash: str, profile: Profile, interval_ms: int,
                 reconcile_after_failure: bool, paused: bool = False, controller_started: bool = True,
                 gate_open: bool = True, resource_configure_running: bool = False, resources_remaining: int = 0,
                 fanout_label: str = RUN_FROM_START_LABEL, extra: dict[str, str] | None = None) -> None:
        self.now_ms = now_ms
        self.obj = obj
        self.workflow = workflow
        self.configure = configure
        self.delete = delete
        self.jobs = jobs
        self.hash = hash
        self.profile = profile
        self.interval_ms = interval_ms
        self.reconcile_after_failure = reconcile_after_failure
        self.paused = paused
        self.controller_started = controller_started
        self.gate_open = gate_open
        self.resource_configure_running = resource_configure_running
        self.resources_remaining = resources_remaining
        self.fanout_label = fanout_label
        self.extra = {} if extra is None else extra


def _finalizers(workflow: str, has_delete: bool) -> tuple[str, ...]:
    head = (DELETE_WORKFLOWS_FINALIZER,) if has_delete else ()
    if workflow == "promise":
        return (*head, RESOURCE_CLEANUP_FINALIZER, WORK_CLEANUP_FINALIZER, WORKFLOWS_CLEANUP_FINALIZER)
    return (*head, WORK_CLEANUP_FINALIZER, WORKFLOWS_CLEANUP_FINALIZER, BINDING_CLEANUP_FINALIZER)


_FINALIZERS = {(workflow, has_delete): _finalizers(workflow, has_delete)
               for workflow in ("promise", "resource") for has_delete in (False, True)}


def finalizers_for(obs: Observation) -> tuple[str, ...]:
    """D5/D6: finalizers in the order they are handled."""
    key = (obs.workflow, bool(obs.delete))
    found = _FINALIZERS.get(key)
    return found if found is not None else _finalizers(*key)


RUN_LABELS = (MANUAL_LABEL, RUN_FROM_START_LABEL, RECONCILE_RESOURCES_LABEL)


_REMOVE_RUN_LABELS = tuple(RemoveLabel(label) for label in RUN_LABELS)

# Actions many decisions share, built once (they are frozen values).
_PRUNE_JOBS = PruneJobs()
_DELETE_STALE_WORKS = DeleteStaleWorks()
_RECONCILED = SetCondition(RECONCILED, "True", "Reconciled", "Reconciled")
_RECONCILED_PENDING = SetCondition(RECONCILED, "Unknown", "WorkflowPending", "Workflow pending")
_DELETE_IN_PROGRESS = SetCondition(DELETE_COMPLETED, "False", "DeleteWorkflowInProgress",
                                   "The Delete Pipeline is running")
_CONFIGURE_IN_PROGRESS = SetCondition(CONFIGURE_COMPLETED, "False", "PipelinesInProgress",
                                      "Pipelines are still in progress")
_STATUS_PENDING_FROM_START = SetStatus(message="Pending", workflows_failed=0)
_STATUS_PENDING = SetStatus(message="Pending")
_STATUS_DONE = {kind: SetStatus(message=message) for kind, message in COMPLETED_MESSAGE.items()}
# W13 (profiles where an unavailable Promise gates its resources): a Promise is saved Unavailable with every
# Job of its configure workflow and Available again by the reconcile that finds the workflow complete.
_UNAVAILABLE_PENDING_FROM_START = SetStatus(message="Pending", workflows_failed=0, promise_status="Unavailable")
_UNAVAILABLE_PENDING = SetStatus(message="Pending", promise_status="Unavailable")
_AVAILABLE = SetStatus(promise_status="Available")
_AVAILABLE_DONE = SetStatus(message=COMPLETED_MESSAGE["promise"], promise_status="Available")
# W13: a resource marks itself when its Promise cannot fulfil it, and again once it can
# (resourceutil.MarkPromiseConditionAsNotAvailable / MarkPromiseConditionAsAvailable).
_PROMISE_NOT_AVAILABLE = (SetStatus(message="Pending", count_workflows=False),
                          SetCondition(PROMISE_AVAILABLE, "False", "PromiseRequirementsNotInstalled",
                                       "Promise Requirements are not installed"))
_PROMISE_AVAILABLE = (SetCondition(PROMISE_AVAILABLE, "True", "PromiseAvailable", "Promise Requirements are met"),)


def _labels_to_clear(obj: KObject) -> tuple[Action, ...]:
    """The labels that asked for a run from pipeline 0; a started run spends them (W5, W6, W12)."""
    labels = obj.labels
    if not labels:
        return ()
    return tuple(action for action in _REMOVE_RUN_LABELS if is_true(labels, action.label))


def _phases_for_start(obs: Observation, index: int) -> SetPhases:
    old = {p.name: p for p in obs.obj.phases}
    phases = []
    for i, name in enumerate(obs.configure):
        if i < index:
            phases.append(PipelinePhase(name, "Succeeded"))
        elif i == index:
            attempts = old[name].attempts if name in old and old[name].phase == "Suspended" else 0
            phases.append(PipelinePhase(name, "Running", attempts=attempts))
        else:
            phases.append(PipelinePhase(name, "Pending"))
    return SetPhases(tuple(phases))


def _start(obs: Observation, index: int, outcome: str, *extra: Action) -> Decision:
    """Create the configure Job for pipeline ``index`` with W8's status; clear the labels that asked."""
    # W4/W5 (Kratix test "previously failing job succeeds"): a new run from pipeline 0 resets workflowsFailed.
    fan_out = (RequestFanOut(),) if is_true(obs.obj.labels, RECONCILE_RESOURCES_LABEL) else ()  # W12: after this run
    if obs.workflow == "promise" and obs.profile.promise_unavailable_gates_resources:
        status = _UNAVAILABLE_PENDING_FROM_START if index == 0 else _UNAVAILABLE_PENDING
    else:
        status = _STATUS_PENDING_FROM_START if index == 0 else _STATUS_PENDING
    actions: list[Action] = [*extra, *fan_out, *_labels_to_clear(obs.obj), _phases_for_start(obs, index), status,
                             _RECONCILED_PENDING, _CONFIGURE_IN_PROGRESS, CreateJob("configure", index)]
    return Decision(outcome, tuple(actions))


def decide(obs: Observation) -> Decision:
    obj = obs.obj
    if obs.paused:
        return Decision("paused", (SetCondition(RECONCILED, "Unknown", PAUSED_REASON, "Reconciliation paused"),))
    if obj.deleting:
        return decide_delete(obs)
    if obs.workflow == "resource":
        waiting = _promise_gate(obs)
        if waiting is not None:
            return waiting
    present = obj.finalizers
    wanted = finalizers_for(obs)
    for finalizer in wanted:
        if finalizer not in present:
            missing = tuple(f for f in wanted if f not in present)
            return Decision("add-finalizers", (AddFinalizers(missing),))
    reconciled = obj.condition(RECONCILED)
    if reconciled is not None and reconciled.reason == PAUSED_REASON:
        # Unpause restarts from pipeline 0 (W5, C1)
        return Decision("unpaused", (SetLabel(obs.fanout_label),
                                     SetCondition(RECONCILED, "Unknown", "WorkflowPending", "Workflow pending")))
    return decide_configure(obs)


def _promise_gate(obs: Observation) -> Decision | None:
    """W13, before finalizers (the resource controller's order): a resource whose Promise's resource controller
    has not started since the controller start waits (it is listed once it starts); one whose Promise cannot
    fulfil it is marked PromiseAvailable=False with message Pending, then re-checked every 60 s (slowRequeue);
    once the Promise can, the mark turns True and that reconcile ends there (its write brings the next)."""
    if not obs.controller_started:
        return Decision("waiting-for-promise")
    condition = obs.obj.condition(PROMISE_AVAILABLE)
    marked = condition is not None and condition.status == "False"
    if not obs.gate_open:
        if not marked:
            return Decision("promise-unavailable", _PROMISE_NOT_AVAILABLE)
        return Decision("promise-unavailable",
                        requeue_after_ms=round(obs.profile.timing.promise_unavailable_requeue_s * 1000))
    if marked:
        return Decision("promise-available", _PROMISE_AVAILABLE)
    return None


def decide_configure(obs: Observation) -> Decision:
    obj, profile = obs.obj, obs.profile
    manual = is_true(obj.labels, MANUAL_LABEL)
    # W12: the reconcile-resources label re-runs the Promise's own workflow first, then fans out.
    run_from_start = is_true(obj.labels, RUN_FROM_START_LABEL) or (
        obs.workflow == "promise" and is_true(obj.labels, RECONCILE_RESOURCES_LABEL))
    completed = obj.condition(CONFIGURE_COMPLETED)
    # W9: the age test is strict (<= interval is not due).
    if (completed is not None and not manual and not run_from_start
            and obs.now_ms - completed.last_transition_ms > obs.interval_ms
            and (completed.status == "True"
                 or (obs.reconcile_after_failure and completed.reason == FAILED_REASON))):
        return Decision("interval-elapsed", (SetLabel(MANUAL_LABEL),))
    if not obs.configure:
        return _done(obs)
    newest = None
    for job in reversed(obs.jobs):  # the newest configure Job
        if job.action == "configure":
            newest = job
            break
    matches = (newest is not None and newest.hash == obs.hash and newest.pipeline_index < len(obs.configure)
               and obs.configure[newest.pipeline_index] == newest.pipeline)
    # C1: a pipeline asked to suspend or retry.
    suspended_at = None
    for i, p in enumerate(obj.phases):
        if p.phase == "Suspended":
            suspended_at = i
            break
    if profile.workflow_control and suspended_at is not None and newest is not None and not newest.running:
        clear = (RemoveLabel(SUSPENDED_LABEL),) if SUSPENDED_LABEL in obj.labels else ()
        if manual or run_from_start or not matches:
            return _start(obs, 0, "restart-suspended", *clear)
        phase = obj.phases[suspended_at]
        if phase.next_retry_ms is not None:
            if obs.now_ms >= phase.next_retry_ms:
                return _start(obs, suspended_at, "retry-suspended", *clear)
            return Decision("suspended-retry-later", requeue_after_ms=phase.next_retry_ms - obs.now_ms)
        if not is_true(obj.labels, SUSPENDED_LABEL):
            return _start(obs, suspended_at, "resume-suspended")
        return Decision("suspended")
    last = len(obs.configure) - 1
    if newest is None or manual or run_from_start or not matches:
        index = 0
    elif newest.state == "complete" and newest.pipeline_index < last:
        index = newest.pipeline_index + 1
    else:
        index = newest.pipeline_index
    if newest is not None and matches and newest.pipeline_index == index:
        if newest.running:
            if manual and not newest.suspend_requested:
                return Decision("suspend-for-manual", (SuspendJob(newest.name),))  # W6
            return Decision("wait-running")
        if manual or run_from_start:
            return _start(obs, 0, "rerun")  # W5/W6
        if newest.state in ("failed", "suspended"):
            return _halt(obs, newest)  # W4, J4
        return _done(obs)  # W8
    if newest is not None and newest.running:
        if manual and not newest.suspend_requested:
            return Decision("suspend-for-manual", (SuspendJob(newest.name),))  # W6
        if not matches and profile.spec_change_suspends and not newest.suspend_requested:
            return Decision("suspend-for-update", (SuspendJob(newest.name),))  # W7, kratix-2025
        return Decision("wait-running")  # W7
    return _start(obs, index, "next-pipeline" if index else "start")  # W1, W5


def _halt(obs: Observation, job: Job) -> Decision:
    """W4: mark the workflow failed; no new Job until a W5 trigger."""
    phases = tuple(
        PipelinePhase(name, "Succeeded" if i < job.pipeline_index else "Failed" if i == job.pipeline_index
                      else "Pending")
        for i, name in enumerate(obs.configure)
    )
    actions: tuple[Action, ...] = (
        SetCondition(CONFIGURE_COMPLETED, "False", FAILED_REASON, f"A Configure Pipeline has failed: {job.pipeline}"),
        SetCondition(RECONCILED, "False", FAILED_REASON, "Configure workflow failed"),
        SetStatus(message="Failed", workflows_failed=1, workflows_succeeded=0),
        SetPhases(phases),
        RecordEvent("Warning", FAILED_REASON, f"A Configure Pipeline has failed: {job.pipeline}"),
        PruneJobs(),
    )
    # W9: requeue after the full interval, counted from when the status write returned.
    # W9: the failure's status write returns before RequeueAfter is registered; without that latency the requeue
    # lands exactly `interval` after lastTransitionTime, the strict age test fails, and a failed workflow re-runs
    # every 2 intervals instead of every interval.
    latency_ms = round(obs.profile.timing.status_write_s * 1000)
    requeue = obs.interval_ms + latency_ms if obs.reconcile_after_failure else None
    return Decision("halted", actions, requeue_after_ms=requeue)


def _done(obs: Observation) -> Decision:
    """W8/W9/W14: the workflow completed; prune, clean stale Works, requeue after the full interval. (The
    status-writer of the last pipeline set the completed message; with no configure pipeline it is set here.)"""
    actions: list[Action] = [_PRUNE_JOBS, _DELETE_STALE_WORKS, _RECONCILED]
    obj = obs.obj
    available = obs.workflow == "promise" and obs.profile.promise_unavailable_gates_resources  # W13
    if not obs.configure:
        actions.append(_AVAILABLE_DONE if available else _STATUS_DONE[obs.workflow])
        actions.extend(_labels_to_clear(obj))  # nothing to run: the labels that asked for a run are spent
    elif available:
        actions.append(_AVAILABLE)
    if obs.workflow == "promise":
        asked = obj.fanout_requested or is_true(obj.labels, RECONCILE_RESOURCES_LABEL)
        if obj.observed_generation != obj.generation or asked:
            if obj.observed_generation is not None:
                actions.append(FanOut())  # W12
            actions.append(MarkObserved(obj.generation))
    return Decision("done", tuple(actions), requeue_after_ms=obs.interval_ms)


def _start_delete(obs: Observation, outcome: str, rerun: bool) -> Decision:
    """Create the delete Job (D3), spending the labels that asked for it; a re-run records PipelineStarted, and
    one after a suspension clears the workflow-suspended label and marks the phase Running (attempts kept)."""
    obj = obs.obj
    actions: list[Action] = [*_labels_to_clear(obj)]
    if obj.delete_phase is not None:
        if SUSPENDED_LABEL in obj.labels:
            actions.append(RemoveLabel(SUSPENDED_LABEL))
        actions.append(SetDeletePhase(PipelinePhase(obs.delete[0], "Running", attempts=obj.delete_phase.attempts)))
    actions.append(_DELETE_IN_PROGRESS)
    if rerun:
        actions.append(RecordEvent("Normal", "PipelineStarted", f"Delete Pipeline started: {obs.delete[0]}"))
    actions.append(CreateJob("delete", 0))
    return Decision(outcome, tuple(actions))


def decide_delete(obs: Observation) -> Decision:
    """D1-D6: finalizers one at a time, in order. Every Kratix finalizer the object carries is handled, also
    delete-workflows after a Promise update removed the delete pipeline (it is then removed without a run)."""
    obj = obs.obj
    pending = [f for f in _FINALIZERS[(obs.workflow, True)] if f in obj.finalizers]
    if not pending:
        return Decision("deleted")
    finalizer = pending[0]
    if finalizer == DELETE_WORKFLOWS_FINALIZER:
        return _delete_workflow(obs)
    if finalizer == RESOURCE_CLEANUP_FINALIZER:
        if obs.resources_remaining:
            return Decision("deleting-resources", (DeleteResources(),),
                            requeue_after_ms=round(obs.profile.timing.delete_poll_s * 1000))
        return Decision("resources-deleted", (RemoveFinalizer(finalizer),))
    if finalizer == WORK_CLEANUP_FINALIZER:
        return Decision("work-cleanup", (DeleteWorks(), RemoveFinalizer(finalizer)))  # D5
    if finalizer == WORKFLOWS_CLEANUP_FINALIZER:
        return Decision("workflows-cleanup", (DeleteJobs(), RemoveFinalizer(finalizer)))  # D5
    return Decision("binding-cleanup", (RemoveFinalizer(BINDING_CLEANUP_FINALIZER),))


def _delete_workflow(obs: Observation) -> Decision:
    obj, profile = obs.obj, obs.profile
    poll_ms = round(profile.timing.delete_poll_s * 1000)
    if not obs.delete:
        return Decision("no-delete-pipeline", (RemoveFinalizer(DELETE_WORKFLOWS_FINALIZER),))
    configure_running = any(j.running for j in obs.jobs if j.action == "configure")
    if configure_running and profile.delete_waits_for_configure:
        return Decision("delete-waits-for-configure")  # D2
    if obs.resource_configure_running and profile.delete_waits_for_configure:
        return Decision("delete-waits-for-resources", requeue_after_ms=poll_ms)  # D6
    jobs = [j for j in obs.jobs if j.action == "delete"]
    newest = jobs[-1] if jobs else None
    manual = is_true(obj.labels, MANUAL_LABEL)
    if newest is not None and newest.running:
        if manual and not newest.suspend_requested:
            # W6 applied to delete (Kratix test "cancels the current job"): suspend, then re-create.
            return Decision("suspend-for-manual", (SuspendJob(newest.name),), requeue_after_ms=poll_ms)
        return Decision("delete-running", requeue_after_ms=poll_ms)  # K2
    if newest is None or manual or newest.hash != obs.hash:
        return _start_delete(obs, "start-delete", newest is not None)  # D3, D4 recovery
    if newest.state in ("failed", "suspended"):
        return Decision("delete-failed", (
            SetCondition(DELETE_COMPLETED, "False", "DeleteWorkflowFailed", "The Delete Pipeline has failed"),
            RecordEvent("Warning", "DeleteWorkflowFailed", "The Delete Pipeline has failed"),
        ), error="delete pipeline failed")  # D4
    phase = obj.delete_phase
    if newest.suspended_pipeline and phase is not None:  # section 4 + C1: the pipeline asked to suspend or retry
        if phase.next_retry_ms is not None and obs.now_ms >= phase.next_retry_ms:
            return _start_delete(obs, "retry-delete-suspended", True)  # retryAfter: the same pipeline again
        if phase.next_retry_ms is None and not is_true(obj.labels, SUSPENDED_LABEL):
            return _start_delete(obs, "resume-delete-suspended", True)  # suspend: resumed by removing the label
        suspended = (SetCondition(DELETE_COMPLETED, "False", "DeleteWorkflowSuspended",
                                  "The Delete Pipeline is suspended"),)
        if phase.next_retry_ms is not None:
            return Decision("delete-suspended-retry-later", suspended,
                            requeue_after_ms=phase.next_retry_ms - obs.now_ms)
        return Decision("delete-suspended", suspended)
    return Decision("delete-completed", (
        SetCondition(DELETE_COMPLETED, "True", "PipelinesExecutedSuccessfully", "The Delete Pipeline completed"),
        RemoveFinalizer(DELETE_WORKFLOWS_FINALIZER),
    ))
