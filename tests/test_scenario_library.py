"""The scenario library (``scenarios/``): every scenario runs, and each shows the behaviour it is named after.

Scenario files are found by content (``kind: Scenario``), never by name, so the Promises written for them
(``scenarios/promises/``) are never taken for scenarios. Each scenario has a test below, keyed by its file
name, that asserts its behaviour on the trace: which Jobs, in which order, at which simulated second, how many.
Times are simulated seconds; the constants come from the reference (kratix-semantics.md) and sim/profiles.py.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sim.cluster.objects import (
    BINDING_CLEANUP_FINALIZER,
    CONFIGURE_COMPLETED,
    DELETE_COMPLETED,
    DELETE_WORKFLOWS_FINALIZER,
    MANUAL_LABEL,
    PAUSED_LABEL,
    RECONCILE_RESOURCES_LABEL,
    RECONCILED,
    RESOURCE_CLEANUP_FINALIZER,
    RUN_FROM_START_LABEL,
    SUSPENDED_LABEL,
    WORK_CLEANUP_FINALIZER,
    WORKFLOWS_CLEANUP_FINALIZER,
    KObject,
)
from sim.model.promise import Promise
from sim.scenario import Scenario
from sim.scenario_loader import load_scenario, scenario_documents
from sim.simulation import Simulation
from sim.summary import RunSummary
from sim.trace import Event, Trace

REPO_ROOT = Path(__file__).resolve().parent.parent
SCENARIOS_DIR = REPO_ROOT / "scenarios"
QUICKSTART = "quickstart"

# Every rule of sections 2-6 of the reference; the library's descriptions must cite each at least once.
RULES_2_TO_6 = (
    *(f"W{i}" for i in range(1, 17)), *(f"J{i}" for i in range(1, 5)), *(f"D{i}" for i in range(1, 7)),
    "C1", *(f"K{i}" for i in range(1, 4)),
)
KNOWN_RULES = frozenset((*RULES_2_TO_6, *(f"V{i}" for i in range(1, 11)), *(f"I{i}" for i in range(1, 7)),
                         *(f"P{i}" for i in range(1, 7))))
RULE_ID = re.compile(r"\b([WJDCKVIP]\d{1,2})\b")

# Timing of the default profile (sim/profiles.py Timing; reference J2, K1, K2)
SYNC_S = 1.0  # Job controller sync batch
HOLD_S = 1.1  # K1 minimumPeriodBetweenCreatingPipelineResources
KUBELET_DELAYS = [0, 10, 20, 40, 80, 160]  # J2 OnFailure: first restart immediate, then 10 s doubling
POD_DELAYS = [10, 20, 40, 80, 160, 320]  # J2 Never: 10 s * 2^(n-1)
DELETE_POLL_S = 15.0  # K2


def _scenario_files() -> list[Path]:
    # scenarios/real/ needs real executors (bubblewrap, podman): tests/test_real_executor_simulation.py runs it.
    files = [p for p in sorted(SCENARIOS_DIR.rglob("*")) if p.suffix in (".yaml", ".yml") and p.is_file()
             and "real" not in p.relative_to(SCENARIOS_DIR).parts[:-1]]
    return [p for p in files if scenario_documents(p)]


SCENARIO_FILES = _scenario_files()
BY_STEM = {p.stem: p for p in SCENARIO_FILES}


# -- running a scenario (each one once per session) ----------------------------------------------------
@dataclass
class Run:
    scenario: Scenario
    promise: Promise
    sim: Simulation
    trace: Trace

    @property
    def events(self) -> list[Event]:
        return self.trace.events

    def of(self, event: str, obj: str | None = None, **fields: Any) -> list[Event]:
        found = self.trace.where(event, **fields)
        return found if obj is None else [e for e in found if e.get("object") == obj]

    def jobs(self, obj: str, action: str | None = "configure") -> list[Event]:
        return [e for e in self.of("job_created", obj) if action is None or e["action"] == action]

    def pipelines(self, obj: str, action: str | None = "configure", after: float = -1.0,
                  before: float = float("inf")) -> list[str]:
        return [e["pipeline"] for e in self.jobs(obj, action) if after < e["t"] < before]

    def end_of(self, job: str) -> Event:
        """The event that ended a Job: its Complete, Failed or Suspended condition, or its deletion."""
        for e in self.events:
            if e.get("job") == job and e["event"] in ("job_completed", "job_failed", "job_suspended",
                                                       "job_deleted"):
                return e
        raise AssertionError(f"Job {job} never ended")

    def reasons(self, obj: str) -> list[tuple[float, str]]:
        return [(e["t"], e["reason"]) for e in self.of("reconcile", obj)]

    def obj(self, key: str) -> KObject:
        return self.sim.cluster.objects[key]

    def cond(self, key: str, type_: str) -> tuple[str, str]:
        condition = self.obj(key).condition(type_)
        assert condition is not None, f"{key} has no condition {type_}"
        return condition.status, condition.reason

    def condition_at(self, key: str, type_: str, t: float) -> Event | None:
        latest = None
        for e in self.of("condition_set", key, type=type_):
            if e["t"] > t:
                break
            latest = e
        return latest


@functools.cache
def run_of(stem: str) -> Run:
    scenario, promise = load_scenario(BY_STEM[stem])
    sim = Simulation(scenario, promise=promise)
    return Run(scenario, promise, sim, sim.run())


def described_rules(stem: str) -> set[str]:
    scenario, _ = load_scenario(BY_STEM[stem])
    return set(RULE_ID.findall(scenario.metadata.description))


def _gaps(times: Iterable[float]) -> list[float]:
    return [round(b - a, 3) for a, b in itertools.pairwise(times)]


def _container_starts(run: Run, obj: str, container: str, **fields: Any) -> list[Event]:
    return run.of("container_started", obj, container=container, **fields)


def _container_exits(run: Run, obj: str, container: str, **fields: Any) -> list[Event]:
    return run.of("container_exited", obj, container=container, **fields)


def _live_jobs(run: Run) -> Iterable[tuple[Event, dict[str, list[str]]]]:
    """After each event, the running Jobs per object."""
    running: dict[str, list[str]] = {}
    for e in run.events:
        if e["event"] == "job_created":
            running.setdefault(e["object"], []).append(e["job"])
        elif e["event"] in ("job_completed", "job_failed", "job_suspended", "job_deleted"):
            jobs = running.get(e["object"], [])
            if e["job"] in jobs:
                jobs.remove(e["job"])
        yield e, running


# -- the library as a whole ------------------------------------------------------------------------------
def test_the_library_has_at_least_15_scenarios_besides_quickstart() -> None:
    others = [p for p in SCENARIO_FILES if p.stem != QUICKSTART]
    assert len(others) >= 15, [p.name for p in others]
    assert QUICKSTART in BY_STEM
    # The Promises beside them are found by kind, not by folder, and are never taken for scenarios
    promise_files = sorted((SCENARIOS_DIR / "promises").glob("*.yaml"))
    assert promise_files and not any(p in SCENARIO_FILES for p in promise_files)


def test_the_descriptions_cite_every_rule_of_sections_2_to_6() -> None:
    cited: set[str] = set()
    for stem in BY_STEM:
        cited |= described_rules(stem)
    missing = [rule for rule in RULES_2_TO_6 if rule not in cited]
    assert missing == [], f"no scenario description cites {missing}"


def test_the_rule_list_matches_the_reference(shared_dir: Path) -> None:
    """The IDs above are the rules the reference defines in sections 2-6 (bold ``**W1 ...**`` items)."""
    reference = (shared_dir / "reference" / "kratix-semantics.md").read_text(encoding="utf-8")
    body = reference.split("## 2.", 1)[1].split("## 7.", 1)[0]
    defined = re.findall(r"^- \*\*([WJDCK]\d+)\b", body, flags=re.MULTILINE)
    assert sorted(defined) == sorted(RULES_2_TO_6)


def test_every_scenario_has_a_behaviour_test() -> None:
    assert sorted(BY_STEM) == sorted(CHECKS)


def test_the_format_doc_lists_every_scenario() -> None:
    doc = (REPO_ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    missing = [p.name for p in SCENARIO_FILES if f"(../scenarios/{p.name})" not in doc]
    assert missing == [], f"docs/scenarios.md does not list {missing}"


# -- every scenario --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_scenario_runs_and_meets_its_expectations(path: Path) -> None:
    run = run_of(path.stem)
    scenario = run.scenario
    assert scenario.metadata.name == path.stem, "a scenario file is named after its metadata.name"
    assert run.trace.header["scenario"] == scenario.name
    assert run.trace.header["profile"] == scenario.spec.kratix.profile
    assert run.of("job_created"), "the scenario ran no Job at all"
    assert run.events[-1]["t"] <= scenario.spec.duration
    cited = described_rules(path.stem)
    assert cited or path.stem == QUICKSTART, "the description must cite the rule IDs it shows"
    assert cited <= KNOWN_RULES, f"unknown rule IDs {sorted(cited - KNOWN_RULES)}"
    # expect.assertions: by time `by`, the target's condition has `status` (the last condition_set so far)
    for assertion in scenario.spec.expect.assertions:
        latest = run.condition_at(assertion.target, assertion.condition, assertion.by)
        got = None if latest is None else latest["status"]
        assert got == assertion.status, (
            f"by {assertion.by:g}s {assertion.target} {assertion.condition} should be {assertion.status}; got {got}")


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_scenario_keeps_steps_serial_and_one_job_per_object(path: Path) -> None:
    """W2 and W3 hold in every scenario: a pod runs one step at a time, the next only after an exit 0;
    an object never has two running Jobs."""
    run = run_of(path.stem)
    pods: dict[str, list[Event]] = {}
    for e in run.events:
        if e["event"] in ("container_started", "container_exited"):
            pods.setdefault(e["pod"], []).append(e)
    for pod, steps in pods.items():
        for previous, current in itertools.pairwise(steps):
            if current["event"] == "container_started":
                assert previous["event"] == "container_exited", f"{pod}: two steps at once"
                restart = previous["container"] == current["container"]
                assert restart or previous["exit_code"] == 0, f"{pod}: {current['container']} after a failure"
            else:
                assert previous["event"] == "container_started"
                assert previous["container"] == current["container"]
    for e, running in _live_jobs(run):
        assert all(len(jobs) <= 1 for jobs in running.values()), f"two running Jobs at t={e['t']}: {running}"


def test_runs_are_deterministic() -> None:
    for stem in (QUICKSTART, "promise-update-fans-out-to-50-resources"):
        scenario, promise = load_scenario(BY_STEM[stem])
        first = Simulation(scenario, promise=promise).run().to_jsonl()
        assert first == Simulation(scenario, promise=promise).run().to_jsonl()


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_scenario_behaviour(path: Path) -> None:
    CHECKS[path.stem](run_of(path.stem))


# -- one check per scenario ------------------------------------------------------------------------------
def check_quickstart(run: Run) -> None:
    """Two configure Pipelines, a delete Pipeline, a failure retried in place, a restart, a manual run."""
    db = "default/orders-db"
    assert run.pipelines(db)[:2] == ["provision", "register"]
    assert set(run.pipelines(db)) == {"provision", "register"}
    assert run.pipelines(db, "delete") == ["teardown"]
    # the failure: create-user exits 1 and is restarted in the same pod (OnFailure), then exits 0
    exits = _container_exits(run, db, "create-user")
    assert [e["exit_code"] for e in exits[:2]] == [1, 0]
    assert exits[0]["pod"] == exits[1]["pod"] and [e["attempt"] for e in exits[:2]] == [1, 2]
    assert len(_container_starts(run, db, "render-manifests", pod=exits[0]["pod"])) == 1
    # the restart: stopped at 2h, started 30 s later, and nothing re-runs because of it (W10)
    assert [e["t"] for e in run.of("controller_stopped")] == [7200]
    assert [e["t"] for e in run.of("controller_started")] == [0, 7230]
    assert run.pipelines(db, after=7200, before=10800) == []
    # the manual reconciliation at 3h: label set, pipeline 0 at once, label removed
    assert next(e["t"] for e in run.of("label_set", db, label=MANUAL_LABEL)) == 10800
    first_manual_job = run.jobs(db)[2]
    assert (first_manual_job["t"], first_manual_job["pipeline_index"]) == (10800, 0)
    removed = run.of("label_removed", db, label=MANUAL_LABEL)
    assert removed[0]["t"] == 10800 and removed[0]["seq"] < first_manual_job["seq"]
    # three completed runs, and the object is gone after the delete Job
    assert len(run.of("condition_set", db, type=CONFIGURE_COMPLETED, status="True")) == 3
    delete_job = run.jobs(db, "delete")[0]
    assert run.end_of(delete_job["job"])["event"] == "job_completed"
    assert run.of("object_removed", db) and db not in run.sim.cluster.objects


def check_configure_halts_on_failure(run: Run) -> None:
    shop = "default/shop"
    first_run = run.jobs(shop)[:2]
    assert [e["pipeline"] for e in first_run] == ["render", "provision"]
    assert first_run[1]["backoff_limit"] == 2
    # W1: provision's Job is created only once render's Job completed
    render_done = run.end_of(first_run[0]["job"])
    assert render_done["event"] == "job_completed"
    assert first_run[1]["seq"] > render_done["seq"] and first_run[1]["t"] == render_done["t"]
    # J1: OnFailure, backoffLimit 2 -> the Job fails once its pod's restarts reach 2
    failed = run.end_of(first_run[1]["job"])
    assert (failed["event"], failed["reason"]) == ("job_failed", "BackoffLimitExceeded")
    exits = [e["exit_code"] for e in _container_exits(run, shop, "call-cloud-api") if e["t"] <= failed["t"]]
    assert exits == [1, 1, 137]  # two failures, the third execution killed with the Job
    # W4: halted; no later pipeline, no new Job until the manual label at 2h
    assert run.pipelines(shop, before=7200) == ["render", "provision"]
    assert [e for e in run.jobs(shop) if failed["t"] <= e["t"] < 7200] == []
    halted = run.condition_at(shop, CONFIGURE_COMPLETED, 3600)
    assert halted is not None
    assert (halted["status"], halted["reason"], halted["message"]) == (
        "False", "ConfigureWorkflowFailed", "A Configure Pipeline has failed: provision")
    assert halted["t"] == failed["t"]
    reconciled = run.condition_at(shop, RECONCILED, 3600)
    assert reconciled is not None and (reconciled["status"], reconciled["reason"]) == ("False",
                                                                                      "ConfigureWorkflowFailed")
    phases = [e["phases"] for e in run.of("phases_set", shop) if e["t"] < 7200]
    assert phases[-1] == ["Succeeded", "Failed", "Pending"]
    warnings = run.of("event_recorded", shop, type="Warning")
    assert [(e["t"], e["reason"]) for e in warnings] == [(failed["t"], "ConfigureWorkflowFailed")]
    # W15: no Work from the failed Pipeline
    assert [e["pipeline"] for e in run.of("work_written", shop) if e["t"] < 7200] == ["render"]
    # W5: the manual label re-runs from pipeline 0 and the whole workflow completes (W8)
    second = [e for e in run.jobs(shop) if e["t"] >= 7200]
    assert [e["pipeline"] for e in second] == ["render", "provision", "publish"]
    assert second[0]["t"] == 7200
    for previous, nxt in itertools.pairwise(second):
        assert run.end_of(previous["job"])["event"] == "job_completed"
        assert nxt["seq"] > run.end_of(previous["job"])["seq"]
    completed = run.of("condition_set", shop, type=CONFIGURE_COMPLETED, status="True")
    assert len(completed) == 1
    publish_end = run.end_of(second[2]["job"])
    assert second[2]["seq"] < completed[0]["seq"] < publish_end["seq"]
    assert run.cond(shop, CONFIGURE_COMPLETED) == ("True", "PipelinesExecutedSuccessfully")


def check_onfailure_restarts_failed_container_in_place(run: Run) -> None:
    flaky, broken = "default/flaky", "default/broken"
    # flaky: one Job, one pod; only transform restarts, in place (J3); extract runs once
    (job,) = run.jobs(flaky)
    assert job["restart_policy"] == "OnFailure" and job["backoff_limit"] == 6
    assert len(run.of("pod_created", flaky)) == 1
    assert len(_container_starts(run, flaky, "extract")) == 1
    starts = _container_starts(run, flaky, "transform")
    exits = _container_exits(run, flaky, "transform")
    assert [e["attempt"] for e in starts] == [1, 2, 3]
    assert [e["exit_code"] for e in exits] == [1, 1, 0]
    assert len({e["pod"] for e in starts}) == 1
    # J2: the first restart is immediate, the second after 10 s
    assert [round(s["t"] - x["t"], 3) for x, s in zip(exits, starts[1:], strict=False)] == [0, 10]
    (load,) = _container_starts(run, flaky, "load")
    assert load["t"] == exits[-1]["t"]  # W2: load starts when transform finally exits 0
    assert run.end_of(job["job"])["event"] == "job_completed"
    assert run.cond(flaky, CONFIGURE_COMPLETED) == ("True", "PipelinesExecutedSuccessfully")
    # broken: six restarts with back-off 0, 10, 20, 40, 80, 160 s (310 s), then BackoffLimitExceeded (J1)
    (job,) = run.jobs(broken)
    assert len(run.of("pod_created", broken)) == 1
    starts = _container_starts(run, broken, "transform")
    exits = _container_exits(run, broken, "transform")
    assert [e["attempt"] for e in starts] == list(range(1, 8))
    assert [e["exit_code"] for e in exits] == [2] * 6 + [137]
    assert all(e.get("reason") == "InjectedFailure" for e in exits[:6])
    assert [round(s["t"] - x["t"], 3) for x, s in zip(exits, starts[1:], strict=False)] == KUBELET_DELAYS
    failed = run.end_of(job["job"])
    assert (failed["event"], failed["reason"]) == ("job_failed", "BackoffLimitExceeded")
    assert failed["t"] == starts[-1]["t"] + SYNC_S
    assert _container_starts(run, broken, "load") == []
    assert run.cond(broken, CONFIGURE_COMPLETED) == ("False", "ConfigureWorkflowFailed")


def check_never_restarts_whole_pod(run: Run) -> None:
    flaky, broken = "default/flaky", "default/broken"
    (job,) = run.jobs(flaky)
    assert job["restart_policy"] == "Never"
    pods = run.of("pod_created", flaky)
    assert [p["attempt"] for p in pods] == [1, 2, 3]
    exits = _container_exits(run, flaky, "transform")
    assert [e["exit_code"] for e in exits] == [1, 1, 0]
    assert [e["attempt"] for e in exits] == [1, 1, 1]  # every execution is the first in a fresh pod
    # J2: a fresh pod 10 s, then 20 s, after the failed pod; J3: each pod re-runs reader and extract
    assert [round(p["t"] - x["t"], 3) for x, p in zip(exits, pods[1:], strict=False)] == [10, 20]
    for pod in pods:
        names = [e["container"] for e in run.of("container_started", flaky, pod=pod["pod"])]
        assert names[:3] == ["reader", "extract", "transform"]
    assert run.end_of(job["job"])["event"] == "job_completed"
    # broken: the Job fails at the 7th failed pod (backoffLimit 6), after 10+20+...+320 s of back-off
    (job,) = run.jobs(broken)
    pods = run.of("pod_created", broken)
    exits = _container_exits(run, broken, "transform")
    assert len(pods) == 7 and [e["exit_code"] for e in exits] == [2] * 7
    assert [round(p["t"] - x["t"], 3) for x, p in zip(exits, pods[1:], strict=False)] == POD_DELAYS
    failed = run.end_of(job["job"])
    assert (failed["event"], failed["reason"]) == ("job_failed", "BackoffLimitExceeded")
    assert failed["t"] == exits[-1]["t"] + SYNC_S
    assert _container_starts(run, broken, "load") == []
    assert run.cond(broken, CONFIGURE_COMPLETED) == ("False", "ConfigureWorkflowFailed")


def check_manual_reconciliation_mid_flight(run: Run) -> None:
    obj = "default/sessions"
    first, second = run.jobs(obj)[:2]
    assert (first["pipeline"], second["pipeline"]) == ("provision", "provision")
    # W6: the label at 5m suspends the running Job; the label stays until the new Job is created
    assert [e["t"] for e in run.of("label_set", obj, label=MANUAL_LABEL)] == [300, 7200]
    (requested,) = run.of("job_suspend_requested", obj)
    assert (requested["t"], requested["job"]) == (300, first["job"])
    suspended = run.end_of(first["job"])
    assert (suspended["event"], suspended["t"]) == ("job_suspended", 300 + SYNC_S)
    killed = [e for e in _container_exits(run, obj, "create-nodes") if e["exit_code"] == 137]
    assert [e["t"] for e in killed] == [suspended["t"]]
    removed = run.of("label_removed", obj, label=MANUAL_LABEL)
    assert removed[0]["t"] == suspended["t"] and suspended["seq"] < removed[0]["seq"] < second["seq"]
    # J4 + W5: the suspended Job counts as ended; pipeline 0 runs again at once
    assert (second["t"], second["pipeline_index"]) == (suspended["t"], 0)
    # the interrupted run's second Pipeline never starts: configure-clients comes after the new provision
    clients = [e for e in run.jobs(obj) if e["pipeline"] == "configure-clients"]
    assert clients[0]["seq"] > run.end_of(second["job"])["seq"]
    assert run.pipelines(obj, before=7200) == ["provision", "provision", "configure-clients"]
    # with nothing running, the label at 2h starts pipeline 0 at once and suspends nothing
    later = [e for e in run.jobs(obj) if e["t"] >= 7200]
    assert [(e["t"], e["pipeline"]) for e in later[:1]] == [(7200, "provision")]
    assert [e["pipeline"] for e in later] == ["provision", "configure-clients"]
    assert len(run.of("job_suspend_requested", obj)) == 1
    assert run.cond(obj, CONFIGURE_COMPLETED) == ("True", "PipelinesExecutedSuccessfully")


def _check_spec_change(run: Run, suspends: bool) -> None:
    obj = "default/orders"
    (update,) = run.of("spec_updated", obj)
    assert update["t"] == 120
    jobs = run.jobs(obj)
    old = jobs[0]
    assert old["pipeline"] == "create-queue"
    new_runs = [e for e in jobs if e["hash"] != old["hash"]]
    assert [e["pipeline"] for e in jobs] == ["create-queue", "create-queue", "grant-access"]
    assert [e["pipeline"] for e in new_runs] == ["create-queue", "grant-access"]  # the new run from pipeline 0
    assert [e for e in jobs if e["hash"] == old["hash"] and e["pipeline"] == "grant-access"] == []
    ended = run.end_of(old["job"])
    if suspends:  # kratix-2025: the running Job is suspended at the spec change
        assert [e["t"] for e in run.of("job_suspend_requested", obj)] == [120]
        assert (ended["event"], ended["t"]) == ("job_suspended", 120 + SYNC_S)
    else:  # W7: it is not suspended and runs to completion (create-topic takes 5 minutes)
        assert run.of("job_suspend_requested", obj) == []
        assert ended["event"] == "job_completed" and ended["t"] > 300
        assert {r for t, r in run.reasons(obj) if 120 <= t < ended["t"]} == {"wait-running"}
    assert new_runs[0]["t"] == ended["t"] and new_runs[0]["seq"] > ended["seq"]
    assert run.cond(obj, CONFIGURE_COMPLETED) == ("True", "PipelinesExecutedSuccessfully")


def check_spec_change_mid_flight_waits(run: Run) -> None:
    assert run.trace.header["profile"] == "kratix-2026.08"
    _check_spec_change(run, suspends=False)


def check_spec_change_mid_flight_suspends_kratix_2025(run: Run) -> None:
    assert run.trace.header["profile"] == "kratix-2025"
    _check_spec_change(run, suspends=True)


def check_week_of_cadence_with_daily_restarts(run: Run) -> None:
    obj = "default/example-com"
    interval = 36000
    starts = [e for e in run.jobs(obj) if e["pipeline_index"] == 0]
    completions = [e["t"] for e in run.of("condition_set", obj, type=CONFIGURE_COMPLETED, status="True")]
    restarts = [e["t"] for e in run.of("controller_started")][1:]
    assert [e["t"] for e in run.of("controller_stopped")] == [86400 * d for d in range(1, 8)]
    assert restarts == [86400 * d + 60 for d in range(1, 7)]  # the 7th restart ends after the horizon
    # W9: every run after the first is started by the interval: it sets the manual label first
    interval_runs = [t for t, reason in run.reasons(obj) if reason == "interval-elapsed"]
    assert [e["t"] for e in starts[1:]] == interval_runs
    for start, previous_completion in zip(starts[1:], completions, strict=False):
        age = start["t"] - previous_completion
        assert age > interval  # strict age test
        # the requeue was either the full interval after the run (+ the 1 s Job sync) or after a restart
        assert round(age - interval, 3) == SYNC_S or start["t"] - interval in restarts
    # W10/K3: a restart never starts a run; it requeues after the full interval, stretching the period
    for restart in restarts:
        assert [e for e in starts if restart <= e["t"] < restart + interval] == []
        assert [r for t, r in run.reasons(obj) if t == restart] == ["done"]
    assert any(e["t"] - interval in restarts for e in starts)
    assert len(starts) == 15  # 17 without the restarts (every 36053 s); restarts only ever delay a run
    gaps = _gaps([e["t"] for e in starts])
    assert min(gaps) > interval
    # W15: every re-run writes the same Works
    changed = [e for e in run.of("work_written", obj) if e["changed"]]
    assert sorted(e["pipeline"] for e in changed) == ["render-zone", "verify"]
    assert run.cond(obj, CONFIGURE_COMPLETED) == ("True", "PipelinesExecutedSuccessfully")


def check_jobs_deleted_then_restart(run: Run) -> None:
    (stopped,) = run.of("controller_stopped")
    started = run.of("controller_started")[1]
    assert (stopped["t"], started["t"]) == (3600, 3900)
    assert [e for e in run.of("reconcile") if stopped["t"] < e["t"] < started["t"]] == []
    # archive: its Jobs are deleted while the controller is down; on start it runs again from pipeline 0
    archive = "default/archive"
    deleted = run.of("job_deleted", archive, reason="external")
    assert len(deleted) == 2 and all(stopped["t"] < e["t"] < started["t"] for e in deleted)
    after = [e for e in run.jobs(archive) if e["t"] >= started["t"]]
    assert [(e["t"], e["pipeline_index"]) for e in after] == [(started["t"], 0), (after[1]["t"], 1)]
    # logs: pipeline 0 finished during the downtime; on start it continues with pipeline 1
    logs = "default/logs"
    done_in_downtime = run.end_of(run.jobs(logs)[0]["job"])
    assert done_in_downtime["event"] == "job_completed"
    assert stopped["t"] < done_in_downtime["t"] < started["t"]
    assert run.pipelines(logs, after=stopped["t"]) == ["set-policy"]
    assert run.jobs(logs)[1]["t"] < started["t"] + 3 * HOLD_S
    # media: pipeline 0 still running at the restart; waited for, then pipeline 1
    media = "default/media"
    running = run.jobs(media)[0]
    media_done = run.end_of(running["job"])
    assert media_done["t"] > started["t"]
    assert "wait-running" in [r for t, r in run.reasons(media) if started["t"] <= t < media_done["t"]]
    assert run.pipelines(media, after=stopped["t"]) == ["set-policy"]
    assert run.jobs(media)[1]["t"] == media_done["t"]
    # backups: completed long before and kept its Jobs -> no run after the restart (W10)
    assert run.pipelines("default/backups", after=stopped["t"]) == []
    for obj in (archive, logs, media, "default/backups"):
        assert run.cond(obj, CONFIGURE_COMPLETED) == ("True", "PipelinesExecutedSuccessfully")


def _fleet(run: Run) -> list[str]:
    return [f"default/team-{i}" for i in range(50)]


def check_promise_update_fans_out_to_50_resources(run: Run) -> None:
    promise = "promise/team-namespace"
    fleet = _fleet(run)
    assert len(run.of("object_created", workflow="resource")) == 50
    # W13: on install, no resource Job before the Promise's own configure workflow completed
    promise_jobs = run.jobs(promise)
    install_done = run.end_of(promise_jobs[0]["job"])
    resource_jobs = [e for e in run.of("job_created") if e["object"] in fleet]
    assert resource_jobs[0]["seq"] > install_done["seq"]
    # W12: the spec change at 1h re-runs the Promise's configure workflow first...
    (update,) = run.of("spec_updated", promise)
    assert (update["t"], update["generation"]) == (3600, 2)
    rerun = promise_jobs[1]
    assert rerun["t"] == 3600
    rerun_done = run.end_of(rerun["job"])
    labelled = [e for e in run.of("label_set", label=RUN_FROM_START_LABEL) if 3600 <= e["t"] < 10800]
    # ...and only after it completed every one of the 50 resources gets run-from-start
    assert sorted(e["object"] for e in labelled) == sorted(fleet)
    assert all(e["seq"] > rerun_done["seq"] and e["t"] == rerun_done["t"] for e in labelled)
    # each re-runs from pipeline 0 exactly once
    fanned = [e for e in resource_jobs if rerun_done["t"] <= e["t"] < 10800]
    assert sorted(e["object"] for e in fanned) == sorted(fleet)
    assert {e["pipeline_index"] for e in fanned} == {0}
    # team-7 was running (manual reconciliation at 59m50s): waited for, not suspended
    team7 = "default/team-7"
    running = next(e for e in run.jobs(team7) if e["t"] == 3590)
    assert run.end_of(running["job"])["t"] > rerun_done["t"]
    assert run.end_of(running["job"])["event"] == "job_completed"
    assert run.of("job_suspend_requested") == []
    team7_rerun = next(e for e in fanned if e["object"] == team7)
    assert team7_rerun["seq"] > run.end_of(running["job"])["seq"]
    # K1: one worker, every Job creation holds it 1.1 s: creations at least 1.1 s apart...
    fanned_times = [e["t"] for e in fanned]
    assert min(_gaps(fanned_times)) >= HOLD_S
    assert round(fanned_times[-1] - fanned_times[0], 3) >= round(49 * HOLD_S, 3)
    # ...while the Jobs run in parallel (W3 is per object)
    concurrent = max(sum(1 for k in fleet if running_jobs.get(k)) for _, running_jobs in _live_jobs(run))
    assert concurrent >= 20
    # the reconcile-resources label at 3h fans out again
    again = [e for e in run.of("label_set", label=RUN_FROM_START_LABEL) if e["t"] >= 10800]
    assert sorted(e["object"] for e in again) == sorted(fleet)
    assert sorted(e["object"] for e in resource_jobs if e["t"] >= 10800) == sorted(fleet)
    for obj in fleet:
        assert run.cond(obj, CONFIGURE_COMPLETED) == ("True", "PipelinesExecutedSuccessfully")


def test_reconcile_resources_label_reruns_the_promise_configure_workflow_first() -> None:
    """W12: 'A Promise spec change or label kratix.io/reconcile-resources re-runs the Promise's own configure
    workflow first; after it completes, every resource ... re-runs from pipeline 0.'"""
    run = run_of("promise-update-fans-out-to-50-resources")
    promise = "promise/team-namespace"
    (label,) = run.of("label_set", promise, label=RECONCILE_RESOURCES_LABEL)
    assert label["t"] == 10800
    promise_reruns = [e for e in run.jobs(promise) if e["t"] >= label["t"]]
    assert promise_reruns, "no Promise configure Job after the reconcile-resources label"
    rerun_done = run.end_of(promise_reruns[0]["job"])
    fanned = [e for e in run.of("label_set", label=RUN_FROM_START_LABEL) if e["t"] >= label["t"]]
    assert fanned and all(e["seq"] > rerun_done["seq"] for e in fanned)


