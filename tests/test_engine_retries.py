"""Kubernetes Job and kubelet retries (reference J1-J3), with every expected time computed by hand.

The Pipeline ``pipe-a`` has two user containers: ``step-1`` (5 s, always exits 0) and ``step-2`` (5 s, exits 1
unless told otherwise). In a fresh pod: reader [0, 1], step-1 [1, 6], step-2 starts at 6 s after the pod.

J2 constants: restartPolicy Never -> the Job controller creates the next pod min(10 * 2^(n-1), 600) s after
the n-th failed pod; the Job fails when failed pods > backoffLimit, one 1 s sync batch later.
OnFailure -> the kubelet restarts the failed container in the same pod: first restart immediate, then 10,
20, 40, 80, 160 s, capped at 300 s; the Job fails one sync batch after the restart that brings the pod's
restart count to backoffLimit (to 1 when backoffLimit is 0).
"""

from __future__ import annotations

from typing import Any

import pytest
from engine_helpers import R1, containers, finished, first, jobs, key, of, pipeline, promise, simulate

from sim.trace import Event, Trace

STEP_S = 5  # step-1 and step-2 each run 5 s
READER_S = 1
SYNC_S = 1
STEP2_OFFSET = READER_S + STEP_S  # step-2 starts 6 s into a fresh pod

# J2 constants, restated (not read from the engine)
NEVER_BASE, NEVER_CAP = 10, 600
KUBELET_BASE, KUBELET_CAP = 10, 300


def never_delay(n: int) -> int:
    """Seconds between the n-th failed pod (1-based) and the next pod."""
    return int(min(NEVER_BASE * 2 ** (n - 1), NEVER_CAP))


def kubelet_delay(n: int) -> int:
    """Seconds before the n-th in-place restart (1-based): immediate, then 10, 20, ... capped at 300."""
    return 0 if n == 1 else min(KUBELET_BASE * 2 ** (n - 2), KUBELET_CAP)


def run_pipe(*, policy: str | None = None, backoff_limit: int | None = None, exit_codes: list[int] | None = None,
             kratix: dict[str, Any] | None = None, step2_s: float = STEP_S, duration: float | str = 7200) -> Trace:
    spec: dict[str, Any] = {}
    if policy is not None:
        spec["restartPolicy"] = policy
    if backoff_limit is not None:
        spec["jobOptions"] = {"backoffLimit": backoff_limit}
    doc = promise(configure=(pipeline("pipe-a", containers=("step-1", "step-2"), **spec),))
    return simulate(doc, behaviour={key("pipe-a", "step-2"): {"exitCodes": exit_codes or [1], "duration": step2_s}},
                    kratix=kratix, duration=duration)


def step_events(trace: Trace, container: str, event: str = "container_started") -> list[Event]:
    job = first(jobs(trace))["job"]
    return [e for e in containers(trace, job, event) if e["container"] == container]


# -- OnFailure (Kratix's default) ------------------------------------------------------------------------------
def expected_on_failure(limit: int, step2_s: float = STEP_S) -> tuple[list[float], float]:
    """step-2 start times and the Job's failure time for an always-failing step-2 under OnFailure."""
    restarts_to_fail = max(limit, 1)  # J1: "> 0" when backoffLimit is 0
    starts = [float(STEP2_OFFSET)]
    for n in range(1, restarts_to_fail + 1):
        starts.append(starts[-1] + step2_s + kubelet_delay(n))
    return starts, starts[-1] + SYNC_S


