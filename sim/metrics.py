"""Run metrics computed from trace events as they stream by (no trace is kept): the numbers a sweep reports.

``StreamingMetrics`` is a trace sink (``Simulation(..., sinks=[metrics])``); ``finish(end_s)`` closes the
open intervals at the horizon and returns ``{name: value}``. Memory grows with the number of objects and the
number of *distinct* latencies (kept as exact integer-millisecond counts), never with the number of events.
Definitions (also in docs/experiments.md) are in ``METRICS``. Values are ints (counts), floats, or ``None``
where a metric has no sample (no Promise update to fan out, one completed run only, ...).
"""

from __future__ import annotations

import math
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sim.cluster.objects import MANUAL_LABEL, RECONCILE_RESOURCES_LABEL, RUN_FROM_START_LABEL
from sim.durations import parse_duration
from sim.trace import Event

Value = int | float | None

DAY_MS = 86_400_000
CONFIGURE_COMPLETED = "ConfigureWorkflowCompleted"
DELETE_COMPLETED = "DeleteWorkflowCompleted"
RECONCILED = "Reconciled"

# Events after which Kubernetes would wake the controller for the object (sim.cluster.api calls notify()).
WATCH_EVENTS = frozenset({
    "object_created", "spec_updated", "label_set", "label_removed", "finalizers_added", "finalizer_removed",
    "delete_requested", "condition_set", "status_updated", "phases_set", "status_merged", "job_created",
    "job_completed", "job_failed", "job_suspended", "job_deleted",
})
# Labels that start a configure run from pipeline 0 (W5): manual reconciliation (also set by the interval,
# W9) and run-from-start (Promise update fan-out W12, unpause).
RUN_LABELS = frozenset({MANUAL_LABEL, RUN_FROM_START_LABEL})

METRICS: dict[str, str] = {
    "runs": "configure runs started (Jobs for pipeline 0 of a configure workflow), Promise and resources",
    "runs_per_object_day": "runs / object_days",
    "jobs": "Jobs created (every pipeline, configure and delete)",
    "jobs_per_object_day": "jobs / object_days",
    "jobs_completed": "Jobs that completed (condition Complete)",
    "jobs_failed": "Jobs that failed (BackoffLimitExceeded, J1)",
    "jobs_suspended": "Jobs suspended (W6, J4)",
    "jobs_finished": "jobs_completed + jobs_failed",
    "job_failure_fraction": "jobs_failed / jobs_finished (Jobs still running at the horizon do not count)",
    "pods": "pod executions (pods created)",
    "container_executions": "container executions, Kratix's own steps (reader, work-writer, status-writer) "
                            "included",
    "stuck_deletes": "objects whose deletion was asked, whose delete workflow failed (D4) and that still "
                     "exist at the horizon",
    "objects_removed": "objects whose deletion completed",
    "convergence_p50_s": "median time from a trigger (created, spec changed, manual or run-from-start label) "
                         "to ConfigureWorkflowCompleted=True of a run started after it",
    "convergence_p95_s": "95th percentile of the same",
    "convergence_max_s": "maximum of the same",
    "convergence_mean_s": "mean of the same",
    "unconverged": "objects with a trigger still not converged at the horizon",
    "queue_latency_mean_s": "mean time from the first change to an object the controller has not looked at "
                            "yet (a watch event) to the object's next reconcile",
    "queue_latency_p95_s": "95th percentile of the same",
    "queue_latency_max_s": "maximum of the same",
    "state_store_writes": "Works written to the state store (work_written, changed or not)",
    "state_store_changes": "Works written with new content, plus Works deleted",
    "reconciled_fraction": "time-weighted mean over the horizon of the fraction of live objects with "
                           "Reconciled=True",
    "reconciled_fraction_end": "that fraction at the horizon",
    "drift_window_mean_s": "expected time a drift made at a random moment waits for the next completed "
                           "configure run of its object (sum of g^2 / 2 sum of g over the gaps g between "
                           "consecutive completed runs of each object)",
    "drift_window_max_s": "longest gap between consecutive completed configure runs of one object",
    "fanout_s": "time from a Promise update (spec change or kratix.io/reconcile-resources) until every "
                "resource that existed when the Promise's own configure run completed has completed a "
                "configure run started after that (W12); the mean over the updates that finished",
    "fanouts_incomplete": "Promise updates whose fan-out had not finished at the horizon (or was superseded)",
    "object_days": "the sum over objects of the time each existed within the horizon, in days",
    "controller_restarts": "controller stops (faults)",
}
SAMPLED_PREFIX = "reconciled_fraction@"  # reconciled_fraction@6h: the fraction at simulated time 6h
_SAMPLED = re.compile(re.escape(SAMPLED_PREFIX) + r"(?P<at>.+)$")


