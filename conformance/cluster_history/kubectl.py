"""Read Kubernetes objects from what ``kubectl get ... -o yaml|json`` (or the API) prints.

Accepted: a List (``kind: List`` or a typed ``JobList``, whose items may omit ``kind``), several YAML documents,
or one object. Every object needs ``apiVersion``, ``kind`` and ``metadata.name``; anything else is an
``InputError`` naming the file, line and field. Files are read with the project's safe YAML reader.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import InputError, Location
from sim.yamlio import DEFAULT_LIMITS, Limits, PathKey, SourceMap, format_path, parse_documents, read_text


@dataclass(frozen=True)
class KubeObject:
    """One Kubernetes object and where it came from (for error messages)."""

    data: dict[str, Any]
    file: str
    path: PathKey = ()
    source: SourceMap | None = None

    @property
    def kind(self) -> str:
        return str(self.data["kind"])

    @property
    def api_version(self) -> str:
        return str(self.data["apiVersion"])

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.data.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "")

    @property
    def labels(self) -> dict[str, str]:
        labels = self.metadata.get("labels")
        return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}

    def field(self, *keys: str | int) -> Any:
        """The value at ``keys`` (None when any step is missing)."""
        value: Any = self.data
        for key in keys:
            if isinstance(key, int):
                value = value[key] if isinstance(value, list) and key < len(value) else None
            else:
                value = value.get(key) if isinstance(value, dict) else None
        return value

    def at(self, *keys: str | int) -> Location:
        """The location of a field of this object: file, YAML path and line (when known)."""
        path = (*self.path, *keys)
        if self.source is not None:
            return self.source.at(path)
        return Location(self.file, format_path(path))

    def error(self, message: str, *keys: str | int) -> InputError:
        return InputError(f"{self.kind} {self.name or '?'}: {message}", self.at(*keys))


def _objects(data: Any, file: str, path: PathKey, source: SourceMap | None,
             inherited: tuple[str, str] = ("", "")) -> Iterator[KubeObject]:
    """The objects of one document; items of a typed List (``JobList`` from the API) inherit its kind and
    apiVersion (``inherited``) when they omit them."""
    where = source.at(path) if source is not None else Location(file, format_path(path))
    if not isinstance(data, dict):
        raise InputError("not a Kubernetes object or List (expected a mapping with apiVersion and kind)", where)
    kind = data.get("kind") or inherited[0]
    api_version = data.get("apiVersion") or inherited[1]
    if not isinstance(kind, str) or not kind or not isinstance(api_version, str) or not api_version:
        raise InputError("not a Kubernetes object or List: no `kind`/`apiVersion`", where)
    if kind.endswith("List") and "items" in data:
        items = data["items"] if data["items"] is not None else []
        if not isinstance(items, list):
            raise InputError("`items` must be a list", where)
        inner = (kind[: -len("List")], api_version) if kind != "List" else ("", "")
        for i, item in enumerate(items):
            yield from _objects(item, file, (*path, "items", i), source, inner)
        return
    metadata = data.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        raise InputError(f"{kind}: no `metadata.name`", where)
    yield KubeObject({**data, "kind": kind, "apiVersion": api_version}, file, path, source)


def objects_from_data(data: Any, file: str) -> list[KubeObject]:
    """Objects of one decoded document (JSON from the API, say); errors name ``file`` and the field path."""
    return list(_objects(data, file, (), None))


def read_objects(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[KubeObject]:
    """Every object of a kubectl export file, YAML or JSON."""
    text = read_text(path, limits)
    file = str(path)
    if text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not JSON: {exc.msg}", Location(file, line=exc.lineno)) from exc
        return objects_from_data(data, file)
    found: list[KubeObject] = []
    documents = 0
    for document in parse_documents(text, file, limits):
        documents += 1
        found.extend(_objects(document.data, file, (), document.source))
    if not documents:
        raise InputError("empty file: no Kubernetes objects or List", Location(file))
    return found
