"""``kratix-sim pipeline test``: golden-file tests in the fixture layouts people already use (issue 6, item 5).

(a) The corpus's fixtures are read in place (``../shared/promises``: the workshop's ``test/`` and Giant Swarm's
``containers/<image>/tests/<case>/``); their scripts are not in the corpus, so they are listed, not run.
(b) The team's own example ``examples/idempotent`` carries fixtures in both layouts; they pass through the
process executor (and podman), re-runs included, and a changed expectation is reported with its key path.
(c) Bad input exits 2.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_pipeline_contract import requires_tool, skip_or_fail

from conformance.golden import (
    MISSING,
    compare_files,
    diff_values,
    discover_cases,
    find_promise,
    image_name,
    key_path,
    load_expectation,
    resolve_target,
)
from sim.cli import main
from sim.errors import InputError
from sim.executors.base import ExecutorUnavailable
from sim.executors.process import ProcessExecutor, find_libfaketime

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"
IDEMPOTENT = EXAMPLES / "idempotent"
WORKSHOP = "workshop-app-promise"
GIANTSWARM = "giantswarm-app-deployment"
GS_CONTAINERS = "app-deployment-promise/containers"
IMAGE = "localhost/kratix-sim-examples:latest"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["pipeline", "test", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def example_args(name: str, *extra: str) -> list[str]:
    """Run an example through the process executor: its scripts at /scripts/<name>, a fresh /external."""
    return [str(EXAMPLES / name), "--mount", f"{EXAMPLES / name / 'scripts'}:/scripts/{name}",
            "--external", "/external", *extra]


@pytest.fixture(scope="module")
def bwrap() -> None:
    requires_tool("bwrap", "the process executor needs bubblewrap: apt-get install bubblewrap")
    try:
        ProcessExecutor().check()
    except ExecutorUnavailable as exc:
        skip_or_fail(str(exc))


@pytest.mark.usefixtures("bwrap")
def test_the_scripts_beside_the_promise_are_mounted_as_idempotency_does(capsys: pytest.CaptureFixture[str],
                                                                        tmp_path: Path) -> None:
    """Without --mount, the process executor mounts scripts/ beside the Promise where the containers' commands
    look for it (/scripts/idempotent); --scripts names another folder; with a --mount on that target the
    default steps aside."""
    code, out, err = cli(capsys, str(IDEMPOTENT), "--external", "/external")
    assert code == 0, out + err
    assert "2 cases: 2 passed" in out
    empty = tmp_path / "no-scripts"
    empty.mkdir()
    code, out, _ = cli(capsys, str(IDEMPOTENT), "--external", "/external", "--scripts", f"{empty}:/scripts/idempotent")
    assert code == 1 and "provision.sh" in out  # the named folder replaces the default one
    code, out, err = cli(capsys, *example_args("idempotent"))
    assert code == 0, out + err


# -- (a) the corpus's fixture layouts, read in place --------------------------------------------------------------
def test_the_workshop_test_folder_is_one_case(corpus_dir: Path) -> None:
    root = corpus_dir / WORKSHOP
    promise, file = find_promise(root)
    assert (promise.name, file.name) == ("app", "app-promise.yaml")
    [case] = discover_cases(root)
    assert (case.name, case.layout, case.hint) == ("test", "workshop", None)
    expectation = load_expectation(case)
    assert expectation.object["kind"] == "App" and expectation.object["spec"]["dbDriver"] == "postgresql"
    assert expectation.exit_code == 0
    assert expectation.output is not None and sorted(expectation.output) == [
        "deployment.yaml", "ingress.yaml", "platform/postgresql.yaml", "service.yaml"]
    assert expectation.output["service.yaml"]["spec"]["ports"][0]["port"] == 9000
    assert expectation.metadata == {
        "destination-selectors.yaml": [{"directory": "platform", "matchLabels": {"environment": "platform"}}],
        "status.yaml": {"createdAt": "Fri Nov 29 12:48:08 UTC 2024", "message": "my-app.local.gd:31338"},
    }
    assert resolve_target(promise, case, expectation.object).label == "resource/configure/mypipeline"


def test_the_giant_swarm_tests_cases_are_found_and_mapped_to_their_images(corpus_dir: Path) -> None:
    root = corpus_dir / GIANTSWARM
    promise, file = find_promise(root)
    assert promise.name == "appdeployment" and file.name == "promise.yaml"
    cases = discover_cases(root)
    assert [c.name for c in cases] == [
        f"{GS_CONTAINERS}/_check-if-infra-ready-pipeline/tests/case1",
        f"{GS_CONTAINERS}/appdeployment-template-pipeline/tests/all_ok_explicit_values_private",
        f"{GS_CONTAINERS}/appdeployment-template-pipeline/tests/resource_request_example",
        f"{GS_CONTAINERS}/provision-infrastructure-pipeline/tests/resource_request_example",
    ]
    assert all(c.layout == "tests" and "actual" not in c.name for c in cases)
    found: dict[str, Any] = {}
    for case in cases:
        expectation = load_expectation(case)
        assert expectation.exit_code == 0
        assert expectation.metadata is not None and list(expectation.metadata) == ["status.yaml"]
        try:
            target = resolve_target(promise, case, expectation.object).label
        except InputError as exc:
            target = str(exc)
        found[case.name.split("/")[2] + "/" + case.path.name] = (sorted(expectation.output or {}), target)
    assert found == {
        "_check-if-infra-ready-pipeline/case1": (
            [], "no container of Promise 'appdeployment' runs an image named '_check-if-infra-ready-pipeline' and "
                "the resource configure workflow has 2 Pipelines: name one with --pipeline (resource/configure: "
                "provision-infra, template)"),
        "appdeployment-template-pipeline/all_ok_explicit_values_private": (
            ["HelmRelease.yaml"], "resource/configure/template"),
        "appdeployment-template-pipeline/resource_request_example": (
            ["HelmRelease.yaml"], "resource/configure/template"),
        "provision-infrastructure-pipeline/resource_request_example": (
            ["LogicalDatabaseClaim.yaml"], "resource/configure/provision-infra"),
    }
    # The expected files, not the `actual/` ones beside them, are what a case compares with.
    template = next(c for c in cases if c.name.endswith("template-pipeline/tests/resource_request_example"))
    expectation = load_expectation(template)
    assert expectation.output is not None
    assert expectation.output["HelmRelease.yaml"]["spec"]["chart"]["spec"]["version"] == "*"
    assert expectation.metadata == {"status.yaml": {
        "message": "HelmRelease object 'default/my-go-project-1' successfully created"}}
    # --pipeline names the Pipeline a case cannot be mapped to.
    [case1] = [c for c in cases if c.name.endswith("case1")]
    assert resolve_target(promise, case1, {}, "template").label == "resource/configure/template"


def test_pipeline_test_lists_the_corpus_cases(corpus_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, str(corpus_dir / GIANTSWARM), "--list", "--format", "json")
    assert code == 0
    listed = json.loads(out)
    assert listed["promise"] == "appdeployment" and len(listed["cases"]) == 4
    provision = listed["cases"][3]
    assert provision["target"] == "resource/configure/provision-infra"
    assert (provision["output"], provision["metadata"], provision["expected_exit_code"]) == (
        ["LogicalDatabaseClaim.yaml"], ["status.yaml"], 0)
    assert listed["cases"][0]["target"] is None and "--pipeline" in listed["cases"][0]["target_problem"]
    code, out, _ = cli(capsys, str(corpus_dir / WORKSHOP), "--list")
    assert code == 0
    assert "test  [workshop]" in out and "platform/postgresql.yaml" in out and "resource/configure/mypipeline" in out


@pytest.mark.usefixtures("bwrap")
def test_corpus_pipelines_that_need_a_cluster_are_named_not_run(corpus_dir: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The workshop's Pipeline reads Secrets through valueFrom: the case cannot be run here (exit 2)."""
    code, out, _ = cli(capsys, str(corpus_dir / WORKSHOP))
    assert code == 2
    assert "ERROR test" in out and "valueFrom" in out


