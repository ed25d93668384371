"""Performance cases for ``kratix-sim bench`` (issue 9) and ``benchmarks/``.

Every case is measured in one process run of ``bench`` so that ratios between cases hold on a noisy machine;
the short cases (``simpy_floor``, ``engine_rate``, ``trace_write``) take the best of 3 passes (1 with
``--quick``), as ``timeit`` does, so that a pass slowed by other load does not set the figure:

- ``simpy_floor``: bare simpy timeouts per wall second (the reference);
- ``engine_rate``: the engine's trace events per wall second on a fleet scenario, with its ratio to the floor;
- ``fleet_1k`` / ``fleet_10k``: a fleet of N resources for 30 simulated days, metrics streamed as a sweep
  runs them (no trace kept); wall seconds, events, simulated seconds per wall second, peak RSS (each run in a
  fresh subprocess, so the RSS is the case's own);
- ``trace_write``: trace events per wall second written as JSONL to a file;
- ``scaling``: wall(10k) / wall(1k);
- ``sweep_speedup``: an experiment's wall time with 1 worker / with 2 workers.

The fleet: 1 Promise whose resources have 2 configure Pipelines of 2 containers each and a delete Pipeline,
a 10h reconciliation interval, a 1% failure probability per container execution and a controller restart
every 24h. ``--quick`` runs every case at a smaller size.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import simpy

from sim import __version__, native
from sim.scenario import Scenario

DAY_S = 86_400
REPO = Path(__file__).resolve().parent.parent
SWEEP_EXPERIMENT = REPO / "scenarios" / "experiments" / "interval-load-and-drift.yaml"  # 30 runs, about a minute
SWEEP_EXPERIMENT_QUICK = REPO / "scenarios" / "experiments" / "smoke.yaml"  # 12 short runs


def fleet_promise() -> dict[str, Any]:
    """The bench Promise: resource configure = 2 Pipelines x 2 containers; resource delete = 1 Pipeline."""

    def pipeline(name: str, containers: list[str]) -> dict[str, Any]:
        return {"apiVersion": "platform.kratix.io/v1alpha1", "kind": "Pipeline", "metadata": {"name": name},
                "spec": {"containers": [{"name": c, "image": f"example.com/bench/{c}:v1"} for c in containers]}}

    return {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Promise",
        "metadata": {"name": "bench-service"},
        "spec": {
            "api": {
                "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "benchservices.example.kratix.io"},
                "spec": {"group": "example.kratix.io",
                         "names": {"kind": "BenchService", "plural": "benchservices", "singular": "benchservice"},
                         "scope": "Namespaced",
                         "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                                       "schema": {"openAPIV3Schema": {"type": "object"}}}]},
            },
            "workflows": {"resource": {
                "configure": [pipeline("render", ["render-manifests", "lint-manifests"]),
                              pipeline("publish", ["register", "notify"])],
                "delete": [pipeline("teardown", ["deregister"])],
            }},
        },
    }


def fleet_scenario(resources: int, days: float = 30) -> Scenario:
    """N resources, ``days`` simulated days, 10h interval, 1% container failures, a restart every 24h."""
    return Scenario.model_validate({
        "metadata": {"name": f"bench-fleet-{resources}"},
        "spec": {
            "seed": 1,
            "duration": days * DAY_S,
            "kratix": {"reconciliationInterval": "10h"},
            "promise": fleet_promise(),
            "resources": [{"name": "svc", "count": resources, "spec": {"team": "platform"}}],
            "behaviour": {"default": {"duration": "20s", "failureProbability": 0.01}},
            "faults": [{"every": "24h", "kind": "controller-restart", "downtime": "30s"}],
        },
    })


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


# -- the cases, each a plain function ---------------------------------------------------------------------
def simpy_floor(events: int = 1_000_000, passes: int = 1) -> dict[str, Any]:
    """Bare simpy: one process yielding ``events`` timeouts; simpy events per wall second (best of ``passes``)."""
    walls = []
    for _ in range(passes):
        env = simpy.Environment()

        def ticker(env: simpy.Environment = env) -> Any:
            timeout = env.timeout
            for _ in range(events):
                yield timeout(1)

        env.process(ticker())
        started = time.perf_counter()
        env.run()
        walls.append(time.perf_counter() - started)
    wall = min(walls)
    return {"value": events / wall, "unit": "events/s", "events": events, "wall_s": wall,
            "passes_s": [round(w, 3) for w in walls]}


def run_fleet(resources: int, days: float, trace_path: Path | None = None) -> dict[str, Any]:
    """One fleet run in this process: metrics streamed (and the trace written to ``trace_path`` if given)."""
    from sim.metrics import StreamingMetrics
    from sim.simulation import Simulation
    from sim.trace import JsonlSink

    scenario = fleet_scenario(resources, days)
    metrics = StreamingMetrics()
    sinks: list[Any] = [metrics]
    handle = None
    simulation_started = time.perf_counter()
    simulation = Simulation(scenario, sinks=[])
    trace_sink = None
    if trace_path is not None:
        handle = trace_path.open("w", encoding="utf-8")
        trace_sink = JsonlSink(handle, simulation.header)
        sinks.append(trace_sink)
    simulation.recorder.sinks.extend(sinks)
    started = time.perf_counter()
    try:
        simulation.run()
        if trace_sink is not None:
            trace_sink.flush()
    finally:
        if handle is not None:
            handle.close()
    wall = time.perf_counter() - started
    values = metrics.finish(scenario.spec.duration)
    events = simulation.recorder.count  # the trace events the run made (no counting sink in the measurement)
    return {
        "wall_s": wall,
        "setup_s": started - simulation_started,
        "events": events,
        "events_per_s": events / wall,
        "sim_s_per_wall_s": scenario.spec.duration / wall,
        "peak_rss_bytes": peak_rss_bytes(),
        "resources": resources,
        "days": days,
        "jobs": values["jobs"],
        "jobs_failed": values["jobs_failed"],
        "trace_bytes": trace_path.stat().st_size if trace_path is not None else None,
    }


def fleet_in_subprocess(resources: int, days: float) -> dict[str, Any]:
    """``run_fleet`` in a fresh Python process, so its peak RSS is this case's alone."""
    code = ("import json, sys; from sim.bench import run_fleet; "
            "print(json.dumps(run_fleet(int(sys.argv[1]), float(sys.argv[2]))))")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", code, str(resources), str(days)],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"fleet run ({resources} resources) failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def trace_write(resources: int, days: float, passes: int = 1) -> dict[str, Any]:
    """Simulate a fleet keeping its events, then time writing them as JSONL to a file (``JsonlSink``, the way
    ``run --trace`` streams them): trace events written per wall second (best of ``passes``)."""
    from sim.simulation import Simulation
    from sim.trace import JsonlSink

    simulation = Simulation(fleet_scenario(resources, days))
    events = simulation.run().events
    walls = []
    with tempfile.TemporaryDirectory(prefix="kratix-bench-") as tmp:
        path = Path(tmp) / "trace.jsonl"
        for _ in range(passes):
            started = time.perf_counter()
            with path.open("w", encoding="utf-8") as handle, JsonlSink(handle, simulation.header) as sink:
                for event in events:
                    sink(event)
            walls.append(time.perf_counter() - started)
        size = path.stat().st_size
    wall = min(walls)
    return {"value": len(events) / wall, "unit": "events/s", "events": len(events), "wall_s": wall,
            "passes_s": [round(w, 3) for w in walls], "trace_bytes": size, "resources": resources, "days": days}


