"""The report model, format ``kratix-sim-report/v1`` (documented in docs/reports.md, JSON Schema in
``conformance/report/report-v1.schema.json``).

One model for every command that judges things: ``check`` today, ``idempotency``, ``mutants``, ``explore`` and
``sweep`` later (``kind`` says which). Renderers (Markdown, JUnit XML, JSON, HTML) and ``report compare`` read
only this model, so a report can be re-rendered or compared from its JSON alone.

Content is deterministic: the same run gives the same report, except the ``generated`` block (wall-clock
time), which ``report compare`` and ``report baseline save`` ignore.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

REPORT_FORMAT = "kratix-sim-report/v1"
SCHEMA_ID = "https://kratix-sim.invalid/schemas/report-v1.schema.json"
ReportKind = Literal["check", "idempotency", "mutants", "explore", "sweep"]
Result = Literal["pass", "fail", "unknown"]
JobState = Literal["complete", "failed", "suspended", "running", "deleted"]
MarkKind = Literal["fault", "failure", "restart"]
# A metric is a number a float holds exactly enough to compare (no 10**400, no NaN or infinity: see _Model).
MetricValue = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)] | float | None


class _Model(BaseModel):
    # Readers ignore fields they do not know (later v1 versions may add some). Non-finite numbers are refused:
    # a NaN compares as neither better nor worse and would hide a regression.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)


class Tool(_Model):
    name: str = "kratix-sim"
    version: str


class Invocation(_Model):
    """What ran: the command line (paths as given) and its options as data."""

    command: str = Field(description="the command line, e.g. `kratix-sim check scenarios --seeds 2`")
    options: dict[str, Any] = Field(default_factory=dict)


class Counts(_Model):
    pass_: int = Field(0, alias="pass")
    fail: int = 0
    unknown: int = 0

    def add(self, result: Result) -> None:
        if result == "pass":
            self.pass_ += 1
        elif result == "fail":
            self.fail += 1
        else:
            self.unknown += 1


class Summary(_Model):
    result: Result = Field(description="the worst case result: fail beats unknown beats pass")
    cases: Counts = Field(description="cases (subject x rule) by result")
    verdicts: Counts = Field(description="verdicts (run x rule) by result")
    runs: int
    subjects: int


class Case(_Model):
    """One subject (a scenario; a pipeline, a mutant... for other kinds) judged by one rule over all its runs.
    A JUnit testcase; the unit ``report compare`` compares results of."""

    id: str = Field(description="`subject::RULE`, unique in the report")
    subject: str
    source: str = Field("", description="the file the subject came from, as given on the command line")
    rule: str
    title: str = ""
    category: str = "safety"
    result: Result
    counts: Counts = Field(default_factory=Counts, description="verdicts of this case's runs by result")
    message: str = Field("", description="the failing verdicts' distinct messages, else the unknown ones', "
                                         "joined by '; '")
    failed_seeds: list[int] = Field(default_factory=list)
    reproduce: str | None = Field(None, description="a command that reproduces the first failure")


class RunVerdict(_Model):
    rule: str
    result: Result
    category: str = "safety"
    message: str = ""


class ObjectMetrics(_Model):
    """Per-object numbers from the trace (``sim.summary.RunSummary`` plus convergence and rates)."""

    object: str
    workflow: str
    state: str
    runs_started: int
    runs_completed: int
    runs_failed: int
    jobs: int
    jobs_failed: int
    pods: int
    pod_retries: int = Field(description="pods beyond the first of each Job (Job back-off retries)")
    container_restarts: int = Field(description="in-place container restarts (restartPolicy OnFailure)")
    runs_per_day: float = Field(description="runs started per day of the object's life (a life shorter than a "
                                            "day counts as one day)")
    runs_by_day: list[int] = Field(description="runs started in simulated day 0, 1, 2...")
    first_converged_s: float | None = Field(description="seconds from creation to the first converged instant")
    time_to_converge_s: float | None = Field(description="seconds from the last fault (or creation, if later) "
                                                         "to the first converged instant after it")


class JobBar(_Model):
    object: str
    action: str
    pipeline: str
    pipeline_index: int
    start: float
    end: float
    state: JobState


class PodBar(_Model):
    object: str
    job: str
    attempt: int
    start: float
    end: float
    failed: bool


class Mark(_Model):
    t: float
    kind: MarkKind
    object: str | None = None
    label: str = ""


class Timeline(_Model):
    """What the HTML timeline plot draws. Kept for one representative run per subject (its first failing run,
    else its first run)."""

    end_s: float
    objects: list[str]
    jobs: list[JobBar] = Field(default_factory=list)
    pods: list[PodBar] = Field(default_factory=list)
    marks: list[Mark] = Field(default_factory=list)
    truncated: int = Field(0, description="bars and marks left out (limits per run)")


class Run(_Model):
    """One run: a scenario with one seed (and an engine, and parameters for sweeps)."""

    id: str = Field(description="`subject#seed`, plus `@engine` when not the reference and `?k=v` for params")
    subject: str
    source: str = ""
    seed: int | None = None
    profile: str | None = None
    engine: str = "reference"
    params: dict[str, Any] = Field(default_factory=dict)
    result: Result
    verdicts: list[RunVerdict] = Field(default_factory=list)
    metrics: dict[str, MetricValue] = Field(default_factory=dict, description="run totals; names in docs/reports.md")
    objects: list[ObjectMetrics] = Field(default_factory=list)
    timeline: Timeline | None = None


class Finding(_Model):
    """A failure with what explains it: the violating event, the events around it, how to reproduce it."""

    id: str = Field(description="`run id::RULE`")
    subject: str
    source: str = ""
    run: str = Field(description="the run's id")
    seed: int | None = None
    rule: str
    title: str = ""
    category: str = "safety"
    severity: Literal["error", "warning"] = "error"
    message: str
    event: dict[str, Any] | None = None
    context: list[dict[str, Any]] = Field(default_factory=list)
    reproduce: str | None = None


class Section(_Model):
    """A titled table any kind may add (mutation scores, sweep grids...); every renderer shows it as is."""

    id: str
    title: str
    text: str = ""
    columns: list[str] = Field(default_factory=list)
    rows: list[list[Any]] = Field(default_factory=list)


class Generated(_Model):
    """When and how long: the only non-deterministic part; ``compare`` and baselines ignore it."""

    at: str = Field(description="ISO 8601 UTC time the report was written (SOURCE_DATE_EPOCH if set)")
    wall_s: float | None = Field(None, description="wall-clock seconds the command took")


class Report(_Model):
    format: Literal["kratix-sim-report/v1"] = "kratix-sim-report/v1"
    kind: ReportKind
    title: str
    tool: Tool
    invocation: Invocation
    profiles: list[str] = Field(default_factory=list)
    baseline: bool = Field(False, description="true when stripped for a baseline (`report baseline save`)")
    summary: Summary
    cases: list[Case] = Field(default_factory=list)
    runs: list[Run] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    sections: list[Section] = Field(default_factory=list)
    generated: Generated | None = None

    @model_validator(mode="before")
    @classmethod
    def _printable_keys(cls, data: Any) -> Any:
        """No key may hold a line break or control character: an error naming it must stay one line."""
        pending = [data]
        while pending:
            item = pending.pop()
            if isinstance(item, dict):
                for key, value in item.items():
                    if isinstance(key, str) and not key.isprintable():
                        raise ValueError(f"a key holds a control character or line break: {key[:40]!r}")
                    pending.append(value)
            elif isinstance(item, list):
                pending.extend(item)
        return data

    @model_validator(mode="after")
    def _unique_ids(self) -> Report:
        """Cases and runs are found by id (compare, baselines, the HTML's anchors): each id once."""
        for name, ids in (("case", [c.id for c in self.cases]), ("run", [r.id for r in self.runs])):
            twice = sorted(i for i, n in Counter(ids).items() if n > 1)
            if twice:
                raise ValueError(f"{name} id {twice[0]!r} appears more than once")
        results = {case.result for case in self.cases}
        worst = next((r for r in ("fail", "unknown", "pass") if r in results), "pass")
        if self.cases and self.summary.result != worst:  # a headline that contradicts the rows below it
            raise ValueError(f"summary.result is {self.summary.result!r} but the worst case result is {worst!r}")
        return self

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return data

    def dumps(self) -> str:
        """JSON with one line per top-level field and one line per case, run and finding: compact, and a
        baseline in version control diffs line by line."""
        lines = ["{"]
        items = list(self.to_json().items())
        for i, (key, value) in enumerate(items):
            comma = "," if i < len(items) - 1 else ""
            if isinstance(value, list) and value:
                lines.append(f" {json.dumps(key)}: [")
                lines.extend(f"  {_compact(item)}{',' if j < len(value) - 1 else ''}" for j, item in enumerate(value))
                lines.append(f" ]{comma}")
            else:
                lines.append(f" {json.dumps(key)}: {_compact(value)}{comma}")
        return "\n".join([*lines, "}"]) + "\n"

    def content(self) -> dict[str, Any]:
        """The deterministic part: everything but ``generated``."""
        data = self.to_json()
        data.pop("generated", None)
        return data

    def runs_of(self, subject: str) -> list[Run]:
        return [run for run in self.runs if run.subject == subject]

    def subjects(self) -> list[str]:
        """Subjects in the order they ran (a subject with cases but no run comes after)."""
        return list(dict.fromkeys([*(run.subject for run in self.runs), *(case.subject for case in self.cases)]))


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``kratix-sim-report/v1`` (the committed file is this, kept equal by a test)."""
    schema = Report.model_json_schema(by_alias=True, mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "kratix-sim report (kratix-sim-report/v1)", **{k: v for k, v in schema.items() if k != "title"}}
