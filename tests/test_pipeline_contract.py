"""The pipeline contract (reference section 1, J1/J3, C1, P1-P6) run for real through the process executor.

Needs bubblewrap. Without it these tests skip with the reason, except under CI=true, where they fail.
The helpers here (``requires_tool``, ``load_example``, ``check_example``) are shared with
``test_executors.py``, which runs the same examples as OCI containers.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.executors.base import ContainerExit, ContainerInvocation, ExecutorError, ExecutorUnavailable, Mount
from sim.executors.contract import (
    PipelineRun,
    expand_vars,
    merge_status,
    run_pipeline,
    run_workflow,
    with_status,
)
from sim.executors.process import ProcessExecutor, find_libfaketime
from sim.model.loader import load_promise
from sim.model.promise import Container, Promise, WorkflowAction, WorkflowType

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO_ROOT / "examples"
EXAMPLE_NAMES = sorted(p.parent.name for p in EXAMPLES_DIR.glob("*/promise.yaml"))


# -- shared helpers ----------------------------------------------------------------------------------------
def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``; under CI=true fail instead (CI must run these tests)."""
    if in_ci():
        pytest.fail(f"{reason}; CI=true, so this cannot be skipped (run scripts/ci-setup-containers)")
    pytest.skip(reason)


def requires_tool(name: str, hint: str = "") -> str:
    """The tool's path; skip (fail under CI=true) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        skip_or_fail(f"{name} is not installed" + (f" ({hint})" if hint else ""))
    assert path is not None
    return path


def load_example(name: str) -> tuple[Promise, dict[str, Any]]:
    """An example's Promise and its resource request document."""
    promise = load_promise(EXAMPLES_DIR / name / "promise.yaml").promise
    request = yaml.safe_load((EXAMPLES_DIR / name / "resource-request.yaml").read_text())
    return promise, request


def example_script_mounts() -> list[Mount]:
    """Every example's scripts at ``/scripts/<example>`` (the layout of the examples' image)."""
    return [Mount(EXAMPLES_DIR / name / "scripts", f"/scripts/{name}") for name in EXAMPLE_NAMES]