def check_delete_stuck_until_manual_reconciliation(run: Run) -> None:
    obj = "default/billing"
    (requested,) = run.of("delete_requested", obj)
    assert requested["t"] == 600
    deletes = run.jobs(obj, "delete")
    assert [e["t"] for e in deletes] == [600, 7800]
    first = deletes[0]
    assert (first["restart_policy"], first["backoff_limit"]) == ("Never", 2)
    # D3 + J1/J2: the retries are pods of the one Job, 10 s then 20 s after each failed pod
    pods = run.of("pod_created", obj, job=first["job"])
    exits = [e for e in _container_exits(run, obj, "delete-instance") if e["job"] == first["job"]]
    assert len(pods) == 3 and [e["exit_code"] for e in exits] == [1, 1, 1]
    assert [round(p["t"] - x["t"], 3) for x, p in zip(exits, pods[1:], strict=False)] == [10, 20]
    failed = run.end_of(first["job"])
    assert (failed["event"], failed["reason"]) == ("job_failed", "BackoffLimitExceeded")
    # K2: while it ran, the delete Job was polled every 15 s
    polls = [t for t, r in run.reasons(obj) if r == "delete-running" and t < failed["t"]]
    assert len(polls) >= 5 and set(_gaps(polls)) == {DELETE_POLL_S}
    # D4: failed, one Warning event, stuck: error back-off (K2), no new delete Job, the object stays
    stuck = run.condition_at(obj, DELETE_COMPLETED, 7799)
    assert stuck is not None and (stuck["status"], stuck["reason"], stuck["message"]) == (
        "False", "DeleteWorkflowFailed", "The Delete Pipeline has failed")
    warnings = run.of("event_recorded", obj, type="Warning")
    assert [(e["t"], e["reason"]) for e in warnings] == [(failed["t"], "DeleteWorkflowFailed")]
    retries = [t for t, r in run.reasons(obj) if r == "delete-failed"]
    gaps_ms = [round(g * 1000) for g in _gaps(retries) if g > 0]
    assert gaps_ms[0] == 5  # 5 ms * 2^n per item ...
    assert all(b == min(2 * a, 1_000_000) for a, b in itertools.pairwise(gaps_ms[1:]))
    assert gaps_ms[-1] == 1_000_000  # ... capped at 1000 s
    assert [e for e in run.of("object_removed", obj) if e["t"] < 7800] == []
    # the manual label at 2h10m: a new delete Job (label removed), it succeeds, the object is gone
    label_removed = run.of("label_removed", obj, label=MANUAL_LABEL)
    assert [e["t"] for e in label_removed] == [7800] and label_removed[0]["seq"] < deletes[1]["seq"]
    assert run.end_of(deletes[1]["job"])["event"] == "job_completed"
    finalizers = [e["finalizer"] for e in run.of("finalizer_removed", obj)]
    assert finalizers == [DELETE_WORKFLOWS_FINALIZER, WORK_CLEANUP_FINALIZER, WORKFLOWS_CLEANUP_FINALIZER,
                          BINDING_CLEANUP_FINALIZER]
    (removed,) = run.of("object_removed", obj)
    assert removed["t"] == run.end_of(deletes[1]["job"])["t"]
    # the run summary's timeline names each recorded event's own type (Warning for the failure, Normal for the
    # re-run's PipelineStarted)
    summary = RunSummary()
    for event in run.trace.events:
        summary(event)
    text = summary.render_text(run.trace.header)
    assert "Warning DeleteWorkflowFailed on default/billing" in text
    assert "Normal PipelineStarted on default/billing" in text and "Warning PipelineStarted" not in text


