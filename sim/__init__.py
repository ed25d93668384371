"""kratix-sim: a simulation and conformance test harness for Kratix workflows."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from sim import native

native.activate()  # the compiled core, when it is built and current (sim/native.py)

try:
    __version__ = version("kratix-sim")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from sim.scenario import Scenario
    from sim.trace import Trace


def run(scenario: Scenario, seed: int | None = None, **options: Any) -> Trace:
    """Simulate ``scenario`` with ``seed`` (default: the scenario's) and return its trace.

    ``sim.run`` is ``sim.simulation.run``, imported on first use so the command line starts fast."""
    from sim.simulation import run as simulate

    return simulate(scenario, seed=seed, **options)


__all__ = ["__version__", "run"]
