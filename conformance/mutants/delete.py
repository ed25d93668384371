"""Mutants of the delete workflow rules (D1-D6)."""

from __future__ import annotations

from dataclasses import replace

from conformance.mutants.base import MutantSimulation, mutant, newest
from sim.cluster.objects import (
    DELETE_COMPLETED,
    DELETE_WORKFLOWS_FINALIZER,
    WORKFLOWS_CLEANUP_FINALIZER,
    Job,
    KObject,
)
from sim.engine import decide as d
from sim.engine.controller import Controller
from sim.model.promise import Pipeline, WorkflowAction, WorkflowType
from sim.profiles import Profile

DELETE_RETRIES = 6


def _create_delete(outcome: str, index: int = 0) -> d.Decision:
    return d.Decision(outcome, (d.SetCondition(DELETE_COMPLETED, "False", "DeleteWorkflowInProgress",
                                               "The Delete Pipeline is running"),
                                d.CreateJob("delete", index)))


# -- D1 -------------------------------------------------------------------------------------------------
class _EveryDeletePipelineController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        job = newest(obs, "delete")
        if decision.outcome == "delete-completed" and job is not None and job.pipeline_index < len(obs.delete) - 1:
            return _create_delete("start-delete", job.pipeline_index + 1)
        return decision


@mutant("runs-every-delete-pipeline", "D1")
class RunsEveryDeletePipeline(MutantSimulation):
    """D1: every delete Pipeline runs, one after the other, instead of only the first."""

    controller_class = _EveryDeletePipelineController

    def pipelines(self, workflow: WorkflowType, action: WorkflowAction) -> list[Pipeline]:
        return self.promise.pipelines(workflow, action)


# -- D2 -------------------------------------------------------------------------------------------------
@mutant("delete-ignores-running-configure", "D2")
class DeleteIgnoresRunningConfigure(MutantSimulation):
    """D2: in kratix-2026.08 the delete Job is created while a configure Job of the object is still running
    (the kratix-2025 behaviour)."""

    def load_profile(self, name: str) -> Profile:
        return replace(super().load_profile(name), delete_waits_for_configure=False)


# -- D3 -------------------------------------------------------------------------------------------------
class _NewDeleteJobPerRetryController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        failed = [j for j in obs.jobs if j.action == "delete" and j.hash == obs.hash and j.state == "failed"]
        if decision.outcome == "delete-failed" and len(failed) <= DELETE_RETRIES:
            return _create_delete("start-delete")
        return decision


@mutant("delete-retries-with-new-jobs", "D3")
class DeleteRetriesWithNewJobs(MutantSimulation):
    """D3: the delete workflow retries by creating a new delete Job (each with backoffLimit 0) up to six
    times, instead of one delete Job retrying inside itself."""

    controller_class = _NewDeleteJobPerRetryController

    def create_job(self, obj: KObject, action: WorkflowAction, index: int) -> Job:
        job = super().create_job(obj, action, index)
        if action == "delete":
            job.backoff_limit = 0
        return job


# -- D4 -------------------------------------------------------------------------------------------------
class _RecreateFailedDeleteController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        if decision.outcome == "delete-failed":
            return _create_delete("start-delete")
        return decision


@mutant("delete-recreated-after-failure", "D4")
class DeleteRecreatedAfterFailure(MutantSimulation):
    """D4: after the delete Job fails, the next reconcile creates a new delete Job instead of staying stuck
    until a manual reconciliation or a spec change."""

    controller_class = _RecreateFailedDeleteController


# -- D5 -------------------------------------------------------------------------------------------------
class _CleanupOrderController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        if decision.outcome == "work-cleanup" and WORKFLOWS_CLEANUP_FINALIZER in obs.obj.finalizers:
            return d.Decision("workflows-cleanup", (d.DeleteJobs(), d.RemoveFinalizer(WORKFLOWS_CLEANUP_FINALIZER)))
        return decision


@mutant("finalizers-out-of-order", "D5")
class FinalizersOutOfOrder(MutantSimulation):
    """D5: the workflows-cleanup finalizer (delete the Jobs) is handled before work-cleanup (delete the
    Works)."""

    controller_class = _CleanupOrderController


class _SuspendedDeleteCompletesController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        if decision.outcome in ("delete-suspended", "delete-suspended-retry-later"):
            return d.Decision("delete-completed", (
                d.SetCondition(DELETE_COMPLETED, "True", "PipelinesExecutedSuccessfully",
                               "The Delete Pipeline completed"),
                d.RemoveFinalizer(DELETE_WORKFLOWS_FINALIZER)))
        return decision


@mutant("suspended-delete-completes", "D5")
class SuspendedDeleteCompletes(MutantSimulation):
    """D5: a delete Pipeline that asked to suspend or retry (section 4 with C1) is recorded as suspended, but
    the deletion goes on (finalizers removed, Works deleted, object gone) instead of waiting for a run that
    asks nothing."""

    controller_class = _SuspendedDeleteCompletesController


# -- D6 -------------------------------------------------------------------------------------------------
class _ResourcesFirstController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        waiting = ("start-delete", "delete-waits-for-resources", "delete-waits-for-configure")
        if obs.workflow == "promise" and decision.outcome in waiting and obs.resources_remaining:
            return d.Decision("deleting-resources", (d.DeleteResources(),),
                              requeue_after_ms=round(obs.profile.timing.delete_poll_s * 1000))
        return decision


@mutant("promise-resources-deleted-first", "D6")
class PromiseResourcesDeletedFirst(MutantSimulation):
    """D6: deleting a Promise deletes its resources first and runs the Promise's delete Pipeline only after
    they are gone."""

    controller_class = _ResourcesFirstController
