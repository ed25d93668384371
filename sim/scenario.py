"""The Scenario model (format ``kratix-sim/v1alpha1``, documented in docs/scenarios.md).

Frozen, ``extra="forbid"``: an unknown key is an error. Durations accept numbers of seconds or strings
like ``90s``, ``5m``, ``1h30m``, ``2d``. The Promise may be a path (relative to the scenario file) or an
inline Promise document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    WithJsonSchema,
    model_validator,
)

from sim.durations import parse_duration
from sim.executors.base import outside_volumes
from sim.profiles import DEFAULT_PROFILE, PROFILES

DURATION_SCHEMA = {"anyOf": [{"type": "number", "minimum": 0},
                             {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?(ms|s|m|h|d))+\s*$"}]}
Seconds = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(DURATION_SCHEMA)]
SCENARIO_API_VERSION = "kratix-sim/v1alpha1"

FaultKind = Literal[
    "controller-restart",
    "container-failure",
    "delete-jobs",
    "manual-reconcile",
    "update-resource",
    "update-promise",
    "pause",
    "unpause",
    "delete-resource",
    "delete-promise",
    "create-resource",
    "resume",
    "reconcile-resources",
]
FAULT_KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_PROFILE_NAMES: list[JsonValue] = [*sorted(PROFILES)]


class KratixConfig(_Strict):
    """Mirrors the Kratix config; every key optional (absent = the profile's default)."""

    profile: str = Field(default=DEFAULT_PROFILE, json_schema_extra={"enum": _PROFILE_NAMES})  # for editors
    reconciliationInterval: Seconds | None = None
    reconcileAfterFailure: bool | None = None
    defaultBackoffLimit: int | None = Field(default=None, ge=0, le=2**31 - 1)  # a Job's backoffLimit is an int32
    numberOfJobsToKeep: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _known_profile(self) -> KratixConfig:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; accepted: {', '.join(sorted(PROFILES))}")
        return self


# Kubernetes object names (RFC 1123): a resource's name is a DNS subdomain, its namespace a DNS label.
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
ExitCode = Annotated[int, Field(ge=0, le=255)]  # a process's exit status as the kubelet reports it


class ResourceSpec(_Strict):
    name: str = Field(min_length=1, pattern=NAME_PATTERN)
    namespace: str = Field(default="default", pattern=NAMESPACE_PATTERN)
    spec: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    at: Seconds = 0.0
    count: int = Field(default=1, ge=1)  # >1: name-0, name-1, ... (fleets)

    def names(self) -> list[str]:
        return [self.name] if self.count == 1 else [f"{self.name}-{i}" for i in range(self.count)]


class ContainerBehaviour(_Strict):
    """What the modelled executor does for one container (issue 3, item 4)."""

    duration: Seconds = 5.0
    exitCodes: list[ExitCode] | None = Field(default=None, min_length=1)
    failureProbability: float | None = Field(default=None, ge=0.0, le=1.0)
    outputs: dict[str, Any] = Field(default_factory=dict)  # files it writes under /kratix/output
    status: dict[str, Any] = Field(default_factory=dict)  # keys it writes to /kratix/metadata/status.yaml
    # /kratix/metadata/workflow-control.yaml (C1): the same each execution, or one per execution like exitCodes
    # (the last repeats; null writes none)
    workflowControl: dict[str, Any] | list[dict[str, Any] | None] | None = None
    destinationSelectors: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _one_failure_model(self) -> ContainerBehaviour:
        if self.exitCodes is not None and self.failureProbability is not None:
            raise ValueError("give exitCodes or failureProbability, not both")
        if isinstance(self.workflowControl, list) and not self.workflowControl:
            raise ValueError("workflowControl: give at least one entry (or leave it out)")
        return self

    def workflow_control(self, execution: int) -> dict[str, Any] | None:
        """The workflow-control.yaml the ``execution``-th run writes (1-based), or None."""
        control = self.workflowControl
        if isinstance(control, list):
            return control[min(execution, len(control)) - 1]
        return control


class Behaviour(_Strict):
    default: ContainerBehaviour = ContainerBehaviour()
    containers: dict[str, ContainerBehaviour] = Field(default_factory=dict)

    def for_key(self, key: str) -> ContainerBehaviour:
        return self.containers.get(key, self.default)


class Fault(_Strict):
    """One fault with its schedule: ``at``, ``every`` (from/until) or ``rate`` per hour (seeded)."""

    kind: FaultKind
    at: Seconds | None = None
    every: Seconds | None = None
    from_: Seconds = Field(default=0.0, alias="from")
    until: Seconds | None = None
    rate: float | None = Field(default=None, gt=0.0)
    target: str | None = None
    downtime: Seconds = 0.0
    spec: dict[str, Any] | None = None
    container: str | None = None  # container-failure: workflow/action/pipeline/container key
    exitCode: int = Field(default=1, ge=1, le=255)
    count: int = Field(default=1, ge=1)  # container-failure: how many executions fail

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_schedule(self) -> Fault:
        given = [name for name, value in (("at", self.at), ("every", self.every), ("rate", self.rate))
                 if value is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of at, every, rate")
        if self.every is not None and self.every <= 0:
            raise ValueError("every must be positive")
        if self.until is not None and self.until < self.from_:
            raise ValueError("until is before from: the schedule would never fire")
        # judged by value, not by the keys written, so a dumped Fault (defaults spelt out) reads back
        if self.at is not None and (self.from_ != 0 or self.until is not None):
            raise ValueError("from and until bound an every or rate schedule, not at")
        for name in sorted(_KIND_FIELDS):
            if getattr(self, name) != Fault.model_fields[name].default and self.kind not in _KIND_FIELDS[name]:
                raise ValueError(f"{name} does not apply to {self.kind} (only to {', '.join(_KIND_FIELDS[name])})")
        if self.kind == "update-resource" and not self.spec:
            raise ValueError("update-resource needs spec: the merge patch to apply to the resource's spec")
        return self


# Fields that only some fault kinds read: given to another kind, they would be ignored.
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "downtime": ("controller-restart",),
    "spec": ("update-resource", "update-promise", "create-resource"),
    "container": ("container-failure",),
    "exitCode": ("container-failure",),
    "count": ("container-failure",),
}


def _condition_status(value: Any) -> Any:
    """YAML reads an unquoted ``True`` / ``False`` as a boolean: it means the condition status of that name."""
    return ("True" if value else "False") if isinstance(value, bool) else value


class Assertion(_Strict):
    by: Seconds
    target: str
    condition: str
    status: Annotated[Literal["True", "False", "Unknown"], BeforeValidator(_condition_status)]


class Expect(_Strict):
    rules: Literal["all"] | list[str] = "all"
    assertions: list[Assertion] = Field(default_factory=list)


ExecutorType = Literal["modelled", "process", "container"]
EXECUTOR_TYPES: tuple[str, ...] = ExecutorType.__args__  # type: ignore[attr-defined]


class ExecutorConfig(_Strict):
    """How pipeline containers run (issue 6; docs/pipelines.md). ``modelled`` (the default) decides exit codes
    from ``behaviour``; ``process`` (bubblewrap) and ``container`` (docker/podman) run the real containers
    against the pod's volumes, while simulated time still advances by ``behaviour`` durations."""

    type: ExecutorType = "modelled"
    timeout: Seconds = 120.0  # wall-clock seconds one container may run before it is killed (exit 137)
    mounts: list[str] = Field(default_factory=list)  # HOST:TARGET[:ro|rw]; HOST relative to the scenario file
    externalMounts: list[str] = Field(default_factory=list)  # TARGETs: a fresh read-write directory per run
    # process executor
    bwrap: str = "bwrap"
    rootfs: str | None = None  # a root directory (e.g. busybox) instead of the host's /usr
    entrypoints: dict[str, list[str]] = Field(default_factory=dict)  # image -> command (no ENTRYPOINT here)
    clock: Literal["wall", "simulated"] = "wall"  # simulated: scripts see the simulated time (libfaketime)
    # container executor
    engine: str = "podman"
    engineOptions: list[str] = Field(default_factory=list)
    runOptions: list[str] = Field(default_factory=list)
    network: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ExecutorConfig:
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        for target in self.externalMounts:
            try:
                outside_volumes(target)
            except ValueError as exc:
                raise ValueError(f"externalMounts: {exc}") from None
        for spec in self.mounts:
            parts = spec.split(":")
            if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/") \
                    or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
                raise ValueError(f"mounts: invalid mount {spec!r}: use HOST:TARGET, HOST:TARGET:ro or "
                                 "HOST:TARGET:rw with an absolute TARGET")
        if self.clock == "simulated" and self.type != "process":
            raise ValueError("clock: simulated needs the process executor (libfaketime)")
        if self.clock == "simulated" and self.rootfs is not None:
            raise ValueError("clock: simulated needs the host root (libfaketime does not work with a rootfs)")
        return self


def _executor_shorthand(value: Any) -> Any:
    """``executor: process`` is short for ``executor: {type: process}``."""
    return {"type": value} if isinstance(value, str) else value


EXECUTOR_SCHEMA = {"anyOf": [{"enum": list(EXECUTOR_TYPES)}, ExecutorConfig.model_json_schema()]}
ExecutorSetting = Annotated[ExecutorConfig, BeforeValidator(_executor_shorthand), WithJsonSchema(EXECUTOR_SCHEMA)]


class ScenarioSpec(_Strict):
    seed: int = Field(default=7, strict=True)  # not `true`, not "12"
    duration: Seconds = 36000.0
    kratix: KratixConfig = KratixConfig()
    promise: str | dict[str, Any]
    resources: list[ResourceSpec] = Field(default_factory=list)
    behaviour: Behaviour = Behaviour()
    faults: list[Fault] = Field(default_factory=list)
    expect: Expect = Expect()
    executor: ExecutorSetting = ExecutorConfig()


class Metadata(_Strict):
    name: str = Field(min_length=1)
    description: str = ""


class Scenario(_Strict):
    apiVersion: Literal["kratix-sim/v1alpha1"] = "kratix-sim/v1alpha1"
    kind: Literal["Scenario"] = "Scenario"
    metadata: Metadata
    spec: ScenarioSpec
    _base_dir: Path | None = PrivateAttr(default=None)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def base_dir(self) -> Path | None:
        """The folder a ``promise:`` path is relative to (the scenario file's folder)."""
        return self._base_dir

    def with_base_dir(self, base: Path) -> Scenario:
        self._base_dir = base
        return self
