"""Real executors inside the simulator (issue 6, item 2) and the I1 trace rule.

A scenario with ``spec.executor: process|container`` runs the example Promises' real scripts at every simulated
pod step; simulated time still follows ``behaviour``. A simulated week of ``examples/idempotent`` passes the I1
trace checker, a week of ``examples/i1-timestamp`` (with the simulated clock) fails it; both through the process
executor (bubblewrap), and the idempotent one (plus a day of ``i4-random-name``) through podman. Without
bubblewrap or podman those tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_pipeline_contract import requires_tool, skip_or_fail

from conformance.checkers import run_checkers
from conformance.context import CheckContext
from conformance.verdict import Verdict
from sim.cli import main
from sim.errors import InputError
from sim.executors.base import ExecutorUnavailable, PodVolumes, StepContext
from sim.executors.modelled import InjectedFailures
from sim.executors.process import ProcessExecutor, find_libfaketime
from sim.executors.simulated import SIMULATED_EPOCH, SimulatedRealExecutor, jsonable, object_document
from sim.model.promise import Promise
from sim.scenario import Behaviour, ContainerBehaviour, ExecutorConfig, Scenario
from sim.scenario_loader import load_scenario
from sim.simulation import Simulation
from sim.trace import Event, Trace

REPO_ROOT = Path(__file__).resolve().parent.parent
REAL_DIR = REPO_ROOT / "scenarios" / "real"
IDEMPOTENT = REAL_DIR / "idempotent-week-process.yaml"
TIMESTAMP = REAL_DIR / "timestamp-week-process.yaml"
IMAGE = "localhost/kratix-sim-examples:latest"


# -- fixtures and helpers -----------------------------------------------------------------------------------------
@pytest.fixture
def tmpdir_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Temporary directories go to a folder of this test's own, which must be empty again at the end."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    assert list(folder.iterdir()) == [], "a real run left a temporary directory behind"


@pytest.fixture(scope="module")
def bwrap() -> None:
    requires_tool("bwrap", "the process executor needs bubblewrap: apt-get install bubblewrap")
    try:
        ProcessExecutor().check()
    except ExecutorUnavailable as exc:
        skip_or_fail(str(exc))


@pytest.fixture(scope="module")
def podman() -> str:
    binary = requires_tool("podman", "the container executor needs podman (scripts/ci-setup-containers)")
    from sim.executors.container import ContainerExecutor

    engine = ContainerExecutor(binary="podman")
    try:
        engine.check()
    except ExecutorUnavailable as exc:
        skip_or_fail(str(exc))
    if not engine.has_image(IMAGE):
        skip_or_fail(f"{IMAGE} is not built (scripts/ci-setup-containers builds it)")
    return binary


def simulate(scenario: Scenario, promise: Promise | None = None) -> tuple[Simulation, Trace]:
    sim = Simulation(scenario, promise=promise)
    return sim, sim.run()


def i1_verdict(trace: Trace) -> Verdict:
    [verdict] = run_checkers(CheckContext(trace.header, trace.events), ["I1"])
    return verdict


def trace_text(trace: Trace) -> str:
    return "\n".join(json.dumps(event) for event in [trace.header, *trace.events])


def events(trace: Trace, name: str, **fields: Any) -> list[Event]:
    return [e for e in trace.events if e["event"] == name and all(e.get(k) == v for k, v in fields.items())]


def with_executor(scenario: Scenario, duration_s: float | None = None, **executor: Any) -> Scenario:
    spec_update: dict[str, Any] = {"executor": scenario.spec.executor.model_copy(update=executor)}
    if duration_s is not None:
        spec_update["duration"] = duration_s
    updated = scenario.model_copy(update={"spec": scenario.spec.model_copy(update=spec_update)})
    assert scenario.base_dir is not None
    return updated.with_base_dir(scenario.base_dir)


# -- a simulated week through the process executor -----------------------------------------------------------------
@pytest.mark.usefixtures("bwrap")
def test_a_week_of_the_idempotent_example_passes_i1(tmpdir_empty: Path) -> None:
    scenario, promise = load_scenario(IDEMPOTENT)
    sim, trace = simulate(scenario, promise)
    verdict = i1_verdict(trace)
    assert verdict.result == "pass" and "not exercised" not in verdict.message, verdict
    # Every 10h re-run wrote the same Work; the faults all struck: restarts, a dirty retry, an exhausted Job.
    writes = events(trace, "work_written", object="default/example")
    assert len(writes) >= 15 and [w["changed"] for w in writes].count(True) == 1
    assert len(events(trace, "fault_injected", reason="controller-restart")) == 7
    retried = events(trace, "container_exited", object="default/example", container="configure",
                     reason="InjectedFailure")
    assert len(retried) == 1
    assert events(trace, "container_started", object="default/example", container="configure", attempt=2)
    assert len(events(trace, "job_failed", object="default/analytics")) == 1
    # The state store holds the real files the scripts wrote.
    [work] = sim.cluster.works_of("default/analytics")
    assert work.files["database.yaml"]["data"] == {
        "size": "large", "instanceId": "db-198cff9c96dd", "endpoint": "db-198cff9c96dd.databases.example.internal",
    }
    assert work.destination_selectors == [{"matchLabels": {"environment": "dev"}}]
    assert sim.cluster.objects["default/example"].user_status["provisioned"] is True
    # Simulated time followed the model; wall time was measured on the side.
    assert sim.real_executor is not None and sim.real_executor.steps
    assert all(step.wall_s < 30 for step in sim.real_executor.steps)
    start = events(trace, "container_started", container="provision")[0]
    [end] = events(trace, "container_exited", container="provision", pod=start["pod"], attempt=start["attempt"])
    assert end["t"] - start["t"] == 45  # behaviour: provision takes 45 s of simulated time


@pytest.mark.usefixtures("bwrap")
def test_a_week_of_the_timestamp_example_fails_i1(tmpdir_empty: Path) -> None:
    if find_libfaketime() is None:
        skip_or_fail("libfaketime is not installed (apt-get install faketime)")
    scenario, promise = load_scenario(TIMESTAMP)
    sim, trace = simulate(scenario, promise)
    verdict = i1_verdict(trace)
    assert verdict.result == "fail", verdict
    assert "default/example pipeline instance-configure" in verdict.message and "re-run 2" in verdict.message
    assert verdict.event is not None and verdict.event["event"] == "work_written"
    # The script's `date` saw the simulated clock: the last Work carries the time of the last run.
    [work] = sim.cluster.works_of("default/example")
    last_run = max(e["t"] for e in events(trace, "container_started", container="configure"))
    stamp = work.files["configmap.yaml"]["data"]["createdAt"]
    assert stamp == _iso(SIMULATED_EPOCH + int(last_run))
    # Same scenario, same trace, byte for byte, though the script reads the clock.
    _, again = simulate(scenario, promise)
    assert trace_text(again) == trace_text(trace)


def _iso(epoch_s: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(epoch_s, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.usefixtures("bwrap")
def test_kratix_sim_run_accepts_a_real_executor_scenario(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    scenario, _ = load_scenario(TIMESTAMP)
    trace_file = tmp_path / "trace.jsonl"
    code = main(["run", str(TIMESTAMP), "--duration", "1d", "--trace", str(trace_file)])
    out = capsys.readouterr().out
    assert code == 0
    assert "real executor process:" in out and "wall time" in out
    text = trace_file.read_text()
    assert "wall" not in text and "/tmp" not in text  # no wall-clock time and no paths in the trace
    assert scenario.spec.executor.type == "process"


@pytest.mark.usefixtures("bwrap")
def test_check_judges_i1_on_a_real_executor_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    """`check` adds I1 to the rules of a scenario whose executor runs real containers (its Works may change on
    a re-run): the timestamp week fails it (exit 1), naming the rule and how to reproduce it."""
    if find_libfaketime() is None:
        skip_or_fail("libfaketime is not installed (apt-get install faketime)")
    code = main(["check", str(TIMESTAMP), "--seeds", "1", "--format", "json"])
    verdicts = json.loads(capsys.readouterr().out)["verdicts"]
    assert code == 1
    assert {v["rule"] for v in verdicts if v["result"] == "fail"} == {"I1"}


# -- the adapter, one step at a time ---------------------------------------------------------------------------
def _promise(script: str, name: str = "step") -> Promise:
    return Promise.model_validate({
        "metadata": {"name": "demo"},
        "spec": {
            "api": {"spec": {"group": "demo.example.io", "names": {"kind": "Demo", "plural": "demos"},
                             "versions": [{"name": "v1", "served": True, "storage": True}]}},
            "workflows": {"resource": {"configure": [{"metadata": {"name": "pipe"}, "spec": {"containers": [
                {"name": name, "image": "busybox", "command": ["sh", "-c", script]}]}}]}},
        },
    })


def _context(promise: Promise, execution: int = 1, attempt: int = 1) -> StepContext:
    pipeline = promise.pipelines("resource", "configure")[0]
    return StepContext("team-a/one", promise.name, "resource", "configure", pipeline, pipeline.spec.containers[0],
                       execution, attempt)


def _volumes() -> PodVolumes:
    return PodVolumes({"metadata": {"name": "one", "namespace": "team-a", "labels": {}},
                       "spec": {"size": "small"}, "status": {"ready": True}})


def _adapter(promise: Promise, **options: Any) -> SimulatedRealExecutor:
    behaviour = Behaviour(default=ContainerBehaviour(duration=12.5))
    adapter = SimulatedRealExecutor(ProcessExecutor(), behaviour, lambda: promise, **options)
    adapter.check(promise)
    return adapter


@pytest.mark.usefixtures("bwrap")
def test_a_step_sees_the_object_and_its_files_come_back_into_the_volumes(tmpdir_empty: Path) -> None:
    promise = _promise(
        "cp /kratix/input/object.yaml /kratix/output/seen.yaml; "
        "printf 'ready: ok\\n' > /kratix/metadata/status.yaml; "
        "printf -- '- matchLabels: {env: dev}\\n' > /kratix/metadata/destination-selectors.yaml; "
        "printf '%s' \"$KRATIX_OBJECT_KIND $KRATIX_OBJECT_GROUP $KRATIX_OBJECT_VERSION\" > /kratix/output/env.txt; "
        "printf '\\377\\376\\375\\374' > /kratix/output/blob.bin; touch /kratix/input/x 2>/dev/null; exit 3")
    adapter = _adapter(promise)
    volumes = _volumes()
    outcome = adapter.start(_context(promise), volumes)
    assert (outcome.exit_code, outcome.duration_ms, outcome.reason) == (3, 12500, None)
    seen = volumes.output["seen.yaml"]
    assert seen["apiVersion"] == "demo.example.io/v1" and seen["kind"] == "Demo"
    assert seen["metadata"]["namespace"] == "team-a" and seen["status"] == {"ready": True}
    assert volumes.output["env.txt"] == "Demo demo.example.io v1"
    assert volumes.output["blob.bin"].startswith("<4 bytes, sha256 ")  # JSON-able for the Work digest
    assert volumes.metadata == {"status.yaml": {"ready": "ok"},
                                "destination-selectors.yaml": [{"matchLabels": {"env": "dev"}}]}
    assert adapter.steps[0].real_exit_code == 3 and adapter.steps[0].wall_s > 0
    json.dumps(volumes.output)


@pytest.mark.usefixtures("bwrap")
def test_a_dirty_retry_sees_the_previous_attempts_files_byte_for_byte(tmpdir_empty: Path) -> None:
    promise = _promise(
        "echo \"- attempt # a comment kept as written\" >> /kratix/metadata/log.yaml; "
        "cp /kratix/metadata/log.yaml /kratix/output/log-copy.txt; "
        "test $(wc -l < /kratix/metadata/log.yaml) -ge 2")
    adapter = _adapter(promise)
    volumes = _volumes()
    first = adapter.start(_context(promise, 1, 1), volumes)
    second = adapter.start(_context(promise, 2, 2), volumes)
    assert (first.exit_code, second.exit_code) == (1, 0)
    assert volumes.output["log-copy.txt"] == "- attempt # a comment kept as written\n" * 2
    assert volumes.metadata["log.yaml"] == ["attempt", "attempt"]
    # A fresh pod (new volumes) starts empty.
    fresh = _volumes()
    assert adapter.start(_context(promise, 3, 1), fresh).exit_code == 1


@pytest.mark.usefixtures("bwrap")
def test_injected_failures_timeouts_and_cleanup(tmpdir_empty: Path) -> None:
    promise = _promise("echo done > /kratix/output/done.txt")
    injected = InjectedFailures()
    injected.add("team-a/one", "resource/configure/pipe/step", 4, 1)
    adapter = _adapter(promise, injected=injected, external_targets=["/external"])
    volumes = _volumes()
    forced = adapter.start(_context(promise), volumes)
    assert (forced.exit_code, forced.reason) == (4, "InjectedFailure")
    assert volumes.output == {"done.txt": "done\n"}  # it ran and wrote its files: a dirty retry follows
    assert adapter.start(_context(promise, 2, 2), volumes).exit_code == 0
    external = adapter.external_dir("/external")
    assert external is not None and external.is_dir()
    adapter.close()
    assert not external.exists()

    hanging = _promise("sleep 30")
    slow = _adapter(hanging, timeout_s=0.5)
    outcome = slow.start(_context(hanging), _volumes())
    assert (outcome.exit_code, outcome.reason, outcome.duration_ms) == (137, "ContainerTimeout", 12500)
    assert slow.steps[0].timed_out and slow.steps[0].wall_s < 10


@pytest.mark.usefixtures("bwrap")
def test_a_simulated_clock_shows_scripts_the_simulated_time(tmpdir_empty: Path) -> None:
    if find_libfaketime() is None:
        skip_or_fail("libfaketime is not installed (apt-get install faketime)")
    promise = _promise("date -u +%Y-%m-%dT%H:%M:%S > /kratix/output/now.txt")
    behaviour = Behaviour()
    now = [90_061_500]  # 1d 1h 1m 1.5s
    adapter = SimulatedRealExecutor(ProcessExecutor(clock_offset_s=0.0), behaviour, lambda: promise,
                                    now_ms=lambda: now[0], clock_offset=True)
    volumes = _volumes()
    adapter.start(_context(promise), volumes)
    assert volumes.output["now.txt"] == "2026-01-02T01:01:01\n"


def test_object_document_and_jsonable() -> None:
    promise = _promise("true")
    document = object_document(promise, _context(promise), {"metadata": {"name": "one", "namespace": None},
                                                             "spec": {}, "status": {}})
    assert list(document)[:2] == ["apiVersion", "kind"] and document["metadata"]["namespace"] == "default"
    import datetime

    assert jsonable({1: b"ab", "d": datetime.date(2026, 1, 2), "f": float("nan")}) == {
        "1": "<2 bytes, sha256 fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603>",
        "d": "2026-01-02", "f": "nan"}


# -- scenario settings ------------------------------------------------------------------------------------------
def test_executor_settings_and_their_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = IDEMPOTENT.read_text()
    assert Scenario.model_validate({"metadata": {"name": "x"}, "spec": {"promise": "p.yaml", "executor": "process"}}
                                   ).spec.executor == ExecutorConfig(type="process")
    assert Scenario.model_validate({"metadata": {"name": "x"}, "spec": {"promise": "p.yaml"}}
                                   ).spec.executor.type == "modelled"
    cases = {
        "type: process": ("type: teleport", "unknown type 'teleport'; accepted: modelled, process, container"),
        "timeout: 30s": ("colour: blue", "unknown key 'colour'"),
        "externalMounts: [/external]": ("externalMounts: [external]", "give an absolute path outside /kratix"),
    }
    for old, (new, message) in cases.items():
        path = tmp_path / "bad.yaml"
        path.write_text(base.replace(old, new).replace("../../examples", str(REPO_ROOT / "examples")))
        with pytest.raises(InputError) as caught:
            load_scenario(path)
        assert message in str(caught.value), (new, str(caught.value))
        assert "spec.executor" in str(caught.value)
    missing = tmp_path / "no-bwrap.yaml"
    missing.write_text(base.replace("type: process", "type: process\n    bwrap: kratix-sim-no-such-bwrap")
                       .replace("../../examples", str(REPO_ROOT / "examples")))
    assert main(["run", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "spec.executor" in err and "bubblewrap" in err and err.count("\n") == 1


# -- once through podman --------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("podman")
def test_podman_runs_the_same_scenarios(tmpdir_empty: Path) -> None:
    scenario, promise = load_scenario(IDEMPOTENT)
    in_containers = with_executor(scenario, duration_s=2 * 86400, type="container", mounts=[])
    sim, trace = simulate(in_containers, promise)
    assert i1_verdict(trace).result == "pass"
    assert sim.real_executor is not None and sim.real_executor.name == "container"
    assert len(events(trace, "work_written", object="default/example")) >= 4
    assert events(trace, "container_exited", container="configure", reason="InjectedFailure")
    [work] = sim.cluster.works_of("default/example")
    assert work.files["database.yaml"]["data"]["instanceId"] == "db-45b719e2f6ed"

    random_name = Scenario.model_validate({
        "metadata": {"name": "random-bucket-in-containers"},
        "spec": {"duration": "1d", "kratix": {"reconciliationInterval": "10h"},
                 "promise": str(REPO_ROOT / "examples" / "i4-random-name" / "promise.yaml"),
                 "resources": [{"name": "example"}], "executor": {"type": "container", "timeout": "60s"}},
    }).with_base_dir(REPO_ROOT)
    _, random_trace = simulate(random_name)
    assert len(events(random_trace, "work_written")) == 3
    assert i1_verdict(random_trace).result == "fail"


# -- the I1 trace checker on hand-written traces ----------------------------------------------------------------
HEADER: Event = {"event": "header", "format": "kratix-sim-trace/v1", "profile": "kratix-2026.08"}


class _TraceBuilder:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.jobs = 0

    def add(self, t: float, event: str, **fields: Any) -> None:
        self.events.append({"seq": len(self.events) + 1, "t": t, "event": event, **fields})

    def run(self, t: float, digest: str, hash_: str = "h1", obj: str = "default/a", pipeline: str = "p") -> None:
        """One Job of ``pipeline`` that writes a Work with ``digest``."""
        self.jobs += 1
        job = f"job-{self.jobs}"
        self.add(t, "job_created", object=obj, workflow="resource", action="configure", pipeline=pipeline,
                 pipeline_index=0, job=job, hash=hash_, backoff_limit=6, restart_policy="OnFailure")
        self.add(t, "container_started", object=obj, job=job, pod=f"{job}-pod", pipeline=pipeline,
                 container="work-writer", attempt=1)
        previous = [e for e in self.events if e["event"] == "work_written" and e["object"] == obj
                    and e["pipeline"] == pipeline]
        changed = not previous or previous[-1]["digest"] != digest
        self.add(t + 1, "work_written", object=obj, pipeline=pipeline, digest=digest, files=1, changed=changed)

    def verdict(self) -> Verdict:
        [verdict] = run_checkers(CheckContext(HEADER, self.events), ["I1"])
        return verdict


def test_i1_passes_when_re_runs_write_the_same_work() -> None:
    trace = _TraceBuilder()
    for i in range(4):
        trace.run(i * 100.0, "d1")
    assert trace.verdict().result == "pass"
    assert "not exercised" not in trace.verdict().message


def test_i1_allows_one_converging_re_run_then_fails_on_a_change() -> None:
    converging = _TraceBuilder()
    for i, digest in enumerate(["d1", "d2", "d2", "d2"]):  # the first re-run saw the fed-back status
        converging.run(i * 100.0, digest)
    assert converging.verdict().result == "pass"
    drifting = _TraceBuilder()
    for i, digest in enumerate(["d1", "d1", "d1", "d2"]):
        drifting.run(i * 100.0, digest)
    verdict = drifting.verdict()
    assert verdict.result == "fail" and verdict.event is not None and verdict.event["t"] == 301
    assert "re-run 3" in verdict.message and "unchanged spec" in verdict.message


def test_i1_a_spec_change_a_deleted_work_or_a_recreated_object_starts_over() -> None:
    trace = _TraceBuilder()
    trace.run(0, "d1")
    trace.run(100, "d1")
    trace.run(200, "d2", hash_="h2")  # spec changed: a new series
    trace.run(300, "d3", hash_="h2")  # its first re-run may converge
    trace.run(400, "d3", hash_="h2")
    trace.add(450, "work_deleted", object="default/a", pipeline="p", reason="cleanup")
    trace.run(500, "d4", hash_="h2")
    trace.run(600, "d5", hash_="h2")
    trace.run(700, "d5", hash_="h2")
    trace.add(750, "object_removed", object="default/a")
    trace.add(760, "object_created", object="default/a", workflow="resource", hash="x")
    trace.run(800, "d6", hash_="h2")
    trace.run(900, "d6", hash_="h2")
    assert trace.verdict().result == "pass"
    trace.run(1000, "d7", hash_="h2")
    assert trace.verdict().result == "fail"


def test_i1_pipelines_and_objects_are_judged_apart_and_unknown_when_untied() -> None:
    trace = _TraceBuilder()
    for i in range(3):
        trace.run(i * 100.0, "a", pipeline="first")
        trace.run(i * 100.0 + 10, f"b{i % 2}", pipeline="second", obj="default/b")
    verdict = trace.verdict()
    assert verdict.result == "fail" and "default/b pipeline second" in verdict.message
    untied = _TraceBuilder()
    untied.add(1, "work_written", object="default/a", pipeline="p", digest="d", files=1, changed=True)
    assert untied.verdict().result == "unknown"
    assert _TraceBuilder().verdict().result == "pass"  # nothing to judge: not exercised
