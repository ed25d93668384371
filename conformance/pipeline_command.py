"""``kratix-sim pipeline test``: golden-file tests of a Promise's pipelines, run for real (conformance.golden).

    kratix-sim pipeline test PROMISE_OR_DIR [--case DIR] [--executor process|container] [--pipeline NAME]
                                            [--rerun] [--format text|json] [--list]

Exit 0 when every case passes, 1 when a case's results differ from its fixture (or a re-run differs, with
``--rerun``), 2 when the input cannot be judged (no Promise, no cases, an unreadable fixture, a Pipeline that
cannot be told or run, an executor that cannot run here).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from conformance.golden import (
    Case,
    CaseResult,
    discover_cases,
    find_promise,
    load_expectation,
    resolve_target,
    run_case,
)
from conformance.idempotency.lint import DEFAULT_SCRIPTS_TARGET, ScriptDir, resolve_dirs
from sim.cli import refuse_unless
from sim.durations import format_duration
from sim.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, InputError, Location
from sim.executors.base import ExecutorError, ExecutorUnavailable, Mount, RealExecutor, outside_volumes
from sim.model.loader import load_promise
from sim.model.promise import Promise
from sim.scenario import ExecutorConfig
from sim.yamlio import Limits

SYMBOL = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}
DEFAULT_CLOCK_STEP = "10h"  # Kratix's reconciliation interval


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from sim.cli import add_limit_options, limits_from

    parser = sub.add_parser("pipeline", help="run a Promise's pipelines for real (golden-file tests)",
                            description="Run a Promise's pipelines for real, through the process executor "
                                        "(bubblewrap) or a container engine.")
    commands = parser.add_subparsers(dest="pipeline_command", metavar="SUBCOMMAND")
    test = commands.add_parser(
        "test", help="run fixture cases (test/ or tests/<case>/) and compare with the expected files",
        description="Run each fixture case of a Promise -- the Kratix workshop's test/{input,output,metadata} or "
                    "tests/<case>/{input/object.yaml, expected/{output,metadata,exitcode}} -- through a real "
                    "executor and compare output files (YAML by key path), metadata (status, destination "
                    "selectors) and the exit code. Exit 0 all pass, 1 a mismatch, 2 bad input.")
    test.add_argument("target", type=Path, metavar="PROMISE_OR_DIR",
                      help="the Promise file, or a folder holding one Promise (cases are searched under it)")
    test.add_argument("--case", type=Path, action="append", metavar="DIR",
                      help="run only this case folder (or the cases under this folder); repeatable")
    test.add_argument("--executor", choices=["process", "container"], default="process",
                      help="process: a bubblewrap sandbox on this machine (default); container: docker/podman")
    test.add_argument("--pipeline", metavar="NAME",
                      help="the Pipeline to run (NAME or NAME/CONTAINER); default: told from the case's folder "
                           "or the workflow's only configure Pipeline")
    test.add_argument("--rerun", action="store_true",
                      help="re-run each case with the merged status fed back and report differences (I1)")
    test.add_argument("--rerun-clock-step", metavar="DURATION",
                      help="with --rerun and the process executor: each re-run sees the clock this much later "
                           "(libfaketime; default 10h, Kratix's reconciliation interval; 0 to use the real clock)")
    test.add_argument("--format", choices=["text", "json"], default="text")
    test.add_argument("--list", action="store_true", help="list the cases and what they expect; run nothing")
    test.add_argument("--mount", action="append", default=[], metavar="HOST:TARGET[:ro|rw]",
                      help="mount a host path into every container (read-only unless :rw); repeatable")
    test.add_argument("--scripts", action="append", default=[], metavar="DIR[:TARGET]",
                      help="process executor: scripts the containers run, mounted read-only at TARGET (default: "
                           "inferred from the containers' commands, else /scripts). Default: the scripts/ folder "
                           "beside the Promise, if there is one and no --mount already uses its TARGET")
    test.add_argument("--external", action="append", default=[], metavar="TARGET",
                      help="mount a fresh empty read-write directory at TARGET for each case, shared by its "
                           "runs (the outside world, e.g. /external); repeatable")
    test.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                      help="kill a container still running after this many seconds (default 120)")
    test.add_argument("--engine", help="container executor: docker, podman (default) or a path")
    test.add_argument("--engine-option", action="append", default=[], metavar="OPTION",
                      help="container executor: an option before the engine's `run` (repeatable)")
    add_limit_options(test)

    def usage(_args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT

    def handler(args: argparse.Namespace) -> int:
        return run_pipeline_test(args, limits_from(args))

    parser.set_defaults(handler=usage)
    test.set_defaults(handler=handler)


# -- the executor ----------------------------------------------------------------------------------------------
def executor_config(args: argparse.Namespace) -> ExecutorConfig:
    try:
        return ExecutorConfig(type=args.executor, timeout=args.timeout, mounts=list(args.mount),
                              engine=args.engine or "podman", engineOptions=list(args.engine_option))
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise InputError(f"executor options: {message}") from exc


def executor_factory(config: ExecutorConfig, base: Path) -> Any:
    from sim.executors.simulated import build_real_executor

    def make(extra: Sequence[Mount]) -> RealExecutor:
        specs = [*config.mounts, *(f"{m.host}:{m.target}:{'ro' if m.read_only else 'rw'}" for m in extra)]
        return build_real_executor(config.model_copy(update={"mounts": specs}), base)

    return make


def script_mounts(args: argparse.Namespace, promise_file: Path, limits: Limits) -> list[str]:
    """Mount specs (``HOST:TARGET:ro``) for the Promise's scripts, as ``idempotency`` mounts them: ``--scripts``,
    else ``scripts/`` beside the Promise file unless a ``--mount`` already targets where it would go. The
    container executor runs what the image holds."""
    refuse_unless(args.executor == "process", args, ["scripts"], "with the process executor")
    if args.executor != "process":
        return []
    dirs = [ScriptDir.parse(spec) for spec in args.scripts]
    default = not dirs
    if default and (promise_file.parent / "scripts").is_dir():
        dirs = [ScriptDir(promise_file.parent / "scripts")]
    if not dirs:
        return []
    resolved = resolve_dirs(dirs, load_promise(promise_file, limits))
    taken = {spec.split(":")[1].rstrip("/") for spec in args.mount if spec.count(":") >= 1}
    return [f"{d.host.resolve()}:{d.target or DEFAULT_SCRIPTS_TARGET}:ro" for d in resolved
            if not (default and (d.target or DEFAULT_SCRIPTS_TARGET) in taken)]


def _clock_step(args: argparse.Namespace) -> tuple[float | None, str | None]:
    """Seconds each re-run's clock moves on (None: the real clock), and a note when it cannot."""
    from sim.durations import parse_option_duration
    from sim.executors.process import find_libfaketime

    try:
        step = parse_option_duration(args.rerun_clock_step or DEFAULT_CLOCK_STEP)
    except ValueError as exc:
        raise InputError(f"--rerun-clock-step: {exc}") from exc
    if not args.rerun or step == 0:
        return None, None
    if args.executor != "process":
        return None, "re-runs used the real clock (only the process executor can move it)"
    if find_libfaketime() is None:
        return None, "re-runs used the real clock (libfaketime is not installed: apt-get install faketime)"
    return step, None