# -- (b) the team's own example, run for real ---------------------------------------------------------------------
@pytest.mark.usefixtures("bwrap")
def test_the_idempotent_example_passes_its_fixtures_with_re_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, *example_args("idempotent", "--rerun", "--format", "json"))
    assert code == 0, out + err
    report = json.loads(out)
    assert [(c["case"], c["layout"], c["result"], c["runs"]) for c in report["cases"]] == [
        ("test", "workshop", "pass", 2), ("tests/large-analytics", "tests", "pass", 2)]
    assert report["summary"] == {"cases": 2, "passed": 2, "failed": 0, "errors": 0}
    assert all("identical (I1)" in " ".join(c["notes"]) for c in report["cases"])
    code, out, _ = cli(capsys, *example_args("idempotent"))
    assert code == 0 and "PASS  test" in out and "2 cases: 2 passed, 0 failed" in out


@pytest.mark.usefixtures("bwrap")
def test_a_mismatch_is_reported_with_its_key_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = tmp_path / "tests" / "large-analytics"
    shutil.copytree(IDEMPOTENT / "tests" / "large-analytics", case)
    database = case / "expected" / "output" / "database.yaml"
    database.write_text(database.read_text().replace("size: large", "size: medium"))
    (case / "expected" / "metadata" / "destination-selectors.yaml").write_text(
        "- matchLabels:\n    environment: prod\n")
    (case / "expected" / "output" / "extra.yaml").write_text("kind: Extra\n")
    (case / "actual").mkdir()  # a harness's leftovers: ignored
    code, out, _ = cli(capsys, *example_args("idempotent", "--case", str(case)))
    assert code == 1
    assert "FAIL  " in out
    assert "output/database.yaml: data.size: expected 'medium', got 'large'" in out
    assert "metadata/destination-selectors.yaml: [0].matchLabels.environment: expected 'prod', got 'dev'" in out
    assert "output/extra.yaml: missing: the pipeline did not write it" in out
    (case / "expected" / "exitcode").write_text("3\n")
    code, out, _ = cli(capsys, *example_args("idempotent", "--case", str(case), "--format", "json"))
    assert code == 1
    [result] = json.loads(out)["cases"]
    kinds = {(d["kind"], d["file"], d["path"]) for d in result["differences"]}
    assert ("exit-code", "", "") in kinds and (result["exit_code"], result["expected_exit_code"]) == (0, 3)
    # A failing case compares only the files its fixture has: database.yaml still differs, nothing else.
    assert ("output", "output/database.yaml", "data.size") in kinds


