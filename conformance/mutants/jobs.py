"""Mutants of the Kubernetes Job, pod and kubelet rules (J1-J4)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from conformance.mutants.base import MutantSimulation, mutant
from sim.cluster.kube import JobRunner, _Pod
from sim.cluster.objects import Job
from sim.executors.base import PodVolumes
from sim.model.promise import Pipeline
from sim.profiles import Profile, with_timing


# -- J1 -------------------------------------------------------------------------------------------------
class _OffByOneRunner(JobRunner):
    def _restart_limit_reached(self, job: Job, restarts: int) -> bool:
        return restarts > job.backoff_limit  # the reference: >= (and > 0 when the limit is 0)


@mutant("onfailure-limit-off-by-one", "J1")
class OnFailureLimitOffByOne(MutantSimulation):
    """J1: with restartPolicy OnFailure the Job fails only when the pod's restarts exceed backoffLimit, one
    restart too late (the Never rule applied to restart counts)."""

    runner_class = _OffByOneRunner


# -- J2 -------------------------------------------------------------------------------------------------
class _ConstantBackoffRunner(JobRunner):
    def _pod_backoff_s(self, consecutive_failures: int) -> float:
        return self.timing.job_backoff_base_s  # no doubling


@mutant("never-backoff-constant", "J2")
class NeverBackoffConstant(MutantSimulation):
    """J2: with restartPolicy Never the Job controller waits a constant 10 s before every new pod instead of
    10 s doubling per consecutive failure."""

    runner_class = _ConstantBackoffRunner


@mutant("never-backoff-uncapped", "J2")
class NeverBackoffUncapped(MutantSimulation):
    """J2: with restartPolicy Never the Job controller's pod back-off keeps doubling past its 600 s cap."""

    def load_profile(self, name: str) -> Profile:
        return with_timing(super().load_profile(name), job_backoff_cap_s=1e9)


class _JobScheduleKubeletRunner(JobRunner):
    def _kubelet_delay_s(self, failures: int) -> float:
        # the Job controller's schedule: base * 2^(n-1), capped at 600 s; the reference restarts at once first
        return min(self.timing.job_backoff_base_s * 2.0 ** (failures - 1), self.timing.job_backoff_cap_s)


@mutant("onfailure-uses-job-backoff", "J2")
class OnFailureUsesJobBackoff(MutantSimulation):
    """J2: with restartPolicy OnFailure the kubelet waits on the Job controller's schedule (10 s, 20 s, ...)
    instead of restarting the failed container at once and then after 10 s, 20 s, ..."""

    runner_class = _JobScheduleKubeletRunner


# -- J3 -------------------------------------------------------------------------------------------------
class _WholePodRunner(JobRunner):
    def _run_pod(self, job: Job, pipeline: Pipeline | None, pod: _Pod) -> Generator[Any, Any, bool]:
        attempts: dict[str, int] = {}
        while True:
            volumes = PodVolumes(input_object={})  # the restart begins with empty volumes
            failed: str | None = None
            for step in self._steps(job, pipeline):
                name = step if isinstance(step, str) else step.name
                attempt = attempts[name] = attempts.get(name, 0) + 1
                exit_code = yield from self._run_step(job, pipeline, pod, step, attempt, volumes)
                if exit_code != 0:
                    failed = name
                    break
            if failed is None:
                return True
            if job.restart_policy == "Never":
                return False
            yield from self._restart_in_place(job, pod, failed)


@mutant("onfailure-reruns-whole-pod", "J3")
class OnFailureRerunsWholePod(MutantSimulation):
    """J3: with restartPolicy OnFailure a failed container makes the pod run its whole sequence again from
    reader, with empty volumes, instead of restarting only that container in place."""

    runner_class = _WholePodRunner


# -- J4 -------------------------------------------------------------------------------------------------
class _SuspendDoesNotStopRunner(JobRunner):
    def _end_later(self, job: Job, delay_ms: int, state: str, reason: str) -> Generator[Any, Any, None]:
        if state != "suspended":
            yield from super()._end_later(job, delay_ms, state, reason)
            return
        yield self.env.timeout(delay_ms)
        if job.running:
            self.cluster.finish_job(job, state, reason)  # the pod is not stopped


@mutant("suspended-job-keeps-running", "J4")
class SuspendedJobKeepsRunning(MutantSimulation):
    """J4: suspending a Job marks it Suspended but does not stop its pod, which runs its remaining containers
    (and writes their Work and status)."""

    runner_class = _SuspendDoesNotStopRunner
