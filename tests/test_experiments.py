"""Experiments (issue 8): the file format and its errors, streaming metrics, statistics, the analytic cross-checks
(J1: a Job under restartPolicy Never fails with probability p^(backoffLimit+1); K1: the fan-out after a Promise
update grows by at least 1.1 s per Job creation) and the sweep's outputs (results.csv, summary.md, plots)."""

from __future__ import annotations

import csv
import math
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from sim.cli import main
from sim.experiments.loader import expand_range, format_value, load_experiment
from sim.experiments.model import Range, parse_path
from sim.experiments.runner import SerialBackend, run_sweep, run_task, tasks_for
from sim.experiments.stats import beta_ppf, betainc, clopper_pearson, linear_fit, mean_ci, t_ppf
from sim.metrics import METRICS, StreamingMetrics, check_metric_name
from sim.scenario_loader import load_scenario
from sim.simulation import Simulation
from sim.summary import RunSummary
from sim.trace import Event

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO / "scenarios" / "experiments"
PROMISES = EXPERIMENTS / "promises"


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# -- the format ---------------------------------------------------------------------------------------
def test_paths_parse_keys_indices_and_quoted_keys() -> None:
    assert parse_path("spec.resources[0].count") == ("spec", "resources", 0, "count")
    assert parse_path('spec.behaviour.containers["resource/configure/a.b/c"].duration') == (
        "spec", "behaviour", "containers", "resource/configure/a.b/c", "duration")
    for bad in ("", "[0].x", "spec..x", "spec.x[", "spec.x]y"):
        with pytest.raises(ValueError):
            parse_path(bad)


def test_ranges_expand_linear_log_integer_and_durations() -> None:
    assert expand_range(Range.model_validate({"from": 10, "to": 50, "samples": 5})) == [10, 20, 30, 40, 50]
    assert expand_range(Range.model_validate({"from": 0.1, "to": 0.3, "samples": 3})) == [0.1, 0.2, 0.3]
    assert expand_range(Range.model_validate({"from": 1, "to": 100, "samples": 3, "scale": "log"})) == [1, 10, 100]
    assert expand_range(Range.model_validate({"from": "1h", "to": "3h", "samples": 3})) == [3600.0, 7200.0, 10800.0]
    assert expand_range(Range.model_validate({"from": 1, "to": 2, "samples": 5})) == [1, 2]  # rounded, deduplicated
    assert format_value(0.1 + 0.2) == "0.30000000000000004"
    assert format_value(None) == "" and format_value(True) == "true"


def test_every_example_experiment_loads(tmp_path: Path) -> None:
    names = sorted(p.stem for p in EXPERIMENTS.glob("*.yaml"))
    assert {"smoke", "interval-load-and-drift", "failure-backoff-restart-policy", "fleet-promise-update",
            "job-failure-analytic"} <= set(names)
    for name in names:
        loaded = load_experiment(EXPERIMENTS / f"{name}.yaml")
        assert loaded.points and loaded.seeds and loaded.name == name
        assert loaded.fingerprint() == load_experiment(EXPERIMENTS / f"{name}.yaml").fingerprint()
    smoke = load_experiment(EXPERIMENTS / "smoke.yaml")
    assert smoke.runs <= 16, "smoke must stay small: CI and newcomers run it first"
    policy = load_experiment(EXPERIMENTS / "failure-backoff-restart-policy.yaml")
    never = next(p for p in policy.points if p.values[2] == "Never")
    assert {p.spec.restartPolicy for p in (*never.promise.pipelines("resource", "configure"),
                                            *never.promise.pipelines("resource", "delete"))} == {"Never"}


def test_a_base_scenario_file_and_its_promise_resolve_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    write(tmp_path / "base" / "base.yaml", f"""
        apiVersion: kratix-sim/v1alpha1
        kind: Scenario
        metadata: {{name: base}}
        spec:
          duration: 1h
          promise: {PROMISES / 'retrying-service.yaml'}
          resources: [{{name: a, count: 2}}]
    """)
    experiment = write(tmp_path / "exp.yaml", """
        apiVersion: kratix-sim/v1alpha1
        kind: Experiment
        metadata: {name: from-file}
        spec:
          scenario: base/base.yaml
          duration: 30m
          parameters:
            - {path: "spec.resources[0].count", range: {from: 1, to: 3, samples: 3}}
          replications: 2
          seed: 5
          metrics: [jobs, runs]
    """)
    loaded = load_experiment(experiment)
    assert loaded.columns == ("count",) and loaded.seeds == (5, 6) and loaded.base.endswith("base.yaml")
    assert [p.scenario.spec.resources[0].count for p in loaded.points] == [1, 2, 3]
    assert all(p.scenario.spec.duration == 1800 for p in loaded.points)
    assert loaded.header() == ["point", "seed", "count", "jobs", "runs"]


