"""Read Scenario files: YAML errors and model errors name the file, line and key, and list accepted values.

Beyond the model, a scenario is checked against its Promise: behaviour keys must name a container of the
Promise (``workflow/action/pipeline/container``), fault targets must exist, times must not be negative.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.errors import InputError, Location
from sim.model.promise import WORKFLOW_ACTIONS, WORKFLOW_TYPES, Promise
from sim.scenario import Scenario
from sim.yamlio import DEFAULT_LIMITS, Limits, PathKey, SourceMap, YamlDocument, load_file


def _inner_model(annotation: Any, step: str | int) -> Any:
    """The annotation one step below ``annotation`` (a model field, a list item or a dict value)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg, step)
            if found is not None:
                return found
        return None
    if origin is typing.Annotated:
        return _inner_model(typing.get_args(annotation)[0], step)
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
        annotation = _inner_model(annotation, step)
        if annotation is None:
            return None
    origin_args = [annotation, *typing.get_args(annotation)]
    for candidate in origin_args:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _accepted_keys(model: type[BaseModel]) -> str:
    return ", ".join(field.alias or name for name, field in model.model_fields.items())


def _explain(exc: ValidationError, source: SourceMap) -> InputError:
    error = exc.errors()[0]
    path: PathKey = tuple(p for p in error["loc"] if isinstance(p, str | int))
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        model = _model_at(path[:-1])
        accepted = f"; accepted: {_accepted_keys(model)}" if model is not None else ""
        message = f"unknown key {path[-1]!r}{accepted}"
    elif error["type"] == "missing":
        message = f"missing required key {path[-1]!r}"
    elif message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return InputError(message, source.at(path))


def scenario_documents(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[YamlDocument]:
    """The ``kind: Scenario`` documents of a file (other kinds are skipped)."""
    return [doc for doc in load_file(path, limits) if isinstance(doc.data, dict) and doc.data.get("kind") == "Scenario"]


def load_scenario(path: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[Scenario, Promise]:
    """Read, validate and resolve one scenario file: the Scenario and its Promise."""
    documents = scenario_documents(path, limits)
    if not documents:
        raise InputError("not a Scenario file (no document with `kind: Scenario`)", Location(str(path)))
    if len(documents) > 1:
        raise InputError(f"{len(documents)} Scenarios in one file; expected one", Location(str(path)))
    doc = documents[0]
    try:
        scenario = Scenario.model_validate(doc.data).with_base_dir(path.parent)
    except ValidationError as exc:
        raise _explain(exc, doc.source) from exc
    promise = _resolve_promise(scenario, doc.source)
    check_against_promise(scenario, promise, doc.source)
    return scenario, promise


def _resolve_promise(scenario: Scenario, source: SourceMap) -> Promise:
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