@pytest.mark.usefixtures("bwrap")
def test_a_failing_container_and_a_failing_kratix_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Without /external the idempotent example's provision exits 2; a fixture can expect that.
    case = tmp_path / "no-external"
    shutil.copytree(IDEMPOTENT / "tests" / "large-analytics" / "input", case / "input")
    (case / "expected").mkdir()
    (case / "expected" / "exitcode").write_text("2")
    args = [str(IDEMPOTENT), "--mount", f"{IDEMPOTENT / 'scripts'}:/scripts/idempotent", "--case", str(case)]
    code, out, _ = cli(capsys, *args)
    assert code == 0, out
    (case / "expected" / "exitcode").write_text("0")
    code, out, _ = cli(capsys, *args)
    assert code == 1 and "exit code: expected 0, got 2; stderr: this example needs a writable directory" in out
    # p2 exits 0 but writes a `kratix` status key: the status-writer would fail the pipeline (P2).
    p2 = tmp_path / "p2"
    shutil.copytree(IDEMPOTENT / "test" / "input", p2 / "input")
    code, out, _ = cli(capsys, *example_args("p2-kratix-status-key", "--case", str(p2), "--format", "json"))
    assert code == 1
    [result] = json.loads(out)["cases"]
    [pipeline] = [d for d in result["differences"] if d["kind"] == "pipeline"]
    assert "P2" in pipeline["message"] and "Kratix's own steps fail" in pipeline["message"]


@pytest.mark.usefixtures("bwrap")
def test_re_runs_expose_non_idempotent_pipelines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = tmp_path / "case"
    shutil.copytree(IDEMPOTENT / "test" / "input", case / "input")
    (case / "expected").mkdir()
    (case / "expected" / "exitcode").write_text("1")  # expects a failure, so no file is compared: only I1 fails
    code, out, _ = cli(capsys, *example_args("i4-random-name", "--case", str(case), "--rerun", "--format", "json"))
    assert code == 1
    [result] = json.loads(out)["cases"]
    idempotency = [d for d in result["differences"] if d["kind"] == "idempotency"]
    assert {d["file"] for d in idempotency} >= {"output/bucket.yaml", "metadata/status.yaml"}
    assert result["runs"] == 3 and all(d["message"].startswith("I1: re-run 1 wrote") for d in idempotency)
    if find_libfaketime() is None:
        skip_or_fail("libfaketime is not installed (apt-get install faketime)")
    # The timestamp example: each re-run sees the clock 10h later, so `date` differs even within a second.
    code, out, _ = cli(capsys, *example_args("i1-timestamp", "--case", str(case), "--rerun"))
    assert code == 1 and "output/configmap.yaml: data.createdAt: I1: re-run 1 wrote" in out
    code, out, _ = cli(capsys, *example_args("i1-timestamp", "--case", str(case), "--rerun",
                                             "--rerun-clock-step", "0"))
    assert "each" not in out.splitlines()[0]


def test_the_idempotent_example_passes_in_podman(capsys: pytest.CaptureFixture[str]) -> None:
    requires_tool("podman", "the container executor needs podman (scripts/ci-setup-containers)")
    from sim.executors.container import ContainerExecutor

    engine = ContainerExecutor(binary="podman")
    try:
        engine.check()
    except ExecutorUnavailable as exc:
        skip_or_fail(str(exc))
    if not engine.has_image(IMAGE):
        skip_or_fail(f"{IMAGE} is not built (scripts/ci-setup-containers builds it)")
    code, out, err = cli(capsys, str(IDEMPOTENT), "--executor", "container", "--external", "/external", "--rerun")
    assert code == 0, out + err
    assert "executor container" in out and "2 cases: 2 passed" in out