def check_delete_waits_for_running_configure(run: Run) -> None:
    obj = "default/build-agent"
    (requested,) = run.of("delete_requested", obj)
    assert requested["t"] == 120
    (boot,) = run.jobs(obj)
    boot_done = run.end_of(boot["job"])
    assert boot_done["event"] == "job_completed" and boot_done["t"] > 480
    # D2: no delete Job while the configure Job runs; it comes right after
    assert "delete-waits-for-configure" in [r for t, r in run.reasons(obj) if requested["t"] <= t < boot_done["t"]]
    (delete,) = run.jobs(obj, "delete")  # D3: one delete Job
    assert delete["t"] == boot_done["t"] and delete["seq"] > boot_done["seq"]
    assert run.pipelines(obj) == ["boot"]  # register-dns never starts
    delete_done = run.end_of(delete["job"])
    assert delete_done["event"] == "job_completed"
    (removed,) = run.of("object_removed", obj)
    assert removed["t"] == delete_done["t"]
    assert next(e["finalizer"] for e in run.of("finalizer_removed", obj)) == DELETE_WORKFLOWS_FINALIZER


def check_promise_delete_with_resources(run: Run) -> None:
    promise = "promise/broker"
    resources = ["default/late", "default/orders", "default/payments"]
    (requested,) = run.of("delete_requested", promise)
    assert requested["t"] == 3600
    late_configure = run.jobs("default/late")[0]
    late_done = run.end_of(late_configure["job"])
    assert late_configure["t"] < 3600 < late_done["t"]
    # D6: the Promise's delete Pipeline waits for the running resource configure Job...
    (promise_delete,) = run.jobs(promise, "delete")
    assert promise_delete["pipeline"] == "remove-operator"
    assert promise_delete["seq"] > late_done["seq"]
    assert "delete-waits-for-resources" in [r for t, r in run.reasons(promise) if t < late_done["t"]]
    # ...and runs before any resource is deleted
    promise_delete_done = run.end_of(promise_delete["job"])
    resource_deletes = [e for e in run.of("delete_requested") if e["object"] in resources]
    assert sorted(e["object"] for e in resource_deletes) == resources
    assert all(e["seq"] > promise_delete_done["seq"] for e in resource_deletes)
    # then each resource runs its own delete workflow and is removed (D5), before the Promise is gone
    (promise_removed,) = run.of("object_removed", promise)
    for obj in resources:
        (delete,) = run.jobs(obj, "delete")
        assert delete["pipeline"] == "delete-broker"
        assert run.end_of(delete["job"])["event"] == "job_completed"
        (removed,) = run.of("object_removed", obj)
        assert removed["seq"] < promise_removed["seq"]
        assert [e["finalizer"] for e in run.of("finalizer_removed", obj)] == [
            DELETE_WORKFLOWS_FINALIZER, WORK_CLEANUP_FINALIZER, WORKFLOWS_CLEANUP_FINALIZER,
            BINDING_CLEANUP_FINALIZER]
    assert [e["finalizer"] for e in run.of("finalizer_removed", promise)] == [
        DELETE_WORKFLOWS_FINALIZER, RESOURCE_CLEANUP_FINALIZER, WORK_CLEANUP_FINALIZER,
        WORKFLOWS_CLEANUP_FINALIZER]
    assert run.sim.cluster.objects == {}


