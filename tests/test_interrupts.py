"""SIGINT and SIGTERM (issue 10, item 3): ``python -m sim`` is signalled early (while it loads), mid-run (a
sandboxed step or a container running, a sweep's first row written) and, for ``check``, while it writes its
reports. Each time: exit 130 (SIGINT) or 143 (SIGTERM), exactly one stderr line and no traceback, an empty
``$TMPDIR``, no process left in the command's session, no container left with the test's name prefix, and
output files either absent or complete (no ``.tmp`` leftovers).

Needs bubblewrap and podman (with the examples' image); without them these skip, except under CI=true.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from test_executors import engine  # noqa: F401  (fixture: podman with the examples' image)
from test_pipeline_contract import requires_tool, unique_marker, wait_until_gone
from test_sweep_backends import _experiment, _rows

from sim.executors.container import ContainerExecutor
from sim.experiments.runner import PARTIAL, RESULTS

REPO = Path(__file__).resolve().parent.parent
PREFIX = f"kratix-sim-interrupt-{secrets.token_hex(4)}-"
SIGNALS = [signal.SIGINT, signal.SIGTERM]
# To reach a marker, and to exit after the signal. An interrupted container run kills and removes its container
# with engine commands of up to ENGINE_COMMAND_TIMEOUT_S (60 s) each, which a busy podman can use up.
DEADLINE_S = 180.0


@dataclass
class Case:
    """A command line (``{out}`` is the case's output folder) and what its output folder may hold."""

    args: list[str]
    check_outputs: Callable[[Path], None]


def _no_tmp_files(out: Path) -> list[Path]:
    return sorted(out.rglob("*.tmp")) if out.exists() else []


def _trace_absent_or_whole(out: Path) -> None:
    trace = out / "trace.jsonl"
    if trace.exists():  # only when the run had ended: then every line is whole JSON
        for line in trace.read_text(encoding="utf-8").splitlines():
            json.loads(line)


def _reports_absent_or_whole(out: Path) -> None:
    reports = out / "reports"
    if (reports / "report.json").exists():
        json.loads((reports / "report.json").read_text(encoding="utf-8"))
    if (reports / "report.xml").exists():
        ET.parse(reports / "report.xml")
    if (reports / "report.html").exists():
        assert (reports / "report.html").read_text(encoding="utf-8").rstrip().endswith("</html>")
    if (reports / "report.md").exists():
        assert (reports / "report.md").read_text(encoding="utf-8").strip()


def _nothing(out: Path) -> None:
    assert not [p for p in out.rglob("*") if p.is_file()] if out.exists() else True


def _sweep_rows_whole(out: Path) -> None:
    sweep = out / "sweep"
    assert not (sweep / PARTIAL).exists(), "the partial file is folded into results.csv"
    if (sweep / RESULTS).exists():
        lines = (sweep / RESULTS).read_text(encoding="utf-8").splitlines()
        width = len(lines[0].split(","))
        assert all(len(line.split(",")) == width for line in lines[1:])


SLOW_PROMISE = """
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {name: slow}
spec:
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: slows.example.kratix.io}
    spec:
      group: example.kratix.io
      names: {kind: Slow, plural: slows, singular: slow}
      scope: Namespaced
      versions: [{name: v1alpha1, served: true, storage: true}]
  workflows:
    resource:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata: {name: slow}
          spec:
            containers:
              - name: slow
                image: localhost/kratix-sim-examples:latest
                command: [sh, -c, "echo started > /kratix/output/started; sleep SLEEP"]
"""
SLOW_REQUEST = """
apiVersion: example.kratix.io/v1alpha1
kind: Slow
metadata: {name: one, namespace: default}
spec: {}
"""
SLOW_SCENARIO = """
apiVersion: kratix-sim/v1alpha1
kind: Scenario
metadata: {name: slow-real-step}
spec:
  duration: 1h
  promise: slow-promise.yaml
  resources: [{name: one}]
  executor: {type: process, timeout: 60s}
"""


def _slow_inputs(tmp_path: Path, sleep: str) -> Path:
    """A Promise whose one step sleeps ``sleep`` seconds (so a run is surely midway when it is signalled; the
    number is unique, to find the process), its request and a scenario running it with the process executor;
    returns the folder."""
    folder = tmp_path / "inputs"
    folder.mkdir(exist_ok=True)
    for name, text in (("slow-promise.yaml", SLOW_PROMISE.replace("SLEEP", sleep)),
                       ("slow-request.yaml", SLOW_REQUEST),
                       ("slow-scenario.yaml", SLOW_SCENARIO)):
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _idempotency(inputs: Path, executor: str) -> list[str]:
    prefix = ["--container-prefix", PREFIX] if executor == "container" else []
    return ["idempotency", str(inputs / "slow-promise.yaml"), "--request", str(inputs / "slow-request.yaml"),
            "--executor", executor, *prefix, "--timeout", "60"]


def _cases(tmp_path: Path, sleep: str) -> dict[str, Case]:
    inputs = _slow_inputs(tmp_path, sleep)
    scenario = inputs / "slow-scenario.yaml"
    return {
        "run": Case(["run", str(scenario), "--trace", "{out}/trace.jsonl"], _trace_absent_or_whole),
        "check": Case(["check", str(REPO / "scenarios" / "quickstart.yaml"), str(scenario),
                       "--report", "{out}/reports"], _reports_absent_or_whole),
        "check-fast": Case(["check", str(REPO / "scenarios" / "quickstart.yaml"),
                            str(REPO / "scenarios" / "status-merge.yaml"), "--report", "{out}/reports"],
                           _reports_absent_or_whole),
        "idempotency-process": Case(_idempotency(inputs, "process"), _nothing),
        "idempotency-container": Case(_idempotency(inputs, "container"), _nothing),
        "sweep": Case(["sweep", str(_experiment(tmp_path)), "--workers", "2", "--out", "{out}/sweep"],
                      _sweep_rows_whole),
        "sweep-dask": Case(["sweep", str(_experiment(tmp_path)), "--workers", "2", "--backend", "dask",
                            "--out", "{out}/sweep"], _sweep_rows_whole),
    }


# -- markers: when to send the signal ------------------------------------------------------------------------
def _handles_sigterm(proc: subprocess.Popen[bytes], out: Path) -> bool:
    """Early: kratix-sim's handler is installed (first thing main() does), the commands are still loading."""
    try:
        status = Path(f"/proc/{proc.pid}/status").read_text()
    except FileNotFoundError:
        return False
    caught = next(int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def _session(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """Live (not zombie) processes of the command's session, the command itself included."""
    found = []
    for candidate in psutil.process_iter(["status"]):
        try:
            if os.getsid(candidate.pid) == proc.pid and candidate.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(candidate)
        except (ProcessLookupError, PermissionError):
            continue
    return found


def _descendants(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The command's processes now: workers, sandboxes (in sessions of their own), engine clients."""
    try:
        return psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    return alive


def _name(process: psutil.Process) -> str:
    """The process's name; empty once it has ended (a sandbox may end between listing and asking)."""
    try:
        return process.name()
    except psutil.NoSuchProcess:
        return ""


def _sandbox_running(proc: subprocess.Popen[bytes], out: Path) -> bool:
    return any(_name(p) == "bwrap" for p in _alive(_descendants(proc)))


def _run_midway(proc: subprocess.Popen[bytes], out: Path) -> bool:
    return bool(list(out.glob(".trace.jsonl.*.tmp"))) and _sandbox_running(proc, out)


def _containers(running: bool = False) -> list[str]:
    argv = ["podman", "ps", "--filter", f"name={PREFIX}", "--format", "{{.Names}}"]
    if not running:
        argv.insert(2, "-a")
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    return [name for name in done.stdout.split() if name.startswith(PREFIX)]


def _container_running(proc: subprocess.Popen[bytes], out: Path) -> bool:
    return bool(_containers(running=True))


def _first_row(proc: subprocess.Popen[bytes], out: Path) -> bool:
    return bool(_rows(out / "sweep" / PARTIAL))


def _writing_reports(proc: subprocess.Popen[bytes], out: Path) -> bool:
    return (out / "reports" / "report.json").exists()


MIDWAY: dict[str, Callable[[subprocess.Popen[bytes], Path], bool]] = {
    "run": _run_midway, "check": _sandbox_running, "idempotency-process": _sandbox_running,
    "idempotency-container": _container_running, "sweep": _first_row,
}


# -- the scenario --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tools() -> None:
    requires_tool("bwrap", "apt-get install bubblewrap")


def _interrupt(tmp_path: Path, name: str, signum: int, marker: Callable[[subprocess.Popen[bytes], Path], bool],
               *, may_finish: bool = False, group: bool = False) -> None:
    sleep = unique_marker()
    case = _cases(tmp_path, sleep)[name]
    seen: list[psutil.Process] = []
    temp = tmp_path / "tmpdir"
    out = tmp_path / "out"
    temp.mkdir()
    out.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(REPO)}
    env.pop("KRATIX_SIM_DEBUG", None)
    argv = [sys.executable, "-m", "sim", *(a.replace("{out}", str(out)) for a in case.args)]
    with (tmp_path / "stdout").open("wb") as stdout, (tmp_path / "stderr").open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=stdout, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not marker(proc, out):
            assert proc.poll() is None, f"{name} ended before the marker: {(tmp_path / 'stderr').read_text()}"
            assert time.monotonic() < deadline, f"{name}: no marker within {DEADLINE_S:g}s"
            time.sleep(0.01)
        seen = _descendants(proc)
        if group:  # as a terminal's Ctrl-C or `kill -TERM -PGID`: every process of the group
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        code = proc.wait(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = (tmp_path / "stderr").read_text()
    if may_finish and code in (0, 1):
        assert err.count("\n") <= 1 and "Traceback" not in err, err  # the signal came after the last write
    else:
        assert code == 128 + signum, (code, err)
        lines = err.splitlines()
        expected = f"kratix-sim: interrupted ({signal.Signals(signum).name})"
        assert len(lines) == 1 and lines[0].startswith(expected) and "Traceback" not in err, err
    deadline = time.monotonic() + 10
    while (_session(proc) or _alive(seen)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _session(proc), f"processes left in the session: {[p.cmdline() for p in _session(proc)]}"
    assert not _alive(seen), f"processes left: {[p.cmdline() for p in _alive(seen)]}"
    assert wait_until_gone(sleep) == [], "the sandboxed step is still running"
    assert list(temp.iterdir()) == [], "a temporary directory was left behind"
    assert _no_tmp_files(out) == []
    case.check_outputs(out)
    if name == "idempotency-container":
        assert _containers() == []


HOST_CASES = ["run", "check", "idempotency-process", "sweep"]


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("name", HOST_CASES)
def test_early(tmp_path: Path, tools: None, name: str, signum: int) -> None:
    _interrupt(tmp_path, name, signum, _handles_sigterm)


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("name", HOST_CASES)
def test_midway(tmp_path: Path, tools: None, name: str, signum: int) -> None:
    _interrupt(tmp_path, name, signum, MIDWAY[name])


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_while_writing_reports(tmp_path: Path, tools: None, signum: int) -> None:
    _interrupt(tmp_path, "check-fast", signum, _writing_reports, may_finish=True)


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("point", ["early", "midway"])
def test_container_idempotency(tmp_path: Path, engine: ContainerExecutor, point: str,  # noqa: F811
                               signum: int) -> None:
    try:
        _interrupt(tmp_path, "idempotency-container", signum,
                   _handles_sigterm if point == "early" else _container_running)
    finally:  # a container a failed case left must not satisfy the next case's "container running" marker
        leftovers = _containers()
        if leftovers:
            subprocess.run(["podman", "rm", "-f", "-t", "0", *leftovers], capture_output=True, check=False,
                           timeout=120)


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("name", ["sweep", "sweep-dask"])
def test_sweep_process_group(tmp_path: Path, name: str, signum: int) -> None:
    """Sent to the whole process group (a terminal's Ctrl-C, ``kill -TERM -PGID``): the workers (a process pool,
    a Dask local cluster) stop without a word, the parent keeps the finished rows."""
    if name == "sweep-dask":
        pytest.importorskip("distributed")
    _interrupt(tmp_path, name, signum, _first_row, group=True)
