"""One Kratix pipeline Job run for real: the pod contract of reference section 1 around a real executor.

``run_pipeline`` plays what Kratix and Kubernetes do for one Job, with real containers:

- **reader**: writes the object (resource request, or the Promise for promise workflows), with its current
  ``status``, to ``object.yaml`` in a fresh input directory; user containers see it read-only at
  ``/kratix/input``.
- **user containers** in declared order (W2) through the executor, each with the ``KRATIX_*`` environment,
  then its own ``env`` (``value`` entries; ``$(VAR)`` references expanded as the kubelet does, also in
  ``command``/``args``), its own ``command``/``args``, and a timeout.
- **retries** (J1/J3): ``OnFailure`` (Kratix's default) re-runs the failed container in the same pod, so
  ``/kratix/output`` and ``/kratix/metadata`` keep what earlier steps and the failed attempt wrote; the Job
  fails when the pod's restart count reaches ``backoffLimit`` (> 0 when it is 0) -- the restart that
  reaches the limit is not run (Kubernetes may start it before the Job controller kills the pod; its
  result never counts). ``Never`` starts a fresh pod (fresh directories, the reader again) until failed
  pods exceed ``backoffLimit``. Back-off delays are not waited for.
- A container still running at ``timeout_s`` is killed (with every process it started) and fails the Job
  at once (reason ``ContainerTimeout``): a harness guard, not Kubernetes behaviour, so it is not retried. So
  does a container whose writable volumes outgrow the executor's quota (reason ``VolumeQuotaExceeded``).
  Every execution records why it failed beyond its exit code (``ContainerExecution.reason``: also
  ``NoSpaceLeft``, ``Killed``, ``InjectedFailure``).
- **work-writer** (configure only): ``destination-selectors.yaml`` must be valid (P3), ``workflow-control.yaml``
  too (P4); the Work is every file under ``/kratix/output`` (recursively) as ``{relative path: parsed YAML
  (one document; a list when there are several) or text}`` with the selectors; no Work when
  workflow-control asks to suspend or retry (C1).
- **status-writer**: merges ``status.yaml`` into the object's status: top-level keys replace (no deep merge),
  ``conditions`` merge by ``type``; a ``kratix`` key fails the pipeline (P2); promise workflows keep only
  ``message`` (P6, a warning). No timestamps are added (runs stay comparable).
  A failing work-writer or status-writer fails the pod: under ``OnFailure`` it would fail the same way on
  every in-place restart, so the Job fails at once; under ``Never`` a fresh pod runs.

Contract problems found on the way are returned with their rule IDs: P1 (a write to ``/kratix/input``
attempted: the read-only mount makes it fail; seen in stderr ``Read-only file system`` or as a change of the
input), P2, P3, P4, P5 (probable: a failed container complained about a missing ``/kratix/metadata`` file --
metadata is not shared across Pipelines), P6, W16 (``status.yaml`` not a mapping).

Every temporary directory lives under one root created per run and removed in a ``finally``, also when the
run fails, times out or is interrupted (KeyboardInterrupt): the executors kill what they started first.

``run_workflow`` runs a workflow's Pipelines in order (W1; delete runs only the first, D1), feeding the merged
status into the next Pipeline's ``object.yaml``, and stops at a failure or a suspend/retry.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from sim.cluster.steps import selectors_problem, workflow_control
from sim.errors import InputError
from sim.executors.base import (
    DESTINATION_SELECTORS_FILE,
    KRATIX_INPUT_DIR,
    KRATIX_METADATA_DIR,
    KRATIX_OUTPUT_DIR,
    REASON_TIMEOUT,
    REASON_VOLUME_QUOTA,
    STATUS_FILE,
    ContainerExit,
    ContainerInvocation,
    ExecutorError,
    Mount,
    PodDirs,
    PodVolumes,
    RealExecutor,
)
from sim.executors.sandbox import shielded
from sim.model.promise import PIPELINE_API_VERSION, Container, Pipeline, Promise, WorkflowAction, WorkflowType
from sim.yamlio import parse_documents

RestartPolicy = Literal["OnFailure", "Never"]
Outcome = Literal["succeeded", "suspended", "retry", "failed"]

DEFAULT_BACKOFF_LIMIT = 6  # Kubernetes' default (J1)
DEFAULT_TIMEOUT_S = 120.0
MAX_FILE_BYTES = 10 * 1024 * 1024
TEMP_PREFIX = "kratix-sim-"
OBJECT_FILE = "object.yaml"
_YAML_SUFFIXES = (".yaml", ".yml", ".json")
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_READ_ONLY_INPUT = re.compile(re.escape(KRATIX_INPUT_DIR) + r".*Read-only file system", re.IGNORECASE)
_MISSING_METADATA = re.compile(re.escape(KRATIX_METADATA_DIR) + r"/([^\s:'\"`]+)")
_MISSING_WORDS = ("no such file", "can't open", "cannot open", "not found")
# Kratix's own volume names and the legacy mount paths (loader: xaasRequestPipeline) alias the pod's volumes.
_VOLUME_ALIASES = {"input": "input", "shared-input": "input", "output": "output", "shared-output": "output",
                   "metadata": "metadata", "shared-metadata": "metadata"}


class CleanupError(RuntimeError):
    """A temporary directory could not be removed (the message names it)."""


# -- results -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContainerExecution:
    """One execution of a user container."""

    container: str
    pod: int  # 1-based pod of the Job
    attempt: int  # 1-based execution of this container in this pod
    exit_code: int  # as Kubernetes saw it (1 when injected)
    timed_out: bool
    duration_s: float  # wall clock
    stdout: str  # tail
    stderr: str  # tail
    injected: bool = False  # the container exited 0, but inject_failures reported a failure
    reason: str | None = None  # why it failed beyond the exit code (sim.executors.base.REASON_*)


@dataclass(frozen=True)
class ContractProblem:
    """A contract rule a Pipeline broke; ``fatal`` when it failed the pipeline."""

    rule: str
    message: str
    container: str | None = None
    fatal: bool = False


@dataclass(frozen=True)
class Work:
    """What the work-writer stores for one (object, pipeline)."""

    pipeline: str
    files: dict[str, Any]
    selectors: list[Any]


@dataclass
class PipelineRun:
    promise: str
    pipeline: str
    workflow: WorkflowType
    action: WorkflowAction
    restart_policy: RestartPolicy
    backoff_limit: int
    outcome: Outcome = "failed"
    reason: str | None = None  # why it failed: BackoffLimitExceeded, ContainerTimeout, InjectedFailure, ...
    pods: int = 0
    executions: list[ContainerExecution] = field(default_factory=list)
    work: Work | None = None  # what the work-writer wrote (it stays written if the status-writer then fails)
    work_discarded: bool = False  # suspend/retry dropped the output
    output: dict[str, Any] = field(default_factory=dict)  # /kratix/output of the last pod
    metadata: dict[str, Any] = field(default_factory=dict)  # /kratix/metadata of the last pod
    status: dict[str, Any] = field(default_factory=dict)  # the object's status after this Job
    workflow_control: dict[str, Any] | None = None  # {message, suspend: True} or {message, retry_after_s}
    problems: list[ContractProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """The Job completed (also when it asked to suspend or retry)."""
        return self.outcome != "failed"

    def problem_rules(self) -> list[str]:
        return sorted({p.rule for p in self.problems})

    def add_problem(self, rule: str, message: str, container: str | None = None, *, fatal: bool = False) -> None:
        problem = ContractProblem(rule, message, container, fatal)
        if problem not in self.problems:
            self.problems.append(problem)


@dataclass
class WorkflowRun:
    workflow: WorkflowType
    action: WorkflowAction
    runs: list[PipelineRun]
    status: dict[str, Any]
    works: dict[str, Work]  # by pipeline name, written by this run
    outcome: Outcome

    @property
    def problems(self) -> list[ContractProblem]:
        return [p for run in self.runs for p in run.problems]


# -- pure parts ----------------------------------------------------------------------------------------
def split_api_version(api_version: str) -> tuple[str, str]:
    """``group/version`` -> (group, version); the core group is ``""``."""
    group, _, version = api_version.rpartition("/")
    return group, version


def reader_object(promise: Promise, workflow: WorkflowType, obj: Mapping[str, Any]) -> dict[str, Any]:
    """What the reader writes: a copy of the object; a namespaced resource without one is in ``default``."""
    document = copy.deepcopy(dict(obj))
    if workflow == "resource" and _crd_scope(promise) != "Cluster":
        metadata = document.setdefault("metadata", {})
        if isinstance(metadata, dict) and not metadata.get("namespace"):
            metadata["namespace"] = "default"
    return document


def _crd_scope(promise: Promise) -> str:
    api = promise.spec.api or {}
    spec = api.get("spec") if isinstance(api, dict) else None
    return str(spec.get("scope", "Namespaced")) if isinstance(spec, dict) else "Namespaced"


def _crd_plural(promise: Promise) -> str:
    api = promise.spec.api or {}
    spec = api.get("spec") if isinstance(api, dict) else None
    names = spec.get("names") if isinstance(spec, dict) else None
    return str(names.get("plural", "")) if isinstance(names, dict) else ""


def kratix_env(promise: Promise, pipeline: Pipeline, workflow: WorkflowType, action: WorkflowAction,
               obj: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The ``KRATIX_*`` variables Kratix gives every user container (section 1), in Kratix's order."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    if workflow == "promise":
        group, version = split_api_version(PIPELINE_API_VERSION)
        kind, plural, cluster_scoped, namespace = "Promise", "promises", True, ""
    else:
        group, version = split_api_version(str(obj.get("apiVersion", "")))
        kind, plural = str(obj.get("kind", "")), _crd_plural(promise)
        cluster_scoped = _crd_scope(promise) == "Cluster"
        namespace = str(metadata.get("namespace") or "")
    return [
        ("KRATIX_WORKFLOW_ACTION", action),
        ("KRATIX_WORKFLOW_TYPE", workflow),
        ("KRATIX_PROMISE_NAME", promise.name),
        ("KRATIX_PIPELINE_NAME", pipeline.name),
        ("KRATIX_OBJECT_KIND", kind),
        ("KRATIX_OBJECT_GROUP", group),
        ("KRATIX_OBJECT_VERSION", version),
        ("KRATIX_OBJECT_NAME", str(metadata.get("name", ""))),
        ("KRATIX_OBJECT_NAMESPACE", namespace),
        ("KRATIX_CRD_PLURAL", plural),
        ("KRATIX_CLUSTER_SCOPED", "true" if cluster_scoped else "false"),
    ]


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: known names are replaced, unknown ones kept, ``$$`` gives ``$``."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))
    return _VAR_REF.sub(replace, text)


def container_env(container: Container, base: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """``base`` then the container's own ``env`` (``value`` entries, ``$(VAR)`` expanded); a later entry with
    the same name wins, as in Kubernetes. ``valueFrom`` and ``envFrom`` need a cluster: ExecutorError."""
    if container.envFrom:
        raise ExecutorError(f"container {container.name!r}: envFrom needs a cluster (ConfigMaps/Secrets) and "
                            "is not supported by the real executors; use env with value")
    env = dict(base)
    for index, entry in enumerate(container.env):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise ExecutorError(f"container {container.name!r}: env[{index}] has no name")
        if "valueFrom" in entry:
            raise ExecutorError(f"container {container.name!r}: env {name!r} uses valueFrom, which needs a cluster "
                                "(Secrets, ConfigMaps, the downward API) and is not supported by the real "
                                "executors; to test the Pipeline here, give it a `value` in a copy of the Promise")
        value = entry.get("value", "")
        env[name] = expand_vars("" if value is None else str(value), env)
    return list(env.items())


def merge_status(current: Mapping[str, Any], written: Mapping[str, Any]) -> dict[str, Any]:
    """W16: top-level keys of ``written`` replace those of ``current`` (nested maps are not merged), except
    ``conditions``, merged by ``type`` (a condition of a new type is appended)."""
    merged = copy.deepcopy(dict(current))
    for key, value in written.items():
        if key == "conditions" and isinstance(value, list):
            conditions = [c for c in merged.get("conditions") or [] if isinstance(c, dict)]
            for item in value:
                if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                    continue
                for i, existing in enumerate(conditions):
                    if existing.get("type") == item["type"]:
                        conditions[i] = copy.deepcopy(item)
                        break
                else:
                    conditions.append(copy.deepcopy(item))
            merged["conditions"] = conditions
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_file(path: Path) -> Any:
    """A pipeline file's content: ``.yaml``/``.yml``/``.json`` parsed (one document as itself, several as a
    list, none as None; duplicate keys: the last wins), other files (or unparsable ones) as text, bytes when
    not UTF-8. Symlinks are never followed; other special files are described, not read."""
    if path.is_symlink():
        return f"<symlink to {os.readlink(path)}>"
    mode = path.lstat().st_mode
    if not stat.S_ISREG(mode):
        return "<special file>"
    if not os.access(path, os.R_OK):
        with contextlib.suppress(OSError):
            path.chmod(stat.S_IMODE(mode) | stat.S_IRUSR)  # the pod's files are ours (uid 0 or user-mapped)
    try:
        size = path.lstat().st_size
        if size > MAX_FILE_BYTES:
            return f"<{size} bytes, sha256 {_sha256(path)}>"
        raw = path.read_bytes()
    except OSError as exc:
        return f"<unreadable: {exc.strerror}>"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    if not path.name.endswith(_YAML_SUFFIXES):
        return text
    try:
        return _documents([doc.data for doc in parse_documents(text, str(path))])
    except InputError as exc:
        if "duplicate key" not in str(exc):
            return text
    try:
        return _documents([d for d in yaml.safe_load_all(text) if d is not None])
    except yaml.YAMLError:
        return text


def _documents(docs: list[Any]) -> Any:
    if not docs:
        return None
    return docs[0] if len(docs) == 1 else docs


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_tree(root: Path) -> dict[str, Any]:
    """Every file under ``root`` (recursively) as ``{relative posix path: parse_file(...)}``."""
    files: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        for name in dirnames:  # a script may leave a directory unreadable: open it up before walking in
            child = base / name
            if not child.is_symlink() and not os.access(child, os.R_OK | os.X_OK):
                with contextlib.suppress(OSError):
                    child.chmod(0o755)
        names = list(filenames) + [d for d in dirnames if (base / d).is_symlink()]
        for name in sorted(names):
            path = base / name
            files[path.relative_to(root).as_posix()] = parse_file(path)
    return dict(sorted(files.items()))


def _snapshot(root: Path) -> dict[str, tuple[int, str]]:
    result: dict[str, tuple[int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*filenames, *dirnames]:
            path = Path(dirpath) / name
            info = path.lstat()
            digest = _sha256(path) if stat.S_ISREG(info.st_mode) else ""
            result[path.relative_to(root).as_posix()] = (info.st_mode, digest)
    return result


@contextlib.contextmanager
def temporary_directory(prefix: str = TEMP_PREFIX, parent: Path | None = None) -> Iterator[Path]:
    """A fresh directory (mode 0700) under ``parent`` (default: the system's, ``$TMPDIR``), removed when the
    block ends however it ends, also on an interrupt that arrives while it is being created: its random name
    is chosen before it exists."""
    path = Path(parent or tempfile.gettempdir()) / f"{prefix}{secrets.token_hex(8)}"
    try:
        path.mkdir(mode=0o700)
        yield path
    finally:
        remove_tree(path)


def remove_tree(path: Path) -> None:
    """Remove a run's directory even when a script left unwritable directories; CleanupError if it stays. An
    interrupt arriving meanwhile waits until the directory is gone (``shielded``)."""
    def remove() -> None:
        if not path.exists() and not path.is_symlink():
            return
        for dirpath, dirnames, _ in os.walk(path):
            for name in dirnames:
                child = os.path.join(dirpath, name)
                if not os.path.islink(child):
                    with contextlib.suppress(OSError):
                        os.chmod(child, 0o700)
        shutil.rmtree(path)

    try:
        shielded(remove)
    except OSError as exc:
        raise CleanupError(f"could not remove the temporary directory {path}: {exc}") from exc


# -- the Job -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Plan:
    container: Container
    env: tuple[tuple[str, str], ...]
    command: tuple[str, ...]
    args: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...]  # (volume, mount path)
    working_dir: str | None


def _plan(container: Container, base_env: Sequence[tuple[str, str]], warnings: list[str]) -> _Plan:
    env = container_env(container, base_env)
    values = dict(env)
    aliases: list[tuple[str, str]] = []
    for mount in container.volumeMounts:
        name, path = mount.get("name"), mount.get("mountPath")
        if name in _VOLUME_ALIASES and isinstance(path, str) \
                and path not in (KRATIX_INPUT_DIR, KRATIX_OUTPUT_DIR, KRATIX_METADATA_DIR):
            aliases.append((_VOLUME_ALIASES[str(name)], path))
        elif name not in _VOLUME_ALIASES:
            warnings.append(f"container {container.name!r}: volumeMount {name!r} at {path!r} is not mounted "
                            "(only the pod's input, output and metadata volumes exist here)")
    extra = container.model_extra or {}
    working_dir = extra.get("workingDir")
    return _Plan(
        container, tuple(env),
        tuple(expand_vars(part, values) for part in container.command),
        tuple(expand_vars(part, values) for part in container.args),
        tuple(aliases), str(working_dir) if working_dir else None,
    )


def _pod_dirs(root: Path, pod: int) -> PodDirs:
    base = root / f"pod-{pod}"
    dirs = PodDirs(base / "input", base / "output", base / "metadata", base / "scratch")
    for path in (dirs.input, dirs.output, dirs.metadata, dirs.scratch):
        path.mkdir(parents=True)
    # Like an emptyDir: any user of the image may write output and metadata.
    dirs.output.chmod(0o777)
    dirs.metadata.chmod(0o777)
    return dirs


_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generated-name suffixes (k8s.io/apimachinery rand)


def _suffix(*parts: object) -> str:
    """Five characters of a generated name, derived from ``parts`` (reproducible, different per Job and pod)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return "".join(_NAME_ALPHABET[b % len(_NAME_ALPHABET)] for b in digest[:5])


def _pod_name(promise: str, obj: Mapping[str, Any], pipeline: str, pod: int, job_seed: int) -> str:
    """``kratix-<promise>-<object>-<pipeline>-<5>`` (the Job), then ``-<5>`` (its pod): as in Kratix, every Job
    and pod has a new name, so the hostname a script sees changes from run to run."""
    metadata = obj.get("metadata")
    name = str(metadata.get("name", "")) if isinstance(metadata, dict) else ""
    text = re.sub(r"[^a-z0-9-]+", "-", f"kratix-{promise}-{name}-{pipeline}".lower()).strip("-")[:50].rstrip("-")
    job = f"{text}-{_suffix(text, job_seed)}"
    return f"{job}-{_suffix(job, pod)}"


@dataclass
class _Job:
    run: PipelineRun
    promise: Promise
    pipeline: Pipeline
    document: dict[str, Any]
    plans: list[_Plan]
    executor: RealExecutor
    timeout_s: float
    fail_after: int | None
    inject_failures: Mapping[str, int]
    status_writer: bool
    job_seed: int
    executions_of: dict[str, int] = field(default_factory=dict)

    def run_pods(self, root: Path) -> None:
        run = self.run
        failed_pods = 0
        while True:
            run.pods += 1
            dirs = _pod_dirs(root, run.pods)
            (dirs.input / OBJECT_FILE).write_text(yaml.safe_dump(self.document, sort_keys=False))
            try:
                state = self._user_containers(dirs)
                if state == "ok":
                    state = "ok" if self._kratix_steps(dirs) else "pod-failed"
                    if state == "pod-failed" and run.restart_policy == "OnFailure":
                        state = "job-failed"  # an in-place restart would fail the same way
            finally:
                run.output = read_tree(dirs.output)
                run.metadata = read_tree(dirs.metadata)
            if state == "ok":
                return
            if state == "job-failed":
                run.outcome = "failed"
                return
            failed_pods += 1
            if failed_pods > run.backoff_limit:
                run.outcome, run.reason = "failed", run.reason or "BackoffLimitExceeded"
                return
            run.reason = None

    def _user_containers(self, dirs: PodDirs) -> str:
        run = self.run
        restarts = 0
        for index, plan in enumerate(self.plans):
            name = plan.container.name
            if self.fail_after is not None and index >= self.fail_after:
                run.reason = "InjectedFailure"
                return "job-failed"
            attempt = 0
            while True:
                attempt += 1
                self.executions_of[name] = self.executions_of.get(name, 0) + 1
                before = _snapshot(dirs.input)
                result = self.executor.run(self._invocation(plan, dirs))
                injected = result.exit_code == 0 and self.executions_of[name] <= self.inject_failures.get(name, 0)
                code = 1 if injected else result.exit_code
                run.executions.append(ContainerExecution(name, run.pods, attempt, code, result.timed_out,
                                                         result.duration_s, result.stdout, result.stderr, injected,
                                                         "InjectedFailure" if injected else result.reason))
                self._check_input(name, result, before, dirs)
                if result.exit_code != 0:
                    self._check_metadata_reads(name, result, dirs)
                if result.timed_out:
                    run.reason = REASON_TIMEOUT
                    run.warnings.append(f"container {name!r} still ran after {self.timeout_s:g}s and was killed")
                    return "job-failed"
                if result.reason == REASON_VOLUME_QUOTA:
                    run.reason = REASON_VOLUME_QUOTA
                    run.warnings.append(f"container {name!r} wrote more than the executor's volume quota to its "
                                        "volumes and was killed")
                    return "job-failed"
                if code == 0:
                    break
                if run.restart_policy == "Never":
                    run.reason = "BackoffLimitExceeded"
                    return "pod-failed"
                restarts += 1
                limit = run.backoff_limit
                if (limit == 0 and restarts > 0) or (limit > 0 and restarts >= limit):
                    run.reason = "BackoffLimitExceeded"
                    return "job-failed"
        return "ok"

    def _invocation(self, plan: _Plan, dirs: PodDirs) -> ContainerInvocation:
        host = {"input": dirs.input, "output": dirs.output, "metadata": dirs.metadata}
        mounts = tuple(Mount(host[volume], path, read_only=volume == "input") for volume, path in plan.aliases)
        return ContainerInvocation(plan.container, plan.command, plan.args, plan.env, dirs, self.timeout_s,
                                   _pod_name(self.run.promise, self.document, self.run.pipeline, self.run.pods,
                                             self.job_seed),
                                   mounts, plan.working_dir)

    def _check_input(self, name: str, result: ContainerExit, before: dict[str, tuple[int, str]],
                     dirs: PodDirs) -> None:
        for line in (result.stderr + "\n" + result.stdout).splitlines():
            if _READ_ONLY_INPUT.search(line):
                self.run.add_problem("P1", f"tried to write to {KRATIX_INPUT_DIR} (read-only): {line.strip()}", name)
                break
        if _snapshot(dirs.input) != before:
            self.run.add_problem("P1", f"changed {KRATIX_INPUT_DIR} (the executor did not mount it read-only)", name)

    def _check_metadata_reads(self, name: str, result: ContainerExit, dirs: PodDirs) -> None:
        for line in result.stderr.splitlines():
            lowered = line.lower()
            if not any(word in lowered for word in _MISSING_WORDS):
                continue
            for match in _MISSING_METADATA.finditer(line):
                missing = match.group(1).rstrip(".,;")
                if not (dirs.metadata / missing).exists():
                    self.run.add_problem(
                        "P5", f"probably read {KRATIX_METADATA_DIR}/{missing}, which this Pipeline did not write: "
                        "metadata is not shared across Pipelines (pass values through the object's status)", name)
                    return

    def _kratix_steps(self, dirs: PodDirs) -> bool:
        """work-writer (configure) and status-writer; False when one of them fails the pod."""
        run = self.run
        metadata = read_tree(dirs.metadata)
        control, control_problem = workflow_control(PodVolumes({}, metadata=metadata))
        if run.action == "configure":
            selectors = metadata.get(DESTINATION_SELECTORS_FILE)
            selectors = [] if selectors is None else selectors
            problem = selectors_problem(selectors)
            if problem is not None:
                run.reason = "WorkWriterFailed"
                run.add_problem("P3", problem, fatal=True)
                return False
            if control_problem is not None:
                run.reason = "WorkWriterFailed"
                run.add_problem("P4", control_problem, fatal=True)
                return False
            output = read_tree(dirs.output)
            if control is None:
                run.work = Work(run.pipeline, output, list(selectors))
            else:
                run.work, run.work_discarded = None, True
        if not self.status_writer:
            return self._finish(control)
        written = metadata.get(STATUS_FILE)
        written = {} if written is None else written
        if not isinstance(written, dict):
            run.reason = "StatusWriterFailed"
            run.add_problem("W16", f"{STATUS_FILE} must be a mapping, not {type(written).__name__}", fatal=True)
            return False
        if "kratix" in written:
            run.reason = "StatusWriterFailed"
            run.add_problem("P2", f"{STATUS_FILE} may not set the reserved top-level key `kratix`", fatal=True)
            return False
        if control_problem is not None:
            run.reason = "StatusWriterFailed"
            run.add_problem("P4", control_problem, fatal=True)
            return False
        if run.workflow == "promise":
            dropped = sorted(str(k) for k in written if k != "message")
            if dropped:
                run.add_problem("P6", f"promise workflows may only write `message` to {STATUS_FILE}; dropped: "
                             + ", ".join(dropped))
                run.warnings.append(f"status keys dropped (promise workflow): {', '.join(dropped)}")
            written = {k: v for k, v in written.items() if k == "message"}
        current = self.document.get("status")
        run.status = merge_status(current if isinstance(current, dict) else {}, written)
        return self._finish(control)

    def _finish(self, control: dict[str, Any] | None) -> bool:
        run = self.run
        run.workflow_control = control
        run.reason = None
        if control is None:
            run.outcome = "succeeded"
        else:
            run.outcome = "retry" if "retry_after_s" in control else "suspended"
        return True


def job_retry(pipeline: Pipeline) -> tuple[RestartPolicy, int]:
    """The restart policy and backoffLimit of the Pipeline's Job (J1: ``OnFailure`` and 6 unless it sets them)."""
    limit = pipeline.spec.jobOptions.backoffLimit
    return pipeline.spec.restartPolicy or "OnFailure", DEFAULT_BACKOFF_LIMIT if limit is None else limit


def retries_first_failure(policy: RestartPolicy, limit: int) -> bool:
    """J1/J3: whether a container's first failure is retried rather than failing the Job: in place under
    ``OnFailure`` when backoffLimit >= 2 (the restart that reaches the limit is not run), in a fresh pod under
    ``Never`` when backoffLimit >= 1."""
    return limit >= (2 if policy == "OnFailure" else 1)


def run_pipeline(
    promise: Promise,
    pipeline: Pipeline,
    workflow: WorkflowType,
    action: WorkflowAction,
    obj: Mapping[str, Any],
    executor: RealExecutor,
    *,
    restart_policy: RestartPolicy | None = None,
    backoff_limit: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    fail_after: int | None = None,
    inject_failures: Mapping[str, int] | None = None,
    delete_status_writer: bool = True,
    workdir: Path | None = None,
    job_seed: int = 0,
) -> PipelineRun:
    """Run one Pipeline's Job for real (see the module docstring).

    ``obj`` is the object document (``apiVersion``, ``kind``, ``metadata``, ``spec``, ``status``): the resource
    request, or the Promise for promise workflows. ``restart_policy``/``backoff_limit`` default to the
    Pipeline's (then ``OnFailure``/6). ``fail_after=k``: the Job fails after the first k user containers
    exited 0 (container k+1 never runs; no work-writer, no status-writer): a partial failure (I3).
    ``inject_failures={container: n}``: the first n executions of that container (across pods) are
    reported as failed (exit 1) after they ran and wrote their files: a retry on dirty volumes (I2).
    ``delete_status_writer``: whether delete Jobs end with a status-writer (profile ``kratix-2026.08``: yes).
    ``workdir``: where the run's temporary directory goes (default: the system's). ``job_seed``: which generated
    Job and pod names this run gets (the hostname its containers see); give each run of a comparison its own.

    Raises ExecutorUnavailable (the executor cannot run here) and ExecutorError (a container it cannot run,
    e.g. ``valueFrom``) before anything runs; CleanupError if a temporary directory could not be removed.
    """
    default_policy, default_limit = job_retry(pipeline)
    policy: RestartPolicy = restart_policy or default_policy
    limit = backoff_limit if backoff_limit is not None else default_limit
    if limit < 0:
        raise ValueError("backoff_limit must be >= 0")
    if timeout_s <= 0:
        raise ValueError("timeout_s must be > 0")
    document = reader_object(promise, workflow, obj)
    current = document.get("status")
    run = PipelineRun(promise.name, pipeline.name, workflow, action, policy, limit,
                      status=copy.deepcopy(current) if isinstance(current, dict) else {})
    base_env = kratix_env(promise, pipeline, workflow, action, document)
    plans = [_plan(container, base_env, run.warnings) for container in pipeline.spec.containers]
    executor.check()
    for plan in plans:
        executor.validate(plan.container)
    job = _Job(run, promise, pipeline, document, plans, executor, timeout_s, fail_after,
               dict(inject_failures or {}), action == "configure" or delete_status_writer, job_seed)
    with temporary_directory(parent=workdir) as root:
        job.run_pods(root)
    return run


def with_status(obj: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` whose ``status`` is ``status`` (how Kratix feeds the merged status back)."""
    document = copy.deepcopy(dict(obj))
    document["status"] = copy.deepcopy(dict(status))
    return document


def run_workflow(
    promise: Promise,
    workflow: WorkflowType,
    action: WorkflowAction,
    obj: Mapping[str, Any],
    executor: RealExecutor,
    *,
    fail_after: tuple[str, int] | None = None,
    inject_failures: Mapping[str, int] | None = None,
    **options: Any,
) -> WorkflowRun:
    """Run the workflow's Pipelines in order (W1), each seeing the status merged by the ones before; stop at
    a failure or a suspend/retry (C1). Delete runs only the first Pipeline (D1).

    ``fail_after=(pipeline, k)`` and ``inject_failures={"pipeline/container": n}`` target one Pipeline;
    other ``options`` go to every ``run_pipeline`` call.
    """
    pipelines = promise.pipelines(workflow, action)
    if action == "delete":
        pipelines = pipelines[:1]
    document = copy.deepcopy(dict(obj))
    raw_status = document.get("status")
    status: dict[str, Any] = copy.deepcopy(raw_status) if isinstance(raw_status, dict) else {}
    runs: list[PipelineRun] = []
    works: dict[str, Work] = {}
    outcome: Outcome = "succeeded"
    for pipeline in pipelines:
        injected = {key.split("/", 1)[1]: n for key, n in (inject_failures or {}).items()
                    if key.split("/", 1)[0] == pipeline.name and "/" in key}
        cut = fail_after[1] if fail_after is not None and fail_after[0] == pipeline.name else None
        current = with_status(document, status) if status or "status" in document else document
        run = run_pipeline(promise, pipeline, workflow, action, current, executor, fail_after=cut,
                           inject_failures=injected, **options)
        runs.append(run)
        status = run.status
        if run.work is not None:
            works[pipeline.name] = run.work
        if run.outcome != "succeeded":
            outcome = run.outcome
            break
    return WorkflowRun(workflow, action, runs, status, works, outcome)
