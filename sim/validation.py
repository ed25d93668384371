"""Admission-time validation of Promises: rules V1-V10 of the reference (section 7), and ``validate`` CLI.

Each check is a small function returning ``Finding``s that cite one rule ID. Paths and lines point at the
user's own file, also for legacy shapes (``LoadedPromise.at`` maps normalised paths back).

Rules (severity):
- V1 (error) pipeline names unique per (workflow type, action).
- V2 (error) the ServiceAccount name ``<promise>-<type>-<action>-<pipeline>`` must be a valid Kubernetes
  name of at most 60 characters (so a Pipeline needs a non-empty, lowercase name).
- V3 (error) a Pipeline has ``apiVersion: platform.kratix.io/v1alpha1``, ``kind: Pipeline`` and no unknown
  fields (Kratix decodes it with unknown fields disallowed); also values Kubernetes would reject when the
  Job is created: ``jobOptions.backoffLimit`` below 0, a container without ``image``; and no unknown field
  in the Promise's ``spec``, ``spec.workflows`` or a workflow type (the API server's strict field validation
  rejects them; a misspelt ``workflow:`` would leave the Promise without pipelines).
- V4 (error) container names present, unique within a Pipeline, and not ``reader``, ``work-writer`` or
  ``status-writer``.
- V5 (error) ``spec.workflows.config.reconciliationInterval`` and annotation
  ``kratix.io/reconciliation-interval``: Go durations of at least 1m.
- V6 (error) pipeline label keys and values are valid Kubernetes labels.
- V7 (error) more than one delete Pipeline per workflow type (D1: Kratix runs only the first).
- V8 (warning) legacy API shape (``spec.xaasRequestPipeline``, ``spec.workflows.grapefruit``...).
- V9 (error) ``spec.api`` is a CustomResourceDefinition with ``spec.scope: Namespaced``.
- V10 (warning) ``spec.requiredPromises`` entries not among the Promises validated together.

``restartPolicy`` values other than OnFailure/Never are refused when loading (exit 2, with file and line).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from sim.cli import add_limit_options
from sim.durations import parse_go_duration
from sim.errors import EXIT_FAILED, EXIT_OK
from sim.model.loader import LoadedPromise, load_promises
from sim.model.promise import (
    KRATIX_STEP_NAMES,
    OBJECT_META_FIELDS,
    PIPELINE_API_VERSION,
    WORKFLOW_ACTIONS,
    WORKFLOW_TYPES,
    Container,
    JobOptions,
    Pipeline,
    PipelineRBAC,
    PipelineSpec,
    PromiseSpec,
    WorkflowAction,
    WorkflowActions,
    Workflows,
    WorkflowType,
)
from sim.yamlio import PathKey, format_path

Severity = Literal["error", "warning"]

MAX_PIPELINE_ID_CHARS = 60
MIN_RECONCILIATION_INTERVAL_S = 60.0
RECONCILIATION_INTERVAL_ANNOTATION = "kratix.io/reconciliation-interval"
CRD_API_VERSION = "apiextensions.k8s.io/v1"
CRD_KIND = "CustomResourceDefinition"

# Kubernetes name and label syntax (k8s.io/apimachinery/pkg/util/validation).
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1123_SUBDOMAIN_MAX = 253
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_LABEL_MAX = 63
_LABEL_CHARS = "must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit"

# Legacy keys (V8): which old shape each comes from (the replacement is read from the loader's remap).
_LEGACY_DESCRIPTIONS: dict[PathKey, str] = {
    ("spec", "xaasRequestPipeline"): "a list of images, the first Promise shape",
    ("spec", "xaasCrd"): "the first Promise shape",
    ("spec", "clusterSelector"): "the first Promise shape",
    ("spec", "workerClusterResources"): "the first Promise shape",
    ("spec", "workflows", "grapefruit", "gummybear"): "the July 2023 shape",
    ("spec", "scheduling"): "the July 2023 shape",
}


@dataclass(frozen=True)
class Finding:
    """One judged problem: the rule it breaks, where (file, YAML path, line) and what to do about it."""

    rule: str
    severity: Severity
    file: str
    path: str
    line: int | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "file": self.file,
            "path": self.path,
            "line": self.line,
            "message": self.message,
        }

    def sort_key(self) -> tuple[str, int, int, str, str]:
        """File, line, rule (V2 before V10), then path and message so equal places never tie."""
        number = int(self.rule[1:]) if self.rule[1:].isdigit() else 0
        return (self.file, self.line if self.line is not None else 0, number, self.path, self.message)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.severity} {self.rule} {self.path}: {self.message}"


def _finding(loaded: LoadedPromise, rule: str, severity: Severity, path: PathKey, message: str) -> Finding:
    location = loaded.at(path)
    return Finding(rule, severity, location.file, location.path, location.line, message)


def _fields(model: type[BaseModel]) -> frozenset[str]:
    """The YAML keys a model knows (allowed sets for V3 come from the models, never from a second list)."""
    return frozenset(info.alias or name for name, info in model.model_fields.items())


@dataclass(frozen=True)
class _PipelineRef:
    """One Pipeline of a Promise with its normalised path and raw mapping."""

    workflow: WorkflowType
    action: WorkflowAction
    index: int
    model: Pipeline
    raw: dict[str, Any]

    @property
    def path(self) -> PathKey:
        return ("spec", "workflows", self.workflow, self.action, self.index)

    def describe(self) -> str:
        name = f'"{self.model.name}"' if self.model.name else f"#{self.index}"
        return f'Pipeline {name} of workflow "{self.workflow}" action "{self.action}"'


def _pipelines(loaded: LoadedPromise) -> Iterator[_PipelineRef]:
    workflows = _mapping(_mapping(loaded.raw.get("spec")).get("workflows"))
    for workflow in WORKFLOW_TYPES:
        raw_actions = _mapping(workflows.get(workflow))
        for action in WORKFLOW_ACTIONS:
            raw_list = raw_actions.get(action)
            raw_items = raw_list if isinstance(raw_list, list) else []
            for index, model in enumerate(loaded.promise.pipelines(workflow, action)):
                raw = raw_items[index] if index < len(raw_items) else {}
                yield _PipelineRef(workflow, action, index, model, _mapping(raw))


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first_at(loaded: LoadedPromise, path: PathKey) -> str:
    line = loaded.at(path).line
    return f"first used at line {line}" if line is not None else "used before"


def _suggest(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


# --- V1, V2, V7: pipeline names and counts -------------------------------------------------------------


def check_unique_pipeline_names(loaded: LoadedPromise) -> list[Finding]:
    """V1: pipeline names are unique per (workflow type, action)."""
    findings: list[Finding] = []
    seen: dict[tuple[str, str, str], int] = {}
    for ref in _pipelines(loaded):
        name = ref.model.name
        if not name:
            continue  # reported by V2
        key = (ref.workflow, ref.action, name)
        if key in seen:
            findings.append(_finding(
                loaded, "V1", "error", (*ref.path, "metadata", "name"),
                f'duplicate pipeline name "{name}" in workflow "{ref.workflow}" action "{ref.action}" '
                f"({_first_at(loaded, (*ref.path[:-1], seen[key], 'metadata', 'name'))})",
            ))
        else:
            seen[key] = ref.index
    return findings


def check_pipeline_id(loaded: LoadedPromise) -> list[Finding]:
    """V2: ``<promise>-<type>-<action>-<pipeline>`` names the ServiceAccount: a valid name, <= 60 chars."""
    findings: list[Finding] = []
    promise = loaded.promise.name
    for ref in _pipelines(loaded):
        name = ref.model.name
        if not name:
            findings.append(_finding(
                loaded, "V2", "error", (*ref.path, "metadata"),
                f"{ref.describe()} has no metadata.name; Kratix names its Job and ServiceAccount after it",
            ))
            continue
        pipeline_id = f"{promise}-{ref.workflow}-{ref.action}-{name}"
        path = (*ref.path, "metadata", "name")
        if len(pipeline_id) > MAX_PIPELINE_ID_CHARS:
            findings.append(_finding(
                loaded, "V2", "error", path,
                f'pipeline name "{name}" is too long: the ServiceAccount name "{pipeline_id}" '
                f"(<promise>-<type>-<action>-<pipeline>) has {len(pipeline_id)} characters, "
                f"at most {MAX_PIPELINE_ID_CHARS} are allowed",
            ))
        if promise and not _DNS1123_SUBDOMAIN.fullmatch(pipeline_id):
            findings.append(_finding(
                loaded, "V2", "error", path,
                f'pipeline name "{name}" makes the ServiceAccount name "{pipeline_id}", which Kubernetes '
                "rejects: use lowercase letters, digits, '-' and '.', starting and ending with a letter "
                "or digit",
            ))
    return findings


def check_single_delete_pipeline(loaded: LoadedPromise) -> list[Finding]:
    """V7 (D1): at most one delete Pipeline per workflow type; Kratix silently runs only the first."""
    findings: list[Finding] = []
    for workflow in WORKFLOW_TYPES:
        pipelines = loaded.promise.pipelines(workflow, "delete")
        if len(pipelines) > 1:
            names = [f'"{p.name}"' if p.name else f"#{i}" for i, p in enumerate(pipelines)]
            findings.append(_finding(
                loaded, "V7", "error", ("spec", "workflows", workflow, "delete", 1),
                f'workflow "{workflow}" has {len(pipelines)} delete Pipelines; a delete workflow may contain '
                f"only one (D1): Kratix runs only the first ({names[0]}) and ignores {', '.join(names[1:])}",
            ))
    return findings


# --- V3, V4: pipeline and container fields ------------------------------------------------------------


_PIPELINE_FIELDS_RULE = "Kratix rejects unknown Pipeline fields"
_PROMISE_FIELDS_RULE = ("the API server rejects unknown fields of a Promise (strict field validation) or drops them, "
                        "and Kratix never sees what is under it")


def _unknown_keys(loaded: LoadedPromise, raw: dict[str, Any], known: frozenset[str], path: PathKey, where: str,
                  why: str = _PIPELINE_FIELDS_RULE) -> list[Finding]:
    return [
        _finding(loaded, "V3", "error", (*path, str(key)),
                 f'unknown field "{key}" in {where}{_suggest(str(key), known)}; {why} (known: '
                 f"{', '.join(sorted(known))})")
        for key in raw
        if str(key) not in known
    ]


def check_promise_fields(loaded: LoadedPromise) -> list[Finding]:
    """V3, the layers above the Pipelines: no unknown field in the Promise's spec, spec.workflows or a workflow
    type (a misspelt ``workflow:`` or ``resources:`` would leave the Promise without pipelines)."""
    spec = _mapping(loaded.raw.get("spec"))
    findings = _unknown_keys(loaded, spec, _fields(PromiseSpec), ("spec",), "the Promise spec",
                             _PROMISE_FIELDS_RULE)
    workflows = _mapping(spec.get("workflows"))
    findings += _unknown_keys(loaded, workflows, _fields(Workflows), ("spec", "workflows"), "spec.workflows",
                              _PROMISE_FIELDS_RULE)
    for workflow in WORKFLOW_TYPES:
        findings += _unknown_keys(loaded, _mapping(workflows.get(workflow)), _fields(WorkflowActions),
                                  ("spec", "workflows", workflow), f"spec.workflows.{workflow}", _PROMISE_FIELDS_RULE)
    return findings


def check_pipeline_fields(loaded: LoadedPromise) -> list[Finding]:
    """V3: no unknown field above the Pipelines; apiVersion/kind of each Pipeline, no unknown fields, values
    Kubernetes accepts."""
    findings: list[Finding] = check_promise_fields(loaded)
    for ref in _pipelines(loaded):
        raw, path, what = ref.raw, ref.path, ref.describe()
        kind = raw.get("kind")
        if kind != "Pipeline":
            findings.append(_finding(
                loaded, "V3", "error", (*path, "kind") if "kind" in raw else path,
                f'{what}: kind must be "Pipeline", not {_shown(kind)}',
            ))
        api_version = raw.get("apiVersion")
        if api_version != PIPELINE_API_VERSION:
            findings.append(_finding(
                loaded, "V3", "error", (*path, "apiVersion") if "apiVersion" in raw else path,
                f'{what}: apiVersion must be "{PIPELINE_API_VERSION}", not {_shown(api_version)}',
            ))
        findings += _unknown_keys(loaded, raw, _fields(Pipeline), path, what)
        findings += _unknown_keys(
            loaded, _mapping(raw.get("metadata")), OBJECT_META_FIELDS, (*path, "metadata"),
            f"{what} metadata",
        )
        spec = _mapping(raw.get("spec"))
        spec_path = (*path, "spec")
        findings += _unknown_keys(loaded, spec, _fields(PipelineSpec), spec_path, f"{what} spec")
        findings += _unknown_keys(
            loaded, _mapping(spec.get("jobOptions")), _fields(JobOptions), (*spec_path, "jobOptions"),
            f"{what} spec.jobOptions",
        )
        findings += _unknown_keys(
            loaded, _mapping(spec.get("rbac")), _fields(PipelineRBAC), (*spec_path, "rbac"),
            f"{what} spec.rbac",
        )
        backoff = ref.model.spec.jobOptions.backoffLimit
        if backoff is not None and backoff < 0:
            findings.append(_finding(
                loaded, "V3", "error", (*spec_path, "jobOptions", "backoffLimit"),
                f"{what}: jobOptions.backoffLimit is {backoff}; Kubernetes requires 0 or more",
            ))
        raw_containers = spec.get("containers")
        raw_list = raw_containers if isinstance(raw_containers, list) else []
        for i, container in enumerate(ref.model.spec.containers):
            container_path = (*spec_path, "containers", i)
            raw_container = _mapping(raw_list[i]) if i < len(raw_list) else {}
            label = f'container "{container.name}"' if container.name else f"container #{i}"
            findings += _unknown_keys(
                loaded, raw_container, _fields(Container), container_path, f"{what} {label}",
            )
            if not container.image:
                findings.append(_finding(
                    loaded, "V3", "error", container_path,
                    f"{what}: {label} has no image; Kubernetes cannot run it",
                ))
    return findings


def _shown(value: object) -> str:
    if value is None:
        return "nothing (missing)"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def check_container_names(loaded: LoadedPromise) -> list[Finding]:
    """V4: container names present, unique within a Pipeline, and not one of Kratix's own steps."""
    findings: list[Finding] = []
    for ref in _pipelines(loaded):
        seen: dict[str, int] = {}
        for i, container in enumerate(ref.model.spec.containers):
            container_path = (*ref.path, "spec", "containers", i)
            name = container.name
            if not name:
                findings.append(_finding(
                    loaded, "V4", "error", container_path, f"{ref.describe()}: container #{i} has no name",
                ))
                continue
            if name in KRATIX_STEP_NAMES:
                findings.append(_finding(
                    loaded, "V4", "error", (*container_path, "name"),
                    f'{ref.describe()}: container name "{name}" is reserved for Kratix\'s own steps '
                    f"({', '.join(KRATIX_STEP_NAMES)})",
                ))
            if name in seen:
                findings.append(_finding(
                    loaded, "V4", "error", (*container_path, "name"),
                    f'{ref.describe()}: duplicate container name "{name}" '
                    f"({_first_at(loaded, (*ref.path, 'spec', 'containers', seen[name], 'name'))})",
                ))
            else:
                seen[name] = i
    return findings


