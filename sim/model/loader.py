"""Load Promises and resource requests from YAML files in any of the shapes found in the wild.

Recognised Promise shapes (reference section 1, V8):
- ``current``: ``spec.workflows.{resource,promise}.{configure,delete}``;
- ``xaasRequestPipeline``: ``spec.xaasRequestPipeline`` (a list of images), ``spec.xaasCrd``,
  ``spec.clusterSelector``, ``spec.workerClusterResources``;
- ``grapefruit`` (July 2023): ``spec.workflows.grapefruit.gummybear`` (resource configure Pipelines) and
  ``spec.scheduling`` (destination selectors).
Legacy shapes are rewritten into the current one; ``remap`` remembers which original path each rewritten
part came from, so every message points at the user's own line.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from sim.errors import InputError, Location
from sim.model.promise import PIPELINE_API_VERSION, Promise, ResourceRequest
from sim.yamlio import DEFAULT_LIMITS, Limits, PathKey, SourceMap, YamlDocument, load_file

Shape = Literal["current", "xaasRequestPipeline", "grapefruit"]
LEGACY_PIPELINE_NAME = "instance-configure"
LEGACY_INPUT_DIR, LEGACY_OUTPUT_DIR = "/input", "/output"


@dataclass
class Sourced:
    """A document's raw (normalised) data with the way back to the user's file and lines."""

    raw: dict[str, Any]
    source: SourceMap
    document_index: int
    remap: list[tuple[PathKey, PathKey]] = field(default_factory=list)

    @property
    def file(self) -> str:
        return self.source.file

    def original_path(self, path: PathKey) -> PathKey:
        """Translate a path of the normalised document into the user's document (longest prefix wins)."""
        best: tuple[PathKey, PathKey] | None = None
        for new, old in self.remap:
            if path[: len(new)] == new and (best is None or len(new) > len(best[0])):
                best = (new, old)
        if best is None:
            return path
        return best[1] + path[len(best[0]):]

    def at(self, path: PathKey) -> Location:
        """Location of a normalised path: the user's path and line.

        A path rewritten from a legacy shape is cut back to the deepest part the user actually wrote
        (the generated Pipeline of ``spec.xaasRequestPipeline`` has no ``metadata.name`` in the file).
        """
        original = self.original_path(path)
        if original != path:
            while len(original) > 1 and original not in self.source.lines:
                original = original[:-1]
        return self.source.at(original)


@dataclass
class LoadedPromise(Sourced):
    promise: Promise = field(default_factory=Promise)
    shape: Shape = "current"


@dataclass
class LoadedResource(Sourced):
    resource: ResourceRequest | None = None


def _pydantic_error(exc: ValidationError, doc: Sourced, what: str) -> InputError:
    first = exc.errors()[0]
    path = tuple(p for p in first["loc"] if isinstance(p, str | int))
    return InputError(f"{what}: {first['msg']}", doc.at(path))


def _normalise(raw: dict[str, Any]) -> tuple[dict[str, Any], Shape, list[tuple[PathKey, PathKey]]]:
    """Rewrite a legacy Promise into the current shape; return it, its shape and the path remap."""
    spec = raw.get("spec")
    if not isinstance(spec, dict):
        return raw, "current", []
    data = copy.deepcopy(raw)
    spec = data["spec"]
    remap: list[tuple[PathKey, PathKey]] = []
    shape: Shape = "current"

    def move(old: str, new: PathKey) -> Any:
        remap.append((("spec", *new), ("spec", old)))
        return spec.pop(old)

    if "xaasRequestPipeline" in spec:
        shape = "xaasRequestPipeline"
        images = move("xaasRequestPipeline", ("workflows", "resource", "configure", 0, "spec", "containers"))
        containers = [
            {
                "name": f"xaas-request-pipeline-stage-{i}",
                "image": image,
                "volumeMounts": [
                    {"name": "input", "mountPath": LEGACY_INPUT_DIR},
                    {"name": "output", "mountPath": LEGACY_OUTPUT_DIR},
                ],
            }
            for i, image in enumerate(images if isinstance(images, list) else [])
        ]
        workflows = spec.setdefault("workflows", {})
        workflows.setdefault("resource", {})["configure"] = [{
            "apiVersion": PIPELINE_API_VERSION,
            "kind": "Pipeline",
            "metadata": {"name": LEGACY_PIPELINE_NAME},
            "spec": {"containers": containers},
        }]
        remap.append((("spec", "workflows", "resource", "configure"), ("spec", "xaasRequestPipeline")))
        # The one generated Pipeline stands for the whole list, not for its first image.
        remap.append((("spec", "workflows", "resource", "configure", 0), ("spec", "xaasRequestPipeline")))
    workflows = spec.get("workflows")
    if isinstance(workflows, dict) and isinstance(workflows.get("grapefruit"), dict):
        shape = "grapefruit"
        pipelines = workflows.pop("grapefruit").get("gummybear", [])
        workflows.setdefault("resource", {})["configure"] = pipelines
        remap.append((("spec", "workflows", "resource", "configure"),
                      ("spec", "workflows", "grapefruit", "gummybear")))
    if "xaasCrd" in spec:
        spec["api"] = move("xaasCrd", ("api",))
    if "workerClusterResources" in spec:
        spec["dependencies"] = move("workerClusterResources", ("dependencies",))
    if "clusterSelector" in spec:
        labels = move("clusterSelector", ("destinationSelectors",))
        spec["destinationSelectors"] = [{"matchLabels": labels}] if labels else []
    if "scheduling" in spec:
        scheduling = move("scheduling", ("destinationSelectors",))
        spec["destinationSelectors"] = [
            (entry.get("target") or {}) if isinstance(entry, dict) else entry
            for entry in (scheduling if isinstance(scheduling, list) else [])
        ]
    return data, shape, remap


