"""Shared builders for the engine tests: inline Promises, scenarios, and small trace queries.

Everything here is plain data in, ``Scenario`` / ``Trace`` out, so a test reads as "this Promise, these
resources, these faults -> these events". Times in traces are simulated seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sim.scenario import Scenario
from sim.simulation import Simulation, run
from sim.trace import Event, Trace

API = "platform.kratix.io/v1alpha1"
PROMISE_NAME = "demo"
PROMISE_KEY = f"promise/{PROMISE_NAME}"
R1 = "default/r1"


def pipeline(name: str, containers: Sequence[str] = ("step-1",), **spec: Any) -> dict[str, Any]:
    """A Pipeline document with the named user containers (extra ``spec`` keys passed through)."""
    return {
        "apiVersion": API,
        "kind": "Pipeline",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": c, "image": f"example/{c}:v1"} for c in containers], **spec},
    }


def promise(
    configure: Iterable[str | dict[str, Any]] = ("pipe-a",),
    delete: Iterable[str | dict[str, Any]] = (),
    promise_configure: Iterable[str | dict[str, Any]] = (),
    interval: str | None = None,
    name: str = PROMISE_NAME,
) -> dict[str, Any]:
    """An inline Promise; pipelines given by name get one container ``step-1``."""

    def pipes(items: Iterable[str | dict[str, Any]]) -> list[dict[str, Any]]:
        return [pipeline(p) if isinstance(p, str) else p for p in items]

    workflows: dict[str, Any] = {
        "resource": {"configure": pipes(configure), "delete": pipes(delete)},
        "promise": {"configure": pipes(promise_configure)},
    }
    if interval is not None:
        workflows["config"] = {"reconciliationInterval": interval}
    return {"apiVersion": API, "kind": "Promise", "metadata": {"name": name}, "spec": {"workflows": workflows}}


def scenario(
    promise_doc: dict[str, Any] | None = None,
    *,
    resources: Sequence[dict[str, Any]] = ({"name": "r1"},),
    behaviour: dict[str, dict[str, Any]] | None = None,
    faults: Sequence[dict[str, Any]] = (),
    duration: float | str = 3600,
    kratix: dict[str, Any] | None = None,
    seed: int = 7,
    name: str = "engine-test",
) -> Scenario:
    """A Scenario (format kratix-sim/v1alpha1) from plain data."""
    return Scenario.model_validate({
        "metadata": {"name": name},
        "spec": {
            "seed": seed,
            "duration": duration,
            "kratix": kratix or {},
            "promise": promise_doc if promise_doc is not None else promise(),
            "resources": list(resources),
            "behaviour": {"containers": behaviour or {}},
            "faults": list(faults),
        },
    })


def simulate(promise_doc: dict[str, Any] | None = None, *, seed: int | None = None, **kwargs: Any) -> Trace:
    """Build a scenario with :func:`scenario` and run it."""
    return run(scenario(promise_doc, **kwargs), seed=seed)


def simulate_with_state(promise_doc: dict[str, Any] | None = None, *, seed: int | None = None,
                        **kwargs: Any) -> tuple[Trace, Simulation]:
    """Like :func:`simulate`, also returning the Simulation so a test can read the objects' final state."""
    sim = Simulation(scenario(promise_doc, **kwargs), seed=seed)
    return sim.run(), sim


def key(pipe: str, container: str = "step-1", workflow: str = "resource", action: str = "configure") -> str:
    """A behaviour key ``workflow/action/pipeline/container``."""
    return f"{workflow}/{action}/{pipe}/{container}"


# -- trace queries --------------------------------------------------------------------------------------------
def of(trace: Trace, event: str, obj: str = R1, **fields: Any) -> list[Event]:
    """Events named ``event`` about object ``obj`` with the given fields."""
    return trace.where(event, object=obj, **fields)


def jobs(trace: Trace, obj: str = R1, action: str | None = "configure") -> list[Event]:
    """``job_created`` events of ``obj`` (of one action, or all when ``action`` is None)."""
    return [e for e in of(trace, "job_created", obj) if action is None or e["action"] == action]


def job_pipelines(trace: Trace, obj: str = R1, action: str | None = "configure") -> list[str]:
    return [e["pipeline"] for e in jobs(trace, obj, action)]


def job_times(trace: Trace, obj: str = R1, action: str | None = "configure") -> list[float]:
    return [e["t"] for e in jobs(trace, obj, action)]


def first(events: Sequence[Event]) -> Event:
    assert events, "expected at least one event"
    return events[0]


def finished(trace: Trace, job: str) -> Event:
    """The event that ended Job ``job`` (completed, failed or suspended)."""
    return first([e for e in trace.named("job_completed", "job_failed", "job_suspended") if e["job"] == job])


def labels(trace: Trace, label: str, obj: str = R1) -> list[tuple[str, float]]:
    """``(event, t)`` for every set/remove of ``label`` on ``obj``."""
    return [(e["event"], e["t"]) for e in trace.named("label_set", "label_removed")
            if e.get("object") == obj and e["label"] == label]


def conditions(trace: Trace, type_: str, obj: str = R1) -> list[Event]:
    return of(trace, "condition_set", obj, type=type_)


def after(events: Sequence[Event], seq: int) -> list[Event]:
    """The events strictly later in the trace than ``seq``."""
    return [e for e in events if e["seq"] > seq]


def containers(trace: Trace, job: str, event: str = "container_started") -> list[Event]:
    return [e for e in trace.named(event) if e["job"] == job]


DETERMINISM_PROMISE = promise(
    configure=(pipeline("pipe-a", restartPolicy="Never", jobOptions={"backoffLimit": 1}),
               pipeline("pipe-b", jobOptions={"backoffLimit": 1})),
    delete=("pipe-d",),
)


def determinism_scenario() -> Scenario:
    """A busy scenario with random container failures and random-rate faults (used by the determinism test)."""
    return scenario(
        DETERMINISM_PROMISE,
        resources=[{"name": "fleet", "count": 4}],
        behaviour={
            key("pipe-a"): {"duration": 20, "failureProbability": 0.3},
            key("pipe-b"): {"duration": 40, "failureProbability": 0.2},
            key("pipe-d", action="delete"): {"duration": 10, "failureProbability": 0.2},
        },
        faults=[
            {"kind": "controller-restart", "rate": 0.5, "downtime": 30},
            {"kind": "manual-reconcile", "rate": 0.3, "target": "default/fleet-1"},
            {"kind": "update-resource", "rate": 0.2, "target": "default/fleet-2", "spec": {"size": "large"}},
            {"kind": "delete-jobs", "rate": 0.5, "target": "default/fleet-3"},
            {"kind": "container-failure", "rate": 0.4, "container": key("pipe-b")},
            {"kind": "delete-resource", "at": "15h", "target": "default/fleet-0"},
        ],
        duration="20h",
        kratix={"reconciliationInterval": "2h"},
    )
