"""The executor interface: run one user container of a pod against the pod's volumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sim.model.promise import Container, Pipeline, WorkflowAction, WorkflowType

STATUS_FILE = "status.yaml"
WORKFLOW_CONTROL_FILE = "workflow-control.yaml"
DESTINATION_SELECTORS_FILE = "destination-selectors.yaml"


@dataclass
class PodVolumes:
    """The emptyDirs of one pod (section 1): fresh per pod, kept across in-place restarts (J3).

    ``output`` maps a path under /kratix/output to its content; ``metadata`` maps a file name under
    /kratix/metadata to its parsed YAML content.
    """

    input_object: dict[str, Any]
    output: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepContext:
    object_key: str
    promise_name: str
    workflow: WorkflowType
    action: WorkflowAction
    pipeline: Pipeline
    container: Container
    execution: int  # 1-based count of this container's executions for this object, across pods and Jobs
    attempt: int  # 1-based execution of this container in this pod

    @property
    def behaviour_key(self) -> str:
        """``workflow/action/pipeline/container``, the key scenarios use to describe a container."""
        return f"{self.workflow}/{self.action}/{self.pipeline.name}/{self.container.name}"


@dataclass(frozen=True)
class StepOutcome:
    exit_code: int
    duration_ms: int
    reason: str | None = None


class Executor(Protocol):
    def start(self, ctx: StepContext, volumes: PodVolumes) -> StepOutcome:
        """Run the container (or decide what it does); write its files into ``volumes``."""
        ...
