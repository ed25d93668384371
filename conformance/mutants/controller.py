"""Mutants of the controller rules (K1-K3)."""

from __future__ import annotations

from dataclasses import replace

from conformance.mutants.base import MutantSimulation, mutant
from sim.engine import decide as d
from sim.engine.controller import Controller
from sim.profiles import Profile, with_timing


# -- K1 -------------------------------------------------------------------------------------------------
@mutant("no-job-creation-hold", "K1")
class NoJobCreationHold(MutantSimulation):
    """K1: creating a Job does not hold the worker for minimumPeriodBetweenCreatingPipelineResources (1.1 s),
    so one worker creates Jobs back to back."""

    def load_profile(self, name: str) -> Profile:
        return with_timing(super().load_profile(name), job_creation_hold_s=0.0)


# -- K2 -------------------------------------------------------------------------------------------------
@mutant("error-backoff-uncapped", "K2")
class ErrorBackoffUncapped(MutantSimulation):
    """K2: the per-item error back-off keeps doubling past controller-runtime's 1000 s cap."""

    def load_profile(self, name: str) -> Profile:
        return with_timing(super().load_profile(name), error_backoff_cap_s=1e9)


class _NoDeletePollController(Controller):
    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        if decision.outcome == "delete-running":
            return replace(decision, requeue_after_ms=None)
        return decision


@mutant("delete-job-not-polled", "K2")
class DeleteJobNotPolled(MutantSimulation):
    """K2: a running delete Job is not polled every 15 s; the controller only hears of it when the Job
    changes."""

    controller_class = _NoDeletePollController


# -- K3 -------------------------------------------------------------------------------------------------
class _NoInitialListController(Controller):
    def start(self, initial: bool = False) -> None:
        if initial:
            super().start(initial)
            return
        self.running = True
        self.cluster.emit("controller_started")
        self.started = set()
        # the bug: no initial list, so nothing is queued until some object changes


@mutant("no-initial-reconcile-on-restart", "K3")
class NoInitialReconcileOnRestart(MutantSimulation):
    """K3: after a controller restart objects are not listed and reconciled once; only later changes queue
    them."""

    controller_class = _NoInitialListController
