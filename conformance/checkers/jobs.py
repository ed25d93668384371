"""Checkers for the Kubernetes Job, pod and kubelet rules J1-J4 (reference section 3).

They read a Job's ``backoff_limit`` and ``restart_policy`` from its ``job_created`` event and the timing
constants from the profile named in the header; where either is missing they answer ``unknown``.
"""

from __future__ import annotations

from collections.abc import Iterable

from conformance.checkers import checker
from conformance.context import CheckContext, Event, JobInfo, PodInfo
from conformance.verdict import Verdict
from sim.profiles import Profile

EXACT_S = 0.0005  # J2 delays are exact to the millisecond (the trace has ms)
EPS_S = 0.001  # slack on top of a Job controller sync batch
POLICIES = ("Never", "OnFailure")
MANUAL = "kratix.io/manual-reconciliation"
RUN_FROM_START = "internal.workflows.kratix.io/run-from-start"
KILLED = "Killed"  # the pod was stopped (suspension, deletion): not a container failure


# -- shared helpers (also used by the delete and controller checkers) ---------------------------------
def t_of(event: Event) -> float:
    return float(event.get("t", 0))


def failing_exit(event: Event) -> bool:
    """A step that exited non-zero on its own (not killed because its pod was stopped)."""
    return (event["event"] == "container_exited" and event.get("exit_code", 0) != 0
            and event.get("reason") != KILLED)


def attempt_of(event: Event) -> int:
    attempt = event.get("attempt", 1)
    return attempt if isinstance(attempt, int) else 1


def conclude(rule: str, fails: Iterable[Verdict], unknowns: Iterable[str], exercised: bool, idle: str) -> Verdict:
    """The earliest failure (by seq), else unknown with the reasons, else pass (``idle`` when not exercised)."""
    failed = [v for v in fails if v.result == "fail"]
    if failed:
        return min(failed, key=lambda v: v.event["seq"] if v.event is not None else 1 << 62)
    reasons = list(dict.fromkeys(unknowns))
    if reasons:
        more = f" (and {len(reasons) - 3} more)" if len(reasons) > 3 else ""
        return Verdict(rule, "unknown", "; ".join(reasons[:3]) + more)
    return Verdict(rule, "pass", "" if exercised else f"not exercised ({idle})")


def trigger_between(ctx: CheckContext, obj: str, seq_from: int, seq_to: int,
                    labels: tuple[str, ...] = (MANUAL, RUN_FROM_START), delete_jobs_only: bool = False) -> bool:
    """Was there a W5/D4 trigger for ``obj`` strictly between two seqs: one of ``labels`` present on it (still
    there from before, or set in between), a spec change of the object or of its Promise, or one of its Jobs
    (only delete Jobs with ``delete_jobs_only``) deleted by someone else?"""
    if ctx.labels_before(obj, seq_from + 1) & set(labels):
        return True
    promise = ctx.promise_of(obj)
    keys = {obj, f"promise/{promise}"} if promise else {obj}
    for event in ctx.events[ctx.index_of.get(seq_from, -1) + 1:]:
        if event["seq"] >= seq_to:
            break
        name = event["event"]
        key = event.get("object")
        if name == "spec_updated" and key in keys:
            return True
        if key != obj:
            continue
        if name == "label_set" and event.get("label") in labels:
            return True
        if name == "job_deleted" and event.get("reason") == "external":
            info = ctx.jobs.get(str(event.get("job", "")))
            if not delete_jobs_only or info is None or info.action == "delete":
                return True
    return False


def no_profile(rule: str, ctx: CheckContext) -> Verdict:
    return Verdict(rule, "unknown", f"unknown profile {ctx.header.get('profile')!r}: no timing to judge by")


def _retried(job: JobInfo) -> bool:
    """Did any step of the Job fail, or the Job itself?"""
    return job.state == "failed" or any(failing_exit(s) for p in job.pods for s in p.steps)


def _steps_missing(job: JobInfo) -> str | None:
    """Why the Job's pods cannot be judged (no pods, or a pod other than the newest without any step event),
    or None."""
    if not job.pods:
        return f"no pod of Job {job.name} is in the trace"
    bare = [p.name for p in job.pods[:-1] if not p.steps]
    return f"pod {bare[0]} of Job {job.name} has no step events in the trace" if bare else None


