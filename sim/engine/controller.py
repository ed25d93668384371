"""The Kratix controller: work queues, one worker per controller (K1), observe -> decide -> act.

One Promise controller reconciles Promises; each Promise has its own resource controller. Each has one
worker, so one object per controller is reconciled at a time; a Job creation holds the worker 1.1 s (K1).
Requeues and error back-off follow K2. ``stop`` loses queues and timers (K3); ``start`` lists every object.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.cluster.objects import (
    MANUAL_LABEL,
    PAUSED_LABEL,
    RUN_FROM_START_LABEL,
    KObject,
)
from sim.engine import decide as d
from sim.engine.queue import WorkQueue

if TYPE_CHECKING:
    from sim.simulation import Simulation

PROMISE_QUEUE = "promise"


class Controller:
    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.env = sim.env
        self.cluster = sim.cluster
        self.timing = sim.profile.timing
        self.queues: dict[str, WorkQueue] = {}
        self.workers: dict[str, simpy.Process] = {}
        self.running = False
        self.blocked: dict[str, set[str]] = {}  # Promise name -> resources waiting for it (W13)
        # W13: after a (re)start a Promise's resource controller runs only once the Promise's reconcile has found
        # its configure workflow completed (Kratix starts the dynamic controller from there; it is in memory).
        self.gated: set[str] = set()
        self.cluster.watchers.append(self.on_change)

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
        self.gated = {o.promise_name for o in objects if o.kind == "promise"}  # W13
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
        for queue in self.queues.values():
            queue.clear()
        self.blocked.clear()
        self.cluster.emit("controller_stopped")

    def on_change(self, key: str) -> None:
        if not self.running:
            return
        obj = self.cluster.objects.get(key)
        if obj is not None:
            self._queue(self.queue_name(obj)).add(key)

    # -- the worker ----------------------------------------------------------------------------------
    def _work(self, queue: WorkQueue) -> Generator[Any, Any, None]:
        try:
            while True:
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
        self.cluster.emit("reconcile", object=key, workflow=obj.kind, reason=decision.outcome)
        hold = self.act(obj, decision)
        if decision.outcome == "waiting-for-promise":
            self.blocked.setdefault(obj.promise_name, set()).add(key)
        if obj.kind == "promise" and decision.outcome == "done" and obj.promise_name in self.gated:
            self.gated.discard(obj.promise_name)  # W13: the Promise's configure workflow has completed
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
        paused = PAUSED_LABEL in obj.labels or (promise_obj is not None and PAUSED_LABEL in promise_obj.labels)
        gate_open = True
        resource_running = False
        remaining = 0
        if obj.kind == "resource":
            gate_open = (promise_obj is not None and promise_obj.observed_generation == promise_obj.generation
                         and obj.promise_name not in self.gated)  # W13
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
            gate_open=gate_open,
            resource_configure_running=resource_running,
            resources_remaining=remaining,
            fanout_label=RUN_FROM_START_LABEL if sim.profile.fanout_label == "run-from-start" else MANUAL_LABEL,
        )

    # -- act -----------------------------------------------------------------------------------------
    def act(self, obj: KObject, decision: d.Decision) -> int:
        cluster, sim = self.cluster, self.sim
        hold_ms = 0
        condition_changed = False
        for action in decision.actions:
            match action:
                case d.SetLabel(label=label):
                    cluster.set_label(obj, label)
                case d.RemoveLabel(label=label):
                    cluster.remove_label(obj, label)
                case d.SetCondition(type=type_, status=status, reason=reason, message=message):
                    condition_changed |= cluster.set_condition(obj, type_, status, reason, message)
                case d.SetPhases(phases=phases):
                    cluster.set_phases(obj, list(phases))
                case d.SetStatus() as status_action:
                    fields = {k: v for k, v in (("message", status_action.message),
                                                ("workflows_succeeded", status_action.workflows_succeeded),
                                                ("workflows_failed", status_action.workflows_failed))
                              if v is not None}
                    fields["workflows_total"] = 1 if sim.pipeline_names(obj.promise_name, obj.kind, "configure") \
                        else 0
                    cluster.set_status(obj, **fields)
                case d.CreateJob(action=wf_action, index=index):
                    sim.create_job(obj, wf_action, index)
                    hold_ms += round(self.timing.job_creation_hold_s * 1000)
                case d.SuspendJob(job=name):
                    sim.suspend_job(obj, name)
                case d.PruneJobs():
                    sim.prune_jobs(obj)
                case d.DeleteStaleWorks():
                    names = set(sim.pipeline_names(obj.promise_name, obj.kind, "configure"))
                    for work in cluster.works_of(obj.key):
                        if work.pipeline not in names:
                            cluster.delete_work(obj.key, work.pipeline, "pipeline-removed")
                case d.AddFinalizers(finalizers=finalizers):
                    cluster.add_finalizers(obj, list(finalizers))
                case d.RemoveFinalizer(finalizer=finalizer):
                    cluster.remove_finalizer(obj, finalizer)
                case d.DeleteWorks():
                    for work in cluster.works_of(obj.key):
                        cluster.delete_work(obj.key, work.pipeline, "work-cleanup")
                case d.DeleteJobs():
                    for job in list(cluster.jobs_of(obj.key)):
                        sim.delete_job(job, "workflows-cleanup")
                case d.RecordEvent(type=type_, reason=reason, message=message):
                    if condition_changed:
                        cluster.emit("event_recorded", object=obj.key, type=type_, reason=reason, message=message)
                case d.FanOut():
                    label = RUN_FROM_START_LABEL if sim.profile.fanout_label == "run-from-start" else MANUAL_LABEL
                    for resource in sim.resources_of(obj.promise_name):
                        if not resource.deleting:
                            cluster.set_label(resource, label)
                case d.RequestFanOut():
                    cluster.set_status(obj, fanout_requested=True)
                case d.MarkObserved(generation=generation):
                    cluster.set_status(obj, observed_generation=generation, fanout_requested=False)
                    for key in sorted(self.blocked.pop(obj.promise_name, set())):
                        self.on_change(key)
                case d.DeleteResources():
                    for resource in sim.resources_of(obj.promise_name):
                        cluster.request_delete(resource)
            if obj.key not in cluster.objects:
                break
        return hold_ms
