"""The simulated cluster's API objects: Kratix objects (resources and Promises), Jobs, pods and Works.

Plain mutable records owned by ``sim.cluster.api.Cluster``; only the cluster changes them, so every change
becomes a trace event and a watch notification.
"""

from __future__ import annotations

import functools
import hashlib
import json
import json.encoder
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sim.model.promise import WorkflowAction, WorkflowType

# Labels and finalizers (reference sections 2, 4, 5, 6).
MANUAL_LABEL = "kratix.io/manual-reconciliation"
RUN_FROM_START_LABEL = "internal.workflows.kratix.io/run-from-start"
SUSPENDED_LABEL = "kratix.io/workflow-suspended"
PAUSED_LABEL = "kratix.io/paused"
RECONCILE_RESOURCES_LABEL = "kratix.io/reconcile-resources"
INTERVAL_ANNOTATION = "kratix.io/reconciliation-interval"

HASH_LABEL = "kratix.io/hash"
PIPELINE_LABEL = "kratix.io/pipeline-name"
TYPE_LABEL = "kratix.io/workflow-type"
ACTION_LABEL = "kratix.io/workflow-action"
PROMISE_LABEL = "kratix.io/promise-name"
RESOURCE_LABEL = "kratix.io/resource-name"

DELETE_WORKFLOWS_FINALIZER = "kratix.io/delete-workflows"
WORK_CLEANUP_FINALIZER = "kratix.io/work-cleanup"
WORKFLOWS_CLEANUP_FINALIZER = "kratix.io/workflows-cleanup"
BINDING_CLEANUP_FINALIZER = "kratix.io/resource-binding-cleanup"
RESOURCE_CLEANUP_FINALIZER = "kratix.io/resource-request-cleanup"

CONFIGURE_COMPLETED = "ConfigureWorkflowCompleted"
DELETE_COMPLETED = "DeleteWorkflowCompleted"
RECONCILED = "Reconciled"
# W13: a resource's own mark that its Promise cannot fulfil it (resourceutil.MarkPromiseConditionAs(Not)Available)
PROMISE_AVAILABLE = "PromiseAvailable"
# The status message once a configure workflow completed, if it was still "Pending" (MarkAsCompleted)
COMPLETED_MESSAGE = {"resource": "Resource requested", "promise": "Promise configured"}

JobState = Literal["running", "complete", "failed", "suspended"]
Phase = Literal["Pending", "Running", "Succeeded", "Failed", "Suspended"]


def is_true(labels: dict[str, str], label: str) -> bool:
    """Kratix reads its control labels (manual reconciliation, run-from-start, paused, workflow-suspended,
    reconcile-resources) as set only when their value is "true" (``isLabelSetToTrue``)."""
    return labels.get(label) == "true"


def _go_encoder() -> Callable[[Any], str]:
    """What ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` runs, built once:
    the C encoder ``JSONEncoder.encode`` builds per call, with the same options (see ``sim.trace``)."""
    options = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython has the accelerator
        return options.encode
    encoder = make(None, options.default, json.encoder.encode_basestring, None, ":", ",", True, False, True)
    join = "".join

    def encode(value: Any) -> str:
        return join(encoder(value, 0))

    return encode


_GO_ENCODE = _go_encoder()


