"""Read Scenario files: YAML errors and model errors name the file, line and key, and list accepted values.

Beyond the model, a scenario is checked against its Promise: behaviour keys must name a container of the
Promise (``workflow/action/pipeline/container``), fault targets must exist, times must not be negative.
"""

from __future__ import annotations

import contextlib
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from sim.durations import parse_go_duration
from sim.errors import InputError, Location
from sim.model.promise import WORKFLOW_ACTIONS, WORKFLOW_TYPES, Promise
from sim.profiles import get_profile
from sim.scenario import Fault, Scenario
from sim.yamlio import DEFAULT_LIMITS, Limits, PathKey, SourceMap, YamlDocument, format_path, load_file, parse_path


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
    check_size_limits(scenario, doc.source, limits)
    promise = resolve_scenario_promise(scenario, doc.source)
    check_work_limit(scenario, promise, doc.source, limits)
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
        if isinstance(spec_promise, dict):  # located at the key inside the Promise, where one is known
            inner = exc.location.path if exc.location is not None else ""
            try:
                within = parse_path(inner) if inner else ()
            except ValueError:
                within = ()
            raise InputError(f"inline Promise: {exc.message}", source.at(("spec", "promise", *within))) from exc
        raise


def container_keys(promise: Promise) -> list[str]:
    """Every ``workflow/action/pipeline/container`` key of a Promise."""
    keys: list[str] = []
    for workflow in WORKFLOW_TYPES:
        for action in WORKFLOW_ACTIONS:
            for pipeline in promise.pipelines(workflow, action):
                keys.extend(f"{workflow}/{action}/{pipeline.name}/{c.name}" for c in pipeline.spec.containers)
    return keys


def shown(text: str) -> str:
    """``text`` as it is when printable, else its ``repr``: an error must stay one line (a name may hold a line
    break)."""
    return text if text.isprintable() else repr(text)


def _listed(names: list[str]) -> str:
    return ", ".join(shown(name) for name in names)


PROMISE_FAULTS = frozenset({"update-promise", "delete-promise", "reconcile-resources"})
RESOURCE_FAULTS = {"update-resource": "update-promise", "delete-resource": "delete-promise"}  # -> the Promise's


def check_promise_patches(scenario: Scenario, promise: Promise, source: SourceMap) -> None:
    """Each update-promise patch, applied in turn to the Promise, must leave a valid Promise: found before the
    run, at the fault's ``spec``, not when the fault fires."""
    from sim.simulation import merge_patch, patched_promise_problem

    raw = promise.model_dump(mode="json")
    for index, fault in enumerate(scenario.spec.faults):
        if fault.kind != "update-promise" or not fault.spec:
            continue
        raw = {**raw, "spec": merge_patch(raw["spec"], fault.spec)}
        try:
            Promise.model_validate(raw)
        except ValidationError as exc:
            raise InputError(patched_promise_problem(exc), source.at(("spec", "faults", index, "spec"))) from exc