HEAD = "spec:\n  scenario: {spec: {promise: P}}\n"  # lines 5 and 6 of each file
BAD_EXPERIMENTS: dict[str, tuple[str, int, str, str]] = {
    # name: (text, line, key, message fragment)
    "unknown-key": (HEAD + "  paramters: []\n", 7, "spec.paramters",
                    "unknown key 'paramters'; accepted: scenario, duration, parameters"),
    "unknown-metric": (HEAD + "  metrics: [jobs,\n    nonsense]\n", 8,
                       "spec.metrics[1]", "unknown metric 'nonsense'; accepted: runs,"),
    "values-and-range": (HEAD + "  parameters:\n"
                         "    - {path: spec.duration, values: [1h], range: {from: 1, to: 2, samples: 2}}\n", 8,
                         "spec.parameters[0]", "give exactly one of values, range"),
    "bad-path": (HEAD + "  parameters:\n    - {path: 'spec..x', values: [1]}\n",
                 8, "spec.parameters[0].path", "invalid path 'spec..x'"),
    "seed-path": (HEAD + "  parameters:\n    - {path: spec.seed, values: [1]}\n",
                  8, "spec.parameters[0].path", "spec.seed cannot vary"),
    "bad-design": (HEAD + "  design: random\n", 7, "spec.design",
                   "unknown design 'random'; accepted: 'grid', 'zip'"),
    "invalid-point": (HEAD + "  parameters:\n    - path: spec.kratix.defaultBackoffLimit\n"
                      "      values: [1, -1]\n", 9, "spec.parameters[0].values",
                      "the point defaultBackoffLimit=-1 gives an invalid scenario"),
    "bad-value-in-the-promise": (HEAD + "  parameters:\n    - {path: spec.duration, values: [1h]}\n"
                                 "    - path: spec.promise.spec.workflows.resource.configure[0].spec.restartPolicy\n"
                                 "      values: [Sometimes]\n", 10, "spec.parameters[1].values",
                                 "configure[0].spec.restartPolicy: inline Promise: invalid Promise"),
    "typo-in-path": (HEAD + "  parameters:\n    - path: spec.kratix.backoffLimit\n"
                     "      values: [1]\n", 9, "spec.parameters[0].values", "unknown key 'backoffLimit'"),
    "index-out-of-range": ("spec:\n  scenario: {spec: {promise: P, resources: [{name: a}]}}\n  parameters:\n"
                           "    - {path: 'spec.resources[3].count', values: [2]}\n", 8,
                           "spec.parameters[0].path", "has 1 items"),
    "zip-lengths": (HEAD + "  design: zip\n  parameters:\n    - {path: spec.duration, values: [1h, 2h]}\n"
                    "    - {path: spec.kratix.profile, values: [seed-doc]}\n",
                    7, "spec.design", "design zip needs as many values"),
    "same-column": (HEAD + "  parameters:\n    - {path: spec.duration, values: [1h]}\n"
                    "    - {path: spec.x.duration, values: [2h]}\n", 9, "spec.parameters[1].path",
                    "column name 'duration' is taken"),
    "missing-scenario-file": ("spec:\n  scenario: nowhere.yaml\n", 6, "spec.scenario",
                              "scenario file 'nowhere.yaml' not found"),
    "bad-inline-scenario": ("spec:\n  scenario:\n    spec:\n      promise: P\n"
                            "      faults: [{at: 1h, kind: explode}]\n",
                            9, "spec.scenario.spec.faults[0].kind", "unknown fault kind 'explode'"),
    "yaml-syntax": (HEAD + "  replications: [1\n", 8, "", "YAML syntax error"),
    "replications-zero": (HEAD + "  replications: 0\n", 7, "spec.replications",
                          "greater than or equal to 1"),
}