def sweep_wall(workers: int, experiment: Path = SWEEP_EXPERIMENT) -> float:
    """Wall seconds of ``kratix-sim sweep EXPERIMENT --workers N`` (the runner, without summary and plots)."""
    from sim.experiments.loader import load_experiment
    from sim.experiments.runner import make_backend, run_sweep

    loaded = load_experiment(experiment)
    with tempfile.TemporaryDirectory(prefix="kratix-bench-sweep-") as tmp:
        started = time.perf_counter()
        run_sweep(loaded, Path(tmp), make_backend("local", workers, None))
        return time.perf_counter() - started


# -- goals and the whole bench ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Goal:
    """A goal of issue 9: ``value`` (or the named field) compared with ``limit``."""

    limit: float
    at_least: bool
    text: str
    field: str = "value"

    def met(self, case: dict[str, Any]) -> bool:
        value = case.get(self.field)
        if not isinstance(value, int | float):
            return False
        return value >= self.limit if self.at_least else value <= self.limit


GOALS: dict[str, list[Goal]] = {
    "engine_rate": [Goal(0.30, True, ">= 0.30 x simpy_floor", "ratio_to_simpy_floor")],
    "fleet_1k": [Goal(15, False, "<= 15 s wall")],
    "fleet_10k": [Goal(160, False, "<= 160 s wall"), Goal(2**30, False, "<= 1 GiB peak RSS", "peak_rss_bytes")],
    "scaling": [Goal(11, False, "<= 11")],
    "trace_write": [Goal(250_000, True, ">= 250,000 events/s")],
    "sweep_speedup": [Goal(1.7, True, ">= 1.7 with 2 workers")],
}


