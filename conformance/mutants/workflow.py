"""Mutants of the configure workflow rules (W1-W16) and workflow control (C1)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any

from conformance.mutants.base import MutantSimulation, creates_job, matches, mutant, newest, start
from sim.cluster.kube import JobRunner, _Pod, _Running
from sim.cluster.objects import (
    CONFIGURE_COMPLETED,
    MANUAL_LABEL,
    PROMISE_AVAILABLE,
    RECONCILE_RESOURCES_LABEL,
    RUN_FROM_START_LABEL,
    SUSPENDED_LABEL,
    Job,
    KObject,
    combined_hash,
    go_json,
    md5_hex,
)
from sim.cluster.steps import KratixSteps, StepResult
from sim.engine import decide as d
from sim.engine.controller import Controller
from sim.executors.base import STATUS_FILE, PodVolumes
from sim.model.promise import Container, Pipeline
from sim.profiles import Profile


# -- W1 -------------------------------------------------------------------------------------------------
class _ParallelPipelinesController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        job = newest(obs)
        if (decision.outcome == "wait-running" and job is not None and job.running and not job.suspend_requested
                and matches(obs, job) and job.pipeline_index < len(obs.configure) - 1):
            return start(obs, job.pipeline_index + 1, "next-pipeline")
        return decision


@mutant("pipelines-in-parallel", "W1")
class PipelinesInParallel(MutantSimulation):
    """W1: the next Pipeline's Job is created as soon as the previous one is running, not after it completed."""

    controller_class = _ParallelPipelinesController


# -- W2 -------------------------------------------------------------------------------------------------
class _ParallelContainersRunner(JobRunner):
    """All user containers of a pod start together (as if they were sidecars, not init containers)."""

    def _run_pod(self, job: Job, pipeline: Pipeline | None, pod: _Pod) -> Generator[Any, Any, bool]:
        volumes = PodVolumes(input_object={})
        steps = self._steps(job, pipeline)
        user: list[str | Container] = [s for s in steps if not isinstance(s, str)]
        tail: list[list[str | Container]] = [[s] for s in steps if isinstance(s, str) and s != "reader"]
        groups: list[list[str | Container]] = [["reader"], user, *tail]
        for group in (g for g in groups if g):
            pending = list(group)
            attempt = 0
            while pending:
                attempt += 1
                outcomes: list[tuple[str | Container, str, int, str | None, int]] = []
                for step in pending:
                    name = step if isinstance(step, str) else step.name
                    self.running[job.name] = _Running(pod.name, name, attempt)
                    self.cluster.emit("container_started", object=job.object_key, job=job.name, pod=pod.name,
                                      pipeline=job.pipeline, container=name, attempt=attempt)
                    outcomes.append((step, name, *self._execute(job, pipeline, step, attempt, volumes)))
                yield self.env.timeout(max(o[4] for o in outcomes))
                obj = self.cluster.objects.get(job.object_key)
                failed: list[str | Container] = []
                for step, name, exit_code, reason, _duration in outcomes:
                    if step == "reader":
                        self.steps.reader(obj, volumes)
                    elif isinstance(step, str):
                        exit_code, reason = self._kratix_step(step, job, obj, volumes)
                    self.cluster.emit("container_exited", object=job.object_key, job=job.name, pod=pod.name,
                                      pipeline=job.pipeline, container=name, attempt=attempt, exit_code=exit_code,
                                      reason=reason)
                    if exit_code != 0:
                        failed.append(step)
                self.running.pop(job.name, None)
                if failed and job.restart_policy == "Never":
                    return False
                if failed:
                    first = failed[0]
                    yield from self._restart_in_place(job, pod, first if isinstance(first, str) else first.name)
                pending = failed
        return True


@mutant("containers-in-parallel", "W2")
class ContainersInParallel(MutantSimulation):
    """W2: a pod's user containers all start at once instead of one at a time, each after the previous
    exited 0."""

    runner_class = _ParallelContainersRunner


# -- W3 -------------------------------------------------------------------------------------------------
class _NoWaitOnSpecChangeController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        job = newest(obs)
        if decision.outcome == "wait-running" and job is not None and job.running and job.hash != obs.hash:
            return start(obs, 0, "start")
        return decision


@mutant("spec-change-starts-run-at-once", "W3")
class SpecChangeStartsRunAtOnce(MutantSimulation):
    """W3: a spec change starts the new run's Job while the old run's Job is still running (two Jobs of one
    object in flight)."""

    controller_class = _NoWaitOnSpecChangeController


