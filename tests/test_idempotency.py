"""``kratix-sim idempotency``: every example Promise is flagged with its rule, the idempotent one with none.

The examples run through the process executor (bubblewrap; libfaketime pins the clock) and, for a subset,
through real OCI containers (podman, or ``KRATIX_SIM_ENGINE``). Without the tools these tests skip with the
reason, except under CI=true, where they fail. Each example's report is computed once per session.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from test_pipeline_contract import EXAMPLE_NAMES, EXAMPLES_DIR, requires_tool, skip_or_fail

from conformance.idempotency.diff import ABSENT, diff_values, join_path
from conformance.idempotency.findings import short_change
from conformance.idempotency.matrix import T0, Matrix, MatrixResult, ProcessFactory
from sim.cli import main
from sim.executors.base import ExecutorUnavailable, Mount
from sim.executors.container import ContainerExecutor
from sim.executors.process import ProcessExecutor, find_libfaketime
from sim.model.loader import load_promise

IMAGE = "localhost/kratix-sim-examples:latest"

# What each example must be flagged with at run time: {(rule, severity)} of the run findings (exact), and the
# rules of its lint warnings (exact).
EXPECTED_RUN: dict[str, set[tuple[str, str]]] = {
    "idempotent": set(),
    "i1-timestamp": {("I1", "error"), ("I4", "error")},
    "i2-append": {("I2", "error")},
    # The lost password shows after a partial failure (I3), after an in-place retry of create-user (I2: the
    # retry finds the user and no password) and when the status is lost (I5).
    "i3-partial-failure": {("I2", "error"), ("I3", "error"), ("I5", "warning")},
    "i4-random-name": {("I1", "error"), ("I4", "error")},
    "i6-delete-not-idempotent": {("I6", "error")},
    "p1-writes-input": {("P1", "error"), ("RUN", "error")},
    "p2-kratix-status-key": {("P2", "error"), ("RUN", "error")},
    "p4-retry-after-days": {("P4", "error"), ("RUN", "error")},
    "p5-cross-pipeline-metadata": {("P5", "error"), ("RUN", "error")},
}
EXPECTED_LINT: dict[str, set[tuple[str, str, int]]] = {
    "idempotent": set(),
    "i1-timestamp": {("I4", "configure.sh", 7)},
    "i2-append": {("I2", "configure.sh", 6), ("I2", "configure.sh", 20)},
    "i3-partial-failure": {("I4", "create-user.sh", 26)},
    "i4-random-name": {("I4", "configure.sh", 6)},
    "i6-delete-not-idempotent": set(),
    "p1-writes-input": {("P1", "configure.sh", 5), ("P1", "configure.sh", 6)},
    "p2-kratix-status-key": set(),
    "p4-retry-after-days": set(),
    "p5-cross-pipeline-metadata": {("P5", "render.sh", 5)},
}
CONTAINER_EXAMPLES = ("idempotent", "i2-append", "i4-random-name")


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["idempotency", *args])
    out, err = capsys.readouterr()
    return code, out, err


def example_args(name: str, *extra: str) -> list[str]:
    return [str(EXAMPLES_DIR / name / "promise.yaml"), "--request", str(EXAMPLES_DIR / name / "resource-request.yaml"),
            "--external", "/external", "--format", "json", *extra]


def run_findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["source"] == "run"]


def one(report: dict[str, Any], rule: str, **match: Any) -> dict[str, Any]:
    found = [f for f in run_findings(report) if f["rule"] == rule and all(f[k] == v for k, v in match.items())]
    assert found, f"no {rule} finding with {match}: {json.dumps(report['findings'], indent=1)}"
    return found[0]


# -- fixtures ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def process_ready() -> None:
    requires_tool("bwrap", "the process executor needs bubblewrap: apt-get install bubblewrap")
    if find_libfaketime() is None:
        skip_or_fail("libfaketime is not installed (apt-get install faketime): the clock cannot be pinned")
    try:
        ProcessExecutor().check()
    except ExecutorUnavailable as exc:
        skip_or_fail(str(exc))


_REPORTS: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}


def example_report(name: str, executor: str, capsys: pytest.CaptureFixture[str],
                   *extra: str) -> tuple[int, dict[str, Any]]:
    key = (name, executor)
    if key not in _REPORTS:
        code, out, err = run_cli(capsys, *example_args(name, "--executor", executor, *extra))
        assert code in (0, 1), err
        _REPORTS[key] = (code, json.loads(out))
    return _REPORTS[key]


def _build_image_module() -> Any:
    spec = importlib.util.spec_from_file_location("kratix_sim_build_image_idem", EXAMPLES_DIR / "build_image.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def engine_args() -> list[str]:
    """``--engine`` and ``--engine-option`` for the CLI, with the examples' image built and current."""
    binary = os.environ.get("KRATIX_SIM_ENGINE", "podman")
    requires_tool(binary, "no container engine: install podman (scripts/ci-setup-containers) or set "
                          "KRATIX_SIM_ENGINE=docker")
    options = shlex.split(os.environ.get("KRATIX_SIM_ENGINE_OPTIONS", ""))
    executor = ContainerExecutor(binary=binary, engine_options=options)
    try:
        executor.check()
    except ExecutorUnavailable as exc:
        skip_or_fail(str(exc))
    builder = _build_image_module()
    if builder.image_digest([binary, *options], IMAGE) != builder.scripts_digest():
        if not Path("/bin/busybox").is_file():
            skip_or_fail(f"{IMAGE} is missing or stale and /bin/busybox is not there to build it "
                         "(run scripts/ci-setup-containers)")
        builder.build_image([binary, *options], IMAGE)
    return ["--engine", Path(binary).name, *(f"--engine-option={o}" for o in options)]