def _policy_known(job: JobInfo) -> str | None:
    """Why the Job cannot be judged by J1-J3, or None."""
    if job.backoff_limit is None or not isinstance(job.backoff_limit, int):
        return f"job_created of {job.name} has no backoff_limit"
    if job.restart_policy not in POLICIES:
        return f"job_created of {job.name} has no usable restart_policy ({job.restart_policy!r})"
    return None


# -- J1 --------------------------------------------------------------------------------------------
@checker("J1")
def backoff_limit(ctx: CheckContext) -> Verdict:
    """J1 backoffLimit. ``Never``: the Job fails (BackoffLimitExceeded) iff failed pods > backoffLimit, and
    no pod is created after the (limit+1)-th failure. ``OnFailure``: the Job fails when the live pod's summed
    restart count (starts with attempt > 1) reaches backoffLimit (> 0 when it is 0), not earlier, and nothing
    restarts after that beyond one Job sync batch. A Job that reached its limit ends failed within the sync
    batch (+1 ms) unless it was deleted or suspended first, or the trace ends."""
    if ctx.profile is None:
        return no_profile("J1", ctx)
    sync = ctx.profile.timing.job_sync_batch_s
    fails: list[Verdict] = []
    unknowns: list[str] = []
    exercised = False
    for job in ctx.jobs.values():
        if not _retried(job):
            continue
        exercised = True
        problem = _policy_known(job) or _steps_missing(job)
        if problem is not None:
            unknowns.append(problem)
            continue
        fails.extend(_j1_job(ctx, job, sync))
    return conclude("J1", fails, unknowns, exercised, "no step failed")


def _j1_job(ctx: CheckContext, job: JobInfo, sync: float) -> list[Verdict]:
    assert job.backoff_limit is not None
    limit = job.backoff_limit
    never = job.restart_policy == "Never"
    threshold = limit + 1 if never else max(limit, 1)
    what = "failed pods" if never else "restarts"
    failed_pods: list[str] = []
    restarts: dict[str, int] = {}
    reached: Event | None = None
    failed_at: Event | None = None
    out: list[Verdict] = []
    for event in ctx.job_events(job):
        name = event["event"]
        pod = str(event.get("pod", ""))
        if never and failing_exit(event) and pod not in failed_pods:
            failed_pods.append(pod)
            if len(failed_pods) >= threshold and reached is None:
                reached = event
        elif not never and name == "container_started" and attempt_of(event) > 1:
            restarts[pod] = restarts.get(pod, 0) + 1
            if restarts[pod] >= threshold and reached is None:
                reached = event
                continue
        if reached is not None and name == "pod_created" and never:
            out.append(ctx.fail("J1", event, f"{job.name}: pod {pod} created after the Job's {threshold}th failed "
                                f"pod (backoffLimit {limit}, restartPolicy Never)"))
            break
        if (reached is not None and not never and name in ("container_started", "pod_created")
                and t_of(event) > t_of(reached) + sync + EPS_S):
            out.append(ctx.fail("J1", event, f"{job.name}: {event.get('container', pod)} started at "
                                f"t={t_of(event):g} after the pod's restarts reached backoffLimit {limit} at "
                                f"t={t_of(reached):g}"))
            break
        if name == "job_failed" and failed_at is None:
            failed_at = event
            count = len(failed_pods) if never else max(restarts.values(), default=0)
            if reached is None:
                out.append(ctx.fail("J1", event, f"{job.name} failed with {count} {what}; backoffLimit {limit} "
                                    f"({job.restart_policy}) needs {threshold}"))
                break
            if event.get("reason") not in (None, "BackoffLimitExceeded"):
                out.append(ctx.fail("J1", event, f"{job.name} failed with reason {event.get('reason')!r}, "
                                    "expected BackoffLimitExceeded"))
                break
        elif failed_at is not None and name in ("container_started", "pod_created"):
            out.append(ctx.fail("J1", event, f"{job.name}: {event.get('container', pod)} started after the Job "
                                f"failed at t={t_of(failed_at):g}"))
            break
        if name == "job_completed" and reached is not None:
            out.append(ctx.fail("J1", event, f"{job.name} completed although its {what} reached backoffLimit "
                                f"{limit} at t={t_of(reached):g}"))
            break
        if name in ("job_completed", "job_suspended", "job_deleted"):
            break
    if reached is not None:
        deadline = t_of(reached) + sync + EPS_S
        late = ctx.first_past(reached, deadline)
        end = job.end_seq()
        if late is not None and (end is None or end > late["seq"]):
            out.append(ctx.fail("J1", late, f"{job.name}: {what} reached backoffLimit {limit} at "
                                f"t={t_of(reached):g} but the Job was not failed within the {sync:g} s sync batch"))
    return out