def promise_from_document(doc: YamlDocument) -> LoadedPromise:
    """Normalise and type one ``kind: Promise`` document."""
    raw, shape, remap = _normalise(doc.data)
    loaded = LoadedPromise(raw=raw, source=doc.source, document_index=doc.index, remap=remap, shape=shape)
    try:
        loaded.promise = Promise.model_validate(raw)
    except ValidationError as exc:
        raise _pydantic_error(exc, loaded, "invalid Promise") from exc
    return loaded


def resource_from_document(doc: YamlDocument) -> LoadedResource:
    """Type one resource request document."""
    if not isinstance(doc.data, dict):
        raise InputError("a resource request must be a mapping", doc.source.at(()))
    loaded = LoadedResource(raw=doc.data, source=doc.source, document_index=doc.index)
    try:
        loaded.resource = ResourceRequest.model_validate(doc.data)
    except ValidationError as exc:
        raise _pydantic_error(exc, loaded, "invalid resource request") from exc
    return loaded


@dataclass
class LoadedFile:
    """The Promises of one file, typed, and its other documents, untouched."""

    path: str
    promises: list[LoadedPromise] = field(default_factory=list)
    others: list[YamlDocument] = field(default_factory=list)

    def other_kinds(self) -> list[str]:
        kinds = [_kind(doc) or "(no kind)" for doc in self.others]
        return [kind if kind.isprintable() else repr(kind) for kind in kinds]  # an error lists them on one line


def _kind(doc: YamlDocument) -> str | None:
    if not isinstance(doc.data, dict):
        return None
    kind = doc.data.get("kind")
    return kind if isinstance(kind, str) else None


def load_kratix_file(path: Path, limits: Limits = DEFAULT_LIMITS) -> LoadedFile:
    """Read every document of a file; Promises are normalised and typed (errors name file and line)."""
    loaded = LoadedFile(str(path))
    for doc in load_file(path, limits):
        if _kind(doc) == "Promise":
            loaded.promises.append(promise_from_document(doc))
        else:
            loaded.others.append(doc)
    return loaded


def load_resources(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[LoadedResource]:
    """The resource requests of a file: every document that is not a Promise must be one."""
    resources = [resource_from_document(doc) for doc in load_file(path, limits) if _kind(doc) != "Promise"]
    if not resources:
        raise InputError("no resource request in this file", Location(str(path)))
    return resources


def load_promises(paths: Iterable[Path], limits: Limits = DEFAULT_LIMITS) -> list[LoadedPromise]:
    """All Promises of the given files; a file with no Promise is an error (exit 2)."""
    result: list[LoadedPromise] = []
    for path in paths:
        loaded = load_kratix_file(path, limits)
        if not loaded.promises:
            kinds = ", ".join(sorted(set(loaded.other_kinds())))
            raise InputError(f"no Promise in this file (found: {kinds or 'nothing'})", Location(str(path)))
        result.extend(loaded.promises)
    return result


def load_promise(path: Path, limits: Limits = DEFAULT_LIMITS) -> LoadedPromise:
    """The single Promise of a file."""
    promises = load_promises([path], limits)
    if len(promises) > 1:
        raise InputError(f"{len(promises)} Promises in one file; expected one", Location(str(path)))
    return promises[0]
