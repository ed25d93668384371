"""The idempotency rule I1 (reference section 8) judged on a trace: the state store must settle.

I1 says: run the configure workflow, feed the merged status back, run again; from the second run on, the
Works must be identical. In a trace (a simulated week with real executors, or a real cluster's history) that
becomes: for each (object, pipeline), the successive ``work_written`` events written **under one input** --
the same ``kratix.io/hash`` on the Job that wrote them (spec of the object, and of its Promise for resources;
see W5), no ``work_deleted`` of that Work, no re-creation of the object and no fault that changed the
outside world in between -- form a series; the first re-run (the series' second write) may still differ
from the first write (it is the first run that sees the fed-back status), and every later write must equal
the one before it. A write that changes the state store after that is a violation: "the state store
changed on a re-run with an unchanged spec".

"Equal" is the Work's ``digest`` (md5 of its files and destination selectors); a trace without digests is
judged by the ``changed`` flag. The Job that wrote a Work is the one whose ``work-writer`` step started last
for that (object, pipeline); a ``work_written`` that cannot be tied to a Job with a hash makes the verdict
``unknown`` (never a pass). ``EXTERNAL_STATE_FAULTS`` names fault kinds (``fault_injected`` reasons) that
change the world the pipelines read; none of today's scenario fault kinds does, so the set is empty unless a
caller extends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.checkers import checker
from conformance.checkers.jobs import conclude, t_of
from conformance.context import CheckContext, Event
from conformance.verdict import Verdict

EXTERNAL_STATE_FAULTS: set[str] = set()
WORK_WRITER = "work-writer"


@dataclass
class _Series:
    """The Works one (object, pipeline) wrote under one input, oldest first."""

    hash: str
    writes: list[Event] = field(default_factory=list)


def _differs(previous: Event, current: Event) -> bool:
    before, after = previous.get("digest"), current.get("digest")
    if isinstance(before, str) and isinstance(after, str):
        return before != after
    return bool(current.get("changed", False))


def _short(value: object) -> str:
    return str(value)[:8] if value else "?"


@checker("I1")
def rerun_convergence(ctx: CheckContext) -> Verdict:
    """I1 re-run convergence on a trace (see the module docstring)."""
    series: dict[tuple[str, str], _Series] = {}
    writer: dict[tuple[str, str], str] = {}  # (object, pipeline) -> Job whose work-writer started last
    fails: list[Verdict] = []
    unknowns: list[str] = []
    exercised = False
    for event in ctx.events:
        name = event["event"]
        obj = str(event.get("object", ""))
        if name == "fault_injected" and event.get("reason") in EXTERNAL_STATE_FAULTS:
            for key in [k for k in series if not event.get("object") or k[0] == obj]:
                del series[key]
        elif name in ("object_created", "object_removed"):
            for key in [k for k in series if k[0] == obj]:
                del series[key]
        elif name == "work_deleted":
            series.pop((obj, str(event.get("pipeline", ""))), None)
        elif name == "container_started" and event.get("container") == WORK_WRITER:
            writer[(obj, str(event.get("pipeline", "")))] = str(event.get("job", ""))
        elif name == "work_written":
            key = (obj, str(event.get("pipeline", "")))
            job = ctx.jobs.get(writer.get(key, ""))
            if job is None or not job.hash:
                unknowns.append(f"work_written of {key[0]} pipeline {key[1]} (seq {event['seq']}) cannot be tied "
                                "to a Job with a kratix.io/hash")
                series.pop(key, None)
                continue
            current = series.get(key)
            if current is None or current.hash != job.hash:
                series[key] = _Series(job.hash, [event])
                continue
            exercised = True
            previous = current.writes[-1]
            current.writes.append(event)
            if not _differs(previous, event) or len(current.writes) == 2:
                continue  # unchanged, or the first re-run converging on the fed-back status
            first = current.writes[0]
            fails.append(ctx.fail("I1", event, (
                f"{key[0]} pipeline {key[1]}: re-run {len(current.writes) - 1} with an unchanged spec (hash "
                f"{_short(job.hash)}, unchanged since t={t_of(first):g}) changed the state store: Work digest "
                f"{_short(previous.get('digest'))} at t={t_of(previous):g} -> {_short(event.get('digest'))}; from "
                "the second run on, re-runs must write identical Works")))
    return conclude("I1", fails, unknowns, exercised, "no re-run with an unchanged spec wrote a Work")