@pytest.mark.parametrize(("pipeline_limit", "kratix", "limit"), [
    (0, None, 0),
    (1, None, 1),
    (None, None, 6),  # unset -> Kubernetes' default 6
    (3, None, 3),  # per-Pipeline jobOptions.backoffLimit
    (None, {"defaultBackoffLimit": 2}, 2),  # kratix config workflows.jobOptions.defaultBackoffLimit
    (4, {"defaultBackoffLimit": 2}, 4),  # the Pipeline's own value wins
])
def test_on_failure_restarts_in_place_until_the_backoff_limit(pipeline_limit: int | None,
                                                              kratix: dict[str, Any] | None, limit: int) -> None:
    """J1/J2: OnFailure restarts after 0, 10, 20, 40, 80, 160 s; the Job fails 1 s after restart #backoffLimit."""
    trace = run_pipe(backoff_limit=pipeline_limit, kratix=kratix)
    created = first(jobs(trace))
    assert (created["backoff_limit"], created["restart_policy"]) == (limit, "OnFailure")
    starts, failed_at = expected_on_failure(limit)
    assert [e["t"] for e in step_events(trace, "step-2")] == starts
    assert [e["attempt"] for e in step_events(trace, "step-2")] == list(range(1, len(starts) + 1))
    ended = finished(trace, created["job"])
    assert (ended["event"], ended["reason"], ended["t"]) == ("job_failed", "BackoffLimitExceeded", failed_at)
    assert ended["message"] == "Job has reached the specified backoff limit"  # J1
    # the last execution is still running when the Job fails: its pod is stopped
    last = step_events(trace, "step-2", "container_exited")[-1]
    assert (last["exit_code"], last["reason"], last["t"]) == (137, "Killed", failed_at)
    assert of(trace, "job_created")[1:] == []  # W4: nothing else runs


def test_on_failure_with_the_default_limit_fails_after_310_s_of_back_off() -> None:
    """J2: with the defaults a failing step starts 7 times; the Job fails ~310 s of back-off + run times later."""
    trace = run_pipe()
    starts = [e["t"] for e in step_events(trace, "step-2")]
    assert len(starts) == 7
    failed = first(of(trace, "job_failed"))
    assert failed["t"] - starts[0] == 310 + 6 * STEP_S + SYNC_S
    assert starts == [6, 11, 26, 51, 96, 181, 346]


def test_on_failure_back_off_is_capped_at_300_s() -> None:
    """J2: the kubelet's back-off doubles from 10 s up to a 300 s cap."""
    trace = run_pipe(backoff_limit=9)
    starts = [e["t"] for e in step_events(trace, "step-2")]
    exits = [e["t"] for e in step_events(trace, "step-2", "container_exited")]
    waits = [round(start - exit_) for exit_, start in zip(exits, starts[1:], strict=False)]
    assert waits == [0, 10, 20, 40, 80, 160, 300, 300, 300]
    assert first(of(trace, "job_failed"))["t"] == starts[-1] + SYNC_S


def test_on_failure_back_off_resets_after_600_s_without_a_failure() -> None:
    """J2: a container failing after more than 600 s restarts immediately each time (the back-off reset)."""
    trace = run_pipe(backoff_limit=3, step2_s=700, duration="3h")
    starts, failed_at = [6.0, 706.0, 1406.0, 2106.0], 2107.0
    assert [e["t"] for e in step_events(trace, "step-2")] == starts
    assert first(of(trace, "job_failed"))["t"] == failed_at


def test_on_failure_re_runs_only_the_failed_container_in_the_same_pod() -> None:
    """J3: OnFailure keeps the pod: one pod, reader and step-1 run once, only step-2 is re-executed."""
    trace = run_pipe(backoff_limit=3, exit_codes=[1, 1, 0])
    assert len(of(trace, "pod_created")) == 1
    pod = first(of(trace, "pod_created"))["pod"]
    for container, count in (("reader", 1), ("step-1", 1), ("step-2", 3), ("work-writer", 1), ("status-writer", 1)):
        runs = step_events(trace, container)
        assert len(runs) == count, container
        assert {e["pod"] for e in runs} == {pod}
    # step-2 fails at 11 -> immediate restart; fails at 16 -> 10 s back-off -> 26, exits 0 at 31;
    # work-writer [31, 32], status-writer [32, 33], Complete at 34
    assert [e["t"] for e in step_events(trace, "step-2")] == [6, 11, 26]
    ended = finished(trace, first(jobs(trace))["job"])
    assert (ended["event"], ended["t"]) == ("job_completed", 34)


