"""The executor interface: run one user container of a pod against the pod's volumes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mypy_extensions import mypyc_attr

from sim.model.promise import Container, Pipeline, WorkflowAction, WorkflowType

STATUS_FILE = "status.yaml"
WORKFLOW_CONTROL_FILE = "workflow-control.yaml"
DESTINATION_SELECTORS_FILE = "destination-selectors.yaml"


# Built for every pod and container: each spells out its ``__init__``, compiled with the core (sim/native.py)
# where a dataclass's generated one would not be. Read, never written, except the volumes' contents.
@mypyc_attr(native_class=False)  # the real executors hold it by weak reference (sim/executors/simulated.py)
@dataclass(init=False)
class PodVolumes:
    """The emptyDirs of one pod (section 1): fresh per pod, kept across in-place restarts (J3).

    ``output`` maps a path under /kratix/output to its content; ``metadata`` maps a file name under
    /kratix/metadata to its parsed YAML content.
    """

    input_object: dict[str, Any]
    output: dict[str, Any]
    metadata: dict[str, Any]

    def __init__(self, input_object: dict[str, Any], output: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self.input_object = input_object
        self.output = {} if output is None else output
        self.metadata = {} if metadata is None else metadata


@dataclass(init=False)
class StepContext:
    object_key: str
    promise_name: str
    workflow: WorkflowType
    action: WorkflowAction
    pipeline: Pipeline
    container: Container
    execution: int  # 1-based count of this container's executions for this object, across pods and Jobs
    attempt: int  # 1-based execution of this container in this pod

    def __init__(self, object_key: str, promise_name: str, workflow: WorkflowType, action: WorkflowAction,
                 pipeline: Pipeline, container: Container, execution: int, attempt: int) -> None:
        self.object_key = object_key
        self.promise_name = promise_name
        self.workflow = workflow
        self.action = action
        self.pipeline = pipeline
        self.container = container
        self.execution = execution
        self.attempt = attempt

    @property
    def behaviour_key(self) -> str:
        """``workflow/action/pipeline/container``, the key scenarios use to describe a container."""
        return f"{self.workflow}/{self.action}/{self.pipeline.name}/{self.container.name}"


@dataclass(init=False)
class StepOutcome:
    exit_code: int
    duration_ms: int
    reason: str | None

    def __init__(self, exit_code: int, duration_ms: int, reason: str | None = None) -> None:
        self.exit_code = exit_code
        self.duration_ms = duration_ms
        self.reason = reason


class Executor(Protocol):
    def start(self, ctx: StepContext, volumes: PodVolumes) -> StepOutcome:
        """Run the container (or decide what it does); write its files into ``volumes``."""
        ...


# -- Real executors (issue 6): run a user container for real against a pod's directories -------------------
#
# The modelled executor above works on in-memory volumes inside the simulator. Real executors (process
# sandbox, OCI containers) run one container's command against three host directories mounted at
# /kratix/input (read-only), /kratix/output and /kratix/metadata; ``sim.executors.contract`` plays the
# rest of the pod (reader, restarts, work-writer, status-writer) around them.

KRATIX_INPUT_DIR = "/kratix/input"
KRATIX_OUTPUT_DIR = "/kratix/output"
KRATIX_METADATA_DIR = "/kratix/metadata"


@mypyc_attr(native_class=False)  # mypyc compiles this module (sim/native.py), not subclasses of RuntimeError
class ExecutorUnavailable(RuntimeError):
    """The executor's tool (bwrap, docker, podman) is missing or does not work on this machine."""


@mypyc_attr(native_class=False)
class ExecutorError(ValueError):
    """A container this executor cannot run as written (``valueFrom``, no command, ...)."""


def outside_volumes(target: str) -> str:
    """An absolute path in the container outside the pod's volumes (``/kratix``), without a trailing slash;
    ValueError otherwise."""
    if not target.startswith("/") or target.rstrip("/") in ("", "/kratix") or target.startswith("/kratix/"):
        raise ValueError(f"{target!r}: give an absolute path outside /kratix (e.g. /external)")
    return target.rstrip("/")


