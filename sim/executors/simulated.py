"""Real executors inside the simulator (issue 6, item 2): an ``Executor`` that runs the real container when a
simulated pod step starts.

The simulator (``sim.cluster.kube``) still plays the pod: the reader, in-place restarts (J3) and fresh pods
(``Never``), the work-writer and the status-writer, on the pod's in-memory volumes (``PodVolumes``). For each
user container, ``SimulatedRealExecutor.start``:

1. materialises the volumes into a fresh temporary directory: ``input/object.yaml`` from
   ``volumes.input_object`` (with the ``apiVersion``/``kind`` Kratix's reader writes), ``output/`` and
   ``metadata/`` from their dicts -- byte for byte what earlier containers (and earlier attempts of this one:
   a dirty retry) left, when the content has not changed since it was read back; else re-serialised;
2. runs the container through the real executor (``process``: bubblewrap; ``container``: docker/podman) with
   the ``KRATIX_*`` environment and the container's own ``env``, ``command`` and ``args``, read-only input;
3. reads ``output/`` and ``metadata/`` back into the volumes (YAML parsed, other files as text; values JSON
   cannot hold -- bytes, timestamps -- become text), so the work-writer stores the real files;
4. removes the temporary directory, always (also when the run fails or is interrupted).

It returns the container's real exit code (137 with reason ``ContainerTimeout`` when the harness killed it at
``timeout_s``; a scenario's ``container-failure`` fault still forces a failure, after the container ran and
wrote its files, with reason ``InjectedFailure``) and the **modelled** duration from the scenario's
``behaviour``: simulated time advances by the model, never by the wall clock. Wall time is measured
separately (``steps``, ``wall_s``) and never reaches the trace, so a scenario of deterministic scripts gives a
deterministic trace. With ``clock_offset`` (process executor, ``clock: simulated``) scripts even see the
simulated time: ``SIMULATED_EPOCH`` + the simulated seconds, through libfaketime.

``external_targets`` are the "outside world": one fresh host directory per target for the whole simulation,
mounted read-write in every container, outliving pods and Jobs (a stand-in for a cloud API). ``close()``
removes them.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import hashlib
import json
import math
import re
import secrets
import tempfile
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sim.errors import InputError, Location
from sim.executors.base import (
    REASON_TIMEOUT,
    REASON_VOLUME_QUOTA,
    ContainerInvocation,
    ExecutorError,
    ExecutorUnavailable,
    Mount,
    PodDirs,
    PodVolumes,
    RealExecutor,
    StepContext,
    StepOutcome,
)
from sim.executors.contract import (
    OBJECT_FILE,
    TEMP_PREFIX,
    container_env,
    expand_vars,
    kratix_env,
    read_tree,
    reader_object,
    remove_tree,
    temporary_directory,
)
from sim.executors.modelled import InjectedFailures
from sim.model.promise import PIPELINE_API_VERSION, WORKFLOW_ACTIONS, WORKFLOW_TYPES, Promise
from sim.scenario import Behaviour, ExecutorConfig

KILLED_EXIT_CODE = 137
SIMULATED_EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z: simulated t=0 as scripts see it (clock: simulated)
CLOCK_MARGIN_S = 0.5  # scripts see whole simulated seconds + this, so `date` cannot tick over mid-script
_YAML_SUFFIXES = (".yaml", ".yml")


# -- building the real executor from a scenario's `spec.executor` ------------------------------------------
def parse_mount(spec: str, base: Path) -> Mount:
    """``HOST:TARGET[:ro|rw]`` with HOST relative to ``base`` (the scenario file's folder)."""
    host, _, rest = spec.partition(":")
    path = Path(host).expanduser()
    return Mount.parse(f"{path if path.is_absolute() else base / path}:{rest}")


def build_real_executor(config: ExecutorConfig, base: Path) -> RealExecutor:
    """The process or container executor ``config`` describes (ExecutorError for a bad setting)."""
    mounts = [parse_mount(spec, base) for spec in config.mounts]
    if config.type == "process":
        from sim.executors.process import ProcessExecutor

        rootfs = None
        if config.rootfs is not None:
            rootfs = Path(config.rootfs).expanduser()
            rootfs = rootfs if rootfs.is_absolute() else base / rootfs
        return ProcessExecutor(bwrap=config.bwrap, mounts=mounts, entrypoints=config.entrypoints, rootfs=rootfs,
                               clock_offset_s=0.0 if config.clock == "simulated" else None)
    if config.type == "container":
        from sim.executors.container import ContainerExecutor

        return ContainerExecutor(binary=config.engine, engine_options=config.engineOptions,
                                 run_options=config.runOptions, network=config.network, mounts=mounts)
    raise ExecutorError(f"executor {config.type!r} does not run containers")


# -- turning files into JSON-able values and back ------------------------------------------------------------
def jsonable(value: Any) -> Any:
    """``value`` with what JSON (and so a Work digest) cannot hold made text: bytes as a size and digest,
    dates as ISO strings, non-string keys as strings, NaN and infinities as text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes, sha256 {hashlib.sha256(value).hexdigest()}>"
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def serialise(name: str, content: Any) -> bytes:
    """A file's bytes from its parsed content (when the original bytes are not known)."""
    if isinstance(content, bytes):
        return content
    if isinstance(content, str) and not name.endswith((*_YAML_SUFFIXES, ".json")):
        return content.encode("utf-8")
    if name.endswith(".json"):
        return (json.dumps(content, indent=2, sort_keys=False) + "\n").encode("utf-8")
    if content is None:
        return b""
    return yaml.safe_dump(content, sort_keys=False, default_flow_style=False).encode("utf-8")


def _safe_relative(name: str) -> Path | None:
    """``name`` as a relative path inside a volume, or None when it would leave it."""
    path = Path(name)
    if path.is_absolute() or any(part in ("..", "") for part in path.parts) or not path.parts:
        return None
    return path


@dataclass
class _Known:
    """The files of one pod's volume as last read back: parsed value (as stored) and original bytes."""

    files: dict[str, tuple[Any, bytes]] = field(default_factory=dict)


@dataclass
class _PodFiles:
    volumes: weakref.ref[PodVolumes]
    output: _Known = field(default_factory=_Known)
    metadata: _Known = field(default_factory=_Known)


def _write_volume(root: Path, files: Mapping[str, Any], known: _Known) -> None:
    for name, content in files.items():
        relative = _safe_relative(name)
        if relative is None:
            continue
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        remembered = known.files.get(name)
        raw = remembered[1] if remembered is not None and remembered[0] == content else serialise(name, content)
        target.write_bytes(raw)


def _read_volume(root: Path, known: _Known) -> dict[str, Any]:
    parsed = read_tree(root)
    known.files.clear()
    result: dict[str, Any] = {}
    for name, value in parsed.items():
        stored = jsonable(value)
        path = root / name
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):
                known.files[name] = (stored, path.read_bytes())
        result[name] = stored
    return result


