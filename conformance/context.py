"""What a checker reads: a trace, indexed, plus what is known of its configuration.

Built from the trace alone (and, when given, the scenario's Promise for pipeline names and order). Imports
nothing from the simulator's runtime, so it judges traces from any source: the reference engine, a user's
engine, an imported cluster history. Where a rule needs configuration the trace does not carry, checkers
answer ``unknown``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance.verdict import Verdict
from sim.profiles import PROFILES, Profile

Event = dict[str, Any]
NEIGHBOURS = 3


@dataclass
class PodInfo:
    name: str
    job: str
    created: Event
    steps: list[Event] = field(default_factory=list)  # container_started / container_exited, in order


@dataclass
class JobInfo:
    name: str
    object: str
    workflow: str
    action: str
    pipeline: str
    pipeline_index: int
    hash: str
    created: Event
    backoff_limit: int | None
    restart_policy: str | None
    ended: Event | None = None  # job_completed / job_failed / job_suspended
    deleted: Event | None = None
    suspend_requested: Event | None = None
    pods: list[PodInfo] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.ended is None:
            return "running"
        return {"job_completed": "complete", "job_failed": "failed", "job_suspended": "suspended"}[self.ended["event"]]

    def end_seq(self) -> int | None:
        """Seq at which the Job stopped running (ended or deleted), or None."""
        seqs = [e["seq"] for e in (self.ended, self.deleted) if e is not None]
        return min(seqs) if seqs else None

    def running_at(self, seq: int) -> bool:
        end = self.end_seq()
        return self.created["seq"] < seq and (end is None or end > seq)


@dataclass(frozen=True)
class Evidence:
    """What an imported trace lacks (header ``evidence``, docs/cluster-import.md): ``missing`` are gaps of this
    export (Jobs pruned, events expired, no objects file...), ``unrecorded`` what no cluster keeps (label and
    condition history, controller restarts...). ``gaps`` maps the code of each to a sentence; ``complete``: the
    trace lacks nothing (every simulated trace)."""

    complete: bool = True
    gaps: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, header: Event) -> Evidence:
        evidence = header.get("evidence")
        if not isinstance(evidence, dict):
            return cls()
        gaps: dict[str, str] = {}
        for part in ("missing", "unrecorded"):
            for item in evidence.get(part) or []:
                if isinstance(item, dict) and isinstance(item.get("what"), str):
                    gaps.setdefault(item["what"], str(item.get("detail", item["what"])))
        return cls(not gaps, gaps)

    def missing(self, *codes: str) -> str | None:
        """What of ``codes`` the trace lacks, as one sentence; None when it has all of them."""
        found = [self.gaps[code] for code in codes if code in self.gaps]
        return "; ".join(found) if found else None


PipelineNames = dict[tuple[str, str], tuple[str, ...]]


@dataclass(frozen=True)
class Pipelines:
    """Pipeline names in order, per (workflow, action), when the Promise is known; ``versions`` has them for
    each spec hash the Promise object had during the run, when a Promise update changed them."""

    names: PipelineNames
    versions: dict[str, PipelineNames] = field(default_factory=dict)

    def of(self, workflow: str, action: str, promise_hash: str | None = None) -> tuple[str, ...]:
        """The names of the Promise version with ``promise_hash`` when known, else of the Promise as given."""
        names = self.versions.get(promise_hash, self.names) if promise_hash is not None else self.names
        return names.get((workflow, action), ())


class CheckContext:
    def __init__(self, header: Event, events: list[Event], pipelines: Pipelines | None = None) -> None:
        self.header = header
        self.events = events
        self.pipelines = pipelines
        self.profile: Profile | None = PROFILES.get(str(header.get("profile", "")))
        self.evidence = Evidence.of(header)
        config = header.get("config") or {}
        self.interval_s: float | None = config.get("reconciliationInterval_s")
        self.reconcile_after_failure: bool | None = config.get("reconcileAfterFailure")
        self.jobs_to_keep: int | None = config.get("numberOfJobsToKeep")
        self.index_of: dict[int, int] = {}
        self.by_object: dict[str, list[Event]] = {}
        self.jobs: dict[str, JobInfo] = {}
        self.jobs_by_object: dict[str, list[JobInfo]] = {}
        self.pods: dict[str, PodInfo] = {}
        self.controller_events: list[Event] = []
        self.faults: list[Event] = []
        # built on first use: a Job's events, and per object its label and condition changes by seq (bisected,
        # so a question about one moment does not scan the object's whole history)
        self._job_events: dict[str, list[Event]] | None = None
        self._labels: dict[str, tuple[list[int], list[frozenset[str]]]] = {}
        self._changes: dict[tuple[str, str], tuple[list[int], list[Event]]] = {}  # (object, what) -> its events
        self._index()

    def _index(self) -> None:
        for i, event in enumerate(self.events):
            self.index_of[event["seq"]] = i
            name = event["event"]
            key = event.get("object")
            if key is not None:
                self.by_object.setdefault(key, []).append(event)
            if name in ("controller_started", "controller_stopped"):
                self.controller_events.append(event)
            elif name == "fault_injected":
                self.faults.append(event)
            elif name == "job_created":
                job = JobInfo(event["job"], key or "", event.get("workflow", ""), event.get("action", ""),
                              event.get("pipeline", ""), event.get("pipeline_index", -1), event.get("hash", ""),
                              event, event.get("backoff_limit"), event.get("restart_policy"))
                self.jobs[job.name] = job
                self.jobs_by_object.setdefault(job.object, []).append(job)
            elif name in ("job_completed", "job_failed", "job_suspended"):
                info = self.jobs.get(event.get("job", ""))
                if info is not None and info.ended is None:
                    info.ended = event
            elif name == "job_deleted":
                info = self.jobs.get(event.get("job", ""))
                if info is not None:
                    info.deleted = event
            elif name == "job_suspend_requested":
                info = self.jobs.get(event.get("job", ""))
                if info is not None and info.suspend_requested is None:
                    info.suspend_requested = event
            elif name == "pod_created":
                pod = PodInfo(event["pod"], event.get("job", ""), event)
                self.pods[pod.name] = pod
                info = self.jobs.get(pod.job)
                if info is not None:
                    info.pods.append(pod)
            elif name in ("container_started", "container_exited"):
                pod_info = self.pods.get(event.get("pod", ""))
                if pod_info is not None:
                    pod_info.steps.append(event)

    # -- helpers for checkers ------------------------------------------------------------------------
    def neighbours(self, event: Event, n: int = NEIGHBOURS) -> tuple[Event, ...]:
        i = self.index_of.get(event["seq"], 0)
        return tuple(self.events[max(0, i - n): i + n + 1])

    def fail(self, rule: str, event: Event, message: str, category: str = "safety") -> Verdict:
        return Verdict(rule, "fail", message, event, self.neighbours(event), category)  # type: ignore[arg-type]

    def after(self, event: Event) -> Iterator[Event]:
        """Events strictly after ``event``."""
        i = self.index_of[event["seq"]]
        return iter(self.events[i + 1:])

    def controller_up_at(self, seq: int) -> bool:
        up = False
        for event in self.controller_events:
            if event["seq"] > seq:
                break
            up = event["event"] == "controller_started"
        return up

    def restarts_between(self, seq_from: int, seq_to: int) -> list[Event]:
        """``controller_started`` events after a stop, strictly between two seqs."""
        return [e for e in self.controller_events
                if e["event"] == "controller_started" and seq_from < e["seq"] < seq_to and e["seq"] != 1
                and self._follows_stop(e)]

    def _follows_stop(self, started: Event) -> bool:
        before = [e for e in self.controller_events if e["seq"] < started["seq"]]
        return bool(before) and before[-1]["event"] == "controller_stopped"

    def fault_at(self, t: float, kind: str, obj: str | None = None) -> bool:
        """Did a scenario fault of ``kind`` (on ``obj``) fire at time ``t``?"""
        return any(f["t"] == t and f.get("reason") == kind and (obj is None or f.get("object") in (obj, None))
                   for f in self.faults)

    def header_promise(self, job: JobInfo) -> str:
        """The Promise name of a Job's object (from its Job labels in the trace, else the object key)."""
        return str(job.created.get("promise", "")) or self.promise_of(job.object)

    def promise_of(self, obj: str) -> str:
        if obj.startswith("promise/"):
            return obj.split("/", 1)[1]
        promises = sorted(k.split("/", 1)[1] for k in self.by_object if k.startswith("promise/"))
        return promises[0] if len(promises) == 1 else ""

    def configure_jobs(self, obj: str) -> list[JobInfo]:
        return [j for j in self.jobs_by_object.get(obj, []) if j.action == "configure"]

    def job_events(self, job: JobInfo) -> list[Event]:
        """Every event naming the Job (creation, pods, steps, suspension, end, deletion), in trace order."""
        if self._job_events is None:
            self._job_events = {}
            for event in self.events:
                name = event.get("job")
                if isinstance(name, str):
                    self._job_events.setdefault(name, []).append(event)
        return [e for e in self._job_events.get(job.name, []) if e.get("object") == job.object]

    def first_past(self, event: Event, t: float) -> Event | None:
        """The first event after ``event`` whose time is later than ``t`` (None if the trace ends first)."""
        return next((e for e in self.after(event) if float(e.get("t", 0)) > t), None)

    def existing_at(self, seq: int) -> list[str]:
        """Objects created before ``seq`` and not removed before it, in creation order."""
        alive: dict[str, None] = {}
        for event in self.events:
            if event["seq"] >= seq:
                break
            key = event.get("object")
            if key is None:
                continue
            if event["event"] == "object_created":
                alive[key] = None
            elif event["event"] == "object_removed":
                alive.pop(key, None)
        return list(alive)

    # -- object state at a point of the trace (W checkers) -------------------------------------------------
    def _latest_before(self, obj: str, what: str, wanted: Callable[[Event], bool], seq: int) -> Event | None:
        """The newest ``wanted`` event of ``obj`` strictly before ``seq``; ``what`` names the kind of event for
        the index, built once per object and kind."""
        key = (obj, what)
        if key not in self._changes:
            changes = [e for e in self.by_object.get(obj, []) if wanted(e)]
            self._changes[key] = ([e["seq"] for e in changes], changes)
        seqs, changes = self._changes[key]
        before = bisect_left(seqs, seq)
        return changes[before - 1] if before else None

    def condition_before(self, obj: str, type_: str, seq: int) -> Event | None:
        """The newest ``condition_set`` of ``type_`` on ``obj`` strictly before ``seq`` (its state just then)."""
        return self._latest_before(obj, f"condition {type_}",
                                   lambda e: e["event"] == "condition_set" and e.get("type") == type_, seq)

    def spec_hash_before(self, obj: str, seq: int) -> str | None:
        """The spec hash ``obj`` had just before ``seq`` (from its ``object_created`` / ``spec_updated``)."""
        change = self._latest_before(obj, "spec", lambda e: e["event"] in ("object_created", "spec_updated")
                                     and isinstance(e.get("hash"), str), seq)
        return None if change is None else str(change["hash"])

    def labels_before(self, obj: str, seq: int) -> set[str]:
        """The labels ``obj`` carried just before ``seq`` (from its ``label_set`` / ``label_removed`` events)."""
        if obj not in self._labels:
            seqs: list[int] = []
            states: list[frozenset[str]] = []
            labels: set[str] = set()
            for event in self.by_object.get(obj, []):
                if event["event"] == "label_set":
                    labels.add(str(event.get("label")))
                elif event["event"] == "label_removed":
                    labels.discard(str(event.get("label")))
                else:
                    continue
                seqs.append(event["seq"])
                states.append(frozenset(labels))
            self._labels[obj] = (seqs, states)
        seqs, states = self._labels[obj]
        before = bisect_left(seqs, seq)
        return set(states[before - 1]) if before else set()

    def promise_key(self, obj: str) -> str | None:
        """``promise/<name>`` of an object (itself for a Promise); None when the trace cannot tell."""
        name = self.promise_of(obj)
        return f"promise/{name}" if name else None

    @property
    def end_t(self) -> float:
        return float(self.events[-1]["t"]) if self.events else 0.0
