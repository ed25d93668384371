"""The perturbation matrix: a Promise's real pipelines run again and again, each time with one thing changed.

Every run is a ``run_workflow`` (``sim.executors.contract``) through a real executor, with:

- the object's **status** fed back (as Kratix does) or not;
- a **clock**: with an executor that can shift it (the process executor with libfaketime) every run's wall
  clock is pinned to a chosen instant (``T0`` = 2030-06-15T12:00:00Z plus an offset), so runs that should
  agree see the same time; otherwise the real clock runs;
- **randomness**: ``/dev/urandom`` and ``/dev/random`` are replaced by a 1 MiB file made from a seed (every
  read starts at its beginning), so runs that should agree draw the same bytes; ``$RANDOM``, ``uuidgen``
  (the getrandom call) and sub-second time stay uncontrolled;
- an **external world**: a fresh empty directory for every ``externals`` target (e.g. ``/external``, the
  examples' stand-in for a cloud API), kept across the runs of one perturbation, fresh (or a copy of the
  state after the clean first run) per perturbation.

The matrix (reference section 8), ``R1`` being the clean first run (no status, seed 0, clock ``T0``):

- **clean**: R1; if it fails, the report names the failing container with its output (rule ``RUN``) and
  stops. A second clean first run on a fresh world measures what the harness cannot hold fixed (noise).
- **I1**: N re-runs after R1 on the same world, each fed the status of the one before, each one day, one
  hour, one minute and one second later than the previous (when the clock can be pinned; otherwise at least
  a second later) with another seed; every re-run must equal the first re-run (Works, selectors, status,
  external state), and none may fail.
- **I4**: from a copy of the world after R1, with R1's status: a replica of re-run 1 (same seed and clock),
  one with another seed, one with the clock shifted by 400 days 3h 7m 11s (or a plain run at least a second
  later when the clock cannot be pinned). Replica vs re-run 1: uncontrolled randomness; other seed:
  randomness; other clock: time.
- **I5** (warning): from a copy of the world after R1, a re-run *without* the status, compared with re-run 1.
- **I2**: for every container of every Pipeline R1 ran, a first run on a fresh world where that container's
  first execution is reported failed after it ran (``inject_failures``): it re-runs in the same pod on its
  own output and metadata. Compared with R1.
- **I3**: for every Pipeline R1 ran and every cut point k (after container k; for later Pipelines also
  before their first container), a run on a fresh world that fails there (``fail_after``), then a full
  re-run fed the status the failed run left; compared with R1.
- **I6**: when the workflow has a delete Pipeline: on a copy of the world after R1 with R1's status, the
  delete Pipeline runs twice; both runs must succeed (a failing first delete is ``RUN``).
- **P1-P6** (and W16): the contract problems ``run_pipeline`` saw in the unperturbed runs; in I2/I3 runs they
  are part of the finding's message.

Differences the harness cannot hold fixed (between the two clean first runs, between re-run 1 and its
replica, and the time-dependent ones when the clock cannot be pinned) are masked in I2, I3 and I5: they are
I4 material and reported there.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import random
import re
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from conformance.idempotency.diff import ABSENT, diff_values
from conformance.idempotency.findings import WARNING_RULES, Finding, Severity, jsonable, sort_findings
from sim.executors.base import (
    DESTINATION_SELECTORS_FILE,
    KRATIX_INPUT_DIR,
    KRATIX_METADATA_DIR,
    KRATIX_OUTPUT_DIR,
    STATUS_FILE,
    WORKFLOW_CONTROL_FILE,
    ContainerExit,
    ContainerInvocation,
    Mount,
    RealExecutor,
)
from sim.executors.contract import (
    PipelineRun,
    WorkflowRun,
    job_retry,
    read_tree,
    retries_first_failure,
    run_workflow,
    with_status,
)
from sim.executors.process import ProcessExecutor, find_libfaketime
from sim.model.promise import Container, Pipeline, Promise, WorkflowAction, WorkflowType

T0 = datetime.datetime(2030, 6, 15, 12, 0, 0, tzinfo=datetime.UTC).timestamp()
RERUN_STEP_S = 86400 + 3600 + 60 + 1
CLOCK_SHIFT_S = 400 * 86400 + 3 * 3600 + 7 * 60 + 11
SEED_CLEAN = 0
SEED_OTHER = 1000
RANDOM_BYTES = 1 << 20
MIN_SPACING_S = 1.05  # runs that must see another second, when the clock cannot be pinned
RUN_RULES = ("RUN", "I1", "I2", "I3", "I4", "I5", "I6", "P1", "P2", "P3", "P4", "P5", "P6")
_PROBLEM_FILES = {
    "P2": f"{KRATIX_METADATA_DIR}/{STATUS_FILE}",
    "P3": f"{KRATIX_METADATA_DIR}/{DESTINATION_SELECTORS_FILE}",
    "P4": f"{KRATIX_METADATA_DIR}/{WORKFLOW_CONTROL_FILE}",
    "P6": f"{KRATIX_METADATA_DIR}/{STATUS_FILE}",
    "W16": f"{KRATIX_METADATA_DIR}/{STATUS_FILE}",
}
_INPUT_PATH = re.compile(re.escape(KRATIX_INPUT_DIR) + r"/[^\s'\"`:,;]+")
_METADATA_PATH = re.compile(re.escape(KRATIX_METADATA_DIR) + r"/[^\s'\"`:,;]+")


# -- executors -------------------------------------------------------------------------------------------
class _Auto:
    """Marker: name the Pipeline's only container."""


