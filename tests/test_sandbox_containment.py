"""Hostile pipelines are contained (issue 10, item 4), by the process executor (bubblewrap) and the container
executor (podman), run the way ``sim.executors.contract`` runs a pipeline step. Each pipeline tries one escape:
writing outside its mounts, reading the user's home, opening a network connection, leaving a process behind,
filling the disk or memory, running forever. Each time the step is reported failed with a reason (exit code,
``reason``, the tool's complaint in stderr) -- except the background process, which is simply killed -- and
the host is untouched: canary files unchanged, no file created, the listener never connected to, no process
or container left, the disk's free space as before.

Needs bubblewrap and podman (with the examples' image); without them these skip, except under CI=true.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_executors import IMAGE, engine  # noqa: F401  (fixture: podman with the examples' image)
from test_pipeline_contract import requires_tool, skip_or_fail, unique_marker, wait_until_gone

from sim.executors.base import (
    REASON_NO_SPACE,
    REASON_TIMEOUT,
    REASON_VOLUME_QUOTA,
    ContainerInvocation,
    ExecutorUnavailable,
    PodDirs,
    RealExecutor,
)
from sim.executors.container import ContainerExecutor
from sim.executors.contract import PipelineRun, run_pipeline
from sim.executors.process import ProcessExecutor
from sim.model.promise import Container, Promise

REPO = Path(__file__).resolve().parent.parent
TMPFS_BYTES = 16 * 1024 * 1024
QUOTA_BYTES = 64 * 1024 * 1024
MIB = 1024 * 1024
REQUEST: dict[str, Any] = {"apiVersion": "demo.example.io/v1alpha1", "kind": "Demo",
                           "metadata": {"name": "one", "namespace": "team-a"}, "spec": {}}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``$HOME`` holding a secret, set before the executor is made."""
    path = tmp_path / "home"
    path.mkdir()
    (path / "secret.txt").write_text("kratix-sim-secret-canary\n")
    monkeypatch.setenv("HOME", str(path))
    return path


@pytest.fixture(params=["process", "container"])
def executor(request: pytest.FixtureRequest, home: Path) -> Iterator[RealExecutor]:
    """Each executor with small limits: 16 MiB tmpfs, a 64 MiB volume quota; no container left afterwards."""
    if request.param == "process":
        requires_tool("bwrap", "apt-get install bubblewrap")
        process = ProcessExecutor(tmpfs_bytes=TMPFS_BYTES, volume_quota_bytes=QUOTA_BYTES)
        try:
            process.check()
        except ExecutorUnavailable as exc:
            skip_or_fail(str(exc))
        yield process
        return
    podman: ContainerExecutor = request.getfixturevalue("engine")
    container = ContainerExecutor(binary=podman.binary, engine_options=podman.engine_options,
                                  name_prefix=f"kratix-sim-hostile-{secrets.token_hex(4)}-",
                                  tmpfs_bytes=TMPFS_BYTES, volume_quota_bytes=QUOTA_BYTES)
    yield container
    assert container.leftover_containers() == []


def _run(executor: RealExecutor, workdir: Path, script: str, timeout_s: float = 30) -> PipelineRun:
    """One hostile container as a one-step Pipeline; no restart (backoffLimit 0 fails the Job at once)."""
    promise = Promise.model_validate({
        "metadata": {"name": "hostile"},
        "spec": {"api": {"spec": {"group": "demo.example.io", "names": {"kind": "Demo", "plural": "demos"}}},
                 "workflows": {"resource": {"configure": [{"metadata": {"name": "pipe"}, "spec": {"containers": [
                     {"name": "hostile", "image": IMAGE, "command": ["sh", "-c", script]}]}}]}}},
    })
    return run_pipeline(promise, promise.pipelines("resource", "configure")[0], "resource", "configure", REQUEST,
                        executor, backoff_limit=0, timeout_s=timeout_s, workdir=workdir)


def _failed(run: PipelineRun, reason: str | None = None, says: str = "") -> None:
    """The step failed: non-zero exit, the expected reason, and ``says`` in its stderr."""
    assert run.outcome == "failed", run
    execution = run.executions[-1]
    assert execution.exit_code != 0, execution
    if reason is not None:
        assert execution.reason == reason, execution
    assert re.search(says, execution.stderr, re.IGNORECASE), execution.stderr


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- writing outside the mounts ------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["/etc/passwd", "/escape", "/usr/escape", "REPO/escape", "HOME/escape"])
def test_writes_outside_the_mounts_fail(executor: RealExecutor, workdir: Path, home: Path, target: str) -> None:
    name = f"kratix-sim-escape-{secrets.token_hex(4)}"
    path = target.replace("REPO", str(REPO)).replace("HOME", str(home)).replace("escape", name)
    passwd = _digest(Path("/etc/passwd"))
    run = _run(executor, workdir, f"echo owned >> {path}")
    _failed(run, says="read-only file system|no such file|nonexistent directory|can't create|cannot create")
    assert _digest(Path("/etc/passwd")) == passwd
    for folder in (Path("/"), Path("/usr"), REPO, home):
        assert not (folder / name).exists()


def test_the_users_home_cannot_be_read(executor: RealExecutor, workdir: Path, home: Path) -> None:
    script = (f"cat {home}/secret.txt > /kratix/output/stolen; cat ~/secret.txt >> /kratix/output/stolen; "
              "ls -a ~ >> /kratix/output/stolen; cat /kratix/output/stolen; grep -q canary /kratix/output/stolen")
    run = _run(executor, workdir, script)
    _failed(run, says="no such file|can't open")
    execution = run.executions[-1]
    assert "canary" not in execution.stdout + execution.stderr + str(run.output)
    assert (home / "secret.txt").read_text() == "kratix-sim-secret-canary\n"