# -- the object as Kratix's reader writes it ----------------------------------------------------------------
def crd_api_version(promise: Promise) -> tuple[str, str]:
    """``(apiVersion, kind)`` of the Promise's CRD: group/version (the storage version, else the first)."""
    api = promise.spec.api or {}
    spec = api.get("spec") if isinstance(api, dict) else None
    spec = spec if isinstance(spec, dict) else {}
    group = str(spec.get("group", ""))
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    assert isinstance(names, dict)
    kind = str(names.get("kind", ""))
    versions = [v for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("name")]
    chosen = next((v for v in versions if v.get("storage")), versions[0] if versions else {})
    version = str(chosen.get("name", "v1alpha1")) if isinstance(chosen, dict) else "v1alpha1"
    return (f"{group}/{version}" if group else version), kind


def object_document(promise: Promise, ctx: StepContext, input_object: Mapping[str, Any]) -> dict[str, Any]:
    """``object.yaml``: the simulator's reader output with ``apiVersion``/``kind`` first, as Kratix writes it."""
    body = copy.deepcopy(dict(input_object))
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and metadata.get("namespace") is None:
        metadata.pop("namespace", None)
    if ctx.workflow == "promise":
        api_version, kind = PIPELINE_API_VERSION, "Promise"
    else:
        api_version, kind = crd_api_version(promise)
    document = {"apiVersion": body.pop("apiVersion", api_version), "kind": body.pop("kind", kind), **body}
    return reader_object(promise, ctx.workflow, jsonable(document))


def pod_name(ctx: StepContext, document: Mapping[str, Any]) -> str:
    metadata = document.get("metadata")
    name = str(metadata.get("name", "")) if isinstance(metadata, dict) else ""
    text = re.sub(r"[^a-z0-9-]+", "-", f"kratix-{ctx.promise_name}-{name}-{ctx.pipeline.name}".lower()).strip("-")
    return text[:63]


