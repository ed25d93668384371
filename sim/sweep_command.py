"""``kratix-sim sweep EXPERIMENT``: run every (parameter point, seed) of an experiment, locally or on Dask,
and write ``results.csv``, ``summary.md`` and plots into the output folder (docs/experiments.md).

SIGINT/SIGTERM stop the workers, keep the finished rows and exit 130/143 with one line saying how to resume.
A run that crashes kratix-sim stops the sweep the same way and exits 3 naming its point and seed."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.errors import EXIT_OK, HarnessError, InputError, Location, interrupt_exit_code, interrupt_message
from sim.experiments.loader import format_value, load_experiment
from sim.experiments.report import write_plots, write_summary
from sim.experiments.runner import RESULTS, default_workers, make_backend, run_sweep
from sim.progress import interactive
from sim.yamlio import Limits

Tick = Callable[[int, int], None]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from sim.cli import add_limit_options, limits_from

    parser = sub.add_parser(
        "sweep", help="run a what-if experiment: parameter sweeps with replications",
        description="Run every (parameter point, seed) of an Experiment file and write results.csv (one row per "
                    "run), summary.md (mean and 95% CI per point and metric) and plots (PNG and SVG) into the "
                    "output folder. Ctrl-C keeps the finished rows; --resume continues.")
    parser.add_argument("experiment", type=Path, help="an experiment file (kind: Experiment)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes (default: the number of CPUs; 1 runs in this process)")
    parser.add_argument("--backend", choices=["local", "dask"], default=None,
                        help="local: a process pool (default); dask: a Dask distributed scheduler")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="the Dask scheduler (tcp://host:8786); without it --backend dask starts a local cluster")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: sweeps/<experiment name>)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the rows already in DIR/results.csv and run only the missing ones")
    add_limit_options(parser)

    def handler(args: argparse.Namespace) -> int:
        return run_sweep_command(args, limits_from(args))

    parser.set_defaults(handler=handler)


@contextmanager
def _progress(label: str) -> Iterator[Tick | None]:
    """A bar with done/total, elapsed time and ETA on a terminal; nothing in CI logs or pipes."""
    if not interactive():
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield tick


def run_sweep_command(args: argparse.Namespace, limits: Limits) -> int:
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers must be 1 or more")
    if args.scheduler and args.backend == "local":
        raise InputError("--scheduler needs --backend dask")
    backend_kind = args.backend or ("dask" if args.scheduler else "local")
    workers = args.workers or default_workers()
    loaded = load_experiment(args.experiment, limits)
    out: Path = args.out if args.out is not None else Path("sweeps") / loaded.name
    if out.exists() and not out.is_dir():
        raise InputError("--out: not a folder", Location(str(out)))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # under a file, under /proc, no permission: the user's path, not a bug
        raise InputError(f"--out: cannot write {out}: {exc.strerror or exc}") from exc
    backend = make_backend(backend_kind, workers, args.scheduler)
    with _progress(f"sweep {loaded.name}") as tick:
        outcome = run_sweep(loaded, out, backend, resume=args.resume, on_result=tick)
    results = out / RESULTS
    resume = f"kratix-sim sweep {shlex.quote(str(args.experiment))} --out {shlex.quote(str(out))} --resume"
    if outcome.crash is not None:
        crash = outcome.crash
        point = loaded.points[crash.point]
        values = ", ".join(f"{c}={format_value(v)}" for c, v in zip(loaded.columns, point.values, strict=True))
        raise HarnessError(f"experiment {loaded.name} point {crash.point} ({values}) seed {crash.seed}",
                           crash.error, f"{resume} --workers 1")
    if outcome.interrupt is not None:
        print(f"kratix-sim: {interrupt_message(outcome.interrupt)}: {len(outcome.rows)} of {outcome.total} runs "
              f"kept in {results}; `{resume}` continues", file=sys.stderr)
        return interrupt_exit_code(outcome.interrupt)
    summary = write_summary(loaded, outcome.rows, out)
    plots = write_plots(loaded, outcome.rows, out)
    resumed = f", {outcome.skipped} kept from before" if outcome.skipped else ""
    print(f"sweep {loaded.name}: {outcome.total} runs ({len(loaded.points)} points x {len(loaded.seeds)} seeds), "
          f"{outcome.ran} run now{resumed}, {backend.description}, {outcome.wall_s:.1f} s")
    print(f"  results: {results}")
    print(f"  summary: {summary}")
    if plots:
        print(f"  plots:   {len(plots)} files in {out} ({plots[0].name}, ...)")
    sys.stdout.flush()
    return EXIT_OK
