"""One hand-written failing Promise per rule V1-V10 (tests/invalid_promises/), asserting rule, severity,
YAML path and line exactly; legacy shapes point at the user's original lines; a valid Promise is clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import InputError
from sim.model.loader import load_promises
from sim.validation import Finding, label_key_problem, label_value_problem, validate

HERE = Path(__file__).resolve().parent / "invalid_promises"

Row = tuple[str, str, str, int | None]


def findings_of(*names: str) -> list[Finding]:
    return validate(load_promises([HERE / name for name in names]))


def as_rows(findings: list[Finding]) -> list[Row]:
    return [(f.rule, f.severity, f.path, f.line) for f in findings]


def rows(*names: str) -> list[Row]:
    return as_rows(findings_of(*names))


def test_valid_promise_has_no_findings() -> None:
    """Every optional field at a valid value (including a 1m interval, empty label value, backoffLimit 0)."""
    assert findings_of("valid.yaml") == []


def test_null_fields_are_absent_as_the_api_server_prunes_them(tmp_path: Path) -> None:
    """``configure: null`` (a key left empty in YAML) is no field, not a type error: the Promise is valid."""
    doc = tmp_path / "empty-workflow.yaml"
    doc.write_text(
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\nmetadata: {name: p}\nspec:\n"
        "  workflows:\n    resource: {configure: null, delete: null}\n    promise: {configure: null}\n",
        encoding="utf-8")
    (promise,) = load_promises([doc])
    assert promise.promise.pipelines("resource", "configure") == []
    assert validate([promise]) == []


def test_v1_duplicate_pipeline_name() -> None:
    """V1: names unique per (type, action); reported on the repeat, same name elsewhere is fine."""
    findings = findings_of("v1-duplicate-pipeline-names.yaml")
    assert as_rows(findings) == [
        ("V1", "error", "spec.workflows.resource.configure[2].metadata.name", 28),
    ]
    assert findings[0].message == (
        'duplicate pipeline name "build" in workflow "resource" action "configure" (first used at line 14)'
    )


def test_v2_service_account_name() -> None:
    """V2: 61 characters is too long (60 passes), an invalid name and a missing name are errors."""
    findings = findings_of("v2-pipeline-names.yaml")
    assert as_rows(findings) == [
        ("V2", "error", "spec.workflows.resource.configure[0].metadata.name", 15),
        ("V2", "error", "spec.workflows.resource.configure[1].metadata.name", 22),
        ("V2", "error", "spec.workflows.resource.configure[2].metadata", 28),
    ]
    assert "61 characters" in findings[0].message
    assert "long-promise-name-resource-configure-configure-everything-now" in findings[0].message


def test_v3_pipeline_fields() -> None:
    """V3: unknown fields at every level, wrong or missing apiVersion/kind, negative backoffLimit, no image."""
    assert rows("v3-pipeline-fields.yaml") == [
        ("V3", "error", "spec.workflows.resource.configure[0].metadata.lables", 16),
        ("V3", "error", "spec.workflows.resource.configure[0].spec.jobOptions.backoffLimit", 19),
        ("V3", "error", "spec.workflows.resource.configure[0].spec.jobOptions.activeDeadlineSeconds", 20),
        ("V3", "error", "spec.workflows.resource.configure[0].spec.rbac.serviceAccountName", 22),
        ("V3", "error", "spec.workflows.resource.configure[0].spec.containers[0].workingDir", 26),
        ("V3", "error", "spec.workflows.resource.configure[0].spec.containers[1]", 27),
        ("V3", "error", "spec.workflows.resource.configure[0].spec.serviceAccount", 28),
        ("V3", "error", "spec.workflows.resource.configure[0].status", 29),
        ("V3", "error", "spec.workflows.resource.configure[1].apiVersion", 30),
        ("V3", "error", "spec.workflows.resource.configure[1].kind", 31),
        ("V3", "error", "spec.workflows.resource.configure[2]", 37),
        ("V3", "error", "spec.workflows.resource.configure[2]", 37),
    ]


def test_v3_promise_fields() -> None:
    """V3 above the Pipelines: unknown fields of the spec, spec.workflows and a workflow type, each with the
    field the user probably meant."""
    findings = findings_of("v3-promise-fields.yaml")
    assert as_rows(findings) == [
        ("V3", "error", "spec.destinationSelector", 8),
        ("V3", "error", "spec.workflows.resources", 11),
        ("V3", "error", "spec.workflows.promise.confgure", 14),
    ]
    assert [m.split(";")[0].rsplit("(", 1)[-1] for m in (f.message for f in findings)] == [
        'did you mean "destinationSelectors"?)', 'did you mean "resource"?)', 'did you mean "configure"?)']


def test_v3_suggests_the_known_field() -> None:
    """A misspelt field names the likely intended one."""
    messages = {f.path.rsplit(".", 1)[-1]: f.message for f in findings_of("v3-pipeline-fields.yaml")}
    assert 'did you mean "labels"?' in messages["lables"]
    assert 'did you mean "serviceAccount"?' in messages["serviceAccountName"]


def test_v4_container_names() -> None:
    """V4: duplicate, reserved (work-writer, reader) and missing container names."""
    findings = findings_of("v4-container-names.yaml")
    assert as_rows(findings) == [
        ("V4", "error", "spec.workflows.resource.configure[0].spec.containers[1].name", 18),
        ("V4", "error", "spec.workflows.resource.configure[0].spec.containers[2].name", 20),
        ("V4", "error", "spec.workflows.resource.configure[0].spec.containers[3]", 22),
        ("V4", "error", "spec.workflows.resource.delete[0].spec.containers[0].name", 30),
    ]
    assert 'duplicate container name "render"' in findings[0].message
    assert '"work-writer" is reserved' in findings[1].message


def test_v5_reconciliation_interval() -> None:
    """V5: "30s" is under the 1m minimum; "1d" is not a Go duration."""
    findings = findings_of("v5-reconciliation-interval.yaml")
    assert as_rows(findings) == [
        ("V5", "error", "metadata.annotations.kratix.io/reconciliation-interval", 7),
        ("V5", "error", "spec.workflows.config.reconciliationInterval", 11),
    ]
    assert "minimum of 1m" in findings[0].message
    assert "not a Go duration" in findings[1].message


def test_v6_pipeline_labels() -> None:
    """V6: uppercase prefix, leading '-', two '/', a space and a trailing '.' are rejected."""
    assert rows("v6-pipeline-labels.yaml") == [
        ("V6", "error", "spec.workflows.promise.configure[0].metadata.labels.Example.com/team", 16),
        ("V6", "error", "spec.workflows.promise.configure[0].metadata.labels.-team", 17),
        ("V6", "error", "spec.workflows.promise.configure[0].metadata.labels.owner", 18),
        ("V6", "error", "spec.workflows.promise.configure[0].metadata.labels.version", 19),
        ("V6", "error", "spec.workflows.promise.configure[0].metadata.labels.kratix.io/a/b", 21),
    ]


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("app", True),
        ("app.kubernetes.io/name", True),
        ("a" * 63, True),
        ("a" * 64, False),
        (("a" * 63 + ".") * 3 + "a" * 61 + "/x", True),  # 253-character prefix
        (("a" * 63 + ".") * 3 + "a" * 62 + "/x", False),
        ("/x", False),
        ("x/", False),
        ("under_score", True),
        ("_x", False),
    ],
)
def test_v6_label_key_syntax(key: str, valid: bool) -> None:
    """V6: Kubernetes qualified names (optional DNS-subdomain prefix <= 253, name <= 63)."""
    assert (label_key_problem(key) is None) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [("", True), ("v1.0.0", True), ("a" * 63, True), ("a" * 64, False), ("a b", False), ("x-", False)],
)
def test_v6_label_value_syntax(value: str, valid: bool) -> None:
    """V6: label values are empty or <= 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends."""
    assert (label_value_problem(value) is None) is valid


def test_v7_more_than_one_delete_pipeline() -> None:
    """V7 (D1): two resource delete Pipelines is an error at the second; one promise delete is fine."""
    findings = findings_of("v7-multiple-delete-pipelines.yaml")
    assert as_rows(findings) == [
        ("V7", "error", "spec.workflows.resource.delete[1]", 17),
    ]
    assert 'runs only the first ("delete-first")' in findings[0].message


def test_v8_legacy_xaas_shape_points_at_original_lines() -> None:
    """V8 per legacy key; V2 and V9 inside the legacy shape name the user's keys and lines."""
    findings = findings_of("v8-legacy-xaas.yaml")
    assert as_rows(findings) == [
        ("V8", "warning", "spec.clusterSelector", 10),
        ("V8", "warning", "spec.xaasCrd", 12),
        ("V9", "error", "spec.xaasCrd.spec.scope", 20),
        ("V2", "error", "spec.xaasRequestPipeline", 23),
        ("V8", "warning", "spec.xaasRequestPipeline", 23),
    ]
    v8 = {f.path: f.message for f in findings if f.rule == "V8"}
    assert "spec.destinationSelectors" in v8["spec.clusterSelector"]
    assert "spec.api" in v8["spec.xaasCrd"]
    assert "spec.workflows.resource.configure" in v8["spec.xaasRequestPipeline"]


