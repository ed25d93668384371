"""The ``kratix-sim bench`` cases (sim/bench.py) for pytest-benchmark, or as plain Python.

    pip install pytest-benchmark && pytest benchmarks/ --benchmark-only   # pytest-benchmark, if installed
    python benchmarks/test_bench_cases.py [--quick]                       # plain Python: the same as bench

Not collected by the default test run (``testpaths = ["tests"]``). The sizes are the quick ones unless
``KRATIX_BENCH_FULL=1``; ``kratix-sim bench`` is the reference (one process run, goals marked).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import pytest

from sim import bench

SIZES = bench.FULL if os.environ.get("KRATIX_BENCH_FULL") else bench.QUICK


def _measure(benchmark: Any, run: Callable[[], Any]) -> Any:
    """With pytest-benchmark's fixture one round each; without it, a plain call."""
    if benchmark is None:
        return run()
    return benchmark.pedantic(run, rounds=1, iterations=1)


@pytest.fixture
def benchmark_or_none(request: pytest.FixtureRequest) -> Any:
    try:
        return request.getfixturevalue("benchmark")
    except pytest.FixtureLookupError:
        return None


def test_simpy_floor(benchmark_or_none: Any) -> None:
    assert _measure(benchmark_or_none, lambda: bench.simpy_floor(SIZES.floor_events))["value"] > 0


def test_engine_rate(benchmark_or_none: Any) -> None:
    run = _measure(benchmark_or_none, lambda: bench.run_fleet(SIZES.engine_resources, SIZES.engine_days))
    assert run["events_per_s"] > 0


@pytest.mark.parametrize("name,resources", [("fleet_1k", SIZES.small), ("fleet_10k", SIZES.large)])
def test_fleet(benchmark_or_none: Any, name: str, resources: int) -> None:
    run = _measure(benchmark_or_none, lambda: bench.fleet_in_subprocess(resources, SIZES.days))
    assert run["events"] > 0, name


def test_trace_write(benchmark_or_none: Any) -> None:
    run = _measure(benchmark_or_none, lambda: bench.trace_write(SIZES.trace_resources, SIZES.trace_days))
    assert run["value"] > 0


def test_sweep_speedup(benchmark_or_none: Any) -> None:
    experiment = bench.SWEEP_EXPERIMENT if SIZES is bench.FULL else bench.SWEEP_EXPERIMENT_QUICK
    assert _measure(benchmark_or_none, lambda: bench.sweep_wall(2, experiment)) > 0


if __name__ == "__main__":
    result = bench.run_bench(quick="--quick" in sys.argv[1:], log=lambda text: print(text, file=sys.stderr))
    print(bench.format_text(result), end="")
