"""Limits on what an input may ask of the simulator (``sim.yamlio.Limits``): resources and fault events of a
scenario, the reconciliations it schedules, the runs of an experiment. Each one, exceeded, is exit 2 with one
line naming the file, the line, the limit and the option that raises it; raised, the same input loads and runs.
The defaults accept every scenario and experiment of the library."""

from __future__ import annotations

import io
import math
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml

from sim.bench import fleet_scenario
from sim.cli import main
from sim.errors import InputError
from sim.experiments.loader import load_experiment
from sim.scenario_loader import (
    check_size_limits,
    check_work_limit,
    fault_events,
    interval_s,
    load_scenario,
    settle_s,
)
from sim.simulation import resolve_promise
from sim.yamlio import DEFAULT_LIMITS, Limits, SourceMap

REPO_ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = REPO_ROOT / "scenarios"
PROMISE = SCENARIOS / "promises" / "database.yaml"


def cli(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def scenario_file(tmp_path: Path, body: str, duration: str = "1h") -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text("apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata: {name: limits}\nspec:\n"
                    f"  duration: {duration}\n  promise: {PROMISE}\n{body}", encoding="utf-8")
    return path


def assert_refused(result: tuple[int, str, str], where: str, *words: str) -> str:
    code, _, err = result
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"kratix-sim: error: {where}"), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# -- resources ---------------------------------------------------------------------------------------------
def test_resources_over_the_limit_name_the_entry_and_the_option(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, "  resources:\n    - {name: a}\n    - {name: fleet, count: 4}\n")
    line = assert_refused(cli("run", path, "--duration", "1m", "--max-resources", "4"),
                          f"{path}:9: spec.resources[1].count: ", "5 resources", "limit of 4", "--max-resources")
    assert "Traceback" not in line
    code, out, err = cli("run", path, "--duration", "1m", "--max-resources", "5")
    assert (code, err) == (0, ""), err
    assert "fleet-3" in out


def test_a_billion_resources_are_refused_before_anything_is_expanded(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, "  resources:\n    - {name: fleet, count: 1000000000}\n")
    assert_refused(cli("check", path), f"{path}:8: spec.resources[0].count: ", "1,000,000,000 resources",
                   "limit of 10,000", "--max-resources")


# -- fault events ------------------------------------------------------------------------------------------
def test_fault_events_count_every_occurrence_within_the_duration(tmp_path: Path) -> None:
    """``every: 1m`` over 1h from 0 fires 61 times; container-failure ``count`` multiplies."""
    path = scenario_file(tmp_path, "  resources: [{name: db}]\n  faults:\n"
                                   "    - {kind: controller-restart, every: 1m}\n")
    assert_refused(cli("run", path, "--duration", "1m", "--max-faults", "60"),
                   f"{path}:9: spec.faults[0].every: ", "61 fault events", "limit of 60", "--max-faults")
    code, _, err = cli("run", path, "--duration", "1m", "--max-faults", "61")
    assert (code, err) == (0, "")


@pytest.mark.parametrize(("fault", "events"), [
    ({"kind": "controller-restart", "at": 60}, 1),
    ({"kind": "controller-restart", "every": 600, "from": 600, "until": 1800}, 3),
    ({"kind": "controller-restart", "every": 600, "from": 7200}, 0),
    ({"kind": "controller-restart", "rate": 2.5}, 2),  # 2.5 per hour over 1h: 2 expected, whole
    ({"kind": "container-failure", "at": 60, "count": 20}, 20),
    ({"kind": "container-failure", "every": 900, "count": 3}, 15),
])
def test_fault_events(fault: dict[str, object], events: int) -> None:
    from sim.scenario import Fault

    assert fault_events(Fault.model_validate(fault), 3600.0) == events


def test_a_fault_every_millisecond_is_refused(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, "  resources: [{name: db}]\n  faults:\n"
                                   "    - {kind: manual-reconcile, every: 1ms, target: default/db}\n")
    assert_refused(cli("check", path), f"{path}:9: spec.faults[0].every: ", "3,600,001 fault events",
                   "--max-faults")


# -- reconciliations (duration x objects / interval, with the settle time) ---------------------------------
def _work(path: Path) -> float:
    scenario, promise = load_scenario(path, Limits(max_reconciliations=10**18))
    objects = 1 + sum(r.count for r in scenario.spec.resources)
    return objects * (1 + (scenario.spec.duration + settle_s(scenario, promise)) / interval_s(scenario, promise))


