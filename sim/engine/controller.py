"""The Kratix controller: work queues, one worker per controller (K1), observe -> decide -> act.

One Promise controller reconciles Promises; each Promise has its own resource controller. Each has one
worker, so one object per controller is reconciled at a time; a Job creation holds the worker 1.1 s (K1).
Requeues and error back-off follow K2. ``stop`` loses queues and timers (K3); ``start`` lists every object.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import simpy
from mypy_extensions import mypyc_attr

from sim.cluster.objects import (
    MANUAL_LABEL,
    PAUSED_LABEL,
    RUN_FROM_START_LABEL,
    KObject,
    is_true,
)
from sim.engine import decide as d
from sim.engine.queue import WorkQueue

if TYPE_CHECKING:
    from sim.simulation import Simulation

PROMISE_QUEUE = "promise"


@mypyc_attr(allow_interpreted_subclasses=True)  # the mutants' seam (conformance/mutants)
class Controller:
    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.env = sim.env
        self.cluster = sim.cluster
        self.timing = sim.profile.timing
        self.queues: dict[str, WorkQueue] = {}
        self.workers: dict[str, simpy.Process] = {}
        self.running = False
        self.blocked: dict[str, set[str]] = {}  # Promise name -> resources waiting for its controller (W13)
        # W13: after a (re)start a Promise's resource controller runs only once the Promise's reconcile has found
        # its configure workflow completed (Kratix starts the dynamic controller from there; it is in memory).
        self.started: set[str] = set()
        self.cluster.watchers.append(self.on_change)
        self._condition_changed = False  # act: a SetCondition of this reconcile changed a condition
        self._handlers = self._action_table()
        self._queue_of: dict[str, WorkQueue] = {}  # object key -> its queue, while the controller runs

    # -- lifecycle -----------------------------------------------------------------------------------
    def queue_name(self, obj: KObject) -> str:
        return PROMISE_QUEUE if obj.kind == "promise" else f"resource:{obj.promise_name}"

    def _queue(self, name: str) -> WorkQueue:
        queue = self.queues.get(name)
        if queue is None:
            queue = WorkQueue(self.env, name, self.timing.error_backoff_base_s * 1000,
                              self.timing.error_backoff_cap_s * 1000)
            self.queues[name] = queue
        if self.running and name not in self.workers:
            self.workers[name] = self.env.process(self._work(queue))
        return queue

    def start(self, initial: bool = False) -> None:
        """K3: every object is reconciled once on start (initial list, Promises first)."""
        self.running = True
        self.cluster.emit("controller_started")
        objects = sorted(self.cluster.objects.values(), key=lambda o: (o.kind != "promise", o.key))
        self.started = set()  # W13
        if self.sim.profile.restart_reruns_configure and not initial:
            for obj in objects:
                if obj.kind == "resource" and not obj.deleting:
                    self.cluster.set_label(obj, MANUAL_LABEL)  # seed-doc: restarts re-run every resource
        for obj in objects:
            self._queue(self.queue_name(obj)).add(obj.key)

    def stop(self) -> None:
        self.running = False
        for worker in self.workers.values():
            if worker.is_alive:
                worker.interrupt("controller stopped")
        self.workers.clear()
        self._queue_of.clear()
        for queue in self.queues.values():
            queue.clear()
        self.blocked.clear()
        self.cluster.emit("controller_stopped")

    def on_change(self, key: str) -> None:
        if not self.running:
            return
        queue = self._queue_of.get(key)
        if queue is not None:  # the object's queue, its worker started (since the last start)
            if key in self.cluster.objects:
                queue.add(key)
            return
        obj = self.cluster.objects.get(key)
        if obj is not None:
            queue = self._queue_of[key] = self._queue(self.queue_name(obj))
            queue.add(key)

    # -- the worker ----------------------------------------------------------------------------------
    def _work(self, queue: WorkQueue) -> Generator[Any, Any, None]:
        try:
            while True:
                key = queue.pop()
                if key is None:
                    key = yield from queue.get()
                hold = self.reconcile(queue, key)
                if hold:
                    yield self.env.timeout(hold)
                queue.done(key)
        except simpy.Interrupt:
            return

    def reconcile(self, queue: WorkQueue, key: str) -> int:
        """Observe, decide, act; returns how long the worker is held (ms)."""
        obj = self.cluster.objects.get(key)
        if obj is None:
            queue.forget(key)
            return 0
        obs = self.observe(obj)
        decision = self.decide(obs)
        self.cluster.record({"seq": 0, "t": 0, "event": "reconcile", "object": key, "workflow": obj.kind,
                             "reason": decision.outcome})
        hold = self.act(obj, decision)
        if decision.outcome == "waiting-for-promise":
            self.blocked.setdefault(obj.promise_name, set()).add(key)
        if obj.kind == "promise" and decision.outcome == "done":  # W13: its configure workflow has completed
            self.started.add(obj.promise_name)
            for blocked in sorted(self.blocked.pop(obj.promise_name, set())):
                self.on_change(blocked)
        if decision.error is not None:
            queue.add_rate_limited(key)
        else:
            queue.forget(key)
            if decision.requeue_after_ms is not None:
                queue.add_after(key, decision.requeue_after_ms)
        return hold

    def decide(self, obs: d.Observation) -> d.Decision:
        """The pure decision; a seam for deliberately wrong engines (conformance mutants)."""
        return d.decide(obs)

    def observe(self, obj: KObject) -> d.Observation:
        sim = self.sim
        promise_obj = sim.promise_object(obj.promise_name)
        paused = is_true(obj.labels, PAUSED_LABEL) or (
            promise_obj is not None and is_true(promise_obj.labels, PAUSED_LABEL))
        started = gate_open = True
        resource_running = False
        remaining = 0
        if obj.kind == "resource":  # W13, W12
            started = promise_obj is not None and obj.promise_name in self.started
            gate_open = started and (not sim.profile.promise_unavailable_gates_resources or (
                promise_obj is not None and promise_obj.promise_status == "Available"
                and promise_obj.observed_generation == promise_obj.generation))
        elif obj.deleting:
            resources = sim.resources_of(obj.promise_name)
            remaining = len(resources)
            resource_running = any(j.running and j.action == "configure"
                                   for r in resources for j in self.cluster.jobs_of(r.key))
        return d.Observation(
            now_ms=int(self.env.now),
            obj=obj,
            workflow=obj.kind,
            configure=sim.pipeline_names(obj.promise_name, obj.kind, "configure"),
            delete=sim.pipeline_names(obj.promise_name, obj.kind, "delete"),
            jobs=tuple(self.cluster.jobs_of(obj.key)),
            hash=sim.hash_for(obj),
            profile=sim.profile,
            interval_ms=sim.interval_ms(obj.promise_name),
            reconcile_after_failure=sim.reconcile_after_failure,
            paused=paused,
            controller_started=started,
            gate_open=gate_open,
            resource_configure_running=resource_running,
            resources_remaining=remaining,
            fanout_label=RUN_FROM_START_LABEL if sim.profile.fanout_label == "run-from-start" else MANUAL_LABEL,
        )

    # -- act -----------------------------------------------------------------------------------------
    def act(self, obj: KObject, decision: d.Decision) -> int:
        """Apply the decision's actions in order; returns how long the worker is held (ms). Each action type has
        its handler (a table looked up by type, not a chain of tests per action)."""
        cluster = self.cluster
        hold_ms = 0
        self._condition_changed = False
        handlers = self._handlers
        for action in decision.actions:
            handler = handlers.get(type(action))
            if handler is None:
                handler = self._handler_for(type(action))
            if handler is not None:
                hold_ms += handler(obj, action)
            if obj.key not in cluster.objects:
                break
        return hold_ms

    def _handler_for(self, kind: type) -> Callable[[KObject, Any], int] | None:
        """The handler of an action type not in the table: that of its nearest base class (or None)."""
        for base in kind.__mro__[1:]:
            handler = self._handlers.get(base)
            if handler is not None:
                self._handlers[kind] = handler
                return handler
        return None

    def _action_table(self) -> dict[type, Callable[[KObject, Any], int]]:
        return {
            d.SetLabel: self._set_label, d.RemoveLabel: self._remove_label, d.SetCondition: self._set_condition,
            d.SetPhases: self._set_phases, d.SetDeletePhase: self._set_delete_phase, d.SetStatus: self._set_status,
            d.CreateJob: self._create_job, d.SuspendJob: self._suspend_job, d.PruneJobs: self._prune_jobs,
            d.DeleteStaleWorks: self._delete_stale_works, d.AddFinalizers: self._add_finalizers,
            d.RemoveFinalizer: self._remove_finalizer, d.DeleteWorks: self._delete_works,
            d.DeleteJobs: self._delete_jobs, d.RecordEvent: self._record_event, d.FanOut: self._fan_out,
            d.RequestFanOut: self._request_fan_out, d.MarkObserved: self._mark_observed,
            d.DeleteResources: self._delete_resources,
        }

    def _set_label(self, obj: KObject, action: d.SetLabel) -> int:
        self.cluster.set_label(obj, action.label)
        return 0

    def _remove_label(self, obj: KObject, action: d.RemoveLabel) -> int:
        self.cluster.remove_label(obj, action.label)
        return 0

    def _set_condition(self, obj: KObject, action: d.SetCondition) -> int:
        if self.cluster.set_condition(obj, action.type, action.status, action.reason, action.message):
            self._condition_changed = True
        return 0

    def _set_phases(self, obj: KObject, action: d.SetPhases) -> int:
        self.cluster.set_phases(obj, list(action.phases))
        return 0

    def _set_delete_phase(self, obj: KObject, action: d.SetDeletePhase) -> int:
        self.cluster.set_delete_phase(obj, action.phase)
        return 0

    def _set_status(self, obj: KObject, action: d.SetStatus) -> int:
        fields: dict[str, Any] = {}
        if action.message is not None:
            fields["message"] = action.message
        if action.workflows_succeeded is not None:
            fields["workflows_succeeded"] = action.workflows_succeeded
        if action.workflows_failed is not None:
            fields["workflows_failed"] = action.workflows_failed
        if action.promise_status is not None:
            fields["promise_status"] = action.promise_status
        if action.count_workflows:  # updateWorkflowsCounterStatus: `workflows` counts the configure Pipelines
            fields["workflows_total"] = len(self.sim.pipeline_names(obj.promise_name, obj.kind, "configure"))
        self.cluster.update_status(obj, fields)
        return 0

    def _create_job(self, obj: KObject, action: d.CreateJob) -> int:
        self.sim.create_job(obj, action.action, action.index)
        return round(self.timing.job_creation_hold_s * 1000)

    def _suspend_job(self, obj: KObject, action: d.SuspendJob) -> int:
        self.sim.suspend_job(obj, action.job)
        return 0

    def _prune_jobs(self, obj: KObject, _action: d.PruneJobs) -> int:
        self.sim.prune_jobs(obj)
        return 0

    def _delete_stale_works(self, obj: KObject, _action: d.DeleteStaleWorks) -> int:
        cluster = self.cluster
        works = cluster.works_of(obj.key)
        if works:
            names = set(self.sim.pipeline_names(obj.promise_name, obj.kind, "configure"))
            for work in works:
                if work.pipeline not in names:
                    cluster.delete_work(obj.key, work.pipeline, "pipeline-removed")
        return 0

    def _add_finalizers(self, obj: KObject, action: d.AddFinalizers) -> int:
        self.cluster.add_finalizers(obj, list(action.finalizers))
        return 0

    def _remove_finalizer(self, obj: KObject, action: d.RemoveFinalizer) -> int:
        self.cluster.remove_finalizer(obj, action.finalizer)
        return 0

    def _delete_works(self, obj: KObject, _action: d.DeleteWorks) -> int:
        for work in self.cluster.works_of(obj.key):
            self.cluster.delete_work(obj.key, work.pipeline, "work-cleanup")
        return 0

    def _delete_jobs(self, obj: KObject, _action: d.DeleteJobs) -> int:
        for job in list(self.cluster.jobs_of(obj.key)):
            self.sim.delete_job(job, "workflows-cleanup")
        return 0

    def _record_event(self, obj: KObject, action: d.RecordEvent) -> int:
        if self._condition_changed:
            self.cluster.emit("event_recorded", object=obj.key, type=action.type, reason=action.reason,
                              message=action.message)
        return 0

    def _fan_out(self, obj: KObject, _action: d.FanOut) -> int:
        sim = self.sim
        label = RUN_FROM_START_LABEL if sim.profile.fanout_label == "run-from-start" else MANUAL_LABEL
        for resource in sim.resources_of(obj.promise_name):
            if not resource.deleting:
                self.cluster.set_label(resource, label)
        return 0

    def _request_fan_out(self, obj: KObject, _action: d.RequestFanOut) -> int:
        self.cluster.set_status(obj, fanout_requested=True)
        return 0

    def _mark_observed(self, obj: KObject, action: d.MarkObserved) -> int:
        self.cluster.set_status(obj, observed_generation=action.generation, fanout_requested=False)
        for key in sorted(self.blocked.pop(obj.promise_name, set())):
            self.on_change(key)
        return 0

    def _delete_resources(self, obj: KObject, _action: d.DeleteResources) -> int:
        for resource in self.sim.resources_of(obj.promise_name):
            self.cluster.request_delete(resource)
        return 0
