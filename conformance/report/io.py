"""Reading and writing reports. Every write is atomic (a temporary file in the same folder, then a rename)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from conformance.report.model import REPORT_FORMAT, Report
from sim.errors import InputError, Location
from sim.yamlio import DEFAULT_LIMITS, Limits, format_path, read_text, refuse_overwriting_inputs, write_atomic

DIR_FILES = {"markdown": "report.md", "junit": "report.xml", "json": "report.json", "html": "report.html"}


@dataclass
class Outputs:
    """Where each rendering goes (None: not written)."""

    markdown: Path | None = None
    junit: Path | None = None
    json: Path | None = None
    html: Path | None = None

    @classmethod
    def select(cls, report_dir: Path | None = None, markdown: Path | None = None, junit: Path | None = None,
               json_path: Path | None = None, html: Path | None = None) -> Outputs:
        """``report_dir`` gives all four (report.md, report.xml, report.json, report.html); a file option
        overrides its one."""
        outputs = cls()
        if report_dir is not None:
            for attr, name in DIR_FILES.items():
                setattr(outputs, attr, report_dir / name)
        for attr, path in (("markdown", markdown), ("junit", junit), ("json", json_path), ("html", html)):
            if path is not None:
                setattr(outputs, attr, path)
        return outputs

    def any(self) -> bool:
        return any(p is not None for p in (self.markdown, self.junit, self.json, self.html))

    def paths(self) -> list[Path]:
        return [p for p in (self.markdown, self.junit, self.json, self.html) if p is not None]

    def check(self, inputs: Iterable[Path | None] = ()) -> None:
        """Refuse before anything runs what could never be written: a folder where a report goes, a file where
        a folder of its path goes (``--report FILE``), a report over one of the command's ``inputs``."""
        refuse_overwriting_inputs(self.paths(), inputs)
        for path in self.paths():
            if path.is_dir():
                raise InputError(f"cannot write {path}: it is a folder")
            existing = next((parent for parent in path.parents if parent.exists()), None)
            if existing is not None and not existing.is_dir():
                raise InputError(f"cannot write {path}: {existing} is not a folder")


def write_outputs(report: Report, outputs: Outputs, plots: bool = True) -> list[Path]:
    """Render and write what ``outputs`` asks for; returns the paths written."""
    written: list[Path] = []
    if outputs.json is not None:
        write_atomic(outputs.json, report.dumps())
        written.append(outputs.json)
    if outputs.markdown is not None:
        from conformance.report.markdown import render_markdown

        write_atomic(outputs.markdown, render_markdown(report))
        written.append(outputs.markdown)
    if outputs.junit is not None:
        from conformance.report.junit import render_junit

        write_atomic(outputs.junit, render_junit(report))
        written.append(outputs.junit)
    if outputs.html is not None:
        from conformance.report.html import render_html

        write_atomic(outputs.html, render_html(report, plots=plots))
        written.append(outputs.html)
    return written


def load_report(path: Path, limits: Limits = DEFAULT_LIMITS) -> Report:
    """A report (or baseline) JSON file; bad input raises InputError naming the file and field."""
    text = read_text(path, limits)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", Location(str(path), line=exc.lineno)) from exc
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise InputError(f"not a {REPORT_FORMAT} report (format: {found!r})", Location(str(path), "format"))
    try:
        return Report.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise InputError(f"invalid report: {error['msg']}", Location(str(path), _data_path(data, error["loc"]))) \
            from exc


def _data_path(data: Any, loc: tuple[Any, ...]) -> str:
    """Pydantic's error location as a path in the document (``runs[0].metrics.jobs``), without the names of
    the union members it tried (``int``, ``float``...), which are no keys of the file."""
    path: list[str | int] = []
    for part in loc:
        inside = (isinstance(data, dict) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data))
        if inside:
            data = data[part]
        elif isinstance(data, dict | list):
            path.append(part)  # a missing key: where it should be
            break
        else:
            break  # a union member's name, below the value that failed
        path.append(part)
    return format_path(tuple(path))
