"""Golden-file tests of a Promise's pipelines (issue 6, item 5): the fixture layouts people already use.

Two layouts, found anywhere under a folder (``actual/`` folders are ignored, never searched):

- the Kratix workshop's ``test/``: ``test/input/object.yaml`` with the expected files beside it in
  ``test/output/`` and ``test/metadata/`` (``status.yaml``, ``destination-selectors.yaml``, ...);
- per-case folders (Giant Swarm's ``containers/<image>/tests/<case>/``):
  ``<case>/input/object.yaml`` and ``<case>/expected/{output/, metadata/, exitcode}``.

Any folder holding ``input/object.yaml`` is a case; its expectations are in ``expected/`` when that folder
exists, else beside ``input/``. ``exitcode`` (a number; default 0) is the exit code of the failing user
container (0 when all exit 0). ``output/`` and ``metadata/`` are compared like ``diff -r`` (a missing folder
means "no files"), except that a case expecting a non-zero exit code compares only the folders it has.

Which Pipeline runs: ``--pipeline NAME`` (``NAME`` or ``NAME/CONTAINER``); else, for a case under
``<dir>/tests/``, the container whose image is named ``<dir>`` (``.../provision-infrastructure-pipeline:1.0.0``
for ``containers/provision-infrastructure-pipeline/tests/``: that container alone); else the workflow's only
configure Pipeline. The workflow is ``promise`` when the object is a ``Promise``, else ``resource``.

A case runs the Pipeline once through a real executor under Kratix's contract (``run_pipeline``: reader,
KRATIX_* environment, read-only input, work-writer and status-writer checks; no retries: backoffLimit 0) and
compares, semantically for YAML (key paths such as ``spec.rules[0].host``; ``key:`` and ``key: null`` are
equal, ``"9000"`` and ``9000`` are not, nor ``true`` and ``1``), text exactly (the first differing line):

- every file under ``output/``;
- every file under ``metadata/``: the status the pipeline wrote (``status.yaml``), its destination selectors
  (``destination-selectors.yaml``), workflow control;
- the exit code; and, when the expected exit code is 0, that Kratix's own steps accept what was written
  (P2, P3, P4, W16).

With ``rerun``, each passing run is run again with the merged status fed back into ``object.yaml`` (as Kratix
does, I1), sharing the case's external directories; a re-run whose files differ is run once more, and
the case fails (kind ``idempotency``) unless that second re-run equals the first: from the second run on,
runs must agree (reference section 8, the same allowance as the I1 trace checker). With ``clock_step_s``
(process executor, libfaketime), re-run n sees the clock n steps later, so time-dependent output shows.
"""

from __future__ import annotations

import contextlib
import copy
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from sim.errors import InputError, Location
from sim.executors.base import ExecutorError, Mount, RealExecutor
from sim.executors.contract import (
    TEMP_PREFIX,
    PipelineRun,
    read_tree,
    remove_tree,
    run_pipeline,
    with_status,
)
from sim.model.loader import load_kratix_file
from sim.model.promise import WORKFLOW_ACTIONS, WORKFLOW_TYPES, Pipeline, Promise, WorkflowAction, WorkflowType
from sim.yamlio import DEFAULT_LIMITS, Limits, load_file

Layout = Literal["workshop", "tests"]
DiffKind = Literal["output", "metadata", "exit-code", "pipeline", "idempotency"]
Result = Literal["pass", "fail", "error"]

INPUT_FILE = PurePosixPath("input") / "object.yaml"
IGNORED_DIRS = frozenset({"actual", ".git", "node_modules", "__pycache__"})
CASE_PARTS = frozenset({"input", "output", "metadata", "expected", "actual"})
MISSING = "<missing>"
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_MAX_SHOWN = 80


# -- cases -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    name: str  # relative to the folder searched ("test", "containers/x/tests/case1"); "." for the folder itself
    path: Path  # the case folder (holds input/object.yaml)
    layout: Layout
    hint: str | None = None  # tests/ layout: the folder the tests belong to (an image name)

    @property
    def expected_dir(self) -> Path:
        return self.path / "expected" if self.layout == "tests" else self.path


@dataclass
class Expectation:
    object: dict[str, Any]
    output: dict[str, Any] | None  # None: not compared
    metadata: dict[str, Any] | None
    exit_code: int


def _is_case(folder: Path) -> bool:
    return (folder / INPUT_FILE).is_file()