def check_workflow_retry_after(run: Run) -> None:
    obj = "default/www"
    waits = [e for e in run.jobs(obj) if e["pipeline"] == "wait-for-dns" and e["t"] < 3600]
    suspended_at = [e["t"] for e in run.of("label_set", obj, label=SUSPENDED_LABEL) if e["t"] < 3600]
    assert len(waits) == len(suspended_at) == 6
    # C1: the same Pipeline (not pipeline 0) runs again retryAfter (10m) after it asked
    for asked, retry in zip(suspended_at, waits[1:], strict=False):
        assert retry["t"] == asked + 600 and retry["pipeline_index"] == 1
    assert run.pipelines(obj, before=3600) == ["create-challenge"] + ["wait-for-dns"] * 6
    assert [e for e in run.jobs(obj) if e["pipeline"] == "issue"] == []  # later Pipelines never start
    # W15: no Work for the retrying Pipeline; W16: its status is merged anyway
    assert {e["pipeline"] for e in run.of("work_written", obj)} == {"create-challenge"}
    assert run.of("status_merged", obj)[0]["keys"] == ["dns"]
    assert run.obj(obj).user_status["dns"] == "propagating"
    phases = [e["phases"] for e in run.of("phases_set", obj)]
    assert ["Succeeded", "Suspended", "Pending"] in phases
    # W9: the 10m interval does not restart a retrying workflow
    assert [r for _, r in run.reasons(obj) if r == "interval-elapsed"] == []
    # the manual label restarts from pipeline 0 and clears the suspended label
    manual = [e for e in run.jobs(obj) if e["t"] >= 3600]
    assert (manual[0]["t"], manual[0]["pipeline"]) == (3600, "create-challenge")
    cleared = [e for e in run.of("label_removed", obj, label=SUSPENDED_LABEL) if e["t"] == 3600]
    assert cleared and cleared[0]["seq"] < manual[0]["seq"]
    phase = run.obj(obj).phases[1]
    assert (phase.name, phase.phase, phase.message) == ("wait-for-dns", "Suspended", "TXT record not visible yet")
    assert phase.attempts >= 2 and phase.next_retry_ms is not None
    assert run.cond(obj, CONFIGURE_COMPLETED)[0] == "False"