@pytest.mark.parametrize("name", sorted(BAD_EXPERIMENTS))
def test_a_bad_experiment_exits_2_with_one_line_naming_file_line_and_key(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, line, key, fragment = BAD_EXPERIMENTS[name]
    body = text.replace("promise: P", f"promise: {PROMISES / 'retrying-service.yaml'}")
    path = write(tmp_path / f"{name}.yaml", "# a bad experiment\napiVersion: kratix-sim/v1alpha1\nkind: Experiment\n"
                 f"metadata: {{name: {name}}}\n" + body)
    code = main(["sweep", str(path), "--workers", "1", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert err.startswith(f"kratix-sim: error: {path}:{line}: {key}" + (":" if key else "")), err
    assert fragment in err, err
    assert not (tmp_path / "out").exists()


def test_not_an_experiment_and_bad_options_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = REPO / "scenarios" / "quickstart.yaml"
    assert main(["sweep", str(scenario)]) == 2
    assert "not an Experiment file: kind is 'Scenario'" in capsys.readouterr().err
    smoke = str(EXPERIMENTS / "smoke.yaml")
    assert main(["sweep", smoke, "--workers", "0"]) == 2
    assert "--workers must be 1 or more" in capsys.readouterr().err
    assert main(["sweep", smoke, "--backend", "local", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--scheduler needs --backend dask" in capsys.readouterr().err


# -- streaming metrics --------------------------------------------------------------------------------
def events(*items: tuple[float, str, dict[str, Any]]) -> list[Event]:
    return [{"seq": n, "t": t, "event": name, **fields} for n, (t, name, fields) in enumerate(items, start=1)]


def feed(stream: list[Event], end_s: float, samples: tuple[float, ...] = ()) -> StreamingMetrics:
    metrics = StreamingMetrics(samples)
    for event in stream:
        metrics(event)
    metrics.finish(end_s)
    return metrics


def test_queue_latency_convergence_and_reconciled_fraction() -> None:
    r = "default/a"
    stream = events(
        (0, "object_created", {"object": r}),  # trigger and watch event at 0
        (2, "reconcile", {"object": r}),  # latency 2
        (2, "job_created", {"object": r, "action": "configure", "pipeline_index": 0}),  # watch at 2
        (3.1, "reconcile", {"object": r}),  # latency 1.1
        (10, "condition_set", {"object": r, "type": "ConfigureWorkflowCompleted", "status": "True"}),
        (10, "condition_set", {"object": r, "type": "Reconciled", "status": "True"}),
        (14, "reconcile", {"object": r}),  # latency 4
        (20, "label_set", {"object": r, "label": "kratix.io/manual-reconciliation"}),  # trigger at 20
        (21, "reconcile", {"object": r}),  # latency 1
        (21, "job_created", {"object": r, "action": "configure", "pipeline_index": 0}),
        (21, "condition_set", {"object": r, "type": "Reconciled", "status": "Unknown"}),
        (30, "condition_set", {"object": r, "type": "ConfigureWorkflowCompleted", "status": "False"}),
        (40, "condition_set", {"object": r, "type": "ConfigureWorkflowCompleted", "status": "True"}),
        (40, "condition_set", {"object": r, "type": "Reconciled", "status": "True"}),
    )
    metrics = feed(stream, 50, samples=(5, 10, 25, 60))
    values = metrics.select(["convergence_p50_s", "convergence_max_s", "convergence_mean_s", "unconverged",
                             "queue_latency_mean_s", "queue_latency_p95_s", "queue_latency_max_s",
                             "reconciled_fraction", "reconciled_fraction_end", "reconciled_fraction@5s",
                             "reconciled_fraction@10s", "reconciled_fraction@25s", "reconciled_fraction@1m",
                             "drift_window_mean_s", "drift_window_max_s", "runs", "jobs", "object_days"], 50)
    assert values["convergence_p50_s"] == 10 and values["convergence_max_s"] == 20
    assert values["convergence_mean_s"] == 15 and values["unconverged"] == 0
    assert values["queue_latency_mean_s"] == pytest.approx((2 + 1.1 + 4 + 1) / 4)
    assert values["queue_latency_p95_s"] == 4 and values["queue_latency_max_s"] == 4
    # Reconciled from 10 to 21 and from 40 to 50: 21 of 50 seconds
    assert values["reconciled_fraction"] == pytest.approx(21 / 50)
    assert values["reconciled_fraction_end"] == 1
    assert values["reconciled_fraction@5s"] == 0 and values["reconciled_fraction@10s"] == 1
    assert values["reconciled_fraction@25s"] == 0 and values["reconciled_fraction@1m"] is None  # past the horizon
    assert values["drift_window_max_s"] == 30 and values["drift_window_mean_s"] == pytest.approx(15)
    assert values["runs"] == 2 and values["jobs"] == 2
    assert values["object_days"] == pytest.approx(50 / 86400)


def test_a_run_started_before_the_trigger_does_not_converge_it() -> None:
    r = "default/a"
    stream = events(
        (0, "object_created", {"object": r}),
        (0, "job_created", {"object": r, "action": "configure", "pipeline_index": 0}),
        (5, "spec_updated", {"object": r}),  # W7: the running run predates this change
        (10, "condition_set", {"object": r, "type": "ConfigureWorkflowCompleted", "status": "True"}),
        (11, "job_created", {"object": r, "action": "configure", "pipeline_index": 0}),
    )
    values = feed(stream, 20).finish(20)
    assert values["convergence_max_s"] is None and values["unconverged"] == 1


def test_fanout_waits_for_the_promise_run_then_every_resource() -> None:
    p, a, b = "promise/x", "default/a", "default/b"
    done = {"type": "ConfigureWorkflowCompleted", "status": "True"}
    run0 = {"action": "configure", "pipeline_index": 0}
    stream = events(
        (0, "object_created", {"object": p}), (0, "object_created", {"object": a}),
        (0, "object_created", {"object": b}),
        (100, "spec_updated", {"object": p}),
        (100, "job_created", {"object": b, **run0}),  # before the Promise's run completed: does not count
        (100, "job_created", {"object": p, **run0}),
        (110, "condition_set", {"object": p, **done}),
        (111, "job_created", {"object": a, **run0}),
        (112.1, "job_created", {"object": b, **run0}),
        (130, "condition_set", {"object": a, **done}),
        (135, "condition_set", {"object": b, **done}),
        (140, "label_set", {"object": p, "label": "kratix.io/reconcile-resources"}),  # never completes
    )
    values = feed(stream, 200).finish(200)
    assert values["fanout_s"] == 35 and values["fanouts_incomplete"] == 1


def test_the_docs_define_every_metric_and_list_every_example() -> None:
    docs = (REPO / "docs" / "experiments.md").read_text(encoding="utf-8")
    for name in METRICS:
        assert f"`{name}`" in docs, name
    for path in EXPERIMENTS.glob("*.yaml"):
        assert f"scenarios/experiments/{path.name}" in docs, path.name


def test_metric_names_are_checked() -> None:
    check_metric_name("reconciled_fraction@90m")
    for bad in ("nonsense", "reconciled_fraction@soon"):
        with pytest.raises(ValueError):
            check_metric_name(bad)


@pytest.mark.parametrize("name", ["quickstart", "delete-stuck-until-manual-reconciliation",
                                  "promise-update-fans-out-to-50-resources"])
def test_streaming_metrics_agree_with_the_run_summary(name: str) -> None:
    scenario, promise = load_scenario(REPO / "scenarios" / f"{name}.yaml")
    metrics, summary = StreamingMetrics(), RunSummary()
    simulation = Simulation(scenario, promise=promise, sinks=[metrics, summary])
    simulation.run()
    assert simulation.events == [], "the sweep's runs keep no trace"
    values, expected = metrics.finish(scenario.spec.duration), summary.metrics()
    for ours, theirs in (("runs", "runs_started"), ("jobs", "jobs"), ("jobs_failed", "jobs_failed"), ("pods", "pods"),
                         ("container_executions", "container_executions"), ("stuck_deletes", "stuck_deletes"),
                         ("controller_restarts", "controller_restarts")):
        assert values[ours] == expected[theirs], ours
    assert set(values) == set(METRICS)
    if name == "promise-update-fans-out-to-50-resources":
        assert values["fanout_s"] is not None and values["fanouts_incomplete"] == 0
    if name == "delete-stuck-until-manual-reconciliation":
        assert values["objects_removed"] >= 1


# -- statistics ---------------------------------------------------------------------------------------
def test_t_quantiles_and_exact_binomial_intervals() -> None:
    table = {1: 12.7062, 2: 4.3027, 4: 2.7764, 9: 2.2622, 30: 2.0423, 1000: 1.9623}
    for df, value in table.items():
        assert t_ppf(0.975, df) == pytest.approx(value, abs=1e-4)
    assert betainc(2, 3, 0.4) == pytest.approx(0.5248)
    assert beta_ppf(betainc(3.5, 1.5, 0.3), 3.5, 1.5) == pytest.approx(0.3)
    low, high = clopper_pearson(5, 10)
    assert (low, high) == (pytest.approx(0.187086, abs=1e-6), pytest.approx(0.812914, abs=1e-6))
    assert clopper_pearson(0, 10) == (0.0, pytest.approx(1 - 0.025 ** 0.1))
    assert clopper_pearson(10, 10)[1] == 1.0
    ci = mean_ci([1.0, 2.0, 3.0])
    assert ci.mean == 2 and ci.low == pytest.approx(2 - 4.3027 / math.sqrt(3), abs=1e-4)
    assert mean_ci([10.8, 10.8, 10.8]).sd == 0 and mean_ci([5.0]).low is None
    line = linear_fit([1, 2, 3], [3, 5, 7])
    assert (line.slope, line.intercept, line.r2) == (pytest.approx(2), pytest.approx(1), pytest.approx(1))


# -- analytic cross-checks ----------------------------------------------------------------------------
def test_job_failure_probability_matches_p_to_the_backoff_limit_plus_one(tmp_path: Path) -> None:
    """J1: under restartPolicy Never, P(Job fails) = p^(backoffLimit+1). Each point's pooled failed-Job fraction
    over 10 fixed seeds x 40 Jobs must be consistent with it at the 99.9% level (exact Clopper-Pearson interval),
    while the OnFailure-style p^backoffLimit, a different model, is rejected where it differs."""
    loaded = load_experiment(EXPERIMENTS / "job-failure-analytic.yaml")
    outcome = run_sweep(loaded, tmp_path, SerialBackend())
    assert outcome.ran == loaded.runs == 30
    pooled: dict[tuple[float, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in read_rows(tmp_path / "results.csv"):
        counts = pooled[(float(row["p"]), int(row["backoffLimit"]))]
        counts[0] += int(row["jobs_failed"])
        counts[1] += int(row["jobs_finished"])
        counts[2] += int(row["pods"])
    assert sorted(pooled) == [(0.3, 0), (0.5, 1), (0.7, 3)]
    for (p, backoff), (failed, finished, pods) in sorted(pooled.items()):
        assert finished == 400, "every Job finishes within the horizon (no censoring)"
        analytic = p ** (backoff + 1)
        low, high = clopper_pearson(failed, finished, level=0.999)
        assert low <= analytic <= high, f"p={p} b={backoff}: {failed}/{finished} vs {analytic:.4f}"
        if backoff > 0:
            assert not low <= p ** backoff <= high, "the check must be able to tell p^b from p^(b+1)"
        assert pods / finished == pytest.approx((1 - p ** (backoff + 1)) / (1 - p), rel=0.1)  # pods per Job


def _fanouts(tmp_path: Path, promise: str, counts: list[int]) -> tuple[list[float], list[float]]:
    experiment = write(tmp_path / f"{promise}.yaml", f"""
        apiVersion: kratix-sim/v1alpha1
        kind: Experiment
        metadata: {{name: fanout-{promise}}}
        spec:
          scenario:
            spec:
              duration: 2h
              promise: {PROMISES / promise}.yaml
              resources: [{{name: team, count: 1}}]
              behaviour: {{default: {{duration: 10s}}}}
              faults: [{{at: 1h, kind: update-promise}}]
          parameters:
            - {{path: "spec.resources[0].count", values: {counts}}}
          replications: 1
          metrics: [fanout_s, fanouts_incomplete]
    """)
    run_sweep(load_experiment(experiment), tmp_path / promise, SerialBackend())
    rows = read_rows(tmp_path / promise / "results.csv")
    assert all(r["fanouts_incomplete"] == "0" for r in rows)
    return [float(r["count"]) for r in rows], [float(r["fanout_s"]) for r in rows]


def test_fanout_after_a_promise_update_grows_linearly_at_least_1_1_s_per_job_creation(tmp_path: Path) -> None:
    """K1: one worker per Promise, and each Job creation holds it 1.1 s. With one resource Pipeline (one Job
    creation per resource) the fan-out time is linear in the fleet size with a slope of at least 1.1 s; with two
    Pipelines every added resource adds at least 2 x 1.1 s once the fleet is large enough to keep the worker busy."""
    counts, fanouts = _fanouts(tmp_path, "team-namespace", [5, 10, 20, 40, 80])
    line = linear_fit(counts, fanouts)
    assert line.slope >= 1.1 - 1e-9, line
    assert line.r2 > 0.999, line
    for count, fanout in zip(counts, fanouts, strict=True):
        assert fanout >= count * 1.1 - 1e-9
    counts, fanouts = _fanouts(tmp_path, "fleet-service", [40, 80, 120])
    assert linear_fit(counts, fanouts).slope >= 2 * 1.1 - 1e-9
    assert all(fanout >= count * 2 * 1.1 for count, fanout in zip(counts, fanouts, strict=True))


# -- the command's outputs ----------------------------------------------------------------------------
def test_smoke_sweep_writes_results_summary_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "smoke"
    assert main(["sweep", str(EXPERIMENTS / "smoke.yaml"), "--workers", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "sweep smoke: 12 runs (4 points x 3 seeds)" in printed and str(out / "results.csv") in printed
    loaded = load_experiment(EXPERIMENTS / "smoke.yaml")
    rows = read_rows(out / "results.csv")
    assert [(int(r["point"]), int(r["seed"])) for r in rows] == [(p, s) for p in range(4) for s in (1, 2, 3)]
    assert list(rows[0]) == loaded.header()
    assert not (out / "results.partial.csv").exists()
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("# Sweep `smoke`")
    for metric in loaded.metrics:
        assert f"## {metric}\n" in summary
    header = next(line for line in summary.splitlines() if line.startswith("| interval"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "interval", "p_fail", "n", "mean", "95% CI low", "95% CI high", "sd"]
    for metric in loaded.metrics:
        stem = "plot-" + metric.replace("@", "_at_")
        png, svg = out / f"{stem}.png", out / f"{stem}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    # the same runs in this process give the same rows, byte for byte
    serial = tmp_path / "serial"
    run_sweep(loaded, serial, SerialBackend())
    assert (serial / "results.csv").read_bytes() == (out / "results.csv").read_bytes()


def test_a_run_is_a_pure_function_of_point_and_seed() -> None:
    loaded = load_experiment(EXPERIMENTS / "smoke.yaml")
    task = tasks_for(loaded)[4]
    first, again = run_task(task), run_task(task)
    assert (first.point, first.seed) == (task.point, task.seed)
    assert first.cells == again.cells


def test_a_fresh_sweep_removes_what_an_earlier_one_wrote_and_nothing_else(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Without --resume a sweep starts over: an earlier experiment's summary and plots do not stay beside the
    new results; files of the user's are left alone."""
    out = tmp_path / "out"
    out.mkdir()
    for name in ("plot-stale_metric.png", "plot-stale_metric.svg", "summary.md", "results.csv"):
        (out / name).write_text("earlier\n", encoding="utf-8")
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    # without the sweep.json an earlier sweep leaves, those files are the user's: refused, nothing deleted
    assert main(["sweep", str(EXPERIMENTS / "smoke.yaml"), "--workers", "1", "--out", str(out)]) == 2
    assert "but no sweep.json, so not an earlier sweep's results" in capsys.readouterr().err
    assert (out / "summary.md").read_text(encoding="utf-8") == "earlier\n"
    (out / "sweep.json").write_text("{}\n", encoding="utf-8")
    assert main(["sweep", str(EXPERIMENTS / "smoke.yaml"), "--workers", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    names = sorted(p.name for p in out.iterdir())
    assert "plot-stale_metric.png" not in names and "plot-stale_metric.svg" not in names
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert (out / "summary.md").read_text(encoding="utf-8") != "earlier\n"


def test_plots_of_names_in_another_script_stay_quiet() -> None:
    """matplotlib warns for each character its font lacks; the plot writers silence exactly that warning (a
    successful sweep or check printed several lines of it), and nothing else."""
    import io
    import warnings

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from sim.experiments.report import quiet_missing_glyphs

    figure = Figure()
    FigureCanvasAgg(figure)
    figure.add_subplot().set_title("名前")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.savefig(io.BytesIO(), format="png")
        assert any("missing from" in str(w.message) for w in caught)
        caught.clear()
        with quiet_missing_glyphs():
            figure.savefig(io.BytesIO(), format="png")
            warnings.warn("another warning", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["another warning"]