# -- W4 -------------------------------------------------------------------------------------------------
class _NextAfterFailureController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        job = newest(obs)
        if decision.outcome == "halted" and job is not None and job.pipeline_index < len(obs.configure) - 1:
            return start(obs, job.pipeline_index + 1, "next-pipeline")
        return decision


@mutant("next-pipeline-after-failure", "W4")
class NextPipelineAfterFailure(MutantSimulation):
    """W4: a failed Job is treated like a completed one, so the run goes on with the next Pipeline."""

    controller_class = _NextAfterFailureController


# -- W5 -------------------------------------------------------------------------------------------------
class _ContinueAfterSpecChangeController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        job = newest(obs)
        labels = obs.obj.labels
        if (decision.outcome == "start" and job is not None and job.state == "complete" and job.hash != obs.hash
                and MANUAL_LABEL not in labels and RUN_FROM_START_LABEL not in labels
                and job.pipeline_index < len(obs.configure) - 1
                and obs.configure[job.pipeline_index] == job.pipeline):
            return start(obs, job.pipeline_index + 1, "next-pipeline")
        return decision


@mutant("spec-change-continues-run", "W5")
class SpecChangeContinuesRun(MutantSimulation):
    """W5: after a spec change the new run continues with the Pipeline after the newest completed Job instead
    of starting at pipeline 0."""

    controller_class = _ContinueAfterSpecChangeController


# -- W6 -------------------------------------------------------------------------------------------------
class _KeepManualLabelController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        kept = tuple(a for a in decision.actions if a != d.RemoveLabel(MANUAL_LABEL))
        return replace(decision, actions=kept)


@mutant("manual-label-never-removed", "W6")
class ManualLabelNeverRemoved(MutantSimulation):
    """W6: the manual-reconciliation label is never removed when pipeline 0 is started for it, so it keeps
    re-triggering."""

    controller_class = _KeepManualLabelController


class _NoSuspendController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        if decision.outcome == "suspend-for-manual":
            return d.Decision("wait-running")
        return decision


@mutant("manual-label-does-not-suspend", "W6")
class ManualLabelDoesNotSuspend(MutantSimulation):
    """W6: the manual-reconciliation label waits for the running Job to finish instead of suspending it."""

    controller_class = _NoSuspendController


# -- W7 -------------------------------------------------------------------------------------------------
@mutant("spec-change-suspends-job", "W7")
class SpecChangeSuspendsJob(MutantSimulation):
    """W7: in kratix-2026.08 a spec change suspends the running Job (the kratix-2025 behaviour) instead of
    waiting for it."""

    def load_profile(self, name: str) -> Profile:
        return replace(super().load_profile(name), spec_change_suspends=True)


# -- W8 -------------------------------------------------------------------------------------------------
class _EarlyCompletionRunner(JobRunner):
    def _is_last(self, job: Job) -> bool:
        obj = self.cluster.objects.get(job.object_key)
        return obj is not None and job.pipeline_index >= len(obj.phases) - 2  # off by one


@mutant("completed-before-last-pipeline", "W8")
class CompletedBeforeLastPipeline(MutantSimulation):
    """W8: the status-writer's "is this the last Pipeline" test is off by one, so ConfigureWorkflowCompleted
    turns True one Pipeline early."""

    runner_class = _EarlyCompletionRunner


# -- W9 -------------------------------------------------------------------------------------------------
class _NoRetryAfterFailureController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        return super().decide(replace(obs, reconcile_after_failure=False))


@mutant("interval-ignores-reconcile-after-failure", "W9")
class IntervalIgnoresReconcileAfterFailure(MutantSimulation):
    """W9: the interval's age test only accepts a True condition, so a failed workflow is never retried on the
    interval although reconcileAfterFailure is true."""

    controller_class = _NoRetryAfterFailureController


class _BoundaryRequeueController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        if decision.outcome not in ("done", "halted") or decision.requeue_after_ms is None:
            return decision
        condition = obs.obj.condition(CONFIGURE_COMPLETED)
        if decision.outcome == "halted" or condition is None:
            written_ms = obs.now_ms // 1000 * 1000  # this reconcile writes the condition
        else:
            written_ms = condition.last_transition_ms
        # The engine assumes no latency: the requeue lands exactly `interval` after the timestamp, where the
        # strict age test is still false; then it waits another full interval.
        remaining = written_ms + obs.interval_ms - obs.now_ms
        return replace(decision, requeue_after_ms=remaining if remaining > 0 else obs.interval_ms)


