"""What a person wants to see after a run: per object outcomes, a short timeline, a metrics table.

Computed from trace events one at a time (``RunSummary`` is a trace sink), so it works on streamed runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from sim.durations import format_duration
from sim.trace import Event

NOTABLE = frozenset({
    "controller_stopped", "controller_started", "fault_injected", "job_failed", "job_suspended",
    "spec_updated", "delete_requested", "object_removed", "event_recorded",
})


def notable(event: Event) -> bool:
    """Events worth a timeline line: faults, restarts, failures, run starts and completions, deletes."""
    name = event["event"]
    if name in NOTABLE:
        return True
    if name == "job_created":
        return event.get("pipeline_index") == 0
    if name == "container_exited":
        return event.get("exit_code", 0) != 0 and event.get("reason") != "Killed"
    if name == "condition_set":
        return event.get("type") in ("ConfigureWorkflowCompleted", "DeleteWorkflowCompleted", "PromiseAvailable") \
            and event.get("reason") != "PipelinesInProgress"
    if name == "status_updated":
        return "status" in event.get("fields", {})  # a Promise Available / Unavailable (W13)
    if name == "object_created":
        return float(event["t"]) > 0  # created later than the start (create-resource)
    return False
TIMELINE_LIMIT = 40


@dataclass
class ObjectSummary:
    key: str
    workflow: str
    runs_started: int = 0
    runs_completed: int = 0
    runs_failed: int = 0
    jobs: int = 0
    jobs_failed: int = 0
    pods: int = 0
    container_restarts: int = 0
    works_changed: int = 0
    conditions: dict[str, str] = field(default_factory=dict)
    delete_requested: bool = False
    removed: bool = False
    delete_failed: bool = False

    @property
    def state(self) -> str:
        if self.removed:
            return "deleted"
        if self.delete_requested:
            return "delete stuck (D4)" if self.delete_failed else "deleting"
        return self.conditions.get("ConfigureWorkflowCompleted") or self.conditions.get("Reconciled", "-")

    def row(self) -> list[Any]:
        return [self.key, self.runs_started, self.runs_completed, self.runs_failed, self.jobs, self.pods,
                self.container_restarts, self.state]

    def to_json(self) -> dict[str, Any]:
        return {"object": self.key, "workflow": self.workflow, "runs_started": self.runs_started,
                "runs_completed": self.runs_completed, "runs_failed": self.runs_failed, "jobs": self.jobs,
                "jobs_failed": self.jobs_failed, "pods": self.pods, "container_restarts": self.container_restarts,
                "works_changed": self.works_changed, "conditions": dict(sorted(self.conditions.items())),
                "state": self.state}


class RunSummary:
    """A trace sink that keeps counts per object and the notable events."""

    def __init__(self) -> None:
        self.objects: dict[str, ObjectSummary] = {}
        self.timeline: list[Event] = []
        self.timeline_dropped = 0
        self.events = 0
        self.last_t: float = 0
        self.restarts = 0
        self.container_executions = 0
        self.waiting: set[str] = set()  # resources whose last reconcile waited for their Promise

    def _starts_waiting(self, event: Event) -> bool:
        """The first of a resource's reconciles that wait for its Promise (W13), until one goes on."""
        if event["event"] != "reconcile":
            return False
        key = str(event.get("object"))
        if event.get("reason") != "waiting-for-promise":
            self.waiting.discard(key)
            return False
        first = key not in self.waiting
        self.waiting.add(key)
        return first

    def _obj(self, event: Event) -> ObjectSummary | None:
        key = event.get("object")
        if key is None:
            return None
        summary = self.objects.get(key)
        if summary is None:
            summary = ObjectSummary(key, "promise" if key.startswith("promise/") else "resource")
            self.objects[key] = summary
        return summary

    def __call__(self, event: Event) -> None:
        self.events += 1
        self.last_t = event["t"]
        name = event["event"]
        if notable(event) or self._starts_waiting(event):
            if len(self.timeline) < TIMELINE_LIMIT:
                self.timeline.append(event)
            else:
                self.timeline_dropped += 1
        if name == "controller_stopped":
            self.restarts += 1
        obj = self._obj(event)
        if obj is None:
            return
        if name == "job_created":
            obj.jobs += 1
            if event.get("action") == "configure" and event.get("pipeline_index") == 0:
                obj.runs_started += 1
        elif name == "job_failed":
            obj.jobs_failed += 1
        elif name == "pod_created":
            obj.pods += 1
        elif name == "container_started":
            self.container_executions += 1
            if event.get("attempt", 1) > 1:
                obj.container_restarts += 1
        elif name == "work_written" and event.get("changed"):
            obj.works_changed += 1
        elif name == "condition_set":
            obj.conditions[event["type"]] = f"{event['status']}/{event['reason']}"
            if event["type"] == "ConfigureWorkflowCompleted":
                if event["status"] == "True":
                    obj.runs_completed += 1
                elif event["reason"] == "ConfigureWorkflowFailed":
                    obj.runs_failed += 1
            if event["type"] == "DeleteWorkflowCompleted":
                obj.delete_failed = event["reason"] == "DeleteWorkflowFailed"
        elif name == "delete_requested":
            obj.delete_requested = True
        elif name == "object_removed":
            obj.removed = True

    def metrics(self) -> dict[str, Any]:
        objects = list(self.objects.values())
        return {
            "simulated_s": self.last_t,
            "events": self.events,
            "objects": len(objects),
            "runs_started": sum(o.runs_started for o in objects),
            "runs_completed": sum(o.runs_completed for o in objects),
            "runs_failed": sum(o.runs_failed for o in objects),
            "jobs": sum(o.jobs for o in objects),
            "jobs_failed": sum(o.jobs_failed for o in objects),
            "pods": sum(o.pods for o in objects),
            "container_executions": self.container_executions,
            "container_restarts": sum(o.container_restarts for o in objects),
            "controller_restarts": self.restarts,
            "stuck_deletes": sum(1 for o in objects if o.state.startswith("delete stuck")),
        }

    def to_json(self, header: Event) -> dict[str, Any]:
        return {
            "scenario": header.get("scenario"), "seed": header.get("seed"), "profile": header.get("profile"),
            "objects": [o.to_json() for _, o in sorted(self.objects.items())],
            "timeline": self.timeline, "timeline_dropped": self.timeline_dropped, "metrics": self.metrics(),
        }

    def render_text(self, header: Event, horizon_s: float | None = None) -> str:
        simulated = format_duration(float(self.last_t if horizon_s is None else horizon_s))
        lines = [f"scenario {header.get('scenario')}  seed {header.get('seed')}  profile {header.get('profile')}  "
                 f"simulated {simulated}", ""]
        rows = [o.row() for _, o in sorted(self.objects.items())]
        lines.append(tabulate(rows, headers=["object", "runs", "completed", "failed", "jobs", "pods", "restarts",
                                             "final state"]))
        lines += ["", "timeline (notable events):"]
        for event in self.timeline:
            lines.append(f"  {format_duration(float(event['t'])):>12}  {_describe(event)}")
        if self.timeline_dropped:
            lines.append(f"  ... {self.timeline_dropped} more (see --trace)")
        lines += ["", tabulate(sorted(self.metrics().items()), headers=["metric", "value"])]
        return "\n".join(lines)


