"""``kratix-sim trace import``: hand-written kubectl exports (tests/cluster_exports/) become traces on which the
checkers give pass where the export proves it, fail where Kratix misbehaved, and unknown, naming what is
missing, where a cluster no longer shows the evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cluster_history.importer import ImportOptions, import_history
from conformance.cluster_history.kubectl import KubeObject, read_objects
from conformance.context import Evidence
from conformance.runner import judge_trace_file
from conformance.verdict import Verdict
from sim.cli import main
from sim.model.loader import load_promise
from sim.trace import Trace

EXPORTS = Path(__file__).parent / "cluster_exports"
PROMISE = EXPORTS / "promise.yaml"
HEALTHY = EXPORTS / "healthy"


def import_trace(tmp_path: Path, *args: str | Path, name: str = "imported.jsonl") -> Path:
    out = tmp_path / name
    assert main(["trace", "import", *map(str, args), "--out", str(out)]) == 0
    return out


def verdicts(trace: Path, promise: Path | None = None) -> dict[str, Verdict]:
    from conformance.rules import TRACE_RULES

    loaded = load_promise(promise).promise if promise is not None else None
    return {v.rule: v for v in judge_trace_file(trace, TRACE_RULES, loaded).verdicts}


def results(found: dict[str, Verdict], *rules: str) -> dict[str, str]:
    return {rule: found[rule].result for rule in rules}


def test_healthy_two_pipeline_run(tmp_path: Path) -> None:
    jobs = HEALTHY / "jobs-pods.yaml"
    trace_path = import_trace(tmp_path, "--jobs", jobs, "--pods", jobs, "--events", HEALTHY / "events.yaml",
                              "--objects", HEALTHY / "objects.yaml")
    trace = Trace.read(trace_path)
    assert trace.header["source"] == "cluster-import" and trace.header["origin"] == "2026-08-21T09:00:00Z"
    assert trace.header["evidence"]["complete"] is True and trace.header["evidence"]["missing"] == []
    created = trace.named("job_created")
    assert [(e["pipeline"], e["pipeline_index"], e["t"]) for e in created] == [("provision", 0, 1), ("register", 1, 47)]
    assert created[0]["backoff_limit"] == 6 and created[0]["restart_policy"] == "OnFailure"
    steps = [e["container"] for e in trace.where("container_started", job=created[0]["job"])]
    assert steps == ["reader", "create-database", "work-writer", "status-writer"]  # init containers first
    found = verdicts(trace_path, PROMISE)
    assert results(found, "W1", "W2", "W3", "W5") == dict.fromkeys(("W1", "W2", "W3", "W5"), "pass")
    assert found["J1"].result == "unknown" and "not exercised" in found["J1"].message
    assert found["W8"].result == "unknown" and "conditions keep only their latest transition" in found["W8"].message
    assert found["K1"].result == "unknown" and "whole seconds" in found["K1"].message


def test_halted_run_with_a_pod_restarted_six_times(tmp_path: Path) -> None:
    halted = EXPORTS / "halted"
    trace_path = import_trace(tmp_path, "--jobs", halted / "jobs-pods.yaml", "--events", halted / "events.yaml",
                              "--objects", halted / "objects.yaml")
    trace = Trace.read(trace_path)
    runs = trace.where("container_started", container="create-database")
    assert [e["attempt"] for e in runs] == [1, 2, 3, 4, 5, 6, 7]
    assert [e.get("inferred", False) for e in runs] == [True] * 5 + [False] * 2  # kubelet keeps the last two
    assert trace.named("job_failed")[0]["reason"] == "BackoffLimitExceeded"
    assert [m["what"] for m in trace.header["evidence"]["missing"]] == ["restart-history"]
    found = verdicts(trace_path)
    assert results(found, "W1", "W2", "W3", "W4", "J1", "J3") == {
        "W1": "unknown", "W2": "pass", "W3": "pass", "W4": "pass", "J1": "pass", "J3": "pass"}
    assert "restarted 6 times" in found["J2"].message and found["J2"].result == "unknown"


@pytest.mark.parametrize("promise", [None, PROMISE], ids=["inferred-order", "with-promise"])
def test_kratix_starting_the_next_pipeline_after_a_failure_is_a_definite_w4_fail(tmp_path: Path,
                                                                                promise: Path | None) -> None:
    halted = EXPORTS / "halted"
    extra: list[str | Path] = ["--promise", promise] if promise is not None else []
    trace_path = import_trace(tmp_path, "--jobs", halted / "jobs-pods.yaml", "--jobs",
                              EXPORTS / "halted-broken" / "register-job.yaml", "--events", halted / "events.yaml",
                              "--objects", halted / "objects.yaml", *extra)
    found = verdicts(trace_path, promise)
    assert found["W4"].result == "fail"
    assert "kratix-postgresql-billing-db-register-f3n8z" in found["W4"].message
    assert found["W1"].result == "fail"
    assert found["J1"].result == "unknown"  # the broken Job counts an active pod the export lacks
    assert "counts 1 pods, the export has 0" in found["J1"].message


def test_stuck_delete(tmp_path: Path) -> None:
    stuck = EXPORTS / "stuck-delete"
    trace_path = import_trace(tmp_path, "--jobs", HEALTHY / "jobs-pods.yaml", "--jobs", stuck / "jobs-pods.yaml",
                              "--events", stuck / "events.json", "--objects", stuck / "objects.yaml",
                              "--promise", PROMISE)
    trace = Trace.read(trace_path)
    assert trace.header["evidence"]["missing"] == []
    assert [e["t"] for e in trace.named("delete_requested")] == [1800]
    assert [e["t"] for e in trace.named("event_recorded")] == [1829, 2891]  # first and last of count: 4
    assert len(trace.where("pod_created", pipeline="deprovision")) == 2
    found = verdicts(trace_path, PROMISE)
    assert results(found, "D1", "D2", "D3", "D4", "J1", "W3") == dict.fromkeys(
        ("D1", "D2", "D3", "D4", "J1", "W3"), "pass")


def test_manual_reconciliation(tmp_path: Path) -> None:
    manual = EXPORTS / "manual-reconciliation"
    trace_path = import_trace(tmp_path, "--jobs", HEALTHY / "jobs-pods.yaml", "--jobs", manual / "jobs-pods.yaml",
                              "--events", manual / "events.yaml", "--objects", manual / "objects.yaml")
    trace = Trace.read(trace_path)
    assert [e["job"] for e in trace.named("job_suspended")] == ["kratix-postgresql-acme-db-register-w4c8j"]
    assert [e["pipeline_index"] for e in trace.named("job_created")] == [0, 1, 0, 1, 0, 1]
    found = verdicts(trace_path)
    assert results(found, "W1", "W2", "W3", "W5") == dict.fromkeys(("W1", "W2", "W3", "W5"), "pass")
    for rule in ("W4", "J4"):  # pipeline 0 again after the suspended Job: started by a label the cluster forgot
        assert found[rule].result == "unknown" and "object label history" in found[rule].message
    assert found["W6"].result == "unknown" and "only current labels" in found["W6"].message


def _without(objects: list[KubeObject], name: str) -> list[KubeObject]:
    return [o for o in objects if o.name != name]


def test_pruned_jobs_and_missing_files_are_named(tmp_path: Path) -> None:
    """A pod whose Job is gone and a run without its pipeline-0 Job show pruning (W14): rules that need the
    Jobs become unknown, naming the gap; no events or objects file is a gap too."""
    promise = load_promise(PROMISE).promise
    pruned = _without(read_objects(HEALTHY / "jobs-pods.yaml"), "kratix-postgresql-acme-db-provision-7b2c9")
    trace = import_history(pruned, ImportOptions(promise=promise, events_given=False, objects_given=False))
    missing = {m["what"]: m["detail"] for m in trace.header["evidence"]["missing"]}
    assert sorted(missing) == ["events", "jobs-pruned", "objects"]
    assert "no Job for pipeline index 0" in missing["jobs-pruned"]
    assert "belongs to Job kratix-postgresql-acme-db-provision-7b2c9, absent" in missing["jobs-pruned"]
    assert trace.header["evidence"]["complete"] is False
    path = tmp_path / "pruned.jsonl"
    trace.write(path)
    found = verdicts(path, PROMISE)
    assert found["W1"].result == "unknown" and "no Job for pipeline index 0" in found["W1"].message
    assert found["W3"].result == "unknown" and found["W3"].message.startswith("no violation in the evidence")


def test_expired_events_are_a_gap(tmp_path: Path) -> None:
    """Kratix records a Warning for every failed workflow; an events file without it lost Events."""
    halted = EXPORTS / "halted"
    trace_path = import_trace(tmp_path, "--jobs", halted / "jobs-pods.yaml", "--events",
                              EXPORTS / "manual-reconciliation" / "events.yaml", "--objects", halted / "objects.yaml")
    missing = {m["what"]: m["detail"] for m in Trace.read(trace_path).header["evidence"]["missing"]}
    assert "no Warning Event about default/billing-db" in missing["events"]


def test_check_names_the_missing_evidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace_path = import_trace(tmp_path, "--pods", HEALTHY / "jobs-pods.yaml")  # the same List, read as pods only
    capsys.readouterr()
    assert main(["check", "--trace", str(trace_path)]) == 0
    text = capsys.readouterr().out
    assert f"evidence missing in {trace_path}:" in text
    assert "  events: no events file (--events)" in text
    assert "  ? W8: the trace lacks the evidence" in text
    assert main(["check", "--trace", str(trace_path), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert "events" in document["evidence"][str(trace_path)]


def test_import_is_deterministic(tmp_path: Path) -> None:
    manual = EXPORTS / "manual-reconciliation"
    files: list[str | Path] = ["--jobs", HEALTHY / "jobs-pods.yaml", "--jobs", manual / "jobs-pods.yaml", "--objects",
             manual / "objects.yaml", "--events", manual / "events.yaml"]
    first = import_trace(tmp_path, *files, name="a.jsonl")
    second = import_trace(tmp_path, *files[4:], *files[2:4], *files[:2], name="b.jsonl")
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize(("file", "where"), [
    ("not-kubernetes.yaml", "not-kubernetes.yaml:2: not a Kubernetes object or List"),
    ("job-missing-labels.yaml", "job-missing-labels.yaml:10: items[0].metadata.labels: Job "
                                "kratix-postgresql-acme-db-provision-7b2c9: no label kratix.io/pipeline-name"),
    ("garbage.json", "garbage.json:3: not JSON"),
])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], file: str,
                                         where: str) -> None:
    out = tmp_path / "never.jsonl"
    assert main(["trace", "import", "--jobs", str(EXPORTS / "bad" / file), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and where in err
    assert not out.exists()


def test_bad_timestamp_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (HEALTHY / "objects.yaml").read_text().replace('"2026-08-21T09:01:02Z"', '"yesterday"', 1)
    bad = tmp_path / "objects.yaml"
    bad.write_text(text)
    assert main(["trace", "import", "--objects", str(bad), "--out", str(tmp_path / "t.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "objects.yaml:" in err and "status.conditions[0].lastTransitionTime" in err and "'yesterday'" in err


def test_simulated_traces_lack_nothing() -> None:
    assert Evidence.of({"event": "header", "format": "kratix-sim-trace/v1"}).missing("labels", "events") is None
    imported = Evidence.of({"evidence": {"missing": [{"what": "events", "detail": "no events file"}],
                                         "unrecorded": [{"what": "labels", "detail": "no label history"}]}})
    assert imported.missing("labels", "events") == "no label history; no events file"
    assert imported.complete is False


def test_as_many_jobs_as_numberofjobstokeep_may_be_pruned(tmp_path: Path) -> None:
    manual = EXPORTS / "manual-reconciliation"
    trace_path = import_trace(tmp_path, "--jobs", HEALTHY / "jobs-pods.yaml", "--jobs", manual / "jobs-pods.yaml",
                              "--events", manual / "events.yaml", "--objects", manual / "objects.yaml",
                              "--jobs-to-keep", "3")
    header = Trace.read(trace_path).header
    assert header["config"] == {"numberOfJobsToKeep": 3}
    missing = {m["what"]: m["detail"] for m in header["evidence"]["missing"]}
    pruned = [f"default/acme-db: 3 configure Jobs of pipeline {p}, as many as numberOfJobsToKeep (3): older ones "
              "may have been pruned (W14)" for p in ("provision", "register")]
    assert missing == {"jobs-pruned": "; ".join(pruned)}
    found = verdicts(trace_path)
    assert found["W1"].result == "unknown" and "older ones may have been pruned" in found["W1"].message


@pytest.mark.parametrize(("argv", "message"), [
    (["--context", "kind"], "--context, --namespace and --kubeconfig go with --from-cluster"),
    ([], "give at least one of --jobs, --pods, --events, --objects (or --from-cluster)"),
    (["--from-cluster", "--jobs", "x.yaml"], "give --from-cluster or files"),
])
def test_option_misuse_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                   message: str) -> None:
    assert main(["trace", "import", *argv, "--out", str(tmp_path / "t.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


@pytest.mark.parametrize(("old", "new", "message"), [
    ("restartCount: 0", "restartCount: 1000000000", "restartCount: Pod"),
    ("restartCount: 0", "restartCount: -5", "restartCount: Pod"),
    ("exitCode: 0", 'exitCode: "x"', "exitCode: Pod"),
    ("exitCode: 0", "exitCode: 1e30", "exitCode: Pod"),
])
def test_container_counts_and_exit_codes_must_be_integers_in_range(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                    old: str, new: str, message: str) -> None:
    """A non-integer exit code used to import as 0 (success) and a huge restartCount as that many executions
    (gigabytes): both are one line of bad input naming the field."""
    bad = tmp_path / "jobs-pods.yaml"
    bad.write_text((HEALTHY / "jobs-pods.yaml").read_text().replace(old, new, 1))
    assert main(["trace", "import", "--jobs", str(bad), "--out", str(tmp_path / "t.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "jobs-pods.yaml:" in err and message in err and "must be an integer" in err, err