AUTO = _Auto()


class ExecutorFactory(Protocol):
    """Makes the executor of one run: extra mounts (external world, seeded randomness) and a pinned clock."""

    name: str
    pins_clock: bool  # can pin the wall clock the containers see
    seeds_randomness: bool  # can replace /dev/urandom

    def make(self, mounts: Sequence[Mount], clock: float | None) -> RealExecutor:
        """An executor for one run; ``clock``: the epoch the run should start at (None: the real clock)."""
        ...


class _WithMounts:
    """An executor whose every invocation gets extra pod-level mounts."""

    def __init__(self, inner: RealExecutor, mounts: Sequence[Mount]) -> None:
        self.inner = inner
        self.mounts = tuple(mounts)
        self.name = inner.name

    def check(self) -> None:
        self.inner.check()

    def validate(self, container: Container) -> None:
        self.inner.validate(container)

    def run(self, invocation: ContainerInvocation) -> ContainerExit:
        return self.inner.run(dataclasses.replace(invocation, mounts=(*invocation.mounts, *self.mounts)))


class ProcessFactory:
    """The process executor (bubblewrap); the clock is pinned through libfaketime when it is installed."""

    name = "process"
    seeds_randomness = True

    def __init__(self, executor: ProcessExecutor, *, pin_clock: bool | None = None) -> None:
        self.executor = executor
        usable = find_libfaketime() is not None and executor.rootfs is None
        self.pins_clock = usable if pin_clock is None else (pin_clock and usable)

    def make(self, mounts: Sequence[Mount], clock: float | None) -> RealExecutor:
        # The offset is measured now, just before the run: its containers start within milliseconds.
        self.executor.clock_offset_s = None if clock is None or not self.pins_clock else clock - time.time()
        return _WithMounts(self.executor, mounts)


class PlainFactory:
    """Any executor that cannot shift the clock (the container executor)."""

    pins_clock = False

    def __init__(self, executor: RealExecutor, *, seeds_randomness: bool = True) -> None:
        self.executor = executor
        self.name = executor.name
        self.seeds_randomness = seeds_randomness

    def make(self, mounts: Sequence[Mount], clock: float | None) -> RealExecutor:
        return _WithMounts(self.executor, mounts)


# -- runs --------------------------------------------------------------------------------------------------
@dataclass
class World:
    """The external state of one perturbation: host directories by the path containers see them at."""

    dirs: dict[str, Path]

    def mounts(self) -> list[Mount]:
        return [Mount(path, target, read_only=False) for target, path in self.dirs.items()]

    def read(self) -> dict[str, dict[str, Any]]:
        return {target: read_tree(path) for target, path in self.dirs.items()}


