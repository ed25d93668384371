"""Liveness: after the last fault, every object converges within a bound computed from the scenario.

Converged means: removed; or no Job of it running and its configure workflow completed, halted waiting for
a trigger (W4), suspended waiting for a resume (C1) or paused; a deleting object converges when it is gone
or explicitly stuck (D4: DeleteWorkflowFailed); a resource whose Promise's workflow halted or is paused
converges too (W13: it waits for its Promise). A liveness failure is reported apart from safety failures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.context import CheckContext, Event
from conformance.verdict import Verdict

RULE = "LIVENESS"
PAUSED = "kratix.io/paused"
SUSPENDED = "kratix.io/workflow-suspended"
SETTLED_REASONS = frozenset({"ConfigureWorkflowFailed"})
STUCK_DELETE_REASONS = frozenset({"DeleteWorkflowFailed", "DeleteWorkflowSuspended"})


@dataclass
class _State:
    running: set[str] = field(default_factory=set)
    configure: tuple[str, str] | None = None  # (status, reason) of ConfigureWorkflowCompleted
    reconciled: str | None = None
    delete: str | None = None  # reason of DeleteWorkflowCompleted
    labels: set[str] = field(default_factory=set)
    deleting: bool = False
    removed: bool = False

    def converged(self) -> bool:
        if self.removed:
            return True
        if self.running:
            return False
        if self.deleting:
            return self.delete in STUCK_DELETE_REASONS
        if PAUSED in self.labels or SUSPENDED in self.labels:
            return True
        if self.configure is None:
            return self.reconciled == "True"
        status, reason = self.configure
        return status == "True" or reason in SETTLED_REASONS


def _apply(state: _State, event: Event) -> None:
    name = event["event"]
    if name == "job_created":
        state.running.add(event.get("job", ""))
    elif name in ("job_completed", "job_failed", "job_suspended", "job_deleted"):
        state.running.discard(event.get("job", ""))
    elif name == "condition_set":
        if event.get("type") == "ConfigureWorkflowCompleted":
            state.configure = (str(event.get("status")), str(event.get("reason")))
        elif event.get("type") == "Reconciled":
            state.reconciled = str(event.get("status"))
        elif event.get("type") == "DeleteWorkflowCompleted":
            state.delete = str(event.get("reason"))
    elif name == "label_set":
        state.labels.add(str(event.get("label")))
    elif name == "label_removed":
        state.labels.discard(str(event.get("label")))
    elif name == "delete_requested":
        state.deleting = True
    elif name == "object_removed":
        state.removed = True


def _settled(key: str, state: _State, states: dict[str, _State], ctx: CheckContext) -> bool:
    """Converged, or a resource blocked upstream: its Promise's workflow halted or is paused/suspended (W13
    gates the resource until the Promise's workflow completes), with nothing of its own running."""
    if state.converged():
        return True
    if key.startswith("promise/") or state.running or state.deleting:
        return False
    promise = states.get(f"promise/{ctx.promise_of(key)}")
    if promise is None or promise.running:
        return False
    halted = promise.configure is not None and promise.configure[1] in SETTLED_REASONS
    return halted or bool({PAUSED, SUSPENDED} & promise.labels)


def check_liveness(ctx: CheckContext, heal_from_t: float, bound_s: float) -> Verdict:
    """Every object must be converged at some instant in [heal_from_t, heal_from_t + bound_s]."""
    deadline = heal_from_t + bound_s
    if ctx.end_t < deadline:
        return Verdict(RULE, "unknown", f"the trace ends at {ctx.end_t:g} s, before the heal period ends "
                       f"({deadline:g} s)", category="liveness")
    states: dict[str, _State] = {}
    converged_at: dict[str, float] = {}
    last_event: dict[str, Event] = {}
    i = 0
    events = ctx.events
    while i < len(events):
        t = float(events[i]["t"])
        if t > deadline:
            break
        while i < len(events) and float(events[i]["t"]) == t:  # apply one whole instant
            event = events[i]
            key = event.get("object")
            if key is not None and (key in states or event["event"] == "object_created"):
                _apply(states.setdefault(key, _State()), event)
                last_event[key] = event
            i += 1
        if t >= heal_from_t:
            for key, state in states.items():
                if key not in converged_at and _settled(key, state, states, ctx):
                    converged_at[key] = t
    for key, state in states.items():  # the state at the deadline is inside the window too
        if key not in converged_at and _settled(key, state, states, ctx):
            converged_at[key] = deadline
    for key in sorted(states):
        if key not in converged_at:
            event = last_event[key]
            return ctx.fail(RULE, event, f"{key} did not converge within {bound_s:g} s after the last fault "
                            f"(at {heal_from_t:g} s)", category="liveness")
    return Verdict(RULE, "pass", f"{len(states)} objects converged", category="liveness")