@dataclass(frozen=True)
class Sizes:
    floor_events: int
    engine_resources: int
    engine_days: float
    small: int  # "1k"
    large: int  # "10k"
    days: float
    trace_resources: int
    trace_days: float
    passes: int  # simpy_floor, engine_rate and trace_write: best of this many passes


FULL = Sizes(2_000_000, 200, 30, 1_000, 10_000, 30, 100, 10, 3)
QUICK = Sizes(200_000, 20, 5, 20, 200, 5, 20, 5, 1)

CASES = ("simpy_floor", "engine_rate", "fleet_1k", "fleet_10k", "trace_write", "scaling", "sweep_speedup")


@dataclass
class BenchResult:
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"cases": self.cases, "machine": self.machine}


def machine_info(quick: bool) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "simpy": getattr(simpy, "__version__", "?"),
        "kratix_sim": __version__,
        "core": str(native.STATUS),  # compiled (mypyc) or interpreted, and why (sim/native.py)
        "quick": quick,
    }


def run_bench(quick: bool = False, log: Callable[[str], None] | None = None,
              only: tuple[str, ...] = CASES) -> BenchResult:
    """Every case (or those in ``only``, with the ones they derive from), in one process run."""
    sizes = QUICK if quick else FULL
    result = BenchResult(machine=machine_info(quick))
    say = log or (lambda _text: None)
    cases = result.cases
    wanted = set(only)
    if "engine_rate" in wanted:
        wanted.add("simpy_floor")
    if "scaling" in wanted:
        wanted |= {"fleet_1k", "fleet_10k"}

    if "simpy_floor" in wanted:
        say("simpy_floor ...")
        cases["simpy_floor"] = simpy_floor(sizes.floor_events, sizes.passes)
    if "engine_rate" in wanted:
        say("engine_rate ...")
        runs = [fleet_in_subprocess(sizes.engine_resources, sizes.engine_days) for _ in range(sizes.passes)]
        run = min(runs, key=lambda r: float(r["wall_s"]))
        floor = cases["simpy_floor"]["value"]
        cases["engine_rate"] = {"value": run["events_per_s"], "unit": "events/s",
                                "ratio_to_simpy_floor": run["events_per_s"] / floor,
                                "events": run["events"], "wall_s": run["wall_s"],
                                "passes_s": [round(r["wall_s"], 3) for r in runs],
                                "resources": sizes.engine_resources, "days": sizes.engine_days}
    for name, size in (("fleet_1k", sizes.small), ("fleet_10k", sizes.large)):
        if name in wanted:
            say(f"{name} ({size} resources, {sizes.days:g} days) ...")
            run = fleet_in_subprocess(size, sizes.days)
            cases[name] = {"value": run["wall_s"], "unit": "s", **run}
    if "trace_write" in wanted:
        say("trace_write ...")
        cases["trace_write"] = trace_write(sizes.trace_resources, sizes.trace_days, sizes.passes)
    if "scaling" in wanted:
        small, large = cases["fleet_1k"], cases["fleet_10k"]
        cases["scaling"] = {"value": large["wall_s"] / small["wall_s"], "unit": "x",
                            "resources_ratio": large["resources"] / small["resources"]}
    if "sweep_speedup" in wanted:
        say("sweep_speedup ...")
        experiment = SWEEP_EXPERIMENT_QUICK if quick else SWEEP_EXPERIMENT
        one = sweep_wall(1, experiment)
        two = sweep_wall(2, experiment)
        cases["sweep_speedup"] = {"value": one / two, "unit": "x", "wall_1_worker_s": one, "wall_2_workers_s": two,
                                  "experiment": experiment.relative_to(REPO).as_posix()}
    for name, case in cases.items():
        goals = GOALS.get(name, [])
        if goals:
            case["goals"] = [{"goal": g.text, "met": g.met(case)} for g in goals]
    return result