def check_against_promise(scenario: Scenario, promise: Promise, source: SourceMap) -> None:
    """Behaviour keys name real containers; resources are named once; fault targets exist (negative times
    fail in parse_duration)."""
    keys = container_keys(promise)
    seen: set[str] = set()
    for index, resource in enumerate(scenario.spec.resources):
        for name in resource.names():
            key = f"{resource.namespace}/{name}"
            if key in seen:
                raise InputError(f"resource {key} is named twice (with count, names get -0, -1, ...)",
                                 source.at(("spec", "resources", index, "name")))
            seen.add(key)
    for key in scenario.spec.behaviour.containers:
        if key not in keys:
            raise InputError(f"no container {key!r} in Promise {promise.name!r}; accepted: {_listed(keys) or 'none'}",
                             source.at(("spec", "behaviour", "containers", key)))
    targets = {f"{r.namespace}/{name}" for r in scenario.spec.resources for name in r.names()}
    for fault in scenario.spec.faults:
        if fault.kind == "create-resource" and fault.target:
            targets.add(fault.target if "/" in fault.target else f"default/{fault.target}")
    check_promise_patches(scenario, promise, source)
    accepted_targets = sorted(targets | {"promise", f"promise/{promise.name}"})
    for index, fault in enumerate(scenario.spec.faults):
        at: PathKey = ("spec", "faults", index)
        if fault.kind == "container-failure":
            if fault.container not in (None, "*") and fault.container not in keys:
                raise InputError(f"no container {fault.container!r}; accepted: {_listed(keys)}",
                                 source.at((*at, "container")))
            if fault.target not in (None, "*") and fault.target not in targets:
                raise InputError(f"target {fault.target!r} does not exist; accepted: {_listed(sorted(targets))}",
                                 source.at((*at, "target")))
            continue
        if fault.kind == "controller-restart" and fault.target is not None:
            raise InputError("controller-restart takes no target: it restarts the whole controller",
                             source.at((*at, "target")))
        promise_target = fault.target is not None and (fault.target == "promise" or fault.target.startswith("promise/"))
        if fault.kind == "create-resource" and promise_target:
            raise InputError("create-resource creates a resource: name it namespace/name (`promise` is the Promise)",
                             source.at((*at, "target")))
        if fault.kind in ("controller-restart", "create-resource"):
            continue
        if fault.target is not None and fault.kind in PROMISE_FAULTS and not promise_target:
            raise InputError(f"{fault.kind} acts on the Promise: its target is `promise` (or leave it out), "
                             f"not {fault.target!r}", source.at((*at, "target")))
        if fault.kind in RESOURCE_FAULTS and (promise_target or fault.target is None):
            raise InputError(f"{fault.kind} acts on a resource: give its target (namespace/name); for the Promise "
                             f"use {RESOURCE_FAULTS[fault.kind]}", source.at((*at, "target") if fault.target else at))
        if fault.target is not None and fault.target not in accepted_targets:
            raise InputError(f"target {fault.target!r} does not exist; accepted: {_listed(accepted_targets)}",
                             source.at((*at, "target")))
        if fault.target is None and fault.kind in ("manual-reconcile", "resume") and not targets:
            raise InputError(f"fault {fault.kind} needs a target", source.at(at))


# -- limits on what a scenario asks of the simulator (sim.yamlio.Limits; --max-resources, --max-faults...) ----
def _number(value: float) -> str:
    """``12,345`` for a count; ``1.2e+300`` or ``inf`` for an absurd one."""
    return f"{value:,.0f}" if value < 1e15 else f"{value:.3g}"


def fault_events(fault: Fault, duration_s: float) -> float:
    """How many fault events ``fault`` gives within ``duration_s``: 1 for ``at``, every occurrence of ``every``,
    the expected number for ``rate`` (per hour); times ``count`` for a container-failure (one per execution)."""
    start = fault.from_
    end = duration_s if fault.until is None else min(fault.until, duration_s)
    if fault.at is not None:
        occurrences = 1.0
    elif fault.every is not None:
        occurrences = (end - start) / fault.every + 1 if end >= start else 0.0
    else:
        assert fault.rate is not None
        occurrences = fault.rate * max(0.0, end - start) / 3600
    occurrences = float(math.floor(occurrences)) if math.isfinite(occurrences) else math.inf
    return occurrences * (fault.count if fault.kind == "container-failure" else 1)


def check_size_limits(scenario: Scenario, source: SourceMap, limits: Limits) -> None:
    """Resources (counting ``count``) and fault events within limits; checked before anything is expanded."""
    spec = scenario.spec
    total = 0
    for index, resource in enumerate(spec.resources):
        total += resource.count
        if total > limits.max_resources:
            where: PathKey = ("spec", "resources", index, *(("count",) if resource.count > 1 else ()))
            raise InputError(f"{_number(total)} resources so far (counting `count`), over the limit of "
                             f"{_number(limits.max_resources)}; raise it with --max-resources", source.at(where))
    events = 0.0
    for index, fault in enumerate(spec.faults):
        events += fault_events(fault, spec.duration)
        if events > limits.max_faults:
            key = "at" if fault.at is not None else "every" if fault.every is not None else "rate"
            raise InputError(f"{_number(events)} fault events so far within the duration of "
                             f"{_number(spec.duration)} s (`every` and `rate` expanded, container-failure "
                             f"`count` included), over the limit of {_number(limits.max_faults)}; raise it with "
                             "--max-faults", source.at(("spec", "faults", index, key)))