def _case(folder: Path, root: Path) -> Case:
    layout: Layout = "tests" if (folder / "expected").is_dir() else "workshop"
    hint = folder.parent.parent.name if folder.parent.name == "tests" and layout == "tests" else None
    name = folder.relative_to(root).as_posix() if folder != root else "."
    return Case(name, folder, layout, hint or None)


def discover_cases(root: Path) -> list[Case]:
    """Every case folder under ``root`` (``root`` itself when it is one), sorted by name; symlinked folders,
    hidden folders and ``actual/`` are not searched, nor are a case's own sub-folders."""
    if _is_case(root):
        return [_case(root, root)]
    cases: list[Case] = []

    def walk(folder: Path) -> None:
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
        except OSError:
            return
        for child in children:
            if child.name in IGNORED_DIRS or child.name.startswith("."):
                continue
            if _is_case(child):
                cases.append(_case(child, root))
            elif child.name not in CASE_PARTS:
                walk(child)

    walk(root)
    return sorted(cases, key=lambda c: c.name)


def _read_exit_code(path: Path) -> int:
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    try:
        return int(text)
    except ValueError as exc:
        raise InputError(f"exitcode must hold a number (the expected exit code), not {text[:40]!r}",
                         Location(str(path))) from exc


def load_expectation(case: Case, limits: Limits = DEFAULT_LIMITS) -> Expectation:
    """The case's input object and expected files (InputError when they cannot be read)."""
    object_file = case.path / INPUT_FILE
    documents = [doc for doc in load_file(object_file, limits) if doc.data is not None]
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        raise InputError("input/object.yaml must hold one object (a YAML mapping)", Location(str(object_file)))
    expected = case.expected_dir
    code_file = expected / "exitcode"
    exit_code = _read_exit_code(code_file) if code_file.is_file() else 0

    def tree(name: str) -> dict[str, Any] | None:
        folder = expected / name
        if folder.is_dir():
            return read_tree(folder)
        return {} if exit_code == 0 else None

    return Expectation(dict(documents[0].data), tree("output"), tree("metadata"), exit_code)


# -- semantic comparison ---------------------------------------------------------------------------------------
def key_path(parts: Sequence[str | int]) -> str:
    """``("spec", "rules", 0, "host")`` -> ``spec.rules[0].host``; odd keys quoted: ``labels["a.b/c"]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += ("." if text else "") + part
        else:
            text += f"[{part!r}]".replace("'", '"')
    return text


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) != isinstance(actual, bool):
        return False
    if isinstance(expected, str) != isinstance(actual, str):
        return False
    return bool(expected == actual)


def diff_values(expected: Any, actual: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str, Any, Any]]:
    """Where two parsed YAML values differ: ``(key path, expected, actual)``; ``MISSING`` marks an absent key."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found: list[tuple[str, Any, Any]] = []
        for key in [*expected, *(k for k in actual if k not in expected)]:
            child = (*path, str(key))
            if key not in actual:
                found.append((key_path(child), expected[key], MISSING))
            elif key not in expected:
                found.append((key_path(child), MISSING, actual[key]))
            else:
                found.extend(diff_values(expected[key], actual[key], child))
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        found = []
        for index in range(max(len(expected), len(actual))):
            child = (*path, index)
            if index >= len(actual):
                found.append((key_path(child), expected[index], MISSING))
            elif index >= len(expected):
                found.append((key_path(child), MISSING, actual[index]))
            else:
                found.extend(diff_values(expected[index], actual[index], child))
        return found
    if isinstance(expected, str) and isinstance(actual, str) and "\n" in expected + actual and expected != actual:
        return [_text_difference(expected, actual, path)]
    return [] if _same(expected, actual) else [(key_path(path), expected, actual)]


def _text_difference(expected: str, actual: str, path: tuple[str | int, ...]) -> tuple[str, Any, Any]:
    old, new = expected.splitlines(), actual.splitlines()
    line = next((n for n, (a, b) in enumerate(zip(old, new, strict=False), start=1) if a != b),
                min(len(old), len(new)) + 1)
    where = key_path(path)
    label = f"{where} line {line}" if where else f"line {line}"
    return label, old[line - 1] if line <= len(old) else MISSING, new[line - 1] if line <= len(new) else MISSING


@dataclass(frozen=True)
class Difference:
    kind: DiffKind
    file: str  # "output/database.yaml", "metadata/status.yaml"; "" for the exit code and the pipeline
    path: str  # key path inside the file ("" = the whole file)
    expected: Any
    actual: Any
    message: str = ""

    def render(self) -> str:
        where = ": ".join(part for part in (self.file, self.path) if part)
        if self.message:
            return f"{where}: {self.message}" if where else self.message
        return f"{where}: expected {_shown(self.expected)}, got {_shown(self.actual)}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": self.file, "path": self.path, "expected": self.expected,
                "actual": self.actual, "message": self.message or self.render()}


