"""Numbers a report shows for one run, computed from its trace alone.

``sim.summary.RunSummary`` gives the per-object counts (runs, Jobs, pods, restarts, final state); this adds
convergence times (the liveness check's notion of converged), runs per object per day, Job back-off retries,
queue latency and the bars of the timeline plot.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from conformance.liveness import _apply, _State
from conformance.report.model import JobBar, JobState, Mark, MetricValue, ObjectMetrics, PodBar, Timeline
from sim.summary import RunSummary
from sim.trace import Event, Trace

DAY_S = 86400.0
MAX_JOB_BARS = 600
MAX_POD_BARS = 1200
MAX_MARKS = 400
# A controller reconcile answers these: the time from one to the next ``reconcile`` of the object is the
# queue latency (work queue wait, K1's Job creation hold, controller downtime).
TRIGGERS = frozenset({"object_created", "spec_updated", "label_set", "label_removed", "delete_requested",
                      "job_completed", "job_failed", "job_suspended", "job_deleted"})
_ENDED: dict[str, JobState] = {"job_completed": "complete", "job_failed": "failed", "job_suspended": "suspended"}


@dataclass(frozen=True)
class MetricInfo:
    name: str
    description: str
    unit: str = ""
    better: str = "neutral"  # "lower": an increase is a regression; "neutral": a change is only reported


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("simulated_s", "simulated time, heal period included", "s"),
    MetricInfo("events", "trace events"),
    MetricInfo("objects", "Promises and resources seen"),
    MetricInfo("runs_started", "configure runs started (a Job for pipeline 0)"),
    MetricInfo("runs_completed", "configure runs completed"),
    MetricInfo("runs_failed", "configure runs that failed", better="lower"),
    MetricInfo("jobs", "Jobs created", better="lower"),
    MetricInfo("jobs_failed", "Jobs failed (BackoffLimitExceeded)", better="lower"),
    MetricInfo("pods", "pods created", better="lower"),
    MetricInfo("pod_retries", "pods beyond the first of each Job", better="lower"),
    MetricInfo("container_executions", "container executions"),
    MetricInfo("container_restarts", "in-place container restarts", better="lower"),
    MetricInfo("retries", "pod_retries + container_restarts", better="lower"),
    MetricInfo("controller_restarts", "controller stops (faults)"),
    MetricInfo("stuck_deletes", "objects left in delete stuck (D4)", better="lower"),
    MetricInfo("runs_per_object_per_day_max", "the highest per-object rate of runs per day", "/day", "lower"),
    MetricInfo("runs_per_object_per_day_mean", "the mean per-object rate of runs per day", "/day", "lower"),
    MetricInfo("time_to_converge_s", "from the last fault until every object is converged (null: never)", "s",
               "lower"),
    MetricInfo("queue_latency_mean_s", "mean time from a trigger to the object's next reconcile", "s", "lower"),
    MetricInfo("queue_latency_max_s", "longest time from a trigger to the object's next reconcile", "s", "lower"),
)
METRICS_BY_NAME: dict[str, MetricInfo] = {m.name: m for m in METRICS}


def object_order(key: str) -> tuple[bool, list[tuple[int, str]]]:
    """Promises first, then resources in natural order (team-2 before team-10)."""
    return (not key.startswith("promise/"),
            [(int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"(\d+)", key)])


def _r(value: float) -> float:
    """Rounded to the millisecond (the trace's resolution), as JSON-friendly numbers."""
    rounded = round(value, 3)
    return int(rounded) if rounded == int(rounded) else rounded


@dataclass
class _JobTrack:
    object: str
    action: str
    pipeline: str
    index: int
    start: float
    end: float | None = None
    state: JobState = "running"
    pods: list[str] = field(default_factory=list)


@dataclass
class _PodTrack:
    object: str
    job: str
    attempt: int
    start: float
    last_t: float
    running: bool = False
    failed: bool = False


@dataclass
class RunMetrics:
    totals: dict[str, MetricValue]
    objects: list[ObjectMetrics]
    timeline: Timeline


def _converged_times(events: list[Event], last_fault: float) -> tuple[dict[str, float], dict[str, float]]:
    """Per object: the first converged instant after creation, and the first at or after max(last fault,
    creation). Converged is the liveness check's notion (conformance.liveness) with nothing waiting for the
    controller: a trigger (a label, a spec change, a Job ending, a controller stop) not yet followed by a
    reconcile of the object means the object has not reacted yet."""
    states: dict[str, _State] = {}
    created: dict[str, float] = {}
    pending: set[str] = set()
    removed: set[str] = set()  # converged for good: a controller stop does not wake them
    first: dict[str, float] = {}
    after_fault: dict[str, float] = {}
    i = 0
    while i < len(events):
        t = float(events[i]["t"])
        while i < len(events) and float(events[i]["t"]) == t:  # one whole instant
            event = events[i]
            name, key = event["event"], event.get("object")
            if name == "controller_stopped":
                pending.update(key for key in states if key not in removed)
            if key is not None:
                created.setdefault(key, t)
                _apply(states.setdefault(key, _State()), event)
                if name == "object_removed":
                    removed.add(key)
                if name == "reconcile" or name == "object_removed":
                    pending.discard(key)
                elif name in TRIGGERS:
                    pending.add(key)
            i += 1
        for key, state in states.items():
            if (key in first and key in after_fault) or key in pending or not state.converged():
                continue
            first.setdefault(key, t)
            if t >= max(last_fault, created[key]):
                after_fault.setdefault(key, t)
    return ({k: v - created[k] for k, v in first.items()},
            {k: v - max(last_fault, created[k]) for k, v in after_fault.items()})


def _queue_latencies(events: Iterable[Event]) -> list[float]:
    pending: dict[str, list[float]] = {}
    latencies: list[float] = []
    for event in events:
        key = event.get("object")
        if key is None:
            continue
        name = event["event"]
        if name == "reconcile":
            latencies.extend(float(event["t"]) - t for t in pending.pop(key, []))
        elif name in TRIGGERS:
            pending.setdefault(key, []).append(float(event["t"]))
        elif name == "object_removed":
            pending.pop(key, None)
    return latencies


def run_metrics(trace: Trace, last_fault: float | None = None) -> RunMetrics:
    """Totals, per-object metrics and the timeline of one trace."""
    events = trace.events
    summary = RunSummary()
    for event in events:
        summary(event)
    end_t = float(events[-1]["t"]) if events else 0.0
    if last_fault is None:
        last_fault = max((float(e["t"]) for e in events if e["event"] == "fault_injected"), default=0.0)

    created: dict[str, float] = {}
    removed: dict[str, float] = {}
    runs_by_day: dict[str, dict[int, int]] = {}
    jobs: dict[str, _JobTrack] = {}
    pods: dict[str, _PodTrack] = {}
    marks: list[Mark] = []
    for event in events:
        name, t, key = event["event"], float(event["t"]), event.get("object")
        if key is not None:
            created.setdefault(key, t)
        if name == "object_removed" and key is not None:
            removed[key] = t
        elif name == "job_created" and key is not None:
            jobs[event["job"]] = _JobTrack(key, str(event.get("action", "")), str(event.get("pipeline", "")),
                                           int(event.get("pipeline_index", 0)), t)
            if event.get("action") == "configure" and event.get("pipeline_index") == 0:
                day = runs_by_day.setdefault(key, {})
                day[int(t // DAY_S)] = day.get(int(t // DAY_S), 0) + 1
        elif name in _ENDED and event.get("job") in jobs:
            job = jobs[event["job"]]
            if job.end is None:
                job.end, job.state = t, _ENDED[name]
            if name == "job_failed":
                marks.append(Mark(t=t, kind="failure", object=key, label=f"Job {job.pipeline} failed"))
        elif name == "job_deleted" and event.get("job") in jobs:
            job = jobs[event["job"]]
            if job.end is None:
                job.end, job.state = t, "deleted"
        elif name == "pod_created" and key is not None:
            pods[event["pod"]] = _PodTrack(key, str(event.get("job", "")), int(event.get("attempt", 1)), t, t)
            if event.get("job") in jobs:
                jobs[event["job"]].pods.append(event["pod"])
        elif name in ("container_started", "container_exited") and event.get("pod") in pods:
            pod = pods[event["pod"]]
            pod.last_t, pod.running = t, name == "container_started"
            if name == "container_exited" and event.get("exit_code", 0) != 0 and event.get("reason") != "Killed":
                pod.failed = True
                marks.append(Mark(t=t, kind="failure", object=key,
                                  label=f"{event.get('container')} exited {event.get('exit_code')}"))
        elif name == "fault_injected":
            marks.append(Mark(t=t, kind="fault", object=key, label=str(event.get("reason", "fault"))))
        elif name == "controller_stopped":
            marks.append(Mark(t=t, kind="restart", label="controller stopped"))

    first_converged, to_converge = _converged_times(events, last_fault)
    latencies = _queue_latencies(events)
    objects: list[ObjectMetrics] = []
    for key, obj in sorted(summary.objects.items(), key=lambda kv: object_order(kv[0])):
        life_days = max((removed.get(key, end_t) - created.get(key, 0.0)) / DAY_S, 1.0)
        days = runs_by_day.get(key, {})
        n_days = max(1, math.ceil(end_t / DAY_S)) if end_t > 0 else 1
        own_jobs = [j for j in jobs.values() if j.object == key]
        objects.append(ObjectMetrics(
            object=key, workflow=obj.workflow, state=obj.state, runs_started=obj.runs_started,
            runs_completed=obj.runs_completed, runs_failed=obj.runs_failed, jobs=obj.jobs,
            jobs_failed=obj.jobs_failed, pods=obj.pods,
            pod_retries=sum(max(0, len(j.pods) - 1) for j in own_jobs),
            container_restarts=obj.container_restarts, runs_per_day=_r(obj.runs_started / life_days),
            runs_by_day=[days.get(d, 0) for d in range(n_days)],
            first_converged_s=_r(first_converged[key]) if key in first_converged else None,
            time_to_converge_s=_r(to_converge[key]) if key in to_converge else None,
        ))

    base = summary.metrics()
    totals: dict[str, MetricValue] = {name: base[name] for name in (
        "simulated_s", "events", "objects", "runs_started", "runs_completed", "runs_failed", "jobs", "jobs_failed",
        "pods") if name in base}
    totals["simulated_s"] = _r(end_t)
    pod_retries = sum(o.pod_retries for o in objects)
    totals.update({
        "pod_retries": pod_retries,
        "container_executions": base["container_executions"],
        "container_restarts": base["container_restarts"],
        "retries": pod_retries + base["container_restarts"],
        "controller_restarts": base["controller_restarts"],
        "stuck_deletes": base["stuck_deletes"],
        "runs_per_object_per_day_max": max((o.runs_per_day for o in objects), default=0),
        "runs_per_object_per_day_mean": _r(sum(o.runs_per_day for o in objects) / len(objects)) if objects else 0,
        "time_to_converge_s": (_r(max((o.time_to_converge_s or 0.0) for o in objects))
                               if all(o.time_to_converge_s is not None for o in objects) else None),
        "queue_latency_mean_s": _r(sum(latencies) / len(latencies)) if latencies else 0,
        "queue_latency_max_s": _r(max(latencies)) if latencies else 0,
    })
    return RunMetrics(totals, objects, _timeline(end_t, [o.object for o in objects], jobs, pods, marks))


def _timeline(end_t: float, objects: list[str], jobs: dict[str, _JobTrack], pods: dict[str, _PodTrack],
              marks: list[Mark]) -> Timeline:
    job_end = {name: (j.end if j.end is not None else end_t) for name, j in jobs.items()}
    job_bars = [JobBar(object=j.object, action=j.action, pipeline=j.pipeline, pipeline_index=j.index,
                       start=j.start, end=job_end[name], state=j.state) for name, j in jobs.items()]
    pod_bars = []
    for pod in pods.values():
        # A pod with a container still running ends with its Job (or the trace); else at its last exit.
        end = min(job_end.get(pod.job, end_t), end_t) if pod.running else pod.last_t
        pod_bars.append(PodBar(object=pod.object, job=pod.job, attempt=pod.attempt, start=pod.start,
                               end=max(end, pod.start), failed=pod.failed))
    dropped = (max(0, len(job_bars) - MAX_JOB_BARS) + max(0, len(pod_bars) - MAX_POD_BARS)
               + max(0, len(marks) - MAX_MARKS))
    return Timeline(end_s=_r(end_t), objects=objects, jobs=job_bars[:MAX_JOB_BARS], pods=pod_bars[:MAX_POD_BARS],
                    marks=marks[:MAX_MARKS], truncated=dropped)