def interval_s(scenario: Scenario, promise: Promise) -> float:
    """The reconciliation interval the simulator will use (W9): per Promise, else global, else the profile's."""
    profile = get_profile(scenario.spec.kratix.profile)
    seconds = scenario.spec.kratix.reconciliationInterval
    seconds = profile.default_interval_s if seconds is None else seconds
    if profile.per_promise_interval:
        per_promise = (promise.metadata.annotations.get("kratix.io/reconciliation-interval")
                       or promise.spec.workflows.config.reconciliationInterval)
        if per_promise:
            with contextlib.suppress(ValueError):  # an invalid interval is V5's finding, not a limit
                seconds = parse_go_duration(per_promise)
    return max(seconds, profile.min_interval_s, 0.001)  # the simulator's clock ticks in milliseconds


def settle_s(scenario: Scenario, promise: Promise) -> float:
    """A generous bound on how long every workflow takes with every retry (what ``check`` adds as a heal
    period is of this order): per Pipeline, (backoffLimit + 1) pods of its containers plus capped back-off."""
    profile = get_profile(scenario.spec.kratix.profile)
    default = scenario.spec.kratix.defaultBackoffLimit
    default = profile.default_backoff_limit if default is None else default
    total = 0.0
    for workflow in WORKFLOW_TYPES:
        for action in WORKFLOW_ACTIONS:
            pipelines = promise.pipelines(workflow, action)
            for pipeline in pipelines[:1] if action == "delete" else pipelines:
                limit = pipeline.spec.jobOptions.backoffLimit
                limit = default if limit is None else max(0, limit)
                pod_s = 3 * profile.timing.kratix_step_s + sum(
                    scenario.spec.behaviour.for_key(f"{workflow}/{action}/{pipeline.name}/{c.name}").duration
                    for c in pipeline.spec.containers)
                total += (limit + 1) * pod_s + limit * profile.timing.job_backoff_cap_s
    return 2 * total


def check_work_limit(scenario: Scenario, promise: Promise, source: SourceMap, limits: Limits) -> None:
    """The periodic reconciliations a scenario asks for, objects x (1 + (duration + settle) / interval), within
    --max-reconciliations: what bounds the simulator's work (a long duration, a short interval, huge
    container durations or back-off limits, many objects)."""
    spec = scenario.spec
    objects = 1 + sum(r.count for r in spec.resources) + sum(
        fault_events(f, spec.duration) for f in spec.faults if f.kind == "create-resource")
    interval = interval_s(scenario, promise)
    settle = settle_s(scenario, promise)
    work = objects * (1 + (spec.duration + settle) / interval)
    if not work <= limits.max_reconciliations:
        # blame what makes it long: the duration, else the settle time's back-off limit or container durations
        where: tuple[str, ...] = ("spec", "duration")
        why = ""
        if settle > spec.duration:
            why = " (the settle time grows with the back-off limits and the containers' durations)"
            where = ("spec", "kratix", "defaultBackoffLimit") if spec.kratix.defaultBackoffLimit is not None \
                else ("spec", "behaviour")
        raise InputError(
            f"the scenario asks for about {_number(work)} reconciliations ({_number(objects)} objects x "
            f"(duration {_number(spec.duration)} s + settle time {_number(settle)} s) / interval "
            f"{_number(interval)} s), over the limit of {_number(limits.max_reconciliations)}{why}; raise it "
            "with --max-reconciliations", source.at(where))
