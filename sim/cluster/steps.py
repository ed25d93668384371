"""What Kratix's own pod steps do (section 1): reader, work-writer, status-writer.

Each returns an exit code and a reason; a non-zero code fails the step like any container (W16, P3, P4).
"""

from __future__ import annotations

import posixpath
from typing import Any

from mypy_extensions import mypyc_attr

from sim.cluster.api import Cluster
from sim.cluster.objects import (
    COMPLETED_MESSAGE,
    CONFIGURE_COMPLETED,
    SUSPENDED_LABEL,
    Job,
    KObject,
    PipelinePhase,
)
from sim.durations import parse_go_duration
from sim.executors.base import DESTINATION_SELECTORS_FILE, STATUS_FILE, WORKFLOW_CONTROL_FILE, PodVolumes
from sim.profiles import Profile

StepResult = tuple[int, str | None]


def selectors_problem(selectors: Any) -> str | None:
    """P3: a list of ``{directory?, matchLabels}``; non-empty matchLabels of string values; flat directories,
    unique once cleaned as the work-writer does (``filepath.Clean``: none is the root ``.``, ``x/`` is ``x``)."""
    if not isinstance(selectors, list):
        return "destination-selectors.yaml must be a list"
    seen: set[str] = set()
    for entry in selectors:
        if not isinstance(entry, dict):
            return f"destination selector {entry!r} must be a mapping with matchLabels"
        labels = entry.get("matchLabels")
        if labels is not None and not isinstance(labels, dict):
            return f"destination selector matchLabels {labels!r} must be a mapping of label to value"
        if not labels:
            return "every destination selector needs non-empty matchLabels"
        if not all(isinstance(value, str) for value in labels.values()):
            return f"destination selector matchLabels {labels!r}: label values must be strings"
        directory = entry.get("directory")
        if directory is not None and not isinstance(directory, str):
            return f"destination selector directory {directory!r} must be a single directory"
        cleaned = posixpath.normpath(directory or ".").strip("/") or "."
        if "/" in cleaned or cleaned == "..":
            return f"destination selector directory {directory!r} must be a single directory"
        if cleaned in seen:
            where = "the root (no directory)" if cleaned == "." else f"directory {cleaned!r}"
            return f"duplicate destination selector for {where}"
        seen.add(cleaned)
    return None


CONTROL_FIELDS = {"suspend": bool, "message": str, "retryAfter": str}  # Kratix's WorkflowControl struct


def workflow_control(volumes: PodVolumes) -> tuple[dict[str, Any] | None, str | None]:
    """C1/P4: the parsed workflow-control.yaml (retryAfter wins over suspend), or a problem.

    Read as Kratix unmarshals it into ``{Suspend bool, Message string, RetryAfter string}``: keys match the
    field names case-insensitively (the last such key wins), unknown keys are ignored, null is the zero
    value, and any other type (``suspend: "true"``, ``retryAfter: 30``) is an error."""
    control = volumes.metadata.get(WORKFLOW_CONTROL_FILE)
    if control is None:
        return None, None
    if not isinstance(control, dict):
        return None, "workflow-control.yaml must be a mapping"
    fields: dict[str, Any] = {}
    for key, value in control.items():
        name = next((f for f in CONTROL_FIELDS if isinstance(key, str) and key.lower() == f.lower()), None)
        if name is None or value is None:
            continue
        if not isinstance(value, CONTROL_FIELDS[name]):
            kind = "a boolean" if CONTROL_FIELDS[name] is bool else "a string"
            return None, f"workflow-control.yaml {key}: {value!r} must be {kind}"
        fields[name] = value
    result: dict[str, Any] = {"message": fields.get("message", "")}
    if fields.get("retryAfter"):  # Kratix asks for a retry only when retryAfter != ""
        try:
            result["retry_after_s"] = parse_go_duration(fields["retryAfter"])
        except ValueError as exc:
            return None, f"workflow-control.yaml retryAfter: {exc}"
        return result, None
    if fields.get("suspend"):
        result["suspend"] = True
        return result, None
    return None, None