def test_reconciliations_over_the_limit(tmp_path: Path) -> None:
    """Ten days of two objects at a 1h interval: about 2 x (1 + (240h + settle) / 1h) reconciliations."""
    path = scenario_file(tmp_path, "  kratix: {reconciliationInterval: 1h}\n  resources: [{name: db}]\n",
                         duration="10d")
    work = _work(path)
    assert 482 < work < 520
    below, above = math.floor(work), math.ceil(work)
    message = assert_refused(cli("run", path, "--duration", "1m", "--max-reconciliations", str(below)),
                             f"{path}:5: spec.duration: ", "reconciliations", "2 objects", "interval 3,600 s",
                             f"limit of {below}", "--max-reconciliations")
    assert "settle time" in message
    code, _, err = cli("run", path, "--duration", "1m", "--max-reconciliations", str(above))
    assert (code, err) == (0, "")


@pytest.mark.parametrize(("body", "blamed"), [
    # a heal period of eons, a billion retries: the key that makes the settle time long is named
    ("  resources: [{name: db}]\n  behaviour: {default: {duration: 1000000000000}}\n", "8: spec.behaviour"),
    ("  kratix: {defaultBackoffLimit: 1000000000}\n  resources: [{name: db}]\n", "7: spec.kratix.defaultBackoffLimit"),
    ("  kratix: {reconciliationInterval: 1s}\n  resources: [{name: db, count: 9000}]\n", "5: spec.duration"),
])
def test_scenarios_that_would_hang_are_refused(tmp_path: Path, body: str, blamed: str) -> None:
    path = scenario_file(tmp_path, body, duration="30d")
    assert_refused(cli("check", path), f"{path}:{blamed}: ", "--max-reconciliations")


def test_a_duration_that_is_not_finite_is_an_input_error(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, "  resources: [{name: db}]\n", duration=".inf")
    assert_refused(cli("check", path), f"{path}:5: spec.duration: ", "finite")


# -- experiment runs ---------------------------------------------------------------------------------------
def test_experiment_runs_over_the_limit() -> None:
    """smoke.yaml: 2 x 2 points x 3 replications = 12 runs."""
    path = SCENARIOS / "experiments" / "smoke.yaml"
    assert_refused(cli("sweep", path, "--max-runs", "11"), f"{path}:", "12 runs", "4 parameter points",
                   "3 replications", "limit of 11", "--max-runs")
    assert load_experiment(path, Limits(max_runs=12)).runs == 12


def one_parameter_experiment(folder: Path, parameter: str) -> Path:
    """An experiment over the fleet Promise with one resource and the one ``parameter`` (line 6)."""
    (folder / "promises").symlink_to(SCENARIOS / "experiments" / "promises")
    path = folder / "experiment.yaml"
    path.write_text("apiVersion: kratix-sim/v1alpha1\nkind: Experiment\nmetadata: {name: limits}\nspec:\n"
                    "  scenario: {spec: {duration: 1h, promise: promises/fleet-service.yaml, resources: [{name: a}]}}\n"
                    f"  parameters:\n    - {parameter}\n  replications: 1\n", encoding="utf-8")
    return path


def test_a_huge_range_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    path = one_parameter_experiment(tmp_path, "{path: spec.duration, range: {from: 60, to: 3600, samples: 1000000000}}")
    assert_refused(cli("sweep", path), f"{path}:6: spec.parameters: ", "1,000,000,000 runs", "--max-runs")


def test_experiment_points_obey_the_scenario_limits(tmp_path: Path) -> None:
    """A point whose values ask for too many resources is refused at the parameter that set them."""
    path = one_parameter_experiment(tmp_path, "{path: 'spec.resources[0].count', values: [1, 50]}")
    assert_refused(cli("sweep", path, "--max-resources", "10"), f"{path}:7: spec.parameters[0].values: ",
                   "count=50", "50 resources", "--max-resources")
    assert len(load_experiment(path, Limits(max_resources=50)).points) == 2


# -- options and defaults ------------------------------------------------------------------------------------
def test_limits_must_be_positive(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, "  resources: [{name: db}]\n")
    assert_refused(cli("run", path, "--max-faults", "0"), "--max-faults must be 1 or more")