@mutant("interval-requeue-on-boundary", "W9")
class IntervalRequeueOnBoundary(MutantSimulation):
    """W9: the requeue lands exactly one interval after lastTransitionTime, where the strict age test is false,
    so the workflow re-runs only every two intervals."""

    controller_class = _BoundaryRequeueController


# -- W10 ------------------------------------------------------------------------------------------------
class _RestartAwareController(Controller):
    """Remembers which objects have not been reconciled since the last controller restart."""

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.after_restart: set[str] = set()

    def start(self, initial: bool = False) -> None:
        if not initial:
            self.after_restart = set(self.cluster.objects)
        super().start(initial)

    def first_after_restart(self, obs: d.Observation, decision: d.Decision) -> bool:
        key = obs.obj.key
        if key not in self.after_restart or decision.outcome == "waiting-for-promise":
            return False
        self.after_restart.discard(key)
        return True


class _RerunOnRestartController(_RestartAwareController):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        if self.first_after_restart(obs, decision) and obs.workflow == "resource" and decision.outcome == "done":
            return start(obs, 0, "start")
        return decision


@mutant("restart-reruns-completed", "W10")
class RestartRerunsCompleted(MutantSimulation):
    """W10: after a controller restart, a resource whose workflow had completed is run again from pipeline 0
    with no trigger."""

    controller_class = _RerunOnRestartController


@mutant("hash-covers-labels", "W10")
class HashCoversLabels(MutantSimulation):
    """W10: kratix.io/hash covers the resource's labels as well as its spec, so a label-only change (such as
    the workflow-suspended label) looks like a spec change and re-runs the workflow."""

    def hash_for(self, obj: KObject) -> str:
        if obj.kind == "promise":
            return super().hash_for(obj)
        return combined_hash(self.promise_hash(), md5_hex(obj.spec_hash + go_json(obj.labels)))


# -- W11 ------------------------------------------------------------------------------------------------
class _ResumeFromZeroController(_RestartAwareController):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        if self.first_after_restart(obs, decision) and decision.outcome == "next-pipeline":
            return start(obs, 0, "start")
        return decision


@mutant("restart-resumes-from-zero", "W11")
class RestartResumesFromZero(MutantSimulation):
    """W11: after a controller restart a workflow caught between two Pipelines starts again at pipeline 0
    instead of continuing with the next Pipeline."""

    controller_class = _ResumeFromZeroController


# -- W12 ------------------------------------------------------------------------------------------------
class _InstallOnlyGateController(Controller):
    def observe(self, obj: KObject) -> d.Observation:
        obs = super().observe(obj)  # the kratix-2025 gate: first install and restarts only
        return replace(obs, gate_open=obs.controller_started)


class _EarlyFanOutController(_InstallOnlyGateController):
    """Fans out when the Promise's run starts; resources wait only for the first install (not for the update)."""

    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        obj = obs.obj
        updated = (obj.observed_generation is not None and obj.observed_generation != obj.generation) \
            or RECONCILE_RESOURCES_LABEL in obj.labels
        if obs.workflow == "promise" and updated and creates_job(decision):
            return replace(decision, actions=(*decision.actions, d.FanOut()))
        return decision


@mutant("fanout-before-promise-workflow", "W12")
class FanOutBeforePromiseWorkflow(MutantSimulation):
    """W12: a Promise update re-runs its resources at once, when the Promise's configure workflow starts,
    not after it completed."""

    controller_class = _EarlyFanOutController


# -- W13 ------------------------------------------------------------------------------------------------
class _NoGateController(Controller):
    def observe(self, obj: KObject) -> d.Observation:
        return replace(super().observe(obj), controller_started=True, gate_open=True)


@mutant("no-promise-gating", "W13")
class NoPromiseGating(MutantSimulation):
    """W13: resource workflows start without waiting for the Promise's configure workflow to complete."""

    controller_class = _NoGateController


@mutant("resources-ignore-unavailable-promise", "W13")
class ResourcesIgnoreUnavailablePromise(MutantSimulation):
    """W13: resource workflows wait for the Promise only at install and after restarts, not while a later run
    of its configure workflow (update, interval, manual) leaves it Unavailable."""

    controller_class = _InstallOnlyGateController


class _IgnoresOwnMarkController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        if decision.outcome != "promise-available":
            return decision
        conditions = {k: v for k, v in obs.obj.conditions.items() if k != PROMISE_AVAILABLE}
        return super().decide(replace(obs, obj=replace(obs.obj, conditions=conditions)))