def test_on_failure_counts_restarts_not_failures() -> None:
    """J1: OnFailure fails the Job when the restart count reaches backoffLimit, even if that restart would pass."""
    trace = run_pipe(backoff_limit=2, exit_codes=[1, 1, 0])
    # restart #2 (at 26, after the 10 s back-off) brings the count to 2: the Job fails one sync batch later
    assert [e["t"] for e in step_events(trace, "step-2")] == [6, 11, 26]
    ended = finished(trace, first(jobs(trace))["job"])
    assert (ended["event"], ended["t"]) == ("job_failed", 27)
    assert of(trace, "work_written") == []


# -- Never -----------------------------------------------------------------------------------------------------
POD_S = READER_S + STEP_S + STEP_S  # a pod fails 11 s after it starts (step-2 fails at its end)


def expected_never(limit: int) -> tuple[list[float], float]:
    """Pod creation times and the Job's failure time for an always-failing step-2 under Never."""
    pods = [0.0]
    for n in range(1, limit + 1):
        pods.append(pods[-1] + POD_S + never_delay(n))
    return pods, pods[-1] + POD_S + SYNC_S


@pytest.mark.parametrize(("pipeline_limit", "kratix", "limit"), [
    (0, None, 0),
    (1, None, 1),
    (None, None, 6),  # Kubernetes' default: the Job fails at the 7th failed pod
    (2, None, 2),  # per-Pipeline override
    (None, {"defaultBackoffLimit": 3}, 3),  # kratix config
    (1, {"defaultBackoffLimit": 3}, 1),  # the Pipeline's own value wins
])
def test_never_creates_a_new_pod_per_retry_until_the_backoff_limit(pipeline_limit: int | None,
                                                                   kratix: dict[str, Any] | None,
                                                                   limit: int) -> None:
    """J1/J2: Never makes pod n+1 min(10*2^(n-1), 600) s after pod n failed; the Job fails at pod limit+1."""
    trace = run_pipe(policy="Never", backoff_limit=pipeline_limit, kratix=kratix, duration="3h")
    created = first(jobs(trace))
    assert (created["backoff_limit"], created["restart_policy"]) == (limit, "Never")
    pods, failed_at = expected_never(limit)
    assert [e["t"] for e in of(trace, "pod_created")] == pods
    assert [e["attempt"] for e in of(trace, "pod_created")] == list(range(1, limit + 2))
    ended = finished(trace, created["job"])
    assert (ended["event"], ended["reason"], ended["t"]) == ("job_failed", "BackoffLimitExceeded", failed_at)


def test_never_with_the_default_limit_waits_10_to_320_s() -> None:
    """J2: under Never with backoffLimit 6 the waits are 10, 20, 40, 80, 160, 320 s; 7 pods in all."""
    trace = run_pipe(policy="Never", duration="3h")
    pods = [e["t"] for e in of(trace, "pod_created")]
    exits = [e["t"] for e in step_events(trace, "step-2", "container_exited")]
    assert [round(p - x) for x, p in zip(exits, pods[1:], strict=False)] == [10, 20, 40, 80, 160, 320]
    assert len(pods) == 7


def test_never_back_off_is_capped_at_600_s() -> None:
    """J2: a long Never chain (backoffLimit 8) waits 10, 20, 40, 80, 160, 320, 600, 600 s."""
    trace = run_pipe(policy="Never", backoff_limit=8, duration="3h")
    pods = [e["t"] for e in of(trace, "pod_created")]
    exits = [e["t"] for e in step_events(trace, "step-2", "container_exited")]
    assert [round(p - x) for x, p in zip(exits, pods[1:], strict=False)] == [10, 20, 40, 80, 160, 320, 600, 600]
    expected_pods, failed_at = expected_never(8)
    assert pods == expected_pods
    assert first(of(trace, "job_failed"))["t"] == failed_at