# -- J2 --------------------------------------------------------------------------------------------
@checker("J2")
def retry_delays(ctx: CheckContext) -> Verdict:
    """J2 retry delays, exact to the millisecond. ``Never``: pod n+1 is created min(base*2^(n-1), cap)
    (never under the minimum) after pod n's failing step exited, n = consecutive failed pods. ``OnFailure``:
    a failed container restarts in place 0 s after its first failure, then base*2^(k-2) capped after its
    k-th; the count resets when more than the reset period passed since its previous failure. A due retry that
    never comes while the Job still runs is a violation too."""
    if ctx.profile is None:
        return no_profile("J2", ctx)
    fails: list[Verdict] = []
    unknowns: list[str] = []
    exercised = False
    for job in ctx.jobs.values():
        if not any(failing_exit(s) for p in job.pods for s in p.steps):
            continue
        exercised = True
        problem = (f"job_created of {job.name} has no usable restart_policy ({job.restart_policy!r})"
                   if job.restart_policy not in POLICIES else _steps_missing(job))
        if problem is not None:
            unknowns.append(problem)
            continue
        if job.restart_policy == "Never":
            fails.extend(_j2_never(ctx, job, ctx.profile))
        else:
            for pod in job.pods:
                fails.extend(_j2_in_place(ctx, job, pod, ctx.profile))
    return conclude("J2", fails, unknowns, exercised, "no step failed")


def _missing_retry(ctx: CheckContext, job: JobInfo, failure: Event, due: float, what: str) -> list[Verdict]:
    late = ctx.first_past(failure, due + EXACT_S)
    end = job.end_seq()
    if late is not None and (end is None or end > late["seq"]):
        return [ctx.fail("J2", late, f"{job.name}: {what} due at t={due:g} after the failure at "
                         f"t={t_of(failure):g}, but none by t={t_of(late):g}")]
    return []


def _j2_never(ctx: CheckContext, job: JobInfo, profile: Profile) -> list[Verdict]:
    timing = profile.timing
    for n, pod in enumerate(job.pods):
        failure = next((s for s in pod.steps if failing_exit(s)), None)
        if failure is None:
            return []  # a pod that did not fail: J3 judges what follows it
        consecutive = n + 1  # every earlier pod failed too
        if job.backoff_limit is not None and consecutive > job.backoff_limit:
            return []  # no next pod (J1)
        delay = max(min(timing.job_backoff_base_s * 2 ** (consecutive - 1), timing.job_backoff_cap_s),
                    timing.job_backoff_min_s)
        due = t_of(failure) + delay
        if n + 1 < len(job.pods):
            created = job.pods[n + 1].created
            if abs(t_of(created) - due) > EXACT_S:
                return [ctx.fail("J2", created, f"{job.name}: pod {n + 2} created {t_of(created) - t_of(failure):g}"
                                 f" s after pod {n + 1} failed; expected {delay:g} s ({consecutive} consecutive "
                                 "failures)")]
        elif job.backoff_limit is not None:
            return _missing_retry(ctx, job, failure, due, f"pod {n + 2}")
    return []


def _j2_in_place(ctx: CheckContext, job: JobInfo, pod: PodInfo, profile: Profile) -> list[Verdict]:
    timing = profile.timing
    reset_ms = round(timing.kubelet_backoff_reset_s * 1000)
    backoff: dict[str, tuple[int, int]] = {}  # container -> (failures, last failure ms)
    for k, step in enumerate(pod.steps):
        if not failing_exit(step):
            continue
        container = str(step.get("container", ""))
        now_ms = round(t_of(step) * 1000)
        failures, last_ms = backoff.get(container, (0, 0))
        if failures and now_ms - last_ms > reset_ms:
            failures = 0
        failures += 1
        backoff[container] = (failures, now_ms)
        delay = 0.0 if failures == 1 else min(timing.kubelet_backoff_base_s * 2 ** (failures - 2),
                                              timing.kubelet_backoff_cap_s)
        due = t_of(step) + delay
        following = pod.steps[k + 1] if k + 1 < len(pod.steps) else None
        if following is None:
            found = _missing_retry(ctx, job, step, due, f"restart of {container}")
            if found:
                return found
            continue
        if following["event"] == "container_started" and abs(t_of(following) - due) > EXACT_S:
            return [ctx.fail("J2", following, f"{job.name}: {following.get('container')} restarted "
                             f"{t_of(following) - t_of(step):g} s after failure {failures} of {container}; "
                             f"expected {delay:g} s")]
    return []


