"""Plots for the HTML report, drawn with matplotlib's object API (no pyplot, no global state, Agg only).

``timeline_png``: one row per object, its Jobs as thick bars coloured by outcome and its pods as thin bars
under them; failures are crosses, faults dashed vertical lines (and a triangle on their target's row),
controller stops dotted lines. ``activity_png``: runs started per simulated day and retries per object.
PNG bytes carry no timestamp or version, so the same report gives the same images.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from conformance.report.model import Run, Timeline
from sim.durations import format_duration
from sim.experiments.report import quiet_missing_glyphs

JOB_COLOURS = {"complete": "#2f9e44", "failed": "#e03131", "suspended": "#f08c00", "deleted": "#868e96",
               "running": "#1c7ed6"}
POD_COLOUR, POD_FAILED_COLOUR = "#74c0fc", "#ff8787"
FAULT_COLOUR, RESTART_COLOUR, FAILURE_COLOUR = "#9c36b5", "#343a40", "#c92a2a"
MAX_ROWS = 30
DPI = 100
WIDTH_IN = 11.0
LABEL_CHAR_IN = 0.066  # the width of a character of an 8 pt tick label


def time_unit(span_s: float) -> tuple[str, float]:
    if span_s >= 2 * 86400:
        return "days", 86400.0
    if span_s >= 7200:
        return "hours", 3600.0
    if span_s >= 600:
        return "minutes", 60.0
    return "seconds", 1.0


@dataclass(frozen=True)
class Piece:
    t0: float
    t1: float
    x0: float
    x1: float
    gap: bool  # a collapsed idle stretch

    def x(self, t: float) -> float:
        if self.t1 <= self.t0:
            return self.x0
        return self.x0 + (t - self.t0) / (self.t1 - self.t0) * (self.x1 - self.x0)


class TimeAxis:
    """Simulated seconds -> x. Stretches with activity keep their scale; idle stretches much longer than the
    activity around them collapse to a fixed width (drawn hatched, labelled with how long they were), so a
    1-minute Job after 10 idle hours is still visible."""

    def __init__(self, end_s: float, busy: list[tuple[float, float]]) -> None:
        end_s = max(end_s, 1.0)
        pad = max(1.0, end_s * 0.002)
        spans = sorted((max(0.0, a - pad), min(end_s, b + pad)) for a, b in [(0.0, 0.0), *busy, (end_s, end_s)])
        merged: list[list[float]] = []
        for a, b in spans:
            if merged and a - merged[-1][1] <= end_s * 0.01:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        active = sum(b - a for a, b in merged)
        self.gap_width = max(active * 0.06, end_s * 0.002)
        pieces: list[Piece] = []
        x = 0.0
        t = 0.0
        for a, b in merged:
            if a > t:  # the idle stretch before this busy one
                width = self.gap_width if a - t > 3 * self.gap_width else a - t
                pieces.append(Piece(t, a, x, x + width, width != a - t))
                x += width
            pieces.append(Piece(a, b, x, x + (b - a), False))
            x, t = x + (b - a), b
        self.pieces = pieces
        self.end_x = x
        self.compressed = any(p.gap for p in pieces)

    def x(self, t: float) -> float:
        for piece in self.pieces:
            if t <= piece.t1:
                return piece.x(max(t, piece.t0))
        return self.end_x

    def ticks(self, count: int = 9) -> tuple[list[float], list[str]]:
        """Round times inside the busy stretches, no two closer than 1/count of the axis."""
        positions: list[float] = []
        labels: list[str] = []
        min_dx = self.end_x / (count * 1.3)
        for piece in self.pieces:
            if piece.gap:
                continue
            share = max(1, round(count * (piece.x1 - piece.x0) / max(self.end_x, 1e-9)))
            _, scale = time_unit(piece.t1 - piece.t0)
            values = MaxNLocator(nbins=share, steps=[1, 2, 2.5, 5, 10]).tick_values(piece.t0 / scale, piece.t1 / scale)
            for value in [piece.t0 / scale, *values]:
                t = value * scale
                if not piece.t0 - 1e-9 <= t <= piece.t1 + 1e-9:
                    continue
                x = piece.x(t)
                if positions and x - positions[-1] < min_dx:
                    continue
                positions.append(x)
                labels.append(rounded_duration(t, piece.t1 - piece.t0))
        return positions, labels


def rounded_duration(t: float, span: float) -> str:
    """``t`` rounded to what a stretch of ``span`` seconds can show: 0.1 s under a minute, 1 s under
    10 minutes, 1 minute under 2 days, else 10 minutes."""
    step = 0.1 if span < 60 else 1.0 if span < 600 else 60.0 if span < 2 * 86400 else 600.0
    return format_duration(round(round(t / step) * step, 3))


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    with quiet_missing_glyphs():
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def timeline_png(timeline: Timeline, title: str) -> bytes:
    rows = timeline.objects[:MAX_ROWS]
    row_of = {key: i for i, key in enumerate(rows)}
    busy = [(j.start, j.end) for j in timeline.jobs] + [(m.t, m.t) for m in timeline.marks]
    axis = TimeAxis(timeline.end_s, busy)
    min_width = axis.end_x * 0.003  # a 1-second step is still visible
    faults = [m for m in timeline.marks if m.kind == "fault"]
    labelled = bool(faults) and len(faults) <= 20
    # Margins by hand (in inches): a layout engine would draw the figure several times.
    top = 1.35 if labelled else 0.4
    height = 0.85 + 0.42 * max(len(rows), 1) + top
    figure = Figure(figsize=(WIDTH_IN, height))
    left = (0.25 + LABEL_CHAR_IN * max((len(r) for r in rows), default=4)) / WIDTH_IN
    ax = figure.add_axes((left, 0.85 / height, 0.985 - left, 1 - (0.85 + top) / height))
    for piece in axis.pieces:
        if piece.gap:
            ax.axvspan(piece.x0, piece.x1, facecolor="#f1f3f5", edgecolor="#ced4da", hatch="//", linewidth=0)
            idle = piece.t1 - piece.t0
            ax.text((piece.x0 + piece.x1) / 2, len(rows) - 0.45, rounded_duration(idle, idle), rotation=90,
                    fontsize=7, color="#868e96", ha="center", va="bottom")

    def bars(items: list[Any], offset: float, height: float, colours: list[str], edge: str | None) -> None:
        if not items:
            return
        lefts = [axis.x(i.start) for i in items]
        widths = [max(axis.x(i.end) - x0, min_width) for i, x0 in zip(items, lefts, strict=True)]
        ax.barh([row_of[i.object] + offset for i in items], widths, left=lefts, height=height, color=colours,
                edgecolor=edge or "none", linewidth=0.3 if edge else 0)

    jobs = [j for j in timeline.jobs if j.object in row_of]  # one call per collection: Jobs can be thousands
    bars(jobs, -0.12, 0.42, [JOB_COLOURS[j.state] for j in jobs], "white")
    pods = [p for p in timeline.pods if p.object in row_of]
    bars(pods, 0.26, 0.18, [POD_FAILED_COLOUR if p.failed else POD_COLOUR for p in pods], None)
    failures = [m for m in timeline.marks if m.kind == "failure" and m.object in row_of]
    for mark in timeline.marks:
        x = axis.x(mark.t)
        if mark.kind == "restart":
            ax.axvline(x, color=RESTART_COLOUR, linestyle=":", linewidth=1)
        elif mark.kind == "fault":
            ax.axvline(x, color=FAULT_COLOUR, linestyle="--", linewidth=0.9, alpha=0.7)
            if mark.object in row_of:
                ax.plot([x], [row_of[mark.object] - 0.45], marker="v", color=FAULT_COLOUR, markersize=7)
            if len(faults) <= 20:
                ax.annotate(mark.label, (x, 1.0), xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                            color=FAULT_COLOUR, va="bottom", ha="center", xytext=(0, 2), textcoords="offset points")
    if failures:
        ax.plot([axis.x(m.t) for m in failures], [row_of[str(m.object)] - 0.12 for m in failures], linestyle="",
                marker="x", color=FAILURE_COLOUR, markersize=7, markeredgewidth=1.8)
    ax.set_yticks(range(len(rows)), labels=rows, fontsize=8)
    ax.set_ylim(len(rows) - 0.4, -0.7)
    ax.set_xlim(0, axis.end_x)
    positions, labels = axis.ticks()
    ax.set_xticks(positions, labels=labels, fontsize=8)
    ax.set_xlabel("simulated time" + (" (idle stretches collapsed, hatched)" if axis.compressed else ""))
    ax.grid(axis="x", color="#dee2e6", linewidth=0.6)
    ax.set_axisbelow(True)
    shown = "" if len(timeline.objects) <= MAX_ROWS else f" (first {MAX_ROWS} of {len(timeline.objects)} objects)"
    figure.text(0.01, 1 - 0.06 / height, title + shown, fontsize=10, va="top", ha="left")
    handles: list[Any] = [Patch(color=c, label=f"Job {s}") for s, c in JOB_COLOURS.items()]
    handles += [Patch(color=POD_COLOUR, label="pod"), Patch(color=POD_FAILED_COLOUR, label="pod failed"),
                Line2D([], [], color=FAILURE_COLOUR, marker="x", linestyle="", label="failure"),
                Line2D([], [], color=FAULT_COLOUR, linestyle="--", label="fault"),
                Line2D([], [], color=RESTART_COLOUR, linestyle=":", label="controller stop")]
    figure.legend(handles=handles, loc="lower center", ncol=10, fontsize=8, frameon=False, borderaxespad=0.1)
    return _png(figure)


def activity_png(run: Run) -> bytes:
    """Configure runs started over time (cumulative, the busiest objects; per-day totals when the run spans
    days) and retries per object."""
    height = 3.4
    figure = Figure(figsize=(WIDTH_IN, height))
    left = figure.add_axes((0.7 / WIDTH_IN, 0.6 / height, 0.5 - 0.9 / WIDTH_IN, 1 - 1.0 / height))
    names = max((len(o.object) for o in run.objects), default=4)
    right_x = 0.52 + (0.2 + LABEL_CHAR_IN * names) / WIDTH_IN
    right = figure.add_axes((right_x, 0.6 / height, 0.985 - right_x, 1 - 1.0 / height))
    end_s = max(run.timeline.end_s if run.timeline else run.metrics.get("simulated_s") or 0.0, 1.0)
    unit, scale = time_unit(end_s)
    starts: dict[str, list[float]] = {}
    if run.timeline is not None:
        for job in run.timeline.jobs:
            if job.action == "configure" and job.pipeline_index == 0:
                starts.setdefault(job.object, []).append(job.start)
    busiest = sorted(starts, key=lambda key: (-len(starts[key]), key))[:6]
    for key in busiest:
        times = sorted(starts[key])
        left.step([0.0, *(t / scale for t in times), end_s / scale], [0, *range(1, len(times) + 1), len(times)],
                  where="post", label=key, linewidth=1.4)
    days = max((len(o.runs_by_day) for o in run.objects), default=1)
    if days >= 2:
        for day in range(1, days):
            left.axvline(day * 86400 / scale, color="#ced4da", linewidth=0.8)
        totals = [sum(o.runs_by_day[d] for o in run.objects if d < len(o.runs_by_day)) for d in range(days)]
        for day, total in enumerate(totals):
            if (day + 0.5) * 86400 >= end_s:
                break
            left.text((day + 0.5) * 86400 / scale, 1.0, f"{total}/day", transform=left.get_xaxis_transform(),
                      ha="center", va="bottom", fontsize=7, color="#495057")
    rate = run.metrics.get("runs_per_object_per_day_max")
    left.set_title(f"configure runs started (busiest objects; max {rate} per object per day)", fontsize=10,
                   loc="left", pad=14 if days >= 2 else 6)
    left.set_xlabel(f"simulated time ({unit})")
    left.set_ylabel("runs (cumulative)")
    left.set_xlim(0, end_s / scale)
    left.yaxis.set_major_locator(MaxNLocator(integer=True))
    if busiest and left.get_legend_handles_labels()[1]:
        left.legend(fontsize=7, frameon=False, loc="upper left")

    ranked = sorted(run.objects, key=lambda o: (-(o.pod_retries + o.container_restarts + o.jobs_failed), o.object))
    ranked = [o for o in ranked if o.pod_retries + o.container_restarts + o.jobs_failed > 0][:10]
    right.set_title("retries and failed Jobs per object", fontsize=10, loc="left")
    if not ranked:
        right.text(0.5, 0.5, "no retries and no failed Jobs", ha="center", va="center", transform=right.transAxes)
        right.set_axis_off()
    else:
        y = list(range(len(ranked)))
        pods = [o.pod_retries for o in ranked]
        restarts = [o.container_restarts for o in ranked]
        right.barh(y, pods, height=0.55, color="#f59f00", label="pod retries (Job back-off)")
        right.barh(y, restarts, left=pods, height=0.55, color="#ffd43b", label="container restarts (in place)")
        right.barh(y, [o.jobs_failed for o in ranked], left=[a + b for a, b in zip(pods, restarts, strict=True)],
                   height=0.55, color=JOB_COLOURS["failed"], label="failed Jobs")
        right.set_yticks(y, labels=[o.object for o in ranked], fontsize=8)
        right.set_ylim(max(len(ranked), 3) - 0.5, -0.5)
        right.xaxis.set_major_locator(MaxNLocator(integer=True))
        right.set_xlabel("count")
        right.legend(fontsize=7, frameon=False, loc="lower right")
    return _png(figure)
