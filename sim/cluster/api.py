"""The simulated API server: holds objects, Jobs and Works; every change is a trace event and a watch.

A write that changes nothing emits nothing and wakes nobody, as a no-op update in Kubernetes does not
bump ``resourceVersion``. Watchers receive the key of the Kratix object a change belongs to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.cluster.objects import (
    Condition,
    Job,
    KObject,
    PipelinePhase,
    Work,
    go_json,
    md5_hex,
)
from sim.trace import Event, Recorder

Watch = Callable[[str], None]
# KObject attribute -> the status field Kratix shows (times in whole seconds).
STATUS_FIELD_NAMES = {
    "message": "message",
    "workflows_total": "workflows",
    "workflows_succeeded": "workflowsSucceeded",
    "workflows_failed": "workflowsFailed",
    "last_successful_configure_ms": "lastSuccessfulConfigureWorkflowTime",
    "observed_generation": "observedGeneration",
    "fanout_requested": "fanoutRequested",
    "promise_status": "status",
}
# Job state -> (trace event, Job condition type).
_JOB_FINISHED = {"complete": ("job_completed", "Complete"), "failed": ("job_failed", "Failed"),
                 "suspended": ("job_suspended", "Suspended")}
# The Job controller's condition messages (J1, J4; kubernetes pkg/controller/job)
_JOB_MESSAGES = {"BackoffLimitExceeded": "Job has reached the specified backoff limit", "JobSuspended": "Job suspended"}


class Cluster:
    def __init__(self, recorder: Recorder, now_ms: Callable[[], int]) -> None:
        self.recorder = recorder
        self.now_ms = now_ms
        self.objects: dict[str, KObject] = {}
        self.jobs: dict[str, list[Job]] = {}  # object key -> its Jobs, oldest first
        self.works: dict[str, dict[str, Work]] = {}  # object key -> pipeline -> Work
        self.watchers: list[Watch] = []
        self.job_watchers: list[Callable[[Job], None]] = []
        # Every change is a trace event: the recorder's own ``emit``, bound once (no wrapper call per event).
        self.emit: Callable[..., Any] = recorder.emit
        # The fast path for events whose fields are known: ``record({"seq": 0, "t": 0, "event": name, ...})``.
        self.record: Callable[[Event], Event] = recorder.record

    # -- watches -------------------------------------------------------------------------------------
    def notify(self, key: str) -> None:
        for watch in self.watchers:
            watch(key)

    # -- objects -------------------------------------------------------------------------------------
    def create(self, obj: KObject) -> None:
        self.objects[obj.key] = obj
        self.jobs.setdefault(obj.key, [])
        self.record({"seq": 0, "t": 0, "event": "object_created", "object": obj.key, "workflow": obj.kind,
                     "hash": obj.spec_hash})
        self.notify(obj.key)

    def update_spec(self, obj: KObject, spec: dict[str, Any], spec_hash: str) -> None:
        if spec_hash == obj.spec_hash:
            return
        obj.spec, obj.spec_hash = spec, spec_hash
        obj.generation += 1
        self.record({"seq": 0, "t": 0, "event": "spec_updated", "object": obj.key, "hash": spec_hash,
                     "generation": obj.generation})
        self.notify(obj.key)

    def set_label(self, obj: KObject, label: str, value: str = "true") -> None:
        if obj.labels.get(label) == value:
            return
        obj.labels[label] = value
        self.record({"seq": 0, "t": 0, "event": "label_set", "object": obj.key, "label": label, "value": value})
        self.notify(obj.key)

    def remove_label(self, obj: KObject, label: str) -> None:
        if label not in obj.labels:
            return
        del obj.labels[label]
        self.record({"seq": 0, "t": 0, "event": "label_removed", "object": obj.key, "label": label})
        self.notify(obj.key)

    def add_finalizers(self, obj: KObject, finalizers: list[str]) -> None:
        missing = [f for f in finalizers if f not in obj.finalizers]
        if not missing:
            return
        obj.finalizers.extend(missing)
        self.emit("finalizers_added", object=obj.key, finalizers=missing)
        self.notify(obj.key)

    def remove_finalizer(self, obj: KObject, finalizer: str) -> None:
        if finalizer not in obj.finalizers:
            return
        obj.finalizers.remove(finalizer)
        self.emit("finalizer_removed", object=obj.key, finalizer=finalizer)
        if obj.deleting and not obj.finalizers:
            self.remove_object(obj)
        else:
            self.notify(obj.key)

    def request_delete(self, obj: KObject) -> None:
        if obj.deleting:
            return
        obj.deleting = True
        self.emit("delete_requested", object=obj.key)
        if not obj.finalizers:
            self.remove_object(obj)
        else:
            self.notify(obj.key)

    def remove_object(self, obj: KObject) -> None:
        del self.objects[obj.key]
        self.emit("object_removed", object=obj.key)
        self.notify(obj.key)

    # -- status --------------------------------------------------------------------------------------
    def set_condition(self, obj: KObject, type_: str, status: str, reason: str, message: str = "") -> bool:
        """cluster-api ``conditions.Set``: lastTransitionTime (whole seconds) moves when anything changes."""
        old = obj.conditions.get(type_)
        if old is not None and old.status == status and old.reason == reason and old.message == message:
            return False
        now_s_ms = self.now_ms() // 1000 * 1000
        obj.conditions[type_] = Condition(type_, status, reason, message, now_s_ms)
        if status is None or reason is None or message is None:  # absent fields are left out (emit does it)
            self.emit("condition_set", object=obj.key, type=type_, status=status, reason=reason, message=message)
        else:
            self.record({"seq": 0, "t": 0, "event": "condition_set", "object": obj.key, "type": type_,
                         "status": status, "reason": reason, "message": message})
        self.notify(obj.key)
        return True

    def set_status(self, obj: KObject, **fields: Any) -> None:
        """Set plain status fields (message, counters, phases...); emits one ``status_updated`` if changed."""
        self.update_status(obj, fields)

    def update_status(self, obj: KObject, fields: dict[str, Any]) -> None:
        """``set_status`` with the fields as a dict."""
        changed: dict[str, Any] | None = None
        for key, value in fields.items():
            if getattr(obj, key) != value:
                if changed is None:
                    changed = {}
                changed[key] = value
        if changed is None:
            return
        for key, value in changed.items():
            setattr(obj, key, value)
        shown = {STATUS_FIELD_NAMES[k]: (v // 1000 if k.endswith("_ms") and v is not None else v)
                 for k, v in sorted(changed.items())}
        self.record({"seq": 0, "t": 0, "event": "status_updated", "object": obj.key, "fields": shown})
        self.notify(obj.key)

    def set_phases(self, obj: KObject, phases: list[PipelinePhase]) -> None:
        if phases == obj.phases:
            return
        obj.phases = phases
        self.record({"seq": 0, "t": 0, "event": "phases_set", "object": obj.key,
                     "phases": [p.phase for p in phases]})
        self.notify(obj.key)

    def set_delete_phase(self, obj: KObject, phase: PipelinePhase) -> None:
        """The delete pipeline's phase (recorded once it asked to suspend or retry, section 4 and C1)."""
        if phase == obj.delete_phase:
            return
        obj.delete_phase = phase
        self.record({"seq": 0, "t": 0, "event": "phases_set", "object": obj.key, "phases": [phase.phase],
                     "action": "delete"})
        self.notify(obj.key)

    def merge_user_status(self, obj: KObject, status: dict[str, Any]) -> None:
        """W16: top-level keys replace (no deep merge); ``conditions`` merge by type; ``message`` is a field."""
        merged = dict(obj.user_status)
        message = obj.message
        for key, value in status.items():
            if key == "message":
                message = str(value)
            elif key == "conditions" and isinstance(value, list):
                self._merge_conditions(obj, value)
            else:
                merged[key] = value
        if merged == obj.user_status and message == obj.message:
            return
        obj.user_status, obj.message = merged, message
        self.emit("status_merged", object=obj.key, keys=sorted(str(k) for k in status))
        self.notify(obj.key)

    def _merge_conditions(self, obj: KObject, conditions: list[Any]) -> None:
        for item in conditions:
            if isinstance(item, dict) and isinstance(item.get("type"), str):
                self.set_condition(obj, item["type"], str(item.get("status", "Unknown")),
                                   str(item.get("reason", "")), str(item.get("message", "")))

    # -- Jobs ----------------------------------------------------------------------------------------
    def add_job(self, job: Job) -> None:
        self.jobs.setdefault(job.object_key, []).append(job)
        self.record({"seq": 0, "t": 0, "event": "job_created", "object": job.object_key, "workflow": job.workflow,
                     "action": job.action, "pipeline": job.pipeline, "pipeline_index": job.pipeline_index,
                     "job": job.name, "hash": job.hash, "backoff_limit": job.backoff_limit,
                     "restart_policy": job.restart_policy})
        for watch in self.job_watchers:
            watch(job)
        self.notify(job.object_key)

    def finish_job(self, job: Job, state: str, reason: str | None = None) -> None:
        if not job.running:
            return
        job.state = state  # type: ignore[assignment]
        job.finished_ms = self.now_ms()
        event, condition = _JOB_FINISHED[state]
        record = {"seq": 0, "t": 0, "event": event, "object": job.object_key, "workflow": job.workflow,
                  "action": job.action, "pipeline": job.pipeline, "pipeline_index": job.pipeline_index,
                  "job": job.name, "hash": job.hash, "type": condition, "status": "True"}
        if reason is not None:
            record["reason"] = reason
            if reason in _JOB_MESSAGES:
                record["message"] = _JOB_MESSAGES[reason]
        self.record(record)
        self.notify(job.object_key)

    def delete_job(self, job: Job, reason: str) -> None:
        jobs = self.jobs.get(job.object_key, [])
        if job not in jobs:
            return
        jobs.remove(job)
        self.record({"seq": 0, "t": 0, "event": "job_deleted", "object": job.object_key, "pipeline": job.pipeline,
                     "job": job.name, "reason": reason})
        for watch in self.job_watchers:
            watch(job)
        self.notify(job.object_key)

    def jobs_of(self, key: str) -> list[Job]:
        return self.jobs.get(key, [])

    # -- Works (state store) --------------------------------------------------------------------------
    def write_work(self, obj: KObject, pipeline: str, files: dict[str, Any], selectors: list[Any]) -> None:
        digest = md5_hex(go_json({"files": files, "destinationSelectors": selectors}))
        works = self.works.setdefault(obj.key, {})
        old = works.get(pipeline)
        changed = old is None or old.digest != digest
        works[pipeline] = Work(obj.key, pipeline, obj.kind, files, selectors, digest)
        self.record({"seq": 0, "t": 0, "event": "work_written", "object": obj.key, "pipeline": pipeline,
                     "digest": digest, "files": len(files), "changed": changed})

    def delete_work(self, object_key: str, pipeline: str, reason: str) -> None:
        works = self.works.get(object_key, {})
        if works.pop(pipeline, None) is not None:
            self.emit("work_deleted", object=object_key, pipeline=pipeline, reason=reason)

    def works_of(self, key: str) -> list[Work]:
        return [w for _, w in sorted(self.works.get(key, {}).items())]