# -- J3 --------------------------------------------------------------------------------------------
@checker("J3")
def retry_scope(ctx: CheckContext) -> Verdict:
    """J3 retry scope. The restart policy is the profile's when it forces one. ``OnFailure``: one pod per
    Job; a restart (attempt > 1) is the container that just exited non-zero in the same pod, with the next
    attempt number, and no earlier step runs again in that pod. ``Never``: every pod starts with ``reader``, no
    step runs twice in a pod nor after a failed step, and a new pod is created only after the previous one
    failed."""
    if ctx.profile is None:
        return no_profile("J3", ctx)
    forced = ctx.profile.restart_policy_override
    fails: list[Verdict] = []
    unknowns: list[str] = []
    exercised = False
    for job in ctx.jobs.values():
        if forced is not None and job.restart_policy is not None and job.restart_policy != forced:
            fails.append(ctx.fail("J3", job.created, f"{job.name} has restartPolicy {job.restart_policy}; profile "
                                  f"{ctx.profile.name} always uses {forced}"))
            continue
        retried = len(job.pods) > 1 or any(attempt_of(s) > 1 or failing_exit(s) for p in job.pods for s in p.steps)
        if not retried:
            continue
        exercised = True
        if job.restart_policy not in POLICIES:
            unknowns.append(f"job_created of {job.name} has no usable restart_policy ({job.restart_policy!r})")
            continue
        problem = _steps_missing(job)
        if problem is not None:
            unknowns.append(problem)
            continue
        if job.restart_policy == "OnFailure":
            if len(job.pods) > 1:
                fails.append(ctx.fail("J3", job.pods[1].created, f"{job.name} (OnFailure) got a second pod: "
                                      "retries must happen in place, in the same pod"))
            fails.extend(v for pod in job.pods for v in _j3_in_place(ctx, job, pod))
        else:
            fails.extend(_j3_never(ctx, job))
    return conclude("J3", fails, unknowns, exercised, "no retry")


def _j3_in_place(ctx: CheckContext, job: JobInfo, pod: PodInfo) -> list[Verdict]:
    started: set[str] = set()
    previous: Event | None = None
    for step in pod.steps:
        if step["event"] == "container_started":
            container = str(step.get("container", ""))
            attempt = attempt_of(step)
            if attempt > 1:
                same = (previous is not None and failing_exit(previous) and previous.get("container") == container
                        and attempt_of(previous) == attempt - 1)
                if not same:
                    last = "nothing" if previous is None else (
                        f"{previous['event']} of {previous.get('container')} (attempt {attempt_of(previous)}, "
                        f"exit {previous.get('exit_code')})")
                    return [ctx.fail("J3", step, f"{job.name}: {container} restarted (attempt {attempt}) in pod "
                                     f"{pod.name}, but the previous step event was {last}")]
            elif container in started:
                return [ctx.fail("J3", step, f"{job.name}: {container} runs again in pod {pod.name} (OnFailure "
                                 "restarts only the failed container)")]
            started.add(container)
        previous = step
    return []


def _j3_never(ctx: CheckContext, job: JobInfo) -> list[Verdict]:
    for n, pod in enumerate(job.pods):
        started: set[str] = set()
        failed: Event | None = None
        for step in pod.steps:
            if step["event"] != "container_started":
                if failing_exit(step) and failed is None:
                    failed = step
                continue
            container = str(step.get("container", ""))
            if not started and container != "reader":
                return [ctx.fail("J3", step, f"{job.name}: pod {pod.name} starts with {container}, not reader "
                                 "(restartPolicy Never runs the whole sequence in a fresh pod)")]
            if failed is not None:
                return [ctx.fail("J3", step, f"{job.name}: {container} started in pod {pod.name} after "
                                 f"{failed.get('container')} failed (restartPolicy Never: the pod has failed)")]
            if container in started or attempt_of(step) > 1:
                return [ctx.fail("J3", step, f"{job.name}: {container} runs again in pod {pod.name} "
                                 "(restartPolicy Never never restarts a container in place)")]
            started.add(container)
        if n + 1 < len(job.pods):
            following = job.pods[n + 1].created
            before = [s for s in pod.steps if s["seq"] < following["seq"]]
            if not before or not failing_exit(before[-1]):
                return [ctx.fail("J3", following, f"{job.name}: pod {following.get('pod')} created although pod "
                                 f"{pod.name} had not failed")]
    return []


