"""The modelled executor: each container has a duration and an exit-code behaviour (issue 3, item 4).

Exit codes: ``exitCodes`` is a sequence over that container's executions for one object, across pods and
Jobs, whose last value repeats (``[1, 1, 0]`` fails twice, then succeeds); or ``failureProbability`` drawn
from the seeded ``executor`` stream; else 0. Injected failures (fault ``container-failure``) take
precedence. Declared files and status keys are written on every execution, as a script would.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field

from sim.executors.base import (
    DESTINATION_SELECTORS_FILE,
    STATUS_FILE,
    WORKFLOW_CONTROL_FILE,
    PodVolumes,
    StepContext,
    StepOutcome,
)
from sim.scenario import Behaviour


@dataclass
class InjectedFailures:
    """Pending forced failures per (object key or ``*``, container key)."""

    pending: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def add(self, object_key: str, container_key: str, exit_code: int, count: int) -> None:
        self.pending.setdefault((object_key, container_key), []).extend([exit_code] * count)

    def take(self, object_key: str, container_key: str) -> int | None:
        if not self.pending:
            return None
        for key in ((object_key, container_key), ("*", container_key), (object_key, "*"), ("*", "*")):
            codes = self.pending.get(key)
            if codes:
                return codes.pop(0)
        return None


class ModelledExecutor:
    def __init__(self, behaviour: Behaviour, rng: random.Random) -> None:
        self.behaviour = behaviour
        self.rng = rng
        self.injected = InjectedFailures()

    def start(self, ctx: StepContext, volumes: PodVolumes) -> StepOutcome:
        key = ctx.behaviour_key
        spec = self.behaviour.for_key(key)
        forced = self.injected.take(ctx.object_key, key)
        if forced is not None:
            exit_code, reason = forced, "InjectedFailure"
        elif spec.exitCodes is not None:
            exit_code, reason = spec.exitCodes[min(ctx.execution, len(spec.exitCodes)) - 1], None
        elif spec.failureProbability is not None:
            exit_code, reason = (1 if self.rng.random() < spec.failureProbability else 0), None
        else:
            exit_code, reason = 0, None
        if spec.outputs:
            for path, content in spec.outputs.items():
                volumes.output[path] = copy.deepcopy(content)
        if spec.status:
            volumes.metadata[STATUS_FILE] = copy.deepcopy(spec.status)
        control = spec.workflow_control(ctx.execution)
        if control is not None:
            volumes.metadata[WORKFLOW_CONTROL_FILE] = copy.deepcopy(control)
        if spec.destinationSelectors is not None:
            volumes.metadata[DESTINATION_SELECTORS_FILE] = copy.deepcopy(spec.destinationSelectors)
        return StepOutcome(exit_code, round(spec.duration * 1000), reason)
