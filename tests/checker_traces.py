"""A tiny builder for hand-written traces, for checker tests.

    b = TraceBuilder(profile="kratix-2026.08")
    b.at(0).event("controller_started")
    bad = b.at(5).event("job_created", object="default/r1", job="j1", pipeline="p", pipeline_index=0)
    ctx = b.context(pipelines={("resource", "configure"): ["p"]})
    assert verdict.event["seq"] == bad["seq"]

``event`` numbers events (``seq`` 1, 2, ...), stamps the current time and returns the event, so a test can
name the event a checker must report. Fields that are None are left out, as in real traces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from conformance.context import CheckContext, Pipelines

FORMAT = "kratix-sim-trace/v1"
DEFAULT_CONFIG: dict[str, Any] = {
    "reconciliationInterval_s": 36000.0,
    "reconcileAfterFailure": True,
    "defaultBackoffLimit": 6,
    "numberOfJobsToKeep": 5,
}
Event = dict[str, Any]
PipelineNames = Mapping[tuple[str, str], Sequence[str]]


class TraceBuilder:
    def __init__(self, profile: str | None = "kratix-2026.08", config: Mapping[str, Any] | None = None,
                 with_config: bool = True, **header: Any) -> None:
        """``config`` entries override DEFAULT_CONFIG; ``with_config=False`` leaves ``config`` out of the header;
        ``profile=None`` leaves the profile out; other keyword arguments go into the header as they are."""
        self.header: Event = {"event": "header", "format": FORMAT, **header}
        if profile is not None:
            self.header["profile"] = profile
        if with_config:
            self.header["config"] = {**DEFAULT_CONFIG, **(config or {})}
        self.events: list[Event] = []
        self.t: float = 0
        self._seq = 0

    def at(self, t: float) -> TraceBuilder:
        """Set the current time (seconds) for the following events."""
        self.t = t
        return self

    def after(self, dt: float) -> TraceBuilder:
        """Move the current time ``dt`` seconds on."""
        self.t += dt
        return self

    def event(self, name: str, **fields: Any) -> Event:
        """Append one event at the current time; returns it (with its ``seq``)."""
        self._seq += 1
        event: Event = {"seq": self._seq, "t": self.t, "event": name}
        event.update({k: v for k, v in fields.items() if v is not None})
        self.events.append(event)
        return event

    def context(self, pipelines: PipelineNames | Pipelines | None = None) -> CheckContext:
        """A CheckContext over the events so far; ``pipelines`` maps (workflow, action) to names in order."""
        if pipelines is not None and not isinstance(pipelines, Pipelines):
            pipelines = Pipelines({key: tuple(names) for key, names in pipelines.items()})
        return CheckContext(dict(self.header), list(self.events), pipelines)
