"""Turn a cluster's Jobs, pods, Events and Kratix objects into a ``kratix-sim-trace/v1`` trace.

What maps to what (docs/cluster-import.md has the full table):

- a Job (labels ``kratix.io/promise-name``, ``kratix.io/resource-name``, ``kratix.io/pipeline-name``,
  ``kratix.io/workflow-type``, ``kratix.io/workflow-action``, ``kratix.io/hash``; api/v1alpha1/pipeline_factory.go)
  gives ``job_created`` at its creationTimestamp and ``job_completed`` / ``job_failed`` / ``job_suspended`` at
  the lastTransitionTime of its Complete / Failed / Suspended condition;
- a pod gives ``pod_created`` and, per container (init containers first: reader, user containers,
  work-writer; then the main container, status-writer), ``container_started`` / ``container_exited`` from its
  state and lastState. The kubelet keeps only the last termination, so the executions before it are
  inferred (``"inferred": true``, at the time of the last one) and the gap is recorded (J2);
- an object (a Promise, or a resource the Jobs name) gives ``object_created``, ``delete_requested``
  (deletionTimestamp), ``condition_set`` per condition (at its lastTransitionTime) and ``status_updated``;
- a new ``kratix.io/hash`` on an object's Job shows that a spec changed before it (W5): ``spec_updated`` with
  ``"inferred": true`` just before that Job;
- an Event about a Promise or resource gives ``event_recorded``.

The pipeline index comes from ``--promise`` when given, else from the Jobs' creation order within one hash
(a new run always starts at pipeline 0). ``t`` is seconds since the earliest timestamp; events at the same
second keep their causal order (an object's events, then each Job in creation order: creation, its pods and
their steps, its end; then conditions, status and Events). The header says ``"source": "cluster-import"``
and lists the evidence the cluster no longer holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from conformance.cluster_history.kubectl import KubeObject
from sim import __version__
from sim.errors import InputError
from sim.model.promise import WORKFLOW_ACTIONS, WORKFLOW_TYPES, Promise
from sim.trace import TRACE_FORMAT, Event, Trace, seconds

SOURCE = "cluster-import"
PROMISE_LABEL, RESOURCE_LABEL = "kratix.io/promise-name", "kratix.io/resource-name"
PIPELINE_LABEL, HASH_LABEL = "kratix.io/pipeline-name", "kratix.io/hash"
TYPE_LABEL, ACTION_LABEL = "kratix.io/workflow-type", "kratix.io/workflow-action"
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
DEFAULT_BACKOFF_LIMIT = 6  # Kubernetes' default (J1)
DEFAULT_JOBS_TO_KEEP = 5  # W14 numberOfJobsToKeep
JOB_ENDS = {"Complete": "job_completed", "Failed": "job_failed", "Suspended": "job_suspended"}
STATUS_FIELDS = ("message", "workflows", "workflowsSucceeded", "workflowsFailed",
                 "lastSuccessfulConfigureWorkflowTime", "observedGeneration")
KRATIX_CONDITIONS = ("ConfigureWorkflowCompleted", "DeleteWorkflowCompleted", "Reconciled")

# What no cluster keeps, whatever was exported (header ``evidence.unrecorded``).
UNRECORDED: tuple[tuple[str, str], ...] = (
    ("controller", "controller starts, stops and reconcile decisions are not recorded by the cluster"),
    ("labels", "object label history (manual-reconciliation, run-from-start, workflow-suspended, paused) is not "
               "kept: only current labels"),
    ("condition-history", "conditions keep only their latest transition"),
    ("spec-history", "spec changes are seen only through new kratix.io/hash labels, not when they happened"),
    ("works", "Works and status merges (state-store writes) are not imported"),
    ("finalizers", "finalizer history is not kept"),
    ("deletions", "deleted Jobs, pods and objects leave no record (W14 retention, D5 cleanup)"),
    ("timing", "Kubernetes timestamps are whole seconds and the time of the export is not known"),
)

_BEFORE, _JOBS, _AFTER = 0, 1, 2  # bands of one second: object events, Job events, conditions/status/Events
_LAST = 1 << 30


@dataclass
class _Pending:
    """An event before numbering: its time, its place among events of the same second, its fields."""

    at: datetime
    order: tuple[int, ...]
    fields: Event
    tiebreak: str = ""


@dataclass
class _Job:
    obj: KubeObject
    key: str
    promise: str
    workflow: str
    action: str
    pipeline: str
    hash: str
    created: datetime
    index: int = 0
    order: int = 0
    pods: list[KubeObject] = field(default_factory=list)


@dataclass
class ImportOptions:
    scenario: str = SOURCE
    profile: str = "kratix-2026.08"
    promise: Promise | None = None
    jobs_to_keep: int | None = None
    events_given: bool = True
    objects_given: bool = True


def timestamp(obj: KubeObject, *keys: str | int) -> datetime | None:
    """An RFC3339 timestamp field of ``obj`` (None when absent); a malformed one is an InputError."""
    value = obj.field(*keys)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):  # an unquoted YAML timestamp; PyYAML gives UTC without a zone
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise obj.error(f"not an RFC3339 timestamp: {value!r}", *keys) from exc
    if parsed.tzinfo is None:
        raise obj.error(f"timestamp without a time zone: {value!r}", *keys)
    return parsed


MAX_RESTARTS = 10_000  # each restart of a container becomes trace events; more is no pipeline's pod


def _integer(obj: KubeObject, low: int, high: int, *keys: str | int) -> int | None:
    """An integer field of ``obj`` in [low, high] (None when absent); anything else is an InputError."""
    value = obj.field(*keys)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise obj.error(f"must be an integer from {low:,} to {high:,}: {value!r}", *keys)
    return value


def _required_time(obj: KubeObject, *keys: str | int) -> datetime:
    value = timestamp(obj, *keys)
    if value is None:
        raise obj.error("missing " + ".".join(map(str, keys)), *keys)
    return value


class _Importer:
    def __init__(self, objects: Iterable[KubeObject], options: ImportOptions) -> None:
        self.options = options
        self.pending: list[_Pending] = []
        self.missing: dict[str, list[str]] = {}
        self.inferred: list[str] = []
        self.jobs: dict[tuple[str, str], _Job] = {}
        self.pods: list[KubeObject] = []
        self.events: list[KubeObject] = []
        self.others: list[KubeObject] = []
        seen: set[tuple[str, str, str, str]] = set()
        for obj in objects:
            identity = (obj.api_version, obj.kind, obj.namespace, obj.name)
            if identity in seen:  # the same object from two files (a mixed List given twice)
                continue
            seen.add(identity)
            kind, group = obj.kind, obj.api_version.split("/")[0] if "/" in obj.api_version else ""
            if kind == "Job" and group == "batch":
                job = self._job(obj)
                self.jobs[(obj.namespace, obj.name)] = job
            elif kind == "Pod" and obj.api_version == "v1":
                self.pods.append(obj)
            elif kind == "Event" and group in ("", "events.k8s.io"):
                self.events.append(obj)
            else:
                self.others.append(obj)

    def gap(self, code: str, detail: str) -> None:
        self.missing.setdefault(code, []).append(detail)

    def add(self, at: datetime, order: tuple[int, ...], tiebreak: str = "", **fields: Any) -> None:
        self.pending.append(_Pending(at, order, {k: v for k, v in fields.items() if v is not None}, tiebreak))

    # -- Jobs ------------------------------------------------------------------------------------------
    def _job(self, obj: KubeObject) -> _Job:
        labels = obj.labels
        for label in (PROMISE_LABEL, TYPE_LABEL, ACTION_LABEL, PIPELINE_LABEL):
            if not labels.get(label):
                raise obj.error(f"no label {label}: not a Kratix workflow Job (export with "
                                "-l app.kubernetes.io/managed-by=Kratix)", "metadata", "labels")
        workflow, action = labels[TYPE_LABEL], labels[ACTION_LABEL]
        if workflow not in WORKFLOW_TYPES:
            raise obj.error(f"label {TYPE_LABEL} is {workflow!r}; accepted: resource, promise", "metadata", "labels")
        if action not in WORKFLOW_ACTIONS:
            raise obj.error(f"label {ACTION_LABEL} is {action!r}; accepted: configure, delete", "metadata", "labels")
        promise = labels[PROMISE_LABEL]
        if workflow == "resource":
            resource = labels.get(RESOURCE_LABEL)
            if not resource:
                raise obj.error(f"no label {RESOURCE_LABEL} on a resource workflow Job", "metadata", "labels")
            key = f"{obj.namespace or 'default'}/{resource}"
        else:
            key = f"promise/{promise}"
        return _Job(obj, key, promise, workflow, action, labels[PIPELINE_LABEL], labels.get(HASH_LABEL, ""),
                    _required_time(obj, "metadata", "creationTimestamp"))

    def _order_jobs(self) -> list[_Job]:
        jobs = sorted(self.jobs.values(), key=lambda j: (j.created, j.key, j.obj.name))
        for n, job in enumerate(jobs):
            job.order = n
        known = self._promise_order()
        inferred: dict[tuple[str, str, str], list[str]] = {}
        for job in jobs:  # pipeline order from Job creation within each (object, hash): a hash starts at 0
            names = known.get((job.promise, job.workflow, job.action))
            if names is not None:
                if job.pipeline not in names:
                    raise job.obj.error(f"pipeline {job.pipeline!r} is not a {job.workflow} {job.action} pipeline of "
                                        f"Promise {job.promise} (--promise has {', '.join(names) or 'none'})",
                                        "metadata", "labels", PIPELINE_LABEL)
                job.index = names.index(job.pipeline)
                continue
            order = inferred.setdefault((job.promise, job.workflow, job.action), [])
            if job.pipeline not in order:
                order.append(job.pipeline)
            job.index = order.index(job.pipeline)
        self._check_inferred(jobs, inferred)
        if known:
            self._index_gaps(jobs)
        return jobs

    def _promise_order(self) -> dict[tuple[str, str, str], list[str]]:
        promise = self.options.promise
        if promise is None:
            return {}
        return {(promise.name, w, a): [p.name for p in promise.pipelines(w, a)]
                for w in WORKFLOW_TYPES for a in WORKFLOW_ACTIONS}

    def _check_inferred(self, jobs: list[_Job], inferred: dict[tuple[str, str, str], list[str]]) -> None:
        """Without ``--promise``: each run (object, hash) must meet the pipelines in one order."""
        for (promise, workflow, action), order in sorted(inferred.items()):
            if len(order) > 1:
                self.inferred.append(f"{promise} {workflow} {action}: pipeline order {' -> '.join(order)} from "
                                     "Job creation (no --promise)")
            runs: dict[tuple[str, str], list[int]] = {}
            for job in jobs:
                if (job.promise, job.workflow, job.action) == (promise, workflow, action):
                    seen = runs.setdefault((job.key, job.hash), [])
                    if job.index not in seen:
                        seen.append(job.index)
            for (key, hash_), indexes in sorted(runs.items()):
                if indexes != sorted(indexes):
                    self.gap("pipeline-order", f"{key} hash {hash_}: its Jobs ran pipelines in another order "
                                               "than other runs; give --promise")

    def _index_gaps(self, jobs: list[_Job]) -> None:
        """With ``--promise``: a run (object, hash) whose Jobs skip a pipeline index lost Jobs (W14)."""
        runs: dict[tuple[str, str, str], set[int]] = {}
        for job in jobs:
            if job.action == "configure":
                runs.setdefault((job.key, job.hash, job.workflow), set()).add(job.index)
        for (key, hash_, _), indexes in sorted(runs.items()):
            absent = sorted(set(range(max(indexes) + 1)) - indexes)
            if absent:
                self.gap("jobs-pruned", f"{key} hash {hash_[:12]}: no Job for pipeline index "
                                        f"{', '.join(map(str, absent))} (pruned, W14)")

    def _retention_gaps(self, jobs: list[_Job]) -> None:
        keep = self.options.jobs_to_keep or DEFAULT_JOBS_TO_KEEP
        counts: dict[tuple[str, str, str], int] = {}
        for job in jobs:
            group = (job.key, job.action, job.pipeline)
            counts[group] = counts.get(group, 0) + 1
        for (key, action, pipeline), count in sorted(counts.items()):
            if count >= keep:
                self.gap("jobs-pruned", f"{key}: {count} {action} Jobs of pipeline {pipeline}, as many as "
                                        f"numberOfJobsToKeep ({keep}): older ones may have been pruned (W14)")

    def _emit_job(self, job: _Job, previous_hash: str | None) -> None:
        obj = job.obj
        common: dict[str, Any] = {"object": job.key, "workflow": job.workflow, "action": job.action,
                                  "pipeline": job.pipeline, "pipeline_index": job.index, "job": obj.name,
                                  "hash": job.hash}
        if previous_hash is not None and previous_hash != job.hash:
            self.add(job.created, (_JOBS, job.order, -2), event="spec_updated", object=job.key, hash=job.hash,
                     inferred=True)
        backoff = obj.field("spec", "backoffLimit")
        if backoff is not None and (isinstance(backoff, bool) or not isinstance(backoff, int) or backoff < 0):
            raise obj.error(f"backoffLimit {backoff!r}: Kubernetes requires an integer of 0 or more",
                            "spec", "backoffLimit")
        policy = obj.field("spec", "template", "spec", "restartPolicy")
        if policy is not None and policy not in ("OnFailure", "Never"):
            raise obj.error(f"restartPolicy {policy!r}: a Job's pods are OnFailure or Never",
                            "spec", "template", "spec", "restartPolicy")
        self.add(job.created, (_JOBS, job.order, -1), event="job_created", **common,
                 promise=job.promise if job.workflow == "resource" else None,
                 backoff_limit=DEFAULT_BACKOFF_LIMIT if backoff is None else backoff,
                 restart_policy=policy or "OnFailure")
        ends: list[tuple[datetime, int, dict[str, Any]]] = []
        conditions = obj.field("status", "conditions") or []
        for i, condition in enumerate(conditions if isinstance(conditions, list) else []):
            if not isinstance(condition, dict) or condition.get("type") not in JOB_ENDS \
                    or condition.get("status") != "True":
                continue
            at = timestamp(obj, "status", "conditions", i, "lastTransitionTime")
            if at is None:
                raise obj.error("condition without lastTransitionTime", "status", "conditions", i)
            ends.append((at, i, condition))
        if ends:
            at, _, condition = min(ends, key=lambda e: (e[0], e[1]))
            self.add(at, (_JOBS, job.order, _LAST), event=JOB_ENDS[str(condition["type"])], **common,
                     type=condition["type"], status="True", reason=condition.get("reason") or None,
                     message=condition.get("message") or None)
        counted = sum(v for v in (obj.field("status", k) for k in ("active", "succeeded", "failed"))
                      if isinstance(v, int))
        if counted > len(job.pods):
            self.gap("pods-missing", f"Job {obj.name} counts {counted} pods, the export has {len(job.pods)}")
        for n, pod in enumerate(sorted(job.pods, key=lambda p: (_required_time(p, "metadata", "creationTimestamp"),
                                                                p.name))):
            self._emit_pod(job, pod, n)

    # -- pods ------------------------------------------------------------------------------------------
    def _attach_pods(self) -> None:
        for pod in self.pods:
            labels = pod.labels
            if not labels.get(PROMISE_LABEL):
                raise pod.error(f"no label {PROMISE_LABEL}: not a Kratix workflow pod (export with "
                                "-l app.kubernetes.io/managed-by=Kratix)", "metadata", "labels")
            owners = pod.metadata.get("ownerReferences") or []
            names = [str(o.get("name")) for o in owners if isinstance(o, dict) and o.get("kind") == "Job"]
            names += [labels[k] for k in JOB_NAME_LABELS if labels.get(k)]
            if not names:
                raise pod.error("no owner Job (ownerReferences or label batch.kubernetes.io/job-name)", "metadata")
            job = self.jobs.get((pod.namespace, names[0]))
            if job is None:
                self.gap("jobs-pruned", f"pod {pod.name} belongs to Job {names[0]}, absent from the export")
                continue
            job.pods.append(pod)

    def _emit_pod(self, job: _Job, pod: KubeObject, n: int) -> None:
        created = _required_time(pod, "metadata", "creationTimestamp")
        base: dict[str, Any] = {"object": job.key, "job": job.obj.name, "pod": pod.name, "pipeline": job.pipeline}
        self.add(created, (_JOBS, job.order, n, -1), event="pod_created", **base, attempt=n + 1)
        step = 0
        for part, statuses in (("initContainers", "initContainerStatuses"), ("containers", "containerStatuses")):
            by_name = {str(s.get("name")): (i, s) for i, s in enumerate(pod.field("status", statuses) or [])
                       if isinstance(s, dict)}
            for spec in pod.field("spec", part) or []:
                name = str(spec.get("name")) if isinstance(spec, dict) else ""
                if name not in by_name:
                    continue
                i, status = by_name[name]
                for started, exited, fields in self._executions(pod, (statuses, i), status):
                    self.add(started, (_JOBS, job.order, n, step), event="container_started", **base,
                             container=name, attempt=fields["attempt"], inferred=fields.get("inferred"))
                    step += 1
                    if exited is not None:
                        self.add(exited, (_JOBS, job.order, n, step), event="container_exited", **base,
                                 container=name, **fields)
                        step += 1

    def _executions(self, pod: KubeObject, where: tuple[str, int],
                    status: dict[str, Any]) -> list[tuple[datetime, datetime | None, dict[str, Any]]]:
        """(started, exited, fields) of each execution of one container, oldest first."""
        path: tuple[str | int, ...] = ("status", *where)
        restarts = _integer(pod, 0, MAX_RESTARTS, *path, "restartCount") or 0
        last = timestamp(pod, *path, "lastState", "terminated", "startedAt")
        out: list[tuple[datetime, datetime | None, dict[str, Any]]] = []
        if restarts and last is not None:
            last_end = timestamp(pod, *path, "lastState", "terminated", "finishedAt")
            code = _integer(pod, -(2**31), 2**31 - 1, *path, "lastState", "terminated", "exitCode")
            code = 1 if code is None else code
            if restarts > 1:
                self.gap("restart-history", f"pod {pod.name} container {status.get('name')} restarted {restarts} "
                                            f"times; the kubelet keeps only the last termination")
            for attempt in range(1, restarts):
                out.append((last, last, {"attempt": attempt, "exit_code": code, "inferred": True}))
            out.append((last, last_end or last, {"attempt": restarts, "exit_code": code,
                                                 **self._reason(pod, (*path, "lastState", "terminated"))}))
        current = "running" if pod.field(*path, "state", "running") is not None else "terminated"
        started = timestamp(pod, *path, "state", current, "startedAt")
        if started is None:
            return out
        attempt = restarts + 1
        if current == "running":
            out.append((started, None, {"attempt": attempt}))
        else:
            code = _integer(pod, -(2**31), 2**31 - 1, *path, "state", "terminated", "exitCode")
            if code is None:
                raise pod.error("a terminated container needs its exitCode", *path, "state", "terminated")
            ended = timestamp(pod, *path, "state", "terminated", "finishedAt")
            out.append((started, ended or started, {"attempt": attempt, "exit_code": code,
                                                    **self._reason(pod, (*path, "state", "terminated"))}))
        return out

    @staticmethod
    def _reason(pod: KubeObject, path: tuple[str | int, ...]) -> dict[str, Any]:
        """``reason: Killed`` when the pod was stopped (suspension, deletion), the only reason the trace keeps."""
        return {"reason": "Killed"} if pod.field(*path, "reason") == "Killed" else {}

    # -- objects and Events ----------------------------------------------------------------------------
    def _object_key(self, obj: KubeObject) -> str | None:
        if obj.kind == "Promise" and obj.api_version.startswith("platform.kratix.io/"):
            return f"promise/{obj.name}"
        if obj.api_version.startswith("platform.kratix.io/"):
            return None  # Works, Destinations, state stores...: not workflow objects
        key = f"{obj.namespace or 'default'}/{obj.name}"
        conditions = obj.field("status", "conditions") or []
        kratix = any(isinstance(c, dict) and c.get("type") in KRATIX_CONDITIONS for c in conditions) or any(
            str(f).startswith("kratix.io/") for f in obj.metadata.get("finalizers") or [])
        return key if kratix or key in {j.key for j in self.jobs.values()} else None

    def _emit_object(self, obj: KubeObject, key: str) -> None:
        created = _required_time(obj, "metadata", "creationTimestamp")
        workflow = "promise" if key.startswith("promise/") else "resource"
        self.add(created, (_BEFORE, 0), key, event="object_created", object=key, workflow=workflow)
        deleting = timestamp(obj, "metadata", "deletionTimestamp")
        if deleting is not None:
            self.add(deleting, (_BEFORE, 1), key, event="delete_requested", object=key)
        latest = created
        conditions = obj.field("status", "conditions") or []
        for i, condition in enumerate(conditions if isinstance(conditions, list) else []):
            if not isinstance(condition, dict) or not condition.get("type"):
                continue
            at = timestamp(obj, "status", "conditions", i, "lastTransitionTime")
            if at is None:
                continue
            latest = max(latest, at)
            self.add(at, (_AFTER, 0), f"{key} {condition['type']}", event="condition_set", object=key,
                     type=condition["type"], status=condition.get("status"), reason=condition.get("reason"),
                     message=condition.get("message"))
        fields = {k: obj.field("status", k) for k in STATUS_FIELDS if obj.field("status", k) is not None}
        if "lastSuccessfulConfigureWorkflowTime" in fields:
            fields["lastSuccessfulConfigureWorkflowTime"] = timestamp(obj, "status",
                                                                      "lastSuccessfulConfigureWorkflowTime")
        if fields:
            self.add(latest, (_AFTER, 1), key, event="status_updated", object=key, fields=fields)

    def _event_key(self, event: KubeObject, known: set[str]) -> str | None:
        involved = event.field("involvedObject") or event.field("regarding") or {}
        if not isinstance(involved, dict):
            return None
        kind, name = str(involved.get("kind", "")), str(involved.get("name", ""))
        if kind == "Promise":
            return f"promise/{name}"
        if kind == "Job" and (str(involved.get("namespace", "")), name) not in self.jobs:
            self.gap("jobs-pruned", f"Event {event.name} is about Job {name}, absent from the export")
        key = f"{involved.get('namespace') or 'default'}/{name}"
        return key if key in known else None

    def _emit_events(self, known: set[str], jobs: list[_Job]) -> None:
        """``event_recorded`` at an Event's first time (and its last, when Kubernetes aggregated repeats into
        ``count``). Kratix records a Warning for every failed workflow (W4, D4): a failed Job with no Warning
        about its object since then means the export lacks Events (none given, or expired)."""
        warnings: dict[str, list[datetime]] = {}
        for event in self.events:
            first = (timestamp(event, "eventTime") or timestamp(event, "firstTimestamp")
                     or timestamp(event, "lastTimestamp") or timestamp(event, "metadata", "creationTimestamp"))
            if first is None:
                raise event.error("no eventTime, firstTimestamp or lastTimestamp", "metadata")
            last = max(first, timestamp(event, "lastTimestamp") or first)
            key = self._event_key(event, known)
            if key is None:
                continue
            fields = {"object": key, "type": event.field("type"), "reason": event.field("reason"),
                      "message": event.field("message") or event.field("note")}
            for at in dict.fromkeys((first, last)):
                self.add(at, (_AFTER, 2), f"{key} {event.name}", event="event_recorded", **fields)
            if event.field("type") == "Warning":
                warnings.setdefault(key, []).append(last)
        if not self.options.events_given:
            self.gap("events", "no events file (--events)")
            return
        for job in jobs:
            failed = self._failed_at(job)
            if failed is not None and not any(at >= failed for at in warnings.get(job.key, [])):
                self.gap("events", f"no Warning Event about {job.key} after Job {job.obj.name} failed: Events "
                                   "expire (kube-apiserver --event-ttl, 1 h by default) or were not exported")

    @staticmethod
    def _failed_at(job: _Job) -> datetime | None:
        conditions = job.obj.field("status", "conditions") or []
        for i, condition in enumerate(conditions if isinstance(conditions, list) else []):
            if isinstance(condition, dict) and condition.get("type") == "Failed" and condition.get("status") == "True":
                return timestamp(job.obj, "status", "conditions", i, "lastTransitionTime")
        return None

    # -- the trace -------------------------------------------------------------------------------------
    def run(self) -> Trace:
        self._attach_pods()
        jobs = self._order_jobs()
        self._retention_gaps(jobs)
        previous: dict[str, str] = {}
        for job in jobs:
            self._emit_job(job, previous.get(job.key))
            previous[job.key] = job.hash
        known = {j.key for j in jobs}
        for obj in sorted(self.others, key=lambda o: (o.namespace, o.name)):
            key = self._object_key(obj)
            if key is not None:
                self._emit_object(obj, key)
                known.add(key)
        self._object_gaps(jobs, known)
        self._emit_events(known, jobs)
        return self._trace()

    def _object_gaps(self, jobs: list[_Job], known: set[str]) -> None:
        if not self.options.objects_given:
            self.gap("objects", "no objects file (--objects): no conditions, status, creation or deletion times")
            return
        listed = {p.fields["object"] for p in self.pending if p.fields["event"] == "object_created"}
        for key in sorted({j.key for j in jobs} - listed):
            self.gap("objects", f"{key} has Jobs but is not among the objects (deleted, or not exported)")

    def _trace(self) -> Trace:
        if not self.pending:
            raise InputError("nothing to import: no Kratix Jobs, pods or objects in the input")
        origin = min(p.at for p in self.pending)
        self.pending.sort(key=lambda p: (round((p.at - origin).total_seconds() * 1000), p.order, p.tiebreak,
                                         p.fields["event"]))
        events: list[Event] = []
        for seq, item in enumerate(self.pending, start=1):
            ms = round((item.at - origin).total_seconds() * 1000)
            fields = dict(item.fields)
            status = fields.get("fields")
            if isinstance(status, dict) and isinstance(status.get("lastSuccessfulConfigureWorkflowTime"), datetime):
                moment = status["lastSuccessfulConfigureWorkflowTime"]
                fields["fields"] = {**status, "lastSuccessfulConfigureWorkflowTime":
                                    int((moment - origin).total_seconds())}
            events.append({"seq": seq, "t": seconds(ms), **fields})
        missing = [{"what": code, "detail": "; ".join(details)} for code, details in sorted(self.missing.items())]
        header: Event = {"event": "header", "format": TRACE_FORMAT, "scenario": self.options.scenario,
                         "profile": self.options.profile, "version": __version__, "source": SOURCE,
                         "origin": origin.astimezone(UTC).isoformat().replace("+00:00", "Z")}
        if self.options.jobs_to_keep is not None:
            header["config"] = {"numberOfJobsToKeep": self.options.jobs_to_keep}
        header["evidence"] = {"complete": not missing, "missing": missing,
                              "unrecorded": [{"what": code, "detail": detail} for code, detail in UNRECORDED],
                              "inferred": self.inferred}
        return Trace(header, events)


def import_history(objects: Iterable[KubeObject], options: ImportOptions | None = None) -> Trace:
    """The trace of a cluster's Kratix history (module docstring)."""
    return _Importer(objects, options or ImportOptions()).run()
