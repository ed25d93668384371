"""``summary.md`` (mean and 95% CI per point and metric) and plots (metric vs parameter with CI bands).

Both are computed from the rows of results.csv (strings), so a resumed sweep reports exactly like an
uninterrupted one. Neither holds a wall-clock value; the SVGs carry no date and fixed ids.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from sim.durations import format_duration, parse_duration
from sim.experiments.loader import LoadedExperiment, format_value
from sim.experiments.stats import MeanCI, mean_ci
from sim.metrics import METRICS, SAMPLED_PREFIX
from sim.yamlio import write_atomic

SUMMARY = "summary.md"  # beside it, plot-<metric>.png and .svg
LEVEL = 0.95


@dataclass(frozen=True)
class Cell:
    point: int
    values: tuple[Any, ...]
    ci: MeanCI


def _number(text: str) -> float | None:
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return None


def point_statistics(loaded: LoadedExperiment, rows: Sequence[Sequence[str]]) -> dict[str, list[Cell]]:
    """Per metric, per point: the mean and Student-t CI over the replications that have a value."""
    first_metric = 2 + len(loaded.columns)
    by_point: dict[int, list[Sequence[str]]] = {}
    for row in rows:
        by_point.setdefault(int(row[0]), []).append(row)
    stats: dict[str, list[Cell]] = {}
    for offset, metric in enumerate(loaded.metrics):
        cells = []
        for point in loaded.points:
            samples = [v for v in (_number(r[first_metric + offset]) for r in by_point.get(point.index, []))
                       if v is not None and math.isfinite(v)]
            cells.append(Cell(point.index, point.values, mean_ci(samples, LEVEL)))
        stats[metric] = cells
    return stats


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}"


def describe_metric(name: str) -> str:
    if name.startswith(SAMPLED_PREFIX):
        return f"the fraction of live objects with Reconciled=True at {name[len(SAMPLED_PREFIX):]}"
    return METRICS[name]


def render_summary(loaded: LoadedExperiment, rows: Sequence[Sequence[str]]) -> str:
    experiment = loaded.experiment
    spec = experiment.spec
    seeds = loaded.seeds
    lines = [f"# Sweep `{loaded.name}`", ""]
    if experiment.metadata.description:
        lines += [experiment.metadata.description.strip(), ""]
    first = loaded.points[0].scenario if loaded.points else None
    horizon = format_duration(first.spec.duration) if first is not None else "-"
    lines += [
        f"- base scenario: {'inline' if loaded.base == 'inline' else f'`{Path(loaded.base).name}`'}; "
        f"horizon {horizon}",
        f"- design: {spec.design}, {len(loaded.points)} points x {len(seeds)} replications "
        f"(seeds {seeds[0]}..{seeds[-1]}) = {loaded.runs} runs; {len(rows)} in results.csv",
    ]
    for column, param in zip(loaded.columns, loaded.parameters, strict=True):
        values = list(dict.fromkeys(format_value(p.values[loaded.parameters.index(param)]) for p in loaded.points))
        lines.append(f"- parameter `{column}` = `{param.label}`: {', '.join(values)}")
    lines += [f"- each cell: the mean over the replications and its {LEVEL:.0%} confidence interval "
              "(Student t); `n` counts the runs with a value", ""]
    stats = point_statistics(loaded, rows)
    for metric in loaded.metrics:
        lines += [f"## {metric}", "", describe_metric(metric), ""]
        table = [[*(format_value(v) for v in cell.values), cell.ci.n, _fmt(cell.ci.mean), _fmt(cell.ci.low),
                  _fmt(cell.ci.high), _fmt(cell.ci.sd)] for cell in stats[metric]]
        headers = [*loaded.columns, "n", "mean", "95% CI low", "95% CI high", "sd"]
        lines += [tabulate(table, headers=headers, tablefmt="github", disable_numparse=True), ""]
    return "\n".join(lines)


# -- plots --------------------------------------------------------------------------------------------
def _axis(values: Sequence[Any]) -> tuple[list[float], str, list[str] | None]:
    """x positions for parameter values: numbers, durations (seconds), or categories (then tick labels)."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values], "", None
    seconds: list[float] | None = None
    if all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in values):
        try:
            seconds = [parse_duration(v) for v in values]
        except ValueError:
            seconds = None
    if seconds is not None:
        unit, size = next(((u, s) for u, s in (("d", 86400.0), ("h", 3600.0), ("min", 60.0))
                           if min(seconds) >= s), ("s", 1.0))
        return [v / size for v in seconds], f" ({unit})", None
    labels = list(dict.fromkeys(format_value(v) for v in values))
    return [float(labels.index(format_value(v))) for v in values], "", labels