def sampled_time_s(name: str) -> float | None:
    """The time of a ``reconciled_fraction@<duration>`` metric; None for other names; ValueError if bad."""
    match = _SAMPLED.match(name)
    if match is None:
        return None
    return parse_duration(match["at"])


def check_metric_name(name: str) -> None:
    """Raise ValueError naming the accepted metrics when ``name`` is not one."""
    if name in METRICS:
        return
    if name.startswith(SAMPLED_PREFIX):
        try:
            sampled_time_s(name)
        except ValueError as exc:
            raise ValueError(f"metric {name!r}: {exc}") from exc
        return
    raise ValueError(f"unknown metric {name!r}; accepted: {', '.join(METRICS)}, {SAMPLED_PREFIX}<duration>")


def int_ratio(numerator: int, denominator: int) -> float:
    """``numerator / denominator`` rounded once, as CPython divides ints. The compiled core's native ``/``
    (sim/native.py) turns both into floats first, which rounds twice once a sum passes 2**53 (sums of squared
    millisecond gaps do within weeks)."""
    quotient: float = operator.truediv(numerator, denominator)
    return quotient


def _ms(t: float) -> int:
    return round(t * 1000)


def _seconds(ms: float) -> float:
    return ms / 1000


class Distribution:
    """Exact quantiles of integer-millisecond samples, kept as counts of distinct values."""

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()
        self.n = 0
        self.total = 0

    def add(self, ms: int) -> None:
        self.counts[ms] += 1
        self.n += 1
        self.total += ms

    def quantile_s(self, q: float) -> float | None:
        """Nearest rank: the smallest sample with at least ``q`` of the samples at or below it."""
        if not self.n:
            return None
        rank = max(1, math.ceil(q * self.n))
        seen = 0
        for value in sorted(self.counts):
            seen += self.counts[value]
            if seen >= rank:
                return _seconds(value)
        raise AssertionError("unreachable")

    def max_s(self) -> float | None:
        return _seconds(max(self.counts)) if self.n else None

    def mean_s(self) -> float | None:
        return int_ratio(self.total, self.n) / 1000 if self.n else None


@dataclass(slots=True)
class _Object:
    created_ms: int
    is_promise: bool
    reconciled: bool = False
    trigger_ms: int | None = None  # earliest trigger not yet converged
    run_since_trigger: bool = False  # a pipeline-0 configure Job was created after the newest trigger
    watch_ms: int | None = None  # first watch event since the last reconcile
    last_completion_ms: int | None = None
    delete_requested: bool = False
    delete_failed: bool = False


@dataclass(slots=True)
class _Fanout:
    start_ms: int
    promise_run_started: bool = False
    waiting: set[str] | None = None  # resources still to re-run, once the Promise's run completed
    started: set[str] = field(default_factory=set)