@dataclass
class RunRecord:
    """One workflow run of the matrix and what it was given."""

    perturbation: str
    label: str
    action: WorkflowAction
    seed: int | None
    clock: float | None
    status_fed: bool
    run: WorkflowRun
    external: dict[str, dict[str, Any]]
    started: float
    fail_after: tuple[str, int] | None = None
    inject_failures: dict[str, int] = field(default_factory=dict)

    def failing(self) -> PipelineRun | None:
        return next((r for r in self.run.runs if r.outcome == "failed"), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "perturbation": self.perturbation, "label": self.label, "action": self.action,
            "outcome": self.run.outcome, "seed": self.seed,
            "clock": None if self.clock is None else _iso(self.clock),
            "status_fed": self.status_fed,
            "fail_after": None if self.fail_after is None else {"pipeline": self.fail_after[0],
                                                                "containers": self.fail_after[1]},
            "inject_failures": dict(self.inject_failures),
            "status": jsonable(self.run.status),
            "pipelines": [{
                "pipeline": r.pipeline, "outcome": r.outcome, "reason": r.reason, "pods": r.pods,
                "problems": [{"rule": p.rule, "container": p.container, "message": p.message, "fatal": p.fatal}
                             for p in r.problems],
                "warnings": list(r.warnings),
                "executions": [{"container": e.container, "pod": e.pod, "attempt": e.attempt,
                                "exit_code": e.exit_code, "reason": e.reason, "injected": e.injected,
                                "timed_out": e.timed_out, "duration_s": round(e.duration_s, 3), "stdout": e.stdout,
                                "stderr": e.stderr}
                               for e in r.executions],
            } for r in self.run.runs],
        }


def _iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- comparing two runs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Delta:
    """One difference between two runs' results."""

    section: str  # outcome | work | selectors | status | external
    pipeline: str | None
    file: str | None
    path: str
    before: Any
    after: Any

    @property
    def key(self) -> tuple[str, str | None, str | None, str]:
        return (self.section, self.pipeline, self.file, self.path)


def _stop(record: RunRecord) -> tuple[str, str | None]:
    last = record.run.runs[-1] if record.run.runs else None
    if record.run.outcome == "succeeded" or last is None:
        return record.run.outcome, None
    return record.run.outcome, last.pipeline


def _status_writer(records: Iterable[RunRecord], key: str) -> str | None:
    writer: str | None = None
    for record in records:
        for run in record.run.runs:
            written = run.metadata.get(STATUS_FILE)
            if isinstance(written, dict) and key in written:
                writer = run.pipeline
    return writer


def compare(before: RunRecord, after: RunRecord, pipelines: Sequence[str]) -> list[Delta]:
    """What differs between two runs: the outcome (then nothing else), else Work files, selectors, the
    object's status and the external state, each down to the YAML key path."""
    stop_before, stop_after = _stop(before), _stop(after)
    if stop_before != stop_after:
        return [Delta("outcome", stop_after[1] or stop_before[1], None, "outcome", before.run.outcome,
                      after.run.outcome)]
    deltas: list[Delta] = []
    names = [p for p in pipelines if p in before.run.works or p in after.run.works]
    for pipeline in names:
        work_before, work_after = before.run.works.get(pipeline), after.run.works.get(pipeline)
        files_before = work_before.files if work_before else {}
        files_after = work_after.files if work_after else {}
        for rel in sorted(set(files_before) | set(files_after)):
            for d in diff_values(files_before.get(rel, ABSENT), files_after.get(rel, ABSENT)):
                deltas.append(Delta("work", pipeline, f"{KRATIX_OUTPUT_DIR}/{rel}", d.path, d.before, d.after))
        selectors_before = work_before.selectors if work_before else ABSENT
        selectors_after = work_after.selectors if work_after else ABSENT
        for d in diff_values(selectors_before, selectors_after):
            deltas.append(Delta("selectors", pipeline, f"{KRATIX_METADATA_DIR}/{DESTINATION_SELECTORS_FILE}", d.path,
                                d.before, d.after))
    for d in diff_values(before.run.status, after.run.status):
        top = d.path.split(".", 1)[0].split("[", 1)[0]
        deltas.append(Delta("status", _status_writer((before, after), top), f"{KRATIX_METADATA_DIR}/{STATUS_FILE}",
                            d.path, d.before, d.after))
    for target in sorted(set(before.external) | set(after.external)):
        tree_before, tree_after = before.external.get(target, {}), after.external.get(target, {})
        for rel in sorted(set(tree_before) | set(tree_after)):
            for d in diff_values(tree_before.get(rel, ABSENT), tree_after.get(rel, ABSENT)):
                deltas.append(Delta("external", None, f"{target.rstrip('/')}/{rel}", d.path, d.before, d.after))
    return deltas


