"""Pydantic models of Kratix's Promise, Pipeline, Container and resource request (reference section 1).

Field names are the YAML names. Models are lenient about fields Kratix does not know (they are kept for
the validator, which reports unknown Pipeline fields as V3); types are checked.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PIPELINE_API_VERSION = "platform.kratix.io/v1alpha1"
KRATIX_STEP_NAMES = ("reader", "work-writer", "status-writer")

WorkflowType = Literal["resource", "promise"]
WorkflowAction = Literal["configure", "delete"]
WORKFLOW_TYPES: tuple[WorkflowType, ...] = ("resource", "promise")
WORKFLOW_ACTIONS: tuple[WorkflowAction, ...] = ("configure", "delete")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        """The API server prunes null values of non-nullable fields (Promises are custom resources), so
        ``configure: null`` is no field at all, not an error."""
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data


class ObjectMeta(_Model):
    name: str = ""
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


# Fields of Kubernetes' ObjectMeta a Pipeline's metadata may carry (it is an ObjectMeta upstream).
OBJECT_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "labels", "annotations", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences",
    "finalizers", "managedFields", "selfLink",
})


class Container(_Model):
    """A user container of a Pipeline, run in declared order (W2)."""

    name: str = ""
    image: str = ""
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    env: list[dict[str, Any]] = Field(default_factory=list)
    envFrom: list[dict[str, Any]] = Field(default_factory=list)
    volumeMounts: list[dict[str, Any]] = Field(default_factory=list)
    imagePullPolicy: str | None = None
    securityContext: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None


class JobOptions(_Model):
    backoffLimit: int | None = None


class PipelineRBAC(_Model):
    serviceAccount: str | None = None
    permissions: list[dict[str, Any]] = Field(default_factory=list)


class PipelineSpec(_Model):
    containers: list[Container] = Field(default_factory=list)
    volumes: list[dict[str, Any]] = Field(default_factory=list)
    imagePullSecrets: list[dict[str, Any]] = Field(default_factory=list)
    jobOptions: JobOptions = Field(default_factory=JobOptions)
    nodeSelector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    restartPolicy: Literal["OnFailure", "Never"] | None = None
    rbac: PipelineRBAC = Field(default_factory=PipelineRBAC)


class Pipeline(_Model):
    """One Pipeline = one Kubernetes Job (section 1)."""

    apiVersion: str = PIPELINE_API_VERSION
    kind: str = "Pipeline"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PipelineSpec = Field(default_factory=PipelineSpec)

    @property
    def name(self) -> str:
        return self.metadata.name


class WorkflowActions(_Model):
    configure: list[Pipeline] = Field(default_factory=list)
    delete: list[Pipeline] = Field(default_factory=list)

    def pipelines(self, action: WorkflowAction) -> list[Pipeline]:
        return self.configure if action == "configure" else self.delete


class WorkflowsConfig(_Model):
    reconciliationInterval: str | None = None
    pipelineNamespace: str | None = None


class Workflows(_Model):
    resource: WorkflowActions = Field(default_factory=WorkflowActions)
    promise: WorkflowActions = Field(default_factory=WorkflowActions)
    config: WorkflowsConfig = Field(default_factory=WorkflowsConfig)

    def of(self, workflow: WorkflowType) -> WorkflowActions:
        return self.resource if workflow == "resource" else self.promise


class RequiredPromise(_Model):
    name: str
    version: str | None = None


class PromiseSpec(_Model):
    api: dict[str, Any] | None = None
    dependencies: list[dict[str, Any]] = Field(default_factory=list)
    requiredPromises: list[RequiredPromise] = Field(default_factory=list)
    destinationSelectors: list[dict[str, Any]] = Field(default_factory=list)
    workflows: Workflows = Field(default_factory=Workflows)


class Promise(_Model):
    apiVersion: str = PIPELINE_API_VERSION
    kind: Literal["Promise"] = "Promise"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PromiseSpec = Field(default_factory=PromiseSpec)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def version(self) -> str | None:
        """The Promise's version label (``kratix.io/promise-version``), used by requiredPromises (V10)."""
        return self.metadata.labels.get("kratix.io/promise-version")

    def pipelines(self, workflow: WorkflowType, action: WorkflowAction) -> list[Pipeline]:
        return self.spec.workflows.of(workflow).pipelines(action)


class ResourceRequest(_Model):
    """A resource request: an instance of the Promise's API (any kind)."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: dict[str, Any] = Field(default_factory=dict)
    status: dict[str, Any] | None = None