def _shown(value: Any) -> str:
    if value == MISSING:
        return "nothing"
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN - 3] + "..."


def compare_files(kind: DiffKind, folder: str, expected: dict[str, Any], actual: dict[str, Any],
                  strict: bool = True) -> list[Difference]:
    """The files of one volume: missing, unexpected (``strict``) and differing files with their key paths."""
    differences: list[Difference] = []
    for name in sorted(set(expected) | set(actual)):
        file = f"{folder}/{name}"
        if name not in actual:
            differences.append(Difference(kind, file, "", expected[name], MISSING,
                                          "missing: the pipeline did not write it"))
        elif name not in expected:
            if strict:
                differences.append(Difference(kind, file, "", MISSING, actual[name],
                                              "unexpected: the pipeline wrote it, the fixture does not have it"))
        else:
            differences.extend(Difference(kind, file, path, want, got)
                               for path, want, got in diff_values(expected[name], actual[name]))
    return differences


# -- which Pipeline --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    workflow: WorkflowType
    action: WorkflowAction
    pipeline: Pipeline  # restricted to one container when ``container`` is set
    container: str | None = None

    @property
    def label(self) -> str:
        text = f"{self.workflow}/{self.action}/{self.pipeline.name}"
        return f"{text}/{self.container}" if self.container else text


