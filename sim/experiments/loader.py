"""Read an Experiment file and expand it into points: one validated (Scenario, Promise) per parameter point.

Every error exits 2 with one line naming the file, the line and the key, as the scenario loader's do: a bad
experiment key points into the experiment file; a bad base scenario into the base scenario (or into the
experiment, for an inline one); a point whose values make the scenario invalid at the parameter that set them.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from sim import __version__
from sim.durations import parse_duration
from sim.errors import InputError, Location
from sim.experiments.model import RESERVED_COLUMNS, Experiment, Parameter, PathToken, Range
from sim.metrics import METRICS
from sim.model.promise import Promise
from sim.scenario import Scenario
from sim.scenario_loader import (
    annotation_below,
    check_against_promise,
    check_size_limits,
    check_work_limit,
    explain_validation_error,
    key_path_at,
    load_scenario,
    resolve_scenario_promise,
    shown,
)
from sim.yamlio import DEFAULT_LIMITS, Limits, PathKey, SourceMap, YamlDocument, format_path, load_file


@dataclass(frozen=True)
class Point:
    """One combination of parameter values and the scenario it gives."""

    index: int
    values: tuple[Any, ...]
    scenario: Scenario
    promise: Promise


@dataclass(frozen=True)
class LoadedExperiment:
    path: Path
    experiment: Experiment
    base: str  # the base scenario file, or "inline"
    parameters: tuple[Parameter, ...]
    columns: tuple[str, ...]  # one per parameter
    points: tuple[Point, ...]
    seeds: tuple[int, ...]
    metrics: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.experiment.name

    @property
    def runs(self) -> int:
        return len(self.points) * len(self.seeds)

    def header(self) -> list[str]:
        """The columns of results.csv."""
        return ["point", "seed", *self.columns, *self.metrics]

    def fingerprint(self) -> str:
        """A digest of everything a row depends on (points' scenarios and Promises, seeds, metrics, version):
        ``--resume`` refuses results written for another experiment."""
        design = {
            "version": __version__,
            "columns": list(self.columns),
            "metrics": list(self.metrics),
            "seeds": list(self.seeds),
            "points": [{"values": [format_value(v) for v in p.values],
                        "scenario": p.scenario.model_dump(mode="json", by_alias=True),
                        "promise": p.promise.model_dump(mode="json", by_alias=True)} for p in self.points],
        }
        return hashlib.sha256(json.dumps(design, sort_keys=True, default=str).encode()).hexdigest()


def format_value(value: Any) -> str:
    """A value as a CSV cell, the same in every process: numbers shortest round-trip, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# -- errors -------------------------------------------------------------------------------------------
def _explain_experiment(exc: ValidationError, source: SourceMap) -> InputError:
    error = exc.errors()[0]
    path: PathKey = tuple(p for p in error["loc"] if isinstance(p, str | int))
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        model = _model_at(path[:-1])
        accepted = f"; accepted: {', '.join(f.alias or n for n, f in model.model_fields.items())}" if model else ""
        message = f"unknown key {path[-1]!r}{accepted}"
    elif error["type"] == "missing":
        message = f"missing required key {path[-1]!r}"
    elif error["type"] == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        message = f"unknown {path[-1]} {error.get('input')!r}; accepted: {expected.replace(' or ', ', ')}"
    elif message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return InputError(message, source.at(path))


def _model_at(path: PathKey) -> type[BaseModel] | None:
    annotation: Any = Experiment
    for step in path:
        annotation = annotation_below(annotation, step)
        if annotation is None:
            return None
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _load_documents(path: Path, limits: Limits) -> list[YamlDocument]:
    try:
        return load_file(path, limits)
    except InputError as exc:
        location = exc.location
        if location is None or location.line is None or location.path or not exc.message.startswith("YAML syntax"):
            raise
        key = key_path_at(path.read_text(encoding="utf-8", errors="replace"), location.line)
        raise InputError(exc.message, Location(location.file, format_path(key), location.line)) from exc


def _experiment_document(path: Path, limits: Limits) -> YamlDocument:
    documents = _load_documents(path, limits)
    found = [d for d in documents if isinstance(d.data, dict) and d.data.get("kind") == "Experiment"]
    if not found:
        for doc in documents:
            if isinstance(doc.data, dict) and "kind" in doc.data:
                raise InputError(f"not an Experiment file: kind is {doc.data['kind']!r}; expected kind: Experiment "
                                 f"(apiVersion: kratix-sim/v1alpha1)", doc.source.at(("kind",)))
        raise InputError("not an Experiment file (no document with `kind: Experiment`)", Location(str(path)))
    if len(found) > 1:
        raise InputError(f"{len(found)} Experiments in one file; expected one", Location(str(path)))
    return found[0]


class _Prefixed(SourceMap):
    """The source map of a document nested in another (an inline scenario): paths relative to it."""

    def __init__(self, outer: SourceMap, prefix: PathKey) -> None:
        super().__init__(outer.file, {p[len(prefix):]: line for p, line in outer.lines.items()
                                      if p[:len(prefix)] == prefix})
        self.prefix = prefix

    def at(self, path: PathKey) -> Location:
        return Location(self.file, format_path((*self.prefix, *path)), self.line(path))


# -- the base scenario --------------------------------------------------------------------------------
@dataclass
class _Base:
    data: dict[str, Any]
    source: SourceMap
    base_dir: Path
    label: str


def _base_scenario(loaded_path: Path, experiment: Experiment, source: SourceMap, limits: Limits) -> _Base:
    spec_scenario = experiment.spec.scenario
    if isinstance(spec_scenario, str):
        base_path = loaded_path.parent / spec_scenario
        if not base_path.is_file():
            raise InputError(f"scenario file {spec_scenario!r} not found (looked in {loaded_path.parent})",
                             source.at(("spec", "scenario")))
        load_scenario(base_path, limits)  # the base as it is must be valid; errors point into its file
        doc = next(d for d in load_file(base_path, limits)
                   if isinstance(d.data, dict) and d.data.get("kind") == "Scenario")
        return _Base(copy.deepcopy(doc.data), doc.source, base_path.parent, str(base_path))
    data = copy.deepcopy(spec_scenario)
    data.setdefault("metadata", {"name": experiment.name})
    inline = _Base(data, _Prefixed(source, ("spec", "scenario")), loaded_path.parent, "inline")
    try:
        scenario = Scenario.model_validate(data).with_base_dir(inline.base_dir)
    except ValidationError as exc:
        raise explain_validation_error(exc, inline.source) from exc
    check_size_limits(scenario, inline.source, limits)
    promise = resolve_scenario_promise(scenario, inline.source)
    check_work_limit(scenario, promise, inline.source, limits)
    check_against_promise(scenario, promise, inline.source)
    return inline


# -- parameter values ---------------------------------------------------------------------------------
def _bound(value: int | float | str) -> float:
    """A range bound in seconds or as a number; ValueError unless finite (``.inf`` or 10**400 cannot be sampled)."""
    try:
        number = parse_duration(value) if isinstance(value, str) else float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"range bounds must be finite numbers (got {str(value)[:40]})")
    return number