def test_v8_legacy_grapefruit_shape_points_at_original_lines() -> None:
    """V8 for scheduling and grapefruit.gummybear; V4/V6 inside gummybear keep their lines."""
    assert rows("v8-legacy-grapefruit.yaml") == [
        ("V8", "warning", "spec.scheduling", 8),
        ("V8", "warning", "spec.workflows.grapefruit.gummybear", 14),
        ("V6", "error", "spec.workflows.grapefruit.gummybear[0].metadata.labels.bad key", 20),
        ("V4", "error", "spec.workflows.grapefruit.gummybear[0].spec.containers[1].name", 25),
    ]


def test_v9_api_scope() -> None:
    """V9: Cluster scope, a missing scope (no default in apiextensions v1) and a non-CRD API are errors."""
    findings = findings_of("v9-api-scope.yaml")
    assert as_rows(findings) == [
        ("V9", "error", "spec.api.spec.scope", 16),
        ("V9", "error", "spec.api.spec", 30),
        ("V9", "error", "spec.api.kind", 43),
    ]
    assert '"Cluster"' in findings[0].message
    assert "no scope" in findings[1].message
    assert '"ConfigMap"' in findings[2].message


def test_v10_required_promises() -> None:
    """V10: a present name at the wrong version and an absent name are warnings; a match is silent."""
    findings = findings_of("v10-required-promises.yaml")
    assert as_rows(findings) == [
        ("V10", "warning", "spec.requiredPromises[1]", 11),
        ("V10", "warning", "spec.requiredPromises[2]", 13),
    ]
    assert '"database" at version "v2.0.0"' in findings[0].message
    assert '"v1.0.0"' in findings[0].message
    assert 'required Promise "cache" is not among the files validated together' in findings[1].message