def image_name(image: str) -> str:
    """``registry/org/name:tag@digest`` -> ``name``."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return name.split(":", 1)[0]


def _only(pipeline: Pipeline, container: str) -> Pipeline:
    chosen = [c for c in pipeline.spec.containers if c.name == container]
    return pipeline.model_copy(update={"spec": pipeline.spec.model_copy(update={"containers": chosen})})


def _all_pipelines(promise: Promise, first: WorkflowType) -> Iterator[tuple[WorkflowType, WorkflowAction, Pipeline]]:
    for workflow in (first, *(w for w in WORKFLOW_TYPES if w != first)):
        for action in WORKFLOW_ACTIONS:
            for pipeline in promise.pipelines(workflow, action):
                yield workflow, action, pipeline


def resolve_target(promise: Promise, case: Case, obj: dict[str, Any], pipeline: str | None = None) -> Target:
    """The Pipeline (or the one container) a case tests; InputError when it cannot be told."""
    workflow: WorkflowType = "promise" if obj.get("kind") == "Promise" else "resource"
    if pipeline:
        name, _, container = pipeline.partition("/")
        for found_workflow, action, candidate in _all_pipelines(promise, workflow):
            if candidate.name != name:
                continue
            if not container:
                return Target(found_workflow, action, candidate)
            if any(c.name == container for c in candidate.spec.containers):
                return Target(found_workflow, action, _only(candidate, container), container)
            names = ", ".join(c.name for c in candidate.spec.containers)
            raise InputError(f"--pipeline: Pipeline {name!r} has no container {container!r}; it has {names}")
        raise InputError(f"--pipeline: no Pipeline {name!r} in Promise {promise.name!r}; "
                         f"it has {_pipeline_list(promise)}")
    if case.hint:
        matches = [(w, a, p, c.name) for w, a, p in _all_pipelines(promise, workflow) for c in p.spec.containers
                   if image_name(c.image) == case.hint]
        if len(matches) == 1:
            found_workflow, action, candidate, container = matches[0]
            if len(candidate.spec.containers) == 1:
                return Target(found_workflow, action, candidate)
            return Target(found_workflow, action, _only(candidate, container), container)
    configure = promise.pipelines(workflow, "configure")
    if len(configure) == 1:
        return Target(workflow, "configure", configure[0])
    why = (f"no container of Promise {promise.name!r} runs an image named {case.hint!r} and "
           if case.hint else "")
    raise InputError(f"{why}the {workflow} configure workflow has {len(configure)} Pipelines: name one with "
                     f"--pipeline ({_pipeline_list(promise)})")


def _pipeline_list(promise: Promise) -> str:
    names = [f"{w}/{a}: " + ", ".join(p.name for p in promise.pipelines(w, a))
             for w in WORKFLOW_TYPES for a in WORKFLOW_ACTIONS if promise.pipelines(w, a)]
    return "; ".join(names) or "none"


# -- finding the Promise -----------------------------------------------------------------------------------------
def find_promise(path: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[Promise, Path]:
    """The Promise of ``path``: the file itself, or the one Promise of a folder (its own YAML files first,
    then its sub-folders, skipping fixture folders)."""
    if path.is_file():
        loaded = load_kratix_file(path, limits)
        if len(loaded.promises) != 1:
            raise InputError(f"expected one Promise in this file, found {len(loaded.promises)}", Location(str(path)))
        return loaded.promises[0].promise, path
    if not path.is_dir():
        raise InputError("no such file or folder", Location(str(path)))
    found = _promises_in(path, limits, recursive=False) or _promises_in(path, limits, recursive=True)
    if not found:
        raise InputError("no Promise (kind: Promise) in this folder; name the Promise file", Location(str(path)))
    if len(found) > 1:
        files = ", ".join(str(p.relative_to(path)) for _, p in found)
        raise InputError(f"{len(found)} Promises in this folder ({files}); name the Promise file",
                         Location(str(path)))
    return found[0]


def _promises_in(folder: Path, limits: Limits, recursive: bool) -> list[tuple[Promise, Path]]:
    found: list[tuple[Promise, Path]] = []
    for file in _yaml_files(folder, recursive):
        try:
            loaded = load_kratix_file(file, limits)
        except InputError:
            continue  # not ours to judge: an unrelated broken file
        found.extend((p.promise, file) for p in loaded.promises)
    return found


def _yaml_files(folder: Path, recursive: bool, depth: int = 0) -> Iterator[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.is_file() and entry.suffix in (".yaml", ".yml"):
            yield entry
    if not recursive or depth >= 4:
        return
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink() and not entry.name.startswith(".") \
                and entry.name not in IGNORED_DIRS | CASE_PARTS | {"test", "tests"}:
            yield from _yaml_files(entry, recursive, depth + 1)


# -- running a case ----------------------------------------------------------------------------------------------
ExecutorFactory = Callable[[Sequence[Mount]], RealExecutor]


@dataclass
class CaseResult:
    case: Case
    result: Result = "error"
    target: str = ""
    exit_code: int | None = None
    expected_exit_code: int | None = None
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    runs: int = 0
    wall_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case.name, "path": str(self.case.path), "layout": self.case.layout,
                "result": self.result, "target": self.target, "exit_code": self.exit_code,
                "expected_exit_code": self.expected_exit_code,
                "differences": [d.to_json() for d in self.differences], "notes": self.notes, "error": self.error,
                "runs": self.runs, "wall_s": round(self.wall_s, 3)}


def exit_code_of(run: PipelineRun) -> int:
    """The exit code of the failing user container, 0 when every one exited 0."""
    return next((e.exit_code for e in reversed(run.executions) if e.exit_code != 0), 0)


def _stderr_of(run: PipelineRun) -> str:
    failing = next((e for e in reversed(run.executions) if e.exit_code != 0), None)
    if failing is None or not failing.stderr.strip():
        return ""
    return failing.stderr.strip().splitlines()[-1][:200]


@contextlib.contextmanager
def external_dirs(targets: Sequence[str]) -> Iterator[list[Mount]]:
    """A fresh read-write host directory per target, removed afterwards."""
    if not targets:
        yield []
        return
    root = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}external-"))
    try:
        mounts = []
        for index, target in enumerate(targets):
            host = root / str(index)
            host.mkdir()
            host.chmod(0o777)
            mounts.append(Mount(host, target, read_only=False))
        yield mounts
    finally:
        remove_tree(root)


def _run_differences(first: PipelineRun, second: PipelineRun, labels: tuple[str, str]) -> list[Difference]:
    """What differs between two runs of one case, as I1 differences worded with the runs' ``labels``."""
    found: list[Difference] = []
    for diff in (compare_files("idempotency", "output", first.output, second.output)
                 + compare_files("idempotency", "metadata", first.metadata, second.metadata)):
        if diff.actual == MISSING:
            what = f"{labels[0]} wrote it, {labels[1]} did not"
        elif diff.expected == MISSING:
            what = f"{labels[1]} wrote it, {labels[0]} did not"
        else:
            what = f"{labels[0]} wrote {_shown(diff.expected)}, {labels[1]} {_shown(diff.actual)}"
        found.append(Difference("idempotency", diff.file, diff.path, diff.expected, diff.actual, f"I1: {what}"))
    if exit_code_of(first) != exit_code_of(second) or first.outcome != second.outcome:
        found.append(Difference("idempotency", "", "", exit_code_of(first), exit_code_of(second),
                                f"I1: {labels[0]} ended {first.outcome} (exit code {exit_code_of(first)}), "
                                f"{labels[1]} {second.outcome} (exit code {exit_code_of(second)})"
                                + (f"; stderr: {_stderr_of(second)}" if _stderr_of(second) else "")))
    return found