def check_delete_retries_via_workflow_control(run: Run) -> None:
    obj = "default/billing"
    deletes = run.jobs(obj, "delete")
    suspended_at = [e["t"] for e in run.of("label_set", obj, label=SUSPENDED_LABEL)]
    # reader 1 s + delete-instance 20 s + status-writer 1 s: each run asks at +22 s; retryAfter 5m later the same
    # delete Pipeline runs again in a new Job (D3: the label is removed first)
    assert [e["t"] for e in deletes] == [600, 922, 1244]
    assert suspended_at == [622, 944]
    assert [e["t"] for e in run.of("label_removed", obj, label=SUSPENDED_LABEL)] == [922, 1244]
    assert [e["pipeline"] for e in deletes] == ["deprovision"] * 3
    # the object and its Work stay while the delete Pipeline waits (DeleteWorkflowSuspended), then go (D5)
    reasons = [(e["t"], e["reason"]) for e in run.of("condition_set", obj, type=DELETE_COMPLETED)]
    assert reasons == [(600, "DeleteWorkflowInProgress"), (623, "DeleteWorkflowSuspended"),
                       (922, "DeleteWorkflowInProgress"), (945, "DeleteWorkflowSuspended"),
                       (1244, "DeleteWorkflowInProgress"), (1267, "PipelinesExecutedSuccessfully")]
    assert [(e["t"], e["phases"]) for e in run.of("phases_set", obj) if e.get("action") == "delete"] == [
        (622, ["Suspended"]), (922, ["Running"]), (944, ["Suspended"]), (1244, ["Running"])]
    assert [e["t"] for e in run.of("work_deleted", obj)] == [1267]
    finalizers = [e["finalizer"] for e in run.of("finalizer_removed", obj)]
    assert finalizers == [DELETE_WORKFLOWS_FINALIZER, WORK_CLEANUP_FINALIZER, WORKFLOWS_CLEANUP_FINALIZER,
                          BINDING_CLEANUP_FINALIZER]
    assert [e["t"] for e in run.of("object_removed", obj)] == [1267]