# -- cases -----------------------------------------------------------------------------------------------------
def select_cases(root: Path, case_dirs: Sequence[Path] | None) -> list[Case]:
    if not case_dirs:
        cases = discover_cases(root)
        if not cases:
            raise InputError("no fixture cases here (a folder with input/object.yaml: test/ or tests/<case>/)",
                             Location(str(root)))
        return cases
    cases = []
    for folder in case_dirs:
        if not folder.is_dir():
            raise InputError("--case: no such folder", Location(str(folder)))
        found = discover_cases(folder)
        if not found:
            raise InputError("--case: not a case folder (no input/object.yaml in it or under it)",
                             Location(str(folder)))
        for case in found:
            name = _relative(case.path, root)
            cases.append(Case(name, case.path, case.layout, case.hint))
    return cases


def _relative(path: Path, root: Path) -> str:
    try:
        relative = path.resolve().relative_to(root.resolve()).as_posix()
        return relative or "."
    except ValueError:
        return str(path)


def list_cases(promise: Promise, cases: Sequence[Case], args: argparse.Namespace,
               limits: Limits) -> list[dict[str, Any]]:
    rows = []
    for case in cases:
        row: dict[str, Any] = {"case": case.name, "path": str(case.path), "layout": case.layout}
        try:
            expectation = load_expectation(case, limits)
        except InputError as exc:
            row["error"] = str(exc)
            rows.append(row)
            continue
        row.update({
            "object": _object_label(expectation.object),
            "expected_exit_code": expectation.exit_code,
            "output": None if expectation.output is None else sorted(expectation.output),
            "metadata": None if expectation.metadata is None else sorted(expectation.metadata),
        })
        try:
            row["target"] = resolve_target(promise, case, expectation.object, args.pipeline).label
        except InputError as exc:
            row["target"] = None
            row["target_problem"] = str(exc)
        rows.append(row)
    return rows