# --- V5: reconciliation interval -----------------------------------------------------------------------


def _interval_problem(value: str) -> str | None:
    try:
        seconds = parse_go_duration(value)
    except ValueError:
        return (
            f'"{value}" is not a Go duration (units ns, us, ms, s, m, h, e.g. "10m" or "1h30m"; '
            '"1d" is invalid)'
        )
    if seconds < MIN_RECONCILIATION_INTERVAL_S:
        return f'"{value}" is shorter than the minimum of 1m'
    return None


def check_reconciliation_interval(loaded: LoadedPromise) -> list[Finding]:
    """V5: the per-Promise reconciliation interval (config or annotation) is a Go duration >= 1m."""
    findings: list[Finding] = []
    interval = loaded.promise.spec.workflows.config.reconciliationInterval
    if interval is not None and (problem := _interval_problem(interval)):
        findings.append(_finding(
            loaded, "V5", "error", ("spec", "workflows", "config", "reconciliationInterval"),
            f"reconciliationInterval {problem}",
        ))
    annotation = loaded.promise.metadata.annotations.get(RECONCILIATION_INTERVAL_ANNOTATION)
    if annotation is not None and (problem := _interval_problem(annotation)):
        findings.append(_finding(
            loaded, "V5", "error", ("metadata", "annotations", RECONCILIATION_INTERVAL_ANNOTATION),
            f"annotation {RECONCILIATION_INTERVAL_ANNOTATION}: {problem}",
        ))
    return findings


