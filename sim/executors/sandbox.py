"""Running one host process with a timeout and leaving nothing behind (shared by the real executors).

The process starts in a new session (its own process group), with stdin closed and stdout/stderr in
files under the pod's scratch directory (no pipe can fill up and block it). At the timeout, or when the
caller is interrupted (KeyboardInterrupt) while waiting, the whole process group is killed with SIGKILL
and reaped before this returns or re-raises; ``on_stop`` then runs (the container executor removes its
container there). After a normal exit the group is swept the same way (background children die too).
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

KILLED_EXIT_CODE = 137
TAIL_BYTES = 16 * 1024


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int
    timed_out: bool
    duration_s: float
    stdout: str
    stderr: str


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
) -> ProcessResult:
    """Run ``argv`` to its end or ``timeout_s``; a timed-out run reports exit code 137."""
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
        finished = timed_out = False
        try:
            try:
                proc.wait(timeout=timeout_s)
                finished = True
            except subprocess.TimeoutExpired:
                timed_out = True
        finally:
            # Always sweep the group: a normal exit may leave background children behind.
            kill_group(proc)
            if not finished and on_stop is not None:
                on_stop()
        duration = time.monotonic() - start
    code = proc.returncode
    if timed_out:
        code = KILLED_EXIT_CODE
    elif code < 0:
        code = 128 - code
    return ProcessResult(code, timed_out, duration, read_tail(stdout_path, tail_bytes),
                         read_tail(stderr_path, tail_bytes))
