"""``kratix-sim trace import|export``: cluster history to a trace, and a simulated trace to kubectl Lists.

``import`` reads kubectl exports (``--jobs``, ``--pods``, ``--events``, ``--objects``; any may be the same mixed
List) or, with ``--from-cluster``, the cluster of a kubeconfig context; ``export`` writes ``jobs-pods.yaml``,
``events.yaml`` and ``objects.yaml`` into a folder. Exit 0 when written, 2 on bad input (one line naming file,
line and field). Judge the result with ``kratix-sim check --trace``.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conformance.cluster_history.exporter import export_trace, to_yaml
from conformance.cluster_history.importer import ImportOptions, import_history
from conformance.cluster_history.kubectl import KubeObject, read_objects
from sim.durations import parse_option_duration
from sim.errors import EXIT_OK, InputError
from sim.model.loader import load_promise
from sim.profiles import DEFAULT_PROFILE, PROFILES
from sim.trace import Trace
from sim.yamlio import Limits, refuse_overwriting_inputs, write_atomic

DEFAULT_ORIGIN = "2026-01-01T00:00:00Z"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from sim.cli import add_limit_options, limits_from

    parser = sub.add_parser("trace", help="import a cluster's Kratix history as a trace, or export a trace "
                                          "as kubectl YAML",
                            description="Turn a real cluster's Jobs, pods, Events and Kratix objects into a "
                                        "trace the checkers judge (import), or a simulated trace into the "
                                        "YAML kubectl would show (export). See docs/cluster-import.md.")
    actions = parser.add_subparsers(dest="trace_action", metavar="ACTION", required=True)
    importing = actions.add_parser("import", help="kubectl exports (or a live cluster) -> trace")
    for name, what in (("jobs", "Jobs"), ("pods", "pods"), ("events", "Events"), ("objects", "Promises and resources")):
        importing.add_argument(f"--{name}", type=Path, action="append", default=[], metavar="FILE",
                               help=f"kubectl YAML/JSON with the {what} (repeatable; may be a mixed List)")
    importing.add_argument("--promise", type=Path, help="the Promise file: pipeline order (else inferred)")
    importing.add_argument("--out", type=Path, required=True, help="the trace file to write (JSONL)")
    importing.add_argument("--name", default="cluster-import", help="the trace's scenario name")
    importing.add_argument("--profile", default=DEFAULT_PROFILE, choices=sorted(PROFILES),
                           help=f"the Kratix profile to judge by (default {DEFAULT_PROFILE})")
    importing.add_argument("--jobs-to-keep", type=int, metavar="N",
                           help="the cluster's numberOfJobsToKeep (W14; default: unknown, assumed 5 for gaps)")
    importing.add_argument("--from-cluster", action="store_true",
                           help="read the cluster of the kubeconfig instead of files (needs the `cluster` extra)")
    importing.add_argument("--context", help="with --from-cluster: the kubeconfig context")
    importing.add_argument("--namespace", help="with --from-cluster: only this namespace (default: all)")
    importing.add_argument("--kubeconfig", type=Path, help="with --from-cluster: the kubeconfig file")
    add_limit_options(importing)
    exporting = actions.add_parser("export", help="a simulated trace -> kubectl-shaped YAML Lists")
    exporting.add_argument("trace", type=Path, help="a JSONL trace")
    exporting.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the YAML files")
    exporting.add_argument("--origin", default=DEFAULT_ORIGIN, help=f"the time of t=0 (default {DEFAULT_ORIGIN})")
    exporting.add_argument("--at", metavar="TIME",
                           help="export the cluster as it was at this trace time: seconds or a duration such as 6h "
                                "(default: the trace's end)")
    exporting.add_argument("--kind", default="Resource", help="the resources' kind (default Resource)")
    exporting.add_argument("--api-version", default="example.kratix.io/v1alpha1",
                           help="the resources' apiVersion (default example.kratix.io/v1alpha1)")

    def handler(args: argparse.Namespace) -> int:
        return run_import(args, limits_from(args)) if args.trace_action == "import" else run_export(args)

    parser.set_defaults(handler=handler)


def run_import(args: argparse.Namespace, limits: Limits) -> int:
    files: list[Path] = [*args.jobs, *args.pods, *args.events, *args.objects]
    refuse_overwriting_inputs([args.out], [*files, args.promise])
    if args.jobs_to_keep is not None and args.jobs_to_keep < 1:
        raise InputError("--jobs-to-keep must be at least 1")
    promise = load_promise(args.promise, limits).promise if args.promise else None
    objects: list[KubeObject] = []
    if args.from_cluster:
        if files:
            raise InputError("give --from-cluster or files (--jobs, --pods, --events, --objects), not both")
        from conformance.cluster_history.live import connect, fetch

        objects = fetch(connect(args.context, args.kubeconfig), args.namespace, promise)
        given = (True, True)
    else:
        if args.context or args.namespace or args.kubeconfig:
            raise InputError("--context, --namespace and --kubeconfig go with --from-cluster")
        if not files:
            raise InputError("give at least one of --jobs, --pods, --events, --objects (or --from-cluster)")
        seen: set[Path] = set()
        for path in files:  # the same mixed List may be given for several options
            if path.resolve() not in seen:
                seen.add(path.resolve())
                objects.extend(read_objects(path, limits))
        given = (bool(args.events), bool(args.objects))
    options = ImportOptions(scenario=args.name, profile=args.profile, promise=promise, jobs_to_keep=args.jobs_to_keep,
                            events_given=given[0], objects_given=given[1])
    trace = import_history(objects, options)
    trace.write(args.out)
    evidence = trace.header["evidence"]
    gaps = ", ".join(item["what"] for item in evidence["missing"]) or "none"
    print(f"{args.out}: {len(trace)} events; evidence missing: {gaps}")
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    try:
        origin = datetime.fromisoformat(str(args.origin).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"--origin: not an RFC3339 time: {args.origin!r}") from exc
    if origin.tzinfo is None:
        raise InputError(f"--origin: give a time zone (e.g. {DEFAULT_ORIGIN})")
    origin = origin.astimezone(UTC)  # the export's times are written in UTC (Z)
    if args.out.exists() and not args.out.is_dir():
        raise InputError(f"--out {args.out}: not a folder (the export writes one YAML file per List into it)")
    try:
        at = None if args.at is None else parse_option_duration(args.at)
    except ValueError as exc:
        raise InputError(f"--at: {exc}") from exc
    trace = Trace.read(args.trace)
    end = float(trace.events[-1]["t"]) if trace.events else 0.0
    if at is not None and at > end:
        raise InputError(f"--at {args.at} is after the trace ends (t={end:g} s): nothing is known there; leave "
                         "--at out for the state at the end")
    try:
        origin + timedelta(seconds=end)
    except OverflowError:
        raise InputError(f"--origin {args.origin}: the trace's {end:g} s from there pass the year 9999") from None
    lists = export_trace(trace, origin, args.kind, args.api_version, at)
    for name, document in lists.items():
        write_atomic(args.out / name, to_yaml(document))
    counts = ", ".join(f"{name}: {len(document['items'])} object{'' if len(document['items']) == 1 else 's'}"
                       for name, document in lists.items())
    print(f"{args.out}: {counts}")
    return EXIT_OK