def describe_failure(record: RunRecord, lines: int = 3) -> str:
    """``failed at pipeline P (reason): container C exited N: <last lines of its output>; P3: ...``."""
    run = record.failing()
    if run is None:
        return record.run.outcome
    text = f"failed at Pipeline {run.pipeline!r} ({run.reason or 'failed'})"
    failed = [e for e in run.executions if e.exit_code != 0 and not e.injected]
    if failed:
        last = failed[-1]
        output = (last.stderr.strip() or last.stdout.strip()).splitlines()[-lines:]
        text += f": container {last.container!r} exited {last.exit_code}"
        if output:
            text += ": " + " | ".join(line.strip() for line in output)
    problems = [f"{p.rule}: {p.message}" for p in run.problems]
    if problems:
        text += "; " + "; ".join(problems)
    return text


def _offending(rule: str, message: str, run: PipelineRun) -> tuple[str | None, Any]:
    """The key path and value a Kratix step rejected (P2, P3, P4), from the metadata the pod left."""
    if rule == "P2":
        written = run.metadata.get(STATUS_FILE)
        return "kratix", written.get("kratix") if isinstance(written, dict) else None
    if rule == "P3":
        return None, run.metadata.get(DESTINATION_SELECTORS_FILE)
    if rule == "P4":
        control = run.metadata.get(WORKFLOW_CONTROL_FILE)
        match = re.search(re.escape(WORKFLOW_CONTROL_FILE) + r" ([A-Za-z]+):", message)
        if match is not None and isinstance(control, dict) and match.group(1) in control:
            return match.group(1), control[match.group(1)]
        return None, control
    return None, None


# -- the matrix ------------------------------------------------------------------------------------------
@dataclass
class MatrixResult:
    findings: list[Finding]
    runs: list[RunRecord]
    checks: dict[str, str]  # rule -> what was done (or why it was skipped)
    notes: list[str]
    first_failure: RunRecord | None = None  # the clean first run, when it failed