def test_every_command_that_reads_scenarios_takes_the_options() -> None:
    from sim.cli import build_parser

    parser = build_parser()
    for argv in (["run", "x"], ["check", "x"], ["sweep", "x"], ["validate", "x"]):
        args = parser.parse_args([*argv, "--max-resources", "7", "--max-faults", "8", "--max-reconciliations", "9",
                                  "--max-runs", "10"])
        assert (args.max_resources, args.max_faults, args.max_reconciliations, args.max_runs) == (7, 8, 9, 10)


def test_the_defaults_accept_the_whole_library() -> None:
    scenarios = sorted([*SCENARIOS.glob("*.yaml"), *(SCENARIOS / "real").glob("*.yaml")])
    assert len(scenarios) > 20
    for path in scenarios:
        load_scenario(path)  # raises on a limit
    experiments = sorted((SCENARIOS / "experiments").glob("*.yaml"))
    assert len(experiments) >= 5
    for path in experiments:
        assert load_experiment(path).runs <= DEFAULT_LIMITS.max_runs


def test_the_10k_bench_fleet_as_a_file(tmp_path: Path) -> None:
    """The bench builds its fleet in code, where no file limit applies. Written to a file, its 10,000 resources
    are within the default; its month at a 10h interval (~736,500 reconciliations, ~9 minutes of simulation)
    asks for --max-reconciliations 1000000, and the 1,000-resource fleet's month is within the default."""
    fleet = fleet_scenario(10_000)
    promise = resolve_promise(fleet)
    check_size_limits(fleet, SourceMap("<fleet>"), DEFAULT_LIMITS)
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet.model_dump(mode="json", by_alias=True, exclude_none=True)),
                    encoding="utf-8")
    with pytest.raises(InputError, match=r"736,\d{3} reconciliations .* raise it with --max-reconciliations"):
        load_scenario(path)
    scenario, _ = load_scenario(path, Limits(max_reconciliations=1_000_000))
    assert sum(r.count for r in scenario.spec.resources) == 10_000
    with pytest.raises(InputError, match="--max-resources"):
        load_scenario(path, Limits(max_resources=9_999, max_reconciliations=1_000_000))
    check_work_limit(fleet_scenario(1_000), promise, SourceMap("<fleet>"), DEFAULT_LIMITS)


def test_traces_and_reports_obey_the_file_size_option(tmp_path: Path) -> None:
    """`check --trace` and `report compare|save|render` read with `--max-file-bytes` like every other reader."""
    trace = tmp_path / "q.jsonl"
    assert cli("run", SCENARIOS / "quickstart.yaml", "--trace", trace)[0] == 0
    code, _, err = cli("check", "--trace", trace, "--max-file-bytes", "1000")
    assert code == 2 and "over the 1000-byte limit; raise it with --max-file-bytes" in err
    assert len(err.splitlines()) == 1
    assert cli("check", "--trace", trace, "--max-file-bytes", str(trace.stat().st_size))[0] == 0
    baseline = REPO_ROOT / "reports" / "baseline.json"
    code, _, err = cli("report", "compare", baseline, baseline, "--max-file-bytes", "100")
    assert code == 2 and "over the 100-byte limit" in err
    size = str(baseline.stat().st_size)
    assert cli("report", "compare", baseline, baseline, "--max-file-bytes", size)[0] == 0
    code, _, err = cli("report", "baseline", "save", baseline, "--to", tmp_path / "b.json", "--max-file-bytes", "100")
    assert code == 2 and "over the 100-byte limit" in err and not (tmp_path / "b.json").exists()


def test_yaml_merge_keys_override_as_yaml_says_and_written_duplicates_are_refused(tmp_path: Path) -> None:
    """A key written beside a merge (<<) overrides the merged one, and an earlier merged mapping overrides a
    later one, as PyYAML's safe_load reads them (this used to be "duplicate key"); a key written twice in one
    mapping is still refused with its line."""
    from sim.yamlio import load_file

    text = ("base: &b {x: 1, y: 2}\nover:\n  <<: *b\n  x: 3\nmulti:\n  <<: [{x: 1, z: 1}, {x: 2, w: 2}]\n")
    path = tmp_path / "merge.yaml"
    path.write_text(text)
    (document,) = load_file(path)
    assert document.data == yaml.safe_load(text) == {"base": {"x": 1, "y": 2}, "over": {"x": 3, "y": 2},
                                                     "multi": {"x": 1, "z": 1, "w": 2}}
    path.write_text(text + "dup:\n  a: 1\n  a: 2\n")
    with pytest.raises(InputError, match="duplicate key 'a'") as raised:
        load_file(path)
    assert "merge.yaml:9: dup.a" in str(raised.value)