class StreamingMetrics:
    """A trace sink computing ``METRICS`` (and ``reconciled_fraction@T`` samples) in one pass."""

    def __init__(self, sample_at_s: Iterable[float] = ()) -> None:
        self.objects: dict[str, _Object] = {}
        self._events: dict[str, int] = {}  # events seen, by name (a plain dict: one update per event)
        self._derived: Counter[str] = Counter()  # jobs, runs, state_store_changes, objects_removed
        self.convergence = Distribution()
        self.queue_latency = Distribution()
        self.object_ms = 0  # lifetimes of removed objects
        self.last_ms = 0
        self.live = 0
        self.reconciled = 0
        self.fraction_ms = 0.0  # integral of reconciled/live over time (ms)
        self.covered_ms = 0  # time with at least one live object
        self.gap_sum_ms = 0
        self.gap_sq_sum_ms = 0
        self.gap_max_ms: int | None = None
        self.fanout: _Fanout | None = None
        self.fanouts_ms: list[int] = []
        self.fanouts_incomplete = 0
        self.samples_ms = sorted({_ms(t) for t in sample_at_s})
        self.sampled: dict[int, float | None] = {}
        self._next_sample = 0
        self._samples = len(self.samples_ms)
        self.finished: dict[str, Value] | None = None
        self._t: float | None = None  # ``t`` of the last event seen, and it in ms
        self._now = 0
        self._handlers = self._handler_table()

    @property
    def counts(self) -> Counter[str]:
        """Events seen by name, plus the derived counts (jobs, runs, state_store_changes, objects_removed)."""
        counts: Counter[str] = Counter(self._events)
        counts.update(self._derived)
        return counts

    # -- time ----------------------------------------------------------------------------------------
    def _fraction(self) -> float | None:
        return self.reconciled / self.live if self.live else None

    def _advance(self, now_ms: int) -> None:
        """Integrate the reconciled fraction up to ``now_ms`` and take the samples that fall before it."""
        while self._next_sample < len(self.samples_ms) and self.samples_ms[self._next_sample] < now_ms:
            self.sampled[self.samples_ms[self._next_sample]] = self._fraction()
            self._next_sample += 1
        if now_ms > self.last_ms:
            if self.live:
                self.fraction_ms += (now_ms - self.last_ms) * self.reconciled / self.live
                self.covered_ms += now_ms - self.last_ms
            self.last_ms = now_ms

    # -- events --------------------------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        t = event["t"]
        if t != self._t:  # a new instant: integrate up to it (events at one instant share ``t``)
            self._t = t
            self._now = now = round(t * 1000)
            if now > self.last_ms or self._next_sample < self._samples:
                self._advance(now)
        name = event["event"]
        events = self._events
        events[name] = events.get(name, 0) + 1
        handler = self._handlers.get(name)
        if handler is not None:
            handler(event)

    # One handler per event name that the metrics read (a table, not a chain of tests per event); every other
    # event is only counted. ``_watch``: a change Kubernetes would wake the controller for (WATCH_EVENTS).
    def _watched(self, event: Event) -> _Object | None:
        """The event's live object, its first unreconciled watch time set (queue latency), or None."""
        key = event.get("object")
        obj = self.objects.get(key) if isinstance(key, str) else None
        if obj is not None and obj.watch_ms is None:
            obj.watch_ms = self._now
        return obj

    def _on_watch(self, event: Event) -> None:
        self._watched(event)

    def _on_work_written(self, event: Event) -> None:
        if event.get("changed"):
            self._derived["state_store_changes"] += 1

    def _on_work_deleted(self, _event: Event) -> None:
        self._derived["state_store_changes"] += 1

    def _on_reconcile(self, event: Event) -> None:
        key = event.get("object")
        obj = self.objects.get(key) if isinstance(key, str) else None
        if obj is not None and obj.watch_ms is not None:
            self.queue_latency.add(self._now - obj.watch_ms)
            obj.watch_ms = None

    def _on_object_created(self, event: Event) -> None:
        key = event.get("object")
        if not isinstance(key, str):
            return
        now = self._now
        obj = self.objects[key] = _Object(now, key.startswith("promise/"))
        self.live += 1
        obj.watch_ms = now
        self._trigger(obj, now)

    def _on_spec_updated(self, event: Event) -> None:
        obj = self._watched(event)
        if obj is None:
            return
        now = self._now
        self._trigger(obj, now)
        if obj.is_promise:
            self._fanout_begin(now)

    def _on_label_set(self, event: Event) -> None:
        obj = self._watched(event)
        if obj is None:
            return
        now = self._now
        label = event.get("label")
        if label in RUN_LABELS:
            self._trigger(obj, now)
        if obj.is_promise and label == RECONCILE_RESOURCES_LABEL:
            self._fanout_begin(now)

    def _on_job_created(self, event: Event) -> None:
        obj = self._watched(event)
        if obj is None:
            return
        key: str = event["object"]
        self._derived["jobs"] += 1
        if event.get("action") == "configure" and event.get("pipeline_index") == 0:
            self._derived["runs"] += 1
            obj.run_since_trigger = True
            self._fanout_run_started(key, obj)

    def _on_condition_set(self, event: Event) -> None:
        obj = self._watched(event)
        if obj is not None:
            self._condition(event["object"], obj, event, self._now)

    def _on_delete_requested(self, event: Event) -> None:
        obj = self._watched(event)
        if obj is None:
            return
        obj.delete_requested = True
        obj.trigger_ms = None

    def _on_object_removed(self, event: Event) -> None:
        key = event.get("object")
        obj = self.objects.get(key) if isinstance(key, str) else None
        if obj is not None:
            self._removed(str(key), obj, self._now)

    def _handler_table(self) -> dict[str, Callable[[Event], None]]:
        table: dict[str, Callable[[Event], None]] = {name: self._on_watch for name in WATCH_EVENTS}
        table.update({
            "work_written": self._on_work_written,
            "work_deleted": self._on_work_deleted,
            "reconcile": self._on_reconcile,
            "object_created": self._on_object_created,
            "spec_updated": self._on_spec_updated,
            "label_set": self._on_label_set,
            "job_created": self._on_job_created,
            "condition_set": self._on_condition_set,
            "delete_requested": self._on_delete_requested,
            "object_removed": self._on_object_removed,
        })
        return table

    def _trigger(self, obj: _Object, now: int) -> None:
        if obj.trigger_ms is None:
            obj.trigger_ms = now
        obj.run_since_trigger = False

    def _condition(self, key: str, obj: _Object, event: Event, now: int) -> None:
        kind, status = event.get("type"), event.get("status")
        if kind == RECONCILED:
            reconciled = status == "True"
            if reconciled != obj.reconciled:
                self.reconciled += 1 if reconciled else -1
                obj.reconciled = reconciled
        elif kind == DELETE_COMPLETED:
            obj.delete_failed = event.get("reason") == "DeleteWorkflowFailed"
        elif kind == CONFIGURE_COMPLETED and status == "True":
            if obj.last_completion_ms is not None:
                gap = now - obj.last_completion_ms
                self.gap_sum_ms += gap
                self.gap_sq_sum_ms += gap * gap
                self.gap_max_ms = gap if self.gap_max_ms is None else max(self.gap_max_ms, gap)
            obj.last_completion_ms = now
            if obj.trigger_ms is not None and obj.run_since_trigger:
                self.convergence.add(now - obj.trigger_ms)
                obj.trigger_ms = None
            self._fanout_completed(key, obj, now)

    def _removed(self, key: str, obj: _Object, now: int) -> None:
        self._derived["objects_removed"] += 1
        self.object_ms += now - obj.created_ms
        self.live -= 1
        if obj.reconciled:
            self.reconciled -= 1
        del self.objects[key]
        if self.fanout is not None and self.fanout.waiting is not None:
            self.fanout.waiting.discard(key)
            self._fanout_check(now)

    # -- Promise update fan-out (W12) -----------------------------------------------------------------
    def _fanout_begin(self, now: int) -> None:
        if self.fanout is not None:
            self.fanouts_incomplete += 1  # superseded by a newer update
        self.fanout = _Fanout(now)

    def _fanout_run_started(self, key: str, obj: _Object) -> None:
        fanout = self.fanout
        if fanout is None:
            return
        if obj.is_promise:
            fanout.promise_run_started = True
        elif fanout.waiting is not None and key in fanout.waiting:
            fanout.started.add(key)

    def _fanout_completed(self, key: str, obj: _Object, now: int) -> None:
        fanout = self.fanout
        if fanout is None:
            return
        if obj.is_promise:
            if fanout.promise_run_started and fanout.waiting is None:
                fanout.waiting = {k for k, o in self.objects.items() if not o.is_promise and not o.delete_requested}
                self._fanout_check(now)
        elif fanout.waiting is not None and key in fanout.started:
            fanout.waiting.discard(key)
            self._fanout_check(now)

    def _fanout_check(self, now: int) -> None:
        if self.fanout is not None and self.fanout.waiting is not None and not self.fanout.waiting:
            self.fanouts_ms.append(now - self.fanout.start_ms)
            self.fanout = None

    # -- results -------------------------------------------------------------------------------------
    def finish(self, end_s: float) -> dict[str, Value]:
        """Close the run at ``end_s`` (the horizon) and return every metric; idempotent."""
        if self.finished is not None:
            return self.finished
        end = _ms(end_s)
        self._advance(end)
        for at in self.samples_ms[self._next_sample:]:  # at or after the last event: the state at the end
            self.sampled[at] = self._fraction() if at <= end else None
        self._next_sample = len(self.samples_ms)
        object_ms = self.object_ms + sum(max(0, end - o.created_ms) for o in self.objects.values())
        object_days = object_ms / DAY_MS
        c = self.counts
        finished = c["job_completed"] + c["job_failed"]
        values: dict[str, Value] = {
            "runs": c["runs"],
            "runs_per_object_day": c["runs"] / object_days if object_days else None,
            "jobs": c["jobs"],
            "jobs_per_object_day": c["jobs"] / object_days if object_days else None,
            "jobs_completed": c["job_completed"],
            "jobs_failed": c["job_failed"],
            "jobs_suspended": c["job_suspended"],
            "jobs_finished": finished,
            "job_failure_fraction": c["job_failed"] / finished if finished else None,
            "pods": c["pod_created"],
            "container_executions": c["container_started"],
            "stuck_deletes": sum(1 for o in self.objects.values() if o.delete_requested and o.delete_failed),
            "objects_removed": c["objects_removed"],
            "convergence_p50_s": self.convergence.quantile_s(0.5),
            "convergence_p95_s": self.convergence.quantile_s(0.95),
            "convergence_max_s": self.convergence.max_s(),
            "convergence_mean_s": self.convergence.mean_s(),
            "unconverged": sum(1 for o in self.objects.values() if o.trigger_ms is not None),
            "queue_latency_mean_s": self.queue_latency.mean_s(),
            "queue_latency_p95_s": self.queue_latency.quantile_s(0.95),
            "queue_latency_max_s": self.queue_latency.max_s(),
            "state_store_writes": c["work_written"],
            "state_store_changes": c["state_store_changes"],
            "reconciled_fraction": self.fraction_ms / self.covered_ms if self.covered_ms else None,
            "reconciled_fraction_end": self._fraction(),
            "drift_window_mean_s": (int_ratio(self.gap_sq_sum_ms, 2 * self.gap_sum_ms) / 1000 if self.gap_sum_ms
                                    else None),
            "drift_window_max_s": _seconds(self.gap_max_ms) if self.gap_max_ms is not None else None,
            "fanout_s": _seconds(sum(self.fanouts_ms) / len(self.fanouts_ms)) if self.fanouts_ms else None,
            "fanouts_incomplete": self.fanouts_incomplete + (1 if self.fanout is not None else 0),
            "object_days": object_days,
            "controller_restarts": c["controller_stopped"],
        }
        self.finished = values
        return values

    def select(self, names: Sequence[str], end_s: float) -> dict[str, Value]:
        """The metrics ``names`` (``reconciled_fraction@T`` included, if given to the constructor), in order."""
        values = self.finish(end_s)
        out: dict[str, Value] = {}
        for name in names:
            at = sampled_time_s(name)
            out[name] = values[name] if at is None else self.sampled.get(_ms(at))
        return out
