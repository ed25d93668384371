"""Running one host process with a timeout and leaving nothing behind (shared by the real executors).

The process starts in a new session (its own process group), with stdin closed and stdout/stderr in
files under the pod's scratch directory (no pipe can fill up and block it). At the timeout, when the
``watched`` directories (the pod's writable volumes on the host) together outgrow ``quota_bytes``
(checked every ``QUOTA_CHECK_S`` while it runs), or when the caller is interrupted (KeyboardInterrupt,
which SIGTERM also raises: ``sim.errors.Interrupted``) while waiting, the whole process group is killed
with SIGKILL and reaped before this returns or re-raises; ``on_stop`` then runs (the container executor
removes its container there). After a normal exit the group is swept the same way (background children die
too). A quota is a watchdog, not a filesystem limit: a fast writer can overshoot it by what it writes in one
check interval.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sim.executors.base import (
    REASON_KILLED,
    REASON_NO_SPACE,
    REASON_TIMEOUT,
    REASON_VOLUME_QUOTA,
    ContainerInvocation,
    Mount,
)

KILLED_EXIT_CODE = 137
TAIL_BYTES = 16 * 1024
QUOTA_CHECK_S = 0.05
_NO_SPACE = "no space left on device"


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int
    timed_out: bool
    duration_s: float
    stdout: str
    stderr: str
    reason: str | None = None  # one of sim.executors.base.REASON_*, for a failed run


def writable_dirs(invocation: ContainerInvocation, mounts: Sequence[Mount]) -> list[Path]:
    """The host directories an execution may write: its output and metadata volumes and read-write mounts."""
    extra = [m.host for m in (*mounts, *invocation.mounts) if not m.read_only and m.host.is_dir()]
    return [invocation.dirs.output, invocation.dirs.metadata, *extra]


def disk_usage(paths: Sequence[Path]) -> int:
    """Bytes allocated on disk under ``paths`` (files and directories, symlinks not followed)."""
    total = 0
    for root in paths:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in (*dirnames, *filenames):
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def read_tail(path: Path, limit: int = TAIL_BYTES) -> str:
    """The last ``limit`` bytes of a file as text (a cut multi-byte character is replaced)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            data = handle.read()
    except FileNotFoundError:
        return ""
    return data.decode("utf-8", errors="replace")


def shielded(cleanup: Callable[[], None]) -> None:
    """Run ``cleanup`` to its end even if an interrupt arrives meanwhile (it is retried, then re-raised):
    an interrupt must not cut short the cleanup it started. The CLI raises at most one interrupt per run."""
    interrupt: KeyboardInterrupt | None = None
    while True:
        try:
            cleanup()
            break
        except KeyboardInterrupt as exc:
            interrupt = interrupt or exc
    if interrupt is not None:
        raise interrupt


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group led by ``proc`` and reap ``proc``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    while True:
        try:
            proc.wait()
            return
        except KeyboardInterrupt:  # a second Ctrl-C must not leave a zombie behind
            continue


def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout_s: float,
    log_dir: Path,
    log_name: str,
    tail_bytes: int = TAIL_BYTES,
    on_stop: Callable[[], None] | None = None,
    watched: Sequence[Path] = (),
    quota_bytes: int | None = None,
) -> ProcessResult:
    """Run ``argv`` to its end, ``timeout_s`` or the quota; a run the harness stopped reports exit code 137."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", log_name).lstrip(".") or "process"
    stdout_path = log_dir / f"{log_name}.stdout"
    stderr_path = log_dir / f"{log_name}.stderr"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        start = time.monotonic()
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=dict(env),
            start_new_session=True, close_fds=True,
        )
        stopped: str | None = None
        finished = False
        try:
            stopped = _wait(proc, start + timeout_s, list(watched) if quota_bytes is not None else [], quota_bytes)
            finished = stopped is None
        finally:
            # Always sweep the group: a normal exit may leave background children behind.
            kill_group(proc)
            if not finished and on_stop is not None:
                shielded(on_stop)
        duration = time.monotonic() - start
    code = KILLED_EXIT_CODE if stopped is not None else proc.returncode
    if code < 0:
        code = 128 - code
    stderr = read_tail(stderr_path, tail_bytes)
    reason = stopped
    if reason is None and code == KILLED_EXIT_CODE:
        reason = REASON_KILLED
    elif reason is None and code != 0 and _NO_SPACE in stderr.lower():
        reason = REASON_NO_SPACE
    return ProcessResult(code, stopped == REASON_TIMEOUT, duration, read_tail(stdout_path, tail_bytes), stderr,
                         reason)


def _wait(proc: subprocess.Popen[bytes], deadline: float, watched: list[Path], quota_bytes: int | None) -> str | None:
    """Wait for ``proc``; the reason the harness must stop it (timeout, quota), or None when it exited."""
    interval = QUOTA_CHECK_S
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return REASON_TIMEOUT
        try:
            proc.wait(timeout=min(remaining, interval) if watched else remaining)
            return None
        except subprocess.TimeoutExpired:
            pass
        if watched and quota_bytes is not None:
            measured = time.monotonic()
            if disk_usage(watched) > quota_bytes:
                return REASON_VOLUME_QUOTA
            interval = max(QUOTA_CHECK_S, 10 * (time.monotonic() - measured))  # walking stays cheap