# -- the examples through the process executor -------------------------------------------------------------
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_each_example_is_flagged_with_its_rule(name: str, process_ready: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, report = example_report(name, "process", capsys)
    got = {(f["rule"], f["severity"]) for f in run_findings(report)}
    assert got == EXPECTED_RUN[name], json.dumps(report["findings"], indent=1)
    lint = {(f["rule"], Path(f["file"]).name, f["line"]) for f in report["findings"] if f["source"] == "lint"}
    assert lint == EXPECTED_LINT[name]
    assert all(f["severity"] == "warning" for f in report["findings"] if f["source"] == "lint")
    assert code == (1 if any(sev == "error" for _, sev in EXPECTED_RUN[name]) else 0)
    assert report["summary"]["result"] == ("fail" if code else "pass")
    for finding in report["findings"]:
        assert set(finding) >= {"rule", "severity", "pipeline", "container", "file", "path", "before", "after",
                                "message"}


def test_the_idempotent_example_has_no_findings(process_ready: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = example_report("idempotent", "process", capsys)
    assert code == 0 and report["findings"] == []
    checks = report["checks"]
    assert "no difference" in checks["I1"] and "no difference" in checks["I2"] and "no difference" in checks["I3"]
    assert "no difference" in checks["I4"] and "no difference" in checks["I5"] and "both succeed" in checks["I6"]
    runs = report["runs"]
    by = {(r["perturbation"], r["label"]): r for r in runs}
    assert by[("clean", "first run")]["status_fed"] is False and by[("clean", "first run")]["seed"] == 0
    assert by[("clean", "first run")]["clock"] == "2030-06-15T12:00:00Z"
    assert by[("I1", "re-run 1")]["status_fed"] and by[("I1", "re-run 1")]["clock"] == "2030-06-16T13:01:01Z"
    assert by[("I1", "re-run 2")]["seed"] == 2
    retried = [r for r in runs if r["perturbation"] == "I2"]
    assert sorted(next(iter(r["inject_failures"])) for r in retried) == ["instance-configure/configure",
                                                                        "instance-configure/provision"]
    attempts = [e["attempt"] for e in retried[0]["pipelines"][0]["executions"]]
    assert attempts == [1, 2, 1]  # provision ran, was reported failed, ran again; then configure
    partial = [r for r in runs if r["perturbation"] == "I3"]
    assert partial[0]["fail_after"] == {"pipeline": "instance-configure", "containers": 1}
    assert partial[0]["outcome"] == "failed" and partial[1]["outcome"] == "succeeded" and partial[1]["status_fed"]
    deletes = [r for r in runs if r["perturbation"] == "I6"]
    assert [(r["action"], r["outcome"]) for r in deletes] == [("delete", "succeeded"), ("delete", "succeeded")]


def test_time_trips_i1_and_i4_with_both_values(process_ready: None, capsys: pytest.CaptureFixture[str]) -> None:
    _, report = example_report("i1-timestamp", "process", capsys)
    i1 = one(report, "I1", file="/kratix/output/configmap.yaml", path="data.createdAt")
    assert (i1["before"], i1["after"]) == ("2030-06-16T13:01:01Z", "2030-06-17T14:02:02Z")  # the pinned clocks
    assert i1["pipeline"] == "instance-configure" and i1["container"] == "configure"
    i4 = one(report, "I4", path="data.createdAt")
    assert "wall clock" in i4["message"] and i4["after"] == "2031-07-21T16:08:12Z"


def test_randomness_trips_i4_and_i1(process_ready: None, capsys: pytest.CaptureFixture[str]) -> None:
    _, report = example_report("i4-random-name", "process", capsys)
    for rule in ("I1", "I4"):
        work = one(report, rule, file="/kratix/output/bucket.yaml", path="metadata.name")
        status = one(report, rule, file="/kratix/metadata/status.yaml", path="bucketName")
        assert work["before"] != work["after"] and work["before"].startswith("example-")
        assert status["before"] == work["before"]
    assert "randomness" in one(report, "I4", path="metadata.name")["message"]


def test_a_dirty_retry_that_appends_fails_the_work_writer(process_ready: None,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    _, report = example_report("i2-append", "process", capsys)
    i2 = one(report, "I2")
    assert (i2["container"], i2["path"], i2["before"], i2["after"]) == ("configure", "outcome", "succeeded", "failed")
    assert "WorkWriterFailed" in i2["message"] and "P3" in i2["message"]


def test_a_partial_failure_loses_the_password(process_ready: None, capsys: pytest.CaptureFixture[str]) -> None:
    _, report = example_report("i3-partial-failure", "process", capsys)
    i3 = one(report, "I3", file="/kratix/metadata/status.yaml", path="password")
    assert i3["container"] == "create-user" and i3["after"] == "unknown" and i3["before"] != "unknown"
    secret = one(report, "I3", file="/kratix/output/secret.yaml", path="stringData.password")
    assert secret["before"] == i3["before"]
    assert "after container 'create-user'" in i3["message"]


def test_a_second_delete_that_fails_is_i6(process_ready: None, capsys: pytest.CaptureFixture[str]) -> None:
    _, report = example_report("i6-delete-not-idempotent", "process", capsys)
    i6 = one(report, "I6")
    assert (i6["pipeline"], i6["container"], i6["before"], i6["after"]) == ("instance-delete", "delete", "succeeded",
                                                                            "failed")
    assert "No such file" in i6["message"]


def test_p1_is_an_error_naming_the_container_and_the_write(process_ready: None,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    _, report = example_report("p1-writes-input", "process", capsys)
    p1 = one(report, "P1")
    assert p1["container"] == "configure" and p1["file"] == "/kratix/input/object.yaml.orig"
    assert "Read-only file system" in p1["message"] and "cp" in p1["message"]
    first = one(report, "RUN")
    assert first["container"] == "configure" and "Read-only file system" in first["message"]
    assert report["checks"]["I1"] == "skipped: the clean first run fails"
    assert len(report["runs"]) == 1  # nothing runs after a failing clean run
    assert report["runs"][0]["pipelines"][0]["executions"][-1]["stderr"]


def test_contract_findings_carry_the_offending_value(process_ready: None, capsys: pytest.CaptureFixture[str]) -> None:
    _, p2 = example_report("p2-kratix-status-key", "process", capsys)
    finding = one(p2, "P2")
    assert (finding["file"], finding["path"], finding["after"]) == ("/kratix/metadata/status.yaml", "kratix",
                                                                    {"lastRun": "configure"})
    _, p4 = example_report("p4-retry-after-days", "process", capsys)
    finding = one(p4, "P4")
    assert (finding["file"], finding["path"], finding["after"]) == ("/kratix/metadata/workflow-control.yaml",
                                                                    "retryAfter", "1d")
    _, p5 = example_report("p5-cross-pipeline-metadata", "process", capsys)
    finding = one(p5, "P5")
    assert (finding["pipeline"], finding["container"], finding["file"]) == ("render", "render",
                                                                            "/kratix/metadata/values.env")


def test_text_output(process_ready: None, capsys: pytest.CaptureFixture[str]) -> None:
    name = "p2-kratix-status-key"
    code, out, _ = run_cli(capsys, *example_args(name)[:-2])
    assert code == 1
    assert "severity" in out and "before -> after" in out and "what ran" in out
    assert "P2" in out and "The clean first run failed" in out and "Kratix's status-writer" in out
    assert "2 error(s), 0 warning(s): FAIL" in out


# -- synthetic Promises -------------------------------------------------------------------------------------
def _promise(tmp_path: Path, workflows: str) -> Path:
    path = tmp_path / "promise.yaml"
    path.write_text(f"""\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: demo
spec:
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: demos.example.io
    spec:
      group: example.io
      names: {{kind: Demo, plural: demos}}
      scope: Namespaced
      versions: [{{name: v1, served: true, storage: true}}]
  workflows:
{workflows}""")
    return path


def _request(tmp_path: Path) -> Path:
    path = tmp_path / "request.yaml"
    path.write_text("apiVersion: example.io/v1\nkind: Demo\nmetadata: {name: one, namespace: team-a}\nspec: {}\n")
    return path


def test_uncontrolled_randomness_is_i4_and_masked_elsewhere(tmp_path: Path, process_ready: None,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    promise = _promise(tmp_path, """\
    resource:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata: {name: make}
          spec:
            containers:
              - name: uuid
                image: busybox
                command: [sh, -c]
                args:
                  - |
                    id=$(cat /proc/sys/kernel/random/uuid)
                    printf 'id: %s\\n' "$id" > /kratix/output/thing.yaml
""")
    code, out, err = run_cli(capsys, str(promise), "--request", str(_request(tmp_path)), "--format", "json")
    assert code == 1, err
    report = json.loads(out)
    assert {(f["rule"], f["source"]) for f in report["findings"]} == {("I1", "run"), ("I4", "run"), ("I4", "lint")}
    assert "cannot seed" in one(report, "I4", path="id")["message"]
    lint = next(f for f in report["findings"] if f["source"] == "lint")
    first_line = promise.read_text().splitlines().index("                    id=$(cat /proc/sys/kernel/random/uuid)")
    assert lint["file"] == str(promise) and lint["line"] == first_line + 1  # the script's line in promise.yaml
    assert any("not compared in I2, I3 and I5" in note for note in report["notes"])


def test_a_promise_workflow_runs_on_the_promise(tmp_path: Path, process_ready: None,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    promise = _promise(tmp_path, """\
    promise:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata: {name: setup}
          spec:
            containers:
              - name: setup
                image: busybox
                command: [sh, -c, 'printf "message: ready\\nphase: done\\n" > /kratix/metadata/status.yaml;
                                   echo "$KRATIX_OBJECT_KIND" > /kratix/output/kind']
""")
    code, out, err = run_cli(capsys, str(promise), "--workflow", "promise", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    p6 = one(report, "P6")
    assert p6["severity"] == "warning" and p6["pipeline"] == "setup" and p6["container"] == "setup"
    assert report["runs"][0]["status"] == {"message": "ready"}
    assert report["runs"][0]["pipelines"][0]["executions"][0]["exit_code"] == 0


def test_without_libfaketime_time_is_compared_between_runs_apart(tmp_path: Path, process_ready: None) -> None:
    """An executor that cannot pin the clock: I4 compares two plain runs at least a second apart, and says so."""
    name = "i1-timestamp"
    loaded = load_promise(EXAMPLES_DIR / name / "promise.yaml")
    request = {"apiVersion": "example.kratix.io/v1alpha1", "kind": "TimestampedConfig",
               "metadata": {"name": "example", "namespace": "default"}, "spec": {"team": "payments"}}
    factory = ProcessFactory(ProcessExecutor(mounts=[Mount(EXAMPLES_DIR / name / "scripts", f"/scripts/{name}")]),
                             pin_clock=False)
    assert not factory.pins_clock
    result = Matrix(loaded.promise, "resource", request, factory, workdir=tmp_path).run()
    assert {f.rule for f in result.findings} == {"I1", "I4"}
    assert any("cannot shift the clock" in note for note in result.notes)
    assert "apart" in result.checks["I4"]
    assert all(r.clock is None for r in result.runs)
    assert T0 > 0


# -- real containers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CONTAINER_EXAMPLES)
def test_examples_in_containers(name: str, engine_args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, report = example_report(name, "container", capsys, *engine_args)
    got = {(f["rule"], f["severity"]) for f in run_findings(report)}
    assert got == EXPECTED_RUN[name], json.dumps(report["findings"], indent=1)
    assert code == (1 if got else 0)
    assert report["executor"] == "container"
    assert any("cannot shift the clock" in note for note in report["notes"])


# -- bad input ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["missing.yaml", "--request", "r.yaml"],
    ["{example}/resource-request.yaml", "--request", "{example}/resource-request.yaml"],
    ["{example}/promise.yaml"],
    ["{example}/promise.yaml", "--request", "{example}/missing.yaml"],
    ["{example}/promise.yaml", "--request", "{example}/promise.yaml"],
    ["{example}/promise.yaml", "--request", "{example}/resource-request.yaml", "--runs", "1"],
    ["{example}/promise.yaml", "--request", "{example}/resource-request.yaml", "--external", "relative"],
    ["{example}/promise.yaml", "--request", "{example}/resource-request.yaml", "--external", "/kratix/output"],
    ["{example}/promise.yaml", "--request", "{example}/resource-request.yaml", "--mount", "nonsense"],
    ["{example}/promise.yaml", "--scripts", "/no/such/folder", "--lint-only"],
    ["{example}/promise.yaml", "--workflow", "promise"],
], ids=["missing-promise", "not-a-promise", "no-request", "missing-request", "request-is-a-promise", "runs-1",
        "relative-external", "external-in-kratix", "bad-mount", "missing-scripts", "no-promise-pipelines"])
def test_bad_input_exits_2_with_one_line(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    example = str(EXAMPLES_DIR / "idempotent")
    code, out, err = run_cli(capsys, *(a.format(example=example) for a in args))
    assert code == 2, (out, err)
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("kratix-sim: error: "), err


def test_a_missing_executor_is_bad_input(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither bwrap nor an engine on the PATH
    example = EXAMPLES_DIR / "idempotent"
    for executor in ("process", "container"):
        code, _, err = run_cli(capsys, str(example / "promise.yaml"), "--request",
                               str(example / "resource-request.yaml"), "--executor", executor)
        assert code == 2 and "not installed" in err and len(err.strip().splitlines()) == 1


def test_lint_only_needs_no_request_and_no_executor(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, out, _ = run_cli(capsys, str(EXAMPLES_DIR / "i2-append" / "promise.yaml"), "--lint-only", "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["runs"] == [] and report["executor"] is None
    assert [(f["rule"], f["line"]) for f in report["findings"]] == [("I2", 6), ("I2", 20)]
    assert report["lint"]["scripts"][0]["target"] == "/scripts/i2-append"  # inferred from the container command
    assert report["lint"]["not_found"] == []
    code, out, _ = run_cli(capsys, str(EXAMPLES_DIR / "i2-append" / "promise.yaml"), "--lint-only")
    assert code == 0 and "lint only" in out and "0 error(s), 2 warning(s): pass" in out


# -- the semantic diff -------------------------------------------------------------------------------------
def test_diff_reports_key_paths_and_both_values() -> None:
    before = {"spec": {"replicas": 2, "items": [{"name": "a"}, {"name": "b"}, {"name": "c"}]},
              "metadata": {"labels": {"app.kubernetes.io/name": "x"}}, "gone": 1}
    after = {"spec": {"replicas": 3, "items": [{"name": "a"}, {"name": "b"}, {"name": "z"}, {"name": "d"}]},
             "metadata": {"labels": {"app.kubernetes.io/name": "y"}}, "new": True}
    diffs = {d.path: (d.before, d.after, d.change) for d in diff_values(before, after)}
    assert diffs == {
        "spec.replicas": (2, 3, "changed"),
        "spec.items[2].name": ("c", "z", "changed"),
        "spec.items[3]": (ABSENT, {"name": "d"}, "added"),
        'metadata.labels["app.kubernetes.io/name"]': ("x", "y", "changed"),
        "gone": (1, ABSENT, "removed"),
        "new": (ABSENT, True, "added"),
    }


def test_diff_is_semantic_not_textual() -> None:
    assert diff_values({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}) == []  # key order does not matter
    assert [d.path for d in diff_values({"a": 1}, {"a": "1"})] == ["a"]  # types do
    assert [d.path for d in diff_values({"a": 1}, {"a": True})] == ["a"]
    text_before = "kind: ConfigMap\ndata:\n  x: '1'\n  y: '2'\n"
    text_after = "data:\n  y: '2'\n  x: '3'\nkind: ConfigMap\n"
    assert [(d.path, d.before, d.after) for d in diff_values(text_before, text_after)] == [("data.x", "1", "3")]
    assert [(d.path, d.before, d.after) for d in diff_values("p1\n", "p2\n")] == [("", "p1\n", "p2\n")]
    assert join_path("", 0) == "[0]" and join_path("a", "b c") == 'a["b c"]'


def _matrix_with_outside(tmp_path: Path, promise_path: Path) -> MatrixResult:
    """The whole matrix on one request of the Promise, its outside world at /outside."""
    request = {"apiVersion": "example.io/v1", "kind": "Demo", "metadata": {"name": "one"}, "spec": {}}
    workdir = tmp_path / "work"
    workdir.mkdir()
    return Matrix(load_promise(promise_path).promise, "resource", request, ProcessFactory(ProcessExecutor()),
                  externals=["/outside"], workdir=workdir).run()


def _pipeline(name: str, script: str) -> str:
    """One Pipeline (YAML, a list item under a workflow action) whose one container, ``name``, runs ``script``
    (no single quotes in it) with sh."""
    return (f"        - apiVersion: platform.kratix.io/v1alpha1\n          kind: Pipeline\n"
            f"          metadata: {{name: {name}}}\n"
            f"          spec: {{containers: [{{name: {name}, image: busybox, command: [sh, -c, '{script}']}}]}}\n")


def test_external_state_is_compared_too(tmp_path: Path, process_ready: None) -> None:
    """A configure pipeline that appends a record to the outside world on every run never settles (I1)."""
    promise_path = _promise(tmp_path, "    resource:\n      configure:\n"
                            + _pipeline("notify", 'echo "- sent" >> /outside/log.yaml'))
    result = _matrix_with_outside(tmp_path, promise_path)
    i1 = [f for f in result.findings if f.rule == "I1"]
    assert [(f.file, f.path, f.before, f.after) for f in i1] == [("/outside/log.yaml", "[2]", ABSENT, "sent")]
    i2 = [f for f in result.findings if f.rule == "I2"]  # a retry sends it twice
    assert [(f.container, f.file, f.path) for f in i2] == [("notify", "/outside/log.yaml", "[1]")]


@pytest.mark.parametrize(("retry", "i2", "check"), [
    ("jobOptions: {backoffLimit: 0}", [], "not retried, a first failure fails the Job (J1), so nothing to check for "
                                          "notify (restartPolicy OnFailure, backoffLimit 0)"),
    ("jobOptions: {backoffLimit: 1}", [], "(restartPolicy OnFailure, backoffLimit 1)"),
    ("{restartPolicy: Never, jobOptions: {backoffLimit: 1}}", [("notify", "/outside/log.yaml", "[1]")],
     "1 container(s) retried once after a failure: 1 difference(s)"),
])
def test_i2_follows_the_pipelines_retry_settings(tmp_path: Path, process_ready: None, retry: str,
                                                 i2: list[tuple[str, str, str]], check: str) -> None:
    """I2 checks a retry only where Kratix's Job makes one after a first failure (J1/J3): none under OnFailure
    with backoffLimit 0 or 1 (the Job fails), a fresh pod under Never with backoffLimit 1."""
    spec = retry if retry.startswith("{") else "{" + retry + "}"
    promise_path = _promise(tmp_path, f"""\
    resource:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata: {{name: notify}}
          spec: {{containers: [{{name: notify, image: busybox,
                  command: [sh, -c, 'echo "- sent" >> /outside/log.yaml']}}], {spec[1:-1]}}}
""")
    result = _matrix_with_outside(tmp_path, promise_path)
    found = [(f.container, f.file, f.path) for f in result.findings if f.rule == "I2"]
    assert found == i2
    assert check in result.checks["I2"]
    if i2:
        message = next(f.message for f in result.findings if f.rule == "I2")
        assert "a fresh pod ran the Pipeline again from the reader" in message


def test_a_long_change_is_shown_from_where_it_differs() -> None:
    """The text table shows both values from just before their first difference when they share a long start
    (an appended line used to look like `x... -> x...`); short values are shown whole."""
    before = "run at Sat Jun 15 12:00:00 UTC 2030\n"
    after = before + "run at Sat Jun 16 13:01:01 UTC 2030\n"
    shown = short_change(before, after)
    old, new = shown.split(" -> ")
    assert old.startswith("...") and new.startswith("...") and old != new
    assert "Jun 16" in new
    assert short_change("a", "b") == "a -> b"
    assert short_change(ABSENT, {"x": 2}) == '(absent) -> {"x": 2}'


def test_i6_names_the_outcomes_of_a_delete_that_asks_to_retry(tmp_path: Path, process_ready: None) -> None:
    """I6: a delete Pipeline that asks to retry (workflow-control.yaml) twice neither fails nor succeeds: the
    check line says what each run ended in (it used to say "both succeed")."""
    promise_path = _promise(tmp_path, "    resource:\n      configure:\n"
                            + _pipeline("render", 'echo "a: 1" > /kratix/output/a.yaml') + "      delete:\n"
                            + _pipeline("teardown", 'echo "retryAfter: 1m" > /kratix/metadata/workflow-control.yaml'))
    result = _matrix_with_outside(tmp_path, promise_path)
    assert result.checks["I6"] == ("the delete Pipeline run twice: neither fails (the first run ends retry, the "
                                   "second retry: workflow control)")


def test_the_hostname_changes_from_run_to_run_as_kratix_names_every_pod(tmp_path: Path, process_ready: None) -> None:
    """Every Kratix Job and pod gets a generated name, the containers' hostname: a pipeline that records it is
    not idempotent (I1); the names are reproducible from one harness run to the next."""
    promise_path = _promise(tmp_path, "    resource:\n      configure:\n"
                            + _pipeline("render", 'echo "host: $(hostname)" > /kratix/output/h.yaml'))
    for i in (1, 2):
        (tmp_path / str(i)).mkdir()
    first, again = (_matrix_with_outside(tmp_path / str(i), promise_path) for i in (1, 2))
    i1 = [(f.file, f.path, f.before, f.after) for f in first.findings if f.rule == "I1"]
    assert len(i1) == 1 and i1[0][:2] == ("/kratix/output/h.yaml", "host")
    before, after = str(i1[0][2]), str(i1[0][3])
    assert re.fullmatch(r"kratix-demo-one-render-[b-z2-9]{5}-[b-z2-9]{5}", before) and before != after
    def seen(result: MatrixResult) -> list[tuple[str, object, object]]:
        return [(f.rule, f.before, f.after) for f in result.findings]

    assert seen(first) == seen(again)
