"""Hypothesis strategies for Kratix scenarios: Promises, resources, container behaviours, fault schedules.

Public: import them for your own property tests, e.g.::

    from hypothesis import given
    from conformance.strategies import scenarios

    @given(scenarios())
    def test_my_engine(scenario): ...

Every value is a plain scenario document (a dict in the ``kratix-sim/v1alpha1`` format with an inline
Promise), so a failing example can be written to a file and replayed with ``kratix-sim run`` / ``check``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from sim.model.promise import PIPELINE_API_VERSION

PROMISE_NAME = "explored"
FAULT_KINDS_EXPLORED = ("controller-restart", "container-failure", "update-resource", "update-promise",
                        "manual-reconcile", "delete-resource", "delete-jobs")


def _pipeline(name: str, containers: list[str], restart_policy: str | None, backoff: int | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": c, "image": f"example.com/{c}:v1"} for c in containers]}
    if restart_policy is not None:
        spec["restartPolicy"] = restart_policy
    if backoff is not None:
        spec["jobOptions"] = {"backoffLimit": backoff}
    return {"apiVersion": PIPELINE_API_VERSION, "kind": "Pipeline", "metadata": {"name": name}, "spec": spec}


@st.composite
def pipelines(draw: st.DrawFn, prefix: str, count: st.SearchStrategy[int]) -> list[dict[str, Any]]:
    """``count`` Pipelines named ``prefix-0..``, each with 1-3 containers, an optional restart policy and limit."""
    result = []
    for i in range(draw(count)):
        containers = [f"step-{j}" for j in range(draw(st.integers(1, 3)))]
        policy = draw(st.sampled_from([None, "OnFailure", "Never"]))
        backoff = draw(st.sampled_from([None, 0, 1, 2, 8]))  # 8 reaches the Never back-off cap (J2)
        result.append(_pipeline(f"{prefix}-{i}", containers, policy, backoff))
    return result


@st.composite
def promises(draw: st.DrawFn) -> dict[str, Any]:
    """A Promise with 1-4 resource configure Pipelines, an optional delete Pipeline and an optional
    Promise configure Pipeline."""
    workflows: dict[str, Any] = {"resource": {"configure": draw(pipelines("configure", st.integers(1, 4)))}}
    if draw(st.booleans()):
        workflows["resource"]["delete"] = draw(pipelines("delete", st.just(1)))
    if draw(st.booleans()):
        workflows["promise"] = {"configure": draw(pipelines("promise", st.just(1)))}
    return {"apiVersion": PIPELINE_API_VERSION, "kind": "Promise", "metadata": {"name": PROMISE_NAME},
            "spec": {"workflows": workflows}}


def container_keys(promise: dict[str, Any]) -> list[str]:
    keys = []
    for workflow, actions in sorted(promise["spec"]["workflows"].items()):
        for action, items in sorted(actions.items()):
            for pipeline in items:
                keys += [f"{workflow}/{action}/{pipeline['metadata']['name']}/{c['name']}"
                         for c in pipeline["spec"]["containers"]]
    return keys


@st.composite
def behaviours(draw: st.DrawFn, keys: list[str]) -> dict[str, Any]:
    """Durations and exit behaviours for some containers: exit-code sequences or failure probabilities."""
    containers: dict[str, Any] = {}
    for key in keys:
        if not draw(st.booleans()):
            continue
        entry: dict[str, Any] = {"duration": draw(st.integers(1, 120))}
        kind = draw(st.sampled_from(["codes", "probability", "ok"]))
        if kind == "codes":
            entry["exitCodes"] = draw(st.lists(st.sampled_from([0, 1]), min_size=1, max_size=5))
        elif kind == "probability":
            entry["failureProbability"] = draw(st.sampled_from([0.1, 0.3, 0.5]))
        containers[key] = entry
    return {"default": {"duration": draw(st.integers(1, 30))}, "containers": containers}


@st.composite
def faults(draw: st.DrawFn, targets: list[str], keys: list[str], duration_s: int) -> list[dict[str, Any]]:
    """0-6 faults at drawn times: restarts, container failures, updates, manual labels, deletes, Job deletions."""
    result = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(FAULT_KINDS_EXPLORED))
        fault: dict[str, Any] = {"kind": kind, "at": draw(st.integers(0, duration_s))}
        if kind == "controller-restart":
            fault["downtime"] = draw(st.sampled_from([0, 30, 600]))
        elif kind == "container-failure":
            fault["container"] = draw(st.sampled_from(keys))
            fault["count"] = draw(st.integers(1, 3))
        elif kind == "update-promise":
            pass
        else:
            fault["target"] = draw(st.sampled_from(targets))
            if kind == "update-resource":
                fault["spec"] = {"size": draw(st.sampled_from(["small", "large", "huge"]))}
        result.append(fault)
    return sorted(result, key=lambda f: (f["at"], f["kind"]))


@st.composite
def scenarios(draw: st.DrawFn, profiles: tuple[str, ...] = ("kratix-2026.08",)) -> dict[str, Any]:
    """A whole scenario document: Promise, 1-3 resources, behaviour, faults, Kratix config, seed."""
    promise = draw(promises())
    keys = container_keys(promise)
    resource_count = draw(st.integers(1, 3))
    resources = [{"name": f"r{i}", "namespace": "default", "spec": {"size": "small"}, "at": draw(st.integers(0, 600))}
                 for i in range(resource_count)]
    duration_s = draw(st.sampled_from([3600, 4 * 3600, 12 * 3600]))
    targets = [f"default/r{i}" for i in range(resource_count)]
    kratix: dict[str, Any] = {"profile": draw(st.sampled_from(profiles)),
                              "reconciliationInterval": draw(st.sampled_from([1800, 3600, 36000])),
                              "reconcileAfterFailure": draw(st.booleans())}
    if draw(st.booleans()):
        kratix["numberOfJobsToKeep"] = draw(st.integers(1, 3))
    return {
        "apiVersion": "kratix-sim/v1alpha1", "kind": "Scenario",
        "metadata": {"name": "explored", "description": "generated by kratix-sim explore"},
        "spec": {"seed": draw(st.integers(0, 2**16)), "duration": duration_s, "kratix": kratix, "promise": promise,
                 "resources": resources, "behaviour": draw(behaviours(keys)),
                 "faults": draw(faults(targets, keys, duration_s))},
    }
