"""Findings of the idempotency harness and of the lint, and how they become JSON."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from conformance.idempotency.diff import ABSENT

Severity = Literal["error", "warning"]
Source = Literal["run", "lint"]
SEVERITY_ORDER = {"error": 0, "warning": 1}
# Rules whose run-time violation is a warning (I5: reference section 8; P6: Kratix drops the keys and warns).
WARNING_RULES = frozenset({"I5", "P6"})
MAX_TEXT_BYTES = 4096


@dataclass(frozen=True)
class Finding:
    """One broken rule: where (pipeline, container, file, YAML key path or line) and both values."""

    rule: str
    severity: Severity
    message: str
    pipeline: str | None = None
    container: str | None = None
    file: str | None = None
    path: str | None = None
    before: Any = None
    after: Any = None
    line: int | None = None
    source: Source = "run"

    def sort_key(self) -> tuple[Any, ...]:
        return (SEVERITY_ORDER[self.severity], self.source, _rule_key(self.rule), self.pipeline or "",
                self.container or "", self.file or "", self.line or 0, self.path or "", self.message)

    def identity(self) -> tuple[Any, ...]:
        return (self.rule, self.pipeline, self.container, self.file, self.path, self.line, self.message)

    def location(self) -> str:
        text = self.file or ""
        if self.line is not None:
            text += f":{self.line}"
        if self.path:
            text += f" {self.path}" if text else self.path
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "severity": self.severity, "pipeline": self.pipeline, "container": self.container,
            "file": self.file, "path": self.path, "before": jsonable(self.before), "after": jsonable(self.after),
            "message": self.message, "line": self.line, "source": self.source,
        }


def _rule_key(rule: str) -> tuple[str, int]:
    letters = rule.rstrip("0123456789")
    digits = rule[len(letters):]
    return letters, int(digits) if digits else 0


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first, then by rule, place and message; exact duplicates dropped."""
    seen: set[tuple[Any, ...]] = set()
    unique: list[Finding] = []
    for finding in findings:
        if finding.identity() not in seen:
            seen.add(finding.identity())
            unique.append(finding)
    return sorted(unique, key=Finding.sort_key)


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of a parsed YAML value: absent -> null, bytes -> a short description, dates -> ISO."""
    if value is ABSENT or value is None:
        return None
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if len(value.encode()) > MAX_TEXT_BYTES:
            return value[:MAX_TEXT_BYTES] + f"... <{len(value)} characters>"
        return value
    if isinstance(value, bytes):
        digest = hashlib.sha256(value).hexdigest()[:16]
        preview = base64.b64encode(value[:48]).decode()
        return f"<{len(value)} bytes, sha256 {digest}..., base64 {preview}>"
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return str(value)


def _one_line(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    text = value if isinstance(value, str) else json.dumps(jsonable(value), sort_keys=False)
    return text.replace("\n", "\\n")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short(value: Any, limit: int = 48) -> str:
    """A one-line rendering for tables."""
    return _cut(_one_line(value), limit)


def short_change(before: Any, after: Any, limit: int = 32) -> str:
    """``before -> after`` for tables, each cut to ``limit``; when the two share a start longer than that, both
    begin just before the first character that differs (``...`` marks the skipped start)."""
    old, new = _one_line(before), _one_line(after)
    common = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    if common <= limit - 8:
        return f"{_cut(old, limit)} -> {_cut(new, limit)}"
    start = common - 8
    return f"{_cut('...' + old[start:], limit)} -> {_cut('...' + new[start:], limit)}"