def run_case(promise: Promise, case: Case, make_executor: ExecutorFactory, *, pipeline: str | None = None,
             rerun: bool = False, timeout_s: float = 120.0, external: Sequence[str] = (),
             clock_step_s: float | None = None, limits: Limits = DEFAULT_LIMITS) -> CaseResult:
    """Run one case and compare (see the module docstring). Bad fixtures and containers the executor cannot
    run give ``error``; ExecutorUnavailable propagates (nothing can run).

    ``clock_step_s`` (process executor on the host root, with libfaketime): re-run n sees the wall clock
    n * ``clock_step_s`` later, as a re-run one reconciliation interval later would, so output that depends
    on the time (I4) differs even when the runs take less than a second."""
    result = CaseResult(case)
    started = time.monotonic()
    try:
        expectation = load_expectation(case, limits)
        result.expected_exit_code = expectation.exit_code
        target = resolve_target(promise, case, expectation.object, pipeline)
        result.target = target.label
        with external_dirs(external) as mounts:
            executor = make_executor(mounts)

            def run_once(obj: dict[str, Any]) -> PipelineRun:
                if clock_step_s and hasattr(executor, "clock_offset_s"):
                    executor.clock_offset_s = result.runs * clock_step_s
                result.runs += 1
                return run_pipeline(promise, target.pipeline, target.workflow, target.action, obj, executor,
                                    restart_policy="OnFailure", backoff_limit=0, timeout_s=timeout_s)

            first = run_once(copy.deepcopy(expectation.object))
            result.exit_code = exit_code_of(first)
            result.differences = _expectation_differences(expectation, first)
            result.notes.extend(f"{p.rule}: {p.message}" for p in first.problems if not p.fatal)
            result.notes.extend(first.warnings)
            if rerun and first.succeeded:
                result.differences += _rerun_differences(expectation, first, run_once, result.notes)
    except (InputError, ExecutorError) as exc:
        result.result, result.error = "error", str(exc)
        result.wall_s = time.monotonic() - started
        return result
    result.result = "fail" if result.differences else "pass"
    result.wall_s = time.monotonic() - started
    return result


def _expectation_differences(expectation: Expectation, run: PipelineRun) -> list[Difference]:
    found: list[Difference] = []
    actual = exit_code_of(run)
    if actual != expectation.exit_code:
        detail = _stderr_of(run)
        reason = " (killed at the timeout)" if any(e.timed_out for e in run.executions) else ""
        found.append(Difference("exit-code", "", "", expectation.exit_code, actual,
                                f"exit code: expected {expectation.exit_code}, got {actual}{reason}"
                                + (f"; stderr: {detail}" if detail else "")))
    elif actual == 0 and run.outcome == "failed":
        problems = "; ".join(f"{p.rule}: {p.message}" for p in run.problems if p.fatal) or run.reason or "failed"
        found.append(Difference("pipeline", "", "", "succeeded", run.reason,
                                f"the containers exited 0 but Kratix's own steps fail the pipeline: {problems}"))
    strict = expectation.exit_code == 0
    if expectation.output is not None:
        found += compare_files("output", "output", expectation.output, run.output, strict)
    if expectation.metadata is not None:
        found += compare_files("metadata", "metadata", expectation.metadata, run.metadata, strict)
    return found


def _rerun_differences(expectation: Expectation, first: PipelineRun,
                       run_once: Callable[[dict[str, Any]], PipelineRun], notes: list[str]) -> list[Difference]:
    """Re-run with the fed-back status; a differing re-run gets a second one, which must equal it (I1)."""
    second = run_once(with_status(expectation.object, first.status))
    changed = _run_differences(first, second, ("the run", "the re-run"))
    if not changed:
        notes.append("re-run with the fed-back status: identical (I1)")
        return []
    if not second.succeeded:
        return changed
    third = run_once(with_status(expectation.object, second.status))
    persisting = _run_differences(second, third, ("re-run 1", "re-run 2"))
    if not persisting:
        notes.append("the first re-run differed from the run (it saw the fed-back status) and the second re-run "
                     "equalled it: converges from the second run on (I1)")
    return persisting
