"""What every mutant shares: the ``Mutant`` record, the registry decorator, a runaway guard, and small
helpers for reading an Observation the way the reference decision does.

A mutant is a subclass of ``Simulation`` that changes one thing through the engine's seams:
``controller_class`` (the reconcile decision, ``Controller.decide``), ``runner_class`` (the Job controller
and kubelet, ``JobRunner``), ``load_profile`` (timing and switches), or one of the Simulation's own methods
(``create_job``, ``prune_jobs``, ``hash_for``, ``pipelines``...). The trace header still names the real
profile, so the checkers judge the mutant by the rules it claims to follow.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sim.cluster.objects import Job
from sim.engine import decide as d
from sim.simulation import Simulation
from sim.trace import Event, Trace

# A wrong engine may loop (a label never removed, a hash that never matches). Past this many events the run
# stops, a ``run_truncated`` event closes the trace, and the prefix is judged: safety verdicts on a prefix are
# sound; liveness and expectations are not (``UNJUDGEABLE_WHEN_TRUNCATED``).
MAX_EVENTS = 10_000
TRUNCATED_EVENT = "run_truncated"
UNJUDGEABLE_WHEN_TRUNCATED = frozenset({"LIVENESS", "EXPECT"})


class RunawayError(Exception):
    """The mutant emitted more than ``MAX_EVENTS`` events."""


class MutantSimulation(Simulation):
    """Base of every mutant: the reference engine plus a guard against runaway loops."""

    max_events: int = MAX_EVENTS

    def run(self, duration_s: float | None = None, progress: Callable[[float], None] | None = None,
            heal_s: float = 0.0) -> Trace:
        def guard(_event: Event) -> None:
            if len(self.events) >= self.max_events:
                raise RunawayError(f"more than {self.max_events} events")

        self.recorder.sinks.append(guard)
        try:
            return super().run(duration_s, progress, heal_s)
        except RunawayError as exc:
            self.recorder.sinks.remove(guard)
            self.cluster.emit(TRUNCATED_EVENT, reason=str(exc))
            return Trace(self.header, self.events)


def truncated(trace: Trace) -> bool:
    return bool(trace.events) and trace.events[-1]["event"] == TRUNCATED_EVENT


@dataclass(frozen=True)
class Mutant:
    name: str
    rule: str  # the rule ID it breaks
    description: str  # one sentence: the bug
    engine: type[Simulation]


REGISTRY: dict[str, Mutant] = {}
S = TypeVar("S", bound=type[MutantSimulation])


def mutant(name: str, rule: str) -> Callable[[S], S]:
    """Register a mutant engine; its docstring's first paragraph is the description."""

    def register(cls: S) -> S:
        if name in REGISTRY:
            raise ValueError(f"two mutants called {name!r}")
        doc = inspect.getdoc(cls) or ""
        description = " ".join(doc.split("\n\n")[0].split()).removeprefix(f"{rule}: ")
        if not description:
            raise ValueError(f"mutant {name!r} needs a docstring saying its bug")
        REGISTRY[name] = Mutant(name, rule, description, cls)
        return cls

    return register


# -- reading an Observation ------------------------------------------------------------------------------
def newest(obs: d.Observation, action: str = "configure") -> Job | None:
    jobs = [j for j in obs.jobs if j.action == action]
    return jobs[-1] if jobs else None


def matches(obs: d.Observation, job: Job) -> bool:
    """The Job belongs to the current run: current hash, and its pipeline is still at its index."""
    return (job.hash == obs.hash and job.pipeline_index < len(obs.configure)
            and obs.configure[job.pipeline_index] == job.pipeline)


def creates_job(decision: d.Decision) -> bool:
    return any(isinstance(a, d.CreateJob) for a in decision.actions)


def start(obs: d.Observation, index: int, outcome: str, *extra: Any) -> d.Decision:
    """Create the configure Job for ``index`` with the reference's status writes (``decide._start``)."""
    return d._start(obs, index, outcome, *extra)