def expand_range(r: Range) -> list[int | float]:
    low, high = _bound(r.from_), _bound(r.to)
    if r.scale == "log" and (low <= 0 or high <= 0):
        raise ValueError("a log range needs positive from and to")
    n = r.samples
    if n == 1:
        raw = [low]
    elif r.scale == "linear":
        raw = [low + (high - low) * i / (n - 1) for i in range(n)]
    else:
        raw = [math.exp(math.log(low) + (math.log(high) - math.log(low)) * i / (n - 1)) for i in range(n)]
    raw[-1] = high if n > 1 else raw[-1]
    integer = all(isinstance(b, int) and not isinstance(b, bool) for b in (r.from_, r.to))
    values: list[int | float] = []
    for value in raw:
        item: int | float = round(value) if integer else float(f"{value:.12g}")
        if item not in values:
            values.append(item)
    return values


def parameter_values(param: Parameter) -> list[Any]:
    if param.values is not None:
        return list(param.values)
    assert param.range is not None
    return list(expand_range(param.range))


def set_path(doc: dict[str, Any], tokens: tuple[PathToken, ...], value: Any,
             inline_promise: Callable[[str], dict[str, Any]]) -> None:
    """Set ``tokens`` in ``doc`` to ``value``; missing mappings are created; a ``spec.promise`` that is a file
    path is replaced by the Promise document, so keys inside the Promise can vary too."""
    current: Any = doc
    for depth, token in enumerate(tokens):
        where = format_path(tokens[:depth]) or "the document"
        last = depth == len(tokens) - 1
        if isinstance(token, int):
            if not isinstance(current, list):
                raise ValueError(f"{where} is not a list")
            if token >= len(current):
                raise ValueError(f"{format_path(tokens[:depth + 1])}: {where} has {len(current)} items")
            if last:
                current[token] = copy.deepcopy(value)
                return
            current = current[token]
            continue
        if not isinstance(current, dict):
            raise ValueError(f"{where} is not a mapping")
        if last:
            current[token] = copy.deepcopy(value)
            return
        if token not in current or current[token] is None:
            if isinstance(tokens[depth + 1], int):
                raise ValueError(f"{format_path(tokens[:depth + 1])} is not set, so it has no item "
                                 f"{tokens[depth + 1]}")
            current[token] = {}
        if tokens[:depth + 1] == ("spec", "promise") and isinstance(current[token], str):
            current[token] = inline_promise(current[token])
        current = current[token]


