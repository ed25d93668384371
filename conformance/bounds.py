"""How long a scenario may take to settle after its last fault (the liveness bound), from its Promise,
its behaviour and the profile's timing. Deliberately generous: the worst case of every retry, twice."""

from __future__ import annotations

from typing import Any

from sim.durations import parse_go_duration
from sim.model.promise import WORKFLOW_TYPES, Pipeline, Promise
from sim.profiles import Profile, get_profile
from sim.scenario import Scenario

SLACK_S = 60.0


def _retry_after_s(control: dict[str, Any] | None) -> float:
    """A declared ``retryAfter`` (C1) delays convergence by that much."""
    try:
        return parse_go_duration(str(control["retryAfter"])) if control and control.get("retryAfter") else 0.0
    except ValueError:
        return 0.0


def _retries(control: dict[str, Any] | list[dict[str, Any] | None] | None) -> tuple[int, float]:
    """How many retries a behaviour's workflow control asks for and their summed delays (one per entry of a
    list; a single mapping asks once per run, counted once)."""
    delays = [_retry_after_s(c) for c in (control if isinstance(control, list) else [control])]
    return sum(1 for d in delays if d), sum(delays)


def _pipeline_worst_s(pipeline: Pipeline, key_prefix: str, scenario: Scenario, profile: Profile,
                      default_backoff: int) -> float:
    timing = profile.timing
    behaviour = scenario.spec.behaviour
    user_s = sum(behaviour.for_key(f"{key_prefix}/{pipeline.name}/{c.name}").duration for c in pipeline.spec.containers)
    one_pod_s = user_s + 3 * timing.kratix_step_s
    limit = pipeline.spec.jobOptions.backoffLimit
    limit = default_backoff if limit is None else limit
    policy = profile.restart_policy_override or pipeline.spec.restartPolicy or profile.default_restart_policy
    if policy == "Never":
        delays = sum(max(timing.job_backoff_min_s, min(timing.job_backoff_base_s * 2.0**n, timing.job_backoff_cap_s))
                     for n in range(limit))
    else:
        delays = sum(min(timing.kubelet_backoff_base_s * 2.0 ** (n - 1), timing.kubelet_backoff_cap_s)
                     for n in range(1, limit + 1))
    retries, retry_s = max((_retries(b.workflowControl) for b in behaviour.containers.values()), default=(0, 0.0))
    worst_s: float = (limit + 1) * one_pod_s + delays + 2 * timing.job_sync_batch_s + timing.job_creation_hold_s
    return worst_s + retry_s + retries * (one_pod_s + timing.job_creation_hold_s)


def heal_bound_s(scenario: Scenario, promise: Promise) -> float:
    """Seconds after the last fault within which every object must have converged."""
    profile = get_profile(scenario.spec.kratix.profile)
    default_backoff = scenario.spec.kratix.defaultBackoffLimit
    backoff = profile.default_backoff_limit if default_backoff is None else default_backoff
    objects = 1 + sum(r.count for r in scenario.spec.resources)
    total = 0.0
    for workflow in WORKFLOW_TYPES:
        for action in ("configure", "delete"):
            pipelines = promise.pipelines(workflow, action)
            if action == "delete":
                pipelines = pipelines[:1]
            total += sum(_pipeline_worst_s(p, f"{workflow}/{action}", scenario, profile, backoff) for p in pipelines)
    fan_out = objects * profile.timing.job_creation_hold_s * max(1, len(promise.pipelines("resource", "configure")))
    return 2 * total + fan_out + SLACK_S