def _describe(event: Event) -> str:
    name = event["event"]
    obj = event.get("object", "")
    if name == "fault_injected":
        return f"fault {event.get('reason')}" + (f" on {obj}" if obj else "")
    if name in ("job_failed", "job_suspended"):
        return f"{name.replace('_', ' ')}: {obj} pipeline {event.get('pipeline')} ({event.get('reason', '')})"
    if name == "job_created":
        return f"{event.get('action')} run started: {obj} (Job for pipeline {event.get('pipeline')})"
    if name == "container_exited":
        return (f"container {event.get('container')} of {obj} pipeline {event.get('pipeline')} exited "
                f"{event.get('exit_code')}" + (f" ({event['reason']})" if event.get("reason") else ""))
    if name == "condition_set" and event.get("type") == "PromiseAvailable":
        why = "its Promise cannot fulfil it: waits, re-checked every 60 s" if event.get("status") == "False" else \
            "its Promise can fulfil it again"
        return f"{obj} PromiseAvailable={event.get('status')} ({why}, W13)"
    if name == "condition_set":
        return f"{obj} {event.get('type')}={event.get('status')} ({event.get('reason')})"
    if name == "event_recorded":
        return f"{event.get('type')} {event.get('reason')} on {obj}: {event.get('message')}"
    if name == "status_updated":
        status = event["fields"]["status"]
        why = "its configure workflow runs or failed: its resources wait" if status == "Unavailable" else \
            "its resources may run"
        return f"{obj} {status} ({why}, W13)"
    if name == "reconcile":
        return f"{obj} waits for its Promise (W13)"
    if name == "object_created":
        return f"created {obj}"
    return f"{name.replace('_', ' ')}" + (f" {obj}" if obj else "")