@mutant("resource-runs-while-marked-unavailable", "W13")
class ResourceRunsWhileMarkedUnavailable(MutantSimulation):
    """W13: a resource marked PromiseAvailable=False goes on with its workflow once its Promise is available,
    without first marking itself available again (Kratix ends that reconcile with the write)."""

    controller_class = _IgnoresOwnMarkController


# -- W14 ------------------------------------------------------------------------------------------------
@mutant("keeps-all-jobs", "W14")
class KeepsAllJobs(MutantSimulation):
    """W14: finished Jobs are never pruned; numberOfJobsToKeep is ignored."""

    def prune_jobs(self, obj: KObject) -> None:
        return None


@mutant("prunes-newest-jobs", "W14")
class PrunesNewestJobs(MutantSimulation):
    """W14: retention keeps the oldest numberOfJobsToKeep Jobs of each Pipeline and deletes the newest."""

    def prune_jobs(self, obj: KObject) -> None:
        by_pipeline: dict[tuple[str, str], list[Job]] = {}
        for job in self.cluster.jobs_of(obj.key):
            by_pipeline.setdefault((job.action, job.pipeline), []).append(job)
        for _, jobs in sorted(by_pipeline.items()):
            for job in jobs[self.jobs_to_keep:]:
                if not job.running:
                    self.delete_job(job, "retention")


# -- W15 ------------------------------------------------------------------------------------------------
class _WorkOnSuspendSteps(KratixSteps):
    def work_writer(self, job: Job, obj: KObject | None, volumes: PodVolumes) -> StepResult:
        result = super().work_writer(job, obj, volumes)
        control, _ = self._control(volumes)
        if result[0] == 0 and control is not None and obj is not None:
            self.cluster.write_work(obj, job.pipeline, dict(volumes.output), [])
        return result


class _WorkOnSuspendRunner(JobRunner):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steps = _WorkOnSuspendSteps(self.cluster, self.profile)


@mutant("writes-work-on-suspend", "W15")
class WritesWorkOnSuspend(MutantSimulation):
    """W15: the work-writer writes the Pipeline's Work even when workflow-control.yaml asked to suspend or
    retry."""

    runner_class = _WorkOnSuspendRunner


# -- W16 ------------------------------------------------------------------------------------------------
class _KratixKeySteps(KratixSteps):
    def status_writer(self, job: Job, obj: KObject | None, volumes: PodVolumes, last: bool) -> StepResult:
        status = volumes.metadata.get(STATUS_FILE)
        if not isinstance(status, dict) or "kratix" not in status:
            return super().status_writer(job, obj, volumes, last)
        volumes.metadata[STATUS_FILE] = {k: v for k, v in status.items() if k != "kratix"}
        try:
            result = super().status_writer(job, obj, volumes, last)
        finally:
            volumes.metadata[STATUS_FILE] = status
        if result[0] == 0 and obj is not None:
            self.cluster.merge_user_status(obj, {"kratix": status["kratix"]})
        return result


class _KratixKeyRunner(JobRunner):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steps = _KratixKeySteps(self.cluster, self.profile)


@mutant("merges-kratix-status-key", "W16")
class MergesKratixStatusKey(MutantSimulation):
    """W16: the status-writer merges a top-level `kratix` key from status.yaml instead of failing the
    Pipeline."""

    runner_class = _KratixKeyRunner


# -- C1 -------------------------------------------------------------------------------------------------
class _RetryFromZeroController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        if decision.outcome == "retry-suspended":
            clear = (d.RemoveLabel(SUSPENDED_LABEL),) if SUSPENDED_LABEL in obs.obj.labels else ()
            return start(obs, 0, "retry-suspended", *clear)
        return decision


@mutant("retry-after-restarts-at-zero", "C1")
class RetryAfterRestartsAtZero(MutantSimulation):
    """C1: when retryAfter has passed, the workflow re-runs from pipeline 0 instead of re-running the
    Pipeline that asked to retry."""

    controller_class = _RetryFromZeroController


class _ResumeNextController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        if decision.outcome == "resume-suspended":
            at = next(i for i, p in enumerate(obs.obj.phases) if p.phase == "Suspended")
            if at + 1 < len(obs.configure):
                return start(obs, at + 1, "resume-suspended")
        return decision


@mutant("resume-skips-suspended-pipeline", "C1")
class ResumeSkipsSuspendedPipeline(MutantSimulation):
    """C1: removing the workflow-suspended label resumes at the Pipeline after the suspended one instead of at
    the suspended Pipeline."""

    controller_class = _ResumeNextController