def busybox_rootfs(target: Path) -> Path:
    """A busybox root like the examples' image (without the scripts, which are mounted)."""
    busybox = Path("/bin/busybox")
    if not busybox.is_file():
        skip_or_fail("/bin/busybox is not installed (apt-get install busybox-static)")
    (target / "bin").mkdir(parents=True)
    shutil.copy2(busybox, target / "bin" / "busybox")
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in set(applets) - {"busybox"}:
        (target / "bin" / applet).symlink_to("busybox")
    (target / "etc").mkdir()
    (target / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    return target


def processes_matching(marker: str) -> list[int]:
    """PIDs whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(int(entry.name))
    return found


def unique_marker() -> str:
    """A ``sleep`` argument no other process (or concurrent test session) uses: ``1234.567890``-like."""
    return f"{secrets.randbelow(9000) + 1000}.{secrets.randbelow(900000) + 100000}"


def wait_until_gone(marker: str, timeout_s: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while True:
        left = processes_matching(marker)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


Runner = Callable[..., PipelineRun]


def example_runner(executor: Any, workdir: Path) -> Runner:
    """``run(example, action="configure", obj=None, pipeline=0, **options)`` for the resource workflow."""
    def run(name: str, action: WorkflowAction = "configure", obj: dict[str, Any] | None = None,
            pipeline: int = 0, **options: Any) -> PipelineRun:
        promise, request = load_example(name)
        return run_pipeline(promise, promise.pipelines("resource", action)[pipeline], "resource", action,
                            request if obj is None else obj, executor, workdir=workdir, timeout_s=30, **options)
    return run


def check_examples(executor: Any, workdir: Path, external: Path) -> None:
    """Every example does what its README entry says, through ``executor`` (external state at ``external``,
    mounted at /external)."""
    run = example_runner(executor, workdir)

    # idempotent: converges on the second run (I1), same result after an in-place retry (I2), delete twice.
    first = run("idempotent")
    assert first.outcome == "succeeded", first
    assert first.work is not None and first.work.selectors == [{"matchLabels": {"environment": "dev"}}]
    configmap = first.work.files["database.yaml"]
    assert configmap["data"]["size"] == "small" and configmap["data"]["instanceId"].startswith("db-")
    assert first.status["provisioned"] is True
    _, request = load_example("idempotent")
    second = run("idempotent", obj=with_status(request, first.status))
    assert (second.work, second.status) == (first.work, first.status)
    retried = run("idempotent", inject_failures={"provision": 1, "configure": 1})
    assert retried.outcome == "succeeded" and [e.attempt for e in retried.executions] == [1, 2, 1, 2]
    assert (retried.work, retried.status) == (first.work, first.status)
    assert run("idempotent", action="delete").outcome == "succeeded"
    assert run("idempotent", action="delete").outcome == "succeeded"

    # i1/i4: every run writes something new.
    a, b = run("i4-random-name"), run("i4-random-name")
    assert a.outcome == b.outcome == "succeeded"
    assert a.status["bucketName"] != b.status["bucketName"]
    stamped = run("i1-timestamp")
    assert stamped.work is not None and "createdAt" in stamped.work.files["configmap.yaml"]["data"]

    # i2: one clean run works, a retry in the same pod duplicates the appended selector (P3).
    assert run("i2-append").outcome == "succeeded"
    dirty = run("i2-append", inject_failures={"configure": 1})
    assert dirty.outcome == "failed" and dirty.reason == "WorkWriterFailed"
    assert "P3" in dirty.problem_rules()

    # i3: a failure between the two containers loses the password; the re-run cannot rebuild it.
    clean = run("i3-partial-failure")
    assert clean.outcome == "succeeded"
    shutil.rmtree(external / "users")
    partial = run("i3-partial-failure", fail_after=1)
    assert partial.outcome == "failed" and partial.reason == "InjectedFailure" and partial.work is None
    rerun = run("i3-partial-failure")
    assert rerun.outcome == "succeeded"
    assert rerun.status["password"] == "unknown" != clean.status["password"]

    # i6: the first delete works, the second fails (D4 would leave the object stuck).
    assert run("i6-delete-not-idempotent").outcome == "succeeded"
    assert run("i6-delete-not-idempotent", action="delete").outcome == "succeeded"
    again = run("i6-delete-not-idempotent", action="delete", backoff_limit=1)
    assert again.outcome == "failed" and again.reason == "BackoffLimitExceeded"

    # p1: the read-only input makes the copy fail; the problem is named.
    p1 = run("p1-writes-input", backoff_limit=0)
    assert p1.outcome == "failed" and "P1" in p1.problem_rules()

    # p2 / p4: the status-writer and the work-writer reject them.
    p2 = run("p2-kratix-status-key")
    assert p2.outcome == "failed" and p2.reason == "StatusWriterFailed" and "P2" in p2.problem_rules()
    assert p2.status == {}
    p4 = run("p4-retry-after-days")
    assert p4.outcome == "failed" and "P4" in p4.problem_rules()

    # p5: the second Pipeline never sees the first one's metadata.
    promise, request = load_example("p5-cross-pipeline-metadata")
    flow = run_workflow(promise, "resource", "configure", request, executor, workdir=workdir, timeout_s=30,
                        backoff_limit=0)
    assert [r.outcome for r in flow.runs] == ["succeeded", "failed"]
    assert flow.status == {"replicas": 3}
    assert "P5" in flow.runs[1].problem_rules()


# -- fixtures -------------------------------------------------------------------------------------------------
@pytest.fixture
def external(tmp_path: Path) -> Path:
    path = tmp_path / "external"
    path.mkdir()
    return path


@pytest.fixture
def sandbox(external: Path) -> ProcessExecutor:
    requires_tool("bwrap", "the process executor needs bubblewrap: apt-get install bubblewrap")
    executor = ProcessExecutor(mounts=[*example_script_mounts(), Mount(external, "/external", read_only=False)])
    try:
        executor.check()
    except ExecutorUnavailable as exc:
        skip_or_fail(str(exc))
    return executor


def _promise(containers: list[dict[str, Any]], *, workflow: WorkflowType = "resource",
             action: WorkflowAction = "configure", **spec: Any) -> Promise:
    pipeline = {"metadata": {"name": "pipe"}, "spec": {"containers": containers, **spec}}
    return Promise.model_validate({
        "metadata": {"name": "demo"},
        "spec": {
            "api": {"spec": {"group": "demo.example.io", "names": {"kind": "Demo", "plural": "demos"},
                             "scope": "Namespaced"}},
            "workflows": {workflow: {action: [pipeline]}},
        },
    })


def _sh(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script], **extra}


REQUEST: dict[str, Any] = {
    "apiVersion": "demo.example.io/v1alpha1", "kind": "Demo",
    "metadata": {"name": "one", "namespace": "team-a"}, "spec": {"size": "small"},
}


def _run(executor: Any, workdir: Path, containers: list[dict[str, Any]], obj: dict[str, Any] | None = None,
         *, workflow: WorkflowType = "resource", action: WorkflowAction = "configure",
         pipeline_spec: dict[str, Any] | None = None, **options: Any) -> PipelineRun:
    promise = _promise(containers, workflow=workflow, action=action, **(pipeline_spec or {}))
    options.setdefault("timeout_s", 20)
    return run_pipeline(promise, promise.pipelines(workflow, action)[0], workflow, action,
                        REQUEST if obj is None else obj, executor, workdir=workdir, **options)


# -- environment and volumes ------------------------------------------------------------------------------
def test_user_containers_get_the_kratix_environment_then_their_own(sandbox: ProcessExecutor, workdir: Path) -> None:
    run = _run(sandbox, workdir, [_sh("env", "env > /kratix/output/env.txt; echo \"$0 $1\" > /kratix/output/args",
                                      env=[{"name": "GREETING", "value": "hello $(KRATIX_OBJECT_NAME)"},
                                           {"name": "KRATIX_PIPELINE_NAME", "value": "overridden"}],
                                      args=["$(GREETING)", "$$(GREETING)"])])
    assert run.outcome == "succeeded", run
    assert run.work is not None
    env = dict(line.split("=", 1) for line in run.work.files["env.txt"].splitlines())
    assert {k: v for k, v in env.items() if k.startswith("KRATIX_")} == {
        "KRATIX_WORKFLOW_ACTION": "configure", "KRATIX_WORKFLOW_TYPE": "resource", "KRATIX_PROMISE_NAME": "demo",
        "KRATIX_PIPELINE_NAME": "overridden", "KRATIX_OBJECT_KIND": "Demo", "KRATIX_OBJECT_GROUP": "demo.example.io",
        "KRATIX_OBJECT_VERSION": "v1alpha1", "KRATIX_OBJECT_NAME": "one", "KRATIX_OBJECT_NAMESPACE": "team-a",
        "KRATIX_CRD_PLURAL": "demos", "KRATIX_CLUSTER_SCOPED": "false",
    }
    assert env["GREETING"] == "hello one"
    assert run.work.files["args"] == "hello one $(GREETING)\n"
    assert "HOST" not in env and "VIRTUAL_ENV" not in env  # --clearenv: nothing of the harness leaks in


def test_promise_workflows_describe_the_promise(sandbox: ProcessExecutor, workdir: Path) -> None:
    promise_doc = {"apiVersion": "platform.kratix.io/v1alpha1", "kind": "Promise", "metadata": {"name": "demo"}}
    run = _run(sandbox, workdir, [_sh("env", "env | grep ^KRATIX_ > /kratix/output/env.txt")], promise_doc,
               workflow="promise")
    assert run.work is not None
    env = dict(line.split("=", 1) for line in run.work.files["env.txt"].splitlines())
    assert env["KRATIX_OBJECT_KIND"] == "Promise" and env["KRATIX_CRD_PLURAL"] == "promises"
    assert env["KRATIX_CLUSTER_SCOPED"] == "true" and env["KRATIX_OBJECT_NAMESPACE"] == ""
    assert env["KRATIX_WORKFLOW_TYPE"] == "promise"


def test_value_from_is_refused_before_anything_runs(sandbox: ProcessExecutor, workdir: Path) -> None:
    with pytest.raises(ExecutorError, match="valueFrom"):
        _run(sandbox, workdir, [_sh("a", "true", env=[{"name": "X", "valueFrom": {"secretKeyRef": {}}}])])
    with pytest.raises(ExecutorError, match="no command"):  # checked before the first container runs
        _run(sandbox, workdir, [_sh("first", "echo ran > /kratix/output/x"), {"name": "a", "image": "acme/step:v1"}])
    mapped = ProcessExecutor(entrypoints={"acme/step:v1": ["sh", "-c", "echo \"$0\" > /kratix/output/x"]})
    run = _run(mapped, workdir, [{"name": "a", "image": "acme/step:v1", "args": ["from-args"]}])
    assert run.work is not None and run.work.files == {"x": "from-args\n"}


def test_a_command_missing_on_this_host_is_the_executors_limit_not_a_failed_pipeline(
        sandbox: ProcessExecutor, workdir: Path) -> None:
    """A command that exists only inside the image cannot run in the process executor: an ExecutorError (exit 2
    in the commands), not six failed attempts reported as the Promise's failure; a script's own failing
    command is still the pipeline's failure."""
    with pytest.raises(ExecutorError, match="its command 'resource-configure' is not on this machine"):
        _run(sandbox, workdir, [{"name": "a", "image": "acme/step:v1", "command": ["resource-configure"]}])
    run = _run(sandbox, workdir, [_sh("a", "resource-configure")], backoff_limit=0)
    assert run.outcome == "failed"


def test_reader_writes_the_object_with_its_status_and_input_is_read_only(
        sandbox: ProcessExecutor, workdir: Path) -> None:
    obj = with_status(REQUEST, {"phase": "ready", "conditions": [{"type": "Ready", "status": "True"}]})
    run = _run(sandbox, workdir, [_sh("copy", "cp /kratix/input/object.yaml /kratix/output/seen.yaml; "
                                               "touch /kratix/input/new || echo refused > /kratix/output/write")], obj)
    assert run.outcome == "succeeded"
    assert run.work is not None
    assert run.work.files["seen.yaml"] == obj
    assert run.work.files["write"] == "refused\n"
    assert run.problem_rules() == ["P1"]


def test_onfailure_restarts_the_failed_container_in_the_same_pod(sandbox: ProcessExecutor, workdir: Path) -> None:
    containers = [
        _sh("first", "echo first >> /kratix/output/log"),
        _sh("flaky", "echo flaky >> /kratix/output/log; [ $(grep -c flaky /kratix/output/log) -ge 3 ]"),
    ]
    run = _run(sandbox, workdir, containers, restart_policy="OnFailure", backoff_limit=6)
    assert run.outcome == "succeeded" and run.pods == 1
    assert [(e.container, e.attempt, e.exit_code) for e in run.executions] == [
        ("first", 1, 0), ("flaky", 1, 1), ("flaky", 2, 1), ("flaky", 3, 0)]
    assert run.work is not None
    assert run.work.files["log"] == "first\nflaky\nflaky\nflaky\n"  # dirty volumes, earlier steps not re-run


def test_onfailure_fails_the_job_when_restarts_reach_the_backoff_limit(
        sandbox: ProcessExecutor, workdir: Path) -> None:
    run = _run(sandbox, workdir, [_sh("fails", "exit 3")], backoff_limit=3)
    assert (run.outcome, run.reason, run.pods, len(run.executions)) == ("failed", "BackoffLimitExceeded", 1, 3)
    assert {e.exit_code for e in run.executions} == {3}
    run = _run(sandbox, workdir, [_sh("fails", "exit 3")], backoff_limit=0)
    assert len(run.executions) == 1 and run.outcome == "failed"


def test_never_starts_a_fresh_pod_each_time(sandbox: ProcessExecutor, workdir: Path) -> None:
    containers = [
        _sh("first", "echo first >> /kratix/metadata/log"),
        _sh("flaky", "echo flaky >> /kratix/metadata/log; [ $(grep -c flaky /kratix/metadata/log) -ge 2 ]"),
    ]
    spec = {"restartPolicy": "Never", "jobOptions": {"backoffLimit": 2}}
    run = _run(sandbox, workdir, containers, pipeline_spec=spec)
    assert (run.restart_policy, run.backoff_limit) == ("Never", 2)
    assert (run.outcome, run.reason, run.pods) == ("failed", "BackoffLimitExceeded", 3)
    assert [(e.pod, e.container, e.attempt) for e in run.executions] == [
        (1, "first", 1), (1, "flaky", 1), (2, "first", 1), (2, "flaky", 1), (3, "first", 1), (3, "flaky", 1)]
    assert run.metadata["log"] == "first\nflaky\n"  # every pod starts empty


def test_injected_failures_retry_on_dirty_volumes(sandbox: ProcessExecutor, workdir: Path) -> None:
    containers = [_sh("a", "echo a >> /kratix/output/log"), _sh("b", "echo b >> /kratix/output/log")]
    run = _run(sandbox, workdir, containers, inject_failures={"b": 1})
    assert [(e.container, e.attempt, e.injected) for e in run.executions] == [
        ("a", 1, False), ("b", 1, True), ("b", 2, False)]
    assert run.work is not None and run.work.files["log"] == "a\nb\nb\n"
    run = _run(sandbox, workdir, containers, inject_failures={"b": 1}, restart_policy="Never")
    assert run.pods == 2 and run.work is not None and run.work.files["log"] == "a\nb\n"


def test_fail_after_stops_the_job_before_the_next_container(sandbox: ProcessExecutor, workdir: Path) -> None:
    containers = [_sh("a", "echo a > /kratix/output/a"), _sh("b", "echo 'x: 1' > /kratix/metadata/status.yaml")]
    run = _run(sandbox, workdir, containers, fail_after=1)
    assert (run.outcome, run.reason, [e.container for e in run.executions]) == ("failed", "InjectedFailure", ["a"])
    assert run.work is None and run.status == {} and run.output == {"a": "a\n"}


# -- work-writer and status-writer ---------------------------------------------------------------------------
def test_work_is_every_output_file_with_the_selectors(sandbox: ProcessExecutor, workdir: Path) -> None:
    script = ("mkdir -p /kratix/output/sub/deeper; printf 'a: 1\\n---\\nb: 2\\n' > /kratix/output/sub/multi.yaml; "
              "echo 'kind: X' > /kratix/output/sub/deeper/one.yml; echo text > /kratix/output/notes.txt; "
              "printf -- '- directory: app\\n  matchLabels: {env: dev}\\n' "
              "> /kratix/metadata/destination-selectors.yaml")
    run = _run(sandbox, workdir, [_sh("write", script)])
    assert run.work is not None
    assert run.work.files == {"notes.txt": "text\n", "sub/deeper/one.yml": {"kind": "X"},
                              "sub/multi.yaml": [{"a": 1}, {"b": 2}]}
    assert run.work.selectors == [{"directory": "app", "matchLabels": {"env": "dev"}}]


@pytest.mark.parametrize(("control", "outcome", "expected"), [
    ("suspend: true\nmessage: wait", "suspended", {"message": "wait", "suspend": True}),
    ("retryAfter: 1h30m\nmessage: later", "retry", {"message": "later", "retry_after_s": 5400.0}),
    ("retryAfter: 30s\nsuspend: true\nmaxAttempts: 3", "retry", {"message": "", "retry_after_s": 30.0}),
])
def test_suspend_or_retry_discards_the_work_but_merges_the_status(
        sandbox: ProcessExecutor, workdir: Path, control: str, outcome: str, expected: dict[str, Any]) -> None:
    script = (f"printf '{control}\\n' > /kratix/metadata/workflow-control.yaml; echo x > /kratix/output/x; "
              "echo 'step: one' > /kratix/metadata/status.yaml")
    run = _run(sandbox, workdir, [_sh("control", script), _sh("later", "echo later > /kratix/output/later")])
    assert run.outcome == outcome and run.succeeded
    assert run.work is None and run.work_discarded
    assert run.workflow_control == expected
    assert run.status == {"step": "one"}
    assert [e.container for e in run.executions] == ["control", "later"]  # later containers still run (C1)


def test_invalid_destination_selectors_fail_the_work_writer(sandbox: ProcessExecutor, workdir: Path) -> None:
    script = "printf -- '- directory: app\\n' > /kratix/metadata/destination-selectors.yaml"
    run = _run(sandbox, workdir, [_sh("bad", script)])
    assert (run.outcome, run.reason, run.work) == ("failed", "WorkWriterFailed", None)
    assert [(p.rule, p.fatal) for p in run.problems] == [("P3", True)]


def test_status_merge_replaces_top_level_keys_and_merges_conditions_by_type() -> None:
    current = {"a": 1, "nested": {"x": 1, "y": 2},
               "conditions": [{"type": "A", "status": "True"}, {"type": "B", "status": "True"}]}
    written = {"nested": {"x": 5}, "conditions": [{"type": "A", "status": "False"}, {"type": "C", "status": "True"}]}
    assert merge_status(current, written) == {
        "a": 1, "nested": {"x": 5},
        "conditions": [{"type": "A", "status": "False"}, {"type": "B", "status": "True"},
                       {"type": "C", "status": "True"}],
    }
    assert current["nested"] == {"x": 1, "y": 2}  # not modified in place
    assert expand_vars("$(A)-$(B)-$$(A)", {"A": "1"}) == "1-$(B)-$(A)"


def test_status_writer_merges_into_the_current_status(sandbox: ProcessExecutor, workdir: Path) -> None:
    obj = with_status(REQUEST, {"keep": "me", "nested": {"x": 1, "y": 2},
                                "conditions": [{"type": "A", "status": "True"}]})
    script = ("printf 'nested:\\n  x: 5\\nconditions:\\n- type: B\\n  status: \"True\"\\n' "
              "> /kratix/metadata/status.yaml")
    run = _run(sandbox, workdir, [_sh("status", script)], obj)
    assert run.status == {"keep": "me", "nested": {"x": 5},
                          "conditions": [{"type": "A", "status": "True"}, {"type": "B", "status": "True"}]}


@pytest.mark.parametrize(("status", "rule"), [("kratix:\\n  x: 1", "P2"), ("- a\\n- b", "W16")])
def test_status_writer_rejects_reserved_or_malformed_status(
        sandbox: ProcessExecutor, workdir: Path, status: str, rule: str) -> None:
    run = _run(sandbox, workdir, [_sh("status", f"printf -- '{status}\\n' > /kratix/metadata/status.yaml")],
               with_status(REQUEST, {"old": 1}))
    assert (run.outcome, run.reason, run.status) == ("failed", "StatusWriterFailed", {"old": 1})
    assert [(p.rule, p.fatal) for p in run.problems] == [(rule, True)]


def test_invalid_retry_after_is_p4(sandbox: ProcessExecutor, workdir: Path) -> None:
    run = _run(sandbox, workdir, [_sh("c", "echo 'retryAfter: 1d' > /kratix/metadata/workflow-control.yaml")],
               action="delete")
    assert (run.outcome, run.reason) == ("failed", "StatusWriterFailed")  # delete: no work-writer
    assert run.problem_rules() == ["P4"]


def test_promise_workflows_keep_only_the_message(sandbox: ProcessExecutor, workdir: Path) -> None:
    promise_doc = {"apiVersion": "platform.kratix.io/v1alpha1", "kind": "Promise", "metadata": {"name": "demo"}}
    run = _run(sandbox, workdir, [_sh("s", "printf 'message: hi\\nextra: 1\\n' > /kratix/metadata/status.yaml")],
               promise_doc, workflow="promise")
    assert run.outcome == "succeeded" and run.status == {"message": "hi"}
    assert [(p.rule, p.fatal) for p in run.problems] == [("P6", False)]


def test_legacy_volume_mounts_alias_the_pod_volumes(sandbox: ProcessExecutor, workdir: Path) -> None:
    container = _sh("legacy", "cp /input/object.yaml /output/object.yaml",
                    volumeMounts=[{"name": "input", "mountPath": "/input"},
                                  {"name": "output", "mountPath": "/output"},
                                  {"name": "secret", "mountPath": "/secret"}])
    run = _run(sandbox, workdir, [container])
    assert run.work is not None and run.work.files["object.yaml"]["metadata"]["name"] == "one"
    assert any("'secret'" in w for w in run.warnings)


# -- the harness guards: timeouts, isolation, cleanup -----------------------------------------------------------
def test_a_hanging_container_is_killed_with_everything_it_started(sandbox: ProcessExecutor, workdir: Path) -> None:
    marker = unique_marker()
    start = time.monotonic()
    run = _run(sandbox, workdir, [_sh("hang", f"sleep {marker} & setsid sleep {marker} & sleep {marker}; wait")],
               timeout_s=1)
    assert time.monotonic() - start < 10
    assert (run.outcome, run.reason) == ("failed", "ContainerTimeout")
    assert len(run.executions) == 1 and run.executions[0].timed_out and run.executions[0].exit_code == 137
    assert wait_until_gone(marker) == []


def test_a_container_cannot_write_outside_its_mounts(sandbox: ProcessExecutor, workdir: Path, tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("untouched\n")
    passwd = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
    targets = [str(canary), str(tmp_path / "new.txt"), "/etc/passwd", "/etc/kratix-sim-canary",
               str(REPO_ROOT / "kratix-sim-canary"), str(Path.home() / "kratix-sim-canary"), "/usr/kratix-sim-canary",
               "/tmp/kratix-sim-canary"]
    script = " ; ".join(f"echo owned >> {t}" for t in targets) + " ; true"
    run = _run(sandbox, workdir, [_sh("escape", script)])
    assert run.outcome == "succeeded"
    assert canary.read_text() == "untouched\n"
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() == passwd
    for target in targets[1:]:
        if target != "/etc/passwd":
            assert not Path(target).exists(), target


def test_no_network_in_the_sandbox(sandbox: ProcessExecutor, workdir: Path) -> None:
    run = _run(sandbox, workdir, [_sh("net", "ls /sys/class/net 2>/dev/null > /kratix/output/ifaces || "
                                             "cat /proc/net/dev > /kratix/output/ifaces")])
    assert run.work is not None
    text = run.work.files["ifaces"]
    assert "eth0" not in text and "ens" not in text


def test_temporary_directories_are_removed_after_failures_too(sandbox: ProcessExecutor, workdir: Path) -> None:
    for containers in ([_sh("ok", "echo x > /kratix/output/x")], [_sh("fail", "exit 1")],
                       [_sh("chmod", "mkdir /kratix/output/locked; touch /kratix/output/locked/f; "
                                     "chmod 000 /kratix/output/locked")]):
        _run(sandbox, workdir, containers, backoff_limit=1)
        assert list(workdir.iterdir()) == []


class _InterruptingExecutor:
    """Wraps an executor; sends SIGINT to this process while the ``victim`` container runs (a Ctrl-C)."""

    name = "interrupting"

    def __init__(self, inner: ProcessExecutor, victim: str, delay_s: float) -> None:
        self.inner, self.victim, self.delay_s = inner, victim, delay_s

    def check(self) -> None:
        self.inner.check()

    def validate(self, container: Container) -> None:
        self.inner.validate(container)

    def run(self, invocation: ContainerInvocation) -> ContainerExit:
        if invocation.container.name == self.victim:
            main = threading.main_thread().ident
            assert main is not None
            threading.Timer(self.delay_s, signal.pthread_kill, (main, signal.SIGINT)).start()
        return self.inner.run(invocation)


class _RaisingExecutor(_InterruptingExecutor):
    def run(self, invocation: ContainerInvocation) -> ContainerExit:
        if invocation.container.name == self.victim:
            raise KeyboardInterrupt
        return self.inner.run(invocation)


def test_an_interrupted_run_leaves_nothing_behind(sandbox: ProcessExecutor, workdir: Path) -> None:
    assert threading.current_thread() is threading.main_thread()
    marker = unique_marker()
    containers = [_sh("first", "echo x > /kratix/output/x"), _sh("hang", f"sleep {marker} & sleep {marker}")]
    with pytest.raises(KeyboardInterrupt):
        _run(_InterruptingExecutor(sandbox, "hang", 0.5), workdir, containers, timeout_s=30)
    assert list(workdir.iterdir()) == []
    assert wait_until_gone(marker) == []
    with pytest.raises(KeyboardInterrupt):
        _run(_RaisingExecutor(sandbox, "hang", 0), workdir, containers)
    assert list(workdir.iterdir()) == []


# -- the examples ------------------------------------------------------------------------------------------
def test_the_examples_behave_as_documented(sandbox: ProcessExecutor, workdir: Path, external: Path) -> None:
    check_examples(sandbox, workdir, external)


def test_the_examples_run_with_busybox(workdir: Path, external: Path, tmp_path: Path) -> None:
    """The scripts are busybox-sh scripts: the same run in a busybox root as in the examples' image."""
    requires_tool("bwrap", "the process executor needs bubblewrap: apt-get install bubblewrap")
    rootfs = busybox_rootfs(tmp_path / "rootfs")
    executor = ProcessExecutor(rootfs=rootfs,
                               mounts=[*example_script_mounts(), Mount(external, "/external", read_only=False)])
    check_examples(executor, workdir, external)


def test_clock_offset_shifts_the_time_scripts_see(sandbox: ProcessExecutor, workdir: Path) -> None:
    if find_libfaketime() is None:
        skip_or_fail("libfaketime is not installed (apt-get install faketime)")
    shifted = ProcessExecutor(mounts=sandbox.mounts, clock_offset_s=400 * 86400)
    run = example_runner(sandbox, workdir)
    now = run("i1-timestamp")
    later = example_runner(shifted, workdir)("i1-timestamp")
    assert now.work is not None and later.work is not None
    year_now = int(now.work.files["configmap.yaml"]["data"]["createdAt"][:4])
    year_later = int(later.work.files["configmap.yaml"]["data"]["createdAt"][:4])
    assert year_later == year_now + 1 or (year_later == year_now + 2)
    with pytest.raises(ExecutorError):
        ProcessExecutor(rootfs=workdir, clock_offset_s=1)


def test_the_clock_offset_leaves_the_environment_unchanged(sandbox: ProcessExecutor, workdir: Path) -> None:
    """The offset goes to libfaketime through /etc/faketimerc, not FAKETIME: a script dumping its environment
    writes the same file under any clock (no false I1/I4 difference), while `date` still moves."""
    if find_libfaketime() is None:
        skip_or_fail("libfaketime is not installed (apt-get install faketime)")
    dump = [_sh("dump", "env | sort > /kratix/output/env; date -u +%Y > /kratix/output/year")]
    runs = [_run(ProcessExecutor(mounts=sandbox.mounts, clock_offset_s=offset), workdir, dump)
            for offset in (0.0, 400 * 86400, 800 * 86400 + 0.25)]
    works = [run.work for run in runs]
    assert all(work is not None for work in works)
    envs = {work.files["env"] for work in works if work is not None}
    assert len(envs) == 1 and "FAKETIME=" not in envs.pop()
    years = [int(work.files["year"]) for work in works if work is not None]
    assert years[1] - years[0] in (1, 2) and years[2] - years[0] in (2, 3)


def test_a_missing_bwrap_is_a_clear_error(workdir: Path) -> None:
    executor = ProcessExecutor(bwrap="kratix-sim-no-such-bwrap")
    with pytest.raises(ExecutorUnavailable, match="bubblewrap"):
        executor.check()
    with pytest.raises(ExecutorUnavailable):
        _run(executor, workdir, [_sh("a", "true")])