# -- comparison ------------------------------------------------------------------------------------------------
def test_semantic_comparison_and_key_paths() -> None:
    assert key_path(("metadata", "labels", "giantswarm.io/cluster", 0)) == 'metadata.labels["giantswarm.io/cluster"][0]'
    expected = {"a": {"b": [1, {"c": "x"}]}, "n": None, "port": 9000, "flag": True, "gone": 1}
    actual = {"a": {"b": [1, {"c": "y"}, 3]}, "n": None, "port": "9000", "flag": 1, "new": 2}
    assert diff_values(expected, actual) == [
        ("a.b[1].c", "x", "y"), ("a.b[2]", MISSING, 3), ("port", 9000, "9000"), ("flag", True, 1),
        ("gone", 1, MISSING), ("new", MISSING, 2)]
    assert diff_values({"a": 1.0}, {"a": 1}) == []
    [text] = compare_files("output", "output", {"notes.txt": "one\ntwo\n"}, {"notes.txt": "one\nTWO\n"})
    assert text.render() == "output/notes.txt: line 2: expected 'two', got 'TWO'"
    assert compare_files("output", "output", {}, {"x.yaml": 1}, strict=False) == []
    assert image_name("gsoci.azurecr.io/giantswarm/provision-infrastructure-pipeline:1.0.0@sha256:ab") == \
        "provision-infrastructure-pipeline"


# -- (c) bad input -------------------------------------------------------------------------------------------------
def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    no_promise = tmp_path / "empty"
    no_promise.mkdir()
    (no_promise / "notes.yaml").write_text("kind: ConfigMap\n")
    no_cases = tmp_path / "no-cases"
    no_cases.mkdir()
    shutil.copy(IDEMPOTENT / "promise.yaml", no_cases / "promise.yaml")
    two = tmp_path / "two"
    two.mkdir()
    shutil.copy(IDEMPOTENT / "promise.yaml", two / "a.yaml")
    shutil.copy(EXAMPLES / "i1-timestamp" / "promise.yaml", two / "b.yaml")
    bad_code = tmp_path / "bad-code"
    shutil.copytree(IDEMPOTENT / "tests" / "large-analytics", bad_code)
    (bad_code / "expected" / "exitcode").write_text("zero\n")
    bad_object = tmp_path / "bad-object"
    (bad_object / "input").mkdir(parents=True)
    (bad_object / "input" / "object.yaml").write_text("- a\n- b\n")
    cases: list[tuple[list[str], str]] = [
        ([str(tmp_path / "missing")], "no such file or folder"),
        ([str(no_promise)], "no Promise"),
        ([str(no_cases)], "no fixture cases"),
        ([str(two)], "2 Promises in this folder"),
        ([str(IDEMPOTENT), "--case", str(tmp_path / "nowhere")], "--case: no such folder"),
        ([str(IDEMPOTENT), "--case", str(no_promise)], "--case: not a case folder"),
        ([str(IDEMPOTENT), "--case", str(bad_code), "--list"], "exitcode must hold a number"),
        ([str(IDEMPOTENT), "--case", str(bad_object), "--list"], "must hold one object"),
        ([str(IDEMPOTENT), "--executor", "container", "--engine", "kratix-sim-no-such-engine"],
         "cannot run here"),
        ([str(IDEMPOTENT), "--timeout", "0"], "--timeout must be positive"),
        ([str(IDEMPOTENT), "--rerun-clock-step", "soon"], "--rerun-clock-step"),
        ([str(IDEMPOTENT), "--mount", "relative-target:scripts"], "absolute TARGET"),
    ]
    for args, message in cases:
        code, out, err = cli(capsys, *args)
        assert code == 2, (args, out, err)
        assert message in out + err, (args, out, err)
    assert main(["pipeline"]) == 2
    capsys.readouterr()


@pytest.mark.usefixtures("bwrap")
def test_an_unknown_pipeline_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, *example_args("idempotent", "--pipeline", "no-such-pipeline"))
    assert code == 2 and "no Pipeline 'no-such-pipeline'" in out and "instance-configure" in out
    code, out, _ = cli(capsys, *example_args("idempotent", "--pipeline", "instance-configure/nope"))
    assert code == 2 and "has no container 'nope'" in out
    code, out, _ = cli(capsys, *example_args("idempotent", "--pipeline", "instance-configure/configure",
                                             "--case", str(IDEMPOTENT / "test")))
    # configure alone (no provision before it) still writes the same files: the case passes
    assert code == 0 and "resource/configure/instance-configure/configure" in out