def _show(case: dict[str, Any]) -> str:
    value, unit = case["value"], case["unit"]
    if unit == "events/s":
        return f"{value:,.0f} events/s"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:.2f} x"


def _detail(name: str, case: dict[str, Any]) -> str:
    passes = case.get("passes_s") or []
    spread = f"; best of {len(passes)} passes ({min(passes):.2f}-{max(passes):.2f} s)" if len(passes) > 1 else ""
    return _what(name, case) + spread


def _what(name: str, case: dict[str, Any]) -> str:
    if name == "engine_rate":
        return (f"{case['ratio_to_simpy_floor']:.2f} x simpy_floor; {case['events']:,} events, "
                f"{case['resources']} resources, {case['days']:g} days")
    if name.startswith("fleet_"):
        return (f"{case['events']:,} events, {case['sim_s_per_wall_s']:,.0f} sim-s/wall-s, "
                f"peak RSS {case['peak_rss_bytes'] / 2**20:,.0f} MiB, {case['resources']:,} resources, "
                f"{case['days']:g} days")
    if name == "trace_write":
        return (f"{case['events']:,} events, {case['trace_bytes'] / 2**20:,.1f} MiB JSONL "
                f"({case['resources']} resources, {case['days']:g} days)")
    if name == "sweep_speedup":
        return (f"{case['experiment']}: 1 worker {case['wall_1_worker_s']:.1f} s, "
                f"2 workers {case['wall_2_workers_s']:.1f} s")
    if name == "scaling":
        return f"for {case['resources_ratio']:g} x the resources"
    if name == "simpy_floor":
        return f"{case['events']:,} timeouts"
    return ""


def format_text(result: BenchResult) -> str:
    machine = result.machine
    rows = [("case", "value", "goal", "detail")]
    for name, case in result.cases.items():
        marks = "; ".join(f"{g['goal']}: {'pass' if g['met'] else 'short'}" for g in case.get("goals", []))
        rows.append((name, _show(case), marks or "(reference)" if name == "simpy_floor" else marks,
                     _detail(name, case)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"kratix-sim bench{' --quick (smaller sizes: goals do not apply)' if machine.get('quick') else ''}: "
             f"Python {machine['python']}, simpy {machine['simpy']}, {machine['cpus']} CPUs, {machine['platform']}",
             f"core: {machine.get('core', 'interpreted')}"]
    for row in rows:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"
