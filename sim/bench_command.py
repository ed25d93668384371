"""``kratix-sim bench [--quick] [--format text|json] [--out FILE] [--case NAME ...]``: the performance cases of
issue 9 (sim/bench.py), measured in one process run, with each goal marked pass or short (docs/performance.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sim.bench import CASES, format_text, run_bench
from sim.errors import EXIT_OK
from sim.yamlio import write_atomic


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "bench", help="measure the simulator's speed: simpy floor, engine rate, 1k/10k fleets, trace, sweeps",
        description="Run the performance cases (simpy_floor, engine_rate, fleet_1k, fleet_10k, trace_write, "
                    "scaling, sweep_speedup) in one process run and mark each goal pass or short. Fleet cases run "
                    "in a fresh subprocess each, so peak RSS is per case. The full bench takes minutes; --quick "
                    "runs every case at a smaller size (seconds; goals are not meaningful there).")
    parser.add_argument("--quick", action="store_true", help="every case at a smaller size")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--out", type=Path, metavar="FILE", help="also write the JSON results to FILE")
    parser.add_argument("--case", action="append", choices=CASES, metavar="NAME",
                        help=f"run only this case (repeatable; one of {', '.join(CASES)}); cases it derives "
                             "from run too")
    parser.set_defaults(handler=run_bench_command)


def run_bench_command(args: argparse.Namespace) -> int:
    interactive = args.format == "text" and sys.stderr.isatty()

    def log(text: str) -> None:
        if interactive:
            print(text, file=sys.stderr, flush=True)

    result = run_bench(quick=args.quick, log=log, only=tuple(args.case) if args.case else CASES)
    document = json.dumps(result.to_json(), indent=2) + "\n"
    if args.out is not None:
        write_atomic(args.out, document)
    sys.stdout.write(document if args.format == "json" else format_text(result))
    return EXIT_OK