def check_workflow_suspend_and_resume(run: Run) -> None:
    obj = "default/data-science"
    jobs = run.jobs(obj)
    assert [(e["pipeline"], e["t"]) for e in jobs if e["t"] < 10800] == [
        ("create-tenant", 0), ("approval", jobs[1]["t"]), ("approval", 3600)]
    first_approval = jobs[1]
    # C1: later containers of the pod still run after the suspending one
    request = _container_exits(run, obj, "request-approval", job=first_approval["job"])[0]
    notify = _container_starts(run, obj, "notify-owners", job=first_approval["job"])[0]
    assert notify["t"] == request["t"] and notify["seq"] > request["seq"]
    # no Work for the suspended Pipeline (W15), its status merged (W16), label set, phase Suspended
    assert {e["pipeline"] for e in run.of("work_written", obj)} == {"create-tenant"}
    assert run.obj(obj).user_status["approval"] == "requested"
    label = run.of("label_set", obj, label=SUSPENDED_LABEL)[0]
    assert label["t"] < run.end_of(first_approval["job"])["t"]
    assert ["Succeeded", "Suspended", "Pending"] in [e["phases"] for e in run.of("phases_set", obj)]
    # nothing restarts it on its own, not even the 30m interval (W9)
    assert [e for e in jobs if run.end_of(first_approval["job"])["t"] < e["t"] < 3600] == []
    assert "interval-elapsed" not in [r for _, r in run.reasons(obj)]
    # resume at 1h: the label removal resumes at the suspended Pipeline (index 1), not at pipeline 0
    resume = [e for e in run.of("label_removed", obj, label=SUSPENDED_LABEL) if e["t"] == 3600]
    resumed = next(e for e in jobs if e["t"] == 3600)
    assert resume and resume[0]["seq"] < resumed["seq"] and resumed["pipeline_index"] == 1
    # the manual label at 3h restarts from pipeline 0
    manual = [e for e in jobs if e["t"] >= 10800]
    assert [(e["t"], e["pipeline_index"]) for e in manual][:1] == [(10800, 0)]
    assert [e["pipeline"] for e in manual] == ["create-tenant", "approval"]
    assert [e for e in jobs if e["pipeline"] == "grant-budget"] == []
    phase = run.obj(obj).phases[1]
    assert (phase.phase, phase.message) == ("Suspended", "waiting for the cost-centre owner")


def check_paused_promise(run: Run) -> None:
    promise, catalog, products = "promise/search-index", "default/catalog", "default/products"
    paused = run.of("label_set", promise, label=PAUSED_LABEL)
    unpaused = run.of("label_removed", promise, label=PAUSED_LABEL)
    assert [e["t"] for e in paused] == [1800] and [e["t"] for e in unpaused] == [3600]
    # while paused: no Job for anything, Reconciled=Unknown/PausedReconciliation
    assert [e for e in run.of("job_created") if 1800 <= e["t"] < 3600] == []
    for obj in (promise, catalog, products):
        condition = run.condition_at(obj, RECONCILED, 3599)
        assert condition is not None
        assert (condition["status"], condition["reason"]) == ("Unknown", "PausedReconciliation")
    assert run.of("label_set", catalog, label=MANUAL_LABEL)[0]["t"] == 3000
    assert [e for e in run.of("finalizers_added", products) if e["t"] < 3600] == []
    # unpause: run-from-start on the resources, each runs from pipeline 0 (W5)
    for obj in (catalog, products):
        label = [e for e in run.of("label_set", obj, label=RUN_FROM_START_LABEL) if e["t"] >= 3600]
        assert label
        after = [e for e in run.jobs(obj) if e["t"] >= 3600]
        assert [e["pipeline"] for e in after] == ["create-index", "create-alias"]
        assert after[0]["seq"] > label[0]["seq"] and after[0]["t"] < 3600 + 3 * HOLD_S
        assert run.cond(obj, CONFIGURE_COMPLETED) == ("True", "PipelinesExecutedSuccessfully")
    assert run.pipelines(catalog, before=1800) == ["create-index", "create-alias"]
    assert run.pipelines(products, before=3600) == []