# --- V6: labels ----------------------------------------------------------------------------------------


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a Kubernetes label key (qualified name), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return "the prefix before '/' is empty"
        if "/" in prefix:
            return "a label key has at most one '/'"
        if len(prefix) > _DNS1123_SUBDOMAIN_MAX:
            return f"the prefix is longer than {_DNS1123_SUBDOMAIN_MAX} characters"
        if not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            return "the prefix must be a DNS subdomain (lowercase letters, digits, '-' and '.')"
    if not name:
        return "the name part is empty"
    if len(name) > _LABEL_MAX:
        return f"the name part is longer than {_LABEL_MAX} characters"
    if not _LABEL_NAME.fullmatch(name):
        return f"the name part {_LABEL_CHARS}"
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a Kubernetes label value, or None (the empty value is valid)."""
    if len(value) > _LABEL_MAX:
        return f"longer than {_LABEL_MAX} characters"
    if not _LABEL_VALUE.fullmatch(value):
        return _LABEL_CHARS
    return None


def check_pipeline_labels(loaded: LoadedPromise) -> list[Finding]:
    """V6: every pipeline label key and value is a valid Kubernetes label."""
    findings: list[Finding] = []
    for ref in _pipelines(loaded):
        for key, value in ref.model.metadata.labels.items():
            path = (*ref.path, "metadata", "labels", key)
            if problem := label_key_problem(key):
                findings.append(_finding(
                    loaded, "V6", "error", path,
                    f'invalid label key "{key}" in workflow "{ref.workflow}" action "{ref.action}": '
                    f"{problem}",
                ))
            if problem := label_value_problem(value):
                findings.append(_finding(
                    loaded, "V6", "error", path,
                    f'invalid label value "{value}" for key "{key}" in workflow "{ref.workflow}" '
                    f'action "{ref.action}": {problem}',
                ))
    return findings


# --- V8: legacy shapes ---------------------------------------------------------------------------------


def check_legacy_shape(loaded: LoadedPromise) -> list[Finding]:
    """V8: each legacy key is accepted and normalised, with a deprecation warning naming its replacement."""
    replacements: dict[PathKey, PathKey] = {}
    for new, old in loaded.remap:
        if old not in replacements or len(new) < len(replacements[old]):
            replacements[old] = new
    findings: list[Finding] = []
    for old, new in replacements.items():
        location = loaded.source.at(old)
        shape = _LEGACY_DESCRIPTIONS.get(old, "a legacy shape")
        findings.append(Finding(
            "V8", "warning", location.file, location.path, location.line,
            f"{location.path} is deprecated ({shape}); it was read as {format_path(new)}: write that instead",
        ))
    return findings


# --- V9: the API ---------------------------------------------------------------------------------------


def check_api_scope(loaded: LoadedPromise) -> list[Finding]:
    """V9: ``spec.api`` is a CustomResourceDefinition with ``spec.scope: Namespaced``.

    An absent scope is an error: ``apiextensions.k8s.io/v1`` requires it and, unlike the removed v1beta1,
    does not default it (Kubernetes' v1 ``SetDefaults_CustomResourceDefinitionSpec`` sets no scope, and
    CRD validation reports ``spec.scope: Required value``). Kratix dry-run-creates the CRD in its
    admission webhook, so such a Promise is rejected.
    """
    api = loaded.promise.spec.api
    if api is None:
        return []
    findings: list[Finding] = []
    base: PathKey = ("spec", "api")
    kind = api.get("kind")
    if kind != CRD_KIND:
        findings.append(_finding(
            loaded, "V9", "error", (*base, "kind") if "kind" in api else base,
            f"the Promise API must be a {CRD_KIND} ({CRD_API_VERSION}), not kind {_shown(kind)}",
        ))
        return findings
    spec = api.get("spec")
    if not isinstance(spec, dict):
        findings.append(_finding(loaded, "V9", "error", base, "the Promise API's CRD has no spec"))
        return findings
    scope = spec.get("scope")
    if scope is None:
        findings.append(_finding(
            loaded, "V9", "error", (*base, "spec"),
            "the Promise API's CRD has no scope: apiextensions.k8s.io/v1 requires one (there is no default) "
            "and a Promise API must be namespace-scoped; add `scope: Namespaced`",
        ))
    elif scope != "Namespaced":
        findings.append(_finding(
            loaded, "V9", "error", (*base, "spec", "scope"),
            f"the Promise API's CRD scope is {_shown(scope)}; a Promise API must be namespace-scoped "
            "(scope: Namespaced)",
        ))
    return findings


# --- V10: required Promises ----------------------------------------------------------------------------


def check_required_promises(loaded: LoadedPromise, available: dict[str, set[str | None]]) -> list[Finding]:
    """V10: each ``spec.requiredPromises`` entry names a Promise (at that version) validated together."""
    findings: list[Finding] = []
    for i, required in enumerate(loaded.promise.spec.requiredPromises):
        path = ("spec", "requiredPromises", i)
        wanted = f'"{required.name}"' + (f' at version "{required.version}"' if required.version else "")
        versions = available.get(required.name)
        if versions is None:
            findings.append(_finding(
                loaded, "V10", "warning", path,
                f"required Promise {wanted} is not among the files validated together; the Promise will not "
                "be available until it is installed",
            ))
        elif required.version and required.version not in versions:
            have = ", ".join(sorted(f'"{v}"' if v else "no version label" for v in versions))
            findings.append(_finding(
                loaded, "V10", "warning", path,
                f'required Promise {wanted} is present but at {have} (label kratix.io/promise-version); '
                "the Promise will not be available until the versions match",
            ))
    return findings


# --- the whole set -------------------------------------------------------------------------------------

# Rule -> the check that implements it (``kratix-sim rules`` shows this coverage). V10 looks across files.
RULE_CHECKS: dict[str, Callable[..., list[Finding]]] = {
    "V1": check_unique_pipeline_names,
    "V2": check_pipeline_id,
    "V3": check_pipeline_fields,
    "V4": check_container_names,
    "V5": check_reconciliation_interval,
    "V6": check_pipeline_labels,
    "V7": check_single_delete_pipeline,
    "V8": check_legacy_shape,
    "V9": check_api_scope,
    "V10": check_required_promises,
}
_SINGLE_PROMISE_CHECKS = tuple(check for rule, check in RULE_CHECKS.items() if rule != "V10")


def validate(promises: list[LoadedPromise]) -> list[Finding]:
    """Judge Promises together (V10 looks across them); findings sorted by file, line, rule."""
    available: dict[str, set[str | None]] = {}
    for loaded in promises:
        available.setdefault(loaded.promise.name, set()).add(loaded.promise.version)
    findings: list[Finding] = []
    for loaded in promises:
        for check in _SINGLE_PROMISE_CHECKS:
            findings += check(loaded)
        findings += check_required_promises(loaded, available)
    return sorted(set(findings), key=Finding.sort_key)


# --- CLI -----------------------------------------------------------------------------------------------


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``validate FILE... [--format text|json]``."""
    parser = sub.add_parser(
        "validate",
        help="check Promises against Kratix's admission rules (V1-V10)",
        description="Check Promise files against Kratix's admission rules V1-V10. Files given together "
        "are judged together (requiredPromises, V10). Exit 0: no errors (warnings allowed); 1: errors; "
        "2: input could not be read; 3: internal error.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="Promise YAML files")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    add_limit_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """The ``validate`` command; an unreadable input raises InputError (exit 2, one line, by sim.cli)."""
    from sim.cli import limits_from

    limits = limits_from(args)
    files: list[Path] = args.files
    findings = validate(load_promises(files, limits))
    names = [str(path) for path in files]
    if args.format == "json":
        json.dump({"findings": [f.to_json() for f in findings], "files": names}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for finding in findings:
            print(finding)
        print(summary(findings, len(names)))
    return EXIT_FAILED if any(f.severity == "error" for f in findings) else EXIT_OK


def summary(findings: list[Finding], files: int) -> str:
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    return f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} in {_plural(files, 'file')}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
