"""Wires a Scenario into a running simulation: clock, RNG, cluster, Kubernetes, Kratix controller, faults.

``run(scenario, seed=...)`` returns the Trace. Time is simulated integer milliseconds on simpy's clock;
randomness comes only from ``sim.rng``; nothing iterates an unsorted set. Same scenario + seed + code gives
the same trace, byte for byte.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import simpy
from mypy_extensions import mypyc_attr
from pydantic import ValidationError

from sim import __version__
from sim.cluster.api import Cluster
from sim.cluster.kube import JobRunner
from sim.cluster.objects import (
    ACTION_LABEL,
    HASH_LABEL,
    INTERVAL_ANNOTATION,
    MANUAL_LABEL,
    PAUSED_LABEL,
    PIPELINE_LABEL,
    PROMISE_LABEL,
    RECONCILE_RESOURCES_LABEL,
    RESOURCE_LABEL,
    SUSPENDED_LABEL,
    TYPE_LABEL,
    Job,
    KObject,
    combined_hash,
    spec_hash,
)
from sim.durations import parse_go_duration
from sim.engine.controller import Controller
from sim.errors import InputError, Location
from sim.executors.base import Executor
from sim.executors.modelled import ModelledExecutor
from sim.faults import schedule
from sim.model.loader import load_promise
from sim.model.promise import Pipeline, Promise, WorkflowAction, WorkflowType
from sim.profiles import Profile, get_profile
from sim.rng import Rng
from sim.scenario import Fault, ResourceSpec, Scenario
from sim.trace import TRACE_FORMAT, Event, Recorder, Sink, Trace
from sim.yamlio import format_path

if TYPE_CHECKING:
    from sim.executors.simulated import SimulatedRealExecutor

PROMISE_PREFIX = "promise/"


def patched_promise_problem(exc: ValidationError) -> str:
    """One line for a Promise an update-promise patch made invalid: the key and pydantic's message."""
    first = exc.errors()[0]
    where = format_path(tuple(p for p in first["loc"] if isinstance(p, str | int)))
    return f"the patched Promise is invalid at {where or 'its root'}: {first['msg']}"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: maps merge, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def resolve_promise(scenario: Scenario) -> Promise:
    """The scenario's Promise: inline, or a file relative to the scenario's folder."""
    source = scenario.spec.promise
    if isinstance(source, dict):
        from sim.model.loader import promise_from_document
        from sim.yamlio import SourceMap, YamlDocument

        return promise_from_document(YamlDocument(source, 0, SourceMap(f"<scenario {scenario.name}>"))).promise
    base = scenario.base_dir or Path.cwd()
    return load_promise(base / source).promise


