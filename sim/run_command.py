"""``kratix-sim run SCENARIO``: simulate a scenario file and show what happened.

A crash inside the engine is a HarnessError (exit 3) naming the scenario, the seed and the command that
reproduces it; the trace file is then left as it was (written atomically, like on an interrupt)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from sim.durations import parse_option_duration
from sim.errors import EXIT_OK, InputError, harness_errors
from sim.progress import progress_for
from sim.scenario_loader import load_scenario
from sim.simulation import Simulation
from sim.summary import RunSummary
from sim.trace import JsonlSink
from sim.yamlio import Limits, atomic_writer, refuse_overwriting_inputs


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from sim.cli import add_limit_options, limits_from

    parser = sub.add_parser("run", help="simulate a scenario and summarise what happened",
                            description="Simulate a scenario file and print a summary per object, a timeline "
                                        "and metrics.")
    parser.add_argument("scenario", type=Path, help="a scenario file (kind: Scenario)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--duration", help="override the simulated horizon: seconds or a duration (e.g. 3600, 30h, 2d)")
    parser.add_argument("--trace", type=Path, help="write the JSONL trace to this file")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    add_limit_options(parser)

    def handler(args: argparse.Namespace) -> int:
        return run_scenario(args, limits_from(args))

    parser.set_defaults(handler=handler)


def run_scenario(args: argparse.Namespace, limits: Limits) -> int:
    refuse_overwriting_inputs([args.trace], [args.scenario])
    scenario, promise = load_scenario(args.scenario, limits)
    from conformance.check_command import check_expected_rules

    check_expected_rules(args.scenario, scenario, limits)  # a typo in expect.rules is refused as check does
    duration = None
    if args.duration is not None:
        try:
            duration = parse_option_duration(args.duration)
        except ValueError as exc:
            raise InputError(f"--duration: {exc}") from exc
    seed = scenario.spec.seed if args.seed is None else args.seed
    reproduce = f"kratix-sim run {shlex.quote(str(args.scenario))} --seed {seed}"
    if args.duration is not None:
        reproduce += f" --duration {shlex.quote(args.duration)}"
    with harness_errors(f"scenario {scenario.name} seed {seed}", reproduce):
        simulation = Simulation(scenario, seed=seed, promise=promise, sinks=[])
        summary = RunSummary()
        simulation.recorder.sinks.append(summary)
        horizon = scenario.spec.duration if duration is None else duration
        with atomic_writer(args.trace) as handle, progress_for(horizon, f"simulating {scenario.name}") as progress:
            sink = JsonlSink(handle, simulation.header) if handle is not None else None
            if sink is not None:
                simulation.recorder.sinks.append(sink)
            simulation.run(horizon, progress=progress)
            if sink is not None:
                sink.flush()
    real = simulation.real_executor.summary() if simulation.real_executor is not None else None
    if args.format == "json":
        document = summary.to_json(simulation.header)
        if real is not None:
            document["executor"] = real
        print(json.dumps(document, indent=2))
    else:
        print(summary.render_text(simulation.header, horizon))
        if real is not None:  # wall time is never in the trace: simulated time follows the scenario's behaviour
            print(f"\nreal executor {real['executor']}: {real['container_runs']} container runs "
                  f"({real['failed_runs']} failed, {real['timed_out']} timed out), {real['wall_s']:.2f} s wall time")
    sys.stdout.flush()
    return EXIT_OK