def check_job_retention(run: Run) -> None:
    obj = "default/weekly-sales"
    keep = 2
    assert run.trace.header["config"]["numberOfJobsToKeep"] == keep
    manual = [e["t"] for e in run.of("label_set", obj, label=MANUAL_LABEL)]
    assert manual == [1200 * i for i in range(1, 9)]
    created = run.jobs(obj)
    assert len(created) == 18  # nine runs of two Pipelines
    # the third run fails in migrate (backoffLimit 0) and halts
    failed = [run.end_of(e["job"]) for e in created if run.end_of(e["job"])["event"] == "job_failed"]
    assert len(failed) == 1 and failed[0]["pipeline"] == "migrate"
    # W14: after every completed or failed run, only the newest two Jobs of each Pipeline remain;
    # the Jobs deleted are always the oldest
    live: dict[str, list[str]] = {"render": [], "migrate": []}
    checked = 0
    pending = False  # a run just completed or failed: its pruning follows its reconcile event
    for e in [*(e for e in run.events if e.get("object") == obj), None]:
        if e is None or e["event"] == "reconcile":
            if pending:
                assert all(len(jobs) <= keep for jobs in live.values()), live
                checked += 1
            pending = e is not None and e["reason"] in ("done", "halted")
        elif e["event"] == "job_created":
            live[e["pipeline"]].append(e["job"])
        elif e["event"] == "job_deleted":
            assert e["reason"] == "retention"
            assert live[e["pipeline"]][0] == e["job"], "retention must delete the oldest Job first"
            live[e["pipeline"]].pop(0)
    assert checked >= 9
    assert len(run.of("job_deleted", obj)) == 2 * (9 - keep)
    assert {p: len(j) for p, j in live.items()} == {"render": keep, "migrate": keep}
    assert sorted(j.name for j in run.sim.cluster.jobs_of(obj)) == sorted(live["render"] + live["migrate"])


def check_status_merge(run: Run) -> None:
    obj, promise = "default/inventory", "promise/postgres"
    merges = run.of("status_merged", obj)
    assert [e["keys"] for e in merges] == [["conditions", "endpoint", "tier"], ["conditions", "endpoint"]]
    status = run.obj(obj).user_status
    assert status["endpoint"] == {"host": "inventory.db.internal"}  # replaced, not deep-merged: no port
    assert status["tier"] == "gold"  # untouched keys stay
    assert "kratix" not in status and "note" not in status
    assert run.cond(obj, "DatabaseReady") == ("True", "Ready")  # conditions merge by type
    assert run.cond(obj, "BackupReady") == ("True", "Scheduled")
    assert [e["status"] for e in run.of("condition_set", obj, type="DatabaseReady")] == ["False", "True"]
    # a top-level `kratix` key: the status-writer fails, the Job fails at backoffLimit 1, the workflow halts
    annotate = next(e for e in run.jobs(obj) if e["pipeline"] == "annotate")
    writer = [e for e in _container_exits(run, obj, "status-writer", job=annotate["job"])]
    assert writer[0]["exit_code"] == 1 and "kratix" in writer[0]["reason"]
    failed = run.end_of(annotate["job"])
    assert (failed["event"], failed["reason"]) == ("job_failed", "BackoffLimitExceeded")
    assert run.cond(obj, CONFIGURE_COMPLETED) == ("False", "ConfigureWorkflowFailed")
    # promise workflows keep only `message`
    assert [e["keys"] for e in run.of("status_merged", promise)] == [["message"]]
    assert run.obj(promise).user_status == {}  # operatorVersion dropped


def check_promise_configure_gates_resources(run: Run) -> None:
    promise = "promise/monitoring"
    teams = ["default/team-a", "default/team-b", "default/team-c"]
    (install,) = run.jobs(promise)
    install_done = run.end_of(install["job"])
    restart = run.of("controller_started")[1]
    assert restart["t"] == 90 and install["t"] < restart["t"] < install_done["t"]
    # W13: no resource Job before the Promise's configure workflow completed, across the restart
    resource_jobs = [e for e in run.of("job_created") if e["object"] in teams]
    assert sorted(e["object"] for e in resource_jobs) == teams
    assert all(e["seq"] > install_done["seq"] for e in resource_jobs)
    for obj in teams:
        waits = [t for t, r in run.reasons(obj) if r == "waiting-for-promise"]
        assert any(t >= restart["t"] for t in waits), f"{obj} was not held back after the restart"
    # team-c was created while the controller was down
    assert run.of("controller_stopped")[0]["t"] < run.of("object_created", "default/team-c")[0]["t"] < restart["t"]
    # K1: created one by one, 1.1 s apart, from the Promise's completion; W3: all three run in parallel
    times = [e["t"] for e in resource_jobs]
    assert times[0] >= install_done["t"]
    assert _gaps(times) == [HOLD_S, HOLD_S]
    assert max(sum(1 for k in teams if jobs.get(k)) for _, jobs in _live_jobs(run)) == 3
    for obj in teams:
        assert run.cond(obj, CONFIGURE_COMPLETED) == ("True", "PipelinesExecutedSuccessfully")


def check_promise_reruns_gate_resources(run: Run) -> None:
    promise, team_a, team_b = "promise/monitoring", "default/team-a", "default/team-b"
    runs = run.jobs(promise)
    assert [e["t"] for e in runs] == [0, 7200, 72184]  # install, manual at 2h, interval at 20h3m4s
    statuses = [(e["t"], e["fields"]["status"]) for e in run.of("status_updated", promise) if "status" in e["fields"]]
    assert statuses == [(0, "Unavailable"), (184, "Available"), (7200, "Unavailable"), (7384, "Available"),
                        (72184, "Unavailable"), (72368, "Available")]
    # W13: team-a, manually reconciled at 2h30s during the Promise's manual run, marks itself (Pending,
    # PromiseAvailable=False), checks again every 60 s, marks itself available at its first check after the
    # Promise is Available (2h3m4s) and starts in the reconcile after that
    assert [(t, r) for t, r in run.reasons(team_a) if 7200 <= t < 7411] == [
        (7230, "promise-unavailable"), (7230, "promise-unavailable"), (7290, "promise-unavailable"),
        (7350, "promise-unavailable"), (7410, "promise-available"), (7410, "rerun")]
    assert [(e["t"], e["fields"]) for e in run.of("status_updated", team_a) if e["t"] == 7230] == [
        (7230, {"message": "Pending"})]
    marks = [(e["t"], e["status"], e["reason"]) for e in run.of("condition_set", team_a)
             if e["type"] == "PromiseAvailable"]
    assert marks == [(7230, "False", "PromiseRequirementsNotInstalled"), (7410, "True", "PromiseAvailable")]
    manual = run.jobs(team_a)[1]
    assert manual["t"] == 7410 and manual["seq"] > run.end_of(runs[1]["job"])["seq"]
    # ... and team-b's interval run, due during the Promise's interval run, waits for it the same way
    interval = run.jobs(team_b)[-1]
    assert interval["t"] == 72373.1
    marks = [(e["t"], e["status"]) for e in run.of("condition_set", team_b) if e["type"] == "PromiseAvailable"]
    assert marks == [(72313.1, "False"), (72373.1, "True")]
    assert run.cond(team_b, CONFIGURE_COMPLETED) == ("True", "PipelinesExecutedSuccessfully")
    # the run summary's timeline shows why: the Promise's status, and each resource's marks
    summary = RunSummary()
    for event in run.trace.events:
        summary(event)
    lines = summary.render_text(run.trace.header).splitlines()
    waits = [line.split()[0] for line in lines if line.endswith("default/team-a waits for its Promise (W13)")]
    assert waits == ["0s"]  # at install, before the Promise's resource controller runs
    marked = [line.split()[0] for line in lines if "PromiseAvailable=False (its Promise cannot fulfil it" in line]
    assert marked == ["2h30s", "20h5m13.100s"]
    assert sum(line.endswith("promise/monitoring Unavailable (its configure workflow runs or failed: its resources "
                             "wait, W13)") for line in lines) == 3


