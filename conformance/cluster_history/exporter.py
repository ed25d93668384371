"""Write a simulated trace as a cluster would show it at its end (or at a given time): kubectl-shaped Lists.

``jobs-pods.yaml`` (Jobs and their pods), ``events.yaml`` (the Events Kratix recorded) and ``objects.yaml``
(Promises and resources with their conditions and status), the shapes of ``kubectl get ... -o yaml``. Like a
cluster, the export forgets: deleted Jobs (and their pods) and removed objects are absent, a container shows
only its current state and last termination, conditions only their latest transition, timestamps are whole
seconds (RFC3339 from ``origin``). Names, uids and order are deterministic. For demos and round-trip tests.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import yaml

from sim.trace import Event, Trace

KRATIX_GROUP = "platform.kratix.io/v1alpha1"
PIPELINE_NAMESPACE = "kratix-platform-system"  # where promise workflows run
_UID_SPACE = uuid.UUID("6f1c2b1e-3d7a-4c1e-9f00-6b7261746978")


@dataclass
class _Pod:
    created: Event
    steps: list[Event] = field(default_factory=list)


@dataclass
class _Job:
    created: Event
    ended: Event | None = None
    suspend: bool = False
    pods: list[_Pod] = field(default_factory=list)


@dataclass
class _Object:
    created: Event
    generation: int = 1
    deleting: Event | None = None
    labels: dict[str, str] = field(default_factory=dict)
    finalizers: list[str] = field(default_factory=list)
    conditions: dict[str, Event] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)


def uid(*parts: str) -> str:
    """A stable uid for an object (the same trace always gives the same uids)."""
    return str(uuid.uuid5(_UID_SPACE, "/".join(parts)))


class _Exporter:
    def __init__(self, trace: Trace, origin: datetime, kind: str, api_version: str, at: float | None) -> None:
        self.origin = origin
        self.kind = kind
        self.api_version = api_version
        self.jobs: dict[str, _Job] = {}
        self.pods: dict[str, _Pod] = {}
        self.objects: dict[str, _Object] = {}
        self.recorded: list[Event] = []
        for event in trace.events:
            if at is None or float(event["t"]) <= at:
                self._apply(event)

    def time(self, event: Event | float) -> str:
        t = float(event["t"]) if isinstance(event, dict) else event
        at = self.origin + timedelta(seconds=int(t))
        return f"{at.year:04d}" + at.strftime("-%m-%dT%H:%M:%SZ")  # RFC3339: four-digit years

    def _apply(self, event: Event) -> None:
        name = event["event"]
        key = str(event.get("object", ""))
        obj = self.objects.get(key)
        if name == "object_created":
            self.objects[key] = _Object(event)
        elif name == "job_created":
            self.jobs[str(event["job"])] = _Job(event)
        elif name in ("job_completed", "job_failed", "job_suspended"):
            job = self.jobs.get(str(event.get("job")))
            if job is not None and job.ended is None:
                job.ended = event
        elif name == "job_suspend_requested" and str(event.get("job")) in self.jobs:
            self.jobs[str(event["job"])].suspend = True
        elif name == "job_deleted":
            gone = self.jobs.pop(str(event.get("job")), None)
            for pod in gone.pods if gone is not None else []:
                self.pods.pop(str(pod.created["pod"]), None)
        elif name == "pod_created" and str(event.get("job")) in self.jobs:
            pod = _Pod(event)
            self.pods[str(event["pod"])] = pod
            self.jobs[str(event["job"])].pods.append(pod)
        elif name in ("container_started", "container_exited") and str(event.get("pod")) in self.pods:
            self.pods[str(event["pod"])].steps.append(event)
        elif name == "event_recorded":
            self.recorded.append(event)
        elif obj is None:
            return
        elif name == "spec_updated":
            obj.generation += 1
        elif name == "delete_requested":
            obj.deleting = obj.deleting or event
        elif name == "object_removed":
            del self.objects[key]
        elif name == "label_set":
            obj.labels[str(event["label"])] = str(event.get("value", "true"))
        elif name == "label_removed":
            obj.labels.pop(str(event["label"]), None)
        elif name == "finalizers_added":
            obj.finalizers.extend(f for f in event.get("finalizers", []) if f not in obj.finalizers)
        elif name == "finalizer_removed" and event.get("finalizer") in obj.finalizers:
            obj.finalizers.remove(event["finalizer"])
        elif name == "condition_set":
            obj.conditions[str(event["type"])] = event
        elif name == "status_updated":
            obj.status.update(event.get("fields") or {})

    # -- Kubernetes shapes -----------------------------------------------------------------------------
    @staticmethod
    def split(key: str) -> tuple[str, str]:
        """(namespace, name) of an object key; a Promise is cluster-scoped."""
        first, name = key.split("/", 1)
        return ("", name) if first == "promise" else (first, name)

    def owner(self, key: str) -> dict[str, Any]:
        name = self.split(key)[1]
        promise = key.startswith("promise/")
        return {"apiVersion": KRATIX_GROUP if promise else self.api_version,
                "kind": "Promise" if promise else self.kind, "name": name, "uid": uid(key),
                "controller": True, "blockOwnerDeletion": True}

    def job_labels(self, created: Event) -> dict[str, str]:
        labels = {"app.kubernetes.io/managed-by": "Kratix", "kratix.io/hash": str(created.get("hash", "")),
                  "kratix.io/pipeline-name": str(created["pipeline"]),
                  "kratix.io/promise-name": str(created.get("promise") or self._promise(created)),
                  "kratix.io/workflow-action": str(created["action"]),
                  "kratix.io/workflow-type": str(created["workflow"])}
        if created["workflow"] == "resource":
            labels["kratix.io/resource-name"] = self.split(str(created["object"]))[1]
        return labels

    def _promise(self, created: Event) -> str:
        key = str(created["object"])
        if key.startswith("promise/"):
            return key.split("/", 1)[1]
        promises = sorted(k.split("/", 1)[1] for k in self.objects if k.startswith("promise/"))
        return promises[0] if promises else ""

    def namespace(self, created: Event) -> str:
        namespace, _ = self.split(str(created["object"]))
        return namespace or PIPELINE_NAMESPACE

    def layouts(self) -> dict[tuple[str, str, str], list[str]]:
        """The container names of each (workflow, action, pipeline), in step order, from every pod's steps."""
        found: dict[tuple[str, str, str], list[str]] = {}
        for job in self.jobs.values():
            names = found.setdefault((str(job.created["workflow"]), str(job.created["action"]),
                                      str(job.created["pipeline"])), [])
            for pod in job.pods:
                for step in pod.steps:
                    if step.get("container") not in names:
                        names.append(str(step["container"]))
        return found

    def job(self, job: _Job, layout: list[str]) -> list[dict[str, Any]]:
        created = job.created
        labels = self.job_labels(created)
        namespace, name = self.namespace(created), str(created["job"])
        pods = [(pod, self._outcome(pod, layout)) for pod in job.pods]
        if job.ended is not None and job.ended["event"] == "job_suspended":  # Kubernetes deletes the pods it stops
            pods = [(pod, outcome) for pod, outcome in pods if not _killed(pod)]
        counts = Counter(outcome for _, outcome in pods)
        status: dict[str, Any] = {"startTime": self.time(created)}
        for outcome in ("active", "failed", "succeeded"):
            if counts[outcome] or (outcome == "active" and job.ended is None):
                status[outcome] = counts[outcome]
        if job.ended is not None:
            condition = {"type": job.ended["type"], "status": "True", "lastProbeTime": self.time(job.ended),
                         "lastTransitionTime": self.time(job.ended)}
            for extra in ("reason", "message"):
                if job.ended.get(extra):
                    condition[extra] = job.ended[extra]
            status["conditions"] = [condition]
            if job.ended["event"] == "job_completed":
                status["completionTime"] = self.time(job.ended)
        spec: dict[str, Any] = {
            "backoffLimit": created.get("backoff_limit", 6), "suspend": job.suspend,
            "template": {"metadata": {"labels": labels}, "spec": {
                "restartPolicy": created.get("restart_policy", "OnFailure"),
                "initContainers": [{"name": n, "image": _image(n)} for n in layout[:-1]],
                "containers": [{"name": n, "image": _image(n)} for n in layout[-1:]]}}}
        manifest = {"apiVersion": "batch/v1", "kind": "Job",
                    "metadata": {"name": name, "namespace": namespace, "uid": uid("job", namespace, name),
                                 "creationTimestamp": self.time(created), "labels": labels,
                                 "ownerReferences": [self.owner(str(created["object"]))]},
                    "spec": spec, "status": status}
        return [manifest, *(self.pod(job, pod, layout, outcome) for pod, outcome in pods)]

    @staticmethod
    def _outcome(pod: _Pod, layout: list[str]) -> str:
        exits = [s for s in pod.steps if s["event"] == "container_exited"]
        if exits and exits[-1]["container"] == layout[-1] and exits[-1].get("exit_code") == 0:
            return "succeeded"
        if exits and exits[-1].get("exit_code") != 0 and not any(
                s["event"] == "container_started" and s["seq"] > exits[-1]["seq"] for s in pod.steps):
            return "failed"
        return "active"

    def pod(self, job: _Job, pod: _Pod, layout: list[str], outcome: str) -> dict[str, Any]:
        created = job.created
        namespace, name = self.namespace(created), str(pod.created["pod"])
        labels = {**self.job_labels(created), "batch.kubernetes.io/job-name": str(created["job"]),
                  "job-name": str(created["job"])}
        statuses = [self.container_status(n, [s for s in pod.steps if s.get("container") == n]) for n in layout]
        phase = {"succeeded": "Succeeded", "failed": "Failed"}.get(outcome, "Running")
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace, "uid": uid("pod", namespace, name),
                             "creationTimestamp": self.time(pod.created), "labels": labels,
                             "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": created["job"],
                                                  "uid": uid("job", namespace, str(created["job"])),
                                                  "controller": True, "blockOwnerDeletion": True}]},
                "spec": {"restartPolicy": created.get("restart_policy", "OnFailure"),
                         "initContainers": [{"name": n, "image": _image(n)} for n in layout[:-1]],
                         "containers": [{"name": n, "image": _image(n)} for n in layout[-1:]]},
                "status": {"phase": phase, "startTime": self.time(pod.created),
                           "initContainerStatuses": statuses[:-1], "containerStatuses": statuses[-1:]}}

    def container_status(self, name: str, steps: list[Event]) -> dict[str, Any]:
        runs: list[tuple[Event, Event | None]] = []
        for step in steps:
            if step["event"] == "container_started":
                runs.append((step, None))
            elif runs and runs[-1][1] is None:
                runs[-1] = (runs[-1][0], step)
        status: dict[str, Any] = {"name": name, "image": _image(name), "restartCount": max(0, len(runs) - 1),
                                  "ready": False, "lastState": {}}
        if not runs:
            status["state"] = {"waiting": {"reason": "PodInitializing"}}
            return status
        status["state"] = self._state(*runs[-1])
        status["ready"] = runs[-1][1] is None
        if len(runs) > 1:
            status["lastState"] = self._state(*runs[-2])
        return status

    def _state(self, started: Event, exited: Event | None) -> dict[str, Any]:
        if exited is None:
            return {"running": {"startedAt": self.time(started)}}
        code = int(exited.get("exit_code", 0))
        reason = exited.get("reason") or ("Completed" if code == 0 else "Error")
        return {"terminated": {"exitCode": code, "reason": reason, "startedAt": self.time(started),
                               "finishedAt": self.time(exited)}}

    def resource(self, key: str, obj: _Object) -> dict[str, Any]:
        namespace, name = self.split(key)
        promise = key.startswith("promise/")
        metadata: dict[str, Any] = {"name": name, "uid": uid(key), "generation": obj.generation,
                                    "creationTimestamp": self.time(obj.created)}
        if namespace:
            metadata["namespace"] = namespace
        if obj.labels:
            metadata["labels"] = dict(sorted(obj.labels.items()))
        if obj.finalizers:
            metadata["finalizers"] = list(obj.finalizers)
        if obj.deleting is not None:
            metadata["deletionTimestamp"] = self.time(obj.deleting)
        status: dict[str, Any] = {}
        for field_name, value in sorted(obj.status.items()):
            if field_name == "lastSuccessfulConfigureWorkflowTime" and isinstance(value, int | float):
                value = self.time(float(value))
            status[field_name] = value
        status["conditions"] = [
            {k: v for k, v in (("type", c["type"]), ("status", c.get("status")), ("reason", c.get("reason")),
                               ("message", c.get("message")), ("lastTransitionTime", self.time(c))) if v is not None}
            for _, c in sorted(obj.conditions.items())]
        return {"apiVersion": KRATIX_GROUP if promise else self.api_version,
                "kind": "Promise" if promise else self.kind, "metadata": metadata, "spec": {}, "status": status}

    def event(self, n: int, recorded: Event) -> dict[str, Any]:
        key = str(recorded["object"])
        namespace, name = self.split(key)
        owner = self.owner(key)
        return {"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": f"{name}.{n:016x}", "namespace": namespace or "default",
                             "uid": uid("event", key, str(n)), "creationTimestamp": self.time(recorded)},
                "involvedObject": {k: v for k, v in (("apiVersion", owner["apiVersion"]), ("kind", owner["kind"]),
                                                     ("name", name), ("namespace", namespace or None),
                                                     ("uid", owner["uid"])) if v is not None},
                "reason": recorded.get("reason", ""), "message": recorded.get("message", ""),
                "type": recorded.get("type", "Normal"), "count": 1, "source": {"component": "Kratix"},
                "firstTimestamp": self.time(recorded), "lastTimestamp": self.time(recorded)}

    def lists(self) -> dict[str, dict[str, Any]]:
        layouts = self.layouts()
        items: list[dict[str, Any]] = []
        for job in self.jobs.values():
            key = (str(job.created["workflow"]), str(job.created["action"]), str(job.created["pipeline"]))
            items.extend(self.job(job, layouts.get(key) or ["status-writer"]))
        return {"jobs-pods.yaml": _list(items),
                "events.yaml": _list([self.event(n, e) for n, e in enumerate(self.recorded, start=1)]),
                "objects.yaml": _list([self.resource(k, o) for k, o in sorted(self.objects.items())])}


def _killed(pod: _Pod) -> bool:
    """Was the pod stopped (its last step killed, as a suspension or deletion does)?"""
    exits = [s for s in pod.steps if s["event"] == "container_exited"]
    return bool(exits) and exits[-1].get("reason") == "Killed"


def _image(container: str) -> str:
    kratix = container in ("reader", "work-writer", "status-writer")
    return "ghcr.io/syntasso/kratix-platform-pipeline-adapter:latest" if kratix else f"example.com/{container}:v1"


def _list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


class _NoAliases(yaml.SafeDumper):
    """kubectl never writes YAML anchors; repeated label maps are written out each time."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(document: dict[str, Any]) -> str:
    """A List as ``kubectl get -o yaml`` writes it: keys sorted, no anchors."""
    return yaml.dump(document, Dumper=_NoAliases, sort_keys=True, allow_unicode=True)


def export_trace(trace: Trace, origin: datetime, kind: str = "Resource",
                 api_version: str = "example.kratix.io/v1alpha1", at: float | None = None) -> dict[str, dict[str, Any]]:
    """File name -> kubectl List of what the cluster shows at time ``at`` (default: the trace's end)."""
    return _Exporter(trace, origin, kind, api_version, at).lists()