# -- the network ----------------------------------------------------------------------------------------------
def _connect(executor: RealExecutor, host: str, port: int) -> str:
    if isinstance(executor, ProcessExecutor):  # the host's tools: bash's /dev/tcp
        return f"bash -c 'exec 3<>/dev/tcp/{host}/{port}'"
    return f"nc -w 3 {host} {port} < /dev/null"  # busybox


def test_no_network_connection_reaches_the_host_or_outside(executor: RealExecutor, workdir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        run = _run(executor, workdir, _connect(executor, "127.0.0.1", port))
        _failed(run, says="refused|unreachable|can't connect")
        with pytest.raises(TimeoutError):
            listener.accept()
    outside = _run(executor, workdir, _connect(executor, "1.1.1.1", 53))
    _failed(outside, says="unreachable|can't connect")


# -- processes ------------------------------------------------------------------------------------------------
def test_background_processes_die_with_the_step(executor: RealExecutor, workdir: Path) -> None:
    markers = [unique_marker() for _ in range(4)]
    script = (f"sleep {markers[0]} & setsid sleep {markers[1]} & (sleep {markers[2]} &) ; "
              f"nohup sh -c 'trap \"\" HUP TERM INT; exec sleep {markers[3]}' > /dev/null 2>&1 & "
              "echo started; exit 0")
    run = _run(executor, workdir, script)
    assert run.outcome == "succeeded" and run.executions[-1].stdout == "started\n"
    for marker in markers:
        assert wait_until_gone(marker) == [], f"sleep {marker} outlived the step"


def test_a_step_that_runs_forever_is_killed_at_its_timeout(executor: RealExecutor, workdir: Path) -> None:
    marker = unique_marker()
    run = _run(executor, workdir, f"sleep {marker}", timeout_s=2)
    assert run.reason == REASON_TIMEOUT
    execution = run.executions[-1]
    assert (execution.exit_code, execution.reason, execution.timed_out) == (137, REASON_TIMEOUT, True)
    assert wait_until_gone(marker) == []


# -- space --------------------------------------------------------------------------------------------------
def _free(path: Path) -> int:
    return shutil.disk_usage(path).free


def test_filling_a_volume_is_stopped_by_the_quota(executor: RealExecutor, workdir: Path) -> None:
    before = _free(workdir)
    run = _run(executor, workdir, "dd if=/dev/zero of=/kratix/output/fill bs=1M count=100000")
    assert run.reason == REASON_VOLUME_QUOTA
    execution = run.executions[-1]
    assert (execution.exit_code, execution.reason) == (137, REASON_VOLUME_QUOTA)
    written = int(re.match(r"<(\d+) bytes", run.output["fill"]).group(1))  # type: ignore[union-attr]
    print(f"{executor.name}: killed after writing {written // MIB} MiB (quota {QUOTA_BYTES // MIB} MiB)")
    # The quota counts every watched volume together (the input object's files too) in allocated blocks, so
    # the file alone may be at or just under the quota's size when the step is killed (seen in CI: 64 MiB).
    assert QUOTA_BYTES // 2 <= written < 1024 * MIB, "killed near the quota, far from the 100 GB it asked for"
    assert abs(_free(workdir) - before) < 512 * MIB, "the disk's free space is as before"


@pytest.mark.parametrize("target", ["/tmp", "/root"])
def test_filling_a_tmpfs_ends_in_no_space_left(executor: RealExecutor, workdir: Path, target: str) -> None:
    run = _run(executor, workdir, f"dd if=/dev/zero of={target}/fill bs=1M count=100000")
    _failed(run, REASON_NO_SPACE, says="no space left on device")
    assert f"{TMPFS_BYTES // MIB}+0 records out" in run.executions[-1].stderr, "it filled exactly its tmpfs"


def test_the_defaults_are_documented_limits(tmp_path: Path) -> None:
    """The limits are on by default: 256 MiB tmpfs, a 1 GiB volume quota, a read-only container root (which
    ``read_only_root=False``, ``idempotency --writable-root``, gives back)."""
    process, container = ProcessExecutor(), ContainerExecutor(binary="sh")
    assert process.tmpfs_bytes == container.tmpfs_bytes == 256 * MIB
    assert process.volume_quota_bytes == container.volume_quota_bytes == 1024 * MIB
    dirs = PodDirs(tmp_path / "in", tmp_path / "out", tmp_path / "meta", tmp_path / "scratch")
    container_spec = Container.model_validate({"name": "c", "image": "img:1", "command": ["true"]})
    invocation = ContainerInvocation(container_spec, ("true",), (), (), dirs, 5.0, "pod")
    argv = " ".join(container.run_argv(invocation, "n"))
    assert f"--read-only --tmpfs /tmp:rw,size={256 * MIB},mode=1777" in argv and "/root:rw" in argv
    assert "--read-only" not in ContainerExecutor(binary="sh", read_only_root=False).run_argv(invocation, "n")
    if shutil.which("bwrap"):
        sandbox = process.sandbox_argv(invocation)
        assert " ".join(sandbox).count(f"--size {256 * MIB} --tmpfs") == 3
        assert sandbox[sandbox.index("--chdir") - 4:sandbox.index("--chdir")] == ["--remount-ro", "/dev",
                                                                                  "--remount-ro", "/"]