# -- the adapter ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RealStep:
    """One real execution, for the side log (never the trace)."""

    object_key: str
    container: str  # workflow/action/pipeline/container
    execution: int
    attempt: int
    simulated_ms: int  # simulated time at the start
    exit_code: int  # what the simulator was told
    real_exit_code: int  # what the container returned
    timed_out: bool
    wall_s: float
    stderr: str  # tail


class SimulatedRealExecutor:
    """An ``Executor`` for the simulator that runs real containers (see the module docstring)."""

    def __init__(
        self,
        real: RealExecutor,
        behaviour: Behaviour,
        promise_of: Callable[[], Promise],
        *,
        injected: InjectedFailures | None = None,
        timeout_s: float = 120.0,
        external_targets: Sequence[str] = (),
        now_ms: Callable[[], int] | None = None,
        clock_offset: bool = False,
        workdir: Path | None = None,
    ) -> None:
        if clock_offset and (now_ms is None or not hasattr(real, "clock_offset_s")):
            raise ExecutorError("a simulated clock needs the process executor and the simulation's clock")
        self.real = real
        self.behaviour = behaviour
        self.promise_of = promise_of
        self.injected = injected if injected is not None else InjectedFailures()
        self.timeout_s = timeout_s
        self.external_targets = tuple(external_targets)
        self.now_ms = now_ms
        self.clock_offset = clock_offset
        self.workdir = workdir
        self.steps: list[RealStep] = []
        self._pods: dict[int, _PodFiles] = {}
        self._external_root: Path | None = None
        self._finalizer: weakref.finalize[[Path], SimulatedRealExecutor] | None = None

    @property
    def name(self) -> str:
        return str(self.real.name)

    @property
    def wall_s(self) -> float:
        return sum(step.wall_s for step in self.steps)

    # -- before anything runs ------------------------------------------------------------------------------
    def check(self, promise: Promise) -> None:
        """ExecutorUnavailable when the executor cannot run here; ExecutorError for a container it cannot run
        (``valueFrom``, no command for the process executor, ...)."""
        self.real.check()
        for workflow in WORKFLOW_TYPES:
            for action in WORKFLOW_ACTIONS:
                for pipeline in promise.pipelines(workflow, action):
                    for container in pipeline.spec.containers:
                        self.real.validate(container)
                        container_env(container, [])

    # -- the outside world -----------------------------------------------------------------------------------
    def _external_mounts(self) -> tuple[Mount, ...]:
        if not self.external_targets:
            return ()
        if self._external_root is None or not self._external_root.is_dir():
            # named and registered for removal before it exists: no interrupt can leave it behind unnoticed
            root = Path(self.workdir or tempfile.gettempdir()) / f"{TEMP_PREFIX}external-{secrets.token_hex(8)}"
            self._external_root = root
            self._finalizer = weakref.finalize(self, _remove_quietly, root)
            root.mkdir(mode=0o700)
        mounts = []
        for index, target in enumerate(self.external_targets):
            host = self._external_root / str(index)
            if not host.is_dir():
                host.mkdir(parents=True)
                host.chmod(0o777)
            mounts.append(Mount(host, target, read_only=False))
        return tuple(mounts)

    def external_dir(self, target: str) -> Path | None:
        """The host directory mounted at ``target`` (while the simulation runs), or None."""
        if self._external_root is None or target not in self.external_targets:
            return None
        return self._external_root / str(self.external_targets.index(target))

    def close(self) -> None:
        """Remove the external directories (a later ``start`` makes fresh ones)."""
        self._pods.clear()
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._external_root is not None:
            root, self._external_root = self._external_root, None
            remove_tree(root)

    # -- one container ---------------------------------------------------------------------------------------
    def _pod_files(self, volumes: PodVolumes) -> _PodFiles:
        for key in [k for k, v in self._pods.items() if v.volumes() is None]:
            del self._pods[key]
        entry = self._pods.get(id(volumes))
        if entry is None or entry.volumes() is not volumes:
            entry = _PodFiles(weakref.ref(volumes))
            self._pods[id(volumes)] = entry
        return entry

    def start(self, ctx: StepContext, volumes: PodVolumes) -> StepOutcome:
        spec = self.behaviour.for_key(ctx.behaviour_key)
        duration_ms = round(spec.duration * 1000)
        forced = self.injected.take(ctx.object_key, ctx.behaviour_key)
        promise = self.promise_of()
        document = object_document(promise, ctx, volumes.input_object)
        try:
            self.real.validate(ctx.container)
            env = container_env(ctx.container, kratix_env(promise, ctx.pipeline, ctx.workflow, ctx.action,
                                                          document))
        except ExecutorError as exc:  # a container added by an update-promise fault
            raise InputError(f"executor {self.name}: {exc}") from exc
        values = dict(env)
        command = tuple(expand_vars(part, values) for part in ctx.container.command)
        args = tuple(expand_vars(part, values) for part in ctx.container.args)
        files = self._pod_files(volumes)
        external = self._external_mounts()
        with temporary_directory(parent=self.workdir) as root:
            dirs = PodDirs(root / "input", root / "output", root / "metadata", root / "scratch")
            for path in (dirs.input, dirs.output, dirs.metadata, dirs.scratch):
                path.mkdir()
            dirs.output.chmod(0o777)  # like an emptyDir: any user of the image may write
            dirs.metadata.chmod(0o777)
            (dirs.input / OBJECT_FILE).write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
            _write_volume(dirs.output, volumes.output, files.output)
            _write_volume(dirs.metadata, volumes.metadata, files.metadata)
            extra = ctx.container.model_extra or {}
            working_dir = extra.get("workingDir")
            invocation = ContainerInvocation(ctx.container, command, args, tuple(env), dirs, self.timeout_s,
                                             pod_name(ctx, document), external,
                                             str(working_dir) if working_dir else None)
            if self.clock_offset and self.now_ms is not None:
                seen = SIMULATED_EPOCH + self.now_ms() // 1000 + CLOCK_MARGIN_S
                self.real.clock_offset_s = seen - time.time()  # type: ignore[attr-defined]
            started = time.monotonic()
            result = self.real.run(invocation)
            wall = time.monotonic() - started
            volumes.output = _read_volume(dirs.output, files.output)
            volumes.metadata = _read_volume(dirs.metadata, files.metadata)
        if forced is not None:
            exit_code, reason = forced, "InjectedFailure"
        elif result.timed_out:
            exit_code, reason = KILLED_EXIT_CODE, REASON_TIMEOUT
        elif result.reason == REASON_VOLUME_QUOTA:
            exit_code, reason = KILLED_EXIT_CODE, REASON_VOLUME_QUOTA
        else:
            exit_code, reason = result.exit_code, None
        self.steps.append(RealStep(ctx.object_key, ctx.behaviour_key, ctx.execution, ctx.attempt,
                                   self.now_ms() if self.now_ms is not None else 0, exit_code, result.exit_code,
                                   result.timed_out, wall, result.stderr))
        return StepOutcome(exit_code, duration_ms, reason)

    def summary(self) -> dict[str, Any]:
        """What ran for real: counts and wall time (for ``kratix-sim run``; never in the trace)."""
        failed = sum(1 for step in self.steps if step.exit_code != 0)
        return {"executor": self.name, "container_runs": len(self.steps), "failed_runs": failed,
                "timed_out": sum(1 for step in self.steps if step.timed_out), "wall_s": round(self.wall_s, 3)}


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(Exception):
        remove_tree(path)


def for_scenario(config: ExecutorConfig, base: Path, behaviour: Behaviour, promise_of: Callable[[], Promise],
                 injected: InjectedFailures, now_ms: Callable[[], int],
                 scenario_name: str = "") -> SimulatedRealExecutor:
    """The adapter for a scenario's ``spec.executor``; InputError (located at ``spec.executor``) when the
    executor cannot run here or cannot run one of the Promise's containers."""
    where = Location(f"<scenario {scenario_name}>", "spec.executor")
    try:
        real = build_real_executor(config, base)
        adapter = SimulatedRealExecutor(real, behaviour, promise_of, injected=injected, timeout_s=config.timeout,
                                        external_targets=config.externalMounts, now_ms=now_ms,
                                        clock_offset=config.clock == "simulated")
        adapter.check(promise_of())
    except ExecutorUnavailable as exc:
        raise InputError(f"executor {config.type} cannot run here: {exc}", where) from exc
    except (ExecutorError, ValueError) as exc:
        raise InputError(f"executor {config.type}: {exc}", where) from exc
    return adapter