# -- loading ------------------------------------------------------------------------------------------
def load_experiment(path: Path, limits: Limits = DEFAULT_LIMITS) -> LoadedExperiment:
    doc = _experiment_document(path, limits)
    try:
        experiment = Experiment.model_validate(doc.data)
    except ValidationError as exc:
        raise _explain_experiment(exc, doc.source) from exc
    source = doc.source
    spec = experiment.spec
    base = _base_scenario(path, experiment, source, limits)
    if spec.duration is not None:
        base.data.setdefault("spec", {})["duration"] = spec.duration

    parameters = tuple(spec.parameters)
    columns: list[str] = []
    for index, param in enumerate(parameters):
        column = param.column
        where = ("spec", "parameters", index, "name" if param.name is not None else "path")
        if column in columns or column in RESERVED_COLUMNS or column in spec.metrics or column in METRICS:
            raise InputError(f"column name {column!r} is taken (by another parameter, a metric or point/seed); "
                             "give this parameter a `name`", source.at(where))
        columns.append(column)

    check_runs_limit(experiment, source, limits)
    value_lists: list[list[Any]] = []
    for index, param in enumerate(parameters):
        try:
            value_lists.append(parameter_values(param))
        except ValueError as exc:
            raise InputError(str(exc), source.at(("spec", "parameters", index, "range"))) from exc
    if spec.design == "zip" and len({len(v) for v in value_lists}) > 1:
        sizes = ", ".join(f"{c}: {len(v)}" for c, v in zip(columns, value_lists, strict=True))
        raise InputError(f"design zip needs as many values for every parameter ({sizes})",
                         source.at(("spec", "design")))
    combos: list[tuple[Any, ...]] = (list(zip(*value_lists, strict=True)) if spec.design == "zip"
                                     else list(itertools.product(*value_lists)))

    promise_docs: dict[str, dict[str, Any]] = {}

    def inline_promise(relative: str) -> dict[str, Any]:
        if relative not in promise_docs:
            target = base.base_dir / relative
            if not target.is_file():
                raise ValueError(f"promise file {relative!r} not found (looked in {base.base_dir})")
            found = [d for d in load_file(target, limits)
                     if isinstance(d.data, dict) and d.data.get("kind") == "Promise"]
            if len(found) != 1:
                raise ValueError(f"{target}: expected one Promise, found {len(found)}")
            promise_docs[relative] = found[0].data
        return copy.deepcopy(promise_docs[relative])

    promises: dict[str, Promise] = {}
    points: list[Point] = []
    for number, combo in enumerate(combos):
        data = copy.deepcopy(base.data)
        for index, (param, value) in enumerate(zip(parameters, combo, strict=True)):
            for which, tokens in enumerate(param.paths):
                try:
                    set_path(data, tokens, value, inline_promise)
                except ValueError as exc:
                    at: PathKey = ("spec", "parameters", index, "path")
                    raise InputError(f"cannot set {format_path(tokens)}: {exc}",
                                     source.at(at if isinstance(param.path, str) else (*at, which))) from exc
        try:
            scenario, promise = _point_scenario(data, base, promises, limits)
        except InputError as exc:
            raise _point_error(exc, parameters, columns, combo, source) from exc
        points.append(Point(number, combo, scenario, promise))
    seeds = tuple(range(spec.seed, spec.seed + spec.replications))
    return LoadedExperiment(path, experiment, base.label, parameters, tuple(columns), tuple(points), seeds,
                            tuple(spec.metrics))


