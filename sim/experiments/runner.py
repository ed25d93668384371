"""Running a sweep: one task per (point, seed), on a backend, with rows kept as they finish.

A run's row depends only on its point's scenario, its seed and the code, so the backend (in-process, a
process pool, Dask) and the number of workers do not change it. Rows are appended to
``results.partial.csv`` as they finish (any order); ``results.csv`` is rewritten atomically, sorted by
(point, seed), at the end and on an interrupt, so the finished runs survive Ctrl-C and ``--resume`` skips them.
A run that crashes kratix-sim stops the sweep the same way (no error rows: a crash is a bug, not a result);
``sweep`` then names the point and seed and exits 3.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import json
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from sim.errors import InputError, Location, describe_exception
from sim.experiments.loader import LoadedExperiment, format_value
from sim.experiments.report import SUMMARY
from sim.metrics import StreamingMetrics, sampled_time_s
from sim.model.promise import Promise
from sim.scenario import Scenario
from sim.simulation import Simulation
from sim.yamlio import write_atomic

RESULTS = "results.csv"
PARTIAL = "results.partial.csv"
MANIFEST = "sweep.json"
RunKey = tuple[int, int]  # (point, seed)
SCHEDULER_TIMEOUT_S = 10.0  # how long to try to reach a Dask scheduler


@dataclass(frozen=True)
class RunTask:
    point: int
    seed: int
    scenario: Scenario
    promise: Promise
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class RunResult:
    point: int
    seed: int
    cells: tuple[str, ...]  # the metric cells, formatted
    wall_s: float


class RunCrashed(Exception):
    """A run raised inside kratix-sim (a bug): its point, seed and the exception as text. Picklable, so it
    comes back from a worker process as it is."""

    def __init__(self, point: int, seed: int, error: str) -> None:
        super().__init__(point, seed, error)
        self.point = point
        self.seed = seed
        self.error = error


def run_task(task: RunTask) -> RunResult:
    """Simulate one (point, seed) and compute its metrics from the streamed events (no trace is kept); an
    exception from the engine becomes RunCrashed (bad input and I/O errors pass through)."""
    try:
        return _simulate(task)
    except (InputError, OSError):
        raise
    except Exception as exc:
        raise RunCrashed(task.point, task.seed, describe_exception(exc)) from exc


def _simulate(task: RunTask) -> RunResult:
    started = time.perf_counter()
    samples = [t for t in (sampled_time_s(m) for m in task.metrics) if t is not None]
    metrics = StreamingMetrics(samples)
    horizon = task.scenario.spec.duration
    Simulation(task.scenario, seed=task.seed, promise=task.promise, sinks=[metrics]).run(horizon)
    values = metrics.select(task.metrics, horizon)
    return RunResult(task.point, task.seed, tuple(format_value(values[m]) for m in task.metrics),
                     time.perf_counter() - started)


def tasks_for(loaded: LoadedExperiment, skip: frozenset[RunKey] = frozenset()) -> list[RunTask]:
    return [RunTask(p.index, seed, p.scenario, p.promise, loaded.metrics)
            for p in loaded.points for seed in loaded.seeds if (p.index, seed) not in skip]


# -- backends -----------------------------------------------------------------------------------------
class Backend(Protocol):
    description: str

    def run(self, tasks: Sequence[RunTask]) -> Iterator[RunResult]:
        """Results in completion order."""

    def close(self) -> None:
        """Stop every worker now (also after an interrupt); idempotent."""


class SerialBackend:
    """In this process, one run after the other (``--workers 1``)."""

    description = "local, 1 worker"

    def run(self, tasks: Sequence[RunTask]) -> Iterator[RunResult]:
        for task in tasks:
            yield run_task(task)

    def close(self) -> None:
        return None


def _worker_init() -> None:
    """Workers leave signals to the parent, which stops them (no tracebacks from every worker): they ignore
    SIGINT and leave the process group, so a Ctrl-C or a ``kill -TERM -PGID`` reaches the parent only. (A pool
    worker killed while it holds the task queue's lock would hang the pool's own shutdown.)"""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.setsid()


@contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Processes started inside inherit an ignored SIGINT (Python then leaves it ignored), so a Ctrl-C on the
    terminal, which reaches the whole process group, interrupts only this process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Environment variables set while processes are started (they inherit them), then restored."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class PoolBackend:
    """A pool of worker processes (spawned: no state inherited from this process)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.description = f"local, {workers} worker processes"
        self.pool: Any = None

    def run(self, tasks: Sequence[RunTask]) -> Iterator[RunResult]:
        if not tasks:
            return
        context = multiprocessing.get_context("spawn")
        with _children_ignore_sigint():
            self.pool = context.Pool(min(self.workers, len(tasks)), initializer=_worker_init)
        yield from self.pool.imap_unordered(run_task, tasks, chunksize=1)
        self.pool.close()
        self.pool.join()
        self.pool = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None


