"""Read Scenario files: YAML errors and model errors name the file, line and key, and list accepted values.

Beyond the model, a scenario is checked against its Promise: behaviour keys must name a container of the
Promise (``workflow/action/pipeline/container``), fault targets must exist, times must not be negative.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from sim.errors import InputError, Location
from sim.model.promise import WORKFLOW_ACTIONS, WORKFLOW_TYPES, Promise
from sim.scenario import Scenario
from sim.yamlio import DEFAULT_LIMITS, Limits, PathKey, SourceMap, YamlDocument, format_path, load_file


def annotation_below(annotation: Any, step: str | int) -> Any:
    """The annotation one step below ``annotation`` (a model field, a list item or a dict value)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = annotation_below(arg, step)
            if found is not None:
                return found
        return None
    if origin is typing.Annotated:
        return annotation_below(typing.get_args(annotation)[0], step)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not isinstance(step, str):
            return None
        for name, field in annotation.model_fields.items():
            if step in (name, field.alias):
                return field.annotation
        return None
    if origin is list and isinstance(step, int):
        return typing.get_args(annotation)[0]
    if origin is dict and isinstance(step, str):
        return typing.get_args(annotation)[1]
    return None


def _model_at(path: PathKey) -> type[BaseModel] | None:
    annotation: Any = Scenario
    for step in path:
        annotation = annotation_below(annotation, step)
        if annotation is None:
            return None
    origin_args = [annotation, *typing.get_args(annotation)]
    for candidate in origin_args:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _accepted_keys(model: type[BaseModel]) -> str:
    return ", ".join(field.alias or name for name, field in model.model_fields.items())


def _literal_values(path: PathKey) -> list[str] | None:
    """The values a ``Literal`` field at ``path`` accepts (e.g. the fault kinds), or None."""
    annotation: Any = Scenario
    for step in path:
        annotation = annotation_below(annotation, step)
        if annotation is None:
            return None
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is Literal:
        return [str(value) for value in typing.get_args(annotation)]
    return None


def explain_validation_error(exc: ValidationError, source: SourceMap) -> InputError:
    error = exc.errors()[0]
    path: PathKey = tuple(p for p in error["loc"] if isinstance(p, str | int))
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        model = _model_at(path[:-1])
        accepted = f"; accepted: {_accepted_keys(model)}" if model is not None else ""
        message = f"unknown key {path[-1]!r}{accepted}"
    elif error["type"] == "missing":
        message = f"missing required key {path[-1]!r}"
    elif error["type"] == "literal_error" and path and (values := _literal_values(path)) is not None:
        what = "fault kind" if path[-1] == "kind" and "faults" in path else str(path[-1])
        message = f"unknown {what} {error.get('input')!r}; accepted: {', '.join(values)}"
    elif message.startswith("Value error, "):
        message = message[len("Value error, "):]
        value = error.get("input")
        if message.startswith("invalid duration") and isinstance(value, str) and value.strip().startswith("-"):
            message = f"negative duration {value!r}: times and durations must be 0 or more"
        if message.startswith("unknown profile") and path[-1:] == ("kratix",):
            path = (*path, "profile")  # the check runs on the whole `kratix` mapping; point at its key
    return InputError(message, source.at(path))


_YAML_KEY = re.compile(r"^(?P<indent> *)(?P<dash>-[ ]+)?(?P<key>[^\s#:{}\[\],'\"-][^#:{}\[\],]*?|\"[^\"]*\"|'[^']*')"
                       r"[ \t]*:(?:[ \t]|$)")


def _item_index(lines: list[str], row: int, indent: int) -> int:
    """How many ``-`` items at ``indent`` come before the one on ``row`` in the same sequence."""
    count = 0
    for above in range(row - 1, -1, -1):
        text = lines[above]
        stripped = text.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        column = len(text) - len(stripped)
        if column < indent:
            break
        if column == indent:
            if not stripped.startswith("-"):
                break
            count += 1
    return count


def key_path_at(text: str, line: int) -> PathKey:
    """The mapping keys (and list indices) leading to ``line`` (1-based) of a block-style YAML text.

    Read from indentation alone, for where the YAML parser gave up (a syntax error) and there is no parsed
    document to ask; the result names the key the broken line belongs to, e.g. ``spec.resources[0].name``.
    """
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return ()
    parts: list[str | int] = []
    first = lines[line - 1]
    column = len(first) - len(first.lstrip(" "))  # where the current node starts
    in_item = False  # the current node is a sequence item (its key may sit at the dash's column)
    for row in range(line - 1, -1, -1):
        match = _YAML_KEY.match(lines[row])
        if match is None:
            if row == line - 1 and first.lstrip(" ").startswith("- "):
                parts.append(_item_index(lines, row, column))
                in_item = True
            continue
        indent = len(match["indent"])
        key = match["key"].strip("'\"")
        if match["dash"] is None:
            if row == line - 1 or indent < column or (in_item and indent <= column):
                parts.append(key)
                column, in_item = indent, False
        else:
            key_column = indent + len(match["dash"])
            if row == line - 1 or column > key_column:
                parts.extend([key, _item_index(lines, row, indent)])
            elif column > indent:
                parts.append(_item_index(lines, row, indent))
            else:
                continue
            column, in_item = indent, True
        if column == 0 and not in_item:
            break
    return tuple(reversed(parts))


