"""The Experiment model (``kind: Experiment``, ``apiVersion: kratix-sim/v1alpha1``; docs/experiments.md).

An experiment names a base scenario (a file, or inline), the scenario keys to vary (``values`` or a
``range`` with a number of samples), how to combine them (``grid`` or ``zip``), the replications (seeds)
and the metrics to report. Frozen and ``extra="forbid"`` like the Scenario model.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.metrics import METRICS, check_metric_name
from sim.scenario import SCENARIO_API_VERSION, Seconds
from sim.yamlio import parse_path

DEFAULT_METRICS: tuple[str, ...] = (
    "runs_per_object_day", "jobs_per_object_day", "pods", "jobs_failed", "stuck_deletes", "convergence_p50_s",
    "convergence_p95_s", "convergence_max_s", "queue_latency_mean_s", "state_store_writes", "reconciled_fraction",
)
assert all(name in METRICS for name in DEFAULT_METRICS)

PathToken = str | int
RESERVED_COLUMNS = frozenset({"point", "seed"})


def _metric_name(name: str) -> str:
    check_metric_name(name)
    return name


MetricName = Annotated[str, AfterValidator(_metric_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    """``samples`` values from ``from`` to ``to`` (both included), evenly spaced on a linear or log scale.
    Integer bounds give integers (rounded, duplicates dropped); duration strings give seconds."""

    from_: int | float | str = Field(alias="from")
    to: int | float | str
    samples: int = Field(ge=1)
    scale: Literal["linear", "log"] = "linear"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Parameter(_Strict):
    """One scenario key to vary (or several set to the same value: ``path`` may be a list)."""

    path: str | list[str] = Field(min_length=1)
    name: str | None = Field(default=None, min_length=1)
    values: list[Any] | None = Field(default=None, min_length=1)
    range: Range | None = None

    @field_validator("path")
    @classmethod
    def _valid_path(cls, value: str | list[str]) -> str | list[str]:
        for text in [value] if isinstance(value, str) else value:
            tokens = parse_path(text)
            if tokens[0] in ("apiVersion", "kind"):
                raise ValueError(f"{tokens[0]} cannot vary")
            if tokens[:2] == ("spec", "seed"):
                raise ValueError("spec.seed cannot vary: the seeds come from replications and seed")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Parameter:
        if (self.values is None) == (self.range is None):
            raise ValueError("give exactly one of values, range")
        return self

    @property
    def paths(self) -> list[tuple[PathToken, ...]]:
        return [parse_path(text) for text in ([self.path] if isinstance(self.path, str) else self.path)]

    @property
    def column(self) -> str:
        """The name of its column in results.csv: ``name``, else the (first) path's last key."""
        if self.name is not None:
            return self.name
        tokens = self.paths[0]
        last = tokens[-1]
        if isinstance(last, int):
            keys = [t for t in tokens if isinstance(t, str)]
            return f"{keys[-1]}[{last}]"
        return last

    @property
    def label(self) -> str:
        return self.path if isinstance(self.path, str) else ", ".join(self.path)


class ExperimentSpec(_Strict):
    scenario: str | dict[str, Any]
    duration: Seconds | None = None
    parameters: list[Parameter] = Field(default_factory=list)
    design: Literal["grid", "zip"] = "grid"
    replications: int = Field(default=10, ge=1)
    seed: int = 1
    metrics: list[MetricName] = Field(default_factory=lambda: list(DEFAULT_METRICS), min_length=1)

    @field_validator("metrics")
    @classmethod
    def _distinct_metrics(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a metric is listed twice")
        return value


class Metadata(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""


class Experiment(_Strict):
    apiVersion: Literal["kratix-sim/v1alpha1"] = SCENARIO_API_VERSION  # type: ignore[assignment]
    kind: Literal["Experiment"] = "Experiment"
    metadata: Metadata
    spec: ExperimentSpec

    @property
    def name(self) -> str:
        return self.metadata.name
