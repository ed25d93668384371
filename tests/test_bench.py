"""``kratix-sim bench`` (issue 9): ``--quick`` works and reports every case in the documented JSON shape.
The goals themselves are not tested here (they are marked pass/short by ``bench``; docs/performance.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim import native
from sim.bench import (
    CASES,
    GOALS,
    BenchResult,
    fleet_scenario,
    format_text,
    run_bench,
    run_fleet,
    simpy_floor,
    trace_write,
)
from sim.cli import main
from sim.simulation import Simulation


def test_bench_quick_json_has_every_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--format", "json", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(out.read_text(encoding="utf-8"))
    assert printed["cases"].keys() == written["cases"].keys() == set(CASES)
    assert printed["machine"]["quick"] is True
    assert printed["machine"]["cpus"] >= 1
    assert printed["machine"]["core"] == str(native.STATUS)  # which core ran: compiled or interpreted, and why
    for name, case in printed["cases"].items():
        assert isinstance(case["value"], int | float) and case["value"] > 0, name
        assert isinstance(case["unit"], str) and case["unit"], name
        for goal in case.get("goals", []):
            assert isinstance(goal["met"], bool) and goal["goal"], name
        assert ("goals" in case) == (name in GOALS), name
    engine = printed["cases"]["engine_rate"]
    assert engine["ratio_to_simpy_floor"] == pytest.approx(engine["value"] / printed["cases"]["simpy_floor"]["value"])
    for name in ("fleet_1k", "fleet_10k"):
        fleet = printed["cases"][name]
        assert fleet["events"] > 0 and fleet["peak_rss_bytes"] > 0 and fleet["sim_s_per_wall_s"] > 0
    assert printed["cases"]["fleet_10k"]["resources"] > printed["cases"]["fleet_1k"]["resources"]


def test_bench_text_marks_goals() -> None:
    result = run_bench(quick=True, only=("simpy_floor", "engine_rate"))
    text = format_text(result)
    assert "simpy_floor" in text and "engine_rate" in text
    assert ("pass" in text) or ("short" in text)
    assert f"core: {native.STATUS}" in text.splitlines()[1]


def test_fleet_scenario_shape() -> None:
    """1 Promise, 2 configure Pipelines x 2 containers and a delete Pipeline; 10h interval; restarts every 24h."""
    scenario = fleet_scenario(3, days=1)
    simulation = Simulation(scenario)
    configure = simulation.pipelines("resource", "configure")
    assert [len(p.spec.containers) for p in configure] == [2, 2]
    assert len(simulation.pipelines("resource", "delete")) == 1
    assert scenario.spec.kratix.reconciliationInterval == 36_000
    assert scenario.spec.behaviour.default.failureProbability == 0.01
    assert [(f.kind, f.every) for f in scenario.spec.faults] == [("controller-restart", 86_400)]
    assert scenario.spec.resources[0].count == 3


def test_run_fleet_streams_metrics_and_writes_trace(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    result = run_fleet(2, 0.5, trace)
    lines = trace.read_text(encoding="utf-8").splitlines()
    assert result["events"] == len(lines) - 1  # the header line
    assert result["jobs"] > 0 and result["wall_s"] > 0


def test_short_cases_take_the_best_of_their_passes() -> None:
    """simpy_floor and trace_write report the fastest pass (as timeit does) and list every pass."""
    floor = simpy_floor(20_000, passes=3)
    for case in (floor, trace_write(2, 0.2, passes=3)):
        assert len(case["passes_s"]) == 3
        assert case["wall_s"] == pytest.approx(min(case["passes_s"]), abs=6e-4)
        assert case["value"] == pytest.approx(case["events"] / case["wall_s"])
    machine = {"python": "3.11", "simpy": "4.1", "cpus": 2, "platform": "linux"}
    text = format_text(BenchResult(cases={"simpy_floor": floor}, machine=machine))
    assert "best of 3 passes" in text


@pytest.mark.parametrize(("before", "during"), [((700, 10, 10), (50_000, 10, 10)), ((0, 10, 10), (0, 10, 10)),
                                                ((90_000, 5, 5), (90_000, 5, 5))])
def test_a_run_collects_cycles_rarely_and_restores_the_threshold(before: tuple[int, int, int],
                                                                 during: tuple[int, int, int]) -> None:
    """Issue 9: the cycle collector's threshold is raised during a run only (a caller's 0 or higher one is kept)."""
    import gc

    from sim.simulation import rare_collections

    saved = gc.get_threshold()
    try:
        gc.set_threshold(*before)
        with rare_collections():
            assert gc.get_threshold() == during
        assert gc.get_threshold() == before
        with pytest.raises(RuntimeError), rare_collections():
            raise RuntimeError("a failed run")
        assert gc.get_threshold() == before
    finally:
        gc.set_threshold(*saved)