@dataclass(frozen=True)
class Mount:
    """A host path mounted into every container (``read_only`` unless said otherwise)."""

    host: Path
    target: str
    read_only: bool = True

    @classmethod
    def parse(cls, spec: str) -> Mount:
        """``HOST:TARGET`` (read-only), ``HOST:TARGET:ro`` or ``HOST:TARGET:rw``: HOST must exist, TARGET is an
        absolute path outside the pod's volumes (``/kratix``)."""
        parts = spec.split(":")
        mode = "ro"
        if len(parts) == 3:
            mode = parts.pop()
        if len(parts) != 2 or not parts[0] or not parts[1].startswith("/") or mode not in ("ro", "rw"):
            raise ValueError(f"invalid mount {spec!r}: use HOST:TARGET, HOST:TARGET:ro or HOST:TARGET:rw "
                             "with an absolute TARGET")
        try:
            target = outside_volumes(parts[1])
        except ValueError as exc:
            raise ValueError(f"mount {spec!r}: TARGET {exc}") from None
        host = Path(parts[0]).resolve()
        if not host.exists():
            raise ValueError(f"mount {spec!r}: HOST {host} does not exist")
        return cls(host, target, read_only=mode == "ro")


@dataclass(frozen=True)
class PodDirs:
    """The host directories of one pod: its three volumes, and ``scratch`` for logs (never mounted)."""

    input: Path
    output: Path
    metadata: Path
    scratch: Path


@dataclass(frozen=True)
class ContainerInvocation:
    """One execution of a user container: ``command``/``args`` already have ``$(VAR)`` expanded.

    ``command`` empty means "the image's ENTRYPOINT" (Kubernetes semantics; ``args`` then replace CMD).
    ``mounts`` are pod-level extras (legacy ``/input``/``/output`` aliases of the pod's volumes).
    """

    container: Container
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    dirs: PodDirs
    timeout_s: float
    pod_name: str
    mounts: tuple[Mount, ...] = ()
    working_dir: str | None = None


# Why an execution failed, beyond its exit code (``ContainerExit.reason``).
REASON_TIMEOUT = "ContainerTimeout"  # the harness killed it at its timeout
REASON_VOLUME_QUOTA = "VolumeQuotaExceeded"  # the harness killed it: its writable volumes outgrew the quota
REASON_NO_SPACE = "NoSpaceLeft"  # it failed saying "No space left on device" (a size-limited tmpfs was full)
REASON_KILLED = "Killed"  # SIGKILL from elsewhere (e.g. the out-of-memory killer)

DEFAULT_TMPFS_BYTES = 256 * 1024 * 1024  # each writable tmpfs (/tmp, /root, ...) of a sandbox or container
DEFAULT_VOLUME_QUOTA_BYTES = 1024 * 1024 * 1024  # the pod's writable host directories together


@dataclass(frozen=True)
class ContainerExit:
    """How an execution ended: ``timed_out`` means the harness killed it at its timeout (exit code 137);
    ``reason`` (one of the ``REASON_*``) says why a failed execution failed, when more is known than its
    exit code."""

    exit_code: int
    timed_out: bool
    duration_s: float
    stdout: str  # the tail
    stderr: str  # the tail
    reason: str | None = None


class RealExecutor(Protocol):
    name: str

    def check(self) -> None:
        """Raise ExecutorUnavailable (with the reason) unless this executor can run here."""
        ...

    def validate(self, container: Container) -> None:
        """Raise ExecutorError if this executor cannot run ``container`` (called before anything runs)."""
        ...

    def run(self, invocation: ContainerInvocation) -> ContainerExit:
        """Run the container to its end or its timeout; leave no process or container behind, even when
        interrupted (KeyboardInterrupt)."""
        ...