class DaskBackend:
    """Tasks submitted to a Dask distributed scheduler, or to a local cluster of worker processes."""

    def __init__(self, workers: int, scheduler: str | None) -> None:
        try:
            importlib.import_module("distributed")
        except ImportError as exc:
            raise InputError("--backend dask needs dask.distributed: pip install 'dask[distributed]'") from exc
        self.workers = workers
        self.scheduler = scheduler
        self.description = (f"dask, scheduler {scheduler}" if scheduler
                            else f"dask, local cluster of {workers} worker processes")
        self.cluster: Any = None
        self.client: Any = None
        self.futures: list[Any] = []
        self._scratch = contextlib.ExitStack()  # the local cluster's scratch directory

    def _connect(self) -> Any:
        distributed: Any = importlib.import_module("distributed")  # typed loosely: it has no type hints
        Client, LocalCluster = distributed.Client, distributed.LocalCluster
        if self.scheduler is not None:
            try:
                return Client(self.scheduler, timeout=f"{SCHEDULER_TIMEOUT_S}s")
            except (OSError, TimeoutError) as exc:
                raise InputError(f"cannot reach the Dask scheduler {self.scheduler}: {exc}",
                                 Location("--scheduler")) from exc
        from sim.executors.contract import temporary_directory

        scratch = str(self._scratch.enter_context(temporary_directory("kratix-sim-dask-")))  # removed by close()
        config: Any = importlib.import_module("dask").config
        # Workers stay quiet: a task's error reaches the client as an exception, a lost worker as KilledWorker;
        # what they log at ERROR is noise such as a heartbeat failing while an interrupt closes the scheduler.
        with _children_ignore_sigint(), _environment(DASK_LOGGING__DISTRIBUTED="critical"), \
                config.set({"temporary-directory": scratch}):  # scratch space is ours
            self.cluster = LocalCluster(n_workers=self.workers, processes=True, threads_per_worker=1,
                                        dashboard_address=None, local_directory=scratch)
        return Client(self.cluster)

    def run(self, tasks: Sequence[RunTask]) -> Iterator[RunResult]:
        if not tasks:
            return
        as_completed = importlib.import_module("distributed").as_completed
        self.client = self._connect()
        self.futures = [self.client.submit(run_task, task, pure=False) for task in tasks]
        for future in as_completed(self.futures):
            yield future.result()
        self.close()

    def close(self) -> None:
        for name in ("distributed", "tornado"):  # an interrupted wait makes them log tracebacks while closing
            logging.getLogger(name).setLevel(logging.CRITICAL)
        if self.client is not None:
            if self.futures and self.cluster is None:  # a shared scheduler: free its workers (ours just stop)
                self.client.cancel(self.futures)
                self.futures = []
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        self._scratch.close()


def make_backend(kind: str, workers: int, scheduler: str | None) -> Backend:
    if kind == "dask":
        return DaskBackend(workers, scheduler)
    return SerialBackend() if workers == 1 else PoolBackend(workers)


