"""Sweep backends (issue 8): results.csv is byte-identical with --workers 1, --workers 2 and Dask (a local cluster
of two worker processes, through --scheduler and started by the command itself); Ctrl-C stops the workers,
keeps the finished rows and exits 130; --resume finishes the sweep with exactly the uninterrupted result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sim.cli import main
from sim.errors import InputError
from sim.experiments import runner
from sim.experiments.loader import load_experiment
from sim.experiments.runner import PARTIAL, RESULTS, SerialBackend, run_sweep

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "scenarios" / "experiments" / "smoke.yaml"
PROMISES = REPO / "scenarios" / "experiments" / "promises"


def sweep(*args: str) -> int:
    return main(["sweep", *args])


def test_results_are_identical_for_1_and_2_workers_and_dask(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    distributed = pytest.importorskip("distributed")
    assert sweep(str(SMOKE), "--workers", "1", "--out", str(tmp_path / "w1")) == 0
    assert sweep(str(SMOKE), "--workers", "2", "--out", str(tmp_path / "w2")) == 0
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        assert sweep(str(SMOKE), "--backend", "dask", "--scheduler", cluster.scheduler_address,
                     "--out", str(tmp_path / "dask")) == 0
    printed = capsys.readouterr().out
    assert "local, 1 worker" in printed and "local, 2 worker processes" in printed
    assert "dask, scheduler tcp://" in printed
    reference = (tmp_path / "w1" / RESULTS).read_bytes()
    assert reference.count(b"\n") == 13
    for other in ("w2", "dask"):
        assert (tmp_path / other / RESULTS).read_bytes() == reference, other
        assert (tmp_path / other / "summary.md").read_bytes() == (tmp_path / "w1" / "summary.md").read_bytes()


def test_dask_backend_starts_its_own_local_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("distributed")
    loaded = load_experiment(SMOKE)
    serial = run_sweep(loaded, tmp_path / "serial", SerialBackend())
    assert sweep(str(SMOKE), "--backend", "dask", "--workers", "2", "--out", str(tmp_path / "dask")) == 0
    assert "dask, local cluster of 2 worker processes" in capsys.readouterr().out
    assert (tmp_path / "dask" / RESULTS).read_bytes() == (tmp_path / "serial" / RESULTS).read_bytes()
    assert serial.ran == loaded.runs


def test_an_unreachable_scheduler_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr(runner, "SCHEDULER_TIMEOUT_S", 1.0)
    code = sweep(str(SMOKE), "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "x"))
    assert code == 2
    assert "cannot reach the Dask scheduler tcp://127.0.0.1:9" in capsys.readouterr().err


# -- interrupt and resume -----------------------------------------------------------------------------
SLOW = """
apiVersion: kratix-sim/v1alpha1
kind: Experiment
metadata: {name: interruptible}
spec:
  scenario:
    spec:
      duration: 2h
      promise: PROMISE
      resources: [{name: team, count: 40}]
      behaviour: {default: {duration: 10s, failureProbability: 0.1}}
      faults: [{at: 1h, kind: update-promise}]
  parameters:
    - {path: "spec.resources[0].count", name: resources, values: [40, 60]}
  replications: 16
  metrics: [fanout_s, jobs, pods, convergence_p95_s]
"""


def _experiment(tmp_path: Path) -> Path:
    path = tmp_path / "interruptible.yaml"
    path.write_text(textwrap.dedent(SLOW).replace("PROMISE", str(PROMISES / "team-namespace.yaml")), encoding="utf-8")
    return path


def _rows(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[1:] if path.is_file() else []


def _workers_of(pid: int) -> list[int]:
    psutil = pytest.importorskip("psutil")
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [c.pid for c in children if "resource_tracker" not in " ".join(c.cmdline())]


def _gone(pids: list[int], timeout_s: float = 10.0) -> bool:
    psutil = pytest.importorskip("psutil")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_keeps_finished_rows_and_resume_completes_identically(tmp_path: Path) -> None:
    experiment = _experiment(tmp_path)
    loaded = load_experiment(experiment)
    reference = run_sweep(loaded, tmp_path / "reference", SerialBackend())
    assert not reference.interrupted and reference.ran == loaded.runs == 32
    expected = (tmp_path / "reference" / RESULTS).read_bytes()

    out = tmp_path / "out"
    command = [sys.executable, "-m", "sim", "sweep", str(experiment), "--workers", "2", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 60
        while len(_rows(out / PARTIAL)) < 4 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.poll() is None, "the sweep finished before it could be interrupted"
        workers = _workers_of(process.pid)
        assert workers, "the local backend runs worker processes"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err, err
    assert _gone(workers), "Ctrl-C must stop the worker processes"

    kept = _rows(out / RESULTS)
    assert 4 <= len(kept) < loaded.runs
    assert not (out / PARTIAL).exists()
    expected_rows = expected.decode().splitlines()[1:]
    assert set(kept) <= set(expected_rows), "the kept rows are finished rows, identical to the reference"
    assert kept == [row for row in expected_rows if row in set(kept)], "kept rows are sorted by (point, seed)"

    resumed = subprocess.run([*command, "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(kept)} kept from before" in resumed.stdout
    assert (out / RESULTS).read_bytes() == expected


def test_resume_folds_in_a_partial_file_left_by_a_hard_kill(tmp_path: Path) -> None:
    loaded = load_experiment(SMOKE)
    run_sweep(loaded, tmp_path / "reference", SerialBackend())
    expected = (tmp_path / "reference" / RESULTS).read_text(encoding="utf-8")
    out = tmp_path / "out"
    run_sweep(loaded, out, SerialBackend())
    lines = expected.splitlines(keepends=True)
    # a kill -9 leaves results.csv from the start and a partial file whose last row was cut short
    (out / RESULTS).write_text(lines[0], encoding="utf-8")
    (out / PARTIAL).write_text("".join([lines[0], lines[3], lines[1], lines[5][:10]]), encoding="utf-8")
    outcome = run_sweep(loaded, out, SerialBackend(), resume=True)
    assert (outcome.skipped, outcome.ran) == (2, loaded.runs - 2)
    assert (out / RESULTS).read_text(encoding="utf-8") == expected
    assert not (out / PARTIAL).exists()


def test_resume_refuses_results_of_another_experiment(tmp_path: Path) -> None:
    loaded = load_experiment(SMOKE)
    run_sweep(loaded, tmp_path, SerialBackend())
    other = load_experiment(_experiment(tmp_path))
    with pytest.raises(InputError, match="from another experiment"):
        run_sweep(other, tmp_path, SerialBackend(), resume=True)
    # without --resume a sweep starts over in a sweep's folder
    assert run_sweep(other, tmp_path, SerialBackend()).ran == other.runs
    (tmp_path / "sweep.json").unlink()
    with pytest.raises(InputError, match="cannot tell which experiment"):
        run_sweep(loaded, tmp_path, SerialBackend(), resume=True)
    # ... and nowhere else: without the sweep.json, results.csv may be anybody's
    with pytest.raises(InputError, match=r"holds results\.csv but no sweep\.json"):
        run_sweep(other, tmp_path, SerialBackend())