def check_runs_limit(experiment: Experiment, source: SourceMap, limits: Limits) -> None:
    """Parameter points x replications within --max-runs, counted before any point is expanded (a range of a
    billion samples must not be built to be refused)."""
    spec = experiment.spec
    sizes = [len(p.values) if p.values is not None else p.range.samples if p.range is not None else 1
             for p in spec.parameters]
    points = max(sizes, default=1) if spec.design == "zip" else math.prod(sizes)
    runs = points * spec.replications
    if runs > limits.max_runs:
        count = f"{runs:,}" if runs < 10**15 else f"{float(runs):.3g}"
        raise InputError(f"the experiment has {count} runs (at most {points:,} parameter points x "
                         f"{spec.replications:,} replications), over the limit of {limits.max_runs:,}; raise it "
                         "with --max-runs", source.at(("spec", "replications" if points <= limits.max_runs
                                                       else "parameters")))


def _point_scenario(data: dict[str, Any], base: _Base, promises: dict[str, Promise],
                    limits: Limits) -> tuple[Scenario, Promise]:
    """The validated scenario of one point and its Promise (resolved once per distinct ``spec.promise``)."""
    try:
        scenario = Scenario.model_validate(data).with_base_dir(base.base_dir)
    except ValidationError as exc:
        raise explain_validation_error(exc, base.source) from exc
    check_size_limits(scenario, base.source, limits)
    key = json.dumps(scenario.spec.promise, sort_keys=True)
    if key not in promises:
        promises[key] = resolve_scenario_promise(scenario, base.source)
    check_work_limit(scenario, promises[key], base.source, limits)
    check_against_promise(scenario, promises[key], base.source)
    return scenario, promises[key]


def _point_error(error: InputError, parameters: tuple[Parameter, ...], columns: list[str], combo: tuple[Any, ...],
                 source: SourceMap) -> InputError:
    """An invalid point: reported at the parameter whose path the scenario error is at or under (the error's
    path may carry a prefix, ``spec.scenario.`` for an inline scenario), else the first."""
    error_path = error.location.path if error.location is not None else ""
    chosen = 0
    for index, param in enumerate(parameters):
        texts = [format_path(tokens) for tokens in param.paths]
        if any(re.search(rf"(^|\.){re.escape(t)}($|[.\[])", error_path) for t in texts):
            chosen = index
            break
    values = shown(", ".join(f"{c}={format_value(v)}" for c, v in zip(columns, combo, strict=True)))
    which: Literal["values", "range"] = "values" if parameters and parameters[chosen].values is not None else "range"
    where: PathKey = ("spec", "parameters", chosen, which) if parameters else ("spec", "scenario")
    return InputError(f"the point {values or '(no parameters)'} gives an invalid scenario: {error}", source.at(where))