class Matrix:
    """Runs the perturbation matrix of one Promise workflow (see the module docstring)."""

    def __init__(
        self,
        promise: Promise,
        workflow: WorkflowType,
        obj: Mapping[str, Any],
        factory: ExecutorFactory,
        *,
        externals: Sequence[str] = (),
        reruns: int = 2,
        timeout_s: float = 120.0,
        workdir: Path,
        on_run: Callable[[RunRecord], None] | None = None,
    ) -> None:
        if reruns < 2:
            raise ValueError("reruns must be at least 2 (I1 compares re-runs with each other)")
        self.promise = promise
        self.workflow: WorkflowType = workflow
        document = copy.deepcopy(dict(obj))
        document.pop("status", None)
        self.obj = document
        self.factory = factory
        self.externals = list(dict.fromkeys(externals))
        self.reruns = reruns
        self.timeout_s = timeout_s
        self.workdir = workdir
        self.on_run = on_run
        self.records: list[RunRecord] = []
        self.findings: list[Finding] = []
        self.checks: dict[str, str] = {}
        self.notes: list[str] = []
        self._worlds = 0
        self._seed_files: dict[int, Path] = {}
        self.configure = [p.name for p in promise.pipelines(workflow, "configure")]
        self.delete = [p.name for p in promise.pipelines(workflow, "delete")]

    # -- helpers ---------------------------------------------------------------------------------------
    def _containers(self, pipeline: str, action: WorkflowAction = "configure") -> list[str]:
        for p in self.promise.pipelines(self.workflow, action):
            if p.name == pipeline:
                return [c.name for c in p.spec.containers]
        return []

    def _pipeline(self, name: str, action: WorkflowAction = "configure") -> Pipeline:
        return next(p for p in self.promise.pipelines(self.workflow, action) if p.name == name)

    def _only_container(self, pipeline: str | None, action: WorkflowAction = "configure") -> str | None:
        names = self._containers(pipeline, action) if pipeline else []
        return names[0] if len(names) == 1 else None

    def _world(self, copy_of: World | None = None) -> World:
        self._worlds += 1
        base = self.workdir / f"world-{self._worlds}"
        dirs: dict[str, Path] = {}
        for index, target in enumerate(self.externals):
            path = base / str(index)
            if copy_of is not None:
                shutil.copytree(copy_of.dirs[target], path, symlinks=True)
            else:
                path.mkdir(parents=True)
                path.chmod(0o777)
            dirs[target] = path
        return World(dirs)

    def _seed_mounts(self, seed: int | None) -> list[Mount]:
        if seed is None or not self.factory.seeds_randomness:
            return []
        path = self._seed_files.get(seed)
        if path is None:
            path = self.workdir / f"random-{seed}.bin"
            path.write_bytes(random.Random(seed).randbytes(RANDOM_BYTES))
            path.chmod(0o444)
            self._seed_files[seed] = path
        return [Mount(path, "/dev/urandom"), Mount(path, "/dev/random")]

    def _clock(self, offset_s: float) -> float | None:
        return T0 + offset_s if self.factory.pins_clock else None

    def _space_after(self, record: RunRecord) -> None:
        """Without a pinnable clock: start at least a second after ``record`` started."""
        if not self.factory.pins_clock:
            wait = record.started + MIN_SPACING_S - time.time()
            if wait > 0:
                time.sleep(wait)

    def _run(self, perturbation: str, label: str, world: World, status: Mapping[str, Any] | None, seed: int,
             clock: float | None, *, action: WorkflowAction = "configure", fail_after: tuple[str, int] | None = None,
             inject: Mapping[str, int] | None = None) -> RunRecord:
        obj = with_status(self.obj, status) if status is not None else copy.deepcopy(self.obj)
        executor = self.factory.make([*world.mounts(), *self._seed_mounts(seed)], clock)
        started = time.time()
        run = run_workflow(self.promise, self.workflow, action, obj, executor, fail_after=fail_after,
                           inject_failures=dict(inject or {}), timeout_s=self.timeout_s, workdir=self.workdir,
                           job_seed=len(self.records))  # each run's Jobs and pods get new names, as in Kratix
        record = RunRecord(perturbation, label, action, seed if self.factory.seeds_randomness else None, clock,
                           status is not None, run, world.read(), started, fail_after, dict(inject or {}))
        self.records.append(record)
        if self.on_run is not None:
            self.on_run(record)
        return record

    def _compare(self, before: RunRecord, after: RunRecord) -> list[Delta]:
        return compare(before, after, self.delete if before.action == "delete" else self.configure)

    def _emit(self, rule: str, deltas: Iterable[Delta], message: str, *, container: str | _Auto | None = AUTO,
              outcome_of: RunRecord | None = None, mask: set[Any] | None = None,
              seen: set[Any] | None = None) -> int:
        """One finding per delta not masked nor seen; ``container``: who to name (default: the Pipeline's only
        container); ``outcome_of``: the run whose failure an outcome delta describes."""
        severity: Severity = "warning" if rule in WARNING_RULES else "error"
        count = 0
        for delta in deltas:
            if (mask and delta.key in mask) or (seen is not None and delta.key in seen):
                continue
            if seen is not None:
                seen.add(delta.key)
            who = self._only_container(delta.pipeline) if isinstance(container, _Auto) else container
            text = message
            if delta.section == "outcome" and outcome_of is not None:
                text += f"; the run {describe_failure(outcome_of)}"
            self.findings.append(Finding(rule, severity, text, delta.pipeline, who, delta.file,
                                         delta.path, delta.before, delta.after))
            count += 1
        return count

    def _contract(self, record: RunRecord) -> None:
        for run in record.run.runs:
            for problem in run.problems:
                severity: Severity = "warning" if problem.rule in WARNING_RULES else "error"
                file = _PROBLEM_FILES.get(problem.rule)
                pattern = _INPUT_PATH if problem.rule == "P1" else _METADATA_PATH if problem.rule == "P5" else None
                match = pattern.search(problem.message) if pattern is not None else None
                if match is not None:
                    file = match.group(0).rstrip(".")
                path, value = _offending(problem.rule, problem.message, run)
                container = problem.container or self._only_container(run.pipeline, record.action)
                self.findings.append(Finding(problem.rule, severity, problem.message, run.pipeline, container, file,
                                             path, None, value))
            for warning in run.warnings:
                note = f"{record.label} ({run.pipeline}): {warning}"
                if note not in self.notes:
                    self.notes.append(note)

    def _run_failed(self, record: RunRecord, what: str) -> None:
        run = record.failing()
        failed = [e for e in run.executions if e.exit_code != 0 and not e.injected] if run else []
        container = failed[-1].container if failed else None
        self.findings.append(Finding("RUN", "error", f"{what} fails: {describe_failure(record, lines=10)}",
                                     run.pipeline if run else None, container))

    # -- the perturbations ---------------------------------------------------------------------------------
    def run(self) -> MatrixResult:
        if self.factory.pins_clock:
            self.notes.append(f"clock pinned with libfaketime: runs that should agree start at {_iso(T0)} (+ the "
                              "offset of their perturbation)")
        else:
            self.notes.append(f"the {self.factory.name} executor cannot shift the clock: runs compared for time "
                              f"are plain runs at least {MIN_SPACING_S:g}s apart")
        if self.factory.seeds_randomness:
            self.notes.append("/dev/urandom and /dev/random seeded per run ($RANDOM and uuidgen are not)")
        first = self._clean()
        if first is None:
            return self._result(first_failure=self.records[0])
        r1, world, snapshot, first_noise = first
        chain = self._i1(r1, world)
        steady_noise, time_keys = self._i4(r1, chain[0], snapshot)
        mask_steady = steady_noise | (time_keys if not self.factory.pins_clock else set())
        mask_first = first_noise | mask_steady
        masked = len(mask_first)
        if masked:
            self.notes.append(f"{masked} value(s) change between runs that should agree (see I4): not compared "
                              "in I2, I3 and I5")
        self._i5(chain[0], snapshot, mask_steady)
        self._i2(r1, mask_first)
        self._i3(r1, mask_first)
        self._i6(r1, snapshot)
        return self._result()

    def _result(self, first_failure: RunRecord | None = None) -> MatrixResult:
        for rule in RUN_RULES:
            self.checks.setdefault(rule, "observed at run time" if rule.startswith("P") else "not checked")
        return MatrixResult(sort_findings(self.findings), self.records, self.checks, self.notes, first_failure)

    def _clean(self) -> tuple[RunRecord, World, World, set[Any]] | None:
        world = self._world()
        r1 = self._run("clean", "first run", world, None, SEED_CLEAN, self._clock(0))
        self._contract(r1)
        if r1.run.outcome == "failed":
            self._run_failed(r1, "the clean first run")
            self.checks["RUN"] = "the clean first run fails: nothing else was run"
            for rule in ("I1", "I2", "I3", "I4", "I5", "I6"):
                self.checks[rule] = "skipped: the clean first run fails"
            return None
        self.checks["RUN"] = "the clean first run succeeds" if r1.run.outcome == "succeeded" else \
            f"the clean first run ends with {r1.run.outcome} (workflow-control)"
        snapshot = self._world(copy_of=world)
        again = self._run("clean", "first run again (noise)", self._world(), None, SEED_CLEAN, self._clock(0))
        self._contract(again)
        return r1, world, snapshot, {d.key for d in self._compare(r1, again)}

    def _i1(self, r1: RunRecord, world: World) -> list[RunRecord]:
        chain: list[RunRecord] = []
        previous = r1
        for k in range(1, self.reruns + 1):
            self._space_after(previous)
            record = self._run("I1", f"re-run {k}", world, previous.run.status, k, self._clock(k * RERUN_STEP_S))
            self._contract(record)
            chain.append(record)
            previous = record
        seen: set[Any] = set()
        found = 0
        for index, record in enumerate(chain, start=1):
            failing = record.failing()
            if failing is not None:
                self.findings.append(Finding(
                    "I1", "error", f"re-run {index} (status fed back) {describe_failure(record)}; the first run "
                    f"{r1.run.outcome}", failing.pipeline, self._only_container(failing.pipeline), None, "outcome",
                    r1.run.outcome, record.run.outcome))
                found += 1
        for index, record in enumerate(chain[1:], start=2):
            if record.run.outcome == "failed":
                continue
            found += self._emit(
                "I1", self._compare(chain[0], record),
                f"re-run {index} differs from re-run 1 (both fed the status of the run before, {self._later()}): "
                "the state never settles", outcome_of=record, seen=seen)
        compared = f"re-runs 2..{self.reruns}" if self.reruns > 2 else "re-run 2"
        self.checks["I1"] = (f"{self.reruns} re-runs after the first, each fed the status of the one before "
                             f"({self._later()}); {compared} compared with re-run 1: "
                             f"{found or 'no'} difference(s)")
        return chain

    def _later(self) -> str:
        if self.factory.pins_clock:
            return "each 1d1h1m1s later with another seed" if self.factory.seeds_randomness else "each 1d1h1m1s later"
        return "each at least a second later" + (" with another seed" if self.factory.seeds_randomness else "")

    def _i4(self, r1: RunRecord, rerun: RunRecord, snapshot: World) -> tuple[set[Any], set[Any]]:
        status = r1.run.status
        replica = self._run("I4", "replica of re-run 1", self._world(snapshot), status, 1, self._clock(RERUN_STEP_S))
        self._contract(replica)
        other_seed: RunRecord | None = None
        if self.factory.seeds_randomness:
            other_seed = self._run("I4", "other randomness", self._world(snapshot), status, SEED_OTHER,
                                   self._clock(RERUN_STEP_S))
            self._contract(other_seed)
        self._space_after(replica)
        other_clock = self._run("I4", "other clock", self._world(snapshot), status, 1,
                                self._clock(RERUN_STEP_S + CLOCK_SHIFT_S))
        self._contract(other_clock)
        seen: set[Any] = set()
        found = 0
        uncontrolled = self._compare(rerun, replica)
        found += self._emit("I4", uncontrolled, (
            "two runs with the same input, status, seed and clock differ: randomness the harness cannot seed "
            "($RANDOM, uuidgen, getrandom), sub-second time, or the pod's name (hostname: every Kratix Job and pod "
            "has a new one)" if self.factory.pins_clock else
            "two runs with the same input, status and seed differ: the time (this executor cannot pin the clock), "
            "randomness the harness cannot seed ($RANDOM, uuidgen) or the pod's name (hostname)"),
            outcome_of=replica, seen=seen)
        if other_seed is not None:
            found += self._emit("I4", self._compare(replica, other_seed), (
                "depends on randomness: same input, status and clock, another /dev/urandom; generate it once and "
                "pin it in .status, or derive it from the object"), outcome_of=other_seed, seen=seen)
        spacing = other_clock.started - replica.started
        timed = self._compare(replica, other_clock)
        found += self._emit("I4", timed, (
            "depends on the wall clock: same input, status and randomness, the clock 400d3h7m11s later; leave the "
            "time out or pin the first value in .status" if self.factory.pins_clock else
            f"depends on the time: two runs {spacing:.1f}s apart differ (this executor cannot shift the clock); "
            "leave the time out or pin the first value in .status"), outcome_of=other_clock, seen=seen)
        how = "clock shifted with libfaketime" if self.factory.pins_clock else \
            f"plain runs {spacing:.1f}s apart (the {self.factory.name} executor cannot shift the clock)"
        seeds = ", /dev/urandom reseeded" if other_seed is not None else ""
        self.checks["I4"] = (f"from the state after the first run: a replica of re-run 1, then the same with {how}"
                             f"{seeds}: {found or 'no'} difference(s)")
        return {d.key for d in uncontrolled}, {d.key for d in timed}

    def _i5(self, rerun: RunRecord, snapshot: World, mask: set[Any]) -> None:
        lost = self._run("I5", "re-run without status", self._world(snapshot), None, 1, self._clock(RERUN_STEP_S))
        self._contract(lost)
        found = self._emit("I5", self._compare(rerun, lost), (
            "a re-run without the fed-back status (status lost, or a failure before the status-writer) differs from "
            "re-run 1: the Promise depends on .status to converge; keep what it needs retrievable from the outside "
            "world too"), outcome_of=lost, mask=mask)
        self.checks["I5"] = f"a re-run without the status after the first run, compared with re-run 1: " \
                            f"{found or 'no'} difference(s)"

    def _ran(self, r1: RunRecord) -> list[str]:
        return [run.pipeline for run in r1.run.runs]

    def _i2(self, r1: RunRecord, mask: set[Any]) -> None:
        found = cases = 0
        not_retried: list[str] = []
        for pipeline in self._ran(r1):
            policy, limit = job_retry(self._pipeline(pipeline))
            if not retries_first_failure(policy, limit):
                not_retried.append(f"{pipeline} (restartPolicy {policy}, backoffLimit {limit})")
                continue
            how = ("ran again in the same pod on the output and metadata it had written" if policy == "OnFailure"
                   else "a fresh pod ran the Pipeline again from the reader, with the outside world as it was left")
            for container in self._containers(pipeline):
                cases += 1
                record = self._run("I2", f"retry of {pipeline}/{container} ({policy})", self._world(), None,
                                   SEED_CLEAN, self._clock(0), inject={f"{pipeline}/{container}": 1})
                found += self._emit("I2", self._compare(r1, record), (
                    f"a retry of container {container!r} after one failure (it ran, was reported failed, and {how}) "
                    "differs from one clean run"), container=container, outcome_of=record, mask=mask)
        summary = f"{cases} container(s) retried once after a failure: {found or 'no'} difference(s)"
        if not_retried:
            summary += ("; not retried, a first failure fails the Job (J1), so nothing to check for "
                        + ", ".join(not_retried))
        self.checks["I2"] = summary

    def _i3(self, r1: RunRecord, mask: set[Any]) -> None:
        found = cases = 0
        for index, pipeline in enumerate(self._ran(r1)):
            containers = self._containers(pipeline)
            for k in range(0 if index else 1, len(containers)):
                cases += 1
                world = self._world()
                cut = f"after container {containers[k - 1]!r}" if k else "before its first container"
                failed = self._run("I3", f"failure in {pipeline} {cut}", world, None, SEED_CLEAN, self._clock(0),
                                   fail_after=(pipeline, k))
                rerun = self._run("I3", f"full re-run after the failure in {pipeline} {cut}", world,
                                  failed.run.status, SEED_CLEAN, self._clock(0))
                who = containers[k - 1] if k else None
                found += self._emit("I3", self._compare(r1, rerun), (
                    f"a run that failed in Pipeline {pipeline!r} {cut} (the rest never ran), then a full re-run fed "
                    "the status it left, differs from a clean run: the partial failure does not converge"),
                    container=who, outcome_of=rerun, mask=mask)
        if cases:
            self.checks["I3"] = f"{cases} partial failure(s) then a full re-run: {found or 'no'} difference(s)"
        else:
            self.checks["I3"] = "nothing to check: one Pipeline with one container (no failure between containers)"

    def _i6(self, r1: RunRecord, snapshot: World) -> None:
        if not self.delete:
            self.checks["I6"] = f"nothing to check: no {self.workflow} delete Pipeline"
            return
        world = self._world(snapshot)
        first = self._run("I6", "delete", world, r1.run.status, 1, self._clock(RERUN_STEP_S), action="delete")
        self._contract(first)
        if first.run.outcome == "failed":
            self._run_failed(first, "the delete Pipeline (first run, after the clean configure run)")
            self.checks["I6"] = "the first delete fails"
            return
        second = self._run("I6", "delete again", world, first.run.status, 2, self._clock(2 * RERUN_STEP_S),
                           action="delete")
        self._contract(second)
        if second.run.outcome == "failed":
            run = second.failing()
            failed = [e for e in run.executions if e.exit_code != 0] if run else []
            self.findings.append(Finding(
                "I6", "error", "the delete Pipeline fails when it runs a second time (a retried delete never "
                f"succeeds and the object stays stuck in deletion, D4): {describe_failure(second)}",
                run.pipeline if run else None, failed[-1].container if failed else None, None, "outcome",
                first.run.outcome, second.run.outcome))
        outcomes = (first.run.outcome, second.run.outcome)
        self.checks["I6"] = "the delete Pipeline run twice: " + (
            "the second run fails" if second.run.outcome == "failed" else "both succeed"
            if outcomes == ("succeeded", "succeeded") else
            f"neither fails (the first run ends {outcomes[0]}, the second {outcomes[1]}: workflow control)")