@contextmanager
def quiet_missing_glyphs() -> Iterator[None]:
    """matplotlib warns, over several lines, for every character its font lacks (a name in another script); the
    plot is right but for that glyph, so a successful command stays quiet."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        yield


def plot_file_stem(metric: str) -> str:
    return "plot-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", metric.replace("@", "_at_"))


def write_plots(loaded: LoadedExperiment, rows: Sequence[Sequence[str]], out: Path) -> list[Path]:
    """One PNG and one SVG per metric: the mean against the first varying parameter, a line per combination
    of the other parameters (``grid``), with the 95% CI as a band. No parameters, no plots."""
    if not loaded.parameters or not loaded.points:
        return []
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "kratix-sim"
    from matplotlib.figure import Figure

    varying = [i for i in range(len(loaded.parameters)) if len({format_value(p.values[i]) for p in loaded.points}) > 1]
    x_index = varying[0] if varying else 0
    others = [] if loaded.experiment.spec.design == "zip" else [i for i in varying if i != x_index]
    stats = point_statistics(loaded, rows)
    x_values, unit, labels = _axis([p.values[x_index] for p in loaded.points])
    written: list[Path] = []
    for metric in loaded.metrics:
        figure = Figure(figsize=(7, 4.5))
        figure.subplots_adjust(left=0.13, right=0.97, bottom=0.12, top=0.91)
        axes = figure.add_subplot()
        series: dict[tuple[str, ...], list[tuple[float, Cell]]] = {}
        for x, cell in zip(x_values, stats[metric], strict=True):
            key = tuple(f"{loaded.columns[i]}={format_value(cell.values[i])}" for i in others)
            series.setdefault(key, []).append((x, cell))
        for key, points in series.items():
            known = [(x, c.ci.mean, c) for x, c in sorted(points, key=lambda item: item[0]) if c.ci.mean is not None]
            if not known:
                continue
            xs = [x for x, _, _ in known]
            means = [mean for _, mean, _ in known]
            line = axes.plot(xs, means, marker="o", label=", ".join(key) or None)[0]
            band = [(x, c.ci.low, c.ci.high) for x, _, c in known if c.ci.low is not None and c.ci.high is not None]
            if band:
                axes.fill_between([b[0] for b in band], [b[1] for b in band], [b[2] for b in band],
                                  color=line.get_color(), alpha=0.2, linewidth=0)
        if labels is not None:
            axes.set_xticks(range(len(labels)), labels)
        axes.set_xlabel(f"{loaded.columns[x_index]}{unit}")
        axes.set_ylabel(metric)
        axes.set_title(f"{loaded.name}: {metric} (mean, {LEVEL:.0%} CI)")
        axes.grid(True, alpha=0.3)
        if others and axes.get_legend_handles_labels()[1]:
            axes.legend(fontsize="small")
        for suffix in (".png", ".svg"):
            path = out / (plot_file_stem(metric) + suffix)
            tmp = path.with_name(f".{path.name}.tmp")
            with quiet_missing_glyphs():
                figure.savefig(tmp, format=suffix[1:], dpi=100,
                               metadata={"Date": None} if suffix == ".svg" else None)
            tmp.replace(path)
            written.append(path)
    return written


def write_summary(loaded: LoadedExperiment, rows: Sequence[Sequence[str]], out: Path) -> Path:
    path = out / SUMMARY
    write_atomic(path, render_summary(loaded, rows) + "\n")
    return path
