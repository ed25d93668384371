"""V1-V10 on the real Promise corpus (../shared/promises, read in place).

The expected findings below were determined by reading each file, not by running the validator:
every current-shape Promise is clean except for requiredPromises that are absent when a file is judged
alone (V10); the kratix-legacy-bash Promises warn once per legacy key (V8).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.model.loader import load_promises
from sim.validation import Finding, validate

Triple = tuple[str, str, str]

_V8 = "V8", "warning"
_V10 = "V10", "warning"
_XAAS_LEGACY: frozenset[Triple] = frozenset({
    (*_V8, "spec.clusterSelector"),  # -> spec.destinationSelectors
    (*_V8, "spec.xaasCrd"),  # -> spec.api
    (*_V8, "spec.xaasRequestPipeline"),  # -> spec.workflows.resource.configure
    (*_V8, "spec.workerClusterResources"),  # -> spec.dependencies
})

# file (relative to the corpus) -> findings (rule, severity, path) when the file is validated alone.
EXPECTED: dict[str, frozenset[Triple]] = {
    "ai/promise.yaml": frozenset(),
    # requires postgresql v1.0.0-beta.5 and runtime v1.0.0, neither in this file
    "app-stack/promise.yaml": frozenset({
        (*_V10, "spec.requiredPromises[0]"),
        (*_V10, "spec.requiredPromises[1]"),
    }),
    "aws-rds/promise.yaml": frozenset(),
    "cert-manager/promise.yaml": frozenset(),
    "giantswarm-app-deployment/app-deployment-promise/promise.yaml": frozenset(),
    "github-sign-off/example-promise.yaml": frozenset(),
    "jenkins/promise.yaml": frozenset(),
    "kafka/promise.yaml": frozenset(),
    "kratix-legacy-bash/v1-xaasRequestPipeline/promise-with-selectors.yaml": _XAAS_LEGACY,
    "kratix-legacy-bash/v1-xaasRequestPipeline/promise.yaml": _XAAS_LEGACY,
    "kratix-legacy-bash/v2-grapefruit/promise-with-scheduling.yaml": frozenset({
        (*_V8, "spec.scheduling"),
        (*_V8, "spec.workflows.grapefruit.gummybear"),
    }),
    "kratix-legacy-bash/v2-grapefruit/promise.yaml": frozenset({
        (*_V8, "spec.workflows.grapefruit.gummybear"),
    }),
    # backoffLimit: 0 is valid; the longest ServiceAccount name is 59 characters
    "kratix-reconcile-after-failure/assets/reconcile-after-failure/promise-workflow.yaml": frozenset(),
    "kratix-reconcile-after-failure/assets/reconcile-after-failure/promise.yaml": frozenset(),
    "kratix-sample-redis/redis-promise.yaml": frozenset(),
    "kratix-workflow-control/assets/workflow-control/promise-retry.yaml": frozenset(),
    "kratix-workflow-control/assets/workflow-control/promise-updated.yaml": frozenset(),
    "kratix-workflow-control/assets/workflow-control/promise.yaml": frozenset(),
    "mongodb/promise.yaml": frozenset(),
    # requires namespace v1.0.0
    "namespace-claim/promise.yaml": frozenset({(*_V10, "spec.requiredPromises[0]")}),
    "namespace/promise.yaml": frozenset(),
    "promise-postgresql/promise-ha.yaml": frozenset(),
    "promise-postgresql/promise.yaml": frozenset(),
    # requires postgresql v1.0.0-beta.2, redis v0.1.0, runtime v1.0.0
    "rubyapp/promise.yaml": frozenset({
        (*_V10, "spec.requiredPromises[0]"),
        (*_V10, "spec.requiredPromises[1]"),
        (*_V10, "spec.requiredPromises[2]"),
    }),
    "runtime/promise.yaml": frozenset(),
    "s3-hcp/promise.yaml": frozenset(),
    "slack/promise.yaml": frozenset(),
    "sql-azure/promise.yaml": frozenset(),
    "sql-gcp/promise.yaml": frozenset(),
    "vault-namespace/promise.yaml": frozenset(),
    "vcluster/promise.yaml": frozenset(),
    # requires postgresql v1.0.0-beta.2
    "workshop-app-promise/app-promise.yaml": frozenset({(*_V10, "spec.requiredPromises[0]")}),
}

_PROMISE_DOCUMENT = re.compile(r"^kind:\s*[\"']?Promise[\"']?\s*$", re.MULTILINE)


def _triples(findings: list[Finding]) -> set[Triple]:
    return {(f.rule, f.severity, f.path) for f in findings}


def _validate(corpus: Path, *names: str) -> list[Finding]:
    return validate(load_promises([corpus / name for name in names]))


def test_expected_table_covers_every_promise_file(corpus_dir: Path) -> None:
    """Every corpus file holding a ``kind: Promise`` document has an entry, and nothing else does."""
    found = {
        path.relative_to(corpus_dir).as_posix()
        for path in corpus_dir.rglob("*")
        if path.suffix in (".yaml", ".yml") and path.is_file()
        and _PROMISE_DOCUMENT.search(path.read_text(encoding="utf-8"))
    }
    assert found == set(EXPECTED)
    assert len(found) == 32


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_findings_of_each_file_alone(corpus_dir: Path, name: str) -> None:
    """Exactly the findings read off the file (V8 for legacy shapes, V10 for absent requirements)."""
    findings = _validate(corpus_dir, name)
    assert _triples(findings) == EXPECTED[name]
    assert len(findings) == len(EXPECTED[name])
    assert all(f.file == str(corpus_dir / name) for f in findings)


def test_no_current_shape_promise_has_an_error(corpus_dir: Path) -> None:
    """No Promise of the corpus breaks V1-V7 or V9 (errors); only warnings are expected."""
    assert all(severity == "warning" for triples in EXPECTED.values() for _, severity, _ in triples)


def test_legacy_warnings_point_at_the_original_lines(corpus_dir: Path) -> None:
    """V8 names each legacy key at its own line and says what replaces it."""
    findings = _validate(corpus_dir, "kratix-legacy-bash/v1-xaasRequestPipeline/promise.yaml")
    assert [(f.path, f.line) for f in findings] == [
        ("spec.clusterSelector", 7),
        ("spec.xaasCrd", 8),
        ("spec.xaasRequestPipeline", 39),
        ("spec.workerClusterResources", 42),
    ]
    assert "spec.workflows.resource.configure" in findings[2].message
    assert "spec.api" in findings[1].message
    grapefruit = _validate(corpus_dir, "kratix-legacy-bash/v2-grapefruit/promise-with-scheduling.yaml")
    assert [(f.path, f.line) for f in grapefruit] == [
        ("spec.scheduling", 41),
        ("spec.workflows.grapefruit.gummybear", 47),
    ]
    assert "spec.destinationSelectors" in grapefruit[0].message


def test_rubyapp_requirements_resolve_only_at_the_right_version(corpus_dir: Path) -> None:
    """V10: with postgresql (v1.0.0-beta.5) and runtime (v1.0.0) present, only runtime v1.0.0 resolves:
    rubyapp wants postgresql v1.0.0-beta.2 and redis v0.1.0 (the corpus' redis Promise is "redis-promise")."""
    findings = _validate(
        corpus_dir, "rubyapp/promise.yaml", "promise-postgresql/promise.yaml", "runtime/promise.yaml",
    )
    assert [(f.file, f.rule, f.severity, f.path, f.line) for f in findings] == [
        (str(corpus_dir / "rubyapp/promise.yaml"), *_V10, "spec.requiredPromises[0]", 8),
        (str(corpus_dir / "rubyapp/promise.yaml"), *_V10, "spec.requiredPromises[1]", 10),
    ]
    assert '"v1.0.0-beta.5"' in findings[0].message
    assert "not among the files validated together" in findings[1].message


def test_app_stack_requirements_resolve_together(corpus_dir: Path) -> None:
    """V10: app-stack wants postgresql v1.0.0-beta.5 and runtime v1.0.0, both present: no finding."""
    findings = _validate(
        corpus_dir, "app-stack/promise.yaml", "promise-postgresql/promise.yaml", "runtime/promise.yaml",
    )
    assert findings == []


def test_namespace_claim_needs_the_versioned_namespace_promise(corpus_dir: Path) -> None:
    """V10: another Promise called "namespace" without the version label does not satisfy v1.0.0."""
    assert _validate(corpus_dir, "namespace-claim/promise.yaml", "namespace/promise.yaml") == []
    unversioned = _validate(corpus_dir, "namespace-claim/promise.yaml", "github-sign-off/example-promise.yaml")
    assert _triples(unversioned) == {(*_V10, "spec.requiredPromises[0]")}
    assert "no version label" in unversioned[0].message


def test_whole_corpus_together(corpus_dir: Path) -> None:
    """All 32 files together: legacy warnings stay; only requirements absent from the corpus remain."""
    findings = _validate(corpus_dir, *sorted(EXPECTED))
    by_file: dict[str, set[Triple]] = {}
    for finding in findings:
        by_file.setdefault(Path(finding.file).relative_to(corpus_dir).as_posix(), set()).add(
            (finding.rule, finding.severity, finding.path),
        )
    expected = {name: set(triples) for name, triples in EXPECTED.items() if triples}
    expected.pop("app-stack/promise.yaml")
    expected.pop("namespace-claim/promise.yaml")
    expected["rubyapp/promise.yaml"] = {
        (*_V10, "spec.requiredPromises[0]"),  # postgresql is at v1.0.0-beta.5, not beta.2
        (*_V10, "spec.requiredPromises[1]"),  # no Promise called "redis"
    }
    assert by_file == expected
    assert findings == sorted(findings, key=Finding.sort_key)