# -- J4 --------------------------------------------------------------------------------------------
@checker("J4")
def suspension(ctx: CheckContext) -> Verdict:
    """J4 suspension. Once a Job is suspended (``job_suspended``, or one sync batch after
    ``job_suspend_requested``) none of its pods or containers start, and a requested suspension takes effect
    within the sync batch unless the Job ended first. Kratix treats a suspended configure Job like a failed one:
    the object's next configure Job is never the next pipeline of the suspended run, and is created only after
    a trigger (manual or run-from-start label, spec change of the object or its Promise, Jobs deleted,
    deletion) seen since the suspended Job was created."""
    if ctx.profile is None:
        return no_profile("J4", ctx)
    sync = ctx.profile.timing.job_sync_batch_s
    fails: list[Verdict] = []
    unknowns: list[str] = []
    exercised = False
    for job in ctx.jobs.values():
        if job.suspend_requested is None and job.state != "suspended":
            continue
        exercised = True
        fails.extend(_j4_stopped(ctx, job, sync))
        if job.state == "suspended" and job.action == "configure":
            fails.extend(_j4_halted(ctx, job, unknowns))
    return conclude("J4", fails, unknowns, exercised, "no Job suspended")


def _j4_stopped(ctx: CheckContext, job: JobInfo, sync: float) -> list[Verdict]:
    suspended = job.ended if job.state == "suspended" else None
    requested = job.suspend_requested
    cutoff = t_of(requested) + sync + EPS_S if requested is not None else None
    out: list[Verdict] = []
    for event in ctx.job_events(job):
        if event["event"] not in ("container_started", "pod_created"):
            continue
        what = event.get("container") or f"pod {event.get('pod')}"
        if suspended is not None and event["seq"] > suspended["seq"]:
            out.append(ctx.fail("J4", event, f"{job.name}: {what} started after the Job was suspended at "
                                f"t={t_of(suspended):g}"))
            break
        if cutoff is not None and t_of(event) > cutoff:
            assert requested is not None
            out.append(ctx.fail("J4", event, f"{job.name}: {what} started at t={t_of(event):g}, more than one sync "
                                f"batch after suspension was requested at t={t_of(requested):g}"))
            break
    if requested is not None and cutoff is not None:
        late = ctx.first_past(requested, cutoff)
        end = job.end_seq()
        if late is not None and (end is None or end > late["seq"]):
            out.append(ctx.fail("J4", late, f"{job.name}: suspension requested at t={t_of(requested):g} but the "
                                f"Job was still running {sync:g} s later"))
    return out


def _j4_halted(ctx: CheckContext, job: JobInfo, unknowns: list[str]) -> list[Verdict]:
    """The object's next Job after a suspended one; a new run with no trigger in a trace that lacks the label
    history adds to ``unknowns`` (the manual label that suspended the Job, W6, may have started it)."""
    assert job.ended is not None
    for event in ctx.after(job.ended):
        if event["event"] != "job_created" or event.get("object") != job.object:
            continue
        if event.get("action", "configure") != "configure":
            return []
        index = event.get("pipeline_index", -1)
        if event.get("hash") == job.hash and isinstance(index, int) and index > job.pipeline_index:
            return [ctx.fail("J4", event, f"{job.object}: Job for pipeline {event.get('pipeline')} (index {index}) "
                             f"created after {job.name} (pipeline {job.pipeline}) was suspended; a suspended Job "
                             "halts its run like a failed one")]
        if not trigger_between(ctx, job.object, job.created["seq"], event["seq"]):
            gap = ctx.evidence.missing("labels")
            if gap is not None and index == 0:
                unknowns.append(f"{job.object}: Job {event.get('job')} created after {job.name} was suspended, with "
                                f"no trigger in the trace ({gap})")
                return []
            return [ctx.fail("J4", event, f"{job.object}: Job {event.get('job')} created after {job.name} was "
                             "suspended, with no trigger (a suspended Job counts as failed, W4)")]
        return []
    return []