def _object_label(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    name = "/".join(str(p) for p in (metadata.get("namespace"), metadata.get("name")) if p)
    return f"{obj.get('kind', '?')} {name}".strip()


# -- the command ---------------------------------------------------------------------------------------------------
def run_pipeline_test(args: argparse.Namespace, limits: Limits) -> int:
    if not 0 < args.timeout < math.inf:  # also refuses nan
        raise InputError("--timeout must be positive and finite (seconds)")
    refuse_unless(args.executor == "container", args, ["engine", "engine_option"], "with --executor container")
    refuse_unless(args.rerun, args, ["rerun_clock_step"], "with --rerun")
    try:
        externals = [outside_volumes(target) for target in args.external]
    except ValueError as exc:
        raise InputError(f"--external {exc}") from None
    promise, promise_file = find_promise(args.target, limits)
    root = args.target if args.target.is_dir() else promise_file.parent
    cases = select_cases(root, args.case)
    header = {"promise": promise.name, "file": str(promise_file), "executor": args.executor}
    if args.list:
        rows = list_cases(promise, cases, args, limits)
        if args.format == "json":
            print(json.dumps({**header, "cases": rows}, indent=2))
        else:
            print(_render_list(header, rows))
        return EXIT_BAD_INPUT if any("error" in row for row in rows) else EXIT_OK
    config = executor_config(args)
    config = config.model_copy(update={"mounts": [*config.mounts, *script_mounts(args, promise_file, limits)]})
    make = executor_factory(config, Path.cwd())
    try:
        probe = make([])
        probe.check()
    except ExecutorUnavailable as exc:
        raise InputError(f"executor {args.executor} cannot run here: {exc}") from exc
    except (ExecutorError, ValueError) as exc:
        raise InputError(f"executor {args.executor}: {exc}") from exc
    clock_step_s, clock_note = _clock_step(args)
    header["rerun_clock_step_s"] = clock_step_s
    results: list[CaseResult] = []
    for case in cases:
        try:
            result = run_case(promise, case, make, pipeline=args.pipeline, rerun=args.rerun,
                              timeout_s=args.timeout, external=externals, clock_step_s=clock_step_s,
                              limits=limits)
            if clock_note and result.runs > 1:
                result.notes.append(clock_note)
            results.append(result)
        except ExecutorUnavailable as exc:
            raise InputError(f"executor {args.executor} cannot run here: {exc}") from exc
    summary = {kind: sum(1 for r in results if r.result == kind) for kind in ("pass", "fail", "error")}
    if args.format == "json":
        print(json.dumps({**header, "rerun": args.rerun, "cases": [r.to_json() for r in results],
                          "summary": {"cases": len(results), "passed": summary["pass"], "failed": summary["fail"],
                                      "errors": summary["error"]}}, indent=2, default=str))
    else:
        print(_render(header, results, args.rerun))
    sys.stdout.flush()
    if summary["error"]:
        return EXIT_BAD_INPUT
    return EXIT_FAILED if summary["fail"] else EXIT_OK


def _render(header: dict[str, Any], results: Sequence[CaseResult], rerun: bool) -> str:
    step = header.get("rerun_clock_step_s")
    clock = f", each {format_duration(step)} later" if step else ""
    lines = [f"kratix-sim pipeline test: Promise {header['promise']} ({header['file']}), executor "
             f"{header['executor']}" + (f", with re-runs (I1{clock})" if rerun else "")]
    for result in results:
        runs = f"{result.runs} run{'s' if result.runs != 1 else ''}, {result.wall_s:.2f} s"
        lines.append(f"  {SYMBOL[result.result]:<5} {result.case.name}  {result.target or '-'}  ({runs})")
        if result.error:
            lines.append(f"        {result.error}")
        lines.extend(f"        {difference.render()}" for difference in result.differences)
        lines.extend(f"        note: {note}" for note in result.notes)
    counts = {kind: sum(1 for r in results if r.result == kind) for kind in ("pass", "fail", "error")}
    lines.append(f"{len(results)} case{'s' if len(results) != 1 else ''}: {counts['pass']} passed, "
                 f"{counts['fail']} failed, {counts['error']} could not be run")
    return "\n".join(lines)


def _render_list(header: dict[str, Any], rows: Sequence[dict[str, Any]]) -> str:
    lines = [f"Promise {header['promise']} ({header['file']}): {len(rows)} case{'s' if len(rows) != 1 else ''}"]
    for row in rows:
        lines.append(f"  {row['case']}  [{row['layout']}]")
        if "error" in row:
            lines.append(f"      ERROR {row['error']}")
            continue
        files = {kind: ("not compared" if row[kind] is None else ", ".join(row[kind]) or "none")
                 for kind in ("output", "metadata")}
        lines.append(f"      input: {row['object']}; expects exit code {row['expected_exit_code']}")
        lines.append(f"      output: {files['output']}")
        lines.append(f"      metadata: {files['metadata']}")
        lines.append(f"      runs: {row['target'] or '? ' + row.get('target_problem', '')}")
    return "\n".join(lines)