def test_v10_is_judged_across_files(tmp_path: Path) -> None:
    """V10: requirements resolve through Promises in other files validated together."""
    provider = tmp_path / "providers.yaml"
    provider.write_text(
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\nmetadata:\n  name: cache\n"
        "---\n"
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\nmetadata:\n  name: database\n"
        "  labels:\n    kratix.io/promise-version: v2.0.0\n",
        encoding="utf-8",
    )
    findings = validate(load_promises([HERE / "v10-required-promises.yaml", provider]))
    assert findings == []


def test_restart_policy_is_refused_at_load_with_file_and_line() -> None:
    """restartPolicy other than OnFailure/Never cannot be judged: InputError naming file, path and line."""
    with pytest.raises(InputError) as caught:
        load_promises([HERE / "restart-policy-always.yaml"])
    location = caught.value.location
    assert location is not None
    assert (location.file, location.path, location.line) == (
        str(HERE / "restart-policy-always.yaml"), "spec.workflows.resource.configure[0].spec.restartPolicy", 15,
    )
    assert "'OnFailure' or 'Never'" in caught.value.message


def test_findings_are_sorted_and_serialisable() -> None:
    """Deterministic order (file, line, rule) and the JSON shape of a finding."""
    findings = findings_of("v9-api-scope.yaml", "v4-container-names.yaml", "v5-reconciliation-interval.yaml")
    assert findings == sorted(findings, key=Finding.sort_key)
    assert [f.file for f in findings] == sorted(f.file for f in findings)
    assert set(findings[0].to_json()) == {"rule", "severity", "file", "path", "line", "message"}