# -- the results files --------------------------------------------------------------------------------
def _csv_line(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def _read_rows(path: Path, header: list[str]) -> dict[RunKey, list[str]]:
    if not path.is_file():
        return {}
    rows: dict[RunKey, list[str]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        first = next(reader, None)
        if first is None:
            return {}
        if first != header:
            raise InputError(f"its columns are not this experiment's ({', '.join(header)}); run without "
                             "--resume to start over, or choose another --out", Location(str(path), line=1))
        for row in reader:
            if len(row) != len(header):
                continue  # a row cut short by a hard kill
            try:
                rows[(int(row[0]), int(row[1]))] = row
            except ValueError:
                continue
    return rows


class ResultStore:
    """``results.csv`` (sorted, complete rows), ``results.partial.csv`` (rows as they finish), ``sweep.json``."""

    def __init__(self, out: Path, loaded: LoadedExperiment) -> None:
        self.out = out
        self.loaded = loaded
        self.header = loaded.header()
        self.rows: dict[RunKey, list[str]] = {}
        self.order = {(p.index, seed): (p.index, n) for p in loaded.points for n, seed in enumerate(loaded.seeds)}
        self._partial: IO[str] | None = None

    @property
    def results_path(self) -> Path:
        return self.out / RESULTS

    @property
    def partial_path(self) -> Path:
        return self.out / PARTIAL

    def manifest(self) -> dict[str, Any]:
        return {"experiment": self.loaded.name, "fingerprint": self.loaded.fingerprint(),
                "runs": self.loaded.runs, "columns": self.header}

    def start(self, resume: bool) -> None:
        """Fresh: forget earlier results. ``resume``: keep the rows of the same experiment."""
        self.out.mkdir(parents=True, exist_ok=True)
        manifest = self.manifest()
        if resume:
            self.rows = self._resumable(manifest)
        else:  # everything an earlier sweep wrote here, so no other experiment's summary or plot stays behind
            earlier = [path for path in (self.partial_path, self.results_path, self.out / SUMMARY,
                                         *sorted(self.out.glob("plot-*.png")), *sorted(self.out.glob("plot-*.svg")))
                       if path.exists()]
            if earlier and not (self.out / MANIFEST).is_file():  # not a sweep's folder: those are the user's
                names = ", ".join(path.name for path in earlier[:3]) + (", ..." if len(earlier) > 3 else "")
                raise InputError(f"--out {self.out}: holds {names} but no {MANIFEST}, so not an earlier sweep's "
                                 "results; a sweep would replace them: give a new or empty folder")
            for path in earlier:
                path.unlink(missing_ok=True)
        write_atomic(self.out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        if self.rows:
            self.write()  # fold an earlier partial file into results.csv
        self.partial_path.unlink(missing_ok=True)
        self._partial = self.partial_path.open("w", encoding="utf-8", newline="")
        self._partial.write(_csv_line(self.header))
        self._partial.flush()

    def _resumable(self, manifest: dict[str, Any]) -> dict[RunKey, list[str]]:
        path = self.out / MANIFEST
        have_rows = self.results_path.is_file() or self.partial_path.is_file()
        if not path.is_file():
            if have_rows:
                raise InputError(f"no {MANIFEST} beside the results: cannot tell which experiment they are "
                                 "from; run without --resume to start over", Location(str(self.out)))
            return {}
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"unreadable: {exc}", Location(str(path))) from exc
        if not isinstance(previous, dict) or previous.get("fingerprint") != manifest["fingerprint"]:
            raise InputError("these results are from another experiment (or another version of it or of "
                             "kratix-sim); run without --resume to start over, or choose another --out",
                             Location(str(path)))
        rows = _read_rows(self.results_path, self.header)
        rows.update(_read_rows(self.partial_path, self.header))
        return {key: row for key, row in rows.items() if key in self.order}

    def add(self, result: RunResult) -> None:
        index = self.order[(result.point, result.seed)][0]
        row = [str(result.point), str(result.seed), *(format_value(v) for v in self.loaded.points[index].values),
               *result.cells]
        self.rows[(result.point, result.seed)] = row
        if self._partial is not None:
            self._partial.write(_csv_line(row))
            self._partial.flush()

    def write(self) -> None:
        """``results.csv``: the finished rows in (point, seed) order, replaced atomically."""
        ordered = sorted(self.rows.items(), key=lambda item: self.order[item[0]])
        write_atomic(self.results_path, "".join(_csv_line(r) for r in [self.header, *(row for _, row in ordered)]))

    def close(self) -> None:
        """Write ``results.csv`` and drop the partial file (only once results.csv holds its rows)."""
        if self._partial is not None:
            self._partial.close()
            self._partial = None
        self.write()
        self.partial_path.unlink(missing_ok=True)


# -- the sweep ----------------------------------------------------------------------------------------
@dataclass
class SweepOutcome:
    total: int
    skipped: int  # rows already there (--resume)
    ran: int
    wall_s: float
    interrupt: KeyboardInterrupt | None  # what stopped the sweep early (Ctrl-C, SIGTERM), if anything
    crash: RunCrashed | None  # the run that crashed kratix-sim and stopped the sweep, if any
    rows: list[list[str]]

    @property
    def interrupted(self) -> bool:
        return self.interrupt is not None


def run_sweep(loaded: LoadedExperiment, out: Path, backend: Backend, resume: bool = False,
              on_result: Callable[[int, int], None] | None = None) -> SweepOutcome:
    """Run every (point, seed) not yet in ``out``; ``on_result(done, total)`` hears progress. An interrupt
    (Ctrl-C, SIGTERM) or a crashing run stops the workers, keeps the finished rows in results.csv and is
    returned as ``interrupt`` or ``crash``."""
    started = time.perf_counter()
    store = ResultStore(out, loaded)
    store.start(resume)
    skipped = len(store.rows)
    tasks = tasks_for(loaded, frozenset(store.rows))
    ran = 0
    interrupt: KeyboardInterrupt | None = None
    crash: RunCrashed | None = None
    try:
        if on_result is not None:
            on_result(skipped, loaded.runs)
        for result in backend.run(tasks):
            store.add(result)
            ran += 1
            if on_result is not None:
                on_result(skipped + ran, loaded.runs)
    except KeyboardInterrupt as exc:
        interrupt = exc
    except RunCrashed as exc:
        crash = exc
    finally:
        try:
            backend.close()
        finally:
            store.close()
    ordered = [row for _, row in sorted(store.rows.items(), key=lambda item: store.order[item[0]])]
    return SweepOutcome(loaded.runs, skipped, ran, time.perf_counter() - started, interrupt, crash, ordered)


def default_workers() -> int:
    return os.cpu_count() or 1
