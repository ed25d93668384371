"""Kubernetes' side of a pipeline run: the Job controller and the kubelet (section 3, J1-J4).

- A pod runs its steps one at a time (W2): reader, user containers, work-writer (configure), status-writer.
- ``OnFailure``: the failed container restarts in place (dirty volumes, J3) after the kubelet back-off
  (first restart immediate, then base*2^(n-2), capped; reset after a quiet period); the Job fails one sync
  batch after the restart that brings the pod's summed restart counts to backoffLimit (> 0 when it is 0).
- ``Never``: a failed container fails the pod; the Job controller creates a fresh pod after
  min(base*2^(n-1), cap) (never under the minimum); the Job fails when failed pods > backoffLimit.
- Completion, failure and suspension become Job conditions one sync batch (1 s) after the pod's change.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy
from mypy_extensions import mypyc_attr
from simpy.events import Timeout

from sim.cluster.api import Cluster
from sim.cluster.objects import Job, KObject
from sim.cluster.steps import KratixSteps
from sim.executors.base import Executor, PodVolumes, StepContext
from sim.model.promise import Container, Pipeline
from sim.profiles import Profile
from sim.rng import Rng

KILLED_EXIT_CODE = 137


@dataclass(slots=True, init=False)
class _Running:
    pod: str
    container: str
    attempt: int

    def __init__(self, pod: str, container: str, attempt: int) -> None:  # compiled (see sim.cluster.objects)
        self.pod = pod
        self.container = container
        self.attempt = attempt


@dataclass(slots=True)
class _KubeletBackoff:
    failures: int = 0
    last_failure_ms: int = 0


@dataclass(slots=True)
class _Pod:
    name: str
    restarts: int = 0
    backoff: dict[str, _KubeletBackoff] = field(default_factory=dict)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@mypyc_attr(allow_interpreted_subclasses=True)  # the mutants' seam (conformance/mutants)
class JobRunner:
    def __init__(
        self,
        env: simpy.Environment,
        cluster: Cluster,
        profile: Profile,
        executor: Executor,
        rng: Rng,
        pipeline_of: Callable[[Job], Pipeline | None],
        promise_of: Callable[[KObject], str],
    ) -> None:
        self.env = env
        self.cluster = cluster
        self.profile = profile
        self.timing = profile.timing
        self.executor = executor
        self.rng = rng
        self.steps = KratixSteps(cluster, profile)
        self.pipeline_of = pipeline_of
        self.promise_of = promise_of
        self.procs: dict[str, simpy.Process] = {}
        self.running: dict[str, _Running] = {}
        self.executions: dict[tuple[str, str], int] = {}
        self._kratix_outcome: tuple[int, str | None, int] = (0, None, _ms(self.timing.kratix_step_s))

    # -- control from outside ------------------------------------------------------------------------
    def start(self, job: Job) -> None:
        self.procs[job.name] = self.env.process(self._run_job(job))

    def request_suspend(self, job: Job) -> None:
        """J4/W6: Kratix sets ``spec.suspend``; the Job controller stops the pod one sync batch later."""
        if not job.running or job.suspend_requested:
            return
        job.suspend_requested = True
        self.cluster.emit("job_suspend_requested", object=job.object_key, job=job.name, pipeline=job.pipeline)
        self.env.process(self._end_later(job, _ms(self.timing.job_sync_batch_s), "suspended", "JobSuspended"))

    def kill(self, job: Job) -> None:
        """Stop the Job's pod at once (the Job was deleted)."""
        proc = self.procs.pop(job.name, None)
        if proc is not None and proc.is_alive:
            proc.interrupt("deleted")

    # -- the Job controller --------------------------------------------------------------------------
    def _end_later(self, job: Job, delay_ms: int, state: str, reason: str) -> Generator[Any, Any, None]:
        """J1/J4: the Job controller's sync batch later, the Job fails or is suspended, unless it ended or was
        deleted meanwhile (``kill`` forgets a deleted Job's process)."""
        yield self.env.timeout(delay_ms)
        if job.running and job.name in self.procs:
            self.kill(job)
            self.cluster.finish_job(job, state, reason)

    def _run_job(self, job: Job) -> Generator[Any, Any, None]:
        try:
            pipeline = self.pipeline_of(job)
            consecutive_failures = 0
            while job.running:
                job.pod_count += 1
                pod = _Pod(f"{job.name}-{self.rng.suffix()}")
                self.cluster.record({"seq": 0, "t": 0, "event": "pod_created", "object": job.object_key,
                                     "job": job.name, "pod": pod.name, "pipeline": job.pipeline,
                                     "attempt": job.pod_count})
                succeeded = yield from self._run_pod(job, pipeline, pod)
                if not job.running:
                    return
                if succeeded:
                    yield self.env.timeout(_ms(self.timing.job_sync_batch_s))
                    self.cluster.finish_job(job, "complete")
                    return
                job.failed_pods += 1
                consecutive_failures += 1
                if job.failed_pods > job.backoff_limit:
                    yield self.env.timeout(_ms(self.timing.job_sync_batch_s))
                    self.cluster.finish_job(job, "failed", "BackoffLimitExceeded")
                    return
                yield self.env.timeout(_ms(self._pod_backoff_s(consecutive_failures)))
        except simpy.Interrupt:
            running = self.running.pop(job.name, None)
            if running is not None:
                self.cluster.emit("container_exited", object=job.object_key, job=job.name, pod=running.pod,
                                  pipeline=job.pipeline, container=running.container, attempt=running.attempt,
                                  exit_code=KILLED_EXIT_CODE, reason="Killed")
        finally:
            self.procs.pop(job.name, None)

    def _pod_backoff_s(self, consecutive_failures: int) -> float:
        """J2, Never: the Job controller's delay before the next pod after the n-th consecutive failure."""
        delay = min(self.timing.job_backoff_base_s * 2.0 ** (consecutive_failures - 1), self.timing.job_backoff_cap_s)
        return max(delay, self.timing.job_backoff_min_s)

    def _restart_limit_reached(self, job: Job, restarts: int) -> bool:
        """J1, OnFailure: the pod's summed restart count reaches backoffLimit (> 0 when the limit is 0)."""
        return restarts > 0 if job.backoff_limit == 0 else restarts >= job.backoff_limit

    def _kubelet_delay_s(self, failures: int) -> float:
        """J2, OnFailure: the kubelet's delay before the n-th restart of a container (the first is immediate)."""
        if failures == 1:
            return 0.0
        return min(self.timing.kubelet_backoff_base_s * 2.0 ** (failures - 2), self.timing.kubelet_backoff_cap_s)

    # -- the kubelet ---------------------------------------------------------------------------------
    def _steps(self, job: Job, pipeline: Pipeline | None) -> list[str | Container]:
        user: list[str | Container] = list(pipeline.spec.containers) if pipeline is not None else []
        if job.action == "configure":
            return ["reader", *user, "work-writer", "status-writer"]
        tail: list[str | Container] = ["status-writer"] if self.profile.delete_has_status_writer else []
        return ["reader", *user, *tail]

    def _run_pod(self, job: Job, pipeline: Pipeline | None, pod: _Pod) -> Generator[Any, Any, bool]:
        """Run one pod; True when every step exited 0, False when the pod failed (Never)."""
        volumes = PodVolumes(input_object={})
        for step in self._steps(job, pipeline):
            name = step if isinstance(step, str) else step.name
            attempt = 0
            while True:
                attempt += 1
                exit_code = yield from self._run_step(job, pipeline, pod, step, attempt, volumes)
                if exit_code == 0:
                    break
                if job.restart_policy == "Never":
                    return False
                yield from self._restart_in_place(job, pod, name)
        return True

    def _run_step(self, job: Job, pipeline: Pipeline | None, pod: _Pod, step: str | Container, attempt: int,
                  volumes: PodVolumes) -> Generator[Any, Any, int]:
        """One execution of one step (W2): started, its run time, what a Kratix step does, exited."""
        cluster = self.cluster
        name = step if isinstance(step, str) else step.name
        self.running[job.name] = _Running(pod.name, name, attempt)
        cluster.record({"seq": 0, "t": 0, "event": "container_started", "object": job.object_key, "job": job.name,
                        "pod": pod.name, "pipeline": job.pipeline, "container": name, "attempt": attempt})
        exit_code, reason, duration_ms = self._execute(job, pipeline, step, attempt, volumes)
        yield Timeout(self.env, duration_ms)
        obj = cluster.objects.get(job.object_key)
        if isinstance(step, str):
            if step == "reader":
                self.steps.reader(obj, volumes)
            else:
                exit_code, reason = self._kratix_step(step, job, obj, volumes)
        del self.running[job.name]
        exited = {"seq": 0, "t": 0, "event": "container_exited", "object": job.object_key, "job": job.name,
                  "pod": pod.name, "pipeline": job.pipeline, "container": name, "attempt": attempt,
                  "exit_code": exit_code}
        if reason is not None:
            exited["reason"] = reason
        cluster.record(exited)
        return exit_code

    def _execute(self, job: Job, pipeline: Pipeline | None, step: str | Container, attempt: int,
                 volumes: PodVolumes) -> tuple[int, str | None, int]:
        if isinstance(step, str):
            return self._kratix_outcome
        assert pipeline is not None
        obj = self.cluster.objects.get(job.object_key)
        promise = self.promise_of(obj) if obj is not None else ""
        key = (job.object_key, f"{job.workflow}/{job.action}/{job.pipeline}/{step.name}")
        self.executions[key] = self.executions.get(key, 0) + 1
        ctx = StepContext(job.object_key, promise, job.workflow, job.action, pipeline, step,
                          self.executions[key], attempt)
        outcome = self.executor.start(ctx, volumes)
        return outcome.exit_code, outcome.reason, outcome.duration_ms

    def _kratix_step(self, step: str, job: Job, obj: KObject | None, volumes: PodVolumes) -> tuple[int, str | None]:
        if step == "work-writer":
            return self.steps.work_writer(job, obj, volumes)
        last = self._is_last(job)
        return self.steps.status_writer(job, obj, volumes, last)

    def _is_last(self, job: Job) -> bool:
        obj = self.cluster.objects.get(job.object_key)
        return obj is not None and job.pipeline_index == len(obj.phases) - 1

    def _restart_in_place(self, job: Job, pod: _Pod, container: str) -> Generator[Any, Any, None]:
        """OnFailure: kubelet back-off for this container, then a restart; J1's limit counts restarts."""
        now = int(self.env.now)
        backoff = pod.backoff.setdefault(container, _KubeletBackoff())
        if backoff.failures and now - backoff.last_failure_ms > _ms(self.timing.kubelet_backoff_reset_s):
            backoff.failures = 0
        backoff.failures += 1
        backoff.last_failure_ms = now
        delay_s = self._kubelet_delay_s(backoff.failures)
        pod.restarts += 1
        if self._restart_limit_reached(job, pod.restarts):
            delay_ms = _ms(delay_s + self.timing.job_sync_batch_s)
            self.env.process(self._end_later(job, delay_ms, "failed", "BackoffLimitExceeded"))
        yield self.env.timeout(_ms(delay_s))