def go_json(value: Any) -> str:
    """JSON as Go's ``json.Marshal`` writes a map: sorted keys, compact, HTML characters escaped."""
    text = _GO_ENCODE(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def spec_hash(spec: Any) -> str:
    """``hash.ComputeHashForResource``: md5 of the JSON of ``.spec`` (lib/hash/hasher.go)."""
    return md5_hex(go_json(spec))


@functools.lru_cache(maxsize=65_536)
def combined_hash(promise_spec_hash: str, resource_spec_hash: str) -> str:
    """W5: ``kratix.io/hash`` of a resource Job = md5(md5(promise.spec) + "-" + md5(resource.spec))."""
    return md5_hex(f"{promise_spec_hash}-{resource_spec_hash}")


# The records built for every Job spell out their ``__init__``: it is compiled with the core (sim/native.py),
# a dataclass's generated one is not. The dataclass decorator still gives ``==`` and ``repr``.
@dataclass(slots=True, init=False)
class Condition:
    type: str
    status: str
    reason: str
    message: str
    last_transition_ms: int  # whole seconds (W4)

    def __init__(self, type: str, status: str, reason: str, message: str, last_transition_ms: int) -> None:
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.last_transition_ms = last_transition_ms


@dataclass(slots=True, init=False)
class PipelinePhase:
    name: str
    phase: Phase
    message: str | None
    next_retry_ms: int | None
    attempts: int

    def __init__(self, name: str, phase: Phase = "Pending", message: str | None = None,
                 next_retry_ms: int | None = None, attempts: int = 0) -> None:
        self.name = name
        self.phase = phase
        self.message = message
        self.next_retry_ms = next_retry_ms
        self.attempts = attempts


@dataclass(slots=True)
class KObject:
    """A resource request or a Promise as the API server holds it."""

    kind: WorkflowType  # "resource" objects are requests; "promise" the Promise itself
    key: str  # "namespace/name" or "promise/name"
    name: str
    namespace: str | None
    promise_name: str
    api_kind: str
    spec: dict[str, Any]
    spec_hash: str
    generation: int = 1
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    finalizers: list[str] = field(default_factory=list)
    deleting: bool = False
    conditions: dict[str, Condition] = field(default_factory=dict)
    phases: list[PipelinePhase] = field(default_factory=list)
    delete_phase: PipelinePhase | None = None  # the delete pipeline's phase, once it asked to suspend or retry
    user_status: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    workflows_total: int = 0
    workflows_succeeded: int = 0
    workflows_failed: int = 0
    last_successful_configure_ms: int | None = None
    observed_generation: int | None = None  # Promise: generation whose resources were fanned out (W12)
    promise_status: str | None = None  # Promise: status.status, Available or Unavailable (W13)
    fanout_requested: bool = False  # Promise: fan out after the running workflow completes (W12)

    def condition(self, type_: str) -> Condition | None:
        return self.conditions.get(type_)

    def status_document(self) -> dict[str, Any]:
        """The object's ``.status`` as ``object.yaml`` shows it to the pipeline (section 1, reader)."""
        status: dict[str, Any] = dict(self.user_status)
        if self.message is not None:
            status["message"] = self.message
        if self.promise_status is not None:
            status["status"] = self.promise_status
        if self.conditions:
            status["conditions"] = [
                {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message,
                 "lastTransitionTime": c.last_transition_ms // 1000}
                for c in self.conditions.values()
            ]
        status["workflows"] = self.workflows_total
        status["workflowsSucceeded"] = self.workflows_succeeded
        status["workflowsFailed"] = self.workflows_failed
        if self.last_successful_configure_ms is not None:
            status["lastSuccessfulConfigureWorkflowTime"] = self.last_successful_configure_ms // 1000
        workflows: dict[str, Any] = {}
        if self.phases:
            workflows["pipelines"] = [_phase_document(p) for p in self.phases]
        if self.delete_phase is not None:
            workflows["delete"] = {"pipelines": [_phase_document(self.delete_phase)]}
        if workflows:
            status["kratix"] = {"workflows": workflows}
        return status


def _phase_document(phase: PipelinePhase) -> dict[str, Any]:
    """A pipeline's entry in ``status.kratix.workflows``: absent fields left out, nextRetryAt in seconds."""
    next_retry = None if phase.next_retry_ms is None else phase.next_retry_ms // 1000
    return {k: v for k, v in (("name", phase.name), ("phase", phase.phase), ("message", phase.message),
                              ("nextRetryAt", next_retry), ("attempts", phase.attempts or None)) if v is not None}


@dataclass(slots=True)
class Job:
    """A Kubernetes Job for one Pipeline run (section 1: one Job per Pipeline)."""

    name: str
    object_key: str
    workflow: WorkflowType
    action: WorkflowAction
    pipeline: str
    pipeline_index: int
    hash: str
    labels: dict[str, str]
    created_ms: int
    backoff_limit: int
    restart_policy: Literal["OnFailure", "Never"]
    state: JobState = "running"
    suspend_requested: bool = False
    failed_pods: int = 0
    pod_count: int = 0
    finished_ms: int | None = None
    suspended_pipeline: bool = False  # the run asked workflow control to suspend or retry (C1)

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(slots=True)
class Work:
    """The state store's record of one (object, pipeline): the files of /kratix/output (W15)."""

    object_key: str
    pipeline: str
    workflow: WorkflowType
    files: dict[str, Any]
    destination_selectors: list[Any]
    digest: str
