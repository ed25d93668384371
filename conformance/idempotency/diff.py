"""A semantic YAML diff: two parsed values compared key by key, each difference with its key path.

Mappings are compared by key (order ignored), lists by index, scalars by type and value (``1``, ``true`` and
``"1"`` differ). Two strings that both parse as a YAML mapping or list (a Work file without a ``.yaml``
suffix, a record in an external system) are compared as YAML. Paths read like ``spec.replicas``,
``items[2].name`` or ``metadata.labels["app.kubernetes.io/name"]``; ``""`` is the whole value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import yaml

Change = Literal["changed", "added", "removed"]
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


class _Absent:
    """A value that is not there (a missing key, file or list item); never equal to anything else."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class Difference:
    """One differing key path: ``before``/``after`` are ``ABSENT`` when the path exists on one side only."""

    path: str
    before: Any
    after: Any

    @property
    def change(self) -> Change:
        if self.before is ABSENT:
            return "added"
        if self.after is ABSENT:
            return "removed"
        return "changed"


def join_path(path: str, part: str | int) -> str:
    """``join_path("spec", "replicas")`` -> ``spec.replicas``; ints become ``[i]``; odd keys ``["a.b"]``."""
    if isinstance(part, int):
        return f"{path}[{part}]"
    if _PLAIN_KEY.fullmatch(part):
        return f"{path}.{part}" if path else part
    return f"{path}[{json.dumps(part)}]"


def _same_scalar(a: Any, b: Any) -> bool:
    return type(a) is type(b) and bool(a == b)


def _as_yaml(text: str) -> Any:
    """The mapping or list a string holds as YAML, else ABSENT (plain text stays text)."""
    if "\n" not in text.strip() and ":" not in text:
        return ABSENT
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        return ABSENT
    if not docs:
        return ABSENT
    value = docs[0] if len(docs) == 1 else docs
    return value if isinstance(value, dict | list) else ABSENT


def _walk(before: Any, after: Any, path: str) -> Iterator[Difference]:
    if before is ABSENT or after is ABSENT:
        if before is not after:
            yield Difference(path, before, after)
        return
    if isinstance(before, dict) and isinstance(after, dict):
        keys = list(before) + [k for k in after if k not in before]
        for key in keys:
            yield from _walk(before.get(key, ABSENT), after.get(key, ABSENT), join_path(path, str(key)))
        return
    if isinstance(before, list) and isinstance(after, list):
        for index in range(max(len(before), len(after))):
            yield from _walk(before[index] if index < len(before) else ABSENT,
                             after[index] if index < len(after) else ABSENT, join_path(path, index))
        return
    if isinstance(before, str) and isinstance(after, str) and before != after:
        parsed_before, parsed_after = _as_yaml(before), _as_yaml(after)
        if parsed_before is not ABSENT and parsed_after is not ABSENT:
            yield from _walk(parsed_before, parsed_after, path)
            return
    if not _same_scalar(before, after):
        yield Difference(path, before, after)


def diff_values(before: Any, after: Any) -> list[Difference]:
    """Every key path where ``before`` and ``after`` differ (empty when they are the same)."""
    return list(_walk(before, after, ""))
