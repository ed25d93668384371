"""``kratix-sim idempotency``: run a Promise's real pipelines through the perturbation matrix (I1-I6, P1-P6)
and lint its scripts.

Exit 0 when nothing is an error (warnings allowed), 1 on an error finding (including a clean first run that
fails), 2 on bad input (missing file, not a Promise, no executor on this machine).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from tabulate import tabulate

from conformance.idempotency.findings import Finding, short, short_change, sort_findings
from conformance.idempotency.lint import (
    DEFAULT_SCRIPTS_TARGET,
    ScriptDir,
    lint_promise,
    resolve_dirs,
    unresolved_scripts,
)
from conformance.idempotency.matrix import (
    RUN_RULES,
    ExecutorFactory,
    Matrix,
    MatrixResult,
    PlainFactory,
    ProcessFactory,
    RunRecord,
)
from conformance.rules import RULES_BY_ID
from sim.cli import refuse_unless
from sim.errors import EXIT_FAILED, EXIT_OK, InputError, Location
from sim.executors.base import KRATIX_INPUT_DIR, ExecutorError, ExecutorUnavailable, Mount, outside_volumes
from sim.executors.container import CONTAINER_NAME_PREFIX, ContainerExecutor
from sim.executors.contract import container_env, temporary_directory
from sim.executors.process import ProcessExecutor
from sim.model.loader import LoadedPromise, load_promise, load_resources
from sim.model.promise import WORKFLOW_ACTIONS, WorkflowType
from sim.progress import interactive
from sim.yamlio import Limits

OUTPUT_TAIL_LINES = 20


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from sim.cli import add_limit_options, limits_from

    parser = sub.add_parser(
        "idempotency", help="run a Promise's pipelines through the idempotency perturbation matrix and lint them",
        description="Run the workflow's real pipelines again and again, each time with one thing changed: re-run "
                    "with the status fed back (I1), a retry of each container after a failure (I2), a failure after "
                    "each container then a full re-run (I3), another clock and randomness (I4), the status lost (I5, "
                    "warning), the delete pipeline twice (I6); report the contract problems seen (P1-P6) and "
                    "lint the scripts. Exit 1 on an error finding.")
    parser.add_argument("promise", type=Path, metavar="PROMISE")
    parser.add_argument("--request", type=Path, metavar="RR", help="the resource request (resource workflow)")
    parser.add_argument("--workflow", choices=["resource", "promise"], default="resource")
    parser.add_argument("--executor", choices=["process", "container"], default="process",
                        help="process: bubblewrap sandbox on the host (clock shifted with libfaketime); container: "
                             "the real OCI images (default: process)")
    parser.add_argument("--engine", choices=["podman", "docker"], help="with --executor container (default podman)")
    parser.add_argument("--engine-option", action="append", default=[], metavar="OPT",
                        help="an option for the engine, before its command (repeat; write --engine-option=--x)")
    parser.add_argument("--container-prefix", metavar="PREFIX",
                        help="with --executor container: the start of every container's name, to find (or remove) "
                             f"them (default {CONTAINER_NAME_PREFIX})")
    parser.add_argument("--writable-root", action="store_true",
                        help="with --executor container: the image's root filesystem writable, as in a default "
                             "Kubernetes pod, without a size limit (default: read-only, with size-limited tmpfs at "
                             "/tmp, /var/tmp, /run and /root; docs/reliability.md)")
    parser.add_argument("--runs", type=int, default=2, metavar="N", help="re-runs after the first for I1 (default 2)")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--scripts", action="append", default=[], metavar="DIR[:TARGET]",
                        help="scripts the containers run, seen at TARGET (default: inferred from the containers' "
                             f"commands, else {DEFAULT_SCRIPTS_TARGET}); linted, and mounted read-only by the "
                             "process executor. Default: the scripts/ folder beside the Promise, if there is one")
    parser.add_argument("--external", action="append", default=[], metavar="TARGET",
                        help="a writable directory at TARGET standing for the outside world (e.g. /external): "
                             "fresh per perturbation, kept across its runs")
    parser.add_argument("--mount", action="append", default=[], metavar="HOST:TARGET[:ro|rw]",
                        help="an extra mount for every container (read-only unless :rw)")
    parser.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                        help="per container execution (default 120)")
    lint_group = parser.add_mutually_exclusive_group()
    lint_group.add_argument("--lint-only", action="store_true", help="only lint the scripts (nothing runs)")
    lint_group.add_argument("--no-lint", action="store_true", help="do not lint the scripts")
    add_limit_options(parser)

    def handler(args: argparse.Namespace) -> int:
        return run_idempotency(args, limits_from(args))

    parser.set_defaults(handler=handler)


# -- inputs ------------------------------------------------------------------------------------------------
def _script_dirs(args: argparse.Namespace, loaded: LoadedPromise) -> list[ScriptDir]:
    dirs = [ScriptDir.parse(spec) for spec in args.scripts]
    if not dirs:
        default = args.promise.parent / "scripts"
        if default.is_dir():
            dirs = [ScriptDir(default)]
    return resolve_dirs(dirs, loaded)


def _object(args: argparse.Namespace, loaded: LoadedPromise, limits: Limits) -> dict[str, Any]:
    if args.workflow == "promise":
        return dict(loaded.raw)
    if args.request is None:
        raise InputError("--request RR is required for the resource workflow (or use --lint-only)")
    resources = load_resources(args.request, limits)
    if len(resources) > 1:
        raise InputError(f"{len(resources)} resource requests in one file; expected one", Location(str(args.request)))
    request = dict(resources[0].raw)
    _check_api(loaded, request, Location(str(args.request)))
    return request


def _check_api(loaded: LoadedPromise, request: dict[str, Any], where: Location) -> None:
    """The request must be an instance of the Promise's API (its CRD's group and kind, when it declares them):
    Kratix would never hand another kind to these pipelines."""
    api = loaded.promise.spec.api or {}
    spec = api.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    names = spec.get("names")
    names = names if isinstance(names, dict) else {}
    kind, group = names.get("kind"), spec.get("group")
    got_kind, api_version = request.get("kind"), str(request.get("apiVersion", ""))
    got_group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    if (isinstance(kind, str) and got_kind != kind) or (isinstance(group, str) and got_group != group):
        raise InputError(f"the request is a {got_kind} ({api_version or 'no apiVersion'}), not an instance of the "
                         f"Promise's API {kind} ({group}/...): give a request of the Promise's kind", where)


def _check_envs(loaded: LoadedPromise, workflow: WorkflowType) -> None:
    """Every container the runs would start has an environment the real executors can build (no valueFrom or
    envFrom, which need a cluster): refused before anything runs, at the container's file and line. (Only the
    first delete Pipeline ever runs, D1.)"""
    for action in WORKFLOW_ACTIONS:
        pipelines = loaded.promise.pipelines(workflow, action)
        for p, pipeline in enumerate(pipelines[:1] if action == "delete" else pipelines):
            for c, container in enumerate(pipeline.spec.containers):
                try:
                    container_env(container, [])
                except ExecutorError as exc:
                    where = loaded.at(("spec", "workflows", workflow, action, p, "spec", "containers", c))
                    raise InputError(f"Pipeline {pipeline.name!r}: {exc}", where) from None


def _externals(targets: list[str]) -> list[str]:
    try:
        return [outside_volumes(target) for target in targets]
    except ValueError as exc:
        raise InputError(f"--external {exc}") from None


def _factory(args: argparse.Namespace, dirs: list[ScriptDir]) -> ExecutorFactory:
    try:
        mounts = [Mount.parse(spec) for spec in args.mount]
    except ValueError as exc:
        raise InputError(f"--mount: {exc}") from exc
    try:
        if args.executor == "process":
            scripts = [Mount(d.host.resolve(), d.target or DEFAULT_SCRIPTS_TARGET) for d in dirs]
            process = ProcessExecutor(mounts=[*scripts, *mounts])
            process.check()
            return ProcessFactory(process)
        engine = ContainerExecutor(binary=args.engine or "podman", engine_options=args.engine_option, mounts=mounts,
                                   name_prefix=args.container_prefix or CONTAINER_NAME_PREFIX,
                                   read_only_root=not args.writable_root)
        engine.check()
        return PlainFactory(engine)
    except (ExecutorUnavailable, ExecutorError) as exc:
        raise InputError(f"{args.executor} executor: {exc}") from exc


def _progress(record: RunRecord) -> None:
    seconds = sum(e.duration_s for run in record.run.runs for e in run.executions)
    print(f"  [{record.perturbation}] {record.label}: {record.run.outcome} ({seconds:.1f}s)", file=sys.stderr)


# -- the command -----------------------------------------------------------------------------------------
def run_idempotency(args: argparse.Namespace, limits: Limits) -> int:
    if args.runs < 2:
        raise InputError("--runs must be at least 2 (I1 compares the re-runs with each other)")
    if not 0 < args.timeout < math.inf:  # also refuses nan
        raise InputError("--timeout must be positive and finite (seconds)")
    refuse_unless(args.executor == "container", args, ["engine", "engine_option", "container_prefix", "writable_root"],
                  "with --executor container")
    loaded = load_promise(args.promise, limits)
    _check_envs(loaded, args.workflow)
    dirs = _script_dirs(args, loaded)
    lint = [] if args.no_lint else lint_promise(loaded, dirs)
    result: MatrixResult | None = None
    if not args.lint_only:
        obj = _object(args, loaded, limits)
        if not loaded.promise.pipelines(args.workflow, "configure"):
            raise InputError(f"the Promise has no {args.workflow} configure Pipeline to run",
                             Location(str(args.promise)))
        externals = _externals(args.external)
        factory = _factory(args, dirs)
        try:
            with temporary_directory("kratix-sim-idempotency-") as workdir:
                matrix = Matrix(loaded.promise, args.workflow, obj, factory, externals=externals, reruns=args.runs,
                                timeout_s=args.timeout, workdir=workdir, on_run=_progress if interactive() else None)
                result = matrix.run()
        except (ExecutorUnavailable, ExecutorError) as exc:
            raise InputError(f"{args.executor} executor: {exc}") from exc
    findings = sort_findings([*(result.findings if result else []), *lint])
    report = Report(loaded, args, findings, result, dirs)
    print(json.dumps(report.to_json(), indent=2) if args.format == "json" else report.text())
    return EXIT_FAILED if any(f.severity == "error" for f in findings) else EXIT_OK


class Report:
    def __init__(self, loaded: LoadedPromise, args: argparse.Namespace, findings: list[Finding],
                 result: MatrixResult | None, dirs: list[ScriptDir]) -> None:
        self.loaded = loaded
        self.args = args
        self.findings = findings
        self.result = result
        self.dirs = dirs

    def _by_rule(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for finding in self.findings:
            entry = counts.setdefault(finding.rule, {"error": 0, "warning": 0})
            entry[finding.severity] += 1
        return counts

    def _checks(self) -> dict[str, str]:
        if self.result is not None:
            return dict(self.result.checks)
        return dict.fromkeys(RUN_RULES, "not run (--lint-only)")

    def to_json(self) -> dict[str, Any]:
        errors = sum(1 for f in self.findings if f.severity == "error")
        return {
            "promise": self.loaded.promise.name,
            "file": self.loaded.file,
            "workflow": self.args.workflow,
            "executor": None if self.args.lint_only else self.args.executor,
            "findings": [f.to_json() for f in self.findings],
            "runs": [r.to_json() for r in self.result.runs] if self.result else [],
            "checks": self._checks(),
            "lint": "skipped (--no-lint)" if self.args.no_lint else {
                "scripts": [{"dir": str(d.host), "target": d.target} for d in self.dirs],
                "not_found": unresolved_scripts(self.loaded, self.dirs)},
            "notes": list(self.result.notes) if self.result else [],
            "summary": {"errors": errors, "warnings": len(self.findings) - errors, "by_rule": self._by_rule(),
                        "result": "fail" if errors else "pass"},
        }

    def text(self) -> str:
        args = self.args
        head = f"Idempotency of Promise {self.loaded.promise.name!r} ({args.workflow} workflow"
        head += ", lint only)" if args.lint_only else f", {args.executor} executor)"
        lines = [head]
        if self.result is not None:
            lines.append(f"{len(self.result.runs)} run(s)")
            lines += [f"note: {note}" for note in self.result.notes]
        if not args.no_lint:
            lines += [f"lint: scripts in {d.host} seen at {d.target}" for d in self.dirs]
            lines += [f"lint: {path} is in no --scripts folder: not linted"
                      for path in unresolved_scripts(self.loaded, self.dirs)]
        lines.append("")
        if self.findings:
            rows = []
            for index, f in enumerate(self.findings, start=1):
                if f.source == "lint" or (f.before is None and f.after is None):
                    change = ""
                elif f.path == "outcome" or f.rule.startswith("I"):
                    change = short_change(f.before, f.after)
                else:  # a contract finding: the offending value
                    change = short(f.after, 68)
                rows.append([index, f.rule, f.severity, f.pipeline or "", f.container or "", f.location(), change])
            lines.append(tabulate(rows, headers=["#", "rule", "severity", "pipeline", "container", "where",
                                                 "before -> after"]))
            lines.append("")
            lines += [f"[{index}] {f.rule} {f.severity}: {f.message}" for index, f in enumerate(self.findings, 1)]
            lines.append("")
        else:
            lines += ["No findings.", ""]
        failure = self.result.first_failure if self.result else None
        if failure is not None:
            lines += self._failure_output(failure)
        counts = self._by_rule()
        checks = self._checks()
        rows = []
        for rule in [*RUN_RULES, *sorted(set(counts) - set(RUN_RULES))]:
            title = RULES_BY_ID[rule].title if rule in RULES_BY_ID else "the clean first run" if rule == "RUN" else ""
            entry = counts.get(rule, {"error": 0, "warning": 0})
            rows.append([rule, title, entry["error"], entry["warning"], checks.get(rule, "")])
        lines.append(tabulate(rows, headers=["rule", "title", "errors", "warnings", "what ran"],
                              maxcolwidths=[None, 28, None, None, 70]))
        errors = sum(1 for f in self.findings if f.severity == "error")
        lines += ["", f"{errors} error(s), {len(self.findings) - errors} warning(s): "
                      f"{'FAIL' if errors else 'pass'}"]
        return "\n".join(lines)

    @staticmethod
    def _failure_output(record: RunRecord) -> list[str]:
        lines = ["The clean first run failed:"]
        run = record.failing()
        if run is None:
            return []
        failed = [e for e in run.executions if e.exit_code != 0]
        shown = failed[-1:]
        if not failed:
            step = "work-writer" if run.reason == "WorkWriterFailed" else "status-writer" \
                if run.reason == "StatusWriterFailed" else "pod"
            lines.append(f"  no container failed: Kratix's {step} failed Pipeline {run.pipeline!r} ({run.reason}); "
                         "the problems are listed above")
            shown = [e for e in run.executions[-1:] if e.stdout.strip() or e.stderr.strip()]
        for execution in shown:
            why = f" ({execution.reason})" if execution.reason else ""
            lines.append(f"  Pipeline {run.pipeline!r}, container {execution.container!r}, pod {execution.pod}, "
                         f"attempt {execution.attempt}: exit code {execution.exit_code}{why}")
            for name, text in (("stdout", execution.stdout), ("stderr", execution.stderr)):
                tail = text.rstrip().splitlines()[-OUTPUT_TAIL_LINES:]
                lines.append(f"  --- {name}" + ("" if tail else " (empty)"))
                lines += [f"  | {line}" for line in tail]
        if KRATIX_INPUT_DIR in "".join(e.stderr for e in failed):
            lines.append(f"  ({KRATIX_INPUT_DIR} is mounted read-only, as in Kratix)")
        lines.append("")
        return lines