@mypyc_attr(allow_interpreted_subclasses=True)  # the mutants subclass it (conformance/mutants)
class Simulation:
    """One run of a scenario. ``controller_class`` and ``runner_class`` are seams for deliberately wrong
    engines (conformance mutants); the reference engine uses them as they are."""

    controller_class: ClassVar[type[Controller]] = Controller
    runner_class: ClassVar[type[JobRunner]] = JobRunner

    def __init__(self, scenario: Scenario, seed: int | None = None, promise: Promise | None = None,
                 executor: Executor | None = None, sinks: list[Sink] | None = None) -> None:
        self.scenario = scenario
        self.seed = scenario.spec.seed if seed is None else seed
        config = scenario.spec.kratix
        self.profile: Profile = self.load_profile(config.profile)
        self.env = simpy.Environment()
        self.rng = Rng(self.seed)
        self.promise = promise if promise is not None else resolve_promise(scenario)
        self.promise_revision = 0
        self.promise_versions: dict[str, Promise] = {}  # each spec hash the Promise object had -> that Promise
        self._names_of: Promise | None = None  # the Promise ``_names`` were computed from
        self._names: dict[tuple[str, str], tuple[str, ...]] = {}
        self._interval_of: Promise | None = None  # the Promise ``_interval`` was computed from
        self._interval = 0
        self.global_interval_s = config.reconciliationInterval
        raf = config.reconcileAfterFailure if self.profile.reconcile_after_failure_configurable else None
        self.reconcile_after_failure = self.profile.reconcile_after_failure_default if raf is None else raf
        self.default_backoff_limit = (self.profile.default_backoff_limit if config.defaultBackoffLimit is None
                                      else config.defaultBackoffLimit)
        self.jobs_to_keep = config.numberOfJobsToKeep or self.profile.number_of_jobs_to_keep
        self.header: Event = {
            "event": "header", "format": TRACE_FORMAT, "seed": self.seed, "scenario": scenario.name,
            "profile": self.profile.name, "version": __version__,
            "config": {
                "reconciliationInterval_s": self.interval_ms(self.promise.name) / 1000,
                "reconcileAfterFailure": self.reconcile_after_failure,
                "defaultBackoffLimit": self.default_backoff_limit,
                "numberOfJobsToKeep": self.jobs_to_keep,
            },
        }
        # The recorder reads simpy's clock directly (``env.now`` without the property call; it makes the value
        # whole milliseconds itself): it is asked the time once per trace event.
        self.recorder = Recorder(self.header, functools.partial(getattr, self.env, "_now"))
        self.events: list[Event] = []
        self.recorder.sinks.extend(sinks if sinks is not None else [self.events.append])
        self.cluster = Cluster(self.recorder, self.now_ms)
        self.modelled = ModelledExecutor(scenario.spec.behaviour, self.rng.stream("executor"))
        self.real_executor = self._real_executor() if executor is None else None
        self.job_pipelines: dict[str, Pipeline] = {}
        self.runner = self.runner_class(self.env, self.cluster, self.profile,
                                        executor or self.real_executor or self.modelled, self.rng,
                                lambda job: self.job_pipelines.get(job.name),
                                lambda obj: obj.promise_name)
        self.controller = self.controller_class(self)

    def load_profile(self, name: str) -> Profile:
        return get_profile(name)

    def _real_executor(self) -> SimulatedRealExecutor | None:
        """``spec.executor: process|container``: real containers run at each pod step (sim.executors.simulated)."""
        config = self.scenario.spec.executor
        if config.type == "modelled":
            return None
        from sim.executors.simulated import for_scenario

        return for_scenario(config, self.scenario.base_dir or Path.cwd(), self.scenario.spec.behaviour,
                            lambda: self.promise, self.modelled.injected, self.now_ms, self.scenario.name)

    def close(self) -> None:
        """Release what a real executor holds (its external directories); the trace is unaffected."""
        if self.real_executor is not None:
            self.real_executor.close()

    # -- clock ---------------------------------------------------------------------------------------
    def now_ms(self) -> int:
        return int(self.env.now)

    # -- lookups the controller uses -----------------------------------------------------------------
    def promise_object(self, name: str) -> KObject | None:
        return self.cluster.objects.get(PROMISE_PREFIX + name)

    def resources_of(self, promise_name: str) -> list[KObject]:
        return [o for _, o in sorted(self.cluster.objects.items())
                if o.kind == "resource" and o.promise_name == promise_name]

    def pipelines(self, workflow: WorkflowType, action: WorkflowAction) -> list[Pipeline]:
        pipelines = self.promise.pipelines(workflow, action)
        return pipelines[:1] if action == "delete" else pipelines  # D1: only the first delete Pipeline runs

    def pipeline_names(self, promise_name: str, workflow: WorkflowType, action: WorkflowAction) -> tuple[str, ...]:
        """The names of ``pipelines(workflow, action)``, computed once per Promise (an update replaces it)."""
        if self._names_of is not self.promise:
            self._names_of, self._names = self.promise, {}
        names = self._names.get((workflow, action))
        if names is None:
            names = self._names[(workflow, action)] = tuple(p.name for p in self.pipelines(workflow, action))
        return names

    def promise_hash(self) -> str:
        promise = self.promise_object(self.promise.name)
        return promise.spec_hash if promise is not None else spec_hash(self._promise_spec())

    def hash_for(self, obj: KObject) -> str:
        """W5: resources combine the Promise's and their own spec hashes; Promises use their own."""
        if obj.kind == "promise":
            return obj.spec_hash
        return combined_hash(self.promise_hash(), obj.spec_hash)

    def interval_ms(self, promise_name: str) -> int:
        """W9: per Promise (annotation or spec.workflows.config), else the global config, else 10h.
        Computed once per Promise object (an update replaces it)."""
        if self._interval_of is not self.promise:
            self._interval_of, self._interval = self.promise, self._compute_interval_ms()
        return self._interval

    def _compute_interval_ms(self) -> int:
        seconds = self.profile.default_interval_s if self.global_interval_s is None else self.global_interval_s
        if self.profile.per_promise_interval:
            per_promise = (self.promise.metadata.annotations.get(INTERVAL_ANNOTATION)
                           or self.promise.spec.workflows.config.reconciliationInterval)
            if per_promise:
                seconds = parse_go_duration(per_promise)
        return round(max(seconds, self.profile.min_interval_s) * 1000)

    def _promise_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.promise.model_dump(mode="json")["spec"]
        if self.promise_revision:
            spec["x-kratix-sim-revision"] = self.promise_revision  # an edit the model does not see
        return spec

    # -- Jobs ----------------------------------------------------------------------------------------
    def create_job(self, obj: KObject, action: WorkflowAction, index: int) -> Job:
        pipeline = self.pipelines(obj.kind, action)[index]
        labels = {
            "app.kubernetes.io/managed-by": "kratix",
            PROMISE_LABEL: obj.promise_name,
            TYPE_LABEL: obj.kind,
            ACTION_LABEL: action,
            PIPELINE_LABEL: pipeline.name,
            HASH_LABEL: self.hash_for(obj),
        }
        if obj.kind == "resource":
            labels[RESOURCE_LABEL] = obj.name
        base = f"kratix-{obj.promise_name}-{obj.name}-{pipeline.name}"[:56].rstrip("-")
        restart_policy = (self.profile.restart_policy_override or pipeline.spec.restartPolicy
                          or self.profile.default_restart_policy)
        backoff = pipeline.spec.jobOptions.backoffLimit
        job = Job(
            name=f"{base}-{self.rng.suffix()}", object_key=obj.key, workflow=obj.kind, action=action,
            pipeline=pipeline.name, pipeline_index=index, hash=labels[HASH_LABEL], labels=labels,
            created_ms=self.now_ms(), backoff_limit=self.default_backoff_limit if backoff is None else backoff,
            restart_policy=restart_policy,
        )
        self.job_pipelines[job.name] = pipeline
        self.cluster.add_job(job)
        self.runner.start(job)
        return job

    def suspend_job(self, obj: KObject, name: str) -> None:
        for job in self.cluster.jobs_of(obj.key):
            if job.name == name:
                self.runner.request_suspend(job)

    def delete_job(self, job: Job, reason: str) -> None:
        self.runner.kill(job)
        self.cluster.delete_job(job, reason)
        self.job_pipelines.pop(job.name, None)

    def prune_jobs(self, obj: KObject) -> None:
        """W14: keep the newest ``numberOfJobsToKeep`` finished Jobs per pipeline (matched by labels)."""
        jobs_of = self.cluster.jobs_of(obj.key)
        if len(jobs_of) <= self.jobs_to_keep:
            return  # no pipeline has more Jobs than are kept
        by_pipeline: dict[tuple[str, str], list[Job]] = {}
        for job in jobs_of:
            by_pipeline.setdefault((job.action, job.pipeline), []).append(job)
        keep = self.jobs_to_keep
        for _, jobs in sorted((k, jobs) for k, jobs in by_pipeline.items() if len(jobs) > keep):
            for job in jobs[: len(jobs) - keep]:
                if not job.running:
                    self.delete_job(job, "retention")

    # -- objects -------------------------------------------------------------------------------------
    def create_promise(self) -> KObject:
        spec = self._promise_spec()
        self.promise_versions[spec_hash(spec)] = self.promise
        obj = KObject(kind="promise", key=PROMISE_PREFIX + self.promise.name, name=self.promise.name,
                      namespace=None, promise_name=self.promise.name, api_kind="Promise", spec=spec,
                      spec_hash=spec_hash(spec), labels=dict(self.promise.metadata.labels),
                      annotations=dict(self.promise.metadata.annotations))
        self.cluster.create(obj)
        return obj

    def create_resource(self, name: str, namespace: str, spec: dict[str, Any], labels: dict[str, str]) -> KObject:
        key = f"{namespace}/{name}"
        if key in self.cluster.objects:
            raise InputError(f"resource {key} already exists")
        obj = KObject(kind="resource", key=key, name=name, namespace=namespace, promise_name=self.promise.name,
                      api_kind=self._api_kind(), spec=copy.deepcopy(spec), spec_hash=spec_hash(spec),
                      labels=dict(labels))
        self.cluster.create(obj)
        return obj

    def _api_kind(self) -> str:
        api = self.promise.spec.api or {}
        names = api.get("spec", {}).get("names", {}) if isinstance(api.get("spec"), dict) else {}
        kind = names.get("kind") if isinstance(names, dict) else None
        return kind if isinstance(kind, str) else "Resource"

    def target(self, fault: Fault) -> KObject | None:
        """The object a fault names: ``namespace/name``, ``promise`` or ``promise/<name>``."""
        target = fault.target
        if target in (None, "promise"):
            return self.promise_object(self.promise.name)
        assert target is not None
        return self.cluster.objects.get(target)

    # -- faults --------------------------------------------------------------------------------------
    def apply_fault(self, fault: Fault) -> Generator[Any, Any, None]:
        kind = fault.kind
        if kind == "controller-restart":
            if self.controller.running:
                self.controller.stop()
                yield self.env.timeout(round(fault.downtime * 1000))
                self.controller.start()
            return
        if kind == "container-failure":
            self.modelled.injected.add(fault.target or "*", fault.container or "*", fault.exitCode, fault.count)
            return
        if kind == "create-resource":
            namespace, _, name = (fault.target or "").rpartition("/")
            if name and f"{namespace or 'default'}/{name}" not in self.cluster.objects:
                self.create_resource(name, namespace or "default", fault.spec or {}, {})
            return
        if kind == "delete-jobs":
            targets = [self.target(fault)] if fault.target else list(self.cluster.objects.values())
            for obj in targets:
                if obj is not None:
                    for job in list(self.cluster.jobs_of(obj.key)):
                        self.delete_job(job, "external")
            return
        obj = self.target(fault)
        if obj is None:
            return
        if kind == "update-promise":
            self._update_promise(obj, fault.spec)
        elif kind == "update-resource":
            spec = merge_patch(obj.spec, fault.spec or {})
            self.cluster.update_spec(obj, spec, spec_hash(spec))
        elif kind == "manual-reconcile":
            self.cluster.set_label(obj, MANUAL_LABEL)
        elif kind == "reconcile-resources":
            self.cluster.set_label(obj, RECONCILE_RESOURCES_LABEL)
        elif kind == "pause":
            self.cluster.set_label(obj, PAUSED_LABEL)
        elif kind == "unpause":
            self.cluster.remove_label(obj, PAUSED_LABEL)
            if obj.kind == "promise":
                for resource in self.resources_of(obj.promise_name):
                    self.controller.on_change(resource.key)
        elif kind == "resume":
            self.cluster.remove_label(obj, SUSPENDED_LABEL)
        elif kind in ("delete-resource", "delete-promise"):
            self.cluster.request_delete(obj)

    def _update_promise(self, obj: KObject, patch: dict[str, Any] | None) -> None:
        if patch:
            raw = self.promise.model_dump(mode="json")
            raw["spec"] = merge_patch(raw["spec"], patch)
            try:
                self.promise = Promise.model_validate(raw)
            except ValidationError as exc:
                raise InputError(f"update-promise: {patched_promise_problem(exc)}",
                                 Location(f"<scenario {self.scenario.name}>", "spec.faults")) from exc
        else:
            self.promise_revision += 1
        spec = self._promise_spec()
        self.promise_versions[spec_hash(spec)] = self.promise
        self.cluster.update_spec(obj, spec, spec_hash(spec))

    # -- run -----------------------------------------------------------------------------------------
    def _arrive(self, resource: ResourceSpec) -> Generator[Any, Any, None]:
        yield self.env.timeout(round(resource.at * 1000))
        for name in resource.names():
            self.create_resource(name, resource.namespace, resource.spec, resource.labels)

    def _mark_end(self, horizon_ms: int) -> None:
        """``simulation_ended`` at the horizon, after everything else at that instant, so a reader of the trace
        knows how long it was observed (a quiet end is not a short trace)."""
        end = simpy.Event(self.env)
        end._ok, end._value = True, None  # a triggered event, scheduled below the normal priority
        end.callbacks.append(self._emit_end)
        self.env.schedule(end, priority=simpy.events.EventPriority(simpy.events.NORMAL + 1), delay=horizon_ms)

    def _emit_end(self, _event: simpy.Event) -> None:
        self.recorder.emit("simulation_ended")

    def run(self, duration_s: float | None = None, progress: Callable[[float], None] | None = None,
            heal_s: float = 0.0) -> Trace:
        """Simulate up to the horizon (inclusive), then ``heal_s`` more with no faults (a heal period);
        ``progress`` hears the simulated seconds reached."""
        faults_until_ms = round((self.scenario.spec.duration if duration_s is None else duration_s) * 1000)
        horizon_ms = faults_until_ms + round(heal_s * 1000)
        self.controller.start(initial=True)
        self.create_promise()
        for resource in self.scenario.spec.resources:
            self.env.process(self._arrive(resource))
        for index, fault in enumerate(self.scenario.spec.faults):
            self.env.process(schedule(self, fault, index, faults_until_ms))
        self._mark_end(horizon_ms)
        try:
            with rare_collections():
                if progress is None:
                    self.env.run(until=horizon_ms + 1)
                else:
                    step = max(1, horizon_ms // 200)
                    for until in range(step, horizon_ms + step, step):
                        self.env.run(until=min(until, horizon_ms) + 1)
                        progress(min(until, horizon_ms) / 1000)
        finally:
            self.close()
        return Trace(self.header, self.events)


GC_ALLOCATIONS = 50_000


@contextlib.contextmanager
def rare_collections() -> Iterator[None]:
    """Python's cycle collector runs every ``GC_ALLOCATIONS`` net allocations instead of 700 while this lasts.

    A run allocates events and records by the million but leaves almost no reference cycles (a 30-day,
    200-resource fleet: under 100), so the default spends about a quarter of the run's wall time looking for
    them (issue 9, docs/performance.md). Memory stays bounded: collections still run. A threshold the caller set
    higher, or 0 (off), is kept; the old one is restored afterwards."""
    previous = gc.get_threshold()
    if 0 < previous[0] < GC_ALLOCATIONS:
        gc.set_threshold(GC_ALLOCATIONS, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def run(scenario: Scenario, seed: int | None = None, duration_s: float | None = None,
        sinks: list[Sink] | None = None, on_event: Callable[[Event], None] | None = None) -> Trace:
    """Simulate ``scenario`` (with ``seed``, default the scenario's) and return its trace."""
    simulation = Simulation(scenario, seed=seed, sinks=sinks)
    if on_event is not None:
        simulation.recorder.sinks.append(on_event)
    return simulation.run(duration_s)