def _locate_syntax_error(exc: InputError, path: Path) -> InputError:
    """A YAML syntax error from the reader, with the key of the broken line added to its location."""
    location = exc.location
    if location is None or location.line is None or location.path or not exc.message.startswith("YAML syntax"):
        return exc
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return exc
    key = key_path_at(text, location.line)
    if not key:
        return exc
    return InputError(exc.message, Location(location.file, format_path(key), location.line))


def _not_a_scenario(path: Path, documents: list[YamlDocument]) -> InputError:
    """Name the ``kind`` a non-Scenario file has, at its line."""
    for doc in documents:
        if isinstance(doc.data, dict) and "kind" in doc.data:
            return InputError(f"not a Scenario file: kind is {doc.data['kind']!r}; expected kind: Scenario "
                              f"(apiVersion: kratix-sim/v1alpha1)", doc.source.at(("kind",)))
    return InputError("not a Scenario file (no document with `kind: Scenario`)", Location(str(path)))


def scenario_documents(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[YamlDocument]:
    """The ``kind: Scenario`` documents of a file (other kinds are skipped)."""
    return [doc for doc in load_file(path, limits) if isinstance(doc.data, dict) and doc.data.get("kind") == "Scenario"]


def load_scenario(path: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[Scenario, Promise]:
    """Read, validate and resolve one scenario file: the Scenario and its Promise."""
    try:
        all_documents = load_file(path, limits)
    except InputError as exc:
        raise _locate_syntax_error(exc, path) from exc
    documents = [doc for doc in all_documents if isinstance(doc.data, dict) and doc.data.get("kind") == "Scenario"]
    if not documents:
        raise _not_a_scenario(path, all_documents)
    if len(documents) > 1:
        raise InputError(f"{len(documents)} Scenarios in one file; expected one", Location(str(path)))
    doc = documents[0]
    try:
        scenario = Scenario.model_validate(doc.data).with_base_dir(path.parent)
    except ValidationError as exc:
        raise explain_validation_error(exc, doc.source) from exc
    promise = resolve_scenario_promise(scenario, doc.source)
    check_against_promise(scenario, promise, doc.source)
    return scenario, promise


def resolve_scenario_promise(scenario: Scenario, source: SourceMap) -> Promise:
    from sim.simulation import resolve_promise

    spec_promise = scenario.spec.promise
    if isinstance(spec_promise, str):
        base = scenario.base_dir or Path.cwd()
        target = base / spec_promise
        if not target.is_file():
            raise InputError(f"promise file {spec_promise!r} not found (looked in {base})",
                             source.at(("spec", "promise")))
    try:
        return resolve_promise(scenario)
    except InputError as exc:
        if isinstance(spec_promise, dict):
            raise InputError(f"inline Promise: {exc.message}", source.at(("spec", "promise"))) from exc
        raise


def container_keys(promise: Promise) -> list[str]:
    """Every ``workflow/action/pipeline/container`` key of a Promise."""
    keys: list[str] = []
    for workflow in WORKFLOW_TYPES:
        for action in WORKFLOW_ACTIONS:
            for pipeline in promise.pipelines(workflow, action):
                keys.extend(f"{workflow}/{action}/{pipeline.name}/{c.name}" for c in pipeline.spec.containers)
    return keys


def check_against_promise(scenario: Scenario, promise: Promise, source: SourceMap) -> None:
    """Behaviour keys name real containers; fault targets exist (negative times fail in parse_duration)."""
    keys = container_keys(promise)
    for key in scenario.spec.behaviour.containers:
        if key not in keys:
            raise InputError(f"no container {key!r} in Promise {promise.name!r}; accepted: {', '.join(keys) or 'none'}",
                             source.at(("spec", "behaviour", "containers", key)))
    targets = {f"{r.namespace}/{name}" for r in scenario.spec.resources for name in r.names()}
    for fault in scenario.spec.faults:
        if fault.kind == "create-resource" and fault.target:
            targets.add(fault.target if "/" in fault.target else f"default/{fault.target}")
    accepted_targets = sorted(targets | {"promise", f"promise/{promise.name}"})
    for index, fault in enumerate(scenario.spec.faults):
        at: PathKey = ("spec", "faults", index)
        if fault.kind == "container-failure":
            if fault.container not in (None, "*") and fault.container not in keys:
                raise InputError(f"no container {fault.container!r}; accepted: {', '.join(keys)}",
                                 source.at((*at, "container")))
            if fault.target not in (None, "*") and fault.target not in targets:
                raise InputError(f"target {fault.target!r} does not exist; accepted: {', '.join(sorted(targets))}",
                                 source.at((*at, "target")))
            continue
        if fault.kind in ("controller-restart", "create-resource"):
            continue
        if fault.target is not None and fault.target not in accepted_targets:
            raise InputError(f"target {fault.target!r} does not exist; accepted: {', '.join(accepted_targets)}",
                             source.at((*at, "target")))
        if fault.target is None and fault.kind in ("update-resource", "delete-resource", "manual-reconcile",
                                                    "resume") and not targets:
            raise InputError(f"fault {fault.kind} needs a target", source.at(at))
