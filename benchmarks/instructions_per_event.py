"""CPU instructions per trace event and per simpy timeout, counted by valgrind (callgrind): load-independent.

    python benchmarks/instructions_per_event.py [RESOURCES DAYS]     # default 20 resources x 5 days

Wall-clock figures on a shared machine vary by 10-50% from run to run; instruction counts do not, so an A/B
of a change reads them (docs/performance.md). Each figure is the difference of two runs under callgrind
(the work, and the same set-up without it), so interpreter start-up and imports cancel out:

- engine: a bench fleet (``sim.bench.fleet_scenario``) with metrics streamed, per trace event;
- simpy: ``sim.bench.simpy_floor``, per timeout.

Needs ``valgrind`` on PATH; about a minute.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

ENGINE = """
import sys
from sim.bench import fleet_scenario
from sim.metrics import StreamingMetrics
from sim.simulation import Simulation
simulation = Simulation(fleet_scenario(int(sys.argv[1]), float(sys.argv[2])), sinks=[StreamingMetrics()])
if float(sys.argv[2]) > 0:
    simulation.run()
print(simulation.recorder.count)
"""

FLOOR = """
import sys
from sim.bench import simpy_floor
simpy_floor(int(sys.argv[1]))
print(sys.argv[1])
"""


def counted(code: str, *args: str) -> tuple[int, int]:
    """(instructions, the number the code printed) of one run under callgrind."""
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           sys.executable, "-c", code, *args],
                          capture_output=True, text=True, check=True, cwd=REPO)
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if collected is None:
        raise RuntimeError(f"no instruction count in valgrind's output: {done.stderr[-500:]}")
    return int(collected.group(1)), int(done.stdout.split()[-1])


def main(argv: list[str]) -> int:
    if shutil.which("valgrind") is None:
        print("instructions_per_event: valgrind is not installed", file=sys.stderr)
        return 2
    if len(argv) not in (0, 2) or not all(arg.replace(".", "", 1).isdigit() for arg in argv):
        print("usage: python benchmarks/instructions_per_event.py [RESOURCES DAYS]", file=sys.stderr)
        return 2
    resources, days = (argv[0], argv[1]) if argv else ("20", "5")
    work, events = counted(ENGINE, resources, days)
    setup, setup_events = counted(ENGINE, resources, "0")
    engine = (work - setup) / (events - setup_events)
    floor_work, timeouts = counted(FLOOR, "200000")
    floor_setup, few = counted(FLOOR, "10")
    floor = (floor_work - floor_setup) / (timeouts - few)
    print(f"engine: {engine:,.0f} instructions per trace event ({events - setup_events:,} events, "
          f"{resources} resources x {days} days)")
    print(f"simpy:  {floor:,.0f} instructions per timeout")
    print(f"ratio:  {floor / engine:.3f} (the engine_rate goal is 0.30 in events per second)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