@mypyc_attr(allow_interpreted_subclasses=True)  # the mutants' seam (conformance/mutants)
class KratixSteps:
    def __init__(self, cluster: Cluster, profile: Profile) -> None:
        self.cluster = cluster
        self.profile = profile

    def reader(self, obj: KObject | None, volumes: PodVolumes) -> StepResult:
        """Writes the object, with its current status, to /kratix/input/object.yaml."""
        if obj is not None:
            volumes.input_object = {
                "metadata": {"name": obj.name, "namespace": obj.namespace, "labels": dict(obj.labels)},
                "spec": obj.spec,
                "status": obj.status_document(),
            }
        return 0, None

    def _control(self, volumes: PodVolumes) -> tuple[dict[str, Any] | None, str | None]:
        return workflow_control(volumes) if self.profile.workflow_control else (None, None)

    def work_writer(self, job: Job, obj: KObject | None, volumes: PodVolumes) -> StepResult:
        """W15: one Work per (object, pipeline) from /kratix/output, unless suspend/retry was asked."""
        selectors = volumes.metadata.get(DESTINATION_SELECTORS_FILE, [])
        problem = selectors_problem(selectors)
        if problem:
            return 1, problem
        control, problem = self._control(volumes)
        if problem:
            return 1, problem
        if control is not None or obj is None:
            return 0, None
        self.cluster.write_work(obj, job.pipeline, dict(volumes.output), list(selectors))
        return 0, None

    def status_writer(self, job: Job, obj: KObject | None, volumes: PodVolumes, last: bool) -> StepResult:
        """W16 merge; C1 suspension; on the last configure pipeline, W8 completion."""
        status = volumes.metadata.get(STATUS_FILE) or {}
        if not isinstance(status, dict):
            return 1, "status.yaml must be a mapping"
        if "kratix" in status:
            return 1, "status.yaml may not set the reserved top-level key `kratix`"
        control, problem = self._control(volumes)
        if problem:
            return 1, problem
        if obj is None:
            return 0, None
        if obj.kind == "promise":
            status = {k: v for k, v in status.items() if k == "message"}
        self.cluster.merge_user_status(obj, status)
        if job.action != "configure":
            if control is not None:
                self._suspend_delete(job, obj, control)
            return 0, None
        phases = [PipelinePhase(p.name, p.phase, p.message, p.next_retry_ms, p.attempts) for p in obj.phases]
        if job.pipeline_index >= len(phases) or phases[job.pipeline_index].name != job.pipeline:
            return 0, None  # the Promise changed under the run; the reconciler rebuilds phases
        phase = phases[job.pipeline_index]
        now = self.cluster.now_ms()
        if control is not None:
            job.suspended_pipeline = True
            phase.phase, phase.message, phase.attempts = "Suspended", control["message"], phase.attempts + 1
            retry = control.get("retry_after_s")
            phase.next_retry_ms = None if retry is None else now + round(retry * 1000)
            self.cluster.set_phases(obj, phases)
            self.cluster.set_label(obj, SUSPENDED_LABEL)
            return 0, None
        phase.phase, phase.message, phase.next_retry_ms, phase.attempts = "Succeeded", None, None, 0
        self.cluster.set_phases(obj, phases)
        if last:
            self.cluster.set_condition(obj, CONFIGURE_COMPLETED, "True", "PipelinesExecutedSuccessfully",
                                       "Pipelines completed")
            fields: dict[str, Any] = {"last_successful_configure_ms": now // 1000 * 1000,
                                      "workflows_succeeded": job.pipeline_index + 1, "workflows_failed": 0}
            if obj.message == "Pending":  # MarkAsCompleted: a message the pipeline wrote is kept (W16)
                fields["message"] = COMPLETED_MESSAGE[obj.kind]
            self.cluster.update_status(obj, fields)
        return 0, None

    def _suspend_delete(self, job: Job, obj: KObject, control: dict[str, Any]) -> None:
        """Section 4/C1: a delete pipeline that asks to suspend or retry keeps the object (and its Works); its
        phase is Suspended with message, nextRetryAt and attempts (kept across its re-runs)."""
        job.suspended_pipeline = True
        attempts = obj.delete_phase.attempts if obj.delete_phase is not None else 0
        retry = control.get("retry_after_s")
        next_retry_ms = None if retry is None else self.cluster.now_ms() + round(retry * 1000)
        self.cluster.set_delete_phase(obj, PipelinePhase(job.pipeline, "Suspended", control["message"],
                                                         next_retry_ms, attempts + 1))
        self.cluster.set_label(obj, SUSPENDED_LABEL)