def check_two_resources_run_in_parallel(run: Run) -> None:
    objs = ["default/storefront", "default/admin-portal"]
    created = run.of("job_created")
    assert [e["object"] for e in created[:2]] == objs
    # K1: one worker, 1.1 s apart; W3: the two objects' Jobs overlap in time
    assert _gaps([e["t"] for e in created[:2]]) == [HOLD_S]
    assert max(sum(1 for k in objs if jobs.get(k)) for _, jobs in _live_jobs(run)) == 2
    for obj in objs:
        jobs = run.jobs(obj)
        assert [e["pipeline"] for e in jobs] == ["build", "smoke-test"]
        build_done = run.end_of(jobs[0]["job"])
        assert build_done["event"] == "job_completed" and jobs[1]["seq"] > build_done["seq"]  # W1
        # W2: reader, the two user containers in declared order, work-writer, status-writer
        steps = [e["container"] for e in run.of("container_started", obj, job=jobs[0]["job"])]
        assert steps == ["reader", "render-deployment", "render-ingress", "work-writer", "status-writer"]
        # W8: on Job creation the status says Pending / WorkflowPending / PipelinesInProgress
        at_start = [e for e in run.of("condition_set", obj) if e["t"] == jobs[0]["t"] and e["seq"] < jobs[0]["seq"]]
        assert {(e["type"], e["status"], e["reason"]) for e in at_start} == {
            (RECONCILED, "Unknown", "WorkflowPending"), (CONFIGURE_COMPLETED, "False", "PipelinesInProgress")}
        message = [e for e in run.of("status_updated", obj) if e["t"] == jobs[0]["t"]]
        assert any("message" in e["fields"] for e in message)
        # W8: True only once the last Pipeline succeeded, and only once
        (done,) = run.of("condition_set", obj, type=CONFIGURE_COMPLETED, status="True")
        writer = _container_exits(run, obj, "status-writer", job=jobs[1]["job"])[0]
        assert done["t"] == writer["t"] and jobs[1]["seq"] < done["seq"]
        assert run.obj(obj).last_successful_configure_ms == int(done["t"]) * 1000  # whole seconds


def check_delete_removes_finalizers_in_order(run: Run) -> None:
    obj = "default/payments-service"
    (delete,) = run.jobs(obj, "delete")  # D3
    delete_done = run.end_of(delete["job"])
    assert delete["t"] == 1800 and delete_done["event"] == "job_completed"
    removals = run.of("finalizer_removed", obj)
    assert [e["finalizer"] for e in removals] == [DELETE_WORKFLOWS_FINALIZER, WORK_CLEANUP_FINALIZER,
                                                  WORKFLOWS_CLEANUP_FINALIZER, BINDING_CLEANUP_FINALIZER]
    assert removals[0]["seq"] > delete_done["seq"]
    # work-cleanup deletes both Works (state store), between the first and second removals
    works = run.of("work_deleted", obj)
    assert sorted(e["pipeline"] for e in works) == ["create-repo", "protect-branches"]
    assert all(removals[0]["seq"] < e["seq"] < removals[1]["seq"] and e["reason"] == "work-cleanup" for e in works)
    assert run.sim.cluster.works_of(obj) == []
    # workflows-cleanup deletes all its Jobs, between the second and third removals
    jobs = run.of("job_deleted", obj)
    assert sorted(e["pipeline"] for e in jobs) == ["archive", "create-repo", "protect-branches"]
    assert all(removals[1]["seq"] < e["seq"] < removals[2]["seq"] and e["reason"] == "workflows-cleanup"
               for e in jobs)
    (removed,) = run.of("object_removed", obj)
    assert removed["seq"] > removals[-1]["seq"]
    assert [e for e in run.events if e.get("object") == obj and e["seq"] > removed["seq"]] == []


def check_delete_runs_only_first_pipeline(run: Run) -> None:
    obj = "default/checkout-flags"
    assert [p.name for p in run.promise.pipelines("resource", "delete")] == ["delete-project", "notify-owners"]
    (delete,) = run.jobs(obj, "delete")  # D1, D3
    assert (delete["t"], delete["pipeline"]) == (600, "delete-project")
    assert [e for e in run.events if e.get("pipeline") == "notify-owners"] == []
    assert _container_starts(run, obj, "send-email") == []
    assert run.end_of(delete["job"])["event"] == "job_completed"
    assert run.of("object_removed", obj)[0]["t"] == run.end_of(delete["job"])["t"]


def check_never_backoff_reaches_cap(run: Run) -> None:
    """J1/J2: Never with backoffLimit 8: 9 pods, back-off 10..320 s then capped at 600 s; the Job fails."""
    broken = "default/broken"
    (job,) = run.jobs(broken)
    assert (job["restart_policy"], job["backoff_limit"]) == ("Never", 8)
    pods = run.of("pod_created", broken)
    exits = _container_exits(run, broken, "transform")
    assert len(pods) == 9 and [e["exit_code"] for e in exits] == [1] * 9
    assert [round(p["t"] - x["t"], 3) for x, p in zip(exits, pods[1:], strict=False)] == [
        10, 20, 40, 80, 160, 320, 600, 600]
    failed = run.end_of(job["job"])
    assert (failed["event"], failed["reason"], failed["t"]) == ("job_failed", "BackoffLimitExceeded",
                                                                 exits[-1]["t"] + SYNC_S)
    assert run.cond(broken, CONFIGURE_COMPLETED) == ("False", "ConfigureWorkflowFailed")


def check_failed_workflow_retried_on_interval(run: Run) -> None:
    """W4/W9: the failed workflow halts, then re-runs from pipeline 0 one interval (+0.1 s status write)
    after the failure's lastTransitionTime, and completes."""
    shop = "default/shop"
    jobs = run.jobs(shop)
    failed = run.end_of(jobs[1]["job"])
    assert (jobs[1]["pipeline"], failed["event"]) == ("provision", "job_failed")
    halted = run.of("condition_set", shop, type=CONFIGURE_COMPLETED, reason="ConfigureWorkflowFailed")[0]
    retry = jobs[2]
    assert (retry["pipeline_index"], retry["t"]) == (0, halted["t"] + 1800 + 0.1)
    (label,) = [e for e in run.of("label_set", shop, label=MANUAL_LABEL) if e["t"] == retry["t"]]
    assert label["seq"] < retry["seq"]
    assert [e["pipeline"] for e in jobs[2:5]] == ["render", "provision", "publish"]
    assert run.end_of(jobs[4]["job"])["event"] == "job_completed"


CHECKS: dict[str, Callable[[Run], None]] = {
    QUICKSTART: check_quickstart,
    "configure-halts-on-failure": check_configure_halts_on_failure,
    "onfailure-restarts-failed-container-in-place": check_onfailure_restarts_failed_container_in_place,
    "never-restarts-whole-pod": check_never_restarts_whole_pod,
    "manual-reconciliation-mid-flight": check_manual_reconciliation_mid_flight,
    "spec-change-mid-flight-waits": check_spec_change_mid_flight_waits,
    "spec-change-mid-flight-suspends-kratix-2025": check_spec_change_mid_flight_suspends_kratix_2025,
    "week-of-cadence-with-daily-restarts": check_week_of_cadence_with_daily_restarts,
    "jobs-deleted-then-restart": check_jobs_deleted_then_restart,
    "promise-update-fans-out-to-50-resources": check_promise_update_fans_out_to_50_resources,
    "delete-stuck-until-manual-reconciliation": check_delete_stuck_until_manual_reconciliation,
    "delete-waits-for-running-configure": check_delete_waits_for_running_configure,
    "delete-retries-via-workflow-control": check_delete_retries_via_workflow_control,
    "promise-delete-with-resources": check_promise_delete_with_resources,
    "workflow-retry-after": check_workflow_retry_after,
    "workflow-suspend-and-resume": check_workflow_suspend_and_resume,
    "paused-promise": check_paused_promise,
    "job-retention": check_job_retention,
    "status-merge": check_status_merge,
    "promise-configure-gates-resources": check_promise_configure_gates_resources,
    "promise-reruns-gate-resources": check_promise_reruns_gate_resources,
    "two-resources-run-in-parallel": check_two_resources_run_in_parallel,
    "delete-removes-finalizers-in-order": check_delete_removes_finalizers_in_order,
    "delete-runs-only-first-pipeline": check_delete_runs_only_first_pipeline,
    "never-backoff-reaches-cap": check_never_backoff_reaches_cap,
    "failed-workflow-retried-on-interval": check_failed_workflow_retried_on_interval,
}