def test_never_gives_fresh_pods_starting_from_reader() -> None:
    """J3: Never runs the whole sequence from reader in a new pod for each retry."""
    trace = run_pipe(policy="Never", backoff_limit=2, exit_codes=[1, 1, 0])
    pod_names = [e["pod"] for e in of(trace, "pod_created")]
    assert len(pod_names) == len(set(pod_names)) == 3
    for container in ("reader", "step-1", "step-2"):
        runs = step_events(trace, container)
        assert [e["pod"] for e in runs] == pod_names, container
        assert {e["attempt"] for e in runs} == {1}  # one execution per pod
    # pods at 0, 21 (11 + 10), 52 (21 + 11 + 20); the third passes: step-2 exits 0 at 63, Complete at 66
    assert [e["t"] for e in of(trace, "pod_created")] == [0, 21, 52]
    ended = finished(trace, first(jobs(trace))["job"])
    assert (ended["event"], ended["t"]) == ("job_completed", 66)


def test_delete_jobs_retry_inside_one_job() -> None:
    """D3/J1: a delete Pipeline's retries (Never, backoffLimit 2) happen inside a single delete Job."""
    doc = promise(configure=("pipe-a",),
                  delete=(pipeline("pipe-d", restartPolicy="Never", jobOptions={"backoffLimit": 2}),))
    trace = simulate(doc, behaviour={key("pipe-d", action="delete"): {"exitCodes": [1]}},
                     faults=[{"kind": "delete-resource", "at": 100, "target": R1}], duration=1000)
    deletes = jobs(trace, action="delete")
    assert len(deletes) == 1
    pods = [e["t"] for e in of(trace, "pod_created") if e["job"] == deletes[0]["job"]]
    # delete pod: reader 1 s + pipe-d 5 s -> fails 6 s after it starts
    assert pods == [100, 116, 142]
    assert finished(trace, deletes[0]["job"])["t"] == 149


@pytest.mark.parametrize(("profile", "pipeline_policy", "policy"), [
    ("kratix-2026.08", None, "OnFailure"),
    ("kratix-2026.08", "Never", "Never"),
    ("kratix-2025", "Never", "OnFailure"),  # restartPolicy always OnFailure
    ("seed-doc", "OnFailure", "Never"),  # new pods per retry
])
def test_profiles_choose_the_restart_policy(profile: str, pipeline_policy: str | None, policy: str) -> None:
    """J1-J3 profiles: the Pipeline's restartPolicy, overridden by kratix-2025 (OnFailure) and seed-doc (Never)."""
    trace = run_pipe(policy=pipeline_policy, backoff_limit=1, kratix={"profile": profile})
    assert first(jobs(trace))["restart_policy"] == policy
    assert len(of(trace, "pod_created")) == (2 if policy == "Never" else 1)


@pytest.mark.parametrize("policy", ["OnFailure", "Never"])
def test_a_job_deleted_while_its_failure_is_pending_never_gets_a_condition(policy: str) -> None:
    """J1: OnFailure with backoffLimit 2 reaches the limit at step-2's second failure (16 s; a 10 s back-off
    before the restart), so the Job would fail at 27 s; its Jobs are deleted at 20 s, and a deleted Job gets no
    condition later. (With Never the next pod is simply never created.)"""
    doc = promise(configure=(pipeline("pipe-a", containers=("step-1", "step-2"), restartPolicy=policy,
                                      jobOptions={"backoffLimit": 2}),))
    trace = simulate(doc, behaviour={key("pipe-a", "step-2"): {"exitCodes": [1], "duration": STEP_S}},
                     faults=[{"kind": "delete-jobs", "at": 20, "target": R1}], duration=600)
    deleted = first(of(trace, "job_deleted"))
    assert deleted["t"] == 20
    after_delete = [e for e in trace.events if e.get("job") == deleted["job"] and e["seq"] > deleted["seq"]]
    assert [e["event"] for e in after_delete if e["event"].startswith("job_")] == []
    assert len(jobs(trace)) == 2  # the run started again at pipeline 0 (W11), as a new Job
